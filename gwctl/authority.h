/*
 * authority.h - the seams between the parts of `gwctl authority serve`,
 * the receiving side of push delivery (docs/authority-serve.md):
 *
 *   cmd_authority.c     options, TLS, the libevent loop, one request from
 *                       arrival to answer, fault injection, the log line
 *   authority_verify.c  the envelope's shape and the gateway's signature
 *   authority_store.c   OUT/<MessageID>/: de-duplication and atomic,
 *                       durable writes
 *   authority_receipt.c the signed reception receipt
 *   authority_attach.c  attachments pushed as further multipart parts:
 *                       spool, decrypt, check, store (constant memory)
 *
 * Everything runs on the one thread of the event loop; requests are
 * handled to the end one at a time, so no two requests ever touch the same
 * MessageID concurrently within one process.
 */
#ifndef GWCTL_AUTHORITY_H
#define GWCTL_AUTHORITY_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <libxml/tree.h>
#include <openssl/x509.h>

#include "keys.h"

#define AUTH_CMD	"authority"
#define AUTH_ID_LEN	35	/* "gw-" and 32 lower-case hex digits */

/* ---- authority_verify.c ---- */

/* What the authority knows of the gateway; built once at start-up. */
struct auth_gateway {
	X509 *cert;		/* --gateway-cert */
	unsigned char *der;	/* its DER encoding, for comparisons */
	size_t derlen;
	X509_STORE *trust;	/* --client-ca */
};

/* 1 if s is a gateway message id ("gw-" + 32 lower-case hex digits). */
int auth_valid_id(const char *s);

/*
 * Checks that doc is a SOAP 1.2 envelope as the gateway sends it and that
 * its only signature is the gateway's (the rules are at the top of
 * authority_verify.c).  On success *id gets the MessageID and *encdata
 * the soap:Body's xenc:EncryptedData (a pointer into doc).  On failure a
 * GW_ERR_* code and one sentence in why; *id and *encdata are untouched.
 * xmlsec must have been initialised (xmldsig_global_init()).
 */
int auth_verify_envelope(xmlDocPtr doc, const struct auth_gateway *gw,
    char id[AUTH_ID_LEN + 1], xmlNodePtr *encdata, char *why, size_t whylen);

/* ---- authority_store.c ---- */

/*
 * OUT, opened once.  Layout of a delivered message:
 *   OUT/<id>/submission.xml, inspection-report.xml, envelope.xml,
 *   receipt.xml, attachments/<safe name>
 * built in OUT/.tmp-<id> and renamed into place.
 */
struct auth_store {
	int dirfd;		/* O_DIRECTORY descriptor of OUT */
	char path[PATH_MAX];	/* OUT as given, for messages */
	char spool[PATH_MAX];	/* OUT/.spool: attachment parts arriving
				 * (removed at start: nothing in it was
				 * acknowledged; made at the first push
				 * with attachments) */
};

/* One message being written into OUT/.tmp-<id>. */
struct auth_txn {
	struct auth_store *st;
	char id[AUTH_ID_LEN + 1];
	char tmp[AUTH_ID_LEN + 8];	/* ".tmp-<id>" */
	int dirfd;			/* the temporary directory */
	int attfd;			/* its attachments/, -1 until needed */
	int err;			/* first write error (GW_ERR_*), 0 if none */
	char why[200];
};

/* Creates OUT if missing, opens it and removes temporary directories a
 * crash left behind.  Prints one line and returns GW_ERR_* on failure. */
int auth_store_open(const char *path, struct auth_store *st);
void auth_store_close(struct auth_store *st);
/* Makes sure OUT/.spool exists (before a multipart body is read); it
 * stays until the next start.  GW_ERR_IO keeps errno. */
int auth_store_spool(struct auth_store *st);

/*
 * The receipt stored for id: 0 and *receipt (malloc'd) if OUT/<id> has
 * one; GW_ERR_NOT_FOUND if OUT/<id> does not exist; GW_ERR_STATE if
 * OUT/<id> exists without a receipt; GW_ERR_IO (why says why) otherwise.
 */
int auth_store_find(struct auth_store *st, const char *id,
    unsigned char **receipt, size_t *len, char *why, size_t whylen);

/* Durably adds receipt.xml to an existing OUT/<id> (the GW_ERR_STATE case
 * above).  GW_ERR_IO with why on failure. */
int auth_store_add_receipt(struct auth_store *st, const char *id,
    const unsigned char *receipt, size_t len, char *why, size_t whylen);

/*
 * Creates the new file name (top level, or under attachments/) for
 * writing in pieces: *fd, mode 0600.  GW_ERR_DUPLICATE if the name is
 * taken (not sticky: try another); other failures stick as in
 * auth_txn_write().  Finish with auth_txn_close().
 */
int auth_txn_create(struct auth_txn *t, int attachment, const char *name,
    int *fd);
/* fsyncs and closes fd from auth_txn_create(); a failure sticks. */
int auth_txn_close(struct auth_txn *t, int fd, const char *name);

/* Starts OUT/.tmp-<id> (replacing a stale one).  GW_ERR_IO, t->why. */
int auth_txn_begin(struct auth_store *st, const char *id, struct auth_txn *t);
/* Writes and fsyncs one file: top level, or under attachments/ when
 * attachment is set.  The first failure sticks in t->err / t->why. */
int auth_txn_write(struct auth_txn *t, int attachment, const char *name,
    const void *data, size_t len);
/*
 * fsyncs the directories, renames OUT/.tmp-<id> to OUT/<id> and fsyncs
 * OUT.  GW_ERR_DUPLICATE if OUT/<id> appeared meanwhile (another process);
 * GW_ERR_IO with t->why otherwise.  The temporary directory is gone
 * afterwards in every case.
 */
int auth_txn_commit(struct auth_txn *t);
/* Removes the temporary directory (after a failure). */
void auth_txn_abort(struct auth_txn *t);

/* ---- authority_attach.c ---- */

struct job_att;
struct gwctl_att;

/*
 * One attachment part as the HTTP layer spooled it (encrypted under a
 * key of its own, gateway/http.c): finishes the spool, recovers the
 * pushed EncryptedData document into a temporary file of st->spool,
 * decrypts it with key/cert into attachments/<name> of t (name: the
 * entry's Filename made safe and unique), and checks its Id, CipherSize,
 * CipherSHA256, Size and SHA256 against the envelope's entry.  Memory is
 * constant.  0, or a GW_ERR_* with one sentence in why (GW_ERR_IO and
 * GW_ERR_NOMEM: the receiver's fault, 503; others: the push's, 422).
 */
int auth_attach_store(struct auth_store *st, struct auth_txn *t,
    struct job_att *att, const struct gwctl_att *entry, size_t index,
    struct keys *key, X509 *cert, char *why, size_t whylen);

/* ---- authority_receipt.c ---- */

/*
 * The signed reception receipt (urn:gatewayd:receipt:1 ReceptionReceipt:
 * MessageID, Reader, SHA256, Received, Duplicate, then an enveloped
 * ds:Signature made with key/cert).  *out is malloc'd.
 */
int auth_receipt(const char *id, const char *reader, const char sha256[65],
    int64_t received_ms, int duplicate, struct keys *key, X509 *cert,
    unsigned char **out, size_t *len);

/* A copy of a receipt whose SignatureValue is damaged (--fail badsig);
 * *out is malloc'd. */
int auth_receipt_corrupt(const unsigned char *in, size_t len,
    unsigned char **out);

#endif
