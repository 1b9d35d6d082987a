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

#endif
