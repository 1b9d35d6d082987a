/*
 * tls.c - the server's TLS context and the mapping from a client
 * certificate to a configured party.
 *
 * Settings follow BSI TR-02102-2: TLS 1.2 and 1.3 only, forward secrecy
 * only, AES-GCM only, groups P-256/P-384/brainpool, no renegotiation, no
 * compression, no 0-RTT.  A client certificate is requested on every
 * handshake.  The handshake itself accepts any certificate so that a
 * missing or unknown one gets a clear HTTP 403 with an XML body and an audit
 * entry instead of a bare TLS alert; every request then checks that the
 * certificate verified against client_ca and belongs to a configured party
 * (tls_peer_party), and nothing is served otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "gw.h"
#include "pki.h"
#include "util.h"

#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
#define TLS13_SUITES "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
#define TLS_GROUPS "P-256:P-384:brainpoolP256r1:brainpoolP384r1"
#define TLS_SIGALGS \
	"ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:" \
	"rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:" \
	"rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:" \
	"RSA+SHA256:RSA+SHA384:RSA+SHA512"

static int
accept_any(int preverify_ok, X509_STORE_CTX *ctx)
{
	(void)preverify_ok;
	(void)ctx;
	/* The result stays in SSL_get_verify_result(); see the note above. */
	return 1;
}

static void
ssl_errstr(char *err, size_t errlen, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s %s: %s", what, file, e ? buf : "failed");
	ERR_clear_error();
}

int
tls_server_ctx(const struct config *cfg, SSL_CTX **out, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	STACK_OF(X509_NAME) *names;
	int r = GW_ERR_CONFIG;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return GW_ERR_NOMEM;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1) {
		ssl_errstr(err, errlen, "TLS settings", "");
		goto out;
	}
	/* OpenSSL 3.0 knows brainpool only for TLS 1.2; fall back if refused. */
	if (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 &&
	    SSL_CTX_set1_groups_list(ctx, "P-256:P-384") != 1) {
		ssl_errstr(err, errlen, "TLS groups", "");
		goto out;
	}
	ERR_clear_error();
	/* Handshake signatures: SHA-2 only, ECDSA on the allowed curves and
	 * RSA-PSS, plus RSA PKCS#1 v1.5 for TLS 1.2 client certificates. */
	if (SSL_CTX_set1_sigalgs_list(ctx, TLS_SIGALGS) != 1 ||
	    SSL_CTX_set1_client_sigalgs_list(ctx, TLS_SIGALGS) != 1) {
		ssl_errstr(err, errlen, "TLS signature algorithms", "");
		goto out;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
	SSL_CTX_set_max_early_data(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		ssl_errstr(err, errlen, "cannot load TLS certificate", cfg->tls_cert);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_errstr(err, errlen, "cannot load TLS key", cfg->tls_key);
		goto out;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(cfg->client_ca)) == NULL) {
		ssl_errstr(err, errlen, "cannot load client CA", cfg->client_ca);
		goto out;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, accept_any);
	SSL_CTX_set_verify_depth(ctx, 8);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"gatewayd", 8);
	*out = ctx;
	ctx = NULL;
	r = 0;
 out:
	SSL_CTX_free(ctx);
	return r;
}

const struct party *
tls_peer_party(const struct config *cfg, SSL *ssl, char *why, size_t whylen)
{
	const struct party *p;
	X509 *peer;
	char fpr[65];
	long vr;

	if (ssl == NULL || (peer = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(why, whylen, "no client certificate");
		return NULL;
	}
	if ((vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(why, whylen, "client certificate rejected: %s",
		    X509_verify_cert_error_string(vr));
		return NULL;
	}
	if (pki_cert_fingerprint(peer, fpr) != 0) {
		snprintf(why, whylen, "client certificate unreadable");
		return NULL;
	}
	if ((p = config_party_by_fpr(cfg, fpr)) == NULL) {
		snprintf(why, whylen, "client certificate %.16s... belongs to no "
		    "configured portal or authority", fpr);
		return NULL;
	}
	return p;
}
