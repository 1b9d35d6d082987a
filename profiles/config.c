/*
 * config.c - loads and checks the gateway file and the party profiles.
 *
 * Owns: struct config and everything hanging off it (parties, their lists
 * and certificates).  See profiles/README.md for the format.
 *
 * Invariants: a configuration is checked whole before it is handed out:
 * every key is known, every number is in range, every certificate a file
 * names was read and is inside its validity period, every reader a portal
 * names is a configured authority, every service it names is accepted by
 * one, and ids and TLS fingerprints are unique.  Anything else is an error
 * with one sentence naming the file, the line and the problem, because a
 * gateway that starts with a half-understood configuration is worse than
 * one that does not start.  After config_load() returns the struct is never
 * written again, so any thread may read it without locks.
 *
 * One set of rules, two walks: every rule reports through cfg_problem() into a
 * struct cfgctx.  config_load() stops at the first error (and keeps its
 * sentence); config_check() (gwctl profiles check) goes on after each one
 * and reports every error and warning, so that an operator fixes a
 * directory in one round.  Functions return GW_ERR_CONFIG after reporting
 * an error; cfg_stop() says whether the caller gives up (load) or goes on to
 * the next key (check).  Going on is always safe because a key that failed
 * leaves its field at the default or empty.
 *
 * Threads: loading runs once, in the main thread at start-up (or in gwctl).
 *
 * The reading happens in two steps: kv_read() turns a file into (key, value,
 * line) triples, rejecting unknown and repeated keys; gateway_apply() and
 * profile_apply() then give the values their meaning; profiles_cross()
 * checks what involves several profiles.
 *
 * The key = value reader and value syntax are in config_kv.c, the
 * certificate rules in config_certs.c, the development set-up in
 * config_dev.c (config_int.h is what they share).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlstring.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "config_int.h"
#include "err.h"
#include "pki.h"
#include "util.h"

/* What the loader remembers about a party only while loading. */
struct pinfo {
	char *file;
	int id_line;
	int tls_line;
	int readers_line;
	int services_line;
};

/* ---- the gateway file ---- */

enum gwkey_type { K_LISTEN, K_FILE, K_CERTS, K_DIR, K_PATH, K_INT, K_SIZE,
    K_BIGSIZE, K_REVOCATION };

static const struct gwkey {
	const char *name;
	enum gwkey_type type;
	size_t off;
	long min, max;		/* K_INT; K_CERTS: min is the enum certs_rule */
	int required;
} gateway_keys[] = {
	{ "listen", K_LISTEN, offsetof(struct config, listen), 0, 0, 0 },
	{ "tls_cert", K_CERTS, offsetof(struct config, tls_cert), CERTS_EVERY, 0, 1 },
	{ "tls_key", K_FILE, offsetof(struct config, tls_key), 0, 0, 1 },
	{ "client_ca", K_CERTS, offsetof(struct config, client_ca), CERTS_SOME, 0, 1 },
	{ "trust_ca", K_CERTS, offsetof(struct config, trust_ca), CERTS_SOME, 0, 1 },
	{ "sign_cert", K_CERTS, offsetof(struct config, sign_cert), CERTS_EVERY, 0, 1 },
	{ "sign_key", K_FILE, offsetof(struct config, sign_key), 0, 0, 1 },
	{ "database", K_PATH, offsetof(struct config, database), 0, 0, 1 },
	{ "profiles_dir", K_DIR, offsetof(struct config, profiles_dir), 0, 0, 1 },
	{ "threads", K_INT, offsetof(struct config, threads), 0, 1024, 0 },
	{ "io_threads", K_INT, offsetof(struct config, io_threads), 0, 64, 0 },
	{ "max_body", K_SIZE, offsetof(struct config, max_body), 0, 0, 0 },
	{ "max_submission", K_BIGSIZE, offsetof(struct config, max_submission),
	    0, 0, 0 },
	{ "max_pending", K_INT, offsetof(struct config, max_pending), 1, 1000000, 0 },
	{ "max_uploads", K_INT, offsetof(struct config, max_uploads), 1, 100000, 0 },
	{ "revocation", K_REVOCATION, offsetof(struct config, revocation), 0, 0, 0 },
	{ "crl", K_FILE, offsetof(struct config, crl_file), 0, 0, 0 },
	{ "spool_dir", K_PATH, offsetof(struct config, spool_dir), 0, 0, 0 },
};
#define NGATEWAY_KEYS (sizeof(gateway_keys) / sizeof(gateway_keys[0]))

static int
gateway_key_known(const char *key)
{
	size_t i;

	for (i = 0; i < NGATEWAY_KEYS; i++)
		if (strcmp(gateway_keys[i].name, key) == 0)
			return 1;
	return 0;
}

/* A path key (K_FILE, K_CERTS, K_DIR, K_PATH) into field. */
static int
gateway_path(struct cfgctx *x, const struct kvfile *f, const struct gwkey *k,
    const struct kv *kv, char *field)
{
	struct stat st;

	if (resolve_path(f->dir, kv->value, field, sizeof(((struct config *)
	    NULL)->tls_cert)) != 0) {
		field[0] = '\0';
		return cfg_problem(x, 1, f->path, kv->line, "the path of \"%s\" is "
		    "longer than %zu bytes", k->name,
		    sizeof(((struct config *)NULL)->tls_cert) - 1);
	}
	if ((k->type == K_FILE || k->type == K_CERTS) && access(field, R_OK) != 0)
		return cfg_problem(x, 1, f->path, kv->line, "%s names %s, which cannot "
		    "be read: %s", k->name, field, strerror(errno));
	if (k->type == K_DIR && (stat(field, &st) != 0 || !S_ISDIR(st.st_mode))) {
		cfg_problem(x, 1, f->path, kv->line, "%s names %s, which is not a "
		    "directory", k->name, field);
		field[0] = '\0';	/* a check does not look into it */
		return GW_ERR_CONFIG;
	}
	if (k->type == K_CERTS)
		return certs_file(x, f->path, kv->line, k->name, field,
		    (enum certs_rule)k->min, NULL, NULL);
	return 0;
}

/* One key of the gateway file into its field of c. */
static int
gateway_value(struct cfgctx *x, struct config *c, const struct kvfile *f,
    const struct gwkey *k, const struct kv *kv)
{
	char *field = (char *)c + k->off;
	unsigned long long size;
	long v;
	int r;

	switch (k->type) {
	case K_LISTEN:
		if (!listen_valid(kv->value))
			return cfg_problem(x, 1, f->path, kv->line, "listen must be "
			    "host:port (IPv6 as [addr]:port), not \"%.80s\"",
			    kv->value);
		util_strlcpy(field, kv->value, sizeof(c->listen));
		return 0;
	case K_FILE:
	case K_CERTS:
	case K_DIR:
	case K_PATH:
		return gateway_path(x, f, k, kv, field);
	case K_INT:
		if (parse_long(kv->value, k->min, k->max, &v) != 0)
			return cfg_problem(x, 1, f->path, kv->line, "%s must be a whole "
			    "number from %ld to %ld, not \"%s\"", k->name, k->min,
			    k->max, kv->value);
		*(int *)(void *)field = (int)v;
		return 0;
	case K_SIZE:
	case K_BIGSIZE:
		r = size_value(x, f, kv, k->type == K_SIZE ? CONFIG_MAX_BODY :
		    CONFIG_MAX_SUBMISSION, &size);
		if (r == 0 && k->type == K_SIZE)
			*(size_t *)(void *)field = (size_t)size;
		else if (r == 0)
			*(uint64_t *)(void *)field = size;
		return r;
	case K_REVOCATION:
		if (!revocation_valid(kv->value))
			return cfg_problem(x, 1, f->path, kv->line, "revocation must be "
			    "require, prefer or off, not \"%.40s\"", kv->value);
		util_strlcpy(field, kv->value, sizeof(c->revocation));
		return 0;
	}
	return GW_ERR_INTERNAL;	/* a type without a case: a bug here */
}

/* The defaults of every optional gateway key (also for a profiles-only
 * check, which has no gateway file). */
static void
gateway_defaults(struct config *c)
{
	util_strlcpy(c->listen, "127.0.0.1:8443", sizeof(c->listen));
	c->threads = 0;
	c->io_threads = 1;
	c->max_body = 16 * 1024 * 1024;
	c->max_submission = CONFIG_DEF_SUBMISSION;
	c->max_pending = 256;
	c->max_uploads = 8;
	util_strlcpy(c->revocation, "prefer", sizeof(c->revocation));
	c->crl_file[0] = '\0';
	c->spool_dir[0] = '\0';
}

/* spool_dir when the file has none: "spool" next to the database. */
static int
gateway_spool(struct cfgctx *x, struct config *c, const struct kvfile *f)
{
	char dir[sizeof(c->database)], *slash;

	if (c->spool_dir[0] != '\0' || c->database[0] == '\0')
		return 0;
	util_strlcpy(dir, c->database, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL)	/* resolved: absolute */
		return GW_ERR_INTERNAL;
	slash[slash == dir ? 1 : 0] = '\0';
	if (resolve_path(dir, "spool", c->spool_dir, sizeof(c->spool_dir)) != 0) {
		c->spool_dir[0] = '\0';
		return cfg_problem(x, 1, f->path, 0, "the default spool_dir (next to "
		    "the database) is longer than %zu bytes",
		    sizeof(c->spool_dir) - 1);
	}
	return 0;
}

static int
gateway_apply(struct cfgctx *x, struct config *c, const struct kvfile *f)
{
	const struct kv *kv;
	size_t i;
	int r;

	if (util_strlcpy(c->path, f->path, sizeof(c->path)) >= sizeof(c->path))
		return cfg_problem(x, 1, f->path, 0, "the path is too long");
	gateway_defaults(c);
	for (i = 0; i < NGATEWAY_KEYS; i++) {
		if ((kv = kv_find(f, gateway_keys[i].name)) == NULL) {
			if (gateway_keys[i].required &&
			    cfg_stop(x, r = cfg_problem(x, 1, f->path, 0, "the required key "
			    "\"%s\" is missing", gateway_keys[i].name)))
				return r;
			continue;
		}
		if (cfg_stop(x, r = gateway_value(x, c, f, &gateway_keys[i], kv)))
			return r;
	}
	return gateway_spool(x, c, f);
}

/* ---- profiles ---- */

/*
 * Every profile key and the kind of party it belongs to (0: both).  A key
 * of the other kind is an error naming the kind it is for.
 */
static const struct pkey {
	const char *name;
	int kind;
} profile_keys[] = {
	{ "id", 0 }, { "kind", 0 }, { "name", 0 }, { "tls_cert", 0 },
	{ "services", 0 }, { "max_size", 0 }, { "allow_rsa2048", 0 },
	{ "delivery", PARTY_AUTHORITY }, { "encryption_cert", PARTY_AUTHORITY },
	{ "endpoint", PARTY_AUTHORITY }, { "endpoint_ca", PARTY_AUTHORITY },
	{ "endpoint_pin", PARTY_AUTHORITY }, { "receipt_cert", PARTY_AUTHORITY },
	{ "max_attempts", PARTY_AUTHORITY }, { "max_age", PARTY_AUTHORITY },
	{ "retry_base", PARTY_AUTHORITY }, { "retry_max", PARTY_AUTHORITY },
	{ "retention", PARTY_AUTHORITY }, { "scheme", PARTY_AUTHORITY },
	{ "scenarios", PARTY_AUTHORITY },
	{ "readers", PARTY_PORTAL }, { "signer_ca", PARTY_PORTAL },
	{ "revocation", PARTY_PORTAL }, { "signer_eku", PARTY_PORTAL },
};
#define NPROFILE_KEYS (sizeof(profile_keys) / sizeof(profile_keys[0]))

static int
profile_key_known(const char *key)
{
	size_t i;

	for (i = 0; i < NPROFILE_KEYS; i++)
		if (strcmp(profile_keys[i].name, key) == 0)
			return 1;
	return 0;
}

/* Records failure e of one step; returns from the function if it ends the
 * walk (see cfg_stop()), else remembers the first failure in r. */
#define STEP(x, r, call) do {						\
	int e_ = (call);						\
	if (cfg_stop((x), e_))						\
		return e_;						\
	if (e_ != 0 && (r) == 0)					\
		(r) = e_;						\
} while (0)

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
strv_has(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* Same characters as the schema's PartyId. */
static int
party_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._:-", *s) == NULL)
			return 0;
	return 1;
}

/* What the entries of a list are: their check and name in sentences. */
enum list_kind { LIST_URI, LIST_ID, LIST_PATH };

/*
 * A comma-separated list; entries are trimmed and must be non-empty and at
 * most CONFIG_MAX_URI bytes; URIs (and other tokens) have no white space,
 * ids must be party ids, paths may have inner spaces.
 */
static int
parse_list(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    enum list_kind kind, char ***out, size_t *outn)
{
	static const char *const what[] = { "URI", "party id", "file name" };
	char *copy = NULL, *s, *comma, *item, **v = NULL;
	size_t n = 0;
	int r = GW_ERR_NOMEM;

	if ((copy = strdup(kv->value)) == NULL ||
	    (v = calloc(CONFIG_MAX_LIST, sizeof(*v))) == NULL)
		goto out;
	for (s = copy; s != NULL; s = comma) {
		if ((comma = strchr(s, ',')) != NULL)
			*comma++ = '\0';
		item = cfg_trim(s);
		if (*item == '\0') {
			r = cfg_problem(x, 1, f->path, kv->line, "%s has an empty entry",
			    kv->key);
			goto out;
		}
		if (n == CONFIG_MAX_LIST) {
			r = cfg_problem(x, 1, f->path, kv->line, "%s has more than %d "
			    "entries", kv->key, CONFIG_MAX_LIST);
			goto out;
		}
		if (strlen(item) > CONFIG_MAX_URI ||
		    (kind != LIST_PATH && strpbrk(item, " \t") != NULL) ||
		    (kind == LIST_ID && !party_id_valid(item))) {
			r = cfg_problem(x, 1, f->path, kv->line, "%s: \"%.80s\" is not a "
			    "valid %s", kv->key, item, what[kind]);
			goto out;
		}
		r = GW_ERR_NOMEM;
		if ((v[n] = strdup(item)) == NULL)
			goto out;
		n++;
	}
	*out = v;
	*outn = n;
	v = NULL;
	r = 0;
 out:
	if (v != NULL)
		strv_free(v, n);
	free(copy);
	return r;
}

/*
 * The certificate the key kv names (its file resolved into path, every
 * certificate in it valid): *out gets the first, or NULL if none was read.
 */
static int
key_cert(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    char path[PATH_MAX], X509 **out)
{
	X509 **v = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	if (resolve_path(f->dir, kv->value, path, PATH_MAX) != 0)
		return cfg_problem(x, 1, f->path, kv->line, "the path of %s is "
		    "too long", kv->key);
	r = certs_file(x, f->path, kv->line, kv->key, path, CERTS_EVERY, &v, &n);
	if (v != NULL) {
		*out = v[0];
		v[0] = NULL;
	}
	certv_free(v, n);
	return r;
}

/* The TLS client certificate: its fingerprint identifies the party. */
static int
tls_apply(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    struct party *p)
{
	char path[PATH_MAX];
	X509 *cert;
	int r;

	r = key_cert(x, f, kv, path, &cert);
	if (cert != NULL && pki_cert_fingerprint(cert, p->tls_fpr) != 0) {
		p->tls_fpr[0] = '\0';
		r = cfg_problem(x, 1, f->path, kv->line, "tls_cert: cannot fingerprint "
		    "%s", path);
	}
	X509_free(cert);
	return r;
}

/* A number key of a profile, in [min, max], or def when absent. */
static int
profile_long(struct cfgctx *x, const struct kvfile *f, const char *key,
    long min, long max, long def, long *out)
{
	const struct kv *kv = kv_find(f, key);

	*out = def;
	if (kv && parse_long(kv->value, min, max, out) != 0) {
		*out = def;
		return cfg_problem(x, 1, f->path, kv->line, "%s must be a whole number "
		    "from %ld to %ld, not \"%.40s\"", key, min, max, kv->value);
	}
	return 0;
}

/* "sha256//BASE64[;sha256//BASE64...]" as CURLOPT_PINNEDPUBLICKEY takes
 * it: base64 of a SHA-256 digest is 43 characters and one '='. */
static int
pin_valid(const char *s)
{
	size_t i;

	for (;;) {
		if (strncmp(s, "sha256//", 8) != 0)
			return 0;
		s += 8;
		for (i = 0; i < 43; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '+' &&
			    s[i] != '/')
				return 0;
		if (s[43] != '=')
			return 0;
		s += 44;
		if (*s == '\0')
			return 1;
		if (*s++ != ';')
			return 0;
	}
}

/* The file of CA certificates named by kv (CERTS_SOME): its resolved path
 * into path (pathlen) and, if v is not NULL, the certificates. */
static int
cafile_apply(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    char *path, size_t pathlen, X509 ***v, size_t *n)
{
	char tmp[PATH_MAX];
	X509 **lv = NULL;
	size_t ln = 0;
	int r;

	if (resolve_path(f->dir, kv->value, tmp, sizeof(tmp)) != 0 ||
	    strlen(tmp) >= pathlen)
		return cfg_problem(x, 1, f->path, kv->line, "the path of %s is longer "
		    "than %zu bytes", kv->key, pathlen - 1);
	r = certs_file(x, f->path, kv->line, kv->key, tmp, CERTS_SOME, &lv, &ln);
	if (lv != NULL) {	/* it was read */
		util_strlcpy(path, tmp, pathlen);
		if (v != NULL) {
			*v = lv;
			*n = ln;
			lv = NULL;
		}
	}
	certv_free(lv, ln);
	return r;
}

/* receipt_cert: the certificate whose key signs the authority's receipts. */
static int
receipt_apply(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    struct party *p)
{
	char path[PATH_MAX];

	return key_cert(x, f, kv, path, &p->receipt_cert);
}

/*
 * Push settings: endpoint (https only), endpoint_ca and/or endpoint_pin
 * (trust for its TLS), receipt_cert (whose signature its receipts must
 * carry).  Required for delivery = push, refused for pull.
 */
static int
push_apply(struct cfgctx *x, const struct kvfile *f, struct party *p)
{
	static const char *const keys[] = { "endpoint", "endpoint_ca",
	    "endpoint_pin", "receipt_cert" };
	const struct kv *kv;
	size_t i;
	int r = 0;

	if (strcmp(p->delivery, "push") != 0) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if ((kv = kv_find(f, keys[i])) != NULL)
				STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "%s is "
				    "only for delivery = push", keys[i]));
		return r;
	}
	if (kv_find(f, "endpoint") == NULL)
		STEP(x, r, cfg_problem(x, 1, f->path, 0, "delivery = push needs "
		    "endpoint"));
	if (kv_find(f, "endpoint_ca") == NULL && kv_find(f, "endpoint_pin") == NULL)
		STEP(x, r, cfg_problem(x, 1, f->path, 0, "delivery = push needs "
		    "endpoint_ca or endpoint_pin"));
	if (kv_find(f, "receipt_cert") == NULL)
		STEP(x, r, cfg_problem(x, 1, f->path, 0, "delivery = push needs "
		    "receipt_cert"));
	if ((kv = kv_find(f, "endpoint")) != NULL &&
	    (strncmp(kv->value, "https://", 8) != 0 ||
	    util_strlcpy(p->endpoint, kv->value, sizeof(p->endpoint)) >=
	    sizeof(p->endpoint))) {
		p->endpoint[0] = '\0';
		STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "endpoint must be an "
		    "https:// URL of at most %zu characters",
		    sizeof(p->endpoint) - 1));
	}
	if ((kv = kv_find(f, "endpoint_ca")) != NULL)
		STEP(x, r, cafile_apply(x, f, kv, p->endpoint_ca,
		    sizeof(p->endpoint_ca), NULL, NULL));
	if ((kv = kv_find(f, "endpoint_pin")) != NULL) {
		if (!pin_valid(kv->value) || strlen(kv->value) >=
		    sizeof(p->endpoint_pin))
			STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "endpoint_pin "
			    "must be sha256// and the base64 SHA-256 of the "
			    "endpoint's public key (several separated by ';'), "
			    "not \"%.80s\"", kv->value));
		else
			util_strlcpy(p->endpoint_pin, kv->value,
			    sizeof(p->endpoint_pin));
	}
	if ((kv = kv_find(f, "receipt_cert")) != NULL)
		STEP(x, r, receipt_apply(x, f, kv, p));
	return r;
}

/* Retry policy and retention: numbers with defaults. */
static int
numbers_apply(struct cfgctx *x, const struct kvfile *f, struct party *p)
{
	long v;
	int r = 0;

	STEP(x, r, profile_long(x, f, "max_attempts", 1, 1000, 12, &v));
	p->max_attempts = (int)v;
	STEP(x, r, profile_long(x, f, "max_age", 1, 365L * 86400, 7L * 86400,
	    &p->max_age));
	STEP(x, r, profile_long(x, f, "retry_base", 10, 3600000, 2000,
	    &p->retry_base_ms));
	STEP(x, r, profile_long(x, f, "retry_max", 10, 86400000, 600000,
	    &p->retry_max_ms));
	/* Days a delivered message body is kept (gateway/store_log.c). */
	STEP(x, r, profile_long(x, f, "retention", 0, 36500, 365, &v));
	p->retention_days = (int)v;
	return r;
}

/*
 * encryption_cert: one or more files (a key rollover).  Each must pass
 * enc_key_check(); together they follow CERTS_SOME.  Every certificate
 * read goes into p->enc_certs; enc_cert is the latest-expiring valid one.
 */
static int
enc_apply(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    struct party *p)
{
	char **files = NULL, **labels = NULL;
	X509 **v;
	size_t nfiles = 0, n, i, k;
	int r = 0, e;

	if ((e = parse_list(x, f, kv, LIST_PATH, &files, &nfiles)) != 0)
		return e;
	if (nfiles > CONFIG_MAX_ENC) {
		e = cfg_problem(x, 1, f->path, kv->line, "encryption_cert names more "
		    "than %d files", CONFIG_MAX_ENC);
		goto out;
	}
	e = GW_ERR_NOMEM;
	if ((p->enc_certs = calloc(nfiles, sizeof(*p->enc_certs))) == NULL ||
	    (labels = calloc(nfiles, sizeof(*labels))) == NULL)
		goto out;
	for (i = 0; i < nfiles; i++) {
		k = p->nenc_certs;
		e = GW_ERR_NOMEM;
		/* a file that failed leaves its slot to the next one */
		if (labels[k] == NULL && (labels[k] = malloc(PATH_MAX)) == NULL)
			goto out;
		if (resolve_path(f->dir, files[i], labels[k], PATH_MAX) != 0)
			e = cfg_problem(x, 1, f->path, kv->line, "the path of "
			    "encryption_cert \"%.80s\" is too long", files[i]);
		else if ((e = certs_read(x, f->path, kv->line, "encryption_cert",
		    labels[k], &v, &n)) == 0) {
			p->enc_certs[p->nenc_certs++] = v[0];
			v[0] = NULL;
			certv_free(v, n);
			e = enc_key_check(x, f->path, kv->line, labels[k],
			    p->enc_certs[k], p->allow_rsa2048);
		}
		if (cfg_stop(x, e))
			goto out;
		r = r != 0 ? r : e;
	}
	e = certs_validity(x, f->path, kv->line, "encryption_cert", p->enc_certs,
	    labels, p->nenc_certs, CERTS_SOME);
	p->enc_cert = enc_latest(p->enc_certs, p->nenc_certs, x->now);
 out:
	for (i = 0; labels != NULL && i < nfiles; i++)
		free(labels[i]);
	free(labels);
	strv_free(files, nfiles);
	return cfg_stop(x, e) || r == 0 ? e : r;
}

/* Names an EKU in signer_eku may use (or a dotted OID). */
static const char *const eku_names[] = { "serverAuth", "clientAuth",
    "codeSigning", "emailProtection", "timeStamping", "OCSPSigning" };

/* signer_eku: names or dotted OIDs, stored as dotted OIDs. */
static int
eku_apply(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    struct party *p)
{
	ASN1_OBJECT *obj;
	char dotted[128];
	size_t i, j;
	int r, known, len;

	if ((r = parse_list(x, f, kv, LIST_URI, &p->signer_eku,
	    &p->nsigner_eku)) != 0)
		return r;
	for (i = 0; i < p->nsigner_eku; i++) {
		known = strspn(p->signer_eku[i], "0123456789.") ==
		    strlen(p->signer_eku[i]);
		for (j = 0; j < sizeof(eku_names) / sizeof(eku_names[0]); j++)
			known |= strcmp(p->signer_eku[i], eku_names[j]) == 0;
		obj = known ? OBJ_txt2obj(p->signer_eku[i], 0) : NULL;
		len = obj != NULL ? OBJ_obj2txt(dotted, sizeof(dotted), obj, 1) : -1;
		if (len <= 0 || (size_t)len >= sizeof(dotted)) {
			ASN1_OBJECT_free(obj);
			r = cfg_problem(x, 1, f->path, kv->line, "signer_eku: \"%.80s\" is "
			    "neither an OID nor one of serverAuth, clientAuth, "
			    "codeSigning, emailProtection, timeStamping, OCSPSigning",
			    p->signer_eku[i]);
			strv_free(p->signer_eku, p->nsigner_eku);
			p->signer_eku = NULL;
			p->nsigner_eku = 0;
			return r;
		}
		ASN1_OBJECT_free(obj);
		free(p->signer_eku[i]);
		if ((p->signer_eku[i] = strdup(dotted)) == NULL) {
			/* keep the array free-able: shift the rest down */
			for (j = i + 1; j < p->nsigner_eku; j++)
				p->signer_eku[j - 1] = p->signer_eku[j];
			p->nsigner_eku--;
			return GW_ERR_NOMEM;
		}
	}
	return 0;
}

/*
 * The portal's signer CAs as a trust store of their own: its submissions
 * must chain to one of them (intermediates may come with the message).
 * Each store gets a generation no other store had, so that the path cache
 * (keyed by store and generation) never mixes two portals' results.
 */
static int
signer_store(struct party *p)
{
	static atomic_ulong gen;
	size_t i;

	if ((p->signer_store = X509_STORE_new()) == NULL)
		return GW_ERR_NOMEM;
	for (i = 0; i < p->nsigner_cas; i++)
		if (X509_STORE_add_cert(p->signer_store, p->signer_cas[i]) != 1)
			return GW_ERR_NOMEM;
	p->signer_gen = (1UL << 20) + atomic_fetch_add(&gen, 1);
	return 0;
}

static int
portal_apply(struct cfgctx *x, const struct kvfile *f, struct party *p,
    struct pinfo *pi)
{
	const struct kv *kv;
	int r = 0;

	if ((kv = kv_find(f, "readers")) != NULL) {
		pi->readers_line = kv->line;
		STEP(x, r, parse_list(x, f, kv, LIST_ID, &p->readers, &p->nreaders));
	}
	if ((kv = kv_find(f, "signer_ca")) != NULL) {
		STEP(x, r, cafile_apply(x, f, kv, p->signer_ca,
		    sizeof(p->signer_ca), &p->signer_cas, &p->nsigner_cas));
		if (r == 0 && p->nsigner_cas > 0)
			r = signer_store(p);
	}
	if ((kv = kv_find(f, "revocation")) != NULL) {
		if (revocation_valid(kv->value))
			util_strlcpy(p->revocation, kv->value, sizeof(p->revocation));
		else
			STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "revocation must "
			    "be require, prefer or off, not \"%.40s\"", kv->value));
	}
	if ((kv = kv_find(f, "signer_eku")) != NULL)
		STEP(x, r, eku_apply(x, f, kv, p));
	return r;
}

static int
authority_apply(struct cfgctx *x, const struct kvfile *f, struct party *p)
{
	const struct kv *kv;
	int r = 0;

	util_strlcpy(p->delivery, "pull", sizeof(p->delivery));
	if ((kv = kv_find(f, "delivery")) != NULL) {
		if (strcmp(kv->value, "pull") == 0 || strcmp(kv->value, "push") == 0)
			util_strlcpy(p->delivery, kv->value, sizeof(p->delivery));
		else
			STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "delivery must "
			    "be pull or push, not \"%s\"", kv->value));
	}
	STEP(x, r, push_apply(x, f, p));
	STEP(x, r, numbers_apply(x, f, p));
	util_strlcpy(p->scheme, "gatewayd", sizeof(p->scheme));
	if ((kv = kv_find(f, "scheme")) != NULL) {
		if (party_id_valid(kv->value))
			util_strlcpy(p->scheme, kv->value, sizeof(p->scheme));
		else
			STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "scheme must be "
			    "1-63 characters of A-Z a-z 0-9 . _ : -, not \"%.80s\"",
			    kv->value));
	}
	if ((kv = kv_find(f, "scenarios")) != NULL)
		STEP(x, r, parse_list(x, f, kv, LIST_URI, &p->scenarios,
		    &p->nscenarios));
	if ((kv = kv_find(f, "encryption_cert")) == NULL)
		STEP(x, r, cfg_problem(x, 1, f->path, 0, "an authority profile needs "
		    "encryption_cert"));
	else
		STEP(x, r, enc_apply(x, f, kv, p));
	return r;
}

/* id, kind, name, tls_cert. */
static int
profile_identity(struct cfgctx *x, const struct kvfile *f, struct party *p,
    struct pinfo *pi)
{
	const struct kv *kv;
	int r = 0;

	if ((kv = kv_find(f, "id")) == NULL)
		STEP(x, r, cfg_problem(x, 1, f->path, 0, "the required key \"id\" is "
		    "missing"));
	else if (!party_id_valid(kv->value))
		STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "id must be 1-63 "
		    "characters of A-Z a-z 0-9 . _ : -, not \"%.80s\"", kv->value));
	else {
		util_strlcpy(p->id, kv->value, sizeof(p->id));
		pi->id_line = kv->line;
	}
	if ((kv = kv_find(f, "kind")) == NULL)
		STEP(x, r, cfg_problem(x, 1, f->path, 0, "the required key \"kind\" is "
		    "missing"));
	else if (strcmp(kv->value, "portal") == 0)
		p->kind = PARTY_PORTAL;
	else if (strcmp(kv->value, "authority") == 0)
		p->kind = PARTY_AUTHORITY;
	else
		STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "kind must be portal "
		    "or authority, not \"%.80s\"", kv->value));
	util_strlcpy(p->name, p->id, sizeof(p->name));
	if ((kv = kv_find(f, "name")) != NULL &&
	    util_strlcpy(p->name, kv->value, sizeof(p->name)) >= sizeof(p->name))
		STEP(x, r, cfg_problem(x, 1, f->path, kv->line, "name is longer than "
		    "%zu bytes", sizeof(p->name) - 1));
	if ((kv = kv_find(f, "tls_cert")) == NULL)
		STEP(x, r, cfg_problem(x, 1, f->path, 0, "the required key \"tls_cert\" "
		    "is missing"));
	else {
		pi->tls_line = kv->line;
		STEP(x, r, tls_apply(x, f, kv, p));
	}
	return r;
}

/* services, max_size, allow_rsa2048: both kinds, with the kind's default. */
static int
profile_limits(struct cfgctx *x, const struct config *c,
    const struct kvfile *f, struct party *p, struct pinfo *pi)
{
	const struct kv *kv;
	unsigned long long size;
	int r = 0, e;

	if ((kv = kv_find(f, "services")) != NULL) {
		pi->services_line = kv->line;
		STEP(x, r, parse_list(x, f, kv, LIST_URI, &p->services,
		    &p->nservices));
	}
	p->max_size = (size_t)c->max_submission;	/* attachments included */
	if ((kv = kv_find(f, "max_size")) != NULL) {
		e = size_value(x, f, kv, CONFIG_MAX_SUBMISSION, &size);
		if (e == 0)
			p->max_size = (size_t)size;
		STEP(x, r, e);
	}
	if ((kv = kv_find(f, "allow_rsa2048")) != NULL)
		STEP(x, r, yesno_value(x, f, kv, &p->allow_rsa2048));
	return r;
}

/* The keys common to both kinds, then the kind's own. */
static int
profile_apply(struct cfgctx *x, const struct config *c,
    const struct kvfile *f, struct party *p, struct pinfo *pi)
{
	size_t i, j;
	int r = 0;

	STEP(x, r, profile_identity(x, f, p, pi));
	if (p->kind == 0)	/* which keys belong is not known */
		return r;
	for (i = 0; i < f->n; i++)
		for (j = 0; j < NPROFILE_KEYS; j++)
			if (strcmp(f->kv[i].key, profile_keys[j].name) == 0 &&
			    profile_keys[j].kind != 0 &&
			    profile_keys[j].kind != (int)p->kind)
				STEP(x, r, cfg_problem(x, 1, f->path, f->kv[i].line,
				    "%s is only valid in %s profile", f->kv[i].key,
				    profile_keys[j].kind == PARTY_PORTAL ? "a portal" :
				    "an authority"));
	STEP(x, r, profile_limits(x, c, f, p, pi));
	if (p->kind == PARTY_AUTHORITY)
		STEP(x, r, authority_apply(x, f, p));
	else
		STEP(x, r, portal_apply(x, f, p, pi));
	return r;
}

/* Loads one profile into p; p's fields are freed by config_free either way. */
static int
profile_load(struct cfgctx *x, const struct config *c, const char *path,
    struct party *p, struct pinfo *pi)
{
	struct kvfile f;
	int r;

	r = kv_read(x, path, profile_key_known, &f);
	if (r == 0 && (pi->file = strdup(f.path)) == NULL)
		r = GW_ERR_NOMEM;
	if (r == 0)
		r = profile_apply(x, c, &f, p, pi);
	kv_free(&f);
	return r;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.conf names in dir (no hidden files), sorted for stable errors. */
static int
profile_names(struct cfgctx *x, const struct config *c, char ***out,
    size_t *outn)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, len;
	int r = GW_ERR_NOMEM;

	if ((d = opendir(c->profiles_dir)) == NULL)
		return cfg_problem(x, 1, c->path, 0, "profiles_dir %s cannot be "
		    "opened: %s", c->profiles_dir, strerror(errno));
	if ((v = calloc(CONFIG_MAX_PARTIES, sizeof(*v))) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (n == CONFIG_MAX_PARTIES) {
			r = cfg_problem(x, 1, c->path, 0, "profiles_dir %s holds more "
			    "than %d profiles", c->profiles_dir, CONFIG_MAX_PARTIES);
			goto out;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto out;
		n++;
	}
	qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	*outn = n;
	v = NULL;
	r = 0;
 out:
	if (v != NULL)
		strv_free(v, n);
	closedir(d);
	return r;
}

/* Unique ids and TLS fingerprints (parties whose own were bad are left
 * out: they were reported already). */
static int
profiles_unique(struct cfgctx *x, const struct config *c,
    const struct pinfo *pi)
{
	const struct party *p, *q;
	size_t i, j;
	int r = 0;

	for (i = 0; i < c->nparties; i++) {
		p = &c->parties[i];
		for (j = 0; j < i; j++) {
			q = &c->parties[j];
			if (p->id[0] != '\0' && strcmp(p->id, q->id) == 0)
				STEP(x, r, cfg_problem(x, 1, pi[i].file, pi[i].id_line,
				    "the id \"%s\" is already used by %s", p->id,
				    pi[j].file));
			if (p->tls_fpr[0] != '\0' && strcmp(p->tls_fpr,
			    q->tls_fpr) == 0)
				STEP(x, r, cfg_problem(x, 1, pi[i].file, pi[i].tls_line,
				    "tls_cert is the same certificate as that of "
				    "\"%s\" (%s); each party needs its own", q->id,
				    pi[j].file));
		}
	}
	return r;
}

/* 1 if some authority p may submit to accepts service. */
static int
service_known(const struct config *c, const struct party *p,
    const char *service)
{
	const struct party *a;
	size_t i;

	for (i = 0; i < c->nparties; i++) {
		a = &c->parties[i];
		if (a->kind == PARTY_AUTHORITY && a->id[0] != '\0' &&
		    (p->nreaders == 0 || strv_has(p->readers, p->nreaders, a->id)) &&
		    (a->nservices == 0 || strv_has(a->services, a->nservices,
		    service)))
			return 1;
	}
	return 0;
}

/* A portal's readers are authorities, its services accepted by one. */
static int
profiles_refs(struct cfgctx *x, const struct config *c,
    const struct pinfo *pi)
{
	const struct party *p, *rd;
	size_t i, j;
	int r = 0;

	for (i = 0; i < c->nparties; i++) {
		p = &c->parties[i];
		if (p->kind != PARTY_PORTAL)
			continue;
		for (j = 0; j < p->nreaders; j++) {
			rd = config_party(c, p->readers[j]);
			if (rd == NULL || rd->kind != PARTY_AUTHORITY)
				STEP(x, r, cfg_problem(x, 1, pi[i].file, pi[i].readers_line,
				    "readers names \"%s\", which is not a "
				    "configured authority", p->readers[j]));
		}
		for (j = 0; j < p->nservices; j++)
			if (!service_known(c, p, p->services[j]))
				STEP(x, r, cfg_problem(x, 1, pi[i].file,
				    pi[i].services_line, "unknown service \"%s\": no "
				    "authority this portal may submit to accepts it",
				    p->services[j]));
	}
	return r;
}

static int
profiles_load(struct cfgctx *x, struct config *c)
{
	char **names = NULL, path[PATH_MAX];
	struct pinfo *pi = NULL;
	size_t n = 0, i;
	int r = 0, e;

	if ((e = profile_names(x, c, &names, &n)) != 0)
		return e;
	e = GW_ERR_NOMEM;
	if (n > 0 && ((c->parties = calloc(n, sizeof(*c->parties))) == NULL ||
	    (pi = calloc(n, sizeof(*pi))) == NULL))
		goto out;
	for (i = 0; i < n; i++) {
		if (resolve_path(c->profiles_dir, names[i], path, sizeof(path)) != 0)
			e = cfg_problem(x, 1, c->profiles_dir, 0, "the path of %s is "
			    "too long", names[i]);
		else {
			/* counted before loading: config_free frees a partial
			 * party */
			c->nparties++;
			e = profile_load(x, c, path, &c->parties[c->nparties - 1],
			    &pi[c->nparties - 1]);
		}
		if (cfg_stop(x, e))
			goto out;
		r = r != 0 ? r : e;
	}
	if (!cfg_stop(x, e = profiles_unique(x, c, pi))) {
		r = r != 0 ? r : e;
		e = profiles_refs(x, c, pi);
	}
 out:
	for (i = 0; pi != NULL && i < n; i++)
		free(pi[i].file);
	free(pi);
	strv_free(names, n);
	return cfg_stop(x, e) || r == 0 ? e : r;
}

static int
nomem(struct cfgctx *x, const char *path, int r)
{
	if (r == GW_ERR_NOMEM)
		cfg_problem(x, 1, path, 0, "out of memory while loading");
	return r;
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct cfgctx x;
	struct config *c = NULL;
	struct kvfile f;
	int r;

	memset(&x, 0, sizeof(x));
	x.err = err;
	x.errlen = errlen;
	x.now = time(NULL);
	memset(&f, 0, sizeof(f));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	if ((r = kv_read(&x, path, gateway_key_known, &f)) != 0)
		goto out;
	if ((r = gateway_apply(&x, c, &f)) != 0)
		goto out;
	if ((r = profiles_load(&x, c)) != 0)
		goto out;
	*out = c;
	c = NULL;
 out:
	nomem(&x, path, r);
	kv_free(&f);
	config_free(c);
	return r;
}

/* The whole configuration of the gateway file path, every problem. */
static int
check_gateway(struct cfgctx *x, struct config *c, const char *path)
{
	struct kvfile f;
	int r;

	if ((r = kv_read(x, path, gateway_key_known, &f)) == 0 &&
	    !cfg_stop(x, r = gateway_apply(x, c, &f)) && c->profiles_dir[0] != '\0')
		r = profiles_load(x, c);
	kv_free(&f);
	return r;
}

int
config_check(const char *path,
    void (*report)(void *arg, int is_error, const char *sentence), void *arg)
{
	struct cfgctx x;
	struct config *c;
	struct stat st;
	char gw[PATH_MAX];
	int r;

	memset(&x, 0, sizeof(x));
	x.report = report;
	x.arg = arg;
	x.all = 1;
	x.now = time(NULL);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return nomem(&x, path, GW_ERR_NOMEM);
	if (stat(path, &st) != 0)
		r = cfg_problem(&x, 1, path, 0, "cannot be read: %s", strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		r = check_gateway(&x, c, path);
	else if (resolve_path(path, "gateway.conf", gw, sizeof(gw)) != 0)
		r = cfg_problem(&x, 1, path, 0, "the path is too long");
	else if (access(gw, F_OK) == 0)
		r = check_gateway(&x, c, gw);
	else {
		/* a profiles directory alone: the gateway's defaults */
		gateway_defaults(c);
		if (realpath(path, gw) == NULL ||
		    util_strlcpy(c->profiles_dir, gw, sizeof(c->profiles_dir)) >=
		    sizeof(c->profiles_dir))
			r = cfg_problem(&x, 1, path, 0, "the path is too long");
		else {
			util_strlcpy(c->path, c->profiles_dir, sizeof(c->path));
			r = profiles_load(&x, c);
		}
	}
	config_free(c);
	if (r == GW_ERR_NOMEM)
		return nomem(&x, path, r);
	return x.nerrors > 0 ? GW_ERR_CONFIG : 0;
}

static void
party_clear(struct party *p)
{
	certv_free(p->enc_certs, p->nenc_certs);	/* enc_cert is one of them */
	X509_free(p->receipt_cert);
	certv_free(p->signer_cas, p->nsigner_cas);
	X509_STORE_free(p->signer_store);
	strv_free(p->services, p->nservices);
	strv_free(p->scenarios, p->nscenarios);
	strv_free(p->readers, p->nreaders);
	strv_free(p->signer_eku, p->nsigner_eku);
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nparties; i++)
		party_clear(&c->parties[i]);
	free(c->parties);
	free(c);
}

/* ---- lookups ---- */

const struct party *
config_party(const struct config *c, const char *id)
{
	size_t i;

	for (i = 0; c != NULL && id != NULL && i < c->nparties; i++)
		if (strcmp(c->parties[i].id, id) == 0)
			return &c->parties[i];
	return NULL;
}

const struct party *
config_party_by_fpr(const struct config *c, const char *fpr)
{
	size_t i;

	/* Fingerprints are not secret: a plain comparison is fine.  Case-
	 * insensitive so that an upper-case hex from another tool matches. */
	for (i = 0; c != NULL && fpr != NULL && i < c->nparties; i++)
		if (strcasecmp(c->parties[i].tls_fpr, fpr) == 0)
			return &c->parties[i];
	return NULL;
}

/* The rules of config_may_submit2(); scenarios only if check_scenario. */
static int
may_submit(const struct party *portal, const struct party *reader,
    const char *service, const char *scenario, int check_scenario)
{
	if (portal == NULL || reader == NULL || portal->kind != PARTY_PORTAL ||
	    reader->kind != PARTY_AUTHORITY)
		return 0;
	if (portal->nreaders > 0 &&
	    !strv_has(portal->readers, portal->nreaders, reader->id))
		return 0;
	if (portal->nservices > 0 &&
	    !strv_has(portal->services, portal->nservices, service))
		return 0;
	if (reader->nservices > 0 &&
	    !strv_has(reader->services, reader->nservices, service))
		return 0;
	if (check_scenario && reader->nscenarios > 0 &&
	    !strv_has(reader->scenarios, reader->nscenarios, scenario))
		return 0;
	return 1;
}

int
config_may_submit(const struct config *c, const struct party *portal,
    const struct party *reader, const char *service)
{
	(void)c;	/* the rules live in the two profiles */
	return may_submit(portal, reader, service, NULL, 0);
}

int
config_may_submit2(const struct config *c, const struct party *portal,
    const struct party *reader, const char *service, const char *scenario)
{
	(void)c;
	return may_submit(portal, reader, service, scenario, 1);
}

size_t
config_enc_certs_valid(const struct party *p, time_t now, X509 **out,
    size_t max)
{
	size_t i, n = 0;

	for (i = 0; p != NULL && i < p->nenc_certs && n < max; i++)
		if (cert_valid_at(p->enc_certs[i], now))
			out[n++] = p->enc_certs[i];
	return n;
}

int
config_signer_eku_ok(const struct party *portal, X509 *cert)
{
	EXTENDED_KEY_USAGE *eku;
	char dotted[128];
	int i, ok = 0, len;

	if (portal == NULL || portal->nsigner_eku == 0)
		return 1;
	if (cert == NULL || (eku = X509_get_ext_d2i(cert, NID_ext_key_usage,
	    NULL, NULL)) == NULL)
		return 0;
	for (i = 0; !ok && i < sk_ASN1_OBJECT_num(eku); i++) {
		len = OBJ_obj2txt(dotted, sizeof(dotted),
		    sk_ASN1_OBJECT_value(eku, i), 1);
		ok = len > 0 && (size_t)len < sizeof(dotted) &&
		    strv_has(portal->signer_eku, portal->nsigner_eku, dotted);
	}
	EXTENDED_KEY_USAGE_free(eku);
	return ok;
}
