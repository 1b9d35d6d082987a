/*
 * store_att.c - the attachments of messages (schema version 4, store.c).
 *
 * A message's attachments are rows of `attachments`, one per attachment in
 * list order, naming the spool file that holds IV || ciphertext || tag.
 * For every reader and attachment, `attachment_docs` holds the header and
 * footer of that reader's XML-Enc document; its body is the base64 of the
 * spool file, produced while it is sent (crypto/attach.h).  The bytes of an
 * attachment never enter the database.
 *
 * Invariant: rows are written in the transaction that accepts the message,
 * after the spool files were fsync'd and renamed into place, so a
 * committed row always names a complete file.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "err.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

#define ATT_COLS "n, att_id, filename, content_type, size, sha256," \
	" cipher_size, cipher_sha256, path"

static int
bind_t(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void
col_t(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	util_strlcpy(dst, v ? v : "", size);
}

static void
read_att(sqlite3_stmt *st, struct store_att *a)
{
	memset(a, 0, sizeof(*a));
	a->n = sqlite3_column_int(st, 0);
	col_t(st, 1, a->att_id, sizeof(a->att_id));
	col_t(st, 2, a->filename, sizeof(a->filename));
	col_t(st, 3, a->content_type, sizeof(a->content_type));
	a->size = sqlite3_column_int64(st, 4);
	col_t(st, 5, a->sha256, sizeof(a->sha256));
	a->cipher_size = sqlite3_column_int64(st, 6);
	col_t(st, 7, a->cipher_sha256, sizeof(a->cipher_sha256));
	col_t(st, 8, a->path, sizeof(a->path));
}

/* A malloc'd, NUL-terminated copy of blob column i. */
static int
col_b(sqlite3_stmt *st, int i, char **out, size_t *len)
{
	const void *p = sqlite3_column_blob(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	if ((*out = malloc(n + 1)) == NULL)
		return GW_ERR_NOMEM;
	if (n > 0)
		memcpy(*out, p, n);
	(*out)[n] = '\0';
	*len = n;
	return 0;
}

int
store_att_insert(struct store *s, const char *msg_id, const struct store_att *a,
    size_t na, const struct store_att_doc *doc, size_t ndoc)
{
	sqlite3_stmt *ins = NULL, *dins = NULL;
	size_t i;
	int r, rc = SQLITE_OK;

	if ((r = store_int_prep(s, "INSERT INTO attachments (msg_id, " ATT_COLS
	    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", &ins)) != 0 ||
	    (r = store_int_prep(s, "INSERT INTO attachment_docs (msg_id, reader,"
	    " n, header, footer) VALUES (?1, ?2, ?3, ?4, ?5)", &dins)) != 0)
		goto out;
	for (i = 0; i < na && rc == SQLITE_OK; i++) {
		if (!a[i].path[0] || strnlen(a[i].att_id, sizeof(a[i].att_id)) ==
		    sizeof(a[i].att_id)) {
			r = GW_ERR_INVALID;
			goto out;
		}
		if ((rc = bind_t(ins, 1, msg_id)) == SQLITE_OK &&
		    (rc = sqlite3_bind_int(ins, 2, a[i].n)) == SQLITE_OK &&
		    (rc = bind_t(ins, 3, a[i].att_id)) == SQLITE_OK &&
		    (rc = bind_t(ins, 4, a[i].filename)) == SQLITE_OK &&
		    (rc = bind_t(ins, 5, a[i].content_type)) == SQLITE_OK &&
		    (rc = sqlite3_bind_int64(ins, 6, a[i].size)) == SQLITE_OK &&
		    (rc = bind_t(ins, 7, a[i].sha256)) == SQLITE_OK &&
		    (rc = sqlite3_bind_int64(ins, 8, a[i].cipher_size)) == SQLITE_OK &&
		    (rc = bind_t(ins, 9, a[i].cipher_sha256)) == SQLITE_OK &&
		    (rc = bind_t(ins, 10, a[i].path)) == SQLITE_OK) {
			rc = sqlite3_step(ins);
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		sqlite3_reset(ins);
	}
	for (i = 0; i < ndoc && rc == SQLITE_OK; i++) {
		if ((rc = bind_t(dins, 1, msg_id)) == SQLITE_OK &&
		    (rc = bind_t(dins, 2, doc[i].reader)) == SQLITE_OK &&
		    (rc = sqlite3_bind_int(dins, 3, doc[i].n)) == SQLITE_OK &&
		    (rc = sqlite3_bind_blob64(dins, 4, doc[i].header,
		    doc[i].header_len, SQLITE_STATIC)) == SQLITE_OK &&
		    (rc = sqlite3_bind_blob64(dins, 5, doc[i].footer,
		    doc[i].footer_len, SQLITE_STATIC)) == SQLITE_OK) {
			rc = sqlite3_step(dins);
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		sqlite3_reset(dins);
	}
	r = rc == SQLITE_OK ? 0 : store_int_err(rc);
 out:
	sqlite3_finalize(ins);
	sqlite3_finalize(dins);
	return r;
}

int
store_att_list(struct store *s, const char *msg_id, struct store_att **out,
    size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct store_att *v = NULL, *p;
	size_t cnt = 0;
	int r, rc;

	*out = NULL;
	*n = 0;
	if ((r = store_int_prep(s, "SELECT " ATT_COLS " FROM attachments"
	    " WHERE msg_id = ?1 ORDER BY n", &st)) != 0)
		return r;
	bind_t(st, 1, msg_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((p = realloc(v, (cnt + 1) * sizeof(*v))) == NULL) {
			r = GW_ERR_NOMEM;
			goto out;
		}
		v = p;
		read_att(st, &v[cnt++]);
	}
	if (rc != SQLITE_DONE) {
		r = store_int_err(rc);
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	r = 0;
 out:
	free(v);
	sqlite3_finalize(st);
	return r;
}

int
store_att_get(struct store *s, const char *msg_id, const char *reader,
    const char *att_id, struct store_att *a, char **hdr, size_t *hdrlen,
    char **ftr, size_t *ftrlen)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*hdr = *ftr = NULL;
	if ((r = store_int_prep(s, "SELECT a.n, a.att_id, a.filename,"
	    " a.content_type, a.size, a.sha256, a.cipher_size, a.cipher_sha256,"
	    " a.path, d.header, d.footer FROM attachments a"
	    " JOIN attachment_docs d ON d.msg_id = a.msg_id AND d.n = a.n"
	    " WHERE a.msg_id = ?1 AND d.reader = ?2 AND a.att_id = ?3", &st)) != 0)
		return r;
	bind_t(st, 1, msg_id);
	bind_t(st, 2, reader);
	bind_t(st, 3, att_id);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? GW_ERR_NOT_FOUND : store_int_err(rc);
		goto out;
	}
	read_att(st, a);
	if (a->path[0] == '\0') {
		r = GW_ERR_GONE;
		goto out;
	}
	if ((r = col_b(st, 9, hdr, hdrlen)) != 0 ||
	    (r = col_b(st, 10, ftr, ftrlen)) != 0) {
		free(*hdr);
		*hdr = NULL;
		goto out;
	}
	r = 0;
 out:
	sqlite3_finalize(st);
	return r;
}

int
store_att_known(struct store *s, const char *name)
{
	sqlite3_stmt *st = NULL;
	char id[40];
	int r, rc;

	/* gw-<32 hex>-<n>.bin: the message id is the first 35 characters */
	util_strlcpy(id, name, sizeof(id));
	if (strlen(id) > 35)
		id[35] = '\0';
	if ((r = store_int_prep(s, "SELECT 1 FROM attachments WHERE path = ?1"
	    " UNION ALL SELECT 1 FROM messages WHERE id = ?2", &st)) != 0)
		return r;
	bind_t(st, 1, name);
	bind_t(st, 2, id);
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_int_err(rc);
	sqlite3_finalize(st);
	return r;
}

int
store_att_purge_in_txn(struct store *s, const char *msg_id, const char *reader,
    struct store_paths *out)
{
	sqlite3_stmt *st = NULL;
	char **p;
	int r, rc, live;

	if ((r = store_int_prep(s, "DELETE FROM attachment_docs"
	    " WHERE msg_id = ?1 AND reader = ?2", &st)) != 0)
		return r;
	bind_t(st, 1, msg_id);
	bind_t(st, 2, reader);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_int_err(rc);
	/* The files go only once no reader's envelope is left. */
	if ((r = store_int_prep(s, "SELECT count(*) FROM deliveries"
	    " WHERE msg_id = ?1 AND length(envelope) > 0", &st)) != 0)
		return r;
	bind_t(st, 1, msg_id);
	rc = sqlite3_step(st);
	live = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (live != 0)
		return live < 0 ? store_int_err(rc) : 0;
	if ((r = store_int_prep(s, "SELECT path FROM attachments"
	    " WHERE msg_id = ?1 AND path != ''", &st)) != 0)
		return r;
	bind_t(st, 1, msg_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((p = realloc(out->v, (out->n + 1) * sizeof(*p))) == NULL) {
			sqlite3_finalize(st);
			return GW_ERR_NOMEM;
		}
		out->v = p;
		if ((out->v[out->n] = strdup((const char *)
		    sqlite3_column_text(st, 0))) == NULL) {
			sqlite3_finalize(st);
			return GW_ERR_NOMEM;
		}
		out->n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_int_err(rc);
	if ((r = store_int_prep(s, "UPDATE attachments SET path = ''"
	    " WHERE msg_id = ?1", &st)) != 0)
		return r;
	bind_t(st, 1, msg_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_int_err(rc);
}

void
store_paths_unlink(struct store_paths *p, const char *spool_dir)
{
	char path[1100];
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (spool_dir && util_path_join(spool_dir, p->v[i], path,
		    sizeof(path)) == 0)
			(void)unlink(path);
		free(p->v[i]);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}
