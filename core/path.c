/*
 * MAIL FROM / RCPT TO argument parsing. The rules follow RFC 5321 section
 * 4.1.2, widened where real clients need it: a mailbox without angle
 * brackets is taken as one word, and any UTF-8 is allowed (RFC 6531).
 */
#include "path.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static char *copy_text(const char *s, size_t n)
{
    char *copy = malloc(n + 1);

    if (copy == NULL)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

/*
 * Find the '>' that closes the path which starts after '<'. A quoted local
 * part may hold '>' and backslash escapes, so quotes are tracked. Returns the
 * index of '>' or -1.
 */
static long find_path_end(const char *s, size_t len)
{
    bool quoted = false;
    size_t i;

    for (i = 0; i < len; i++) {
        if (quoted && s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && s[i] == '>')
            return (long)i;
    }
    return -1;
}

/*
 * Check a mailbox: printable characters or UTF-8, no unquoted space, and a
 * non-empty local part and domain around one '@'. Returns SC_PATH_NO_DOMAIN
 * for a mailbox without '@', which the caller accepts only as Postmaster.
 */
static enum sc_path_error check_mailbox(const char *s, size_t len)
{
    bool quoted = false;
    size_t i;
    const char *at = NULL;

    if (len == 0 || !sc_utf8_valid(s, len))
        return SC_PATH_SYNTAX;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return SC_PATH_SYNTAX;
        if (quoted && c == '\\') {
            /* RFC 5321 section 4.1.2: a quoted-pair escapes a printable
             * character, never a control character. */
            if (i + 1 < len && ((unsigned char)s[i + 1] < 0x20 || s[i + 1] == 0x7f))
                return SC_PATH_SYNTAX;
            i++;
            continue;
        }
        if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && (c == ' ' || c == '<' || c == '>')) {
            return SC_PATH_SYNTAX;
        } else if (!quoted && c == '@') {
            /* RFC 5321 section 4.1.2: only a quoted local part may contain '@'. */
            if (at != NULL)
                return SC_PATH_SYNTAX;
            at = s + i;
        }
    }
    if (quoted)
        return SC_PATH_SYNTAX;
    if (at == NULL)
        return SC_PATH_NO_DOMAIN;   /* RFC 5321 section 4.1.2: Mailbox = Local-part "@" Domain. */
    return at > s && at < s + len - 1 ? SC_PATH_OK : SC_PATH_SYNTAX;
}

static bool is_postmaster(const char *s, size_t len)
{
    return len == strlen("Postmaster") && strncasecmp(s, "Postmaster", len) == 0;
}

/* Skip an RFC 5321 source route ("@a.example,@b.example:") that old clients
 * may put before the mailbox. Servers must accept it and may ignore it. */
static size_t skip_source_route(const char *s, size_t len)
{
    const char *colon;

    if (len == 0 || s[0] != '@')
        return 0;
    colon = memchr(s, ':', len);
    return colon ? (size_t)(colon - s) + 1 : 0;
}

/* Split the path off text. On success path_start and path_len give the
 * path inside text, without brackets but with any source route, and rest is
 * the index where the parameters begin. */
static enum sc_path_error split_path(const char *text, size_t len, const char **path_start,
                                     size_t *path_len, size_t *rest)
{
    size_t i = 0;
    long end;

    while (i < len && is_space(text[i]))
        i++;
    if (i == len)
        return SC_PATH_MISSING;

    if (text[i] == '<') {
        end = find_path_end(text + i + 1, len - i - 1);
        if (end < 0)
            return SC_PATH_SYNTAX;
        *path_start = text + i + 1;
        *path_len = (size_t)end;
        *rest = i + 1 + (size_t)end + 1;
        if (*rest < len && !is_space(text[*rest]))
            return SC_PATH_SYNTAX;
    } else {
        *path_start = text + i;
        while (i < len && !is_space(text[i]))
            i++;
        *path_len = (size_t)(text + i - *path_start);
        *rest = i;
    }
    return SC_PATH_OK;
}

/*
 * Check the path that split_path() found and drop its source route. On
 * success start and len give the mailbox, or an empty string for <> in a
 * reverse path.
 */
static enum sc_path_error check_path(const char **start, size_t *len, enum sc_path_kind kind)
{
    size_t route_len = skip_source_route(*start, *len);
    enum sc_path_error err;

    /* RFC 5321 section 4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">", so a route needs a mailbox. */
    if (route_len > 0 && route_len == *len)
        return SC_PATH_SYNTAX;
    *start += route_len;
    *len -= route_len;

    if (*len == 0)
        return kind == SC_REVERSE_PATH ? SC_PATH_OK : SC_PATH_NULL_REJECTED;
    if (!sc_utf8_valid(*start, *len))
        return SC_PATH_NOT_UTF8;

    err = check_mailbox(*start, *len);
    /* RFC 5321 section 4.5.1: RCPT TO:<Postmaster>, in any case, needs no domain. */
    if (err == SC_PATH_NO_DOMAIN && kind == SC_FORWARD_PATH && route_len == 0 &&
        is_postmaster(*start, *len))
        return SC_PATH_OK;
    return err;
}

/* Check "keyword[=value]": the keyword is a letter or digit followed by
 * letters, digits and '-'; the value is printable with no '=' or space, or UTF-8. */
static bool param_valid(const char *s, size_t len, size_t *keyword_len)
{
    size_t i;

    if (len == 0 || !isalnum((unsigned char)s[0]))
        return false;
    for (i = 1; i < len && s[i] != '='; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    }
    *keyword_len = i;
    if (i == len)
        return true;

    if (i + 1 == len)
        return false;
    for (i++; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x21 || c == '=' || c == 0x7f)
            return false;
    }
    return sc_utf8_valid(s, len);
}

static bool param_seen(const struct sc_param *params, size_t n, const char *keyword)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(params[i].keyword, keyword) == 0)
            return true;
    }
    return false;
}

static enum sc_path_error add_param(struct sc_param **params, size_t *n, const char *s, size_t len)
{
    struct sc_param *grown, *p;
    size_t keyword_len, i;

    if (!param_valid(s, len, &keyword_len))
        return SC_PARAM_SYNTAX;

    grown = realloc(*params, (*n + 1) * sizeof(*grown));
    if (grown == NULL)
        return SC_PATH_NOMEM;
    *params = grown;
    p = &grown[*n];

    p->keyword = copy_text(s, keyword_len);
    p->value = keyword_len < len ? copy_text(s + keyword_len + 1, len - keyword_len - 1) : NULL;
    if (p->keyword == NULL || (keyword_len < len && p->value == NULL)) {
        free(p->keyword);
        free(p->value);
        return SC_PATH_NOMEM;
    }
    for (i = 0; i < keyword_len; i++)
        p->keyword[i] = (char)toupper((unsigned char)p->keyword[i]);

    if (param_seen(grown, *n, p->keyword)) {
        free(p->keyword);
        free(p->value);
        return SC_PARAM_DUPLICATE;
    }
    (*n)++;
    return SC_PATH_OK;
}

static enum sc_path_error parse_params(const char *s, size_t len, struct sc_param **params,
                                       size_t *params_len)
{
    enum sc_path_error err;
    size_t i = 0, start;

    *params = NULL;
    *params_len = 0;
    while (i < len) {
        while (i < len && is_space(s[i]))
            i++;
        if (i == len)
            break;

        start = i;
        while (i < len && !is_space(s[i]))
            i++;
        err = add_param(params, params_len, s + start, i - start);
        if (err != SC_PATH_OK) {
            sc_free_params(*params, *params_len);
            *params = NULL;
            *params_len = 0;
            return err;
        }
    }
    return SC_PATH_OK;
}

enum sc_path_error sc_parse_path_and_params(const char *text, size_t len, enum sc_path_kind kind,
                                            char **path, struct sc_param **params,
                                            size_t *params_len)
{
    const char *start = NULL;
    size_t path_len = 0, rest = 0;
    enum sc_path_error err;

    err = split_path(text, len, &start, &path_len, &rest);
    if (err != SC_PATH_OK)
        return err;
    err = check_path(&start, &path_len, kind);
    if (err != SC_PATH_OK)
        return err;

    err = parse_params(text + rest, len - rest, params, params_len);
    if (err != SC_PATH_OK)
        return err;

    *path = copy_text(start, path_len);
    if (*path == NULL) {
        sc_free_params(*params, *params_len);
        return SC_PATH_NOMEM;
    }
    return SC_PATH_OK;
}

void sc_free_params(struct sc_param *params, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        free(params[i].keyword);
        free(params[i].value);
    }
    free(params);
}
