/*
 * bodysrc.h - a request body made of pieces that are read in order and
 * never put together in memory: bytes in memory, whole files, and
 * attachment documents streamed from the spool (attach_reader).  Its
 * length is known before the first byte is read, so it can be sent with a
 * Content-Length.  Used for multipart/related bodies by push delivery
 * (gateway/deliver.c) and gwctl submit.  One thread at a time.
 */
#ifndef GW_BODYSRC_H
#define GW_BODYSRC_H

#include <stddef.h>
#include <stdint.h>

struct attach_reader;
struct bodysrc;

int bodysrc_new(struct bodysrc **out);
/* Frees b with its copies and readers; the borrowed bytes stay. */
void bodysrc_free(struct bodysrc *b);

/* len bytes at p: copied when copy is set, else borrowed (they must stay
 * until b is freed). */
int bodysrc_add_mem(struct bodysrc *b, const void *p, size_t len, int copy);
/* The file at path, which must hold exactly len bytes when it is read
 * (a file that grew or shrank since is an error). */
int bodysrc_add_file(struct bodysrc *b, const char *path, uint64_t len);
/* A document from the spool; b takes it over (also on failure). */
int bodysrc_add_reader(struct bodysrc *b, struct attach_reader *rd);

uint64_t bodysrc_total(const struct bodysrc *b);
/*
 * Up to max next bytes into buf: the number, 0 at the end, or a negative
 * GW_ERR_* with a sentence in bodysrc_error().
 */
long bodysrc_read(struct bodysrc *b, void *buf, size_t max);
const char *bodysrc_error(const struct bodysrc *b);

#endif
