/*
 * config_certs.c - the certificate rules of the configuration: reading
 * PEM files, validity at load time (errors, and warnings for what expires
 * within CONFIG_WARN_DAYS), the encryption certificates' keys and key
 * usage, and which of a rollover's certificates is the latest
 * (config_int.h).
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

/* ---- certificates ---- */

void
time_text(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		util_strlcpy(out, "an unreadable date", outlen);
}

/* The validity period of cert as time_t; -1 if a date cannot be read. */
int
cert_period(X509 *cert, time_t *nb, time_t *na)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) != 1)
		return -1;
	*nb = timegm(&tm);
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return -1;
	*na = timegm(&tm);
	return 0;
}

int
cert_valid_at(X509 *cert, time_t now)
{
	time_t nb, na;

	return cert_period(cert, &nb, &na) == 0 && nb <= now && now < na;
}

/* How certificate i of n from one file is named in a sentence. */
void
cert_label(const char *path, X509 *cert, size_t i, size_t n, char *out,
    size_t outlen)
{
	char cn[128];

	if (n <= 1) {
		snprintf(out, outlen, "%s", path);
		return;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof(cn)) < 0)
		util_strlcpy(cn, "?", sizeof(cn));
	util_utf8_clean(cn);
	snprintf(out, outlen, "%s (certificate %zu of %zu, CN=%s)", path, i + 1,
	    n, cn);
}

/*
 * The validity of the n certificates v (labels[i] names each) of key on
 * file:line at x->now, by rule: expired and not yet valid are errors (see
 * enum certs_rule for when not), expiring within CONFIG_WARN_DAYS is a
 * warning with the date.
 */
int
certs_validity(struct cfgctx *x, const char *file, int line, const char *key,
    X509 *const *v, char *const *labels, size_t n, enum certs_rule rule)
{
	size_t i, nvalid = 0;
	time_t nb, na;
	long days;
	char when[64];
	int r = 0, e, other;

	for (i = 0; i < n; i++)
		nvalid += (size_t)cert_valid_at(v[i], x->now);
	other = rule == CERTS_SOME && nvalid > 0;
	for (i = 0; i < n; i++) {
		e = 0;
		if (cert_period(v[i], &nb, &na) != 0)
			e = cfg_problem(x, 1, file, line, "%s %s has a validity date "
			    "that cannot be read", key, labels[i]);
		else if (na <= x->now) {
			time_text(na, when, sizeof(when));
			e = cfg_problem(x, !other, file, line, "%s %s expired on %s%s",
			    key, labels[i], when, other ? " and is not used; "
			    "remove it" : "");
		} else if (nb > x->now) {
			time_text(nb, when, sizeof(when));
			if (!other)
				e = cfg_problem(x, 1, file, line, "%s %s is not valid "
				    "before %s", key, labels[i], when);
		} else if (na - x->now < CONFIG_WARN_DAYS * 86400L) {
			time_text(na, when, sizeof(when));
			days = (long)((na - x->now + 86399) / 86400);
			e = cfg_problem(x, 0, file, line, "%s %s expires on %s, in %ld "
			    "day%s", key, labels[i], when, days, days == 1 ? "" : "s");
		}
		if (cfg_stop(x, e))
			return e;
		r = r != 0 ? r : e;
	}
	return r;
}

/*
 * Reads every certificate of the file path named by key on file:line.
 * A file that cannot be read and one without a PEM certificate are
 * errors.  *out is a NULL-terminated array; free with certv_free().
 */
int
certs_read(struct cfgctx *x, const char *file, int line, const char *key,
    const char *path, X509 ***out, size_t *outn)
{
	STACK_OF(X509) *sk = NULL;
	X509 **v;
	size_t i, n;
	int r;

	if (access(path, R_OK) != 0)
		return cfg_problem(x, 1, file, line, "%s names %s, which cannot be "
		    "read: %s", key, path, strerror(errno));
	if ((r = pki_read_certs(path, &sk)) == GW_ERR_NOMEM)
		return r;
	if (r != 0)
		return cfg_problem(x, 1, file, line, "%s names %s, which holds no PEM "
		    "certificate", key, path);
	n = (size_t)sk_X509_num(sk);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
		sk_X509_pop_free(sk, X509_free);
		return GW_ERR_NOMEM;
	}
	for (i = 0; i < n; i++)
		v[i] = sk_X509_value(sk, (int)i);
	sk_X509_free(sk);	/* the certificates now belong to v */
	*out = v;
	*outn = n;
	return 0;
}

void
certv_free(X509 **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		X509_free(v[i]);
	free(v);
}

/*
 * A certificate file named by key: read, then checked by rule.  The
 * certificates go to *out (if not NULL; else they are freed) when they
 * could be read, whatever the validity says, so that a check goes on.
 */
int
certs_file(struct cfgctx *x, const char *file, int line, const char *key,
    const char *path, enum certs_rule rule, X509 ***out, size_t *outn)
{
	X509 **v = NULL;
	char **labels = NULL;
	size_t i, n = 0;
	int r;

	if ((r = certs_read(x, file, line, key, path, &v, &n)) != 0)
		return r;
	r = GW_ERR_NOMEM;
	if ((labels = calloc(n, sizeof(*labels))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if ((labels[i] = malloc(PATH_MAX + 200)) == NULL)
			goto out;
		cert_label(path, v[i], i, n, labels[i], PATH_MAX + 200);
	}
	r = certs_validity(x, file, line, key, v, labels, n, rule);
 out:
	for (i = 0; labels != NULL && i < n; i++)
		free(labels[i]);
	free(labels);
	if (r != GW_ERR_NOMEM && out != NULL) {
		*out = v;
		*outn = n;
	} else
		certv_free(v, n);
	return r;
}

/*
 * The key of encryption certificate path: RSA-OAEP needs RSA, of at least
 * CONFIG_MIN_RSA_BITS (2048 with allow_rsa2048, a warning), and a keyUsage
 * extension, if present, must allow keyEncipherment.
 */
int
enc_key_check(struct cfgctx *x, const char *file, int line, const char *path,
    X509 *cert, int allow2048)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	int bits, r = 0, e = 0;

	if (pub == NULL || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
		return cfg_problem(x, 1, file, line, "encryption_cert %s has no RSA key "
		    "(content is encrypted with RSA-OAEP)", path);
	bits = EVP_PKEY_get_bits(pub);
	if (bits < CONFIG_RSA_FLOOR || (bits < CONFIG_MIN_RSA_BITS && !allow2048))
		e = cfg_problem(x, 1, file, line, "encryption_cert %s has a %d-bit RSA "
		    "key, which is too weak: at least %d bits%s", path, bits,
		    CONFIG_MIN_RSA_BITS, bits >= CONFIG_RSA_FLOOR ? " (2048 only "
		    "with allow_rsa2048 = yes)" : "");
	else if (bits < CONFIG_MIN_RSA_BITS)
		e = cfg_problem(x, 0, file, line, "encryption_cert %s has a %d-bit RSA "
		    "key, below %d bits, accepted only because of allow_rsa2048 = "
		    "yes", path, bits, CONFIG_MIN_RSA_BITS);
	if (cfg_stop(x, e))
		return e;
	r = e;
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(cert) & KU_KEY_ENCIPHERMENT))
		e = cfg_problem(x, 1, file, line, "encryption_cert %s does not allow "
		    "keyEncipherment in its keyUsage, so it cannot be used for "
		    "encryption", path);
	return r != 0 ? r : e;
}

/* The one with the latest notAfter among those valid at now, or NULL. */
X509 *
enc_latest(X509 *const *v, size_t n, time_t now)
{
	X509 *best = NULL;
	time_t nb, na, best_na = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (cert_valid_at(v[i], now) && cert_period(v[i], &nb, &na) == 0 &&
		    (best == NULL || na > best_na)) {
			best = v[i];
			best_na = na;
		}
	return best;
}
