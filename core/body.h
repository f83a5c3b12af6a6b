/*
 * The body of one message as it arrives: DATA with its dot-stuffing and
 * end marker, or BDAT chunks taken byte for byte (RFC 3030). It stores the
 * bytes up to the size limit, discards the rest as it arrives, and notes
 * how the body deviates from RFC 5321 and 5322 for the warnings member.
 * The session owns one; nothing here replies to the client.
 */
#ifndef SC_BODY_H
#define SC_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Owns data. Reset between messages; free with the session. */
struct sc_body {
    struct sc_buf data;         /* The message after dot-unstuffing. */
    size_t max_size;            /* Bytes kept at most; past it, too_big. */
    size_t max_line;            /* Maximum line length, without its ending. 0: no limit. */
    size_t expected;            /* Size the client declared with SIZE=, or 0. */
    size_t populated;           /* Bytes of data at the front whose pages are already mapped. */
    bool too_big;
    bool line_too_long;
    unsigned warnings;          /* SC_WARN_* bits; complete after sc_body_end. */
    bool eight_bit;             /* A byte above 0x7F was seen. */

    /* DATA decoding across feeds. */
    bool line_start;            /* The last byte fed ended a CRLF line. */
    bool last_cr;               /* The last byte fed was CR. */

    /* Line scanning across feeds and appends. */
    size_t line_len;            /* Bytes of the current line so far, CR included. */
    unsigned char line_first;   /* First byte of the current line. */
    bool scan_last_cr;          /* The last byte scanned was CR. */
    bool prev_bare_lf;          /* The previous line ended with a bare LF. */
    unsigned long long cr_count;    /* CR bytes stored. */
    unsigned long long crlf_count;  /* CR LF pairs stored; fewer than CRs means a bare CR. */
};

/* Start a new body. */
void sc_body_begin(struct sc_body *b, size_t max_size, size_t max_line);

/*
 * Consume DATA bytes up to and including the end marker <CRLF>.<CRLF>.
 * in may be a window from sc_body_window(), and dot-unstuffing then moves
 * the bytes within it.
 * Returns the bytes consumed and sets *complete once the marker was
 * consumed. Up to two bytes (".", ".\r") may be left unconsumed when they
 * could begin the marker: pass them again with the next bytes.
 */
size_t sc_body_feed_dot(struct sc_body *b, const char *in, size_t len, bool *complete);

/*
 * Return free space at the end of the stored bytes, where a read can put
 * the next input so that it is not copied again. The space is at most
 * max_size minus the bytes stored, so feeding it never makes the body too
 * big. Returns false when there is no such space (the body is too big,
 * near its limit, or memory ran out): feed input from elsewhere then.
 * The space is valid until the next call that changes the body.
 */
bool sc_body_window(struct sc_body *b, char **at, size_t *len);

/* Append bytes as they are: for BDAT chunks. bytes may be a window. */
void sc_body_append(struct sc_body *b, const char *bytes, size_t n);

/* Finish the scan of a complete body: a CR at its very end is bare. */
void sc_body_end(struct sc_body *b);

/* Drop the body and keep its buffer for the next one. */
void sc_body_reset(struct sc_body *b);

/* Free the buffer of a body that was reset when the buffer is larger than
 * 64 KiB. Freeing 100 MiB takes milliseconds, so the server calls this
 * through sc_session_trim after the reply to the message is sent. */
void sc_body_trim(struct sc_body *b);

void sc_body_free(struct sc_body *b);

#ifdef __cplusplus
}
#endif

#endif
