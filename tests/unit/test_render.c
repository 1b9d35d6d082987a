/*
 * test_render.c - the XML documents the gateway writes, gateway/render.h.
 *
 * What the recipients of these documents rely on: every output parses as
 * XML; values come back exactly as given (markup characters escaped, not
 * interpreted); the receipt's signature verifies for anyone who trusts the
 * gateway's CA and breaks when the receipt is altered; the container holds
 * the submitted bytes unchanged, whatever they are; the envelope's body
 * decrypts for its reader to exactly that container; the process card
 * claims Reception only once every reader has closed; the mailbox page says
 * how many there are and where to go on.  Element names follow docs/api.md.
 *
 * Outputs are read back with plain libxml2 and checked with xmldsig_verify()
 * and xmlenc_decrypt() (tested on their own in test_xmldsig/test_xmlenc),
 * base64 with OpenSSL's EVP_DecodeBlock().  Keys are made once in the group
 * setup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "inspect.h"
#include "keys.h"
#include "pki.h"
#include "policy.h"
#include "render.h"
#include "store.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlenc.h"

#define NS_XENC		"http://www.w3.org/2001/04/xmlenc#"
#define NS_DSIG		"http://www.w3.org/2000/09/xmldsig#"
#define XC(s)		((const xmlChar *)(s))
#define DAY		86400L
#define MAX_PLAIN	((size_t)1 << 20)

struct party {
	EVP_PKEY *pkey;
	X509 *cert;
	struct keys *keys;
};

static struct {
	struct party ca, other_ca, gateway, reader, other_reader;
	X509_STORE *trust, *other_trust;
	struct store_msg m;
} F;

/* A submission as a portal might send it: not all of it valid UTF-8. */
static const unsigned char submission[] =
    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
    "<Antrag>Gr\xfc\xdf" "e &amp; <![CDATA[]]> \x00 \xc3\x28 \xff\xfe</Antrag>\n";

/* ---- fixtures ---------------------------------------------------------- */

static int
party_make(struct party *p, enum pki_keytype type, const char *cn, int is_ca,
    struct party *issuer)
{
	struct pki_cert_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.cn = cn;
	spec.is_ca = is_ca;
	spec.not_before_offset = -DAY;
	spec.days = 365;
	if (pki_make_key(type, &p->pkey) != 0 ||
	    pki_make_cert(&spec, p->pkey, issuer ? issuer->cert : NULL,
	    issuer ? issuer->pkey : NULL, &p->cert) != 0 ||
	    EVP_PKEY_up_ref(p->pkey) != 1)
		return -1;
	return keys_from_pkey(p->pkey, &p->keys);
}

static void
party_free(struct party *p)
{
	keys_free(p->keys);
	EVP_PKEY_free(p->pkey);
	X509_free(p->cert);
	memset(p, 0, sizeof(*p));
}

static X509_STORE *
store_of(X509 *ca)
{
	X509_STORE *st = X509_STORE_new();

	if (st != NULL && X509_STORE_add_cert(st, ca) != 1) {
		X509_STORE_free(st);
		st = NULL;
	}
	return st;
}

static void
msg_init(struct store_msg *m)
{
	memset(m, 0, sizeof(*m));
	util_strlcpy(m->id, "gw-0123456789abcdef0123456789abcdef", sizeof(m->id));
	util_strlcpy(m->portal, "portal-1", sizeof(m->portal));
	util_strlcpy(m->portal_msg_id, "order <42> & \"more\"",
	    sizeof(m->portal_msg_id));
	util_sha256_hex(submission, sizeof(submission) - 1, m->sha256);
	m->size = (int64_t)(sizeof(submission) - 1);
	util_strlcpy(m->service, "urn:gatewayd:service:example",
	    sizeof(m->service));
	util_strlcpy(m->scenario, "example", sizeof(m->scenario));
	util_strlcpy(m->subject, "Antrag auf F\xc3\xb6rderung", sizeof(m->subject));
	m->received_ms = 1700000000123LL;
	m->forwarded_ms = 1700000000456LL;
	util_strlcpy(m->signer_subject, "CN=portal-1,O=gatewayd development",
	    sizeof(m->signer_subject));
	util_strlcpy(m->signer_issuer, "CN=test CA,O=gatewayd development",
	    sizeof(m->signer_issuer));
	util_strlcpy(m->signer_serial, "5a1f", sizeof(m->signer_serial));
	util_strlcpy(m->sig_alg,
	    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
	    sizeof(m->sig_alg));
	m->sig_ok = 1;
	m->chain_ok = 1;
}

static int
group_setup(void **state)
{
	(void)state;
	if (xmldsig_global_init() != 0)
		return -1;
	if (party_make(&F.ca, PKI_KEY_EC_P256, "test CA", 1, NULL) != 0 ||
	    party_make(&F.other_ca, PKI_KEY_EC_P256, "other CA", 1, NULL) != 0 ||
	    party_make(&F.gateway, PKI_KEY_EC_P256, "localhost", 0, &F.ca) != 0 ||
	    party_make(&F.reader, PKI_KEY_RSA2048, "authority-a", 0, &F.ca) != 0 ||
	    party_make(&F.other_reader, PKI_KEY_RSA2048, "authority-b", 0,
	    &F.ca) != 0)
		return -1;
	if ((F.trust = store_of(F.ca.cert)) == NULL ||
	    (F.other_trust = store_of(F.other_ca.cert)) == NULL)
		return -1;
	msg_init(&F.m);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_STORE_free(F.trust);
	X509_STORE_free(F.other_trust);
	party_free(&F.ca);
	party_free(&F.other_ca);
	party_free(&F.gateway);
	party_free(&F.reader);
	party_free(&F.other_reader);
	xmldsig_global_cleanup();
	xmlCleanupParser();
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

/* Parses an output of render_*(): NULL if it is not well-formed XML. */
static xmlDocPtr
parse_out(const unsigned char *out, size_t len)
{
	assert_non_null(out);
	assert_true(len > 0);
	/* NUL-terminated, the terminator not counted */
	assert_int_equal(out[len], 0);
	return xmlReadMemory((const char *)out, (int)len, "out.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlDocPtr
parse_ok(const unsigned char *out, size_t len)
{
	xmlDocPtr doc = parse_out(out, len);

	if (doc == NULL)
		fail_msg("not well-formed XML: %.300s", (const char *)out);
	return doc;
}

static int
is_elem(xmlNodePtr n, const char *ns, const char *name)
{
	if (n == NULL || n->type != XML_ELEMENT_NODE ||
	    !xmlStrEqual(n->name, XC(name)))
		return 0;
	if (ns == NULL)
		return n->ns == NULL;
	return n->ns != NULL && xmlStrEqual(n->ns->href, XC(ns));
}

/* The first element child ns:name of n, or NULL. */
static xmlNodePtr
kid(xmlNodePtr n, const char *ns, const char *name)
{
	xmlNodePtr c;

	for (c = n != NULL ? n->children : NULL; c != NULL; c = c->next)
		if (is_elem(c, ns, name))
			return c;
	return NULL;
}

static size_t
count_kids(xmlNodePtr n, const char *ns, const char *name)
{
	xmlNodePtr c;
	size_t k = 0;

	for (c = n->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    (name == NULL || is_elem(c, ns, name)))
			k++;
	return k;
}

/* The root, which must be ns:name. */
static xmlNodePtr
root_of(xmlDocPtr doc, const char *ns, const char *name)
{
	xmlNodePtr r = xmlDocGetRootElement(doc);

	if (!is_elem(r, ns, name))
		fail_msg("root is %s, want {%s}%s", r ? (const char *)r->name : "none",
		    ns ? ns : "", name);
	return r;
}

/* Fails unless element n exists and its text is exactly want. */
static void
assert_text(xmlNodePtr n, const char *want)
{
	xmlChar *t;
	int same;

	if (n == NULL)
		fail_msg("element missing; want text \"%s\"", want);
	t = xmlNodeGetContent(n);
	assert_non_null(t);
	same = strcmp((const char *)t, want) == 0;
	if (!same) {
		char got[256];

		snprintf(got, sizeof(got), "%s", (const char *)t);
		xmlFree(t);
		fail_msg("<%s> is \"%s\", want \"%s\"", (const char *)n->name, got,
		    want);
	}
	xmlFree(t);
}

/* Fails unless attribute name of n is exactly want (NULL: absent). */
static void
assert_attr(xmlNodePtr n, const char *name, const char *want)
{
	xmlChar *v;
	int same;

	assert_non_null(n);
	v = xmlGetNoNsProp(n, XC(name));
	if (want == NULL) {
		xmlFree(v);
		if (v != NULL)
			fail_msg("attribute %s present, want none", name);
		return;
	}
	if (v == NULL)
		fail_msg("attribute %s missing, want \"%s\"", name, want);
	same = strcmp((const char *)v, want) == 0;
	xmlFree(v);
	if (!same)
		fail_msg("attribute %s differs from \"%s\"", name, want);
}

static void
assert_time(xmlNodePtr n, int64_t ms)
{
	char t[32];

	util_time_iso(ms, t);
	assert_text(n, t);
}

/* Decodes base64 text with OpenSSL directly; *len bytes. */
static unsigned char *
b64_decode(const xmlChar *text, size_t *len)
{
	size_t i, j, n = strlen((const char *)text);
	char *clean = malloc(n + 1);
	unsigned char *out = malloc(n + 1);
	int k;

	assert_non_null(clean);
	assert_non_null(out);
	for (i = 0, j = 0; i < n; i++)	/* drop white space */
		if (strchr(" \t\r\n", text[i]) == NULL)
			clean[j++] = (char)text[i];
	clean[j] = '\0';
	k = EVP_DecodeBlock(out, (const unsigned char *)clean, (int)j);
	assert_true(k >= 0);
	/* EVP_DecodeBlock counts padding as zero bytes */
	if (j >= 1 && clean[j - 1] == '=')
		k--;
	if (j >= 2 && clean[j - 2] == '=')
		k--;
	free(clean);
	*len = (size_t)k;
	return out;
}

/* ---- render_error ------------------------------------------------------ */

static void
test_error(void **state)
{
	unsigned char *out = NULL;
	size_t len = 0;
	xmlDocPtr doc;
	xmlNodePtr root;

	(void)state;
	assert_int_equal(render_error(GW_ERR_NOT_FOUND, NULL, &out, &len), 0);
	doc = parse_ok(out, len);
	root = root_of(doc, NULL, "Error");
	assert_int_equal(count_kids(root, NULL, NULL), 2);
	assert_text(kid(root, NULL, "Code"), "NOT_FOUND");
	assert_text(kid(root, NULL, "Message"), gw_strerror(GW_ERR_NOT_FOUND));
	xmlFreeDoc(doc);
	free(out);

	/* an empty message is no message; an unknown error is INTERNAL */
	out = NULL;
	assert_int_equal(render_error(-999, "", &out, &len), 0);
	doc = parse_ok(out, len);
	root = root_of(doc, NULL, "Error");
	assert_text(kid(root, NULL, "Code"), "INTERNAL");
	assert_text(kid(root, NULL, "Message"), gw_strerror(GW_ERR_INTERNAL));
	xmlFreeDoc(doc);
	free(out);
}

static void
test_error_escaping(void **state)
{
	static const char msg[] = "reader <b>x</b> & \"y\" ]]> 'z' "
	    "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac";
	unsigned char *out = NULL;
	size_t len = 0;
	xmlDocPtr doc;
	xmlNodePtr root;

	(void)state;
	assert_int_equal(render_error(GW_ERR_UNKNOWN_READER, msg, &out, &len), 0);
	/* the markup in the message is text, not elements */
	assert_null(strstr((const char *)out, "<b>"));
	assert_non_null(strstr((const char *)out, "&lt;b&gt;"));
	assert_non_null(strstr((const char *)out, "&amp;"));
	doc = parse_ok(out, len);
	root = root_of(doc, NULL, "Error");
	assert_int_equal(count_kids(root, NULL, NULL), 2);
	assert_text(kid(root, NULL, "Code"), "UNKNOWN_READER");
	assert_text(kid(root, NULL, "Message"), msg);
	xmlFreeDoc(doc);
	free(out);
}

/*
 * A message cut by snprintf precision in the middle of a multi-byte UTF-8
 * character (gateway/submit.c:201, "... service %.100s ...") must still
 * give a well-formed error body: the design note of render.c promises that
 * no value can break the markup, and a client cannot act on an error it
 * cannot parse.  At 686eecc render_error() put the lone 0xC3 byte into the
 * body as is and this test failed.
 */
static void
test_error_split_utf8(void **state)
{
	char service[160], why[300];
	unsigned char *out = NULL;
	size_t len = 0;
	xmlDocPtr doc;

	(void)state;
	/* 99 ASCII bytes, then "ü" (C3 BC): %.100s keeps only the C3 */
	memset(service, 'a', 99);
	snprintf(service + 99, sizeof(service) - 99, "\xc3\xbc" "ber");
	snprintf(why, sizeof(why), "portal %s may not submit service %.100s "
	    "to reader %s", "portal-1", service, "authority-a");
	assert_int_equal(render_error(GW_ERR_UNKNOWN_READER, why, &out, &len), 0);
	doc = parse_out(out, len);
	free(out);
	if (doc == NULL)
		fail_msg("error body with a cut UTF-8 sequence is not XML");
	assert_text(kid(root_of(doc, NULL, "Error"), NULL, "Code"),
	    "UNKNOWN_READER");
	xmlFreeDoc(doc);
}

/* ---- render_receipt ---------------------------------------------------- */

static void
check_receipt(xmlDocPtr doc, char *const *readers, size_t n,
    const char *log_index)
{
	xmlNodePtr root, rd, c;
	char size[24];
	size_t i;

	root = root_of(doc, NS_RECEIPT, "AcceptanceReceipt");
	assert_text(kid(root, NS_RECEIPT, "MessageID"), F.m.id);
	assert_text(kid(root, NS_RECEIPT, "PortalMessageID"), F.m.portal_msg_id);
	assert_text(kid(root, NS_RECEIPT, "Portal"), F.m.portal);
	assert_text(kid(root, NS_RECEIPT, "SHA256"), F.m.sha256);
	snprintf(size, sizeof(size), "%lld", (long long)F.m.size);
	assert_text(kid(root, NS_RECEIPT, "Size"), size);
	assert_time(kid(root, NS_RECEIPT, "Received"), F.m.received_ms);
	assert_non_null(rd = kid(root, NS_RECEIPT, "Readers"));
	assert_int_equal(count_kids(rd, NULL, NULL), n);
	for (i = 0, c = rd->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		assert_true(is_elem(c, NS_RECEIPT, "Reader"));
		assert_text(c, readers[i++]);
	}
	/* the audit log leaf that records the acceptance */
	assert_text(kid(root, NS_RECEIPT, "LogIndex"), log_index);
	/* the signature is the last element child */
	for (c = root->last; c != NULL && c->type != XML_ELEMENT_NODE; c = c->prev)
		;
	assert_true(is_elem(c, NS_DSIG, "Signature"));
}

static void
verify_receipt(xmlDocPtr doc, X509_STORE *trust, X509 *want_signer,
    int want)
{
	struct dsig_info info;
	int r;

	memset(&info, 0, sizeof(info));
	r = xmldsig_verify(doc, trust, 0, &info);
	if (r == 0) {
		assert_int_equal(info.signature_ok, 1);
		assert_int_equal(info.chain_ok, 1);
		assert_non_null(info.signer);
		assert_int_equal(X509_cmp(info.signer, want_signer), 0);
	}
	X509_free(info.signer);
	ERR_clear_error();
	if (r != want)
		fail_msg("xmldsig_verify = %d (%s), want %d", r, gw_errcode(r),
		    want);
}

static void
test_receipt(void **state)
{
	static char reader_a[] = "authority-a", reader_b[] = "authority-b";
	char *readers[] = { reader_a, reader_b };
	unsigned char *out = NULL;
	size_t len = 0;
	xmlDocPtr doc;
	xmlNodePtr id;

	(void)state;
	assert_int_equal(render_receipt(&F.m, readers, 2, 41, F.gateway.keys,
	    F.gateway.cert, &out, &len), 0);
	doc = parse_ok(out, len);
	check_receipt(doc, readers, 2, "41");
	/* anyone trusting the gateway's CA can check it; nobody else */
	verify_receipt(doc, F.trust, F.gateway.cert, 0);
	verify_receipt(doc, F.other_trust, F.gateway.cert, GW_ERR_CERT_UNTRUSTED);

	/* an altered receipt does not verify */
	id = kid(xmlDocGetRootElement(doc), NS_RECEIPT, "MessageID");
	xmlNodeSetContent(id, XC("gw-ffffffffffffffffffffffffffffffff"));
	verify_receipt(doc, F.trust, F.gateway.cert, GW_ERR_SIG_INVALID);
	xmlFreeDoc(doc);

	/* and neither does its text with a byte changed (SHA256 digit) */
	{
		char *p = strstr((char *)out, F.m.sha256);

		assert_non_null(p);
		p[0] = p[0] == '0' ? '1' : '0';
		doc = parse_ok(out, len);
		verify_receipt(doc, F.trust, F.gateway.cert, GW_ERR_SIG_INVALID);
		xmlFreeDoc(doc);
	}
	free(out);
}

static void
test_receipt_rsa_no_readers(void **state)
{
	unsigned char *out = NULL;
	size_t len = 0;
	xmlDocPtr doc;

	(void)state;
	/* an RSA signer (the reader's certificate allows signing too) */
	assert_int_equal(render_receipt(&F.m, NULL, 0, 0, F.reader.keys,
	    F.reader.cert, &out, &len), 0);
	doc = parse_ok(out, len);
	check_receipt(doc, NULL, 0, "0");
	verify_receipt(doc, F.trust, F.reader.cert, 0);
	xmlFreeDoc(doc);
	free(out);
}

static void
test_receipt_wrong_cert(void **state)
{
	char reader[] = "authority-a";
	char *readers[] = { reader };
	unsigned char *out = NULL;
	size_t len = 77;

	(void)state;
	/* the gateway's key with the reader's certificate: refused */
	assert_int_not_equal(render_receipt(&F.m, readers, 1, 7, F.gateway.keys,
	    F.reader.cert, &out, &len), 0);
	assert_null(out);
	assert_int_equal(len, 77);
	ERR_clear_error();
}

/* ---- render_container -------------------------------------------------- */

/* Renders a container for sub and checks it, the Message bytes above all. */
static void
check_container(const unsigned char *sub, size_t sublen,
    const struct store_msg *m)
{
	unsigned char *out = NULL, *bytes;
	size_t len = 0, n;
	char size[24], sha[65];
	xmlDocPtr doc;
	xmlNodePtr root, msg;
	xmlChar *text;
	int same;

	assert_int_equal(render_container(m, sub, sublen, &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	root = root_of(doc, NS_CONTAINER, "ContentContainer");
	assert_int_equal(count_kids(root, NS_CONTAINER, "Message"), 1);
	msg = kid(root, NS_CONTAINER, "Message");
	assert_attr(msg, "id", "message");
	assert_attr(msg, "filename", "submission.xml");
	assert_attr(msg, "contentType", "application/xml");
	snprintf(size, sizeof(size), "%zu", sublen);
	assert_attr(msg, "size", size);
	assert_attr(msg, "sha256", m->sha256);

	/* the exact bytes, and the digest the container states is theirs */
	assert_non_null(text = xmlNodeGetContent(msg));
	bytes = b64_decode(text, &n);
	xmlFree(text);
	same = n == sublen && memcmp(bytes, sub, n) == 0;
	util_sha256_hex(bytes, n, sha);
	free(bytes);
	if (!same)
		fail_msg("Message decodes to %zu other bytes (sent %zu)", n, sublen);
	assert_string_equal(sha, m->sha256);
	xmlFreeDoc(doc);
}

static void
test_container_bytes(void **state)
{
	struct store_msg m;
	unsigned char all[256];
	size_t i;

	(void)state;
	/* latin-1 text, a NUL, a bad UTF-8 sequence, 0xFF 0xFE */
	check_container(submission, sizeof(submission) - 1, &F.m);

	/* every byte value */
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(255 - i);
	m = F.m;
	util_sha256_hex(all, sizeof(all), m.sha256);
	m.size = sizeof(all);
	check_container(all, sizeof(all), &m);

	/* nothing at all */
	util_sha256_hex("", 0, m.sha256);
	m.size = 0;
	check_container((const unsigned char *)"", 0, &m);
}

static void
test_container_inspection(void **state)
{
	static const struct { int sig_ok, chain_ok; const char *math, *offline; }
	    cases[] = {
		{ 1, 1, "ok", "valid" }, { 0, 0, "corrupted", "invalid" },
		{ -1, -1, "indeterminate", "indeterminate" },
		{ 1, 0, "ok", "invalid" },
	};
	unsigned char *out;
	struct store_msg m;
	size_t i, len;
	xmlDocPtr doc;
	xmlNodePtr rep, sig, cert;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = F.m;
		m.sig_ok = cases[i].sig_ok;
		m.chain_ok = cases[i].chain_ok;
		out = NULL;
		assert_int_equal(render_container(&m, submission, 10, &out, &len),
		    0);
		doc = parse_ok(out, len);
		free(out);
		rep = kid(xmlDocGetRootElement(doc), NS_INSPECTION,
		    "InspectionReport");
		assert_non_null(rep);
		assert_time(kid(rep, NS_INSPECTION, "Time"), m.received_ms);
		assert_non_null(sig = kid(rep, NS_INSPECTION, "Signature"));
		assert_text(kid(sig, NS_INSPECTION, "SignatureAlgorithm"), m.sig_alg);
		assert_text(kid(sig, NS_INSPECTION, "MathResult"), cases[i].math);
		assert_non_null(cert = kid(sig, NS_INSPECTION, "Certificate"));
		assert_attr(cert, "role", "signer");
		assert_text(kid(cert, NS_INSPECTION, "Subject"), m.signer_subject);
		assert_text(kid(cert, NS_INSPECTION, "Issuer"), m.signer_issuer);
		assert_text(kid(cert, NS_INSPECTION, "Serial"), m.signer_serial);
		assert_text(kid(cert, NS_INSPECTION, "OfflineResult"),
		    cases[i].offline);
		assert_text(kid(cert, NS_INSPECTION, "OnlineResult"), "not-checked");
		xmlFreeDoc(doc);
	}
}

/* ---- render_envelope --------------------------------------------------- */

static void
test_envelope(void **state)
{
	unsigned char *cont = NULL, *out = NULL, *plain = NULL;
	size_t clen = 0, len = 0, plen = 0;
	char size[24];
	xmlDocPtr doc;
	xmlNodePtr root, hdr, body, md, n, ed;
	int r, same;

	(void)state;
	assert_int_equal(render_container(&F.m, submission, sizeof(submission) - 1,
	    &cont, &clen), 0);
	assert_int_equal(render_envelope(&F.m, "authority-a", cont, clen,
	    &F.reader.cert, 1, NULL, 0, F.gateway.keys, F.gateway.cert, &out, &len), 0);
	/* the container is not readable in the envelope */
	assert_null(strstr((const char *)out, "ContentContainer"));
	assert_null(strstr((const char *)out, "InspectionReport"));
	doc = parse_ok(out, len);
	free(out);
	root = root_of(doc, NS_SOAP12, "Envelope");
	assert_int_equal(count_kids(root, NULL, NULL), 2);
	assert_non_null(hdr = kid(root, NS_SOAP12, "Header"));
	assert_non_null(body = kid(root, NS_SOAP12, "Body"));

	/* the gateway's signature is the header's last child */
	assert_non_null(n = xmlGetLastChild(hdr));
	assert_string_equal((const char *)n->name, "Signature");
	assert_string_equal((const char *)n->ns->href, NS_DSIG);

	/* header: the metadata the reader sorts by */
	assert_non_null(md = kid(hdr, NS_ENVELOPE, "MessageMetaData"));
	n = kid(md, NS_ENVELOPE, "DeliveryAttributes");
	assert_time(kid(n, NS_ENVELOPE, "Origin"), F.m.received_ms);
	assert_time(kid(n, NS_ENVELOPE, "Delivery"), F.m.forwarded_ms);
	n = kid(kid(kid(md, NS_ENVELOPE, "Originators"), NS_ENVELOPE, "Sender"),
	    NS_ENVELOPE, "Identifier");
	assert_text(n, "portal-1");
	assert_attr(n, "type", "gatewayd");
	n = kid(kid(kid(md, NS_ENVELOPE, "Destinations"), NS_ENVELOPE, "Reader"),
	    NS_ENVELOPE, "Identifier");
	assert_text(n, "authority-a");
	n = kid(md, NS_ENVELOPE, "MsgIdentification");
	assert_text(kid(n, NS_ENVELOPE, "MessageID"), F.m.id);
	assert_text(kid(n, NS_ENVELOPE, "PortalMessageID"), F.m.portal_msg_id);
	n = kid(md, NS_ENVELOPE, "Qualifier");
	assert_text(kid(n, NS_ENVELOPE, "Subject"), F.m.subject);
	assert_text(kid(n, NS_ENVELOPE, "Service"), F.m.service);
	assert_text(kid(n, NS_ENVELOPE, "BusinessScenario"), F.m.scenario);
	snprintf(size, sizeof(size), "%lld", (long long)F.m.size);
	assert_text(kid(md, NS_ENVELOPE, "MsgSize"), size);

	/* body: one EncryptedData, which the reader decrypts to the container */
	assert_int_equal(count_kids(body, NULL, NULL), 1);
	assert_non_null(ed = kid(body, NS_XENC, "EncryptedData"));
	assert_int_equal(xmlenc_decrypt(ed, F.reader.keys, F.reader.cert,
	    MAX_PLAIN, &plain, &plen), 0);
	same = plen == clen && memcmp(plain, cont, clen) == 0;
	OPENSSL_clear_free(plain, plen);
	assert_true(same);
	/* and nobody else does */
	plain = NULL;
	r = xmlenc_decrypt(ed, F.other_reader.keys, NULL, MAX_PLAIN, &plain,
	    &plen);
	free(plain);
	ERR_clear_error();
	assert_int_not_equal(r, 0);
	xmlFreeDoc(doc);
	free(cont);
}

static void
test_envelope_no_subject_and_refusal(void **state)
{
	static const unsigned char cont[] = "<c/>";
	unsigned char *out = NULL;
	struct store_msg m = F.m;
	size_t len = 77;
	xmlDocPtr doc;
	xmlNodePtr q;

	(void)state;
	m.subject[0] = '\0';
	assert_int_equal(render_envelope(&m, "authority-b", cont, 4,
	    &F.other_reader.cert, 1, NULL, 0, F.gateway.keys, F.gateway.cert, &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	q = kid(kid(kid(root_of(doc, NS_SOAP12, "Envelope"), NS_SOAP12, "Header"),
	    NS_ENVELOPE, "MessageMetaData"), NS_ENVELOPE, "Qualifier");
	assert_non_null(q);
	assert_null(kid(q, NS_ENVELOPE, "Subject"));
	assert_text(kid(q, NS_ENVELOPE, "Service"), m.service);
	xmlFreeDoc(doc);

	/* an EC certificate cannot be encrypted to: an error, no output */
	out = NULL;
	len = 77;
	assert_int_not_equal(render_envelope(&m, "authority-b", cont, 4,
	    &F.gateway.cert, 1, NULL, 0, F.gateway.keys, F.gateway.cert, &out, &len), 0);
	assert_null(out);
	assert_int_equal(len, 77);
	ERR_clear_error();
}

/* ---- render_card ------------------------------------------------------- */

static void
delivery(struct store_delivery *d, const char *reader, int64_t fetched,
    int64_t closed)
{
	memset(d, 0, sizeof(*d));
	util_strlcpy(d->reader, reader, sizeof(d->reader));
	util_strlcpy(d->state, closed > 0 ? STORE_ST_DELIVERED : STORE_ST_WAITING,
	    sizeof(d->state));
	d->fetched_ms = fetched;
	d->closed_ms = closed;
}

static xmlDocPtr
card(const struct store_msg *m, const struct store_delivery *d, size_t nd)
{
	unsigned char *out = NULL;
	size_t len = 0;
	xmlDocPtr doc;

	assert_int_equal(render_card(m, d, nd, &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	return doc;
}

static void
test_card_all_closed(void **state)
{
	struct store_delivery d[2];
	xmlDocPtr doc;
	xmlNodePtr root, rs, r;

	(void)state;
	delivery(&d[0], "authority-a", 1700000100000LL, 1700000300000LL);
	delivery(&d[1], "authority-b", 1700000200000LL, 1700000250000LL);
	doc = card(&F.m, d, 2);
	root = root_of(doc, NS_CARD, "ProcessCard");
	assert_text(kid(root, NS_CARD, "MessageID"), F.m.id);
	assert_text(kid(root, NS_CARD, "PortalMessageID"), F.m.portal_msg_id);
	assert_text(kid(root, NS_CARD, "Portal"), F.m.portal);
	assert_text(kid(root, NS_CARD, "Service"), F.m.service);
	assert_text(kid(root, NS_CARD, "BusinessScenario"), F.m.scenario);
	assert_text(kid(root, NS_CARD, "Subject"), F.m.subject);
	assert_text(kid(root, NS_CARD, "SHA256"), F.m.sha256);
	assert_time(kid(root, NS_CARD, "Creation"), F.m.received_ms);
	assert_time(kid(root, NS_CARD, "Forwarding"), F.m.forwarded_ms);
	/* received as a whole when the last reader closed */
	assert_int_equal(count_kids(root, NS_CARD, "Reception"), 1);
	assert_time(kid(root, NS_CARD, "Reception"), 1700000300000LL);

	assert_non_null(rs = kid(root, NS_CARD, "Readers"));
	assert_int_equal(count_kids(rs, NS_CARD, "Reader"), 2);
	r = kid(rs, NS_CARD, "Reader");
	assert_attr(r, "id", "authority-a");
	assert_attr(r, "state", "delivered");
	assert_time(kid(r, NS_CARD, "Fetched"), 1700000100000LL);
	assert_time(kid(r, NS_CARD, "Reception"), 1700000300000LL);
	for (r = r->next; r != NULL && r->type != XML_ELEMENT_NODE; r = r->next)
		;
	assert_attr(r, "id", "authority-b");
	assert_time(kid(r, NS_CARD, "Reception"), 1700000250000LL);
	assert_non_null(kid(root, NS_INSPECTION, "InspectionReport"));
	xmlFreeDoc(doc);
}

static void
test_card_not_all_closed(void **state)
{
	struct store_delivery d[3];
	struct store_msg m = F.m;
	xmlDocPtr doc;
	xmlNodePtr root, rs, r;

	(void)state;
	/* one closed, one fetched but open, one untouched */
	delivery(&d[0], "authority-a", 1700000100000LL, 1700000300000LL);
	delivery(&d[1], "authority-b", 1700000200000LL, 0);
	delivery(&d[2], "authority-c", 0, 0);
	doc = card(&F.m, d, 3);
	root = root_of(doc, NS_CARD, "ProcessCard");
	assert_null(kid(root, NS_CARD, "Reception"));
	rs = kid(root, NS_CARD, "Readers");
	assert_int_equal(count_kids(rs, NS_CARD, "Reader"), 3);
	r = kid(rs, NS_CARD, "Reader");
	assert_attr(r, "id", "authority-a");
	assert_time(kid(r, NS_CARD, "Reception"), 1700000300000LL);
	r = rs->last;
	while (r != NULL && r->type != XML_ELEMENT_NODE)
		r = r->prev;
	assert_attr(r, "id", "authority-c");
	assert_attr(r, "state", "waiting");
	assert_null(kid(r, NS_CARD, "Fetched"));
	assert_null(kid(r, NS_CARD, "Reception"));
	xmlFreeDoc(doc);

	/* the order does not matter: last one closed, first one open */
	delivery(&d[0], "authority-a", 1700000100000LL, 0);
	delivery(&d[1], "authority-b", 1700000200000LL, 1700000300000LL);
	doc = card(&F.m, d, 2);
	assert_null(kid(xmlDocGetRootElement(doc), NS_CARD, "Reception"));
	xmlFreeDoc(doc);

	/* no readers: nobody has received it */
	m.subject[0] = '\0';
	m.forwarded_ms = 0;
	doc = card(&m, NULL, 0);
	root = root_of(doc, NS_CARD, "ProcessCard");
	assert_null(kid(root, NS_CARD, "Reception"));
	assert_null(kid(root, NS_CARD, "Subject"));	/* empty: left out */
	assert_null(kid(root, NS_CARD, "Forwarding"));	/* not yet */
	assert_int_equal(count_kids(kid(root, NS_CARD, "Readers"), NULL, NULL), 0);
	xmlFreeDoc(doc);
}

/* ---- the stored full inspection report (issue 3) ----------------------- */

enum { REP_CLEAN, REP_WARN, REP_INVALID };

/*
 * m with a full report in m->report (free() it) as submit.c stores it:
 * one XML signature, its signer and CA; REP_WARN: accepted without a
 * revocation answer under "prefer" and with an RSA-2048 key; REP_INVALID:
 * a revoked signer.
 */
static void
msg_with_report(struct store_msg *m, int kind)
{
	struct inspect_report *rep = NULL;
	struct crypto_policy pol;
	struct inspect_sig *sig;
	struct inspect_cert *c;

	*m = F.m;
	policy_default(&pol);
	assert_int_equal(inspect_new(1700000000, &pol, &rep), 0);
	assert_int_equal(inspect_add_sig(rep, "xmldsig", "document", &sig), 0);
	util_strlcpy(sig->sig_alg, m->sig_alg, sizeof(sig->sig_alg));
	util_strlcpy(sig->key_desc, "RSA 2048", sizeof(sig->key_desc));
	sig->math = INSPECT_MATH_OK;
	sig->result = kind == REP_INVALID ? INSPECT_INVALID : INSPECT_VALID;
	assert_int_equal(inspect_sig_add_cert(sig, "signer", &c), 0);
	util_strlcpy(c->subject, m->signer_subject, sizeof(c->subject));
	util_strlcpy(c->issuer, m->signer_issuer, sizeof(c->issuer));
	util_strlcpy(c->serial, "5A1F", sizeof(c->serial));
	c->type = INSPECT_CERT_ADVANCED;
	c->offline = INSPECT_VALID;
	c->online.method = INSPECT_ONLINE_OCSP;
	util_strlcpy(c->online.responder, "http://127.0.0.1:1/ocsp",
	    sizeof(c->online.responder));
	c->online.status = kind == REP_WARN ? INSPECT_ONLINE_UNAVAILABLE :
	    kind == REP_INVALID ? INSPECT_ONLINE_REVOKED : INSPECT_ONLINE_GOOD;
	if (kind == REP_WARN) {
		policy_result_warn(&sig->codes, PR_REVOCATION_UNAVAILABLE);
		policy_result_warn(&sig->codes, PR_KEY_RSA_2048);
	}
	if (kind == REP_INVALID)
		policy_result_reject(&sig->codes, PR_CERT_REVOKED);
	assert_int_equal(inspect_sig_add_cert(sig, "ca", &c), 0);
	util_strlcpy(c->subject, m->signer_issuer, sizeof(c->subject));
	util_strlcpy(c->issuer, m->signer_issuer, sizeof(c->issuer));
	util_strlcpy(c->serial, "01", sizeof(c->serial));
	c->offline = INSPECT_VALID;
	assert_int_equal(inspect_to_xml(rep, &m->report, &m->report_len), 0);
	inspect_free(rep);
}

/* The InspectionReport under root as a document of its own, checked
 * against inspection.xsd. */
static void
assert_report_valid(xmlNodePtr root)
{
	xmlNodePtr rep = kid(root, NS_INSPECTION, "InspectionReport"), copy;
	xmlDocPtr doc;
	char why[256] = "";

	assert_non_null(rep);
	assert_non_null(doc = xmlNewDoc(XC("1.0")));
	assert_non_null(copy = xmlDocCopyNode(rep, doc, 1));
	xmlDocSetRootElement(doc, copy);
	xmlReconciliateNs(doc, copy);
	if (inspect_validate(doc, why, sizeof(why)) != 0)
		fail_msg("the embedded report is not valid: %s", why);
	xmlFreeDoc(doc);
}

static void
test_container_full_report(void **state)
{
	unsigned char *out = NULL;
	struct store_msg m;
	size_t len = 0;
	xmlDocPtr doc;
	xmlNodePtr root, rep, sig, cert;

	(void)state;
	msg_with_report(&m, REP_WARN);
	assert_int_equal(render_container(&m, submission, sizeof(submission) - 1,
	    &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	root = root_of(doc, NS_CONTAINER, "ContentContainer");
	/* the message first, then exactly one report: the full one */
	assert_int_equal(count_kids(root, NS_CONTAINER, "Message"), 1);
	assert_int_equal(count_kids(root, NS_INSPECTION, "InspectionReport"), 1);
	assert_report_valid(root);
	rep = kid(root, NS_INSPECTION, "InspectionReport");
	assert_attr(rep, "version", "1");
	assert_text(kid(rep, NS_INSPECTION, "Result"), "valid");
	assert_non_null(kid(rep, NS_INSPECTION, "Policy"));
	sig = kid(rep, NS_INSPECTION, "Signature");
	assert_attr(sig, "kind", "xmldsig");
	assert_text(kid(sig, NS_INSPECTION, "Key"), "RSA 2048");
	assert_int_equal(count_kids(sig, NS_INSPECTION, "Warning"), 2);
	assert_attr(kid(sig, NS_INSPECTION, "Warning"), "code",
	    "REVOCATION_UNAVAILABLE");
	assert_int_equal(count_kids(sig, NS_INSPECTION, "Certificate"), 2);
	cert = kid(sig, NS_INSPECTION, "Certificate");
	assert_text(kid(cert, NS_INSPECTION, "CertificateType"), "advanced");
	assert_text(kid(cert, NS_INSPECTION, "OnlineResult"), "unavailable");
	assert_attr(kid(cert, NS_INSPECTION, "OnlineResult"), "responder",
	    "http://127.0.0.1:1/ocsp");
	xmlFreeDoc(doc);
	free(m.report);
}

/* The card's Status and Warnings, and the report it carries. */
static void
check_card(const struct store_msg *m, const struct store_delivery *d,
    size_t nd, const char *status, size_t nwarn)
{
	xmlDocPtr doc = card(m, d, nd);
	xmlNodePtr root = root_of(doc, NS_CARD, "ProcessCard"), n;

	assert_int_equal(count_kids(root, NS_CARD, "Status"), 1);
	assert_text(kid(root, NS_CARD, "Status"), status);
	assert_int_equal(count_kids(root, NS_CARD, "Warning"), nwarn);
	if (nwarn > 0) {
		n = kid(root, NS_CARD, "Warning");
		assert_attr(n, "code", "REVOCATION_UNAVAILABLE");
		assert_text(n, policy_reason_text(PR_REVOCATION_UNAVAILABLE));
	}
	if (m->report != NULL)
		assert_report_valid(root);
	else	/* the summary of older rows: no Result, no Policy */
		assert_null(kid(kid(root, NS_INSPECTION, "InspectionReport"),
		    NS_INSPECTION, "Policy"));
	xmlFreeDoc(doc);
}

static void
test_card_status(void **state)
{
	struct store_delivery d[2];
	struct store_msg m;

	(void)state;
	delivery(&d[0], "authority-a", 1700000100000LL, 1700000300000LL);
	delivery(&d[1], "authority-b", 0, 0);

	/* a clean report: green, open or not */
	msg_with_report(&m, REP_CLEAN);
	check_card(&m, d, 2, "green", 0);
	check_card(&m, NULL, 0, "green", 0);
	free(m.report);

	/* "prefer" without a revocation answer, RSA-2048 allowed: yellow,
	 * one card Warning per code, the missing answer first */
	msg_with_report(&m, REP_WARN);
	check_card(&m, d, 2, "yellow", 2);
	/* ... and red as soon as a delivery failed */
	util_strlcpy(d[1].state, STORE_ST_FAILED, sizeof(d[1].state));
	check_card(&m, d, 2, "red", 2);
	util_strlcpy(d[1].state, STORE_ST_WAITING, sizeof(d[1].state));
	free(m.report);

	/* a report whose result is not valid */
	msg_with_report(&m, REP_INVALID);
	check_card(&m, d, 2, "red", 0);
	free(m.report);

	/* rows from before store version 4: the summary, status from the
	 * message's own fields */
	m = F.m;
	check_card(&m, d, 2, "green", 0);
	m.chain_ok = -1;
	check_card(&m, d, 2, "red", 0);
}

static void
test_report_warnings(void **state)
{
	struct render_warning w[RENDER_MAX_WARNINGS];
	struct store_msg m;
	size_t n = 99;

	(void)state;
	msg_with_report(&m, REP_WARN);
	assert_int_equal(render_report_warnings(&m, w, RENDER_MAX_WARNINGS, &n),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(w[0].code, "REVOCATION_UNAVAILABLE");
	assert_string_equal(w[1].code, "KEY_RSA_2048");
	/* at most max */
	assert_int_equal(render_report_warnings(&m, w, 1, &n), 0);
	assert_int_equal(n, 1);
	free(m.report);

	msg_with_report(&m, REP_CLEAN);
	assert_int_equal(render_report_warnings(&m, w, RENDER_MAX_WARNINGS, &n),
	    0);
	assert_int_equal(n, 0);
	free(m.report);

	n = 99;
	m = F.m;	/* no report */
	assert_int_equal(render_report_warnings(&m, w, RENDER_MAX_WARNINGS, &n),
	    0);
	assert_int_equal(n, 0);
}

/* A stored report that is not one is an error, never a card or a
 * container without its report; a DOCTYPE is refused by the safe parser. */
static void
test_report_damaged(void **state)
{
	static unsigned char dtd[] = "<!DOCTYPE x [<!ENTITY a \"b\">]>"
	    "<InspectionReport xmlns=\"urn:gatewayd:inspection:1\"/>";
	static unsigned char other[] = "<ProcessCard xmlns=\"" NS_CARD "\"/>";
	static unsigned char cut[] = "<InspectionReport xmlns=\"urn:gat";
	struct render_warning w[1];
	unsigned char *out = NULL;
	struct store_msg m = F.m;
	size_t len = 77, n = 0;

	(void)state;
	m.report = dtd;
	m.report_len = sizeof(dtd) - 1;
	assert_int_equal(render_card(&m, NULL, 0, &out, &len), GW_ERR_XML_DTD);
	assert_null(out);
	assert_int_equal(len, 77);
	assert_int_equal(render_container(&m, submission, 4, &out, &len),
	    GW_ERR_XML_DTD);
	assert_null(out);
	m.report = other;
	m.report_len = sizeof(other) - 1;
	assert_int_not_equal(render_card(&m, NULL, 0, &out, &len), 0);
	assert_int_not_equal(render_report_warnings(&m, w, 1, &n), 0);
	m.report = cut;
	m.report_len = sizeof(cut) - 1;
	assert_int_not_equal(render_container(&m, submission, 4, &out, &len), 0);
	assert_null(out);
}

/* ---- render_mailbox and render_closed ---------------------------------- */

static void
mbox_entry(struct store_mbox_entry *e, int64_t seq, const char *id,
    int64_t size, const char *service, int64_t received)
{
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	util_strlcpy(e->msg_id, id, sizeof(e->msg_id));
	e->size = size;
	util_strlcpy(e->service, service, sizeof(e->service));
	e->received_ms = received;
}

static void
test_mailbox(void **state)
{
	struct store_mbox_entry e[2];
	unsigned char *out = NULL;
	size_t len = 0;
	xmlDocPtr doc;
	xmlNodePtr root, msg;
	char t[32];

	(void)state;
	mbox_entry(&e[0], 16, "gw-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 15234,
	    "urn:gatewayd:service:example", 1700000000123LL);
	mbox_entry(&e[1], 17, "gw-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 1,
	    "urn:x?a=1&b=<2>", 1700000000999LL);
	assert_int_equal(render_mailbox(e, 2, 5, 17, &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	root = root_of(doc, NS_MAILBOX, "MailboxList");
	assert_attr(root, "count", "5");
	assert_attr(root, "next", "17");
	assert_int_equal(count_kids(root, NULL, NULL), 2);
	msg = kid(root, NS_MAILBOX, "Message");
	assert_attr(msg, "id", "gw-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_attr(msg, "seq", "16");
	assert_attr(msg, "size", "15234");
	assert_attr(msg, "service", "urn:gatewayd:service:example");
	util_time_iso(1700000000123LL, t);
	assert_attr(msg, "received", t);
	for (msg = msg->next; msg != NULL && msg->type != XML_ELEMENT_NODE;
	    msg = msg->next)
		;
	assert_attr(msg, "id", "gw-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_attr(msg, "seq", "17");
	assert_attr(msg, "service", "urn:x?a=1&b=<2>");
	xmlFreeDoc(doc);

	/* the last page: no next; an empty mailbox */
	out = NULL;
	assert_int_equal(render_mailbox(e, 1, 1, -1, &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	root = root_of(doc, NS_MAILBOX, "MailboxList");
	assert_attr(root, "count", "1");
	assert_attr(root, "next", NULL);
	assert_int_equal(count_kids(root, NULL, NULL), 1);
	xmlFreeDoc(doc);

	out = NULL;
	assert_int_equal(render_mailbox(NULL, 0, 0, -1, &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	root = root_of(doc, NS_MAILBOX, "MailboxList");
	assert_attr(root, "count", "0");
	assert_attr(root, "next", NULL);
	assert_int_equal(count_kids(root, NULL, NULL), 0);
	xmlFreeDoc(doc);

	/* next = 0 is a position, not "none" */
	out = NULL;
	assert_int_equal(render_mailbox(NULL, 0, 3, 0, &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	assert_attr(xmlDocGetRootElement(doc), "next", "0");
	xmlFreeDoc(doc);
}

static void
test_closed(void **state)
{
	unsigned char *out = NULL;
	size_t len = 0;
	xmlDocPtr doc;
	xmlNodePtr root;

	(void)state;
	assert_int_equal(render_closed("gw-3f5c0000000000000000000000000000",
	    1764392580001LL, &out, &len), 0);
	doc = parse_ok(out, len);
	free(out);
	root = root_of(doc, NS_MAILBOX, "Closed");
	assert_attr(root, "id", "gw-3f5c0000000000000000000000000000");
	assert_attr(root, "reception", "2025-11-29T05:03:00.001Z");
	assert_null(root->children);
	xmlFreeDoc(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_error_escaping),
		cmocka_unit_test(test_error_split_utf8),
		cmocka_unit_test(test_receipt),
		cmocka_unit_test(test_receipt_rsa_no_readers),
		cmocka_unit_test(test_receipt_wrong_cert),
		cmocka_unit_test(test_container_bytes),
		cmocka_unit_test(test_container_inspection),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_envelope_no_subject_and_refusal),
		cmocka_unit_test(test_card_all_closed),
		cmocka_unit_test(test_card_not_all_closed),
		cmocka_unit_test(test_container_full_report),
		cmocka_unit_test(test_card_status),
		cmocka_unit_test(test_report_warnings),
		cmocka_unit_test(test_report_damaged),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_closed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
