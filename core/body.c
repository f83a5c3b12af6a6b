/*
 * Message body reception: DATA decoding, size limit and line scanning.
 * Bytes are found with memchr and copied once, in runs between line-start
 * dots; the scan for warnings stops looking for a deviation once seen.
 */
#include "body.h"

#include <stdint.h>
#include <string.h>

#include "message.h"

/* A data buffer larger than this is freed after each message, so an idle
 * session does not keep the memory of its largest message. */
#define DATA_BUF_KEEP (64 * 1024)

/* RFC 5322 section 2.1.1: a line has at most 998 characters before CRLF. */
#define RFC5322_MAX_LINE 998

static bool has_high_bit(const unsigned char *p, size_t n)
{
    uint64_t word;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&word, p + i, 8);
        if (word & 0x8080808080808080ULL)
            return true;
    }
    for (; i < n; i++) {
        if (p[i] & 0x80)
            return true;
    }
    return false;
}

/* Note a CR at p that is not directly followed by LF within [p, end). */
static void scan_bare_cr(struct sc_body *b, const unsigned char *p, const unsigned char *end)
{
    const unsigned char *cr;

    while (!(b->warnings & SC_WARN_BARE_CR) &&
           (cr = memchr(p, '\r', (size_t)(end - p))) != NULL) {
        if (cr + 1 < end && cr[1] != '\n')
            b->warnings |= SC_WARN_BARE_CR;
        p = cr + 1;
    }
}

/* Close the current line at an LF: check its ending and its length. */
static void end_line(struct sc_body *b, bool crlf)
{
    size_t content = b->line_len - (crlf ? 1 : 0);
    bool dot_line = content == 1 && b->line_first == '.';

    if (!crlf)
        b->warnings |= SC_WARN_BARE_LF;
    if (content > RFC5322_MAX_LINE)
        b->warnings |= SC_WARN_LINE_OVER_998;
    if (b->max_line > 0 && content > b->max_line)
        b->line_too_long = true;
    if (dot_line && (!crlf || b->prev_bare_lf))
        b->warnings |= SC_WARN_DOT_LINE_BARE_LF;

    b->prev_bare_lf = !crlf;
    b->line_len = 0;
}

/* Scan stored bytes for line structure and 8-bit content. */
static void scan(struct sc_body *b, const unsigned char *p, size_t n)
{
    const unsigned char *start = p, *end = p + n, *nl;
    bool crlf;

    if (n == 0)
        return;
    if (!b->eight_bit && has_high_bit(p, n))
        b->eight_bit = true;
    if (!(b->warnings & SC_WARN_NUL_BYTE) && memchr(p, 0, n) != NULL)
        b->warnings |= SC_WARN_NUL_BYTE;
    if (b->scan_last_cr && p[0] != '\n')
        b->warnings |= SC_WARN_BARE_CR;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (b->line_len == 0 && (nl == NULL || nl > p))
            b->line_first = p[0];
        if (nl == NULL) {
            scan_bare_cr(b, p, end);
            b->line_len += (size_t)(end - p);
            break;
        }

        scan_bare_cr(b, p, nl);
        crlf = nl > start ? nl[-1] == '\r' : b->scan_last_cr;
        b->line_len += (size_t)(nl - p);
        end_line(b, crlf);
        p = nl + 1;
    }
    b->scan_last_cr = end[-1] == '\r';
    if (b->max_line > 0 && b->line_len > b->max_line + 1)
        b->line_too_long = true;
}

void sc_body_begin(struct sc_body *b, size_t max_size, size_t max_line)
{
    sc_body_reset(b);
    b->max_size = max_size;
    b->max_line = max_line;
    b->line_start = true;
}

void sc_body_append(struct sc_body *b, const char *bytes, size_t n)
{
    if (n == 0 || b->too_big)
        return;
    if (n > b->max_size - b->data.len || sc_buf_append(&b->data, bytes, n) != 0) {
        /* Past the limit the rest is only discarded, so memory stays bounded. */
        b->too_big = true;
        sc_buf_free(&b->data);
        return;
    }
    scan(b, (const unsigned char *)bytes, n);
}

/*
 * A line starts only after CRLF (RFC 5321 section 2.3.8), so a '.' line
 * reached through a bare LF is content. At a line start, "." CRLF ends the
 * data, "." LF is kept as it is, and any other leading '.' is a stuffed dot
 * and is removed.
 */
size_t sc_body_feed_dot(struct sc_body *b, const char *in, size_t len, bool *complete)
{
    size_t p = 0, run = 0;
    const char *nl;

    *complete = false;
    while (p < len) {
        if (b->line_start && in[p] == '.') {
            if (len - p < 2 || (in[p + 1] == '\r' && len - p < 3)) {
                sc_body_append(b, in + run, p - run);
                return p;
            }
            if (in[p + 1] == '\r' && in[p + 2] == '\n') {
                sc_body_append(b, in + run, p - run);
                *complete = true;
                return p + 3;
            }
            if (in[p + 1] != '\n') {
                sc_body_append(b, in + run, p - run);
                run = p + 1;
            }
        }

        nl = memchr(in + p, '\n', len - p);
        if (nl == NULL) {
            /* The input ends inside a line, so a '.' in the next feed is
             * not at the start of one. */
            b->line_start = false;
            p = len;
            break;
        }
        b->line_start = (nl > in) ? nl[-1] == '\r' : b->last_cr;
        p = (size_t)(nl - in) + 1;
    }

    sc_body_append(b, in + run, p - run);
    if (p > 0)
        b->last_cr = in[p - 1] == '\r';
    return p;
}

void sc_body_end(struct sc_body *b)
{
    if (b->scan_last_cr)
        b->warnings |= SC_WARN_BARE_CR;
    if (b->max_line > 0 && b->line_len > b->max_line)
        b->line_too_long = true;
    if (b->line_len > RFC5322_MAX_LINE)
        b->warnings |= SC_WARN_LINE_OVER_998;
}

void sc_body_reset(struct sc_body *b)
{
    struct sc_buf keep = b->data;

    if (keep.cap > DATA_BUF_KEEP)
        sc_buf_free(&keep);
    sc_buf_clear(&keep);
    memset(b, 0, sizeof(*b));
    b->data = keep;
}

void sc_body_free(struct sc_body *b)
{
    sc_buf_free(&b->data);
    memset(b, 0, sizeof(*b));
}
