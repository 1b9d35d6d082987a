/*
 * audit_store.c - what the audit tools share (audit.h): the gateway's
 * database read-only, the gateway certificates and checkpoint signatures,
 * a decoder of the leaf encoding written from docs/audit.md, the failure
 * lines, and the export writer (JSON lines with proofs).
 *
 * The export's proofs are built from the stored tree nodes; they are
 * evidence to be checked (gwctl audit verify --export), not conclusions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "audit.h"
#include "err.h"
#include "gwctl.h"
#include "pki.h"
#include "util.h"

const char *const audit_field_names[AUDIT_FIELDS] = {
	"event", "actor", "msg_id", "reader", "code", "detail"
};

/* ---- the database, read-only ---- */

void
audit_db_close(struct audit_db *a)
{
	sqlite3_finalize(a->node);
	if (a->db != NULL && !sqlite3_get_autocommit(a->db))
		(void)sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(a->db);
	memset(a, 0, sizeof(*a));
}

/* Opens path read-only in one read transaction (one snapshot). */
int
audit_db_open(const char *cmd, const char *path, struct audit_db *a)
{
	sqlite3_stmt *st = NULL;
	int64_t version = -1;
	int rc;

	memset(a, 0, sizeof(*a));
	if (access(path, R_OK) != 0) {
		gwctl_err(cmd, "cannot read %s: %s", path, strerror(errno));
		return GW_ERR_IO;
	}
	rc = sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(a->db, 10000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(a->db, "PRAGMA query_only = 1; BEGIN", NULL,
		    NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &st,
		    NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		version = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK && version >= 2)
		rc = sqlite3_prepare_v2(a->db, "SELECT hash FROM audit_nodes"
		    " WHERE level = ?1 AND idx = ?2", -1, &a->node, NULL);
	if (rc != SQLITE_OK || version < 2) {
		if (rc != SQLITE_OK)
			gwctl_err(cmd, "cannot read %s: %s", path, a->db ?
			    sqlite3_errmsg(a->db) : "out of memory");
		else
			gwctl_err(cmd, "%s is not a gatewayd database with an "
			    "audit log (schema version %lld)", path,
			    (long long)version);
		audit_db_close(a);
		return GW_ERR_STORE;
	}
	return 0;
}

int
audit_db_prep(struct audit_db *a, const char *cmd, const char *sql,
    sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(a->db, sql, -1, st, NULL) == SQLITE_OK)
		return 0;
	gwctl_err(cmd, "cannot read the database: %s", sqlite3_errmsg(a->db));
	return GW_ERR_STORE;
}

/* The stored hash of the perfect subtree [lo, hi): a merkle_range_fn. */
int
audit_db_node(void *arg, uint64_t lo, uint64_t hi, merkle_hash out)
{
	struct audit_db *a = arg;
	int level = 0, rc, r;

	while ((1ull << level) < hi - lo)
		level++;
	sqlite3_bind_int(a->node, 1, level);
	sqlite3_bind_int64(a->node, 2, (int64_t)(lo >> level));
	rc = sqlite3_step(a->node);
	if (rc == SQLITE_ROW &&
	    sqlite3_column_bytes(a->node, 0) == MERKLE_HASH_LEN) {
		memcpy(out, sqlite3_column_blob(a->node, 0), MERKLE_HASH_LEN);
		r = 0;
	} else
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? GW_ERR_NOT_FOUND :
		    GW_ERR_STORE;
	sqlite3_reset(a->node);
	return r;
}

/* One number from a query of one row (0 if it gives NULL). */
int
audit_db_int(struct audit_db *a, const char *cmd, const char *sql,
    int64_t bind, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	if (audit_db_prep(a, cmd, sql, &st) != 0)
		return GW_ERR_STORE;
	sqlite3_bind_int64(st, 1, bind);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		gwctl_err(cmd, "cannot read the database: %s",
		    sqlite3_errmsg(a->db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : GW_ERR_STORE;
}

/* 0, or why the row cannot be a leaf the gateway wrote. */
int
audit_row_read(sqlite3_stmt *st, struct audit_row *r, char *why,
    size_t whylen)
{
	int i, t[AUDIT_FIELDS], tt;

	/* Every field is set first, so that a row that fails can be shown.
	 * A type is read before the value: reading may convert it. */
	tt = sqlite3_column_type(st, 1);
	r->seq = sqlite3_column_int64(st, 0);
	r->time_ms = sqlite3_column_int64(st, 1);
	for (i = 0; i < AUDIT_FIELDS; i++) {
		t[i] = sqlite3_column_type(st, 2 + i);
		r->f[i] = (const char *)sqlite3_column_text(st, 2 + i);
		if (r->f[i] == NULL && t[i] != SQLITE_NULL) {
			snprintf(why, whylen, "out of memory");
			return GW_ERR_NOMEM;
		}
		if (r->f[i] == NULL)
			r->f[i] = "";
	}
	if (tt != SQLITE_INTEGER) {
		snprintf(why, whylen, "time_ms is not a number");
		return GW_ERR_INVALID;
	}
	for (i = 0; i < AUDIT_FIELDS; i++) {
		if (t[i] != SQLITE_NULL && t[i] != SQLITE_TEXT) {
			snprintf(why, whylen, "%s is not text",
			    audit_field_names[i]);
			return GW_ERR_INVALID;
		}
		/* The encoding takes C strings: the gateway never wrote NUL. */
		if (strlen(r->f[i]) !=
		    (size_t)sqlite3_column_bytes(st, 2 + i)) {
			snprintf(why, whylen, "%s contains a NUL byte",
			    audit_field_names[i]);
			return GW_ERR_INVALID;
		}
	}
	return 0;
}

/* A checkpoint row (AUDIT_CP_COLS); 0, or why it is malformed. */
int
audit_cp_read(sqlite3_stmt *st, struct store_checkpoint *cp, char *why,
    size_t whylen)
{
	const char *key = (const char *)sqlite3_column_text(st, 3);
	int n = sqlite3_column_bytes(st, 4);

	memset(cp, 0, sizeof(*cp));
	cp->tree_size = sqlite3_column_int64(st, 0);
	cp->time_ms = sqlite3_column_int64(st, 2);
	if (sqlite3_column_bytes(st, 1) != 32 || key == NULL ||
	    strlen(key) != 64 || n <= 0 || (size_t)n > sizeof(cp->sig)) {
		snprintf(why, whylen, "the row is malformed (root, key_sha256 "
		    "or signature)");
		return GW_ERR_INVALID;
	}
	memcpy(cp->root, sqlite3_column_blob(st, 1), 32);
	util_strlcpy(cp->key_sha256, key, sizeof(cp->key_sha256));
	memcpy(cp->sig, sqlite3_column_blob(st, 4), (size_t)n);
	cp->sig_len = (size_t)n;
	return 0;
}

/* ---- the gateway's certificates and checkpoint signatures ---- */

void
audit_certs_free(struct audit_certs *cs)
{
	int i;

	for (i = 0; i < cs->n; i++)
		X509_free(cs->x[i]);
	cs->n = 0;
}

int
audit_certs_load(const struct audit_opts *o, struct audit_certs *cs)
{
	int i;

	memset(cs, 0, sizeof(*cs));
	for (i = 0; i < o->ncerts; i++) {
		if (pki_read_cert(o->certs[i], &cs->x[i]) != 0) {
			gwctl_err(o->cmd, "cannot read a PEM certificate from "
			    "%s", o->certs[i]);
			audit_certs_free(cs);
			return GW_ERR_IO;
		}
		cs->n++;
		if (pki_cert_fingerprint(cs->x[i], cs->fpr[i]) != 0) {
			gwctl_err(o->cmd, "cannot fingerprint %s", o->certs[i]);
			audit_certs_free(cs);
			return GW_ERR_CRYPTO;
		}
	}
	return 0;
}

/* The signature algorithm name the gateway uses with this key. */
const char *
audit_sig_alg(X509 *x)
{
	return EVP_PKEY_get_base_id(X509_get0_pubkey(x)) == EVP_PKEY_EC ?
	    "ecdsa-sha256" : "rsa-pkcs1-sha256";
}

/* ECDSA (DER) or RSA PKCS#1 v1.5, both over SHA-256: the key decides. */
static int
sig_verify(X509 *x, const unsigned char *sig, size_t siglen,
    const unsigned char *msg, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
	    X509_get0_pubkey(x)) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/*
 * Checks a checkpoint's signature over its text with the given certificate
 * its key_sha256 names.  *xp (if not NULL) gets that certificate.
 */
int
audit_cp_check(const struct audit_certs *cs, const struct store_checkpoint *cp,
    X509 **xp, char *why, size_t whylen)
{
	char text[512];
	size_t tlen;
	int i;

	if (store_checkpoint_text(cp, text, sizeof(text), &tlen) != 0) {
		snprintf(why, whylen, "its text cannot be formed");
		return GW_ERR_INVALID;
	}
	for (i = 0; i < cs->n; i++)
		if (strcasecmp(cs->fpr[i], cp->key_sha256) == 0)
			break;
	if (i == cs->n) {
		snprintf(why, whylen, "it names the signing key sha256:%.64s, "
		    "not the given gateway certificate (sha256:%s)",
		    cp->key_sha256, cs->fpr[0]);
		return GW_ERR_SIG_INVALID;
	}
	if (!sig_verify(cs->x[i], cp->sig, cp->sig_len,
	    (const unsigned char *)text, tlen)) {
		snprintf(why, whylen, "its signature does not verify with the "
		    "gateway certificate (forged or changed)");
		return GW_ERR_SIG_INVALID;
	}
	if (xp != NULL)
		*xp = cs->x[i];
	return 0;
}

/* ---- the leaf encoding, decoded (docs/audit.md) ---- */

static uint64_t
be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Strict: the magic, two numbers, six fields, nothing after them. */
int
audit_leaf_decode(const unsigned char *p, size_t n, struct audit_leaf *v)
{
	size_t off = sizeof(AUDIT_LEAF_MAGIC);
	int i;

	if (n < off + 16 || memcmp(p, AUDIT_LEAF_MAGIC, off) != 0)
		return GW_ERR_INVALID;
	v->seq = be(p + off, 8);
	v->time_ms = be(p + off + 8, 8);
	off += 16;
	for (i = 0; i < AUDIT_FIELDS; i++) {
		if (n - off < 4)
			return GW_ERR_INVALID;
		v->len[i] = (uint32_t)be(p + off, 4);
		off += 4;
		if (n - off < v->len[i])
			return GW_ERR_INVALID;
		v->f[i] = p + off;
		off += v->len[i];
	}
	return off == n ? 0 : GW_ERR_INVALID;
}

/* Does field i of v hold exactly s? */
int
audit_leaf_field_is(const struct audit_leaf *v, int i, const char *s)
{
	return strlen(s) == v->len[i] && memcmp(v->f[i], s, v->len[i]) == 0;
}

/* A printable copy of field i (at most size - 1 bytes). */
void
audit_leaf_field(const struct audit_leaf *v, int i, char *out, size_t size)
{
	size_t n = v->len[i] < size - 1 ? v->len[i] : size - 1;

	memcpy(out, v->f[i], n);
	out[n] = '\0';
	gwctl_sanitize(out);
}

/* ---- output helpers ---- */

/* A printable, one-line copy of a value from the database ("-" if empty). */
const char *
audit_cell(const char *s, char *buf, size_t size)
{
	if (s == NULL || s[0] == '\0')
		return "-";
	util_strlcpy(buf, s, size);
	gwctl_sanitize(buf);
	return buf;
}

const char *
audit_iso(int64_t ms, char buf[32])
{
	if (ms <= 0)
		return "-";
	util_time_iso(ms, buf);
	return buf;
}

/* The one failure line: the position first, so scripts can find it. */
int
audit_fail_seq(const char *cmd, int64_t seq, const char *fmt, ...)
{
	char why[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	gwctl_err(cmd, "FAILED at seq %lld (leaf index %lld): %s",
	    (long long)seq, (long long)seq - 1, why);
	return GW_ERR_INVALID;
}

int
audit_fail_cp(const char *cmd, int64_t size, const char *fmt, ...)
{
	char why[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	gwctl_err(cmd, "FAILED at checkpoint tree_size %lld: %s",
	    (long long)size, why);
	return GW_ERR_INVALID;
}

/* ---- export: JSON lines ---- */

/* A JSON string: the bytes as they are, but '"', '\' and controls escaped. */
static void
json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
}

static void
json_hashes(FILE *f, const merkle_hash *h, size_t n)
{
	char hex[2 * MERKLE_HASH_LEN + 1];
	size_t i;

	putc('[', f);
	for (i = 0; i < n; i++) {
		util_hex(h[i], MERKLE_HASH_LEN, hex);
		fprintf(f, "%s\"%s\"", i ? "," : "", hex);
	}
	putc(']', f);
}

static int
json_b64(FILE *f, const unsigned char *p, size_t n)
{
	char *b64 = NULL;
	size_t len;

	if (util_b64_encode(p, n, &b64, &len) != 0)
		return GW_ERR_NOMEM;
	fprintf(f, "\"%s\"", b64);
	free(b64);
	return 0;
}

/* One event line with its inclusion proof in the tree of size n. */
static int
export_event(const char *cmd, struct audit_db *a, FILE *out,
    const struct audit_row *r, int64_t n)
{
	merkle_hash h, path[MERKLE_MAX_DEPTH];
	char hex[2 * MERKLE_HASH_LEN + 1];
	size_t np = 0;
	int i, rc;

	if (merkle_event_hash(r->seq, r->time_ms, r->f, h) != 0)
		return audit_fail_seq(cmd, r->seq, "cannot encode the event");
	if ((rc = merkle_inclusion_proof((uint64_t)r->seq - 1, (uint64_t)n,
	    audit_db_node, a, path, &np)) != 0) {
		gwctl_err(cmd, "no inclusion proof for seq %lld: %s",
		    (long long)r->seq, rc == GW_ERR_NOT_FOUND ?
		    "a stored tree node is missing" : gw_strerror(rc));
		return rc;
	}
	util_hex(h, MERKLE_HASH_LEN, hex);
	fprintf(out, "{\"type\":\"event\",\"seq\":%lld,\"time_ms\":%lld",
	    (long long)r->seq, (long long)r->time_ms);
	for (i = 0; i < AUDIT_FIELDS; i++) {
		fprintf(out, ",\"%s\":", audit_field_names[i]);
		json_str(out, r->f[i]);
	}
	fprintf(out, ",\"leaf_hash\":\"%s\",\"tree_size\":%lld,\"path\":", hex,
	    (long long)n);
	json_hashes(out, path, np);
	fputs("}\n", out);
	return 0;
}

/* One checkpoint line with its consistency proof to the tree of size n. */
static int
export_cp(const char *cmd, struct audit_db *a, FILE *out,
    const struct store_checkpoint *cp, int64_t n)
{
	merkle_hash proof[MERKLE_MAX_DEPTH];
	char text[512];
	size_t np = 0, tlen;
	int rc;

	if ((rc = store_checkpoint_text(cp, text, sizeof(text), &tlen)) != 0 ||
	    (rc = merkle_consistency_proof((uint64_t)cp->tree_size, (uint64_t)n,
	    audit_db_node, a, proof, &np)) != 0) {
		gwctl_err(cmd, "no consistency proof for checkpoint %lld: %s",
		    (long long)cp->tree_size, rc == GW_ERR_NOT_FOUND ?
		    "a stored tree node is missing" : gw_strerror(rc));
		return rc;
	}
	fprintf(out, "{\"type\":\"checkpoint\",\"tree_size\":%lld,\"root\":",
	    (long long)cp->tree_size);
	if (json_b64(out, cp->root, 32) != 0)
		return GW_ERR_NOMEM;
	fprintf(out, ",\"time_ms\":%lld,\"key_sha256\":\"%s\",\"signature\":",
	    (long long)cp->time_ms, cp->key_sha256);
	if (json_b64(out, cp->sig, cp->sig_len) != 0)
		return GW_ERR_NOMEM;
	fputs(",\"signed_text\":", out);
	json_str(out, text);
	fputs(",\"consistency\":", out);
	json_hashes(out, proof, np);
	fputs("}\n", out);
	return 0;
}

/* The latest checkpoint; GW_ERR_NOT_FOUND if none. */
int
audit_latest_cp(const char *cmd, struct audit_db *a,
    struct store_checkpoint *cp)
{
	sqlite3_stmt *st;
	char why[200];
	int rc, r;

	if (audit_db_prep(a, cmd, "SELECT " AUDIT_CP_COLS " FROM checkpoints"
	    " ORDER BY tree_size DESC LIMIT 1", &st) != 0)
		return GW_ERR_STORE;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		r = audit_cp_read(st, cp, why, sizeof(why)) == 0 ? 0 :
		    audit_fail_cp(cmd, sqlite3_column_int64(st, 0), "%s", why);
	else if (rc == SQLITE_DONE)
		r = GW_ERR_NOT_FOUND;
	else {
		gwctl_err(cmd, "cannot read the checkpoints: %s",
		    sqlite3_errmsg(a->db));
		r = GW_ERR_STORE;
	}
	sqlite3_finalize(st);
	return r;
}

/* The events seq lo..hi, then the checkpoints in that range and the latest. */
static int
export_write(const struct audit_opts *o, struct audit_db *a, FILE *out,
    const struct store_checkpoint *last, int64_t lo, int64_t hi)
{
	struct store_checkpoint cp;
	sqlite3_stmt *st = NULL;
	struct audit_row r;
	char why[200];
	int rc, ret;

	if ((ret = audit_db_prep(a, o->cmd, "SELECT " AUDIT_ROW_COLS
	    " FROM audit WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
	    &st)) != 0)
		return ret;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ret = audit_row_read(st, &r, why, sizeof(why))) != 0) {
			ret = audit_fail_seq(o->cmd, r.seq, "%s", why);
			goto out;
		}
		ret = export_event(o->cmd, a, out, &r, last->tree_size);
		if (ret != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	if ((ret = audit_db_prep(a, o->cmd, "SELECT " AUDIT_CP_COLS
	    " FROM checkpoints WHERE (tree_size >= ?1 AND tree_size <= ?2)"
	    " OR tree_size = ?3 ORDER BY tree_size", &st)) != 0)
		return ret;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	sqlite3_bind_int64(st, 3, last->tree_size);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (audit_cp_read(st, &cp, why, sizeof(why)) != 0) {
			ret = audit_fail_cp(o->cmd, sqlite3_column_int64(st, 0),
			    "%s", why);
			goto out;
		}
		ret = export_cp(o->cmd, a, out, &cp, last->tree_size);
		if (ret != 0)
			goto out;
	}
	if (rc == SQLITE_DONE) {
		ret = 0;
		goto out;
	}
 dberr:
	gwctl_err(o->cmd, "cannot read the database: %s",
	    sqlite3_errmsg(a->db));
	ret = GW_ERR_STORE;
 out:
	sqlite3_finalize(st);
	return ret;
}

int
audit_cmd_export(struct audit_opts *o)
{
	struct store_checkpoint last;
	struct audit_db a;
	FILE *out = stdout;
	int64_t lo = 1, hi;
	int r, ret = GWCTL_FAIL;

	if ((r = audit_apply_dev(o, 1, 0)) != 0)
		return r;
	if (audit_db_open(o->cmd, o->db, &a) != 0)
		return GWCTL_FAIL;
	if ((r = audit_latest_cp(o->cmd, &a, &last)) != 0) {
		if (r == GW_ERR_NOT_FOUND)
			gwctl_err(o->cmd, "nothing is sealed yet: no "
			    "checkpoint");
		goto out;
	}
	hi = last.tree_size;
	/* A time range as one run of seq numbers: the export stays
	 * contiguous, so that verify --export can tell a deleted line. */
	if ((o->has_from && audit_db_int(&a, o->cmd, "SELECT"
	    " coalesce(min(seq), 0) FROM audit WHERE time_ms >= ?1", o->from,
	    &lo) != 0) ||
	    (o->has_to && audit_db_int(&a, o->cmd, "SELECT"
	    " coalesce(max(seq), 0) FROM audit WHERE time_ms <= ?1", o->to,
	    &hi) != 0))
		goto out;
	if (lo == 0 || hi > last.tree_size)
		hi = lo == 0 ? 0 : last.tree_size;
	if (o->out != NULL && strcmp(o->out, "-") != 0 &&
	    (out = fopen(o->out, "w")) == NULL) {
		gwctl_err(o->cmd, "cannot write %s: %s", o->out,
		    strerror(errno));
		goto out;
	}
	r = export_write(o, &a, out, &last, lo, hi);
	if (fflush(out) != 0 || ferror(out)) {
		if (r == 0)
			gwctl_err(o->cmd, "cannot write the export: %s",
			    strerror(errno));
		r = GW_ERR_IO;
	}
	if (out != stdout && fclose(out) != 0 && r == 0) {
		gwctl_err(o->cmd, "cannot write %s: %s", o->out,
		    strerror(errno));
		r = GW_ERR_IO;
	}
	if (r != 0 && out != stdout)
		unlink(o->out);
	ret = r == 0 ? GWCTL_OK : GWCTL_FAIL;
 out:
	audit_db_close(&a);
	return ret;
}

