/*
 * merkle.c - RFC 9162 Merkle trees; see merkle.h.
 *
 * Proof generation follows the recursive definitions of RFC 9162 2.1.3.1
 * and 2.1.4.1 literally (they are short and obviously right); verification
 * follows the iterative algorithms of 2.1.3.2 and 2.1.4.2, so the two sides
 * are independent formulations of the same structure.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "err.h"
#include "merkle.h"

static const char LEAF_MAGIC[] = "gatewayd-audit-v1";	/* + its NUL */

static void
sha256_parts(const void *a, size_t alen, const void *b, size_t blen,
    const void *c, size_t clen, merkle_hash out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = MERKLE_HASH_LEN;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, alen) != 1 ||
	    (blen && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    (clen && EVP_DigestUpdate(ctx, c, clen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		abort();	/* SHA-256 cannot fail short of a broken library */
	EVP_MD_CTX_free(ctx);
}

void
merkle_leaf_hash(const void *data, size_t len, merkle_hash out)
{
	static const unsigned char zero = 0x00;

	sha256_parts(&zero, 1, data, len, NULL, 0, out);
}

void
merkle_node_hash(const merkle_hash left, const merkle_hash right,
    merkle_hash out)
{
	static const unsigned char one = 0x01;

	sha256_parts(&one, 1, left, MERKLE_HASH_LEN, right, MERKLE_HASH_LEN, out);
}

static unsigned char *
put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

static unsigned char *
put_u32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 3; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

int
merkle_event_encode(int64_t seq, int64_t time_ms, const char *const f[6],
    unsigned char **out, size_t *len)
{
	size_t n = sizeof(LEAF_MAGIC) + 16, fl[6];
	unsigned char *buf, *p;
	int i;

	for (i = 0; i < 6; i++) {
		fl[i] = f[i] ? strlen(f[i]) : 0;
		if (fl[i] >= 0xffffffffu)
			return GW_ERR_TOO_LARGE;
		n += 4 + fl[i];
	}
	if ((buf = malloc(n)) == NULL)
		return GW_ERR_NOMEM;
	memcpy(buf, LEAF_MAGIC, sizeof(LEAF_MAGIC));
	p = put_u64(buf + sizeof(LEAF_MAGIC), (uint64_t)seq);
	p = put_u64(p, (uint64_t)time_ms);
	for (i = 0; i < 6; i++) {
		p = put_u32(p, (uint32_t)fl[i]);
		if (fl[i]) {
			memcpy(p, f[i], fl[i]);
			p += fl[i];
		}
	}
	*out = buf;
	*len = n;
	return 0;
}

int
merkle_event_hash(int64_t seq, int64_t time_ms, const char *const f[6],
    merkle_hash out)
{
	unsigned char *buf;
	size_t len;
	int r;

	if ((r = merkle_event_encode(seq, time_ms, f, &buf, &len)) != 0)
		return r;
	merkle_leaf_hash(buf, len, out);
	free(buf);
	return 0;
}

int
merkle_frontier_push(struct merkle_frontier *f, const merkle_hash leaf,
    merkle_node_fn fn, void *arg)
{
	merkle_hash cur;
	uint64_t idx = f->size;
	int level = 0, r;

	memcpy(cur, leaf, MERKLE_HASH_LEN);
	if (fn && (r = fn(arg, 0, idx, cur)) != 0)
		return r;
	/* Each trailing 1 bit of the old size is a perfect subtree that the
	 * new leaf completes into one twice as large. */
	while ((f->size >> level) & 1) {
		merkle_node_hash(f->h[--f->n], cur, cur);
		level++;
		idx >>= 1;
		if (fn && (r = fn(arg, level, idx, cur)) != 0)
			return r;
	}
	memcpy(f->h[f->n++], cur, MERKLE_HASH_LEN);
	f->size++;
	return 0;
}

void
merkle_frontier_root(const struct merkle_frontier *f, merkle_hash out)
{
	merkle_hash cur;
	int i;

	if (f->n == 0) {
		sha256_parts("", 0, NULL, 0, NULL, 0, out);
		return;
	}
	memcpy(cur, f->h[f->n - 1], MERKLE_HASH_LEN);
	for (i = f->n - 2; i >= 0; i--)
		merkle_node_hash(f->h[i], cur, cur);
	memcpy(out, cur, MERKLE_HASH_LEN);
}

/* The largest power of two smaller than n (n > 1). */
static uint64_t
split(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static int
is_perfect(uint64_t lo, uint64_t hi)
{
	uint64_t n = hi - lo;

	return n > 0 && (n & (n - 1)) == 0 && (lo & (n - 1)) == 0;
}

int
merkle_range_hash(uint64_t lo, uint64_t hi, merkle_range_fn get, void *arg,
    merkle_hash out)
{
	merkle_hash l, rr;
	uint64_t k;
	int r;

	if (hi <= lo)
		return GW_ERR_INVALID;
	if (is_perfect(lo, hi))
		return get(arg, lo, hi, out);
	k = split(hi - lo);
	if ((r = get(arg, lo, lo + k, l)) != 0 ||
	    (r = merkle_range_hash(lo + k, hi, get, arg, rr)) != 0)
		return r;
	merkle_node_hash(l, rr, out);
	return 0;
}

/* PATH(m, D[lo:hi]) appended to path. */
static int
path_rec(uint64_t m, uint64_t lo, uint64_t hi, merkle_range_fn get, void *arg,
    merkle_hash *path, size_t *np)
{
	uint64_t n = hi - lo, k;
	int r;

	if (n <= 1)
		return 0;
	if (*np >= MERKLE_MAX_DEPTH)
		return GW_ERR_TOO_LARGE;
	k = split(n);
	if (m < k) {
		if ((r = path_rec(m, lo, lo + k, get, arg, path, np)) != 0)
			return r;
		return merkle_range_hash(lo + k, hi, get, arg, path[(*np)++]);
	}
	if ((r = path_rec(m - k, lo + k, hi, get, arg, path, np)) != 0)
		return r;
	return merkle_range_hash(lo, lo + k, get, arg, path[(*np)++]);
}

int
merkle_inclusion_proof(uint64_t m, uint64_t n, merkle_range_fn get,
    void *arg, merkle_hash path[MERKLE_MAX_DEPTH], size_t *np)
{
	if (m >= n)
		return GW_ERR_INVALID;
	*np = 0;
	return path_rec(m, 0, n, get, arg, path, np);
}

/* SUBPROOF(m, D[lo:hi], b) of RFC 9162 2.1.4.1. */
static int
subproof(uint64_t m, uint64_t lo, uint64_t hi, int b, merkle_range_fn get,
    void *arg, merkle_hash *proof, size_t *np)
{
	uint64_t n = hi - lo, k;
	int r;

	if (*np >= MERKLE_MAX_DEPTH)
		return GW_ERR_TOO_LARGE;
	if (m == n) {
		if (b)
			return 0;
		return merkle_range_hash(lo, hi, get, arg, proof[(*np)++]);
	}
	k = split(n);
	if (m <= k) {
		if ((r = subproof(m, lo, lo + k, b, get, arg, proof, np)) != 0)
			return r;
		return merkle_range_hash(lo + k, hi, get, arg, proof[(*np)++]);
	}
	if ((r = subproof(m - k, lo + k, hi, 0, get, arg, proof, np)) != 0)
		return r;
	return merkle_range_hash(lo, lo + k, get, arg, proof[(*np)++]);
}

int
merkle_consistency_proof(uint64_t m, uint64_t n, merkle_range_fn get,
    void *arg, merkle_hash proof[MERKLE_MAX_DEPTH], size_t *np)
{
	if (m == 0 || m > n)
		return GW_ERR_INVALID;
	*np = 0;
	if (m == n)
		return 0;
	return subproof(m, 0, n, 1, get, arg, proof, np);
}

int
merkle_verify_inclusion(uint64_t m, uint64_t n, const merkle_hash leaf,
    const merkle_hash *path, size_t np, const merkle_hash root)
{
	uint64_t fn = m, sn = n - 1;
	merkle_hash r;
	size_t i;

	if (m >= n)
		return GW_ERR_INVALID;
	memcpy(r, leaf, MERKLE_HASH_LEN);
	for (i = 0; i < np; i++) {
		if (sn == 0)
			return GW_ERR_INVALID;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(path[i], r, r);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			merkle_node_hash(r, path[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, MERKLE_HASH_LEN) != 0)
		return GW_ERR_INVALID;
	return 0;
}

int
merkle_verify_consistency(uint64_t m, uint64_t n, const merkle_hash root1,
    const merkle_hash root2, const merkle_hash *proof, size_t np)
{
	merkle_hash fr, sr;
	uint64_t fn, sn;
	size_t i = 0;

	if (m == 0 || m > n)
		return GW_ERR_INVALID;
	if (m == n)
		return np == 0 && memcmp(root1, root2, MERKLE_HASH_LEN) == 0 ?
		    0 : GW_ERR_INVALID;
	if (np == 0)
		return GW_ERR_INVALID;
	fn = m - 1;
	sn = n - 1;
	/* If m is a power of two the first proof element is root1 itself. */
	if ((m & (m - 1)) == 0) {
		memcpy(fr, root1, MERKLE_HASH_LEN);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH_LEN);
		i = 1;
	}
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(sr, fr, MERKLE_HASH_LEN);
	for (; i < np; i++) {
		if (sn == 0)
			return GW_ERR_INVALID;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], fr, fr);
			merkle_node_hash(proof[i], sr, sr);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			merkle_node_hash(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(fr, root1, MERKLE_HASH_LEN) != 0 ||
	    memcmp(sr, root2, MERKLE_HASH_LEN) != 0)
		return GW_ERR_INVALID;
	return 0;
}
