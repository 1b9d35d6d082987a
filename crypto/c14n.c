/*
 * c14n.c - canonicalisation and digests for XML-DSig, shared by signing and
 * by the verification paths that do not go through xmlsec (RSA-PSS, SHA-3).
 *
 * libxml2's xmlC14NExecute() writes into an output buffer whose write
 * callback is ours: either a running digest (the document may be large:
 * nothing is kept) or a bounded buffer (SignedInfo: GW_ERR_TOO_LARGE past
 * DSIG_MAX_SIGNEDINFO).  Comments are never included: every Reference the
 * policy admits is URI="" or "#id", both of which exclude comments
 * (XML-DSig 4.4.3.3), and with-comments algorithms are refused.
 *
 * Which nodes are canonicalised is decided by a visibility callback: the
 * target's subtree (or everything) minus the signature's subtree, which is
 * what the enveloped-signature transform means.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/c14n.h>
#include <libxml/xmlIO.h>

#include "dsig_int.h"
#include "err.h"
#include "util.h"

/* Output of a canonicalisation: a running digest or a bounded buffer. */
struct sink {
	EVP_MD_CTX *md;
	unsigned char *buf;
	size_t len;
	size_t cap;
	int err;
};

struct visibility {
	xmlNodePtr target;	/* NULL: the document */
	xmlNodePtr exclude;	/* NULL: nothing */
};

/* Is node (an element, attribute, text or namespace of parent) in top? */
static int
inside(xmlNodePtr node, xmlNodePtr parent, xmlNodePtr top)
{
	xmlNodePtr n = node;

	if (n != NULL && n->type == XML_NAMESPACE_DECL)
		n = parent;	/* an xmlNs has no parent pointer */
	for (; n != NULL; n = n->parent)
		if (n == top)
			return 1;
	return 0;
}

static int
visible(void *data, xmlNodePtr node, xmlNodePtr parent)
{
	const struct visibility *v = data;

	if (v->target != NULL && !inside(node, parent, v->target))
		return 0;
	return v->exclude == NULL || !inside(node, parent, v->exclude);
}

static int
sink_write(void *ctx, const char *buf, int len)
{
	struct sink *s = ctx;

	if (len < 0)
		return -1;
	if (s->md != NULL) {
		if (EVP_DigestUpdate(s->md, buf, (size_t)len) != 1) {
			s->err = GW_ERR_CRYPTO;
			return -1;
		}
		return len;
	}
	if ((size_t)len > s->cap - s->len) {
		s->err = GW_ERR_TOO_LARGE;
		return -1;
	}
	memcpy(s->buf + s->len, buf, (size_t)len);
	s->len += (size_t)len;
	return len;
}

/* Runs c14n (never with comments) of the visible nodes into s. */
static int
c14n_run(xmlDocPtr doc, struct visibility *v, int mode, xmlChar **prefixes,
    struct sink *s)
{
	xmlOutputBufferPtr out;
	int n, c;

	if ((out = xmlOutputBufferCreateIO(sink_write, NULL, s, NULL)) == NULL)
		return GW_ERR_NOMEM;
	n = xmlC14NExecute(doc, visible, v, mode,
	    mode == XML_C14N_EXCLUSIVE_1_0 ? prefixes : NULL, 0, out);
	c = xmlOutputBufferClose(out);
	if (s->err != 0)
		return s->err;
	return n < 0 || c < 0 ? GW_ERR_INVALID : 0;
}

int
c14n_digest(xmlDocPtr doc, xmlNodePtr target, xmlNodePtr sig,
    xmlChar **prefixes, const EVP_MD *md, unsigned char out[EVP_MAX_MD_SIZE],
    unsigned int *outlen)
{
	struct visibility v = { target, sig };
	struct sink s;
	int r;

	memset(&s, 0, sizeof(s));
	if ((s.md = EVP_MD_CTX_new()) == NULL)
		return GW_ERR_NOMEM;
	r = GW_ERR_CRYPTO;
	if (EVP_DigestInit_ex(s.md, md, NULL) != 1)
		goto out;
	if ((r = c14n_run(doc, &v, XML_C14N_EXCLUSIVE_1_0, prefixes, &s)) != 0)
		goto out;
	r = EVP_DigestFinal_ex(s.md, out, outlen) == 1 ? 0 : GW_ERR_CRYPTO;
 out:
	EVP_MD_CTX_free(s.md);
	return r;
}

int
c14n_subtree(xmlNodePtr node, int mode, xmlChar **prefixes,
    unsigned char **out, size_t *outlen)
{
	struct visibility v = { node, NULL };
	struct sink s;
	int r;

	memset(&s, 0, sizeof(s));
	s.cap = DSIG_MAX_SIGNEDINFO;
	if ((s.buf = malloc(s.cap)) == NULL)
		return GW_ERR_NOMEM;
	if ((r = c14n_run(node->doc, &v, mode, prefixes, &s)) != 0) {
		free(s.buf);
		return r;
	}
	*out = s.buf;
	*outlen = s.len;
	return 0;
}

int
c14n_node_b64(xmlNodePtr n, size_t max, unsigned char **out, size_t *outlen)
{
	xmlChar *text;
	int r;

	if ((text = xmlNodeGetContent(n)) == NULL)
		return GW_ERR_INVALID;
	r = util_b64_decode((const char *)text, strlen((const char *)text), max,
	    out, outlen);
	xmlFree(text);
	return r;
}
