/*
 * xmldsig.h - enveloped XML signatures: verification under a strict policy,
 * and creation (gwctl sign, the gateway's receipts).
 *
 * Policy for verification (the spine; the algorithm policy grows in later
 * issues): exactly one ds:Signature in the whole document, and it is the last
 * element child of the document element; exactly one Reference, URI="",
 * transforms exactly enveloped-signature followed by exclusive c14n (with or
 * without comments is NOT allowed: without comments only); digest SHA-256/384/512;
 * SignedInfo canonicalization exclusive c14n (or c14n 1.0/1.1 without
 * comments); signature RSA-SHA256/384/512 (RSA >= 2048 bits), RSA-PSS
 * (xmldsig-more sha256-rsa-MGF1 etc.) or ECDSA-SHA256/384/512; the signer
 * certificate comes in ds:KeyInfo/ds:X509Data/ds:X509Certificate (further
 * X509Certificate elements are untrusted intermediates), and must chain to
 * the trust store at the verification time.  Nothing named inside the
 * document is ever fetched.
 */
#ifndef GW_XMLDSIG_H
#define GW_XMLDSIG_H

#include <time.h>
#include <libxml/tree.h>
#include <openssl/x509.h>

#include "keys.h"

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
 * Signs doc: appends an enveloped ds:Signature as last child of the document
 * element (Reference URI="", enveloped + exc-c14n, SHA-256; RSA-SHA256 for
 * RSA keys, ECDSA-SHA256 for EC keys, RSA-PSS when pss is set), with cert and
 * then chain (may be NULL) in ds:X509Data.  The private-key operation goes
 * through keys_sign().  Fails with GW_ERR_SIG_MULTIPLE if doc is signed.
 */
int xmldsig_sign(xmlDocPtr doc, struct keys *key, X509 *cert,
    STACK_OF(X509) *chain, int pss);

#endif
