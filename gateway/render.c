/*
 * render.c - builds the gateway's outgoing XML with the libxml2 tree API
 * (never by pasting strings, so that no value can break the markup).
 *
 * Stateless and thread-safe.  The only secret-bearing step, encryption,
 * happens inside xmlenc_encrypt(); the receipt signature goes through
 * xmldsig_sign() and so through keys_sign().
 *
 * The inspection report in the container and the process card is the one
 * stored with the message (store_msg.report, made by submit.c), parsed
 * back with xmlparse_safe() and copied in unchanged; only messages stored
 * without one get the short summary of add_inspection().
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "err.h"
#include "render.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlenc.h"
#include "xmlparse.h"

/* libxml2 takes const xmlChar *; BAD_CAST would cast const away. */
#define XC (const xmlChar *)

/*
 * A stored inspection report is the gateway's own output (submit.c,
 * inspect_to_xml()), but it is read back from disk: parsed only the safe
 * way, under limits that fit the largest report inspect.h can make (64
 * signatures of 8 certificates each).
 */
static const struct xml_limits report_limits = {
	.max_bytes = STORE_REPORT_MAX,
	.max_depth = 16,
	.max_nodes = 200000,
	.max_attrs = 16,
	.max_text = 8192,
};

int
render_doc_dump(xmlDocPtr doc, unsigned char **out, size_t *len)
{
	xmlChar *buf = NULL;
	int n = 0;
	unsigned char *copy;

	xmlDocDumpMemoryEnc(doc, &buf, &n, "UTF-8");
	if (buf == NULL || n <= 0)
		return GW_ERR_NOMEM;
	/* Hand out malloc() memory so that callers free() uniformly. */
	if ((copy = malloc((size_t)n + 1)) == NULL) {
		xmlFree(buf);
		return GW_ERR_NOMEM;
	}
	memcpy(copy, buf, (size_t)n);
	copy[n] = 0;
	xmlFree(buf);
	*out = copy;
	*len = (size_t)n;
	return 0;
}

/* The document element alone, without an XML declaration: the
 * container is encrypted as an element (xenc#Element). */
static int
dump_root(xmlDocPtr doc, unsigned char **out, size_t *len)
{
	xmlBufferPtr b = xmlBufferCreate();
	unsigned char *copy;
	size_t n;

	if (b == NULL)
		return GW_ERR_NOMEM;
	if (xmlNodeDump(b, doc, xmlDocGetRootElement(doc), 0, 0) < 0 ||
	    (copy = malloc((n = (size_t)xmlBufferLength(b)) + 1)) == NULL) {
		xmlBufferFree(b);
		return GW_ERR_NOMEM;
	}
	memcpy(copy, xmlBufferContent(b), n);
	copy[n] = 0;
	xmlBufferFree(b);
	*out = copy;
	*len = n;
	return 0;
}

xmlDocPtr
render_doc_new(const char *ns, const char *root, xmlNodePtr *rootp,
    xmlNsPtr *nsp)
{
	xmlDocPtr doc = xmlNewDoc(XC "1.0");
	xmlNodePtr r;
	xmlNsPtr n = NULL;

	if (doc == NULL)
		return NULL;
	r = xmlNewDocNode(doc, NULL, XC root, NULL);
	if (r == NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlDocSetRootElement(doc, r);
	if (ns && (n = xmlNewNs(r, XC ns, NULL)) == NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlSetNs(r, n);
	*rootp = r;
	if (nsp)
		*nsp = n;
	return doc;
}

/* Adds <name>text</name>; xmlNewTextChild escapes text. */
static xmlNodePtr
child(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
	return xmlNewTextChild(parent, ns, XC name, XC text);
}

static xmlNodePtr
child_time(xmlNodePtr parent, xmlNsPtr ns, const char *name, int64_t ms)
{
	char t[32];

	if (ms <= 0)
		return NULL;
	util_time_iso(ms, t);
	return child(parent, ns, name, t);
}

static const char *
tristate(int v, const char *yes, const char *no)
{
	return v > 0 ? yes : v == 0 ? no : "indeterminate";
}

int
render_error(int err, const char *msg, unsigned char **out, size_t *len)
{
	xmlNodePtr root;
	xmlDocPtr doc;
	int r;

	char clean[512];

	if ((doc = render_doc_new(NULL, "Error", &root, NULL)) == NULL)
		return GW_ERR_NOMEM;
	/* Messages may quote request bytes: keep the body valid XML. */
	util_strlcpy(clean, msg && *msg ? msg : gw_strerror(err), sizeof(clean));
	util_utf8_clean(clean);
	child(root, NULL, "Code", gw_errcode(err));
	child(root, NULL, "Message", clean);
	r = render_doc_dump(doc, out, len);
	xmlFreeDoc(doc);
	return r;
}

/*
 * The summary report of a message stored without the full one (before
 * store version 4): what the spine recorded in the message's fields.
 * Returns the InspectionReport element, NULL if out of memory.
 */
static xmlNodePtr
add_inspection(xmlNodePtr parent, const struct store_msg *m)
{
	xmlNodePtr rep, sig, cert;
	xmlNsPtr ns;

	if ((rep = xmlNewChild(parent, NULL, XC "InspectionReport", NULL)) == NULL)
		return NULL;
	ns = xmlNewNs(rep, XC NS_INSPECTION, NULL);
	xmlSetNs(rep, ns);
	child_time(rep, ns, "Time", m->received_ms);
	sig = xmlNewChild(rep, ns, XC "Signature", NULL);
	child(sig, ns, "SignatureAlgorithm", m->sig_alg);
	child(sig, ns, "MathResult", tristate(m->sig_ok, "ok", "corrupted"));
	cert = xmlNewChild(sig, ns, XC "Certificate", NULL);
	xmlNewProp(cert, XC "role", XC "signer");
	child(cert, ns, "Subject", m->signer_subject);
	child(cert, ns, "Issuer", m->signer_issuer);
	child(cert, ns, "Serial", m->signer_serial);
	/* QCStatements are evaluated by the verification issue; until then
	 * the type is honestly unknown. */
	child(cert, ns, "CertificateType", "unknown");
	child(cert, ns, "OfflineResult", tristate(m->chain_ok, "valid", "invalid"));
	child(cert, ns, "OnlineResult", "not-checked");
	return rep;
}

static int
is_inspection(xmlNodePtr n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, NS_INSPECTION) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

/* m->report parsed back: *doc (xmlFreeDoc) and its InspectionReport in
 * *root; both NULL for a message stored without a report. */
static int
report_parse(const struct store_msg *m, xmlDocPtr *doc, xmlNodePtr *root)
{
	xmlDocPtr d = NULL;
	int r;

	*doc = NULL;
	*root = NULL;
	if (m->report == NULL)
		return 0;
	if ((r = xmlparse_safe((const char *)m->report, m->report_len,
	    &report_limits, &d)) != 0)
		return r;
	if (!is_inspection(xmlDocGetRootElement(d), "InspectionReport")) {
		xmlFreeDoc(d);
		return GW_ERR_INTERNAL;	/* the store holds something else */
	}
	*doc = d;
	*root = xmlDocGetRootElement(d);
	return 0;
}

/* The report as the last child of parent: a copy of rep (the stored full
 * report), or the summary when there is none. */
static int
add_report(xmlNodePtr parent, const struct store_msg *m, xmlNodePtr rep)
{
	xmlNodePtr copy;

	if (rep == NULL)
		return add_inspection(parent, m) != NULL ? 0 : GW_ERR_NOMEM;
	if ((copy = xmlDocCopyNode(rep, parent->doc, 1)) == NULL)
		return GW_ERR_NOMEM;
	if (xmlAddChild(parent, copy) == NULL) {
		xmlFreeNode(copy);
		return GW_ERR_NOMEM;
	}
	xmlReconciliateNs(parent->doc, copy);
	return 0;
}

/* Adds the Warning c to w[*n] unless its code is there already. */
static void
warning_add(xmlNodePtr c, struct render_warning *w, size_t max, size_t *n)
{
	xmlChar *code = xmlGetProp(c, XC "code"), *text;
	size_t i;

	if (code == NULL)
		return;
	for (i = 0; i < *n; i++)
		if (strcmp(w[i].code, (const char *)code) == 0)
			break;
	if (i == *n && *n < max) {
		util_strlcpy(w[*n].code, (const char *)code, sizeof(w[0].code));
		text = xmlNodeGetContent(c);
		util_strlcpy(w[*n].text, text ? (const char *)text : "",
		    sizeof(w[0].text));
		xmlFree(text);
		(*n)++;
	}
	xmlFree(code);
}

/* The Warnings of every Signature of the report rep, one per code. */
static size_t
report_warnings(xmlNodePtr rep, struct render_warning *w, size_t max)
{
	xmlNodePtr s, c;
	size_t n = 0;

	for (s = rep ? rep->children : NULL; s != NULL; s = s->next) {
		if (!is_inspection(s, "Signature"))
			continue;
		for (c = s->children; c != NULL; c = c->next)
			if (is_inspection(c, "Warning"))
				warning_add(c, w, max, &n);
	}
	return n;
}

int
render_report_warnings(const struct store_msg *m, struct render_warning *w,
    size_t max, size_t *n)
{
	xmlDocPtr doc;
	xmlNodePtr rep;
	int r;

	if ((r = report_parse(m, &doc, &rep)) != 0)
		return r;
	*n = report_warnings(rep, w, max);
	xmlFreeDoc(doc);
	return 0;
}

/* 1 if the report says the signature is valid (the full report's overall
 * Result; for the summary, the message's fields). */
static int
report_valid(const struct store_msg *m, xmlNodePtr rep)
{
	xmlNodePtr c;
	xmlChar *t;
	int ok = 0;

	if (rep == NULL)
		return m->sig_ok == 1 && m->chain_ok == 1;
	for (c = rep->children; c != NULL; c = c->next)
		if (is_inspection(c, "Result")) {
			t = xmlNodeGetContent(c);
			ok = t != NULL && strcmp((const char *)t, "valid") == 0;
			xmlFree(t);
			break;
		}
	return ok;
}

/*
 * The card's <Status> and one <Warning> per warning code of the report:
 * red if the signature is not valid or a delivery failed, expired or was
 * cancelled; yellow if accepted with warnings (no revocation answer under
 * "prefer", RSA-2048 allowed by the profile); green otherwise.
 */
static void
add_status(xmlNodePtr root, xmlNsPtr ns, const struct store_msg *m,
    xmlNodePtr rep, const struct store_delivery *d, size_t nd)
{
	struct render_warning w[RENDER_MAX_WARNINGS];
	size_t i, nw = report_warnings(rep, w, RENDER_MAX_WARNINGS);
	int red = !report_valid(m, rep);
	xmlNodePtr e;

	for (i = 0; i < nd; i++)
		if (strcmp(d[i].state, STORE_ST_FAILED) == 0 ||
		    strcmp(d[i].state, STORE_ST_EXPIRED) == 0 ||
		    strcmp(d[i].state, STORE_ST_CANCELLED) == 0)
			red = 1;
	child(root, ns, "Status", red ? "red" : nw > 0 ? "yellow" : "green");
	for (i = 0; i < nw; i++) {
		e = child(root, ns, "Warning", w[i].text);
		xmlNewProp(e, XC "code", XC w[i].code);
	}
}

static void
add_party(xmlNodePtr parent, xmlNsPtr ns, const char *role, const char *id)
{
	xmlNodePtr p = xmlNewChild(parent, ns, XC role, NULL);
	xmlNodePtr i = child(p, ns, "Identifier", id);

	xmlNewProp(i, XC "type", XC "gatewayd");
}

int
render_receipt(const struct store_msg *m, char *const *readers,
    size_t nreaders, int64_t log_index, struct keys *key, X509 *cert,
    unsigned char **out, size_t *len)
{
	xmlNodePtr root, rd;
	xmlNsPtr ns;
	xmlDocPtr doc;
	char size[24];
	size_t i;
	int r;

	if ((doc = render_doc_new(NS_RECEIPT, "AcceptanceReceipt", &root, &ns)) == NULL)
		return GW_ERR_NOMEM;
	child(root, ns, "MessageID", m->id);
	child(root, ns, "PortalMessageID", m->portal_msg_id);
	child(root, ns, "Portal", m->portal);
	child(root, ns, "SHA256", m->sha256);
	snprintf(size, sizeof(size), "%" PRId64, m->size);
	child(root, ns, "Size", size);
	child_time(root, ns, "Received", m->received_ms);
	rd = xmlNewChild(root, ns, XC "Readers", NULL);
	for (i = 0; i < nreaders; i++)
		child(rd, ns, "Reader", readers[i]);
	/* The audit log leaf of this acceptance: with the inclusion proof
	 * (GET /v1/submissions/{id}/proof) the portal can show anyone that
	 * the gateway recorded it. */
	snprintf(size, sizeof(size), "%" PRId64, log_index);
	child(root, ns, "LogIndex", size);
	if ((r = xmldsig_sign(doc, key, cert, NULL, 0)) == 0)
		r = render_doc_dump(doc, out, len);
	xmlFreeDoc(doc);
	return r;
}

int
render_container(const struct store_msg *m, const unsigned char *sub,
    size_t sublen, unsigned char **out, size_t *len)
{
	xmlNodePtr root, msg, rep;
	xmlNsPtr ns;
	xmlDocPtr doc, rdoc;
	char *b64 = NULL, size[24];
	size_t b64len;
	int r;

	if ((r = report_parse(m, &rdoc, &rep)) != 0)
		return r;
	if ((r = util_b64_encode(sub, sublen, &b64, &b64len)) != 0) {
		xmlFreeDoc(rdoc);
		return r;
	}
	if ((doc = render_doc_new(NS_CONTAINER, "ContentContainer", &root, &ns)) == NULL) {
		xmlFreeDoc(rdoc);
		free(b64);
		return GW_ERR_NOMEM;
	}
	msg = child(root, ns, "Message", b64);
	free(b64);
	if (msg == NULL) {	/* never pass on a container without the message */
		xmlFreeDoc(rdoc);
		xmlFreeDoc(doc);
		return GW_ERR_NOMEM;
	}
	snprintf(size, sizeof(size), "%zu", sublen);
	xmlNewProp(msg, XC "id", XC "message");
	xmlNewProp(msg, XC "filename", XC "submission.xml");
	xmlNewProp(msg, XC "contentType", XC "application/xml");
	xmlNewProp(msg, XC "size", XC size);
	xmlNewProp(msg, XC "sha256", XC m->sha256);
	/* nor without its report */
	r = add_report(root, m, rep);
	xmlFreeDoc(rdoc);
	if (r == 0)
		r = dump_root(doc, out, len);
	xmlFreeDoc(doc);
	/* The base64 of the message alone is longer than sublen. */
	if (r == 0 && *len < sublen) {
		free(*out);
		r = GW_ERR_INTERNAL;
	}
	return r;
}

/* XTA-style MessageMetaData for the SOAP header. */
/*
 * <gw:Attachments> with one <gw:Attachment> per attachment: what the
 * portal signed (name, type, size, SHA-256) and the digest of what the
 * reader receives (CipherSHA256 over IV || ciphertext || tag), so that the
 * gateway's signature over the envelope covers both (docs/attachments.md).
 */
static void
add_attachments(xmlNodePtr md, xmlNsPtr ns, const struct store_att *a,
    size_t n)
{
	xmlNodePtr list, e;
	char num[24];
	size_t i;

	if (n == 0)
		return;
	list = xmlNewChild(md, ns, XC "Attachments", NULL);
	for (i = 0; i < n && list; i++) {
		if ((e = xmlNewChild(list, ns, XC "Attachment", NULL)) == NULL)
			return;
		xmlNewProp(e, XC "Id", XC a[i].att_id);
		xmlNewProp(e, XC "Filename", XC a[i].filename);
		xmlNewProp(e, XC "ContentType", XC a[i].content_type);
		snprintf(num, sizeof(num), "%" PRId64, a[i].size);
		xmlNewProp(e, XC "Size", XC num);
		xmlNewProp(e, XC "SHA256", XC a[i].sha256);
		snprintf(num, sizeof(num), "%" PRId64, a[i].cipher_size);
		xmlNewProp(e, XC "CipherSize", XC num);
		xmlNewProp(e, XC "CipherSHA256", XC a[i].cipher_sha256);
	}
}

static void
add_metadata(xmlNodePtr header, const struct store_msg *m, const char *reader,
    const struct store_att *atts, size_t natts)
{
	xmlNodePtr md, da, orig, dest, idn, q;
	xmlNsPtr ns;
	char size[24];

	md = xmlNewChild(header, NULL, XC "MessageMetaData", NULL);
	ns = xmlNewNs(md, XC NS_ENVELOPE, XC "gw");
	xmlSetNs(md, ns);
	da = xmlNewChild(md, ns, XC "DeliveryAttributes", NULL);
	child_time(da, ns, "Origin", m->received_ms);
	child_time(da, ns, "Delivery", m->forwarded_ms);
	orig = xmlNewChild(md, ns, XC "Originators", NULL);
	add_party(orig, ns, "Sender", m->portal);
	dest = xmlNewChild(md, ns, XC "Destinations", NULL);
	add_party(dest, ns, "Reader", reader);
	idn = xmlNewChild(md, ns, XC "MsgIdentification", NULL);
	child(idn, ns, "MessageID", m->id);
	child(idn, ns, "PortalMessageID", m->portal_msg_id);
	q = xmlNewChild(md, ns, XC "Qualifier", NULL);
	if (m->subject[0])
		child(q, ns, "Subject", m->subject);
	child(q, ns, "Service", m->service);
	child(q, ns, "BusinessScenario", m->scenario);
	snprintf(size, sizeof(size), "%" PRId64, m->size);
	child(md, ns, "MsgSize", size);
	add_attachments(md, ns, atts, natts);
}

int
render_envelope(const struct store_msg *m, const char *reader,
    const unsigned char *container, size_t clen, X509 *const *enc_certs,
    size_t ncerts, const struct store_att *atts, size_t natts,
    struct keys *key, X509 *cert, unsigned char **out, size_t *len)
{
	xmlNodePtr sig;
	xmlNodePtr root, header, body, enc = NULL;
	xmlNsPtr ns;
	xmlDocPtr doc;
	int r;

	if ((doc = xmlNewDoc(XC "1.0")) == NULL)
		return GW_ERR_NOMEM;
	root = xmlNewDocNode(doc, NULL, XC "Envelope", NULL);
	xmlDocSetRootElement(doc, root);
	ns = xmlNewNs(root, XC NS_SOAP12, XC "soap");
	xmlSetNs(root, ns);
	header = xmlNewChild(root, ns, XC "Header", NULL);
	add_metadata(header, m, reader, atts, natts);
	body = xmlNewChild(root, ns, XC "Body", NULL);
	if (header == NULL || body == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	if ((r = xmlenc_encrypt(doc, container, clen, enc_certs, ncerts, &enc)) != 0)
		goto out;
	if (xmlAddChild(body, enc) == NULL) {
		xmlFreeNode(enc);
		r = GW_ERR_NOMEM;
		goto out;
	}
	/* Signed as the document element's last child, then moved into the
	 * header: the enveloped-signature transform leaves the Signature
	 * element out of the digest wherever it stands, so the value holds. */
	if ((r = xmldsig_sign(doc, key, cert, NULL, 0)) != 0)
		goto out;
	sig = xmlGetLastChild(root);
	if (sig == NULL || sig->type != XML_ELEMENT_NODE ||
	    strcmp((const char *)sig->name, "Signature") != 0) {
		r = GW_ERR_INTERNAL;
		goto out;
	}
	xmlUnlinkNode(sig);
	if (xmlAddChild(header, sig) == NULL) {
		xmlFreeNode(sig);
		r = GW_ERR_NOMEM;
		goto out;
	}
	r = render_doc_dump(doc, out, len);
 out:
	xmlFreeDoc(doc);
	return r;
}

int
render_card(const struct store_msg *m, const struct store_delivery *d,
    size_t nd, unsigned char **out, size_t *len)
{
	xmlNodePtr root, rs, rd, rep;
	xmlNsPtr ns;
	xmlDocPtr doc, rdoc;
	int64_t reception = 0;
	size_t i, closed = 0;
	int r;

	if ((r = report_parse(m, &rdoc, &rep)) != 0)
		return r;
	if ((doc = render_doc_new(NS_CARD, "ProcessCard", &root, &ns)) == NULL) {
		xmlFreeDoc(rdoc);
		return GW_ERR_NOMEM;
	}
	child(root, ns, "MessageID", m->id);
	child(root, ns, "PortalMessageID", m->portal_msg_id);
	child(root, ns, "Portal", m->portal);
	child(root, ns, "Service", m->service);
	child(root, ns, "BusinessScenario", m->scenario);
	if (m->subject[0])
		child(root, ns, "Subject", m->subject);
	child(root, ns, "SHA256", m->sha256);
	child_time(root, ns, "Creation", m->received_ms);
	child_time(root, ns, "Forwarding", m->forwarded_ms);
	for (i = 0; i < nd; i++) {
		if (d[i].closed_ms > 0)
			closed++;
		if (d[i].closed_ms > reception)
			reception = d[i].closed_ms;
	}
	/* The message as a whole is received when every reader has it. */
	if (nd > 0 && closed == nd)
		child_time(root, ns, "Reception", reception);
	add_status(root, ns, m, rep, d, nd);
	rs = xmlNewChild(root, ns, XC "Readers", NULL);
	for (i = 0; i < nd; i++) {
		rd = xmlNewChild(rs, ns, XC "Reader", NULL);
		xmlNewProp(rd, XC "id", XC d[i].reader);
		xmlNewProp(rd, XC "state", XC d[i].state);
		xmlNewProp(rd, XC "delivery", XC(d[i].push ? "push" : "pull"));
		if (d[i].push) {
			char a[16];
			snprintf(a, sizeof(a), "%d", d[i].attempts);
			xmlNewProp(rd, XC "attempts", XC a);
		}
		child_time(rd, ns, "Fetched", d[i].fetched_ms);
		child_time(rd, ns, "Reception", d[i].closed_ms);
		if (d[i].last_error[0])
			child(rd, ns, "LastError", d[i].last_error);
	}
	r = add_report(root, m, rep);
	xmlFreeDoc(rdoc);
	if (r == 0)
		r = render_doc_dump(doc, out, len);
	xmlFreeDoc(doc);
	return r;
}

int
render_mailbox(const struct store_mbox_entry *e, size_t n, int64_t total,
    int64_t next, unsigned char **out, size_t *len)
{
	xmlNodePtr root, msg;
	xmlNsPtr ns;
	xmlDocPtr doc;
	char buf[32];
	size_t i;
	int r;

	if ((doc = render_doc_new(NS_MAILBOX, "MailboxList", &root, &ns)) == NULL)
		return GW_ERR_NOMEM;
	snprintf(buf, sizeof(buf), "%" PRId64, total);
	xmlNewProp(root, XC "count", XC buf);
	if (next >= 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, next);
		xmlNewProp(root, XC "next", XC buf);
	}
	for (i = 0; i < n; i++) {
		msg = xmlNewChild(root, ns, XC "Message", NULL);
		xmlNewProp(msg, XC "id", XC e[i].msg_id);
		snprintf(buf, sizeof(buf), "%" PRId64, e[i].seq);
		xmlNewProp(msg, XC "seq", XC buf);
		snprintf(buf, sizeof(buf), "%" PRId64, e[i].size);
		xmlNewProp(msg, XC "size", XC buf);
		xmlNewProp(msg, XC "service", XC e[i].service);
		util_time_iso(e[i].received_ms, buf);
		xmlNewProp(msg, XC "received", XC buf);
	}
	r = render_doc_dump(doc, out, len);
	xmlFreeDoc(doc);
	return r;
}

int
render_closed(const char *id, int64_t reception_ms, unsigned char **out,
    size_t *len)
{
	xmlNodePtr root;
	xmlDocPtr doc;
	char t[32];
	int r;

	if ((doc = render_doc_new(NS_MAILBOX, "Closed", &root, NULL)) == NULL)
		return GW_ERR_NOMEM;
	xmlNewProp(root, XC "id", XC id);
	util_time_iso(reception_ms, t);
	xmlNewProp(root, XC "reception", XC t);
	r = render_doc_dump(doc, out, len);
	xmlFreeDoc(doc);
	return r;
}
