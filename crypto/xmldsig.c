/*
 * xmldsig.c - enveloped XML signatures under the algorithm policy.  See
 * xmldsig.h.
 *
 * Verification is done in three steps, each of which must pass:
 *  1. The policy on the tree, before any crypto (dsig_check.c): one
 *     ds:Signature, the last child of the document element; unique IDs;
 *     References URI="" (or "#id" the profile names) covering the document
 *     element; transforms exactly enveloped-signature + exc-c14n; allowed
 *     algorithms; the signer certificate in KeyInfo/X509Data.  Together
 *     these mean that what the application reads is what was signed: no
 *     wrapping, no references to parts, nothing fetched.  Every objection
 *     is recorded with its reason code; if there is any, steps 2 and 3 do
 *     not run (the signer's names are still reported when the certificate
 *     could be decoded).
 *  2. The signer key against the policy (size, curve; a 2048-bit RSA key
 *     where the profile allows it is a warning), then the path from the
 *     first X509Certificate (the others are untrusted intermediates) to the
 *     trust store at the given time (certs/chain.c).
 *  3. The math.  RSA PKCS#1 v1.5 and ECDSA with SHA-2 go to xmlsec with the
 *     signer's public key set on the context, so xmlsec never resolves a
 *     key itself, and with its transforms and reference URIs restricted to
 *     the allow list.  xmlsec 1.2 has neither RSA-PSS nor SHA-3: for those
 *     the reference digests and the SignedInfo are canonicalised here
 *     (c14n.c, the same helpers the signing side uses) and checked with
 *     OpenSSL.
 * Steps 2 and 3 both run even when the other fails, so that the inspection
 * report can state the math result and the chain result separately; the
 * signature error wins when both fail.  A key below the policy minimum
 * (GW_ERR_KEY_WEAK) stops before either.
 *
 * Signing builds the Signature element with the tree API, computes the
 * digest and the canonical SignedInfo with the helpers in c14n.c, and
 * leaves the private-key operation to keys_sign() (keys.h): xmlsec never
 * sees a private key.
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
#include "dsig_int.h"
#include "err.h"
#include "inspect.h"
#include "util.h"
#include "xmldsig.h"

#define SHA2_MDS	(PMD_SHA256 | PMD_SHA384 | PMD_SHA512)

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

/* ---- certificates ---- */

static int
decode_cert(xmlNodePtr n, X509 **out)
{
	unsigned char *der = NULL;
	const unsigned char *q;
	size_t len = 0;
	X509 *x;
	int r;

	if ((r = c14n_node_b64(n, DSIG_MAX_CERT_DER, &der, &len)) != 0)
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
	int r = 0, count = 0;

	if ((sk = sk_X509_new_null()) == NULL)
		return GW_ERR_NOMEM;
	for (n = dsig_first_elem(keyinfo); n != NULL && r == 0;
	    n = dsig_next_elem(n)) {
		if (!dsig_is(n, "X509Data"))
			continue;
		for (c = dsig_first_elem(n); c != NULL && r == 0;
		    c = dsig_next_elem(c)) {
			if (!dsig_is(c, "X509Certificate"))
				continue;
			if (++count > DSIG_MAX_CERTS) {
				r = GW_ERR_TOO_LARGE;
				break;
			}
			if ((r = decode_cert(c, &x)) != 0)
				break;
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
fill_signer(struct dsig_info *info, X509 *cert)
{
	inspect_cert_names(cert, info->subject, sizeof(info->subject),
	    info->issuer, sizeof(info->issuer), info->serial,
	    sizeof(info->serial));
	info->not_before = inspect_asn1_time(X509_get0_notBefore(cert));
	info->not_after = inspect_asn1_time(X509_get0_notAfter(cert));
	info->qualified = inspect_cert_qualified(cert);
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

/* The fixed-width r||s of XML-DSig (RFC 4050) to a DER ECDSA-Sig-Value;
 * anything but exactly twice the key's width is refused. */
static int
ecdsa_raw_to_der(const unsigned char *raw, size_t len, EVP_PKEY *pub,
    unsigned char **out, size_t *outlen)
{
	size_t w = ((size_t)EVP_PKEY_get_bits(pub) + 7) / 8;
	BIGNUM *r = NULL, *s = NULL;
	ECDSA_SIG *es = NULL;
	unsigned char *der = NULL;
	int n, rc = GW_ERR_SIG_INVALID;

	if (w == 0 || len != 2 * w)
		return GW_ERR_SIG_INVALID;
	rc = GW_ERR_NOMEM;
	if ((r = BN_bin2bn(raw, (int)w, NULL)) == NULL ||
	    (s = BN_bin2bn(raw + w, (int)w, NULL)) == NULL ||
	    (es = ECDSA_SIG_new()) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(es, &der)) <= 0)
		goto out;
	*out = der;
	*outlen = (size_t)n;
	rc = 0;
 out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

/* The SignatureValue over the canonical SignedInfo, with OpenSSL. */
static int
verify_value(struct parsed *p, EVP_PKEY *pkey)
{
	unsigned char *si = NULL, *sig = NULL, *der = NULL;
	size_t silen = 0, siglen = 0, derlen = 0;
	const EVP_MD *md = policy_md_evp(p->alg->md);
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int r;

	if ((r = c14n_subtree(p->signedinfo, p->si_mode,
	    p->si_ns.set ? p->si_ns.v : NULL, &si, &silen)) != 0)
		goto out;
	if ((r = c14n_node_b64(p->sigvalue, DSIG_MAX_SIGVALUE, &sig,
	    &siglen)) != 0)
		goto out;
	if (p->alg->kind == PSK_ECDSA) {
		if ((r = ecdsa_raw_to_der(sig, siglen, pkey, &der, &derlen)) != 0)
			goto out;
	}
	r = GW_ERR_NOMEM;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	r = GW_ERR_SIG_INVALID;
	if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pkey) != 1 ||
	    (p->alg->kind == PSK_PSS && pss_params(pctx, md) != 0))
		goto out;
	if (EVP_DigestVerify(mctx, der ? der : sig, der ? derlen : siglen, si,
	    silen) != 1)
		goto out;
	r = 0;
 out:
	EVP_MD_CTX_free(mctx);
	free(si);
	free(sig);
	OPENSSL_free(der);
	return r;
}

/*
 * Our own path (RSA-PSS, SHA-3; RFC 6931 2.3.10: MGF1 with the same
 * digest, salt = digest size): every Reference digest, then the value.
 */
static int
verify_own(xmlDocPtr doc, struct parsed *p, EVP_PKEY *pkey,
    enum policy_reason *why)
{
	unsigned char md[EVP_MAX_MD_SIZE], *want = NULL;
	unsigned int mdlen = 0;
	size_t wantlen = 0;
	struct dsig_ref *ref;
	int i, r;

	for (i = 0; i < p->nrefs; i++) {
		ref = &p->refs[i];
		if ((r = c14n_digest(doc, ref->target, p->sig,
		    ref->ns.set ? ref->ns.v : NULL, policy_md_evp(ref->dig->md),
		    md, &mdlen)) != 0)
			return r == GW_ERR_NOMEM ? r : GW_ERR_SIG_INVALID;
		if ((r = c14n_node_b64(ref->digestvalue, EVP_MAX_MD_SIZE, &want,
		    &wantlen)) != 0)
			wantlen = 0;
		r = wantlen == mdlen && CRYPTO_memcmp(want, md, mdlen) == 0;
		free(want);
		want = NULL;
		if (!r) {
			*why = PR_DIGEST_MISMATCH;
			return GW_ERR_SIG_INVALID;
		}
	}
	if ((r = verify_value(p, pkey)) != 0) {
		*why = PR_SIGNATURE_VALUE_INVALID;
		return r == GW_ERR_NOMEM ? r : GW_ERR_SIG_INVALID;
	}
	return 0;
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

/* Only the allow list; only URI="" and, if the policy names IDs, "#id". */
static int
restrict_ctx(xmlSecDSigCtxPtr ctx, const struct crypto_policy *pol)
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
	if (pol->nref_ids > 0)
		ctx->enabledReferenceUris |= xmlSecTransformUriTypeSameDocument;
	for (i = 0; i < sizeof(ref) / sizeof(ref[0]); i++)
		if (xmlSecDSigCtxEnableReferenceTransform(ctx, ref[i]) < 0)
			return GW_ERR_INTERNAL;
	for (i = 0; i < sizeof(sig) / sizeof(sig[0]); i++)
		if (xmlSecDSigCtxEnableSignatureTransform(ctx, sig[i]) < 0)
			return GW_ERR_INTERNAL;
	return 0;
}

/* RSA PKCS#1 v1.5 and ECDSA with SHA-2 through xmlsec, with our key. */
static int
verify_xmlsec(const struct parsed *p, const struct crypto_policy *pol,
    EVP_PKEY *pkey, enum policy_reason *why)
{
	xmlSecDSigCtxPtr ctx;
	xmlSecDSigReferenceCtxPtr ref;
	xmlSecSize i, n;
	int r = GW_ERR_NOMEM;

	if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL)
		return GW_ERR_NOMEM;
	if ((r = restrict_ctx(ctx, pol)) != 0)
		goto out;
	r = GW_ERR_NOMEM;
	if ((ctx->signKey = xmlsec_key(pkey)) == NULL)
		goto out;
	r = GW_ERR_SIG_INVALID;
	*why = PR_SIGNATURE_VALUE_INVALID;
	/* >= 0 only means it ran: the verdict is in status. */
	if (xmlSecDSigCtxVerify(ctx, p->sig) < 0 ||
	    ctx->status != xmlSecDSigStatusSucceeded) {
		/* References are checked first: a failed one is the reason. */
		n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
		for (i = 0; i < n; i++)
			if ((ref = xmlSecPtrListGetItem(&ctx->signedInfoReferences,
			    i)) != NULL && ref->status != xmlSecDSigStatusSucceeded)
				*why = PR_DIGEST_MISMATCH;
		goto out;
	}
	/* What was checked is what dsig_check() saw. */
	n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
	if (n != (xmlSecSize)p->nrefs)
		goto out;
	for (i = 0; i < n; i++)
		if ((ref = xmlSecPtrListGetItem(&ctx->signedInfoReferences,
		    i)) == NULL || ref->status != xmlSecDSigStatusSucceeded)
			goto out;
	*why = POLICY_OK;
	r = 0;
 out:
	xmlSecDSigCtxDestroy(ctx);
	return r;
}

/* xmlsec 1.2 does RSA PKCS#1 v1.5 and ECDSA with SHA-2 digests only. */
static int
xmlsec_can(const struct parsed *p)
{
	int i;

	if (p->alg->kind == PSK_PSS || (p->alg->md & SHA2_MDS) == 0)
		return 0;
	for (i = 0; i < p->nrefs; i++)
		if ((p->refs[i].dig->md & SHA2_MDS) == 0)
			return 0;
	return 1;
}

/* How the signer's path is checked: chain_verify() against a store, or
 * chain_verify_ex() under a chain context with its report. */
struct pathcheck {
	X509_STORE *trust;
	const struct chain_ctx *ctx;
	struct chain_report *report;	/* with ctx; never NULL then */
};

static enum policy_reason
chain_reason(int rc)
{
	switch (rc) {
	case 0: case GW_ERR_NOMEM: case GW_ERR_INTERNAL: return POLICY_OK;
	case GW_ERR_CERT_EXPIRED: return PR_CERT_EXPIRED;
	case GW_ERR_CERT_USAGE: return PR_CERT_USAGE;
	case GW_ERR_CERT_REVOKED: return PR_CERT_REVOKED;
	case GW_ERR_CERT_INDETERMINATE: return PR_REVOCATION_UNAVAILABLE;
	/* Untrusted, and whatever a chain_ctx's cert_check refused. */
	default: return PR_CERT_UNTRUSTED;
	}
}

/* The path of signer; *why gets the reason code of a failure. */
static int
check_path(const struct pathcheck *pc, X509 *signer,
    STACK_OF(X509) *untrusted, time_t at, struct dsig_info *info,
    enum policy_reason *why)
{
	const struct chain_report *rep = pc->report;
	int rc, i;

	if (pc->ctx == NULL) {
		rc = chain_verify(signer, untrusted, pc->trust, at,
		    CHAIN_USAGE_SIGN, info->chain_error,
		    sizeof(info->chain_error));
		*why = chain_reason(rc);
		return rc;
	}
	rc = chain_verify_ex(pc->ctx, signer, untrusted, at, CHAIN_USAGE_SIGN,
	    pc->report);
	*why = chain_reason(rc);
	if (rc != 0)
		util_strlcpy(info->chain_error, rep->detail,
		    sizeof(info->chain_error));
	if (rc != 0 && rep->reason != NULL &&
	    strcmp(rep->reason, "revocation-unavailable") == 0)
		*why = PR_REVOCATION_UNAVAILABLE;
	for (i = 0; rc == 0 && i < rep->nwarnings; i++)
		if (rep->warnings[i].code != NULL &&
		    strcmp(rep->warnings[i].code, "revocation-unavailable") == 0)
			policy_result_warn(&info->result, PR_REVOCATION_UNAVAILABLE);
	return rc;
}

/* Steps 2 and 3 (see the top of the file). */
static int
verify_signer(xmlDocPtr doc, struct parsed *p,
    const struct crypto_policy *pol, X509 *signer, STACK_OF(X509) *untrusted,
    const struct pathcheck *pc, time_t at, struct dsig_info *info)
{
	EVP_PKEY *pkey = X509_get0_pubkey(signer);
	enum policy_reason kr, warn, why = POLICY_OK, path_why = POLICY_OK;
	int rc, rs = 0;

	if (pkey == NULL) {
		policy_result_reject(&info->result, PR_KEYINFO_BAD_CERT);
		return GW_ERR_SIG_NOCERT;
	}
	kr = policy_key(pol, pkey, p->alg->kind, &warn, info->key_desc,
	    sizeof(info->key_desc));
	if (kr == PR_KEY_RSA_TOO_SHORT || kr == PR_KEY_EC_CURVE) {
		policy_result_reject(&info->result, kr);
		return GW_ERR_KEY_WEAK;
	}
	policy_result_warn(&info->result, warn);
	if ((rc = check_path(pc, signer, untrusted, at, info, &path_why)) ==
	    GW_ERR_NOMEM)
		return rc;
	/* No revocation answer under "require": the path is indeterminate. */
	if (rc == 0 || (path_why != POLICY_OK &&
	    path_why != PR_REVOCATION_UNAVAILABLE))
		info->chain_ok = rc == 0;
	if (kr == PR_KEY_TYPE) {
		why = PR_KEY_TYPE;
		rs = GW_ERR_SIG_INVALID;
	} else if (xmlsec_can(p))
		rs = verify_xmlsec(p, pol, pkey, &why);
	else
		rs = verify_own(doc, p, pkey, &why);
	if (rs == 0 || rs == GW_ERR_SIG_INVALID)
		info->signature_ok = rs == 0;
	if (rs == GW_ERR_SIG_INVALID)
		policy_result_reject(&info->result, why);
	policy_result_reject(&info->result, path_why);
	return rs != 0 ? rs : rc;
}

static int
verify_doc(xmlDocPtr doc, const struct pathcheck *pc, time_t at,
    const struct crypto_policy *policy, struct dsig_info *info)
{
	struct crypto_policy def;
	struct parsed p;
	struct quiet q;
	STACK_OF(X509) *untrusted = NULL;
	X509 *signer = NULL;
	int r;

	memset(info, 0, sizeof(*info));
	info->signature_ok = -1;
	info->chain_ok = -1;
	info->checked_at = at != 0 ? at : time(NULL);
	memset(&p, 0, sizeof(p));
	if (doc == NULL)
		return GW_ERR_INTERNAL;
	if (policy == NULL) {
		policy_default(&def);
		policy = &def;
	}
	quiet_begin(&q);
	if ((r = dsig_check(doc, policy, &p, info)) != 0)
		goto out;
	/* The signer is named even when the policy refuses the signature. */
	if (p.keyinfo != NULL && !policy_result_has(&info->result,
	    PR_KEYINFO_TOO_MANY_CERTS)) {
		r = load_certs(p.keyinfo, &signer, &untrusted);
		if (r == GW_ERR_NOMEM)
			goto out;
		if (r != 0 && !policy_result_has(&info->result,
		    PR_KEYINFO_NO_CERT) && !policy_result_has(&info->result,
		    PR_KEYINFO_KEYVALUE_ONLY))
			policy_result_reject(&info->result, PR_KEYINFO_BAD_CERT);
		if (signer != NULL)
			fill_signer(info, signer);
	}
	if (info->result.nreasons > 0) {
		r = policy_reason_err(info->result.reasons[0]);
		goto out;
	}
	r = verify_signer(doc, &p, policy, signer, untrusted, pc, at, info);
	if (r != 0 && r != GW_ERR_NOMEM && info->result.nreasons > 0)
		r = policy_reason_err(info->result.reasons[0]);
	if (r != 0)
		goto out;
	info->signer = signer;
	signer = NULL;
 out:
	X509_free(signer);
	sk_X509_pop_free(untrusted, X509_free);
	dsig_parsed_free(&p);
	quiet_end(&q);
	return r;
}

int
xmldsig_verify_ex(xmlDocPtr doc, X509_STORE *trust, time_t at,
    const struct crypto_policy *policy, struct dsig_info *info)
{
	struct pathcheck pc = { trust, NULL, NULL };

	if (trust == NULL) {
		memset(info, 0, sizeof(*info));
		info->signature_ok = info->chain_ok = -1;
		return GW_ERR_INTERNAL;
	}
	return verify_doc(doc, &pc, at, policy, info);
}

int
xmldsig_verify_chain(xmlDocPtr doc, const struct chain_ctx *chain,
    time_t at, const struct crypto_policy *policy, struct dsig_info *info,
    struct chain_report *report)
{
	struct pathcheck pc = { NULL, chain, report };
	int r;

	if (chain == NULL || chain->trust == NULL) {
		memset(info, 0, sizeof(*info));
		info->signature_ok = info->chain_ok = -1;
		return GW_ERR_INTERNAL;
	}
	if (report == NULL && (pc.report = malloc(sizeof(*pc.report))) == NULL)
		return GW_ERR_NOMEM;
	memset(pc.report, 0, sizeof(*pc.report));
	r = verify_doc(doc, &pc, at, policy, info);
	if (report == NULL)
		free(pc.report);
	return r;
}

/* The spine's behaviour for its callers: the default policy, with RSA keys
 * down to 2048 bits accepted (and the KEY_RSA_2048 warning reported). */
int
xmldsig_verify(xmlDocPtr doc, X509_STORE *trust, time_t at,
    struct dsig_info *info)
{
	struct crypto_policy pol;

	policy_default(&pol);
	pol.allow_rsa2048 = 1;
	return xmldsig_verify_ex(doc, trust, at, &pol, info);
}

/* ---- signing ---- */

/* Adds <ds:name Algorithm="alg"/> under parent; sets *bad on failure. */
static xmlNodePtr
add_el(xmlNodePtr parent, const char *name, const char *alg, int *bad)
{
	xmlNodePtr n = NULL;

	if (parent != NULL)
		n = xmlNewChild(parent, parent->ns, (const xmlChar *)name, NULL);
	if (n != NULL && alg != NULL && xmlNewProp(n,
	    (const xmlChar *)"Algorithm", (const xmlChar *)alg) == NULL)
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
	text = xmlNewDocText(n->doc, (const xmlChar *)b64);
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
 * The Signature element for alg/dig over uri with empty DigestValue and
 * SignatureValue, not yet linked into doc.
 */
static int
build_signature(xmlDocPtr doc, const struct policy_alg *alg,
    const struct policy_alg *dig, const char *uri, X509 *cert,
    STACK_OF(X509) *chain, struct parsed *p)
{
	xmlNodePtr sig, ref, t, x509data;
	xmlNsPtr ns;
	int bad = 0, r, i;

	sig = xmlNewDocNode(doc, NULL, (const xmlChar *)"Signature", NULL);
	if (sig == NULL)
		return GW_ERR_NOMEM;
	ns = xmlNewNs(sig, (const xmlChar *)NS_DSIG, (const xmlChar *)"ds");
	if (ns == NULL) {
		xmlFreeNode(sig);
		return GW_ERR_NOMEM;
	}
	xmlSetNs(sig, ns);
	p->sig = sig;
	p->signedinfo = add_el(sig, "SignedInfo", NULL, &bad);
	add_el(p->signedinfo, "CanonicalizationMethod", ALG_EXC_C14N, &bad);
	add_el(p->signedinfo, "SignatureMethod", alg->uri, &bad);
	ref = add_el(p->signedinfo, "Reference", NULL, &bad);
	if (ref != NULL && xmlNewProp(ref, (const xmlChar *)"URI",
	    (const xmlChar *)uri) == NULL)
		bad = 1;
	t = add_el(ref, "Transforms", NULL, &bad);
	add_el(t, "Transform", ALG_ENVELOPED, &bad);
	add_el(t, "Transform", ALG_EXC_C14N, &bad);
	add_el(ref, "DigestMethod", dig->uri, &bad);
	p->refs[0].digestvalue = add_el(ref, "DigestValue", NULL, &bad);
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
sign_signedinfo(struct keys *key, const struct policy_alg *alg, EVP_PKEY *pub,
    const struct parsed *p)
{
	enum keys_sigalg ka = alg->kind == PSK_ECDSA ? KEYS_SIG_ECDSA :
	    alg->kind == PSK_PSS ? KEYS_SIG_RSA_PSS : KEYS_SIG_RSA_PKCS1;
	unsigned char *si = NULL, *sig = NULL, *raw = NULL;
	size_t silen = 0, siglen = 0, rawlen = 0;
	int r;

	if ((r = c14n_subtree(p->signedinfo, XML_C14N_EXCLUSIVE_1_0, NULL, &si,
	    &silen)) != 0)
		goto out;
	if ((r = keys_sign(key, ka, policy_md_evp(alg->md), si, silen, &sig,
	    &siglen)) != 0)
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

/* The algorithms for o under the default policy (2048-bit RSA allowed:
 * whether it is good enough is the verifier's policy's decision). */
static int
choose_algs(EVP_PKEY *pub, const struct dsig_sign_opts *o,
    const struct policy_alg **alg, const struct policy_alg **dig)
{
	struct crypto_policy pol;
	enum policy_reason warn, kr;
	const char *uri = o->sig_alg;
	int type = EVP_PKEY_get_base_id(pub);

	policy_default(&pol);
	pol.allow_rsa2048 = 1;
	if (uri == NULL && type == EVP_PKEY_RSA)
		uri = o->pss ? "http://www.w3.org/2007/05/xmldsig-more#"
		    "sha256-rsa-MGF1" :
		    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
	else if (uri == NULL && type == EVP_PKEY_EC && !o->pss)
		uri = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
	if (uri == NULL || policy_xml_sigalg(&pol, uri, alg) != POLICY_OK ||
	    policy_xml_digest(&pol, o->digest_alg ? o->digest_alg :
	    "http://www.w3.org/2001/04/xmlenc#sha256", dig) != POLICY_OK)
		return GW_ERR_SIG_ALGORITHM;
	kr = policy_key(&pol, pub, (*alg)->kind, &warn, NULL, 0);
	if (kr == PR_KEY_TYPE)
		return GW_ERR_SIG_ALGORITHM;
	return kr == POLICY_OK ? 0 : GW_ERR_KEY_WEAK;
}

/* Appends the signature; computes the digest and the value. */
static int
sign_into(xmlDocPtr doc, struct keys *key, EVP_PKEY *pub, X509 *cert,
    STACK_OF(X509) *chain, const struct dsig_sign_opts *o, struct parsed *p)
{
	const struct policy_alg *alg = NULL, *dig = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	xmlNodePtr target = NULL;
	xmlAttrPtr a;
	char uri[POLICY_ID_LEN + 1] = "";
	int r;

	if ((r = choose_algs(pub, o, &alg, &dig)) != 0)
		return r;
	if (o->ref_id != NULL) {
		if (strlen(o->ref_id) >= POLICY_ID_LEN ||
		    (target = dsig_find_id(doc, o->ref_id, &a)) == NULL)
			return GW_ERR_INVALID;
		snprintf(uri, sizeof(uri), "#%s", o->ref_id);
	}
	if ((r = build_signature(doc, alg, dig, uri, cert, chain, p)) != 0)
		return r;
	if (xmlAddChild(xmlDocGetRootElement(doc), p->sig) == NULL) {
		xmlFreeNode(p->sig);
		p->sig = NULL;
		return GW_ERR_NOMEM;
	}
	if ((r = c14n_digest(doc, target, p->sig, NULL, policy_md_evp(dig->md),
	    md, &mdlen)) != 0 ||
	    (r = set_b64(p->refs[0].digestvalue, md, mdlen)) != 0)
		return r;
	return sign_signedinfo(key, alg, pub, p);
}

int
xmldsig_sign_ex(xmlDocPtr doc, struct keys *key, X509 *cert,
    STACK_OF(X509) *chain, const struct dsig_sign_opts *opts)
{
	struct dsig_sign_opts def = { NULL, NULL, NULL, 0 };
	struct parsed p;
	struct quiet q;
	EVP_PKEY *pub = NULL;
	xmlNodePtr existing;
	int r = GW_ERR_INVALID;

	memset(&p, 0, sizeof(p));
	quiet_begin(&q);
	if (doc == NULL || key == NULL || cert == NULL ||
	    xmlDocGetRootElement(doc) == NULL)
		goto out;
	r = GW_ERR_SIG_MULTIPLE;
	if (dsig_count_signatures(doc, &existing) != 0)
		goto out;
	/* Never put a certificate next to a signature its key did not make.
	 * (keys_public() would re-encode the key through OpenSSL 3's decoders,
	 * which costs more than the signature itself.) */
	r = GW_ERR_INVALID;
	if (!keys_match_cert(key, cert) || (pub = X509_get_pubkey(cert)) == NULL)
		goto out;
	if ((r = sign_into(doc, key, pub, cert, chain, opts ? opts : &def,
	    &p)) != 0)
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

int
xmldsig_sign(xmlDocPtr doc, struct keys *key, X509 *cert,
    STACK_OF(X509) *chain, int pss)
{
	struct dsig_sign_opts o = { NULL, NULL, NULL, pss };

	return xmldsig_sign_ex(doc, key, cert, chain, &o);
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
