/*
 * One received message: the envelope (HELO name, sender, recipients and their
 * parameters) and the data exactly as received after dot-unstuffing. The
 * session fills it; the server adds the client's address; whoever handles the
 * message-received callback reads it and must not keep pointers into it.
 */
#ifndef SC_MESSAGE_H
#define SC_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

/* A MAIL FROM parameter. The keyword is upper-cased because ESMTP keywords
 * are case-insensitive; value is the text after '=', or NULL when none. */
struct sc_param {
    char *keyword;
    char *value;
};

/* Owns every string and array except data and client_address. */
struct sc_message {
    char *helo;                 /* HELO or EHLO argument; NULL if none given. */
    bool esmtp;                 /* The client greeted with EHLO. */

    char *mail_from;            /* Reverse-path without brackets; "" for <>. */
    struct sc_param *mail_params;
    size_t mail_params_len;

    char **rcpt_to;             /* Accepted forward-paths, in order. */
    size_t rcpt_to_len;
    size_t rcpt_to_cap;

    const char *data;           /* Borrowed from the session while the callback runs. */
    size_t size;

    const char *client_address; /* Set by the server layer; NULL in unit tests. */
    int client_port;
};

/* Free the transaction's fields (sender, parameters, recipients) and clear
 * the data pointer. helo, esmtp and the client address stay: they belong to
 * the session, not the transaction. Safe to call twice. */
void sc_message_reset(struct sc_message *m);

/* Append a recipient, taking ownership of path. Returns 0, or -1 when out of memory. */
int sc_message_add_rcpt(struct sc_message *m, char *path);

/* Return the value of a MAIL parameter by keyword, or NULL if absent. */
const struct sc_param *sc_message_find_param(const struct sc_message *m, const char *keyword);

#endif
