/*
 * UTF-8 validation with a fast path for runs of ASCII.
 */
#include "utf8.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t sc_utf8_sequence_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;

    if (c >= 0xC2 && c <= 0xDF) {
        if (avail < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }

    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0;               /* Overlong form of a code point below U+0800. */
        if (c == 0xED && s[1] > 0x9F)
            return 0;               /* UTF-16 surrogates U+D800 to U+DFFF. */
        return 3;
    }

    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0;               /* Overlong form of a code point below U+10000. */
        if (c == 0xF4 && s[1] > 0x8F)
            return 0;               /* Above U+10FFFF. */
        return 4;
    }

    return 0;
}

bool sc_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    uint64_t word;
    size_t n;

    while (p < end) {
#if defined(__SSE2__)
        /* Skip sixteen ASCII bytes at a time: mail is mostly ASCII. */
        if (end - p >= 16 &&
            _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)p)) == 0) {
            p += 16;
            continue;
        }
#endif
        /* Skip eight ASCII bytes at a time: mail is mostly ASCII. */
        if (end - p >= 8) {
            memcpy(&word, p, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                p += 8;
                continue;
            }
        }

        n = sc_utf8_sequence_len(p, (size_t)(end - p));
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}
