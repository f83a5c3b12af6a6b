/*
 * Growable byte buffer: reserve, append, consume from the front.
 */
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAPACITY 256

int sc_buf_reserve(struct sc_buf *b, size_t extra)
{
    size_t need, cap;
    char *grown;

    if (extra > SIZE_MAX - b->len)
        return -1;
    need = b->len + extra;
    if (need <= b->cap)
        return 0;

    cap = b->cap ? b->cap : MIN_CAPACITY;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;

    grown = realloc(b->data, cap);
    if (grown == NULL)
        return -1;
    b->data = grown;
    b->cap = cap;
    return 0;
}

int sc_buf_append(struct sc_buf *b, const void *bytes, size_t n)
{
    if (n == 0)
        return 0;
    if (sc_buf_reserve(b, n) != 0)
        return -1;

    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    return 0;
}

int sc_buf_append_str(struct sc_buf *b, const char *s)
{
    return sc_buf_append(b, s, strlen(s));
}

void sc_buf_consume(struct sc_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void sc_buf_clear(struct sc_buf *b)
{
    b->len = 0;
}

void sc_buf_free(struct sc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
