/*
 * Message body reception: DATA decoding, size limit and line scanning.
 * Each line end is found once with memchr, and bytes are copied once, in
 * runs between line-start dots; byte-level checks run once per run.
 */
#include "body.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "message.h"

/* sc_body_trim frees a data buffer larger than this, so an idle session
 * does not keep the memory of its largest message. */
#define DATA_BUF_KEEP (64 * 1024)

/* The maximum size of one read into a window. Larger reads need fewer
 * system calls, and beyond about 1 MiB a 100 MiB message got no faster
 * (scripts/bench on 2 cores). */
#define WINDOW_MAX (1024 * 1024)

/* A declared SIZE= reserves at most this much at once, and a larger body
 * grows from there. A client that declares a huge size gets no huge
 * reservation before it has sent the bytes. */
#define RESERVE_MAX ((size_t)1024 * 1024 * 1024)

/* Less room than this before max_size is not worth a window. */
#define WINDOW_MIN 4096

/* Pages are mapped ahead of the reads once a body is this large, and at
 * most this far ahead. */
#define POPULATE_FROM (1024 * 1024)
#define POPULATE_MAX (2048 * 1024)

/* RFC 5322 section 2.1.1: a line has at most 998 characters before CRLF. */
#define RFC5322_MAX_LINE 998

/* Scan bytes one at a time: the tail of a run, or all of it without SSE2. */
static void scan_bytes_scalar(struct sc_body *b, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] & 0x80)
            b->eight_bit = true;
        else if (p[i] == 0)
            b->warnings |= SC_WARN_NUL_BYTE;
        else if (p[i] == '\r')
            b->cr_count++;
    }
}

/*
 * Note what stored bytes contain: 8-bit bytes, NUL, and how many CRs. One
 * pass over the run costs far less than a search per line. With SSE2
 * (every x86-64 CPU) it tests 16 bytes per step; CR counts gather in byte
 * lanes for at most 255 steps, then are summed.
 */
static void scan_bytes(struct sc_body *b, const unsigned char *p, size_t n)
{
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128(), cr = _mm_set1_epi8('\r');
    __m128i any = zero, nul = zero, counts, sums, v;
    size_t steps, k;

    while (n >= 16) {
        steps = n / 16 < 255 ? n / 16 : 255;
        counts = zero;
        for (k = 0; k < steps; k++, p += 16) {
            v = _mm_loadu_si128((const __m128i *)(const void *)p);
            any = _mm_or_si128(any, v);
            nul = _mm_or_si128(nul, _mm_cmpeq_epi8(v, zero));
            counts = _mm_sub_epi8(counts, _mm_cmpeq_epi8(v, cr));
        }
        sums = _mm_sad_epu8(counts, zero);
        b->cr_count += (unsigned)_mm_cvtsi128_si32(sums) + (unsigned)_mm_extract_epi16(sums, 4);
        n -= steps * 16;
    }
    if (_mm_movemask_epi8(any) != 0)
        b->eight_bit = true;
    if (_mm_movemask_epi8(nul) != 0)
        b->warnings |= SC_WARN_NUL_BYTE;
#endif
    scan_bytes_scalar(b, p, n);
}

/* Close the current line at an LF: check its ending and its length. */
static void end_line(struct sc_body *b, bool crlf)
{
    size_t content = b->line_len - (crlf ? 1 : 0);
    bool dot_line = content == 1 && b->line_first == '.';

    if (crlf)
        b->crlf_count++;
    else
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

/* Add n stored bytes starting with first to the current line. */
static void extend_line(struct sc_body *b, const char *first, size_t n)
{
    if (n == 0)
        return;
    if (b->line_len == 0)
        b->line_first = (unsigned char)*first;
    b->line_len += n;

    /* A line with no end in sight is flagged at once; one byte more is
     * allowed for a CR that an LF may follow. */
    if (b->max_line > 0 && b->line_len > b->max_line + 1)
        b->line_too_long = true;
}

/* Walk the lines of stored bytes that came as they are (BDAT). */
static void scan_lines(struct sc_body *b, const char *p, size_t n)
{
    const char *start = p, *end = p + n, *nl;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            extend_line(b, p, (size_t)(end - p));
            break;
        }
        extend_line(b, p, (size_t)(nl - p));
        end_line(b, nl > start ? nl[-1] == '\r' : b->scan_last_cr);
        p = nl + 1;
    }
    b->scan_last_cr = end[-1] == '\r';
}

/* Return true when bytes lie in the free space of the data buffer, which is
 * where a window is. */
static bool in_window(const struct sc_body *b, const char *bytes)
{
    uintptr_t at = (uintptr_t)bytes, start = (uintptr_t)b->data.data;

    /* Compared as integers: bytes usually points into another object. */
    return b->data.data != NULL && at >= start + b->data.len && at < start + b->data.cap;
}

/* Store bytes unless the message has outgrown max_size; past it the rest
 * is only discarded, so memory stays bounded. Bytes from a window are
 * already in place, or move down when a stuffed dot was removed before
 * them. */
static void store(struct sc_body *b, const char *bytes, size_t n)
{
    char *end;

    if (n == 0 || b->too_big)
        return;
    if (in_window(b, bytes)) {
        end = b->data.data + b->data.len;
        if (bytes != end)
            memmove(end, bytes, n);
        b->data.len += n;
        scan_bytes(b, (const unsigned char *)end, n);
        return;
    }
    if (n > b->max_size - b->data.len || sc_buf_append(&b->data, bytes, n) != 0) {
        b->too_big = true;
        sc_buf_free(&b->data);
        return;
    }
    scan_bytes(b, (const unsigned char *)bytes, n);
}

/*
 * Map the pages of a large body ahead of the reads, which costs less than
 * taking a page fault for each page (MADV_POPULATE_WRITE, Linux 5.14). The
 * pages mapped ahead are at most an eighth of the bytes stored and at most
 * POPULATE_MAX, so a body that arrives slowly keeps little memory it does
 * not use yet. Bodies under POPULATE_FROM are left alone.
 */
static void populate_ahead(struct sc_body *b)
{
#if defined(MADV_POPULATE_WRITE)
    static bool unsupported;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), start, end;
    size_t from, ahead, target;

    if (unsupported || b->data.len < POPULATE_FROM)
        return;
    ahead = b->data.len / 8 < POPULATE_MAX ? b->data.len / 8 : POPULATE_MAX;
    target = b->data.cap - b->data.len > ahead ? b->data.len + ahead : b->data.cap;
    from = b->populated > b->data.len ? b->populated : b->data.len;
    if (target <= from)
        return;

    /* madvise takes whole pages, so only the pages entirely inside are
     * mapped. The page that contains the last stored byte is mapped already. */
    start = ((uintptr_t)b->data.data + from + page - 1) & ~(page - 1);
    end = ((uintptr_t)b->data.data + target) & ~(page - 1);
    if (end > start && madvise((void *)start, end - start, MADV_POPULATE_WRITE) != 0)
        unsupported = true;
    b->populated = target;
#else
    (void)b;
#endif
}

bool sc_body_window(struct sc_body *b, char **at, size_t *len)
{
    size_t limit = b->max_size - b->data.len, want, room;

    if (b->too_big || limit < WINDOW_MIN)
        return false;

    /* The buffer grows geometrically, or once to the declared size, so
     * windows grow with the body and the buffer seldom moves. */
    if (b->data.cap - b->data.len < WINDOW_MIN) {
        want = b->data.len > WINDOW_MIN ? b->data.len : WINDOW_MIN;
        if (b->data.len == 0 && b->expected > want)
            want = b->expected < RESERVE_MAX ? b->expected : RESERVE_MAX;
        if (want > limit)
            want = limit;
        if (sc_buf_reserve(&b->data, want) != 0)
            return false;
    }

    room = b->data.cap - b->data.len;
    if (room > WINDOW_MAX)
        room = WINDOW_MAX;
    if (room > limit)
        room = limit;
    populate_ahead(b);

    *at = b->data.data + b->data.len;
    *len = room;
    return true;
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
    store(b, bytes, n);
    if (!b->too_big)
        scan_lines(b, bytes, n);
}

/*
 * A line starts only after CRLF (RFC 5321 section 2.3.8), so a '.' line
 * reached through a bare LF is content. At a line start, "." CRLF ends the
 * data, "." LF is kept as it is, and any other leading '.' is a stuffed dot
 * and is removed. Each line is found once, with memchr, and checked for
 * the warnings on the way.
 */
size_t sc_body_feed_dot(struct sc_body *b, const char *in, size_t len, bool *complete)
{
    size_t p = 0, run = 0, begin;
    const char *nl;
    bool crlf;

    *complete = false;
    while (p < len) {
        begin = p;
        if (b->line_start && in[p] == '.') {
            if (len - p < 2 || (in[p + 1] == '\r' && len - p < 3)) {
                store(b, in + run, p - run);
                return p;
            }
            if (in[p + 1] == '\r' && in[p + 2] == '\n') {
                store(b, in + run, p - run);
                *complete = true;
                return p + 3;
            }
            if (in[p + 1] != '\n') {
                store(b, in + run, p - run);
                run = p + 1;
                begin = p + 1;
            }
        }

        nl = memchr(in + p, '\n', len - p);
        if (nl == NULL) {
            /* The input ends inside a line, so a '.' in the next feed is
             * not at the start of one. */
            extend_line(b, in + begin, len - begin);
            b->line_start = false;
            p = len;
            break;
        }
        crlf = (nl > in) ? nl[-1] == '\r' : b->last_cr;
        extend_line(b, in + begin, (size_t)(nl - in) - begin);
        end_line(b, crlf);
        b->line_start = crlf;
        p = (size_t)(nl - in) + 1;
    }

    store(b, in + run, p - run);
    if (p > 0)
        b->last_cr = in[p - 1] == '\r';
    b->scan_last_cr = b->last_cr;
    return p;
}

void sc_body_end(struct sc_body *b)
{
    /* Every CR must be the first half of a CR LF pair. */
    if (b->cr_count > b->crlf_count)
        b->warnings |= SC_WARN_BARE_CR;
    if (b->max_line > 0 && b->line_len > b->max_line)
        b->line_too_long = true;
    if (b->line_len > RFC5322_MAX_LINE)
        b->warnings |= SC_WARN_LINE_OVER_998;
}

void sc_body_reset(struct sc_body *b)
{
    struct sc_buf keep = b->data;

    sc_buf_clear(&keep);
    memset(b, 0, sizeof(*b));
    b->data = keep;
}

void sc_body_trim(struct sc_body *b)
{
    if (b->data.cap > DATA_BUF_KEEP)
        sc_buf_free(&b->data);
}

void sc_body_free(struct sc_body *b)
{
    sc_buf_free(&b->data);
    memset(b, 0, sizeof(*b));
}
