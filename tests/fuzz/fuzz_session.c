/*
 * libFuzzer target for the SMTP session machine. Each input is fed to three
 * sessions: one gets it in a single feed, one in pieces whose size the
 * first input byte chooses, and one in the same pieces read into the
 * session's window whenever it offers one, as the server reads a plaintext
 * body. All must send the same replies and receive the same messages,
 * because a client's bytes may be split by the network anywhere. It also
 * checks the caller contract: a feed never consumes more than it was given.
 *
 * Bits of the first byte also turn on STARTTLS and AUTH rules. When a
 * session accepts STARTTLS, the harness reports TLS as started at once and
 * feeds it the bytes after the STARTTLS line, as if they were the
 * decrypted stream. The server discards those bytes instead, but that
 * depends on how reads split them, and the session cannot tell the two
 * apart: either way it consumed nothing past the line.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* What one session produced: its replies and a hash of its messages. */
struct run {
    struct sc_buf out;
    struct sc_buf pending;
    uint64_t digest;
    unsigned messages;
};

static void mix(uint64_t *h, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;

    for (size_t i = 0; i < len; i++)
        *h = (*h ^ p[i]) * 0x100000001b3ULL;
    *h = (*h ^ 0xff) * 0x100000001b3ULL;
}

static enum sc_verdict record_message(void *arg, struct sc_message *msg)
{
    struct run *r = arg;

    r->messages++;
    mix(&r->digest, msg->mail_from, strlen(msg->mail_from));
    for (size_t i = 0; i < msg->rcpt_to_len; i++)
        mix(&r->digest, msg->rcpt_to[i], strlen(msg->rcpt_to[i]));
    for (size_t i = 0; i < msg->mail_params_len; i++)
        mix(&r->digest, msg->mail_params[i].keyword, strlen(msg->mail_params[i].keyword));
    mix(&r->digest, msg->data, msg->size);
    mix(&r->digest, &msg->warnings, sizeof(msg->warnings));
    mix(&r->digest, &msg->ascii, sizeof(msg->ascii));
    return r->messages % 5 == 0 ? SC_TEMPFAIL : SC_ACCEPT;
}

/* Feed bytes after what is pending, as the server does. A STARTTLS that
 * got its 220 stops the feed; TLS then starts and the rest is fed again. */
static void feed(struct sc_session *s, struct run *r, const uint8_t *bytes, size_t len)
{
    size_t used;

    if (len > 0)
        sc_buf_append(&r->pending, bytes, len);
    while (r->pending.len > 0) {
        used = sc_session_feed(s, r->pending.data, r->pending.len, &r->out);
        if (used > r->pending.len)
            abort();
        sc_buf_consume(&r->pending, used);
        if (!sc_session_wants_tls(s))
            return;
        if (sc_session_tls_started(s, "TLSv1.3", "TLS_AES_128_GCM_SHA256") != 0 ||
            sc_session_wants_tls(s))
            abort();
    }
}

/* Feed bytes as the server reads them: into the window while the session
 * offers one and nothing is pending, a read at most the window's size. */
static void feed_windowed(struct sc_session *s, struct run *r, const uint8_t *bytes, size_t len)
{
    char *window;
    size_t room, n;

    while (len > 0 && r->pending.len == 0 && sc_session_window(s, &window, &room)) {
        if (room == 0)
            abort();
        n = len < room ? len : room;
        memcpy(window, bytes, n);
        if (sc_session_feed_window(s, n, &r->pending, &r->out) != 0)
            abort();
        bytes += n;
        len -= n;
        feed(s, r, NULL, 0);
    }
    feed(s, r, bytes, len);
}

static bool same_run(const struct run *a, const struct run *b)
{
    return a->messages == b->messages && a->digest == b->digest && a->out.len == b->out.len &&
           memcmp(a->out.data, b->out.data, a->out.len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sc_credential credential = {"user", "secret"};
    struct sc_limits limits = {.max_size = 16384, .max_line = 128, .max_rcpts = 5};
    struct sc_session_hooks hooks[3] = {{.on_message = record_message},
                                        {.on_message = record_message},
                                        {.on_message = record_message}};
    struct run runs[3] = {{{0}}};
    struct sc_session *sessions[3];
    size_t step, pos, piece, i;

    if (size == 0)
        return 0;

    /* The first byte chooses the piece size, the size limit and the TLS
     * and AUTH rules. Windows need room below the size limit, and a small
     * limit is soon reached. */
    step = (size_t)data[0] % 17 + 1;
    if (data[0] & 0x80)
        limits.max_size = 1024;
    if (data[0] & 0x40) {
        limits.starttls = true;
        limits.auth_tls_only = true;
    }
    if (data[0] & 0x20) {
        limits.require_tls = limits.starttls;
        limits.auth.required = true;
        limits.auth.credentials = &credential;
        limits.auth.credentials_len = 1;
    }
    for (i = 0; i < 3; i++) {
        hooks[i].arg = &runs[i];
        sessions[i] = sc_session_new(&limits, &hooks[i]);
        if (sessions[i] == NULL)
            abort();
        sc_session_greet(sessions[i], "fuzz.example", &runs[i].out);
    }

    feed(sessions[0], &runs[0], data + 1, size - 1);
    for (pos = 1; pos < size; pos += step) {
        piece = size - pos < step ? size - pos : step;
        feed(sessions[1], &runs[1], data + pos, piece);
        feed_windowed(sessions[2], &runs[2], data + pos, piece);
    }

    if (!same_run(&runs[0], &runs[1]) || !same_run(&runs[0], &runs[2]))
        abort();

    for (i = 0; i < 3; i++) {
        sc_session_free(sessions[i]);
        sc_buf_free(&runs[i].out);
        sc_buf_free(&runs[i].pending);
    }
    return 0;
}
