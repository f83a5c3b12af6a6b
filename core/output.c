/*
 * JSON rendering of the ready line and of message lines. Strings of the
 * envelope are valid UTF-8 by the time they get here (the session rejects
 * anything else), so cJSON can print them. The data member is escaped by
 * sc_json_escape(), or base64-encoded when it is not UTF-8.
 */
#include "output.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "utf8.h"

/* A line is flushed to the writer in pieces of about this size. */
#define CHUNK (64 * 1024)

static const char hex_digits[] = "0123456789abcdef";

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Return nonzero when a byte of v is zero. Exact for the whole word,
 * though borrows may set more than the one high bit. */
static uint64_t has_zero_byte(uint64_t v)
{
    return (v - ONES) & ~v & HIGHS;
}

/* Return nonzero when any byte of w is below 0x20 or is '"', '\\' or 0xE2
 * (the lead byte of U+2028 and U+2029), testing 8 bytes at once. The
 * "below 0x20" test is exact because 0x20 is at most 0x80. */
static uint64_t word_needs_escape(uint64_t w)
{
    return ((w - ONES * 0x20) & ~w & HIGHS) | has_zero_byte(w ^ (ONES * '"')) |
           has_zero_byte(w ^ (ONES * '\\')) | has_zero_byte(w ^ (ONES * 0xE2));
}

#if defined(__SSE2__)
/* Return a bit per byte of v that may need escaping: below 0x20, '"', '\\'
 * or 0xE2. */
static unsigned escape_mask(__m128i v)
{
    const __m128i control_max = _mm_set1_epi8(0x1F), quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\'), e2 = _mm_set1_epi8((char)0xE2);
    __m128i hits;

    hits = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, control_max), v),
                        _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, backslash),
                                                  _mm_cmpeq_epi8(v, e2))));
    return (unsigned)_mm_movemask_epi8(hits);
}
#endif

/*
 * Copy plain bytes from p + *i to *w until a byte that may need escaping
 * or the end. With SSE2 it stores sixteen bytes per step and then moves w
 * only past the plain ones, so a run costs no separate copy. The caller
 * reserves room for the up to sixteen bytes stored past the run.
 */
static void copy_plain(const unsigned char *p, size_t *i, size_t len, char **w)
{
    size_t at = *i;
    char *to = *w;
    uint64_t word;
#if defined(__SSE2__)
    __m128i v;
    unsigned mask;

    while (len - at >= 16) {
        v = _mm_loadu_si128((const __m128i *)(const void *)(p + at));
        _mm_storeu_si128((__m128i *)(void *)to, v);
        mask = escape_mask(v);
        if (mask != 0) {
            at += (size_t)__builtin_ctz(mask);
            to += __builtin_ctz(mask);
            *i = at;
            *w = to;
            return;
        }
        at += 16;
        to += 16;
    }
#endif

    while (len - at >= 8) {
        memcpy(&word, p + at, 8);
        if (word_needs_escape(word))
            break;
        memcpy(to, &word, 8);
        at += 8;
        to += 8;
    }
    while (at < len && p[at] >= 0x20 && p[at] != '"' && p[at] != '\\' && p[at] != 0xE2)
        *to++ = (char)p[at++];
    *i = at;
    *w = to;
}

/* Write the escape for byte c (not 0xE2) at w; return the bytes written. */
static size_t write_escape(char *w, unsigned char c)
{
    w[0] = '\\';
    switch (c) {
    case '"':  w[1] = '"'; return 2;
    case '\\': w[1] = '\\'; return 2;
    case '\n': w[1] = 'n'; return 2;
    case '\r': w[1] = 'r'; return 2;
    case '\t': w[1] = 't'; return 2;
    default:
        w[1] = 'u';
        w[2] = '0';
        w[3] = '0';
        w[4] = hex_digits[c >> 4];
        w[5] = hex_digits[c & 0xF];
        return 6;
    }
}

int sc_json_escape(struct sc_buf *out, const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i = 0;
    char *w;

    /* No byte grows to more than six ("\u00XX"), so one reserve covers all,
     * including the sixteen bytes copy_plain may store past a run. */
    if (len > (SIZE_MAX - 16) / 6 || sc_buf_reserve(out, len * 6 + 16) != 0)
        return -1;
    w = out->data + out->len;

    while (i < len) {
        copy_plain(p, &i, len, &w);
        if (i == len)
            break;

        /* CR LF, the most common pair, is written in one step. */
        if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
            memcpy(w, "\\r\\n", 4);
            w += 4;
            i += 2;
            continue;
        }

        /* U+2028 and U+2029 (E2 80 A8/A9) are valid JSON but end a line in
         * JavaScript source before ES2019, so they are escaped too. */
        if (p[i] == 0xE2) {
            if (i + 2 < len && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
                memcpy(w, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                w += 6;
                i += 3;
            } else {
                *w++ = (char)p[i++];
            }
            continue;
        }
        w += write_escape(w, p[i++]);
    }

    out->len = (size_t)(w - out->data);
    return 0;
}

/* Append JSON text, replacing each raw U+2028 or U+2029 with its escape.
 * Outside strings, JSON text is ASCII, so only string contents change. */
static int escape_line_separators(struct sc_buf *out, const char *json, size_t len)
{
    const char *p = json, *end = json + len, *hit;

    while ((hit = memchr(p, 0xE2, (size_t)(end - p))) != NULL) {
        if (end - hit >= 3 && (unsigned char)hit[1] == 0x80 &&
            ((unsigned char)hit[2] == 0xA8 || (unsigned char)hit[2] == 0xA9)) {
            if (sc_buf_append(out, p, (size_t)(hit - p)) != 0 ||
                sc_buf_append(out, (unsigned char)hit[2] == 0xA8 ? "\\u2028" : "\\u2029", 6) != 0)
                return -1;
            p = hit + 3;
        } else {
            if (sc_buf_append(out, p, (size_t)(hit - p) + 1) != 0)
                return -1;
            p = hit + 1;
        }
    }
    return sc_buf_append(out, p, (size_t)(end - p));
}

int sc_base64_encode(struct sc_buf *out, const unsigned char *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, full = len / 3 * 3;
    char *w;
    unsigned v;

    /* An empty buffer may still have no memory, and NULL + 0 is undefined. */
    if (len == 0)
        return 0;
    if (sc_buf_reserve(out, (len + 2) / 3 * 4) != 0)
        return -1;
    w = out->data + out->len;

    for (i = 0; i < full; i += 3) {
        v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[(v >> 12) & 63];
        *w++ = alphabet[(v >> 6) & 63];
        *w++ = alphabet[v & 63];
    }
    if (len - full == 1) {
        v = (unsigned)data[i] << 16;
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[(v >> 12) & 63];
        *w++ = '=';
        *w++ = '=';
    } else if (len - full == 2) {
        v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
        *w++ = alphabet[v >> 18];
        *w++ = alphabet[(v >> 12) & 63];
        *w++ = alphabet[(v >> 6) & 63];
        *w++ = '=';
    }
    out->len = (size_t)(w - out->data);
    return 0;
}

void sc_format_timestamp(const struct timespec *t, char *buf, size_t size)
{
    struct tm tm;
    char date[32];

    gmtime_r(&t->tv_sec, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", date, (int)(t->tv_nsec / 1000000 % 1000));
}

int sc_output_ready(struct sc_buf *line, const struct sc_ready_info *info)
{
    cJSON *root, *list, *tls;
    char *text;
    size_t i;
    int rc = -1;

    root = cJSON_CreateObject();
    if (root == NULL)
        return -1;
    list = cJSON_CreateArray();
    if (list == NULL)
        goto done;

    cJSON_AddStringToObject(root, "event", "ready");
    cJSON_AddStringToObject(root, "address", info->addresses_len ? info->addresses[0] : "");
    cJSON_AddNumberToObject(root, "port", info->port);
    for (i = 0; i < info->addresses_len; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(info->addresses[i]));
    cJSON_AddItemToObject(root, "addresses", list);
    cJSON_AddNumberToObject(root, "pid", (double)info->pid);
    cJSON_AddStringToObject(root, "version", info->version);
    if (info->tls_mode != NULL) {
        tls = cJSON_AddObjectToObject(root, "tls");
        cJSON_AddStringToObject(tls, "mode", info->tls_mode);
        cJSON_AddStringToObject(tls, "sha256", info->tls_fingerprint);
    } else {
        cJSON_AddNullToObject(root, "tls");
    }

    text = cJSON_PrintUnformatted(root);
    if (text == NULL)
        goto done;
    sc_buf_clear(line);
    rc = sc_buf_append_str(line, text) == 0 && sc_buf_append(line, "\n", 1) == 0 ? 0 : -1;
    cJSON_free(text);
done:
    cJSON_Delete(root);
    return rc;
}

/* Build {"KEYWORD":"value",...}, with true for a parameter that has no value. */
static cJSON *params_object(const struct sc_param *params, size_t len)
{
    cJSON *object = cJSON_CreateObject();
    size_t i;

    for (i = 0; object != NULL && i < len; i++) {
        if (params[i].value != NULL)
            cJSON_AddStringToObject(object, params[i].keyword, params[i].value);
        else
            cJSON_AddTrueToObject(object, params[i].keyword);
    }
    return object;
}

/* Build {"mechanism":...,"username":...} for an authenticated session, with
 * "authzid" when PLAIN carried one and "password" or CRAM-MD5's "response",
 * or null when the session did not authenticate. */
static cJSON *auth_object(const struct sc_auth_result *auth)
{
    cJSON *object;

    if (auth->mechanism == NULL)
        return cJSON_CreateNull();
    object = cJSON_CreateObject();
    if (object == NULL)
        return NULL;
    cJSON_AddStringToObject(object, "mechanism", auth->mechanism);
    if (auth->authzid != NULL)
        cJSON_AddStringToObject(object, "authzid", auth->authzid);
    cJSON_AddStringToObject(object, "username", auth->username ? auth->username : "");
    if (auth->password != NULL)
        cJSON_AddStringToObject(object, "password", auth->password);
    if (auth->response != NULL)
        cJSON_AddStringToObject(object, "response", auth->response);
    return object;
}

/* Build {"version":...,"cipher":...} for a session over TLS, or null. */
static cJSON *tls_object(const struct sc_message *msg)
{
    cJSON *object;

    if (msg->tls_version == NULL)
        return cJSON_CreateNull();
    object = cJSON_CreateObject();
    if (object == NULL)
        return NULL;
    cJSON_AddStringToObject(object, "version", msg->tls_version);
    cJSON_AddStringToObject(object, "cipher", msg->tls_cipher ? msg->tls_cipher : "");
    return object;
}

/* Build the message object without its data member. Returns NULL when out of memory. */
static cJSON *build_envelope(const struct sc_message *msg, uint64_t id,
                             const struct timespec *received_at)
{
    cJSON *root = cJSON_CreateObject(), *client, *rcpts, *warnings;
    char stamp[40];
    size_t i;
    unsigned bit;

    if (root == NULL)
        return NULL;
    sc_format_timestamp(received_at, stamp, sizeof(stamp));

    cJSON_AddStringToObject(root, "event", "message");
    cJSON_AddNumberToObject(root, "id", (double)id);
    cJSON_AddStringToObject(root, "received_at", stamp);

    client = cJSON_AddObjectToObject(root, "client");
    if (client != NULL && msg->client_address != NULL) {
        cJSON_AddStringToObject(client, "address", msg->client_address);
        cJSON_AddNumberToObject(client, "port", msg->client_port);
    }

    if (msg->helo != NULL)
        cJSON_AddStringToObject(root, "helo", msg->helo);
    else
        cJSON_AddNullToObject(root, "helo");
    cJSON_AddBoolToObject(root, "esmtp", msg->esmtp);
    cJSON_AddItemToObject(root, "auth", auth_object(&msg->auth));
    cJSON_AddItemToObject(root, "tls", tls_object(msg));
    cJSON_AddStringToObject(root, "mail_from", msg->mail_from ? msg->mail_from : "");

    cJSON_AddItemToObject(root, "mail_params",
                          params_object(msg->mail_params, msg->mail_params_len));

    rcpts = cJSON_AddArrayToObject(root, "rcpt_to");
    for (i = 0; rcpts != NULL && i < msg->rcpt_to_len; i++)
        cJSON_AddItemToArray(rcpts, cJSON_CreateString(msg->rcpt_to[i]));

    /* One object per recipient, in the order of rcpt_to, so consumers can zip them. */
    rcpts = cJSON_AddArrayToObject(root, "rcpt_params");
    for (i = 0; rcpts != NULL && i < msg->rcpt_to_len; i++) {
        if (msg->rcpt_params != NULL)
            cJSON_AddItemToArray(rcpts, params_object(msg->rcpt_params[i].items,
                                                      msg->rcpt_params[i].len));
        else
            cJSON_AddItemToArray(rcpts, cJSON_CreateObject());
    }

    cJSON_AddNumberToObject(root, "size", (double)msg->size);

    warnings = cJSON_AddArrayToObject(root, "warnings");
    for (bit = 1; warnings != NULL && bit < 1u << SC_WARNINGS_LEN; bit <<= 1) {
        if (msg->warnings & bit)
            cJSON_AddItemToArray(warnings, cJSON_CreateString(sc_warning_name(bit)));
    }
    return root;
}

/* Pass the staged bytes to the writer and empty the stage. */
static int flush(struct sc_buf *stage, const struct sc_writer *writer)
{
    int rc;

    if (stage->len == 0)
        return 0;
    rc = writer->write(writer->arg, stage->data, stage->len);
    sc_buf_clear(stage);
    return rc;
}

/* Append the data member's value, flushing the stage every CHUNK bytes. */
static int stream_data(struct sc_buf *stage, const struct sc_message *msg, bool utf8,
                       const struct sc_writer *writer)
{
    size_t done = 0, piece;
    int rc;

    while (done < msg->size) {
        piece = msg->size - done < CHUNK ? msg->size - done : CHUNK;
        if (utf8) {
            /* Never cut a UTF-8 sequence: back up to its first byte. */
            while (done + piece < msg->size && piece > 0 &&
                   ((unsigned char)msg->data[done + piece] & 0xC0) == 0x80)
                piece--;
            rc = sc_json_escape(stage, msg->data + done, piece);
        } else {
            if (piece >= 3)
                piece = piece / 3 * 3;  /* Only the last piece may need padding. */
            rc = sc_base64_encode(stage, (const unsigned char *)msg->data + done, piece);
        }
        if (rc != 0)
            return -1;
        done += piece;

        if (stage->len >= CHUNK && (rc = flush(stage, writer)) != 0)
            return rc;
    }
    return 0;
}

int sc_output_message(const struct sc_message *msg, uint64_t id,
                      const struct timespec *received_at, const struct sc_writer *writer)
{
    struct sc_buf stage = {0};
    cJSON *root;
    char *head;
    bool utf8 = msg->ascii || sc_utf8_valid(msg->data, msg->size);
    int rc = -1;

    root = build_envelope(msg, id, received_at);
    if (root == NULL)
        return -1;
    head = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (head == NULL)
        return -1;

    /* Reopen the printed object, which ends in '}', to add the data member.
     * cJSON leaves U+2028 and U+2029 raw; escape them as in data. */
    if (escape_line_separators(&stage, head, strlen(head) - 1) != 0 ||
        sc_buf_append_str(&stage, utf8 ? ",\"data\":\"" : ",\"data_base64\":\"") != 0)
        goto done;

    rc = stream_data(&stage, msg, utf8, writer);
    if (rc != 0)
        goto done;
    rc = -1;
    if (sc_buf_append(&stage, "\"}\n", 3) != 0)
        goto done;
    rc = flush(&stage, writer);
done:
    cJSON_free(head);
    sc_buf_free(&stage);
    return rc;
}
