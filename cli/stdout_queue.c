/*
 * Non-blocking stdout: direct writes first, a queue drained by a libuv poll
 * handle when the pipe is full.
 */
#include "stdout_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdwrite.h"

static void settle(struct stdout_queue *q)
{
    if (q->poll_active) {
        uv_poll_stop(&q->poll);
        q->poll_active = false;
    }
    if (q->on_settled)
        q->on_settled(q->arg);
}

static void on_writable(uv_poll_t *poll, int status, int events)
{
    struct stdout_queue *q = poll->data;
    ssize_t n;

    (void)events;
    n = status < 0 ? status : sc_write_available(q->fd, q->pending.data + q->head,
                                              q->pending.len - q->head);
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

int stdout_queue_init(struct stdout_queue *q, uv_loop_t *loop, int fd)
{
    struct stat st;
    int flags;

    memset(q, 0, sizeof(*q));
    q->fd = fd;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
        return 0;

    /* Only our own end of the pipe changes mode; the reader's end has its
     * own flags. The mode is restored at close for anyone who shares it. */
    flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -errno;
    if (!(flags & O_NONBLOCK)) {
        if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
            return -errno;
        q->restore_blocking = true;
    }
    if (uv_poll_init(loop, &q->poll, fd) == 0) {
        q->poll.data = q;
        q->poll_ready = true;
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
        n = sc_write_available(q->fd, bytes, len);
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
    if (!q->poll_active) {
        uv_poll_start(&q->poll, UV_WRITABLE, on_writable);
        q->poll_active = true;
    }
    return 0;
}

size_t stdout_queue_pending(const struct stdout_queue *q)
{
    return q->pending.len - q->head;
}

void stdout_queue_close(struct stdout_queue *q)
{
    int flags;

    sc_buf_free(&q->pending);
    q->head = 0;
    if (q->poll_ready) {
        uv_close((uv_handle_t *)&q->poll, NULL);
        q->poll_ready = false;
        q->poll_active = false;
    }
    if (q->restore_blocking) {
        flags = fcntl(q->fd, F_GETFL);
        if (flags >= 0)
            fcntl(q->fd, F_SETFL, flags & ~O_NONBLOCK);
        q->restore_blocking = false;
    }
}
