/* pwritev2 and RWF_NOWAIT are Linux extensions. */
#define _GNU_SOURCE

#include "fdwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

bool sc_fdwriter_init(struct sc_fdwriter *w, int fd)
{
    struct stat st;
    int flags;

    w->fd = fd;
    w->kind = SC_FD_PLAIN;
    w->set_nonblocking = false;
    if (fstat(fd, &st) != 0 || (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)))
        return false;

    flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK))
        w->kind = SC_FD_NONBLOCKING;
    else
        w->kind = S_ISSOCK(st.st_mode) ? SC_FD_SOCKET : SC_FD_PIPE;
    return true;
}

/* Set O_NONBLOCK on a pipe whose kernel rejects RWF_NOWAIT (Linux before
 * pipes supported it). Other processes that share the pipe then see it
 * non-blocking too, which is the lesser harm than a server that stalls. */
static void fall_back_to_nonblocking(struct sc_fdwriter *w)
{
    int flags = fcntl(w->fd, F_GETFL);

    if (flags >= 0 && !(flags & O_NONBLOCK) && fcntl(w->fd, F_SETFL, flags | O_NONBLOCK) == 0)
        w->set_nonblocking = true;
    w->kind = SC_FD_NONBLOCKING;
}

/* RWF_NOWAIT also fails with EAGAIN when the pipe's lock is busy, as when
 * its reader is reading at that moment, although the pipe has room. A
 * pipe that polls writable is retried this many times before it counts as
 * full. */
#define PIPE_LOCK_RETRIES 8

static bool pipe_has_room(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};

    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT);
}

/* One write attempt of the kind w uses. */
static ssize_t write_once(struct sc_fdwriter *w, const char *bytes, size_t len)
{
    switch (w->kind) {
    case SC_FD_SOCKET:
        return send(w->fd, bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    case SC_FD_PIPE: {
#ifdef RWF_NOWAIT
        struct iovec iov = {.iov_base = (void *)bytes, .iov_len = len};
        ssize_t n;
        int tries = 0;

        do {
            n = pwritev2(w->fd, &iov, 1, -1, RWF_NOWAIT);
        } while (n < 0 && errno == EAGAIN && ++tries <= PIPE_LOCK_RETRIES &&
                 pipe_has_room(w->fd));
        if (n >= 0 || (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOSYS))
            return n;
#endif
        fall_back_to_nonblocking(w);
        return write(w->fd, bytes, len);
    }
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

void sc_fdwriter_finish(struct sc_fdwriter *w)
{
    int flags;

    if (!w->set_nonblocking)
        return;
    flags = fcntl(w->fd, F_GETFL);
    if (flags >= 0)
        fcntl(w->fd, F_SETFL, flags & ~O_NONBLOCK);
    w->set_nonblocking = false;
}
