/*
 * confsnap.h - reference-counted configuration snapshots (confsnap.c).
 *
 * A snapshot is one loaded struct config (and everything derived from it:
 * its parties) that stays valid while anyone holds a reference.  struct gw
 * points at the current one; a reload installs a new one and drops the
 * gateway's reference to the old, which is freed when its last user (a
 * request, a push transfer) lets go.
 */
#ifndef GW_CONFSNAP_H
#define GW_CONFSNAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct gw;

struct confsnap {
	atomic_long refs;
	uint64_t seq;		/* 1 for the first, +1 per installed reload */
	struct config *cfg;	/* owned; immutable */
	char digest[65];	/* confsnap_digest() of cfg, at creation */
	char fixed_sha[65];	/* SHA-256 of the restart-only files' bytes */
};

/* Takes over cfg (also on failure); the snapshot starts with one reference. */
int confsnap_new(struct config *cfg, struct confsnap **out);
/* One more reference to s (which the caller holds); returns s. */
struct confsnap *confsnap_ref(struct confsnap *s);
/* Drops one reference; the last one frees the snapshot.  NULL is a no-op. */
void confsnap_release(struct confsnap *s);

/* Initialises gw's snapshot lock; gw->conf starts out NULL. */
void confsnap_init(struct gw *gw);
/* A reference to the current snapshot (NULL only before the first
 * install); any thread.  Release it with confsnap_release(). */
struct confsnap *confsnap_acquire(struct gw *gw);
/* Makes s (whose reference the gateway takes over; NULL at shutdown) the
 * current snapshot, numbers it, and releases the old one. */
void confsnap_install(struct gw *gw, struct confsnap *s);

/*
 * Whether next may replace cur while the gateway runs: 0 if every key that
 * only a restart can change (listen, TLS, CAs, signing key, database,
 * threads, max_body, revocation, crl) has the same value, and the files
 * loaded once at start still have the same bytes.  Otherwise
 * GW_ERR_CONFIG and why gets one sentence naming the key.
 */
int confsnap_fixed_diff(const struct confsnap *cur, const struct confsnap *next,
    char *why, size_t whylen);

/*
 * SHA-256 over everything the configuration consists of: the gateway file,
 * every profile (in name order), the trust and client CA files and the
 * signing certificate (as recorded with gateway.start and config.reloaded).
 */
void confsnap_digest(const struct config *c, char out[65]);

#endif
