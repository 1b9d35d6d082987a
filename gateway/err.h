/*
 * err.h - the one error type of gatewayd.
 *
 * Every function that can fail returns int: 0 on success, a negative GW_ERR_*
 * code otherwise.  gw_strerror() turns a code into a sentence, gw_errcode()
 * into the stable machine-readable code used in HTTP error bodies, and
 * gw_httpstatus() into the HTTP status the API answers with.
 */
#ifndef GW_ERR_H
#define GW_ERR_H

enum {
	GW_OK = 0,
	GW_ERR_INTERNAL = -1,		/* broken invariant, library failure */
	GW_ERR_NOMEM = -2,
	GW_ERR_IO = -3,			/* file or socket I/O failed */
	GW_ERR_TOO_LARGE = -4,		/* a size, depth or count limit */
	GW_ERR_INVALID = -5,		/* malformed input in general */
	GW_ERR_XML_MALFORMED = -6,	/* not well-formed XML */
	GW_ERR_XML_DTD = -7,		/* DOCTYPE / entities present */
	GW_ERR_SCHEMA = -8,		/* not valid against our XSD */
	GW_ERR_SIG_MISSING = -9,	/* no ds:Signature */
	GW_ERR_SIG_MULTIPLE = -10,	/* more than one ds:Signature */
	GW_ERR_SIG_PLACEMENT = -11,	/* signature not last child of root */
	GW_ERR_SIG_REFERENCE = -12,	/* reference not URI="" or bad transforms */
	GW_ERR_SIG_ALGORITHM = -13,	/* algorithm not allowed by policy */
	GW_ERR_SIG_INVALID = -14,	/* digest or signature value wrong */
	GW_ERR_SIG_NOCERT = -15,	/* no signer certificate in X509Data */
	GW_ERR_CERT_UNTRUSTED = -16,	/* no path to a trusted CA */
	GW_ERR_CERT_EXPIRED = -17,	/* signer or chain outside validity */
	GW_ERR_CERT_USAGE = -18,	/* keyUsage does not allow the use */
	GW_ERR_CERT_REVOKED = -19,
	GW_ERR_NOT_FOUND = -20,
	GW_ERR_FORBIDDEN = -21,		/* not allowed for this client */
	GW_ERR_UNAUTHENTICATED = -22,	/* no or unknown client certificate */
	GW_ERR_DUPLICATE = -23,		/* same id, different content */
	GW_ERR_UNSUPPORTED_MEDIA = -24,
	GW_ERR_OVERLOADED = -25,
	GW_ERR_CONFIG = -26,		/* configuration file or profile wrong */
	GW_ERR_CRYPTO = -27,		/* encryption / decryption failed */
	GW_ERR_UNKNOWN_READER = -28,	/* reader authority not configured */
	GW_ERR_STORE = -29,		/* database failed */
	GW_ERR_METHOD = -30,		/* HTTP method not allowed */
	GW_ERR_KEY_WEAK = -31,		/* key below the policy minimum */
	GW_ERR_STATE = -32,		/* operation not possible in this state */
	GW_ERR_CERT_INDETERMINATE = -33, /* revocation status not available */
	GW_ERR_GONE = -34,		/* content purged after its retention */
	GW_ERR_ATTACHMENT = -35,	/* attachment parts differ from the signed list */
	GW_ERR_NO_ENC_CERT = -36,	/* a reader has no valid encryption certificate */
	GW_ERR_TOO_MANY = -37,		/* too many uploads under way for this client */
	GW_ERR__LAST = -38
};

/* A sentence describing the error; never NULL. */
const char *gw_strerror(int err);
/* A stable upper-case code such as "SIGNATURE_INVALID"; never NULL. */
const char *gw_errcode(int err);
/* The HTTP status an API call failing with err answers with. */
int gw_httpstatus(int err);

#endif
