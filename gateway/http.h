/*
 * http.h - a small, strict HTTP/1.1 server side over libevent bufferevents
 * (TLS underneath), owned by one io thread per connection.
 *
 * Why not evhttp: libevent 2.1's evhttp answers protocol errors and
 * oversized bodies itself with HTML pages, and cannot hand over a request
 * body while it is still arriving; the gateway must answer every error with
 * its XML body and an audit entry, and will stream attachments.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "gw.h"

struct http_conn;

/* The connections of one io thread, so that shutdown can close them all. */
struct http_server {
	struct http_conn *head;
};

struct http_limits {
	size_t max_header_bytes;	/* request line + headers */
	int max_headers;		/* header lines */
	size_t max_body;		/* decoded body bytes */
	int idle_timeout;		/* seconds without progress */
	const char *spool_dir;		/* where attachment parts are spooled */
	/*
	 * Called on the io thread when the first part of a multipart body is
	 * in (may be NULL): may lower *limit, the body bytes allowed, or
	 * refuse with a GW_ERR_* and why.  So that a limit that depends on
	 * what the first part says applies while the rest still streams.
	 */
	int (*first_part)(const struct job_req *req, uint64_t *limit,
	    char *why, size_t whylen);
};

/*
 * Called on the io thread for each request: complete, or refused early
 * (req->pre_error set).  The callee owns req and must answer exactly once
 * with http_respond() (possibly later, from the same io thread).
 */
typedef void (*http_request_fn)(struct http_conn *c, struct job_req *req,
    void *arg);

/*
 * Called on the io thread once a request's headers are in, before its body
 * is read: a non-zero GW_ERR_* refuses the request at once (with why), so
 * that nobody unknown gets to send a body.  May set req->client.
 */
typedef int (*http_check_fn)(struct http_conn *c, struct job_req *req,
    void *arg, char *why, size_t whylen);

/* Takes over fd (already accepted) and serves it with TLS from ctx. */
int http_serve(struct http_server *srv, struct event_base *base,
    evutil_socket_t fd, SSL_CTX *ctx, const struct http_limits *lim,
    http_check_fn check, http_request_fn fn, void *arg);

/* Closes and frees every connection of srv (shutdown, after the workers
 * have stopped and their answers were delivered). */
void http_server_close_all(struct http_server *srv);

/*
 * Sends resp on c (io thread only).  If the client went away meanwhile the
 * connection is just freed.  After a refused request the connection closes.
 * A resp->stream is taken over (and freed) by this call: it is sent with
 * its known length, read from disk as fast as the client takes it.
 */
void http_respond(struct http_conn *c, const struct job_resp *resp);

/* The TLS session of c (for the client certificate); NULL once closed. */
SSL *http_ssl(struct http_conn *c);

#endif
