/*
 * api_audit.c - the audit log's public face: signed checkpoints (tree
 * heads), inclusion proofs for a portal's own submissions, and consistency
 * proofs between tree heads.  docs/audit.md describes the encodings so that
 * anyone can check them without our code (tests/audit/verify_proof.py does).
 * Runs on a worker thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "err.h"
#include "gw.h"
#include "merkle.h"
#include "render.h"
#include "store.h"
#include "util.h"

#define NS_AUDIT "urn:gatewayd:audit:1"
#define XC (const xmlChar *)

static void
child_b64(xmlNodePtr parent, xmlNsPtr ns, const char *name,
    const unsigned char *p, size_t len)
{
	char *b64 = NULL;
	size_t n;

	if (util_b64_encode(p, len, &b64, &n) == 0)
		xmlNewTextChild(parent, ns, XC name, XC b64);
	free(b64);
}

static void
child_i64(xmlNodePtr parent, xmlNsPtr ns, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	xmlNewTextChild(parent, ns, XC name, XC buf);
}

/* Adds <Checkpoint> with the exact signed text. */
static int
add_checkpoint(xmlNodePtr parent, xmlNsPtr ns, const struct gw *gw,
    const struct store_checkpoint *cp)
{
	xmlNodePtr c = xmlNewChild(parent, ns, XC "Checkpoint", NULL);
	char text[512];
	size_t tlen;
	int r;

	if (c == NULL)
		return GW_ERR_NOMEM;
	if ((r = store_checkpoint_text(cp, text, sizeof(text), &tlen)) != 0)
		return r;
	child_i64(c, ns, "TreeSize", cp->tree_size);
	child_b64(c, ns, "RootHash", cp->root, 32);
	child_i64(c, ns, "TimeMs", cp->time_ms);
	xmlNewTextChild(c, ns, XC "KeySHA256", XC cp->key_sha256);
	xmlNewTextChild(c, ns, XC "SignatureAlgorithm",
	    XC(keys_type(gw->sign_key) == EVP_PKEY_EC ? "ecdsa-sha256" :
	    "rsa-pkcs1-sha256"));
	child_b64(c, ns, "Signature", cp->sig, cp->sig_len);
	child_b64(c, ns, "SignedText", (const unsigned char *)text, tlen);
	return 0;
}

static int
finish(xmlDocPtr doc, struct job_resp *resp)
{
	int r;

	if ((r = render_doc_dump(doc, &resp->body, &resp->body_len)) != 0)
		return r;
	resp->status = 200;
	resp->content_type = "application/xml";
	return 0;
}

void
audit_get_checkpoint(struct worker *w, const struct job_req *req,
    struct job_resp *resp)
{
	struct store_checkpoint cp;
	xmlNodePtr root;
	xmlNsPtr ns;
	xmlDocPtr doc;
	int r;

	if ((r = store_log_checkpoint(w->store, 0, &cp)) != 0) {
		api_reject(w, req, resp, "audit.rejected", NULL, r,
		    r == GW_ERR_NOT_FOUND ? "no checkpoint has been sealed yet" : NULL);
		return;
	}
	if ((doc = render_doc_new(NS_AUDIT, "CheckpointResponse", &root, &ns)) == NULL) {
		api_error(resp, GW_ERR_NOMEM, NULL);
		return;
	}
	if ((r = add_checkpoint(root, ns, w->gw, &cp)) != 0 ||
	    (r = finish(doc, resp)) != 0)
		api_error(resp, r, NULL);
	xmlFreeDoc(doc);
}

/* The leaf, path and checkpoint of one log index. */
static int
build_proof(struct worker *w, const char *msg_id, int64_t leaf,
    const struct store_checkpoint *cp, struct job_resp *resp)
{
	struct store_audit_row row;
	merkle_hash path[MERKLE_MAX_DEPTH];
	const char *f[6];
	unsigned char *enc = NULL;
	size_t elen = 0, np = 0, i;
	xmlNodePtr root, p;
	xmlNsPtr ns;
	xmlDocPtr doc = NULL;
	int r;

	if ((r = store_audit_get(w->store, leaf + 1, &row)) != 0 ||
	    (r = store_log_inclusion(w->store, leaf, cp->tree_size, path, &np)) != 0)
		return r;
	f[0] = row.event; f[1] = row.actor; f[2] = row.msg_id;
	f[3] = row.reader; f[4] = row.code; f[5] = row.detail;
	if ((r = merkle_event_encode(row.seq, row.time_ms, f, &enc, &elen)) != 0)
		return r;
	r = GW_ERR_NOMEM;
	if ((doc = render_doc_new(NS_AUDIT, "InclusionProof", &root, &ns)) == NULL)
		goto out;
	xmlNewTextChild(root, ns, XC "MessageID", XC msg_id);
	child_i64(root, ns, "LeafIndex", leaf);
	child_b64(root, ns, "Leaf", enc, elen);
	child_i64(root, ns, "TreeSize", cp->tree_size);
	p = xmlNewChild(root, ns, XC "Path", NULL);
	for (i = 0; i < np; i++)
		child_b64(p, ns, "Hash", path[i], MERKLE_HASH_LEN);
	if ((r = add_checkpoint(root, ns, w->gw, cp)) == 0)
		r = finish(doc, resp);
 out:
	xmlFreeDoc(doc);
	free(enc);
	return r;
}

void
audit_get_proof(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *msg_id)
{
	struct store_checkpoint cp;
	struct store_msg m;
	struct store_delivery *d = NULL;
	size_t nd = 0;
	int64_t leaf;
	int r;

	r = store_get_msg(w->store, msg_id, &m, &d, &nd);
	free(d);
	if (r == 0)
		store_msg_clear(&m);	/* only the portal is needed */
	if (r == 0 && strcmp(m.portal, req->client->id) != 0)
		r = GW_ERR_NOT_FOUND;
	if (r == 0)
		r = store_log_index_of(w->store, msg_id, "submission.accepted", &leaf);
	if (r != 0) {
		api_reject(w, req, resp, "audit.rejected", NULL, r, NULL);
		return;
	}
	r = store_log_checkpoint(w->store, 0, &cp);
	if (r == GW_ERR_NOT_FOUND || (r == 0 && cp.tree_size <= leaf)) {
		api_error(resp, GW_ERR_STATE, "the log entry is not sealed into a "
		    "checkpoint yet; retry in a few seconds");
		return;
	}
	if (r == 0)
		r = build_proof(w, msg_id, leaf, &cp, resp);
	if (r != 0)
		api_error(resp, r, NULL);
}

void
audit_get_consistency(struct worker *w, const struct job_req *req,
    struct job_resp *resp, int64_t from, int64_t to)
{
	struct store_checkpoint c1, c2;
	merkle_hash proof[MERKLE_MAX_DEPTH];
	size_t np = 0, i;
	xmlNodePtr root, p;
	xmlNsPtr ns;
	xmlDocPtr doc;
	int r;

	if ((r = store_log_checkpoint(w->store, from, &c1)) != 0 ||
	    (r = store_log_checkpoint(w->store, to, &c2)) != 0 ||
	    (r = store_log_consistency(w->store, c1.tree_size, c2.tree_size, proof,
	    &np)) != 0) {
		api_reject(w, req, resp, "audit.rejected", NULL, r,
		    r == GW_ERR_NOT_FOUND ? "from and to must be sizes of sealed "
		    "checkpoints" : NULL);
		return;
	}
	if ((doc = render_doc_new(NS_AUDIT, "ConsistencyProof", &root, &ns)) == NULL) {
		api_error(resp, GW_ERR_NOMEM, NULL);
		return;
	}
	p = xmlNewChild(root, ns, XC "Path", NULL);
	for (i = 0; i < np; i++)
		child_b64(p, ns, "Hash", proof[i], MERKLE_HASH_LEN);
	if ((r = add_checkpoint(root, ns, w->gw, &c1)) != 0 ||
	    (r = add_checkpoint(root, ns, w->gw, &c2)) != 0 ||
	    (r = finish(doc, resp)) != 0)
		api_error(resp, r, NULL);
	xmlFreeDoc(doc);
}
