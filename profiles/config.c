/*
 * config.c - loads and checks the gateway file and the party profiles.
 *
 * Owns: struct config and everything hanging off it (parties, their lists
 * and encryption certificates).  See profiles/README.md for the format.
 *
 * Invariants: a configuration is checked whole before it is handed out:
 * every key is known, every number is in range, every certificate a profile
 * names was read, every reader a portal names is a configured authority, and
 * ids and TLS fingerprints are unique.  Anything else is an error with one
 * sentence naming the file, the line and the problem, because a gateway
 * that starts with a half-understood configuration is worse than one that
 * does not start.  After config_load() returns the struct is never written
 * again, so any thread may read it without locks.
 *
 * Threads: loading runs once, in the main thread at start-up (or in gwctl).
 *
 * The reading happens in two steps: kv_read() turns a file into (key, value,
 * line) triples, rejecting unknown and repeated keys; gateway_apply() and
 * profile_apply() then give the values their meaning.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlstring.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "err.h"
#include "pki.h"
#include "util.h"

#define CONFIG_MAX_FILE		(1024 * 1024)	/* one gateway or profile file */
#define CONFIG_MAX_LINE		4096
#define CONFIG_MAX_PARTIES	4096
#define CONFIG_MAX_LIST		256		/* entries of services / readers */
#define CONFIG_MAX_URI		1024
#define CONFIG_MAX_SIZE		((unsigned long long)4 << 30)	/* 4G */
#define CONFIG_MIN_RSA_BITS	2048

struct kv {
	const char *key;	/* points into kvfile.buf */
	const char *value;
	int line;
};

struct kvfile {
	char path[PATH_MAX];	/* absolute */
	char dir[PATH_MAX];	/* its directory: base of relative paths */
	char *buf;
	struct kv *kv;
	size_t n;
};

/* What the loader remembers about a party only while loading. */
struct pinfo {
	char *file;
	int id_line;
	int tls_line;
	int readers_line;
};

static void cfgerr(char *err, size_t errlen, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* One sentence: "FILE:LINE: problem." (or "FILE: problem." for line 0). */
static void
cfgerr(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s.", file, line, msg);
	else
		snprintf(err, errlen, "%s: %s.", file, msg);
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
key_chars_ok(const char *k)
{
	for (; *k != '\0'; k++)
		if (!islower((unsigned char)*k) && !isdigit((unsigned char)*k) &&
		    *k != '_')
			return 0;
	return 1;
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static const struct kv *
kv_find(const struct kvfile *f, const char *key)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->kv[i].key, key) == 0)
			return &f->kv[i];
	return NULL;
}

static void
kv_free(struct kvfile *f)
{
	free(f->buf);
	free(f->kv);
	f->buf = NULL;
	f->kv = NULL;
	f->n = 0;
}

/* One line of a file; s is modified in place and must stay alive. */
static int
kv_line(struct kvfile *f, char *s, int line, int (*known)(const char *),
    char *err, size_t errlen)
{
	const struct kv *prev;
	char *eq, *key, *value;

	if (strlen(s) > CONFIG_MAX_LINE) {
		cfgerr(err, errlen, f->path, line, "the line is longer than %d bytes",
		    CONFIG_MAX_LINE);
		return GW_ERR_CONFIG;
	}
	s = trim(s);
	if (*s == '\0' || *s == '#')
		return 0;
	if ((eq = strchr(s, '=')) == NULL) {
		cfgerr(err, errlen, f->path, line, "expected \"key = value\"");
		return GW_ERR_CONFIG;
	}
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (*key == '\0') {
		cfgerr(err, errlen, f->path, line, "there is no key before \"=\"");
		return GW_ERR_CONFIG;
	}
	if (!key_chars_ok(key) || strlen(key) > 32 || !known(key)) {
		cfgerr(err, errlen, f->path, line, "unknown key \"%.40s\"%s",
		    has_control(key) ? "?" : key, strlen(key) > 40 ? "..." : "");
		return GW_ERR_CONFIG;
	}
	if ((prev = kv_find(f, key)) != NULL) {
		cfgerr(err, errlen, f->path, line,
		    "\"%s\" is set twice (first on line %d)", key, prev->line);
		return GW_ERR_CONFIG;
	}
	if (*value == '\0') {
		cfgerr(err, errlen, f->path, line, "\"%s\" has no value "
		    "(leave the line out to get the default)", key);
		return GW_ERR_CONFIG;
	}
	if (has_control(value) || xmlCheckUTF8((const xmlChar *)value) == 0) {
		cfgerr(err, errlen, f->path, line,
		    "the value of \"%s\" contains control characters or is not UTF-8",
		    key);
		return GW_ERR_CONFIG;
	}
	f->kv[f->n].key = key;
	f->kv[f->n].value = value;
	f->kv[f->n].line = line;
	f->n++;
	return 0;
}

/*
 * Reads path into f as (key, value, line) triples: "key = value" lines,
 * blank lines and lines starting with '#'.  Keys that known() does not
 * accept and keys set twice are errors.  Free f with kv_free() either way.
 */
static int
kv_read(const char *path, int (*known)(const char *), struct kvfile *f,
    char *err, size_t errlen)
{
	char *s, *next, *nl, *slash;
	unsigned char *buf;
	size_t len, i, lines = 1;
	int r, line;

	memset(f, 0, sizeof(*f));
	if (realpath(path, f->path) == NULL) {
		cfgerr(err, errlen, path, 0, "cannot open the file: %s",
		    strerror(errno));
		return GW_ERR_CONFIG;
	}
	util_strlcpy(f->dir, f->path, sizeof(f->dir));
	slash = strrchr(f->dir, '/');	/* realpath: always absolute */
	slash[slash == f->dir ? 1 : 0] = '\0';
	r = util_read_file(f->path, CONFIG_MAX_FILE, &buf, &len);
	if (r == GW_ERR_TOO_LARGE) {
		cfgerr(err, errlen, f->path, 0, "the file is larger than %d bytes",
		    CONFIG_MAX_FILE);
		return GW_ERR_CONFIG;
	} else if (r != 0) {
		cfgerr(err, errlen, f->path, 0, "cannot read the file: %s",
		    strerror(errno));
		return r == GW_ERR_NOMEM ? r : GW_ERR_CONFIG;
	}
	f->buf = (char *)buf;
	if (memchr(f->buf, '\0', len) != NULL) {
		cfgerr(err, errlen, f->path, 0, "the file contains a NUL byte");
		return GW_ERR_CONFIG;
	}
	for (i = 0; i < len; i++)
		lines += f->buf[i] == '\n';
	if ((f->kv = calloc(lines, sizeof(*f->kv))) == NULL)
		return GW_ERR_NOMEM;
	for (line = 1, s = f->buf; *s != '\0'; line++, s = next) {
		if ((nl = strchr(s, '\n')) != NULL) {
			*nl = '\0';
			next = nl + 1;
		} else
			next = s + strlen(s);
		if ((r = kv_line(f, s, line, known, err, errlen)) != 0)
			return r;
	}
	return 0;
}

/* value relative to base unless absolute; into out (size outlen). */
static int
resolve_path(const char *base, const char *value, char *out, size_t outlen)
{
	int n;

	if (value[0] == '/')
		n = snprintf(out, outlen, "%s", value);
	else
		n = snprintf(out, outlen, "%s/%s", base, value);
	return n < 0 || (size_t)n >= outlen ? GW_ERR_TOO_LARGE : 0;
}

/* Decimal integer in [min, max], digits only (and a leading '-'). */
static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]) &&
	    !(s[0] == '-' && isdigit((unsigned char)s[1])))
		return GW_ERR_INVALID;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return GW_ERR_INVALID;
	*out = v;
	return 0;
}

/* Bytes with an optional suffix k, M or G (powers of 1024), in [1, max]. */
static int
parse_size(const char *s, unsigned long long max, size_t *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!isdigit((unsigned char)s[0]))	/* strtoull would take "-1" */
		return GW_ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return GW_ERR_INVALID;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1ULL << 10;
		end++;
		break;
	case 'm': case 'M':
		mul = 1ULL << 20;
		end++;
		break;
	case 'g': case 'G':
		mul = 1ULL << 30;
		end++;
		break;
	default:
		return GW_ERR_INVALID;
	}
	if (*end != '\0' || v == 0 || v > max / mul || v * mul > SIZE_MAX)
		return GW_ERR_INVALID;
	*out = (size_t)(v * mul);
	return 0;
}

/* host:port with a numeric port 1-65535; an IPv6 host in brackets. */
static int
listen_valid(const char *s)
{
	const char *p, *port, *h;
	long v;

	if (strlen(s) >= sizeof(((struct config *)NULL)->listen))
		return 0;
	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL || p == s + 1 || p[1] != ':')
			return 0;
		for (h = s + 1; h < p; h++)
			if (!isxdigit((unsigned char)*h) && *h != ':' && *h != '.')
				return 0;
		port = p + 2;
	} else {
		if ((p = strrchr(s, ':')) == NULL || p == s)
			return 0;
		for (h = s; h < p; h++)
			if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-')
				return 0;
		port = p + 1;
	}
	if (!isdigit((unsigned char)port[0]))
		return 0;
	return parse_long(port, 1, 65535, &v) == 0;
}

/* ---- the gateway file ---- */

enum gwkey_type { K_LISTEN, K_FILE, K_DIR, K_PATH, K_INT, K_SIZE, K_REVOCATION };

static const struct gwkey {
	const char *name;
	enum gwkey_type type;
	size_t off;
	long min, max;
	int required;
} gateway_keys[] = {
	{ "listen", K_LISTEN, offsetof(struct config, listen), 0, 0, 0 },
	{ "tls_cert", K_FILE, offsetof(struct config, tls_cert), 0, 0, 1 },
	{ "tls_key", K_FILE, offsetof(struct config, tls_key), 0, 0, 1 },
	{ "client_ca", K_FILE, offsetof(struct config, client_ca), 0, 0, 1 },
	{ "trust_ca", K_FILE, offsetof(struct config, trust_ca), 0, 0, 1 },
	{ "sign_cert", K_FILE, offsetof(struct config, sign_cert), 0, 0, 1 },
	{ "sign_key", K_FILE, offsetof(struct config, sign_key), 0, 0, 1 },
	{ "database", K_PATH, offsetof(struct config, database), 0, 0, 1 },
	{ "profiles_dir", K_DIR, offsetof(struct config, profiles_dir), 0, 0, 1 },
	{ "threads", K_INT, offsetof(struct config, threads), 0, 1024, 0 },
	{ "io_threads", K_INT, offsetof(struct config, io_threads), 0, 64, 0 },
	{ "max_body", K_SIZE, offsetof(struct config, max_body), 0, 0, 0 },
	{ "max_pending", K_INT, offsetof(struct config, max_pending), 1, 1000000, 0 },
	{ "revocation", K_REVOCATION, offsetof(struct config, revocation), 0, 0, 0 },
	{ "crl", K_FILE, offsetof(struct config, crl_file), 0, 0, 0 },
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

/* One key of the gateway file into its field of c. */
static int
gateway_value(struct config *c, const struct kvfile *f, const struct gwkey *k,
    const struct kv *kv, char *err, size_t errlen)
{
	char *field = (char *)c + k->off;
	struct stat st;
	long v;

	switch (k->type) {
	case K_LISTEN:
		if (!listen_valid(kv->value)) {
			cfgerr(err, errlen, f->path, kv->line, "listen must be "
			    "host:port (IPv6 as [addr]:port), not \"%.80s\"",
			    kv->value);
			return GW_ERR_CONFIG;
		}
		util_strlcpy(field, kv->value, sizeof(c->listen));
		return 0;
	case K_FILE:
	case K_DIR:
	case K_PATH:
		if (resolve_path(f->dir, kv->value, field, sizeof(c->tls_cert)) != 0) {
			cfgerr(err, errlen, f->path, kv->line,
			    "the path of \"%s\" is longer than %zu bytes", k->name,
			    sizeof(c->tls_cert) - 1);
			return GW_ERR_CONFIG;
		}
		if (k->type == K_FILE && access(field, R_OK) != 0) {
			cfgerr(err, errlen, f->path, kv->line,
			    "%s names %s, which cannot be read: %s", k->name, field,
			    strerror(errno));
			return GW_ERR_CONFIG;
		}
		if (k->type == K_DIR && (stat(field, &st) != 0 || !S_ISDIR(st.st_mode))) {
			cfgerr(err, errlen, f->path, kv->line,
			    "%s names %s, which is not a directory", k->name, field);
			return GW_ERR_CONFIG;
		}
		return 0;
	case K_INT:
		if (parse_long(kv->value, k->min, k->max, &v) != 0) {
			cfgerr(err, errlen, f->path, kv->line,
			    "%s must be a whole number from %ld to %ld, not \"%s\"",
			    k->name, k->min, k->max, kv->value);
			return GW_ERR_CONFIG;
		}
		*(int *)(void *)field = (int)v;
		return 0;
	case K_SIZE:
		if (parse_size(kv->value, CONFIG_MAX_SIZE,
		    (size_t *)(void *)field) != 0) {
			cfgerr(err, errlen, f->path, kv->line, "%s must be a size "
			    "in bytes from 1 to 4G (suffixes k, M, G), not \"%s\"",
			    k->name, kv->value);
			return GW_ERR_CONFIG;
		}
		return 0;
	case K_REVOCATION:
		if (strcmp(kv->value, "require") != 0 &&
		    strcmp(kv->value, "prefer") != 0 && strcmp(kv->value, "off") != 0) {
			cfgerr(err, errlen, f->path, kv->line, "revocation must be "
			    "require, prefer or off, not \"%.40s\"", kv->value);
			return GW_ERR_CONFIG;
		}
		util_strlcpy(field, kv->value, sizeof(c->revocation));
		return 0;
	}
	return GW_ERR_INTERNAL;	/* a type without a case: a bug here */
}

static int
gateway_apply(struct config *c, const struct kvfile *f, char *err, size_t errlen)
{
	const struct kv *kv;
	size_t i;
	int r;

	if (util_strlcpy(c->path, f->path, sizeof(c->path)) >= sizeof(c->path)) {
		cfgerr(err, errlen, f->path, 0, "the path is too long");
		return GW_ERR_CONFIG;
	}
	util_strlcpy(c->listen, "127.0.0.1:8443", sizeof(c->listen));
	c->threads = 0;
	c->io_threads = 1;
	c->max_body = 16 * 1024 * 1024;
	c->max_pending = 256;
	util_strlcpy(c->revocation, "prefer", sizeof(c->revocation));
	c->crl_file[0] = '\0';
	for (i = 0; i < NGATEWAY_KEYS; i++) {
		if ((kv = kv_find(f, gateway_keys[i].name)) == NULL) {
			if (gateway_keys[i].required) {
				cfgerr(err, errlen, f->path, 0,
				    "the required key \"%s\" is missing",
				    gateway_keys[i].name);
				return GW_ERR_CONFIG;
			}
			continue;
		}
		if ((r = gateway_value(c, f, &gateway_keys[i], kv, err, errlen)) != 0)
			return r;
	}
	return 0;
}

/* ---- profiles ---- */

static const char *const profile_keys[] = {
	"id", "kind", "name", "tls_cert", "delivery", "encryption_cert",
	"services", "max_size", "readers", "endpoint", "endpoint_ca",
	"receipt_cert", "max_attempts", "max_age", "retry_base", "retry_max",
	"retention"
};
/* Keys only an authority profile may have; "readers" is portal-only. */
static const char *const authority_only[] = {
	"delivery", "encryption_cert", "services", "max_size", "endpoint",
	"endpoint_ca", "receipt_cert", "max_attempts", "max_age", "retry_base",
	"retry_max", "retention"
};

static int
profile_key_known(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(profile_keys) / sizeof(profile_keys[0]); i++)
		if (strcmp(profile_keys[i], key) == 0)
			return 1;
	return 0;
}

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

/*
 * A comma-separated list; entries are trimmed and must be non-empty, free
 * of white space and at most CONFIG_MAX_URI bytes; ids must be party ids.
 */
static int
parse_list(const struct kvfile *f, const struct kv *kv, int ids,
    char ***out, size_t *outn, char *err, size_t errlen)
{
	char *copy = NULL, *s, *comma, *item, **v = NULL;
	size_t n = 0;
	int r = GW_ERR_NOMEM;

	if ((copy = strdup(kv->value)) == NULL ||
	    (v = calloc(CONFIG_MAX_LIST, sizeof(*v))) == NULL)
		goto out;
	for (s = copy; s != NULL; s = comma) {
		if ((comma = strchr(s, ',')) != NULL)
			*comma++ = '\0';
		item = trim(s);
		r = GW_ERR_CONFIG;
		if (*item == '\0') {
			cfgerr(err, errlen, f->path, kv->line,
			    "%s has an empty entry", kv->key);
			goto out;
		}
		if (n == CONFIG_MAX_LIST) {
			cfgerr(err, errlen, f->path, kv->line,
			    "%s has more than %d entries", kv->key, CONFIG_MAX_LIST);
			goto out;
		}
		if (strlen(item) > CONFIG_MAX_URI || strpbrk(item, " \t") != NULL ||
		    (ids && !party_id_valid(item))) {
			cfgerr(err, errlen, f->path, kv->line, "%s: \"%.80s\" is not "
			    "a valid %s", kv->key, item, ids ? "party id" : "URI");
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

static void
asn1_time_text(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		util_strlcpy(out, "an unreadable date", outlen);
}

/*
 * The encryption certificate of an authority: RSA of at least 2048 bits,
 * keyEncipherment if keyUsage is present, inside its validity period.
 */
static int
enc_cert_load(const struct kvfile *f, const struct kv *kv, X509 **out,
    char *err, size_t errlen)
{
	char path[PATH_MAX], when[64];
	X509 *cert = NULL;
	EVP_PKEY *pub;
	int r = GW_ERR_CONFIG;

	if (resolve_path(f->dir, kv->value, path, sizeof(path)) != 0) {
		cfgerr(err, errlen, f->path, kv->line, "the path is too long");
		return GW_ERR_CONFIG;
	}
	if (pki_read_cert(path, &cert) != 0) {
		cfgerr(err, errlen, f->path, kv->line, "encryption_cert: cannot read "
		    "a PEM certificate from %s", path);
		goto out;
	}
	pub = X509_get0_pubkey(cert);
	if (pub == NULL || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		cfgerr(err, errlen, f->path, kv->line, "encryption_cert %s has no "
		    "RSA key (content is encrypted with RSA-OAEP)", path);
		goto out;
	}
	if (EVP_PKEY_get_bits(pub) < CONFIG_MIN_RSA_BITS) {
		cfgerr(err, errlen, f->path, kv->line, "encryption_cert %s has a "
		    "%d-bit RSA key, below the minimum of %d bits", path,
		    EVP_PKEY_get_bits(pub), CONFIG_MIN_RSA_BITS);
		goto out;
	}
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(cert) & KU_KEY_ENCIPHERMENT)) {
		cfgerr(err, errlen, f->path, kv->line, "encryption_cert %s does not "
		    "allow keyEncipherment in its keyUsage", path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		asn1_time_text(X509_get0_notAfter(cert), when, sizeof(when));
		cfgerr(err, errlen, f->path, kv->line, "encryption_cert %s expired "
		    "on %s", path, when);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		asn1_time_text(X509_get0_notBefore(cert), when, sizeof(when));
		cfgerr(err, errlen, f->path, kv->line, "encryption_cert %s is not "
		    "valid before %s", path, when);
		goto out;
	}
	*out = cert;
	cert = NULL;
	r = 0;
 out:
	X509_free(cert);
	return r;
}

static int
tls_fpr_load(const struct kvfile *f, const struct kv *kv, struct party *p,
    char *err, size_t errlen)
{
	char path[PATH_MAX];
	X509 *cert = NULL;
	int r;

	if (resolve_path(f->dir, kv->value, path, sizeof(path)) != 0) {
		cfgerr(err, errlen, f->path, kv->line, "the path is too long");
		return GW_ERR_CONFIG;
	}
	if (pki_read_cert(path, &cert) != 0) {
		cfgerr(err, errlen, f->path, kv->line,
		    "tls_cert: cannot read a PEM certificate from %s", path);
		return GW_ERR_CONFIG;
	}
	if ((r = pki_cert_fingerprint(cert, p->tls_fpr)) != 0)
		cfgerr(err, errlen, f->path, kv->line,
		    "tls_cert: cannot fingerprint %s", path);
	X509_free(cert);
	return r;
}

/* A number key of an authority profile, in [min, max], or def when absent. */
static int
push_long(const struct kvfile *f, const char *key, long min, long max,
    long def, long *out, char *err, size_t errlen)
{
	const struct kv *kv = kv_find(f, key);

	*out = def;
	if (kv && parse_long(kv->value, min, max, out) != 0) {
		cfgerr(err, errlen, f->path, kv->line, "%s must be a whole number "
		    "from %ld to %ld, not \"%.40s\"", key, min, max, kv->value);
		return GW_ERR_CONFIG;
	}
	return 0;
}

/*
 * Push settings: endpoint (https only), endpoint_ca (trust for its TLS),
 * receipt_cert (whose signature its receipts must carry) and the retry
 * policy.  Required for delivery = push, refused for pull.
 */
static int
push_apply(const struct kvfile *f, struct party *p, char *err, size_t errlen)
{
	static const char *const keys[] = { "endpoint", "endpoint_ca",
	    "receipt_cert" };
	const struct kv *kv;
	char path[PATH_MAX];
	long v;
	size_t i;
	int push = strcmp(p->delivery, "push") == 0;

	for (i = 0; i < 3; i++) {
		kv = kv_find(f, keys[i]);
		if (push && kv == NULL) {
			cfgerr(err, errlen, f->path, 0, "delivery = push needs %s",
			    keys[i]);
			return GW_ERR_CONFIG;
		}
		if (!push && kv != NULL) {
			cfgerr(err, errlen, f->path, kv->line, "%s is only for "
			    "delivery = push", keys[i]);
			return GW_ERR_CONFIG;
		}
	}
	if (!push)
		return 0;
	kv = kv_find(f, "endpoint");
	if (strncmp(kv->value, "https://", 8) != 0 ||
	    util_strlcpy(p->endpoint, kv->value, sizeof(p->endpoint)) >=
	    sizeof(p->endpoint)) {
		cfgerr(err, errlen, f->path, kv->line, "endpoint must be an https:// "
		    "URL of at most %zu characters", sizeof(p->endpoint) - 1);
		return GW_ERR_CONFIG;
	}
	kv = kv_find(f, "endpoint_ca");
	if (resolve_path(f->dir, kv->value, p->endpoint_ca,
	    sizeof(p->endpoint_ca)) != 0 || access(p->endpoint_ca, R_OK) != 0) {
		cfgerr(err, errlen, f->path, kv->line, "endpoint_ca: cannot read %s",
		    kv->value);
		return GW_ERR_CONFIG;
	}
	kv = kv_find(f, "receipt_cert");
	if (resolve_path(f->dir, kv->value, path, sizeof(path)) != 0 ||
	    pki_read_cert(path, &p->receipt_cert) != 0) {
		cfgerr(err, errlen, f->path, kv->line, "receipt_cert: cannot read a "
		    "PEM certificate from %s", kv->value);
		return GW_ERR_CONFIG;
	}
	if (push_long(f, "max_attempts", 1, 1000, 12, &v, err, errlen) != 0)
		return GW_ERR_CONFIG;
	p->max_attempts = (int)v;
	if (push_long(f, "max_age", 1, 365L * 86400, 7L * 86400, &p->max_age, err,
	    errlen) != 0 ||
	    push_long(f, "retry_base", 10, 3600000, 2000, &p->retry_base_ms, err,
	    errlen) != 0 ||
	    push_long(f, "retry_max", 10, 86400000, 600000, &p->retry_max_ms, err,
	    errlen) != 0)
		return GW_ERR_CONFIG;
	return 0;
}

static int
authority_apply(const struct config *c, const struct kvfile *f,
    struct party *p, char *err, size_t errlen)
{
	const struct kv *kv;
	long v;
	int r;

	util_strlcpy(p->delivery, "pull", sizeof(p->delivery));
	if ((kv = kv_find(f, "delivery")) != NULL) {
		if (strcmp(kv->value, "pull") != 0 && strcmp(kv->value, "push") != 0) {
			cfgerr(err, errlen, f->path, kv->line,
			    "delivery must be pull or push, not \"%s\"", kv->value);
			return GW_ERR_CONFIG;
		}
		util_strlcpy(p->delivery, kv->value, sizeof(p->delivery));
	}
	if ((r = push_apply(f, p, err, errlen)) != 0)
		return r;
	if ((kv = kv_find(f, "encryption_cert")) == NULL) {
		cfgerr(err, errlen, f->path, 0, "an authority profile needs "
		    "encryption_cert");
		return GW_ERR_CONFIG;
	}
	if ((r = enc_cert_load(f, kv, &p->enc_cert, err, errlen)) != 0)
		return r;
	if ((kv = kv_find(f, "services")) != NULL &&
	    (r = parse_list(f, kv, 0, &p->services, &p->nservices, err, errlen)) != 0)
		return r;
	p->max_size = c->max_body;
	if ((kv = kv_find(f, "max_size")) != NULL &&
	    parse_size(kv->value, CONFIG_MAX_SIZE, &p->max_size) != 0) {
		cfgerr(err, errlen, f->path, kv->line, "max_size must be a size in "
		    "bytes from 1 to 4G (suffixes k, M, G), not \"%s\"", kv->value);
		return GW_ERR_CONFIG;
	}
	/* Days a delivered message body is kept (gateway/store_log.c). */
	if (push_long(f, "retention", 0, 36500, 365, &v, err, errlen) != 0)
		return GW_ERR_CONFIG;
	p->retention_days = (int)v;
	return 0;
}

/* The keys common to both kinds, then the kind's own. */
static int
profile_apply(const struct config *c, const struct kvfile *f, struct party *p,
    struct pinfo *pi, char *err, size_t errlen)
{
	const struct kv *kv;
	size_t i;

	if ((kv = kv_find(f, "id")) == NULL) {
		cfgerr(err, errlen, f->path, 0, "the required key \"id\" is missing");
		return GW_ERR_CONFIG;
	}
	if (!party_id_valid(kv->value)) {
		cfgerr(err, errlen, f->path, kv->line, "id must be 1-63 characters "
		    "of A-Z a-z 0-9 . _ : -, not \"%.80s\"", kv->value);
		return GW_ERR_CONFIG;
	}
	util_strlcpy(p->id, kv->value, sizeof(p->id));
	pi->id_line = kv->line;
	if ((kv = kv_find(f, "kind")) == NULL) {
		cfgerr(err, errlen, f->path, 0, "the required key \"kind\" is missing");
		return GW_ERR_CONFIG;
	}
	if (strcmp(kv->value, "portal") == 0)
		p->kind = PARTY_PORTAL;
	else if (strcmp(kv->value, "authority") == 0)
		p->kind = PARTY_AUTHORITY;
	else {
		cfgerr(err, errlen, f->path, kv->line,
		    "kind must be portal or authority, not \"%.80s\"", kv->value);
		return GW_ERR_CONFIG;
	}
	util_strlcpy(p->name, p->id, sizeof(p->name));
	if ((kv = kv_find(f, "name")) != NULL &&
	    util_strlcpy(p->name, kv->value, sizeof(p->name)) >= sizeof(p->name)) {
		cfgerr(err, errlen, f->path, kv->line, "name is longer than %zu "
		    "bytes", sizeof(p->name) - 1);
		return GW_ERR_CONFIG;
	}
	if ((kv = kv_find(f, "tls_cert")) == NULL) {
		cfgerr(err, errlen, f->path, 0,
		    "the required key \"tls_cert\" is missing");
		return GW_ERR_CONFIG;
	}
	if (tls_fpr_load(f, kv, p, err, errlen) != 0)
		return GW_ERR_CONFIG;
	pi->tls_line = kv->line;
	if (p->kind == PARTY_AUTHORITY) {
		if ((kv = kv_find(f, "readers")) != NULL) {
			cfgerr(err, errlen, f->path, kv->line,
			    "readers is only valid in a portal profile");
			return GW_ERR_CONFIG;
		}
		return authority_apply(c, f, p, err, errlen);
	}
	for (i = 0; i < sizeof(authority_only) / sizeof(authority_only[0]); i++)
		if ((kv = kv_find(f, authority_only[i])) != NULL) {
			cfgerr(err, errlen, f->path, kv->line,
			    "%s is only valid in an authority profile", kv->key);
			return GW_ERR_CONFIG;
		}
	if ((kv = kv_find(f, "readers")) == NULL)
		return 0;
	pi->readers_line = kv->line;
	return parse_list(f, kv, 1, &p->readers, &p->nreaders, err, errlen);
}

/* Loads one profile into p; p's fields are freed by config_free either way. */
static int
profile_load(const struct config *c, const char *path, struct party *p,
    struct pinfo *pi, char *err, size_t errlen)
{
	struct kvfile f;
	int r;

	r = kv_read(path, profile_key_known, &f, err, errlen);
	if (r == 0 && (pi->file = strdup(f.path)) == NULL)
		r = GW_ERR_NOMEM;
	if (r == 0)
		r = profile_apply(c, &f, p, pi, err, errlen);
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
profile_names(const struct config *c, char ***out, size_t *outn,
    char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, len;
	int r = GW_ERR_NOMEM;

	if ((d = opendir(c->profiles_dir)) == NULL) {
		cfgerr(err, errlen, c->path, 0, "profiles_dir %s cannot be opened: %s",
		    c->profiles_dir, strerror(errno));
		return GW_ERR_CONFIG;
	}
	if ((v = calloc(CONFIG_MAX_PARTIES, sizeof(*v))) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (n == CONFIG_MAX_PARTIES) {
			cfgerr(err, errlen, c->path, 0, "profiles_dir %s holds more "
			    "than %d profiles", c->profiles_dir, CONFIG_MAX_PARTIES);
			r = GW_ERR_CONFIG;
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

/* Across profiles: unique ids and fingerprints, readers are authorities. */
static int
profiles_check(const struct config *c, const struct pinfo *pi,
    char *err, size_t errlen)
{
	const struct party *p, *q, *rd;
	size_t i, j;

	for (i = 0; i < c->nparties; i++) {
		p = &c->parties[i];
		for (j = 0; j < i; j++) {
			q = &c->parties[j];
			if (strcmp(p->id, q->id) == 0) {
				cfgerr(err, errlen, pi[i].file, pi[i].id_line,
				    "the id \"%s\" is already used by %s", p->id,
				    pi[j].file);
				return GW_ERR_CONFIG;
			}
			if (strcmp(p->tls_fpr, q->tls_fpr) == 0) {
				cfgerr(err, errlen, pi[i].file, pi[i].tls_line,
				    "tls_cert is the same certificate as that of "
				    "\"%s\" (%s); each party needs its own", q->id,
				    pi[j].file);
				return GW_ERR_CONFIG;
			}
		}
	}
	for (i = 0; i < c->nparties; i++) {
		p = &c->parties[i];
		for (j = 0; j < p->nreaders; j++) {
			rd = config_party(c, p->readers[j]);
			if (rd == NULL || rd->kind != PARTY_AUTHORITY) {
				cfgerr(err, errlen, pi[i].file, pi[i].readers_line,
				    "readers names \"%s\", which is not a configured "
				    "authority", p->readers[j]);
				return GW_ERR_CONFIG;
			}
		}
	}
	return 0;
}

static int
profiles_load(struct config *c, char *err, size_t errlen)
{
	char **names = NULL, path[PATH_MAX];
	struct pinfo *pi = NULL;
	size_t n = 0, i;
	int r;

	if ((r = profile_names(c, &names, &n, err, errlen)) != 0)
		return r;
	r = GW_ERR_NOMEM;
	if (n > 0 && ((c->parties = calloc(n, sizeof(*c->parties))) == NULL ||
	    (pi = calloc(n, sizeof(*pi))) == NULL))
		goto out;
	for (i = 0; i < n; i++) {
		if (resolve_path(c->profiles_dir, names[i], path, sizeof(path)) != 0) {
			cfgerr(err, errlen, c->profiles_dir, 0, "the path of %s is "
			    "too long", names[i]);
			r = GW_ERR_CONFIG;
			goto out;
		}
		/* counted before loading: config_free frees a partial party */
		c->nparties++;
		r = profile_load(c, path, &c->parties[i], &pi[i], err, errlen);
		if (r != 0)
			goto out;
	}
	r = profiles_check(c, pi, err, errlen);
 out:
	for (i = 0; pi != NULL && i < n; i++)
		free(pi[i].file);
	free(pi);
	strv_free(names, n);
	return r;
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct config *c = NULL;
	struct kvfile f;
	int r;

	memset(&f, 0, sizeof(f));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	if ((r = kv_read(path, gateway_key_known, &f, err, errlen)) != 0)
		goto out;
	if ((r = gateway_apply(c, &f, err, errlen)) != 0)
		goto out;
	if ((r = profiles_load(c, err, errlen)) != 0)
		goto out;
	*out = c;
	c = NULL;
 out:
	if (r == GW_ERR_NOMEM)
		cfgerr(err, errlen, path, 0, "out of memory while loading");
	kv_free(&f);
	config_free(c);
	return r;
}

static void
party_clear(struct party *p)
{
	X509_free(p->enc_cert);
	X509_free(p->receipt_cert);
	strv_free(p->services, p->nservices);
	strv_free(p->readers, p->nreaders);
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

/* ---- development set-up ---- */

static const char dev_gateway[] =
    "# gatewayd development configuration, written by gatewayd --dev.\n"
    "# Relative paths are taken relative to this file's directory.\n"
    "listen = 127.0.0.1:8443\n"
    "tls_cert = gateway.pem\n"
    "tls_key = gateway.key\n"
    "client_ca = ca.pem\n"
    "trust_ca = ca.pem\n"
    "sign_cert = gateway.pem\n"
    "sign_key = gateway.key\n"
    "database = gateway.db\n"
    "profiles_dir = profiles\n"
    "threads = 0\n"
    "io_threads = 1\n"
    "max_body = 16M\n"
    "max_pending = 256\n";

static const char dev_portal[] =
    "# Development portal, written by gatewayd --dev.\n"
    "id = portal-1\n"
    "kind = portal\n"
    "name = Development portal 1\n"
    "tls_cert = ../portal-1.pem\n"
    "# readers = authority-a, authority-b   (left out: any authority)\n";

#define DEV_AUTHORITY(id, name)						\
    "# Development authority, written by gatewayd --dev.\n"		\
    "id = " id "\n"							\
    "kind = authority\n"						\
    "name = " name "\n"							\
    "tls_cert = ../" id ".pem\n"					\
    "delivery = pull\n"							\
    "encryption_cert = ../" id ".pem\n"					\
    "# services = urn:gatewayd:service:example   (left out: any service)\n" \
    "max_size = 16M\n"							\
    "# retention = 365   (days a delivered message body is kept)\n"

static int
write_if_missing(const char *dir, const char *name, const char *text,
    char *err, size_t errlen)
{
	char path[PATH_MAX];
	int r;

	if (resolve_path(dir, name, path, sizeof(path)) != 0) {
		cfgerr(err, errlen, dir, 0, "the path is too long");
		return GW_ERR_CONFIG;
	}
	if (access(path, F_OK) == 0)
		return 0;
	if ((r = util_write_file(path, text, strlen(text), 0644)) != 0)
		cfgerr(err, errlen, path, 0, "cannot write the file: %s",
		    gw_strerror(r));
	return r;
}

int
config_dev(const char *dir, const char *listen, struct config **out,
    char *err, size_t errlen)
{
	static const struct { const char *name, *text; } files[] = {
		{ "gateway.conf", dev_gateway },
		{ "profiles/portal-1.conf", dev_portal },
		{ "profiles/authority-a.conf",
		    DEV_AUTHORITY("authority-a", "Development authority A") },
		{ "profiles/authority-b.conf",
		    DEV_AUTHORITY("authority-b", "Development authority B") },
	};
	struct config *c = NULL;
	char path[PATH_MAX];
	size_t i;
	int r;

	if (listen != NULL && !listen_valid(listen)) {
		cfgerr(err, errlen, dir, 0, "the listen address must be host:port "
		    "(IPv6 as [addr]:port), not \"%.80s\"", listen);
		return GW_ERR_CONFIG;
	}
	if ((r = pki_init(dir, PKI_KEY_EC_P256, PKI_KEY_RSA3072)) != 0) {
		cfgerr(err, errlen, dir, 0, "cannot create the development PKI: %s",
		    gw_strerror(r));
		return r;
	}
	if (resolve_path(dir, "profiles", path, sizeof(path)) != 0) {
		cfgerr(err, errlen, dir, 0, "the path is too long");
		return GW_ERR_CONFIG;
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		cfgerr(err, errlen, path, 0, "cannot create the directory: %s",
		    strerror(errno));
		return GW_ERR_IO;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if ((r = write_if_missing(dir, files[i].name, files[i].text,
		    err, errlen)) != 0)
			return r;
	resolve_path(dir, "gateway.conf", path, sizeof(path));	/* fits: above */
	if ((r = config_load(path, &c, err, errlen)) != 0)
		return r;
	if (listen != NULL)
		util_strlcpy(c->listen, listen, sizeof(c->listen));
	*out = c;
	return 0;
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

int
config_may_submit(const struct config *c, const struct party *portal,
    const struct party *reader, const char *service)
{
	(void)c;	/* the rules live in the two profiles */
	if (portal == NULL || reader == NULL || portal->kind != PARTY_PORTAL ||
	    reader->kind != PARTY_AUTHORITY)
		return 0;
	if (portal->nreaders > 0 &&
	    !strv_has(portal->readers, portal->nreaders, reader->id))
		return 0;
	if (reader->nservices > 0 &&
	    !strv_has(reader->services, reader->nservices, service))
		return 0;
	return 1;
}
