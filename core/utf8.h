/*
 * UTF-8 validation as RFC 3629 defines it: no overlong forms, no surrogates,
 * nothing above U+10FFFF. Addresses and JSON output both depend on it.
 */
#ifndef SC_UTF8_H
#define SC_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return the length (1 to 4) of the valid sequence at s, or 0 if it is
 * invalid or cut short by avail, which must be at least 1. */
size_t sc_utf8_sequence_len(const unsigned char *s, size_t avail);

bool sc_utf8_valid(const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif
