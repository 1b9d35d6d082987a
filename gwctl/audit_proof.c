/*
 * audit_proof.c - gwctl audit prove and check-proof (audit.h): the
 * inclusion proof of a message's acceptance, from the database or from the
 * gateway (as the submitting portal), checked offline: the leaf decodes
 * and names the message, the path leads to the checkpoint's root (RFC 9162
 * 2.1.3.2), the signed text is the checkpoint's and the gateway
 * certificate's key signed it.  The document is the one GET
 * /v1/submissions/ID/proof answers (docs/api.md), byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "audit.h"
#include "err.h"
#include "gwctl.h"
#include "util.h"
#include "xmlparse.h"

#define XC (const xmlChar *)

struct proof {
	char msg_id[256];
	int64_t index, size;
	unsigned char *leaf;
	size_t leaf_len;
	merkle_hash path[MERKLE_MAX_DEPTH];
	size_t np;
	struct store_checkpoint cp;
	char alg[32];
	unsigned char *text;		/* SignedText */
	size_t text_len;
};

static void
proof_free(struct proof *p)
{
	free(p->leaf);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

/* The first child element called name in our namespace. */
static xmlNodePtr
x_child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = parent ? parent->children : NULL; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE && n->ns != NULL &&
		    xmlStrcmp(n->ns->href, XC AUDIT_NS) == 0 &&
		    xmlStrcmp(n->name, XC name) == 0)
			return n;
	return NULL;
}

static int
x_text(xmlNodePtr n, char *out, size_t size)
{
	xmlChar *t;
	int r = -1;

	if (n != NULL && (t = xmlNodeGetContent(n)) != NULL) {
		if (util_strlcpy(out, (const char *)t, size) < size)
			r = 0;
		xmlFree(t);
	}
	return r;
}

static int
x_int(xmlNodePtr n, int64_t *v)
{
	unsigned long long u;
	char buf[32];

	if (x_text(n, buf, sizeof(buf)) != 0 ||
	    gwctl_parse_u64(buf, 0, (unsigned long long)INT64_MAX, &u) != 0)
		return -1;
	*v = (int64_t)u;
	return 0;
}

/* Base64 content of n, 1 to max bytes (exactly max if exact). */
static int
x_b64(xmlNodePtr n, size_t max, int exact, unsigned char **out, size_t *len)
{
	xmlChar *t;
	int r = -1;

	if (n == NULL || (t = xmlNodeGetContent(n)) == NULL)
		return -1;
	if (util_b64_decode((const char *)t, strlen((const char *)t), max, out,
	    len) == 0) {
		r = *len > 0 && (!exact || *len == max) ? 0 : -1;
		if (r != 0) {
			free(*out);
			*out = NULL;
		}
	}
	xmlFree(t);
	return r;
}

static int
xml_checkpoint(xmlNodePtr c, struct proof *p)
{
	unsigned char *b = NULL;
	size_t n;

	if (x_int(x_child(c, "TreeSize"), &p->cp.tree_size) != 0 ||
	    x_int(x_child(c, "TimeMs"), &p->cp.time_ms) != 0 ||
	    x_text(x_child(c, "KeySHA256"), p->cp.key_sha256,
	    sizeof(p->cp.key_sha256)) != 0 ||
	    x_text(x_child(c, "SignatureAlgorithm"), p->alg,
	    sizeof(p->alg)) != 0 ||
	    x_b64(x_child(c, "RootHash"), 32, 1, &b, &n) != 0)
		return -1;
	memcpy(p->cp.root, b, 32);
	free(b);
	if (x_b64(x_child(c, "Signature"), AUDIT_MAX_SIG, 0, &b, &n) != 0)
		return -1;
	memcpy(p->cp.sig, b, n);
	p->cp.sig_len = n;
	free(b);
	return x_b64(x_child(c, "SignedText"), 1024, 0, &p->text, &p->text_len);
}

/* Reads an InclusionProof document (docs/api.md) into p. */
static int
proof_parse(const unsigned char *xml, size_t len, struct proof *p)
{
	struct xml_limits lim = xmlparse_default_limits;
	xmlDocPtr doc = NULL;
	xmlNodePtr root, n;
	unsigned char *h;
	size_t hl;
	int r = -1;

	memset(p, 0, sizeof(*p));
	lim.max_bytes = 1 << 20;
	if (xmlparse_safe((const char *)xml, len, &lim, &doc) != 0 ||
	    (root = xmlDocGetRootElement(doc)) == NULL || root->ns == NULL ||
	    xmlStrcmp(root->ns->href, XC AUDIT_NS) != 0 ||
	    xmlStrcmp(root->name, XC "InclusionProof") != 0 ||
	    x_text(x_child(root, "MessageID"), p->msg_id,
	    sizeof(p->msg_id)) != 0 ||
	    x_int(x_child(root, "LeafIndex"), &p->index) != 0 ||
	    x_int(x_child(root, "TreeSize"), &p->size) != 0 ||
	    x_b64(x_child(root, "Leaf"), 1 << 16, 0, &p->leaf,
	    &p->leaf_len) != 0 ||
	    xml_checkpoint(x_child(root, "Checkpoint"), p) != 0)
		goto out;
	n = x_child(root, "Path");
	for (n = n ? n->children : NULL; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (p->np == MERKLE_MAX_DEPTH ||
		    xmlStrcmp(n->name, XC "Hash") != 0 ||
		    x_b64(n, MERKLE_HASH_LEN, 1, &h, &hl) != 0)
			goto out;
		memcpy(p->path[p->np++], h, MERKLE_HASH_LEN);
		free(h);
	}
	r = 0;
 out:
	xmlFreeDoc(doc);
	return r;
}

/*
 * Checks a proof offline: the leaf decodes and names the message, the path
 * leads from its hash to the checkpoint's root, the signed text is the
 * checkpoint's, and the gateway certificate's key signed it.
 */
static int
proof_check(const char *cmd, const struct proof *p,
    const struct audit_certs *cs, const char *expect_id, FILE *report)
{
	struct audit_leaf v;
	merkle_hash h;
	char text[512], why[300], ev[64], actor[64], t[32], t2[32];
	char *b64 = NULL;
	int64_t seq = p->index + 1;
	size_t tlen, n;
	X509 *x = NULL;

	if (audit_leaf_decode(p->leaf, p->leaf_len, &v) != 0)
		return audit_fail_seq(cmd, seq, "the Leaf is not an audit "
		    "event encoding");
	if (v.seq != (uint64_t)seq || !audit_leaf_field_is(&v, 2, p->msg_id) ||
	    (expect_id != NULL && strcmp(expect_id, p->msg_id) != 0))
		return audit_fail_seq(cmd, seq, "the Leaf is not the event of "
		    "message %s at LeafIndex %lld",
		    expect_id ? expect_id : p->msg_id, (long long)p->index);
	merkle_leaf_hash(p->leaf, p->leaf_len, h);
	if (p->size != p->cp.tree_size ||
	    merkle_verify_inclusion((uint64_t)p->index, (uint64_t)p->size, h,
	    (const merkle_hash *)p->path, p->np, p->cp.root) != 0)
		return audit_fail_seq(cmd, seq, "the inclusion path does not "
		    "lead to the checkpoint's root");
	if (store_checkpoint_text(&p->cp, text, sizeof(text), &tlen) != 0 ||
	    tlen != p->text_len || memcmp(text, p->text, tlen) != 0)
		return audit_fail_cp(cmd, p->cp.tree_size, "SignedText is not "
		    "the text of the checkpoint's fields");
	if (audit_cp_check(cs, &p->cp, &x, why, sizeof(why)) != 0)
		return audit_fail_cp(cmd, p->cp.tree_size, "%s", why);
	if (strcmp(p->alg, audit_sig_alg(x)) != 0)
		return audit_fail_cp(cmd, p->cp.tree_size, "SignatureAlgorithm "
		    "%s does not fit the gateway's key", p->alg);
	if (report == NULL)
		return 0;
	audit_leaf_field(&v, 0, ev, sizeof(ev));
	audit_leaf_field(&v, 1, actor, sizeof(actor));
	if (util_b64_encode(p->cp.root, 32, &b64, &n) != 0)
		return GW_ERR_NOMEM;
	fprintf(report, "OK: %s: %s by %s at %s is leaf %lld of the tree of "
	    "size %lld, root %s, signed %s by the gateway key sha256:%s\n",
	    p->msg_id, ev, actor, audit_iso((int64_t)v.time_ms, t),
	    (long long)p->index, (long long)p->size, b64,
	    audit_iso(p->cp.time_ms, t2), p->cp.key_sha256);
	free(b64);
	return 0;
}

int
audit_cmd_check(struct audit_opts *o)
{
	struct audit_certs cs;
	struct proof p;
	unsigned char *xml = NULL;
	size_t len = 0;
	int ret = GWCTL_FAIL;

	if (audit_apply_dev(o, 0, 1) != 0)
		return GWCTL_USAGE;
	if (gwctl_read_input(o->args[0], 1 << 20, &xml, &len) != 0) {
		gwctl_err(o->cmd, "cannot read %s (at most 1 MiB)", o->args[0]);
		return GWCTL_FAIL;
	}
	if (audit_certs_load(o, &cs) != 0) {
		free(xml);
		return GWCTL_FAIL;
	}
	if (proof_parse(xml, len, &p) != 0)
		gwctl_err(o->cmd, "FAILED: %s is not an InclusionProof "
		    "document (" AUDIT_NS ")", o->args[0]);
	else if (proof_check(o->cmd, &p, &cs, NULL, stdout) == 0)
		ret = GWCTL_OK;
	proof_free(&p);
	audit_certs_free(&cs);
	free(xml);
	return ret;
}

static void
x_add_b64(xmlNodePtr parent, xmlNsPtr ns, const char *name,
    const unsigned char *p, size_t len)
{
	char *b64 = NULL;
	size_t n;

	if (util_b64_encode(p, len, &b64, &n) == 0)
		xmlNewTextChild(parent, ns, XC name, XC b64);
	free(b64);
}

static void
x_add_int(xmlNodePtr parent, xmlNsPtr ns, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	xmlNewTextChild(parent, ns, XC name, XC buf);
}

/* The InclusionProof document, as GET /v1/submissions/ID/proof makes it. */
static int
proof_xml(const struct proof *p, xmlChar **out, int *len)
{
	xmlDocPtr doc = xmlNewDoc(XC "1.0");
	xmlNodePtr root, n, c;
	xmlNsPtr ns;
	size_t i;

	if (doc == NULL || (root = xmlNewDocNode(doc, NULL, XC "InclusionProof",
	    NULL)) == NULL) {
		xmlFreeDoc(doc);
		return GW_ERR_NOMEM;
	}
	xmlDocSetRootElement(doc, root);
	ns = xmlNewNs(root, XC AUDIT_NS, NULL);
	xmlSetNs(root, ns);
	xmlNewTextChild(root, ns, XC "MessageID", XC p->msg_id);
	x_add_int(root, ns, "LeafIndex", p->index);
	x_add_b64(root, ns, "Leaf", p->leaf, p->leaf_len);
	x_add_int(root, ns, "TreeSize", p->size);
	n = xmlNewChild(root, ns, XC "Path", NULL);
	for (i = 0; n != NULL && i < p->np; i++)
		x_add_b64(n, ns, "Hash", p->path[i], MERKLE_HASH_LEN);
	if ((c = xmlNewChild(root, ns, XC "Checkpoint", NULL)) != NULL) {
		x_add_int(c, ns, "TreeSize", p->cp.tree_size);
		x_add_b64(c, ns, "RootHash", p->cp.root, 32);
		x_add_int(c, ns, "TimeMs", p->cp.time_ms);
		xmlNewTextChild(c, ns, XC "KeySHA256", XC p->cp.key_sha256);
		xmlNewTextChild(c, ns, XC "SignatureAlgorithm", XC p->alg);
		x_add_b64(c, ns, "Signature", p->cp.sig, p->cp.sig_len);
		x_add_b64(c, ns, "SignedText", p->text, p->text_len);
	}
	xmlDocDumpMemoryEnc(doc, out, len, "UTF-8");
	xmlFreeDoc(doc);
	return *out != NULL ? 0 : GW_ERR_NOMEM;
}

/* The proof of the message's submission.accepted event, from the store. */
static int
proof_from_db(const struct audit_opts *o, const struct audit_certs *cs,
    const char *id, struct proof *p)
{
	sqlite3_stmt *st = NULL;
	struct audit_db a;
	struct audit_row r;
	char why[100] = "cannot encode it";
	int i, ret = GW_ERR_NOT_FOUND;

	memset(p, 0, sizeof(*p));
	if (audit_db_open(o->cmd, o->db, &a) != 0)
		return GW_ERR_STORE;
	if (audit_db_prep(&a, o->cmd, "SELECT " AUDIT_ROW_COLS " FROM audit"
	    " WHERE msg_id = ?1 AND event = 'submission.accepted'"
	    " ORDER BY seq LIMIT 1", &st) != 0)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		gwctl_err(o->cmd, "no submission.accepted event for %s", id);
		goto out;
	}
	if (audit_row_read(st, &r, why, sizeof(why)) != 0 ||
	    merkle_event_encode(r.seq, r.time_ms, r.f, &p->leaf,
	    &p->leaf_len) != 0) {
		ret = audit_fail_seq(o->cmd, r.seq, "%s", why);
		goto out;
	}
	p->index = r.seq - 1;
	util_strlcpy(p->msg_id, id, sizeof(p->msg_id));
	ret = audit_latest_cp(o->cmd, &a, &p->cp);
	if (ret == GW_ERR_NOT_FOUND ||
	    (ret == 0 && p->cp.tree_size <= p->index)) {
		gwctl_err(o->cmd, "seq %lld is not sealed into a checkpoint "
		    "yet", (long long)r.seq);
		ret = GW_ERR_STATE;
	}
	if (ret != 0)
		goto out;
	p->size = p->cp.tree_size;
	/* The name of the signer's algorithm; check-proof compares it. */
	for (i = 0; i < cs->n - 1; i++)
		if (strcasecmp(cs->fpr[i], p->cp.key_sha256) == 0)
			break;
	util_strlcpy(p->alg, audit_sig_alg(cs->x[i]), sizeof(p->alg));
	if ((ret = merkle_inclusion_proof((uint64_t)p->index, (uint64_t)p->size,
	    audit_db_node, &a, p->path, &p->np)) != 0) {
		gwctl_err(o->cmd, "no inclusion proof: a stored tree node is "
		    "missing");
		goto out;
	}
	if ((p->text = malloc(512)) == NULL ||
	    (ret = store_checkpoint_text(&p->cp, (char *)p->text, 512,
	    &p->text_len)) != 0)
		ret = GW_ERR_NOMEM;
 out:
	sqlite3_finalize(st);
	audit_db_close(&a);
	return ret;
}

/* The proof from the gateway, as the submitting portal. */
static int
proof_from_api(struct audit_opts *o, const char *id, unsigned char **xml,
    size_t *len)
{
	struct http_resp resp = { 0, NULL, 0 };
	char path[1024], *eid;
	int r = GW_ERR_INVALID;

	if ((eid = http_escape(id)) == NULL)
		return GW_ERR_NOMEM;
	snprintf(path, sizeof(path), "/v1/submissions/%s/proof", eid);
	free(eid);
	if (http_request(&o->conn, o->cmd, "GET", path, NULL, 0, NULL,
	    &resp) != 0)
		return GW_ERR_IO;
	if (resp.status != 200)
		http_print_error(o->cmd, &resp);
	else {
		*xml = resp.body;
		*len = resp.len;
		resp.body = NULL;
		r = 0;
	}
	http_resp_free(&resp);
	return r;
}

int
audit_cmd_prove(struct audit_opts *o)
{
	struct audit_certs cs;
	struct proof p;
	xmlChar *doc = NULL;
	unsigned char *xml = NULL;
	size_t len = 0;
	int r, n = 0, ret = GWCTL_FAIL;

	memset(&p, 0, sizeof(p));
	if (o->api && (r = conn_finish(&o->conn, o->cmd, "portal-1")) != 0)
		return r;
	if ((r = audit_apply_dev(o, !o->api, 1)) != 0)
		return r;
	if (audit_certs_load(o, &cs) != 0)
		return GWCTL_FAIL;
	if (o->api) {
		if (proof_from_api(o, o->args[0], &xml, &len) != 0 ||
		    (r = proof_parse(xml, len, &p)) != 0) {
			if (xml != NULL)
				gwctl_err(o->cmd, "FAILED: the gateway's "
				    "answer is not an InclusionProof document");
			goto out;
		}
	} else {
		if (proof_from_db(o, &cs, o->args[0], &p) != 0 ||
		    proof_xml(&p, &doc, &n) != 0)
			goto out;
		xml = (unsigned char *)doc;
		len = (size_t)n;
	}
	/* The OK line goes to stdout only when the proof goes to a file. */
	if (proof_check(o->cmd, &p, &cs, o->args[0],
	    o->out ? stdout : NULL) != 0)
		goto out;
	if (gwctl_write_output(o->out, xml, len) != 0) {
		gwctl_err(o->cmd, "cannot write %s: %s",
		    o->out ? o->out : "stdout", strerror(errno));
		goto out;
	}
	ret = GWCTL_OK;
 out:
	if (doc != NULL)
		xmlFree(doc);
	else
		free(xml);
	proof_free(&p);
	audit_certs_free(&cs);
	return ret;
}

