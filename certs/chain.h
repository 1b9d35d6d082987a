/*
 * chain.h - certificate path validation against a trust store, with
 * revocation, qualified-certificate detection and an inspection report.
 *
 * The one place that decides whether a certificate is trusted: the path is
 * built by OpenSSL from the certificate, the untrusted intermediates the
 * peer sent and the trusted CAs; then the end-entity key usage is checked
 * for the use the caller has in mind, and (chain_verify_ex) the revocation
 * status of every certificate of the path is established by revocation.c.
 *
 * chain_verify() is the original, offline-only interface (no revocation,
 * no report, lax RFC 5280 profile); chain_verify_ex() is the complete one.
 * What is checked, with which OpenSSL flags, is in docs/revocation.md.
 */
#ifndef GW_CHAIN_H
#define GW_CHAIN_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <openssl/x509.h>

#include "revocation.h"

struct certcache;

enum chain_usage {
	CHAIN_USAGE_ANY = 0,		/* no key usage requirement */
	CHAIN_USAGE_SIGN,		/* digitalSignature or nonRepudiation */
	CHAIN_USAGE_ENCIPHER		/* keyEncipherment */
};

/*
 * Verifies that cert chains to a CA in trust (untrusted may be NULL) at time
 * at (0: now) and that, if cert has a keyUsage extension, it allows usage.
 * Returns 0, GW_ERR_CERT_UNTRUSTED, GW_ERR_CERT_EXPIRED (cert or a CA outside
 * its validity), GW_ERR_CERT_USAGE or GW_ERR_CERT_REVOKED; on failure why
 * (if not NULL) holds OpenSSL's reason and the depth it applies to.
 * Thread-safe: trust is only read.
 */
int chain_verify(X509 *cert, STACK_OF(X509) *untrusted, X509_STORE *trust,
    time_t at, enum chain_usage usage, char *why, size_t whylen);

/* ---- the complete check ------------------------------------------------- */

#define CHAIN_MAX_CERTS		10	/* longest path: leaf, 8 CAs, anchor */
#define CHAIN_MAX_WARNINGS	8

enum chain_certtype {
	CHAIN_CERT_UNKNOWN = 0,		/* qcStatements present but malformed */
	CHAIN_CERT_ADVANCED,		/* no QcCompliance statement */
	CHAIN_CERT_QUALIFIED		/* qcStatements with QcCompliance */
};

enum chain_result {
	CHAIN_RESULT_INDETERMINATE = 0,
	CHAIN_RESULT_VALID,
	CHAIN_RESULT_INVALID
};

/* chain_ctx.flags */
#define CHAIN_F_LAX		0x01	/* no X509_V_FLAG_X509_STRICT */
#define CHAIN_F_EXPLICIT_POLICY	0x02	/* RFC 5280 initial-explicit-policy */
#define CHAIN_F_INHIBIT_MAPPING	0x04	/* initial-policy-mapping-inhibit */
#define CHAIN_F_INHIBIT_ANY	0x08	/* initial-any-policy-inhibit */

/*
 * An extra check of every certificate of the path (the algorithm policy,
 * for one): returns 0 to accept, or a GW_ERR_* code and a stable reason
 * code in *reason (e.g. "algorithm"; static storage: reports are cached
 * and copied) to reject.  depth 0 is the leaf; is_anchor is set for the
 * trusted CA.  Called from any thread.
 */
typedef int (*chain_cert_check_fn)(X509 *cert, int depth, int is_anchor,
    void *arg, const char **reason);

/*
 * What a verification runs against; built once per trust profile by the
 * caller and shared read-only by all threads.
 */
struct chain_ctx {
	X509_STORE *trust;		/* gateway-wide + profile anchors */
	unsigned long trust_gen;	/* change it whenever trust changes */
	enum rev_policy revocation;
	struct rev_cache *rev;		/* NULL: no revocation source at all */
	struct certcache *cache;	/* NULL: no result cache */
	unsigned flags;			/* CHAIN_F_* */
	/* user-initial-policy-set: dotted OIDs, NULL-terminated; NULL: any */
	const char *const *policies;
	chain_cert_check_fn cert_check;	/* NULL: none */
	void *cert_check_arg;
};

/* One certificate of the path, as the inspection report shows it. */
struct chain_cert {
	int depth;			/* 0: the certificate checked */
	char subject[256];		/* RFC 2253, UTF-8, may be truncated */
	char issuer[256];
	char serial[80];		/* upper-case hex, '-' if negative */
	char sha256[65];		/* of the DER, lower-case hex */
	time_t not_before, not_after;
	int is_ca, is_anchor;
	enum chain_certtype type;	/* what the certificate declares */
	enum chain_result offline;
	/*
	 * Stable code: "ok", "untrusted", "expired", "not-yet-valid",
	 * "bad-validity", "bad-signature", "not-ca", "path-length",
	 * "ca-key-usage", "key-usage", "name-constraints", "policy",
	 * "critical-extension", "invalid-extension", "not-rfc5280",
	 * "weak-key", "chain-too-long", "algorithm" (or what cert_check
	 * said), "chain-invalid" (its own checks passed, the path failed
	 * elsewhere), "invalid" (anything else).  Static storage.
	 */
	const char *offline_reason;
	char offline_detail[128];	/* OpenSSL's text */
	struct rev_answer online;	/* "not-checked" for the anchor */
};

struct chain_warning {
	const char *code;		/* "revocation-unavailable", ... */
	int depth;
	char text[192];
};

struct chain_report {
	enum chain_result verdict;
	int error;			/* what chain_verify_ex() returned */
	/*
	 * Stable code: "ok", an offline_reason of the first failing
	 * certificate, "revoked", "revocation-unavailable" (policy
	 * require), or "internal".
	 */
	const char *reason;
	char detail[256];		/* one sentence for people */
	time_t at;			/* the verification time used */
	enum rev_policy revocation;
	int from_cache;
	int ncerts;			/* leaf first, anchor last */
	struct chain_cert certs[CHAIN_MAX_CERTS];
	int nwarnings;
	struct chain_warning warnings[CHAIN_MAX_WARNINGS];
};

/*
 * Validates the path of cert (untrusted may be NULL) at time at (0: now)
 * under ctx: validity, signatures, basicConstraints, path length, name
 * constraints, certificate policies (initial set ctx->policies), unknown
 * critical extensions, the RFC 5280 profile (X509_V_FLAG_X509_STRICT
 * unless CHAIN_F_LAX), keyUsage of cert for usage, ctx->cert_check; then,
 * unless ctx->revocation is off, the revocation status of every
 * certificate but the anchor (URLs are taken only from this validated
 * path).  Returns 0 (valid; warnings possible under "prefer"),
 * GW_ERR_CERT_UNTRUSTED (also: no revocation answer under "require", with
 * verdict indeterminate), GW_ERR_CERT_EXPIRED, GW_ERR_CERT_USAGE,
 * GW_ERR_CERT_REVOKED, what cert_check returned, GW_ERR_NOMEM or
 * GW_ERR_INTERNAL.  *out (if not NULL) is filled in every case - it is a
 * report, the failure is what it is for.  Results are cached in
 * ctx->cache.  Thread-safe; may block on the network for the revocation
 * sources' timeouts (never on a worker's event loop, please).
 */
int chain_verify_ex(const struct chain_ctx *ctx, X509 *cert,
    STACK_OF(X509) *untrusted, time_t at, enum chain_usage usage,
    struct chain_report *out);

/* What the certificate declares in qcStatements (RFC 3739, ETSI 319 412-5). */
enum chain_certtype chain_cert_type(X509 *cert);

const char *chain_result_name(enum chain_result r);	/* "valid", ... */
const char *chain_certtype_name(enum chain_certtype t);	/* "qualified", ... */

/* The report as readable text, for logs, tests and gwctl. */
void chain_report_print(const struct chain_report *r, FILE *f);

#endif
