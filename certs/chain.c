/*
 * chain.c - certificate path validation.  See chain.h.
 *
 * One X509_STORE_CTX per call, so any thread may verify against the same
 * store.  OpenSSL's error queue is per thread and is left empty afterwards:
 * a stale entry would confuse the next SSL_get_error() on that thread.
 */
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "chain.h"
#include "err.h"

static int
map_error(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		return GW_ERR_CERT_EXPIRED;
	case X509_V_ERR_CERT_REVOKED:
		return GW_ERR_CERT_REVOKED;
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		return GW_ERR_CERT_USAGE;
	case X509_V_ERR_OUT_OF_MEM:
		return GW_ERR_NOMEM;
	default:
		return GW_ERR_CERT_UNTRUSTED;
	}
}

/* Without a keyUsage extension any use is allowed (RFC 5280, 4.2.1.3). */
static int
usage_ok(X509 *cert, enum chain_usage usage)
{
	uint32_t ku;

	if (usage == CHAIN_USAGE_ANY ||
	    (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0)
		return 1;
	ku = X509_get_key_usage(cert);
	if (usage == CHAIN_USAGE_SIGN)
		return (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0;
	return (ku & KU_KEY_ENCIPHERMENT) != 0;
}

int
chain_verify(X509 *cert, STACK_OF(X509) *untrusted, X509_STORE *trust,
    time_t at, enum chain_usage usage, char *why, size_t whylen)
{
	X509_STORE_CTX *ctx = NULL;
	int r = GW_ERR_INTERNAL, ok, err;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (cert == NULL || trust == NULL)
		return GW_ERR_INTERNAL;
	if ((ctx = X509_STORE_CTX_new()) == NULL)
		return GW_ERR_NOMEM;
	if (X509_STORE_CTX_init(ctx, trust, cert, untrusted) != 1)
		goto out;
	if (at != 0)
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
	ok = X509_verify_cert(ctx);
	if (ok != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		if (ok < 0 && err == X509_V_OK)
			goto out;	/* internal failure, no verdict */
		if (why != NULL)
			snprintf(why, whylen, "%s (depth %d)",
			    X509_verify_cert_error_string(err),
			    X509_STORE_CTX_get_error_depth(ctx));
		r = map_error(err);
		goto out;
	}
	if (!usage_ok(cert, usage)) {
		if (why != NULL)
			snprintf(why, whylen, "key usage does not allow %s",
			    usage == CHAIN_USAGE_SIGN ? "digital signatures" :
			    "key encipherment");
		r = GW_ERR_CERT_USAGE;
		goto out;
	}
	r = 0;
 out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return r;
}
