/*
 * test_dsig_vectors.c - every XML-DSig "verify" row of the xmlsec test
 * suite (../shared/vectors/xmlsec/MANIFEST.tsv, see its README.md) through
 * our verifier under the default (submission) policy.
 *
 * The verdict our policy demands is worked out here independently of
 * crypto/policy.c and crypto/dsig_check.c, by a plain reading of the
 * vector (the oracle below: algorithm URIs, transforms, reference URIs,
 * the signature's place, KeyInfo).  For every row the test asserts:
 *   - if the oracle finds objections: the verifier rejects the document
 *     and reports (at least) every reason code the oracle found;
 *   - if it finds none: the verifier must verify it when upstream expects
 *     a pass, and reject it when upstream expects a failure (with the
 *     row's trusted certificates and verification time).
 * The vector's own trusted certificates (--trusted-der/pem) form the trust
 * store and its --verification-gmt-time the verification time; nothing in
 * a vector is ever fetched (relative and remote URIs are refused).
 *
 * Since no vector fits the submission profile, test_vector_pki signs
 * profile-conformant documents with the suite's own PKI (keys/, by the
 * xmlsec1 CLI as an independent signer and by us) and checks that they
 * verify against its root CA, so the profile's acceptance is exercised
 * with third-party keys and certificates too.
 *
 * The table docs/conformance.md is generated from the results: with
 * GW_CONFORMANCE_OUT=FILE the test writes it there; otherwise it checks
 * that docs/conformance.md (if present) is what it would write, so the
 * document cannot go stale.  Regenerate with
 *   GW_CONFORMANCE_OUT=docs/conformance.md BUILD/tests/test_dsig_vectors
 * from the repository root.  Without ../shared the test is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "err.h"
#include "keys.h"
#include "pki.h"
#include "policy.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define VDIR		"../shared/vectors/xmlsec"
#define MANIFEST	VDIR "/MANIFEST.tsv"
#define DOCFILE		"docs/conformance.md"
#define MAX_FILE	((size_t)16 << 20)
#define MAX_ROWS	512
#define MAX_COLS	32
#define MAX_SEEN	16

#define DSIG	"http://www.w3.org/2000/09/xmldsig#"
#define DSIG11	"http://www.w3.org/2009/xmldsig11#"
#define MORE01	"http://www.w3.org/2001/04/xmldsig-more#"
#define MORE07	"http://www.w3.org/2007/05/xmldsig-more#"
#define MORE21	"http://www.w3.org/2021/04/xmldsig-more#"
#define XMLENC	"http://www.w3.org/2001/04/xmlenc#"
#define EXC	"http://www.w3.org/2001/10/xml-exc-c14n#"

struct row {
	char *id, *kind, *step, *expected, *input, *args;
};

/* A small set of reason codes (the oracle's findings). */
struct set {
	enum policy_reason v[MAX_SEEN];
	int n;
};

static struct {
	char *manifest;
	struct row rows[MAX_ROWS];
	int nrows;
	int have;
} F;

static void
set_add(struct set *s, enum policy_reason r)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == r)
			return;
	if (s->n < MAX_SEEN)
		s->v[s->n++] = r;
}

/* ---- the oracle: what the issue's policy says about this document ---- */

static int
is_ds(xmlNodePtr n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, ns) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

static const char *
alg(xmlNodePtr n)
{
	xmlAttrPtr a = xmlHasNsProp(n, BAD_CAST "Algorithm", NULL);

	return a && a->children ? (const char *)a->children->content : "";
}

/* The families the issue names, by the words of the algorithm's name. */
static int
word(const char *uri, const char *w)
{
	const char *f = strrchr(uri, '#'), *p;
	size_t n = strlen(w);

	f = f ? f + 1 : uri;
	for (p = f; (p = strstr(p, w)) != NULL; p++)
		if ((p == f || p[-1] == '-') && (p[n] == '\0' || p[n] == '-'))
			return 1;
	return 0;
}

static void
oracle_sigalg(const char *uri, struct set *s)
{
	static const char *allowed[] = {
		MORE01 "rsa-sha256", MORE01 "rsa-sha384", MORE01 "rsa-sha512",
		MORE07 "sha256-rsa-MGF1", MORE07 "sha384-rsa-MGF1",
		MORE07 "sha512-rsa-MGF1", MORE07 "sha3-256-rsa-MGF1",
		MORE07 "sha3-384-rsa-MGF1", MORE07 "sha3-512-rsa-MGF1",
		MORE01 "ecdsa-sha256", MORE01 "ecdsa-sha384", MORE01 "ecdsa-sha512",
		MORE21 "ecdsa-sha3-256", MORE21 "ecdsa-sha3-384",
		MORE21 "ecdsa-sha3-512",
	};
	size_t i;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(uri, allowed[i]) == 0)
			return;
	if (strstr(uri, "hmac"))
		set_add(s, PR_SIGALG_HMAC);
	else if (word(uri, "dsa"))
		set_add(s, PR_SIGALG_DSA);
	else if (word(uri, "sha1"))
		set_add(s, PR_SIGALG_SHA1);
	else if (word(uri, "md5"))
		set_add(s, PR_SIGALG_MD5);
	else if (word(uri, "ripemd160"))
		set_add(s, PR_SIGALG_RIPEMD160);
	else
		set_add(s, PR_SIGALG_NOT_ALLOWED);
}

static void
oracle_digest(const char *uri, struct set *s)
{
	if (strcmp(uri, XMLENC "sha256") == 0 || strcmp(uri, MORE01 "sha384") ==
	    0 || strcmp(uri, XMLENC "sha512") == 0 ||
	    strcmp(uri, MORE07 "sha3-256") == 0 ||
	    strcmp(uri, MORE07 "sha3-384") == 0 ||
	    strcmp(uri, MORE07 "sha3-512") == 0)
		return;
	set_add(s, strcmp(uri, DSIG "sha1") == 0 ? PR_DIGEST_SHA1 :
	    strcmp(uri, MORE01 "md5") == 0 ? PR_DIGEST_MD5 :
	    strcmp(uri, XMLENC "ripemd160") == 0 ? PR_DIGEST_RIPEMD160 :
	    PR_DIGEST_NOT_ALLOWED);
}

static void
oracle_transforms(xmlNodePtr ts, struct set *s)
{
	const char *a, *seq[2] = { "", "" };
	xmlNodePtr t;
	int n = 0, named = 0;

	for (t = ts ? xmlFirstElementChild(ts) : NULL; t != NULL;
	    t = xmlNextElementSibling(t), n++) {
		a = alg(t);
		if (n < 2)
			seq[n] = a;
		named = 1;
		if (strstr(a, "xslt"))
			set_add(s, PR_TRANSFORM_XSLT);
		else if (strstr(a, "REC-xpath"))
			set_add(s, PR_TRANSFORM_XPATH);
		else if (strstr(a, "xmldsig-filter2"))
			set_add(s, PR_TRANSFORM_XPATH_FILTER2);
		else if (strstr(a, "xmldsig-more/xptr"))
			set_add(s, PR_TRANSFORM_XPOINTER);
		else if (strcmp(a, DSIG "base64") == 0)
			set_add(s, PR_TRANSFORM_BASE64);
		else if (strstr(a, "WithComments"))
			set_add(s, PR_TRANSFORM_WITH_COMMENTS);
		else if (strcmp(a, DSIG "enveloped-signature") != 0 &&
		    strcmp(a, EXC) != 0 && strstr(a, "c14n") == NULL)
			set_add(s, PR_TRANSFORM_UNKNOWN);
		else
			named = 0;
		if (named)
			return;
	}
	if (n != 2 || strcmp(seq[0], DSIG "enveloped-signature") != 0 ||
	    strcmp(seq[1], EXC) != 0)
		set_add(s, PR_TRANSFORM_CHAIN);
}

static void
oracle_reference(xmlNodePtr ref, struct set *s)
{
	xmlAttrPtr a = xmlHasNsProp(ref, BAD_CAST "URI", NULL);
	const char *uri = a ? (a->children ? (const char *)a->children->content :
	    "") : NULL;
	xmlNodePtr c = xmlFirstElementChild(ref);

	if (uri == NULL)
		set_add(s, PR_REF_NO_URI);
	else if (strncmp(uri, "#xpointer(", 10) == 0)
		set_add(s, PR_REF_URI_XPOINTER);
	else if (uri[0] == '#')
		set_add(s, PR_REF_URI_ID);
	else if (strncmp(uri, "file:", 5) == 0)
		set_add(s, PR_REF_URI_FILE);
	else if (uri[0] != '\0')
		set_add(s, PR_REF_URI_EXTERNAL);
	if (xmlHasNsProp(ref, BAD_CAST "Type", NULL) != NULL)
		set_add(s, PR_REF_TYPE);
	if (is_ds(c, DSIG, "Transforms")) {
		oracle_transforms(c, s);
		c = xmlNextElementSibling(c);
	} else
		set_add(s, PR_TRANSFORM_CHAIN);
	if (is_ds(c, DSIG, "DigestMethod"))
		oracle_digest(alg(c), s);
}

static void
oracle_keyinfo(xmlNodePtr ki, struct set *s)
{
	xmlNodePtr n, c;
	int certs = 0, keyvalue = 0;

	for (n = ki ? xmlFirstElementChild(ki) : NULL; n != NULL;
	    n = xmlNextElementSibling(n)) {
		if (is_ds(n, DSIG, "RetrievalMethod"))
			set_add(s, PR_KEYINFO_RETRIEVAL_METHOD);
		if (is_ds(n, DSIG, "KeyValue") ||
		    is_ds(n, DSIG11, "DEREncodedKeyValue"))
			keyvalue = 1;
		for (c = is_ds(n, DSIG, "X509Data") ? xmlFirstElementChild(n) :
		    NULL; c != NULL; c = xmlNextElementSibling(c))
			certs += is_ds(c, DSIG, "X509Certificate");
	}
	if (certs == 0)
		set_add(s, keyvalue ? PR_KEYINFO_KEYVALUE_ONLY :
		    PR_KEYINFO_NO_CERT);
}

/* The first signature in document order and how many there are. */
static xmlNodePtr
find_signatures(xmlNodePtr n, int *count, xmlNodePtr first)
{
	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (is_ds(n, DSIG, "Signature") && (*count)++ == 0)
			first = n;
		first = find_signatures(n->children, count, first);
	}
	return first;
}

static int
uri_empty(xmlNodePtr ref)
{
	xmlAttrPtr a = xmlHasNsProp(ref, BAD_CAST "URI", NULL);

	return a != NULL && (a->children == NULL ||
	    a->children->content[0] == '\0');
}

static void
oracle(xmlDocPtr doc, struct set *s)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), sig, si, n;
	int count = 0, refs = 0, whole = 0;

	sig = find_signatures(root, &count, NULL);
	if (sig == NULL) {
		set_add(s, PR_SIG_MISSING);
		return;
	}
	if (count > 1)
		set_add(s, PR_SIG_MULTIPLE);
	if (sig->parent != root || xmlNextElementSibling(sig) != NULL)
		set_add(s, PR_SIG_PLACEMENT);
	si = xmlFirstElementChild(sig);
	for (n = xmlFirstElementChild(si); n != NULL;
	    n = xmlNextElementSibling(n)) {
		if (is_ds(n, DSIG, "SignatureMethod")) {
			oracle_sigalg(alg(n), s);
			if (is_ds(xmlFirstElementChild(n), DSIG,
			    "HMACOutputLength"))
				set_add(s, PR_SIGALG_HMAC_TRUNCATED);
		}
		if (is_ds(n, DSIG, "Reference") && ++refs <= 8) {
			oracle_reference(n, s);
			whole |= uri_empty(n);
		}
	}
	if (refs > 1)
		set_add(s, PR_REF_COUNT);
	/* Only URI="" covers the document element in the default profile. */
	if (!whole)
		set_add(s, PR_CONTENT_NOT_COVERED);
	for (n = xmlFirstElementChild(sig); n != NULL;
	    n = xmlNextElementSibling(n)) {
		if (is_ds(n, DSIG, "Object"))
			set_add(s, PR_SIG_OBJECT);
	}
	n = xmlNextElementSibling(xmlNextElementSibling(si));
	oracle_keyinfo(is_ds(n, DSIG, "KeyInfo") ? n : NULL, s);
}

/* ---- manifest, trust, one row ---- */

static int
load_manifest(void)
{
	unsigned char *buf = NULL;
	char *line, *next, *cols[MAX_COLS], *p;
	int idx[6] = { -1, -1, -1, -1, -1, -1 }, n, i, header = 1;
	static const char *names[6] = { "id", "kind", "step", "expected",
	    "input", "args" };
	size_t len = 0;

	if (util_read_file(MANIFEST, MAX_FILE, &buf, &len) != 0)
		return -1;
	F.manifest = (char *)buf;
	for (line = F.manifest; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (n = 0, p = line; n < MAX_COLS; n++) {
			cols[n] = p;
			if ((p = strchr(p, '\t')) == NULL) {
				n++;
				break;
			}
			*p++ = '\0';
		}
		if (header) {
			for (i = 0; i < n; i++) {
				int j;

				for (j = 0; j < 6; j++)
					if (strcmp(cols[i], names[j]) == 0)
						idx[j] = i;
			}
			for (i = 0; i < 6; i++)
				assert_true(idx[i] >= 0);
			header = 0;
			continue;
		}
		assert_true(F.nrows < MAX_ROWS);
		for (i = 0; i < 6; i++)
			assert_true(idx[i] < n);
		F.rows[F.nrows++] = (struct row){ cols[idx[0]], cols[idx[1]],
		    cols[idx[2]], cols[idx[3]], cols[idx[4]], cols[idx[5]] };
	}
	return 0;
}

static X509 *
read_cert(const char *path, int der)
{
	char full[4096];
	unsigned char *buf = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509 *x = NULL;
	BIO *bio;

	snprintf(full, sizeof(full), VDIR "/%s", path);
	if (util_read_file(full, 1 << 20, &buf, &len) != 0)
		return NULL;
	if (der) {
		p = buf;
		x = d2i_X509(NULL, &p, (long)len);
	} else if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	free(buf);
	return x;
}

/* "2026-05-01+00:00:00" (xmlsec1's --verification-gmt-time). */
static time_t
gmt_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%d-%d-%d+%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* The row's trusted certificates and verification time. */
static X509_STORE *
row_trust(const struct row *r, time_t *at)
{
	X509_STORE *st = X509_STORE_new();
	char args[2048], *tok, *next, *prev = NULL;
	X509 *x;

	assert_non_null(st);
	*at = 0;
	util_strlcpy(args, r->args, sizeof(args));
	/* Tokens are separated by single spaces (README.md). */
	for (tok = args; tok != NULL; prev = tok, tok = next) {
		if ((next = strchr(tok, ' ')) != NULL)
			*next++ = '\0';
		if (prev == NULL)
			continue;
		if (strcmp(prev, "--trusted-der") == 0 ||
		    strcmp(prev, "--trusted-pem") == 0) {
			x = read_cert(tok, prev[10] == 'd');
			if (x != NULL) {
				X509_STORE_add_cert(st, x);
				X509_free(x);
			}
		} else if (strcmp(prev, "--verification-gmt-time") == 0)
			*at = gmt_time(tok);
	}
	return st;
}

struct verdict {
	int rc;
	struct policy_result got;
	struct set want;
};

static void
run_row(const struct row *r, struct verdict *v)
{
	char path[4096];
	unsigned char *buf = NULL;
	struct dsig_info info;
	X509_STORE *trust;
	xmlDocPtr doc = NULL;
	size_t len = 0;
	time_t at;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), VDIR "/%s", r->input);
	assert_int_equal(util_read_file(path, MAX_FILE, &buf, &len), 0);
	v->rc = xmlparse_safe((const char *)buf, len, NULL, &doc);
	free(buf);
	if (v->rc == GW_ERR_XML_DTD) {
		/* Refused by the parser, before any signature processing. */
		policy_result_reject(&v->got, PR_DTD_PRESENT);
		set_add(&v->want, PR_DTD_PRESENT);
		return;
	}
	assert_int_equal(v->rc, 0);
	oracle(doc, &v->want);
	trust = row_trust(r, &at);
	v->rc = xmldsig_verify_ex(doc, trust, at, NULL, &info);
	X509_free(info.signer);
	v->got = info.result;
	X509_STORE_free(trust);
	xmlFreeDoc(doc);
}

/* ---- the document ---- */

struct doc {
	char *buf;
	size_t len, cap;
};

static void
doc_add(struct doc *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(d->buf + d->len, d->cap - d->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < d->cap - d->len) {
			d->len += (size_t)n;
			return;
		}
		d->cap = d->cap * 2 + (size_t)n + 1024;
		d->buf = realloc(d->buf, d->cap);
		assert_non_null(d->buf);
	}
}

static void
doc_header(struct doc *d, int rows, int rejected, int accepted)
{
	char pol[512];
	struct crypto_policy p;

	policy_default(&p);
	policy_describe(&p, pol, sizeof(pol));
	doc_add(d, "# XML-DSig conformance: the xmlsec test vectors\n\n"
	    "Generated by `tests/unit/test_dsig_vectors.c` (do not edit; see "
	    "the top of\nthat file for how to regenerate).  Every `dsig` "
	    "`verify` row of\n`../shared/vectors/xmlsec/MANIFEST.tsv` is "
	    "verified by `xmldsig_verify_ex()`\nunder the default policy "
	    "(`%s`),\nwith the row's `--trusted-der`/`--trusted-pem` "
	    "certificates as the trust store\nand its "
	    "`--verification-gmt-time` as the verification time.\n\n", pol);
	doc_add(d, "The test derives the verdict the policy demands from each "
	    "document on its own\n(algorithm URIs, transforms, reference "
	    "URIs, where the signature is, KeyInfo)\nand fails unless the "
	    "verifier rejects the document with at least those reason\ncodes.  "
	    "A row the policy does not object to must verify exactly when "
	    "upstream\nexpects it to.\n\n");
	doc_add(d, "Result: %d rows, %d rejected by the policy, %d accepted.  "
	    "No vector fits the\nsubmission profile (one enveloped Reference "
	    "URI=\"\" with exactly\nenveloped-signature + exclusive c14n, "
	    "SHA-2/SHA-3, RSA >= 3000 bits, PSS or\nECDSA, the signer "
	    "certificate in X509Data): they are interoperability vectors\nfor "
	    "the legacy and the exotic.  The profile's positive cases are in\n"
	    "`tests/unit/test_xmldsig.c` (xmlsec1 CLI and library as independent "
	    "signers)\nand `tests/unit/test_policy.c`.\n\n", rows, rejected,
	    accepted);
	doc_add(d, "Reason codes are listed in `docs/verification.md`.  In the "
	    "tables, *why* is\nthe objection that says most about a vector "
	    "(its algorithm before its\ntransforms before where its signature "
	    "is); *reasons* lists every code the\nverifier reported, the first "
	    "being the error it returns; *upstream* is what\nxmlsec's own "
	    "suite expects of the row.\n\n");
}

/*
 * The reason that says most about a vector, for people: the algorithm
 * before the transforms before the references before where the signature
 * is (most vectors are enveloping, which says little about them).
 */
static enum policy_reason
main_reason(const struct policy_result *r)
{
	static const enum policy_reason order[] = {
		PR_DTD_PRESENT, PR_SIGALG_HMAC, PR_SIGALG_DSA, PR_SIGALG_MD5,
		PR_SIGALG_RIPEMD160, PR_SIGALG_SHA1, PR_SIGALG_NOT_ALLOWED,
		PR_DIGEST_MD5, PR_DIGEST_RIPEMD160, PR_DIGEST_SHA1,
		PR_DIGEST_NOT_ALLOWED, PR_C14N_NOT_ALLOWED, PR_TRANSFORM_XSLT,
		PR_TRANSFORM_XPATH, PR_TRANSFORM_XPATH_FILTER2,
		PR_TRANSFORM_XPOINTER, PR_TRANSFORM_BASE64,
		PR_TRANSFORM_WITH_COMMENTS, PR_TRANSFORM_UNKNOWN,
		PR_REF_URI_EXTERNAL, PR_REF_URI_FILE, PR_REF_URI_XPOINTER,
		PR_KEYINFO_RETRIEVAL_METHOD, PR_KEYINFO_KEYVALUE_ONLY,
		PR_TRANSFORM_CHAIN, PR_REF_COUNT,
	};
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (policy_result_has(r, order[i]))
			return order[i];
	return r->nreasons > 0 ? r->reasons[0] : POLICY_OK;
}

static void
doc_row(struct doc *d, const struct row *r, const struct verdict *v)
{
	int i;

	doc_add(d, "| %s | `%s` | %s | %s | ", r->id, r->input, r->expected,
	    v->rc == 0 ? "**accepted**" : policy_reason_text(main_reason(&v->got)));
	for (i = 0; i < v->got.nreasons; i++)
		doc_add(d, "%s%s", i ? ", " : "",
		    policy_reason_code(v->got.reasons[i]));
	doc_add(d, " |\n");
}

static void
check_row(const struct row *r, const struct verdict *v)
{
	int i;

	if (v->want.n == 0) {
		/* Nothing for the policy to object to: upstream decides. */
		if (strcmp(r->expected, "pass") == 0 && v->rc != 0)
			fail_msg("%s %s: acceptable, but rejected (%s)", r->id,
			    r->input, v->got.nreasons ?
			    policy_reason_code(v->got.reasons[0]) : "?");
		if (strcmp(r->expected, "fail") == 0 && v->rc == 0)
			fail_msg("%s %s: upstream expects failure", r->id,
			    r->input);
		return;
	}
	if (v->rc == 0)
		fail_msg("%s %s: accepted against the policy", r->id, r->input);
	for (i = 0; i < v->want.n; i++)
		if (!policy_result_has(&v->got, v->want.v[i]))
			fail_msg("%s %s: %s expected among the reasons (first: %s)",
			    r->id, r->input, policy_reason_code(v->want.v[i]),
			    v->got.nreasons ?
			    policy_reason_code(v->got.reasons[0]) : "none");
}

static void
test_vectors(void **state)
{
	struct doc d = { NULL, 0, 0 };
	struct doc body = { NULL, 0, 0 };
	struct verdict v;
	const char *out = getenv("GW_CONFORMANCE_OUT");
	unsigned char *old = NULL;
	size_t oldlen = 0;
	int i, rows = 0, rejected = 0, count[PR__LAST] = { 0 };

	(void)state;
	if (!F.have) {
		print_message("%s not found: the xmlsec vectors are not checked "
		    "(they live in ../shared next to the repository)\n", MANIFEST);
		skip();
	}
	for (i = 0; i < F.nrows; i++) {
		if (strcmp(F.rows[i].kind, "dsig") != 0 ||
		    strcmp(F.rows[i].step, "verify") != 0)
			continue;
		run_row(&F.rows[i], &v);
		check_row(&F.rows[i], &v);
		doc_row(&body, &F.rows[i], &v);
		if (v.rc != 0)
			count[main_reason(&v.got)]++;
		rows++;
		rejected += v.rc != 0;
	}
	assert_true(rows >= 200);	/* 234 in the snapshot described */
	doc_header(&d, rows, rejected, rows - rejected);
	doc_add(&d, "## Rows by main reason\n\n| why | code | rows |\n"
	    "| --- | --- | --- |\n");
	for (i = 1; i < PR__LAST; i++)
		if (count[i] > 0)
			doc_add(&d, "| %s | %s | %d |\n",
			    policy_reason_text((enum policy_reason)i),
			    policy_reason_code((enum policy_reason)i), count[i]);
	doc_add(&d, "\n## Every row\n\n| row | vector | upstream | why | "
	    "reasons |\n| --- | --- | --- | --- | --- |\n%s", body.buf);
	print_message("%d dsig vectors: %d rejected, %d accepted\n", rows,
	    rejected, rows - rejected);
	if (out != NULL) {
		assert_int_equal(util_write_file(out, d.buf, d.len, 0644), 0);
		print_message("wrote %s\n", out);
	} else if (util_read_file(DOCFILE, MAX_FILE, &old, &oldlen) == 0) {
		if (oldlen != d.len || memcmp(old, d.buf, d.len) != 0)
			fail_msg("%s is stale: regenerate it with "
			    "GW_CONFORMANCE_OUT=%s (see this test's source)",
			    DOCFILE, DOCFILE);
		free(old);
	}
	free(d.buf);
	free(body.buf);
}

/* The oracle itself must be able to object (a test that cannot fail...). */
#define SANITY_FMT "<r><ds:Signature xmlns:ds=\"" DSIG "\">" \
    "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"" EXC "\"/>" \
    "<ds:SignatureMethod Algorithm=\"%s\"/>" \
    "<ds:Reference URI=\"%s\"><ds:Transforms>" \
    "<ds:Transform Algorithm=\"" DSIG "enveloped-signature\"/>" \
    "<ds:Transform Algorithm=\"" EXC "\"/></ds:Transforms>" \
    "<ds:DigestMethod Algorithm=\"" XMLENC "sha256\"/>" \
    "<ds:DigestValue/></ds:Reference></ds:SignedInfo>" \
    "<ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/>" \
    "</ds:X509Data></ds:KeyInfo></ds:Signature></r>"

static void
sanity(const char *sigalg, const char *uri, struct set *s)
{
	char text[2048];
	xmlDocPtr doc = NULL;

	snprintf(text, sizeof(text), SANITY_FMT, sigalg, uri);
	memset(s, 0, sizeof(*s));
	assert_int_equal(xmlparse_safe(text, strlen(text), NULL, &doc), 0);
	oracle(doc, s);
	xmlFreeDoc(doc);
}

static void
test_oracle_sanity(void **state)
{
	struct set s;

	(void)state;
	sanity(MORE01 "rsa-sha256", "", &s);
	assert_int_equal(s.n, 0);
	sanity(DSIG "rsa-sha1", "", &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0], PR_SIGALG_SHA1);
	sanity(MORE01 "rsa-sha256", "#x", &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[0], PR_REF_URI_ID);
	assert_int_equal(s.v[1], PR_CONTENT_NOT_COVERED);
}

/* ---- the profile with the suite's PKI ---- */

#define PROFILE_TMPL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
    "<sub:Submission xmlns:sub=\"urn:gatewayd:submission:1\">" \
    "<sub:Content>Hello from the vector PKI</sub:Content>" \
    "<Signature xmlns=\"" DSIG "\"><SignedInfo>" \
    "<CanonicalizationMethod Algorithm=\"" EXC "\"/>" \
    "<SignatureMethod Algorithm=\"" MORE01 "rsa-sha512\"/>" \
    "<Reference URI=\"\"><Transforms>" \
    "<Transform Algorithm=\"" DSIG "enveloped-signature\"/>" \
    "<Transform Algorithm=\"" EXC "\"/></Transforms>" \
    "<DigestMethod Algorithm=\"" XMLENC "sha256\"/><DigestValue/>" \
    "</Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data>" \
    "<X509Certificate/></X509Data></KeyInfo></Signature></sub:Submission>\n"

static int
verify_text(const char *text, X509_STORE *trust,
    const struct crypto_policy *pol, struct dsig_info *info)
{
	xmlDocPtr doc = NULL;
	int r;

	assert_int_equal(xmlparse_safe(text, strlen(text), NULL, &doc), 0);
	r = xmldsig_verify_ex(doc, trust, 0, pol, info);
	X509_free(info->signer);
	info->signer = NULL;
	xmlFreeDoc(doc);
	return r;
}

/* The xmlsec1 CLI signs our profile with the suite's rsa-4096 key. */
static void
cli_signs(X509_STORE *trust)
{
	char dir[] = "/tmp/test_dsig_vectors.XXXXXX", cmd[1024], path[256];
	struct dsig_info info;
	unsigned char *out = NULL;
	size_t len = 0;
	char *t, *p;

	if (system("command -v xmlsec1 >/dev/null 2>&1") != 0) {
		print_message("xmlsec1 not installed: CLI part skipped\n");
		return;
	}
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tmpl.xml", dir);
	assert_int_equal(util_write_file(path, PROFILE_TMPL,
	    strlen(PROFILE_TMPL), 0600), 0);
	snprintf(cmd, sizeof(cmd), "xmlsec1 --sign --privkey-pem "
	    VDIR "/keys/rsa/rsa-4096-key.pem," VDIR "/keys/rsa/rsa-4096-cert.pem,"
	    VDIR "/keys/ca2cert.pem --output %s/signed.xml %s >/dev/null 2>&1",
	    dir, path);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/signed.xml", dir);
	assert_int_equal(util_read_file(path, MAX_FILE, &out, &len), 0);
	assert_int_equal(verify_text((char *)out, trust, NULL, &info), 0);
	assert_non_null(strstr(info.subject, "CN=Test Key rsa-4096"));
	assert_string_equal(info.key_desc, "RSA 4096");
	assert_int_equal(info.chain_ok, 1);
	t = strdup((char *)out);
	p = strstr(t, "Hello");
	*p = 'J';
	assert_int_equal(verify_text(t, trust, NULL, &info), GW_ERR_SIG_INVALID);
	assert_int_equal(info.result.reasons[0], PR_DIGEST_MISMATCH);
	free(t);
	free(out);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tmpl.xml", dir);
	unlink(path);
	rmdir(dir);
}

/* We sign with the suite's keys: 4096 verifies, 2048 only where allowed. */
static void
we_sign(X509_STORE *trust, const char *name, int bits)
{
	static const char text[] = "<sub:Submission xmlns:sub=\"urn:gatewayd:"
	    "submission:1\"><sub:Content>Hello</sub:Content></sub:Submission>";
	char path[512], why[100];
	struct crypto_policy pol;
	struct dsig_info info;
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct keys *k = NULL;
	xmlDocPtr doc = NULL;
	xmlChar *buf = NULL;
	X509 *cert = NULL, *ca2 = NULL;
	int len = 0;

	snprintf(path, sizeof(path), VDIR "/keys/rsa/%s-key.pem", name);
	assert_int_equal(keys_load(path, &k), 0);
	snprintf(path, sizeof(path), VDIR "/keys/rsa/%s-cert.pem", name);
	assert_int_equal(pki_read_cert(path, &cert), 0);
	assert_int_equal(pki_read_cert(VDIR "/keys/ca2cert.pem", &ca2), 0);
	assert_int_equal(sk_X509_push(chain, ca2), 1);
	assert_int_equal(xmlparse_safe(text, strlen(text), NULL, &doc), 0);
	assert_int_equal(xmldsig_sign(doc, k, cert, chain, 1), 0);
	xmlDocDumpMemory(doc, &buf, &len);
	xmlFreeDoc(doc);
	if (bits >= 3000)
		assert_int_equal(verify_text((char *)buf, trust, NULL, &info), 0);
	else {
		assert_int_equal(verify_text((char *)buf, trust, NULL, &info),
		    GW_ERR_KEY_WEAK);
		assert_int_equal(info.result.reasons[0], PR_KEY_RSA_TOO_SHORT);
		policy_default(&pol);
		assert_int_equal(policy_set(&pol, "allow_rsa2048", "yes", why,
		    sizeof(why)), 0);
		assert_int_equal(verify_text((char *)buf, trust, &pol, &info), 0);
		assert_int_equal(info.result.warnings[0], PR_KEY_RSA_2048);
	}
	xmlFree(buf);
	keys_free(k);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
}

static void
test_vector_pki(void **state)
{
	X509_STORE *trust;
	X509 *ca = NULL;

	(void)state;
	if (!F.have) {
		print_message("%s not found: skipped\n", MANIFEST);
		skip();
	}
	assert_int_equal(pki_read_cert(VDIR "/keys/cacert.pem", &ca), 0);
	trust = X509_STORE_new();
	assert_int_equal(X509_STORE_add_cert(trust, ca), 1);
	X509_free(ca);
	cli_signs(trust);
	we_sign(trust, "rsa-4096", 4096);
	we_sign(trust, "rsa-2048", 2048);
	X509_STORE_free(trust);
}

static int
setup(void **state)
{
	(void)state;
	if (xmldsig_global_init() != 0)
		return -1;
	F.have = load_manifest() == 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(F.manifest);
	xmldsig_global_cleanup();
	xmlCleanupParser();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oracle_sanity),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_vector_pki),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
