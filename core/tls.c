/*
 * Server-side TLS over OpenSSL 3 memory BIOs. A session's SSL object reads
 * the client's bytes from one memory BIO and writes the bytes to send into
 * another, so OpenSSL never touches the socket and never blocks: the caller
 * moves bytes between those BIOs and libuv.
 *
 * The context owns the certificate and key, either loaded from PEM files or
 * generated in memory: a self-signed EC P-256 certificate for localhost.
 */
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"

/* Apple's TLS clients (iOS 13, macOS 10.15 and later) reject a server
 * certificate valid for more than 825 days in all, so the certificate is
 * valid from a day ago, in case a clock is behind, to 800 days ahead. A
 * longer one would gain nothing, since every start makes a new key. */
#define CERT_DAYS_AHEAD 800
#define CERT_BACKDATE_SECONDS 86400
#define SERIAL_BITS 127             /* Random, positive, within RFC 5280's 20 octets. */

#define ERROR_LEN 320
#define REASON_LEN 128             /* OpenSSL's reason strings are short. */
#define FIRST_BYTES_LEN 16          /* Start of the input, quoted when it is not TLS. */
#define READ_CHUNK (16 * 1024)      /* One TLS record's plaintext at most. */

/* TLS record content type of a handshake message (RFC 8446 section 5.1). */
#define RECORD_TYPE_HANDSHAKE 22

struct sc_tls_context {
    SSL_CTX *ssl_ctx;
    char *cert_pem;
    char fingerprint[SC_TLS_FINGERPRINT_LEN + 1];
};

/* One connection's TLS state. The SSL object owns both BIOs, and rbio and
 * wbio borrow them. */
struct sc_tls {
    SSL *ssl;
    BIO *rbio;                  /* Bytes from the client, not yet read by OpenSSL. */
    BIO *wbio;                  /* Bytes OpenSSL wrote for the client, not yet drained. */
    int failure;                /* 0, or the enum sc_tls_result that ended the session. */
    bool handshake_done;
    bool peer_closed;
    bool shut_down;
    size_t first_bytes_len;
    char first_bytes[FIRST_BYTES_LEN + 1]; /* One more, to know that the quote is cut. */
    char error[ERROR_LEN];
};

/* ---- OpenSSL errors ---- */

/* Write the reason of the oldest error in OpenSSL's queue, which is the most
 * specific one, into dst and clear the queue. */
static void take_openssl_reason(char *dst, size_t size)
{
    unsigned long code = ERR_peek_error();
    const char *reason = ERR_reason_error_string(code);

    if (code == 0)
        snprintf(dst, size, "no reason given by OpenSSL");
    else if (reason == NULL)
        ERR_error_string_n(code, dst, size);
    else
        snprintf(dst, size, "%s", reason);
    ERR_clear_error();
}

/* Format err as "prefix: OpenSSL's reason". */
static void set_openssl_error(char *err, size_t errlen, const char *prefix)
{
    char reason[REASON_LEN];

    take_openssl_reason(reason, sizeof(reason));
    snprintf(err, errlen, "%s: %s", prefix, reason);
}

/* ---- The certificate made at start-up ---- */

static bool add_extension(X509 *cert, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
    bool ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    return ok;
}

/* Add the extensions that clients check on a server certificate. The key
 * identifiers are there because OpenSSL's strict mode (X509_V_FLAG_X509_STRICT,
 * the default in Python 3.13's ssl.create_default_context) wants them.
 * NOTE: Only OpenSSL 3.0 clients (C, Python 3.11, Node 20) were tried. */
static bool add_server_extensions(X509 *cert, EVP_PKEY *key)
{
    X509V3_CTX v3;

    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    if (X509V3_set_issuer_pkey(&v3, key) != 1)
        return false;

    return add_extension(cert, &v3, NID_basic_constraints, "critical,CA:FALSE") &&
           add_extension(cert, &v3, NID_key_usage, "critical,digitalSignature") &&
           add_extension(cert, &v3, NID_ext_key_usage, "serverAuth") &&
           add_extension(cert, &v3, NID_subject_alt_name,
                         "DNS:localhost,IP:127.0.0.1,IP:::1") &&
           add_extension(cert, &v3, NID_subject_key_identifier, "hash") &&
           add_extension(cert, &v3, NID_authority_key_identifier, "keyid:always");
}

static bool set_random_serial(X509 *cert)
{
    BIGNUM *bn = BN_new();
    bool ok = bn != NULL && BN_rand(bn, SERIAL_BITS, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
              BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;

    BN_free(bn);
    return ok;
}

static bool set_name_and_validity(X509 *cert)
{
    X509_NAME *name = X509_get_subject_name(cert);

    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)"smtpcatch", -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"localhost", -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, name) != 1)
        return false;

    return X509_gmtime_adj(X509_getm_notBefore(cert), -CERT_BACKDATE_SECONDS) != NULL &&
           X509_time_adj_ex(X509_getm_notAfter(cert), CERT_DAYS_AHEAD, 0, NULL) != NULL;
}

/* Build and sign a self-signed X.509 v3 certificate for localhost on key. */
static X509 *make_localhost_cert(EVP_PKEY *key)
{
    X509 *cert = X509_new();

    if (cert == NULL)
        return NULL;
    if (X509_set_version(cert, X509_VERSION_3) != 1 || !set_random_serial(cert) ||
        !set_name_and_validity(cert) || X509_set_pubkey(cert, key) != 1 ||
        !add_server_extensions(cert, key) || X509_sign(cert, key, EVP_sha256()) == 0) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* Give ssl_ctx a new P-256 key and a self-signed certificate for it. */
static bool use_generated_cert(SSL_CTX *ssl_ctx, char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = NULL;
    bool ok;

    if (key == NULL) {
        set_openssl_error(err, errlen, "cannot generate an EC P-256 key for TLS");
        return false;
    }
    cert = make_localhost_cert(key);
    ok = cert != NULL && SSL_CTX_use_certificate(ssl_ctx, cert) == 1 &&
         SSL_CTX_use_PrivateKey(ssl_ctx, key) == 1;
    if (!ok)
        set_openssl_error(err, errlen, "cannot make a self-signed TLS certificate");

    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

/* ---- Certificate and key files ---- */

/* Check that path can be opened and read, so that a missing file gets the
 * system's error text rather than OpenSSL's. */
static bool check_readable(const char *file_kind, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    int saved;

    if (f == NULL) {
        snprintf(err, errlen, "cannot open TLS %s %s: %s", file_kind, path, strerror(errno));
        return false;
    }
    (void)fgetc(f);
    saved = errno;
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read TLS %s %s: %s", file_kind, path, strerror(saved));
        fclose(f);
        return false;
    }
    fclose(f);
    return true;
}

/* A passphrase callback that records the request and supplies no passphrase,
 * because smtpcatch runs unattended and must not prompt on the terminal. */
static int supply_no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(bool *)userdata = true;
    return -1;
}

static EVP_PKEY *read_private_key(const char *path, char *err, size_t errlen)
{
    BIO *bio = BIO_new_file(path, "r");
    EVP_PKEY *key = NULL;
    bool passphrase_requested = false;
    char reason[REASON_LEN];
    unsigned long code;

    if (bio != NULL)
        key = PEM_read_bio_PrivateKey(bio, NULL, supply_no_passphrase, &passphrase_requested);
    BIO_free(bio);
    if (key != NULL)
        return key;

    /* OpenSSL 3's decoder reports a file without a usable key as "unsupported". */
    code = ERR_peek_error();
    take_openssl_reason(reason, sizeof(reason));
    if (passphrase_requested)
        snprintf(err, errlen, "cannot load TLS private key from %s: it is protected by a "
                 "passphrase, which smtpcatch cannot prompt for. Write it without one with "
                 "'openssl pkey -in %s -out NEWFILE'", path, path);
    else if (ERR_GET_LIB(code) == ERR_LIB_OSSL_DECODER && ERR_GET_REASON(code) == ERR_R_UNSUPPORTED)
        snprintf(err, errlen, "cannot load TLS private key from %s: no PEM private key in "
                 "the file. A certificate file without its key needs --tls-key KEYFILE", path);
    else
        snprintf(err, errlen, "cannot load TLS private key from %s: %s", path, reason);
    return NULL;
}

/* Load the certificate chain and key into ssl_ctx and check that they match. */
static bool use_cert_files(SSL_CTX *ssl_ctx, const char *cert_file, const char *key_file,
                           char *err, size_t errlen)
{
    EVP_PKEY *key;
    char reason[REASON_LEN];
    bool ok, no_pem;

    if (!check_readable("certificate file", cert_file, err, errlen) ||
        !check_readable("private key file", key_file, err, errlen))
        return false;
    if (SSL_CTX_use_certificate_chain_file(ssl_ctx, cert_file) != 1) {
        no_pem = ERR_GET_LIB(ERR_peek_error()) == ERR_LIB_PEM &&
                 ERR_GET_REASON(ERR_peek_error()) == PEM_R_NO_START_LINE;
        take_openssl_reason(reason, sizeof(reason));
        snprintf(err, errlen, "cannot load TLS certificate from %s: %s%s%s", cert_file,
                 no_pem ? "no PEM certificate in the file (OpenSSL: " : "", reason,
                 no_pem ? ")" : "");
        return false;
    }
    key = read_private_key(key_file, err, errlen);
    if (key == NULL)
        return false;

    ok = X509_check_private_key(SSL_CTX_get0_certificate(ssl_ctx), key) == 1;
    if (!ok) {
        take_openssl_reason(reason, sizeof(reason));
        snprintf(err, errlen, "TLS private key %s does not match the certificate in %s: %s",
                 key_file, cert_file, reason);
    } else if (SSL_CTX_use_PrivateKey(ssl_ctx, key) != 1) {
        ok = false;
        take_openssl_reason(reason, sizeof(reason));
        snprintf(err, errlen, "cannot use TLS private key %s: %s", key_file, reason);
    }
    EVP_PKEY_free(key);
    return ok;
}

/* ---- The context ---- */

/* Create an SSL_CTX with the server's settings, without a certificate. */
static SSL_CTX *new_server_ssl_ctx(char *err, size_t errlen)
{
    SSL_CTX *ssl_ctx = SSL_CTX_new(TLS_server_method());

    if (ssl_ctx == NULL) {
        set_openssl_error(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION) != 1) {
        set_openssl_error(err, errlen, "cannot set TLS 1.2 as the minimum version");
        SSL_CTX_free(ssl_ctx);
        return NULL;
    }

    /* NOTE: Sessions are never resumed. A test server lives for one test, so
     * tickets and a session cache would only cost bytes and memory. */
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ssl_ctx, 0);
    SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);

    /* Free the 16 KiB record buffers of an idle session. */
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    return ssl_ctx;
}

/* Store the PEM text and the fingerprint of the server's certificate. */
static bool describe_cert(struct sc_tls_context *ctx, char *err, size_t errlen)
{
    static const char hex[] = "0123456789abcdef";
    X509 *cert = SSL_CTX_get0_certificate(ctx->ssl_ctx);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long len;

    if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1 ||
        X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen * 2 != SC_TLS_FINGERPRINT_LEN) {
        BIO_free(bio);
        set_openssl_error(err, errlen, "cannot encode the TLS certificate");
        return false;
    }
    len = BIO_get_mem_data(bio, &pem);
    ctx->cert_pem = malloc((size_t)len + 1);
    if (ctx->cert_pem == NULL) {
        BIO_free(bio);
        snprintf(err, errlen, "out of memory for the TLS certificate");
        return false;
    }
    memcpy(ctx->cert_pem, pem, (size_t)len);
    ctx->cert_pem[len] = '\0';
    BIO_free(bio);

    for (i = 0; i < mdlen; i++) {
        ctx->fingerprint[2 * i] = hex[md[i] >> 4];
        ctx->fingerprint[2 * i + 1] = hex[md[i] & 15];
    }
    ctx->fingerprint[2 * mdlen] = '\0';
    return true;
}

struct sc_tls_context *sc_tls_context_new(const char *cert_file, const char *key_file,
                                          char *err, size_t errlen)
{
    struct sc_tls_context *ctx;
    bool ok;

    if (cert_file == NULL && key_file != NULL) {
        snprintf(err, errlen, "TLS private key %s was given without a certificate file",
                 key_file);
        return NULL;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        snprintf(err, errlen, "out of memory for the TLS context");
        return NULL;
    }
    ERR_clear_error();
    ctx->ssl_ctx = new_server_ssl_ctx(err, errlen);
    if (ctx->ssl_ctx == NULL) {
        free(ctx);
        return NULL;
    }

    if (cert_file == NULL)
        ok = use_generated_cert(ctx->ssl_ctx, err, errlen);
    else
        ok = use_cert_files(ctx->ssl_ctx, cert_file, key_file ? key_file : cert_file,
                            err, errlen);
    if (!ok || !describe_cert(ctx, err, errlen)) {
        sc_tls_context_free(ctx);
        return NULL;
    }
    return ctx;
}

void sc_tls_context_free(struct sc_tls_context *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx->cert_pem);
    free(ctx);
}

const char *sc_tls_context_cert_pem(const struct sc_tls_context *ctx)
{
    return ctx->cert_pem;
}

const char *sc_tls_context_fingerprint(const struct sc_tls_context *ctx)
{
    return ctx->fingerprint;
}

/* ---- Sessions ---- */

struct sc_tls *sc_tls_new(struct sc_tls_context *ctx)
{
    struct sc_tls *tls = calloc(1, sizeof(*tls));

    if (tls == NULL)
        return NULL;
    tls->ssl = SSL_new(ctx->ssl_ctx);
    tls->rbio = BIO_new(BIO_s_mem());
    tls->wbio = BIO_new(BIO_s_mem());
    if (tls->ssl == NULL || tls->rbio == NULL || tls->wbio == NULL) {
        BIO_free(tls->rbio);
        BIO_free(tls->wbio);
        SSL_free(tls->ssl);
        free(tls);
        ERR_clear_error();
        return NULL;
    }

    /* An empty BIO means "no bytes yet", not end of file. */
    BIO_set_mem_eof_return(tls->rbio, -1);
    BIO_set_mem_eof_return(tls->wbio, -1);
    SSL_set_bio(tls->ssl, tls->rbio, tls->wbio);
    SSL_set_accept_state(tls->ssl);
    return tls;
}

void sc_tls_free(struct sc_tls *tls)
{
    if (tls == NULL)
        return;
    SSL_free(tls->ssl);         /* Frees both BIOs too. */
    free(tls);
}

/* Latch result as the session's failure, described by text. */
static int fail(struct sc_tls *tls, int result, const char *text)
{
    tls->failure = result;
    snprintf(tls->error, sizeof(tls->error), "%s", text);
    return result;
}

/* Latch a failure that OpenSSL reported for the call that returned ret. */
static int fail_openssl(struct sc_tls *tls, int result, int ret)
{
    const char *stage = result == SC_TLS_ERR_HANDSHAKE ? "handshake failed" : "TLS error";
    int code = SSL_get_error(tls->ssl, ret);
    char reason[REASON_LEN], quoted[4 * FIRST_BYTES_LEN + 8];

    if (code == SSL_ERROR_SSL)
        take_openssl_reason(reason, sizeof(reason));
    else if (code == SSL_ERROR_ZERO_RETURN)
        snprintf(reason, sizeof(reason), "the client sent close_notify");
    else
        snprintf(reason, sizeof(reason), "SSL_get_error returned %d", code);
    ERR_clear_error();

    tls->failure = result;
    if (result == SC_TLS_ERR_HANDSHAKE && tls->first_bytes_len > 0 &&
        (unsigned char)tls->first_bytes[0] != RECORD_TYPE_HANDSHAKE) {
        /* A plaintext client on a TLS port is a common mistake, so quote its bytes. */
        sc_log_escape(quoted, tls->first_bytes, tls->first_bytes_len, FIRST_BYTES_LEN);
        snprintf(tls->error, sizeof(tls->error), "%s: %s (the client sent \"%s\", not a TLS "
                 "ClientHello)", stage, reason, quoted);
    } else {
        snprintf(tls->error, sizeof(tls->error), "%s: %s", stage, reason);
    }
    return result;
}

/* Move what OpenSSL wrote for the client into to_send. */
static int drain_output(struct sc_tls *tls, struct sc_buf *to_send)
{
    size_t pending, n;

    while ((pending = BIO_ctrl_pending(tls->wbio)) > 0) {
        if (sc_buf_reserve(to_send, pending) != 0)
            return SC_TLS_ERR_MEMORY;
        if (BIO_read_ex(tls->wbio, to_send->data + to_send->len, pending, &n) != 1)
            break;
        to_send->len += n;
    }
    return SC_TLS_OK;
}

static int continue_handshake(struct sc_tls *tls)
{
    int ret;

    ERR_clear_error();
    ret = SSL_do_handshake(tls->ssl);
    if (ret == 1) {
        tls->handshake_done = true;
        return SC_TLS_OK;
    }
    if (SSL_get_error(tls->ssl, ret) == SSL_ERROR_WANT_READ)
        return SC_TLS_OK;
    return fail_openssl(tls, SC_TLS_ERR_HANDSHAKE, ret);
}

/* Decrypt every complete record that is buffered into plaintext. */
static int read_records(struct sc_tls *tls, struct sc_buf *plaintext)
{
    size_t n;
    int code;

    for (;;) {
        if (sc_buf_reserve(plaintext, READ_CHUNK) != 0)
            return fail(tls, SC_TLS_ERR_MEMORY, "out of memory for decrypted data");
        ERR_clear_error();
        if (SSL_read_ex(tls->ssl, plaintext->data + plaintext->len,
                        plaintext->cap - plaintext->len, &n) == 1) {
            plaintext->len += n;
            continue;
        }
        code = SSL_get_error(tls->ssl, 0);
        if (code == SSL_ERROR_WANT_READ)
            return SC_TLS_OK;
        if (code == SSL_ERROR_ZERO_RETURN) {
            tls->peer_closed = true;
            return SC_TLS_OK;
        }
        return fail_openssl(tls, SC_TLS_ERR_PROTOCOL, 0);
    }
}

/* Remember the first bytes of the connection, for the error message when
 * they are not TLS. */
static void keep_first_bytes(struct sc_tls *tls, const char *bytes, size_t len)
{
    size_t n = sizeof(tls->first_bytes) - tls->first_bytes_len;

    if (n > len)
        n = len;
    memcpy(tls->first_bytes + tls->first_bytes_len, bytes, n);
    tls->first_bytes_len += n;
}

int sc_tls_feed(struct sc_tls *tls, const char *ciphertext, size_t len,
                struct sc_buf *plaintext, struct sc_buf *to_send)
{
    size_t written;
    int rc = SC_TLS_OK;

    if (tls->failure != 0)
        return tls->failure;
    if (tls->peer_closed)
        return SC_TLS_OK;       /* Bytes after close_notify mean nothing. */

    if (!tls->handshake_done && len > 0)
        keep_first_bytes(tls, ciphertext, len);
    if (len > 0 && BIO_write_ex(tls->rbio, ciphertext, len, &written) != 1)
        rc = fail(tls, SC_TLS_ERR_MEMORY, "out of memory for received TLS bytes");
    if (rc == SC_TLS_OK && !tls->handshake_done)
        rc = continue_handshake(tls);
    if (rc == SC_TLS_OK && tls->handshake_done)
        rc = read_records(tls, plaintext);

    if (drain_output(tls, to_send) != SC_TLS_OK && rc == SC_TLS_OK)
        rc = fail(tls, SC_TLS_ERR_MEMORY, "out of memory for TLS bytes to send");
    return rc;
}

int sc_tls_write(struct sc_tls *tls, const char *plaintext, size_t len, struct sc_buf *to_send)
{
    size_t done = 0, chunk, written;
    int ret;

    if (tls->failure != 0)
        return tls->failure;
    if (!tls->handshake_done || tls->shut_down)
        return SC_TLS_ERR_STATE;

    while (done < len) {
        chunk = len - done < INT_MAX ? len - done : INT_MAX;
        ERR_clear_error();
        ret = SSL_write_ex(tls->ssl, plaintext + done, chunk, &written);
        if (ret != 1) {
            fail_openssl(tls, SC_TLS_ERR_PROTOCOL, ret);
            break;
        }
        done += written;
    }

    if (drain_output(tls, to_send) != SC_TLS_OK && tls->failure == 0)
        return fail(tls, SC_TLS_ERR_MEMORY, "out of memory for TLS bytes to send");
    return tls->failure;
}

bool sc_tls_handshake_done(const struct sc_tls *tls)
{
    return tls->handshake_done;
}

bool sc_tls_peer_closed(const struct sc_tls *tls)
{
    return tls->peer_closed;
}

const char *sc_tls_version(const struct sc_tls *tls)
{
    return tls->handshake_done ? SSL_get_version(tls->ssl) : NULL;
}

const char *sc_tls_cipher(const struct sc_tls *tls)
{
    return tls->handshake_done ? SSL_get_cipher_name(tls->ssl) : NULL;
}

const char *sc_tls_error(const struct sc_tls *tls)
{
    return tls->error;
}

void sc_tls_shutdown(struct sc_tls *tls, struct sc_buf *to_send)
{
    if (tls->failure != 0 || !tls->handshake_done || tls->shut_down)
        return;
    tls->shut_down = true;

    /* SSL_shutdown returns 0 until the client's close_notify arrives. The
     * caller closes the connection without waiting for it. */
    ERR_clear_error();
    (void)SSL_shutdown(tls->ssl);
    ERR_clear_error();
    if (drain_output(tls, to_send) != SC_TLS_OK)
        fail(tls, SC_TLS_ERR_MEMORY, "out of memory for TLS bytes to send");
}
