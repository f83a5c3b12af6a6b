/*
 * smtpcatch: run the SMTP server on localhost, print a ready line, then one
 * JSON line per message, and exit by the rules of --count and --timeout.
 * The server and the JSON rendering live in the core library; this file
 * owns stdout, the exit status, signals and the port file.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "options.h"
#include "output.h"
#include "server.h"

#define EXIT_INVALID_USAGE 2
#define EXIT_TIMED_OUT 124

/* Once --count is reached, sessions that are open get this many seconds to
 * say QUIT before they are sent 421, so the last client sees a clean end. */
#define COUNT_GRACE_SECONDS 1.0

/* The program's state. It owns the loop's handles and the server. */
struct app {
    uv_loop_t loop;
    struct options opts;
    struct sc_server *server;
    uv_timer_t timeout_timer;
    uv_timer_t stop_timer;      /* Defers a stop out of the message callback. */
    uv_signal_t sigint;
    uv_signal_t sigterm;
    unsigned long long written; /* Message lines written to stdout. */
    bool stopping;
    bool stop_pending;
    double stop_grace;
    int status;
};

/* Write all bytes to stdout. It may be a pipe that another process made
 * non-blocking, so EAGAIN waits until it is writable. Returns 0 or -errno. */
static int write_stdout(void *arg, const char *bytes, size_t len)
{
    struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT};
    ssize_t n;

    (void)arg;
    while (len > 0) {
        n = write(STDOUT_FILENO, bytes, len);
        if (n >= 0) {
            bytes += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            poll(&pfd, 1, -1);
            continue;
        }
        return -errno;
    }
    return 0;
}

static void on_handle_closed(uv_handle_t *handle)
{
    (void)handle;
}

static void on_server_stopped(void *arg)
{
    (void)arg;
}

/* Stop everything; the loop ends once every handle is closed. */
static void app_stop(struct app *app, double grace, int status)
{
    if (app->stopping)
        return;
    app->stopping = true;
    app->status = status;

    uv_close((uv_handle_t *)&app->timeout_timer, on_handle_closed);
    uv_close((uv_handle_t *)&app->stop_timer, on_handle_closed);
    uv_close((uv_handle_t *)&app->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&app->sigterm, on_handle_closed);
    sc_server_stop(app->server, grace, on_server_stopped, app);
}

static void on_stop_timer(uv_timer_t *timer)
{
    struct app *app = timer->data;

    app_stop(app, app->stop_grace, app->status);
}

/* Ask for a stop on the next loop iteration: the message callback runs in
 * the middle of a session's feed, which must finish and send its reply. */
static void request_stop(struct app *app, double grace, int status)
{
    if (app->stop_pending || app->stopping)
        return;
    app->stop_pending = true;
    app->stop_grace = grace;
    app->status = status;
    uv_timer_start(&app->stop_timer, on_stop_timer, 0, 0);
}

static enum sc_verdict on_message(void *arg, struct sc_message *msg)
{
    struct app *app = arg;
    struct sc_writer writer = {.write = write_stdout, .arg = NULL};
    struct timespec now;
    int rc;

    if (app->stopping || app->stop_pending)
        return SC_SHUTDOWN;

    clock_gettime(CLOCK_REALTIME, &now);
    rc = sc_output_message(msg, app->written + 1, &now, &writer);
    if (rc == -EPIPE) {
        request_stop(app, 0, EXIT_SUCCESS);     /* The reader went away: end quietly. */
        return SC_SHUTDOWN;
    }
    if (rc != 0) {
        sc_log("error: cannot write message %llu to stdout: %s; stopping",
               app->written + 1, rc == -1 ? "out of memory" : strerror(-rc));
        request_stop(app, 0, EXIT_FAILURE);
        return SC_SHUTDOWN;
    }

    app->written++;
    if (app->opts.count > 0 && app->written >= app->opts.count)
        request_stop(app, COUNT_GRACE_SECONDS, EXIT_SUCCESS);
    return SC_ACCEPT;
}

static void on_timeout(uv_timer_t *timer)
{
    struct app *app = timer->data;

    if (app->opts.verbose)
        sc_log("timeout after %g seconds with %llu messages written", app->opts.timeout,
               app->written);
    app_stop(app, 0, app->opts.count > 0 ? EXIT_TIMED_OUT : EXIT_SUCCESS);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    struct app *app = handle->data;

    if (app->opts.verbose)
        sc_log("received %s, stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    app_stop(app, 0, EXIT_SUCCESS);
}

/* Write the port to path through a temporary file in the same directory and
 * rename(), so a reader never sees a partial file. Returns 0 or -errno. */
static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *f;
    int rc = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
        return -ENAMETOOLONG;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -errno;
    if (fprintf(f, "%d\n", port) < 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* Announce the server: the port file, then the ready line. Returns 0, or an
 * exit status when the program must stop. */
static int announce(struct app *app)
{
    struct sc_ready_info info = {0};
    struct sc_buf line = {0};
    int rc;

    info.addresses = sc_server_addresses(app->server, &info.addresses_len);
    info.port = sc_server_port(app->server);
    info.pid = (long)getpid();
    info.version = SC_VERSION;

    if (app->opts.port_file != NULL) {
        rc = write_port_file(app->opts.port_file, info.port);
        if (rc != 0) {
            sc_log("error: cannot write port file %s: %s", app->opts.port_file, strerror(-rc));
            return EXIT_FAILURE;
        }
    }

    if (sc_output_ready(&line, &info) != 0) {
        sc_log("error: out of memory writing the ready line");
        return EXIT_FAILURE;
    }
    rc = write_stdout(NULL, line.data, line.len);
    sc_buf_free(&line);
    if (rc == -EPIPE)
        return EXIT_SUCCESS;
    if (rc != 0) {
        sc_log("error: cannot write the ready line to stdout: %s", strerror(-rc));
        return EXIT_FAILURE;
    }
    if (app->opts.verbose)
        sc_log("listening on port %d", info.port);
    return 0;
}

static void start_handles(struct app *app)
{
    uv_timer_init(&app->loop, &app->timeout_timer);
    uv_timer_init(&app->loop, &app->stop_timer);
    uv_signal_init(&app->loop, &app->sigint);
    uv_signal_init(&app->loop, &app->sigterm);
    app->timeout_timer.data = app;
    app->stop_timer.data = app;
    app->sigint.data = app;
    app->sigterm.data = app;

    uv_signal_start(&app->sigint, on_signal, SIGINT);
    uv_signal_start(&app->sigterm, on_signal, SIGTERM);
    if (app->opts.timeout > 0)
        uv_timer_start(&app->timeout_timer, on_timeout, (uint64_t)(app->opts.timeout * 1000.0), 0);
}

/* Run the server until a stop rule fires. Returns the exit status. */
static int run(struct app *app)
{
    struct sc_server_config config = {0};
    char err[512];
    int rc;

    config.host = app->opts.host;
    config.port = app->opts.port;
    config.hostname = "localhost";
    config.limits.max_size = app->opts.max_size;
    config.limits.max_line = SC_DEFAULT_MAX_LINE;
    config.limits.max_rcpts = SC_DEFAULT_MAX_RCPTS;
    config.idle_timeout = app->opts.idle_timeout;
    config.verbose = app->opts.verbose;
    config.on_message = on_message;
    config.arg = app;

    app->server = sc_server_new(&app->loop, &config);
    if (app->server == NULL) {
        sc_log("error: out of memory creating the server");
        return EXIT_FAILURE;
    }

    rc = sc_server_listen(app->server, err, sizeof(err));
    if (rc == 0)
        rc = announce(app);
    else {
        sc_log("error: %s; choose another --listen or --port", err);
        rc = EXIT_FAILURE;
    }
    if (rc != 0 || app->status != 0) {
        sc_server_stop(app->server, 0, on_server_stopped, app);
        uv_run(&app->loop, UV_RUN_DEFAULT);
        return rc;
    }

    start_handles(app);
    uv_run(&app->loop, UV_RUN_DEFAULT);
    return app->status;
}

int main(int argc, char **argv)
{
    struct app app;
    char err[512];
    int status;

    memset(&app, 0, sizeof(app));
    if (options_parse(argc, argv, &app.opts, err, sizeof(err)) != 0) {
        fprintf(stderr, "smtpcatch: %s\n", err);
        return EXIT_INVALID_USAGE;
    }
    if (app.opts.help) {
        options_print_help();
        return EXIT_SUCCESS;
    }
    if (app.opts.version) {
        printf("smtpcatch %s\n", SC_VERSION);
        return EXIT_SUCCESS;
    }

    /* A closed stdout must show up as EPIPE from write(), not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&app.loop) != 0) {
        sc_log("error: cannot initialize the event loop");
        return EXIT_FAILURE;
    }

    status = run(&app);
    sc_server_free(app.server);
    if (uv_loop_close(&app.loop) != 0)
        sc_log("warning: event loop closed with handles still open");
    return status;
}
