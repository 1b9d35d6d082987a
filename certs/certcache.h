/*
 * certcache.h - bounded, thread-safe caches of decoded certificates and of
 * path validation results, keyed by SHA-256.
 *
 * Decoding a signer certificate and validating its path was about 40% of
 * the cost of one submission; most submissions come from a few signers.
 * chain_verify_ex() keeps its reports here (keyed by a hash of everything
 * the result depends on, see chain.c); certcache_x509() hands out one
 * shared decoded X509 per distinct DER encoding.
 *
 * Invalidation: certcache_invalidate() (trust changed) drops every entry
 * and bumps the generation; a result computed while that happened is not
 * stored (certcache_put() gets the generation read before the work began).
 * Each result also carries a caller's stamp (the revocation generation)
 * that must still be current on lookup, and an expiry time.
 */
#ifndef GW_CERTCACHE_H
#define GW_CERTCACHE_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>

struct certcache;

struct certcache_stats {
	unsigned long hits, misses, stores, evictions;
	size_t results, certs;		/* entries now */
};

/* max: entries per table (0: 1024); ttl: longest life of a result (0: 300). */
int certcache_new(size_t max, long ttl, struct certcache **out);
void certcache_free(struct certcache *c);		/* accepts NULL */

/* Drops everything; results being computed now will not be stored. */
void certcache_invalidate(struct certcache *c);
unsigned long certcache_generation(const struct certcache *c);
long certcache_ttl(const struct certcache *c);

/*
 * 1 and a copy of the stored value (exactly len bytes) in val and its code
 * in *rc when key is cached with the same stamp and expires after now;
 * 0 otherwise.
 */
int certcache_get(struct certcache *c, const unsigned char key[32],
    unsigned long stamp, time_t now, void *val, size_t len, int *rc);
/*
 * Stores a copy of val unless the cache generation is no longer gen (an
 * invalidation happened meanwhile) or expires is not after now.  Evicts the
 * least recently used entry when full.  Out of memory: not stored.
 */
void certcache_put(struct certcache *c, const unsigned char key[32],
    unsigned long gen, unsigned long stamp, time_t expires, const void *val,
    size_t len, int rc);

/*
 * The certificate encoded by der/len, decoded once and shared: *out is a
 * new reference (X509_free() it).  The whole buffer must be one
 * certificate.  0, GW_ERR_INVALID or GW_ERR_NOMEM.  With c == NULL it just
 * decodes.
 */
int certcache_x509(struct certcache *c, const unsigned char *der,
    size_t len, X509 **out);

void certcache_stats(struct certcache *c, struct certcache_stats *st);

#endif
