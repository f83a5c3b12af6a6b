/*
 * Writes to a descriptor that may be non-blocking, such as a pipe whose
 * reader has stopped reading.
 */
#ifndef SC_FDWRITE_H
#define SC_FDWRITE_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Write what fd takes now, retrying after EINTR. Returns the bytes written,
 * which is less than len when fd would block, or -errno for another error. */
ssize_t sc_write_available(int fd, const char *bytes, size_t len);

#ifdef __cplusplus
}
#endif

#endif
