/*
 * multipart.c - a strict streaming parser for MIME multipart bodies.  See
 * multipart.h.
 *
 * What it owns: the state of one body being read, fed by one thread (the
 * connection's).  Memory is one struct: the delimiter, the header block of
 * the current part (MP_MAX_HEADER) and a few counters.  Part data is never
 * copied: it goes to the part_data callback straight from the caller's
 * buffer, in as many pieces as it arrived in.
 *
 * The delimiter D is CRLF "--" boundary (RFC 2046 5.1.1: the CRLF before
 * the dash-boundary belongs to it, not to the part).  In a part's data the
 * parser holds back the bytes that could be the start of D (match counts
 * them).  Those bytes are always D's own first bytes, so nothing is
 * buffered: when the match breaks, they are handed on from D itself.
 * Because a boundary holds no CR, D has its only CR at position 0, so a
 * broken match can only restart at the current byte, never inside the
 * held-back bytes; that makes the scan linear and correct for a delimiter
 * split across feeds at any byte.  The body's very first line may be the
 * delimiter without a CRLF before it: the preamble starts with match = 2,
 * as if a CRLF preceded the body.
 *
 * After the boundary: "--" (the closing delimiter; whatever follows is the
 * epilogue and ignored), or transport padding (spaces, tabs) and CRLF, then
 * the part's headers up to an empty line.  Anything else, a bare LF
 * included, is refused: a body with LF line ends never finds its first
 * part, or stops at its first delimiter line.
 *
 * Every error is final: mp_feed() returns it again and takes nothing more.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "multipart.h"
#include "util.h"

#define DELIM_MAX	(4 + MP_MAX_BOUNDARY)

enum mp_state {
	ST_PREAMBLE,		/* before the first delimiter */
	ST_AFTER_DELIM,		/* right after a boundary */
	ST_DASH,		/* one '-' after the boundary */
	ST_PAD,			/* transport padding */
	ST_CR,			/* CR ending the delimiter line */
	ST_HEADER,		/* a part's header block */
	ST_BODY,		/* a part's data */
	ST_EPILOGUE		/* after the closing delimiter */
};

struct mp_parser {
	struct mp_callbacks cb;
	void *arg;
	enum mp_state state;
	char delim[DELIM_MAX + 1];	/* CRLF "--" boundary */
	size_t dlen;
	size_t match;			/* bytes of delim matched, held back */
	int nparts;			/* parts begun */
	int err;			/* 0, or the error that stopped us */
	int complete;
	char why[200];
	size_t hlen;
	char hdr[MP_MAX_HEADER + 1];
};

/* ---- Content-Type and parameter syntax (RFC 2045 5.1, RFC 7231 3.1.1.1) */

static int
is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

static const char *
skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* A token at *sp into out (at most size-1 bytes); 0 or GW_ERR_INVALID. */
static int
token(const char **sp, char *out, size_t size)
{
	const char *s = *sp;
	size_t n = 0;

	while (is_tchar((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= size)
		return GW_ERR_INVALID;
	memcpy(out, s, n);
	out[n] = '\0';
	*sp = s + n;
	return 0;
}

/* A quoted-string at *sp (at the '"'), unescaped into out. */
static int
quoted(const char **sp, char *out, size_t size)
{
	const char *s = *sp + 1;
	size_t n = 0;
	unsigned char c;

	for (;;) {
		c = (unsigned char)*s++;
		if (c == '"')
			break;
		if (c == '\\')
			c = (unsigned char)*s++;
		/* No CTLs but HT; this also stops at the terminating NUL. */
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return GW_ERR_INVALID;
		if (n + 1 >= size)
			return GW_ERR_INVALID;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	*sp = s;
	return 0;
}

/*
 * The next parameter ";" name "=" (token / quoted-string) at *sp: 1 with
 * name (lower-cased) and value, 0 at the end, GW_ERR_INVALID when
 * malformed.  Empty parameters (";;", a trailing ';') are skipped.
 */
static int
param_next(const char **sp, char *name, size_t nsize, char *val, size_t vsize)
{
	const char *s = skip_ows(*sp);
	size_t i;

	for (;;) {
		if (*s == '\0') {
			*sp = s;
			return 0;
		}
		if (*s != ';')
			return GW_ERR_INVALID;
		s = skip_ows(s + 1);
		if (*s != ';' && *s != '\0')
			break;
	}
	if (token(&s, name, nsize) != 0)
		return GW_ERR_INVALID;
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] + 32);
	s = skip_ows(s);
	if (*s++ != '=')
		return GW_ERR_INVALID;
	s = skip_ows(s);
	if ((*s == '"' ? quoted(&s, val, vsize) : token(&s, val, vsize)) != 0)
		return GW_ERR_INVALID;
	*sp = skip_ows(s);
	return 1;
}

/* type "/" subtype at *sp, lower-cased into out. */
static int
media_type(const char **sp, char *out, size_t size)
{
	char sub[128];
	size_t n, i;

	if (token(sp, out, size) != 0 || **sp != '/')
		return GW_ERR_INVALID;
	(*sp)++;
	if (token(sp, sub, sizeof(sub)) != 0)
		return GW_ERR_INVALID;
	n = strlen(out);
	if (n + 1 + strlen(sub) >= size)
		return GW_ERR_INVALID;
	out[n] = '/';
	memcpy(out + n + 1, sub, strlen(sub) + 1);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] + 32);
	return 0;
}

/* RFC 2046 bchars, 1-70 of them, not ending in a space. */
static int
boundary_ok(const char *b)
{
	size_t n = strlen(b), i;

	if (n == 0 || n > MP_MAX_BOUNDARY || b[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z') ||
		    (b[i] >= '0' && b[i] <= '9') || strchr("'()+_,-./:=? ",
		    b[i]) != NULL))
			return 0;
	return 1;
}

int
mp_boundary(const char *content_type, char *boundary, size_t len)
{
	char type[128], name[64], val[256], found[MP_MAX_BOUNDARY + 1];
	const char *s;
	int r, have = 0;

	if (content_type == NULL)
		return GW_ERR_UNSUPPORTED_MEDIA;
	s = skip_ows(content_type);
	if (media_type(&s, type, sizeof(type)) != 0 ||
	    (strcmp(type, "multipart/related") != 0 &&
	    strcmp(type, "multipart/form-data") != 0))
		return GW_ERR_UNSUPPORTED_MEDIA;
	while ((r = param_next(&s, name, sizeof(name), val, sizeof(val))) == 1) {
		if (strcmp(name, "boundary") != 0)
			continue;
		if (have || !boundary_ok(val))
			return GW_ERR_INVALID;
		util_strlcpy(found, val, sizeof(found));
		have = 1;
	}
	if (r != 0 || !have)
		return GW_ERR_INVALID;
	if (boundary == NULL || strlen(found) >= len)
		return GW_ERR_TOO_LARGE;
	memcpy(boundary, found, strlen(found) + 1);
	return 0;
}

/* ---- the parser -------------------------------------------------------- */

/* Stops the parser with err and a sentence; returns err. */
static int
fail(struct mp_parser *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	p->err = err;
	return err;
}

/* A callback's answer: 0, or its error stops the parser. */
static int
cb_result(struct mp_parser *p, int r)
{
	if (r == 0)
		return 0;
	if (r > 0)
		r = GW_ERR_INTERNAL;	/* callbacks return 0 or GW_ERR_* */
	return fail(p, r, "part %d was refused by its receiver", p->nparts);
}

int
mp_new(const char *boundary, const struct mp_callbacks *cb, void *arg,
    struct mp_parser **out)
{
	struct mp_parser *p;

	if (boundary == NULL || cb == NULL || out == NULL)
		return GW_ERR_INVALID;
	if (!boundary_ok(boundary))
		return GW_ERR_INVALID;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return GW_ERR_NOMEM;
	p->cb = *cb;
	p->arg = arg;
	p->dlen = (size_t)snprintf(p->delim, sizeof(p->delim), "\r\n--%s",
	    boundary);
	p->state = ST_PREAMBLE;
	p->match = 2;			/* the body may start with "--boundary" */
	*out = p;
	return 0;
}

/* Copies the header value v into out, or refuses it as too long. */
static int
set_field(struct mp_parser *p, const char *hname, const char *v, char *out,
    size_t size)
{
	if (strlen(v) >= size)
		return fail(p, GW_ERR_INVALID, "the %s of part %d is longer than "
		    "%zu bytes", hname, p->nparts, size - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int
hdr_content_type(struct mp_parser *p, const char *v, struct mp_part *part)
{
	char type[128], name[64], val[256];
	const char *s = v;
	int r;

	if (media_type(&s, type, sizeof(type)) != 0)
		r = GW_ERR_INVALID;
	else
		while ((r = param_next(&s, name, sizeof(name), val,
		    sizeof(val))) == 1)
			;
	if (r != 0)
		return fail(p, GW_ERR_INVALID, "the Content-Type of part %d is "
		    "malformed", p->nparts);
	return set_field(p, "Content-Type", v, part->content_type,
	    sizeof(part->content_type));
}

static int
hdr_content_id(struct mp_parser *p, char *v, struct mp_part *part)
{
	size_t n = strlen(v);

	if (v[0] == '<' || (n > 0 && v[n - 1] == '>')) {
		if (n < 3 || v[0] != '<' || v[n - 1] != '>')
			return fail(p, GW_ERR_INVALID, "the Content-ID of part %d "
			    "is malformed", p->nparts);
		v[n - 1] = '\0';
		v++;
	}
	if (*v == '\0' || strpbrk(v, "<> \t") != NULL)
		return fail(p, GW_ERR_INVALID, "the Content-ID of part %d is "
		    "malformed", p->nparts);
	return set_field(p, "Content-ID", v, part->content_id,
	    sizeof(part->content_id));
}

static int
hdr_disposition(struct mp_parser *p, const char *v, struct mp_part *part)
{
	char type[64], name[64], val[256];
	const char *s = v;
	int r, have_name = 0, have_file = 0;

	if (token(&s, type, sizeof(type)) != 0)
		return fail(p, GW_ERR_INVALID, "the Content-Disposition of part %d "
		    "is malformed", p->nparts);
	while ((r = param_next(&s, name, sizeof(name), val, sizeof(val))) == 1) {
		if (strcmp(name, "name") == 0) {
			if (have_name++ ||
			    set_field(p, "form field name", val, part->name,
			    sizeof(part->name)) != 0)
				break;
		} else if (strcmp(name, "filename") == 0) {
			if (have_file++ ||
			    set_field(p, "file name", val, part->filename,
			    sizeof(part->filename)) != 0)
				break;
		}
	}
	if (p->err != 0)
		return p->err;
	if (r != 0)
		return fail(p, GW_ERR_INVALID, "the Content-Disposition of part %d "
		    "is malformed", p->nparts);
	return 0;
}

static int
hdr_cte(struct mp_parser *p, const char *v)
{
	if (strcasecmp(v, "binary") == 0 || strcasecmp(v, "8bit") == 0 ||
	    strcasecmp(v, "7bit") == 0)
		return 0;
	return fail(p, GW_ERR_UNSUPPORTED_MEDIA, "part %d has "
	    "Content-Transfer-Encoding \"%.40s\"; only binary, 8bit and 7bit "
	    "are accepted (send the raw bytes)", p->nparts, v);
}

/*
 * One header line (NUL-terminated, without CRLF) into part; seen has a bit
 * per known header, as each may appear once.  Unknown headers are ignored.
 */
static int
header_line(struct mp_parser *p, char *line, struct mp_part *part, int *seen)
{
	static const char *known[] = { "content-type", "content-id",
	    "content-disposition", "content-transfer-encoding" };
	char *colon, *v, *end;
	size_t i, k;

	if (line[0] == ' ' || line[0] == '\t')
		return fail(p, GW_ERR_INVALID, "part %d has a folded header line",
		    p->nparts);
	if ((colon = strchr(line, ':')) == NULL || colon == line)
		return fail(p, GW_ERR_INVALID, "part %d has a header line without "
		    "a name and colon", p->nparts);
	for (i = 0; line + i < colon; i++)
		if (!is_tchar((unsigned char)line[i]))
			return fail(p, GW_ERR_INVALID, "part %d has a malformed "
			    "header name", p->nparts);
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t');)
		*--end = '\0';
	for (i = 0; v[i] != '\0'; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return fail(p, GW_ERR_INVALID, "part %d has a control "
			    "character in a header", p->nparts);
	for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (strcasecmp(line, known[k]) == 0)
			break;
	if (k == sizeof(known) / sizeof(known[0]))
		return 0;
	if (*seen & (1 << k))
		return fail(p, GW_ERR_INVALID, "part %d has two %s headers",
		    p->nparts, line);
	*seen |= 1 << k;
	switch (k) {
	case 0:
		return hdr_content_type(p, v, part);
	case 1:
		return hdr_content_id(p, v, part);
	case 2:
		return hdr_disposition(p, v, part);
	default:
		return hdr_cte(p, v);
	}
}

/* The header block is in (ending in an empty line): parse it, begin the part. */
static int
headers_done(struct mp_parser *p)
{
	struct mp_part part;
	char *line = p->hdr, *crlf;
	int r, seen = 0;

	memset(&part, 0, sizeof(part));
	part.index = p->nparts - 1;
	p->hdr[p->hlen] = '\0';
	while ((crlf = strstr(line, "\r\n")) != NULL && crlf != line) {
		*crlf = '\0';
		if ((r = header_line(p, line, &part, &seen)) != 0)
			return r;
		line = crlf + 2;
	}
	p->state = ST_BODY;
	p->match = 0;
	if (p->cb.part_begin != NULL)
		return cb_result(p, p->cb.part_begin(p->arg, &part));
	return 0;
}

/* One byte of a header block: CRLF line ends only, bounded. */
static int
header_byte(struct mp_parser *p, unsigned char c)
{
	if (p->hlen == MP_MAX_HEADER)
		return fail(p, GW_ERR_TOO_LARGE, "the headers of part %d exceed "
		    "%d bytes", p->nparts, MP_MAX_HEADER);
	if (c == '\0')
		return fail(p, GW_ERR_INVALID, "part %d has a NUL byte in its "
		    "headers", p->nparts);
	if (p->hlen > 0 && p->hdr[p->hlen - 1] == '\r' && c != '\n')
		return fail(p, GW_ERR_INVALID, "part %d has a CR without LF in "
		    "its headers", p->nparts);
	if (c == '\n' && (p->hlen == 0 || p->hdr[p->hlen - 1] != '\r'))
		return fail(p, GW_ERR_INVALID, "part %d has a bare LF in its "
		    "headers; lines must end in CRLF", p->nparts);
	p->hdr[p->hlen++] = (char)c;
	if (c == '\n' && (p->hlen == 2 || (p->hlen >= 4 &&
	    memcmp(p->hdr + p->hlen - 4, "\r\n\r\n", 4) == 0)))
		return headers_done(p);
	return 0;
}

/* Part data (or preamble, dropped): hands it on unless p is in the preamble. */
static int
emit(struct mp_parser *p, const void *buf, size_t len)
{
	if (len == 0 || p->state != ST_BODY || p->cb.part_data == NULL)
		return 0;
	return cb_result(p, p->cb.part_data(p->arg, buf, len));
}

/*
 * Part data or preamble from buf[*i..len) up to a complete delimiter; see
 * the top of the file.  On a delimiter the part ends and *i is after it.
 */
static int
scan_data(struct mp_parser *p, const unsigned char *buf, size_t len, size_t *i)
{
	const unsigned char *cr;
	size_t end;
	int r;

	while (*i < len) {
		if (p->match == 0) {
			cr = memchr(buf + *i, '\r', len - *i);
			end = cr != NULL ? (size_t)(cr - buf) : len;
			if ((r = emit(p, buf + *i, end - *i)) != 0)
				return r;
			*i = end;
			if (cr == NULL)
				break;
			p->match = 1;
			(*i)++;
			continue;
		}
		if (buf[*i] == (unsigned char)p->delim[p->match]) {
			(*i)++;
			if (++p->match < p->dlen)
				continue;
			p->match = 0;
			if (p->state == ST_BODY && p->cb.part_end != NULL &&
			    (r = cb_result(p, p->cb.part_end(p->arg))) != 0)
				return r;
			p->state = ST_AFTER_DELIM;
			return 0;
		}
		/* Not a delimiter: what was held back is data after all, and
		 * buf[*i] is looked at again (it may be a CR). */
		if ((r = emit(p, p->delim, p->match)) != 0)
			return r;
		p->match = 0;
	}
	return 0;
}

/* A byte of the delimiter line after the boundary. */
static int
delim_byte(struct mp_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_AFTER_DELIM:
		if (c == '-') {
			p->state = ST_DASH;
			return 0;
		}
		/* FALLTHROUGH */
	case ST_PAD:
		if (c == ' ' || c == '\t') {
			p->state = ST_PAD;
			return 0;
		}
		if (c == '\r') {
			p->state = ST_CR;
			return 0;
		}
		break;
	case ST_DASH:
		if (c != '-')
			break;
		if (p->nparts == 0)
			return fail(p, GW_ERR_INVALID, "the multipart body has no "
			    "parts");
		p->complete = 1;
		p->state = ST_EPILOGUE;
		return 0;
	case ST_CR:
		if (c != '\n')
			break;
		if (p->nparts == MP_MAX_PARTS)
			return fail(p, GW_ERR_TOO_LARGE, "the multipart body has "
			    "more than %d parts", MP_MAX_PARTS);
		p->nparts++;
		p->hlen = 0;
		p->state = ST_HEADER;
		return 0;
	default:
		break;
	}
	return fail(p, GW_ERR_INVALID, "a multipart delimiter line is malformed "
	    "(a boundary must be followed by CRLF or \"--\"; lines end in CRLF)");
}

int
mp_feed(struct mp_parser *p, const void *data, size_t len)
{
	const unsigned char *buf = data;
	size_t i = 0;
	int r;

	if (p == NULL || (buf == NULL && len > 0))
		return GW_ERR_INVALID;
	if (p->err != 0)
		return p->err;
	while (i < len) {
		switch (p->state) {
		case ST_PREAMBLE:
		case ST_BODY:
			r = scan_data(p, buf, len, &i);
			break;
		case ST_HEADER:
			r = header_byte(p, buf[i++]);
			break;
		case ST_EPILOGUE:
			return 0;
		default:
			r = delim_byte(p, buf[i++]);
			break;
		}
		if (r != 0)
			return p->err != 0 ? p->err : fail(p, r, "internal error");
	}
	return 0;
}

int
mp_complete(const struct mp_parser *p)
{
	return p != NULL && p->complete && p->err == 0;
}

const char *
mp_error(const struct mp_parser *p)
{
	return p == NULL ? "" : p->why;
}

void
mp_free(struct mp_parser *p)
{
	free(p);
}
