/*
 * test_err.c - the error table of gateway/err.h.
 *
 * The codes are public API (they appear in <Error><Code> bodies and audit
 * entries) and the statuses are what clients branch on, so: every defined
 * error has a code, a text and an HTTP error status; no two errors share a
 * code; a value outside the table is reported as INTERNAL, never as
 * garbage or a crash.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

static void
test_every_code_described(void **state)
{
	const char *code, *text;
	int e, status, n = 0;
	size_t i;

	(void)state;
	for (e = GW_ERR__LAST + 1; e < 0; e++, n++) {
		code = gw_errcode(e);
		text = gw_strerror(e);
		status = gw_httpstatus(e);
		assert_non_null(code);
		assert_non_null(text);
		if (code[0] == '\0' || text[0] == '\0')
			fail_msg("error %d has an empty code or text", e);
		/* stable machine codes: upper case, digits and '_' only */
		for (i = 0; code[i] != '\0'; i++)
			if (!((code[i] >= 'A' && code[i] <= 'Z') ||
			    (code[i] >= '0' && code[i] <= '9') || code[i] == '_'))
				fail_msg("error %d: code \"%s\" has '%c'", e,
				    code, code[i]);
		if (status < 400 || status > 599)
			fail_msg("error %d (%s) answers with status %d", e, code,
			    status);
		/* only GW_ERR_INTERNAL itself may be called INTERNAL: a hole
		 * in the table would fall back to it */
		if (e != GW_ERR_INTERNAL && strcmp(code, "INTERNAL") == 0)
			fail_msg("error %d has no entry of its own", e);
	}
	assert_int_equal(n, -GW_ERR__LAST - 1);
}

static void
test_codes_unique(void **state)
{
	int a, b;

	(void)state;
	for (a = GW_ERR__LAST + 1; a <= 0; a++)
		for (b = a + 1; b <= 0; b++)
			if (strcmp(gw_errcode(a), gw_errcode(b)) == 0)
				fail_msg("errors %d and %d share the code %s", a, b,
				    gw_errcode(a));
}

static void
test_ok(void **state)
{
	(void)state;
	assert_string_equal(gw_errcode(GW_OK), "OK");
	assert_int_equal(gw_httpstatus(GW_OK), 200);
	assert_string_not_equal(gw_strerror(GW_OK), "");
}

/* A few that clients and the e2e tests depend on by name. */
static void
test_known_mappings(void **state)
{
	(void)state;
	assert_string_equal(gw_errcode(GW_ERR_INTERNAL), "INTERNAL");
	assert_int_equal(gw_httpstatus(GW_ERR_INTERNAL), 500);
	assert_string_equal(gw_errcode(GW_ERR_TOO_LARGE), "TOO_LARGE");
	assert_int_equal(gw_httpstatus(GW_ERR_TOO_LARGE), 413);
	assert_string_equal(gw_errcode(GW_ERR_SIG_INVALID), "SIGNATURE_INVALID");
	assert_int_equal(gw_httpstatus(GW_ERR_SIG_INVALID), 422);
	assert_string_equal(gw_errcode(GW_ERR_NOT_FOUND), "NOT_FOUND");
	assert_int_equal(gw_httpstatus(GW_ERR_NOT_FOUND), 404);
	assert_int_equal(gw_httpstatus(GW_ERR_FORBIDDEN), 403);
	assert_int_equal(gw_httpstatus(GW_ERR_UNAUTHENTICATED), 403);
	assert_int_equal(gw_httpstatus(GW_ERR_DUPLICATE), 409);
	assert_int_equal(gw_httpstatus(GW_ERR_UNSUPPORTED_MEDIA), 415);
	assert_int_equal(gw_httpstatus(GW_ERR_METHOD), 405);
	assert_int_equal(gw_httpstatus(GW_ERR_OVERLOADED), 503);
	assert_int_equal(gw_httpstatus(GW_ERR_INVALID), 400);
}

static void
test_unknown_is_internal(void **state)
{
	static const int unknown[] = { GW_ERR__LAST, GW_ERR__LAST - 1, -1000,
	    INT_MIN, INT_MIN + 1, 1, 42, INT_MAX };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_string_equal(gw_errcode(unknown[i]), "INTERNAL");
		assert_int_equal(gw_httpstatus(unknown[i]), 500);
		assert_string_equal(gw_strerror(unknown[i]),
		    gw_strerror(GW_ERR_INTERNAL));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_described),
		cmocka_unit_test(test_codes_unique),
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_known_mappings),
		cmocka_unit_test(test_unknown_is_internal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
