/*
 * The server side of SMTP AUTH (RFC 4954) with the SASL mechanisms PLAIN
 * (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195). It does no I/O: the session
 * passes the AUTH argument and then each response line, and gets back the
 * reply line to send and whether the exchange goes on, succeeded or failed.
 * Base64 and HMAC-MD5 come from OpenSSL's libcrypto. The session owns the
 * command line rules: which state allows AUTH, line lengths and tracing.
 */
#ifndef SC_AUTH_H
#define SC_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "message.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The mechanisms offered in the EHLO reply, in the order clients should
 * prefer them. */
#define SC_AUTH_MECHANISMS "PLAIN LOGIN CRAM-MD5"

/* Longest AUTH command line or response line, without its line ending.
 * RFC 4954 section 4 names 12288 octets as enough for deployed mechanisms. */
#define SC_AUTH_MAX_LINE 12288

/* Room for any reply line sc_auth_start or sc_auth_step writes, without CRLF. */
#define SC_AUTH_REPLY_MAX 512

/* Longest CRAM-MD5 challenge, such as "<8427510893.1765012345@localhost>". */
#define SC_AUTH_CHALLENGE_MAX 256

/* One pair given with --auth. Both strings are borrowed. */
struct sc_credential {
    const char *username;
    const char *password;
};

/*
 * Write a CRAM-MD5 challenge for hostname into buf, NUL-terminated, at most
 * size bytes with the NUL. Returns 0, or -1 when no challenge can be made
 * (the client then gets 454 4.7.0).
 */
typedef int (*sc_challenge_fn)(char *buf, size_t size, const char *hostname);

/* The AUTH settings of a server. They are copied with struct sc_limits, but
 * the credentials array and its strings are borrowed and must outlive
 * every session. */
struct sc_auth_config {
    const struct sc_credential *credentials;    /* Accepted pairs; none: accept any. */
    size_t credentials_len;
    bool required;              /* MAIL before a successful AUTH gets 530 5.7.0. */

    /* Makes CRAM-MD5 challenges. NULL gives the fixed challenge
     * "<0.0@HOSTNAME>", so replies depend on the input alone: the unit
     * tests and the fuzz target need that. smtpcatch itself passes
     * sc_auth_random_challenge. */
    sc_challenge_fn make_challenge;
};

enum sc_auth_mechanism {
    SC_MECH_NONE,
    SC_MECH_PLAIN,
    SC_MECH_LOGIN,
    SC_MECH_CRAM_MD5,
};

/* The outcome of one call. The reply line it wrote goes to the client
 * whatever the outcome. */
enum sc_auth_status {
    SC_AUTH_CONTINUE,           /* A 334 challenge: the next client line is a response. */
    SC_AUTH_SUCCESS,            /* 235: the result contains the client's identity. */
    SC_AUTH_FAILURE,            /* A 4xx or 5xx reply: the exchange is over. */
};

/* One AUTH exchange in progress. It owns username; it borrows config and
 * hostname from the session. sc_auth_exchange_reset frees it. */
struct sc_auth_exchange {
    enum sc_auth_mechanism mechanism;
    const struct sc_auth_config *config;
    const char *hostname;
    char *username;             /* LOGIN: the username, while the password is asked for. */
    char challenge[SC_AUTH_CHALLENGE_MAX];  /* CRAM-MD5: the challenge sent, unencoded. */
};

/*
 * Start an exchange from the argument of AUTH, "MECHANISM [initial-response]"
 * with the verb and its spaces removed. Writes the reply line into reply. On
 * SC_AUTH_SUCCESS the identity is stored in result, which must be empty.
 */
enum sc_auth_status sc_auth_start(struct sc_auth_exchange *ex, const struct sc_auth_config *config,
                                  const char *hostname, const char *arg, size_t len,
                                  struct sc_auth_result *result, char *reply, size_t reply_size);

/* Take one response line (without its line ending) after SC_AUTH_CONTINUE.
 * A line of only "*" cancels the exchange (RFC 4954 section 4). */
enum sc_auth_status sc_auth_step(struct sc_auth_exchange *ex, const char *line, size_t len,
                                 struct sc_auth_result *result, char *reply, size_t reply_size);

/* End any exchange and free its memory. Safe to call twice. */
void sc_auth_exchange_reset(struct sc_auth_exchange *ex);

/*
 * Decode standard base64 (RFC 4648 section 4) as RFC 4954 requires: padding
 * is required, and any byte outside the alphabet or a '=' before the end is
 * an error. On success *out is a new buffer of *out_len bytes plus a NUL,
 * which the caller frees. Returns 0, -1 for invalid input, -2 when out of
 * memory.
 */
int sc_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);

/* Write the CRAM-MD5 digest of challenge keyed with password (HMAC-MD5,
 * RFC 2195) as 32 lowercase hex digits and a NUL into hex. Returns 0 or -1. */
int sc_cram_md5_digest(const char *password, const char *challenge, char hex[33]);

/* An sc_challenge_fn that makes "<RANDOM.TIMESTAMP@HOSTNAME>" with
 * OpenSSL's RAND_bytes and the current time. */
int sc_auth_random_challenge(char *buf, size_t size, const char *hostname);

#ifdef __cplusplus
}
#endif

#endif
