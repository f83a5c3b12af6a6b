/*
 * Tests of the SASL mechanisms of SMTP AUTH (core/auth.c): base64 decoding
 * by RFC 4954's rules, the CRAM-MD5 digest, and each exchange with and
 * without configured credentials. A test drives one exchange through
 * start() and step(), which keep the last reply and result in fixtures.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "message.h"
#include "suites.h"

static const struct sc_credential alice[] = {
    {"alice", "secret"},
    {"bob", "hunter2"},
    {"carol", ""},
};

static struct sc_auth_config any_config;
static struct sc_auth_config strict_config;
static struct sc_auth_exchange exchange;
static struct sc_auth_result result;
static char reply[SC_AUTH_REPLY_MAX];

static void setup(void)
{
    memset(&any_config, 0, sizeof(any_config));
    memset(&strict_config, 0, sizeof(strict_config));
    strict_config.credentials = alice;
    strict_config.credentials_len = sizeof(alice) / sizeof(alice[0]);
    memset(&exchange, 0, sizeof(exchange));
    memset(&result, 0, sizeof(result));
    reply[0] = '\0';
}

static void teardown(void)
{
    sc_auth_exchange_reset(&exchange);
    sc_auth_result_clear(&result);
}

static enum sc_auth_status start(const struct sc_auth_config *config, const char *arg)
{
    return sc_auth_start(&exchange, config, "mx.test", arg, strlen(arg), &result, reply,
                         sizeof(reply));
}

static enum sc_auth_status step(const char *line)
{
    return sc_auth_step(&exchange, line, strlen(line), &result, reply, sizeof(reply));
}

/* Decode text, which must be valid, and compare it with a literal that may
 * hold NUL bytes. */
#define ASSERT_DECODES(text, literal)                                               \
    do {                                                                            \
        unsigned char *decoded_ = NULL;                                             \
        size_t decoded_len_ = 0;                                                    \
        ck_assert_int_eq(sc_base64_decode((text), strlen(text), &decoded_,          \
                                          &decoded_len_), 0);                       \
        ck_assert_uint_eq(decoded_len_, sizeof(literal) - 1);                       \
        ck_assert_mem_eq(decoded_, (literal), sizeof(literal) - 1);                 \
        ck_assert_int_eq(decoded_[decoded_len_], '\0');                             \
        free(decoded_);                                                             \
    } while (0)

/* ------------------------------------------------------------------ base64 */

START_TEST(test_auth_base64_valid)
{
    ASSERT_DECODES("", "");
    ASSERT_DECODES("YQ==", "a");
    ASSERT_DECODES("YWI=", "ab");
    ASSERT_DECODES("YWJj", "abc");
    ASSERT_DECODES("AGFsaWNlAHNlY3JldA==", "\0alice\0secret");
    ASSERT_DECODES("+/+/", "\xfb\xff\xbf");
}
END_TEST

/* RFC 4954 section 4: bytes outside the alphabet and '=' before the end are
 * errors, not skipped. */
START_TEST(test_auth_base64_invalid)
{
    static const char *const invalid[] = {
        "YQ", "YQ=", "Y", "=AAA", "AAA=BBBB", "YQ==YQ==", "Y Q==", " YQ==", "YQ== ",
        "YQ=\n", "YW-j", "YW_j", "====", "A===", "YWJj\r",
    };
    unsigned char *decoded = NULL;
    size_t decoded_len, i;

    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        ck_assert_msg(sc_base64_decode(invalid[i], strlen(invalid[i]), &decoded,
                                       &decoded_len) == -1,
                      "\"%s\" was decoded", invalid[i]);
    ck_assert_ptr_null(decoded);
}
END_TEST

/* ---------------------------------------------------------------- digests */

/* The example of RFC 2195 section 2. */
START_TEST(test_auth_cram_md5_digest_rfc2195)
{
    char hex[33];

    ck_assert_int_eq(sc_cram_md5_digest("tanstaaftanstaaf",
                                        "<1896.697170952@postoffice.reston.mci.net>", hex), 0);
    ck_assert_str_eq(hex, "b913a602c7eda7a495b4e6e7334d3890");
}
END_TEST

START_TEST(test_auth_cram_md5_digest_empty_password)
{
    char hex[33];

    /* HMAC-MD5 with an empty key, as Python's hmac module computes it. */
    ck_assert_int_eq(sc_cram_md5_digest("", "<0.0@mx.test>", hex), 0);
    ck_assert_uint_eq(strlen(hex), 32);
    ck_assert_str_eq(hex, "9863480fb6ce1b01310553855a8a6f2c");
}
END_TEST

START_TEST(test_auth_random_challenge)
{
    char first[SC_AUTH_CHALLENGE_MAX], second[SC_AUTH_CHALLENGE_MAX];
    size_t len;

    ck_assert_int_eq(sc_auth_random_challenge(first, sizeof(first), "localhost"), 0);
    ck_assert_int_eq(sc_auth_random_challenge(second, sizeof(second), "localhost"), 0);

    len = strlen(first);
    ck_assert_int_eq(first[0], '<');
    ck_assert_uint_gt(len, sizeof("<1.1@localhost>") - 1);
    ck_assert_str_eq(first + len - sizeof("@localhost>") + 1, "@localhost>");
    ck_assert_ptr_nonnull(strchr(first, '.'));
    ck_assert_str_ne(first, second);
    ck_assert_int_eq(sc_auth_random_challenge(first, 8, "localhost"), -1);
}
END_TEST

/* ------------------------------------------------------------------ PLAIN */

START_TEST(test_auth_plain_initial_response)
{
    /* "\0alice\0secret" */
    ck_assert_int_eq(start(&any_config, "PLAIN AGFsaWNlAHNlY3JldA=="), SC_AUTH_SUCCESS);
    ck_assert_str_eq(reply, "235 2.7.0 Authentication successful");
    ck_assert_str_eq(result.mechanism, "PLAIN");
    ck_assert_ptr_null(result.authzid);
    ck_assert_str_eq(result.username, "alice");
    ck_assert_str_eq(result.password, "secret");
    ck_assert_ptr_null(result.response);
}
END_TEST

START_TEST(test_auth_plain_after_challenge)
{
    ck_assert_int_eq(start(&any_config, "PLAIN"), SC_AUTH_CONTINUE);
    ck_assert_str_eq(reply, "334 ");
    ck_assert_ptr_null(result.mechanism);

    ck_assert_int_eq(step("AGFsaWNlAHNlY3JldA=="), SC_AUTH_SUCCESS);
    ck_assert_str_eq(reply, "235 2.7.0 Authentication successful");
    ck_assert_str_eq(result.username, "alice");
    ck_assert_str_eq(result.password, "secret");
}
END_TEST

START_TEST(test_auth_plain_authzid)
{
    /* "admin\0alice\0secret" */
    ck_assert_int_eq(start(&strict_config, "PLAIN YWRtaW4AYWxpY2UAc2VjcmV0"), SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.authzid, "admin");
    ck_assert_str_eq(result.username, "alice");
    ck_assert_str_eq(result.password, "secret");
}
END_TEST

START_TEST(test_auth_plain_utf8_and_empty_values)
{
    /* "\0jos\xc3\xa9\0p\xc3\xa4ss:word" */
    ck_assert_int_eq(start(&any_config, "PLAIN AGpvc8OpAHDDpHNzOndvcmQ="), SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.username, "jos\xc3\xa9");
    ck_assert_str_eq(result.password, "p\xc3\xa4ss:word");
    sc_auth_result_clear(&result);

    /* "\0u\0": an empty password is reported as it is. */
    ck_assert_int_eq(start(&any_config, "PLAIN AHUA"), SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.username, "u");
    ck_assert_str_eq(result.password, "");
    sc_auth_result_clear(&result);

    /* "\0\0": RFC 4616 requires a username. */
    ck_assert_int_eq(start(&any_config, "PLAIN AAA="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "501 5.5.2 Invalid AUTH response: the username is empty");
}
END_TEST

START_TEST(test_auth_plain_malformed)
{
    static const char malformed[] =
        "501 5.5.2 Invalid PLAIN response: expected authzid NUL username NUL password";

    /* "alice secret": no NUL. */
    ck_assert_int_eq(start(&any_config, "PLAIN YWxpY2Ugc2VjcmV0"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, malformed);
    /* "\0alice": one NUL. */
    ck_assert_int_eq(start(&any_config, "PLAIN AGFsaWNl"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, malformed);
    /* "\0alice\0sec\0ret": three. */
    ck_assert_int_eq(start(&any_config, "PLAIN AGFsaWNlAHNlYwByZXQ="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, malformed);
    /* "=" is an empty initial response. */
    ck_assert_int_eq(start(&any_config, "PLAIN ="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, malformed);
    ck_assert_ptr_null(result.mechanism);
}
END_TEST

START_TEST(test_auth_plain_bad_base64)
{
    ck_assert_int_eq(start(&any_config, "PLAIN AGFsaWNlAHNlY3JldA="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "501 5.5.2 Invalid base64 in the AUTH response");

    ck_assert_int_eq(start(&any_config, "PLAIN"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("not base64!"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "501 5.5.2 Invalid base64 in the AUTH response");
    ck_assert_ptr_null(result.mechanism);
}
END_TEST

/* Invalid UTF-8 would make the JSON output invalid, so it is rejected. */
START_TEST(test_auth_plain_not_utf8)
{
    /* "\0al\xffice\0secret" */
    ck_assert_int_eq(start(&any_config, "PLAIN AGFs/2ljZQBzZWNyZXQ="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply,
                     "501 5.5.2 Invalid AUTH response: the username or password is not valid "
                     "UTF-8 or contains a NUL byte");
    /* "\0alice\0s\xe9cret": Latin-1. */
    ck_assert_int_eq(start(&any_config, "PLAIN AGFsaWNlAHPpY3JldA=="), SC_AUTH_FAILURE);
    ck_assert_ptr_null(result.mechanism);
}
END_TEST

START_TEST(test_auth_plain_credentials)
{
    /* "\0alice\0wrong" */
    ck_assert_int_eq(start(&strict_config, "PLAIN AGFsaWNlAHdyb25n"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "535 5.7.8 Authentication credentials invalid");
    ck_assert_ptr_null(result.mechanism);

    /* "\0bob\0secret": another user's password. */
    ck_assert_int_eq(start(&strict_config, "PLAIN AGJvYgBzZWNyZXQ="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "535 5.7.8 Authentication credentials invalid");

    /* "\0bob\0hunter2" */
    ck_assert_int_eq(start(&strict_config, "PLAIN AGJvYgBodW50ZXIy"), SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.username, "bob");
    sc_auth_result_clear(&result);

    /* "\0carol\0": the configured password is empty. */
    ck_assert_int_eq(start(&strict_config, "PLAIN AGNhcm9sAA=="), SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.password, "");
}
END_TEST

/* ------------------------------------------------------------------ LOGIN */

START_TEST(test_auth_login_prompts)
{
    ck_assert_int_eq(start(&any_config, "LOGIN"), SC_AUTH_CONTINUE);
    ck_assert_str_eq(reply, "334 VXNlcm5hbWU6");
    ck_assert_int_eq(step("YWxpY2U="), SC_AUTH_CONTINUE);
    ck_assert_str_eq(reply, "334 UGFzc3dvcmQ6");
    ck_assert_int_eq(step("c2VjcmV0"), SC_AUTH_SUCCESS);
    ck_assert_str_eq(reply, "235 2.7.0 Authentication successful");

    ck_assert_str_eq(result.mechanism, "LOGIN");
    ck_assert_ptr_null(result.authzid);
    ck_assert_str_eq(result.username, "alice");
    ck_assert_str_eq(result.password, "secret");
    ck_assert_ptr_null(exchange.username);
}
END_TEST

START_TEST(test_auth_login_initial_username)
{
    ck_assert_int_eq(start(&strict_config, "LOGIN YWxpY2U="), SC_AUTH_CONTINUE);
    ck_assert_str_eq(reply, "334 UGFzc3dvcmQ6");
    ck_assert_int_eq(step("c2VjcmV0"), SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.username, "alice");
    ck_assert_str_eq(result.password, "secret");
}
END_TEST

START_TEST(test_auth_login_wrong_password)
{
    ck_assert_int_eq(start(&strict_config, "LOGIN"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("YWxpY2U="), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("aHVudGVyMg=="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "535 5.7.8 Authentication credentials invalid");
    ck_assert_ptr_null(result.mechanism);
}
END_TEST

/* An empty line is an empty response; LOGIN has no rule against it. */
START_TEST(test_auth_login_empty_values)
{
    /* "dQ==" is "u": an empty password is reported as it is. */
    ck_assert_int_eq(start(&any_config, "LOGIN"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("dQ=="), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step(""), SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.username, "u");
    ck_assert_str_eq(result.password, "");
    sc_auth_result_clear(&result);

    /* An empty username is not. */
    ck_assert_int_eq(start(&any_config, "LOGIN"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step(""), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "501 5.5.2 Invalid AUTH response: the username is empty");
}
END_TEST

START_TEST(test_auth_login_nul_rejected)
{
    /* "al\0ice" */
    ck_assert_int_eq(start(&any_config, "LOGIN YWwAaWNl"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply,
                     "501 5.5.2 Invalid AUTH response: the username or password is not valid "
                     "UTF-8 or contains a NUL byte");
}
END_TEST

/* A reset in the middle of LOGIN frees the username; ASan checks it. */
START_TEST(test_auth_reset_mid_exchange)
{
    ck_assert_int_eq(start(&any_config, "LOGIN YWxpY2U="), SC_AUTH_CONTINUE);
    ck_assert_ptr_nonnull(exchange.username);
    sc_auth_exchange_reset(&exchange);
    sc_auth_exchange_reset(&exchange);
    ck_assert_ptr_null(exchange.username);
    ck_assert_int_eq(exchange.mechanism, SC_MECH_NONE);
}
END_TEST

/* --------------------------------------------------------------- CRAM-MD5 */

/* base64 of "<0.0@mx.test>", the fixed challenge used without make_challenge. */
#define FIXED_CHALLENGE "334 PDAuMEBteC50ZXN0Pg=="

/* Base64-encode "username digest" for the fixed challenge, keyed with password. */
static void cram_response_for(const char *username, const char *password, char *line,
                              size_t size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char text[128], hex[33];
    size_t len, i, out = 0;
    unsigned v;

    ck_assert_int_eq(sc_cram_md5_digest(password, "<0.0@mx.test>", hex), 0);
    len = (size_t)snprintf(text, sizeof(text), "%s %s", username, hex);
    ck_assert_uint_lt(len, sizeof(text));
    for (i = 0; i < len; i += 3) {
        v = (unsigned)(unsigned char)text[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)(unsigned char)text[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)text[i + 2];
        ck_assert_uint_lt(out + 5, size);
        line[out++] = alphabet[v >> 18];
        line[out++] = alphabet[(v >> 12) & 63];
        line[out++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        line[out++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    line[out] = '\0';
}

START_TEST(test_auth_cram_md5_fixed_challenge)
{
    char line[128];

    ck_assert_int_eq(start(&strict_config, "CRAM-MD5"), SC_AUTH_CONTINUE);
    ck_assert_str_eq(reply, FIXED_CHALLENGE);
    ck_assert_str_eq(exchange.challenge, "<0.0@mx.test>");

    cram_response_for("alice", "secret", line, sizeof(line));
    ck_assert_int_eq(step(line), SC_AUTH_SUCCESS);
    ck_assert_str_eq(reply, "235 2.7.0 Authentication successful");
    ck_assert_str_eq(result.mechanism, "CRAM-MD5");
    ck_assert_str_eq(result.username, "alice");
    ck_assert_ptr_null(result.password);
    ck_assert_uint_eq(strlen(result.response), 32);
}
END_TEST

START_TEST(test_auth_cram_md5_wrong_password)
{
    char line[128];

    cram_response_for("alice", "hunter2", line, sizeof(line));
    ck_assert_int_eq(start(&strict_config, "CRAM-MD5"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step(line), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "535 5.7.8 Authentication credentials invalid");

    cram_response_for("mallory", "secret", line, sizeof(line));
    ck_assert_int_eq(start(&strict_config, "CRAM-MD5"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step(line), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "535 5.7.8 Authentication credentials invalid");
    ck_assert_ptr_null(result.mechanism);
}
END_TEST

/* Without credentials the digest cannot be checked; it is reported as sent. */
START_TEST(test_auth_cram_md5_any)
{
    /* "user name 0123456789ABCDEF0123456789abcdef" */
    ck_assert_int_eq(start(&any_config, "cram-md5"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("dXNlciBuYW1lIDAxMjM0NTY3ODlBQkNERUYwMTIzNDU2Nzg5YWJjZGVm"),
                     SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.username, "user name");
    ck_assert_str_eq(result.response, "0123456789ABCDEF0123456789abcdef");
}
END_TEST

START_TEST(test_auth_cram_md5_malformed)
{
    static const char malformed[] =
        "501 5.5.2 Invalid CRAM-MD5 response: expected a username, a space and 32 hex digits";

    /* "alice 0123": a short digest. */
    ck_assert_int_eq(start(&any_config, "CRAM-MD5"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("YWxpY2UgMDEyMw=="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, malformed);

    /* "alice-0123456789abcdef0123456789abcdef": no space. */
    ck_assert_int_eq(start(&any_config, "CRAM-MD5"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("YWxpY2UtMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
                     SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, malformed);

    /* "alice 0123456789abcdef0123456789abcdeg": not hex. */
    ck_assert_int_eq(start(&any_config, "CRAM-MD5"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("YWxpY2UgMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWc="),
                     SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, malformed);
}
END_TEST

/* RFC 4954 section 4: 501 5.7.0 for an initial response to a mechanism in
 * which the server speaks first. */
START_TEST(test_auth_cram_md5_initial_response)
{
    ck_assert_int_eq(start(&any_config, "CRAM-MD5 YWxpY2U="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "501 5.7.0 CRAM-MD5 takes no initial response: the server sends "
                            "the challenge first");
}
END_TEST

static int failing_challenge(char *buf, size_t size, const char *hostname)
{
    (void)buf;
    (void)size;
    (void)hostname;
    return -1;
}

static int custom_challenge(char *buf, size_t size, const char *hostname)
{
    snprintf(buf, size, "<42.1765012345@%s>", hostname);
    return 0;
}

START_TEST(test_auth_cram_md5_challenge_hook)
{
    any_config.make_challenge = custom_challenge;
    ck_assert_int_eq(start(&any_config, "CRAM-MD5"), SC_AUTH_CONTINUE);
    ck_assert_str_eq(exchange.challenge, "<42.1765012345@mx.test>");
    /* base64 of "<42.1765012345@mx.test>" */
    ck_assert_str_eq(reply, "334 PDQyLjE3NjUwMTIzNDVAbXgudGVzdD4=");

    any_config.make_challenge = failing_challenge;
    ck_assert_int_eq(start(&any_config, "CRAM-MD5"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "454 4.7.0 Temporary authentication failure: no CRAM-MD5 "
                            "challenge could be made");
}
END_TEST

/* ------------------------------------------------------------ the command */

START_TEST(test_auth_cancel)
{
    ck_assert_int_eq(start(&any_config, "LOGIN"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("YWxpY2U="), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("*"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "501 5.0.0 Authentication cancelled");
    ck_assert_ptr_null(result.mechanism);

    ck_assert_int_eq(start(&any_config, "CRAM-MD5"), SC_AUTH_CONTINUE);
    ck_assert_int_eq(step("*"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "501 5.0.0 Authentication cancelled");
}
END_TEST

START_TEST(test_auth_unknown_mechanism)
{
    ck_assert_int_eq(start(&any_config, "DIGEST-MD5"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "504 5.5.4 Unrecognized authentication mechanism; use PLAIN, "
                            "LOGIN or CRAM-MD5");
    ck_assert_int_eq(start(&any_config, "XOAUTH2 dXNlcj0="), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, "504 5.5.4 Unrecognized authentication mechanism; use PLAIN, "
                            "LOGIN or CRAM-MD5");
}
END_TEST

START_TEST(test_auth_syntax)
{
    static const char syntax[] = "501 5.5.4 Syntax: AUTH mechanism [initial-response]";

    ck_assert_int_eq(start(&any_config, ""), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, syntax);
    ck_assert_int_eq(start(&any_config, "PLAIN AGFsaWNlAHNlY3JldA== extra"), SC_AUTH_FAILURE);
    ck_assert_str_eq(reply, syntax);

    /* Spaces around the initial response are tolerated. */
    ck_assert_int_eq(start(&any_config, "plain  AGFsaWNlAHNlY3JldA==  "), SC_AUTH_SUCCESS);
    ck_assert_str_eq(result.mechanism, "PLAIN");
}
END_TEST

Suite *suite_auth(void)
{
    Suite *suite = suite_create("auth");
    TCase *base64 = tcase_create("base64 and digests");
    TCase *plain = tcase_create("PLAIN");
    TCase *login = tcase_create("LOGIN");
    TCase *cram = tcase_create("CRAM-MD5");
    TCase *command = tcase_create("command");

    tcase_add_checked_fixture(base64, setup, teardown);
    tcase_add_test(base64, test_auth_base64_valid);
    tcase_add_test(base64, test_auth_base64_invalid);
    tcase_add_test(base64, test_auth_cram_md5_digest_rfc2195);
    tcase_add_test(base64, test_auth_cram_md5_digest_empty_password);
    tcase_add_test(base64, test_auth_random_challenge);
    suite_add_tcase(suite, base64);

    tcase_add_checked_fixture(plain, setup, teardown);
    tcase_add_test(plain, test_auth_plain_initial_response);
    tcase_add_test(plain, test_auth_plain_after_challenge);
    tcase_add_test(plain, test_auth_plain_authzid);
    tcase_add_test(plain, test_auth_plain_utf8_and_empty_values);
    tcase_add_test(plain, test_auth_plain_malformed);
    tcase_add_test(plain, test_auth_plain_bad_base64);
    tcase_add_test(plain, test_auth_plain_not_utf8);
    tcase_add_test(plain, test_auth_plain_credentials);
    suite_add_tcase(suite, plain);

    tcase_add_checked_fixture(login, setup, teardown);
    tcase_add_test(login, test_auth_login_prompts);
    tcase_add_test(login, test_auth_login_initial_username);
    tcase_add_test(login, test_auth_login_wrong_password);
    tcase_add_test(login, test_auth_login_empty_values);
    tcase_add_test(login, test_auth_login_nul_rejected);
    tcase_add_test(login, test_auth_reset_mid_exchange);
    suite_add_tcase(suite, login);

    tcase_add_checked_fixture(cram, setup, teardown);
    tcase_add_test(cram, test_auth_cram_md5_fixed_challenge);
    tcase_add_test(cram, test_auth_cram_md5_wrong_password);
    tcase_add_test(cram, test_auth_cram_md5_any);
    tcase_add_test(cram, test_auth_cram_md5_malformed);
    tcase_add_test(cram, test_auth_cram_md5_initial_response);
    tcase_add_test(cram, test_auth_cram_md5_challenge_hook);
    suite_add_tcase(suite, cram);

    tcase_add_checked_fixture(command, setup, teardown);
    tcase_add_test(command, test_auth_cancel);
    tcase_add_test(command, test_auth_unknown_mechanism);
    tcase_add_test(command, test_auth_syntax);
    suite_add_tcase(suite, command);

    return suite;
}
