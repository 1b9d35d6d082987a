/*
 * dsig_check.c - the structural policy of an enveloped XML signature and
 * the defences against signature wrapping, on the tree, before any crypto.
 *
 * What the gateway routes on must be exactly what the verified Reference
 * covers.  The invariants established here, together, mean that:
 *   - there is exactly one ds:Signature in the whole document, and it is
 *     the last element child of the document element (so no second,
 *     moved or wrapped signature can be the one verified while another
 *     part of the document is read);
 *   - no ID value (Id, ID, id, xml:id) occurs twice anywhere, so an "#id"
 *     reference cannot be satisfied by a copy while the reader looks at the
 *     original (or the other way round);
 *   - every Reference is URI="" or "#id" for an ID the profile names, and
 *     one of them covers the document element itself: nothing outside the
 *     signed content is left for the application to read;
 *   - the transforms are exactly enveloped-signature + exclusive c14n, so
 *     the node set digested is the document (or the named element) minus
 *     the signature and minus comments, nothing selected by expressions;
 *   - ds:Object is refused (nothing may be referenced there), and so are
 *     KeyInfo forms that point elsewhere (RetrievalMethod) or bring a bare
 *     key without a certificate.
 * Every objection is recorded with its reason code (policy.h) and the
 * checks go on, so that a report lists all of them; the math and the chain
 * run only if there is none.  Runs on the caller's thread; the only change
 * to the document is the ID registration described in dsig_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/c14n.h>
#include <libxml/valid.h>

#include "dsig_int.h"
#include "err.h"
#include "util.h"

/* ---- tree helpers ---- */

int
dsig_is(xmlNodePtr n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    n->ns->href != NULL &&
	    strcmp((const char *)n->ns->href, NS_DSIG) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr
elem_from(xmlNodePtr n)
{
	while (n != NULL && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

xmlNodePtr
dsig_first_elem(xmlNodePtr n)
{
	return n == NULL ? NULL : elem_from(n->children);
}

xmlNodePtr
dsig_next_elem(xmlNodePtr n)
{
	return n == NULL ? NULL : elem_from(n->next);
}

/* The value of an attribute node as stored by the parser (one text child,
 * or none for ""); NULL for any other shape. */
static const char *
attr_value(xmlAttrPtr a)
{
	if (a->children == NULL)
		return "";
	if (a->children->type != XML_TEXT_NODE || a->children->next != NULL)
		return NULL;
	return (const char *)a->children->content;
}

const char *
dsig_attr(xmlNodePtr n, const char *name)
{
	xmlAttrPtr a;

	if ((a = xmlHasNsProp(n, (const xmlChar *)name, NULL)) == NULL ||
	    a->type != XML_ATTRIBUTE_NODE)
		return NULL;
	return attr_value(a);
}

/* Document order, elements only descended into. */
static xmlNodePtr
next_in_doc(xmlNodePtr n)
{
	if (n->type == XML_ELEMENT_NODE && n->children != NULL)
		return n->children;
	while (n != NULL && n->type != XML_DOCUMENT_NODE) {
		if (n->next != NULL)
			return n->next;
		n = n->parent;
	}
	return NULL;
}

size_t
dsig_count_signatures(xmlDocPtr doc, xmlNodePtr *first)
{
	xmlNodePtr n;
	size_t count = 0;

	*first = NULL;
	for (n = doc->children; n != NULL; n = next_in_doc(n))
		if (dsig_is(n, "Signature") && count++ == 0)
			*first = n;
	return count;
}

/* Id, ID, id (no namespace) and xml:id: what some processor may treat as
 * an ID without a DTD. */
static int
is_id_attr(xmlAttrPtr a)
{
	const char *name = (const char *)a->name;

	if (a->ns == NULL)
		return strcmp(name, "Id") == 0 || strcmp(name, "ID") == 0 ||
		    strcmp(name, "id") == 0;
	return a->ns->href != NULL &&
	    strcmp((const char *)a->ns->href,
	    (const char *)XML_XML_NAMESPACE) == 0 && strcmp(name, "id") == 0;
}

xmlNodePtr
dsig_find_id(xmlDocPtr doc, const char *id, xmlAttrPtr *attr)
{
	xmlNodePtr n;
	xmlAttrPtr a;
	const char *v;

	for (n = doc->children; n != NULL; n = next_in_doc(n)) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (a = n->properties; a != NULL; a = a->next)
			if (is_id_attr(a) && (v = attr_value(a)) != NULL &&
			    strcmp(v, id) == 0) {
				*attr = a;
				return n;
			}
	}
	return NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Every ID value at most once, whichever of the ID attribute names carries
 * it: sorting the values makes this O(n log n) with one pointer per ID.
 */
static int
check_ids(xmlDocPtr doc, struct dsig_info *info)
{
	const char **v = NULL, **nv, *s;
	size_t n = 0, cap = 0, i;
	xmlNodePtr node;
	xmlAttrPtr a;
	int r = 0;

	for (node = doc->children; node != NULL; node = next_in_doc(node)) {
		if (node->type != XML_ELEMENT_NODE)
			continue;
		for (a = node->properties; a != NULL; a = a->next) {
			if (!is_id_attr(a))
				continue;
			if ((s = attr_value(a)) == NULL) {
				policy_result_reject(&info->result, PR_SIG_MALFORMED);
				continue;
			}
			if (n == DSIG_MAX_IDS) {
				policy_result_reject(&info->result, PR_TOO_LARGE);
				goto out;
			}
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
					r = GW_ERR_NOMEM;
					goto out;
				}
				v = nv;
			}
			v[n++] = s;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) == 0) {
			policy_result_reject(&info->result, PR_ID_DUPLICATE);
			break;
		}
 out:
	free(v);
	return r;
}

/* ---- SignedInfo ---- */

void
dsig_parsed_free(struct parsed *p)
{
	int i;

	xmlFree(p->si_ns.buf);
	for (i = 0; i < p->nrefs; i++)
		xmlFree(p->refs[i].ns.buf);
	memset(p, 0, sizeof(*p));
}

/*
 * Reads the children of a c14n method element: for exclusive c14n at most
 * one ec:InclusiveNamespaces with a PrefixList, for the others nothing.
 * Returns 0, -1 (wrong shape) or GW_ERR_TOO_LARGE.
 */
static int
nslist_parse(xmlNodePtr method, int exclusive, struct nslist *l)
{
	xmlNodePtr c = dsig_first_elem(method);
	xmlChar *p;
	int n = 0;

	memset(l, 0, sizeof(*l));
	if (c == NULL)
		return 0;
	if (!exclusive || dsig_next_elem(c) != NULL || c->ns == NULL ||
	    strcmp((const char *)c->ns->href, ALG_EXC_C14N) != 0 ||
	    strcmp((const char *)c->name, "InclusiveNamespaces") != 0)
		return -1;
	if ((l->buf = xmlGetNoNsProp(c, (const xmlChar *)"PrefixList")) == NULL)
		return -1;
	l->set = 1;
	for (p = l->buf; *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (n == DSIG_MAX_PREFIXES)
			return GW_ERR_TOO_LARGE;
		l->v[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' &&
		    *p != '\r')
			p++;
	}
	l->v[n] = NULL;
	return 0;
}

static void
reject(struct dsig_info *info, enum policy_reason r)
{
	policy_result_reject(&info->result, r);
}

/*
 * Transforms: exactly [enveloped-signature, exc-c14n (PrefixList allowed)].
 * Each transform outside the allow list is named; a list of allowed ones
 * in another shape is PR_TRANSFORM_CHAIN.  Returns 1 if acceptable.
 */
static int
check_transforms(xmlNodePtr transforms, struct nslist *ns,
    struct dsig_info *info)
{
	xmlNodePtr t, v[2] = { NULL, NULL };
	enum policy_reason r;
	int n = 0, ok = 1;

	for (t = dsig_first_elem(transforms); t != NULL; t = dsig_next_elem(t)) {
		if (!dsig_is(t, "Transform")) {
			reject(info, PR_SIG_MALFORMED);
			return 0;
		}
		if ((r = policy_xml_transform(dsig_attr(t, "Algorithm"))) !=
		    POLICY_OK) {
			reject(info, r);
			ok = 0;
		}
		if (n < 2)
			v[n] = t;
		n++;
	}
	if (!ok)
		return 0;
	if (n != 2 || strcmp(dsig_attr(v[0], "Algorithm"), ALG_ENVELOPED) != 0 ||
	    dsig_first_elem(v[0]) != NULL ||
	    strcmp(dsig_attr(v[1], "Algorithm"), ALG_EXC_C14N) != 0 ||
	    nslist_parse(v[1], 1, ns) != 0) {
		reject(info, PR_TRANSFORM_CHAIN);
		return 0;
	}
	return 1;
}

/* Resolves "#id" (already allowed by the policy) to its unique element and
 * registers the attribute as an ID for xmlsec's XPointer evaluation. */
static xmlNodePtr
resolve_id(xmlDocPtr doc, const char *id, struct dsig_info *info)
{
	xmlAttrPtr a = NULL;
	xmlNodePtr target;

	if ((target = dsig_find_id(doc, id, &a)) == NULL) {
		reject(info, PR_REF_ID_UNRESOLVED);
		return NULL;
	}
	if (a->atype != XML_ATTRIBUTE_ID &&
	    xmlAddID(NULL, doc, (const xmlChar *)id, a) == NULL &&
	    xmlGetID(doc, (const xmlChar *)id) != a) {
		reject(info, PR_ID_DUPLICATE);
		return NULL;
	}
	return target;
}

/* One Reference; a usable one is appended to p->refs. */
static void
check_reference(xmlDocPtr doc, const struct crypto_policy *pol,
    xmlNodePtr ref, struct parsed *p, struct dsig_info *info)
{
	const char *uri = dsig_attr(ref, "URI"), *alg;
	const struct policy_alg *dig = NULL;
	struct dsig_ref *out = &p->refs[p->nrefs];
	xmlNodePtr n, target = NULL;
	enum policy_reason r;
	int ok = 1;

	memset(out, 0, sizeof(*out));
	if (p->nrefs == 0)
		util_strlcpy(info->reference, uri ? uri : "", sizeof(info->reference));
	if ((r = policy_xml_ref_uri(pol, uri)) != POLICY_OK) {
		reject(info, r);
		ok = 0;
	} else if (uri[0] == '#' && (target = resolve_id(doc, uri + 1, info)) == NULL)
		ok = 0;
	if (dsig_attr(ref, "Type") != NULL) {
		reject(info, PR_REF_TYPE);
		ok = 0;
	}
	n = dsig_first_elem(ref);
	if (dsig_is(n, "Transforms")) {
		if (!check_transforms(n, &out->ns, info))
			ok = 0;
		n = dsig_next_elem(n);
	} else {
		reject(info, PR_TRANSFORM_CHAIN);
		ok = 0;
	}
	if (!dsig_is(n, "DigestMethod")) {
		reject(info, PR_SIG_MALFORMED);
		xmlFree(out->ns.buf);
		return;
	}
	alg = dsig_attr(n, "Algorithm");
	if (p->nrefs == 0)
		util_strlcpy(info->digest_alg, alg ? alg : "",
		    sizeof(info->digest_alg));
	if ((r = policy_xml_digest(pol, alg, &dig)) != POLICY_OK) {
		reject(info, r);
		ok = 0;
	}
	n = dsig_next_elem(n);
	if (!dsig_is(n, "DigestValue") || dsig_next_elem(n) != NULL) {
		reject(info, PR_SIG_MALFORMED);
		ok = 0;
	}
	if (!ok) {
		xmlFree(out->ns.buf);
		return;
	}
	out->node = ref;
	out->target = target;
	out->digestvalue = n;
	out->dig = dig;
	p->nrefs++;
}

/* SignatureMethod: an allowed algorithm without parameters. */
static void
check_sigmethod(const struct crypto_policy *pol, xmlNodePtr n,
    struct parsed *p, struct dsig_info *info)
{
	const char *alg = dsig_attr(n, "Algorithm");
	enum policy_reason r;
	xmlNodePtr c;

	util_strlcpy(info->sig_alg, alg ? alg : "", sizeof(info->sig_alg));
	if ((r = policy_xml_sigalg(pol, alg, &p->alg)) != POLICY_OK) {
		p->alg = NULL;
		reject(info, r);
	}
	/* No children: HMACOutputLength and friends have no place here. */
	for (c = dsig_first_elem(n); c != NULL; c = dsig_next_elem(c)) {
		reject(info, dsig_is(c, "HMACOutputLength") ?
		    PR_SIGALG_HMAC_TRUNCATED : PR_SIGALG_NOT_ALLOWED);
		p->alg = NULL;
	}
}

/* SignedInfo: CanonicalizationMethod, SignatureMethod, References. */
static void
check_signedinfo(xmlDocPtr doc, const struct crypto_policy *pol,
    xmlNodePtr si, struct parsed *p, struct dsig_info *info)
{
	const char *alg;
	xmlNodePtr n = dsig_first_elem(si), root = xmlDocGetRootElement(doc);
	int i, count = 0, covered = 0;

	if (!dsig_is(n, "CanonicalizationMethod")) {
		reject(info, PR_SIG_MALFORMED);
		return;
	}
	alg = dsig_attr(n, "Algorithm");
	util_strlcpy(info->c14n_alg, alg ? alg : "", sizeof(info->c14n_alg));
	if (policy_xml_c14n(pol, alg, &p->si_mode) != POLICY_OK ||
	    nslist_parse(n, p->si_mode == XML_C14N_EXCLUSIVE_1_0,
	    &p->si_ns) != 0)
		reject(info, PR_C14N_NOT_ALLOWED);
	n = dsig_next_elem(n);
	if (!dsig_is(n, "SignatureMethod")) {
		reject(info, PR_SIG_MALFORMED);
		return;
	}
	check_sigmethod(pol, n, p, info);
	for (n = dsig_next_elem(n); n != NULL; n = dsig_next_elem(n)) {
		if (!dsig_is(n, "Reference")) {
			reject(info, PR_SIG_MALFORMED);
			return;
		}
		if (++count > pol->max_references)
			reject(info, PR_REF_COUNT);
		if (count <= DSIG_MAX_REFS)
			check_reference(doc, pol, n, p, info);
	}
	if (count == 0) {
		reject(info, PR_SIG_MALFORMED);
		return;
	}
	/* The document element itself must be covered: URI="" or its ID. */
	for (i = 0; i < p->nrefs; i++)
		if (p->refs[i].target == NULL || p->refs[i].target == root)
			covered = 1;
	if (!covered)
		reject(info, PR_CONTENT_NOT_COVERED);
}

/*
 * KeyInfo: X509Data with X509Certificate (the further X509Data hints,
 * KeyName and a KeyValue next to a certificate are ignored: the key is the
 * certificate's); RetrievalMethod or anything else is refused.
 */
static void
check_keyinfo(xmlNodePtr ki, struct dsig_info *info)
{
	xmlNodePtr n, c;
	int certs = 0, keyvalue = 0;

	for (n = dsig_first_elem(ki); n != NULL; n = dsig_next_elem(n)) {
		if (dsig_is(n, "KeyName"))
			continue;
		if (dsig_is(n, "KeyValue") || (n->ns != NULL &&
		    strcmp((const char *)n->ns->href, NS_DSIG11) == 0 &&
		    strcmp((const char *)n->name, "DEREncodedKeyValue") == 0)) {
			keyvalue = 1;
			continue;
		}
		if (dsig_is(n, "RetrievalMethod")) {
			reject(info, PR_KEYINFO_RETRIEVAL_METHOD);
			continue;
		}
		if (!dsig_is(n, "X509Data")) {
			reject(info, PR_KEYINFO_UNSUPPORTED);
			continue;
		}
		for (c = dsig_first_elem(n); c != NULL; c = dsig_next_elem(c))
			if (dsig_is(c, "X509Certificate"))
				certs++;
	}
	if (certs == 0)
		reject(info, keyvalue ? PR_KEYINFO_KEYVALUE_ONLY :
		    PR_KEYINFO_NO_CERT);
	else if (certs > DSIG_MAX_CERTS)
		reject(info, PR_KEYINFO_TOO_MANY_CERTS);
}

/* Signature: SignedInfo, SignatureValue, KeyInfo, and nothing else. */
static void
check_signature(xmlDocPtr doc, const struct crypto_policy *pol,
    struct parsed *p, struct dsig_info *info)
{
	xmlNodePtr n = dsig_first_elem(p->sig);

	if (!dsig_is(n, "SignedInfo")) {
		reject(info, PR_SIG_MALFORMED);
		return;
	}
	p->signedinfo = n;
	n = dsig_next_elem(n);
	if (!dsig_is(n, "SignatureValue")) {
		reject(info, PR_SIG_MALFORMED);
		return;
	}
	p->sigvalue = n;
	check_signedinfo(doc, pol, p->signedinfo, p, info);
	n = dsig_next_elem(n);
	if (dsig_is(n, "KeyInfo")) {
		p->keyinfo = n;
		check_keyinfo(n, info);
		n = dsig_next_elem(n);
	} else
		reject(info, PR_KEYINFO_NO_CERT);
	/* ds:Object exists to be referenced; nothing may be, so none may be. */
	for (; n != NULL; n = dsig_next_elem(n))
		reject(info, dsig_is(n, "Object") ? PR_SIG_OBJECT :
		    PR_SIG_MALFORMED);
}

int
dsig_check(xmlDocPtr doc, const struct crypto_policy *pol, struct parsed *p,
    struct dsig_info *info)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	size_t count;
	int r;

	/* A DTD could declare IDs and default attributes that change what is
	 * canonicalised; xmlparse_safe() never lets one through. */
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		reject(info, PR_DTD_PRESENT);
		return 0;
	}
	if ((count = dsig_count_signatures(doc, &p->sig)) == 0) {
		reject(info, PR_SIG_MISSING);
		return 0;
	}
	if (count > 1)
		reject(info, PR_SIG_MULTIPLE);
	if (root == NULL || p->sig->parent != root ||
	    dsig_next_elem(p->sig) != NULL)
		reject(info, PR_SIG_PLACEMENT);
	if ((r = check_ids(doc, info)) != 0)
		return r;
	check_signature(doc, pol, p, info);
	return 0;
}
