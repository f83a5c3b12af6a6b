/*
 * stderr logging: one whole line per call, so lines never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void sc_log(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    fprintf(stderr, "smtpcatch: %s\n", line);
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
