/*
 * config.h - the gateway's configuration and the parties it knows.
 *
 * A configuration is one gateway file (key = value lines) plus one profile
 * file per party (portal or authority) in its profiles directory.  It is
 * loaded and checked whole; a struct config is immutable afterwards and may
 * be read by any thread.  See profiles/README.md for the format.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>

enum party_kind { PARTY_PORTAL = 1, PARTY_AUTHORITY = 2 };

struct party {
	char id[64];
	enum party_kind kind;
	char name[128];
	char tls_fpr[65];	/* SHA-256 of its TLS client certificate's DER */
	/* authority */
	char delivery[8];	/* "pull" or "push" */
	char endpoint[512];	/* push: https URL the gateway POSTs to */
	char endpoint_ca[512];	/* push: CA file for the endpoint's TLS */
	X509 *receipt_cert;	/* push: certificate that signs its receipts */
	int max_attempts;	/* push: attempts before failed (default 12) */
	long max_age;		/* push: seconds before failed (default 7 days) */
	long retry_base_ms;	/* push: first back-off (default 2000) */
	long retry_max_ms;	/* push: longest back-off (default 600000) */
	char endpoint_pin[512];	/* push: "sha256//BASE64[;...]" of the endpoint's
				 * SPKI (CURLOPT_PINNEDPUBLICKEY); "" = none */
	/*
	 * Every encryption_cert, in the profile's order, valid or not: use
	 * config_enc_certs_valid() to get the ones to encrypt for.  enc_cert
	 * points into this array (not a reference of its own: never free it):
	 * the one with the latest notAfter among those valid at load time.
	 */
	X509 **enc_certs;
	size_t nenc_certs;
	X509 *enc_cert;		/* see above; for callers that take one */
	char scheme[64];	/* identifier scheme (default "gatewayd") */
	char **scenarios;	/* accepted BusinessScenario values; none = any */
	size_t nscenarios;
	int retention_days;	/* days a delivered body is kept (default 365) */
	/* both kinds */
	char **services;	/* authority: accepted service URIs; portal:
				 * services it may submit; none = any */
	size_t nservices;
	size_t max_size;	/* largest submission it takes (authority) or
				 * sends (portal, incl. attachments), bytes */
	int allow_rsa2048;	/* authority: 2048-2999-bit encryption keys;
				 * portal: such signer keys (with a warning) */
	/* portal */
	char **readers;		/* authorities it may submit to; none = any */
	size_t nreaders;
	char signer_ca[512];	/* file of the CAs its signers must chain to;
				 * "" = the gateway's trust_ca */
	X509 **signer_cas;	/* the certificates of that file */
	size_t nsigner_cas;
	X509_STORE *signer_store; /* them as the trust anchors, or NULL */
	unsigned long signer_gen; /* unique per store (path cache key) */
	char revocation[16];	/* require, prefer, off; "" = the gateway's */
	char **signer_eku;	/* dotted OIDs, the signer needs one; none = any */
	size_t nsigner_eku;
};

struct config {
	char path[512];		/* the file it was loaded from */
	char listen[128];	/* host:port */
	char tls_cert[512];	/* server certificate chain (PEM) */
	char tls_key[512];
	char client_ca[512];	/* CAs that issue client certificates */
	char trust_ca[512];	/* CAs whose signers are trusted */
	char sign_cert[512];	/* the gateway's signing certificate */
	char sign_key[512];
	char database[512];	/* SQLite file */
	char profiles_dir[512];
	int threads;		/* worker threads; 0 = number of cores */
	int io_threads;		/* event-loop threads; 0 = 1 */
	size_t max_body;	/* largest request body, bytes */
	int max_pending;	/* queued requests before 503 */
	int max_uploads;	/* multipart uploads at once per client (429) */
	char revocation[16];	/* signer revocation: require, prefer, off */
	char crl_file[512];	/* a local CRL (PEM or DER), "" if none */
	uint64_t max_submission; /* a multipart submission, all parts (2G) */
	char spool_dir[512];	/* attachment spool (default: database's
				 * directory + "/spool"), resolved */
	struct party *parties;
	size_t nparties;
};

/*
 * Loads path and every *.conf in its profiles_dir.  Relative paths in the
 * file are taken relative to the file's directory.  On error, err (if not
 * NULL) gets one sentence naming the file, line and problem.
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
void config_free(struct config *c);

/*
 * Checks the configuration at path and reports every problem instead of
 * stopping at the first: report (may be NULL) gets one sentence per
 * problem, naming the file and line, with is_error 1 for an error and 0
 * for a warning (e.g. a certificate expiring within 30 days).  path is a
 * gateway file, a directory holding gateway.conf (checked whole), or a
 * profiles directory without one (only the profiles: relative paths in
 * them are taken relative to it, gateway keys have their defaults).
 * Returns 0 when there was no error (warnings alone are 0), GW_ERR_CONFIG
 * when there was at least one, GW_ERR_NOMEM if it could not finish.  The
 * rules are the ones config_load() applies.
 */
int config_check(const char *path,
    void (*report)(void *arg, int is_error, const char *sentence), void *arg);

/*
 * Development set-up in dir: creates the PKI (pki_init) if missing, writes
 * gateway.conf and profiles/{portal-1,authority-a,authority-b}.conf if
 * missing, then loads dir/gateway.conf.  listen may be NULL (127.0.0.1:8443);
 * when given it overrides the file.
 */
int config_dev(const char *dir, const char *listen, struct config **out,
    char *err, size_t errlen);

const struct party *config_party(const struct config *c, const char *id);
const struct party *config_party_by_fpr(const struct config *c, const char *fpr);
/*
 * 1 if the portal may submit to reader for service, else 0: the reader is
 * in the portal's readers and the service in the portal's and the reader's
 * services (an absent list allows any).  Does not look at scenarios.
 */
int config_may_submit(const struct config *c, const struct party *portal,
    const struct party *reader, const char *service);
/* As config_may_submit(), and the BusinessScenario scenario (may be NULL:
 * then only a reader without a scenarios list takes it) is one the reader
 * accepts. */
int config_may_submit2(const struct config *c, const struct party *portal,
    const struct party *reader, const char *service, const char *scenario);

/*
 * The authority's encryption certificates inside their validity period at
 * now (notBefore <= now < notAfter), at most max of them, in the profile's
 * order, into out (borrowed: they live as long as the configuration).
 * Returns how many; 0 means there is none to encrypt for.
 */
size_t config_enc_certs_valid(const struct party *p, time_t now, X509 **out,
    size_t max);
/* 1 if the portal has no signer_eku or cert's extendedKeyUsage carries one
 * of them, else 0. */
int config_signer_eku_ok(const struct party *portal, X509 *cert);

#endif
