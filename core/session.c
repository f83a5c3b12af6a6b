/*
 * The SMTP session state machine (RFC 5321, with PIPELINING, SIZE, 8BITMIME,
 * SMTPUTF8 and ENHANCEDSTATUSCODES). Only sc_enter() changes the state.
 * Command lines are found with memchr and parsed in place; message data is
 * copied once, into the session's data buffer, in runs between line-start
 * dots. The server layer owns the socket and calls sc_session_feed().
 */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "path.h"
#include "utf8.h"

/* A data buffer larger than this is freed after each message, so an idle
 * session does not keep the memory of its largest message. */
#define DATA_BUF_KEEP (64 * 1024)

enum sc_state {
    SC_FRESH,       /* Greeted; no HELO or EHLO yet. */
    SC_READY,       /* HELO or EHLO done; no transaction. */
    SC_MAIL,        /* MAIL accepted; no recipient yet. */
    SC_RCPT,        /* At least one recipient accepted. */
    SC_DATA,        /* Receiving message data after 354. */
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
    struct sc_buf data;         /* Message bytes after dot-unstuffing. */
    bool data_line_start;       /* The last data byte seen ended a CRLF line. */
    bool data_last_cr;          /* The last data byte seen was CR. */
    bool data_too_big;          /* Data passed max_size and is being discarded. */

    bool discarding_line;       /* Skipping the rest of an overlong command line. */
    bool draining;              /* The server is stopping: take no new transaction. */
};

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

/* Append one reply line, adding CRLF, and trace it. */
static void reply(struct sc_session *s, struct sc_buf *out, const char *line)
{
    size_t len = strlen(line);

    if (s->hooks.on_trace)
        s->hooks.on_trace(s->hooks.arg, SC_TRACE_OUT, line, len);
    if (sc_buf_append(out, line, len) != 0 || sc_buf_append(out, "\r\n", 2) != 0)
        sc_enter(s, SC_CLOSING);
}

/* Drop the transaction (sender, recipients, data) but keep the greeting. */
static void reset_transaction(struct sc_session *s)
{
    sc_message_reset(&s->msg);
    if (s->data.cap > DATA_BUF_KEEP)
        sc_buf_free(&s->data);
    else
        sc_buf_clear(&s->data);
    s->data_too_big = false;
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
    const char *v;
    unsigned long long size;
    char *end;

    /* MAIL parameters need EHLO, so after HELO they get 555 (RFC 1869, RFC 5321 4.1.1.11). */
    if (n > 0 && !s->msg.esmtp) {
        snprintf(line, sizeof(line), "555 5.5.4 MAIL parameter %.64s needs EHLO, but the "
                 "session began with HELO", params[0].keyword);
        reply(s, out, line);
        return false;
    }

    for (i = 0; i < n; i++) {
        v = params[i].value;
        if (strcmp(params[i].keyword, "SIZE") == 0) {
            if (v == NULL || v[strspn(v, "0123456789")] != '\0' || strlen(v) > 20) {
                reply(s, out, "501 5.5.4 Invalid SIZE value: expected a number of bytes");
                return false;
            }
            size = strtoull(v, &end, 10);
            if (size > s->limits.max_size) {
                snprintf(line, sizeof(line),
                         "552 5.3.4 Message size exceeds fixed maximum of %zu bytes",
                         s->limits.max_size);
                reply(s, out, line);
                return false;
            }
        } else if (strcmp(params[i].keyword, "BODY") == 0) {
            if (v == NULL || (strcasecmp(v, "7BIT") != 0 && strcasecmp(v, "8BITMIME") != 0)) {
                reply(s, out, "501 5.5.4 Invalid BODY value: expected 7BIT or 8BITMIME");
                return false;
            }
        } else if (strcmp(params[i].keyword, "SMTPUTF8") == 0) {
            if (v != NULL) {
                reply(s, out, "501 5.5.4 SMTPUTF8 takes no value");
                return false;
            }
        } else {
            snprintf(line, sizeof(line), "555 5.5.4 Unsupported MAIL parameter %.64s",
                     params[i].keyword);
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
        reply(s, out, "421 4.3.2 Service shutting down, try again later");
        sc_enter(s, SC_CLOSING);
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

    if (s->state != SC_MAIL && s->state != SC_RCPT) {
        reply(s, out, "503 5.5.1 Send MAIL first");
        return;
    }
    if (!match_prefix(arg, len, "TO:", &rest, &rest_len)) {
        reply(s, out, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    if (s->msg.rcpt_to_len >= s->limits.max_rcpts) {
        reply(s, out, "452 4.5.3 Too many recipients");
        return;
    }
    err = sc_parse_path_and_params(rest, rest_len, SC_FORWARD_PATH, &path, &params, &params_len);
    if (err != SC_PATH_OK) {
        reply_path_error(s, err, false, out);
        return;
    }
    if (params_len > 0) {
        snprintf(line, sizeof(line), "555 5.5.4 Unsupported RCPT parameter %.64s",
                 params[0].keyword);
        reply(s, out, line);
        free(path);
        sc_free_params(params, params_len);
        return;
    }
    if (sc_message_add_rcpt(&s->msg, path) != 0) {
        free(path);
        reply(s, out, "451 4.3.0 Out of memory, try again later");
        return;
    }

    reply(s, out, "250 2.1.5 Recipient OK");
    sc_enter(s, SC_RCPT);
}

static void cmd_data(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    if (!arg_empty(arg, len)) {
        reply(s, out, "501 5.5.4 DATA takes no argument");
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

    sc_buf_clear(&s->data);
    s->data_line_start = true;
    s->data_last_cr = false;
    s->data_too_big = false;
    reply(s, out, "354 End data with <CR><LF>.<CR><LF>");
    sc_enter(s, SC_DATA);
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

static void cmd_help(struct sc_session *s, const char *arg, size_t len, struct sc_buf *out)
{
    (void)arg;
    (void)len;
    reply(s, out, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
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
    {"BDAT", cmd_not_implemented},
    {"AUTH", cmd_not_implemented},
    {"STARTTLS", cmd_not_implemented},
};

/* Run one command line, given without its line ending. */
static void run_command(struct sc_session *s, const char *line, size_t len, struct sc_buf *out)
{
    size_t verb_len = 0, i;
    const char *arg;
    size_t arg_len;

    if (s->hooks.on_trace)
        s->hooks.on_trace(s->hooks.arg, SC_TRACE_IN, line, len);

    while (verb_len < len && line[verb_len] != ' ' && line[verb_len] != '\t')
        verb_len++;

    /* RFC 5321 puts one space before the argument; clients that send more
     * are accepted, since nothing is ambiguous about it. */
    arg = line + verb_len;
    arg_len = len - verb_len;
    while (arg_len > 0 && (*arg == ' ' || *arg == '\t')) {
        arg++;
        arg_len--;
    }

    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strlen(commands[i].verb) == verb_len &&
            strncasecmp(commands[i].verb, line, verb_len) == 0) {
            commands[i].run(s, arg, arg_len, out);
            return;
        }
    }
    reply(s, out, "500 5.5.1 Unknown command");
}

/* Hand the completed message to the hook and reply with its verdict. */
static void finish_message(struct sc_session *s, struct sc_buf *out)
{
    char line[128];
    enum sc_verdict verdict;

    if (s->data_too_big) {
        snprintf(line, sizeof(line), "552 5.3.4 Message too big: the maximum is %zu bytes",
                 s->limits.max_size);
        reply(s, out, line);
        reset_transaction(s);
        sc_enter(s, SC_READY);
        return;
    }

    s->msg.data = s->data.data ? s->data.data : "";
    s->msg.size = s->data.len;
    verdict = s->hooks.on_message(s->hooks.arg, &s->msg);
    reset_transaction(s);

    switch (verdict) {
    case SC_ACCEPT:
        reply(s, out, "250 2.0.0 Message accepted");
        sc_enter(s, SC_READY);
        break;
    case SC_TEMPFAIL:
        reply(s, out, "451 4.3.0 Message could not be stored, try again later");
        sc_enter(s, SC_READY);
        break;
    case SC_SHUTDOWN:
    default:
        reply(s, out, "421 4.3.2 Service shutting down, message not accepted; try again later");
        sc_enter(s, SC_CLOSING);
        break;
    }
}

/* Append a run of message bytes unless the message has outgrown max_size,
 * in which case the rest is only discarded: memory stays bounded. */
static void append_data(struct sc_session *s, const char *bytes, size_t n)
{
    if (n == 0 || s->data_too_big)
        return;
    if (n > s->limits.max_size - s->data.len) {
        s->data_too_big = true;
        sc_buf_free(&s->data);
        return;
    }
    if (sc_buf_append(&s->data, bytes, n) != 0) {
        s->data_too_big = true;
        sc_buf_free(&s->data);
    }
}

/*
 * Consume message data up to and including the end marker <CRLF>.<CRLF>.
 * A line starts only after CRLF (RFC 5321 section 2.3.8), so a '.' line
 * reached through a bare LF is content. At a line start, "." CRLF ends the
 * data, "." LF is kept as it is, and any other leading '.' is a stuffed dot
 * and is removed. Returns the bytes consumed; up to two bytes (".", ".\r")
 * are left when they might begin the end marker.
 */
static size_t feed_data(struct sc_session *s, const char *in, size_t len, struct sc_buf *out)
{
    size_t p = 0, run = 0;
    const char *nl;

    while (p < len) {
        if (s->data_line_start && in[p] == '.') {
            if (len - p < 2 || (in[p + 1] == '\r' && len - p < 3)) {
                append_data(s, in + run, p - run);
                return p;
            }
            if (in[p + 1] == '\r' && in[p + 2] == '\n') {
                append_data(s, in + run, p - run);
                finish_message(s, out);
                return p + 3;
            }
            if (in[p + 1] != '\n') {
                append_data(s, in + run, p - run);
                run = p + 1;
            }
        }

        nl = memchr(in + p, '\n', len - p);
        if (nl == NULL) {
            /* The input ends inside a line, so a '.' in the next feed is
             * not at the start of one. */
            s->data_line_start = false;
            p = len;
            break;
        }
        s->data_line_start = (nl > in) ? nl[-1] == '\r' : s->data_last_cr;
        p = (size_t)(nl - in) + 1;
    }

    append_data(s, in + run, p - run);
    s->data_last_cr = in[p - 1] == '\r';
    return p;
}

/*
 * Consume command lines. A line ends at LF, with or without CR before it.
 * A line longer than max_line is discarded up to its LF and answered with
 * 500 5.5.2, so a client cannot make the session buffer without bound.
 */
static size_t feed_commands(struct sc_session *s, const char *in, size_t len, struct sc_buf *out)
{
    const char *nl;
    size_t line_len, consumed = 0;

    while (consumed < len && s->state != SC_DATA && s->state != SC_CLOSING) {
        nl = memchr(in + consumed, '\n', len - consumed);
        if (nl == NULL) {
            if (s->discarding_line || len - consumed >= s->limits.max_line) {
                s->discarding_line = true;
                return len;
            }
            return consumed;
        }

        line_len = (size_t)(nl - (in + consumed));
        if (s->discarding_line || line_len + 1 > s->limits.max_line) {
            s->discarding_line = false;
            reply(s, out, "500 5.5.2 Line too long");
        } else {
            if (line_len > 0 && in[consumed + line_len - 1] == '\r')
                line_len--;
            run_command(s, in + consumed, line_len, out);
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
        else
            n = feed_commands(s, in + consumed, len - consumed, out);

        if (n == 0)
            break;
        consumed += n;
    }
    return consumed;
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
    free(s->msg.helo);
    sc_buf_free(&s->data);
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
    sc_enter(s, SC_CLOSING);
}

bool sc_session_closing(const struct sc_session *s)
{
    return s->state == SC_CLOSING;
}

bool sc_session_in_data(const struct sc_session *s)
{
    return s->state == SC_DATA;
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
