/*
 * fetch.h - obtaining revocation data: CRLs and OCSP answers, with libcurl.
 *
 * The only code in gatewayd that opens an outgoing connection on behalf of
 * certificate checking, and the protocol side of revocation: decoding CRLs,
 * OCSP requests and the checks of OCSP responses.  Caching and deciding
 * what a path's status is are revocation.c's job.  Every transfer has a
 * connect timeout, a total timeout and a body limit; only http:// goes
 * over the network (a configured file:// CRL is read by fetch_crl() from
 * disk, never through libcurl); redirects are followed at most
 * FETCH_MAX_REDIRS times and only to http://.  Proxies from the
 * environment are ignored unless a proxy is configured explicitly.
 */
#ifndef GW_FETCH_H
#define GW_FETCH_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "revocation.h"

#define FETCH_MAX_URL		1024	/* longer URLs are refused */
#define FETCH_MAX_REDIRS	3

struct fetch_opts {
	long connect_timeout_ms;	/* 0: 3000 */
	long timeout_ms;		/* whole transfer; 0: 10000 */
	size_t max_size;		/* body limit in bytes; 0: 1 MiB */
	const char *proxy;		/* NULL: no proxy at all */
	int ocsp_nonce;			/* fetch_ocsp: send a nonce */
	long clock_skew;		/* fetch_ocsp: s of tolerance */
};

/*
 * Calls curl_global_init() once per process; fetch_url() calls it too, but
 * a daemon should call it from main() before it starts threads.
 */
int fetch_global_init(void);

/*
 * 1 if url is one fetch_url() would try: http://HOST..., printable ASCII,
 * no userinfo, at most FETCH_MAX_URL bytes.  0 if not.
 */
int fetch_url_allowed(const char *url);

/*
 * GETs url (or POSTs post/postlen with Content-Type ctype when post is not
 * NULL) and hands over the body in *body (malloc'ed, free() it) and its
 * length in *len.  Only an HTTP 200 answer is a success.  Returns 0,
 * GW_ERR_INVALID (URL refused), GW_ERR_TOO_LARGE (body over max_size),
 * GW_ERR_IO (connection, timeout, HTTP status) or GW_ERR_NOMEM; err (if not
 * NULL) gets a short reason on failure.  Blocks for at most about
 * timeout_ms; safe to call from any thread.
 */
int fetch_url(const char *url, const struct fetch_opts *opts,
    const char *ctype, const unsigned char *post, size_t postlen,
    unsigned char **body, size_t *len, char *err, size_t errlen);

/*
 * Loads a CRL, DER or PEM, from a file (is_file: configured sources only)
 * or an http URL.  With issuer, a CRL that names issuer as its issuer must
 * carry issuer's valid signature; CRLs of other issuers (indirect CRLs) are
 * left to the path check.  *mtime gets a file's modification time (0 for a
 * URL).  On failure *code is one of struct rev_answer's codes
 * ("unreachable", "too-large", "crl-invalid", "bad-signature") and err
 * says more.  No shared state: any thread.
 */
int fetch_crl(const char *where, int is_file, X509 *issuer,
    const struct fetch_opts *o, X509_CRL **out, time_t *mtime,
    const char **code, char *err, size_t errlen);

/*
 * One OCSP exchange for cert (issued by issuer) with the responder at url.
 * The request carries a SHA-1 CertID (what every responder understands; it
 * identifies, it signs nothing) and, with ocsp_nonce, a nonce.  The
 * response must be "successful", echo the nonce if it echoes one, be
 * signed by issuer or by a responder issuer delegated to (id-kp-
 * OCSPSigning) whose chain ends in trust (others: certificates to build
 * it with), hold an entry for cert, and have thisUpdate/nextUpdate within
 * clock_skew of now.  Returns 0 with *a (good; revoked with time and
 * reason; unknown) and *this_update, or a negative GW_ERR_* with a->code
 * and a->detail saying why.  Any thread.
 */
int fetch_ocsp(const char *url, X509 *cert, X509 *issuer,
    STACK_OF(X509) *others, X509_STORE *trust, const struct fetch_opts *o,
    struct rev_answer *a, time_t *this_update);

/*
 * A cache key for the OCSP answer about cert: SHA-256 over its CertID (as
 * fetch_ocsp() sends it) and the responder URL.  0 or GW_ERR_INTERNAL.
 */
int fetch_ocsp_key(X509 *cert, X509 *issuer, const char *url,
    unsigned char key[32]);

/* The first http OCSP responder in cert's AIA into url; 1, or 0 if none. */
int fetch_ocsp_url(X509 *cert, char *url, size_t len);
/* Up to max http URIs of cert's CRL distribution points (fullName). */
int fetch_cdp_urls(X509 *cert, char urls[][FETCH_MAX_URL + 1], int max);

#endif
