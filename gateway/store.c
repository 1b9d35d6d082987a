/*
 * store.c - the durable message store; store.h is the contract.
 *
 * Owns one SQLite connection per struct store.  The connection is opened
 * NOMUTEX (the caller promises one thread at a time), in WAL mode with
 * synchronous=FULL, so a COMMIT that returned is in the fsync'd log, with
 * foreign keys on and a busy timeout so that connections wait for each
 * other instead of failing.
 *
 * Writes.  Every write is check, BEGIN IMMEDIATE, body, COMMIT (or ROLLBACK
 * on any error): the arguments are validated before the transaction starts,
 * and the write lock is taken at BEGIN, where a second writer waits on the
 * busy timeout.  (A deferred transaction that upgrades from reading to
 * writing in WAL mode fails with SQLITE_BUSY at once instead of waiting.)
 * The audit events of a change are inserted by the body, inside the same
 * transaction as the change.
 *
 * Invariants.
 * - Writers are serialised, so deliveries.seq commits in increasing order:
 *   a reader paging its mailbox by "seq > last seen" never misses a delivery
 *   that commits later with a smaller seq.
 * - The audit table is append-only: nothing here updates or deletes it, and
 *   triggers make SQLite refuse it for anyone else.
 * - Text longer than the fixed-size fields of store.h is refused on write
 *   (GW_ERR_TOO_LARGE), so what is stored reads back whole; reads still copy
 *   with util_strlcpy in case the file was written by someone else.
 * - Cached statements are reset right after each use: one left mid-step
 *   would hold a WAL read snapshot open and stall checkpoints.
 * - Nothing is logged; envelopes and receipts are opaque bytes.
 *
 * Schema versions live in PRAGMA user_version.  Version 1 is SCHEMA_V1; a
 * database with a newer version is refused rather than written with old
 * assumptions.  Large blobs are the last column of their row: SQLite walks a
 * blob's overflow pages to reach the columns stored after it.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "err.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

#define STORE_SCHEMA_VERSION	4	/* also in SCHEMA_V4 */
#define STORE_BUSY_MS		10000	/* how long a writer waits for another */
#define STORE_LIST_MAX		1000	/* rows per list call */

#define FIELD_SIZE(type, f)	sizeof(((type *)0)->f)
#define NITEMS(a)		(sizeof(a) / sizeof((a)[0]))

#define SQL_WAITING	"'" STORE_ST_WAITING "'"
#define SQL_DELIVERED	"'" STORE_ST_DELIVERED "'"

static const char SCHEMA_V1[] =
	"CREATE TABLE IF NOT EXISTS messages ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" portal TEXT NOT NULL,"
	" portal_msg_id TEXT NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" service TEXT NOT NULL,"
	" scenario TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" received_ms INTEGER NOT NULL,"
	" forwarded_ms INTEGER NOT NULL,"
	" signer_subject TEXT NOT NULL,"
	" signer_issuer TEXT NOT NULL,"
	" signer_serial TEXT NOT NULL,"
	" sig_alg TEXT NOT NULL,"
	" sig_ok INTEGER NOT NULL,"
	" chain_ok INTEGER NOT NULL,"
	" receipt BLOB NOT NULL,"
	/* The only UNIQUE constraint of messages: store_accept() relies on it. */
	" UNIQUE (portal, portal_msg_id));"
	"CREATE TABLE IF NOT EXISTS deliveries ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" msg_id TEXT NOT NULL REFERENCES messages (id),"
	" reader TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN (" SQL_WAITING ", "
	    SQL_DELIVERED ")),"
	" size INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" fetched_ms INTEGER NOT NULL DEFAULT 0,"
	" closed_ms INTEGER NOT NULL DEFAULT 0,"
	" envelope BLOB NOT NULL,"
	" UNIQUE (msg_id, reader));"
	"CREATE INDEX IF NOT EXISTS deliveries_mailbox"
	" ON deliveries (reader, state, seq);"
	"CREATE TABLE IF NOT EXISTS audit ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time_ms INTEGER NOT NULL,"
	" event TEXT NOT NULL,"
	" actor TEXT,"
	" msg_id TEXT,"
	" reader TEXT,"
	" code TEXT,"
	" detail TEXT);"
	"CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"PRAGMA user_version = 1;";

/*
 * Version 2: the audit log as a Merkle tree (store_log.c).  audit_nodes
 * holds the hash of every perfect subtree (level 0: the leaves) written when
 * a batch is sealed; checkpoints holds the signed tree heads.  Both are
 * append-only like the audit table.  Leaf index = audit.seq - 1.
 */
static const char SCHEMA_V2[] =
	"CREATE TABLE IF NOT EXISTS audit_nodes ("
	" level INTEGER NOT NULL,"
	" idx INTEGER NOT NULL,"
	" hash BLOB NOT NULL,"
	" PRIMARY KEY (level, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS checkpoints ("
	" tree_size INTEGER PRIMARY KEY,"
	" root BLOB NOT NULL,"
	" time_ms INTEGER NOT NULL,"
	" key_sha256 TEXT NOT NULL,"
	" signature BLOB NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS audit_nodes_no_update BEFORE UPDATE ON"
	" audit_nodes BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS audit_nodes_no_delete BEFORE DELETE ON"
	" audit_nodes BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON"
	" checkpoints BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON"
	" checkpoints BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"PRAGMA user_version = 2;";

/*
 * Version 3: push delivery (store_dlv.c).  A delivery has a mode (pull:
 * waits in the mailbox; push: the gateway sends it), attempt bookkeeping,
 * the authority's signed reception receipt, and the states of the whole
 * life cycle.  SQLite cannot widen a CHECK in place: the table is rebuilt
 * inside the migration's transaction, keeping seq.
 */
static const char SCHEMA_V3[] =
	"CREATE TABLE deliveries_v3 ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" msg_id TEXT NOT NULL REFERENCES messages (id),"
	" reader TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('waiting', 'queued',"
	" 'delivering', 'delivered', 'failed', 'expired', 'cancelled')),"
	" size INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" fetched_ms INTEGER NOT NULL DEFAULT 0,"
	" closed_ms INTEGER NOT NULL DEFAULT 0,"
	" mode TEXT NOT NULL DEFAULT 'pull' CHECK (mode IN ('pull', 'push')),"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	" obsolete_ms INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT,"
	" reception_receipt BLOB,"
	" envelope BLOB NOT NULL,"
	" UNIQUE (msg_id, reader));"
	"INSERT INTO deliveries_v3 (seq, msg_id, reader, state, size, created_ms,"
	" fetched_ms, closed_ms, envelope) SELECT seq, msg_id, reader, state,"
	" size, created_ms, fetched_ms, closed_ms, envelope FROM deliveries;"
	"DROP TABLE deliveries;"
	"ALTER TABLE deliveries_v3 RENAME TO deliveries;"
	"CREATE INDEX IF NOT EXISTS deliveries_mailbox"
	" ON deliveries (reader, state, seq);"
	"CREATE INDEX IF NOT EXISTS deliveries_due"
	" ON deliveries (state, next_attempt_ms);"
	"PRAGMA user_version = 3;";

/*
 * Version 4: attachments (store_att.c, docs/attachments.md).  One row per
 * attachment with its spool file; per reader and attachment the header
 * and footer of the reader's EncryptedData document (the header holds the
 * content key wrapped for that reader's certificates).  And the inspection
 * report of the submission's signature (issue 3).
 */
static const char SCHEMA_V4[] =
	"CREATE TABLE attachments ("
	" msg_id TEXT NOT NULL REFERENCES messages (id),"
	" n INTEGER NOT NULL,"
	" att_id TEXT NOT NULL,"
	" filename TEXT NOT NULL,"
	" content_type TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" cipher_size INTEGER NOT NULL,"
	" cipher_sha256 TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" PRIMARY KEY (msg_id, n), UNIQUE (msg_id, att_id));"
	"CREATE INDEX attachments_path ON attachments (path);"
	"CREATE TABLE attachment_docs ("
	" msg_id TEXT NOT NULL,"
	" reader TEXT NOT NULL,"
	" n INTEGER NOT NULL,"
	" footer BLOB NOT NULL,"
	" header BLOB NOT NULL,"
	" PRIMARY KEY (msg_id, reader, n),"
	" FOREIGN KEY (msg_id, n) REFERENCES attachments (msg_id, n));"
	"ALTER TABLE messages ADD COLUMN report BLOB;"
	"PRAGMA user_version = 4;";

/* The columns of struct store_msg, in the order of msgcols[] below. */
#define MSG_COLS \
	"id, portal, portal_msg_id, sha256, size, service, scenario, subject," \
	" received_ms, forwarded_ms, signer_subject, signer_issuer," \
	" signer_serial, sig_alg, sig_ok, chain_ok"
#define MSG_NCOLS	16

enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_MSG_INSERT, Q_DLV_INSERT, Q_AUDIT_INSERT,
	Q_PORTAL_LOOKUP, Q_MSG_GET, Q_DLV_LIST,
	Q_MBOX_LIST, Q_MBOX_COUNT,
	Q_ENV_GET, Q_FETCH_MARK, Q_CLOSE_MARK, Q_DLV_EXISTS,
	Q_AUDIT_LIST,
	Q__COUNT
};

static const char *const qsql[Q__COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_MSG_INSERT] = "INSERT INTO messages (" MSG_COLS ", receipt, report)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18)",
	[Q_DLV_INSERT] = "INSERT INTO deliveries"
	    " (msg_id, reader, state, size, created_ms, envelope, mode,"
	    " obsolete_ms) VALUES (?1, ?2, CASE WHEN ?6 = 'push' THEN 'queued'"
	    " ELSE " SQL_WAITING " END, ?3, ?4, ?5, ?6, ?7)",
	[Q_AUDIT_INSERT] = "INSERT INTO audit"
	    " (time_ms, event, actor, msg_id, reader, code, detail)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_PORTAL_LOOKUP] = "SELECT id, sha256, receipt FROM messages"
	    " WHERE portal = ?1 AND portal_msg_id = ?2",
	[Q_MSG_GET] = "SELECT " MSG_COLS ", report FROM messages WHERE id = ?1",
	[Q_DLV_LIST] = "SELECT reader, state, size, created_ms, fetched_ms,"
	    " closed_ms, mode, attempts, last_error, obsolete_ms"
	    " FROM deliveries WHERE msg_id = ?1 ORDER BY seq",
	[Q_MBOX_LIST] = "SELECT d.seq, d.msg_id, d.size, m.service,"
	    " m.received_ms FROM deliveries d JOIN messages m ON m.id = d.msg_id"
	    " WHERE d.reader = ?1 AND d.state = " SQL_WAITING " AND d.seq > ?2"
	    " ORDER BY d.seq LIMIT ?3",
	[Q_MBOX_COUNT] = "SELECT count(*) FROM deliveries"
	    " WHERE reader = ?1 AND state = " SQL_WAITING,
	[Q_ENV_GET] = "SELECT envelope FROM deliveries"
	    " WHERE msg_id = ?1 AND reader = ?2",
	[Q_FETCH_MARK] = "UPDATE deliveries SET fetched_ms = ?3"
	    " WHERE msg_id = ?1 AND reader = ?2 AND fetched_ms = 0",
	[Q_CLOSE_MARK] = "UPDATE deliveries SET state = " SQL_DELIVERED ","
	    " closed_ms = ?3 WHERE msg_id = ?1 AND reader = ?2"
	    " AND state = " SQL_WAITING,
	[Q_DLV_EXISTS] = "SELECT 1 FROM deliveries"
	    " WHERE msg_id = ?1 AND reader = ?2",
	[Q_AUDIT_LIST] = "SELECT seq, time_ms, event, actor, msg_id, reader,"
	    " code, detail FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q__COUNT];	/* prepared at open, reset after use */
};

/* struct store_msg as a table, so binding, reading and checking agree. */
enum coltype { COL_TEXT, COL_I64, COL_INT };
struct msgcol {
	enum coltype type;
	size_t off;
	size_t size;
};
#define MC(t, f) \
	{ t, offsetof(struct store_msg, f), FIELD_SIZE(struct store_msg, f) }

static const struct msgcol msgcols[] = {
	MC(COL_TEXT, id), MC(COL_TEXT, portal), MC(COL_TEXT, portal_msg_id),
	MC(COL_TEXT, sha256), MC(COL_I64, size), MC(COL_TEXT, service),
	MC(COL_TEXT, scenario), MC(COL_TEXT, subject),
	MC(COL_I64, received_ms), MC(COL_I64, forwarded_ms),
	MC(COL_TEXT, signer_subject), MC(COL_TEXT, signer_issuer),
	MC(COL_TEXT, signer_serial), MC(COL_TEXT, sig_alg),
	MC(COL_INT, sig_ok), MC(COL_INT, chain_ok),
};
_Static_assert(NITEMS(msgcols) == MSG_NCOLS, "msgcols and MSG_COLS differ");

/* Maps an SQLite result code to ours. */
static int
dberr(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return GW_ERR_NOMEM;
	case SQLITE_TOOBIG:
		return GW_ERR_TOO_LARGE;
	default:
		return GW_ERR_STORE;
	}
}

/* Makes a cached statement ready for its next use. */
static void
q_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows, then resets it. */
static int
q_exec(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	q_done(st);
	return rc == SQLITE_DONE ? 0 : dberr(rc);
}

/* Does s fit a char[size] field with its terminator?  NULL fits. */
static int
fits(const char *s, size_t size)
{
	return s == NULL || strnlen(s, size) < size;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	/* A NULL v binds SQL NULL; SQLITE_STATIC: we step before returning. */
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int
bind_blob(sqlite3_stmt *st, int i, const void *p, size_t len)
{
	if (len == 0)	/* a NULL pointer would bind NULL, not empty */
		return sqlite3_bind_zeroblob(st, i, 0);
	return sqlite3_bind_blob64(st, i, p, (sqlite3_uint64)len,
	    SQLITE_STATIC);
}

/* Binds the (msg_id, reader) key of a delivery as ?1 and ?2. */
static int
bind_key(sqlite3_stmt *st, const char *msg_id, const char *reader)
{
	int rc;

	if ((rc = bind_text(st, 1, msg_id)) != SQLITE_OK)
		return rc;
	return bind_text(st, 2, reader);
}

/* Copies a text column into a char[size] field; NULL reads as "". */
static void
col_text(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	util_strlcpy(dst, v != NULL ? v : "", size);
}

/* A malloc'd copy of a blob column (never NULL on success, even if empty). */
static int
col_blob(sqlite3_stmt *st, int i, unsigned char **out, size_t *len)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	unsigned char *buf;

	if (p == NULL && n > 0)
		return GW_ERR_NOMEM;
	if ((buf = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return GW_ERR_NOMEM;
	if (n > 0)
		memcpy(buf, p, (size_t)n);
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* Returns arr with room for element n, or NULL (arr still valid then). */
static void *
grow(void *arr, size_t *cap, size_t n, size_t el)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return arr;
	ncap = *cap > 0 ? *cap * 2 : 16;
	if ((p = reallocarray(arr, ncap, el)) == NULL)
		return NULL;
	*cap = ncap;
	return p;
}

static int
clamp_limit(int limit)
{
	if (limit < 1)
		return 1;
	return limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit;
}

static int
txn_begin(struct store *s)
{
	return q_exec(s->q[Q_BEGIN]);
}

/* Commits if r is 0, else rolls back; returns r or the commit's error. */
static int
txn_end(struct store *s, int r)
{
	if (r == 0)
		r = q_exec(s->q[Q_COMMIT]);
	/* Some errors (I/O, full disk) have rolled back already. */
	if (r != 0 && !sqlite3_get_autocommit(s->db))
		(void)q_exec(s->q[Q_ROLLBACK]);
	return r;
}

/* Checks an audit event before any transaction starts. */
static int
audit_check(const struct store_audit *ev)
{
	if (ev == NULL || ev->event == NULL || ev->event[0] == '\0')
		return GW_ERR_INVALID;
	if (!fits(ev->event, FIELD_SIZE(struct store_audit_row, event)) ||
	    !fits(ev->actor, FIELD_SIZE(struct store_audit_row, actor)) ||
	    !fits(ev->msg_id, FIELD_SIZE(struct store_audit_row, msg_id)) ||
	    !fits(ev->reader, FIELD_SIZE(struct store_audit_row, reader)) ||
	    !fits(ev->code, FIELD_SIZE(struct store_audit_row, code)) ||
	    !fits(ev->detail, FIELD_SIZE(struct store_audit_row, detail)))
		return GW_ERR_TOO_LARGE;
	return 0;
}

/* Appends ev (checked) stamped time_ms; inside the caller's transaction. */
static int
audit_insert(struct store *s, const struct store_audit *ev, int64_t time_ms)
{
	sqlite3_stmt *st = s->q[Q_AUDIT_INSERT];
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, time_ms)) != SQLITE_OK ||
	    (rc = bind_text(st, 2, ev->event)) != SQLITE_OK ||
	    (rc = bind_text(st, 3, ev->actor)) != SQLITE_OK ||
	    (rc = bind_text(st, 4, ev->msg_id)) != SQLITE_OK ||
	    (rc = bind_text(st, 5, ev->reader)) != SQLITE_OK ||
	    (rc = bind_text(st, 6, ev->code)) != SQLITE_OK ||
	    (rc = bind_text(st, 7, ev->detail)) != SQLITE_OK) {
		q_done(st);
		return dberr(rc);
	}
	return q_exec(st);
}

/*
 * Runs a query of one row and one column (pragmas at open) and copies the
 * value as text and as an integer.  Not cached: used once per connection.
 */
static int
db_value(struct store *s, const char *sql, char *txt, size_t size,
    int64_t *num)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return dberr(rc);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		col_text(st, 0, txt, size);
		*num = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : dberr(rc);
}

/* Sets the connection up; before any transaction (pragmas require it). */
static int
db_configure(struct store *s)
{
	char mode[16];
	int64_t num;
	int r, rc;

	if ((rc = sqlite3_busy_timeout(s->db, STORE_BUSY_MS)) != SQLITE_OK)
		return dberr(rc);
	/* Answers the mode in effect, which stays the old one on failure. */
	if ((r = db_value(s, "PRAGMA journal_mode = WAL", mode, sizeof(mode),
	    &num)) != 0)
		return r;
	if (strcmp(mode, "wal") != 0)
		return GW_ERR_STORE;
	rc = sqlite3_exec(s->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : dberr(rc);
}

/* Creates or checks the schema; under the write lock, since another
 * connection may be creating it at the same moment. */
static int
db_schema(struct store *s)
{
	char txt[32];
	int64_t version;
	int r, rc;

	if ((r = txn_begin(s)) != 0)
		return r;
	r = db_value(s, "PRAGMA user_version", txt, sizeof(txt), &version);
	if (r == 0 && version == 0) {
		rc = sqlite3_exec(s->db, SCHEMA_V1, NULL, NULL, NULL);
		r = rc == SQLITE_OK ? 0 : dberr(rc);
		version = 1;
	}
	if (r == 0 && version == 1) {
		rc = sqlite3_exec(s->db, SCHEMA_V2, NULL, NULL, NULL);
		r = rc == SQLITE_OK ? 0 : dberr(rc);
		version = 2;
	}
	if (r == 0 && version == 2) {
		rc = sqlite3_exec(s->db, SCHEMA_V3, NULL, NULL, NULL);
		r = rc == SQLITE_OK ? 0 : dberr(rc);
		version = 3;
	}
	if (r == 0 && version == 3) {
		rc = sqlite3_exec(s->db, SCHEMA_V4, NULL, NULL, NULL);
		r = rc == SQLITE_OK ? 0 : dberr(rc);
		version = 4;
	}
	if (r == 0 && version != STORE_SCHEMA_VERSION)
		r = GW_ERR_STORE;	/* made by a newer gatewayd */
	return txn_end(s, r);
}

/* Prepares the cached statements first to last - 1. */
static int
q_prepare(struct store *s, int first, int last)
{
	int i, rc;

	for (i = first; i < last; i++) {
		rc = sqlite3_prepare_v3(s->db, qsql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL);
		if (rc != SQLITE_OK)
			return dberr(rc);
	}
	return 0;
}

int
store_open(const char *path, struct store **out)
{
	struct store *s;
	int r = GW_ERR_INTERNAL, rc;

	if (path == NULL || out == NULL)
		return GW_ERR_INVALID;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return GW_ERR_NOMEM;
	/* NOMUTEX: one thread at a time per connection (store.h). */
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = dberr(rc);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* The transaction statements come first: db_schema() needs them, and
	 * the others cannot be prepared before their tables exist. */
	if ((r = db_configure(s)) != 0 ||
	    (r = q_prepare(s, Q_BEGIN, Q_ROLLBACK + 1)) != 0 ||
	    (r = db_schema(s)) != 0 ||
	    (r = q_prepare(s, Q_ROLLBACK + 1, Q__COUNT)) != 0)
		goto out;
	*out = s;
	s = NULL;
	r = 0;
 out:
	store_close(s);
	return r;
}

void
store_close(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < NITEMS(s->q); i++)
		sqlite3_finalize(s->q[i]);
	/* Closes a handle that failed to open too; the last connection to
	 * close checkpoints the WAL into the database file. */
	sqlite3_close(s->db);
	free(s);
}

/* Text fields must be terminated inside their array: an unterminated one
 * is an over-long input the caller failed to reject. */
static int
msg_check(const struct store_msg *m)
{
	const char *base = (const char *)m;
	size_t i;

	for (i = 0; i < NITEMS(msgcols); i++) {
		if (msgcols[i].type == COL_TEXT &&
		    memchr(base + msgcols[i].off, '\0', msgcols[i].size) == NULL)
			return GW_ERR_TOO_LARGE;
	}
	if (m->id[0] == '\0' || m->portal[0] == '\0' ||
	    m->portal_msg_id[0] == '\0' || m->size < 0 ||
	    m->sig_ok < -1 || m->sig_ok > 1 ||
	    m->chain_ok < -1 || m->chain_ok > 1 ||
	    (m->report == NULL && m->report_len > 0))
		return GW_ERR_INVALID;
	if (m->report_len > STORE_REPORT_MAX)
		return GW_ERR_TOO_LARGE;
	return 0;
}

static int
msg_bind(sqlite3_stmt *st, const struct store_msg *m)
{
	const char *base = (const char *)m;
	int64_t v64;
	int i, v, rc = SQLITE_OK;

	for (i = 0; i < MSG_NCOLS && rc == SQLITE_OK; i++) {
		const char *p = base + msgcols[i].off;

		switch (msgcols[i].type) {
		case COL_TEXT:
			rc = bind_text(st, i + 1, p);
			break;
		case COL_I64:
			memcpy(&v64, p, sizeof(v64));
			rc = sqlite3_bind_int64(st, i + 1, v64);
			break;
		case COL_INT:
			memcpy(&v, p, sizeof(v));
			rc = sqlite3_bind_int(st, i + 1, v);
			break;
		}
	}
	return rc;
}

/* Reads the MSG_COLS of the current row of st into m. */
static void
msg_read(sqlite3_stmt *st, struct store_msg *m)
{
	char *base = (char *)m;
	int64_t v64;
	int i, v;

	for (i = 0; i < MSG_NCOLS; i++) {
		char *p = base + msgcols[i].off;

		switch (msgcols[i].type) {
		case COL_TEXT:
			col_text(st, i, p, msgcols[i].size);
			break;
		case COL_I64:
			v64 = sqlite3_column_int64(st, i);
			memcpy(p, &v64, sizeof(v64));
			break;
		case COL_INT:
			v = sqlite3_column_int(st, i);
			memcpy(p, &v, sizeof(v));
			break;
		}
	}
}

static int
accept_check(const struct store_msg *m, const unsigned char *receipt,
    size_t receipt_len, const struct store_delivery *d, size_t nd,
    const struct store_audit *ev, size_t nev)
{
	size_t i;
	int r;

	/* No change without its event: at least one is required. */
	if (m == NULL || (receipt == NULL && receipt_len > 0) ||
	    (d == NULL && nd > 0) || ev == NULL || nev == 0)
		return GW_ERR_INVALID;
	if ((r = msg_check(m)) != 0)
		return r;
	for (i = 0; i < nd; i++) {
		if (memchr(d[i].reader, '\0', sizeof(d[i].reader)) == NULL)
			return GW_ERR_TOO_LARGE;
		if (d[i].reader[0] == '\0' || d[i].size < 0 ||
		    (d[i].envelope == NULL && d[i].size > 0))
			return GW_ERR_INVALID;
	}
	for (i = 0; i < nev; i++) {
		if ((r = audit_check(&ev[i])) != 0)
			return r;
	}
	return 0;
}

/* The body of store_accept(), inside its transaction.  The audit events
 * go first, so that the receipt can name the log index of ev[0]. */
static int
accept_write(struct store *s, const struct store_msg *m,
    store_receipt_fn fn, void *arg, const struct store_delivery *d, size_t nd,
    const struct store_audit *ev, size_t nev)
{
	sqlite3_stmt *st = s->q[Q_MSG_INSERT];
	int64_t now = util_now_ms(), first = 0;
	unsigned char *receipt = NULL;
	size_t i, receipt_len = 0;
	int r, rc;

	for (i = 0; i < nev; i++) {
		if ((r = audit_insert(s, &ev[i], now)) != 0)
			return r;
		if (i == 0)
			first = sqlite3_last_insert_rowid(s->db);
	}
	if ((r = fn(arg, first - 1, &receipt, &receipt_len)) != 0)
		return r;
	/* No report stays SQL NULL: that is what rows before version 4 have. */
	if ((rc = msg_bind(st, m)) != SQLITE_OK ||
	    (rc = bind_blob(st, MSG_NCOLS + 1, receipt, receipt_len)) !=
	    SQLITE_OK || (rc = m->report == NULL ?
	    sqlite3_bind_null(st, MSG_NCOLS + 2) :
	    bind_blob(st, MSG_NCOLS + 2, m->report, m->report_len)) !=
	    SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_DONE) {
		q_done(st);
		free(receipt);
		/* The primary key (id) fails as SQLITE_CONSTRAINT_PRIMARYKEY. */
		return rc == SQLITE_CONSTRAINT_UNIQUE ? GW_ERR_DUPLICATE :
		    dberr(rc);
	}
	q_done(st);
	free(receipt);
	st = s->q[Q_DLV_INSERT];
	for (i = 0; i < nd; i++) {
		if ((rc = bind_key(st, m->id, d[i].reader)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 3, d[i].size)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 4, d[i].created_ms)) !=
		    SQLITE_OK || (rc = bind_blob(st, 5, d[i].envelope,
		    (size_t)d[i].size)) != SQLITE_OK ||
		    (rc = bind_text(st, 6, d[i].push ? "push" : "pull")) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 7, d[i].obsolete_ms)) != SQLITE_OK) {
			q_done(st);
			return dberr(rc);
		}
		if ((r = q_exec(st)) != 0)
			return r;
	}
	return 0;
}

struct fixed_receipt {
	const unsigned char *p;
	size_t len;
};

static int
copy_receipt(void *arg, int64_t log_index, unsigned char **out, size_t *len)
{
	const struct fixed_receipt *fr = arg;
	unsigned char *buf;

	(void)log_index;
	if ((buf = malloc(fr->len + 1)) == NULL)
		return GW_ERR_NOMEM;
	if (fr->len)
		memcpy(buf, fr->p, fr->len);
	*out = buf;
	*len = fr->len;
	return 0;
}

/*
 * Deliveries start waiting, never fetched or closed: the state, fetched_ms
 * and closed_ms of d are ignored.  d[i].size is the length of d[i].envelope.
 * An audit event's time is the store's clock when it is written.
 */
int
store_accept(struct store *s, const struct store_msg *m,
    const unsigned char *receipt, size_t receipt_len,
    const struct store_delivery *d, size_t nd,
    const struct store_audit *ev, size_t nev)
{
	int r;

	struct fixed_receipt fr = { receipt, receipt_len };

	if ((r = accept_check(m, receipt, receipt_len, d, nd, ev, nev)) != 0)
		return r;
	if ((r = txn_begin(s)) != 0)
		return r;
	r = accept_write(s, m, copy_receipt, &fr, d, nd, ev, nev);
	return txn_end(s, r);
}

int
store_accept_fn(struct store *s, const struct store_msg *m,
    store_receipt_fn fn, void *arg, const struct store_delivery *d, size_t nd,
    const struct store_audit *ev, size_t nev)
{
	return store_accept_att(s, m, fn, arg, d, nd, NULL, 0, NULL, 0, ev, nev);
}

int
store_accept_att(struct store *s, const struct store_msg *m,
    store_receipt_fn fn, void *arg, const struct store_delivery *d, size_t nd,
    const struct store_att *a, size_t na, const struct store_att_doc *doc,
    size_t ndoc, const struct store_audit *ev, size_t nev)
{
	int r;

	if (fn == NULL)
		return GW_ERR_INVALID;
	if ((r = accept_check(m, NULL, 0, d, nd, ev, nev)) != 0)
		return r;
	if ((r = txn_begin(s)) != 0)
		return r;
	r = accept_write(s, m, fn, arg, d, nd, ev, nev);
	if (r == 0 && na > 0)
		r = store_att_insert(s, m->id, a, na, doc, ndoc);
	return txn_end(s, r);
}

/* For store_log.c (store_int.h). */
sqlite3 *
store_int_db(struct store *s)
{
	return s->db;
}

int
store_int_prep(struct store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : dberr(rc);
}

int
store_int_err(int rc)
{
	return dberr(rc);
}

int
store_audit_in_txn(struct store *s, const struct store_audit *ev)
{
	int r;

	if ((r = audit_check(ev)) != 0)
		return r;
	return audit_insert(s, ev, util_now_ms());
}

int
store_int_begin(struct store *s)
{
	return txn_begin(s);
}

int
store_int_end(struct store *s, int r)
{
	return txn_end(s, r);
}

int
store_lookup_portal(struct store *s, const char *portal,
    const char *portal_msg_id, char id[40], char sha256[65],
    unsigned char **receipt, size_t *receipt_len)
{
	sqlite3_stmt *st = s->q[Q_PORTAL_LOOKUP];
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = GW_ERR_INTERNAL, rc;

	if (portal == NULL || portal_msg_id == NULL || id == NULL ||
	    sha256 == NULL || (receipt != NULL && receipt_len == NULL))
		return GW_ERR_INVALID;
	if ((rc = bind_text(st, 1, portal)) != SQLITE_OK ||
	    (rc = bind_text(st, 2, portal_msg_id)) != SQLITE_OK) {
		r = dberr(rc);
		goto out;
	}
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? GW_ERR_NOT_FOUND : dberr(rc);
		goto out;
	}
	if (receipt != NULL && (r = col_blob(st, 2, &buf, &len)) != 0)
		goto out;
	col_text(st, 0, id, 40);
	col_text(st, 1, sha256, 65);
	if (receipt != NULL) {
		*receipt = buf;
		*receipt_len = len;
		buf = NULL;
	}
	r = 0;
 out:
	q_done(st);
	free(buf);
	return r;
}

/* Reads the deliveries of msg_id (without envelopes) into a new array. */
static int
dlv_list(struct store *s, const char *msg_id, struct store_delivery **out,
    size_t *nout)
{
	sqlite3_stmt *st = s->q[Q_DLV_LIST];
	struct store_delivery *rows = NULL, *tmp, *d;
	size_t n = 0, cap = 0;
	int r = GW_ERR_INTERNAL, rc;

	if ((rc = bind_text(st, 1, msg_id)) != SQLITE_OK) {
		r = dberr(rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((tmp = grow(rows, &cap, n, sizeof(*rows))) == NULL) {
			r = GW_ERR_NOMEM;
			goto out;
		}
		rows = tmp;
		d = &rows[n++];
		memset(d, 0, sizeof(*d));
		col_text(st, 0, d->reader, sizeof(d->reader));
		col_text(st, 1, d->state, sizeof(d->state));
		d->size = sqlite3_column_int64(st, 2);
		d->created_ms = sqlite3_column_int64(st, 3);
		d->fetched_ms = sqlite3_column_int64(st, 4);
		d->closed_ms = sqlite3_column_int64(st, 5);
		d->push = sqlite3_column_text(st, 6) != NULL &&
		    strcmp((const char *)sqlite3_column_text(st, 6), "push") == 0;
		d->attempts = sqlite3_column_int(st, 7);
		col_text(st, 8, d->last_error, sizeof(d->last_error));
		d->obsolete_ms = sqlite3_column_int64(st, 9);
	}
	if (rc != SQLITE_DONE) {
		r = dberr(rc);
		goto out;
	}
	*out = rows;
	*nout = n;
	rows = NULL;
	r = 0;
 out:
	q_done(st);
	free(rows);
	return r;
}

/*
 * The message row never changes after store_accept(), so reading it and
 * the deliveries in two statements (two snapshots) is consistent enough:
 * the delivery list itself is one snapshot.  *d is NULL when *nd is 0.
 */
int
store_get_msg(struct store *s, const char *id, struct store_msg *m,
    struct store_delivery **d, size_t *nd)
{
	sqlite3_stmt *st = s->q[Q_MSG_GET];
	struct store_msg msg;
	int r = GW_ERR_INTERNAL, rc;

	if (id == NULL || m == NULL || d == NULL || nd == NULL)
		return GW_ERR_INVALID;
	memset(&msg, 0, sizeof(msg));
	if ((rc = bind_text(st, 1, id)) != SQLITE_OK) {
		r = dberr(rc);
		goto out;
	}
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? GW_ERR_NOT_FOUND : dberr(rc);
		goto out;
	}
	msg_read(st, &msg);
	if (sqlite3_column_type(st, MSG_NCOLS) != SQLITE_NULL &&
	    (r = col_blob(st, MSG_NCOLS, &msg.report, &msg.report_len)) != 0)
		goto out;
	q_done(st);
	if ((r = dlv_list(s, id, d, nd)) != 0)
		goto out;
	*m = msg;
	msg.report = NULL;
	r = 0;
 out:
	q_done(st);
	free(msg.report);
	return r;
}

void
store_msg_clear(struct store_msg *m)
{
	if (m == NULL)
		return;
	free(m->report);
	m->report = NULL;
	m->report_len = 0;
}

/* The size of an entry is that of the reader's envelope (what it fetches). */
int
store_mailbox_list(struct store *s, const char *reader, int64_t after,
    int limit, struct store_mbox_entry **out, size_t *nout)
{
	sqlite3_stmt *st = s->q[Q_MBOX_LIST];
	struct store_mbox_entry *rows = NULL, *tmp, *e;
	size_t n = 0, cap = 0;
	int r = GW_ERR_INTERNAL, rc;

	if (reader == NULL || out == NULL || nout == NULL)
		return GW_ERR_INVALID;
	if ((rc = bind_text(st, 1, reader)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, after)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(st, 3, clamp_limit(limit))) != SQLITE_OK) {
		r = dberr(rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((tmp = grow(rows, &cap, n, sizeof(*rows))) == NULL) {
			r = GW_ERR_NOMEM;
			goto out;
		}
		rows = tmp;
		e = &rows[n++];
		memset(e, 0, sizeof(*e));
		e->seq = sqlite3_column_int64(st, 0);
		col_text(st, 1, e->msg_id, sizeof(e->msg_id));
		e->size = sqlite3_column_int64(st, 2);
		col_text(st, 3, e->service, sizeof(e->service));
		e->received_ms = sqlite3_column_int64(st, 4);
	}
	if (rc != SQLITE_DONE) {
		r = dberr(rc);
		goto out;
	}
	*out = rows;
	*nout = n;
	rows = NULL;
	r = 0;
 out:
	q_done(st);
	free(rows);
	return r;
}

int
store_mailbox_count(struct store *s, const char *reader, int64_t *n)
{
	sqlite3_stmt *st = s->q[Q_MBOX_COUNT];
	int r = GW_ERR_INTERNAL, rc;

	if (reader == NULL || n == NULL)
		return GW_ERR_INVALID;
	if ((rc = bind_text(st, 1, reader)) != SQLITE_OK ||
	    (rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = dberr(rc);
		goto out;
	}
	*n = sqlite3_column_int64(st, 0);
	r = 0;
 out:
	q_done(st);
	return r;
}

/* The body of store_mailbox_fetch(), inside its transaction. */
static int
fetch_write(struct store *s, const char *reader, const char *msg_id,
    int64_t now_ms, const struct store_audit *ev, unsigned char **env,
    size_t *len)
{
	sqlite3_stmt *st = s->q[Q_ENV_GET];
	int r, rc;

	if ((rc = bind_key(st, msg_id, reader)) != SQLITE_OK) {
		q_done(st);
		return dberr(rc);
	}
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		q_done(st);
		return rc == SQLITE_DONE ? GW_ERR_NOT_FOUND : dberr(rc);
	}
	r = col_blob(st, 0, env, len);
	q_done(st);
	if (r != 0)
		return r;
	/* Only the first fetch sets fetched_ms (the update then matches). */
	st = s->q[Q_FETCH_MARK];
	if ((rc = bind_key(st, msg_id, reader)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 3, now_ms)) != SQLITE_OK) {
		q_done(st);
		return dberr(rc);
	}
	if ((r = q_exec(st)) != 0)
		return r;
	return audit_insert(s, ev, util_now_ms());
}

int
store_mailbox_fetch(struct store *s, const char *reader,
    const char *msg_id, int64_t now_ms, const struct store_audit *ev,
    unsigned char **env, size_t *len)
{
	unsigned char *buf = NULL;
	size_t n = 0;
	int r;

	if (reader == NULL || msg_id == NULL || env == NULL || len == NULL)
		return GW_ERR_INVALID;
	if ((r = audit_check(ev)) != 0)
		return r;
	if ((r = txn_begin(s)) != 0)
		return r;
	r = fetch_write(s, reader, msg_id, now_ms, ev, &buf, &n);
	if ((r = txn_end(s, r)) == 0) {
		*env = buf;
		*len = n;
		buf = NULL;
	}
	free(buf);
	return r;
}

/* The body of store_mailbox_close(), inside its transaction. */
static int
close_write(struct store *s, const char *reader, const char *msg_id,
    int64_t now_ms, const struct store_audit *ev)
{
	sqlite3_stmt *st = s->q[Q_CLOSE_MARK];
	int r, rc;

	if ((rc = bind_key(st, msg_id, reader)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 3, now_ms)) != SQLITE_OK) {
		q_done(st);
		return dberr(rc);
	}
	if ((r = q_exec(st)) != 0)
		return r;
	if (sqlite3_changes(s->db) == 0) {
		/* Closed already (keeps its time), or no such delivery. */
		st = s->q[Q_DLV_EXISTS];
		if ((rc = bind_key(st, msg_id, reader)) == SQLITE_OK)
			rc = sqlite3_step(st);
		q_done(st);
		if (rc != SQLITE_ROW)
			return rc == SQLITE_DONE ? GW_ERR_NOT_FOUND : dberr(rc);
	}
	/* A repeated close is still a request an auditor wants to see. */
	return audit_insert(s, ev, util_now_ms());
}

int
store_mailbox_close(struct store *s, const char *reader,
    const char *msg_id, int64_t now_ms, const struct store_audit *ev)
{
	int r;

	if (reader == NULL || msg_id == NULL)
		return GW_ERR_INVALID;
	if ((r = audit_check(ev)) != 0)
		return r;
	if ((r = txn_begin(s)) != 0)
		return r;
	r = close_write(s, reader, msg_id, now_ms, ev);
	return txn_end(s, r);
}

int
store_audit(struct store *s, const struct store_audit *ev)
{
	int r;

	if ((r = audit_check(ev)) != 0)
		return r;
	if ((r = txn_begin(s)) != 0)
		return r;
	r = audit_insert(s, ev, util_now_ms());
	return txn_end(s, r);
}

int
store_audit_list(struct store *s, int64_t after, int limit,
    struct store_audit_row **out, size_t *nout)
{
	sqlite3_stmt *st = s->q[Q_AUDIT_LIST];
	struct store_audit_row *rows = NULL, *tmp, *a;
	size_t n = 0, cap = 0;
	int r = GW_ERR_INTERNAL, rc;

	if (out == NULL || nout == NULL)
		return GW_ERR_INVALID;
	if ((rc = sqlite3_bind_int64(st, 1, after)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(st, 2, clamp_limit(limit))) != SQLITE_OK) {
		r = dberr(rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((tmp = grow(rows, &cap, n, sizeof(*rows))) == NULL) {
			r = GW_ERR_NOMEM;
			goto out;
		}
		rows = tmp;
		a = &rows[n++];
		a->seq = sqlite3_column_int64(st, 0);
		a->time_ms = sqlite3_column_int64(st, 1);
		col_text(st, 2, a->event, sizeof(a->event));
		col_text(st, 3, a->actor, sizeof(a->actor));
		col_text(st, 4, a->msg_id, sizeof(a->msg_id));
		col_text(st, 5, a->reader, sizeof(a->reader));
		col_text(st, 6, a->code, sizeof(a->code));
		col_text(st, 7, a->detail, sizeof(a->detail));
	}
	if (rc != SQLITE_DONE) {
		r = dberr(rc);
		goto out;
	}
	*out = rows;
	*nout = n;
	rows = NULL;
	r = 0;
 out:
	q_done(st);
	free(rows);
	return r;
}
