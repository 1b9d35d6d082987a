/*
 * revocation.h - revocation status of certificates: CRLs and OCSP.
 *
 * A struct rev_cache holds everything gatewayd knows about revocation:
 * CRLs from the configuration (files, or URLs the operator named), CRLs
 * fetched from the distribution points of certificates, and OCSP answers
 * from the responders named in their AIA extension.  Answers are kept
 * until their nextUpdate and renewed ahead of it by rev_cache_refresh()
 * (or the background refresher thread), so that a CA's server being down
 * for a while does not stop intake.  Design notes: docs/revocation.md.
 *
 * rev_check_path() is what chain_verify_ex() calls once a path has been
 * validated offline: it never fetches anything for a certificate that has
 * not chained to a trusted CA, and nothing named in a submitted document.
 * All functions are thread-safe; one cache is shared by all workers.
 */
#ifndef GW_REVOCATION_H
#define GW_REVOCATION_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

enum rev_policy {
	REV_POLICY_OFF = 0,		/* no revocation checks */
	REV_POLICY_PREFER,		/* no answer: accept with a warning */
	REV_POLICY_REQUIRE		/* no answer: indeterminate, reject */
};

enum rev_method {
	REV_METHOD_NONE = 0,
	REV_METHOD_OCSP,
	REV_METHOD_CRL
};

enum rev_status {
	REV_STATUS_NOT_CHECKED = 0,	/* policy off, or a trust anchor */
	REV_STATUS_GOOD,
	REV_STATUS_REVOKED,
	REV_STATUS_UNKNOWN,		/* OCSP "unknown", no CRL either */
	REV_STATUS_UNAVAILABLE		/* no usable answer */
};

/* CRL reason codes (RFC 5280, 5.3.1); REV_REASON_NONE: none given. */
#define REV_REASON_NONE		(-1)

/* One certificate's online result, as it goes into the inspection report. */
struct rev_answer {
	enum rev_method method;		/* where the answer came from */
	enum rev_status status;
	/*
	 * Stable code: "good", "revoked", "not-checked", "ocsp-unknown",
	 * "no-source" (neither AIA nor CDP nor a local CRL), "unreachable",
	 * "bad-response", "bad-signature", "stale", "not-yet-valid",
	 * "too-large", "crl-invalid", "failed-recently".  Static storage.
	 */
	const char *code;
	char source[256];		/* responder/CRL URL or "file:PATH" */
	char detail[128];		/* human text for logs and the report */
	time_t answered;		/* OCSP producedAt / CRL thisUpdate */
	time_t next_update;		/* 0: none given */
	time_t revoked_at;		/* REVOKED only */
	int reason;			/* REVOKED only; REV_REASON_NONE */
};

struct rev_config {
	int no_fetch;		/* no network: configured CRLs only */
	int no_ocsp;		/* do not ask OCSP responders, CRLs only */
	int ocsp_nonce;		/* send a nonce; a wrong echo is rejected */
	long connect_timeout_ms;	/* 0: 3000 */
	long timeout_ms;		/* total per transfer; 0: 5000 */
	size_t max_crl_size;	/* 0: 16 MiB */
	size_t max_ocsp_size;	/* 0: 64 KiB */
	long clock_skew;	/* s, OCSP thisUpdate/nextUpdate; 0: 300 */
	long ocsp_ttl;		/* s, OCSP answer w/o nextUpdate; 0: 300 */
	long refresh_ahead;	/* s before nextUpdate to renew; 0: 900 */
	long retry_after;	/* s between tries of a failing source; 0: 60 */
	size_t max_entries;	/* per table (CRLs, OCSP); 0: 4096 */
	const char *proxy;	/* NULL: direct connections only */
};

struct rev_cache;

/* cfg may be NULL (all defaults); it is copied (proxy too). */
int rev_cache_new(const struct rev_config *cfg, struct rev_cache **out);
/* Stops the refresher thread if it runs.  Accepts NULL. */
void rev_cache_free(struct rev_cache *rc);

/*
 * Adds a CRL source from the configuration: a path, "file:///PATH" or
 * "http://...".  It is loaded at once and renewed by the refresher before
 * its nextUpdate (files when they change on disk).  A source that cannot be
 * loaded now is still kept for later tries; the load error is returned
 * (GW_ERR_IO, GW_ERR_INVALID for something that is not a CRL, ...).
 */
int rev_cache_add_source(struct rev_cache *rc, const char *where);
/* Adds an already decoded CRL (tests, PKITS); label names it in reports. */
int rev_cache_add_crl(struct rev_cache *rc, X509_CRL *crl, const char *label);

/*
 * Changes whenever revocation state changes (a CRL with new content, an
 * OCSP answer with a different status, a source added): results computed
 * under another generation must not be reused.
 */
unsigned long rev_cache_generation(const struct rev_cache *rc);

/*
 * Renews, one by one and without holding the cache lock, every entry that
 * is due at time now: its nextUpdate is less than min(refresh_ahead, half
 * its lifetime) away (files also when they changed on disk), it was not
 * tried in the last retry_after seconds, and - for distribution point CRLs
 * and OCSP answers, not configured CRLs - it was served from the cache
 * since it was last loaded: what is in use stays fresh, what nobody asks
 * for expires and is fetched on demand.  Returns the number renewed.  For
 * a daemon that prefers its own timer over rev_refresher_start(); do not
 * call it from an event loop thread (it blocks on the network).
 */
int rev_cache_refresh(struct rev_cache *rc, time_t now);

/*
 * A thread that calls rev_cache_refresh() every period seconds (0: 60),
 * with all signals blocked.  GW_ERR_STATE if one runs already.  Stopping
 * waits for a renewal in progress (at most the transfer timeout).
 */
int rev_refresher_start(struct rev_cache *rc, unsigned period);
void rev_refresher_stop(struct rev_cache *rc);

/* Fills the rest of a verification context exactly like the first pass. */
typedef int (*rev_setup_fn)(X509_STORE_CTX *xctx, void *arg);

/*
 * Determines the revocation status of every certificate of chain (leaf
 * first, trust anchor last, as X509_STORE_CTX_get1_chain() returned it
 * after a successful validation; the anchor is not checked) and writes
 * ans[0 .. n-1], n = sk_X509_num(chain).  Order: a fresh cached OCSP
 * answer, a fresh CRL already at hand, then the AIA OCSP responder, then
 * the certificate's http CRL distribution points.  CRLs are checked by
 * OpenSSL's own CRL logic (scope, delta and indirect CRLs, CRL issuer
 * path) in a second X509_verify_cert() over leaf and untrusted, set up by
 * setup(arg) the same way as the first pass.  Freshness of CRLs is judged
 * at 'at' (0: now), of OCSP answers at the current time.  Returns 0 when
 * the answers are filled in (whatever they say), GW_ERR_NOMEM or
 * GW_ERR_INTERNAL otherwise.
 */
int rev_check_path(struct rev_cache *rc, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *untrusted, STACK_OF(X509) *chain, time_t at,
    rev_setup_fn setup, void *arg, struct rev_answer *ans);

/* An ASN1_TIME as time_t (UTC); 0 for NULL or a malformed time. */
time_t rev_time(const ASN1_TIME *t);

const char *rev_policy_name(enum rev_policy p);	/* "off", "prefer", ... */
int rev_policy_parse(const char *s, enum rev_policy *out); /* GW_ERR_INVALID */
const char *rev_method_name(enum rev_method m);	/* "none", "ocsp", "crl" */
const char *rev_status_name(enum rev_status s);	/* "good", "revoked", ... */
/* "keyCompromise", ...; "unspecified" for REV_REASON_NONE.  Never NULL. */
const char *rev_reason_name(int reason);

#endif
