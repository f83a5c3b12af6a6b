/* Catch one message with the smtpcatch library, print it, and stop. */
#include <stdio.h>
#include <uv.h>

#include "server.h"

static struct sc_server *server;

static void on_stopped(void *arg)
{
    (void)arg;
}

static enum sc_verdict on_message(void *arg, struct sc_message *msg)
{
    (void)arg;
    printf("from=<%s>", msg->mail_from);
    for (size_t i = 0; i < msg->rcpt_to_len; i++)
        printf(" to=<%s>", msg->rcpt_to[i]);
    printf(" bytes=%zu\n", msg->size);
    fwrite(msg->data, 1, msg->size, stdout);    /* Valid only during this call. */
    fflush(stdout);
    sc_server_stop(server, 1.0, on_stopped, NULL);  /* The client still gets its 250. */
    return SC_ACCEPT;
}

int main(void)
{
    uv_loop_t loop;
    struct sc_server_config config;
    char err[256];

    uv_loop_init(&loop);
    sc_server_config_init(&config);
    config.host = "127.0.0.1";
    config.on_message = on_message;
    server = sc_server_new(&loop, &config);
    if (server == NULL || sc_server_listen(server, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot start: %s\n", server ? err : "out of memory");
        return 1;
    }
    printf("port=%d\n", sc_server_port(server));
    fflush(stdout);

    uv_run(&loop, UV_RUN_DEFAULT);
    sc_server_free(server);
    uv_loop_close(&loop);
    return 0;
}
