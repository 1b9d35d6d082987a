/*
 * test_xsw.c - XML signature wrapping: the eight classic patterns (XSW1-8,
 * Somorovsky et al., "On Breaking SAML", 2012) adapted to our profile, the
 * related structural attacks, and comment injection.
 *
 * Two profiles are attacked:
 *   A  the submission profile: one Reference URI="" (the default policy);
 *   B  a profile whose schema names an ID: Reference URI="#sub" to the
 *      document element's Id (policy reference_ids = sub).
 * Every attack starts from a validly signed document and is built on the
 * tree by someone without the key; each test asserts that the gateway's
 * routing would read the attacker's value (so the attack matters) and
 * that the verifier refuses it with the expected reason code.  For XSW7
 * (and an allowed ID that does not cover the root) the test also shows
 * that the cryptography alone (xmlsec on the same tree) accepts the
 * document: only the structural checks stop it.
 *
 * Comment injection: a comment inside MessageID or a reader's Identifier
 * is outside what URI="" signs, so the signature stays valid; the test
 * shows that the value the gateway routes on (xmlNodeGetContent, as in
 * gateway/submit.c) equals the canonical signed value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/openssl/evp.h>

#include "err.h"
#include "keys.h"
#include "pki.h"
#include "policy.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define NS_SUB		"urn:gatewayd:submission:1"
#define NS_DSIG		"http://www.w3.org/2000/09/xmldsig#"
#define DAY		86400L

static struct {
	EVP_PKEY *ca_key, *key;
	X509 *ca, *cert;
	X509_STORE *trust;
	struct crypto_policy pol_a, pol_b;
	char *signed_a, *signed_b;	/* the originals, as text */
} F;

/* A submission as the gateway routes it; B adds Id="sub" to the root. */
static const char doc_fmt[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<sub:Submission xmlns:sub=\"" NS_SUB "\"%s>\n"
    "  <sub:MessageMetaData>\n"
    "    <sub:Originators><sub:Sender><sub:Identifier>portal-1"
    "</sub:Identifier></sub:Sender></sub:Originators>\n"
    "    <sub:Destinations><sub:Reader><sub:Identifier>authority-a.evil"
    "</sub:Identifier></sub:Reader></sub:Destinations>\n"
    "    <sub:MsgIdentification><sub:MessageID>msg-1.evil</sub:MessageID>"
    "</sub:MsgIdentification>\n"
    "    <sub:Qualifier><sub:Service>urn:de:service:antrag</sub:Service>"
    "<sub:BusinessScenario>antrag</sub:BusinessScenario></sub:Qualifier>\n"
    "  </sub:MessageMetaData>\n"
    "  <sub:Content><x:Antrag xmlns:x=\"urn:x\">Bitte genehmigen</x:Antrag>"
    "</sub:Content>\n"
    "</sub:Submission>\n";

/* ---- tree helpers ---- */

static xmlDocPtr
parse(const char *s)
{
	xmlDocPtr doc = NULL;

	assert_int_equal(xmlparse_safe(s, strlen(s), NULL, &doc), 0);
	return doc;
}

static char *
dump(xmlDocPtr doc)
{
	xmlChar *buf = NULL;
	int len = 0;
	char *s;

	xmlDocDumpMemory(doc, &buf, &len);
	assert_non_null(buf);
	s = strndup((const char *)buf, (size_t)len);
	xmlFree(buf);
	return s;
}

/* A copy of s with the first `from` replaced by `to`. */
static char *
splice(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t a, fl = strlen(from), tl = strlen(to);
	char *out;

	assert_non_null(p);
	a = (size_t)(p - s);
	out = malloc(strlen(s) - fl + tl + 1);
	assert_non_null(out);
	memcpy(out, s, a);
	memcpy(out + a, to, tl);
	memcpy(out + a + tl, p + fl, strlen(p + fl) + 1);
	return out;
}

static xmlNodePtr
child(xmlNodePtr parent, const char *ns, const char *name)
{
	xmlNodePtr c;

	for (c = parent ? parent->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns != NULL &&
		    strcmp((const char *)c->ns->href, ns) == 0 &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* The MessageID the gateway routes on: root/MessageMetaData/
 * MsgIdentification/MessageID, its text as gateway/submit.c reads it. */
static char *
routed_message_id(xmlDocPtr doc)
{
	xmlNodePtr n = child(child(child(xmlDocGetRootElement(doc), NS_SUB,
	    "MessageMetaData"), NS_SUB, "MsgIdentification"), NS_SUB, "MessageID");
	xmlChar *t;
	char *s;

	assert_non_null(n);
	t = xmlNodeGetContent(n);
	s = strdup((const char *)t);
	xmlFree(t);
	return s;
}

static void
expect_routed(const char *text, const char *want)
{
	xmlDocPtr doc = parse(text);
	char *id = routed_message_id(doc);

	assert_string_equal(id, want);
	free(id);
	xmlFreeDoc(doc);
}

/* Verifies text under pol; asserts a rejection that names reason. */
static void
expect_rejected(const char *text, const struct crypto_policy *pol,
    enum policy_reason reason)
{
	struct dsig_info info;
	xmlDocPtr doc = parse(text);
	int r, i;

	r = xmldsig_verify_ex(doc, F.trust, 0, pol, &info);
	if (r == 0)
		X509_free(info.signer);
	assert_int_not_equal(r, 0);
	assert_null(info.signer);
	if (!policy_result_has(&info.result, reason)) {
		for (i = 0; i < info.result.nreasons; i++)
			print_message("  got %s\n",
			    policy_reason_code(info.result.reasons[i]));
		fail_msg("%s not among the reasons", policy_reason_code(reason));
	}
	xmlFreeDoc(doc);
}

static void
expect_valid(const char *text, const struct crypto_policy *pol)
{
	struct dsig_info info;
	xmlDocPtr doc = parse(text);

	assert_int_equal(xmldsig_verify_ex(doc, F.trust, 0, pol, &info), 0);
	X509_free(info.signer);
	xmlFreeDoc(doc);
}

/* A deep copy of the signed document's root (with its signature) in doc. */
static xmlNodePtr
copy_root(xmlDocPtr from, xmlDocPtr doc)
{
	xmlNodePtr n = xmlDocCopyNode(xmlDocGetRootElement(from), doc, 1);

	assert_non_null(n);
	return n;
}

static xmlNodePtr
signature_of(xmlNodePtr root)
{
	xmlNodePtr s = child(root, NS_DSIG, "Signature");

	assert_non_null(s);
	return s;
}

/* Sets the routed MessageID of the subtree at root to the attacker's. */
static void
make_evil(xmlNodePtr root)
{
	xmlNodePtr n = child(child(child(root, NS_SUB, "MessageMetaData"),
	    NS_SUB, "MsgIdentification"), NS_SUB, "MessageID");

	assert_non_null(n);
	xmlNodeSetContent(n, BAD_CAST "msg-666");
}

/*
 * The starting point of most attacks: a new document whose root is an
 * evil copy of the signed one (MessageID changed, signature detached and
 * returned in *sig), and a pristine copy of the original in *orig (also
 * without its signature).
 */
static xmlDocPtr
evil_and_original(const char *signed_text, xmlNodePtr *sig, xmlNodePtr *orig)
{
	xmlDocPtr src = parse(signed_text), doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr evil = copy_root(src, doc), s;

	xmlDocSetRootElement(doc, evil);
	make_evil(evil);
	*sig = signature_of(evil);
	xmlUnlinkNode(*sig);
	*orig = copy_root(src, doc);
	s = signature_of(*orig);
	xmlUnlinkNode(s);
	xmlFreeNode(s);
	xmlFreeDoc(src);
	return doc;
}

static void
strip_id(xmlNodePtr n)
{
	xmlAttrPtr a = xmlHasProp(n, BAD_CAST "Id");

	assert_non_null(a);
	xmlRemoveProp(a);
}

/* What the cryptography alone says: xmlsec, IDs registered, our key. */
static int
xmlsec_alone(const char *text)
{
	xmlDocPtr doc = parse(text);
	xmlNodePtr n, sig = NULL;
	xmlSecDSigCtxPtr ctx;
	xmlSecKeyDataPtr data;
	xmlAttrPtr a;
	int ok;

	for (n = xmlDocGetRootElement(doc); n != NULL;) {
		if (n->type == XML_ELEMENT_NODE &&
		    (a = xmlHasProp(n, BAD_CAST "Id")) != NULL)
			xmlAddID(NULL, doc, a->children->content, a);
		if (n->type == XML_ELEMENT_NODE && n->ns != NULL &&
		    strcmp((const char *)n->ns->href, NS_DSIG) == 0 &&
		    strcmp((const char *)n->name, "Signature") == 0 && sig == NULL)
			sig = n;
		if (n->children != NULL && n->type == XML_ELEMENT_NODE)
			n = n->children;
		else {
			while (n != NULL && n->next == NULL)
				n = n->parent;
			if (n != NULL)
				n = n->next;
		}
	}
	assert_non_null(sig);
	ctx = xmlSecDSigCtxCreate(NULL);
	ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty |
	    xmlSecTransformUriTypeSameDocument;
	assert_int_equal(EVP_PKEY_up_ref(F.key), 1);
	data = xmlSecOpenSSLEvpKeyAdopt(F.key);
	ctx->signKey = xmlSecKeyCreate();
	assert_true(xmlSecKeySetValue(ctx->signKey, data) >= 0);
	ok = xmlSecDSigCtxVerify(ctx, sig) >= 0 &&
	    ctx->status == xmlSecDSigStatusSucceeded;
	xmlSecDSigCtxDestroy(ctx);
	xmlFreeDoc(doc);
	return ok;
}

/* ---- the originals ---- */

static void
test_originals_verify(void **state)
{
	(void)state;
	expect_valid(F.signed_a, &F.pol_a);
	expect_valid(F.signed_b, &F.pol_b);
	/* An ID reference is only for profiles whose schema names it. */
	expect_rejected(F.signed_b, &F.pol_a, PR_REF_URI_ID);
	expect_routed(F.signed_a, "msg-1.evil");
	assert_true(xmlsec_alone(F.signed_b));
}

/* ---- XSW1-8 ---- */

/*
 * XSW1: the signature moves to the evil root and the original becomes a
 * child of the Signature element (after KeyInfo), where an ID reference
 * would find it.
 */
static void
test_xsw1_original_inside_signature(void **state)
{
	const char *originals[2] = { F.signed_a, F.signed_b };
	const struct crypto_policy *pols[2] = { &F.pol_a, &F.pol_b };
	xmlNodePtr sig, orig;
	xmlDocPtr doc;
	char *t;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		doc = evil_and_original(originals[i], &sig, &orig);
		xmlAddChild(xmlDocGetRootElement(doc), sig);
		xmlAddChild(sig, orig);
		t = dump(doc);
		expect_routed(t, "msg-666");
		expect_rejected(t, pols[i], PR_SIG_MALFORMED);
		if (i == 1)
			expect_rejected(t, pols[i], PR_ID_DUPLICATE);
		free(t);
		xmlFreeDoc(doc);
	}
}

/*
 * XSW2: as XSW1, but the original is a sibling before the signature (a
 * "detached" copy inside the evil root).
 */
static void
test_xsw2_original_before_signature(void **state)
{
	xmlNodePtr sig, orig, root;
	xmlDocPtr doc;
	char *t;

	(void)state;
	doc = evil_and_original(F.signed_a, &sig, &orig);
	root = xmlDocGetRootElement(doc);
	xmlAddChild(root, orig);
	xmlAddChild(root, sig);
	t = dump(doc);
	expect_routed(t, "msg-666");
	/* URI="" covers the evil root: the digest no longer matches. */
	expect_rejected(t, &F.pol_a, PR_DIGEST_MISMATCH);
	free(t);
	xmlFreeDoc(doc);

	doc = evil_and_original(F.signed_b, &sig, &orig);
	root = xmlDocGetRootElement(doc);
	xmlAddChild(root, orig);
	xmlAddChild(root, sig);
	t = dump(doc);
	expect_rejected(t, &F.pol_b, PR_ID_DUPLICATE);
	free(t);
	xmlFreeDoc(doc);
}

/*
 * XSW3: the evil root comes first and the complete original (with its
 * signature) follows as its child: the verified signature is not where
 * the routed data is.
 */
static void
test_xsw3_signed_original_follows(void **state)
{
	const char *originals[2] = { F.signed_a, F.signed_b };
	const struct crypto_policy *pols[2] = { &F.pol_a, &F.pol_b };
	xmlDocPtr src, doc;
	xmlNodePtr sig, orig, root;
	char *t;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		doc = evil_and_original(originals[i], &sig, &orig);
		xmlFreeNode(orig);
		xmlFreeNode(sig);
		root = xmlDocGetRootElement(doc);
		src = parse(originals[i]);
		xmlAddChild(root, copy_root(src, doc));
		xmlFreeDoc(src);
		t = dump(doc);
		expect_routed(t, "msg-666");
		expect_rejected(t, pols[i], PR_SIG_PLACEMENT);
		if (i == 1)
			expect_rejected(t, pols[i], PR_ID_DUPLICATE);
		free(t);
		xmlFreeDoc(doc);
	}
}

/*
 * XSW4: the evil root wraps the signed original deep inside (here in
 * Content, which the schema does not check).
 */
static void
test_xsw4_original_wrapped_deep(void **state)
{
	xmlDocPtr src, doc;
	xmlNodePtr sig, orig, content;
	char *t;

	(void)state;
	doc = evil_and_original(F.signed_b, &sig, &orig);
	xmlFreeNode(orig);
	xmlFreeNode(sig);
	strip_id(xmlDocGetRootElement(doc));	/* no duplicate to find */
	content = child(xmlDocGetRootElement(doc), NS_SUB, "Content");
	src = parse(F.signed_b);
	xmlAddChild(content, copy_root(src, doc));
	xmlFreeDoc(src);
	t = dump(doc);
	expect_routed(t, "msg-666");
	expect_rejected(t, &F.pol_b, PR_SIG_PLACEMENT);
	/* Even in place, "#sub" would name the inner element only. */
	expect_rejected(t, &F.pol_b, PR_CONTENT_NOT_COVERED);
	free(t);
	xmlFreeDoc(doc);
}

/*
 * XSW5: the original's signature is moved to the evil root; the original
 * is appended elsewhere (as the last element before the signature).
 */
static void
test_xsw5_signature_moved(void **state)
{
	xmlNodePtr sig, orig, content;
	xmlDocPtr doc;
	char *t;

	(void)state;
	doc = evil_and_original(F.signed_a, &sig, &orig);
	xmlFreeNode(orig);
	xmlAddChild(xmlDocGetRootElement(doc), sig);
	t = dump(doc);
	expect_routed(t, "msg-666");
	expect_rejected(t, &F.pol_a, PR_DIGEST_MISMATCH);
	free(t);
	xmlFreeDoc(doc);

	doc = evil_and_original(F.signed_b, &sig, &orig);
	content = child(xmlDocGetRootElement(doc), NS_SUB, "Content");
	xmlAddChild(content, orig);
	xmlAddChild(xmlDocGetRootElement(doc), sig);
	t = dump(doc);
	expect_rejected(t, &F.pol_b, PR_ID_DUPLICATE);
	free(t);
	xmlFreeDoc(doc);
}

/*
 * XSW6: the evil root carries the signature, and the original is hidden in
 * a ds:Object of that signature.
 */
static void
test_xsw6_original_in_object(void **state)
{
	const char *originals[2] = { F.signed_a, F.signed_b };
	const struct crypto_policy *pols[2] = { &F.pol_a, &F.pol_b };
	xmlNodePtr sig, orig, obj;
	xmlDocPtr doc;
	char *t;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		doc = evil_and_original(originals[i], &sig, &orig);
		xmlAddChild(xmlDocGetRootElement(doc), sig);
		obj = xmlNewChild(sig, sig->ns, BAD_CAST "Object", NULL);
		xmlAddChild(obj, orig);
		t = dump(doc);
		expect_routed(t, "msg-666");
		expect_rejected(t, pols[i], PR_SIG_OBJECT);
		if (i == 1)
			expect_rejected(t, pols[i], PR_ID_DUPLICATE);
		free(t);
		xmlFreeDoc(doc);
	}
}

/*
 * XSW7: the original (with its ID, without signature) is put where the
 * schema is lax (Content, xs:any skip); the evil root drops its ID so the
 * ID stays unique, and takes the signature.  "#sub" now resolves to the
 * untouched original: the cryptography verifies.  What the gateway would
 * route on is not what the reference covers.
 */
static void
test_xsw7_original_in_lax_content(void **state)
{
	xmlNodePtr sig, orig, root;
	xmlDocPtr doc;
	char *t;

	(void)state;
	doc = evil_and_original(F.signed_b, &sig, &orig);
	root = xmlDocGetRootElement(doc);
	strip_id(root);
	xmlAddChild(child(root, NS_SUB, "Content"), orig);
	xmlAddChild(root, sig);
	t = dump(doc);
	expect_routed(t, "msg-666");
	assert_true(xmlsec_alone(t));
	expect_rejected(t, &F.pol_b, PR_CONTENT_NOT_COVERED);
	free(t);
	xmlFreeDoc(doc);
}

/*
 * XSW8: as XSW7, but the original hides in a ds:Object inside the
 * signature of the evil root, its ID unique.  (xmlsec's enveloped-signature
 * transform drops the whole Signature, the Object with it, so here the
 * digest fails too; processors that only drop a Signature *below* the
 * referenced element accept it.  The structure is refused first.)
 */
static void
test_xsw8_original_in_object_unique_id(void **state)
{
	xmlNodePtr sig, orig, root, obj;
	xmlDocPtr doc;
	char *t;

	(void)state;
	doc = evil_and_original(F.signed_b, &sig, &orig);
	root = xmlDocGetRootElement(doc);
	strip_id(root);
	xmlAddChild(root, sig);
	obj = xmlNewChild(sig, sig->ns, BAD_CAST "Object", NULL);
	xmlAddChild(obj, orig);
	t = dump(doc);
	expect_routed(t, "msg-666");
	expect_rejected(t, &F.pol_b, PR_SIG_OBJECT);
	expect_rejected(t, &F.pol_b, PR_CONTENT_NOT_COVERED);
	free(t);
	xmlFreeDoc(doc);
}

/* ---- the related structural rules ---- */

/* The same ID twice, under any of the ID attribute names. */
static void
test_duplicate_ids(void **state)
{
	char *t;

	(void)state;
	/* URI="" does not use IDs; duplicates are refused all the same. */
	t = splice(F.signed_a, "<x:Antrag xmlns:x=\"urn:x\">",
	    "<x:Antrag xmlns:x=\"urn:x\" id=\"a\"><x:B id=\"a\"/>");
	expect_rejected(t, &F.pol_a, PR_ID_DUPLICATE);
	free(t);
	/* Id on the root and xml:id in the content, same value. */
	t = splice(F.signed_b, "<sub:Content>", "<sub:Content xml:id=\"sub\">");
	expect_rejected(t, &F.pol_b, PR_ID_DUPLICATE);
	free(t);
	/* Id and ID are different names, but the same ID to a processor. */
	t = splice(F.signed_b, "<sub:Content>", "<sub:Content ID=\"sub\">");
	expect_rejected(t, &F.pol_b, PR_ID_DUPLICATE);
	free(t);
}

/* A second signature anywhere, and a signature out of place. */
static void
test_second_and_misplaced_signature(void **state)
{
	xmlDocPtr src, doc;
	xmlNodePtr root, sig, md;
	char *t;

	(void)state;
	/* A copy of the signature deep in the content. */
	doc = parse(F.signed_a);
	root = xmlDocGetRootElement(doc);
	sig = xmlDocCopyNode(signature_of(root), doc, 1);
	xmlAddChild(child(root, NS_SUB, "Content"), sig);
	t = dump(doc);
	expect_rejected(t, &F.pol_a, PR_SIG_MULTIPLE);
	free(t);
	xmlFreeDoc(doc);
	/* The only signature moved into the metadata. */
	src = parse(F.signed_a);
	root = xmlDocGetRootElement(src);
	sig = signature_of(root);
	xmlUnlinkNode(sig);
	md = child(root, NS_SUB, "MessageMetaData");
	xmlAddChild(md, sig);
	t = dump(src);
	expect_rejected(t, &F.pol_a, PR_SIG_PLACEMENT);
	free(t);
	xmlFreeDoc(src);
}

/* A reference to an element the profile allows, but not the root. */
static void
test_reference_not_covering(void **state)
{
	struct crypto_policy pol = F.pol_b;
	struct dsig_sign_opts o = { NULL, NULL, "c1", 0 };
	struct keys *k = NULL;
	xmlDocPtr doc;
	char text[2048], why[100], *s, *t;

	(void)state;
	snprintf(text, sizeof(text), doc_fmt, "");
	s = splice(text, "<sub:Content>", "<sub:Content Id=\"c1\">");
	doc = parse(s);
	free(s);
	assert_int_equal(EVP_PKEY_up_ref(F.key), 1);
	assert_int_equal(keys_from_pkey(F.key, &k), 0);
	assert_int_equal(xmldsig_sign_ex(doc, k, F.cert, NULL, &o), 0);
	keys_free(k);
	t = dump(doc);
	xmlFreeDoc(doc);
	assert_true(xmlsec_alone(t));
	assert_int_equal(policy_set(&pol, "reference_ids", "c1", why,
	    sizeof(why)), 0);
	/* The metadata is outside what "#c1" signs. */
	expect_rejected(t, &pol, PR_CONTENT_NOT_COVERED);
	/* A profile that does not name c1 refuses the reference itself. */
	expect_rejected(t, &F.pol_b, PR_REF_URI_ID);
	free(t);
}

/* ---- comment injection ---- */

static int
visible_in(void *data, xmlNodePtr node, xmlNodePtr parent)
{
	xmlNodePtr n = node->type == XML_NAMESPACE_DECL ? parent : node;

	for (; n != NULL; n = n->parent)
		if (n == data)
			return 1;
	return 0;
}

/* The text of el as the signature covers it: exclusive c14n without
 * comments of el, the content between its start and end tag. */
static char *
canonical_text(xmlNodePtr el)
{
	xmlOutputBufferPtr buf = xmlAllocOutputBuffer(NULL);
	const char *c, *start, *end;
	char *s;

	assert_non_null(buf);
	assert_true(xmlC14NExecute(el->doc, visible_in, el,
	    XML_C14N_EXCLUSIVE_1_0, NULL, 0, buf) >= 0);
	c = (const char *)xmlOutputBufferGetContent(buf);
	start = strchr(c, '>');
	end = strrchr(c, '<');
	assert_non_null(start);
	assert_true(end > start);
	s = strndup(start + 1, (size_t)(end - start - 1));
	xmlOutputBufferClose(buf);
	return s;
}

static char *
first_text_child(xmlNodePtr el)
{
	assert_non_null(el->children);
	assert_int_equal(el->children->type, XML_TEXT_NODE);
	return strdup((const char *)el->children->content);
}

static void
inject(const char *from, const char *to, const char *routed_want,
    const char *naive_want, int reader)
{
	struct dsig_info info;
	xmlNodePtr el;
	xmlDocPtr doc;
	xmlChar *routed;
	char *t = splice(F.signed_a, from, to), *canon, *naive;

	doc = parse(t);
	/* The signature still verifies: comments are not signed. */
	assert_int_equal(xmldsig_verify_ex(doc, F.trust, 0, &F.pol_a, &info), 0);
	X509_free(info.signer);
	el = child(child(xmlDocGetRootElement(doc), NS_SUB, "MessageMetaData"),
	    NS_SUB, reader ? "Destinations" : "MsgIdentification");
	el = reader ? child(child(el, NS_SUB, "Reader"), NS_SUB, "Identifier") :
	    child(el, NS_SUB, "MessageID");
	assert_non_null(el);
	routed = xmlNodeGetContent(el);		/* what submit.c routes on */
	canon = canonical_text(el);		/* what the signature covers */
	naive = first_text_child(el);		/* what a naive reader sees */
	assert_string_equal((const char *)routed, routed_want);
	assert_string_equal((const char *)routed, canon);
	assert_string_equal(naive, naive_want);
	assert_string_not_equal(naive, canon);
	xmlFree(routed);
	free(canon);
	free(naive);
	xmlFreeDoc(doc);
	free(t);
}

static void
test_comment_injection_message_id(void **state)
{
	(void)state;
	inject("msg-1.evil</sub:MessageID>", "msg-1<!---->.evil</sub:MessageID>",
	    "msg-1.evil", "msg-1", 0);
	/* Two comments are no different. */
	inject("msg-1.evil</sub:MessageID>",
	    "msg<!-- a -->-1<!-- b -->.evil</sub:MessageID>", "msg-1.evil", "msg",
	    0);
}

static void
test_comment_injection_reader(void **state)
{
	(void)state;
	inject("authority-a.evil</sub:Identifier>",
	    "authority-a<!--.evil-->.evil</sub:Identifier>", "authority-a.evil",
	    "authority-a", 1);
}

/* A processing instruction, unlike a comment, is signed content. */
static void
test_processing_instruction_is_signed(void **state)
{
	char *t = splice(F.signed_a, "msg-1.evil</sub:MessageID>",
	    "msg-1<?x?>.evil</sub:MessageID>");

	(void)state;
	expect_rejected(t, &F.pol_a, PR_DIGEST_MISMATCH);
	free(t);
}

/* ---- fixture ---- */

static char *
sign_doc(const char *attrs, const char *ref_id)
{
	struct dsig_sign_opts o = { NULL, NULL, ref_id, 0 };
	struct keys *k = NULL;
	char text[2048], *s;
	xmlDocPtr doc;

	snprintf(text, sizeof(text), doc_fmt, attrs);
	doc = parse(text);
	assert_int_equal(EVP_PKEY_up_ref(F.key), 1);
	assert_int_equal(keys_from_pkey(F.key, &k), 0);
	assert_int_equal(xmldsig_sign_ex(doc, k, F.cert, NULL, &o), 0);
	keys_free(k);
	s = dump(doc);
	xmlFreeDoc(doc);
	return s;
}

static int
setup(void **state)
{
	struct pki_cert_spec spec;
	char why[100];

	(void)state;
	if (xmldsig_global_init() != 0)
		return -1;
	memset(&F, 0, sizeof(F));
	memset(&spec, 0, sizeof(spec));
	spec.not_before_offset = -DAY;
	spec.days = 365;
	spec.cn = "xsw CA";
	spec.is_ca = 1;
	if (pki_make_key(PKI_KEY_EC_P256, &F.ca_key) != 0 ||
	    pki_make_cert(&spec, F.ca_key, NULL, NULL, &F.ca) != 0)
		return -1;
	spec.cn = "portal-1";
	spec.is_ca = 0;
	if (pki_make_key(PKI_KEY_EC_P256, &F.key) != 0 ||
	    pki_make_cert(&spec, F.key, F.ca, F.ca_key, &F.cert) != 0)
		return -1;
	if ((F.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(F.trust, F.ca) != 1)
		return -1;
	policy_default(&F.pol_a);
	policy_default(&F.pol_b);
	if (policy_set(&F.pol_b, "reference_ids", "sub", why, sizeof(why)) != 0)
		return -1;
	F.signed_a = sign_doc("", NULL);
	F.signed_b = sign_doc(" Id=\"sub\"", "sub");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(F.signed_a);
	free(F.signed_b);
	X509_STORE_free(F.trust);
	X509_free(F.ca);
	X509_free(F.cert);
	EVP_PKEY_free(F.ca_key);
	EVP_PKEY_free(F.key);
	xmldsig_global_cleanup();
	xmlCleanupParser();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_originals_verify),
		cmocka_unit_test(test_xsw1_original_inside_signature),
		cmocka_unit_test(test_xsw2_original_before_signature),
		cmocka_unit_test(test_xsw3_signed_original_follows),
		cmocka_unit_test(test_xsw4_original_wrapped_deep),
		cmocka_unit_test(test_xsw5_signature_moved),
		cmocka_unit_test(test_xsw6_original_in_object),
		cmocka_unit_test(test_xsw7_original_in_lax_content),
		cmocka_unit_test(test_xsw8_original_in_object_unique_id),
		cmocka_unit_test(test_duplicate_ids),
		cmocka_unit_test(test_second_and_misplaced_signature),
		cmocka_unit_test(test_reference_not_covering),
		cmocka_unit_test(test_comment_injection_message_id),
		cmocka_unit_test(test_comment_injection_reader),
		cmocka_unit_test(test_processing_instruction_is_signed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
