/*
 * test_store.c - unit tests of the message store (gateway/store.h).
 *
 * Every test gets a fresh temporary directory holding its database, opened
 * by the fixture.  Tests that need more connections (reopening, threads) or
 * a raw look at the file (sqlite3 directly) use the same directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "err.h"
#include "store.h"
#include "util.h"

struct fix {
	char dir[PATH_MAX];
	char path[PATH_MAX];		/* the fixture's database */
	struct store *s;
};

static const unsigned char RECEIPT[] = "receipt\0with\0NULs\xff";

static void
fix_file(const struct fix *f, const char *name, char out[PATH_MAX])
{
	assert_true((size_t)snprintf(out, PATH_MAX, "%s/%s", f->dir, name) <
	    PATH_MAX);
}

static int
setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fix *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/gw-store-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	fix_file(f, "store.db", f->path);
	if (store_open(f->path, &f->s) != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* Removes the directory and what the tests left in it (no subdirectories
 * except the one test_open_errors makes). */
static int
teardown(void **state)
{
	struct fix *f = *state;
	struct dirent *de;
	DIR *d;

	store_close(f->s);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) != 0)
				unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A message whose every field is distinct, so a mixed-up column shows. */
static void
msg_make(struct store_msg *m, const char *portal, const char *id,
    const char *pmid)
{
	memset(m, 0, sizeof(*m));
	util_strlcpy(m->id, id, sizeof(m->id));
	util_strlcpy(m->portal, portal, sizeof(m->portal));
	util_strlcpy(m->portal_msg_id, pmid, sizeof(m->portal_msg_id));
	util_sha256_hex(id, strlen(id), m->sha256);
	m->size = 4242;
	util_strlcpy(m->service, "urn:service:x", sizeof(m->service));
	util_strlcpy(m->scenario, "urn:scenario:y", sizeof(m->scenario));
	snprintf(m->subject, sizeof(m->subject), "subject of %s", id);
	m->received_ms = 1700000000001;
	m->forwarded_ms = 1700000000002;
	util_strlcpy(m->signer_subject, "CN=Signer", sizeof(m->signer_subject));
	util_strlcpy(m->signer_issuer, "CN=Issuer", sizeof(m->signer_issuer));
	util_strlcpy(m->signer_serial, "0a1b2c", sizeof(m->signer_serial));
	util_strlcpy(m->sig_alg, "rsa-sha256", sizeof(m->sig_alg));
	m->sig_ok = 1;
	m->chain_ok = -1;
}

/* Envelope bytes of (id, reader), with NULs and a high byte in them. */
static size_t
env_make(unsigned char *buf, size_t size, const char *id, const char *reader)
{
	int n = snprintf((char *)buf, size, "env%c%s%c%s%c\xff", 0, id, 0,
	    reader, 0);

	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* Accepts message id (portal "portal-a") for the readers, with its one
 * audit event "submission.accepted". */
static int
accept_msg(struct store *s, const char *id, const char *pmid,
    const char *const *readers, size_t nr)
{
	unsigned char env[8][128];
	struct store_delivery d[8];
	struct store_audit ev = { "submission.accepted", "portal-a", id, NULL,
	    "OK", NULL };
	struct store_msg m;
	size_t i;

	assert_true(nr <= 8);
	msg_make(&m, "portal-a", id, pmid);
	memset(d, 0, sizeof(d));
	for (i = 0; i < nr; i++) {
		util_strlcpy(d[i].reader, readers[i], sizeof(d[i].reader));
		d[i].size = (int64_t)env_make(env[i], sizeof(env[i]), id,
		    readers[i]);
		d[i].created_ms = 1700000000003 + (int64_t)i;
		d[i].envelope = env[i];
	}
	return store_accept(s, &m, RECEIPT, sizeof(RECEIPT), d, nr, &ev, 1);
}

static size_t
audit_count(struct store *s)
{
	struct store_audit_row *rows = NULL;
	size_t n = 0;

	assert_int_equal(store_audit_list(s, 0, 1000, &rows, &n), 0);
	free(rows);
	return n;
}

static int64_t
mbox_count(struct store *s, const char *reader)
{
	int64_t n = -1;

	assert_int_equal(store_mailbox_count(s, reader, &n), 0);
	return n;
}

static const char *const AB[] = { "reader-a", "reader-b" };

static void
test_accept_get(void **state)
{
	struct fix *f = *state;
	struct store_delivery *d = NULL;
	struct store_msg want, got;
	unsigned char env[128];
	size_t nd = 99;

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", AB, 2), 0);
	msg_make(&want, "portal-a", "gw-1", "pm-1");
	assert_int_equal(store_get_msg(f->s, "gw-1", &got, &d, &nd), 0);
	assert_string_equal(got.portal_msg_id, "pm-1");
	assert_string_equal(got.subject, "subject of gw-1");
	assert_int_equal(got.chain_ok, -1);
	/* Every field, including the ones not spelled out above. */
	assert_memory_equal(&got, &want, sizeof(want));
	assert_int_equal(nd, 2);
	assert_string_equal(d[0].reader, "reader-a");
	assert_string_equal(d[1].reader, "reader-b");
	assert_string_equal(d[0].state, STORE_ST_WAITING);
	assert_string_equal(d[1].state, STORE_ST_WAITING);
	assert_int_equal(d[0].size, env_make(env, sizeof(env), "gw-1",
	    "reader-a"));
	assert_int_equal(d[1].size, env_make(env, sizeof(env), "gw-1",
	    "reader-b"));
	assert_int_equal(d[0].created_ms, 1700000000003);
	assert_int_equal(d[1].created_ms, 1700000000004);
	assert_int_equal(d[0].fetched_ms, 0);
	assert_int_equal(d[0].closed_ms, 0);
	assert_null(d[0].envelope);
	free(d);

	d = NULL;
	nd = 99;
	assert_int_equal(store_get_msg(f->s, "gw-none", &got, &d, &nd),
	    GW_ERR_NOT_FOUND);
	assert_null(d);
	assert_int_equal(nd, 99);
}

/* The inspection report column (schema version 4): the bytes come back
 * exactly, malloc'd for the caller; a message without one reads NULL. */
static void
test_report(void **state)
{
	static unsigned char report[] = "<InspectionReport xmlns="
	    "\"urn:gatewayd:inspection:1\">\0\xff</InspectionReport>";
	struct fix *f = *state;
	struct store_delivery d[1], *got_d = NULL;
	struct store_audit ev = { "submission.accepted", NULL, NULL, NULL,
	    NULL, NULL };
	struct store_msg m, got;
	size_t nd = 0;

	msg_make(&m, "portal-a", "gw-1", "pm-1");
	m.report = report;
	m.report_len = sizeof(report);
	memset(d, 0, sizeof(d));
	util_strlcpy(d[0].reader, "reader-a", sizeof(d[0].reader));
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1), 0);
	assert_int_equal(store_get_msg(f->s, "gw-1", &got, &got_d, &nd), 0);
	free(got_d);
	assert_non_null(got.report);
	assert_ptr_not_equal(got.report, report);
	assert_int_equal(got.report_len, sizeof(report));
	assert_memory_equal(got.report, report, sizeof(report));
	store_msg_clear(&got);
	assert_null(got.report);
	assert_int_equal(got.report_len, 0);
	store_msg_clear(&got);		/* twice, and NULL: no harm */
	store_msg_clear(NULL);

	/* none given: none read back (as for rows before version 4) */
	assert_int_equal(accept_msg(f->s, "gw-2", "pm-2", AB, 1), 0);
	got_d = NULL;
	assert_int_equal(store_get_msg(f->s, "gw-2", &got, &got_d, &nd), 0);
	free(got_d);
	assert_null(got.report);
	assert_int_equal(got.report_len, 0);

	/* a length without bytes, and one over the limit, are refused */
	msg_make(&m, "portal-a", "gw-3", "pm-3");
	m.report_len = 10;
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1),
	    GW_ERR_INVALID);
	m.report = report;
	m.report_len = STORE_REPORT_MAX + 1;
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1),
	    GW_ERR_TOO_LARGE);
	assert_int_equal(store_get_msg(f->s, "gw-3", &got, &got_d, &nd),
	    GW_ERR_NOT_FOUND);
}

static void
test_duplicate(void **state)
{
	struct fix *f = *state;
	struct store_delivery *d = NULL;
	struct store_msg m;
	char id[40] = "", sha[65];
	size_t nd = 0;

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", AB, 2), 0);
	assert_int_equal(audit_count(f->s), 1);

	/* Same portal and portal message id, new gateway id. */
	assert_int_equal(accept_msg(f->s, "gw-2", "pm-1", AB, 2),
	    GW_ERR_DUPLICATE);
	assert_int_equal(audit_count(f->s), 1);
	assert_int_equal(store_get_msg(f->s, "gw-2", &m, &d, &nd),
	    GW_ERR_NOT_FOUND);
	assert_int_equal(mbox_count(f->s, "reader-a"), 1);
	assert_int_equal(mbox_count(f->s, "reader-b"), 1);
	assert_int_equal(store_lookup_portal(f->s, "portal-a", "pm-1", id,
	    sha, NULL, NULL), 0);
	assert_string_equal(id, "gw-1");

	/* A gateway id collision is a store failure, not a duplicate: the
	 * caller would look up an unrelated "original". */
	assert_int_equal(accept_msg(f->s, "gw-1", "pm-2", AB, 2),
	    GW_ERR_STORE);
	assert_int_equal(audit_count(f->s), 1);
}

static void
test_duplicate_other_portal(void **state)
{
	struct fix *f = *state;
	struct store_delivery d[1];
	struct store_audit ev = { "submission.accepted", NULL, NULL, NULL,
	    NULL, NULL };
	struct store_msg m;
	char id[40], sha[65];

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", AB, 1), 0);
	/* The same portal message id from another portal is a new message. */
	msg_make(&m, "portal-b", "gw-2", "pm-1");
	memset(d, 0, sizeof(d));
	util_strlcpy(d[0].reader, "reader-a", sizeof(d[0].reader));
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1), 0);
	assert_int_equal(store_lookup_portal(f->s, "portal-b", "pm-1", id,
	    sha, NULL, NULL), 0);
	assert_string_equal(id, "gw-2");
	assert_int_equal(mbox_count(f->s, "reader-a"), 2);
}

/* A failure after the message row was inserted leaves nothing behind, and
 * the connection is usable (not left inside the transaction). */
static void
test_accept_rollback(void **state)
{
	static const char *const twice[] = { "reader-a", "reader-a" };
	struct fix *f = *state;
	struct store_delivery *d = NULL;
	struct store_msg m;
	char id[40], sha[65];
	size_t nd = 0;

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", twice, 2),
	    GW_ERR_STORE);
	assert_int_equal(store_get_msg(f->s, "gw-1", &m, &d, &nd),
	    GW_ERR_NOT_FOUND);
	assert_int_equal(store_lookup_portal(f->s, "portal-a", "pm-1", id,
	    sha, NULL, NULL), GW_ERR_NOT_FOUND);
	assert_int_equal(mbox_count(f->s, "reader-a"), 0);
	assert_int_equal(audit_count(f->s), 0);

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", AB, 2), 0);
	assert_int_equal(mbox_count(f->s, "reader-a"), 1);
	assert_int_equal(audit_count(f->s), 1);
}

static void
test_lookup_portal(void **state)
{
	struct fix *f = *state;
	struct store_delivery d[1];
	struct store_audit ev = { "submission.accepted", NULL, NULL, NULL,
	    NULL, NULL };
	struct store_msg m;
	unsigned char *rc = NULL;
	size_t rlen = 0;
	char id[40], sha[65], want[65];

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", AB, 2), 0);
	assert_int_equal(store_lookup_portal(f->s, "portal-a", "pm-1", id,
	    sha, &rc, &rlen), 0);
	util_sha256_hex("gw-1", 4, want);
	assert_string_equal(id, "gw-1");
	assert_string_equal(sha, want);
	assert_int_equal(rlen, sizeof(RECEIPT));
	assert_memory_equal(rc, RECEIPT, sizeof(RECEIPT));
	free(rc);

	/* Not found: wrong id, wrong portal; nothing is written out. */
	rc = NULL;
	rlen = 7;
	memcpy(id, "unchanged", 10);
	assert_int_equal(store_lookup_portal(f->s, "portal-a", "pm-2", id,
	    sha, &rc, &rlen), GW_ERR_NOT_FOUND);
	assert_int_equal(store_lookup_portal(f->s, "portal-b", "pm-1", id,
	    sha, &rc, &rlen), GW_ERR_NOT_FOUND);
	assert_string_equal(id, "unchanged");
	assert_null(rc);
	assert_int_equal(rlen, 7);

	/* An empty receipt reads back empty, as a freeable pointer. */
	msg_make(&m, "portal-a", "gw-2", "pm-2");
	memset(d, 0, sizeof(d));
	util_strlcpy(d[0].reader, "reader-a", sizeof(d[0].reader));
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1), 0);
	assert_int_equal(store_lookup_portal(f->s, "portal-a", "pm-2", id,
	    sha, &rc, &rlen), 0);
	assert_non_null(rc);
	assert_int_equal(rlen, 0);
	free(rc);
}

static void
test_mailbox_paging(void **state)
{
	static const char *const a[] = { "reader-a" };
	static const char *const b[] = { "reader-b" };
	struct fix *f = *state;
	struct store_mbox_entry *e = NULL;
	unsigned char env[128];
	char id[40], pm[40];
	size_t n = 0, i, total = 0;
	int64_t after = 0, last = 0;

	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "gw-a%zu", i);
		snprintf(pm, sizeof(pm), "pm-a%zu", i);
		assert_int_equal(accept_msg(f->s, id, pm, a, 1), 0);
		snprintf(id, sizeof(id), "gw-b%zu", i);
		snprintf(pm, sizeof(pm), "pm-b%zu", i);
		assert_int_equal(accept_msg(f->s, id, pm, b, 1), 0);
	}
	assert_int_equal(mbox_count(f->s, "reader-a"), 5);

	/* Pages of two: gw-a0 gw-a1 | gw-a2 gw-a3 | gw-a4 | (empty). */
	for (;;) {
		assert_int_equal(store_mailbox_list(f->s, "reader-a", after, 2,
		    &e, &n), 0);
		assert_true(n <= 2);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			snprintf(id, sizeof(id), "gw-a%zu", total + i);
			assert_string_equal(e[i].msg_id, id);
			assert_true(e[i].seq > last);
			last = e[i].seq;
			assert_int_equal(e[i].size, env_make(env, sizeof(env),
			    id, "reader-a"));
			assert_string_equal(e[i].service, "urn:service:x");
			assert_int_equal(e[i].received_ms, 1700000000001);
		}
		total += n;
		after = e[n - 1].seq;
		free(e);
		e = NULL;
	}
	free(e);
	assert_int_equal(total, 5);

	/* The limit is clamped to 1..1000. */
	assert_int_equal(store_mailbox_list(f->s, "reader-a", 0, 0, &e, &n),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].msg_id, "gw-a0");
	free(e);
	assert_int_equal(store_mailbox_list(f->s, "reader-a", 0, 100000, &e,
	    &n), 0);
	assert_int_equal(n, 5);
	free(e);
}

/* Reader B never sees, fetches or closes a message only for A. */
static void
test_mailbox_isolation(void **state)
{
	static const char *const a[] = { "reader-a" };
	struct fix *f = *state;
	struct store_audit ev = { "delivery.fetched", "reader-b", "gw-1",
	    "reader-b", "OK", NULL };
	struct store_mbox_entry *e = NULL;
	struct store_delivery *d = NULL;
	struct store_msg m;
	unsigned char *env = NULL;
	size_t n = 99, len = 0;

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", a, 1), 0);
	assert_int_equal(store_mailbox_list(f->s, "reader-b", 0, 100, &e, &n),
	    0);
	assert_int_equal(n, 0);
	free(e);
	assert_int_equal(mbox_count(f->s, "reader-b"), 0);
	assert_int_equal(store_mailbox_fetch(f->s, "reader-b", "gw-1", 1000,
	    &ev, &env, &len), GW_ERR_NOT_FOUND);
	assert_null(env);
	assert_int_equal(store_mailbox_close(f->s, "reader-b", "gw-1", 1000,
	    &ev), GW_ERR_NOT_FOUND);
	/* Nothing changed for A, and the refused requests wrote nothing. */
	assert_int_equal(store_get_msg(f->s, "gw-1", &m, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].state, STORE_ST_WAITING);
	assert_int_equal(d[0].fetched_ms, 0);
	free(d);
	assert_int_equal(audit_count(f->s), 1);
}

static void
test_fetch(void **state)
{
	struct fix *f = *state;
	struct store_audit ev = { "delivery.fetched", "reader-a", "gw-1",
	    "reader-a", "OK", "first" };
	struct store_audit_row *rows = NULL;
	struct store_delivery *d = NULL;
	struct store_msg m;
	unsigned char want[128], *env = NULL;
	size_t len = 0, wlen, n = 0;

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", AB, 2), 0);
	wlen = env_make(want, sizeof(want), "gw-1", "reader-a");
	assert_int_equal(store_mailbox_fetch(f->s, "reader-a", "gw-1", 1000,
	    &ev, &env, &len), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(env, want, wlen);
	free(env);

	assert_int_equal(store_audit_list(f->s, 1, 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].event, "delivery.fetched");
	assert_string_equal(rows[0].msg_id, "gw-1");
	assert_string_equal(rows[0].reader, "reader-a");
	assert_string_equal(rows[0].detail, "first");
	free(rows);

	/* A second fetch returns the same bytes and keeps the first time. */
	ev.detail = "second";
	assert_int_equal(store_mailbox_fetch(f->s, "reader-a", "gw-1", 2000,
	    &ev, &env, &len), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(env, want, wlen);
	free(env);
	assert_int_equal(store_get_msg(f->s, "gw-1", &m, &d, &n), 0);
	assert_int_equal(d[0].fetched_ms, 1000);
	assert_int_equal(d[1].fetched_ms, 0);
	assert_string_equal(d[0].state, STORE_ST_WAITING);
	free(d);
	assert_int_equal(audit_count(f->s), 3);
	assert_int_equal(mbox_count(f->s, "reader-a"), 1);

	/* Another reader, an unknown message: refused, nothing written. */
	env = NULL;
	len = 77;
	assert_int_equal(store_mailbox_fetch(f->s, "reader-c", "gw-1", 3000,
	    &ev, &env, &len), GW_ERR_NOT_FOUND);
	assert_int_equal(store_mailbox_fetch(f->s, "reader-a", "gw-2", 3000,
	    &ev, &env, &len), GW_ERR_NOT_FOUND);
	assert_null(env);
	assert_int_equal(len, 77);
	assert_int_equal(audit_count(f->s), 3);
}

static void
test_close(void **state)
{
	struct fix *f = *state;
	struct store_audit ev = { "delivery.closed", "reader-a", "gw-1",
	    "reader-a", "OK", NULL };
	struct store_mbox_entry *e = NULL;
	struct store_delivery *d = NULL;
	struct store_msg m;
	unsigned char want[128], *env = NULL;
	size_t n = 0, len = 0, wlen;

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", AB, 2), 0);
	assert_int_equal(store_mailbox_close(f->s, "reader-a", "gw-1", 5000,
	    &ev), 0);
	assert_int_equal(store_mailbox_list(f->s, "reader-a", 0, 10, &e, &n),
	    0);
	assert_int_equal(n, 0);
	free(e);
	assert_int_equal(mbox_count(f->s, "reader-a"), 0);
	assert_int_equal(mbox_count(f->s, "reader-b"), 1);
	assert_int_equal(store_get_msg(f->s, "gw-1", &m, &d, &n), 0);
	assert_string_equal(d[0].state, STORE_ST_DELIVERED);
	assert_int_equal(d[0].closed_ms, 5000);
	assert_string_equal(d[1].state, STORE_ST_WAITING);
	assert_int_equal(d[1].closed_ms, 0);
	free(d);

	/* Closing again succeeds and keeps the first Reception time. */
	assert_int_equal(store_mailbox_close(f->s, "reader-a", "gw-1", 6000,
	    &ev), 0);
	assert_int_equal(store_get_msg(f->s, "gw-1", &m, &d, &n), 0);
	assert_string_equal(d[0].state, STORE_ST_DELIVERED);
	assert_int_equal(d[0].closed_ms, 5000);
	free(d);
	assert_int_equal(audit_count(f->s), 3);

	/* A closed message can still be fetched by its reader. */
	wlen = env_make(want, sizeof(want), "gw-1", "reader-a");
	assert_int_equal(store_mailbox_fetch(f->s, "reader-a", "gw-1", 7000,
	    &ev, &env, &len), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(env, want, wlen);
	free(env);

	assert_int_equal(store_mailbox_close(f->s, "reader-a", "gw-9", 5000,
	    &ev), GW_ERR_NOT_FOUND);
	assert_int_equal(store_mailbox_close(f->s, "reader-c", "gw-1", 5000,
	    &ev), GW_ERR_NOT_FOUND);
	assert_int_equal(audit_count(f->s), 4);
}

static void
test_audit_list(void **state)
{
	struct fix *f = *state;
	struct store_audit ev1 = { "gateway.started", "gateway", NULL, NULL,
	    NULL, NULL };
	struct store_audit ev2 = { "submission.rejected", "portal-a", "gw-7",
	    "reader-a", "SIGNATURE_INVALID", "digest mismatch" };
	struct store_audit ev3 = { "gateway.stopped", NULL, NULL, NULL, "OK",
	    NULL };
	struct store_audit_row *r = NULL;
	int64_t before, after;
	size_t n = 0;

	before = util_now_ms();
	assert_int_equal(store_audit(f->s, &ev1), 0);
	assert_int_equal(store_audit(f->s, &ev2), 0);
	assert_int_equal(store_audit(f->s, &ev3), 0);
	after = util_now_ms();

	assert_int_equal(store_audit_list(f->s, 0, 100, &r, &n), 0);
	assert_int_equal(n, 3);
	assert_true(r[0].seq < r[1].seq && r[1].seq < r[2].seq);
	assert_true(r[0].time_ms >= before && r[2].time_ms <= after);
	assert_true(r[0].time_ms <= r[1].time_ms &&
	    r[1].time_ms <= r[2].time_ms);
	assert_string_equal(r[0].event, "gateway.started");
	assert_string_equal(r[0].actor, "gateway");
	assert_string_equal(r[0].msg_id, "");
	assert_string_equal(r[0].detail, "");
	assert_string_equal(r[1].event, "submission.rejected");
	assert_string_equal(r[1].actor, "portal-a");
	assert_string_equal(r[1].msg_id, "gw-7");
	assert_string_equal(r[1].reader, "reader-a");
	assert_string_equal(r[1].code, "SIGNATURE_INVALID");
	assert_string_equal(r[1].detail, "digest mismatch");
	assert_string_equal(r[2].event, "gateway.stopped");
	assert_string_equal(r[2].actor, "");
	assert_string_equal(r[2].code, "OK");

	/* Paging: after the first, one at a time. */
	after = r[0].seq;
	free(r);
	assert_int_equal(store_audit_list(f->s, after, 1, &r, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].event, "submission.rejected");
	after = r[0].seq;
	free(r);
	assert_int_equal(store_audit_list(f->s, after, 0, &r, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].event, "gateway.stopped");
	after = r[0].seq;
	free(r);
	assert_int_equal(store_audit_list(f->s, after, 10, &r, &n), 0);
	assert_int_equal(n, 0);
	free(r);
}

/* Not even a direct SQL connection can change or remove audit rows. */
static void
test_audit_append_only(void **state)
{
	struct fix *f = *state;
	struct store_audit ev = { "gateway.started", NULL, NULL, NULL, NULL,
	    NULL };
	sqlite3 *db = NULL;

	assert_int_equal(store_audit(f->s, &ev), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE audit SET event = 'x'",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(audit_count(f->s), 1);
}

static void
test_reopen(void **state)
{
	struct fix *f = *state;
	struct store_audit ev = { "delivery.closed", NULL, NULL, NULL, NULL,
	    NULL };
	struct store_delivery *d = NULL;
	struct store_msg m, want;
	unsigned char *rc = NULL;
	char id[40], sha[65];
	size_t n = 0, len = 0;

	assert_int_equal(accept_msg(f->s, "gw-1", "pm-1", AB, 2), 0);
	assert_int_equal(accept_msg(f->s, "gw-2", "pm-2", AB, 1), 0);
	assert_int_equal(store_mailbox_close(f->s, "reader-b", "gw-1", 5000,
	    &ev), 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s), 0);

	msg_make(&want, "portal-a", "gw-1", "pm-1");
	assert_int_equal(store_get_msg(f->s, "gw-1", &m, &d, &n), 0);
	assert_memory_equal(&m, &want, sizeof(want));
	assert_int_equal(n, 2);
	assert_string_equal(d[0].state, STORE_ST_WAITING);
	assert_string_equal(d[1].state, STORE_ST_DELIVERED);
	assert_int_equal(d[1].closed_ms, 5000);
	free(d);
	assert_int_equal(store_lookup_portal(f->s, "portal-a", "pm-2", id, sha,
	    &rc, &len), 0);
	assert_string_equal(id, "gw-2");
	assert_int_equal(len, sizeof(RECEIPT));
	assert_memory_equal(rc, RECEIPT, len);
	free(rc);
	assert_int_equal(mbox_count(f->s, "reader-a"), 2);
	assert_int_equal(mbox_count(f->s, "reader-b"), 0);
	assert_int_equal(audit_count(f->s), 3);
	/* Still writable after reopening. */
	assert_int_equal(accept_msg(f->s, "gw-3", "pm-3", AB, 2), 0);
}

#define CONC_THREADS	2
#define CONC_EACH	200

struct conc {
	const char *path;
	int t;
	int err;		/* first failure, 0 if none */
};

/* Opens its own connection (racing the other thread to create the schema)
 * and accepts CONC_EACH messages.  No cmocka asserts off the main thread. */
static void *
conc_run(void *arg)
{
	struct conc *c = arg;
	struct store *s = NULL;
	const char *readers[] = { "reader-all", c->t == 0 ? "reader-0" :
	    "reader-1" };
	char id[40], pm[40];
	int i, r;

	if ((c->err = store_open(c->path, &s)) != 0)
		return NULL;
	for (i = 0; i < CONC_EACH && c->err == 0; i++) {
		snprintf(id, sizeof(id), "gw-t%d-%d", c->t, i);
		snprintf(pm, sizeof(pm), "pm-t%d-%d", c->t, i);
		if ((r = accept_msg(s, id, pm, readers, 2)) != 0)
			c->err = r;
	}
	store_close(s);
	return NULL;
}

static void
test_concurrent_writers(void **state)
{
	struct fix *f = *state;
	struct conc c[CONC_THREADS];
	pthread_t th[CONC_THREADS];
	struct store_mbox_entry *e = NULL;
	struct store_delivery *d = NULL;
	struct store_msg m;
	struct store *s = NULL;
	char path[PATH_MAX], id[40];
	size_t n = 0, i;
	int t, k;

	fix_file(f, "concurrent.db", path);
	for (t = 0; t < CONC_THREADS; t++) {
		c[t].path = path;
		c[t].t = t;
		c[t].err = 0;
		assert_int_equal(pthread_create(&th[t], NULL, conc_run, &c[t]),
		    0);
	}
	for (t = 0; t < CONC_THREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(c[t].err, 0);
	}

	assert_int_equal(store_open(path, &s), 0);
	assert_int_equal(mbox_count(s, "reader-all"),
	    CONC_THREADS * CONC_EACH);
	assert_int_equal(mbox_count(s, "reader-0"), CONC_EACH);
	assert_int_equal(mbox_count(s, "reader-1"), CONC_EACH);
	assert_int_equal(audit_count(s), CONC_THREADS * CONC_EACH);
	assert_int_equal(store_mailbox_list(s, "reader-all", 0, 1000, &e, &n),
	    0);
	assert_int_equal(n, CONC_THREADS * CONC_EACH);
	for (i = 1; i < n; i++)
		assert_true(e[i].seq > e[i - 1].seq);
	free(e);
	for (t = 0; t < CONC_THREADS; t++) {
		for (k = 0; k < CONC_EACH; k++) {
			snprintf(id, sizeof(id), "gw-t%d-%d", t, k);
			assert_int_equal(store_get_msg(s, id, &m, &d, &n), 0);
			assert_int_equal(n, 2);
			free(d);
		}
	}
	store_close(s);
}

static void
test_too_large(void **state)
{
	struct fix *f = *state;
	struct store_delivery d[1];
	char detail[600];
	struct store_audit ev = { "submission.accepted", NULL, NULL, NULL,
	    NULL, detail };
	struct store_audit_row *rows = NULL;
	struct store_msg m;
	size_t n = 0;

	memset(d, 0, sizeof(d));
	util_strlcpy(d[0].reader, "reader-a", sizeof(d[0].reader));
	memset(detail, 'd', sizeof(detail));
	detail[511] = '\0';		/* fits store_audit_row.detail exactly */

	/* An unterminated field is an over-long value the caller let by. */
	msg_make(&m, "portal-a", "gw-1", "pm-1");
	memset(m.portal_msg_id, 'x', sizeof(m.portal_msg_id));
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1),
	    GW_ERR_TOO_LARGE);
	msg_make(&m, "portal-a", "gw-1", "pm-1");
	memset(d[0].reader, 'r', sizeof(d[0].reader));
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1),
	    GW_ERR_TOO_LARGE);
	util_strlcpy(d[0].reader, "reader-a", sizeof(d[0].reader));
	detail[511] = 'd';
	detail[512] = '\0';
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1),
	    GW_ERR_TOO_LARGE);
	assert_int_equal(store_audit(f->s, &ev), GW_ERR_TOO_LARGE);
	ev.detail = NULL;
	ev.event = "an.event.name.longer.than.the.sixty.four.bytes.of.the.audit."
	    "row.event.field";
	assert_int_equal(store_audit(f->s, &ev), GW_ERR_TOO_LARGE);
	assert_int_equal(audit_count(f->s), 0);
	assert_int_equal(mbox_count(f->s, "reader-a"), 0);

	/* The longest value that fits is stored and read back whole. */
	ev.event = "submission.accepted";
	ev.detail = detail;
	detail[511] = '\0';
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1), 0);
	assert_int_equal(store_audit_list(f->s, 0, 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(rows[0].detail), 511);
	assert_string_equal(rows[0].detail, detail);
	free(rows);
}

static void
test_invalid(void **state)
{
	struct fix *f = *state;
	struct store_delivery d[1];
	struct store_audit ev = { NULL, NULL, NULL, NULL, NULL, NULL };
	struct store_audit ok = { "submission.accepted", NULL, NULL, NULL,
	    NULL, NULL };
	struct store_msg m;
	unsigned char *env = NULL;
	size_t len = 0;

	memset(d, 0, sizeof(d));
	util_strlcpy(d[0].reader, "reader-a", sizeof(d[0].reader));
	msg_make(&m, "portal-a", "gw-1", "pm-1");
	assert_int_equal(store_audit(f->s, &ev), GW_ERR_INVALID);
	assert_int_equal(store_audit(f->s, NULL), GW_ERR_INVALID);
	/* Every change needs its audit event. */
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ok, 0),
	    GW_ERR_INVALID);
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ev, 1),
	    GW_ERR_INVALID);
	m.sig_ok = 2;
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ok, 1),
	    GW_ERR_INVALID);
	m.sig_ok = 1;
	d[0].size = 10;		/* but no envelope */
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ok, 1),
	    GW_ERR_INVALID);
	d[0].size = 0;
	assert_int_equal(store_accept(f->s, &m, NULL, 0, d, 1, &ok, 1), 0);
	assert_int_equal(store_mailbox_fetch(f->s, "reader-a", "gw-1", 1,
	    NULL, &env, &len), GW_ERR_INVALID);
	assert_int_equal(store_mailbox_close(f->s, "reader-a", "gw-1", 1,
	    NULL), GW_ERR_INVALID);
	assert_int_equal(mbox_count(f->s, "reader-a"), 1);
	assert_int_equal(audit_count(f->s), 1);
}

static void
test_open_errors(void **state)
{
	static const char junk[] = "this is not an SQLite database, but it is"
	    " long enough to have a header that SQLite reads and rejects.....";
	struct fix *f = *state;
	struct store *s = NULL;
	unsigned char *back = NULL;
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	size_t len = 0;

	assert_int_equal(store_open(NULL, &s), GW_ERR_INVALID);

	fix_file(f, "missing/store.db", path);
	assert_int_equal(store_open(path, &s), GW_ERR_STORE);
	assert_null(s);

	fix_file(f, "adir", path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(store_open(path, &s), GW_ERR_STORE);
	assert_null(s);

	/* A file that is not a database is refused and left as it was. */
	fix_file(f, "junk.db", path);
	assert_int_equal(util_write_file(path, junk, sizeof(junk), 0600), 0);
	assert_int_equal(store_open(path, &s), GW_ERR_STORE);
	assert_null(s);
	assert_int_equal(util_read_file(path, 4096, &back, &len), 0);
	assert_int_equal(len, sizeof(junk));
	assert_memory_equal(back, junk, len);
	free(back);

	/* A schema from a newer gatewayd is not touched. */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &s), GW_ERR_STORE);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accept_get, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_other_portal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_rollback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_portal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_paging, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_isolation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_list, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_append_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
