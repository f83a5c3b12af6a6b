/*
 * Non-blocking stdout: direct writes first, a queue drained by a libuv poll
 * handle when the pipe is full.
 */
#include "stdout_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdwrite.h"

static void on_poll(uv_poll_t *poll, int status, int events);

/* Watch for room in the pipe while bytes are queued, and for the reader's
 * hang-up at all times, so a reader that goes away while no message
 * arrives still ends the program. The hang-up watch requests POLLPRI, which
 * pipes and sockets seldom raise, because epoll reports POLLERR and POLLHUP
 * with any event set, and POLLIN would also fire on a peer's half-close or
 * input. The poll handle is restarted only when the set of events changes. */
static void watch(struct stdout_queue *q)
{
    int events = 0;

    if (!q->poll_ready)
        return;
    if (q->error == 0 && stdout_queue_pending(q) > 0)
        events |= UV_WRITABLE;
    if (q->error == 0 && q->watch_hangup)
        events |= UV_PRIORITIZED;
    if (events == q->poll_events)
        return;

    if (events == 0)
        uv_poll_stop(&q->poll);
    else
        uv_poll_start(&q->poll, events, on_poll);
    q->poll_events = events;
}

static void settle(struct stdout_queue *q)
{
    watch(q);
    if (q->on_settled)
        q->on_settled(q->arg);
}

/* A hang-up shows as POLLERR on a pipe whose reader closed, or on a TCP
 * socket reset by its peer, and as POLLHUP on a Unix socket whose peer
 * closed. libuv reports POLLERR alone as an error status, and either of
 * them with POLLPRI merged in. Returns true when the reader is gone.
 * Urgent data from a reader is no hang-up, and stops the watch, since it
 * would otherwise wake the loop until read. */
static bool reader_gone(struct stdout_queue *q, int status, int events)
{
    struct pollfd pfd = {.fd = q->fd, .events = POLLPRI};

    if (status < 0)
        return true;
    if (!(events & UV_PRIORITIZED))
        return false;
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)))
        return true;
    q->watch_hangup = false;
    watch(q);
    return false;
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct stdout_queue *q = poll->data;
    ssize_t n;

    if (reader_gone(q, status, events)) {
        q->error = -EPIPE;
        settle(q);
        return;
    }
    if (!(events & UV_WRITABLE))
        return;

    n = sc_fdwriter_write(&q->writer, q->pending.data + q->head, q->pending.len - q->head);
    if (n < 0) {
        q->error = (int)n;
        settle(q);
        return;
    }

    if (n > 0)
        q->line_open = q->pending.data[q->head + (size_t)n - 1] != '\n';
    q->head += (size_t)n;
    if (q->head == q->pending.len) {
        sc_buf_free(&q->pending);
        q->head = 0;
        settle(q);
    } else if (q->head > q->pending.len / 2) {
        /* Compact only past half, so the moves cost O(n) in all. */
        sc_buf_consume(&q->pending, q->head);
        q->head = 0;
    }
}

static void clear_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags >= 0 && (flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

int stdout_queue_init(struct stdout_queue *q, uv_loop_t *loop, int fd)
{
    struct stat st;
    int flags;

    memset(q, 0, sizeof(*q));
    q->fd = fd;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!sc_fdwriter_init(&q->writer, fd))
        return 0;

    flags = fcntl(fd, F_GETFL);
    if (uv_poll_init(loop, &q->poll, fd) == 0) {
        /* libuv sets O_NONBLOCK on a descriptor it polls, but the writer
         * does not need it, and other processes may share the pipe. */
        if (flags >= 0 && !(flags & O_NONBLOCK))
            clear_nonblocking(fd);
        q->poll.data = q;
        q->poll_ready = true;
        q->watch_hangup = true;
        watch(q);
    }
    return 0;
}

int stdout_queue_write(void *queue, const char *bytes, size_t len)
{
    struct stdout_queue *q = queue;
    ssize_t n = 0;

    if (q->error != 0)
        return q->error;

    if (stdout_queue_pending(q) == 0) {
        n = sc_fdwriter_write(&q->writer, bytes, len);
        if (n < 0) {
            q->error = (int)n;
            return q->error;
        }
        if (n > 0)
            q->line_open = bytes[n - 1] != '\n';
        if ((size_t)n == len)
            return 0;
    }

    if (!q->poll_ready) {
        /* A descriptor that poll cannot watch never returns EAGAIN. */
        q->error = -EIO;
        return q->error;
    }
    if (sc_buf_append(&q->pending, bytes + n, len - (size_t)n) != 0) {
        q->error = -ENOMEM;
        return q->error;
    }
    watch(q);
    return 0;
}

size_t stdout_queue_pending(const struct stdout_queue *q)
{
    return q->pending.len - q->head;
}

void stdout_queue_close(struct stdout_queue *q)
{
    sc_buf_free(&q->pending);
    q->head = 0;
    if (q->poll_ready) {
        uv_close((uv_handle_t *)&q->poll, NULL);
        q->poll_ready = false;
        q->poll_events = 0;
    }
}
