/*
 * audit.h - the seams between the parts of gwctl audit (docs/audit.md):
 *
 *   cmd_audit.c     options, dispatch, help, show and search
 *   audit_store.c   the database read-only, the gateway certificates and
 *                   checkpoint signatures, the leaf decoder, export
 *   audit_verify.c  verify: the database, or an export read back
 *   audit_proof.c   prove and check-proof (inclusion proofs as XML)
 *
 * Trust.  verify recomputes every leaf from the events, the Merkle tree and
 * every checkpoint's root, and checks every checkpoint's signature with the
 * public key of a certificate given on the command line, never one from
 * the database.  Stored tree nodes are read only to LOCATE a change once a
 * recomputed root disagrees with a signed one, and to build proofs (export,
 * prove), which are checked like any other proof.  Leaves in proofs are
 * decoded here, against docs/audit.md, not with merkle.c's encoder.
 *
 * The database is opened read-only (SQLITE_OPEN_READONLY, query_only) with
 * a handle of its own rather than store_open(), which creates and migrates
 * the schema; each command reads one snapshot (one read transaction), so it
 * may run next to a live gateway.  Single-threaded like all of gwctl; every
 * failure prints one line (gwctl.h).
 */
#ifndef GWCTL_AUDIT_H
#define GWCTL_AUDIT_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/x509.h>
#include <sqlite3.h>

#include "gwctl.h"
#include "merkle.h"
#include "store.h"

#define AUDIT_NS		"urn:gatewayd:audit:1"
#define AUDIT_MAX_CERTS		8	/* --cert given again: key rollover */
#define AUDIT_MAX_SIG		1024	/* as struct store_checkpoint */
#define AUDIT_LEAF_MAGIC	"gatewayd-audit-v1"	/* + its NUL */
#define AUDIT_FIELDS		6	/* event, actor, msg_id, reader, code,
					   detail: audit_field_names */

#define AUDIT_ROW_COLS \
	"seq, time_ms, event, actor, msg_id, reader, code, detail"
#define AUDIT_CP_COLS	"tree_size, root, time_ms, key_sha256, signature"

extern const char *const audit_field_names[AUDIT_FIELDS];

/* The command line of one subcommand. */
struct audit_opts {
	const char *cmd;		/* "audit verify", for messages */
	char db[PATH_MAX];
	const char *certs[AUDIT_MAX_CERTS];	/* gateway certificates */
	int ncerts;
	char devcert[PATH_MAX];		/* DIR/gateway.pem for --dev */
	const char *export_path;
	const char *portal, *authority, *service, *event, *status;
	int64_t from, to;
	int has_from, has_to;
	unsigned long long limit;
	const char *out;		/* -o */
	struct gwctl_conn conn;		/* --dev, and prove's connection */
	int api;			/* prove: ask the gateway */
	char **args;			/* the positional arguments */
};

/* --dev DIR: DIR/gateway.db and DIR/gateway.pem unless given; then checks
 * that a database (need_db) and a certificate (need_cert) are known. */
int audit_apply_dev(struct audit_opts *o, int need_db, int need_cert);

/* The subcommands; each returns the exit status. */
int audit_cmd_verify(struct audit_opts *o);
int audit_cmd_export(struct audit_opts *o);
int audit_cmd_prove(struct audit_opts *o);
int audit_cmd_check(struct audit_opts *o);

/* ---- audit_store.c: the database, read-only ---- */

struct audit_db {
	sqlite3 *db;
	sqlite3_stmt *node;		/* a stored tree node */
};

/* Opens path read-only in one read transaction; prints why not. */
int audit_db_open(const char *cmd, const char *path, struct audit_db *a);
void audit_db_close(struct audit_db *a);
int audit_db_prep(struct audit_db *a, const char *cmd, const char *sql,
    sqlite3_stmt **st);
/* One number from a query of one row binding ?1 = bind. */
int audit_db_int(struct audit_db *a, const char *cmd, const char *sql,
    int64_t bind, int64_t *out);
/* merkle_range_fn: the stored hash of a perfect subtree (GW_ERR_NOT_FOUND). */
int audit_db_node(void *arg, uint64_t lo, uint64_t hi, merkle_hash out);

/* An audit row (columns AUDIT_ROW_COLS) as the leaf encodes it. */
struct audit_row {
	int64_t seq, time_ms;
	const char *f[AUDIT_FIELDS];	/* valid until the statement steps */
};

/* 0, or why the row cannot be a leaf the gateway wrote (GW_ERR_INVALID). */
int audit_row_read(sqlite3_stmt *st, struct audit_row *r, char *why,
    size_t whylen);
/* A checkpoint row (AUDIT_CP_COLS); 0, or why it is malformed. */
int audit_cp_read(sqlite3_stmt *st, struct store_checkpoint *cp, char *why,
    size_t whylen);
/* The latest checkpoint; GW_ERR_NOT_FOUND if none (nothing printed then). */
int audit_latest_cp(const char *cmd, struct audit_db *a,
    struct store_checkpoint *cp);

/* ---- audit_store.c: the gateway's certificates ---- */

struct audit_certs {
	X509 *x[AUDIT_MAX_CERTS];
	char fpr[AUDIT_MAX_CERTS][65];	/* SHA-256 of the DER, hex */
	int n;
};

int audit_certs_load(const struct audit_opts *o, struct audit_certs *cs);
void audit_certs_free(struct audit_certs *cs);
/* "ecdsa-sha256" or "rsa-pkcs1-sha256": what the gateway signs with. */
const char *audit_sig_alg(X509 *x);
/*
 * Checks cp's signature over its text (store_checkpoint_text) with the
 * certificate among cs that its key_sha256 names; *xp (may be NULL) gets
 * it.  0, or why not.
 */
int audit_cp_check(const struct audit_certs *cs,
    const struct store_checkpoint *cp, X509 **xp, char *why, size_t whylen);

/* ---- audit_store.c: the leaf encoding, decoded ---- */

struct audit_leaf {
	uint64_t seq, time_ms;
	const unsigned char *f[AUDIT_FIELDS];	/* into the leaf */
	uint32_t len[AUDIT_FIELDS];
};

/* Strict: the magic, two numbers, six fields, nothing after them. */
int audit_leaf_decode(const unsigned char *p, size_t n, struct audit_leaf *v);
/* Does field i hold exactly s? */
int audit_leaf_field_is(const struct audit_leaf *v, int i, const char *s);
/* A printable copy of field i. */
void audit_leaf_field(const struct audit_leaf *v, int i, char *out,
    size_t size);

/* ---- audit_store.c: output ---- */

/* "gwctl: CMD: FAILED at seq N (leaf index N-1): ..."; GW_ERR_INVALID. */
int audit_fail_seq(const char *cmd, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "gwctl: CMD: FAILED at checkpoint tree_size N: ..."; GW_ERR_INVALID. */
int audit_fail_cp(const char *cmd, int64_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A printable one-line copy of a value from the database ("-" if empty). */
const char *audit_cell(const char *s, char *buf, size_t size);
/* ISO 8601 of a time in ms ("-" for 0). */
const char *audit_iso(int64_t ms, char buf[32]);

#endif
