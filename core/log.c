/*
 * stderr logging: one whole line per call, so lines never interleave. When
 * stderr is a pipe or a socket it is written without blocking, so a reader
 * that does not read it cannot stall the server. A line that does not fit
 * is dropped and counted, and the next line that fits comes after a
 * warning with the count.
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "fdwrite.h"

/* Plain blocking writes until sc_log_nonblocking. */
static struct sc_fdwriter stderr_writer = {.fd = STDERR_FILENO, .kind = SC_FD_PLAIN};
static unsigned long long dropped;  /* Lines dropped since the last warning. */

/* Write a whole line, or nothing when stderr has no room: a pipe takes a
 * write of up to PIPE_BUF bytes whole or not at all (POSIX). A socket may
 * take part of a line, and its rest is lost with the line. Returns true
 * when the line, or part of it, was written. */
static bool write_line(const char *line, size_t len)
{
    return sc_fdwriter_write(&stderr_writer, line, len) > 0;
}

/* Write the warning about dropped lines, if any. Returns false when it did
 * not fit either. */
static bool report_dropped(void)
{
    char warning[160];
    int n;

    if (dropped == 0)
        return true;
    n = snprintf(warning, sizeof(warning),
                 "smtpcatch: warning: log lines dropped because stderr was not read: %llu; "
                 "read stderr or send it to a file\n", dropped);
    if (!write_line(warning, (size_t)n))
        return false;
    dropped = 0;
    return true;
}

void sc_log(const char *fmt, ...)
{
    char line[1040] = "smtpcatch: ";
    size_t prefix = sizeof("smtpcatch: ") - 1, len;
    size_t room = sizeof(line) - prefix - 1;    /* The text and its NUL; the newline follows. */
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line + prefix, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    len = prefix + ((size_t)n < room ? (size_t)n : room - 1);
    line[len++] = '\n';

    if (!report_dropped() || !write_line(line, len))
        dropped++;
}

void sc_log_nonblocking(void)
{
    sc_fdwriter_init(&stderr_writer, STDERR_FILENO);
}

void sc_log_finish(void)
{
    report_dropped();
}

void sc_log_escape(char *dst, const char *bytes, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, n = len < max ? len : max;
    unsigned char c;

    for (i = 0; i < n; i++) {
        c = (unsigned char)bytes[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            *dst++ = (char)c;
            continue;
        }
        *dst++ = '\\';
        *dst++ = 'x';
        *dst++ = hex[c >> 4];
        *dst++ = hex[c & 15];
    }
    if (len > max) {
        *dst++ = '.';
        *dst++ = '.';
        *dst++ = '.';
    }
    *dst = '\0';
}
