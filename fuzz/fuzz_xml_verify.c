/*
 * fuzz_xml_verify.c - libFuzzer harness for what every submission meets
 * first: the safe parser (crypto/xmlparse.c: no DTD, no entities, limits)
 * and, for what parses, the XML-DSig verifier with its wrapping checks
 * (crypto/xmldsig.c, dsig_check.c) against an empty trust store.  Beyond
 * the sanitizers it checks that nothing verifies: no input can chain to a
 * store without anchors.  `make fuzz` builds it (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <openssl/x509_vfy.h>

#include "xmldsig.h"
#include "xmlparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509_STORE *empty;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsig_info info;
	xmlDocPtr doc = NULL;

	if (empty == NULL) {
		if (xmldsig_global_init() != 0 || (empty = X509_STORE_new()) == NULL)
			abort();
	}
	if (xmlparse_safe((const char *)data, size, &xmlparse_default_limits,
	    &doc) != 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (xmldsig_verify(doc, empty, 0, &info) == 0)
		abort();	/* nothing chains to an empty store */
	X509_free(info.signer);
	xmlFreeDoc(doc);
	return 0;
}
