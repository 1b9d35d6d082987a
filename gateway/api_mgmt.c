/*
 * api_mgmt.c - what XTA's management port offers, and transport reports:
 *   POST /v1/message-ids               createMessageId
 *   GET  /v1/lookup?reader=R&service=S lookupService
 *   GET  /v1/account                   checkAccountActive
 *   POST /v1/submissions/{id}/cancel   cancelMessage
 *   GET  /v1/submissions/{id}/report   getTransportReport (signed)
 * On a worker thread, like the rest of the API.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/tree.h>

#include "err.h"
#include "gw.h"
#include "render.h"
#include "store.h"
#include "util.h"
#include "xmldsig.h"

#define NS_MGMT		"urn:gatewayd:management:1"
#define NS_REPORT	"urn:gatewayd:report:1"
#define XC (const xmlChar *)

static void
finish(struct worker *w, xmlDocPtr doc, int sign, struct job_resp *resp)
{
	int r = doc ? 0 : GW_ERR_NOMEM;

	if (r == 0 && sign)
		r = xmldsig_sign(doc, w->gw->sign_key, w->gw->sign_cert, NULL, 0);
	if (r == 0)
		r = render_doc_dump(doc, &resp->body, &resp->body_len);
	xmlFreeDoc(doc);
	if (r != 0) {
		api_error(resp, r, NULL);
		return;
	}
	resp->status = 200;
	resp->content_type = "application/xml";
}

void
mgmt_create_id(struct worker *w, const struct job_req *req, struct job_resp *resp)
{
	xmlNodePtr root;
	xmlNsPtr ns;
	xmlDocPtr doc;
	char id[40], full[128];

	(void)w;
	util_new_id(id);
	/* Unique and the portal's own: usable as MessageID at once. */
	snprintf(full, sizeof(full), "%s:%s", req->client->id, id + 3);
	if ((doc = render_doc_new(NS_MGMT, "MessageID", &root, &ns)) != NULL)
		xmlNodeSetContent(root, XC full);
	finish(w, doc, 0, resp);
}

void
mgmt_account(struct worker *w, const struct job_req *req, struct job_resp *resp)
{
	xmlNodePtr root;
	xmlNsPtr ns;
	xmlDocPtr doc;

	if ((doc = render_doc_new(NS_MGMT, "Account", &root, &ns)) != NULL) {
		xmlNewProp(root, XC "id", XC req->client->id);
		xmlNewProp(root, XC "kind", XC(req->client->kind == PARTY_PORTAL ?
		    "portal" : "authority"));
		xmlNewProp(root, XC "active", XC "true");
	}
	finish(w, doc, 0, resp);
}

void
mgmt_lookup(struct worker *w, const struct job_req *req, struct job_resp *resp,
    const char *reader, const char *service)
{
	const struct party *p = config_party(req->cfg, reader);
	const char *why = NULL;
	X509 *certs[4];
	xmlNodePtr root;
	xmlNsPtr ns;
	xmlDocPtr doc;

	if (p == NULL || p->kind != PARTY_AUTHORITY)
		why = "no such authority";
	else if (req->client->kind == PARTY_PORTAL &&
	    !config_may_submit(req->cfg, req->client, p, service))
		why = "this portal may not submit this service to it";
	else if (config_enc_certs_valid(p, time(NULL), certs, 4) == 0)
		why = "it has no valid encryption certificate";
	if ((doc = render_doc_new(NS_MGMT, "Lookup", &root, &ns)) != NULL) {
		xmlNewProp(root, XC "reader", XC reader);
		xmlNewProp(root, XC "service", XC service);
		xmlNewProp(root, XC "reachable", XC(why ? "false" : "true"));
		if (p && why == NULL)
			xmlNewProp(root, XC "delivery", XC p->delivery);
		if (why)
			xmlNewProp(root, XC "reason", XC why);
	}
	finish(w, doc, 0, resp);
}

void
mgmt_cancel(struct worker *w, const struct job_req *req, struct job_resp *resp,
    const char *id)
{
	struct store_audit ev = { .event = "message.cancelled",
	    .actor = req->client->id, .msg_id = id, .code = "OK",
	    .detail = "cancelled by its portal before delivery" };
	xmlNodePtr root;
	xmlNsPtr ns;
	xmlDocPtr doc;
	char buf[16];
	int r, n = 0;

	r = store_dlv_cancel(w->store, req->client->id, id, &ev, &n);
	if (r != 0) {
		api_reject(w, req, resp, "cancel.rejected", NULL, r,
		    r == GW_ERR_STATE ? "nothing left to cancel: every reader has "
		    "it already, or it was cancelled" : NULL);
		return;
	}
	snprintf(buf, sizeof(buf), "%d", n);
	if ((doc = render_doc_new(NS_MGMT, "Cancelled", &root, &ns)) != NULL) {
		xmlNewProp(root, XC "id", XC id);
		xmlNewProp(root, XC "readers", XC buf);
	}
	finish(w, doc, 0, resp);
}

/* Error, Warning or Info, as XTA's transport report sorts records. */
static const char *
record_kind(const char *event, const char *code)
{
	if (strcmp(event, "delivery.failed") == 0 ||
	    strcmp(event, "delivery.expired") == 0 ||
	    strcmp(event, "message.cancelled") == 0)
		return "Error";
	if (strcmp(event, "delivery.retry") == 0 ||
	    strcmp(event, "delivery.recovered") == 0 ||
	    (code[0] && strcmp(code, "OK") != 0))
		return "Warning";
	return "Info";
}

/* 0 open, 1 green, 2 yellow (warnings), 3 red (errors). */
static int
report_status(const struct store_delivery *d, size_t nd, int warnings)
{
	size_t i, done = 0;

	for (i = 0; i < nd; i++) {
		if (strcmp(d[i].state, STORE_ST_FAILED) == 0 ||
		    strcmp(d[i].state, STORE_ST_EXPIRED) == 0 ||
		    strcmp(d[i].state, STORE_ST_CANCELLED) == 0)
			return 3;
		if (strcmp(d[i].state, STORE_ST_DELIVERED) == 0)
			done++;
	}
	if (done < nd)
		return 0;
	return warnings ? 2 : 1;
}

/*
 * The warnings of the inspection report (no revocation answer under
 * "prefer", RSA-2048 allowed) as Warning records at the acceptance time
 * time_ms: the message was accepted with them, so the report is yellow.
 */
static void
inspection_records(xmlNodePtr rec, xmlNsPtr ns, int64_t time_ms,
    const struct render_warning *iw, size_t n)
{
	xmlNodePtr e;
	char t[32];
	size_t i;

	util_time_iso(time_ms, t);
	for (i = 0; i < n; i++) {
		e = xmlNewTextChild(rec, ns, XC "Warning", XC iw[i].text);
		xmlNewProp(e, XC "time", XC t);
		xmlNewProp(e, XC "event", XC "inspection.warning");
		xmlNewProp(e, XC "code", XC iw[i].code);
	}
}

void
mgmt_report(struct worker *w, const struct job_req *req, struct job_resp *resp,
    const char *id)
{
	struct render_warning iw[RENDER_MAX_WARNINGS];
	struct store_msg m = { 0 };
	struct store_delivery *d = NULL;
	struct store_audit_row *ev = NULL;
	size_t nd = 0, nev = 0, niw = 0, i;
	int warnings = 0, r, shown = 0;
	xmlNodePtr root, rs, rec, n;
	xmlNsPtr ns;
	xmlDocPtr doc;
	char t[32], buf[24];

	r = store_get_msg(w->store, id, &m, &d, &nd);
	if (r == 0 && strcmp(m.portal, req->client->id) != 0)
		r = GW_ERR_NOT_FOUND;
	if (r == 0)
		r = store_msg_events(w->store, id, &ev, &nev);
	if (r == 0)
		r = render_report_warnings(&m, iw, RENDER_MAX_WARNINGS, &niw);
	if (r != 0) {
		api_reject(w, req, resp, "report.rejected", NULL, r, NULL);
		goto out;
	}
	warnings = niw > 0;
	for (i = 0; i < nev; i++)
		if (strcmp(record_kind(ev[i].event, ev[i].code), "Warning") == 0)
			warnings = 1;
	if ((doc = render_doc_new(NS_REPORT, "TransportReport", &root, &ns)) == NULL) {
		api_error(resp, GW_ERR_NOMEM, NULL);
		goto out;
	}
	util_time_iso(util_now_ms(), t);
	xmlNewTextChild(root, ns, XC "ReportTime", XC t);
	xmlNewTextChild(root, ns, XC "MessageID", XC m.id);
	xmlNewTextChild(root, ns, XC "PortalMessageID", XC m.portal_msg_id);
	snprintf(buf, sizeof(buf), "%d", report_status(d, nd, warnings));
	xmlNewTextChild(root, ns, XC "Status", XC buf);
	rs = xmlNewChild(root, ns, XC "Readers", NULL);
	for (i = 0; i < nd; i++) {
		n = xmlNewChild(rs, ns, XC "Reader", NULL);
		xmlNewProp(n, XC "id", XC d[i].reader);
		xmlNewProp(n, XC "delivery", XC(d[i].push ? "push" : "pull"));
		xmlNewProp(n, XC "state", XC d[i].state);
		snprintf(buf, sizeof(buf), "%d", d[i].attempts);
		xmlNewProp(n, XC "attempts", XC buf);
		if (d[i].closed_ms > 0) {
			util_time_iso(d[i].closed_ms, t);
			xmlNewTextChild(n, ns, XC "Reception", XC t);
		}
		if (d[i].last_error[0])
			xmlNewTextChild(n, ns, XC "LastError", XC d[i].last_error);
	}
	rec = xmlNewChild(root, ns, XC "Records", NULL);
	for (i = 0; i < nev; i++) {
		n = xmlNewTextChild(rec, ns,
		    XC record_kind(ev[i].event, ev[i].code), XC ev[i].detail);
		util_time_iso(ev[i].time_ms, t);
		xmlNewProp(n, XC "time", XC t);
		xmlNewProp(n, XC "event", XC ev[i].event);
		xmlNewProp(n, XC "code", XC(ev[i].code[0] ? ev[i].code : "OK"));
		if (ev[i].reader[0])
			xmlNewProp(n, XC "reader", XC ev[i].reader);
		if (!shown && strcmp(ev[i].event, "submission.accepted") == 0) {
			inspection_records(rec, ns, ev[i].time_ms, iw, niw);
			shown = 1;
		}
	}
	if (!shown)
		inspection_records(rec, ns, m.received_ms, iw, niw);
	finish(w, doc, 1, resp);
 out:
	store_msg_clear(&m);
	free(d);
	free(ev);
}
