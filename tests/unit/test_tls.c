/*
 * Tests of server-side TLS (core/tls.c), all in memory. A client SSL object
 * of the test's own, which trusts exactly the server's certificate and
 * verifies the host name as Python's ssl module does, talks to an sc_tls
 * session. The test moves the bytes between them whole, byte by byte or in
 * random pieces.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "suites.h"
#include "tls.h"

#define MAX_ROUNDS 20           /* Flights in a handshake, with room to spare. */
#define RANDOM_SEEDS 20

/* How bytes are cut on their way between client and server. */
enum cut {
    CUT_WHOLE,                  /* Everything pending, in one piece. */
    CUT_BYTES,                  /* One byte at a time. */
    CUT_RANDOM,                 /* Pieces of random length. */
};

/* What the test client is, as in a Python ssl.SSLContext. */
struct client_profile {
    int min_version;            /* 0 for OpenSSL's default. */
    int max_version;
    const char *host;           /* Name or IP address to verify. */
    unsigned long verify_flags; /* X509_V_FLAG_..., added to the defaults. */
    const char *cipher_list;    /* NULL for OpenSSL's default. */
};

/* Python 3.13's ssl.create_default_context() adds these verify flags, and
 * 3.11 and 3.12 add none. */
#define PYTHON_313_FLAGS (X509_V_FLAG_X509_STRICT | X509_V_FLAG_PARTIAL_CHAIN)

/* The client end. It owns ctx and ssl, and ssl owns both BIOs. */
struct client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio;                  /* Bytes from the server, not yet read. */
    BIO *wbio;                  /* Bytes for the server, not yet moved. */
    bool failed;
    char error[256];
};

/* A client and a server session, and the bytes between them. Owns all. */
struct pair {
    struct client client;
    struct sc_tls *server;
    struct sc_buf plaintext;    /* Decrypted by the server. */
    struct sc_buf to_send;      /* Written by the server, not yet moved. */
    int server_rc;              /* The first failure of sc_tls_feed, else 0. */
    enum cut cut;
    uint32_t rng;
    unsigned feeds;
};

/* Created once per test case, before Check forks each test. */
static struct sc_tls_context *shared_ctx;

static void shared_ctx_setup(void)
{
    char err[512];

    shared_ctx = sc_tls_context_new(NULL, NULL, err, sizeof(err));
    if (shared_ctx == NULL) {
        fprintf(stderr, "test_tls: cannot create the shared context: %s\n", err);
        abort();
    }
}

static void shared_ctx_teardown(void)
{
    sc_tls_context_free(shared_ctx);
    shared_ctx = NULL;
}

static uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;        /* xorshift32: the same pieces for the same seed. */

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* ---- The client ---- */

static void take_client_error(struct client *c, const char *stage)
{
    unsigned long code = ERR_peek_error();
    long verify = SSL_get_verify_result(c->ssl);

    c->failed = true;
    snprintf(c->error, sizeof(c->error), "%s: %s, verify result: %s", stage,
             code ? ERR_reason_error_string(code) : "no OpenSSL error",
             X509_verify_cert_error_string(verify));
    ERR_clear_error();
}

/* Add every certificate in the PEM text to the client's trust store. */
static void trust_pem(SSL_CTX *ctx, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert;
    int added = 0;

    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        ck_assert_int_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert), 1);
        X509_free(cert);
        added++;
    }
    ERR_clear_error();
    BIO_free(bio);
    ck_assert_int_gt(added, 0);
}

static void client_init(struct client *c, const char *trusted_pem,
                        const struct client_profile *profile)
{
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, profile->host, ip) == 1 ||
                 inet_pton(AF_INET6, profile->host, ip) == 1;

    memset(c, 0, sizeof(*c));
    c->ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(c->ctx);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    trust_pem(c->ctx, trusted_pem);
    if (profile->min_version)
        ck_assert_int_eq(SSL_CTX_set_min_proto_version(c->ctx, profile->min_version), 1);
    if (profile->max_version)
        ck_assert_int_eq(SSL_CTX_set_max_proto_version(c->ctx, profile->max_version), 1);
    if (profile->cipher_list)
        ck_assert_int_eq(SSL_CTX_set_cipher_list(c->ctx, profile->cipher_list), 1);
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(c->ctx), profile->verify_flags);

    c->ssl = SSL_new(c->ctx);
    ck_assert_ptr_nonnull(c->ssl);
    if (is_ip) {
        ck_assert_int_eq(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), profile->host), 1);
    } else {
        ck_assert_int_eq(SSL_set1_host(c->ssl, profile->host), 1);
        ck_assert_int_eq(SSL_set_tlsext_host_name(c->ssl, profile->host), 1);
    }
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(c->rbio, -1);
    BIO_set_mem_eof_return(c->wbio, -1);
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
}

static void client_free(struct client *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
}

/* Advance the client's handshake with the bytes it has. */
static void client_step(struct client *c)
{
    int ret;

    if (c->failed || SSL_is_init_finished(c->ssl))
        return;
    ERR_clear_error();
    ret = SSL_do_handshake(c->ssl);
    if (ret != 1 && SSL_get_error(c->ssl, ret) != SSL_ERROR_WANT_READ)
        take_client_error(c, "client handshake failed");
}

/* ---- The pair ---- */

static void pair_init(struct pair *p, struct sc_tls_context *ctx, const char *trusted_pem,
                      const struct client_profile *profile, enum cut cut, uint32_t seed)
{
    memset(p, 0, sizeof(*p));
    client_init(&p->client, trusted_pem, profile);
    p->server = sc_tls_new(ctx);
    ck_assert_ptr_nonnull(p->server);
    p->cut = cut;
    p->rng = seed ? seed : 1;
}

static void pair_free(struct pair *p)
{
    client_free(&p->client);
    sc_tls_free(p->server);
    sc_buf_free(&p->plaintext);
    sc_buf_free(&p->to_send);
}

static size_t next_piece(struct pair *p, size_t left)
{
    uint32_t r;

    if (p->cut == CUT_WHOLE)
        return left;
    if (p->cut == CUT_BYTES)
        return 1;
    r = next_random(&p->rng);
    if (r & 1)                  /* Half the pieces are small, to cut record headers. */
        return 1 + (r >> 1) % (left < 8 ? left : 8);
    return 1 + (r >> 1) % left;
}

/* Feed one piece to the server and check that no plaintext comes out
 * before its handshake is done. */
static void feed_server(struct pair *p, const char *bytes, size_t len)
{
    int rc = sc_tls_feed(p->server, bytes, len, &p->plaintext, &p->to_send);

    p->feeds++;
    if (rc != SC_TLS_OK && p->server_rc == SC_TLS_OK)
        p->server_rc = rc;
    if (!sc_tls_handshake_done(p->server))
        ck_assert_uint_eq(p->plaintext.len, 0);
}

/* Move every byte the client wrote to the server, in pieces. */
static void client_to_server(struct pair *p)
{
    struct sc_buf bytes = {0};
    size_t pending, n, off, piece;

    while ((pending = BIO_ctrl_pending(p->client.wbio)) > 0) {
        ck_assert_int_eq(sc_buf_reserve(&bytes, pending), 0);
        ck_assert_int_eq(BIO_read_ex(p->client.wbio, bytes.data + bytes.len, pending, &n), 1);
        bytes.len += n;
    }
    for (off = 0; off < bytes.len; off += piece) {
        piece = next_piece(p, bytes.len - off);
        feed_server(p, bytes.data + off, piece);
    }
    sc_buf_free(&bytes);
}

/* Move every byte the server wrote to the client, in pieces, and let the
 * client's handshake see each piece on its own. */
static void server_to_client(struct pair *p)
{
    size_t off, piece, n;

    for (off = 0; off < p->to_send.len; off += piece) {
        piece = next_piece(p, p->to_send.len - off);
        ck_assert_int_eq(BIO_write_ex(p->client.rbio, p->to_send.data + off, piece, &n), 1);
        client_step(&p->client);
    }
    sc_buf_clear(&p->to_send);
}

static bool pair_idle(struct pair *p)
{
    return BIO_ctrl_pending(p->client.wbio) == 0 && p->to_send.len == 0;
}

/* Run the handshake until both ends are done, either end fails, or
 * MAX_ROUNDS flights pass. A failed client's alert still reaches the server. */
static void pair_handshake(struct pair *p)
{
    int round;

    for (round = 0; round < MAX_ROUNDS; round++) {
        client_step(&p->client);
        client_to_server(p);
        server_to_client(p);
        if (p->client.failed) {
            client_to_server(p);
            return;
        }
        if (p->server_rc != SC_TLS_OK)
            return;
        if (SSL_is_init_finished(p->client.ssl) && sc_tls_handshake_done(p->server) &&
            pair_idle(p))
            return;
    }
}

/* Run the handshake and check that both ends finished it. */
static void pair_handshake_ok(struct pair *p)
{
    pair_handshake(p);
    ck_assert_msg(!p->client.failed, "%s", p->client.error);
    ck_assert_msg(p->server_rc == SC_TLS_OK, "server: %s", sc_tls_error(p->server));
    ck_assert(SSL_is_init_finished(p->client.ssl));
    ck_assert(sc_tls_handshake_done(p->server));
    ck_assert_int_eq(SSL_get_verify_result(p->client.ssl), X509_V_OK);
}

/* Read everything the server sent into out. Returns SSL_get_error's code
 * for the last read: SSL_ERROR_WANT_READ when all was read. */
static int client_receive(struct pair *p, struct sc_buf *out)
{
    size_t n;
    int ret;

    server_to_client(p);
    for (;;) {
        ck_assert_int_eq(sc_buf_reserve(out, 16 * 1024), 0);
        ERR_clear_error();
        ret = SSL_read_ex(p->client.ssl, out->data + out->len, out->cap - out->len, &n);
        if (ret != 1)
            return SSL_get_error(p->client.ssl, ret);
        out->len += n;
    }
}

static void client_send(struct pair *p, const char *data, size_t len)
{
    size_t written;

    ck_assert_int_eq(SSL_write_ex(p->client.ssl, data, len, &written), 1);
    ck_assert_uint_eq(written, len);
    client_to_server(p);
}

/* Send an SMTP-like exchange both ways and check each side got it intact. */
static void pair_talk(struct pair *p)
{
    static const char greeting[] = "220 localhost ESMTP smtpcatch\r\n";
    static const char ehlo[] = "EHLO client.example\r\n";
    struct sc_buf received = {0};

    ck_assert_int_eq(sc_tls_write(p->server, greeting, strlen(greeting), &p->to_send), 0);
    ck_assert_uint_gt(p->to_send.len, strlen(greeting));
    ck_assert_int_eq(client_receive(p, &received), SSL_ERROR_WANT_READ);
    ck_assert_uint_eq(received.len, strlen(greeting));
    ck_assert(memcmp(received.data, greeting, received.len) == 0);

    client_send(p, ehlo, strlen(ehlo));
    ck_assert_int_eq(p->server_rc, SC_TLS_OK);
    ck_assert_uint_eq(p->plaintext.len, strlen(ehlo));
    ck_assert(memcmp(p->plaintext.data, ehlo, p->plaintext.len) == 0);
    sc_buf_free(&received);
}

/* ---- Handshakes ---- */

struct handshake_case {
    const char *version;        /* Expected sc_tls_version. */
    struct client_profile profile;
    enum cut cut;
};

static const struct handshake_case handshake_cases[] = {
    {"TLSv1.3", {0, 0, "localhost", 0, NULL}, CUT_WHOLE},
    {"TLSv1.3", {0, 0, "127.0.0.1", 0, NULL}, CUT_WHOLE},
    {"TLSv1.3", {0, 0, "::1", 0, NULL}, CUT_WHOLE},
    {"TLSv1.3", {0, 0, "localhost", PYTHON_313_FLAGS, NULL}, CUT_WHOLE},
    {"TLSv1.3", {0, 0, "127.0.0.1", X509_V_FLAG_X509_STRICT, NULL}, CUT_WHOLE},
    {"TLSv1.3", {0, 0, "localhost", 0, NULL}, CUT_BYTES},
    {"TLSv1.3", {0, 0, "127.0.0.1", PYTHON_313_FLAGS, NULL}, CUT_BYTES},
    {"TLSv1.2", {0, TLS1_2_VERSION, "localhost", 0, NULL}, CUT_WHOLE},
    {"TLSv1.2", {0, TLS1_2_VERSION, "127.0.0.1", PYTHON_313_FLAGS, NULL}, CUT_WHOLE},
    {"TLSv1.2", {0, TLS1_2_VERSION, "::1", 0, NULL}, CUT_WHOLE},
    {"TLSv1.2", {0, TLS1_2_VERSION, "localhost", X509_V_FLAG_X509_STRICT, NULL}, CUT_BYTES},
    {"TLSv1.2", {0, TLS1_2_VERSION, "127.0.0.1", 0, NULL}, CUT_BYTES},
};

/* Handshake and talk, with each client profile, host name and cut. */
START_TEST(test_tls_handshake_cases)
{
    const struct handshake_case *hc = &handshake_cases[_i];
    struct pair p;

    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &hc->profile, hc->cut, 0);
    pair_handshake_ok(&p);

    ck_assert_str_eq(sc_tls_version(p.server), hc->version);
    ck_assert_str_eq(sc_tls_version(p.server), SSL_get_version(p.client.ssl));
    ck_assert_ptr_nonnull(sc_tls_cipher(p.server));
    ck_assert_str_eq(sc_tls_cipher(p.server), SSL_get_cipher_name(p.client.ssl));
    ck_assert_str_eq(sc_tls_error(p.server), "");
    if (hc->cut == CUT_BYTES)
        ck_assert_uint_gt(p.feeds, 100);
    pair_talk(&p);
    pair_free(&p);
}
END_TEST

/* Handshake and talk with the bytes cut at random; _i is the seed. Even
 * seeds use TLS 1.3, odd ones TLS 1.2. */
START_TEST(test_tls_handshake_random_pieces)
{
    struct client_profile profile = {0, 0, "localhost", PYTHON_313_FLAGS, NULL};
    struct pair p;

    if (_i % 2)
        profile.max_version = TLS1_2_VERSION;
    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &profile, CUT_RANDOM,
              (uint32_t)_i * 2654435761u);
    pair_handshake_ok(&p);

    ck_assert_str_eq(sc_tls_version(p.server), _i % 2 ? "TLSv1.2" : "TLSv1.3");
    pair_talk(&p);
    pair_free(&p);
}
END_TEST

/* Application data that follows the client's Finished in the same bytes
 * comes out of the feed that completes the handshake. */
START_TEST(test_tls_data_with_finished)
{
    static const char ehlo[] = "EHLO client.example\r\n";
    struct client_profile profile = {0, 0, "localhost", 0, NULL};
    struct pair p;
    size_t written;

    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &profile, CUT_WHOLE, 0);
    client_step(&p.client);
    client_to_server(&p);       /* ClientHello */
    server_to_client(&p);       /* ServerHello to server Finished */
    ck_assert(SSL_is_init_finished(p.client.ssl));
    ck_assert(!sc_tls_handshake_done(p.server));

    ck_assert_int_eq(SSL_write_ex(p.client.ssl, ehlo, strlen(ehlo), &written), 1);
    client_to_server(&p);       /* Client Finished and the EHLO record, in one feed. */

    ck_assert_int_eq(p.server_rc, SC_TLS_OK);
    ck_assert_uint_eq(p.feeds, 2);
    ck_assert(sc_tls_handshake_done(p.server));
    ck_assert_uint_eq(p.plaintext.len, strlen(ehlo));
    ck_assert(memcmp(p.plaintext.data, ehlo, p.plaintext.len) == 0);
    pair_free(&p);
}
END_TEST

/* Move 1 MiB from the client and 256 KiB from the server, many records
 * each, cut at random. */
START_TEST(test_tls_large_data)
{
    struct client_profile profile = {0, 0, "localhost", 0, NULL};
    size_t up_len = 1024 * 1024, down_len = 256 * 1024, i;
    char *up = malloc(up_len), *down = malloc(down_len);
    struct sc_buf received = {0};
    struct pair p;

    ck_assert_ptr_nonnull(up);
    ck_assert_ptr_nonnull(down);
    for (i = 0; i < up_len; i++)
        up[i] = (char)(i * 7 + i / 251);
    for (i = 0; i < down_len; i++)
        down[i] = (char)(i * 13 + 5);
    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &profile, CUT_RANDOM, 99);
    pair_handshake_ok(&p);

    client_send(&p, up, up_len);
    ck_assert_int_eq(p.server_rc, SC_TLS_OK);
    ck_assert_uint_eq(p.plaintext.len, up_len);
    ck_assert(memcmp(p.plaintext.data, up, up_len) == 0);

    ck_assert_int_eq(sc_tls_write(p.server, down, down_len, &p.to_send), SC_TLS_OK);
    ck_assert_int_eq(client_receive(&p, &received), SSL_ERROR_WANT_READ);
    ck_assert_uint_eq(received.len, down_len);
    ck_assert(memcmp(received.data, down, down_len) == 0);

    sc_buf_free(&received);
    pair_free(&p);
    free(up);
    free(down);
}
END_TEST

/* ---- Failures ---- */

/* A client that verifies another host name rejects the certificate, and
 * the server reports the client's alert. */
static const struct {
    const char *host;
    long verify_error;
} wrong_hosts[] = {
    {"example.com", X509_V_ERR_HOSTNAME_MISMATCH},
    {"localhost.example", X509_V_ERR_HOSTNAME_MISMATCH},
    {"127.0.0.2", X509_V_ERR_IP_ADDRESS_MISMATCH},
    {"::2", X509_V_ERR_IP_ADDRESS_MISMATCH},
};

START_TEST(test_tls_wrong_host_rejected)
{
    struct client_profile profile = {0, 0, NULL, 0, NULL};
    struct pair p;

    profile.host = wrong_hosts[_i].host;
    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &profile, CUT_WHOLE, 0);
    pair_handshake(&p);

    ck_assert(p.client.failed);
    ck_assert_int_eq(SSL_get_verify_result(p.client.ssl), wrong_hosts[_i].verify_error);
    ck_assert_int_eq(p.server_rc, SC_TLS_ERR_HANDSHAKE);
    ck_assert(!sc_tls_handshake_done(p.server));
    ck_assert_ptr_nonnull(strstr(sc_tls_error(p.server), "handshake failed: "));
    ck_assert_ptr_nonnull(strstr(sc_tls_error(p.server), "alert"));
    ck_assert_uint_eq(p.plaintext.len, 0);
    pair_free(&p);
}
END_TEST

/* A client that trusts another server's certificate rejects this one. */
START_TEST(test_tls_other_cert_rejected)
{
    struct client_profile profile = {0, 0, "localhost", 0, NULL};
    struct sc_tls_context *other;
    struct pair p;
    char err[512];

    other = sc_tls_context_new(NULL, NULL, err, sizeof(err));
    ck_assert_msg(other != NULL, "%s", err);
    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(other), &profile, CUT_WHOLE, 0);
    pair_handshake(&p);

    ck_assert(p.client.failed);
    ck_assert_int_ne(SSL_get_verify_result(p.client.ssl), X509_V_OK);
    ck_assert_int_eq(p.server_rc, SC_TLS_ERR_HANDSHAKE);
    pair_free(&p);
    sc_tls_context_free(other);
}
END_TEST

/* A TLS 1.1 client is refused: TLS 1.2 is the minimum. */
START_TEST(test_tls_tls11_rejected)
{
    struct client_profile profile = {TLS1_1_VERSION, TLS1_1_VERSION, "localhost", 0,
                                     "DEFAULT:@SECLEVEL=0"};
    struct pair p;

    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &profile, CUT_WHOLE, 0);
    pair_handshake(&p);

    ck_assert_int_eq(p.server_rc, SC_TLS_ERR_HANDSHAKE);
    ck_assert_str_eq(sc_tls_error(p.server), "handshake failed: unsupported protocol");
    ck_assert(p.client.failed);
    pair_free(&p);
}
END_TEST

/* A plaintext SMTP client on a TLS port gets an error that quotes it, and
 * the session stays failed. */
START_TEST(test_tls_plaintext_client_rejected)
{
    static const char ehlo[] = "EHLO client.example\r\n";
    struct sc_tls *tls = sc_tls_new(shared_ctx);
    struct sc_buf plaintext = {0}, to_send = {0};

    ck_assert_ptr_nonnull(tls);
    ck_assert_int_eq(sc_tls_feed(tls, ehlo, strlen(ehlo), &plaintext, &to_send),
                     SC_TLS_ERR_HANDSHAKE);
    ck_assert_str_eq(sc_tls_error(tls), "handshake failed: wrong version number (the client "
                     "sent \"EHLO client.exam...\", not a TLS ClientHello)");
    ck_assert_uint_eq(plaintext.len, 0);
    ck_assert(!sc_tls_handshake_done(tls));
    ck_assert_ptr_null(sc_tls_version(tls));
    ck_assert_ptr_null(sc_tls_cipher(tls));

    ck_assert_int_eq(sc_tls_feed(tls, ehlo, strlen(ehlo), &plaintext, &to_send),
                     SC_TLS_ERR_HANDSHAKE);
    ck_assert_int_eq(sc_tls_write(tls, "x", 1, &to_send), SC_TLS_ERR_HANDSHAKE);
    sc_tls_shutdown(tls, &to_send);
    ck_assert_uint_eq(plaintext.len, 0);

    sc_buf_free(&plaintext);
    sc_buf_free(&to_send);
    sc_tls_free(tls);
}
END_TEST

/* Random bytes, some behind a TLS handshake record header, end in an error
 * or in a wait for more bytes, never in plaintext or a crash. */
START_TEST(test_tls_random_garbage)
{
    struct sc_buf plaintext = {0}, to_send = {0};
    unsigned char bytes[600];
    uint32_t rng = 12345;
    int round, errors = 0, rc;
    size_t len, i;

    for (round = 0; round < 500; round++) {
        struct sc_tls *tls = sc_tls_new(shared_ctx);

        ck_assert_ptr_nonnull(tls);
        len = 1 + next_random(&rng) % sizeof(bytes);
        for (i = 0; i < len; i++)
            bytes[i] = (unsigned char)next_random(&rng);
        if (round % 2 && len >= 5) {
            bytes[0] = 22;      /* A handshake record of TLS 1.0 and a random length. */
            bytes[1] = 3;
            bytes[2] = 1;
        }
        rc = sc_tls_feed(tls, (const char *)bytes, len, &plaintext, &to_send);
        ck_assert_msg(rc == SC_TLS_OK || rc == SC_TLS_ERR_HANDSHAKE, "round %d: %d", round, rc);
        if (rc != SC_TLS_OK) {
            errors++;
            ck_assert_str_ne(sc_tls_error(tls), "");
        }
        ck_assert_uint_eq(plaintext.len, 0);
        ck_assert(!sc_tls_handshake_done(tls));
        sc_buf_clear(&to_send);
        sc_tls_free(tls);
    }
    ck_assert_int_gt(errors, 250);
    sc_buf_free(&plaintext);
    sc_buf_free(&to_send);
}
END_TEST

/* A record changed on the way after the handshake fails to decrypt, and
 * none of its bytes come out. */
START_TEST(test_tls_corrupt_record_rejected)
{
    struct client_profile profile = {0, 0, "localhost", 0, NULL};
    struct pair p;
    char record[256];
    size_t written, len;

    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &profile, CUT_WHOLE, 0);
    pair_handshake_ok(&p);
    ck_assert_int_eq(SSL_write_ex(p.client.ssl, "MAIL FROM:<a@b>\r\n", 17, &written), 1);
    ck_assert_int_eq(BIO_read_ex(p.client.wbio, record, sizeof(record), &len), 1);
    ck_assert_uint_gt(len, 30);
    record[len - 5] ^= 1;       /* A bit of the authentication tag. */

    ck_assert_int_eq(sc_tls_feed(p.server, record, len, &p.plaintext, &p.to_send),
                     SC_TLS_ERR_PROTOCOL);
    ck_assert_str_eq(sc_tls_error(p.server), "TLS error: decryption failed or bad record mac");
    ck_assert_uint_eq(p.plaintext.len, 0);
    ck_assert_uint_gt(p.to_send.len, 0);        /* The bad_record_mac alert. */
    ck_assert_int_eq(sc_tls_write(p.server, "x", 1, &p.to_send), SC_TLS_ERR_PROTOCOL);
    pair_free(&p);
}
END_TEST

START_TEST(test_tls_write_before_handshake)
{
    struct sc_tls *tls = sc_tls_new(shared_ctx);
    struct sc_buf to_send = {0};

    ck_assert_ptr_nonnull(tls);
    ck_assert_int_eq(sc_tls_write(tls, "220 hi\r\n", 8, &to_send), SC_TLS_ERR_STATE);
    ck_assert_uint_eq(to_send.len, 0);
    ck_assert_str_eq(sc_tls_error(tls), "");
    sc_tls_shutdown(tls, &to_send);
    ck_assert_uint_eq(to_send.len, 0);
    sc_buf_free(&to_send);
    sc_tls_free(tls);
}
END_TEST

/* ---- Closing ---- */

/* sc_tls_shutdown sends close_notify, which the client reads as the end. */
START_TEST(test_tls_shutdown_sends_close_notify)
{
    struct client_profile profile = {0, 0, "localhost", 0, NULL};
    struct sc_buf received = {0};
    struct pair p;

    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &profile, CUT_WHOLE, 0);
    pair_handshake_ok(&p);
    ck_assert_int_eq(sc_tls_write(p.server, "221 bye\r\n", 9, &p.to_send), SC_TLS_OK);
    sc_tls_shutdown(p.server, &p.to_send);
    sc_tls_shutdown(p.server, &p.to_send);

    ck_assert_int_eq(client_receive(&p, &received), SSL_ERROR_ZERO_RETURN);
    ck_assert_uint_eq(received.len, 9);
    ck_assert(memcmp(received.data, "221 bye\r\n", 9) == 0);
    ck_assert_int_eq(sc_tls_write(p.server, "x", 1, &p.to_send), SC_TLS_ERR_STATE);
    ck_assert_uint_eq(p.to_send.len, 0);
    sc_buf_free(&received);
    pair_free(&p);
}
END_TEST

/* The client's close_notify sets sc_tls_peer_closed; data before it in the
 * same bytes still comes out, and later bytes are ignored. */
START_TEST(test_tls_client_close_notify)
{
    struct client_profile profile = {0, 0, "localhost", 0, NULL};
    struct pair p;
    size_t written;

    pair_init(&p, shared_ctx, sc_tls_context_cert_pem(shared_ctx), &profile, CUT_WHOLE, 0);
    pair_handshake_ok(&p);
    ck_assert(!sc_tls_peer_closed(p.server));

    ck_assert_int_eq(SSL_write_ex(p.client.ssl, "QUIT\r\n", 6, &written), 1);
    ck_assert_int_eq(SSL_shutdown(p.client.ssl), 0);
    client_to_server(&p);

    ck_assert_int_eq(p.server_rc, SC_TLS_OK);
    ck_assert(sc_tls_peer_closed(p.server));
    ck_assert_uint_eq(p.plaintext.len, 6);
    ck_assert(memcmp(p.plaintext.data, "QUIT\r\n", 6) == 0);
    ck_assert_int_eq(sc_tls_feed(p.server, "junk", 4, &p.plaintext, &p.to_send), SC_TLS_OK);
    ck_assert_uint_eq(p.plaintext.len, 6);

    sc_tls_shutdown(p.server, &p.to_send);
    ck_assert_uint_gt(p.to_send.len, 0);
    pair_free(&p);
}
END_TEST

/* ---- The generated certificate ---- */

static X509 *parse_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);

    BIO_free(bio);
    ck_assert_ptr_nonnull(cert);
    return cert;
}

static void fingerprint_of(X509 *cert, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len, i;

    ck_assert_int_eq(X509_digest(cert, EVP_sha256(), md, &len), 1);
    ck_assert_uint_eq(len, 32);
    for (i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

/* Return the subject alternative names as "DNS:a,IP:b", for one compare. */
static void describe_san(X509 *cert, char *out, size_t size)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    char ip[INET6_ADDRSTRLEN];
    int i;

    out[0] = '\0';
    ck_assert_ptr_nonnull(names);
    for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        size_t used = strlen(out);

        if (name->type == GEN_DNS) {
            snprintf(out + used, size - used, "%sDNS:%s", i ? "," : "",
                     (const char *)ASN1_STRING_get0_data(name->d.dNSName));
        } else if (name->type == GEN_IPADD) {
            int len = ASN1_STRING_length(name->d.iPAddress);

            inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(name->d.iPAddress),
                      ip, sizeof(ip));
            snprintf(out + used, size - used, "%sIP:%s", i ? "," : "", ip);
        }
    }
    GENERAL_NAMES_free(names);
}

/* The PEM text parses back to the certificate the fingerprint names. */
START_TEST(test_tls_generated_pem_and_fingerprint)
{
    const char *pem = sc_tls_context_cert_pem(shared_ctx);
    const char *fingerprint = sc_tls_context_fingerprint(shared_ctx);
    char expected[2 * 32 + 1];
    X509 *cert;
    size_t i;

    ck_assert_ptr_eq(strstr(pem, "-----BEGIN CERTIFICATE-----\n"), pem);
    ck_assert_str_eq(pem + strlen(pem) - 26, "-----END CERTIFICATE-----\n");
    ck_assert_uint_eq(strlen(fingerprint), SC_TLS_FINGERPRINT_LEN);
    for (i = 0; i < SC_TLS_FINGERPRINT_LEN; i++)
        ck_assert_msg(strchr("0123456789abcdef", fingerprint[i]) != NULL, "%s", fingerprint);

    cert = parse_pem(pem);
    fingerprint_of(cert, expected);
    ck_assert_str_eq(fingerprint, expected);
    X509_free(cert);
}
END_TEST

/* The certificate has the names, key, validity and extensions that clients
 * check. */
START_TEST(test_tls_generated_cert_fields)
{
    X509 *cert = parse_pem(sc_tls_context_cert_pem(shared_ctx));
    EVP_PKEY *key = X509_get0_pubkey(cert);
    const BIGNUM *serial_bn;
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    BASIC_CONSTRAINTS *bc;
    char text[256], curve[64];
    time_t now = time(NULL), check_time;
    int critical, days, seconds;

    X509_NAME_oneline(X509_get_subject_name(cert), text, sizeof(text));
    ck_assert_str_eq(text, "/O=smtpcatch/CN=localhost");
    ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)), 0);
    ck_assert_int_eq(X509_verify(cert, key), 1);
    ck_assert_int_eq(X509_get_version(cert), X509_VERSION_3);
    describe_san(cert, text, sizeof(text));
    ck_assert_str_eq(text, "DNS:localhost,IP:127.0.0.1,IP:::1");

    ck_assert_int_eq(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
    ck_assert_int_eq(EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof(curve), NULL), 1);
    ck_assert_str_eq(curve, "prime256v1");
    ck_assert_int_eq(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);

    serial_bn = serial;
    ck_assert(!BN_is_negative(serial_bn));
    ck_assert_int_ge(BN_num_bits(serial_bn), 100);
    BN_free(serial);

    check_time = now - 23 * 3600;
    ck_assert_int_lt(X509_cmp_time(X509_get0_notBefore(cert), &check_time), 0);
    check_time = now - 25 * 3600;
    ck_assert_int_gt(X509_cmp_time(X509_get0_notBefore(cert), &check_time), 0);
    check_time = now + (time_t)799 * 86400;
    ck_assert_int_gt(X509_cmp_time(X509_get0_notAfter(cert), &check_time), 0);
    check_time = now + (time_t)801 * 86400;
    ck_assert_int_lt(X509_cmp_time(X509_get0_notAfter(cert), &check_time), 0);
    ck_assert_int_eq(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert),
                                    X509_get0_notAfter(cert)), 1);
    ck_assert_int_le(days, 825);    /* Apple's limit for TLS server certificates. */

    bc = X509_get_ext_d2i(cert, NID_basic_constraints, &critical, NULL);
    ck_assert_ptr_nonnull(bc);
    ck_assert_int_eq(bc->ca, 0);
    ck_assert_int_eq(critical, 1);
    BASIC_CONSTRAINTS_free(bc);
    ck_assert_uint_eq(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
    ck_assert_uint_eq(X509_get_extended_key_usage(cert), XKU_SSL_SERVER);
    ck_assert_ptr_nonnull(X509_get0_subject_key_id(cert));
    ck_assert_ptr_nonnull(X509_get0_authority_key_id(cert));
    ck_assert_int_eq(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(cert),
                                           X509_get0_authority_key_id(cert)), 0);
    X509_free(cert);
}
END_TEST

/* Each context gets its own key and serial. */
START_TEST(test_tls_generated_certs_differ)
{
    struct sc_tls_context *other;
    X509 *a, *b;
    char err[512];

    other = sc_tls_context_new(NULL, NULL, err, sizeof(err));
    ck_assert_msg(other != NULL, "%s", err);
    ck_assert_str_ne(sc_tls_context_fingerprint(other), sc_tls_context_fingerprint(shared_ctx));
    a = parse_pem(sc_tls_context_cert_pem(shared_ctx));
    b = parse_pem(sc_tls_context_cert_pem(other));
    ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
    ck_assert_int_ne(EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)), 1);
    X509_free(a);
    X509_free(b);
    sc_tls_context_free(other);
}
END_TEST

static double elapsed_ms(const struct timespec *start)
{
    struct timespec end;

    clock_gettime(CLOCK_MONOTONIC, &end);
    return (double)(end.tv_sec - start->tv_sec) * 1e3 +
           (double)(end.tv_nsec - start->tv_nsec) / 1e6;
}

/* Print how long a context with a generated certificate takes to create.
 * OpenSSL is already loaded here, by the fixture of this test case, so the
 * first context of a process takes longer than these. */
START_TEST(test_tls_context_creation_time)
{
    struct sc_tls_context *ctx;
    struct timespec start;
    double total = 0, worst = 0, ms;
    char err[512];
    int i;

    for (i = 0; i < 10; i++) {
        clock_gettime(CLOCK_MONOTONIC, &start);
        ctx = sc_tls_context_new(NULL, NULL, err, sizeof(err));
        ms = elapsed_ms(&start);
        ck_assert_msg(ctx != NULL, "%s", err);
        sc_tls_context_free(ctx);
        total += ms;
        worst = ms > worst ? ms : worst;
    }
    printf("test_tls: context with a generated certificate: %.2f ms on average, %.2f ms at "
           "most, over 10\n", total / 10, worst);
    ck_assert_double_lt(worst, 1000.0);
}
END_TEST

/* ---- Certificate and key files ---- */

/* Made once per test case, before Check forks each test, and removed after
 * the last test, so that a failed test leaves no files behind. */
static char tmpdir[64];

/* Names of the files the file tests write in tmpdir. */
static const char *const tmp_names[] = {
    "cert.pem", "key.pem", "other_key.pem", "combined.pem", "encrypted_key.pem",
    "not_pem.pem", "empty.pem", "chain.pem", "leaf_key.pem", "rsa_key.pem",
};

static void tmpdir_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tls.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("test_tls: cannot create a temporary directory");
        abort();
    }
}

static void tmpdir_teardown(void)
{
    char path[256];
    size_t i;

    for (i = 0; i < sizeof(tmp_names) / sizeof(tmp_names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, tmp_names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/dir.pem", tmpdir);
    rmdir(path);
    if (rmdir(tmpdir) != 0)
        fprintf(stderr, "test_tls: cannot remove %s: %s\n", tmpdir, strerror(errno));
}

static const char *tmp_path(const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", tmpdir, name);
    return path;
}

static EVP_PKEY *new_ec_key(void)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    ck_assert_ptr_nonnull(key);
    return key;
}

static void add_test_extension(X509 *cert, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);

    ck_assert_ptr_nonnull(ext);
    ck_assert_int_eq(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* Make a certificate for cn on key, signed by issuer and issuer_key, or
 * self-signed when issuer is NULL. A CA gets CA:TRUE, a leaf the SAN cn. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       bool ca)
{
    X509 *cert = X509_new();
    X509V3_CTX v3;
    char san[128];

    ck_assert_ptr_nonnull(cert);
    ck_assert_int_eq(X509_set_version(cert, X509_VERSION_3), 1);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(cert), ca ? 1 : 2), 1);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                                                (const unsigned char *)cn, -1, -1, 0), 1);
    ck_assert_int_eq(X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert)),
                     1);
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(cert), 86400));
    ck_assert_int_eq(X509_set_pubkey(cert, key), 1);

    X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509V3_set_issuer_pkey(&v3, issuer_key ? issuer_key : key);
    if (ca) {
        add_test_extension(cert, &v3, NID_basic_constraints, "critical,CA:TRUE");
        add_test_extension(cert, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        snprintf(san, sizeof(san), "DNS:%s", cn);
        add_test_extension(cert, &v3, NID_subject_alt_name, san);
    }
    add_test_extension(cert, &v3, NID_subject_key_identifier, "hash");
    add_test_extension(cert, &v3, NID_authority_key_identifier, "keyid:always");
    ck_assert_int_gt(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()), 0);
    return cert;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Write the certificates, then the key, to path, in PEM. A passphrase
 * encrypts the key with AES-128-CBC. */
static void write_pem(const char *path, X509 *cert, X509 *cert2, EVP_PKEY *key,
                      const char *passphrase)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    if (cert)
        ck_assert_int_eq(PEM_write_X509(f, cert), 1);
    if (cert2)
        ck_assert_int_eq(PEM_write_X509(f, cert2), 1);
    if (key && passphrase)
        ck_assert_int_eq(PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(),
                                              (const unsigned char *)passphrase,
                                              (int)strlen(passphrase), NULL, NULL), 1);
    else if (key)
        ck_assert_int_eq(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* Files of one self-signed localhost certificate and its key. */
struct cert_files {
    X509 *cert;
    EVP_PKEY *key;
    char cert_path[256];
    char key_path[256];
};

static void cert_files_make(struct cert_files *f)
{
    f->key = new_ec_key();
    f->cert = make_cert("localhost", f->key, NULL, NULL, false);
    write_pem(tmp_path("cert.pem", f->cert_path, sizeof(f->cert_path)), f->cert, NULL, NULL,
              NULL);
    write_pem(tmp_path("key.pem", f->key_path, sizeof(f->key_path)), NULL, NULL, f->key, NULL);
}

static void cert_files_free(struct cert_files *f)
{
    X509_free(f->cert);
    EVP_PKEY_free(f->key);
}

/* Create a context from files, expecting failure, and return its error. */
static const char *context_error(const char *cert_file, const char *key_file)
{
    static char err[512];
    struct sc_tls_context *ctx;

    err[0] = '\0';
    ctx = sc_tls_context_new(cert_file, key_file, err, sizeof(err));
    ck_assert_msg(ctx == NULL, "context created from %s and %s", cert_file,
                  key_file ? key_file : "(null)");
    return err;
}

/* A matching pair loads: the context reports the file's certificate, and
 * a client that trusts that certificate completes a handshake. */
START_TEST(test_tls_files_matching_pair)
{
    struct client_profile profile = {0, 0, "localhost", PYTHON_313_FLAGS, NULL};
    struct cert_files f;
    struct sc_tls_context *ctx;
    struct pair p;
    char err[512], expected[2 * 32 + 1];
    X509 *reported;

    cert_files_make(&f);
    ctx = sc_tls_context_new(f.cert_path, f.key_path, err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);

    fingerprint_of(f.cert, expected);
    ck_assert_str_eq(sc_tls_context_fingerprint(ctx), expected);
    reported = parse_pem(sc_tls_context_cert_pem(ctx));
    ck_assert_int_eq(X509_cmp(reported, f.cert), 0);
    X509_free(reported);

    pair_init(&p, ctx, sc_tls_context_cert_pem(ctx), &profile, CUT_WHOLE, 0);
    pair_handshake_ok(&p);
    pair_talk(&p);
    pair_free(&p);
    sc_tls_context_free(ctx);
    cert_files_free(&f);
}
END_TEST

/* With no key file, the key is read from the certificate file. */
START_TEST(test_tls_files_combined)
{
    struct cert_files f;
    struct sc_tls_context *ctx;
    char err[512], path[256];

    cert_files_make(&f);
    write_pem(tmp_path("combined.pem", path, sizeof(path)), f.cert, NULL, f.key, NULL);
    ctx = sc_tls_context_new(path, NULL, err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    sc_tls_context_free(ctx);
    cert_files_free(&f);
}
END_TEST

/* A chain file (leaf, then intermediate) is sent whole, so a client that
 * trusts only the root verifies it; the context reports the leaf. */
START_TEST(test_tls_files_chain)
{
    struct client_profile profile = {0, 0, "localhost", PYTHON_313_FLAGS, NULL};
    EVP_PKEY *root_key = new_ec_key(), *mid_key = new_ec_key(), *leaf_key = new_ec_key();
    X509 *root = make_cert("smtpcatch test root", root_key, NULL, NULL, true);
    X509 *mid = make_cert("smtpcatch test intermediate", mid_key, root, root_key, true);
    X509 *leaf = make_cert("localhost", leaf_key, mid, mid_key, false);
    char chain_path[256], key_path[256], err[512], expected[2 * 32 + 1];
    struct sc_tls_context *ctx;
    BIO *bio = BIO_new(BIO_s_mem());
    char *root_pem, *pem_data;
    long pem_len;
    struct pair p;

    write_pem(tmp_path("chain.pem", chain_path, sizeof(chain_path)), leaf, mid, NULL, NULL);
    write_pem(tmp_path("leaf_key.pem", key_path, sizeof(key_path)), NULL, NULL, leaf_key, NULL);
    ctx = sc_tls_context_new(chain_path, key_path, err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    fingerprint_of(leaf, expected);
    ck_assert_str_eq(sc_tls_context_fingerprint(ctx), expected);

    ck_assert_int_eq(PEM_write_bio_X509(bio, root), 1);
    pem_len = BIO_get_mem_data(bio, &pem_data);
    root_pem = strndup(pem_data, (size_t)pem_len);
    pair_init(&p, ctx, root_pem, &profile, CUT_WHOLE, 0);
    pair_handshake_ok(&p);
    pair_free(&p);

    free(root_pem);
    BIO_free(bio);
    sc_tls_context_free(ctx);
    X509_free(root);
    X509_free(mid);
    X509_free(leaf);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(mid_key);
    EVP_PKEY_free(leaf_key);
}
END_TEST

START_TEST(test_tls_files_key_mismatch)
{
    struct cert_files f;
    EVP_PKEY *other = new_ec_key();
    char path[256], expected[1024];

    cert_files_make(&f);
    write_pem(tmp_path("other_key.pem", path, sizeof(path)), NULL, NULL, other, NULL);
    snprintf(expected, sizeof(expected), "TLS private key %s does not match the certificate in "
             "%s: key values mismatch", path, f.cert_path);
    ck_assert_str_eq(context_error(f.cert_path, path), expected);
    EVP_PKEY_free(other);
    cert_files_free(&f);
}
END_TEST

/* An RSA key with an EC certificate is a mismatch of another kind. */
START_TEST(test_tls_files_key_type_mismatch)
{
    struct cert_files f;
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char path[256], expected[1024];

    ck_assert_ptr_nonnull(rsa);
    cert_files_make(&f);
    write_pem(tmp_path("rsa_key.pem", path, sizeof(path)), NULL, NULL, rsa, NULL);
    snprintf(expected, sizeof(expected), "TLS private key %s does not match the certificate in "
             "%s: different key types", path, f.cert_path);
    ck_assert_str_eq(context_error(f.cert_path, path), expected);
    EVP_PKEY_free(rsa);
    cert_files_free(&f);
}
END_TEST

START_TEST(test_tls_files_missing)
{
    struct cert_files f;
    char path[256], expected[1024];

    cert_files_make(&f);
    tmp_path("missing.pem", path, sizeof(path));
    snprintf(expected, sizeof(expected), "cannot open TLS certificate file %s: No such file or "
             "directory", path);
    ck_assert_str_eq(context_error(path, f.key_path), expected);
    snprintf(expected, sizeof(expected), "cannot open TLS private key file %s: No such file or "
             "directory", path);
    ck_assert_str_eq(context_error(f.cert_path, path), expected);
    cert_files_free(&f);
}
END_TEST

START_TEST(test_tls_files_directory)
{
    struct cert_files f;
    char path[256], expected[1024];

    cert_files_make(&f);
    ck_assert_int_eq(mkdir(tmp_path("dir.pem", path, sizeof(path)), 0700), 0);
    snprintf(expected, sizeof(expected), "cannot read TLS certificate file %s: Is a directory",
             path);
    ck_assert_str_eq(context_error(path, f.key_path), expected);
    cert_files_free(&f);
}
END_TEST

/* A file without a PEM certificate or key, or an empty one, gets an error
 * that names the missing PEM object. */
START_TEST(test_tls_files_not_pem)
{
    struct cert_files f;
    char path[256], expected[1024];

    cert_files_make(&f);
    write_file(tmp_path("not_pem.pem", path, sizeof(path)), "not a certificate\n");
    snprintf(expected, sizeof(expected), "cannot load TLS certificate from %s: no PEM "
             "certificate in the file (OpenSSL: no start line)", path);
    ck_assert_str_eq(context_error(path, f.key_path), expected);

    write_file(tmp_path("empty.pem", path, sizeof(path)), "");
    snprintf(expected, sizeof(expected), "cannot load TLS certificate from %s: no PEM "
             "certificate in the file (OpenSSL: no start line)", path);
    ck_assert_str_eq(context_error(path, f.key_path), expected);

    snprintf(expected, sizeof(expected), "cannot load TLS private key from %s: no PEM "
             "private key in the file. A certificate file without its key needs --tls-key "
             "KEYFILE", f.cert_path);
    ck_assert_str_eq(context_error(f.cert_path, NULL), expected);
    ck_assert_str_eq(context_error(f.cert_path, f.cert_path), expected);
    cert_files_free(&f);
}
END_TEST

/* A key with a passphrase is rejected at once, without a prompt. */
START_TEST(test_tls_files_encrypted_key)
{
    struct cert_files f;
    char path[256], expected[1024];

    cert_files_make(&f);
    write_pem(tmp_path("encrypted_key.pem", path, sizeof(path)), NULL, NULL, f.key, "secret");
    snprintf(expected, sizeof(expected), "cannot load TLS private key from %s: it is protected "
             "by a passphrase, which smtpcatch cannot prompt for. Write it without one with "
             "'openssl pkey -in %s -out NEWFILE'", path, path);
    ck_assert_str_eq(context_error(f.cert_path, path), expected);
    cert_files_free(&f);
}
END_TEST

START_TEST(test_tls_files_key_without_cert)
{
    ck_assert_str_eq(context_error(NULL, "/tmp/key.pem"),
                     "TLS private key /tmp/key.pem was given without a certificate file");
}
END_TEST

Suite *suite_tls(void)
{
    Suite *suite = suite_create("tls");
    TCase *handshake = tcase_create("handshake");
    TCase *failures = tcase_create("failures");
    TCase *closing = tcase_create("closing");
    TCase *generated = tcase_create("generated");
    TCase *files = tcase_create("files");

    tcase_add_unchecked_fixture(handshake, shared_ctx_setup, shared_ctx_teardown);
    tcase_add_loop_test(handshake, test_tls_handshake_cases, 0,
                        (int)(sizeof(handshake_cases) / sizeof(handshake_cases[0])));
    tcase_add_loop_test(handshake, test_tls_handshake_random_pieces, 1, RANDOM_SEEDS + 1);
    tcase_add_test(handshake, test_tls_data_with_finished);
    tcase_add_test(handshake, test_tls_large_data);
    suite_add_tcase(suite, handshake);

    tcase_add_unchecked_fixture(failures, shared_ctx_setup, shared_ctx_teardown);
    tcase_add_loop_test(failures, test_tls_wrong_host_rejected, 0,
                        (int)(sizeof(wrong_hosts) / sizeof(wrong_hosts[0])));
    tcase_add_test(failures, test_tls_other_cert_rejected);
    tcase_add_test(failures, test_tls_tls11_rejected);
    tcase_add_test(failures, test_tls_plaintext_client_rejected);
    tcase_add_test(failures, test_tls_random_garbage);
    tcase_add_test(failures, test_tls_corrupt_record_rejected);
    tcase_add_test(failures, test_tls_write_before_handshake);
    suite_add_tcase(suite, failures);

    tcase_add_unchecked_fixture(closing, shared_ctx_setup, shared_ctx_teardown);
    tcase_add_test(closing, test_tls_shutdown_sends_close_notify);
    tcase_add_test(closing, test_tls_client_close_notify);
    suite_add_tcase(suite, closing);

    tcase_add_unchecked_fixture(generated, shared_ctx_setup, shared_ctx_teardown);
    tcase_add_test(generated, test_tls_generated_pem_and_fingerprint);
    tcase_add_test(generated, test_tls_generated_cert_fields);
    tcase_add_test(generated, test_tls_generated_certs_differ);
    tcase_add_test(generated, test_tls_context_creation_time);
    suite_add_tcase(suite, generated);

    tcase_add_unchecked_fixture(files, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(files, test_tls_files_matching_pair);
    tcase_add_test(files, test_tls_files_combined);
    tcase_add_test(files, test_tls_files_chain);
    tcase_add_test(files, test_tls_files_key_mismatch);
    tcase_add_test(files, test_tls_files_key_type_mismatch);
    tcase_add_test(files, test_tls_files_missing);
    tcase_add_test(files, test_tls_files_directory);
    tcase_add_test(files, test_tls_files_not_pem);
    tcase_add_test(files, test_tls_files_encrypted_key);
    tcase_add_test(files, test_tls_files_key_without_cert);
    suite_add_tcase(suite, files);

    return suite;
}
