/*
 * authority_receipt.c - the reception receipt the authority answers with:
 *
 *   <ReceptionReceipt xmlns="urn:gatewayd:receipt:1">
 *     <MessageID>gw-...</MessageID>
 *     <Reader>authority-a</Reader>
 *     <SHA256>hex SHA-256 of the HTTP request body as received</SHA256>
 *     <Received>2026-11-29T05:01:02.345Z</Received>
 *     <Duplicate>false</Duplicate>
 *     <ds:Signature>...</ds:Signature>   enveloped, URI="", by --sign-key
 *   </ReceptionReceipt>
 *
 * Signed with crypto/xmldsig.c (the private key stays in crypto/keys.c)
 * and serialised once: the bytes stored in OUT/<id>/receipt.xml are the
 * bytes answered, now and on every repetition.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "authority.h"
#include "err.h"
#include "util.h"
#include "xmldsig.h"

#define NS_RCPT	"urn:gatewayd:receipt:1"

static int
text_child(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *v)
{
	return xmlNewTextChild(parent, ns, (const xmlChar *)name,
	    (const xmlChar *)v) != NULL ? 0 : GW_ERR_NOMEM;
}

int
auth_receipt(const char *id, const char *reader, const char sha256[65],
    int64_t received_ms, int duplicate, struct keys *key, X509 *cert,
    unsigned char **out, size_t *len)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	xmlNsPtr ns;
	xmlChar *buf = NULL;
	unsigned char *copy;
	char when[32];
	int n = 0, r = GW_ERR_NOMEM;

	if ((doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL)
		return GW_ERR_NOMEM;
	if ((root = xmlNewDocNode(doc, NULL, (const xmlChar *)"ReceptionReceipt",
	    NULL)) == NULL)
		goto out;
	xmlDocSetRootElement(doc, root);
	if ((ns = xmlNewNs(root, (const xmlChar *)NS_RCPT, NULL)) == NULL)
		goto out;
	xmlSetNs(root, ns);
	util_time_iso(received_ms, when);
	if (text_child(root, ns, "MessageID", id) != 0 ||
	    text_child(root, ns, "Reader", reader) != 0 ||
	    text_child(root, ns, "SHA256", sha256) != 0 ||
	    text_child(root, ns, "Received", when) != 0 ||
	    text_child(root, ns, "Duplicate", duplicate ? "true" : "false") != 0)
		goto out;
	if ((r = xmldsig_sign(doc, key, cert, NULL, 0)) != 0)
		goto out;
	r = GW_ERR_NOMEM;
	xmlDocDumpMemoryEnc(doc, &buf, &n, "UTF-8");
	if (buf == NULL || n <= 0 || (copy = malloc((size_t)n + 1)) == NULL)
		goto out;
	/* malloc() memory, so that callers free() uniformly */
	memcpy(copy, buf, (size_t)n);
	copy[n] = '\0';
	*out = copy;
	*len = (size_t)n;
	r = 0;
 out:
	xmlFree(buf);
	xmlFreeDoc(doc);
	return r;
}

/*
 * Flips one base64 character of the SignatureValue: still a well-formed
 * receipt with a signature of the right shape, but one that cannot verify.
 */
int
auth_receipt_corrupt(const unsigned char *in, size_t len, unsigned char **out)
{
	static const char tag[] = "SignatureValue>";
	unsigned char *copy, *p;

	if ((copy = malloc(len + 1)) == NULL)
		return GW_ERR_NOMEM;
	memcpy(copy, in, len);
	copy[len] = '\0';
	if ((p = (unsigned char *)strstr((char *)copy, tag)) == NULL ||
	    (p += sizeof(tag) - 1) >= copy + len || *p == '<') {
		free(copy);
		return GW_ERR_INVALID;
	}
	while (*p == '\n' || *p == '\r' || *p == ' ')
		p++;
	if (*p == '\0' || *p == '<') {
		free(copy);
		return GW_ERR_INVALID;
	}
	*p = *p == 'A' ? 'B' : 'A';
	*out = copy;
	return 0;
}
