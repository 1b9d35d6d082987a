/*
 * multipart.h - a streaming (push) parser for MIME multipart bodies
 * (RFC 2046 section 5.1; multipart/related RFC 2387, multipart/form-data
 * RFC 7578), used by the HTTP layer for submissions with attachments, by
 * gwctl authority serve for pushed messages, and by gwctl for them.
 *
 * Bytes are fed as they arrive, in pieces of any size (down to one byte);
 * part data is handed on in pieces too, never collected, so memory is
 * constant (a part's headers at most MP_MAX_HEADER bytes).  Strict: a
 * preamble is skipped, an epilogue after the closing delimiter is ignored,
 * but part headers must be well-formed, CRLF line ends are required, and
 * Content-Transfer-Encoding other than binary, 8bit or 7bit is refused.
 */
#ifndef GW_MULTIPART_H
#define GW_MULTIPART_H

#include <stddef.h>

#define MP_MAX_BOUNDARY	70	/* RFC 2046 */
#define MP_MAX_HEADER	8192	/* one part's header block */
#define MP_MAX_PARTS	65	/* the XML part plus 64 attachments */

/* What a part's headers say (values unquoted, whitespace trimmed). */
struct mp_part {
	int index;			/* 0 for the first part */
	char content_type[128];		/* "" if absent */
	char content_id[130];		/* without the angle brackets; "" if absent */
	char name[128];			/* Content-Disposition name=, "" if absent */
	char filename[256];		/* Content-Disposition filename=, "" if absent */
};

/*
 * Callbacks; each returns 0 to go on or a negative GW_ERR_* to stop (the
 * parser then returns that error from mp_feed and accepts nothing more).
 */
struct mp_callbacks {
	int (*part_begin)(void *arg, const struct mp_part *part);
	int (*part_data)(void *arg, const void *buf, size_t len);
	int (*part_end)(void *arg);
};

struct mp_parser;

/*
 * From a Content-Type value "multipart/related; boundary=...; ..." (or
 * multipart/form-data): the boundary (unquoted) into boundary.  0, or
 * GW_ERR_UNSUPPORTED_MEDIA if it is not multipart/related or
 * multipart/form-data, GW_ERR_INVALID if the boundary is missing or bad.
 */
int mp_boundary(const char *content_type, char *boundary, size_t len);

int mp_new(const char *boundary, const struct mp_callbacks *cb, void *arg,
    struct mp_parser **out);
/*
 * Feeds len bytes.  Returns 0 or a negative GW_ERR_* (GW_ERR_INVALID for
 * malformed input, with a sentence in mp_error(), GW_ERR_TOO_LARGE for
 * oversized headers or too many parts, or a callback's error).
 */
int mp_feed(struct mp_parser *p, const void *buf, size_t len);
/* 1 once the closing delimiter has been read (the body is complete). */
int mp_complete(const struct mp_parser *p);
/* One sentence about the last error ("" if none). */
const char *mp_error(const struct mp_parser *p);
void mp_free(struct mp_parser *p);

#endif
