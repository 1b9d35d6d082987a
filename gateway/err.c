/*
 * err.c - texts, codes and HTTP statuses for the GW_ERR_* values.
 *
 * One table, indexed by -err, keeps the three views of an error together so
 * they cannot drift apart.  The codes are part of the public API (they appear
 * in <Error><Code> bodies and in audit entries): never rename one.
 */
#include "err.h"

struct errinfo {
	const char *code;
	int status;
	const char *text;
};

static const struct errinfo errtab[] = {
	[0] = { "OK", 200, "success" },
	[-GW_ERR_INTERNAL] = { "INTERNAL", 500, "internal error" },
	[-GW_ERR_NOMEM] = { "NO_MEMORY", 503, "out of memory" },
	[-GW_ERR_IO] = { "IO_ERROR", 500, "input/output error" },
	[-GW_ERR_TOO_LARGE] = { "TOO_LARGE", 413,
	    "the input exceeds a size, depth or count limit" },
	[-GW_ERR_INVALID] = { "INVALID_REQUEST", 400, "the request is malformed" },
	[-GW_ERR_XML_MALFORMED] = { "XML_MALFORMED", 400,
	    "the document is not well-formed XML" },
	[-GW_ERR_XML_DTD] = { "XML_DTD_FORBIDDEN", 400,
	    "documents must not contain a DOCTYPE or entity declarations" },
	[-GW_ERR_SCHEMA] = { "SCHEMA_INVALID", 400,
	    "the document is not valid against the submission schema" },
	[-GW_ERR_SIG_MISSING] = { "SIGNATURE_MISSING", 422,
	    "the document carries no XML signature" },
	[-GW_ERR_SIG_MULTIPLE] = { "SIGNATURE_MULTIPLE", 422,
	    "the document carries more than one XML signature" },
	[-GW_ERR_SIG_PLACEMENT] = { "SIGNATURE_PLACEMENT", 422,
	    "the signature must be the last child of the document element" },
	[-GW_ERR_SIG_REFERENCE] = { "SIGNATURE_REFERENCE", 422,
	    "the signature must cover the whole document (one Reference URI=\"\" "
	    "with the enveloped-signature and exclusive c14n transforms)" },
	[-GW_ERR_SIG_ALGORITHM] = { "SIGNATURE_ALGORITHM", 422,
	    "the signature or encryption uses an algorithm the policy does not allow" },
	[-GW_ERR_SIG_INVALID] = { "SIGNATURE_INVALID", 422,
	    "the signature does not verify: the document or its SignedInfo was altered" },
	[-GW_ERR_SIG_NOCERT] = { "SIGNER_CERT_MISSING", 422,
	    "the signature carries no signer certificate in ds:X509Data" },
	[-GW_ERR_CERT_UNTRUSTED] = { "CERT_UNTRUSTED", 422,
	    "the signer certificate does not chain to a trusted CA" },
	[-GW_ERR_CERT_EXPIRED] = { "CERT_EXPIRED", 422,
	    "a certificate of the signer's chain is expired or not yet valid" },
	[-GW_ERR_CERT_USAGE] = { "CERT_USAGE", 422,
	    "the certificate's key usage does not allow this use" },
	[-GW_ERR_CERT_REVOKED] = { "CERT_REVOKED", 422,
	    "the signer certificate is revoked" },
	[-GW_ERR_NOT_FOUND] = { "NOT_FOUND", 404, "no such resource" },
	[-GW_ERR_FORBIDDEN] = { "FORBIDDEN", 403,
	    "this client is not allowed to do that" },
	[-GW_ERR_UNAUTHENTICATED] = { "CLIENT_CERT_REQUIRED", 403,
	    "a known, valid client certificate is required" },
	[-GW_ERR_DUPLICATE] = { "DUPLICATE_MESSAGE_ID", 409,
	    "this message id was already submitted with different content" },
	[-GW_ERR_UNSUPPORTED_MEDIA] = { "UNSUPPORTED_MEDIA_TYPE", 415,
	    "the content type is not supported here" },
	[-GW_ERR_OVERLOADED] = { "OVERLOADED", 503,
	    "the gateway is overloaded; retry later" },
	[-GW_ERR_CONFIG] = { "CONFIG_ERROR", 500, "the configuration is wrong" },
	[-GW_ERR_CRYPTO] = { "CRYPTO_ERROR", 500,
	    "a cryptographic operation failed" },
	[-GW_ERR_UNKNOWN_READER] = { "UNKNOWN_READER", 422,
	    "a reader authority is unknown or not allowed for this portal" },
	[-GW_ERR_STORE] = { "STORE_ERROR", 503,
	    "the message store failed; nothing was accepted" },
	[-GW_ERR_METHOD] = { "METHOD_NOT_ALLOWED", 405,
	    "the HTTP method is not allowed on this resource" },
	[-GW_ERR_KEY_WEAK] = { "KEY_TOO_WEAK", 422,
	    "the key is below the policy's minimum strength" },
	[-GW_ERR_STATE] = { "WRONG_STATE", 409,
	    "the message is not in a state that allows this" },
	[-GW_ERR_GONE] = { "PURGED", 410,
	    "the message's content was deleted after its retention period; "
	    "its digests and history remain in the audit log" },
	[-GW_ERR_CERT_INDETERMINATE] = { "CERT_INDETERMINATE", 422,
	    "the signer certificate's revocation status could not be "
	    "established, and the trust profile requires it" },
	[-GW_ERR_ATTACHMENT] = { "ATTACHMENT_MISMATCH", 422,
	    "the attachment parts do not match the list the portal signed" },
	[-GW_ERR_NO_ENC_CERT] = { "NO_ENCRYPTION_CERT", 422,
	    "a reader has no valid encryption certificate; nothing was accepted" },
	[-GW_ERR_TOO_MANY] = { "TOO_MANY_UPLOADS", 429,
	    "this client has as many uploads under way as it may; retry when "
	    "one has finished" },
};

static const struct errinfo *
lookup(int err)
{
	if (err > 0 || err <= GW_ERR__LAST || errtab[-err].code == 0)
		return &errtab[-GW_ERR_INTERNAL];
	return &errtab[-err];
}

const char *
gw_strerror(int err)
{
	return lookup(err)->text;
}

const char *
gw_errcode(int err)
{
	return lookup(err)->code;
}

int
gw_httpstatus(int err)
{
	return lookup(err)->status;
}
