/*
 * ESMTP parameter checks for MAIL FROM and RCPT TO.
 */
#include "params.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 3461 section 4: xtext is printable ASCII other than '+' and '=', or
 * "+" followed by two upper-case hex digits for any other byte. */
static bool xtext_valid(const char *v)
{
    if (*v == '\0')
        return false;
    for (; *v != '\0'; v++) {
        unsigned char c = (unsigned char)*v;

        if (c == '+') {
            if (!isxdigit((unsigned char)v[1]) || !isxdigit((unsigned char)v[2]) ||
                islower((unsigned char)v[1]) || islower((unsigned char)v[2]))
                return false;
            v += 2;
            continue;
        }
        if (c < 33 || c > 126 || c == '=')
            return false;
    }
    return true;
}

/* RFC 3461 section 4.1: NEVER alone, or a comma list of SUCCESS, FAILURE
 * and DELAY. */
static bool notify_valid(const char *v)
{
    char word[16];
    const char *comma;
    size_t n;
    bool never = false, other = false;

    while (*v != '\0') {
        comma = strchr(v, ',');
        n = comma ? (size_t)(comma - v) : strlen(v);
        if (n == 0 || n >= sizeof(word))
            return false;
        memcpy(word, v, n);
        word[n] = '\0';

        if (strcasecmp(word, "NEVER") == 0)
            never = true;
        else if (strcasecmp(word, "SUCCESS") == 0 || strcasecmp(word, "FAILURE") == 0 ||
                 strcasecmp(word, "DELAY") == 0)
            other = true;
        else
            return false;
        v += n;
        if (*v == ',' && *++v == '\0')
            return false;
    }
    return (never || other) && !(never && other);
}

/* RFC 3461 section 4.2: ORCPT=addr-type;xtext, as in rfc822;a@example.com,
 * at most 500 characters. The utf-8 type (RFC 6533) may carry UTF-8, which
 * the parameter parser has already checked. */
static bool orcpt_valid(const char *v)
{
    const char *semicolon = strchr(v, ';');
    size_t i;

    if (semicolon == NULL || semicolon == v || semicolon[1] == '\0' || strlen(v) > 500)
        return false;
    for (i = 0; v + i < semicolon; i++) {
        if (!isalnum((unsigned char)v[i]) && v[i] != '-')
            return false;
    }
    return xtext_valid(semicolon + 1) || strncasecmp(v, "utf-8;", 6) == 0;
}

static const char *invalid(char *reply, size_t reply_len, const char *keyword,
                           const char *expected)
{
    snprintf(reply, reply_len, "501 5.5.4 Invalid %s value: expected %s", keyword, expected);
    return reply;
}

const char *sc_check_mail_param(const struct sc_param *param, size_t max_size, char *reply,
                                size_t reply_len)
{
    const char *k = param->keyword, *v = param->value;

    if (strcmp(k, "SIZE") == 0) {
        /* RFC 1870 section 3: size-value is 1 to 20 digits. A value
         * past ULLONG_MAX comes back from strtoull as ULLONG_MAX. */
        if (v == NULL || *v == '\0' || v[strspn(v, "0123456789")] != '\0' || strlen(v) > 20)
            return invalid(reply, reply_len, k, "a number of bytes, 1 to 20 digits");
        if (strtoull(v, NULL, 10) > max_size) {
            snprintf(reply, reply_len, "552 5.3.4 Message size exceeds fixed maximum of "
                     "%zu bytes", max_size);
            return reply;
        }
        return NULL;
    }
    if (strcmp(k, "BODY") == 0) {
        if (v == NULL || (strcasecmp(v, "7BIT") != 0 && strcasecmp(v, "8BITMIME") != 0 &&
                          strcasecmp(v, "BINARYMIME") != 0))
            return invalid(reply, reply_len, k, "7BIT, 8BITMIME or BINARYMIME");
        return NULL;
    }
    if (strcmp(k, "SMTPUTF8") == 0) {
        if (v != NULL) {
            snprintf(reply, reply_len, "501 5.5.4 SMTPUTF8 takes no value");
            return reply;
        }
        return NULL;
    }
    if (strcmp(k, "RET") == 0) {
        if (v == NULL || (strcasecmp(v, "FULL") != 0 && strcasecmp(v, "HDRS") != 0))
            return invalid(reply, reply_len, k, "FULL or HDRS");
        return NULL;
    }
    if (strcmp(k, "ENVID") == 0) {
        if (v == NULL || strlen(v) > 100 || !xtext_valid(v))
            return invalid(reply, reply_len, k, "xtext of at most 100 characters");
        return NULL;
    }

    /* RFC 4954 section 5: AUTH=<> or a mailbox, xtext-encoded, accepted
     * whether or not the client authenticated. Only the xtext is checked,
     * because KMail and E-MailRelay send AUTH=<username>, which is no
     * mailbox, and a test server must not fail their mail for it. */
    if (strcmp(k, "AUTH") == 0) {
        if (v == NULL || !xtext_valid(v))
            return invalid(reply, reply_len, k, "<> or an xtext-encoded mailbox");
        return NULL;
    }

    /* Postfix's XVERP is not advertised, but PHPMailer sends it when asked
     * for VERP, so it is taken as given rather than failing the send. */
    if (strcmp(k, "XVERP") == 0)
        return NULL;

    snprintf(reply, reply_len, "555 5.5.4 Unsupported MAIL parameter %.64s", k);
    return reply;
}

const char *sc_check_rcpt_param(const struct sc_param *param, char *reply, size_t reply_len)
{
    const char *k = param->keyword, *v = param->value;

    if (strcmp(k, "NOTIFY") == 0) {
        if (v == NULL || !notify_valid(v))
            return invalid(reply, reply_len, k, "NEVER, or a list of SUCCESS, FAILURE, DELAY");
        return NULL;
    }
    if (strcmp(k, "ORCPT") == 0) {
        if (v == NULL || !orcpt_valid(v))
            return invalid(reply, reply_len, k, "addr-type;address, as in rfc822;a@example.com");
        return NULL;
    }

    snprintf(reply, reply_len, "555 5.5.4 Unsupported RCPT parameter %.64s", k);
    return reply;
}
