/*
 * config_kv.c - the configuration's files as key = value lines, the syntax
 * of values (paths, numbers, sizes, yes/no, listen addresses), and the
 * problems: one sentence each, naming file and line (config_int.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/*
 * One sentence: "FILE:LINE: problem." (or "FILE: problem." for line 0), an
 * error (is_error) or a warning.  Returns GW_ERR_CONFIG for an error, 0 for
 * a warning, so that rules can end with "return cfg_problem(...)".
 */
int
cfg_vproblem(struct cfgctx *x, int is_error, const char *file, int line,
    const char *fmt, va_list ap)
{
	char msg[1024], s[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(s, sizeof(s), "%s:%d: %s.", file, line, msg);
	else
		snprintf(s, sizeof(s), "%s: %s.", file, msg);
	if (is_error && x->nerrors++ == 0 && x->err != NULL && x->errlen > 0)
		util_strlcpy(x->err, s, x->errlen);
	if (x->report != NULL)
		x->report(x->arg, is_error, s);
	return is_error ? GW_ERR_CONFIG : 0;
}

int
cfg_problem(struct cfgctx *x, int is_error, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cfg_vproblem(x, is_error, file, line, fmt, ap);
	va_end(ap);
	return r;
}


/* An error outside a walk (the development set-up) into err. */
void
cfgerr(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
{
	struct cfgctx x;
	va_list ap;

	memset(&x, 0, sizeof(x));
	x.err = err;
	x.errlen = errlen;
	va_start(ap, fmt);
	cfg_vproblem(&x, 1, file, line, fmt, ap);
	va_end(ap);
}

/* Whether failure r ends the walk: any failure when loading; when checking
 * only what is not a reported problem (out of memory). */
int
cfg_stop(const struct cfgctx *x, int r)
{
	return r != 0 && (!x->all || r != GW_ERR_CONFIG);
}

char *
cfg_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int
key_chars_ok(const char *k)
{
	for (; *k != '\0'; k++)
		if (!islower((unsigned char)*k) && !isdigit((unsigned char)*k) &&
		    *k != '_')
			return 0;
	return 1;
}

int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

const struct kv *
kv_find(const struct kvfile *f, const char *key)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->kv[i].key, key) == 0)
			return &f->kv[i];
	return NULL;
}

void
kv_free(struct kvfile *f)
{
	free(f->buf);
	free(f->kv);
	f->buf = NULL;
	f->kv = NULL;
	f->n = 0;
}

/* One line of a file; s is modified in place and must stay alive. */
int
kv_line(struct cfgctx *x, struct kvfile *f, char *s, int line,
    int (*known)(const char *))
{
	const struct kv *prev;
	char *eq, *key, *value;

	if (strlen(s) > CONFIG_MAX_LINE)
		return cfg_problem(x, 1, f->path, line, "the line is longer than %d "
		    "bytes", CONFIG_MAX_LINE);
	s = cfg_trim(s);
	if (*s == '\0' || *s == '#')
		return 0;
	if ((eq = strchr(s, '=')) == NULL)
		return cfg_problem(x, 1, f->path, line, "expected \"key = value\"");
	*eq = '\0';
	key = cfg_trim(s);
	value = cfg_trim(eq + 1);
	if (*key == '\0')
		return cfg_problem(x, 1, f->path, line, "there is no key before \"=\"");
	if (!key_chars_ok(key) || strlen(key) > 32 || !known(key))
		return cfg_problem(x, 1, f->path, line, "unknown key \"%.40s\"%s",
		    has_control(key) ? "?" : key, strlen(key) > 40 ? "..." : "");
	if ((prev = kv_find(f, key)) != NULL)
		return cfg_problem(x, 1, f->path, line,
		    "\"%s\" is set twice (first on line %d)", key, prev->line);
	if (*value == '\0')
		return cfg_problem(x, 1, f->path, line, "\"%s\" has no value "
		    "(leave the line out to get the default)", key);
	if (has_control(value) || xmlCheckUTF8((const xmlChar *)value) == 0)
		return cfg_problem(x, 1, f->path, line, "the value of \"%s\" contains "
		    "control characters or is not UTF-8", key);
	f->kv[f->n].key = key;
	f->kv[f->n].value = value;
	f->kv[f->n].line = line;
	f->n++;
	return 0;
}

/*
 * Reads path into f as (key, value, line) triples: "key = value" lines,
 * blank lines and lines starting with '#'.  Keys that known() does not
 * accept and keys set twice are errors; when checking, such lines are left
 * out and the rest is read (0 is returned: the problems are reported).  A
 * file that cannot be read at all is GW_ERR_CONFIG either way.  Free f
 * with kv_free() either way.
 */
int
kv_read(struct cfgctx *x, const char *path, int (*known)(const char *),
    struct kvfile *f)
{
	char *s, *next, *nl, *slash;
	unsigned char *buf;
	size_t len, i, lines = 1;
	int r, line;

	memset(f, 0, sizeof(*f));
	if (realpath(path, f->path) == NULL)
		return cfg_problem(x, 1, path, 0, "cannot open the file: %s",
		    strerror(errno));
	util_strlcpy(f->dir, f->path, sizeof(f->dir));
	slash = strrchr(f->dir, '/');	/* realpath: always absolute */
	slash[slash == f->dir ? 1 : 0] = '\0';
	r = util_read_file(f->path, CONFIG_MAX_FILE, &buf, &len);
	if (r == GW_ERR_TOO_LARGE)
		return cfg_problem(x, 1, f->path, 0, "the file is larger than %d bytes",
		    CONFIG_MAX_FILE);
	else if (r == GW_ERR_NOMEM)
		return r;
	else if (r != 0)
		return cfg_problem(x, 1, f->path, 0, "cannot read the file: %s",
		    strerror(errno));
	f->buf = (char *)buf;
	if (memchr(f->buf, '\0', len) != NULL)
		return cfg_problem(x, 1, f->path, 0, "the file contains a NUL byte");
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
		if (cfg_stop(x, r = kv_line(x, f, s, line, known)))
			return r;
	}
	return 0;
}

/* value relative to base unless absolute; into out (size outlen). */
int
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
int
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
int
parse_size(const char *s, unsigned long long max, unsigned long long *out)
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
	*out = v * mul;
	return 0;
}

/* "4G", "64G": the upper end of a size range, for sentences. */
const char *
size_max_text(unsigned long long max)
{
	return max == CONFIG_MAX_BODY ? "4G" : "64G";
}

/* A size key: into *out, or an error sentence naming the range. */
int
size_value(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    unsigned long long max, unsigned long long *out)
{
	if (parse_size(kv->value, max, out) != 0)
		return cfg_problem(x, 1, f->path, kv->line, "%s must be a size in bytes "
		    "from 1 to %s (suffixes k, M, G), not \"%.40s\"", kv->key,
		    size_max_text(max), kv->value);
	return 0;
}

/* yes or no, into *out. */
int
yesno_value(struct cfgctx *x, const struct kvfile *f, const struct kv *kv,
    int *out)
{
	if (strcmp(kv->value, "yes") == 0)
		*out = 1;
	else if (strcmp(kv->value, "no") == 0)
		*out = 0;
	else
		return cfg_problem(x, 1, f->path, kv->line, "%s must be yes or no, "
		    "not \"%.40s\"", kv->key, kv->value);
	return 0;
}

int
revocation_valid(const char *s)
{
	return strcmp(s, "require") == 0 || strcmp(s, "prefer") == 0 ||
	    strcmp(s, "off") == 0;
}

/* host:port with a numeric port 1-65535; an IPv6 host in brackets. */
int
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
