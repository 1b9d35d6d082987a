/*
 * http.c - gwctl's connection options and its HTTPS requests (libcurl easy
 * interface).
 *
 * Every request: https only, TLS 1.2 or newer (TLS 1.2 restricted to the
 * ECDHE AES-GCM suites of BSI TR-02102-2), the peer and its host name
 * verified, optional client certificate, 10 s to connect and 120 s in all,
 * no redirects followed, and the answer's body capped at GWCTL_MAX_RESPONSE
 * (the transfer is aborted beyond it, never buffered).  http_transfer()
 * streams instead: a request body from a read callback and a 2xx answer
 * into a file descriptor, any size, with a stall timeout instead of the
 * overall one (attachments, docs/attachments.md).
 *
 * curl_global_init() is main()'s job, before this is used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libxml/tree.h>

#include "err.h"
#include "gwctl.h"
#include "util.h"
#include "xmlparse.h"

#define GWCTL_DEFAULT_GATEWAY	"https://127.0.0.1:8443"
#define GWCTL_TLS12_CIPHERS	"ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256"
#define GWCTL_MAX_ERROR_BODY	(64 * 1024)

const char gwctl_conn_help[] =
    "Connection options:\n"
    "  --gateway URL   the gateway (default " GWCTL_DEFAULT_GATEWAY ")\n"
    "  --cert FILE     client certificate (PEM)\n"
    "  --key FILE      its private key (PEM)\n"
    "  --ca FILE       CA certificates for the gateway's certificate\n"
    "                  (default: the system's trust store)\n"
    "  --dev DIR       development PKI: defaults --ca DIR/ca.pem,\n"
    "                  --cert DIR/NAME.pem, --key DIR/NAME.key\n"
    "                  (default: $GWCTL_DEV)\n"
    "  --as NAME       the party NAME for --dev\n";

void
conn_init(struct gwctl_conn *c)
{
	memset(c, 0, sizeof(*c));
	util_strlcpy(c->gateway, GWCTL_DEFAULT_GATEWAY, sizeof(c->gateway));
}

static int
set_field(char *dst, size_t dstlen, const char *cmd, const char *opt,
    const char *arg)
{
	if (arg[0] == '\0')
		return gwctl_usage_err(cmd, "%s needs a non-empty argument", opt);
	if (util_strlcpy(dst, arg, dstlen) >= dstlen)
		return gwctl_usage_err(cmd, "the argument of %s is too long", opt);
	return 1;
}

int
conn_option(struct gwctl_conn *c, const char *cmd, int opt, const char *arg)
{
	switch (opt) {
	case GWCTL_OPT_GATEWAY:
		return set_field(c->gateway, sizeof(c->gateway), cmd, "--gateway", arg);
	case GWCTL_OPT_CERT:
		return set_field(c->cert, sizeof(c->cert), cmd, "--cert", arg);
	case GWCTL_OPT_KEY:
		return set_field(c->key, sizeof(c->key), cmd, "--key", arg);
	case GWCTL_OPT_CA:
		return set_field(c->ca, sizeof(c->ca), cmd, "--ca", arg);
	case GWCTL_OPT_DEV:
		return set_field(c->dev, sizeof(c->dev), cmd, "--dev", arg);
	case GWCTL_OPT_AS:
		return set_field(c->as, sizeof(c->as), cmd, "--as", arg);
	}
	return 0;
}

static int
dev_default(char *dst, size_t dstlen, const char *dir, const char *name,
    const char *ext)
{
	int n;

	if (dst[0] != '\0')	/* given explicitly: it wins */
		return 0;
	n = snprintf(dst, dstlen, "%s/%s%s", dir, name, ext);
	return n < 0 || (size_t)n >= dstlen ? -1 : 0;
}

int
conn_finish(struct gwctl_conn *c, const char *cmd, const char *default_as)
{
	const char *env = getenv("GWCTL_DEV");
	size_t n;

	if (c->dev[0] == '\0' && env != NULL && env[0] != '\0' &&
	    util_strlcpy(c->dev, env, sizeof(c->dev)) >= sizeof(c->dev))
		return gwctl_usage_err(cmd, "GWCTL_DEV is too long");
	if (c->as[0] != '\0' && c->dev[0] == '\0')
		return gwctl_usage_err(cmd, "--as needs --dev DIR (or GWCTL_DEV)");
	if (strchr(c->as, '/') != NULL || strcmp(c->as, "..") == 0)
		return gwctl_usage_err(cmd, "--as takes a party name, not a path");
	if (c->dev[0] != '\0') {
		if (c->as[0] == '\0')
			util_strlcpy(c->as, default_as, sizeof(c->as));
		if (dev_default(c->ca, sizeof(c->ca), c->dev, "ca", ".pem") != 0 ||
		    dev_default(c->cert, sizeof(c->cert), c->dev, c->as, ".pem") != 0 ||
		    dev_default(c->key, sizeof(c->key), c->dev, c->as, ".key") != 0)
			return gwctl_usage_err(cmd, "the --dev path is too long");
	}
	if ((c->cert[0] == '\0') != (c->key[0] == '\0'))
		return gwctl_usage_err(cmd, "--cert and --key go together");
	if (strncmp(c->gateway, "https://", 8) != 0 || c->gateway[8] == '\0')
		return gwctl_usage_err(cmd, "--gateway must be an https:// URL");
	n = strlen(c->gateway);
	while (n > 8 && c->gateway[n - 1] == '/')
		c->gateway[--n] = '\0';
	return 0;
}

struct sink {
	unsigned char *buf;
	size_t len, cap, max;
	int toobig;
	/* streaming: a 2xx answer goes to fd instead (fd >= 0) */
	CURL *h;
	int fd, fd_err, fd_errno;
	unsigned long long fd_len;
};

static int
sink_to_fd(struct sink *s)
{
	long status = 0;

	if (s->fd < 0)
		return 0;
	/* Inside the write callback the status line has been read. */
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	return status >= 200 && status <= 299;
}

static size_t
sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, cap;
	unsigned char *nb;

	if (sink_to_fd(s)) {
		if (util_write_all(s->fd, data, n) != 0) {
			s->fd_err = 1;
			s->fd_errno = errno;
			return 0;
		}
		s->fd_len += n;
		return n;
	}
	if (n > s->max - s->len) {
		s->toobig = 1;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		cap = s->cap == 0 ? 16384 : s->cap;
		while (cap < s->len + n + 1)
			cap *= 2;
		if ((nb = realloc(s->buf, cap)) == NULL)
			return 0;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static int
xfer_info(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct gwctl_progress *p = arg;

	if (ultotal > 0 && ulnow < ultotal)
		gwctl_progress_update(p, (unsigned long long)ulnow,
		    (unsigned long long)ultotal);
	else if (dltotal > 0)
		gwctl_progress_update(p, (unsigned long long)dlnow,
		    (unsigned long long)dltotal);
	else if (ultotal > 0)
		gwctl_progress_update(p, (unsigned long long)ulnow,
		    (unsigned long long)ultotal);
	return 0;
}

/* The options every request gets; 0 or the first failing CURLcode. */
static CURLcode
setup_handle(CURL *h, const struct gwctl_conn *c, const char *url,
    struct sink *s, const struct http_xfer *x, char *errbuf)
{
	CURLcode rc = CURLE_OK;
	int streaming = x != NULL && (x->read != NULL || x->out_fd >= 0);

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_CIPHER_LIST, GWCTL_TLS12_CIPHERS);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca[0] != '\0')
		SET(CURLOPT_CAINFO, c->ca);
	if (c->cert[0] != '\0') {
		SET(CURLOPT_SSLCERT, c->cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY, c->key);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
	SET(CURLOPT_CONNECTTIMEOUT, 10L);
	if (streaming) {
		/* gigabytes take their time: only a stalled transfer fails */
		SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
		SET(CURLOPT_LOW_SPEED_TIME, 120L);
	} else
		SET(CURLOPT_TIMEOUT, 120L);
	SET(CURLOPT_NOSIGNAL, 1L);
	if (x == NULL || x->out_fd < 0)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)GWCTL_MAX_RESPONSE);
	SET(CURLOPT_WRITEFUNCTION, sink_write);
	SET(CURLOPT_WRITEDATA, s);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_USERAGENT, "gwctl/1");
	if (x != NULL && x->progress != NULL) {
		SET(CURLOPT_XFERINFOFUNCTION, xfer_info);
		SET(CURLOPT_XFERINFODATA, x->progress);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
#undef SET
	return rc;
}

static int
add_header(struct curl_slist **list, const char *h)
{
	struct curl_slist *n;

	if ((n = curl_slist_append(*list, h)) == NULL)
		return GW_ERR_NOMEM;
	*list = n;
	return 0;
}

/* The request body: a buffer, a read callback, or none (GET). */
static CURLcode
setup_body(CURL *h, int post, const void *body, size_t len,
    const struct http_xfer *x)
{
	CURLcode rc;

	if (!post)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (x != NULL && x->read != NULL) {
		if ((rc = curl_easy_setopt(h, CURLOPT_POST, 1L)) != CURLE_OK ||
		    (rc = curl_easy_setopt(h, CURLOPT_READFUNCTION,
		    x->read)) != CURLE_OK ||
		    (rc = curl_easy_setopt(h, CURLOPT_READDATA,
		    x->read_arg)) != CURLE_OK)
			return rc;
		return curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)x->upload_len);
	}
	if ((rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)len)) != CURLE_OK)
		return rc;
	return curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
}

static int
request(const struct gwctl_conn *c, const char *cmd, const char *method,
    const char *path, const void *body, size_t len, const char *ctype,
    struct http_xfer *x, struct http_resp *out)
{
	char url[2048], hdr[300], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct sink s;
	CURL *h = NULL;
	CURLcode rc;
	long status = 0;
	int r = GW_ERR_INTERNAL, post = strcmp(method, "POST") == 0;

	memset(&s, 0, sizeof(s));
	s.fd = x != NULL ? x->out_fd : -1;
	/* streamed answers only keep an error body in memory */
	s.max = s.fd >= 0 ? GWCTL_MAX_ERROR_BODY : GWCTL_MAX_RESPONSE;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->gateway, path) >=
	    sizeof(url)) {
		gwctl_err(cmd, "the URL is too long");
		return GW_ERR_TOO_LARGE;
	}
	if ((h = curl_easy_init()) == NULL) {
		gwctl_err(cmd, "cannot initialise libcurl");
		return GW_ERR_INTERNAL;
	}
	s.h = h;
	rc = setup_handle(h, c, url, &s, x, errbuf);
	/* "Expect:" saves the 100-continue round trip for large bodies;
	 * "Content-Type:" alone removes libcurl's form-urlencoded default. */
	snprintf(hdr, sizeof(hdr), "Content-Type:%s%s", ctype ? " " : "",
	    ctype ? ctype : "");
	/* A streamed upload waits for "100 Continue" instead: a refusal
	 * (413, 403) then comes before gigabytes were sent for nothing. */
	if (add_header(&headers, x != NULL && x->read != NULL ?
	    "Expect: 100-continue" : "Expect:") != 0 ||
	    add_header(&headers, "Accept: application/xml") != 0 ||
	    (post && add_header(&headers, hdr) != 0)) {
		gwctl_err(cmd, "out of memory");
		r = GW_ERR_NOMEM;
		goto out;
	}
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (rc == CURLE_OK)
		rc = setup_body(h, post, body, len, x);
	if (rc != CURLE_OK) {
		gwctl_err(cmd, "cannot set up the request: %s", curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (x != NULL && x->progress != NULL)
		gwctl_progress_end(x->progress);
	if (s.fd_err) {
		gwctl_err(cmd, "%s %s: cannot write the answer: %s", method, url,
		    strerror(s.fd_errno));
		r = GW_ERR_IO;
		goto out;
	}
	if (s.toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		gwctl_err(cmd, "%s %s: the %sanswer is larger than %zu KiB",
		    method, url, s.fd >= 0 ? "error " : "", s.max >> 10);
		r = GW_ERR_TOO_LARGE;
		goto out;
	}
	if (rc != CURLE_OK) {
		gwctl_err(cmd, "%s %s: %s", method, url,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		r = rc == CURLE_WRITE_ERROR ? GW_ERR_NOMEM : GW_ERR_IO;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (s.buf == NULL && (s.buf = calloc(1, 1)) == NULL) {
		gwctl_err(cmd, "out of memory");
		r = GW_ERR_NOMEM;
		goto out;
	}
	if (x != NULL)
		x->out_len = s.fd_len;
	out->status = status;
	out->body = s.buf;
	out->len = s.len;
	s.buf = NULL;
	r = 0;
 out:
	free(s.buf);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return r;
}

int
http_request(const struct gwctl_conn *c, const char *cmd, const char *method,
    const char *path, const void *body, size_t len, const char *ctype,
    struct http_resp *out)
{
	return request(c, cmd, method, path, body, len, ctype, NULL, out);
}

int
http_transfer(const struct gwctl_conn *c, const char *cmd, const char *method,
    const char *path, const char *ctype, struct http_xfer *x,
    struct http_resp *out)
{
	return request(c, cmd, method, path, NULL, 0, ctype, x, out);
}

void
http_resp_free(struct http_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

char *
http_escape(const char *s)
{
	char *e, *copy;

	if ((e = curl_easy_escape(NULL, s, 0)) == NULL)
		return NULL;
	copy = strdup(e);	/* callers free(), not curl_free() */
	curl_free(e);
	return copy;
}

static xmlNodePtr
child_named(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = parent->children; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(n->name, (const xmlChar *)name) == 0)
			return n;
	return NULL;
}

/* The text of the first child element called name; "" if none. */
static void
child_text(xmlNodePtr parent, const char *name, char *out, size_t outlen)
{
	xmlNodePtr n = child_named(parent, name);
	xmlChar *t;

	out[0] = '\0';
	if (n == NULL || (t = xmlNodeGetContent(n)) == NULL)
		return;
	util_strlcpy(out, (const char *)t, outlen);
	xmlFree(t);
}

void
http_print_error(const char *cmd, const struct http_resp *r)
{
	struct xml_limits lim = xmlparse_default_limits;
	char code[64] = "", msg[512] = "";
	xmlDocPtr doc = NULL;
	xmlNodePtr root;

	lim.max_bytes = GWCTL_MAX_ERROR_BODY;
	/* Namespace-agnostic on purpose: <Error><Code/><Message/></Error>. */
	if (r->len > 0 && r->len <= GWCTL_MAX_ERROR_BODY &&
	    xmlparse_safe((const char *)r->body, r->len, &lim, &doc) == 0 &&
	    (root = xmlDocGetRootElement(doc)) != NULL &&
	    xmlStrcmp(root->name, (const xmlChar *)"Error") == 0) {
		child_text(root, "Code", code, sizeof(code));
		child_text(root, "Message", msg, sizeof(msg));
	}
	xmlFreeDoc(doc);
	if (code[0] != '\0' && msg[0] != '\0')
		gwctl_err(cmd, "HTTP %ld %s: %s", r->status, code, msg);
	else if (code[0] != '\0')
		gwctl_err(cmd, "HTTP %ld %s", r->status, code);
	else
		gwctl_err(cmd, "HTTP %ld (the answer carries no error details)",
		    r->status);
}
