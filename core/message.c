/*
 * Envelope bookkeeping for struct sc_message.
 */
#include "message.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

    for (i = 0; i < m->rcpt_to_len; i++)
        free(m->rcpt_to[i]);
    free(m->rcpt_to);
    m->rcpt_to = NULL;
    m->rcpt_to_len = 0;
    m->rcpt_to_cap = 0;

    free(m->mail_from);
    m->mail_from = NULL;
    m->data = NULL;
    m->size = 0;
}

int sc_message_add_rcpt(struct sc_message *m, char *path)
{
    char **grown;
    size_t cap;

    if (m->rcpt_to_len == m->rcpt_to_cap) {
        cap = m->rcpt_to_cap ? m->rcpt_to_cap * 2 : 4;
        grown = realloc(m->rcpt_to, cap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        m->rcpt_to = grown;
        m->rcpt_to_cap = cap;
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
