/*
 * cmd_audit.c - gwctl audit: options, dispatch and help of the audit log's
 * tools, and the two that only read and print (show, search).  audit.h
 * describes the parts and what they trust.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "err.h"
#include "gwctl.h"
#include "util.h"

/* ---- options ---- */

enum {
	O_DB = 0x200, O_GWCERT, O_EXPORT, O_PORTAL, O_AUTHORITY, O_SERVICE,
	O_FROM, O_TO, O_EVENT, O_STATUS, O_LIMIT
};

/* Which subcommand takes which option (bits of struct sub.allow). */
#define A_DB		0x001	/* --db, --dev: a database */
#define A_CERT		0x002	/* --cert is the gateway certificate */
#define A_EXPORT	0x004
#define A_FILTER	0x008	/* search filters */
#define A_RANGE		0x010	/* --from, --to */
#define A_OUT		0x020	/* -o */
#define A_CONN		0x040	/* connection options (prove) */

/* n decimal digits at *p into *v. */
static int
digits(const char **p, int n, int *v)
{
	*v = 0;
	for (; n > 0; n--, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

/* The character c at *p, then past it. */
static int
expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* Z, +HH:MM or -HH:MM (nothing: UTC) into minutes east of UTC. */
static int
parse_zone(const char **p, int *off)
{
	int sign = 1, h, m;

	*off = 0;
	if (**p == 'Z') {
		(*p)++;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return 0;
	if (*(*p)++ == '-')
		sign = -1;
	if (digits(p, 2, &h) || expect(p, ':') || digits(p, 2, &m) || h > 23 ||
	    m > 59)
		return -1;
	*off = sign * (h * 60 + m);
	return 0;
}

/*
 * Milliseconds since the epoch, or ISO 8601: "2026-11-29" (midnight UTC),
 * "2026-11-29T05:30", "...:40", "...:40.123", each optionally followed by
 * Z or +HH:MM / -HH:MM (none: UTC).
 */
static int
parse_time(const char *s, int64_t *out)
{
	unsigned long long ms;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, n, off = 0;
	struct tm tm;
	int64_t t;

	if (gwctl_parse_u64(s, 0, (unsigned long long)INT64_MAX / 2,
	    &ms) == 0) {
		*out = (int64_t)ms;
		return 0;
	}
	if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) ||
	    expect(&p, '-') || digits(&p, 2, &d))
		return GW_ERR_INVALID;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi))
			return GW_ERR_INVALID;
		if (*p == ':' && (p++, digits(&p, 2, &sec)))
			return GW_ERR_INVALID;
		if (*p == '.') {
			for (n = 0, p++; isdigit((unsigned char)*p); n++, p++)
				if (n < 3)
					frac = frac * 10 + (*p - '0');
			if (n == 0)
				return GW_ERR_INVALID;
			for (; n < 3; n++)
				frac *= 10;
		}
		if (parse_zone(&p, &off) != 0)
			return GW_ERR_INVALID;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return GW_ERR_INVALID;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return GW_ERR_INVALID;	/* e.g. February 30 */
	*out = t * 1000 + frac - (int64_t)off * 60000;
	return 0;
}

static const struct option longopts[] = {
	GWCTL_CONN_LONGOPTS,
	{ "db", required_argument, NULL, O_DB },
	{ "gateway-cert", required_argument, NULL, O_GWCERT },
	{ "export", required_argument, NULL, O_EXPORT },
	{ "portal", required_argument, NULL, O_PORTAL },
	{ "authority", required_argument, NULL, O_AUTHORITY },
	{ "service", required_argument, NULL, O_SERVICE },
	{ "from", required_argument, NULL, O_FROM },
	{ "to", required_argument, NULL, O_TO },
	{ "event", required_argument, NULL, O_EVENT },
	{ "status", required_argument, NULL, O_STATUS },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
add_cert(struct audit_opts *o, const char *path)
{
	if (o->ncerts == AUDIT_MAX_CERTS)
		return gwctl_usage_err(o->cmd, "at most %d gateway "
		    "certificates", AUDIT_MAX_CERTS);
	o->certs[o->ncerts++] = path;
	return 0;
}

/* Options valid for every subcommand that takes them (mask allows). */
static int
opt_common(struct audit_opts *o, int c, const char *arg, int allow)
{
	const char **slot = NULL;

	switch (c) {
	case O_DB:
		if (!(allow & A_DB))
			return -1;
		if (util_strlcpy(o->db, arg, sizeof(o->db)) >= sizeof(o->db))
			return gwctl_usage_err(o->cmd, "the --db path is too "
			    "long");
		return 0;
	case O_GWCERT:
		return allow & (A_CERT | A_CONN) ? add_cert(o, arg) : -1;
	case O_EXPORT:
		slot = allow & A_EXPORT ? &o->export_path : NULL;
		break;
	case O_PORTAL: slot = allow & A_FILTER ? &o->portal : NULL; break;
	case O_AUTHORITY: slot = allow & A_FILTER ? &o->authority : NULL; break;
	case O_SERVICE: slot = allow & A_FILTER ? &o->service : NULL; break;
	case O_EVENT: slot = allow & A_FILTER ? &o->event : NULL; break;
	case O_STATUS: slot = allow & A_FILTER ? &o->status : NULL; break;
	case 'o': slot = allow & A_OUT ? &o->out : NULL; break;
	case O_FROM:
	case O_TO:
		if (!(allow & (A_RANGE | A_FILTER)))
			return -1;
		if (parse_time(arg, c == O_FROM ? &o->from : &o->to) != 0)
			return gwctl_usage_err(o->cmd, "%s wants an ISO 8601 "
			    "time (2026-11-29T05:30:00Z) or milliseconds since "
			    "1970, not \"%.60s\"",
			    c == O_FROM ? "--from" : "--to", arg);
		*(c == O_FROM ? &o->has_from : &o->has_to) = 1;
		return 0;
	case O_LIMIT:
		if (!(allow & A_FILTER))
			return -1;
		if (gwctl_parse_u64(arg, 1, 1000000, &o->limit) != 0)
			return gwctl_usage_err(o->cmd, "--limit wants 1 to "
			    "1000000");
		return 0;
	default:
		return -1;
	}
	if (slot == NULL)
		return -1;
	*slot = arg;
	return 0;
}

/* An option gwctl audit knows, given to a subcommand that does not. */
static int
not_here(const char *cmd, int c)
{
	const struct option *lo;

	for (lo = longopts; lo->name != NULL && lo->val != c; lo++)
		;
	if (c == 'o')
		return gwctl_usage_err(cmd, "-o is not an option here");
	return gwctl_usage_err(cmd, "--%s is not an option here",
	    lo->name != NULL ? lo->name : "?");
}

/*
 * Parses argv (argv[0] is the subcommand) into o.  Returns 0, -1 after
 * printing help, or GWCTL_USAGE.  nargs positional arguments are required.
 */
static int
parse_opts(int argc, char **argv, const char *help, int allow, int nargs,
    struct audit_opts *o)
{
	const char *env;
	int c, r, dev = 0;

	conn_init(&o->conn);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		if (c == 'h') {
			printf("%s%s", help,
			    allow & A_CONN ? gwctl_conn_help : "");
			return -1;
		}
		if (c == GWCTL_OPT_DEV)
			dev = 1;
		if (c == GWCTL_OPT_CERT && (allow & A_CERT)) {
			if ((r = add_cert(o, optarg)) != 0)
				return r;
			continue;
		}
		if (c >= GWCTL_OPT_GATEWAY && c <= GWCTL_OPT_AS &&
		    ((allow & A_CONN) ||
		    (c == GWCTL_OPT_DEV && (allow & (A_DB | A_CERT))))) {
			if ((r = conn_option(&o->conn, o->cmd, c, optarg)) != 1)
				return r == 0 ?
				    gwctl_bad_option(o->cmd, argv) : r;
			if (c != GWCTL_OPT_DEV)
				o->api = 1;	/* only prove takes these */
			continue;
		}
		if (c == '?' || c == ':')
			return gwctl_bad_option(o->cmd, argv);
		if ((r = opt_common(o, c, optarg, allow)) < 0)
			return not_here(o->cmd, c);
		if (r != 0)
			return r;
	}
	if (argc - optind != nargs)
		return gwctl_usage_err(o->cmd, nargs == 0 ?
		    "expected no arguments" : "expected %d argument%s", nargs,
		    nargs == 1 ? "" : "s");
	o->args = argv + optind;
	/* Like the connection options, --dev defaults to $GWCTL_DEV. */
	env = getenv("GWCTL_DEV");
	if (!dev && o->db[0] == '\0' && !o->api && env != NULL &&
	    env[0] != '\0')
		util_strlcpy(o->conn.dev, env, sizeof(o->conn.dev));
	return 0;
}

/* --dev DIR: DIR/gateway.db and DIR/gateway.pem unless given otherwise. */
int
audit_apply_dev(struct audit_opts *o, int need_db, int need_cert)
{
	const char *dev = o->conn.dev;

	if (dev[0] != '\0' && o->db[0] == '\0' && need_db &&
	    (size_t)snprintf(o->db, sizeof(o->db), "%s/gateway.db", dev) >=
	    sizeof(o->db))
		return gwctl_usage_err(o->cmd, "the --dev path is too long");
	if (dev[0] != '\0' && o->ncerts == 0 && need_cert) {
		if ((size_t)snprintf(o->devcert, sizeof(o->devcert),
		    "%s/gateway.pem", dev) >= sizeof(o->devcert))
			return gwctl_usage_err(o->cmd, "the --dev path is too "
			    "long");
		o->certs[o->ncerts++] = o->devcert;
	}
	if (need_db && o->db[0] == '\0')
		return gwctl_usage_err(o->cmd, "give the database: --db FILE "
		    "or --dev DIR");
	if (need_cert && o->ncerts == 0)
		return gwctl_usage_err(o->cmd, "give the gateway certificate: "
		    "--cert FILE (or --dev DIR)");
	return 0;
}

/* ---- show and search: tables ---- */

static void
row_head(int with_msg)
{
	printf("%8s  %-24s  %-22s  %-14s  ", "SEQ", "TIME", "EVENT", "ACTOR");
	if (with_msg)
		printf("%-35s  ", "MESSAGE");
	printf("%-14s  %-12s  %s\n", "READER", "CODE", "DETAIL");
}

/* One audit row; mark flags an event that no checkpoint covers yet. */
static void
row_print(const struct audit_row *r, int with_msg, int mark)
{
	char b[AUDIT_FIELDS][600], t[32];
	const char *c[AUDIT_FIELDS];
	int i;

	for (i = 0; i < AUDIT_FIELDS; i++)
		c[i] = audit_cell(r->f[i], b[i], sizeof(b[i]));
	printf("%7lld%c  %-24s  %-22s  %-14s  ", (long long)r->seq,
	    mark ? '*' : ' ', audit_iso(r->time_ms, t), c[0], c[1]);
	if (with_msg)
		printf("%-35s  ", c[2]);
	printf("%-14s  %-12s  %s\n", c[3], c[4], c[5]);
}

/* Steps st (AUDIT_ROW_COLS) to the end, printing each row. */
static int
rows_print(const char *cmd, struct audit_db *a, sqlite3_stmt *st, int with_msg,
    int64_t sealed, int64_t *n)
{
	struct audit_row r;
	char why[100];
	int rc;

	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (audit_row_read(st, &r, why, sizeof(why)) == GW_ERR_NOMEM)
			return GW_ERR_NOMEM;
		if (*n == 0)
			row_head(with_msg);
		row_print(&r, with_msg, r.seq > sealed);
		(*n)++;
	}
	if (rc == SQLITE_DONE)
		return 0;
	gwctl_err(cmd, "cannot read the audit log: %s", sqlite3_errmsg(a->db));
	return GW_ERR_STORE;
}

static int
audit_search(struct audit_opts *o)
{
	struct store_checkpoint last;
	sqlite3_stmt *st = NULL;
	struct audit_db a;
	int64_t n = 0, sealed = 0;
	int r, ret = GWCTL_FAIL;

	if ((r = audit_apply_dev(o, 1, 0)) != 0)
		return r;
	if (audit_db_open(o->cmd, o->db, &a) != 0)
		return GWCTL_FAIL;
	if ((r = audit_latest_cp(o->cmd, &a, &last)) == 0)
		sealed = last.tree_size;
	else if (r != GW_ERR_NOT_FOUND)
		goto out;
	if (audit_db_prep(&a, o->cmd, "SELECT a.seq, a.time_ms, a.event,"
	    " a.actor, a.msg_id, a.reader, a.code, a.detail FROM audit a"
	    " LEFT JOIN messages m ON m.id = a.msg_id"
	    " WHERE (?1 IS NULL OR a.actor = ?1 OR m.portal = ?1)"
	    " AND (?2 IS NULL OR a.reader = ?2 OR a.actor = ?2)"
	    " AND (?3 IS NULL OR m.service = ?3)"
	    " AND (?4 IS NULL OR a.time_ms >= ?4)"
	    " AND (?5 IS NULL OR a.time_ms <= ?5)"
	    " AND (?6 IS NULL OR a.event GLOB ?6)"
	    " AND (?7 IS NULL OR a.code = ?7)"
	    " ORDER BY a.seq LIMIT ?8", &st) != 0)
		goto out;
	sqlite3_bind_text(st, 1, o->portal, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->authority, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, o->service, -1, SQLITE_STATIC);
	if (o->has_from)
		sqlite3_bind_int64(st, 4, o->from);
	if (o->has_to)
		sqlite3_bind_int64(st, 5, o->to);
	sqlite3_bind_text(st, 6, o->event, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, o->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, o->limit ? (int64_t)o->limit : 1000);
	if (rows_print(o->cmd, &a, st, 1, sealed, &n) != 0)
		goto out;
	if (n == 0)
		printf("no matching events\n");
	ret = GWCTL_OK;
 out:
	sqlite3_finalize(st);
	audit_db_close(&a);
	return ret;
}

static const char *
tristate(int v, const char *yes, const char *no)
{
	return v == 1 ? yes : v == 0 ? no : "indeterminate";
}

/* The message's facts (its process card); 0, or GW_ERR_NOT_FOUND. */
static int
show_message(const char *cmd, struct audit_db *a, const char *id)
{
	sqlite3_stmt *st;
	char b[4][600], t1[32], t2[32];
	int rc;

	if (audit_db_prep(a, cmd, "SELECT portal, portal_msg_id, sha256, size,"
	    " service, scenario, received_ms, forwarded_ms, signer_subject,"
	    " signer_issuer, signer_serial, sig_alg, sig_ok, chain_ok"
	    " FROM messages WHERE id = ?1", &st) != 0)
		return GW_ERR_STORE;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
#define COL(i, k) \
	audit_cell((const char *)sqlite3_column_text(st, i), b[k], sizeof(b[k]))
		printf("Message      %s\n", audit_cell(id, b[0], sizeof(b[0])));
		printf("Portal       %s, its id %s\n", COL(0, 0), COL(1, 1));
		printf("Service      %s (scenario %s)\n", COL(4, 0), COL(5, 1));
		printf("SHA-256      %s, %lld bytes\n", COL(2, 0),
		    (long long)sqlite3_column_int64(st, 3));
		printf("Creation     %s\nForwarding   %s\n",
		    audit_iso(sqlite3_column_int64(st, 6), t1),
		    audit_iso(sqlite3_column_int64(st, 7), t2));
		printf("Signature    %s: %s, chain %s\n", COL(11, 0),
		    tristate(sqlite3_column_int(st, 12), "ok", "corrupted"),
		    tristate(sqlite3_column_int(st, 13), "valid", "invalid"));
		printf("Signer       %s, issuer %s, serial %s\n", COL(8, 1),
		    COL(9, 2), COL(10, 3));
#undef COL
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		gwctl_err(cmd, "cannot read the message: %s",
		    sqlite3_errmsg(a->db));
		return GW_ERR_STORE;
	}
	return rc == SQLITE_ROW ? 0 : GW_ERR_NOT_FOUND;
}

static int
show_readers(const char *cmd, struct audit_db *a, const char *id)
{
	sqlite3_stmt *st;
	char b[3][300], t1[32], t2[32];
	int rc;

	if (audit_db_prep(a, cmd, "SELECT reader, state, mode, size,"
	    " fetched_ms, closed_ms, attempts, last_error, length(envelope)"
	    " FROM deliveries WHERE msg_id = ?1 ORDER BY seq", &st) != 0)
		return GW_ERR_STORE;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
#define COL(i, k) \
	audit_cell((const char *)sqlite3_column_text(st, i), b[k], sizeof(b[k]))
		printf("Reader       %s: %s (%s), envelope %lld bytes%s, "
		    "fetched %s, reception %s", COL(0, 0), COL(1, 1), COL(2, 2),
		    (long long)sqlite3_column_int64(st, 3),
		    sqlite3_column_int64(st, 8) == 0 ?
		    " (deleted: retention)" : "",
		    audit_iso(sqlite3_column_int64(st, 4), t1),
		    audit_iso(sqlite3_column_int64(st, 5), t2));
		if (sqlite3_column_int(st, 6) > 0)
			printf(", %d attempts, last error %s",
			    sqlite3_column_int(st, 6), COL(7, 0));
#undef COL
		printf("\n");
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	gwctl_err(cmd, "cannot read the deliveries: %s", sqlite3_errmsg(a->db));
	return GW_ERR_STORE;
}

static int
audit_show(struct audit_opts *o)
{
	struct store_checkpoint last;
	sqlite3_stmt *st = NULL;
	const char *id = o->args[0];
	struct audit_db a;
	int64_t n = 0, sealed = 0;
	int r, found, ret = GWCTL_FAIL;

	if ((r = audit_apply_dev(o, 1, 0)) != 0)
		return r;
	if (audit_db_open(o->cmd, o->db, &a) != 0)
		return GWCTL_FAIL;
	if ((r = audit_latest_cp(o->cmd, &a, &last)) == 0)
		sealed = last.tree_size;
	else if (r != GW_ERR_NOT_FOUND)
		goto out;
	if ((r = show_message(o->cmd, &a, id)) != 0 && r != GW_ERR_NOT_FOUND)
		goto out;
	found = r == 0;
	if ((found && show_readers(o->cmd, &a, id) != 0) ||
	    audit_db_prep(&a, o->cmd, "SELECT " AUDIT_ROW_COLS " FROM audit"
	    " WHERE msg_id = ?1 ORDER BY seq", &st) != 0)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (found)
		printf("\nHistory:\n");
	if (rows_print(o->cmd, &a, st, 0, sealed, &n) != 0)
		goto out;
	if (!found && n == 0) {
		gwctl_err(o->cmd, "no message %s and no event about it", id);
		goto out;
	}
	ret = GWCTL_OK;
 out:
	sqlite3_finalize(st);
	audit_db_close(&a);
	return ret;
}

/* ---- help ---- */

static const char export_help[] =
    "usage: gwctl audit export (--db FILE | --dev DIR) [--from TIME]\n"
    "                          [--to TIME] [-o FILE]\n\n"
    "Writes the sealed part of the audit log as JSON lines (docs/audit.md):\n"
    "one line per event (seq, time_ms, its fields, leaf_hash and its\n"
    "inclusion proof in the latest checkpoint), then one per checkpoint\n"
    "(signed text, signature and its consistency proof to the latest).\n"
    "--from/--to select the events of that time range (ISO 8601 or\n"
    "milliseconds since 1970) as one run of seq numbers.  `gwctl audit verify\n"
    "--export FILE` checks an export.\n";

static const char verify_help[] =
    "usage: gwctl audit verify (--db FILE | --dev DIR) --cert GATEWAY.pem\n"
    "       gwctl audit verify --export FILE --cert GATEWAY.pem\n\n"
    "Recomputes every leaf of the audit log from the events, the Merkle tree\n"
    "(RFC 9162) and the root of every checkpoint, and checks each\n"
    "checkpoint's signature with the public key of the gateway certificate\n"
    "given here (never one from the database).  The stored tree nodes are\n"
    "only used to locate a change.  Prints one line OK, or one line naming\n"
    "the first bad position (FAILED at seq N, or at checkpoint tree_size N)\n"
    "and exits 1.  --cert may be given up to 8 times (key rollover);\n"
    "--dev DIR means DIR/gateway.db and DIR/gateway.pem.\n\n"
    "With --export FILE it checks an export (gwctl audit export) instead:\n"
    "every event against the latest checkpoint by its inclusion proof, every\n"
    "checkpoint's signature and its consistency with the latest, and when\n"
    "the export starts at seq 1, the whole tree recomputed.\n";

static const char search_help[] =
    "usage: gwctl audit search (--db FILE | --dev DIR) [--portal P]\n"
    "         [--authority A] [--service S] [--from TIME] [--to TIME]\n"
    "         [--event E] [--status CODE] [--limit N]\n\n"
    "Prints the audit events that match every filter given, oldest first, as\n"
    "a table (at most --limit, default 1000):\n"
    "  --portal P     events by portal P or about its messages\n"
    "  --authority A  events by or for authority A (reader or actor)\n"
    "  --service S    events about messages for service S\n"
    "  --from, --to   time range, inclusive: ISO 8601 (2026-11-29 is its\n"
    "                 midnight UTC; 2026-11-29T05:30:00.250Z, ...+01:00)\n"
    "                 or milliseconds since 1970\n"
    "  --event E      event name, * and ? as wildcards (submission.*)\n"
    "  --status CODE  result code (OK, SIGNATURE_INVALID, ...)\n"
    "A * after SEQ marks an event that no checkpoint covers yet.\n";

static const char show_help[] =
    "usage: gwctl audit show (--db FILE | --dev DIR) MESSAGE-ID\n\n"
    "Prints the whole history of a message: its process card (portal,\n"
    "service, digest, times, signature check, each reader's state) and every\n"
    "audit event about it, oldest first.  A * after SEQ marks an event that\n"
    "no checkpoint covers yet.\n";

static const char check_help[] =
    "usage: gwctl audit check-proof --cert GATEWAY.pem FILE\n\n"
    "Checks a saved inclusion proof (GET /v1/submissions/ID/proof, or gwctl\n"
    "audit prove) offline: the Leaf decodes and names the MessageID, the\n"
    "path leads from its hash to the checkpoint's root (RFC 9162), the\n"
    "SignedText is the checkpoint's, and the gateway certificate's key\n"
    "signed it.  Prints one line OK, or FAILED and exits 1.\n";

static const char prove_help[] =
    "usage: gwctl audit prove (--db FILE | --dev DIR) [--gateway-cert PEM]\n"
    "                         [-o FILE] MESSAGE-ID\n"
    "       gwctl audit prove [CONNECTION OPTIONS] [--gateway-cert PEM]\n"
    "                         [-o FILE] MESSAGE-ID\n\n"
    "The inclusion proof of the message's acceptance (its submission.accepted\n"
    "event) in the latest signed checkpoint, from the database, or from the\n"
    "gateway as the submitting portal (GET /v1/submissions/ID/proof; used\n"
    "when --gateway, --cert, --key, --ca or --as is given).  It is checked\n"
    "offline as by check-proof, with the gateway certificate --gateway-cert\n"
    "(--dev DIR: DIR/gateway.pem), then printed as XML, or written to FILE\n"
    "with -o (the check's OK line is then printed).\n\n";

/* ---- gwctl audit ---- */

static const struct sub {
	const char *name;
	int (*run)(struct audit_opts *);
	const char *help;
	int allow;
	int nargs;
	const char *summary;
} subs[] = {
	{ "verify", audit_cmd_verify, verify_help, A_DB | A_CERT | A_EXPORT, 0,
	    "recompute the log and check every signed checkpoint" },
	{ "show", audit_show, show_help, A_DB, 1,
	    "a message's process card and whole history" },
	{ "search", audit_search, search_help, A_DB | A_FILTER, 0,
	    "events by portal, authority, service, time, event, status" },
	{ "export", audit_cmd_export, export_help, A_DB | A_RANGE | A_OUT, 0,
	    "JSON lines with inclusion and consistency proofs" },
	{ "prove", audit_cmd_prove, prove_help, A_DB | A_CONN | A_OUT, 1,
	    "a message's inclusion proof, checked offline" },
	{ "check-proof", audit_cmd_check, check_help, A_CERT, 1,
	    "check a saved inclusion proof offline" },
};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

static void
audit_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: gwctl audit COMMAND [OPTIONS] [ARGS]\n\n"
	    "The audit log: an append-only Merkle tree (RFC 9162) of every\n"
	    "event, sealed under signed checkpoints (docs/audit.md).\n\n"
	    "Commands:\n");
	for (i = 0; i < NSUBS; i++)
		fprintf(f, "  %-12s %s\n", subs[i].name, subs[i].summary);
	fprintf(f, "\nThe database: --db FILE, or --dev DIR (DIR/gateway.db,\n"
	    "with DIR/gateway.pem as the gateway certificate); it is only\n"
	    "read.  'gwctl audit COMMAND --help' describes a command.\n");
}

int
cmd_audit(int argc, char **argv)
{
	struct audit_opts *o;
	char cmd[64];
	size_t i;
	int r;

	if (argc < 2) {
		audit_usage(stderr);
		return GWCTL_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		audit_usage(stdout);
		return GWCTL_OK;
	}
	for (i = 0; i < NSUBS; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			break;
	if (i == NSUBS) {
		gwctl_err("audit", "unknown command \"%s\" (see gwctl audit "
		    "--help)", argv[1]);
		return GWCTL_USAGE;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		gwctl_err("audit", "out of memory");
		return GWCTL_FAIL;
	}
	snprintf(cmd, sizeof(cmd), "audit %s", subs[i].name);
	o->cmd = cmd;
	r = parse_opts(argc - 1, argv + 1, subs[i].help, subs[i].allow,
	    subs[i].nargs, o);
	if (r == 0)
		r = subs[i].run(o);
	else if (r < 0)
		r = GWCTL_OK;		/* --help */
	free(o);
	return r;
}
