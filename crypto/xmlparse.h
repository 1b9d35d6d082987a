/*
 * xmlparse.h - the one way untrusted XML is parsed.
 *
 * No DTD (a DOCTYPE is refused, before any entity is declared or expanded),
 * no entity substitution, no network, no XInclude, and hard limits on bytes,
 * depth, node count, attributes per element and text size.
 */
#ifndef GW_XMLPARSE_H
#define GW_XMLPARSE_H

#include <stddef.h>
#include <libxml/tree.h>

struct xml_limits {
	size_t max_bytes;	/* input size */
	int max_depth;		/* element nesting */
	size_t max_nodes;	/* elements + text + attributes */
	int max_attrs;		/* attributes on one element */
	size_t max_text;	/* one text node or attribute value */
};

/* 64 MiB, depth 64, 1,000,000 nodes, 64 attributes, 48 MiB text. */
extern const struct xml_limits xmlparse_default_limits;

/*
 * Parses buf into *out (free with xmlFreeDoc).  Errors: GW_ERR_XML_DTD for
 * any DOCTYPE, GW_ERR_TOO_LARGE for any limit, GW_ERR_XML_MALFORMED otherwise.
 * Thread-safe (libxml2 must have been initialised with xmlInitParser()).
 */
int xmlparse_safe(const char *buf, size_t len, const struct xml_limits *lim,
    xmlDocPtr *out);

#endif
