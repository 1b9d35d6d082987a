/*
 * test_multipart.c - the multipart parser (gateway/multipart.h).
 *
 * What the HTTP layer relies on: the parts of a body, their headers and
 * their exact bytes come out the same however the body is cut into pieces
 * on the way (one byte at a time, random sizes, every split point); data
 * that only looks like a delimiter stays data; a body is complete only
 * after its closing delimiter; and everything the parser does not accept
 * (LF line ends, folded or oversized headers, too many parts, encodings
 * other than binary/8bit/7bit, bad boundaries) is refused with an error
 * and a sentence, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "multipart.h"

#define MAX_GOT		80

/* What the callbacks saw. */
struct got {
	int nparts;
	struct mp_part part[MAX_GOT];
	unsigned char *data[MAX_GOT];
	size_t len[MAX_GOT];
	size_t cap[MAX_GOT];
	int ended[MAX_GOT];
	int open;		/* a part is between begin and end */
	int bad_order;
	int fail_at;		/* part_data of this part fails (0: never) */
};

static int
cb_begin(void *arg, const struct mp_part *p)
{
	struct got *g = arg;

	if (g->open || g->nparts == MAX_GOT || p->index != g->nparts)
		g->bad_order = 1;
	if (g->nparts == MAX_GOT)
		return GW_ERR_INTERNAL;
	g->part[g->nparts] = *p;
	g->data[g->nparts] = NULL;
	g->len[g->nparts] = 0;
	g->cap[g->nparts] = 0;
	g->ended[g->nparts] = 0;
	g->nparts++;
	g->open = 1;
	return 0;
}

static int
cb_data(void *arg, const void *buf, size_t len)
{
	struct got *g = arg;
	int i = g->nparts - 1;
	unsigned char *p;

	if (!g->open || len == 0)
		g->bad_order = 1;
	if (g->fail_at != 0 && g->fail_at == g->nparts)
		return GW_ERR_TOO_LARGE;
	if (g->len[i] + len > g->cap[i]) {
		g->cap[i] = 2 * (g->len[i] + len);
		p = realloc(g->data[i], g->cap[i]);
		assert_non_null(p);
		g->data[i] = p;
	}
	p = g->data[i];
	memcpy(p + g->len[i], buf, len);
	g->len[i] += len;
	return 0;
}

static int
cb_end(void *arg)
{
	struct got *g = arg;

	if (!g->open)
		g->bad_order = 1;
	g->ended[g->nparts - 1] = 1;
	g->open = 0;
	return 0;
}

static const struct mp_callbacks cbs = { cb_begin, cb_data, cb_end };

static void
got_free(struct got *g)
{
	int i;

	for (i = 0; i < g->nparts; i++)
		free(g->data[i]);
	memset(g, 0, sizeof(*g));
}

static void
got_equal(const struct got *a, const struct got *b)
{
	int i;

	assert_int_equal(a->nparts, b->nparts);
	for (i = 0; i < a->nparts; i++) {
		assert_int_equal(a->part[i].index, b->part[i].index);
		assert_string_equal(a->part[i].content_type,
		    b->part[i].content_type);
		assert_string_equal(a->part[i].content_id, b->part[i].content_id);
		assert_string_equal(a->part[i].name, b->part[i].name);
		assert_string_equal(a->part[i].filename, b->part[i].filename);
		assert_int_equal(a->len[i], b->len[i]);
		if (a->len[i] > 0)
			assert_memory_equal(a->data[i], b->data[i], a->len[i]);
		assert_int_equal(a->ended[i], b->ended[i]);
	}
	assert_false(a->bad_order);
	assert_false(b->bad_order);
}

/* A small deterministic generator: the same pieces on every run. */
static uint32_t
next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

enum cut { CUT_WHOLE, CUT_BYTES, CUT_RANDOM };

/*
 * Feeds body in pieces (whole, one byte, random sizes with seed) into a new
 * parser for boundary; the result of the first failing mp_feed (or 0), and
 * mp_complete() in *complete.
 */
static int
parse(const char *boundary, const void *body, size_t len, enum cut cut,
    uint32_t seed, struct got *g, int *complete)
{
	const unsigned char *b = body;
	struct mp_parser *p = NULL;
	size_t off = 0, n;
	int r = 0;

	assert_int_equal(mp_new(boundary, &cbs, g, &p), 0);
	while (off < len) {
		if (cut == CUT_WHOLE)
			n = len;
		else if (cut == CUT_BYTES)
			n = 1;
		else
			n = 1 + next_rand(&seed) % (next_rand(&seed) % 3 == 0 ?
			    4 : 300);
		n = n < len - off ? n : len - off;
		if ((r = mp_feed(p, b + off, n)) != 0)
			break;
		off += n;
	}
	if (r != 0) {
		assert_string_not_equal(mp_error(p), "");
		/* Final: the same error again, whatever comes. */
		assert_int_equal(mp_feed(p, "x", 1), r);
		assert_false(mp_complete(p));
	} else
		assert_string_equal(mp_error(p), "");
	if (complete != NULL)
		*complete = mp_complete(p);
	mp_free(p);
	return r;
}

/* The result every way of cutting gives; returns it (and checks they agree). */
static int
parse_all_ways(const char *boundary, const void *body, size_t len,
    struct got *g, int *complete)
{
	struct got other;
	uint32_t seed;
	int r, r2, c = 0, c2 = 0;

	r = parse(boundary, body, len, CUT_WHOLE, 0, g, &c);
	memset(&other, 0, sizeof(other));
	r2 = parse(boundary, body, len, CUT_BYTES, 0, &other, &c2);
	assert_int_equal(r, r2);
	assert_int_equal(c, c2);
	if (r == 0)
		got_equal(g, &other);
	got_free(&other);
	for (seed = 1; seed <= 20; seed++) {
		r2 = parse(boundary, body, len, CUT_RANDOM, seed, &other, &c2);
		assert_int_equal(r, r2);
		assert_int_equal(c, c2);
		if (r == 0)
			got_equal(g, &other);
		got_free(&other);
	}
	if (complete != NULL)
		*complete = c;
	return r;
}

static void
assert_data(const struct got *g, int i, const void *data, size_t len)
{
	assert_true(i < g->nparts);
	assert_int_equal(g->len[i], len);
	if (len > 0)
		assert_memory_equal(g->data[i], data, len);
	assert_true(g->ended[i]);
}

#define S(lit)	lit, sizeof(lit) - 1

/* ---- bodies ------------------------------------------------------------ */

static const char body1[] =
    "This is the preamble.  It is to be ignored.\r\n"
    "--b1\r\n"
    "Content-Type: application/xml\r\n"
    "\r\n"
    "<Submission/>\r\n"
    "--b1  \t\r\n"
    "content-type: application/pdf\r\n"
    "CONTENT-ID:   <att-1>  \r\n"
    "X-Unknown: whatever; it=is\r\n"
    "Content-Transfer-Encoding: BINARY\r\n"
    "\r\n"
    "%PDF\x00\x01\xff\r\n\r\n-\r\n--\r\n--b\r\n--b2\r\r\n--B1\n--b1\r"
    "\r\n--b1\r\n"
    "Content-Disposition: form-data; name=\"scan 2\"; "
    "filename=\"a \\\"b\\\"; c.pdf\"\r\n"
    "\r\n"
    "\r\n"
    "\r\n--b1--  \r\n"
    "This is the epilogue, also ignored.\r\n--b1\r\nnot a part\r\n";

static void
test_parts(void **state)
{
	struct got g;
	int complete = 0;

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_int_equal(parse_all_ways("b1", body1, sizeof(body1) - 1, &g,
	    &complete), 0);
	assert_true(complete);
	assert_int_equal(g.nparts, 3);
	assert_string_equal(g.part[0].content_type, "application/xml");
	assert_string_equal(g.part[0].content_id, "");
	assert_data(&g, 0, S("<Submission/>"));
	assert_int_equal(g.part[1].index, 1);
	assert_string_equal(g.part[1].content_type, "application/pdf");
	assert_string_equal(g.part[1].content_id, "att-1");
	/* Delimiter-like bytes stay data; the CR before the delimiter's CRLF
	 * is data too. */
	assert_data(&g, 1, S("%PDF\x00\x01\xff\r\n\r\n-\r\n--\r\n--b\r\n--b2"
	    "\r\r\n--B1\n--b1\r"));
	assert_string_equal(g.part[2].content_type, "");
	assert_string_equal(g.part[2].name, "scan 2");
	assert_string_equal(g.part[2].filename, "a \"b\"; c.pdf");
	/* A part whose data is exactly one CRLF. */
	assert_data(&g, 2, S("\r\n"));
	got_free(&g);
}

/* Every split of the body into two pieces gives the same parts. */
static void
test_every_split(void **state)
{
	struct got whole, g;
	struct mp_parser *p;
	size_t len = sizeof(body1) - 1, k;

	(void)state;
	memset(&whole, 0, sizeof(whole));
	assert_int_equal(parse("b1", body1, len, CUT_WHOLE, 0, &whole, NULL), 0);
	for (k = 0; k <= len; k++) {
		memset(&g, 0, sizeof(g));
		assert_int_equal(mp_new("b1", &cbs, &g, &p), 0);
		assert_int_equal(mp_feed(p, body1, k), 0);
		assert_int_equal(mp_feed(p, body1 + k, len - k), 0);
		assert_true(mp_complete(p));
		got_equal(&whole, &g);
		mp_free(p);
		got_free(&g);
	}
	got_free(&whole);
}

/* Large binary parts, random content with planted near-delimiters. */
static void
test_large_random(void **state)
{
	static const char *bnd = "----=_Part_0_12345.67890";
	size_t sizes[3] = { 0, 70000, 300001 }, n = 0, i, j;
	unsigned char *body, *data[3];
	uint32_t seed = 7;
	struct got g;
	int complete = 0;

	(void)state;
	body = malloc(400000 + 1000);
	assert_non_null(body);
	for (i = 0; i < 3; i++) {
		data[i] = malloc(sizes[i] + 1);
		assert_non_null(data[i]);
		for (j = 0; j < sizes[i]; j++)
			data[i][j] = (unsigned char)next_rand(&seed);
		/* "\r\n--" + a prefix of the boundary, here and there */
		for (j = 1000; j + 40 < sizes[i]; j += 9973) {
			memcpy(data[i] + j, "\r\n--", 4);
			memcpy(data[i] + j + 4, bnd, j % 20);
		}
		n += (size_t)snprintf((char *)body + n, 200, "\r\n--%s\r\n"
		    "Content-Type: application/octet-stream\r\n\r\n", bnd);
		if (sizes[i] > 0)
			memcpy(body + n, data[i], sizes[i]);
		n += sizes[i];
	}
	n += (size_t)snprintf((char *)body + n, 200, "\r\n--%s--", bnd);
	memset(&g, 0, sizeof(g));
	assert_int_equal(parse_all_ways(bnd, body, n, &g, &complete), 0);
	assert_true(complete);
	assert_int_equal(g.nparts, 3);
	for (i = 0; i < 3; i++) {
		assert_data(&g, (int)i, data[i], sizes[i]);
		free(data[i]);
	}
	got_free(&g);
	free(body);
}

static void
test_incomplete(void **state)
{
	static const char *cut[] = {
		"--b1\r\n\r\ndata",			/* in a part */
		"--b1\r\n\r\ndata\r\n--b1",		/* at a delimiter */
		"--b1\r\n\r\ndata\r\n--b1-",		/* half the "--" */
		"--b1\r\nContent-Type: a/b\r\n",	/* in the headers */
		"preamble only",
		"",
	};
	struct got g;
	size_t i;
	int complete = 1;

	(void)state;
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		memset(&g, 0, sizeof(g));
		assert_int_equal(parse_all_ways("b1", cut[i], strlen(cut[i]), &g,
		    &complete), 0);
		assert_false(complete);
		got_free(&g);
	}
	/* The body starts with the delimiter, no CRLF before it, and a part
	 * may have no headers and no data. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(parse_all_ways("b1", S("--b1\r\n\r\n\r\n--b1--"), &g,
	    &complete), 0);
	assert_true(complete);
	assert_int_equal(g.nparts, 1);
	assert_data(&g, 0, "", 0);
	got_free(&g);
}

/* The body parse_all_ways() refuses with err. */
static void
refused(const char *boundary, const char *body, size_t len, int err)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	assert_int_equal(parse_all_ways(boundary, body, len, &g, NULL), err);
	got_free(&g);
}

static void
test_lf_only_refused(void **state)
{
	(void)state;
	refused("b1", S("--b1\nContent-Type: a/b\n\ndata\n--b1--\n"),
	    GW_ERR_INVALID);
	refused("b1", S("--b1\r\nContent-Type: a/b\n\r\ndata\r\n--b1--"),
	    GW_ERR_INVALID);
	refused("b1", S("--b1\r\nContent-Type: a/b\r\n\n"), GW_ERR_INVALID);
	refused("b1", S("--b1\r\nContent-Type: a/b\rX\r\n\r\n"), GW_ERR_INVALID);
	/* An LF-only body after a CRLF delimiter never ends its part. */
	{
		struct got g;
		int complete = 1;

		memset(&g, 0, sizeof(g));
		assert_int_equal(parse_all_ways("b1",
		    S("--b1\r\n\r\ndata\n--b1--\n"), &g, &complete), 0);
		assert_false(complete);
		got_free(&g);
	}
}

static void
test_delimiter_line_refused(void **state)
{
	(void)state;
	/* The boundary followed by something other than padding and CRLF:
	 * the data held the boundary, which the sender must not do. */
	refused("b1", S("--b1\r\n\r\nx\r\n--b12\r\n\r\n--b1--"), GW_ERR_INVALID);
	refused("b1", S("--b1x\r\n"), GW_ERR_INVALID);
	refused("b1", S("--b1 x\r\n"), GW_ERR_INVALID);
	refused("b1", S("--b1-x"), GW_ERR_INVALID);
	refused("b1", S("--b1 --"), GW_ERR_INVALID);
	/* No parts at all. */
	refused("b1", S("--b1--\r\n"), GW_ERR_INVALID);
}

static void
test_headers_refused(void **state)
{
	(void)state;
	refused("b", S("--b\r\nContent-Type: a/b\r\n folded\r\n\r\n"),
	    GW_ERR_INVALID);
	refused("b", S("--b\r\nContent-Type: a/b\r\n\tfolded\r\n\r\n"),
	    GW_ERR_INVALID);
	refused("b", S("--b\r\n folded-first: x\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\nno colon\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\n: no name\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\nContent Type: a/b\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\nContent-Type: a/b\r\ncontent-type: a/c\r\n\r\n"),
	    GW_ERR_INVALID);
	refused("b", S("--b\r\nContent-Type: nonsense\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\nContent-ID: <att-1\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\nContent-ID: <>\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\n"),
	    GW_ERR_INVALID);
	refused("b", S("--b\r\nContent-Disposition: form-data; name=a; "
	    "name=b\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\nX-A: a\001b\r\n\r\n"), GW_ERR_INVALID);
	refused("b", S("--b\r\nX-A: a\0b\r\n\r\n"), GW_ERR_INVALID);
}

static void
test_cte(void **state)
{
	static const char *ok[] = { "binary", "8bit", "7BIT", "Binary" };
	static const char *bad[] = { "base64", "quoted-printable", "x-gzip", "" };
	char body[256];
	struct got g;
	size_t i;
	int complete = 0;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(body, sizeof(body), "--b\r\nContent-Transfer-Encoding: "
		    "%s\r\n\r\nabc\r\n--b--", ok[i]);
		memset(&g, 0, sizeof(g));
		assert_int_equal(parse_all_ways("b", body, strlen(body), &g,
		    &complete), 0);
		assert_true(complete);
		assert_data(&g, 0, "abc", 3);
		got_free(&g);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "--b\r\nContent-Transfer-Encoding: "
		    "%s\r\n\r\nYWJj\r\n--b--", bad[i]);
		refused("b", body, strlen(body), GW_ERR_UNSUPPORTED_MEDIA);
	}
}

/* A header block of exactly MP_MAX_HEADER bytes passes; one more does not. */
static void
test_header_limit(void **state)
{
	char *body = malloc(MP_MAX_HEADER + 64);
	size_t pre = strlen("--b\r\n"), hdr;
	struct got g;
	int complete = 0;

	(void)state;
	assert_non_null(body);
	for (hdr = MP_MAX_HEADER; hdr <= MP_MAX_HEADER + 1; hdr++) {
		memcpy(body, "--b\r\nX-Pad: ", 12);
		memset(body + 12, 'x', hdr - 7 - 4);
		memcpy(body + pre + hdr - 4, "\r\n\r\n", 4);
		memcpy(body + pre + hdr, "d\r\n--b--", 8);
		memset(&g, 0, sizeof(g));
		if (hdr == MP_MAX_HEADER) {
			assert_int_equal(parse_all_ways("b", body, pre + hdr + 8,
			    &g, &complete), 0);
			assert_true(complete);
			assert_data(&g, 0, "d", 1);
		} else
			assert_int_equal(parse_all_ways("b", body, pre + hdr + 8,
			    &g, NULL), GW_ERR_TOO_LARGE);
		got_free(&g);
	}
	free(body);
}

static void
test_part_limit(void **state)
{
	char *body = malloc(100 * 16);
	size_t n, i, k;
	struct got g;
	int complete = 0;

	(void)state;
	assert_non_null(body);
	for (k = MP_MAX_PARTS; k <= MP_MAX_PARTS + 1; k++) {
		n = 0;
		for (i = 0; i < k; i++)
			n += (size_t)snprintf(body + n, 16, "--b\r\n\r\n%zu\r\n",
			    i % 10);
		n += (size_t)snprintf(body + n, 16, "--b--");
		memset(&g, 0, sizeof(g));
		if (k == MP_MAX_PARTS) {
			assert_int_equal(parse_all_ways("b", body, n, &g,
			    &complete), 0);
			assert_true(complete);
			assert_int_equal(g.nparts, MP_MAX_PARTS);
		} else
			assert_int_equal(parse_all_ways("b", body, n, &g, NULL),
			    GW_ERR_TOO_LARGE);
		got_free(&g);
	}
	free(body);
}

static void
test_field_lengths(void **state)
{
	char body[1024], v[300];
	struct got g;

	(void)state;
	memset(v, 'a', sizeof(v));
	/* 127 bytes fit Content-Type, 128 do not */
	memcpy(v, "a/", 2);
	snprintf(body, sizeof(body), "--b\r\nContent-Type: %.127s\r\n\r\n\r\n--b--",
	    v);
	memset(&g, 0, sizeof(g));
	assert_int_equal(parse_all_ways("b", body, strlen(body), &g, NULL), 0);
	assert_int_equal(strlen(g.part[0].content_type), 127);
	got_free(&g);
	snprintf(body, sizeof(body), "--b\r\nContent-Type: %.128s\r\n\r\n\r\n--b--",
	    v);
	refused("b", body, strlen(body), GW_ERR_INVALID);
	/* 255 bytes fit filename, 256 do not */
	memset(v, 'f', sizeof(v));
	snprintf(body, sizeof(body), "--b\r\nContent-Disposition: attachment; "
	    "filename=\"%.255s\"\r\n\r\n\r\n--b--", v);
	memset(&g, 0, sizeof(g));
	assert_int_equal(parse_all_ways("b", body, strlen(body), &g, NULL), 0);
	assert_int_equal(strlen(g.part[0].filename), 255);
	got_free(&g);
	snprintf(body, sizeof(body), "--b\r\nContent-Disposition: attachment; "
	    "filename=\"%.256s\"\r\n\r\n\r\n--b--", v);
	refused("b", body, strlen(body), GW_ERR_INVALID);
}

static void
test_callback_error(void **state)
{
	struct got g;
	struct mp_parser *p = NULL;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.fail_at = 2;
	assert_int_equal(mp_new("b", &cbs, &g, &p), 0);
	assert_int_equal(mp_feed(p, S("--b\r\n\r\none\r\n--b\r\n\r\ntw")),
	    GW_ERR_TOO_LARGE);
	assert_string_not_equal(mp_error(p), "");
	assert_int_equal(mp_feed(p, S("o\r\n--b--")), GW_ERR_TOO_LARGE);
	assert_false(mp_complete(p));
	assert_int_equal(g.nparts, 2);
	assert_data(&g, 0, "one", 3);
	mp_free(p);
	got_free(&g);
}

static void
test_new_refuses(void **state)
{
	struct mp_parser *p = NULL;
	char b71[72];

	(void)state;
	memset(b71, 'b', 71);
	b71[71] = '\0';
	assert_int_equal(mp_new("", &cbs, NULL, &p), GW_ERR_INVALID);
	assert_int_equal(mp_new(b71, &cbs, NULL, &p), GW_ERR_INVALID);
	assert_int_equal(mp_new("a\r\nb", &cbs, NULL, &p), GW_ERR_INVALID);
	assert_int_equal(mp_new("ends ", &cbs, NULL, &p), GW_ERR_INVALID);
	assert_int_equal(mp_new(NULL, &cbs, NULL, &p), GW_ERR_INVALID);
	assert_null(p);
	b71[70] = '\0';
	assert_int_equal(mp_new(b71, &cbs, NULL, &p), 0);
	mp_free(p);
	mp_free(NULL);
}

/* ---- mp_boundary ------------------------------------------------------- */

static void
boundary_is(const char *ct, const char *want)
{
	char b[MP_MAX_BOUNDARY + 1];

	assert_int_equal(mp_boundary(ct, b, sizeof(b)), 0);
	assert_string_equal(b, want);
}

static void
test_boundary(void **state)
{
	static const char *bad[] = {
		"multipart/related",
		"multipart/related; type=\"application/xml\"",
		"multipart/related; boundary=",
		"multipart/related; boundary=\"\"",
		"multipart/related; boundary=\"unterminated",
		"multipart/related; boundary=a=b",
		"multipart/related; boundary=\"trailing \"",
		"multipart/related; boundary=\"a\x01\"",
		"multipart/related; boundary=\"a@b\"",
		"multipart/related; boundary=a; boundary=b",
		"multipart/related; boundary b",
		"multipart/related boundary=b",
	};
	char b[MP_MAX_BOUNDARY + 1], ct[200];
	size_t i;

	(void)state;
	boundary_is("multipart/related; boundary=b1", "b1");
	boundary_is("multipart/related; boundary=\"b1\"; type=\"application/xml\"",
	    "b1");
	boundary_is("multipart/related;type=\"application/xml\";boundary=\"b1\"",
	    "b1");
	boundary_is("Multipart/Related; BOUNDARY=\"a b:c=d?e\"", "a b:c=d?e");
	boundary_is("multipart/form-data; boundary=----WebKitFormBoundaryX3",
	    "----WebKitFormBoundaryX3");
	boundary_is("multipart/related; start=\"<a;boundary=x>\"; "
	    "boundary=real", "real");
	boundary_is("multipart/related; type=\"a\\\"b\"; boundary=\"q\\uote\"",
	    "quote");
	boundary_is("  multipart/related ; boundary = b1 ;", "b1");
	boundary_is("multipart/related; boundary=\"'()+_,-./:=?\"",
	    "'()+_,-./:=?");
	/* Not multipart/related or form-data. */
	assert_int_equal(mp_boundary("application/xml", b, sizeof(b)),
	    GW_ERR_UNSUPPORTED_MEDIA);
	assert_int_equal(mp_boundary("multipart/mixed; boundary=b", b, sizeof(b)),
	    GW_ERR_UNSUPPORTED_MEDIA);
	assert_int_equal(mp_boundary("multipart/relatedx; boundary=b", b,
	    sizeof(b)), GW_ERR_UNSUPPORTED_MEDIA);
	assert_int_equal(mp_boundary("", b, sizeof(b)), GW_ERR_UNSUPPORTED_MEDIA);
	assert_int_equal(mp_boundary(NULL, b, sizeof(b)),
	    GW_ERR_UNSUPPORTED_MEDIA);
	/* Missing or bad boundaries, bad parameter syntax. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mp_boundary(bad[i], b, sizeof(b)) != GW_ERR_INVALID)
			fail_msg("accepted: %s", bad[i]);
	}
	/* 70 characters pass, 71 do not. */
	snprintf(ct, sizeof(ct), "multipart/related; boundary=%070d", 7);
	assert_int_equal(mp_boundary(ct, b, sizeof(b)), 0);
	assert_int_equal(strlen(b), 70);
	snprintf(ct, sizeof(ct), "multipart/related; boundary=%071d", 7);
	assert_int_equal(mp_boundary(ct, b, sizeof(b)), GW_ERR_INVALID);
	/* The caller's buffer too small. */
	assert_int_equal(mp_boundary("multipart/related; boundary=abc", b, 3),
	    GW_ERR_TOO_LARGE);
}

/* What mp_boundary() returns is what the parser takes. */
static void
test_quoted_boundary_body(void **state)
{
	char b[MP_MAX_BOUNDARY + 1];
	struct got g;
	int complete = 0;

	(void)state;
	assert_int_equal(mp_boundary("multipart/related; type=\"text/xml\"; "
	    "boundary=\"=_a b?c\"", b, sizeof(b)), 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(parse_all_ways(b, S("--=_a b?c\r\n\r\nxml\r\n"
	    "--=_a b?c\r\nContent-ID: <att-1>\r\n\r\n--=_a b?\r\n--=_a b?c--"),
	    &g, &complete), 0);
	assert_true(complete);
	assert_int_equal(g.nparts, 2);
	assert_data(&g, 0, "xml", 3);
	assert_string_equal(g.part[1].content_id, "att-1");
	assert_data(&g, 1, S("--=_a b?"));
	got_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_large_random),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_lf_only_refused),
		cmocka_unit_test(test_delimiter_line_refused),
		cmocka_unit_test(test_headers_refused),
		cmocka_unit_test(test_cte),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_part_limit),
		cmocka_unit_test(test_field_lengths),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_new_refuses),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_quoted_boundary_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
