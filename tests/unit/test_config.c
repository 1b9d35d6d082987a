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

/* A throw-away self-signed certificate written to base/name. */
static int
make_cert(const char *name, enum pki_keytype type, long nb_offset, long days,
    int no_encipherment)
{
	struct pki_cert_spec spec;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char path[PATH_MAX];
	int r;

	memset(&spec, 0, sizeof(spec));
	spec.cn = name;
	spec.client = 1;
	spec.not_before_offset = nb_offset;
	spec.days = days;
	spec.no_encipherment = no_encipherment;
	snprintf(path, sizeof(path), "%s/%s", base, name);
	if ((r = pki_make_key(type, &key)) == 0 &&
	    (r = pki_make_cert(&spec, key, NULL, NULL, &cert)) == 0)
		r = pki_write_cert(path, cert);
	X509_free(cert);
	EVP_PKEY_free(key);
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
	snprintf(dev, sizeof(dev), "%s/dev", base);
	if ((r = config_dev(dev, NULL, &devcfg, err, sizeof(err))) != 0) {
		fprintf(stderr, "config_dev: %s\n", err);
		return -1;
	}
	/* expired 2 days ago; EC; RSA without keyEncipherment; spare TLS */
	if (make_cert("expired.pem", PKI_KEY_RSA2048, -3 * 86400L, 1, 0) != 0 ||
	    make_cert("ec.pem", PKI_KEY_EC_P256, -3600, 30, 0) != 0 ||
	    make_cert("nokeyenc.pem", PKI_KEY_RSA2048, -3600, 30, 1) != 0 ||
	    make_cert("future.pem", PKI_KEY_RSA2048, 86400L, 30, 0) != 0 ||
	    make_cert("spare-1.pem", PKI_KEY_EC_P256, -3600, 30, 0) != 0 ||
	    make_cert("spare-2.pem", PKI_KEY_EC_P256, -3600, 30, 0) != 0)
		return -1;
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
	(void)state;
	config_free(devcfg);
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
	assert_int_equal(a->max_size, 16 * 1024 * 1024);
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
	assert_int_equal(config_party(c, "authority-b")->max_size, 16 * 1024 * 1024);
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
	portal(dir, "portal-1", devp("portal-1.pem"), "services = urn:x\n");
	expect_error(dir, "portal-1.conf:5:", "only valid in an authority", NULL);

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
	};
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
	if (case_load(dir, &c, err, sizeof(err)) != 0)
		fail_msg("examples: %s", err);
	assert_string_equal(c->listen, "0.0.0.0:8443");
	assert_int_equal(c->io_threads, 2);
	assert_int_equal(c->max_body, 64 * 1024 * 1024);
	assert_string_equal(c->database, "/var/lib/gatewayd/gateway.db");
	assert_int_equal(c->nparties, 2);
	portal = config_party(c, "portal-service-land");
	bauamt = config_party(c, "bauamt-musterstadt");
	assert_true(portal != NULL && bauamt != NULL);
	assert_int_equal(bauamt->max_size, 32 * 1024 * 1024);
	assert_int_equal(config_may_submit(c, portal, bauamt,
	    "urn:example:service:wohngeld"), 1);
	assert_int_equal(config_may_submit(c, portal, bauamt, "urn:other"), 0);
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
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
