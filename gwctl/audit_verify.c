/*
 * audit_verify.c - gwctl audit verify (audit.h): the whole log
 * recomputed from the database's events, or an export read back and checked.
 *
 * The database: one pass over the events in seq order (no gaps) pushes
 * each recomputed leaf into a frontier; whenever the frontier reaches a
 * checkpoint's size its root must be the signed one and the signature must
 * verify with the given certificate.  Recomputing every checkpoint from the
 * same events also proves them consistent with each other.  The first
 * failure in seq order is reported; stored nodes only help to name the
 * changed event (locate()).
 *
 * An export: a strict reader for exactly the JSON lines audit_store.c
 * writes (flat objects of strings, integers and lists of hex hashes), in
 * two passes: the latest checkpoint first, then every event against it by
 * its inclusion proof and every checkpoint by its consistency proof.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "err.h"
#include "gwctl.h"
#include "util.h"

#define MAX_LINE	(1024 * 1024)	/* one line of an export */
#define PROGRESS_EVERY	100000		/* events between progress lines */

/* ---- verify: the database ---- */

struct vstate {
	const char *cmd;
	struct audit_db *a;
	const struct audit_certs *cs;
	struct merkle_frontier f;	/* of the rows read so far */
	int64_t total;			/* rows, for progress */
	int64_t ncp;			/* checkpoints verified */
	struct store_checkpoint last;	/* the latest of them */
};

/* MTH of the leaves [lo, hi), recomputed from the rows (lo < hi). */
static int
rows_root(struct audit_db *a, uint64_t lo, uint64_t hi, merkle_hash out)
{
	struct merkle_frontier f;
	sqlite3_stmt *st;
	struct audit_row r;
	merkle_hash h;
	char why[100];
	int rc, ret = GW_ERR_INVALID;

	if (sqlite3_prepare_v2(a->db, "SELECT " AUDIT_ROW_COLS " FROM audit"
	    " WHERE seq > ?1 AND seq <= ?2 ORDER BY seq", -1, &st, NULL) !=
	    SQLITE_OK)
		return GW_ERR_STORE;
	memset(&f, 0, sizeof(f));
	sqlite3_bind_int64(st, 1, (int64_t)lo);
	sqlite3_bind_int64(st, 2, (int64_t)hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (audit_row_read(st, &r, why, sizeof(why)) != 0 ||
		    merkle_event_hash(r.seq, r.time_ms, r.f, h) != 0 ||
		    merkle_frontier_push(&f, h, NULL, NULL) != 0)
			goto out;
	}
	if (rc == SQLITE_DONE && f.size == hi - lo) {
		merkle_frontier_root(&f, out);
		ret = 0;
	}
 out:
	sqlite3_finalize(st);
	return ret;
}

/*
 * Called once a checkpoint of size n disagrees with the rows: the leftmost
 * leaf whose recomputed hash differs from the stored tree, found top-down
 * (the first perfect subtree whose recomputed hash is not the stored one,
 * down to a leaf).  The stored nodes only point; nothing is concluded from
 * them.  -1 when they agree with the rows all the way down: then the
 * checkpoint itself was changed (or the nodes too).
 */
static int64_t
locate(struct audit_db *a, uint64_t n)
{
	uint64_t lo = 0, hi = n, k;
	merkle_hash mine, stored;

	while (hi - lo > 1) {
		for (k = 1; k << 1 < hi - lo; k <<= 1)
			;
		if (rows_root(a, lo, lo + k, mine) != 0)
			return -1;
		if (audit_db_node(a, lo, lo + k, stored) != 0 ||
		    memcmp(mine, stored, MERKLE_HASH_LEN) != 0)
			hi = lo + k;
		else
			lo += k;
	}
	if (rows_root(a, lo, lo + 1, mine) != 0 ||
	    audit_db_node(a, lo, lo + 1, stored) != 0 ||
	    memcmp(mine, stored, MERKLE_HASH_LEN) == 0)
		return -1;
	return (int64_t)lo;
}

/* The checkpoint whose size the rows just reached. */
static int
check_cp(struct vstate *v, const struct store_checkpoint *cp)
{
	merkle_hash root;
	char why[300];
	int64_t leaf;

	merkle_frontier_root(&v->f, root);
	if (memcmp(root, cp->root, MERKLE_HASH_LEN) != 0) {
		if ((leaf = locate(v->a, (uint64_t)cp->tree_size)) >= 0)
			return audit_fail_seq(v->cmd, leaf + 1, "the event is "
			    "not the one checkpoint %lld signed (changed, or "
			    "moved)", (long long)cp->tree_size);
		return audit_fail_cp(v->cmd, cp->tree_size, "its root is not "
		    "the root of the first %lld events, and no event could be "
		    "located as changed (the tree head was replaced)",
		    (long long)cp->tree_size);
	}
	if (audit_cp_check(v->cs, cp, NULL, why, sizeof(why)) != 0)
		return audit_fail_cp(v->cmd, cp->tree_size, "%s", why);
	v->ncp++;
	v->last = *cp;
	return 0;
}

/* Steps to the next checkpoint: 1 with one in cp, 0 at the end. */
static int
next_cp(struct vstate *v, sqlite3_stmt *st, struct store_checkpoint *cp,
    int64_t prev)
{
	char why[200];
	int rc;

	if ((rc = sqlite3_step(st)) == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW) {
		gwctl_err(v->cmd, "cannot read the checkpoints: %s",
		    sqlite3_errmsg(v->a->db));
		return GW_ERR_STORE;
	}
	if (audit_cp_read(st, cp, why, sizeof(why)) != 0)
		return audit_fail_cp(v->cmd, sqlite3_column_int64(st, 0), "%s",
		    why);
	if (cp->tree_size <= prev)
		return audit_fail_cp(v->cmd, cp->tree_size, "a tree size must "
		    "be positive");
	return 1;
}

/* Reads every row and checks each checkpoint when the rows reach it. */
static int
verify_rows(struct vstate *v, sqlite3_stmt *rows, sqlite3_stmt *cps)
{
	struct store_checkpoint cp;
	struct audit_row r;
	merkle_hash h;
	char why[200];
	int64_t want;
	int have, rc;

	if ((have = next_cp(v, cps, &cp, 0)) < 0)
		return have;
	while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
		want = (int64_t)v->f.size + 1;
		if (audit_row_read(rows, &r, why, sizeof(why)) != 0)
			return audit_fail_seq(v->cmd, r.seq, "%s", why);
		if (r.seq > want)
			return audit_fail_seq(v->cmd, want, "the event is "
			    "missing (deleted): the next one is seq %lld",
			    (long long)r.seq);
		if (r.seq != want)
			return audit_fail_seq(v->cmd, r.seq, "unexpected seq "
			    "(expected %lld)", (long long)want);
		if (merkle_event_hash(r.seq, r.time_ms, r.f, h) != 0 ||
		    merkle_frontier_push(&v->f, h, NULL, NULL) != 0)
			return audit_fail_seq(v->cmd, r.seq, "cannot encode "
			    "it");
		if (v->total > PROGRESS_EVERY &&
		    v->f.size % PROGRESS_EVERY == 0)
			fprintf(stderr, "gwctl: %s: %llu of %lld events\n",
			    v->cmd, (unsigned long long)v->f.size,
			    (long long)v->total);
		while (have == 1 && cp.tree_size == (int64_t)v->f.size) {
			if ((rc = check_cp(v, &cp)) != 0)
				return rc;
			if ((have = next_cp(v, cps, &cp, cp.tree_size)) < 0)
				return have;
		}
	}
	if (rc != SQLITE_DONE) {
		gwctl_err(v->cmd, "cannot read the audit log: %s",
		    sqlite3_errmsg(v->a->db));
		return GW_ERR_STORE;
	}
	if (have == 1)
		return audit_fail_seq(v->cmd, (int64_t)v->f.size + 1, "the "
		    "event is missing: checkpoint %lld covers %lld events but "
		    "the log ends at seq %llu (truncated)",
		    (long long)cp.tree_size, (long long)cp.tree_size,
		    (unsigned long long)v->f.size);
	return 0;
}

static void
verify_ok(const struct vstate *v)
{
	char root[64] = "", t[32];
	char *b64 = NULL;
	size_t n;
	uint64_t unsealed = v->f.size - (uint64_t)v->last.tree_size;

	if (v->ncp == 0) {
		printf("OK: %llu events, no checkpoint yet: nothing is "
		    "sealed\n", (unsigned long long)v->f.size);
		return;
	}
	if (util_b64_encode(v->last.root, 32, &b64, &n) == 0)
		util_strlcpy(root, b64, sizeof(root));
	free(b64);
	printf("OK: %llu events and %lld checkpoints verify; the latest, "
	    "tree_size %lld, root %s, was signed %s by sha256:%s",
	    (unsigned long long)v->f.size, (long long)v->ncp,
	    (long long)v->last.tree_size, root, audit_iso(v->last.time_ms, t),
	    v->last.key_sha256);
	if (unsealed > 0)
		printf("; %llu later events are not sealed yet",
		    (unsigned long long)unsealed);
	printf("\n");
}

static int
verify_db(const struct audit_opts *o, const struct audit_certs *cs)
{
	struct audit_db a;
	struct vstate v;
	sqlite3_stmt *rows = NULL, *cps = NULL;
	int r;

	if (audit_db_open(o->cmd, o->db, &a) != 0)
		return GWCTL_FAIL;
	memset(&v, 0, sizeof(v));
	v.cmd = o->cmd;
	v.a = &a;
	v.cs = cs;
	if ((r = audit_db_int(&a, o->cmd, "SELECT coalesce(max(seq), 0)"
	    " FROM audit WHERE seq >= ?1", 0, &v.total)) != 0 ||
	    (r = audit_db_prep(&a, o->cmd, "SELECT " AUDIT_ROW_COLS
	    " FROM audit ORDER BY seq", &rows)) != 0 ||
	    (r = audit_db_prep(&a, o->cmd, "SELECT " AUDIT_CP_COLS
	    " FROM checkpoints ORDER BY tree_size", &cps)) != 0)
		goto out;
	if ((r = verify_rows(&v, rows, cps)) == 0)
		verify_ok(&v);
 out:
	sqlite3_finalize(rows);
	sqlite3_finalize(cps);
	audit_db_close(&a);
	return r == 0 ? GWCTL_OK : GWCTL_FAIL;
}

/* ---- the export, read back: a strict reader for exactly that format ---- */

enum {
	J_TYPE, J_SEQ, J_TIME, J_FIELD0, J_LEAF = J_FIELD0 + AUDIT_FIELDS,
	J_SIZE, J_PATH, J_ROOT, J_KEY, J_SIG, J_TEXT, J_CONS, J__N
};
static const char *const jnames[J__N] = {
	"type", "seq", "time_ms", "event", "actor", "msg_id", "reader", "code",
	"detail", "leaf_hash", "tree_size", "path", "root", "key_sha256",
	"signature", "signed_text", "consistency"
};
/* s: string, i: integer, l: list of hashes (hex) */
static const char jkinds[J__N + 1] = "siisssssssilssssl";

#define J_EVENT_KEYS	(1u << J_TYPE | 1u << J_SEQ | 1u << J_TIME | \
	0x3fu << J_FIELD0 | 1u << J_LEAF | 1u << J_SIZE | 1u << J_PATH)
#define J_CP_KEYS	(1u << J_TYPE | 1u << J_SIZE | 1u << J_ROOT | \
	1u << J_TIME | 1u << J_KEY | 1u << J_SIG | 1u << J_TEXT | 1u << J_CONS)

struct jline {
	unsigned have;			/* bit per key present */
	char *s[J__N];			/* decoded strings, in buf */
	int64_t i[J__N];
	merkle_hash list[MERKLE_MAX_DEPTH];	/* path or consistency */
	size_t nlist;
	char *buf;			/* room for the decoded strings */
};

struct jp {
	const char *p, *end;
	char *w;			/* next free byte of jline.buf */
};

static void
j_ws(struct jp *j)
{
	while (j->p < j->end &&
	    (*j->p == ' ' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

static int
j_char(struct jp *j, char c)
{
	j_ws(j);
	if (j->p >= j->end || *j->p != c)
		return -1;
	j->p++;
	return 0;
}

static int
j_hex4(struct jp *j, unsigned *v)
{
	int i, c;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if (j->p >= j->end || !isxdigit((unsigned char)*j->p))
			return -1;
		c = tolower((unsigned char)*j->p++);
		*v = *v << 4 | (unsigned)(isdigit(c) ? c - '0' : c - 'a' + 10);
	}
	return 0;
}

/* \uXXXX (and a surrogate pair) as UTF-8; NUL is refused. */
static int
j_unicode(struct jp *j)
{
	unsigned cp, lo;

	if (j_hex4(j, &cp) != 0 || cp == 0 || (cp >= 0xdc00 && cp < 0xe000))
		return -1;
	if (cp >= 0xd800 && cp < 0xdc00) {
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
			return -1;
		j->p += 2;
		if (j_hex4(j, &lo) != 0 || lo < 0xdc00 || lo >= 0xe000)
			return -1;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp < 0x80)
		*j->w++ = (char)cp;
	else if (cp < 0x800) {
		*j->w++ = (char)(0xc0 | cp >> 6);
		*j->w++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*j->w++ = (char)(0xe0 | cp >> 12);
		*j->w++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*j->w++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*j->w++ = (char)(0xf0 | cp >> 18);
		*j->w++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*j->w++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*j->w++ = (char)(0x80 | (cp & 0x3f));
	}
	return 0;
}

/* A string into the decode buffer (never longer than its JSON form). */
static int
j_str(struct jp *j, char **val)
{
	static const char esc[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	const char *e;
	unsigned char c;

	if (j_char(j, '"') != 0)
		return -1;
	*val = j->w;
	while (j->p < j->end && *j->p != '"') {
		if ((c = (unsigned char)*j->p++) < 0x20)
			return -1;
		if (c != '\\') {
			*j->w++ = (char)c;
			continue;
		}
		if (j->p >= j->end)
			return -1;
		if ((c = (unsigned char)*j->p++) == 'u') {
			if (j_unicode(j) != 0)
				return -1;
			continue;
		}
		for (e = esc; *e != '\0' && *e != (char)c; e += 2)
			;
		if (*e == '\0')
			return -1;
		*j->w++ = e[1];
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	*j->w++ = '\0';
	return 0;
}

/* A non-negative integer without sign, fraction or leading zeros. */
static int
j_int(struct jp *j, int64_t *v)
{
	j_ws(j);
	if (j->p >= j->end || !isdigit((unsigned char)*j->p) ||
	    (*j->p == '0' && j->p + 1 < j->end &&
	    isdigit((unsigned char)j->p[1])))
		return -1;
	for (*v = 0; j->p < j->end && isdigit((unsigned char)*j->p); j->p++) {
		if (*v > (INT64_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (*j->p - '0');
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Exactly 2 * n hex digits into out. */
static int
unhex(const char *s, unsigned char *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* ["hex", ...]: at most MERKLE_MAX_DEPTH hashes. */
static int
j_hashes(struct jp *j, struct jline *l)
{
	char *s;

	if (j_char(j, '[') != 0)
		return -1;
	j_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	do {
		if (l->nlist == MERKLE_MAX_DEPTH || j_str(j, &s) != 0 ||
		    unhex(s, l->list[l->nlist], MERKLE_HASH_LEN) != 0)
			return -1;
		l->nlist++;
	} while (j_char(j, ',') == 0);
	return j_char(j, ']');
}

/* One line: a flat object of known keys, each at most once. */
static int
json_line(const char *line, size_t len, struct jline *l)
{
	struct jp j = { line, line + len, l->buf };
	char *key;
	int k;

	l->have = 0;
	l->nlist = 0;
	if (j_char(&j, '{') != 0)
		return -1;
	do {
		if (j_str(&j, &key) != 0 || j_char(&j, ':') != 0)
			return -1;
		for (k = 0; k < J__N && strcmp(jnames[k], key) != 0; k++)
			;
		if (k == J__N || (l->have & 1u << k))
			return -1;
		l->have |= 1u << k;
		if ((jkinds[k] == 's' && j_str(&j, &l->s[k]) != 0) ||
		    (jkinds[k] == 'i' && j_int(&j, &l->i[k]) != 0) ||
		    (jkinds[k] == 'l' && j_hashes(&j, l) != 0))
			return -1;
	} while (j_char(&j, ',') == 0);
	if (j_char(&j, '}') != 0)
		return -1;
	j_ws(&j);
	return j.p == j.end ? 0 : -1;
}

/* One line of f without its '\n': 1, 0 at the end, or GW_ERR_*. */
static int
read_line(FILE *f, char *buf, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (n == MAX_LINE)
			return GW_ERR_TOO_LARGE;
		buf[n++] = (char)c;
	}
	if (c == EOF && (ferror(f) || n == 0))
		return ferror(f) ? GW_ERR_IO : 0;
	buf[n] = '\0';
	*len = n;
	return 1;
}

/* A checkpoint line into cp; its signed_text must be exactly its fields'. */
static int
j_checkpoint(const struct jline *l, struct store_checkpoint *cp)
{
	unsigned char *root = NULL, *sig = NULL;
	size_t rlen = 0, slen = 0, tlen;
	char text[512];
	int r = -1;

	memset(cp, 0, sizeof(*cp));
	cp->tree_size = l->i[J_SIZE];
	cp->time_ms = l->i[J_TIME];
	if (cp->tree_size < 1 || strlen(l->s[J_KEY]) != 64 ||
	    util_b64_decode(l->s[J_ROOT], strlen(l->s[J_ROOT]), 32, &root,
	    &rlen) != 0 || rlen != 32 ||
	    util_b64_decode(l->s[J_SIG], strlen(l->s[J_SIG]), AUDIT_MAX_SIG,
	    &sig, &slen) != 0 || slen == 0)
		goto out;
	memcpy(cp->root, root, 32);
	memcpy(cp->sig, sig, slen);
	cp->sig_len = slen;
	util_strlcpy(cp->key_sha256, l->s[J_KEY], sizeof(cp->key_sha256));
	if (store_checkpoint_text(cp, text, sizeof(text), &tlen) == 0 &&
	    strcmp(text, l->s[J_TEXT]) == 0)
		r = 0;
 out:
	free(root);
	free(sig);
	return r;
}

struct xstate {
	const char *cmd, *path;
	const struct audit_certs *cs;
	FILE *f;
	char *line;			/* MAX_LINE + 1 */
	struct jline l;
	long lineno;
	struct store_checkpoint latest;
	struct merkle_frontier fr;	/* when the events start at seq 1 */
	int64_t first, last, ncp;
};

/* The next line, parsed, with the keys of its type: 1, 0 at the end. */
static int
x_next(struct xstate *x, int *is_cp)
{
	size_t len = 0;
	int r;

	if ((r = read_line(x->f, x->line, &len)) <= 0) {
		if (r < 0)
			gwctl_err(x->cmd, "%s, line %ld: %s", x->path,
			    x->lineno + 1, r == GW_ERR_TOO_LARGE ?
			    "the line is too long" : strerror(errno));
		return r;
	}
	x->lineno++;
	if (json_line(x->line, len, &x->l) != 0 ||
	    !(x->l.have & 1u << J_TYPE) ||
	    ((*is_cp = strcmp(x->l.s[J_TYPE], "checkpoint") == 0) ?
	    x->l.have != J_CP_KEYS : (strcmp(x->l.s[J_TYPE], "event") != 0 ||
	    x->l.have != J_EVENT_KEYS))) {
		gwctl_err(x->cmd, "FAILED at line %ld of %s: not an event or "
		    "checkpoint line of an export", x->lineno, x->path);
		return GW_ERR_INVALID;
	}
	return 1;
}

/* Pass 1: the syntax of every line, and the latest checkpoint. */
static int
x_pass1(struct xstate *x)
{
	struct store_checkpoint cp;
	char why[300];
	int r, is_cp = 0;

	x->latest.tree_size = 0;
	while ((r = x_next(x, &is_cp)) == 1) {
		if (!is_cp)
			continue;
		if (j_checkpoint(&x->l, &cp) != 0)
			return audit_fail_cp(x->cmd, x->l.i[J_SIZE],
			    "line %ld: the checkpoint is malformed or its "
			    "signed_text is not its fields'", x->lineno);
		if (cp.tree_size <= x->latest.tree_size)
			return audit_fail_cp(x->cmd, cp.tree_size, "line %ld: "
			    "checkpoints must come in increasing tree sizes",
			    x->lineno);
		x->latest = cp;
	}
	if (r < 0)
		return r;
	if (x->latest.tree_size == 0) {
		gwctl_err(x->cmd, "%s holds no checkpoint", x->path);
		return GW_ERR_INVALID;
	}
	if (audit_cp_check(x->cs, &x->latest, NULL, why, sizeof(why)) != 0)
		return audit_fail_cp(x->cmd, x->latest.tree_size, "%s", why);
	return 0;
}

/* An event line: recomputed leaf, its proof in the latest tree. */
static int
x_event(struct xstate *x)
{
	const struct jline *l = &x->l;
	const char *f[AUDIT_FIELDS];
	merkle_hash h, stated;
	int64_t seq = l->i[J_SEQ];
	int i;

	for (i = 0; i < AUDIT_FIELDS; i++)
		f[i] = l->s[J_FIELD0 + i];
	if (seq < 1 || seq > x->latest.tree_size ||
	    l->i[J_SIZE] != x->latest.tree_size)
		return audit_fail_seq(x->cmd, seq, "line %ld: not a leaf of "
		    "the latest checkpoint (tree_size %lld)", x->lineno,
		    (long long)x->latest.tree_size);
	if (x->last != 0 && seq != x->last + 1)
		return audit_fail_seq(x->cmd, x->last + 1, "line %ld: the "
		    "event is missing (the next one is seq %lld)", x->lineno,
		    (long long)seq);
	if (x->last == 0)
		x->first = seq;
	x->last = seq;
	if (merkle_event_hash(seq, l->i[J_TIME], f, h) != 0 ||
	    merkle_verify_inclusion((uint64_t)seq - 1,
	    (uint64_t)x->latest.tree_size, h, (const merkle_hash *)l->list,
	    l->nlist, x->latest.root) != 0)
		return audit_fail_seq(x->cmd, seq, "line %ld: the event is not "
		    "the one the latest checkpoint signed (changed, or moved)",
		    x->lineno);
	if (unhex(l->s[J_LEAF], stated, MERKLE_HASH_LEN) != 0 ||
	    memcmp(stated, h, MERKLE_HASH_LEN) != 0)
		return audit_fail_seq(x->cmd, seq, "line %ld: leaf_hash is not "
		    "the hash of the event", x->lineno);
	if (x->first == 1 && merkle_frontier_push(&x->fr, h, NULL, NULL) != 0)
		return GW_ERR_INTERNAL;
	if ((seq - x->first + 1) % PROGRESS_EVERY == 0)
		fprintf(stderr, "gwctl: %s: %lld events\n", x->cmd,
		    (long long)(seq - x->first + 1));
	return 0;
}

/* A checkpoint line: signature, and a prefix of the latest tree. */
static int
x_checkpoint(struct xstate *x)
{
	struct store_checkpoint cp;
	char why[300];

	if (j_checkpoint(&x->l, &cp) != 0)
		return GW_ERR_INTERNAL;		/* pass 1 read it */
	if (audit_cp_check(x->cs, &cp, NULL, why, sizeof(why)) != 0)
		return audit_fail_cp(x->cmd, cp.tree_size, "line %ld: %s",
		    x->lineno, why);
	if (merkle_verify_consistency((uint64_t)cp.tree_size,
	    (uint64_t)x->latest.tree_size, cp.root, x->latest.root,
	    (const merkle_hash *)x->l.list, x->l.nlist) != 0)
		return audit_fail_cp(x->cmd, cp.tree_size, "line %ld: the tree "
		    "is not a prefix of the latest checkpoint's (rewritten "
		    "history)", x->lineno);
	x->ncp++;
	return 0;
}

/* Pass 2: every event and every checkpoint. */
static int
x_pass2(struct xstate *x)
{
	merkle_hash root;
	char t[32];
	int r, is_cp = 0;

	x->lineno = 0;
	while ((r = x_next(x, &is_cp)) == 1)
		if ((r = is_cp ? x_checkpoint(x) : x_event(x)) != 0)
			return r;
	if (r < 0)
		return r;
	if (x->first == 1 && x->last == x->latest.tree_size) {
		merkle_frontier_root(&x->fr, root);
		if (memcmp(root, x->latest.root, MERKLE_HASH_LEN) != 0)
			return audit_fail_cp(x->cmd, x->latest.tree_size,
			    "the events do not make up its tree");
	}
	printf("OK: %s: ", x->path);
	if (x->last == 0)
		printf("no events");
	else
		printf("events seq %lld-%lld (%s)", (long long)x->first,
		    (long long)x->last, x->first == 1 &&
		    x->last == x->latest.tree_size ? "the whole sealed log" :
		    "a part of it");
	printf(" and %lld checkpoints verify against the latest, tree_size "
	    "%lld, signed %s by sha256:%s\n", (long long)x->ncp,
	    (long long)x->latest.tree_size, audit_iso(x->latest.time_ms, t),
	    x->latest.key_sha256);
	return 0;
}

static int
verify_export(const struct audit_opts *o, const struct audit_certs *cs)
{
	struct xstate x;
	int r = GW_ERR_NOMEM;

	memset(&x, 0, sizeof(x));
	x.cmd = o->cmd;
	x.path = o->export_path;
	x.cs = cs;
	if ((x.line = malloc(MAX_LINE + 1)) == NULL ||
	    (x.l.buf = malloc(MAX_LINE + 1)) == NULL) {
		gwctl_err(o->cmd, "out of memory");
		goto out;
	}
	if ((x.f = fopen(x.path, "r")) == NULL) {
		gwctl_err(o->cmd, "cannot read %s: %s", x.path,
		    strerror(errno));
		r = GW_ERR_IO;
		goto out;
	}
	if ((r = x_pass1(&x)) == 0) {
		rewind(x.f);
		r = x_pass2(&x);
	}
 out:
	if (x.f != NULL)
		fclose(x.f);
	free(x.line);
	free(x.l.buf);
	return r == 0 ? GWCTL_OK : GWCTL_FAIL;
}

int
audit_cmd_verify(struct audit_opts *o)
{
	struct audit_certs cs;
	int r;

	if (o->export_path != NULL && o->db[0] != '\0')
		return gwctl_usage_err(o->cmd, "--export and --db exclude each "
		    "other");
	if ((r = audit_apply_dev(o, o->export_path == NULL, 1)) != 0)
		return r;
	if (audit_certs_load(o, &cs) != 0)
		return GWCTL_FAIL;
	r = o->export_path ? verify_export(o, &cs) : verify_db(o, &cs);
	audit_certs_free(&cs);
	return r;
}

