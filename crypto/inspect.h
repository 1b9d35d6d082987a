/*
 * inspect.h - the inspection report (OSCI "Pruefprotokoll"): for every
 * signature and every certificate what was checked and with what result,
 * with stable reason codes (policy.h), rendered as XML in the namespace
 * urn:gatewayd:inspection:1 (gateway/schemas/inspection.xsd).
 *
 * A report is filled from verification results (inspect_fill_dsig() for
 * an XML signature, inspect_fill_cms() for the signers of a detached CMS
 * signature) and, by the callers that know more (the certificate path and
 * its revocation answers), through the entries inspect_add_sig() and
 * inspect_sig_add_cert() hand out.  It goes into the content container for
 * the authority, into the process card for the portal, and is what
 * `gwctl verify` prints.
 *
 * A report is owned by one thread at a time; the functions keep no state.
 */
#ifndef GW_INSPECT_H
#define GW_INSPECT_H

#include <stddef.h>
#include <time.h>
#include <libxml/tree.h>
#include <openssl/x509.h>

#include "policy.h"

#define NS_INSPECT		"urn:gatewayd:inspection:1"
#define INSPECT_MAX_SIGS	64	/* signatures in one report */
#define INSPECT_MAX_CERTS	8	/* certificates per signature */
#define INSPECT_MAX_CODES	8	/* reason codes per certificate */

struct dsig_info;
struct cms_result;

enum inspect_math {			/* the signature value */
	INSPECT_MATH_INDETERMINATE = 0,
	INSPECT_MATH_OK,
	INSPECT_MATH_CORRUPTED
};

enum inspect_result {			/* a path, a signature, the report */
	INSPECT_INDETERMINATE = 0,
	INSPECT_VALID,
	INSPECT_INVALID
};

enum inspect_cert_type {
	INSPECT_CERT_UNKNOWN = 0,	/* path not valid: nothing to say */
	INSPECT_CERT_ADVANCED,		/* valid path, no QcCompliance */
	INSPECT_CERT_QUALIFIED		/* valid path and QcCompliance */
};

enum inspect_online_method {
	INSPECT_ONLINE_NONE = 0,
	INSPECT_ONLINE_OCSP,
	INSPECT_ONLINE_CRL
};

enum inspect_online_status {
	INSPECT_ONLINE_NOT_CHECKED = 0,
	INSPECT_ONLINE_GOOD,
	INSPECT_ONLINE_REVOKED,
	INSPECT_ONLINE_UNKNOWN,		/* the responder does not know it */
	INSPECT_ONLINE_UNAVAILABLE	/* no answer (responder down, stale) */
};

struct inspect_online {
	enum inspect_online_method method;
	enum inspect_online_status status;
	char responder[256];		/* OCSP responder URL, CRL URL or file */
	time_t answered;		/* producedAt / thisUpdate; 0: none */
	time_t revoked_at;		/* with INSPECT_ONLINE_REVOKED */
	char revocation_reason[32];	/* "keyCompromise", ... */
};

struct inspect_cert {
	char role[16];			/* "signer", "intermediate", "ca" */
	char subject[256];		/* RFC 2253 */
	char issuer[256];
	char serial[80];		/* hex */
	time_t not_before;		/* 0: unknown */
	time_t not_after;
	enum inspect_cert_type type;
	enum inspect_result offline;	/* the path at the validation time */
	char offline_detail[128];	/* OpenSSL's reason when invalid */
	struct inspect_online online;
	enum policy_reason reasons[INSPECT_MAX_CODES];
	int nreasons;
};

struct inspect_sig {
	char kind[8];			/* "xmldsig", "cms" */
	char covers[256];		/* "document", an attachment's name */
	char sig_alg[128];		/* URI (XML) or OID name (CMS) */
	char digest_alg[128];
	char key_desc[48];		/* "RSA 3072" */
	time_t signing_time;		/* CMS signing-time; 0: none */
	enum inspect_math math;
	enum inspect_result result;
	struct policy_result codes;	/* reasons and warnings */
	struct inspect_cert certs[INSPECT_MAX_CERTS];
	size_t ncerts;
};

struct inspect_report {
	time_t time;			/* when the checks ran */
	time_t at;			/* the validation time */
	char policy[512];		/* policy_describe(); "" if none */
	struct inspect_sig *sigs;
	size_t nsigs;
	size_t cap;
};

/* A new, empty report for validation time at (0: now) under pol (may be
 * NULL).  Free with inspect_free(). */
int inspect_new(time_t at, const struct crypto_policy *pol,
    struct inspect_report **out);
void inspect_free(struct inspect_report *rep);

/*
 * A new zeroed signature entry of kind covering covers; *out points into
 * rep and stays valid until the next inspect_add_sig().  GW_ERR_TOO_LARGE
 * past INSPECT_MAX_SIGS.
 */
int inspect_add_sig(struct inspect_report *rep, const char *kind,
    const char *covers, struct inspect_sig **out);
/* A new zeroed certificate entry of role; GW_ERR_TOO_LARGE past the limit. */
int inspect_sig_add_cert(struct inspect_sig *sig, const char *role,
    struct inspect_cert **out);

/*
 * One entry for an XML signature from what xmldsig_verify[_ex]() reported
 * in info and returned (rc), with the signer as its certificate.  *out (may
 * be NULL) gets the entry, for the path and revocation details.
 */
int inspect_fill_dsig(struct inspect_report *rep, const struct dsig_info *info,
    int rc, struct inspect_sig **out);
/* One entry per signer of a CMS signature over the attachment name. */
int inspect_fill_cms(struct inspect_report *rep, const struct cms_result *res,
    const char *name);

struct chain_report;

/*
 * Replaces the certificates of sig by the path of a chain_verify_ex()
 * report (certs/chain.h): the signer, the intermediates and the anchor,
 * each with its type, offline result and revocation answer.  A report of
 * a path that was never checked (ncerts 0) changes nothing.
 */
int inspect_fill_chain(struct inspect_sig *sig, const struct chain_report *rep);

/* VALID only if there is a signature and every one is valid; INVALID if
 * one is invalid; INDETERMINATE otherwise. */
enum inspect_result inspect_overall(const struct inspect_report *rep);

/*
 * <InspectionReport xmlns="urn:gatewayd:inspection:1"> as the last child
 * of parent (its document's), or as the root of a new document in *doc
 * when parent is NULL (free it with xmlFreeDoc).  *out (may be NULL) gets
 * the element.
 */
int inspect_render(const struct inspect_report *rep, xmlNodePtr parent,
    xmlDocPtr *doc, xmlNodePtr *out);
/* The report as a standalone document (indented, UTF-8); *out is free()d. */
int inspect_to_xml(const struct inspect_report *rep, unsigned char **out,
    size_t *len);
/* Validates doc against inspection.xsd (compiled in); GW_ERR_SCHEMA with
 * the first error in why. */
int inspect_validate(xmlDocPtr doc, char *why, size_t whylen);

/* ---- certificate helpers (also used by xmldsig.c and cms.c) ---- */

/* Subject and issuer (RFC 2253) and the serial (hex) of cert. */
void inspect_cert_names(X509 *cert, char *subject, size_t slen, char *issuer,
    size_t ilen, char *serial, size_t serlen);
/* t as seconds since the epoch; 0 if t is NULL or not a valid time. */
time_t inspect_asn1_time(const ASN1_TIME *t);
/* 1 if cert has a QCStatements extension with QcCompliance
 * (ETSI EN 319 412-5, 0.4.0.1862.1.1), else 0. */
int inspect_cert_qualified(X509 *cert);

const char *inspect_math_name(enum inspect_math m);
const char *inspect_result_name(enum inspect_result r);
const char *inspect_cert_type_name(enum inspect_cert_type t);

#endif
