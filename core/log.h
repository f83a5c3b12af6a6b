/*
 * Log lines on stderr, which is the only place for them: stdout carries JSON.
 * Every line starts with "smtpcatch: ".
 */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Write one line, cut at about 1 KiB. With sc_log_nonblocking in effect, a
 * line that stderr has no room for is dropped and counted. */
void sc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write stderr without blocking from now on when it is a pipe or a socket,
 * so a reader that stops reading cannot stall the caller's event loop. */
void sc_log_nonblocking(void);

/* Report lines still dropped, if stderr has room. */
void sc_log_finish(void);

/* Write bytes into dst (size at least 4 * max + 8) as printable ASCII: other
 * bytes become \xNN, and input past max bytes is cut and marked with "...". */
void sc_log_escape(char *dst, const char *bytes, size_t len, size_t max);

#ifdef __cplusplus
}
#endif

#endif
