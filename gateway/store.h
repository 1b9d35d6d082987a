/*
 * store.h - the durable message store (SQLite, WAL, synchronous=FULL).
 *
 * Owns: messages, their per-reader deliveries (with the encrypted envelope),
 * and the audit events.  Every state change is written in one transaction
 * together with its audit events: no event without its change, no change
 * without its event.  A function that returns 0 after a write has committed
 * it durably (fsync'd); nothing is acknowledged before that.
 *
 * Threads: a struct store is one SQLite connection and must be used by one
 * thread at a time; every worker thread opens its own.  Several connections
 * (and processes) may share one database file; writers wait for each other
 * (busy timeout) rather than fail.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Opens (creating the schema if needed) the database at path. */
int store_open(const char *path, struct store **out);
void store_close(struct store *s);

/* An audit event.  Metadata and digests only: never document content. */
struct store_audit {
	const char *event;	/* e.g. "submission.accepted", required */
	const char *actor;	/* party id or "gateway"; may be NULL */
	const char *msg_id;	/* gateway message id; may be NULL */
	const char *reader;	/* reader authority; may be NULL */
	const char *code;	/* error code (gw_errcode) or "OK"; may be NULL */
	const char *detail;	/* short text, no document content; may be NULL */
};

struct store_msg {
	char id[40];			/* gateway message id "gw-..." */
	char portal[64];		/* submitting portal id */
	char portal_msg_id[256];	/* the portal's MessageID */
	char sha256[65];		/* of the received bytes, hex */
	int64_t size;			/* received bytes */
	char service[256];
	char scenario[256];
	char subject[512];
	int64_t received_ms;		/* Creation */
	int64_t forwarded_ms;		/* envelopes for all readers built */
	char signer_subject[256];
	char signer_issuer[256];
	char signer_serial[80];
	char sig_alg[128];
	int sig_ok;			/* 1 ok, 0 corrupted, -1 indeterminate */
	int chain_ok;			/* 1 valid, 0 invalid, -1 indeterminate */
	/*
	 * The full inspection report of the submission's signature
	 * (urn:gatewayd:inspection:1, crypto/inspect.h), at most
	 * STORE_REPORT_MAX bytes; NULL for messages accepted before schema
	 * version 4 (and for callers that have none).  In store_accept*()
	 * the caller's, only read.  Filled by store_get_msg(): malloc'd,
	 * the caller frees it with store_msg_clear().
	 */
	unsigned char *report;
	size_t report_len;
};

#define STORE_REPORT_MAX	((size_t)1 << 20)

/* Frees what store_get_msg() allocated in m (the report); m stays usable,
 * its report NULL.  Accepts NULL. */
void store_msg_clear(struct store_msg *m);

/* Delivery states of one (message, reader) pair. */
#define STORE_ST_WAITING	"waiting"	/* pull: in the reader's mailbox */
#define STORE_ST_QUEUED		"queued"	/* push: waiting for an attempt */
#define STORE_ST_DELIVERING	"delivering"	/* push: an attempt is under way */
#define STORE_ST_DELIVERED	"delivered"	/* closed, or receipt verified */
#define STORE_ST_FAILED		"failed"	/* push: gave up (attempts, age) */
#define STORE_ST_EXPIRED	"expired"	/* not fetched before ObsoleteAfter */
#define STORE_ST_CANCELLED	"cancelled"	/* cancelled by its portal */

struct store_delivery {
	char reader[64];
	char state[16];
	int64_t size;			/* envelope bytes */
	int64_t created_ms;
	int64_t fetched_ms;		/* first fetch, 0 if never */
	int64_t closed_ms;		/* Reception, 0 if not yet */
	const unsigned char *envelope;	/* in store_accept() only */
	int push;			/* in store_accept(): push, not pull */
	int64_t obsolete_ms;		/* in store_accept(): ObsoleteAfter, 0 = none */
	int attempts;			/* push attempts so far */
	char last_error[256];		/* of the last failed attempt */
};

/*
 * Stores an accepted message: the message row, its signed acceptance
 * receipt, one delivery per reader (with its envelope) and the audit
 * events, in one transaction.  GW_ERR_DUPLICATE if (portal, portal_msg_id)
 * exists already (the caller then looks the original up).
 */
int store_accept(struct store *s, const struct store_msg *m,
    const unsigned char *receipt, size_t receipt_len,
    const struct store_delivery *d, size_t nd,
    const struct store_audit *ev, size_t nev);

/*
 * Like store_accept(), but the receipt is made inside the transaction by fn,
 * which learns the audit log index (leaf) of ev[0] so that the receipt can
 * name it; fn's *out is malloc'd and freed by the store.
 */
typedef int (*store_receipt_fn)(void *arg, int64_t log_index,
    unsigned char **out, size_t *len);
int store_accept_fn(struct store *s, const struct store_msg *m,
    store_receipt_fn fn, void *arg, const struct store_delivery *d, size_t nd,
    const struct store_audit *ev, size_t nev);

/* An attachment of a message (docs/attachments.md). */
struct store_att {
	int n;				/* position in the list, from 0 */
	char att_id[65];
	char filename[256];
	char content_type[128];
	int64_t size;			/* plaintext bytes */
	char sha256[65];		/* of the plaintext (the portal signed it) */
	int64_t cipher_size;		/* spool file: IV || ciphertext || tag */
	char cipher_sha256[65];
	char path[512];			/* the spool file; "" once purged */
};

/* The header and footer of one reader's EncryptedData for attachment n. */
struct store_att_doc {
	const char *reader;
	int n;
	const char *header;
	size_t header_len;
	const char *footer;
	size_t footer_len;
};

/* store_accept_fn() with attachments, all in the same transaction. */
int store_accept_att(struct store *s, const struct store_msg *m,
    store_receipt_fn fn, void *arg, const struct store_delivery *d, size_t nd,
    const struct store_att *a, size_t na, const struct store_att_doc *doc,
    size_t ndoc, const struct store_audit *ev, size_t nev);

/* The attachments of a message in list order; *out malloc'd (NULL if none). */
int store_att_list(struct store *s, const char *msg_id, struct store_att **out,
    size_t *n);

/*
 * Attachment att_id of msg_id as reader gets it: *a, and malloc'd header
 * and footer of its document.  GW_ERR_NOT_FOUND unless reader is a reader
 * of the message and the attachment exists; GW_ERR_GONE once purged.
 */
int store_att_get(struct store *s, const char *msg_id, const char *reader,
    const char *att_id, struct store_att *a, char **hdr, size_t *hdrlen,
    char **ftr, size_t *ftrlen);

/*
 * 1 if the spool file name (gw-<id>-<n>.bin) belongs to a message: an
 * attachment row names it or the message exists; 0 if neither.
 */
int store_att_known(struct store *s, const char *name);

/*
 * Finds a message by its portal's id.  Sets id, sha256 and (if receipt is
 * not NULL) a malloc'd copy of the receipt.  GW_ERR_NOT_FOUND if none.
 */
int store_lookup_portal(struct store *s, const char *portal,
    const char *portal_msg_id, char id[40], char sha256[65],
    unsigned char **receipt, size_t *receipt_len);

/* Reads a message and its deliveries (without envelopes; *d malloc'd).
 * m->report is malloc'd (or NULL): free it with store_msg_clear(). */
int store_get_msg(struct store *s, const char *id, struct store_msg *m,
    struct store_delivery **d, size_t *nd);

struct store_mbox_entry {
	int64_t seq;			/* paging cursor, increasing */
	char msg_id[40];
	int64_t size;
	char service[256];
	int64_t received_ms;
};

/*
 * Lists up to limit waiting messages of reader with seq > after, oldest
 * first.  *out is malloc'd (may be NULL when *n == 0).
 */
int store_mailbox_list(struct store *s, const char *reader, int64_t after,
    int limit, struct store_mbox_entry **out, size_t *n);
/* Total number of waiting messages for reader. */
int store_mailbox_count(struct store *s, const char *reader, int64_t *n);

/*
 * Returns a malloc'd copy of the envelope of (msg_id, reader) and records
 * the first fetch time and ev in one transaction.  GW_ERR_NOT_FOUND unless
 * the message exists and reader is one of its readers (closed ones too).
 */
int store_mailbox_fetch(struct store *s, const char *reader,
    const char *msg_id, int64_t now_ms, const struct store_audit *ev,
    unsigned char **env, size_t *len);

/*
 * Marks (msg_id, reader) delivered with Reception time now_ms, with ev, in
 * one transaction.  Closing an already closed message changes nothing and
 * returns 0 (the original Reception time stays).  GW_ERR_NOT_FOUND as above.
 */
int store_mailbox_close(struct store *s, const char *reader,
    const char *msg_id, int64_t now_ms, const struct store_audit *ev);

/* Appends one audit event in its own transaction (rejections, start/stop). */
int store_audit(struct store *s, const struct store_audit *ev);

struct store_audit_row {
	int64_t seq;
	int64_t time_ms;
	char event[64];
	char actor[64];
	char msg_id[40];
	char reader[64];
	char code[64];
	char detail[512];
};

/* Audit events with seq > after, oldest first, at most limit; *out malloc'd. */
int store_audit_list(struct store *s, int64_t after, int limit,
    struct store_audit_row **out, size_t *n);

/*
 * The audit log as a Merkle tree (store_log.c; RFC 9162, merkle.h).  The
 * leaf of audit row seq has index seq - 1.  Events are appended by the
 * functions above; sealing adds their tree nodes and a signed checkpoint
 * (tree head) in one transaction, so one signature covers a whole batch.
 */
struct store_checkpoint {
	int64_t tree_size;
	unsigned char root[32];
	int64_t time_ms;
	char key_sha256[65];		/* the signing certificate's fingerprint */
	unsigned char sig[1024];
	size_t sig_len;
};

/* Signs msg; *sig is malloc'd. */
typedef int (*store_sign_fn)(void *arg, const unsigned char *msg, size_t len,
    unsigned char **sig, size_t *siglen);

/* The exact bytes a checkpoint signature covers (docs/audit.md). */
int store_checkpoint_text(const struct store_checkpoint *c, char *buf,
    size_t buflen, size_t *len);

/*
 * Seals every event not yet covered by a checkpoint.  *out (if not NULL)
 * gets the latest checkpoint afterwards (tree_size 0: the log is empty).
 */
int store_log_seal(struct store *s, store_sign_fn sign, void *arg,
    const char *key_sha256, struct store_checkpoint *out);
/* The checkpoint of tree_size, or the latest if tree_size <= 0. */
int store_log_checkpoint(struct store *s, int64_t tree_size,
    struct store_checkpoint *out);
/* Every checkpoint, oldest first; *out malloc'd. */
int store_log_checkpoints(struct store *s, struct store_checkpoint **out,
    size_t *n);
/* Inclusion proof of leaf in the tree of size n (from stored nodes). */
int store_log_inclusion(struct store *s, int64_t leaf, int64_t n,
    unsigned char (*path)[32], size_t *np);
/* Consistency proof between the trees of sizes m <= n. */
int store_log_consistency(struct store *s, int64_t m, int64_t n,
    unsigned char (*proof)[32], size_t *np);
/* The stored hash of a perfect subtree; GW_ERR_NOT_FOUND if not sealed. */
int store_log_node(struct store *s, int level, int64_t idx,
    unsigned char out[32]);
/* Log index of the first event named event about msg_id. */
int store_log_index_of(struct store *s, const char *msg_id, const char *event,
    int64_t *index);
/* One audit row by its seq. */
int store_audit_get(struct store *s, int64_t seq, struct store_audit_row *out);


/*
 * Push delivery (store_dlv.c).  Every transition is one transaction with its
 * audit event; nothing is ever deleted by a failure.
 */
struct store_claim {
	char msg_id[40];
	char reader[64];
	int attempts;			/* including the one just claimed */
	int64_t created_ms;
	unsigned char *envelope;	/* malloc'd */
	size_t envelope_len;
};

/*
 * Claims up to max due push deliveries (state queued, next attempt due),
 * oldest first, skipping readers for which skip(arg, reader) is true
 * (circuit open); each becomes delivering with attempts + 1 and an audit
 * event "delivery.attempt".  *out malloc'd; free with store_claims_free().
 */
int store_dlv_claim(struct store *s, int64_t now_ms, int max,
    int (*skip)(void *arg, const char *reader), void *arg,
    struct store_claim **out, size_t *n);
void store_claims_free(struct store_claim *c, size_t n);

/* delivering -> delivered with the authority's receipt and Reception time. */
int store_dlv_delivered(struct store *s, const char *msg_id, const char *reader,
    const unsigned char *receipt, size_t len, int64_t reception_ms,
    const struct store_audit *ev);
/* delivering -> queued, next attempt at next_ms, reason kept. */
int store_dlv_retry(struct store *s, const char *msg_id, const char *reader,
    int64_t next_ms, const char *error, const struct store_audit *ev);
/* delivering/queued/waiting -> state (failed or expired), reason kept. */
int store_dlv_give_up(struct store *s, const char *msg_id, const char *reader,
    const char *state, const char *error, const struct store_audit *ev);
/* After a crash: every delivering -> queued, one audit event each. */
int store_dlv_recover(struct store *s, int *n);
/* Cancels the deliveries of a portal's message that are not delivered;
 * GW_ERR_NOT_FOUND if not the portal's, GW_ERR_STATE if nothing was left. */
int store_dlv_cancel(struct store *s, const char *portal, const char *msg_id,
    const struct store_audit *ev, int *ncancelled);
/* Pull deliveries whose ObsoleteAfter passed -> expired; *n of them. */
int store_dlv_expire(struct store *s, int64_t now_ms, int *n);
/* The authority's receipt of a delivered push delivery (malloc'd). */
int store_dlv_receipt(struct store *s, const char *msg_id, const char *reader,
    unsigned char **out, size_t *len);
/* Every audit event about msg_id, oldest first, at most 1000; *out malloc'd. */
int store_msg_events(struct store *s, const char *msg_id,
    struct store_audit_row **out, size_t *n);
/* Number of push deliveries in state (for tests and monitoring). */
int store_dlv_count(struct store *s, const char *state, int64_t *n);

/*
 * Retention (store_log.c): deletes the envelope (the encrypted message
 * body) of every delivery to reader that was delivered (closed) at or
 * before closed_before_ms; the delivery row, the message's digest and its
 * receipts stay.  Each deletion is an audit event "message.purged" naming
 * the envelope's SHA-256, in the same transaction.  *n (may be NULL) gets
 * the number of envelopes deleted.  A purged envelope reads as empty.
 */
int store_log_purge(struct store *s, const char *reader,
    int64_t closed_before_ms, int retention_days, const char *spool_dir,
    int *n);

#endif
