/*
 * test_config.c - the configuration loader (profiles/config.c).
 *
 * The group set-up builds one development directory with config_dev() (the
 * slow part: RSA key generation) plus a few odd certificates; every other
 * test writes its own small case directory whose gateway.conf and profiles
 * point at those files, loads it, and checks the outcome an operator sees:
 * the loaded values, or an error sentence naming the file, line and problem.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "err.h"
#include "pki.h"
#include "util.h"

#define DIRLEN 256	/* case directories; PATH_MAX for files in them */

static char base[64];	/* the group's temporary directory */
static char dev[128];	/* base/dev: made by config_dev() */
static struct config *devcfg;	/* what config_dev() loaded */
static int ncase;

static void writef(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
writef(const char *path, const char *fmt, ...)
{
	va_list ap;
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
}

/* base/name with text (setup: no cmocka asserts outside a test). */
static void
writef_raw(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", base, name);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* A file in the dev directory; up to 8 results may be live at once. */
static const char *
devp(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", dev, name);
	return b;
}

/* base/name (the group's odd certificates). */
static const char *
basep(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", base, name);
	return b;
}

/* One key per type for every throw-away certificate: RSA key generation
 * under the sanitizers is the slow part. */
static EVP_PKEY *tkeys[PKI_KEY_EC_P256 + 1];

/* A throw-away self-signed certificate written to base/name. */
static int
make_cert(const char *name, enum pki_keytype type, long nb_offset, long days,
    int no_encipherment)
{
	struct pki_cert_spec spec;
	X509 *cert = NULL;
	char path[PATH_MAX];
	int r = 0;

	memset(&spec, 0, sizeof(spec));
	spec.cn = name;
	spec.client = 1;
	spec.not_before_offset = nb_offset;
	spec.days = days;
	spec.no_encipherment = no_encipherment;
	snprintf(path, sizeof(path), "%s/%s", base, name);
	if (tkeys[type] == NULL)
		r = pki_make_key(type, &tkeys[type]);
	if (r == 0 && (r = pki_make_cert(&spec, tkeys[type], NULL, NULL,
	    &cert)) == 0)
		r = pki_write_cert(path, cert);
	X509_free(cert);
	return r;
}

static int
group_setup(void **state)
{
	char err[512] = "";
	int r;

	(void)state;
	snprintf(base, sizeof(base), "/tmp/gw-test-config-XXXXXX");
	if (mkdtemp(base) == NULL)
		return -1;
	/* base/var does not exist: config_dev makes the parents (make run
	 * in a fresh checkout uses var/dev) */
	snprintf(dev, sizeof(dev), "%s/var/dev", base);
	if ((r = config_dev(dev, NULL, &devcfg, err, sizeof(err))) != 0) {
		fprintf(stderr, "config_dev: %s\n", err);
		return -1;
	}
	/* expired 2 days ago; EC; RSA without keyEncipherment; not valid yet;
	 * spare TLS; RSA-2048; expiring in 10 days; valid 60 days; garbage */
	if (make_cert("expired.pem", PKI_KEY_RSA3072, -3 * 86400L, 1, 0) != 0 ||
	    make_cert("ec.pem", PKI_KEY_EC_P256, -3600, 90, 0) != 0 ||
	    make_cert("nokeyenc.pem", PKI_KEY_RSA3072, -3600, 90, 1) != 0 ||
	    make_cert("future.pem", PKI_KEY_RSA3072, 86400L, 90, 0) != 0 ||
	    make_cert("spare-1.pem", PKI_KEY_EC_P256, -3600, 90, 0) != 0 ||
	    make_cert("spare-2.pem", PKI_KEY_EC_P256, -3600, 90, 0) != 0 ||
	    make_cert("weak.pem", PKI_KEY_RSA2048, -3600, 365, 0) != 0 ||
	    make_cert("soon.pem", PKI_KEY_RSA3072, -3600, 10, 0) != 0 ||
	    make_cert("enc2.pem", PKI_KEY_RSA3072, -3600, 60, 0) != 0 ||
	    make_cert("expired-ec.pem", PKI_KEY_EC_P256, -3 * 86400L, 1, 0) != 0)
		return -1;
	writef_raw("garbage.pem", "not a certificate\n");
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_teardown(void **state)
{
	size_t i;

	(void)state;
	config_free(devcfg);
	for (i = 0; i < sizeof(tkeys) / sizeof(tkeys[0]); i++)
		EVP_PKEY_free(tkeys[i]);
	if (base[0] != '\0')
		nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/*
 * A fresh case directory with a gateway.conf that uses the dev PKI; the
 * eight standard lines (minus omit) come first, extra starts on line 9.
 */
static void
case_new(char *dir, size_t len, const char *extra, const char *omit)
{
	static const char *const keys[] = { "tls_cert", "tls_key", "client_ca",
	    "trust_ca", "sign_cert", "sign_key", "database", "profiles_dir" };
	static const char *const vals[] = { "gateway.pem", "gateway.key", "ca.pem",
	    "ca.pem", "gateway.pem", "gateway.key", NULL, NULL };
	char path[PATH_MAX], text[8192];
	size_t i, n = 0;

	snprintf(dir, len, "%s/case-%d", base, ++ncase);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/profiles", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (i = 0; i < 8; i++) {
		if (omit != NULL && strcmp(omit, keys[i]) == 0)
			continue;
		if (vals[i] != NULL)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s = %s\n",
			    keys[i], devp(vals[i]));
		else
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s = %s\n",
			    keys[i], i == 6 ? "gw.db" : "profiles");
	}
	snprintf(text + n, sizeof(text) - n, "%s", extra ? extra : "");
	snprintf(path, sizeof(path), "%s/gateway.conf", dir);
	writef(path, "%s", text);
}

/* id on line 2, kind 3, tls_cert 4, encryption_cert 5, extra from 6. */
static void
authority(const char *dir, const char *id, const char *tls, const char *enc,
    const char *extra)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/profiles/%s.conf", dir, id);
	writef(path, "# test authority\nid = %s\nkind = authority\ntls_cert = %s\n"
	    "encryption_cert = %s\n%s", id, tls, enc, extra ? extra : "");
}

/* id on line 2, kind 3, tls_cert 4, extra from 5. */
static void
portal(const char *dir, const char *id, const char *tls, const char *extra)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/profiles/%s.conf", dir, id);
	writef(path, "# test portal\nid = %s\nkind = portal\ntls_cert = %s\n%s",
	    id, tls, extra ? extra : "");
}

static void
std_profiles(const char *dir)
{
	portal(dir, "portal-1", devp("portal-1.pem"), NULL);
	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("authority-a.pem"), NULL);
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), NULL);
}

static int
case_load(const char *dir, struct config **c, char *err, size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/gateway.conf", dir);
	err[0] = '\0';
	return config_load(path, c, err, errlen);
}

/*
 * Loads dir, expects GW_ERR_CONFIG and an error containing every one of
 * the NULL-terminated fragments; the out-parameter must stay untouched.
 */
static void
expect_error(const char *dir, ...)
{
	struct config *c = (struct config *)(uintptr_t)0x1;
	char err[1024];
	const char *frag;
	va_list ap;

	assert_int_equal(case_load(dir, &c, err, sizeof(err)), GW_ERR_CONFIG);
	assert_ptr_equal(c, (struct config *)(uintptr_t)0x1);
	if (getenv("GW_TEST_VERBOSE") != NULL)
		fprintf(stderr, "    error: %s\n", err);
	va_start(ap, dir);
	while ((frag = va_arg(ap, const char *)) != NULL) {
		if (strstr(err, frag) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", err, frag);
	}
	va_end(ap);
	/* one sentence */
	assert_true(strlen(err) > 0 && err[strlen(err) - 1] == '.');
	assert_null(strchr(err, '\n'));
}

static void
fpr_of(const char *path, char out[65])
{
	X509 *cert = NULL;

	assert_int_equal(pki_read_cert(path, &cert), 0);
	assert_int_equal(pki_cert_fingerprint(cert, out), 0);
	X509_free(cert);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- the development set-up ---- */

static void
test_dev_creates_and_loads(void **state)
{
	const struct party *p, *a;
	char fpr[65];

	(void)state;
	assert_int_equal(access(devp("ca.pem"), R_OK), 0);
	assert_int_equal(access(devp("gateway.key"), R_OK), 0);
	assert_int_equal(access(devp("gateway.conf"), R_OK), 0);
	assert_int_equal(access(devp("profiles/portal-1.conf"), R_OK), 0);
	assert_int_equal(access(devp("profiles/authority-a.conf"), R_OK), 0);
	assert_int_equal(access(devp("profiles/authority-b.conf"), R_OK), 0);

	assert_string_equal(devcfg->listen, "127.0.0.1:8443");
	assert_int_equal(devcfg->threads, 0);
	assert_int_equal(devcfg->io_threads, 1);
	assert_int_equal(devcfg->max_body, 16 * 1024 * 1024);
	assert_int_equal(devcfg->max_pending, 256);
	/* relative paths resolved against the file's directory */
	assert_true(devcfg->tls_cert[0] == '/' && ends_with(devcfg->tls_cert, "/dev/gateway.pem"));
	assert_true(ends_with(devcfg->sign_key, "/dev/gateway.key"));
	assert_true(ends_with(devcfg->client_ca, "/dev/ca.pem"));
	assert_true(ends_with(devcfg->database, "/dev/gateway.db"));
	assert_true(ends_with(devcfg->profiles_dir, "/dev/profiles"));
	assert_true(ends_with(devcfg->path, "/dev/gateway.conf"));

	assert_int_equal(devcfg->nparties, 3);
	p = config_party(devcfg, "portal-1");
	assert_non_null(p);
	assert_int_equal(p->kind, PARTY_PORTAL);
	assert_int_equal(p->nreaders, 0);
	assert_null(p->enc_cert);
	fpr_of(devp("portal-1.pem"), fpr);
	assert_string_equal(p->tls_fpr, fpr);
	a = config_party(devcfg, "authority-a");
	assert_non_null(a);
	assert_int_equal(a->kind, PARTY_AUTHORITY);
	assert_string_equal(a->delivery, "pull");
	assert_non_null(a->enc_cert);
	assert_int_equal(a->nservices, 0);
	assert_int_equal(a->max_size, (size_t)2 << 30);
	assert_string_equal(a->name, "Development authority A");
	assert_non_null(config_party(devcfg, "authority-b"));
}

static void
copy_file(const char *from, const char *to)
{
	unsigned char *buf;
	size_t len;

	assert_int_equal(util_read_file(from, 1 << 20, &buf, &len), 0);
	assert_int_equal(util_write_file(to, buf, len, 0600), 0);
	free(buf);
}

/* An existing PKI and gateway.conf are kept; missing profiles written. */
static void
test_dev_parent_not_a_directory(void **state)
{
	struct config *c = NULL;
	char dir[PATH_MAX + 16], file[PATH_MAX], err[512] = "";

	(void)state;
	snprintf(file, sizeof(file), "%s/plainfile", base);
	writef(file, "not a directory\n");
	snprintf(dir, sizeof(dir), "%s/sub/dev", file);
	assert_int_equal(config_dev(dir, NULL, &c, err, sizeof(err)), GW_ERR_IO);
	assert_null(c);
	assert_non_null(strstr(err, "plainfile/sub"));
	assert_non_null(strstr(err, "cannot create the directory"));
}

static void
test_dev_keeps_existing_files(void **state)
{
	static const char *const pki[] = { "ca.pem", "ca.key", "gateway.pem",
	    "gateway.key", "portal-1.pem", "portal-1.key", "authority-a.pem",
	    "authority-a.key", "authority-b.pem", "authority-b.key" };
	struct config *c = NULL;
	char dir[DIRLEN], to[PATH_MAX], err[512] = "";
	char fpr[65];
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/dev-keep", base);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (i = 0; i < sizeof(pki) / sizeof(pki[0]); i++) {
		snprintf(to, sizeof(to), "%s/%s", dir, pki[i]);
		copy_file(devp(pki[i]), to);
	}
	snprintf(to, sizeof(to), "%s/gateway.conf", dir);
	writef(to, "tls_cert = gateway.pem\ntls_key = gateway.key\n"
	    "client_ca = ca.pem\ntrust_ca = ca.pem\nsign_cert = gateway.pem\n"
	    "sign_key = gateway.key\ndatabase = my.db\nprofiles_dir = profiles\n"
	    "threads = 3\nlisten = 127.0.0.1:7000\n");
	assert_int_equal(config_dev(dir, "[::1]:9443", &c, err, sizeof(err)), 0);
	assert_int_equal(c->threads, 3);
	assert_true(ends_with(c->database, "/my.db"));
	assert_string_equal(c->listen, "[::1]:9443");	/* overrides the file */
	assert_int_equal(c->nparties, 3);
	/* the copied PKI was used, not a new one */
	fpr_of(devp("authority-b.pem"), fpr);
	assert_string_equal(config_party(c, "authority-b")->tls_fpr, fpr);
	config_free(c);

	c = NULL;
	assert_int_equal(config_dev(dir, NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->listen, "127.0.0.1:7000");
	config_free(c);
	c = (struct config *)(uintptr_t)0x1;
	assert_int_equal(config_dev(dir, "no-port", &c, err, sizeof(err)),
	    GW_ERR_CONFIG);
	assert_ptr_equal(c, (struct config *)(uintptr_t)0x1);
	assert_non_null(strstr(err, "no-port"));
}

/* ---- the gateway file ---- */

static void
test_missing_file(void **state)
{
	struct config *c = (struct config *)(uintptr_t)0x1;
	char path[PATH_MAX], err[512] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/no-such.conf", base);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), GW_ERR_CONFIG);
	assert_ptr_equal(c, (struct config *)(uintptr_t)0x1);
	assert_non_null(strstr(err, "no-such.conf"));
	assert_non_null(strstr(err, "No such file"));
	/* err may be NULL */
	assert_int_equal(config_load(path, &c, NULL, 0), GW_ERR_CONFIG);
}

static void
test_unknown_key(void **state)
{
	char dir[DIRLEN];

	(void)state;
	case_new(dir, sizeof(dir), "threads = 2\nlistn = 127.0.0.1:1\n", NULL);
	std_profiles(dir);
	expect_error(dir, "gateway.conf:10:", "unknown key \"listn\"", NULL);

	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), "services = urn:x\nencryption_crt = x.pem\n");
	expect_error(dir, "authority-b.conf:7:", "unknown key \"encryption_crt\"",
	    NULL);

	case_new(dir, sizeof(dir), "just some words\n", NULL);
	std_profiles(dir);
	expect_error(dir, "gateway.conf:9:", "key = value", NULL);
}

static void
test_duplicate_key(void **state)
{
	char dir[DIRLEN];

	(void)state;
	case_new(dir, sizeof(dir), "threads = 2\n# again\nthreads = 3\n", NULL);
	std_profiles(dir);
	expect_error(dir, "gateway.conf:11:", "\"threads\" is set twice",
	    "line 9", NULL);
}

static void
test_missing_required(void **state)
{
	char dir[DIRLEN];

	(void)state;
	case_new(dir, sizeof(dir), NULL, "tls_key");
	std_profiles(dir);
	expect_error(dir, "gateway.conf:", "\"tls_key\" is missing", NULL);
}

static void
test_unreadable_file(void **state)
{
	char dir[DIRLEN];

	(void)state;
	/* seven standard lines, then sign_key on line 8 */
	case_new(dir, sizeof(dir), "sign_key = nothere.key\n", "sign_key");
	std_profiles(dir);
	expect_error(dir, "gateway.conf:8:", "sign_key", "nothere.key",
	    "cannot be read", NULL);
}

static void
test_bad_numbers(void **state)
{
	static const struct { const char *line, *key; } bad[] = {
		{ "threads = 4x\n", "threads" },
		{ "threads = -1\n", "threads" },
		{ "threads = 99999999999999999999\n", "threads" },
		{ "threads = +4\n", "threads" },
		{ "threads = 0x10\n", "threads" },
		{ "io_threads = 65\n", "io_threads" },
		{ "max_pending = 0\n", "max_pending" },
		{ "max_body = 16Q\n", "max_body" },
		{ "max_body = 0\n", "max_body" },
		{ "max_body = -1\n", "max_body" },
		{ "max_body = 5G\n", "max_body" },
		{ "max_body = 1MB\n", "max_body" },
		{ "max_body = 18446744073709551615k\n", "max_body" },
		{ "max_body =\n", "max_body" },
	};
	char dir[DIRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		case_new(dir, sizeof(dir), bad[i].line, NULL);
		std_profiles(dir);
		expect_error(dir, "gateway.conf:9:", bad[i].key, NULL);
	}
}

static void
test_numbers_and_sizes(void **state)
{
	static const struct { const char *text; size_t body; } ok[] = {
		{ "max_body = 5\n", 5 },
		{ "max_body = 1k\n", 1024 },
		{ "max_body = 2M\n", 2 * 1024 * 1024 },
		{ "max_body = 1G\n", (size_t)1 << 30 },
		{ "max_body = 4G\n", (size_t)4 << 30 },
	};
	struct config *c = NULL;
	char dir[DIRLEN], err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		case_new(dir, sizeof(dir), ok[i].text, NULL);
		std_profiles(dir);
		assert_int_equal(case_load(dir, &c, err, sizeof(err)), 0);
		assert_int_equal(c->max_body, ok[i].body);
		config_free(c);
	}
	case_new(dir, sizeof(dir), "  threads=8   \n\tio_threads = 4\n"
	    "max_pending = 1000\r\nlisten = [::1]:443\n", NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("authority-a.pem"), "max_size = 512k\n");
	assert_int_equal(case_load(dir, &c, err, sizeof(err)), 0);
	assert_int_equal(c->threads, 8);
	assert_int_equal(c->io_threads, 4);
	assert_int_equal(c->max_pending, 1000);
	assert_string_equal(c->listen, "[::1]:443");
	assert_int_equal(config_party(c, "authority-a")->max_size, 512 * 1024);
	/* default: the gateway's max_body */
	assert_int_equal(config_party(c, "authority-b")->max_size, c->max_submission);
	config_free(c);
}

static void
test_bad_listen(void **state)
{
	static const char *const bad[] = { "listen = 8443\n",
	    "listen = localhost:\n", "listen = :8443\n", "listen = ::1:8443\n",
	    "listen = host:70000\n", "listen = a b:1\n" };
	char dir[DIRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		case_new(dir, sizeof(dir), bad[i], NULL);
		std_profiles(dir);
		expect_error(dir, "gateway.conf:9:", "listen must be host:port", NULL);
	}
}

static void
test_missing_profiles_dir(void **state)
{
	char dir[DIRLEN];

	(void)state;
	case_new(dir, sizeof(dir), "profiles_dir = parties\n", "profiles_dir");
	expect_error(dir, "gateway.conf:8:", "profiles_dir", "/parties",
	    "not a directory", NULL);
}

/* ---- profiles ---- */

static void
test_duplicate_id(void **state)
{
	char dir[DIRLEN], path[PATH_MAX];

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	snprintf(path, sizeof(path), "%s/profiles/zz-copy.conf", dir);
	writef(path, "id = authority-a\nkind = authority\ntls_cert = %s\n"
	    "encryption_cert = %s\n", devp("gateway.pem"), devp("authority-a.pem"));
	expect_error(dir, "zz-copy.conf:1:", "\"authority-a\" is already used",
	    "authority-a.conf", NULL);
}

static void
test_duplicate_fingerprint(void **state)
{
	char dir[DIRLEN];

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	portal(dir, "portal-2", devp("authority-b.pem"), NULL);
	expect_error(dir, "portal-2.conf:4:", "same certificate", "authority-b",
	    NULL);
}

static void
test_enc_cert_expired(void **state)
{
	char dir[DIRLEN], enc[PATH_MAX];

	(void)state;
	snprintf(enc, sizeof(enc), "%s/expired.pem", base);
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-b", devp("authority-b.pem"), enc, NULL);
	expect_error(dir, "authority-b.conf:5:", "expired.pem", "expired on",
	    NULL);

	snprintf(enc, sizeof(enc), "%s/future.pem", base);
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-b", devp("authority-b.pem"), enc, NULL);
	expect_error(dir, "authority-b.conf:5:", "future.pem", "not valid before",
	    NULL);
}

static void
test_enc_cert_ec(void **state)
{
	char dir[DIRLEN], enc[PATH_MAX];

	(void)state;
	snprintf(enc, sizeof(enc), "%s/ec.pem", base);
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"), enc, NULL);
	expect_error(dir, "authority-a.conf:5:", "ec.pem", "no RSA key", NULL);
}

static void
test_enc_cert_usage_and_presence(void **state)
{
	char dir[DIRLEN], enc[PATH_MAX], path[PATH_MAX];

	(void)state;
	snprintf(enc, sizeof(enc), "%s/nokeyenc.pem", base);
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"), enc, NULL);
	expect_error(dir, "authority-a.conf:5:", "keyEncipherment", NULL);

	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("no-such.pem"), NULL);
	expect_error(dir, "authority-a.conf:5:", "no-such.pem", NULL);

	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	snprintf(path, sizeof(path), "%s/profiles/authority-a.conf", dir);
	writef(path, "id = authority-a\nkind = authority\ntls_cert = %s\n",
	    devp("authority-a.pem"));
	expect_error(dir, "authority-a.conf", "needs encryption_cert", NULL);
}

static void
test_unknown_reader(void **state)
{
	char dir[DIRLEN];

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	portal(dir, "portal-1", devp("portal-1.pem"),
	    "name = Portal\nreaders = authority-a, authority-z\n");
	expect_error(dir, "portal-1.conf:6:", "\"authority-z\"",
	    "not a configured authority", NULL);

	/* a portal is not a reader */
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	portal(dir, "portal-2", devp("gateway.pem"), "readers = portal-1\n");
	expect_error(dir, "portal-2.conf:5:", "\"portal-1\"", NULL);

	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	portal(dir, "portal-1", devp("portal-1.pem"),
	    "readers = authority-a,,authority-b\n");
	expect_error(dir, "portal-1.conf:5:", "empty entry", NULL);
}

static void
test_push_settings(void **state)
{
	char dir[DIRLEN], extra[1024];
	struct config *c = NULL;
	const struct party *p;
	char err[512];

	(void)state;
	/* push without its endpoint is refused, naming what is missing */
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), "delivery = push\n");
	expect_error(dir, "authority-b.conf", "delivery = push needs endpoint", NULL);

	/* an http:// endpoint is refused */
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	snprintf(extra, sizeof(extra), "delivery = push\nendpoint = http://x/\n"
	    "endpoint_ca = %s\nreceipt_cert = %s\n", devp("ca.pem"),
	    devp("authority-b.pem"));
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), extra);
	expect_error(dir, "authority-b.conf:7:", "https://", NULL);

	/* push keys in a pull profile are refused */
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), "endpoint = https://127.0.0.1:9443/in\n");
	expect_error(dir, "authority-b.conf:6:", "only for delivery = push", NULL);

	/* a complete push profile loads, with the retry defaults */
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	snprintf(extra, sizeof(extra), "delivery = push\n"
	    "endpoint = https://127.0.0.1:9443/in\nendpoint_ca = %s\n"
	    "receipt_cert = %s\nmax_attempts = 3\n", devp("ca.pem"),
	    devp("authority-b.pem"));
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), extra);
	{
		char path[DIRLEN + 32];
		snprintf(path, sizeof(path), "%s/gateway.conf", dir);
		assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	}
	assert_non_null(p = config_party(c, "authority-b"));
	assert_string_equal(p->delivery, "push");
	assert_string_equal(p->endpoint, "https://127.0.0.1:9443/in");
	assert_non_null(p->receipt_cert);
	assert_int_equal(p->max_attempts, 3);
	assert_int_equal(p->retry_base_ms, 2000);
	config_free(c);

	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), "delivery = pigeon\n");
	expect_error(dir, "authority-b.conf:6:", "delivery must be pull", NULL);
}

static void
test_keys_of_the_other_kind(void **state)
{
	char dir[DIRLEN];

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), "readers = authority-a\n");
	expect_error(dir, "authority-b.conf:6:", "only valid in a portal", NULL);

	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	portal(dir, "portal-1", devp("portal-1.pem"), "scenarios = x\n");
	expect_error(dir, "portal-1.conf:5:", "only valid in an authority", NULL);

	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), "signer_ca = x.pem\n");
	expect_error(dir, "authority-b.conf:6:", "only valid in a portal", NULL);

	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	portal(dir, "portal-1", devp("portal-1.pem"), NULL);
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/profiles/portal-1.conf", dir);
		writef(path, "id = portal-1\nkind = robot\ntls_cert = %s\n",
		    devp("portal-1.pem"));
		expect_error(dir, "portal-1.conf:2:", "kind must be portal or "
		    "authority", NULL);
		writef(path, "id = portal 1\nkind = portal\ntls_cert = %s\n",
		    devp("portal-1.pem"));
		expect_error(dir, "portal-1.conf:1:", "id must be", NULL);
	}
}

/* Only *.conf files count; hidden files and others are left alone. */
static void
test_other_files_ignored(void **state)
{
	struct config *c = NULL;
	char dir[DIRLEN], path[PATH_MAX], err[512];

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	snprintf(path, sizeof(path), "%s/profiles/README", dir);
	writef(path, "not a profile\n");
	snprintf(path, sizeof(path), "%s/profiles/.old.conf", dir);
	writef(path, "garbage\n");
	snprintf(path, sizeof(path), "%s/profiles/x.conf.bak", dir);
	writef(path, "garbage\n");
	assert_int_equal(case_load(dir, &c, err, sizeof(err)), 0);
	assert_int_equal(c->nparties, 3);
	config_free(c);
}

/*
 * profiles/examples/ must stay loadable: the example files, with the
 * certificates and keys they name put in place.
 */
static void
test_examples_load(void **state)
{
	static const struct { const char *from, *to; } files[] = {
		{ "profiles/examples/gateway.conf", "gateway.conf" },
		{ "profiles/examples/authority-bauamt.conf", "profiles/authority-bauamt.conf" },
		{ "profiles/examples/portal-service.conf", "profiles/portal-service.conf" },
		{ "profiles/examples/authority-jugendamt-push.conf",
		    "profiles/authority-jugendamt-push.conf" },
		{ "profiles/examples/portal-kommune.conf", "profiles/portal-kommune.conf" },
	};
	static const struct { const char *dev, *to; } certs[] = {
		{ "gateway.pem", "tls/gateway-chain.pem" },
		{ "gateway.key", "tls/gateway.key" },
		{ "ca.pem", "tls/client-ca.pem" },
		{ "ca.pem", "trust/signer-ca.pem" },
		{ "gateway.pem", "sign/gateway-sign.pem" },
		{ "gateway.key", "sign/gateway-sign.key" },
		{ "authority-a.pem", "profiles/certs/bauamt-musterstadt-tls.pem" },
		{ "authority-b.pem", "profiles/certs/bauamt-musterstadt-enc.pem" },
		{ "portal-1.pem", "profiles/certs/portal-service-land-tls.pem" },
		{ "ca.pem", "profiles/certs/jugendamt-musterkreis-endpoint-ca.pem" },
		{ "authority-b.pem", "profiles/certs/jugendamt-musterkreis-receipt.pem" },
		{ "authority-a.pem", "profiles/certs/jugendamt-musterkreis-enc-2025.pem" },
		{ "ca.pem", "profiles/certs/portal-kommune-musterstadt-signer-ca.pem" },
	};
	/* from the group's own certificates: TLS certificates must differ */
	static const struct { const char *name, *to; } more[] = {
		{ "spare-1.pem", "profiles/certs/jugendamt-musterkreis-tls.pem" },
		{ "spare-2.pem", "profiles/certs/portal-kommune-musterstadt-tls.pem" },
		{ "enc2.pem", "profiles/certs/jugendamt-musterkreis-enc-2026.pem" },
	};
	const struct party *kommune, *jugendamt;
	X509 *out[4];
	static const char *const dirs[] = { "", "/tls", "/trust", "/sign",
	    "/profiles", "/profiles/certs" };
	const struct party *portal, *bauamt;
	struct config *c = NULL;
	char dir[DIRLEN], path[PATH_MAX], err[512] = "";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/examples%s", base, dirs[i]);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	snprintf(dir, sizeof(dir), "%s/examples", base);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].to);
		copy_file(files[i].from, path);	/* tests run from the repo root */
	}
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, certs[i].to);
		copy_file(devp(certs[i].dev), path);
	}
	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, more[i].to);
		copy_file(basep(more[i].name), path);
	}
	if (case_load(dir, &c, err, sizeof(err)) != 0)
		fail_msg("examples: %s", err);
	assert_string_equal(c->listen, "0.0.0.0:8443");
	assert_int_equal(c->io_threads, 2);
	assert_int_equal(c->max_body, 64 * 1024 * 1024);
	assert_string_equal(c->database, "/var/lib/gatewayd/gateway.db");
	assert_int_equal(c->max_submission, (uint64_t)4 << 30);
	assert_string_equal(c->spool_dir, "/var/lib/gatewayd/spool");
	assert_int_equal(c->nparties, 4);
	portal = config_party(c, "portal-service-land");
	bauamt = config_party(c, "bauamt-musterstadt");
	assert_true(portal != NULL && bauamt != NULL);
	assert_int_equal(bauamt->max_size, 32 * 1024 * 1024);
	assert_int_equal(config_may_submit(c, portal, bauamt,
	    "urn:example:service:wohngeld"), 1);
	assert_int_equal(config_may_submit(c, portal, bauamt, "urn:other"), 0);
	/* the push authority in a key rollover, the portal with signer_ca */
	kommune = config_party(c, "portal-kommune-musterstadt");
	jugendamt = config_party(c, "jugendamt-musterkreis");
	assert_true(kommune != NULL && jugendamt != NULL);
	assert_string_equal(jugendamt->delivery, "push");
	assert_string_equal(jugendamt->scheme, "xta");
	assert_int_equal(jugendamt->nenc_certs, 2);
	assert_int_equal(config_enc_certs_valid(jugendamt, time(NULL), out, 4), 2);
	assert_int_equal(kommune->nsigner_cas, 1);
	assert_string_equal(kommune->revocation, "require");
	assert_int_equal(kommune->max_size, (size_t)1 << 30);
	assert_int_equal(config_may_submit2(c, kommune, jugendamt,
	    "urn:example:service:kita-platz", "urn:example:scenario:antrag"), 1);
	assert_int_equal(config_may_submit2(c, kommune, jugendamt,
	    "urn:example:service:kita-platz", "urn:example:scenario:x"), 0);
	assert_int_equal(config_may_submit(c, kommune, bauamt,
	    "urn:example:service:kita-platz"), 0);
	config_free(c);
}

/* ---- lookups and rules ---- */

static void
test_lookup(void **state)
{
	const struct party *p;
	char fpr[65];
	size_t i;

	(void)state;
	p = config_party(devcfg, "authority-b");
	assert_non_null(p);
	assert_string_equal(p->id, "authority-b");
	assert_null(config_party(devcfg, "authority-c"));
	assert_null(config_party(devcfg, "authority"));
	assert_null(config_party(devcfg, NULL));
	assert_null(config_party(NULL, "authority-b"));

	fpr_of(devp("authority-b.pem"), fpr);
	assert_ptr_equal(config_party_by_fpr(devcfg, fpr), p);
	for (i = 0; fpr[i] != '\0'; i++)
		if (fpr[i] >= 'a' && fpr[i] <= 'f')
			fpr[i] = (char)(fpr[i] - 'a' + 'A');
	assert_ptr_equal(config_party_by_fpr(devcfg, fpr), p);
	fpr_of(devp("gateway.pem"), fpr);	/* a real cert, not a party */
	assert_null(config_party_by_fpr(devcfg, fpr));
	assert_null(config_party_by_fpr(devcfg, ""));
	assert_null(config_party_by_fpr(devcfg, NULL));
}

static void
test_may_submit(void **state)
{
	const struct party *p1, *p2, *a, *b;
	struct config *c = NULL;
	char dir[DIRLEN], spare1[PATH_MAX], spare2[PATH_MAX], err[512];

	(void)state;
	snprintf(spare1, sizeof(spare1), "%s/spare-1.pem", base);
	snprintf(spare2, sizeof(spare2), "%s/spare-2.pem", base);
	case_new(dir, sizeof(dir), NULL, NULL);
	portal(dir, "portal-1", spare1, "readers = authority-a\n");
	portal(dir, "portal-2", spare2, NULL);
	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("authority-a.pem"), "services = urn:x:a , urn:x:b\n");
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), NULL);
	assert_int_equal(case_load(dir, &c, err, sizeof(err)), 0);
	p1 = config_party(c, "portal-1");
	p2 = config_party(c, "portal-2");
	a = config_party(c, "authority-a");
	b = config_party(c, "authority-b");
	assert_true(p1 && p2 && a && b);
	assert_int_equal(a->nservices, 2);
	assert_string_equal(a->services[1], "urn:x:b");

	/* portal-1: readers = authority-a only */
	assert_int_equal(config_may_submit(c, p1, a, "urn:x:a"), 1);
	assert_int_equal(config_may_submit(c, p1, a, "urn:x:b"), 1);
	assert_int_equal(config_may_submit(c, p1, a, "urn:x:c"), 0);
	assert_int_equal(config_may_submit(c, p1, a, "urn:x:"), 0);
	assert_int_equal(config_may_submit(c, p1, a, NULL), 0);
	assert_int_equal(config_may_submit(c, p1, b, "urn:x:a"), 0);
	/* portal-2: no readers list = any authority */
	assert_int_equal(config_may_submit(c, p2, a, "urn:x:a"), 1);
	assert_int_equal(config_may_submit(c, p2, a, "urn:other"), 0);
	/* authority-b: no services list = any service */
	assert_int_equal(config_may_submit(c, p2, b, "urn:anything"), 1);
	assert_int_equal(config_may_submit(c, p2, b, NULL), 1);
	/* kinds must be right */
	assert_int_equal(config_may_submit(c, a, b, "urn:x:a"), 0);
	assert_int_equal(config_may_submit(c, p2, p1, "urn:x:a"), 0);
	assert_int_equal(config_may_submit(c, NULL, b, "urn:x:a"), 0);
	assert_int_equal(config_may_submit(c, p2, NULL, "urn:x:a"), 0);
	config_free(c);
}

/* ---- key rollover and the encryption key rules ---- */

/* What config_check() reported: "E: sentence" / "W: sentence" lines. */
struct sink {
	char text[32768];
	size_t len;
	int errors, warnings;
};

static void
sink_report(void *arg, int is_error, const char *sentence)
{
	struct sink *s = arg;
	size_t n = strlen(sentence);

	/* one sentence each */
	assert_true(n > 0 && sentence[n - 1] == '.');
	assert_null(strchr(sentence, '\n'));
	if (getenv("GW_TEST_VERBOSE") != NULL)
		fprintf(stderr, "    %s: %s\n", is_error ? "error" : "warning",
		    sentence);
	if (is_error)
		s->errors++;
	else
		s->warnings++;
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len,
	    "%s: %s\n", is_error ? "E" : "W", sentence);
	assert_true(s->len < sizeof(s->text));
}

/* config_check(path) into s; expects rc. */
static void
check_into(const char *path, struct sink *s, int want)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(config_check(path, sink_report, s), want);
}

/* A line of s of the kind (1 error, 0 warning) with every fragment. */
static void
expect_line(const struct sink *s, int is_error, ...)
{
	const char *line = s->text, *nl, *frag;
	char buf[4096];
	va_list ap;
	int ok;

	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		snprintf(buf, sizeof(buf), "%.*s", (int)(nl - line), line);
		if (buf[0] != (is_error ? 'E' : 'W'))
			continue;
		ok = 1;
		va_start(ap, is_error);
		while ((frag = va_arg(ap, const char *)) != NULL)
			ok &= strstr(buf, frag) != NULL;
		va_end(ap);
		if (ok)
			return;
	}
	fprintf(stderr, "%s", s->text);	/* fail_msg() cuts it short */
	fail_msg("no %s with those fragments in the report above",
	    is_error ? "error" : "warning");
}

static void
load_ok(const char *dir, struct config **c)
{
	char err[1024];

	if (case_load(dir, c, err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
}

static void
test_rollover(void **state)
{
	char dir[DIRLEN], enc[2 * PATH_MAX + 8];
	X509 *out[4];
	struct config *c = NULL;
	const struct party *a;
	struct sink s;
	time_t now = time(NULL);

	(void)state;
	/* two valid: both used; enc_cert is the one that lasts longer */
	snprintf(enc, sizeof(enc), "%s, %s", basep("enc2.pem"),
	    devp("authority-a.pem"));
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"), enc, NULL);
	load_ok(dir, &c);
	a = config_party(c, "authority-a");
	assert_int_equal(a->nenc_certs, 2);
	assert_ptr_equal(a->enc_cert, a->enc_certs[1]);	/* 825 days > 60 */
	assert_int_equal(config_enc_certs_valid(a, now, out, 4), 2);
	assert_ptr_equal(out[0], a->enc_certs[0]);
	assert_int_equal(config_enc_certs_valid(a, now, out, 1), 1);
	assert_int_equal(config_enc_certs_valid(a, now + 90 * 86400L, out, 4), 1);
	assert_ptr_equal(out[0], a->enc_certs[1]);
	assert_int_equal(config_enc_certs_valid(a, now + 1000 * 86400L, out, 4), 0);
	assert_int_equal(config_enc_certs_valid(a, now - 400 * 86400L, out, 4), 0);
	/* the old single-certificate authority: one */
	assert_int_equal(config_party(c, "authority-b")->nenc_certs, 1);
	assert_int_equal(config_enc_certs_valid(config_party(c, "portal-1"), now,
	    out, 4), 0);
	assert_int_equal(config_enc_certs_valid(NULL, now, out, 4), 0);
	config_free(c);

	/* an expired one next to a valid one: a warning, never used */
	snprintf(enc, sizeof(enc), "%s,%s", basep("expired.pem"),
	    devp("authority-a.pem"));
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"), enc, NULL);
	load_ok(dir, &c);
	a = config_party(c, "authority-a");
	assert_int_equal(a->nenc_certs, 2);
	assert_int_equal(config_enc_certs_valid(a, now, out, 4), 1);
	assert_ptr_equal(out[0], a->enc_certs[1]);
	assert_ptr_equal(a->enc_cert, a->enc_certs[1]);
	config_free(c);
	check_into(dir, &s, 0);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.warnings, 1);
	expect_line(&s, 0, "authority-a.conf:5:", "expired.pem expired on",
	    "not used", NULL);

	/* the next key announced in advance: fine, used once it is valid */
	snprintf(enc, sizeof(enc), "%s, %s", devp("authority-a.pem"),
	    basep("future.pem"));
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"), enc, NULL);
	load_ok(dir, &c);
	a = config_party(c, "authority-a");
	assert_int_equal(config_enc_certs_valid(a, now, out, 4), 1);
	assert_int_equal(config_enc_certs_valid(a, now + 2 * 86400L, out, 4), 2);
	config_free(c);
	check_into(dir, &s, 0);
	assert_int_equal(s.errors + s.warnings, 0);

	/* all expired: an error for each */
	snprintf(enc, sizeof(enc), "%s, %s", basep("expired.pem"),
	    basep("expired.pem"));
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"), enc, NULL);
	expect_error(dir, "authority-a.conf:5:", "expired on", NULL);
	check_into(dir, &s, GW_ERR_CONFIG);
	assert_int_equal(s.errors, 2);

	/* a list of more than 8 files */
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"),
	    "a.pem,b.pem,c.pem,d.pem,e.pem,f.pem,g.pem,h.pem,i.pem", NULL);
	expect_error(dir, "authority-a.conf:5:", "more than 8", NULL);
}

static void
test_rsa2048(void **state)
{
	char dir[DIRLEN];
	struct config *c = NULL;
	struct sink s;

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"), basep("weak.pem"),
	    NULL);
	expect_error(dir, "authority-a.conf:5:", "weak.pem", "2048-bit RSA key",
	    "too weak", "at least 3000", "allow_rsa2048 = yes", NULL);
	check_into(dir, &s, GW_ERR_CONFIG);
	expect_line(&s, 1, "authority-a.conf:5:", "too weak", NULL);

	/* allowed by the profile: loads, with a warning */
	authority(dir, "authority-a", devp("authority-a.pem"), basep("weak.pem"),
	    "allow_rsa2048 = yes\n");
	load_ok(dir, &c);
	assert_int_equal(config_party(c, "authority-a")->allow_rsa2048, 1);
	assert_int_equal(config_party(c, "authority-b")->allow_rsa2048, 0);
	config_free(c);
	check_into(dir, &s, 0);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.warnings, 1);
	expect_line(&s, 0, "authority-a.conf:5:", "2048-bit",
	    "accepted only because of allow_rsa2048 = yes", NULL);

	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("authority-a.pem"), "allow_rsa2048 = maybe\n");
	expect_error(dir, "authority-a.conf:6:", "allow_rsa2048 must be yes or no",
	    NULL);
}

static void
test_scheme_and_scenarios(void **state)
{
	char dir[DIRLEN];
	struct config *c = NULL;
	const struct party *p, *a, *b;

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("authority-a.pem"), "scheme = xta\n"
	    "scenarios = urn:s:bauantrag , urn:s:anzeige\n");
	load_ok(dir, &c);
	p = config_party(c, "portal-1");
	a = config_party(c, "authority-a");
	b = config_party(c, "authority-b");
	assert_string_equal(a->scheme, "xta");
	assert_string_equal(b->scheme, "gatewayd");	/* the default */
	assert_int_equal(a->nscenarios, 2);
	assert_string_equal(a->scenarios[1], "urn:s:anzeige");
	assert_int_equal(config_may_submit2(c, p, a, "urn:x", "urn:s:anzeige"), 1);
	assert_int_equal(config_may_submit2(c, p, a, "urn:x", "urn:s:other"), 0);
	assert_int_equal(config_may_submit2(c, p, a, "urn:x", NULL), 0);
	/* no list: any scenario, or none */
	assert_int_equal(config_may_submit2(c, p, b, "urn:x", "urn:s:other"), 1);
	assert_int_equal(config_may_submit2(c, p, b, "urn:x", NULL), 1);
	/* the old function does not look at scenarios */
	assert_int_equal(config_may_submit(c, p, a, "urn:x"), 1);
	/* nor does the new one skip the other rules */
	assert_int_equal(config_may_submit2(c, a, b, "urn:x", NULL), 0);
	config_free(c);

	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("authority-a.pem"), "scheme = x t a\n");
	expect_error(dir, "authority-a.conf:6:", "scheme must be", NULL);
	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("authority-a.pem"), "scenarios = a,,b\n");
	expect_error(dir, "authority-a.conf:6:", "empty entry", NULL);
}

#define PIN_A "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PIN_B "sha256//n+/9Z0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static void
test_push_pin(void **state)
{
	char dir[DIRLEN], extra[1024];
	struct config *c = NULL;
	const struct party *b;
	struct sink s;

	(void)state;
	/* a pin instead of a CA file */
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	snprintf(extra, sizeof(extra), "delivery = push\n"
	    "endpoint = https://127.0.0.1:9443/in\nendpoint_pin = " PIN_A "\n"
	    "receipt_cert = %s\n", devp("authority-b.pem"));
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), extra);
	load_ok(dir, &c);
	b = config_party(c, "authority-b");
	assert_string_equal(b->endpoint_pin, PIN_A);
	assert_string_equal(b->endpoint_ca, "");
	config_free(c);

	/* both, two pins */
	snprintf(extra, sizeof(extra), "delivery = push\n"
	    "endpoint = https://127.0.0.1:9443/in\nendpoint_pin = " PIN_A ";"
	    PIN_B "\nendpoint_ca = %s\nreceipt_cert = %s\n", devp("ca.pem"),
	    devp("authority-b.pem"));
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), extra);
	load_ok(dir, &c);
	b = config_party(c, "authority-b");
	assert_string_equal(b->endpoint_pin, PIN_A ";" PIN_B);
	assert_true(ends_with(b->endpoint_ca, "/dev/ca.pem"));
	config_free(c);

	/* neither */
	snprintf(extra, sizeof(extra), "delivery = push\n"
	    "endpoint = https://127.0.0.1:9443/in\nreceipt_cert = %s\n",
	    devp("authority-b.pem"));
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), extra);
	expect_error(dir, "authority-b.conf:", "delivery = push needs "
	    "endpoint_ca or endpoint_pin", NULL);

	/* malformed pins */
	static const char *const bad[] = { "sha256//abc", "AAAA",
	    "sha1//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    PIN_A ";", PIN_A ";;" PIN_B, PIN_A "x" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), "delivery = push\n"
		    "endpoint = https://127.0.0.1:9443/in\nendpoint_pin = %s\n"
		    "receipt_cert = %s\n", bad[i], devp("authority-b.pem"));
		authority(dir, "authority-b", devp("authority-b.pem"),
		    devp("authority-b.pem"), extra);
		expect_error(dir, "authority-b.conf:8:", "endpoint_pin must be",
		    NULL);
	}

	/* a pin in a pull profile; a push profile missing everything */
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), "endpoint_pin = " PIN_A "\n");
	expect_error(dir, "authority-b.conf:6:", "only for delivery = push", NULL);
	authority(dir, "authority-b", devp("authority-b.pem"),
	    devp("authority-b.pem"), "delivery = push\n");
	check_into(dir, &s, GW_ERR_CONFIG);
	assert_int_equal(s.errors, 3);
	expect_line(&s, 1, "authority-b.conf:", "needs endpoint.", NULL);
	expect_line(&s, 1, "authority-b.conf:", "needs endpoint_ca or "
	    "endpoint_pin", NULL);
	expect_line(&s, 1, "authority-b.conf:", "needs receipt_cert", NULL);
}

static void
test_portal_keys(void **state)
{
	char dir[DIRLEN], extra[2048];
	struct config *c = NULL;
	const struct party *p1, *p2, *a;
	X509 *cert = NULL;

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	snprintf(extra, sizeof(extra), "services = urn:x:a\nsigner_ca = %s\n"
	    "revocation = require\nallow_rsa2048 = yes\n"
	    "signer_eku = clientAuth, 1.3.6.1.5.5.7.3.4\nmax_size = 10G\n",
	    devp("ca.pem"));
	portal(dir, "portal-1", devp("portal-1.pem"), extra);
	portal(dir, "portal-2", basep("spare-1.pem"), "signer_eku = codeSigning\n");
	authority(dir, "authority-a", devp("authority-a.pem"),
	    devp("authority-a.pem"), "services = urn:x:a, urn:x:b\n");
	load_ok(dir, &c);
	p1 = config_party(c, "portal-1");
	p2 = config_party(c, "portal-2");
	a = config_party(c, "authority-a");
	assert_int_equal(p1->nservices, 1);
	assert_true(ends_with(p1->signer_ca, "/dev/ca.pem"));
	assert_int_equal(p1->nsigner_cas, 1);
	assert_non_null(p1->signer_cas[0]);
	assert_string_equal(p1->revocation, "require");
	assert_string_equal(p2->revocation, "");	/* the gateway's */
	assert_int_equal(p1->allow_rsa2048, 1);
	assert_int_equal(p1->nsigner_eku, 2);
	assert_string_equal(p1->signer_eku[0], "1.3.6.1.5.5.7.3.2");
	assert_string_equal(p1->signer_eku[1], "1.3.6.1.5.5.7.3.4");
	assert_int_equal(p1->max_size, (size_t)10 << 30);
	assert_int_equal(p2->max_size, c->max_submission);	/* default */
	/* the portal's services narrow what it may send */
	assert_int_equal(config_may_submit(c, p1, a, "urn:x:a"), 1);
	assert_int_equal(config_may_submit(c, p1, a, "urn:x:b"), 0);
	assert_int_equal(config_may_submit(c, p2, a, "urn:x:b"), 1);
	/* signer EKU: portal-1.pem carries clientAuth (and serverAuth) */
	assert_int_equal(pki_read_cert(devp("portal-1.pem"), &cert), 0);
	assert_int_equal(config_signer_eku_ok(p1, cert), 1);
	assert_int_equal(config_signer_eku_ok(p2, cert), 0);
	assert_int_equal(config_signer_eku_ok(a, cert), 1);	/* no list */
	assert_int_equal(config_signer_eku_ok(p2, NULL), 0);
	X509_free(cert);
	assert_int_equal(pki_read_cert(devp("ca.pem"), &cert), 0);	/* no EKU */
	assert_int_equal(config_signer_eku_ok(p1, cert), 0);
	X509_free(cert);
	config_free(c);

	static const struct { const char *line, *frag; } bad[] = {
		{ "revocation = maybe\n", "revocation must be require" },
		{ "signer_eku = fooBar\n", "signer_eku: \"fooBar\" is neither" },
		{ "signer_eku = commonName\n", "is neither an OID" },
		{ "max_size = 65G\n", "from 1 to 64G" },
		{ "allow_rsa2048 = 1\n", "yes or no" },
		{ "delivery = pull\n", "only valid in an authority" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		portal(dir, "portal-2", basep("spare-1.pem"), bad[i].line);
		expect_error(dir, "portal-2.conf:5:", bad[i].frag, NULL);
	}
	snprintf(extra, sizeof(extra), "signer_ca = %s\n", basep("garbage.pem"));
	portal(dir, "portal-2", basep("spare-1.pem"), extra);
	expect_error(dir, "portal-2.conf:5:", "signer_ca names", "garbage.pem",
	    "holds no PEM certificate", NULL);
	snprintf(extra, sizeof(extra), "signer_ca = %s\n", basep("none.pem"));
	portal(dir, "portal-2", basep("spare-1.pem"), extra);
	expect_error(dir, "portal-2.conf:5:", "signer_ca names", "none.pem",
	    "cannot be read", "No such file", NULL);
}

static void
test_gateway_new_keys(void **state)
{
	char dir[DIRLEN], want[DIRLEN + 16];
	struct config *c = NULL;

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	std_profiles(dir);
	load_ok(dir, &c);
	assert_int_equal(c->max_submission, (uint64_t)2 << 30);
	snprintf(want, sizeof(want), "%s/spool", strrchr(dir, '/'));
	assert_true(ends_with(c->spool_dir, want));	/* next to gw.db */
	assert_true(c->spool_dir[0] == '/');
	config_free(c);

	case_new(dir, sizeof(dir), "max_submission = 64G\n"
	    "spool_dir = /var/tmp/gw-spool\n", NULL);
	std_profiles(dir);
	load_ok(dir, &c);
	assert_int_equal(c->max_submission, (uint64_t)64 << 30);
	assert_string_equal(c->spool_dir, "/var/tmp/gw-spool");
	config_free(c);

	case_new(dir, sizeof(dir), "spool_dir = sp\n", NULL);
	std_profiles(dir);
	load_ok(dir, &c);
	snprintf(want, sizeof(want), "%s/sp", strrchr(dir, '/'));
	assert_true(ends_with(c->spool_dir, want));
	config_free(c);

	case_new(dir, sizeof(dir), "max_submission = 65G\n", NULL);
	std_profiles(dir);
	expect_error(dir, "gateway.conf:9:", "max_submission must be a size",
	    "from 1 to 64G", NULL);
	case_new(dir, sizeof(dir), "max_submission = 0\n", NULL);
	std_profiles(dir);
	expect_error(dir, "gateway.conf:9:", "max_submission", NULL);
}

/* Every problem of a directory in one run; load stops at the first. */
static void
test_check_all(void **state)
{
	char dir[DIRLEN], path[PATH_MAX], extra[1024], err[1024];
	struct config *c = (struct config *)(uintptr_t)0x1;
	struct sink s;

	(void)state;
	case_new(dir, sizeof(dir), "listn = 127.0.0.1:1\n", NULL);
	portal(dir, "portal-1", devp("portal-1.pem"),
	    "readers = authority-a, authority-z\nservices = urn:none\n");
	portal(dir, "portal-2", devp("authority-b.pem"), NULL);
	authority(dir, "authority-a", devp("authority-a.pem"),
	    basep("nokeyenc.pem"), "services = urn:x:a\n");
	authority(dir, "authority-b", devp("authority-b.pem"), basep("weak.pem"),
	    "services = urn:x:b\nlolwut = 1\n");
	authority(dir, "authority-c", basep("spare-1.pem"), basep("expired.pem"),
	    "delivery = push\n");
	authority(dir, "authority-d", basep("nothere.pem"), devp("authority-b.pem"),
	    NULL);
	authority(dir, "authority-e", basep("spare-2.pem"), basep("soon.pem"),
	    NULL);
	authority(dir, "authority-f", basep("garbage.pem"), basep("ec.pem"), NULL);
	snprintf(path, sizeof(path), "%s/profiles/zz-copy.conf", dir);
	snprintf(extra, sizeof(extra), "id = authority-b\nkind = authority\n"
	    "tls_cert = %s\nencryption_cert = %s\n", devp("gateway.pem"),
	    devp("authority-a.pem"));
	writef(path, "%s", extra);

	check_into(dir, &s, GW_ERR_CONFIG);
	expect_line(&s, 1, "gateway.conf:9:", "unknown key \"listn\"", NULL);
	expect_line(&s, 1, "authority-a.conf:5:", "nokeyenc.pem",
	    "does not allow keyEncipherment", "cannot be used for encryption",
	    NULL);
	expect_line(&s, 1, "authority-b.conf:5:", "weak.pem", "too weak", NULL);
	expect_line(&s, 1, "authority-b.conf:7:", "unknown key \"lolwut\"", NULL);
	expect_line(&s, 1, "authority-c.conf:", "delivery = push needs endpoint.",
	    NULL);
	expect_line(&s, 1, "authority-c.conf:5:", "expired.pem expired on", NULL);
	expect_line(&s, 1, "authority-d.conf:4:", "tls_cert names",
	    "nothere.pem, which cannot be read: No such file", NULL);
	expect_line(&s, 0, "authority-e.conf:5:", "encryption_cert",
	    "soon.pem expires on", "in 10 days", NULL);
	expect_line(&s, 1, "authority-f.conf:4:", "garbage.pem",
	    "holds no PEM certificate", NULL);
	expect_line(&s, 1, "authority-f.conf:5:", "ec.pem", "no RSA key", NULL);
	expect_line(&s, 1, "portal-1.conf:5:", "readers names \"authority-z\"",
	    "not a configured authority", NULL);
	expect_line(&s, 1, "portal-1.conf:6:", "unknown service \"urn:none\"",
	    NULL);
	expect_line(&s, 1, "portal-2.conf:4:", "same certificate", "authority-b",
	    NULL);
	expect_line(&s, 1, "zz-copy.conf:1:", "\"authority-b\" is already used",
	    "authority-b.conf", NULL);
	assert_int_equal(s.errors, 15);
	assert_int_equal(s.warnings, 1);

	/* the same rules in config_load: its first problem */
	assert_int_equal(case_load(dir, &c, err, sizeof(err)), GW_ERR_CONFIG);
	assert_ptr_equal(c, (struct config *)(uintptr_t)0x1);
	assert_non_null(strstr(err, "gateway.conf:9: unknown key \"listn\"."));

	/* a missing path; a gateway file named directly */
	snprintf(path, sizeof(path), "%s/nowhere", dir);
	check_into(path, &s, GW_ERR_CONFIG);
	expect_line(&s, 1, "nowhere:", "No such file", NULL);
	snprintf(path, sizeof(path), "%s/gateway.conf", dir);
	check_into(path, &s, GW_ERR_CONFIG);
	assert_int_equal(s.errors, 15);
	assert_int_equal(config_check(path, NULL, NULL), GW_ERR_CONFIG);
}

/* A profiles directory alone; warnings alone are success. */
static void
test_check_profiles_only(void **state)
{
	char dir[DIRLEN], path[PATH_MAX];
	struct sink s;

	(void)state;
	case_new(dir, sizeof(dir), NULL, NULL);
	snprintf(path, sizeof(path), "%s/profiles/a.pem", dir);
	copy_file(devp("authority-a.pem"), path);
	snprintf(path, sizeof(path), "%s/profiles/p.pem", dir);
	copy_file(devp("portal-1.pem"), path);
	authority(dir, "authority-a", "a.pem", "a.pem", "services = urn:x\n");
	portal(dir, "portal-1", "p.pem", "services = urn:x\n");
	snprintf(path, sizeof(path), "%s/profiles", dir);
	check_into(path, &s, 0);
	assert_int_equal(s.errors + s.warnings, 0);

	/* a certificate expiring in 10 days: a warning, success */
	snprintf(path, sizeof(path), "%s/profiles/a.pem", dir);
	copy_file(basep("soon.pem"), path);
	snprintf(path, sizeof(path), "%s/profiles", dir);
	check_into(path, &s, 0);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.warnings, 2);	/* as tls_cert and as encryption */
	expect_line(&s, 0, "authority-a.conf:4:", "tls_cert", "a.pem expires on",
	    "in 10 days", NULL);

	/* profiles only: an unknown service is still found */
	portal(dir, "portal-1", "p.pem", "services = urn:y\n");
	check_into(path, &s, GW_ERR_CONFIG);
	expect_line(&s, 1, "portal-1.conf:5:", "unknown service \"urn:y\"", NULL);
}

/* The gateway's own certificates: expired and CA files with an old one. */
static void
test_check_gateway_certs(void **state)
{
	char dir[DIRLEN], extra[2 * PATH_MAX], bundle[PATH_MAX];
	unsigned char *a, *b;
	size_t alen, blen;
	FILE *f;
	struct sink s;

	(void)state;
	snprintf(bundle, sizeof(bundle), "%s/bundle.pem", base);
	assert_int_equal(util_read_file(devp("ca.pem"), 1 << 20, &a, &alen), 0);
	assert_int_equal(util_read_file(basep("expired-ec.pem"), 1 << 20, &b,
	    &blen), 0);
	assert_non_null(f = fopen(bundle, "w"));
	fwrite(a, 1, alen, f);
	fwrite(b, 1, blen, f);
	fclose(f);
	free(a);
	free(b);
	/* a CA file with an expired certificate next to a valid one */
	snprintf(extra, sizeof(extra), "client_ca = %s\n", bundle);
	case_new(dir, sizeof(dir), extra, "client_ca");
	std_profiles(dir);
	check_into(dir, &s, 0);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.warnings, 1);
	expect_line(&s, 0, "gateway.conf:8:", "client_ca", "bundle.pem "
	    "(certificate 2 of 2, CN=expired-ec.pem) expired on", "not used",
	    NULL);

	/* the gateway's signing certificate expired */
	snprintf(extra, sizeof(extra), "sign_cert = %s\n", basep("expired-ec.pem"));
	case_new(dir, sizeof(dir), extra, "sign_cert");
	std_profiles(dir);
	expect_error(dir, "gateway.conf:8:", "sign_cert", "expired-ec.pem expired on",
	    NULL);
}

static void
test_free_null(void **state)
{
	(void)state;
	config_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_creates_and_loads),
		cmocka_unit_test(test_dev_keeps_existing_files),
		cmocka_unit_test(test_dev_parent_not_a_directory),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_numbers_and_sizes),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_missing_profiles_dir),
		cmocka_unit_test(test_duplicate_id),
		cmocka_unit_test(test_duplicate_fingerprint),
		cmocka_unit_test(test_enc_cert_expired),
		cmocka_unit_test(test_enc_cert_ec),
		cmocka_unit_test(test_enc_cert_usage_and_presence),
		cmocka_unit_test(test_unknown_reader),
		cmocka_unit_test(test_push_settings),
		cmocka_unit_test(test_keys_of_the_other_kind),
		cmocka_unit_test(test_other_files_ignored),
		cmocka_unit_test(test_examples_load),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_may_submit),
		cmocka_unit_test(test_rollover),
		cmocka_unit_test(test_rsa2048),
		cmocka_unit_test(test_scheme_and_scenarios),
		cmocka_unit_test(test_push_pin),
		cmocka_unit_test(test_portal_keys),
		cmocka_unit_test(test_gateway_new_keys),
		cmocka_unit_test(test_check_all),
		cmocka_unit_test(test_check_profiles_only),
		cmocka_unit_test(test_check_gateway_certs),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
