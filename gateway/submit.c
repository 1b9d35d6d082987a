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
 * Attachments (docs/attachments.md): the HTTP layer spooled each part,
 * encrypted under its own key, while it arrived.  Here every part must
 * match its entry in the signed list (count, order, Id, size, SHA-256);
 * the spool files are then renamed into the spool directory and fsync'd
 * before the transaction that names them commits, and each reader gets the
 * part's key wrapped for its own certificates.  Anything not accepted is
 * removed with the request (job_req_free).
 *
 * Signature wrapping: every value routed on is read from the document
 * whose root element the verified Reference URI="" covers entirely, and the
 * verifier refuses any second Signature, so nothing unsigned is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>

#include "attach.h"
#include "chain.h"
#include "cms.h"
#include "err.h"
#include "gw.h"
#include "inspect.h"
#include "pki.h"
#include "render.h"
#include "store.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define NS_SUB "urn:gatewayd:submission:1"
#define MAX_READERS 16
#define MAX_CERTS 4		/* encryption certificates of one reader */
#define MP_OVERHEAD ((uint64_t)1 << 20)	/* MIME framing a reader's limit allows */

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
	struct store_att atts[GW_MAX_ATTACH];	/* the signed list */
	size_t natts;
	uint64_t att_bytes;			/* sum of their sizes */
	struct cms_result *cms;			/* per attachment; NULL: no .p7s */
	size_t cms_covers[GW_MAX_ATTACH];	/* the attachment it signs */
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

/* The signed <Attachments> list (the schema checked its form). */
static int
read_atts(xmlDocPtr doc, struct meta *m)
{
	xmlNodePtr list, c;
	struct store_att *a;
	char num[32];
	char *end;
	size_t j;
	int r;

	list = elem(xmlDocGetRootElement(doc), "Attachments");
	for (c = list ? list->children : NULL; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (m->natts == GW_MAX_ATTACH)
			return GW_ERR_TOO_LARGE;
		a = &m->atts[m->natts];
		a->n = (int)m->natts;
		if ((r = text(elem(c, "Id"), a->att_id, sizeof(a->att_id), 0)) != 0 ||
		    (r = text(elem(c, "Filename"), a->filename,
		    sizeof(a->filename), 0)) != 0 ||
		    (r = text(elem(c, "ContentType"), a->content_type,
		    sizeof(a->content_type), 0)) != 0 ||
		    (r = text(elem(c, "Size"), num, sizeof(num), 0)) != 0 ||
		    (r = text(elem(c, "SHA256"), a->sha256, sizeof(a->sha256), 0)) != 0)
			return r;
		errno = 0;
		a->size = (int64_t)strtoll(num, &end, 10);
		if (errno || *end || a->size < 0)
			return GW_ERR_SCHEMA;
		for (j = 0; j < m->natts; j++)
			if (strcmp(m->atts[j].att_id, a->att_id) == 0)
				return GW_ERR_SCHEMA;
		m->att_bytes += (uint64_t)a->size;
		m->natts++;
	}
	return 0;
}

/*
 * Every received part against the signed list: the same number, in the
 * same order, each with its Id (when the part named one), size and
 * SHA-256 (computed while the part arrived).
 */
static int
match_atts(struct job_req *req, struct meta *m, char *why, size_t whylen)
{
	struct job_att *p;
	struct store_att *a;
	size_t i;

	if (req->natts != m->natts) {
		snprintf(why, whylen, "the submission lists %zu attachment%s but "
		    "%zu %s sent", m->natts, m->natts == 1 ? "" : "s", req->natts,
		    req->natts == 1 ? "was" : "were");
		return GW_ERR_ATTACHMENT;
	}
	for (i = 0; i < m->natts; i++) {
		p = &req->atts[i];
		a = &m->atts[i];
		if (p->content_id[0] && strcmp(p->content_id, a->att_id) != 0) {
			snprintf(why, whylen, "part %zu is \"%.64s\" but the list "
			    "names \"%s\" there", i + 2, p->content_id, a->att_id);
			return GW_ERR_ATTACHMENT;
		}
		if (p->info == NULL)	/* http.c closes every part that ended */
			return GW_ERR_INTERNAL;
		if ((int64_t)p->info->plain_size != a->size ||
		    strcmp(p->info->plain_sha256, a->sha256) != 0) {
			snprintf(why, whylen, "attachment %s has %" PRIu64 " bytes "
			    "with SHA-256 %.16s..., the signed list says %" PRId64
			    " bytes with %.16s...", a->att_id, p->info->plain_size,
			    p->info->plain_sha256, a->size, a->sha256);
			return GW_ERR_ATTACHMENT;
		}
		a->cipher_size = (int64_t)p->info->cipher_size;
		util_strlcpy(a->cipher_sha256, p->info->cipher_sha256,
		    sizeof(a->cipher_sha256));
	}
	return 0;
}

/*
 * Moves the message's spool files from incoming/ to their names in the
 * spool directory and makes the renames durable, before the transaction
 * that names them.  On failure the moved files are removed again.
 */
static int
keep_atts(const struct gw *gw, const char *msg_id, struct job_req *req,
    struct meta *m)
{
	char to[1100];
	size_t i;
	int dfd, r = 0;

	for (i = 0; i < m->natts && r == 0; i++) {
		if (snprintf(m->atts[i].path, sizeof(m->atts[i].path), "%s-%zu.bin",
		    msg_id, i) >= (int)sizeof(m->atts[i].path) ||
		    util_path_join(gw->spool_dir, m->atts[i].path, to, sizeof(to)) != 0 ||
		    attach_sync(req->atts[i].info->path) != 0 ||
		    rename(req->atts[i].info->path, to) != 0)
			r = GW_ERR_IO;
	}
	if (r == 0) {
		if ((dfd = open(gw->spool_dir, O_RDONLY | O_DIRECTORY)) < 0 ||
		    fsync(dfd) != 0)
			r = GW_ERR_IO;
		if (dfd >= 0)
			close(dfd);
	}
	if (r != 0)
		while (i-- > 0)
			if (util_path_join(gw->spool_dir, m->atts[i].path, to, sizeof(to)) == 0)
				(void)unlink(to);
	return r;
}

static void
drop_atts(const struct gw *gw, struct meta *m)
{
	char to[1100];
	size_t i;

	for (i = 0; i < m->natts; i++)
		if (m->atts[i].path[0] &&
		    util_path_join(gw->spool_dir, m->atts[i].path, to, sizeof(to)) == 0)
			(void)unlink(to);
}

static int
is_p7s(const struct store_att *a)
{
	size_t n = strlen(a->filename);

	return strcasecmp(a->content_type, "application/pkcs7-signature") == 0 ||
	    strcasecmp(a->content_type, "application/x-pkcs7-signature") == 0 ||
	    (n > 4 && strcasecmp(a->filename + n - 4, ".p7s") == 0);
}

/* Reads a small spooled part (a .p7s) back into memory, at most max. */
static int
read_part(const struct job_att *p, size_t max, unsigned char **out, size_t *len)
{
	unsigned char *buf;
	BIO *b = NULL;
	int r, n;

	*out = NULL;
	if (p->info->plain_size > max)
		return GW_ERR_TOO_LARGE;
	if ((buf = malloc((size_t)p->info->plain_size + 1)) == NULL)
		return GW_ERR_NOMEM;
	if ((r = attach_spool_bio(p->info->path, p->info->key, &b)) != 0) {
		free(buf);
		return r;
	}
	*len = 0;
	while ((n = BIO_read(b, buf + *len, (int)(p->info->plain_size + 1 - *len))) > 0)
		*len += (size_t)n;
	r = attach_spool_bio_failed(b) || *len != p->info->plain_size ?
	    GW_ERR_IO : 0;
	BIO_free(b);
	if (r != 0)
		free(buf);
	else
		*out = buf;
	return r;
}

/*
 * Detached CMS signatures (CAdES-BES) that come as attachments: "x.p7s"
 * (or a part of type application/pkcs7-signature) signs the attachment
 * named "x".  Each is verified with the portal's trust profile (path,
 * revocation, algorithm policy, signing time) over the other part, read
 * back from the spool while its key is still known; every signer goes
 * into the inspection report.  An invalid one refuses the submission.
 */
static int
check_cms(struct job_req *req, struct meta *m, const struct chain_ctx *trust,
    const struct crypto_policy *pol, char *why, size_t whylen)
{
	unsigned char *p7s = NULL;
	size_t i, j, k, len, n;
	BIO *data = NULL;
	int r = 0;

	for (i = 0; i < m->natts && r == 0; i++) {
		if (!is_p7s(&m->atts[i]))
			continue;
		n = strlen(m->atts[i].filename);
		for (j = 0, k = m->natts; j < m->natts; j++)
			if (j != i && n > 4 && strlen(m->atts[j].filename) == n - 4 &&
			    strncmp(m->atts[j].filename, m->atts[i].filename, n - 4) == 0) {
				if (k != m->natts) {
					snprintf(why, whylen, "signature %s: two "
					    "attachments are named %.*s, so what it "
					    "signs is ambiguous", m->atts[i].filename,
					    (int)(n - 4), m->atts[i].filename);
					return GW_ERR_ATTACHMENT;
				}
				k = j;
			}
		j = k;
		if (j == m->natts) {
			snprintf(why, whylen, "signature %s: there is no attachment "
			    "named %.*s for it", m->atts[i].filename,
			    (int)(n > 4 ? n - 4 : n), m->atts[i].filename);
			return GW_ERR_ATTACHMENT;
		}
		if (m->cms == NULL &&
		    (m->cms = calloc(GW_MAX_ATTACH, sizeof(*m->cms))) == NULL)
			return GW_ERR_NOMEM;
		m->cms_covers[i] = j;
		if ((r = read_part(&req->atts[i], CMS_MAX_P7S, &p7s, &len)) != 0 ||
		    (r = attach_spool_bio(req->atts[j].info->path,
		    req->atts[j].info->key, &data)) != 0) {
			snprintf(why, whylen, "signature %s cannot be read%s",
			    m->atts[i].filename, r == GW_ERR_TOO_LARGE ?
			    " (larger than 1 MiB)" : "");
			break;
		}
		r = cms_verify_detached_chain(data, p7s, len, trust, 0, pol,
		    &m->cms[i], NULL);
		if (attach_spool_bio_failed(data))
			r = GW_ERR_IO;
		if (r != 0)
			snprintf(why, whylen, "the CMS signature %s over %s: %s%s%.80s",
			    m->atts[i].filename, m->atts[j].filename, gw_strerror(r),
			    m->cms[i].nsigners && m->cms[i].signers[0].chain_error[0] ?
			    "; " : "", m->cms[i].nsigners ?
			    m->cms[i].signers[0].chain_error : "");
		BIO_free(data);
		data = NULL;
		free(p7s);
		p7s = NULL;
	}
	free(p7s);
	return r;
}

/* The reader's encryption certificates valid now (two during a rollover). */
static size_t
reader_certs(const struct party *p, X509 **out, size_t max)
{
	return config_enc_certs_valid(p, time(NULL), out, max);
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
	X509 *certs[MAX_CERTS];
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
		if (!config_may_submit2(req->cfg, portal, p, m->service, m->scenario)) {
			snprintf(why, whylen, "portal %s may not submit service "
			    "%.80s, scenario %.40s, to %s", portal->id, m->service,
			    m->scenario, p->id);
			return GW_ERR_UNKNOWN_READER;
		}
		/* Checked again at use: a daemon runs longer than a certificate
		 * may be valid, and nothing is accepted that cannot be encrypted. */
		if (reader_certs(p, certs, MAX_CERTS) == 0) {
			snprintf(why, whylen, "reader %s has no valid encryption "
			    "certificate", p->id);
			return GW_ERR_NO_ENC_CERT;
		}
		if (p->max_size > 0 && req->body_len + m->att_bytes > p->max_size) {
			snprintf(why, whylen, "reader %s accepts at most %zu bytes, the "
			    "submission has %" PRIu64, p->id, p->max_size,
			    (uint64_t)req->body_len + m->att_bytes);
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

/*
 * The portal's trust profile (profiles/README.md): its own signer CAs
 * instead of the gateway's trust_ca, its own revocation policy, and the
 * algorithm policy with or without RSA-2048; the rest (revocation sources,
 * path cache) is the gateway's.
 */
static void
portal_trust(const struct gw *gw, const struct party *portal,
    struct chain_ctx *ctx, struct crypto_policy **pol)
{
	enum rev_policy rp;

	*ctx = *gw->chain;
	*pol = portal->allow_rsa2048 ? gw->policy_rsa2048 : gw->policy;
	ctx->cert_check_arg = *pol;
	if (portal->signer_store) {
		ctx->trust = portal->signer_store;
		ctx->trust_gen = portal->signer_gen;
	}
	if (portal->revocation[0] && rev_policy_parse(portal->revocation, &rp) == 0)
		ctx->revocation = rp;
}

/*
 * The full inspection report of the verified signature, as gwctl verify
 * builds it but with the revocation answers of the path (issue 3): into
 * sm->report (malloc'd; the caller frees it once the store has it), for
 * the content container and the process card.  Warnings (no revocation
 * answer under "prefer", RSA-2048 allowed) are in it as <Warning>.
 */
static int
inspect_msg(const struct crypto_policy *pol, const struct dsig_info *info,
    const struct chain_report *path, const struct meta *m,
    struct store_msg *sm)
{
	struct inspect_report *rep = NULL;
	struct inspect_sig *sig = NULL;
	size_t i;
	int r;

	if ((r = inspect_new(info->checked_at, pol, &rep)) != 0 ||
	    (r = inspect_fill_dsig(rep, info, 0, &sig)) != 0)
		goto out;
	/* A path longer than INSPECT_MAX_CERTS is reported up to there. */
	if ((r = inspect_fill_chain(sig, path)) != 0 && r != GW_ERR_TOO_LARGE)
		goto out;
	for (i = 0; m->cms && i < m->natts; i++)
		if (m->cms[i].nsigners > 0 &&
		    (r = inspect_fill_cms(rep, &m->cms[i],
		    m->atts[m->cms_covers[i]].filename)) != 0)
			goto out;
	r = inspect_to_xml(rep, &sm->report, &sm->report_len);
 out:
	inspect_free(rep);
	return r;
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
accept_msg(struct worker *w, struct store_msg *sm, struct meta *m,
    const struct party *const *readers, struct job_req *req,
    struct job_resp *resp)
{
	struct store_delivery d[MAX_READERS];
	struct store_audit ev[MAX_READERS + 1];
	struct store_att_doc *docs = NULL;
	char **owned = NULL;		/* docs' headers and footers */
	unsigned char *env[MAX_READERS] = { 0 }, *container = NULL, *receipt = NULL;
	char detail[MAX_READERS + 1][512], fpr[65], id[40], sha[65];
	struct receipt_arg ra = { w, sm, m };
	X509 *certs[MAX_CERTS];
	size_t clen = 0, rlen = 0, elen, i, j, k, nc, ndocs = 0, off;
	int r, kept = 0;

	memset(d, 0, sizeof(d));
	memset(ev, 0, sizeof(ev));
	if (m->natts > 0) {
		if ((docs = calloc(m->nreaders * m->natts, sizeof(*docs))) == NULL ||
		    (owned = calloc(2 * m->nreaders * m->natts, sizeof(*owned))) == NULL) {
			r = GW_ERR_NOMEM;
			goto out;
		}
		if ((r = keep_atts(w->gw, sm->id, req, m)) != 0)
			goto out;
		kept = 1;
	}
	if ((r = render_container(sm, req->body, req->body_len, &container, &clen)) != 0)
		goto out;
	for (i = 0; i < m->nreaders; i++) {
		if ((nc = reader_certs(readers[i], certs, MAX_CERTS)) == 0) {
			r = GW_ERR_NO_ENC_CERT;	/* expired since check_readers */
			goto out;
		}
		if ((r = render_envelope(sm, readers[i]->id, container, clen,
		    certs, nc, m->atts, m->natts, w->gw->sign_key,
		    w->gw->sign_cert, &env[i], &elen)) != 0)
			goto out;
		for (j = 0; j < m->natts; j++, ndocs++) {
			char *h = NULL, *f = NULL;
			size_t hl = 0, fl = 0;

			r = attach_part_header(req->atts[j].info->key, certs, nc,
			    m->atts[j].att_id, m->atts[j].content_type, &h, &hl,
			    &f, &fl);
			owned[2 * ndocs] = h;
			owned[2 * ndocs + 1] = f;
			if (r != 0)
				goto out;
			docs[ndocs] = (struct store_att_doc){ .reader = readers[i]->id,
			    .n = (int)j, .header = h, .header_len = hl, .footer = f,
			    .footer_len = fl };
		}
		util_strlcpy(d[i].reader, readers[i]->id, sizeof(d[i].reader));
		util_strlcpy(d[i].state, STORE_ST_WAITING, sizeof(d[i].state));
		d[i].push = strcmp(readers[i]->delivery, "push") == 0;
		d[i].obsolete_ms = m->obsolete_ms;
		d[i].size = (int64_t)elen;
		d[i].created_ms = sm->received_ms;
		d[i].envelope = env[i];
		off = (size_t)snprintf(detail[i + 1], sizeof(detail[0]),
		    "encrypted for certificate%s", nc > 1 ? "s" : "");
		for (k = 0; k < nc && off < sizeof(detail[0]); k++) {
			if (pki_cert_fingerprint(certs[k], fpr) != 0)
				fpr[0] = '\0';
			off += (size_t)snprintf(detail[i + 1] + off,
			    sizeof(detail[0]) - off, "%s sha256:%s", k ? "," : "", fpr);
		}
		ev[i + 1] = (struct store_audit){ .event = "message.encrypted",
		    .actor = "gateway", .msg_id = sm->id, .reader = readers[i]->id,
		    .code = "OK", .detail = detail[i + 1] };
	}
	sm->forwarded_ms = util_now_ms();
	snprintf(detail[0], sizeof(detail[0]), "portal message %.64s, sha256 %s, "
	    "%lld bytes, signer serial %.40s%s", sm->portal_msg_id, sm->sha256,
	    (long long)sm->size, sm->signer_serial, m->natts ? ", attachments" : "");
	if (m->natts > 0) {
		off = strlen(detail[0]);
		for (j = 0; j < m->natts && off < sizeof(detail[0]); j++)
			off += (size_t)snprintf(detail[0] + off, sizeof(detail[0]) - off,
			    " %s:%" PRId64 ":%.16s", m->atts[j].att_id, m->atts[j].size,
			    m->atts[j].sha256);
	}
	ev[0] = (struct store_audit){ .event = "submission.accepted",
	    .actor = sm->portal, .msg_id = sm->id, .code = "OK",
	    .detail = detail[0] };
	if ((r = store_accept_att(w->store, sm, make_receipt, &ra, d, m->nreaders,
	    m->atts, m->natts, docs, ndocs, ev, m->nreaders + 1)) != 0)
		goto out;
	for (j = 0; j < m->natts; j++)
		req->atts[j].kept = 1;
	kept = 0;
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
	if (kept)
		drop_atts(w->gw, m);
	for (i = 0; owned && i < 2 * m->nreaders * m->natts; i++)
		free(owned[i]);
	free(owned);
	free(docs);
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
signer_allowed(const struct gw *gw, const struct config *cfg,
    const struct party *portal, X509 *signer, char *why, size_t whylen)
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
	if (!config_signer_eku_ok(portal, signer)) {
		snprintf(why, whylen, "the signer certificate has none of the "
		    "extended key usages portal %s requires (signer_eku)", portal->id);
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

/*
 * The readers' size limits while a multipart submission still streams
 * (http.c calls this on the io thread once the XML part is in): the
 * Destinations are read from the first 64 KiB of the XML with a streaming
 * reader, without DTDs or network, before anything is verified.  That is
 * safe because it can only lower the limit: a document that lies about
 * its readers is refused by the signature check anyway.  A document with
 * a DOCTYPE is left to the worker, which refuses it.
 */
int
submit_first_part(const struct job_req *req, uint64_t *limit, char *why,
    size_t whylen)
{
	const struct party *p;
	xmlTextReaderPtr rd;
	size_t len = req->body_len < 65536 ? req->body_len : 65536, i = 0;
	int in_reader = 0, n = 0;
	const xmlChar *name, *ns;
	xmlChar *id;

	/* Only plain UTF-8 (or ASCII) that starts with markup and declares
	 * nothing: UTF-16/32 would hide a DOCTYPE from the byte search. */
	if (req->cfg == NULL || req->body == NULL ||
	    memchr(req->body, '\0', len) != NULL ||
	    memmem(req->body, len, "<!", 2) != NULL)
		return 0;
	if (len >= 3 && memcmp(req->body, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && strchr(" \t\r\n", req->body[i]) != NULL)
		i++;
	if (i == len || req->body[i] != '<')
		return 0;
	rd = xmlReaderForMemory((const char *)req->body, (int)len, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	while (rd && n < MAX_READERS && xmlTextReaderRead(rd) == 1) {
		name = xmlTextReaderConstLocalName(rd);
		ns = xmlTextReaderConstNamespaceUri(rd);
		if (name == NULL || ns == NULL || strcmp((const char *)ns, NS_SUB) != 0)
			continue;
		if (xmlTextReaderNodeType(rd) == XML_READER_TYPE_END_ELEMENT) {
			if (strcmp((const char *)name, "Reader") == 0)
				in_reader = 0;
			else if (strcmp((const char *)name, "Destinations") == 0)
				break;
			continue;
		}
		if (xmlTextReaderNodeType(rd) != XML_READER_TYPE_ELEMENT)
			continue;
		if (strcmp((const char *)name, "Content") == 0)
			break;
		if (strcmp((const char *)name, "Reader") == 0)
			in_reader = 1;
		else if (in_reader && strcmp((const char *)name, "Identifier") == 0) {
			id = xmlTextReaderReadString(rd);
			n++;
			/* on the wire: the XML and the attachments plus the
			 * MIME framing (MP_OVERHEAD); check_readers counts
			 * exactly once the submission is in */
			if (id && (p = config_party(req->cfg, (const char *)id)) &&
			    p->kind == PARTY_AUTHORITY && p->max_size > 0 &&
			    (uint64_t)p->max_size + MP_OVERHEAD < *limit) {
				*limit = (uint64_t)p->max_size + MP_OVERHEAD;
				snprintf(why, whylen, "reader %s accepts at most %zu "
				    "bytes", p->id, p->max_size);
			}
			xmlFree(id);
		}
	}
	xmlFreeTextReader(rd);
	return 0;
}

void
submit_handle(struct worker *w, struct job_req *req, struct job_resp *resp)
{
	const struct party *readers[MAX_READERS];
	struct crypto_policy *pol;
	struct chain_ctx trust;
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
	if (!media_type_ok(req->multipart ? req->xml_type : req->content_type)) {
		api_reject(w, req, resp, "submission.rejected", NULL,
		    GW_ERR_UNSUPPORTED_MEDIA, req->multipart ? "the first part of "
		    "a multipart submission must be application/xml" :
		    "submissions are application/xml or multipart/related");
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
	if ((r = read_meta(doc, &m)) != 0 || (r = read_atts(doc, &m)) != 0)
		goto reject;
	if (strcmp(m.sender, req->client->id) != 0) {
		r = GW_ERR_FORBIDDEN;
		snprintf(why, sizeof(why), "Sender %s is not the authenticated portal %s",
		    m.sender, req->client->id);
		goto reject;
	}
	/* Verify before looking at the MessageID: an unsigned document must
	 * not learn whether an id exists, nor leave events on its trail. */
	portal_trust(w->gw, req->client, &trust, &pol);
	if ((r = xmldsig_verify_chain(doc, &trust, 0, pol, &info,
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
	if ((r = signer_allowed(w->gw, req->cfg, req->client, info.signer, why,
	    sizeof(why))) != 0)
		goto reject;
	if (replay(w, req, resp, &m, sha))
		goto out;
	if ((r = check_readers(req, &m, readers, why, sizeof(why))) != 0)
		goto reject;
	if ((r = match_atts(req, &m, why, sizeof(why))) != 0 ||
	    (r = check_cms(req, &m, &trust, pol, why, sizeof(why))) != 0)
		goto reject;
	fill_msg(&sm, req, &m, &info, sha);
	if ((r = inspect_msg(pol, &info, &report, &m, &sm)) == 0)
		r = accept_msg(w, &sm, &m, readers, req, resp);
	free(sm.report);
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
	free(m.cms);
	X509_free(info.signer);
	xmlFreeDoc(doc);
}
