/*
 * smtpcatch: run the SMTP server on localhost, print a ready line, then one
 * JSON line per message, and exit by the rules of --count and --timeout.
 * The server and the JSON rendering live in the core library; this file
 * owns stdout, the exit status, signals and the port file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "options.h"
#include "output.h"
#include "server.h"
#include "stdout_queue.h"

#define EXIT_INVALID_USAGE 2
#define EXIT_TIMED_OUT 124

/* announce() returns this when the server should go on running. */
#define KEEP_RUNNING (-1)

/* Once --count is reached, sessions that are open get this many seconds to
 * say QUIT before they are sent 421, so the last client sees a clean end. */
#define COUNT_GRACE_SECONDS 1.0

/* After a stop by signal or --timeout, queued output gets this long to
 * reach a reader that is not reading before it is dropped. */
#define DRAIN_SECONDS 1.0

/* The signals that stop smtpcatch, SIGHUP among them because a closed
 * terminal sends it, and their names for the log. */
static const struct {
    int signum;
    const char *name;
} STOP_SIGNALS[] = {{SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}, {SIGHUP, "SIGHUP"}};
#define STOP_SIGNALS_LEN (sizeof(STOP_SIGNALS) / sizeof(STOP_SIGNALS[0]))

/* The program's state. It owns the loop's handles, the server and the
 * stdout queue. */
struct app {
    uv_loop_t loop;
    struct options opts;
    struct sc_server *server;
    struct sc_tls_context *tls_ctx;     /* NULL unless --tls is given. */
    struct stdout_queue out;
    uv_timer_t timeout_timer;
    uv_timer_t stop_timer;      /* Defers an error stop out of the message callback. */
    uv_timer_t drain_timer;     /* Bounds the wait for a reader after a stop. */
    uv_signal_t signals[STOP_SIGNALS_LEN];
    unsigned long long written; /* Message lines written or queued on stdout. */
    bool stopping;
    bool stop_pending;
    bool server_stopped;
    bool output_abandoned;      /* Queued output is no longer waited for. */
    bool finished;
    bool port_file_written;
    int status;
};

static void app_stop(struct app *app, double grace, int status);

/* Flush what printf wrote, such as --help, and return the exit status. A
 * full disk or a closed stdout is a failure, as for any command. */
static int finish_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        sc_log("error: cannot write to stdout: %s", strerror(errno));
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

static void on_handle_closed(uv_handle_t *handle)
{
    (void)handle;
}

/* Block or unblock the stop signals. They are blocked from the end of
 * option parsing until libuv's handlers are installed, and again before
 * those are closed at the end. A stop signal in either gap then waits for
 * a handler, or is dropped at the exit, instead of killing the process
 * with its default action and exit status 128 + signal. */
static void block_stop_signals(bool block)
{
    sigset_t set;

    sigemptyset(&set);
    for (size_t i = 0; i < STOP_SIGNALS_LEN; i++)
        sigaddset(&set, STOP_SIGNALS[i].signum);
    sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* Close every handle once the server has stopped and stdout is written or
 * abandoned; the loop then ends. */
static void maybe_finish(struct app *app)
{
    if (app->finished || !app->server_stopped)
        return;
    if (stdout_queue_pending(&app->out) > 0 && app->out.error == 0 && !app->output_abandoned)
        return;

    app->finished = true;
    /* A line already partly in the pipe cannot be taken back. The reader
     * sees it without its newline, which marks it as incomplete. */
    if (stdout_queue_pending(&app->out) > 0 && app->out.error == 0)
        sc_log("warning: %zu bytes of output dropped: stdout was not read within %g s of "
               "the stop%s", stdout_queue_pending(&app->out), DRAIN_SECONDS,
               app->out.line_open ? "; the last line on stdout is cut off, without its newline"
                                  : "");
    uv_close((uv_handle_t *)&app->timeout_timer, on_handle_closed);
    uv_close((uv_handle_t *)&app->stop_timer, on_handle_closed);
    uv_close((uv_handle_t *)&app->drain_timer, on_handle_closed);
    block_stop_signals(true);
    for (size_t i = 0; i < STOP_SIGNALS_LEN; i++)
        uv_close((uv_handle_t *)&app->signals[i], on_handle_closed);
    stdout_queue_close(&app->out);
}

static void on_server_stopped(void *arg)
{
    struct app *app = arg;

    app->server_stopped = true;
    maybe_finish(app);
}

static void on_drain_timeout(uv_timer_t *timer)
{
    struct app *app = timer->data;

    app->output_abandoned = true;
    maybe_finish(app);
}

/* Stop waiting for a reader after DRAIN_SECONDS. */
static void start_drain_deadline(struct app *app)
{
    if (!uv_is_active((uv_handle_t *)&app->drain_timer))
        uv_timer_start(&app->drain_timer, on_drain_timeout, (uint64_t)(DRAIN_SECONDS * 1000), 0);
}

/* Called when the stdout queue empties or fails, from the poll callback. */
static void on_output_settled(void *arg)
{
    struct app *app = arg;

    if (app->out.error != 0 && !app->output_abandoned) {
        /* EPIPE: the reader went away, so there is no one left to deliver to. */
        if (app->out.error != -EPIPE)
            sc_log("error: cannot write to stdout: %s; stopping", strerror(-app->out.error));
        else if (stdout_queue_pending(&app->out) > 0)
            sc_log("warning: the reader of stdout went away with %zu bytes of output not "
                   "yet read; those messages are lost", stdout_queue_pending(&app->out));
        else if (app->opts.verbose)
            sc_log("the reader of stdout went away; stopping");
        app->output_abandoned = true;
        app_stop(app, 0, app->out.error == -EPIPE ? EXIT_SUCCESS : EXIT_FAILURE);
        if (app->out.error != -EPIPE)
            app->status = EXIT_FAILURE;
    }
    maybe_finish(app);
}

/*
 * Stop the server: the listeners close at once, and open sessions get grace
 * seconds to finish. The loop ends once the server has stopped and stdout
 * is written. Safe to call from the message callback.
 */
static void app_stop(struct app *app, double grace, int status)
{
    /* A stop at once during the grace after --count cuts the grace short,
     * and keeps the first stop's status. */
    if (app->stopping) {
        if (grace <= 0)
            sc_server_stop(app->server, 0, on_server_stopped, app);
        return;
    }
    app->stopping = true;
    app->status = status;

    uv_timer_stop(&app->stop_timer);
    sc_server_stop(app->server, grace, on_server_stopped, app);
}

static void on_stop_timer(uv_timer_t *timer)
{
    struct app *app = timer->data;

    app_stop(app, 0, app->status);
}

/* Ask for an immediate stop on the next loop iteration: the message
 * callback runs in the middle of a session's feed, which must finish and
 * send its reply before the sessions are closed. */
static void request_stop(struct app *app, int status)
{
    if (app->stop_pending || app->stopping)
        return;
    app->stop_pending = true;
    app->status = status;
    uv_timer_start(&app->stop_timer, on_stop_timer, 0, 0);
}

/* Write the message line, then let the client have its 250. The line is
 * written or queued on stdout before the reply, so a reader that waits for
 * its client to finish finds the line with no race. */
static enum sc_verdict on_message(void *arg, struct sc_message *msg)
{
    struct app *app = arg;
    struct sc_writer writer = {.write = stdout_queue_write, .arg = &app->out};
    struct timespec now;
    int rc;

    if (app->stopping || app->stop_pending)
        return SC_SHUTDOWN;

    clock_gettime(CLOCK_REALTIME, &now);
    rc = sc_output_message(msg, app->written + 1, &now, &writer);
    if (rc == -EPIPE) {
        request_stop(app, EXIT_SUCCESS);        /* The reader went away: end quietly. */
        return SC_SHUTDOWN;
    }
    if (rc != 0) {
        sc_log("error: cannot write message %llu to stdout: %s; stopping",
               app->written + 1, rc == -1 ? "out of memory" : strerror(-rc));
        request_stop(app, EXIT_FAILURE);
        return SC_SHUTDOWN;
    }

    app->written++;
    if (app->opts.count > 0 && app->written >= app->opts.count)
        app_stop(app, COUNT_GRACE_SECONDS, EXIT_SUCCESS);
    return SC_ACCEPT;
}

static void on_timeout(uv_timer_t *timer)
{
    struct app *app = timer->data;

    if (app->opts.verbose)
        sc_log("timeout after %g seconds with %llu messages written", app->opts.timeout,
               app->written);
    /* After --count the stop is under way and its status is set; the
     * timeout then only bounds the wait for a reader of stdout. */
    start_drain_deadline(app);
    app_stop(app, 0, app->opts.count > 0 ? EXIT_TIMED_OUT : EXIT_SUCCESS);
}

/* A stop signal stops at once. During a stop that waits for a reader
 * (after --count), it also bounds that wait. */
static void on_signal(uv_signal_t *handle, int signum)
{
    struct app *app = handle->data;

    if (app->opts.verbose) {
        for (size_t i = 0; i < STOP_SIGNALS_LEN; i++) {
            if (STOP_SIGNALS[i].signum == signum)
                sc_log("received %s, stopping", STOP_SIGNALS[i].name);
        }
    }
    start_drain_deadline(app);
    app_stop(app, 0, EXIT_SUCCESS);
}

/* Write text to path through a temporary file in the same directory and
 * rename(), so a reader never sees a partial file. Returns 0 or -errno. */
static int write_file_atomically(const char *path, const char *text)
{
    char tmp[4096];
    FILE *f;
    int rc = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
        return -ENAMETOOLONG;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -errno;
    if (fputs(text, f) < 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* Announce the server: the port file, then the ready line. Returns
 * KEEP_RUNNING, or the exit status when the program must stop. */
static int announce(struct app *app)
{
    struct sc_ready_info info = {0};
    struct sc_buf line = {0};
    char port_text[16];
    int rc;

    info.addresses = sc_server_addresses(app->server, &info.addresses_len);
    info.port = sc_server_port(app->server);
    info.pid = (long)getpid();
    info.version = SC_VERSION;

    if (app->opts.port_file != NULL) {
        snprintf(port_text, sizeof(port_text), "%d\n", info.port);
        rc = write_file_atomically(app->opts.port_file, port_text);
        if (rc != 0) {
            sc_log("error: cannot write port file %s: %s", app->opts.port_file, strerror(-rc));
            return EXIT_FAILURE;
        }
        app->port_file_written = true;
    }
    if (app->tls_ctx != NULL) {
        info.tls_mode = app->opts.tls_mode == TLS_IMPLICIT ? "implicit" : "starttls";
        info.tls_fingerprint = sc_tls_context_fingerprint(app->tls_ctx);
    }
    /* Unlike the port file, the certificate file stays after exit, since a
     * test may read it after smtpcatch stopped. The next start replaces it
     * before its ready line. */
    if (app->opts.tls_cert_out != NULL) {
        rc = write_file_atomically(app->opts.tls_cert_out, sc_tls_context_cert_pem(app->tls_ctx));
        if (rc != 0) {
            sc_log("error: cannot write TLS certificate file %s: %s", app->opts.tls_cert_out,
                   strerror(-rc));
            return EXIT_FAILURE;
        }
    }

    if (sc_output_ready(&line, &info) != 0) {
        sc_log("error: out of memory writing the ready line");
        return EXIT_FAILURE;
    }
    rc = stdout_queue_write(&app->out, line.data, line.len);
    sc_buf_free(&line);
    if (rc == -EPIPE)
        return EXIT_SUCCESS;
    if (rc != 0) {
        sc_log("error: cannot write the ready line to stdout: %s", strerror(-rc));
        return EXIT_FAILURE;
    }
    if (app->opts.verbose)
        sc_log("listening on port %d", info.port);
    return KEEP_RUNNING;
}

static void start_handles(struct app *app)
{
    uv_timer_init(&app->loop, &app->timeout_timer);
    uv_timer_init(&app->loop, &app->stop_timer);
    uv_timer_init(&app->loop, &app->drain_timer);
    app->timeout_timer.data = app;
    app->stop_timer.data = app;
    app->drain_timer.data = app;

    for (size_t i = 0; i < STOP_SIGNALS_LEN; i++) {
        uv_signal_init(&app->loop, &app->signals[i]);
        app->signals[i].data = app;
        uv_signal_start(&app->signals[i], on_signal, STOP_SIGNALS[i].signum);
    }
    block_stop_signals(false);
    if (app->opts.timeout > 0)
        uv_timer_start(&app->timeout_timer, on_timeout, (uint64_t)(app->opts.timeout * 1000.0), 0);
}

/* Run the server until a stop rule fires. Returns the exit status. */
static int run(struct app *app)
{
    struct sc_server_config config;
    char err[512];
    int rc;

    sc_server_config_init(&config);
    config.host = app->opts.host;
    config.port = app->opts.port;
    config.limits.max_size = app->opts.max_size;
    config.limits.max_line = app->opts.max_command_length;
    config.limits.max_rcpts = app->opts.max_recipients;
    config.limits.max_data_line = app->opts.max_line_length;
    config.limits.max_errors = app->opts.max_errors;
    config.limits.strict = app->opts.strict;
    config.limits.auth.credentials = app->opts.credentials;
    config.limits.auth.credentials_len = app->opts.credentials_len;
    config.limits.auth.required = app->opts.require_auth;
    config.limits.starttls = app->opts.tls_mode == TLS_STARTTLS;
    config.limits.require_tls = app->opts.require_tls;
    config.limits.auth_tls_only = app->opts.auth_tls_only;
    config.tls_ctx = app->tls_ctx;
    config.implicit_tls = app->opts.tls_mode == TLS_IMPLICIT;
    config.idle_timeout = app->opts.idle_timeout;
    config.max_connections = app->opts.max_connections;
    config.verbose = app->opts.verbose;
    config.on_message = on_message;
    config.arg = app;

    app->server = sc_server_new(&app->loop, &config);
    if (app->server == NULL) {
        sc_log("error: out of memory creating the server");
        return EXIT_FAILURE;
    }

    /* Catch SIGINT and SIGTERM before the ready line is written, because a
     * caller may send one as soon as it has read that line. */
    start_handles(app);

    rc = sc_server_listen(app->server, err, sizeof(err));
    if (rc == 0)
        rc = announce(app);
    else {
        /* "::1:2525" is a valid IPv6 address, so a forgotten pair of
         * brackets shows only here, when no such address is local. */
        if (rc == UV_EADDRNOTAVAIL && strchr(app->opts.host, ':') != NULL &&
            !app->opts.host_bracketed && app->opts.port == 0)
            sc_log("error: %s; an IPv6 address with a port goes in brackets, such as "
                   "--listen [::1]:2525", err);
        else
            sc_log("error: %s; choose another --listen or --port", err);
        rc = EXIT_FAILURE;
    }
    if (rc != KEEP_RUNNING)
        app_stop(app, 0, rc);

    uv_run(&app->loop, UV_RUN_DEFAULT);

    /* A port file left behind would name a port nobody listens on, and a
     * script that waits for the file would read it at its next start. */
    if (app->port_file_written)
        unlink(app->opts.port_file);
    return app->status;
}

/* Descriptors kept free of sessions. About 10 are smtpcatch's own: the
 * event loop's, the listeners, and files it opens for a moment (the port
 * file, the certificate file, the time zone). The rest is room for clients
 * being turned away, since a 421 needs a descriptor to be sent on, for up
 * to 8 implicit TLS handshakes that precede their 421, and for up to 8
 * ended sessions that wait for their clients to hang up. */
#define OWN_DESCRIPTORS 32

/* Return how many descriptors are open now, or 3 when that cannot be read. */
static size_t open_descriptors(void)
{
    DIR *dir = opendir("/proc/self/fd");
    size_t count = 0;

    if (dir == NULL)
        return 3;
    while (readdir(dir) != NULL)
        count++;
    closedir(dir);

    /* Leave out ".", ".." and the descriptor of dir itself. */
    return count > 3 ? count - 3 : 3;
}

/*
 * Raise the soft limit on open files to the hard limit, since each session
 * takes a descriptor. When even that is below the session limit, the limit
 * is lowered to fit, with a warning when it came from the command line.
 * A client past it then gets a 421: with no descriptor left to accept it
 * with, libuv would close its connection unanswered. Returns false, after
 * an error, when the limit leaves no room for one session.
 */
static bool fit_open_files_limit(struct options *opts)
{
    struct rlimit limit;
    size_t reserve, usable;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return true;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur == RLIM_INFINITY)
        return true;

    /* Below this, even one session would leave clients past it unanswered,
     * and the event loop itself may fail to start. */
    reserve = open_descriptors() + OWN_DESCRIPTORS;
    if ((size_t)limit.rlim_cur <= reserve) {
        sc_log("error: the open files limit is %llu, too low to serve one session; "
               "raise it to at least %zu with ulimit -n",
               (unsigned long long)limit.rlim_cur, reserve + 1);
        return false;
    }
    if (opts->max_connections_set && opts->max_connections == 0)
        return true;

    usable = (size_t)limit.rlim_cur - reserve;
    if (opts->max_connections > 0 && opts->max_connections <= usable)
        return true;
    if (opts->max_connections_set)
        sc_log("warning: the open files limit is %llu, too low for %zu sessions; "
               "allowing %zu (raise it with ulimit -n)",
               (unsigned long long)limit.rlim_cur, opts->max_connections, usable);
    opts->max_connections = usable;
    return true;
}

/*
 * Give each of stdin, stdout and stderr that is closed a /dev/null, so no
 * socket can get descriptor 0, 1 or 2 (libuv treats those as stdio).
 * Returns false when stdout was closed, since then no JSON can be written.
 */
static bool open_missing_stdio(void)
{
    bool stdout_open = true;
    int fd;

    for (fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        if (fd == STDOUT_FILENO)
            stdout_open = false;
        if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
            return false;
    }
    return stdout_open;
}

int main(int argc, char **argv)
{
    struct app app;
    char err[512];
    int status, rc;

    memset(&app, 0, sizeof(app));
    if (!open_missing_stdio()) {
        sc_log("error: stdout is closed; run smtpcatch with stdout open, such as a pipe or "
               "a file");
        return EXIT_FAILURE;
    }
    if (options_parse(argc, argv, &app.opts, err, sizeof(err)) != 0) {
        fprintf(stderr, "smtpcatch: %s\n", err);
        options_free(&app.opts);
        return EXIT_INVALID_USAGE;
    }
    if (app.opts.help || app.opts.version) {
        if (app.opts.help)
            options_print_help();
        else
            printf("smtpcatch %s\n", SC_VERSION);
        options_free(&app.opts);
        return finish_stdout();
    }

    /* A closed stdout must show up as EPIPE from write(), and a file over
     * the file size limit as EFBIG, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);

    /* From here on log lines do not wait for stderr, so a full stderr pipe
     * cannot hold the process while the stop signals are blocked. */
    sc_log_nonblocking();
    block_stop_signals(true);

#if defined(__GLIBC__)
    /* A fixed threshold gives every message buffer of 256 KiB or more its
     * own mapping, which free() returns to the system at once. glibc would
     * otherwise raise the threshold after the first large message and place
     * later ones in the heap, where freed memory stays with the process. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    if (!fit_open_files_limit(&app.opts)) {
        options_free(&app.opts);
        return EXIT_FAILURE;
    }

    /* The context, with its generated key, is made only when TLS is on, so
     * start-up without TLS costs nothing more. */
    if (app.opts.tls_mode != TLS_OFF) {
        app.tls_ctx = sc_tls_context_new(app.opts.tls_cert, app.opts.tls_key, err, sizeof(err));
        if (app.tls_ctx == NULL) {
            sc_log("error: %s", err);
            options_free(&app.opts);
            return EXIT_FAILURE;
        }
    }
    if (uv_loop_init(&app.loop) != 0) {
        sc_log("error: cannot initialize the event loop");
        return EXIT_FAILURE;
    }
    rc = stdout_queue_init(&app.out, &app.loop, STDOUT_FILENO);
    if (rc != 0) {
        sc_log("error: cannot prepare stdout for writing: %s", strerror(-rc));
        return EXIT_FAILURE;
    }
    app.out.on_settled = on_output_settled;
    app.out.arg = &app;

    status = run(&app);
    sc_log_finish();
    sc_server_free(app.server);
    sc_tls_context_free(app.tls_ctx);
    if (uv_loop_close(&app.loop) != 0)
        sc_log("warning: event loop closed with handles still open");
    options_free(&app.opts);
    return status;
}
