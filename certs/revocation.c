/*
 * revocation.c - CRL and OCSP answers, their cache and its refresher.
 * See revocation.h; the operator's view is in docs/revocation.md.
 *
 * What it owns: three tables under one mutex.  Configured CRLs (files, or
 * URLs the operator named; never evicted), CRLs fetched from distribution
 * points (keyed by URL) and OCSP answers (keyed by SHA-256 of CertID and
 * responder URL); the last two are bounded by max_entries and evict the
 * least recently used entry.
 *
 * Invariants:
 * - Network and file I/O never run under the lock.  An entry being fetched
 *   is marked inflight; other threads that want it wait on 'done' for at
 *   most the transfer timeout instead of fetching it a second time.  An
 *   entry somebody holds across an unlock has busy > 0 and is not evicted.
 * - A source that failed (or gave a stale answer) is not tried again for
 *   retry_after seconds: with a CA down, one request per source and period
 *   pays the timeout, not every submission.
 * - A cached CRL is only replaced by one of the same issuer with a newer or
 *   equal thisUpdate and, for distribution points, a valid signature of the
 *   issuer it was first fetched for; a bad download keeps the old CRL.
 * - Whether a CRL applies to a certificate (signature, scope, times, delta
 *   and indirect CRLs, the CRL issuer's own path) is decided by OpenSSL in
 *   rev_check_path()'s second verification pass, never here.
 * - OCSP answers are accepted only when signed by the issuing CA or by a
 *   responder it delegated to (id-kp-OCSPSigning, issued by that CA), with
 *   thisUpdate/nextUpdate within clock_skew of the current time.
 * - generation changes whenever a cached answer changes its content, so
 *   results derived from the old one (certcache.c) are dropped.
 * - Renewal keeps what is in use fresh: an entry is renewed ahead of its
 *   nextUpdate only if it was served from the cache since it was loaded
 *   (configured CRLs always), so the tables do not keep every signer ever
 *   seen alive.
 *
 * Threads: any worker calls rev_check_path(); the refresher thread (or
 * whoever calls rev_cache_refresh()) renews entries in the background.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "fetch.h"
#include "revocation.h"

#define MAX_CDP_URLS	4		/* distribution point URLs per cert */
#define WAIT_EXTRA	2		/* s beyond the transfer timeout */

struct crl_entry {
	char *where;		/* URL or file; NULL: rev_cache_add_crl() */
	char label[256];	/* for reports: URL, "file:PATH" or a label */
	int is_file;
	X509 *issuer;		/* distribution points: checks renewed CRLs */
	X509_CRL *crl;		/* NULL until loaded */
	unsigned char digest[32];
	time_t this_update, next_update, mtime;
	time_t last_try, used_at;
	unsigned uses;		/* cache hits since the last load */
	const char *last_code;	/* NULL: the last try succeeded */
	char last_err[128];
	int inflight, busy;
};

struct ocsp_entry {
	unsigned char key[32];
	char *url;
	X509 *cert, *issuer;
	STACK_OF(X509) *others;		/* for finding the responder's chain */
	X509_STORE *trust;
	int have;
	struct rev_answer ans;
	time_t this_update, fetched, last_try, used_at;
	unsigned uses;		/* cache hits since the last answer */
	const char *last_code;
	char last_err[128];
	int inflight, busy;
};

struct rev_cache {
	struct rev_config cfg;
	char *proxy;
	pthread_mutex_t lock;
	pthread_cond_t done;		/* an inflight fetch finished */
	struct crl_entry **cfgcrl, **cdp;
	size_t ncfg, ncdp;
	struct ocsp_entry **ocsp;
	size_t nocsp;
	unsigned long gen;
	pthread_t thr;
	int thr_on, thr_stop;
	unsigned period;
	pthread_cond_t wake;		/* refresher: stop or period over */
};

/* ---- names -------------------------------------------------------------- */

const char *
rev_policy_name(enum rev_policy p)
{
	return p == REV_POLICY_REQUIRE ? "require" :
	    p == REV_POLICY_PREFER ? "prefer" : "off";
}

int
rev_policy_parse(const char *s, enum rev_policy *out)
{
	static const enum rev_policy all[] = { REV_POLICY_OFF,
	    REV_POLICY_PREFER, REV_POLICY_REQUIRE };
	size_t i;

	for (i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, rev_policy_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	return GW_ERR_INVALID;
}

const char *
rev_method_name(enum rev_method m)
{
	return m == REV_METHOD_OCSP ? "ocsp" : m == REV_METHOD_CRL ? "crl" :
	    "none";
}

const char *
rev_status_name(enum rev_status s)
{
	switch (s) {
	case REV_STATUS_GOOD:		return "good";
	case REV_STATUS_REVOKED:	return "revoked";
	case REV_STATUS_UNKNOWN:	return "unknown";
	case REV_STATUS_UNAVAILABLE:	return "unavailable";
	case REV_STATUS_NOT_CHECKED:	break;
	}
	return "not-checked";
}

const char *
rev_reason_name(int reason)
{
	static const char *const names[] = { "unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", "unspecified",
	    "removeFromCRL", "privilegeWithdrawn", "aACompromise" };

	if (reason < 0 || (size_t)reason >= sizeof(names) / sizeof(names[0]))
		return "unspecified";
	return names[reason];
}

/* ---- small helpers ------------------------------------------------------ */

time_t
rev_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

static void
answer_fail(struct rev_answer *a, const char *code, const char *text)
{
	a->status = REV_STATUS_UNAVAILABLE;
	a->code = code;
	snprintf(a->detail, sizeof(a->detail), "%s", text);
}

static long
cfg_long(long v, long def)
{
	return v > 0 ? v : v < 0 ? 0 : def;
}

static long
retry_after(const struct rev_cache *rc)
{
	return cfg_long(rc->cfg.retry_after, 60);
}

static int
retry_ok(const struct rev_cache *rc, time_t last_try, time_t now)
{
	return last_try == 0 || now - last_try >= retry_after(rc);
}

/* Waits (bounded) until *flag is clear; rc->lock is held. */
static void
wait_idle(struct rev_cache *rc, const int *flag)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += cfg_long(rc->cfg.timeout_ms, 5000) / 1000 + WAIT_EXTRA;
	while (*flag)
		if (pthread_cond_timedwait(&rc->done, &rc->lock, &ts) ==
		    ETIMEDOUT)
			break;
}

static void
fetch_opts_of(const struct rev_cache *rc, int ocsp, struct fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = cfg_long(rc->cfg.connect_timeout_ms, 3000);
	o->timeout_ms = cfg_long(rc->cfg.timeout_ms, 5000);
	o->proxy = rc->proxy;
	if (ocsp) {
		o->max_size = rc->cfg.max_ocsp_size ? rc->cfg.max_ocsp_size :
		    64u << 10;
		o->ocsp_nonce = rc->cfg.ocsp_nonce;
		o->clock_skew = cfg_long(rc->cfg.clock_skew, 300);
	} else
		o->max_size = rc->cfg.max_crl_size ? rc->cfg.max_crl_size :
		    16u << 20;
}

/* ---- CRL entries -------------------------------------------------------- */

static void
crl_entry_free(struct crl_entry *e)
{
	if (e == NULL)
		return;
	free(e->where);
	X509_free(e->issuer);
	X509_CRL_free(e->crl);
	free(e);
}

/* Takes crl over (frees it when refused); rc->lock is held. */
static void
crl_install(struct rev_cache *rc, struct crl_entry *e, X509_CRL *crl,
    time_t mtime, time_t now)
{
	unsigned char dg[32];
	unsigned int dlen = 0;
	time_t tu = rev_time(X509_CRL_get0_lastUpdate(crl));

	e->last_try = now;
	if (e->crl != NULL && (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_CRL_get_issuer(e->crl)) != 0 || tu < e->this_update)) {
		e->last_code = "crl-invalid";
		snprintf(e->last_err, sizeof(e->last_err),
		    "older CRL or other issuer than the cached one");
		X509_CRL_free(crl);
		return;
	}
	if (X509_CRL_digest(crl, EVP_sha256(), dg, &dlen) != 1 ||
	    dlen != sizeof(dg))
		memset(dg, 0, sizeof(dg));
	if (e->crl == NULL || memcmp(dg, e->digest, sizeof(dg)) != 0) {
		if (e->crl != NULL)
			__atomic_add_fetch(&rc->gen, 1, __ATOMIC_RELEASE);
		X509_CRL_free(e->crl);
		e->crl = crl;
		memcpy(e->digest, dg, sizeof(dg));
	} else
		X509_CRL_free(crl);	/* same bytes again */
	e->this_update = tu;
	e->next_update = rev_time(X509_CRL_get0_nextUpdate(e->crl));
	e->mtime = mtime;
	e->uses = 0;
	e->last_code = NULL;
	e->last_err[0] = '\0';
	/* a CRL that is already stale counts as a failure for retry_after */
	if (e->next_update != 0 && e->next_update <= now) {
		e->last_code = "stale";
		snprintf(e->last_err, sizeof(e->last_err),
		    "the CRL's nextUpdate has passed");
	}
}

/* Runs one load of e: marks it, unlocks, loads, relocks, installs. */
static int
crl_refresh_locked(struct rev_cache *rc, struct crl_entry *e, time_t now)
{
	struct fetch_opts fo;
	X509_CRL *crl = NULL;
	const char *code;
	char err[128] = "";
	time_t mtime = 0;
	int r;

	fetch_opts_of(rc, 0, &fo);
	e->inflight = 1;
	e->busy++;
	pthread_mutex_unlock(&rc->lock);
	r = fetch_crl(e->where, e->is_file, e->issuer, &fo, &crl, &mtime,
	    &code, err, sizeof(err));
	pthread_mutex_lock(&rc->lock);
	if (r == 0)
		crl_install(rc, e, crl, mtime, now);
	else {
		e->last_try = now;
		e->last_code = code;
		snprintf(e->last_err, sizeof(e->last_err), "%s", err);
	}
	e->inflight = 0;
	e->busy--;
	pthread_cond_broadcast(&rc->done);
	return r;
}

static int
crl_fresh(const struct crl_entry *e, time_t t)
{
	return e->crl != NULL && e->this_update <= t &&
	    (e->next_update == 0 || t < e->next_update);
}

/* Makes the distribution point entry for url, evicting if full; locked. */
static struct crl_entry *
cdp_entry(struct rev_cache *rc, const char *url, X509 *issuer, time_t now)
{
	size_t i, lru = SIZE_MAX, max = rc->cfg.max_entries ?
	    rc->cfg.max_entries : 4096;
	struct crl_entry *e;

	if (rc->ncdp >= max) {
		for (i = 0; i < rc->ncdp; i++)
			if (rc->cdp[i]->busy == 0 && (lru == SIZE_MAX ||
			    rc->cdp[i]->used_at < rc->cdp[lru]->used_at))
				lru = i;
		if (lru == SIZE_MAX)
			return NULL;
		crl_entry_free(rc->cdp[lru]);
		rc->cdp[lru] = rc->cdp[--rc->ncdp];
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->where = strdup(url)) == NULL) {
		free(e);
		return NULL;
	}
	snprintf(e->label, sizeof(e->label), "%.255s", url);
	if (issuer != NULL && X509_up_ref(issuer) == 1)
		e->issuer = issuer;
	e->used_at = now;
	rc->cdp[rc->ncdp++] = e;
	return e;
}

/*
 * The CRL at a distribution point, fetched when there is none fresh at t
 * and may_fetch allows it.  Returns a new reference or NULL; on NULL or a
 * CRL that is not fresh, *code and err say why.
 */
static X509_CRL *
cdp_get(struct rev_cache *rc, const char *url, X509 *issuer, time_t t,
    int may_fetch, const char **code, char *err, size_t errlen)
{
	struct crl_entry *e = NULL;
	X509_CRL *crl = NULL;
	time_t now = time(NULL);
	size_t i;

	pthread_mutex_lock(&rc->lock);
	for (i = 0; i < rc->ncdp && e == NULL; i++)
		if (strcmp(rc->cdp[i]->where, url) == 0)
			e = rc->cdp[i];
	if (e == NULL && may_fetch)
		e = cdp_entry(rc, url, issuer, now);
	if (e == NULL) {
		*code = may_fetch ? "unreachable" : "no-source";
		snprintf(err, errlen, "%s", may_fetch ?
		    "revocation cache full" : "not fetched");
		goto out;
	}
	e->used_at = now;
	e->busy++;
	wait_idle(rc, &e->inflight);
	e->busy--;
	if (crl_fresh(e, t))
		e->uses++;
	else if (may_fetch && !e->inflight && retry_ok(rc, e->last_try, now))
		crl_refresh_locked(rc, e, now);
	if (e->crl != NULL && X509_CRL_up_ref(e->crl) == 1)
		crl = e->crl;
	if (!crl_fresh(e, t)) {
		*code = e->last_code ? e->last_code : e->crl ? "stale" :
		    "no-source";
		snprintf(err, errlen, "%s", e->last_err[0] ? e->last_err :
		    e->crl ? "no fresh CRL" : "not fetched");
	}
 out:
	pthread_mutex_unlock(&rc->lock);
	return crl;
}

/* ---- the cache ---------------------------------------------------------- */

int
rev_cache_new(const struct rev_config *cfg, struct rev_cache **out)
{
	struct rev_cache *rc;
	size_t max;

	if (fetch_global_init() != 0)
		return GW_ERR_INTERNAL;
	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return GW_ERR_NOMEM;
	if (cfg != NULL)
		rc->cfg = *cfg;
	max = rc->cfg.max_entries ? rc->cfg.max_entries : 4096;
	rc->cfg.proxy = NULL;
	if ((cfg != NULL && cfg->proxy != NULL &&
	    (rc->proxy = strdup(cfg->proxy)) == NULL) ||
	    (rc->cdp = calloc(max, sizeof(*rc->cdp))) == NULL ||
	    (rc->ocsp = calloc(max, sizeof(*rc->ocsp))) == NULL) {
		free(rc->cdp);
		free(rc->proxy);
		free(rc);
		return GW_ERR_NOMEM;
	}
	pthread_mutex_init(&rc->lock, NULL);
	pthread_cond_init(&rc->done, NULL);
	pthread_cond_init(&rc->wake, NULL);
	*out = rc;
	return 0;
}

static void ocsp_entry_free(struct ocsp_entry *e);

void
rev_cache_free(struct rev_cache *rc)
{
	size_t i;

	if (rc == NULL)
		return;
	rev_refresher_stop(rc);
	for (i = 0; i < rc->ncfg; i++)
		crl_entry_free(rc->cfgcrl[i]);
	for (i = 0; i < rc->ncdp; i++)
		crl_entry_free(rc->cdp[i]);
	for (i = 0; i < rc->nocsp; i++)
		ocsp_entry_free(rc->ocsp[i]);
	free(rc->cfgcrl);
	free(rc->cdp);
	free(rc->ocsp);
	free(rc->proxy);
	pthread_cond_destroy(&rc->wake);
	pthread_cond_destroy(&rc->done);
	pthread_mutex_destroy(&rc->lock);
	free(rc);
}

unsigned long
rev_cache_generation(const struct rev_cache *rc)
{
	return rc == NULL ? 0 : __atomic_load_n(&rc->gen, __ATOMIC_ACQUIRE);
}

/* Appends a configured entry; lock held. */
static int
cfg_append(struct rev_cache *rc, struct crl_entry *e)
{
	struct crl_entry **n;

	if ((n = realloc(rc->cfgcrl, (rc->ncfg + 1) * sizeof(*n))) == NULL)
		return GW_ERR_NOMEM;
	rc->cfgcrl = n;
	rc->cfgcrl[rc->ncfg++] = e;
	__atomic_add_fetch(&rc->gen, 1, __ATOMIC_RELEASE);
	return 0;
}

int
rev_cache_add_source(struct rev_cache *rc, const char *where)
{
	struct crl_entry *e;
	int r;

	if (rc == NULL || where == NULL || *where == '\0')
		return GW_ERR_INVALID;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return GW_ERR_NOMEM;
	if (strncasecmp(where, "file://", 7) == 0) {
		/* only file:///PATH: no host part */
		if (where[7] != '/') {
			free(e);
			return GW_ERR_INVALID;
		}
		where += 7;
	}
	e->is_file = strncasecmp(where, "http://", 7) != 0;
	if ((e->is_file && strstr(where, "://") != NULL) ||
	    (!e->is_file && !fetch_url_allowed(where))) {
		free(e);
		return GW_ERR_INVALID;
	}
	if ((e->where = strdup(where)) == NULL) {
		free(e);
		return GW_ERR_NOMEM;
	}
	snprintf(e->label, sizeof(e->label), "%s%.250s",
	    e->is_file ? "file:" : "", where);
	pthread_mutex_lock(&rc->lock);
	if ((r = cfg_append(rc, e)) != 0) {
		pthread_mutex_unlock(&rc->lock);
		crl_entry_free(e);
		return r;
	}
	r = crl_refresh_locked(rc, e, time(NULL));
	pthread_mutex_unlock(&rc->lock);
	return r;
}

int
rev_cache_add_crl(struct rev_cache *rc, X509_CRL *crl, const char *label)
{
	struct crl_entry *e;
	time_t now = time(NULL);
	int r;

	if (rc == NULL || crl == NULL)
		return GW_ERR_INVALID;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return GW_ERR_NOMEM;
	snprintf(e->label, sizeof(e->label), "%.255s", label ? label : "local");
	X509_CRL_up_ref(crl);
	pthread_mutex_lock(&rc->lock);
	crl_install(rc, e, crl, 0, now);
	e->last_try = 0;
	if ((r = cfg_append(rc, e)) != 0)
		crl_entry_free(e);
	pthread_mutex_unlock(&rc->lock);
	return r;
}

/* ---- OCSP --------------------------------------------------------------- */

static void
ocsp_entry_free(struct ocsp_entry *e)
{
	if (e == NULL)
		return;
	free(e->url);
	X509_free(e->cert);
	X509_free(e->issuer);
	sk_X509_pop_free(e->others, X509_free);
	X509_STORE_free(e->trust);
	free(e);
}

static int
ocsp_fresh(const struct rev_cache *rc, const struct ocsp_entry *e,
    time_t now)
{
	if (!e->have)
		return 0;
	if (e->ans.next_update != 0)
		return now < e->ans.next_update;
	return now < e->fetched + cfg_long(rc->cfg.ocsp_ttl, 300);
}

/* Runs one exchange for e: marks it, unlocks, asks, relocks, installs. */
static int
ocsp_refresh_locked(struct rev_cache *rc, struct ocsp_entry *e, time_t now)
{
	struct fetch_opts fo;
	struct rev_answer a;
	time_t tu = 0;
	int r;

	fetch_opts_of(rc, 1, &fo);
	e->inflight = 1;
	e->busy++;
	pthread_mutex_unlock(&rc->lock);
	r = fetch_ocsp(e->url, e->cert, e->issuer, e->others, e->trust, &fo,
	    &a, &tu);
	pthread_mutex_lock(&rc->lock);
	e->last_try = now;
	if (r == 0) {
		if (e->have && (a.status != e->ans.status ||
		    a.revoked_at != e->ans.revoked_at))
			__atomic_add_fetch(&rc->gen, 1, __ATOMIC_RELEASE);
		e->ans = a;
		e->have = 1;
		e->this_update = tu;
		e->fetched = now;
		e->uses = 0;
		e->last_code = NULL;
		e->last_err[0] = '\0';
	} else {
		e->last_code = a.code;
		snprintf(e->last_err, sizeof(e->last_err), "%s", a.detail);
	}
	e->inflight = 0;
	e->busy--;
	pthread_cond_broadcast(&rc->done);
	return r;
}

/*
 * Finds the entry for key or, with create, makes it (taking references to
 * cert, issuer, chain and trust for later renewals); lock held.
 */
static struct ocsp_entry *
ocsp_entry_get(struct rev_cache *rc, const unsigned char key[32],
    const char *url, X509 *cert, X509 *issuer, STACK_OF(X509) *chain,
    X509_STORE *trust, int create)
{
	size_t i, lru = SIZE_MAX, max = rc->cfg.max_entries ?
	    rc->cfg.max_entries : 4096;
	struct ocsp_entry *e;

	for (i = 0; i < rc->nocsp; i++)
		if (memcmp(rc->ocsp[i]->key, key, 32) == 0)
			return rc->ocsp[i];
	if (!create)
		return NULL;
	if (rc->nocsp >= max) {
		for (i = 0; i < rc->nocsp; i++)
			if (rc->ocsp[i]->busy == 0 && (lru == SIZE_MAX ||
			    rc->ocsp[i]->used_at < rc->ocsp[lru]->used_at))
				lru = i;
		if (lru == SIZE_MAX)
			return NULL;
		ocsp_entry_free(rc->ocsp[lru]);
		rc->ocsp[lru] = rc->ocsp[--rc->nocsp];
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	memcpy(e->key, key, 32);
	if ((e->url = strdup(url)) == NULL ||
	    (e->others = X509_chain_up_ref(chain)) == NULL ||
	    X509_STORE_up_ref(trust) != 1) {
		ocsp_entry_free(e);
		return NULL;
	}
	e->trust = trust;
	X509_up_ref(cert);
	e->cert = cert;
	X509_up_ref(issuer);
	e->issuer = issuer;
	rc->ocsp[rc->nocsp++] = e;
	return e;
}

/*
 * The OCSP answer for cert from url: cached when fresh, else asked when
 * may_fetch.  Returns 1 when *a is a definitive answer (good, revoked), 0
 * when it is not (unknown, or why there is none).
 */
static int
ocsp_get(struct rev_cache *rc, const char *url, X509 *cert, X509 *issuer,
    STACK_OF(X509) *chain, X509_STORE *trust, int may_fetch,
    struct rev_answer *a)
{
	unsigned char key[32];
	struct ocsp_entry *e;
	time_t now = time(NULL);

	memset(a, 0, sizeof(*a));
	a->method = REV_METHOD_OCSP;
	a->reason = REV_REASON_NONE;
	snprintf(a->source, sizeof(a->source), "%.255s", url);
	if (fetch_ocsp_key(cert, issuer, url, key) != 0) {
		answer_fail(a, "bad-response", "cannot identify the "
		    "certificate");
		return 0;
	}
	pthread_mutex_lock(&rc->lock);
	e = ocsp_entry_get(rc, key, url, cert, issuer, chain, trust,
	    may_fetch);
	if (e == NULL) {
		answer_fail(a, may_fetch ? "unreachable" : "no-source",
		    may_fetch ? "revocation cache full" : "not asked");
		goto out;
	}
	e->used_at = now;
	e->busy++;
	wait_idle(rc, &e->inflight);
	e->busy--;
	if (ocsp_fresh(rc, e, now))
		e->uses++;
	else if (may_fetch && !e->inflight && retry_ok(rc, e->last_try, now))
		ocsp_refresh_locked(rc, e, now);
	if (ocsp_fresh(rc, e, now))
		*a = e->ans;
	else if (!may_fetch)
		answer_fail(a, "no-source", "fetching is disabled");
	else if (e->last_code != NULL)
		answer_fail(a, e->last_code, e->last_err);
	else
		answer_fail(a, "stale", "the cached answer expired");
 out:
	pthread_mutex_unlock(&rc->lock);
	return a->status == REV_STATUS_GOOD || a->status == REV_STATUS_REVOKED;
}

/* ---- checking a path ---------------------------------------------------- */

/* The CRLs handed to OpenSSL, with the label of each for the report. */
struct crlset {
	STACK_OF(X509_CRL) *sk;		/* owns one reference each */
	char (*label)[256];		/* label[i] belongs to sk[i] */
	int cap;
};

/* What is known about the certificate at one depth. */
struct depth {
	int need;			/* no definitive answer yet */
	int cdp_tried;
	struct rev_answer ocsp;		/* a non-definitive OCSP outcome */
	const char *crl_code;		/* why no CRL could be had */
	char crl_detail[128];
	char crl_source[256];
	int err;			/* first CRL error, OpenSSL pass */
	X509_CRL *rev_crl;		/* the CRL that revoked it (borrowed) */
};

struct pass {
	struct depth *d;
	int n;
};

/* Takes crl over.  0, or GW_ERR_NOMEM (crl freed). */
static int
crlset_add(struct crlset *s, X509_CRL *crl, const char *label)
{
	char (*nl)[256];
	int i, n = sk_X509_CRL_num(s->sk);

	for (i = 0; i < n; i++)
		if (sk_X509_CRL_value(s->sk, i) == crl) {
			X509_CRL_free(crl);
			return 0;
		}
	if (n >= s->cap) {
		if ((nl = realloc(s->label, (size_t)(s->cap + 8) *
		    sizeof(*nl))) == NULL) {
			X509_CRL_free(crl);
			return GW_ERR_NOMEM;
		}
		s->label = nl;
		s->cap += 8;
	}
	if (sk_X509_CRL_push(s->sk, crl) <= 0) {
		X509_CRL_free(crl);
		return GW_ERR_NOMEM;
	}
	snprintf(s->label[n], sizeof(s->label[n]), "%.255s", label);
	return 0;
}

static int
crlset_config(struct rev_cache *rc, struct crlset *s)
{
	size_t i;
	int r = 0;

	pthread_mutex_lock(&rc->lock);
	for (i = 0; i < rc->ncfg && r == 0; i++)
		if (rc->cfgcrl[i]->crl != NULL &&
		    X509_CRL_up_ref(rc->cfgcrl[i]->crl) == 1)
			r = crlset_add(s, rc->cfgcrl[i]->crl,
			    rc->cfgcrl[i]->label);
	pthread_mutex_unlock(&rc->lock);
	return r;
}

/* Index of a CRL in s from cert's issuer that is current at t, or -1. */
static int
crlset_find(const struct crlset *s, X509 *cert, time_t t)
{
	int i;

	for (i = 0; i < sk_X509_CRL_num(s->sk); i++) {
		X509_CRL *c = sk_X509_CRL_value(s->sk, i);
		time_t nu = rev_time(X509_CRL_get0_nextUpdate(c));

		if (X509_NAME_cmp(X509_CRL_get_issuer(c),
		    X509_get_issuer_name(cert)) == 0 &&
		    rev_time(X509_CRL_get0_lastUpdate(c)) <= t &&
		    (nu == 0 || t < nu))
			return i;
	}
	return -1;
}

/* Does any CRL in s come from the issuer of a certificate of chain? */
static int
crlset_relevant(const struct crlset *s, STACK_OF(X509) *chain)
{
	int i, k;

	for (i = 0; i < sk_X509_CRL_num(s->sk); i++)
		for (k = 0; k < sk_X509_num(chain) - 1; k++)
			if (X509_NAME_cmp(X509_CRL_get_issuer(
			    sk_X509_CRL_value(s->sk, i)), X509_get_issuer_name(
			    sk_X509_value(chain, k))) == 0)
				return 1;
	return 0;
}

static void
crlset_free(struct crlset *s)
{
	sk_X509_CRL_pop_free(s->sk, X509_CRL_free);
	free(s->label);
}

/*
 * CRLs of cert's distribution points into s; with may_fetch, fetched when
 * no fresh one is cached.  Stops at the first URL that gives a fresh CRL.
 */
static int
collect_cdp(struct rev_cache *rc, X509 *cert, X509 *issuer, time_t t,
    int may_fetch, struct crlset *s, struct depth *d)
{
	char urls[MAX_CDP_URLS][FETCH_MAX_URL + 1];
	X509_CRL *crl;
	int i, n, r;

	n = fetch_cdp_urls(cert, urls, MAX_CDP_URLS);
	for (i = 0; i < n; i++) {
		d->cdp_tried = 1;
		snprintf(d->crl_source, sizeof(d->crl_source), "%.255s",
		    urls[i]);
		d->crl_code = NULL;
		crl = cdp_get(rc, urls[i], issuer, t, may_fetch, &d->crl_code,
		    d->crl_detail, sizeof(d->crl_detail));
		if (crl != NULL && (r = crlset_add(s, crl, urls[i])) != 0)
			return r;
		if (crl != NULL && d->crl_code == NULL)
			break;		/* fresh */
	}
	return 0;
}

static int
pass_cb(int ok, X509_STORE_CTX *x)
{
	struct pass *p = X509_STORE_CTX_get_app_data(x);
	int e, d;

	/* a CRL issuer's own path (no app data) keeps OpenSSL's verdict */
	if (p == NULL || ok)
		return ok;
	e = X509_STORE_CTX_get_error(x);
	d = X509_STORE_CTX_get_error_depth(x);
	if (d >= 0 && d < p->n && p->d[d].err == 0) {
		p->d[d].err = e;
		if (e == X509_V_ERR_CERT_REVOKED)
			p->d[d].rev_crl = X509_STORE_CTX_get0_current_crl(x);
	}
	return 1;	/* go on: every depth gets its own result */
}

/* Same certificates in the same order? */
static int
same_chain(STACK_OF(X509) *a, STACK_OF(X509) *b)
{
	int i;

	if (sk_X509_num(a) != sk_X509_num(b))
		return 0;
	for (i = 0; i < sk_X509_num(a); i++)
		if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) != 0)
			return 0;
	return 1;
}

/* The second pass: OpenSSL's CRL checks for every depth.  0 or GW_ERR_*. */
static int
crl_pass(X509_STORE *trust, X509 *leaf, STACK_OF(X509) *untrusted,
    STACK_OF(X509) *chain, struct crlset *s, rev_setup_fn setup, void *arg,
    struct pass *p)
{
	X509_STORE_CTX *x;
	int r = GW_ERR_INTERNAL, ok;

	if ((x = X509_STORE_CTX_new()) == NULL)
		return GW_ERR_NOMEM;
	if (X509_STORE_CTX_init(x, trust, leaf, untrusted) != 1 ||
	    setup(x, arg) != 0)
		goto out;
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(x),
	    X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
	    X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS);
	X509_STORE_CTX_set0_crls(x, s->sk);
	X509_STORE_CTX_set_verify_cb(x, pass_cb);
	X509_STORE_CTX_set_app_data(x, p);
	ok = X509_verify_cert(x);
	if (ok < 0 || !same_chain(chain, X509_STORE_CTX_get0_chain(x)))
		goto out;
	r = 0;
 out:
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	return r;
}

/* Revocation time and reason of cert from the CRL that revoked it. */
static void
revoked_entry(X509 *cert, X509_CRL *first, const struct crlset *s,
    struct rev_answer *a)
{
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *re;
	int i;

	a->reason = REV_REASON_NONE;
	/* a delta CRL may hold the entry rather than the base OpenSSL names */
	if (first == NULL || X509_CRL_get0_by_cert(first, &rev, cert) != 1) {
		rev = NULL;
		for (i = 0; i < sk_X509_CRL_num(s->sk) && rev == NULL; i++)
			if (X509_CRL_get0_by_cert(sk_X509_CRL_value(s->sk, i),
			    &rev, cert) != 1)
				rev = NULL;
	}
	if (rev == NULL)
		return;
	a->revoked_at = rev_time(X509_REVOKED_get0_revocationDate(rev));
	if ((re = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL,
	    NULL)) != NULL) {
		a->reason = (int)ASN1_ENUMERATED_get(re);
		ASN1_ENUMERATED_free(re);
	}
	ERR_clear_error();
}

static const char *
crl_err_code(int err)
{
	switch (err) {
	case X509_V_ERR_CRL_HAS_EXPIRED:
		return "stale";
	case X509_V_ERR_CRL_NOT_YET_VALID:
		return "not-yet-valid";
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
		return "bad-signature";
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return "no-source";
	default:
		return "crl-invalid";
	}
}

static int
crlset_index(const struct crlset *s, const X509_CRL *crl)
{
	int i;

	for (i = 0; crl != NULL && i < sk_X509_CRL_num(s->sk); i++)
		if (sk_X509_CRL_value(s->sk, i) == crl)
			return i;
	return -1;
}

static void
answer_crl(struct rev_answer *a, const struct crlset *s, int k)
{
	X509_CRL *c;

	memset(a, 0, sizeof(*a));
	a->method = REV_METHOD_CRL;
	a->reason = REV_REASON_NONE;
	if (k < 0) {
		snprintf(a->source, sizeof(a->source), "indirect CRL");
		return;
	}
	c = sk_X509_CRL_value(s->sk, k);
	snprintf(a->source, sizeof(a->source), "%s", s->label[k]);
	a->answered = rev_time(X509_CRL_get0_lastUpdate(c));
	a->next_update = rev_time(X509_CRL_get0_nextUpdate(c));
}

/* Why there is no answer for a certificate, from what was tried. */
static void
answer_none(const struct depth *d, int passed, struct rev_answer *a)
{
	if (d->ocsp.status == REV_STATUS_UNKNOWN) {
		*a = d->ocsp;		/* the responder's own word wins */
		return;
	}
	memset(a, 0, sizeof(*a));
	a->reason = REV_REASON_NONE;
	a->status = REV_STATUS_UNAVAILABLE;
	if (passed && d->err != 0 && d->err != X509_V_ERR_UNABLE_TO_GET_CRL) {
		a->method = REV_METHOD_CRL;
		a->code = crl_err_code(d->err);
		snprintf(a->source, sizeof(a->source), "%s", d->crl_source[0] ?
		    d->crl_source : "local CRLs");
		snprintf(a->detail, sizeof(a->detail), "%s",
		    X509_verify_cert_error_string(d->err));
	} else if (d->cdp_tried) {
		a->method = REV_METHOD_CRL;
		a->code = d->crl_code ? d->crl_code : "crl-invalid";
		snprintf(a->source, sizeof(a->source), "%s", d->crl_source);
		snprintf(a->detail, sizeof(a->detail), "%s", d->crl_detail[0] ?
		    d->crl_detail : "no CRL from the distribution point "
		    "applies");
	} else if (d->ocsp.code != NULL) {
		*a = d->ocsp;
	} else {
		a->code = "no-source";
		snprintf(a->detail, sizeof(a->detail), "no OCSP responder, CRL "
		    "distribution point or local CRL for this certificate");
	}
	if (d->ocsp.code != NULL && a->method == REV_METHOD_CRL) {
		size_t l = strlen(a->detail);

		snprintf(a->detail + l, sizeof(a->detail) - l, "; OCSP: %s",
		    d->ocsp.detail);
	}
}

/* The final answer at one depth (not the anchor). */
static void
settle(const struct depth *d, X509 *cert, const struct crlset *s, time_t t,
    int passed, struct rev_answer *a)
{
	if (passed && d->err == X509_V_ERR_CERT_REVOKED) {
		/* any source that says revoked wins, OCSP "good" included */
		answer_crl(a, s, crlset_index(s, d->rev_crl));
		a->status = REV_STATUS_REVOKED;
		a->code = "revoked";
		revoked_entry(cert, d->rev_crl, s, a);
		return;
	}
	if (!d->need)
		return;		/* a definitive OCSP answer is in a already */
	if (passed && d->err == 0) {
		answer_crl(a, s, crlset_find(s, cert, t));
		a->status = REV_STATUS_GOOD;
		a->code = "good";
		return;
	}
	answer_none(d, passed, a);
}

/*
 * Everything about the certificate at depth i short of the OpenSSL pass:
 * a cached OCSP answer, a CRL at hand, the responder, the distribution
 * points, in that order.
 */
static int
gather(struct rev_cache *rc, X509_STORE *trust, STACK_OF(X509) *chain,
    int i, time_t t, struct crlset *s, struct depth *d, struct rev_answer *a)
{
	X509 *cert = sk_X509_value(chain, i), *issuer = sk_X509_value(chain,
	    i + 1);
	char url[FETCH_MAX_URL + 1];
	int fetch = !rc->cfg.no_fetch, r;
	int ocsp = fetch && !rc->cfg.no_ocsp &&
	    fetch_ocsp_url(cert, url, sizeof(url));

	d->need = 1;
	if (ocsp && ocsp_get(rc, url, cert, issuer, chain, trust, 0, a)) {
		d->need = 0;
		return 0;
	}
	if ((r = collect_cdp(rc, cert, issuer, t, 0, s, d)) != 0)
		return r;
	if (crlset_find(s, cert, t) >= 0)
		return 0;
	if (ocsp) {
		if (ocsp_get(rc, url, cert, issuer, chain, trust, 1, a)) {
			d->need = 0;
			return 0;
		}
		d->ocsp = *a;
	}
	return fetch ? collect_cdp(rc, cert, issuer, t, 1, s, d) : 0;
}

static void
answer_init(struct rev_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->code = "not-checked";
	a->reason = REV_REASON_NONE;
}

int
rev_check_path(struct rev_cache *rc, X509_STORE *trust, X509 *leaf,
    STACK_OF(X509) *untrusted, STACK_OF(X509) *chain, time_t at,
    rev_setup_fn setup, void *arg, struct rev_answer *ans)
{
	struct crlset s = { 0 };
	struct pass p = { 0 };
	time_t t = at != 0 ? at : time(NULL);
	int i, n = sk_X509_num(chain), r = GW_ERR_NOMEM, passed = 0, need = 0;

	for (i = 0; i < n; i++)
		answer_init(&ans[i]);
	if (n < 2)
		return 0;	/* a trusted certificate itself: no question */
	if ((p.d = calloc((size_t)n, sizeof(*p.d))) == NULL ||
	    (s.sk = sk_X509_CRL_new_null()) == NULL)
		goto out;
	p.n = n;
	if (rc != NULL && (r = crlset_config(rc, &s)) != 0)
		goto out;
	for (i = 0; i < n - 1; i++) {
		if (rc == NULL)
			p.d[i].need = 1;
		else if ((r = gather(rc, trust, chain, i, t, &s, &p.d[i],
		    &ans[i])) != 0)
			goto out;
		need |= p.d[i].need;
	}
	/* a configured CRL that revokes wins over an OCSP "good" too */
	if ((need || crlset_relevant(&s, chain)) && sk_X509_CRL_num(s.sk) > 0) {
		r = crl_pass(trust, leaf, untrusted, chain, &s, setup, arg, &p);
		if (r == GW_ERR_NOMEM)
			goto out;
		passed = r == 0;
	}
	for (i = 0; i < n - 1; i++)
		settle(&p.d[i], sk_X509_value(chain, i), &s, t, passed,
		    &ans[i]);
	r = 0;
 out:
	crlset_free(&s);
	free(p.d);
	return r;
}

/* ---- renewal ------------------------------------------------------------ */

/* Renew ahead of next by min(refresh_ahead, half the answer's life). */
static int
due(const struct rev_cache *rc, time_t this, time_t next, time_t now)
{
	long ahead = cfg_long(rc->cfg.refresh_ahead, 900);

	if (next > this && (next - this) / 2 < ahead)
		ahead = (next - this) / 2;
	return next - now <= ahead;
}

static int
crl_due(const struct rev_cache *rc, const struct crl_entry *e, time_t now)
{
	struct stat st;

	if (e->where == NULL || e->inflight || (!e->is_file &&
	    rc->cfg.no_fetch) || !retry_ok(rc, e->last_try, now))
		return 0;
	if (e->crl == NULL)
		return 1;
	if (e->is_file && stat(e->where, &st) == 0 && st.st_mtime != e->mtime)
		return 1;
	if (e->next_update == 0)
		return now - e->last_try >=
		    cfg_long(rc->cfg.refresh_ahead, 900);
	return due(rc, e->this_update, e->next_update, now);
}

static int
ocsp_due(const struct rev_cache *rc, const struct ocsp_entry *e, time_t now)
{
	time_t next;

	if (!e->have || e->inflight || e->uses == 0 ||
	    !retry_ok(rc, e->last_try, now))
		return 0;
	next = e->ans.next_update != 0 ? e->ans.next_update :
	    e->fetched + cfg_long(rc->cfg.ocsp_ttl, 300);
	return due(rc, e->this_update ? e->this_update : e->fetched, next, now);
}

int
rev_cache_refresh(struct rev_cache *rc, time_t now)
{
	struct crl_entry **crls = NULL;
	struct ocsp_entry **ocsps = NULL;
	size_t i, nc = 0, no = 0;
	int renewed = 0;

	if (rc == NULL)
		return 0;
	pthread_mutex_lock(&rc->lock);
	if ((crls = calloc(rc->ncfg + rc->ncdp + 1, sizeof(*crls))) == NULL ||
	    (ocsps = calloc(rc->nocsp + 1, sizeof(*ocsps))) == NULL)
		goto out;
	/* pin what is due; renewing drops the lock for each entry */
	for (i = 0; i < rc->ncfg + rc->ncdp; i++) {
		struct crl_entry *e = i < rc->ncfg ? rc->cfgcrl[i] :
		    rc->cdp[i - rc->ncfg];

		if (crl_due(rc, e, now) && (i < rc->ncfg || e->uses > 0)) {
			e->busy++;
			crls[nc++] = e;
		}
	}
	for (i = 0; !rc->cfg.no_fetch && i < rc->nocsp; i++)
		if (ocsp_due(rc, rc->ocsp[i], now)) {
			rc->ocsp[i]->busy++;
			ocsps[no++] = rc->ocsp[i];
		}
	for (i = 0; i < nc; i++) {
		if (!crls[i]->inflight &&
		    crl_refresh_locked(rc, crls[i], time(NULL)) == 0)
			renewed++;
		crls[i]->busy--;
	}
	for (i = 0; i < no; i++) {
		if (!ocsps[i]->inflight &&
		    ocsp_refresh_locked(rc, ocsps[i], time(NULL)) == 0)
			renewed++;
		ocsps[i]->busy--;
	}
 out:
	pthread_mutex_unlock(&rc->lock);
	free(crls);
	free(ocsps);
	return renewed;
}

static void *
refresher(void *arg)
{
	struct rev_cache *rc = arg;
	struct timespec ts;

	pthread_mutex_lock(&rc->lock);
	while (!rc->thr_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += rc->period;
		while (!rc->thr_stop && pthread_cond_timedwait(&rc->wake,
		    &rc->lock, &ts) != ETIMEDOUT)
			;
		if (rc->thr_stop)
			break;
		pthread_mutex_unlock(&rc->lock);
		rev_cache_refresh(rc, time(NULL));
		pthread_mutex_lock(&rc->lock);
	}
	pthread_mutex_unlock(&rc->lock);
	return NULL;
}

int
rev_refresher_start(struct rev_cache *rc, unsigned period)
{
	sigset_t all, old;
	int r;

	if (rc == NULL)
		return GW_ERR_INVALID;
	pthread_mutex_lock(&rc->lock);
	if (rc->thr_on) {
		pthread_mutex_unlock(&rc->lock);
		return GW_ERR_STATE;
	}
	rc->period = period > 0 ? period : 60;
	rc->thr_stop = 0;
	/* signals belong to the main thread, not to the refresher */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&rc->thr, NULL, refresher, rc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	rc->thr_on = r == 0;
	pthread_mutex_unlock(&rc->lock);
	return r == 0 ? 0 : GW_ERR_INTERNAL;
}

void
rev_refresher_stop(struct rev_cache *rc)
{
	int on;

	if (rc == NULL)
		return;
	pthread_mutex_lock(&rc->lock);
	on = rc->thr_on;
	rc->thr_stop = 1;
	pthread_cond_broadcast(&rc->wake);
	pthread_mutex_unlock(&rc->lock);
	if (on)
		pthread_join(rc->thr, NULL);
	rc->thr_on = 0;
}
