/*
 * test_xmlenc.c - XML Encryption of content containers.
 *
 * What a reader of a message cares about: what we encrypt for a reader
 * comes back byte for byte with that reader's key, and only with it; an
 * altered, downgraded or malformed EncryptedData is refused with an error,
 * never decrypted into something else, never a crash.  Interop is checked
 * both ways against an independent implementation (npm xml-encryption,
 * tests/interop), our output also against a second one that hands back
 * bytes, not text (Apache Santuario on Java, tests/interop/santuario), and
 * against the W3C XML-Enc 1.1 interop vectors in ../shared/vectors; those
 * cases skip with a message where the tool or the vectors are absent.
 *
 * Documents are parsed with plain libxml2 here, not xmlparse_safe(): what is
 * under test is xmlenc.c, and its inputs are our own or the vectors.
 * Runs with the repository root as working directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "err.h"
#include "keys.h"
#include "pki.h"
#include "testutil.h"
#include "util.h"
#include "xmlenc.h"

#define NS_XENC		"http://www.w3.org/2001/04/xmlenc#"
#define NS_XENC11	"http://www.w3.org/2009/xmlenc11#"
#define NS_DS		"http://www.w3.org/2000/09/xmldsig#"
#define NS_OSCI128	"http://xoev.de/transport/osci12/8"
#define XC(s)		((const xmlChar *)(s))

#define VECTORS		"../shared/vectors/xmlsec/xmlenc11-interop-2012/"
#define INTEROP_DIR	"tests/interop"
#define NO_LIMIT	((size_t)64 << 20)

static struct test_party p3072a, p3072b, p4096, p2048, pec;

/* A content container as it might be sent: UTF-8 XML with non-ASCII text. */
static const char container[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ContentContainer xmlns=\"urn:example:xta\">\r\n"
    "  <Message filename=\"antrag.xml\" contentType=\"text/xml\">"
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x80\x93 \xe2\x82\xac 12,50"
    " &amp; &lt;mehr&gt;\t</Message>\n"
    "</ContentContainer>\n";

/* ---- fixtures ---------------------------------------------------------- */

static int
group_setup(void **state)
{
	(void)state;
	xmlInitParser();
	test_party_make(&p3072a, PKI_KEY_RSA3072, "reader-a");
	test_party_make(&p3072b, PKI_KEY_RSA3072, "reader-b");
	test_party_make(&p4096, PKI_KEY_RSA4096, "reader-4096");
	test_party_make(&p2048, PKI_KEY_RSA2048, "reader-2048");
	test_party_make(&pec, PKI_KEY_EC_P256, "reader-ec");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	test_party_free(&p3072a);
	test_party_free(&p3072b);
	test_party_free(&p4096);
	test_party_free(&p2048);
	test_party_free(&pec);
	xmlCleanupParser();
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static int
is_elem(xmlNodePtr n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    xmlStrEqual(n->ns->href, XC(ns)) && xmlStrEqual(n->name, XC(name));
}

/* The first ns:name at or below n, in document order. */
static xmlNodePtr
find(xmlNodePtr n, const char *ns, const char *name)
{
	xmlNodePtr c, f;

	if (is_elem(n, ns, name))
		return n;
	for (c = n != NULL ? n->children : NULL; c != NULL; c = c->next)
		if ((f = find(c, ns, name)) != NULL)
			return f;
	return NULL;
}

/* The element child ns:name of n. */
static xmlNodePtr
kid(xmlNodePtr n, const char *ns, const char *name)
{
	xmlNodePtr c;

	for (c = n != NULL ? n->children : NULL; c != NULL; c = c->next)
		if (is_elem(c, ns, name))
			return c;
	return NULL;
}

static xmlDocPtr
parse(const char *xml)
{
	return xmlReadMemory(xml, (int)strlen(xml), "test.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static char *
dump(xmlDocPtr doc)
{
	xmlChar *mem = NULL;
	char *s;
	int size = 0;

	xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
	assert_non_null(mem);
	assert_non_null(s = strdup((const char *)mem));
	xmlFree(mem);
	return s;
}

/*
 * Encrypts pt for rcpt and returns the serialised document: the
 * EncryptedData as document element, or inside a SOAP envelope.
 */
static char *
encrypt_xml(const void *pt, size_t len, X509 *const *rcpt, size_t n,
    int envelope)
{
	xmlDocPtr doc = xmlNewDoc(XC("1.0"));
	xmlNodePtr ed = NULL, root, body, cc;
	xmlNsPtr soap;
	char *s;

	assert_non_null(doc);
	assert_int_equal(xmlenc_encrypt(doc, pt, len, rcpt, n, &ed), 0);
	assert_non_null(ed);
	assert_null(ed->parent);
	if (!envelope)
		xmlDocSetRootElement(doc, ed);
	else {
		assert_non_null(root = xmlNewDocNode(doc, NULL,
		    XC("Envelope"), NULL));
		soap = xmlNewNs(root, XC("http://www.w3.org/2003/05/soap-envelope"),
		    XC("soap"));
		xmlSetNs(root, soap);
		xmlDocSetRootElement(doc, root);
		assert_non_null(body = xmlNewChild(root, soap, XC("Body"), NULL));
		assert_non_null(cc = xmlNewChild(body, NULL,
		    XC("GenericContentContainer"), NULL));
		xmlSetNs(cc, xmlNewNs(cc, XC("urn:example:xta"), NULL));
		assert_non_null(xmlAddChild(cc, ed));
	}
	s = dump(doc);
	xmlFreeDoc(doc);
	return s;
}

/* Parses xml, finds its first EncryptedData and decrypts it. */
static int
decrypt_xml(const char *xml, const struct test_party *p, X509 *cert, size_t max,
    unsigned char **pt, size_t *len)
{
	xmlDocPtr doc;
	int r;

	assert_non_null(doc = parse(xml));
	r = xmlenc_decrypt(find(xmlDocGetRootElement(doc), NS_XENC,
	    "EncryptedData"), p->keys, cert, max, pt, len);
	xmlFreeDoc(doc);
	return r;
}

/* Decrypts xml and checks the result is exactly want. */
static void
expect_plain(const char *xml, const struct test_party *p, X509 *cert,
    const void *want, size_t wantlen)
{
	unsigned char *pt = NULL;
	size_t len = 0;

	assert_int_equal(decrypt_xml(xml, p, cert, NO_LIMIT, &pt, &len), 0);
	assert_non_null(pt);
	assert_int_equal(len, wantlen);
	assert_memory_equal(pt, want, wantlen);
	assert_int_equal(pt[len], 0);
	free(pt);
}

/* Decrypting xml fails with err and leaves the out-parameters alone. */
static void
expect_fail(const char *xml, const struct test_party *p, X509 *cert, int err)
{
	unsigned char sentinel, *pt = &sentinel;
	size_t len = 4711;

	assert_int_equal(decrypt_xml(xml, p, cert, NO_LIMIT, &pt, &len), err);
	assert_ptr_equal(pt, &sentinel);
	assert_int_equal(len, 4711);
}

/* n bytes covering every byte value, then random. */
static unsigned char *
binary_payload(size_t n)
{
	unsigned char *b = malloc(n);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < n && i < 512; i++)
		b[i] = (unsigned char)i;
	if (n > 512)
		assert_int_equal(RAND_bytes(b + 512, (int)(n - 512)), 1);
	return b;
}

typedef void (*mutator)(xmlDocPtr doc, const void *arg);

/* xml after fn changed its parsed tree. */
static char *
mutate(const char *xml, mutator fn, const void *arg)
{
	xmlDocPtr doc;
	char *s;

	assert_non_null(doc = parse(xml));
	fn(doc, arg);
	s = dump(doc);
	xmlFreeDoc(doc);
	return s;
}

/* Flips one byte of a base64 CipherValue; offset < 0 counts from the end. */
static void
flip_b64(xmlNodePtr cv, long offset)
{
	xmlChar *text;
	unsigned char *raw = NULL;
	char *b64 = NULL;
	size_t len = 0, b64len = 0, at;

	assert_non_null(cv);
	assert_non_null(text = xmlNodeGetContent(cv));
	assert_int_equal(util_b64_decode((const char *)text, strlen((const char *)text),
	    SIZE_MAX, &raw, &len), 0);
	at = offset >= 0 ? (size_t)offset : len - (size_t)-offset;
	assert_true(at < len);
	raw[at] ^= 0x01;
	assert_int_equal(util_b64_encode(raw, len, &b64, &b64len), 0);
	xmlNodeSetContent(cv, XC(b64));
	xmlFree(text);
	free(raw);
	free(b64);
}

static xmlNodePtr
data_cipher_value(xmlDocPtr doc)
{
	xmlNodePtr ed = find(xmlDocGetRootElement(doc), NS_XENC, "EncryptedData");

	return kid(kid(ed, NS_XENC, "CipherData"), NS_XENC, "CipherValue");
}

static xmlNodePtr
first_encrypted_key(xmlDocPtr doc)
{
	return find(xmlDocGetRootElement(doc), NS_XENC, "EncryptedKey");
}

static void
mut_flip_data(xmlDocPtr doc, const void *arg)
{
	flip_b64(data_cipher_value(doc), *(const long *)arg);
}

static void
mut_flip_wrapped_key(xmlDocPtr doc, const void *arg)
{
	(void)arg;
	flip_b64(kid(kid(first_encrypted_key(doc), NS_XENC, "CipherData"),
	    NS_XENC, "CipherValue"), 100);
}

/* Sets IvLength/@Value, or removes the element when arg is NULL. */
static void
mut_ivlength(xmlDocPtr doc, const void *arg)
{
	xmlNodePtr iv = find(xmlDocGetRootElement(doc), NS_OSCI128, "IvLength");

	assert_non_null(iv);
	if (arg == NULL) {
		xmlUnlinkNode(iv);
		xmlFreeNode(iv);
	} else
		xmlSetProp(iv, XC("Value"), XC(arg));
}

/* Sets the Algorithm of the first EncryptedKey's EncryptionMethod. */
static void
mut_key_alg(xmlDocPtr doc, const void *arg)
{
	xmlSetProp(kid(first_encrypted_key(doc), NS_XENC, "EncryptionMethod"),
	    XC("Algorithm"), XC(arg));
}

/* Sets the Algorithm of the EncryptedData's EncryptionMethod. */
static void
mut_data_alg(xmlDocPtr doc, const void *arg)
{
	xmlSetProp(kid(find(xmlDocGetRootElement(doc), NS_XENC,
	    "EncryptedData"), NS_XENC, "EncryptionMethod"),
	    XC("Algorithm"), XC(arg));
}

/* Removes the first element named by arg ("ns name"). */
static void
mut_remove(xmlDocPtr doc, const void *arg)
{
	const char *const *nsname = arg;
	xmlNodePtr n = find(xmlDocGetRootElement(doc), nsname[0], nsname[1]);

	assert_non_null(n);
	xmlUnlinkNode(n);
	xmlFreeNode(n);
}

/*
 * An EncryptedData built independently of xmlenc.c, to reach what our
 * encryption never writes: 16-byte IVs, other algorithms, rsa-1_5.
 */
struct spec {
	const char *data_alg;	/* NULL: aes256-gcm */
	size_t keylen;		/* CEK length; 0: 32 (the cipher follows it) */
	size_t ivlen;		/* 0: 12 */
	const char *ivlen_attr;	/* NULL: no osci128:IvLength */
	const char *key_alg;	/* NULL: xenc11#rsa-oaep */
	int pkcs1;		/* wrap with RSAES-PKCS1-v1_5 */
	const EVP_MD *oaep_md;	/* NULL: SHA-256 */
	const EVP_MD *mgf1_md;	/* NULL: SHA-256 */
	const char *digest_uri;	/* NULL: no ds:DigestMethod */
	const char *mgf_uri;	/* NULL: no xenc11:MGF */
	const char *method_extra; /* more XML inside the key EncryptionMethod */
	int ident;		/* 0 X509Certificate, 1 IssuerSerial, 2 none */
};

static void
gcm(const unsigned char *key, size_t keylen, const unsigned char *iv,
    size_t ivlen, const void *pt, size_t len, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, keylen == 16 ?
	    EVP_aes_128_gcm() : EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
	    (int)ivlen, NULL), 1);
	assert_int_equal(EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv), 1);
	if (len > 0)
		assert_int_equal(EVP_EncryptUpdate(ctx, out, &n, pt, (int)len), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + n, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16,
	    out + len), 1);
	EVP_CIPHER_CTX_free(ctx);
}

static char *
wrap(const struct spec *s, X509 *cert, const unsigned char *key, size_t keylen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(cert), NULL);
	unsigned char out[1024];
	size_t n = sizeof(out), b64len;
	char *b64;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	if (s->pkcs1)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PADDING), 1);
	else {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_OAEP_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx,
		    s->oaep_md != NULL ? s->oaep_md : EVP_sha256()), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx,
		    s->mgf1_md != NULL ? s->mgf1_md : EVP_sha256()), 1);
	}
	assert_int_equal(EVP_PKEY_encrypt(ctx, out, &n, key, keylen), 1);
	EVP_PKEY_CTX_free(ctx);
	assert_int_equal(util_b64_encode(out, n, &b64, &b64len), 0);
	return b64;
}

static void
put_ident(FILE *f, const struct spec *s, X509 *cert)
{
	unsigned char *der = NULL;
	char *b64, *serial, *issuer;
	size_t b64len;
	BIGNUM *bn;
	BIO *bio;
	long n;
	int derlen;

	if (s->ident == 2)
		return;
	fputs("<ds:KeyInfo><ds:X509Data>", f);
	if (s->ident == 0) {
		assert_true((derlen = i2d_X509(cert, &der)) > 0);
		assert_int_equal(util_b64_encode(der, (size_t)derlen, &b64,
		    &b64len), 0);
		fprintf(f, "<ds:X509Certificate>%s</ds:X509Certificate>", b64);
		free(b64);
		OPENSSL_free(der);
	} else {
		/* ", " between RDNs, as Java writes it; we emit ",". */
		assert_non_null(bio = BIO_new(BIO_s_mem()));
		assert_true(X509_NAME_print_ex(bio, X509_get_issuer_name(cert), 0,
		    (XN_FLAG_RFC2253 & ~XN_FLAG_SEP_MASK) |
		    XN_FLAG_SEP_CPLUS_SPC) > 0);
		n = BIO_get_mem_data(bio, &issuer);
		assert_non_null(bn = ASN1_INTEGER_to_BN(
		    X509_get0_serialNumber(cert), NULL));
		assert_non_null(serial = BN_bn2dec(bn));
		fprintf(f, "<ds:X509IssuerSerial><ds:X509IssuerName>%.*s"
		    "</ds:X509IssuerName><ds:X509SerialNumber> %s "
		    "</ds:X509SerialNumber></ds:X509IssuerSerial>",
		    (int)n, issuer, serial);
		OPENSSL_free(serial);
		BN_free(bn);
		BIO_free(bio);
	}
	fputs("</ds:X509Data></ds:KeyInfo>", f);
}

static char *
build(const struct spec *s, X509 *cert, const void *pt, size_t len)
{
	size_t keylen = s->keylen != 0 ? s->keylen : 32;
	size_t ivlen = s->ivlen != 0 ? s->ivlen : 12, b64len, memlen;
	unsigned char key[32], iv[16], *blob;
	char *wrapped, *b64, *mem = NULL;
	FILE *f;

	assert_true(keylen <= sizeof(key) && ivlen <= sizeof(iv));
	assert_int_equal(RAND_bytes(key, (int)keylen), 1);
	assert_int_equal(RAND_bytes(iv, (int)ivlen), 1);
	assert_non_null(blob = malloc(ivlen + len + 16));
	memcpy(blob, iv, ivlen);
	gcm(key, keylen, iv, ivlen, pt, len, blob + ivlen);
	assert_int_equal(util_b64_encode(blob, ivlen + len + 16, &b64,
	    &b64len), 0);
	wrapped = wrap(s, cert, key, keylen);

	assert_non_null(f = open_memstream(&mem, &memlen));
	fprintf(f, "<xenc:EncryptedData xmlns:xenc=\"" NS_XENC "\" "
	    "xmlns:ds=\"" NS_DS "\" Type=\"" NS_XENC "Element\">"
	    "<xenc:EncryptionMethod Algorithm=\"%s\">",
	    s->data_alg != NULL ? s->data_alg : NS_XENC11 "aes256-gcm");
	if (s->ivlen_attr != NULL)
		fprintf(f, "<o:IvLength xmlns:o=\"" NS_OSCI128 "\" Value=\"%s\"/>",
		    s->ivlen_attr);
	fprintf(f, "</xenc:EncryptionMethod><ds:KeyInfo><xenc:EncryptedKey>"
	    "<xenc:EncryptionMethod Algorithm=\"%s\">",
	    s->key_alg != NULL ? s->key_alg : NS_XENC11 "rsa-oaep");
	if (s->mgf_uri != NULL)
		fprintf(f, "<MGF xmlns=\"" NS_XENC11 "\" Algorithm=\"%s\"/>",
		    s->mgf_uri);
	if (s->digest_uri != NULL)
		fprintf(f, "<ds:DigestMethod Algorithm=\"%s\"/>", s->digest_uri);
	if (s->method_extra != NULL)
		fputs(s->method_extra, f);
	fputs("</xenc:EncryptionMethod>", f);
	put_ident(f, s, cert);
	fprintf(f, "<xenc:CipherData><xenc:CipherValue>%s</xenc:CipherValue>"
	    "</xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
	    "<xenc:CipherData><xenc:CipherValue>%s</xenc:CipherValue>"
	    "</xenc:CipherData></xenc:EncryptedData>", wrapped, b64);
	assert_int_equal(fclose(f), 0);
	OPENSSL_cleanse(key, sizeof(key));
	free(blob);
	free(b64);
	free(wrapped);
	return mem;
}

/* The default of build(): what xmlenc.c writes, minus IvLength. */
#define SPEC_SHA256 \
	.mgf_uri = NS_XENC11 "mgf1sha256", .digest_uri = NS_XENC "sha256"

/* ---- round trips and output form --------------------------------------- */

static void
roundtrip(const struct test_party *p)
{
	X509 *rcpt[1] = { p->cert };
	unsigned char *bin = binary_payload(70000);
	char *xml;

	xml = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	expect_plain(xml, p, p->cert, container, strlen(container));
	expect_plain(xml, p, NULL, container, strlen(container));
	free(xml);
	xml = encrypt_xml(bin, 70000, rcpt, 1, 1);
	expect_plain(xml, p, p->cert, bin, 70000);
	free(xml);
	free(bin);
}

static void
test_roundtrip_rsa3072(void **state)
{
	(void)state;
	roundtrip(&p3072a);
}

static void
test_roundtrip_rsa4096(void **state)
{
	(void)state;
	roundtrip(&p4096);
}

/* RSA-2048 is the minimum and still accepted; empty content works. */
static void
test_roundtrip_rsa2048_empty(void **state)
{
	X509 *rcpt[1] = { p2048.cert };
	unsigned char *pt = NULL;
	size_t len = 1;
	char *xml;

	(void)state;
	xml = encrypt_xml(NULL, 0, rcpt, 1, 0);
	assert_int_equal(decrypt_xml(xml, &p2048, p2048.cert, 0, &pt, &len), 0);
	assert_int_equal(len, 0);
	assert_non_null(pt);
	free(pt);
	free(xml);
}

/* The node straight from xmlenc_encrypt(), before it is in any tree. */
static void
test_decrypt_unlinked_node(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };
	xmlDocPtr doc = xmlNewDoc(XC("1.0"));
	xmlNodePtr ed = NULL;
	unsigned char *pt = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(xmlenc_encrypt(doc, (const unsigned char *)"abc", 3,
	    rcpt, 1, &ed), 0);
	assert_int_equal(xmlenc_decrypt(ed, p3072a.keys, p3072a.cert, 3, &pt,
	    &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(pt, "abc", 3);
	free(pt);
	xmlFreeNode(ed);
	xmlFreeDoc(doc);
}

static int
attr_eq(xmlNodePtr n, const char *name, const char *want)
{
	xmlChar *v = xmlGetNoNsProp(n, XC(name));
	int eq = v != NULL && xmlStrEqual(v, XC(want));

	xmlFree(v);
	return eq;
}

static size_t
b64_len(xmlNodePtr n)
{
	xmlChar *t;
	unsigned char *raw = NULL;
	size_t len = 0;

	assert_non_null(n);
	assert_non_null(t = xmlNodeGetContent(n));
	assert_int_equal(util_b64_decode((const char *)t, strlen((const char *)t),
	    SIZE_MAX, &raw, &len), 0);
	xmlFree(t);
	free(raw);
	return len;
}

/* The exact form xmlenc.h promises, element by element. */
static void
test_output_form(void **state)
{
	X509 *rcpt[2] = { p3072a.cert, p4096.cert };
	xmlNodePtr ed, em, iv, ki, ek, kem, mgf, dm, xd, is;
	xmlDocPtr doc;
	char *xml;
	int i;

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 2, 0);
	assert_non_null(doc = parse(xml));
	ed = xmlDocGetRootElement(doc);
	assert_true(is_elem(ed, NS_XENC, "EncryptedData"));
	assert_true(attr_eq(ed, "Type", NS_XENC "Element"));
	/* The first child is the EncryptionMethod (xml-encryption needs it). */
	assert_true(is_elem(xmlFirstElementChild(ed), NS_XENC,
	    "EncryptionMethod"));
	em = kid(ed, NS_XENC, "EncryptionMethod");
	assert_true(attr_eq(em, "Algorithm", NS_XENC11 "aes256-gcm"));
	assert_non_null(iv = kid(em, NS_OSCI128, "IvLength"));
	assert_string_equal(iv->ns->prefix, "osci128");
	assert_true(attr_eq(iv, "Value", "12"));
	assert_int_equal(b64_len(data_cipher_value(doc)),
	    12 + strlen(container) + 16);
	assert_non_null(ki = kid(ed, NS_DS, "KeyInfo"));
	for (i = 0, ek = kid(ki, NS_XENC, "EncryptedKey"); i < 2;
	    i++, ek = xmlNextElementSibling(ek)) {
		assert_true(is_elem(ek, NS_XENC, "EncryptedKey"));
		kem = kid(ek, NS_XENC, "EncryptionMethod");
		assert_true(attr_eq(kem, "Algorithm", NS_XENC11 "rsa-oaep"));
		assert_non_null(mgf = kid(kem, NS_XENC11, "MGF"));
		assert_string_equal(mgf->ns->prefix, "xenc11");
		assert_true(attr_eq(mgf, "Algorithm", NS_XENC11 "mgf1sha256"));
		assert_non_null(dm = kid(kem, NS_DS, "DigestMethod"));
		assert_true(attr_eq(dm, "Algorithm", NS_XENC "sha256"));
		xd = kid(kid(ek, NS_DS, "KeyInfo"), NS_DS, "X509Data");
		assert_non_null(is = kid(xd, NS_DS, "X509IssuerSerial"));
		assert_non_null(kid(is, NS_DS, "X509IssuerName"));
		assert_non_null(kid(is, NS_DS, "X509SerialNumber"));
		assert_int_equal(b64_len(kid(xd, NS_DS, "X509Certificate")),
		    (size_t)i2d_X509(rcpt[i], NULL));
		assert_int_equal(b64_len(kid(kid(ek, NS_XENC, "CipherData"),
		    NS_XENC, "CipherValue")), i == 0 ? 384 : 512);
	}
	assert_null(ek);
	xmlFreeDoc(doc);
	free(xml);
}

/* Two encryptions of the same content share neither key nor IV. */
static void
test_fresh_key_and_iv(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };
	char *a, *b;
	xmlDocPtr da, db;
	xmlChar *ta, *tb;

	(void)state;
	a = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	b = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	assert_non_null(da = parse(a));
	assert_non_null(db = parse(b));
	ta = xmlNodeGetContent(data_cipher_value(da));
	tb = xmlNodeGetContent(data_cipher_value(db));
	assert_false(xmlStrncmp(ta, tb, 16) == 0);	/* IV differs */
	xmlFree(ta);
	xmlFree(tb);
	ta = xmlNodeGetContent(first_encrypted_key(da));
	tb = xmlNodeGetContent(first_encrypted_key(db));
	assert_false(xmlStrEqual(ta, tb));
	xmlFree(ta);
	xmlFree(tb);
	xmlFreeDoc(da);
	xmlFreeDoc(db);
	free(a);
	free(b);
}

/* ---- recipients -------------------------------------------------------- */

static void
test_two_recipients(void **state)
{
	X509 *rcpt[2] = { p3072a.cert, p3072b.cert };
	char *xml;

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 2, 1);
	expect_plain(xml, &p3072a, p3072a.cert, container, strlen(container));
	expect_plain(xml, &p3072b, p3072b.cert, container, strlen(container));
	/* Without a certificate each EncryptedKey is tried. */
	expect_plain(xml, &p3072b, NULL, container, strlen(container));
	/* The certificate picks the EncryptedKey: b's key cannot open a's. */
	expect_fail(xml, &p3072b, p3072a.cert, GW_ERR_CRYPTO);
	free(xml);
}

static void
test_wrong_key(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };
	char *xml;

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	expect_fail(xml, &p3072b, NULL, GW_ERR_CRYPTO);
	expect_fail(xml, &p4096, NULL, GW_ERR_CRYPTO);
	expect_fail(xml, &p3072b, p3072a.cert, GW_ERR_CRYPTO);
	/* Not encrypted for this certificate at all. */
	expect_fail(xml, &p3072b, p3072b.cert, GW_ERR_NOT_FOUND);
	/* An EC key cannot do RSA-OAEP. */
	expect_fail(xml, &pec, NULL, GW_ERR_CRYPTO);
	free(xml);
}

/* EncryptedKeys named by IssuerSerial only, or not named at all. */
static void
test_key_identification(void **state)
{
	struct spec s = { SPEC_SHA256, .ivlen_attr = "12", .ident = 1 };
	char *xml;

	(void)state;
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_plain(xml, &p3072a, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072a, p3072b.cert, GW_ERR_NOT_FOUND);
	free(xml);
	s.ident = 2;
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_plain(xml, &p3072a, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072b, p3072b.cert, GW_ERR_CRYPTO);
	free(xml);
}

static void
test_recipient_refused(void **state)
{
	X509 *ec[1] = { pec.cert };
	X509 *mixed[2] = { p3072a.cert, pec.cert };
	X509 *many[17], *weak[1], *none[1] = { NULL };
	struct pki_cert_spec spec = { .cn = "weak", .days = 1 };
	xmlDocPtr doc = xmlNewDoc(XC("1.0"));
	xmlNodePtr sentinel = (xmlNodePtr)doc, out = sentinel;
	EVP_PKEY *k1024;
	size_t i;

	(void)state;
	assert_int_equal(xmlenc_encrypt(doc, (const unsigned char *)"x", 1,
	    ec, 1, &out), GW_ERR_KEY_WEAK);
	assert_ptr_equal(out, sentinel);
	assert_int_equal(xmlenc_encrypt(doc, (const unsigned char *)"x", 1,
	    mixed, 2, &out), GW_ERR_KEY_WEAK);
	assert_ptr_equal(out, sentinel);

	assert_non_null(k1024 = EVP_RSA_gen(1024));
	assert_int_equal(pki_make_cert(&spec, k1024, NULL, NULL, &weak[0]), 0);
	assert_int_equal(xmlenc_encrypt(doc, (const unsigned char *)"x", 1,
	    weak, 1, &out), GW_ERR_KEY_WEAK);
	assert_ptr_equal(out, sentinel);
	X509_free(weak[0]);
	EVP_PKEY_free(k1024);

	for (i = 0; i < 17; i++)
		many[i] = p2048.cert;
	assert_int_equal(xmlenc_encrypt(doc, (const unsigned char *)"x", 1,
	    many, 17, &out), GW_ERR_TOO_LARGE);
	assert_int_equal(xmlenc_encrypt(doc, (const unsigned char *)"x", 1,
	    many, 0, &out), GW_ERR_INVALID);
	assert_int_equal(xmlenc_encrypt(doc, (const unsigned char *)"x", 1,
	    none, 1, &out), GW_ERR_INVALID);
	assert_int_equal(xmlenc_encrypt(doc, NULL, 1, many, 1, &out),
	    GW_ERR_INVALID);
	assert_ptr_equal(out, sentinel);
	xmlFreeDoc(doc);
}

/* ---- tampering --------------------------------------------------------- */

static void
expect_mutation_fails(const char *xml, mutator fn, const void *arg, int err)
{
	char *bad = mutate(xml, fn, arg);

	expect_fail(bad, &p3072a, p3072a.cert, err);
	free(bad);
}

static void
test_tampered_ciphertext(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };
	long first_ct = 12, last_ct = -17, tag = -1;
	char *xml;

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	expect_mutation_fails(xml, mut_flip_data, &first_ct, GW_ERR_CRYPTO);
	expect_mutation_fails(xml, mut_flip_data, &last_ct, GW_ERR_CRYPTO);
	expect_mutation_fails(xml, mut_flip_data, &tag, GW_ERR_CRYPTO);
	expect_mutation_fails(xml, mut_flip_wrapped_key, NULL, GW_ERR_CRYPTO);
	/* And the untouched document still decrypts. */
	expect_plain(xml, &p3072a, p3072a.cert, container, strlen(container));
	free(xml);
}

static void
test_tampered_iv(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };
	long first = 0, last = 11;
	char *xml;

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	expect_mutation_fails(xml, mut_flip_data, &first, GW_ERR_CRYPTO);
	expect_mutation_fails(xml, mut_flip_data, &last, GW_ERR_CRYPTO);
	/* Claiming a 16-byte IV shifts the data: the tag cannot verify. */
	expect_mutation_fails(xml, mut_ivlength, "16", GW_ERR_CRYPTO);
	expect_mutation_fails(xml, mut_ivlength, "8", GW_ERR_INVALID);
	expect_mutation_fails(xml, mut_ivlength, "", GW_ERR_INVALID);
	free(xml);
}

/*
 * Elements taken out of a valid message: structure is refused; a missing
 * MGF or DigestMethod means SHA-1 (the spec's default), so the key no
 * longer unwraps instead of being guessed.
 */
static void
test_missing_elements(void **state)
{
	static const char *const keyinfo[] = { NS_DS, "KeyInfo" };
	static const char *const enckey[] = { NS_XENC, "EncryptedKey" };
	static const char *const keycipher[] = { NS_XENC, "CipherData" };
	static const char *const method[] = { NS_XENC, "EncryptionMethod" };
	static const char *const mgf[] = { NS_XENC11, "MGF" };
	static const char *const digest[] = { NS_DS, "DigestMethod" };
	X509 *rcpt[1] = { p3072a.cert };
	char *xml;

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	expect_mutation_fails(xml, mut_remove, keyinfo, GW_ERR_INVALID);
	expect_mutation_fails(xml, mut_remove, enckey, GW_ERR_INVALID);
	expect_mutation_fails(xml, mut_remove, keycipher, GW_ERR_INVALID);
	expect_mutation_fails(xml, mut_remove, method, GW_ERR_INVALID);
	expect_mutation_fails(xml, mut_remove, mgf, GW_ERR_CRYPTO);
	expect_mutation_fails(xml, mut_remove, digest, GW_ERR_CRYPTO);
	free(xml);
}

/* ---- algorithms -------------------------------------------------------- */

static void
test_rsa15_refused(void **state)
{
	struct spec s = { .key_alg = NS_XENC "rsa-1_5", .pkcs1 = 1,
	    .ivlen_attr = "12" };
	X509 *rcpt[1] = { p3072a.cert };
	char *xml;

	(void)state;
	/* A correctly wrapped rsa-1_5 key: refused, not merely failing. */
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072a, p3072a.cert, GW_ERR_SIG_ALGORITHM);
	expect_fail(xml, &p3072a, NULL, GW_ERR_SIG_ALGORITHM);
	free(xml);
	/* Our own message relabelled: the label alone decides. */
	xml = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	expect_mutation_fails(xml, mut_key_alg, NS_XENC "rsa-1_5",
	    GW_ERR_SIG_ALGORITHM);
	free(xml);
}

static void
test_other_algorithms_refused(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };
	char *xml;
	struct spec s = { .ivlen_attr = "12", SPEC_SHA256 };

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	expect_mutation_fails(xml, mut_data_alg, NS_XENC "aes256-cbc",
	    GW_ERR_SIG_ALGORITHM);
	expect_mutation_fails(xml, mut_data_alg, NS_XENC11 "aes192-gcm",
	    GW_ERR_SIG_ALGORITHM);
	expect_mutation_fails(xml, mut_key_alg, NS_XENC "kw-aes256",
	    GW_ERR_SIG_ALGORITHM);
	/* rsa-oaep-mgf1p fixes MGF1-SHA-1: an MGF element must not be there. */
	expect_mutation_fails(xml, mut_key_alg, NS_XENC "rsa-oaep-mgf1p",
	    GW_ERR_SIG_ALGORITHM);
	free(xml);

	s.digest_uri = "http://www.w3.org/2001/04/xmldsig-more#md5";
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072a, p3072a.cert, GW_ERR_SIG_ALGORITHM);
	free(xml);
	s.digest_uri = NS_XENC "sha256";
	s.mgf_uri = NS_XENC11 "mgf1sha224";
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072a, p3072a.cert, GW_ERR_SIG_ALGORITHM);
	free(xml);
	/* An OAEP label: keys_decrypt() cannot apply one. */
	s.mgf_uri = NS_XENC11 "mgf1sha256";
	s.method_extra = "<xenc:OAEPparams>9lWu3Q==</xenc:OAEPparams>";
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072a, p3072a.cert, GW_ERR_SIG_ALGORITHM);
	free(xml);
	/* An empty label is no label. */
	s.method_extra = "<xenc:OAEPparams></xenc:OAEPparams>";
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_plain(xml, &p3072a, p3072a.cert, container, strlen(container));
	free(xml);
}

static void
test_other_algorithms_accepted(void **state)
{
	/* aes128-gcm content. */
	struct spec s128 = { .data_alg = NS_XENC11 "aes128-gcm", .keylen = 16,
	    .ivlen_attr = "12", SPEC_SHA256 };
	/* rsa-oaep-mgf1p with the default digest (SHA-1). */
	struct spec mgf1p = { .key_alg = NS_XENC "rsa-oaep-mgf1p",
	    .oaep_md = EVP_sha1(), .mgf1_md = EVP_sha1() };
	/* rsa-oaep-mgf1p with a SHA-256 digest, MGF1 stays SHA-1. */
	struct spec mgf1p256 = { .key_alg = NS_XENC "rsa-oaep-mgf1p",
	    .digest_uri = NS_XENC "sha256", .mgf1_md = EVP_sha1() };
	/* xenc11#rsa-oaep without MGF and DigestMethod: both SHA-1. */
	struct spec defaults = { .oaep_md = EVP_sha1(), .mgf1_md = EVP_sha1() };
	/* Different digests for OAEP and MGF1. */
	struct spec mixed = { .digest_uri = NS_XENC "sha512",
	    .oaep_md = EVP_sha512(), .mgf_uri = NS_XENC11 "mgf1sha384",
	    .mgf1_md = EVP_sha384() };
	const struct spec *all[] = { &s128, &mgf1p, &mgf1p256, &defaults, &mixed };
	char *xml;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		xml = build(all[i], p4096.cert, container, strlen(container));
		expect_plain(xml, &p4096, p4096.cert, container,
		    strlen(container));
		free(xml);
	}
}

/* A key of the wrong length after unwrapping is refused, not used. */
static void
test_wrong_key_length(void **state)
{
	struct spec s = { .keylen = 16, .ivlen_attr = "12", SPEC_SHA256 };
	struct spec s2 = { .data_alg = NS_XENC11 "aes128-gcm",
	    .ivlen_attr = "12", SPEC_SHA256 };
	char *xml;

	(void)state;
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072a, p3072a.cert, GW_ERR_CRYPTO);
	free(xml);
	xml = build(&s2, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072a, p3072a.cert, GW_ERR_CRYPTO);
	free(xml);
}

/* ---- IV length --------------------------------------------------------- */

/* Old OSCI peers: 16-byte IV and no IvLength element. */
static void
test_iv16_without_ivlength(void **state)
{
	struct spec s = { .ivlen = 16, SPEC_SHA256 };
	unsigned char *bin = binary_payload(1000);
	char *xml;

	(void)state;
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_plain(xml, &p3072a, p3072a.cert, container, strlen(container));
	free(xml);
	xml = build(&s, p3072a.cert, bin, 1000);
	expect_plain(xml, &p3072a, NULL, bin, 1000);
	free(xml);
	/* Announced as 16: fine too. */
	s.ivlen_attr = "16";
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_plain(xml, &p3072a, p3072a.cert, container, strlen(container));
	free(xml);
	/* Announced as 12 while it is 16: the tag cannot verify. */
	s.ivlen_attr = "12";
	xml = build(&s, p3072a.cert, container, strlen(container));
	expect_fail(xml, &p3072a, p3072a.cert, GW_ERR_CRYPTO);
	free(xml);
	free(bin);
}

/*
 * W3C XML-Enc 1.1 peers (xml-encryption, xmlsec, Santuario): 12-byte IV
 * and no IvLength element.  Also tiny contents, where 16 + 16 does not
 * even fit.
 */
static void
test_iv12_without_ivlength(void **state)
{
	struct spec s = { SPEC_SHA256 };
	X509 *rcpt[1] = { p3072a.cert };
	char *xml, *bare;
	size_t n;

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 1, 0);
	bare = mutate(xml, mut_ivlength, NULL);
	expect_plain(bare, &p3072a, p3072a.cert, container, strlen(container));
	free(bare);
	free(xml);
	for (n = 0; n < 6; n++) {
		xml = build(&s, p3072a.cert, "abcdef", n);
		expect_plain(xml, &p3072a, p3072a.cert, "abcdef", n);
		free(xml);
	}
}

/* ---- limits and hostile input ------------------------------------------ */

static void
test_size_limit(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };
	unsigned char *bin = binary_payload(1000), sentinel, *pt = &sentinel;
	size_t len = 4711;
	char *xml;
	struct spec s = { .ivlen = 16, SPEC_SHA256 };

	(void)state;
	xml = encrypt_xml(bin, 1000, rcpt, 1, 0);
	assert_int_equal(decrypt_xml(xml, &p3072a, p3072a.cert, 999, &pt,
	    &len), GW_ERR_TOO_LARGE);
	assert_int_equal(decrypt_xml(xml, &p3072a, p3072a.cert, 0, &pt,
	    &len), GW_ERR_TOO_LARGE);
	assert_ptr_equal(pt, &sentinel);
	assert_int_equal(len, 4711);
	assert_int_equal(decrypt_xml(xml, &p3072a, p3072a.cert, 1000, &pt,
	    &len), 0);
	assert_int_equal(len, 1000);
	assert_memory_equal(pt, bin, 1000);
	free(pt);
	pt = &sentinel;
	assert_int_equal(decrypt_xml(xml, &p3072a, p3072a.cert, SIZE_MAX, &pt,
	    &len), 0);
	free(pt);
	free(xml);
	/* The same without IvLength, where two readings are tried. */
	xml = build(&s, p3072a.cert, bin, 1000);
	pt = &sentinel;
	assert_int_equal(decrypt_xml(xml, &p3072a, p3072a.cert, 999, &pt,
	    &len), GW_ERR_TOO_LARGE);
	assert_int_equal(decrypt_xml(xml, &p3072a, p3072a.cert, 1000, &pt,
	    &len), 0);
	assert_int_equal(len, 1000);
	free(pt);
	free(xml);
	free(bin);
}

/* Hand-written hostile documents around a valid EncryptedKey. */
static char *
hostile(const char *method, const char *keyinfo, const char *cipherdata)
{
	char *mem = NULL;
	size_t memlen;
	FILE *f;

	assert_non_null(f = open_memstream(&mem, &memlen));
	fprintf(f, "<x:EncryptedData xmlns:x=\"" NS_XENC "\" xmlns:ds=\""
	    NS_DS "\">%s%s%s</x:EncryptedData>", method, keyinfo, cipherdata);
	assert_int_equal(fclose(f), 0);
	return mem;
}

static void
test_garbage(void **state)
{
	static const char gcm[] = "<x:EncryptionMethod Algorithm=\""
	    NS_XENC11 "aes256-gcm\"/>";
	/* 28 bytes: just long enough for IV and tag. */
	static const char cd_ok[] = "<x:CipherData><x:CipherValue>"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==</x:CipherValue>"
	    "</x:CipherData>";
	static const char ek_ok[] = "<ds:KeyInfo><x:EncryptedKey>"
	    "<x:EncryptionMethod Algorithm=\"" NS_XENC11 "rsa-oaep\"/>"
	    "<x:CipherData><x:CipherValue>AAAA</x:CipherValue></x:CipherData>"
	    "</x:EncryptedKey></ds:KeyInfo>";
	static const struct {
		const char *method, *keyinfo, *cipherdata;
		int err;
	} cases[] = {
		{ "", ek_ok, cd_ok, GW_ERR_INVALID },
		{ "<x:EncryptionMethod/>", ek_ok, cd_ok, GW_ERR_SIG_ALGORITHM },
		{ gcm, ek_ok, "", GW_ERR_INVALID },
		{ gcm, ek_ok, "<x:CipherData/>", GW_ERR_INVALID },
		{ gcm, ek_ok, "<x:CipherData><x:CipherValue>!!!!"
		    "</x:CipherValue></x:CipherData>", GW_ERR_INVALID },
		{ gcm, ek_ok, "<x:CipherData><x:CipherValue>AAAA"
		    "</x:CipherValue></x:CipherData>", GW_ERR_INVALID },
		{ gcm, ek_ok, "<x:CipherData><x:CipherValue></x:CipherValue>"
		    "</x:CipherData>", GW_ERR_INVALID },
		{ gcm, ek_ok, "<x:CipherData><x:CipherValue><x:b/>"
		    "</x:CipherValue></x:CipherData>", GW_ERR_INVALID },
		{ gcm, ek_ok, "<x:CipherData><x:CipherReference "
		    "URI=\"http://127.0.0.1:1/x\"/></x:CipherData>",
		    GW_ERR_INVALID },
		{ gcm, "", cd_ok, GW_ERR_INVALID },
		{ gcm, "<ds:KeyInfo/>", cd_ok, GW_ERR_INVALID },
		{ gcm, "<ds:KeyInfo><ds:KeyName>k</ds:KeyName></ds:KeyInfo>",
		    cd_ok, GW_ERR_INVALID },
		{ gcm, "<ds:KeyInfo><x:EncryptedKey/></ds:KeyInfo>", cd_ok,
		    GW_ERR_INVALID },
		{ gcm, "<ds:KeyInfo><x:EncryptedKey><x:EncryptionMethod "
		    "Algorithm=\"" NS_XENC11 "rsa-oaep\"/></x:EncryptedKey>"
		    "</ds:KeyInfo>", cd_ok, GW_ERR_INVALID },
		{ gcm, "<ds:KeyInfo><x:EncryptedKey><x:EncryptionMethod "
		    "Algorithm=\"" NS_XENC11 "rsa-oaep\"/><x:CipherData>"
		    "<x:CipherValue>%%%</x:CipherValue></x:CipherData>"
		    "</x:EncryptedKey></ds:KeyInfo>", cd_ok, GW_ERR_INVALID },
		{ gcm, ek_ok, cd_ok, GW_ERR_CRYPTO },
		/* The right names in the wrong namespace are not ours. */
		{ "<EncryptionMethod Algorithm=\"" NS_XENC11 "aes256-gcm\"/>",
		    ek_ok, cd_ok, GW_ERR_INVALID },
	};
	size_t i;
	char *xml;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		xml = hostile(cases[i].method, cases[i].keyinfo,
		    cases[i].cipherdata);
		expect_fail(xml, &p3072a, NULL, cases[i].err);
		expect_fail(xml, &p3072a, p3072a.cert, cases[i].err);
		free(xml);
	}
}

static void
test_not_encrypted_data(void **state)
{
	xmlDocPtr doc;
	unsigned char *pt = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(doc = parse("<x:EncryptedKey xmlns:x=\"" NS_XENC
	    "\"/>"));
	assert_int_equal(xmlenc_decrypt(xmlDocGetRootElement(doc), p3072a.keys,
	    NULL, NO_LIMIT, &pt, &len), GW_ERR_INVALID);
	assert_int_equal(xmlenc_decrypt(NULL, p3072a.keys, NULL, NO_LIMIT,
	    &pt, &len), GW_ERR_INVALID);
	assert_int_equal(xmlenc_decrypt(xmlDocGetRootElement(doc), NULL,
	    NULL, NO_LIMIT, &pt, &len), GW_ERR_INVALID);
	assert_null(pt);
	xmlFreeDoc(doc);
}

/* More EncryptedKeys than we look at: refused before any RSA work. */
static void
test_too_many_keys(void **state)
{
	char *mem = NULL;
	size_t memlen;
	FILE *f;
	int i;

	(void)state;
	assert_non_null(f = open_memstream(&mem, &memlen));
	fputs("<x:EncryptedData xmlns:x=\"" NS_XENC "\" xmlns:ds=\"" NS_DS
	    "\"><x:EncryptionMethod Algorithm=\"" NS_XENC11 "aes256-gcm\"/>"
	    "<ds:KeyInfo>", f);
	for (i = 0; i < 1000; i++)
		fputs("<x:EncryptedKey><x:EncryptionMethod Algorithm=\""
		    NS_XENC11 "rsa-oaep\"/><x:CipherData><x:CipherValue>AAAA"
		    "</x:CipherValue></x:CipherData></x:EncryptedKey>", f);
	fputs("</ds:KeyInfo><x:CipherData><x:CipherValue>"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==</x:CipherValue>"
	    "</x:CipherData></x:EncryptedData>", f);
	assert_int_equal(fclose(f), 0);
	expect_fail(mem, &p3072a, NULL, GW_ERR_TOO_LARGE);
	free(mem);
}

/*
 * Random single-byte changes to a valid message: whatever still parses
 * either fails or decrypts to exactly the original (a byte in a part that
 * is not authenticated, like the X509Certificate when no cert is given).
 */
static void
test_random_corruption(void **state)
{
	X509 *rcpt[2] = { p3072b.cert, p3072a.cert };
	unsigned char *pt, rnd[8];
	size_t len, n, at, i;
	xmlDocPtr doc;
	char *xml, *bad;
	int r, ok = 0;

	(void)state;
	xml = encrypt_xml(container, strlen(container), rcpt, 2, 0);
	n = strlen(xml);
	assert_non_null(bad = strdup(xml));
	for (i = 0; i < 150; i++) {
		assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
		at = (((size_t)rnd[0] << 16) | ((size_t)rnd[1] << 8) | rnd[2]) % n;
		memcpy(bad, xml, n + 1);
		bad[at] = rnd[3] % 2 ? (char)(rnd[4] | 1) : "A/+=<>& \n"[rnd[4] % 9];
		if (bad[at] == '\0')
			bad[at] = 'Z';
		if ((doc = parse(bad)) == NULL)
			continue;
		pt = NULL;
		len = 0;
		r = xmlenc_decrypt(find(xmlDocGetRootElement(doc), NS_XENC,
		    "EncryptedData"), p3072a.keys, rnd[5] % 2 ? p3072a.cert :
		    NULL, NO_LIMIT, &pt, &len);
		if (r == 0) {
			assert_int_equal(len, strlen(container));
			assert_memory_equal(pt, container, len);
			free(pt);
			ok++;
		} else
			assert_true(r < 0 && r > GW_ERR__LAST);
		xmlFreeDoc(doc);
	}
	print_message("random corruption: %d of 150 still decrypted "
	    "(changed bytes outside what is authenticated)\n", ok);
	free(bad);
	free(xml);
}

/* ---- W3C XML-Enc 1.1 interop vectors (via ../shared) ------------------- */

static int
load_p12(const char *path, struct test_party *p)
{
	FILE *f = fopen(path, "rb");
	PKCS12 *p12;
	int ok;

	if (f == NULL)
		return -1;
	p12 = d2i_PKCS12_fp(f, NULL);
	fclose(f);
	assert_non_null(p12);
	ok = PKCS12_parse(p12, "passwd", &p->pkey, &p->cert, NULL);
	PKCS12_free(p12);
	assert_int_equal(ok, 1);
	assert_int_equal(EVP_PKEY_up_ref(p->pkey), 1);
	assert_int_equal(keys_from_pkey(p->pkey, &p->keys), 0);
	return 0;
}

/*
 * The .data files are what xmlsec1 prints after putting the decrypted
 * element in place of the EncryptedData (Type=Element): the document as
 * libxml2 serialises it.  So we compare the plaintext the same way.
 */
static void
expect_w3c_plain(const char *xml, const struct test_party *p, X509 *cert,
    const unsigned char *want, size_t wantlen)
{
	unsigned char *pt = NULL;
	xmlChar *mem = NULL;
	xmlDocPtr doc;
	size_t len = 0;
	int size = 0;

	assert_int_equal(decrypt_xml(xml, p, cert, NO_LIMIT, &pt, &len), 0);
	assert_non_null(doc = xmlReadMemory((const char *)pt, (int)len,
	    "plain.xml", NULL, XML_PARSE_NONET));
	xmlDocDumpMemory(doc, &mem, &size);
	assert_int_equal((size_t)size, wantlen);
	assert_memory_equal(mem, want, wantlen);
	xmlFree(mem);
	xmlFreeDoc(doc);
	free(pt);
}

static void
w3c_case(const char *p12, const char *name, int want)
{
	char path[512];
	unsigned char *xml = NULL, *data = NULL;
	size_t xmllen, datalen;
	struct test_party p = { 0 };

	snprintf(path, sizeof(path), VECTORS "%s", p12);
	assert_int_equal(load_p12(path, &p), 0);
	snprintf(path, sizeof(path), VECTORS "%s.xml", name);
	assert_int_equal(util_read_file(path, 1 << 20, &xml, &xmllen), 0);
	if (want == 0) {
		snprintf(path, sizeof(path), VECTORS "%s.data", name);
		assert_int_equal(util_read_file(path, 1 << 20, &data,
		    &datalen), 0);
		expect_w3c_plain((const char *)xml, &p, p.cert, data, datalen);
		expect_w3c_plain((const char *)xml, &p, NULL, data, datalen);
	} else
		expect_fail((const char *)xml, &p, p.cert, want);
	free(xml);
	free(data);
	test_party_free(&p);
}

static void
test_w3c_vectors(void **state)
{
	(void)state;
	if (access(VECTORS "README.md", R_OK) != 0) {
		print_message("skipped: W3C vectors not found at " VECTORS
		    " (../shared absent)\n");
		skip();
	}
	/* Independent 2012 implementations, 12-byte IV, no IvLength. */
	w3c_case("RSA-2048_SHA256WithRSA.p12",
	    "cipherText__RSA-2048__aes128-gcm__rsa-oaep-mgf1p", 0);
	w3c_case("RSA-3072_SHA256WithRSA.p12",
	    "cipherText__RSA-3072__aes256-gcm__rsa-oaep__Sha384-MGF_Sha1", 0);
	/* Outside our policy: AES-192, and an OAEP label (PSource). */
	w3c_case("RSA-3072_SHA256WithRSA.p12",
	    "cipherText__RSA-3072__aes192-gcm__rsa-oaep-mgf1p__Sha256",
	    GW_ERR_SIG_ALGORITHM);
	w3c_case("RSA-4096_SHA256WithRSA.p12",
	    "cipherText__RSA-4096__aes256-gcm__rsa-oaep__Sha512-MGF_Sha1_PSource",
	    GW_ERR_SIG_ALGORITHM);
}

/* ---- interop with xml-encryption (npm) --------------------------------- */

struct tmp {
	char dir[64];
	char key[96], cert[96], in[96], out[96], err[96];
};

/* 1 when node and the pinned xml-encryption are there, else prints why. */
static int
interop_available(void)
{
	if (access(INTEROP_DIR "/node_modules/xml-encryption/package.json",
	    R_OK) != 0) {
		print_message("skipped: " INTEROP_DIR "/node_modules/xml-encryption"
		    " missing (run `make deps` or `npm ci` in " INTEROP_DIR ")\n");
		return 0;
	}
	if (system("node --version >/dev/null 2>&1") != 0) {
		print_message("skipped: `node` not found on PATH\n");
		return 0;
	}
	return 1;
}

/* Per-test setup: a private directory for the files node reads and writes. */
static int
tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/gw-xmlenc-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->key, sizeof(t->key), "%s/key.pem", t->dir);
	snprintf(t->cert, sizeof(t->cert), "%s/cert.pem", t->dir);
	snprintf(t->in, sizeof(t->in), "%s/in", t->dir);
	snprintf(t->out, sizeof(t->out), "%s/out", t->dir);
	snprintf(t->err, sizeof(t->err), "%s/err", t->dir);
	*state = t;
	return 0;
}

/* Runs after failures too, so no test key is left in /tmp. */
static int
tmp_teardown(void **state)
{
	struct tmp *t = *state;
	int r;

	unlink(t->key);
	unlink(t->cert);
	unlink(t->in);
	unlink(t->out);
	unlink(t->err);
	r = rmdir(t->dir);
	free(t);
	return r;
}

/*
 * Runs `node tests/interop/SCRIPT A B >t->out 2>t->err` and returns whether
 * it succeeded; when that is not what the caller expects, prints the
 * script's message.
 */
static int
run_node(struct tmp *t, const char *script, const char *a, const char *b,
    int expect_ok)
{
	char cmd[512];
	unsigned char *msg = NULL;
	size_t len;
	int ok;

	assert_true((size_t)snprintf(cmd, sizeof(cmd),
	    "node " INTEROP_DIR "/%s '%s' '%s' >'%s' 2>'%s'", script, a, b,
	    t->out, t->err) < sizeof(cmd));
	ok = system(cmd) == 0;
	if (ok != expect_ok && util_read_file(t->err, 1 << 16, &msg, &len) == 0) {
		print_message("%s exited %s: %s\n", script, ok ? "0" : "non-zero",
		    (const char *)msg);
		free(msg);
	}
	return ok;
}

/* Our encryption, in a SOAP envelope, decrypted by xml-encryption. */
static void
node_decrypts(struct tmp *t, X509 *const *rcpt, size_t n,
    const struct test_party *reader)
{
	unsigned char *out = NULL;
	size_t len = 0;
	char *xml;

	if (!interop_available())
		skip();
	xml = encrypt_xml(container, strlen(container), rcpt, n, 1);
	assert_int_equal(util_write_file(t->in, xml, strlen(xml), 0600), 0);
	assert_int_equal(pki_write_key(t->key, reader->pkey), 0);
	assert_true(run_node(t, "decrypt.js", t->key, t->in, 1));
	assert_int_equal(util_read_file(t->out, 1 << 20, &out, &len), 0);
	assert_int_equal(len, strlen(container));
	assert_memory_equal(out, container, len);
	free(out);
	/* And a key it was not encrypted for fails there too. */
	assert_int_equal(pki_write_key(t->key, p2048.pkey), 0);
	assert_false(run_node(t, "decrypt.js", t->key, t->in, 0));
	free(xml);
}

static void
test_interop_node_decrypts_rsa3072(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };

	node_decrypts(*state, rcpt, 1, &p3072a);
}

static void
test_interop_node_decrypts_rsa4096(void **state)
{
	X509 *rcpt[1] = { p4096.cert };

	node_decrypts(*state, rcpt, 1, &p4096);
}

static void
test_interop_node_decrypts_second_recipient(void **state)
{
	X509 *rcpt[2] = { p3072a.cert, p4096.cert };

	node_decrypts(*state, rcpt, 2, &p4096);
}

/* xml-encryption's encryption of arbitrary bytes, decrypted by us. */
static void
we_decrypt_node(struct tmp *t, const struct test_party *reader, const void *pt,
    size_t ptlen)
{
	unsigned char *xml = NULL;
	size_t len = 0;

	assert_int_equal(util_write_file(t->in, pt, ptlen, 0600), 0);
	assert_int_equal(pki_write_cert(t->cert, reader->cert), 0);
	assert_true(run_node(t, "encrypt.js", t->cert, t->in, 1));
	assert_int_equal(util_read_file(t->out, 1 << 20, &xml, &len), 0);
	/* W3C form: no osci128:IvLength, 12-byte IV. */
	assert_null(strstr((const char *)xml, NS_OSCI128));
	expect_plain((const char *)xml, reader, reader->cert, pt, ptlen);
	expect_plain((const char *)xml, reader, NULL, pt, ptlen);
	expect_fail((const char *)xml, &p3072b, NULL, GW_ERR_CRYPTO);
	free(xml);
}

static void
test_interop_we_decrypt_node(void **state)
{
	unsigned char *bin;

	if (!interop_available())
		skip();
	bin = binary_payload(5000);
	we_decrypt_node(*state, &p3072a, container, strlen(container));
	we_decrypt_node(*state, &p3072a, bin, 5000);
	we_decrypt_node(*state, &p4096, bin, 5000);
	free(bin);
}

/* ---- interop with Apache Santuario (Java) ------------------------------ */

/*
 * The second independent implementation (tests/interop/santuario): Debian's
 * libxml-security-java (Apache Santuario) on OpenJDK, XMLCipher.  Unlike
 * xml-encryption it hands back the plaintext as bytes, so binary content
 * (attachments) is checked byte for byte.  decrypt.sh unwraps the
 * EncryptedKey that names the certificate it is given.
 */
#define SANTUARIO	INTEROP_DIR "/santuario/decrypt.sh"

/*
 * Runs `sh decrypt.sh ARGS >/dev/null 2>t->err` and returns whether it
 * succeeded; when that is not what the caller expects, prints the script's
 * message (prefixed with what, unless NULL).
 */
static int
run_santuario(struct tmp *t, const char *args, int expect_ok, const char *what)
{
	char cmd[768];
	unsigned char *msg = NULL;
	size_t len;
	int ok;

	assert_true((size_t)snprintf(cmd, sizeof(cmd), "sh " SANTUARIO
	    " %s >/dev/null 2>'%s'", args, t->err) < sizeof(cmd));
	ok = system(cmd) == 0;
	if (ok != expect_ok && util_read_file(t->err, 1 << 16, &msg, &len) == 0) {
		print_message("%s%s: %s", what != NULL ? what : "decrypt.sh exited ",
		    what != NULL ? "" : (ok ? "0" : "non-zero"), (const char *)msg);
		free(msg);
	}
	return ok;
}

/*
 * 1 when java, javac and the Santuario jars are there (decrypt.sh --check,
 * which also compiles Decrypt.java once), else prints why.
 */
static int
santuario_available(struct tmp *t)
{
	if (access(SANTUARIO, R_OK) != 0) {
		print_message("skipped: " SANTUARIO " missing\n");
		return 0;
	}
	return run_santuario(t, "--check", 1,
	    "skipped: Apache Santuario not usable (run `make deps`)");
}

/* Decrypts t->in with Santuario as (key, cert); 1 on success. */
static int
santuario_decrypt(struct tmp *t, EVP_PKEY *key, X509 *cert, int expect_ok)
{
	char args[512];

	assert_int_equal(pki_write_key(t->key, key), 0);
	assert_int_equal(pki_write_cert(t->cert, cert), 0);
	unlink(t->out);
	assert_true((size_t)snprintf(args, sizeof(args), "'%s' '%s' '%s' '%s'",
	    t->key, t->cert, t->in, t->out) < sizeof(args));
	return run_santuario(t, args, expect_ok, NULL);
}

/* Santuario decrypts t->in for reader to exactly want. */
static void
santuario_expect(struct tmp *t, const struct test_party *reader, const void *want,
    size_t wantlen)
{
	unsigned char *out = NULL;
	size_t len = 0;

	assert_true(santuario_decrypt(t, reader->pkey, reader->cert, 1));
	assert_int_equal(util_read_file(t->out, 1 << 20, &out, &len), 0);
	assert_int_equal(len, wantlen);
	assert_memory_equal(out, want, wantlen);
	free(out);
}

/* Santuario refuses t->in as (key, cert) and writes no OUT. */
static void
santuario_refuses(struct tmp *t, EVP_PKEY *key, X509 *cert)
{
	assert_false(santuario_decrypt(t, key, cert, 0));
	assert_int_equal(access(t->out, F_OK), -1);
}

/*
 * An attachment document as docs/attachments.md describes it: a standalone
 * EncryptedData without Type, with Id and MimeType, written by xmlenc.c.
 */
static char *
attachment_xml(const void *pt, size_t len, X509 *const *rcpt, size_t n)
{
	xmlDocPtr doc = xmlNewDoc(XC("1.0"));
	xmlNodePtr ed = NULL;
	char *s;

	assert_non_null(doc);
	assert_int_equal(xmlenc_encrypt(doc, pt, len, rcpt, n, &ed), 0);
	xmlDocSetRootElement(doc, ed);
	assert_int_equal(xmlUnsetProp(ed, XC("Type")), 0);
	assert_non_null(xmlNewProp(ed, XC("Id"), XC("att-1")));
	assert_non_null(xmlNewProp(ed, XC("MimeType"),
	    XC("application/octet-stream")));
	s = dump(doc);
	xmlFreeDoc(doc);
	return s;
}

static void
santuario_write_in(struct tmp *t, const char *xml)
{
	/* What Santuario reads is our form, osci128:IvLength included. */
	assert_non_null(strstr(xml, NS_OSCI128));
	assert_int_equal(util_write_file(t->in, xml, strlen(xml), 0600), 0);
}

/*
 * For recipients rcpt: binary bytes 0x00-0xff as an attachment document (no
 * Type), then (forms 3) in a SOAP envelope (Type Element) and the container
 * in an envelope decrypt with Santuario for every reader, byte for byte; a
 * key the message is not for is refused.
 */
static void
santuario_decrypts(struct tmp *t, X509 *const *rcpt, size_t n,
    const struct test_party *const *readers, size_t nreaders, size_t forms)
{
	unsigned char *bin;
	char *xml[3];
	size_t i, j;

	if (!santuario_available(t))
		skip();
	bin = binary_payload(5000);
	xml[0] = attachment_xml(bin, 5000, rcpt, n);
	xml[1] = encrypt_xml(bin, 5000, rcpt, n, 1);
	xml[2] = encrypt_xml(container, strlen(container), rcpt, n, 1);
	assert_null(strstr(xml[0], " Type="));
	assert_non_null(strstr(xml[1], " Type=\"" NS_XENC "Element\""));
	for (i = 0; i < forms && i < 3; i++) {
		santuario_write_in(t, xml[i]);
		for (j = 0; j < nreaders; j++) {
			if (i == 2)
				santuario_expect(t, readers[j], container,
				    strlen(container));
			else
				santuario_expect(t, readers[j], bin, 5000);
		}
	}
	/* Not a recipient: no EncryptedKey names its certificate. */
	santuario_refuses(t, p2048.pkey, p2048.cert);
	for (i = 0; i < 3; i++)
		free(xml[i]);
	free(bin);
}

static void
test_interop_santuario_rsa3072(void **state)
{
	X509 *rcpt[1] = { p3072a.cert };
	const struct test_party *readers[1] = { &p3072a };

	santuario_decrypts(*state, rcpt, 1, readers, 1, 3);
}

static void
test_interop_santuario_rsa4096(void **state)
{
	X509 *rcpt[1] = { p4096.cert };
	const struct test_party *readers[1] = { &p4096 };

	santuario_decrypts(*state, rcpt, 1, readers, 1, 3);
}

/* Two readers of different key sizes: each decrypts with its own key. */
static void
test_interop_santuario_two_recipients(void **state)
{
	X509 *rcpt[2] = { p3072a.cert, p4096.cert };
	const struct test_party *readers[2] = { &p4096, &p3072a };

	santuario_decrypts(*state, rcpt, 2, readers, 2, 3);
}

/*
 * Key rollover: two RSA-3072 certificates (same key size, so only the
 * certificate tells the EncryptedKeys apart), the current one second.
 */
static void
test_interop_santuario_rollover(void **state)
{
	X509 *rcpt[2] = { p3072b.cert, p3072a.cert };
	const struct test_party *readers[2] = { &p3072a, &p3072b };

	santuario_decrypts(*state, rcpt, 2, readers, 2, 1);
}

/*
 * Santuario checks what we rely on: the EncryptedKey is chosen by the
 * certificate (the right certificate with another key fails in OAEP), and
 * a changed ciphertext or tag fails GCM instead of decrypting to something.
 */
static void
test_interop_santuario_refuses(void **state)
{
	struct tmp *t = *state;
	X509 *rcpt[2] = { p3072a.cert, p4096.cert };
	unsigned char *bin;
	char *xml, *bad;
	long off[2] = { 20, -1 };	/* a ciphertext byte, the last tag byte */
	size_t i;

	if (!santuario_available(t))
		skip();
	bin = binary_payload(600);
	xml = attachment_xml(bin, 600, rcpt, 2);
	santuario_write_in(t, xml);
	santuario_refuses(t, p3072b.pkey, p3072a.cert);
	santuario_refuses(t, p3072a.pkey, p4096.cert);
	santuario_expect(t, &p3072a, bin, 600);
	for (i = 0; i < 2; i++) {
		bad = mutate(xml, mut_flip_data, &off[i]);
		santuario_write_in(t, bad);
		santuario_refuses(t, p3072a.pkey, p3072a.cert);
		santuario_refuses(t, p4096.pkey, p4096.cert);
		free(bad);
	}
	free(xml);
	free(bin);
}

#define INTEROP_TEST(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_rsa3072),
		cmocka_unit_test(test_roundtrip_rsa4096),
		cmocka_unit_test(test_roundtrip_rsa2048_empty),
		cmocka_unit_test(test_decrypt_unlinked_node),
		cmocka_unit_test(test_output_form),
		cmocka_unit_test(test_fresh_key_and_iv),
		cmocka_unit_test(test_two_recipients),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_key_identification),
		cmocka_unit_test(test_recipient_refused),
		cmocka_unit_test(test_tampered_ciphertext),
		cmocka_unit_test(test_tampered_iv),
		cmocka_unit_test(test_missing_elements),
		cmocka_unit_test(test_rsa15_refused),
		cmocka_unit_test(test_other_algorithms_refused),
		cmocka_unit_test(test_other_algorithms_accepted),
		cmocka_unit_test(test_wrong_key_length),
		cmocka_unit_test(test_iv16_without_ivlength),
		cmocka_unit_test(test_iv12_without_ivlength),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_not_encrypted_data),
		cmocka_unit_test(test_too_many_keys),
		cmocka_unit_test(test_random_corruption),
		cmocka_unit_test(test_w3c_vectors),
		INTEROP_TEST(test_interop_node_decrypts_rsa3072),
		INTEROP_TEST(test_interop_node_decrypts_rsa4096),
		INTEROP_TEST(test_interop_node_decrypts_second_recipient),
		INTEROP_TEST(test_interop_we_decrypt_node),
		INTEROP_TEST(test_interop_santuario_rsa3072),
		INTEROP_TEST(test_interop_santuario_rsa4096),
		INTEROP_TEST(test_interop_santuario_two_recipients),
		INTEROP_TEST(test_interop_santuario_rollover),
		INTEROP_TEST(test_interop_santuario_refuses),
	};

	return cmocka_run_group_tests_name("xmlenc", tests, group_setup,
	    group_teardown);
}
