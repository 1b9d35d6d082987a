/*
 * xmlenc.c - XML Encryption 1.1 of content containers.  See xmlenc.h.
 *
 * What it owns: building an xenc:EncryptedData for a set of reader
 * certificates, and reading one back with our private key.  No state: every
 * call works on its own buffers, so any thread may call it once libxml2 is
 * initialised.
 *
 * Why by hand: Debian 12's xmlsec (1.2.37) has no xenc11#rsa-oaep and no
 * OAEP with SHA-256/MGF1-SHA-256, which is what current OSCI peers use.  So
 * the tree is built and read with the libxml2 tree API, AES-GCM and the
 * public-key half of RSA-OAEP are OpenSSL EVP, and the private-key half is
 * keys_decrypt(): this file never sees a private key.
 *
 * Invariants:
 * - The content key (CEK) lives only in a local buffer of xmlenc_encrypt()
 *   or xmlenc_decrypt() and is wiped on every path out of them.  The two
 *   halves exported for streaming (xmlenc_skeleton(), xmlenc_content_key(),
 *   used by attach.c) only read a caller's key or hand one over.
 * - Plaintext leaves xmlenc_decrypt() only after the GCM tag verified; the
 *   buffer of a failed attempt is wiped (it is unauthenticated data).
 * - Algorithms are an allow-list.  Content: aes256-gcm, aes128-gcm.  Key
 *   transport: xenc11#rsa-oaep (MGF1 and digest SHA-1/256/384/512, SHA-1
 *   when the element is absent, as the spec says) and xmlenc#rsa-oaep-mgf1p.
 *   rsa-1_5 is refused (Bleichenbacher padding oracle), as is anything else.
 * - Hostile input is bounded before any private-key work: elements are found
 *   by namespace and local name only, at most MAX_KEYS EncryptedKeys
 *   are looked at, base64 is decoded with a limit derived from max, and
 *   CipherReference (fetching) is never followed.
 *
 * The IV length trap (../shared/DOMAIN.md): current OSCI peers use a 12-byte
 * GCM IV and say so with <osci128:IvLength Value="12"/>; old OSCI peers sent
 * 16 bytes and no such element.  W3C XML-Enc 1.1, however, fixes the IV at
 * 12 bytes and has no IvLength element, so non-OSCI implementations (npm
 * xml-encryption, the W3C interop vectors; both in the tests) send 12 bytes
 * and no element.  Without the element we therefore try 16 bytes
 * first, as the OSCI rule says, and then 12.  This is safe: GCM
 * authenticates the IV, a ciphertext verifies under at most one of the two
 * readings (short of a 2^-128 forgery), and nothing is released before the
 * tag checks.  The cost is a second pass over the data for W3C peers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "err.h"
#include "keys.h"
#include "util.h"
#include "xmlenc.h"

#define NS_XENC		"http://www.w3.org/2001/04/xmlenc#"
#define NS_XENC11	"http://www.w3.org/2009/xmlenc11#"
#define NS_DS		"http://www.w3.org/2000/09/xmldsig#"
#define NS_OSCI128	"http://xoev.de/transport/osci12/8"

#define ALG_AES256_GCM	NS_XENC11 "aes256-gcm"
#define ALG_AES128_GCM	NS_XENC11 "aes128-gcm"
#define ALG_RSA_OAEP	NS_XENC11 "rsa-oaep"
#define ALG_OAEP_MGF1P	NS_XENC "rsa-oaep-mgf1p"
#define ALG_MGF1_SHA256	NS_XENC11 "mgf1sha256"
#define ALG_SHA256	NS_XENC "sha256"
#define TYPE_ELEMENT	NS_XENC "Element"

#define CEK_LEN		32		/* AES-256 */
#define IV_LEN		12		/* what we send */
#define IV_LEN_OLD	16		/* old OSCI peers, no IvLength element */
#define TAG_LEN		16
#define MIN_RSA_BITS	2048
#define MAX_KEYS	16		/* recipients written / EncryptedKeys read */
#define MAX_WRAPPED	2048		/* an RSA-16384 block */
#define MAX_CERT	65536		/* DER of one X509Certificate */
#define MAX_SERIAL_DIGITS 160		/* 20 octets need 49; be generous */
#define GCM_CHUNK	(1U << 20)	/* EVP takes int lengths */

#define XC(s)		((const xmlChar *)(s))
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct content_alg {
	const char *uri;
	size_t keylen;
	const EVP_CIPHER *(*cipher)(void);
};

static const struct content_alg content_algs[] = {
	{ ALG_AES256_GCM, 32, EVP_aes_256_gcm },
	{ ALG_AES128_GCM, 16, EVP_aes_128_gcm },
};

struct md_uri {
	const char *uri;
	const EVP_MD *(*md)(void);
};

/* ds:DigestMethod inside an OAEP EncryptionMethod. */
static const struct md_uri oaep_digests[] = {
	{ "http://www.w3.org/2000/09/xmldsig#sha1", EVP_sha1 },
	{ NS_XENC "sha256", EVP_sha256 },
	{ "http://www.w3.org/2001/04/xmldsig-more#sha384", EVP_sha384 },
	{ NS_XENC "sha512", EVP_sha512 },
};

/* xenc11:MGF. */
static const struct md_uri mgf_digests[] = {
	{ NS_XENC11 "mgf1sha1", EVP_sha1 },
	{ NS_XENC11 "mgf1sha256", EVP_sha256 },
	{ NS_XENC11 "mgf1sha384", EVP_sha384 },
	{ NS_XENC11 "mgf1sha512", EVP_sha512 },
};

/* What identifies the certificate the caller decrypts for. */
struct certid {
	unsigned char *der;
	size_t derlen;
	char *issuer;		/* RFC 2253 */
	BIGNUM *serial;
};

/* ---- tree helpers ------------------------------------------------------ */

static int
is_elem(xmlNodePtr n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    xmlStrEqual(n->ns->href, XC(ns)) && xmlStrEqual(n->name, XC(name));
}

/* The first element at or after n among its siblings named ns:name. */
static xmlNodePtr
find_from(xmlNodePtr n, const char *ns, const char *name)
{
	for (; n != NULL; n = n->next)
		if (is_elem(n, ns, name))
			return n;
	return NULL;
}

static xmlNodePtr
child(xmlNodePtr parent, const char *ns, const char *name)
{
	return parent == NULL ? NULL : find_from(parent->children, ns, name);
}

/* Whether the un-namespaced attribute name of n equals value. */
static int
attr_is(xmlNodePtr n, const char *name, const char *value)
{
	xmlChar *v = xmlGetNoNsProp(n, XC(name));
	int eq = v != NULL && xmlStrEqual(v, XC(value));

	xmlFree(v);
	return eq;
}

/*
 * Decodes the base64 text of element n into *out (malloc'd, NUL-terminated,
 * at most max bytes).  The usual single text child is read in place, since a
 * CipherValue may be tens of megabytes; split text is concatenated.  An
 * element child is malformed input.
 */
static int
node_b64(xmlNodePtr n, size_t max, unsigned char **out, size_t *outlen)
{
	xmlNodePtr c;
	xmlChar *copy = NULL;
	const char *text;
	int r;

	for (c = n->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return GW_ERR_INVALID;
	c = n->children;
	if (c == NULL)
		text = "";
	else if (c->next == NULL && c->type == XML_TEXT_NODE &&
	    c->content != NULL)
		text = (const char *)c->content;
	else if ((copy = xmlNodeGetContent(n)) == NULL)
		return GW_ERR_NOMEM;
	else
		text = (const char *)copy;
	r = util_b64_decode(text, strlen(text), max, out, outlen);
	xmlFree(copy);
	return r;
}

/* parent gets <ns:name>base64(data)</ns:name>. */
static int
add_b64_child(xmlNodePtr parent, xmlNsPtr ns, const char *name,
    const unsigned char *data, size_t len)
{
	char *b64 = NULL;
	size_t b64len;
	int r;

	if ((r = util_b64_encode(data, len, &b64, &b64len)) != 0)
		return r;
	r = xmlNewTextChild(parent, ns, XC(name), XC(b64)) == NULL ?
	    GW_ERR_NOMEM : 0;
	free(b64);
	return r;
}

/* An element named prefix:name that declares its own namespace. */
static xmlNodePtr
add_own_ns_child(xmlNodePtr parent, const char *href, const char *prefix,
    const char *name)
{
	xmlNodePtr n;
	xmlNsPtr ns;

	if ((n = xmlNewChild(parent, NULL, XC(name), NULL)) == NULL)
		return NULL;
	if ((ns = xmlNewNs(n, XC(href), XC(prefix))) == NULL)
		return NULL;	/* n stays in parent; the caller frees the tree */
	xmlSetNs(n, ns);
	return n;
}

/* ---- AES-GCM ----------------------------------------------------------- */

/* Feeds len bytes through ctx in chunks that fit EVP's int lengths. */
static int
gcm_update(EVP_CIPHER_CTX *ctx, const unsigned char *in, size_t len,
    unsigned char *out)
{
	size_t chunk;
	int n;

	while (len > 0) {
		chunk = len < GCM_CHUNK ? len : GCM_CHUNK;
		if (EVP_CipherUpdate(ctx, out, &n, in, (int)chunk) != 1 ||
		    (size_t)n != chunk)
			return GW_ERR_CRYPTO;
		in += chunk;
		out += chunk;
		len -= chunk;
	}
	return 0;
}

/* *out = IV(12) || AES-256-GCM(cek, plain) || tag(16), malloc'd. */
static int
gcm_seal(const unsigned char *cek, const unsigned char *plain, size_t len,
    unsigned char **out, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL, *ct;
	int r = GW_ERR_CRYPTO, n;

	if (len > SIZE_MAX - IV_LEN - TAG_LEN)
		return GW_ERR_TOO_LARGE;
	if ((buf = malloc(IV_LEN + len + TAG_LEN)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	ct = buf + IV_LEN;
	if (RAND_bytes(buf, IV_LEN) != 1 ||
	    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, 1) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, cek, buf, 1) != 1)
		goto out;
	if ((r = gcm_update(ctx, plain, len, ct)) != 0)
		goto out;
	r = GW_ERR_CRYPTO;
	if (EVP_CipherFinal_ex(ctx, ct + len, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    ct + len) != 1)
		goto out;
	*out = buf;
	*outlen = IV_LEN + len + TAG_LEN;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/*
 * Opens IV(ivlen) || ciphertext || tag(16).  GW_ERR_INVALID when too short
 * for that, GW_ERR_TOO_LARGE past max, GW_ERR_CRYPTO when the tag does not
 * verify (the partial plaintext is wiped).  *out is NUL-terminated.
 */
static int
gcm_open(const struct content_alg *alg, const unsigned char *cek,
    unsigned char *in, size_t inlen, size_t ivlen, size_t max,
    unsigned char **out, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int r = GW_ERR_CRYPTO, n;

	if (inlen < ivlen + TAG_LEN)
		return GW_ERR_INVALID;
	len = inlen - ivlen - TAG_LEN;
	if (len > max)
		return GW_ERR_TOO_LARGE;
	if ((buf = malloc(len + 1)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex(ctx, alg->cipher(), NULL, NULL, NULL, 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, cek, in, 0) != 1)
		goto out;
	if ((r = gcm_update(ctx, in + ivlen, len, buf)) != 0)
		goto out;
	r = GW_ERR_CRYPTO;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    in + ivlen + len) != 1 ||
	    EVP_CipherFinal_ex(ctx, buf + len, &n) != 1 || n != 0)
		goto out;
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	r = 0;
 out:
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* ---- encryption -------------------------------------------------------- */

/* RSA with at least MIN_RSA_BITS; GW_ERR_KEY_WEAK otherwise. */
static int
check_recipient(X509 *cert)
{
	EVP_PKEY *pk;

	if (cert == NULL || (pk = X509_get0_pubkey(cert)) == NULL)
		return GW_ERR_INVALID;
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(pk) < MIN_RSA_BITS)
		return GW_ERR_KEY_WEAK;
	return 0;
}

/* RSA-OAEP, SHA-256 and MGF1-SHA-256, of cek for cert's key. */
static int
oaep_wrap(X509 *cert, const unsigned char *cek, size_t ceklen,
    unsigned char **out, size_t *outlen)
{
	EVP_PKEY_CTX *ctx;
	unsigned char *buf = NULL;
	size_t n = 0;
	int r = GW_ERR_CRYPTO;

	if ((ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(cert), NULL)) == NULL)
		return GW_ERR_NOMEM;
	if (EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_encrypt(ctx, NULL, &n, cek, ceklen) != 1)
		goto out;
	if ((buf = malloc(n)) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_encrypt(ctx, buf, &n, cek, ceklen) != 1)
		goto out;
	*out = buf;
	*outlen = n;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* The RFC 2253 form of a name (UTF-8, not \-escaped), malloc'd. */
static char *
dn_string(const X509_NAME *name)
{
	BIO *bio;
	char *data, *s = NULL;
	long n;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(bio, &data)) >= 0 &&
	    (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(bio);
	return s;
}

/* ds:X509Data with X509IssuerSerial and X509Certificate of cert. */
static int
add_x509data(xmlNodePtr keyinfo, xmlNsPtr ds, X509 *cert)
{
	xmlNodePtr xd, is;
	BIGNUM *bn = NULL;
	char *issuer = NULL, *serial = NULL;
	unsigned char *der = NULL;
	int r = GW_ERR_NOMEM, derlen;

	if ((issuer = dn_string(X509_get_issuer_name(cert))) == NULL ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) == NULL ||
	    (serial = BN_bn2dec(bn)) == NULL)
		goto out;
	if ((derlen = i2d_X509(cert, &der)) <= 0) {
		r = GW_ERR_CRYPTO;
		goto out;
	}
	if ((xd = xmlNewChild(keyinfo, ds, XC("X509Data"), NULL)) == NULL ||
	    (is = xmlNewChild(xd, ds, XC("X509IssuerSerial"), NULL)) == NULL ||
	    xmlNewTextChild(is, ds, XC("X509IssuerName"), XC(issuer)) == NULL ||
	    xmlNewTextChild(is, ds, XC("X509SerialNumber"), XC(serial)) == NULL)
		goto out;
	r = add_b64_child(xd, ds, "X509Certificate", der, (size_t)derlen);
 out:
	free(issuer);
	OPENSSL_free(serial);
	BN_free(bn);
	OPENSSL_free(der);
	return r;
}

/* One xenc:EncryptedKey under keyinfo: cek wrapped for cert. */
static int
add_encrypted_key(xmlNodePtr keyinfo, xmlNsPtr xenc, xmlNsPtr ds, X509 *cert,
    const unsigned char *cek)
{
	xmlNodePtr ek, em, mgf, dm, cd, ki;
	unsigned char *wrapped = NULL;
	size_t wlen = 0;
	int r;

	if ((r = oaep_wrap(cert, cek, CEK_LEN, &wrapped, &wlen)) != 0)
		return r;
	r = GW_ERR_NOMEM;
	if ((ek = xmlNewChild(keyinfo, xenc, XC("EncryptedKey"), NULL)) == NULL ||
	    (em = xmlNewChild(ek, xenc, XC("EncryptionMethod"), NULL)) == NULL ||
	    xmlNewProp(em, XC("Algorithm"), XC(ALG_RSA_OAEP)) == NULL ||
	    (mgf = add_own_ns_child(em, NS_XENC11, "xenc11", "MGF")) == NULL ||
	    xmlNewProp(mgf, XC("Algorithm"), XC(ALG_MGF1_SHA256)) == NULL ||
	    (dm = xmlNewChild(em, ds, XC("DigestMethod"), NULL)) == NULL ||
	    xmlNewProp(dm, XC("Algorithm"), XC(ALG_SHA256)) == NULL ||
	    (ki = xmlNewChild(ek, ds, XC("KeyInfo"), NULL)) == NULL)
		goto out;
	if ((r = add_x509data(ki, ds, cert)) != 0)
		goto out;
	r = GW_ERR_NOMEM;
	if ((cd = xmlNewChild(ek, xenc, XC("CipherData"), NULL)) == NULL)
		goto out;
	r = add_b64_child(cd, xenc, "CipherValue", wrapped, wlen);
 out:
	free(wrapped);
	return r;
}

/*
 * The EncryptedData element with its EncryptionMethod (aes256-gcm, IV 12)
 * and, unless type is NULL, a Type attribute.
 */
static xmlNodePtr
new_encdata(xmlDocPtr doc, const char *type, xmlNsPtr *xenc, xmlNsPtr *ds)
{
	xmlNodePtr ed, em, iv;

	if ((ed = xmlNewDocNode(doc, NULL, XC("EncryptedData"), NULL)) == NULL)
		return NULL;
	if ((*xenc = xmlNewNs(ed, XC(NS_XENC), XC("xenc"))) == NULL ||
	    (*ds = xmlNewNs(ed, XC(NS_DS), XC("ds"))) == NULL)
		goto fail;
	xmlSetNs(ed, *xenc);
	if ((type != NULL && xmlNewProp(ed, XC("Type"), XC(type)) == NULL) ||
	    (em = xmlNewChild(ed, *xenc, XC("EncryptionMethod"), NULL)) == NULL ||
	    xmlNewProp(em, XC("Algorithm"), XC(ALG_AES256_GCM)) == NULL ||
	    (iv = add_own_ns_child(em, NS_OSCI128, "osci128",
	    "IvLength")) == NULL ||
	    xmlNewProp(iv, XC("Value"), XC("12")) == NULL)
		goto fail;
	return ed;
 fail:
	xmlFreeNode(ed);
	return NULL;
}

int
xmlenc_skeleton(xmlDocPtr doc, const unsigned char *cek, X509 *const *rcpt,
    size_t nrcpt, const char *type, xmlNodePtr *out)
{
	xmlNodePtr ed = NULL, keyinfo, cd;
	xmlNsPtr xenc = NULL, ds = NULL;
	size_t i;
	int r;

	if (doc == NULL || cek == NULL || out == NULL || rcpt == NULL ||
	    nrcpt == 0)
		return GW_ERR_INVALID;
	if (nrcpt > MAX_KEYS)
		return GW_ERR_TOO_LARGE;
	for (i = 0; i < nrcpt; i++)
		if ((r = check_recipient(rcpt[i])) != 0)
			return r;
	r = GW_ERR_NOMEM;
	if ((ed = new_encdata(doc, type, &xenc, &ds)) == NULL ||
	    (keyinfo = xmlNewChild(ed, ds, XC("KeyInfo"), NULL)) == NULL)
		goto out;
	for (i = 0; i < nrcpt; i++)
		if ((r = add_encrypted_key(keyinfo, xenc, ds, rcpt[i], cek)) != 0)
			goto out;
	r = GW_ERR_NOMEM;
	if ((cd = xmlNewChild(ed, xenc, XC("CipherData"), NULL)) == NULL ||
	    xmlNewChild(cd, xenc, XC("CipherValue"), NULL) == NULL)
		goto out;
	*out = ed;
	ed = NULL;
	r = 0;
 out:
	xmlFreeNode(ed);
	return r;
}

int
xmlenc_encrypt(xmlDocPtr doc, const unsigned char *plain, size_t len,
    X509 *const *rcpt, size_t nrcpt, xmlNodePtr *out)
{
	unsigned char cek[CEK_LEN];
	unsigned char *sealed = NULL;
	char *b64 = NULL;
	size_t sealedlen = 0, b64len = 0;
	xmlNodePtr ed = NULL, cv;
	int r;

	if (doc == NULL || out == NULL || (plain == NULL && len > 0) ||
	    rcpt == NULL || nrcpt == 0)
		return GW_ERR_INVALID;
	if (RAND_bytes(cek, sizeof(cek)) != 1) {
		r = GW_ERR_CRYPTO;
		goto out;
	}
	/* The recipients are checked before any content work. */
	if ((r = xmlenc_skeleton(doc, cek, rcpt, nrcpt, TYPE_ELEMENT, &ed)) != 0 ||
	    (r = gcm_seal(cek, plain, len, &sealed, &sealedlen)) != 0 ||
	    (r = util_b64_encode(sealed, sealedlen, &b64, &b64len)) != 0)
		goto out;
	r = GW_ERR_INVALID;
	if ((cv = child(child(ed, NS_XENC, "CipherData"), NS_XENC,
	    "CipherValue")) == NULL)
		goto out;
	r = GW_ERR_NOMEM;
	xmlNodeAddContent(cv, XC(b64));
	if (cv->children == NULL)
		goto out;
	*out = ed;
	ed = NULL;
	r = 0;
 out:
	OPENSSL_cleanse(cek, sizeof(cek));
	free(sealed);
	free(b64);
	xmlFreeNode(ed);
	return r;
}

/* ---- decryption -------------------------------------------------------- */

/* The digest an Algorithm attribute names in table, or NULL. */
static const EVP_MD *
md_by_uri(xmlNodePtr n, const struct md_uri *table, size_t count)
{
	xmlChar *uri = xmlGetNoNsProp(n, XC("Algorithm"));
	const EVP_MD *md = NULL;
	size_t i;

	for (i = 0; uri != NULL && i < count; i++)
		if (xmlStrEqual(uri, XC(table[i].uri)))
			md = table[i].md();
	xmlFree(uri);
	return md;
}

/*
 * The content algorithm of EncryptedData and its announced IV length (0 when
 * there is no osci128:IvLength).  GW_ERR_SIG_ALGORITHM for algorithms we do
 * not accept, GW_ERR_INVALID for a missing method or a bad IvLength.
 */
static int
data_method(xmlNodePtr encdata, const struct content_alg **alg, size_t *ivlen)
{
	xmlNodePtr em, iv;
	size_t i, n = 0;

	if ((em = child(encdata, NS_XENC, "EncryptionMethod")) == NULL)
		return GW_ERR_INVALID;
	for (i = 0; i < NELEM(content_algs); i++)
		if (attr_is(em, "Algorithm", content_algs[i].uri))
			break;
	if (i == NELEM(content_algs))
		return GW_ERR_SIG_ALGORITHM;
	if ((iv = child(em, NS_OSCI128, "IvLength")) != NULL) {
		if (attr_is(iv, "Value", "12"))
			n = 12;
		else if (attr_is(iv, "Value", "16"))
			n = 16;
		else
			return GW_ERR_INVALID;
	}
	*alg = &content_algs[i];
	*ivlen = n;
	return 0;
}

/*
 * The OAEP digests of an EncryptedKey's EncryptionMethod.  Only
 * xenc11#rsa-oaep and rsa-oaep-mgf1p pass; rsa-1_5 and everything else is
 * GW_ERR_SIG_ALGORITHM, so is an OAEP label (keys_decrypt() takes none).
 */
static int
key_method(xmlNodePtr ek, const EVP_MD **oaep_md, const EVP_MD **mgf1_md)
{
	xmlNodePtr em, n;
	unsigned char *label = NULL;
	size_t labellen = 0;
	int r;

	if ((em = child(ek, NS_XENC, "EncryptionMethod")) == NULL)
		return GW_ERR_INVALID;
	n = child(em, NS_XENC11, "MGF");
	if (attr_is(em, "Algorithm", ALG_RSA_OAEP))
		*mgf1_md = n == NULL ? EVP_sha1() : md_by_uri(n, mgf_digests,
		    NELEM(mgf_digests));
	else if (attr_is(em, "Algorithm", ALG_OAEP_MGF1P) && n == NULL)
		*mgf1_md = EVP_sha1();	/* the URI fixes it; MGF MUST NOT be */
	else
		return GW_ERR_SIG_ALGORITHM;
	n = child(em, NS_DS, "DigestMethod");
	*oaep_md = n == NULL ? EVP_sha1() : md_by_uri(n, oaep_digests,
	    NELEM(oaep_digests));
	if (*oaep_md == NULL || *mgf1_md == NULL)
		return GW_ERR_SIG_ALGORITHM;
	if ((n = child(em, NS_XENC, "OAEPparams")) != NULL) {
		if ((r = node_b64(n, MAX_WRAPPED, &label, &labellen)) != 0)
			return r;
		free(label);
		if (labellen > 0)
			return GW_ERR_SIG_ALGORITHM;
	}
	return 0;
}

/* The decoded CipherData/CipherValue of parent; CipherReference refused. */
static int
cipher_value(xmlNodePtr parent, size_t max, unsigned char **out,
    size_t *outlen)
{
	xmlNodePtr cv;

	if ((cv = child(child(parent, NS_XENC, "CipherData"), NS_XENC,
	    "CipherValue")) == NULL)
		return GW_ERR_INVALID;
	return node_b64(cv, max, out, outlen);
}

static void
certid_free(struct certid *id)
{
	OPENSSL_free(id->der);
	free(id->issuer);
	BN_free(id->serial);
}

static int
certid_init(struct certid *id, X509 *cert)
{
	int n;

	memset(id, 0, sizeof(*id));
	if ((n = i2d_X509(cert, &id->der)) <= 0)
		return GW_ERR_CRYPTO;
	id->derlen = (size_t)n;
	if ((id->issuer = dn_string(X509_get_issuer_name(cert))) == NULL ||
	    (id->serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert),
	    NULL)) == NULL) {
		certid_free(id);
		return GW_ERR_NOMEM;
	}
	return 0;
}

/* XML white space. */
static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Distinguished names as strings, compared ignoring white space and ASCII
 * case: peers write "CN=a, O=b" or "CN=a,O=b" and "cn" or "CN" for the same
 * name.  Both sides are RFC 2253 order (most specific first).
 */
static int
dn_equal(const char *a, const char *b)
{
	for (;;) {
		while (is_ws(*a))
			a++;
		while (is_ws(*b))
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if ((*a >= 'A' && *a <= 'Z' ? *a + 32 : *a) !=
		    (*b >= 'A' && *b <= 'Z' ? *b + 32 : *b))
			return 0;
		a++;
		b++;
	}
}

static int
issuer_serial_matches(xmlNodePtr is, const struct certid *id)
{
	xmlNodePtr name, serial;
	xmlChar *n = NULL, *s = NULL;
	BIGNUM *bn = NULL;
	const xmlChar *p;
	int match = 0, used;

	if ((name = child(is, NS_DS, "X509IssuerName")) == NULL ||
	    (serial = child(is, NS_DS, "X509SerialNumber")) == NULL ||
	    (n = xmlNodeGetContent(name)) == NULL ||
	    (s = xmlNodeGetContent(serial)) == NULL)
		goto out;
	for (p = s; is_ws(*p); p++)
		;
	/* BN_dec2bn is quadratic and parses a prefix: bound it, then check
	 * that only white space follows what it took. */
	if (xmlStrlen(p) > MAX_SERIAL_DIGITS ||
	    (used = BN_dec2bn(&bn, (const char *)p)) <= 0)
		goto out;
	for (p += used; is_ws(*p); p++)
		;
	match = *p == '\0' && BN_cmp(bn, id->serial) == 0 &&
	    dn_equal((const char *)n, id->issuer);
 out:
	BN_free(bn);
	xmlFree(n);
	xmlFree(s);
	return match;
}

static int
cert_matches(xmlNodePtr xc, const struct certid *id)
{
	unsigned char *der = NULL;
	size_t len = 0;
	int match;

	if (node_b64(xc, MAX_CERT, &der, &len) != 0)
		return 0;
	match = len == id->derlen && memcmp(der, id->der, len) == 0;
	free(der);
	return match;
}

/*
 * Whom an EncryptedKey is for: 1 when its ds:KeyInfo/ds:X509Data names our
 * certificate (X509Certificate bytes or X509IssuerSerial), -1 when it names
 * certificates but not ours, 0 when it names none (no KeyInfo, a KeyName,
 * only an X509SKI...).
 */
static int
enckey_names(xmlNodePtr ek, const struct certid *id)
{
	xmlNodePtr xd, c;
	int named = 0;

	for (xd = child(child(ek, NS_DS, "KeyInfo"), NS_DS, "X509Data");
	    xd != NULL; xd = find_from(xd->next, NS_DS, "X509Data")) {
		for (c = xd->children; c != NULL; c = c->next) {
			if (is_elem(c, NS_DS, "X509Certificate")) {
				named = 1;
				if (cert_matches(c, id))
					return 1;
			} else if (is_elem(c, NS_DS, "X509IssuerSerial")) {
				named = 1;
				if (issuer_serial_matches(c, id))
					return 1;
			}
		}
	}
	return named ? -1 : 0;
}

/*
 * Unwraps the content key of one EncryptedKey with key.  Any failure of the
 * private-key operation, and a key of the wrong length, is GW_ERR_CRYPTO
 * without further detail (no padding oracle).  *cek must be wiped.
 */
static int
unwrap(xmlNodePtr ek, struct keys *key, size_t keylen, unsigned char **cek)
{
	const EVP_MD *oaep_md = NULL, *mgf1_md = NULL;
	unsigned char *wrapped = NULL, *k = NULL;
	size_t wlen = 0, klen = 0;
	int r;

	if ((r = key_method(ek, &oaep_md, &mgf1_md)) != 0)
		return r;
	if ((r = cipher_value(ek, MAX_WRAPPED, &wrapped, &wlen)) != 0)
		return r;
	r = keys_decrypt(key, oaep_md, mgf1_md, wrapped, wlen, &k, &klen);
	free(wrapped);
	if (r != 0)
		return r == GW_ERR_NOMEM ? r : GW_ERR_CRYPTO;
	if (klen != keylen) {
		OPENSSL_cleanse(k, klen);
		free(k);
		return GW_ERR_CRYPTO;
	}
	*cek = k;
	return 0;
}

/*
 * Finds the EncryptedKeys meant for us and unwraps the first that opens.
 * With cert: those naming it; if none does, those naming no certificate;
 * never one naming another certificate (GW_ERR_NOT_FOUND if that is all
 * there is).  Without cert: each in turn.  When none opens, a refused
 * algorithm is reported before malformed input before a failed decryption,
 * in that order, as that tells the operator the most.
 */
static int
find_cek(xmlNodePtr encdata, struct keys *key, X509 *cert, size_t keylen,
    unsigned char **cek)
{
	xmlNodePtr cand[MAX_KEYS], ek;
	int names[MAX_KEYS];
	struct certid id;
	size_t n = 0, i;
	int r, e, want = 0;

	for (ek = child(child(encdata, NS_DS, "KeyInfo"), NS_XENC,
	    "EncryptedKey"); ek != NULL;
	    ek = find_from(ek->next, NS_XENC, "EncryptedKey")) {
		if (n == MAX_KEYS)
			return GW_ERR_TOO_LARGE;
		names[n] = 0;
		cand[n++] = ek;
	}
	if (n == 0)
		return GW_ERR_INVALID;
	if (cert != NULL) {
		if ((r = certid_init(&id, cert)) != 0)
			return r;
		want = -1;
		for (i = 0; i < n; i++) {
			names[i] = enckey_names(cand[i], &id);
			want = names[i] > want ? names[i] : want;
		}
		certid_free(&id);
		if (want < 0)
			return GW_ERR_NOT_FOUND;
	}
	r = GW_ERR_CRYPTO;
	for (i = 0; i < n; i++) {
		if (names[i] != want)
			continue;
		if ((e = unwrap(cand[i], key, keylen, cek)) == 0 ||
		    e == GW_ERR_NOMEM)
			return e;
		if (e == GW_ERR_SIG_ALGORITHM ||
		    (e == GW_ERR_INVALID && r == GW_ERR_CRYPTO))
			r = e;
	}
	return r;
}

int
xmlenc_content_key(xmlNodePtr encdata, struct keys *key, X509 *cert,
    const EVP_CIPHER **cipher, size_t *ivlen, unsigned char **cek,
    size_t *ceklen)
{
	const struct content_alg *alg = NULL;
	unsigned char *k = NULL;
	size_t n = 0;
	int r;

	if (encdata == NULL || key == NULL || cipher == NULL || ivlen == NULL ||
	    cek == NULL || ceklen == NULL ||
	    !is_elem(encdata, NS_XENC, "EncryptedData"))
		return GW_ERR_INVALID;
	if ((r = data_method(encdata, &alg, &n)) != 0 ||
	    (r = find_cek(encdata, key, cert, alg->keylen, &k)) != 0)
		return r;
	*cipher = alg->cipher();
	*ivlen = n;
	*cek = k;
	*ceklen = alg->keylen;
	return 0;
}

int
xmlenc_decrypt(xmlNodePtr encdata, struct keys *key, X509 *cert,
    size_t max, unsigned char **plain, size_t *len)
{
	const struct content_alg *alg = NULL;
	unsigned char *ct = NULL, *cek = NULL, *pt = NULL;
	size_t ctlen = 0, ivlen = 0, ptlen = 0, ctmax, hdr;
	int r;

	if (encdata == NULL || key == NULL || plain == NULL || len == NULL ||
	    !is_elem(encdata, NS_XENC, "EncryptedData"))
		return GW_ERR_INVALID;
	if ((r = data_method(encdata, &alg, &ivlen)) != 0)
		return r;
	ctmax = max > SIZE_MAX - IV_LEN_OLD - TAG_LEN ? SIZE_MAX :
	    max + IV_LEN_OLD + TAG_LEN;
	if ((r = cipher_value(encdata, ctmax, &ct, &ctlen)) != 0)
		goto out;
	/* Cheap checks first: only a plausible ciphertext costs an RSA op.
	 * Without IvLength the shortest reading (16-byte IV) must fit max. */
	if (ctlen < (ivlen != 0 ? ivlen : IV_LEN) + TAG_LEN) {
		r = GW_ERR_INVALID;
		goto out;
	}
	hdr = (ivlen != 0 ? ivlen : IV_LEN_OLD) + TAG_LEN;
	if (ctlen > hdr && ctlen - hdr > max) {
		r = GW_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = find_cek(encdata, key, cert, alg->keylen, &cek)) != 0)
		goto out;
	if (ivlen != 0)
		r = gcm_open(alg, cek, ct, ctlen, ivlen, max, &pt, &ptlen);
	else {
		/* No IvLength: old OSCI (16), else W3C (12); see the top. */
		r = gcm_open(alg, cek, ct, ctlen, IV_LEN_OLD, max, &pt, &ptlen);
		if (r == GW_ERR_CRYPTO || r == GW_ERR_INVALID)
			r = gcm_open(alg, cek, ct, ctlen, IV_LEN, max, &pt,
			    &ptlen);
	}
	if (r != 0)
		goto out;
	*plain = pt;
	*len = ptlen;
	r = 0;
 out:
	if (cek != NULL) {
		OPENSSL_cleanse(cek, alg->keylen);
		free(cek);
	}
	free(ct);
	return r;
}
