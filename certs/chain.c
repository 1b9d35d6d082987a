/*
 * chain.c - certificate path validation.  See chain.h; flags, reason codes
 * and the revocation design are explained in docs/revocation.md.
 *
 * chain_verify_ex() runs in three steps, all on the calling thread:
 *  1. Offline: one X509_verify_cert() with X509_V_FLAG_POLICY_CHECK (initial
 *     set anyPolicy unless the context names policies), X509_STRICT unless
 *     CHAIN_F_LAX, a depth limit that keeps the path within the report, and
 *     a verify callback that records the first error per depth and lets
 *     OpenSSL go on, so that every certificate gets its own result.  Any
 *     recorded error fails the path (a callback that returns 1 makes
 *     X509_verify_cert() succeed; we never trust its return alone).  Then
 *     the leaf's keyUsage and the caller's cert_check hook.
 *  2. Online, only for a path that passed step 1 (so that only URLs from
 *     certificates chaining to a trusted CA are ever fetched):
 *     rev_check_path() with the same verification set-up, then the
 *     revocation policy: revoked -> invalid; no answer -> indeterminate
 *     under "require", a warning under "prefer".
 *  3. The report is cached (certcache.c) under a SHA-256 over everything it
 *     depends on: leaf and intermediates (DER), trust store and its
 *     generation, flags, policies, usage, the hook, the revocation policy
 *     and the explicit time; plus the revocation generation as stamp.  It
 *     expires with the first notAfter of the path, the first nextUpdate of
 *     the answers used, or after WARN_TTL if it carries warnings, so that
 *     a responder that comes back is asked again soon.  Indeterminate
 *     results are not cached.
 * One X509_STORE_CTX per call, so any thread may verify against the same
 * store.  OpenSSL's error queue is per thread and is left empty afterwards:
 * a stale entry would confuse the next SSL_get_error() on that thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "certcache.h"
#include "chain.h"
#include "err.h"

#define WARN_TTL	60	/* s a cached result with warnings lives */
#define MAX_ERRORS	32	/* recorded errors before OpenSSL is stopped */
#define OID_ANY_POLICY	"2.5.29.32.0"
#define OID_QC_COMPLIANCE "0.4.0.1862.1.1"

struct setup_arg {
	const struct chain_ctx *ctx;
	time_t at;
};

/* First error per depth of the offline pass. */
struct vstate {
	int err[CHAIN_MAX_CERTS];
	int first, first_depth, nerr;
};

static int
map_error(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		return GW_ERR_CERT_EXPIRED;
	case X509_V_ERR_CERT_REVOKED:
		return GW_ERR_CERT_REVOKED;
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		return GW_ERR_CERT_USAGE;
	case X509_V_ERR_OUT_OF_MEM:
		return GW_ERR_NOMEM;
	default:
		return GW_ERR_CERT_UNTRUSTED;
	}
}

/* The stable reason code of an OpenSSL verification error. */
static const char *
reason_of(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:		return "expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:		return "not-yet-valid";
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:	return "bad-validity";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:			return "untrusted";
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
	case X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH:	return "bad-signature";
	case X509_V_ERR_INVALID_CA:			return "not-ca";
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:		return "path-length";
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:		return "ca-key-usage";
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:	return "key-usage";
	case X509_V_ERR_PERMITTED_VIOLATION:
	case X509_V_ERR_EXCLUDED_VIOLATION:
	case X509_V_ERR_SUBTREE_MINMAX:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
	case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
		return "name-constraints";
	case X509_V_ERR_NO_EXPLICIT_POLICY:
	case X509_V_ERR_INVALID_POLICY_EXTENSION:	return "policy";
	case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
		return "critical-extension";
	case X509_V_ERR_INVALID_EXTENSION:
	case X509_V_ERR_INVALID_NON_CA:
		return "invalid-extension";
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
	case X509_V_ERR_CA_MD_TOO_WEAK:			return "weak-key";
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:		return "chain-too-long";
	default:
		break;
	}
	/* 80..94 are what X509_V_FLAG_X509_STRICT adds in OpenSSL 3.0 */
	if (err >= X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA &&
	    err <= X509_V_ERR_EC_KEY_EXPLICIT_PARAMS)
		return "not-rfc5280";
	return "invalid";
}

const char *
chain_result_name(enum chain_result r)
{
	return r == CHAIN_RESULT_VALID ? "valid" : r == CHAIN_RESULT_INVALID ?
	    "invalid" : "indeterminate";
}

const char *
chain_certtype_name(enum chain_certtype t)
{
	return t == CHAIN_CERT_QUALIFIED ? "qualified" :
	    t == CHAIN_CERT_ADVANCED ? "advanced" : "unknown";
}

/* ---- what a certificate says about itself ------------------------------- */

/*
 * qcStatements ::= SEQUENCE OF SEQUENCE { statementId OID, statementInfo
 * ANY OPTIONAL }.  Walked by hand: OpenSSL has no decoder for it, and all
 * we need is whether one statementId is QcCompliance.
 */
enum chain_certtype
chain_cert_type(X509 *cert)
{
	const ASN1_OCTET_STRING *os;
	const unsigned char *p, *end, *q, *st_end;
	ASN1_OBJECT *want = NULL, *obj;
	enum chain_certtype t = CHAIN_CERT_UNKNOWN;
	long len;
	int idx, tag, cls, found = 0;

	if ((idx = X509_get_ext_by_NID(cert, NID_qcStatements, -1)) < 0)
		return CHAIN_CERT_ADVANCED;
	os = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
	p = ASN1_STRING_get0_data(os);
	end = p + ASN1_STRING_length(os);
	if ((want = OBJ_txt2obj(OID_QC_COMPLIANCE, 1)) == NULL ||
	    ASN1_get_object(&p, &len, &tag, &cls, end - p) !=
	    V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE || p + len != end)
		goto out;
	while (p < end) {
		q = p;
		if (ASN1_get_object(&q, &len, &tag, &cls, end - p) !=
		    V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE)
			goto out;
		st_end = q + len;
		if ((obj = d2i_ASN1_OBJECT(NULL, &q, st_end - q)) == NULL)
			goto out;
		found |= OBJ_cmp(obj, want) == 0;
		ASN1_OBJECT_free(obj);
		p = st_end;
	}
	t = found ? CHAIN_CERT_QUALIFIED : CHAIN_CERT_ADVANCED;
 out:
	ASN1_OBJECT_free(want);
	ERR_clear_error();
	return t;
}

/* Cuts s (n bytes) after its last complete UTF-8 character. */
static void
utf8_cut(char *s, size_t n)
{
	size_t i = n, need;
	unsigned char c;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0) {
		s[0] = '\0';
		return;
	}
	c = (unsigned char)s[i - 1];
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	s[n - (i - 1) >= need ? n : i - 1] = '\0';
}

/* RFC 2253 with UTF-8 kept and control characters escaped. */
static void
name_text(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b;
	int k;

	buf[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 &
	    ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (k = BIO_read(b, buf, (int)len - 1)) > 0) {
		buf[k] = '\0';
		if (BIO_pending(b) > 0)
			utf8_cut(buf, (size_t)k);
	}
	BIO_free(b);
}

static void
describe_one(X509 *c, int depth, int anchor, struct chain_cert *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	BIGNUM *bn;
	char *hex;

	memset(e, 0, sizeof(*e));
	e->depth = depth;
	name_text(X509_get_subject_name(c), e->subject, sizeof(e->subject));
	name_text(X509_get_issuer_name(c), e->issuer, sizeof(e->issuer));
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), NULL)) &&
	    (hex = BN_bn2hex(bn)) != NULL) {
		snprintf(e->serial, sizeof(e->serial), "%s", hex);
		OPENSSL_free(hex);
	}
	BN_free(bn);
	if (X509_digest(c, EVP_sha256(), md, &mdlen) == 1)
		for (i = 0; i < mdlen && i < 32; i++)
			snprintf(e->sha256 + 2 * i, 3, "%02x", md[i]);
	e->not_before = rev_time(X509_get0_notBefore(c));
	e->not_after = rev_time(X509_get0_notAfter(c));
	e->is_ca = X509_check_ca(c) > 0;
	e->is_anchor = anchor;
	e->type = chain_cert_type(c);
	e->offline = CHAIN_RESULT_INDETERMINATE;
	e->offline_reason = "not-checked";
	e->online.code = "not-checked";
	e->online.reason = REV_REASON_NONE;
}

/* ---- step 1: offline ---------------------------------------------------- */

/* Without a keyUsage extension any use is allowed (RFC 5280, 4.2.1.3). */
static int
usage_ok(X509 *cert, enum chain_usage usage)
{
	uint32_t ku;

	if (usage == CHAIN_USAGE_ANY ||
	    (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0)
		return 1;
	ku = X509_get_key_usage(cert);
	if (usage == CHAIN_USAGE_SIGN)
		return (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0;
	return (ku & KU_KEY_ENCIPHERMENT) != 0;
}

/* Both passes (offline here, CRLs in revocation.c) are set up by this. */
static int
setup_ctx(X509_STORE_CTX *x, void *arg)
{
	const struct setup_arg *sa = arg;
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(x);
	const char *const *p = sa->ctx->policies;
	unsigned long fl = X509_V_FLAG_POLICY_CHECK;
	unsigned f = sa->ctx->flags;
	ASN1_OBJECT *o;

	fl |= (f & CHAIN_F_LAX) ? 0 : X509_V_FLAG_X509_STRICT;
	fl |= (f & CHAIN_F_EXPLICIT_POLICY) ? X509_V_FLAG_EXPLICIT_POLICY : 0;
	fl |= (f & CHAIN_F_INHIBIT_MAPPING) ? X509_V_FLAG_INHIBIT_MAP : 0;
	fl |= (f & CHAIN_F_INHIBIT_ANY) ? X509_V_FLAG_INHIBIT_ANY : 0;
	if (X509_VERIFY_PARAM_set_flags(vp, fl) != 1)
		return -1;
	X509_VERIFY_PARAM_set_depth(vp, CHAIN_MAX_CERTS - 2);
	if (sa->at != 0)
		X509_VERIFY_PARAM_set_time(vp, sa->at);
	/* RFC 5280's default user-initial-policy-set is {anyPolicy} */
	if (p == NULL || *p == NULL) {
		static const char *const any[] = { OID_ANY_POLICY, NULL };

		p = any;
	}
	for (; *p != NULL; p++)
		if ((o = OBJ_txt2obj(*p, 1)) == NULL ||
		    X509_VERIFY_PARAM_add0_policy(vp, o) != 1) {
			ASN1_OBJECT_free(o);
			return -1;
		}
	return 0;
}

static int
offline_cb(int ok, X509_STORE_CTX *x)
{
	struct vstate *v = X509_STORE_CTX_get_app_data(x);
	int e, d;

	if (v == NULL || ok)
		return ok;
	e = X509_STORE_CTX_get_error(x);
	d = X509_STORE_CTX_get_error_depth(x);
	if (e == X509_V_ERR_OUT_OF_MEM)
		return 0;
	if (v->nerr++ == 0) {
		v->first = e;
		v->first_depth = d;
	}
	if (d >= 0 && d < CHAIN_MAX_CERTS && v->err[d] == 0)
		v->err[d] = e;
	return v->nerr < MAX_ERRORS;
}

static void
set_invalid(struct chain_cert *e, const char *reason, const char *detail)
{
	e->offline = CHAIN_RESULT_INVALID;
	e->offline_reason = reason;
	snprintf(e->offline_detail, sizeof(e->offline_detail), "%s", detail);
}

/* Per-certificate results and the first failure; 0 if there is none. */
static int
judge(const struct chain_ctx *ctx, const struct vstate *v, X509 *cert,
    STACK_OF(X509) *chain, enum chain_usage usage, struct chain_report *rep)
{
	const char *why = NULL;
	int i, r = 0, rh;

	for (i = 0; i < rep->ncerts; i++)
		if (v->err[i] != 0)
			set_invalid(&rep->certs[i], reason_of(v->err[i]),
			    X509_verify_cert_error_string(v->err[i]));
	if (v->nerr > 0) {
		r = map_error(v->first);
		rep->reason = reason_of(v->first);
		snprintf(rep->detail, sizeof(rep->detail), "%s (depth %d)",
		    X509_verify_cert_error_string(v->first), v->first_depth);
	}
	if (rep->ncerts > 0 && v->err[0] == 0 && !usage_ok(cert, usage)) {
		set_invalid(&rep->certs[0], "key-usage", usage ==
		    CHAIN_USAGE_SIGN ? "key usage does not allow digital "
		    "signatures" : "key usage does not allow key encipherment");
		if (r == 0) {
			r = GW_ERR_CERT_USAGE;
			rep->reason = "key-usage";
			snprintf(rep->detail, sizeof(rep->detail), "%s",
			    rep->certs[0].offline_detail);
		}
	}
	for (i = 0; ctx->cert_check != NULL && chain != NULL &&
	    i < rep->ncerts; i++) {
		why = NULL;
		if (rep->certs[i].offline == CHAIN_RESULT_INVALID ||
		    (rh = ctx->cert_check(sk_X509_value(chain, i), i,
		    rep->certs[i].is_anchor, ctx->cert_check_arg, &why)) == 0)
			continue;
		set_invalid(&rep->certs[i], why ? why : "algorithm",
		    "rejected by the algorithm policy");
		if (r == 0) {
			r = rh;
			rep->reason = rep->certs[i].offline_reason;
			snprintf(rep->detail, sizeof(rep->detail),
			    "%s (depth %d)", rep->certs[i].offline_detail, i);
		}
	}
	for (i = 0; i < rep->ncerts; i++)
		if (rep->certs[i].offline != CHAIN_RESULT_INVALID) {
			rep->certs[i].offline = r == 0 ? CHAIN_RESULT_VALID :
			    CHAIN_RESULT_INDETERMINATE;
			rep->certs[i].offline_reason = r == 0 ? "ok" :
			    "chain-invalid";
		}
	if (r != 0)
		rep->verdict = r == GW_ERR_NOMEM ? CHAIN_RESULT_INDETERMINATE :
		    CHAIN_RESULT_INVALID;
	return r;
}

static int
internal(struct chain_report *rep, int r)
{
	rep->verdict = CHAIN_RESULT_INDETERMINATE;
	rep->reason = "internal";
	snprintf(rep->detail, sizeof(rep->detail), "%s", gw_strerror(r));
	return r;
}

static int
offline(const struct chain_ctx *ctx, struct setup_arg *sa, X509 *cert,
    STACK_OF(X509) *untrusted, enum chain_usage usage,
    struct chain_report *rep, STACK_OF(X509) **chainp)
{
	struct vstate v;
	X509_STORE_CTX *x;
	STACK_OF(X509) *chain = NULL;
	int ok, r = GW_ERR_INTERNAL, i, nu;

	memset(&v, 0, sizeof(v));
	if ((x = X509_STORE_CTX_new()) == NULL)
		return internal(rep, GW_ERR_NOMEM);
	if (X509_STORE_CTX_init(x, ctx->trust, cert, untrusted) != 1 ||
	    setup_ctx(x, sa) != 0)
		goto out;
	X509_STORE_CTX_set_verify_cb(x, offline_cb);
	X509_STORE_CTX_set_app_data(x, &v);
	ok = X509_verify_cert(x);
	if (ok != 1 && v.nerr == 0) {
		if (ok < 0 || (v.first = X509_STORE_CTX_get_error(x)) ==
		    X509_V_OK)
			goto out;	/* internal failure, no verdict */
		v.nerr = 1;	/* an error the callback never saw */
		v.first_depth = X509_STORE_CTX_get_error_depth(x);
		if (v.first_depth >= 0 && v.first_depth < CHAIN_MAX_CERTS)
			v.err[v.first_depth] = v.first;
	}
	chain = X509_STORE_CTX_get1_chain(x);
	nu = X509_STORE_CTX_get_num_untrusted(x);
	rep->ncerts = chain != NULL ? sk_X509_num(chain) : 1;
	if (rep->ncerts > CHAIN_MAX_CERTS)
		rep->ncerts = CHAIN_MAX_CERTS;
	for (i = 0; i < rep->ncerts; i++)
		describe_one(chain != NULL ? sk_X509_value(chain, i) : cert, i,
		    chain != NULL && i >= nu, &rep->certs[i]); /* from store */
	r = judge(ctx, &v, cert, chain, usage, rep);
	*chainp = chain;
	chain = NULL;
 out:
	if (r == GW_ERR_INTERNAL)
		internal(rep, r);
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_CTX_free(x);
	return r;
}

/* ---- step 2: online ----------------------------------------------------- */

static void
warn(struct chain_report *rep, const char *code, int depth, const char *text)
{
	struct chain_warning *w;

	if (rep->nwarnings >= CHAIN_MAX_WARNINGS)
		return;
	w = &rep->warnings[rep->nwarnings++];
	w->code = code;
	w->depth = depth;
	snprintf(w->text, sizeof(w->text), "%s", text);
}

static void
iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

static int
online(const struct chain_ctx *ctx, struct setup_arg *sa, X509 *cert,
    STACK_OF(X509) *untrusted, STACK_OF(X509) *chain,
    struct chain_report *rep)
{
	struct rev_answer ans[CHAIN_MAX_CERTS];
	const struct rev_answer *a;
	char when[32], text[192];
	int i, n = sk_X509_num(chain), r, missing = -1;

	if (n > CHAIN_MAX_CERTS || n != rep->ncerts)
		return internal(rep, GW_ERR_INTERNAL);
	if ((r = rev_check_path(ctx->rev, ctx->trust, cert, untrusted, chain,
	    sa->at, setup_ctx, sa, ans)) != 0)
		return internal(rep, r);
	for (i = 0; i < n; i++)
		rep->certs[i].online = ans[i];
	for (i = 0; i < n - 1; i++) {
		a = &ans[i];
		if (a->status == REV_STATUS_REVOKED) {
			iso_time(a->revoked_at, when, sizeof(when));
			rep->verdict = CHAIN_RESULT_INVALID;
			rep->reason = "revoked";
			snprintf(rep->detail, sizeof(rep->detail), "the "
			    "certificate at depth %d was revoked at %s (%s), "
			    "says %.100s", i, when, rev_reason_name(a->reason),
			    a->source);
			return GW_ERR_CERT_REVOKED;
		}
		if (a->status != REV_STATUS_GOOD && missing < 0)
			missing = i;
	}
	for (i = missing; i >= 0 && i < n - 1; i++) {
		a = &ans[i];
		if (a->status == REV_STATUS_GOOD)
			continue;
		snprintf(text, sizeof(text), "no revocation answer for depth "
		    "%d: %s (%.60s) %.80s", i, a->code, a->detail, a->source);
		if (ctx->revocation == REV_POLICY_REQUIRE) {
			rep->verdict = CHAIN_RESULT_INDETERMINATE;
			rep->reason = "revocation-unavailable";
			snprintf(rep->detail, sizeof(rep->detail), "%s", text);
			return GW_ERR_CERT_UNTRUSTED;
		}
		warn(rep, "revocation-unavailable", i, text);
	}
	return 0;
}

/* ---- step 3: the cache -------------------------------------------------- */

static int
hash_cert(EVP_MD_CTX *md, X509 *c)
{
	unsigned char *der = NULL;
	int len, ok;

	if ((len = i2d_X509(c, &der)) <= 0)
		return 0;
	ok = EVP_DigestUpdate(md, &len, sizeof(len)) == 1 &&
	    EVP_DigestUpdate(md, der, (size_t)len) == 1;
	OPENSSL_free(der);
	return ok;
}

static int
cache_key(const struct chain_ctx *ctx, X509 *cert, STACK_OF(X509) *untrusted,
    time_t at, enum chain_usage usage, unsigned char key[32])
{
	struct {
		const X509_STORE *trust;
		unsigned long trust_gen;
		unsigned flags;
		int usage, revocation;
		long long at;
		chain_cert_check_fn fn;
		const void *arg;
	} fixed;
	const char *const *p;
	EVP_MD_CTX *md;
	int i, ok;

	memset(&fixed, 0, sizeof(fixed));	/* padding too */
	fixed.trust = ctx->trust;
	fixed.trust_gen = ctx->trust_gen;
	fixed.flags = ctx->flags;
	fixed.usage = (int)usage;
	fixed.revocation = (int)ctx->revocation;
	fixed.at = (long long)at;
	fixed.fn = ctx->cert_check;
	fixed.arg = ctx->cert_check_arg;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return GW_ERR_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, &fixed, sizeof(fixed)) == 1 &&
	    hash_cert(md, cert);
	for (i = 0; ok && i < sk_X509_num(untrusted); i++)
		ok = hash_cert(md, sk_X509_value(untrusted, i));
	for (p = ctx->policies; ok && p != NULL && *p != NULL; p++)
		ok = EVP_DigestUpdate(md, *p, strlen(*p) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(md, key, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : GW_ERR_INTERNAL;
}

static time_t
expiry(const struct chain_ctx *ctx, const struct chain_report *rep,
    time_t at, time_t now)
{
	time_t e = now + certcache_ttl(ctx->cache), t;
	int i;

	for (i = 0; i < rep->ncerts; i++) {
		t = rep->certs[i].not_after;
		if (at == 0 && t != 0 && t < e)
			e = t;
		t = rep->certs[i].online.next_update;
		if (t != 0 && t < e)
			e = t;
	}
	if (rep->nwarnings > 0 && now + WARN_TTL < e)
		e = now + WARN_TTL;
	return e;
}

/* ---- the entry points --------------------------------------------------- */

static int
verify(const struct chain_ctx *ctx, X509 *cert, STACK_OF(X509) *untrusted,
    time_t at, enum chain_usage usage, struct chain_report *rep)
{
	struct setup_arg sa = { ctx, at };
	STACK_OF(X509) *chain = NULL;
	int r;

	rep->at = at != 0 ? at : time(NULL);
	rep->revocation = ctx->revocation;
	r = offline(ctx, &sa, cert, untrusted, usage, rep, &chain);
	if (r == 0 && ctx->revocation != REV_POLICY_OFF)
		r = online(ctx, &sa, cert, untrusted, chain, rep);
	if (r == 0) {
		rep->verdict = CHAIN_RESULT_VALID;
		rep->reason = "ok";
		snprintf(rep->detail, sizeof(rep->detail), "%s",
		    rep->nwarnings ? "valid, with warnings" : "valid");
	}
	rep->error = r;
	sk_X509_pop_free(chain, X509_free);
	return r;
}

int
chain_verify_ex(const struct chain_ctx *ctx, X509 *cert,
    STACK_OF(X509) *untrusted, time_t at, enum chain_usage usage,
    struct chain_report *out)
{
	struct chain_report *rep;
	unsigned char key[32];
	unsigned long cgen = 0, rgen = 0;
	time_t now = time(NULL);
	int r = GW_ERR_INTERNAL, keyed = 0;

	if ((rep = calloc(1, sizeof(*rep))) == NULL) {
		if (out != NULL) {
			memset(out, 0, sizeof(*out));
			out->error = internal(out, GW_ERR_NOMEM);
		}
		return GW_ERR_NOMEM;
	}
	if (ctx == NULL || ctx->trust == NULL || cert == NULL) {
		rep->error = internal(rep, r);
		goto out;
	}
	if (ctx->cache != NULL) {
		cgen = certcache_generation(ctx->cache);
		rgen = rev_cache_generation(ctx->rev);
		keyed = cache_key(ctx, cert, untrusted, at, usage, key) == 0;
		if (keyed && certcache_get(ctx->cache, key, rgen, now, rep,
		    sizeof(*rep), &r)) {
			rep->from_cache = 1;
			rep->at = at != 0 ? at : now;
			goto out;
		}
	}
	r = verify(ctx, cert, untrusted, at, usage, rep);
	if (keyed && rep->verdict != CHAIN_RESULT_INDETERMINATE)
		certcache_put(ctx->cache, key, cgen, rgen,
		    expiry(ctx, rep, at, now), rep, sizeof(*rep), r);
 out:
	if (out != NULL)
		*out = *rep;
	free(rep);
	ERR_clear_error();
	return r;
}

int
chain_verify(X509 *cert, STACK_OF(X509) *untrusted, X509_STORE *trust,
    time_t at, enum chain_usage usage, char *why, size_t whylen)
{
	struct chain_ctx ctx = { .trust = trust, .flags = CHAIN_F_LAX,
	    .revocation = REV_POLICY_OFF };
	struct chain_report *rep;
	int r;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (cert == NULL || trust == NULL)
		return GW_ERR_INTERNAL;
	if ((rep = malloc(sizeof(*rep))) == NULL)
		return GW_ERR_NOMEM;
	r = chain_verify_ex(&ctx, cert, untrusted, at, usage, rep);
	if (r != 0 && why != NULL)
		snprintf(why, whylen, "%s", rep->detail);
	free(rep);
	return r;
}

void
chain_report_print(const struct chain_report *r, FILE *f)
{
	const struct chain_cert *c;
	char t1[32], t2[32], rv[80];
	int i;

	iso_time(r->at, t1, sizeof(t1));
	fprintf(f, "path %s (%s): %s; at %s, revocation %s%s\n",
	    chain_result_name(r->verdict), r->reason ? r->reason : "-",
	    r->detail, t1, rev_policy_name(r->revocation),
	    r->from_cache ? ", cached" : "");
	for (i = 0; i < r->ncerts; i++) {
		c = &r->certs[i];
		iso_time(c->online.answered, t1, sizeof(t1));
		iso_time(c->online.revoked_at, t2, sizeof(t2));
		rv[0] = '\0';
		if (c->online.status == REV_STATUS_REVOKED)
			snprintf(rv, sizeof(rv), ", revoked at %s (%s)", t2,
			    rev_reason_name(c->online.reason));
		fprintf(f, "  [%d] %s%s\n      issuer %s serial %s, %s\n"
		    "      offline %s (%s) %s\n      online %s %s (%s) %s "
		    "at %s%s %s\n", i, c->subject, c->is_anchor ?
		    " (trust anchor)" : "", c->issuer, c->serial,
		    chain_certtype_name(c->type), chain_result_name(c->offline),
		    c->offline_reason, c->offline_detail,
		    rev_method_name(c->online.method),
		    rev_status_name(c->online.status), c->online.code,
		    c->online.source, t1, rv, c->online.detail);
	}
	for (i = 0; i < r->nwarnings; i++)
		fprintf(f, "  warning %s: %s\n", r->warnings[i].code,
		    r->warnings[i].text);
}
