/*
 * Log lines on stderr, which is the only place for them: stdout carries JSON.
 * Every line starts with "smtpcatch: ".
 */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stddef.h>

void sc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write bytes into dst (size at least 4 * max + 8) as printable ASCII: other
 * bytes become \xNN, and input past max bytes is cut and marked with "...". */
void sc_log_escape(char *dst, const char *bytes, size_t len, size_t max);

#endif
