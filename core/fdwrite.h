/*
 * Writes that never block, to a descriptor that may be a pipe or socket
 * whose reader has stopped reading. The descriptor's open file description
 * is left blocking where the kernel allows it, because other processes may
 * share it: a shell pipeline or a CI job's log pipe would hand them EAGAIN
 * if smtpcatch set O_NONBLOCK on it.
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
    SC_FD_NONBLOCKING,          /* O_NONBLOCK is set on it: plain write(2). */
};

/* A descriptor to write without blocking. It borrows fd. */
struct sc_fdwriter {
    int fd;
    enum sc_fd_kind kind;
    bool set_nonblocking;       /* This writer set O_NONBLOCK and clears it at the end. */
};

/* Fill w for fd. Returns true when fd is a pipe or socket, which can make a
 * write wait, and false for a file or terminal, which w writes plainly. */
bool sc_fdwriter_init(struct sc_fdwriter *w, int fd);

/* Write what fd takes now, retrying after EINTR. Returns the bytes written,
 * which is less than len when fd would block, or -errno for another error.
 * A pipe takes a write of up to PIPE_BUF bytes whole or not at all. */
ssize_t sc_fdwriter_write(struct sc_fdwriter *w, const char *bytes, size_t len);

/* Clear O_NONBLOCK if this writer set it. */
void sc_fdwriter_finish(struct sc_fdwriter *w);

#ifdef __cplusplus
}
#endif

#endif
