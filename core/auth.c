/*
 * SASL mechanisms for SMTP AUTH, server side. Each is a short exchange:
 *
 *   PLAIN     One response, authzid NUL username NUL password (RFC 4616),
 *             as the initial response or after an empty "334 " challenge.
 *   LOGIN     "334 VXNlcm5hbWU6" ("Username:"), then "334 UGFzc3dvcmQ6"
 *             ("Password:"). An initial response carries the username.
 *   CRAM-MD5  "334 " and a base64 challenge; the response is the username,
 *             a space and HMAC-MD5(password, challenge) in hex (RFC 2195).
 *
 * Without configured credentials any well-formed response succeeds. The
 * identity is stored only when it is valid UTF-8 without NUL bytes, so the
 * JSON output can carry it as it is. Anything else gets 501 5.5.2.
 */
#include "auth.h"

#include <ctype.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "utf8.h"

#define PROMPT_USERNAME "334 VXNlcm5hbWU6"
#define PROMPT_PASSWORD "334 UGFzc3dvcmQ6"
#define DIGEST_HEX_LEN 32

static const char reply_success[] = "235 2.7.0 Authentication successful";
static const char reply_invalid[] = "535 5.7.8 Authentication credentials invalid";
static const char reply_bad_base64[] = "501 5.5.2 Invalid base64 in the AUTH response";
static const char reply_empty_username[] = "501 5.5.2 Invalid AUTH response: the username "
                                          "is empty";
static const char reply_not_utf8[] = "501 5.5.2 Invalid AUTH response: the username or "
                                     "password is not valid UTF-8 or contains a NUL byte";
static const char reply_no_memory[] = "454 4.7.0 Temporary authentication failure: out of memory";

static const struct {
    const char *name;
    enum sc_auth_mechanism mechanism;
} mechanisms[] = {
    {"PLAIN", SC_MECH_PLAIN},
    {"LOGIN", SC_MECH_LOGIN},
    {"CRAM-MD5", SC_MECH_CRAM_MD5},
};

static enum sc_auth_status set_reply(enum sc_auth_status status, const char *text, char *reply,
                                     size_t reply_size)
{
    snprintf(reply, reply_size, "%s", text);
    return status;
}

static bool is_base64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

int sc_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len)
{
    size_t i, padding = 0, decoded_len;
    unsigned char *decoded;

    if (len % 4 != 0 || len > INT_MAX)
        return -1;
    if (len > 0 && text[len - 1] == '=')
        padding = len > 1 && text[len - 2] == '=' ? 2 : 1;
    for (i = 0; i < len - padding; i++) {
        if (!is_base64_char((unsigned char)text[i]))
            return -1;
    }

    decoded_len = len / 4 * 3;
    decoded = malloc(decoded_len + 1);
    if (decoded == NULL)
        return -2;
    /* EVP_DecodeBlock counts the padding as decoded bytes, so the real
     * length is computed here; the text is already checked above. */
    if (len > 0 && EVP_DecodeBlock(decoded, (const unsigned char *)text, (int)len) < 0) {
        free(decoded);
        return -1;
    }

    *out_len = decoded_len - padding;
    decoded[*out_len] = '\0';
    *out = decoded;
    return 0;
}

int sc_cram_md5_digest(const char *password, const char *challenge, char hex[33])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0, i;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "MD5", NULL, password, strlen(password),
                  (const unsigned char *)challenge, strlen(challenge), mac, sizeof(mac),
                  &mac_len) == NULL || mac_len * 2 != DIGEST_HEX_LEN)
        return -1;

    for (i = 0; i < mac_len; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 0xF];
    }
    hex[DIGEST_HEX_LEN] = '\0';
    return 0;
}

int sc_auth_random_challenge(char *buf, size_t size, const char *hostname)
{
    unsigned char bytes[8];
    unsigned long long random_part = 0;
    size_t i;
    int n;

    if (RAND_bytes(bytes, (int)sizeof(bytes)) != 1)
        return -1;
    for (i = 0; i < sizeof(bytes); i++)
        random_part = random_part << 8 | bytes[i];
    n = snprintf(buf, size, "<%llu.%lld@%.200s>", random_part, (long long)time(NULL), hostname);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Decode one client response. An initial response may be "=", which RFC
 * 4954 section 4 defines as present but empty. Writes the failure reply
 * and returns false when the text cannot be decoded. */
static bool decode_response(const char *text, size_t len, bool initial, unsigned char **out,
                            size_t *out_len, char *reply, size_t reply_size)
{
    int rc;

    if (initial && len == 1 && text[0] == '=')
        len = 0;
    rc = sc_base64_decode(text, len, out, out_len);
    if (rc == -2)
        set_reply(SC_AUTH_FAILURE, reply_no_memory, reply, reply_size);
    else if (rc != 0)
        set_reply(SC_AUTH_FAILURE, reply_bad_base64, reply, reply_size);
    return rc == 0;
}

/* Copy one decoded identity string. Returns 0, -1 when it contains a NUL
 * byte or is not valid UTF-8, or -2 when out of memory. */
static int copy_identity(const unsigned char *bytes, size_t len, char **out)
{
    if (memchr(bytes, '\0', len) != NULL || !sc_utf8_valid((const char *)bytes, len))
        return -1;
    *out = malloc(len + 1);
    if (*out == NULL)
        return -2;
    memcpy(*out, bytes, len);
    (*out)[len] = '\0';
    return 0;
}

/* Write the reply for a failed copy_identity. */
static enum sc_auth_status identity_failure(int rc, char *reply, size_t reply_size)
{
    return set_reply(SC_AUTH_FAILURE, rc == -2 ? reply_no_memory : reply_not_utf8, reply,
                     reply_size);
}

/* Return true when username and password are one of the configured pairs,
 * or when none are configured. */
static bool credentials_match(const struct sc_auth_config *config, const char *username,
                              const char *password)
{
    size_t i;

    if (config->credentials_len == 0)
        return true;
    for (i = 0; i < config->credentials_len; i++) {
        if (strcmp(config->credentials[i].username, username) == 0 &&
            strcmp(config->credentials[i].password, password) == 0)
            return true;
    }
    return false;
}

/* PLAIN's one response: [authzid] NUL authcid NUL passwd (RFC 4616 section 2). */
static enum sc_auth_status plain_response(struct sc_auth_exchange *ex, const char *text,
                                          size_t len, bool initial, struct sc_auth_result *result,
                                          char *reply, size_t reply_size)
{
    unsigned char *bytes, *first_nul, *second_nul, *end;
    char *authzid = NULL, *username = NULL, *password = NULL;
    size_t bytes_len;
    int rc = 0;

    if (!decode_response(text, len, initial, &bytes, &bytes_len, reply, reply_size))
        return SC_AUTH_FAILURE;
    end = bytes + bytes_len;
    first_nul = memchr(bytes, '\0', bytes_len);
    second_nul = first_nul ? memchr(first_nul + 1, '\0', (size_t)(end - first_nul - 1)) : NULL;
    if (second_nul == NULL || memchr(second_nul + 1, '\0', (size_t)(end - second_nul - 1))) {
        free(bytes);
        return set_reply(SC_AUTH_FAILURE, "501 5.5.2 Invalid PLAIN response: expected "
                         "authzid NUL username NUL password", reply, reply_size);
    }
    /* RFC 4616 section 2: the authentication identity is 1*SAFE. An empty
     * password is taken, since applications configured with one exist. */
    if (second_nul == first_nul + 1) {
        free(bytes);
        return set_reply(SC_AUTH_FAILURE, reply_empty_username, reply, reply_size);
    }

    if (first_nul > bytes)
        rc = copy_identity(bytes, (size_t)(first_nul - bytes), &authzid);
    if (rc == 0)
        rc = copy_identity(first_nul + 1, (size_t)(second_nul - first_nul - 1), &username);
    if (rc == 0)
        rc = copy_identity(second_nul + 1, (size_t)(end - second_nul - 1), &password);
    free(bytes);
    if (rc != 0 || !credentials_match(ex->config, username, password)) {
        free(authzid);
        free(username);
        free(password);
        if (rc != 0)
            return identity_failure(rc, reply, reply_size);
        return set_reply(SC_AUTH_FAILURE, reply_invalid, reply, reply_size);
    }

    result->mechanism = "PLAIN";
    result->authzid = authzid;
    result->username = username;
    result->password = password;
    return set_reply(SC_AUTH_SUCCESS, reply_success, reply, reply_size);
}

/* LOGIN's responses: the username, then the password. */
static enum sc_auth_status login_response(struct sc_auth_exchange *ex, const char *text,
                                          size_t len, bool initial, struct sc_auth_result *result,
                                          char *reply, size_t reply_size)
{
    unsigned char *bytes;
    char *value = NULL;
    size_t bytes_len;
    int rc;

    if (!decode_response(text, len, initial, &bytes, &bytes_len, reply, reply_size))
        return SC_AUTH_FAILURE;
    rc = copy_identity(bytes, bytes_len, &value);
    free(bytes);
    if (rc != 0)
        return identity_failure(rc, reply, reply_size);

    if (ex->username == NULL && value[0] == '\0') {
        free(value);
        return set_reply(SC_AUTH_FAILURE, reply_empty_username, reply, reply_size);
    }
    if (ex->username == NULL) {
        ex->username = value;
        return set_reply(SC_AUTH_CONTINUE, PROMPT_PASSWORD, reply, reply_size);
    }
    if (!credentials_match(ex->config, ex->username, value)) {
        free(value);
        return set_reply(SC_AUTH_FAILURE, reply_invalid, reply, reply_size);
    }

    result->mechanism = "LOGIN";
    result->username = ex->username;
    result->password = value;
    ex->username = NULL;
    return set_reply(SC_AUTH_SUCCESS, reply_success, reply, reply_size);
}

/* Send the CRAM-MD5 challenge, base64-encoded, in a 334 reply. */
static enum sc_auth_status cram_challenge(struct sc_auth_exchange *ex, char *reply,
                                          size_t reply_size)
{
    unsigned char encoded[(SC_AUTH_CHALLENGE_MAX + 2) / 3 * 4 + 1];
    const struct sc_auth_config *config = ex->config;

    if (config->make_challenge != NULL) {
        if (config->make_challenge(ex->challenge, sizeof(ex->challenge), ex->hostname) != 0)
            return set_reply(SC_AUTH_FAILURE, "454 4.7.0 Temporary authentication failure: "
                             "no CRAM-MD5 challenge could be made", reply, reply_size);
    } else {
        snprintf(ex->challenge, sizeof(ex->challenge), "<0.0@%.200s>", ex->hostname);
    }

    EVP_EncodeBlock(encoded, (const unsigned char *)ex->challenge, (int)strlen(ex->challenge));
    snprintf(reply, reply_size, "334 %s", (const char *)encoded);
    return SC_AUTH_CONTINUE;
}

/* Return true when hex is the digest of the challenge keyed with the
 * password of some configured pair for username. Upper-case hex digits are
 * taken too, though RFC 2195 specifies lower case. */
static bool cram_digest_matches(const struct sc_auth_exchange *ex, const char *username,
                                const char *hex)
{
    char lower[DIGEST_HEX_LEN + 1], expected[DIGEST_HEX_LEN + 1];
    size_t i;

    for (i = 0; i < DIGEST_HEX_LEN; i++)
        lower[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
    lower[DIGEST_HEX_LEN] = '\0';

    for (i = 0; i < ex->config->credentials_len; i++) {
        if (strcmp(ex->config->credentials[i].username, username) == 0 &&
            sc_cram_md5_digest(ex->config->credentials[i].password, ex->challenge,
                               expected) == 0 &&
            CRYPTO_memcmp(lower, expected, DIGEST_HEX_LEN) == 0)
            return true;
    }
    return false;
}

/* Return true when bytes are a CRAM-MD5 response: a username, a space and
 * DIGEST_HEX_LEN hex digits. The username is the first *username_len bytes;
 * it may itself contain spaces. */
static bool cram_response_valid(const unsigned char *bytes, size_t len, size_t *username_len)
{
    size_t i;

    if (len < DIGEST_HEX_LEN + 2 || bytes[len - DIGEST_HEX_LEN - 1] != ' ')
        return false;
    for (i = len - DIGEST_HEX_LEN; i < len; i++) {
        if (!isxdigit(bytes[i]))
            return false;
    }
    *username_len = len - DIGEST_HEX_LEN - 1;
    return true;
}

/* CRAM-MD5's one response. Without configured credentials the digest
 * cannot be checked, so any well-formed one is taken. */
static enum sc_auth_status cram_response(struct sc_auth_exchange *ex, const char *text,
                                         size_t len, struct sc_auth_result *result, char *reply,
                                         size_t reply_size)
{
    unsigned char *bytes;
    char *username = NULL, *digest = NULL;
    size_t bytes_len, username_len;
    int rc;

    if (!decode_response(text, len, false, &bytes, &bytes_len, reply, reply_size))
        return SC_AUTH_FAILURE;
    if (!cram_response_valid(bytes, bytes_len, &username_len)) {
        free(bytes);
        return set_reply(SC_AUTH_FAILURE, "501 5.5.2 Invalid CRAM-MD5 response: expected a "
                         "username, a space and 32 hex digits", reply, reply_size);
    }

    rc = copy_identity(bytes, username_len, &username);
    if (rc == 0)
        rc = copy_identity(bytes + username_len + 1, DIGEST_HEX_LEN, &digest);
    free(bytes);
    if (rc != 0 || (ex->config->credentials_len > 0 &&
                    !cram_digest_matches(ex, username, digest))) {
        free(username);
        free(digest);
        if (rc != 0)
            return identity_failure(rc, reply, reply_size);
        return set_reply(SC_AUTH_FAILURE, reply_invalid, reply, reply_size);
    }

    result->mechanism = "CRAM-MD5";
    result->username = username;
    result->response = digest;
    return set_reply(SC_AUTH_SUCCESS, reply_success, reply, reply_size);
}

static enum sc_auth_mechanism find_mechanism(const char *name, size_t len)
{
    size_t i;

    /* SASL mechanism names are case-insensitive in SMTP (RFC 4954 section 8). */
    for (i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++) {
        if (strlen(mechanisms[i].name) == len && strncasecmp(mechanisms[i].name, name, len) == 0)
            return mechanisms[i].mechanism;
    }
    return SC_MECH_NONE;
}

enum sc_auth_status sc_auth_start(struct sc_auth_exchange *ex, const struct sc_auth_config *config,
                                  const char *hostname, const char *arg, size_t len,
                                  struct sc_auth_result *result, char *reply, size_t reply_size)
{
    const char *initial;
    size_t name_len = 0, initial_len;

    sc_auth_exchange_reset(ex);
    ex->config = config;
    ex->hostname = hostname;

    while (len > 0 && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
        len--;
    while (name_len < len && arg[name_len] != ' ' && arg[name_len] != '\t')
        name_len++;
    initial = arg + name_len;
    initial_len = len - name_len;
    while (initial_len > 0 && (*initial == ' ' || *initial == '\t')) {
        initial++;
        initial_len--;
    }
    if (name_len == 0 || memchr(initial, ' ', initial_len) != NULL ||
        memchr(initial, '\t', initial_len) != NULL)
        return set_reply(SC_AUTH_FAILURE, "501 5.5.4 Syntax: AUTH mechanism [initial-response]",
                         reply, reply_size);

    ex->mechanism = find_mechanism(arg, name_len);
    switch (ex->mechanism) {
    case SC_MECH_PLAIN:
        if (initial_len == 0)
            return set_reply(SC_AUTH_CONTINUE, "334 ", reply, reply_size);
        return plain_response(ex, initial, initial_len, true, result, reply, reply_size);
    case SC_MECH_LOGIN:
        if (initial_len == 0)
            return set_reply(SC_AUTH_CONTINUE, PROMPT_USERNAME, reply, reply_size);
        return login_response(ex, initial, initial_len, true, result, reply, reply_size);
    case SC_MECH_CRAM_MD5:
        /* RFC 4954 section 4: 501 with 5.7.0 when the server speaks first. */
        if (initial_len > 0)
            return set_reply(SC_AUTH_FAILURE, "501 5.7.0 CRAM-MD5 takes no initial response: "
                             "the server sends the challenge first", reply, reply_size);
        return cram_challenge(ex, reply, reply_size);
    case SC_MECH_NONE:
    default:
        return set_reply(SC_AUTH_FAILURE, "504 5.5.4 Unrecognized authentication mechanism; "
                         "use PLAIN, LOGIN or CRAM-MD5", reply, reply_size);
    }
}

enum sc_auth_status sc_auth_step(struct sc_auth_exchange *ex, const char *line, size_t len,
                                 struct sc_auth_result *result, char *reply, size_t reply_size)
{
    /* RFC 4954 section 4 requires a 501 reply and gives no enhanced code. */
    if (len == 1 && line[0] == '*')
        return set_reply(SC_AUTH_FAILURE, "501 5.0.0 Authentication cancelled", reply,
                         reply_size);

    switch (ex->mechanism) {
    case SC_MECH_PLAIN:
        return plain_response(ex, line, len, false, result, reply, reply_size);
    case SC_MECH_LOGIN:
        return login_response(ex, line, len, false, result, reply, reply_size);
    case SC_MECH_CRAM_MD5:
        return cram_response(ex, line, len, result, reply, reply_size);
    case SC_MECH_NONE:
    default:
        return set_reply(SC_AUTH_FAILURE, "503 5.5.1 No AUTH exchange in progress", reply,
                         reply_size);
    }
}

void sc_auth_exchange_reset(struct sc_auth_exchange *ex)
{
    free(ex->username);
    ex->username = NULL;
    ex->mechanism = SC_MECH_NONE;
    ex->challenge[0] = '\0';
}
