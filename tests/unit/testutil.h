/*
 * testutil.h - fixtures shared by the unit tests (linked into every test
 * binary by the Makefile).
 */
#ifndef GW_TESTUTIL_H
#define GW_TESTUTIL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "keys.h"
#include "pki.h"

/* A party: its key pair as EVP_PKEY (to write PEM), cert and struct keys. */
struct test_party {
	EVP_PKEY *pkey;
	X509 *cert;
	struct keys *keys;
};

/* A new key of type and a self-signed client certificate for cn, valid
 * from a minute ago for two days (cmocka asserts on failure). */
void test_party_make(struct test_party *p, enum pki_keytype type,
    const char *cn);
void test_party_free(struct test_party *p);

#endif
