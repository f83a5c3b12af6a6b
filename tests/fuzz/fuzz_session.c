/*
 * libFuzzer target for the SMTP session machine. Each input is fed to two
 * sessions: one gets it in a single feed, the other in pieces whose size
 * the first input byte chooses. Both must send the same replies and
 * receive the same messages, because a client's bytes may be split by the
 * network anywhere. It also checks the caller contract: a feed never
 * consumes more than it was given.
 */
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
    return r->messages % 5 == 0 ? SC_TEMPFAIL : SC_ACCEPT;
}

/* Feed bytes after what is pending, as the server does. */
static void feed(struct sc_session *s, struct run *r, const uint8_t *bytes, size_t len)
{
    size_t used;

    sc_buf_append(&r->pending, bytes, len);
    if (r->pending.len == 0)
        return;
    used = sc_session_feed(s, r->pending.data, r->pending.len, &r->out);
    if (used > r->pending.len)
        abort();
    sc_buf_consume(&r->pending, used);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sc_limits limits = {.max_size = 4096, .max_line = 128, .max_rcpts = 5};
    struct sc_session_hooks hooks_whole = {.on_message = record_message};
    struct sc_session_hooks hooks_split = {.on_message = record_message};
    struct run whole = {0}, split = {0};
    struct sc_session *a, *b;
    size_t step, pos;

    if (size == 0)
        return 0;
    step = (size_t)data[0] % 17 + 1;
    hooks_whole.arg = &whole;
    hooks_split.arg = &split;
    a = sc_session_new(&limits, &hooks_whole);
    b = sc_session_new(&limits, &hooks_split);
    if (a == NULL || b == NULL)
        abort();
    sc_session_greet(a, "fuzz.example", &whole.out);
    sc_session_greet(b, "fuzz.example", &split.out);

    feed(a, &whole, data + 1, size - 1);
    for (pos = 1; pos < size; pos += step)
        feed(b, &split, data + pos, size - pos < step ? size - pos : step);

    if (whole.messages != split.messages || whole.digest != split.digest)
        abort();
    if (whole.out.len != split.out.len || memcmp(whole.out.data, split.out.data, whole.out.len) != 0)
        abort();

    sc_session_free(a);
    sc_session_free(b);
    sc_buf_free(&whole.out);
    sc_buf_free(&whole.pending);
    sc_buf_free(&split.out);
    sc_buf_free(&split.pending);
    return 0;
}
