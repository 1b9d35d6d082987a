/*
 * store_dlv.c - push delivery bookkeeping in the store (schema version 3).
 *
 * The life of a push delivery: queued -> delivering -> delivered, or back
 * to queued with a later next_attempt_ms, or failed/expired/cancelled.
 * Each step is one IMMEDIATE transaction together with its audit event, so
 * after a crash the store says exactly what was attempted; deliveries left
 * delivering by a crash are put back to queued at start (store_dlv_recover)
 * and sent again with the same message id, which the authority
 * de-duplicates.  Nothing here deletes a row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_int_err(rc);
}

/* Runs an UPDATE binding (?1 msg_id, ?2 reader) plus what bind() adds;
 * GW_ERR_STATE when no row matched. */
static int
update_one(struct store *s, const char *sql, const char *msg_id,
    const char *reader, int64_t i3, const char *t4, const void *b5, size_t l5)
{
	sqlite3_stmt *st;
	int r, rc;

	if ((r = store_int_prep(s, sql, &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, msg_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reader, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, i3);
	if (t4)
		sqlite3_bind_text(st, 4, t4, -1, SQLITE_STATIC);
	if (b5)
		sqlite3_bind_blob64(st, 5, b5, (sqlite3_uint64)l5, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_int_err(rc);
	return sqlite3_changes(store_int_db(s)) == 1 ? 0 : GW_ERR_STATE;
}

static int
with_event(struct store *s, int r, const struct store_audit *ev)
{
	if (r == 0 && ev)
		r = store_audit_in_txn(s, ev);
	return r;
}

void
store_claims_free(struct store_claim *c, size_t n)
{
	size_t i;

	for (i = 0; c && i < n; i++)
		free(c[i].envelope);
	free(c);
}

/* The body of store_dlv_claim(), inside its transaction. */
static int
claim(struct store *s, int64_t now_ms, int max,
    int (*skip)(void *arg, const char *reader), void *arg,
    struct store_claim *out, size_t *n)
{
	sqlite3_stmt *st;
	struct store_claim *c;
	struct store_audit ev = { .event = "delivery.attempt", .actor = "gateway",
	    .code = "OK" };
	char detail[64];
	const void *p;
	int r, rc, len;

	if ((r = store_int_prep(s, "SELECT msg_id, reader, attempts, created_ms, envelope"
	    " FROM deliveries WHERE state = 'queued' AND next_attempt_ms <= ?1"
	    " ORDER BY created_ms, seq LIMIT 200", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, now_ms);
	while ((int)*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *reader = (const char *)sqlite3_column_text(st, 1);

		if (reader == NULL || (skip && skip(arg, reader)))
			continue;
		c = &out[*n];
		memset(c, 0, sizeof(*c));
		util_strlcpy(c->msg_id, (const char *)sqlite3_column_text(st, 0),
		    sizeof(c->msg_id));
		util_strlcpy(c->reader, reader, sizeof(c->reader));
		c->attempts = sqlite3_column_int(st, 2) + 1;
		c->created_ms = sqlite3_column_int64(st, 3);
		len = sqlite3_column_bytes(st, 4);
		p = sqlite3_column_blob(st, 4);
		if ((c->envelope = malloc((size_t)len + 1)) == NULL) {
			sqlite3_finalize(st);
			return GW_ERR_NOMEM;
		}
		if (len > 0)
			memcpy(c->envelope, p, (size_t)len);
		c->envelope_len = (size_t)len;
		(*n)++;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < *n; i++) {
		c = &out[i];
		r = update_one(s, "UPDATE deliveries SET state = 'delivering',"
		    " attempts = ?3 WHERE msg_id = ?1 AND reader = ?2"
		    " AND state = 'queued'", c->msg_id, c->reader, c->attempts,
		    NULL, NULL, 0);
		snprintf(detail, sizeof(detail), "attempt %d", c->attempts);
		ev.msg_id = c->msg_id;
		ev.reader = c->reader;
		ev.detail = detail;
		if ((r = with_event(s, r, &ev)) != 0)
			return r;
	}
	return 0;
}

int
store_dlv_claim(struct store *s, int64_t now_ms, int max,
    int (*skip)(void *arg, const char *reader), void *arg,
    struct store_claim **out, size_t *nout)
{
	struct store_claim *c;
	size_t n = 0;
	int r;

	if (max < 1)
		return GW_ERR_INVALID;
	if ((c = calloc((size_t)max, sizeof(*c))) == NULL)
		return GW_ERR_NOMEM;
	if ((r = store_int_begin(s)) != 0) {
		free(c);
		return r;
	}
	r = store_int_end(s, claim(s, now_ms, max, skip, arg, c, &n));
	if (r != 0) {
		store_claims_free(c, n);
		return r;
	}
	*out = c;
	*nout = n;
	return 0;
}

int
store_dlv_delivered(struct store *s, const char *msg_id, const char *reader,
    const unsigned char *receipt, size_t len, int64_t reception_ms,
    const struct store_audit *ev)
{
	int r;

	if ((r = store_int_begin(s)) != 0)
		return r;
	r = update_one(s, "UPDATE deliveries SET state = 'delivered',"
	    " closed_ms = ?3, last_error = NULL, reception_receipt = ?5"
	    " WHERE msg_id = ?1 AND reader = ?2 AND state = 'delivering'",
	    msg_id, reader, reception_ms, NULL, receipt, len);
	return store_int_end(s, with_event(s, r, ev));
}

int
store_dlv_retry(struct store *s, const char *msg_id, const char *reader,
    int64_t next_ms, const char *error, const struct store_audit *ev)
{
	int r;

	if ((r = store_int_begin(s)) != 0)
		return r;
	r = update_one(s, "UPDATE deliveries SET state = 'queued',"
	    " next_attempt_ms = ?3, last_error = ?4 WHERE msg_id = ?1"
	    " AND reader = ?2 AND state = 'delivering'", msg_id, reader, next_ms,
	    error, NULL, 0);
	return store_int_end(s, with_event(s, r, ev));
}

int
store_dlv_give_up(struct store *s, const char *msg_id, const char *reader,
    const char *state, const char *error, const struct store_audit *ev)
{
	int r;

	if (strcmp(state, STORE_ST_FAILED) != 0 &&
	    strcmp(state, STORE_ST_EXPIRED) != 0)
		return GW_ERR_INVALID;
	if ((r = store_int_begin(s)) != 0)
		return r;
	r = update_one(s, "UPDATE deliveries SET state = ?4, last_error = ?5,"
	    " next_attempt_ms = ?3 WHERE msg_id = ?1 AND reader = ?2"
	    " AND state IN ('queued', 'delivering', 'waiting')", msg_id, reader,
	    0, state, error, error ? strlen(error) : 0);
	return store_int_end(s, with_event(s, r, ev));
}

/* Moves every row selected by sel (msg_id, reader) with one event each. */
static int
move_all(struct store *s, const char *sel, const char *upd,
    const char *event, const char *code, const char *detail, int64_t now,
    int *count)
{
	sqlite3_stmt *st;
	struct store_audit ev = { .event = event, .actor = "gateway",
	    .code = code, .detail = detail };
	char (*keys)[2][64] = NULL;
	size_t n = 0, cap = 0, i;
	int r, rc;

	if ((r = store_int_prep(s, sel, &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			void *tmp = reallocarray(keys, cap = cap ? cap * 2 : 64,
			    sizeof(*keys));
			if (tmp == NULL) {
				sqlite3_finalize(st);
				free(keys);
				return GW_ERR_NOMEM;
			}
			keys = tmp;
		}
		util_strlcpy(keys[n][0], (const char *)sqlite3_column_text(st, 0), 64);
		util_strlcpy(keys[n][1], (const char *)sqlite3_column_text(st, 1), 64);
		n++;
	}
	sqlite3_finalize(st);
	r = rc == SQLITE_DONE ? 0 : store_int_err(rc);
	for (i = 0; r == 0 && i < n; i++) {
		r = update_one(s, upd, keys[i][0], keys[i][1], now, NULL, NULL, 0);
		ev.msg_id = keys[i][0];
		ev.reader = keys[i][1];
		r = with_event(s, r, &ev);
	}
	free(keys);
	if (r == 0 && count)
		*count = (int)n;
	return r;
}

int
store_dlv_recover(struct store *s, int *n)
{
	int r;

	if ((r = store_int_begin(s)) != 0)
		return r;
	r = move_all(s, "SELECT msg_id, reader FROM deliveries WHERE"
	    " state = 'delivering' AND ?1 >= 0",
	    "UPDATE deliveries SET state = 'queued', next_attempt_ms = ?3"
	    " WHERE msg_id = ?1 AND reader = ?2 AND state = 'delivering'",
	    "delivery.recovered", "OK", "an attempt was under way when the "
	    "gateway stopped; it will be sent again with the same message id",
	    0, n);
	return store_int_end(s, r);
}

int
store_dlv_expire(struct store *s, int64_t now_ms, int *n)
{
	int r;

	if ((r = store_int_begin(s)) != 0)
		return r;
	r = move_all(s, "SELECT msg_id, reader FROM deliveries WHERE"
	    " state IN ('waiting', 'queued') AND obsolete_ms > 0"
	    " AND obsolete_ms <= ?1",
	    "UPDATE deliveries SET state = 'expired', last_error ="
	    " 'not delivered before ObsoleteAfter' WHERE msg_id = ?1"
	    " AND reader = ?2 AND state IN ('waiting', 'queued')",
	    "delivery.expired", "EXPIRED", "not delivered before its "
	    "ObsoleteAfter time", now_ms, n);
	return store_int_end(s, r);
}

int
store_dlv_cancel(struct store *s, const char *portal, const char *msg_id,
    const struct store_audit *ev, int *ncancelled)
{
	sqlite3_stmt *st;
	int r, rc, n = 0;

	if ((r = store_int_begin(s)) != 0)
		return r;
	if ((r = store_int_prep(s, "SELECT 1 FROM messages WHERE id = ?1 AND portal = ?2",
	    &st)) != 0)
		goto out;
	sqlite3_bind_text(st, 1, msg_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, portal, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? GW_ERR_NOT_FOUND : store_int_err(rc);
		goto out;
	}
	if ((r = store_int_prep(s, "UPDATE deliveries SET state = 'cancelled' WHERE"
	    " msg_id = ?1 AND state IN ('waiting', 'queued')", &st)) != 0)
		goto out;
	sqlite3_bind_text(st, 1, msg_id, -1, SQLITE_STATIC);
	if ((r = step_done(st)) != 0)
		goto out;
	n = sqlite3_changes(store_int_db(s));
	if (n == 0) {
		r = GW_ERR_STATE;
		goto out;
	}
	r = with_event(s, 0, ev);
 out:
	r = store_int_end(s, r);
	if (r == 0 && ncancelled)
		*ncancelled = n;
	return r;
}

int
store_dlv_receipt(struct store *s, const char *msg_id, const char *reader,
    unsigned char **out, size_t *len)
{
	sqlite3_stmt *st;
	unsigned char *buf;
	int r, rc, n;

	if ((r = store_int_prep(s, "SELECT reception_receipt FROM deliveries WHERE"
	    " msg_id = ?1 AND reader = ?2 AND reception_receipt IS NOT NULL",
	    &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, msg_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reader, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? GW_ERR_NOT_FOUND : store_int_err(rc);
	}
	n = sqlite3_column_bytes(st, 0);
	if ((buf = malloc((size_t)n + 1)) == NULL) {
		sqlite3_finalize(st);
		return GW_ERR_NOMEM;
	}
	if (n > 0)
		memcpy(buf, sqlite3_column_blob(st, 0), (size_t)n);
	buf[n] = 0;
	sqlite3_finalize(st);
	*out = buf;
	*len = (size_t)n;
	return 0;
}

int
store_dlv_count(struct store *s, const char *state, int64_t *n)
{
	sqlite3_stmt *st;
	int r, rc;

	if ((r = store_int_prep(s, "SELECT count(*) FROM deliveries WHERE mode = 'push'"
	    " AND state = ?1", &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_int_err(rc);
}

int
store_msg_events(struct store *s, const char *msg_id,
    struct store_audit_row **out, size_t *nout)
{
	struct store_audit_row *rows = NULL, *tmp, *a;
	sqlite3_stmt *st;
	size_t n = 0, cap = 0;
	int r, rc;

	if ((r = store_int_prep(s, "SELECT seq, time_ms, event, actor, msg_id, reader,"
	    " code, detail FROM audit WHERE msg_id = ?1 ORDER BY seq LIMIT 1000",
	    &st)) != 0)
		return r;
	sqlite3_bind_text(st, 1, msg_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if ((tmp = reallocarray(rows, cap, sizeof(*rows))) == NULL) {
				sqlite3_finalize(st);
				free(rows);
				return GW_ERR_NOMEM;
			}
			rows = tmp;
		}
		a = &rows[n++];
		memset(a, 0, sizeof(*a));
		a->seq = sqlite3_column_int64(st, 0);
		a->time_ms = sqlite3_column_int64(st, 1);
#define COPY(i, f) util_strlcpy(a->f, sqlite3_column_text(st, i) ? \
		    (const char *)sqlite3_column_text(st, i) : "", sizeof(a->f))
		COPY(2, event);
		COPY(3, actor);
		COPY(4, msg_id);
		COPY(5, reader);
		COPY(6, code);
		COPY(7, detail);
#undef COPY
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(rows);
		return store_int_err(rc);
	}
	*out = rows;
	*nout = n;
	return 0;
}
