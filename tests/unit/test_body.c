/*
 * Tests of message body reception (core/body.c), called directly with no
 * session. DATA input goes through sc_body_feed_dot() and BDAT input
 * through sc_body_append(), each whole and split at every byte offset, and
 * both must report the same data and the same warnings.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "buf.h"
#include "message.h"
#include "suites.h"

#define MAX_SIZE 100000

/* Lines of 10 to 999 bytes, for the line length rules. */
#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X990 X100 X100 X100 X100 X100 X100 X100 X100 X100 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X998 X990 "xxxxxxxx"
#define X999 X998 "x"

/* What one body produced, copied so that the body can be freed. Owns data. */
struct body_result {
    char *data;
    size_t size;
    unsigned warnings;
    bool eight_bit;
    bool too_big;
    bool line_too_long;
};

static struct sc_body body;

static void setup(void)
{
    memset(&body, 0, sizeof(body));
    sc_body_begin(&body, MAX_SIZE, 0);
}

static void teardown(void)
{
    sc_body_free(&body);
}

static void result_free(struct body_result *r)
{
    free(r->data);
    memset(r, 0, sizeof(*r));
}

/* Finish the scan of b and copy its data and flags into r. */
static void take_result(struct sc_body *b, struct body_result *r)
{
    sc_body_end(b);
    r->size = b->data.len;
    r->data = malloc(r->size + 1);
    ck_assert_ptr_nonnull(r->data);
    if (r->size > 0)
        memcpy(r->data, b->data.data, r->size);
    r->data[r->size] = '\0';
    r->warnings = b->warnings;
    r->eight_bit = b->eight_bit;
    r->too_big = b->too_big;
    r->line_too_long = b->line_too_long;
}

/* DATA input passed to a body in pieces, the way the session passes it:
 * bytes that a call left unconsumed are passed again before the next ones. */
struct dot_stream {
    struct sc_body *body;
    struct sc_buf pending;
    bool complete;
    size_t after_marker;        /* Input bytes left over once the marker was consumed. */
};

/* Pass n more bytes. Each call gets an exact-size copy, so ASan reports a
 * read past the end of the input. */
static void dot_feed(struct dot_stream *d, const char *bytes, size_t n)
{
    char *copy;
    size_t used;

    ck_assert(!d->complete);
    ck_assert_int_eq(sc_buf_append(&d->pending, bytes, n), 0);
    if (d->pending.len == 0)
        return;

    copy = malloc(d->pending.len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, d->pending.data, d->pending.len);
    used = sc_body_feed_dot(d->body, copy, d->pending.len, &d->complete);
    free(copy);

    ck_assert_uint_le(used, d->pending.len);
    if (d->complete) {
        d->after_marker = d->pending.len - used;
        sc_buf_clear(&d->pending);
        return;
    }
    /* Only "." or ".\r" at a line start may be held back. */
    ck_assert_uint_le(d->pending.len - used, 2);
    sc_buf_consume(&d->pending, used);
}

/* Feed wire (DATA input ending with the end marker) cut at the given
 * offsets, in increasing order, and store what the body made of it. */
static void run_dot(const char *wire, size_t len, const size_t *cuts, size_t ncuts,
                    struct body_result *r)
{
    struct sc_body b = {0};
    struct dot_stream d = {.body = &b};
    size_t start = 0, i;

    sc_body_begin(&b, MAX_SIZE, 0);
    for (i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;

        if (!d.complete)
            dot_feed(&d, wire + start, end - start);
        else
            d.after_marker += end - start;
        start = end;
    }
    ck_assert_msg(d.complete, "the end marker was not found");
    ck_assert_uint_eq(d.after_marker, 0);
    take_result(&b, r);
    sc_buf_free(&d.pending);
    sc_body_free(&b);
}

/* Append data as BDAT chunks cut at the given offsets, and store the result.
 * Each chunk is an exact-size copy, as in dot_feed. */
static void run_append(const char *data, size_t len, const size_t *cuts, size_t ncuts,
                       struct body_result *r)
{
    struct sc_body b = {0};
    size_t start = 0, i;
    char *copy;

    sc_body_begin(&b, MAX_SIZE, 0);
    for (i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;

        copy = malloc(end - start + 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, data + start, end - start);
        sc_body_append(&b, copy, end - start);
        free(copy);
        start = end;
    }
    take_result(&b, r);
    sc_body_free(&b);
}

/* Return data dot-stuffed as a DATA client sends it, with the end marker.
 * data is empty or ends in CRLF. The caller frees the result. */
static char *dot_stuff(const char *data, size_t len, size_t *wire_len)
{
    struct sc_buf wire = {0};
    bool line_start = true;
    size_t i;

    for (i = 0; i < len; i++) {
        if (line_start && data[i] == '.')
            ck_assert_int_eq(sc_buf_append(&wire, ".", 1), 0);
        ck_assert_int_eq(sc_buf_append(&wire, data + i, 1), 0);
        line_start = data[i] == '\n' && i > 0 && data[i - 1] == '\r';
    }
    ck_assert_int_eq(sc_buf_append(&wire, ".\r\n", 3), 0);
    *wire_len = wire.len;
    return wire.data;
}

static void assert_same_result(const struct body_result *got, const struct body_result *want,
                               const char *how)
{
    ck_assert_msg(got->size == want->size, "%s: size %zu, expected %zu", how, got->size,
                  want->size);
    ck_assert_msg(memcmp(got->data, want->data, want->size) == 0, "%s: data differs", how);
    ck_assert_msg(got->warnings == want->warnings, "%s: warnings 0x%x, expected 0x%x", how,
                  got->warnings, want->warnings);
    ck_assert_msg(got->eight_bit == want->eight_bit, "%s: eight_bit differs", how);
    ck_assert_msg(got->line_too_long == want->line_too_long, "%s: line_too_long differs", how);
}

/* Append a string literal, which may hold NUL bytes, to the fixture's body. */
#define APPEND(literal) sc_body_append(&body, (literal), sizeof(literal) - 1)

/* ---------------------------------------------------- one body, many cuts */

/* A message body, the warnings it must raise and whether it has 8-bit bytes.
 * Each body is empty or ends in CRLF, so DATA can carry it too. */
static const struct {
    const char *name;
    const char *data;
    size_t len;
    unsigned warnings;
    bool eight_bit;
} samples[] = {
#define SAMPLE(name, literal, warnings, eight_bit) \
    {name, literal, sizeof(literal) - 1, warnings, eight_bit}
    SAMPLE("clean", "Subject: Hi\r\n\r\nHello\r\n", 0, false),
    SAMPLE("empty", "", 0, false),
    SAMPLE("dots", ".\r\n..\r\n.leading\r\nmid.dot.\r\n", 0, false),
    SAMPLE("bare_lf", "a\nb\r\n", SC_WARN_BARE_LF, false),
    SAMPLE("bare_lf_first", "\na\r\n", SC_WARN_BARE_LF, false),
    SAMPLE("bare_cr", "a\rb\r\n", SC_WARN_BARE_CR, false),
    SAMPLE("cr_cr_lf", "a\r\r\n", SC_WARN_BARE_CR, false),
    SAMPLE("nul_byte", "a\0b\r\n", SC_WARN_NUL_BYTE, false),
    SAMPLE("crlf_dot_lf", "a\r\n.\nb\r\n", SC_WARN_DOT_LINE_BARE_LF | SC_WARN_BARE_LF, false),
    SAMPLE("lf_dot_lf", "a\n.\nb\r\n", SC_WARN_DOT_LINE_BARE_LF | SC_WARN_BARE_LF, false),
    SAMPLE("lf_dot_crlf", "a\n.\r\nb\r\n", SC_WARN_DOT_LINE_BARE_LF | SC_WARN_BARE_LF, false),
    SAMPLE("cr_dot_crlf", "a\r.\r\nb\r\n", SC_WARN_BARE_CR, false),
    SAMPLE("eight_bit", "caf\xc3\xa9\r\n", 0, true),
    SAMPLE("line_998", X998 "\r\n", 0, false),
    SAMPLE("line_999", X999 "\r\n", SC_WARN_LINE_OVER_998, false),
    SAMPLE("line_998_bare_lf", X998 "\n\r\n", SC_WARN_BARE_LF, false),
    SAMPLE("line_999_bare_lf", X999 "\n\r\n", SC_WARN_BARE_LF | SC_WARN_LINE_OVER_998, false),
    SAMPLE("everything", "\xff\0\r\n.\n\rx\n" X999 "\r\n",
           SC_WARN_NUL_BYTE | SC_WARN_DOT_LINE_BARE_LF | SC_WARN_BARE_LF | SC_WARN_BARE_CR |
           SC_WARN_LINE_OVER_998, true),
#undef SAMPLE
};

#define SAMPLES_LEN (sizeof(samples) / sizeof(samples[0]))

/* Pairs of cuts are tried only on short samples, to keep the run short. */
#define PAIR_CUTS_MAX_LEN 64

/* Run once per sample _i: DATA and BDAT input, whole, split once at every
 * offset, split twice at every pair of offsets and fed a byte at a time,
 * all give the expected data, warnings and 8-bit flag. */
START_TEST(test_body_split_anywhere)
{
    const char *data = samples[_i].data;
    size_t len = samples[_i].len, wire_len, cuts[2], i, j;
    char *wire = dot_stuff(data, len, &wire_len);
    size_t *every = malloc((wire_len + 1) * sizeof(size_t));
    struct body_result want = {0}, got = {0};
    char how[96];

    ck_assert_ptr_nonnull(every);
    want.data = malloc(len + 1);
    ck_assert_ptr_nonnull(want.data);
    memcpy(want.data, data, len);
    want.size = len;
    want.warnings = samples[_i].warnings;
    want.eight_bit = samples[_i].eight_bit;

    for (i = 0; i <= wire_len; i++) {
        cuts[0] = i;
        snprintf(how, sizeof(how), "%s, DATA cut at %zu", samples[_i].name, i);
        run_dot(wire, wire_len, cuts, 1, &got);
        assert_same_result(&got, &want, how);
        result_free(&got);
    }
    for (i = 0; i <= len; i++) {
        cuts[0] = i;
        snprintf(how, sizeof(how), "%s, BDAT cut at %zu", samples[_i].name, i);
        run_append(data, len, cuts, 1, &got);
        assert_same_result(&got, &want, how);
        result_free(&got);
    }

    for (i = 0; wire_len <= PAIR_CUTS_MAX_LEN && i <= wire_len; i++) {
        for (j = i; j <= wire_len; j++) {
            cuts[0] = i;
            cuts[1] = j;
            snprintf(how, sizeof(how), "%s, DATA cut at %zu and %zu", samples[_i].name, i, j);
            run_dot(wire, wire_len, cuts, 2, &got);
            assert_same_result(&got, &want, how);
            result_free(&got);
            if (j > len)
                continue;
            snprintf(how, sizeof(how), "%s, BDAT cut at %zu and %zu", samples[_i].name, i, j);
            run_append(data, len, cuts, 2, &got);
            assert_same_result(&got, &want, how);
            result_free(&got);
        }
    }

    for (i = 0; i < wire_len; i++)
        every[i] = i + 1;
    snprintf(how, sizeof(how), "%s, DATA byte by byte", samples[_i].name);
    run_dot(wire, wire_len, every, wire_len > 0 ? wire_len - 1 : 0, &got);
    assert_same_result(&got, &want, how);
    result_free(&got);
    snprintf(how, sizeof(how), "%s, BDAT byte by byte", samples[_i].name);
    run_append(data, len, every, len > 0 ? len - 1 : 0, &got);
    assert_same_result(&got, &want, how);
    result_free(&got);

    result_free(&want);
    free(every);
    free(wire);
}
END_TEST

/* ------------------------------------------------------------------- DATA */

START_TEST(test_body_dot_unstuffing)
{
    static const char wire[] = "..\r\n..x\r\n...\r\nx.\r\n.\r\n";
    bool complete;
    size_t used = sc_body_feed_dot(&body, wire, sizeof(wire) - 1, &complete);

    ck_assert(complete);
    ck_assert_uint_eq(used, sizeof(wire) - 1);
    ck_assert_uint_eq(body.data.len, 15);
    ck_assert_mem_eq(body.data.data, ".\r\n.x\r\n..\r\nx.\r\n", 15);
}
END_TEST

/* The consumed bytes end with the marker, because what follows is the next command. */
START_TEST(test_body_dot_stops_at_marker)
{
    static const char wire[] = "a\r\n.\r\nNOOP\r\n";
    bool complete;
    size_t used = sc_body_feed_dot(&body, wire, sizeof(wire) - 1, &complete);

    ck_assert(complete);
    ck_assert_uint_eq(used, 6);
    ck_assert_uint_eq(body.data.len, 3);
    ck_assert_mem_eq(body.data.data, "a\r\n", 3);
}
END_TEST

/* "." and ".\r" at a line start could begin the marker, so they wait. */
START_TEST(test_body_dot_holds_partial_marker)
{
    bool complete;

    ck_assert_uint_eq(sc_body_feed_dot(&body, "a\r\n.", 4, &complete), 3);
    ck_assert(!complete);
    ck_assert_uint_eq(sc_body_feed_dot(&body, ".\r", 2, &complete), 0);
    ck_assert(!complete);
    ck_assert_uint_eq(sc_body_feed_dot(&body, ".\r\n", 3, &complete), 3);
    ck_assert(complete);
    ck_assert_uint_eq(body.data.len, 3);
}
END_TEST

/* A dot that is not at a line start is content and is consumed at once. */
START_TEST(test_body_dot_mid_line)
{
    bool complete;

    ck_assert_uint_eq(sc_body_feed_dot(&body, "a.", 2, &complete), 2);
    ck_assert(!complete);
    ck_assert_uint_eq(sc_body_feed_dot(&body, ".", 1, &complete), 1);
    ck_assert(!complete);
    ck_assert_uint_eq(body.data.len, 3);
    ck_assert_mem_eq(body.data.data, "a..", 3);
}
END_TEST

/* A dot line reached through a bare LF is content and does not end DATA. */
START_TEST(test_body_dot_line_after_bare_lf)
{
    static const char wire[] = "a\n.\nb\n.\r\nc\r\n.\n";
    bool complete;
    size_t used = sc_body_feed_dot(&body, wire, sizeof(wire) - 1, &complete);

    ck_assert(!complete);
    ck_assert_uint_eq(used, sizeof(wire) - 1);
    ck_assert_uint_eq(body.data.len, sizeof(wire) - 1);
    ck_assert(body.warnings & SC_WARN_DOT_LINE_BARE_LF);
}
END_TEST

/* An empty feed consumes nothing and changes nothing. */
START_TEST(test_body_dot_empty_feed)
{
    char *empty = malloc(1);
    bool complete = true;

    ck_assert_ptr_nonnull(empty);
    ck_assert_uint_eq(sc_body_feed_dot(&body, empty, 0, &complete), 0);
    ck_assert(!complete);
    ck_assert_uint_eq(body.data.len, 0);
    ck_assert_uint_eq(body.warnings, 0);
    free(empty);

    ck_assert_uint_eq(sc_body_feed_dot(&body, ".\r\n", 3, &complete), 3);
    ck_assert(complete);
}
END_TEST

/* ------------------------------------------------------------------- BDAT */

START_TEST(test_body_append_kept_as_is)
{
    static const char data[] = "..x\r\n.\r\n\n.\n\0\r";

    sc_body_append(&body, data, sizeof(data) - 1);

    ck_assert_uint_eq(body.data.len, sizeof(data) - 1);
    ck_assert_mem_eq(body.data.data, data, sizeof(data) - 1);
}
END_TEST

/* A CR that ends one chunk and an LF that starts the next are one CRLF. */
START_TEST(test_body_crlf_across_appends)
{
    APPEND("a\r");
    APPEND("\nb\r");
    APPEND("\n");
    sc_body_end(&body);

    ck_assert_uint_eq(body.warnings, 0);
}
END_TEST

/* The CR that ends the last chunk is bare, but only the end of the body
 * can tell. */
START_TEST(test_body_cr_at_end_is_bare)
{
    APPEND("a\r\nb\r");
    ck_assert_uint_eq(body.warnings & SC_WARN_BARE_CR, 0);

    sc_body_end(&body);
    ck_assert_uint_eq(body.warnings, SC_WARN_BARE_CR);
}
END_TEST

START_TEST(test_body_cr_then_other_byte)
{
    APPEND("a\r");
    APPEND("b\r\n");
    sc_body_end(&body);

    ck_assert_uint_eq(body.warnings, SC_WARN_BARE_CR);
}
END_TEST

/* An LF that starts a chunk after a chunk ending in LF is bare. */
START_TEST(test_body_lf_after_lf_chunk)
{
    APPEND("a\r\n");
    APPEND("\n");

    ck_assert_uint_eq(body.warnings, SC_WARN_BARE_LF);
}
END_TEST

/* ---------------------------------------------------------------- warnings */

/* RFC 5322 section 2.1.1: at most 998 characters before the CRLF. */
START_TEST(test_body_line_998_boundary)
{
    APPEND(X998 "\r\n");
    ck_assert_uint_eq(body.warnings, 0);

    APPEND(X999 "\r\n");
    ck_assert_uint_eq(body.warnings, SC_WARN_LINE_OVER_998);
}
END_TEST

/* A bare LF is not counted in the line length either. */
START_TEST(test_body_line_998_bare_lf)
{
    APPEND(X998 "\n");
    ck_assert_uint_eq(body.warnings, SC_WARN_BARE_LF);

    APPEND(X999 "\n");
    ck_assert_uint_eq(body.warnings, SC_WARN_BARE_LF | SC_WARN_LINE_OVER_998);
}
END_TEST

/* A last line without a line ending is measured at the end of the body. */
START_TEST(test_body_line_over_998_unterminated)
{
    APPEND(X998);
    sc_body_end(&body);
    ck_assert_uint_eq(body.warnings, 0);

    sc_body_begin(&body, MAX_SIZE, 0);
    APPEND(X999);
    sc_body_end(&body);
    ck_assert_uint_eq(body.warnings, SC_WARN_LINE_OVER_998);
}
END_TEST

/* The length of a line is counted across chunks. */
START_TEST(test_body_line_over_998_across_appends)
{
    APPEND(X990);
    APPEND("123456789");
    APPEND("\r\n");

    ck_assert_uint_eq(body.warnings, SC_WARN_LINE_OVER_998);
}
END_TEST

START_TEST(test_body_nul_byte)
{
    APPEND("a\r\n");
    ck_assert_uint_eq(body.warnings, 0);

    APPEND("\0");
    ck_assert_uint_eq(body.warnings, SC_WARN_NUL_BYTE);
}
END_TEST

START_TEST(test_body_eight_bit)
{
    APPEND("plain ASCII\x7f\r\n");
    ck_assert(!body.eight_bit);

    APPEND("\x80");
    ck_assert(body.eight_bit);
    ck_assert_uint_eq(body.warnings, 0);
}
END_TEST

/* Each of the three forms of a "." line next to a bare LF, which a lenient
 * server would take as the end of the data. */
START_TEST(test_body_dot_line_bare_lf_forms)
{
    static const char *const forms[] = {"x\r\n.\n", "x\n.\n", "x\n.\r\n"};
    size_t i;

    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        sc_body_begin(&body, MAX_SIZE, 0);
        sc_body_append(&body, forms[i], strlen(forms[i]));
        ck_assert_msg(body.warnings & SC_WARN_DOT_LINE_BARE_LF,
                      "no dot_line_bare_lf for form %zu", i);
    }
}
END_TEST

/* A dot line between two CRLFs, or a longer line starting with a dot, is
 * not a dot line next to a bare LF. */
START_TEST(test_body_dot_line_crlf_only)
{
    APPEND("x\r\n.\r\n.x\n.\r\r\n");

    ck_assert_uint_eq(body.warnings & SC_WARN_DOT_LINE_BARE_LF, 0);
}
END_TEST

START_TEST(test_body_clean)
{
    APPEND("From: a@example.com\r\nSubject: Hi\r\n\r\nHello\r\n");
    sc_body_end(&body);

    ck_assert_uint_eq(body.warnings, 0);
    ck_assert(!body.eight_bit);
    ck_assert(!body.too_big);
    ck_assert(!body.line_too_long);
}
END_TEST

/* ------------------------------------------------------------------ limits */

START_TEST(test_body_max_size)
{
    char data[11] = "0123456789";

    sc_body_begin(&body, 20, 0);
    sc_body_append(&body, data, 10);
    sc_body_append(&body, data, 10);
    ck_assert(!body.too_big);
    ck_assert_uint_eq(body.data.len, 20);

    sc_body_append(&body, data, 1);
    ck_assert(body.too_big);
    ck_assert_uint_eq(body.data.len, 0);

    sc_body_append(&body, data, 1);
    ck_assert(body.too_big);
    ck_assert_uint_eq(body.data.len, 0);
}
END_TEST

/* The limit counts the bytes stored, after dot-unstuffing. */
START_TEST(test_body_max_size_dot)
{
    bool complete;

    sc_body_begin(&body, 6, 0);
    ck_assert_uint_eq(sc_body_feed_dot(&body, "..123\r\n.\r\n", 10, &complete), 10);
    ck_assert(complete);
    ck_assert(!body.too_big);
    ck_assert_uint_eq(body.data.len, 6);

    sc_body_begin(&body, 5, 0);
    ck_assert_uint_eq(sc_body_feed_dot(&body, "..123\r\n.\r\n", 10, &complete), 10);
    ck_assert(complete);
    ck_assert(body.too_big);
}
END_TEST

START_TEST(test_body_max_line)
{
    sc_body_begin(&body, MAX_SIZE, 10);
    APPEND("0123456789\r\n0123456789\n");
    sc_body_end(&body);
    ck_assert(!body.line_too_long);

    APPEND("0123456789A\r\n");
    ck_assert(body.line_too_long);
}
END_TEST

/* A line split over chunks counts as one line. A line without an ending is
 * checked at the end of the body. */
START_TEST(test_body_max_line_across_appends)
{
    sc_body_begin(&body, MAX_SIZE, 10);
    APPEND("01234");
    APPEND("56789\r");
    APPEND("\n");
    ck_assert(!body.line_too_long);

    APPEND("0123456789");
    sc_body_end(&body);
    ck_assert(!body.line_too_long);

    sc_body_begin(&body, MAX_SIZE, 10);
    APPEND("012345");
    APPEND("6789A");
    sc_body_end(&body);
    ck_assert(body.line_too_long);
}
END_TEST

/* A line with no end in sight is flagged as soon as it is too long. */
START_TEST(test_body_max_line_flagged_early)
{
    sc_body_begin(&body, MAX_SIZE, 10);
    APPEND("0123456789AB");

    ck_assert(body.line_too_long);
}
END_TEST

START_TEST(test_body_reset_clears)
{
    sc_body_begin(&body, MAX_SIZE, 10);
    APPEND("\xff\0\n.\n0123456789ABC\r");
    sc_body_reset(&body);
    sc_body_reset(&body);

    ck_assert_uint_eq(body.data.len, 0);
    ck_assert_uint_eq(body.warnings, 0);
    ck_assert(!body.eight_bit);
    ck_assert(!body.too_big);
    ck_assert(!body.line_too_long);

    sc_body_begin(&body, MAX_SIZE, 0);
    APPEND("\nx\r\n");
    ck_assert_uint_eq(body.warnings, SC_WARN_BARE_LF);
}
END_TEST

/* Reset keeps the buffer for the next message, and trim frees a large one,
 * so an idle session keeps no memory of its largest message. */
START_TEST(test_body_trim_frees_large_buffer)
{
    char *big = calloc(1, MAX_SIZE);

    ck_assert_ptr_nonnull(big);
    sc_body_append(&body, big, MAX_SIZE);
    ck_assert_uint_eq(body.data.len, MAX_SIZE);
    sc_body_reset(&body);
    ck_assert_ptr_nonnull(body.data.data);
    ck_assert_uint_eq(body.data.len, 0);

    sc_body_trim(&body);
    ck_assert_ptr_null(body.data.data);
    ck_assert_uint_eq(body.data.cap, 0);
    free(big);
}
END_TEST

START_TEST(test_body_trim_keeps_small_buffer)
{
    APPEND("Subject: small\r\n");
    sc_body_reset(&body);
    sc_body_trim(&body);

    ck_assert_ptr_nonnull(body.data.data);
    ck_assert_uint_gt(body.data.cap, 0);
}
END_TEST

/* Feed n bytes of "x" lines through windows, at most piece bytes per read,
 * as the server reads a body. */
static void feed_windows(struct sc_body *b, size_t n, size_t piece)
{
    char *window;
    size_t room, take, i;
    bool complete;

    while (n > 0) {
        ck_assert(sc_body_window(b, &window, &room));
        take = n < piece ? n : piece;
        take = take < room ? take : room;
        for (i = 0; i < take; i++)
            window[i] = (i + b->data.len) % 100 == 99 ? '\n' : 'x';
        ck_assert_uint_eq(sc_body_feed_dot(b, window, take, &complete), take);
        ck_assert(!complete);
        n -= take;
    }
}

/* A body that arrives in small reads has at most an eighth of its size
 * mapped ahead, so many slow bodies do not hold twice their memory. */
START_TEST(test_body_window_maps_little_ahead)
{
    size_t total = 0;

    sc_body_begin(&body, 64 << 20, 0);
    while (total < (6u << 20)) {
        feed_windows(&body, 64 * 1024, 1024);
        total += 64 * 1024;
        ck_assert_uint_eq(body.data.len, total);
        ck_assert_uint_le(body.populated, total + total / 8);
    }
    ck_assert_uint_gt(body.populated, total);
}
END_TEST

/* A declared size reserves the buffer at once, but never more than 1 GiB
 * or max_size, whatever the client declares. */
START_TEST(test_body_window_reserve_capped)
{
    char *window;
    size_t room;

    sc_body_begin(&body, (size_t)1 << 41, 0);
    body.expected = (size_t)1 << 40;
    ck_assert(sc_body_window(&body, &window, &room));
    ck_assert_uint_ge(body.data.cap, (size_t)1 << 30);
    ck_assert_uint_lt(body.data.cap, (size_t)1 << 31);

    /* Nor more than max_size. */
    sc_body_reset(&body);
    sc_body_trim(&body);
    sc_body_begin(&body, 1 << 20, 0);
    body.expected = 5 << 20;
    ck_assert(sc_body_window(&body, &window, &room));
    ck_assert_uint_le(body.data.cap, 1 << 20);
    ck_assert_uint_le(room, 1 << 20);
}
END_TEST

Suite *suite_body(void)
{
    Suite *suite = suite_create("body");
    TCase *split = tcase_create("split");
    TCase *dot = tcase_create("data");
    TCase *chunks = tcase_create("bdat");
    TCase *warnings = tcase_create("warnings");
    TCase *limits = tcase_create("limits");

    tcase_add_loop_test(split, test_body_split_anywhere, 0, (int)SAMPLES_LEN);
    suite_add_tcase(suite, split);

    tcase_add_checked_fixture(dot, setup, teardown);
    tcase_add_test(dot, test_body_dot_unstuffing);
    tcase_add_test(dot, test_body_dot_stops_at_marker);
    tcase_add_test(dot, test_body_dot_holds_partial_marker);
    tcase_add_test(dot, test_body_dot_mid_line);
    tcase_add_test(dot, test_body_dot_line_after_bare_lf);
    tcase_add_test(dot, test_body_dot_empty_feed);
    suite_add_tcase(suite, dot);

    tcase_add_checked_fixture(chunks, setup, teardown);
    tcase_add_test(chunks, test_body_append_kept_as_is);
    tcase_add_test(chunks, test_body_crlf_across_appends);
    tcase_add_test(chunks, test_body_cr_at_end_is_bare);
    tcase_add_test(chunks, test_body_cr_then_other_byte);
    tcase_add_test(chunks, test_body_lf_after_lf_chunk);
    suite_add_tcase(suite, chunks);

    tcase_add_checked_fixture(warnings, setup, teardown);
    tcase_add_test(warnings, test_body_line_998_boundary);
    tcase_add_test(warnings, test_body_line_998_bare_lf);
    tcase_add_test(warnings, test_body_line_over_998_unterminated);
    tcase_add_test(warnings, test_body_line_over_998_across_appends);
    tcase_add_test(warnings, test_body_nul_byte);
    tcase_add_test(warnings, test_body_eight_bit);
    tcase_add_test(warnings, test_body_dot_line_bare_lf_forms);
    tcase_add_test(warnings, test_body_dot_line_crlf_only);
    tcase_add_test(warnings, test_body_clean);
    suite_add_tcase(suite, warnings);

    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_add_test(limits, test_body_max_size);
    tcase_add_test(limits, test_body_max_size_dot);
    tcase_add_test(limits, test_body_max_line);
    tcase_add_test(limits, test_body_max_line_across_appends);
    tcase_add_test(limits, test_body_max_line_flagged_early);
    tcase_add_test(limits, test_body_reset_clears);
    tcase_add_test(limits, test_body_trim_frees_large_buffer);
    tcase_add_test(limits, test_body_trim_keeps_small_buffer);
    tcase_add_test(limits, test_body_window_maps_little_ahead);
    tcase_add_test(limits, test_body_window_reserve_capped);
    suite_add_tcase(suite, limits);

    return suite;
}
