/*
 * Validation of the ESMTP parameters of MAIL FROM and RCPT TO, each by the
 * RFC of its extension: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030),
 * SMTPUTF8 (RFC 6531), RET, ENVID, NOTIFY, ORCPT (DSN, RFC 3461) and AUTH
 * (RFC 4954).
 * Values are kept as the client sent them; this only decides the reply.
 */
#ifndef SC_PARAMS_H
#define SC_PARAMS_H

#include <stddef.h>

#include "message.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Check one MAIL parameter. Returns NULL when it is valid, else writes the
 * reply line (code, enhanced code and text) into reply and returns it.
 */
const char *sc_check_mail_param(const struct sc_param *param, size_t max_size, char *reply,
                                size_t reply_len);

/* Check one RCPT parameter, in the same way. */
const char *sc_check_rcpt_param(const struct sc_param *param, char *reply, size_t reply_len);

#ifdef __cplusplus
}
#endif

#endif
