/*
 * render.h - the XML documents the gateway writes: error bodies, acceptance
 * receipts, content containers, SOAP envelopes for readers, process cards
 * and mailbox lists.  Namespaces and element names are documented in
 * docs/api.md.  Every function returns a malloc'd UTF-8 serialisation.
 */
#ifndef GW_RENDER_H
#define GW_RENDER_H

#include <stddef.h>
#include <libxml/tree.h>
#include <openssl/x509.h>

#include "keys.h"
#include "store.h"

#define NS_RECEIPT	"urn:gatewayd:receipt:1"
#define NS_CONTAINER	"urn:gatewayd:container:1"
#define NS_ENVELOPE	"urn:gatewayd:envelope:1"
#define NS_INSPECTION	"urn:gatewayd:inspection:1"
#define NS_CARD		"urn:gatewayd:processcard:1"
#define NS_MAILBOX	"urn:gatewayd:mailbox:1"
#define NS_SOAP12	"http://www.w3.org/2003/05/soap-envelope"

/* A new document with root element root in namespace ns (default
 * namespace; ns may be NULL); *nsp (if not NULL) gets the namespace. */
xmlDocPtr render_doc_new(const char *ns, const char *root, xmlNodePtr *rootp,
    xmlNsPtr *nsp);
/* The document as UTF-8 with an XML declaration, in malloc'd memory. */
int render_doc_dump(xmlDocPtr doc, unsigned char **out, size_t *len);

/* <Error><Code>CODE</Code><Message>msg or gw_strerror(err)</Message></Error> */
int render_error(int err, const char *msg, unsigned char **out, size_t *len);

/* The acceptance receipt, signed with key/cert (enveloped XML-DSig);
 * log_index is the audit log leaf of the acceptance. */
int render_receipt(const struct store_msg *m, char *const *readers,
    size_t nreaders, int64_t log_index, struct keys *key, X509 *cert,
    unsigned char **out, size_t *len);

/* The content container: the submission bytes unchanged (base64) and the
 * inspection report: the full one of m->report (parsed back with
 * xmlparse_safe; GW_ERR_XML_MALFORMED etc. if it does not parse), or, for
 * messages stored without one, a summary from m's fields. */
int render_container(const struct store_msg *m, const unsigned char *sub,
    size_t sublen, unsigned char **out, size_t *len);

/* The SOAP 1.2 envelope for one reader: metadata header (with the list of
 * attachments, docs/attachments.md) and the container encrypted for each
 * of the reader's certificates (one EncryptedKey each) in the body, signed
 * by the gateway (key, cert): an enveloped signature over the whole
 * envelope, as the last child of soap:Header (SOAP 1.2 allows nothing
 * after the Body). */
int render_envelope(const struct store_msg *m, const char *reader,
    const unsigned char *container, size_t clen, X509 *const *enc_certs,
    size_t ncerts, const struct store_att *atts, size_t natts,
    struct keys *key, X509 *cert, unsigned char **out, size_t *len);

/*
 * The process card of a message for its portal, with the inspection
 * report as in render_container() and an overall <Status>: red if the
 * report's result is not valid or a reader's delivery failed, expired or
 * was cancelled; yellow if the report has warnings (one card <Warning> per
 * code); green otherwise.
 */
int render_card(const struct store_msg *m, const struct store_delivery *d,
    size_t nd, unsigned char **out, size_t *len);

/* A warning of an inspection report (policy.h's stable code and text). */
struct render_warning {
	char code[64];
	char text[256];
};
#define RENDER_MAX_WARNINGS	16

/*
 * The warnings of m's stored inspection report, one per code, at most max
 * (the rest are left out); *n is 0 for a message without a report.
 * Errors as for render_container().
 */
int render_report_warnings(const struct store_msg *m, struct render_warning *w,
    size_t max, size_t *n);

/* A page of a reader's mailbox; next < 0 means no further page. */
int render_mailbox(const struct store_mbox_entry *e, size_t n, int64_t total,
    int64_t next, unsigned char **out, size_t *len);

/* A small confirmation <Closed id=".." reception=".."/>. */
int render_closed(const char *id, int64_t reception_ms, unsigned char **out,
    size_t *len);

#endif
