/*
 * deliver.c - push delivery: the thread that sends queued envelopes to the
 * authorities' endpoints and records their signed reception receipts.
 *
 * One thread, one libcurl multi handle (connection reuse, mutual TLS with
 * the gateway's certificate, the authority's endpoint_ca and/or
 * endpoint_pin (its public key) as the only trust, https only, no redirects, connect and total timeouts, a bounded
 * answer).  Every step goes through store_dlv.c in its own transaction
 * with an audit event: claim (delivering, attempt n), then delivered (the
 * receipt verified and stored, Reception recorded) or queued again with an
 * exponential back-off with jitter, or failed after max_attempts or
 * max_age.  The same gateway message id is sent on every attempt; the
 * authority de-duplicates on it.
 *
 * Circuit breaker per authority: after BREAK_AFTER failures in a row its
 * deliveries are not even claimed until the breaker's pause is over
 * (doubling, up to BREAK_MAX_MS); then one probe goes out.  A dead endpoint
 * costs others nothing, and an authority that comes back gets what waited
 * for it, oldest first.
 *
 * A receipt is accepted only if it parses safely, its enveloped signature
 * verifies and chains to the trusted CAs, the signer is exactly the
 * profile's receipt_cert, and it names our message id, the reader and the
 * SHA-256 of the envelope we sent.
 *
 * A message with attachments goes as multipart/related (docs/attachments.md):
 * the envelope, then each attachment's XML-Enc document, read from the
 * spool while libcurl sends it, so memory stays flat whatever the size.
 *
 * Configuration: each pass of the loop takes the current snapshot; after a
 * reload the breakers follow its push authorities (keeping the state of
 * those that stay).  A transfer keeps a reference to the snapshot it was
 * started with, so its profile (endpoint, receipt_cert, retries) stays the
 * same until it is finished.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/tree.h>
#include <openssl/rand.h>

#include "attach.h"
#include "bodysrc.h"
#include "err.h"
#include "gw.h"
#include "store.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define MAX_INFLIGHT	16
#define PER_READER	4
#define BREAK_AFTER	3
#define BREAK_MIN_MS	1000
#define BREAK_MAX_MS	60000
#define ANSWER_MAX	(1u << 20)
#define POLL_MS		200
#define NS_RECEIPT	"urn:gatewayd:receipt:1"
struct breaker {
	char reader[64];
	int failures;		/* in a row */
	int inflight;
	int64_t open_until;	/* ms; 0 = closed */
	int64_t pause_ms;
};

struct transfer {
	struct transfer *next;		/* in D.active */
	CURL *easy;
	struct curl_slist *hdrs;
	struct store_claim c;
	struct confsnap *snap;		/* a reference; p points into it */
	const struct party *p;
	unsigned char *answer;
	size_t answer_len;
	int too_big;
	char sha[65];		/* of the envelope sent */
	struct bodysrc *body;		/* multipart body; NULL: the envelope alone */
};

static struct {
	pthread_t tid;
	pthread_mutex_t mu;
	int stop;
	int running;
	struct gw *gw;
	struct store *store;
	CURLM *multi;
	struct breaker *br;
	size_t nbr;
	uint64_t seq;			/* snapshot the breakers follow */
	int inflight;
	struct transfer *active;
} D = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
transfer_free(struct transfer *t)
{
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->hdrs);
	bodysrc_free(t->body);
	free(t->c.envelope);
	free(t->answer);
	confsnap_release(t->snap);
	free(t);
}

/* libcurl's read callback for a multipart body. */
static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct transfer *t = arg;
	long got = bodysrc_read(t->body, buf, size * nitems);

	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

/*
 * The multipart/related body of a message with attachments (t->body) and
 * its Content-Type header in ctype; t->body stays NULL if it has none.
 */
static int
build_multipart(struct transfer *t, char *ctype, size_t ctlen)
{
	struct store_att *a = NULL, one;
	struct attach_reader *rd;
	char bnd[40], text[300], path[1100], *hdr = NULL, *ftr = NULL;
	unsigned char rnd[12];
	size_t na = 0, i, hl, fl;
	int r;

	if ((r = store_att_list(D.store, t->c.msg_id, &a, &na)) != 0 || na == 0)
		goto out;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		r = GW_ERR_CRYPTO;
		goto out;
	}
	memcpy(bnd, "gw-", 3);
	util_hex(rnd, sizeof(rnd), bnd + 3);
	snprintf(ctype, ctlen, "Content-Type: multipart/related; boundary=\"%s\"; "
	    "type=\"application/soap+xml\"; start=\"<envelope>\"", bnd);
	snprintf(text, sizeof(text), "--%s\r\nContent-Type: application/soap+xml; "
	    "charset=utf-8\r\nContent-ID: <envelope>\r\n\r\n", bnd);
	if ((r = bodysrc_new(&t->body)) != 0 ||
	    (r = bodysrc_add_mem(t->body, text, strlen(text), 1)) != 0 ||
	    (r = bodysrc_add_mem(t->body, t->c.envelope, t->c.envelope_len, 0)) != 0)
		goto out;
	for (i = 0; i < na; i++) {
		snprintf(text, sizeof(text), "\r\n--%s\r\nContent-Type: "
		    "application/xml\r\nContent-ID: <%s>\r\n\r\n", bnd,
		    a[i].att_id);
		if ((r = bodysrc_add_mem(t->body, text, strlen(text), 1)) != 0 ||
		    (r = store_att_get(D.store, t->c.msg_id, t->c.reader,
		    a[i].att_id, &one, &hdr, &hl, &ftr, &fl)) != 0 ||
		    (r = util_path_join(D.gw->spool_dir, one.path, path,
		    sizeof(path))) != 0 ||
		    (r = attach_reader_open(path, hdr, hl, ftr, fl, &rd)) != 0 ||
		    (r = bodysrc_add_reader(t->body, rd)) != 0)
			goto out;
		free(hdr);
		free(ftr);
		hdr = ftr = NULL;
	}
	snprintf(text, sizeof(text), "\r\n--%s--\r\n", bnd);
	r = bodysrc_add_mem(t->body, text, strlen(text), 1);
 out:
	free(hdr);
	free(ftr);
	free(a);
	return r;
}

static struct breaker *
breaker(const char *reader)
{
	size_t i;

	for (i = 0; i < D.nbr; i++)
		if (strcmp(D.br[i].reader, reader) == 0)
			return &D.br[i];
	return NULL;
}

/* store_dlv_claim's skip: an open breaker, or enough in flight already. */
static int
skip_reader(void *arg, const char *reader)
{
	struct breaker *b = breaker(reader);
	int64_t now = *(int64_t *)arg;

	if (b == NULL)
		return 1;	/* no longer configured for push */
	if (b->open_until > now)
		return 1;
	/* half-open after a pause: one probe at a time */
	if (b->failures >= BREAK_AFTER && b->inflight > 0)
		return 1;
	if (b->inflight >= PER_READER)
		return 1;
	b->inflight++;		/* reserved; claim() takes it or we undo it */
	return 0;
}

static size_t
on_answer(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;
	unsigned char *p;

	if (t->answer_len + n > ANSWER_MAX) {
		t->too_big = 1;
		return 0;	/* aborts the transfer */
	}
	if ((p = realloc(t->answer, t->answer_len + n + 1)) == NULL)
		return 0;
	memcpy(p + t->answer_len, ptr, n);
	t->answer = p;
	t->answer_len += n;
	p[t->answer_len] = 0;
	return n;
}

static int
start(struct store_claim *c, struct confsnap *snap)
{
	struct transfer *t;
	const struct config *cfg = snap->cfg;
	const struct party *p = config_party(cfg, c->reader);
	char ctype[200];

	/* skip_reader let only the snapshot's push authorities through */
	if (p == NULL || strcmp(p->delivery, "push") != 0)
		return GW_ERR_STATE;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return GW_ERR_NOMEM;
	t->c = *c;
	c->envelope = NULL;	/* now the transfer's */
	t->snap = confsnap_ref(snap);
	t->p = p;
	util_sha256_hex(t->c.envelope, t->c.envelope_len, t->sha);
	if ((t->easy = curl_easy_init()) == NULL)
		goto fail;
	if (build_multipart(t, ctype, sizeof(ctype)) != 0)
		goto fail;
	t->hdrs = curl_slist_append(NULL, t->body ? ctype :
	    "Content-Type: application/soap+xml; charset=utf-8");
	t->hdrs = curl_slist_append(t->hdrs, "Expect:");
	curl_easy_setopt(t->easy, CURLOPT_URL, p->endpoint);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
	if (t->body) {
		curl_easy_setopt(t->easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(t->easy, CURLOPT_READDATA, t);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)bodysrc_total(t->body));
	} else {
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->c.envelope);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)t->c.envelope_len);
	}
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
	curl_easy_setopt(t->easy, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(t->easy, CURLOPT_CAPATH, NULL);
	if (p->endpoint_ca[0])
		curl_easy_setopt(t->easy, CURLOPT_CAINFO, p->endpoint_ca);
	else {
		/* pinned only: the key pin below is the whole trust */
		curl_easy_setopt(t->easy, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (p->endpoint_pin[0])
		curl_easy_setopt(t->easy, CURLOPT_PINNEDPUBLICKEY, p->endpoint_pin);
	curl_easy_setopt(t->easy, CURLOPT_SSLCERT, cfg->sign_cert);
	/* XXX: the TLS client key is read by libcurl, outside keys.c, like
	 * the server's in tls.c; both move with the key process. */
	curl_easy_setopt(t->easy, CURLOPT_SSLKEY, cfg->sign_key);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	if (t->body) {
		/* attachments may take long: give up only when nothing moves */
		curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_TIME, 60L);
	} else
		curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	if (curl_multi_add_handle(D.multi, t->easy) != CURLM_OK)
		goto fail;
	D.inflight++;
	t->next = D.active;
	D.active = t;
	return 0;
 fail:
	transfer_free(t);
	return GW_ERR_NOMEM;
}

static xmlNodePtr
rkid(xmlNodePtr parent, const char *name)
{
	xmlNodePtr c;

	for (c = parent ? parent->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns &&
		    strcmp((const char *)c->ns->href, NS_RECEIPT) == 0 &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

static int
rtext_is(xmlNodePtr n, const char *want)
{
	xmlChar *t;
	int ok;

	if (n == NULL || (t = xmlNodeGetContent(n)) == NULL)
		return 0;
	ok = strcmp((const char *)t, want) == 0;
	xmlFree(t);
	return ok;
}

/* 0 if the answer is a valid receipt for t; why says otherwise. */
static int
check_receipt(const struct transfer *t, char *why, size_t whylen)
{
	struct dsig_info info;
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	int r;

	memset(&info, 0, sizeof(info));
	if ((r = xmlparse_safe((const char *)t->answer, t->answer_len,
	    &xmlparse_default_limits, &doc)) != 0) {
		snprintf(why, whylen, "the answer is not a receipt: %s",
		    gw_strerror(r));
		return r;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL || root->ns == NULL ||
	    strcmp((const char *)root->ns->href, NS_RECEIPT) != 0 ||
	    strcmp((const char *)root->name, "ReceptionReceipt") != 0) {
		snprintf(why, whylen, "the answer is not a ReceptionReceipt");
		r = GW_ERR_INVALID;
	} else if ((r = xmldsig_verify(doc, D.gw->trust, 0, &info)) != 0) {
		snprintf(why, whylen, "the receipt's signature: %s", gw_strerror(r));
	} else if (X509_cmp(info.signer, t->p->receipt_cert) != 0) {
		snprintf(why, whylen, "the receipt is not signed with the "
		    "profile's receipt_cert");
		r = GW_ERR_SIG_INVALID;
	} else if (!rtext_is(rkid(root, "MessageID"), t->c.msg_id) ||
	    !rtext_is(rkid(root, "Reader"), t->c.reader)) {
		snprintf(why, whylen, "the receipt names another message or reader");
		r = GW_ERR_INVALID;
	} else if (!rtext_is(rkid(root, "SHA256"), t->sha)) {
		snprintf(why, whylen, "the receipt's SHA-256 is not that of the "
		    "envelope sent");
		r = GW_ERR_INVALID;
	}
	X509_free(info.signer);
	xmlFreeDoc(doc);
	return r;
}

static int64_t
backoff_ms(const struct party *p, int attempts)
{
	int64_t d = p->retry_base_ms;
	uint32_t rnd = 0;
	int i;

	for (i = 1; i < attempts && d < p->retry_max_ms; i++)
		d *= 2;
	if (d > p->retry_max_ms)
		d = p->retry_max_ms;
	/* +-25 % jitter, so that many messages do not retry in lockstep */
	(void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	return d * 3 / 4 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
}

static void
note_result(const char *reader, int ok)
{
	struct breaker *b = breaker(reader);

	if (b == NULL)
		return;
	b->inflight--;
	if (ok) {
		b->failures = 0;
		b->open_until = 0;
		b->pause_ms = BREAK_MIN_MS;
		return;
	}
	if (++b->failures >= BREAK_AFTER) {
		b->open_until = util_now_ms() + b->pause_ms;
		b->pause_ms = b->pause_ms * 2 > BREAK_MAX_MS ? BREAK_MAX_MS :
		    b->pause_ms * 2;
	}
}

static void
failed_attempt(const struct transfer *t, const char *why)
{
	struct store_audit ev = { .actor = "gateway", .msg_id = t->c.msg_id,
	    .reader = t->c.reader, .detail = why };
	int64_t now = util_now_ms();
	int r;

	if (t->c.attempts >= t->p->max_attempts ||
	    now - t->c.created_ms > t->p->max_age * 1000) {
		ev.event = "delivery.failed";
		ev.code = "DELIVERY_FAILED";
		r = store_dlv_give_up(D.store, t->c.msg_id, t->c.reader,
		    STORE_ST_FAILED, why, &ev);
	} else {
		ev.event = "delivery.retry";
		ev.code = "RETRY";
		r = store_dlv_retry(D.store, t->c.msg_id, t->c.reader,
		    now + backoff_ms(t->p, t->c.attempts), why, &ev);
	}
	if (r != 0)
		fprintf(stderr, "gatewayd: deliver: cannot record an attempt of %s "
		    "to %s: %s\n", t->c.msg_id, t->c.reader, gw_strerror(r));
}

static void
finish(struct transfer *t, CURLcode cc)
{
	struct store_audit ev = { .event = "delivery.delivered",
	    .actor = t->c.reader, .msg_id = t->c.msg_id, .reader = t->c.reader,
	    .code = "OK" };
	char why[300], detail[160];
	long status = 0;
	int ok = 0, r;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		snprintf(why, sizeof(why), "%s%s", t->too_big ?
		    "the answer is too large: " : "", curl_easy_strerror(cc));
	else if (status != 200)
		snprintf(why, sizeof(why), "the endpoint answered HTTP %ld", status);
	else if (check_receipt(t, why, sizeof(why)) == 0)
		ok = 1;
	util_utf8_clean(why);
	if (ok) {
		snprintf(detail, sizeof(detail), "receipt verified, attempt %d, "
		    "sha256 %.16s...", t->c.attempts, t->sha);
		ev.detail = detail;
		r = store_dlv_delivered(D.store, t->c.msg_id, t->c.reader, t->answer,
		    t->answer_len, util_now_ms(), &ev);
		if (r != 0)
			fprintf(stderr, "gatewayd: deliver: cannot record the "
			    "delivery of %s: %s\n", t->c.msg_id, gw_strerror(r));
	} else
		failed_attempt(t, why);
	note_result(t->c.reader, ok);
	for (struct transfer **pp = &D.active; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	curl_multi_remove_handle(D.multi, t->easy);
	transfer_free(t);
	D.inflight--;
}

/* The in-flight count per reader, from the transfers that really run. */
static void
recount(void)
{
	struct transfer *t;
	struct breaker *b;
	size_t i;

	for (i = 0; i < D.nbr; i++)
		D.br[i].inflight = 0;
	for (t = D.active; t; t = t->next)
		if ((b = breaker(t->c.reader)) != NULL)
			b->inflight++;
}

static void
claim_more(struct confsnap *snap)
{
	struct store_claim *c = NULL;
	size_t n = 0, i;
	int64_t now = util_now_ms();
	int want = MAX_INFLIGHT - D.inflight;

	if (want <= 0)
		return;
	/* skip_reader counts each row it lets through as in flight. */
	if (store_dlv_claim(D.store, now, want, skip_reader, &now, &c, &n) != 0) {
		recount();	/* rolled back: nothing was claimed */
		return;
	}
	for (i = 0; i < n; i++)
		if (start(&c[i], snap) != 0) {
			struct store_audit ev = { .event = "delivery.retry",
			    .actor = "gateway", .msg_id = c[i].msg_id,
			    .reader = c[i].reader, .code = "RETRY",
			    .detail = "could not start the transfer" };
			(void)store_dlv_retry(D.store, c[i].msg_id, c[i].reader,
			    now + 1000, "could not start the transfer", &ev);
			note_result(c[i].reader, 0);
		}
	store_claims_free(c, n);
}

/*
 * One breaker per push authority of snap, keeping the state of those that
 * were there before; then the in-flight counts from the running transfers.
 * Delivery thread (and deliver_start before it runs).
 */
static int
breakers_sync(const struct confsnap *snap)
{
	const struct config *c = snap->cfg;
	struct breaker *br, *old;
	size_t i, n = 0;

	if ((br = calloc(c->nparties ? c->nparties : 1, sizeof(*br))) == NULL)
		return GW_ERR_NOMEM;
	for (i = 0; i < c->nparties; i++) {
		if (c->parties[i].kind != PARTY_AUTHORITY ||
		    strcmp(c->parties[i].delivery, "push") != 0)
			continue;
		if ((old = breaker(c->parties[i].id)) != NULL)
			br[n] = *old;
		else {
			util_strlcpy(br[n].reader, c->parties[i].id,
			    sizeof(br[n].reader));
			br[n].pause_ms = BREAK_MIN_MS;
		}
		n++;
	}
	free(D.br);
	D.br = br;
	D.nbr = n;
	D.seq = snap->seq;
	recount();
	return 0;
}

static void *
deliver_main(void *arg)
{
	struct confsnap *snap;
	int running = 0, msgs;
	CURLMsg *m;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&D.mu);
		if (D.stop) {
			pthread_mutex_unlock(&D.mu);
			break;
		}
		pthread_mutex_unlock(&D.mu);
		if ((snap = confsnap_acquire(D.gw)) != NULL) {
			if (snap->seq != D.seq && breakers_sync(snap) != 0)
				fprintf(stderr, "gatewayd: deliver: out of memory "
				    "following the new configuration\n");
			claim_more(snap);
			confsnap_release(snap);
		}
		curl_multi_perform(D.multi, &running);
		while ((m = curl_multi_info_read(D.multi, &msgs)) != NULL) {
			struct transfer *t = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			finish(t, m->data.result);
		}
		curl_multi_poll(D.multi, NULL, 0, POLL_MS, NULL);
	}
	/* Stopping: what is still in flight stays delivering in the store
	 * and is queued again at the next start (store_dlv_recover). */
	while (D.active) {
		struct transfer *t = D.active;
		D.active = t->next;
		curl_multi_remove_handle(D.multi, t->easy);
		transfer_free(t);
	}
	return NULL;
}

int
deliver_start(struct gw *gw)
{
	struct confsnap *snap;
	int r, recovered = 0;

	D.gw = gw;
	if ((snap = confsnap_acquire(gw)) == NULL)
		return GW_ERR_INTERNAL;
	if ((r = breakers_sync(snap)) == 0)
		r = store_open(snap->cfg->database, &D.store);
	confsnap_release(snap);
	if (r != 0)
		return r;
	if ((r = store_dlv_recover(D.store, &recovered)) != 0)
		return r;
	if (recovered > 0)
		fprintf(stderr, "gatewayd: %d push deliveries interrupted by the "
		    "last stop are queued again\n", recovered);
	if ((D.multi = curl_multi_init()) == NULL)
		return GW_ERR_NOMEM;
	curl_multi_setopt(D.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)PER_READER);
	if (pthread_create(&D.tid, NULL, deliver_main, NULL) != 0)
		return GW_ERR_INTERNAL;
	D.running = 1;
	return 0;
}

void
deliver_stop(void)
{
	if (D.running) {
		pthread_mutex_lock(&D.mu);
		D.stop = 1;
		pthread_mutex_unlock(&D.mu);
		curl_multi_wakeup(D.multi);
		pthread_join(D.tid, NULL);
		D.running = 0;
	}
	if (D.multi)
		curl_multi_cleanup(D.multi);
	D.multi = NULL;
	store_close(D.store);
	D.store = NULL;
	free(D.br);
	D.br = NULL;
	D.nbr = 0;
}
