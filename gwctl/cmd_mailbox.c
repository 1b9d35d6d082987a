/*
 * cmd_mailbox.c - the authority's side: gwctl mailbox list|fetch|close.
 *
 * list turns the gateway's <MailboxList> into a table (or prints it raw
 * with --xml); fetch writes the message's SOAP envelope byte for byte;
 * close confirms reception, which is what records it on the process card.
 *
 * A message with attachments (docs/attachments.md section 3) lists them
 * in the envelope's header; fetch then also gets each attachment document
 * (GET /v1/messages/ID/attachments/ATT) and streams it into <ATT>.xml
 * next to the envelope (a temporary file, fsync'd and renamed once
 * complete), never holding one whole in memory.  gwctl decrypt checks
 * their digests.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "err.h"
#include "gwctl.h"
#include "util.h"
#include "xmlparse.h"

#define MAILBOX_MAX_LIMIT	1000ULL	/* the API's maximum (docs/api.md) */

static const char mailbox_help[] =
    "usage: gwctl mailbox list [--after N] [--limit N] [--xml] [CONNECTION OPTIONS]\n"
    "       gwctl mailbox fetch ID [-o FILE | --dir DIR] [--quiet] [CONNECTION OPTIONS]\n"
    "       gwctl mailbox close ID [CONNECTION OPTIONS]\n\n"
    "An authority's mailbox at the gateway.  With --dev, the client\n"
    "certificate defaults to authority-a's.\n\n"
    "  list   the waiting messages (id, size, service, received);\n"
    "         --after N starts after sequence number N, --limit N caps\n"
    "         the count, --xml prints the gateway's MailboxList as is\n"
    "  fetch  writes message ID (a SOAP envelope with the encrypted\n"
    "         content) to stdout or, with -o, to FILE; see gwctl decrypt.\n"
    "         Attachments the envelope lists are fetched as ATT.xml (one\n"
    "         encrypted document each, streamed to disk) into FILE's\n"
    "         directory; --dir DIR writes DIR/envelope.xml and them into\n"
    "         DIR (created if missing).  Progress is shown on a terminal\n"
    "         for attachments above 10 MiB unless --quiet\n"
    "  close  confirms that message ID was received and processed\n\n";

struct mb {
	struct gwctl_conn conn;
	const char *after, *limit, *out, *id, *dir;
	int xml, quiet;
	char envpath[PATH_MAX];
};

/* Envelopes carry big base64 text. */
static const struct xml_limits envelope_limits = {
	.max_bytes = GWCTL_MAX_RESPONSE,
	.max_depth = 64,
	.max_nodes = 1000000,
	.max_attrs = 64,
	.max_text = GWCTL_MAX_RESPONSE,
};

/*
 * Options of one subcommand (shortopts and longopts list only the ones it
 * takes) and, if want_id, one positional ID.  Returns 0, -1 after --help, or GWCTL_USAGE.
 */
static int
mb_args(int argc, char **argv, const char *cmd, const char *shortopts,
    const struct option *longopts, int want_id, struct mb *m)
{
	int c, r;

	conn_init(&m->conn);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("%s%s", mailbox_help, gwctl_conn_help);
			return -1;
		case 'a': m->after = optarg; break;
		case 'l': m->limit = optarg; break;
		case 'x': m->xml = 1; break;
		case 'o': m->out = optarg; break;
		case 'd': m->dir = optarg; break;
		case 'q': m->quiet = 1; break;
		default:
			if ((r = conn_option(&m->conn, cmd, c, optarg)) == 0)
				return gwctl_bad_option(cmd, argv);
			if (r != 1)
				return r;
		}
	}
	if (argc - optind != (want_id ? 1 : 0))
		return gwctl_usage_err(cmd, want_id ? "expected one message ID" :
		    "unexpected argument");
	if (want_id) {
		m->id = argv[optind];
		if (m->id[0] == '\0' || strlen(m->id) > 255)
			return gwctl_usage_err(cmd, "ID must be 1-255 characters");
	}
	return conn_finish(&m->conn, cmd, "authority-a");
}

/* An attribute's value, sanitised for a terminal, into out. */
static void
attr(xmlNodePtr n, const char *name, char *out, size_t outlen)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);

	util_strlcpy(out, v != NULL ? (const char *)v : "-", outlen);
	xmlFree(v);
	gwctl_sanitize(out);
}

static int
print_list(const struct http_resp *resp)
{
	char id[256], size[32], service[512], received[64], next[32];
	xmlDocPtr doc = NULL;
	xmlNodePtr root, n;
	int r, rows = 0;

	r = xmlparse_safe((const char *)resp->body, resp->len,
	    &xmlparse_default_limits, &doc);
	if (r != 0 || (root = xmlDocGetRootElement(doc)) == NULL ||
	    xmlStrcmp(root->name, (const xmlChar *)"MailboxList") != 0) {
		gwctl_err("mailbox list", "the gateway's answer is not a "
		    "MailboxList%s%s", r ? ": " : "", r ? gw_strerror(r) : "");
		xmlFreeDoc(doc);
		return GWCTL_FAIL;
	}
	printf("%-36s %10s  %-32s %s\n", "ID", "SIZE", "SERVICE", "RECEIVED");
	for (n = root->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE ||
		    xmlStrcmp(n->name, (const xmlChar *)"Message") != 0)
			continue;
		attr(n, "id", id, sizeof(id));
		attr(n, "size", size, sizeof(size));
		attr(n, "service", service, sizeof(service));
		attr(n, "received", received, sizeof(received));
		printf("%-36s %10s  %-32s %s\n", id, size, service, received);
		rows++;
	}
	attr(root, "next", next, sizeof(next));
	xmlFreeDoc(doc);
	if (fflush(stdout) != 0) {
		gwctl_err("mailbox list", "cannot write to stdout: %s",
		    strerror(errno));
		return GWCTL_FAIL;
	}
	/* A hint, not part of the table: stderr keeps stdout parseable. */
	if (rows > 0 && strcmp(next, "-") != 0 && next[0] != '\0' &&
	    strcmp(next, "0") != 0)
		fprintf(stderr, "gwctl: mailbox list: next page: --after %s\n", next);
	return GWCTL_OK;
}

static int
mailbox_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		GWCTL_CONN_LONGOPTS,
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "xml", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct http_resp resp = { 0, NULL, 0 };
	unsigned long long after = 0, limit = 0;
	char path[128];
	struct mb m;
	int r, rc = GWCTL_FAIL;

	memset(&m, 0, sizeof(m));
	if ((r = mb_args(argc, argv, "mailbox list", "h", longopts, 0, &m)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if (m.after != NULL && gwctl_parse_u64(m.after, 0, INT64_MAX, &after) != 0)
		return gwctl_usage_err("mailbox list", "--after takes a sequence "
		    "number (0 or more)");
	if (m.limit != NULL &&
	    gwctl_parse_u64(m.limit, 1, MAILBOX_MAX_LIMIT, &limit) != 0)
		return gwctl_usage_err("mailbox list", "--limit takes a number "
		    "from 1 to %llu", MAILBOX_MAX_LIMIT);
	snprintf(path, sizeof(path), "/v1/mailbox");
	if (m.after != NULL && m.limit != NULL)
		snprintf(path, sizeof(path), "/v1/mailbox?after=%llu&limit=%llu",
		    after, limit);
	else if (m.after != NULL)
		snprintf(path, sizeof(path), "/v1/mailbox?after=%llu", after);
	else if (m.limit != NULL)
		snprintf(path, sizeof(path), "/v1/mailbox?limit=%llu", limit);
	if (http_request(&m.conn, "mailbox list", "GET", path, NULL, 0, NULL,
	    &resp) != 0)
		goto out;
	if (resp.status != 200) {
		http_print_error("mailbox list", &resp);
		goto out;
	}
	if (m.xml) {
		if (gwctl_write_output(NULL, resp.body, resp.len) != 0) {
			gwctl_err("mailbox list", "cannot write to stdout: %s",
			    strerror(errno));
			goto out;
		}
		rc = GWCTL_OK;
	} else
		rc = print_list(&resp);
 out:
	http_resp_free(&resp);
	return rc;
}

/* -o FILE or --dir DIR (created; the envelope as DIR/envelope.xml). */
static int
fetch_dest(struct mb *m)
{
	struct stat st;

	if (m->dir == NULL)
		return 0;
	if (m->out != NULL)
		return gwctl_usage_err("mailbox fetch", "-o FILE and --dir DIR "
		    "exclude each other");
	if (mkdir(m->dir, 0700) != 0 && (errno != EEXIST ||
	    stat(m->dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
		gwctl_err("mailbox fetch", "cannot create the directory %s: %s",
		    m->dir, errno == EEXIST ? "a file of that name exists" :
		    strerror(errno));
		return GWCTL_FAIL;
	}
	if ((size_t)snprintf(m->envpath, sizeof(m->envpath), "%s/envelope.xml",
	    m->dir) >= sizeof(m->envpath))
		return gwctl_usage_err("mailbox fetch", "the --dir path is too long");
	m->out = m->envpath;
	return 0;
}

/* The directory of path ("." if it has none) into dir. */
static void
dir_of(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		util_strlcpy(dir, ".", dirlen);
	else if (slash == path)
		util_strlcpy(dir, "/", dirlen);
	else
		snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
}

/* GET one attachment document into dir/<id>.xml, streamed. */
static int
fetch_one(struct mb *m, const char *dir, const struct gwctl_att *a)
{
	const char *cmd = "mailbox fetch";
	struct http_resp resp = { 0, NULL, 0 };
	struct gwctl_progress prog;
	struct http_xfer x;
	char path[1024], tmp[PATH_MAX], dst[PATH_MAX], what[100], *eid = NULL;
	int fd = -1, rc = GWCTL_FAIL, made = 0;

	if ((eid = http_escape(m->id)) == NULL) {
		gwctl_err(cmd, "out of memory");
		return GWCTL_FAIL;
	}
	/* a valid Id needs no escaping: [A-Za-z0-9._-] */
	snprintf(path, sizeof(path), "/v1/messages/%s/attachments/%s", eid, a->id);
	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s.xml", dir, a->id) >=
	    sizeof(dst) || gwctl_tmpfile(dir, tmp, sizeof(tmp), &fd) != 0) {
		gwctl_err(cmd, "cannot create a file in %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	made = 1;
	snprintf(what, sizeof(what), "%s", a->id);
	gwctl_progress_init(&prog, cmd, what, m->quiet);
	memset(&x, 0, sizeof(x));
	x.out_fd = fd;
	x.progress = &prog;
	if (http_transfer(&m->conn, cmd, "GET", path, NULL, &x, &resp) != 0)
		goto out;
	if (resp.status != 200) {
		http_print_error(cmd, &resp);
		goto out;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		gwctl_err(cmd, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) != 0) {
		gwctl_err(cmd, "cannot rename %s to %s: %s", tmp, dst,
		    strerror(errno));
		goto out;
	}
	made = 0;
	fprintf(stderr, "gwctl: %s: %s (%s, %llu bytes) -> %s\n", cmd, a->id,
	    a->filename, a->size, dst);
	rc = GWCTL_OK;
 out:
	if (fd >= 0)
		close(fd);
	if (made)
		(void)unlink(tmp);
	http_resp_free(&resp);
	free(eid);
	return rc;
}

/* The attachments the fetched envelope lists. */
static int
fetch_attachments(struct mb *m, const struct http_resp *env)
{
	const char *cmd = "mailbox fetch";
	struct gwctl_attlist *l = NULL;
	xmlDocPtr doc = NULL;
	char dir[PATH_MAX], why[200];
	size_t i;
	int r, rc = GWCTL_FAIL;

	if ((r = xmlparse_safe((const char *)env->body, env->len,
	    &envelope_limits, &doc)) != 0) {
		gwctl_err(cmd, "the fetched message is not XML: %s", gw_strerror(r));
		return GWCTL_FAIL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		gwctl_err(cmd, "out of memory");
		goto out;
	}
	if (attlist_from_envelope(doc, l, why, sizeof(why)) != 0) {
		gwctl_err(cmd, "%s", why);
		goto out;
	}
	if (l->n > 0 && m->out == NULL) {
		fprintf(stderr, "gwctl: %s: %zu attachment(s) not fetched; use -o "
		    "FILE or --dir DIR\n", cmd, l->n);
		rc = GWCTL_OK;
		goto out;
	}
	if (l->n > 0)
		dir_of(m->out, dir, sizeof(dir));
	for (i = 0; i < l->n; i++)
		if (fetch_one(m, dir, &l->v[i]) != GWCTL_OK)
			goto out;
	rc = GWCTL_OK;
 out:
	free(l);
	xmlFreeDoc(doc);
	return rc;
}

/* fetch and close: one request on /v1/mailbox/ID[suffix]. */
static int
mailbox_one(int argc, char **argv, const char *cmd, int fetch)
{
	static const struct option fetch_opts[] = {
		GWCTL_CONN_LONGOPTS,
		{ "output", required_argument, NULL, 'o' },
		{ "dir", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct option close_opts[] = {
		GWCTL_CONN_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct http_resp resp = { 0, NULL, 0 };
	char path[1024], *eid = NULL;
	struct mb m;
	int r, rc = GWCTL_FAIL;

	memset(&m, 0, sizeof(m));
	if ((r = mb_args(argc, argv, cmd, fetch ? "ho:q" : "h",
	    fetch ? fetch_opts : close_opts, 1, &m)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if (fetch && (r = fetch_dest(&m)) != 0)
		return r;
	if ((eid = http_escape(m.id)) == NULL) {
		gwctl_err(cmd, "out of memory");
		return GWCTL_FAIL;
	}
	snprintf(path, sizeof(path), "/v1/mailbox/%s%s", eid, fetch ? "" : "/close");
	if (http_request(&m.conn, cmd, fetch ? "GET" : "POST", path, NULL, 0,
	    NULL, &resp) != 0)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		http_print_error(cmd, &resp);
		goto out;
	}
	if (gwctl_write_output(m.out, resp.body, resp.len) != 0) {
		gwctl_err(cmd, "cannot write %s: %s", m.out ? m.out : "to stdout",
		    strerror(errno));
		goto out;
	}
	rc = fetch ? fetch_attachments(&m, &resp) : GWCTL_OK;
 out:
	http_resp_free(&resp);
	free(eid);
	return rc;
}

int
cmd_mailbox(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return mailbox_list(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "fetch") == 0)
		return mailbox_one(argc - 1, argv + 1, "mailbox fetch", 1);
	if (argc >= 2 && strcmp(argv[1], "close") == 0)
		return mailbox_one(argc - 1, argv + 1, "mailbox close", 0);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("%s%s", mailbox_help, gwctl_conn_help);
		return GWCTL_OK;
	}
	if (argc < 2)
		return gwctl_usage_err("mailbox", "expected list, fetch or close");
	return gwctl_usage_err("mailbox", "unknown subcommand \"%s\"; expected "
	    "list, fetch or close", argv[1]);
}
