/*
 * store_log.c - the audit log's Merkle tree in the store: sealing batches
 * into signed checkpoints, and proofs from the stored nodes.
 *
 * Owns the tables audit_nodes and checkpoints (schema version 2, store.c).
 * Invariants:
 * - The leaves are the audit rows; leaf index = seq - 1, and seq has no
 *   gaps (AUTOINCREMENT in an append-only table whose inserts roll back
 *   together with their sequence number).  Sealing checks it.
 * - A checkpoint of size n exists only together with every node of the
 *   tree of size n: both are written in one transaction, under the write
 *   lock, so two sealers (threads, processes) cannot interleave.
 * - Nothing here trusts a stored hash for verification: gwctl audit verify
 *   recomputes everything from the rows; the stored nodes only make proofs
 *   cheap (O(log n) lookups) and help to locate a change.
 * Runs on the sealer thread (daemon) or in gwctl; one struct store per
 * thread as everywhere.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "merkle.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

int
store_log_node(struct store *s, int level, int64_t idx, unsigned char out[32])
{
	sqlite3_stmt *st;
	int r, rc;

	if ((r = store_int_prep(s, "SELECT hash FROM audit_nodes WHERE level = ?1"
	    " AND idx = ?2", &st)) != 0)
		return r;
	sqlite3_bind_int(st, 1, level);
	sqlite3_bind_int64(st, 2, idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(out, sqlite3_column_blob(st, 0), 32);
		r = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		r = GW_ERR_NOT_FOUND;
	else
		r = store_int_err(rc);
	sqlite3_finalize(st);
	return r;
}

static int
node_range(void *arg, uint64_t lo, uint64_t hi, merkle_hash out)
{
	uint64_t n = hi - lo;
	int level = 0;

	while ((1ull << level) < n)
		level++;
	return store_log_node(arg, level, (int64_t)(lo >> level), out);
}

static int
node_insert(void *arg, int level, uint64_t index, const merkle_hash h)
{
	sqlite3_stmt *st = arg;
	int rc;

	sqlite3_bind_int(st, 1, level);
	sqlite3_bind_int64(st, 2, (int64_t)index);
	sqlite3_bind_blob(st, 3, h, MERKLE_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_int_err(rc);
}

int
store_checkpoint_text(const struct store_checkpoint *c, char *buf,
    size_t buflen, size_t *len)
{
	char *b64 = NULL;
	size_t b64len;
	int n, r;

	if ((r = util_b64_encode(c->root, 32, &b64, &b64len)) != 0)
		return r;
	n = snprintf(buf, buflen, "gatewayd audit checkpoint v1\n"
	    "tree_size %" PRId64 "\nroot %s\ntime_ms %" PRId64 "\n"
	    "key_sha256 %s\n", c->tree_size, b64, c->time_ms, c->key_sha256);
	free(b64);
	if (n < 0 || (size_t)n >= buflen)
		return GW_ERR_TOO_LARGE;
	*len = (size_t)n;
	return 0;
}

static void
cp_read(sqlite3_stmt *st, struct store_checkpoint *c)
{
	int n;

	memset(c, 0, sizeof(*c));
	c->tree_size = sqlite3_column_int64(st, 0);
	if (sqlite3_column_bytes(st, 1) == 32)
		memcpy(c->root, sqlite3_column_blob(st, 1), 32);
	c->time_ms = sqlite3_column_int64(st, 2);
	util_strlcpy(c->key_sha256, sqlite3_column_text(st, 3) ?
	    (const char *)sqlite3_column_text(st, 3) : "", sizeof(c->key_sha256));
	n = sqlite3_column_bytes(st, 4);
	if (n > 0 && (size_t)n <= sizeof(c->sig)) {
		memcpy(c->sig, sqlite3_column_blob(st, 4), (size_t)n);
		c->sig_len = (size_t)n;
	}
}

#define CP_COLS "tree_size, root, time_ms, key_sha256, signature"

int
store_log_checkpoint(struct store *s, int64_t tree_size,
    struct store_checkpoint *out)
{
	sqlite3_stmt *st;
	int r, rc;

	r = store_int_prep(s, tree_size > 0 ?
	    "SELECT " CP_COLS " FROM checkpoints WHERE tree_size = ?1" :
	    "SELECT " CP_COLS " FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
	    &st);
	if (r != 0)
		return r;
	if (tree_size > 0)
		sqlite3_bind_int64(st, 1, tree_size);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		cp_read(st, out);
		r = 0;
	} else
		r = rc == SQLITE_DONE ? GW_ERR_NOT_FOUND : store_int_err(rc);
	sqlite3_finalize(st);
	return r;
}

int
store_log_checkpoints(struct store *s, struct store_checkpoint **out,
    size_t *n)
{
	struct store_checkpoint *arr = NULL, *tmp;
	sqlite3_stmt *st;
	size_t cnt = 0, cap = 0;
	int r, rc;

	if ((r = store_int_prep(s, "SELECT " CP_COLS " FROM checkpoints ORDER BY"
	    " tree_size", &st)) != 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((tmp = reallocarray(arr, cap, sizeof(*arr))) == NULL) {
				r = GW_ERR_NOMEM;
				goto out;
			}
			arr = tmp;
		}
		cp_read(st, &arr[cnt++]);
	}
	if (rc != SQLITE_DONE) {
		r = store_int_err(rc);
		goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	r = 0;
 out:
	free(arr);
	sqlite3_finalize(st);
	return r;
}

/* Rebuilds the frontier of a sealed tree of size n from its nodes. */
static int
frontier_load(struct store *s, int64_t n, struct merkle_frontier *f)
{
	uint64_t start = 0;
	int level, r;

	memset(f, 0, sizeof(*f));
	for (level = 62; level >= 0; level--) {
		if (!(((uint64_t)n >> level) & 1))
			continue;
		if ((r = store_log_node(s, level, (int64_t)(start >> level),
		    f->h[f->n])) != 0)
			return r == GW_ERR_NOT_FOUND ? GW_ERR_STATE : r;
		f->n++;
		start += 1ull << level;
	}
	f->size = (uint64_t)n;
	return 0;
}

static void
row_fields(sqlite3_stmt *st, int first, const char *f[6])
{
	int i;

	for (i = 0; i < 6; i++) {
		f[i] = (const char *)sqlite3_column_text(st, first + i);
		if (f[i] == NULL)
			f[i] = "";
	}
}

/* Appends the rows after the frontier's size, writing their nodes. */
static int
seal_rows(struct store *s, struct merkle_frontier *f)
{
	sqlite3_stmt *st = NULL, *ins = NULL;
	const char *fields[6];
	merkle_hash h;
	int64_t seq;
	int r, rc;

	if ((r = store_int_prep(s, "SELECT seq, time_ms, event, actor, msg_id, reader,"
	    " code, detail FROM audit WHERE seq > ?1 ORDER BY seq", &st)) != 0 ||
	    (r = store_int_prep(s, "INSERT INTO audit_nodes (level, idx, hash)"
	    " VALUES (?1, ?2, ?3)", &ins)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, (int64_t)f->size);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0);
		if (seq != (int64_t)f->size + 1) {
			r = GW_ERR_STATE;	/* a gap: the log was tampered with */
			goto out;
		}
		row_fields(st, 2, fields);
		if ((r = merkle_event_hash(seq, sqlite3_column_int64(st, 1),
		    fields, h)) != 0 ||
		    (r = merkle_frontier_push(f, h, node_insert, ins)) != 0)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : store_int_err(rc);
 out:
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	return r;
}

static int
cp_insert(struct store *s, const struct store_checkpoint *c)
{
	sqlite3_stmt *st;
	int r, rc;

	if ((r = store_int_prep(s, "INSERT INTO checkpoints (" CP_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5)", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, c->tree_size);
	sqlite3_bind_blob(st, 2, c->root, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, c->time_ms);
	sqlite3_bind_text(st, 4, c->key_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, c->sig, (int)c->sig_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_int_err(rc);
}

/* The body of store_log_seal(), inside its transaction. */
static int
seal(struct store *s, store_sign_fn sign, void *arg, const char *key_sha256,
    struct store_checkpoint *cp)
{
	struct merkle_frontier f;
	unsigned char *sig = NULL;
	char text[512];
	size_t tlen, slen;
	int64_t sealed = 0;
	int r;

	r = store_log_checkpoint(s, 0, cp);
	if (r == 0)
		sealed = cp->tree_size;
	else if (r != GW_ERR_NOT_FOUND)
		return r;
	else
		memset(cp, 0, sizeof(*cp));
	if ((r = frontier_load(s, sealed, &f)) != 0 || (r = seal_rows(s, &f)) != 0)
		return r;
	if ((int64_t)f.size == sealed)
		return 0;		/* nothing new */
	memset(cp, 0, sizeof(*cp));
	cp->tree_size = (int64_t)f.size;
	merkle_frontier_root(&f, cp->root);
	cp->time_ms = util_now_ms();
	util_strlcpy(cp->key_sha256, key_sha256, sizeof(cp->key_sha256));
	if ((r = store_checkpoint_text(cp, text, sizeof(text), &tlen)) != 0 ||
	    (r = sign(arg, (const unsigned char *)text, tlen, &sig, &slen)) != 0)
		return r;
	if (slen > sizeof(cp->sig)) {
		free(sig);
		return GW_ERR_TOO_LARGE;
	}
	memcpy(cp->sig, sig, slen);
	cp->sig_len = slen;
	free(sig);
	return cp_insert(s, cp);
}

int
store_log_seal(struct store *s, store_sign_fn sign, void *arg,
    const char *key_sha256, struct store_checkpoint *out)
{
	struct store_checkpoint cp;
	int r;

	if ((r = store_int_begin(s)) != 0)
		return r;
	r = store_int_end(s, seal(s, sign, arg, key_sha256, &cp));
	if (r == 0 && out)
		*out = cp;
	return r;
}

int
store_log_inclusion(struct store *s, int64_t leaf, int64_t n,
    unsigned char (*path)[32], size_t *np)
{
	if (leaf < 0 || n <= 0)
		return GW_ERR_INVALID;
	return merkle_inclusion_proof((uint64_t)leaf, (uint64_t)n, node_range, s,
	    path, np);
}

int
store_log_consistency(struct store *s, int64_t m, int64_t n,
    unsigned char (*proof)[32], size_t *np)
{
	if (m <= 0 || n < m)
		return GW_ERR_INVALID;
	return merkle_consistency_proof((uint64_t)m, (uint64_t)n, node_range, s,
	    proof, np);
}

int
store_log_index_of(struct store *s, const char *msg_id, const char *event,
    int64_t *index)
{
	sqlite3_stmt *st;
	int r, rc;

	if ((r = store_int_prep(s, "SELECT min(seq) FROM audit WHERE msg_id = ?1"
	    " AND event = ?2", &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, msg_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*index = sqlite3_column_int64(st, 0) - 1;
		r = 0;
	} else
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? GW_ERR_NOT_FOUND :
		    store_int_err(rc);
	sqlite3_finalize(st);
	return r;
}

int
store_audit_get(struct store *s, int64_t seq, struct store_audit_row *out)
{
	struct store_audit_row *rows = NULL;
	size_t n = 0;
	int r;

	if ((r = store_audit_list(s, seq - 1, 1, &rows, &n)) != 0)
		return r;
	if (n == 1 && rows[0].seq == seq)
		*out = rows[0];
	else
		r = GW_ERR_NOT_FOUND;
	free(rows);
	return r;
}

/*
 * Retention.  A purge replaces a delivered envelope (the only copy of the
 * message body, encrypted for its reader) by an empty blob: the delivery
 * row keeps its size and times, the message keeps its digest and receipt,
 * and the audit event "message.purged" names the envelope's SHA-256, so
 * the log still proves what was delivered.  Batches keep the write lock
 * short; each batch is one transaction holding its deletions and events.
 *
 * XXX The query walks every delivered delivery of the reader (index
 * deliveries_mailbox); an index on (state, closed_ms) in store.c's schema
 * would make it independent of the history's length.
 */
#define PURGE_BATCH	64

struct purge_item {
	int64_t seq;
	char msg_id[40];
	char sha256[65];
	int64_t len;
};

/* Reads up to PURGE_BATCH deliveries due for purging into it[]. */
static int
purge_due(struct store *s, const char *reader, int64_t before_ms,
    struct purge_item *it, int *n)
{
	sqlite3_stmt *st;
	const void *p;
	int r, rc, k = 0;

	if ((r = store_int_prep(s, "SELECT seq, msg_id, envelope FROM deliveries"
	    " WHERE reader = ?1 AND state = '" STORE_ST_DELIVERED "'"
	    " AND closed_ms > 0 AND closed_ms <= ?2 AND length(envelope) > 0"
	    " ORDER BY seq LIMIT ?3", &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, reader, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, before_ms);
	sqlite3_bind_int(st, 3, PURGE_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		it[k].seq = sqlite3_column_int64(st, 0);
		util_strlcpy(it[k].msg_id, sqlite3_column_text(st, 1) ?
		    (const char *)sqlite3_column_text(st, 1) : "",
		    sizeof(it[k].msg_id));
		p = sqlite3_column_blob(st, 2);
		it[k].len = sqlite3_column_bytes(st, 2);
		util_sha256_hex(p ? p : "", (size_t)it[k].len, it[k].sha256);
		k++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_int_err(rc);
	*n = k;
	return 0;
}

/* One batch inside its transaction: the deletions and their events. */
static int
purge_batch(struct store *s, const char *reader, int64_t before_ms,
    int retention_days, int *n, struct store_paths *files)
{
	struct purge_item it[PURGE_BATCH];
	struct store_audit ev = { .event = "message.purged", .actor = "gateway",
	    .reader = reader, .code = "OK" };
	sqlite3_stmt *st = NULL;
	char detail[200];
	int i, k = 0, r, rc;

	if ((r = purge_due(s, reader, before_ms, it, &k)) != 0 || k == 0)
		goto out;
	if ((r = store_int_prep(s, "UPDATE deliveries SET envelope = X''"
	    " WHERE seq = ?1", &st)) != 0)
		goto out;
	for (i = 0; i < k; i++) {
		sqlite3_bind_int64(st, 1, it[i].seq);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			r = store_int_err(rc);
			goto out;
		}
		snprintf(detail, sizeof(detail), "envelope sha256 %s, %" PRId64
		    " bytes, deleted %d days after delivery", it[i].sha256,
		    it[i].len, retention_days);
		ev.msg_id = it[i].msg_id;
		ev.detail = detail;
		if ((r = store_audit_in_txn(s, &ev)) != 0 ||
		    (r = store_att_purge_in_txn(s, it[i].msg_id, reader, files)) != 0)
			goto out;
	}
 out:
	sqlite3_finalize(st);
	if (r == 0)
		*n = k;
	return r;
}

int
store_log_purge(struct store *s, const char *reader, int64_t closed_before_ms,
    int retention_days, const char *spool_dir, int *n)
{
	struct store_paths files = { NULL, 0 };
	int r, k, total = 0;

	if (reader == NULL || reader[0] == '\0' || retention_days < 0)
		return GW_ERR_INVALID;
	do {
		k = 0;
		if ((r = store_int_begin(s)) != 0)
			return r;
		r = store_int_end(s, purge_batch(s, reader, closed_before_ms,
		    retention_days, &k, &files));
		if (r != 0) {
			for (size_t i = 0; i < files.n; i++)
				free(files.v[i]);
			free(files.v);
			return r;
		}
		/* committed: the attachments' spool files may go now (a crash
		 * before this leaves them to the start-up sweep) */
		store_paths_unlink(&files, spool_dir);
		total += k;
	} while (k == PURGE_BATCH);
	if (n != NULL)
		*n = total;
	return 0;
}
