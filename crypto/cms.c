/*
 * cms.c - detached CMS / CAdES-BES signatures over attachments.  See cms.h.
 *
 * How one pass over the attachment serves every signer: a BIO_f_md filter
 * per distinct digest algorithm is pushed onto the caller's data BIO, and
 * CMS_verify(CMS_DETACHED | CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) reads
 * the content through them.  CMS_verify gives the overall verdict (it
 * stops at the first bad signer, and may stop before reading the content
 * at all); whatever it left unread is then drained through the same
 * filters, so that afterwards every signer can be checked on its own with
 * CMS_SignerInfo_verify (the signature over the signed attributes) and
 * CMS_SignerInfo_verify_content (the messageDigest attribute against the
 * digest of the content).  Memory stays constant: content passes through
 * 16 KiB at a time and is never kept.
 *
 * CMS_NO_SIGNER_CERT_VERIFY because the signer certificates are checked
 * here, each with chain_verify() (the same path validation as for XML
 * signatures, at the verification time, key usage for signatures) and the
 * algorithm policy, so that a report can say which signer failed and why.
 * Only certificates inside the signature are used as intermediates;
 * nothing is fetched.
 *
 * Runs on the caller's thread; OpenSSL's error queue is left empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pem.h first: cms.h declares PEM_read_bio_CMS only if it was included. */
#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "chain.h"
#include "cms.h"
#include "err.h"
#include "inspect.h"
#include "util.h"

#define DRAIN_CHUNK	16384

/* The digest filters pushed onto the caller's BIO. */
struct mdchain {
	BIO *top;		/* the outermost filter, or data itself */
	BIO *data;		/* the caller's BIO (not ours to free) */
	int mds[CMS_MAX_SIGNERS];
	int nmds;
};

static void
mdchain_free(struct mdchain *c)
{
	BIO *next;

	/* Free our filters only, down to (not including) the caller's BIO. */
	while (c->top != NULL && c->top != c->data) {
		next = BIO_pop(c->top);
		BIO_free(c->top);
		c->top = next;
	}
}

/* Adds a filter for nid unless there is one; unknown digests get none. */
static int
mdchain_add(struct mdchain *c, int nid)
{
	const EVP_MD *md;
	BIO *f;
	int i;

	for (i = 0; i < c->nmds; i++)
		if (c->mds[i] == nid)
			return 0;
	if ((md = EVP_get_digestbynid(nid)) == NULL || c->nmds == CMS_MAX_SIGNERS)
		return 0;
	if ((f = BIO_new(BIO_f_md())) == NULL || BIO_set_md(f, md) != 1) {
		BIO_free(f);
		return GW_ERR_NOMEM;
	}
	c->top = BIO_push(f, c->top);
	c->mds[c->nmds++] = nid;
	return 0;
}

/* Reads what is left of the content through the filters. */
static int
mdchain_drain(struct mdchain *c)
{
	unsigned char *buf;
	int n;

	if ((buf = malloc(DRAIN_CHUNK)) == NULL)
		return GW_ERR_NOMEM;
	while ((n = BIO_read(c->top, buf, DRAIN_CHUNK)) > 0)
		;
	free(buf);
	return n < 0 && !BIO_eof(c->top) ? GW_ERR_IO : 0;
}

static CMS_ContentInfo *
parse_p7s(const unsigned char *p7s, size_t len)
{
	CMS_ContentInfo *cms;
	BIO *bio;

	if ((bio = BIO_new_mem_buf(p7s, (int)len)) == NULL)
		return NULL;
	if (len > 10 && memcmp(p7s, "-----BEGIN", 10) == 0)
		cms = PEM_read_bio_CMS(bio, NULL, NULL, NULL);
	else
		cms = d2i_CMS_bio(bio, NULL);
	BIO_free(bio);
	return cms;
}

static void
alg_name(const X509_ALGOR *alg, char *out, size_t outlen)
{
	const ASN1_OBJECT *obj = NULL;

	out[0] = '\0';
	if (alg == NULL)
		return;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	if (obj != NULL && OBJ_obj2txt(out, (int)outlen, obj, 0) <= 0)
		out[0] = '\0';
}

/* RSASSA-PSS parameters: both the hash and the MGF1 hash in the policy. */
static enum policy_reason
check_pss(const struct crypto_policy *p, const X509_ALGOR *sigalg)
{
	RSA_PSS_PARAMS *pss;
	X509_ALGOR *mh = NULL;
	enum policy_reason r;

	if (sigalg->parameter == NULL ||
	    sigalg->parameter->type != V_ASN1_SEQUENCE ||
	    (pss = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS),
	    sigalg->parameter)) == NULL)
		return PR_CMS_MALFORMED;
	/* Absent fields mean SHA-1 (RFC 4055). */
	r = policy_md_nid(p, pss->hashAlgorithm ?
	    OBJ_obj2nid(pss->hashAlgorithm->algorithm) : NID_sha1);
	if (r == POLICY_OK && pss->maskGenAlgorithm != NULL) {
		if (OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) != NID_mgf1 ||
		    pss->maskGenAlgorithm->parameter == NULL ||
		    (mh = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
		    pss->maskGenAlgorithm->parameter)) == NULL)
			r = PR_SIGALG_NOT_ALLOWED;
		else
			r = policy_md_nid(p, OBJ_obj2nid(mh->algorithm));
	} else if (r == POLICY_OK)
		r = PR_DIGEST_SHA1;
	X509_ALGOR_free(mh);
	RSA_PSS_PARAMS_free(pss);
	return r == PR_DIGEST_SHA1 ? PR_SIGALG_SHA1 : r;
}

/* The algorithm policy on one signer: digest, signature algorithm, key. */
static void
check_algs(const struct crypto_policy *p, CMS_SignerInfo *si, EVP_PKEY *pk,
    struct cms_signer_info *out, int *md_nid)
{
	X509_ALGOR *dig = NULL, *sig = NULL;
	enum policy_sigkind kind = 0;
	enum policy_reason r, warn;
	int nid;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	alg_name(dig, out->digest_alg, sizeof(out->digest_alg));
	alg_name(sig, out->sig_alg, sizeof(out->sig_alg));
	*md_nid = dig ? OBJ_obj2nid(dig->algorithm) : NID_undef;
	policy_result_reject(&out->result, policy_md_nid(p, *md_nid));
	nid = sig ? OBJ_obj2nid(sig->algorithm) : NID_undef;
	if ((r = policy_sig_nid(p, nid, &kind)) != POLICY_OK) {
		policy_result_reject(&out->result, r);
		return;
	}
	if (kind == PSK_PSS && (r = check_pss(p, sig)) != POLICY_OK)
		policy_result_reject(&out->result, r);
	if (pk == NULL)
		return;
	r = policy_key(p, pk, kind, &warn, out->key_desc, sizeof(out->key_desc));
	policy_result_reject(&out->result, r);
	policy_result_warn(&out->result, warn);
}

/* signing-time: present, not ahead of at + skew, inside the validity. */
static void
check_signing_time(const struct crypto_policy *p, CMS_SignerInfo *si,
    time_t at, struct cms_signer_info *out)
{
	X509_ATTRIBUTE *xa;
	ASN1_TYPE *t;
	int idx;

	idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	if (idx < 0 || (xa = CMS_signed_get_attr(si, idx)) == NULL ||
	    X509_ATTRIBUTE_count(xa) != 1 ||
	    (t = X509_ATTRIBUTE_get0_type(xa, 0)) == NULL ||
	    (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) ||
	    (out->signing_time = inspect_asn1_time(t->value.utctime)) == 0) {
		out->signing_time = 0;
		if (p->require_signing_time)
			policy_result_reject(&out->result, PR_SIGNING_TIME_MISSING);
		return;
	}
	if (out->signing_time > at + p->signing_time_skew)
		policy_result_reject(&out->result, PR_SIGNING_TIME_FUTURE);
	if ((out->not_before != 0 && out->signing_time < out->not_before) ||
	    (out->not_after != 0 && out->signing_time > out->not_after))
		policy_result_reject(&out->result, PR_SIGNING_TIME_OUTSIDE_CERT);
}

/* How the signers' paths are checked (see xmldsig.c's twin). */
struct pathcheck {
	X509_STORE *trust;
	const struct chain_ctx *ctx;
	struct chain_report *reports;	/* with ctx: CMS_MAX_SIGNERS */
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
	default: return PR_CERT_UNTRUSTED;
	}
}

/* The path of signer i; *why gets the reason code of a failure. */
static int
check_path(const struct pathcheck *pc, size_t i, X509 *signer,
    STACK_OF(X509) *untrusted, time_t at, struct cms_signer_info *out,
    enum policy_reason *why)
{
	struct chain_report *rep;
	int rc, w;

	if (pc->ctx == NULL) {
		rc = chain_verify(signer, untrusted, pc->trust, at,
		    CHAIN_USAGE_SIGN, out->chain_error, sizeof(out->chain_error));
		*why = chain_reason(rc);
		return rc;
	}
	rep = &pc->reports[i];
	rc = chain_verify_ex(pc->ctx, signer, untrusted, at, CHAIN_USAGE_SIGN,
	    rep);
	*why = chain_reason(rc);
	if (rc != 0)
		util_strlcpy(out->chain_error, rep->detail,
		    sizeof(out->chain_error));
	if (rc != 0 && rep->reason != NULL &&
	    strcmp(rep->reason, "revocation-unavailable") == 0)
		*why = PR_REVOCATION_UNAVAILABLE;
	for (w = 0; rc == 0 && w < rep->nwarnings; w++)
		if (rep->warnings[w].code != NULL &&
		    strcmp(rep->warnings[w].code, "revocation-unavailable") == 0)
			policy_result_warn(&out->result, PR_REVOCATION_UNAVAILABLE);
	return rc;
}

/* Everything about one signer that does not need the content. */
static int
check_signer(const struct crypto_policy *p, CMS_SignerInfo *si, size_t i,
    STACK_OF(X509) *untrusted, const struct pathcheck *pc, time_t at,
    struct cms_signer_info *out, int *md_nid)
{
	enum policy_reason why = POLICY_OK;
	EVP_PKEY *pk = NULL;
	X509 *signer = NULL;
	int rc;

	out->signature_ok = -1;
	out->chain_ok = -1;
	CMS_SignerInfo_get0_algs(si, &pk, &signer, NULL, NULL);
	if (signer != NULL) {
		inspect_cert_names(signer, out->subject, sizeof(out->subject),
		    out->issuer, sizeof(out->issuer), out->serial,
		    sizeof(out->serial));
		out->not_before = inspect_asn1_time(X509_get0_notBefore(signer));
		out->not_after = inspect_asn1_time(X509_get0_notAfter(signer));
		out->qualified = inspect_cert_qualified(signer);
	} else
		policy_result_reject(&out->result, PR_CMS_NO_SIGNER_CERT);
	check_algs(p, si, pk, out, md_nid);
	if (CMS_signed_get_attr_count(si) <= 0)
		policy_result_reject(&out->result, PR_CMS_NO_SIGNED_ATTRS);
	check_signing_time(p, si, at, out);
	if (signer == NULL)
		return 0;
	if ((rc = check_path(pc, i, signer, untrusted, at, out, &why)) ==
	    GW_ERR_NOMEM)
		return rc;
	/* No revocation answer under "require": the path is indeterminate. */
	if (rc == 0 || (why != POLICY_OK && why != PR_REVOCATION_UNAVAILABLE))
		out->chain_ok = rc == 0;
	out->path_why = why;	/* reported after the math (see check_math) */
	return 0;
}

/* The math for one signer, after the content went through the filters. */
static void
check_math(CMS_SignerInfo *si, BIO *chain, struct cms_signer_info *out)
{
	enum policy_reason chain_r = out->path_why;
	int attrs, content;

	if (out->subject[0] == '\0')
		return;		/* no key: nothing to check */
	/* Without signed attributes (refused anyway) the signature is over
	 * the content digest, which verify_content checks. */
	attrs = CMS_signed_get_attr_count(si) < 0 ? 1 : CMS_SignerInfo_verify(si);
	content = CMS_SignerInfo_verify_content(si, chain);
	if (attrs > 0 && content > 0)
		out->signature_ok = 1;
	else if (attrs == 0 || content == 0) {
		out->signature_ok = 0;
		policy_result_reject(&out->result, content == 0 ?
		    PR_DIGEST_MISMATCH : PR_SIGNATURE_VALUE_INVALID);
	}
	/* The signature error wins over the path error, as for XML. */
	policy_result_reject(&out->result, chain_r);
	ERR_clear_error();
}

/* The whole-signature objections: shape, detached, signer count. */
static int
check_shape(CMS_ContentInfo *cms, struct cms_result *res)
{
	ASN1_OCTET_STRING **content;
	int n;

	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		policy_result_reject(&res->result, PR_CMS_MALFORMED);
		return -1;
	}
	if ((content = CMS_get0_content(cms)) == NULL || *content != NULL) {
		policy_result_reject(&res->result, PR_CMS_NOT_DETACHED);
		return -1;
	}
	n = sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms));
	if (n <= 0) {
		policy_result_reject(&res->result, PR_CMS_NO_SIGNERS);
		return -1;
	}
	if (n > CMS_MAX_SIGNERS) {
		policy_result_reject(&res->result, PR_CMS_TOO_MANY_SIGNERS);
		return -1;
	}
	res->nsigners = (size_t)n;
	return 0;
}

/* The first objection of the whole or of a signer decides the error. */
static int
verdict(struct cms_result *res, int cms_ok)
{
	struct cms_signer_info *s;
	int r = 0;
	size_t i;

	if (res->result.nreasons > 0)
		return policy_reason_err(res->result.reasons[0]);
	for (i = 0; i < res->nsigners; i++) {
		s = &res->signers[i];
		s->rc = s->result.nreasons > 0 ?
		    policy_reason_err(s->result.reasons[0]) : 0;
		if (s->rc != 0 && r == 0)
			r = s->rc;
	}
	if (r == 0 && !cms_ok) {
		/* CMS_verify disagrees with the checks one by one. */
		policy_result_reject(&res->result, PR_SIGNATURE_VALUE_INVALID);
		r = GW_ERR_SIG_INVALID;
	}
	return r;
}

static int
verify(BIO *data, const unsigned char *p7s, size_t p7slen,
    const struct pathcheck *pc, time_t at, const struct crypto_policy *policy,
    struct cms_result *res)
{
	struct crypto_policy def;
	struct mdchain chain;
	STACK_OF(CMS_SignerInfo) *sis;
	STACK_OF(X509) *certs = NULL;
	CMS_ContentInfo *cms = NULL;
	int r = GW_ERR_INTERNAL, cms_ok, md_nid;
	size_t i;

	memset(res, 0, sizeof(*res));
	memset(&chain, 0, sizeof(chain));
	res->checked_at = at = at != 0 ? at : time(NULL);
	if (data == NULL || p7s == NULL)
		return GW_ERR_INTERNAL;
	if (p7slen > CMS_MAX_P7S) {
		policy_result_reject(&res->result, PR_TOO_LARGE);
		return GW_ERR_TOO_LARGE;
	}
	if (policy == NULL) {
		policy_default(&def);
		policy = &def;
	}
	chain.top = chain.data = data;
	if ((cms = parse_p7s(p7s, p7slen)) == NULL) {
		policy_result_reject(&res->result, PR_CMS_MALFORMED);
		r = GW_ERR_SIG_INVALID;
		goto out;
	}
	if (check_shape(cms, res) != 0) {
		r = policy_reason_err(res->result.reasons[0]);
		goto out;
	}
	sis = CMS_get0_SignerInfos(cms);
	certs = CMS_get1_certs(cms);
	/* Matches each SignerInfo with its certificate from the signature. */
	(void)CMS_set1_signers_certs(cms, NULL, 0);
	for (i = 0; i < res->nsigners; i++) {
		if ((r = check_signer(policy, sk_CMS_SignerInfo_value(sis, (int)i),
		    i, certs, pc, at, &res->signers[i], &md_nid)) != 0 ||
		    (r = mdchain_add(&chain, md_nid)) != 0)
			goto out;
	}
	cms_ok = CMS_verify(cms, NULL, NULL, chain.top, NULL, CMS_DETACHED |
	    CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) == 1;
	ERR_clear_error();
	if ((r = mdchain_drain(&chain)) != 0)
		goto out;
	for (i = 0; i < res->nsigners; i++)
		check_math(sk_CMS_SignerInfo_value(sis, (int)i), chain.top,
		    &res->signers[i]);
	r = verdict(res, cms_ok);
 out:
	mdchain_free(&chain);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return r;
}

int
cms_verify_detached(BIO *data, const unsigned char *p7s, size_t p7slen,
    X509_STORE *trust, time_t at, const struct crypto_policy *policy,
    struct cms_result *res)
{
	struct pathcheck pc = { trust, NULL, NULL };

	if (trust == NULL) {
		memset(res, 0, sizeof(*res));
		return GW_ERR_INTERNAL;
	}
	return verify(data, p7s, p7slen, &pc, at, policy, res);
}

int
cms_verify_detached_chain(BIO *data, const unsigned char *p7s,
    size_t p7slen, const struct chain_ctx *chain, time_t at,
    const struct crypto_policy *policy, struct cms_result *res,
    struct chain_report *reports)
{
	struct pathcheck pc = { NULL, chain, reports };
	int r;

	if (chain == NULL || chain->trust == NULL) {
		memset(res, 0, sizeof(*res));
		return GW_ERR_INTERNAL;
	}
	if (reports == NULL && (pc.reports = calloc(CMS_MAX_SIGNERS,
	    sizeof(*pc.reports))) == NULL)
		return GW_ERR_NOMEM;
	if (reports != NULL)
		memset(reports, 0, CMS_MAX_SIGNERS * sizeof(*reports));
	r = verify(data, p7s, p7slen, &pc, at, policy, res);
	if (reports == NULL)
		free(pc.reports);
	return r;
}
