/*
 * The SMTP session state machine. It does no I/O: the caller feeds it the
 * bytes a client sent, and it appends reply bytes to an output buffer and
 * calls the message-received hook when a transaction completes. Input may be
 * split anywhere. The caller keeps what a feed did not consume and passes it
 * again, followed by the next bytes, on the next feed.
 */
#ifndef SC_SESSION_H
#define SC_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "buf.h"
#include "message.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_DEFAULT_MAX_SIZE ((size_t)64 * 1024 * 1024)
#define SC_DEFAULT_MAX_LINE 4096
#define SC_DEFAULT_MAX_RCPTS 1000
#define SC_DEFAULT_MAX_DATA_LINE ((size_t)1024 * 1024)
#define SC_DEFAULT_MAX_ERRORS 100

/* Limits and rules one session enforces. Copied at sc_session_new; what
 * auth points to is borrowed (see struct sc_auth_config). */
struct sc_limits {
    size_t max_size;            /* Largest message in bytes; advertised as SIZE. */
    size_t max_line;            /* Maximum command line length in bytes, line ending included. */
    size_t max_rcpts;           /* Maximum recipients in one transaction. */
    size_t max_data_line;       /* Maximum message line length, without its ending. 0: no limit. */
    unsigned max_errors;        /* 5xx replies before 421 and close; 0: no limit. */
    bool strict;                /* Reject bare LF and bare CR (RFC 5321 section 2.3.8). */
    bool starttls;              /* Offer STARTTLS (RFC 3207), which the server layer starts. */
    bool require_tls;           /* MAIL before STARTTLS gets 530 5.7.0. */
    bool auth_tls_only;         /* Offer AUTH only once TLS is up. */
    struct sc_auth_config auth; /* Credentials, --require-auth, CRAM-MD5 challenges. */
};

/* The message-received hook's decision. The session sends the reply. */
enum sc_verdict {
    SC_ACCEPT,                  /* 250: the message is safely stored or written. */
    SC_TEMPFAIL,                /* 451 4.3.0: it could not be stored; the client may retry. */
    SC_SHUTDOWN,                /* 421 4.3.2 and close: the server is stopping. */
};

/* Direction of a trace line: a line the client sent, or a reply line. */
enum sc_trace_dir {
    SC_TRACE_IN,
    SC_TRACE_OUT,
};

struct sc_session_hooks {
    /* Called once per completed transaction. msg and its data are valid only
     * during the call. Required. */
    enum sc_verdict (*on_message)(void *arg, struct sc_message *msg);

    /* Called for each command line (without its line ending) and each reply
     * line, for verbose logs. Optional. Secrets are replaced: an AUTH line
     * comes as "AUTH MECHANISM [initial response]" and each response of an
     * AUTH exchange as "[AUTH response]", except a cancelling "*". */
    void (*on_trace)(void *arg, enum sc_trace_dir dir, const char *line, size_t len);

    void *arg;
};

struct sc_session;

/* Fill limits with the defaults of the smtpcatch command: the SC_DEFAULT_*
 * values above, no STARTTLS, and AUTH that accepts any credentials, with
 * random CRAM-MD5 challenges. */
void sc_limits_init(struct sc_limits *limits);

/* Create a session. Returns NULL when out of memory. */
struct sc_session *sc_session_new(const struct sc_limits *limits,
                                  const struct sc_session_hooks *hooks);

void sc_session_free(struct sc_session *s);

/* Append the 220 greeting to out. Call once, before the first feed. */
void sc_session_greet(struct sc_session *s, const char *hostname, struct sc_buf *out);

/*
 * Process client bytes and append any replies to out. Returns how many bytes
 * were consumed. Bytes not consumed are an incomplete line (or the first
 * bytes of a possible end-of-data marker): pass them again with more input.
 * Once sc_session_closing() is true, further input is ignored.
 */
size_t sc_session_feed(struct sc_session *s, const char *in, size_t len, struct sc_buf *out);

/*
 * While a message body is being received, return free space at the end of
 * the message buffer for the next read, so that the bytes land where they
 * are kept and are not copied again. Returns false when the next bytes must
 * go through sc_session_feed instead: outside a body, for a chunk that is
 * being discarded, near the size limit, or when out of memory. Over TLS,
 * feed the decrypted bytes with sc_session_feed.
 */
bool sc_session_window(struct sc_session *s, char **at, size_t *len);

/*
 * Process n bytes that a read put at the start of the space from
 * sc_session_window, and append replies to out. Bytes after the end of the
 * body, and the start of a possible end marker, are appended to rest: feed
 * them with sc_session_feed before the next read. Returns 0, or -1 when out
 * of memory.
 */
int sc_session_feed_window(struct sc_session *s, size_t n, struct sc_buf *rest,
                           struct sc_buf *out);

/* Free the memory a finished message used, unless a body is being received.
 * Call it after the replies of a feed are sent, because freeing a large
 * message takes milliseconds, which would otherwise delay its 250. Without
 * it, a session reuses that memory for its next message and frees it in
 * sc_session_free. */
void sc_session_trim(struct sc_session *s);

/* Append a 421 reply with the given enhanced code and text, and mark the
 * session closing: for an idle timeout or a server stop. */
void sc_session_abort(struct sc_session *s, const char *code_and_text, struct sc_buf *out);

/* Return true once the session wants the connection closed after its
 * replies are sent: after QUIT, a 421, or an internal error. */
bool sc_session_closing(const struct sc_session *s);

/* Return true while a message body is being received, by DATA or BDAT. */
bool sc_session_in_data(const struct sc_session *s);

/* Return true when the DATA being received has a "." line next to a bare
 * LF: a client that ends its data that way waits for a reply forever. */
bool sc_session_saw_dot_line_bare_lf(const struct sc_session *s);

/* Return why a closing session closes, for logs: "quit", "server-stop",
 * "too-many-errors", or "error" for anything else. */
const char *sc_session_close_reason(const struct sc_session *s);

/* Make the next MAIL get 421 4.3.2 and close the session, because the server
 * is stopping. A transaction already under way still completes. */
void sc_session_set_draining(struct sc_session *s);

/* Return true once a STARTTLS got its 220 reply. From then on the session
 * consumes no input. The server discards every byte after the STARTTLS
 * line, because those bytes came in plaintext (the command injection bugs
 * of CVE-2011-0411). It then starts TLS and, after the handshake, calls
 * sc_session_tls_started. */
bool sc_session_wants_tls(const struct sc_session *s);

/*
 * Record that the connection now runs over TLS, with the protocol version
 * and cipher suite that messages report (both copied). The session returns
 * to the state right after the greeting: the HELO or EHLO name, the
 * transaction and the AUTH result are forgotten (RFC 3207 section 4.2). For
 * implicit TLS, call it after the handshake and before sc_session_greet.
 * Returns 0, or -1 when out of memory.
 */
int sc_session_tls_started(struct sc_session *s, const char *version, const char *cipher);

/* Set the client's address, reported with each message. Not copied: the
 * caller keeps it alive as long as the session. */
void sc_session_set_client(struct sc_session *s, const char *address, int port);

#ifdef __cplusplus
}
#endif

#endif
