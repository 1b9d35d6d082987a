/*
 * chain.h - certificate path validation against a trust store.
 *
 * The one place that decides whether a certificate is trusted: the path is
 * built by OpenSSL from the certificate, the untrusted intermediates the peer
 * sent and the trusted CAs; then the end-entity key usage is checked for the
 * use the caller has in mind.  Revocation is not checked here yet.
 */
#ifndef GW_CHAIN_H
#define GW_CHAIN_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

enum chain_usage {
	CHAIN_USAGE_ANY = 0,		/* no key usage requirement */
	CHAIN_USAGE_SIGN,		/* digitalSignature or nonRepudiation */
	CHAIN_USAGE_ENCIPHER		/* keyEncipherment */
};

/*
 * Verifies that cert chains to a CA in trust (untrusted may be NULL) at time
 * at (0: now) and that, if cert has a keyUsage extension, it allows usage.
 * Returns 0, GW_ERR_CERT_UNTRUSTED, GW_ERR_CERT_EXPIRED (cert or a CA outside
 * its validity), GW_ERR_CERT_USAGE or GW_ERR_CERT_REVOKED; on failure why
 * (if not NULL) holds OpenSSL's reason and the depth it applies to.
 * Thread-safe: trust is only read.
 */
int chain_verify(X509 *cert, STACK_OF(X509) *untrusted, X509_STORE *trust,
    time_t at, enum chain_usage usage, char *why, size_t whylen);

#endif
