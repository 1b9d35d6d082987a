/*
 * test_xmldsig.c - enveloped signatures: round trips, every rejection the
 * policy promises, what dsig_info reports, and interop with xmlsec (the
 * library as an independent signer, the xmlsec1 CLI both ways).
 *
 * Keys and certificates are made once in the group setup (RSA generation is
 * slow under ASan).  Documents go through text between signing and
 * verification, as they do in the gateway.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/bn.h>
#include <openssl/rsa.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/openssl/evp.h>

#include "err.h"
#include "keys.h"
#include "pki.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define NS_DSIG		"http://www.w3.org/2000/09/xmldsig#"
#define URI_RSA_SHA256	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define URI_RSA_SHA1	"http://www.w3.org/2000/09/xmldsig#rsa-sha1"
#define URI_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
#define URI_PSS_SHA256	"http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
#define URI_SHA256	"http://www.w3.org/2001/04/xmlenc#sha256"
#define DAY		86400L

struct party {
	EVP_PKEY *key;
	X509 *cert;
};

enum alg { ALG_RSA, ALG_ECDSA, ALG_PSS };

static struct {
	struct party ca, ca2, inter;
	struct party rsa, ec, foreign, expired, nousage, weak, sub;
	X509_STORE *trust;
	char dir[64];
	int have_cli;
} F;

static const char sample[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<sub:Submission xmlns:sub=\"urn:gatewayd:submission\" "
    "xmlns:x=\"urn:x\" Version=\"1\">\n"
    "  <sub:Meta xml:lang=\"de\"><sub:Subject>Antrag auf Gr&#xFC;ndung "
    "&amp; F&#xF6;rderung</sub:Subject></sub:Meta>\n"
    "  <sub:Content xml:id=\"p1\" type=\"x:thing\">Hello, world</sub:Content>\n"
    "  <!-- not covered by the signature -->\n"
    "</sub:Submission>\n";

/* ---- helpers ---- */

static void
make_party(struct party *p, enum pki_keytype type, const char *cn, int is_ca,
    long nb_offset, long days, int no_signature, struct party *issuer)
{
	struct pki_cert_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.cn = cn;
	spec.is_ca = is_ca;
	spec.not_before_offset = nb_offset;
	spec.days = days;
	spec.no_signature = no_signature;
	if (p->key == NULL)
		assert_int_equal(pki_make_key(type, &p->key), 0);
	assert_int_equal(pki_make_cert(&spec, p->key,
	    issuer ? issuer->cert : NULL, issuer ? issuer->key : NULL,
	    &p->cert), 0);
}

static void
party_free(struct party *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
	memset(p, 0, sizeof(*p));
}

static char *
dump(xmlDocPtr doc)
{
	xmlChar *buf = NULL;
	int len = 0;
	char *s;

	xmlDocDumpMemory(doc, &buf, &len);
	assert_non_null(buf);
	s = strndup((const char *)buf, (size_t)len);
	xmlFree(buf);
	assert_non_null(s);
	return s;
}

static xmlDocPtr
parse(const char *s)
{
	xmlDocPtr doc = NULL;

	assert_int_equal(xmlparse_safe(s, strlen(s), NULL, &doc), 0);
	return doc;
}

static struct keys *
keys_of(struct party *p)
{
	struct keys *k = NULL;

	assert_int_equal(EVP_PKEY_up_ref(p->key), 1);
	assert_int_equal(keys_from_pkey(p->key, &k), 0);
	return k;
}

static char *
sign_str(const char *xml, struct party *p, STACK_OF(X509) *chain, int pss)
{
	xmlDocPtr doc = parse(xml);
	struct keys *k = keys_of(p);
	char *s;

	assert_int_equal(xmldsig_sign(doc, k, p->cert, chain, pss), 0);
	keys_free(k);
	s = dump(doc);
	xmlFreeDoc(doc);
	return s;
}

static char *
sign_alg(enum alg alg)
{
	return sign_str(sample, alg == ALG_ECDSA ? &F.ec : &F.rsa, NULL,
	    alg == ALG_PSS);
}

static int
verify_at(const char *s, time_t at, struct dsig_info *info)
{
	xmlDocPtr doc = parse(s);
	int r;

	r = xmldsig_verify(doc, F.trust, at, info);
	xmlFreeDoc(doc);
	return r;
}

/* Verifies s expecting err; the signer is handed out exactly on success. */
static void
expect_verify(const char *s, int err, struct dsig_info *info)
{
	assert_int_equal(verify_at(s, 0, info), err);
	if (err != 0) {
		assert_null(info->signer);
		return;
	}
	assert_non_null(info->signer);
	X509_free(info->signer);
	info->signer = NULL;
}

/* A copy of s with the first `from` replaced by `to`. */
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

/* A copy of s with the text between start and end replaced by to. */
static char *
replace_between(const char *s, const char *start, const char *end,
    const char *to)
{
	const char *p = strstr(s, start), *q;
	char *from, *out;

	assert_non_null(p);
	p += strlen(start);
	q = strstr(p, end);
	assert_non_null(q);
	from = strndup(p, (size_t)(q - p));
	out = replace(s, from, to);
	free(from);
	return out;
}

/* A copy with the first base64 character after tag changed. */
static char *
flip_after(const char *s, const char *tag)
{
	char *out = strdup(s), *p;

	assert_non_null(out);
	p = strstr(out, tag);
	assert_non_null(p);
	p += strlen(tag);
	*p = *p == 'A' ? 'B' : 'A';
	return out;
}

static void
serial_hex(X509 *cert, char *out, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = BN_bn2hex(bn);

	util_strlcpy(out, hex, len);
	OPENSSL_free(hex);
	BN_free(bn);
}

static void
ds_add_cert(xmlNodePtr parent, X509 *cert)
{
	unsigned char *der = NULL;
	char *b64 = NULL;
	size_t b64len;
	int len = i2d_X509(cert, &der);

	assert_true(len > 0);
	assert_int_equal(util_b64_encode(der, (size_t)len, &b64, &b64len), 0);
	assert_non_null(xmlNewTextChild(parent, parent->ns,
	    BAD_CAST "X509Certificate", BAD_CAST b64));
	free(b64);
	OPENSSL_free(der);
}

static xmlSecKeyPtr
xmlsec_key(EVP_PKEY *pkey)
{
	xmlSecKeyDataPtr data;
	xmlSecKeyPtr key;

	assert_int_equal(EVP_PKEY_up_ref(pkey), 1);
	data = xmlSecOpenSSLEvpKeyAdopt(pkey);
	assert_non_null(data);
	key = xmlSecKeyCreate();
	assert_non_null(key);
	assert_true(xmlSecKeySetValue(key, data) >= 0);
	return key;
}

/* Options for a signature made by the xmlsec library (independent signer). */
struct xs_opts {
	xmlSecTransformId c14n;		/* SignedInfo */
	xmlSecTransformId sig;
	xmlSecTransformId dig;
	const char *uri;
	const char *ref_prefixes;	/* InclusiveNamespaces of the Reference */
	const char *si_prefixes;	/* of the CanonicalizationMethod */
};

static void
xs_defaults(struct xs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->c14n = xmlSecTransformExclC14NId;
	o->sig = xmlSecTransformRsaSha256Id;
	o->dig = xmlSecTransformSha256Id;
	o->uri = "";
}

/* Signs xml with the xmlsec library and p's private key. */
static char *
xmlsec_sign(const char *xml, const struct xs_opts *o, struct party *p)
{
	xmlDocPtr doc = parse(xml);
	xmlNodePtr sig, ref, t, ki, xd;
	xmlSecDSigCtxPtr ctx;
	char *s;

	sig = xmlSecTmplSignatureCreateNsPref(doc, o->c14n, o->sig, NULL,
	    BAD_CAST "ds");
	assert_non_null(sig);
	assert_non_null(xmlAddChild(xmlDocGetRootElement(doc), sig));
	if (o->si_prefixes != NULL)
		assert_int_equal(xmlSecTmplTransformAddC14NInclNamespaces(
		    xmlSecTmplSignatureGetC14NMethodNode(sig),
		    (const xmlChar *)o->si_prefixes), 0);
	ref = xmlSecTmplSignatureAddReference(sig, o->dig, NULL,
	    (const xmlChar *)o->uri, NULL);
	assert_non_null(ref);
	if (o->uri[0] == '\0')
		assert_non_null(xmlSecTmplReferenceAddTransform(ref,
		    xmlSecTransformEnvelopedId));
	t = xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId);
	assert_non_null(t);
	if (o->ref_prefixes != NULL)
		assert_int_equal(xmlSecTmplTransformAddC14NInclNamespaces(t,
		    (const xmlChar *)o->ref_prefixes), 0);
	ctx = xmlSecDSigCtxCreate(NULL);
	assert_non_null(ctx);
	ctx->signKey = xmlsec_key(p->key);
	assert_true(xmlSecDSigCtxSign(ctx, sig) >= 0);
	xmlSecDSigCtxDestroy(ctx);
	/* KeyInfo is not signed: add it afterwards. */
	ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
	xd = xmlSecTmplKeyInfoAddX509Data(ki);
	assert_non_null(xd);
	ds_add_cert(xd, p->cert);
	s = dump(doc);
	xmlFreeDoc(doc);
	return s;
}

static int
visible_in(void *data, xmlNodePtr node, xmlNodePtr parent)
{
	xmlNodePtr n = node->type == XML_NAMESPACE_DECL ? parent : node;

	for (; n != NULL; n = n->parent)
		if (n == data)
			return 1;
	return 0;
}

static xmlNodePtr
child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = xmlFirstElementChild(parent); n != NULL;
	    n = xmlNextElementSibling(n))
		if (strcmp((const char *)n->name, name) == 0)
			return n;
	fail_msg("no %s", name);
	return NULL;
}

/*
 * Turns an xmlsec-made RSA signature into RSA-PSS: SignatureMethod becomes
 * sha256-rsa-MGF1 and SignatureValue is recomputed here over the exclusive
 * c14n of SignedInfo (with si_prefixes), so the Reference digest stays the
 * one xmlsec computed.
 */
static char *
resign_pss(const char *s, const char *si_prefixes)
{
	xmlDocPtr doc = parse(s);
	xmlNodePtr sig = xmlLastElementChild(xmlDocGetRootElement(doc));
	xmlNodePtr si = child(sig, "SignedInfo");
	struct keys *k = keys_of(&F.rsa);
	xmlOutputBufferPtr buf;
	char prefixes[64], *b64, *out;
	xmlChar *pl[2] = { (xmlChar *)prefixes, NULL };
	unsigned char *sv = NULL;
	size_t svlen = 0, b64len;

	xmlSetProp(child(si, "SignatureMethod"), BAD_CAST "Algorithm",
	    BAD_CAST URI_PSS_SHA256);
	util_strlcpy(prefixes, si_prefixes ? si_prefixes : "", sizeof(prefixes));
	buf = xmlAllocOutputBuffer(NULL);
	assert_non_null(buf);
	assert_true(xmlC14NExecute(doc, visible_in, si, XML_C14N_EXCLUSIVE_1_0,
	    si_prefixes ? pl : NULL, 0, buf) >= 0);
	assert_true(xmlOutputBufferGetSize(buf) > 0);
	assert_int_equal(keys_sign(k, KEYS_SIG_RSA_PSS, EVP_sha256(),
	    xmlOutputBufferGetContent(buf), xmlOutputBufferGetSize(buf),
	    &sv, &svlen), 0);
	xmlOutputBufferClose(buf);
	assert_int_equal(util_b64_encode(sv, svlen, &b64, &b64len), 0);
	xmlNodeSetContent(child(sig, "SignatureValue"), BAD_CAST b64);
	free(b64);
	free(sv);
	keys_free(k);
	out = dump(doc);
	xmlFreeDoc(doc);
	return out;
}

static char *
cat2(const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	char *s = malloc(al + bl + 1);

	assert_non_null(s);
	memcpy(s, a, al);
	memcpy(s + al, b, bl + 1);
	return s;
}

static int
run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
write_text(const char *path, const char *s)
{
	assert_int_equal(util_write_file(path, s, strlen(s), 0644), 0);
}

static char *
read_text(const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;

	assert_int_equal(util_read_file(path, 1 << 20, &buf, &len), 0);
	return (char *)buf;
}

/* ---- round trips ---- */

static void
roundtrip(enum alg alg, const char *uri, struct party *p)
{
	struct dsig_info info;
	char serial[80];
	char *s = sign_alg(alg);

	assert_non_null(strstr(s, uri));
	assert_int_equal(verify_at(s, 0, &info), 0);
	assert_non_null(info.signer);
	assert_int_equal(X509_cmp(info.signer, p->cert), 0);
	X509_free(info.signer);
	assert_non_null(strstr(info.subject, alg == ALG_ECDSA ?
	    "CN=leaf-ec" : "CN=leaf-rsa"));
	assert_string_equal(info.issuer, "CN=test CA,O=gatewayd development");
	serial_hex(p->cert, serial, sizeof(serial));
	assert_string_equal(info.serial, serial);
	assert_string_equal(info.sig_alg, uri);
	assert_string_equal(info.digest_alg, URI_SHA256);
	assert_int_equal(info.signature_ok, 1);
	assert_int_equal(info.chain_ok, 1);
	assert_string_equal(info.chain_error, "");
	free(s);
}

static void
test_roundtrip_rsa(void **state)
{
	(void)state;
	roundtrip(ALG_RSA, URI_RSA_SHA256, &F.rsa);
}

static void
test_roundtrip_ecdsa(void **state)
{
	(void)state;
	roundtrip(ALG_ECDSA, URI_ECDSA_SHA256, &F.ec);
}

static void
test_roundtrip_pss(void **state)
{
	(void)state;
	roundtrip(ALG_PSS, URI_PSS_SHA256, &F.rsa);
}

/* Signed and verified in memory, without going through text. */
static void
test_in_memory(void **state)
{
	xmlDocPtr doc = parse(sample);
	struct keys *k = keys_of(&F.ec);
	struct dsig_info info;
	int pss;

	(void)state;
	assert_int_equal(xmldsig_sign(doc, k, F.ec.cert, NULL, 0), 0);
	assert_int_equal(xmldsig_verify(doc, F.trust, 0, &info), 0);
	X509_free(info.signer);
	keys_free(k);
	xmlFreeDoc(doc);
	for (pss = 0; pss <= 1; pss++) {
		doc = parse(sample);
		k = keys_of(&F.rsa);
		assert_int_equal(xmldsig_sign(doc, k, F.rsa.cert, NULL, pss), 0);
		assert_int_equal(xmldsig_verify(doc, F.trust, 0, &info), 0);
		X509_free(info.signer);
		keys_free(k);
		xmlFreeDoc(doc);
	}
}

/* The signer's CA is an intermediate sent along in X509Data. */
static void
test_intermediate(void **state)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct dsig_info info;
	char *s, *t;

	(void)state;
	assert_non_null(chain);
	assert_int_equal(sk_X509_push(chain, F.inter.cert), 1);
	s = sign_str(sample, &F.sub, chain, 0);
	expect_verify(s, 0, &info);
	assert_non_null(strstr(info.subject, "CN=leaf-sub"));
	assert_non_null(strstr(info.issuer, "CN=test intermediate"));
	/* Without the intermediate there is no path. */
	t = replace_between(s, "</ds:X509Certificate><ds:X509Certificate>",
	    "</ds:X509Certificate>", "");
	free(s);
	s = replace(t, "<ds:X509Certificate></ds:X509Certificate>", "");
	expect_verify(s, GW_ERR_CERT_UNTRUSTED, &info);
	assert_int_equal(info.chain_ok, 0);
	assert_int_equal(info.signature_ok, 1);
	free(t);
	free(s);
	sk_X509_free(chain);
}

/* Comments are outside URI="" (XML-DSig 4.4.3.2): adding one is no change. */
static void
test_comments_not_covered(void **state)
{
	struct dsig_info info;
	char *s = sign_alg(ALG_RSA), *t;

	(void)state;
	t = replace(s, "<sub:Meta", "<!-- added --><sub:Meta");
	expect_verify(t, 0, &info);
	free(t);
	free(s);
}

/* ---- rejections ---- */

static void
tampered_content(enum alg alg)
{
	struct dsig_info info;
	char *s = sign_alg(alg), *t;

	t = replace(s, "Hello, world", "Hello, World");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	assert_int_equal(info.signature_ok, 0);
	assert_int_equal(info.chain_ok, 1);
	assert_non_null(strstr(info.subject, "CN=leaf-"));
	free(t);
	/* White space is content too. */
	t = replace(s, "</sub:Meta>\n", "</sub:Meta> \n");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	free(t);
	t = replace(s, "Version=\"1\"", "Version=\"2\"");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	free(t);
	free(s);
}

static void
test_tampered_content_rsa(void **state)
{
	(void)state;
	tampered_content(ALG_RSA);
}

static void
test_tampered_content_ecdsa(void **state)
{
	(void)state;
	tampered_content(ALG_ECDSA);
}

static void
test_tampered_content_pss(void **state)
{
	(void)state;
	tampered_content(ALG_PSS);
}

static void
tampered_signedinfo(enum alg alg)
{
	struct dsig_info info;
	char *s = sign_alg(alg), *t;

	/* DigestValue of other content. */
	t = replace_between(s, "<ds:DigestValue>", "</ds:DigestValue>",
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	assert_int_equal(info.signature_ok, 0);
	assert_int_equal(info.chain_ok, 1);
	free(t);
	/* SignedInfo changed where the digest is not affected. */
	t = replace(s, "<ds:Reference URI=\"\">", "<ds:Reference Id=\"r\" URI=\"\">");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	assert_int_equal(info.signature_ok, 0);
	free(t);
	/* SignatureValue changed. */
	t = flip_after(s, "<ds:SignatureValue>");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	assert_int_equal(info.signature_ok, 0);
	free(t);
	/* SignatureValue truncated. */
	t = replace_between(s, "<ds:SignatureValue>", "</ds:SignatureValue>",
	    "AAAA");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	free(t);
	free(s);
}

static void
test_tampered_signedinfo_rsa(void **state)
{
	(void)state;
	tampered_signedinfo(ALG_RSA);
}

static void
test_tampered_signedinfo_ecdsa(void **state)
{
	(void)state;
	tampered_signedinfo(ALG_ECDSA);
}

static void
test_tampered_signedinfo_pss(void **state)
{
	(void)state;
	tampered_signedinfo(ALG_PSS);
}

static void
test_wrong_ca(void **state)
{
	struct dsig_info info;
	char *s = sign_str(sample, &F.foreign, NULL, 0);

	(void)state;
	expect_verify(s, GW_ERR_CERT_UNTRUSTED, &info);
	assert_int_equal(info.chain_ok, 0);
	assert_int_equal(info.signature_ok, 1);
	assert_true(strlen(info.chain_error) > 0);
	assert_non_null(strstr(info.subject, "CN=leaf-foreign"));
	assert_non_null(strstr(info.issuer, "CN=other CA"));
	free(s);
}

static void
test_expired_signer(void **state)
{
	struct dsig_info info;
	char *s = sign_str(sample, &F.expired, NULL, 0);

	(void)state;
	expect_verify(s, GW_ERR_CERT_EXPIRED, &info);
	assert_int_equal(info.chain_ok, 0);
	assert_int_equal(info.signature_ok, 1);
	assert_non_null(strstr(info.chain_error, "expired"));
	/* At a time it was valid, it verifies. */
	assert_int_equal(verify_at(s, time(NULL) - 25 * DAY, &info), 0);
	assert_int_equal(info.chain_ok, 1);
	X509_free(info.signer);
	free(s);
}

static void
test_key_usage(void **state)
{
	struct dsig_info info;
	char *s = sign_str(sample, &F.nousage, NULL, 0);

	(void)state;
	expect_verify(s, GW_ERR_CERT_USAGE, &info);
	assert_int_equal(info.chain_ok, 0);
	assert_int_equal(info.signature_ok, 1);
	free(s);
}

static void
test_missing_signature(void **state)
{
	struct dsig_info info;

	(void)state;
	expect_verify(sample, GW_ERR_SIG_MISSING, &info);
	assert_int_equal(info.signature_ok, -1);
	assert_int_equal(info.chain_ok, -1);
	assert_string_equal(info.subject, "");
}

static void
test_two_signatures(void **state)
{
	struct dsig_info info;
	char *s = sign_alg(ALG_RSA), *sig, *t, *end, *with;
	xmlDocPtr doc;
	struct keys *k;

	(void)state;
	sig = strstr(s, "<ds:Signature");
	end = strstr(s, "</ds:Signature>") + strlen("</ds:Signature>");
	sig = strndup(sig, (size_t)(end - sig));
	/* A copy inside the content... */
	with = cat2(sig, "<sub:Subject>");
	t = replace(s, "<sub:Subject>", with);
	expect_verify(t, GW_ERR_SIG_MULTIPLE, &info);
	free(t);
	free(with);
	/* ...or twice at the end. */
	with = cat2(sig, "</sub:Submission>");
	t = replace(s, "</sub:Submission>", with);
	expect_verify(t, GW_ERR_SIG_MULTIPLE, &info);
	free(t);
	free(with);
	free(sig);
	/* Signing a signed document is refused and changes nothing. */
	doc = parse(s);
	k = keys_of(&F.rsa);
	assert_int_equal(xmldsig_sign(doc, k, F.rsa.cert, NULL, 0),
	    GW_ERR_SIG_MULTIPLE);
	keys_free(k);
	t = dump(doc);
	assert_string_equal(t, s);
	free(t);
	xmlFreeDoc(doc);
	free(s);
}

static void
test_sub_element_reference(void **state)
{
	struct dsig_info info;
	struct xs_opts o;
	char *s, *t;

	(void)state;
	/* A valid xmlsec signature over <sub:Content xml:id="p1"> only. */
	xs_defaults(&o);
	o.uri = "#p1";
	s = xmlsec_sign(sample, &o, &F.rsa);
	assert_non_null(strstr(s, "URI=\"#p1\""));
	expect_verify(s, GW_ERR_SIG_REFERENCE, &info);
	assert_int_equal(info.signature_ok, -1);
	free(s);
	/* The same edited into one of ours. */
	s = sign_alg(ALG_PSS);
	t = replace(s, "URI=\"\"", "URI=\"#p1\"");
	expect_verify(t, GW_ERR_SIG_REFERENCE, &info);
	free(t);
	/* No URI attribute at all is not the whole document either. */
	t = replace(s, " URI=\"\"", "");
	expect_verify(t, GW_ERR_SIG_REFERENCE, &info);
	free(t);
	/* Transforms other than exactly [enveloped, exc-c14n]. */
	t = replace(s, "xml-exc-c14n#\"/></ds:Transforms>",
	    "xml-exc-c14n#WithComments\"/></ds:Transforms>");
	expect_verify(t, GW_ERR_SIG_REFERENCE, &info);
	free(t);
	t = replace(s, "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/"
	    "xmldsig#enveloped-signature\"/>", "");
	expect_verify(t, GW_ERR_SIG_REFERENCE, &info);
	free(t);
	/* A second Reference. */
	t = strstr(s, "<ds:Reference");
	{
		char *ref = strndup(t, (size_t)(strstr(t, "</ds:Reference>") +
		    strlen("</ds:Reference>") - t));
		char *with = malloc(2 * strlen(ref) + 1);

		memcpy(with, ref, strlen(ref));
		memcpy(with + strlen(ref), ref, strlen(ref) + 1);
		t = replace(s, ref, with);
		expect_verify(t, GW_ERR_SIG_REFERENCE, &info);
		free(t);
		free(with);
		free(ref);
	}
	/* An Object beside. */
	t = replace(s, "</ds:KeyInfo>", "</ds:KeyInfo><ds:Object>x</ds:Object>");
	expect_verify(t, GW_ERR_SIG_REFERENCE, &info);
	free(t);
	free(s);
}

static void
test_signature_not_last(void **state)
{
	struct dsig_info info;
	char *s = sign_alg(ALG_ECDSA), *t, *sig, *end, *nosig;

	(void)state;
	t = replace(s, "</ds:Signature>", "</ds:Signature><sub:More/>");
	expect_verify(t, GW_ERR_SIG_PLACEMENT, &info);
	assert_int_equal(info.signature_ok, -1);
	free(t);
	/* Text after it is no placement error, but it is content. */
	t = replace(s, "</ds:Signature>", "</ds:Signature>\n");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	free(t);
	/* Moved into a child element. */
	sig = strstr(s, "<ds:Signature");
	end = strstr(s, "</ds:Signature>") + strlen("</ds:Signature>");
	sig = strndup(sig, (size_t)(end - sig));
	nosig = replace(s, sig, "");
	t = replace(nosig, "</sub:Meta>", sig);
	free(nosig);
	nosig = replace(t, "</ds:Signature>", "</ds:Signature></sub:Meta>");
	expect_verify(nosig, GW_ERR_SIG_PLACEMENT, &info);
	free(nosig);
	free(t);
	free(sig);
	free(s);
}

static void
test_disallowed_algorithm(void **state)
{
	struct dsig_info info;
	struct xs_opts o;
	char *s, *t;

	(void)state;
	/* A valid rsa-sha1 signature by xmlsec. */
	xs_defaults(&o);
	o.sig = xmlSecTransformRsaSha1Id;
	s = xmlsec_sign(sample, &o, &F.rsa);
	expect_verify(s, GW_ERR_SIG_ALGORITHM, &info);
	assert_string_equal(info.sig_alg, URI_RSA_SHA1);
	assert_int_equal(info.signature_ok, -1);
	free(s);
	/* SHA-1 digest. */
	xs_defaults(&o);
	o.dig = xmlSecTransformSha1Id;
	s = xmlsec_sign(sample, &o, &F.rsa);
	expect_verify(s, GW_ERR_SIG_ALGORITHM, &info);
	assert_string_equal(info.digest_alg,
	    "http://www.w3.org/2000/09/xmldsig#sha1");
	free(s);
	/* HMAC, DSA, c14n with comments: edited into ours. */
	s = sign_alg(ALG_RSA);
	t = replace(s, URI_RSA_SHA256,
	    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256");
	expect_verify(t, GW_ERR_SIG_ALGORITHM, &info);
	free(t);
	t = replace(s, URI_RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#dsa-sha1");
	expect_verify(t, GW_ERR_SIG_ALGORITHM, &info);
	free(t);
	t = replace(s, "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/"
	    "2001/10/xml-exc-c14n#\"/>", "<ds:CanonicalizationMethod Algorithm="
	    "\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"/>");
	expect_verify(t, GW_ERR_SIG_ALGORITHM, &info);
	free(t);
	/* The right URI with a key of the wrong kind. */
	t = replace(s, URI_RSA_SHA256, URI_ECDSA_SHA256);
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	assert_int_equal(info.signature_ok, 0);
	free(t);
	free(s);
}

static void
test_no_certificate(void **state)
{
	struct dsig_info info;
	char *s = sign_alg(ALG_RSA), *t;

	(void)state;
	t = replace_between(s, "<ds:KeyInfo>", "</ds:KeyInfo>",
	    "<ds:RetrievalMethod URI=\"http://127.0.0.1:9/cert.der\" "
	    "Type=\"http://www.w3.org/2000/09/xmldsig#rawX509Certificate\"/>");
	expect_verify(t, GW_ERR_SIG_NOCERT, &info);
	assert_int_equal(info.signature_ok, -1);
	free(t);
	/* A RetrievalMethod next to the certificate is refused too. */
	t = replace(s, "<ds:KeyInfo>", "<ds:KeyInfo><ds:RetrievalMethod "
	    "URI=\"file:///etc/passwd\"/>");
	expect_verify(t, GW_ERR_SIG_NOCERT, &info);
	free(t);
	t = replace_between(s, "<ds:KeyInfo>", "</ds:KeyInfo>",
	    "<ds:KeyName>leaf-rsa</ds:KeyName>");
	expect_verify(t, GW_ERR_SIG_NOCERT, &info);
	free(t);
	t = replace_between(s, "<ds:X509Certificate>", "</ds:X509Certificate>",
	    "bm90IGEgY2VydGlmaWNhdGU=");
	expect_verify(t, GW_ERR_SIG_NOCERT, &info);
	free(t);
	t = replace_between(s, "<ds:SignatureValue>", "</ds:Signature>", "");
	free(s);
	s = replace(t, "<ds:SignatureValue>", "<ds:SignatureValue>x"
	    "</ds:SignatureValue>");
	expect_verify(s, GW_ERR_SIG_NOCERT, &info);
	free(t);
	free(s);
}

static void
test_weak_key(void **state)
{
	struct dsig_info info;
	struct xs_opts o;
	struct keys *k;
	xmlDocPtr doc;
	char *s;

	(void)state;
	xs_defaults(&o);
	s = xmlsec_sign(sample, &o, &F.weak);
	expect_verify(s, GW_ERR_KEY_WEAK, &info);
	assert_non_null(strstr(info.subject, "CN=leaf-weak"));
	assert_int_equal(info.signature_ok, -1);
	free(s);
	/* Nor do we make such signatures. */
	doc = parse(sample);
	k = keys_of(&F.weak);
	assert_int_equal(xmldsig_sign(doc, k, F.weak.cert, NULL, 0),
	    GW_ERR_KEY_WEAK);
	keys_free(k);
	xmlFreeDoc(doc);
}

static void
test_sign_refusals(void **state)
{
	xmlDocPtr doc = parse(sample);
	struct keys *k = keys_of(&F.rsa);
	char *before = dump(doc), *after;

	(void)state;
	/* A certificate of another key. */
	assert_int_equal(xmldsig_sign(doc, k, F.ec.cert, NULL, 0), GW_ERR_INVALID);
	keys_free(k);
	/* PSS with an EC key. */
	k = keys_of(&F.ec);
	assert_int_equal(xmldsig_sign(doc, k, F.ec.cert, NULL, 1),
	    GW_ERR_SIG_ALGORITHM);
	keys_free(k);
	after = dump(doc);
	assert_string_equal(before, after);
	free(before);
	free(after);
	xmlFreeDoc(doc);
}

/* Exclusive c14n refuses relative namespace URIs; signing fails cleanly. */
static void
test_sign_uncanonicalisable(void **state)
{
	xmlDocPtr doc = parse("<r xmlns:p=\"relative\"><p:a/></r>");
	struct keys *k = keys_of(&F.ec);
	char path[] = "/tmp/test_xmldsig.XXXXXX";
	int fd, saved;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	assert_int_equal(xmldsig_sign(doc, k, F.ec.cert, NULL, 0), GW_ERR_INVALID);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	/* Nothing printed, nothing left in the document. */
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	close(fd);
	assert_null(xmlDocGetRootElement(doc)->children->next);
	keys_free(k);
	xmlFreeDoc(doc);
}

/* Rejections are returned, never printed (xmlsec and libxml2 both would). */
static void
test_silent(void **state)
{
	char path[] = "/tmp/test_xmldsig.XXXXXX";
	struct dsig_info info;
	char *s[3], *t;
	int fd, saved, i;

	(void)state;
	for (i = 0; i < 3; i++)
		s[i] = sign_alg((enum alg)i);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	for (i = 0; i < 3; i++) {
		t = replace(s[i], "Hello", "Jello");
		assert_int_equal(verify_at(t, 0, &info), GW_ERR_SIG_INVALID);
		free(t);
		t = replace_between(s[i], "<ds:SignatureValue>",
		    "</ds:SignatureValue>", "AAAA");
		assert_int_equal(verify_at(t, 0, &info), GW_ERR_SIG_INVALID);
		free(t);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	close(fd);
	for (i = 0; i < 3; i++)
		free(s[i]);
}

/* A document with a DTD did not come through xmlparse_safe(). */
static void
test_dtd_document(void **state)
{
	char *s = sign_alg(ALG_RSA), *t;
	struct dsig_info info;
	xmlDocPtr doc;

	(void)state;
	t = replace(s, "<sub:Submission", "<!DOCTYPE sub:Submission [<!ATTLIST "
	    "sub:Content Version CDATA \"1\">]><sub:Submission");
	doc = xmlReadMemory(t, (int)strlen(t), NULL, NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	assert_int_equal(xmldsig_verify(doc, F.trust, 0, &info), GW_ERR_XML_DTD);
	assert_null(info.signer);
	xmlFreeDoc(doc);
	free(t);
	free(s);
}

/* ---- independent signers ---- */

static void
test_xmlsec_library_signer(void **state)
{
	struct dsig_info info;
	struct xs_opts o;
	char *s;

	(void)state;
	xs_defaults(&o);
	s = xmlsec_sign(sample, &o, &F.rsa);
	expect_verify(s, 0, &info);
	free(s);
	xs_defaults(&o);
	o.sig = xmlSecTransformEcdsaSha256Id;
	o.dig = xmlSecTransformSha512Id;
	o.c14n = xmlSecTransformInclC14NId;
	s = xmlsec_sign(sample, &o, &F.ec);
	expect_verify(s, 0, &info);
	assert_string_equal(info.digest_alg, "http://www.w3.org/2001/04/xmlenc#sha512");
	free(s);
	xs_defaults(&o);
	o.sig = xmlSecTransformRsaSha512Id;
	o.c14n = xmlSecTransformInclC14N11Id;
	o.ref_prefixes = "x sub";
	s = xmlsec_sign(sample, &o, &F.rsa);
	expect_verify(s, 0, &info);
	free(s);
}

/*
 * RSA-PSS is verified by our own code: the PrefixList of both exc-c14n
 * steps must be honoured.  xmlsec computes the Reference digest with the
 * PrefixList "x" (which makes xmlns:x appear in the canonical form); the
 * test re-signs SignedInfo with PSS.
 */
static void
test_pss_prefixlist(void **state)
{
	struct dsig_info info;
	struct xs_opts o;
	char *s, *t, *u;

	(void)state;
	xs_defaults(&o);
	o.ref_prefixes = "x #default";
	o.si_prefixes = "sub";
	s = xmlsec_sign(sample, &o, &F.rsa);
	expect_verify(s, 0, &info);		/* xmlsec's own RSA path */
	t = resign_pss(s, "sub");
	expect_verify(t, 0, &info);
	assert_string_equal(info.sig_alg, URI_PSS_SHA256);
	free(t);
	/* Dropping the Reference PrefixList changes the digest. */
	u = replace_between(s, "<ds:Transform Algorithm=\"http://www.w3.org/2001/"
	    "10/xml-exc-c14n#\">", "</ds:Transform>", "");
	t = resign_pss(u, "sub");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	assert_int_equal(info.signature_ok, 0);
	free(t);
	free(u);
	/* Signing SignedInfo without its PrefixList breaks the signature. */
	t = resign_pss(s, NULL);
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	free(t);
	free(s);
}

/* ---- the xmlsec1 command line, both ways ---- */

#define CLI_TEMPLATE \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
    "<sub:Submission xmlns:sub=\"urn:gatewayd:submission\">\n" \
    "  <sub:Content>Hello from xmlsec1</sub:Content>\n" \
    "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo>" \
    "<CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>" \
    "<SignatureMethod Algorithm=\"%s\"/>" \
    "<Reference URI=\"\"><Transforms>" \
    "<Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>" \
    "<Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>" \
    "</Transforms><DigestMethod Algorithm=\"" URI_SHA256 "\"/>" \
    "<DigestValue/></Reference></SignedInfo><SignatureValue/>" \
    "<KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo>" \
    "</Signature></sub:Submission>\n"

static void
cli_signs(const char *name, const char *alg)
{
	struct dsig_info info;
	char tmpl[2048], cmd[1024], path[128], *s, *t;

	snprintf(tmpl, sizeof(tmpl), CLI_TEMPLATE, alg);
	snprintf(path, sizeof(path), "%s/tmpl.xml", F.dir);
	write_text(path, tmpl);
	snprintf(cmd, sizeof(cmd), "xmlsec1 --sign --privkey-pem %s/%s.key,%s/%s.pem "
	    "--output %s/cli-signed.xml %s/tmpl.xml >/dev/null 2>&1",
	    F.dir, name, F.dir, name, F.dir, F.dir);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/cli-signed.xml", F.dir);
	s = read_text(path);
	expect_verify(s, 0, &info);
	assert_string_equal(info.sig_alg, alg);
	t = replace(s, "Hello from xmlsec1", "Hello from elsewhere");
	expect_verify(t, GW_ERR_SIG_INVALID, &info);
	free(t);
	free(s);
}

static void
test_cli_signs_we_verify(void **state)
{
	(void)state;
	if (!F.have_cli) {
		print_message("xmlsec1 not installed: interop test skipped\n");
		skip();
	}
	cli_signs("leaf-rsa", URI_RSA_SHA256);
	cli_signs("leaf-ec", URI_ECDSA_SHA256);
}

static int
cli_verify(const char *doc)
{
	char cmd[1024], path[128];

	snprintf(path, sizeof(path), "%s/to-verify.xml", F.dir);
	write_text(path, doc);
	snprintf(cmd, sizeof(cmd), "xmlsec1 --verify --trusted-pem %s/ca.pem "
	    "--enabled-reference-uris empty %s >/dev/null 2>&1", F.dir, path);
	return run(cmd);
}

static void
test_we_sign_cli_verifies(void **state)
{
	enum alg algs[] = { ALG_RSA, ALG_ECDSA };
	char *s, *t;
	size_t i;

	(void)state;
	if (!F.have_cli) {
		print_message("xmlsec1 not installed: interop test skipped\n");
		skip();
	}
	/* (xmlsec 1.2 has no RSA-PSS: that one has no CLI check.) */
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		s = sign_alg(algs[i]);
		assert_int_equal(cli_verify(s), 0);
		/* The check can fail: a changed document does not verify. */
		t = replace(s, "Hello, world", "Hello, World");
		assert_int_not_equal(cli_verify(t), 0);
		free(t);
		free(s);
	}
}

/* ---- threads ---- */

struct vcase {
	char *doc;
	int want;
};

static struct vcase vcases[6];

static void *
verify_loop(void *arg)
{
	struct dsig_info info;
	int *failures = arg, i, r;
	xmlDocPtr doc;

	for (i = 0; i < 60; i++) {
		struct vcase *c = &vcases[i % 6];

		doc = NULL;
		if (xmlparse_safe(c->doc, strlen(c->doc), NULL, &doc) != 0) {
			(*failures)++;
			continue;
		}
		r = xmldsig_verify(doc, F.trust, 0, &info);
		if (r != c->want)
			(*failures)++;
		X509_free(info.signer);
		xmlFreeDoc(doc);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[4];
	int failures[4] = { 0 }, i;

	(void)state;
	for (i = 0; i < 3; i++) {
		vcases[i].doc = sign_alg((enum alg)i);
		vcases[i].want = 0;
		vcases[i + 3].doc = replace(vcases[i].doc, "Hello", "Jello");
		vcases[i + 3].want = GW_ERR_SIG_INVALID;
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, verify_loop,
		    &failures[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(failures[i], 0);
	}
	for (i = 0; i < 6; i++)
		free(vcases[i].doc);
}

/* ---- fixture ---- */

static void
write_pair(const char *name, struct party *p)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s.key", F.dir, name);
	assert_int_equal(pki_write_key(path, p->key), 0);
	snprintf(path, sizeof(path), "%s/%s.pem", F.dir, name);
	assert_int_equal(pki_write_cert(path, p->cert), 0);
}

static int
setup(void **state)
{
	char path[128];

	(void)state;
	if (xmldsig_global_init() != 0)
		return -1;
	memset(&F, 0, sizeof(F));
	make_party(&F.ca, PKI_KEY_RSA3072, "test CA", 1, -400 * DAY, 3650, 0, NULL);
	make_party(&F.ca2, PKI_KEY_EC_P256, "other CA", 1, -DAY, 3650, 0, NULL);
	make_party(&F.inter, PKI_KEY_EC_P256, "test intermediate", 1, -DAY, 365,
	    0, &F.ca);
	make_party(&F.rsa, PKI_KEY_RSA3072, "leaf-rsa", 0, -DAY, 365, 0, &F.ca);
	make_party(&F.ec, PKI_KEY_EC_P256, "leaf-ec", 0, -DAY, 365, 0, &F.ca);
	make_party(&F.foreign, PKI_KEY_EC_P256, "leaf-foreign", 0, -DAY, 365, 0,
	    &F.ca2);
	make_party(&F.expired, PKI_KEY_EC_P256, "leaf-expired", 0, -30 * DAY, 10,
	    0, &F.ca);
	make_party(&F.nousage, PKI_KEY_EC_P256, "leaf-nousage", 0, -DAY, 365, 1,
	    &F.ca);
	make_party(&F.sub, PKI_KEY_EC_P256, "leaf-sub", 0, -DAY, 365, 0, &F.inter);
	F.weak.key = EVP_RSA_gen(1024);
	if (F.weak.key == NULL)
		return -1;
	make_party(&F.weak, PKI_KEY_RSA2048, "leaf-weak", 0, -DAY, 365, 0, &F.ca);
	if ((F.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(F.trust, F.ca.cert) != 1)
		return -1;

	F.have_cli = run("command -v xmlsec1 >/dev/null 2>&1") == 0;
	snprintf(F.dir, sizeof(F.dir), "/tmp/test_xmldsig.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	write_pair("leaf-rsa", &F.rsa);
	write_pair("leaf-ec", &F.ec);
	snprintf(path, sizeof(path), "%s/ca.pem", F.dir);
	return pki_write_cert(path, F.ca.cert);
}

static int
teardown(void **state)
{
	static const char *files[] = { "leaf-rsa.key", "leaf-rsa.pem",
	    "leaf-ec.key", "leaf-ec.pem", "ca.pem", "tmpl.xml",
	    "cli-signed.xml", "to-verify.xml" };
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", F.dir, files[i]);
		unlink(path);
	}
	rmdir(F.dir);
	X509_STORE_free(F.trust);
	party_free(&F.ca);
	party_free(&F.ca2);
	party_free(&F.inter);
	party_free(&F.rsa);
	party_free(&F.ec);
	party_free(&F.foreign);
	party_free(&F.expired);
	party_free(&F.nousage);
	party_free(&F.sub);
	party_free(&F.weak);
	xmldsig_global_cleanup();
	xmlCleanupParser();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_rsa),
		cmocka_unit_test(test_roundtrip_ecdsa),
		cmocka_unit_test(test_roundtrip_pss),
		cmocka_unit_test(test_in_memory),
		cmocka_unit_test(test_intermediate),
		cmocka_unit_test(test_comments_not_covered),
		cmocka_unit_test(test_tampered_content_rsa),
		cmocka_unit_test(test_tampered_content_ecdsa),
		cmocka_unit_test(test_tampered_content_pss),
		cmocka_unit_test(test_tampered_signedinfo_rsa),
		cmocka_unit_test(test_tampered_signedinfo_ecdsa),
		cmocka_unit_test(test_tampered_signedinfo_pss),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_expired_signer),
		cmocka_unit_test(test_key_usage),
		cmocka_unit_test(test_missing_signature),
		cmocka_unit_test(test_two_signatures),
		cmocka_unit_test(test_sub_element_reference),
		cmocka_unit_test(test_signature_not_last),
		cmocka_unit_test(test_disallowed_algorithm),
		cmocka_unit_test(test_no_certificate),
		cmocka_unit_test(test_weak_key),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_sign_uncanonicalisable),
		cmocka_unit_test(test_silent),
		cmocka_unit_test(test_dtd_document),
		cmocka_unit_test(test_xmlsec_library_signer),
		cmocka_unit_test(test_pss_prefixlist),
		cmocka_unit_test(test_cli_signs_we_verify),
		cmocka_unit_test(test_we_sign_cli_verifies),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
