/*
 * libuv glue for the SMTP server. Each connection owns a TCP handle, a timer
 * and one sc_session; it is freed only after both handles are closed. Reads
 * go into one buffer shared by all connections (libuv runs one read
 * callback at a time), so an idle session has no read buffer. Bytes that a
 * read leaves unparsed are copied into the connection's own buffer.
 *
 * With TLS, a connection also owns an sc_tls session, started at accept
 * (implicit TLS) or after the 220 reply to STARTTLS. Bytes read go through
 * it, and its plaintext lands in the connection's input buffer; replies are
 * encrypted on their way out.
 */
#include "server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#include "log.h"

#define READ_BUF_SIZE (64 * 1024)
#define LISTEN_BACKLOG 1024
#define BIND_ATTEMPTS 32

/* Stop reading from a client whose unsent replies pass this many bytes,
 * so a client that pipelines without reading cannot grow memory. */
#define MAX_QUEUED_OUTPUT (1024 * 1024)

/* After the last reply the write side is shut down and input is read and
 * discarded for up to this long, so closing does not reset the connection
 * while the client is still reading its last reply. A plaintext session
 * ended by QUIT with no input after it closes at once. While the server
 * stops, a client that does not read gets the shorter time. */
#define LINGER_MS 1000
#define STOP_LINGER_MS 100

/* At most this many ended sessions, with their last reply sent, wait for
 * their clients at once. Past it, the one that has waited longest is
 * closed, so a burst of ended sessions cannot use up the descriptors that
 * the CLI keeps free for clients that get a 421. */
#define LINGER_MAX 8

/* Bytes kept in a connection's input buffer between reads; more is freed. */
#define INPUT_BUF_KEEP (16 * 1024)

/* The reply, in place of the greeting, to a client over max_connections. */
#define TOO_MANY_CONNECTIONS "4.7.0 Too many connections, try again later"

/* The reply to open sessions when the server stops. */
#define SHUTTING_DOWN "4.3.2 Service shutting down, closing connection"

/* A client of implicit TLS over max_connections gets at most this long for
 * the handshake that precedes its 421. At most this many such handshakes
 * run at once, and a client past them is closed without the 421, so
 * clients turned away keep few descriptors, and not for long. */
#define OVER_LIMIT_HANDSHAKE_MS 10000
#define OVER_LIMIT_HANDSHAKES_MAX 8

/* A client of implicit TLS sends its ClientHello as soon as it connects,
 * while a plaintext SMTP client waits for a greeting. A client still silent
 * after this long (or the idle timeout, when that is shorter) is taken for
 * the second kind and gets a plaintext 421 that names the mismatch. */
#define CLIENT_HELLO_WAIT_MS 5000
#define PLAINTEXT_ON_TLS_PORT \
    "4.7.0 This port expects TLS from the first byte (implicit TLS): connect with TLS, " \
    "closing connection"

struct listener {
    uv_tcp_t tcp;               /* tcp.data points to the server. */
    char address[64];
};

/* A connected client. It owns tcp, timer, session, tls and the buffers, and
 * borrows srv, which outlives it. Only on_conn_closed frees it, after both
 * handles are closed. */
struct conn {
    uv_tcp_t tcp;               /* tcp.data and timer.data point to this struct. */
    uv_timer_t timer;           /* Idle timeout, then the linger time. */
    uv_shutdown_t shutdown_req;
    struct sc_server *srv;
    struct sc_session *session;
    struct sc_buf in;           /* Input a feed did not consume yet. */
    struct sc_buf out;          /* Replies not yet handed to libuv, or not yet encrypted. */
    struct sc_tls *tls;         /* NULL until implicit TLS or STARTTLS starts it. */
    struct sc_buf tls_out;      /* Encrypted bytes not yet handed to libuv. */
    bool tls_reported;          /* sc_session_tls_started was called. */
    uint64_t id;                /* The N of conn=N in log lines. */
    char address[64];
    int port;
    unsigned messages;
    int open_handles;
    bool reading_paused;
    bool shutting_down;         /* Last reply queued; input is discarded. */
    bool shutdown_done;         /* The write side is shut: every reply was sent. */
    bool eof;
    bool closing;
    bool counted;               /* Counted in srv->sessions_len. */
    bool no_linger;             /* Close as soon as the last reply is sent. */
    bool over_limit;            /* Implicit TLS over max_connections: 421 after the handshake. */
    bool client_spoke;          /* At least one byte arrived from the client. */
    bool abort_pending;         /* A stop at once came during this session's message callback. */
    const char *close_reason;
    struct conn *prev, *next;
    bool lingering;             /* In the linger list, waiting for the client to hang up. */
    struct conn *linger_prev, *linger_next;
};

struct write_req {
    uv_write_t req;
    char bytes[];
};

/* The server. It owns the listeners, the connections and the grace timer. */
struct sc_server {
    uv_loop_t *loop;
    struct sc_server_config cfg;

    struct listener *listeners[SC_MAX_LISTENERS];
    const char *addresses[SC_MAX_LISTENERS];
    size_t listeners_len;
    int port;

    struct conn *conns;
    size_t conns_len;
    struct conn *in_callback;   /* The connection whose message callback is running, or NULL. */
    size_t sessions_len;        /* Connections that got a greeting, not a 421. */
    uint64_t rejected_len;      /* Connections rejected by max_connections. */
    size_t over_limit_handshakes;   /* Open connections with over_limit set. */
    struct conn *linger_head;   /* Sessions waiting for their clients to hang up, oldest first. */
    struct conn *linger_tail;
    size_t lingering_len;
    uint64_t tls_failures_len;  /* Connections closed by a TLS failure. */
    uint64_t silent_tls_clients_len;    /* Implicit TLS clients that sent no ClientHello. */
    uint64_t next_conn_id;
    int open_handles;           /* Listeners and the grace timer not yet closed. */

    bool stopping;
    bool grace_timer_active;
    uv_timer_t grace_timer;
    void (*done)(void *arg);
    void *done_arg;

    char read_buf[READ_BUF_SIZE];
};

static void conn_flush(struct conn *c);
static void conn_finish(struct conn *c, const char *reason);
static void restart_idle_timer(struct conn *c);
static uint64_t over_limit_handshake_ms(const struct sc_server *srv);
static void abort_session(struct conn *c);
static void on_idle_timeout(uv_timer_t *timer);
static void conn_close(struct conn *c, const char *reason);
static void check_done(struct sc_server *srv);

static uint64_t ms_from_seconds(double seconds)
{
    double ms = seconds * 1000.0;

    if (ms < 1.0)
        return 1;
    if (ms > 1e15)
        return (uint64_t)1e15;
    return (uint64_t)ms;
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct sc_server *srv = handle->data;

    if (handle->type == UV_TCP)
        free(handle);           /* A listener; tcp is its first member. */
    else
        srv->grace_timer_active = false;
    srv->open_handles--;
    check_done(srv);
}

static void check_done(struct sc_server *srv)
{
    void (*done)(void *arg) = srv->done;

    if (!srv->stopping || srv->conns_len > 0)
        return;
    if (srv->grace_timer_active && !uv_is_closing((uv_handle_t *)&srv->grace_timer)) {
        uv_close((uv_handle_t *)&srv->grace_timer, on_handle_closed);
        return;
    }
    if (srv->open_handles > 0 || done == NULL)
        return;

    srv->done = NULL;
    done(srv->done_arg);
}

/* ---- Connections ---- */

static void on_conn_closed(uv_handle_t *handle)
{
    struct conn *c = handle->data;
    struct sc_server *srv = c->srv;

    if (--c->open_handles > 0)
        return;

    if (srv->cfg.verbose)
        sc_log("conn=%llu closed reason=%s messages=%u", (unsigned long long)c->id,
               c->close_reason, c->messages);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->conns_len--;
    if (c->counted)
        srv->sessions_len--;

    sc_session_free(c->session);
    sc_tls_free(c->tls);
    sc_buf_free(&c->in);
    sc_buf_free(&c->out);
    sc_buf_free(&c->tls_out);
    free(c);
    check_done(srv);
}

/* Stop counting c in sessions_len, the sessions that max_connections limits. */
static void uncount(struct conn *c)
{
    if (c->counted) {
        c->counted = false;
        c->srv->sessions_len--;
    }
}

static void linger_remove(struct conn *c)
{
    struct sc_server *srv = c->srv;

    if (c->linger_prev)
        c->linger_prev->linger_next = c->linger_next;
    else
        srv->linger_head = c->linger_next;
    if (c->linger_next)
        c->linger_next->linger_prev = c->linger_prev;
    else
        srv->linger_tail = c->linger_prev;
    c->lingering = false;
    srv->lingering_len--;
}

static void conn_close(struct conn *c, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->lingering)
        linger_remove(c);
    if (c->over_limit)
        c->srv->over_limit_handshakes--;
    if (c->close_reason == NULL)
        c->close_reason = reason;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void resume_reading(struct conn *c)
{
    c->reading_paused = false;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_linger_timeout(uv_timer_t *timer)
{
    conn_close(timer->data, "linger");
}

/* Return true when the kernel has no unread byte of the connection, so
 * closing it sends a FIN, not a reset. */
static bool kernel_input_empty(struct conn *c)
{
    uv_os_fd_t fd;
    int pending;

    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
        return false;
    return ioctl(fd, FIONREAD, &pending) == 0 && pending == 0;
}

/* Return true when a plaintext session ended by QUIT has no input left,
 * neither kept nor waiting in the kernel. RFC 5321 has the client send
 * nothing after QUIT, so waiting for it to hang up would only cost a
 * wake-up per connection. */
static bool quit_drained(struct conn *c)
{
    if (c->tls != NULL || c->in.len > 0 || c->close_reason == NULL ||
        strcmp(c->close_reason, "quit") != 0)
        return false;
    return kernel_input_empty(c);
}

static void linger_add(struct conn *c)
{
    struct sc_server *srv = c->srv;

    c->lingering = true;
    c->linger_prev = srv->linger_tail;
    c->linger_next = NULL;
    if (srv->linger_tail)
        srv->linger_tail->linger_next = c;
    else
        srv->linger_head = c;
    srv->linger_tail = c;
    srv->lingering_len++;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;

    c->shutdown_done = true;
    uncount(c);

    /* While the server stops, or for a connection rejected over the limit,
     * the server does not wait for the client to hang up. The last reply is
     * out, and waiting would only delay the exit or keep a descriptor. */
    if (status < 0 || c->eof || c->srv->stopping || c->no_linger || quit_drained(c)) {
        conn_close(c, c->close_reason);
        return;
    }

    linger_add(c);
    if (c->srv->lingering_len > LINGER_MAX)
        conn_close(c->srv->linger_head, c->srv->linger_head->close_reason);
}

/* Send what is left, then shut the write side and wait for the client to
 * close, up to LINGER_MS. */
static void conn_finish(struct conn *c, const char *reason)
{
    if (c->shutting_down || c->closing)
        return;
    c->shutting_down = true;
    c->close_reason = reason;

    /* Encrypt the last replies, then send close_notify after them. */
    if (c->tls != NULL) {
        conn_flush(c);
        sc_tls_shutdown(c->tls, &c->tls_out);
        conn_flush(c);
        if (c->closing)
            return;
    }

    /* A session whose last reply is in the kernel is over, so it no longer
     * counts against max_connections while its client hangs up; LINGER_MAX
     * bounds such sessions instead. One whose client does not read keeps
     * counting until on_shutdown, so clients that stop reading cannot hold
     * more descriptors than the limit allows. */
    if (c->tcp.write_queue_size == 0)
        uncount(c);

    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c, reason);
        return;
    }
    if (c->reading_paused)
        resume_reading(c);
    uv_timer_start(&c->timer, on_linger_timeout,
                   c->srv->stopping || c->no_linger ? STOP_LINGER_MS : LINGER_MS, 0);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;

    free(req);
    if (status < 0) {
        if (status != UV_ECANCELED)
            conn_close(c, "write-error");
        return;
    }
    if (c->reading_paused && c->tcp.write_queue_size < MAX_QUEUED_OUTPUT / 2 && !c->closing)
        resume_reading(c);
}

/* Log a TLS failure that closes a connection: the 1st, 2nd, 4th, 8th...
 * one, so a flood of bad clients cannot flood stderr. */
static void log_tls_failure(struct conn *c)
{
    struct sc_server *srv = c->srv;

    srv->tls_failures_len++;
    if ((srv->tls_failures_len & (srv->tls_failures_len - 1)) == 0)
        sc_log("conn=%llu tls error address=%s: %s; closing (TLS failures so far: %llu)",
               (unsigned long long)c->id, c->address, sc_tls_error(c->tls),
               (unsigned long long)srv->tls_failures_len);
}

/* Move the replies in c->out, encrypted, to c->tls_out. Before the handshake
 * is done they wait in c->out. Returns false after closing the connection. */
static bool encrypt_replies(struct conn *c)
{
    int rc;

    if (c->out.len == 0 || !sc_tls_handshake_done(c->tls))
        return true;

    rc = sc_tls_write(c->tls, c->out.data, c->out.len, &c->tls_out);
    sc_buf_clear(&c->out);
    if (rc == SC_TLS_OK || rc == SC_TLS_ERR_STATE)
        return true;            /* ERR_STATE: after close_notify nothing more is sent. */
    log_tls_failure(c);
    conn_close(c, "tls-error");
    return false;
}

/* Hand the pending bytes (replies, or TLS records) to the socket: directly
 * when it takes them, else through a queued write that owns a copy. */
static void conn_flush(struct conn *c)
{
    struct sc_buf *wire = &c->out;
    struct write_req *w;
    uv_buf_t buf;
    int n;

    if (c->closing)
        return;
    if (c->tls != NULL) {
        if (!encrypt_replies(c))
            return;
        wire = &c->tls_out;
    }
    if (wire->len == 0)
        return;

    buf = uv_buf_init(wire->data, (unsigned)wire->len);
    n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c, "write-error");
        return;
    }
    if (n > 0)
        sc_buf_consume(wire, (size_t)n);
    if (wire->len == 0)
        return;

    w = malloc(sizeof(*w) + wire->len);
    if (w == NULL) {
        sc_log("conn=%llu error: out of memory queueing %zu bytes of replies; closing",
               (unsigned long long)c->id, wire->len);
        conn_close(c, "out-of-memory");
        return;
    }
    memcpy(w->bytes, wire->data, wire->len);
    buf = uv_buf_init(w->bytes, (unsigned)wire->len);
    w->req.data = c;
    sc_buf_clear(wire);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
        free(w);
        conn_close(c, "write-error");
        return;
    }

    if (c->tcp.write_queue_size > MAX_QUEUED_OUTPUT && !c->reading_paused) {
        c->reading_paused = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

/* How long a client of implicit TLS may stay silent before it is taken for
 * a plaintext SMTP client. */
static uint64_t client_hello_wait_ms(const struct sc_server *srv)
{
    uint64_t idle = srv->cfg.idle_timeout > 0 ? ms_from_seconds(srv->cfg.idle_timeout)
                                              : CLIENT_HELLO_WAIT_MS;

    return idle < CLIENT_HELLO_WAIT_MS ? idle : CLIENT_HELLO_WAIT_MS;
}

/* Give a client of implicit TLS that sent nothing a plaintext 421, since it
 * is most likely a plaintext SMTP client waiting for a 220 greeting. Without
 * it, such a client would hang until its own timeout, if it has one. */
static void reject_silent_tls_client(struct conn *c)
{
    struct sc_server *srv = c->srv;

    srv->silent_tls_clients_len++;
    if ((srv->silent_tls_clients_len & (srv->silent_tls_clients_len - 1)) == 0)
        sc_log("conn=%llu address=%s sent no TLS ClientHello within %.3g s: it probably "
               "speaks plaintext SMTP and waits for a greeting, so it gets a plaintext 421. "
               "Make the client use TLS from the first byte (smtps://, SMTP_SSL), or run "
               "smtpcatch with --tls starttls (such clients so far: %llu)",
               (unsigned long long)c->id, c->address, client_hello_wait_ms(srv) / 1000.0,
               (unsigned long long)srv->silent_tls_clients_len);

    sc_tls_free(c->tls);
    c->tls = NULL;
    sc_session_abort(c->session, PLAINTEXT_ON_TLS_PORT, &c->out);
    conn_flush(c);
    conn_finish(c, "no-client-hello");
}

/* Handle the timer of a connection still in its TLS handshake. A reply
 * cannot reach such a client, unless it never started the handshake. */
static void on_handshake_timeout(struct conn *c)
{
    if (c->client_spoke || c->srv->stopping) {
        conn_finish(c, "idle-timeout");
        return;
    }

    /* A ClientHello that came just now, still unread, gets the usual time. */
    if (!kernel_input_empty(c)) {
        if (c->over_limit)
            uv_timer_start(&c->timer, on_idle_timeout, over_limit_handshake_ms(c->srv), 0);
        else
            restart_idle_timer(c);
        return;
    }
    reject_silent_tls_client(c);
}

static void on_idle_timeout(uv_timer_t *timer)
{
    struct conn *c = timer->data;

    if (c->tls != NULL && !sc_tls_handshake_done(c->tls)) {
        on_handshake_timeout(c);
        return;
    }
    if (sc_session_saw_dot_line_bare_lf(c->session))
        sc_log("conn=%llu idle timeout in message data after a \".\" line next to a bare "
               "LF: the client probably ends its data with LF.LF or LF.CRLF, but RFC 5321 "
               "ends it only at CRLF.CRLF", (unsigned long long)c->id);
    /* While the server stops, the stop is the reason the client should see. */
    if (c->srv->stopping) {
        abort_session(c);
        return;
    }
    sc_session_abort(c->session, "4.4.2 Idle timeout, closing connection", &c->out);
    conn_flush(c);
    conn_finish(c, "idle-timeout");
}

/* Start the idle timer over, or stop it without an idle timeout, since the
 * wait for a ClientHello may have started it. */
static void restart_idle_timer(struct conn *c)
{
    if (c->srv->cfg.idle_timeout > 0)
        uv_timer_start(&c->timer, on_idle_timeout, ms_from_seconds(c->srv->cfg.idle_timeout), 0);
    else
        uv_timer_stop(&c->timer);
}

/*
 * Start TLS after the 220 reply to STARTTLS went out in plaintext. Bytes the
 * client sent after the STARTTLS line are dropped unread: executing them
 * would let an attacker on the path inject plaintext commands into the
 * encrypted session (the STARTTLS command injection bugs, CVE-2011-0411).
 */
static void start_tls(struct conn *c)
{
    if (c->in.len > 0) {
        sc_log("conn=%llu discarded %zu bytes that the client sent after STARTTLS, before "
               "the TLS handshake", (unsigned long long)c->id, c->in.len);
        sc_buf_free(&c->in);
    }

    c->tls = sc_tls_new(c->srv->cfg.tls_ctx);
    if (c->tls == NULL) {
        sc_log("conn=%llu error: out of memory starting TLS; closing", (unsigned long long)c->id);
        conn_close(c, "out-of-memory");
    }
}

/* End a session because the server stops: after the replies it has, a 421. */
static void abort_session(struct conn *c)
{
    c->abort_pending = false;
    sc_session_abort(c->session, SHUTTING_DOWN, &c->out);
    conn_flush(c);
    conn_finish(c, "server-stop");
}

/* Tell the session that the handshake is done, and greet a client of
 * implicit TLS, or give it the 421 when it came over the connection limit.
 * Returns false after closing the connection. */
static bool report_handshake(struct conn *c)
{
    const char *version = sc_tls_version(c->tls), *cipher = sc_tls_cipher(c->tls);

    c->tls_reported = true;
    if (sc_session_tls_started(c->session, version, cipher) != 0) {
        sc_log("conn=%llu error: out of memory after the TLS handshake; closing",
               (unsigned long long)c->id);
        conn_close(c, "out-of-memory");
        return false;
    }
    if (c->srv->cfg.verbose)
        sc_log("conn=%llu tls started version=%s cipher=%s", (unsigned long long)c->id,
               version, cipher);
    if (c->over_limit)
        sc_session_abort(c->session, TOO_MANY_CONNECTIONS, &c->out);
    else if (c->srv->cfg.implicit_tls)
        sc_session_greet(c->session, c->srv->cfg.hostname, &c->out);
    return true;
}

/* Feed the bytes kept in c->in to the session and keep what it leaves. */
static void feed_kept_input(struct conn *c)
{
    size_t used = sc_session_feed(c->session, c->in.data, c->in.len, &c->out);

    sc_buf_consume(&c->in, used);
    if (c->in.len == 0 && c->in.cap > INPUT_BUF_KEEP)
        sc_buf_free(&c->in);
}

/* Decrypt bytes, feed the plaintext to the session, send its replies. A
 * failed handshake or record gets OpenSSL's alert, and the connection is
 * closed; close_notify from the client counts as end of file. */
static void conn_process_tls(struct conn *c, const char *bytes, size_t len)
{
    if (sc_tls_feed(c->tls, bytes, len, &c->in, &c->tls_out) != SC_TLS_OK) {
        log_tls_failure(c);
        sc_buf_clear(&c->out);
        c->no_linger = true;
        conn_flush(c);
        conn_finish(c, "tls-error");
        return;
    }
    if (!c->tls_reported && sc_tls_handshake_done(c->tls) && !report_handshake(c))
        return;

    if (c->in.len > 0)
        feed_kept_input(c);
    if (c->abort_pending) {
        abort_session(c);
        return;
    }

    conn_flush(c);
    if (c->closing)
        return;
    sc_session_trim(c->session);
    if (sc_session_closing(c->session))
        conn_finish(c, c->over_limit ? "too-many-connections"
                                     : sc_session_close_reason(c->session));
    else if (sc_tls_peer_closed(c->tls))
        conn_finish(c, sc_session_in_data(c->session) ? "eof-in-data" : "eof");
}

/* Send the replies of a feed, then start TLS or close when the session
 * requests it. */
static void conn_after_feed(struct conn *c)
{
    if (c->abort_pending) {
        abort_session(c);
        return;
    }
    conn_flush(c);
    if (c->closing)
        return;
    sc_session_trim(c->session);
    if (sc_session_wants_tls(c->session))
        start_tls(c);
    else if (sc_session_closing(c->session))
        conn_finish(c, sc_session_close_reason(c->session));
}

/* Feed bytes to the session, keep what it leaves, send its replies. */
static void conn_process(struct conn *c, const char *bytes, size_t len)
{
    size_t used;

    if (c->tls != NULL) {
        conn_process_tls(c, bytes, len);
        return;
    }
    if (c->in.len == 0) {
        used = sc_session_feed(c->session, bytes, len, &c->out);
        if (used < len && sc_buf_append(&c->in, bytes + used, len - used) != 0) {
            conn_close(c, "out-of-memory");
            return;
        }
    } else {
        if (sc_buf_append(&c->in, bytes, len) != 0) {
            conn_close(c, "out-of-memory");
            return;
        }
        feed_kept_input(c);
    }
    conn_after_feed(c);
}

/* Process n bytes that a read put into the session's window, then the
 * bytes after the body that the window feed kept in c->in. */
static void conn_process_window(struct conn *c, size_t n)
{
    if (sc_session_feed_window(c->session, n, &c->in, &c->out) != 0) {
        conn_close(c, "out-of-memory");
        return;
    }
    if (c->in.len > 0)
        feed_kept_input(c);
    conn_after_feed(c);
}

/* Read into the session's window while a plaintext body arrives, so its
 * bytes are not copied again. Other reads go to the buffer that all
 * connections share, because a read callback consumes or copies the bytes
 * before it returns. */
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = handle->data;
    char *window;
    size_t len;

    (void)suggested;
    if (c->tls == NULL && c->in.len == 0 && !c->shutting_down && !c->closing &&
        sc_session_window(c->session, &window, &len)) {
        *buf = uv_buf_init(window, (unsigned)len);
        return;
    }
    *buf = uv_buf_init(c->srv->read_buf, READ_BUF_SIZE);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;

    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        c->eof = true;
        if (c->shutdown_done)
            conn_close(c, c->close_reason);
        if (c->shutting_down)
            return;             /* Else on_shutdown closes once the replies are out. */
        if (nread != UV_EOF) {
            conn_close(c, "reset");
            return;
        }
        conn_finish(c, sc_session_in_data(c->session) ? "eof-in-data" : "eof");
        return;
    }
    if (c->shutting_down)
        return;

    c->client_spoke = true;
    if (!c->over_limit)
        restart_idle_timer(c);
    if (buf->base != c->srv->read_buf)
        conn_process_window(c, (size_t)nread);
    else
        conn_process(c, buf->base, (size_t)nread);
}

static enum sc_verdict conn_on_message(void *arg, struct sc_message *msg)
{
    struct conn *c = arg;
    enum sc_verdict verdict;

    c->srv->in_callback = c;
    verdict = c->srv->cfg.on_message(c->srv->cfg.arg, msg);
    c->srv->in_callback = NULL;

    if (verdict == SC_ACCEPT)
        c->messages++;
    return verdict;
}

static void conn_on_trace(void *arg, enum sc_trace_dir dir, const char *line, size_t len)
{
    struct conn *c = arg;
    char escaped[4 * 200 + 8];

    sc_log_escape(escaped, line, len, 200);
    sc_log("conn=%llu %s %s", (unsigned long long)c->id, dir == SC_TRACE_IN ? "<<<" : ">>>",
           escaped);
}

/* Format a socket address as text and port. */
static void name_address(const struct sockaddr_storage *ss, char *text, size_t size, int *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

        uv_ip6_name(a, text, size);
        *port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

        uv_ip4_name(a, text, size);
        *port = ntohs(a->sin_port);
    }
}

static struct conn *conn_new(struct sc_server *srv)
{
    struct sc_session_hooks hooks = {0};
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    hooks.on_message = conn_on_message;
    hooks.on_trace = srv->cfg.verbose ? conn_on_trace : NULL;
    hooks.arg = c;
    c->session = sc_session_new(&srv->cfg.limits, &hooks);
    if (c->session == NULL) {
        free(c);
        return NULL;
    }

    c->srv = srv;
    c->id = ++srv->next_conn_id;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;

    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->conns_len++;
    return c;
}

/* Start the TLS session of an implicit TLS connection. Returns false
 * after closing the connection. */
static bool start_implicit_tls(struct conn *c)
{
    c->tls = sc_tls_new(c->srv->cfg.tls_ctx);
    if (c->tls == NULL) {
        sc_log("conn=%llu error: out of memory starting TLS; closing", (unsigned long long)c->id);
        conn_close(c, "out-of-memory");
        return false;
    }
    return true;
}

/* Write the 421 of a connection over the limit and close it now, when the
 * socket takes the whole reply and the client has sent nothing yet. libuv
 * accepts connections in a loop until none is waiting, so a rejection that
 * waited for the next loop iteration to close could keep descriptors
 * through a burst of connections. Returns false, with what was written
 * removed from c->out, when the usual shutdown has to finish the job. */
static bool reject_at_once(struct conn *c)
{
    uv_buf_t reply = uv_buf_init(c->out.data, (unsigned int)c->out.len);
    int written;

    if (!kernel_input_empty(c))
        return false;
    written = uv_try_write((uv_stream_t *)&c->tcp, &reply, 1);
    if (written > 0)
        sc_buf_consume(&c->out, (size_t)written);
    if (c->out.len > 0)
        return false;
    conn_close(c, "too-many-connections");
    return true;
}

static uint64_t over_limit_handshake_ms(const struct sc_server *srv)
{
    uint64_t idle = srv->cfg.idle_timeout > 0 ? ms_from_seconds(srv->cfg.idle_timeout)
                                              : OVER_LIMIT_HANDSHAKE_MS;

    return idle < OVER_LIMIT_HANDSHAKE_MS ? idle : OVER_LIMIT_HANDSHAKE_MS;
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct sc_server *srv = listener->data;
    struct sockaddr_storage peer;
    int len = sizeof(peer);
    struct conn *c;

    if (status < 0) {
        sc_log("error: accept failed: %s", uv_strerror(status));
        return;
    }
    c = conn_new(srv);
    if (c == NULL) {
        sc_log("error: out of memory for a new connection; rejecting it");
        return;
    }
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, "accept-failed");
        return;
    }

    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len) == 0)
        name_address(&peer, c->address, sizeof(c->address), &c->port);
    sc_session_set_client(c->session, c->address, c->port);
    if (srv->cfg.verbose)
        sc_log("conn=%llu connected address=%s port=%d", (unsigned long long)c->id,
               c->address, c->port);

    /* Over the limit, the client gets a 421 in place of the greeting, as
     * RFC 5321 section 3.1 allows, and can retry later. */
    if (srv->cfg.max_connections > 0 && srv->sessions_len >= srv->cfg.max_connections) {
        /* Log the 1st, 2nd, 4th, 8th... rejection, so a flood cannot flood stderr. */
        srv->rejected_len++;
        if ((srv->rejected_len & (srv->rejected_len - 1)) == 0)
            sc_log("conn=%llu rejected: the session limit is reached (--max-connections "
                   "%zu); connections rejected so far: %llu", (unsigned long long)c->id,
                   srv->sessions_len, (unsigned long long)srv->rejected_len);
        c->no_linger = true;
        if (srv->cfg.implicit_tls) {
            /* A client of implicit TLS can read the 421 only after a
             * handshake. The connection does not count as a session, and
             * a handshake that stalls ends with the shorter timer. */
            if (srv->over_limit_handshakes >= OVER_LIMIT_HANDSHAKES_MAX) {
                conn_close(c, "too-many-connections");
                return;
            }
            c->over_limit = true;
            srv->over_limit_handshakes++;
            if (!start_implicit_tls(c))
                return;
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
            uv_timer_start(&c->timer, on_idle_timeout, over_limit_handshake_ms(srv), 0);
            return;
        }
        sc_session_abort(c->session, TOO_MANY_CONNECTIONS, &c->out);
        if (reject_at_once(c))
            return;
        conn_flush(c);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        conn_finish(c, "too-many-connections");
        return;
    }

    c->counted = true;
    srv->sessions_len++;
    if (srv->cfg.implicit_tls) {
        /* The greeting waits for the handshake: see report_handshake. The
         * first bytes start the usual idle timer. */
        if (!start_implicit_tls(c))
            return;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        uv_timer_start(&c->timer, on_idle_timeout, client_hello_wait_ms(srv), 0);
        return;
    }
    sc_session_greet(c->session, srv->cfg.hostname, &c->out);
    conn_flush(c);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    restart_idle_timer(c);
}

/* ---- Listening ---- */

static void close_listener(struct sc_server *srv, struct listener *l)
{
    (void)srv;
    uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
}

/* Bind one address and listen on it. Returns 0 or a libuv error code; on
 * success the listener is added to srv and *port is the port bound. */
static int bind_one(struct sc_server *srv, const struct sockaddr *sa, int *port)
{
    struct listener *l;
    struct sockaddr_storage name;
    int len = sizeof(name), rc;
    unsigned flags = sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;

    if (srv->listeners_len == SC_MAX_LISTENERS)
        return UV_ENOBUFS;
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return UV_ENOMEM;
    uv_tcp_init(srv->loop, &l->tcp);
    l->tcp.data = srv;
    srv->open_handles++;

    rc = uv_tcp_bind(&l->tcp, sa, flags);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&name, &len);
    if (rc != 0) {
        close_listener(srv, l);
        return rc;
    }

    name_address(&name, l->address, sizeof(l->address), port);
    srv->listeners[srv->listeners_len] = l;
    srv->addresses[srv->listeners_len] = l->address;
    srv->listeners_len++;
    return 0;
}

static void close_all_listeners(struct sc_server *srv)
{
    size_t i;

    for (i = 0; i < srv->listeners_len; i++)
        close_listener(srv, srv->listeners[i]);
    srv->listeners_len = 0;
}

/*
 * Bind 127.0.0.1 and ::1 on one port. With port 0 the kernel picks the IPv4
 * port, and when that port is taken on ::1 the pair is tried again. A host
 * without IPv6 loopback gets IPv4 only.
 */
static int listen_localhost(struct sc_server *srv, char *errbuf, size_t errlen)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    int attempt, rc, port = srv->cfg.port;

    for (attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
        uv_ip4_addr("127.0.0.1", srv->cfg.port, &v4);
        rc = bind_one(srv, (const struct sockaddr *)&v4, &port);
        if (rc != 0) {
            snprintf(errbuf, errlen, "cannot listen on 127.0.0.1 port %d: %s", srv->cfg.port,
                     uv_strerror(rc));
            return rc;
        }

        uv_ip6_addr("::1", port, &v6);
        rc = bind_one(srv, (const struct sockaddr *)&v6, &port);
        if (rc == 0 || rc == UV_EADDRNOTAVAIL || rc == UV_EAFNOSUPPORT) {
            srv->port = port;
            return 0;
        }
        if (rc != UV_EADDRINUSE || srv->cfg.port != 0) {
            snprintf(errbuf, errlen, "cannot listen on [::1] port %d: %s", port, uv_strerror(rc));
            close_all_listeners(srv);
            return rc;
        }
        close_all_listeners(srv);
        port = 0;
    }
    snprintf(errbuf, errlen, "cannot find a port free on both 127.0.0.1 and ::1 after %d attempts",
             BIND_ATTEMPTS);
    return UV_EADDRINUSE;
}

/* Bind every address that host resolves to, all on the port of the first. */
static int listen_resolved(struct sc_server *srv, char *errbuf, size_t errlen)
{
    uv_getaddrinfo_t req;
    struct addrinfo hints = {0}, *ai;
    int rc, port = srv->cfg.port;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = uv_getaddrinfo(srv->loop, &req, NULL, srv->cfg.host, "0", &hints);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot resolve listen address %s: %s", srv->cfg.host,
                 uv_strerror(rc));
        return rc;
    }

    for (ai = req.addrinfo; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)port);
        else if (ai->ai_family == AF_INET6)
            ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)port);
        else
            continue;
        rc = bind_one(srv, ai->ai_addr, &port);
        if (rc != 0) {
            snprintf(errbuf, errlen, "cannot listen on %s port %d: %s", srv->cfg.host, port,
                     uv_strerror(rc));
            close_all_listeners(srv);
            break;
        }
    }
    uv_freeaddrinfo(req.addrinfo);
    if (rc == 0 && srv->listeners_len == 0) {
        snprintf(errbuf, errlen, "listen address %s resolves to no IPv4 or IPv6 address",
                 srv->cfg.host);
        rc = UV_EADDRNOTAVAIL;
    }
    srv->port = port;
    return rc;
}

int sc_server_listen(struct sc_server *srv, char *errbuf, size_t errlen)
{
    struct sockaddr_storage ss;
    const char *host = srv->cfg.host;
    int rc, port = srv->cfg.port;

    if (host == NULL || strcasecmp(host, "localhost") == 0)
        return listen_localhost(srv, errbuf, errlen);

    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
        rc = bind_one(srv, (const struct sockaddr *)&ss, &port);
        if (rc != 0)
            snprintf(errbuf, errlen, "cannot listen on %s port %d: %s", host, port,
                     uv_strerror(rc));
        srv->port = port;
        return rc;
    }
    return listen_resolved(srv, errbuf, errlen);
}

/* ---- Lifetime ---- */

void sc_server_config_init(struct sc_server_config *config)
{
    memset(config, 0, sizeof(*config));
    config->host = "localhost";
    config->hostname = "localhost";
    sc_limits_init(&config->limits);
    config->idle_timeout = SC_DEFAULT_IDLE_TIMEOUT;
    config->max_connections = SC_DEFAULT_MAX_CONNECTIONS;
}

struct sc_server *sc_server_new(uv_loop_t *loop, const struct sc_server_config *config)
{
    struct sc_server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return NULL;
    srv->loop = loop;
    srv->cfg = *config;
    if (srv->cfg.hostname == NULL)
        srv->cfg.hostname = "localhost";
    return srv;
}

int sc_server_port(const struct sc_server *srv)
{
    return srv->port;
}

const char *const *sc_server_addresses(const struct sc_server *srv, size_t *len)
{
    *len = srv->listeners_len;
    return srv->addresses;
}

/* Give every open session the 421 of a stop and end it. The session whose
 * message callback called for the stop is ended once its feed returns (see
 * conn_after_feed), since aborting it now would reset the message that the
 * callback is reading. */
static void abort_all(struct sc_server *srv)
{
    struct conn *c, *next;

    for (c = srv->conns; c != NULL; c = next) {
        next = c->next;
        if (c->shutting_down || c->closing)
            continue;
        if (c == srv->in_callback) {
            c->abort_pending = true;
            continue;
        }
        abort_session(c);
    }
}

static void on_grace_timeout(uv_timer_t *timer)
{
    struct sc_server *srv = timer->data;

    abort_all(srv);
    uv_close((uv_handle_t *)&srv->grace_timer, on_handle_closed);
}

void sc_server_stop(struct sc_server *srv, double grace, void (*done)(void *arg), void *arg)
{
    struct conn *c, *next;

    if (srv->stopping) {
        if (grace <= 0 && srv->grace_timer_active &&
            !uv_is_closing((uv_handle_t *)&srv->grace_timer)) {
            uv_timer_stop(&srv->grace_timer);
            on_grace_timeout(&srv->grace_timer);
        }
        return;
    }
    srv->stopping = true;
    srv->done = done;
    srv->done_arg = arg;
    close_all_listeners(srv);

    for (c = srv->conns; c != NULL; c = next) {
        next = c->next;
        sc_session_set_draining(c->session);
        if (c->shutdown_done)
            conn_close(c, c->close_reason);
    }

    if (grace > 0 && srv->conns_len > 0) {
        uv_timer_init(srv->loop, &srv->grace_timer);
        srv->grace_timer.data = srv;
        srv->grace_timer_active = true;
        srv->open_handles++;
        uv_timer_start(&srv->grace_timer, on_grace_timeout, ms_from_seconds(grace), 0);
    } else {
        abort_all(srv);
    }
    check_done(srv);
}

void sc_server_free(struct sc_server *srv)
{
    free(srv);
}
