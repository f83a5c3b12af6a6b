/*
 * The SMTP session state machine (RFC 5321, with PIPELINING, SIZE, 8BITMIME,
 * SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING, BINARYMIME, DSN, AUTH and
 * STARTTLS). Only
 * sc_enter() changes the state. Command lines are found with memchr and
 * parsed in place. body.c receives the message body, and auth.c checks the
 * SASL responses of AUTH. The server layer owns the socket and calls
 * sc_session_feed().
 */
#include "session.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "body.h"
#include "params.h"
#include "path.h"
#include "utf8.h"

enum sc_state {
    SC_FRESH,       /* Greeted; no HELO or EHLO yet. */
    SC_READY,       /* HELO or EHLO done; no transaction. */
    SC_MAIL,        /* MAIL accepted; no recipient yet. */
    SC_RCPT,        /* At least one recipient accepted. */
    SC_DATA,        /* Receiving message data after 354. */
    SC_CHUNK,       /* Reading the bytes of one BDAT chunk. */
    SC_BDAT,        /* Between BDAT chunks of one transaction. */
    SC_AUTH,        /* AUTH sent a 334: the next line is a SASL response. */
    SC_TLS_WAIT,    /* STARTTLS sent its 220: no input until TLS has started. */
    SC_CLOSING,     /* QUIT or 421 sent; input is ignored. */
};

/* One SMTP session. It owns msg and data; it borrows hostname and the
 * client address from the server layer, which outlives it. */
struct sc_session {
    enum sc_state state;
    struct sc_limits limits;
    struct sc_session_hooks hooks;
    const char *hostname;

    struct sc_message msg;
    struct sc_body body;
    struct sc_auth_exchange auth;   /* The AUTH exchange while in SC_AUTH. */

    /* The BDAT chunk being read. Its reply is sent once all its bytes are in. */
    unsigned long long chunk_left;
    bool chunk_last;            /* BDAT ... LAST: the chunk ends the message. */
    const char *chunk_error;    /* Reply for a rejected BDAT, whose bytes are discarded. */
    enum sc_state chunk_return; /* State after a rejected chunk. */

    unsigned errors;            /* 5xx replies sent, for max_errors. */
    const char *close_reason;   /* Reason the session is closing, for logs. */
    bool discarding_line;       /* Skipping the rest of an overlong command line. */
    bool discarding_auth;       /* That line is an AUTH command or response. */
    bool draining;              /* The server is stopping: take no new transaction. */
    unsigned lines_after_failed_auth;   /* Lines to trace as a placeholder: see hide_auth_responses. */
    char *tls_version;          /* Set by sc_session_tls_started; msg points to both. */
    char *tls_cipher;
};

static void finish_chunk(struct sc_session *s, struct sc_buf *out);

typedef void (*command_fn)(struct sc_session *s, const char *arg, size_t arg_len,
                           struct sc_buf *out);

struct command {
    const char *verb;
    command_fn run;
};

static void sc_enter(struct sc_session *s, enum sc_state state)
{
    s->state = state;
}

static void append_line(struct sc_session *s, struct sc_buf *out, const char *line)
{
    size_t len = strlen(line);

    if (s->hooks.on_trace)
        s->hooks.on_trace(s->hooks.arg, SC_TRACE_OUT, line, len);
    if (sc_buf_append(out, line, len) != 0 || sc_buf_append(out, "\r\n", 2) != 0)
        sc_enter(s, SC_CLOSING);
}

/* Append one reply line, adding CRLF, and trace it. A client that has
 * drawn max_errors 5xx replies is disconnected, as a client looping on bad
 * commands would otherwise keep the session busy forever. A 4xx reply does
 * not count, because a correct client meets one in normal use: RFC 5321
 * section 4.5.3.1.10 has it send its recipients past a 452 in another
 * transaction. */
static void reply(struct sc_session *s, struct sc_buf *out, const char *line)
{
    append_line(s, out, line);
    if (line[0] != '5')
        return;

    s->errors++;
    if (s->limits.max_errors > 0 && s->errors >= s->limits.max_errors &&
        s->state != SC_CLOSING) {
        append_line(s, out, "421 4.7.0 Too many errors in this session, closing connection");
        s->close_reason = "too-many-errors";
        sc_enter(s, SC_CLOSING);
    }
}

/* Refuse to start sending a message because the server is stopping. */
static void reply_draining(struct sc_session *s, struct sc_buf *out)
{
    reply(s, out, "421 4.3.2 Service shutting down, try again later");
    s->close_reason = "server-stop";
    sc_enter(s, SC_CLOSING);
}

/* Drop the transaction (sender, recipients, data) but keep the greeting. */
static void reset_transaction(struct sc_session *s)
{
    sc_message_reset(&s->msg);
    sc_body_reset(&s->body);
}

static bool arg_empty(const char *arg, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (arg[i] != ' ' && arg[i] != '\t')
            return false;
    }
    return true;
}

/* Store the HELO or EHLO argument. Returns false after replying 501. */
static bool take_helo_name(struct sc_session *s, const char *arg, size_t len, bool esmtp,
                           struct sc_buf *out)
{
    size_t i;
    char *name;

    while (len > 0 && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
        len--;
    if (arg_empty(arg, len)) {
        reply(s, out, esmtp ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
        return false;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f)
            break;
    }
    if (i < len || !sc_utf8_valid(arg, len)) {
        reply(s, out, "501 5.5.4 Invalid hostname: control characters or invalid UTF-8");
        return false;
    }

    name = malloc(len + 1);
    if (name == NULL) {
        reply(s, out, "421 4.3.0 Out of memory, closing connection");
        sc_enter(s, SC_CLOSING);
        return false;
    }
    memcpy(name, arg, len);
    name[len] = '\0';
    free(s->msg.helo);
    s->msg.helo = name;
    s->msg.esmtp = esmtp;
    return true;
}

/* EHLO starts a session over, as RSET does, and lists the extensions. */
static void cmd_ehlo(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    char line[128];

    if (!take_helo_name(s, arg, len, true, out))
        return;

    reset_transaction(s);
    snprintf(line, sizeof(line), "250-%s", s->hostname);
    reply(s, out, line);
    reply(s, out, "250-PIPELINING");
    snprintf(line, sizeof(line), "250-SIZE %zu", s->limits.max_size);
    reply(s, out, line);
    reply(s, out, "250-8BITMIME");
    reply(s, out, "250-SMTPUTF8");
    reply(s, out, "250-ENHANCEDSTATUSCODES");
    reply(s, out, "250-CHUNKING");
    reply(s, out, "250-BINARYMIME");
    reply(s, out, "250-DSN");
    /* RFC 3207 section 4.2: STARTTLS is not offered again over TLS. */
    if (s->limits.starttls && s->tls_version == NULL)
        reply(s, out, "250-STARTTLS");
    if (!s->limits.auth_tls_only || s->tls_version != NULL)
        reply(s, out, "250-AUTH " SC_AUTH_MECHANISMS);
    reply(s, out, "250 HELP");
    sc_enter(s, SC_READY);
}

static void cmd_helo(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    char line[128];

    if (!take_helo_name(s, arg, len, false, out))
        return;

    reset_transaction(s);
    snprintf(line, sizeof(line), "250 %s", s->hostname);
    reply(s, out, line);
    sc_enter(s, SC_READY);
}

/* Match "FROM:" or "TO:" at the start of arg, ignoring case. On success the
 * remaining text is returned through rest and rest_len. */
static bool match_prefix(const char *arg, size_t len, const char *prefix, const char **rest,
                         size_t *rest_len)
{
    size_t n = strlen(prefix);

    if (len < n || strncasecmp(arg, prefix, n) != 0)
        return false;
    *rest = arg + n;
    *rest_len = len - n;
    return true;
}

/* Check the MAIL parameters against the greeting and the extensions this
 * server offers. Returns false after replying. */
static bool check_mail_params(struct sc_session *s, const struct sc_param *params, size_t n,
                              struct sc_buf *out)
{
    char line[160];
    size_t i;

    /* MAIL parameters need EHLO, so after HELO they get 555 (RFC 1869, RFC 5321 4.1.1.11). */
    if (n > 0 && !s->msg.esmtp) {
        snprintf(line, sizeof(line), "555 5.5.4 MAIL parameter %.64s needs EHLO, but the "
                 "session began with HELO", params[0].keyword);
        reply(s, out, line);
        return false;
    }

    for (i = 0; i < n; i++) {
        if (sc_check_mail_param(&params[i], s->limits.max_size, line, sizeof(line)) != NULL) {
            reply(s, out, line);
            return false;
        }
    }
    return true;
}

/* Reply to a failed path or parameter parse. A bad sender address gets the
 * enhanced code 5.1.7, a bad recipient address 5.1.3. */
static void reply_path_error(struct sc_session *s, enum sc_path_error err, bool sender,
                             struct sc_buf *out)
{
    switch (err) {
    case SC_PATH_NOMEM:
        reply(s, out, "451 4.3.0 Out of memory, try again later");
        break;
    case SC_PATH_MISSING:
        reply(s, out, sender ? "501 5.5.4 Syntax: MAIL FROM:<address>"
                             : "501 5.5.4 Syntax: RCPT TO:<address>");
        break;
    case SC_PATH_NULL_REJECTED:
        reply(s, out, "501 5.1.3 The null address <> is not a valid recipient");
        break;
    case SC_PATH_NO_DOMAIN:
        reply(s, out, sender ? "501 5.1.7 Invalid sender address: a domain is required, "
                               "as in user@example.com"
                             : "501 5.1.3 Invalid recipient address: a domain is required, "
                               "as in user@example.com");
        break;
    case SC_PATH_NOT_UTF8:
        reply(s, out, sender ? "501 5.1.7 Invalid sender address: not valid UTF-8"
                             : "501 5.1.3 Invalid recipient address: not valid UTF-8");
        break;
    case SC_PARAM_SYNTAX:
        reply(s, out, "501 5.5.4 Invalid parameter syntax: expected KEYWORD or KEYWORD=value");
        break;
    case SC_PARAM_DUPLICATE:
        reply(s, out, "501 5.5.4 Parameter given twice");
        break;
    case SC_PATH_SYNTAX:
    default:
        reply(s, out, sender ? "501 5.1.7 Invalid sender address syntax"
                             : "501 5.1.3 Invalid recipient address syntax");
        break;
    }
}

static void cmd_mail(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    const char *rest;
    size_t rest_len, params_len = 0;
    char *path = NULL;
    struct sc_param *params = NULL;
    enum sc_path_error err;

    if (s->state == SC_FRESH) {
        reply(s, out, "503 5.5.1 Send HELO or EHLO first");
        return;
    }
    if (s->state != SC_READY) {
        reply(s, out, "503 5.5.1 Sender already given; send RSET to start over");
        return;
    }
    if (s->draining) {
        reply_draining(s, out);
        return;
    }
    if (s->limits.require_tls && s->tls_version == NULL) {
        reply(s, out, "530 5.7.0 Must issue a STARTTLS command first");
        return;
    }
    if (s->limits.auth.required && s->msg.auth.mechanism == NULL) {
        reply(s, out, "530 5.7.0 Authentication required");
        return;
    }
    if (!match_prefix(arg, len, "FROM:", &rest, &rest_len)) {
        reply(s, out, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    err = sc_parse_path_and_params(rest, rest_len, SC_REVERSE_PATH, &path, &params, &params_len);
    if (err != SC_PATH_OK) {
        reply_path_error(s, err, true, out);
        return;
    }
    if (!check_mail_params(s, params, params_len, out)) {
        free(path);
        sc_free_params(params, params_len);
        return;
    }

    s->msg.mail_from = path;
    s->msg.mail_params = params;
    s->msg.mail_params_len = params_len;
    reply(s, out, "250 2.1.0 Sender OK");
    sc_enter(s, SC_MAIL);
}

static void cmd_rcpt(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    const char *rest;
    size_t rest_len, params_len = 0;
    char *path = NULL;
    struct sc_param *params = NULL;
    enum sc_path_error err;
    char line[160];
    size_t i;

    if (s->state == SC_BDAT) {
        reply(s, out, "503 5.5.1 RCPT cannot follow BDAT in one transaction");
        return;
    }
    if (s->state != SC_MAIL && s->state != SC_RCPT) {
        reply(s, out, "503 5.5.1 Send MAIL first");
        return;
    }
    if (!match_prefix(arg, len, "TO:", &rest, &rest_len)) {
        reply(s, out, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    err = sc_parse_path_and_params(rest, rest_len, SC_FORWARD_PATH, &path, &params, &params_len);
    if (err != SC_PATH_OK) {
        reply_path_error(s, err, false, out);
        return;
    }
    /* As for MAIL, parameters need EHLO (RFC 5321 section 4.1.1.11). */
    if (params_len > 0 && !s->msg.esmtp) {
        snprintf(line, sizeof(line), "555 5.5.4 RCPT parameter %.64s needs EHLO, but the "
                 "session began with HELO", params[0].keyword);
        reply(s, out, line);
        free(path);
        sc_free_params(params, params_len);
        return;
    }
    for (i = 0; i < params_len; i++) {
        if (sc_check_rcpt_param(&params[i], line, sizeof(line)) != NULL) {
            reply(s, out, line);
            free(path);
            sc_free_params(params, params_len);
            return;
        }
    }
    /* Checked last, so a malformed recipient past the limit still gets its
     * own 501 or 555, which counts toward max_errors, and not a 452. */
    if (s->msg.rcpt_to_len >= s->limits.max_rcpts) {
        free(path);
        sc_free_params(params, params_len);
        reply(s, out, "452 4.5.3 Too many recipients");
        return;
    }
    if (sc_message_add_rcpt_params(&s->msg, path, params, params_len) != 0) {
        free(path);
        sc_free_params(params, params_len);
        reply(s, out, "451 4.3.0 Out of memory, try again later");
        return;
    }

    reply(s, out, "250 2.1.5 Recipient OK");
    sc_enter(s, SC_RCPT);
}

/* Return true when the transaction declared BODY=BINARYMIME. */
static bool body_is_binary(const struct sc_session *s)
{
    const struct sc_param *body = sc_message_find_param(&s->msg, "BODY");

    return body != NULL && body->value != NULL && strcasecmp(body->value, "BINARYMIME") == 0;
}

/* Start receiving a body, sized for the SIZE= the client declared (RFC 1870). */
static void begin_body(struct sc_session *s)
{
    const struct sc_param *size = sc_message_find_param(&s->msg, "SIZE");

    sc_body_begin(&s->body, s->limits.max_size, s->limits.max_data_line);
    if (size != NULL && size->value != NULL)
        s->body.expected = (size_t)strtoull(size->value, NULL, 10);
}

static void cmd_data(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    if (!arg_empty(arg, len)) {
        reply(s, out, "501 5.5.4 DATA takes no argument");
        return;
    }
    if (s->state == SC_BDAT) {
        reply(s, out, "503 5.5.1 DATA cannot follow BDAT in one transaction");
        return;
    }
    if (s->state == SC_MAIL) {
        reply(s, out, "503 5.5.1 Send RCPT first: no valid recipients");
        return;
    }
    if (s->state != SC_RCPT) {
        reply(s, out, "503 5.5.1 Send MAIL first");
        return;
    }
    /* RFC 3030 section 3: binary content can only come by BDAT. */
    if (body_is_binary(s)) {
        reply(s, out, "503 5.5.1 BODY=BINARYMIME needs BDAT, not DATA");
        return;
    }
    if (s->draining) {
        reply_draining(s, out);
        return;
    }

    begin_body(s);
    reply(s, out, "354 End data with <CR><LF>.<CR><LF>");
    sc_enter(s, SC_DATA);
}

/* Parse the chunk size at the start of a BDAT argument, 1*DIGIT in RFC
 * 3030 with no upper bound. A size past ULLONG_MAX becomes ULLONG_MAX.
 * Since no client can send that many bytes, the rest of the connection is
 * then chunk data and never runs as commands. Returns the number of digits
 * read, or 0 when there is no size. */
static size_t parse_bdat_size(const char *arg, size_t len, unsigned long long *size)
{
    size_t digits = 0;
    unsigned long long value = 0;
    unsigned digit;

    for (; digits < len && arg[digits] >= '0' && arg[digits] <= '9'; digits++) {
        digit = (unsigned)(arg[digits] - '0');
        value = value > (ULLONG_MAX - digit) / 10 ? ULLONG_MAX : value * 10 + digit;
    }
    if (digits == 0 || (digits < len && arg[digits] != ' ' && arg[digits] != '\t'))
        return 0;
    *size = value;
    return digits;
}

/* Parse what follows the size: nothing or "LAST" (RFC 3030), with any
 * spaces around it. Returns false on a syntax error. */
static bool parse_bdat_last(const char *rest, size_t len, bool *last)
{
    while (len > 0 && (rest[0] == ' ' || rest[0] == '\t')) {
        rest++;
        len--;
    }
    while (len > 0 && (rest[len - 1] == ' ' || rest[len - 1] == '\t'))
        len--;
    *last = len == 4 && strncasecmp(rest, "LAST", 4) == 0;
    return len == 0 || *last;
}

/* Start discarding the chunk of a BDAT line that is rejected as a whole
 * (bad syntax, a bare LF under --strict), when its size can be read. Its
 * bytes follow the line, so skipping them keeps the session in step.
 * Returns false when the line is no BDAT with a size. */
static bool discard_rejected_chunk(struct sc_session *s, const char *line, size_t len,
                                   const char *error, struct sc_buf *out)
{
    unsigned long long size;
    size_t digits;

    if (len < 5 || strncasecmp(line, "BDAT", 4) != 0 || (line[4] != ' ' && line[4] != '\t'))
        return false;
    line += 5;
    len -= 5;
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    digits = parse_bdat_size(line, len, &size);
    if (digits == 0)
        return false;

    s->chunk_left = size;
    s->chunk_last = false;
    s->chunk_error = error;
    s->chunk_return = s->state;
    sc_enter(s, SC_CHUNK);
    if (size == 0)
        finish_chunk(s, out);
    return true;
}

/*
 * BDAT n [LAST]: the next n bytes are message content, taken as they are.
 * A rejected BDAT still has its bytes read and discarded, because the
 * client may already have sent them (RFC 3030 section 3); the reply to any
 * BDAT is sent once its bytes are in.
 */
static void cmd_bdat(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    static const char syntax_error[] = "501 5.5.4 Syntax: BDAT size [LAST]";
    unsigned long long size = 0;
    size_t digits = parse_bdat_size(arg, len, &size);
    bool last;

    if (digits == 0) {
        reply(s, out, syntax_error);
        return;
    }
    if (s->draining && (s->state == SC_RCPT || s->state == SC_BDAT)) {
        reply_draining(s, out);
        return;
    }

    s->chunk_left = size;
    s->chunk_last = false;
    s->chunk_error = NULL;
    s->chunk_return = s->state;
    if (!parse_bdat_last(arg + digits, len - digits, &last))
        s->chunk_error = syntax_error;
    else if (s->state == SC_MAIL)
        s->chunk_error = "503 5.5.1 Send RCPT first: no valid recipients";
    else if (s->state != SC_RCPT && s->state != SC_BDAT)
        s->chunk_error = "503 5.5.1 Send MAIL first";
    else if (s->state == SC_RCPT)
        begin_body(s);
    s->chunk_last = last;

    sc_enter(s, SC_CHUNK);
    if (size == 0)
        finish_chunk(s, out);
}

static void cmd_rset(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    if (!arg_empty(arg, len)) {
        reply(s, out, "501 5.5.4 RSET takes no argument");
        return;
    }

    reset_transaction(s);
    reply(s, out, "250 2.0.0 OK");
    sc_enter(s, s->state == SC_FRESH ? SC_FRESH : SC_READY);
}

/* NOOP may carry a string, which RFC 5321 says to ignore. */
static void cmd_noop(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    (void)arg;
    (void)len;
    reply(s, out, "250 2.0.0 OK");
}

static void cmd_quit(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    if (!arg_empty(arg, len)) {
        reply(s, out, "501 5.5.4 QUIT takes no argument");
        return;
    }

    reply(s, out, "221 2.0.0 Bye");
    s->close_reason = "quit";
    sc_enter(s, SC_CLOSING);
}

/* A test server cannot verify mailboxes; 252 is the RFC 5321 reply for that. */
static void cmd_vrfy(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    if (arg_empty(arg, len)) {
        reply(s, out, "501 5.5.4 Syntax: VRFY address");
        return;
    }
    reply(s, out, "252 2.5.0 Cannot verify the user, but will accept the message");
}

/* HELP names STARTTLS and AUTH only where EHLO would offer them. */
static void cmd_help(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    bool starttls = s->limits.starttls && s->tls_version == NULL;
    bool auth = !s->limits.auth_tls_only || s->tls_version != NULL;
    char line[128];

    (void)arg;
    (void)len;
    snprintf(line, sizeof(line), "214 2.0.0 Commands: EHLO HELO%s%s MAIL RCPT DATA BDAT RSET "
             "NOOP QUIT VRFY HELP", starttls ? " STARTTLS" : "", auth ? " AUTH" : "");
    reply(s, out, line);
}

/* A client that sends its SASL responses without waiting for each 334 has
 * them run as commands when its AUTH fails. The trace then shows a
 * placeholder for up to this many lines that are not commands, since they
 * may carry a password. LOGIN takes the most: two. */
#define AUTH_RESPONSES_MAX 2

static void hide_auth_responses(struct sc_session *s)
{
    s->lines_after_failed_auth = AUTH_RESPONSES_MAX;
}

/* Reply to an AUTH command that is rejected before its exchange starts. */
static void reject_auth(struct sc_session *s, struct sc_buf *out, const char *line)
{
    reply(s, out, line);
    hide_auth_responses(s);
}

/* End the AUTH exchange, after its last reply was sent. */
static void end_auth(struct sc_session *s)
{
    sc_auth_exchange_reset(&s->auth);
    if (s->state == SC_AUTH)
        sc_enter(s, SC_READY);
}

/* Send the reply of one AUTH step and move on: a 334 waits for the next
 * response, anything else ends the exchange. */
static void auth_reply(struct sc_session *s, enum sc_auth_status status, const char *line,
                       struct sc_buf *out)
{
    reply(s, out, line);
    if (status == SC_AUTH_FAILURE)
        hide_auth_responses(s);
    if (status == SC_AUTH_CONTINUE && s->state != SC_CLOSING)
        sc_enter(s, SC_AUTH);
    else
        end_auth(s);
}

/*
 * AUTH mechanism [initial-response] (RFC 4954 section 4). It needs EHLO. It
 * is rejected with 503 after a successful AUTH and during a transaction, as
 * the RFC requires.
 */
static void cmd_auth(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    char line[SC_AUTH_REPLY_MAX];
    enum sc_auth_status status;

    if (s->state == SC_FRESH || !s->msg.esmtp) {
        reject_auth(s, out, "503 5.5.1 Send EHLO first: AUTH is an ESMTP extension");
        return;
    }
    if (s->msg.auth.mechanism != NULL) {
        reject_auth(s, out, "503 5.5.1 Already authenticated");
        return;
    }
    if (s->state != SC_READY) {
        reject_auth(s, out, "503 5.5.1 AUTH is not allowed during a mail transaction");
        return;
    }
    /* RFC 4954 section 6: 538 when the mechanisms need an encrypted session. */
    if (s->limits.auth_tls_only && s->tls_version == NULL) {
        reject_auth(s, out, "538 5.7.11 Encryption required: send STARTTLS before AUTH");
        return;
    }

    status = sc_auth_start(&s->auth, &s->limits.auth, s->hostname, arg, len, &s->msg.auth,
                           line, sizeof(line));
    auth_reply(s, status, line, out);
}

/* Take one line of an AUTH exchange. It is a SASL response, not a command,
 * and may carry a password, so the trace shows a placeholder. */
static void take_auth_response(struct sc_session *s, const char *text, size_t len,
                               struct sc_buf *out)
{
    static const char placeholder[] = "[AUTH response]";
    char line[SC_AUTH_REPLY_MAX];
    enum sc_auth_status status;

    if (s->hooks.on_trace) {
        if (len == 1 && text[0] == '*')
            s->hooks.on_trace(s->hooks.arg, SC_TRACE_IN, "*", 1);
        else
            s->hooks.on_trace(s->hooks.arg, SC_TRACE_IN, placeholder, sizeof(placeholder) - 1);
    }

    status = sc_auth_step(&s->auth, text, len, &s->msg.auth, line, sizeof(line));
    auth_reply(s, status, line, out);
}

/*
 * STARTTLS (RFC 3207). After the 220 the session consumes nothing more
 * until the server reports the handshake with sc_session_tls_started. It
 * is accepted before EHLO too, as the RFC does not forbid it. Without
 * limits.starttls it is not advertised and gets 502.
 */
static void cmd_starttls(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    if (!s->limits.starttls) {
        reply(s, out, "502 5.5.1 Command not implemented");
        return;
    }
    if (!arg_empty(arg, len)) {
        reply(s, out, "501 5.5.4 STARTTLS takes no argument");
        return;
    }
    if (s->tls_version != NULL) {
        reply(s, out, "503 5.5.1 TLS already started");
        return;
    }
    if (s->state != SC_FRESH && s->state != SC_READY) {
        reply(s, out, "503 5.5.1 STARTTLS is not allowed during a mail transaction");
        return;
    }

    reply(s, out, "220 2.0.0 Ready to start TLS");
    if (s->state != SC_CLOSING)
        sc_enter(s, SC_TLS_WAIT);
}

/* Commands from RFC 5321 and its extensions that this server does not offer. */
static void cmd_not_implemented(struct sc_session *s, const char *arg, size_t len,
                                struct sc_buf *out)
{
    (void)arg;
    (void)len;
    reply(s, out, "502 5.5.1 Command not implemented");
}

static const struct command commands[] = {
    {"EHLO", cmd_ehlo},
    {"HELO", cmd_helo},
    {"MAIL", cmd_mail},
    {"RCPT", cmd_rcpt},
    {"DATA", cmd_data},
    {"RSET", cmd_rset},
    {"NOOP", cmd_noop},
    {"QUIT", cmd_quit},
    {"VRFY", cmd_vrfy},
    {"HELP", cmd_help},
    {"EXPN", cmd_not_implemented},
    {"TURN", cmd_not_implemented},
    {"ETRN", cmd_not_implemented},
    {"BDAT", cmd_bdat},
    {"AUTH", cmd_auth},
    {"STARTTLS", cmd_starttls},
};

/* Trace a command line. An AUTH line loses its initial response, which
 * contains the password in base64. */
static void trace_command(struct sc_session *s, const char *line, size_t len, size_t verb_len)
{
    static const char redacted[] = " [initial response]";
    char text[96 + sizeof(redacted)];
    size_t end = verb_len, rest;

    if (s->hooks.on_trace == NULL)
        return;
    if (verb_len == 4 && strncasecmp(line, "AUTH", 4) == 0) {
        while (end < len && (line[end] == ' ' || line[end] == '\t'))
            end++;
        while (end < len && line[end] != ' ' && line[end] != '\t')
            end++;
        for (rest = end; rest < len && (line[rest] == ' ' || line[rest] == '\t'); rest++)
            ;
        if (rest < len) {
            if (end > 96)
                end = 96;
            memcpy(text, line, end);
            memcpy(text + end, redacted, sizeof(redacted) - 1);
            s->hooks.on_trace(s->hooks.arg, SC_TRACE_IN, text, end + sizeof(redacted) - 1);
            return;
        }
    }
    s->hooks.on_trace(s->hooks.arg, SC_TRACE_IN, line, len);
}

/* Run one command line, given without its line ending. */
static void run_command(struct sc_session *s, const char *line, size_t len, struct sc_buf *out)
{
    static const char hidden[] = "[line after a failed AUTH]";
    const struct command *command = NULL;
    size_t verb_len = 0, i;
    const char *arg;
    size_t arg_len;

    while (verb_len < len && line[verb_len] != ' ' && line[verb_len] != '\t')
        verb_len++;
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strlen(commands[i].verb) == verb_len &&
            strncasecmp(commands[i].verb, line, verb_len) == 0) {
            command = &commands[i];
            break;
        }
    }

    if (command == NULL && s->lines_after_failed_auth > 0) {
        s->lines_after_failed_auth--;
        if (s->hooks.on_trace && len == 1 && line[0] == '*')
            s->hooks.on_trace(s->hooks.arg, SC_TRACE_IN, "*", 1);
        else if (s->hooks.on_trace)
            s->hooks.on_trace(s->hooks.arg, SC_TRACE_IN, hidden, sizeof(hidden) - 1);
    } else {
        s->lines_after_failed_auth = 0;
        trace_command(s, line, len, verb_len);
    }

    /* RFC 5321 puts one space before the argument; clients that send more
     * are accepted, since nothing is ambiguous about it. */
    arg = line + verb_len;
    arg_len = len - verb_len;
    while (arg_len > 0 && (*arg == ' ' || *arg == '\t')) {
        arg++;
        arg_len--;
    }

    if (command != NULL)
        command->run(s, arg, arg_len, out);
    else
        reply(s, out, "500 5.5.1 Unknown command");
}

/* Return true when s has a byte above 0x7F. */
static bool has_non_ascii(const char *text)
{
    for (; *text != '\0'; text++) {
        if ((unsigned char)*text >= 0x80)
            return true;
    }
    return false;
}

/* Work out the warnings that depend on the envelope as well as the body. */
static unsigned message_warnings(const struct sc_session *s)
{
    const struct sc_param *body = sc_message_find_param(&s->msg, "BODY");
    unsigned warnings = s->body.warnings;
    bool utf8_address = has_non_ascii(s->msg.mail_from);
    size_t i;

    /* Bare CR and LF are content in a BINARYMIME body (RFC 3030). */
    if (body_is_binary(s))
        warnings &= ~(unsigned)(SC_WARN_BARE_LF | SC_WARN_BARE_CR | SC_WARN_NUL_BYTE |
                                SC_WARN_LINE_OVER_998 | SC_WARN_DOT_LINE_BARE_LF);
    /* BDAT data has no end marker, so no "." line could end it early. */
    if (s->state == SC_CHUNK)
        warnings &= ~(unsigned)SC_WARN_DOT_LINE_BARE_LF;
    if (s->body.eight_bit && (body == NULL || body->value == NULL ||
                              strcasecmp(body->value, "7BIT") == 0))
        warnings |= SC_WARN_8BIT_WITHOUT_8BITMIME;

    for (i = 0; i < s->msg.rcpt_to_len && !utf8_address; i++)
        utf8_address = has_non_ascii(s->msg.rcpt_to[i]);
    if (utf8_address && sc_message_find_param(&s->msg, "SMTPUTF8") == NULL)
        warnings |= SC_WARN_UTF8_WITHOUT_SMTPUTF8;
    return warnings;
}

/* Return the reply that rejects a complete body, or NULL to deliver it. */
static const char *check_body(struct sc_session *s, char *line, size_t size)
{
    if (s->body.too_big) {
        snprintf(line, size, "552 5.3.4 Message too big: the maximum is %zu bytes",
                 s->limits.max_size);
        return line;
    }
    if (s->body.line_too_long && !body_is_binary(s)) {
        snprintf(line, size, "552 5.3.4 Message has a line longer than the maximum of "
                 "%zu bytes", s->limits.max_data_line);
        return line;
    }
    if (s->limits.strict && !body_is_binary(s) &&
        (s->body.warnings & (SC_WARN_BARE_LF | SC_WARN_BARE_CR)))
        return "550 5.6.0 Message has a bare LF or bare CR; RFC 5321 requires CRLF line "
               "endings";
    return NULL;
}

/* Hand the completed message to the hook and reply with its verdict. */
static void finish_message(struct sc_session *s, struct sc_buf *out)
{
    char line[160];
    const char *rejection;
    enum sc_verdict verdict;

    sc_body_end(&s->body);
    rejection = check_body(s, line, sizeof(line));
    if (rejection != NULL) {
        reply(s, out, rejection);
        reset_transaction(s);
        if (s->state != SC_CLOSING)
            sc_enter(s, SC_READY);
        return;
    }

    s->msg.data = s->body.data.data ? s->body.data.data : "";
    s->msg.size = s->body.data.len;
    s->msg.warnings = message_warnings(s);
    s->msg.ascii = !s->body.eight_bit;
    s->msg.chunked = s->state == SC_CHUNK;
    verdict = s->hooks.on_message(s->hooks.arg, &s->msg);
    reset_transaction(s);

    switch (verdict) {
    case SC_ACCEPT:
        reply(s, out, "250 2.0.0 Message accepted");
        sc_enter(s, SC_READY);
        break;
    case SC_TEMPFAIL:
        reply(s, out, "451 4.3.0 Message could not be stored, try again later");
        if (s->state != SC_CLOSING)
            sc_enter(s, SC_READY);
        break;
    case SC_SHUTDOWN:
    default:
        reply(s, out, "421 4.3.2 Service shutting down, message not accepted; try again later");
        s->close_reason = "server-stop";
        sc_enter(s, SC_CLOSING);
        break;
    }
}

static size_t feed_data(struct sc_session *s, const char *in, size_t len, struct sc_buf *out)
{
    bool complete;
    size_t used = sc_body_feed_dot(&s->body, in, len, &complete);

    if (complete)
        finish_message(s, out);
    return used;
}

/* Reply to a chunk whose bytes are all in. */
static void finish_chunk(struct sc_session *s, struct sc_buf *out)
{
    char line[96];

    if (s->chunk_error != NULL) {
        reply(s, out, s->chunk_error);
        /* RFC 3030 section 3: a 4xx or 5xx reply to a BDAT fails the
         * transaction, so the chunks after it in the pipeline get 503 and
         * are discarded, and no message lacking this chunk is accepted.
         * Before any recipient there is no message to lose, and the sender
         * stays, as after a DATA that comes too early. */
        if (s->chunk_return == SC_RCPT || s->chunk_return == SC_BDAT) {
            reset_transaction(s);
            s->chunk_return = SC_READY;
        }
        if (s->state != SC_CLOSING)
            sc_enter(s, s->chunk_return);
        return;
    }
    if (s->chunk_last) {
        finish_message(s, out);
        return;
    }
    /* RFC 3030 section 3: after a failed chunk the transaction is over, and
     * later chunks already in the pipeline get 503 and are discarded. */
    if (s->body.too_big || (s->body.line_too_long && !body_is_binary(s))) {
        finish_message(s, out);
        return;
    }

    snprintf(line, sizeof(line), "250 2.0.0 %zu octets received", s->body.data.len);
    reply(s, out, line);
    if (s->state != SC_CLOSING)
        sc_enter(s, SC_BDAT);
}

/* Consume the bytes of the current BDAT chunk. */
static size_t feed_chunk(struct sc_session *s, const char *in, size_t len, struct sc_buf *out)
{
    size_t n = s->chunk_left < len ? (size_t)s->chunk_left : len;

    if (s->chunk_error == NULL)
        sc_body_append(&s->body, in, n);
    s->chunk_left -= n;
    if (s->chunk_left == 0)
        finish_chunk(s, out);
    return n;
}

/* Return true when the bytes at line, of which avail are in, begin an AUTH
 * command. A line's length is judged only once the line is complete or
 * max_line bytes of it are in, far more than 5, so a cut before the fifth
 * byte cannot change the result. */
static bool is_auth_command(const char *line, size_t avail)
{
    return avail >= 5 && strncasecmp(line, "AUTH", 4) == 0 && (line[4] == ' ' || line[4] == '\t');
}

/* Return the longest line allowed at line, with its line ending, and
 * whether it belongs to AUTH. An AUTH command and the responses after it
 * may be longer than other commands (RFC 4954 section 4). */
/* RFC 4954 section 4 lets an AUTH line carry 12288 bytes before its line
 * ending, whichever ending it has. line_limit allows for a CRLF, which
 * leaves one byte too many for a line that ends in a bare LF. */
static bool auth_line_too_long(const struct sc_session *s, bool auth, const char *line,
                               size_t line_len)
{
    size_t content = line_len > 0 && line[line_len - 1] == '\r' ? line_len - 1 : line_len;

    return auth && s->limits.max_line < SC_AUTH_MAX_LINE + 2 && content > SC_AUTH_MAX_LINE;
}

static size_t line_limit(const struct sc_session *s, const char *line, size_t avail, bool *auth)
{
    *auth = s->state == SC_AUTH || is_auth_command(line, avail);
    if (*auth && s->limits.max_line < SC_AUTH_MAX_LINE + 2)
        return SC_AUTH_MAX_LINE + 2;
    return s->limits.max_line;
}

/* Reply to a line that was too long and has been discarded. */
static void reject_long_line(struct sc_session *s, bool auth, struct sc_buf *out)
{
    if (!auth) {
        reply(s, out, "500 5.5.2 Line too long");
        return;
    }
    reply(s, out, "500 5.5.6 Authentication exchange line is too long");
    hide_auth_responses(s);
    end_auth(s);
}

/* Reply to a line ending in a bare LF under --strict. */
static void reject_bare_lf(struct sc_session *s, const char *line, size_t len, struct sc_buf *out)
{
    static const char bare_lf[] = "500 5.5.2 Line ends in a bare LF; RFC 5321 requires CRLF";

    if (s->state == SC_AUTH) {
        reply(s, out, bare_lf);
        hide_auth_responses(s);
        end_auth(s);
        return;
    }
    /* An AUTH command rejected here may be followed by its responses. */
    if (is_auth_command(line, len))
        hide_auth_responses(s);
    if (!discard_rejected_chunk(s, line, len, bare_lf, out))
        reply(s, out, bare_lf);
}

/*
 * Consume command lines, and the response lines of an AUTH exchange. A
 * line ends at LF, with or without CR before it. A line longer than its
 * limit is discarded up to its LF and rejected with 500, so a client
 * cannot make the session buffer without bound.
 */
static size_t feed_commands(struct sc_session *s, const char *in, size_t len, struct sc_buf *out)
{
    const char *nl, *line;
    size_t line_len, limit, consumed = 0;
    bool auth;

    while (consumed < len && s->state != SC_DATA && s->state != SC_CHUNK &&
           s->state != SC_CLOSING && s->state != SC_TLS_WAIT) {
        line = in + consumed;
        nl = memchr(line, '\n', len - consumed);
        limit = line_limit(s, line, len - consumed, &auth);
        if (nl == NULL) {
            if (!s->discarding_line && len - consumed >= limit) {
                s->discarding_line = true;
                s->discarding_auth = auth;
            }
            return s->discarding_line ? len : consumed;
        }

        line_len = (size_t)(nl - line);
        if (s->discarding_line || line_len + 1 > limit ||
            auth_line_too_long(s, auth, line, line_len)) {
            if (s->discarding_line)
                auth = s->discarding_auth;
            s->discarding_line = false;
            reject_long_line(s, auth, out);
        } else if (s->limits.strict && (line_len == 0 || line[line_len - 1] != '\r')) {
            /* RFC 5321 section 2.3.8: lines end in CRLF, and --strict
             * enforces it. */
            reject_bare_lf(s, line, line_len, out);
        } else {
            if (line_len > 0 && line[line_len - 1] == '\r')
                line_len--;
            if (s->state == SC_AUTH)
                take_auth_response(s, line, line_len, out);
            else
                run_command(s, line, line_len, out);
        }
        consumed = (size_t)(nl - in) + 1;
    }
    return consumed;
}

size_t sc_session_feed(struct sc_session *s, const char *in, size_t len, struct sc_buf *out)
{
    size_t consumed = 0, n;

    while (consumed < len) {
        if (s->state == SC_CLOSING)
            return len;

        if (s->state == SC_DATA)
            n = feed_data(s, in + consumed, len - consumed, out);
        else if (s->state == SC_CHUNK)
            n = feed_chunk(s, in + consumed, len - consumed, out);
        else
            n = feed_commands(s, in + consumed, len - consumed, out);

        if (n == 0)
            break;
        consumed += n;
    }
    return consumed;
}

void sc_session_trim(struct sc_session *s)
{
    if (!sc_session_in_data(s))
        sc_body_trim(&s->body);
}

bool sc_session_window(struct sc_session *s, char **at, size_t *len)
{
    if (s->state == SC_DATA)
        return sc_body_window(&s->body, at, len);
    if (s->state != SC_CHUNK || s->chunk_error != NULL || s->chunk_left == 0 ||
        !sc_body_window(&s->body, at, len))
        return false;

    /* A read past the chunk would put the next command into the body. */
    if (*len > s->chunk_left)
        *len = (size_t)s->chunk_left;
    return true;
}

int sc_session_feed_window(struct sc_session *s, size_t n, struct sc_buf *rest, struct sc_buf *out)
{
    char *at = s->body.data.data + s->body.data.len;
    size_t used;
    bool complete;

    if (s->state == SC_CHUNK) {
        feed_chunk(s, at, n, out);
        return 0;
    }

    /* The bytes the body leaves are copied out before the message is
     * finished, because the next body reuses the buffer they are in. */
    used = sc_body_feed_dot(&s->body, at, n, &complete);
    if (used < n && sc_buf_append(rest, at + used, n - used) != 0)
        return -1;
    if (complete)
        finish_message(s, out);
    return 0;
}

void sc_limits_init(struct sc_limits *limits)
{
    memset(limits, 0, sizeof(*limits));
    limits->max_size = SC_DEFAULT_MAX_SIZE;
    limits->max_line = SC_DEFAULT_MAX_LINE;
    limits->max_rcpts = SC_DEFAULT_MAX_RCPTS;
    limits->max_data_line = SC_DEFAULT_MAX_DATA_LINE;
    limits->max_errors = SC_DEFAULT_MAX_ERRORS;
    limits->auth.make_challenge = sc_auth_random_challenge;
}

struct sc_session *sc_session_new(const struct sc_limits *limits,
                                  const struct sc_session_hooks *hooks)
{
    struct sc_session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->limits = *limits;
    s->hooks = *hooks;
    s->hostname = "localhost";
    sc_enter(s, SC_FRESH);
    return s;
}

void sc_session_free(struct sc_session *s)
{
    if (s == NULL)
        return;
    sc_message_reset(&s->msg);
    sc_auth_result_clear(&s->msg.auth);
    free(s->msg.helo);
    sc_body_free(&s->body);
    sc_auth_exchange_reset(&s->auth);
    free(s->tls_version);
    free(s->tls_cipher);
    free(s);
}

void sc_session_greet(struct sc_session *s, const char *hostname, struct sc_buf *out)
{
    char line[160];

    s->hostname = hostname;
    snprintf(line, sizeof(line), "220 %s ESMTP smtpcatch", hostname);
    reply(s, out, line);
}

void sc_session_abort(struct sc_session *s, const char *code_and_text, struct sc_buf *out)
{
    char line[160];

    if (s->state == SC_CLOSING)
        return;
    snprintf(line, sizeof(line), "421 %s", code_and_text);
    reply(s, out, line);
    reset_transaction(s);
    sc_auth_exchange_reset(&s->auth);
    sc_enter(s, SC_CLOSING);
}

bool sc_session_closing(const struct sc_session *s)
{
    return s->state == SC_CLOSING;
}

bool sc_session_in_data(const struct sc_session *s)
{
    return s->state == SC_DATA || s->state == SC_CHUNK || s->state == SC_BDAT;
}

bool sc_session_saw_dot_line_bare_lf(const struct sc_session *s)
{
    return s->state == SC_DATA && (s->body.warnings & SC_WARN_DOT_LINE_BARE_LF);
}

const char *sc_session_close_reason(const struct sc_session *s)
{
    return s->close_reason != NULL ? s->close_reason : "error";
}

void sc_session_set_draining(struct sc_session *s)
{
    s->draining = true;
}

void sc_session_set_client(struct sc_session *s, const char *address, int port)
{
    s->msg.client_address = address;
    s->msg.client_port = port;
}

bool sc_session_wants_tls(const struct sc_session *s)
{
    return s->state == SC_TLS_WAIT;
}

int sc_session_tls_started(struct sc_session *s, const char *version, const char *cipher)
{
    char *version_copy = strdup(version), *cipher_copy = strdup(cipher);

    if (version_copy == NULL || cipher_copy == NULL) {
        free(version_copy);
        free(cipher_copy);
        return -1;
    }

    free(s->tls_version);
    free(s->tls_cipher);
    s->tls_version = version_copy;
    s->tls_cipher = cipher_copy;
    s->msg.tls_version = version_copy;
    s->msg.tls_cipher = cipher_copy;

    /* RFC 3207 section 4.2: drop everything the client sent before TLS. */
    reset_transaction(s);
    sc_auth_exchange_reset(&s->auth);
    sc_auth_result_clear(&s->msg.auth);
    free(s->msg.helo);
    s->msg.helo = NULL;
    s->msg.esmtp = false;
    if (s->state != SC_CLOSING)
        sc_enter(s, SC_FRESH);
    return 0;
}
