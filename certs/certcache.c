/*
 * certcache.c - bounded caches of path validation results and decoded
 * certificates.  See certcache.h.
 *
 * Design: two tables of the same shape, each a hash table (chained, the
 * bucket taken from the first bytes of the SHA-256 key, which is uniform)
 * plus a doubly linked LRU list, most recent first; when a table is full
 * the tail goes.  One mutex guards both; nothing slow runs under it
 * (decoding a certificate happens before the lock is taken).  Values are
 * copied in and out, so no pointer into the cache escapes, except X509s,
 * which are reference counted.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certcache.h"
#include "err.h"

struct cc_entry {
	unsigned char key[32];
	unsigned long stamp;
	time_t expires;
	int rc;
	void *val;			/* results */
	size_t len;
	X509 *x509;			/* certificates */
	struct cc_entry *hnext;		/* bucket chain */
	struct cc_entry *prev, *next;	/* LRU list */
};

struct cc_table {
	struct cc_entry **bucket;
	size_t nbucket, n, max;
	struct cc_entry *head, *tail;
};

struct certcache {
	pthread_mutex_t lock;
	struct cc_table res, crt;
	unsigned long gen;
	long ttl;
	struct certcache_stats st;
};

static int
tab_init(struct cc_table *t, size_t max)
{
	t->max = max;
	for (t->nbucket = 16; t->nbucket < max; t->nbucket *= 2)
		;
	t->bucket = calloc(t->nbucket, sizeof(*t->bucket));
	return t->bucket != NULL ? 0 : GW_ERR_NOMEM;
}

static size_t
tab_slot(const struct cc_table *t, const unsigned char key[32])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)(h & (t->nbucket - 1));
}

static void
lru_unlink(struct cc_table *t, struct cc_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		t->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_front(struct cc_table *t, struct cc_entry *e)
{
	e->next = t->head;
	e->prev = NULL;
	if (t->head != NULL)
		t->head->prev = e;
	t->head = e;
	if (t->tail == NULL)
		t->tail = e;
}

static struct cc_entry *
tab_find(struct cc_table *t, const unsigned char key[32])
{
	struct cc_entry *e;

	for (e = t->bucket[tab_slot(t, key)]; e != NULL; e = e->hnext)
		if (memcmp(e->key, key, 32) == 0) {
			lru_unlink(t, e);
			lru_front(t, e);
			return e;
		}
	return NULL;
}

static void
entry_free(struct cc_entry *e)
{
	free(e->val);
	X509_free(e->x509);
	free(e);
}

static void
tab_remove(struct cc_table *t, struct cc_entry *e)
{
	struct cc_entry **pp = &t->bucket[tab_slot(t, e->key)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(t, e);
	t->n--;
	entry_free(e);
}

/* Inserts e (key not present); returns 1 if an old entry was evicted. */
static int
tab_insert(struct cc_table *t, struct cc_entry *e)
{
	size_t s = tab_slot(t, e->key);
	int evicted = 0;

	if (t->n >= t->max && t->tail != NULL) {
		tab_remove(t, t->tail);
		evicted = 1;
	}
	e->hnext = t->bucket[s];
	t->bucket[s] = e;
	lru_front(t, e);
	t->n++;
	return evicted;
}

static void
tab_clear(struct cc_table *t)
{
	while (t->head != NULL)
		tab_remove(t, t->head);
}

int
certcache_new(size_t max, long ttl, struct certcache **out)
{
	struct certcache *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return GW_ERR_NOMEM;
	if (max == 0)
		max = 1024;
	c->ttl = ttl > 0 ? ttl : 300;
	if (tab_init(&c->res, max) != 0 || tab_init(&c->crt, max) != 0) {
		free(c->res.bucket);
		free(c);
		return GW_ERR_NOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void
certcache_free(struct certcache *c)
{
	if (c == NULL)
		return;
	tab_clear(&c->res);
	tab_clear(&c->crt);
	free(c->res.bucket);
	free(c->crt.bucket);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void
certcache_invalidate(struct certcache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	tab_clear(&c->res);
	__atomic_add_fetch(&c->gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->lock);
}

unsigned long
certcache_generation(const struct certcache *c)
{
	return c == NULL ? 0 : __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);
}

long
certcache_ttl(const struct certcache *c)
{
	return c == NULL ? 0 : c->ttl;
}

int
certcache_get(struct certcache *c, const unsigned char key[32],
    unsigned long stamp, time_t now, void *val, size_t len, int *rc)
{
	struct cc_entry *e;
	int hit = 0;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	if ((e = tab_find(&c->res, key)) != NULL) {
		if (e->stamp != stamp || e->expires <= now || e->len != len)
			tab_remove(&c->res, e);	/* stale: make room */
		else {
			memcpy(val, e->val, len);
			*rc = e->rc;
			hit = 1;
		}
	}
	if (hit)
		c->st.hits++;
	else
		c->st.misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void
certcache_put(struct certcache *c, const unsigned char key[32],
    unsigned long gen, unsigned long stamp, time_t expires, const void *val,
    size_t len, int rc)
{
	struct cc_entry *e, *old;

	if (c == NULL || expires <= time(NULL))
		return;
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->val = malloc(len)) == NULL) {
		free(e);
		return;
	}
	memcpy(e->key, key, 32);
	memcpy(e->val, val, len);
	e->len = len;
	e->stamp = stamp;
	e->expires = expires;
	e->rc = rc;
	pthread_mutex_lock(&c->lock);
	if (gen != c->gen) {
		pthread_mutex_unlock(&c->lock);
		entry_free(e);
		return;
	}
	if ((old = tab_find(&c->res, key)) != NULL)
		tab_remove(&c->res, old);
	c->st.evictions += (unsigned long)tab_insert(&c->res, e);
	c->st.stores++;
	pthread_mutex_unlock(&c->lock);
}

int
certcache_x509(struct certcache *c, const unsigned char *der, size_t len,
    X509 **out)
{
	unsigned char key[32];
	const unsigned char *p = der;
	struct cc_entry *e, *ne = NULL;
	X509 *x;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return GW_ERR_INVALID;
	if (c != NULL) {
		if (EVP_Digest(der, len, key, NULL, EVP_sha256(), NULL) != 1)
			return GW_ERR_INTERNAL;
		pthread_mutex_lock(&c->lock);
		if ((e = tab_find(&c->crt, key)) != NULL &&
		    X509_up_ref(e->x509) == 1) {
			*out = e->x509;
			c->st.hits++;
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
		pthread_mutex_unlock(&c->lock);
	}
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		X509_free(x);
		return GW_ERR_INVALID;
	}
	if (c == NULL || (ne = calloc(1, sizeof(*ne))) == NULL ||
	    X509_up_ref(x) != 1) {
		free(ne);
		*out = x;	/* decoded, not cached */
		return 0;
	}
	memcpy(ne->key, key, 32);
	ne->x509 = x;
	pthread_mutex_lock(&c->lock);
	if (tab_find(&c->crt, key) == NULL) {
		c->st.evictions += (unsigned long)tab_insert(&c->crt, ne);
		c->st.misses++;
		ne = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (ne != NULL)
		entry_free(ne);	/* another thread was quicker; drops a ref */
	*out = x;
	return 0;
}

void
certcache_stats(struct certcache *c, struct certcache_stats *st)
{
	if (c == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	st->results = c->res.n;
	st->certs = c->crt.n;
	pthread_mutex_unlock(&c->lock);
}
