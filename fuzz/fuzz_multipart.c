/*
 * fuzz_multipart.c - libFuzzer harness for gateway/multipart.c, the parser
 * that reads untrusted request bodies on the io thread.
 *
 * Input: byte 0 picks the piece size the body is fed in (1..256, so that
 * boundaries split across calls are exercised), the rest is the body of a
 * multipart/related request with boundary "b1".  Checks, beyond the
 * sanitizers: the data handed to the callbacks never exceeds the input,
 * part_begin/part_end alternate, and the parser accepts nothing after an
 * error.  `make fuzz` builds it (clang); run build/fuzz/fuzz_multipart.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "multipart.h"

struct seen {
	size_t data;
	int open;
};

static int
on_begin(void *arg, const struct mp_part *p)
{
	struct seen *s = arg;

	(void)p;
	if (s->open)
		abort();
	s->open = 1;
	return 0;
}

static int
on_data(void *arg, const void *buf, size_t len)
{
	struct seen *s = arg;

	(void)buf;
	if (!s->open)
		abort();
	s->data += len;
	return 0;
}

static int
on_end(void *arg)
{
	struct seen *s = arg;

	if (!s->open)
		abort();
	s->open = 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mp_callbacks cb = { on_begin, on_data, on_end };
	struct mp_parser *p = NULL;
	struct seen s = { 0, 0 };
	size_t step, off, n;
	int r = 0;

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	data++;
	size--;
	if (mp_new("b1", &cb, &s, &p) != 0)
		return 0;
	for (off = 0; off < size && r == 0; off += n) {
		n = size - off < step ? size - off : step;
		r = mp_feed(p, data + off, n);
	}
	if (r != 0 && mp_feed(p, "x", 1) == 0)
		abort();	/* nothing is accepted after an error */
	if (s.data > size)
		abort();
	mp_free(p);
	return 0;
}
