/*
 * gw.h - the daemon's shared context and the seams between its parts.
 *
 * struct gw is built once at start-up (main.c) and is read-only afterwards:
 * every thread may read it without locks, except the configuration, which
 * a reload replaces: it is read through a reference-counted snapshot
 * (confsnap.h), and a request keeps the one its headers were checked with.
 * Per-thread state (a store connection, a schema validation context) lives
 * in struct worker.
 *
 * Threads (see server.c): io threads run libevent loops that terminate TLS
 * and parse HTTP; worker threads do everything that may take time (XML
 * parsing, signature checks, encryption, database commits) and hand the
 * finished answer back to the io thread that owns the connection.
 */
#ifndef GW_GW_H
#define GW_GW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/xmlschemas.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "confsnap.h"
#include "keys.h"

struct store;
struct rev_cache;
struct certcache;
struct chain_ctx;
struct crypto_policy;

struct gw {
	pthread_mutex_t conf_mu;	/* confsnap.c */
	struct confsnap *conf;		/* current; use confsnap_acquire() */
	uint64_t conf_seq;
	SSL_CTX *ssl_ctx;		/* server side, BSI TR-02102-2 */
	X509_STORE *trust;		/* CAs for submission signers */
	struct keys *sign_key;		/* the gateway's signing key */
	X509 *sign_cert;
	xmlSchemaPtr submission_schema;	/* shared, read-only */
	struct rev_cache *rev;		/* CRL/OCSP answers, refreshed in the background */
	struct certcache *ccache;	/* verified paths */
	struct chain_ctx *chain;	/* trust + revocation policy for signers */
	struct crypto_policy *policy;	/* algorithm policy for signatures */
	struct crypto_policy *policy_rsa2048; /* the same, RSA-2048 with a warning */
	int dev;			/* started with --dev */
	char spool_dir[512];		/* accepted attachments (docs/attachments.md) */
	char spool_in[512];		/* spool_dir/incoming: parts being received */
};

/* One worker thread's own resources. */
struct worker {
	struct gw *gw;
	struct store *store;
	xmlSchemaValidCtxtPtr schema_vctx;
	char schema_err[256];		/* first validation error of a request */
};

enum http_method { HTTP_GET = 1, HTTP_POST, HTTP_OTHER };

#define GW_MAX_ATTACH	64	/* attachments of one submission */

struct attach_writer;
struct attach_reader;
struct attach_info;

/*
 * One attachment part of a multipart submission as the HTTP layer spooled
 * it (docs/attachments.md): encrypted and hashed while it arrived, closed
 * (tag written, not yet fsync'd) when the part ended.  A spool file that
 * is not taken over by an accepted message is removed when the request is
 * freed.
 */
struct job_att {
	char content_id[130];		/* Content-ID or form field name */
	char content_type[128];
	struct attach_writer *w;	/* open while the part arrives */
	int kept;			/* the store owns the file now */
	struct attach_info *info;	/* malloc'd when the part ended */
};

/* A request as a worker sees it: everything copied out of the connection. */
struct job_req {
	enum http_method method;
	char method_name[16];
	char path[512];			/* decoded path without query */
	char query[512];		/* raw query string, may be empty */
	char content_type[512];		/* multipart ones carry parameters */
	/* The configuration snapshot the request was checked with (a counted
	 * reference, dropped by job_req_free); client points into it. */
	struct confsnap *snap;		/* NULL before the check */
	const struct config *cfg;	/* snap->cfg */
	const struct party *client;	/* authenticated peer; NULL if none */
	unsigned char *body;		/* the body, or a multipart's XML part */
	size_t body_len;
	/* Set by the check callback: this request may be multipart (then
	 * body is its first part and atts the rest), up to body_limit bytes
	 * on the wire in all (0: the plain max_body applies). */
	int multipart_ok;
	uint64_t body_limit;
	int multipart;			/* it was */
	/* Called by job_req_free() first, if set (server.c: the client's
	 * upload slot). */
	void (*on_free)(struct job_req *req);
	char xml_type[128];		/* Content-Type of the first part */
	uint64_t wire_len;		/* body bytes received (after dechunking) */
	struct job_att atts[GW_MAX_ATTACH];
	size_t natts;
	/* Set when the HTTP layer refused the request before it was complete
	 * (too large, malformed): the worker only audits and answers it. */
	int pre_error;
	char pre_msg[160];
};

/* http.c: frees req, its body and its snapshot reference; aborts the
 * attachment parts still being written and removes spooled files no
 * accepted message took over (att->kept).  NULL is a no-op. */
void job_req_free(struct job_req *req);

/* The answer a worker produces; body is malloc'd (may be NULL). */
struct job_resp {
	int status;
	const char *content_type;
	char location[128];		/* Location header, if set */
	int replayed;			/* idempotent replay of a submission */
	unsigned char *body;
	size_t body_len;
	/* Instead of body: a document streamed from disk (attachments). */
	struct attach_reader *stream;
};

/* api.c: handles one request on a worker thread; always fills resp. */
void api_handle(struct worker *w, struct job_req *req, struct job_resp *resp);
/* api.c: fills resp with the XML error body for err and a sentence. */
void api_error(struct job_resp *resp, int err, const char *message);

/* api.c: error answer plus an audit entry (event, code, why). */
void api_reject(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *event, const char *msg_id, int err,
    const char *why);

/* api_audit.c: checkpoints and proofs of the audit log. */
void audit_get_checkpoint(struct worker *w, const struct job_req *req,
    struct job_resp *resp);
void audit_get_proof(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *msg_id);
void audit_get_consistency(struct worker *w, const struct job_req *req,
    struct job_resp *resp, int64_t from, int64_t to);

/* api_mgmt.c: management calls and transport reports. */
void mgmt_create_id(struct worker *w, const struct job_req *req,
    struct job_resp *resp);
void mgmt_account(struct worker *w, const struct job_req *req,
    struct job_resp *resp);
void mgmt_lookup(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *reader, const char *service);
void mgmt_cancel(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *id);
void mgmt_report(struct worker *w, const struct job_req *req,
    struct job_resp *resp, const char *id);

/* submit.c: POST /v1/submissions. */
void submit_handle(struct worker *w, struct job_req *req, struct job_resp *resp);
/* submit.c: the readers' limits once a multipart's XML part is in (io
 * thread; see http_limits.first_part). */
int submit_first_part(const struct job_req *req, uint64_t *limit, char *why,
    size_t whylen);

/* tls.c */
int tls_server_ctx(const struct config *cfg, SSL_CTX **out, char *err, size_t errlen);
/* Maps the verified peer certificate of ssl to a party of cfg; NULL if
 * there is none, it did not verify, or it is unknown.  why gets a reason. */
const struct party *tls_peer_party(const struct config *cfg, SSL *ssl,
    char *why, size_t whylen);

/* sealer.c: the audit log sealer thread. */
int sealer_start(struct gw *gw);
void sealer_stop(void);
void sealer_final(struct gw *gw);
/* store_sign_fn over a struct keys (ECDSA for EC keys, RSA PKCS#1 v1.5). */
int sealer_sign(void *arg, const unsigned char *msg, size_t len,
    unsigned char **sig, size_t *siglen);

/* deliver.c: the push delivery thread. */
int deliver_start(struct gw *gw);
void deliver_stop(void);

/* reload.c: the reload thread (SIGHUP, gwctl reload).  listen is the
 * command line's override (--dev --listen) or NULL; status is the file that
 * gets each reload's outcome (see reload.c).  Writes generation 0 at once. */
int reload_start(struct gw *gw, const char *listen, const char *status);
/* Asks for one reload; async-signal-unsafe, call it from an event loop. */
void reload_request(void);
void reload_stop(void);

/* server.c */
int server_run(struct gw *gw);
/* Writes the aggregated refusals of unknown clients as one audit event. */
void server_flush_refusals(struct store *s);
void server_stop(void);

#endif
