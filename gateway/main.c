/*
 * main.c - gatewayd: start-up, configuration, the shared context, and
 * shutdown.  See README.md for how to run it.
 *
 *   gatewayd --config FILE [--pid-file FILE]
 *   gatewayd --dev DIR [--listen HOST:PORT] [--pid-file FILE]
 *
 * Everything that can be wrong with the configuration is found here,
 * before the first connection is accepted, and reported in one sentence.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
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
	    "usage: gatewayd --config FILE [--pid-file FILE]\n"
	    "       gatewayd --dev DIR [--listen HOST:PORT] [--pid-file FILE]\n"
	    "\n"
	    "  --config FILE    run with the configuration FILE (see profiles/README.md)\n"
	    "  --dev DIR        development mode: DIR holds a development PKI, a SQLite\n"
	    "                   database and profiles for portal-1, authority-a and\n"
	    "                   authority-b; all created on first start\n"
	    "  --listen H:P     listen address in --dev mode (default 127.0.0.1:8443)\n"
	    "  --pid-file FILE  where to write the process id (default: gatewayd.pid\n"
	    "                   next to the database); reload.status in the same\n"
	    "                   directory gets each reload's outcome (gwctl reload)\n"
	    "\n"
	    "SIGHUP (or gwctl reload) reloads the configuration and profiles;\n"
	    "SIGINT or SIGTERM stop the gateway.\n"
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
 * revocation policy, and the algorithm policies: strict (RSA at least
 * 3000 bits) and, for portals whose profile says allow_rsa2048, the same
 * with RSA-2048 accepted and reported as a warning (DOMAIN.md).  A
 * portal's own signer_ca and revocation override the gateway's per
 * submission (submit.c).
 */
static int
verify_setup(struct gw *gw, const struct config *c, char *err, size_t errlen)
{
	static struct chain_ctx chain;
	static struct crypto_policy policy, policy2048;
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
	if (c->crl_file[0] &&
	    (r = rev_cache_add_source(gw->rev, c->crl_file)) != 0) {
		snprintf(err, errlen, "cannot load the CRL %s: %s", c->crl_file,
		    gw_strerror(r));
		return r;
	}
	if (rev_policy_parse(c->revocation, &rp) != 0) {
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
	policy_default(&policy2048);
	if (policy_set(&policy2048, "allow_rsa2048", "yes", why, sizeof(why)) != 0) {
		snprintf(err, errlen, "algorithm policy: %s", why);
		return GW_ERR_CONFIG;
	}
	chain.cert_check = policy_chain_check;
	chain.cert_check_arg = &policy;
	gw->chain = &chain;
	gw->policy = &policy;
	gw->policy_rsa2048 = &policy2048;
	return 0;
}

static int
gw_setup(struct gw *gw, const struct config *c, char *err, size_t errlen)
{
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
	return verify_setup(gw, c, err, errlen);
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
	confsnap_install(gw, NULL);
}

/*
 * The attachment spool (docs/attachments.md): spool_dir next to the
 * database, spool_dir/incoming for parts still arriving.  Whatever is left
 * in incoming/ is from requests that never got an answer (a crash during
 * an upload): nothing refers to it, so it goes.
 */
static int
spool_setup(struct gw *gw, const struct config *cfg, char *err, size_t errlen)
{
	char path[1100];
	struct store *s = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (util_strlcpy(gw->spool_dir, cfg->spool_dir, sizeof(gw->spool_dir)) >=
	    sizeof(gw->spool_dir) ||
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
	if (store_open(cfg->database, &s) == 0 &&
	    (d = opendir(gw->spool_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "gw-", 3) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", gw->spool_dir, de->d_name);
			if (store_att_known(s, de->d_name) == 0 && unlink(path) == 0)
				n++;
		}
		closedir(d);
	}
	store_close(s);
	if (n > 0)
		fprintf(stderr, "gatewayd: removed %zu spool file%s no message "
		    "refers to\n", n, n == 1 ? "" : "s");
	return 0;
}

/* Every connection and every upload being spooled holds a descriptor:
 * take the hard limit rather than the usual soft 1024. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
audit_lifecycle(const char *database, const char *event, const char *detail)
{
	struct store_audit ev = { .event = event, .actor = "gateway",
	    .code = "OK", .detail = detail };
	struct store *s;

	if (store_open(database, &s) == 0) {
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

/*
 * The pid file (for gwctl reload) and, in its directory, the reload status
 * file: FILE if given, else gatewayd.pid next to the database.
 */
static int
pid_paths(const char *pidfile, const char *database, char *pid, size_t pidlen,
    char *status, size_t statuslen)
{
	char dir[PATH_MAX];
	size_t n;

	if (pidfile == NULL) {
		util_strlcpy(dir, database, sizeof(dir));
		n = (size_t)snprintf(pid, pidlen, "%s/gatewayd.pid", dirname(dir));
	} else
		n = util_strlcpy(pid, pidfile, pidlen);
	if (n >= pidlen)
		return GW_ERR_CONFIG;
	util_strlcpy(dir, pid, sizeof(dir));
	n = (size_t)snprintf(status, statuslen, "%s/reload.status", dirname(dir));
	return n < statuslen ? 0 : GW_ERR_CONFIG;
}

static int
write_pid(const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	return util_write_file(path, buf, (size_t)n, 0644);
}

static int
load_config(const char *config, const char *dev, const char *listen,
    struct gw *gw, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	struct confsnap *snap;
	int r;

	if (dev)
		r = config_dev(dev, listen, &cfg, err, errlen);
	else
		r = config_load(config, &cfg, err, errlen);
	if (r == 0 && (r = confsnap_new(cfg, &snap)) == 0)
		confsnap_install(gw, snap);
	return r;
}

int
main(int argc, char **argv)
{
	const char *config = NULL, *dev = NULL, *listen = NULL, *pidfile = NULL;
	struct gw gw;
	struct confsnap *boot;
	char err[1024] = "", detail[600], database[512];
	char pidpath[PATH_MAX], status[PATH_MAX + 16];
	int i, r, pid_written = 0;

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
		else if (strcmp(argv[i], "--pid-file") == 0 && i + 1 < argc)
			pidfile = argv[++i];
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
	/* A SIGHUP before the event loop handles it must not stop us. */
	signal(SIGHUP, SIG_IGN);
	memset(&gw, 0, sizeof(gw));
	raise_nofile();
	confsnap_init(&gw);
	xmlInitParser();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "gatewayd: cannot initialise libcurl\n");
		return 1;
	}
	if (xmldsig_global_init() != 0 || evthread_use_pthreads() != 0) {
		fprintf(stderr, "gatewayd: cannot initialise the crypto libraries\n");
		return 1;
	}
	if ((r = load_config(config, dev, listen, &gw, err, sizeof(err))) != 0) {
		fprintf(stderr, "gatewayd: %s\n", err[0] ? err : gw_strerror(r));
		return 1;
	}
	gw.dev = dev != NULL;
	boot = confsnap_acquire(&gw);
	util_strlcpy(database, boot->cfg->database, sizeof(database));
	if (pid_paths(pidfile, database, pidpath, sizeof(pidpath), status,
	    sizeof(status)) != 0) {
		fprintf(stderr, "gatewayd: the pid file path is too long\n");
		r = GW_ERR_CONFIG;
	} else if ((r = gw_setup(&gw, boot->cfg, err, sizeof(err))) != 0 ||
	    (r = spool_setup(&gw, boot->cfg, err, sizeof(err))) != 0)
		fprintf(stderr, "gatewayd: %s\n", err[0] ? err : gw_strerror(r));
	if (r != 0) {
		confsnap_release(boot);
		gw_teardown(&gw);
		return 1;
	}
	snprintf(detail, sizeof(detail), "config %.300s, sha256 %s (profiles, "
	    "trust store and signing certificate included), listen %.100s",
	    boot->cfg->path, boot->digest, boot->cfg->listen);
	audit_lifecycle(database, "gateway.start", detail);
	if (dev)
		print_dev_help(argv[0], dev, boot->cfg);
	confsnap_release(boot);
	if ((r = sealer_start(&gw)) != 0) {
		fprintf(stderr, "gatewayd: cannot start the audit log sealer: %s\n",
		    gw_strerror(r));
		gw_teardown(&gw);
		return 1;
	}
	if ((r = deliver_start(&gw)) != 0 ||
	    (r = reload_start(&gw, dev ? listen : NULL, status)) != 0) {
		fprintf(stderr, "gatewayd: cannot start push delivery or the "
		    "reload thread: %s\n", gw_strerror(r));
		reload_stop();
		deliver_stop();
		sealer_stop();
		gw_teardown(&gw);
		return 1;
	}
	if (write_pid(pidpath) != 0)
		fprintf(stderr, "gatewayd: cannot write the pid file %s: %s "
		    "(gwctl reload needs it)\n", pidpath, strerror(errno));
	else
		pid_written = 1;
	r = server_run(&gw);
	reload_stop();
	deliver_stop();
	sealer_stop();
	audit_lifecycle(database, "gateway.stop", r == 0 ? "clean" : gw_strerror(r));
	sealer_final(&gw);
	if (pid_written)
		unlink(pidpath);
	gw_teardown(&gw);
	xmldsig_global_cleanup();
	return r == 0 ? 0 : 1;
}
