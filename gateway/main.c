/*
 * main.c - gatewayd: start-up, configuration, the shared context, and
 * shutdown.  See README.md for how to run it.
 *
 *   gatewayd --config FILE
 *   gatewayd --dev DIR [--listen HOST:PORT]
 *
 * Everything that can be wrong with the configuration is found here,
 * before the first connection is accepted, and reported in one sentence.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/thread.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "certcache.h"
#include "chain.h"
#include "err.h"
#include "fetch.h"
#include "policy.h"
#include "revocation.h"
#include "gw.h"
#include "pki.h"
#include "schemas.h"
#include "store.h"
#include "util.h"
#include "xmldsig.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: gatewayd --config FILE\n"
	    "       gatewayd --dev DIR [--listen HOST:PORT]\n"
	    "\n"
	    "  --config FILE    run with the configuration FILE (see profiles/README.md)\n"
	    "  --dev DIR        development mode: DIR holds a development PKI, a SQLite\n"
	    "                   database and profiles for portal-1, authority-a and\n"
	    "                   authority-b; all created on first start\n"
	    "  --listen H:P     listen address in --dev mode (default 127.0.0.1:8443)\n"
	    "  --help           this text\n");
}

static void
quiet_schema_errors(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static int
load_schema(xmlSchemaPtr *out)
{
	xmlSchemaParserCtxtPtr pctx;
	xmlSchemaPtr s;

	pctx = xmlSchemaNewMemParserCtxt((const char *)embed_submission_xsd,
	    (int)embed_submission_xsd_len);
	if (pctx == NULL)
		return GW_ERR_NOMEM;
	xmlSchemaSetParserErrors(pctx, quiet_schema_errors, quiet_schema_errors, NULL);
	s = xmlSchemaParse(pctx);
	xmlSchemaFreeParserCtxt(pctx);
	if (s == NULL)
		return GW_ERR_INTERNAL;
	*out = s;
	return 0;
}

static int
load_trust(const char *file, X509_STORE **out)
{
	X509_STORE *st;

	if ((st = X509_STORE_new()) == NULL)
		return GW_ERR_NOMEM;
	if (X509_STORE_load_file(st, file) != 1) {
		X509_STORE_free(st);
		ERR_clear_error();
		return GW_ERR_CONFIG;
	}
	*out = st;
	return 0;
}

/*
 * What signer verification needs: the revocation cache (local CRL from the
 * configuration, CRL and OCSP from trusted certificates, refreshed in the
 * background), the path cache, the chain context with the configured
 * revocation policy, and the algorithm policy (strict, RSA-2048 accepted
 * with a warning as DOMAIN.md allows).
 */
static int
verify_setup(struct gw *gw, char *err, size_t errlen)
{
	static struct chain_ctx chain;
	static struct crypto_policy policy;
	struct rev_config rc;
	enum rev_policy rp;
	char why[160];
	int r;

	memset(&rc, 0, sizeof(rc));
	if ((r = fetch_global_init()) != 0 ||
	    (r = rev_cache_new(&rc, &gw->rev)) != 0 ||
	    (r = certcache_new(4096, 300, &gw->ccache)) != 0) {
		snprintf(err, errlen, "cannot set up revocation checking: %s",
		    gw_strerror(r));
		return r;
	}
	if (gw->cfg->crl_file[0] &&
	    (r = rev_cache_add_source(gw->rev, gw->cfg->crl_file)) != 0) {
		snprintf(err, errlen, "cannot load the CRL %s: %s", gw->cfg->crl_file,
		    gw_strerror(r));
		return r;
	}
	if (rev_policy_parse(gw->cfg->revocation, &rp) != 0) {
		snprintf(err, errlen, "revocation must be require, prefer or off");
		return GW_ERR_CONFIG;
	}
	if ((r = rev_refresher_start(gw->rev, 60)) != 0) {
		snprintf(err, errlen, "cannot start the revocation refresher");
		return r;
	}
	memset(&chain, 0, sizeof(chain));
	chain.trust = gw->trust;
	chain.trust_gen = 1;
	chain.revocation = rp;
	chain.rev = gw->rev;
	chain.cache = gw->ccache;
	policy_default(&policy);
	if (policy_set(&policy, "allow_rsa2048", "yes", why, sizeof(why)) != 0) {
		snprintf(err, errlen, "algorithm policy: %s", why);
		return GW_ERR_CONFIG;
	}
	chain.cert_check = policy_chain_check;
	chain.cert_check_arg = &policy;
	gw->chain = &chain;
	gw->policy = &policy;
	return 0;
}

static int
gw_setup(struct gw *gw, char *err, size_t errlen)
{
	const struct config *c = gw->cfg;
	int r;

	if ((r = tls_server_ctx(c, &gw->ssl_ctx, err, errlen)) != 0)
		return r;
	if ((r = load_trust(c->trust_ca, &gw->trust)) != 0) {
		snprintf(err, errlen, "cannot load trusted signer CAs from %s", c->trust_ca);
		return r;
	}
	if ((r = keys_load(c->sign_key, &gw->sign_key)) != 0) {
		snprintf(err, errlen, "cannot load the signing key %s: %s",
		    c->sign_key, gw_strerror(r));
		return r;
	}
	if ((r = pki_read_cert(c->sign_cert, &gw->sign_cert)) != 0) {
		snprintf(err, errlen, "cannot load the signing certificate %s",
		    c->sign_cert);
		return r;
	}
	if ((r = load_schema(&gw->submission_schema)) != 0) {
		snprintf(err, errlen, "cannot compile the embedded submission schema");
		return r;
	}
	return verify_setup(gw, err, errlen);
}

static void
gw_teardown(struct gw *gw)
{
	if (gw->rev) {
		rev_refresher_stop(gw->rev);
		rev_cache_free(gw->rev);
	}
	certcache_free(gw->ccache);
	xmlSchemaFree(gw->submission_schema);
	X509_free(gw->sign_cert);
	keys_free(gw->sign_key);
	X509_STORE_free(gw->trust);
	SSL_CTX_free(gw->ssl_ctx);
	config_free(gw->cfg);
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds one file (name, length, bytes) to the digest; a missing file too. */
static void
digest_file(EVP_MD_CTX *md, const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char hdr[64];

	(void)util_read_file(path, 64u << 20, &buf, &len);
	snprintf(hdr, sizeof(hdr), "\n%zu\n", len);
	EVP_DigestUpdate(md, path, strlen(path));
	EVP_DigestUpdate(md, hdr, strlen(hdr));
	if (buf)
		EVP_DigestUpdate(md, buf, len);
	free(buf);
}

/*
 * SHA-256 over everything the configuration consists of: the gateway file,
 * every profile (in name order), the trust and client CA files and the
 * signing certificate.  Recorded with gateway.start, so an auditor sees
 * each configuration (and trust store) the gateway ever ran with.
 */
static void
config_digest(const struct config *c, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	unsigned int hl = 32;
	char path[PATH_MAX + 300], *names[1024];
	struct dirent *de;
	size_t n = 0, i, l;
	DIR *d;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		util_strlcpy(out, "unavailable", 65);
		EVP_MD_CTX_free(md);
		return;
	}
	digest_file(md, c->path);
	if ((d = opendir(c->profiles_dir)) != NULL) {
		while ((de = readdir(d)) != NULL && n < 1024) {
			l = strlen(de->d_name);
			if (de->d_name[0] != '.' && l > 5 &&
			    strcmp(de->d_name + l - 5, ".conf") == 0)
				names[n++] = strdup(de->d_name);
		}
		closedir(d);
	}
	qsort(names, n, sizeof(names[0]), cmpstr);
	for (i = 0; i < n; i++) {
		if (names[i]) {
			snprintf(path, sizeof(path), "%s/%s", c->profiles_dir, names[i]);
			digest_file(md, path);
		}
		free(names[i]);
	}
	digest_file(md, c->trust_ca);
	digest_file(md, c->client_ca);
	digest_file(md, c->sign_cert);
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	util_hex(h, 32, out);
}

/*
 * The attachment spool (docs/attachments.md): spool_dir next to the
 * database, spool_dir/incoming for parts still arriving.  Whatever is left
 * in incoming/ is from requests that never got an answer (a crash during
 * an upload): nothing refers to it, so it goes.
 */
static int
spool_setup(struct gw *gw, char *err, size_t errlen)
{
	char dbdir[512], path[1100];
	struct store *s = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	util_strlcpy(dbdir, gw->cfg->database, sizeof(dbdir));
	if (snprintf(gw->spool_dir, sizeof(gw->spool_dir), "%s/spool",
	    dirname(dbdir)) >= (int)sizeof(gw->spool_dir) ||
	    snprintf(gw->spool_in, sizeof(gw->spool_in), "%s/incoming",
	    gw->spool_dir) >= (int)sizeof(gw->spool_in)) {
		snprintf(err, errlen, "the spool directory's path is too long");
		return GW_ERR_INVALID;
	}
	if ((mkdir(gw->spool_dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(gw->spool_in, 0700) != 0 && errno != EEXIST)) {
		snprintf(err, errlen, "cannot create the spool directory %s: %s",
		    gw->spool_in, strerror(errno));
		return GW_ERR_IO;
	}
	if ((d = opendir(gw->spool_in)) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", gw->spool_in,
		    strerror(errno));
		return GW_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "in-", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", gw->spool_in, de->d_name);
		if (unlink(path) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		fprintf(stderr, "gatewayd: removed %zu unfinished upload%s from %s\n",
		    n, n == 1 ? "" : "s", gw->spool_in);
	/* Files of messages whose acceptance never committed (a crash between
	 * the rename and the commit), or whose purge did not get to unlink. */
	n = 0;
	if (store_open(gw->cfg->database, &s) == 0 &&
	    (d = opendir(gw->spool_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "gw-", 3) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", gw->spool_dir, de->d_name);
			if (store_att_known(s, path) == 0 && unlink(path) == 0)
				n++;
		}
		closedir(d);
	}
	store_close(s);
	if (n > 0)
		fprintf(stderr, "gatewayd: removed %zu spool file%s no message "
		    "refers to\n", n, n == 1 ? "" : "s");
	if (gw->max_submission == 0)
		gw->max_submission = (uint64_t)2 << 30;
	return 0;
}

static void
audit_lifecycle(const struct config *c, const char *event, const char *detail)
{
	struct store_audit ev = { .event = event, .actor = "gateway",
	    .code = "OK", .detail = detail };
	struct store *s;

	if (store_open(c->database, &s) == 0) {
		(void)store_audit(s, &ev);
		store_close(s);
	}
}

static void
print_dev_help(const char *argv0, const char *dir, const struct config *c)
{
	char self[PATH_MAX], *bindir;
	const char *port = strrchr(c->listen, ':');
	char gwopt[160] = "";

	util_strlcpy(self, argv0, sizeof(self));
	bindir = dirname(self);
	if (port && strcmp(port, ":8443") != 0)
		snprintf(gwopt, sizeof(gwopt), " --gateway https://%s", c->listen);
	printf("gatewayd: development mode; PKI, database and profiles in %s\n\n"
	    "Submit a sample as portal-1 (in another terminal):\n"
	    "  %s/gwctl sample --to authority-a > /tmp/sample.xml\n"
	    "  %s/gwctl sign --key %s/portal-1.key --cert %s/portal-1.pem /tmp/sample.xml > /tmp/signed.xml\n"
	    "  %s/gwctl submit --dev %s%s /tmp/signed.xml\n\n"
	    "Fetch it as authority-a:\n"
	    "  %s/gwctl mailbox list --dev %s%s --as authority-a\n"
	    "  %s/gwctl mailbox fetch --dev %s%s --as authority-a ID -o /tmp/msg.xml\n"
	    "  %s/gwctl decrypt --key %s/authority-a.key /tmp/msg.xml\n"
	    "  %s/gwctl mailbox close --dev %s%s --as authority-a ID\n\n"
	    "The same with curl:\n"
	    "  curl --cacert %s/ca.pem --cert %s/portal-1.pem --key %s/portal-1.key \\\n"
	    "       -H 'Content-Type: application/xml' --data-binary @/tmp/signed.xml \\\n"
	    "       https://%s/v1/submissions\n\n",
	    dir, bindir, bindir, dir, dir, bindir, dir, gwopt,
	    bindir, dir, gwopt, bindir, dir, gwopt, bindir, dir, bindir, dir, gwopt,
	    dir, dir, dir, c->listen);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char *config = NULL, *dev = NULL, *listen = NULL;
	struct gw gw;
	char err[1024] = "", detail[600], digest[65];
	int i, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--dev") == 0 && i + 1 < argc)
			dev = argv[++i];
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else {
			fprintf(stderr, "gatewayd: unknown or incomplete option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if ((config == NULL) == (dev == NULL) || (listen && dev == NULL)) {
		fprintf(stderr, "gatewayd: give either --config FILE or --dev DIR\n");
		usage(stderr);
		return 2;
	}
	memset(&gw, 0, sizeof(gw));
	xmlInitParser();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "gatewayd: cannot initialise libcurl\n");
		return 1;
	}
	if (xmldsig_global_init() != 0 || evthread_use_pthreads() != 0) {
		fprintf(stderr, "gatewayd: cannot initialise the crypto libraries\n");
		return 1;
	}
	if (dev)
		r = config_dev(dev, listen, &gw.cfg, err, sizeof(err));
	else
		r = config_load(config, &gw.cfg, err, sizeof(err));
	if (r != 0) {
		fprintf(stderr, "gatewayd: %s\n", err[0] ? err : gw_strerror(r));
		return 1;
	}
	gw.dev = dev != NULL;
	if ((r = gw_setup(&gw, err, sizeof(err))) != 0 ||
	    (r = spool_setup(&gw, err, sizeof(err))) != 0) {
		fprintf(stderr, "gatewayd: %s\n", err[0] ? err : gw_strerror(r));
		gw_teardown(&gw);
		return 1;
	}
	config_digest(gw.cfg, digest);
	snprintf(detail, sizeof(detail), "config %.300s, sha256 %s (profiles, "
	    "trust store and signing certificate included), listen %.100s",
	    gw.cfg->path, digest, gw.cfg->listen);
	audit_lifecycle(gw.cfg, "gateway.start", detail);
	if ((r = sealer_start(&gw)) != 0) {
		fprintf(stderr, "gatewayd: cannot start the audit log sealer: %s\n",
		    gw_strerror(r));
		gw_teardown(&gw);
		return 1;
	}
	if ((r = deliver_start(&gw)) != 0) {
		fprintf(stderr, "gatewayd: cannot start push delivery: %s\n",
		    gw_strerror(r));
		deliver_stop();
		sealer_stop();
		gw_teardown(&gw);
		return 1;
	}
	if (dev)
		print_dev_help(argv[0], dev, gw.cfg);
	r = server_run(&gw);
	deliver_stop();
	sealer_stop();
	audit_lifecycle(gw.cfg, "gateway.stop", r == 0 ? "clean" : gw_strerror(r));
	sealer_final(&gw);
	gw_teardown(&gw);
	xmldsig_global_cleanup();
	return r == 0 ? 0 : 1;
}
