/*
 * A growable byte buffer. The session uses it for replies and message data,
 * the server for bytes that a read left unparsed. Growth is geometric, so
 * appending n bytes one piece at a time costs O(n) in all.
 */
#ifndef SC_BUF_H
#define SC_BUF_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Owns data, which is NULL until the first append. len bytes are in use. */
struct sc_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Make room for at least extra more bytes. Returns 0, or -1 when out of memory. */
int sc_buf_reserve(struct sc_buf *b, size_t extra);

int sc_buf_append(struct sc_buf *b, const void *bytes, size_t n);
int sc_buf_append_str(struct sc_buf *b, const char *s);

/* Drop the first n bytes and move the rest to the front. */
void sc_buf_consume(struct sc_buf *b, size_t n);

/* Keep the memory but mark the buffer empty. */
void sc_buf_clear(struct sc_buf *b);

/* Free the memory. The buffer is then empty and may be used again. */
void sc_buf_free(struct sc_buf *b);

#ifdef __cplusplus
}
#endif

#endif
