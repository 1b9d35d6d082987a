/*
 * fuzz_attach_doc.c - libFuzzer harness for attach_decrypt_fd()
 * (crypto/attach.c): the reader side's parser of attachment documents,
 * which authorities (gwctl decrypt, gwctl authority serve) run on bytes
 * from the network.  The input is the document; the key is a fixed
 * RSA-3072 key made at start-up, so what is exercised is the tag scanner,
 * the header's safe parse, the EncryptedKey search and the base64/tail
 * handling, up to the key unwrap.  Beyond the sanitizers it checks that a
 * document is never accepted (no EncryptedKey in it can be for this key).
 * `make fuzz` builds it (clang).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <openssl/evp.h>

#include "attach.h"
#include "keys.h"
#include "pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keys *key;

static struct keys *
fixed_key(void)
{
	EVP_PKEY *pk = NULL;

	if (key == NULL) {
		xmlInitParser();
		if (pki_make_key(PKI_KEY_RSA3072, &pk) != 0 ||
		    keys_from_pkey(pk, &key) != 0)
			abort();
	}
	return key;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attach_result res;
	int in, out;

	in = memfd_create("doc", 0);
	out = memfd_create("plain", 0);
	if (in < 0 || out < 0 || (size > 0 && write(in, data, size) != (ssize_t)size))
		abort();
	(void)lseek(in, 0, SEEK_SET);
	if (attach_decrypt_fd(in, out, fixed_key(), NULL, 1u << 20, &res) == 0)
		abort();	/* nothing here was encrypted for this key */
	close(in);
	close(out);
	return 0;
}
