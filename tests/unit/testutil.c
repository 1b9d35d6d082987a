/*
 * testutil.c - fixtures shared by the unit tests.  See testutil.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

void
test_party_make(struct test_party *p, enum pki_keytype type, const char *cn)
{
	struct pki_cert_spec spec = { .cn = cn, .days = 2, .client = 1,
	    .not_before_offset = -60 };

	assert_int_equal(pki_make_key(type, &p->pkey), 0);
	assert_int_equal(pki_make_cert(&spec, p->pkey, NULL, NULL, &p->cert), 0);
	assert_int_equal(EVP_PKEY_up_ref(p->pkey), 1);
	assert_int_equal(keys_from_pkey(p->pkey, &p->keys), 0);
}

void
test_party_free(struct test_party *p)
{
	keys_free(p->keys);
	EVP_PKEY_free(p->pkey);
	X509_free(p->cert);
	memset(p, 0, sizeof(*p));
}
