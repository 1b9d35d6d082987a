/*
 * keys.c - private key holder.  See keys.h.
 *
 * A struct keys is immutable after loading, so one may be shared by threads:
 * each operation builds its own EVP_PKEY_CTX.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "err.h"
#include "keys.h"
#include "util.h"

struct keys {
	EVP_PKEY *pkey;
};

int
keys_from_pkey(EVP_PKEY *pkey, struct keys **out)
{
	struct keys *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return GW_ERR_NOMEM;
	k->pkey = pkey;
	*out = k;
	return 0;
}

/* Refuses to ask for a pass phrase: a daemon must never wait on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int
keys_load(const char *pem_path, struct keys **out)
{
	unsigned char *pem = NULL;
	size_t len = 0;
	EVP_PKEY *pkey;
	BIO *bio;
	int r;

	/* Read into our own buffer so that the PEM text can be wiped. */
	if ((r = util_read_file(pem_path, 1 << 20, &pem, &len)) != 0)
		return r;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		OPENSSL_clear_free(pem, len);
		return GW_ERR_NOMEM;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	OPENSSL_clear_free(pem, len);
	if (pkey == NULL)
		return GW_ERR_CRYPTO;
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA &&
	    EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
		EVP_PKEY_free(pkey);
		return GW_ERR_SIG_ALGORITHM;
	}
	if ((r = keys_from_pkey(pkey, out)) != 0)
		EVP_PKEY_free(pkey);
	return r;
}

void
keys_free(struct keys *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int
keys_type(const struct keys *k)
{
	return EVP_PKEY_get_base_id(k->pkey);
}

int
keys_bits(const struct keys *k)
{
	return EVP_PKEY_get_bits(k->pkey);
}

int
keys_match_cert(const struct keys *k, X509 *cert)
{
	EVP_PKEY *pub = cert ? X509_get0_pubkey(cert) : NULL;

	return pub != NULL && EVP_PKEY_eq(k->pkey, pub) == 1;
}

EVP_PKEY *
keys_public(const struct keys *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int n;

	/* A copy of the public half only: callers never hold the private key. */
	if ((n = i2d_PUBKEY(k->pkey, &der)) <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	return pub;
}

int
keys_sign(struct keys *k, enum keys_sigalg alg, const EVP_MD *md,
    const unsigned char *data, size_t len, unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *buf = NULL;
	size_t n = 0;
	int r = GW_ERR_CRYPTO, want;

	want = alg == KEYS_SIG_ECDSA ? EVP_PKEY_EC : EVP_PKEY_RSA;
	if (EVP_PKEY_get_base_id(k->pkey) != want)
		return GW_ERR_SIG_ALGORITHM;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return GW_ERR_NOMEM;
	if (EVP_DigestSignInit(mctx, &pctx, md, NULL, k->pkey) != 1)
		goto out;
	if (alg == KEYS_SIG_RSA_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
		goto out;
	if (EVP_DigestSign(mctx, NULL, &n, data, len) != 1)
		goto out;
	if ((buf = malloc(n)) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(mctx, buf, &n, data, len) != 1)
		goto out;
	*sig = buf;
	*siglen = n;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	EVP_MD_CTX_free(mctx);
	return r;
}

int
keys_decrypt(struct keys *k, const EVP_MD *oaep_md, const EVP_MD *mgf1_md,
    const unsigned char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	size_t n = 0;
	int r = GW_ERR_CRYPTO;

	if (EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA)
		return GW_ERR_CRYPTO;
	if ((ctx = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL)
		return GW_ERR_NOMEM;
	if (EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, oaep_md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf1_md) != 1)
		goto out;
	if (EVP_PKEY_decrypt(ctx, NULL, &n, in, inlen) != 1)
		goto out;
	if ((buf = malloc(n)) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_decrypt(ctx, buf, &n, in, inlen) != 1) {
		OPENSSL_cleanse(buf, n);
		goto out;
	}
	*out = buf;
	*outlen = n;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	EVP_PKEY_CTX_free(ctx);
	return r;
}
