/*
 * pki.c - development PKI: keys, certificates, PEM files.
 *
 * Everything here runs once at set-up or in tests; nothing is on the request
 * path.  Keys are written with mode 0600 and the in-memory copies are freed
 * (EVP_PKEY_free wipes them) as soon as they are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "pki.h"

int
pki_keytype_parse(const char *name, enum pki_keytype *out)
{
	static const struct { const char *name; enum pki_keytype type; } tab[] = {
		{ "rsa2048", PKI_KEY_RSA2048 }, { "rsa3072", PKI_KEY_RSA3072 },
		{ "rsa4096", PKI_KEY_RSA4096 }, { "ec-p256", PKI_KEY_EC_P256 },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(name, tab[i].name) == 0) {
			*out = tab[i].type;
			return 0;
		}
	return GW_ERR_INVALID;
}

int
pki_make_key(enum pki_keytype type, EVP_PKEY **out)
{
	EVP_PKEY *k = NULL;

	switch (type) {
	case PKI_KEY_RSA2048:
		k = EVP_RSA_gen(2048);
		break;
	case PKI_KEY_RSA3072:
		k = EVP_RSA_gen(3072);
		break;
	case PKI_KEY_RSA4096:
		k = EVP_RSA_gen(4096);
		break;
	case PKI_KEY_EC_P256:
		k = EVP_EC_gen("P-256");
		break;
	default:
		return GW_ERR_INVALID;
	}
	if (k == NULL)
		return GW_ERR_CRYPTO;
	*out = k;
	return 0;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return GW_ERR_CRYPTO;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : GW_ERR_CRYPTO;
}

static int
add_extensions(const struct pki_cert_spec *spec, EVP_PKEY *key, X509 *cert,
    X509 *issuer)
{
	char ku[128], san[300], eku[64];
	int rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;

	if (spec->is_ca) {
		if (add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE") ||
		    add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign"))
			return GW_ERR_CRYPTO;
	} else {
		snprintf(ku, sizeof(ku), "critical%s%s",
		    spec->no_signature ? "" : ",digitalSignature,nonRepudiation",
		    rsa && !spec->no_encipherment ? ",keyEncipherment" : "");
		if (strcmp(ku, "critical") == 0)
			snprintf(ku, sizeof(ku), "critical,dataEncipherment");
		if (add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    add_ext(cert, issuer, NID_key_usage, ku))
			return GW_ERR_CRYPTO;
	}
	if (add_ext(cert, issuer, NID_subject_key_identifier, "hash"))
		return GW_ERR_CRYPTO;
	if (issuer != cert &&
	    add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always"))
		return GW_ERR_CRYPTO;
	if (spec->server || spec->client) {
		snprintf(eku, sizeof(eku), "%s%s%s", spec->server ? "serverAuth" : "",
		    spec->server && spec->client ? "," : "",
		    spec->client ? "clientAuth" : "");
		if (add_ext(cert, issuer, NID_ext_key_usage, eku))
			return GW_ERR_CRYPTO;
	}
	if (spec->dns_san || spec->ip_san) {
		snprintf(san, sizeof(san), "%s%s%s%s%s",
		    spec->dns_san ? "DNS:" : "", spec->dns_san ? spec->dns_san : "",
		    spec->dns_san && spec->ip_san ? "," : "",
		    spec->ip_san ? "IP:" : "", spec->ip_san ? spec->ip_san : "");
		if (add_ext(cert, issuer, NID_subject_alt_name, san))
			return GW_ERR_CRYPTO;
	}
	return 0;
}

int
pki_make_cert(const struct pki_cert_spec *spec, EVP_PKEY *subject_key,
    X509 *issuer, EVP_PKEY *issuer_key, X509 **out)
{
	X509 *cert = NULL;
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int r = GW_ERR_CRYPTO;

	if (issuer == NULL)
		issuer_key = subject_key;
	if ((cert = X509_new()) == NULL)
		return GW_ERR_NOMEM;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;	/* positive */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		goto out;
	if (X509_set_version(cert, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), spec->not_before_offset) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert),
	    spec->not_before_offset + spec->days * 86400L) == NULL ||
	    X509_set_pubkey(cert, subject_key) != 1)
		goto out;
	name = X509_get_subject_name(cert);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"gatewayd development", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)spec->cn, -1, -1, 0) != 1)
		goto out;
	if (X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name) != 1)
		goto out;
	if ((r = add_extensions(spec, subject_key, cert, issuer ? issuer : cert)) != 0)
		goto out;
	r = GW_ERR_CRYPTO;
	if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0)
		goto out;
	*out = cert;
	cert = NULL;
	r = 0;
 out:
	BN_free(bn);
	X509_free(cert);
	return r;
}

int
pki_write_key(const char *path, EVP_PKEY *key)
{
	FILE *f;
	int fd, ok;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return GW_ERR_IO;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return GW_ERR_IO;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : GW_ERR_IO;
}

int
pki_write_cert(const char *path, X509 *cert)
{
	FILE *f;
	int ok;

	if ((f = fopen(path, "w")) == NULL)
		return GW_ERR_IO;
	ok = PEM_write_X509(f, cert);
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : GW_ERR_IO;
}

int
pki_read_cert(const char *path, X509 **out)
{
	FILE *f;
	X509 *c;

	if ((f = fopen(path, "r")) == NULL)
		return GW_ERR_IO;
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (c == NULL)
		return GW_ERR_CRYPTO;
	*out = c;
	return 0;
}

int
pki_read_certs(const char *path, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk;
	FILE *f;
	X509 *c;
	unsigned long e;
	int damaged;

	if ((f = fopen(path, "r")) == NULL)
		return GW_ERR_IO;
	if ((sk = sk_X509_new_null()) == NULL) {
		fclose(f);
		return GW_ERR_NOMEM;
	}
	while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, c)) {
			X509_free(c);
			break;
		}
	/* The loop ends at the end of the file (no further start line) or
	 * at a damaged block: only the first is success. */
	e = ERR_peek_last_error();
	damaged = !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) && c == NULL;
	ERR_clear_error();
	fclose(f);
	if (damaged) {
		sk_X509_pop_free(sk, X509_free);
		return GW_ERR_CRYPTO;
	}
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return GW_ERR_CRYPTO;
	}
	*out = sk;
	return 0;
}

int
pki_cert_fingerprint(X509 *cert, char out[65])
{
	unsigned char md[32];
	unsigned int n = sizeof(md);
	static const char digits[] = "0123456789abcdef";
	unsigned int i;

	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return GW_ERR_CRYPTO;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 0xf];
	}
	out[64] = '\0';
	return 0;
}

static int
write_pair(const char *dir, const char *name, EVP_PKEY *key, X509 *cert)
{
	char path[PATH_MAX];
	int r;

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if ((r = pki_write_key(path, key)) != 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	return pki_write_cert(path, cert);
}

static int
issue(const char *dir, const char *name, enum pki_keytype type,
    const struct pki_cert_spec *spec, X509 *ca, EVP_PKEY *cakey)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int r;

	if ((r = pki_make_key(type, &key)) != 0)
		return r;
	if ((r = pki_make_cert(spec, key, ca, cakey, &cert)) == 0)
		r = write_pair(dir, name, key, cert);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

int
pki_init(const char *dir, enum pki_keytype gateway_type,
    enum pki_keytype party_type)
{
	static const char *parties[] = { "portal-1", "authority-a", "authority-b" };
	struct pki_cert_spec spec;
	char path[PATH_MAX];
	EVP_PKEY *cakey = NULL;
	X509 *ca = NULL;
	size_t i;
	int r;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return GW_ERR_IO;
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if (access(path, F_OK) == 0)
		return 0;
	/* The CA is RSA 3072 whatever the other keys are, so that RSA-only
	 * peers can check it. */
	if ((r = pki_make_key(PKI_KEY_RSA3072, &cakey)) != 0)
		goto out;
	memset(&spec, 0, sizeof(spec));
	spec.cn = "gatewayd development CA";
	spec.is_ca = 1;
	spec.not_before_offset = -3600;
	spec.days = 3650;
	if ((r = pki_make_cert(&spec, cakey, NULL, NULL, &ca)) != 0)
		goto out;

	memset(&spec, 0, sizeof(spec));
	spec.cn = "localhost";
	spec.dns_san = "localhost";
	spec.ip_san = "127.0.0.1";
	spec.server = spec.client = 1;
	spec.not_before_offset = -3600;
	spec.days = 825;
	if ((r = issue(dir, "gateway", gateway_type, &spec, ca, cakey)) != 0)
		goto out;
	for (i = 0; i < sizeof(parties) / sizeof(parties[0]); i++) {
		memset(&spec, 0, sizeof(spec));
		spec.cn = parties[i];
		spec.client = 1;
		/* Authorities also serve (push delivery to `gwctl authority
		 * serve`), so every party may be a TLS server on loopback. */
		spec.server = 1;
		spec.dns_san = "localhost";
		spec.ip_san = "127.0.0.1";
		spec.not_before_offset = -3600;
		spec.days = 825;
		if ((r = issue(dir, parties[i], party_type, &spec, ca, cakey)) != 0)
			goto out;
	}
	/* ca.pem last: its presence means the PKI is complete. */
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if ((r = pki_write_key(path, cakey)) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	r = pki_write_cert(path, ca);
 out:
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return r;
}
