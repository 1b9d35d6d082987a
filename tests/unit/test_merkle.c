/*
 * test_merkle.c - unit tests of the RFC 9162 Merkle tree (gateway/merkle.h).
 *
 * The reference is a naive, recursive transcription of RFC 9162 2.1.1,
 * 2.1.3.1 and 2.1.4.1 written here with its own SHA-256 calls, plus the
 * known answers of RFC 6962's reference test vectors (the same tree
 * hashing as RFC 9162).  Every proof is checked to verify, to equal the
 * naive one, and to fail once any hash in it, the leaf or a root changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "err.h"
#include "merkle.h"

#define MAXN	72		/* leaves of the naive trees */
#define PROOFN	40		/* proofs for every (m, n) up to this */

static unsigned char leaves[MAXN][32];	/* leaf hashes of "leaf-<i>" */

static void
sha256_of(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen, const unsigned char *c, size_t clen, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 32;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, a, alen), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, b, blen), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, c, clen), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, out, &n), 1);
	EVP_MD_CTX_free(ctx);
}

static void
naive_leaf(const void *data, size_t len, unsigned char out[32])
{
	static const unsigned char zero = 0;

	sha256_of(&zero, 1, data, len, NULL, 0, out);
}

static void
naive_node(const unsigned char l[32], const unsigned char r[32],
    unsigned char out[32])
{
	static const unsigned char one = 1;

	sha256_of(&one, 1, l, 32, r, 32, out);
}

static size_t
naive_split(size_t n)
{
	size_t k = 1;

	while (2 * k < n)
		k *= 2;
	return k;
}

/* MTH(D[lo:hi]) of RFC 9162 2.1.1 over the leaf hashes in h. */
static void
naive_mth(unsigned char (*h)[32], size_t lo, size_t hi, unsigned char out[32])
{
	unsigned char l[32], r[32];
	size_t k;

	if (hi == lo) {
		sha256_of(NULL, 0, NULL, 0, NULL, 0, out);
		return;
	}
	if (hi - lo == 1) {
		memcpy(out, h[lo], 32);
		return;
	}
	k = naive_split(hi - lo);
	naive_mth(h, lo, lo + k, l);
	naive_mth(h, lo + k, hi, r);
	naive_node(l, r, out);
}

/* PATH(m, D[lo:hi]), RFC 9162 2.1.3.1. */
static void
naive_path(unsigned char (*h)[32], size_t m, size_t lo, size_t hi,
    unsigned char (*out)[32], size_t *n)
{
	size_t k;

	if (hi - lo <= 1)
		return;
	k = naive_split(hi - lo);
	if (m < k) {
		naive_path(h, m, lo, lo + k, out, n);
		naive_mth(h, lo + k, hi, out[(*n)++]);
	} else {
		naive_path(h, m - k, lo + k, hi, out, n);
		naive_mth(h, lo, lo + k, out[(*n)++]);
	}
}

/* SUBPROOF(m, D[lo:hi], b), RFC 9162 2.1.4.1. */
static void
naive_subproof(unsigned char (*h)[32], size_t m, size_t lo, size_t hi, int b,
    unsigned char (*out)[32], size_t *n)
{
	size_t k;

	if (m == hi - lo) {
		if (!b)
			naive_mth(h, lo, hi, out[(*n)++]);
		return;
	}
	k = naive_split(hi - lo);
	if (m <= k) {
		naive_subproof(h, m, lo, lo + k, b, out, n);
		naive_mth(h, lo + k, hi, out[(*n)++]);
	} else {
		naive_subproof(h, m - k, lo + k, hi, 0, out, n);
		naive_mth(h, lo, lo + k, out[(*n)++]);
	}
}

/* merkle_range_fn over h: asked only for perfect subtrees. */
static int
range_get(void *arg, uint64_t lo, uint64_t hi, merkle_hash out)
{
	uint64_t n = hi - lo;

	assert_true(n > 0 && (n & (n - 1)) == 0 && lo % n == 0);
	naive_mth(arg, (size_t)lo, (size_t)hi, out);
	return 0;
}

static void
flip(unsigned char h[32], int bit)
{
	h[bit / 8 % 32] ^= (unsigned char)(1u << (bit % 8));
}

static void
hex_to(const char *hex, unsigned char out[32])
{
	unsigned int v;
	int i;

	assert_int_equal(strlen(hex), 64);
	for (i = 0; i < 32; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

static int
group_setup(void **state)
{
	char name[16];
	int i, n;

	(void)state;
	for (i = 0; i < MAXN; i++) {
		n = snprintf(name, sizeof(name), "leaf-%d", i);
		naive_leaf(name, (size_t)n, leaves[i]);
	}
	return 0;
}

static void
test_empty_tree(void **state)
{
	struct merkle_frontier f;
	unsigned char want[32], got[32];

	(void)state;
	memset(&f, 0, sizeof(f));
	hex_to("e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855", want);
	merkle_frontier_root(&f, got);
	assert_memory_equal(got, want, 32);
}

/* RFC 6962's reference vectors (certificate-transparency test data). */
static const unsigned char *const kat_data[8] = {
	(const unsigned char *)"", (const unsigned char *)"\x00",
	(const unsigned char *)"\x10", (const unsigned char *)"\x20\x21",
	(const unsigned char *)"\x30\x31",
	(const unsigned char *)"\x40\x41\x42\x43",
	(const unsigned char *)"\x50\x51\x52\x53\x54\x55\x56\x57",
	(const unsigned char *)"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a"
	    "\x6b\x6c\x6d\x6e\x6f",
};
static const size_t kat_len[8] = { 0, 1, 1, 2, 2, 4, 8, 16 };
static const char *const kat_roots[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* Their inclusion and consistency proofs. */
static const char *const incl_0_8[] = {
	"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" };
static const char *const incl_5_8[] = {
	"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" };
static const char *const incl_2_3[] = {
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" };
static const char *const cons_6_8[] = {
	"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" };
static const char *const cons_2_5[] = {
	"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" };

static void
kat_proof(int inclusion, uint64_t m, uint64_t n, unsigned char (*h)[32],
    const char *const *want, size_t nwant)
{
	merkle_hash got[MERKLE_MAX_DEPTH], w;
	size_t np = 99, i;

	if (inclusion)
		assert_int_equal(merkle_inclusion_proof(m, n, range_get, h,
		    got, &np), 0);
	else
		assert_int_equal(merkle_consistency_proof(m, n, range_get, h,
		    got, &np), 0);
	assert_int_equal(np, nwant);
	for (i = 0; i < nwant; i++) {
		hex_to(want[i], w);
		assert_memory_equal(got[i], w, 32);
	}
}

static void
test_known_answers(void **state)
{
	unsigned char h[8][32], want[32], got[32];
	struct merkle_frontier f;
	int i;

	(void)state;
	memset(&f, 0, sizeof(f));
	for (i = 0; i < 8; i++) {
		merkle_leaf_hash(kat_data[i], kat_len[i], h[i]);
		assert_int_equal(merkle_frontier_push(&f, h[i], NULL, NULL), 0);
		merkle_frontier_root(&f, got);
		hex_to(kat_roots[i], want);
		assert_memory_equal(got, want, 32);
	}
	kat_proof(1, 0, 8, h, incl_0_8, 3);
	kat_proof(1, 5, 8, h, incl_5_8, 3);
	kat_proof(1, 2, 3, h, incl_2_3, 1);
	kat_proof(0, 1, 8, h, incl_0_8, 3);	/* as leaf 0's path */
	kat_proof(0, 6, 8, h, cons_6_8, 3);
	kat_proof(0, 2, 5, h, cons_2_5, 2);
}

/* Every node the frontier reports is the naive hash of its subtree. */
static int
node_check(void *arg, int level, uint64_t index, const merkle_hash h)
{
	unsigned char want[32];
	size_t lo = (size_t)(index << level), hi = lo + ((size_t)1 << level);

	assert_true(hi <= MAXN);
	naive_mth(leaves, lo, hi, want);
	assert_memory_equal(h, want, 32);
	(*(int *)arg)++;
	return 0;
}

static void
test_frontier_matches_naive(void **state)
{
	struct merkle_frontier f;
	unsigned char want[32], got[32];
	int n, nodes = 0;

	(void)state;
	memset(&f, 0, sizeof(f));
	for (n = 0; n <= 70; n++) {
		merkle_frontier_root(&f, got);
		naive_mth(leaves, 0, (size_t)n, want);
		assert_memory_equal(got, want, 32);
		assert_int_equal(f.size, (uint64_t)n);
		if (n < 70)
			assert_int_equal(merkle_frontier_push(&f, leaves[n],
			    node_check, &nodes), 0);
	}
	assert_int_equal(nodes, 2 * 70 - 3);	/* 2n - popcount(n), n = 70 */
}

static void
test_range_hash(void **state)
{
	unsigned char want[32], got[32];
	uint64_t lo, hi;

	(void)state;
	/* Ranges as the proofs ask for them: lo aligned to the size's split. */
	for (lo = 0; lo < 40; lo++)
		for (hi = lo + 1; hi <= 40 && hi - lo <= (lo ? (lo & -lo) : 64);
		    hi++) {
			assert_int_equal(merkle_range_hash(lo, hi, range_get,
			    leaves, got), 0);
			naive_mth(leaves, (size_t)lo, (size_t)hi, want);
			assert_memory_equal(got, want, 32);
		}
	assert_int_equal(merkle_range_hash(3, 3, range_get, leaves, got),
	    GW_ERR_INVALID);
}

/* merkle_verify_inclusion() with a modifiable path. */
static int
vincl(uint64_t m, uint64_t n, const unsigned char *leaf, merkle_hash *path,
    size_t np, const unsigned char *root)
{
	return merkle_verify_inclusion(m, n, leaf, (const merkle_hash *)path,
	    np, root);
}

static void
inclusion_case(uint64_t m, uint64_t n)
{
	merkle_hash path[MERKLE_MAX_DEPTH], naive[MERKLE_MAX_DEPTH], root, leaf;
	size_t np = 0, nn = 0, i;
	int bit;

	naive_mth(leaves, 0, (size_t)n, root);
	assert_int_equal(merkle_inclusion_proof(m, n, range_get, leaves, path,
	    &np), 0);
	naive_path(leaves, (size_t)m, 0, (size_t)n, naive, &nn);
	assert_int_equal(np, nn);
	assert_memory_equal(path, naive, np * 32);
	assert_int_equal(vincl(m, n, leaves[m], path, np, root), 0);
	for (i = 0; i < np; i++)
		for (bit = 0; bit < 256; bit += 37) {
			flip(path[i], bit);
			assert_int_equal(vincl(m, n, leaves[m], path, np, root),
			    GW_ERR_INVALID);
			flip(path[i], bit);
		}
	memcpy(leaf, leaves[m], 32);
	flip(leaf, 0);
	assert_int_equal(vincl(m, n, leaf, path, np, root), GW_ERR_INVALID);
	flip(root, 255);
	assert_int_equal(vincl(m, n, leaves[m], path, np, root),
	    GW_ERR_INVALID);
	flip(root, 255);
	if (np > 0)
		assert_int_equal(vincl(m, n, leaves[m], path, np - 1, root),
		    GW_ERR_INVALID);
	memcpy(path[np], root, 32);
	assert_int_equal(vincl(m, n, leaves[m], path, np + 1, root),
	    GW_ERR_INVALID);
	if (n > 1)	/* the leaf next door with this path */
		assert_int_equal(vincl(m, n, leaves[(m + 1) % n], path, np,
		    root), GW_ERR_INVALID);
}

static void
test_inclusion_all(void **state)
{
	merkle_hash path[MERKLE_MAX_DEPTH], root;
	uint64_t m, n;
	size_t np = 0;

	(void)state;
	for (n = 1; n <= PROOFN; n++)
		for (m = 0; m < n; m++)
			inclusion_case(m, n);
	memset(root, 0, sizeof(root));
	assert_int_equal(merkle_inclusion_proof(5, 5, range_get, leaves, path,
	    &np), GW_ERR_INVALID);
	assert_int_equal(vincl(5, 5, leaves[0], path, 0, root),
	    GW_ERR_INVALID);
}

/* merkle_verify_consistency() with a modifiable proof. */
static int
vcons(uint64_t m, uint64_t n, const unsigned char *r1,
    const unsigned char *r2, merkle_hash *proof, size_t np)
{
	return merkle_verify_consistency(m, n, r1, r2,
	    (const merkle_hash *)proof, np);
}

static void
consistency_case(uint64_t m, uint64_t n)
{
	merkle_hash proof[MERKLE_MAX_DEPTH], naive[MERKLE_MAX_DEPTH], r1, r2;
	size_t np = 0, nn = 0, i;
	int bit;

	naive_mth(leaves, 0, (size_t)m, r1);
	naive_mth(leaves, 0, (size_t)n, r2);
	assert_int_equal(merkle_consistency_proof(m, n, range_get, leaves,
	    proof, &np), 0);
	if (m < n)
		naive_subproof(leaves, (size_t)m, 0, (size_t)n, 1, naive, &nn);
	assert_int_equal(np, nn);
	assert_memory_equal(proof, naive, np * 32);
	assert_int_equal(vcons(m, n, r1, r2, proof, np), 0);
	for (i = 0; i < np; i++)
		for (bit = 0; bit < 256; bit += 41) {
			flip(proof[i], bit);
			assert_int_equal(vcons(m, n, r1, r2, proof, np),
			    GW_ERR_INVALID);
			flip(proof[i], bit);
		}
	flip(r1, 7);
	assert_int_equal(vcons(m, n, r1, r2, proof, np), GW_ERR_INVALID);
	flip(r1, 7);
	flip(r2, 9);
	assert_int_equal(vcons(m, n, r1, r2, proof, np), GW_ERR_INVALID);
	flip(r2, 9);
	if (np > 0)
		assert_int_equal(vcons(m, n, r1, r2, proof, np - 1),
		    GW_ERR_INVALID);
}

static void
test_consistency_all(void **state)
{
	merkle_hash proof[MERKLE_MAX_DEPTH], r;
	uint64_t m, n;
	size_t np = 0;

	(void)state;
	for (n = 1; n <= PROOFN; n++)
		for (m = 1; m <= n; m++)
			consistency_case(m, n);
	memset(r, 0, sizeof(r));
	assert_int_equal(merkle_consistency_proof(0, 4, range_get, leaves,
	    proof, &np), GW_ERR_INVALID);
	assert_int_equal(merkle_consistency_proof(5, 4, range_get, leaves,
	    proof, &np), GW_ERR_INVALID);
	assert_int_equal(vcons(0, 4, r, r, proof, 0), GW_ERR_INVALID);
	/* Equal sizes: no proof, equal roots. */
	assert_int_equal(vcons(4, 4, r, r, proof, 0), 0);
	assert_int_equal(vcons(4, 4, r, r, proof, 1), GW_ERR_INVALID);
}

/* The leaf encoding of docs/audit.md, byte for byte. */
static void
test_leaf_encoding(void **state)
{
	static const unsigned char want[] =
	    "gatewayd-audit-v1\0"
	    "\x01\x02\x03\x04\x05\x06\x07\x08"
	    "\x00\x00\x01\x9a\x2b\x3c\x4d\x5e"
	    "\x00\x00\x00\x13" "submission.accepted"
	    "\x00\x00\x00\x08" "portal-1"
	    "\x00\x00\x00\x04" "gw-1"
	    "\x00\x00\x00\x00"
	    "\x00\x00\x00\x02" "OK"
	    "\x00\x00\x00\x05" "d\xc3\xa9tl";
	const char *f[6] = { "submission.accepted", "portal-1", "gw-1", NULL,
	    "OK", "d\xc3\xa9tl" };
	const char *g[6] = { "ab", "", "", "", "", "" };
	const char *g2[6] = { "a", "b", "", "", "", "" };
	unsigned char *enc = NULL, *enc2 = NULL, h[32], mine[32];
	size_t len = 0, len2 = 0;

	(void)state;
	assert_int_equal(merkle_event_encode(0x0102030405060708LL,
	    0x0000019a2b3c4d5eLL, f, &enc, &len), 0);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(enc, want, len);
	assert_int_equal(merkle_event_hash(0x0102030405060708LL,
	    0x0000019a2b3c4d5eLL, f, h), 0);
	naive_leaf(want, sizeof(want) - 1, mine);
	assert_memory_equal(h, mine, 32);
	free(enc);
	/* NULL and "" encode alike; the length prefixes keep fields apart. */
	f[3] = "";
	assert_int_equal(merkle_event_encode(0x0102030405060708LL,
	    0x0000019a2b3c4d5eLL, f, &enc, &len), 0);
	assert_memory_equal(enc, want, len);
	free(enc);
	assert_int_equal(merkle_event_encode(1, 2, g, &enc, &len), 0);
	assert_int_equal(merkle_event_encode(1, 2, g2, &enc2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_not_equal(enc, enc2, len);
	free(enc);
	free(enc2);
}

/* The example of docs/audit.md. */
static void
test_leaf_doc_example(void **state)
{
	const char *f[6] = { "gateway.start", "gateway", NULL, NULL, "OK",
	    "clean" };
	unsigned char *enc = NULL, h[32], want[32];
	size_t len = 0;

	(void)state;
	assert_int_equal(merkle_event_encode(1, 1795929229074LL, f, &enc,
	    &len), 0);
	assert_int_equal(len, 85);
	assert_memory_equal(enc + 0x1a, "\x00\x00\x01\xa2\x25\xb9\x47\x12",
	    8);
	free(enc);
	assert_int_equal(merkle_event_hash(1, 1795929229074LL, f, h), 0);
	hex_to("299f2f22b30e4016ad36436b33f6a91f"
	    "03d57faa0826a22c97297e0dd7df05d3", want);
	assert_memory_equal(h, want, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_tree),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_frontier_matches_naive),
		cmocka_unit_test(test_range_hash),
		cmocka_unit_test(test_inclusion_all),
		cmocka_unit_test(test_consistency_all),
		cmocka_unit_test(test_leaf_encoding),
		cmocka_unit_test(test_leaf_doc_example),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
