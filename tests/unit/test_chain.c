/*
 * test_chain.c - path validation and its report, certs/chain.h and
 * certs/certcache.h.
 *
 * What callers rely on: a valid path is reported certificate by
 * certificate (subject, issuer, serial, SHA-256, validity, anchor, type,
 * offline and online result); a certificate declaring QcCompliance in
 * qcStatements is "qualified", one without it "advanced", a malformed
 * statement "unknown"; expired, not yet valid, wrong key usage, untrusted,
 * missing intermediate, name-constraint violations, unknown critical
 * extensions and RFC 5280 profile violations are each refused with their
 * own error code and stable reason; revocation "require" without any
 * source is indeterminate, "prefer" accepts with a warning; the cache
 * answers a repeated question, and forgets when trust or revocation state
 * changes; chain_verify() keeps its old contract.
 *
 * Certificates are made here with OpenSSL (EC P-256 keys, fast under
 * ASan), not with pki.c, so that every extension is under the test's
 * control.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certcache.h"
#include "chain.h"
#include "err.h"
#include "revocation.h"

#define DAY	86400L

struct ext {
	int nid;
	const char *val;
};

struct spec {
	const char *cn;
	long serial;
	long nb, na;			/* validity, seconds from now */
	int ca;
	const char *ku;			/* keyUsage; NULL: by ca */
	struct ext ext[6];		/* more extensions, nid 0 ends */
	const unsigned char *qc;	/* raw qcStatements value */
	size_t qclen;
	int unknown_critical;		/* a critical 1.3.6.1.4.1.99999.1 */
	int no_akid;			/* leave authorityKeyIdentifier out */
};

static struct {
	EVP_PKEY *kroot, *kint, *kleaf, *kother;
	X509 *root, *inter, *leaf, *other_root;
	X509_STORE *store;
} F;

/* QcCompliance, and QcSSCD alone; RFC 3739 / ETSI EN 319 412-5. */
static const unsigned char qc_compliance[] = { 0x30, 0x0a, 0x30, 0x08, 0x06,
	0x06, 0x04, 0x00, 0x8e, 0x46, 0x01, 0x01 };
static const unsigned char qc_sscd_only[] = { 0x30, 0x0a, 0x30, 0x08, 0x06,
	0x06, 0x04, 0x00, 0x8e, 0x46, 0x01, 0x04 };
static const unsigned char qc_garbage[] = { 0x30, 0x05, 0x02, 0x01, 0x01 };

/* ---- making certificates ------------------------------------------------ */

static EVP_PKEY *
ec_key(void)
{
	return EVP_EC_gen("P-256");
}

static int
add_conf(X509 *c, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX v;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&v, issuer, c, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &v, nid, val)) == NULL)
		return 0;
	ok = X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

static int
add_raw(X509 *c, const char *oid, int nid, int crit, const unsigned char *der,
    size_t len)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *obj = oid ? OBJ_txt2obj(oid, 1) : OBJ_nid2obj(nid);
	X509_EXTENSION *e = NULL;
	int ok = 0;

	if (os != NULL && obj != NULL &&
	    ASN1_OCTET_STRING_set(os, der, (int)len) == 1 &&
	    (e = X509_EXTENSION_create_by_OBJ(NULL, obj, crit, os)) != NULL)
		ok = X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	return ok;
}

static int
add_exts(X509 *c, X509 *issuer, const struct spec *s)
{
	static const unsigned char null_der[] = { 0x05, 0x00 };
	int i, ok;

	ok = add_conf(c, issuer, NID_basic_constraints, s->ca ?
	    "critical,CA:TRUE" : "critical,CA:FALSE") &&
	    add_conf(c, issuer, NID_key_usage, s->ku ? s->ku : s->ca ?
	    "critical,keyCertSign,cRLSign" :
	    "critical,digitalSignature,nonRepudiation") &&
	    add_conf(c, issuer, NID_subject_key_identifier, "hash");
	if (ok && !s->no_akid && issuer != c)
		ok = add_conf(c, issuer, NID_authority_key_identifier,
		    "keyid:always");
	for (i = 0; ok && s->ext[i].nid != 0; i++)
		ok = add_conf(c, issuer, s->ext[i].nid, s->ext[i].val);
	if (ok && s->qc != NULL)
		ok = add_raw(c, NULL, NID_qcStatements, 0, s->qc, s->qclen);
	if (ok && s->unknown_critical)
		ok = add_raw(c, "1.3.6.1.4.1.99999.1", 0, 1, null_der,
		    sizeof(null_der));
	return ok;
}

/* A certificate for key, issued by issuer/ikey (NULL: self-signed). */
static X509 *
mkcert(const struct spec *s, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	time_t now = time(NULL);

	if (c == NULL || n == NULL ||
	    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"gatewayd tests", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)s->cn, -1, -1, 0) != 1 ||
	    X509_set_version(c, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(c), s->serial) != 1 ||
	    X509_set_subject_name(c, n) != 1 ||
	    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) :
	    n) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(c), 0, s->nb, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(c), 0, s->na, &now) == NULL ||
	    X509_set_pubkey(c, key) != 1 ||
	    !add_exts(c, issuer ? issuer : c, s) ||
	    X509_sign(c, ikey ? ikey : key, EVP_sha256()) <= 0) {
		X509_free(c);
		c = NULL;
	}
	X509_NAME_free(n);
	return c;
}

static X509 *
leaf_with(struct spec *s)
{
	if (s->na == 0)
		s->na = 30 * DAY;
	if (s->nb == 0)
		s->nb = -DAY;
	return mkcert(s, F.kleaf, F.inter, F.kint);
}

static STACK_OF(X509) *
just_inter(void)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	if (sk != NULL && X509_up_ref(F.inter) == 1 &&
	    sk_X509_push(sk, F.inter) <= 0)
		X509_free(F.inter);
	return sk;
}

static int
group_setup(void **state)
{
	struct spec root = { .cn = "Test Root CA", .serial = 1, .nb = -DAY,
	    .na = 3650 * DAY, .ca = 1 };
	struct spec inter = { .cn = "Test Issuing CA", .serial = 2, .nb = -DAY,
	    .na = 1000 * DAY, .ca = 1 };
	struct spec other = { .cn = "Other Root CA", .serial = 3, .nb = -DAY,
	    .na = 3650 * DAY, .ca = 1 };
	struct spec leaf = { .cn = "Portal Signer \xc3\xa4",
	    .serial = 0x1234abcd, .nb = -DAY, .na = 365 * DAY };

	(void)state;
	if ((F.kroot = ec_key()) == NULL || (F.kint = ec_key()) == NULL ||
	    (F.kleaf = ec_key()) == NULL || (F.kother = ec_key()) == NULL)
		return -1;
	F.root = mkcert(&root, F.kroot, NULL, NULL);
	F.inter = mkcert(&inter, F.kint, F.root, F.kroot);
	F.other_root = mkcert(&other, F.kother, NULL, NULL);
	F.leaf = mkcert(&leaf, F.kleaf, F.inter, F.kint);
	if (F.root == NULL || F.inter == NULL || F.leaf == NULL ||
	    F.other_root == NULL || (F.store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(F.store, F.root) != 1)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_STORE_free(F.store);
	X509_free(F.root);
	X509_free(F.inter);
	X509_free(F.leaf);
	X509_free(F.other_root);
	EVP_PKEY_free(F.kroot);
	EVP_PKEY_free(F.kint);
	EVP_PKEY_free(F.kleaf);
	EVP_PKEY_free(F.kother);
	return 0;
}

/* Verifies cert (+ the intermediate) offline; the report in *rep. */
static int
check(X509 *cert, unsigned flags, enum chain_usage usage,
    struct chain_report *rep)
{
	struct chain_ctx ctx = { .trust = F.store, .flags = flags };
	STACK_OF(X509) *sk = just_inter();
	int r;

	r = chain_verify_ex(&ctx, cert, sk, 0, usage, rep);
	sk_X509_pop_free(sk, X509_free);
	return r;
}

/* ---- the report --------------------------------------------------------- */

static void
test_report_fields(void **state)
{
	struct chain_report rep;
	unsigned char md[32];
	unsigned int mdlen;
	char hex[65];
	int i;

	(void)state;
	assert_int_equal(check(F.leaf, 0, CHAIN_USAGE_SIGN, &rep), 0);
	assert_int_equal(rep.verdict, CHAIN_RESULT_VALID);
	assert_string_equal(rep.reason, "ok");
	assert_int_equal(rep.error, 0);
	assert_int_equal(rep.ncerts, 3);
	assert_int_equal(rep.nwarnings, 0);
	assert_int_equal(rep.revocation, REV_POLICY_OFF);
	assert_true(llabs((long long)(rep.at - time(NULL))) < 5);
	/* the leaf: names in RFC 2253 order, UTF-8 kept, serial in hex */
	assert_string_equal(rep.certs[0].subject,
	    "CN=Portal Signer \xc3\xa4,O=gatewayd tests");
	assert_string_equal(rep.certs[0].issuer,
	    "CN=Test Issuing CA,O=gatewayd tests");
	assert_string_equal(rep.certs[0].serial, "1234ABCD");
	assert_true(X509_digest(F.leaf, EVP_sha256(), md, &mdlen) == 1);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(rep.certs[0].sha256, hex);
	assert_int_equal(rep.certs[0].not_after - rep.certs[0].not_before,
	    366 * DAY);
	assert_int_equal(rep.certs[0].depth, 0);
	assert_false(rep.certs[0].is_ca);
	assert_false(rep.certs[0].is_anchor);
	assert_int_equal(rep.certs[0].type, CHAIN_CERT_ADVANCED);
	assert_int_equal(rep.certs[0].offline, CHAIN_RESULT_VALID);
	assert_string_equal(rep.certs[0].offline_reason, "ok");
	/* policy off: nothing asked, and the report says so */
	assert_int_equal(rep.certs[0].online.method, REV_METHOD_NONE);
	assert_int_equal(rep.certs[0].online.status, REV_STATUS_NOT_CHECKED);
	assert_string_equal(rep.certs[0].online.code, "not-checked");
	/* the CAs; the root is the anchor */
	assert_string_equal(rep.certs[1].subject,
	    "CN=Test Issuing CA,O=gatewayd tests");
	assert_true(rep.certs[1].is_ca);
	assert_false(rep.certs[1].is_anchor);
	assert_string_equal(rep.certs[2].subject,
	    "CN=Test Root CA,O=gatewayd tests");
	assert_true(rep.certs[2].is_anchor);
	assert_int_equal(rep.certs[2].offline, CHAIN_RESULT_VALID);
}

static void
test_qualified(void **state)
{
	struct spec s = { .cn = "Qualified Signer", .serial = 10,
	    .qc = qc_compliance, .qclen = sizeof(qc_compliance) };
	struct chain_report rep;
	X509 *c;

	(void)state;
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(chain_cert_type(c), CHAIN_CERT_QUALIFIED);
	assert_int_equal(check(c, 0, CHAIN_USAGE_SIGN, &rep), 0);
	assert_int_equal(rep.certs[0].type, CHAIN_CERT_QUALIFIED);
	assert_string_equal(chain_certtype_name(rep.certs[0].type),
	    "qualified");
	assert_int_equal(rep.certs[1].type, CHAIN_CERT_ADVANCED);
	X509_free(c);

	/* qcStatements without QcCompliance: not qualified */
	s.qc = qc_sscd_only;
	s.qclen = sizeof(qc_sscd_only);
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(chain_cert_type(c), CHAIN_CERT_ADVANCED);
	X509_free(c);

	/* a statement that is not a SEQUENCE: we cannot tell */
	s.qc = qc_garbage;
	s.qclen = sizeof(qc_garbage);
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(chain_cert_type(c), CHAIN_CERT_UNKNOWN);
	assert_string_equal(chain_certtype_name(CHAIN_CERT_UNKNOWN), "unknown");
	X509_free(c);
}

/* ---- refusals ----------------------------------------------------------- */

static void
test_expired(void **state)
{
	struct spec s = { .cn = "Expired", .serial = 11, .nb = -DAY / 2,
	    .na = -3600 };
	struct chain_ctx ctx = { .trust = F.store };
	struct chain_report rep;
	STACK_OF(X509) *sk = just_inter();
	X509 *c;
	time_t at;

	(void)state;
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(check(c, 0, CHAIN_USAGE_SIGN, &rep),
	    GW_ERR_CERT_EXPIRED);
	assert_int_equal(rep.verdict, CHAIN_RESULT_INVALID);
	assert_string_equal(rep.reason, "expired");
	assert_int_equal(rep.certs[0].offline, CHAIN_RESULT_INVALID);
	assert_string_equal(rep.certs[0].offline_reason, "expired");
	/* the CA's own checks passed, but the path did not */
	assert_int_equal(rep.certs[1].offline, CHAIN_RESULT_INDETERMINATE);
	assert_string_equal(rep.certs[1].offline_reason, "chain-invalid");
	assert_non_null(strstr(rep.detail, "depth 0"));
	/* validity is judged at the verification time: inside it, valid
	 * (one time value: the clock may tick between two time() calls) */
	at = time(NULL) - 7200;
	assert_int_equal(chain_verify_ex(&ctx, c, sk, at, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_int_equal(rep.at, at);
	/* two days ago none of the three was valid yet: each says so */
	assert_int_equal(chain_verify_ex(&ctx, c, sk, time(NULL) - 2 * DAY,
	    CHAIN_USAGE_SIGN, &rep), GW_ERR_CERT_EXPIRED);
	assert_string_equal(rep.reason, "not-yet-valid");
	assert_string_equal(rep.certs[0].offline_reason, "not-yet-valid");
	assert_string_equal(rep.certs[1].offline_reason, "not-yet-valid");
	assert_string_equal(rep.certs[2].offline_reason, "not-yet-valid");
	sk_X509_pop_free(sk, X509_free);
	X509_free(c);
}

static void
test_not_yet_valid(void **state)
{
	struct spec s = { .cn = "Future", .serial = 12, .nb = 2 * DAY,
	    .na = 30 * DAY };
	struct chain_report rep;
	X509 *c;

	(void)state;
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(check(c, 0, CHAIN_USAGE_SIGN, &rep),
	    GW_ERR_CERT_EXPIRED);
	assert_string_equal(rep.reason, "not-yet-valid");
	X509_free(c);
}

static void
test_key_usage(void **state)
{
	struct spec s = { .cn = "Encryption only", .serial = 13,
	    .ku = "critical,keyAgreement" };
	struct chain_report rep;
	X509 *c;

	(void)state;
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(check(c, 0, CHAIN_USAGE_SIGN, &rep),
	    GW_ERR_CERT_USAGE);
	assert_string_equal(rep.reason, "key-usage");
	assert_int_equal(rep.certs[0].offline, CHAIN_RESULT_INVALID);
	assert_string_equal(rep.certs[0].offline_reason, "key-usage");
	/* nonRepudiation alone is enough for signatures */
	X509_free(c);
	s.ku = "critical,nonRepudiation";
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(check(c, 0, CHAIN_USAGE_SIGN, &rep), 0);
	assert_int_equal(check(c, 0, CHAIN_USAGE_ENCIPHER, &rep),
	    GW_ERR_CERT_USAGE);
	X509_free(c);
}

static void
test_untrusted(void **state)
{
	struct spec s = { .cn = "Stranger", .serial = 14, .nb = -DAY,
	    .na = 30 * DAY };
	struct chain_report rep;
	X509 *c;
	int i;

	(void)state;
	assert_non_null(c = mkcert(&s, F.kleaf, F.other_root, F.kother));
	assert_int_equal(check(c, 0, CHAIN_USAGE_SIGN, &rep),
	    GW_ERR_CERT_UNTRUSTED);
	assert_int_equal(rep.verdict, CHAIN_RESULT_INVALID);
	assert_string_equal(rep.reason, "untrusted");
	for (i = 0; i < rep.ncerts; i++)
		assert_false(rep.certs[i].is_anchor);
	X509_free(c);

	/* our own leaf without the intermediate */
	assert_int_equal(chain_verify_ex(&(struct chain_ctx){ .trust =
	    F.store }, F.leaf, NULL, 0, CHAIN_USAGE_SIGN, &rep),
	    GW_ERR_CERT_UNTRUSTED);
	assert_string_equal(rep.reason, "untrusted");
	assert_int_equal(rep.ncerts, 1);
	/* a self-signed certificate that is not an anchor */
	assert_int_equal(chain_verify_ex(&(struct chain_ctx){ .trust =
	    F.store }, F.other_root, NULL, 0, CHAIN_USAGE_ANY, &rep),
	    GW_ERR_CERT_UNTRUSTED);
}

static void
test_name_constraints(void **state)
{
	struct spec ica = { .cn = "Constrained CA", .serial = 20, .nb = -DAY,
	    .na = 100 * DAY, .ca = 1, .ext = { { NID_name_constraints,
	    "critical,permitted;DNS:.example.org" } } };
	struct spec in = { .cn = "inside", .serial = 21, .nb = -DAY,
	    .na = 30 * DAY, .ext = { { NID_subject_alt_name,
	    "DNS:host.example.org" } } };
	struct spec out = { .cn = "outside", .serial = 22, .nb = -DAY,
	    .na = 30 * DAY, .ext = { { NID_subject_alt_name,
	    "DNS:host.example.com" } } };
	struct chain_ctx ctx = { .trust = F.store };
	struct chain_report rep;
	STACK_OF(X509) *sk = sk_X509_new_null();
	EVP_PKEY *k = ec_key();
	X509 *ca, *a, *b;

	(void)state;
	assert_non_null(ca = mkcert(&ica, k, F.root, F.kroot));
	assert_non_null(a = mkcert(&in, F.kleaf, ca, k));
	assert_non_null(b = mkcert(&out, F.kleaf, ca, k));
	assert_true(sk_X509_push(sk, ca) > 0);
	assert_int_equal(chain_verify_ex(&ctx, a, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_int_equal(chain_verify_ex(&ctx, b, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), GW_ERR_CERT_UNTRUSTED);
	assert_string_equal(rep.reason, "name-constraints");
	assert_string_equal(rep.certs[0].offline_reason, "name-constraints");
	sk_X509_pop_free(sk, X509_free);
	X509_free(a);
	X509_free(b);
	EVP_PKEY_free(k);
}

static void
test_critical_extension(void **state)
{
	struct spec s = { .cn = "Unknown critical", .serial = 23,
	    .unknown_critical = 1 };
	struct chain_report rep;
	X509 *c;

	(void)state;
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(check(c, 0, CHAIN_USAGE_SIGN, &rep),
	    GW_ERR_CERT_UNTRUSTED);
	assert_string_equal(rep.reason, "critical-extension");
	X509_free(c);
}

/* X509_STRICT: an intermediate without authorityKeyIdentifier. */
static void
test_strict_profile(void **state)
{
	struct spec ica = { .cn = "Sloppy CA", .serial = 24, .nb = -DAY,
	    .na = 100 * DAY, .ca = 1, .no_akid = 1 };
	struct spec ls = { .cn = "under sloppy", .serial = 25, .nb = -DAY,
	    .na = 30 * DAY };
	struct chain_ctx ctx = { .trust = F.store };
	struct chain_report rep;
	STACK_OF(X509) *sk = sk_X509_new_null();
	EVP_PKEY *k = ec_key();
	X509 *ca, *c;

	(void)state;
	assert_non_null(ca = mkcert(&ica, k, F.root, F.kroot));
	assert_non_null(c = mkcert(&ls, F.kleaf, ca, k));
	assert_true(sk_X509_push(sk, ca) > 0);
	assert_int_equal(chain_verify_ex(&ctx, c, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), GW_ERR_CERT_UNTRUSTED);
	assert_string_equal(rep.reason, "not-rfc5280");
	assert_int_equal(rep.certs[1].offline, CHAIN_RESULT_INVALID);
	ctx.flags = CHAIN_F_LAX;
	assert_int_equal(chain_verify_ex(&ctx, c, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	/* the old interface is lax, as it always was */
	assert_int_equal(chain_verify(c, sk, F.store, 0, CHAIN_USAGE_SIGN,
	    NULL, 0), 0);
	sk_X509_pop_free(sk, X509_free);
	X509_free(c);
	EVP_PKEY_free(k);
}

static int
reject_depth1(X509 *cert, int depth, int is_anchor, void *arg,
    const char **reason)
{
	int *calls = arg;

	(void)cert;
	(void)is_anchor;
	(*calls)++;
	if (depth != 1)
		return 0;
	*reason = "weak-algorithm";
	return GW_ERR_SIG_ALGORITHM;
}

static void
test_cert_check_hook(void **state)
{
	int calls = 0;
	struct chain_ctx ctx = { .trust = F.store, .cert_check = reject_depth1,
	    .cert_check_arg = &calls };
	struct chain_report rep;
	STACK_OF(X509) *sk = just_inter();

	(void)state;
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), GW_ERR_SIG_ALGORITHM);
	assert_int_equal(calls, 3);		/* every certificate */
	assert_string_equal(rep.reason, "weak-algorithm");
	assert_int_equal(rep.certs[1].offline, CHAIN_RESULT_INVALID);
	assert_int_equal(rep.certs[0].offline, CHAIN_RESULT_INDETERMINATE);
	sk_X509_pop_free(sk, X509_free);
}

/* ---- revocation policy without sources ---------------------------------- */

static void
test_revocation_without_source(void **state)
{
	struct chain_ctx ctx = { .trust = F.store,
	    .revocation = REV_POLICY_REQUIRE };
	struct chain_report rep;
	STACK_OF(X509) *sk = just_inter();

	(void)state;
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), GW_ERR_CERT_UNTRUSTED);
	assert_int_equal(rep.verdict, CHAIN_RESULT_INDETERMINATE);
	assert_string_equal(rep.reason, "revocation-unavailable");
	assert_int_equal(rep.certs[0].offline, CHAIN_RESULT_VALID);
	assert_int_equal(rep.certs[0].online.status, REV_STATUS_UNAVAILABLE);
	assert_string_equal(rep.certs[0].online.code, "no-source");
	assert_int_equal(rep.certs[2].online.status, REV_STATUS_NOT_CHECKED);

	ctx.revocation = REV_POLICY_PREFER;
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_int_equal(rep.verdict, CHAIN_RESULT_VALID);
	assert_int_equal(rep.nwarnings, 2);	/* leaf and intermediate */
	assert_string_equal(rep.warnings[0].code, "revocation-unavailable");
	assert_int_equal(rep.warnings[0].depth, 0);
	assert_int_equal(rep.warnings[1].depth, 1);
	sk_X509_pop_free(sk, X509_free);
}

/* ---- the cache ---------------------------------------------------------- */

static void
test_cache_hit_and_invalidation(void **state)
{
	struct certcache *cc;
	struct rev_cache *rc;
	struct rev_config rcfg = { .no_fetch = 1 };
	struct chain_ctx ctx = { .trust = F.store, .trust_gen = 1 };
	struct certcache_stats st;
	struct chain_report rep;
	STACK_OF(X509) *sk = just_inter();
	X509_CRL *crl = X509_CRL_new();

	(void)state;
	assert_int_equal(certcache_new(16, 300, &cc), 0);
	assert_int_equal(rev_cache_new(&rcfg, &rc), 0);
	ctx.cache = cc;
	ctx.rev = rc;
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_false(rep.from_cache);
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_true(rep.from_cache);
	assert_int_equal(rep.ncerts, 3);
	assert_string_equal(rep.certs[0].serial, "1234ABCD");
	certcache_stats(cc, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.results, 1);

	/* another question is another key: usage, time, intermediates */
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_ANY,
	    &rep), 0);
	assert_false(rep.from_cache);
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, NULL, 0,
	    CHAIN_USAGE_SIGN, &rep), GW_ERR_CERT_UNTRUSTED);
	assert_false(rep.from_cache);
	/* a refusal is cached too, with its code */
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, NULL, 0,
	    CHAIN_USAGE_SIGN, &rep), GW_ERR_CERT_UNTRUSTED);
	assert_true(rep.from_cache);
	assert_string_equal(rep.reason, "untrusted");

	/* trust changed: the caller's generation */
	ctx.trust_gen = 2;
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_false(rep.from_cache);
	/* invalidated explicitly */
	certcache_invalidate(cc);
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_false(rep.from_cache);
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_true(rep.from_cache);
	/* revocation state changed: a CRL source was added */
	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(F.other_root)), 1);
	assert_int_equal(rev_cache_add_crl(rc, crl, "test"), 0);
	assert_int_equal(chain_verify_ex(&ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
	    &rep), 0);
	assert_false(rep.from_cache);

	X509_CRL_free(crl);
	sk_X509_pop_free(sk, X509_free);
	rev_cache_free(rc);
	certcache_free(cc);
}

/* A cache of 2 keeps the 2 most recently used results. */
static void
test_cache_bounded(void **state)
{
	struct certcache *cc;
	struct certcache_stats st;
	unsigned char k[3][32];
	int v = 7, out = 0, rc = 0, i;

	(void)state;
	assert_int_equal(certcache_new(2, 300, &cc), 0);
	for (i = 0; i < 3; i++) {
		memset(k[i], i + 1, sizeof(k[i]));
		certcache_put(cc, k[i], certcache_generation(cc), 5,
		    time(NULL) + 100, &v, sizeof(v), -i);
	}
	certcache_stats(cc, &st);
	assert_int_equal(st.results, 2);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(certcache_get(cc, k[0], 5, time(NULL), &out,
	    sizeof(out), &rc), 0);
	assert_int_equal(certcache_get(cc, k[2], 5, time(NULL), &out,
	    sizeof(out), &rc), 1);
	assert_int_equal(out, 7);
	assert_int_equal(rc, -2);
	/* another stamp, or past the expiry: a miss */
	assert_int_equal(certcache_get(cc, k[1], 6, time(NULL), &out,
	    sizeof(out), &rc), 0);
	assert_int_equal(certcache_get(cc, k[2], 5, time(NULL) + 200, &out,
	    sizeof(out), &rc), 0);
	/* computed before an invalidation: not stored */
	i = (int)certcache_generation(cc);
	certcache_invalidate(cc);
	certcache_put(cc, k[0], (unsigned long)i, 5, time(NULL) + 100, &v,
	    sizeof(v), 0);
	assert_int_equal(certcache_get(cc, k[0], 5, time(NULL), &out,
	    sizeof(out), &rc), 0);
	certcache_free(cc);
}

static void
test_cache_decoded_certs(void **state)
{
	struct certcache *cc;
	unsigned char *der = NULL, *big;
	X509 *a, *b;
	int len;

	(void)state;
	assert_int_equal(certcache_new(4, 0, &cc), 0);
	assert_true((len = i2d_X509(F.leaf, &der)) > 0);
	assert_int_equal(certcache_x509(cc, der, (size_t)len, &a), 0);
	assert_int_equal(certcache_x509(cc, der, (size_t)len, &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(X509_cmp(a, F.leaf), 0);
	X509_free(a);
	X509_free(b);
	/* trailing bytes and truncation are refused */
	assert_non_null(big = malloc((size_t)len + 1));
	memcpy(big, der, (size_t)len);
	big[len] = 0;
	assert_int_equal(certcache_x509(cc, big, (size_t)len + 1, &a),
	    GW_ERR_INVALID);
	assert_int_equal(certcache_x509(cc, der, (size_t)len - 1, &a),
	    GW_ERR_INVALID);
	free(big);
	OPENSSL_free(der);
	certcache_free(cc);
}

struct worker {
	struct chain_ctx *ctx;
	int bad;
};

static void *
worker(void *arg)
{
	struct worker *w = arg;
	struct chain_report *rep = malloc(sizeof(*rep));
	STACK_OF(X509) *sk = just_inter();
	int i;

	for (i = 0; rep != NULL && i < 40; i++)
		if (chain_verify_ex(w->ctx, F.leaf, sk, 0, CHAIN_USAGE_SIGN,
		    rep) != 0 || rep->ncerts != 3)
			w->bad++;
		else if (i % 10 == 0)
			certcache_invalidate(w->ctx->cache);
	sk_X509_pop_free(sk, X509_free);
	free(rep);
	return NULL;
}

/* Several threads share one context and cache. */
static void
test_threads(void **state)
{
	struct certcache *cc;
	struct chain_ctx ctx = { .trust = F.store };
	struct worker w[4];
	pthread_t t[4];
	int i;

	(void)state;
	assert_int_equal(certcache_new(8, 300, &cc), 0);
	ctx.cache = cc;
	for (i = 0; i < 4; i++) {
		w[i].ctx = &ctx;
		w[i].bad = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	certcache_free(cc);
}

/* ---- the old interface -------------------------------------------------- */

static void
test_chain_verify_compat(void **state)
{
	struct spec s = { .cn = "Expired", .serial = 30, .nb = -30 * DAY,
	    .na = -DAY };
	STACK_OF(X509) *sk = just_inter();
	char why[256];
	X509 *c;

	(void)state;
	assert_int_equal(chain_verify(F.leaf, sk, F.store, 0, CHAIN_USAGE_SIGN,
	    why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_non_null(c = leaf_with(&s));
	assert_int_equal(chain_verify(c, sk, F.store, 0, CHAIN_USAGE_SIGN, why,
	    sizeof(why)), GW_ERR_CERT_EXPIRED);
	assert_string_equal(why, "certificate has expired (depth 0)");
	assert_int_equal(chain_verify(F.leaf, NULL, F.store, 0,
	    CHAIN_USAGE_SIGN, why, sizeof(why)), GW_ERR_CERT_UNTRUSTED);
	assert_int_equal(chain_verify(NULL, sk, F.store, 0, CHAIN_USAGE_SIGN,
	    why, sizeof(why)), GW_ERR_INTERNAL);
	assert_int_equal(ERR_peek_error(), 0);	/* queue left empty */
	X509_free(c);
	sk_X509_pop_free(sk, X509_free);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_fields),
		cmocka_unit_test(test_qualified),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_not_yet_valid),
		cmocka_unit_test(test_key_usage),
		cmocka_unit_test(test_untrusted),
		cmocka_unit_test(test_name_constraints),
		cmocka_unit_test(test_critical_extension),
		cmocka_unit_test(test_strict_profile),
		cmocka_unit_test(test_cert_check_hook),
		cmocka_unit_test(test_revocation_without_source),
		cmocka_unit_test(test_cache_hit_and_invalidation),
		cmocka_unit_test(test_cache_bounded),
		cmocka_unit_test(test_cache_decoded_certs),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_chain_verify_compat),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
