/*
 * submit.c - POST /v1/submissions: from the received bytes to a durably
 * stored, encrypted message, on a worker thread.
 *
 * Order of checks (each failure is answered and audited, nothing stored):
 *   1. media type, size (evhttp already enforced max_body)
 *   2. safe parse (no DTD, limits), then the XSD
 *   3. the Sender is the authenticated portal
 *   4. idempotency: (portal, MessageID) seen before -> same bytes: the
 *      original receipt again; other bytes: 409
 *   5. readers known and allowed for this portal and service
 *   6. the enveloped signature and the signer's chain
 * Then: container, one envelope per reader (encrypted only for that
 * reader), the signed receipt, and one store transaction with the audit
 * events.  Only after that commit (fsync) does the 202 leave.
 *
 * Signature wrapping: every value routed on is read from the document
 * whose root element the verified Reference URI="" covers entirely, and the
 * verifier refuses any second Signature, so nothing unsigned is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "chain.h"
#include "err.h"
#include "gw.h"
#include "pki.h"
#include "render.h"
#include "store.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define NS_SUB "urn:gatewayd:submission:1"
#define MAX_READERS 16

struct meta {
	char sender[64];
	char pmid[256];
	char service[256];
	char scenario[256];
	char subject[512];
	int64_t obsolete_ms;		/* ObsoleteAfter, 0 if none */
	char *readers[MAX_READERS];
	char reader_buf[MAX_READERS][64];
	size_t nreaders;
};

static xmlNodePtr
elem(xmlNodePtr parent, const char *name)
{
	xmlNodePtr c;

	for (c = parent ? parent->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns &&
		    strcmp((const char *)c->ns->href, NS_SUB) == 0 &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* Copies the text of an element; GW_ERR_SCHEMA if absent or too long. */
static int
text(xmlNodePtr n, char *out, size_t outlen, int optional)
{
	xmlChar *t;
	size_t len;

	if (n == NULL) {
		out[0] = '\0';
		return optional ? 0 : GW_ERR_SCHEMA;
	}
	if ((t = xmlNodeGetContent(n)) == NULL)
		return GW_ERR_NOMEM;
	len = util_strlcpy(out, (const char *)t, outlen);
	xmlFree(t);
	return len < outlen ? 0 : GW_ERR_TOO_LARGE;
}

/*
 * An xs:dateTime with a time zone (the schema insists) to ms since the
 * epoch: YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm).
 */
static int
parse_datetime(const char *s, int64_t *out)
{
	struct tm tm;
	int Y, M, D, h, m, sec, n = 0, oh = 0, om = 0, sign = 0;
	long ms = 0;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec,
	    &n) != 6 || n != 19)
		return GW_ERR_INVALID;
	p = s + n;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		while (digits++ < 3)
			ms *= 10;
	}
	if (*p == 'Z' && p[1] == '\0')
		sign = 0;
	else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 &&
	    strlen(p) == 6)
		sign = *p == '+' ? 1 : -1;
	else
		return GW_ERR_INVALID;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*out = ((int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60)) * 1000 + ms;
	return 0;
}

static int
read_meta(xmlDocPtr doc, struct meta *m)
{
	char when[64];
	xmlNodePtr md, o, d, c, q;
	int r;

	md = elem(xmlDocGetRootElement(doc), "MessageMetaData");
	o = elem(md, "Originators");
	d = elem(md, "Destinations");
	q = elem(md, "Qualifier");
	if ((r = text(elem(elem(o, "Sender"), "Identifier"), m->sender,
	    sizeof(m->sender), 0)) != 0 ||
	    (r = text(elem(elem(md, "MsgIdentification"), "MessageID"), m->pmid,
	    sizeof(m->pmid), 0)) != 0 ||
	    (r = text(elem(q, "Service"), m->service, sizeof(m->service), 0)) != 0 ||
	    (r = text(elem(q, "BusinessScenario"), m->scenario,
	    sizeof(m->scenario), 0)) != 0 ||
	    (r = text(elem(q, "Subject"), m->subject, sizeof(m->subject), 1)) != 0 ||
	    (r = text(elem(elem(md, "DeliveryAttributes"), "ObsoleteAfter"), when,
	    sizeof(when), 1)) != 0)
		return r;
	if (when[0] && parse_datetime(when, &m->obsolete_ms) != 0)
		return GW_ERR_SCHEMA;
	for (c = d ? d->children : NULL; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (m->nreaders == MAX_READERS)
			return GW_ERR_TOO_LARGE;
		m->readers[m->nreaders] = m->reader_buf[m->nreaders];
		if ((r = text(elem(c, "Identifier"), m->reader_buf[m->nreaders],
		    sizeof(m->reader_buf[0]), 0)) != 0)
			return r;
		m->nreaders++;
	}
	return m->nreaders > 0 ? 0 : GW_ERR_SCHEMA;
}

static void
schema_error(void *arg, xmlErrorPtr e)
{
	struct worker *w = arg;
	size_t n;

	if (w->schema_err[0] != '\0' || e == NULL || e->message == NULL)
		return;
	snprintf(w->schema_err, sizeof(w->schema_err), "line %d: %s", e->line,
	    e->message);
	n = strlen(w->schema_err);
	while (n > 0 && (w->schema_err[n - 1] == '\n' || w->schema_err[n - 1] == ' '))
		w->schema_err[--n] = '\0';
}

static int
media_type_ok(const char *ct)
{
	size_t n = strcspn(ct, "; ");

	return (n == 15 && strncasecmp(ct, "application/xml", n) == 0) ||
	    (n == 8 && strncasecmp(ct, "text/xml", n) == 0);
}

/* Step 4: the same (portal, MessageID) before?  1 = answered, 0 = new. */
static int
replay(struct worker *w, const struct job_req *req, struct job_resp *resp,
    const struct meta *m, const char *sha)
{
	char id[40], oldsha[65], detail[160];
	struct store_audit ev = { .event = "submission.replayed",
	    .actor = req->client->id, .msg_id = id, .code = "OK", .detail = detail };
	unsigned char *receipt = NULL;
	size_t len = 0;
	int r;

	r = store_lookup_portal(w->store, req->client->id, m->pmid, id, oldsha,
	    &receipt, &len);
	if (r == GW_ERR_NOT_FOUND)
		return 0;
	if (r != 0) {
		api_error(resp, r, NULL);
		return 1;
	}
	if (strcmp(oldsha, sha) != 0) {
		free(receipt);
		snprintf(detail, sizeof(detail), "MessageID %.64s reused with other "
		    "content (sha256 %.16s...)", m->pmid, sha);
		api_reject(w, req, resp, "submission.rejected", id,
		    GW_ERR_DUPLICATE, detail);
		return 1;
	}
	snprintf(detail, sizeof(detail), "same bytes again, original receipt returned");
	(void)store_audit(w->store, &ev);
	resp->status = 202;
	resp->content_type = "application/xml";
	resp->replayed = 1;
	snprintf(resp->location, sizeof(resp->location), "/v1/submissions/%s", id);
	resp->body = receipt;
	resp->body_len = len;
	return 1;
}

/* Step 5: every reader is a known authority the portal may submit to
 * (in the request's configuration snapshot, like its client). */
static int
check_readers(const struct job_req *req,
    const struct meta *m, const struct party **out, char *why, size_t whylen)
{
	const struct party *p, *portal = req->client;
	size_t i, j;

	for (i = 0; i < m->nreaders; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(m->readers[i], m->readers[j]) == 0) {
				snprintf(why, whylen, "reader %s is named twice",
				    m->readers[i]);
				return GW_ERR_INVALID;
			}
		p = config_party(req->cfg, m->readers[i]);
		if (p == NULL || p->kind != PARTY_AUTHORITY) {
			snprintf(why, whylen, "reader %s is not a known authority",
			    m->readers[i]);
			return GW_ERR_UNKNOWN_READER;
		}
		if (!config_may_submit(req->cfg, portal, p, m->service)) {
			snprintf(why, whylen, "portal %s may not submit service %.100s "
			    "to %s", portal->id, m->service, p->id);
			return GW_ERR_UNKNOWN_READER;
		}
		/* Checked again at use: a daemon runs longer than a certificate
		 * may be valid, and nothing is accepted that cannot be encrypted. */
		if (p->enc_cert == NULL ||
		    X509_cmp_current_time(X509_get0_notAfter(p->enc_cert)) <= 0 ||
		    X509_cmp_current_time(X509_get0_notBefore(p->enc_cert)) >= 0) {
			snprintf(why, whylen, "reader %s has no valid encryption "
			    "certificate", p->id);
			return GW_ERR_UNKNOWN_READER;
		}
		if (p->max_size > 0 && req->body_len > p->max_size) {
			snprintf(why, whylen, "reader %s accepts at most %zu bytes",
			    p->id, p->max_size);
			return GW_ERR_TOO_LARGE;
		}
		out[i] = p;
	}
	return 0;
}

static void
fill_msg(struct store_msg *sm, const struct job_req *req, const struct meta *m,
    const struct dsig_info *info, const char *sha)
{
	memset(sm, 0, sizeof(*sm));
	util_new_id(sm->id);
	util_strlcpy(sm->portal, req->client->id, sizeof(sm->portal));
	util_strlcpy(sm->portal_msg_id, m->pmid, sizeof(sm->portal_msg_id));
	util_strlcpy(sm->sha256, sha, sizeof(sm->sha256));
	sm->size = (int64_t)req->body_len;
	util_strlcpy(sm->service, m->service, sizeof(sm->service));
	util_strlcpy(sm->scenario, m->scenario, sizeof(sm->scenario));
	util_strlcpy(sm->subject, m->subject, sizeof(sm->subject));
	sm->received_ms = util_now_ms();
	util_strlcpy(sm->signer_subject, info->subject, sizeof(sm->signer_subject));
	util_strlcpy(sm->signer_issuer, info->issuer, sizeof(sm->signer_issuer));
	util_strlcpy(sm->signer_serial, info->serial, sizeof(sm->signer_serial));
	util_strlcpy(sm->sig_alg, info->sig_alg, sizeof(sm->sig_alg));
	sm->sig_ok = info->signature_ok;
	sm->chain_ok = info->chain_ok;
}

struct receipt_arg {
	struct worker *w;
	const struct store_msg *sm;
	const struct meta *m;
};

/* Inside the store transaction: the receipt names its audit log index. */
static int
make_receipt(void *arg, int64_t log_index, unsigned char **out, size_t *len)
{
	struct receipt_arg *ra = arg;

	return render_receipt(ra->sm, ra->m->readers, ra->m->nreaders, log_index,
	    ra->w->gw->sign_key, ra->w->gw->sign_cert, out, len);
}

/* Builds envelopes and receipt, then commits everything in one go. */
static int
accept_msg(struct worker *w, struct store_msg *sm, const struct meta *m,
    const struct party *const *readers, const struct job_req *req,
    struct job_resp *resp)
{
	struct store_delivery d[MAX_READERS];
	struct store_audit ev[MAX_READERS + 1];
	unsigned char *env[MAX_READERS] = { 0 }, *container = NULL, *receipt = NULL;
	char detail[MAX_READERS + 1][256], fpr[65], id[40], sha[65];
	struct receipt_arg ra = { w, sm, m };
	size_t clen = 0, rlen = 0, elen, i;
	int r;

	memset(d, 0, sizeof(d));
	memset(ev, 0, sizeof(ev));
	if ((r = render_container(sm, req->body, req->body_len, &container, &clen)) != 0)
		goto out;
	for (i = 0; i < m->nreaders; i++) {
		if ((r = render_envelope(sm, readers[i]->id, container, clen,
		    readers[i]->enc_cert, w->gw->sign_key, w->gw->sign_cert,
		    &env[i], &elen)) != 0)
			goto out;
		util_strlcpy(d[i].reader, readers[i]->id, sizeof(d[i].reader));
		util_strlcpy(d[i].state, STORE_ST_WAITING, sizeof(d[i].state));
		d[i].push = strcmp(readers[i]->delivery, "push") == 0;
		d[i].obsolete_ms = m->obsolete_ms;
		d[i].size = (int64_t)elen;
		d[i].created_ms = sm->received_ms;
		d[i].envelope = env[i];
		if (pki_cert_fingerprint(readers[i]->enc_cert, fpr) != 0)
			fpr[0] = '\0';
		snprintf(detail[i + 1], sizeof(detail[0]), "encrypted for certificate "
		    "sha256:%s", fpr);
		ev[i + 1] = (struct store_audit){ .event = "message.encrypted",
		    .actor = "gateway", .msg_id = sm->id, .reader = readers[i]->id,
		    .code = "OK", .detail = detail[i + 1] };
	}
	sm->forwarded_ms = util_now_ms();
	snprintf(detail[0], sizeof(detail[0]), "portal message %.64s, sha256 %s, "
	    "%lld bytes, signer serial %.40s", sm->portal_msg_id, sm->sha256,
	    (long long)sm->size, sm->signer_serial);
	ev[0] = (struct store_audit){ .event = "submission.accepted",
	    .actor = sm->portal, .msg_id = sm->id, .code = "OK",
	    .detail = detail[0] };
	if ((r = store_accept_fn(w->store, sm, make_receipt, &ra, d, m->nreaders,
	    ev, m->nreaders + 1)) != 0)
		goto out;
	/* Read back what was committed: the receipt the portal gets is the one
	 * a replay returns, byte for byte. */
	if ((r = store_lookup_portal(w->store, sm->portal, sm->portal_msg_id,
	    id, sha, &receipt, &rlen)) != 0)
		goto out;
	resp->status = 202;
	resp->content_type = "application/xml";
	snprintf(resp->location, sizeof(resp->location), "/v1/submissions/%s", sm->id);
	resp->body = receipt;
	resp->body_len = rlen;
	receipt = NULL;
 out:
	for (i = 0; i < MAX_READERS; i++)
		free(env[i]);
	free(container);
	free(receipt);
	return r;
}

/*
 * A valid signature by the wrong kind of key is still refused: the
 * gateway's own certificate (it signs receipts and envelopes, never
 * submissions) and an authority's (readers do not author what portals
 * submit) chain to the same development CA, so the path check alone would
 * let them through.
 */
static int
signer_allowed(const struct gw *gw, const struct config *cfg, X509 *signer,
    char *why, size_t whylen)
{
	const struct party *p;
	char fpr[65];

	if (signer == NULL)
		return 0;
	if (X509_cmp(signer, gw->sign_cert) == 0) {
		snprintf(why, whylen, "the gateway's own certificate cannot sign a "
		    "submission");
		return GW_ERR_CERT_USAGE;
	}
	if (pki_cert_fingerprint(signer, fpr) == 0 &&
	    (p = config_party_by_fpr(cfg, fpr)) != NULL &&
	    p->kind == PARTY_AUTHORITY) {
		snprintf(why, whylen, "the certificate of authority %s cannot sign "
		    "a portal's submission", p->id);
		return GW_ERR_CERT_USAGE;
	}
	return 0;
}

static int
validate(struct worker *w, xmlDocPtr doc)
{
	w->schema_err[0] = '\0';
	xmlSchemaSetValidStructuredErrors(w->schema_vctx, schema_error, w);
	return xmlSchemaValidateDoc(w->schema_vctx, doc) == 0 ? 0 : GW_ERR_SCHEMA;
}

void
submit_handle(struct worker *w, const struct job_req *req, struct job_resp *resp)
{
	const struct party *readers[MAX_READERS];
	struct dsig_info info;
	struct chain_report report;
	struct store_msg sm;
	struct meta m;
	xmlDocPtr doc = NULL;
	char sha[65], why[300];
	int r;

	memset(&m, 0, sizeof(m));
	memset(&info, 0, sizeof(info));
	memset(&report, 0, sizeof(report));
	info.signature_ok = info.chain_ok = -1;
	why[0] = '\0';
	if (!media_type_ok(req->content_type)) {
		api_reject(w, req, resp, "submission.rejected", NULL,
		    GW_ERR_UNSUPPORTED_MEDIA, "submissions are application/xml");
		return;
	}
	util_sha256_hex(req->body ? req->body : (const unsigned char *)"",
	    req->body_len, sha);
	if ((r = xmlparse_safe((const char *)req->body, req->body_len,
	    &xmlparse_default_limits, &doc)) != 0)
		goto reject;
	if ((r = validate(w, doc)) != 0) {
		snprintf(why, sizeof(why), "not a valid submission: %s", w->schema_err);
		goto reject;
	}
	if ((r = read_meta(doc, &m)) != 0)
		goto reject;
	if (strcmp(m.sender, req->client->id) != 0) {
		r = GW_ERR_FORBIDDEN;
		snprintf(why, sizeof(why), "Sender %s is not the authenticated portal %s",
		    m.sender, req->client->id);
		goto reject;
	}
	/* Verify before looking at the MessageID: an unsigned document must
	 * not learn whether an id exists, nor leave events on its trail. */
	if ((r = xmldsig_verify_chain(doc, w->gw->chain, 0, w->gw->policy, &info,
	    &report)) != 0) {
		/* "require" without an answer is not "untrusted": say so */
		if (report.reason && strcmp(report.reason, "revocation-unavailable") == 0)
			r = GW_ERR_CERT_INDETERMINATE;
		snprintf(why, sizeof(why), "%s (signer serial %.64s%s%.120s)",
		    gw_strerror(r), info.serial[0] ? info.serial : "unknown",
		    report.detail[0] ? "; " : info.chain_error[0] ? "; " : "",
		    report.detail[0] ? report.detail : info.chain_error);
		goto reject;
	}
	if ((r = signer_allowed(w->gw, req->cfg, info.signer, why,
	    sizeof(why))) != 0)
		goto reject;
	if (replay(w, req, resp, &m, sha))
		goto out;
	if ((r = check_readers(req, &m, readers, why, sizeof(why))) != 0)
		goto reject;
	fill_msg(&sm, req, &m, &info, sha);
	r = accept_msg(w, &sm, &m, readers, req, resp);
	if (r == GW_ERR_DUPLICATE && replay(w, req, resp, &m, sha))
		goto out;	/* a concurrent twin won the race */
	if (r != 0) {
		api_reject(w, req, resp, "submission.failed", NULL, r,
		    "the message could not be stored; nothing was accepted");
		goto out;
	}
	goto out;
 reject:
	api_reject(w, req, resp, "submission.rejected", NULL, r, why[0] ? why : NULL);
 out:
	X509_free(info.signer);
	xmlFreeDoc(doc);
}
