/*
 * xmlparse.c - the one way untrusted XML is parsed.  See xmlparse.h.
 *
 * Design: libxml2's SAX2 tree builder does the work; this file wraps a few of
 * its SAX callbacks on a private copy of the handler table (every parser
 * context owns one, so nothing here is shared between threads):
 *
 *  - internalSubset/externalSubset/entityDecl/reference: any DOCTYPE stops
 *    the parser at once with GW_ERR_XML_DTD.  libxml2 calls internalSubset
 *    right after "<!DOCTYPE name ExternalID", before the '[' of the internal
 *    subset is read, so no entity is ever declared: billion laughs and
 *    external entities cost nothing but the bytes up to that point.
 *  - startElementNs/endElementNs: depth, attribute count (namespace
 *    declarations count as attributes), attribute value size and node count
 *    are checked while parsing, so a hostile document is refused when it
 *    crosses the limit, not after the tree was built.  max_nodes counts
 *    elements, attributes, namespace declarations, text and CDATA nodes,
 *    comments and PIs.
 *  - characters/cdataBlock/comment/processingInstruction: text limits.
 *    Character data is gathered here and handed to libxml2 as one call per
 *    text node.  That enforces max_text exactly, and it is what lets text
 *    nodes grow past libxml2's 10 MB text node limit (XML_MAX_TEXT_LENGTH,
 *    which applies only when libxml2 itself concatenates chunks) without
 *    XML_PARSE_HUGE, which we never set because it also lifts libxml2's other
 *    safety limits.  Large base64 payloads are the gateway's normal case.
 *
 * Also malformed: a NUL character anywhere (see has_nul()) and namespace
 * errors such as an undeclared prefix, which libxml2 alone only notes.
 *
 * Limits that remain libxml2's own (without XML_PARSE_HUGE): depth 256 (ours
 * is clamped below it so that GW_ERR_TOO_LARGE is what callers see), names
 * 50,000 bytes, one attribute value, comment, PI or CDATA section 10 MB:
 * past those libxml2 refuses the document and we report GW_ERR_XML_MALFORMED.
 *
 * Errors never reach stderr: the context's serror handler swallows them, and
 * the thread's own structured handler (libxml2 globals are per thread) is
 * replaced for the duration of the call and restored afterwards.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/encoding.h>
#include <libxml/xmlerror.h>

#include "err.h"
#include "xmlparse.h"

const struct xml_limits xmlparse_default_limits = {
	.max_bytes = 64u << 20,
	.max_depth = 64,
	.max_nodes = 1000000,
	.max_attrs = 64,
	.max_text = 48u << 20,
};

/* libxml2 refuses nesting deeper than xmlParserMaxDepth (256) itself. */
#define LIBXML_MAX_DEPTH 256

struct pstate {
	int max_depth;
	int max_attrs;
	size_t max_nodes;
	size_t max_text;
	int depth;
	size_t nodes;
	unsigned char *text;	/* character data not yet handed to libxml2 */
	size_t textlen;
	size_t textcap;
	int err;		/* first GW_ERR_* raised by a hook */
};

static void
silent_serror(void *data, xmlErrorPtr error)
{
	(void)data;
	(void)error;
}

static void
fail(xmlParserCtxtPtr ctxt, struct pstate *st, int err)
{
	if (st->err == 0)
		st->err = err;
	xmlStopParser(ctxt);
}

/* Counts n more nodes; stops the parser when that goes over the limit. */
static int
add_nodes(xmlParserCtxtPtr ctxt, struct pstate *st, size_t n)
{
	if (n > st->max_nodes - st->nodes) {
		fail(ctxt, st, GW_ERR_TOO_LARGE);
		return -1;
	}
	st->nodes += n;
	return 0;
}

/* Hands the gathered character data to libxml2 as one text node. */
static void
flush_text(xmlParserCtxtPtr ctxt, struct pstate *st)
{
	if (st->textlen == 0)
		return;
	if (add_nodes(ctxt, st, 1) == 0)
		xmlSAX2Characters(ctxt, st->text, (int)st->textlen);
	st->textlen = 0;
}

static void
on_characters(void *ctx, const xmlChar *ch, int len)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct pstate *st = ctxt->_private;
	unsigned char *p;
	size_t need, cap;

	if (len <= 0 || st->err)
		return;
	need = st->textlen + (size_t)len;
	if ((size_t)len > st->max_text - st->textlen) {
		fail(ctxt, st, GW_ERR_TOO_LARGE);
		return;
	}
	if (need > st->textcap) {
		cap = st->textcap ? st->textcap : 4096;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if (cap > st->max_text)
			cap = st->max_text;
		if ((p = realloc(st->text, cap)) == NULL) {
			fail(ctxt, st, GW_ERR_NOMEM);
			return;
		}
		st->text = p;
		st->textcap = cap;
	}
	memcpy(st->text + st->textlen, ch, (size_t)len);
	st->textlen = need;
}

static void
on_cdata(void *ctx, const xmlChar *value, int len)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct pstate *st = ctxt->_private;

	flush_text(ctxt, st);
	if (st->err)
		return;
	if (len > 0 && (size_t)len > st->max_text) {
		fail(ctxt, st, GW_ERR_TOO_LARGE);
		return;
	}
	if (add_nodes(ctxt, st, 1) == 0)
		xmlSAX2CDataBlock(ctxt, value, len);
}

static void
on_comment(void *ctx, const xmlChar *value)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct pstate *st = ctxt->_private;

	flush_text(ctxt, st);
	if (st->err)
		return;
	if (strlen((const char *)value) > st->max_text) {
		fail(ctxt, st, GW_ERR_TOO_LARGE);
		return;
	}
	if (add_nodes(ctxt, st, 1) == 0)
		xmlSAX2Comment(ctxt, value);
}

/* PIs (xml-stylesheet included) are kept as inert nodes; nothing acts on them. */
static void
on_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct pstate *st = ctxt->_private;

	flush_text(ctxt, st);
	if (st->err)
		return;
	if (data != NULL && strlen((const char *)data) > st->max_text) {
		fail(ctxt, st, GW_ERR_TOO_LARGE);
		return;
	}
	if (add_nodes(ctxt, st, 1) == 0)
		xmlSAX2ProcessingInstruction(ctxt, target, data);
}

static void
on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *URI, int nb_namespaces, const xmlChar **namespaces,
    int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct pstate *st = ctxt->_private;
	int i;

	flush_text(ctxt, st);
	if (st->err)
		return;
	if (st->depth >= st->max_depth ||
	    nb_attributes > st->max_attrs - nb_namespaces) {
		fail(ctxt, st, GW_ERR_TOO_LARGE);
		return;
	}
	for (i = 0; i < nb_attributes; i++)
		if ((size_t)(attributes[i * 5 + 4] - attributes[i * 5 + 3]) >
		    st->max_text) {
			fail(ctxt, st, GW_ERR_TOO_LARGE);
			return;
		}
	if (add_nodes(ctxt, st, 1 + (size_t)nb_attributes +
	    (size_t)nb_namespaces) != 0)
		return;
	st->depth++;
	xmlSAX2StartElementNs(ctxt, localname, prefix, URI, nb_namespaces,
	    namespaces, nb_attributes, nb_defaulted, attributes);
}

static void
on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *URI)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct pstate *st = ctxt->_private;

	flush_text(ctxt, st);
	if (st->err)
		return;
	st->depth--;
	xmlSAX2EndElementNs(ctxt, localname, prefix, URI);
}

static void
on_end_document(void *ctx)
{
	xmlParserCtxtPtr ctxt = ctx;

	flush_text(ctxt, ctxt->_private);
	xmlSAX2EndDocument(ctxt);
}

/* Any DOCTYPE: refuse before its internal subset is read. */
static void
on_subset(void *ctx, const xmlChar *name, const xmlChar *ExternalID,
    const xmlChar *SystemID)
{
	xmlParserCtxtPtr ctxt = ctx;

	(void)name;
	(void)ExternalID;
	(void)SystemID;
	fail(ctxt, ctxt->_private, GW_ERR_XML_DTD);
}

/* Unreachable without a DTD; refuse should libxml2 ever get here. */
static void
on_entity_decl(void *ctx, const xmlChar *name, int type,
    const xmlChar *publicId, const xmlChar *systemId, xmlChar *content)
{
	xmlParserCtxtPtr ctxt = ctx;

	(void)name;
	(void)type;
	(void)publicId;
	(void)systemId;
	(void)content;
	fail(ctxt, ctxt->_private, GW_ERR_XML_DTD);
}

static void
on_reference(void *ctx, const xmlChar *name)
{
	xmlParserCtxtPtr ctxt = ctx;

	(void)name;
	fail(ctxt, ctxt->_private, GW_ERR_XML_DTD);
}

static xmlParserInputPtr
on_resolve(void *ctx, const xmlChar *publicId, const xmlChar *systemId)
{
	xmlParserCtxtPtr ctxt = ctx;

	(void)publicId;
	(void)systemId;
	fail(ctxt, ctxt->_private, GW_ERR_XML_DTD);
	return NULL;
}

static void
install_hooks(xmlParserCtxtPtr ctxt)
{
	xmlSAXHandlerPtr sax = ctxt->sax;	/* this context's own copy */

	sax->internalSubset = on_subset;
	sax->externalSubset = on_subset;
	sax->entityDecl = on_entity_decl;
	sax->reference = on_reference;
	sax->resolveEntity = on_resolve;
	sax->startElementNs = on_start;
	sax->endElementNs = on_end;
	sax->characters = on_characters;
	sax->ignorableWhitespace = on_characters;
	sax->cdataBlock = on_cdata;
	sax->comment = on_comment;
	sax->processingInstruction = on_pi;
	sax->endDocument = on_end_document;
	sax->serror = silent_serror;
	sax->error = NULL;
	sax->warning = NULL;
	sax->fatalError = NULL;
}

/*
 * XML never contains U+0000, but libxml2 takes a NUL where it expects the end
 * of the document for the end: "<a/>\0<b/>" would parse as "<a/>" and leave
 * bytes no one checked.  Refuse a NUL code unit in the encoding the first
 * bytes announce (a UTF-16 document is full of NUL bytes, not of NUL units).
 */
static int
has_nul(const unsigned char *buf, size_t len)
{
	size_t unit, i, j;

	switch (xmlDetectCharEncoding(buf, len < 4 ? (int)len : 4)) {
	case XML_CHAR_ENCODING_UTF16LE:
	case XML_CHAR_ENCODING_UTF16BE:
		unit = 2;
		break;
	case XML_CHAR_ENCODING_UCS4LE:
	case XML_CHAR_ENCODING_UCS4BE:
	case XML_CHAR_ENCODING_UCS4_2143:
	case XML_CHAR_ENCODING_UCS4_3412:
		unit = 4;
		break;
	default:
		return memchr(buf, 0, len) != NULL;
	}
	for (i = 0; i + unit <= len; i += unit) {
		for (j = 0; j < unit && buf[i + j] == 0; j++)
			;
		if (j == unit)
			return 1;
	}
	return 0;
}

static void
init_state(struct pstate *st, const struct xml_limits *lim)
{
	memset(st, 0, sizeof(*st));
	st->max_depth = lim->max_depth < LIBXML_MAX_DEPTH ?
	    lim->max_depth : LIBXML_MAX_DEPTH;
	st->max_attrs = lim->max_attrs;
	st->max_nodes = lim->max_nodes;
	st->max_text = lim->max_text < INT_MAX ? lim->max_text : INT_MAX;
}

int
xmlparse_safe(const char *buf, size_t len, const struct xml_limits *lim,
    xmlDocPtr *out)
{
	/* No NOENT, DTDLOAD, DTDATTR, XINCLUDE or HUGE; never NOBLANKS (it
	 * would change what a signature covers). */
	const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING;
	xmlStructuredErrorFunc saved_fn;
	void *saved_ctx;
	xmlParserCtxtPtr ctxt = NULL;
	struct pstate st;
	int r = GW_ERR_XML_MALFORMED;

	if (lim == NULL)
		lim = &xmlparse_default_limits;
	if (len > lim->max_bytes || len > INT_MAX)
		return GW_ERR_TOO_LARGE;
	if (buf == NULL || len == 0 ||
	    has_nul((const unsigned char *)buf, len))
		return GW_ERR_XML_MALFORMED;
	init_state(&st, lim);

	saved_fn = xmlStructuredError;
	saved_ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(NULL, silent_serror);

	if ((ctxt = xmlCreateMemoryParserCtxt(buf, (int)len)) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	xmlCtxtUseOptions(ctxt, opts);
	install_hooks(ctxt);
	ctxt->_private = &st;
	xmlParseDocument(ctxt);
	if (st.err != 0)
		r = st.err;
	else if (!ctxt->wellFormed || !ctxt->nsWellFormed ||
	    ctxt->myDoc == NULL ||
	    xmlDocGetRootElement(ctxt->myDoc) == NULL)
		r = GW_ERR_XML_MALFORMED;
	else {
		*out = ctxt->myDoc;
		ctxt->myDoc = NULL;
		r = 0;
	}
 out:
	if (ctxt != NULL) {
		xmlFreeDoc(ctxt->myDoc);
		ctxt->myDoc = NULL;
		ctxt->_private = NULL;
		xmlFreeParserCtxt(ctxt);
	}
	free(st.text);
	xmlSetStructuredErrorFunc(saved_ctx, saved_fn);
	return r;
}
