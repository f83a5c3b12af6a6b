/*
 * Tests of MAIL FROM / RCPT TO argument parsing (core/path.c) and of UTF-8
 * validation (core/utf8.c), called directly with no session.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "suites.h"
#include "utf8.h"

/* The outputs of one sc_parse_path_and_params() call. */
struct parsed {
    char *path;
    struct sc_param *params;
    size_t params_len;
};

static struct parsed result;

static void setup(void)
{
    memset(&result, 0, sizeof(result));
}

static void teardown(void)
{
    free(result.path);
    sc_free_params(result.params, result.params_len);
}

/* Parse text of explicit length, which may hold NUL bytes. */
static enum sc_path_error parse_bytes(const char *text, size_t len, enum sc_path_kind kind)
{
    teardown();
    setup();
    return sc_parse_path_and_params(text, len, kind, &result.path, &result.params,
                                    &result.params_len);
}

static enum sc_path_error parse(const char *text, enum sc_path_kind kind)
{
    return parse_bytes(text, strlen(text), kind);
}

/* Check that parsing text fails with err and leaves nothing allocated. */
#define ASSERT_PARSE_FAILS(text, kind, err)                             \
    do {                                                                \
        ck_assert_int_eq(parse((text), (kind)), (err));                 \
        ck_assert_ptr_null(result.path);                                \
        ck_assert_ptr_null(result.params);                              \
        ck_assert_uint_eq(result.params_len, 0);                        \
    } while (0)

/* ------------------------------------------------------------------- path */

START_TEST(test_path_brackets)
{
    ck_assert_int_eq(parse("<a@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "a@example.com");
    ck_assert_uint_eq(result.params_len, 0);
}
END_TEST

START_TEST(test_path_leading_spaces)
{
    ck_assert_int_eq(parse(" \t <a@example.com>  ", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "a@example.com");
    ck_assert_uint_eq(result.params_len, 0);
}
END_TEST

START_TEST(test_path_no_brackets)
{
    ck_assert_int_eq(parse("a@example.com", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "a@example.com");

    ck_assert_int_eq(parse("a@example.com SIZE=10", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "a@example.com");
    ck_assert_uint_eq(result.params_len, 1);
    ck_assert_str_eq(result.params[0].keyword, "SIZE");
    ck_assert_str_eq(result.params[0].value, "10");
}
END_TEST

START_TEST(test_path_source_route)
{
    ck_assert_int_eq(parse("<@a.example,@b.example:user@c.example>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "user@c.example");

    ck_assert_int_eq(parse("<@relay.example:user@c.example> BODY=7BIT", SC_FORWARD_PATH),
                     SC_PATH_OK);
    ck_assert_str_eq(result.path, "user@c.example");
    ck_assert_uint_eq(result.params_len, 1);
}
END_TEST

/* A source route followed by nothing is neither a mailbox nor the null path. */
START_TEST(test_path_source_route_alone)
{
    ASSERT_PARSE_FAILS("<@relay.example:>", SC_REVERSE_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<@relay.example:>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<@a.example,@b.example:> SIZE=1", SC_REVERSE_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("@relay.example:", SC_REVERSE_PATH, SC_PATH_SYNTAX);
}
END_TEST

START_TEST(test_path_postmaster)
{
    ck_assert_int_eq(parse("<Postmaster>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "Postmaster");

    ck_assert_int_eq(parse("<postmaster>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "postmaster");

    ck_assert_int_eq(parse("<POSTMASTER>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "POSTMASTER");

    ck_assert_int_eq(parse("PostMaster", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "PostMaster");

    ck_assert_int_eq(parse("<Postmaster@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "Postmaster@example.com");
}
END_TEST

/* Only RCPT TO takes Postmaster without a domain, and only the bare word. */
START_TEST(test_path_postmaster_elsewhere)
{
    ASSERT_PARSE_FAILS("<Postmaster>", SC_REVERSE_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<@relay.example:Postmaster>", SC_FORWARD_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<\"Postmaster\">", SC_FORWARD_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<Postmasters>", SC_FORWARD_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<Postmaste>", SC_FORWARD_PATH, SC_PATH_NO_DOMAIN);
}
END_TEST

START_TEST(test_path_no_domain)
{
    ASSERT_PARSE_FAILS("<a>", SC_REVERSE_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<a>", SC_FORWARD_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("a", SC_REVERSE_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<a> SIZE=1", SC_REVERSE_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<@relay.example:a>", SC_REVERSE_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<\"a@b\">", SC_FORWARD_PATH, SC_PATH_NO_DOMAIN);
    ASSERT_PARSE_FAILS("<用户>", SC_FORWARD_PATH, SC_PATH_NO_DOMAIN);
}
END_TEST

/* An unquoted local part cannot contain '@', so a second unquoted '@' is invalid. */
START_TEST(test_path_unquoted_at)
{
    ASSERT_PARSE_FAILS("<a@b@c.example>", SC_REVERSE_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<a@b@c.example>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("a@b@c.example", SC_REVERSE_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<@relay.example:a@b@c.example>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<a@@c.example>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<a@c.example@>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
}
END_TEST

START_TEST(test_path_quoted_at)
{
    ck_assert_int_eq(parse("<\"a@b\"@c.example>", SC_REVERSE_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "\"a@b\"@c.example");

    ck_assert_int_eq(parse("<\"a@b@c\"@d.example>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "\"a@b@c\"@d.example");
}
END_TEST

START_TEST(test_path_address_literal)
{
    ck_assert_int_eq(parse("<a@[127.0.0.1]>", SC_REVERSE_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "a@[127.0.0.1]");

    ck_assert_int_eq(parse("<b@[IPv6:::1]>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "b@[IPv6:::1]");

    ck_assert_int_eq(parse("<@relay.example:c@[192.0.2.1]>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "c@[192.0.2.1]");
}
END_TEST

START_TEST(test_path_quoted_space)
{
    ck_assert_int_eq(parse("<\"john doe\"@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "\"john doe\"@example.com");
}
END_TEST

START_TEST(test_path_quoted_bracket)
{
    ck_assert_int_eq(parse("<\"a>b\"@example.com> SIZE=1", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "\"a>b\"@example.com");
    ck_assert_uint_eq(result.params_len, 1);
}
END_TEST

START_TEST(test_path_quoted_escapes)
{
    ck_assert_int_eq(parse("<\"a\\\"b\"@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "\"a\\\"b\"@example.com");

    ck_assert_int_eq(parse("<\"a\\\\\"@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "\"a\\\\\"@example.com");

    ck_assert_int_eq(parse("<\"x\\>y@z\"@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "\"x\\>y@z\"@example.com");
}
END_TEST

/* RFC 5321 allows only %d32-126 after the backslash of a quoted-pair. */
START_TEST(test_path_quoted_pair_control)
{
    static const char escaped[] = {0x00, 0x09, 0x0d, 0x0a, 0x1b, 0x7f};
    char text[] = "<\"a\\Xb\"@example.com>";
    size_t i;

    for (i = 0; i < sizeof(escaped); i++) {
        text[4] = escaped[i];       /* The X after the backslash. */
        ck_assert_int_eq(parse_bytes(text, sizeof(text) - 1, SC_FORWARD_PATH), SC_PATH_SYNTAX);
        ck_assert_int_eq(parse_bytes(text, sizeof(text) - 1, SC_REVERSE_PATH), SC_PATH_SYNTAX);
    }
    ck_assert_int_eq(parse("<\"a\\ b\"@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_int_eq(parse("<\"a\\~b\"@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
}
END_TEST

START_TEST(test_path_unterminated_quote)
{
    ASSERT_PARSE_FAILS("<\"ab@example.com>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<\"ab\\\">", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("\"ab@example.com", SC_FORWARD_PATH, SC_PATH_SYNTAX);
}
END_TEST

START_TEST(test_path_unbalanced_brackets)
{
    ASSERT_PARSE_FAILS("<a@example.com", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("a@example.com>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<<a@example.com>>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
}
END_TEST

START_TEST(test_path_text_after_bracket)
{
    ASSERT_PARSE_FAILS("<a@example.com>SIZE=1", SC_FORWARD_PATH, SC_PATH_SYNTAX);
}
END_TEST

START_TEST(test_path_missing)
{
    ASSERT_PARSE_FAILS("", SC_FORWARD_PATH, SC_PATH_MISSING);
    ASSERT_PARSE_FAILS("  \t", SC_FORWARD_PATH, SC_PATH_MISSING);
    ASSERT_PARSE_FAILS("", SC_REVERSE_PATH, SC_PATH_MISSING);
}
END_TEST

START_TEST(test_path_bad_mailbox)
{
    ASSERT_PARSE_FAILS("<a b@example.com>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<a\tb@example.com>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<a\x01@example.com>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<a\x7f@example.com>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<a@>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<@example.com>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
    ASSERT_PARSE_FAILS("<a<b@example.com>", SC_FORWARD_PATH, SC_PATH_SYNTAX);
}
END_TEST

START_TEST(test_path_nul_byte)
{
    static const char text[] = "<a\0b@example.com>";

    ck_assert_int_eq(parse_bytes(text, sizeof(text) - 1, SC_FORWARD_PATH), SC_PATH_SYNTAX);
    ck_assert_ptr_null(result.path);
}
END_TEST

START_TEST(test_path_null_allowed)
{
    ck_assert_int_eq(parse("<>", SC_REVERSE_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "");
    ck_assert_uint_eq(result.params_len, 0);

    ck_assert_int_eq(parse("<> BODY=8BITMIME", SC_REVERSE_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "");
    ck_assert_uint_eq(result.params_len, 1);
}
END_TEST

START_TEST(test_path_null_rejected)
{
    ASSERT_PARSE_FAILS("<>", SC_FORWARD_PATH, SC_PATH_NULL_REJECTED);
    ASSERT_PARSE_FAILS(" <> ", SC_FORWARD_PATH, SC_PATH_NULL_REJECTED);
}
END_TEST

START_TEST(test_path_utf8)
{
    ck_assert_int_eq(parse("<用户@例子.广告>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "用户@例子.广告");

    ck_assert_int_eq(parse("<δοκιμή@παράδειγμα.δοκιμή>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "δοκιμή@παράδειγμα.δοκιμή");

    ck_assert_int_eq(parse("<\"jöhn 😀\"@example.com>", SC_FORWARD_PATH), SC_PATH_OK);
    ck_assert_str_eq(result.path, "\"jöhn 😀\"@example.com");
}
END_TEST

START_TEST(test_path_invalid_utf8)
{
    ASSERT_PARSE_FAILS("<a\xff@example.com>", SC_FORWARD_PATH, SC_PATH_NOT_UTF8);
    ASSERT_PARSE_FAILS("<\xc3@example.com>", SC_FORWARD_PATH, SC_PATH_NOT_UTF8);
    ASSERT_PARSE_FAILS("<\xc0\xaf@example.com>", SC_FORWARD_PATH, SC_PATH_NOT_UTF8);
    ASSERT_PARSE_FAILS("<\xed\xa0\x80@example.com>", SC_FORWARD_PATH, SC_PATH_NOT_UTF8);
    ASSERT_PARSE_FAILS("<\xf4\x90\x80\x80@example.com>", SC_FORWARD_PATH, SC_PATH_NOT_UTF8);
    ASSERT_PARSE_FAILS("a\xfe@example.com", SC_REVERSE_PATH, SC_PATH_NOT_UTF8);
}
END_TEST

/* ----------------------------------------------------------------- params */

START_TEST(test_params_in_order)
{
    ck_assert_int_eq(parse("<a@example.com> SIZE=100 BODY=8BITMIME SMTPUTF8", SC_REVERSE_PATH),
                     SC_PATH_OK);
    ck_assert_uint_eq(result.params_len, 3);
    ck_assert_str_eq(result.params[0].keyword, "SIZE");
    ck_assert_str_eq(result.params[0].value, "100");
    ck_assert_str_eq(result.params[1].keyword, "BODY");
    ck_assert_str_eq(result.params[1].value, "8BITMIME");
    ck_assert_str_eq(result.params[2].keyword, "SMTPUTF8");
    ck_assert_ptr_null(result.params[2].value);
}
END_TEST

START_TEST(test_params_keyword_upper)
{
    ck_assert_int_eq(parse("<a@example.com> size=1 Body=8bitMime x-my-ext=Va1ue", SC_REVERSE_PATH),
                     SC_PATH_OK);
    ck_assert_uint_eq(result.params_len, 3);
    ck_assert_str_eq(result.params[0].keyword, "SIZE");
    ck_assert_str_eq(result.params[1].keyword, "BODY");
    ck_assert_str_eq(result.params[1].value, "8bitMime");
    ck_assert_str_eq(result.params[2].keyword, "X-MY-EXT");
    ck_assert_str_eq(result.params[2].value, "Va1ue");
}
END_TEST

START_TEST(test_params_extra_spaces)
{
    ck_assert_int_eq(parse("<a@example.com>   SIZE=1 \t BODY=7BIT  \t", SC_REVERSE_PATH),
                     SC_PATH_OK);
    ck_assert_uint_eq(result.params_len, 2);
    ck_assert_str_eq(result.params[0].value, "1");
    ck_assert_str_eq(result.params[1].value, "7BIT");
}
END_TEST

START_TEST(test_params_duplicate)
{
    ASSERT_PARSE_FAILS("<a@example.com> SIZE=1 SIZE=2", SC_REVERSE_PATH, SC_PARAM_DUPLICATE);
    ASSERT_PARSE_FAILS("<a@example.com> SIZE=1 BODY=7BIT size=1", SC_REVERSE_PATH,
                       SC_PARAM_DUPLICATE);
    ASSERT_PARSE_FAILS("<a@example.com> SMTPUTF8 smtputf8", SC_REVERSE_PATH, SC_PARAM_DUPLICATE);
}
END_TEST

START_TEST(test_params_bad_syntax)
{
    ASSERT_PARSE_FAILS("<a@example.com> =1", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
    ASSERT_PARSE_FAILS("<a@example.com> SIZE=", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
    ASSERT_PARSE_FAILS("<a@example.com> -X=1", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
    ASSERT_PARSE_FAILS("<a@example.com> SI_ZE=1", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
    ASSERT_PARSE_FAILS("<a@example.com> A=b=c", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
    ASSERT_PARSE_FAILS("<a@example.com> A=b\x01", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
    ASSERT_PARSE_FAILS("<a@example.com> A=b\x7f", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
    ASSERT_PARSE_FAILS("<a@example.com> SIZE=1 B\xc3\xa9=1", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
}
END_TEST

START_TEST(test_params_utf8_value)
{
    ck_assert_int_eq(parse("<a@example.com> X-NAME=café😀", SC_REVERSE_PATH), SC_PATH_OK);
    ck_assert_uint_eq(result.params_len, 1);
    ck_assert_str_eq(result.params[0].keyword, "X-NAME");
    ck_assert_str_eq(result.params[0].value, "café😀");
}
END_TEST

START_TEST(test_params_invalid_utf8_value)
{
    ASSERT_PARSE_FAILS("<a@example.com> X-NAME=caf\xe9", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
    ASSERT_PARSE_FAILS("<a@example.com> X-NAME=\xc0\xaf", SC_REVERSE_PATH, SC_PARAM_SYNTAX);
}
END_TEST

/* ------------------------------------------------------------------- UTF-8 */

/* A byte sequence and the length sc_utf8_sequence_len() must return for it,
 * given exactly its bytes. */
struct sequence_case {
    const char *name;
    const char *bytes;
    size_t len;
    size_t expected;
};

static const struct sequence_case sequences[] = {
    {"ASCII letter", "A", 1, 1},
    {"NUL", "\0", 1, 1},
    {"DEL", "\x7f", 1, 1},
    {"U+0080, smallest 2-byte", "\xc2\x80", 2, 2},
    {"U+00E9", "\xc3\xa9", 2, 2},
    {"U+07FF, largest 2-byte", "\xdf\xbf", 2, 2},
    {"U+0800, smallest 3-byte", "\xe0\xa0\x80", 3, 3},
    {"U+20AC", "\xe2\x82\xac", 3, 3},
    {"U+D7FF, below the surrogates", "\xed\x9f\xbf", 3, 3},
    {"U+E000, above the surrogates", "\xee\x80\x80", 3, 3},
    {"U+FFFF", "\xef\xbf\xbf", 3, 3},
    {"U+10000, smallest 4-byte", "\xf0\x90\x80\x80", 4, 4},
    {"U+1F600", "\xf0\x9f\x98\x80", 4, 4},
    {"U+10FFFF, largest code point", "\xf4\x8f\xbf\xbf", 4, 4},
    {"lone continuation 0x80", "\x80", 1, 0},
    {"lone continuation 0xBF", "\xbf", 1, 0},
    {"overlong NUL C0 80", "\xc0\x80", 2, 0},
    {"overlong C1 BF", "\xc1\xbf", 2, 0},
    {"overlong 3-byte NUL", "\xe0\x80\x80", 3, 0},
    {"overlong 3-byte U+07FF", "\xe0\x9f\xbf", 3, 0},
    {"overlong 4-byte NUL", "\xf0\x80\x80\x80", 4, 0},
    {"overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf", 4, 0},
    {"surrogate U+D800", "\xed\xa0\x80", 3, 0},
    {"surrogate U+DBFF", "\xed\xaf\xbf", 3, 0},
    {"surrogate U+DC00", "\xed\xb0\x80", 3, 0},
    {"surrogate U+DFFF", "\xed\xbf\xbf", 3, 0},
    {"U+110000, above the maximum", "\xf4\x90\x80\x80", 4, 0},
    {"lead byte F5", "\xf5\x80\x80\x80", 4, 0},
    {"lead byte F8", "\xf8\x88\x80\x80", 4, 0},
    {"lead byte FE", "\xfe", 1, 0},
    {"lead byte FF", "\xff", 1, 0},
    {"2-byte cut short", "\xc3", 1, 0},
    {"3-byte cut short after 1", "\xe2", 1, 0},
    {"3-byte cut short after 2", "\xe2\x82", 2, 0},
    {"4-byte cut short after 3", "\xf0\x9f\x98", 3, 0},
    {"2-byte with ASCII second", "\xc3\x28", 2, 0},
    {"3-byte with ASCII third", "\xe2\x82\x28", 3, 0},
    {"4-byte with lead third", "\xf0\x9f\xc3\xa9", 4, 0},
};

START_TEST(test_utf8_sequence_len)
{
    const struct sequence_case *c = &sequences[_i];
    unsigned char *copy = malloc(c->len);

    /* An exact-size copy lets ASan catch a read past avail. */
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, c->bytes, c->len);
    ck_assert_msg(sc_utf8_sequence_len(copy, c->len) == c->expected,
                  "%s: expected %zu, got %zu", c->name, c->expected,
                  sc_utf8_sequence_len(copy, c->len));
    free(copy);
}
END_TEST

/* Whole strings: the validator must agree with the sequence table, also
 * where a sequence straddles the 8-byte ASCII fast path. */
START_TEST(test_utf8_valid_strings)
{
    ck_assert(sc_utf8_valid("", 0));
    ck_assert(sc_utf8_valid("plain ASCII text longer than eight bytes", 40));
    ck_assert(sc_utf8_valid("a\0b", 3));
    ck_assert(sc_utf8_valid("abcdefg\xc3\xa9", 9));
    ck_assert(sc_utf8_valid("abcdef\xf0\x9f\x98\x80xyzuvw", 16));
    ck_assert(sc_utf8_valid("用户@例子.广告 δοκιμή 😀", strlen("用户@例子.广告 δοκιμή 😀")));
}
END_TEST

START_TEST(test_utf8_invalid_strings)
{
    ck_assert(!sc_utf8_valid("abcdefgh\xff", 9));
    ck_assert(!sc_utf8_valid("abcdefg\xc3", 8));
    ck_assert(!sc_utf8_valid("abcdefghij\xe2\x82", 12));
    ck_assert(!sc_utf8_valid("\x80" "abcdefgh", 9));
    ck_assert(!sc_utf8_valid("abcdefgh12345678\xed\xa0\x80", 19));
    ck_assert(!sc_utf8_valid("ok \xc0\xaf", 5));
    ck_assert(!sc_utf8_valid("ok \xf4\x90\x80\x80 more", 12));
}
END_TEST

/* Put each sequence after 0 to 8 ASCII bytes, so it meets the 8-byte fast
 * path at every alignment. A valid one must stay valid, an invalid one invalid. */
START_TEST(test_utf8_valid_agrees_with_sequences)
{
    char text[32];
    size_t i, offset;

    for (i = 0; i < sizeof(sequences) / sizeof(sequences[0]); i++) {
        for (offset = 0; offset < 9; offset++) {
            memset(text, 'a', sizeof(text));
            memcpy(text + offset, sequences[i].bytes, sequences[i].len);
            ck_assert_msg(sc_utf8_valid(text, offset + sequences[i].len + 9) ==
                              (sequences[i].expected != 0),
                          "%s after %zu ASCII bytes", sequences[i].name, offset);
        }
    }
}
END_TEST

Suite *suite_path(void)
{
    Suite *suite = suite_create("path");
    TCase *paths = tcase_create("path");
    TCase *params = tcase_create("params");
    TCase *utf8 = tcase_create("utf8");

    tcase_add_checked_fixture(paths, setup, teardown);
    tcase_add_test(paths, test_path_brackets);
    tcase_add_test(paths, test_path_leading_spaces);
    tcase_add_test(paths, test_path_no_brackets);
    tcase_add_test(paths, test_path_source_route);
    tcase_add_test(paths, test_path_source_route_alone);
    tcase_add_test(paths, test_path_postmaster);
    tcase_add_test(paths, test_path_postmaster_elsewhere);
    tcase_add_test(paths, test_path_no_domain);
    tcase_add_test(paths, test_path_unquoted_at);
    tcase_add_test(paths, test_path_quoted_at);
    tcase_add_test(paths, test_path_address_literal);
    tcase_add_test(paths, test_path_quoted_space);
    tcase_add_test(paths, test_path_quoted_bracket);
    tcase_add_test(paths, test_path_quoted_escapes);
    tcase_add_test(paths, test_path_quoted_pair_control);
    tcase_add_test(paths, test_path_unterminated_quote);
    tcase_add_test(paths, test_path_unbalanced_brackets);
    tcase_add_test(paths, test_path_text_after_bracket);
    tcase_add_test(paths, test_path_missing);
    tcase_add_test(paths, test_path_bad_mailbox);
    tcase_add_test(paths, test_path_nul_byte);
    tcase_add_test(paths, test_path_null_allowed);
    tcase_add_test(paths, test_path_null_rejected);
    tcase_add_test(paths, test_path_utf8);
    tcase_add_test(paths, test_path_invalid_utf8);
    suite_add_tcase(suite, paths);

    tcase_add_checked_fixture(params, setup, teardown);
    tcase_add_test(params, test_params_in_order);
    tcase_add_test(params, test_params_keyword_upper);
    tcase_add_test(params, test_params_extra_spaces);
    tcase_add_test(params, test_params_duplicate);
    tcase_add_test(params, test_params_bad_syntax);
    tcase_add_test(params, test_params_utf8_value);
    tcase_add_test(params, test_params_invalid_utf8_value);
    suite_add_tcase(suite, params);

    tcase_add_loop_test(utf8, test_utf8_sequence_len, 0,
                        (int)(sizeof(sequences) / sizeof(sequences[0])));
    tcase_add_test(utf8, test_utf8_valid_strings);
    tcase_add_test(utf8, test_utf8_invalid_strings);
    tcase_add_test(utf8, test_utf8_valid_agrees_with_sequences);
    suite_add_tcase(suite, utf8);

    return suite;
}
