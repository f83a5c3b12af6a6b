/*
 * Tests of writes that never block: pipes and sockets whose reader does
 * not read, files, and the mode of the shared open file description.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdwrite.h"
#include "suites.h"

#define BIG (4 * 1024 * 1024)   /* More than any pipe or socket buffer takes. */

static char *big_buffer(void)
{
    char *bytes = malloc(BIG);

    ck_assert_ptr_nonnull(bytes);
    memset(bytes, 'x', BIG);
    return bytes;
}

static bool is_nonblocking(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

/* A full pipe or socket takes part of a write, then nothing, and its
 * descriptor stays blocking for the other processes that share it. */
static void check_fills_without_blocking(int reader, int writer, enum sc_fd_kind kind)
{
    struct sc_fdwriter w;
    char *bytes = big_buffer();
    ssize_t first, second;

    ck_assert(sc_fdwriter_init(&w, writer));
    ck_assert_int_eq(w.kind, kind);
    first = sc_fdwriter_write(&w, bytes, BIG);
    second = sc_fdwriter_write(&w, bytes, BIG);

    ck_assert_int_gt(first, 0);
    ck_assert_int_lt(first, BIG);
    ck_assert_int_eq(second, 0);
    ck_assert(!is_nonblocking(writer));

    free(bytes);
    close(reader);
    close(writer);
}

START_TEST(test_fdwrite_pipe_full)
{
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    check_fills_without_blocking(fds[0], fds[1], SC_FD_PIPE);
}
END_TEST

/* A FIFO opened by path rejects RWF_NOWAIT (Linux 6.18 included), as every
 * pipe does on older kernels, so it is written after a poll instead. */
START_TEST(test_fdwrite_fifo_full)
{
    char dir[] = "/tmp/sc-fdwrite-XXXXXX", path[64];
    struct sc_fdwriter w;
    char *bytes = big_buffer();
    int reader, writer;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    reader = open(path, O_RDONLY | O_NONBLOCK);
    writer = open(path, O_WRONLY);
    ck_assert_int_ge(reader, 0);
    ck_assert_int_ge(writer, 0);
    unlink(path);
    rmdir(dir);

    ck_assert(sc_fdwriter_init(&w, writer));
    ck_assert_int_gt(sc_fdwriter_write(&w, bytes, BIG), 0);
    ck_assert_int_eq(sc_fdwriter_write(&w, bytes, BIG), 0);
    ck_assert(!is_nonblocking(writer));
    if (w.kind == SC_FD_PIPE_POLLED) {
        /* Polled writes stay whole up to PIPE_BUF: a small line fits once
         * a page is free. */
        ck_assert_int_eq(read(reader, bytes, PIPE_BUF), PIPE_BUF);
        ck_assert_int_eq(sc_fdwriter_write(&w, "line\n", 5), 5);
    }

    free(bytes);
    close(reader);
    close(writer);
}
END_TEST

START_TEST(test_fdwrite_socket_full)
{
    int fds[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    check_fills_without_blocking(fds[0], fds[1], SC_FD_SOCKET);
}
END_TEST

/* A pipe takes a write of up to PIPE_BUF bytes whole or not at all, which
 * the log relies on to keep lines whole. */
START_TEST(test_fdwrite_pipe_small_write_whole_or_nothing)
{
    struct sc_fdwriter w;
    char *bytes = big_buffer();
    char drained[100];
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    sc_fdwriter_init(&w, fds[1]);
    ck_assert_int_gt(sc_fdwriter_write(&w, bytes, BIG), 0);
    ck_assert_int_eq(read(fds[0], drained, sizeof(drained)), (ssize_t)sizeof(drained));

    /* Less than PIPE_BUF bytes of room: a line of PIPE_BUF bytes waits. */
    ck_assert_int_eq(sc_fdwriter_write(&w, bytes, PIPE_BUF), 0);

    free(bytes);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(test_fdwrite_file_written_plainly)
{
    char path[] = "/tmp/sc-fdwrite-XXXXXX";
    struct sc_fdwriter w;
    char *bytes = big_buffer();
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert(!sc_fdwriter_init(&w, fd));
    ck_assert_int_eq(w.kind, SC_FD_PLAIN);
    ck_assert_int_eq(sc_fdwriter_write(&w, bytes, BIG), BIG);
    ck_assert_int_eq(lseek(fd, 0, SEEK_END), BIG);

    free(bytes);
    close(fd);
}
END_TEST

/* A pipe that is non-blocking already is written and left so. */
START_TEST(test_fdwrite_nonblocking_pipe_kept)
{
    struct sc_fdwriter w;
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    ck_assert(sc_fdwriter_init(&w, fds[1]));
    ck_assert_int_eq(sc_fdwriter_write(&w, "abc", 3), 3);
    ck_assert(is_nonblocking(fds[1]));

    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* A reader that went away is an error, and a socket's raises no SIGPIPE. */
START_TEST(test_fdwrite_reader_gone)
{
    struct sc_fdwriter w;
    void (*previous)(int);
    int fds[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    close(fds[0]);
    sc_fdwriter_init(&w, fds[1]);
    ck_assert_int_eq(sc_fdwriter_write(&w, "abc", 3), -EPIPE);
    close(fds[1]);

    previous = signal(SIGPIPE, SIG_IGN);
    ck_assert_int_eq(pipe(fds), 0);
    close(fds[0]);
    sc_fdwriter_init(&w, fds[1]);
    ck_assert_int_eq(sc_fdwriter_write(&w, "abc", 3), -EPIPE);
    close(fds[1]);
    signal(SIGPIPE, previous);
}
END_TEST

Suite *suite_fdwrite(void)
{
    Suite *s = suite_create("fdwrite");
    TCase *tc = tcase_create("writes");

    tcase_add_test(tc, test_fdwrite_pipe_full);
    tcase_add_test(tc, test_fdwrite_fifo_full);
    tcase_add_test(tc, test_fdwrite_socket_full);
    tcase_add_test(tc, test_fdwrite_pipe_small_write_whole_or_nothing);
    tcase_add_test(tc, test_fdwrite_file_written_plainly);
    tcase_add_test(tc, test_fdwrite_nonblocking_pipe_kept);
    tcase_add_test(tc, test_fdwrite_reader_gone);
    suite_add_tcase(s, tc);
    return s;
}
