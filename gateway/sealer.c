/*
 * sealer.c - the thread that seals the audit log: every SEAL_INTERVAL_MS it
 * adds the new events' tree nodes and one signed checkpoint (store_log.c).
 * One private-key operation per batch, none per message.  It seals once
 * more when the daemon stops, so a clean stop leaves nothing unsealed; after
 * a crash the next start seals what was left (the events themselves were
 * committed with their state changes).
 *
 * It also applies retention (store_log_purge): at start and about once a
 * minute, every authority's delivered message bodies older than its
 * profile's retention are deleted, each with its audit event.
 *
 * Owns its own store connection.  The signature goes through keys_sign().
 * Each retention run uses the configuration snapshot current at its start.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "gw.h"
#include "pki.h"
#include "store.h"
#include "util.h"

#define SEAL_INTERVAL_MS 1000
#define PURGE_EVERY	60	/* seal intervals between retention runs */

static struct {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int running;
	struct gw *gw;
	char database[512];
	char key_sha256[65];
} L = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

int
sealer_sign(void *arg, const unsigned char *msg, size_t len,
    unsigned char **sig, size_t *siglen)
{
	struct keys *k = arg;

	return keys_sign(k, keys_type(k) == EVP_PKEY_EC ? KEYS_SIG_ECDSA :
	    KEYS_SIG_RSA_PKCS1, EVP_sha256(), msg, len, sig, siglen);
}

static void
seal_now(struct store *s)
{
	int r;

	r = store_log_seal(s, sealer_sign, L.gw->sign_key, L.key_sha256, NULL);
	if (r != 0)
		fprintf(stderr, "gatewayd: sealing the audit log failed: %s\n",
		    gw_strerror(r));
}

/* Deletes the bodies whose retention has passed (profiles: retention). */
static void
purge_now(struct store *s)
{
	struct confsnap *snap = confsnap_acquire(L.gw);
	const struct config *c;
	const struct party *p;
	int64_t now = util_now_ms();
	size_t i;
	int r;

	if (snap == NULL)
		return;
	c = snap->cfg;
	for (i = 0; i < c->nparties; i++) {
		p = &c->parties[i];
		if (p->kind != PARTY_AUTHORITY)
			continue;
		r = store_log_purge(s, p->id,
		    now - (int64_t)p->retention_days * 86400000, p->retention_days,
		    L.gw->spool_dir, NULL);
		if (r != 0)
			fprintf(stderr, "gatewayd: retention for %s failed: %s\n",
			    p->id, gw_strerror(r));
	}
	confsnap_release(snap);
}

/* Messages not delivered before their ObsoleteAfter expire, each with
 * its audit event (store_dlv_expire); before sealing, so they are in. */
static void
expire_now(struct store *s)
{
	int n = 0, r;

	if ((r = store_dlv_expire(s, util_now_ms(), &n)) != 0)
		fprintf(stderr, "gatewayd: expiring messages failed: %s\n",
		    gw_strerror(r));
}

static void *
sealer_main(void *arg)
{
	struct store *s = arg;
	struct timespec ts;
	unsigned ticks = 0;

	pthread_mutex_lock(&L.mu);
	while (!L.stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(SEAL_INTERVAL_MS % 1000) * 1000000L;
		ts.tv_sec += SEAL_INTERVAL_MS / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&L.cv, &L.mu, &ts);
		pthread_mutex_unlock(&L.mu);
		server_flush_refusals(s);
		expire_now(s);
		if (++ticks % PURGE_EVERY == 0)
			purge_now(s);
		seal_now(s);
		pthread_mutex_lock(&L.mu);
	}
	pthread_mutex_unlock(&L.mu);
	store_close(s);
	return NULL;
}

int
sealer_start(struct gw *gw)
{
	struct confsnap *snap;
	struct store *s;
	int r;

	if ((snap = confsnap_acquire(gw)) == NULL)
		return GW_ERR_INTERNAL;
	util_strlcpy(L.database, snap->cfg->database, sizeof(L.database));
	confsnap_release(snap);
	L.gw = gw;
	if ((r = pki_cert_fingerprint(gw->sign_cert, L.key_sha256)) != 0)
		return r;
	if ((r = store_open(L.database, &s)) != 0)
		return r;
	seal_now(s);		/* what a crash left unsealed */
	purge_now(s);
	if (pthread_create(&L.tid, NULL, sealer_main, s) != 0) {
		store_close(s);
		return GW_ERR_INTERNAL;
	}
	L.running = 1;
	return 0;
}

void
sealer_stop(void)
{
	if (!L.running)
		return;
	pthread_mutex_lock(&L.mu);
	L.stop = 1;
	pthread_cond_signal(&L.cv);
	pthread_mutex_unlock(&L.mu);
	pthread_join(L.tid, NULL);
	L.running = 0;
}

/* Seals at once with its own connection (shutdown, after the last event). */
void
sealer_final(struct gw *gw)
{
	struct store *s;

	(void)gw;
	if (L.gw == NULL || store_open(L.database, &s) != 0)
		return;
	server_flush_refusals(s);
	seal_now(s);
	store_close(s);
}
