/*
 * Tests of the libuv server layer: a real server on loopback and a libuv
 * client in the same loop. Each test runs the loop until everything is
 * closed, then asserts on what the callbacks counted and on uv_loop_close.
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "server.h"
#include "suites.h"

/* One test's world: the server, a client connection and what they saw. */
struct harness {
    uv_loop_t loop;
    struct sc_server *server;
    uv_tcp_t client;
    uv_connect_t connect_req;
    uv_write_t write_req;
    const char *transcript;     /* Sent by the client once it is connected. */
    char received[8192];        /* Replies the client read. */
    size_t received_len;
    int messages;
    char last_data[1024];
    char last_rcpt[256];
    int stopped;
    int client_closed;
    double stop_grace;          /* < 0: stop when the client sees EOF. */
    enum sc_verdict (*on_message)(void *arg, struct sc_message *msg);  /* NULL: record_message. */
};

static enum sc_verdict record_message(void *arg, struct sc_message *msg)
{
    struct harness *h = arg;

    h->messages++;
    snprintf(h->last_data, sizeof(h->last_data), "%.*s", (int)msg->size, msg->data);
    if (msg->rcpt_to_len > 0)
        snprintf(h->last_rcpt, sizeof(h->last_rcpt), "%s", msg->rcpt_to[msg->rcpt_to_len - 1]);
    return SC_ACCEPT;
}

static void on_stopped(void *arg)
{
    struct harness *h = arg;

    h->stopped++;
}

static void on_stopped_counter(void *arg)
{
    int *count = arg;

    (*count)++;
}

static void on_client_closed(uv_handle_t *handle)
{
    struct harness *h = handle->data;

    h->client_closed++;
}

static void client_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct harness *h = handle->data;

    (void)suggested;
    *buf = uv_buf_init(h->received + h->received_len,
                       (unsigned)(sizeof(h->received) - 1 - h->received_len));
}

/* Collect replies; when the server closes, stop it and close the client. */
static void client_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct harness *h = stream->data;

    (void)buf;
    if (nread > 0) {
        h->received_len += (size_t)nread;
        h->received[h->received_len] = '\0';
        return;
    }
    if (nread < 0) {
        uv_close((uv_handle_t *)&h->client, on_client_closed);
        sc_server_stop(h->server, 0, on_stopped, h);
    }
}

static void client_connected(uv_connect_t *req, int status)
{
    struct harness *h = req->data;
    uv_buf_t buf = uv_buf_init((char *)h->transcript, (unsigned)strlen(h->transcript));

    ck_assert_int_eq(status, 0);
    uv_read_start((uv_stream_t *)&h->client, client_alloc, client_read);
    if (buf.len > 0)
        ck_assert_int_eq(uv_write(&h->write_req, (uv_stream_t *)&h->client, &buf, 1, NULL), 0);
}

/* Start a server on host, port 0, and connect the client to address. */
static void harness_start(struct harness *h, const char *host, const char *connect_to,
                          double idle_timeout)
{
    struct sc_server_config config = {0};
    struct sockaddr_storage addr;
    char err[256] = "";

    ck_assert_int_eq(uv_loop_init(&h->loop), 0);
    config.host = host;
    config.hostname = "test.example";
    config.limits.max_size = 1024 * 1024;
    config.limits.max_line = 512;
    config.limits.max_rcpts = 10;
    config.idle_timeout = idle_timeout;
    config.on_message = h->on_message != NULL ? h->on_message : record_message;
    config.arg = h;
    h->server = sc_server_new(&h->loop, &config);
    ck_assert_ptr_nonnull(h->server);
    ck_assert_msg(sc_server_listen(h->server, err, sizeof(err)) == 0, "listen failed: %s", err);
    ck_assert_int_gt(sc_server_port(h->server), 0);

    if (strchr(connect_to, ':'))
        uv_ip6_addr(connect_to, sc_server_port(h->server), (struct sockaddr_in6 *)&addr);
    else
        uv_ip4_addr(connect_to, sc_server_port(h->server), (struct sockaddr_in *)&addr);
    uv_tcp_init(&h->loop, &h->client);
    h->client.data = h;
    h->connect_req.data = h;
    ck_assert_int_eq(uv_tcp_connect(&h->connect_req, &h->client, (struct sockaddr *)&addr,
                                    client_connected), 0);
}

static void harness_finish(struct harness *h)
{
    uv_run(&h->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(h->stopped, 1);
    ck_assert_int_eq(h->client_closed, 1);
    sc_server_free(h->server);
    ck_assert_int_eq(uv_loop_close(&h->loop), 0);
}

static const char dialog[] =
    "EHLO client.example\r\n"
    "MAIL FROM:<a@example.com>\r\n"
    "RCPT TO:<b@example.com>\r\n"
    "DATA\r\n"
    "Subject: t\r\n\r\n..dotted\r\n.\r\n"
    "QUIT\r\n";

START_TEST(test_server_delivers_over_ipv4)
{
    struct harness h = {0};

    h.transcript = dialog;
    harness_start(&h, "127.0.0.1", "127.0.0.1", 5);
    harness_finish(&h);

    ck_assert_int_eq(h.messages, 1);
    ck_assert_str_eq(h.last_data, "Subject: t\r\n\r\n.dotted\r\n");
    ck_assert_str_eq(h.last_rcpt, "b@example.com");
    ck_assert_ptr_nonnull(strstr(h.received, "220 test.example"));
    ck_assert_ptr_nonnull(strstr(h.received, "250 2.0.0"));
    ck_assert_ptr_nonnull(strstr(h.received, "221 2.0.0"));
}
END_TEST

/* localhost binds both loopback families on one port, when ::1 exists. */
START_TEST(test_server_localhost_binds_both_families)
{
    struct harness h = {0};
    const char *const *addresses;
    size_t n;

    h.transcript = dialog;
    harness_start(&h, "localhost", "127.0.0.1", 5);
    addresses = sc_server_addresses(h.server, &n);
    ck_assert_uint_ge(n, 1);
    ck_assert_str_eq(addresses[0], "127.0.0.1");
    if (n == 2)
        ck_assert_str_eq(addresses[1], "::1");
    harness_finish(&h);
    ck_assert_int_eq(h.messages, 1);
}
END_TEST

START_TEST(test_server_delivers_over_ipv6)
{
    struct harness h = {0};
    uv_tcp_t probe;
    struct sockaddr_in6 any;

    /* Skip on hosts without IPv6 loopback: binding ::1 fails there. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &probe);
    uv_ip6_addr("::1", 0, &any);
    if (uv_tcp_bind(&probe, (struct sockaddr *)&any, 0) != 0) {
        uv_close((uv_handle_t *)&probe, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return;
    }
    uv_close((uv_handle_t *)&probe, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);

    h.transcript = dialog;
    harness_start(&h, "localhost", "::1", 5);
    harness_finish(&h);
    ck_assert_int_eq(h.messages, 1);
}
END_TEST

START_TEST(test_server_idle_timeout_sends_421)
{
    struct harness h = {0};

    h.transcript = "EHLO client.example\r\n";
    harness_start(&h, "127.0.0.1", "127.0.0.1", 0.05);
    harness_finish(&h);

    ck_assert_int_eq(h.messages, 0);
    ck_assert_ptr_nonnull(strstr(h.received, "421 4.4.2"));
}
END_TEST

/* A session cut off mid-DATA delivers nothing. */
START_TEST(test_server_eof_in_data_drops_message)
{
    struct harness h = {0};
    uv_shutdown_t shutdown_req;

    h.transcript = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\npartial";
    harness_start(&h, "127.0.0.1", "127.0.0.1", 5);
    /* The client ends its side once the server has answered DATA. */
    while (h.received_len == 0 || !strstr(h.received, "354"))
        uv_run(&h.loop, UV_RUN_ONCE);
    uv_shutdown(&shutdown_req, (uv_stream_t *)&h.client, NULL);
    harness_finish(&h);
    ck_assert_int_eq(h.messages, 0);
}
END_TEST

START_TEST(test_server_stop_sends_421_to_open_sessions)
{
    struct harness h = {0};

    h.transcript = "EHLO client.example\r\n";
    harness_start(&h, "127.0.0.1", "127.0.0.1", 5);
    while (!strstr(h.received, "250 HELP"))
        uv_run(&h.loop, UV_RUN_ONCE);
    sc_server_stop(h.server, 0, on_stopped, &h);
    uv_run(&h.loop, UV_RUN_DEFAULT);
    ck_assert_ptr_nonnull(strstr(h.received, "421 4.3.2"));
    ck_assert_int_eq(h.stopped, 1);
    sc_server_free(h.server);
    ck_assert_int_eq(uv_loop_close(&h.loop), 0);
}
END_TEST

/* Stop the server at once from the callback, as a program that wants one
 * message might, and check that the message is still whole after the stop. */
static enum sc_verdict stop_in_callback(void *arg, struct sc_message *msg)
{
    struct harness *h = arg;

    sc_server_stop(h->server, 0, on_stopped, h);
    ck_assert_ptr_nonnull(msg->mail_from);
    ck_assert_str_eq(msg->mail_from, "a@example.com");
    ck_assert_uint_eq(msg->rcpt_to_len, 1);
    return record_message(arg, msg);
}

START_TEST(test_server_stop_from_callback_keeps_message)
{
    struct harness h = {0};
    const char *accepted, *closing;

    /* No QUIT follows the message, so the stop is what ends the session. */
    h.transcript = "EHLO client.example\r\n"
                   "MAIL FROM:<a@example.com>\r\n"
                   "RCPT TO:<b@example.com>\r\n"
                   "DATA\r\n"
                   "Subject: t\r\n\r\n..dotted\r\n.\r\n";
    h.on_message = stop_in_callback;
    harness_start(&h, "127.0.0.1", "127.0.0.1", 5);
    harness_finish(&h);

    ck_assert_int_eq(h.messages, 1);
    ck_assert_str_eq(h.last_data, "Subject: t\r\n\r\n.dotted\r\n");
    /* The client gets the 250 for its message, then the 421 of the stop. */
    accepted = strstr(h.received, "250 2.0.0");
    closing = strstr(h.received, "421 4.3.2");
    ck_assert_ptr_nonnull(accepted);
    ck_assert_msg(closing != NULL, "received: %s", h.received);
    ck_assert(accepted < closing);
}
END_TEST

START_TEST(test_server_bind_in_use_fails)
{
    uv_loop_t loop;
    struct sc_server_config config = {0};
    struct sc_server *first, *second;
    char err[256] = "";
    int stopped = 0;

    uv_loop_init(&loop);
    config.host = "127.0.0.1";
    config.limits.max_size = 1024;
    config.limits.max_line = 512;
    config.limits.max_rcpts = 1;
    config.on_message = record_message;
    first = sc_server_new(&loop, &config);
    ck_assert_int_eq(sc_server_listen(first, err, sizeof(err)), 0);

    config.port = sc_server_port(first);
    second = sc_server_new(&loop, &config);
    ck_assert_int_eq(sc_server_listen(second, err, sizeof(err)), UV_EADDRINUSE);
    ck_assert_ptr_nonnull(strstr(err, "127.0.0.1"));

    sc_server_stop(first, 0, on_stopped_counter, &stopped);
    sc_server_stop(second, 0, on_stopped_counter, &stopped);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(stopped, 2);
    sc_server_free(first);
    sc_server_free(second);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *suite_server(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("loopback");

    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_server_delivers_over_ipv4);
    tcase_add_test(tc, test_server_localhost_binds_both_families);
    tcase_add_test(tc, test_server_delivers_over_ipv6);
    tcase_add_test(tc, test_server_idle_timeout_sends_421);
    tcase_add_test(tc, test_server_eof_in_data_drops_message);
    tcase_add_test(tc, test_server_stop_sends_421_to_open_sessions);
    tcase_add_test(tc, test_server_stop_from_callback_keeps_message);
    tcase_add_test(tc, test_server_bind_in_use_fails);
    suite_add_tcase(s, tc);
    return s;
}
