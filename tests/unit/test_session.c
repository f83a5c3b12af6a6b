/*
 * Tests of the SMTP session state machine (core/session.c). Each test feeds
 * client bytes through sc_session_feed() the way the server does: bytes a
 * feed did not consume are passed again, followed by the next bytes. Replies
 * are collected in one buffer and every completed message is copied by the
 * message hook, so a test can compare both after the session has moved on.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "message.h"
#include "session.h"
#include "suites.h"

#define MAX_MESSAGES 8

/* A copy of one message the hook received. Owns every pointer. */
struct received {
    char *helo;
    bool esmtp;
    char *mail_from;
    char *params;               /* "KEYWORD=value" or "KEYWORD" items, joined by one space. */
    char **rcpt_to;
    size_t rcpt_to_len;
    char *data;                 /* size bytes followed by a NUL. */
    size_t size;
    char *rcpt_params;          /* Per recipient, in brackets: "[NOTIFY=NEVER] []". */
    unsigned warnings;          /* SC_WARN_* bits. */
    bool ascii;
    bool chunked;
    char *auth;                 /* "MECHANISM [authzid/]username:secret", or NULL. */
    char *tls;                  /* "VERSION CIPHER", or NULL without TLS. */
};

/* One session under test with everything it produced. It owns all of it,
 * and harness_free() releases it. */
struct harness {
    struct sc_session *session;
    struct sc_buf replies;      /* Every reply byte since the last clear. */
    struct sc_buf pending;      /* Input the session has not consumed yet. */
    struct sc_buf trace;        /* "<" or ">" and the line, one per trace call. */
    struct received messages[MAX_MESSAGES];
    size_t messages_len;
    enum sc_verdict verdict;    /* What the message hook returns. */
    bool windows;               /* Feed message bodies through windows, as the server does. */
};

/* Set by the fixtures of the test cases that feed bodies through windows. */
static bool feed_windows;

static const struct sc_limits default_limits = {
    .max_size = 10000,
    .max_line = 512,
    .max_rcpts = 5,
};

static struct harness harness;

static char *copy_string(const char *s)
{
    char *copy;

    if (s == NULL)
        return NULL;
    copy = strdup(s);
    ck_assert_ptr_nonnull(copy);
    return copy;
}

/* Format each recipient's parameters as "[KEYWORD=value ...]", joined by
 * one space, such as "[NOTIFY=NEVER] []". The caller frees the result. */
static char *format_rcpt_params(const struct sc_message *msg)
{
    struct sc_buf text = {0};
    const struct sc_params *p;
    size_t i, j;

    for (i = 0; i < msg->rcpt_to_len; i++) {
        sc_buf_append_str(&text, i > 0 ? " [" : "[");
        p = msg->rcpt_params != NULL ? &msg->rcpt_params[i] : NULL;
        for (j = 0; p != NULL && j < p->len; j++) {
            if (j > 0)
                sc_buf_append_str(&text, " ");
            sc_buf_append_str(&text, p->items[j].keyword);
            if (p->items[j].value != NULL) {
                sc_buf_append_str(&text, "=");
                sc_buf_append_str(&text, p->items[j].value);
            }
        }
        sc_buf_append_str(&text, "]");
    }
    ck_assert_int_eq(sc_buf_append(&text, "", 1), 0);
    return text.data;
}

/* Format an AUTH result as "MECHANISM [authzid/]username:secret", where the
 * secret is the password, or CRAM-MD5's digest. Returns NULL when the
 * session did not authenticate; the caller frees the result. */
static char *format_auth(const struct sc_auth_result *auth)
{
    struct sc_buf text = {0};

    if (auth->mechanism == NULL)
        return NULL;
    ck_assert_ptr_nonnull(auth->username);
    ck_assert((auth->password == NULL) != (auth->response == NULL));
    sc_buf_append_str(&text, auth->mechanism);
    sc_buf_append_str(&text, " ");
    if (auth->authzid != NULL) {
        sc_buf_append_str(&text, auth->authzid);
        sc_buf_append_str(&text, "/");
    }
    sc_buf_append_str(&text, auth->username);
    sc_buf_append_str(&text, ":");
    sc_buf_append_str(&text, auth->password != NULL ? auth->password : auth->response);
    ck_assert_int_eq(sc_buf_append(&text, "", 1), 0);
    return text.data;
}

/* Format the TLS of a message as "VERSION CIPHER", or return NULL when it
 * came without TLS. The caller frees the result. */
static char *format_tls(const struct sc_message *msg)
{
    struct sc_buf text = {0};

    if (msg->tls_version == NULL)
        return NULL;
    ck_assert_ptr_nonnull(msg->tls_cipher);
    sc_buf_append_str(&text, msg->tls_version);
    sc_buf_append_str(&text, " ");
    sc_buf_append_str(&text, msg->tls_cipher);
    ck_assert_int_eq(sc_buf_append(&text, "", 1), 0);
    return text.data;
}

/* Copy the message the session hands to the hook, because the message is
 * valid only during the call. */
static enum sc_verdict record_message(void *arg, struct sc_message *msg)
{
    struct harness *h = arg;
    struct received *r;
    struct sc_buf params = {0};
    size_t i;

    ck_assert_uint_lt(h->messages_len, MAX_MESSAGES);
    ck_assert_ptr_nonnull(msg->data);
    r = &h->messages[h->messages_len++];

    r->helo = copy_string(msg->helo);
    r->esmtp = msg->esmtp;
    r->mail_from = copy_string(msg->mail_from);

    for (i = 0; i < msg->mail_params_len; i++) {
        if (i > 0)
            sc_buf_append_str(&params, " ");
        sc_buf_append_str(&params, msg->mail_params[i].keyword);
        if (msg->mail_params[i].value != NULL) {
            sc_buf_append_str(&params, "=");
            sc_buf_append_str(&params, msg->mail_params[i].value);
        }
    }
    ck_assert_int_eq(sc_buf_append(&params, "", 1), 0);
    r->params = params.data;

    r->rcpt_to_len = msg->rcpt_to_len;
    r->rcpt_to = calloc(msg->rcpt_to_len + 1, sizeof(char *));
    ck_assert_ptr_nonnull(r->rcpt_to);
    for (i = 0; i < msg->rcpt_to_len; i++)
        r->rcpt_to[i] = copy_string(msg->rcpt_to[i]);

    r->rcpt_params = format_rcpt_params(msg);
    r->auth = format_auth(&msg->auth);
    r->tls = format_tls(msg);
    r->warnings = msg->warnings;
    r->ascii = msg->ascii;
    r->chunked = msg->chunked;

    r->size = msg->size;
    r->data = malloc(msg->size + 1);
    ck_assert_ptr_nonnull(r->data);
    memcpy(r->data, msg->data, msg->size);
    r->data[msg->size] = '\0';
    return h->verdict;
}

static void record_trace(void *arg, enum sc_trace_dir dir, const char *line, size_t len)
{
    struct harness *h = arg;

    sc_buf_append_str(&h->trace, dir == SC_TRACE_IN ? "<" : ">");
    sc_buf_append(&h->trace, line, len);
    sc_buf_append_str(&h->trace, "\n");
}

/* Create the session and append its greeting to the replies. */
static void harness_init(struct harness *h, const struct sc_limits *limits)
{
    struct sc_session_hooks hooks = {
        .on_message = record_message,
        .on_trace = record_trace,
        .arg = h,
    };

    memset(h, 0, sizeof(*h));
    h->verdict = SC_ACCEPT;
    h->windows = feed_windows;
    h->session = sc_session_new(limits, &hooks);
    ck_assert_ptr_nonnull(h->session);
    sc_session_greet(h->session, "mx.test", &h->replies);
}

static void harness_free(struct harness *h)
{
    size_t i, j;

    sc_session_free(h->session);
    h->session = NULL;
    sc_buf_free(&h->replies);
    sc_buf_free(&h->pending);
    sc_buf_free(&h->trace);
    for (i = 0; i < h->messages_len; i++) {
        struct received *r = &h->messages[i];

        free(r->helo);
        free(r->mail_from);
        free(r->params);
        for (j = 0; j < r->rcpt_to_len; j++)
            free(r->rcpt_to[j]);
        free(r->rcpt_to);
        free(r->rcpt_params);
        free(r->auth);
        free(r->tls);
        free(r->data);
    }
    h->messages_len = 0;
}

static void setup(void)
{
    harness_init(&harness, &default_limits);
}

static void teardown(void)
{
    harness_free(&harness);
    feed_windows = false;
}

/* For test cases that run a second time with bodies read into windows. */
static void setup_windows(void)
{
    feed_windows = true;
    harness_init(&harness, &default_limits);
}

/* Start over with other limits. */
static void restart(const struct sc_limits *limits)
{
    harness_free(&harness);
    harness_init(&harness, limits);
}

/* Feed the bytes pending from earlier feeds and keep what the session
 * leaves. The session gets an exact-size copy, so ASan reports any read
 * past the end of its input. The feed helpers check with ck_abort_msg on
 * failure only: in Check's fork mode every passing ck_assert sends a
 * message to the parent process, and split tests feed thousands of times. */
static void feed_pending(struct harness *h)
{
    char *copy;
    size_t consumed;

    if (h->pending.len == 0)
        return;

    copy = malloc(h->pending.len);
    if (copy == NULL)
        ck_abort_msg("out of memory for a copy of %zu bytes", h->pending.len);
    memcpy(copy, h->pending.data, h->pending.len);
    consumed = sc_session_feed(h->session, copy, h->pending.len, &h->replies);
    free(copy);

    if (consumed > h->pending.len)
        ck_abort_msg("feed consumed %zu of %zu bytes", consumed, h->pending.len);
    sc_buf_consume(&h->pending, consumed);
}

/*
 * Pass bytes to the session as the server reads them: into the session's
 * window while a body arrives and nothing is pending, and else after what
 * is pending from earlier feeds. A window takes what fits, as one read
 * does, and the rest goes on as the next read.
 */
static void feed(struct harness *h, const char *bytes, size_t len)
{
    char *window;
    size_t room, n;

    while (h->windows && len > 0 && h->pending.len == 0 &&
           sc_session_window(h->session, &window, &room)) {
        if (room == 0)
            ck_abort_msg("sc_session_window offered a window of 0 bytes");
        n = len < room ? len : room;
        memcpy(window, bytes, n);
        if (sc_session_feed_window(h->session, n, &h->pending, &h->replies) != 0)
            ck_abort_msg("sc_session_feed_window failed on %zu bytes", n);
        bytes += n;
        len -= n;
        if (h->pending.len > 0)
            feed_pending(h);
    }

    if (sc_buf_append(&h->pending, bytes, len) != 0)
        ck_abort_msg("out of memory for %zu pending bytes", len);
    feed_pending(h);
}

static void send_text(struct harness *h, const char *text)
{
    feed(h, text, strlen(text));
}

/* Return the replies collected so far as a C string. */
static const char *reply_text(struct harness *h)
{
    ck_assert_int_eq(sc_buf_reserve(&h->replies, 1), 0);
    h->replies.data[h->replies.len] = '\0';
    return h->replies.data;
}

/* Send input on the fixture's session and check that the replies to it are
 * exactly expected. A macro, so a failure reports the test's line. */
#define ASSERT_EXCHANGE(input, expected)                        \
    do {                                                        \
        send_text(&harness, (input));                           \
        ck_assert_str_eq(reply_text(&harness), (expected));     \
        sc_buf_clear(&harness.replies);                         \
    } while (0)

/* Check a received message's data against a string literal, which may hold
 * NUL bytes. */
#define ASSERT_DATA(msg, literal)                                       \
    do {                                                                \
        ck_assert_uint_eq((msg)->size, sizeof(literal) - 1);            \
        ck_assert_mem_eq((msg)->data, (literal), sizeof(literal) - 1);  \
    } while (0)

#define EHLO_REPLY                      \
    "250-mx.test\r\n"                   \
    "250-PIPELINING\r\n"                \
    "250-SIZE 10000\r\n"                \
    "250-8BITMIME\r\n"                  \
    "250-SMTPUTF8\r\n"                  \
    "250-ENHANCEDSTATUSCODES\r\n"       \
    "250-CHUNKING\r\n"                  \
    "250-BINARYMIME\r\n"                \
    "250-DSN\r\n"                       \
    "250-AUTH PLAIN LOGIN CRAM-MD5\r\n" \
    "250 HELP\r\n"

#define SENDER_OK "250 2.1.0 Sender OK\r\n"
#define RCPT_OK "250 2.1.5 Recipient OK\r\n"
#define DATA_GO "354 End data with <CR><LF>.<CR><LF>\r\n"
#define ACCEPTED "250 2.0.0 Message accepted\r\n"
#define OK "250 2.0.0 OK\r\n"

/* Drop the greeting and greet with EHLO. */
static void begin_ehlo(void)
{
    sc_buf_clear(&harness.replies);
    send_text(&harness, "EHLO client.test\r\n");
    sc_buf_clear(&harness.replies);
}

/* Open a transaction from a@example.com to b@example.com, up to the 354. */
static void begin_data(void)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
}

/* ---------------------------------------------------------------- greeting */

START_TEST(test_session_greeting)
{
    ck_assert_str_eq(reply_text(&harness), "220 mx.test ESMTP smtpcatch\r\n");
}
END_TEST

START_TEST(test_session_ehlo_extensions)
{
    const char *text;

    sc_buf_clear(&harness.replies);
    send_text(&harness, "EHLO client.test\r\n");
    text = reply_text(&harness);

    ck_assert_str_eq(text, EHLO_REPLY);
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-PIPELINING\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-8BITMIME\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-SMTPUTF8\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-SIZE 10000\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-ENHANCEDSTATUSCODES\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-CHUNKING\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-BINARYMIME\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-DSN\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n"));
}
END_TEST

START_TEST(test_session_ehlo_size_is_max)
{
    struct sc_limits limits = default_limits;

    limits.max_size = 12345678;
    restart(&limits);
    sc_buf_clear(&harness.replies);
    send_text(&harness, "EHLO client.test\r\n");

    ck_assert_ptr_nonnull(strstr(reply_text(&harness), "\r\n250-SIZE 12345678\r\n"));
}
END_TEST

START_TEST(test_session_ehlo_records_helo)
{
    begin_data();
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].helo, "client.test");
    ck_assert(harness.messages[0].esmtp);
}
END_TEST

START_TEST(test_session_helo)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("HELO old.client\r\n", "250 mx.test\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].helo, "old.client");
    ck_assert(!harness.messages[0].esmtp);
}
END_TEST

START_TEST(test_session_helo_missing_name)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("HELO\r\n", "501 5.5.4 Syntax: HELO hostname\r\n");
    ASSERT_EXCHANGE("EHLO   \r\n", "501 5.5.4 Syntax: EHLO hostname\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", "503 5.5.1 Send HELO or EHLO first\r\n");
}
END_TEST

#define HELO_PARAM_REJECTED(keyword) \
    "555 5.5.4 MAIL parameter " keyword " needs EHLO, but the session began with HELO\r\n"

/* Service extensions exist only after EHLO, so MAIL parameters after HELO
 * get 555 while MAIL without them still works. */
START_TEST(test_session_helo_mail_params)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("HELO x\r\n", "250 mx.test\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example> SIZE=10\r\n", HELO_PARAM_REJECTED("SIZE"));
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example> body=8BITMIME\r\n", HELO_PARAM_REJECTED("BODY"));
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example> SMTPUTF8\r\n", HELO_PARAM_REJECTED("SMTPUTF8"));
    ASSERT_EXCHANGE("MAIL FROM:<> SIZE=10 BODY=7BIT\r\n", HELO_PARAM_REJECTED("SIZE"));
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<c@d.example>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "a@b.example");
    ck_assert_str_eq(harness.messages[0].params, "");
    ck_assert(!harness.messages[0].esmtp);
}
END_TEST

/* Only the latest greeting counts. EHLO enables parameters, and a later
 * HELO disables them again. */
START_TEST(test_session_mail_params_follow_greeting)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("HELO x\r\n", "250 mx.test\r\n");
    ASSERT_EXCHANGE("EHLO x\r\n", EHLO_REPLY);
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example> SIZE=10\r\n", SENDER_OK);
    ASSERT_EXCHANGE("HELO x\r\n", "250 mx.test\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example> SIZE=10\r\n", HELO_PARAM_REJECTED("SIZE"));
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example>\r\n", SENDER_OK);
}
END_TEST

/* ------------------------------------------------------------------- MAIL */

START_TEST(test_session_mail_params_kept)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> size=100 Body=8bitmime smtputf8\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "a@example.com");
    ck_assert_str_eq(harness.messages[0].params, "SIZE=100 BODY=8bitmime SMTPUTF8");
}
END_TEST

START_TEST(test_session_mail_size_too_big)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=10001\r\n",
                    "552 5.3.4 Message size exceeds fixed maximum of 10000 bytes\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=99999999999999999999\r\n",
                    "552 5.3.4 Message size exceeds fixed maximum of 10000 bytes\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=00000000000000000010\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RSET\r\n", OK);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=10000\r\n", SENDER_OK);
}
END_TEST

START_TEST(test_session_mail_param_values)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=12x\r\n",
                    "501 5.5.4 Invalid SIZE value: expected a number of bytes, 1 to 20 digits\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE\r\n",
                    "501 5.5.4 Invalid SIZE value: expected a number of bytes, 1 to 20 digits\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=000000000000000000010\r\n",
                    "501 5.5.4 Invalid SIZE value: expected a number of bytes, 1 to 20 digits\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> BODY=QUANTUM\r\n",
                    "501 5.5.4 Invalid BODY value: expected 7BIT, 8BITMIME or BINARYMIME\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> RET=ALL\r\n",
                    "501 5.5.4 Invalid RET value: expected FULL or HDRS\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> ENVID=a=b\r\n",
                    "501 5.5.4 Invalid parameter syntax: expected KEYWORD or KEYWORD=value\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> ENVID=a+zz\r\n",
                    "501 5.5.4 Invalid ENVID value: expected xtext of at most 100 characters\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SMTPUTF8=yes\r\n",
                    "501 5.5.4 SMTPUTF8 takes no value\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=1 SIZE=2\r\n",
                    "501 5.5.4 Parameter given twice\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> =1\r\n",
                    "501 5.5.4 Invalid parameter syntax: expected KEYWORD or KEYWORD=value\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> BODY=7bit\r\n", SENDER_OK);
}
END_TEST

START_TEST(test_session_mail_unknown_param)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> XFOO=1\r\n",
                    "555 5.5.4 Unsupported MAIL parameter XFOO\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
}
END_TEST

/* PHPMailer sends Postfix's XVERP unasked when VERP is on; it is taken. */
START_TEST(test_session_mail_xverp)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> XVERP\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].params, "XVERP");
}
END_TEST

START_TEST(test_session_rcpt_unknown_param)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> xfoo=NEVER\r\n",
                    "555 5.5.4 Unsupported RCPT parameter XFOO\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
}
END_TEST

START_TEST(test_session_mail_space_after_colon)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM: <a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO: <b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE(".\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "a@example.com");
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "b@example.com");
}
END_TEST

/* Extra spaces or a tab between verb and argument are accepted. */
START_TEST(test_session_extra_whitespace)
{
    sc_buf_clear(&harness.replies);
    send_text(&harness, "EHLO  client.test \r\n");
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("MAIL  FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT\tTO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("NOOP\tanything\r\n", OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE(".\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].helo, "client.test");
    ck_assert_str_eq(harness.messages[0].mail_from, "a@example.com");
}
END_TEST

START_TEST(test_session_null_sender)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("bounce\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "");
}
END_TEST

START_TEST(test_session_mail_twice)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("MAIL FROM:<c@example.com>\r\n",
                    "503 5.5.1 Sender already given; send RSET to start over\r\n");
}
END_TEST

/* ------------------------------------------------------------------- RCPT */

START_TEST(test_session_rcpt_repeated)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 3);
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "b@example.com");
    ck_assert_str_eq(harness.messages[0].rcpt_to[1], "c@example.com");
    ck_assert_str_eq(harness.messages[0].rcpt_to[2], "b@example.com");
}
END_TEST

START_TEST(test_session_rcpt_null_rejected)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<>\r\n",
                    "501 5.1.3 The null address <> is not a valid recipient\r\n");
}
END_TEST

START_TEST(test_session_quoted_local_part)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<\"john doe\"@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<\"a>b\"@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<\"q\\\"x\"@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "\"john doe\"@example.com");
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "\"a>b\"@example.com");
    ck_assert_str_eq(harness.messages[0].rcpt_to[1], "\"q\\\"x\"@example.com");
}
END_TEST

START_TEST(test_session_utf8_addresses)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<用户@例子.广告> SMTPUTF8\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<😀@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "用户@例子.广告");
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "δοκιμή@παράδειγμα.δοκιμή");
    ck_assert_str_eq(harness.messages[0].rcpt_to[1], "😀@example.com");
}
END_TEST

START_TEST(test_session_invalid_utf8_address)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a\xff@example.com>\r\n",
                    "501 5.1.7 Invalid sender address: not valid UTF-8\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<\xc0\xaf@example.com>\r\n",
                    "501 5.1.7 Invalid sender address: not valid UTF-8\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<\xed\xa0\x80@example.com>\r\n",
                    "501 5.1.3 Invalid recipient address: not valid UTF-8\r\n");
}
END_TEST

START_TEST(test_session_too_many_rcpts)
{
    int i;

    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    for (i = 0; i < 5; i++)
        ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", "452 4.5.3 Too many recipients\r\n");
    /* A malformed recipient past the limit gets its own error, not 452. */
    ASSERT_EXCHANGE("RCPT TO:<nodomain>\r\n", "501 5.1.3 Invalid recipient address: a domain "
                    "is required, as in user@example.com\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=BOGUS\r\n", "501 5.5.4 Invalid NOTIFY "
                    "value: expected NEVER, or a list of SUCCESS, FAILURE, DELAY\r\n");
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 5);
}
END_TEST

#define SENDER_NO_DOMAIN \
    "501 5.1.7 Invalid sender address: a domain is required, as in user@example.com\r\n"
#define RCPT_NO_DOMAIN \
    "501 5.1.3 Invalid recipient address: a domain is required, as in user@example.com\r\n"
#define SENDER_SYNTAX "501 5.1.7 Invalid sender address syntax\r\n"
#define RCPT_SYNTAX "501 5.1.3 Invalid recipient address syntax\r\n"

START_TEST(test_session_mail_no_domain)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a>\r\n", SENDER_NO_DOMAIN);
    ASSERT_EXCHANGE("MAIL FROM:a\r\n", SENDER_NO_DOMAIN);
    ASSERT_EXCHANGE("MAIL FROM:<Postmaster>\r\n", SENDER_NO_DOMAIN);
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example>\r\n", SENDER_OK);
}
END_TEST

START_TEST(test_session_rcpt_no_domain)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<a>\r\n", RCPT_NO_DOMAIN);
    ASSERT_EXCHANGE("RCPT TO: c\r\n", RCPT_NO_DOMAIN);
    ASSERT_EXCHANGE("RCPT TO:<@relay.example:Postmaster>\r\n", RCPT_NO_DOMAIN);
    ASSERT_EXCHANGE("DATA\r\n", "503 5.5.1 Send RCPT first: no valid recipients\r\n");
}
END_TEST

/* RCPT TO:<Postmaster> must be accepted in any case, with no domain. */
START_TEST(test_session_rcpt_postmaster)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@b.example>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<Postmaster>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<postmaster>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<POSTMASTER>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 3);
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "Postmaster");
    ck_assert_str_eq(harness.messages[0].rcpt_to[1], "postmaster");
    ck_assert_str_eq(harness.messages[0].rcpt_to[2], "POSTMASTER");
}
END_TEST

/* A source route with no mailbox after it is not the null sender. */
START_TEST(test_session_source_route_alone)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<@relay.example:>\r\n", SENDER_SYNTAX);
    ASSERT_EXCHANGE("MAIL FROM:<@relay.example:a@b.example>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<@relay.example:>\r\n", RCPT_SYNTAX);
    ASSERT_EXCHANGE("RCPT TO:<@relay.example:c@d.example>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "a@b.example");
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "c@d.example");
}
END_TEST

/* '@' belongs in the local part only when that part is quoted. */
START_TEST(test_session_unquoted_at)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@b@c.example>\r\n", SENDER_SYNTAX);
    ASSERT_EXCHANGE("MAIL FROM:<\"a@b\"@c.example>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<d@e@f.example>\r\n", RCPT_SYNTAX);
    ASSERT_EXCHANGE("RCPT TO:<\"d@e\"@f.example>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "\"a@b\"@c.example");
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "\"d@e\"@f.example");
}
END_TEST

START_TEST(test_session_address_literal)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@[127.0.0.1]>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@[IPv6:::1]>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "a@[127.0.0.1]");
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "b@[IPv6:::1]");
}
END_TEST

/* ------------------------------------------------------------- sequencing */

START_TEST(test_session_mail_before_helo)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", "503 5.5.1 Send HELO or EHLO first\r\n");
}
END_TEST

START_TEST(test_session_rcpt_before_mail)
{
    begin_ehlo();
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", "503 5.5.1 Send MAIL first\r\n");
}
END_TEST

START_TEST(test_session_data_before_rcpt)
{
    begin_ehlo();
    ASSERT_EXCHANGE("DATA\r\n", "503 5.5.1 Send MAIL first\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("DATA\r\n", "503 5.5.1 Send RCPT first: no valid recipients\r\n");
    ck_assert(!sc_session_in_data(harness.session));
}
END_TEST

START_TEST(test_session_rset_clears_transaction)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=5\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<old@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RSET\r\n", OK);
    ASSERT_EXCHANGE("DATA\r\n", "503 5.5.1 Send MAIL first\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", "503 5.5.1 Send MAIL first\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<c@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<new@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].helo, "client.test");
    ck_assert_str_eq(harness.messages[0].mail_from, "c@example.com");
    ck_assert_str_eq(harness.messages[0].params, "");
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 1);
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "new@example.com");
}
END_TEST

START_TEST(test_session_rset_before_helo)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("RSET\r\n", OK);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", "503 5.5.1 Send HELO or EHLO first\r\n");
}
END_TEST

START_TEST(test_session_ehlo_resets_transaction)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("EHLO again.test\r\n", EHLO_REPLY);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", "503 5.5.1 Send MAIL first\r\n");
}
END_TEST

START_TEST(test_session_noop)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("NOOP\r\n", OK);
    ASSERT_EXCHANGE("NOOP ignored text\r\n", OK);
}
END_TEST

START_TEST(test_session_quit)
{
    size_t consumed;
    const char rest[] = "NOOP\r\nEHLO x\r\n";

    begin_ehlo();
    ASSERT_EXCHANGE("QUIT\r\nNOOP\r\n", "221 2.0.0 Bye\r\n");
    ck_assert(sc_session_closing(harness.session));
    ck_assert_uint_eq(harness.pending.len, 0);

    consumed = sc_session_feed(harness.session, rest, sizeof(rest) - 1, &harness.replies);
    ck_assert_uint_eq(consumed, sizeof(rest) - 1);
    ck_assert_uint_eq(harness.replies.len, 0);
}
END_TEST

START_TEST(test_session_vrfy)
{
    begin_ehlo();
    ASSERT_EXCHANGE("VRFY someone\r\n",
                    "252 2.5.0 Cannot verify the user, but will accept the message\r\n");
    ASSERT_EXCHANGE("VRFY\r\n", "501 5.5.4 Syntax: VRFY address\r\n");
}
END_TEST

START_TEST(test_session_help)
{
    begin_ehlo();
    ASSERT_EXCHANGE("HELP\r\n",
                    "214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
                    "HELP\r\n");
}
END_TEST

START_TEST(test_session_verbs_any_case)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("ehlo client.test\r\n", EHLO_REPLY);
    ASSERT_EXCHANGE("mail from:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("Rcpt To:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("data\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);
    ASSERT_EXCHANGE("nOoP\r\n", OK);
    ASSERT_EXCHANGE("rset\r\n", OK);
    ASSERT_EXCHANGE("Quit\r\n", "221 2.0.0 Bye\r\n");

    ck_assert_uint_eq(harness.messages_len, 1);
}
END_TEST

START_TEST(test_session_unknown_command)
{
    begin_ehlo();
    ASSERT_EXCHANGE("FOO bar\r\n", "500 5.5.1 Unknown command\r\n");
    ASSERT_EXCHANGE("\r\n", "500 5.5.1 Unknown command\r\n");
    ASSERT_EXCHANGE("EXPN list\r\n", "502 5.5.1 Command not implemented\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ck_assert(!sc_session_closing(harness.session));
}
END_TEST

START_TEST(test_session_bad_syntax)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM<a@example.com>\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
    ASSERT_EXCHANGE("MAIL FROM:\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com\r\n", "501 5.1.7 Invalid sender address syntax\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a b@example.com>\r\n", "501 5.1.7 Invalid sender address syntax\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>x\r\n", "501 5.1.7 Invalid sender address syntax\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO b@example.com\r\n", "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
    ASSERT_EXCHANGE("RCPT TO:\r\n", "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@>\r\n", "501 5.1.3 Invalid recipient address syntax\r\n");
    ASSERT_EXCHANGE("DATA now\r\n", "501 5.5.4 DATA takes no argument\r\n");
    ASSERT_EXCHANGE("RSET all\r\n", "501 5.5.4 RSET takes no argument\r\n");
    ASSERT_EXCHANGE("QUIT now\r\n", "501 5.5.4 QUIT takes no argument\r\n");
    ck_assert(!sc_session_closing(harness.session));
}
END_TEST

/* ---------------------------------------------- replies and enhanced codes */

/* Return true when a reply line carries an enhanced status code
 * (class.subject.detail) whose class is the reply's first digit, as in
 * "250 2.1.0 Sender OK". */
static bool has_enhanced_code(const char *line, size_t len)
{
    size_t i, part, digits;

    if (len < 10 || (line[3] != ' ' && line[3] != '-'))
        return false;
    if (line[4] != line[0] || line[5] != '.')
        return false;

    i = 6;
    for (part = 0; part < 2; part++) {
        digits = 0;
        while (i < len && line[i] >= '0' && line[i] <= '9' && digits < 3) {
            i++;
            digits++;
        }
        if (digits == 0)
            return false;
        if (part == 0 && (i >= len || line[i++] != '.'))
            return false;
    }
    return i == len || line[i] == ' ';
}

/* One input of the long transcript. helo_reply marks HELO and EHLO, whose
 * 250 replies, like the greeting, carry no enhanced status code. */
struct step {
    const char *input;
    bool helo_reply;
    enum sc_verdict verdict;
};

/* Check every reply line in the replies buffer, then clear it. Returns the
 * number of lines seen. */
static size_t check_reply_codes(const struct step *step)
{
    const char *text = reply_text(&harness), *line = text, *end;
    size_t count = 0, len;

    while ((end = strstr(line, "\r\n")) != NULL) {
        len = (size_t)(end - line);
        count++;
        ck_assert_msg(len >= 3 && strchr("2345", line[0]) != NULL,
                      "reply to \"%s\" is not a reply line: \"%.*s\"", step->input, (int)len, line);
        if (line[0] != '3' && !(step->helo_reply && line[0] == '2'))
            ck_assert_msg(has_enhanced_code(line, len),
                          "reply to \"%s\" lacks an enhanced status code: \"%.*s\"",
                          step->input, (int)len, line);
        line = end + 2;
    }
    ck_assert_msg(*line == '\0', "reply to \"%s\" does not end with CRLF", step->input);
    sc_buf_clear(&harness.replies);
    return count;
}

#define LONG_LINE "NOOP xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define BIG_DATA "0123456789012345678901234567890123456789012345678901234567890123456789\r\n"

static const struct step reply_steps[] = {
    {"NOOP\r\n", false, SC_ACCEPT},
    {"RSET\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT},
    {"EHLO\r\n", false, SC_ACCEPT},
    {"HELO\r\n", false, SC_ACCEPT},
    {"EHLO bad\x01name\r\n", false, SC_ACCEPT},
    {"EHLO client.test\r\n", true, SC_ACCEPT},
    {"HELO client.test\r\n", true, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> SIZE=10\r\n", false, SC_ACCEPT},
    {"EHLO client.test\r\n", true, SC_ACCEPT},
    {"FOO\r\n", false, SC_ACCEPT},
    {"EXPN list\r\n", false, SC_ACCEPT},
    {"STARTTLS\r\n", false, SC_ACCEPT},
    {"VRFY\r\n", false, SC_ACCEPT},
    {"VRFY a\r\n", false, SC_ACCEPT},
    {"HELP\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com>\r\n", false, SC_ACCEPT},
    {"DATA\r\n", false, SC_ACCEPT},
    {"DATA x\r\n", false, SC_ACCEPT},
    {"RSET x\r\n", false, SC_ACCEPT},
    {"QUIT x\r\n", false, SC_ACCEPT},
    {LONG_LINE "\r\n", false, SC_ACCEPT},
    {"MAIL TO:<a@example.com>\r\n", false, SC_ACCEPT},
    {"MAIL FROM:\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a b>\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a>\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<@relay.example:>\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@b@example.com>\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<\xff@example.com>\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> FOO=1\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> SIZE=1000\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> SIZE=x\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> BODY=X\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> SMTPUTF8=1\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> A=1 a=2\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> A=\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT},
    {"DATA\r\n", false, SC_ACCEPT},
    {"RCPT FROM:<b@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:\r\n", false, SC_ACCEPT},
    {"RCPT TO:<>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b c>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<@relay.example:>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@c@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b\xff@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com> XFOO=NEVER\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com> NOTIFY=NEVER,DELAY\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<c@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<d@example.com>\r\n", false, SC_ACCEPT},
    {"DATA\r\n", false, SC_ACCEPT},
    {"hello\r\n.\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com>\r\n", false, SC_ACCEPT},
    {"DATA\r\n", false, SC_ACCEPT},
    {BIG_DATA BIG_DATA ".\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com>\r\n", false, SC_ACCEPT},
    {"DATA\r\n", false, SC_ACCEPT},
    {"not stored\r\n.\r\n", false, SC_TEMPFAIL},
    {"NOOP\r\n", false, SC_ACCEPT},
    {"QUIT\r\n", false, SC_ACCEPT},
};

START_TEST(test_session_enhanced_codes)
{
    struct sc_limits limits = {.max_size = 100, .max_line = 64, .max_rcpts = 2};
    size_t i;

    restart(&limits);
    sc_buf_clear(&harness.replies);
    for (i = 0; i < sizeof(reply_steps) / sizeof(reply_steps[0]); i++) {
        harness.verdict = reply_steps[i].verdict;
        send_text(&harness, reply_steps[i].input);
        ck_assert_msg(check_reply_codes(&reply_steps[i]) > 0, "no reply to \"%s\"",
                      reply_steps[i].input);
    }
    ck_assert(sc_session_closing(harness.session));
}
END_TEST

/* The replies that close a session: draining, a shutdown verdict and an abort. */
START_TEST(test_session_enhanced_codes_closing)
{
    static const struct step drain = {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT};
    static const struct step shutdown = {"x\r\n.\r\n", false, SC_SHUTDOWN};
    static const struct step abort_step = {"(abort)", false, SC_ACCEPT};

    begin_ehlo();
    sc_session_set_draining(harness.session);
    send_text(&harness, drain.input);
    ck_assert_uint_eq(check_reply_codes(&drain), 1);

    restart(&default_limits);
    begin_data();
    harness.verdict = SC_SHUTDOWN;
    send_text(&harness, shutdown.input);
    ck_assert_uint_eq(check_reply_codes(&shutdown), 1);

    restart(&default_limits);
    begin_ehlo();
    sc_session_abort(harness.session, "4.4.2 Idle timeout, closing connection", &harness.replies);
    ck_assert_uint_eq(check_reply_codes(&abort_step), 1);
}
END_TEST

START_TEST(test_session_pipelined_in_order)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n"
                    "RCPT TO:<b@example.com>\r\n"
                    "RCPT TO:<>\r\n"
                    "RCPT TO:<c@example.com>\r\n"
                    "DATA\r\n"
                    "body\r\n"
                    ".\r\n"
                    "NOOP\r\n"
                    "RCPT TO:<d@example.com>\r\n"
                    "QUIT\r\n",
                    SENDER_OK
                    RCPT_OK
                    "501 5.1.3 The null address <> is not a valid recipient\r\n"
                    RCPT_OK
                    DATA_GO
                    ACCEPTED
                    OK
                    "503 5.5.1 Send MAIL first\r\n"
                    "221 2.0.0 Bye\r\n");

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 2);
    ASSERT_DATA(&harness.messages[0], "body\r\n");
}
END_TEST

START_TEST(test_session_bare_lf_commands)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("EHLO client.test\n", EHLO_REPLY);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\n", DATA_GO);
    ck_assert(sc_session_in_data(harness.session));
    ASSERT_EXCHANGE("hi\n.\n", "");
    ASSERT_EXCHANGE("\r\n.\r\n", ACCEPTED);
    ASSERT_EXCHANGE("NOOP\n", OK);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "hi\n.\n\r\n");
}
END_TEST

START_TEST(test_session_trace_lines)
{
    begin_ehlo();
    sc_buf_clear(&harness.trace);
    send_text(&harness, "NOOP\r\nFOO\n");
    ck_assert_int_eq(sc_buf_append(&harness.trace, "", 1), 0);

    ck_assert_str_eq(harness.trace.data,
                     "<NOOP\n>250 2.0.0 OK\n<FOO\n>500 5.5.1 Unknown command\n");
}
END_TEST

/* ------------------------------------------------------------------- DATA */

START_TEST(test_session_data_dot_unstuffing)
{
    begin_data();
    ASSERT_EXCHANGE("..\r\n..leading\r\n...two\r\n.x\r\nmid.dot\r\n. \r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], ".\r\n.leading\r\n..two\r\nx\r\nmid.dot\r\n \r\n");
    ck_assert(!sc_session_in_data(harness.session));
}
END_TEST

START_TEST(test_session_data_empty_message)
{
    begin_data();
    ck_assert(sc_session_in_data(harness.session));
    ASSERT_EXCHANGE(".\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].size, 0);
    ck_assert_str_eq(harness.messages[0].data, "");
}
END_TEST

/* A dot line that does not sit between two CRLFs is content. */
static const struct {
    const char *input;
    const char *data;
} lone_dots[] = {
    {"a\n.\nb\r\n.\r\n", "a\n.\nb\r\n"},
    {"a\r\n.\nb\r\n.\r\n", "a\r\n.\nb\r\n"},
    {"a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n"},
    {"a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n"},
    {"\n.\n\r\n.\r\n", "\n.\n\r\n"},
};

START_TEST(test_session_data_lone_dot_kept)
{
    begin_data();
    ASSERT_EXCHANGE(lone_dots[_i].input, ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].data, lone_dots[_i].data);
}
END_TEST

START_TEST(test_session_data_byte_exact)
{
    static const char data[] =
        "  leading spaces\r\n"
        "\tleading tab\r\n"
        "trailing spaces  \r\n"
        "trailing tab\t\r\n"
        "\r\n"
        "\r\n"
        "8-bit: \x80\xff\xfe caf\xc3\xa9\r\n"
        "NUL: \0in\0line\0\r\n"
        "\0\r\n"
        " \r\n"
        "no final CRLF";

    begin_data();
    feed(&harness, data, sizeof(data) - 1);
    ASSERT_EXCHANGE("\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].size, sizeof(data) - 1 + 2);
    ck_assert_mem_eq(harness.messages[0].data, data, sizeof(data) - 1);
    ck_assert_mem_eq(harness.messages[0].data + sizeof(data) - 1, "\r\n", 2);
}
END_TEST

/* A feed may end in the middle of a line, and a dot right after that point
 * is not at the start of a line. */
START_TEST(test_session_data_dot_mid_line_split)
{
    begin_data();
    ASSERT_EXCHANGE("ab", "");
    ASSERT_EXCHANGE(".c\r\n", "");
    ASSERT_EXCHANGE("x", "");
    ASSERT_EXCHANGE(".\r\n", "");
    ASSERT_EXCHANGE(".\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].data, "ab.c\r\nx.\r\n");
}
END_TEST

START_TEST(test_session_data_end_split)
{
    begin_data();
    ASSERT_EXCHANGE("a\r", "");
    ASSERT_EXCHANGE("\n", "");
    ASSERT_EXCHANGE(".", "");
    ASSERT_EXCHANGE("\r", "");
    ASSERT_EXCHANGE("\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].data, "a\r\n");
}
END_TEST

START_TEST(test_session_several_messages)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<one@example.com> SIZE=10 BODY=8BITMIME\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<r1@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<r2@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("first message, a longer one\r\n.\r\n", ACCEPTED);
    ASSERT_EXCHANGE("MAIL FROM:<two@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<r3@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("second\r\n.\r\n", ACCEPTED);
    ASSERT_EXCHANGE("MAIL FROM:<>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<r4@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE(".\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 3);

    ck_assert_str_eq(harness.messages[0].mail_from, "one@example.com");
    ck_assert_str_eq(harness.messages[0].params, "SIZE=10 BODY=8BITMIME");
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 2);
    ASSERT_DATA(&harness.messages[0], "first message, a longer one\r\n");

    ck_assert_str_eq(harness.messages[1].helo, "client.test");
    ck_assert_str_eq(harness.messages[1].mail_from, "two@example.com");
    ck_assert_str_eq(harness.messages[1].params, "");
    ck_assert_uint_eq(harness.messages[1].rcpt_to_len, 1);
    ck_assert_str_eq(harness.messages[1].rcpt_to[0], "r3@example.com");
    ASSERT_DATA(&harness.messages[1], "second\r\n");

    ck_assert_str_eq(harness.messages[2].mail_from, "");
    ck_assert_uint_eq(harness.messages[2].rcpt_to_len, 1);
    ck_assert_str_eq(harness.messages[2].rcpt_to[0], "r4@example.com");
    ck_assert_uint_eq(harness.messages[2].size, 0);
}
END_TEST

START_TEST(test_session_free_in_data)
{
    begin_data();
    ASSERT_EXCHANGE("Subject: cut off\r\n\r\npartial", "");

    sc_session_free(harness.session);
    harness.session = NULL;

    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

START_TEST(test_session_data_at_max_size)
{
    struct sc_limits limits = default_limits;
    char data[101];

    limits.max_size = 100;
    restart(&limits);
    memset(data, 'x', 98);
    memcpy(data + 98, "\r\n", 3);

    begin_data();
    ASSERT_EXCHANGE(data, "");
    ASSERT_EXCHANGE(".\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].size, 100);
}
END_TEST

/* Return the room of the session's window, or 0 when it offers none. */
static size_t window_room(void)
{
    char *window;
    size_t room;

    return sc_session_window(harness.session, &window, &room) ? room : 0;
}

START_TEST(test_session_window_only_in_body)
{
    ck_assert_uint_eq(window_room(), 0);
    begin_ehlo();
    ck_assert_uint_eq(window_room(), 0);

    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n",
                    SENDER_OK RCPT_OK DATA_GO);
    ck_assert_uint_gt(window_room(), 0);
    ASSERT_EXCHANGE(".\r\n", ACCEPTED);
    ck_assert_uint_eq(window_room(), 0);
}
END_TEST

/* Near max_size the window gives way to plain feeds, which discard what is
 * over the limit; a window never reaches past it. */
START_TEST(test_session_window_within_max_size)
{
    struct sc_limits limits = default_limits;
    char line[1002];
    size_t room, sent = 0;

    limits.max_size = 20000;
    restart(&limits);
    memset(line, 'x', 998);
    memcpy(line + 998, "\r\n", 3);

    begin_data();
    while ((room = window_room()) > 0) {
        ck_assert_uint_le(sent + room, limits.max_size);
        ASSERT_EXCHANGE(line, "");
        sent += 1000;
    }
    ck_assert_uint_gt(sent, limits.max_size - 5000);
    ck_assert_uint_le(sent, limits.max_size);
}
END_TEST

/* A declared SIZE= is reserved at once, so the first window is as large as
 * a window gets, and larger bodies still arrive byte for byte. */
START_TEST(test_session_window_large_body)
{
    struct sc_limits limits = default_limits;
    enum { LINES = 40000, LINE = 30 };
    char line[LINE + 1];
    size_t i;

    limits.max_size = 4 << 20;
    restart(&limits);
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=1200000\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\nDATA\r\n", RCPT_OK DATA_GO);
    ck_assert_uint_ge(window_room(), 1 << 20);

    /* Every tenth line starts with a stuffed dot, which moves the bytes
     * after it within the window. */
    for (i = 0; i < LINES; i++) {
        snprintf(line, sizeof(line), "%s%026zu\r\n", i % 10 == 0 ? ".." : "ab", i);
        feed(&harness, line, LINE);
    }
    ASSERT_EXCHANGE(".\r\nQUIT\r\n", ACCEPTED "221 2.0.0 Bye\r\n");

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].size, (size_t)LINES * LINE - LINES / 10);
    ck_assert_mem_eq(harness.messages[0].data, ".00000000000000000000000000\r\nab", 31);
}
END_TEST

/* A BDAT window never reaches past the chunk, so the next command stays out
 * of the message. A rejected chunk, whose bytes are discarded, has none. */
START_TEST(test_session_window_bdat_chunk)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n",
                    SENDER_OK RCPT_OK);
    ASSERT_EXCHANGE("BDAT 10\r\n", "");
    ck_assert_uint_eq(window_room(), 10);
    ASSERT_EXCHANGE("0123456789", "250 2.0.0 10 octets received\r\n");
    ck_assert_uint_eq(window_room(), 0);

    ASSERT_EXCHANGE("BDAT 5 LAST junk\r\n", "");
    ck_assert_uint_eq(window_room(), 0);
}
END_TEST

START_TEST(test_session_data_too_big)
{
    struct sc_limits limits = default_limits;
    int i;

    limits.max_size = 100;
    restart(&limits);

    begin_data();
    for (i = 0; i < 5; i++)
        ASSERT_EXCHANGE("0123456789012345678901234567890123456789\r\n", "");
    ASSERT_EXCHANGE("..still content\r\n", "");
    ASSERT_EXCHANGE(".\r\n", "552 5.3.4 Message too big: the maximum is 100 bytes\r\n");
    ck_assert_uint_eq(harness.messages_len, 0);
    ck_assert(!sc_session_in_data(harness.session));
    ck_assert(!sc_session_closing(harness.session));

    ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n", "503 5.5.1 Send MAIL first\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("small\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 1);
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "c@example.com");
    ASSERT_DATA(&harness.messages[0], "small\r\n");
}
END_TEST

START_TEST(test_session_line_too_long)
{
    struct sc_limits limits = default_limits;
    char line[80];

    limits.max_line = 64;
    restart(&limits);
    begin_ehlo();

    /* 62 bytes and CRLF is 64 in all, the longest line allowed. */
    memset(line, 'x', sizeof(line));
    memcpy(line, "NOOP ", 5);
    memcpy(line + 62, "\r\n", 3);
    ASSERT_EXCHANGE(line, OK);

    line[62] = 'x';
    memcpy(line + 63, "\r\n", 3);
    ASSERT_EXCHANGE(line, "500 5.5.2 Line too long\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ck_assert(!sc_session_closing(harness.session));
}
END_TEST

/* An overlong line sent a byte at a time is never buffered whole, and gets
 * a single 500 reply when its line ending arrives. */
START_TEST(test_session_line_too_long_bounded)
{
    struct sc_limits limits = default_limits;
    int i;

    limits.max_line = 64;
    restart(&limits);
    begin_ehlo();

    for (i = 0; i < 1000; i++) {
        feed(&harness, "y", 1);
        ck_assert_uint_le(harness.pending.len, 64);
    }
    ck_assert_uint_eq(harness.replies.len, 0);
    ASSERT_EXCHANGE("\r\nNOOP\r\n", "500 5.5.2 Line too long\r\n" OK);
}
END_TEST

/* ------------------------------------------------ closing, verdicts, abort */

START_TEST(test_session_abort)
{
    begin_ehlo();
    sc_session_abort(harness.session, "4.4.2 Idle timeout, closing connection", &harness.replies);

    ck_assert_str_eq(reply_text(&harness), "421 4.4.2 Idle timeout, closing connection\r\n");
    ck_assert(sc_session_closing(harness.session));
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("NOOP\r\n", "");

    sc_session_abort(harness.session, "4.3.2 Again", &harness.replies);
    ck_assert_uint_eq(harness.replies.len, 0);
}
END_TEST

START_TEST(test_session_abort_in_data)
{
    begin_data();
    ASSERT_EXCHANGE("partial\r\n", "");
    sc_session_abort(harness.session, "4.3.2 Service shutting down", &harness.replies);
    ck_assert_str_eq(reply_text(&harness), "421 4.3.2 Service shutting down\r\n");
    sc_buf_clear(&harness.replies);

    ASSERT_EXCHANGE(".\r\n", "");
    ck_assert_uint_eq(harness.messages_len, 0);
    ck_assert(sc_session_closing(harness.session));
}
END_TEST

START_TEST(test_session_draining)
{
    begin_ehlo();
    sc_session_set_draining(harness.session);
    ASSERT_EXCHANGE("NOOP\r\n", OK);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\nNOOP\r\n",
                    "421 4.3.2 Service shutting down, try again later\r\n");
    ck_assert(sc_session_closing(harness.session));
}
END_TEST

START_TEST(test_session_draining_mid_transaction)
{
    begin_data();
    sc_session_set_draining(harness.session);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);
    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert(!sc_session_closing(harness.session));

    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n",
                    "421 4.3.2 Service shutting down, try again later\r\n");
    ck_assert(sc_session_closing(harness.session));
}
END_TEST

START_TEST(test_session_verdict_tempfail)
{
    begin_data();
    harness.verdict = SC_TEMPFAIL;
    ASSERT_EXCHANGE("x\r\n.\r\n", "451 4.3.0 Message could not be stored, try again later\r\n");
    ck_assert(!sc_session_closing(harness.session));

    harness.verdict = SC_ACCEPT;
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", "503 5.5.1 Send MAIL first\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("y\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 2);
    ck_assert_uint_eq(harness.messages[1].rcpt_to_len, 1);
    ck_assert_str_eq(harness.messages[1].rcpt_to[0], "c@example.com");
}
END_TEST

START_TEST(test_session_verdict_shutdown)
{
    begin_data();
    harness.verdict = SC_SHUTDOWN;
    ASSERT_EXCHANGE("x\r\n.\r\nNOOP\r\n",
                    "421 4.3.2 Service shutting down, message not accepted; try again later\r\n");
    ck_assert(sc_session_closing(harness.session));
    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.pending.len, 0);
}
END_TEST

/* ------------------------------------------------------------- transcript */

/* A realistic session: EHLO, a message with parameters, two recipients,
 * dot-stuffed lines and bare-LF content, a second message, and QUIT. */
static const char transcript[] =
    "EHLO client.example\r\n"
    "MAIL FROM:<sender@example.com> SIZE=300 body=8BITMIME SMTPUTF8\r\n"
    "RCPT TO:<a@example.com>\r\n"
    "RCPT TO:<b@example.com>\r\n"
    "DATA\r\n"
    "Subject: Test\r\n"
    "\r\n"
    "..leading dot\r\n"
    "...two dots\r\n"
    ".\n"
    "bare\nLF line\r\n"
    "x\n.\r\n"
    "y\n.\nz\r\n"
    "see example.com.\r\n"
    ".\r\n"
    "mail from: <>\r\n"
    "rcpt to:<\"john doe\"@example.org>\n"
    "RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>\r\n"
    "DATA\r\n"
    "\tsecond message \r\n"
    "caf\xc3\xa9\r\n"
    ".\r\n"
    "QUIT\r\n"
    "NOOP\r\n";

static const char transcript_replies[] =
    "220 mx.test ESMTP smtpcatch\r\n"
    "250-mx.test\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10000\r\n"
    "250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-CHUNKING\r\n"
    "250-BINARYMIME\r\n"
    "250-DSN\r\n"
    "250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
    "250 HELP\r\n"
    SENDER_OK
    RCPT_OK
    RCPT_OK
    DATA_GO
    ACCEPTED
    SENDER_OK
    RCPT_OK
    RCPT_OK
    DATA_GO
    ACCEPTED
    "221 2.0.0 Bye\r\n";

static const char transcript_data1[] =
    "Subject: Test\r\n"
    "\r\n"
    ".leading dot\r\n"
    "..two dots\r\n"
    ".\n"
    "bare\nLF line\r\n"
    "x\n.\r\n"
    "y\n.\nz\r\n"
    "see example.com.\r\n";

static const char transcript_data2[] = "\tsecond message \r\ncaf\xc3\xa9\r\n";

/* Check that a session fed the transcript produced exactly the expected
 * replies and messages. */
static void check_transcript(struct harness *h)
{
    const struct received *m;

    ck_assert_str_eq(reply_text(h), transcript_replies);
    ck_assert(sc_session_closing(h->session));
    ck_assert_uint_eq(h->pending.len, 0);
    ck_assert_uint_eq(h->messages_len, 2);

    m = &h->messages[0];
    ck_assert_str_eq(m->helo, "client.example");
    ck_assert(m->esmtp);
    ck_assert_str_eq(m->mail_from, "sender@example.com");
    ck_assert_str_eq(m->params, "SIZE=300 BODY=8BITMIME SMTPUTF8");
    ck_assert_uint_eq(m->rcpt_to_len, 2);
    ck_assert_str_eq(m->rcpt_to[0], "a@example.com");
    ck_assert_str_eq(m->rcpt_to[1], "b@example.com");
    ck_assert_uint_eq(m->size, sizeof(transcript_data1) - 1);
    ck_assert_mem_eq(m->data, transcript_data1, sizeof(transcript_data1) - 1);

    m = &h->messages[1];
    ck_assert_str_eq(m->helo, "client.example");
    ck_assert(m->esmtp);
    ck_assert_str_eq(m->mail_from, "");
    ck_assert_str_eq(m->params, "");
    ck_assert_uint_eq(m->rcpt_to_len, 2);
    ck_assert_str_eq(m->rcpt_to[0], "\"john doe\"@example.org");
    ck_assert_str_eq(m->rcpt_to[1], "δοκιμή@παράδειγμα.δοκιμή");
    ck_assert_uint_eq(m->size, sizeof(transcript_data2) - 1);
    ck_assert_mem_eq(m->data, transcript_data2, sizeof(transcript_data2) - 1);
}

/* Feed len bytes of text one byte at a time. */
static void feed_bytewise(struct harness *h, const char *text, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        feed(h, text + i, 1);
}

/* Feed len bytes of text in two parts, cut at byte cut. */
static void feed_split(struct harness *h, const char *text, size_t len, size_t cut)
{
    feed(h, text, cut);
    feed(h, text + cut, len - cut);
}

/* Feed len bytes of text in random pieces of 1 to max_piece bytes. rand()
 * is seeded with seed, so a failing iteration reproduces. */
static void feed_random(struct harness *h, const char *text, size_t len, unsigned seed,
                        size_t max_piece)
{
    size_t done = 0, piece;

    srand(seed);
    while (done < len) {
        piece = 1 + (size_t)rand() % max_piece;
        if (piece > len - done)
            piece = len - done;
        feed(h, text + done, piece);
        done += piece;
    }
}

START_TEST(test_session_transcript_whole)
{
    feed(&harness, transcript, sizeof(transcript) - 1);
    check_transcript(&harness);
}
END_TEST

START_TEST(test_session_transcript_bytewise)
{
    feed_bytewise(&harness, transcript, sizeof(transcript) - 1);
    check_transcript(&harness);
}
END_TEST

/* Run once per cut point _i, from 0 to the transcript length. */
START_TEST(test_session_transcript_split)
{
    feed_split(&harness, transcript, sizeof(transcript) - 1, (size_t)_i);
    check_transcript(&harness);
}
END_TEST

/* Run once per seed _i. rand() is seeded with it, so a failing iteration
 * reproduces. */
START_TEST(test_session_transcript_random)
{
    feed_random(&harness, transcript, sizeof(transcript) - 1, (unsigned)_i + 1, 48);
    check_transcript(&harness);
}
END_TEST

/* Lines of 100, 101, 998 and 999 bytes, for the line length rules. */
#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X101 X100 "x"
#define X998 X100 X100 X100 X100 X100 X100 X100 X100 X100 \
    X10 X10 X10 X10 X10 X10 X10 X10 X10 "xxxxxxxx"
#define X999 X998 "x"

/* ------------------------------------------------------------------- BDAT */

#define BDAT_SYNTAX "501 5.5.4 Syntax: BDAT size [LAST]\r\n"
#define SEND_MAIL_FIRST "503 5.5.1 Send MAIL first\r\n"
#define SEND_RCPT_FIRST "503 5.5.1 Send RCPT first: no valid recipients\r\n"
#define TOO_BIG_100 "552 5.3.4 Message too big: the maximum is 100 bytes\r\n"

/* Greet with EHLO, send mail_line and RCPT TO:<b@example.com>. */
static void begin_envelope(const char *mail_line)
{
    begin_ehlo();
    ASSERT_EXCHANGE(mail_line, SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
}

/* Send a string literal, which may hold NUL bytes, and check the replies
 * to it as ASSERT_EXCHANGE does. */
#define ASSERT_EXCHANGE_BYTES(literal, expected)                        \
    do {                                                                \
        feed(&harness, (literal), sizeof(literal) - 1);                 \
        ck_assert_str_eq(reply_text(&harness), (expected));             \
        sc_buf_clear(&harness.replies);                                 \
    } while (0)

/* RFC 3030 section 2: chunk bytes are taken as they are, with no dot
 * transparency, and bare CR and LF are kept. */
START_TEST(test_session_bdat_chunks_concatenated)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 5\r\n..x\r\n", "250 2.0.0 5 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 6 LAST\r\n\n.\r\n\ry", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "..x\r\n\n.\r\n\ry");
    ck_assert(harness.messages[0].chunked);
    ck_assert_str_eq(harness.messages[0].mail_from, "a@example.com");
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "b@example.com");
    ck_assert(!sc_session_in_data(harness.session));
}
END_TEST

/* The reply to a chunk comes once its last byte is in, not before. */
START_TEST(test_session_bdat_reply_after_bytes)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 5\r\nab", "");
    ck_assert(sc_session_in_data(harness.session));
    ASSERT_EXCHANGE("cd", "");
    ASSERT_EXCHANGE("e", "250 2.0.0 5 octets received\r\n");
    ck_assert(sc_session_in_data(harness.session));
    ASSERT_EXCHANGE("BDAT 1 LAST\r\n", "");
    ASSERT_EXCHANGE("f", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "abcdef");
}
END_TEST

START_TEST(test_session_bdat_zero_last)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 0 LAST\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].size, 0);
    ck_assert_str_eq(harness.messages[0].data, "");
    ck_assert(harness.messages[0].chunked);
}
END_TEST

/* Empty chunks are valid anywhere, and each reply counts the octets
 * received so far in the transaction. */
START_TEST(test_session_bdat_zero_chunk)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 0\r\n", "250 2.0.0 0 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 2\r\nab", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 0\r\n", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nc", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "abc");
}
END_TEST

START_TEST(test_session_bdat_any_case)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("bdat 2\r\nab", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("Bdat 1 Last\r\nc", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "abc");
}
END_TEST

/* A rejected BDAT still has its bytes read and discarded (RFC 3030
 * section 3), so the command after them is parsed as a command. The chunk
 * bytes here are command lines that must not run. */
START_TEST(test_session_bdat_before_mail)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n", SEND_MAIL_FIRST OK);
    ck_assert(!sc_session_closing(harness.session));

    begin_ehlo();
    ASSERT_EXCHANGE("BDAT 6\r\nQUIT\r\nNOOP\r\n", SEND_MAIL_FIRST OK);
    ASSERT_EXCHANGE("BDAT 0 LAST\r\nNOOP\r\n", SEND_MAIL_FIRST OK);
    ck_assert(!sc_session_closing(harness.session));
    ck_assert(!sc_session_in_data(harness.session));
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

START_TEST(test_session_bdat_before_rcpt)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("BDAT 6 LAST\r\nRSET\r\nNOOP\r\n", SEND_RCPT_FIRST OK);
    ck_assert_uint_eq(harness.messages_len, 0);

    /* The sender is still there. */
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("BDAT 2 LAST\r\nhi", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "a@example.com");
    ASSERT_DATA(&harness.messages[0], "hi");
}
END_TEST

/* RFC 3030 section 2: DATA and BDAT cannot be mixed in one transaction. */
START_TEST(test_session_bdat_then_data)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 2\r\nab", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("DATA\r\n", "503 5.5.1 DATA cannot follow BDAT in one transaction\r\n");
    ck_assert(sc_session_in_data(harness.session));
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nc", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "abc");
}
END_TEST

START_TEST(test_session_bdat_then_rcpt)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 2\r\nab", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n",
                    "503 5.5.1 RCPT cannot follow BDAT in one transaction\r\n");
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nc", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 1);
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "b@example.com");
}
END_TEST

/* RFC 3030 section 3: a BINARYMIME body can only be sent with BDAT. */
START_TEST(test_session_binarymime_needs_bdat)
{
    begin_envelope("MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n");
    ASSERT_EXCHANGE("DATA\r\n", "503 5.5.1 BODY=BINARYMIME needs BDAT, not DATA\r\n");
    ck_assert(!sc_session_in_data(harness.session));
    ASSERT_EXCHANGE_BYTES("BDAT 3 LAST\r\n\0\n\r", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].params, "BODY=BINARYMIME");
    ASSERT_DATA(&harness.messages[0], "\0\n\r");
}
END_TEST

/* A BDAT line without a readable chunk size gets its reply at once, and
 * the next line is a command again. With a readable size but bad syntax
 * after it, the chunk follows and is discarded before the reply. */
START_TEST(test_session_bdat_bad_syntax)
{
    static const char *const bad[] = {
        "BDAT\r\n",
        "BDAT x\r\n",
        "BDAT -1\r\n",
        "BDAT +1\r\n",
        "BDAT 5LAST\r\n",
        /* A readable size means the chunk follows, and it is discarded. */
        "BDAT 5 NOTLAST\r\n12345",
        "BDAT 1 LAST LAST\r\nx",
        "BDAT 1 LASTX\r\nx",
        "BDAT 3 LAST \xff\r\nNOP",
    };
    size_t i;

    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_EXCHANGE(bad[i], BDAT_SYNTAX);
    ASSERT_EXCHANGE("NOOP\r\n", OK);
    ck_assert(!sc_session_in_data(harness.session));
    /* The first rejected BDAT failed the transaction (RFC 3030 section 3). */
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nx", SEND_MAIL_FIRST);
    ck_assert_uint_eq(harness.messages_len, 0);

    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nx", ACCEPTED);
    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "x");
}

/* A chunk rejected between accepted ones fails the transaction, so the
 * chunks after it are discarded with 503 and no message lacks its bytes. */
START_TEST(test_session_bdat_rejected_chunk_fails_transaction)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 4\r\nabc\nBDAT 4 MORE\r\ndef\nBDAT 4 LAST\r\nghi\n",
                    "250 2.0.0 4 octets received\r\n" BDAT_SYNTAX SEND_MAIL_FIRST);
    ASSERT_EXCHANGE("NOOP\r\n", OK);
    ck_assert_uint_eq(harness.messages_len, 0);

    /* A chunk rejected before any was taken fails the transaction too. */
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 4 MORE\r\ndef\nBDAT 4 LAST\r\nghi\n", BDAT_SYNTAX SEND_MAIL_FIRST);
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST
END_TEST

/* RFC 3030 section 4: chunk-size is 1*DIGIT, so leading zeros do not
 * count against the size, and the chunk is still taken as data. */
START_TEST(test_session_bdat_size_leading_zeros)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 000000000000000000006 LAST\r\nRSET\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "RSET\r\n");
}
END_TEST

/* A chunk size past 64 bits cannot be sent in full, so everything after
 * the BDAT line is chunk data, and no byte of it runs as a command. */
START_TEST(test_session_bdat_size_past_64_bits)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 99999999999999999999 LAST\r\nRSET\r\nNOOP\r\n", "");
    ASSERT_EXCHANGE("MAIL FROM:<c@example.com>\r\n", "");

    ck_assert(sc_session_in_data(harness.session));
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

/* The chunk that passes max_size gets 552 5.3.4 and ends the transaction,
 * so a BDAT pipelined after it gets 503 and its bytes are discarded. */
START_TEST(test_session_bdat_too_big)
{
    struct sc_limits limits = default_limits;
    struct sc_buf input = {0};
    char bytes[100];

    limits.max_size = 100;
    restart(&limits);
    begin_envelope("MAIL FROM:<a@example.com>\r\n");

    memset(bytes, 'x', sizeof(bytes));
    sc_buf_append_str(&input, "BDAT 60\r\n");
    sc_buf_append(&input, bytes, 60);
    sc_buf_append_str(&input, "BDAT 60\r\n");
    sc_buf_append(&input, bytes, 60);
    sc_buf_append_str(&input, "BDAT 10 LAST\r\nQUIT\r\nQUIT");
    sc_buf_append_str(&input, "NOOP\r\n");
    feed(&harness, input.data, input.len);
    sc_buf_free(&input);

    ck_assert_str_eq(reply_text(&harness),
                     "250 2.0.0 60 octets received\r\n" TOO_BIG_100 SEND_MAIL_FIRST OK);
    sc_buf_clear(&harness.replies);
    ck_assert_uint_eq(harness.messages_len, 0);
    ck_assert(!sc_session_closing(harness.session));
    ck_assert(!sc_session_in_data(harness.session));

    /* A message of exactly max_size still fits. */
    ASSERT_EXCHANGE("MAIL FROM:<c@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<d@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("BDAT 100 LAST\r\n", "");
    feed(&harness, bytes, 100);
    ck_assert_str_eq(reply_text(&harness), ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].mail_from, "c@example.com");
    ck_assert_uint_eq(harness.messages[0].size, 100);
}
END_TEST

START_TEST(test_session_bdat_too_big_last)
{
    struct sc_limits limits = default_limits;
    char bytes[101];

    limits.max_size = 100;
    restart(&limits);
    begin_envelope("MAIL FROM:<a@example.com>\r\n");

    memset(bytes, 'y', sizeof(bytes));
    ASSERT_EXCHANGE("BDAT 101 LAST\r\n", "");
    feed(&harness, bytes, sizeof(bytes));
    ck_assert_str_eq(reply_text(&harness), TOO_BIG_100);
    sc_buf_clear(&harness.replies);

    ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n", SEND_MAIL_FIRST);
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

/* A line over max_data_line in a chunk that is not the last also ends the
 * transaction at once. */
START_TEST(test_session_bdat_line_too_long)
{
    struct sc_limits limits = default_limits;

    limits.max_data_line = 10;
    restart(&limits);
    begin_envelope("MAIL FROM:<a@example.com>\r\n");

    ASSERT_EXCHANGE("BDAT 12\r\n0123456789\r\n", "250 2.0.0 12 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 12\r\n0123456789A\n",
                    "552 5.3.4 Message has a line longer than the maximum of 10 bytes\r\n");
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nx", SEND_MAIL_FIRST);
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

START_TEST(test_session_bdat_rset_between_chunks)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 2\r\nab", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("RSET\r\n", OK);
    ck_assert(!sc_session_in_data(harness.session));
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nc", SEND_MAIL_FIRST);
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

START_TEST(test_session_free_in_chunk)
{
    begin_envelope("MAIL FROM:<a@example.com>\r\n");
    ASSERT_EXCHANGE("BDAT 2\r\nab", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 100 LAST\r\npartial", "");

    sc_session_free(harness.session);
    harness.session = NULL;

    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

/* A client that sends a message with BDAT gets the same message as one
 * that sends it dot-stuffed with DATA. */
START_TEST(test_session_bdat_same_as_data)
{
    static const char data[] =
        "Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nmid.\r\n\n.\nend\r\n";
    static const char wire[] =
        "Subject: dots\r\n\r\n..leading\r\n...two\r\n..\r\nmid.\r\n\n.\nend\r\n.\r\n";
    char line[64], expected[128];
    const struct received *by_data, *by_bdat;
    size_t third = (sizeof(data) - 1) / 3;

    begin_envelope("MAIL FROM:<a@example.com> BODY=8BITMIME\r\n");
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE(wire, ACCEPTED);

    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> BODY=8BITMIME\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    snprintf(line, sizeof(line), "BDAT %zu LAST\r\n", sizeof(data) - 1);
    send_text(&harness, line);
    feed(&harness, data, sizeof(data) - 1);
    ck_assert_str_eq(reply_text(&harness), ACCEPTED);
    sc_buf_clear(&harness.replies);

    /* The same body again in three chunks. */
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> BODY=8BITMIME\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    snprintf(line, sizeof(line), "BDAT %zu\r\n", third);
    send_text(&harness, line);
    feed(&harness, data, third);
    send_text(&harness, line);
    feed(&harness, data + third, third);
    snprintf(line, sizeof(line), "BDAT %zu LAST\r\n", sizeof(data) - 1 - 2 * third);
    send_text(&harness, line);
    feed(&harness, data + 2 * third, sizeof(data) - 1 - 2 * third);
    snprintf(expected, sizeof(expected), "250 2.0.0 %zu octets received\r\n"
             "250 2.0.0 %zu octets received\r\n" ACCEPTED, third, 2 * third);
    ck_assert_str_eq(reply_text(&harness), expected);
    sc_buf_clear(&harness.replies);

    ck_assert_uint_eq(harness.messages_len, 3);
    by_data = &harness.messages[0];
    ck_assert(!by_data->chunked);
    ASSERT_DATA(by_data, "Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nmid.\r\n\n.\nend\r\n");
    for (by_bdat = &harness.messages[1]; by_bdat <= &harness.messages[2]; by_bdat++) {
        ck_assert(by_bdat->chunked);
        ck_assert_uint_eq(by_bdat->size, by_data->size);
        ck_assert_mem_eq(by_bdat->data, by_data->data, by_data->size);
        /* Only DATA has an end marker that a "." line could be taken for. */
        ck_assert_uint_eq(by_bdat->warnings, SC_WARN_BARE_LF);
        ck_assert_str_eq(by_bdat->params, by_data->params);
        ck_assert_str_eq(by_bdat->rcpt_params, by_data->rcpt_params);
    }
    ck_assert_uint_eq(by_data->warnings, SC_WARN_BARE_LF | SC_WARN_DOT_LINE_BARE_LF);
}
END_TEST

/* A chunk of 100 KiB arriving in 1 KiB reads is consumed as it arrives,
 * never buffered as input. */
START_TEST(test_session_bdat_large_chunk)
{
    struct sc_limits limits = default_limits;
    enum { PIECE = 1024, PIECES = 100 };
    char piece[PIECE];
    size_t i, j;

    limits.max_size = 200000;
    restart(&limits);
    begin_envelope("MAIL FROM:<a@example.com>\r\n");

    ASSERT_EXCHANGE("BDAT 102400 LAST\r\n", "");
    for (i = 0; i < PIECES; i++) {
        for (j = 0; j < PIECE; j++)
            piece[j] = (char)('a' + (i * PIECE + j) % 26);
        feed(&harness, piece, PIECE);
        ck_assert_uint_eq(harness.pending.len, 0);
        if (i + 1 < PIECES)
            ck_assert_uint_eq(harness.replies.len, 0);
    }
    ck_assert_str_eq(reply_text(&harness), ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].size, PIECE * PIECES);
    for (i = 0; i < PIECE * PIECES; i++)
        ck_assert_int_eq(harness.messages[0].data[i], (char)('a' + i % 26));
}
END_TEST

/* A BDAT transaction pipelined with the commands around it. The chunk
 * bytes look like commands and end markers, which must not run. */
static const char bdat_transcript[] =
    "EHLO client.example\r\n"
    "MAIL FROM:<sender@example.com> BODY=BINARYMIME RET=HDRS ENVID=QQ314159\r\n"
    "RCPT TO:<a@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@example.com\r\n"
    "RCPT TO:<b@example.com>\r\n"
    "BDAT 12\r\n"
    "Subject: T\r\n"
    "BDAT 11\r\n"
    "\r\n.\r\nQUIT\r\n"
    "BDAT 0\r\n"
    "BDAT 7 LAST\r\n"
    "\0\r\rEND\n"
    "NOOP\r\n"
    "MAIL FROM:<>\r\n"
    "RCPT TO:<c@example.com> NOTIFY=NEVER\r\n"
    "DATA\r\n"
    "..x\r\n"
    ".\r\n"
    "BDAT 4 LAST\r\n"
    "QUIT"
    "BDAT five\r\n"
    "MAIL FROM:<d@example.com>\r\n"
    "BDAT 6\r\n"
    "RSET\r\n"
    "RCPT TO:<e@example.com>\r\n"
    "BDAT 2 LAST\r\n"
    "hi"
    "QUIT\r\n"
    "NOOP\r\n";

static const char bdat_transcript_replies[] =
    "220 mx.test ESMTP smtpcatch\r\n"
    EHLO_REPLY
    SENDER_OK
    RCPT_OK
    RCPT_OK
    "250 2.0.0 12 octets received\r\n"
    "250 2.0.0 23 octets received\r\n"
    "250 2.0.0 23 octets received\r\n"
    ACCEPTED
    OK
    SENDER_OK
    RCPT_OK
    DATA_GO
    ACCEPTED
    SEND_MAIL_FIRST
    BDAT_SYNTAX
    SENDER_OK
    SEND_RCPT_FIRST
    RCPT_OK
    ACCEPTED
    "221 2.0.0 Bye\r\n";

static const char bdat_transcript_data1[] = "Subject: T\r\n\r\n.\r\nQUIT\r\n\0\r\rEND\n";

/* Check that a session fed the BDAT transcript produced exactly the
 * expected replies and messages. */
static void check_bdat_transcript(struct harness *h)
{
    const struct received *m;

    ck_assert_str_eq(reply_text(h), bdat_transcript_replies);
    ck_assert(sc_session_closing(h->session));
    ck_assert_uint_eq(h->pending.len, 0);
    ck_assert_uint_eq(h->messages_len, 3);

    m = &h->messages[0];
    ck_assert_str_eq(m->mail_from, "sender@example.com");
    ck_assert_str_eq(m->params, "BODY=BINARYMIME RET=HDRS ENVID=QQ314159");
    ck_assert_uint_eq(m->rcpt_to_len, 2);
    ck_assert_str_eq(m->rcpt_to[0], "a@example.com");
    ck_assert_str_eq(m->rcpt_to[1], "b@example.com");
    ck_assert_str_eq(m->rcpt_params,
                     "[NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@example.com] []");
    ck_assert(m->chunked);
    ck_assert_uint_eq(m->warnings, 0);
    ck_assert_uint_eq(m->size, sizeof(bdat_transcript_data1) - 1);
    ck_assert_mem_eq(m->data, bdat_transcript_data1, sizeof(bdat_transcript_data1) - 1);

    m = &h->messages[1];
    ck_assert_str_eq(m->mail_from, "");
    ck_assert_str_eq(m->params, "");
    ck_assert_str_eq(m->rcpt_params, "[NOTIFY=NEVER]");
    ck_assert(!m->chunked);
    ASSERT_DATA(m, ".x\r\n");

    m = &h->messages[2];
    ck_assert_str_eq(m->mail_from, "d@example.com");
    ck_assert_uint_eq(m->rcpt_to_len, 1);
    ck_assert_str_eq(m->rcpt_to[0], "e@example.com");
    ck_assert_str_eq(m->rcpt_params, "[]");
    ck_assert(m->chunked);
    ASSERT_DATA(m, "hi");
}

START_TEST(test_session_bdat_transcript_whole)
{
    feed(&harness, bdat_transcript, sizeof(bdat_transcript) - 1);
    check_bdat_transcript(&harness);
}
END_TEST

START_TEST(test_session_bdat_transcript_bytewise)
{
    feed_bytewise(&harness, bdat_transcript, sizeof(bdat_transcript) - 1);
    check_bdat_transcript(&harness);
}
END_TEST

/* Run once per cut point _i, from 0 to the transcript length. */
START_TEST(test_session_bdat_transcript_split)
{
    feed_split(&harness, bdat_transcript, sizeof(bdat_transcript) - 1, (size_t)_i);
    check_bdat_transcript(&harness);
}
END_TEST

/* Run once per seed _i, as test_session_transcript_random does. */
START_TEST(test_session_bdat_transcript_random)
{
    feed_random(&harness, bdat_transcript, sizeof(bdat_transcript) - 1, (unsigned)_i + 1, 24);
    check_bdat_transcript(&harness);
}
END_TEST

/* Every reply to a BDAT or DSN step after EHLO has an enhanced status code. */
static const struct step bdat_reply_steps[] = {
    {"EHLO client.test\r\n", true, SC_ACCEPT},
    {"BDAT 3\r\nabc", false, SC_ACCEPT},
    {"BDAT\r\n", false, SC_ACCEPT},
    {"BDAT x LAST\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> RET=FULL ENVID=x+2By\r\n", false, SC_ACCEPT},
    {"BDAT 1 LAST\r\nz", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com> NOTIFY=NEVER,SUCCESS\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com> NOTIFY=MAYBE\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com> ORCPT=nosemicolon\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com> XDSN=1\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b@example.com\r\n", false,
     SC_ACCEPT},
    {"RCPT TO:<c@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<d@example.com>\r\n", false, SC_ACCEPT},
    {"BDAT 10\r\n0123456789", false, SC_ACCEPT},
    {"BDAT 0\r\n", false, SC_ACCEPT},
    {"DATA\r\n", false, SC_ACCEPT},
    {"RCPT TO:<e@example.com>\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT},
    {"BDAT 5 NOTLAST\r\nabcde", false, SC_ACCEPT},
    {"BDAT 2 LAST\r\n\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> RET=NONE\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> ENVID=a+zz\r\n", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com>\r\n", false, SC_ACCEPT},
    {"DATA\r\n", false, SC_ACCEPT},
    {"BDAT 144\r\n" BIG_DATA BIG_DATA, false, SC_ACCEPT},
    {"BDAT 3 LAST\r\nxyz", false, SC_ACCEPT},
    {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com>\r\n", false, SC_ACCEPT},
    {"BDAT 4 LAST\r\nnot\n", false, SC_TEMPFAIL},
    {"MAIL FROM:<a@example.com>\r\n", false, SC_ACCEPT},
    {"RCPT TO:<b@example.com>\r\n", false, SC_ACCEPT},
    {"BDAT 2\r\nab", false, SC_ACCEPT},
    {"RSET\r\n", false, SC_ACCEPT},
    {"QUIT\r\n", false, SC_ACCEPT},
};

START_TEST(test_session_bdat_enhanced_codes)
{
    struct sc_limits limits = {.max_size = 100, .max_line = 128, .max_rcpts = 2};
    size_t i;

    restart(&limits);
    sc_buf_clear(&harness.replies);
    for (i = 0; i < sizeof(bdat_reply_steps) / sizeof(bdat_reply_steps[0]); i++) {
        harness.verdict = bdat_reply_steps[i].verdict;
        send_text(&harness, bdat_reply_steps[i].input);
        ck_assert_msg(check_reply_codes(&bdat_reply_steps[i]) > 0, "no reply to \"%s\"",
                      bdat_reply_steps[i].input);
    }
    /* The BDAT with NOTLAST failed its transaction, so one message only. */
    ck_assert(sc_session_closing(harness.session));
    ck_assert_uint_eq(harness.messages_len, 1);
}
END_TEST

/* -------------------------------------------------------------------- DSN */

#define NOTIFY_INVALID \
    "501 5.5.4 Invalid NOTIFY value: expected NEVER, or a list of SUCCESS, FAILURE, DELAY\r\n"
#define ORCPT_INVALID \
    "501 5.5.4 Invalid ORCPT value: expected addr-type;address, as in rfc822;a@example.com\r\n"
#define RET_INVALID "501 5.5.4 Invalid RET value: expected FULL or HDRS\r\n"
#define ENVID_INVALID "501 5.5.4 Invalid ENVID value: expected xtext of at most 100 characters\r\n"

/* Send DATA with a one-line message and check that it is accepted. */
static void send_short_data(void)
{
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);
}

/* RFC 3461 section 4: RET and ENVID are kept as the client gave them. */
START_TEST(test_session_dsn_mail_params)
{
    begin_envelope("MAIL FROM:<a@example.com> RET=FULL ENVID=QQ314159\r\n");
    send_short_data();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> ret=hdrs envid=a+2Bb+3Dc\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    send_short_data();

    ck_assert_uint_eq(harness.messages_len, 2);
    ck_assert_str_eq(harness.messages[0].params, "RET=FULL ENVID=QQ314159");
    ck_assert_str_eq(harness.messages[1].params, "RET=hdrs ENVID=a+2Bb+3Dc");
}
END_TEST

START_TEST(test_session_dsn_mail_params_invalid)
{
    char line[160];

    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> RET=ALL\r\n", RET_INVALID);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> RET\r\n", RET_INVALID);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> ENVID\r\n", ENVID_INVALID);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> ENVID=a+zz\r\n", ENVID_INVALID);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> ENVID=a+2b\r\n", ENVID_INVALID);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> ENVID=a+2\r\n", ENVID_INVALID);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> ENVID=caf\xc3\xa9\r\n", ENVID_INVALID);

    /* RFC 3461 section 4.4: an ENVID has at most 100 characters. */
    snprintf(line, sizeof(line), "MAIL FROM:<a@example.com> ENVID=%s\r\n", X101);
    ASSERT_EXCHANGE(line, ENVID_INVALID);
    snprintf(line, sizeof(line), "MAIL FROM:<a@example.com> ENVID=%s\r\n", X100);
    ASSERT_EXCHANGE(line, SENDER_OK);
}
END_TEST

/* RFC 3461 sections 4.1 and 4.2: NOTIFY and ORCPT are kept per recipient,
 * and a recipient without them has none. */
START_TEST(test_session_dsn_rcpt_params)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=NEVER\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<c@example.com> NOTIFY=SUCCESS,FAILURE,DELAY\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<d@example.com> ORCPT=rfc822;a@example.com\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<e@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<f@example.com> notify=delay orcpt=rfc822;f+40x@example.com\r\n",
                    RCPT_OK);
    send_short_data();

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 5);
    ck_assert_str_eq(harness.messages[0].rcpt_to[3], "e@example.com");
    ck_assert_str_eq(harness.messages[0].rcpt_params,
                     "[NOTIFY=NEVER] [NOTIFY=SUCCESS,FAILURE,DELAY] "
                     "[ORCPT=rfc822;a@example.com] [] "
                     "[NOTIFY=delay ORCPT=rfc822;f+40x@example.com]");
}
END_TEST

/* Parameters on a later recipient only: the earlier ones still get an
 * empty set each. */
START_TEST(test_session_dsn_rcpt_params_late)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<d@example.com> NOTIFY=FAILURE\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<e@example.com>\r\n", RCPT_OK);
    send_short_data();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n", RCPT_OK);
    send_short_data();

    ck_assert_uint_eq(harness.messages_len, 2);
    ck_assert_str_eq(harness.messages[0].rcpt_params, "[] [] [NOTIFY=FAILURE] []");
    ck_assert_str_eq(harness.messages[1].rcpt_params, "[] []");
}
END_TEST

START_TEST(test_session_dsn_rcpt_params_invalid)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=NEVER,SUCCESS\r\n", NOTIFY_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=SUCCESS,NEVER\r\n", NOTIFY_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=MAYBE\r\n", NOTIFY_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=SUCCESS,\r\n", NOTIFY_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=,SUCCESS\r\n", NOTIFY_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY\r\n", NOTIFY_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> ORCPT=nosemicolon\r\n", ORCPT_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> ORCPT=;a@example.com\r\n", ORCPT_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> ORCPT=rfc822;\r\n", ORCPT_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> ORCPT=rfc_822;a@example.com\r\n", ORCPT_INVALID);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> ORCPT\r\n", ORCPT_INVALID);
    ASSERT_EXCHANGE("DATA\r\n", "503 5.5.1 Send RCPT first: no valid recipients\r\n");

    ASSERT_EXCHANGE("RCPT TO:<c@example.com> NOTIFY=FAILURE\r\n", RCPT_OK);
    send_short_data();

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].rcpt_to_len, 1);
    ck_assert_str_eq(harness.messages[0].rcpt_params, "[NOTIFY=FAILURE]");
}
END_TEST

START_TEST(test_session_dsn_rcpt_unknown_param)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> FOO\r\n",
                    "555 5.5.4 Unsupported RCPT parameter FOO\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=NEVER XDSN=1\r\n",
                    "555 5.5.4 Unsupported RCPT parameter XDSN\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> RET=FULL\r\n",
                    "555 5.5.4 Unsupported RCPT parameter RET\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=NEVER NOTIFY=DELAY\r\n",
                    "501 5.5.4 Parameter given twice\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> NOTIFY=NEVER\r\n",
                    "503 5.5.1 Sender already given; send RSET to start over\r\n");
    ASSERT_EXCHANGE("RSET\r\n", OK);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> NOTIFY=NEVER\r\n",
                    "555 5.5.4 Unsupported MAIL parameter NOTIFY\r\n");
}
END_TEST

/* Service extensions exist only after EHLO (RFC 5321 section 4.1.1.11), so
 * RCPT parameters after HELO get 555, as MAIL parameters do. */
START_TEST(test_session_dsn_rcpt_params_after_helo)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("HELO x\r\n", "250 mx.test\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> NOTIFY=NEVER\r\n",
                    "555 5.5.4 RCPT parameter NOTIFY needs EHLO, but the session began with "
                    "HELO\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com> ORCPT=rfc822;b@example.com\r\n",
                    "555 5.5.4 RCPT parameter ORCPT needs EHLO, but the session began with "
                    "HELO\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    send_short_data();

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].rcpt_params, "[]");
}
END_TEST

/* --------------------------------------------------------------- warnings */

/* Send one message by DATA: mail_line, RCPT TO rcpt_line, then wire,
 * which is dot-stuffed and ends with the end marker. Returns its warnings. */
static unsigned data_warnings(const char *mail_line, const char *rcpt_line, const char *wire,
                              size_t wire_len)
{
    size_t before = harness.messages_len;

    ASSERT_EXCHANGE(mail_line, SENDER_OK);
    ASSERT_EXCHANGE(rcpt_line, RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    feed(&harness, wire, wire_len);
    ck_assert_str_eq(reply_text(&harness), ACCEPTED);
    sc_buf_clear(&harness.replies);
    ck_assert_uint_eq(harness.messages_len, before + 1);
    return harness.messages[before].warnings;
}

/* The same as data_warnings, with BDAT ... LAST carrying data. */
static unsigned bdat_warnings(const char *mail_line, const char *data, size_t len)
{
    size_t before = harness.messages_len;
    char line[64];

    ASSERT_EXCHANGE(mail_line, SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    snprintf(line, sizeof(line), "BDAT %zu LAST\r\n", len);
    send_text(&harness, line);
    feed(&harness, data, len);
    ck_assert_str_eq(reply_text(&harness), ACCEPTED);
    sc_buf_clear(&harness.replies);
    ck_assert_uint_eq(harness.messages_len, before + 1);
    return harness.messages[before].warnings;
}

#define MAIL_PLAIN "MAIL FROM:<a@example.com>\r\n"
#define MAIL_BINARY "MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n"
#define RCPT_PLAIN "RCPT TO:<b@example.com>\r\n"

/* The warnings of a message sent by DATA, wire given as a string literal. */
#define DATA_WARNINGS(wire) data_warnings(MAIL_PLAIN, RCPT_PLAIN, (wire), sizeof(wire) - 1)

START_TEST(test_session_warn_clean)
{
    begin_ehlo();
    ck_assert_uint_eq(DATA_WARNINGS("Subject: Hi\r\n\r\nHello\r\n.\r\n"), 0);
    ck_assert_uint_eq(bdat_warnings(MAIL_PLAIN, "Hello\r\n", 7), 0);
}
END_TEST

START_TEST(test_session_warn_bare_lf)
{
    begin_ehlo();
    ck_assert_uint_eq(DATA_WARNINGS("a\nb\r\n.\r\n"), SC_WARN_BARE_LF);
}
END_TEST

START_TEST(test_session_warn_bare_cr)
{
    begin_ehlo();
    ck_assert_uint_eq(DATA_WARNINGS("a\rb\r\n.\r\n"), SC_WARN_BARE_CR);
}
END_TEST

/* RFC 5322 section 2.1.1: 998 bytes before the CRLF is the longest line. */
START_TEST(test_session_warn_line_over_998)
{
    begin_ehlo();
    ck_assert_uint_eq(DATA_WARNINGS(X998 "\r\n.\r\n"), 0);
    ck_assert_uint_eq(DATA_WARNINGS(X999 "\r\n.\r\n"), SC_WARN_LINE_OVER_998);
    ck_assert_uint_eq(bdat_warnings(MAIL_PLAIN, X998, 998), 0);
    ck_assert_uint_eq(bdat_warnings(MAIL_PLAIN, X999, 999), SC_WARN_LINE_OVER_998);
}
END_TEST

START_TEST(test_session_warn_nul_byte)
{
    begin_ehlo();
    ck_assert_uint_eq(DATA_WARNINGS("a\0b\r\n.\r\n"), SC_WARN_NUL_BYTE);
}
END_TEST

#define WIRE_8BIT "caf\xc3\xa9\r\n.\r\n"

/* RFC 6152: 8-bit data needs BODY=8BITMIME (or BINARYMIME, RFC 3030). */
START_TEST(test_session_warn_8bit)
{
    begin_ehlo();
    ck_assert_uint_eq(DATA_WARNINGS(WIRE_8BIT), SC_WARN_8BIT_WITHOUT_8BITMIME);
    ck_assert_uint_eq(data_warnings("MAIL FROM:<a@example.com> BODY=7BIT\r\n", RCPT_PLAIN,
                                    WIRE_8BIT, sizeof(WIRE_8BIT) - 1),
                      SC_WARN_8BIT_WITHOUT_8BITMIME);
    ck_assert_uint_eq(data_warnings("MAIL FROM:<a@example.com> BODY=8BITMIME\r\n", RCPT_PLAIN,
                                    WIRE_8BIT, sizeof(WIRE_8BIT) - 1),
                      0);
    ck_assert_uint_eq(bdat_warnings(MAIL_BINARY, "caf\xc3\xa9\r\n", 7), 0);
    ck_assert_uint_eq(bdat_warnings(MAIL_PLAIN, "caf\xc3\xa9\r\n", 7),
                      SC_WARN_8BIT_WITHOUT_8BITMIME);
}
END_TEST

/* The ascii flag lets output skip the UTF-8 check, so it must be false
 * whenever one byte is above 0x7F, by DATA or by BDAT. */
START_TEST(test_session_data_ascii_flag)
{
    begin_ehlo();
    DATA_WARNINGS("Subject: Hi\r\n\r\nHello\r\n.\r\n");
    DATA_WARNINGS(WIRE_8BIT);
    bdat_warnings(MAIL_PLAIN, "Hello\r\n", 7);
    bdat_warnings(MAIL_PLAIN, "caf\xc3\xa9\r\n", 7);

    ck_assert_uint_eq(harness.messages_len, 4);
    ck_assert(harness.messages[0].ascii);
    ck_assert(!harness.messages[1].ascii);
    ck_assert(harness.messages[2].ascii);
    ck_assert(!harness.messages[3].ascii);
}
END_TEST

/* RFC 6531: a non-ASCII sender or recipient needs the SMTPUTF8 parameter. */
START_TEST(test_session_warn_utf8_address)
{
    begin_ehlo();
    ck_assert_uint_eq(data_warnings("MAIL FROM:<用户@例子.广告>\r\n", RCPT_PLAIN,
                                    "x\r\n.\r\n", 6),
                      SC_WARN_UTF8_WITHOUT_SMTPUTF8);
    ck_assert_uint_eq(data_warnings(MAIL_PLAIN, "RCPT TO:<δοκιμή@example.com>\r\n",
                                    "x\r\n.\r\n", 6),
                      SC_WARN_UTF8_WITHOUT_SMTPUTF8);
    ck_assert_uint_eq(data_warnings("MAIL FROM:<用户@例子.广告> SMTPUTF8\r\n",
                                    "RCPT TO:<δοκιμή@example.com>\r\n", "x\r\n.\r\n", 6),
                      0);
    ck_assert_uint_eq(data_warnings("MAIL FROM:<a@example.com> SMTPUTF8\r\n", RCPT_PLAIN,
                                    "x\r\n.\r\n", 6),
                      0);
}
END_TEST

/* Each of the three "." lines next to a bare LF is content in DATA and is
 * reported. */
START_TEST(test_session_warn_dot_line_bare_lf)
{
    unsigned both = SC_WARN_DOT_LINE_BARE_LF | SC_WARN_BARE_LF;

    begin_ehlo();
    ck_assert_uint_eq(DATA_WARNINGS("x\r\n.\nz\r\n.\r\n"), both);
    ck_assert_uint_eq(DATA_WARNINGS("x\n.\nz\r\n.\r\n"), both);
    ck_assert_uint_eq(DATA_WARNINGS("x\n.\r\nz\r\n.\r\n"), both);
    ck_assert_uint_eq(harness.messages_len, 3);
    ASSERT_DATA(&harness.messages[0], "x\r\n.\nz\r\n");
    ASSERT_DATA(&harness.messages[1], "x\n.\nz\r\n");
    ASSERT_DATA(&harness.messages[2], "x\n.\r\nz\r\n");
}
END_TEST

/* Bare CR and LF, NUL and long lines are content in a BINARYMIME body. */
START_TEST(test_session_warn_binarymime)
{
    static const char data[] = "\0a\nb\rc\n.\n" X999 "\r";

    begin_ehlo();
    ck_assert_uint_eq(bdat_warnings(MAIL_BINARY, data, sizeof(data) - 1), 0);
    /* BDAT data has no end marker, so its "." lines draw no warning. */
    ck_assert_uint_eq(bdat_warnings(MAIL_PLAIN, data, sizeof(data) - 1),
                      SC_WARN_NUL_BYTE | SC_WARN_BARE_LF | SC_WARN_BARE_CR |
                      SC_WARN_LINE_OVER_998);
}
END_TEST

/* A CR that ends one chunk and an LF that starts the next are a CRLF. A CR
 * at the very end of the body is bare. */
START_TEST(test_session_warn_bdat_cr_chunks)
{
    begin_envelope(MAIL_PLAIN);
    ASSERT_EXCHANGE("BDAT 2\r\na\r", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 3 LAST\r\n\nb\r", ACCEPTED);
    ASSERT_EXCHANGE(MAIL_PLAIN, SENDER_OK);
    ASSERT_EXCHANGE(RCPT_PLAIN, RCPT_OK);
    ASSERT_EXCHANGE("BDAT 2\r\na\r", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 2 LAST\r\n\nb", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 2);
    ck_assert_uint_eq(harness.messages[0].warnings, SC_WARN_BARE_CR);
    ck_assert_uint_eq(harness.messages[1].warnings, 0);
}
END_TEST

/* Warnings belong to one message and do not carry over to the next. */
START_TEST(test_session_warn_per_message)
{
    begin_ehlo();
    ck_assert_uint_eq(DATA_WARNINGS("\0\n\rx\r\n.\r\n"),
                      SC_WARN_NUL_BYTE | SC_WARN_BARE_LF | SC_WARN_BARE_CR);
    ck_assert_uint_eq(DATA_WARNINGS("clean\r\n.\r\n"), 0);
}
END_TEST

/* ----------------------------------------------------------------- strict */

#define STRICT_BARE_LF_LINE "500 5.5.2 Line ends in a bare LF; RFC 5321 requires CRLF\r\n"
#define STRICT_REJECTED \
    "550 5.6.0 Message has a bare LF or bare CR; RFC 5321 requires CRLF line endings\r\n"

static void restart_strict(void)
{
    struct sc_limits limits = default_limits;

    limits.strict = true;
    restart(&limits);
}

/* RFC 5321 section 2.3.8: with strict on, a command ending in a bare LF is
 * rejected without being run. */
START_TEST(test_session_strict_bare_lf_command)
{
    restart_strict();
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("EHLO client.test\n", STRICT_BARE_LF_LINE);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", "503 5.5.1 Send HELO or EHLO first\r\n");
    ASSERT_EXCHANGE("EHLO client.test\r\n", EHLO_REPLY);
    ASSERT_EXCHANGE("QUIT\n", STRICT_BARE_LF_LINE);
    ck_assert(!sc_session_closing(harness.session));
    ASSERT_EXCHANGE("\n", STRICT_BARE_LF_LINE);
    ASSERT_EXCHANGE("NOOP\r", "");
    ASSERT_EXCHANGE("\n", OK);
    ASSERT_EXCHANGE("QUIT\r\n", "221 2.0.0 Bye\r\n");
}
END_TEST

START_TEST(test_session_strict_message_bare_lf)
{
    restart_strict();
    begin_data();
    ASSERT_EXCHANGE("a\nb\r\n.\r\n", STRICT_REJECTED);
    ck_assert_uint_eq(harness.messages_len, 0);
    ck_assert(!sc_session_closing(harness.session));

    /* The transaction is over, and the next one is accepted when clean. */
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", SEND_MAIL_FIRST);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    send_short_data();
    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "x\r\n");
}
END_TEST

START_TEST(test_session_strict_message_bare_cr)
{
    restart_strict();
    begin_data();
    ASSERT_EXCHANGE("a\rb\r\n.\r\n", STRICT_REJECTED);
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

START_TEST(test_session_strict_dot_line)
{
    restart_strict();
    begin_data();
    ASSERT_EXCHANGE("a\r\n.\nb\r\n.\r\n", STRICT_REJECTED);
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

START_TEST(test_session_strict_clean_accepted)
{
    restart_strict();
    begin_data();
    ASSERT_EXCHANGE_BYTES("Subject: x\r\n\r\n..dot\r\n\xc3\xa9\0\r\n.\r\n", ACCEPTED);

    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "Subject: x\r\n\r\n.dot\r\n\xc3\xa9\0\r\n");
}
END_TEST

/* Bare CR and LF are content in BINARYMIME, so strict accepts them there,
 * but not in a BDAT body that is not BINARYMIME. */
START_TEST(test_session_strict_bdat)
{
    restart_strict();
    begin_envelope(MAIL_BINARY);
    ASSERT_EXCHANGE("BDAT 4 LAST\r\na\nb\r", ACCEPTED);
    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "a\nb\r");

    ASSERT_EXCHANGE(MAIL_PLAIN, SENDER_OK);
    ASSERT_EXCHANGE(RCPT_PLAIN, RCPT_OK);
    ASSERT_EXCHANGE("BDAT 3 LAST\r\na\nb", STRICT_REJECTED);
    ASSERT_EXCHANGE(MAIL_PLAIN, SENDER_OK);
    ASSERT_EXCHANGE(RCPT_PLAIN, RCPT_OK);
    ASSERT_EXCHANGE("BDAT 2\r\na\r", "250 2.0.0 2 octets received\r\n");
    ASSERT_EXCHANGE("BDAT 0 LAST\r\n", STRICT_REJECTED);
    ck_assert_uint_eq(harness.messages_len, 1);
}
END_TEST

/* Under strict, a BDAT line ending in a bare LF is rejected, and its chunk
 * is still discarded, so chunk bytes never run as commands. */
START_TEST(test_session_strict_bdat_bare_lf_line)
{
    restart_strict();
    begin_envelope(MAIL_PLAIN);
    ASSERT_EXCHANGE("BDAT 10 LAST\nRSET\r\nNOOP", "500 5.5.2 Line ends in a bare LF; RFC 5321 "
                    "requires CRLF\r\n");
    ASSERT_EXCHANGE("BDAT 0 LAST\n", "500 5.5.2 Line ends in a bare LF; RFC 5321 "
                    "requires CRLF\r\n");
    /* The first rejected BDAT failed the transaction (RFC 3030 section 3). */
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nx", SEND_MAIL_FIRST);
    ck_assert_uint_eq(harness.messages_len, 0);

    begin_envelope(MAIL_PLAIN);
    ASSERT_EXCHANGE("BDAT 1 LAST\r\nx", ACCEPTED);
    ck_assert_uint_eq(harness.messages_len, 1);
    ASSERT_DATA(&harness.messages[0], "x");
}
END_TEST

/* A BINARYMIME body has no lines, so the line limit does not apply. */
START_TEST(test_session_binarymime_no_line_limit)
{
    struct sc_limits limits = default_limits;
    char chunk[64];

    limits.max_data_line = 10;
    restart(&limits);
    memset(chunk, 'z', sizeof(chunk));
    begin_envelope(MAIL_BINARY);
    send_text(&harness, "BDAT 64 LAST\r\n");
    feed(&harness, chunk, sizeof(chunk));
    ck_assert_str_eq(reply_text(&harness), ACCEPTED);
    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].size, 64);
}
END_TEST

/* While draining, DATA and BDAT get 421 before the client uploads a message
 * that could not be accepted. */
START_TEST(test_session_draining_data_and_bdat)
{
    begin_envelope(MAIL_PLAIN);
    sc_session_set_draining(harness.session);
    ASSERT_EXCHANGE("DATA\r\n", "421 4.3.2 Service shutting down, try again later\r\n");
    ck_assert(sc_session_closing(harness.session));

    restart(&default_limits);
    begin_envelope(MAIL_PLAIN);
    sc_session_set_draining(harness.session);
    ASSERT_EXCHANGE("BDAT 3 LAST\r\nabc", "421 4.3.2 Service shutting down, try again later\r\n");
    ck_assert(sc_session_closing(harness.session));
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

/* ----------------------------------------------------------------- limits */

#define UNKNOWN "500 5.5.1 Unknown command\r\n"
#define TOO_MANY_ERRORS "421 4.7.0 Too many errors in this session, closing connection\r\n"

/* The error reply that reaches max_errors is followed by 421 4.7.0, and
 * the session closes. */
START_TEST(test_session_max_errors)
{
    struct sc_limits limits = default_limits;

    limits.max_errors = 3;
    restart(&limits);
    begin_ehlo();
    ASSERT_EXCHANGE("FOO\r\n", UNKNOWN);
    ASSERT_EXCHANGE("NOOP\r\n", OK);
    ASSERT_EXCHANGE("BAR\r\n", UNKNOWN);
    ASSERT_EXCHANGE("BAZ\r\nNOOP\r\n", UNKNOWN TOO_MANY_ERRORS);
    ck_assert(sc_session_closing(harness.session));
    ASSERT_EXCHANGE("NOOP\r\n", "");
}
END_TEST

/* A 452 for too many recipients does not count, since RFC 5321 has the
 * client send the rest in another transaction, and the message goes to the
 * accepted recipient. A rejected BDAT counts, and its 421 follows its 503
 * once the chunk bytes are in. */
START_TEST(test_session_max_errors_kinds)
{
    struct sc_limits limits = default_limits;
    int i;

    limits.max_errors = 2;
    limits.max_rcpts = 1;
    restart(&limits);
    begin_envelope(MAIL_PLAIN);
    for (i = 0; i < 5; i++)
        ASSERT_EXCHANGE("RCPT TO:<c@example.com>\r\n", "452 4.5.3 Too many recipients\r\n");
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);
    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].rcpt_to[0], "b@example.com");

    ASSERT_EXCHANGE("FOO\r\n", UNKNOWN);
    ASSERT_EXCHANGE("BDAT 4 LAST\r\nab", "");
    ASSERT_EXCHANGE("cd", SEND_MAIL_FIRST TOO_MANY_ERRORS);
    ck_assert(sc_session_closing(harness.session));
}
END_TEST

START_TEST(test_session_max_errors_unlimited)
{
    int i;

    begin_ehlo();
    for (i = 0; i < 500; i++)
        ASSERT_EXCHANGE("FOO\r\n", UNKNOWN);
    ck_assert(!sc_session_closing(harness.session));
    ASSERT_EXCHANGE("NOOP\r\n", OK);
}
END_TEST

/* max_data_line counts a line without its ending. The message with a longer
 * line gets 552 5.3.4 at the end of the data, and the session goes on. */
START_TEST(test_session_max_data_line)
{
    struct sc_limits limits = default_limits;

    limits.max_data_line = 100;
    restart(&limits);
    begin_data();
    ASSERT_EXCHANGE(X100 "\r\n" X100 "\n\r\n.\r\n", ACCEPTED);
    ASSERT_EXCHANGE(MAIL_PLAIN, SENDER_OK);
    ASSERT_EXCHANGE(RCPT_PLAIN, RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE(X100 "x\r\n", "");
    ASSERT_EXCHANGE("short\r\n.\r\n",
                    "552 5.3.4 Message has a line longer than the maximum of 100 bytes\r\n");
    ck_assert(!sc_session_closing(harness.session));
    ASSERT_EXCHANGE(MAIL_PLAIN, SENDER_OK);

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_uint_eq(harness.messages[0].size, 205);
}
END_TEST

/* ------------------------------------------------------------------- AUTH */

#define AUTH_OK "235 2.7.0 Authentication successful\r\n"
#define AUTH_INVALID "535 5.7.8 Authentication credentials invalid\r\n"
#define AUTH_BAD_BASE64 "501 5.5.2 Invalid base64 in the AUTH response\r\n"
#define AUTH_CANCELLED "501 5.0.0 Authentication cancelled\r\n"
#define AUTH_TOO_LONG "500 5.5.6 Authentication exchange line is too long\r\n"
#define PROMPT_USERNAME "334 VXNlcm5hbWU6\r\n"
#define PROMPT_PASSWORD "334 UGFzc3dvcmQ6\r\n"

/* base64 of "\0alice\0secret", "\0alice\0wrong", "alice" and "secret". */
#define PLAIN_ALICE "AGFsaWNlAHNlY3JldA=="
#define PLAIN_ALICE_WRONG "AGFsaWNlAHdyb25n"
#define B64_ALICE "YWxpY2U="
#define B64_SECRET "c2VjcmV0"

/* The fixed challenge "<0.0@mx.test>" in base64, and the response of
 * alice with password secret to it: "alice f31b682c15f947207a31c85d1cf113c4". */
#define CRAM_CHALLENGE "334 PDAuMEBteC50ZXN0Pg==\r\n"
#define CRAM_ALICE "YWxpY2UgZjMxYjY4MmMxNWY5NDcyMDdhMzFjODVkMWNmMTEzYzQ="

static const struct sc_credential alice_only[] = {{"alice", "secret"}};

/* Start over with --auth alice:secret, and --require-auth when required. */
static void restart_with_credentials(bool required)
{
    struct sc_limits limits = default_limits;

    limits.auth.credentials = alice_only;
    limits.auth.credentials_len = 1;
    limits.auth.required = required;
    restart(&limits);
}

/* Send one message from a@example.com to b@example.com after the greeting. */
static void send_one_message(void)
{
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);
}

START_TEST(test_session_auth_none)
{
    begin_ehlo();
    send_one_message();

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_ptr_null(harness.messages[0].auth);
}
END_TEST

START_TEST(test_session_auth_plain)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    send_one_message();
    send_one_message();

    ck_assert_uint_eq(harness.messages_len, 2);
    ck_assert_str_eq(harness.messages[0].auth, "PLAIN alice:secret");
    ck_assert_str_eq(harness.messages[1].auth, "PLAIN alice:secret");
}
END_TEST

START_TEST(test_session_auth_plain_challenge)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH PLAIN\r\n", "334 \r\n");
    /* base64 of "admin\0alice\0secret" */
    ASSERT_EXCHANGE("YWRtaW4AYWxpY2UAc2VjcmV0\r\n", AUTH_OK);
    send_one_message();

    ck_assert_str_eq(harness.messages[0].auth, "PLAIN admin/alice:secret");
}
END_TEST

START_TEST(test_session_auth_login)
{
    begin_ehlo();
    ASSERT_EXCHANGE("auth login\r\n", PROMPT_USERNAME);
    ASSERT_EXCHANGE(B64_ALICE "\r\n", PROMPT_PASSWORD);
    ASSERT_EXCHANGE(B64_SECRET "\r\n", AUTH_OK);
    send_one_message();

    ck_assert_str_eq(harness.messages[0].auth, "LOGIN alice:secret");
}
END_TEST

START_TEST(test_session_auth_login_initial_response)
{
    restart_with_credentials(false);
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH LOGIN " B64_ALICE "\r\n", PROMPT_PASSWORD);
    ASSERT_EXCHANGE(B64_SECRET "\r\n", AUTH_OK);
    send_one_message();

    ck_assert_str_eq(harness.messages[0].auth, "LOGIN alice:secret");
}
END_TEST

START_TEST(test_session_auth_cram_md5)
{
    restart_with_credentials(false);
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH CRAM-MD5\r\n", CRAM_CHALLENGE);
    ASSERT_EXCHANGE(CRAM_ALICE "\r\n", AUTH_OK);
    send_one_message();

    ck_assert_str_eq(harness.messages[0].auth, "CRAM-MD5 alice:f31b682c15f947207a31c85d1cf113c4");
}
END_TEST

/* A failed AUTH leaves the session unauthenticated, and the client may try
 * again (RFC 4954 section 4). */
START_TEST(test_session_auth_retry_after_failure)
{
    restart_with_credentials(false);
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE_WRONG "\r\n", AUTH_INVALID);
    ASSERT_EXCHANGE("AUTH LOGIN\r\n", PROMPT_USERNAME);
    ASSERT_EXCHANGE(B64_ALICE "\r\n", PROMPT_PASSWORD);
    ASSERT_EXCHANGE("d3Jvbmc=\r\n", AUTH_INVALID);
    ASSERT_EXCHANGE("AUTH CRAM-MD5\r\n", CRAM_CHALLENGE);
    /* The digest of the wrong password "wrong". */
    ASSERT_EXCHANGE("YWxpY2UgMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=\r\n", AUTH_INVALID);
    send_one_message();
    ck_assert_ptr_null(harness.messages[0].auth);

    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    send_one_message();
    ck_assert_str_eq(harness.messages[1].auth, "PLAIN alice:secret");
}
END_TEST

/* RFC 4954 section 4: a second AUTH after a successful one gets 503. */
START_TEST(test_session_auth_twice)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    ASSERT_EXCHANGE("AUTH LOGIN\r\n", "503 5.5.1 Already authenticated\r\n");
    ASSERT_EXCHANGE("NOOP\r\n", OK);
}
END_TEST

/* RFC 4954 section 4: AUTH during a mail transaction gets 503. */
START_TEST(test_session_auth_in_transaction)
{
    static const char refused[] = "503 5.5.1 AUTH is not allowed during a mail transaction\r\n";

    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", refused);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("AUTH LOGIN\r\n", refused);
    ASSERT_EXCHANGE("RSET\r\n", OK);
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
}
END_TEST

START_TEST(test_session_auth_needs_ehlo)
{
    static const char refused[] = "503 5.5.1 Send EHLO first: AUTH is an ESMTP extension\r\n";

    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", refused);
    ASSERT_EXCHANGE("HELO old.client\r\n", "250 mx.test\r\n");
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", refused);
    ASSERT_EXCHANGE("EHLO new.client\r\n", EHLO_REPLY);
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
}
END_TEST

/* EHLO and RSET start a new transaction but keep the authentication. */
START_TEST(test_session_auth_kept_by_ehlo_and_rset)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    ASSERT_EXCHANGE("RSET\r\n", OK);
    ASSERT_EXCHANGE("EHLO again.test\r\n", EHLO_REPLY);
    send_one_message();

    ck_assert_str_eq(harness.messages[0].auth, "PLAIN alice:secret");
}
END_TEST

START_TEST(test_session_auth_errors)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH GSSAPI\r\n",
                    "504 5.5.4 Unrecognized authentication mechanism; use PLAIN, LOGIN or "
                    "CRAM-MD5\r\n");
    ASSERT_EXCHANGE("AUTH\r\n", "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n");
    ASSERT_EXCHANGE("AUTH PLAIN not-base64\r\n", AUTH_BAD_BASE64);
    ASSERT_EXCHANGE("AUTH PLAIN\r\n", "334 \r\n");
    ASSERT_EXCHANGE("=AAA\r\n", AUTH_BAD_BASE64);
    ASSERT_EXCHANGE("AUTH LOGIN\r\n", PROMPT_USERNAME);
    ASSERT_EXCHANGE(B64_ALICE "\r\n", PROMPT_PASSWORD);
    ASSERT_EXCHANGE("*\r\n", AUTH_CANCELLED);
    ASSERT_EXCHANGE("AUTH CRAM-MD5 " B64_ALICE "\r\n",
                    "501 5.7.0 CRAM-MD5 takes no initial response: the server sends the "
                    "challenge first\r\n");
    send_one_message();

    ck_assert_ptr_null(harness.messages[0].auth);
    ck_assert(!sc_session_closing(harness.session));
}
END_TEST

/* Lines after a 334 are SASL responses: a command word there is decoded as
 * base64, not run. "QUIT" decodes to "AB\x13", a valid LOGIN username. */
START_TEST(test_session_auth_responses_not_commands)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH LOGIN\r\n", PROMPT_USERNAME);
    ASSERT_EXCHANGE("QUIT\r\n", PROMPT_PASSWORD);
    ck_assert(!sc_session_closing(harness.session));
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", AUTH_BAD_BASE64);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
}
END_TEST

/* A response may carry a password, so the trace never shows it. */
START_TEST(test_session_auth_trace_hides_secrets)
{
    begin_ehlo();
    sc_buf_clear(&harness.trace);
    send_text(&harness, "AUTH LOGIN\r\n" B64_ALICE "\r\n" B64_SECRET "\r\n");
    ck_assert_int_eq(sc_buf_append(&harness.trace, "", 1), 0);
    ck_assert_str_eq(harness.trace.data,
                     "<AUTH LOGIN\n>334 VXNlcm5hbWU6\n<[AUTH response]\n>334 UGFzc3dvcmQ6\n"
                     "<[AUTH response]\n>235 2.7.0 Authentication successful\n");

    restart(&default_limits);
    begin_ehlo();
    sc_buf_clear(&harness.trace);
    send_text(&harness, "auth plain " PLAIN_ALICE "\r\nAUTH PLAIN\r\n*\r\n");
    ck_assert_int_eq(sc_buf_append(&harness.trace, "", 1), 0);
    ck_assert_str_eq(harness.trace.data,
                     "<auth plain [initial response]\n>235 2.7.0 Authentication successful\n"
                     "<AUTH PLAIN\n>503 5.5.1 Already authenticated\n"
                     "<*\n>500 5.5.1 Unknown command\n");
}
END_TEST

static struct sc_limits starttls_limits(bool required);

/* A client that does not wait for each 334 has its responses run as commands
 * when its AUTH fails. The trace hides up to two such lines that are not
 * commands, and shows commands again as they are. */
START_TEST(test_session_auth_trace_hides_unawaited_responses)
{
    struct sc_limits limits = starttls_limits(false);

    limits.auth_tls_only = true;
    restart(&limits);
    begin_ehlo();
    sc_buf_clear(&harness.trace);
    send_text(&harness, "AUTH LOGIN\r\n" B64_ALICE "\r\n" B64_SECRET "\r\nNOOP\r\n");
    ck_assert_int_eq(sc_buf_append(&harness.trace, "", 1), 0);
    ck_assert_str_eq(harness.trace.data,
                     "<AUTH LOGIN\n>538 5.7.11 Encryption required: send STARTTLS before AUTH\n"
                     "<[line after a failed AUTH]\n>500 5.5.1 Unknown command\n"
                     "<[line after a failed AUTH]\n>500 5.5.1 Unknown command\n"
                     "<NOOP\n>250 2.0.0 OK\n");

    /* An exchange that fails at its first response leaves the password. */
    restart(&default_limits);
    begin_ehlo();
    sc_buf_clear(&harness.trace);
    send_text(&harness, "AUTH LOGIN\r\n!!\r\n" B64_SECRET "\r\nBOGUS\r\n");
    ck_assert_int_eq(sc_buf_append(&harness.trace, "", 1), 0);
    ck_assert_str_eq(harness.trace.data,
                     "<AUTH LOGIN\n>334 VXNlcm5hbWU6\n<[AUTH response]\n"
                     ">501 5.5.2 Invalid base64 in the AUTH response\n"
                     "<[line after a failed AUTH]\n>500 5.5.1 Unknown command\n"
                     "<[line after a failed AUTH]\n>500 5.5.1 Unknown command\n");

    /* The same after a response line that is too long. */
    {
        static char line[SC_AUTH_MAX_LINE + 64];

        memset(line, 'A', SC_AUTH_MAX_LINE + 1);
        memcpy(line + SC_AUTH_MAX_LINE + 1, "\r\n" B64_SECRET "\r\n", 3 + strlen(B64_SECRET) + 2);
        sc_buf_clear(&harness.replies);
        ASSERT_EXCHANGE("AUTH LOGIN\r\n", PROMPT_USERNAME);
        sc_buf_clear(&harness.trace);
        send_text(&harness, line);
        ck_assert_int_eq(sc_buf_append(&harness.trace, "", 1), 0);
        ck_assert_ptr_null(strstr(harness.trace.data, B64_SECRET));
        ck_assert_ptr_nonnull(strstr(harness.trace.data, "<[line after a failed AUTH]\n"));
    }

    /* The same after an AUTH command that ends in a bare LF under strict. */
    restart_strict();
    begin_ehlo();
    sc_buf_clear(&harness.trace);
    send_text(&harness, "AUTH LOGIN " B64_ALICE "\n" B64_SECRET "\r\n");
    ck_assert_int_eq(sc_buf_append(&harness.trace, "", 1), 0);
    ck_assert_ptr_null(strstr(harness.trace.data, B64_SECRET));
    ck_assert_ptr_nonnull(strstr(harness.trace.data, "<[line after a failed AUTH]\n"));
    restart(&default_limits);
    begin_ehlo();
    sc_buf_clear(&harness.replies);

    /* A command in between shows that the client waits, so later lines show. */
    sc_buf_clear(&harness.trace);
    send_text(&harness, "AUTH BOGUS\r\nNOOP\r\nHELLO\r\n");
    ck_assert_int_eq(sc_buf_append(&harness.trace, "", 1), 0);
    ck_assert_str_eq(harness.trace.data,
                     "<AUTH BOGUS\n>504 5.5.4 Unrecognized authentication mechanism; "
                     "use PLAIN, LOGIN or CRAM-MD5\n"
                     "<NOOP\n>250 2.0.0 OK\n<HELLO\n>500 5.5.1 Unknown command\n");
}
END_TEST

/* Fill buf with "AUTH PLAIN " and the base64 of "\0alice\0" and password_len
 * 'x' bytes, then CRLF and a NUL. Returns the length of the line. */
static size_t long_plain_line(char *buf, size_t size, size_t password_len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char *raw;
    size_t raw_len = 7 + password_len, i, out;
    unsigned v;

    raw = malloc(raw_len);
    ck_assert_ptr_nonnull(raw);
    memcpy(raw, "\0alice\0", 7);
    memset(raw + 7, 'x', password_len);

    out = (size_t)snprintf(buf, size, "AUTH PLAIN ");
    for (i = 0; i < raw_len; i += 3) {
        v = (unsigned)raw[i] << 16;
        if (i + 1 < raw_len)
            v |= (unsigned)raw[i + 1] << 8;
        if (i + 2 < raw_len)
            v |= raw[i + 2];
        ck_assert_uint_lt(out + 4, size);
        buf[out++] = alphabet[v >> 18];
        buf[out++] = alphabet[(v >> 12) & 63];
        buf[out++] = i + 1 < raw_len ? alphabet[(v >> 6) & 63] : '=';
        buf[out++] = i + 2 < raw_len ? alphabet[v & 63] : '=';
    }
    ck_assert_uint_lt(out + 3, size);
    memcpy(buf + out, "\r\n", 3);
    free(raw);
    return out + 2;
}

/* RFC 4954 section 4 names 12288 octets as a sufficient line length for
 * AUTH, longer than the 512-byte command limit of these tests. */
START_TEST(test_session_auth_long_lines)
{
    static char line[SC_AUTH_MAX_LINE + 64];
    size_t len;

    begin_ehlo();

    /* 11 + 12276 bytes of text: an AUTH command line far over 512 bytes. */
    len = long_plain_line(line, sizeof(line), 9200);
    ck_assert_uint_eq(len, 11 + 12276 + 2);
    ASSERT_EXCHANGE(line, AUTH_OK);
    send_one_message();
    ck_assert_uint_eq(strlen(harness.messages[0].auth), strlen("PLAIN alice:") + 9200);

    /* A response of 12288 bytes is read and decoded; it is 9216 NUL bytes,
     * not a PLAIN message. One more byte is too long. */
    restart(&default_limits);
    begin_ehlo();
    memset(line, 'A', SC_AUTH_MAX_LINE);
    memcpy(line + SC_AUTH_MAX_LINE, "\r\n", 3);
    ASSERT_EXCHANGE("AUTH PLAIN\r\n", "334 \r\n");
    ASSERT_EXCHANGE(line, "501 5.5.2 Invalid PLAIN response: expected authzid NUL username "
                          "NUL password\r\n");
    memset(line, 'A', SC_AUTH_MAX_LINE + 1);
    memcpy(line + SC_AUTH_MAX_LINE + 1, "\r\n", 3);
    ASSERT_EXCHANGE("AUTH PLAIN\r\n", "334 \r\n");
    ASSERT_EXCHANGE(line, AUTH_TOO_LONG);
    ASSERT_EXCHANGE("NOOP\r\n", OK);

    /* The limit is on the bytes before the line ending, so a bare LF does
     * not make room for one more. */
    memset(line, 'A', SC_AUTH_MAX_LINE + 1);
    memcpy(line + SC_AUTH_MAX_LINE + 1, "\n", 2);
    ASSERT_EXCHANGE("AUTH PLAIN\r\n", "334 \r\n");
    ASSERT_EXCHANGE(line, AUTH_TOO_LONG);
    memcpy(line + SC_AUTH_MAX_LINE, "\n", 2);
    ASSERT_EXCHANGE("AUTH PLAIN\r\n", "334 \r\n");
    ASSERT_EXCHANGE(line, "501 5.5.2 Invalid PLAIN response: expected authzid NUL username "
                          "NUL password\r\n");

    /* An AUTH command line over the limit gets the same reply. */
    memcpy(line, "AUTH PLAIN ", 11);
    memset(line + 11, 'A', SC_AUTH_MAX_LINE);
    memcpy(line + 11 + SC_AUTH_MAX_LINE, "\r\n", 3);
    ASSERT_EXCHANGE(line, AUTH_TOO_LONG);
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
}
END_TEST

/* An overlong response sent a byte at a time is never buffered whole, and
 * gets one 500 5.5.6 when its line ending arrives. */
START_TEST(test_session_auth_long_line_bounded)
{
    int i;

    begin_ehlo();
    ASSERT_EXCHANGE("AUTH LOGIN\r\n", PROMPT_USERNAME);
    for (i = 0; i < SC_AUTH_MAX_LINE + 1000; i++) {
        feed(&harness, "A", 1);
        ck_assert_uint_le(harness.pending.len, SC_AUTH_MAX_LINE + 2);
    }
    ck_assert_uint_eq(harness.replies.len, 0);
    ASSERT_EXCHANGE("\r\n" B64_ALICE "\r\n", AUTH_TOO_LONG "500 5.5.1 Unknown command\r\n");
    ASSERT_EXCHANGE("AUTH LOGIN " B64_ALICE "\r\n", PROMPT_PASSWORD);
}
END_TEST

/* RFC 4954 section 6: 530 5.7.0 when policy requires AUTH first. */
START_TEST(test_session_auth_required)
{
    restart_with_credentials(true);
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", "530 5.7.0 Authentication required\r\n");
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE_WRONG "\r\n", AUTH_INVALID);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", "530 5.7.0 Authentication required\r\n");
    ASSERT_EXCHANGE("NOOP\r\n", OK);
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    send_one_message();

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].auth, "PLAIN alice:secret");
}
END_TEST

/* RFC 4954 section 5: AUTH=<> or an xtext mailbox, taken without AUTH too. */
START_TEST(test_session_auth_mail_param)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> AUTH=<>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);
    ASSERT_EXCHANGE("MAIL FROM:<e=mc2@example.com> auth=e+3Dmc2@example.com\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RSET\r\n", OK);
    /* KMail and E-MailRelay send a user name in brackets, which is no
     * mailbox. Only the xtext is checked, so their mail goes through. */
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> AUTH=<username>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("RSET\r\n", OK);
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> AUTH=a+3d\r\n",
                    "501 5.5.4 Invalid AUTH value: expected <> or an xtext-encoded "
                    "mailbox\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> AUTH\r\n",
                    "501 5.5.4 Invalid AUTH value: expected <> or an xtext-encoded "
                    "mailbox\r\n");

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].params, "AUTH=<>");
}
END_TEST

/* Under --strict a response ending in a bare LF ends the exchange. */
START_TEST(test_session_auth_strict_bare_lf)
{
    struct sc_limits limits = default_limits;

    limits.strict = true;
    restart(&limits);
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH LOGIN\r\n", PROMPT_USERNAME);
    ASSERT_EXCHANGE(B64_ALICE "\n", "500 5.5.2 Line ends in a bare LF; RFC 5321 requires CRLF\r\n");
    ASSERT_EXCHANGE("AUTH LOGIN " B64_ALICE "\r\n", PROMPT_PASSWORD);
}
END_TEST

/* A failed exchange counts toward --max-errors, and the 421 ends it. */
START_TEST(test_session_auth_max_errors)
{
    struct sc_limits limits = default_limits;

    limits.max_errors = 2;
    restart(&limits);
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH PLAIN\r\n", "334 \r\n");
    ASSERT_EXCHANGE("!\r\n", AUTH_BAD_BASE64);
    ASSERT_EXCHANGE("AUTH PLAIN\r\n", "334 \r\n");
    ASSERT_EXCHANGE("*\r\nNOOP\r\n", AUTH_CANCELLED
                    "421 4.7.0 Too many errors in this session, closing connection\r\n");
    ck_assert(sc_session_closing(harness.session));
}
END_TEST

START_TEST(test_session_free_in_auth)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH LOGIN " B64_ALICE "\r\n", PROMPT_PASSWORD);
    /* harness_free frees the session mid-exchange; ASan checks the username. */
}
END_TEST

START_TEST(test_session_abort_in_auth)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH LOGIN " B64_ALICE "\r\n", PROMPT_PASSWORD);
    sc_session_abort(harness.session, "4.4.2 Idle timeout, closing connection", &harness.replies);
    ck_assert_str_eq(reply_text(&harness), "421 4.4.2 Idle timeout, closing connection\r\n");
    ck_assert(sc_session_closing(harness.session));
}
END_TEST

/* With --auth alice:secret and --require-auth: every AUTH outcome, then a
 * message. Run whole, a byte at a time, split at every offset and in
 * random pieces, it must give the same replies and message. */
static const char auth_transcript[] =
    "EHLO client.example\r\n"
    "MAIL FROM:<x@example.com>\r\n"
    "AUTH CRAM-MD5\r\n"
    "!!!!\r\n"
    "AUTH LOGIN\r\n"
    B64_ALICE "\r\n"
    "*\r\n"
    "AUTH PLAIN\r\n"
    PLAIN_ALICE_WRONG "\r\n"
    "AUTH XOAUTH2 " B64_ALICE "\r\n"
    "AUTH CRAM-MD5\r\n"
    CRAM_ALICE "\n"
    "AUTH PLAIN " PLAIN_ALICE "\r\n"
    "MAIL FROM:<a@example.com> AUTH=<>\r\n"
    "RCPT TO:<b@example.com>\r\n"
    "DATA\r\n"
    "Subject: auth\r\n"
    "\r\n"
    "hi\r\n"
    ".\r\n"
    "QUIT\r\n";

static const char auth_transcript_replies[] =
    "220 mx.test ESMTP smtpcatch\r\n"
    EHLO_REPLY
    "530 5.7.0 Authentication required\r\n"
    CRAM_CHALLENGE
    AUTH_BAD_BASE64
    PROMPT_USERNAME
    PROMPT_PASSWORD
    AUTH_CANCELLED
    "334 \r\n"
    AUTH_INVALID
    "504 5.5.4 Unrecognized authentication mechanism; use PLAIN, LOGIN or CRAM-MD5\r\n"
    CRAM_CHALLENGE
    AUTH_OK
    "503 5.5.1 Already authenticated\r\n"
    SENDER_OK
    RCPT_OK
    DATA_GO
    ACCEPTED
    "221 2.0.0 Bye\r\n";

static void check_auth_transcript(struct harness *h)
{
    const struct received *m;

    ck_assert_str_eq(reply_text(h), auth_transcript_replies);
    ck_assert(sc_session_closing(h->session));
    ck_assert_uint_eq(h->pending.len, 0);
    ck_assert_uint_eq(h->messages_len, 1);

    m = &h->messages[0];
    ck_assert_str_eq(m->auth, "CRAM-MD5 alice:f31b682c15f947207a31c85d1cf113c4");
    ck_assert_str_eq(m->mail_from, "a@example.com");
    ck_assert_str_eq(m->params, "AUTH=<>");
    ASSERT_DATA(m, "Subject: auth\r\n\r\nhi\r\n");
}

/* The transcript fixture: a session with alice's credentials, required. */
static void setup_auth_transcript(void)
{
    setup();
    restart_with_credentials(true);
}

START_TEST(test_session_auth_transcript_whole)
{
    feed(&harness, auth_transcript, sizeof(auth_transcript) - 1);
    check_auth_transcript(&harness);
}
END_TEST

START_TEST(test_session_auth_transcript_bytewise)
{
    feed_bytewise(&harness, auth_transcript, sizeof(auth_transcript) - 1);
    check_auth_transcript(&harness);
}
END_TEST

/* Run once per cut point _i, from 0 to the transcript length. */
START_TEST(test_session_auth_transcript_split)
{
    feed_split(&harness, auth_transcript, sizeof(auth_transcript) - 1, (size_t)_i);
    check_auth_transcript(&harness);
}
END_TEST

/* Run once per seed _i, in random pieces of 1 to 48 bytes. */
START_TEST(test_session_auth_transcript_random)
{
    feed_random(&harness, auth_transcript, sizeof(auth_transcript) - 1, (unsigned)_i + 1, 48);
    check_auth_transcript(&harness);
}
END_TEST

/* --------------------------------------------------------------- STARTTLS */

#define TLS_READY "220 2.0.0 Ready to start TLS\r\n"
#define TLS_VERSION "TLSv1.3"
#define TLS_CIPHER "TLS_AES_128_GCM_SHA256"

/* The EHLO reply of a server that offers STARTTLS (RFC 3207). */
#define EHLO_REPLY_STARTTLS             \
    "250-mx.test\r\n"                   \
    "250-PIPELINING\r\n"                \
    "250-SIZE 10000\r\n"                \
    "250-8BITMIME\r\n"                  \
    "250-SMTPUTF8\r\n"                  \
    "250-ENHANCEDSTATUSCODES\r\n"       \
    "250-CHUNKING\r\n"                  \
    "250-BINARYMIME\r\n"                \
    "250-DSN\r\n"                       \
    "250-STARTTLS\r\n"                  \
    "250-AUTH PLAIN LOGIN CRAM-MD5\r\n" \
    "250 HELP\r\n"

/* The limits of a server with --tls starttls, and --require-tls when required. */
static struct sc_limits starttls_limits(bool required)
{
    struct sc_limits limits = default_limits;

    limits.starttls = true;
    limits.require_tls = required;
    return limits;
}

static void setup_starttls(void)
{
    struct sc_limits limits = starttls_limits(false);

    harness_init(&harness, &limits);
}

/* Send STARTTLS, expect the 220, and report the handshake as the server does. */
static void start_tls(void)
{
    ASSERT_EXCHANGE("STARTTLS\r\n", TLS_READY);
    ck_assert(sc_session_wants_tls(harness.session));
    ck_assert_uint_eq(harness.pending.len, 0);
    ck_assert_int_eq(sc_session_tls_started(harness.session, TLS_VERSION, TLS_CIPHER), 0);
    ck_assert(!sc_session_wants_tls(harness.session));
}

START_TEST(test_session_starttls_not_offered)
{
    restart(&default_limits);
    begin_ehlo();
    ASSERT_EXCHANGE("EHLO client.test\r\n", EHLO_REPLY);
    ASSERT_EXCHANGE("STARTTLS\r\n", "502 5.5.1 Command not implemented\r\n");
    ck_assert(!sc_session_wants_tls(harness.session));
    send_one_message();

    ck_assert_ptr_null(harness.messages[0].tls);
}
END_TEST

/* HELP names STARTTLS where EHLO offers it: before TLS, not after. With
 * auth_tls_only, AUTH is named only after TLS, as in EHLO. */
START_TEST(test_session_starttls_help)
{
    static const char help_before[] =
        "214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
        "HELP\r\n";
    static const char help_after[] =
        "214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP\r\n";

    struct sc_limits limits = starttls_limits(false);

    begin_ehlo();
    ASSERT_EXCHANGE("HELP\r\n", help_before);
    start_tls();
    ASSERT_EXCHANGE("HELP\r\n", help_after);

    limits.auth_tls_only = true;
    restart(&limits);
    begin_ehlo();
    ASSERT_EXCHANGE("HELP\r\n", "214 2.0.0 Commands: EHLO HELO STARTTLS MAIL RCPT DATA BDAT "
                    "RSET NOOP QUIT VRFY HELP\r\n");
    start_tls();
    ASSERT_EXCHANGE("HELP\r\n", help_after);
}
END_TEST

START_TEST(test_session_starttls_offered)
{
    sc_buf_clear(&harness.replies);
    ASSERT_EXCHANGE("EHLO client.test\r\n", EHLO_REPLY_STARTTLS);
    ASSERT_EXCHANGE("HELO client.test\r\n", "250 mx.test\r\n");
    send_one_message();

    ck_assert_ptr_null(harness.messages[0].tls);
}
END_TEST

/* RFC 3207 section 4.2: after the handshake the session starts over, and
 * drops the EHLO name, the transaction and the AUTH result. */
START_TEST(test_session_starttls_resets_session)
{
    begin_ehlo();
    ASSERT_EXCHANGE("AUTH PLAIN " PLAIN_ALICE "\r\n", AUTH_OK);
    start_tls();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", "503 5.5.1 Send HELO or EHLO first\r\n");
    ASSERT_EXCHANGE("EHLO secure.test\r\n", EHLO_REPLY);
    send_one_message();

    ck_assert_uint_eq(harness.messages_len, 1);
    ck_assert_str_eq(harness.messages[0].helo, "secure.test");
    ck_assert_ptr_null(harness.messages[0].auth);
    ck_assert_str_eq(harness.messages[0].tls, TLS_VERSION " " TLS_CIPHER);
}
END_TEST

/* Commands pipelined after STARTTLS came in plaintext, so the session must
 * not run them: it stops at the end of the STARTTLS line (CVE-2011-0411). */
START_TEST(test_session_starttls_pipelined_not_executed)
{
    static const char pipelined[] = "MAIL FROM:<a@b.example>\r\n";

    begin_ehlo();
    ASSERT_EXCHANGE("STARTTLS\r\nMAIL FROM:<a@b.example>\r\n", TLS_READY);
    ck_assert(sc_session_wants_tls(harness.session));
    ck_assert_uint_eq(harness.pending.len, sizeof(pipelined) - 1);
    ck_assert_mem_eq(harness.pending.data, pipelined, sizeof(pipelined) - 1);

    ASSERT_EXCHANGE("RSET\r\n", "");
    ck_assert(sc_session_wants_tls(harness.session));
    ck_assert_uint_eq(harness.messages_len, 0);
}
END_TEST

START_TEST(test_session_starttls_errors)
{
    begin_ehlo();
    ASSERT_EXCHANGE("STARTTLS now\r\n", "501 5.5.4 STARTTLS takes no argument\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n", SENDER_OK);
    ASSERT_EXCHANGE("STARTTLS\r\n",
                    "503 5.5.1 STARTTLS is not allowed during a mail transaction\r\n");
    ASSERT_EXCHANGE("RCPT TO:<b@example.com>\r\n", RCPT_OK);
    ASSERT_EXCHANGE("STARTTLS\r\n",
                    "503 5.5.1 STARTTLS is not allowed during a mail transaction\r\n");
    ck_assert(!sc_session_wants_tls(harness.session));
    ASSERT_EXCHANGE("DATA\r\n", DATA_GO);
    ASSERT_EXCHANGE("x\r\n.\r\n", ACCEPTED);
    start_tls();
}
END_TEST

START_TEST(test_session_starttls_before_ehlo)
{
    sc_buf_clear(&harness.replies);
    start_tls();
    ASSERT_EXCHANGE("EHLO client.test\r\n", EHLO_REPLY);
}
END_TEST

/* RFC 3207 section 4.2: STARTTLS is not offered again, and a second one gets 503. */
START_TEST(test_session_starttls_twice)
{
    begin_ehlo();
    start_tls();
    ASSERT_EXCHANGE("STARTTLS\r\n", "503 5.5.1 TLS already started\r\n");
    ASSERT_EXCHANGE("EHLO client.test\r\n", EHLO_REPLY);
    ASSERT_EXCHANGE("STARTTLS\r\n", "503 5.5.1 TLS already started\r\n");
    ck_assert(!sc_session_wants_tls(harness.session));
    send_one_message();

    ck_assert_str_eq(harness.messages[0].tls, TLS_VERSION " " TLS_CIPHER);
}
END_TEST

START_TEST(test_session_starttls_trace)
{
    static const char expected[] = "<STARTTLS\n>220 2.0.0 Ready to start TLS\n";

    begin_ehlo();
    sc_buf_clear(&harness.trace);
    start_tls();

    ck_assert_uint_eq(harness.trace.len, sizeof(expected) - 1);
    ck_assert_mem_eq(harness.trace.data, expected, sizeof(expected) - 1);
}
END_TEST

START_TEST(test_session_require_tls)
{
    struct sc_limits limits = starttls_limits(true);

    restart(&limits);
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com>\r\n",
                    "530 5.7.0 Must issue a STARTTLS command first\r\n");
    ASSERT_EXCHANGE("NOOP\r\n", OK);
    start_tls();
    ASSERT_EXCHANGE("EHLO client.test\r\n", EHLO_REPLY);
    send_one_message();

    ck_assert_uint_eq(harness.messages_len, 1);
}
END_TEST

/* With implicit TLS the server reports the handshake before the greeting,
 * and the session offers no STARTTLS. */
START_TEST(test_session_implicit_tls)
{
    struct sc_session_hooks hooks = {.on_message = record_message, .arg = &harness};

    harness_free(&harness);
    memset(&harness, 0, sizeof(harness));
    harness.verdict = SC_ACCEPT;
    harness.session = sc_session_new(&default_limits, &hooks);
    ck_assert_ptr_nonnull(harness.session);

    ck_assert_int_eq(sc_session_tls_started(harness.session, "TLSv1.2",
                                            "ECDHE-ECDSA-AES128-GCM-SHA256"), 0);
    sc_session_greet(harness.session, "mx.test", &harness.replies);
    ck_assert_str_eq(reply_text(&harness), "220 mx.test ESMTP smtpcatch\r\n");
    begin_ehlo();
    ASSERT_EXCHANGE("EHLO client.test\r\n", EHLO_REPLY);
    ASSERT_EXCHANGE("STARTTLS\r\n", "502 5.5.1 Command not implemented\r\n");
    send_one_message();

    ck_assert_str_eq(harness.messages[0].tls, "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256");
}
END_TEST

/* A server that stops while it waits for a client's handshake. */
START_TEST(test_session_abort_waiting_for_tls)
{
    begin_ehlo();
    ASSERT_EXCHANGE("STARTTLS\r\nQUIT\r\n", TLS_READY);
    sc_session_abort(harness.session, "4.3.2 Service shutting down", &harness.replies);

    ck_assert(sc_session_closing(harness.session));
    ck_assert(!sc_session_wants_tls(harness.session));
}
END_TEST

/* The test cases that run twice: with every input fed as it is, and with
 * message bodies read into the session's windows. */
static void add_data_tests(TCase *tc)
{
    tcase_add_test(tc, test_session_data_dot_unstuffing);
    tcase_add_test(tc, test_session_data_empty_message);
    tcase_add_loop_test(tc, test_session_data_lone_dot_kept, 0,
                        (int)(sizeof(lone_dots) / sizeof(lone_dots[0])));
    tcase_add_test(tc, test_session_data_byte_exact);
    tcase_add_test(tc, test_session_data_dot_mid_line_split);
    tcase_add_test(tc, test_session_data_end_split);
    tcase_add_test(tc, test_session_several_messages);
    tcase_add_test(tc, test_session_free_in_data);
    tcase_add_test(tc, test_session_data_at_max_size);
    tcase_add_test(tc, test_session_data_too_big);
    tcase_add_test(tc, test_session_window_only_in_body);
    tcase_add_test(tc, test_session_window_within_max_size);
    tcase_add_test(tc, test_session_window_large_body);
    tcase_add_test(tc, test_session_window_bdat_chunk);
}

static void add_closing_tests(TCase *tc)
{
    tcase_add_test(tc, test_session_abort);
    tcase_add_test(tc, test_session_abort_in_data);
    tcase_add_test(tc, test_session_draining);
    tcase_add_test(tc, test_session_draining_mid_transaction);
    tcase_add_test(tc, test_session_verdict_tempfail);
    tcase_add_test(tc, test_session_verdict_shutdown);
}

static void add_transcripts_tests(TCase *tc)
{
    tcase_add_test(tc, test_session_transcript_whole);
    tcase_add_test(tc, test_session_transcript_bytewise);
    tcase_add_loop_test(tc, test_session_transcript_split, 0, (int)sizeof(transcript));
    tcase_add_loop_test(tc, test_session_transcript_random, 0, 300);
}

static void add_bdat_tests(TCase *tc)
{
    tcase_add_test(tc, test_session_bdat_chunks_concatenated);
    tcase_add_test(tc, test_session_bdat_reply_after_bytes);
    tcase_add_test(tc, test_session_bdat_zero_last);
    tcase_add_test(tc, test_session_bdat_zero_chunk);
    tcase_add_test(tc, test_session_bdat_any_case);
    tcase_add_test(tc, test_session_bdat_before_mail);
    tcase_add_test(tc, test_session_bdat_before_rcpt);
    tcase_add_test(tc, test_session_bdat_then_data);
    tcase_add_test(tc, test_session_bdat_then_rcpt);
    tcase_add_test(tc, test_session_binarymime_needs_bdat);
    tcase_add_test(tc, test_session_bdat_bad_syntax);
    tcase_add_test(tc, test_session_bdat_rejected_chunk_fails_transaction);
    tcase_add_test(tc, test_session_bdat_size_leading_zeros);
    tcase_add_test(tc, test_session_bdat_size_past_64_bits);
    tcase_add_test(tc, test_session_bdat_too_big);
    tcase_add_test(tc, test_session_bdat_too_big_last);
    tcase_add_test(tc, test_session_bdat_line_too_long);
    tcase_add_test(tc, test_session_bdat_rset_between_chunks);
    tcase_add_test(tc, test_session_free_in_chunk);
    tcase_add_test(tc, test_session_bdat_same_as_data);
    tcase_add_test(tc, test_session_bdat_large_chunk);
    tcase_add_test(tc, test_session_bdat_enhanced_codes);
    tcase_add_test(tc, test_session_bdat_transcript_whole);
    tcase_add_test(tc, test_session_bdat_transcript_bytewise);
    tcase_add_loop_test(tc, test_session_bdat_transcript_split, 0,
                        (int)sizeof(bdat_transcript));
    tcase_add_loop_test(tc, test_session_bdat_transcript_random, 0, 100);
}

static void add_warnings_tests(TCase *tc)
{
    tcase_add_test(tc, test_session_warn_clean);
    tcase_add_test(tc, test_session_data_ascii_flag);
    tcase_add_test(tc, test_session_warn_bare_lf);
    tcase_add_test(tc, test_session_warn_bare_cr);
    tcase_add_test(tc, test_session_warn_line_over_998);
    tcase_add_test(tc, test_session_warn_nul_byte);
    tcase_add_test(tc, test_session_warn_8bit);
    tcase_add_test(tc, test_session_warn_utf8_address);
    tcase_add_test(tc, test_session_warn_dot_line_bare_lf);
    tcase_add_test(tc, test_session_warn_binarymime);
    tcase_add_test(tc, test_session_warn_bdat_cr_chunks);
    tcase_add_test(tc, test_session_warn_per_message);
}

static void add_strict_tests(TCase *tc)
{
    tcase_add_test(tc, test_session_strict_bare_lf_command);
    tcase_add_test(tc, test_session_strict_message_bare_lf);
    tcase_add_test(tc, test_session_strict_message_bare_cr);
    tcase_add_test(tc, test_session_strict_dot_line);
    tcase_add_test(tc, test_session_strict_clean_accepted);
    tcase_add_test(tc, test_session_strict_bdat);
    tcase_add_test(tc, test_session_strict_bdat_bare_lf_line);
    tcase_add_test(tc, test_session_binarymime_no_line_limit);
    tcase_add_test(tc, test_session_draining_data_and_bdat);
}

static void add_limits_tests(TCase *tc)
{
    tcase_add_test(tc, test_session_max_errors);
    tcase_add_test(tc, test_session_max_errors_kinds);
    tcase_add_test(tc, test_session_max_errors_unlimited);
    tcase_add_test(tc, test_session_max_data_line);
}

Suite *suite_session(void)
{
    Suite *suite = suite_create("session");
    TCase *commands = tcase_create("commands");
    TCase *data = tcase_create("data");
    TCase *closing = tcase_create("closing");
    TCase *transcripts = tcase_create("transcript");
    TCase *bdat = tcase_create("bdat");
    TCase *dsn = tcase_create("dsn");
    TCase *warnings = tcase_create("warnings");
    TCase *strict = tcase_create("strict");
    TCase *limits = tcase_create("limits");
    TCase *auth = tcase_create("auth");
    TCase *auth_transcripts = tcase_create("auth transcript");
    TCase *starttls = tcase_create("starttls");
    TCase *data_windows = tcase_create("data, read into windows");
    TCase *closing_windows = tcase_create("closing, read into windows");
    TCase *transcripts_windows = tcase_create("transcript, read into windows");
    TCase *bdat_windows = tcase_create("bdat, read into windows");
    TCase *warnings_windows = tcase_create("warnings, read into windows");
    TCase *strict_windows = tcase_create("strict, read into windows");
    TCase *limits_windows = tcase_create("limits, read into windows");

    tcase_add_checked_fixture(commands, setup, teardown);
    tcase_add_test(commands, test_session_greeting);
    tcase_add_test(commands, test_session_ehlo_extensions);
    tcase_add_test(commands, test_session_ehlo_size_is_max);
    tcase_add_test(commands, test_session_ehlo_records_helo);
    tcase_add_test(commands, test_session_helo);
    tcase_add_test(commands, test_session_helo_missing_name);
    tcase_add_test(commands, test_session_helo_mail_params);
    tcase_add_test(commands, test_session_mail_params_follow_greeting);
    tcase_add_test(commands, test_session_mail_params_kept);
    tcase_add_test(commands, test_session_mail_size_too_big);
    tcase_add_test(commands, test_session_mail_param_values);
    tcase_add_test(commands, test_session_mail_unknown_param);
    tcase_add_test(commands, test_session_mail_xverp);
    tcase_add_test(commands, test_session_rcpt_unknown_param);
    tcase_add_test(commands, test_session_mail_space_after_colon);
    tcase_add_test(commands, test_session_extra_whitespace);
    tcase_add_test(commands, test_session_null_sender);
    tcase_add_test(commands, test_session_mail_twice);
    tcase_add_test(commands, test_session_rcpt_repeated);
    tcase_add_test(commands, test_session_rcpt_null_rejected);
    tcase_add_test(commands, test_session_quoted_local_part);
    tcase_add_test(commands, test_session_utf8_addresses);
    tcase_add_test(commands, test_session_invalid_utf8_address);
    tcase_add_test(commands, test_session_too_many_rcpts);
    tcase_add_test(commands, test_session_mail_no_domain);
    tcase_add_test(commands, test_session_rcpt_no_domain);
    tcase_add_test(commands, test_session_rcpt_postmaster);
    tcase_add_test(commands, test_session_source_route_alone);
    tcase_add_test(commands, test_session_unquoted_at);
    tcase_add_test(commands, test_session_address_literal);
    tcase_add_test(commands, test_session_mail_before_helo);
    tcase_add_test(commands, test_session_rcpt_before_mail);
    tcase_add_test(commands, test_session_data_before_rcpt);
    tcase_add_test(commands, test_session_rset_clears_transaction);
    tcase_add_test(commands, test_session_rset_before_helo);
    tcase_add_test(commands, test_session_ehlo_resets_transaction);
    tcase_add_test(commands, test_session_noop);
    tcase_add_test(commands, test_session_quit);
    tcase_add_test(commands, test_session_vrfy);
    tcase_add_test(commands, test_session_help);
    tcase_add_test(commands, test_session_verbs_any_case);
    tcase_add_test(commands, test_session_unknown_command);
    tcase_add_test(commands, test_session_bad_syntax);
    tcase_add_test(commands, test_session_enhanced_codes);
    tcase_add_test(commands, test_session_enhanced_codes_closing);
    tcase_add_test(commands, test_session_pipelined_in_order);
    tcase_add_test(commands, test_session_bare_lf_commands);
    tcase_add_test(commands, test_session_trace_lines);
    tcase_add_test(commands, test_session_line_too_long);
    tcase_add_test(commands, test_session_line_too_long_bounded);
    suite_add_tcase(suite, commands);

    tcase_add_checked_fixture(data, setup, teardown);
    add_data_tests(data);
    suite_add_tcase(suite, data);

    tcase_add_checked_fixture(data_windows, setup_windows, teardown);
    add_data_tests(data_windows);
    suite_add_tcase(suite, data_windows);

    tcase_add_checked_fixture(closing, setup, teardown);
    add_closing_tests(closing);
    suite_add_tcase(suite, closing);

    tcase_add_checked_fixture(closing_windows, setup_windows, teardown);
    add_closing_tests(closing_windows);
    suite_add_tcase(suite, closing_windows);

    tcase_add_checked_fixture(transcripts, setup, teardown);
    add_transcripts_tests(transcripts);
    suite_add_tcase(suite, transcripts);

    tcase_add_checked_fixture(transcripts_windows, setup_windows, teardown);
    add_transcripts_tests(transcripts_windows);
    suite_add_tcase(suite, transcripts_windows);

    tcase_add_checked_fixture(bdat, setup, teardown);
    add_bdat_tests(bdat);
    suite_add_tcase(suite, bdat);

    tcase_add_checked_fixture(bdat_windows, setup_windows, teardown);
    add_bdat_tests(bdat_windows);
    suite_add_tcase(suite, bdat_windows);

    tcase_add_checked_fixture(dsn, setup, teardown);
    tcase_add_test(dsn, test_session_dsn_mail_params);
    tcase_add_test(dsn, test_session_dsn_mail_params_invalid);
    tcase_add_test(dsn, test_session_dsn_rcpt_params);
    tcase_add_test(dsn, test_session_dsn_rcpt_params_late);
    tcase_add_test(dsn, test_session_dsn_rcpt_params_invalid);
    tcase_add_test(dsn, test_session_dsn_rcpt_unknown_param);
    tcase_add_test(dsn, test_session_dsn_rcpt_params_after_helo);
    suite_add_tcase(suite, dsn);

    tcase_add_checked_fixture(warnings, setup, teardown);
    add_warnings_tests(warnings);
    suite_add_tcase(suite, warnings);

    tcase_add_checked_fixture(warnings_windows, setup_windows, teardown);
    add_warnings_tests(warnings_windows);
    suite_add_tcase(suite, warnings_windows);

    tcase_add_checked_fixture(strict, setup, teardown);
    add_strict_tests(strict);
    suite_add_tcase(suite, strict);

    tcase_add_checked_fixture(strict_windows, setup_windows, teardown);
    add_strict_tests(strict_windows);
    suite_add_tcase(suite, strict_windows);

    tcase_add_checked_fixture(limits, setup, teardown);
    add_limits_tests(limits);
    suite_add_tcase(suite, limits);

    tcase_add_checked_fixture(limits_windows, setup_windows, teardown);
    add_limits_tests(limits_windows);
    suite_add_tcase(suite, limits_windows);

    tcase_add_checked_fixture(auth, setup, teardown);
    tcase_add_test(auth, test_session_auth_none);
    tcase_add_test(auth, test_session_auth_plain);
    tcase_add_test(auth, test_session_auth_plain_challenge);
    tcase_add_test(auth, test_session_auth_login);
    tcase_add_test(auth, test_session_auth_login_initial_response);
    tcase_add_test(auth, test_session_auth_cram_md5);
    tcase_add_test(auth, test_session_auth_retry_after_failure);
    tcase_add_test(auth, test_session_auth_twice);
    tcase_add_test(auth, test_session_auth_in_transaction);
    tcase_add_test(auth, test_session_auth_needs_ehlo);
    tcase_add_test(auth, test_session_auth_kept_by_ehlo_and_rset);
    tcase_add_test(auth, test_session_auth_errors);
    tcase_add_test(auth, test_session_auth_responses_not_commands);
    tcase_add_test(auth, test_session_auth_trace_hides_secrets);
    tcase_add_test(auth, test_session_auth_trace_hides_unawaited_responses);
    tcase_add_test(auth, test_session_auth_long_lines);
    tcase_add_test(auth, test_session_auth_long_line_bounded);
    tcase_add_test(auth, test_session_auth_required);
    tcase_add_test(auth, test_session_auth_mail_param);
    tcase_add_test(auth, test_session_auth_strict_bare_lf);
    tcase_add_test(auth, test_session_auth_max_errors);
    tcase_add_test(auth, test_session_free_in_auth);
    tcase_add_test(auth, test_session_abort_in_auth);
    suite_add_tcase(suite, auth);

    tcase_add_checked_fixture(auth_transcripts, setup_auth_transcript, teardown);
    tcase_add_test(auth_transcripts, test_session_auth_transcript_whole);
    tcase_add_test(auth_transcripts, test_session_auth_transcript_bytewise);
    tcase_add_loop_test(auth_transcripts, test_session_auth_transcript_split, 0,
                        (int)sizeof(auth_transcript));
    tcase_add_loop_test(auth_transcripts, test_session_auth_transcript_random, 0, 100);
    suite_add_tcase(suite, auth_transcripts);

    tcase_add_checked_fixture(starttls, setup_starttls, teardown);
    tcase_add_test(starttls, test_session_starttls_not_offered);
    tcase_add_test(starttls, test_session_starttls_offered);
    tcase_add_test(starttls, test_session_starttls_help);
    tcase_add_test(starttls, test_session_starttls_resets_session);
    tcase_add_test(starttls, test_session_starttls_pipelined_not_executed);
    tcase_add_test(starttls, test_session_starttls_errors);
    tcase_add_test(starttls, test_session_starttls_before_ehlo);
    tcase_add_test(starttls, test_session_starttls_twice);
    tcase_add_test(starttls, test_session_starttls_trace);
    tcase_add_test(starttls, test_session_require_tls);
    tcase_add_test(starttls, test_session_implicit_tls);
    tcase_add_test(starttls, test_session_abort_waiting_for_tls);
    suite_add_tcase(suite, starttls);

    return suite;
}
