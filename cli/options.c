/*
 * Command-line parsing for smtpcatch with getopt_long. Every value is
 * checked here, so the rest of the program can trust struct options.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "utf8.h"

enum {
    OPT_PORT_FILE = 256,
    OPT_MAX_SIZE,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_RECIPIENTS,
    OPT_MAX_LINE_LENGTH,
    OPT_MAX_COMMAND_LENGTH,
    OPT_MAX_ERRORS,
    OPT_STRICT,
    OPT_AUTH,
    OPT_REQUIRE_AUTH,
    OPT_TLS,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CERT_OUT,
    OPT_REQUIRE_TLS,
    OPT_AUTH_TLS_ONLY,
    OPT_VERSION,
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"port", required_argument, NULL, 'p'},
    {"count", required_argument, NULL, 'n'},
    {"timeout", required_argument, NULL, 't'},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-recipients", required_argument, NULL, OPT_MAX_RECIPIENTS},
    {"max-line-length", required_argument, NULL, OPT_MAX_LINE_LENGTH},
    {"max-command-length", required_argument, NULL, OPT_MAX_COMMAND_LENGTH},
    {"max-errors", required_argument, NULL, OPT_MAX_ERRORS},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"require-auth", no_argument, NULL, OPT_REQUIRE_AUTH},
    {"tls", required_argument, NULL, OPT_TLS},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-cert-out", required_argument, NULL, OPT_TLS_CERT_OUT},
    {"require-tls", no_argument, NULL, OPT_REQUIRE_TLS},
    {"auth-tls-only", no_argument, NULL, OPT_AUTH_TLS_ONLY},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void options_print_help(void)
{
    printf(
"Usage: smtpcatch [OPTIONS]\n"
"\n"
"Receive mail over SMTP on localhost for automated tests, and print each\n"
"message as one JSON line on stdout.\n"
"\n"
"Options:\n"
"  -l, --listen HOST[:PORT]  address to bind (default localhost:0). localhost\n"
"                            binds 127.0.0.1 and, where the host has it, ::1 on\n"
"                            the same port. Write IPv6 as [::1]:2525.\n"
"  -p, --port PORT           port to bind; 0 picks a free port (default 0)\n"
"  -n, --count N             exit with status 0 after N messages are written\n"
"                            (default: unlimited)\n"
"  -t, --timeout SECONDS     stop after SECONDS, fractions allowed (default: none)\n"
"      --port-file FILE      once listening, write the port to FILE atomically\n"
"      --strict              reject bare LF and bare CR: a command line ending\n"
"                            in a bare LF gets 500 5.5.2, a message holding one\n"
"                            gets 550 5.6.0 and is not written\n"
"      --auth USER:PASSWORD  accept AUTH only with this username and password;\n"
"                            repeat for more pairs. Others get 535 5.7.8.\n"
"                            Without it, AUTH accepts any credentials.\n"
"      --require-auth        MAIL before a successful AUTH gets 530 5.7.0\n"
"  -v, --verbose             log every SMTP command and reply on stderr\n"
"  -h, --help                show this help and exit\n"
"      --version             show the version and exit\n"
"\n"
"TLS (off unless --tls is given):\n"
"      --tls MODE            starttls: offer STARTTLS in the EHLO reply;\n"
"                            implicit: TLS from the first byte, as on port 465;\n"
"                            a client silent for 5 s gets a plaintext 421 4.7.0\n"
"      --tls-cert FILE       PEM certificate chain, server certificate first\n"
"                            (default: a self-signed certificate for localhost,\n"
"                            127.0.0.1 and ::1, generated at start-up)\n"
"      --tls-key FILE        PEM private key without a passphrase (default: the\n"
"                            key in the --tls-cert file)\n"
"      --tls-cert-out FILE   before the ready line, write the certificate in PEM\n"
"                            to FILE atomically, for clients to trust\n"
"      --require-tls         with --tls starttls, MAIL before STARTTLS gets\n"
"                            530 5.7.0\n"
"      --auth-tls-only       with --tls starttls, offer AUTH only after\n"
"                            STARTTLS; AUTH before it gets 538 5.7.11\n"
"\n"
"Limits (BYTES takes a suffix K, M or G for 1024, 1024^2 or 1024^3):\n"
"      --max-size BYTES      largest message, advertised as SIZE; larger ones\n"
"                            get 552 5.3.4 (default 64M)\n"
"      --max-line-length BYTES  longest message line, without its line ending;\n"
"                            a message with a longer one gets 552 5.3.4\n"
"                            (default 1M)\n"
"      --max-command-length BYTES  longest command line, with its line ending,\n"
"                            at least 512; longer ones get 500 5.5.2\n"
"                            (default 4096). AUTH lines may have 12288 bytes\n"
"                            before their line ending when this is lower.\n"
"      --max-recipients N    recipients per message; more get 452 4.5.3\n"
"                            (default 1000)\n"
"      --max-connections N   sessions open at once; more get 421 4.7.0 and are\n"
"                            closed; 0 for no limit (default 10000, lowered\n"
"                            to fit the open files limit)\n"
"      --max-errors N        5xx replies in one session before 421 4.7.0 and\n"
"                            close; 0 for no limit (default 100)\n"
"      --idle-timeout SECONDS  close a session silent for SECONDS with\n"
"                            421 4.4.2; 0 for never (default 300)\n"
"\n"
"Output (stdout, one JSON object per line, each written at once):\n"
"  {\"event\":\"ready\",\"address\":...,\"port\":...,\"addresses\":[...],\"pid\":...,\n"
"   \"version\":...,\"tls\":...}\n"
"      first, once listening: address is the first of addresses, the list\n"
"      of addresses bound. tls is null, or {\"mode\":...,\"sha256\":...} with\n"
"      the --tls mode and the SHA-256 fingerprint of the certificate in hex.\n"
"  {\"event\":\"message\",\"id\":...,\"received_at\":...,\"client\":{\"address\":...,\n"
"   \"port\":...},\"helo\":...,\"esmtp\":...,\"auth\":...,\"tls\":...,\"mail_from\":...,\n"
"   \"mail_params\":{...},\"rcpt_to\":[...],\"rcpt_params\":[...],\"size\":...,\n"
"   \"warnings\":[...],\"data\":...}\n"
"      one per accepted message, written (or queued behind earlier lines when\n"
"      stdout is a full pipe) before the client gets its 250. id counts from\n"
"      1; received_at is UTC with milliseconds; helo is the HELO or EHLO name;\n"
"      esmtp is true after EHLO; auth is null, or the client's AUTH as\n"
"      {\"mechanism\":...,\"username\":...,\"password\":...}, with \"authzid\"\n"
"      when PLAIN carried one and, for CRAM-MD5, the hex digest as\n"
"      \"response\" in place of \"password\"; tls is null, or the session's\n"
"      {\"version\":...,\"cipher\":...}; mail_from is the sender\n"
"      without angle brackets (\"\" for <>); mail_params maps each MAIL FROM\n"
"      keyword, upper-cased, to its value, or to true when it has none;\n"
"      rcpt_to lists the recipients in order and rcpt_params their\n"
"      parameters, one object each; size is the message length in bytes;\n"
"      warnings names deviations from the RFCs: bare_lf, bare_cr,\n"
"      line_over_998, nul_byte, 8bit_without_8bitmime, utf8_without_smtputf8,\n"
"      dot_line_bare_lf; data is the message exactly as received, after\n"
"      dot-unstuffing and without the final \".\" line. When the message is\n"
"      not valid UTF-8, data_base64 replaces data.\n"
"  Consumers should ignore members they do not know.\n"
"\n"
"Exit status:\n"
"  0    --count reached; --timeout ran out and no --count was given;\n"
"       SIGINT, SIGTERM or SIGHUP; or stdout was closed by its reader\n"
"  1    runtime failure, such as a port that cannot be bound or stdout\n"
"       that cannot be written\n"
"  2    invalid command line\n"
"  124  --timeout ran out before --count messages arrived\n"
"\n"
"Example: smtpcatch --count 1 --timeout 10 | jq .\n");
}

/* Return how many of the first len bytes of text are ASCII digits, in a row. */
static size_t count_digits(const char *text, size_t len)
{
    size_t n = 0;

    while (n < len && text[n] >= '0' && text[n] <= '9')
        n++;
    return n;
}

/*
 * Return true when the len bytes at text are plain decimal: one or more
 * digits and, when fraction is set, optionally a '.' and one or more
 * digits. strtol and strtoull also take leading spaces and signs, and
 * strtod takes hex ("0x10"), exponents ("1e3") and words ("inf", "nan")
 * too, so every number option passes this check before it is converted.
 */
static bool is_decimal(const char *text, size_t len, bool fraction)
{
    size_t whole = count_digits(text, len), rest;

    if (whole == 0)
        return false;
    if (whole == len)
        return true;
    if (!fraction || text[whole] != '.')
        return false;

    rest = len - whole - 1;
    return rest > 0 && count_digits(text + whole + 1, rest) == rest;
}

/* Parse a port from text: a whole number from 0 to 65535. */
static int parse_port(const char *text, int *port)
{
    char *end;
    long v;

    if (!is_decimal(text, strlen(text), false))
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/*
 * Split HOST[:PORT]. IPv6 goes in brackets when a port follows ("[::1]:25");
 * a bare IPv6 address ("::1") has no port. An empty host before a port
 * (":2525") means localhost, but an empty value or "[]" is invalid.
 * host_buf receives the host and must hold strlen(text) + 1 bytes.
 */
static int parse_listen(const char *text, char *host_buf, int *port, bool *has_port)
{
    const char *colon, *close;
    size_t host_len;

    *has_port = false;
    *port = 0;
    if (text[0] == '\0')
        return -1;
    if (text[0] == '[') {
        close = strchr(text, ']');
        if (close == NULL || close == text + 1 || (close[1] != '\0' && close[1] != ':'))
            return -1;
        host_len = (size_t)(close - text - 1);
        memcpy(host_buf, text + 1, host_len);
        host_buf[host_len] = '\0';
        if (close[1] == ':') {
            *has_port = true;
            return parse_port(close + 2, port);
        }
        return 0;
    }

    colon = strrchr(text, ':');
    if (colon != NULL && strchr(text, ':') != colon)
        colon = NULL;               /* Several colons: a bare IPv6 address. */
    host_len = colon ? (size_t)(colon - text) : strlen(text);
    memcpy(host_buf, text, host_len);
    host_buf[host_len] = '\0';
    if (host_len == 0)
        strcpy(host_buf, "localhost");
    if (colon != NULL) {
        *has_port = true;
        return parse_port(colon + 1, port);
    }
    return 0;
}

/* Parse a number of seconds in decimal, fractions allowed, up to 1e9. */
static int parse_seconds(const char *text, double *seconds, bool allow_zero)
{
    char *end;
    double v;

    if (!is_decimal(text, strlen(text), true))
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v) || (v == 0 && !allow_zero) || v > 1e9)
        return -1;
    *seconds = v;
    return 0;
}

/* Parse a whole number of at least min. */
static int parse_number(const char *text, unsigned long long min, unsigned long long *number)
{
    char *end;

    if (!is_decimal(text, strlen(text), false))
        return -1;
    errno = 0;
    *number = strtoull(text, &end, 10);
    return errno == 0 && *number >= min ? 0 : -1;
}

static int parse_count(const char *text, unsigned long long *count)
{
    return parse_number(text, 1, count);
}

/* Parse a byte count with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *text, size_t *size)
{
    char *end;
    unsigned long long v, unit = 1;
    size_t digits_len = strlen(text);

    if (digits_len > 0 && strchr("KkMmGg", text[digits_len - 1]) != NULL)
        digits_len--;
    if (!is_decimal(text, digits_len, false))
        return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    if (*end == 'K' || *end == 'k')
        unit = 1024ULL;
    else if (*end == 'M' || *end == 'm')
        unit = 1024ULL * 1024;
    else if (*end == 'G' || *end == 'g')
        unit = 1024ULL * 1024 * 1024;
    if (v == 0 || v > SIZE_MAX / 2 / unit)
        return -1;
    *size = (size_t)(v * unit);
    return 0;
}

/*
 * Append the USER:PASSWORD pair of one --auth to opts. The password runs
 * from the first colon to the end, so it may contain colons; the username
 * cannot, and must not be empty. Returns 0, -1 when text is invalid, -3
 * when it is not UTF-8 (the session rejects such AUTH responses, so the
 * pair could never match), or -2 when out of memory.
 */
static int add_credential(struct options *opts, const char *text)
{
    const char *colon = strchr(text, ':');
    struct sc_credential *grown;
    char *username, *password;

    if (colon == NULL || colon == text)
        return -1;
    if (!sc_utf8_valid(text, strlen(text)))
        return -3;
    grown = realloc(opts->credentials, (opts->credentials_len + 1) * sizeof(*grown));
    if (grown == NULL)
        return -2;
    opts->credentials = grown;
    username = strndup(text, (size_t)(colon - text));
    password = strdup(colon + 1);
    if (username == NULL || password == NULL) {
        free(username);
        free(password);
        return -2;
    }

    grown[opts->credentials_len].username = username;
    grown[opts->credentials_len].password = password;
    opts->credentials_len++;
    return 0;
}

/* Return the message for an error code of add_credential. */
static const char *credential_error(int rc)
{
    if (rc == -2)
        return "out of memory storing --auth values";
    if (rc == -3)
        return "invalid --auth value: it is not valid UTF-8, so no client could log in with it";
    return "invalid --auth value: expected USER:PASSWORD with a username before the first "
           "colon, such as --auth alice:secret";
}

void options_free(struct options *opts)
{
    size_t i;

    for (i = 0; i < opts->credentials_len; i++) {
        free((char *)opts->credentials[i].username);
        free((char *)opts->credentials[i].password);
    }
    free(opts->credentials);
    opts->credentials = NULL;
    opts->credentials_len = 0;
}

/* Store the file path of --tls-cert, --tls-key or --tls-cert-out.
 * Returns 0, or -1 after writing an error for an empty path. */
static int take_tls_file(struct options *opts, int option, const char *path, char *err,
                         size_t errlen)
{
    const char *name = option == OPT_TLS_CERT ? "--tls-cert"
                       : option == OPT_TLS_KEY ? "--tls-key" : "--tls-cert-out";

    if (*path == '\0') {
        snprintf(err, errlen, "invalid %s value '': expected a file path", name);
        return -1;
    }
    if (option == OPT_TLS_CERT)
        opts->tls_cert = path;
    else if (option == OPT_TLS_KEY)
        opts->tls_key = path;
    else
        opts->tls_cert_out = path;
    return 0;
}

/* Check that the TLS options go together. Returns 0, or -1 after writing
 * an error. */
static int check_tls_options(const struct options *opts, char *err, size_t errlen)
{
    const char *needs_tls = opts->tls_cert ? "--tls-cert"
                            : opts->tls_key ? "--tls-key"
                            : opts->tls_cert_out ? "--tls-cert-out" : NULL;
    const char *needs_starttls = opts->require_tls ? "--require-tls"
                                 : opts->auth_tls_only ? "--auth-tls-only" : NULL;

    if (needs_tls != NULL && opts->tls_mode == TLS_OFF) {
        snprintf(err, errlen, "%s needs --tls starttls or --tls implicit", needs_tls);
        return -1;
    }
    if (opts->tls_key != NULL && opts->tls_cert == NULL) {
        snprintf(err, errlen, "--tls-key needs --tls-cert, the certificate of that key");
        return -1;
    }

    /* Both rules are about what a session may do before STARTTLS. */
    if (needs_starttls != NULL && opts->tls_mode != TLS_STARTTLS) {
        snprintf(err, errlen, "%s needs --tls starttls%s", needs_starttls,
                 opts->tls_mode == TLS_IMPLICIT
                     ? ": with --tls implicit every session is over TLS already"
                     : "");
        return -1;
    }
    return 0;
}

static void set_defaults(struct options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->host = "localhost";
    opts->max_size = SC_DEFAULT_MAX_SIZE;
    opts->idle_timeout = SC_DEFAULT_IDLE_TIMEOUT;
    opts->max_connections = SC_DEFAULT_MAX_CONNECTIONS;
    opts->max_recipients = SC_DEFAULT_MAX_RCPTS;
    opts->max_line_length = SC_DEFAULT_MAX_DATA_LINE;
    opts->max_command_length = SC_DEFAULT_MAX_LINE;
    opts->max_errors = SC_DEFAULT_MAX_ERRORS;
}

int options_parse(int argc, char **argv, struct options *opts, char *err, size_t errlen)
{
    static char host_buf[256];
    const char *listen_text = NULL, *port_text = NULL;
    int c, rc, listen_port = 0, port = 0;
    unsigned long long number;
    bool listen_has_port = false;

    set_defaults(opts);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":l:p:n:t:vh", long_options, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen_text = optarg;
            if (strlen(optarg) >= sizeof(host_buf) ||
                parse_listen(optarg, host_buf, &listen_port, &listen_has_port) != 0) {
                snprintf(err, errlen, "invalid --listen value '%.100s': expected HOST, HOST:PORT "
                         "or [IPV6]:PORT with a port from 0 to 65535", optarg);
                return -1;
            }
            opts->host = host_buf;
            opts->host_bracketed = optarg[0] == '[';
            break;
        case 'p':
            port_text = optarg;
            if (parse_port(optarg, &port) != 0) {
                snprintf(err, errlen, "invalid --port value '%.100s': expected a number from 0 "
                         "to 65535", optarg);
                return -1;
            }
            break;
        case 'n':
            if (parse_count(optarg, &opts->count) != 0) {
                snprintf(err, errlen, "invalid --count value '%.100s': expected a whole number "
                         "of at least 1", optarg);
                return -1;
            }
            break;
        case 't':
            if (parse_seconds(optarg, &opts->timeout, false) != 0) {
                snprintf(err, errlen, "invalid --timeout value '%.100s': expected a decimal "
                         "number of seconds, greater than 0 and at most 1000000000, such as 10 or "
                         "0.5", optarg);
                return -1;
            }
            break;
        case OPT_PORT_FILE:
            if (*optarg == '\0') {
                snprintf(err, errlen, "invalid --port-file value '': expected a file path");
                return -1;
            }
            opts->port_file = optarg;
            break;
        case OPT_MAX_SIZE:
            if (parse_size(optarg, &opts->max_size) != 0) {
                snprintf(err, errlen, "invalid --max-size value '%.100s': expected a number of "
                         "bytes from 1 to 2^63-1, optionally followed by K, M or G", optarg);
                return -1;
            }
            break;
        case OPT_IDLE_TIMEOUT:
            if (parse_seconds(optarg, &opts->idle_timeout, true) != 0) {
                snprintf(err, errlen, "invalid --idle-timeout value '%.100s': expected a "
                         "decimal number of seconds, at most 1000000000, such as 30 or 0.5, or 0 for "
                         "none", optarg);
                return -1;
            }
            break;
        case OPT_MAX_CONNECTIONS:
            if (parse_number(optarg, 0, &number) != 0 || number > 1000000) {
                snprintf(err, errlen, "invalid --max-connections value '%.100s': expected a "
                         "whole number up to 1000000, or 0 for no limit", optarg);
                return -1;
            }
            opts->max_connections = (size_t)number;
            opts->max_connections_set = true;
            break;
        case OPT_MAX_RECIPIENTS:
            if (parse_number(optarg, 1, &number) != 0 || number > 1000000) {
                snprintf(err, errlen, "invalid --max-recipients value '%.100s': expected a "
                         "whole number from 1 to 1000000", optarg);
                return -1;
            }
            opts->max_recipients = (size_t)number;
            break;
        case OPT_MAX_LINE_LENGTH:
            if (parse_size(optarg, &opts->max_line_length) != 0) {
                snprintf(err, errlen, "invalid --max-line-length value '%.100s': expected a "
                         "number of bytes from 1 to 2^63-1, optionally followed by K, M or G",
                         optarg);
                return -1;
            }
            break;
        case OPT_MAX_COMMAND_LENGTH:
            /* RFC 5321 section 4.5.3.1.4: servers accept command lines of 512 bytes. */
            if (parse_size(optarg, &opts->max_command_length) != 0 ||
                opts->max_command_length < 512 || opts->max_command_length > 1024 * 1024) {
                snprintf(err, errlen, "invalid --max-command-length value '%.100s': expected a "
                         "number of bytes from 512 to 1M", optarg);
                return -1;
            }
            break;
        case OPT_MAX_ERRORS:
            if (parse_number(optarg, 0, &number) != 0 || number > 1000000) {
                snprintf(err, errlen, "invalid --max-errors value '%.100s': expected a whole "
                         "number up to 1000000, or 0 for no limit", optarg);
                return -1;
            }
            opts->max_errors = (unsigned)number;
            break;
        case OPT_STRICT:
            opts->strict = true;
            break;
        case OPT_AUTH:
            rc = add_credential(opts, optarg);
            if (rc != 0) {
                /* The value is not echoed, because it contains a password. */
                snprintf(err, errlen, "%s", credential_error(rc));
                return -1;
            }
            break;
        case OPT_REQUIRE_AUTH:
            opts->require_auth = true;
            break;
        case OPT_TLS:
            if (strcmp(optarg, "starttls") == 0) {
                opts->tls_mode = TLS_STARTTLS;
            } else if (strcmp(optarg, "implicit") == 0) {
                opts->tls_mode = TLS_IMPLICIT;
            } else {
                snprintf(err, errlen, "invalid --tls value '%.100s': expected starttls or "
                         "implicit", optarg);
                return -1;
            }
            break;
        case OPT_TLS_CERT:
        case OPT_TLS_KEY:
        case OPT_TLS_CERT_OUT:
            if (take_tls_file(opts, c, optarg, err, errlen) != 0)
                return -1;
            break;
        case OPT_AUTH_TLS_ONLY:
            opts->auth_tls_only = true;
            break;
        case OPT_REQUIRE_TLS:
            opts->require_tls = true;
            break;
        case 'v':
            opts->verbose = true;
            break;
        case 'h':
            opts->help = true;
            break;
        case OPT_VERSION:
            opts->version = true;
            break;
        case ':':
            snprintf(err, errlen, "option '%.100s' requires a value (see smtpcatch --help)",
                     argv[optind - 1]);
            return -1;
        default:
            snprintf(err, errlen, "unknown option '%.100s' (see smtpcatch --help)",
                     argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%.100s': smtpcatch takes options only "
                 "(see smtpcatch --help)", argv[optind]);
        return -1;
    }

    if (port_text != NULL && listen_has_port && port != listen_port) {
        snprintf(err, errlen, "--port %s conflicts with the port in --listen %.100s: give the "
                 "port once", port_text, listen_text);
        return -1;
    }
    opts->port = port_text != NULL ? port : listen_port;
    return check_tls_options(opts, err, errlen);
}
