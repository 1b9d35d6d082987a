/*
 * test_xmlparse.c - the safe parser refuses what it must and keeps the rest.
 */
#include <pthread.h>
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

#include "err.h"
#include "xmlparse.h"

static int
parse(const char *s, const struct xml_limits *lim, xmlDocPtr *out)
{
	return xmlparse_safe(s, strlen(s), lim, out);
}

/* Parses s, expecting error err (no document handed out). */
static void
expect_err(const char *s, const struct xml_limits *lim, int err)
{
	xmlDocPtr doc = NULL;

	assert_int_equal(parse(s, lim, &doc), err);
	assert_null(doc);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A string of n copies of unit followed by tail, after head. */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(hl + ul * n + tl + 1), *p;

	assert_non_null(s);
	memcpy(s, head, hl);
	p = s + hl;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

static char *
nested(int depth)
{
	char *open = repeat("", "<e>", (size_t)depth, "");
	size_t ol = strlen(open);
	char *s = realloc(open, ol + 4 * (size_t)depth + 1);
	int i;

	assert_non_null(s);
	for (i = 0; i < depth; i++)
		memcpy(s + ol + 4 * (size_t)i, "</e>", 4);
	s[ol + 4 * (size_t)depth] = '\0';
	return s;
}

static void
test_wellformed(void **state)
{
	const char *s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<r:root xmlns:r=\"urn:test\" a=\"1\">\n"
	    "  <r:item id=\"x\">Hello &amp; &#x47;oodbye<![CDATA[<raw>]]></r:item>\n"
	    "  <!-- note -->\n"
	    "</r:root>\n";
	xmlDocPtr doc = NULL;
	xmlNodePtr root, item;
	xmlChar *content;

	(void)state;
	assert_int_equal(parse(s, NULL, &doc), 0);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "root");
	assert_string_equal((const char *)root->ns->href, "urn:test");
	item = xmlFirstElementChild(root);
	assert_non_null(item);
	content = xmlNodeGetContent(item);
	assert_string_equal((const char *)content, "Hello & Goodbye<raw>");
	xmlFree(content);
	xmlFreeDoc(doc);
}

static void
test_doctype_refused(void **state)
{
	(void)state;
	expect_err("<!DOCTYPE a><a/>", NULL, GW_ERR_XML_DTD);
	expect_err("<?xml version=\"1.0\"?>\n<!DOCTYPE a [ ]>\n<a/>", NULL,
	    GW_ERR_XML_DTD);
	expect_err("<!DOCTYPE a SYSTEM \"http://127.0.0.1:9/x.dtd\"><a/>", NULL,
	    GW_ERR_XML_DTD);
	expect_err("<!DOCTYPE a PUBLIC \"-//x//y\" \"file:///etc/passwd\"><a/>",
	    NULL, GW_ERR_XML_DTD);
	/* A DOCTYPE after the root is no DOCTYPE, just trailing garbage. */
	expect_err("<a/><!DOCTYPE a>", NULL, GW_ERR_XML_MALFORMED);
}

static void
test_billion_laughs(void **state)
{
	const char *s =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE lolz [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n"
	    "<lolz>&lol9;</lolz>\n";
	double t0 = now_s();
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		expect_err(s, NULL, GW_ERR_XML_DTD);
	/* 100 refusals well under a second, even under ASan. */
	assert_true(now_s() - t0 < 1.0);
}

static void
test_quadratic_blowup(void **state)
{
	char *ent = repeat("", "x", 100000, "");
	char *refs = repeat("", "&a;", 10000, "");
	char *s = malloc(strlen(ent) + strlen(refs) + 100);
	double t0;

	(void)state;
	assert_non_null(s);
	snprintf(s, strlen(ent) + strlen(refs) + 100,
	    "<!DOCTYPE r [<!ENTITY a \"%s\">]><r>%s</r>", ent, refs);
	t0 = now_s();
	expect_err(s, NULL, GW_ERR_XML_DTD);
	assert_true(now_s() - t0 < 0.5);
	free(s);
	free(refs);
	free(ent);
}

static void
test_external_entity(void **state)
{
	(void)state;
	expect_err("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	    "<r>&x;</r>", NULL, GW_ERR_XML_DTD);
	expect_err("<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/e.dtd\">"
	    "%p;]><r/>", NULL, GW_ERR_XML_DTD);
	/* Without a DTD an entity reference is simply undeclared. */
	expect_err("<r>&x;</r>", NULL, GW_ERR_XML_MALFORMED);
}

static void
test_xinclude_not_processed(void **state)
{
	const char *s = "<r xmlns:xi=\"http://www.w3.org/2001/XInclude\">"
	    "<xi:include href=\"file:///etc/passwd\" parse=\"text\"/></r>";
	xmlDocPtr doc = NULL;
	xmlNodePtr inc;
	xmlChar *content;

	(void)state;
	assert_int_equal(parse(s, NULL, &doc), 0);
	inc = xmlFirstElementChild(xmlDocGetRootElement(doc));
	assert_non_null(inc);
	assert_string_equal((const char *)inc->name, "include");
	content = xmlNodeGetContent(xmlDocGetRootElement(doc));
	assert_string_equal((const char *)content, "");
	xmlFree(content);
	xmlFreeDoc(doc);
}

static void
test_pi_kept_inert(void **state)
{
	const char *s = "<?xml-stylesheet type=\"text/xsl\" "
	    "href=\"http://127.0.0.1:9/x.xsl\"?><r><?app data?></r>";
	xmlDocPtr doc = NULL;

	(void)state;
	assert_int_equal(parse(s, NULL, &doc), 0);
	assert_int_equal(doc->children->type, XML_PI_NODE);
	xmlFreeDoc(doc);
}

static void
test_depth_limit(void **state)
{
	struct xml_limits lim = xmlparse_default_limits;
	xmlDocPtr doc = NULL;
	char *s;

	(void)state;
	lim.max_depth = 10;
	s = nested(10);
	assert_int_equal(parse(s, &lim, &doc), 0);
	xmlFreeDoc(doc);
	free(s);
	s = nested(11);
	expect_err(s, &lim, GW_ERR_TOO_LARGE);
	free(s);

	/* Default 64. */
	s = nested(64);
	doc = NULL;
	assert_int_equal(parse(s, NULL, &doc), 0);
	xmlFreeDoc(doc);
	free(s);
	s = nested(65);
	expect_err(s, NULL, GW_ERR_TOO_LARGE);
	free(s);

	/* Past libxml2's own limit we still report a limit, not malformed. */
	lim.max_depth = 100000;
	s = nested(5000);
	expect_err(s, &lim, GW_ERR_TOO_LARGE);
	free(s);
}

static void
test_attr_limit(void **state)
{
	struct xml_limits lim = xmlparse_default_limits;
	xmlDocPtr doc = NULL;

	(void)state;
	lim.max_attrs = 3;
	assert_int_equal(parse("<r a=\"1\" b=\"2\" c=\"3\"/>", &lim, &doc), 0);
	xmlFreeDoc(doc);
	expect_err("<r a=\"1\" b=\"2\" c=\"3\" d=\"4\"/>", &lim, GW_ERR_TOO_LARGE);
	expect_err("<r><x a=\"1\" b=\"2\" c=\"3\" d=\"4\"/></r>", &lim,
	    GW_ERR_TOO_LARGE);
	/* Namespace declarations count. */
	expect_err("<r xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" a=\"1\" b=\"2\"/>", &lim,
	    GW_ERR_TOO_LARGE);
}

static void
test_node_limit(void **state)
{
	struct xml_limits lim = xmlparse_default_limits;
	xmlDocPtr doc = NULL;
	char *s;

	(void)state;
	lim.max_nodes = 10;
	s = repeat("<r>", "<a/>", 9, "</r>");		/* 10 elements */
	assert_int_equal(parse(s, &lim, &doc), 0);
	xmlFreeDoc(doc);
	free(s);
	s = repeat("<r>", "<a/>", 10, "</r>");
	expect_err(s, &lim, GW_ERR_TOO_LARGE);
	free(s);
	s = repeat("<r>", "<a/>t", 5, "</r>");		/* 6 elements + 5 texts */
	expect_err(s, &lim, GW_ERR_TOO_LARGE);
	free(s);
	s = repeat("<r>", "<a x=\"1\"/>", 5, "</r>");	/* 6 + 5 attributes */
	expect_err(s, &lim, GW_ERR_TOO_LARGE);
	free(s);
	/* A million empty elements under the default limit is refused. */
	s = repeat("<r>", "<a/>", 1000000, "</r>");
	expect_err(s, NULL, GW_ERR_TOO_LARGE);
	free(s);
}

static void
test_text_limit(void **state)
{
	struct xml_limits lim = xmlparse_default_limits;
	xmlDocPtr doc = NULL;

	(void)state;
	lim.max_text = 16;
	assert_int_equal(parse("<r a=\"0123456789abcdef\">0123456789abcdef</r>",
	    &lim, &doc), 0);
	xmlFreeDoc(doc);
	expect_err("<r>0123456789abcdefg</r>", &lim, GW_ERR_TOO_LARGE);
	/* One text node, however the parser splits it. */
	expect_err("<r>01234567&amp;9abcdef&#x41;</r>", &lim, GW_ERR_TOO_LARGE);
	expect_err("<r a=\"0123456789abcdefg\"/>", &lim, GW_ERR_TOO_LARGE);
	expect_err("<r><![CDATA[0123456789abcdefg]]></r>", &lim, GW_ERR_TOO_LARGE);
	expect_err("<r><!--0123456789abcdefg--></r>", &lim, GW_ERR_TOO_LARGE);
	expect_err("<r><?pi 0123456789abcdefg?></r>", &lim, GW_ERR_TOO_LARGE);
}

/* Base64 payloads beyond libxml2's 10 MB text node limit still parse. */
static void
test_large_text(void **state)
{
	size_t n = 12u << 20;
	char *s = malloc(n + 16);
	xmlDocPtr doc = NULL;
	xmlNodePtr text;

	(void)state;
	assert_non_null(s);
	memcpy(s, "<r>", 3);
	memset(s + 3, 'A', n);
	memcpy(s + 3 + n, "</r>", 5);
	assert_int_equal(xmlparse_safe(s, n + 7, NULL, &doc), 0);
	text = xmlDocGetRootElement(doc)->children;
	assert_non_null(text);
	assert_int_equal(text->type, XML_TEXT_NODE);
	assert_null(text->next);
	assert_int_equal(strlen((const char *)text->content), n);
	xmlFreeDoc(doc);
	free(s);
}

static void
test_byte_limit(void **state)
{
	struct xml_limits lim = xmlparse_default_limits;
	xmlDocPtr doc = NULL;
	char *s = repeat("<r>", "x", 93, "</r>");	/* 100 bytes */

	(void)state;
	lim.max_bytes = 100;
	assert_int_equal(parse(s, &lim, &doc), 0);
	xmlFreeDoc(doc);
	free(s);
	s = repeat("<r>", "x", 94, "</r>");
	expect_err(s, &lim, GW_ERR_TOO_LARGE);
	free(s);
}

static void
test_malformed(void **state)
{
	xmlDocPtr doc = NULL;

	(void)state;
	expect_err("<a><b></a>", NULL, GW_ERR_XML_MALFORMED);
	expect_err("not xml at all", NULL, GW_ERR_XML_MALFORMED);
	expect_err("<a/><b/>", NULL, GW_ERR_XML_MALFORMED);
	expect_err("<a>", NULL, GW_ERR_XML_MALFORMED);
	expect_err("<a x=\"1\" x=\"2\"/>", NULL, GW_ERR_XML_MALFORMED);
	expect_err("<p:a/>", NULL, GW_ERR_XML_MALFORMED);
	expect_err("<?xml version=\"1.0\" encoding=\"x-bogus\"?><a/>", NULL,
	    GW_ERR_XML_MALFORMED);
	expect_err("<a>\xff\xfe</a>", NULL, GW_ERR_XML_MALFORMED);
	assert_int_equal(xmlparse_safe("", 0, NULL, &doc), GW_ERR_XML_MALFORMED);
	/* libxml2 alone would stop at the NUL and accept "<a/>". */
	assert_int_equal(xmlparse_safe("<a/>\0<b/>", 9, NULL, &doc),
	    GW_ERR_XML_MALFORMED);
	assert_int_equal(xmlparse_safe("<a>x\0y</a>", 10, NULL, &doc),
	    GW_ERR_XML_MALFORMED);
	assert_null(doc);
}

/* UTF-16 with a BOM is fine (NUL bytes, but no NUL characters). */
static void
test_utf16(void **state)
{
	static const char good[] = "\xff\xfe<\0a\0>\0\xe4\0<\0/\0a\0>\0";
	static const char bad[] = "\xff\xfe<\0a\0/\0>\0\0\0<\0b\0/\0>\0";
	xmlDocPtr doc = NULL;
	xmlChar *content;

	(void)state;
	assert_int_equal(xmlparse_safe(good, sizeof(good) - 1, NULL, &doc), 0);
	content = xmlNodeGetContent(xmlDocGetRootElement(doc));
	assert_string_equal((const char *)content, "\xc3\xa4");
	xmlFree(content);
	xmlFreeDoc(doc);
	doc = NULL;
	assert_int_equal(xmlparse_safe(bad, sizeof(bad) - 1, NULL, &doc),
	    GW_ERR_XML_MALFORMED);
	assert_null(doc);
}

/* Errors are returned, never printed. */
static void
test_silent(void **state)
{
	char path[] = "/tmp/test_xmlparse.XXXXXX";
	int fd, saved;
	off_t size;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	expect_err("<a><b></a>", NULL, GW_ERR_XML_MALFORMED);
	expect_err("<r>&x;</r>", NULL, GW_ERR_XML_MALFORMED);
	expect_err("<!DOCTYPE a><a/>", NULL, GW_ERR_XML_DTD);
	expect_err("<a xmlns:p=\"rel\"><p:b/></a x>", NULL, GW_ERR_XML_MALFORMED);
	fflush(stderr);
	size = lseek(fd, 0, SEEK_END);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	assert_int_equal(size, 0);
}

struct thread_arg {
	int failures;
};

static void *
parse_loop(void *p)
{
	static const struct { const char *doc; int want; } cases[] = {
		{ "<a><b c=\"d\">text</b></a>", 0 },
		{ "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", GW_ERR_XML_DTD },
		{ "<a><b></a>", GW_ERR_XML_MALFORMED },
		{ "<a><b><c><d><e/></d></c></b></a>", GW_ERR_TOO_LARGE },
	};
	struct thread_arg *arg = p;
	struct xml_limits lim = xmlparse_default_limits;
	xmlDocPtr doc;
	int i, r;

	lim.max_depth = 4;
	for (i = 0; i < 2000; i++) {
		doc = NULL;
		r = xmlparse_safe(cases[i % 4].doc, strlen(cases[i % 4].doc),
		    &lim, &doc);
		if (r != cases[i % 4].want || (r == 0) != (doc != NULL))
			arg->failures++;
		xmlFreeDoc(doc);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[4];
	struct thread_arg args[4];
	int i;

	(void)state;
	memset(args, 0, sizeof(args));
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, parse_loop, &args[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
}

static int
setup(void **state)
{
	(void)state;
	xmlInitParser();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	xmlCleanupParser();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wellformed),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_quadratic_blowup),
		cmocka_unit_test(test_external_entity),
		cmocka_unit_test(test_xinclude_not_processed),
		cmocka_unit_test(test_pi_kept_inert),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_attr_limit),
		cmocka_unit_test(test_node_limit),
		cmocka_unit_test(test_text_limit),
		cmocka_unit_test(test_large_text),
		cmocka_unit_test(test_byte_limit),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_utf16),
		cmocka_unit_test(test_silent),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
