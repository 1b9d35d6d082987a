/*
 * test_policy.c - the algorithm policy: defaults, the override keys and
 * their parser, the classification of every algorithm family the issue
 * names, key sizes and curves, the reason codes, and the policy at work in
 * xmldsig_verify_ex() (2048-bit RSA with and without the profile's
 * permission, SHA-3 and the curves through our own verification path,
 * restricted digests and canonicalisations).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/openssl/evp.h>

#include "err.h"
#include "keys.h"
#include "pki.h"
#include "policy.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define DSIG	"http://www.w3.org/2000/09/xmldsig#"
#define MORE01	"http://www.w3.org/2001/04/xmldsig-more#"
#define MORE07	"http://www.w3.org/2007/05/xmldsig-more#"
#define MORE21	"http://www.w3.org/2021/04/xmldsig-more#"
#define XMLENC	"http://www.w3.org/2001/04/xmlenc#"
#define DAY	86400L

struct party {
	EVP_PKEY *key;
	X509 *cert;
};

static struct {
	struct party ca, rsa2048, rsa3072, p256, p384, p521, bp256, k256;
	X509_STORE *trust;
} F;

static const char sample[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<sub:Submission xmlns:sub=\"urn:gatewayd:submission:1\">\n"
    "  <sub:Content>Antrag</sub:Content>\n"
    "</sub:Submission>\n";

/* ---- helpers ---- */

static void
make_party(struct party *p, EVP_PKEY *key, const char *cn, int is_ca,
    struct party *issuer)
{
	struct pki_cert_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.cn = cn;
	spec.is_ca = is_ca;
	spec.not_before_offset = -DAY;
	spec.days = 365;
	p->key = key;
	assert_non_null(p->key);
	assert_int_equal(pki_make_cert(&spec, p->key, issuer ? issuer->cert : NULL,
	    issuer ? issuer->key : NULL, &p->cert), 0);
}

static EVP_PKEY *
pki_key(enum pki_keytype t)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(pki_make_key(t, &k), 0);
	return k;
}

static char *
sign_opts(struct party *p, const struct dsig_sign_opts *o)
{
	xmlDocPtr doc = NULL;
	struct keys *k = NULL;
	xmlChar *buf = NULL;
	char *s;
	int len = 0;

	assert_int_equal(xmlparse_safe(sample, strlen(sample), NULL, &doc), 0);
	assert_int_equal(EVP_PKEY_up_ref(p->key), 1);
	assert_int_equal(keys_from_pkey(p->key, &k), 0);
	assert_int_equal(xmldsig_sign_ex(doc, k, p->cert, NULL, o), 0);
	keys_free(k);
	xmlDocDumpMemory(doc, &buf, &len);
	s = strndup((const char *)buf, (size_t)len);
	xmlFree(buf);
	xmlFreeDoc(doc);
	return s;
}

static char *
sign_with(struct party *p, const char *sig_alg, const char *digest_alg)
{
	struct dsig_sign_opts o = { sig_alg, digest_alg, NULL, 0 };

	return sign_opts(p, &o);
}

static int
verify_pol(const char *s, const struct crypto_policy *pol,
    struct dsig_info *info)
{
	xmlDocPtr doc = NULL;
	int r;

	assert_int_equal(xmlparse_safe(s, strlen(s), NULL, &doc), 0);
	r = xmldsig_verify_ex(doc, F.trust, 0, pol, info);
	X509_free(info->signer);
	info->signer = NULL;
	xmlFreeDoc(doc);
	return r;
}

static char *
replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t a, fl = strlen(from), tl = strlen(to);
	char *out;

	assert_non_null(p);
	a = (size_t)(p - s);
	out = malloc(strlen(s) - fl + tl + 1);
	assert_non_null(out);
	memcpy(out, s, a);
	memcpy(out + a, to, tl);
	memcpy(out + a + tl, p + fl, strlen(p + fl) + 1);
	return out;
}

/* ---- defaults, keys, parser ---- */

static void
test_defaults(void **state)
{
	struct crypto_policy p;
	char d[512];

	(void)state;
	policy_default(&p);
	assert_int_equal(p.min_rsa_bits, 3000);
	assert_int_equal(p.allow_rsa2048, 0);
	assert_int_equal(p.max_references, 1);
	assert_int_equal(p.nref_ids, 0);
	assert_int_equal(p.digests, PMD_ALL);
	assert_int_equal(p.curves, PCV_ALL);
	assert_int_equal(p.require_signing_time, 1);
	policy_describe(&p, d, sizeof(d));
	assert_non_null(strstr(d, "min_rsa_bits=3000 allow_rsa2048=no"));
	assert_non_null(strstr(d, "digests=sha256,sha384,sha512,sha3-256,"
	    "sha3-384,sha3-512"));
	assert_non_null(strstr(d, "curves=P-256,P-384,P-521,brainpoolP256r1,"
	    "brainpoolP384r1,brainpoolP512r1"));
}

static void
test_set_keys(void **state)
{
	struct crypto_policy p, before;
	char why[200];

	(void)state;
	policy_default(&p);
	assert_int_equal(policy_set(&p, "allow_rsa2048", "yes", why,
	    sizeof(why)), 0);
	assert_int_equal(p.allow_rsa2048, 1);
	assert_int_equal(policy_set(&p, "min_rsa_bits", "3072", why,
	    sizeof(why)), 0);
	assert_int_equal(p.min_rsa_bits, 3072);
	assert_int_equal(policy_set(&p, "rsa_pkcs1", "off", why, sizeof(why)), 0);
	assert_int_equal(p.allow_rsa_pkcs1, 0);
	assert_int_equal(policy_set(&p, "digests", "sha512, sha3-512", why,
	    sizeof(why)), 0);
	assert_int_equal(p.digests, PMD_SHA512 | PMD_SHA3_512);
	assert_int_equal(policy_set(&p, "curves", "P-384 brainpoolP384r1", why,
	    sizeof(why)), 0);
	assert_int_equal(p.curves, PCV_P384 | PCV_BP384);
	assert_int_equal(policy_set(&p, "signedinfo_c14n", "exclusive", why,
	    sizeof(why)), 0);
	assert_int_equal(p.signedinfo_any_c14n, 0);
	assert_int_equal(policy_set(&p, "max_references", "2", why,
	    sizeof(why)), 0);
	assert_int_equal(policy_set(&p, "reference_ids", "sub content", why,
	    sizeof(why)), 0);
	assert_int_equal(p.nref_ids, 2);
	assert_string_equal(p.ref_ids[1], "content");
	assert_int_equal(policy_set(&p, "signing_time_skew", "60", why,
	    sizeof(why)), 0);
	assert_int_equal(p.signing_time_skew, 60);
	assert_int_equal(policy_set(&p, "require_signing_time", "no", why,
	    sizeof(why)), 0);

	/* Refusals leave the policy as it was and say why. */
	before = p;
	assert_int_equal(policy_set(&p, "min_rsa_bits", "2048", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_non_null(strstr(why, "allow_rsa2048"));
	assert_int_equal(policy_set(&p, "min_rsa_bits", "3072x", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_int_equal(policy_set(&p, "digests", "sha256 sha1", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_non_null(strstr(why, "sha1"));
	assert_int_equal(policy_set(&p, "digests", "md5", why, sizeof(why)),
	    GW_ERR_CONFIG);
	assert_int_equal(policy_set(&p, "curves", "secp256k1", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_int_equal(policy_set(&p, "allow_rsa2048", "maybe", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_int_equal(policy_set(&p, "max_references", "9", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_int_equal(policy_set(&p, "reference_ids", "a'b", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_int_equal(policy_set(&p, "reference_ids",
	    "a b c d e f g h i", why, sizeof(why)), GW_ERR_CONFIG);
	assert_int_equal(policy_set(&p, "allow_sha1", "yes", why, sizeof(why)),
	    GW_ERR_CONFIG);
	assert_non_null(strstr(why, "unknown policy key"));
	assert_int_equal(policy_set(&p, "signedinfo_c14n", "with-comments", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void
test_parse(void **state)
{
	struct crypto_policy p;
	char why[200], big[5000];

	(void)state;
	policy_default(&p);
	assert_int_equal(policy_parse(&p, "# trust profile portal-1\n"
	    "allow_rsa2048 = yes\n\n  min_rsa_bits=3072 ; max_references = 1\n"
	    "digests = sha256 sha512   # no SHA-384\n", why, sizeof(why)), 0);
	assert_int_equal(p.allow_rsa2048, 1);
	assert_int_equal(p.min_rsa_bits, 3072);
	assert_int_equal(p.digests, PMD_SHA256 | PMD_SHA512);
	assert_int_equal(policy_parse(&p, "allow_rsa2048 = yes\nmin_rsa_bits\n",
	    why, sizeof(why)), GW_ERR_CONFIG);
	assert_non_null(strstr(why, "entry 2"));
	assert_int_equal(policy_parse(&p, "curves = P-521; bogus = 1", why,
	    sizeof(why)), GW_ERR_CONFIG);
	assert_non_null(strstr(why, "bogus"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(policy_parse(&p, big, why, sizeof(why)), GW_ERR_CONFIG);
	assert_int_equal(policy_parse(&p, "", why, sizeof(why)), 0);
}

/* ---- classification ---- */

static void
expect_sig(const struct crypto_policy *p, const char *uri,
    enum policy_reason want)
{
	const struct policy_alg *a = NULL;

	assert_int_equal(policy_xml_sigalg(p, uri, &a), want);
	if (want == POLICY_OK)
		assert_string_equal(a->uri, uri);
}

static void
test_signature_algorithms(void **state)
{
	struct crypto_policy p;
	char why[100];

	(void)state;
	policy_default(&p);
	expect_sig(&p, MORE01 "rsa-sha256", POLICY_OK);
	expect_sig(&p, MORE01 "rsa-sha512", POLICY_OK);
	expect_sig(&p, MORE07 "sha256-rsa-MGF1", POLICY_OK);
	expect_sig(&p, MORE07 "sha3-384-rsa-MGF1", POLICY_OK);
	expect_sig(&p, MORE01 "ecdsa-sha384", POLICY_OK);
	expect_sig(&p, MORE21 "ecdsa-sha3-512", POLICY_OK);
	expect_sig(&p, DSIG "rsa-sha1", PR_SIGALG_SHA1);
	expect_sig(&p, MORE01 "ecdsa-sha1", PR_SIGALG_SHA1);
	expect_sig(&p, MORE07 "sha1-rsa-MGF1", PR_SIGALG_SHA1);
	expect_sig(&p, MORE01 "rsa-md5", PR_SIGALG_MD5);
	expect_sig(&p, MORE01 "rsa-ripemd160", PR_SIGALG_RIPEMD160);
	expect_sig(&p, MORE07 "ecdsa-ripemd160", PR_SIGALG_RIPEMD160);
	expect_sig(&p, DSIG "dsa-sha1", PR_SIGALG_DSA);
	expect_sig(&p, "http://www.w3.org/2009/xmldsig11#dsa-sha256",
	    PR_SIGALG_DSA);
	expect_sig(&p, DSIG "hmac-sha1", PR_SIGALG_HMAC);
	expect_sig(&p, MORE01 "hmac-sha256", PR_SIGALG_HMAC);
	expect_sig(&p, MORE01 "hmac-md5", PR_SIGALG_HMAC);
	expect_sig(&p, MORE01 "rsa-sha224", PR_SIGALG_NOT_ALLOWED);
	expect_sig(&p, MORE21 "eddsa-ed25519", PR_SIGALG_NOT_ALLOWED);
	expect_sig(&p, "urn:ietf:params:xml:ns:cpxmlsec:algorithms:"
	    "gostr34102012-gostr34112012-256", PR_SIGALG_NOT_ALLOWED);
	expect_sig(&p, "", PR_SIGALG_NOT_ALLOWED);
	expect_sig(&p, NULL, PR_SIGALG_NOT_ALLOWED);
	/* A profile can switch off PKCS#1 v1.5 and digests, nothing more. */
	assert_int_equal(policy_set(&p, "rsa_pkcs1", "no", why, sizeof(why)), 0);
	expect_sig(&p, MORE01 "rsa-sha256", PR_SIGALG_NOT_ALLOWED);
	expect_sig(&p, MORE07 "sha256-rsa-MGF1", POLICY_OK);
	assert_int_equal(policy_set(&p, "digests", "sha384", why, sizeof(why)), 0);
	expect_sig(&p, MORE07 "sha256-rsa-MGF1", PR_SIGALG_NOT_ALLOWED);
	expect_sig(&p, MORE07 "sha384-rsa-MGF1", POLICY_OK);
}

static void
test_digests_c14n_transforms_uris(void **state)
{
	const struct policy_alg *a;
	struct crypto_policy p;
	char why[100];
	int mode = -1;

	(void)state;
	policy_default(&p);
	assert_int_equal(policy_xml_digest(&p, XMLENC "sha256", &a), POLICY_OK);
	assert_int_equal(a->md, PMD_SHA256);
	assert_int_equal(policy_xml_digest(&p, MORE01 "sha384", &a), POLICY_OK);
	assert_int_equal(policy_xml_digest(&p, MORE07 "sha3-256", &a), POLICY_OK);
	assert_int_equal(policy_xml_digest(&p, DSIG "sha1", &a), PR_DIGEST_SHA1);
	assert_int_equal(policy_xml_digest(&p, MORE01 "md5", &a), PR_DIGEST_MD5);
	assert_int_equal(policy_xml_digest(&p, XMLENC "ripemd160", &a),
	    PR_DIGEST_RIPEMD160);
	assert_int_equal(policy_xml_digest(&p, MORE01 "sha224", &a),
	    PR_DIGEST_NOT_ALLOWED);
	assert_int_equal(policy_xml_digest(&p, MORE07 "sha3-224", &a),
	    PR_DIGEST_NOT_ALLOWED);

	assert_int_equal(policy_xml_c14n(&p,
	    "http://www.w3.org/2001/10/xml-exc-c14n#", &mode), POLICY_OK);
	assert_int_equal(mode, XML_C14N_EXCLUSIVE_1_0);
	assert_int_equal(policy_xml_c14n(&p,
	    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315", &mode), POLICY_OK);
	assert_int_equal(mode, XML_C14N_1_0);
	assert_int_equal(policy_xml_c14n(&p,
	    "http://www.w3.org/2006/12/xml-c14n11", &mode), POLICY_OK);
	assert_int_equal(policy_xml_c14n(&p,
	    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments", &mode),
	    PR_C14N_NOT_ALLOWED);
	assert_int_equal(policy_xml_c14n(&p,
	    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
	    &mode), PR_C14N_NOT_ALLOWED);
	assert_int_equal(policy_set(&p, "signedinfo_c14n", "exclusive", why,
	    sizeof(why)), 0);
	assert_int_equal(policy_xml_c14n(&p,
	    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315", &mode),
	    PR_C14N_NOT_ALLOWED);

	assert_int_equal(policy_xml_transform(DSIG "enveloped-signature"),
	    POLICY_OK);
	assert_int_equal(policy_xml_transform(
	    "http://www.w3.org/2001/10/xml-exc-c14n#"), POLICY_OK);
	assert_int_equal(policy_xml_transform(
	    "http://www.w3.org/TR/1999/REC-xslt-19991116"), PR_TRANSFORM_XSLT);
	assert_int_equal(policy_xml_transform(
	    "http://www.w3.org/TR/1999/REC-xpath-19991116"), PR_TRANSFORM_XPATH);
	assert_int_equal(policy_xml_transform(
	    "http://www.w3.org/2002/06/xmldsig-filter2"),
	    PR_TRANSFORM_XPATH_FILTER2);
	assert_int_equal(policy_xml_transform(
	    "http://www.w3.org/2001/04/xmldsig-more/xptr"), PR_TRANSFORM_XPOINTER);
	assert_int_equal(policy_xml_transform(DSIG "base64"), PR_TRANSFORM_BASE64);
	assert_int_equal(policy_xml_transform(
	    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"),
	    PR_TRANSFORM_WITH_COMMENTS);
	assert_int_equal(policy_xml_transform(
	    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"),
	    PR_TRANSFORM_CHAIN);
	assert_int_equal(policy_xml_transform("http://schemas.openxmlformats.org/"
	    "package/2006/RelationshipTransform"), PR_TRANSFORM_UNKNOWN);
	assert_int_equal(policy_xml_transform(NULL), PR_TRANSFORM_UNKNOWN);

	policy_default(&p);
	assert_int_equal(policy_xml_ref_uri(&p, ""), POLICY_OK);
	assert_int_equal(policy_xml_ref_uri(&p, NULL), PR_REF_NO_URI);
	assert_int_equal(policy_xml_ref_uri(&p, "#sub"), PR_REF_URI_ID);
	assert_int_equal(policy_xml_ref_uri(&p, "#xpointer(/)"),
	    PR_REF_URI_XPOINTER);
	assert_int_equal(policy_xml_ref_uri(&p, "#xpointer(id('sub'))"),
	    PR_REF_URI_XPOINTER);
	assert_int_equal(policy_xml_ref_uri(&p, "file:///etc/passwd"),
	    PR_REF_URI_FILE);
	assert_int_equal(policy_xml_ref_uri(&p, "FILE:/etc/passwd"),
	    PR_REF_URI_FILE);
	assert_int_equal(policy_xml_ref_uri(&p, "http://example.org/x"),
	    PR_REF_URI_EXTERNAL);
	assert_int_equal(policy_xml_ref_uri(&p, "document.xml"),
	    PR_REF_URI_EXTERNAL);
	assert_int_equal(policy_set(&p, "reference_ids", "sub", why,
	    sizeof(why)), 0);
	assert_int_equal(policy_xml_ref_uri(&p, "#sub"), POLICY_OK);
	assert_int_equal(policy_xml_ref_uri(&p, "#sub2"), PR_REF_URI_ID);
}

static void
test_nids(void **state)
{
	struct crypto_policy p;
	enum policy_sigkind k = 0;

	(void)state;
	policy_default(&p);
	assert_int_equal(policy_md_nid(&p, NID_sha256), POLICY_OK);
	assert_int_equal(policy_md_nid(&p, NID_sha3_512), POLICY_OK);
	assert_int_equal(policy_md_nid(&p, NID_sha1), PR_DIGEST_SHA1);
	assert_int_equal(policy_md_nid(&p, NID_md5), PR_DIGEST_MD5);
	assert_int_equal(policy_md_nid(&p, NID_ripemd160), PR_DIGEST_RIPEMD160);
	assert_int_equal(policy_md_nid(&p, NID_sha224), PR_DIGEST_NOT_ALLOWED);
	assert_int_equal(policy_sig_nid(&p, NID_rsaEncryption, &k), POLICY_OK);
	assert_int_equal(k, PSK_RSA);
	assert_int_equal(policy_sig_nid(&p, NID_rsassaPss, &k), POLICY_OK);
	assert_int_equal(k, PSK_PSS);
	assert_int_equal(policy_sig_nid(&p, NID_ecdsa_with_SHA384, &k), POLICY_OK);
	assert_int_equal(k, PSK_ECDSA);
	assert_int_equal(policy_sig_nid(&p, NID_sha1WithRSAEncryption, &k),
	    PR_SIGALG_SHA1);
	assert_int_equal(policy_sig_nid(&p, NID_md5WithRSAEncryption, &k),
	    PR_SIGALG_MD5);
	assert_int_equal(policy_sig_nid(&p, NID_dsa_with_SHA256, &k),
	    PR_SIGALG_DSA);
	assert_int_equal(policy_sig_nid(&p, NID_ED25519, &k),
	    PR_SIGALG_NOT_ALLOWED);
	assert_ptr_equal(policy_md_evp(PMD_SHA3_256), EVP_sha3_256());
	assert_null(policy_md_evp(0));
}

static void
test_keys(void **state)
{
	struct crypto_policy p;
	enum policy_reason w;
	char desc[48], why[100];

	(void)state;
	policy_default(&p);
	assert_int_equal(policy_key(&p, F.rsa3072.key, PSK_RSA, &w, desc,
	    sizeof(desc)), POLICY_OK);
	assert_int_equal(w, POLICY_OK);
	assert_string_equal(desc, "RSA 3072");
	assert_int_equal(policy_key(&p, F.rsa2048.key, PSK_PSS, &w, NULL, 0),
	    PR_KEY_RSA_TOO_SHORT);
	assert_int_equal(policy_key(&p, F.p256.key, PSK_ECDSA, &w, desc,
	    sizeof(desc)), POLICY_OK);
	assert_string_equal(desc, "EC P-256");
	assert_int_equal(policy_key(&p, F.p521.key, PSK_ECDSA, &w, desc,
	    sizeof(desc)), POLICY_OK);
	assert_string_equal(desc, "EC P-521");
	assert_int_equal(policy_key(&p, F.bp256.key, PSK_ECDSA, &w, desc,
	    sizeof(desc)), POLICY_OK);
	assert_string_equal(desc, "EC brainpoolP256r1");
	assert_int_equal(policy_key(&p, F.k256.key, PSK_ECDSA, &w, NULL, 0),
	    PR_KEY_EC_CURVE);
	assert_int_equal(policy_key(&p, F.p256.key, PSK_RSA, &w, NULL, 0),
	    PR_KEY_TYPE);
	assert_int_equal(policy_key(&p, F.rsa3072.key, PSK_ECDSA, &w, NULL, 0),
	    PR_KEY_TYPE);
	/* 2048 where the profile allows it: accepted, with a warning. */
	assert_int_equal(policy_set(&p, "allow_rsa2048", "yes", why,
	    sizeof(why)), 0);
	assert_int_equal(policy_key(&p, F.rsa2048.key, PSK_RSA, &w, NULL, 0),
	    POLICY_OK);
	assert_int_equal(w, PR_KEY_RSA_2048);
	assert_int_equal(policy_key(&p, F.rsa3072.key, PSK_RSA, &w, NULL, 0),
	    POLICY_OK);
	assert_int_equal(w, POLICY_OK);
	/* A larger minimum makes 3072 a "2048-class" key too. */
	assert_int_equal(policy_set(&p, "min_rsa_bits", "4096", why,
	    sizeof(why)), 0);
	assert_int_equal(policy_key(&p, F.rsa3072.key, PSK_RSA, &w, NULL, 0),
	    POLICY_OK);
	assert_int_equal(w, PR_KEY_RSA_2048);
	assert_int_equal(policy_set(&p, "allow_rsa2048", "no", why,
	    sizeof(why)), 0);
	assert_int_equal(policy_key(&p, F.rsa3072.key, PSK_RSA, &w, NULL, 0),
	    PR_KEY_RSA_TOO_SHORT);
	assert_int_equal(policy_set(&p, "curves", "P-384", why, sizeof(why)), 0);
	assert_int_equal(policy_key(&p, F.p256.key, PSK_ECDSA, &w, NULL, 0),
	    PR_KEY_EC_CURVE);
	assert_int_equal(policy_key(&p, F.p384.key, PSK_ECDSA, &w, NULL, 0),
	    POLICY_OK);
}

static void
test_reason_codes(void **state)
{
	const char *codes[PR__LAST];
	int i, j;

	(void)state;
	for (i = 1; i < PR__LAST; i++) {
		codes[i] = policy_reason_code((enum policy_reason)i);
		assert_string_not_equal(codes[i], "UNKNOWN");
		assert_string_not_equal(policy_reason_text((enum policy_reason)i),
		    "unknown reason");
		for (j = 1; j < i; j++)
			assert_string_not_equal(codes[i], codes[j]);
		/* Every rejection maps to an error; the warning to none. */
		if (i == PR_KEY_RSA_2048)
			assert_int_equal(policy_reason_err((enum policy_reason)i), 0);
		else
			assert_true(policy_reason_err((enum policy_reason)i) < 0);
	}
	assert_string_equal(policy_reason_code(PR__LAST), "UNKNOWN");
	assert_string_equal(policy_reason_code((enum policy_reason)-1), "UNKNOWN");
	/* The codes the conformance table and the reports rely on. */
	assert_string_equal(policy_reason_code(PR_SIGALG_SHA1), "SIGALG_SHA1");
	assert_string_equal(policy_reason_code(PR_TRANSFORM_XPATH),
	    "TRANSFORM_XPATH");
	assert_string_equal(policy_reason_code(PR_ID_DUPLICATE), "ID_DUPLICATE");
	assert_int_equal(policy_reason_err(PR_SIG_PLACEMENT), GW_ERR_SIG_PLACEMENT);
	assert_int_equal(policy_reason_err(PR_KEY_RSA_TOO_SHORT), GW_ERR_KEY_WEAK);
}

/* Every code is documented (docs/verification.md, run from the root). */
static void
test_reason_codes_documented(void **state)
{
	unsigned char *doc = NULL;
	size_t len = 0;
	char want[80];
	int i;

	(void)state;
	if (util_read_file("docs/verification.md", 1 << 20, &doc, &len) != 0) {
		print_message("docs/verification.md not found (run from the "
		    "repository root): skipped\n");
		skip();
	}
	for (i = 1; i < PR__LAST; i++) {
		snprintf(want, sizeof(want), "| `%s` |",
		    policy_reason_code((enum policy_reason)i));
		if (strstr((const char *)doc, want) == NULL)
			fail_msg("%s is not in docs/verification.md", want);
	}
	free(doc);
}

static void
test_result(void **state)
{
	struct policy_result r;
	int i;

	(void)state;
	memset(&r, 0, sizeof(r));
	policy_result_reject(&r, PR_SIGALG_SHA1);
	policy_result_reject(&r, PR_SIGALG_SHA1);
	policy_result_reject(&r, POLICY_OK);
	policy_result_warn(&r, PR_KEY_RSA_2048);
	assert_int_equal(r.nreasons, 1);
	assert_int_equal(r.nwarnings, 1);
	assert_true(policy_result_has(&r, PR_KEY_RSA_2048));
	assert_false(policy_result_has(&r, PR_DIGEST_SHA1));
	for (i = 1; i < PR__LAST; i++)
		policy_result_reject(&r, (enum policy_reason)i);
	assert_int_equal(r.nreasons, POLICY_MAX_REASONS);
	assert_int_equal(r.reasons[0], PR_SIGALG_SHA1);
}

/* ---- the policy at work ---- */

static void
test_rsa2048_profile(void **state)
{
	struct crypto_policy p;
	struct dsig_info info;
	char why[100], *s = sign_with(&F.rsa2048, NULL, NULL);

	(void)state;
	/* Strict by default: refused before any crypto runs. */
	assert_int_equal(verify_pol(s, NULL, &info), GW_ERR_KEY_WEAK);
	assert_int_equal(info.result.reasons[0], PR_KEY_RSA_TOO_SHORT);
	assert_int_equal(info.signature_ok, -1);
	assert_int_equal(info.chain_ok, -1);
	assert_non_null(strstr(info.subject, "CN=leaf-rsa2048"));
	/* xmldsig_verify() keeps the spine's 2048-bit floor, with the
	 * warning; below it nothing passes (test_xmldsig.c: 1024 bits). */
	{
		xmlDocPtr doc = NULL;

		assert_int_equal(xmlparse_safe(s, strlen(s), NULL, &doc), 0);
		assert_int_equal(xmldsig_verify(doc, F.trust, 0, &info), 0);
		assert_int_equal(info.result.warnings[0], PR_KEY_RSA_2048);
		X509_free(info.signer);
		xmlFreeDoc(doc);
	}
	/* Allowed by the profile: valid, with the warning in the result. */
	policy_default(&p);
	assert_int_equal(policy_parse(&p, "allow_rsa2048 = yes", why,
	    sizeof(why)), 0);
	assert_int_equal(verify_pol(s, &p, &info), 0);
	assert_int_equal(info.result.nreasons, 0);
	assert_int_equal(info.result.nwarnings, 1);
	assert_int_equal(info.result.warnings[0], PR_KEY_RSA_2048);
	assert_string_equal(info.key_desc, "RSA 2048");
	assert_int_equal(info.signature_ok, 1);
	free(s);
	/* 3072 under the default: no warning. */
	s = sign_with(&F.rsa3072, NULL, NULL);
	assert_int_equal(verify_pol(s, NULL, &info), 0);
	assert_int_equal(info.result.nwarnings, 0);
	free(s);
}

/* Each allowed family end to end: signed here, verified by the path the
 * policy chooses (xmlsec for SHA-2 PKCS#1/ECDSA, our own for PSS/SHA-3). */
static void
roundtrip(struct party *p, const char *sig_alg, const char *dig_alg)
{
	struct dsig_info info;
	char *s = sign_with(p, sig_alg, dig_alg), *t;

	assert_int_equal(verify_pol(s, NULL, &info), 0);
	assert_string_equal(info.sig_alg, sig_alg);
	assert_string_equal(info.digest_alg, dig_alg);
	assert_int_equal(info.signature_ok, 1);
	assert_int_equal(info.chain_ok, 1);
	/* Content changed: the digest, named as such. */
	t = replace(s, "Antrag", "Antwort");
	assert_int_equal(verify_pol(t, NULL, &info), GW_ERR_SIG_INVALID);
	assert_int_equal(info.result.reasons[0], PR_DIGEST_MISMATCH);
	assert_int_equal(info.signature_ok, 0);
	free(t);
	/* SignedInfo changed, digest intact: the signature value. */
	t = replace(s, "<ds:Reference URI=\"\">", "<ds:Reference Id=\"r1\" URI=\"\">");
	assert_int_equal(verify_pol(t, NULL, &info), GW_ERR_SIG_INVALID);
	assert_int_equal(info.result.reasons[0], PR_SIGNATURE_VALUE_INVALID);
	free(t);
	free(s);
}

static void
test_algorithm_families(void **state)
{
	(void)state;
	roundtrip(&F.rsa3072, MORE01 "rsa-sha256", XMLENC "sha256");
	roundtrip(&F.rsa3072, MORE01 "rsa-sha512", MORE01 "sha384");
	roundtrip(&F.rsa3072, MORE01 "rsa-sha256", MORE07 "sha3-256");
	roundtrip(&F.rsa3072, MORE07 "sha384-rsa-MGF1", XMLENC "sha512");
	roundtrip(&F.rsa3072, MORE07 "sha3-256-rsa-MGF1", MORE07 "sha3-256");
	roundtrip(&F.p256, MORE01 "ecdsa-sha256", XMLENC "sha256");
	roundtrip(&F.p384, MORE01 "ecdsa-sha384", MORE01 "sha384");
	roundtrip(&F.p521, MORE01 "ecdsa-sha512", XMLENC "sha512");
	roundtrip(&F.p384, MORE21 "ecdsa-sha3-384", MORE07 "sha3-384");
	roundtrip(&F.bp256, MORE01 "ecdsa-sha256", MORE07 "sha3-512");
}

static void
test_curve_and_digest_restrictions(void **state)
{
	struct crypto_policy p;
	struct dsig_info info;
	char why[100], *s;

	(void)state;
	/* A profile with fewer curves. */
	policy_default(&p);
	assert_int_equal(policy_parse(&p, "curves = P-384 P-521", why,
	    sizeof(why)), 0);
	s = sign_with(&F.p256, NULL, NULL);
	assert_int_equal(verify_pol(s, &p, &info), GW_ERR_KEY_WEAK);
	assert_int_equal(info.result.reasons[0], PR_KEY_EC_CURVE);
	assert_int_equal(verify_pol(s, NULL, &info), 0);
	free(s);
	/* A profile with SHA-512 only refuses a SHA-256 digest. */
	policy_default(&p);
	assert_int_equal(policy_parse(&p, "digests = sha512", why, sizeof(why)), 0);
	s = sign_with(&F.rsa3072, MORE01 "rsa-sha512", XMLENC "sha256");
	assert_int_equal(verify_pol(s, &p, &info), GW_ERR_SIG_ALGORITHM);
	assert_int_equal(info.result.reasons[0], PR_DIGEST_NOT_ALLOWED);
	free(s);
	/* PKCS#1 v1.5 switched off: PSS only. */
	policy_default(&p);
	assert_int_equal(policy_parse(&p, "rsa_pkcs1 = no", why, sizeof(why)), 0);
	s = sign_with(&F.rsa3072, NULL, NULL);
	assert_int_equal(verify_pol(s, &p, &info), GW_ERR_SIG_ALGORITHM);
	assert_int_equal(info.result.reasons[0], PR_SIGALG_NOT_ALLOWED);
	free(s);
	s = sign_with(&F.rsa3072, MORE07 "sha256-rsa-MGF1", NULL);
	assert_int_equal(verify_pol(s, &p, &info), 0);
	free(s);
	/* A secp256k1 signer: refused with its own reason. */
	{
		struct dsig_sign_opts o = { MORE01 "ecdsa-sha256", NULL, NULL, 0 };
		xmlDocPtr doc = NULL;
		struct keys *k = NULL;

		assert_int_equal(xmlparse_safe(sample, strlen(sample), NULL, &doc),
		    0);
		assert_int_equal(EVP_PKEY_up_ref(F.k256.key), 1);
		assert_int_equal(keys_from_pkey(F.k256.key, &k), 0);
		assert_int_equal(xmldsig_sign_ex(doc, k, F.k256.cert, NULL, &o),
		    GW_ERR_KEY_WEAK);
		keys_free(k);
		xmlFreeDoc(doc);
	}
}

/* SignedInfo canonicalised inclusively (xmlsec's default elsewhere). */
static void
test_signedinfo_c14n(void **state)
{
	struct crypto_policy p;
	struct dsig_info info;
	xmlDocPtr doc = NULL;
	xmlNodePtr sig, ref;
	xmlSecDSigCtxPtr ctx;
	xmlSecKeyDataPtr data;
	xmlChar *buf = NULL;
	char why[100], *s;
	int len = 0;

	(void)state;
	assert_int_equal(xmlparse_safe(sample, strlen(sample), NULL, &doc), 0);
	sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformInclC14NId,
	    xmlSecTransformRsaSha256Id, NULL, BAD_CAST "ds");
	assert_non_null(sig);
	xmlAddChild(xmlDocGetRootElement(doc), sig);
	ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL,
	    BAD_CAST "", NULL);
	xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId);
	xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId);
	ctx = xmlSecDSigCtxCreate(NULL);
	assert_int_equal(EVP_PKEY_up_ref(F.rsa3072.key), 1);
	data = xmlSecOpenSSLEvpKeyAdopt(F.rsa3072.key);
	ctx->signKey = xmlSecKeyCreate();
	assert_true(xmlSecKeySetValue(ctx->signKey, data) >= 0);
	assert_true(xmlSecDSigCtxSign(ctx, sig) >= 0);
	xmlSecDSigCtxDestroy(ctx);
	{
		xmlNodePtr ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
		xmlNodePtr xd = xmlSecTmplKeyInfoAddX509Data(ki);
		unsigned char *der = NULL;
		char *b64 = NULL;
		size_t b64len;
		int dl = i2d_X509(F.rsa3072.cert, &der);

		assert_int_equal(util_b64_encode(der, (size_t)dl, &b64, &b64len), 0);
		xmlNewTextChild(xd, xd->ns, BAD_CAST "X509Certificate",
		    BAD_CAST b64);
		free(b64);
		OPENSSL_free(der);
	}
	xmlDocDumpMemory(doc, &buf, &len);
	s = strndup((const char *)buf, (size_t)len);
	xmlFree(buf);
	xmlFreeDoc(doc);
	assert_int_equal(verify_pol(s, NULL, &info), 0);
	policy_default(&p);
	assert_int_equal(policy_parse(&p, "signedinfo_c14n = exclusive", why,
	    sizeof(why)), 0);
	assert_int_equal(verify_pol(s, &p, &info), GW_ERR_SIG_ALGORITHM);
	assert_int_equal(info.result.reasons[0], PR_C14N_NOT_ALLOWED);
	free(s);
}

/* ---- fixture ---- */

static int
setup(void **state)
{
	(void)state;
	if (xmldsig_global_init() != 0)
		return -1;
	memset(&F, 0, sizeof(F));
	make_party(&F.ca, pki_key(PKI_KEY_EC_P256), "policy CA", 1, NULL);
	make_party(&F.rsa2048, pki_key(PKI_KEY_RSA2048), "leaf-rsa2048", 0, &F.ca);
	make_party(&F.rsa3072, pki_key(PKI_KEY_RSA3072), "leaf-rsa3072", 0, &F.ca);
	make_party(&F.p256, pki_key(PKI_KEY_EC_P256), "leaf-p256", 0, &F.ca);
	make_party(&F.p384, EVP_EC_gen("secp384r1"), "leaf-p384", 0, &F.ca);
	make_party(&F.p521, EVP_EC_gen("secp521r1"), "leaf-p521", 0, &F.ca);
	make_party(&F.bp256, EVP_EC_gen("brainpoolP256r1"), "leaf-bp256", 0,
	    &F.ca);
	make_party(&F.k256, EVP_EC_gen("secp256k1"), "leaf-k256", 0, &F.ca);
	if ((F.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(F.trust, F.ca.cert) != 1)
		return -1;
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
	(void)state;
	X509_STORE_free(F.trust);
	party_free(&F.ca);
	party_free(&F.rsa2048);
	party_free(&F.rsa3072);
	party_free(&F.p256);
	party_free(&F.p384);
	party_free(&F.p521);
	party_free(&F.bp256);
	party_free(&F.k256);
	xmldsig_global_cleanup();
	xmlCleanupParser();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set_keys),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_signature_algorithms),
		cmocka_unit_test(test_digests_c14n_transforms_uris),
		cmocka_unit_test(test_nids),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_reason_codes),
		cmocka_unit_test(test_reason_codes_documented),
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_rsa2048_profile),
		cmocka_unit_test(test_algorithm_families),
		cmocka_unit_test(test_curve_and_digest_restrictions),
		cmocka_unit_test(test_signedinfo_c14n),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
