/*
 * Writes that do not wait, to a descriptor that may be a pipe or socket
 * whose reader has stopped reading. The writer does not change the
 * descriptor's mode, because other processes may share its open file
 * description, and O_NONBLOCK on a shell pipeline or a CI job's log pipe
 * would hand their writes EAGAIN.
 */
#ifndef SC_FDWRITE_H
#define SC_FDWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The write call that a descriptor gets, by its type. */
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
