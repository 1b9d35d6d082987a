/*
 * merkle.h - the Merkle tree of RFC 9162 (Certificate Transparency 2.0),
 * section 2.1, over the audit events: leaf and node hashes, the frontier
 * used to append, inclusion and consistency proofs, and their verification.
 *
 * Pure functions over SHA-256, no I/O: the daemon (sealing, proofs), gwctl
 * (verifying a whole log) and the tests use the same code; docs/audit.md
 * describes the encoding so that anyone can check a proof independently.
 */
#ifndef GW_MERKLE_H
#define GW_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN		32
#define MERKLE_MAX_DEPTH	64	/* a proof never has more hashes */

typedef unsigned char merkle_hash[MERKLE_HASH_LEN];

/* SHA-256(0x00 || data) */
void merkle_leaf_hash(const void *data, size_t len, merkle_hash out);
/* SHA-256(0x01 || left || right) */
void merkle_node_hash(const merkle_hash left, const merkle_hash right,
    merkle_hash out);

/*
 * The canonical leaf encoding of an audit event (docs/audit.md):
 *   "gatewayd-audit-v1" 0x00, seq (u64 big-endian), time_ms (u64 BE),
 *   then event, actor, msg_id, reader, code, detail, each as u32 BE length
 *   and bytes (an absent field is empty: the store reads NULL as "").
 * *out is malloc'd.
 */
int merkle_event_encode(int64_t seq, int64_t time_ms, const char *const f[6],
    unsigned char **out, size_t *len);
/* merkle_event_encode() followed by merkle_leaf_hash(). */
int merkle_event_hash(int64_t seq, int64_t time_ms, const char *const f[6],
    merkle_hash out);

/*
 * The right edge of a tree: the roots of the perfect subtrees its leaves
 * decompose into, largest first (one per set bit of size).
 */
struct merkle_frontier {
	uint64_t size;
	int n;
	merkle_hash h[MERKLE_MAX_DEPTH];
};

/* Called for every perfect subtree completed by an append: level 0 is the
 * leaf itself, index counts subtrees of that level from the left. */
typedef int (*merkle_node_fn)(void *arg, int level, uint64_t index,
    const merkle_hash h);

/* Appends a leaf hash; calls fn (may be NULL) for each completed node. */
int merkle_frontier_push(struct merkle_frontier *f, const merkle_hash leaf,
    merkle_node_fn fn, void *arg);
/* The tree head MTH of the frontier's size (SHA-256("") when empty). */
void merkle_frontier_root(const struct merkle_frontier *f, merkle_hash out);

/*
 * Hash of the subtree of leaves [lo, hi) as the caller stores it; proofs
 * only ask for ranges that are perfect subtrees or the right edge of one.
 */
typedef int (*merkle_range_fn)(void *arg, uint64_t lo, uint64_t hi,
    merkle_hash out);

/* Computes MTH(D[lo:hi]) from perfect subtrees obtained through get. */
int merkle_range_hash(uint64_t lo, uint64_t hi, merkle_range_fn get,
    void *arg, merkle_hash out);

/* PATH(m, D[n]) of RFC 9162 2.1.3.1; *np hashes into path. */
int merkle_inclusion_proof(uint64_t m, uint64_t n, merkle_range_fn get,
    void *arg, merkle_hash path[MERKLE_MAX_DEPTH], size_t *np);
/* PROOF(m, D[n]) of RFC 9162 2.1.4.1. */
int merkle_consistency_proof(uint64_t m, uint64_t n, merkle_range_fn get,
    void *arg, merkle_hash proof[MERKLE_MAX_DEPTH], size_t *np);

/* RFC 9162 2.1.3.2: 0 if leaf m is in the tree of size n with root. */
int merkle_verify_inclusion(uint64_t m, uint64_t n, const merkle_hash leaf,
    const merkle_hash *path, size_t np, const merkle_hash root);
/* RFC 9162 2.1.4.2: 0 if the tree of size m with root1 is a prefix of the
 * tree of size n with root2. */
int merkle_verify_consistency(uint64_t m, uint64_t n, const merkle_hash root1,
    const merkle_hash root2, const merkle_hash *proof, size_t np);

#endif
