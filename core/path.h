/*
 * Parsing of the MAIL FROM and RCPT TO arguments: the path in angle brackets
 * and the ESMTP parameters after it (RFC 5321 sections 4.1.2 and 4.1.1.11).
 * Pure string work with no session state, so each rule is testable alone.
 */
#ifndef SC_PATH_H
#define SC_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "message.h"
#include "utf8.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sc_path_error {
    SC_PATH_OK = 0,
    SC_PATH_NOMEM,
    SC_PATH_MISSING,        /* Nothing where the path belongs. */
    SC_PATH_SYNTAX,         /* Unbalanced brackets or quotes, spaces, controls. */
    SC_PATH_NULL_REJECTED,  /* <> where a mailbox is required. */
    SC_PATH_NO_DOMAIN,      /* A mailbox with no "@domain" part. */
    SC_PATH_NOT_UTF8,       /* Bytes that are not valid UTF-8. */
    SC_PARAM_SYNTAX,        /* A parameter that is not keyword[=value]. */
    SC_PARAM_DUPLICATE,     /* The same keyword twice. */
};

/* The two kinds of path in RFC 5321, which accept different mailboxes. */
enum sc_path_kind {
    SC_REVERSE_PATH,        /* MAIL FROM: the null path <> is allowed. */
    SC_FORWARD_PATH,        /* RCPT TO: <> is rejected, and <Postmaster> needs no domain. */
};

/*
 * Parse "<path> [params]" from text, which must not hold the line ending.
 * On success *path is a new string (the mailbox without brackets and without
 * any source route; "" for <> in a reverse path) and *params and *params_len
 * are a new array of parameters as given, keywords upper-cased.
 * On error nothing is allocated.
 */
enum sc_path_error sc_parse_path_and_params(const char *text, size_t len, enum sc_path_kind kind,
                                            char **path, struct sc_param **params,
                                            size_t *params_len);

void sc_free_params(struct sc_param *params, size_t len);

#ifdef __cplusplus
}
#endif

#endif
