/*
 * xmldsig.h - enveloped XML signatures: verification under a strict policy,
 * and creation (gwctl sign, the gateway's receipts).
 *
 * Policy for verification: exactly one ds:Signature in the whole document,
 * and it is the last element child of the document element; no ID value
 * twice; one Reference (a profile may allow a few), URI="" or "#id" for
 * an ID the profile names, covering the document element; transforms
 * exactly enveloped-signature followed by exclusive c14n without comments;
 * SignedInfo canonicalization exclusive c14n (or c14n 1.0/1.1 without
 * comments); the algorithms of policy.h (SHA-2/SHA-3 digests, RSA PKCS#1
 * v1.5, RSA-PSS, ECDSA on the allowed curves); the signer certificate in
 * ds:KeyInfo/ds:X509Data/ds:X509Certificate (further X509Certificate
 * elements are untrusted intermediates), chaining to the trust store at
 * the verification time.  Nothing named inside the document is ever
 * fetched.  docs/verification.md has the details and the reason codes.
 *
 * xmldsig_verify_ex() takes the algorithm policy (policy.h: RSA >= 3000
 * bits by default, SHA-2/SHA-3, allowed curves, reference count and named
 * IDs) and reports every objection with a stable reason code in
 * info->result.  xmldsig_verify() keeps the spine's key minimum: it is
 * xmldsig_verify_ex() under the default policy with allow_rsa2048 (a
 * 2048-bit RSA signer passes with the KEY_RSA_2048 warning); callers that
 * have a trust profile use xmldsig_verify_ex() with its policy (NULL: the
 * strict default).  The wrapping defences are described in dsig_check.c.
 */
#ifndef GW_XMLDSIG_H
#define GW_XMLDSIG_H

#include <time.h>
#include <libxml/tree.h>
#include <openssl/x509.h>

#include "keys.h"
#include "policy.h"

/* Calls xmlSecInit and the OpenSSL backend; once per process, before threads. */
int xmldsig_global_init(void);
void xmldsig_global_cleanup(void);

struct dsig_info {
	char subject[256];	/* signer subject, RFC 2253 */
	char issuer[256];	/* signer issuer, RFC 2253 */
	char serial[80];	/* signer serial, hex */
	char sig_alg[128];	/* SignatureMethod URI */
	char digest_alg[128];	/* DigestMethod URI */
	int signature_ok;	/* 1: math ok, 0: corrupted, -1: not reached */
	int chain_ok;		/* 1: valid path, 0: invalid, -1: not reached */
	char chain_error[128];	/* OpenSSL verify error text when chain_ok==0 */
	X509 *signer;		/* set on success; caller X509_free()s */
	/* Since the algorithm policy; both entry points fill these. */
	char c14n_alg[128];	/* SignedInfo CanonicalizationMethod URI */
	char reference[128];	/* first Reference URI: "" = the document */
	char key_desc[48];	/* signer key: "RSA 3072", "EC P-256" */
	int qualified;		/* signer certificate claims QcCompliance */
	time_t not_before;	/* signer certificate validity; 0: unknown */
	time_t not_after;
	time_t checked_at;	/* the verification time used */
	/* Why it was rejected (reasons[0] is the reason of the returned
	 * error) and what was accepted with a warning (KEY_RSA_2048). */
	struct policy_result result;
};

/*
 * Verifies the enveloped signature of doc.  trust holds the trusted CAs;
 * at == 0 means now.  Returns 0 only if the signature is valid under the
 * policy and the signer chains to trust; info is filled as far as the
 * check got in every case (so a rejection can be explained and audited).
 * Thread-safe: each call uses its own contexts; trust is only read.
 */
int xmldsig_verify(xmlDocPtr doc, X509_STORE *trust, time_t at,
    struct dsig_info *info);

/*
 * As xmldsig_verify() under policy (NULL: policy_default()).  A return of
 * 0 may come with warnings in info->result.warnings.  If the policy names
 * reference IDs, their attributes are registered as IDs in doc.
 */
int xmldsig_verify_ex(xmlDocPtr doc, X509_STORE *trust, time_t at,
    const struct crypto_policy *policy, struct dsig_info *info);

struct chain_ctx;
struct chain_report;

/*
 * As xmldsig_verify_ex() with the complete path check of certs/chain.h
 * (chain_verify_ex(): RFC 5280 profile, revocation, the certificates of
 * the path) instead of chain_verify(), against chain->trust.  report (may
 * be NULL) receives the path report; report->ncerts is 0 if the path was
 * not checked (the signature was refused before).  May block on the
 * revocation sources' timeouts, as chain_verify_ex() does.
 */
int xmldsig_verify_chain(xmlDocPtr doc, const struct chain_ctx *chain,
    time_t at, const struct crypto_policy *policy, struct dsig_info *info,
    struct chain_report *report);

/*
 * Signs doc: appends an enveloped ds:Signature as last child of the document
 * element (Reference URI="", enveloped + exc-c14n, SHA-256; RSA-SHA256 for
 * RSA keys, ECDSA-SHA256 for EC keys, RSA-PSS when pss is set), with cert and
 * then chain (may be NULL) in ds:X509Data.  The private-key operation goes
 * through keys_sign().  Fails with GW_ERR_SIG_MULTIPLE if doc is signed.
 */
int xmldsig_sign(xmlDocPtr doc, struct keys *key, X509 *cert,
    STACK_OF(X509) *chain, int pss);

struct dsig_sign_opts {
	const char *sig_alg;	/* SignatureMethod URI; NULL: by key type */
	const char *digest_alg;	/* DigestMethod URI; NULL: SHA-256 */
	const char *ref_id;	/* NULL: URI=""; else URI="#ref_id", the ID
				 * (Id, ID, id or xml:id) of an element */
	int pss;		/* with sig_alg NULL: RSA-PSS */
};

/* As xmldsig_sign() with a choice of algorithms (any the default policy
 * allows) and of the reference. */
int xmldsig_sign_ex(xmlDocPtr doc, struct keys *key, X509 *cert,
    STACK_OF(X509) *chain, const struct dsig_sign_opts *opts);

#endif
