/*
 * reload.c - configuration reload (SIGHUP, `gwctl reload`) on its own
 * thread, so that loading and checking never stall an io loop.
 *
 * A reload loads the configuration file the gateway started with (and its
 * profiles) whole, as at start.  It is refused, and the old configuration
 * keeps serving, when the file or a profile is wrong, when a key that only
 * a restart can change differs (confsnap_fixed_diff), or when the outcome
 * cannot be written to the audit log.  Otherwise the new snapshot is
 * installed: requests already checked keep the snapshot they started
 * with, new ones get the new one.
 *
 * Every outcome is audited (config.reloaded with "sha256:DIGEST", the
 * digest recorded with gateway.start; config.reload_refused with the
 * sentence) and written to the status file, atomically (util_write_file),
 * for `gwctl reload` to wait on:
 *
 *   pid 1234
 *   generation 3          (0 at start, +1 per reload attempt)
 *   result ok             (or refused)
 *   digest sha256:HEX     (the configuration serving now)
 *   message TEXT          (one sentence)
 *
 * SIGHUPs that arrive while a reload runs are folded into one more.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "gw.h"
#include "store.h"
#include "util.h"

static struct {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int want;
	int stop;
	int running;
	struct gw *gw;
	char listen[128];		/* --dev --listen override, "" if none */
	char status[PATH_MAX];
	unsigned long long gen;
} R = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void
write_status(int ok, const char *digest, const char *message)
{
	char buf[1600];
	int n;

	n = snprintf(buf, sizeof(buf), "pid %ld\ngeneration %llu\nresult %s\n"
	    "digest sha256:%s\nmessage %s\n", (long)getpid(), R.gen,
	    ok ? "ok" : "refused", digest, message);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    util_write_file(R.status, buf, (size_t)n, 0644) != 0)
		fprintf(stderr, "gatewayd: cannot write the reload status %s\n",
		    R.status);
}

static int
audit(const char *database, const char *event, int err, const char *detail)
{
	struct store_audit ev = { .event = event, .actor = "gateway",
	    .code = err ? gw_errcode(err) : "OK", .detail = detail };
	struct store *s;
	int r;

	if ((r = store_open(database, &s)) != 0)
		return r;
	r = store_audit(s, &ev);
	store_close(s);
	return r;
}

/* Loads and checks the configuration; on success *out is the snapshot. */
static int
load_next(const struct confsnap *cur, struct confsnap **out, char *why,
    size_t whylen)
{
	struct config *nc = NULL;
	struct confsnap *next = NULL;
	int r;

	why[0] = '\0';
	if ((r = config_load(cur->cfg->path, &nc, why, whylen)) != 0) {
		if (why[0] == '\0')
			snprintf(why, whylen, "%s: %s", cur->cfg->path,
			    gw_strerror(r));
		return r;
	}
	if (R.listen[0])
		util_strlcpy(nc->listen, R.listen, sizeof(nc->listen));
	if ((r = confsnap_new(nc, &next)) != 0) {
		snprintf(why, whylen, "out of memory");
		return r;
	}
	if ((r = confsnap_fixed_diff(cur, next, why, whylen)) != 0) {
		confsnap_release(next);
		return r;
	}
	*out = next;
	return 0;
}

static void
reload_once(void)
{
	struct confsnap *cur, *next = NULL;
	char why[1024], detail[1100];
	int r;

	if ((cur = confsnap_acquire(R.gw)) == NULL)
		return;
	R.gen++;
	if ((r = load_next(cur, &next, why, sizeof(why))) == 0) {
		snprintf(detail, sizeof(detail), "sha256:%s", next->digest);
		/* Not recorded, not installed: the log names every
		 * configuration the gateway served with. */
		if ((r = audit(cur->cfg->database, "config.reloaded", 0,
		    detail)) != 0)
			snprintf(why, sizeof(why), "the reload could not be "
			    "recorded in the audit log: %s", gw_strerror(r));
	}
	if (r == 0) {
		fprintf(stderr, "gatewayd: reloaded the configuration, sha256 %s\n",
		    next->digest);
		snprintf(why, sizeof(why), "configuration sha256:%s is serving",
		    next->digest);
		write_status(1, next->digest, why);
		confsnap_install(R.gw, next);
		next = NULL;
	} else {
		util_utf8_clean(why);
		fprintf(stderr, "gatewayd: reload refused, the configuration "
		    "sha256 %s keeps serving: %s\n", cur->digest, why);
		(void)audit(cur->cfg->database, "config.reload_refused",
		    GW_ERR_CONFIG, why);
		write_status(0, cur->digest, why);
	}
	confsnap_release(next);
	confsnap_release(cur);
}

static void *
reload_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&R.mu);
	for (;;) {
		while (!R.want && !R.stop)
			pthread_cond_wait(&R.cv, &R.mu);
		if (R.stop)
			break;
		R.want = 0;
		pthread_mutex_unlock(&R.mu);
		reload_once();
		pthread_mutex_lock(&R.mu);
	}
	pthread_mutex_unlock(&R.mu);
	return NULL;
}

int
reload_start(struct gw *gw, const char *listen, const char *status)
{
	struct confsnap *cur;

	if (util_strlcpy(R.status, status, sizeof(R.status)) >= sizeof(R.status))
		return GW_ERR_CONFIG;
	util_strlcpy(R.listen, listen ? listen : "", sizeof(R.listen));
	R.gw = gw;
	if ((cur = confsnap_acquire(gw)) == NULL)
		return GW_ERR_INTERNAL;
	write_status(1, cur->digest, "started");
	confsnap_release(cur);
	if (pthread_create(&R.tid, NULL, reload_main, NULL) != 0)
		return GW_ERR_INTERNAL;
	R.running = 1;
	return 0;
}

void
reload_request(void)
{
	pthread_mutex_lock(&R.mu);
	R.want = 1;
	pthread_cond_signal(&R.cv);
	pthread_mutex_unlock(&R.mu);
}

void
reload_stop(void)
{
	if (!R.running)
		return;
	pthread_mutex_lock(&R.mu);
	R.stop = 1;
	pthread_cond_signal(&R.cv);
	pthread_mutex_unlock(&R.mu);
	pthread_join(R.tid, NULL);
	R.running = 0;
}
