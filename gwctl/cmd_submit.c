/*
 * cmd_submit.c - the portal's side: gwctl submit and gwctl status.
 *
 * Both print the gateway's answer body unchanged on stdout (a receipt or a
 * process card, possibly signed: its bytes matter) and turn an error answer
 * into one line "gwctl: submit: HTTP 422 SIGNATURE_INVALID: ...".
 *
 * submit --attach (docs/attachments.md section 2): the files must be the
 * ones the signed document lists (same size and SHA-256, checked here
 * before anything is sent, in any order on the command line); the body is
 * multipart/related, the XML first, then each file in the list's order
 * with Content-ID <Id>, read from disk in pieces while libcurl sends it
 * (never whole in memory), with a known Content-Length.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/tree.h>

#include "bodysrc.h"
#include "err.h"
#include "gwctl.h"
#include "util.h"
#include "xmlparse.h"


static const char submit_help[] =
    "usage: gwctl submit [CONNECTION OPTIONS] [--attach FILE ...] [--quiet] FILE|-\n\n"
    "Submits the signed document FILE (- for stdin) to the gateway\n"
    "(POST /v1/submissions) and prints the gateway's receipt.\n"
    "With --dev, the client certificate defaults to portal-1's.\n\n"
    "  --attach FILE  an attachment listed in the signed document (gwctl\n"
    "                 sample/sign --attach); give each listed file once, in\n"
    "                 any order (\";type=...\" is ignored here).  The files must\n"
    "                 match the list (size and SHA-256) or nothing is sent.\n"
    "                 The request is multipart/related, streamed from disk.\n"
    "  --quiet        no progress line (shown on a terminal above 10 MiB)\n\n";

static const char status_help[] =
    "usage: gwctl status [CONNECTION OPTIONS] ID\n\n"
    "Prints the process card of submission ID (GET /v1/submissions/ID):\n"
    "when it was accepted, forwarded and received, and the inspection\n"
    "report.  With --dev, the client certificate defaults to portal-1's.\n\n";

/*
 * Connection options plus --help; the single positional argument into
 * *arg.  Returns 0, -1 after printing help, or GWCTL_USAGE.
 */
static int
conn_args(int argc, char **argv, const char *cmd, const char *help,
    const char *default_as, struct gwctl_conn *conn, const char **arg)
{
	static const struct option longopts[] = {
		GWCTL_CONN_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, r;

	conn_init(conn);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			printf("%s%s", help, gwctl_conn_help);
			return -1;
		}
		if ((r = conn_option(conn, cmd, c, optarg)) == 0)
			return gwctl_bad_option(cmd, argv);
		if (r != 1)
			return r;
	}
	if (argc - optind != 1)
		return gwctl_usage_err(cmd, "expected one argument");
	*arg = argv[optind];
	return conn_finish(conn, cmd, default_as);
}

/* libcurl's read callback over the multipart body. */
static size_t
upload_read(char *buf, size_t size, size_t nitems, void *arg)
{
	long got = bodysrc_read(arg, buf, size * nitems);

	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

/*
 * The files of --attach in the order of the document's list l: each entry
 * must have a file of the same size and SHA-256, and each file an entry.
 * order[i] is the index into files of entry i.
 */
static int
match_files(const struct gwctl_attlist *l, char *const *files, size_t nfiles,
    const char *input, size_t *order)
{
	unsigned long long size[GWCTL_MAX_ATTACH];
	char sha[GWCTL_MAX_ATTACH][65], path[PATH_MAX];
	int used[GWCTL_MAX_ATTACH] = { 0 }, r;
	size_t i, j;

	for (j = 0; j < nfiles; j++) {
		if (attlist_arg_path(files[j], path, sizeof(path)) != 0 ||
		    (r = attlist_hash_file(path, &size[j], sha[j])) != 0) {
			gwctl_err("submit", "cannot read the attachment %.200s: %s",
			    files[j], strerror(errno));
			return GWCTL_FAIL;
		}
		files[j][strlen(path)] = '\0';	/* drop ";type=..." */
	}
	for (i = 0; i < l->n; i++) {
		for (j = 0; j < nfiles; j++)
			if (!used[j] && size[j] == l->v[i].size &&
			    strcmp(sha[j], l->v[i].sha256) == 0)
				break;
		if (j == nfiles) {
			gwctl_err("submit", "%s lists %s (%s, %llu bytes, SHA-256 "
			    "%.16s...) but no --attach file has that size and "
			    "SHA-256; nothing was sent", input, l->v[i].id,
			    l->v[i].filename, l->v[i].size, l->v[i].sha256);
			return GWCTL_FAIL;
		}
		used[j] = 1;
		order[i] = j;
	}
	for (j = 0; j < nfiles; j++)
		if (!used[j]) {
			gwctl_err("submit", "the attachment %s (%llu bytes) is not in "
			    "the list signed in %s (or is given twice); nothing was "
			    "sent", files[j], size[j], input);
			return GWCTL_FAIL;
		}
	return 0;
}

/* The multipart/related body: the XML, then each file in list order. */
static int
upload_build(struct bodysrc *b, const unsigned char *xml, size_t xlen,
    const struct gwctl_attlist *l, char *const *files, const size_t *order,
    const char *boundary)
{
	char text[400];
	size_t i;
	int r;

	snprintf(text, sizeof(text), "--%s\r\nContent-Type: application/xml"
	    "\r\n\r\n", boundary);
	if ((r = bodysrc_add_mem(b, text, strlen(text), 1)) != 0 ||
	    (r = bodysrc_add_mem(b, xml, xlen, 0)) != 0)
		return r;
	for (i = 0; i < l->n; i++) {
		snprintf(text, sizeof(text), "\r\n--%s\r\nContent-Type: %s"
		    "\r\nContent-ID: <%s>\r\n\r\n", boundary, l->v[i].ctype,
		    l->v[i].id);
		if ((r = bodysrc_add_mem(b, text, strlen(text), 1)) != 0 ||
		    (r = bodysrc_add_file(b, files[order[i]], l->v[i].size)) != 0)
			return r;
	}
	snprintf(text, sizeof(text), "\r\n--%s--\r\n", boundary);
	return bodysrc_add_mem(b, text, strlen(text), 1);
}

/* Parser limits for the document to be sent: it is only read here. */
static const struct xml_limits submit_limits = {
	.max_bytes = GWCTL_MAX_INPUT,
	.max_depth = 256,
	.max_nodes = 10000000,
	.max_attrs = 256,
	.max_text = GWCTL_MAX_INPUT,
};

/*
 * The signed document's attachment list, checked against the files.
 * A document that does not parse is sent as it is when no file is given
 * (the gateway says what is wrong with it).
 */
static int
submit_list(const char *input, const unsigned char *body, size_t len,
    char *const *files, size_t nfiles, struct gwctl_attlist *l, size_t *order)
{
	xmlDocPtr doc = NULL;
	char why[200];
	int r;

	r = xmlparse_safe((const char *)body, len, &submit_limits, &doc);
	if (r != 0 && nfiles == 0)
		return 0;
	if (r != 0) {
		gwctl_err("submit", "%s: %s", input, gw_strerror(r));
		return GWCTL_FAIL;
	}
	r = attlist_from_submission(doc, l, why, sizeof(why));
	xmlFreeDoc(doc);
	if (r != 0) {
		gwctl_err("submit", "%s: %s", input, why);
		return GWCTL_FAIL;
	}
	if (l->n > 0 && nfiles == 0) {
		gwctl_err("submit", "%s lists %zu attachment(s); give each file "
		    "with --attach FILE", input, l->n);
		return GWCTL_USAGE;
	}
	if (l->n == 0 && nfiles > 0) {
		gwctl_err("submit", "%s lists no attachments; --attach needs a "
		    "document signed with its list (gwctl sign --attach)", input);
		return GWCTL_USAGE;
	}
	return l->n > 0 ? match_files(l, files, nfiles, input, order) : 0;
}

/* POSTs the multipart body; 0 with *resp, or GWCTL_FAIL after a line. */
static int
submit_multipart(const struct gwctl_conn *conn, const unsigned char *xml,
    size_t xlen, const struct gwctl_attlist *l, char *const *files,
    const size_t *order, int quiet, struct http_resp *resp)
{
	struct gwctl_progress prog;
	struct http_xfer x;
	struct bodysrc *b = NULL;
	char boundary[48], rnd[40], ctype[160];
	int r;

	util_new_id(rnd);
	snprintf(boundary, sizeof(boundary), "gwctl-%s", rnd + 3);
	snprintf(ctype, sizeof(ctype), "multipart/related; boundary=\"%s\"; "
	    "type=\"application/xml\"", boundary);
	if ((r = bodysrc_new(&b)) != 0 ||
	    (r = upload_build(b, xml, xlen, l, files, order, boundary)) != 0) {
		gwctl_err("submit", "cannot build the request: %s", gw_strerror(r));
		bodysrc_free(b);
		return GWCTL_FAIL;
	}
	gwctl_progress_init(&prog, "submit", "sending", quiet);
	memset(&x, 0, sizeof(x));
	x.read = upload_read;
	x.read_arg = b;
	x.upload_len = bodysrc_total(b);
	x.out_fd = -1;
	x.progress = &prog;
	r = http_transfer(conn, "submit", "POST", "/v1/submissions", ctype, &x,
	    resp);
	if (bodysrc_error(b)[0])	/* http_transfer() said "aborted"; this says why */
		gwctl_err("submit", "%s; the gateway keeps nothing of an "
		    "incomplete upload", bodysrc_error(b));
	bodysrc_free(b);
	return r != 0 ? GWCTL_FAIL : 0;
}

struct submit_opts {
	struct gwctl_conn conn;
	const char *input;
	char *attach[GWCTL_MAX_ATTACH];
	size_t nattach;
	int quiet;
};

static int
submit_args(int argc, char **argv, struct submit_opts *o)
{
	static const struct option longopts[] = {
		GWCTL_CONN_LONGOPTS,
		{ "attach", required_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, r;

	conn_init(&o->conn);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("%s%s", submit_help, gwctl_conn_help);
			return -1;
		case 'q':
			o->quiet = 1;
			break;
		case 'a':
			if (o->nattach == GWCTL_MAX_ATTACH)
				return gwctl_usage_err("submit", "at most %d --attach",
				    GWCTL_MAX_ATTACH);
			o->attach[o->nattach++] = optarg;
			break;
		default:
			if ((r = conn_option(&o->conn, "submit", c, optarg)) == 0)
				return gwctl_bad_option("submit", argv);
			if (r != 1)
				return r;
		}
	}
	if (argc - optind != 1)
		return gwctl_usage_err("submit", "expected one FILE (or - for "
		    "stdin)");
	o->input = argv[optind];
	return conn_finish(&o->conn, "submit", "portal-1");
}

int
cmd_submit(int argc, char **argv)
{
	struct submit_opts *o = NULL;
	struct gwctl_attlist *l = NULL;
	struct http_resp resp = { 0, NULL, 0 };
	size_t order[GWCTL_MAX_ATTACH];
	unsigned char *body = NULL;
	size_t len = 0;
	int r, rc = GWCTL_FAIL;

	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		gwctl_err("submit", "out of memory");
		goto out;
	}
	if ((r = submit_args(argc, argv, o)) != 0) {
		rc = r < 0 ? GWCTL_OK : r;
		goto out;
	}
	if ((r = gwctl_read_input(o->input, GWCTL_MAX_INPUT, &body, &len)) != 0) {
		if (r == GW_ERR_TOO_LARGE)
			gwctl_err("submit", "%s is larger than %zu MiB", o->input,
			    GWCTL_MAX_INPUT >> 20);
		else
			gwctl_err("submit", "cannot read %s: %s", o->input,
			    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		goto out;
	}
	if (len == 0) {
		gwctl_err("submit", "%s is empty", o->input);
		goto out;
	}
	if ((r = submit_list(o->input, body, len, o->attach, o->nattach, l,
	    order)) != 0) {
		rc = r;
		goto out;
	}
	if (l->n > 0) {
		if (submit_multipart(&o->conn, body, len, l, o->attach, order,
		    o->quiet, &resp) != 0)
			goto out;
	} else if (http_request(&o->conn, "submit", "POST", "/v1/submissions",
	    body, len, "application/xml", &resp) != 0)
		goto out;
	/* 202 Accepted; a 2xx replay of the same submission is as good. */
	if (resp.status < 200 || resp.status > 299) {
		http_print_error("submit", &resp);
		goto out;
	}
	if (gwctl_write_output(NULL, resp.body, resp.len) != 0) {
		gwctl_err("submit", "cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	rc = GWCTL_OK;
 out:
	http_resp_free(&resp);
	free(body);
	free(l);
	free(o);
	return rc;
}

int
cmd_status(int argc, char **argv)
{
	struct gwctl_conn conn;
	struct http_resp resp = { 0, NULL, 0 };
	const char *id = NULL;
	char path[1024], *eid = NULL;
	int r, rc = GWCTL_FAIL;

	if ((r = conn_args(argc, argv, "status", status_help, "portal-1", &conn,
	    &id)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if (id[0] == '\0' || strlen(id) > 255)
		return gwctl_usage_err("status", "ID must be 1-255 characters");
	if ((eid = http_escape(id)) == NULL) {
		gwctl_err("status", "out of memory");
		return GWCTL_FAIL;
	}
	snprintf(path, sizeof(path), "/v1/submissions/%s", eid);
	if (http_request(&conn, "status", "GET", path, NULL, 0, NULL, &resp) != 0)
		goto out;
	if (resp.status != 200) {
		http_print_error("status", &resp);
		goto out;
	}
	if (gwctl_write_output(NULL, resp.body, resp.len) != 0) {
		gwctl_err("status", "cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	rc = GWCTL_OK;
 out:
	http_resp_free(&resp);
	free(eid);
	return rc;
}
