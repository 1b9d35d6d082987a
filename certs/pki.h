/*
 * pki.h - key and certificate generation for the development PKI and tests.
 *
 * Not for production trust: a real deployment brings its certificates from
 * its own CA.  `gwctl pki init DIR` and `gatewayd --dev DIR` use pki_init().
 */
#ifndef GW_PKI_H
#define GW_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>

enum pki_keytype {
	PKI_KEY_RSA2048 = 1,
	PKI_KEY_RSA3072,
	PKI_KEY_RSA4096,
	PKI_KEY_EC_P256
};

/* "rsa2048", "rsa3072", "rsa4096", "ec-p256" -> type; GW_ERR_INVALID otherwise. */
int pki_keytype_parse(const char *name, enum pki_keytype *out);
int pki_make_key(enum pki_keytype type, EVP_PKEY **out);

struct pki_cert_spec {
	const char *cn;			/* subject CN; O=gatewayd development */
	int is_ca;			/* CA:TRUE, keyCertSign+cRLSign */
	long not_before_offset;		/* seconds relative to now (may be < 0) */
	long days;			/* validity from not_before */
	const char *dns_san;		/* optional DNS subjectAltName */
	const char *ip_san;		/* optional IP subjectAltName */
	int server;			/* extendedKeyUsage serverAuth */
	int client;			/* extendedKeyUsage clientAuth */
	/* end-entity keyUsage: digitalSignature, nonRepudiation and, for RSA
	 * keys, keyEncipherment, unless no_encipherment is set */
	int no_encipherment;
	int no_signature;		/* leave out digitalSignature/nonRepudiation */
};

/*
 * Issues a certificate for subject_key.  With issuer == NULL it is
 * self-signed with subject_key.  Signed with SHA-256.
 */
int pki_make_cert(const struct pki_cert_spec *spec, EVP_PKEY *subject_key,
    X509 *issuer, EVP_PKEY *issuer_key, X509 **out);

int pki_write_key(const char *path, EVP_PKEY *key);	/* mode 0600 */
int pki_write_cert(const char *path, X509 *cert);	/* mode 0644 */
int pki_read_cert(const char *path, X509 **out);
/* All certificates of a PEM file, in order. */
int pki_read_certs(const char *path, STACK_OF(X509) **out);

/* SHA-256 of the certificate's DER bytes, hex, as used in profiles. */
int pki_cert_fingerprint(X509 *cert, char out[65]);

/*
 * Creates the development PKI in dir (created if missing) unless ca.pem
 * already exists there: ca.pem/ca.key, gateway.pem/.key (server + client
 * TLS for localhost and 127.0.0.1, and the gateway's signing key; ec-p256
 * unless gateway_type says otherwise), and portal-1, authority-a,
 * authority-b (.pem/.key) of party_type.  Prints nothing.
 */
int pki_init(const char *dir, enum pki_keytype gateway_type,
    enum pki_keytype party_type);

#endif
