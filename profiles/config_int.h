/*
 * config_int.h - what the parts of the configuration loader share, and
 * nobody else: config.c (the gateway file, the profiles, checks across
 * them, lookups), config_kv.c (the key = value files, value syntax and the
 * one-sentence problems), config_certs.c (the certificate rules) and
 * config_dev.c (the development set-up).
 */
#ifndef GW_CONFIG_INT_H
#define GW_CONFIG_INT_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

#include "config.h"

#define CONFIG_MAX_FILE		(1024 * 1024)	/* one gateway or profile file */
#define CONFIG_MAX_LINE		4096
#define CONFIG_MAX_PARTIES	4096
#define CONFIG_MAX_LIST		256		/* entries of services / readers */
#define CONFIG_MAX_ENC		8		/* encryption_cert files */
#define CONFIG_MAX_URI		1024
#define CONFIG_MAX_BODY		((unsigned long long)4 << 30)	/* 4G */
#define CONFIG_MAX_SUBMISSION	((unsigned long long)64 << 30)	/* 64G */
#define CONFIG_DEF_SUBMISSION	((unsigned long long)2 << 30)	/* 2G */
#define CONFIG_MIN_RSA_BITS	3000	/* BSI TR-02102 */
#define CONFIG_RSA_FLOOR	2048	/* with allow_rsa2048 = yes */
#define CONFIG_WARN_DAYS	30	/* "expires soon" */

/* Where problems go: the first error into err (load), every one to report
 * (check). */
struct cfgctx {
	char *err;
	size_t errlen;
	void (*report)(void *arg, int is_error, const char *sentence);
	void *arg;
	int all;		/* go on after an error (config_check) */
	int nerrors;
	time_t now;		/* the one time every validity is judged at */
};

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

/*
 * What a set of certificates named by one key promises.  CERTS_EVERY:
 * each must be inside its validity period (a single certificate, a TLS
 * chain).  CERTS_SOME: at least one must be (CA files, encryption
 * certificates during a rollover); the others are warnings if expired and
 * fine if not valid yet (the next key, announced in advance).
 */
enum certs_rule { CERTS_EVERY = 1, CERTS_SOME };

/* ---- config_kv.c ---- */

int
cfg_vproblem(struct cfgctx *x, int is_error, const char *file, int line,
    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

int
cfg_problem(struct cfgctx *x, int is_error, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void
cfgerr(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

int
cfg_stop(const struct cfgctx *x, int r);

char *
cfg_trim(char *s);

int
key_chars_ok(const char *k);

int
has_control(const char *s);

const struct kv *
kv_find(const struct kvfile *f, const char *key);

void
kv_free(struct kvfile *f);

int
kv_line(struct cfgctx *x, struct kvfile *f, char *s, int line,
    int (*known)(const char *));

int
kv_read(struct cfgctx *x, const char *path, int (*known)(const char *),
    struct kvfile *f);

int
resolve_path(const char *base, const char *value, char *out, size_t outlen);

int
parse_long(const char *s, long min, long max, long *out);

int
parse_size(const char *s, unsigned long long max, unsigned long long *out);

const char *
size_max_text(unsigned long long max);

int
size_value(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    unsigned long long max, unsigned long long *out);

int
yesno_value(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    int *out);

int
revocation_valid(const char *s);

int
listen_valid(const char *s);

/* ---- config_certs.c ---- */

void
time_text(time_t t, char *out, size_t outlen);

int
cert_period(X509 *cert, time_t *nb, time_t *na);

int
cert_valid_at(X509 *cert, time_t now);

void
cert_label(const char *path, X509 *cert, size_t i, size_t n, char *out,
    size_t outlen);

int
certs_validity(struct cfgctx *x, const char *file, int line, const char *key,
    X509 *const *v, char *const *labels, size_t n, enum certs_rule rule);

int
certs_read(struct cfgctx *x, const char *file, int line, const char *key,
    const char *path, X509 ***out, size_t *outn);

void
certv_free(X509 **v, size_t n);

int
certs_file(struct cfgctx *x, const char *file, int line, const char *key,
    const char *path, enum certs_rule rule, X509 ***out, size_t *outn);

int
enc_key_check(struct cfgctx *x, const char *file, int line, const char *path,
    X509 *cert, int allow2048);

X509 *
enc_latest(X509 *const *v, size_t n, time_t now);

#endif
