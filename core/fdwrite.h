/*
 * Writes that never block, to a descriptor that may be a pipe or socket
 * whose reader has stopped reading. The descriptor's mode is never
 * changed, because other processes may share its open file description: a
 * shell pipeline or a CI job's log pipe would hand them EAGAIN if
 * smtpcatch set O_NONBLOCK on it.
 */
#ifndef SC_FDWRITE_H
#define SC_FDWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How writes to a descriptor avoid blocking. */
enum sc_fd_kind {
    SC_FD_PLAIN,                /* A file or terminal: plain write(2). */
    SC_FD_SOCKET,               /* send(2) with MSG_DONTWAIT. */
    SC_FD_PIPE,                 /* pwritev2(2) with RWF_NOWAIT. */
    SC_FD_PIPE_POLLED,          /* A pipe that rejects RWF_NOWAIT: write(2) of at most
                                 * PIPE_BUF bytes once poll(2) reports room. */
};

/* A descriptor to write without blocking. It borrows fd. */
struct sc_fdwriter {
    int fd;
    enum sc_fd_kind kind;
};

/* Fill w for fd. Returns true when fd is a pipe or socket, which can make a
 * write wait, and false for a file or terminal, which w writes plainly. */
bool sc_fdwriter_init(struct sc_fdwriter *w, int fd);

/* Write what fd takes now, retrying after EINTR. Returns the bytes written,
 * which is less than len when fd would block, or -errno for another error.
 * A pipe takes a write of up to PIPE_BUF bytes whole or not at all. */
ssize_t sc_fdwriter_write(struct sc_fdwriter *w, const char *bytes, size_t len);

#ifdef __cplusplus
}
#endif

#endif
