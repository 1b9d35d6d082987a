/*
 * cms.h - detached CMS signatures (.p7s, CAdES-BES) over attachments.
 *
 * The attachment is read once from a BIO, in constant memory, whatever its
 * size; the signature itself is small and bounded (CMS_MAX_P7S).  Every
 * signer is checked on its own and reported: the algorithm policy on its
 * digest, signature algorithm and key; signed attributes present; the
 * signing-time attribute present, not in the future beyond the policy's
 * skew and within the signer certificate's validity; the path from the
 * signer certificate to the trust store (chain_verify); the math.
 * Nothing named inside the signature is ever fetched.
 */
#ifndef GW_CMS_H
#define GW_CMS_H

#include <stddef.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "policy.h"

#define CMS_MAX_SIGNERS	8
#define CMS_MAX_P7S	((size_t)1 << 20)

struct cms_signer_info {
	char subject[256];	/* signer certificate, RFC 2253 */
	char issuer[256];
	char serial[80];	/* hex */
	char digest_alg[64];	/* OpenSSL's name: "SHA256" */
	char sig_alg[64];	/* "rsaEncryption", "RSASSA-PSS", ... */
	char key_desc[48];	/* "RSA 3072", "EC P-256" */
	time_t signing_time;	/* signing-time attribute; 0: absent */
	time_t not_before;	/* signer certificate validity; 0: unknown */
	time_t not_after;
	int qualified;		/* the certificate claims QcCompliance */
	int signature_ok;	/* 1: math ok, 0: corrupted, -1: not reached */
	int chain_ok;		/* 1: valid path, 0: invalid, -1: not reached */
	char chain_error[128];
	int rc;			/* 0: this signer is valid; else GW_ERR_* */
	struct policy_result result;	/* reasons and warnings */
	enum policy_reason path_why;	/* internal: the path's objection */
};

struct cms_result {
	struct cms_signer_info signers[CMS_MAX_SIGNERS];
	size_t nsigners;
	time_t checked_at;	/* the verification time used */
	/* Objections to the signature as a whole (CMS_MALFORMED,
	 * CMS_NO_SIGNERS, ...); each signer has its own. */
	struct policy_result result;
};

/*
 * Verifies the detached CMS signature p7s (DER or PEM) over the bytes read
 * from data (to its end) at time at (0: now) under policy (NULL: default)
 * against trust.  Returns 0 only if there is at least one signer and every
 * signer is valid; otherwise the error of the first objection
 * (GW_ERR_SIG_INVALID, GW_ERR_SIG_ALGORITHM, GW_ERR_CERT_*, ...).  res is
 * filled as far as the checks got, in every case.  Thread-safe: trust is
 * only read.
 */
int cms_verify_detached(BIO *data, const unsigned char *p7s, size_t p7slen,
    X509_STORE *trust, time_t at, const struct crypto_policy *policy,
    struct cms_result *res);

struct chain_ctx;
struct chain_report;

/*
 * As cms_verify_detached() with each signer's path checked by
 * chain_verify_ex() under chain (revocation, the path's certificates).
 * reports (may be NULL) is an array of CMS_MAX_SIGNERS: reports[i] is the
 * path report of res->signers[i] (ncerts 0 if it was not checked).
 */
int cms_verify_detached_chain(BIO *data, const unsigned char *p7s,
    size_t p7slen, const struct chain_ctx *chain, time_t at,
    const struct crypto_policy *policy, struct cms_result *res,
    struct chain_report *reports);

#endif
