/*
 * Envelope bookkeeping for struct sc_message.
 */
#include "message.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const warning_names[SC_WARNINGS_LEN] = {
    "bare_lf",
    "bare_cr",
    "line_over_998",
    "nul_byte",
    "8bit_without_8bitmime",
    "utf8_without_smtputf8",
    "dot_line_bare_lf",
};

const char *sc_warning_name(unsigned bit)
{
    unsigned i;

    for (i = 0; i < SC_WARNINGS_LEN; i++) {
        if (bit == 1u << i)
            return warning_names[i];
    }
    return "unknown";
}

static void free_params(struct sc_param *params, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        free(params[i].keyword);
        free(params[i].value);
    }
    free(params);
}

void sc_message_reset(struct sc_message *m)
{
    size_t i;

    for (i = 0; i < m->mail_params_len; i++) {
        free(m->mail_params[i].keyword);
        free(m->mail_params[i].value);
    }
    free(m->mail_params);
    m->mail_params = NULL;
    m->mail_params_len = 0;

    for (i = 0; i < m->rcpt_to_len; i++) {
        free(m->rcpt_to[i]);
        if (m->rcpt_params != NULL)
            free_params(m->rcpt_params[i].items, m->rcpt_params[i].len);
    }
    free(m->rcpt_to);
    free(m->rcpt_params);
    m->rcpt_to = NULL;
    m->rcpt_params = NULL;
    m->rcpt_to_len = 0;
    m->rcpt_to_cap = 0;

    free(m->mail_from);
    m->mail_from = NULL;
    m->data = NULL;
    m->size = 0;
    m->warnings = 0;
    m->chunked = false;
}

void sc_auth_result_clear(struct sc_auth_result *a)
{
    free(a->authzid);
    free(a->username);
    free(a->password);
    free(a->response);
    memset(a, 0, sizeof(*a));
}

int sc_message_add_rcpt(struct sc_message *m, char *path)
{
    return sc_message_add_rcpt_params(m, path, NULL, 0);
}

int sc_message_add_rcpt_params(struct sc_message *m, char *path, struct sc_param *params,
                               size_t params_len)
{
    char **grown;
    struct sc_params *grown_params;
    size_t cap;

    if (m->rcpt_to_len == m->rcpt_to_cap) {
        cap = m->rcpt_to_cap ? m->rcpt_to_cap * 2 : 4;
        grown = realloc(m->rcpt_to, cap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        m->rcpt_to = grown;
        if (m->rcpt_params != NULL) {
            grown_params = realloc(m->rcpt_params, cap * sizeof(*grown_params));
            if (grown_params == NULL)
                return -1;
            m->rcpt_params = grown_params;
        }
        m->rcpt_to_cap = cap;
    }

    /* The parameter array exists only once some recipient has parameters. */
    if (params_len > 0 && m->rcpt_params == NULL) {
        m->rcpt_params = calloc(m->rcpt_to_cap, sizeof(*m->rcpt_params));
        if (m->rcpt_params == NULL)
            return -1;
    }
    if (m->rcpt_params != NULL) {
        m->rcpt_params[m->rcpt_to_len].items = params;
        m->rcpt_params[m->rcpt_to_len].len = params_len;
    }
    m->rcpt_to[m->rcpt_to_len++] = path;
    return 0;
}

const struct sc_param *sc_message_find_param(const struct sc_message *m, const char *keyword)
{
    size_t i;

    for (i = 0; i < m->mail_params_len; i++) {
        if (strcasecmp(m->mail_params[i].keyword, keyword) == 0)
            return &m->mail_params[i];
    }
    return NULL;
}
