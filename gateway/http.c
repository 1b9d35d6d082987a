/*
 * http.c - HTTP/1.1 server connections.  See http.h for why we have our own.
 *
 * One struct http_conn per TLS connection, used only by the io thread that
 * accepted it.  States:
 *   HEAD   reading the request line and headers (bounded by
 *          max_header_bytes and max_headers)
 *   BODY   reading a Content-Length or chunked body (bounded by max_body)
 *   BUSY   the request is with a worker; input is not read
 *   WRITING the answer is being sent
 *   DRAIN  a refusal was sent; input is read and dropped for a short while
 *          so that the client sees the answer rather than a reset
 * A request is refused early (pre_error) for: a malformed request line or
 * header, both Content-Length and Transfer-Encoding (request smuggling), a
 * Content-Length over max_body (before the body is read; with
 * "Expect: 100-continue" the client never sends it), a chunked body that
 * grows past max_body, and headers over the limits.  Refusals still go
 * through the request callback so that the worker answers them with the XML
 * error and an audit entry; the connection then closes.
 *
 * Multipart submissions (docs/attachments.md): when the check callback
 * allowed it and the body is multipart/related or multipart/form-data, the
 * body goes through the streaming MIME parser instead of into memory.  The
 * first part (the signed XML) is collected in req->body (bounded by
 * max_body); every further part is encrypted and hashed into a spool file
 * as it arrives (attach_writer).  The whole body is bounded by the
 * request's body_limit: a larger Content-Length is refused before the body
 * is read, a chunked one as soon as it grows past.  A connection that dies
 * half-way frees its request, and with it every spool file (job_req_free).
 *
 * Streamed answers (resp->stream, attachment documents): read from disk in
 * pieces while the output buffer is below STREAM_LOW, so memory stays flat
 * whatever the size.
 *
 * Lifetime: while BUSY the connection belongs to the outstanding job as
 * well.  If the client goes away then, the socket is closed at once but the
 * struct stays until http_respond() arrives and frees it.
 */
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>

#include <openssl/crypto.h>

#include "attach.h"
#include "confsnap.h"
#include "err.h"
#include "http.h"
#include "multipart.h"
#include "util.h"

enum conn_state { ST_HEAD, ST_BODY, ST_BUSY, ST_WRITING, ST_DRAIN };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

#define DRAIN_SECONDS	2
#define DRAIN_MAX	(64u << 20)
#define STREAM_LOW	(256u << 10)	/* refill the output below this */
#define STREAM_CHUNK	(64u << 10)

struct http_conn {
	struct http_conn *prev, *next;	/* in srv's list */
	struct http_server *srv;
	struct bufferevent *bev;	/* NULL once the socket is closed */
	const struct http_limits *lim;
	http_check_fn check;
	http_request_fn fn;
	void *arg;
	enum conn_state state;
	struct job_req *req;		/* being read */
	size_t head_bytes;
	int nheaders;
	int keepalive;			/* this request allows reuse */
	int http10;
	int expect_continue;
	int chunked;
	enum chunk_state chunk;
	size_t chunk_left;
	size_t content_length;
	int have_length;
	size_t body_cap;
	size_t drained;
	int close_after;		/* answer, then close */
	uint64_t limit;			/* body bytes allowed for this request */
	struct mp_parser *mp;		/* multipart body, else NULL */
	int mp_part;			/* index of the part being read, -1 none */
	int mp_err;			/* a callback's error ... */
	char mp_why[160];		/* ... and why */
	struct attach_reader *stream;	/* answer being streamed */
};

static void conn_read(struct bufferevent *bev, void *arg);
static void conn_event(struct bufferevent *bev, short what, void *arg);
static void body_done(struct http_conn *c);

void
job_req_free(struct job_req *req)
{
	struct job_att *a;
	size_t i;

	if (req == NULL)
		return;
	if (req->on_free)
		req->on_free(req);
	for (i = 0; i < req->natts; i++) {
		a = &req->atts[i];
		if (a->w)
			attach_writer_abort(a->w);
		if (a->info) {
			if (!a->kept && a->info->path[0])
				(void)unlink(a->info->path);
			OPENSSL_cleanse(a->info->key, sizeof(a->info->key));
			free(a->info);
		}
	}
	confsnap_release(req->snap);
	free(req->body);
	free(req);
}

static void
conn_free(struct http_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->bev)
		bufferevent_free(c->bev);
	job_req_free(c->req);
	mp_free(c->mp);
	attach_reader_free(c->stream);
	free(c);
}

/* Closes the socket; frees now unless a job still refers to c. */
static void
conn_close(struct http_conn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->state != ST_BUSY)
		conn_free(c);
}

static int
new_request(struct http_conn *c)
{
	if ((c->req = calloc(1, sizeof(*c->req))) == NULL)
		return GW_ERR_NOMEM;
	c->head_bytes = 0;
	c->nheaders = 0;
	c->keepalive = 1;
	c->http10 = 0;
	c->expect_continue = 0;
	c->chunked = 0;
	c->chunk = CH_SIZE;
	c->chunk_left = 0;
	c->content_length = 0;
	c->have_length = 0;
	c->body_cap = 0;
	c->limit = c->lim->max_body;
	c->mp_part = -1;
	c->mp_err = 0;
	c->mp_why[0] = '\0';
	c->state = ST_HEAD;
	return 0;
}

/* Hands the request (complete or refused) to the callback. */
static void
dispatch(struct http_conn *c)
{
	struct job_req *req = c->req;

	c->req = NULL;
	mp_free(c->mp);
	c->mp = NULL;
	c->state = ST_BUSY;
	bufferevent_disable(c->bev, EV_READ);
	if (req->pre_error)
		c->close_after = 1;
	if (!c->keepalive)
		c->close_after = 1;
	c->fn(c, req, c->arg);
}

static void
refuse(struct http_conn *c, int err, const char *msg)
{
	c->req->pre_error = err;
	util_strlcpy(c->req->pre_msg, msg, sizeof(c->req->pre_msg));
	dispatch(c);
}

static int
parse_request_line(struct http_conn *c, char *line)
{
	struct job_req *r = c->req;
	char *sp1, *sp2, *target, *q, *dec;
	size_t declen = 0;

	if ((sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || strchr(sp2 + 1, ' '))
		return GW_ERR_INVALID;
	*sp1 = *sp2 = '\0';
	target = sp1 + 1;
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		c->http10 = 0;
	else if (strcmp(sp2 + 1, "HTTP/1.0") == 0) {
		c->http10 = 1;
		c->keepalive = 0;
	} else
		return GW_ERR_INVALID;
	util_strlcpy(r->method_name, line, sizeof(r->method_name));
	r->method = strcmp(line, "GET") == 0 ? HTTP_GET :
	    strcmp(line, "POST") == 0 ? HTTP_POST : HTTP_OTHER;
	if (target[0] != '/')
		return GW_ERR_INVALID;	/* origin-form only */
	if ((q = strchr(target, '?')) != NULL) {
		*q++ = '\0';
		if (util_strlcpy(r->query, q, sizeof(r->query)) >= sizeof(r->query))
			return GW_ERR_TOO_LARGE;
	}
	if ((dec = evhttp_uridecode(target, 0, &declen)) == NULL)
		return GW_ERR_INVALID;
	if (declen != strlen(dec)) {	/* %00 would cut the path short */
		free(dec);
		return GW_ERR_INVALID;
	}
	if (util_strlcpy(r->path, dec, sizeof(r->path)) >= sizeof(r->path)) {
		free(dec);
		return GW_ERR_TOO_LARGE;
	}
	free(dec);
	return 0;
}

static int
parse_size(const char *v, size_t *out)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)*v))
		return GW_ERR_INVALID;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end != '\0')
		return GW_ERR_INVALID;
	*out = (size_t)n;
	return 0;
}

/* One header line; name and value trimmed.  Only what we act on is kept. */
static int
parse_header(struct http_conn *c, char *line, const char **why)
{
	char *colon, *v, *end;
	size_t n;

	if (line[0] == ' ' || line[0] == '\t') {
		*why = "folded header lines are not accepted";
		return GW_ERR_INVALID;
	}
	if ((colon = strchr(line, ':')) == NULL || colon == line) {
		*why = "malformed header line";
		return GW_ERR_INVALID;
	}
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (strcasecmp(line, "Content-Length") == 0) {
		if (parse_size(v, &n) != 0 || (c->have_length && n != c->content_length)) {
			*why = "invalid Content-Length";
			return GW_ERR_INVALID;
		}
		c->content_length = n;
		c->have_length = 1;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		if (strcasecmp(v, "chunked") != 0) {
			*why = "only the chunked transfer coding is supported";
			return GW_ERR_INVALID;
		}
		c->chunked = 1;
	} else if (strcasecmp(line, "Connection") == 0) {
		if (strcasecmp(v, "close") == 0)
			c->keepalive = 0;
		else if (strcasecmp(v, "keep-alive") == 0 && c->http10)
			c->keepalive = 1;
	} else if (strcasecmp(line, "Content-Type") == 0) {
		if (util_strlcpy(c->req->content_type, v,
		    sizeof(c->req->content_type)) >= sizeof(c->req->content_type)) {
			*why = "the Content-Type header is too long";
			return GW_ERR_INVALID;
		}
	} else if (strcasecmp(line, "Expect") == 0) {
		if (strcasecmp(v, "100-continue") != 0) {
			*why = "unsupported Expect header";
			return GW_ERR_INVALID;
		}
		c->expect_continue = 1;
	}
	return 0;
}

/* Appends n bytes to req->body, which may hold at most max_body. */
static int
append_body(struct http_conn *c, const void *buf, size_t n)
{
	struct job_req *r = c->req;
	unsigned char *p;

	if (r->body_len + n > c->lim->max_body)
		return GW_ERR_TOO_LARGE;
	if (r->body_len + n + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 16384;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		if (cap > c->lim->max_body + 1)
			cap = c->lim->max_body + 1;
		if ((p = realloc(r->body, cap)) == NULL)
			return GW_ERR_NOMEM;
		r->body = p;
		c->body_cap = cap;
	}
	memcpy(r->body + r->body_len, buf, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

/* Multipart callbacks: the first part into memory, the others spooled. */
static int
mp_begin(void *arg, const struct mp_part *p)
{
	struct http_conn *c = arg;
	struct job_req *r = c->req;
	struct job_att *a;
	int e;

	c->mp_part = p->index;
	if (p->index == 0) {
		util_strlcpy(r->xml_type, p->content_type, sizeof(r->xml_type));
		return 0;
	}
	if (r->natts == GW_MAX_ATTACH) {
		snprintf(c->mp_why, sizeof(c->mp_why), "more than %d attachments",
		    GW_MAX_ATTACH);
		return c->mp_err = GW_ERR_TOO_LARGE;
	}
	a = &r->atts[r->natts];
	util_strlcpy(a->content_id, p->content_id[0] ? p->content_id : p->name,
	    sizeof(a->content_id));
	util_strlcpy(a->content_type, p->content_type, sizeof(a->content_type));
	if ((e = attach_writer_open(c->lim->spool_dir, &a->w)) != 0) {
		snprintf(c->mp_why, sizeof(c->mp_why), "cannot spool attachment %zu",
		    r->natts + 1);
		return c->mp_err = e;
	}
	r->natts++;
	return 0;
}

static int
mp_data(void *arg, const void *buf, size_t len)
{
	struct http_conn *c = arg;
	struct job_req *r = c->req;
	int e;

	if (c->mp_part == 0) {
		if ((e = append_body(c, buf, len)) != 0) {
			snprintf(c->mp_why, sizeof(c->mp_why), "the XML part exceeds "
			    "the limit of %zu bytes", c->lim->max_body);
			return c->mp_err = e;
		}
		return 0;
	}
	if ((e = attach_writer_update(r->atts[r->natts - 1].w, buf, len)) != 0) {
		snprintf(c->mp_why, sizeof(c->mp_why), "cannot spool attachment %zu",
		    r->natts);
		return c->mp_err = e;
	}
	return 0;
}

static int
mp_end(void *arg)
{
	struct http_conn *c = arg;
	struct job_att *a;
	uint64_t limit = c->limit;
	int e;

	if (c->mp_part > 0) {
		/* Complete: let go of its file and buffers now, not when a
		 * worker gets to it (the worker fsyncs what it keeps). */
		a = &c->req->atts[c->req->natts - 1];
		if ((a->info = calloc(1, sizeof(*a->info))) == NULL)
			return c->mp_err = GW_ERR_NOMEM;
		e = attach_writer_close(a->w, a->info);
		a->w = NULL;
		if (e != 0) {
			free(a->info);
			a->info = NULL;
			snprintf(c->mp_why, sizeof(c->mp_why), "cannot spool "
			    "attachment %zu", c->req->natts);
			return c->mp_err = e;
		}
	}
	if (c->mp_part == 0 && c->lim->first_part) {
		if ((e = c->lim->first_part(c->req, &limit, c->mp_why,
		    sizeof(c->mp_why))) != 0)
			return c->mp_err = e;
		if (limit < c->limit)
			c->limit = limit;
		if ((c->have_length && c->content_length > c->limit) ||
		    c->req->wire_len > c->limit) {
			if (c->mp_why[0] == '\0')
				snprintf(c->mp_why, sizeof(c->mp_why), "the body "
				    "exceeds the limit of %llu bytes",
				    (unsigned long long)c->limit);
			return c->mp_err = GW_ERR_TOO_LARGE;
		}
		c->mp_why[0] = '\0';
	}
	c->mp_part = -1;
	return 0;
}

static const struct mp_callbacks mp_cb = { mp_begin, mp_data, mp_end };

/* The headers are complete: decide how the body is read. */
static void
headers_done(struct http_conn *c)
{
	char why[200], boundary[MP_MAX_BOUNDARY + 1];
	int r;

	if (c->check && (r = c->check(c, c->req, c->arg, why, sizeof(why))) != 0) {
		refuse(c, r, why);
		return;
	}
	if (c->chunked && c->have_length) {
		refuse(c, GW_ERR_INVALID, "both Content-Length and Transfer-Encoding");
		return;
	}
	if (c->req->multipart_ok && c->lim->spool_dir &&
	    (r = mp_boundary(c->req->content_type, boundary, sizeof(boundary))) !=
	    GW_ERR_UNSUPPORTED_MEDIA) {
		if (r != 0) {
			refuse(c, r, "the multipart Content-Type has no valid boundary");
			return;
		}
		if ((r = mp_new(boundary, &mp_cb, c, &c->mp)) != 0) {
			refuse(c, r, "cannot read the multipart body");
			return;
		}
		c->req->multipart = 1;
		if (c->req->body_limit > 0)
			c->limit = c->req->body_limit;
	}
	if (c->have_length && c->content_length > c->limit) {
		char msg[160];
		snprintf(msg, sizeof(msg), "the body of %zu bytes exceeds the limit "
		    "of %llu bytes", c->content_length, (unsigned long long)c->limit);
		refuse(c, GW_ERR_TOO_LARGE, msg);
		return;
	}
	if (!c->chunked && c->content_length == 0) {
		body_done(c);
		return;
	}
	if (c->expect_continue && !c->http10)
		evbuffer_add(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	c->state = ST_BODY;
}

static int
read_head(struct http_conn *c, struct evbuffer *in)
{
	const char *why = "malformed request";
	char *line;
	size_t n;
	int r;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		c->head_bytes += n + 2;
		if (c->head_bytes > c->lim->max_header_bytes) {
			free(line);
			refuse(c, GW_ERR_TOO_LARGE, "request headers too large");
			return 1;
		}
		if (c->req->method_name[0] == '\0') {
			if (n == 0) {		/* tolerate blank lines between requests */
				free(line);
				continue;
			}
			r = parse_request_line(c, line);
			free(line);
			if (r != 0) {
				refuse(c, r, "malformed request line");
				return 1;
			}
			continue;
		}
		if (n == 0) {
			free(line);
			headers_done(c);
			return 1;
		}
		if (++c->nheaders > c->lim->max_headers) {
			free(line);
			refuse(c, GW_ERR_TOO_LARGE, "too many header lines");
			return 1;
		}
		r = parse_header(c, line, &why);
		free(line);
		if (r != 0) {
			refuse(c, r, why);
			return 1;
		}
	}
	if (c->head_bytes + evbuffer_get_length(in) > c->lim->max_header_bytes) {
		refuse(c, GW_ERR_TOO_LARGE, "request headers too large");
		return 1;
	}
	return 0;
}

/*
 * Takes up to want bytes of in: into memory, or through the multipart
 * parser.  Returns the number taken or a negative GW_ERR_* with a sentence
 * in c->mp_why.
 */
static long
take_body(struct http_conn *c, struct evbuffer *in, size_t want)
{
	struct evbuffer_iovec v[8];
	size_t avail = evbuffer_get_length(in), n = avail < want ? avail : want;
	size_t done = 0, k;
	int nv, i, e;

	if (c->req->wire_len + n > c->limit) {
		snprintf(c->mp_why, sizeof(c->mp_why), "the body exceeds the limit "
		    "of %llu bytes", (unsigned long long)c->limit);
		return GW_ERR_TOO_LARGE;
	}
	while (done < n) {
		nv = evbuffer_peek(in, (ev_ssize_t)(n - done), NULL, v, 8);
		if (nv > 8)
			nv = 8;
		for (i = 0; i < nv && done < n; i++) {
			k = v[i].iov_len < n - done ? v[i].iov_len : n - done;
			e = c->mp ? mp_feed(c->mp, v[i].iov_base, k) :
			    append_body(c, v[i].iov_base, k);
			if (e != 0) {
				if (c->mp && c->mp_why[0] == '\0')
					util_strlcpy(c->mp_why, mp_error(c->mp),
					    sizeof(c->mp_why));
				else if (!c->mp)
					util_strlcpy(c->mp_why, "the body exceeds the "
					    "limit", sizeof(c->mp_why));
				return e;
			}
			evbuffer_drain(in, k);
			done += k;
			c->req->wire_len += k;
		}
	}
	return (long)n;
}

/* The body is complete: a multipart one must have ended properly. */
static void
body_done(struct http_conn *c)
{
	if (c->mp && !mp_complete(c->mp)) {
		refuse(c, GW_ERR_INVALID, "the multipart body ends before its "
		    "closing delimiter");
		return;
	}
	dispatch(c);
}

/* Chunked decoding; 1 when the request is dispatched or refused. */
static int
read_chunked(struct http_conn *c, struct evbuffer *in)
{
	char *line, *end;
	size_t n;
	long r;

	for (;;) {
		switch (c->chunk) {
		case CH_SIZE:
			if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL) {
				if (evbuffer_get_length(in) > 1024)
					goto bad;
				return 0;
			}
			errno = 0;
			c->chunk_left = strtoull(line, &end, 16);
			if (end == line || errno || (*end && *end != ';')) {
				free(line);
				goto bad;
			}
			free(line);
			c->chunk = c->chunk_left ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA:
			if (c->req->wire_len + c->chunk_left > c->limit) {
				refuse(c, GW_ERR_TOO_LARGE, "the chunked body exceeds the limit");
				return 1;
			}
			if ((r = take_body(c, in, c->chunk_left)) < 0) {
				refuse(c, (int)r, c->mp_why);
				return 1;
			}
			c->chunk_left -= (size_t)r;
			if (c->chunk_left > 0)
				return 0;
			c->chunk = CH_DATA_END;
			break;
		case CH_DATA_END:
			if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL)
				return 0;
			free(line);
			if (n != 0)
				goto bad;
			c->chunk = CH_SIZE;
			break;
		case CH_TRAILER:
			if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL) {
				if (evbuffer_get_length(in) > 4096)
					goto bad;
				return 0;
			}
			free(line);
			if (n == 0) {
				body_done(c);
				return 1;
			}
			break;
		}
	}
 bad:
	refuse(c, GW_ERR_INVALID, "malformed chunked body");
	return 1;
}

static int
read_body(struct http_conn *c, struct evbuffer *in)
{
	long r;

	if (c->chunked)
		return read_chunked(c, in);
	if ((r = take_body(c, in, c->content_length - c->req->wire_len)) < 0) {
		refuse(c, (int)r, c->mp_why);
		return 1;
	}
	if (c->req->wire_len == c->content_length) {
		body_done(c);
		return 1;
	}
	return 0;
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;

	for (;;) {
		switch (c->state) {
		case ST_HEAD:
			if (c->req == NULL && new_request(c) != 0) {
				conn_close(c);
				return;
			}
			if (!read_head(c, in))
				return;
			break;
		case ST_BODY:
			if (!read_body(c, in))
				return;
			break;
		case ST_BUSY:
		case ST_WRITING:
			return;
		case ST_DRAIN:
			n = evbuffer_get_length(in);
			evbuffer_drain(in, n);
			c->drained += n;
			if (c->drained > DRAIN_MAX)
				conn_close(c);
			return;
		}
		if (c->state == ST_BUSY)
			return;
	}
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_close(c);
}

/* The answer is on the wire: next request, drain, or close. */
static void
conn_written(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct timeval tv = { DRAIN_SECONDS, 0 };

	bufferevent_setcb(bev, conn_read, NULL, conn_event, c);
	if (c->close_after) {
		c->state = ST_DRAIN;
		bufferevent_set_timeouts(bev, &tv, &tv);
		bufferevent_enable(bev, EV_READ);
		conn_read(bev, c);
		return;
	}
	c->state = ST_HEAD;
	bufferevent_enable(bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		conn_read(bev, c);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Streams c->stream while the client takes it, then as conn_written. */
static void
conn_stream(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(bev);
	struct evbuffer_iovec v;
	long n;

	while (c->stream && evbuffer_get_length(out) < STREAM_LOW) {
		if (evbuffer_reserve_space(out, STREAM_CHUNK, &v, 1) < 1) {
			conn_close(c);
			return;
		}
		if ((n = attach_reader_read(c->stream, v.iov_base, STREAM_CHUNK)) < 0) {
			/* the length is promised: all we can do is stop */
			conn_close(c);
			return;
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(out, &v, 1);
		if (n == 0) {
			attach_reader_free(c->stream);
			c->stream = NULL;
			bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		}
	}
	if (c->stream == NULL && evbuffer_get_length(out) == 0)
		conn_written(bev, c);
}

void
http_respond(struct http_conn *c, const struct job_resp *resp)
{
	struct evbuffer *out;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	unsigned long long len = resp->body_len;

	if (resp->stream)
		len = attach_reader_total(resp->stream);
	if (c->bev == NULL) {		/* the client went away meanwhile */
		attach_reader_free(resp->stream);
		c->state = ST_HEAD;
		conn_free(c);
		return;
	}
	out = bufferevent_get_output(c->bev);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Content-Length: %llu\r\nConnection: %s\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
	    resp->status, reason(resp->status), date, len,
	    c->close_after ? "close" : "keep-alive");
	if (resp->content_type)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", resp->content_type);
	if (resp->location[0])
		evbuffer_add_printf(out, "Location: %s\r\n", resp->location);
	if (resp->replayed)
		evbuffer_add_printf(out, "Gateway-Replay: true\r\n");
	evbuffer_add(out, "\r\n", 2);
	if (resp->stream) {
		c->stream = resp->stream;
		c->state = ST_WRITING;
		bufferevent_setwatermark(c->bev, EV_WRITE, STREAM_LOW, 0);
		bufferevent_setcb(c->bev, NULL, conn_stream, conn_event, c);
		bufferevent_enable(c->bev, EV_WRITE);
		conn_stream(c->bev, c);
		return;
	}
	if (resp->body_len > 0)
		evbuffer_add(out, resp->body, resp->body_len);
	c->state = ST_WRITING;
	/* conn_written runs once the output buffer is empty again. */
	bufferevent_setcb(c->bev, NULL, conn_written, conn_event, c);
	bufferevent_enable(c->bev, EV_WRITE);
}

SSL *
http_ssl(struct http_conn *c)
{
	return c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;
}

void
http_server_close_all(struct http_server *srv)
{
	while (srv->head)
		conn_free(srv->head);
}

int
http_serve(struct http_server *srv, struct event_base *base,
    evutil_socket_t fd, SSL_CTX *ctx, const struct http_limits *lim,
    http_check_fn check, http_request_fn fn, void *arg)
{
	struct http_conn *c;
	struct timeval tv = { lim->idle_timeout, 0 };
	SSL *ssl;
	int one = 1;

	/* Answers are written whole: without this, Nagle and delayed ACKs
	 * add ~40 ms to every answer on a kept-alive connection. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return GW_ERR_NOMEM;
	if ((ssl = SSL_new(ctx)) == NULL) {
		free(c);
		return GW_ERR_NOMEM;
	}
	c->bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		free(c);
		return GW_ERR_NOMEM;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	c->srv = srv;
	if ((c->next = srv->head) != NULL)
		c->next->prev = c;
	srv->head = c;
	c->lim = lim;
	c->check = check;
	c->fn = fn;
	c->arg = arg;
	c->state = ST_HEAD;
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ);
	return 0;
}
