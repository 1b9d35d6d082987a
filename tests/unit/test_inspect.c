/*
 * test_inspect.c - the inspection report (crypto/inspect.c): filled from
 * real XML-DSig and CMS verifications and from a certificate path report,
 * rendered, and validated against gateway/schemas/inspection.xsd; the
 * element names the spine's simpler report used; qualified certificates
 * (QCStatements); revocation answers; hostile strings; limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <openssl/x509v3.h>

#include "chain.h"
#include "cms.h"
#include "err.h"
#include "inspect.h"
#include "keys.h"
#include "pki.h"
#include "policy.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define DAY	86400L

struct party {
	EVP_PKEY *key;
	X509 *cert;
};

static struct {
	struct party ca, inter, leaf, expired, qualified, sub, rsa2048;
	X509_STORE *trust;
} F;

static const char sample[] =
    "<sub:Submission xmlns:sub=\"urn:gatewayd:submission:1\">"
    "<sub:Content>Antrag</sub:Content></sub:Submission>";

/* ---- helpers ---- */

static char *
signed_by(struct party *p, STACK_OF(X509) *chain)
{
	xmlDocPtr doc = NULL;
	struct keys *k = NULL;
	xmlChar *buf = NULL;
	char *s;
	int len = 0;

	assert_int_equal(xmlparse_safe(sample, strlen(sample), NULL, &doc), 0);
	assert_int_equal(EVP_PKEY_up_ref(p->key), 1);
	assert_int_equal(keys_from_pkey(p->key, &k), 0);
	assert_int_equal(xmldsig_sign(doc, k, p->cert, chain, 0), 0);
	keys_free(k);
	xmlDocDumpMemory(doc, &buf, &len);
	s = strndup((const char *)buf, (size_t)len);
	xmlFree(buf);
	xmlFreeDoc(doc);
	return s;
}

/* Verifies text, fills a new report with the result. */
static struct inspect_report *
report_of(const char *text, const struct crypto_policy *pol)
{
	struct inspect_report *rep = NULL;
	struct dsig_info info;
	xmlDocPtr doc = NULL;
	int rc;

	assert_int_equal(xmlparse_safe(text, strlen(text), NULL, &doc), 0);
	rc = xmldsig_verify_ex(doc, F.trust, 0, pol, &info);
	X509_free(info.signer);
	xmlFreeDoc(doc);
	assert_int_equal(inspect_new(0, pol, &rep), 0);
	assert_int_equal(inspect_fill_dsig(rep, &info, rc, NULL), 0);
	return rep;
}

/* Renders rep as a document and asserts that it is schema-valid. */
static xmlDocPtr
render_valid(const struct inspect_report *rep)
{
	xmlDocPtr doc = NULL, again = NULL;
	unsigned char *xml = NULL;
	size_t len = 0;
	char why[300];

	assert_int_equal(inspect_render(rep, NULL, &doc, NULL), 0);
	if (inspect_validate(doc, why, sizeof(why)) != 0)
		fail_msg("not valid: %s", why);
	/* The text form too, through the safe parser. */
	assert_int_equal(inspect_to_xml(rep, &xml, &len), 0);
	assert_int_equal(xmlparse_safe((const char *)xml, len, NULL, &again), 0);
	assert_int_equal(inspect_validate(again, why, sizeof(why)), 0);
	xmlFreeDoc(again);
	free(xml);
	return doc;
}

/* The string value of an XPath expression (prefix i: the report's). */
static char *
xp(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o;
	char q[512], *s;

	assert_non_null(ctx);
	xmlXPathRegisterNs(ctx, BAD_CAST "i", BAD_CAST NS_INSPECT);
	snprintf(q, sizeof(q), "string(%s)", expr);
	o = xmlXPathEvalExpression(BAD_CAST q, ctx);
	assert_non_null(o);
	s = strdup((const char *)o->stringval);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	return s;
}

static void
expect_xp(xmlDocPtr doc, const char *expr, const char *want)
{
	char *got = xp(doc, expr);

	if (strcmp(got, want) != 0)
		fail_msg("%s: \"%s\", expected \"%s\"", expr, got, want);
	free(got);
}

/* ---- from verifications ---- */

static void
test_valid_xml_signature(void **state)
{
	char *s = signed_by(&F.leaf, NULL);
	struct inspect_report *rep = report_of(s, NULL);
	xmlDocPtr doc = render_valid(rep);

	(void)state;
	assert_int_equal(inspect_overall(rep), INSPECT_VALID);
	expect_xp(doc, "/i:InspectionReport/i:Result", "valid");
	expect_xp(doc, "/i:InspectionReport/@version", "1");
	expect_xp(doc, "//i:Signature/@kind", "xmldsig");
	expect_xp(doc, "//i:Signature/@covers", "document");
	expect_xp(doc, "//i:Signature/i:SignatureAlgorithm",
	    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256");
	expect_xp(doc, "//i:Signature/i:Key", "EC P-256");
	expect_xp(doc, "//i:Signature/i:MathResult", "ok");
	expect_xp(doc, "//i:Signature/i:Result", "valid");
	expect_xp(doc, "count(//i:Reason)", "0");
	expect_xp(doc, "//i:Certificate/@role", "signer");
	expect_xp(doc, "//i:Certificate/i:Subject",
	    "CN=leaf,O=gatewayd development");
	expect_xp(doc, "//i:Certificate/i:CertificateType", "advanced");
	expect_xp(doc, "//i:Certificate/i:OfflineResult", "valid");
	expect_xp(doc, "//i:Certificate/i:OnlineResult", "not-checked");
	expect_xp(doc, "//i:Certificate/i:OnlineResult/@method", "none");
	/* The spine's element names are all still there. */
	expect_xp(doc, "count(/i:InspectionReport/i:Time)", "1");
	expect_xp(doc, "count(//i:Certificate/i:Issuer)", "1");
	expect_xp(doc, "count(//i:Certificate/i:Serial)", "1");
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(s);
}

static void
test_rejections(void **state)
{
	struct inspect_report *rep;
	xmlDocPtr doc;
	char *s = signed_by(&F.leaf, NULL), *t;

	(void)state;
	/* Content changed: corrupted math, the reason named. */
	t = strdup(s);
	memcpy(strstr(t, "Antrag"), "Antwor", 6);
	rep = report_of(t, NULL);
	doc = render_valid(rep);
	assert_int_equal(inspect_overall(rep), INSPECT_INVALID);
	expect_xp(doc, "/i:InspectionReport/i:Result", "invalid");
	expect_xp(doc, "//i:Signature/i:MathResult", "corrupted");
	expect_xp(doc, "//i:Signature/i:Reason/@code", "DIGEST_MISMATCH");
	expect_xp(doc, "//i:Certificate/i:OfflineResult", "valid");
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(t);
	/* No signature at all: no certificate, nothing determined. */
	rep = report_of(sample, NULL);
	doc = render_valid(rep);
	expect_xp(doc, "//i:Signature/i:MathResult", "indeterminate");
	expect_xp(doc, "//i:Signature/i:Reason/@code", "SIG_MISSING");
	expect_xp(doc, "count(//i:Certificate)", "0");
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(s);
	/* Expired signer: math ok, the path invalid and why. */
	s = signed_by(&F.expired, NULL);
	rep = report_of(s, NULL);
	doc = render_valid(rep);
	expect_xp(doc, "//i:Signature/i:MathResult", "ok");
	expect_xp(doc, "//i:Signature/i:Reason/@code", "CERT_EXPIRED");
	expect_xp(doc, "//i:Certificate/i:OfflineResult", "invalid");
	expect_xp(doc, "//i:Certificate/i:OfflineResult/@detail",
	    "certificate has expired (depth 0)");
	expect_xp(doc, "//i:Certificate/i:Reason/@code", "CERT_EXPIRED");
	expect_xp(doc, "//i:Certificate/i:CertificateType", "unknown");
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(s);
}

static void
test_warning(void **state)
{
	struct crypto_policy pol;
	struct inspect_report *rep;
	xmlDocPtr doc;
	char why[100], *s = signed_by(&F.rsa2048, NULL);

	(void)state;
	policy_default(&pol);
	assert_int_equal(policy_set(&pol, "allow_rsa2048", "yes", why,
	    sizeof(why)), 0);
	rep = report_of(s, &pol);
	doc = render_valid(rep);
	expect_xp(doc, "//i:Signature/i:Result", "valid");
	expect_xp(doc, "//i:Signature/i:Warning/@code", "KEY_RSA_2048");
	expect_xp(doc, "//i:Signature/i:Key", "RSA 2048");
	expect_xp(doc, "substring-before(/i:InspectionReport/i:Policy, ' rsa')",
	    "min_rsa_bits=3000 allow_rsa2048=yes");
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(s);
}

static void
test_qualified(void **state)
{
	struct inspect_report *rep;
	xmlDocPtr doc;
	char *s;

	(void)state;
	assert_int_equal(inspect_cert_qualified(F.qualified.cert), 1);
	assert_int_equal(inspect_cert_qualified(F.leaf.cert), 0);
	assert_int_equal(inspect_cert_qualified(NULL), 0);
	s = signed_by(&F.qualified, NULL);
	rep = report_of(s, NULL);
	doc = render_valid(rep);
	expect_xp(doc, "//i:Certificate/i:CertificateType", "qualified");
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(s);
}

/* The whole path from chain_verify_ex(), through xmldsig_verify_chain(). */
static void
test_chain_report(void **state)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct crypto_policy pol;
	struct chain_report *path = calloc(1, sizeof(*path));
	struct inspect_report *rep = NULL;
	struct inspect_sig *sig = NULL;
	struct dsig_info info;
	struct chain_ctx ctx;
	xmlDocPtr doc = NULL;
	char *s;
	int rc;

	(void)state;
	assert_int_equal(sk_X509_push(chain, F.inter.cert), 1);
	s = signed_by(&F.sub, chain);
	sk_X509_free(chain);
	policy_default(&pol);
	memset(&ctx, 0, sizeof(ctx));
	ctx.trust = F.trust;
	ctx.trust_gen = 1;
	ctx.revocation = REV_POLICY_OFF;
	ctx.cert_check = policy_chain_check;
	ctx.cert_check_arg = &pol;
	assert_int_equal(xmlparse_safe(s, strlen(s), NULL, &doc), 0);
	rc = xmldsig_verify_chain(doc, &ctx, 0, &pol, &info, path);
	assert_int_equal(rc, 0);
	X509_free(info.signer);
	xmlFreeDoc(doc);
	assert_int_equal(path->ncerts, 3);
	assert_int_equal(inspect_new(0, &pol, &rep), 0);
	assert_int_equal(inspect_fill_dsig(rep, &info, rc, &sig), 0);
	assert_int_equal(inspect_fill_chain(sig, path), 0);
	doc = render_valid(rep);
	expect_xp(doc, "count(//i:Certificate)", "3");
	expect_xp(doc, "//i:Certificate[1]/@role", "signer");
	expect_xp(doc, "//i:Certificate[1]/i:Subject",
	    "CN=leaf-sub,O=gatewayd development");
	expect_xp(doc, "//i:Certificate[2]/@role", "intermediate");
	expect_xp(doc, "//i:Certificate[3]/@role", "ca");
	expect_xp(doc, "//i:Certificate[3]/i:OfflineResult", "valid");
	expect_xp(doc, "//i:Certificate[1]/i:CertificateType", "advanced");
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(path);
	free(s);
}

/* No revocation source: "prefer" warns, "require" is indeterminate. */
static void
test_revocation_unavailable(void **state)
{
	struct chain_report *path = calloc(1, sizeof(*path));
	struct inspect_report *rep = NULL;
	struct inspect_sig *sig = NULL;
	struct crypto_policy pol;
	struct dsig_info info;
	struct chain_ctx ctx;
	xmlDocPtr doc = NULL, out;
	char *s = signed_by(&F.leaf, NULL);
	int rc;

	(void)state;
	policy_default(&pol);
	memset(&ctx, 0, sizeof(ctx));
	ctx.trust = F.trust;
	ctx.trust_gen = 1;
	ctx.revocation = REV_POLICY_PREFER;
	assert_int_equal(xmlparse_safe(s, strlen(s), NULL, &doc), 0);
	assert_int_equal(xmldsig_verify_chain(doc, &ctx, 0, &pol, &info, path), 0);
	X509_free(info.signer);
	assert_true(policy_result_has(&info.result, PR_REVOCATION_UNAVAILABLE));
	assert_int_equal(info.chain_ok, 1);
	ctx.revocation = REV_POLICY_REQUIRE;
	rc = xmldsig_verify_chain(doc, &ctx, 0, &pol, &info, path);
	assert_int_not_equal(rc, 0);
	assert_int_equal(info.result.reasons[0], PR_REVOCATION_UNAVAILABLE);
	assert_int_equal(info.signature_ok, 1);
	assert_int_equal(info.chain_ok, -1);
	xmlFreeDoc(doc);
	assert_int_equal(inspect_new(0, &pol, &rep), 0);
	assert_int_equal(inspect_fill_dsig(rep, &info, rc, &sig), 0);
	assert_int_equal(inspect_fill_chain(sig, path), 0);
	out = render_valid(rep);
	assert_int_equal(inspect_overall(rep), INSPECT_INDETERMINATE);
	expect_xp(out, "//i:Signature/i:Result", "indeterminate");
	expect_xp(out, "//i:Signature/i:Reason/@code", "REVOCATION_UNAVAILABLE");
	expect_xp(out, "//i:Certificate[1]/i:OnlineResult", "unavailable");
	/* The path itself is fine offline; only the online answer is missing. */
	expect_xp(out, "//i:Certificate[1]/i:OfflineResult", "valid");
	xmlFreeDoc(out);
	inspect_free(rep);
	free(path);
	free(s);
}

/* ---- filled by hand: CMS, revocation, hostile text ---- */

static void
test_cms_entries(void **state)
{
	struct cms_result *res = calloc(1, sizeof(*res));
	struct inspect_report *rep = NULL;
	xmlDocPtr doc;

	(void)state;
	res->nsigners = 2;
	util_strlcpy(res->signers[0].subject, "CN=a", 256);
	util_strlcpy(res->signers[0].issuer, "CN=ca", 256);
	util_strlcpy(res->signers[0].serial, "01", 80);
	util_strlcpy(res->signers[0].sig_alg, "rsassaPss", 64);
	util_strlcpy(res->signers[0].digest_alg, "sha256", 64);
	res->signers[0].signing_time = 1790000000;
	res->signers[0].signature_ok = 1;
	res->signers[0].chain_ok = 1;
	util_strlcpy(res->signers[1].subject, "CN=b", 256);
	util_strlcpy(res->signers[1].issuer, "CN=other", 256);
	util_strlcpy(res->signers[1].serial, "02", 80);
	res->signers[1].signature_ok = 1;
	res->signers[1].chain_ok = 0;
	res->signers[1].rc = GW_ERR_CERT_UNTRUSTED;
	policy_result_reject(&res->signers[1].result, PR_SIGNING_TIME_MISSING);
	policy_result_reject(&res->signers[1].result, PR_CERT_UNTRUSTED);
	assert_int_equal(inspect_new(1790000100, NULL, &rep), 0);
	assert_int_equal(inspect_fill_cms(rep, res, "antrag.pdf"), 0);
	memset(res, 0, sizeof(*res));
	policy_result_reject(&res->result, PR_CMS_MALFORMED);
	assert_int_equal(inspect_fill_cms(rep, res, "anlage.pdf"), 0);
	doc = render_valid(rep);
	assert_int_equal(inspect_overall(rep), INSPECT_INVALID);
	expect_xp(doc, "count(//i:Signature[@kind='cms'])", "3");
	expect_xp(doc, "/i:InspectionReport/i:ValidationTime",
	    "2026-09-21T14:15:00.000Z");
	expect_xp(doc, "//i:Signature[1]/@covers", "antrag.pdf");
	expect_xp(doc, "//i:Signature[1]/i:SigningTime",
	    "2026-09-21T14:13:20.000Z");
	expect_xp(doc, "//i:Signature[1]/i:Result", "valid");
	expect_xp(doc, "//i:Signature[2]/i:Result", "invalid");
	expect_xp(doc, "//i:Signature[2]/i:Reason[1]/@code",
	    "SIGNING_TIME_MISSING");
	expect_xp(doc, "//i:Signature[2]/i:Certificate/i:Reason/@code",
	    "CERT_UNTRUSTED");
	expect_xp(doc, "//i:Signature[3]/@covers", "anlage.pdf");
	expect_xp(doc, "//i:Signature[3]/i:Reason/@code", "CMS_MALFORMED");
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(res);
}

static void
test_online_result(void **state)
{
	struct inspect_report *rep = NULL;
	struct inspect_sig *s;
	struct inspect_cert *c;
	xmlDocPtr doc;

	(void)state;
	assert_int_equal(inspect_new(0, NULL, &rep), 0);
	assert_int_equal(inspect_add_sig(rep, "xmldsig", "document", &s), 0);
	s->math = INSPECT_MATH_OK;
	s->result = INSPECT_INVALID;
	policy_result_reject(&s->codes, PR_CERT_REVOKED);
	assert_int_equal(inspect_sig_add_cert(s, "signer", &c), 0);
	util_strlcpy(c->subject, "CN=x", sizeof(c->subject));
	c->offline = INSPECT_VALID;
	c->online.method = INSPECT_ONLINE_OCSP;
	c->online.status = INSPECT_ONLINE_REVOKED;
	util_strlcpy(c->online.responder, "http://ocsp.example/",
	    sizeof(c->online.responder));
	c->online.answered = 1790000000;
	c->online.revoked_at = 1780000000;
	util_strlcpy(c->online.revocation_reason, "keyCompromise",
	    sizeof(c->online.revocation_reason));
	assert_int_equal(inspect_sig_add_cert(s, "ca", &c), 0);
	c->online.method = INSPECT_ONLINE_CRL;
	c->online.status = INSPECT_ONLINE_UNAVAILABLE;
	doc = render_valid(rep);
	expect_xp(doc, "//i:Certificate[1]/i:OnlineResult", "revoked");
	expect_xp(doc, "//i:Certificate[1]/i:OnlineResult/@method", "ocsp");
	expect_xp(doc, "//i:Certificate[1]/i:OnlineResult/@responder",
	    "http://ocsp.example/");
	expect_xp(doc, "//i:Certificate[1]/i:OnlineResult/@time",
	    "2026-09-21T14:13:20.000Z");
	expect_xp(doc, "//i:Certificate[1]/i:OnlineResult/@revocationReason",
	    "keyCompromise");
	expect_xp(doc, "//i:Certificate[2]/i:OnlineResult", "unavailable");
	expect_xp(doc, "//i:Certificate[2]/i:OnlineResult/@method", "crl");
	xmlFreeDoc(doc);
	inspect_free(rep);
}

/* Names are the signer's choice: control characters, broken UTF-8 and
 * markup must come out as well-formed, valid text. */
static void
test_hostile_strings(void **state)
{
	struct inspect_report *rep = NULL;
	struct inspect_sig *s;
	struct inspect_cert *c;
	xmlDocPtr doc;
	char *got;

	(void)state;
	assert_int_equal(inspect_new(0, NULL, &rep), 0);
	assert_int_equal(inspect_add_sig(rep, "cms", "a\"<b>&\x01.pdf", &s), 0);
	util_strlcpy(s->sig_alg, "</SignatureAlgorithm><x/>", sizeof(s->sig_alg));
	assert_int_equal(inspect_sig_add_cert(s, "signer", &c), 0);
	util_strlcpy(c->subject, "CN=\x07\x1b[31mred\xff\xfe,O=<&>",
	    sizeof(c->subject));
	util_strlcpy(c->offline_detail, "\"quoted\"\n", sizeof(c->offline_detail));
	doc = render_valid(rep);
	got = xp(doc, "//i:Certificate/i:Subject");
	assert_null(strchr(got, '\x07'));
	assert_non_null(strstr(got, ",O=<&>"));
	free(got);
	expect_xp(doc, "//i:Signature/i:SignatureAlgorithm",
	    "</SignatureAlgorithm><x/>");
	xmlFreeDoc(doc);
	inspect_free(rep);
}

/* Into the gateway's content container: an element of its own namespace. */
static void
test_render_into_parent(void **state)
{
	char *s = signed_by(&F.leaf, NULL);
	struct inspect_report *rep = report_of(s, NULL);
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0"), copy;
	xmlNodePtr root = xmlNewDocNode(doc, NULL, BAD_CAST "ContentContainer",
	    NULL), el = NULL;
	char why[200];

	(void)state;
	xmlDocSetRootElement(doc, root);
	xmlNewChild(root, NULL, BAD_CAST "Message", BAD_CAST "x");
	assert_int_equal(inspect_render(rep, root, NULL, &el), 0);
	assert_ptr_equal(el->parent, root);
	assert_ptr_equal(xmlGetLastChild(root), el);
	assert_string_equal((const char *)el->ns->href, NS_INSPECT);
	copy = xmlNewDoc(BAD_CAST "1.0");
	xmlDocSetRootElement(copy, xmlDocCopyNode(el, copy, 1));
	assert_int_equal(inspect_validate(copy, why, sizeof(why)), 0);
	xmlFreeDoc(copy);
	xmlFreeDoc(doc);
	inspect_free(rep);
	free(s);
}

/* ---- the schema and the limits ---- */

static void
test_schema_can_fail(void **state)
{
	static const char bad[] = "<InspectionReport xmlns=\"" NS_INSPECT "\">"
	    "<Time>2026-01-01T00:00:00Z</Time><Signature kind=\"xmldsig\">"
	    "<SignatureAlgorithm>x</SignatureAlgorithm>"
	    "<MathResult>probably</MathResult><Result>valid</Result>"
	    "</Signature></InspectionReport>";
	xmlDocPtr doc = NULL;
	char why[300];

	(void)state;
	assert_int_equal(xmlparse_safe(bad, strlen(bad), NULL, &doc), 0);
	assert_int_equal(inspect_validate(doc, why, sizeof(why)), GW_ERR_SCHEMA);
	assert_non_null(strstr(why, "MathResult"));
	xmlFreeDoc(doc);
}

static void
test_limits_and_overall(void **state)
{
	struct inspect_report *rep = NULL;
	struct inspect_sig *s = NULL;
	struct inspect_cert *c;
	int i;

	(void)state;
	assert_int_equal(inspect_new(0, NULL, &rep), 0);
	assert_int_equal(inspect_overall(rep), INSPECT_INDETERMINATE);
	for (i = 0; i < INSPECT_MAX_SIGS; i++) {
		assert_int_equal(inspect_add_sig(rep, "cms", "a", &s), 0);
		s->result = INSPECT_VALID;
	}
	assert_int_equal(inspect_overall(rep), INSPECT_VALID);
	assert_int_equal(inspect_add_sig(rep, "cms", "a", &s), GW_ERR_TOO_LARGE);
	rep->sigs[3].result = INSPECT_INDETERMINATE;
	assert_int_equal(inspect_overall(rep), INSPECT_INDETERMINATE);
	rep->sigs[7].result = INSPECT_INVALID;
	assert_int_equal(inspect_overall(rep), INSPECT_INVALID);
	s = &rep->sigs[0];
	for (i = 0; i < INSPECT_MAX_CERTS; i++)
		assert_int_equal(inspect_sig_add_cert(s, "ca", &c), 0);
	assert_int_equal(inspect_sig_add_cert(s, "ca", &c), GW_ERR_TOO_LARGE);
	inspect_free(rep);
	inspect_free(NULL);
}

/* ---- gwctl verify, the command line around all of it ---- */

/* BUILD/gwctl next to BUILD/tests/test_inspect; "" if not built. */
static void
find_gwctl(char *out, size_t len)
{
	char self[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	out[0] = '\0';
	if (n <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	*slash = '\0';
	snprintf(out, len, "%s/../gwctl", self);
	if (access(out, X_OK) != 0)
		out[0] = '\0';
}

static int
gwctl_rc(const char *gwctl, const char *dir, const char *args)
{
	char cmd[2 * PATH_MAX + 512];
	int st;

	snprintf(cmd, sizeof(cmd), "cd %s && %s verify %s >out.xml 2>err.txt",
	    dir, gwctl, args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static xmlDocPtr
gwctl_report(const char *dir)
{
	char path[PATH_MAX], why[300];
	unsigned char *buf = NULL;
	xmlDocPtr doc = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/out.xml", dir);
	assert_int_equal(util_read_file(path, 1 << 20, &buf, &len), 0);
	assert_int_equal(xmlparse_safe((const char *)buf, len, NULL, &doc), 0);
	free(buf);
	if (inspect_validate(doc, why, sizeof(why)) != 0)
		fail_msg("gwctl verify's report: %s", why);
	return doc;
}

static void
write_text(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(util_write_file(path, text, strlen(text), 0600), 0);
}

static void
test_gwctl_verify(void **state)
{
	char gwctl[PATH_MAX], dir[] = "/tmp/test_inspect.XXXXXX";
	char path[PATH_MAX];
	char *s, *t;
	xmlDocPtr doc;

	(void)state;
	find_gwctl(gwctl, sizeof(gwctl));
	if (gwctl[0] == '\0') {
		print_message("gwctl not built next to the tests: skipped\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	assert_int_equal(pki_write_cert(path, F.ca.cert), 0);
	s = signed_by(&F.leaf, NULL);
	write_text(dir, "signed.xml", s);
	assert_int_equal(gwctl_rc(gwctl, dir, "--trust ca.pem signed.xml"), 0);
	doc = gwctl_report(dir);
	expect_xp(doc, "/i:InspectionReport/i:Result", "valid");
	expect_xp(doc, "//i:Certificate[1]/i:Subject",
	    "CN=leaf,O=gatewayd development");
	expect_xp(doc, "//i:Certificate[2]/@role", "ca");
	xmlFreeDoc(doc);
	/* Tampered: the report still comes, the exit status is 1. */
	t = strdup(s);
	memcpy(strstr(t, "Antrag"), "Antwor", 6);
	write_text(dir, "bad.xml", t);
	assert_int_equal(gwctl_rc(gwctl, dir, "--trust ca.pem bad.xml"), 1);
	doc = gwctl_report(dir);
	expect_xp(doc, "//i:Signature/i:Reason/@code", "DIGEST_MISMATCH");
	xmlFreeDoc(doc);
	free(t);
	/* At a time before the certificates existed, ISO 8601 and epoch. */
	assert_int_equal(gwctl_rc(gwctl, dir,
	    "--trust ca.pem --at 2020-01-01T00:00:00+01:00 signed.xml"), 1);
	doc = gwctl_report(dir);
	expect_xp(doc, "//i:Signature/i:Reason/@code", "CERT_EXPIRED");
	expect_xp(doc, "/i:InspectionReport/i:ValidationTime",
	    "2019-12-31T23:00:00.000Z");
	xmlFreeDoc(doc);
	assert_int_equal(gwctl_rc(gwctl, dir, "--trust ca.pem --at 1577836800 "
	    "signed.xml"), 1);
	free(s);
	/* A 2048-bit signer: refused, unless the policy says otherwise. */
	s = signed_by(&F.rsa2048, NULL);
	write_text(dir, "rsa.xml", s);
	assert_int_equal(gwctl_rc(gwctl, dir, "--trust ca.pem rsa.xml"), 1);
	assert_int_equal(gwctl_rc(gwctl, dir, "--trust ca.pem "
	    "--policy allow_rsa2048=yes rsa.xml"), 0);
	doc = gwctl_report(dir);
	expect_xp(doc, "//i:Signature/i:Warning/@code", "KEY_RSA_2048");
	xmlFreeDoc(doc);
	free(s);
	/* No trust: nothing can be valid. */
	assert_int_equal(gwctl_rc(gwctl, dir, "signed.xml"), 1);
	/* Usage errors. */
	assert_int_equal(gwctl_rc(gwctl, dir, "--policy nonsense signed.xml"), 2);
	assert_int_equal(gwctl_rc(gwctl, dir, "--policy allow_sha1=yes "
	    "signed.xml"), 2);
	assert_int_equal(gwctl_rc(gwctl, dir, "--at yesterday signed.xml"), 2);
	assert_int_equal(gwctl_rc(gwctl, dir, "--trust ca.pem"), 2);
	assert_int_equal(gwctl_rc(gwctl, dir, "--help"), 0);
	snprintf(path, sizeof(path), "cd %s && rm -f ca.pem signed.xml bad.xml "
	    "rsa.xml out.xml err.txt", dir);
	assert_int_equal(system(path), 0);
	rmdir(dir);
}

/* ---- fixture ---- */

static void
make_party(struct party *p, enum pki_keytype t, const char *cn, int is_ca,
    long nb, long days, struct party *issuer)
{
	struct pki_cert_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.cn = cn;
	spec.is_ca = is_ca;
	spec.not_before_offset = nb;
	spec.days = days;
	assert_int_equal(pki_make_key(t, &p->key), 0);
	assert_int_equal(pki_make_cert(&spec, p->key, issuer ? issuer->cert :
	    NULL, issuer ? issuer->key : NULL, &p->cert), 0);
}

/* A certificate with qcStatements { QcCompliance } (ETSI EN 319 412-5),
 * re-signed by the CA. */
static void
make_qualified(struct party *p)
{
	static const unsigned char qc[] = { 0x30, 0x0a, 0x30, 0x08, 0x06, 0x06,
	    0x04, 0x00, 0x8e, 0x46, 0x01, 0x01 };
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;

	make_party(p, PKI_KEY_EC_P256, "qualified", 0, -DAY, 365, &F.ca);
	assert_int_equal(ASN1_OCTET_STRING_set(os, qc, sizeof(qc)), 1);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_qcStatements, 0, os);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(p->cert, ext, -1), 1);
	assert_true(X509_sign(p->cert, F.ca.key, EVP_sha256()) > 0);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
}

static int
setup(void **state)
{
	(void)state;
	if (xmldsig_global_init() != 0)
		return -1;
	memset(&F, 0, sizeof(F));
	make_party(&F.ca, PKI_KEY_EC_P256, "inspect CA", 1, -DAY, 3650, NULL);
	make_party(&F.inter, PKI_KEY_EC_P256, "inspect intermediate", 1, -DAY,
	    365, &F.ca);
	make_party(&F.leaf, PKI_KEY_EC_P256, "leaf", 0, -DAY, 365, &F.ca);
	make_party(&F.sub, PKI_KEY_EC_P256, "leaf-sub", 0, -DAY, 365, &F.inter);
	make_party(&F.expired, PKI_KEY_EC_P256, "expired", 0, -30 * DAY, 10,
	    &F.ca);
	make_party(&F.rsa2048, PKI_KEY_RSA2048, "rsa2048", 0, -DAY, 365, &F.ca);
	make_qualified(&F.qualified);
	if ((F.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(F.trust, F.ca.cert) != 1)
		return -1;
	return 0;
}

static void
party_free(struct party *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
}

static int
teardown(void **state)
{
	(void)state;
	X509_STORE_free(F.trust);
	party_free(&F.ca);
	party_free(&F.inter);
	party_free(&F.leaf);
	party_free(&F.sub);
	party_free(&F.expired);
	party_free(&F.rsa2048);
	party_free(&F.qualified);
	xmldsig_global_cleanup();
	xmlCleanupParser();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_xml_signature),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_warning),
		cmocka_unit_test(test_qualified),
		cmocka_unit_test(test_chain_report),
		cmocka_unit_test(test_revocation_unavailable),
		cmocka_unit_test(test_cms_entries),
		cmocka_unit_test(test_online_result),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_render_into_parent),
		cmocka_unit_test(test_schema_can_fail),
		cmocka_unit_test(test_limits_and_overall),
		cmocka_unit_test(test_gwctl_verify),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
