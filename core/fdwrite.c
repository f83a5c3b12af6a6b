/* pwritev2 and RWF_NOWAIT are Linux extensions. */
#define _GNU_SOURCE

#include "fdwrite.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* RWF_NOWAIT also fails with EAGAIN when the pipe's lock is busy, as when
 * its reader is reading at that moment, although the pipe has room. A
 * pipe that polls writable is retried this many times before it counts as
 * full. */
#define PIPE_LOCK_RETRIES 8

bool sc_fdwriter_init(struct sc_fdwriter *w, int fd)
{
    struct stat st;

    w->fd = fd;
    w->kind = SC_FD_PLAIN;
    if (fstat(fd, &st) != 0 || (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)))
        return false;

    w->kind = S_ISSOCK(st.st_mode) ? SC_FD_SOCKET : SC_FD_PIPE;
    return true;
}

/* Return true when poll reports one of events on the pipe now. POLLOUT
 * means room for at least one page of PIPE_BUF bytes or more, and POLLERR
 * or POLLHUP a reader that is gone, so a write fails at once. */
static bool pipe_ready(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};

    return poll(&pfd, 1, 0) == 1 && (pfd.revents & events);
}

/* Write to a pipe whose kernel rejects RWF_NOWAIT: older kernels reject it
 * for every pipe, and Linux 6.18 still does for a FIFO opened by path, or
 * reopened through /proc/self/fd. A write of at most
 * PIPE_BUF bytes fits in the free page that POLLOUT promises. NOTE: another
 * process writing to the same pipe can take that page between the poll and
 * the write, and the write then waits until the reader makes room. */
static ssize_t write_polled(int fd, const char *bytes, size_t len)
{
    if (!pipe_ready(fd, POLLOUT | POLLERR | POLLHUP)) {
        errno = EAGAIN;
        return -1;
    }
    return write(fd, bytes, len < PIPE_BUF ? len : PIPE_BUF);
}

static ssize_t write_nowait(struct sc_fdwriter *w, const char *bytes, size_t len)
{
#ifdef RWF_NOWAIT
    struct iovec iov = {.iov_base = (void *)bytes, .iov_len = len};
    ssize_t n;
    int tries = 0;

    do {
        n = pwritev2(w->fd, &iov, 1, -1, RWF_NOWAIT);
    } while (n < 0 && errno == EAGAIN && ++tries <= PIPE_LOCK_RETRIES &&
             pipe_ready(w->fd, POLLOUT));
    if (n >= 0 || (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOSYS))
        return n;
#endif
    w->kind = SC_FD_PIPE_POLLED;
    return write_polled(w->fd, bytes, len);
}

/* One write attempt of the kind w uses. */
static ssize_t write_once(struct sc_fdwriter *w, const char *bytes, size_t len)
{
    switch (w->kind) {
    case SC_FD_SOCKET:
        return send(w->fd, bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    case SC_FD_PIPE:
        return write_nowait(w, bytes, len);
    case SC_FD_PIPE_POLLED:
        return write_polled(w->fd, bytes, len);
    default:
        return write(w->fd, bytes, len);
    }
}

ssize_t sc_fdwriter_write(struct sc_fdwriter *w, const char *bytes, size_t len)
{
    size_t done = 0;
    ssize_t n;

    while (done < len) {
        n = write_once(w, bytes + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return n < 0 ? -errno : -EIO;
    }
    return (ssize_t)done;
}
