/*
 * util.h - small helpers shared by every part: bounded file reading,
 * hex and base64, SHA-256, time stamps, secure id generation.
 */
#ifndef GW_UTIL_H
#define GW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Reads a whole file of at most max bytes; *out is NUL-terminated (not
 * counted in *len) and must be freed with free().  GW_ERR_TOO_LARGE past max. */
int util_read_file(const char *path, size_t max, unsigned char **out, size_t *len);
/* Writes data to path atomically (temp file, fsync, rename) with mode. */
int util_write_file(const char *path, const void *data, size_t len, int mode);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void util_hex(const unsigned char *in, size_t len, char *out);
/* SHA-256 of data as 64 hex characters plus NUL. */
void util_sha256_hex(const void *data, size_t len, char out[65]);

/* Base64 without line breaks; *out NUL-terminated, free() it. */
int util_b64_encode(const unsigned char *in, size_t len, char **out, size_t *outlen);
/* Decodes base64, ignoring white space; at most max decoded bytes. */
int util_b64_decode(const char *in, size_t len, size_t max,
    unsigned char **out, size_t *outlen);

/* "2026-11-29T04:30:53.123Z" (UTC, milliseconds) for a time in ms. */
void util_time_iso(int64_t ms, char out[32]);
/* Wall clock in milliseconds since the epoch. */
int64_t util_now_ms(void);
/* A random identifier "gw-" + 32 hex characters (128 bits). */
void util_new_id(char out[40]);

/*
 * Makes s safe to put into XML and logs: invalid UTF-8 bytes and control
 * characters (other than tab and newline) become '?', and a multi-byte
 * character cut off at the end (by a bounded copy) is removed.
 */
void util_utf8_clean(char *s);

/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);

/*
 * dir "/" name into out: GW_ERR_INVALID unless name is one plain file name
 * (not empty, no '/', not "." or ".."), GW_ERR_TOO_LARGE if it does not
 * fit.  For names read back from the database (spool files).
 */
int util_path_join(const char *dir, const char *name, char *out, size_t len);

/* Writes all len bytes (retrying short writes and EINTR); GW_ERR_IO. */
int util_write_all(int fd, const void *buf, size_t len);

#endif
