/*
 * TLS for the server side of a connection, with OpenSSL 3 over memory BIOs.
 * It does no I/O and never blocks: the caller feeds it the bytes a client
 * sent, and it appends decrypted data and the bytes to send back to buffers.
 * The caller owns the socket, STARTTLS and the SMTP session.
 *
 * A context holds the certificate and key, loaded from PEM files or made in
 * memory at start-up, and is shared by every connection. A session is one
 * connection's TLS state.
 */
#ifndef SC_TLS_H
#define SC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Length of the fingerprint text: SHA-256 as 64 lowercase hex digits. */
#define SC_TLS_FINGERPRINT_LEN 64

/* Results of sc_tls_feed and sc_tls_write. sc_tls_error describes each
 * failure. After any failure but SC_TLS_ERR_STATE the session is dead, and
 * later calls return the same code. */
enum sc_tls_result {
    SC_TLS_OK = 0,
    SC_TLS_ERR_MEMORY = -1,     /* Out of memory. */
    SC_TLS_ERR_HANDSHAKE = -2,  /* Any failed handshake: not TLS, no shared version, an alert. */
    SC_TLS_ERR_PROTOCOL = -3,   /* A bad record or an alert after the handshake. */
    SC_TLS_ERR_STATE = -4,      /* A write before the handshake or after sc_tls_shutdown. */
};

/* The server's certificate, key and settings. Owns its OpenSSL context.
 * Sessions hold their own reference to that context, so the context may be
 * freed before them. */
struct sc_tls_context;

/*
 * Create a server context that accepts TLS 1.2 and later.
 *
 * With cert_file, load the PEM certificate chain from it (the server's
 * certificate first) and the PEM private key from key_file, or from
 * cert_file when key_file is NULL, and check that the key matches the
 * certificate. A key protected by a passphrase is rejected without a prompt,
 * because smtpcatch runs unattended.
 *
 * With both NULL, generate a self-signed certificate for CN=localhost with
 * the subject alternative names DNS:localhost, IP:127.0.0.1 and IP:::1, on
 * a new EC P-256 key, valid from a day ago to 800 days ahead. A client that
 * trusts exactly this certificate (the PEM text below, as a CA file) accepts
 * it for the host name localhost, 127.0.0.1 or ::1.
 *
 * Returns NULL on failure, with a message in err that names the file and
 * gives OpenSSL's reason.
 */
struct sc_tls_context *sc_tls_context_new(const char *cert_file, const char *key_file,
                                          char *err, size_t errlen);

void sc_tls_context_free(struct sc_tls_context *ctx);

/* Return the server's certificate (the first of a chain) as PEM text,
 * ending in a newline. The context owns the string. */
const char *sc_tls_context_cert_pem(const struct sc_tls_context *ctx);

/* Return the SHA-256 fingerprint of the server's certificate in DER form,
 * as SC_TLS_FINGERPRINT_LEN lowercase hex digits without colons. It equals
 * Python's hashlib.sha256(cert_der).hexdigest(). The context owns it. */
const char *sc_tls_context_fingerprint(const struct sc_tls_context *ctx);

/* One connection's TLS state. Owns its SSL object and both memory BIOs. */
struct sc_tls;

/* Create a session for a client whose first bytes are a ClientHello.
 * Returns NULL when out of memory. */
struct sc_tls *sc_tls_new(struct sc_tls_context *ctx);

/*
 * Pass bytes received from the client. Until the handshake is done they
 * drive it, and no plaintext comes out. Once it is done, the client's
 * application data is decrypted and appended to plaintext, including data
 * that came in the same bytes as the end of the handshake. Bytes that
 * OpenSSL wants to send (handshake records, alerts) are appended to
 * to_send, also on failure, so that the client gets the alert.
 *
 * Returns SC_TLS_OK (which includes "need more bytes") or a negative
 * enum sc_tls_result. Bytes that are not TLS, such as a plaintext EHLO,
 * give SC_TLS_ERR_HANDSHAKE. After the client's close_notify,
 * sc_tls_peer_closed is true and later bytes are ignored.
 */
int sc_tls_feed(struct sc_tls *tls, const char *ciphertext, size_t len,
                struct sc_buf *plaintext, struct sc_buf *to_send);

/* Encrypt application data (replies) and append the records to to_send.
 * Returns SC_TLS_OK, or SC_TLS_ERR_STATE before the handshake is done or
 * after sc_tls_shutdown, or another negative enum sc_tls_result. */
int sc_tls_write(struct sc_tls *tls, const char *plaintext, size_t len, struct sc_buf *to_send);

bool sc_tls_handshake_done(const struct sc_tls *tls);

/* True once the client has sent close_notify: the TLS form of end of file. */
bool sc_tls_peer_closed(const struct sc_tls *tls);

/* Return the protocol version, such as "TLSv1.3", or NULL before the
 * handshake is done. */
const char *sc_tls_version(const struct sc_tls *tls);

/* Return OpenSSL's name of the cipher suite, such as "TLS_AES_256_GCM_SHA384"
 * or "ECDHE-ECDSA-AES128-GCM-SHA256", or NULL before the handshake is done. */
const char *sc_tls_cipher(const struct sc_tls *tls);

/* Return a short description of the last failure for logs, such as
 * "handshake failed: wrong version number", or "" when there was none. */
const char *sc_tls_error(const struct sc_tls *tls);

/* Append a close_notify alert to to_send. Only the first call sends it, and
 * later writes return SC_TLS_ERR_STATE. Does nothing before the handshake is
 * done or after a failure. */
void sc_tls_shutdown(struct sc_tls *tls, struct sc_buf *to_send);

void sc_tls_free(struct sc_tls *tls);

#ifdef __cplusplus
}
#endif

#endif
