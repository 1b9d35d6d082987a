/*
 * policy.c - the algorithm policy and the reason codes.  See policy.h.
 *
 * Classification works on allow lists: an algorithm is accepted only if it
 * is in a table below and the policy enables it.  Anything else is
 * rejected; the forbidden families the issue names (SHA-1, MD5,
 * RIPEMD-160, DSA, HMAC) get their own reason code so that a report says
 * why, everything unknown gets the *_NOT_ALLOWED / *_UNKNOWN code.
 *
 * The override keys can only choose within the allow lists (a subset of
 * the digests and curves, fewer references, a larger RSA minimum, PKCS#1
 * v1.5 off, exclusive c14n only for SignedInfo, a few same-document IDs) or
 * take the one relaxation the issue allows (allow_rsa2048, with a warning).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/c14n.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "err.h"
#include "policy.h"
#include "util.h"

#define DSIG	"http://www.w3.org/2000/09/xmldsig#"
#define DSIG11	"http://www.w3.org/2009/xmldsig11#"
#define MORE01	"http://www.w3.org/2001/04/xmldsig-more#"
#define MORE07	"http://www.w3.org/2007/05/xmldsig-more#"
#define MORE21	"http://www.w3.org/2021/04/xmldsig-more#"
#define XMLENC	"http://www.w3.org/2001/04/xmlenc#"
#define EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define C14N10	"http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
#define C14N11	"http://www.w3.org/2006/12/xml-c14n11"

#define MAX_SPEC	4096

static const struct {
	const char *code;
	const char *text;
	int err;
} reasons[PR__LAST] = {
	[POLICY_OK] = { "OK", "no objection", 0 },
	[PR_SIG_MISSING] = { "SIG_MISSING", "the document has no signature",
	    GW_ERR_SIG_MISSING },
	[PR_SIG_MULTIPLE] = { "SIG_MULTIPLE", "the document has more than "
	    "one ds:Signature", GW_ERR_SIG_MULTIPLE },
	[PR_SIG_PLACEMENT] = { "SIG_PLACEMENT", "the signature is not the last "
	    "child of the document element (enveloping, detached or moved)",
	    GW_ERR_SIG_PLACEMENT },
	[PR_SIG_MALFORMED] = { "SIG_MALFORMED", "the signature is not shaped "
	    "as XML-DSig requires", GW_ERR_SIG_INVALID },
	[PR_SIG_OBJECT] = { "SIG_OBJECT", "the signature carries ds:Object or "
	    "other content that nothing may reference", GW_ERR_SIG_REFERENCE },
	[PR_ID_DUPLICATE] = { "ID_DUPLICATE", "an ID value (Id, ID, id, "
	    "xml:id) occurs more than once", GW_ERR_SIG_REFERENCE },
	[PR_DTD_PRESENT] = { "DTD_PRESENT", "the document has a DTD",
	    GW_ERR_XML_DTD },
	[PR_REF_COUNT] = { "REF_COUNT", "more references than the profile "
	    "allows", GW_ERR_SIG_REFERENCE },
	[PR_REF_NO_URI] = { "REF_NO_URI", "a reference without URI attribute",
	    GW_ERR_SIG_REFERENCE },
	[PR_REF_URI_EXTERNAL] = { "REF_URI_EXTERNAL", "a reference to "
	    "something outside the document (never fetched)",
	    GW_ERR_SIG_REFERENCE },
	[PR_REF_URI_FILE] = { "REF_URI_FILE", "a reference to a file: URI "
	    "(never opened)", GW_ERR_SIG_REFERENCE },
	[PR_REF_URI_XPOINTER] = { "REF_URI_XPOINTER", "a reference by "
	    "XPointer expression", GW_ERR_SIG_REFERENCE },
	[PR_REF_URI_ID] = { "REF_URI_ID", "a reference to an ID the profile "
	    "does not name", GW_ERR_SIG_REFERENCE },
	[PR_REF_ID_UNRESOLVED] = { "REF_ID_UNRESOLVED", "a reference to an ID "
	    "no element carries", GW_ERR_SIG_REFERENCE },
	[PR_REF_TYPE] = { "REF_TYPE", "a reference with a Type (Object or "
	    "Manifest)", GW_ERR_SIG_REFERENCE },
	[PR_CONTENT_NOT_COVERED] = { "CONTENT_NOT_COVERED", "no reference "
	    "covers the document element", GW_ERR_SIG_REFERENCE },
	[PR_TRANSFORM_XSLT] = { "TRANSFORM_XSLT", "an XSLT transform",
	    GW_ERR_SIG_REFERENCE },
	[PR_TRANSFORM_XPATH] = { "TRANSFORM_XPATH", "an XPath transform",
	    GW_ERR_SIG_REFERENCE },
	[PR_TRANSFORM_XPATH_FILTER2] = { "TRANSFORM_XPATH_FILTER2", "an XPath "
	    "Filter 2.0 transform", GW_ERR_SIG_REFERENCE },
	[PR_TRANSFORM_XPOINTER] = { "TRANSFORM_XPOINTER", "an XPointer "
	    "transform", GW_ERR_SIG_REFERENCE },
	[PR_TRANSFORM_BASE64] = { "TRANSFORM_BASE64", "a Base64 transform",
	    GW_ERR_SIG_REFERENCE },
	[PR_TRANSFORM_WITH_COMMENTS] = { "TRANSFORM_WITH_COMMENTS", "a "
	    "canonicalisation with comments", GW_ERR_SIG_REFERENCE },
	[PR_TRANSFORM_UNKNOWN] = { "TRANSFORM_UNKNOWN", "a transform outside "
	    "the allow list", GW_ERR_SIG_REFERENCE },
	[PR_TRANSFORM_CHAIN] = { "TRANSFORM_CHAIN", "the transforms are not "
	    "exactly enveloped-signature, exclusive c14n", GW_ERR_SIG_REFERENCE },
	[PR_C14N_NOT_ALLOWED] = { "C14N_NOT_ALLOWED", "the SignedInfo "
	    "canonicalisation is not allowed", GW_ERR_SIG_ALGORITHM },
	[PR_SIGALG_SHA1] = { "SIGALG_SHA1", "a signature algorithm with SHA-1",
	    GW_ERR_SIG_ALGORITHM },
	[PR_SIGALG_MD5] = { "SIGALG_MD5", "a signature algorithm with MD5",
	    GW_ERR_SIG_ALGORITHM },
	[PR_SIGALG_RIPEMD160] = { "SIGALG_RIPEMD160", "a signature algorithm "
	    "with RIPEMD-160", GW_ERR_SIG_ALGORITHM },
	[PR_SIGALG_DSA] = { "SIGALG_DSA", "a DSA signature",
	    GW_ERR_SIG_ALGORITHM },
	[PR_SIGALG_HMAC] = { "SIGALG_HMAC", "an HMAC instead of a signature",
	    GW_ERR_SIG_ALGORITHM },
	[PR_SIGALG_HMAC_TRUNCATED] = { "SIGALG_HMAC_TRUNCATED", "a truncated "
	    "HMAC (HMACOutputLength)", GW_ERR_SIG_ALGORITHM },
	[PR_SIGALG_NOT_ALLOWED] = { "SIGALG_NOT_ALLOWED", "a signature "
	    "algorithm outside the allow list", GW_ERR_SIG_ALGORITHM },
	[PR_DIGEST_SHA1] = { "DIGEST_SHA1", "a SHA-1 digest",
	    GW_ERR_SIG_ALGORITHM },
	[PR_DIGEST_MD5] = { "DIGEST_MD5", "an MD5 digest", GW_ERR_SIG_ALGORITHM },
	[PR_DIGEST_RIPEMD160] = { "DIGEST_RIPEMD160", "a RIPEMD-160 digest",
	    GW_ERR_SIG_ALGORITHM },
	[PR_DIGEST_NOT_ALLOWED] = { "DIGEST_NOT_ALLOWED", "a digest outside "
	    "the allow list", GW_ERR_SIG_ALGORITHM },
	[PR_KEYINFO_RETRIEVAL_METHOD] = { "KEYINFO_RETRIEVAL_METHOD", "the key "
	    "is to be fetched (RetrievalMethod)", GW_ERR_SIG_NOCERT },
	[PR_KEYINFO_KEYVALUE_ONLY] = { "KEYINFO_KEYVALUE_ONLY", "the key comes "
	    "only as a bare key value, without certificate", GW_ERR_SIG_NOCERT },
	[PR_KEYINFO_NO_CERT] = { "KEYINFO_NO_CERT", "no signer certificate in "
	    "X509Data/X509Certificate", GW_ERR_SIG_NOCERT },
	[PR_KEYINFO_BAD_CERT] = { "KEYINFO_BAD_CERT", "an X509Certificate is "
	    "not a certificate", GW_ERR_SIG_NOCERT },
	[PR_KEYINFO_TOO_MANY_CERTS] = { "KEYINFO_TOO_MANY_CERTS", "too many "
	    "certificates", GW_ERR_TOO_LARGE },
	[PR_KEYINFO_UNSUPPORTED] = { "KEYINFO_UNSUPPORTED", "KeyInfo content "
	    "outside the allow list", GW_ERR_SIG_NOCERT },
	[PR_KEY_RSA_TOO_SHORT] = { "KEY_RSA_TOO_SHORT", "the RSA key is shorter "
	    "than the policy minimum", GW_ERR_KEY_WEAK },
	[PR_KEY_RSA_2048] = { "KEY_RSA_2048", "an RSA key below 3000 bits, "
	    "accepted because the profile allows it", 0 },
	[PR_KEY_EC_CURVE] = { "KEY_EC_CURVE", "the elliptic curve is not "
	    "allowed", GW_ERR_KEY_WEAK },
	[PR_KEY_TYPE] = { "KEY_TYPE", "the key does not fit the signature "
	    "algorithm", GW_ERR_SIG_INVALID },
	[PR_DIGEST_MISMATCH] = { "DIGEST_MISMATCH", "the signed content was "
	    "changed (digest mismatch)", GW_ERR_SIG_INVALID },
	[PR_SIGNATURE_VALUE_INVALID] = { "SIGNATURE_VALUE_INVALID", "the "
	    "signature value does not verify", GW_ERR_SIG_INVALID },
	[PR_CERT_UNTRUSTED] = { "CERT_UNTRUSTED", "no path to a trusted CA",
	    GW_ERR_CERT_UNTRUSTED },
	[PR_CERT_EXPIRED] = { "CERT_EXPIRED", "a certificate of the path is "
	    "outside its validity", GW_ERR_CERT_EXPIRED },
	[PR_CERT_USAGE] = { "CERT_USAGE", "the key usage does not allow "
	    "signatures", GW_ERR_CERT_USAGE },
	[PR_CERT_REVOKED] = { "CERT_REVOKED", "a certificate is revoked",
	    GW_ERR_CERT_REVOKED },
	[PR_CMS_MALFORMED] = { "CMS_MALFORMED", "not a CMS SignedData",
	    GW_ERR_SIG_INVALID },
	[PR_CMS_NOT_DETACHED] = { "CMS_NOT_DETACHED", "the CMS signature "
	    "carries its content (detached expected)", GW_ERR_SIG_INVALID },
	[PR_CMS_NO_SIGNERS] = { "CMS_NO_SIGNERS", "the CMS signature has no "
	    "signer", GW_ERR_SIG_MISSING },
	[PR_CMS_TOO_MANY_SIGNERS] = { "CMS_TOO_MANY_SIGNERS", "too many CMS "
	    "signers", GW_ERR_TOO_LARGE },
	[PR_CMS_NO_SIGNER_CERT] = { "CMS_NO_SIGNER_CERT", "the signer's "
	    "certificate is not in the CMS signature", GW_ERR_SIG_NOCERT },
	[PR_CMS_NO_SIGNED_ATTRS] = { "CMS_NO_SIGNED_ATTRS", "no signed "
	    "attributes (CAdES-BES needs them)", GW_ERR_SIG_INVALID },
	[PR_SIGNING_TIME_MISSING] = { "SIGNING_TIME_MISSING", "no signing-time "
	    "attribute", GW_ERR_SIG_INVALID },
	[PR_SIGNING_TIME_FUTURE] = { "SIGNING_TIME_FUTURE", "the signing time "
	    "lies in the future", GW_ERR_SIG_INVALID },
	[PR_SIGNING_TIME_OUTSIDE_CERT] = { "SIGNING_TIME_OUTSIDE_CERT", "the "
	    "signing time is outside the signer certificate's validity",
	    GW_ERR_CERT_EXPIRED },
	[PR_TOO_LARGE] = { "TOO_LARGE", "a size or count limit was exceeded",
	    GW_ERR_TOO_LARGE },
	[PR_REVOCATION_UNAVAILABLE] = { "REVOCATION_UNAVAILABLE", "no "
	    "revocation answer could be obtained", GW_ERR_CERT_INDETERMINATE },
};

const char *
policy_reason_code(enum policy_reason r)
{
	if ((int)r < 0 || r >= PR__LAST || reasons[r].code == NULL)
		return "UNKNOWN";
	return reasons[r].code;
}

const char *
policy_reason_text(enum policy_reason r)
{
	if ((int)r < 0 || r >= PR__LAST || reasons[r].text == NULL)
		return "unknown reason";
	return reasons[r].text;
}

int
policy_reason_err(enum policy_reason r)
{
	if ((int)r <= 0 || r >= PR__LAST || reasons[r].code == NULL)
		return GW_ERR_INTERNAL;
	return reasons[r].err;
}

/* ---- tables ---- */

static const struct policy_alg sigalgs[] = {
	{ MORE01 "rsa-sha256", PSK_RSA, PMD_SHA256 },
	{ MORE01 "rsa-sha384", PSK_RSA, PMD_SHA384 },
	{ MORE01 "rsa-sha512", PSK_RSA, PMD_SHA512 },
	{ MORE07 "sha256-rsa-MGF1", PSK_PSS, PMD_SHA256 },
	{ MORE07 "sha384-rsa-MGF1", PSK_PSS, PMD_SHA384 },
	{ MORE07 "sha512-rsa-MGF1", PSK_PSS, PMD_SHA512 },
	{ MORE07 "sha3-256-rsa-MGF1", PSK_PSS, PMD_SHA3_256 },
	{ MORE07 "sha3-384-rsa-MGF1", PSK_PSS, PMD_SHA3_384 },
	{ MORE07 "sha3-512-rsa-MGF1", PSK_PSS, PMD_SHA3_512 },
	{ MORE01 "ecdsa-sha256", PSK_ECDSA, PMD_SHA256 },
	{ MORE01 "ecdsa-sha384", PSK_ECDSA, PMD_SHA384 },
	{ MORE01 "ecdsa-sha512", PSK_ECDSA, PMD_SHA512 },
	{ MORE21 "ecdsa-sha3-256", PSK_ECDSA, PMD_SHA3_256 },
	{ MORE21 "ecdsa-sha3-384", PSK_ECDSA, PMD_SHA3_384 },
	{ MORE21 "ecdsa-sha3-512", PSK_ECDSA, PMD_SHA3_512 },
};

static const struct policy_alg digalgs[] = {
	{ XMLENC "sha256", 0, PMD_SHA256 },
	{ MORE01 "sha384", 0, PMD_SHA384 },
	{ XMLENC "sha512", 0, PMD_SHA512 },
	{ MORE07 "sha3-256", 0, PMD_SHA3_256 },
	{ MORE07 "sha3-384", 0, PMD_SHA3_384 },
	{ MORE07 "sha3-512", 0, PMD_SHA3_512 },
};

static const struct {
	unsigned md;
	const char *name;
	int nid;
} mds[] = {
	{ PMD_SHA256, "sha256", NID_sha256 },
	{ PMD_SHA384, "sha384", NID_sha384 },
	{ PMD_SHA512, "sha512", NID_sha512 },
	{ PMD_SHA3_256, "sha3-256", NID_sha3_256 },
	{ PMD_SHA3_384, "sha3-384", NID_sha3_384 },
	{ PMD_SHA3_512, "sha3-512", NID_sha3_512 },
};

/* OpenSSL group names and the names a profile may use. */
static const struct {
	unsigned bit;
	const char *name;	/* in profiles and reports */
	const char *group;	/* EVP_PKEY_get_group_name() */
	const char *alias;
} curves[] = {
	{ PCV_P256, "P-256", "prime256v1", "secp256r1" },
	{ PCV_P384, "P-384", "secp384r1", NULL },
	{ PCV_P521, "P-521", "secp521r1", NULL },
	{ PCV_BP256, "brainpoolP256r1", "brainpoolP256r1", NULL },
	{ PCV_BP384, "brainpoolP384r1", "brainpoolP384r1", NULL },
	{ PCV_BP512, "brainpoolP512r1", "brainpoolP512r1", NULL },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- defaults and overrides ---- */

void
policy_default(struct crypto_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->min_rsa_bits = 3000;
	p->allow_rsa_pkcs1 = 1;
	p->digests = PMD_ALL;
	p->curves = PCV_ALL;
	/* c14n 1.0/1.1 for SignedInfo: .NET SignedXml, Santuario and the
	 * xmlsec1 templates use them there; see docs/verification.md. */
	p->signedinfo_any_c14n = 1;
	p->max_references = 1;
	p->require_signing_time = 1;
	p->signing_time_skew = 300;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < NELEM(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
parse_long(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* Splits a space/comma separated list; calls fn for each word. */
static int
each_word(const char *v, int (*fn)(void *, const char *), void *arg)
{
	char word[POLICY_ID_LEN];
	size_t n;
	int r, count = 0;

	while (*v != '\0') {
		v += strspn(v, " \t,");
		if ((n = strcspn(v, " \t,")) == 0)
			break;
		if (n >= sizeof(word))
			return -1;
		memcpy(word, v, n);
		word[n] = '\0';
		if ((r = fn(arg, word)) != 0)
			return r;
		v += n;
		count++;
	}
	return count == 0 ? -1 : 0;
}

static int
add_md(void *arg, const char *w)
{
	unsigned *set = arg;
	size_t i;

	for (i = 0; i < NELEM(mds); i++)
		if (strcasecmp(w, mds[i].name) == 0) {
			*set |= mds[i].md;
			return 0;
		}
	return -1;
}

static int
add_curve(void *arg, const char *w)
{
	unsigned *set = arg;
	size_t i;

	for (i = 0; i < NELEM(curves); i++)
		if (strcasecmp(w, curves[i].name) == 0 ||
		    strcmp(w, curves[i].group) == 0 ||
		    (curves[i].alias && strcmp(w, curves[i].alias) == 0)) {
			*set |= curves[i].bit;
			return 0;
		}
	return -1;
}

/* An ID as XML allows it (NCName), ASCII only, bounded. */
static int
add_id(void *arg, const char *w)
{
	struct crypto_policy *p = arg;
	const char *c;

	if (p->nref_ids == POLICY_MAX_IDS ||
	    !(isalpha((unsigned char)w[0]) || w[0] == '_'))
		return -1;
	for (c = w; *c != '\0'; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' &&
		    *c != '.')
			return -1;
	util_strlcpy(p->ref_ids[p->nref_ids++], w, POLICY_ID_LEN);
	return 0;
}

/* The keys; returns 0 or fills why.  (One branch per key, kept in one
 * function so that the list of what a profile may change is in one
 * place; longer than most for that reason.) */
static int
set_key(struct crypto_policy *p, const char *k, const char *v, char *why,
    size_t whylen)
{
	long n;
	int b;

	if (strcmp(k, "allow_rsa2048") == 0 || strcmp(k, "rsa_pkcs1") == 0 ||
	    strcmp(k, "require_signing_time") == 0) {
		if (parse_bool(v, &b) != 0) {
			snprintf(why, whylen, "%s must be yes or no, not \"%.40s\"",
			    k, v);
			return -1;
		}
		if (strcmp(k, "allow_rsa2048") == 0)
			p->allow_rsa2048 = b;
		else if (strcmp(k, "rsa_pkcs1") == 0)
			p->allow_rsa_pkcs1 = b;
		else
			p->require_signing_time = b;
		return 0;
	}
	if (strcmp(k, "min_rsa_bits") == 0) {
		if (parse_long(v, 3000, 16384, &n) != 0) {
			snprintf(why, whylen, "min_rsa_bits must be 3000..16384 "
			    "(for 2048-bit keys use allow_rsa2048 = yes)");
			return -1;
		}
		p->min_rsa_bits = (int)n;
		return 0;
	}
	if (strcmp(k, "max_references") == 0) {
		if (parse_long(v, 1, 8, &n) != 0) {
			snprintf(why, whylen, "max_references must be 1..8");
			return -1;
		}
		p->max_references = (int)n;
		return 0;
	}
	if (strcmp(k, "signing_time_skew") == 0) {
		if (parse_long(v, 0, 86400, &n) != 0) {
			snprintf(why, whylen, "signing_time_skew must be 0..86400 "
			    "seconds");
			return -1;
		}
		p->signing_time_skew = n;
		return 0;
	}
	if (strcmp(k, "signedinfo_c14n") == 0) {
		if (strcmp(v, "exclusive") == 0)
			p->signedinfo_any_c14n = 0;
		else if (strcmp(v, "any") == 0)
			p->signedinfo_any_c14n = 1;
		else {
			snprintf(why, whylen, "signedinfo_c14n must be exclusive "
			    "or any");
			return -1;
		}
		return 0;
	}
	if (strcmp(k, "digests") == 0) {
		p->digests = 0;
		if (each_word(v, add_md, &p->digests) != 0) {
			snprintf(why, whylen, "digests: a list of sha256 sha384 "
			    "sha512 sha3-256 sha3-384 sha3-512, not \"%.60s\"", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(k, "curves") == 0) {
		p->curves = 0;
		if (each_word(v, add_curve, &p->curves) != 0) {
			snprintf(why, whylen, "curves: a list of P-256 P-384 P-521 "
			    "brainpoolP256r1 brainpoolP384r1 brainpoolP512r1, not "
			    "\"%.60s\"", v);
			return -1;
		}
		return 0;
	}
	if (strcmp(k, "reference_ids") == 0) {
		p->nref_ids = 0;
		if (strcmp(v, "none") != 0 && each_word(v, add_id, p) != 0) {
			snprintf(why, whylen, "reference_ids: at most %d IDs "
			    "(letters, digits, _ - .), or none", POLICY_MAX_IDS);
			return -1;
		}
		return 0;
	}
	snprintf(why, whylen, "unknown policy key \"%.40s\"", k);
	return -1;
}

int
policy_set(struct crypto_policy *p, const char *key, const char *value,
    char *why, size_t whylen)
{
	struct crypto_policy tmp;
	char dummy[8];

	if (why == NULL || whylen == 0) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	if (p == NULL || key == NULL || value == NULL) {
		snprintf(why, whylen, "no key or value");
		return GW_ERR_CONFIG;
	}
	tmp = *p;
	if (set_key(&tmp, key, value, why, whylen) != 0)
		return GW_ERR_CONFIG;
	*p = tmp;
	return 0;
}

/* Trims white space at both ends of s in place. */
static char *
trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int
policy_parse(struct crypto_policy *p, const char *spec, char *why,
    size_t whylen)
{
	char buf[MAX_SPEC + 1], *line, *next, *eq, *hash;
	int r, n = 0;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (spec == NULL || strlen(spec) > MAX_SPEC) {
		if (why != NULL)
			snprintf(why, whylen, "policy text missing or longer "
			    "than %d bytes", MAX_SPEC);
		return GW_ERR_CONFIG;
	}
	util_strlcpy(buf, spec, sizeof(buf));
	for (line = buf; line != NULL; line = next) {
		n++;
		if ((next = strpbrk(line, "\n;")) != NULL)
			*next++ = '\0';
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		line = trim(line);
		if (*line == '\0')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			if (why != NULL)
				snprintf(why, whylen, "entry %d: expected "
				    "key = value", n);
			return GW_ERR_CONFIG;
		}
		*eq = '\0';
		if ((r = policy_set(p, trim(line), trim(eq + 1), why,
		    whylen)) != 0)
			return r;
	}
	return 0;
}

static void
append(char *out, size_t outlen, const char *s)
{
	size_t n = strlen(out);

	if (n < outlen)
		util_strlcpy(out + n, s, outlen - n);
}

void
policy_describe(const struct crypto_policy *p, char *out, size_t outlen)
{
	char tmp[96];
	size_t i;
	int first;

	snprintf(out, outlen, "min_rsa_bits=%d allow_rsa2048=%s rsa_pkcs1=%s "
	    "signedinfo_c14n=%s max_references=%d digests=", p->min_rsa_bits,
	    p->allow_rsa2048 ? "yes" : "no", p->allow_rsa_pkcs1 ? "yes" : "no",
	    p->signedinfo_any_c14n ? "any" : "exclusive", p->max_references);
	for (i = 0, first = 1; i < NELEM(mds); i++)
		if (p->digests & mds[i].md) {
			append(out, outlen, first ? "" : ",");
			append(out, outlen, mds[i].name);
			first = 0;
		}
	append(out, outlen, " curves=");
	for (i = 0, first = 1; i < NELEM(curves); i++)
		if (p->curves & curves[i].bit) {
			append(out, outlen, first ? "" : ",");
			append(out, outlen, curves[i].name);
			first = 0;
		}
	for (i = 0; i < (size_t)p->nref_ids; i++) {
		snprintf(tmp, sizeof(tmp), "%s%s", i == 0 ?
		    " reference_ids=" : ",", p->ref_ids[i]);
		append(out, outlen, tmp);
	}
	snprintf(tmp, sizeof(tmp), " require_signing_time=%s "
	    "signing_time_skew=%ld", p->require_signing_time ? "yes" : "no",
	    p->signing_time_skew);
	append(out, outlen, tmp);
}

/* ---- XML-DSig classification ---- */

/* Does the fragment of uri (after '#') contain word as a '-' separated
 * token?  ("rsa-sha1", "sha1-rsa-MGF1", but not "sha12".) */
static int
has_token(const char *uri, const char *word)
{
	const char *frag = strrchr(uri, '#'), *p;
	size_t n = strlen(word);

	frag = frag != NULL ? frag + 1 : uri;
	for (p = frag; (p = strstr(p, word)) != NULL; p += n)
		if ((p == frag || p[-1] == '-') && (p[n] == '\0' || p[n] == '-'))
			return 1;
	return 0;
}

/* Why a URI outside the allow list is refused: the named families first. */
static enum policy_reason
forbidden_sig(const char *uri)
{
	if (strstr(uri, "hmac") != NULL)
		return PR_SIGALG_HMAC;
	if (has_token(uri, "dsa"))
		return PR_SIGALG_DSA;
	if (has_token(uri, "sha1"))
		return PR_SIGALG_SHA1;
	if (has_token(uri, "md5"))
		return PR_SIGALG_MD5;
	if (has_token(uri, "ripemd160"))
		return PR_SIGALG_RIPEMD160;
	return PR_SIGALG_NOT_ALLOWED;
}

enum policy_reason
policy_xml_sigalg(const struct crypto_policy *p, const char *uri,
    const struct policy_alg **out)
{
	size_t i;

	if (uri == NULL)
		return PR_SIGALG_NOT_ALLOWED;
	for (i = 0; i < NELEM(sigalgs); i++) {
		if (strcmp(uri, sigalgs[i].uri) != 0)
			continue;
		if ((p->digests & sigalgs[i].md) == 0 ||
		    (sigalgs[i].kind == PSK_RSA && !p->allow_rsa_pkcs1))
			return PR_SIGALG_NOT_ALLOWED;
		*out = &sigalgs[i];
		return POLICY_OK;
	}
	return forbidden_sig(uri);
}

enum policy_reason
policy_xml_digest(const struct crypto_policy *p, const char *uri,
    const struct policy_alg **out)
{
	size_t i;

	if (uri == NULL)
		return PR_DIGEST_NOT_ALLOWED;
	for (i = 0; i < NELEM(digalgs); i++) {
		if (strcmp(uri, digalgs[i].uri) != 0)
			continue;
		if ((p->digests & digalgs[i].md) == 0)
			return PR_DIGEST_NOT_ALLOWED;
		*out = &digalgs[i];
		return POLICY_OK;
	}
	if (strcmp(uri, DSIG "sha1") == 0)
		return PR_DIGEST_SHA1;
	if (strcmp(uri, MORE01 "md5") == 0)
		return PR_DIGEST_MD5;
	if (strcmp(uri, XMLENC "ripemd160") == 0)
		return PR_DIGEST_RIPEMD160;
	return PR_DIGEST_NOT_ALLOWED;
}

enum policy_reason
policy_xml_c14n(const struct crypto_policy *p, const char *uri, int *mode)
{
	if (uri == NULL)
		return PR_C14N_NOT_ALLOWED;
	if (strcmp(uri, EXC_C14N) == 0) {
		*mode = XML_C14N_EXCLUSIVE_1_0;
		return POLICY_OK;
	}
	if (p->signedinfo_any_c14n && strcmp(uri, C14N10) == 0) {
		*mode = XML_C14N_1_0;
		return POLICY_OK;
	}
	if (p->signedinfo_any_c14n && strcmp(uri, C14N11) == 0) {
		*mode = XML_C14N_1_1;
		return POLICY_OK;
	}
	return PR_C14N_NOT_ALLOWED;
}

enum policy_reason
policy_xml_transform(const char *uri)
{
	static const struct {
		const char *uri;
		enum policy_reason r;
	} tab[] = {
		{ DSIG "enveloped-signature", POLICY_OK },
		{ EXC_C14N, POLICY_OK },
		{ EXC_C14N "WithComments", PR_TRANSFORM_WITH_COMMENTS },
		{ C14N10 "#WithComments", PR_TRANSFORM_WITH_COMMENTS },
		{ C14N11 "#WithComments", PR_TRANSFORM_WITH_COMMENTS },
		{ C14N10, PR_TRANSFORM_CHAIN },
		{ C14N11, PR_TRANSFORM_CHAIN },
		{ "http://www.w3.org/TR/1999/REC-xslt-19991116",
		    PR_TRANSFORM_XSLT },
		{ "http://www.w3.org/TR/1999/REC-xpath-19991116",
		    PR_TRANSFORM_XPATH },
		{ "http://www.w3.org/2002/06/xmldsig-filter2",
		    PR_TRANSFORM_XPATH_FILTER2 },
		{ "http://www.w3.org/2001/04/xmldsig-more/xptr",
		    PR_TRANSFORM_XPOINTER },
		{ DSIG "base64", PR_TRANSFORM_BASE64 },
	};
	size_t i;

	for (i = 0; uri != NULL && i < NELEM(tab); i++)
		if (strcmp(uri, tab[i].uri) == 0)
			return tab[i].r;
	return PR_TRANSFORM_UNKNOWN;
}

enum policy_reason
policy_xml_ref_uri(const struct crypto_policy *p, const char *uri)
{
	int i;

	if (uri == NULL)
		return PR_REF_NO_URI;
	if (uri[0] == '\0')
		return POLICY_OK;
	if (uri[0] == '#') {
		if (strncmp(uri, "#xpointer(", 10) == 0)
			return PR_REF_URI_XPOINTER;
		for (i = 0; i < p->nref_ids; i++)
			if (strcmp(uri + 1, p->ref_ids[i]) == 0)
				return POLICY_OK;
		return PR_REF_URI_ID;
	}
	if (strncasecmp(uri, "file:", 5) == 0)
		return PR_REF_URI_FILE;
	return PR_REF_URI_EXTERNAL;
}

/* ---- OpenSSL identifiers ---- */

const EVP_MD *
policy_md_evp(unsigned md)
{
	switch (md) {
	case PMD_SHA256: return EVP_sha256();
	case PMD_SHA384: return EVP_sha384();
	case PMD_SHA512: return EVP_sha512();
	case PMD_SHA3_256: return EVP_sha3_256();
	case PMD_SHA3_384: return EVP_sha3_384();
	case PMD_SHA3_512: return EVP_sha3_512();
	default: return NULL;
	}
}

enum policy_reason
policy_md_nid(const struct crypto_policy *p, int nid)
{
	size_t i;

	for (i = 0; i < NELEM(mds); i++)
		if (mds[i].nid == nid)
			return (p->digests & mds[i].md) ? POLICY_OK :
			    PR_DIGEST_NOT_ALLOWED;
	if (nid == NID_sha1)
		return PR_DIGEST_SHA1;
	if (nid == NID_md5)
		return PR_DIGEST_MD5;
	if (nid == NID_ripemd160)
		return PR_DIGEST_RIPEMD160;
	return PR_DIGEST_NOT_ALLOWED;
}

enum policy_reason
policy_sig_nid(const struct crypto_policy *p, int nid, enum policy_sigkind *kind)
{
	static const struct {
		int nid;
		enum policy_sigkind kind;
		enum policy_reason r;
	} tab[] = {
		{ NID_rsaEncryption, PSK_RSA, POLICY_OK },
		{ NID_sha256WithRSAEncryption, PSK_RSA, POLICY_OK },
		{ NID_sha384WithRSAEncryption, PSK_RSA, POLICY_OK },
		{ NID_sha512WithRSAEncryption, PSK_RSA, POLICY_OK },
		{ NID_RSA_SHA3_256, PSK_RSA, POLICY_OK },
		{ NID_RSA_SHA3_384, PSK_RSA, POLICY_OK },
		{ NID_RSA_SHA3_512, PSK_RSA, POLICY_OK },
		{ NID_rsassaPss, PSK_PSS, POLICY_OK },
		{ NID_X9_62_id_ecPublicKey, PSK_ECDSA, POLICY_OK },
		{ NID_ecdsa_with_SHA256, PSK_ECDSA, POLICY_OK },
		{ NID_ecdsa_with_SHA384, PSK_ECDSA, POLICY_OK },
		{ NID_ecdsa_with_SHA512, PSK_ECDSA, POLICY_OK },
		{ NID_ecdsa_with_SHA3_256, PSK_ECDSA, POLICY_OK },
		{ NID_ecdsa_with_SHA3_384, PSK_ECDSA, POLICY_OK },
		{ NID_ecdsa_with_SHA3_512, PSK_ECDSA, POLICY_OK },
		{ NID_sha1WithRSAEncryption, 0, PR_SIGALG_SHA1 },
		{ NID_ecdsa_with_SHA1, 0, PR_SIGALG_SHA1 },
		{ NID_md5WithRSAEncryption, 0, PR_SIGALG_MD5 },
		{ NID_ripemd160WithRSA, 0, PR_SIGALG_RIPEMD160 },
		{ NID_dsa, 0, PR_SIGALG_DSA },
		{ NID_dsaWithSHA1, 0, PR_SIGALG_DSA },
		{ NID_dsa_with_SHA224, 0, PR_SIGALG_DSA },
		{ NID_dsa_with_SHA256, 0, PR_SIGALG_DSA },
	};
	size_t i;

	for (i = 0; i < NELEM(tab); i++) {
		if (tab[i].nid != nid)
			continue;
		if (tab[i].r != POLICY_OK)
			return tab[i].r;
		if (tab[i].kind == PSK_RSA && !p->allow_rsa_pkcs1)
			return PR_SIGALG_NOT_ALLOWED;
		*kind = tab[i].kind;
		return POLICY_OK;
	}
	return PR_SIGALG_NOT_ALLOWED;
}

static enum policy_reason
check_curve(const struct crypto_policy *p, EVP_PKEY *pkey, char *desc,
    size_t desclen)
{
	char group[64];
	size_t i, len = 0;

	if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1)
		return PR_KEY_EC_CURVE;
	for (i = 0; i < NELEM(curves); i++)
		if (strcmp(group, curves[i].group) == 0) {
			if (desc != NULL)
				snprintf(desc, desclen, "EC %s", curves[i].name);
			return (p->curves & curves[i].bit) ? POLICY_OK :
			    PR_KEY_EC_CURVE;
		}
	if (desc != NULL)
		snprintf(desc, desclen, "EC %.40s", group);
	return PR_KEY_EC_CURVE;
}

enum policy_reason
policy_key(const struct crypto_policy *p, EVP_PKEY *pkey,
    enum policy_sigkind kind, enum policy_reason *warn, char *desc,
    size_t desclen)
{
	int type = EVP_PKEY_get_base_id(pkey), bits = EVP_PKEY_get_bits(pkey);

	*warn = POLICY_OK;
	if (desc != NULL && desclen > 0)
		snprintf(desc, desclen, "%s %d", type == EVP_PKEY_RSA ? "RSA" :
		    type == EVP_PKEY_RSA_PSS ? "RSA-PSS" : OBJ_nid2sn(type), bits);
	switch (kind) {
	case PSK_RSA:
	case PSK_PSS:
		if (type != EVP_PKEY_RSA &&
		    (kind != PSK_PSS || type != EVP_PKEY_RSA_PSS))
			return PR_KEY_TYPE;
		if (bits >= p->min_rsa_bits)
			return POLICY_OK;
		if (p->allow_rsa2048 && bits >= POLICY_RSA_FLOOR) {
			*warn = PR_KEY_RSA_2048;
			return POLICY_OK;
		}
		return PR_KEY_RSA_TOO_SHORT;
	case PSK_ECDSA:
		if (type != EVP_PKEY_EC)
			return PR_KEY_TYPE;
		return check_curve(p, pkey, desc, desclen);
	}
	return PR_KEY_TYPE;
}

/* The kind of signature a key makes, for policy_key(). */
static enum policy_sigkind
kind_of_key(EVP_PKEY *pkey)
{
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA_PSS: return PSK_PSS;
	case EVP_PKEY_EC: return PSK_ECDSA;
	default: return PSK_RSA;
	}
}

int
policy_chain_check(X509 *cert, int depth, int is_anchor, void *arg,
    const char **reason)
{
	const struct crypto_policy *p = arg;
	struct crypto_policy pkcs1;
	enum policy_sigkind kind = 0;
	enum policy_reason warn;
	EVP_PKEY *pkey = X509_get0_pubkey(cert);
	int md = NID_undef, pk = NID_undef;

	(void)depth;
	if (pkey == NULL || policy_key(p, pkey, kind_of_key(pkey), &warn, NULL,
	    0) != POLICY_OK) {
		*reason = "weak-key";
		return GW_ERR_KEY_WEAK;
	}
	if (is_anchor)
		return 0;	/* its self-signature proves nothing anyway */
	/* Certificates are signed with PKCS#1 v1.5 whatever a profile says
	 * about document signatures: only the digest and family count. */
	pkcs1 = *p;
	pkcs1.allow_rsa_pkcs1 = 1;
	if (policy_sig_nid(&pkcs1, X509_get_signature_nid(cert), &kind) !=
	    POLICY_OK || (OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md,
	    &pk) == 1 && md != NID_undef && policy_md_nid(p, md) != POLICY_OK)) {
		*reason = "algorithm";
		return GW_ERR_SIG_ALGORITHM;
	}
	return 0;
}

/* ---- results ---- */

static void
add_unique(enum policy_reason *v, int *n, int max, enum policy_reason r)
{
	int i;

	for (i = 0; i < *n; i++)
		if (v[i] == r)
			return;
	if (*n < max)
		v[(*n)++] = r;
}

void
policy_result_reject(struct policy_result *res, enum policy_reason r)
{
	if (r != POLICY_OK)
		add_unique(res->reasons, &res->nreasons, POLICY_MAX_REASONS, r);
}

void
policy_result_warn(struct policy_result *res, enum policy_reason r)
{
	if (r != POLICY_OK)
		add_unique(res->warnings, &res->nwarnings, POLICY_MAX_WARNINGS, r);
}

int
policy_result_has(const struct policy_result *res, enum policy_reason r)
{
	int i;

	for (i = 0; i < res->nreasons; i++)
		if (res->reasons[i] == r)
			return 1;
	for (i = 0; i < res->nwarnings; i++)
		if (res->warnings[i] == r)
			return 1;
	return 0;
}
