/*
 * Tests of the SMTP session state machine (core/session.c). Each test feeds
 * client bytes through sc_session_feed() the way the server does: bytes a
 * feed did not consume are passed again, followed by the next bytes. Replies
 * are collected in one buffer and every completed message is copied by the
 * message hook, so a test can compare both after the session has moved on.
 */
#include <check.h>
#include <stdbool.h>
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
};

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
}

/* Start over with other limits. */
static void restart(const struct sc_limits *limits)
{
    harness_free(&harness);
    harness_init(&harness, limits);
}

/*
 * Pass bytes to the session as the server does, after what is pending from
 * earlier feeds. The session gets an exact-size copy, so ASan reports any
 * read past the end of its input.
 */
static void feed(struct harness *h, const char *bytes, size_t len)
{
    char *copy;
    size_t consumed;

    ck_assert_int_eq(sc_buf_append(&h->pending, bytes, len), 0);
    if (h->pending.len == 0)
        return;

    copy = malloc(h->pending.len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, h->pending.data, h->pending.len);
    consumed = sc_session_feed(h->session, copy, h->pending.len, &h->replies);
    free(copy);

    ck_assert_uint_le(consumed, h->pending.len);
    sc_buf_consume(&h->pending, consumed);
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
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=10000\r\n", SENDER_OK);
}
END_TEST

START_TEST(test_session_mail_param_values)
{
    begin_ehlo();
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE=12x\r\n",
                    "501 5.5.4 Invalid SIZE value: expected a number of bytes\r\n");
    ASSERT_EXCHANGE("MAIL FROM:<a@example.com> SIZE\r\n",
                    "501 5.5.4 Invalid SIZE value: expected a number of bytes\r\n");
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
                    "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP\r\n");
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

START_TEST(test_session_transcript_whole)
{
    feed(&harness, transcript, sizeof(transcript) - 1);
    check_transcript(&harness);
}
END_TEST

START_TEST(test_session_transcript_bytewise)
{
    size_t i;

    for (i = 0; i < sizeof(transcript) - 1; i++)
        feed(&harness, transcript + i, 1);
    check_transcript(&harness);
}
END_TEST

/* Run once per cut point _i, from 0 to the transcript length. */
START_TEST(test_session_transcript_split)
{
    size_t cut = (size_t)_i, len = sizeof(transcript) - 1;

    feed(&harness, transcript, cut);
    feed(&harness, transcript + cut, len - cut);
    check_transcript(&harness);
}
END_TEST

/* Run once per seed _i. rand() is seeded with it, so a failing iteration
 * reproduces. */
START_TEST(test_session_transcript_random)
{
    size_t done = 0, piece, len = sizeof(transcript) - 1;

    srand((unsigned)_i + 1);
    while (done < len) {
        piece = 1 + (size_t)rand() % 48;
        if (piece > len - done)
            piece = len - done;
        feed(&harness, transcript + done, piece);
        done += piece;
    }
    check_transcript(&harness);
}
END_TEST

Suite *suite_session(void)
{
    Suite *suite = suite_create("session");
    TCase *commands = tcase_create("commands");
    TCase *data = tcase_create("data");
    TCase *closing = tcase_create("closing");
    TCase *transcripts = tcase_create("transcript");

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
    tcase_add_test(data, test_session_data_dot_unstuffing);
    tcase_add_test(data, test_session_data_empty_message);
    tcase_add_loop_test(data, test_session_data_lone_dot_kept, 0,
                        (int)(sizeof(lone_dots) / sizeof(lone_dots[0])));
    tcase_add_test(data, test_session_data_byte_exact);
    tcase_add_test(data, test_session_data_dot_mid_line_split);
    tcase_add_test(data, test_session_data_end_split);
    tcase_add_test(data, test_session_several_messages);
    tcase_add_test(data, test_session_free_in_data);
    tcase_add_test(data, test_session_data_at_max_size);
    tcase_add_test(data, test_session_data_too_big);
    suite_add_tcase(suite, data);

    tcase_add_checked_fixture(closing, setup, teardown);
    tcase_add_test(closing, test_session_abort);
    tcase_add_test(closing, test_session_abort_in_data);
    tcase_add_test(closing, test_session_draining);
    tcase_add_test(closing, test_session_draining_mid_transaction);
    tcase_add_test(closing, test_session_verdict_tempfail);
    tcase_add_test(closing, test_session_verdict_shutdown);
    suite_add_tcase(suite, closing);

    tcase_add_checked_fixture(transcripts, setup, teardown);
    tcase_add_test(transcripts, test_session_transcript_whole);
    tcase_add_test(transcripts, test_session_transcript_bytewise);
    tcase_add_loop_test(transcripts, test_session_transcript_split, 0, (int)sizeof(transcript));
    tcase_add_loop_test(transcripts, test_session_transcript_random, 0, 300);
    suite_add_tcase(suite, transcripts);

    return suite;
}
