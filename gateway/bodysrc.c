/*
 * bodysrc.c - request bodies read piece by piece.  See bodysrc.h.
 *
 * Invariants: at most one file is open at a time (the piece being read);
 * a file must end exactly where its piece says, checked by reading one
 * byte past it, so that what was hashed (and listed in a signed document)
 * is what goes out; after an error every further read fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "bodysrc.h"
#include "err.h"

#define BODYSRC_MAX	160	/* pieces: 2 per attachment and a few more */

struct piece {
	char *own;			/* a copy, freed with b */
	const unsigned char *mem;	/* the bytes (own or borrowed) */
	char *path;			/* or a file */
	struct attach_reader *rd;	/* or a spool document */
	uint64_t len;
};

struct bodysrc {
	struct piece p[BODYSRC_MAX];
	size_t n, cur;
	uint64_t off;			/* within p[cur] */
	uint64_t total;
	int fd;				/* the file of p[cur], or -1 */
	int err;
	char why[320];
};

int
bodysrc_new(struct bodysrc **out)
{
	struct bodysrc *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return GW_ERR_NOMEM;
	b->fd = -1;
	*out = b;
	return 0;
}

void
bodysrc_free(struct bodysrc *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->p[i].own);
		free(b->p[i].path);
		attach_reader_free(b->p[i].rd);
	}
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

static struct piece *
next_piece(struct bodysrc *b)
{
	return b->n < BODYSRC_MAX ? &b->p[b->n] : NULL;
}

int
bodysrc_add_mem(struct bodysrc *b, const void *p, size_t len, int copy)
{
	struct piece *s = next_piece(b);

	if (s == NULL)
		return GW_ERR_TOO_LARGE;
	if (copy) {
		if ((s->own = malloc(len ? len : 1)) == NULL)
			return GW_ERR_NOMEM;
		memcpy(s->own, p, len);
		s->mem = (const unsigned char *)s->own;
	} else
		s->mem = p;
	s->len = len;
	b->total += len;
	b->n++;
	return 0;
}

int
bodysrc_add_file(struct bodysrc *b, const char *path, uint64_t len)
{
	struct piece *s = next_piece(b);

	if (s == NULL)
		return GW_ERR_TOO_LARGE;
	if ((s->path = strdup(path)) == NULL)
		return GW_ERR_NOMEM;
	s->len = len;
	b->total += len;
	b->n++;
	return 0;
}

int
bodysrc_add_reader(struct bodysrc *b, struct attach_reader *rd)
{
	struct piece *s = next_piece(b);

	if (s == NULL) {
		attach_reader_free(rd);
		return GW_ERR_TOO_LARGE;
	}
	s->rd = rd;
	s->len = attach_reader_total(rd);
	b->total += s->len;
	b->n++;
	return 0;
}

uint64_t
bodysrc_total(const struct bodysrc *b)
{
	return b->total;
}

const char *
bodysrc_error(const struct bodysrc *b)
{
	return b->why;
}

static long
fail(struct bodysrc *b, int err, const char *path, const char *what)
{
	snprintf(b->why, sizeof(b->why), "%.250s: %s", path, what);
	return b->err = err;
}

/* Ends the file piece: it must have no byte more than announced. */
static int
end_file(struct bodysrc *b, const struct piece *s)
{
	char c;

	if (read(b->fd, &c, 1) != 0)
		return (int)fail(b, GW_ERR_IO, s->path, "the file grew while it "
		    "was being sent");
	close(b->fd);
	b->fd = -1;
	return 0;
}

/* Reads up to n bytes of the file piece s. */
static long
read_file(struct bodysrc *b, const struct piece *s, unsigned char *buf,
    size_t n)
{
	ssize_t got;

	if (b->fd < 0 && (b->fd = open(s->path, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(b, GW_ERR_IO, s->path, strerror(errno));
	while ((got = read(b->fd, buf, n)) < 0 && errno == EINTR)
		;
	if (got <= 0)
		return fail(b, GW_ERR_IO, s->path, got < 0 ? strerror(errno) :
		    "the file shrank while it was being sent");
	return (long)got;
}

long
bodysrc_read(struct bodysrc *b, void *out, size_t max)
{
	unsigned char *buf = out;
	size_t done = 0, n;
	struct piece *s;
	long got;

	if (b->err)
		return b->err;
	while (done < max && b->cur < b->n) {
		s = &b->p[b->cur];
		if (b->off == s->len) {
			if (s->path && b->fd >= 0 && end_file(b, s) != 0)
				return b->err;
			b->cur++;
			b->off = 0;
			continue;
		}
		n = max - done;
		if (n > s->len - b->off)
			n = (size_t)(s->len - b->off);
		if (s->mem) {
			memcpy(buf + done, s->mem + b->off, n);
			got = (long)n;
		} else if (s->rd) {
			if ((got = attach_reader_read(s->rd, buf + done, n)) <= 0)
				return fail(b, got < 0 ? (int)got : GW_ERR_IO,
				    "attachment", "the spool file changed");
		} else if ((got = read_file(b, s, buf + done, n)) < 0)
			return got;
		b->off += (uint64_t)got;
		done += (size_t)got;
	}
	return (long)done;
}
