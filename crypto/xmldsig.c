/*
 * xmldsig.c - enveloped XML signatures under a strict policy.  See xmldsig.h.
 *
 * Verification is done in three steps, each of which must pass:
 *  1. Structure, checked here on the tree before any crypto: exactly one
 *     ds:Signature anywhere, the last element child of the document
 *     element; SignedInfo with one Reference URI="" whose transforms are
 *     exactly enveloped-signature + exc-c14n; allowed algorithms; the signer
 *     certificate in KeyInfo/X509Data.  Together these mean the signature
 *     covers the whole document except itself (and comments, which URI=""
 *     leaves out), so what the application reads is what was signed: no
 *     wrapping, no references to parts, nothing fetched.  A Signature that
 *     is not even shaped like one (no SignedInfo, no SignatureValue) is
 *     GW_ERR_SIG_INVALID.
 *  2. The path from the first X509Certificate (the others are untrusted
 *     intermediates) to the trust store at the given time (certs/chain.c).
 *  3. The math.  RSA PKCS#1 v1.5 and ECDSA go to xmlsec with the signer's
 *     public key set on the context, so xmlsec never resolves a key itself,
 *     and with its transforms and reference URIs restricted to the allow
 *     list.  xmlsec 1.2 has no RSA-PSS: for sha*-rsa-MGF1 the reference
 *     digest and the SignedInfo are canonicalised here (the same helpers the
 *     signing side uses) and checked with OpenSSL.
 * Steps 2 and 3 both run even when the other fails, so that the inspection
 * report can state the math result and the chain result separately; the
 * signature error wins when both fail.  A key below the policy minimum
 * (GW_ERR_KEY_WEAK) stops before either.
 *
 * Signing builds the Signature element with the tree API, computes the
 * digest and the canonical SignedInfo with the helpers below, and leaves the
 * private-key operation to keys_sign() (keys.h): xmlsec never sees a private
 * key.
 *
 * Threads: xmldsig_global_init() once before threads; then any thread may
 * verify or sign, each call with its own contexts.  libxml2 reports c14n
 * errors through the thread's structured error handler: it is replaced by a
 * silent one for the duration of a call, so nothing reaches stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/c14n.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlIO.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/io.h>
#include <xmlsec/keys.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/openssl/evp.h>

#include "chain.h"
#include "err.h"
#include "util.h"
#include "xmldsig.h"

#define NS_DSIG		"http://www.w3.org/2000/09/xmldsig#"
#define ALG_EXC_C14N	"http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_C14N10	"http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
#define ALG_C14N11	"http://www.w3.org/2006/12/xml-c14n11"
#define ALG_ENVELOPED	"http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define MORE01		"http://www.w3.org/2001/04/xmldsig-more#"
#define MORE07		"http://www.w3.org/2007/05/xmldsig-more#"
#define XMLENC		"http://www.w3.org/2001/04/xmlenc#"

#define MAX_CERTS	8		/* X509Certificate elements */
#define MAX_CERT_DER	(64 * 1024)
#define MAX_SIGVALUE	2048		/* RSA-16384 */
#define MAX_SIGNEDINFO	(64 * 1024)	/* canonical SignedInfo */
#define MAX_PREFIXES	32		/* InclusiveNamespaces PrefixList */
#define MIN_RSA_BITS	2048
#define MIN_EC_BITS	256

enum sigkind { SIG_RSA = 1, SIG_PSS, SIG_ECDSA };

struct sigalg {
	const char *uri;
	enum sigkind kind;
	const EVP_MD *(*md)(void);
};

static const struct sigalg sigalgs[] = {
	{ MORE01 "rsa-sha256", SIG_RSA, EVP_sha256 },
	{ MORE01 "rsa-sha384", SIG_RSA, EVP_sha384 },
	{ MORE01 "rsa-sha512", SIG_RSA, EVP_sha512 },
	{ MORE07 "sha256-rsa-MGF1", SIG_PSS, EVP_sha256 },
	{ MORE07 "sha384-rsa-MGF1", SIG_PSS, EVP_sha384 },
	{ MORE07 "sha512-rsa-MGF1", SIG_PSS, EVP_sha512 },
	{ MORE01 "ecdsa-sha256", SIG_ECDSA, EVP_sha256 },
	{ MORE01 "ecdsa-sha384", SIG_ECDSA, EVP_sha384 },
	{ MORE01 "ecdsa-sha512", SIG_ECDSA, EVP_sha512 },
};

struct digalg {
	const char *uri;
	const EVP_MD *(*md)(void);
};

static const struct digalg digalgs[] = {
	{ XMLENC "sha256", EVP_sha256 },
	{ MORE01 "sha384", EVP_sha384 },
	{ XMLENC "sha512", EVP_sha512 },
};

struct c14nalg {
	const char *uri;
	int mode;
};

/* Without comments only. */
static const struct c14nalg c14nalgs[] = {
	{ ALG_EXC_C14N, XML_C14N_EXCLUSIVE_1_0 },
	{ ALG_C14N10, XML_C14N_1_0 },
	{ ALG_C14N11, XML_C14N_1_1 },
};

/* An exc-c14n InclusiveNamespaces PrefixList, split in place. */
struct nslist {
	xmlChar *buf;
	xmlChar *v[MAX_PREFIXES + 1];	/* NULL-terminated */
	int set;
};

/* What the structural check found; pointers into the document. */
struct parsed {
	xmlNodePtr sig;
	xmlNodePtr signedinfo;
	xmlNodePtr sigvalue;
	xmlNodePtr digestvalue;
	xmlNodePtr keyinfo;
	const struct sigalg *alg;
	const struct digalg *dig;
	int si_mode;			/* SignedInfo c14n */
	struct nslist si_ns;
	struct nslist ref_ns;		/* the Reference's exc-c14n */
};

/* Output of a canonicalisation: a running digest or a bounded buffer. */
struct sink {
	EVP_MD_CTX *md;
	unsigned char *buf;
	size_t len;
	size_t cap;
	int err;
};

struct quiet {
	xmlStructuredErrorFunc fn;
	void *ctx;
};

static void
silent_xml(void *ctx, xmlErrorPtr error)
{
	(void)ctx;
	(void)error;
}

static void
silent_xmlsec(const char *file, int line, const char *func,
    const char *errorObject, const char *errorSubject, int reason,
    const char *msg)
{
	(void)file;
	(void)line;
	(void)func;
	(void)errorObject;
	(void)errorSubject;
	(void)reason;
	(void)msg;
}

/* libxml2's error handlers are per thread: swap in a silent one. */
static void
quiet_begin(struct quiet *q)
{
	q->fn = xmlStructuredError;
	q->ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(NULL, silent_xml);
}

static void
quiet_end(struct quiet *q)
{
	xmlSetStructuredErrorFunc(q->ctx, q->fn);
	ERR_clear_error();
}

/* ---- tree helpers ---- */

static int
is_ds(xmlNodePtr n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    n->ns->href != NULL &&
	    strcmp((const char *)n->ns->href, NS_DSIG) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
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

/* An attribute without namespace; points into the tree; NULL if absent. */
static const char *
attr(xmlNodePtr n, const char *name)
{
	xmlAttrPtr a;

	if ((a = xmlHasNsProp(n, (const xmlChar *)name, NULL)) == NULL ||
	    a->type != XML_ATTRIBUTE_NODE)
		return NULL;
	if (a->children == NULL)
		return "";
	if (a->children->type != XML_TEXT_NODE || a->children->next != NULL)
		return NULL;
	return (const char *)a->children->content;
}

/* Document order, elements only descended into. */
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

/* Counts ds:Signature elements anywhere in doc; *first gets the first. */
static size_t
count_signatures(xmlDocPtr doc, xmlNodePtr *first)
{
	xmlNodePtr n;
	size_t count = 0;

	*first = NULL;
	for (n = doc->children; n != NULL; n = next_in_doc(n))
		if (is_ds(n, "Signature") && count++ == 0)
			*first = n;
	return count;
}

/* Is node (an element, attribute, text or namespace of parent) in top? */
static int
inside(xmlNodePtr node, xmlNodePtr parent, xmlNodePtr top)
{
	xmlNodePtr n = node;

	if (n != NULL && n->type == XML_NAMESPACE_DECL)
		n = parent;	/* an xmlNs has no parent pointer */
	for (; n != NULL; n = n->parent)
		if (n == top)
			return 1;
	return 0;
}

/* The enveloped-signature transform: everything but the signature. */
static int
visible_outside(void *data, xmlNodePtr node, xmlNodePtr parent)
{
	return !inside(node, parent, data);
}

static int
visible_subtree(void *data, xmlNodePtr node, xmlNodePtr parent)
{
	return inside(node, parent, data);
}

/* ---- canonicalisation and digests (shared by signing and RSA-PSS) ---- */

static int
sink_write(void *ctx, const char *buf, int len)
{
	struct sink *s = ctx;

	if (len < 0)
		return -1;
	if (s->md != NULL) {
		if (EVP_DigestUpdate(s->md, buf, (size_t)len) != 1) {
			s->err = GW_ERR_CRYPTO;
			return -1;
		}
		return len;
	}
	if ((size_t)len > s->cap - s->len) {
		s->err = GW_ERR_TOO_LARGE;
		return -1;
	}
	memcpy(s->buf + s->len, buf, (size_t)len);
	s->len += (size_t)len;
	return len;
}

/* Runs c14n (never with comments) of the nodes cb selects into s. */
static int
c14n_run(xmlDocPtr doc, xmlC14NIsVisibleCallback cb, void *data, int mode,
    xmlChar **prefixes, struct sink *s)
{
	xmlOutputBufferPtr out;
	int n, c;

	if ((out = xmlOutputBufferCreateIO(sink_write, NULL, s, NULL)) == NULL)
		return GW_ERR_NOMEM;
	n = xmlC14NExecute(doc, cb, data, mode,
	    mode == XML_C14N_EXCLUSIVE_1_0 ? prefixes : NULL, 0, out);
	c = xmlOutputBufferClose(out);
	if (s->err != 0)
		return s->err;
	return n < 0 || c < 0 ? GW_ERR_INVALID : 0;
}

/*
 * The Reference digest: the document without the signature subtree
 * (enveloped-signature), exclusive c14n with prefixes, then md.
 */
static int
digest_document(xmlDocPtr doc, xmlNodePtr sig, xmlChar **prefixes,
    const EVP_MD *md, unsigned char out[EVP_MAX_MD_SIZE], unsigned int *outlen)
{
	struct sink s;
	int r;

	memset(&s, 0, sizeof(s));
	if ((s.md = EVP_MD_CTX_new()) == NULL)
		return GW_ERR_NOMEM;
	r = GW_ERR_CRYPTO;
	if (EVP_DigestInit_ex(s.md, md, NULL) != 1)
		goto out;
	if ((r = c14n_run(doc, visible_outside, sig, XML_C14N_EXCLUSIVE_1_0,
	    prefixes, &s)) != 0)
		goto out;
	r = EVP_DigestFinal_ex(s.md, out, outlen) == 1 ? 0 : GW_ERR_CRYPTO;
 out:
	EVP_MD_CTX_free(s.md);
	return r;
}

/* The canonical form of the subtree at node; *out is malloc'd. */
static int
c14n_subtree(xmlNodePtr node, int mode, xmlChar **prefixes,
    unsigned char **out, size_t *outlen)
{
	struct sink s;
	int r;

	memset(&s, 0, sizeof(s));
	s.cap = MAX_SIGNEDINFO;
	if ((s.buf = malloc(s.cap)) == NULL)
		return GW_ERR_NOMEM;
	if ((r = c14n_run(node->doc, visible_subtree, node, mode, prefixes,
	    &s)) != 0) {
		free(s.buf);
		return r;
	}
	*out = s.buf;
	*outlen = s.len;
	return 0;
}

/* The base64 content of an element, at most max bytes decoded. */
static int
node_b64(xmlNodePtr n, size_t max, unsigned char **out, size_t *outlen)
{
	xmlChar *text;
	int r;

	if ((text = xmlNodeGetContent(n)) == NULL)
		return GW_ERR_INVALID;
	r = util_b64_decode((const char *)text, strlen((const char *)text), max,
	    out, outlen);
	xmlFree(text);
	return r;
}

/* ---- structural checks ---- */

static void
nslist_free(struct nslist *l)
{
	xmlFree(l->buf);
	memset(l, 0, sizeof(*l));
}

/*
 * Reads the children of an exc-c14n method element: at most one
 * ec:InclusiveNamespaces with a PrefixList, nothing else (err otherwise).
 */
static int
nslist_parse(xmlNodePtr method, int exclusive, struct nslist *l, int err)
{
	xmlNodePtr c = first_elem(method);
	xmlChar *p;
	int n = 0;

	memset(l, 0, sizeof(*l));
	if (c == NULL)
		return 0;
	if (!exclusive || next_elem(c) != NULL || c->ns == NULL ||
	    strcmp((const char *)c->ns->href, ALG_EXC_C14N) != 0 ||
	    strcmp((const char *)c->name, "InclusiveNamespaces") != 0)
		return err;
	if ((l->buf = xmlGetNoNsProp(c, BAD_CAST "PrefixList")) == NULL)
		return err;
	l->set = 1;
	for (p = l->buf; *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (n == MAX_PREFIXES)
			return GW_ERR_TOO_LARGE;
		l->v[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' &&
		    *p != '\r')
			p++;
	}
	l->v[n] = NULL;
	return 0;
}

static const struct c14nalg *
find_c14n(const char *uri)
{
	size_t i;

	for (i = 0; uri != NULL && i < sizeof(c14nalgs) / sizeof(c14nalgs[0]); i++)
		if (strcmp(uri, c14nalgs[i].uri) == 0)
			return &c14nalgs[i];
	return NULL;
}

static const struct sigalg *
find_sigalg(const char *uri)
{
	size_t i;

	for (i = 0; uri != NULL && i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++)
		if (strcmp(uri, sigalgs[i].uri) == 0)
			return &sigalgs[i];
	return NULL;
}

static const struct digalg *
find_digalg(const char *uri)
{
	size_t i;

	for (i = 0; uri != NULL && i < sizeof(digalgs) / sizeof(digalgs[0]); i++)
		if (strcmp(uri, digalgs[i].uri) == 0)
			return &digalgs[i];
	return NULL;
}

/* Reference URI="": Transforms [enveloped, exc-c14n], DigestMethod, DigestValue. */
static int
check_reference(xmlNodePtr ref, struct parsed *p, struct dsig_info *info)
{
	const char *uri = attr(ref, "URI"), *alg;
	xmlNodePtr n, t1, t2;
	int r;

	if (uri == NULL || uri[0] != '\0')
		return GW_ERR_SIG_REFERENCE;
	n = first_elem(ref);
	if (!is_ds(n, "Transforms"))
		return GW_ERR_SIG_REFERENCE;
	t1 = first_elem(n);
	t2 = next_elem(t1);
	if (!is_ds(t1, "Transform") || !is_ds(t2, "Transform") ||
	    next_elem(t2) != NULL)
		return GW_ERR_SIG_REFERENCE;
	if ((alg = attr(t1, "Algorithm")) == NULL ||
	    strcmp(alg, ALG_ENVELOPED) != 0 || first_elem(t1) != NULL)
		return GW_ERR_SIG_REFERENCE;
	if ((alg = attr(t2, "Algorithm")) == NULL ||
	    strcmp(alg, ALG_EXC_C14N) != 0)
		return GW_ERR_SIG_REFERENCE;
	if ((r = nslist_parse(t2, 1, &p->ref_ns, GW_ERR_SIG_REFERENCE)) != 0)
		return r;
	n = next_elem(n);
	if (!is_ds(n, "DigestMethod"))
		return GW_ERR_SIG_REFERENCE;
	alg = attr(n, "Algorithm");
	util_strlcpy(info->digest_alg, alg ? alg : "", sizeof(info->digest_alg));
	if ((p->dig = find_digalg(alg)) == NULL || first_elem(n) != NULL)
		return GW_ERR_SIG_ALGORITHM;
	n = next_elem(n);
	if (!is_ds(n, "DigestValue") || next_elem(n) != NULL)
		return GW_ERR_SIG_REFERENCE;
	p->digestvalue = n;
	return 0;
}

/* SignedInfo: CanonicalizationMethod, SignatureMethod, exactly one Reference. */
static int
check_signedinfo(xmlNodePtr si, struct parsed *p, struct dsig_info *info)
{
	const struct c14nalg *c14n;
	const char *alg;
	xmlNodePtr n = first_elem(si);
	int r;

	if (!is_ds(n, "CanonicalizationMethod"))
		return GW_ERR_SIG_INVALID;
	if ((c14n = find_c14n(attr(n, "Algorithm"))) == NULL)
		return GW_ERR_SIG_ALGORITHM;
	p->si_mode = c14n->mode;
	if ((r = nslist_parse(n, c14n->mode == XML_C14N_EXCLUSIVE_1_0,
	    &p->si_ns, GW_ERR_SIG_ALGORITHM)) != 0)
		return r;
	n = next_elem(n);
	if (!is_ds(n, "SignatureMethod"))
		return GW_ERR_SIG_INVALID;
	alg = attr(n, "Algorithm");
	util_strlcpy(info->sig_alg, alg ? alg : "", sizeof(info->sig_alg));
	/* No children: HMACOutputLength and friends have no place here. */
	if ((p->alg = find_sigalg(alg)) == NULL || first_elem(n) != NULL)
		return GW_ERR_SIG_ALGORITHM;
	n = next_elem(n);
	if (!is_ds(n, "Reference") || next_elem(n) != NULL)
		return GW_ERR_SIG_REFERENCE;
	return check_reference(n, p, info);
}

/*
 * KeyInfo: X509Data with X509Certificate; KeyName and KeyValue are ignored
 * (the key is the certificate's); RetrievalMethod or anything else that
 * points elsewhere is refused.
 */
static int
check_keyinfo(xmlNodePtr ki)
{
	xmlNodePtr n, c;
	int certs = 0;

	for (n = first_elem(ki); n != NULL; n = next_elem(n)) {
		if (is_ds(n, "KeyName") || is_ds(n, "KeyValue"))
			continue;
		if (!is_ds(n, "X509Data"))
			return GW_ERR_SIG_NOCERT;
		for (c = first_elem(n); c != NULL; c = next_elem(c))
			if (is_ds(c, "X509Certificate"))
				certs++;
	}
	if (certs == 0)
		return GW_ERR_SIG_NOCERT;
	return certs > MAX_CERTS ? GW_ERR_TOO_LARGE : 0;
}

/* The whole policy on the tree, before any crypto. */
static int
check_structure(xmlDocPtr doc, struct parsed *p, struct dsig_info *info)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), n;
	size_t count;
	int r;

	/* A DTD could declare IDs and default attributes that change what is
	 * canonicalised; xmlparse_safe() never lets one through. */
	if (doc->intSubset != NULL || doc->extSubset != NULL)
		return GW_ERR_XML_DTD;
	if ((count = count_signatures(doc, &p->sig)) == 0)
		return GW_ERR_SIG_MISSING;
	if (count > 1)
		return GW_ERR_SIG_MULTIPLE;
	if (root == NULL || p->sig->parent != root || next_elem(p->sig) != NULL)
		return GW_ERR_SIG_PLACEMENT;
	n = first_elem(p->sig);
	if (!is_ds(n, "SignedInfo"))
		return GW_ERR_SIG_INVALID;
	p->signedinfo = n;
	n = next_elem(n);
	if (!is_ds(n, "SignatureValue"))
		return GW_ERR_SIG_INVALID;
	p->sigvalue = n;
	if ((r = check_signedinfo(p->signedinfo, p, info)) != 0)
		return r;
	n = next_elem(n);
	if (!is_ds(n, "KeyInfo"))
		return GW_ERR_SIG_NOCERT;
	p->keyinfo = n;
	/* ds:Object exists to be referenced; nothing may be, so none may be. */
	if (next_elem(n) != NULL)
		return GW_ERR_SIG_REFERENCE;
	return check_keyinfo(p->keyinfo);
}

/* ---- certificates and keys ---- */

static int
decode_cert(xmlNodePtr n, X509 **out)
{
	unsigned char *der = NULL;
	const unsigned char *q;
	size_t len = 0;
	X509 *x;
	int r;

	if ((r = node_b64(n, MAX_CERT_DER, &der, &len)) != 0)
		return r == GW_ERR_NOMEM ? r : GW_ERR_SIG_NOCERT;
	q = der;
	x = d2i_X509(NULL, &q, (long)len);
	if (x != NULL && q != der + len) {
		X509_free(x);
		x = NULL;
	}
	free(der);
	if (x == NULL)
		return GW_ERR_SIG_NOCERT;
	*out = x;
	return 0;
}

/* The first X509Certificate is the signer, the others untrusted. */
static int
load_certs(xmlNodePtr keyinfo, X509 **signer, STACK_OF(X509) **untrusted)
{
	STACK_OF(X509) *sk;
	xmlNodePtr n, c;
	X509 *x = NULL, *first = NULL;
	int r = 0;

	if ((sk = sk_X509_new_null()) == NULL)
		return GW_ERR_NOMEM;
	for (n = first_elem(keyinfo); n != NULL && r == 0; n = next_elem(n)) {
		if (!is_ds(n, "X509Data"))
			continue;
		for (c = first_elem(n); c != NULL && r == 0; c = next_elem(c)) {
			if (!is_ds(c, "X509Certificate") ||
			    (r = decode_cert(c, &x)) != 0)
				continue;
			if (first == NULL)
				first = x;
			else if (!sk_X509_push(sk, x)) {
				X509_free(x);
				r = GW_ERR_NOMEM;
			}
		}
	}
	if (r == 0 && first == NULL)
		r = GW_ERR_SIG_NOCERT;
	if (r != 0) {
		X509_free(first);
		sk_X509_pop_free(sk, X509_free);
		return r;
	}
	*signer = first;
	*untrusted = sk;
	return 0;
}

static void
name_rfc2253(X509_NAME *name, char *out, size_t outlen)
{
	BIO *bio;
	int n;

	out[0] = '\0';
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(bio, out, (int)outlen - 1)) > 0)
		out[n] = '\0';
	BIO_free(bio);
}

static void
fill_signer(struct dsig_info *info, X509 *cert)
{
	BIGNUM *bn;
	char *hex = NULL;

	name_rfc2253(X509_get_subject_name(cert), info->subject,
	    sizeof(info->subject));
	name_rfc2253(X509_get_issuer_name(cert), info->issuer,
	    sizeof(info->issuer));
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) != NULL)
		hex = BN_bn2hex(bn);
	util_strlcpy(info->serial, hex ? hex : "", sizeof(info->serial));
	OPENSSL_free(hex);
	BN_free(bn);
}

/* The key must suit the algorithm and be strong enough. */
static int
check_key(EVP_PKEY *pkey, const struct sigalg *alg)
{
	int type = EVP_PKEY_get_base_id(pkey), bits = EVP_PKEY_get_bits(pkey);

	switch (alg->kind) {
	case SIG_RSA:
	case SIG_PSS:
		if (type != EVP_PKEY_RSA &&
		    (alg->kind != SIG_PSS || type != EVP_PKEY_RSA_PSS))
			return GW_ERR_SIG_INVALID;
		return bits < MIN_RSA_BITS ? GW_ERR_KEY_WEAK : 0;
	case SIG_ECDSA:
		if (type != EVP_PKEY_EC)
			return GW_ERR_SIG_INVALID;
		return bits < MIN_EC_BITS ? GW_ERR_KEY_WEAK : 0;
	}
	return GW_ERR_INTERNAL;
}

/* ---- the math ---- */

static int
pss_params(EVP_PKEY_CTX *pctx, const EVP_MD *md)
{
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)
		return GW_ERR_CRYPTO;
	return 0;
}

/* RSA-PSS (RFC 6931 2.3.10: MGF1 with the same digest, salt = digest size). */
static int
verify_pss(xmlDocPtr doc, struct parsed *p, EVP_PKEY *pkey)
{
	unsigned char md[EVP_MAX_MD_SIZE], *want = NULL, *si = NULL, *sig = NULL;
	unsigned int mdlen = 0;
	size_t wantlen = 0, silen = 0, siglen = 0;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *sigmd = p->alg->md();
	int r;

	if ((r = digest_document(doc, p->sig, p->ref_ns.set ? p->ref_ns.v : NULL,
	    p->dig->md(), md, &mdlen)) != 0)
		goto out;
	if ((r = node_b64(p->digestvalue, EVP_MAX_MD_SIZE, &want, &wantlen)) != 0)
		goto out;
	r = GW_ERR_SIG_INVALID;
	if (wantlen != mdlen || CRYPTO_memcmp(want, md, mdlen) != 0)
		goto out;
	if ((r = c14n_subtree(p->signedinfo, p->si_mode,
	    p->si_ns.set ? p->si_ns.v : NULL, &si, &silen)) != 0)
		goto out;
	if ((r = node_b64(p->sigvalue, MAX_SIGVALUE, &sig, &siglen)) != 0)
		goto out;
	r = GW_ERR_NOMEM;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	r = GW_ERR_SIG_INVALID;
	if (EVP_DigestVerifyInit(mctx, &pctx, sigmd, NULL, pkey) != 1 ||
	    pss_params(pctx, sigmd) != 0 ||
	    EVP_DigestVerify(mctx, sig, siglen, si, silen) != 1)
		goto out;
	r = 0;
 out:
	EVP_MD_CTX_free(mctx);
	free(want);
	free(si);
	free(sig);
	return r == GW_ERR_NOMEM ? r : r != 0 ? GW_ERR_SIG_INVALID : 0;
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

/* Only the allow list, only same-document URI="" references. */
static int
restrict_ctx(xmlSecDSigCtxPtr ctx)
{
	xmlSecTransformId ref[] = {
		xmlSecTransformEnvelopedId, xmlSecTransformExclC14NId,
		xmlSecTransformSha256Id, xmlSecTransformSha384Id,
		xmlSecTransformSha512Id,
	};
	xmlSecTransformId sig[] = {
		xmlSecTransformExclC14NId, xmlSecTransformInclC14NId,
		xmlSecTransformInclC14N11Id,
		xmlSecTransformRsaSha256Id, xmlSecTransformRsaSha384Id,
		xmlSecTransformRsaSha512Id, xmlSecTransformEcdsaSha256Id,
		xmlSecTransformEcdsaSha384Id, xmlSecTransformEcdsaSha512Id,
	};
	size_t i;

	/* (No STORE_* flags: they keep the canonical document in memory.) */
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

/* RSA PKCS#1 v1.5 and ECDSA through xmlsec, with our key. */
static int
verify_xmlsec(const struct parsed *p, EVP_PKEY *pkey)
{
	xmlSecDSigCtxPtr ctx;
	xmlSecDSigReferenceCtxPtr ref;
	int r = GW_ERR_NOMEM;

	if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL)
		return GW_ERR_NOMEM;
	if ((r = restrict_ctx(ctx)) != 0)
		goto out;
	r = GW_ERR_NOMEM;
	if ((ctx->signKey = xmlsec_key(pkey)) == NULL)
		goto out;
	/* >= 0 only means it ran: the verdict is in status. */
	r = GW_ERR_SIG_INVALID;
	if (xmlSecDSigCtxVerify(ctx, p->sig) < 0 ||
	    ctx->status != xmlSecDSigStatusSucceeded)
		goto out;
	/* What was checked is what check_structure() saw: one reference. */
	if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1 ||
	    (ref = xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0)) == NULL ||
	    ref->status != xmlSecDSigStatusSucceeded)
		goto out;
	r = 0;
 out:
	xmlSecDSigCtxDestroy(ctx);
	return r;
}

static void
parsed_free(struct parsed *p)
{
	nslist_free(&p->si_ns);
	nslist_free(&p->ref_ns);
}

/* Steps 2 and 3 (see the top of the file); both always run. */
static int
verify_signer(xmlDocPtr doc, struct parsed *p, X509 *signer,
    STACK_OF(X509) *untrusted, X509_STORE *trust, time_t at,
    struct dsig_info *info)
{
	EVP_PKEY *pkey = X509_get0_pubkey(signer);
	int rc, rs;

	if (pkey == NULL)
		return GW_ERR_SIG_NOCERT;
	if ((rs = check_key(pkey, p->alg)) == GW_ERR_KEY_WEAK)
		return rs;
	rc = chain_verify(signer, untrusted, trust, at, CHAIN_USAGE_SIGN,
	    info->chain_error, sizeof(info->chain_error));
	if (rc == 0 || rc == GW_ERR_CERT_UNTRUSTED || rc == GW_ERR_CERT_EXPIRED ||
	    rc == GW_ERR_CERT_USAGE || rc == GW_ERR_CERT_REVOKED)
		info->chain_ok = rc == 0;
	if (rs == 0)
		rs = p->alg->kind == SIG_PSS ? verify_pss(doc, p, pkey) :
		    verify_xmlsec(p, pkey);
	if (rs == 0 || rs == GW_ERR_SIG_INVALID)
		info->signature_ok = rs == 0;
	return rs != 0 ? rs : rc;
}

int
xmldsig_verify(xmlDocPtr doc, X509_STORE *trust, time_t at,
    struct dsig_info *info)
{
	struct parsed p;
	struct quiet q;
	STACK_OF(X509) *untrusted = NULL;
	X509 *signer = NULL;
	int r;

	memset(info, 0, sizeof(*info));
	info->signature_ok = -1;
	info->chain_ok = -1;
	memset(&p, 0, sizeof(p));
	if (doc == NULL || trust == NULL)
		return GW_ERR_INTERNAL;
	quiet_begin(&q);
	if ((r = check_structure(doc, &p, info)) != 0)
		goto out;
	if ((r = load_certs(p.keyinfo, &signer, &untrusted)) != 0)
		goto out;
	fill_signer(info, signer);
	if ((r = verify_signer(doc, &p, signer, untrusted, trust, at, info)) != 0)
		goto out;
	info->signer = signer;
	signer = NULL;
 out:
	X509_free(signer);
	sk_X509_pop_free(untrusted, X509_free);
	parsed_free(&p);
	quiet_end(&q);
	return r;
}

/* ---- signing ---- */

/* Adds <ds:name Algorithm="alg"/> under parent; sets *bad on failure. */
static xmlNodePtr
add_el(xmlNodePtr parent, const char *name, const char *alg, int *bad)
{
	xmlNodePtr n = NULL;

	if (parent != NULL)
		n = xmlNewChild(parent, parent->ns, (const xmlChar *)name, NULL);
	if (n != NULL && alg != NULL &&
	    xmlNewProp(n, BAD_CAST "Algorithm", (const xmlChar *)alg) == NULL)
		n = NULL;
	if (n == NULL)
		*bad = 1;
	return n;
}

static int
set_b64(xmlNodePtr n, const unsigned char *data, size_t len)
{
	xmlNodePtr text;
	char *b64 = NULL;
	size_t b64len;
	int r;

	if ((r = util_b64_encode(data, len, &b64, &b64len)) != 0)
		return r;
	text = xmlNewDocText(n->doc, BAD_CAST b64);
	free(b64);
	if (text == NULL || xmlAddChild(n, text) == NULL) {
		xmlFreeNode(text);
		return GW_ERR_NOMEM;
	}
	return 0;
}

static int
add_cert(xmlNodePtr x509data, X509 *cert, int *bad)
{
	unsigned char *der = NULL;
	xmlNodePtr n;
	int len, r;

	if ((n = add_el(x509data, "X509Certificate", NULL, bad)) == NULL)
		return GW_ERR_NOMEM;
	if ((len = i2d_X509(cert, &der)) <= 0)
		return GW_ERR_CRYPTO;
	r = set_b64(n, der, (size_t)len);
	OPENSSL_free(der);
	return r;
}

/*
 * The Signature element for alg with empty DigestValue and SignatureValue,
 * not yet linked into doc.
 */
static int
build_signature(xmlDocPtr doc, const struct sigalg *alg, X509 *cert,
    STACK_OF(X509) *chain, struct parsed *p)
{
	xmlNodePtr sig, ref, t, x509data;
	xmlNsPtr ns;
	int bad = 0, r, i;

	if ((sig = xmlNewDocNode(doc, NULL, BAD_CAST "Signature", NULL)) == NULL)
		return GW_ERR_NOMEM;
	if ((ns = xmlNewNs(sig, BAD_CAST NS_DSIG, BAD_CAST "ds")) == NULL) {
		xmlFreeNode(sig);
		return GW_ERR_NOMEM;
	}
	xmlSetNs(sig, ns);
	p->sig = sig;
	p->signedinfo = add_el(sig, "SignedInfo", NULL, &bad);
	add_el(p->signedinfo, "CanonicalizationMethod", ALG_EXC_C14N, &bad);
	add_el(p->signedinfo, "SignatureMethod", alg->uri, &bad);
	ref = add_el(p->signedinfo, "Reference", NULL, &bad);
	if (ref != NULL && xmlNewProp(ref, BAD_CAST "URI", BAD_CAST "") == NULL)
		bad = 1;
	t = add_el(ref, "Transforms", NULL, &bad);
	add_el(t, "Transform", ALG_ENVELOPED, &bad);
	add_el(t, "Transform", ALG_EXC_C14N, &bad);
	add_el(ref, "DigestMethod", XMLENC "sha256", &bad);
	p->digestvalue = add_el(ref, "DigestValue", NULL, &bad);
	p->sigvalue = add_el(sig, "SignatureValue", NULL, &bad);
	p->keyinfo = add_el(sig, "KeyInfo", NULL, &bad);
	x509data = add_el(p->keyinfo, "X509Data", NULL, &bad);
	r = bad ? GW_ERR_NOMEM : add_cert(x509data, cert, &bad);
	for (i = 0; r == 0 && chain != NULL && i < sk_X509_num(chain); i++)
		r = add_cert(x509data, sk_X509_value(chain, i), &bad);
	if (r != 0) {
		xmlFreeNode(sig);
		p->sig = NULL;
	}
	return r;
}

/* DER ECDSA-Sig-Value to the fixed-width r||s of XML-DSig (RFC 4050). */
static int
ecdsa_der_to_raw(const unsigned char *der, size_t len, EVP_PKEY *pub,
    unsigned char **out, size_t *outlen)
{
	const unsigned char *q = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *es;
	unsigned char *buf = NULL;
	int w = (EVP_PKEY_get_bits(pub) + 7) / 8, rc = GW_ERR_CRYPTO;

	if ((es = d2i_ECDSA_SIG(NULL, &q, (long)len)) == NULL)
		return GW_ERR_CRYPTO;
	if (q != der + len || w <= 0)
		goto out;
	if ((buf = malloc(2 * (size_t)w)) == NULL) {
		rc = GW_ERR_NOMEM;
		goto out;
	}
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, buf, w) != w || BN_bn2binpad(s, buf + w, w) != w)
		goto out;
	*out = buf;
	*outlen = 2 * (size_t)w;
	buf = NULL;
	rc = 0;
 out:
	free(buf);
	ECDSA_SIG_free(es);
	return rc;
}

/* Canonical SignedInfo signed by keys_sign(); the value in XML-DSig form. */
static int
sign_signedinfo(struct keys *key, const struct sigalg *alg, EVP_PKEY *pub,
    const struct parsed *p)
{
	enum keys_sigalg ka = alg->kind == SIG_ECDSA ? KEYS_SIG_ECDSA :
	    alg->kind == SIG_PSS ? KEYS_SIG_RSA_PSS : KEYS_SIG_RSA_PKCS1;
	unsigned char *si = NULL, *sig = NULL, *raw = NULL;
	size_t silen = 0, siglen = 0, rawlen = 0;
	int r;

	if ((r = c14n_subtree(p->signedinfo, XML_C14N_EXCLUSIVE_1_0, NULL, &si,
	    &silen)) != 0)
		goto out;
	if ((r = keys_sign(key, ka, alg->md(), si, silen, &sig, &siglen)) != 0)
		goto out;
	if (ka == KEYS_SIG_ECDSA) {
		if ((r = ecdsa_der_to_raw(sig, siglen, pub, &raw, &rawlen)) != 0)
			goto out;
		r = set_b64(p->sigvalue, raw, rawlen);
	} else
		r = set_b64(p->sigvalue, sig, siglen);
 out:
	free(si);
	free(sig);
	free(raw);
	return r;
}

static const struct sigalg *
choose_sigalg(int type, int pss)
{
	if (type == EVP_PKEY_RSA)
		return find_sigalg(pss ? MORE07 "sha256-rsa-MGF1" :
		    MORE01 "rsa-sha256");
	if (type == EVP_PKEY_EC && !pss)
		return find_sigalg(MORE01 "ecdsa-sha256");
	return NULL;
}

int
xmldsig_sign(xmlDocPtr doc, struct keys *key, X509 *cert,
    STACK_OF(X509) *chain, int pss)
{
	const struct sigalg *alg;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct parsed p;
	struct quiet q;
	EVP_PKEY *pub = NULL;
	xmlNodePtr root, existing;
	int r = GW_ERR_INVALID;

	memset(&p, 0, sizeof(p));
	quiet_begin(&q);
	if (doc == NULL || key == NULL || cert == NULL ||
	    (root = xmlDocGetRootElement(doc)) == NULL)
		goto out;
	r = GW_ERR_SIG_MULTIPLE;
	if (count_signatures(doc, &existing) != 0)
		goto out;
	r = GW_ERR_SIG_ALGORITHM;
	if ((alg = choose_sigalg(keys_type(key), pss)) == NULL)
		goto out;
	/* Never put a certificate next to a signature its key did not make. */
	pub = keys_public(key);
	r = GW_ERR_INVALID;
	if (EVP_PKEY_eq(pub, X509_get0_pubkey(cert)) != 1)
		goto out;
	if ((r = check_key(pub, alg)) != 0)
		goto out;
	if ((r = build_signature(doc, alg, cert, chain, &p)) != 0)
		goto out;
	if (xmlAddChild(root, p.sig) == NULL) {
		xmlFreeNode(p.sig);
		p.sig = NULL;
		r = GW_ERR_NOMEM;
		goto out;
	}
	if ((r = digest_document(doc, p.sig, NULL, EVP_sha256(), md,
	    &mdlen)) != 0 ||
	    (r = set_b64(p.digestvalue, md, mdlen)) != 0)
		goto out;
	if ((r = sign_signedinfo(key, alg, pub, &p)) != 0)
		goto out;
	p.sig = NULL;	/* the document's now */
 out:
	if (p.sig != NULL) {
		xmlUnlinkNode(p.sig);
		xmlFreeNode(p.sig);
	}
	EVP_PKEY_free(pub);
	quiet_end(&q);
	return r;
}

/* ---- process set-up ---- */

int
xmldsig_global_init(void)
{
	xmlInitParser();
	if (xmlSecInit() < 0)
		return GW_ERR_INTERNAL;
	if (xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0) {
		xmlSecShutdown();
		return GW_ERR_INTERNAL;
	}
	if (xmlSecCryptoInit() < 0) {
		xmlSecCryptoAppShutdown();
		xmlSecShutdown();
		return GW_ERR_INTERNAL;
	}
	/* After xmlSecCryptoInit(), which installs the backend's own (printing)
	 * callback: xmlsec must not write to stderr either. */
	xmlSecErrorsDefaultCallbackEnableOutput(0);
	xmlSecErrorsSetCallback(silent_xmlsec);
	/* xmlsec opens URIs (file, http, ftp) through these; we never want
	 * it to, whatever a document names. */
	xmlSecIOCleanupCallbacks();
	return 0;
}

void
xmldsig_global_cleanup(void)
{
	xmlSecCryptoShutdown();
	xmlSecCryptoAppShutdown();
	xmlSecShutdown();
}
