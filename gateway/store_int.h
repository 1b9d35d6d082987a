/*
 * store_int.h - what store.c shares with store_log.c, and nobody else.
 */
#ifndef GW_STORE_INT_H
#define GW_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

sqlite3 *store_int_db(struct store *s);
int store_int_err(int rc);		/* SQLite result code -> GW_ERR_* */
int store_int_begin(struct store *s);	/* BEGIN IMMEDIATE */
int store_int_end(struct store *s, int r); /* COMMIT if r == 0, else ROLLBACK */
/* Prepares an uncached statement (finalize it yourself). */
int store_int_prep(struct store *s, const char *sql, sqlite3_stmt **st);
/* Appends an audit event inside the caller's transaction. */
int store_audit_in_txn(struct store *s, const struct store_audit *ev);

/* store_att.c: writes a message's attachments inside the accept txn. */
int store_att_insert(struct store *s, const char *msg_id,
    const struct store_att *a, size_t na, const struct store_att_doc *doc,
    size_t ndoc);

/* Spool files to remove once a transaction has committed. */
struct store_paths {
	char **v;
	size_t n;
};
/*
 * Retention, inside the purge's transaction: drops reader's attachment
 * documents of msg_id and, once no reader's envelope is left, marks the
 * attachments purged and appends their spool files to out.
 */
int store_att_purge_in_txn(struct store *s, const char *msg_id,
    const char *reader, struct store_paths *out);
/* Unlinks the files (names in spool_dir; NULL: only frees) and frees
 * the list (after the commit). */
void store_paths_unlink(struct store_paths *p, const char *spool_dir);

#endif
