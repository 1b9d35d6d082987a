/*
 * policy.h - the algorithm policy for signatures (XML-DSig and CMS), and the
 * stable reason codes every rejection and warning is reported with.
 *
 * A struct crypto_policy is strict by default (policy_default()): RSA keys
 * of at least 3000 bits, RSA-PSS, RSA PKCS#1 v1.5 and ECDSA on P-256/384/521
 * and brainpoolP256r1/384r1/512r1, digests SHA-256/384/512 and
 * SHA3-256/384/512; for XML, the transforms enveloped-signature followed by
 * exclusive c14n (without comments) and one Reference to the whole document.
 * A trust profile may override it (policy_set(), policy_parse()), but only
 * within the allow list: nothing can re-enable SHA-1, MD5, RIPEMD-160, DSA,
 * HMAC, XSLT, XPath or external references.  The one relaxation is
 * allow_rsa2048: RSA keys of 2048..min_rsa_bits-1 bits are then accepted
 * with the warning KEY_RSA_2048.
 *
 * Reason codes are part of the interface: they appear in inspection
 * reports, audit entries and docs/conformance.md, so a code is never
 * renamed or reused; new ones are appended.
 *
 * Everything here is pure: no allocation, no global state, thread-safe.
 */
#ifndef GW_POLICY_H
#define GW_POLICY_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

enum policy_reason {
	POLICY_OK = 0,
	/* the signature element and wrapping */
	PR_SIG_MISSING,
	PR_SIG_MULTIPLE,
	PR_SIG_PLACEMENT,
	PR_SIG_MALFORMED,
	PR_SIG_OBJECT,
	PR_ID_DUPLICATE,
	PR_DTD_PRESENT,
	/* references */
	PR_REF_COUNT,
	PR_REF_NO_URI,
	PR_REF_URI_EXTERNAL,
	PR_REF_URI_FILE,
	PR_REF_URI_XPOINTER,
	PR_REF_URI_ID,
	PR_REF_ID_UNRESOLVED,
	PR_REF_TYPE,
	PR_CONTENT_NOT_COVERED,
	/* transforms and canonicalisation */
	PR_TRANSFORM_XSLT,
	PR_TRANSFORM_XPATH,
	PR_TRANSFORM_XPATH_FILTER2,
	PR_TRANSFORM_XPOINTER,
	PR_TRANSFORM_BASE64,
	PR_TRANSFORM_WITH_COMMENTS,
	PR_TRANSFORM_UNKNOWN,
	PR_TRANSFORM_CHAIN,
	PR_C14N_NOT_ALLOWED,
	/* algorithms */
	PR_SIGALG_SHA1,
	PR_SIGALG_MD5,
	PR_SIGALG_RIPEMD160,
	PR_SIGALG_DSA,
	PR_SIGALG_HMAC,
	PR_SIGALG_HMAC_TRUNCATED,
	PR_SIGALG_NOT_ALLOWED,
	PR_DIGEST_SHA1,
	PR_DIGEST_MD5,
	PR_DIGEST_RIPEMD160,
	PR_DIGEST_NOT_ALLOWED,
	/* keys */
	PR_KEYINFO_RETRIEVAL_METHOD,
	PR_KEYINFO_KEYVALUE_ONLY,
	PR_KEYINFO_NO_CERT,
	PR_KEYINFO_BAD_CERT,
	PR_KEYINFO_TOO_MANY_CERTS,
	PR_KEYINFO_UNSUPPORTED,
	PR_KEY_RSA_TOO_SHORT,
	PR_KEY_RSA_2048,		/* a warning, never a rejection */
	PR_KEY_EC_CURVE,
	PR_KEY_TYPE,
	/* the math */
	PR_DIGEST_MISMATCH,
	PR_SIGNATURE_VALUE_INVALID,
	/* the certificate path */
	PR_CERT_UNTRUSTED,
	PR_CERT_EXPIRED,
	PR_CERT_USAGE,
	PR_CERT_REVOKED,
	/* CMS */
	PR_CMS_MALFORMED,
	PR_CMS_NOT_DETACHED,
	PR_CMS_NO_SIGNERS,
	PR_CMS_TOO_MANY_SIGNERS,
	PR_CMS_NO_SIGNER_CERT,
	PR_CMS_NO_SIGNED_ATTRS,
	PR_SIGNING_TIME_MISSING,
	PR_SIGNING_TIME_FUTURE,
	PR_SIGNING_TIME_OUTSIDE_CERT,
	/* limits */
	PR_TOO_LARGE,
	/* revocation (from the certificate path report) */
	PR_REVOCATION_UNAVAILABLE,	/* a warning under "prefer" */
	PR__LAST
};

/* "SIGALG_SHA1" etc.; "UNKNOWN" for a value out of range; never NULL. */
const char *policy_reason_code(enum policy_reason r);
/* A short sentence for people; never NULL. */
const char *policy_reason_text(enum policy_reason r);
/* The GW_ERR_* a rejection for r is reported with (err.h). */
int policy_reason_err(enum policy_reason r);

/* Digest algorithms as bits of crypto_policy.digests. */
enum policy_md {
	PMD_SHA256 = 1 << 0,
	PMD_SHA384 = 1 << 1,
	PMD_SHA512 = 1 << 2,
	PMD_SHA3_256 = 1 << 3,
	PMD_SHA3_384 = 1 << 4,
	PMD_SHA3_512 = 1 << 5
};
#define PMD_ALL		0x3f

/* Elliptic curves as bits of crypto_policy.curves. */
enum policy_curve {
	PCV_P256 = 1 << 0,
	PCV_P384 = 1 << 1,
	PCV_P521 = 1 << 2,
	PCV_BP256 = 1 << 3,
	PCV_BP384 = 1 << 4,
	PCV_BP512 = 1 << 5
};
#define PCV_ALL		0x3f

enum policy_sigkind {
	PSK_RSA = 1,		/* RSASSA-PKCS1-v1_5 */
	PSK_PSS,		/* RSASSA-PSS, MGF1 with the same digest */
	PSK_ECDSA
};

#define POLICY_MAX_IDS		8
#define POLICY_ID_LEN		64
#define POLICY_RSA_FLOOR	2048	/* below: never, whatever a profile says */

struct crypto_policy {
	int min_rsa_bits;		/* 3000; 3000..16384 */
	int allow_rsa2048;		/* 2048..min_rsa_bits-1 with a warning */
	int allow_rsa_pkcs1;		/* RSASSA-PKCS1-v1_5 (PSS always) */
	unsigned digests;		/* enum policy_md bits */
	unsigned curves;		/* enum policy_curve bits */
	int signedinfo_any_c14n;	/* SignedInfo may use c14n 1.0/1.1 */
	int max_references;		/* 1; 1..8 */
	/* Same-document references "#id" the schema names, besides URI="". */
	char ref_ids[POLICY_MAX_IDS][POLICY_ID_LEN];
	int nref_ids;
	/* CMS */
	int require_signing_time;	/* 1 */
	long signing_time_skew;		/* seconds a signing time may lie ahead */
};

/* The strict default described at the top. */
void policy_default(struct crypto_policy *p);

/*
 * Sets one key (see docs/verification.md for the list): allow_rsa2048,
 * min_rsa_bits, rsa_pkcs1, digests, curves, signedinfo_c14n,
 * max_references, reference_ids, require_signing_time, signing_time_skew.
 * Returns 0 or GW_ERR_CONFIG with a sentence in why; p is unchanged then.
 */
int policy_set(struct crypto_policy *p, const char *key, const char *value,
    char *why, size_t whylen);

/*
 * Applies "key = value" entries separated by newlines or ';' ('#' starts a
 * comment) on top of p, as policy_set() does; at most 4 KiB of text.  On
 * error p may hold the entries before the bad one.
 */
int policy_parse(struct crypto_policy *p, const char *spec, char *why,
    size_t whylen);

/* A one-line summary ("min_rsa_bits=3000 allow_rsa2048=no ...") for reports. */
void policy_describe(const struct crypto_policy *p, char *out, size_t outlen);

/* ---- classification (XML-DSig algorithm URIs) ---- */

struct policy_alg {
	const char *uri;
	enum policy_sigkind kind;	/* signature algorithms only */
	unsigned md;			/* one enum policy_md bit */
};

/* SignatureMethod: POLICY_OK and *out, or why it is not allowed. */
enum policy_reason policy_xml_sigalg(const struct crypto_policy *p,
    const char *uri, const struct policy_alg **out);
/* DigestMethod: POLICY_OK and *out, or why not. */
enum policy_reason policy_xml_digest(const struct crypto_policy *p,
    const char *uri, const struct policy_alg **out);
/*
 * CanonicalizationMethod of SignedInfo: POLICY_OK and the libxml2 mode
 * (XML_C14N_EXCLUSIVE_1_0, XML_C14N_1_0, XML_C14N_1_1) or
 * PR_C14N_NOT_ALLOWED.
 */
enum policy_reason policy_xml_c14n(const struct crypto_policy *p,
    const char *uri, int *mode);
/* A Transform URI: POLICY_OK for enveloped-signature and exc-c14n. */
enum policy_reason policy_xml_transform(const char *uri);
/* A Reference URI: POLICY_OK for "" and for "#id" with id in ref_ids. */
enum policy_reason policy_xml_ref_uri(const struct crypto_policy *p,
    const char *uri);

/* ---- keys and digests by OpenSSL identifiers (CMS, certificates) ---- */

/* The EVP digest of one enum policy_md bit; NULL for anything else. */
const EVP_MD *policy_md_evp(unsigned md);
/* A digest NID (NID_sha256, ...): POLICY_OK or why not. */
enum policy_reason policy_md_nid(const struct crypto_policy *p, int nid);
/* A signature algorithm NID of the combined kind (NID_sha256WithRSAEncryption,
 * NID_ecdsa_with_SHA256, NID_dsa, ...): POLICY_OK and *kind, or why not. */
enum policy_reason policy_sig_nid(const struct crypto_policy *p, int nid,
    enum policy_sigkind *kind);

/*
 * The signer's key for a signature of kind: type, size, curve.  Returns
 * POLICY_OK, PR_KEY_TYPE, PR_KEY_RSA_TOO_SHORT or PR_KEY_EC_CURVE;
 * *warn is PR_KEY_RSA_2048 for an accepted 2048-bit class key, else
 * POLICY_OK.  desc (may be NULL) gets "RSA 3072" or "EC P-256".
 */
enum policy_reason policy_key(const struct crypto_policy *p,
    EVP_PKEY *pkey, enum policy_sigkind kind, enum policy_reason *warn,
    char *desc, size_t desclen);

/*
 * A chain_cert_check_fn (certs/chain.h) applying the policy to every
 * certificate of a path: its key (RSA size, EC curve; a 2048-bit RSA key
 * only with allow_rsa2048) and, except for the trust anchor, the algorithm
 * its issuer signed it with (no SHA-1, MD5, DSA, ...).  arg is a
 * const struct crypto_policy *.  Returns 0, or GW_ERR_KEY_WEAK with
 * *reason "weak-key", or GW_ERR_SIG_ALGORITHM with *reason "algorithm".
 */
int policy_chain_check(X509 *cert, int depth, int is_anchor, void *arg,
    const char **reason);

/* ---- collected results ---- */

#define POLICY_MAX_REASONS	16
#define POLICY_MAX_WARNINGS	4

/* Why a signature was rejected (first = the one reported as the error)
 * and what was accepted with a warning.  Duplicates are dropped; past the
 * limits further entries are dropped too (the first ones matter). */
struct policy_result {
	enum policy_reason reasons[POLICY_MAX_REASONS];
	int nreasons;
	enum policy_reason warnings[POLICY_MAX_WARNINGS];
	int nwarnings;
};

void policy_result_reject(struct policy_result *res, enum policy_reason r);
void policy_result_warn(struct policy_result *res, enum policy_reason r);
int policy_result_has(const struct policy_result *res, enum policy_reason r);

#endif
