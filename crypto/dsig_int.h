/*
 * dsig_int.h - private to the XML-DSig implementation: xmldsig.c (the
 * verification steps, the math, signing), dsig_check.c (the structural
 * policy and the wrapping checks on the tree) and c14n.c (canonicalisation
 * and digests).  Nothing outside crypto/xmldsig*.c, dsig_check.c and
 * c14n.c includes it.
 */
#ifndef GW_DSIG_INT_H
#define GW_DSIG_INT_H

#include <stddef.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "policy.h"
#include "xmldsig.h"

#define NS_DSIG		"http://www.w3.org/2000/09/xmldsig#"
#define NS_DSIG11	"http://www.w3.org/2009/xmldsig11#"
#define ALG_EXC_C14N	"http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_ENVELOPED	"http://www.w3.org/2000/09/xmldsig#enveloped-signature"

#define DSIG_MAX_CERTS		8		/* X509Certificate elements */
#define DSIG_MAX_CERT_DER	(64 * 1024)
#define DSIG_MAX_SIGVALUE	2048		/* RSA-16384 */
#define DSIG_MAX_SIGNEDINFO	(64 * 1024)	/* canonical SignedInfo */
#define DSIG_MAX_PREFIXES	32		/* InclusiveNamespaces PrefixList */
#define DSIG_MAX_REFS		8		/* Reference elements looked at */
#define DSIG_MAX_IDS		(1 << 20)	/* ID attributes in a document */

/* An exc-c14n InclusiveNamespaces PrefixList, split in place. */
struct nslist {
	xmlChar *buf;
	xmlChar *v[DSIG_MAX_PREFIXES + 1];	/* NULL-terminated */
	int set;
};

/* One Reference that passed the policy; pointers into the document. */
struct dsig_ref {
	xmlNodePtr node;
	xmlNodePtr target;		/* NULL: the whole document (URI="") */
	xmlNodePtr digestvalue;
	const struct policy_alg *dig;
	struct nslist ns;		/* its exc-c14n PrefixList */
};

/* What the structural check found; pointers into the document. */
struct parsed {
	xmlNodePtr sig;
	xmlNodePtr signedinfo;
	xmlNodePtr sigvalue;
	xmlNodePtr keyinfo;
	const struct policy_alg *alg;
	int si_mode;			/* SignedInfo c14n (libxml2 mode) */
	struct nslist si_ns;
	struct dsig_ref refs[DSIG_MAX_REFS];
	int nrefs;
};

/* ---- dsig_check.c ---- */

/*
 * The whole policy on the tree, before any crypto: every objection goes
 * into info->result (in check order, so reasons[0] is the one reported);
 * p is filled as far as the structure allowed.  Same-document references
 * the policy allows are resolved, and their ID attribute is registered in
 * doc (xmlAddID) so that xmlsec finds the same element.  Returns 0 (look
 * at info->result.nreasons) or GW_ERR_NOMEM.
 */
int dsig_check(xmlDocPtr doc, const struct crypto_policy *pol,
    struct parsed *p, struct dsig_info *info);
void dsig_parsed_free(struct parsed *p);

int dsig_is(xmlNodePtr n, const char *name);
xmlNodePtr dsig_first_elem(xmlNodePtr n);
xmlNodePtr dsig_next_elem(xmlNodePtr n);
/* An attribute without namespace; points into the tree; NULL if absent. */
const char *dsig_attr(xmlNodePtr n, const char *name);
/* ds:Signature elements anywhere in doc; *first gets the first. */
size_t dsig_count_signatures(xmlDocPtr doc, xmlNodePtr *first);
/* The element carrying ID value id (Id, ID, id or xml:id); NULL if none. */
xmlNodePtr dsig_find_id(xmlDocPtr doc, const char *id, xmlAttrPtr *attr);

/* ---- c14n.c ---- */

/*
 * The digest of a Reference: the node set of target's subtree (target NULL:
 * the whole document) without the subtree of sig (enveloped-signature),
 * exclusive c14n without comments with prefixes, then md.
 */
int c14n_digest(xmlDocPtr doc, xmlNodePtr target, xmlNodePtr sig,
    xmlChar **prefixes, const EVP_MD *md, unsigned char out[EVP_MAX_MD_SIZE],
    unsigned int *outlen);
/* The canonical form of the subtree at node, at most DSIG_MAX_SIGNEDINFO
 * bytes; *out is malloc'd. */
int c14n_subtree(xmlNodePtr node, int mode, xmlChar **prefixes,
    unsigned char **out, size_t *outlen);
/* The base64 content of an element, at most max bytes decoded. */
int c14n_node_b64(xmlNodePtr n, size_t max, unsigned char **out,
    size_t *outlen);

#endif
