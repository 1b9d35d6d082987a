/*
 * test_cms.c - detached CMS signatures over attachments (crypto/cms.c):
 * signatures made with OpenSSL's CMS_sign() and, as an independent signer,
 * the `openssl cms -sign` command line; good ones, tampered data, a signer
 * from another CA, SHA-1, two signers, the signing-time attribute missing,
 * in the future and outside the certificate's validity, RSA-PSS, a large
 * attachment streamed from a file, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/rsa.h>

#include "cms.h"
#include "err.h"
#include "pki.h"
#include "policy.h"
#include "util.h"

#define DAY	86400L
#define BIG	((size_t)8 << 20)

struct party {
	EVP_PKEY *key;
	X509 *cert;
};

static struct {
	struct party ca, other_ca, rsa, ec, foreign;
	X509_STORE *trust;
	unsigned char *data;
	size_t len;
	char dir[64];
	int have_cli;
} F;

/* How one signer signs. */
struct how {
	struct party *p;
	const EVP_MD *md;
	int pss;
	int no_time;		/* remove signing-time afterwards */
	long time_offset;	/* signing-time = now + offset (0: OpenSSL's) */
	int noattr;		/* no signed attributes at all */
};

/* ---- making signatures ---- */

static int
der_cmp(const void *a, const void *b)
{
	const ASN1_STRING *x = *(ASN1_STRING *const *)a;
	const ASN1_STRING *y = *(ASN1_STRING *const *)b;
	int n = x->length < y->length ? x->length : y->length;
	int c = memcmp(x->data, y->data, (size_t)n);

	return c != 0 ? c : x->length - y->length;
}

/*
 * Re-signs the signed attributes of si after one was removed: their DER as
 * a SET OF (sorted, X.690 11.6), signed with the signer's key.  (OpenSSL
 * adds signing-time whenever it signs, so this is the only way to a
 * CAdES signature without one.)
 */
static void
resign_attrs(CMS_SignerInfo *si, const struct how *h)
{
	ASN1_STRING *enc[16];
	unsigned char *buf, *p, *sig = NULL;
	size_t total = 0, siglen = 0, off;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int i, n = CMS_signed_get_attr_count(si);

	assert_true(n > 0 && n <= 16);
	for (i = 0; i < n; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &der);

		assert_true(len > 0);
		enc[i] = ASN1_STRING_new();
		ASN1_STRING_set(enc[i], der, len);
		OPENSSL_free(der);
		total += (size_t)len;
	}
	qsort(enc, (size_t)n, sizeof(enc[0]), der_cmp);
	assert_true(total < 65536);
	buf = p = malloc(total + 4);
	*p++ = 0x31;
	if (total < 128)
		*p++ = (unsigned char)total;
	else if (total < 256) {
		*p++ = 0x81;
		*p++ = (unsigned char)total;
	} else {
		*p++ = 0x82;
		*p++ = (unsigned char)(total >> 8);
		*p++ = (unsigned char)total;
	}
	for (i = 0, off = 0; i < n; i++) {
		memcpy(p + off, enc[i]->data, (size_t)enc[i]->length);
		off += (size_t)enc[i]->length;
		ASN1_STRING_free(enc[i]);
	}
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, h->md, NULL, h->p->key), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, &siglen, buf,
	    (size_t)(p - buf) + off), 1);
	sig = malloc(siglen);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, buf,
	    (size_t)(p - buf) + off), 1);
	assert_int_equal(ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig,
	    (int)siglen), 1);
	free(sig);
	free(buf);
	EVP_MD_CTX_free(ctx);
}

static void
add_signer(CMS_ContentInfo *cms, const struct how *h)
{
	CMS_SignerInfo *si;
	ASN1_TIME *t;
	int flags = CMS_BINARY | (h->pss ? CMS_KEY_PARAM : 0) |
	    (h->noattr ? CMS_NOATTR : 0);

	si = CMS_add1_signer(cms, h->p->cert, h->p->key, h->md, flags);
	assert_non_null(si);
	if (h->pss)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(
		    CMS_SignerInfo_get0_pkey_ctx(si), RSA_PKCS1_PSS_PADDING), 1);
	if (h->time_offset != 0) {
		t = ASN1_TIME_adj(NULL, time(NULL), 0, h->time_offset);
		assert_int_equal(CMS_signed_add1_attr_by_NID(si,
		    NID_pkcs9_signingTime, t->type, t, -1), 1);
		ASN1_TIME_free(t);
	}
}

/* A detached CMS signature over data by the signers in h (DER). */
static unsigned char *
make_p7s(const unsigned char *data, size_t len, const struct how *h, int n,
    int detached, size_t *outlen)
{
	int flags = CMS_PARTIAL | CMS_BINARY | (detached ? CMS_DETACHED : 0);
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
	    (unsigned int)flags);
	BIO *in, *out;
	unsigned char *p7s;
	char *mem;
	long ml;
	int i, idx;

	assert_non_null(cms);
	for (i = 0; i < n; i++)
		add_signer(cms, &h[i]);
	in = BIO_new_mem_buf(data, (int)len);
	assert_int_equal(CMS_final(cms, in, NULL, (unsigned int)flags), 1);
	BIO_free(in);
	for (i = 0; i < n; i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(
		    CMS_get0_SignerInfos(cms), i);

		if (!h[i].no_time)
			continue;
		idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
		assert_true(idx >= 0);
		X509_ATTRIBUTE_free(CMS_signed_delete_attr(si, idx));
		resign_attrs(si, &h[i]);
	}
	out = BIO_new(BIO_s_mem());
	assert_int_equal(i2d_CMS_bio(out, cms), 1);
	ml = BIO_get_mem_data(out, &mem);
	p7s = malloc((size_t)ml);
	memcpy(p7s, mem, (size_t)ml);
	*outlen = (size_t)ml;
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return p7s;
}

static int
verify_mem(const unsigned char *data, size_t len, const unsigned char *p7s,
    size_t p7slen, const struct crypto_policy *pol, struct cms_result *res)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	int r;

	assert_non_null(bio);
	r = cms_verify_detached(bio, p7s, p7slen, F.trust, 0, pol, res);
	BIO_free(bio);
	return r;
}

/* Signs F.data as h says and verifies it unchanged. */
static int
sign_verify(const struct how *h, int n, const struct crypto_policy *pol,
    struct cms_result *res)
{
	size_t p7slen;
	unsigned char *p7s = make_p7s(F.data, F.len, h, n, 1, &p7slen);
	int r = verify_mem(F.data, F.len, p7s, p7slen, pol, res);

	free(p7s);
	return r;
}

static int
run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the tests ---- */

static void
test_good_rsa(void **state)
{
	struct how h = { &F.rsa, EVP_sha256(), 0, 0, 0, 0 };
	struct cms_result res;
	struct cms_signer_info *s = &res.signers[0];
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(sign_verify(&h, 1, NULL, &res), 0);
	assert_int_equal(res.nsigners, 1);
	assert_non_null(strstr(s->subject, "CN=signer-rsa"));
	assert_non_null(strstr(s->issuer, "CN=cms CA"));
	assert_true(strlen(s->serial) > 0);
	assert_string_equal(s->digest_alg, "sha256");
	assert_string_equal(s->sig_alg, "rsaEncryption");
	assert_string_equal(s->key_desc, "RSA 3072");
	assert_true(s->signing_time > now - 60 && s->signing_time <= now + 1);
	assert_int_equal(s->signature_ok, 1);
	assert_int_equal(s->chain_ok, 1);
	assert_int_equal(s->rc, 0);
	assert_int_equal(s->result.nreasons, 0);
}

static void
test_good_pss_and_ec(void **state)
{
	struct how pss = { &F.rsa, EVP_sha512(), 1, 0, 0, 0 };
	struct how sha3 = { &F.rsa, EVP_sha3_256(), 0, 0, 0, 0 };
	struct how ec = { &F.ec, EVP_sha512(), 0, 0, 0, 0 };
	struct cms_result res;

	(void)state;
	assert_int_equal(sign_verify(&pss, 1, NULL, &res), 0);
	assert_string_equal(res.signers[0].sig_alg, "rsassaPss");
	/* (OpenSSL 3.0's CMS has no ECDSA with SHA-3; RSA has.) */
	assert_int_equal(sign_verify(&sha3, 1, NULL, &res), 0);
	assert_string_equal(res.signers[0].digest_alg, "sha3-256");
	assert_int_equal(sign_verify(&ec, 1, NULL, &res), 0);
	assert_string_equal(res.signers[0].key_desc, "EC P-256");
}

/* The openssl command line as an independent signer; streamed from a file. */
static void
test_cli_signer_large_file(void **state)
{
	char cmd[1024], data[128], sig[128];
	unsigned char *p7s = NULL;
	size_t p7slen = 0;
	struct cms_result res;
	BIO *bio;

	(void)state;
	if (!F.have_cli) {
		print_message("openssl CLI not installed: skipped\n");
		skip();
	}
	snprintf(data, sizeof(data), "%s/attachment.bin", F.dir);
	snprintf(sig, sizeof(sig), "%s/attachment.p7s", F.dir);
	snprintf(cmd, sizeof(cmd), "openssl cms -sign -binary -md sha384 -in %s "
	    "-signer %s/ec.pem -inkey %s/ec.key -outform DER -out %s",
	    data, F.dir, F.dir, sig);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(util_read_file(sig, 1 << 20, &p7s, &p7slen), 0);
	bio = BIO_new_file(data, "rb");
	assert_non_null(bio);
	assert_int_equal(cms_verify_detached(bio, p7s, p7slen, F.trust, 0, NULL,
	    &res), 0);
	BIO_free(bio);
	assert_int_equal(res.nsigners, 1);
	assert_string_equal(res.signers[0].digest_alg, "sha384");
	assert_non_null(strstr(res.signers[0].subject, "CN=signer-ec"));
	/* PEM is accepted as well. */
	snprintf(cmd, sizeof(cmd), "openssl cms -sign -binary -in %s -signer "
	    "%s/ec.pem -inkey %s/ec.key -outform PEM -out %s", data, F.dir,
	    F.dir, sig);
	assert_int_equal(run(cmd), 0);
	free(p7s);
	assert_int_equal(util_read_file(sig, 1 << 20, &p7s, &p7slen), 0);
	assert_int_equal(verify_mem(F.data, F.len, p7s, p7slen, NULL, &res), 0);
	free(p7s);
}

static void
test_tampered_data(void **state)
{
	struct how h = { &F.rsa, EVP_sha256(), 0, 0, 0, 0 };
	struct cms_result res;
	unsigned char *p7s, *copy;
	size_t p7slen;

	(void)state;
	p7s = make_p7s(F.data, F.len, &h, 1, 1, &p7slen);
	copy = malloc(F.len);
	memcpy(copy, F.data, F.len);
	copy[F.len / 2] ^= 1;
	assert_int_equal(verify_mem(copy, F.len, p7s, p7slen, NULL, &res),
	    GW_ERR_SIG_INVALID);
	assert_int_equal(res.signers[0].signature_ok, 0);
	assert_int_equal(res.signers[0].chain_ok, 1);
	assert_int_equal(res.signers[0].result.reasons[0], PR_DIGEST_MISMATCH);
	/* One byte more or less is a change too. */
	assert_int_equal(verify_mem(F.data, F.len - 1, p7s, p7slen, NULL, &res),
	    GW_ERR_SIG_INVALID);
	/* The signature value itself. */
	p7s[p7slen - 5] ^= 0x40;
	assert_int_equal(verify_mem(F.data, F.len, p7s, p7slen, NULL, &res),
	    GW_ERR_SIG_INVALID);
	assert_int_equal(res.signers[0].signature_ok, 0);
	assert_int_equal(res.signers[0].result.reasons[0],
	    PR_SIGNATURE_VALUE_INVALID);
	free(copy);
	free(p7s);
}

static void
test_wrong_ca(void **state)
{
	struct how h = { &F.foreign, EVP_sha256(), 0, 0, 0, 0 };
	struct cms_result res;

	(void)state;
	assert_int_equal(sign_verify(&h, 1, NULL, &res), GW_ERR_CERT_UNTRUSTED);
	assert_int_equal(res.signers[0].signature_ok, 1);
	assert_int_equal(res.signers[0].chain_ok, 0);
	assert_true(strlen(res.signers[0].chain_error) > 0);
	assert_int_equal(res.signers[0].result.reasons[0], PR_CERT_UNTRUSTED);
}

static void
test_sha1_refused(void **state)
{
	struct how h = { &F.rsa, EVP_sha1(), 0, 0, 0, 0 };
	struct cms_result res;

	(void)state;
	assert_int_equal(sign_verify(&h, 1, NULL, &res), GW_ERR_SIG_ALGORITHM);
	assert_string_equal(res.signers[0].digest_alg, "sha1");
	assert_int_equal(res.signers[0].result.reasons[0], PR_DIGEST_SHA1);
	/* The math is still reported: the refusal is the policy's. */
	assert_int_equal(res.signers[0].signature_ok, 1);
}

/* SignerInfos are a SET: their order in the signature is DER order. */
static const struct cms_signer_info *
by_subject(const struct cms_result *res, const char *cn)
{
	size_t i;

	for (i = 0; i < res->nsigners; i++)
		if (strstr(res->signers[i].subject, cn) != NULL)
			return &res->signers[i];
	return NULL;
}

static void
test_two_signers(void **state)
{
	struct how good[2] = {
		{ &F.rsa, EVP_sha256(), 0, 0, 0, 0 },
		{ &F.ec, EVP_sha384(), 0, 0, 0, 0 },
	};
	struct how mixed[2] = {
		{ &F.ec, EVP_sha256(), 0, 0, 0, 0 },
		{ &F.foreign, EVP_sha512(), 0, 0, 0, 0 },
	};
	struct cms_result res;

	const struct cms_signer_info *a, *b;

	(void)state;
	assert_int_equal(sign_verify(good, 2, NULL, &res), 0);
	assert_int_equal(res.nsigners, 2);
	assert_non_null(a = by_subject(&res, "CN=signer-rsa"));
	assert_non_null(b = by_subject(&res, "CN=signer-ec"));
	assert_string_equal(b->digest_alg, "sha384");
	assert_int_equal(a->signature_ok, 1);
	assert_int_equal(b->signature_ok, 1);
	/* Each signer on its own: one valid, one from another CA. */
	assert_int_equal(sign_verify(mixed, 2, NULL, &res), GW_ERR_CERT_UNTRUSTED);
	assert_non_null(a = by_subject(&res, "CN=signer-ec"));
	assert_non_null(b = by_subject(&res, "CN=signer-foreign"));
	assert_int_equal(a->rc, 0);
	assert_int_equal(a->chain_ok, 1);
	assert_int_equal(b->rc, GW_ERR_CERT_UNTRUSTED);
	assert_int_equal(b->signature_ok, 1);
	assert_int_equal(b->chain_ok, 0);
}

static void
test_signing_time(void **state)
{
	struct how none = { &F.rsa, EVP_sha256(), 0, 1, 0, 0 };
	struct how future = { &F.ec, EVP_sha256(), 0, 0, DAY, 0 };
	struct how skew = { &F.ec, EVP_sha256(), 0, 0, 60, 0 };
	struct how before = { &F.ec, EVP_sha256(), 0, 0, -10 * DAY, 0 };
	struct how noattr = { &F.ec, EVP_sha256(), 0, 0, 0, 1 };
	struct crypto_policy pol;
	struct cms_result res;
	char why[100];

	(void)state;
	/* Missing: refused, while the math is fine. */
	assert_int_equal(sign_verify(&none, 1, NULL, &res), GW_ERR_SIG_INVALID);
	assert_int_equal(res.signers[0].result.reasons[0],
	    PR_SIGNING_TIME_MISSING);
	assert_int_equal(res.signers[0].signing_time, 0);
	assert_int_equal(res.signers[0].signature_ok, 1);
	policy_default(&pol);
	assert_int_equal(policy_set(&pol, "require_signing_time", "no", why,
	    sizeof(why)), 0);
	assert_int_equal(sign_verify(&none, 1, &pol, &res), 0);
	/* A day ahead: refused; a minute ahead: within the skew. */
	assert_int_equal(sign_verify(&future, 1, NULL, &res), GW_ERR_SIG_INVALID);
	assert_int_equal(res.signers[0].result.reasons[0], PR_SIGNING_TIME_FUTURE);
	assert_int_equal(sign_verify(&skew, 1, NULL, &res), 0);
	/* Before the certificate existed. */
	assert_int_equal(sign_verify(&before, 1, NULL, &res), GW_ERR_CERT_EXPIRED);
	assert_int_equal(res.signers[0].result.reasons[0],
	    PR_SIGNING_TIME_OUTSIDE_CERT);
	/* No signed attributes at all (not CAdES). */
	assert_int_equal(sign_verify(&noattr, 1, NULL, &res), GW_ERR_SIG_INVALID);
	assert_true(policy_result_has(&res.signers[0].result,
	    PR_CMS_NO_SIGNED_ATTRS));
	assert_true(policy_result_has(&res.signers[0].result,
	    PR_SIGNING_TIME_MISSING));
	assert_int_equal(res.signers[0].signature_ok, 1);
}

static void
test_malformed(void **state)
{
	struct how h = { &F.ec, EVP_sha256(), 0, 0, 0, 0 };
	static const unsigned char junk[] = "this is not CMS";
	struct cms_result res;
	unsigned char *p7s;
	size_t p7slen;

	(void)state;
	assert_int_equal(verify_mem(F.data, F.len, junk, sizeof(junk), NULL,
	    &res), GW_ERR_SIG_INVALID);
	assert_int_equal(res.result.reasons[0], PR_CMS_MALFORMED);
	assert_int_equal(res.nsigners, 0);
	/* The content inside the signature: not what an attachment has. */
	p7s = make_p7s(F.data, 1000, &h, 1, 0, &p7slen);
	assert_int_equal(verify_mem(F.data, 1000, p7s, p7slen, NULL, &res),
	    GW_ERR_SIG_INVALID);
	assert_int_equal(res.result.reasons[0], PR_CMS_NOT_DETACHED);
	free(p7s);
	/* Truncated. */
	p7s = make_p7s(F.data, F.len, &h, 1, 1, &p7slen);
	assert_int_equal(verify_mem(F.data, F.len, p7s, p7slen / 2, NULL, &res),
	    GW_ERR_SIG_INVALID);
	assert_int_equal(res.result.reasons[0], PR_CMS_MALFORMED);
	/* Too large to be a signature. */
	assert_int_equal(verify_mem(F.data, F.len, F.data, CMS_MAX_P7S + 1, NULL,
	    &res), GW_ERR_TOO_LARGE);
	free(p7s);
}

/* ---- fixture ---- */

static void
make_party(struct party *p, enum pki_keytype t, const char *cn, int is_ca,
    struct party *issuer)
{
	struct pki_cert_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.cn = cn;
	spec.is_ca = is_ca;
	spec.not_before_offset = -DAY;
	spec.days = 365;
	assert_int_equal(pki_make_key(t, &p->key), 0);
	assert_int_equal(pki_make_cert(&spec, p->key, issuer ? issuer->cert :
	    NULL, issuer ? issuer->key : NULL, &p->cert), 0);
}

static int
setup(void **state)
{
	char path[128];
	size_t i;

	(void)state;
	memset(&F, 0, sizeof(F));
	make_party(&F.ca, PKI_KEY_EC_P256, "cms CA", 1, NULL);
	make_party(&F.other_ca, PKI_KEY_EC_P256, "other CA", 1, NULL);
	make_party(&F.rsa, PKI_KEY_RSA3072, "signer-rsa", 0, &F.ca);
	make_party(&F.ec, PKI_KEY_EC_P256, "signer-ec", 0, &F.ca);
	make_party(&F.foreign, PKI_KEY_EC_P256, "signer-foreign", 0, &F.other_ca);
	if ((F.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(F.trust, F.ca.cert) != 1)
		return -1;
	/* An attachment larger than any buffer the verifier has. */
	F.len = BIG;
	if ((F.data = malloc(F.len)) == NULL)
		return -1;
	for (i = 0; i < F.len; i++)
		F.data[i] = (unsigned char)(i * 2654435761u >> 24);
	snprintf(F.dir, sizeof(F.dir), "/tmp/test_cms.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/attachment.bin", F.dir);
	if (util_write_file(path, F.data, F.len, 0600) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/ec.pem", F.dir);
	if (pki_write_cert(path, F.ec.cert) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/ec.key", F.dir);
	if (pki_write_key(path, F.ec.key) != 0)
		return -1;
	F.have_cli = run("command -v openssl >/dev/null 2>&1") == 0;
	return 0;
}

static void
party_free(struct party *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
}

static int
teardown(void **state)
{
	static const char *files[] = { "attachment.bin", "attachment.p7s",
	    "ec.pem", "ec.key" };
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", F.dir, files[i]);
		unlink(path);
	}
	rmdir(F.dir);
	free(F.data);
	X509_STORE_free(F.trust);
	party_free(&F.ca);
	party_free(&F.other_ca);
	party_free(&F.rsa);
	party_free(&F.ec);
	party_free(&F.foreign);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_rsa),
		cmocka_unit_test(test_good_pss_and_ec),
		cmocka_unit_test(test_cli_signer_large_file),
		cmocka_unit_test(test_tampered_data),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_sha1_refused),
		cmocka_unit_test(test_two_signers),
		cmocka_unit_test(test_signing_time),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
