/*
 * keys.h - the only place private keys live.
 *
 * Every private-key operation of the gateway and of gwctl goes through this
 * interface, so that a later step can move the keys into their own process
 * without touching callers.  A struct keys holds one private key; the key
 * material is never copied out, logged or serialised.
 */
#ifndef GW_KEYS_H
#define GW_KEYS_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

struct keys;

/* Loads an unencrypted PEM private key (PKCS#8 or traditional). */
int keys_load(const char *pem_path, struct keys **out);
/* Takes ownership of pkey (tests, PKI generation). */
int keys_from_pkey(EVP_PKEY *pkey, struct keys **out);
void keys_free(struct keys *k);

/* EVP_PKEY_RSA or EVP_PKEY_EC. */
int keys_type(const struct keys *k);
/* Size of the key in bits. */
int keys_bits(const struct keys *k);
/* 1 if cert carries this key's public half (cheap: no re-encoding). */
int keys_match_cert(const struct keys *k, X509 *cert);
/* A copy of the public half only (caller frees with EVP_PKEY_free);
 * NULL if out of memory. */
EVP_PKEY *keys_public(const struct keys *k);

enum keys_sigalg {
	KEYS_SIG_RSA_PKCS1 = 1,	/* RSASSA-PKCS1-v1_5 */
	KEYS_SIG_RSA_PSS,	/* RSASSA-PSS, MGF1 with the same digest, salt = digest length */
	KEYS_SIG_ECDSA		/* signature as DER ECDSA-Sig-Value */
};

/*
 * Signs data (hashing it with md, e.g. EVP_sha256()).  *sig is malloc'd;
 * for ECDSA it is DER (callers that need r||s convert it).
 */
int keys_sign(struct keys *k, enum keys_sigalg alg, const EVP_MD *md,
    const unsigned char *data, size_t len, unsigned char **sig, size_t *siglen);

/*
 * RSA-OAEP decryption with oaep_md as the OAEP digest and mgf1_md for MGF1
 * (XML-Enc 1.1 rsa-oaep).  *out is malloc'd and must be wiped
 * (OPENSSL_clear_free) by the caller: it is key material.
 */
int keys_decrypt(struct keys *k, const EVP_MD *oaep_md, const EVP_MD *mgf1_md,
    const unsigned char *in, size_t inlen, unsigned char **out, size_t *outlen);

#endif
