/*
 * The SMTP server: listening sockets, one connection per client, timers.
 * It moves bytes between libuv and one sc_session per connection and calls
 * the message-received hook for each complete message. It parses nothing.
 */
#ifndef SC_SERVER_H
#define SC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "message.h"
#include "session.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_MAX_LISTENERS 8
#define SC_DEFAULT_IDLE_TIMEOUT 300.0
#define SC_DEFAULT_MAX_CONNECTIONS 10000

/* Everything the server needs to know. Copied at sc_server_new; the strings
 * are borrowed and must outlive the server. */
struct sc_server_config {
    const char *host;           /* "localhost", an IP address or a host name. */
    int port;                   /* 0 lets the kernel pick a free port. */
    const char *hostname;       /* Name in the greeting and the EHLO reply. */
    struct sc_limits limits;
    double idle_timeout;        /* Seconds a client may stay silent; 0 for none. */
    size_t max_connections;     /* Sessions open at once; more get 421 4.7.0. 0: no limit. */
    bool verbose;               /* Log every command and reply on stderr. */

    /* TLS: NULL for none. With it, limits.starttls offers STARTTLS, or
     * implicit_tls starts TLS at accept and greets after the handshake. The
     * context is borrowed and must outlive the server. */
    struct sc_tls_context *tls_ctx;
    bool implicit_tls;

    /* Called once per complete message; see enum sc_verdict. Required. */
    enum sc_verdict (*on_message)(void *arg, struct sc_message *msg);
    void *arg;
};

struct sc_server;

/* Fill config with the defaults of the smtpcatch command: localhost on a
 * free port, the limits of sc_limits_init, SC_DEFAULT_IDLE_TIMEOUT and
 * SC_DEFAULT_MAX_CONNECTIONS, and no TLS. The caller sets on_message and
 * arg. Every field of a config made by hand must be set, since a zero
 * limit such as max_line rejects every command. */
void sc_server_config_init(struct sc_server_config *config);

struct sc_server *sc_server_new(uv_loop_t *loop, const struct sc_server_config *config);

/*
 * Bind and listen. For "localhost" both 127.0.0.1 and ::1 are bound on one
 * port; when the host has no IPv6 loopback only 127.0.0.1 is. A host name
 * binds every address it resolves to, on one port. Returns 0 or a negative
 * libuv error code; on error a message naming the address is in errbuf.
 */
int sc_server_listen(struct sc_server *srv, char *errbuf, size_t errlen);

int sc_server_port(const struct sc_server *srv);

/* Return the bound addresses as text ("127.0.0.1", "::1"), in bind order. */
const char *const *sc_server_addresses(const struct sc_server *srv, size_t *len);

/*
 * Stop: close the listeners at once, then let open sessions finish for up
 * to grace seconds (a new MAIL gets 421 4.3.2), then send 421 4.3.2 to the
 * rest and close them. done is called once every handle of the server is
 * closed; after that the server may be freed. A second call with grace 0
 * ends the first one's grace at once, and its done and arg are ignored.
 * It may be called from on_message: the message stays valid during the
 * call, and its client still gets the reply that the hook returns.
 */
void sc_server_stop(struct sc_server *srv, double grace, void (*done)(void *arg), void *arg);

/* Free the server. Call only before sc_server_listen or after stop's done. */
void sc_server_free(struct sc_server *srv);

#ifdef __cplusplus
}
#endif

#endif
