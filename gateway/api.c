/*
 * api.c - the HTTP API v1 on a worker thread: routing, the read side
 * (process cards, mailbox) and error answers.  docs/api.md is the
 * reference for clients.
 *
 * Every rejection is answered with <Error><Code/><Message/></Error> and
 * written to the audit log with the client, the code and the reason.
 * A message that is not the client's own is reported as absent (404), so
 * that nobody learns which ids exist.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/queue.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "attach.h"
#include "err.h"
#include "gw.h"
#include "render.h"
#include "store.h"
#include "util.h"

#define MAILBOX_PAGE_DEFAULT	100
#define MAILBOX_PAGE_MAX	1000

void
api_error(struct job_resp *resp, int err, const char *message)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->status = gw_httpstatus(err);
	resp->content_type = "application/xml";
	if (render_error(err, message, &resp->body, &resp->body_len) != 0)
		resp->content_type = NULL;	/* status alone still tells */
}

void
api_reject(struct worker *w, const struct job_req *req, struct job_resp *resp,
    const char *event, const char *msg_id, int err, const char *why)
{
	char detail[400];
	struct store_audit ev = { .event = event, .msg_id = msg_id,
	    .code = gw_errcode(err), .detail = detail };

	ev.actor = req->client ? req->client->id : "unknown";
	snprintf(detail, sizeof(detail), "%.16s %.120s: %.250s",
	    req->method_name, req->path,
	    why && *why ? why : gw_strerror(err));
	util_utf8_clean(detail);
	/* A rejection that cannot be recorded is not answered as one. */
	if (store_audit(w->store, &ev) != 0) {
		api_error(resp, GW_ERR_STORE, "the request was refused, but the "
		    "refusal could not be recorded; retry later");
		return;
	}
	api_error(resp, err, why);
}

/* Gateway message ids are "gw-" and 32 lower-case hex digits. */
static int
valid_id(const char *id)
{
	size_t i;

	if (strncmp(id, "gw-", 3) != 0 || strlen(id) != 35)
		return 0;
	for (i = 3; i < 35; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

/* "/v1/mailbox/ID/close" -> copies ID; returns the rest after it. */
static const char *
path_id(const char *path, const char *prefix, char *id, size_t idlen)
{
	size_t n = strlen(prefix), i;

	if (strncmp(path, prefix, n) != 0)
		return NULL;
	path += n;
	for (i = 0; path[i] && path[i] != '/'; i++)
		if (i + 1 >= idlen)
			return NULL;
	if (i == 0)
		return NULL;
	memcpy(id, path, i);
	id[i] = '\0';
	if (!valid_id(id))
		util_strlcpy(id, "gw-invalid", idlen);	/* answers 404 */
	return path + i;
}

/* Reads name=NUMBER from a query string; def if absent. */
static int
query_int(const char *query, const char *name, int64_t def, int64_t *out)
{
	struct evkeyvalq q;
	const char *v;
	char *end;
	long long n;
	int r = 0;

	*out = def;
	if (query[0] == '\0')
		return 0;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) != 0)
		return GW_ERR_INVALID;
	if ((v = evhttp_find_header(&q, name)) != NULL) {
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || end == v || *end || n < 0)
			r = GW_ERR_INVALID;
		else
			*out = n;
	}
	evhttp_clear_headers(&q);
	return r;
}

/* Reads name=TEXT from a query string (URL-decoded). */
static int
query_str(const char *query, const char *name, char *out, size_t outlen)
{
	struct evkeyvalq q;
	const char *v;
	int r = GW_ERR_INVALID;

	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) != 0)
		return GW_ERR_INVALID;
	if ((v = evhttp_find_header(&q, name)) != NULL && v[0] &&
	    util_strlcpy(out, v, outlen) < outlen)
		r = 0;
	evhttp_clear_headers(&q);
	return r;
}

static void
get_card(struct worker *w, const struct job_req *req, struct job_resp *resp,
    const char *id)
{
	struct store_msg m = { 0 };
	struct store_delivery *d = NULL;
	size_t nd = 0;
	int r;

	r = store_get_msg(w->store, id, &m, &d, &nd);
	if (r == 0 && strcmp(m.portal, req->client->id) != 0)
		r = GW_ERR_NOT_FOUND;
	if (r != 0) {
		api_reject(w, req, resp, "card.rejected", NULL, r, NULL);
		goto out;
	}
	if ((r = render_card(&m, d, nd, &resp->body, &resp->body_len)) != 0) {
		api_error(resp, r, NULL);
		goto out;
	}
	resp->status = 200;
	resp->content_type = "application/xml";
 out:
	store_msg_clear(&m);
	free(d);
}

static void
get_mailbox(struct worker *w, const struct job_req *req, struct job_resp *resp)
{
	struct store_mbox_entry *e = NULL;
	int64_t after, limit, total = 0, next = -1;
	size_t n = 0;
	int r;

	if (query_int(req->query, "after", 0, &after) != 0 ||
	    query_int(req->query, "limit", MAILBOX_PAGE_DEFAULT, &limit) != 0 ||
	    limit < 1 || limit > MAILBOX_PAGE_MAX) {
		api_reject(w, req, resp, "mailbox.rejected", NULL, GW_ERR_INVALID,
		    "after and limit must be whole numbers, limit 1 to 1000");
		return;
	}
	if ((r = store_mailbox_count(w->store, req->client->id, &total)) != 0 ||
	    (r = store_mailbox_list(w->store, req->client->id, after, (int)limit,
	    &e, &n)) != 0) {
		api_error(resp, r, NULL);
		return;
	}
	if (n == (size_t)limit)
		next = e[n - 1].seq;
	if ((r = render_mailbox(e, n, total, next, &resp->body,
	    &resp->body_len)) != 0)
		api_error(resp, r, NULL);
	else {
		resp->status = 200;
		resp->content_type = "application/xml";
	}
	free(e);
}

static void
fetch_message(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *id)
{
	struct store_audit ev = { .event = "mailbox.fetched",
	    .actor = req->client->id, .msg_id = id, .reader = req->client->id,
	    .code = "OK" };
	int r;

	r = store_mailbox_fetch(w->store, req->client->id, id, util_now_ms(),
	    &ev, &resp->body, &resp->body_len);
	if (r == 0 && resp->body_len == 0) {	/* purged (retention) */
		free(resp->body);
		resp->body = NULL;
		r = GW_ERR_GONE;
	}
	if (r != 0) {
		api_reject(w, req, resp, "mailbox.rejected", NULL, r, NULL);
		return;
	}
	resp->status = 200;
	resp->content_type = "application/soap+xml; charset=utf-8";
}

/*
 * GET /v1/messages/{id}/attachments/{att}: the reader's XML-Enc document of
 * one attachment, streamed from the spool (docs/attachments.md).
 */
static void
fetch_attachment(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *id, const char *att_id)
{
	struct store_audit ev = { .event = "attachment.fetched",
	    .actor = req->client->id, .msg_id = id, .reader = req->client->id,
	    .code = "OK" };
	struct store_att a;
	char *hdr = NULL, *ftr = NULL, detail[200], path[1100];
	size_t hl = 0, fl = 0, i;
	int r;

	for (i = 0; att_id[i]; i++)
		if (i >= 64 || !(isalnum((unsigned char)att_id[i]) ||
		    strchr("._-", att_id[i])))
			break;
	if (i == 0 || att_id[i] != '\0')
		r = GW_ERR_NOT_FOUND;
	else
		r = store_att_get(w->store, id, req->client->id, att_id, &a, &hdr,
		    &hl, &ftr, &fl);
	if (r == 0 && (r = util_path_join(w->gw->spool_dir, a.path, path,
	    sizeof(path))) == 0 &&
	    (r = attach_reader_open(path, hdr, hl, ftr, fl, &resp->stream)) != 0 &&
	    access(path, F_OK) != 0 && errno == ENOENT)
		r = GW_ERR_GONE;	/* purged since the row was read */
	free(hdr);
	free(ftr);
	if (r != 0) {
		api_reject(w, req, resp, "attachment.rejected", NULL, r, NULL);
		return;
	}
	snprintf(detail, sizeof(detail), "attachment %s, %lld bytes, sha256 %s",
	    a.att_id, (long long)a.size, a.sha256);
	ev.detail = detail;
	(void)store_audit(w->store, &ev);
	resp->status = 200;
	resp->content_type = "application/xml";
}

static void
close_message(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *id)
{
	struct store_audit ev = { .event = "mailbox.closed",
	    .actor = req->client->id, .msg_id = id, .reader = req->client->id,
	    .code = "OK" };
	struct store_msg m = { 0 };
	struct store_delivery *d = NULL;
	int64_t reception = 0;
	size_t nd = 0, i;
	int r;

	r = store_mailbox_close(w->store, req->client->id, id, util_now_ms(), &ev);
	if (r == 0)
		r = store_get_msg(w->store, id, &m, &d, &nd);
	if (r != 0) {
		api_reject(w, req, resp, "mailbox.rejected", NULL, r, NULL);
		goto out;
	}
	for (i = 0; i < nd; i++)
		if (strcmp(d[i].reader, req->client->id) == 0)
			reception = d[i].closed_ms;
	if ((r = render_closed(id, reception, &resp->body, &resp->body_len)) != 0) {
		api_error(resp, r, NULL);
		goto out;
	}
	resp->status = 200;
	resp->content_type = "application/xml";
 out:
	store_msg_clear(&m);
	free(d);
}

void
api_handle(struct worker *w, struct job_req *req, struct job_resp *resp)
{
	char id[64];
	const char *rest;
	int post = req->method == HTTP_POST;

	memset(resp, 0, sizeof(*resp));
	if (req->pre_error) {
		api_reject(w, req, resp, "request.rejected", NULL, req->pre_error,
		    req->pre_msg);
		return;
	}
	if (req->method == HTTP_OTHER) {
		api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_METHOD,
		    "only GET and POST are served");
		return;
	}
	if (req->client == NULL) {	/* check_cb refuses these before: defence */
		api_reject(w, req, resp, "client.rejected", NULL,
		    GW_ERR_UNAUTHENTICATED, NULL);
		return;
	}
	if (strcmp(req->path, "/v1/submissions") == 0) {
		if (!post)
			api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_METHOD, NULL);
		else if (req->client->kind != PARTY_PORTAL)
			api_reject(w, req, resp, "submission.rejected", NULL, GW_ERR_FORBIDDEN,
			    "only portals submit messages");
		else
			submit_handle(w, req, resp);
		return;
	}
	if (strcmp(req->path, "/v1/audit/checkpoint") == 0 ||
	    strcmp(req->path, "/v1/audit/consistency") == 0) {
		int64_t from, to;

		if (post)
			api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_METHOD, NULL);
		else if (strcmp(req->path, "/v1/audit/checkpoint") == 0)
			audit_get_checkpoint(w, req, resp);
		else if (query_int(req->query, "from", 0, &from) != 0 ||
		    query_int(req->query, "to", 0, &to) != 0 || from < 1 || to < from)
			api_reject(w, req, resp, "audit.rejected", NULL, GW_ERR_INVALID,
			    "from and to must be tree sizes, 1 <= from <= to");
		else
			audit_get_consistency(w, req, resp, from, to);
		return;
	}
	if (strcmp(req->path, "/v1/account") == 0 && !post) {
		mgmt_account(w, req, resp);
		return;
	}
	if (strcmp(req->path, "/v1/message-ids") == 0 && post &&
	    req->client->kind == PARTY_PORTAL) {
		mgmt_create_id(w, req, resp);
		return;
	}
	if (strcmp(req->path, "/v1/lookup") == 0 && !post) {
		char reader[64], service[256];
		if (query_str(req->query, "reader", reader, sizeof(reader)) != 0 ||
		    query_str(req->query, "service", service, sizeof(service)) != 0)
			api_reject(w, req, resp, "request.rejected", NULL,
			    GW_ERR_INVALID, "lookup needs reader and service");
		else
			mgmt_lookup(w, req, resp, reader, service);
		return;
	}
	if ((rest = path_id(req->path, "/v1/submissions/", id, sizeof(id))) != NULL &&
	    (strcmp(rest, "/report") == 0 || strcmp(rest, "/cancel") == 0)) {
		int cancel = rest[1] == 'c';
		if (req->client->kind != PARTY_PORTAL)
			api_reject(w, req, resp, "request.rejected", NULL,
			    GW_ERR_FORBIDDEN, "only the submitting portal");
		else if (cancel != post)
			api_reject(w, req, resp, "request.rejected", NULL,
			    GW_ERR_METHOD, NULL);
		else if (cancel)
			mgmt_cancel(w, req, resp, id);
		else
			mgmt_report(w, req, resp, id);
		return;
	}
	if ((rest = path_id(req->path, "/v1/submissions/", id, sizeof(id))) != NULL &&
	    strcmp(rest, "/proof") == 0) {
		if (post)
			api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_METHOD, NULL);
		else if (req->client->kind != PARTY_PORTAL)
			api_reject(w, req, resp, "audit.rejected", NULL, GW_ERR_FORBIDDEN,
			    "only the submitting portal gets its inclusion proof");
		else
			audit_get_proof(w, req, resp, id);
		return;
	}
	if ((rest = path_id(req->path, "/v1/submissions/", id, sizeof(id))) != NULL &&
	    *rest == '\0') {
		if (post)
			api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_METHOD, NULL);
		else if (req->client->kind != PARTY_PORTAL)
			api_reject(w, req, resp, "card.rejected", NULL, GW_ERR_FORBIDDEN,
			    "only portals read process cards");
		else
			get_card(w, req, resp, id);
		return;
	}
	if ((rest = path_id(req->path, "/v1/messages/", id, sizeof(id))) != NULL &&
	    strncmp(rest, "/attachments/", 13) == 0) {
		if (post)
			api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_METHOD, NULL);
		else if (req->client->kind != PARTY_AUTHORITY)
			api_reject(w, req, resp, "attachment.rejected", NULL,
			    GW_ERR_FORBIDDEN, "only a message's readers fetch its "
			    "attachments");
		else
			fetch_attachment(w, req, resp, id, rest + 13);
		return;
	}
	if (strcmp(req->path, "/v1/mailbox") == 0 ||
	    strncmp(req->path, "/v1/mailbox/", 12) == 0) {
		if (req->client->kind != PARTY_AUTHORITY) {
			api_reject(w, req, resp, "mailbox.rejected", NULL, GW_ERR_FORBIDDEN,
			    "only authorities have a mailbox");
			return;
		}
		if (strcmp(req->path, "/v1/mailbox") == 0) {
			if (post)
				api_reject(w, req, resp, "request.rejected", NULL,
				    GW_ERR_METHOD, NULL);
			else
				get_mailbox(w, req, resp);
			return;
		}
		if (strcmp(req->path, "/v1/mailbox/next") == 0 && !post) {
			/* XTA's get-next-message: the oldest waiting one */
			struct store_mbox_entry *e = NULL;
			size_t n = 0;
			int r = store_mailbox_list(w->store, req->client->id, 0, 1,
			    &e, &n);
			if (r == 0 && n == 0)
				r = GW_ERR_NOT_FOUND;
			if (r != 0)
				api_reject(w, req, resp, "mailbox.rejected", NULL, r,
				    r == GW_ERR_NOT_FOUND ? "the mailbox is empty" : NULL);
			else {
				util_strlcpy(id, e[0].msg_id, sizeof(id));
				fetch_message(w, req, resp, id);
				snprintf(resp->location, sizeof(resp->location),
				    "/v1/mailbox/%s", id);
			}
			free(e);
			return;
		}
		rest = path_id(req->path, "/v1/mailbox/", id, sizeof(id));
		if (rest && *rest == '\0' && !post)
			fetch_message(w, req, resp, id);
		else if (rest && strcmp(rest, "/close") == 0 && post)
			close_message(w, req, resp, id);
		else if (rest && (*rest == '\0' || strcmp(rest, "/close") == 0))
			api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_METHOD, NULL);
		else
			api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_NOT_FOUND, NULL);
		return;
	}
	api_reject(w, req, resp, "request.rejected", NULL, GW_ERR_NOT_FOUND, NULL);
}
