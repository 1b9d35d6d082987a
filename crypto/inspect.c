/*
 * inspect.c - the inspection report: data, filling, XML rendering and
 * validation.  See inspect.h; the schema is gateway/schemas/inspection.xsd
 * (compiled in by tools/embed.sh).
 *
 * The element names of the spine's simpler report (gateway/render.c:
 * InspectionReport/Time/Signature/SignatureAlgorithm/MathResult/
 * Certificate(role)/Subject/Issuer/Serial/CertificateType/OfflineResult/
 * OnlineResult) are kept with the same meaning; OnlineResult keeps its text
 * ("not-checked", or the answer's status) and carries the method, the
 * responder and the time of the answer as attributes.  Everything else is
 * added as optional elements, so a reader of the old form still works.
 *
 * Strings that come from certificates are cleaned (util_utf8_clean) before
 * they go into the XML, so a hostile subject cannot make it ill-formed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "chain.h"
#include "cms.h"
#include "err.h"
#include "inspect.h"
#include "schemas.h"
#include "util.h"
#include "xmldsig.h"

#define XC(s)	((const xmlChar *)(s))
#define QC_COMPLIANCE	"0.4.0.1862.1.1"

/* ---- names ---- */

const char *
inspect_math_name(enum inspect_math m)
{
	return m == INSPECT_MATH_OK ? "ok" : m == INSPECT_MATH_CORRUPTED ?
	    "corrupted" : "indeterminate";
}

const char *
inspect_result_name(enum inspect_result r)
{
	return r == INSPECT_VALID ? "valid" : r == INSPECT_INVALID ? "invalid" :
	    "indeterminate";
}

const char *
inspect_cert_type_name(enum inspect_cert_type t)
{
	return t == INSPECT_CERT_QUALIFIED ? "qualified" :
	    t == INSPECT_CERT_ADVANCED ? "advanced" : "unknown";
}

static const char *
online_method_name(enum inspect_online_method m)
{
	return m == INSPECT_ONLINE_OCSP ? "ocsp" : m == INSPECT_ONLINE_CRL ?
	    "crl" : "none";
}

static const char *
online_status_name(enum inspect_online_status s)
{
	static const char *names[] = { "not-checked", "good", "revoked",
	    "unknown", "unavailable" };

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] :
	    "not-checked";
}

/* ---- certificate helpers ---- */

static void
name_rfc2253(X509_NAME *name, char *out, size_t outlen)
{
	BIO *bio;
	int n;

	out[0] = '\0';
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(bio, out, (int)outlen - 1)) > 0)
		out[n] = '\0';
	BIO_free(bio);
}

void
inspect_cert_names(X509 *cert, char *subject, size_t slen, char *issuer,
    size_t ilen, char *serial, size_t serlen)
{
	BIGNUM *bn;
	char *hex = NULL;

	name_rfc2253(X509_get_subject_name(cert), subject, slen);
	name_rfc2253(X509_get_issuer_name(cert), issuer, ilen);
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) != NULL)
		hex = BN_bn2hex(bn);
	util_strlcpy(serial, hex ? hex : "", serlen);
	OPENSSL_free(hex);
	BN_free(bn);
}

time_t
inspect_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;
	time_t v;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	v = timegm(&tm);
	return v == (time_t)-1 ? 0 : v;
}

/* Does the DER of one QCStatement (a SEQUENCE) start with QcCompliance? */
static int
statement_is_compliance(const ASN1_TYPE *t)
{
	const unsigned char *p;
	STACK_OF(ASN1_TYPE) *seq;
	ASN1_TYPE *id;
	char oid[32];
	int ok = 0;

	if (t->type != V_ASN1_SEQUENCE)
		return 0;
	p = t->value.sequence->data;
	if ((seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p,
	    t->value.sequence->length)) == NULL)
		return 0;
	if (sk_ASN1_TYPE_num(seq) >= 1 &&
	    (id = sk_ASN1_TYPE_value(seq, 0))->type == V_ASN1_OBJECT &&
	    OBJ_obj2txt(oid, sizeof(oid), id->value.object, 1) > 0)
		ok = strcmp(oid, QC_COMPLIANCE) == 0;
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return ok;
}

int
inspect_cert_qualified(X509 *cert)
{
	const ASN1_OCTET_STRING *data;
	const unsigned char *p;
	STACK_OF(ASN1_TYPE) *seq;
	X509_EXTENSION *ext;
	int i, idx, ok = 0;

	if (cert == NULL ||
	    (idx = X509_get_ext_by_NID(cert, NID_qcStatements, -1)) < 0 ||
	    (ext = X509_get_ext(cert, idx)) == NULL ||
	    (data = X509_EXTENSION_get_data(ext)) == NULL)
		return 0;
	p = ASN1_STRING_get0_data(data);
	if ((seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p,
	    ASN1_STRING_length(data))) == NULL)
		return 0;
	for (i = 0; i < sk_ASN1_TYPE_num(seq) && !ok; i++)
		ok = statement_is_compliance(sk_ASN1_TYPE_value(seq, i));
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return ok;
}

/* ---- the data ---- */

int
inspect_new(time_t at, const struct crypto_policy *pol,
    struct inspect_report **out)
{
	struct inspect_report *rep;

	if ((rep = calloc(1, sizeof(*rep))) == NULL)
		return GW_ERR_NOMEM;
	rep->time = time(NULL);
	rep->at = at != 0 ? at : rep->time;
	if (pol != NULL)
		policy_describe(pol, rep->policy, sizeof(rep->policy));
	*out = rep;
	return 0;
}

void
inspect_free(struct inspect_report *rep)
{
	if (rep == NULL)
		return;
	free(rep->sigs);
	free(rep);
}

int
inspect_add_sig(struct inspect_report *rep, const char *kind,
    const char *covers, struct inspect_sig **out)
{
	struct inspect_sig *v, *s;
	size_t cap;

	if (rep->nsigs == INSPECT_MAX_SIGS)
		return GW_ERR_TOO_LARGE;
	if (rep->nsigs == rep->cap) {
		cap = rep->cap ? 2 * rep->cap : 2;
		if ((v = realloc(rep->sigs, cap * sizeof(*v))) == NULL)
			return GW_ERR_NOMEM;
		rep->sigs = v;
		rep->cap = cap;
	}
	s = &rep->sigs[rep->nsigs++];
	memset(s, 0, sizeof(*s));
	util_strlcpy(s->kind, kind, sizeof(s->kind));
	util_strlcpy(s->covers, covers ? covers : "", sizeof(s->covers));
	*out = s;
	return 0;
}

int
inspect_sig_add_cert(struct inspect_sig *sig, const char *role,
    struct inspect_cert **out)
{
	struct inspect_cert *c;

	if (sig->ncerts == INSPECT_MAX_CERTS)
		return GW_ERR_TOO_LARGE;
	c = &sig->certs[sig->ncerts++];
	memset(c, 0, sizeof(*c));
	util_strlcpy(c->role, role, sizeof(c->role));
	*out = c;
	return 0;
}

static enum inspect_result
tristate(int v)
{
	return v == 1 ? INSPECT_VALID : v == 0 ? INSPECT_INVALID :
	    INSPECT_INDETERMINATE;
}

static enum inspect_math
math_of(int v)
{
	return v == 1 ? INSPECT_MATH_OK : v == 0 ? INSPECT_MATH_CORRUPTED :
	    INSPECT_MATH_INDETERMINATE;
}

/* A verdict the checks reached, or a failure to check (out of memory). */
static enum inspect_result
result_of(int rc, const struct policy_result *res)
{
	if (rc == 0)
		return INSPECT_VALID;
	/* Not knowing whether a certificate is revoked is no verdict. */
	if (res->nreasons > 0 && res->reasons[0] == PR_REVOCATION_UNAVAILABLE)
		return INSPECT_INDETERMINATE;
	return res->nreasons > 0 ? INSPECT_INVALID : INSPECT_INDETERMINATE;
}

/* The path-related reason codes also go on the certificate entry. */
static void
cert_reasons(struct inspect_cert *c, const struct policy_result *res)
{
	int i;

	for (i = 0; i < res->nreasons && c->nreasons < INSPECT_MAX_CODES; i++)
		switch (res->reasons[i]) {
		case PR_CERT_UNTRUSTED:
		case PR_CERT_EXPIRED:
		case PR_CERT_USAGE:
		case PR_CERT_REVOKED:
		case PR_KEY_RSA_TOO_SHORT:
		case PR_KEY_EC_CURVE:
		case PR_SIGNING_TIME_OUTSIDE_CERT:
			c->reasons[c->nreasons++] = res->reasons[i];
			break;
		default:
			break;
		}
}

/* The signer entry: names, validity, type, offline result. */
static int
add_signer(struct inspect_sig *s, const char *subject, const char *issuer,
    const char *serial, time_t nb, time_t na, int qualified, int chain_ok,
    const char *chain_error, const struct policy_result *res)
{
	struct inspect_cert *c;
	int r;

	if (subject[0] == '\0')
		return 0;	/* no certificate could be read */
	if ((r = inspect_sig_add_cert(s, "signer", &c)) != 0)
		return r;
	util_strlcpy(c->subject, subject, sizeof(c->subject));
	util_strlcpy(c->issuer, issuer, sizeof(c->issuer));
	util_strlcpy(c->serial, serial, sizeof(c->serial));
	c->not_before = nb;
	c->not_after = na;
	c->offline = tristate(chain_ok);
	c->type = chain_ok != 1 ? INSPECT_CERT_UNKNOWN : qualified ?
	    INSPECT_CERT_QUALIFIED : INSPECT_CERT_ADVANCED;
	util_strlcpy(c->offline_detail, chain_error, sizeof(c->offline_detail));
	cert_reasons(c, res);
	return 0;
}

int
inspect_fill_dsig(struct inspect_report *rep, const struct dsig_info *info,
    int rc, struct inspect_sig **out)
{
	struct inspect_sig *s;
	int r;

	if ((r = inspect_add_sig(rep, "xmldsig", "document", &s)) != 0)
		return r;
	util_strlcpy(s->sig_alg, info->sig_alg, sizeof(s->sig_alg));
	util_strlcpy(s->digest_alg, info->digest_alg, sizeof(s->digest_alg));
	util_strlcpy(s->key_desc, info->key_desc, sizeof(s->key_desc));
	s->math = math_of(info->signature_ok);
	s->codes = info->result;
	s->result = result_of(rc, &info->result);
	if ((r = add_signer(s, info->subject, info->issuer, info->serial,
	    info->not_before, info->not_after, info->qualified, info->chain_ok,
	    info->chain_error, &info->result)) != 0)
		return r;
	if (out != NULL)
		*out = s;
	return 0;
}

int
inspect_fill_cms(struct inspect_report *rep, const struct cms_result *res,
    const char *name)
{
	const struct cms_signer_info *si;
	struct inspect_sig *s;
	size_t i;
	int r;

	if (res->nsigners == 0) {
		/* Nothing to attribute: one entry says why. */
		if ((r = inspect_add_sig(rep, "cms", name, &s)) != 0)
			return r;
		s->codes = res->result;
		s->result = res->result.nreasons > 0 ? INSPECT_INVALID :
		    INSPECT_INDETERMINATE;
		return 0;
	}
	for (i = 0; i < res->nsigners; i++) {
		si = &res->signers[i];
		if ((r = inspect_add_sig(rep, "cms", name, &s)) != 0)
			return r;
		util_strlcpy(s->sig_alg, si->sig_alg, sizeof(s->sig_alg));
		util_strlcpy(s->digest_alg, si->digest_alg, sizeof(s->digest_alg));
		util_strlcpy(s->key_desc, si->key_desc, sizeof(s->key_desc));
		s->signing_time = si->signing_time;
		s->math = math_of(si->signature_ok);
		s->codes = si->result;
		s->result = result_of(si->rc, &si->result);
		if ((r = add_signer(s, si->subject, si->issuer, si->serial,
		    si->not_before, si->not_after, si->qualified, si->chain_ok,
		    si->chain_error, &si->result)) != 0)
			return r;
	}
	return 0;
}

/* The stable offline_reason of certs/chain.h as one of our codes. */
static enum policy_reason
offline_reason(const char *r)
{
	if (r == NULL || strcmp(r, "ok") == 0 || strcmp(r, "chain-invalid") == 0)
		return POLICY_OK;
	if (strcmp(r, "expired") == 0 || strcmp(r, "not-yet-valid") == 0 ||
	    strcmp(r, "bad-validity") == 0)
		return PR_CERT_EXPIRED;
	if (strcmp(r, "key-usage") == 0)
		return PR_CERT_USAGE;
	if (strcmp(r, "weak-key") == 0)
		return PR_KEY_RSA_TOO_SHORT;
	if (strcmp(r, "algorithm") == 0)
		return PR_SIGALG_NOT_ALLOWED;
	return PR_CERT_UNTRUSTED;
}

static void
fill_online(struct inspect_online *on, const struct rev_answer *a)
{
	on->method = a->method == REV_METHOD_OCSP ? INSPECT_ONLINE_OCSP :
	    a->method == REV_METHOD_CRL ? INSPECT_ONLINE_CRL : INSPECT_ONLINE_NONE;
	switch (a->status) {
	case REV_STATUS_GOOD: on->status = INSPECT_ONLINE_GOOD; break;
	case REV_STATUS_REVOKED: on->status = INSPECT_ONLINE_REVOKED; break;
	case REV_STATUS_UNKNOWN: on->status = INSPECT_ONLINE_UNKNOWN; break;
	case REV_STATUS_UNAVAILABLE:
		on->status = INSPECT_ONLINE_UNAVAILABLE;
		break;
	default: on->status = INSPECT_ONLINE_NOT_CHECKED; break;
	}
	util_strlcpy(on->responder, a->source, sizeof(on->responder));
	on->answered = a->answered;
	if (a->status == REV_STATUS_REVOKED) {
		on->revoked_at = a->revoked_at;
		util_strlcpy(on->revocation_reason, rev_reason_name(a->reason),
		    sizeof(on->revocation_reason));
	}
}

int
inspect_fill_chain(struct inspect_sig *sig, const struct chain_report *rep)
{
	const struct chain_cert *cc;
	struct inspect_cert *c;
	enum policy_reason r;
	int i, valid = rep->verdict == CHAIN_RESULT_VALID;

	if (rep->ncerts <= 0)
		return 0;
	sig->ncerts = 0;
	for (i = 0; i < rep->ncerts && i < INSPECT_MAX_CERTS; i++) {
		cc = &rep->certs[i];
		c = &sig->certs[sig->ncerts++];
		memset(c, 0, sizeof(*c));
		util_strlcpy(c->role, cc->depth == 0 ? "signer" : cc->is_anchor ?
		    "ca" : "intermediate", sizeof(c->role));
		util_strlcpy(c->subject, cc->subject, sizeof(c->subject));
		util_strlcpy(c->issuer, cc->issuer, sizeof(c->issuer));
		util_strlcpy(c->serial, cc->serial, sizeof(c->serial));
		c->not_before = cc->not_before;
		c->not_after = cc->not_after;
		/* "Advanced" describes a signer's certificate; a CA's is
		 * named only when it declares itself qualified. */
		c->type = !valid ? INSPECT_CERT_UNKNOWN :
		    cc->type == CHAIN_CERT_QUALIFIED ? INSPECT_CERT_QUALIFIED :
		    cc->type == CHAIN_CERT_ADVANCED && cc->depth == 0 ?
		    INSPECT_CERT_ADVANCED : INSPECT_CERT_UNKNOWN;
		c->offline = cc->offline == CHAIN_RESULT_VALID ? INSPECT_VALID :
		    cc->offline == CHAIN_RESULT_INVALID ? INSPECT_INVALID :
		    INSPECT_INDETERMINATE;
		util_strlcpy(c->offline_detail, cc->offline_detail,
		    sizeof(c->offline_detail));
		fill_online(&c->online, &cc->online);
		if ((r = offline_reason(cc->offline_reason)) != POLICY_OK)
			c->reasons[c->nreasons++] = r;
		if (cc->online.status == REV_STATUS_REVOKED)
			c->reasons[c->nreasons++] = PR_CERT_REVOKED;
	}
	return rep->ncerts > INSPECT_MAX_CERTS ? GW_ERR_TOO_LARGE : 0;
}

enum inspect_result
inspect_overall(const struct inspect_report *rep)
{
	enum inspect_result r = rep->nsigs > 0 ? INSPECT_VALID :
	    INSPECT_INDETERMINATE;
	size_t i;

	for (i = 0; i < rep->nsigs; i++) {
		if (rep->sigs[i].result == INSPECT_INVALID)
			return INSPECT_INVALID;
		if (rep->sigs[i].result != INSPECT_VALID)
			r = INSPECT_INDETERMINATE;
	}
	return r;
}

/* ---- rendering ---- */

struct out {
	xmlNsPtr ns;
	int bad;
};

/* <name>text</name> under parent, text cleaned; NULL text: nothing. */
static xmlNodePtr
el(struct out *o, xmlNodePtr parent, const char *name, const char *text)
{
	char buf[1024];
	xmlNodePtr n;

	if (text == NULL)
		return NULL;
	util_strlcpy(buf, text, sizeof(buf));
	util_utf8_clean(buf);
	if ((n = xmlNewTextChild(parent, o->ns, XC(name), XC(buf))) == NULL)
		o->bad = 1;
	return n;
}

/* An element that holds only elements. */
static xmlNodePtr
container(struct out *o, xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	if ((n = xmlNewChild(parent, o->ns, XC(name), NULL)) == NULL)
		o->bad = 1;
	return n;
}

static void
prop(struct out *o, xmlNodePtr n, const char *name, const char *value)
{
	char buf[512];

	if (n == NULL || value == NULL)
		return;
	util_strlcpy(buf, value, sizeof(buf));
	util_utf8_clean(buf);
	if (xmlNewProp(n, XC(name), XC(buf)) == NULL)
		o->bad = 1;
}

static void
el_time(struct out *o, xmlNodePtr parent, const char *name, time_t t)
{
	char buf[32];

	util_time_iso((int64_t)t * 1000, buf);
	el(o, parent, name, buf);
}

static void
prop_time(struct out *o, xmlNodePtr n, const char *name, time_t t)
{
	char buf[32];

	util_time_iso((int64_t)t * 1000, buf);
	prop(o, n, name, buf);
}

static void
el_codes(struct out *o, xmlNodePtr parent, const char *name,
    const enum policy_reason *v, int n)
{
	xmlNodePtr e;
	int i;

	for (i = 0; i < n; i++) {
		e = el(o, parent, name, policy_reason_text(v[i]));
		prop(o, e, "code", policy_reason_code(v[i]));
	}
}

static void
render_online(struct out *o, xmlNodePtr parent, const struct inspect_online *on)
{
	xmlNodePtr e = el(o, parent, "OnlineResult",
	    online_status_name(on->status));

	prop(o, e, "method", online_method_name(on->method));
	if (on->responder[0] != '\0')
		prop(o, e, "responder", on->responder);
	if (on->answered != 0)
		prop_time(o, e, "time", on->answered);
	if (on->status == INSPECT_ONLINE_REVOKED && on->revoked_at != 0)
		prop_time(o, e, "revocationTime", on->revoked_at);
	if (on->revocation_reason[0] != '\0')
		prop(o, e, "revocationReason", on->revocation_reason);
}

static void
render_cert(struct out *o, xmlNodePtr parent, const struct inspect_cert *c)
{
	xmlNodePtr n = container(o, parent, "Certificate"), e;

	if (n == NULL)
		return;
	prop(o, n, "role", c->role);
	el(o, n, "Subject", c->subject);
	el(o, n, "Issuer", c->issuer);
	el(o, n, "Serial", c->serial);
	if (c->not_before != 0)
		el_time(o, n, "NotBefore", c->not_before);
	if (c->not_after != 0)
		el_time(o, n, "NotAfter", c->not_after);
	el(o, n, "CertificateType", inspect_cert_type_name(c->type));
	e = el(o, n, "OfflineResult", inspect_result_name(c->offline));
	if (c->offline_detail[0] != '\0')
		prop(o, e, "detail", c->offline_detail);
	render_online(o, n, &c->online);
	el_codes(o, n, "Reason", c->reasons, c->nreasons);
}

static void
render_sig(struct out *o, xmlNodePtr parent, const struct inspect_sig *s)
{
	xmlNodePtr n = container(o, parent, "Signature");
	size_t i;

	if (n == NULL)
		return;
	prop(o, n, "kind", s->kind);
	prop(o, n, "covers", s->covers);
	el(o, n, "SignatureAlgorithm", s->sig_alg);
	if (s->digest_alg[0] != '\0')
		el(o, n, "DigestAlgorithm", s->digest_alg);
	if (s->key_desc[0] != '\0')
		el(o, n, "Key", s->key_desc);
	if (s->signing_time != 0)
		el_time(o, n, "SigningTime", s->signing_time);
	el(o, n, "MathResult", inspect_math_name(s->math));
	el(o, n, "Result", inspect_result_name(s->result));
	el_codes(o, n, "Reason", s->codes.reasons, s->codes.nreasons);
	el_codes(o, n, "Warning", s->codes.warnings, s->codes.nwarnings);
	for (i = 0; i < s->ncerts; i++)
		render_cert(o, n, &s->certs[i]);
}

int
inspect_render(const struct inspect_report *rep, xmlNodePtr parent,
    xmlDocPtr *doc, xmlNodePtr *out)
{
	struct out o = { NULL, 0 };
	xmlDocPtr d = NULL;
	xmlNodePtr root;
	size_t i;

	if (parent == NULL && (d = xmlNewDoc(XC("1.0"))) == NULL)
		return GW_ERR_NOMEM;
	root = parent ? xmlNewChild(parent, NULL, XC("InspectionReport"), NULL) :
	    xmlNewDocNode(d, NULL, XC("InspectionReport"), NULL);
	if (root == NULL || (o.ns = xmlNewNs(root, XC(NS_INSPECT), NULL)) == NULL)
		goto fail;
	xmlSetNs(root, o.ns);
	if (d != NULL)
		xmlDocSetRootElement(d, root);
	prop(&o, root, "version", "1");
	el_time(&o, root, "Time", rep->time);
	el_time(&o, root, "ValidationTime", rep->at);
	if (rep->policy[0] != '\0')
		el(&o, root, "Policy", rep->policy);
	el(&o, root, "Result", inspect_result_name(inspect_overall(rep)));
	for (i = 0; i < rep->nsigs; i++)
		render_sig(&o, root, &rep->sigs[i]);
	if (o.bad)
		goto fail;
	if (doc != NULL && d != NULL)
		*doc = d;
	else
		xmlFreeDoc(d);
	if (out != NULL)
		*out = root;
	return 0;
 fail:
	if (d != NULL)
		xmlFreeDoc(d);
	else if (root != NULL) {
		xmlUnlinkNode(root);
		xmlFreeNode(root);
	}
	return GW_ERR_NOMEM;
}

int
inspect_to_xml(const struct inspect_report *rep, unsigned char **out,
    size_t *len)
{
	xmlDocPtr doc = NULL;
	xmlChar *buf = NULL;
	unsigned char *copy;
	int n = 0, r;

	if ((r = inspect_render(rep, NULL, &doc, NULL)) != 0)
		return r;
	xmlDocDumpFormatMemoryEnc(doc, &buf, &n, "UTF-8", 1);
	xmlFreeDoc(doc);
	if (buf == NULL || n <= 0 || (copy = malloc((size_t)n + 1)) == NULL) {
		xmlFree(buf);
		return GW_ERR_NOMEM;
	}
	memcpy(copy, buf, (size_t)n);
	copy[n] = '\0';
	xmlFree(buf);
	*out = copy;
	*len = (size_t)n;
	return 0;
}

struct why {
	char *buf;
	size_t len;
};

static void
schema_error(void *arg, xmlErrorPtr e)
{
	struct why *w = arg;

	if (w->buf[0] == '\0' && e != NULL && e->message != NULL)
		snprintf(w->buf, w->len, "line %d: %.200s", e->line, e->message);
}

int
inspect_validate(xmlDocPtr doc, char *why, size_t whylen)
{
	xmlSchemaParserCtxtPtr pctx = NULL;
	xmlSchemaValidCtxtPtr vctx = NULL;
	xmlSchemaPtr schema = NULL;
	char dummy[8];
	struct why w = { why ? why : dummy, why ? whylen : sizeof(dummy) };
	int r = GW_ERR_INTERNAL;

	w.buf[0] = '\0';
	if ((pctx = xmlSchemaNewMemParserCtxt((const char *)embed_inspection_xsd,
	    (int)embed_inspection_xsd_len)) == NULL)
		goto out;
	xmlSchemaSetParserStructuredErrors(pctx, schema_error, &w);
	if ((schema = xmlSchemaParse(pctx)) == NULL ||
	    (vctx = xmlSchemaNewValidCtxt(schema)) == NULL)
		goto out;
	xmlSchemaSetValidStructuredErrors(vctx, schema_error, &w);
	r = xmlSchemaValidateDoc(vctx, doc) == 0 ? 0 : GW_ERR_SCHEMA;
 out:
	xmlSchemaFreeValidCtxt(vctx);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pctx);
	return r;
}
