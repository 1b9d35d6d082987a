/*
 * test_confsnap.c - configuration snapshots (gateway/confsnap.c): the
 * reference counting a reload relies on (a request's snapshot outlives the
 * install of the next one), and which changes a reload must refuse, each
 * with a sentence naming the key.
 *
 * Configurations are built by hand (no files): the digests then cover
 * missing files, which is what confsnap_digest() promises to handle too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "confsnap.h"
#include "err.h"
#include "gw.h"
#include "util.h"

static struct config *
cfg_new(void)
{
	struct config *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	util_strlcpy(c->path, "/nonexistent/gateway.conf", sizeof(c->path));
	util_strlcpy(c->listen, "127.0.0.1:8443", sizeof(c->listen));
	util_strlcpy(c->tls_cert, "/nonexistent/tls.pem", sizeof(c->tls_cert));
	util_strlcpy(c->database, "/nonexistent/gateway.db", sizeof(c->database));
	util_strlcpy(c->profiles_dir, "/nonexistent/profiles",
	    sizeof(c->profiles_dir));
	util_strlcpy(c->revocation, "prefer", sizeof(c->revocation));
	c->max_body = 16u << 20;
	c->max_pending = 256;
	return c;
}

static struct confsnap *
snap_of(struct config *c)
{
	struct confsnap *s = NULL;

	assert_int_equal(confsnap_new(c, &s), 0);
	assert_non_null(s);
	return s;
}

/* A reference taken before a reload stays valid after it. */
static void
test_acquire_survives_install(void **state)
{
	struct gw gw;
	struct confsnap *a, *b, *held, *now;

	(void)state;
	memset(&gw, 0, sizeof(gw));
	confsnap_init(&gw);
	assert_null(confsnap_acquire(&gw));
	a = snap_of(cfg_new());
	confsnap_install(&gw, a);
	assert_int_equal(a->seq, 1);
	held = confsnap_acquire(&gw);
	assert_ptr_equal(held, a);
	assert_int_equal(atomic_load(&a->refs), 2);

	b = snap_of(cfg_new());
	b->cfg->max_pending = 7;
	confsnap_install(&gw, b);
	assert_int_equal(b->seq, 2);
	/* the old one is still ours, unchanged (ASan would see a free) */
	assert_int_equal(atomic_load(&held->refs), 1);
	assert_int_equal(held->cfg->max_pending, 256);
	now = confsnap_acquire(&gw);
	assert_ptr_equal(now, b);
	assert_int_equal(now->cfg->max_pending, 7);
	confsnap_release(now);
	confsnap_release(held);		/* frees a */
	confsnap_install(&gw, NULL);	/* frees b */
	assert_null(gw.conf);
	confsnap_release(NULL);
}

static void
test_ref_counts(void **state)
{
	struct confsnap *s = snap_of(cfg_new());

	(void)state;
	assert_ptr_equal(confsnap_ref(s), s);
	assert_int_equal(atomic_load(&s->refs), 2);
	confsnap_release(s);
	assert_int_equal(atomic_load(&s->refs), 1);
	confsnap_release(s);
}

/* Profiles and reloadable keys may change. */
static void
test_reloadable_changes(void **state)
{
	struct confsnap *a = snap_of(cfg_new()), *b;
	struct config *c = cfg_new();
	char why[300] = "";

	(void)state;
	c->max_pending = 10;
	util_strlcpy(c->profiles_dir, "/elsewhere", sizeof(c->profiles_dir));
	b = snap_of(c);
	assert_int_equal(confsnap_fixed_diff(a, b, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	confsnap_release(a);
	confsnap_release(b);
}

/* Each restart-only key is refused with a sentence naming it. */
static void
test_restart_only_keys(void **state)
{
	static const struct {
		size_t off, len;
		const char *value, *want;
	} keys[] = {
#define K(f, v, w) { offsetof(struct config, f), \
	sizeof(((struct config *)NULL)->f), v, w }
		K(listen, "0.0.0.0:443", "listen changed from 127.0.0.1:8443 to "
		    "0.0.0.0:443; restart gatewayd to change it"),
		K(tls_cert, "/x/new.pem", "tls_cert changed from /nonexistent/"
		    "tls.pem to /x/new.pem; restart gatewayd to change it"),
		K(tls_key, "/x/k", "tls_key changed from (none) to /x/k; "
		    "restart gatewayd to change it"),
		K(client_ca, "/x/ca", "client_ca changed"),
		K(trust_ca, "/x/ca", "trust_ca changed"),
		K(sign_cert, "/x/c", "sign_cert changed"),
		K(sign_key, "/x/k", "sign_key changed"),
		K(database, "/x/db", "database changed"),
		K(revocation, "require", "revocation changed from prefer to require"),
		K(crl_file, "/x/crl", "crl changed"),
#undef K
	};
	struct confsnap *a = snap_of(cfg_new()), *b;
	struct config *c;
	char why[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		c = cfg_new();
		util_strlcpy((char *)c + keys[i].off, keys[i].value, keys[i].len);
		b = snap_of(c);
		why[0] = '\0';
		assert_int_equal(confsnap_fixed_diff(a, b, why, sizeof(why)),
		    GW_ERR_CONFIG);
		if (strstr(why, keys[i].want) == NULL)
			fail_msg("%s: got \"%s\"", keys[i].want, why);
		confsnap_release(b);
	}
	confsnap_release(a);
}

static void
test_restart_only_numbers(void **state)
{
	struct confsnap *a = snap_of(cfg_new()), *b;
	struct config *c;
	char why[300];

	(void)state;
	c = cfg_new();
	c->threads = 4;
	b = snap_of(c);
	assert_int_equal(confsnap_fixed_diff(a, b, why, sizeof(why)), GW_ERR_CONFIG);
	assert_string_equal(why, "threads changed from 0 to 4; restart gatewayd "
	    "to change it");
	confsnap_release(b);
	c = cfg_new();
	c->io_threads = 2;
	b = snap_of(c);
	assert_int_equal(confsnap_fixed_diff(a, b, why, sizeof(why)), GW_ERR_CONFIG);
	assert_non_null(strstr(why, "io_threads changed from 0 to 2"));
	confsnap_release(b);
	c = cfg_new();
	c->max_body = 1024;
	b = snap_of(c);
	assert_int_equal(confsnap_fixed_diff(a, b, why, sizeof(why)), GW_ERR_CONFIG);
	assert_non_null(strstr(why, "max_body changed from 16777216 to 1024"));
	confsnap_release(b);
	confsnap_release(a);
}

/* Same value, other bytes behind it: a restart is needed to use them. */
static void
test_file_content_changed(void **state)
{
	char dir[] = "/tmp/test_confsnap.XXXXXX", path[64];
	struct confsnap *a, *b;
	struct config *c;
	char why[300];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	assert_int_equal(util_write_file(path, "one", 3, 0600), 0);
	c = cfg_new();
	util_strlcpy(c->trust_ca, path, sizeof(c->trust_ca));
	a = snap_of(c);
	assert_int_equal(util_write_file(path, "two", 3, 0600), 0);
	c = cfg_new();
	util_strlcpy(c->trust_ca, path, sizeof(c->trust_ca));
	b = snap_of(c);
	assert_string_not_equal(a->digest, b->digest);
	assert_int_equal(confsnap_fixed_diff(a, b, why, sizeof(why)), GW_ERR_CONFIG);
	assert_non_null(strstr(why, "changed since gatewayd started"));
	confsnap_release(a);
	confsnap_release(b);
	unlink(path);
	rmdir(dir);
}

static void
test_digest_stable(void **state)
{
	struct config *c = cfg_new();
	char d1[65], d2[65];

	(void)state;
	confsnap_digest(c, d1);
	confsnap_digest(c, d2);
	assert_string_equal(d1, d2);
	assert_int_equal(strlen(d1), 64);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acquire_survives_install),
		cmocka_unit_test(test_ref_counts),
		cmocka_unit_test(test_reloadable_changes),
		cmocka_unit_test(test_restart_only_keys),
		cmocka_unit_test(test_restart_only_numbers),
		cmocka_unit_test(test_file_content_changed),
		cmocka_unit_test(test_digest_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
