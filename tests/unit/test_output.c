/*
 * Tests of the JSON lines (core/output.c). Each message line is collected
 * through a writer, checked for its framing (one "\n", at the end), then
 * parsed back with cJSON so every member can be compared with what went in.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "message.h"
#include "output.h"
#include "path.h"
#include "suites.h"

#define KIB 1024

/* A writer that stores every byte and counts the calls. It can be set to
 * fail on one call, to test that the writer's error is passed back. */
struct collector {
    struct sc_buf bytes;
    size_t writes;
    size_t fail_on_write;       /* Number of the call that fails, from 1, or 0 for none. */
    int error;
};

static struct collector sink;
static cJSON *parsed;

/* 2026-12-04T19:23:12.345Z */
static const struct timespec received_at = {.tv_sec = 1796412192, .tv_nsec = 345678901};

static int collect(void *arg, const char *bytes, size_t len)
{
    struct collector *c = arg;

    c->writes++;
    if (c->writes == c->fail_on_write)
        return c->error;
    ck_assert_int_eq(sc_buf_append(&c->bytes, bytes, len), 0);
    return 0;
}

static void setup(void)
{
    memset(&sink, 0, sizeof(sink));
    parsed = NULL;
}

static void teardown(void)
{
    sc_buf_free(&sink.bytes);
    cJSON_Delete(parsed);
}

/* Fill m like the message in the output example. The message owns its
 * strings but borrows data. Release it with free_message(). */
static void fill_message(struct sc_message *m, const char *data, size_t size)
{
    static const char *const rcpts[] = {"a@example.com", "b@example.com"};
    size_t i;

    memset(m, 0, sizeof(*m));
    m->helo = strdup("client.example");
    m->esmtp = true;
    m->mail_from = strdup("sender@example.com");

    m->mail_params_len = 3;
    m->mail_params = calloc(3, sizeof(struct sc_param));
    ck_assert_ptr_nonnull(m->mail_params);
    m->mail_params[0].keyword = strdup("SIZE");
    m->mail_params[0].value = strdup("1234");
    m->mail_params[1].keyword = strdup("BODY");
    m->mail_params[1].value = strdup("8BITMIME");
    m->mail_params[2].keyword = strdup("SMTPUTF8");

    for (i = 0; i < 2; i++)
        ck_assert_int_eq(sc_message_add_rcpt(m, strdup(rcpts[i])), 0);

    m->data = data;
    m->size = size;
    m->client_address = "127.0.0.1";
    m->client_port = 51234;
}

static void free_message(struct sc_message *m)
{
    sc_message_reset(m);
    free(m->helo);
}

/*
 * Write msg through the collector and parse the line back into parsed.
 * Checks the framing on the way: the line ends with its only "\n" and
 * contains no CR, because JSON escapes both.
 */
static void write_and_parse(const struct sc_message *msg)
{
    struct sc_writer writer = {collect, &sink};
    const char *end = NULL;

    ck_assert_int_eq(sc_output_message(msg, 42, &received_at, &writer), 0);
    ck_assert_uint_gt(sink.bytes.len, 0);
    ck_assert_int_eq(sink.bytes.data[sink.bytes.len - 1], '\n');
    ck_assert_ptr_null(memchr(sink.bytes.data, '\n', sink.bytes.len - 1));
    ck_assert_ptr_null(memchr(sink.bytes.data, '\r', sink.bytes.len));

    parsed = cJSON_ParseWithLengthOpts(sink.bytes.data, sink.bytes.len - 1, &end, false);
    ck_assert_msg(parsed != NULL, "line is not JSON: %.200s", sink.bytes.data);
    ck_assert_ptr_eq(end, sink.bytes.data + sink.bytes.len - 1);
    ck_assert(cJSON_IsObject(parsed));
}

static const char *get_string(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    ck_assert_msg(cJSON_IsString(item), "member \"%s\" is not a string", name);
    return item->valuestring;
}

static double get_number(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    ck_assert_msg(cJSON_IsNumber(item), "member \"%s\" is not a number", name);
    return item->valuedouble;
}

/* Return the index of c in the base64 alphabet, or -1. */
static int base64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;

    return p ? (int)(p - alphabet) : -1;
}

/* Decode standard padded base64 into out. Fails the test on bad input. */
static void base64_decode(const char *text, struct sc_buf *out)
{
    size_t len = strlen(text), i;
    int v[4], k;
    unsigned char bytes[3];

    ck_assert_uint_eq(len % 4, 0);
    for (i = 0; i < len; i += 4) {
        for (k = 0; k < 4; k++) {
            v[k] = text[i + k] == '=' ? 0 : base64_value(text[i + k]);
            ck_assert_int_ge(v[k], 0);
        }
        bytes[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        bytes[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
        bytes[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
        if (text[i + 2] == '=')
            k = 1;
        else if (text[i + 3] == '=')
            k = 2;
        else
            k = 3;
        ck_assert(k == 3 || i + 4 == len);
        sc_buf_append(out, bytes, (size_t)k);
    }
}

/* Check that the line carries data exactly, as "data" when it is UTF-8
 * text without NUL (cJSON strings end at NUL), else as "data_base64". */
static void assert_data_round_trip(const char *data, size_t size, bool utf8)
{
    const char *text;
    struct sc_buf decoded = {0};

    ck_assert_double_eq(get_number(parsed, "size"), (double)size);
    if (utf8) {
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(parsed, "data_base64"));
        text = get_string(parsed, "data");
        ck_assert_uint_eq(strlen(text), size);
        ck_assert_mem_eq(text, data, size);
        return;
    }

    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(parsed, "data"));
    base64_decode(get_string(parsed, "data_base64"), &decoded);
    ck_assert_uint_eq(decoded.len, size);
    if (size > 0)
        ck_assert_mem_eq(decoded.data, data, size);
    sc_buf_free(&decoded);
}

/* Return the escaped form of data as a C string; the caller frees it. */
static char *escape(const char *data, size_t len)
{
    struct sc_buf out = {0};

    ck_assert_int_eq(sc_json_escape(&out, data, len), 0);
    ck_assert_int_eq(sc_buf_append(&out, "", 1), 0);
    return out.data;
}

#define ASSERT_ESCAPED(literal, expected)                               \
    do {                                                                \
        char *escaped_ = escape((literal), sizeof(literal) - 1);       \
        ck_assert_str_eq(escaped_, (expected));                         \
        free(escaped_);                                                 \
    } while (0)

/* ------------------------------------------------------------ json escape */

START_TEST(test_escape_plain)
{
    ASSERT_ESCAPED("", "");
    ASSERT_ESCAPED("hello, world", "hello, world");
    ASSERT_ESCAPED("/ and ' and \x7f", "/ and ' and \x7f");
}
END_TEST

START_TEST(test_escape_quote_backslash)
{
    ASSERT_ESCAPED("say \"hi\"", "say \\\"hi\\\"");
    ASSERT_ESCAPED("C:\\dir\\", "C:\\\\dir\\\\");
}
END_TEST

START_TEST(test_escape_line_endings)
{
    ASSERT_ESCAPED("a\r\nb\nc\rd\te", "a\\r\\nb\\nc\\rd\\te");
}
END_TEST

START_TEST(test_escape_controls)
{
    ASSERT_ESCAPED("\x01", "\\u0001");
    ASSERT_ESCAPED("\0", "\\u0000");
    ASSERT_ESCAPED("\x08\x0c", "\\u0008\\u000c");
    ASSERT_ESCAPED("\x1b[0m", "\\u001b[0m");
    ASSERT_ESCAPED("\x1f", "\\u001f");
}
END_TEST

START_TEST(test_escape_line_separators)
{
    ASSERT_ESCAPED("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", "a\\u2028b\\u2029c");
    ASSERT_ESCAPED("\xe2\x80\xa8", "\\u2028");
}
END_TEST

START_TEST(test_escape_utf8_kept)
{
    ASSERT_ESCAPED("caf\xc3\xa9 \xe2\x82\xac \xe2\x80\x99 \xf0\x9f\x98\x80",
                   "caf\xc3\xa9 \xe2\x82\xac \xe2\x80\x99 \xf0\x9f\x98\x80");
    ASSERT_ESCAPED("\xe2\x80\xa7\xe2\x80\xaa", "\xe2\x80\xa7\xe2\x80\xaa");
}
END_TEST

/* One byte to escape at every offset of inputs of 0 to 40 bytes, which
 * crosses the sixteen-byte steps of the escaper. Each input is an exact-size
 * copy, so ASan reports a read past its end. */
START_TEST(test_escape_every_offset)
{
    static const struct {
        const char *byte;
        size_t len;
        const char *escaped;
    } cases[] = {
        {"\"", 1, "\\\""},
        {"\\", 1, "\\\\"},
        {"\r", 1, "\\r"},
        {"\r\n", 2, "\\r\\n"},
        {"\x01", 1, "\\u0001"},
        {"\xe2\x80\xa8", 3, "\\u2028"},
        {"\xe2\x82\xac", 3, "\xe2\x82\xac"},
    };
    char *input, *escaped, expected[128];
    size_t c, len, at, done;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (len = cases[c].len; len <= 40; len++) {
            for (at = 0; at + cases[c].len <= len; at++) {
                input = malloc(len);
                ck_assert_ptr_nonnull(input);
                memset(input, 'a', len);
                memcpy(input + at, cases[c].byte, cases[c].len);

                memset(expected, 'a', at);
                done = at + (size_t)sprintf(expected + at, "%s", cases[c].escaped);
                memset(expected + done, 'a', len - at - cases[c].len);
                expected[done + len - at - cases[c].len] = '\0';

                escaped = escape(input, len);
                ck_assert_str_eq(escaped, expected);
                free(escaped);
                free(input);
            }
        }
    }
}
END_TEST

START_TEST(test_escape_appends)
{
    struct sc_buf out = {0};

    ck_assert_int_eq(sc_buf_append_str(&out, "head:"), 0);
    ck_assert_int_eq(sc_json_escape(&out, "\"x\"", 3), 0);
    ck_assert_int_eq(sc_buf_append(&out, "", 1), 0);
    ck_assert_str_eq(out.data, "head:\\\"x\\\"");
    sc_buf_free(&out);
}
END_TEST

/* ----------------------------------------------------------------- base64 */

/* The test vectors of RFC 4648 section 10, and bytes that use '+' and '/'. */
static const struct {
    const char *input;
    size_t len;
    const char *expected;
} base64_vectors[] = {
    {"", 0, ""},
    {"f", 1, "Zg=="},
    {"fo", 2, "Zm8="},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg=="},
    {"fooba", 5, "Zm9vYmE="},
    {"foobar", 6, "Zm9vYmFy"},
    {"\xfb\xef\xbe", 3, "++++"},
    {"\xff\xff\xff", 3, "////"},
    {"\xfb\xff", 2, "+/8="},
    {"\0", 1, "AA=="},
    {"\0\0\0\0", 4, "AAAAAA=="},
};

START_TEST(test_base64_vectors)
{
    struct sc_buf out = {0};

    ck_assert_int_eq(sc_base64_encode(&out, (const unsigned char *)base64_vectors[_i].input,
                                      base64_vectors[_i].len),
                     0);
    ck_assert_int_eq(sc_buf_append(&out, "", 1), 0);
    ck_assert_str_eq(out.data, base64_vectors[_i].expected);
    sc_buf_free(&out);
}
END_TEST

START_TEST(test_base64_appends)
{
    struct sc_buf out = {0};

    ck_assert_int_eq(sc_buf_append_str(&out, "x="), 0);
    ck_assert_int_eq(sc_base64_encode(&out, (const unsigned char *)"foob", 4), 0);
    ck_assert_int_eq(sc_base64_encode(&out, (const unsigned char *)"", 0), 0);
    ck_assert_int_eq(sc_buf_append(&out, "", 1), 0);
    ck_assert_str_eq(out.data, "x=Zm9vYg==");
    sc_buf_free(&out);
}
END_TEST

/* -------------------------------------------------------------- timestamp */

START_TEST(test_timestamp_format)
{
    char text[40];
    struct timespec t;

    t.tv_sec = 0;
    t.tv_nsec = 0;
    sc_format_timestamp(&t, text, sizeof(text));
    ck_assert_str_eq(text, "1970-01-01T00:00:00.000Z");

    sc_format_timestamp(&received_at, text, sizeof(text));
    ck_assert_str_eq(text, "2026-12-04T19:23:12.345Z");

    t.tv_sec = 951868799;
    t.tv_nsec = 7000000;
    sc_format_timestamp(&t, text, sizeof(text));
    ck_assert_str_eq(text, "2000-02-29T23:59:59.007Z");
}
END_TEST

START_TEST(test_timestamp_truncates_ms)
{
    char text[40];
    struct timespec t = {.tv_sec = 2147483648, .tv_nsec = 999999999};

    sc_format_timestamp(&t, text, sizeof(text));
    ck_assert_str_eq(text, "2038-01-19T03:14:08.999Z");
}
END_TEST

START_TEST(test_timestamp_small_buffer)
{
    char text[25];
    struct timespec t = {.tv_sec = 1796412192, .tv_nsec = 5000000};

    memset(text, 'x', sizeof(text));
    sc_format_timestamp(&t, text, sizeof(text));
    ck_assert_str_eq(text, "2026-12-04T19:23:12.005Z");
}
END_TEST

/* ------------------------------------------------------------- ready line */

START_TEST(test_output_ready)
{
    static const char *const addresses[] = {"127.0.0.1", "::1"};
    struct sc_ready_info info = {addresses, 2, 40123, 4242, "0.1.0", NULL, NULL};
    struct sc_buf line = {0};
    const cJSON *list;

    ck_assert_int_eq(sc_buf_append_str(&line, "old content"), 0);
    ck_assert_int_eq(sc_output_ready(&line, &info), 0);

    ck_assert_uint_gt(line.len, 0);
    ck_assert_int_eq(line.data[line.len - 1], '\n');
    ck_assert_ptr_null(memchr(line.data, '\n', line.len - 1));
    ck_assert_int_eq(line.data[0], '{');
    parsed = cJSON_ParseWithLength(line.data, line.len - 1);
    ck_assert_ptr_nonnull(parsed);

    ck_assert_str_eq(get_string(parsed, "event"), "ready");
    ck_assert_str_eq(get_string(parsed, "address"), "127.0.0.1");
    ck_assert_double_eq(get_number(parsed, "port"), 40123);
    ck_assert_double_eq(get_number(parsed, "pid"), 4242);
    ck_assert_str_eq(get_string(parsed, "version"), "0.1.0");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(parsed, "tls")));
    list = cJSON_GetObjectItemCaseSensitive(parsed, "addresses");
    ck_assert(cJSON_IsArray(list));
    ck_assert_int_eq(cJSON_GetArraySize(list), 2);
    ck_assert_str_eq(cJSON_GetArrayItem(list, 0)->valuestring, "127.0.0.1");
    ck_assert_str_eq(cJSON_GetArrayItem(list, 1)->valuestring, "::1");
    sc_buf_free(&line);
}
END_TEST

START_TEST(test_output_ready_tls)
{
    static const char *const addresses[] = {"127.0.0.1"};
    static const char fingerprint[] =
        "85794308809ee7725e7969b2d47a67531ec84ea9018ae5b8f12f0f0614f09eb9";
    struct sc_ready_info info = {addresses, 1, 2525, 1, "0.1.0", "implicit", fingerprint};
    struct sc_buf line = {0};
    const cJSON *tls;

    ck_assert_int_eq(sc_output_ready(&line, &info), 0);
    parsed = cJSON_ParseWithLength(line.data, line.len - 1);
    ck_assert_ptr_nonnull(parsed);
    sc_buf_free(&line);

    tls = cJSON_GetObjectItemCaseSensitive(parsed, "tls");
    ck_assert(cJSON_IsObject(tls));
    ck_assert_str_eq(get_string(tls, "mode"), "implicit");
    ck_assert_str_eq(get_string(tls, "sha256"), fingerprint);
}
END_TEST

START_TEST(test_output_ready_no_address)
{
    struct sc_ready_info info = {NULL, 0, 2525, 1, "0.1.0", NULL, NULL};
    struct sc_buf line = {0};

    ck_assert_int_eq(sc_output_ready(&line, &info), 0);
    parsed = cJSON_ParseWithLength(line.data, line.len - 1);
    ck_assert_ptr_nonnull(parsed);
    ck_assert_str_eq(get_string(parsed, "address"), "");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(parsed, "addresses")), 0);
    sc_buf_free(&line);
}
END_TEST

/* ----------------------------------------------------------- message line */

START_TEST(test_output_message_members)
{
    static const char data[] = "Subject: Hi\r\n\r\nHello\r\n";
    struct sc_message msg;
    const cJSON *client, *params, *rcpts;

    fill_message(&msg, data, sizeof(data) - 1);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_uint_eq(sink.writes, 1);
    ck_assert_str_eq(get_string(parsed, "event"), "message");
    ck_assert_double_eq(get_number(parsed, "id"), 42);
    ck_assert_str_eq(get_string(parsed, "received_at"), "2026-12-04T19:23:12.345Z");

    client = cJSON_GetObjectItemCaseSensitive(parsed, "client");
    ck_assert(cJSON_IsObject(client));
    ck_assert_str_eq(get_string(client, "address"), "127.0.0.1");
    ck_assert_double_eq(get_number(client, "port"), 51234);

    ck_assert_str_eq(get_string(parsed, "helo"), "client.example");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(parsed, "esmtp")));
    ck_assert_str_eq(get_string(parsed, "mail_from"), "sender@example.com");

    params = cJSON_GetObjectItemCaseSensitive(parsed, "mail_params");
    ck_assert(cJSON_IsObject(params));
    ck_assert_int_eq(cJSON_GetArraySize(params), 3);
    ck_assert_str_eq(get_string(params, "SIZE"), "1234");
    ck_assert_str_eq(get_string(params, "BODY"), "8BITMIME");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "SMTPUTF8")));

    rcpts = cJSON_GetObjectItemCaseSensitive(parsed, "rcpt_to");
    ck_assert(cJSON_IsArray(rcpts));
    ck_assert_int_eq(cJSON_GetArraySize(rcpts), 2);
    ck_assert_str_eq(cJSON_GetArrayItem(rcpts, 0)->valuestring, "a@example.com");
    ck_assert_str_eq(cJSON_GetArrayItem(rcpts, 1)->valuestring, "b@example.com");

    ck_assert_double_eq(get_number(parsed, "size"), sizeof(data) - 1);
    ck_assert_str_eq(get_string(parsed, "data"), data);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(parsed, "data_base64"));
}
END_TEST

START_TEST(test_output_tls_null)
{
    struct sc_message msg;

    fill_message(&msg, "x", 1);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(parsed, "tls")));
}
END_TEST

START_TEST(test_output_tls)
{
    struct sc_message msg;
    const cJSON *tls;

    fill_message(&msg, "x", 1);
    msg.tls_version = "TLSv1.3";
    msg.tls_cipher = "TLS_AES_256_GCM_SHA384";
    write_and_parse(&msg);
    msg.tls_version = NULL;
    msg.tls_cipher = NULL;
    free_message(&msg);

    tls = cJSON_GetObjectItemCaseSensitive(parsed, "tls");
    ck_assert(cJSON_IsObject(tls));
    ck_assert_str_eq(get_string(tls, "version"), "TLSv1.3");
    ck_assert_str_eq(get_string(tls, "cipher"), "TLS_AES_256_GCM_SHA384");
    ck_assert_int_eq(cJSON_GetArraySize(tls), 2);
}
END_TEST

START_TEST(test_output_auth_null)
{
    struct sc_message msg;

    fill_message(&msg, "x", 1);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(parsed, "auth")));
}
END_TEST

START_TEST(test_output_auth_plain)
{
    struct sc_message msg;
    const cJSON *auth;

    fill_message(&msg, "x", 1);
    msg.auth.mechanism = "PLAIN";
    msg.auth.authzid = strdup("admin");
    msg.auth.username = strdup("jos\xc3\xa9");
    msg.auth.password = strdup("p\"w\\d\xe2\x80\xa8");
    write_and_parse(&msg);
    sc_auth_result_clear(&msg.auth);
    free_message(&msg);

    auth = cJSON_GetObjectItemCaseSensitive(parsed, "auth");
    ck_assert(cJSON_IsObject(auth));
    ck_assert_int_eq(cJSON_GetArraySize(auth), 4);
    ck_assert_str_eq(get_string(auth, "mechanism"), "PLAIN");
    ck_assert_str_eq(get_string(auth, "authzid"), "admin");
    ck_assert_str_eq(get_string(auth, "username"), "jos\xc3\xa9");
    ck_assert_str_eq(get_string(auth, "password"), "p\"w\\d\xe2\x80\xa8");
    /* U+2028 is escaped, as in every other string of the line. */
    ck_assert_ptr_nonnull(strstr(sink.bytes.data, "\"p\\\"w\\\\d\\u2028\""));
}
END_TEST

START_TEST(test_output_auth_cram_md5)
{
    struct sc_message msg;
    const cJSON *auth;

    fill_message(&msg, "x", 1);
    msg.auth.mechanism = "CRAM-MD5";
    msg.auth.username = strdup("alice");
    msg.auth.response = strdup("f31b682c15f947207a31c85d1cf113c4");
    write_and_parse(&msg);
    sc_auth_result_clear(&msg.auth);
    free_message(&msg);

    auth = cJSON_GetObjectItemCaseSensitive(parsed, "auth");
    ck_assert_int_eq(cJSON_GetArraySize(auth), 3);
    ck_assert_str_eq(get_string(auth, "mechanism"), "CRAM-MD5");
    ck_assert_str_eq(get_string(auth, "username"), "alice");
    ck_assert_str_eq(get_string(auth, "response"), "f31b682c15f947207a31c85d1cf113c4");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(auth, "password"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(auth, "authzid"));
}
END_TEST

START_TEST(test_output_message_envelope_variants)
{
    struct sc_message msg;
    const cJSON *client;

    fill_message(&msg, "x", 1);
    free(msg.mail_from);
    msg.mail_from = strdup("");
    sc_free_params(msg.mail_params, msg.mail_params_len);
    msg.mail_params = NULL;
    msg.mail_params_len = 0;
    msg.esmtp = false;
    msg.client_address = NULL;
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_str_eq(get_string(parsed, "mail_from"), "");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(parsed, "esmtp")));
    ck_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(parsed, "mail_params")));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(parsed, "mail_params")), 0);
    client = cJSON_GetObjectItemCaseSensitive(parsed, "client");
    ck_assert(cJSON_IsObject(client));
    ck_assert_int_eq(cJSON_GetArraySize(client), 0);
}
END_TEST

START_TEST(test_output_message_utf8_envelope)
{
    struct sc_message msg;

    fill_message(&msg, "x", 1);
    free(msg.mail_from);
    msg.mail_from = strdup("用户@例子.广告");
    free(msg.rcpt_to[0]);
    msg.rcpt_to[0] = strdup("\"john \\\"q\\\" doe\"@example.com");
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_str_eq(get_string(parsed, "mail_from"), "用户@例子.广告");
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(parsed, "rcpt_to"), 0)
                         ->valuestring,
                     "\"john \\\"q\\\" doe\"@example.com");
}
END_TEST

/* cJSON prints U+2028 and U+2029 raw; the envelope must escape them as data does. */
START_TEST(test_output_message_envelope_separators)
{
    struct sc_message msg;
    const char *line;

    fill_message(&msg, "x", 1);
    free(msg.mail_from);
    msg.mail_from = strdup("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c@example.com");
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_int_eq(sc_buf_append(&sink.bytes, "", 1), 0);
    line = sink.bytes.data;
    ck_assert_ptr_nonnull(strstr(line, "\"mail_from\":\"a\\u2028b\\u2029c@example.com\""));
    ck_assert_ptr_null(strstr(line, "\xe2\x80\xa8"));
    ck_assert_str_eq(get_string(parsed, "mail_from"),
                     "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c@example.com");
}
END_TEST

START_TEST(test_output_message_empty_data)
{
    struct sc_message msg;

    fill_message(&msg, "", 0);
    write_and_parse(&msg);
    free_message(&msg);

    assert_data_round_trip("", 0, true);
}
END_TEST

START_TEST(test_output_message_escapes)
{
    static const char data[] =
        "quote \" backslash \\ tab \t\r\n"
        "controls \x01\x02\x1b\x1f del \x7f\r\n"
        "separators \xe2\x80\xa8 and \xe2\x80\xa9\r\n"
        "utf8 caf\xc3\xa9 \xf0\x9f\x98\x80\n";
    struct sc_message msg;
    const char *line;

    fill_message(&msg, data, sizeof(data) - 1);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_int_eq(sc_buf_append(&sink.bytes, "", 1), 0);
    line = sink.bytes.data;
    ck_assert_ptr_nonnull(strstr(line, "quote \\\" backslash \\\\ tab \\t\\r\\n"));
    ck_assert_ptr_nonnull(strstr(line, "\\u0001\\u0002\\u001b\\u001f"));
    ck_assert_ptr_nonnull(strstr(line, "separators \\u2028 and \\u2029\\r\\n"));
    ck_assert_ptr_null(strstr(line, "\xe2\x80\xa8"));
    ck_assert_ptr_null(strstr(line, "\xe2\x80\xa9"));
    ck_assert_ptr_nonnull(strstr(line, "caf\xc3\xa9 \xf0\x9f\x98\x80\\n"));
    assert_data_round_trip(data, sizeof(data) - 1, true);
}
END_TEST

START_TEST(test_output_message_nul_byte)
{
    static const char data[] = "a\0b";
    struct sc_message msg;

    fill_message(&msg, data, sizeof(data) - 1);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_int_eq(sc_buf_append(&sink.bytes, "", 1), 0);
    ck_assert_ptr_nonnull(strstr(sink.bytes.data, "\"data\":\"a\\u0000b\""));
    ck_assert_double_eq(get_number(parsed, "size"), 3);
}
END_TEST

START_TEST(test_output_message_invalid_utf8)
{
    static const char data[] = "Subject: caf\xe9\r\n\r\n\xff\xfe\0\xc0\xaf\xed\xa0\x80 end\r\n";
    struct sc_message msg;

    fill_message(&msg, data, sizeof(data) - 1);
    write_and_parse(&msg);
    free_message(&msg);

    assert_data_round_trip(data, sizeof(data) - 1, false);
}
END_TEST

START_TEST(test_output_message_writer_error)
{
    struct sc_message msg;
    struct sc_writer writer = {collect, &sink};

    fill_message(&msg, "x", 1);
    sink.fail_on_write = 1;
    sink.error = -32;
    ck_assert_int_eq(sc_output_message(&msg, 1, &received_at, &writer), -32);
    free_message(&msg);
}
END_TEST

/* ---------------------------------------- recipient parameters, warnings */

/* Add a recipient with one or two parameters (keyword2 NULL for one). The
 * message owns the copies made here. */
static void add_rcpt_with_params(struct sc_message *m, const char *path, const char *keyword1,
                                 const char *value1, const char *keyword2, const char *value2)
{
    size_t n = keyword2 != NULL ? 2 : 1;
    struct sc_param *params = calloc(n, sizeof(*params));

    ck_assert_ptr_nonnull(params);
    params[0].keyword = strdup(keyword1);
    params[0].value = value1 != NULL ? strdup(value1) : NULL;
    if (keyword2 != NULL) {
        params[1].keyword = strdup(keyword2);
        params[1].value = value2 != NULL ? strdup(value2) : NULL;
    }
    ck_assert_int_eq(sc_message_add_rcpt_params(m, strdup(path), params, n), 0);
}

/* Return the rcpt_params member, checked to be an array as long as rcpt_to. */
static const cJSON *get_rcpt_params(void)
{
    const cJSON *rcpt_to = cJSON_GetObjectItemCaseSensitive(parsed, "rcpt_to");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(parsed, "rcpt_params");

    ck_assert(cJSON_IsArray(rcpt_to));
    ck_assert_msg(cJSON_IsArray(params), "rcpt_params is not an array");
    ck_assert_int_eq(cJSON_GetArraySize(params), cJSON_GetArraySize(rcpt_to));
    return params;
}

/* Check that item i of rcpt_params is an object with n members. */
static const cJSON *get_params_object(const cJSON *params, int i, int n)
{
    const cJSON *object = cJSON_GetArrayItem(params, i);

    ck_assert_msg(cJSON_IsObject(object), "rcpt_params[%d] is not an object", i);
    ck_assert_msg(cJSON_GetArraySize(object) == n, "rcpt_params[%d] has %d members, expected %d",
                  i, cJSON_GetArraySize(object), n);
    return object;
}

/* Recipients without parameters get {} each, so the arrays zip. */
START_TEST(test_output_rcpt_params_none)
{
    struct sc_message msg;
    const cJSON *params;

    fill_message(&msg, "x", 1);
    write_and_parse(&msg);
    free_message(&msg);

    params = get_rcpt_params();
    ck_assert_int_eq(cJSON_GetArraySize(params), 2);
    get_params_object(params, 0, 0);
    get_params_object(params, 1, 0);
}
END_TEST

/* One object per recipient, in rcpt_to order, with {} for the recipients
 * that have no parameters, before and after the one that has. */
START_TEST(test_output_rcpt_params_in_order)
{
    struct sc_message msg;
    const cJSON *params, *object, *rcpt_to;

    fill_message(&msg, "x", 1);
    add_rcpt_with_params(&msg, "c@example.com", "NOTIFY", "SUCCESS,DELAY", "ORCPT",
                         "rfc822;c@example.com");
    ck_assert_int_eq(sc_message_add_rcpt(&msg, strdup("d@example.com")), 0);
    add_rcpt_with_params(&msg, "e@example.com", "NOTIFY", "NEVER", NULL, NULL);
    write_and_parse(&msg);
    free_message(&msg);

    rcpt_to = cJSON_GetObjectItemCaseSensitive(parsed, "rcpt_to");
    ck_assert_str_eq(cJSON_GetArrayItem(rcpt_to, 2)->valuestring, "c@example.com");
    ck_assert_str_eq(cJSON_GetArrayItem(rcpt_to, 4)->valuestring, "e@example.com");

    params = get_rcpt_params();
    ck_assert_int_eq(cJSON_GetArraySize(params), 5);
    get_params_object(params, 0, 0);
    get_params_object(params, 1, 0);
    object = get_params_object(params, 2, 2);
    ck_assert_str_eq(get_string(object, "NOTIFY"), "SUCCESS,DELAY");
    ck_assert_str_eq(get_string(object, "ORCPT"), "rfc822;c@example.com");
    get_params_object(params, 3, 0);
    object = get_params_object(params, 4, 1);
    ck_assert_str_eq(get_string(object, "NOTIFY"), "NEVER");
}
END_TEST

/* Enough recipients to grow the parameter array more than once. */
START_TEST(test_output_rcpt_params_many)
{
    struct sc_message msg;
    const cJSON *params, *object;
    char path[32], value[32];
    int i;

    memset(&msg, 0, sizeof(msg));
    msg.mail_from = strdup("a@example.com");
    msg.data = "x";
    msg.size = 1;
    for (i = 0; i < 20; i++) {
        snprintf(path, sizeof(path), "r%d@example.com", i);
        snprintf(value, sizeof(value), "rfc822;r%d@example.com", i);
        if (i % 3 == 1)
            add_rcpt_with_params(&msg, path, "ORCPT", value, NULL, NULL);
        else
            ck_assert_int_eq(sc_message_add_rcpt(&msg, strdup(path)), 0);
    }
    write_and_parse(&msg);
    free_message(&msg);

    params = get_rcpt_params();
    ck_assert_int_eq(cJSON_GetArraySize(params), 20);
    for (i = 0; i < 20; i++) {
        object = get_params_object(params, i, i % 3 == 1 ? 1 : 0);
        if (i % 3 != 1)
            continue;
        snprintf(value, sizeof(value), "rfc822;r%d@example.com", i);
        ck_assert_str_eq(get_string(object, "ORCPT"), value);
    }
}
END_TEST

START_TEST(test_output_rcpt_params_no_rcpts)
{
    struct sc_message msg;

    memset(&msg, 0, sizeof(msg));
    msg.mail_from = strdup("a@example.com");
    msg.data = "";
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_int_eq(cJSON_GetArraySize(get_rcpt_params()), 0);
}
END_TEST

/* A parameter without a value is true, as in mail_params. */
START_TEST(test_output_rcpt_params_no_value)
{
    struct sc_message msg;
    const cJSON *object;

    fill_message(&msg, "x", 1);
    add_rcpt_with_params(&msg, "c@example.com", "XFLAG", NULL, NULL, NULL);
    write_and_parse(&msg);
    free_message(&msg);

    object = get_params_object(get_rcpt_params(), 2, 1);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(object, "XFLAG")));
}
END_TEST

/* Return the warnings member, checked to be an array of strings. */
static const cJSON *get_warnings(void)
{
    const cJSON *warnings = cJSON_GetObjectItemCaseSensitive(parsed, "warnings");
    const cJSON *item;

    ck_assert_msg(cJSON_IsArray(warnings), "warnings is not an array");
    cJSON_ArrayForEach(item, warnings)
        ck_assert(cJSON_IsString(item));
    return warnings;
}

START_TEST(test_output_warnings_empty)
{
    struct sc_message msg;

    fill_message(&msg, "x", 1);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_int_eq(cJSON_GetArraySize(get_warnings()), 0);
}
END_TEST

/* Each warning bit, and its name in the JSON line. */
static const struct {
    unsigned bit;
    const char *name;
} warning_names[] = {
    {SC_WARN_BARE_LF, "bare_lf"},
    {SC_WARN_BARE_CR, "bare_cr"},
    {SC_WARN_LINE_OVER_998, "line_over_998"},
    {SC_WARN_NUL_BYTE, "nul_byte"},
    {SC_WARN_8BIT_WITHOUT_8BITMIME, "8bit_without_8bitmime"},
    {SC_WARN_UTF8_WITHOUT_SMTPUTF8, "utf8_without_smtputf8"},
    {SC_WARN_DOT_LINE_BARE_LF, "dot_line_bare_lf"},
};

#define WARNING_NAMES_LEN (sizeof(warning_names) / sizeof(warning_names[0]))

/* Run once per warning _i: a message with that warning alone lists its name. */
START_TEST(test_output_warning_name)
{
    struct sc_message msg;
    const cJSON *warnings;

    fill_message(&msg, "x", 1);
    msg.warnings = warning_names[_i].bit;
    write_and_parse(&msg);
    free_message(&msg);

    warnings = get_warnings();
    ck_assert_int_eq(cJSON_GetArraySize(warnings), 1);
    ck_assert_str_eq(cJSON_GetArrayItem(warnings, 0)->valuestring, warning_names[_i].name);
    ck_assert_str_eq(sc_warning_name(warning_names[_i].bit), warning_names[_i].name);
}
END_TEST

START_TEST(test_output_warnings_all)
{
    struct sc_message msg;
    const cJSON *warnings;
    size_t i;

    ck_assert_uint_eq(WARNING_NAMES_LEN, SC_WARNINGS_LEN);
    fill_message(&msg, "x", 1);
    for (i = 0; i < WARNING_NAMES_LEN; i++)
        msg.warnings |= warning_names[i].bit;
    write_and_parse(&msg);
    free_message(&msg);

    warnings = get_warnings();
    ck_assert_int_eq(cJSON_GetArraySize(warnings), (int)WARNING_NAMES_LEN);
    for (i = 0; i < WARNING_NAMES_LEN; i++)
        ck_assert_str_eq(cJSON_GetArrayItem(warnings, (int)i)->valuestring,
                         warning_names[i].name);
}
END_TEST

/* ------------------------------------------------------- large messages */

/* Multi-byte sequences to place across the 64 KiB boundaries, with how many
 * of their bytes come before the boundary. */
static const struct {
    const char *bytes;
    size_t len;
    size_t before;
} straddlers[] = {
    {"\xc3\xa9", 2, 1},
    {"\xe2\x82\xac", 3, 1},
    {"\xe2\x82\xac", 3, 2},
    {"\xf0\x9f\x98\x80", 4, 1},
    {"\xf0\x9f\x98\x80", 4, 2},
    {"\xf0\x9f\x98\x80", 4, 3},
    {"\xe2\x80\xa8", 3, 1},
    {"\xe2\x80\xa9", 3, 2},
};

/* A message of just over four pieces, with one straddler (chosen by _i)
 * across every multiple of 64 KiB. Text between them is mixed ASCII, so the
 * escaped line is longer than the data. */
START_TEST(test_output_message_large_utf8)
{
    static const char text[] = "line with \"quotes\" and \\ and\ttab\r\n";
    size_t size = 4 * 64 * KIB + 1000, i, at;
    char *data = malloc(size);
    struct sc_message msg;

    ck_assert_ptr_nonnull(data);
    for (i = 0; i < size; i++)
        data[i] = text[i % (sizeof(text) - 1)];
    for (at = 64 * KIB; at < size; at += 64 * KIB)
        memcpy(data + at - straddlers[_i].before, straddlers[_i].bytes, straddlers[_i].len);

    fill_message(&msg, data, size);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_uint_gt(sink.writes, 1);
    assert_data_round_trip(data, size, true);
    free(data);
}
END_TEST

/* Data made only of 2-, 3- and 4-byte sequences in a repeating mix, so a
 * piece boundary, wherever it falls, lands inside or next to a sequence. */
START_TEST(test_output_message_large_dense_utf8)
{
    static const char pattern[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8\xd0\x96";
    size_t size = 300 * KIB, i, plen = sizeof(pattern) - 1;
    char *data;
    struct sc_message msg;

    size -= size % plen;
    data = malloc(size);
    ck_assert_ptr_nonnull(data);
    for (i = 0; i < size; i += plen)
        memcpy(data + i, pattern, plen);

    fill_message(&msg, data, size);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_uint_gt(sink.writes, 1);
    assert_data_round_trip(data, size, true);
    free(data);
}
END_TEST

/* Invalid UTF-8 over several pieces, at each remainder of size mod 3, so
 * only the last piece of base64 may carry padding. */
START_TEST(test_output_message_large_base64)
{
    size_t size = 3 * 64 * KIB + 7 + (size_t)_i, i;
    char *data = malloc(size);
    struct sc_message msg;

    ck_assert_ptr_nonnull(data);
    for (i = 0; i < size; i++)
        data[i] = (char)(i * 7 + i / 251);
    data[100] = '\xff';

    fill_message(&msg, data, size);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_uint_gt(sink.writes, 1);
    assert_data_round_trip(data, size, false);
    free(data);
}
END_TEST

/* Control bytes grow sixfold when escaped, so one piece of data makes a
 * stage much larger than 64 KiB. */
START_TEST(test_output_message_large_controls)
{
    size_t size = 200 * KIB, i;
    char *data = malloc(size);
    struct sc_message msg;

    ck_assert_ptr_nonnull(data);
    for (i = 0; i < size; i++)
        data[i] = (char)(1 + i % 31);

    fill_message(&msg, data, size);
    write_and_parse(&msg);
    free_message(&msg);

    ck_assert_uint_gt(sink.writes, 1);
    assert_data_round_trip(data, size, true);
    free(data);
}
END_TEST

START_TEST(test_output_message_large_writer_error)
{
    size_t size = 200 * KIB;
    char *data = malloc(size);
    struct sc_message msg;
    struct sc_writer writer = {collect, &sink};

    ck_assert_ptr_nonnull(data);
    memset(data, 'a', size);
    fill_message(&msg, data, size);
    sink.fail_on_write = 2;
    sink.error = -5;

    ck_assert_int_eq(sc_output_message(&msg, 1, &received_at, &writer), -5);
    ck_assert_uint_eq(sink.writes, 2);
    free_message(&msg);
    free(data);
}
END_TEST

Suite *suite_output(void)
{
    Suite *suite = suite_create("output");
    TCase *escape_case = tcase_create("escape");
    TCase *lines = tcase_create("lines");
    TCase *large = tcase_create("large");

    tcase_add_test(escape_case, test_escape_plain);
    tcase_add_test(escape_case, test_escape_quote_backslash);
    tcase_add_test(escape_case, test_escape_line_endings);
    tcase_add_test(escape_case, test_escape_controls);
    tcase_add_test(escape_case, test_escape_line_separators);
    tcase_add_test(escape_case, test_escape_utf8_kept);
    tcase_add_test(escape_case, test_escape_every_offset);
    tcase_add_test(escape_case, test_escape_appends);
    tcase_add_loop_test(escape_case, test_base64_vectors, 0,
                        (int)(sizeof(base64_vectors) / sizeof(base64_vectors[0])));
    tcase_add_test(escape_case, test_base64_appends);
    tcase_add_test(escape_case, test_timestamp_format);
    tcase_add_test(escape_case, test_timestamp_truncates_ms);
    tcase_add_test(escape_case, test_timestamp_small_buffer);
    suite_add_tcase(suite, escape_case);

    tcase_add_checked_fixture(lines, setup, teardown);
    tcase_add_test(lines, test_output_ready);
    tcase_add_test(lines, test_output_ready_no_address);
    tcase_add_test(lines, test_output_message_members);
    tcase_add_test(lines, test_output_message_envelope_variants);
    tcase_add_test(lines, test_output_auth_null);
    tcase_add_test(lines, test_output_tls_null);
    tcase_add_test(lines, test_output_tls);
    tcase_add_test(lines, test_output_ready_tls);
    tcase_add_test(lines, test_output_auth_plain);
    tcase_add_test(lines, test_output_auth_cram_md5);
    tcase_add_test(lines, test_output_message_utf8_envelope);
    tcase_add_test(lines, test_output_message_envelope_separators);
    tcase_add_test(lines, test_output_message_empty_data);
    tcase_add_test(lines, test_output_message_escapes);
    tcase_add_test(lines, test_output_message_nul_byte);
    tcase_add_test(lines, test_output_message_invalid_utf8);
    tcase_add_test(lines, test_output_message_writer_error);
    tcase_add_test(lines, test_output_rcpt_params_none);
    tcase_add_test(lines, test_output_rcpt_params_in_order);
    tcase_add_test(lines, test_output_rcpt_params_many);
    tcase_add_test(lines, test_output_rcpt_params_no_rcpts);
    tcase_add_test(lines, test_output_rcpt_params_no_value);
    tcase_add_test(lines, test_output_warnings_empty);
    tcase_add_loop_test(lines, test_output_warning_name, 0, (int)WARNING_NAMES_LEN);
    tcase_add_test(lines, test_output_warnings_all);
    suite_add_tcase(suite, lines);

    tcase_add_checked_fixture(large, setup, teardown);
    tcase_add_loop_test(large, test_output_message_large_utf8, 0,
                        (int)(sizeof(straddlers) / sizeof(straddlers[0])));
    tcase_add_test(large, test_output_message_large_dense_utf8);
    tcase_add_loop_test(large, test_output_message_large_base64, 0, 3);
    tcase_add_test(large, test_output_message_large_controls);
    tcase_add_test(large, test_output_message_large_writer_error);
    suite_add_tcase(suite, large);

    return suite;
}
