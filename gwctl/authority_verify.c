/*
 * authority_verify.c - is this envelope from the gateway, unaltered?
 *
 * The gateway pushes the SOAP 1.2 envelope of GET /v1/mailbox/{id} with
 * its own enveloped signature as the last child of soap:Header.  Accepted
 * is exactly this shape, checked on the tree before any crypto:
 *
 *   soap:Envelope
 *     soap:Header
 *       gw:MessageMetaData (exactly one)
 *         gw:MsgIdentification/gw:MessageID  "gw-" + 32 hex digits
 *       ... (other header blocks are ignored)
 *       ds:Signature (the only one in the document, the last child)
 *     soap:Body
 *       xenc:EncryptedData (the only element child)
 *
 *   ds:Signature: SignedInfo, SignatureValue, KeyInfo and nothing else.
 *   SignedInfo: CanonicalizationMethod exc-c14n; SignatureMethod
 *   RSA-SHA256/384/512 or ECDSA-SHA256/384/512; exactly one Reference with
 *   URI="", transforms exactly enveloped-signature then exc-c14n, digest
 *   SHA-256/384/512.  KeyInfo/X509Data: the first X509Certificate must be
 *   the configured gateway certificate, byte for byte (DER), and that
 *   certificate must chain to the client CA now.
 *
 * URI="" with the enveloped transform covers the whole document but the
 * signature itself (and comments), so the MessageID and the ciphertext
 * read below are what the gateway signed: no wrapping, nothing fetched.
 * The math is libxmlsec1's, with the gateway's public key set on the
 * context (xmlsec never picks a key from the document) and its transforms
 * and reference URIs restricted to the list above; valid only if the
 * context's status is xmlSecDSigStatusSucceeded for exactly one reference.
 * RSA-PSS is not accepted here (xmlsec 1.2 has none; the gateway signs
 * with ECDSA or RSA PKCS#1 v1.5).
 *
 * Runs on the event loop thread; libxml2's error handler is silenced for
 * the duration of the crypto, as crypto/xmldsig.c does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlerror.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/openssl/evp.h>

#include "authority.h"
#include "chain.h"
#include "err.h"
#include "util.h"

#define NS_SOAP		"http://www.w3.org/2003/05/soap-envelope"
#define NS_GWENV	"urn:gatewayd:envelope:1"
#define NS_XENC		"http://www.w3.org/2001/04/xmlenc#"
#define NS_DSIG		"http://www.w3.org/2000/09/xmldsig#"
#define ALG_EXC_C14N	"http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_ENVELOPED	"http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define MORE01		"http://www.w3.org/2001/04/xmldsig-more#"

#define MAX_CERT_B64	(96 * 1024)
#define MIN_RSA_BITS	2048
#define MIN_EC_BITS	256

static const struct { const char *uri; int type; } sigalgs[] = {
	{ MORE01 "rsa-sha256", EVP_PKEY_RSA },
	{ MORE01 "rsa-sha384", EVP_PKEY_RSA },
	{ MORE01 "rsa-sha512", EVP_PKEY_RSA },
	{ MORE01 "ecdsa-sha256", EVP_PKEY_EC },
	{ MORE01 "ecdsa-sha384", EVP_PKEY_EC },
	{ MORE01 "ecdsa-sha512", EVP_PKEY_EC },
};

static const char *const digalgs[] = {
	NS_XENC "sha256", MORE01 "sha384", NS_XENC "sha512",
};

/* ---- tree helpers ---- */

static int
is_el(xmlNodePtr n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    n->ns->href != NULL &&
	    xmlStrcmp(n->ns->href, (const xmlChar *)ns) == 0 &&
	    xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static xmlNodePtr
elem_from(xmlNodePtr n)
{
	while (n != NULL && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

static xmlNodePtr
first_elem(xmlNodePtr n)
{
	return n == NULL ? NULL : elem_from(n->children);
}

static xmlNodePtr
next_elem(xmlNodePtr n)
{
	return n == NULL ? NULL : elem_from(n->next);
}

/* The one child of parent named ns:name; NULL if none or several. */
static xmlNodePtr
only_child(xmlNodePtr parent, const char *ns, const char *name)
{
	xmlNodePtr n, hit = NULL;

	for (n = first_elem(parent); n != NULL; n = next_elem(n))
		if (is_el(n, ns, name)) {
			if (hit != NULL)
				return NULL;
			hit = n;
		}
	return hit;
}

/* An attribute without namespace, as one text value; NULL if absent. */
static const char *
attr(xmlNodePtr n, const char *name)
{
	xmlAttrPtr a = xmlHasNsProp(n, (const xmlChar *)name, NULL);

	if (a == NULL || a->type != XML_ATTRIBUTE_NODE)
		return NULL;
	if (a->children == NULL)
		return "";
	if (a->children->type != XML_TEXT_NODE || a->children->next != NULL)
		return NULL;
	return (const char *)a->children->content;
}

static int
attr_is(xmlNodePtr n, const char *name, const char *want)
{
	const char *v = attr(n, name);

	return v != NULL && strcmp(v, want) == 0;
}

/* Document order, descending into elements only. */
static xmlNodePtr
next_in_doc(xmlNodePtr n)
{
	if (n->type == XML_ELEMENT_NODE && n->children != NULL)
		return n->children;
	while (n != NULL && n->type != XML_DOCUMENT_NODE) {
		if (n->next != NULL)
			return n->next;
		n = n->parent;
	}
	return NULL;
}

int
auth_valid_id(const char *s)
{
	size_t i;

	if (strncmp(s, "gw-", 3) != 0 || strlen(s) != AUTH_ID_LEN)
		return 0;
	for (i = 3; i < AUTH_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* ---- the envelope ---- */

struct shape {
	xmlNodePtr header, body, sig, encdata;
	char id[AUTH_ID_LEN + 1];
};

static int
fail(char *why, size_t whylen, int err, const char *msg)
{
	snprintf(why, whylen, "%s", msg);
	return err;
}

static int
find_message_id(xmlNodePtr header, struct shape *sh, char *why, size_t whylen)
{
	xmlNodePtr meta, ident, mid;
	xmlChar *text;
	int ok;

	if ((meta = only_child(header, NS_GWENV, "MessageMetaData")) == NULL)
		return fail(why, whylen, GW_ERR_INVALID, "soap:Header must hold "
		    "exactly one {" NS_GWENV "}MessageMetaData");
	if ((ident = only_child(meta, NS_GWENV, "MsgIdentification")) == NULL ||
	    (mid = only_child(ident, NS_GWENV, "MessageID")) == NULL)
		return fail(why, whylen, GW_ERR_INVALID, "the metadata must hold "
		    "exactly one MsgIdentification/MessageID");
	if ((text = xmlNodeGetContent(mid)) == NULL)
		return fail(why, whylen, GW_ERR_NOMEM, "out of memory");
	ok = auth_valid_id((const char *)text);
	if (ok)
		util_strlcpy(sh->id, (const char *)text, sizeof(sh->id));
	xmlFree(text);
	if (!ok)
		return fail(why, whylen, GW_ERR_INVALID, "the MessageID is not a "
		    "gateway message id (gw- and 32 hex digits)");
	return 0;
}

static int
check_shape(xmlDocPtr doc, struct shape *sh, char *why, size_t whylen)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), n;
	size_t nsig = 0;
	int r;

	if (!is_el(root, NS_SOAP, "Envelope"))
		return fail(why, whylen, GW_ERR_INVALID,
		    "the body is not a SOAP 1.2 Envelope");
	sh->header = first_elem(root);
	sh->body = next_elem(sh->header);
	for (n = doc->children; n != NULL; n = next_in_doc(n))
		if (is_el(n, NS_DSIG, "Signature") && nsig++ == 0)
			sh->sig = n;
	if (nsig == 0)
		return fail(why, whylen, GW_ERR_SIG_MISSING,
		    "the envelope carries no signature");
	if (nsig > 1)
		return fail(why, whylen, GW_ERR_SIG_MULTIPLE,
		    "the envelope carries more than one signature");
	if (!is_el(sh->header, NS_SOAP, "Header") ||
	    sh->sig->parent != sh->header || next_elem(sh->sig) != NULL)
		return fail(why, whylen, GW_ERR_SIG_PLACEMENT, "the signature "
		    "must be the last child of soap:Header");
	if (!is_el(sh->body, NS_SOAP, "Body") || next_elem(sh->body) != NULL)
		return fail(why, whylen, GW_ERR_INVALID, "the Envelope must hold "
		    "exactly soap:Header and soap:Body");
	if ((r = find_message_id(sh->header, sh, why, whylen)) != 0)
		return r;
	sh->encdata = first_elem(sh->body);
	if (!is_el(sh->encdata, NS_XENC, "EncryptedData") ||
	    next_elem(sh->encdata) != NULL)
		return fail(why, whylen, GW_ERR_INVALID, "soap:Body must hold "
		    "exactly one xenc:EncryptedData");
	return 0;
}

/* ---- the signature's structure ---- */

static int
known_sigalg(const char *uri, int keytype)
{
	size_t i;

	for (i = 0; uri != NULL && i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++)
		if (strcmp(uri, sigalgs[i].uri) == 0)
			return sigalgs[i].type == keytype;
	return 0;
}

static int
known_digalg(const char *uri)
{
	size_t i;

	for (i = 0; uri != NULL && i < sizeof(digalgs) / sizeof(digalgs[0]); i++)
		if (strcmp(uri, digalgs[i]) == 0)
			return 1;
	return 0;
}

/* Reference URI="": [enveloped, exc-c14n], DigestMethod, DigestValue. */
static int
check_reference(xmlNodePtr ref, char *why, size_t whylen)
{
	xmlNodePtr t, t1, t2, n;

	if (!attr_is(ref, "URI", ""))
		return fail(why, whylen, GW_ERR_SIG_REFERENCE,
		    "the Reference must have URI=\"\"");
	t = first_elem(ref);
	t1 = first_elem(t);
	t2 = next_elem(t1);
	if (!is_el(t, NS_DSIG, "Transforms") ||
	    !is_el(t1, NS_DSIG, "Transform") || first_elem(t1) != NULL ||
	    !attr_is(t1, "Algorithm", ALG_ENVELOPED) ||
	    !is_el(t2, NS_DSIG, "Transform") ||
	    !attr_is(t2, "Algorithm", ALG_EXC_C14N) || next_elem(t2) != NULL)
		return fail(why, whylen, GW_ERR_SIG_REFERENCE, "the transforms "
		    "must be exactly enveloped-signature and exclusive c14n");
	/* exc-c14n may carry an InclusiveNamespaces PrefixList, nothing else */
	n = first_elem(t2);
	if (n != NULL && (!is_el(n, ALG_EXC_C14N, "InclusiveNamespaces") ||
	    next_elem(n) != NULL))
		return fail(why, whylen, GW_ERR_SIG_REFERENCE,
		    "unexpected content in the exclusive c14n transform");
	n = next_elem(t);
	if (!is_el(n, NS_DSIG, "DigestMethod") || first_elem(n) != NULL ||
	    !known_digalg(attr(n, "Algorithm")))
		return fail(why, whylen, GW_ERR_SIG_ALGORITHM,
		    "the digest must be SHA-256, SHA-384 or SHA-512");
	n = next_elem(n);
	if (!is_el(n, NS_DSIG, "DigestValue") || next_elem(n) != NULL)
		return fail(why, whylen, GW_ERR_SIG_REFERENCE,
		    "the Reference is malformed");
	return 0;
}

static int
check_signedinfo(xmlNodePtr si, int keytype, char *why, size_t whylen)
{
	xmlNodePtr n = first_elem(si), ref;

	if (!is_el(n, NS_DSIG, "CanonicalizationMethod") ||
	    first_elem(n) != NULL || !attr_is(n, "Algorithm", ALG_EXC_C14N))
		return fail(why, whylen, GW_ERR_SIG_ALGORITHM, "SignedInfo must "
		    "be canonicalised with exclusive c14n (without comments)");
	n = next_elem(n);
	if (!is_el(n, NS_DSIG, "SignatureMethod") || first_elem(n) != NULL ||
	    !known_sigalg(attr(n, "Algorithm"), keytype))
		return fail(why, whylen, GW_ERR_SIG_ALGORITHM, "the signature "
		    "method must be RSA-SHA2 or ECDSA-SHA2 matching the gateway's "
		    "key");
	ref = next_elem(n);
	if (!is_el(ref, NS_DSIG, "Reference") || next_elem(ref) != NULL)
		return fail(why, whylen, GW_ERR_SIG_REFERENCE,
		    "SignedInfo must hold exactly one Reference");
	return check_reference(ref, why, whylen);
}

/* The first KeyInfo/X509Data/X509Certificate must be the gateway's. */
static int
check_signer(xmlNodePtr keyinfo, const struct auth_gateway *gw, char *why,
    size_t whylen)
{
	xmlNodePtr x509 = NULL, n;
	xmlChar *text;
	unsigned char *der = NULL;
	size_t derlen = 0;
	int r;

	for (n = first_elem(keyinfo); n != NULL && x509 == NULL; n = next_elem(n))
		if (is_el(n, NS_DSIG, "X509Data"))
			for (x509 = first_elem(n); x509 != NULL &&
			    !is_el(x509, NS_DSIG, "X509Certificate");
			    x509 = next_elem(x509))
				;
	if (x509 == NULL)
		return fail(why, whylen, GW_ERR_SIG_NOCERT, "the signature "
		    "carries no certificate in KeyInfo/X509Data");
	if ((text = xmlNodeGetContent(x509)) == NULL)
		return fail(why, whylen, GW_ERR_NOMEM, "out of memory");
	r = util_b64_decode((const char *)text, strlen((const char *)text),
	    MAX_CERT_B64, &der, &derlen);
	xmlFree(text);
	if (r != 0 || derlen != gw->derlen ||
	    CRYPTO_memcmp(der, gw->der, derlen) != 0) {
		free(der);
		return fail(why, whylen, GW_ERR_CERT_UNTRUSTED, "the signer "
		    "certificate is not the configured gateway certificate");
	}
	free(der);
	return 0;
}

static int
check_signature(xmlNodePtr sig, const struct auth_gateway *gw, int keytype,
    char *why, size_t whylen)
{
	xmlNodePtr si = first_elem(sig), sv = next_elem(si), ki = next_elem(sv);
	int r;

	if (!is_el(si, NS_DSIG, "SignedInfo") ||
	    !is_el(sv, NS_DSIG, "SignatureValue") ||
	    !is_el(ki, NS_DSIG, "KeyInfo") || next_elem(ki) != NULL)
		return fail(why, whylen, GW_ERR_SIG_INVALID, "the signature must "
		    "hold exactly SignedInfo, SignatureValue and KeyInfo");
	/* Who signed first: "not the gateway" says more than "wrong method". */
	if ((r = check_signer(ki, gw, why, whylen)) != 0)
		return r;
	return check_signedinfo(si, keytype, why, whylen);
}

/* ---- the math ---- */

static void
silent_xml(void *ctx, xmlErrorPtr error)
{
	(void)ctx;
	(void)error;
}

/* An xmlsec key holding a new reference to pkey (public use only). */
static xmlSecKeyPtr
xmlsec_key(EVP_PKEY *pkey)
{
	xmlSecKeyDataPtr data;
	xmlSecKeyPtr key;

	if (EVP_PKEY_up_ref(pkey) != 1)
		return NULL;
	if ((data = xmlSecOpenSSLEvpKeyAdopt(pkey)) == NULL) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if ((key = xmlSecKeyCreate()) == NULL) {
		xmlSecKeyDataDestroy(data);
		return NULL;
	}
	if (xmlSecKeySetValue(key, data) < 0) {
		xmlSecKeyDataDestroy(data);
		xmlSecKeyDestroy(key);
		return NULL;
	}
	return key;
}

/* Only the transforms named at the top, only URI="" references. */
static int
restrict_ctx(xmlSecDSigCtxPtr ctx)
{
	xmlSecTransformId ref[] = {
		xmlSecTransformEnvelopedId, xmlSecTransformExclC14NId,
		xmlSecTransformSha256Id, xmlSecTransformSha384Id,
		xmlSecTransformSha512Id,
	};
	xmlSecTransformId sig[] = {
		xmlSecTransformExclC14NId,
		xmlSecTransformRsaSha256Id, xmlSecTransformRsaSha384Id,
		xmlSecTransformRsaSha512Id, xmlSecTransformEcdsaSha256Id,
		xmlSecTransformEcdsaSha384Id, xmlSecTransformEcdsaSha512Id,
	};
	size_t i;

	ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
	ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
	for (i = 0; i < sizeof(ref) / sizeof(ref[0]); i++)
		if (xmlSecDSigCtxEnableReferenceTransform(ctx, ref[i]) < 0)
			return GW_ERR_INTERNAL;
	for (i = 0; i < sizeof(sig) / sizeof(sig[0]); i++)
		if (xmlSecDSigCtxEnableSignatureTransform(ctx, sig[i]) < 0)
			return GW_ERR_INTERNAL;
	return 0;
}

static int
verify_math(xmlNodePtr sig, EVP_PKEY *pkey)
{
	xmlStructuredErrorFunc saved_fn = xmlStructuredError;
	void *saved_ctx = xmlStructuredErrorContext;
	xmlSecDSigCtxPtr ctx;
	xmlSecDSigReferenceCtxPtr ref;
	int r;

	if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL)
		return GW_ERR_NOMEM;
	xmlSetStructuredErrorFunc(NULL, silent_xml);
	if ((r = restrict_ctx(ctx)) != 0)
		goto out;
	r = GW_ERR_NOMEM;
	if ((ctx->signKey = xmlsec_key(pkey)) == NULL)
		goto out;
	/* >= 0 only means it ran: the verdict is in status. */
	r = GW_ERR_SIG_INVALID;
	if (xmlSecDSigCtxVerify(ctx, sig) < 0 ||
	    ctx->status != xmlSecDSigStatusSucceeded)
		goto out;
	/* What was checked is what check_reference() saw: one reference. */
	if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1 ||
	    (ref = xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0)) == NULL ||
	    ref->status != xmlSecDSigStatusSucceeded)
		goto out;
	r = 0;
 out:
	xmlSecDSigCtxDestroy(ctx);
	xmlSetStructuredErrorFunc(saved_ctx, saved_fn);
	ERR_clear_error();
	return r;
}

/* The gateway certificate: chains to the client CA now, strong key. */
static int
check_gateway_cert(const struct auth_gateway *gw, EVP_PKEY *pkey, char *why,
    size_t whylen)
{
	char reason[128] = "";
	int type = EVP_PKEY_get_base_id(pkey), bits = EVP_PKEY_get_bits(pkey);
	int r;

	if ((type == EVP_PKEY_RSA && bits < MIN_RSA_BITS) ||
	    (type == EVP_PKEY_EC && bits < MIN_EC_BITS) ||
	    (type != EVP_PKEY_RSA && type != EVP_PKEY_EC))
		return fail(why, whylen, GW_ERR_KEY_WEAK, "the gateway "
		    "certificate's key is not allowed for signatures");
	r = chain_verify(gw->cert, NULL, gw->trust, 0, CHAIN_USAGE_SIGN, reason,
	    sizeof(reason));
	if (r != 0)
		snprintf(why, whylen, "the gateway certificate does not verify "
		    "against the client CA: %s", reason[0] ? reason : gw_strerror(r));
	return r;
}

int
auth_verify_envelope(xmlDocPtr doc, const struct auth_gateway *gw,
    char id[AUTH_ID_LEN + 1], xmlNodePtr *encdata, char *why, size_t whylen)
{
	struct shape sh;
	EVP_PKEY *pkey = X509_get0_pubkey(gw->cert);
	int r;

	memset(&sh, 0, sizeof(sh));
	if (pkey == NULL)
		return fail(why, whylen, GW_ERR_INTERNAL, "no gateway key");
	if ((r = check_shape(doc, &sh, why, whylen)) != 0)
		return r;
	if ((r = check_signature(sh.sig, gw, EVP_PKEY_get_base_id(pkey), why,
	    whylen)) != 0)
		return r;
	if ((r = check_gateway_cert(gw, pkey, why, whylen)) != 0)
		return r;
	if ((r = verify_math(sh.sig, pkey)) != 0)
		return fail(why, whylen, r, r == GW_ERR_SIG_INVALID ?
		    "the gateway's signature does not verify: the envelope was "
		    "altered or signed with another key" : gw_strerror(r));
	memcpy(id, sh.id, sizeof(sh.id));
	*encdata = sh.encdata;
	return 0;
}
