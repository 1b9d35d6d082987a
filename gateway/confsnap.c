/*
 * confsnap.c - reference-counted configuration snapshots.
 *
 * Invariants: gw->conf holds one reference of its own; every reader holds
 * one more for as long as it uses the snapshot's config or a party pointer
 * into it (a request from its header check until it is freed, a push
 * transfer until it finishes, the sealer and the delivery thread for one
 * pass).  A snapshot is never changed after confsnap_new(), so holders
 * read it without locks.
 *
 * Why a mutex and not only an atomic pointer: acquiring is "read the
 * pointer, then count a reference", and a reload between the two could
 * free the snapshot.  gw->conf_mu makes the pair atomic with respect to
 * confsnap_install(); it is held for a few instructions, once per request.
 * Releasing needs no lock (an atomic decrement).
 *
 * Any thread.
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "confsnap.h"
#include "err.h"
#include "gw.h"
#include "util.h"

#define MAX_PROFILES	1024

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
	if (buf) {
		EVP_DigestUpdate(md, buf, len);
		OPENSSL_cleanse(buf, len);	/* may be a private key */
	}
	free(buf);
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
digest_profiles(EVP_MD_CTX *md, const char *dir)
{
	char path[PATH_MAX + 300], *names[MAX_PROFILES];
	struct dirent *de;
	size_t n = 0, i, l;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL && n < MAX_PROFILES) {
			l = strlen(de->d_name);
			if (de->d_name[0] != '.' && l > 5 &&
			    strcmp(de->d_name + l - 5, ".conf") == 0 &&
			    (names[n] = strdup(de->d_name)) != NULL)
				n++;
		}
		closedir(d);
	}
	qsort(names, n, sizeof(names[0]), cmpstr);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		digest_file(md, path);
		free(names[i]);
	}
}

/* SHA-256 over the files (each with its name and length), in order, and
 * after the first one the profiles of profiles_dir when it is not NULL. */
static void
digest_paths(const char *const *paths, size_t n, const char *profiles_dir,
    char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	unsigned int hl = 32;
	size_t i;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		util_strlcpy(out, "unavailable", 65);
		EVP_MD_CTX_free(md);
		return;
	}
	for (i = 0; i < n; i++) {
		digest_file(md, paths[i]);
		if (i == 0 && profiles_dir)
			digest_profiles(md, profiles_dir);
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	util_hex(h, 32, out);
}

void
confsnap_digest(const struct config *c, char out[65])
{
	const char *const f[] = { c->path, c->trust_ca, c->client_ca,
	    c->sign_cert };

	digest_paths(f, 4, c->profiles_dir, out);
}

/* The files gatewayd reads once at start (main.c gw_setup, tls.c). */
static void
fixed_digest(const struct config *c, char out[65])
{
	const char *const f[] = { c->tls_cert, c->tls_key, c->client_ca,
	    c->trust_ca, c->sign_cert, c->sign_key };

	digest_paths(f, 6, NULL, out);
}

int
confsnap_new(struct config *cfg, struct confsnap **out)
{
	struct confsnap *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		config_free(cfg);
		return GW_ERR_NOMEM;
	}
	atomic_init(&s->refs, 1);
	s->cfg = cfg;
	confsnap_digest(cfg, s->digest);
	fixed_digest(cfg, s->fixed_sha);
	*out = s;
	return 0;
}

struct confsnap *
confsnap_ref(struct confsnap *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void
confsnap_release(struct confsnap *s)
{
	if (s == NULL)
		return;
	/* acq_rel: the freeing thread sees everything the others did with it */
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	config_free(s->cfg);
	free(s);
}

void
confsnap_init(struct gw *gw)
{
	pthread_mutex_init(&gw->conf_mu, NULL);
	gw->conf = NULL;
	gw->conf_seq = 0;
}

struct confsnap *
confsnap_acquire(struct gw *gw)
{
	struct confsnap *s;

	pthread_mutex_lock(&gw->conf_mu);
	if ((s = gw->conf) != NULL)
		confsnap_ref(s);
	pthread_mutex_unlock(&gw->conf_mu);
	return s;
}

void
confsnap_install(struct gw *gw, struct confsnap *s)
{
	struct confsnap *old;

	pthread_mutex_lock(&gw->conf_mu);
	old = gw->conf;
	if (s != NULL)
		s->seq = ++gw->conf_seq;
	gw->conf = s;
	pthread_mutex_unlock(&gw->conf_mu);
	confsnap_release(old);
}

/* "KEY changed from A to B; restart gatewayd to change it" if A != B. */
static int
diff_str(const char *key, const char *a, const char *b, char *why,
    size_t whylen)
{
	if (strcmp(a, b) == 0)
		return 0;
	snprintf(why, whylen, "%s changed from %s to %s; restart gatewayd to "
	    "change it", key, a[0] ? a : "(none)", b[0] ? b : "(none)");
	return GW_ERR_CONFIG;
}

static int
diff_num(const char *key, unsigned long long a, unsigned long long b,
    char *why, size_t whylen)
{
	if (a == b)
		return 0;
	snprintf(why, whylen, "%s changed from %llu to %llu; restart gatewayd to "
	    "change it", key, a, b);
	return GW_ERR_CONFIG;
}

int
confsnap_fixed_diff(const struct confsnap *cur, const struct confsnap *next,
    char *why, size_t whylen)
{
	const struct config *a = cur->cfg, *b = next->cfg;
	int r;

	/* The values first: they name the key; then the bytes behind them. */
	if ((r = diff_str("listen", a->listen, b->listen, why, whylen)) != 0 ||
	    (r = diff_str("tls_cert", a->tls_cert, b->tls_cert, why, whylen)) != 0 ||
	    (r = diff_str("tls_key", a->tls_key, b->tls_key, why, whylen)) != 0 ||
	    (r = diff_str("client_ca", a->client_ca, b->client_ca, why, whylen)) != 0 ||
	    (r = diff_str("trust_ca", a->trust_ca, b->trust_ca, why, whylen)) != 0 ||
	    (r = diff_str("sign_cert", a->sign_cert, b->sign_cert, why, whylen)) != 0 ||
	    (r = diff_str("sign_key", a->sign_key, b->sign_key, why, whylen)) != 0 ||
	    (r = diff_str("database", a->database, b->database, why, whylen)) != 0 ||
	    (r = diff_str("spool_dir", a->spool_dir, b->spool_dir, why, whylen)) != 0 ||
	    (r = diff_str("revocation", a->revocation, b->revocation, why,
	    whylen)) != 0 ||
	    (r = diff_str("crl", a->crl_file, b->crl_file, why, whylen)) != 0 ||
	    (r = diff_num("threads", (unsigned)a->threads, (unsigned)b->threads,
	    why, whylen)) != 0 ||
	    (r = diff_num("io_threads", (unsigned)a->io_threads,
	    (unsigned)b->io_threads, why, whylen)) != 0 ||
	    /* XXX: the io threads copy max_body into their limits at start;
	     * per-connection limits would let a reload change it. */
	    (r = diff_num("max_body", a->max_body, b->max_body, why, whylen)) != 0)
		return r;
	if (strcmp(cur->fixed_sha, next->fixed_sha) != 0) {
		snprintf(why, whylen, "the content of tls_cert, tls_key, client_ca, "
		    "trust_ca, sign_cert or sign_key changed since gatewayd started; "
		    "restart gatewayd to use it");
		return GW_ERR_CONFIG;
	}
	return 0;
}
