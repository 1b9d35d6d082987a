/*
 * server.c - listeners, io threads, the worker pool and the hand-over
 * between them.
 *
 * io threads (cfg->io_threads, default 1): each runs its own event_base with
 * a listener on its own SO_REUSEPORT socket bound to the listen address, so
 * the kernel spreads connections.  The io thread terminates TLS, reads the
 * request (http.c enforces the limits), identifies the client from its
 * certificate and answers /healthz itself.  Everything else, rejections
 * included (so that they are audited), becomes a job on one bounded queue.
 *
 * workers (cfg->threads, default: number of cores): each has its own store
 * connection and schema context, takes a job, runs api_handle(), and hands
 * the answer back with event_base_once() on the job's base; libevent's
 * pthread locking makes that call safe from another thread and wakes the
 * loop.  No io thread ever waits for crypto or a database commit.
 *
 * If the client goes away while a worker holds its request, http.c keeps
 * the connection struct until http_respond() arrives, then frees it.
 *
 * Overload: more than max_pending queued jobs answers 503 at once.
 *
 * Configuration: check_cb takes a reference to the current snapshot for
 * each request (req->snap), so a reload never changes the configuration
 * under a request; the listen address, thread counts and limits are read
 * once at start (a reload may not change them, confsnap_fixed_diff).
 * SIGHUP on the first io thread's loop asks reload.c for a reload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "attach.h"
#include "err.h"
#include "gw.h"
#include "http.h"
#include "store.h"
#include "util.h"

struct job {
	struct job *next;
	struct http_conn *conn;
	struct event_base *base;
	struct job_req *in;
	struct job_resp out;
};

struct iothread {
	pthread_t tid;
	struct event_base *base;
	struct evconnlistener *listener;
	struct http_limits lim;
	struct http_server conns;
};

static struct {
	struct gw *gw;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	int pending;
	int stopping;
	struct iothread *io;
	int nio;
	pthread_t *workers;
	int nworkers;
	char database[512];		/* from the configuration at start */
	char listen[128];
	size_t max_body;
	unsigned long overloaded;	/* 503s not yet written to the audit log */
	unsigned long refused;		/* unknown clients not yet audited */
	char refused_why[200];		/* the last reason among them */
} S = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	job_req_free(j->in);
	attach_reader_free(j->out.stream);
	free(j->out.body);
	free(j);
}

/* Runs on the io thread that owns the connection. */
static void
reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)what;
	http_respond(j->conn, &j->out);
	j->out.stream = NULL;		/* http_respond took it */
	job_free(j);
}

static void
audit_overload(struct worker *w, unsigned long over)
{
	char detail[64];
	struct store_audit ev = { .event = "request.overloaded",
	    .actor = "gateway", .code = "OVERLOADED", .detail = detail };

	snprintf(detail, sizeof(detail), "%lu requests answered 503", over);
	(void)store_audit(w->store, &ev);
}

static void *
worker_main(void *arg)
{
	struct worker w;
	struct job *j;
	unsigned long over;
	int r;

	memset(&w, 0, sizeof(w));
	w.gw = arg;
	if ((r = store_open(S.database, &w.store)) != 0) {
		fprintf(stderr, "gatewayd: worker: cannot open store %s: %s\n",
		    S.database, gw_strerror(r));
		exit(1);
	}
	if ((w.schema_vctx = xmlSchemaNewValidCtxt(w.gw->submission_schema)) == NULL) {
		fprintf(stderr, "gatewayd: worker: no memory for schema context\n");
		exit(1);
	}
	for (;;) {
		pthread_mutex_lock(&S.mu);
		while (S.head == NULL && !S.stopping)
			pthread_cond_wait(&S.cv, &S.mu);
		if (S.head == NULL) {
			pthread_mutex_unlock(&S.mu);
			break;
		}
		j = S.head;
		if ((S.head = j->next) == NULL)
			S.tail = NULL;
		S.pending--;
		over = S.overloaded;
		S.overloaded = 0;
		pthread_mutex_unlock(&S.mu);

		if (over > 0)
			audit_overload(&w, over);
		api_handle(&w, j->in, &j->out);
		if (event_base_once(j->base, -1, EV_TIMEOUT, reply_cb, j, NULL) != 0) {
			/* The loop is gone (shutdown): nothing left to answer. */
			job_free(j);
		}
	}
	xmlSchemaFreeValidCtxt(w.schema_vctx);
	store_close(w.store);
	return NULL;
}

static int
enqueue(struct job *j, int max_pending)
{
	pthread_mutex_lock(&S.mu);
	if (S.pending >= max_pending || S.stopping) {
		S.overloaded++;
		pthread_mutex_unlock(&S.mu);
		return GW_ERR_OVERLOADED;
	}
	j->next = NULL;
	if (S.tail)
		S.tail->next = j;
	else
		S.head = j;
	S.tail = j;
	S.pending++;
	pthread_cond_signal(&S.cv);
	pthread_mutex_unlock(&S.mu);
	return 0;
}

/* Answers on the io thread without a worker (and without audit). */
static void
reply_now(struct http_conn *c, int status, const char *ctype, const char *body,
    int err)
{
	struct job_resp resp;

	memset(&resp, 0, sizeof(resp));
	if (err)
		api_error(&resp, err, body);
	else {
		resp.status = status;
		resp.content_type = ctype;
		resp.body = (unsigned char *)strdup(body);
		resp.body_len = resp.body ? strlen(body) : 0;
	}
	http_respond(c, &resp);
	free(resp.body);
}

/*
 * Uploads under way per client (multipart submissions, from the check of
 * their headers until the request is freed), so that one portal cannot
 * hold every descriptor with slow uploads: max_uploads, then 429 at once.
 * A small table under a mutex: one row per portal with uploads running.
 */
#define UPLOAD_ROWS	1024
static struct {
	pthread_mutex_t mu;
	struct { char id[64]; int n; } row[UPLOAD_ROWS];
} U = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
upload_release(struct job_req *req)
{
	size_t i;

	pthread_mutex_lock(&U.mu);
	for (i = 0; i < UPLOAD_ROWS; i++)
		if (U.row[i].n > 0 && strcmp(U.row[i].id, req->client->id) == 0) {
			U.row[i].n--;
			break;
		}
	pthread_mutex_unlock(&U.mu);
	req->on_free = NULL;
}

static int
upload_take(struct job_req *req, int max, char *why, size_t whylen)
{
	size_t i, free_row = UPLOAD_ROWS;
	int r = 0;

	pthread_mutex_lock(&U.mu);
	for (i = 0; i < UPLOAD_ROWS; i++) {
		if (U.row[i].n == 0) {
			if (free_row == UPLOAD_ROWS)
				free_row = i;
			continue;
		}
		if (strcmp(U.row[i].id, req->client->id) == 0)
			break;
	}
	if (i == UPLOAD_ROWS && free_row < UPLOAD_ROWS) {
		i = free_row;
		util_strlcpy(U.row[i].id, req->client->id, sizeof(U.row[i].id));
	}
	if (i == UPLOAD_ROWS || U.row[i].n >= max) {
		snprintf(why, whylen, "%s has %d uploads under way, the most "
		    "max_uploads allows", req->client->id, max);
		r = GW_ERR_TOO_MANY;
	} else {
		U.row[i].n++;
		req->on_free = upload_release;
	}
	pthread_mutex_unlock(&U.mu);
	return r;
}

/*
 * Unknown clients are refused on the io thread, before their body is read,
 * and audited in aggregate (server_flush_refusals, once a second): a flood
 * of anonymous requests must not cost one fsync each nor starve the store.
 */
static int
check_cb(struct http_conn *c, struct job_req *req, void *arg, char *why,
    size_t whylen)
{
	(void)arg;
	if (req->method == HTTP_GET && strcmp(req->path, "/healthz") == 0)
		return 0;
	if (req->snap == NULL) {
		if ((req->snap = confsnap_acquire(S.gw)) == NULL)
			return GW_ERR_INTERNAL;
		req->cfg = req->snap->cfg;
	}
	req->client = tls_peer_party(req->cfg, http_ssl(c), why, whylen);
	if (req->client == NULL)
		return GW_ERR_UNAUTHENTICATED;
	/* Only a portal's submission may be multipart (attachments), up to
	 * the gateway's max_submission and the portal's max_size. */
	if (req->method == HTTP_POST && strcmp(req->path, "/v1/submissions") == 0 &&
	    req->client->kind == PARTY_PORTAL) {
		req->multipart_ok = 1;
		req->body_limit = req->cfg->max_submission;
		if (req->client->max_size > 0 && req->client->max_size < req->body_limit)
			req->body_limit = req->client->max_size;
		if (strncasecmp(req->content_type, "multipart/", 10) == 0)
			return upload_take(req, req->cfg->max_uploads, why, whylen);
	}
	return 0;
}

void
server_flush_refusals(struct store *s)
{
	struct store_audit ev = { .event = "client.rejected", .actor = "unknown",
	    .code = "CLIENT_CERT_REQUIRED" };
	char detail[320];
	unsigned long n;

	pthread_mutex_lock(&S.mu);
	n = S.refused;
	snprintf(detail, sizeof(detail), "%lu request%s without a valid client "
	    "certificate refused; last: %s", n, n == 1 ? "" : "s", S.refused_why);
	S.refused = 0;
	pthread_mutex_unlock(&S.mu);
	if (n == 0)
		return;
	ev.detail = detail;
	if (store_audit(s, &ev) != 0) {
		pthread_mutex_lock(&S.mu);
		S.refused += n;		/* try again next time */
		pthread_mutex_unlock(&S.mu);
	}
}

/* The HTTP layer's request callback, on the io thread. */
static void
request_cb(struct http_conn *c, struct job_req *req, void *arg)
{
	struct iothread *io = arg;
	struct confsnap *cur;
	struct job *j;
	int max_pending;

	if (!req->pre_error && req->method == HTTP_GET &&
	    strcmp(req->path, "/healthz") == 0) {
		job_req_free(req);
		reply_now(c, 200, "text/plain", "ok\n", 0);
		return;
	}
	if (req->pre_error == GW_ERR_UNAUTHENTICATED) {
		pthread_mutex_lock(&S.mu);
		S.refused++;
		util_strlcpy(S.refused_why, req->pre_msg, sizeof(S.refused_why));
		pthread_mutex_unlock(&S.mu);
		reply_now(c, 0, NULL, req->pre_msg, GW_ERR_UNAUTHENTICATED);
		job_req_free(req);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		job_req_free(req);
		reply_now(c, 0, NULL, NULL, GW_ERR_NOMEM);
		return;
	}
	j->conn = c;
	j->base = io->base;
	j->in = req;
	/* max_pending may change with a reload: the request's own, or the
	 * current one for a request refused before its check */
	if ((cur = req->snap) == NULL && (cur = confsnap_acquire(S.gw)) == NULL) {
		reply_now(c, 0, NULL, NULL, GW_ERR_INTERNAL);
		job_free(j);
		return;
	}
	max_pending = cur->cfg->max_pending;
	if (cur != req->snap)
		confsnap_release(cur);
	if (enqueue(j, max_pending) != 0) {
		reply_now(c, 0, NULL, NULL, GW_ERR_OVERLOADED);
		job_free(j);
	}
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct iothread *io = arg;

	(void)l;
	(void)sa;
	(void)salen;
	if (http_serve(&io->conns, io->base, fd, S.gw->ssl_ctx, &io->lim,
	    check_cb, request_cb, io) != 0)
		evutil_closesocket(fd);
}

static int
listen_socket(const char *listen_addr, int *out)
{
	char host[128], *port;
	struct addrinfo hints, *ai = NULL;
	int fd = -1, one = 1;

	if (util_strlcpy(host, listen_addr, sizeof(host)) >= sizeof(host) ||
	    (port = strrchr(host, ':')) == NULL)
		return GW_ERR_CONFIG;
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0)
		return GW_ERR_CONFIG;
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return GW_ERR_IO;
	}
	freeaddrinfo(ai);
	*out = fd;
	return 0;
}

static void *
io_main(void *arg)
{
	struct iothread *io = arg;

	event_base_dispatch(io->base);
	return NULL;
}

static int
io_setup(struct iothread *io)
{
	int fd, r;

	if ((r = listen_socket(S.listen, &fd)) != 0)
		return r;
	if ((io->base = event_base_new()) == NULL) {
		close(fd);
		return GW_ERR_NOMEM;
	}
	io->lim.max_header_bytes = 16384;
	io->lim.max_headers = 100;
	io->lim.max_body = S.max_body;
	io->lim.spool_dir = S.gw->spool_in;
	io->lim.first_part = submit_first_part;
	io->lim.idle_timeout = 60;
	io->listener = evconnlistener_new(io->base, accept_cb, io,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (io->listener == NULL) {
		close(fd);
		return GW_ERR_IO;
	}
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGHUP) {
		reload_request();
		return;
	}
	fprintf(stderr, "gatewayd: signal %d, stopping\n", (int)sig);
	server_stop();
}

void
server_stop(void)
{
	int i;

	pthread_mutex_lock(&S.mu);
	S.stopping = 1;
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
	for (i = 0; i < S.nio; i++)
		if (S.io[i].base)
			event_base_loopexit(S.io[i].base, NULL);
}

int
server_run(struct gw *gw)
{
	struct event *sigint = NULL, *sigterm = NULL, *sighup = NULL;
	struct confsnap *boot;
	int i, r = GW_ERR_INTERNAL;

	S.gw = gw;
	if ((boot = confsnap_acquire(gw)) == NULL)
		return GW_ERR_INTERNAL;
	util_strlcpy(S.database, boot->cfg->database, sizeof(S.database));
	util_strlcpy(S.listen, boot->cfg->listen, sizeof(S.listen));
	S.max_body = boot->cfg->max_body;
	S.nio = boot->cfg->io_threads > 0 ? boot->cfg->io_threads : 1;
	S.nworkers = boot->cfg->threads > 0 ? boot->cfg->threads :
	    (int)sysconf(_SC_NPROCESSORS_ONLN);
	confsnap_release(boot);
	if (S.nworkers < 1)
		S.nworkers = 1;
	if ((S.io = calloc((size_t)S.nio, sizeof(*S.io))) == NULL ||
	    (S.workers = calloc((size_t)S.nworkers, sizeof(*S.workers))) == NULL)
		return GW_ERR_NOMEM;
	for (i = 0; i < S.nio; i++)
		if ((r = io_setup(&S.io[i])) != 0) {
			fprintf(stderr, "gatewayd: cannot listen on %s: %s\n",
			    S.listen, strerror(errno));
			return r;
		}
	signal(SIGPIPE, SIG_IGN);
	sigint = evsignal_new(S.io[0].base, SIGINT, signal_cb, NULL);
	sigterm = evsignal_new(S.io[0].base, SIGTERM, signal_cb, NULL);
	sighup = evsignal_new(S.io[0].base, SIGHUP, signal_cb, NULL);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	event_add(sighup, NULL);
	for (i = 0; i < S.nworkers; i++)
		if (pthread_create(&S.workers[i], NULL, worker_main, gw) != 0)
			return GW_ERR_INTERNAL;
	for (i = 1; i < S.nio; i++)
		if (pthread_create(&S.io[i].tid, NULL, io_main, &S.io[i]) != 0)
			return GW_ERR_INTERNAL;
	fprintf(stderr, "gatewayd: listening on https://%s (%d io thread%s, "
	    "%d workers)\n", S.listen, S.nio, S.nio > 1 ? "s" : "",
	    S.nworkers);
	event_base_dispatch(S.io[0].base);

	server_stop();
	for (i = 1; i < S.nio; i++)
		pthread_join(S.io[i].tid, NULL);
	for (i = 0; i < S.nworkers; i++)
		pthread_join(S.workers[i], NULL);
	/* Deliver the answers the workers finished after the loops stopped,
	 * then close whatever connections are left. */
	for (i = 0; i < S.nio; i++) {
		event_base_loop(S.io[i].base, EVLOOP_NONBLOCK);
		http_server_close_all(&S.io[i].conns);
	}
	event_free(sigint);
	event_free(sigterm);
	event_free(sighup);
	for (i = 0; i < S.nio; i++) {
		evconnlistener_free(S.io[i].listener);
		event_base_free(S.io[i].base);
	}
	free(S.io);
	free(S.workers);
	return 0;
}
