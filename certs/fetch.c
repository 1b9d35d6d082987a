/*
 * fetch.c - bounded libcurl transfers for revocation data.  See fetch.h.
 *
 * Design: one easy handle per call, no shared state besides
 * curl_global_init() (run once through pthread_once), so any thread may
 * fetch.  The body grows in a buffer whose limit is fixed before the first
 * byte arrives: curl's own CURLOPT_MAXFILESIZE stops a transfer whose
 * Content-Length is too big, and the write callback stops one that turns
 * out too big while streaming (chunked, or a lying Content-Length).
 *
 * Why the restrictions: the URLs come from certificates (CRL distribution
 * points, AIA OCSP) that have already chained to a trusted CA, but their
 * servers are still strangers.  So: http only (file:// would let a CA name
 * local files; https would need trust for the CRL server itself; CRLs and
 * OCSP answers are signed anyway), no
 * redirects to other schemes, no proxy taken from the environment, and
 * CURLOPT_NOSIGNAL because we run in worker threads.
 */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "fetch.h"

#define DEF_CONNECT_MS	3000L
#define DEF_TOTAL_MS	10000L
#define DEF_MAX_SIZE	(1024u * 1024u)
#define FIRST_CHUNK	(16u * 1024u)

struct body {
	unsigned char *buf;
	size_t len, cap, max;
	int toobig;
	int nomem;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
fetch_global_init(void)
{
	pthread_once(&curl_once, curl_init_once);
	return curl_init_rc == CURLE_OK ? 0 : GW_ERR_INTERNAL;
}

int
fetch_url_allowed(const char *url)
{
	size_t i, n;
	const char *host;
	size_t alen;

	if (url == NULL ||
	    (n = strnlen(url, FETCH_MAX_URL + 1)) > FETCH_MAX_URL)
		return 0;
	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)url[i]))
			return 0;
	if (strncasecmp(url, "http://", 7) != 0)
		return 0;
	host = url + 7;
	alen = strcspn(host, "/?#");
	/* a host must follow; userinfo is refused (no credentials) */
	return alen > 0 && *host != ':' && memchr(host, '@', alen) == NULL;
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb, cap;
	unsigned char *nb;

	if (n == 0)
		return 0;
	if (n > b->max - b->len) {
		b->toobig = 1;
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : FIRST_CHUNK;
		while (cap < b->len + n)
			cap = cap > b->max / 2 ? b->max : cap * 2;
		if ((nb = realloc(b->buf, cap)) == NULL) {
			b->nomem = 1;
			return 0;
		}
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, ptr, n);
	b->len += n;
	return n;
}

/* Sets everything that bounds the transfer; 0 or a CURLcode. */
static CURLcode
setup(CURL *c, const char *url, const struct fetch_opts *o, struct body *b,
    char *errbuf)
{
	long cto = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
	    DEF_CONNECT_MS;
	long tto = o->timeout_ms > 0 ? o->timeout_ms : DEF_TOTAL_MS;
	CURLcode rc;

#define SET(opt, val) do {						\
	if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)		\
		return rc;						\
} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, cto);
	SET(CURLOPT_TIMEOUT_MS, tto);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b->max);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, b);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_USERAGENT, "gatewayd-revocation/1");
	SET(CURLOPT_PROXY, o->proxy != NULL ? o->proxy : "");
	SET(CURLOPT_ACCEPT_ENCODING, NULL);	/* no decompression bombs */
#undef SET
	return CURLE_OK;
}

static int
map_curl(CURLcode rc, const struct body *b, const char *errbuf, char *err,
    size_t errlen)
{
	if (b->toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		if (err != NULL)
			snprintf(err, errlen, "answer larger than %zu bytes",
			    b->max);
		return GW_ERR_TOO_LARGE;
	}
	if (b->nomem || rc == CURLE_OUT_OF_MEMORY)
		return GW_ERR_NOMEM;
	if (err != NULL)
		snprintf(err, errlen, "%s", errbuf[0] != '\0' ? errbuf :
		    curl_easy_strerror(rc));
	return rc == CURLE_UNSUPPORTED_PROTOCOL ? GW_ERR_INVALID : GW_ERR_IO;
}

int
fetch_url(const char *url, const struct fetch_opts *opts, const char *ctype,
    const unsigned char *post, size_t postlen, unsigned char **body,
    size_t *len, char *err, size_t errlen)
{
	static const struct fetch_opts defaults;
	const struct fetch_opts *o = opts != NULL ? opts : &defaults;
	struct body b = { .max = o->max_size > 0 ? o->max_size : DEF_MAX_SIZE };
	struct curl_slist *hdrs = NULL, *h;
	char errbuf[CURL_ERROR_SIZE] = "", ct[128];
	CURL *c = NULL;
	CURLcode rc;
	long status = 0;
	int r = GW_ERR_INTERNAL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!fetch_url_allowed(url)) {
		if (err != NULL)
			snprintf(err, errlen, "URL refused");
		return GW_ERR_INVALID;
	}
	if (fetch_global_init() != 0 || (c = curl_easy_init()) == NULL)
		return GW_ERR_INTERNAL;
	if ((rc = setup(c, url, o, &b, errbuf)) != CURLE_OK)
		goto fail;
	if (post != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s",
		    ctype != NULL ? ctype : "application/octet-stream");
		if ((h = curl_slist_append(hdrs, ct)) == NULL) {
			r = GW_ERR_NOMEM;
			goto out;
		}
		hdrs = h;
		if ((rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs)) ||
		    (rc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)postlen)) ||
		    (rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, post)))
			goto fail;
	}
	if ((rc = curl_easy_perform(c)) != CURLE_OK)
		goto fail;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		if (err != NULL)
			snprintf(err, errlen, "HTTP status %ld", status);
		r = GW_ERR_IO;
		goto out;
	}
	if (b.len == 0) {
		if (err != NULL)
			snprintf(err, errlen, "empty answer");
		r = GW_ERR_IO;
		goto out;
	}
	*body = b.buf;
	*len = b.len;
	b.buf = NULL;
	r = 0;
	goto out;
 fail:
	r = map_curl(rc, &b, errbuf, err, errlen);
 out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(b.buf);
	return r;
}

static void
answer_fail(struct rev_answer *a, const char *code, const char *text)
{
	a->status = REV_STATUS_UNAVAILABLE;
	a->code = code;
	snprintf(a->detail, sizeof(a->detail), "%s", text);
}

/* ---- CRLs --------------------------------------------------------------- */

static int
crl_decode(const unsigned char *buf, size_t len, X509_CRL **out)
{
	const unsigned char *p = buf;
	X509_CRL *crl;
	BIO *bio;

	if (len > LONG_MAX)
		return GW_ERR_TOO_LARGE;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL &&
	    len <= INT_MAX && (bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	if (crl == NULL)
		return GW_ERR_INVALID;
	*out = crl;
	return 0;
}

static int
read_file(const char *path, size_t max, unsigned char **buf, size_t *len,
    time_t *mtime)
{
	struct stat st;
	unsigned char *b = NULL;
	FILE *f;
	int r = GW_ERR_IO;

	if ((f = fopen(path, "rb")) == NULL)
		return GW_ERR_IO;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((size_t)st.st_size > max) {
		r = GW_ERR_TOO_LARGE;
		goto out;
	}
	if ((b = malloc(st.st_size ? (size_t)st.st_size : 1)) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	if (fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		goto out;
	*buf = b;
	*len = (size_t)st.st_size;
	*mtime = st.st_mtime;
	b = NULL;
	r = 0;
 out:
	free(b);
	fclose(f);
	return r;
}

int
fetch_crl(const char *where, int is_file, X509 *issuer,
    const struct fetch_opts *o, X509_CRL **out, time_t *mtime,
    const char **code, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	X509_CRL *crl = NULL;
	EVP_PKEY *pk;
	int r;

	*code = "unreachable";
	if (is_file) {
		r = read_file(where, o->max_size ? o->max_size : DEF_MAX_SIZE,
		    &buf, &len, mtime);
		if (r != 0)
			snprintf(err, errlen, "cannot read %s%s", where,
			    r == GW_ERR_TOO_LARGE ? ": too large" : "");
	} else {
		r = fetch_url(where, o, NULL, NULL, 0, &buf, &len, err, errlen);
		*mtime = 0;
	}
	if (r != 0) {
		*code = r == GW_ERR_TOO_LARGE ? "too-large" : "unreachable";
		goto out;
	}
	if ((r = crl_decode(buf, len, &crl)) != 0) {
		*code = "crl-invalid";
		snprintf(err, errlen, "not a CRL");
		goto out;
	}
	/* distribution points: the issuer we fetched it for must have signed */
	if (issuer != NULL && X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(issuer)) == 0 &&
	    ((pk = X509_get0_pubkey(issuer)) == NULL ||
	    X509_CRL_verify(crl, pk) != 1)) {
		*code = "bad-signature";
		snprintf(err, errlen, "CRL signature does not verify");
		r = GW_ERR_INVALID;
		goto out;
	}
	*out = crl;
	crl = NULL;
	r = 0;
 out:
	ERR_clear_error();
	X509_CRL_free(crl);
	free(buf);
	return r;
}

/* ---- OCSP --------------------------------------------------------------- */

static void
ocsp_status(struct rev_answer *a, OCSP_BASICRESP *bs, OCSP_CERTID *id,
    time_t *this_update)
{
	ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
	int st = -1, reason = -1;

	OCSP_resp_find_status(bs, id, &st, &reason, &rev, &tu, &nu);
	a->method = REV_METHOD_OCSP;
	a->answered = rev_time(OCSP_resp_get0_produced_at(bs));
	a->next_update = rev_time(nu);
	*this_update = rev_time(tu);
	if (st == V_OCSP_CERTSTATUS_GOOD) {
		a->status = REV_STATUS_GOOD;
		a->code = "good";
	} else if (st == V_OCSP_CERTSTATUS_REVOKED) {
		a->status = REV_STATUS_REVOKED;
		a->code = "revoked";
		a->revoked_at = rev_time(rev);
		a->reason = reason >= 0 ? reason : REV_REASON_NONE;
	} else {
		a->status = REV_STATUS_UNKNOWN;
		a->code = "ocsp-unknown";
		snprintf(a->detail, sizeof(a->detail),
		    "the responder does not know the certificate");
	}
}

/*
 * Checks a decoded response against the request: status, nonce, signer
 * (issuer or its delegated responder, chaining to trust), an entry for
 * this certificate, freshness.  Fills a on success.
 */
static int
ocsp_accept(const struct fetch_opts *o, OCSP_RESPONSE *resp,
    OCSP_REQUEST *req, OCSP_CERTID *id, STACK_OF(X509) *others,
    X509_STORE *trust, struct rev_answer *a, time_t *this_update)
{
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL;
	OCSP_BASICRESP *bs = NULL;
	long skew = o->clock_skew > 0 ? o->clock_skew : 0;
	int st, r = GW_ERR_INVALID;
	char text[64];

	if ((st = OCSP_response_status(resp)) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		snprintf(text, sizeof(text), "responder status: %s",
		    OCSP_response_status_str(st));
		answer_fail(a, "bad-response", text);
		return r;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
		answer_fail(a, "bad-response", "no basic response");
		goto out;
	}
	if (o->ocsp_nonce && OCSP_check_nonce(req, bs) == 0) {
		answer_fail(a, "bad-response", "nonce mismatch");
		goto out;
	}
	if (OCSP_basic_verify(bs, others, trust, OCSP_NOEXPLICIT) <= 0) {
		answer_fail(a, "bad-signature", "response not signed by the "
		    "issuer or its delegated responder");
		goto out;
	}
	if (OCSP_resp_find_status(bs, id, &st, NULL, NULL, &tu, &nu) != 1) {
		answer_fail(a, "bad-response", "no answer for this "
		    "certificate");
		goto out;
	}
	if (OCSP_check_validity(tu, nu, skew, -1) != 1) {
		answer_fail(a, "stale", "thisUpdate/nextUpdate out of "
		    "range");
		goto out;
	}
	ocsp_status(a, bs, id, this_update);
	r = 0;
 out:
	ERR_clear_error();
	OCSP_BASICRESP_free(bs);
	return r;
}

int
fetch_ocsp(const char *url, X509 *cert, X509 *issuer,
    STACK_OF(X509) *others, X509_STORE *trust, const struct fetch_opts *o,
    struct rev_answer *a, time_t *this_update)
{
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL, *id2 = NULL;
	OCSP_RESPONSE *resp = NULL;
	unsigned char *der = NULL, *body = NULL;
	const unsigned char *p;
	size_t blen = 0;
	int dlen, r = GW_ERR_NOMEM;
	char err[128];

	memset(a, 0, sizeof(*a));
	a->method = REV_METHOD_OCSP;
	a->reason = REV_REASON_NONE;
	snprintf(a->source, sizeof(a->source), "%.255s", url);
	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (id = OCSP_cert_to_id(NULL, cert, issuer)) == NULL ||
	    (id2 = OCSP_CERTID_dup(id)) == NULL ||
	    OCSP_request_add0_id(req, id2) == NULL)
		goto nomem;
	id2 = NULL;
	if (o->ocsp_nonce && OCSP_request_add1_nonce(req, NULL, -1) != 1)
		goto nomem;
	if ((dlen = i2d_OCSP_REQUEST(req, &der)) <= 0)
		goto nomem;
	if ((r = fetch_url(url, o, "application/ocsp-request", der,
	    (size_t)dlen, &body, &blen, err, sizeof(err))) != 0) {
		answer_fail(a, r == GW_ERR_TOO_LARGE ? "too-large" :
		    "unreachable", err);
		goto out;
	}
	p = body;
	if (blen > LONG_MAX ||
	    (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)blen)) == NULL) {
		r = GW_ERR_INVALID;
		answer_fail(a, "bad-response", "not an OCSP response");
		goto out;
	}
	r = ocsp_accept(o, resp, req, id, others, trust, a, this_update);
	goto out;
 nomem:
	answer_fail(a, "unreachable", "cannot build the request");
 out:
	ERR_clear_error();
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(der);
	free(body);
	OCSP_CERTID_free(id2);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	return r;
}

int
fetch_ocsp_key(X509 *cert, X509 *issuer, const char *url,
    unsigned char key[32])
{
	OCSP_CERTID *id;
	unsigned char *der = NULL;
	EVP_MD_CTX *md = NULL;
	int len, r = GW_ERR_INTERNAL;

	if ((id = OCSP_cert_to_id(NULL, cert, issuer)) == NULL ||
	    (len = i2d_OCSP_CERTID(id, &der)) <= 0 ||
	    (md = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, der, (size_t)len) == 1 &&
	    EVP_DigestUpdate(md, url, strlen(url) + 1) == 1 &&
	    EVP_DigestFinal_ex(md, key, NULL) == 1)
		r = 0;
 out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	OCSP_CERTID_free(id);
	ERR_clear_error();
	return r;
}

/* ---- URLs from certificates --------------------------------------------- */

int
fetch_ocsp_url(X509 *cert, char *url, size_t len)
{
	STACK_OF(OPENSSL_STRING) *sk = X509_get1_ocsp(cert);
	int i, found = 0;

	for (i = 0; i < sk_OPENSSL_STRING_num(sk) && !found; i++) {
		const char *u = sk_OPENSSL_STRING_value(sk, i);

		if (fetch_url_allowed(u) && strlen(u) < len) {
			snprintf(url, len, "%s", u);
			found = 1;
		}
	}
	X509_email_free(sk);
	return found;
}

int
fetch_cdp_urls(X509 *cert, char urls[][FETCH_MAX_URL + 1], int max)
{
	STACK_OF(DIST_POINT) *dps;
	int i, j, n = 0;

	dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	for (i = 0; i < sk_DIST_POINT_num(dps) && n < max; i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		GENERAL_NAMES *names = dp->distpoint->name.fullname;

		for (j = 0; j < sk_GENERAL_NAME_num(names) && n < max; j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
			const ASN1_IA5STRING *s;

			if (gn->type != GEN_URI)
				continue;
			s = gn->d.uniformResourceIdentifier;
			if (s->length <= 0 || s->length > FETCH_MAX_URL ||
			    memchr(s->data, '\0', (size_t)s->length) != NULL)
				continue;
			memcpy(urls[n], s->data, (size_t)s->length);
			urls[n][s->length] = '\0';
			if (fetch_url_allowed(urls[n]))
				n++;
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	ERR_clear_error();
	return n;
}
