/*
 * loadgen.c - the load generator of `make bench` (bench/run.sh).
 *
 *   loadgen --cert PEM --key PEM --ca PEM [--url URL] [--concurrency N]
 *           [--seconds S] [--docs N] [--size BYTES] [--from ID] [--to ID]
 *
 * Documents: each submission is built with libxml2 the way `gwctl sample`
 * builds one, its Content padded with application text until the signed
 * document is about --size bytes, signed with xmldsig_sign() (the portal's
 * key, through keys.c) and serialised once, before any clock runs.  Each
 * has its own MessageID (run id + index): the same MessageID again would get
 * the idempotent replay, not an intake.  Preparation is spread over one
 * thread per core; progress goes to stderr.
 *
 * Load: --concurrency slots, each one libcurl easy handle that is reused for
 * every request it sends, on one multi handle whose connection cache keeps
 * the mutual-TLS connections alive.  A slot takes the next document as soon
 * as its answer is in.  Three steps, only the last one timed:
 *  1. warm-up: WARMUP_PER_SLOT documents per slot, sent until used up; this
 *     opens the connections (no handshake in the measurement) and gives a
 *     rough rate of the gateway;
 *  2. the pool for the timed run: --docs documents, by default twice what
 *     that rate needs for --seconds (a document cannot be sent twice, and
 *     signing thousands ahead costs time and memory);
 *  3. the timed run, until --seconds have passed (or the pool is used up,
 *     which is reported); requests in flight at the deadline are waited for
 *     and counted, and the rate is taken over the time to the last answer.
 *
 * Only 202 without "Gateway-Replay" counts as accepted; latencies (request
 * handed to libcurl until the whole answer is in) are of accepted requests.
 * Everything else is an error, counted by status (0 = no HTTP answer), and
 * the first few are printed to stderr with their body.  Results go to
 * stdout, one "name value" line each.  Exit status: 0 when every request
 * was accepted, 3 when some were not (the results are still printed), 1
 * when the run could not be done, 2 for a usage error.
 *
 * Threads: the preparation threads share the key and certificate (only
 * read; keys_sign() and xmldsig_sign() are thread-safe after
 * xmldsig_global_init()); the load phase runs on the main thread alone.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "keys.h"
#include "pki.h"
#include "util.h"
#include "xmldsig.h"

#define NS_SUBMISSION	"urn:gatewayd:submission:1"
#define NS_ANTRAG	"urn:example:antrag"
#define MAX_PREP_THREADS 16
#define MAX_SHOWN	5	/* failed answers printed to stderr */
#define BODY_KEEP	1024	/* bytes of an answer kept for printing */
#define WARMUP_PER_SLOT	50	/* warm-up documents per connection */
#define MAX_POOL_BYTES	(2048UL << 20)	/* cap of an automatic --docs */
#define MAX_STATUS	600	/* status counters 0..599; 0 = no HTTP answer */

static const char loadgen_help[] =
    "usage: loadgen --cert PEM --key PEM --ca PEM [OPTIONS]\n\n"
    "Submits distinct RSA/EC-signed documents to a gatewayd over keep-alive\n"
    "mutual TLS and prints accepted documents per second, latency\n"
    "percentiles and errors.  The documents are prepared and signed before\n"
    "the clock starts; an untimed warm-up of 50 documents per connection\n"
    "opens the connections first.\n\n"
    "Options:\n"
    "  --url URL          the submissions endpoint\n"
    "                     (default https://127.0.0.1:8443/v1/submissions)\n"
    "  --cert PEM         the portal's certificate: TLS client and signer\n"
    "  --key PEM          the portal's private key: TLS client and signer\n"
    "  --ca PEM           the CA that issued the gateway's certificate\n"
    "  --from ID          the sending portal (default portal-1)\n"
    "  --to ID            the reader authority (default authority-a)\n"
    "  --concurrency N    connections, one request at a time each (default 8)\n"
    "  --seconds S        length of the load phase (default 20)\n"
    "  --docs N           documents to prepare for the timed run, one request\n"
    "                     each (default: twice what the warm-up rate needs)\n"
    "  --size BYTES       size of a signed document (default 10240)\n"
    "  --help             this text\n";

struct opts {
	const char *url, *cert, *key, *ca, *from, *to;
	long concurrency, seconds, docs, size;
};

/* One prepared submission: the signed bytes, exactly as sent. */
struct doc {
	xmlChar *buf;
	size_t len;
};

/* The pool and what its preparation threads share. */
struct pool {
	const struct opts *o;
	struct keys *key;
	X509 *cert;
	char run_id[20];	/* 16 random hex digits: MessageIDs unique per run */
	size_t pad;		/* bytes of application text per document */
	int pad_set;
	struct doc *docs;
	size_t n;		/* documents ready */
	/* pool_grow() in progress: documents [n, end) */
	size_t end;
	atomic_size_t next;	/* next index to prepare */
	atomic_size_t done;	/* documents prepared in this round */
	atomic_int err;		/* first failure, 0 if none */
};

/* One connection's worth of load: a reused easy handle. */
struct slot {
	CURL *h;
	double t0;		/* when the request was handed to libcurl */
	int replay;		/* "Gateway-Replay" seen in the answer */
	char body[BODY_KEEP + 1];
	size_t body_len;
	char errbuf[CURL_ERROR_SIZE];
};

struct results {
	double *lat_ms;		/* accepted requests, in completion order */
	size_t accepted, requests, errors, replays;
	size_t status[MAX_STATUS];
	long connects;		/* connections libcurl had to open */
	double t_start, t_end;	/* first request sent, last answer in */
	/* Steady state: from the answer that completed the first round (every
	 * slot has its connection) to the first slot left without a document
	 * before the deadline (t_dry 0: none was); accepted so far at each. */
	double t_full, t_dry;
	size_t n_full, n_dry;
	int shown;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- documents ---------------------------------------------------------- */

/*
 * Application text for the padding: the explanations an applicant gives in
 * a housing benefit application.  ASCII and UTF-8 both, no markup
 * characters, so its serialised size is its length.
 */
static const char *const sentences[] = {
	"Seit dem 1. September lebe ich mit meiner Tochter allein in der Wohnung.",
	"Die Miete wurde zum Jahresbeginn um 45,00 Euro monatlich erh\xc3\xb6ht; "
	    "das Schreiben des Vermieters liegt als Anlage bei.",
	"Mein Einkommen setzt sich aus einer Teilzeitbesch\xc3\xa4" "ftigung mit "
	    "25 Wochenstunden und Kindergeld zusammen.",
	"Die Heizkosten werden monatlich als Abschlag an den Vermieter gezahlt "
	    "und j\xc3\xa4hrlich abgerechnet.",
	"Unterhaltsleistungen f\xc3\xbcr meine Tochter erhalte ich nicht; der "
	    "Antrag auf Unterhaltsvorschuss ist gestellt.",
	"Verm\xc3\xb6gen \xc3\xbc" "ber den Freibetr\xc3\xa4gen ist nicht "
	    "vorhanden; die Kontoausz\xc3\xbcge der letzten drei Monate sind "
	    "beigef\xc3\xbcgt.",
	"Im Haushalt leben keine weiteren Personen, auch nicht "
	    "vor\xc3\xbc" "bergehend.",
	"Die Wohnung liegt im zweiten Obergeschoss und wurde 1978 bezugsfertig.",
	"Ein Wohnberechtigungsschein wurde nicht erteilt.",
	"Der Arbeitgeber hat die Verdienstbescheinigung f\xc3\xbcr die letzten "
	    "zw\xc3\xb6lf Monate ausgestellt; Sonderzahlungen sind ausgewiesen.",
	"Bitte richten Sie R\xc3\xbc" "ckfragen an die angegebene Telefonnummer, "
	    "werktags ab 14 Uhr.",
	"Leistungen nach dem SGB II oder dem SGB XII beziehe ich nicht und habe "
	    "sie auch nicht beantragt.",
	"Die Kaltmiete enth\xc3\xa4lt keine Zuschl\xc3\xa4ge f\xc3\xbcr "
	    "M\xc3\xb6" "blierung oder Garage.",
	"Mein fr\xc3\xbcherer Wohngeldbescheid lief am 31. Dezember aus; das "
	    "Aktenzeichen ist oben angegeben.",
	"Ich versichere, dass die Angaben vollst\xc3\xa4ndig sind und der "
	    "Wahrheit entsprechen.",
	"\xc3\x84nderungen der Einkommensverh\xc3\xa4ltnisse teile ich der "
	    "Wohngeldbeh\xc3\xb6rde unverz\xc3\xbcglich mit.",
	"Die Nebenkostenabrechnung des Vorjahres ergab eine Nachzahlung von "
	    "112,40 Euro.",
	"Zur Wohnung geh\xc3\xb6rt ein Kellerraum, der nicht gesondert vermietet "
	    "ist.",
	"Der Mietvertrag ist unbefristet und wurde am 15. M\xc3\xa4rz 2019 "
	    "geschlossen.",
	"F\xc3\xbcr die Betreuung meiner Tochter fallen Kitageb\xc3\xbchren von "
	    "monatlich 180,00 Euro an.",
};
#define NSENTENCES (sizeof(sentences) / sizeof(sentences[0]))

static xmlNodePtr
text(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *value)
{
	return xmlNewTextChild(parent, ns, (const xmlChar *)name,
	    (const xmlChar *)value);
}

/* <Name><Identifier type="gatewayd">id</Identifier></Name> under parent. */
static int
add_party(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *id)
{
	xmlNodePtr p, ident;

	if ((p = xmlNewChild(parent, ns, (const xmlChar *)name, NULL)) == NULL ||
	    (ident = text(p, ns, "Identifier", id)) == NULL ||
	    xmlNewProp(ident, (const xmlChar *)"type",
	    (const xmlChar *)"gatewayd") == NULL)
		return GW_ERR_NOMEM;
	return 0;
}

static int
add_metadata(xmlNodePtr root, xmlNsPtr ns, const struct opts *o,
    const char *msgid)
{
	xmlNodePtr md, n;

	if ((md = xmlNewChild(root, ns, (const xmlChar *)"MessageMetaData",
	    NULL)) == NULL ||
	    (n = xmlNewChild(md, ns, (const xmlChar *)"Originators", NULL)) == NULL ||
	    add_party(n, ns, "Sender", o->from) != 0 ||
	    (n = xmlNewChild(md, ns, (const xmlChar *)"Destinations", NULL)) == NULL ||
	    add_party(n, ns, "Reader", o->to) != 0 ||
	    (n = xmlNewChild(md, ns, (const xmlChar *)"MsgIdentification",
	    NULL)) == NULL ||
	    text(n, ns, "MessageID", msgid) == NULL ||
	    (n = xmlNewChild(md, ns, (const xmlChar *)"Qualifier", NULL)) == NULL ||
	    text(n, ns, "Subject", "Antrag auf Wohngeld") == NULL ||
	    text(n, ns, "Service", "urn:gatewayd:service:example") == NULL ||
	    text(n, ns, "BusinessScenario", "example") == NULL)
		return GW_ERR_NOMEM;
	return 0;
}

/*
 * Paragraphs of application text, about pad bytes serialised, chosen by a
 * small generator seeded with the document's index so that documents
 * differ.  The last sentence is cut at a space to land close to pad.
 */
static int
add_padding(xmlNodePtr app, xmlNsPtr ns, size_t idx, size_t pad)
{
	static const size_t tags = sizeof("<a:Absatz></a:Absatz>") - 1;
	unsigned long seed = 2166136261UL ^ (unsigned long)idx;
	xmlNodePtr why;
	char para[1024];
	size_t used, len, room;
	const char *s;
	int k;

	if (pad < 2 * tags)
		return 0;
	if ((why = xmlNewChild(app, ns, (const xmlChar *)"Begruendung",
	    NULL)) == NULL)
		return GW_ERR_NOMEM;
	for (used = 2 * tags; used + tags < pad; used += len + tags) {
		/* Half of para: the sentence that crosses room always fits, so
		 * snprintf() never cuts one (and a UTF-8 sequence) itself. */
		room = pad - used - tags;
		if (room > sizeof(para) / 2)
			room = sizeof(para) / 2;
		para[0] = '\0';
		len = 0;
		for (k = 0; k < 4 && len < room; k++) {
			seed = seed * 1103515245UL + 12345UL;
			s = sentences[(seed >> 16) % NSENTENCES];
			len += (size_t)snprintf(para + len, sizeof(para) - len,
			    "%s%s", len ? " " : "", s);
			if (len >= sizeof(para))
				len = sizeof(para) - 1;
		}
		if (len > room) {	/* cut at a space: never inside UTF-8 */
			len = room;
			while (len > 0 && para[len] != ' ')
				len--;
			if (len == 0)
				break;
			para[len] = '\0';
		}
		if (text(why, ns, "Absatz", para) == NULL)
			return GW_ERR_NOMEM;
	}
	return 0;
}

/* The application, in a namespace of its own (##other in the schema). */
static int
add_content(xmlNodePtr content, size_t idx, size_t pad)
{
	xmlNodePtr app, n;
	xmlNsPtr ns;
	char income[32];

	if ((app = xmlNewChild(content, NULL, (const xmlChar *)"Antrag",
	    NULL)) == NULL ||
	    (ns = xmlNewNs(app, (const xmlChar *)NS_ANTRAG,
	    (const xmlChar *)"a")) == NULL)
		return GW_ERR_NOMEM;
	xmlSetNs(app, ns);
	snprintf(income, sizeof(income), "%zu.00", 1500 + idx % 1000);
	if ((n = xmlNewChild(app, ns, (const xmlChar *)"Antragsteller",
	    NULL)) == NULL ||
	    text(n, ns, "Vorname", "Erika") == NULL ||
	    text(n, ns, "Familienname", "Mustermann") == NULL ||
	    text(n, ns, "Geburtsdatum", "1964-08-12") == NULL ||
	    text(n, ns, "Anschrift",
	    "Heidestra\xc3\x9f" "e 17, 51147 K\xc3\xb6ln") == NULL ||
	    (n = xmlNewChild(app, ns, (const xmlChar *)"Haushalt", NULL)) == NULL ||
	    text(n, ns, "Personen", "2") == NULL ||
	    text(n, ns, "MonatlichesBruttoeinkommen", income) == NULL ||
	    (n = xmlNewChild(app, ns, (const xmlChar *)"Wohnung", NULL)) == NULL ||
	    text(n, ns, "Wohnflaeche", "68") == NULL ||
	    text(n, ns, "Bruttokaltmiete", "780.00") == NULL ||
	    text(n, ns, "Heizkosten", "95.00") == NULL ||
	    text(app, ns, "Antragsart", "Erstantrag") == NULL)
		return GW_ERR_NOMEM;
	return add_padding(app, ns, idx, pad);
}

/* Document idx of the pool, unsigned, with pad bytes of text. */
static int
doc_build(const struct pool *p, size_t idx, size_t pad, xmlDocPtr *out)
{
	xmlDocPtr doc;
	xmlNodePtr root, n;
	xmlNsPtr ns;
	char msgid[64];
	int r = GW_ERR_NOMEM;

	/* Fixed width, so every document has the same size. */
	snprintf(msgid, sizeof(msgid), "bench-%s-%010zu", p->run_id, idx);
	if ((doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL)
		return GW_ERR_NOMEM;
	if ((root = xmlNewNode(NULL, (const xmlChar *)"Submission")) == NULL)
		goto out;
	xmlDocSetRootElement(doc, root);
	if ((ns = xmlNewNs(root, (const xmlChar *)NS_SUBMISSION,
	    (const xmlChar *)"gw")) == NULL)
		goto out;
	xmlSetNs(root, ns);
	if ((r = add_metadata(root, ns, p->o, msgid)) != 0)
		goto out;
	r = GW_ERR_NOMEM;
	if ((n = xmlNewChild(root, ns, (const xmlChar *)"Content", NULL)) == NULL)
		goto out;
	if ((r = add_content(n, idx, pad)) != 0)
		goto out;
	*out = doc;
	doc = NULL;
	r = 0;
 out:
	xmlFreeDoc(doc);
	return r;
}

/* Builds, signs and serialises document idx into *out. */
static int
doc_make(const struct pool *p, size_t idx, size_t pad, struct doc *out)
{
	xmlDocPtr doc = NULL;
	xmlChar *buf = NULL;
	int r, len = 0;

	if ((r = doc_build(p, idx, pad, &doc)) != 0)
		goto out;
	if ((r = xmldsig_sign(doc, p->key, p->cert, NULL, 0)) != 0)
		goto out;
	/* Not re-indented: these bytes are the ones that were signed. */
	xmlDocDumpMemoryEnc(doc, &buf, &len, "UTF-8");
	if (buf == NULL || len <= 0) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	out->buf = buf;
	out->len = (size_t)len;
	buf = NULL;
	r = 0;
 out:
	xmlFree(buf);
	xmlFreeDoc(doc);
	return r;
}

static void *
prep_thread(void *arg)
{
	struct pool *p = arg;
	size_t i;
	int r;

	while (atomic_load(&p->err) == 0 &&
	    (i = atomic_fetch_add(&p->next, 1)) < p->end) {
		if ((r = doc_make(p, i, p->pad, &p->docs[i])) != 0) {
			int zero = 0;

			atomic_compare_exchange_strong(&p->err, &zero, r);
			break;
		}
		atomic_fetch_add(&p->done, 1);
	}
	return NULL;
}

/* The portal's key and certificate, which must belong together. */
static int
pool_load_signer(struct pool *p)
{
	EVP_PKEY *pub;
	int r;

	if ((r = keys_load(p->o->key, &p->key)) != 0) {
		fprintf(stderr, "loadgen: cannot load the key %s: %s\n", p->o->key,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		return r;
	}
	if ((r = pki_read_cert(p->o->cert, &p->cert)) != 0) {
		fprintf(stderr, "loadgen: cannot read a certificate from %s\n",
		    p->o->cert);
		return r;
	}
	pub = keys_public(p->key);
	r = EVP_PKEY_eq(pub, X509_get0_pubkey(p->cert));
	EVP_PKEY_free(pub);
	if (r != 1) {
		fprintf(stderr, "loadgen: the certificate %s does not belong to the "
		    "key %s\n", p->o->cert, p->o->key);
		return GW_ERR_INVALID;
	}
	return 0;
}

/* On a terminal one line redrawn; otherwise a line per tenth done. */
static void
progress(const struct pool *p, size_t count, size_t before, size_t done,
    double t0, int final)
{
	double dt = now_s() - t0;

	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\rloadgen: preparing documents: %zu/%zu%s", done,
		    count, final ? "\n" : "");
	else if (!final && done * 10 / count != before * 10 / count)
		fprintf(stderr, "loadgen: preparing documents: %zu/%zu\n", done,
		    count);
	if (final)
		fprintf(stderr, "loadgen: %zu documents of %zu bytes signed with "
		    "%s-%d in %.1f s (%.0f/s)\n", count, p->docs[p->n - 1].len,
		    keys_type(p->key) == EVP_PKEY_RSA ? "RSA" : "EC",
		    keys_bits(p->key), dt, dt > 0 ? (double)count / dt : 0.0);
}

/*
 * The padding, sized once from a document built without any, so that the
 * signed documents come out at about --size bytes.
 */
static int
pool_size_padding(struct pool *p)
{
	struct doc probe = { NULL, 0 };
	int r;

	if ((r = doc_make(p, 0, 0, &probe)) != 0) {
		fprintf(stderr, "loadgen: cannot sign a document: %s\n", gw_strerror(r));
		return r;
	}
	p->pad = (size_t)p->o->size > probe.len ? (size_t)p->o->size - probe.len : 0;
	p->pad_set = 1;
	xmlFree(probe.buf);
	return 0;
}

/* Runs the preparation threads over [p->n, p->end) and waits for them. */
static int
pool_run_threads(struct pool *p, size_t count)
{
	pthread_t th[MAX_PREP_THREADS];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t last = 0, done;
	double t0 = now_s();
	int i, nth, zero = 0;

	nth = ncpu < 1 ? 1 : ncpu > MAX_PREP_THREADS ? MAX_PREP_THREADS : (int)ncpu;
	if ((size_t)nth > count)
		nth = (int)count;
	for (i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, prep_thread, p) != 0) {
			atomic_compare_exchange_strong(&p->err, &zero, GW_ERR_INTERNAL);
			nth = i;
			break;
		}
	while ((done = atomic_load(&p->done)) < count &&
	    atomic_load(&p->err) == 0) {
		if (done != last) {
			progress(p, count, last, done, t0, 0);
			last = done;
		}
		usleep(200 * 1000);
	}
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&p->err) != 0)
		return atomic_load(&p->err);
	p->n = p->end;
	progress(p, count, last, count, t0, 1);
	return 0;
}

/* Adds count documents to the pool, after those already there. */
static int
pool_grow(struct pool *p, size_t count)
{
	struct doc *docs;
	int r;

	if (!p->pad_set && (r = pool_size_padding(p)) != 0)
		return r;
	if (count > SIZE_MAX / sizeof(*docs) - p->n ||
	    (docs = realloc(p->docs, (p->n + count) * sizeof(*docs))) == NULL) {
		fprintf(stderr, "loadgen: out of memory for %zu documents\n", count);
		return GW_ERR_NOMEM;
	}
	memset(docs + p->n, 0, count * sizeof(*docs));
	p->docs = docs;
	p->end = p->n + count;
	atomic_store(&p->next, p->n);
	atomic_store(&p->done, 0);
	if ((r = pool_run_threads(p, count)) != 0) {
		fprintf(stderr, "\nloadgen: cannot prepare a document: %s\n",
		    gw_strerror(r));
		return r;
	}
	return 0;
}

static void
pool_free(struct pool *p)
{
	size_t i;

	if (p->docs != NULL)	/* a failed round leaves some past n */
		for (i = 0; i < p->end; i++)
			xmlFree(p->docs[i].buf);
	free(p->docs);
	X509_free(p->cert);
	keys_free(p->key);
}

/* ---- load --------------------------------------------------------------- */

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct slot *s = arg;
	size_t n = size * nmemb, keep = BODY_KEEP - s->body_len;

	if (keep > n)
		keep = n;
	memcpy(s->body + s->body_len, data, keep);
	s->body_len += keep;
	s->body[s->body_len] = '\0';
	return n;	/* the rest is dropped, not an error */
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	static const char replay[] = "Gateway-Replay:";
	struct slot *s = arg;
	size_t n = size * nmemb;

	if (n >= sizeof(replay) - 1 &&
	    strncasecmp(data, replay, sizeof(replay) - 1) == 0)
		s->replay = 1;
	return n;
}

/* Options that stay the same for every request of a slot. */
static int
slot_init(struct slot *s, const struct opts *o, struct curl_slist *hdrs)
{
	CURL *h;

	if ((h = curl_easy_init()) == NULL)
		return GW_ERR_NOMEM;
	s->h = h;
	if (curl_easy_setopt(h, CURLOPT_URL, o->url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLCERT, o->cert) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLKEY, o->key) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAINFO, o->ca) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, s) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, s) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L) != CURLE_OK)
		return GW_ERR_INTERNAL;
	return 0;
}

static int
slot_start(CURLM *m, struct slot *s, const struct doc *d)
{
	s->replay = 0;
	s->body_len = 0;
	s->body[0] = '\0';
	s->errbuf[0] = '\0';
	if (curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)d->len) != CURLE_OK ||
	    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, d->buf) != CURLE_OK)
		return GW_ERR_INTERNAL;
	s->t0 = now_s();
	if (curl_multi_add_handle(m, s->h) != CURLM_OK)
		return GW_ERR_INTERNAL;
	return 0;
}

/* Books the answer a slot got. */
static void
slot_done(struct slot *s, CURLcode cc, struct results *res, double t)
{
	long status = 0, conns = 0;

	res->requests++;
	res->t_end = t;
	if (cc == CURLE_OK)
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(s->h, CURLINFO_NUM_CONNECTS, &conns);
	res->connects += conns;
	if (status < 0 || status >= MAX_STATUS)
		status = 0;
	res->status[status]++;
	if (status == 202 && !s->replay) {
		res->lat_ms[res->accepted++] = (t - s->t0) * 1000.0;
		return;
	}
	res->errors++;
	res->replays += s->replay;
	if (res->shown++ >= MAX_SHOWN)
		return;
	if (cc != CURLE_OK)
		fprintf(stderr, "loadgen: request failed: %s\n",
		    s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
	else
		fprintf(stderr, "loadgen: answer %ld%s:\n%s%s\n", status,
		    s->replay ? " (replay)" : "", s->body,
		    s->body_len == BODY_KEEP ? "..." : "");
}

/* What one run_load() sends. */
struct phase {
	const struct doc *docs;
	size_t n;
	long seconds;		/* 0: until the documents are used up */
};

/*
 * Keeps every slot busy until the deadline or the end of the documents,
 * then waits for the requests in flight.  m keeps its connections for the
 * next phase.
 */
static int
run_load(CURLM *m, struct slot *slots, long nslots, const struct phase *ph,
    struct results *res)
{
	CURLMsg *msg;
	size_t next = 0;
	double deadline, t;
	long i, active = 0;
	int running, left;

	res->t_start = res->t_end = now_s();
	deadline = ph->seconds > 0 ? res->t_start + (double)ph->seconds : 1e300;
	for (i = 0; i < nslots && next < ph->n; i++, active++)
		if (slot_start(m, &slots[i], &ph->docs[next++]) != 0)
			return GW_ERR_INTERNAL;
	while (active > 0) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			return GW_ERR_INTERNAL;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct slot *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			t = now_s();
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &s);
			slot_done(s, msg->data.result, res, t);
			curl_multi_remove_handle(m, s->h);	/* msg is gone now */
			active--;
			if (res->requests == (size_t)nslots) {
				res->t_full = t;
				res->n_full = res->accepted;
			}
			if (t >= deadline)
				continue;
			if (next == ph->n) {
				if (res->t_dry == 0) {
					res->t_dry = t;
					res->n_dry = res->accepted;
				}
				continue;
			}
			if (slot_start(m, s, &ph->docs[next++]) != 0)
				return GW_ERR_INTERNAL;
			active++;
		}
		if (active > 0 && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK)
			return GW_ERR_INTERNAL;
	}
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least q of them at or below. */
static double
percentile(const double *sorted, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n);

	if ((double)k < q * (double)n)
		k++;

	return sorted[k > 0 ? k - 1 : 0];
}

static void
report(const struct opts *o, const struct phase *ph, struct results *res)
{
	double dt = res->t_end - res->t_start;
	int i;

	qsort(res->lat_ms, res->accepted, sizeof(*res->lat_ms), cmp_double);
	printf("concurrency    %ld keep-alive connections, %ld opened during "
	    "the run\n", o->concurrency, res->connects);
	printf("document bytes %zu\n", ph->docs[0].len);
	printf("duration s     %.2f\n", dt);
	printf("total          %zu\n", res->requests);
	printf("accepted       %zu\n", res->accepted);
	printf("accepted/s     %.1f\n", dt > 0 ? (double)res->accepted / dt : 0.0);
	if (res->accepted > 0) {
		printf("p50 ms         %.1f\n", percentile(res->lat_ms, res->accepted, 0.50));
		printf("p99 ms         %.1f\n", percentile(res->lat_ms, res->accepted, 0.99));
	} else {
		printf("p50 ms         -\n");
		printf("p99 ms         -\n");
	}
	printf("errors         %zu", res->errors);
	for (i = 0; i < MAX_STATUS; i++) {
		if (i == 0 && res->status[0] > 0)
			printf(" (no answer: %zu)", res->status[0]);
		else if (i == 202 && res->replays > 0)
			printf(" (202 replayed: %zu)", res->replays);
		else if (i != 0 && i != 202 && res->status[i] > 0)
			printf(" (%d: %zu)", i, res->status[i]);
	}
	printf("\n");
	if (res->t_dry > 0)
		printf("note           the %zu documents were used up after "
		    "%.1f s of %ld; run with more --docs\n", ph->n,
		    res->t_dry - res->t_start, o->seconds);
	fflush(stdout);
}

/* ---- options and main --------------------------------------------------- */

static int
number(const char *name, const char *arg, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "loadgen: --%s wants a number from %ld to %ld, not "
		    "\"%s\"\n", name, min, max, arg);
		return 2;
	}
	*out = v;
	return 0;
}

/* 0: go on; -1: --help printed; 2: usage error (printed). */
static int
options(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "concurrency", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "docs", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, r = 0;

	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'a': o->ca = optarg; break;
		case 'f': o->from = optarg; break;
		case 't': o->to = optarg; break;
		case 'n': r = number("concurrency", optarg, 1, 1024, &o->concurrency); break;
		case 's': r = number("seconds", optarg, 1, 3600, &o->seconds); break;
		case 'd': r = number("docs", optarg, 1, 10000000, &o->docs); break;
		case 'z': r = number("size", optarg, 0, 16L << 20, &o->size); break;
		case 'h':
			fputs(loadgen_help, stdout);
			return -1;
		default:
			fprintf(stderr, "loadgen: unknown option or missing value: %s\n",
			    argv[optind - 1]);
			r = 2;
		}
	}
	if (r == 0 && optind != argc) {
		fprintf(stderr, "loadgen: unexpected argument \"%s\"\n", argv[optind]);
		r = 2;
	}
	if (r == 0 && (o->cert == NULL || o->key == NULL || o->ca == NULL)) {
		fprintf(stderr, "loadgen: --cert, --key and --ca are required\n");
		r = 2;
	}
	if (r != 0)
		fprintf(stderr, "usage: loadgen --cert PEM --key PEM --ca PEM "
		    "[OPTIONS]; see --help\n");
	return r;
}

/* The headers every request carries. */
static struct curl_slist *
request_headers(void)
{
	struct curl_slist *h, *all;

	if ((h = curl_slist_append(NULL, "Content-Type: application/xml")) == NULL)
		return NULL;
	/* No "Expect: 100-continue": it would cost a round trip per request. */
	if ((all = curl_slist_append(h, "Expect:")) == NULL)
		curl_slist_free_all(h);
	return all;
}

/*
 * Not timed: opens the connections (the handshakes stay out of the
 * measurement) and tells roughly how fast the gateway takes documents, so
 * that the pool can be sized for --seconds.  Fails if nothing is accepted.
 */
static int
warm_up(CURLM *m, struct slot *slots, const struct opts *o, struct pool *p,
    double *rate)
{
	struct phase ph = { NULL, (size_t)(WARMUP_PER_SLOT * o->concurrency), 0 };
	struct results res;
	size_t first = p->n;
	double dt;
	int r;

	*rate = 0;
	memset(&res, 0, sizeof(res));
	if ((r = pool_grow(p, ph.n)) != 0)
		return r;
	ph.docs = p->docs + first;
	if ((res.lat_ms = calloc(ph.n, sizeof(*res.lat_ms))) == NULL)
		return GW_ERR_NOMEM;
	if ((r = run_load(m, slots, o->concurrency, &ph, &res)) != 0) {
		fprintf(stderr, "loadgen: libcurl failed\n");
		goto out;
	}
	/* The steady state if there was one; the first round has handshakes. */
	if (res.t_dry > res.t_full && res.n_dry > res.n_full && res.t_full > 0)
		*rate = (double)(res.n_dry - res.n_full) / (res.t_dry - res.t_full);
	else if ((dt = res.t_end - res.t_start) > 0)
		*rate = (double)res.accepted / dt;
	fprintf(stderr, "loadgen: warm-up: %zu of %zu accepted (%.0f/s), %ld "
	    "connections opened\n", res.accepted, res.requests, *rate, res.connects);
	r = 0;
	if (res.accepted == 0) {
		fprintf(stderr, "loadgen: nothing was accepted; stopping\n");
		r = GW_ERR_INVALID;
	}
 out:
	free(res.lat_ms);
	return r;
}

/* --docs unless given: twice what the warm-up rate needs. */
static size_t
pool_target(const struct opts *o, const struct pool *p, double rate)
{
	double want = rate * (double)o->seconds * 2 + (double)o->concurrency;
	double most = (double)MAX_POOL_BYTES / (double)p->docs[0].len;

	if (o->docs > 0)
		return (size_t)o->docs;
	if (want > most)
		want = most;
	if (want < 100)
		want = 100;
	fprintf(stderr, "loadgen: %zu documents for %ld s at up to %.0f/s "
	    "(--docs to choose)\n", (size_t)want, o->seconds,
	    want / (double)o->seconds);
	return (size_t)want;
}

/* Warm-up, the pool, the timed run and its report: 0, 3 or 1 (see top). */
static int
bench(const struct opts *o, struct pool *p, CURLM *m, struct slot *slots)
{
	struct phase ph = { NULL, 0, o->seconds };
	struct results res;
	size_t first;
	double rate = 0;
	int r, rc = 1;

	memset(&res, 0, sizeof(res));
	if ((r = warm_up(m, slots, o, p, &rate)) != 0)
		return r == GW_ERR_INVALID ? 3 : 1;
	first = p->n;
	ph.n = pool_target(o, p, rate);
	if (pool_grow(p, ph.n) != 0)
		return 1;
	ph.docs = p->docs + first;
	if ((res.lat_ms = calloc(ph.n, sizeof(*res.lat_ms))) == NULL)
		return 1;
	fprintf(stderr, "loadgen: %ld connections for %ld s to %s\n",
	    o->concurrency, o->seconds, o->url);
	if (run_load(m, slots, o->concurrency, &ph, &res) != 0) {
		fprintf(stderr, "loadgen: libcurl failed\n");
		goto out;
	}
	report(o, &ph, &res);
	rc = res.errors > 0 || res.accepted == 0 ? 3 : 0;
 out:
	free(res.lat_ms);
	return rc;
}

/* The slots and the multi handle around bench(). */
static int
load(const struct opts *o, struct pool *p)
{
	struct curl_slist *hdrs = request_headers();
	struct slot *slots = calloc((size_t)o->concurrency, sizeof(*slots));
	CURLM *m = curl_multi_init();
	long i;
	int rc = 1;

	if (slots == NULL || hdrs == NULL || m == NULL)
		goto out;
	for (i = 0; i < o->concurrency; i++)
		if (slot_init(&slots[i], o, hdrs) != 0 ||
		    curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]) != CURLE_OK)
			goto out;
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, o->concurrency);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, o->concurrency);
	rc = bench(o, p, m, slots);
 out:
	if (slots != NULL)
		for (i = 0; i < o->concurrency; i++) {
			if (m != NULL)
				curl_multi_remove_handle(m, slots[i].h);
			curl_easy_cleanup(slots[i].h);
		}
	curl_multi_cleanup(m);
	free(slots);
	curl_slist_free_all(hdrs);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { "https://127.0.0.1:8443/v1/submissions", NULL, NULL,
	    NULL, "portal-1", "authority-a", 8, 20, 0, 10240 };
	struct pool p;
	char id[40];
	int r, rc = 1;

	if ((r = options(argc, argv, &o)) != 0)
		return r < 0 ? 0 : 2;
	memset(&p, 0, sizeof(p));
	p.o = &o;
	util_new_id(id);
	util_strlcpy(p.run_id, id + 3, 17);	/* 64 of its 128 random bits */
	xmlInitParser();
	if (xmldsig_global_init() != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "loadgen: cannot initialise the libraries\n");
		return 1;
	}
	if (pool_load_signer(&p) == 0)
		rc = load(&o, &p);
	pool_free(&p);
	curl_global_cleanup();
	xmldsig_global_cleanup();
	return rc;
}
