/*
 * server.c - listeners, io threads, the worker pool and the hand-over
 * between them.
 *
 * io threads (cfg->io_threads, default 1): each runs its own event_base with
 * an evhttp on its own SO_REUSEPORT socket bound to the listen address, so
 * the kernel spreads connections.  The io thread terminates TLS, reads the
 * request (evhttp enforces max_body), identifies the client from its
 * certificate and answers the trivial requests itself (/healthz, rejections
 * for unknown clients).  Everything else becomes a job on one bounded queue.
 *
 * workers (cfg->threads, default: number of cores): each has its own store
 * connection and schema context, takes a job, runs api_handle(), and hands
 * the answer back with event_base_once() on the job's base; libevent's
 * pthread locking makes that call safe from another thread and wakes the
 * loop.  No io thread ever waits for crypto or a database commit.
 *
 * If the client goes away while a worker holds its request, evhttp keeps
 * the request alive without a connection, and evhttp_send_reply() frees it.
 *
 * Overload: more than max_pending queued jobs answers 503 at once.
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
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "err.h"
#include "gw.h"
#include "store.h"
#include "util.h"

struct job {
	struct job *next;
	struct evhttp_request *req;
	struct event_base *base;
	struct job_req in;
	struct job_resp out;
};

struct iothread {
	pthread_t tid;
	struct event_base *base;
	struct evhttp *http;
	int fd;
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
	unsigned long overloaded;	/* 503s not yet written to the audit log */
} S = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->in.body);
	free(j->out.body);
	free(j);
}

static void
send_resp(struct evhttp_request *req, const struct job_resp *resp)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evhttp_request_get_output_buffer(req);

	if (resp->content_type)
		evhttp_add_header(h, "Content-Type", resp->content_type);
	if (resp->location[0])
		evhttp_add_header(h, "Location", resp->location);
	if (resp->replayed)
		evhttp_add_header(h, "Gateway-Replay", "true");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (resp->body_len > 0)
		evbuffer_add(b, resp->body, resp->body_len);
	evhttp_send_reply(req, resp->status, NULL, NULL);
}

/* Runs on the io thread that owns the request. */
static void
reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)what;
	send_resp(j->req, &j->out);
	job_free(j);
}

static void *
worker_main(void *arg)
{
	struct worker w;
	struct job *j;
	char err[128];
	unsigned long over;
	int r;

	memset(&w, 0, sizeof(w));
	w.gw = arg;
	if ((r = store_open(w.gw->cfg->database, &w.store)) != 0) {
		fprintf(stderr, "gatewayd: worker: cannot open store %s: %s\n",
		    w.gw->cfg->database, gw_strerror(r));
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

		if (over > 0) {
			struct store_audit ev = { .event = "request.overloaded",
			    .actor = "gateway", .code = "OVERLOADED", .detail = err };
			snprintf(err, sizeof(err), "%lu requests answered 503", over);
			(void)store_audit(w.store, &ev);
		}
		api_handle(&w, &j->in, &j->out);
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
enqueue(struct job *j)
{
	pthread_mutex_lock(&S.mu);
	if (S.pending >= S.gw->cfg->max_pending || S.stopping) {
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
reply_now(struct evhttp_request *req, int err, const char *msg)
{
	struct job_resp resp;

	memset(&resp, 0, sizeof(resp));
	api_error(&resp, err, msg);
	send_resp(req, &resp);
	free(resp.body);
}

static int
copy_request(struct evhttp_request *req, struct job *j)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri), *q = evhttp_uri_get_query(uri);
	const char *ct;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	char *dec;
	size_t n;

	j->in.method = evhttp_request_get_command(req);
	if (path == NULL || (dec = evhttp_uridecode(path, 0, NULL)) == NULL)
		return GW_ERR_INVALID;
	n = util_strlcpy(j->in.path, dec, sizeof(j->in.path));
	free(dec);
	if (n >= sizeof(j->in.path))
		return GW_ERR_TOO_LARGE;
	if (q && util_strlcpy(j->in.query, q, sizeof(j->in.query)) >= sizeof(j->in.query))
		return GW_ERR_TOO_LARGE;
	ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (ct)
		util_strlcpy(j->in.content_type, ct, sizeof(j->in.content_type));
	if ((n = evbuffer_get_length(in)) > 0) {
		if ((j->in.body = malloc(n + 1)) == NULL)
			return GW_ERR_NOMEM;
		evbuffer_remove(in, j->in.body, n);
		j->in.body[n] = 0;
		j->in.body_len = n;
	}
	return 0;
}

/* The io thread's request callback. */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct iothread *io = arg;
	struct bufferevent *bev;
	const struct party *client;
	struct job *j;
	char why[200];
	int r;

	bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
	client = tls_peer_party(S.gw, bev ? bufferevent_openssl_get_ssl(bev) : NULL,
	    why, sizeof(why));
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		reply_now(req, GW_ERR_NOMEM, NULL);
		return;
	}
	j->req = req;
	j->base = io->base;
	j->in.client = client;
	if ((r = copy_request(req, j)) != 0) {
		reply_now(req, r, NULL);
		job_free(j);
		return;
	}
	/* Unknown clients go through a worker too: the rejection is
	 * audited like any other. */
	if (client == NULL)
		util_strlcpy(j->in.auth_error, why, sizeof(j->in.auth_error));
	if (strcmp(j->in.path, "/healthz") == 0) {
		struct job_resp resp = { .status = 200, .content_type = "text/plain" };
		resp.body = (unsigned char *)"ok\n";
		resp.body_len = 3;
		send_resp(req, &resp);
		job_free(j);
		return;
	}
	if (enqueue(j) != 0) {
		reply_now(req, GW_ERR_OVERLOADED, NULL);
		job_free(j);
	}
}

static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
	SSL *ssl;

	(void)arg;
	if ((ssl = SSL_new(S.gw->ssl_ctx)) == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
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
	int r;

	if ((r = listen_socket(S.gw->cfg->listen, &io->fd)) != 0)
		return r;
	if ((io->base = event_base_new()) == NULL ||
	    (io->http = evhttp_new(io->base)) == NULL)
		return GW_ERR_NOMEM;
	evhttp_set_bevcb(io->http, bev_cb, NULL);
	evhttp_set_gencb(io->http, request_cb, io);
	/* XXX: a body over max_body gets libevent's own 413 page, not our XML
	 * error; the streaming intake (attachments issue) replaces this. */
	evhttp_set_max_body_size(io->http, (ev_ssize_t)S.gw->cfg->max_body);
	evhttp_set_max_headers_size(io->http, 16384);
	/* Read and drop an oversized body before answering 413, so that the
	 * client sees the answer instead of a reset connection. */
	evhttp_set_flags(io->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_timeout(io->http, 60);
	evhttp_set_allowed_methods(io->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	if (evhttp_accept_socket(io->http, io->fd) != 0)
		return GW_ERR_IO;
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
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
	struct event *sigint = NULL, *sigterm = NULL;
	int i, r = GW_ERR_INTERNAL;

	S.gw = gw;
	S.nio = gw->cfg->io_threads > 0 ? gw->cfg->io_threads : 1;
	S.nworkers = gw->cfg->threads > 0 ? gw->cfg->threads :
	    (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (S.nworkers < 1)
		S.nworkers = 1;
	if ((S.io = calloc((size_t)S.nio, sizeof(*S.io))) == NULL ||
	    (S.workers = calloc((size_t)S.nworkers, sizeof(*S.workers))) == NULL)
		return GW_ERR_NOMEM;
	for (i = 0; i < S.nio; i++)
		if ((r = io_setup(&S.io[i])) != 0) {
			fprintf(stderr, "gatewayd: cannot listen on %s: %s\n",
			    gw->cfg->listen, strerror(errno));
			return r;
		}
	signal(SIGPIPE, SIG_IGN);
	sigint = evsignal_new(S.io[0].base, SIGINT, signal_cb, NULL);
	sigterm = evsignal_new(S.io[0].base, SIGTERM, signal_cb, NULL);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	for (i = 0; i < S.nworkers; i++)
		if (pthread_create(&S.workers[i], NULL, worker_main, gw) != 0)
			return GW_ERR_INTERNAL;
	for (i = 1; i < S.nio; i++)
		if (pthread_create(&S.io[i].tid, NULL, io_main, &S.io[i]) != 0)
			return GW_ERR_INTERNAL;
	fprintf(stderr, "gatewayd: listening on https://%s (%d io thread%s, "
	    "%d workers)\n", gw->cfg->listen, S.nio, S.nio > 1 ? "s" : "",
	    S.nworkers);
	event_base_dispatch(S.io[0].base);

	server_stop();
	for (i = 1; i < S.nio; i++)
		pthread_join(S.io[i].tid, NULL);
	for (i = 0; i < S.nworkers; i++)
		pthread_join(S.workers[i], NULL);
	/* Jobs finished after their loop stopped were freed by the workers. */
	event_free(sigint);
	event_free(sigterm);
	for (i = 0; i < S.nio; i++) {
		evhttp_free(S.io[i].http);
		event_base_free(S.io[i].base);
	}
	free(S.io);
	free(S.workers);
	return 0;
}
