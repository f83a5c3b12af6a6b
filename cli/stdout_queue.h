/*
 * Output to stdout that does not block the event loop on a pipe or socket.
 * A line is written at once when stdout takes it; when stdout is a pipe
 * that is full, the rest is queued in order and written as the reader
 * makes room. So a reader that waits for its SMTP client before it reads
 * cannot deadlock the server, and timers and signals keep working. Files
 * and terminals are written directly, since they do not fill up. A pipe or
 * socket is also watched for its reader going away, so that shows even
 * while nothing is written.
 *
 * NOTE: the queue has no size limit. A reader that never reads makes it
 * grow by each message's JSON line, about the message's size.
 */
#ifndef SC_STDOUT_QUEUE_H
#define SC_STDOUT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"
#include "fdwrite.h"

/* Owns the poll handle and the queued bytes; borrows the loop. */
struct stdout_queue {
    int fd;
    struct sc_fdwriter writer;
    struct sc_buf pending;      /* Bytes not yet written, from offset head. */
    size_t head;
    uv_poll_t poll;
    bool poll_ready;            /* poll is initialized (only for pipes and sockets). */
    int poll_events;            /* UV_WRITABLE, UV_PRIORITIZED, both, or 0 when poll is stopped. */
    bool watch_hangup;          /* Whether the reader going away is watched for. */
    int error;                  /* 0, or the first write error as -errno. Sticky. */
    bool line_open;             /* The last byte written was not a newline. */

    /* Called when the queue becomes empty, on a write error, and when the
     * reader goes away (error -EPIPE). Optional. */
    void (*on_settled)(void *arg);
    void *arg;
};

/* Prepare fd for queued writes. Pipes and sockets are written without
 * blocking; files, terminals and /dev/null are written directly. Returns 0
 * or -errno. */
int stdout_queue_init(struct stdout_queue *q, uv_loop_t *loop, int fd);

/* Write bytes after everything queued before them. Returns 0 when the bytes
 * are written or queued, or the sticky error (-EPIPE when the reader closed
 * the pipe). Matches the writer signature of output.h. */
int stdout_queue_write(void *queue, const char *bytes, size_t len);

size_t stdout_queue_pending(const struct stdout_queue *q);

/* Drop what is queued and close the poll handle. The loop must run once
 * more to finish the close. */
void stdout_queue_close(struct stdout_queue *q);

#endif
