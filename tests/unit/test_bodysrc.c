/*
 * test_bodysrc.c - request bodies read piece by piece (gateway/bodysrc.c):
 * the bytes come out in order and exactly, whatever the read size; the
 * length is known up front; a file that grew or shrank since it was
 * added is an error that names it, and stays one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bodysrc.h"
#include "err.h"

static char path[] = "/tmp/test_bodysrc.XXXXXX";

static void
write_file(const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Reads all of b in pieces of step bytes into out; the total or < 0. */
static long
read_all(struct bodysrc *b, size_t step, char *out, size_t max)
{
	size_t done = 0;
	long got;

	while ((got = bodysrc_read(b, out + done, step < max - done ? step :
	    max - done)) > 0)
		done += (size_t)got;
	return got < 0 ? got : (long)done;
}

static void
test_order_and_length(void **state)
{
	static const char want[] = "--b\r\nhead\r\n<xml/>FILEDATA\r\n--b--\r\n";
	char out[128];
	size_t step;

	(void)state;
	write_file("FILEDATA", 8);
	for (step = 1; step <= 40; step++) {
		struct bodysrc *b = NULL;
		const char xml[] = "<xml/>";

		assert_int_equal(bodysrc_new(&b), 0);
		assert_int_equal(bodysrc_add_mem(b, "--b\r\nhead\r\n", 11, 1), 0);
		assert_int_equal(bodysrc_add_mem(b, xml, 6, 0), 0);
		assert_int_equal(bodysrc_add_file(b, path, 8), 0);
		assert_int_equal(bodysrc_add_mem(b, "\r\n--b--\r\n", 9, 1), 0);
		assert_int_equal(bodysrc_total(b), sizeof(want) - 1);
		memset(out, 0, sizeof(out));
		assert_int_equal(read_all(b, step, out, sizeof(out)), sizeof(want) - 1);
		assert_memory_equal(out, want, sizeof(want) - 1);
		assert_string_equal(bodysrc_error(b), "");
		bodysrc_free(b);
	}
}

static void
test_file_changed(void **state)
{
	struct bodysrc *b = NULL;
	char out[64];

	(void)state;
	write_file("0123456789", 10);	/* grew: 8 announced */
	assert_int_equal(bodysrc_new(&b), 0);
	assert_int_equal(bodysrc_add_file(b, path, 8), 0);
	assert_true(read_all(b, 64, out, sizeof(out)) < 0);
	assert_non_null(strstr(bodysrc_error(b), "grew"));
	assert_true(bodysrc_read(b, out, sizeof(out)) < 0);	/* stays failed */
	bodysrc_free(b);

	write_file("0123", 4);		/* shrank */
	assert_int_equal(bodysrc_new(&b), 0);
	assert_int_equal(bodysrc_add_file(b, path, 8), 0);
	assert_true(read_all(b, 64, out, sizeof(out)) < 0);
	assert_non_null(strstr(bodysrc_error(b), "shrank"));
	bodysrc_free(b);

	unlink(path);			/* gone */
	assert_int_equal(bodysrc_new(&b), 0);
	assert_int_equal(bodysrc_add_file(b, path, 8), 0);
	assert_int_equal(bodysrc_read(b, out, sizeof(out)), GW_ERR_IO);
	assert_non_null(strstr(bodysrc_error(b), path));
	bodysrc_free(b);
}

static void
test_piece_limit(void **state)
{
	struct bodysrc *b = NULL;
	int i, r = 0;

	(void)state;
	assert_int_equal(bodysrc_new(&b), 0);
	for (i = 0; i < 1000 && r == 0; i++)
		r = bodysrc_add_mem(b, "x", 1, 1);
	assert_int_equal(r, GW_ERR_TOO_LARGE);
	assert_true(i > 100);
	bodysrc_free(b);
	bodysrc_free(NULL);
}

static int
setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_length),
		cmocka_unit_test(test_file_changed),
		cmocka_unit_test(test_piece_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
