/*
 * The command line of smtpcatch: parsing and validation, and the help text.
 * Nothing here touches sockets or the event loop.
 */
#ifndef SC_OPTIONS_H
#define SC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "server.h"

/* The TLS mode chosen with --tls. */
enum tls_mode {
    TLS_OFF,
    TLS_STARTTLS,               /* Plaintext first; EHLO offers STARTTLS (RFC 3207). */
    TLS_IMPLICIT,               /* TLS from the first byte (RFC 8314). */
};

/* The parsed options. The strings point into argv or static storage,
 * except credentials, which options_free releases. */
struct options {
    const char *host;           /* From --listen; "localhost" when not given. */
    bool host_bracketed;        /* --listen gave the host in brackets, as in [::1]. */
    int port;                   /* From --port or --listen; 0 when neither. */
    unsigned long long count;   /* 0: unlimited. */
    double timeout;             /* Seconds; 0: none. */
    const char *port_file;
    size_t max_size;
    double idle_timeout;        /* Seconds; 0: none. */
    size_t max_connections;     /* 0: no limit. */
    bool max_connections_set;   /* Given on the command line. */
    size_t max_recipients;
    size_t max_line_length;     /* Message line, without its ending. */
    size_t max_command_length;  /* Command line, with its ending. */
    unsigned max_errors;        /* 0: no limit. */
    bool strict;
    struct sc_credential *credentials;  /* From --auth, in order; its strings are copies. */
    size_t credentials_len;
    bool require_auth;
    enum tls_mode tls_mode;
    const char *tls_cert;       /* PEM certificate chain; NULL: a generated certificate. */
    const char *tls_key;        /* PEM private key; NULL: read it from tls_cert. */
    const char *tls_cert_out;   /* Output path of the certificate in PEM; NULL: none. */
    bool require_tls;
    bool auth_tls_only;
    bool verbose;
    bool help;
    bool version;
};

/*
 * Parse argv into opts. Returns 0, or -1 after writing a one-line error
 * into err (the caller prints it and exits with status 2).
 */
int options_parse(int argc, char **argv, struct options *opts, char *err, size_t errlen);

/* Free what options_parse allocated. Safe to call twice. */
void options_free(struct options *opts);

/* Print the help text to stdout. */
void options_print_help(void);

#endif
