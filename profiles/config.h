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
	X509 *enc_cert;		/* encryption certificate (RSA) */
	char **services;	/* accepted service URIs; none = any */
	size_t nservices;
	size_t max_size;	/* largest submission it takes, bytes */
	int retention_days;	/* days a delivered body is kept (default 365) */
	/* portal */
	char **readers;		/* authorities it may submit to; none = any */
	size_t nreaders;
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
	char revocation[16];	/* signer revocation: require, prefer, off */
	char crl_file[512];	/* a local CRL (PEM or DER), "" if none */
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
 * Development set-up in dir: creates the PKI (pki_init) if missing, writes
 * gateway.conf and profiles/{portal-1,authority-a,authority-b}.conf if
 * missing, then loads dir/gateway.conf.  listen may be NULL (127.0.0.1:8443);
 * when given it overrides the file.
 */
int config_dev(const char *dir, const char *listen, struct config **out,
    char *err, size_t errlen);

const struct party *config_party(const struct config *c, const char *id);
const struct party *config_party_by_fpr(const struct config *c, const char *fpr);
/* 1 if the portal may submit to reader for service, else 0. */
int config_may_submit(const struct config *c, const struct party *portal,
    const struct party *reader, const char *service);

#endif
