/*
 * One received message: the envelope (HELO name, sender, recipients and their
 * parameters) and the data exactly as received after dot-unstuffing. The
 * session fills it and the server adds the client's address. The
 * message-received callback reads it and must not keep pointers into it.
 */
#ifndef SC_MESSAGE_H
#define SC_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ways a message deviates from RFC 5321, 5322, 6152 or 6531, reported in
 * its warnings member so a test can assert that its client is clean. */
enum sc_warning {
    SC_WARN_BARE_LF = 1 << 0,           /* An LF without CR before it. */
    SC_WARN_BARE_CR = 1 << 1,           /* A CR without LF after it. */
    SC_WARN_LINE_OVER_998 = 1 << 2,     /* A line longer than RFC 5322 allows. */
    SC_WARN_NUL_BYTE = 1 << 3,          /* A NUL byte, which RFC 5322 forbids in text. */
    SC_WARN_8BIT_WITHOUT_8BITMIME = 1 << 4,   /* 8-bit data without BODY=8BITMIME. */
    SC_WARN_UTF8_WITHOUT_SMTPUTF8 = 1 << 5,   /* A non-ASCII address without SMTPUTF8. */
    SC_WARN_DOT_LINE_BARE_LF = 1 << 6,  /* A "." line next to a bare LF: a lenient
                                         * server would end the message there. */
};

#define SC_WARNINGS_LEN 7

/* Return the JSON name of one warning bit, such as "bare_lf". */
const char *sc_warning_name(unsigned bit);

/* A MAIL FROM parameter. The keyword is upper-cased because ESMTP keywords
 * are case-insensitive; value is the text after '=', or NULL when none. */
struct sc_param {
    char *keyword;
    char *value;
};

/* The parameters of one recipient. */
struct sc_params {
    struct sc_param *items;
    size_t len;
};

/* The identity a client authenticated with by AUTH (RFC 4954). It is kept
 * for the rest of the session, like the HELO name, and owns its strings. */
struct sc_auth_result {
    const char *mechanism;      /* "PLAIN", "LOGIN" or "CRAM-MD5"; NULL: not authenticated. */
    char *authzid;              /* PLAIN's authorization identity; NULL when empty. */
    char *username;
    char *password;             /* PLAIN and LOGIN; NULL for CRAM-MD5. */
    char *response;             /* CRAM-MD5's hex digest as sent; NULL otherwise. */
};

/* Owns every string and array except data, client_address and the two TLS
 * strings, which the session owns and frees. */
struct sc_message {
    char *helo;                 /* HELO or EHLO argument; NULL if none given. */
    bool esmtp;                 /* The client greeted with EHLO. */
    struct sc_auth_result auth; /* Session state too: sc_message_reset keeps it. */

    char *mail_from;            /* Reverse-path without brackets; "" for <>. */
    struct sc_param *mail_params;
    size_t mail_params_len;

    char **rcpt_to;             /* Accepted forward-paths, in order. */
    struct sc_params *rcpt_params;  /* Parameters of each recipient; NULL if none had any. */
    size_t rcpt_to_len;
    size_t rcpt_to_cap;

    const char *data;           /* Borrowed from the session while the callback runs. */
    size_t size;
    unsigned warnings;          /* SC_WARN_* bits. */
    bool ascii;                 /* No byte of data is above 0x7F, so it is valid UTF-8.
                                 * false means unknown, and output checks the data. */
    bool chunked;               /* The body came by BDAT, not DATA. */

    const char *tls_version;    /* Such as "TLSv1.3"; NULL when the session is not over TLS. */
    const char *tls_cipher;     /* OpenSSL's name of the cipher suite; NULL without TLS. */

    const char *client_address; /* Set by the server layer; NULL in unit tests. */
    int client_port;
};

/* Free the transaction's fields (sender, parameters, recipients) and clear
 * the data pointer. helo, esmtp, auth, the TLS strings and the client
 * address stay: they belong to the session, not the transaction. Safe to call twice. */
void sc_message_reset(struct sc_message *m);

/* Free the strings of an AUTH result and mark it not authenticated. Safe
 * to call twice. */
void sc_auth_result_clear(struct sc_auth_result *a);

/* Append a recipient, taking ownership of path. Returns 0, or -1 when out of memory. */
int sc_message_add_rcpt(struct sc_message *m, char *path);

/* Append a recipient with its parameters, taking ownership of both.
 * Returns 0, or -1 when out of memory (then nothing is taken). */
int sc_message_add_rcpt_params(struct sc_message *m, char *path, struct sc_param *params,
                               size_t params_len);

/* Return the value of a MAIL parameter by keyword, or NULL if absent. */
const struct sc_param *sc_message_find_param(const struct sc_message *m, const char *keyword);

#ifdef __cplusplus
}
#endif

#endif
