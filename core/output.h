/*
 * The JSON lines smtpcatch writes: the ready line and one line per message.
 * Each line is one JSON object followed by "\n". The envelope is built with
 * cJSON; the message data is escaped here in a streaming way, so a large
 * message never needs a second whole copy in memory.
 */
#ifndef SC_OUTPUT_H
#define SC_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "message.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A sink for bytes of one line. write must take all len bytes or fail;
 * it returns 0 or a negative error code, which output passes back. */
struct sc_writer {
    int (*write)(void *arg, const char *bytes, size_t len);
    void *arg;
};

/* The contents of the ready line. */
struct sc_ready_info {
    const char *const *addresses;   /* Every address bound, in order. */
    size_t addresses_len;
    int port;
    long pid;
    const char *version;
    const char *tls_mode;           /* "starttls" or "implicit"; NULL: "tls" is null. */
    const char *tls_fingerprint;    /* SHA-256 of the certificate, in hex, with tls_mode. */
};

/* Render the ready line into line (cleared first). Returns 0, or -1 when out of memory. */
int sc_output_ready(struct sc_buf *line, const struct sc_ready_info *info);

/*
 * Write the message line for msg through writer. A line of up to 64 KiB
 * goes out in one write; a longer one in consecutive pieces of 64 KiB or
 * more. The caller must not write anything else to the same sink until
 * this returns. Returns 0, -1 when out of memory, or the writer's error.
 */
int sc_output_message(const struct sc_message *msg, uint64_t id,
                      const struct timespec *received_at, const struct sc_writer *writer);

/* Append data as the body of a JSON string (no quotes), escaping '"', '\\',
 * control characters, U+2028 and U+2029. data must be valid UTF-8. */
int sc_json_escape(struct sc_buf *out, const char *data, size_t len);

/* Append the standard base64 encoding (RFC 4648, with padding) of data. */
int sc_base64_encode(struct sc_buf *out, const unsigned char *data, size_t len);

/* Format t as "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC into buf (at least 25 bytes). */
void sc_format_timestamp(const struct timespec *t, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
