/*
 * test_revocation.c - CRLs and OCSP against a test CA on loopback,
 * certs/revocation.h and certs/fetch.h through chain_verify_ex().
 *
 * The outcomes a portal and an authority rely on: a revoked signer is
 * refused with the time and reason of the revocation, whether the CRL or
 * the OCSP responder says so; a good signer is accepted with the answer's
 * source and time in the report; a responder that is down makes "require"
 * refuse (indeterminate) and "prefer" accept with a warning; a stale CRL
 * is not trusted; a huge CRL and a responder that never answers are cut
 * off by the size limit and the timeout; a CRL is fetched once and then
 * served from the cache, and renewed ahead of its nextUpdate; nothing is
 * fetched for a certificate that does not chain to a trusted CA.
 *
 * The CA's server is a thread in this test: one HTTP/1.0-style server on
 * 127.0.0.1 (port 40000-49999, derived from the pid) that serves CRLs,
 * streams a huge one, holds a connection without answering, redirects to
 * file://, and answers OCSP requests by running the openssl command line
 * responder on each one (`openssl ocsp -index ... -reqin ... -respout`):
 * an implementation independent of ours.  `openssl ocsp -port` is not used
 * because it listens on every interface.  All waits are bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certcache.h"
#include "chain.h"
#include "err.h"
#include "fetch.h"
#include "revocation.h"

#define DAY		86400L
#define HUGE_SIZE	(4u << 20)
#define MAX_HANG	8

extern char **environ;

/* ---- the CA's server ---------------------------------------------------- */

enum path { P_CRL, P_STALE, P_HUGE, P_HUGE_CL, P_HANG, P_OCSP, P_NODELEG,
	P_REDIR, P_OTHER, P_N };

static const char *const paths[P_N] = { "/ca.crl", "/stale.crl", "/huge.crl",
	"/huge-cl.crl", "/hang", "/ocsp", "/ocsp-nodeleg", "/redirect", "" };

static struct {
	int lfd, port, dead_fd, dead_port;
	pthread_t thr;
	pthread_mutex_t lock;
	int stop;
	unsigned char *crl, *stale;	/* DER served at /ca.crl, /stale.crl */
	size_t crllen, stalelen;
	int hits[P_N];
	int hang[MAX_HANG], nhang;
} S = { .lfd = -1, .dead_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static struct {
	char dir[64];
	int have_openssl;
	EVP_PKEY *kca, *krsp, *kleaf, *kother;
	X509 *ca, *rsp, *nodeleg, *other;
	X509_STORE *store;
	X509 *crl_good, *crl_revoked, *ocsp_good, *ocsp_revoked, *down,
	    *stale, *huge, *huge_cl, *hang, *nodeleg_leaf, *stranger, *bare;
	time_t revoked_at;		/* of crl_revoked and ocsp_revoked */
} F;

static int
hits(enum path p)
{
	int n;

	pthread_mutex_lock(&S.lock);
	n = S.hits[p];
	pthread_mutex_unlock(&S.lock);
	return n;
}

static void
reset_hits(void)
{
	pthread_mutex_lock(&S.lock);
	memset(S.hits, 0, sizeof(S.hits));
	pthread_mutex_unlock(&S.lock);
}

static int
send_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
respond(int fd, int status, const char *ctype, const void *body, size_t len)
{
	char h[256];

	snprintf(h, sizeof(h), "HTTP/1.1 %d X\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, ctype,
	    len);
	if (send_all(fd, h, strlen(h)) == 0 && len > 0)
		send_all(fd, body, len);
}

/* Streams HUGE_SIZE bytes, with or without announcing them. */
static void
respond_huge(int fd, int announce)
{
	static unsigned char chunk[65536];
	char h[256];
	size_t sent;

	if (announce)
		snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/pkix-crl\r\nContent-Length: %u\r\n"
		    "Connection: close\r\n\r\n", HUGE_SIZE);
	else	/* no length at all: the body ends when the server closes */
		snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/pkix-crl\r\nConnection: close\r\n\r\n");
	if (send_all(fd, h, strlen(h)) != 0)
		return;
	for (sent = 0; sent < HUGE_SIZE; sent += sizeof(chunk))
		if (send_all(fd, chunk, sizeof(chunk)) != 0)
			return;		/* the client gave up: as it should */
}

/* Runs the openssl responder on one request; 0 and the DER answer. */
static int
ocsp_answer(const unsigned char *req, size_t len, int nodeleg,
    unsigned char **out, size_t *outlen)
{
	char reqf[128], respf[128], idx[128], ca[128], rs[128], rk[128];
	char *argv[] = { "openssl", "ocsp", "-index", idx, "-CA", ca,
	    "-rsigner", rs, "-rkey", rk, "-reqin", reqf, "-respout", respf,
	    "-nmin", "10", NULL };
	posix_spawn_file_actions_t fa;
	FILE *f;
	pid_t pid;
	int st = -1, i;
	long n;

	snprintf(reqf, sizeof(reqf), "%s/req.der", F.dir);
	snprintf(respf, sizeof(respf), "%s/resp.der", F.dir);
	snprintf(idx, sizeof(idx), "%s/index.txt", F.dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", F.dir);
	snprintf(rs, sizeof(rs), "%s/%s.pem", F.dir, nodeleg ? "nodeleg" :
	    "rsp");
	snprintf(rk, sizeof(rk), "%s/rsp.key", F.dir);
	unlink(respf);
	if ((f = fopen(reqf, "wb")) == NULL)
		return -1;
	fwrite(req, 1, len, f);
	fclose(f);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	i = posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (i != 0)
		return -1;
	for (i = 0; i < 500 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(10000);		/* at most 5 s */
	if (i == 500) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
	if ((f = fopen(respf, "rb")) == NULL)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n <= 0 || (*out = malloc((size_t)n)) == NULL ||
	    fread(*out, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return -1;
	}
	fclose(f);
	*outlen = (size_t)n;
	return 0;
}

/* Reads one request: path and (bounded) body. */
static int
read_request(int fd, char *path, size_t plen, unsigned char *body,
    size_t *blen)
{
	char buf[16384], *end, *cl;
	size_t have = 0, want = 0, hl;
	ssize_t n;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while ((end = have ? memmem(buf, have, "\r\n\r\n", 4) : NULL) == NULL) {
		if (have >= sizeof(buf) - 1 || poll(&p, 1, 2000) != 1 ||
		    (n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0)) <= 0)
			return -1;
		have += (size_t)n;
	}
	buf[have] = '\0';
	if (sscanf(buf, "%*s %255s", path) != 1 || strlen(path) >= plen)
		return -1;
	if ((cl = strcasestr(buf, "\r\nContent-Length:")) != NULL)
		want = strtoul(cl + 17, NULL, 10);
	hl = (size_t)(end + 4 - buf);
	if (want > *blen)
		return -1;
	memcpy(body, end + 4, have - hl);
	*blen = have - hl;
	while (*blen < want) {
		if (poll(&p, 1, 2000) != 1 ||
		    (n = recv(fd, body + *blen, want - *blen, 0)) <= 0)
			return -1;
		*blen += (size_t)n;
	}
	return 0;
}

static void
serve(int fd)
{
	static const char redirect[] = "HTTP/1.1 302 Found\r\nLocation: "
	    "file:///etc/hostname\r\nContent-Length: 0\r\n\r\n";
	static unsigned char body[65536];
	char path[256];
	unsigned char *resp = NULL;
	size_t blen = sizeof(body), rlen = 0;
	enum path p;

	if (read_request(fd, path, sizeof(path), body, &blen) != 0) {
		close(fd);
		return;
	}
	for (p = 0; p < P_OTHER && strcmp(path, paths[p]) != 0; p++)
		;
	pthread_mutex_lock(&S.lock);
	S.hits[p]++;
	if (p == P_HANG && S.nhang < MAX_HANG) {
		S.hang[S.nhang++] = fd;		/* never answered */
		pthread_mutex_unlock(&S.lock);
		return;
	}
	if (p == P_CRL || p == P_STALE) {
		rlen = p == P_CRL ? S.crllen : S.stalelen;
		if ((resp = malloc(rlen)) != NULL)
			memcpy(resp, p == P_CRL ? S.crl : S.stale, rlen);
	}
	pthread_mutex_unlock(&S.lock);
	if (resp != NULL)
		respond(fd, 200, "application/pkix-crl", resp, rlen);
	else if (p == P_HUGE || p == P_HUGE_CL)
		respond_huge(fd, p == P_HUGE_CL);
	else if (p == P_REDIR)
		send_all(fd, redirect, strlen(redirect));
	else if ((p == P_OCSP || p == P_NODELEG) && ocsp_answer(body, blen,
	    p == P_NODELEG, &resp, &rlen) == 0)
		respond(fd, 200, "application/ocsp-response", resp, rlen);
	else
		respond(fd, 404, "text/plain", "no\n", 3);
	free(resp);
	close(fd);
}

static void *
server(void *arg)
{
	struct pollfd p = { .fd = S.lfd, .events = POLLIN };
	int fd, stop = 0;

	(void)arg;
	while (!stop) {
		if (poll(&p, 1, 50) == 1 &&
		    (fd = accept(S.lfd, NULL, NULL)) >= 0)
			serve(fd);
		pthread_mutex_lock(&S.lock);
		stop = S.stop;
		pthread_mutex_unlock(&S.lock);
	}
	return NULL;
}

/* A loopback socket on a port in 40000-49999 derived from the pid. */
static int
bind_port(int listening, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd, i, one = 1;
	unsigned base = 40000 + ((unsigned)getpid() * 7u + (listening ? 0 :
	    3u)) % 10000u;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 50; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		*port = (int)(40000 +
		    (base - 40000 + (unsigned)i * 11u) % 10000u);
		a.sin_port = htons((uint16_t)*port);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    (!listening || listen(fd, 16) == 0))
			return fd;
		close(fd);
	}
	return -1;
}

/* ---- the test CA -------------------------------------------------------- */

static int
add_conf(X509 *c, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX v;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&v, issuer, c, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &v, nid, val)) == NULL)
		return 0;
	ok = X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

/*
 * A certificate: CA when ku is NULL and serial 1; cdp/aia paths on the
 * server (a path starting with ':' means the dead port); eku optional.
 */
static X509 *
mkcert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *ikey, const char *cdp, const char *aia, const char *eku)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	time_t now = time(NULL);
	char v[256];
	int ca = issuer == NULL, ok;

	if (c == NULL || n == NULL)
		goto fail;
	ok = X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_set_version(c, 2) == 1 &&
	    ASN1_INTEGER_set(X509_get_serialNumber(c), serial) == 1 &&
	    X509_set_subject_name(c, n) == 1 &&
	    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) :
	    n) == 1 &&
	    X509_time_adj_ex(X509_getm_notBefore(c), -1, 0, &now) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(c), 30, 0, &now) != NULL &&
	    X509_set_pubkey(c, key) == 1;
	issuer = issuer ? issuer : c;
	ok = ok && add_conf(c, issuer, NID_basic_constraints, ca ?
	    "critical,CA:TRUE" : "critical,CA:FALSE") &&
	    add_conf(c, issuer, NID_key_usage, ca ?
	    "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
	    add_conf(c, issuer, NID_subject_key_identifier, "hash") &&
	    add_conf(c, issuer, NID_authority_key_identifier, "keyid:always");
	if (ok && cdp != NULL) {
		snprintf(v, sizeof(v), "URI:http://127.0.0.1:%d%s",
		    cdp[0] == ':' ? S.dead_port : S.port,
		    cdp + (cdp[0] == ':'));
		ok = add_conf(c, issuer, NID_crl_distribution_points, v);
	}
	if (ok && aia != NULL) {
		snprintf(v, sizeof(v), "OCSP;URI:http://127.0.0.1:%d%s",
		    aia[0] == ':' ? S.dead_port : S.port,
		    aia + (aia[0] == ':'));
		ok = add_conf(c, issuer, NID_info_access, v);
	}
	if (ok && eku != NULL)
		ok = add_conf(c, issuer, NID_ext_key_usage, eku);
	if (ok && X509_sign(c, ikey ? ikey : key, EVP_sha256()) > 0) {
		X509_NAME_free(n);
		return c;
	}
 fail:
	X509_free(c);
	X509_NAME_free(n);
	return NULL;
}

/* A DER CRL by the CA; revoked serial (0: none) with reason keyCompromise. */
static unsigned char *
mkcrl(long this_off, long next_off, long serial, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *r = NULL;
	ASN1_TIME *tu = ASN1_TIME_adj(NULL, time(NULL), 0, this_off);
	ASN1_TIME *nu = ASN1_TIME_adj(NULL, time(NULL), 0, next_off);
	ASN1_TIME *rt = ASN1_TIME_set(NULL, F.revoked_at);
	ASN1_INTEGER *s = ASN1_INTEGER_new();
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
	unsigned char *der = NULL;
	int n = -1;

	if (crl == NULL || tu == NULL || nu == NULL || rt == NULL ||
	    s == NULL || e == NULL || X509_CRL_set_version(crl, 1) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(F.ca)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, tu) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, nu) != 1)
		goto out;
	if (serial != 0) {
		if ((r = X509_REVOKED_new()) == NULL ||
		    ASN1_INTEGER_set(s, serial) != 1 ||
		    X509_REVOKED_set_serialNumber(r, s) != 1 ||
		    X509_REVOKED_set_revocationDate(r, rt) != 1 ||
		    ASN1_ENUMERATED_set(e, 1) != 1 ||
		    X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0,
		    0) != 1 ||
		    X509_CRL_add0_revoked(crl, r) != 1)
			goto out;
		r = NULL;
	}
	if (X509_CRL_sort(crl) == 1 && X509_CRL_sign(crl, F.kca,
	    EVP_sha256()) > 0)
		n = i2d_X509_CRL(crl, &der);
 out:
	X509_REVOKED_free(r);
	X509_CRL_free(crl);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_TIME_free(rt);
	ASN1_INTEGER_free(s);
	ASN1_ENUMERATED_free(e);
	if (n <= 0)
		return NULL;
	*len = (size_t)n;
	return der;
}

static int
write_pem(const char *name, X509 *x, EVP_PKEY *k)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", F.dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL,
	    0, NULL, NULL);
	fclose(f);
	return ok == 1 ? 0 : -1;
}

/* openssl ca's database: one line per certificate. */
static int
write_index(void)
{
	static const long good[] = { 0x2001, 0x3003 };
	char path[128], rev[32], exp[16] = "351231000000Z";
	struct tm tm;
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/index.txt", F.dir);
	gmtime_r(&F.revoked_at, &tm);
	/* UTCTime, two-digit year, as openssl ca writes it */
	snprintf(rev, sizeof(rev), "%02d%02d%02d%02d%02d%02dZ",
	    tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		fprintf(f, "V\t%s\t\t%04lX\tunknown\t/CN=leaf%04lX\n", exp,
		    good[i], good[i]);
	fprintf(f, "R\t%s\t%s,keyCompromise\t2002\tunknown\t/CN=leaf2002\n",
	    exp, rev);
	fclose(f);
	return 0;
}

static int
make_leaves(void)
{
	F.crl_good = mkcert("crl good", 0x1001, F.kleaf, F.ca, F.kca,
	    "/ca.crl", NULL, NULL);
	F.crl_revoked = mkcert("crl revoked", 0x1002, F.kleaf, F.ca, F.kca,
	    "/ca.crl", NULL, NULL);
	F.ocsp_good = mkcert("ocsp good", 0x2001, F.kleaf, F.ca, F.kca,
	    NULL, "/ocsp", NULL);
	F.ocsp_revoked = mkcert("ocsp revoked", 0x2002, F.kleaf, F.ca, F.kca,
	    NULL, "/ocsp", NULL);
	F.down = mkcert("down", 0x2003, F.kleaf, F.ca, F.kca, ":/ca.crl",
	    ":/ocsp", NULL);
	F.stale = mkcert("stale", 0x1003, F.kleaf, F.ca, F.kca, "/stale.crl",
	    NULL, NULL);
	F.huge = mkcert("huge", 0x1004, F.kleaf, F.ca, F.kca, "/huge.crl",
	    NULL, NULL);
	F.huge_cl = mkcert("huge announced", 0x1005, F.kleaf, F.ca, F.kca,
	    "/huge-cl.crl", NULL, NULL);
	F.hang = mkcert("hang", 0x2004, F.kleaf, F.ca, F.kca, NULL, "/hang",
	    NULL);
	F.nodeleg_leaf = mkcert("nodeleg", 0x3003, F.kleaf, F.ca, F.kca, NULL,
	    "/ocsp-nodeleg", NULL);
	F.stranger = mkcert("stranger", 0x4001, F.kleaf, F.other, F.kother,
	    "/ca.crl", "/ocsp", NULL);
	F.bare = mkcert("bare", 0x1002, F.kleaf, F.ca, F.kca, NULL, NULL,
	    NULL);
	return F.crl_good && F.crl_revoked && F.ocsp_good && F.ocsp_revoked &&
	    F.down && F.stale && F.huge && F.huge_cl && F.hang &&
	    F.nodeleg_leaf && F.stranger && F.bare ? 0 : -1;
}

static int
group_setup(void **state)
{
	(void)state;
	snprintf(F.dir, sizeof(F.dir), "/tmp/gw-test-rev-XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	F.have_openssl = access("/usr/bin/openssl", X_OK) == 0;
	F.revoked_at = time(NULL) - 2 * 3600;
	if ((S.lfd = bind_port(1, &S.port)) < 0 ||
	    (S.dead_fd = bind_port(0, &S.dead_port)) < 0)
		return -1;
	if ((F.kca = EVP_EC_gen("P-256")) == NULL ||
	    (F.krsp = EVP_EC_gen("P-256")) == NULL ||
	    (F.kleaf = EVP_EC_gen("P-256")) == NULL ||
	    (F.kother = EVP_EC_gen("P-256")) == NULL)
		return -1;
	F.ca = mkcert("Revocation Test CA", 1, F.kca, NULL, NULL, NULL, NULL,
	    NULL);
	F.other = mkcert("Untrusted CA", 1, F.kother, NULL, NULL, NULL, NULL,
	    NULL);
	F.rsp = mkcert("OCSP responder", 0x5001, F.krsp, F.ca, F.kca, NULL,
	    NULL, "OCSPSigning");
	F.nodeleg = mkcert("not a responder", 0x5002, F.krsp, F.ca, F.kca,
	    NULL, NULL, NULL);
	if (F.ca == NULL || F.other == NULL || F.rsp == NULL ||
	    F.nodeleg == NULL || make_leaves() != 0 ||
	    (F.store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(F.store, F.ca) != 1 ||
	    write_pem("ca.pem", F.ca, NULL) || write_pem("rsp.pem", F.rsp,
	    NULL) || write_pem("nodeleg.pem", F.nodeleg, NULL) ||
	    write_pem("rsp.key", NULL, F.krsp) || write_index() != 0)
		return -1;
	S.crl = mkcrl(-3600, 7 * DAY, 0x1002, &S.crllen);
	S.stale = mkcrl(-8 * DAY, -DAY, 0, &S.stalelen);
	if (S.crl == NULL || S.stale == NULL ||
	    pthread_create(&S.thr, NULL, server, NULL) != 0)
		return -1;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_teardown(void **state)
{
	X509 **all[] = { &F.ca, &F.rsp, &F.nodeleg, &F.other, &F.crl_good,
	    &F.crl_revoked, &F.ocsp_good, &F.ocsp_revoked, &F.down, &F.stale,
	    &F.huge, &F.huge_cl, &F.hang, &F.nodeleg_leaf, &F.stranger,
	    &F.bare };
	size_t i;

	(void)state;
	pthread_mutex_lock(&S.lock);
	S.stop = 1;
	pthread_mutex_unlock(&S.lock);
	pthread_join(S.thr, NULL);
	for (i = 0; i < (size_t)S.nhang; i++)
		close(S.hang[i]);
	close(S.lfd);
	close(S.dead_fd);
	OPENSSL_free(S.crl);
	OPENSSL_free(S.stale);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		X509_free(*all[i]);
	X509_STORE_free(F.store);
	EVP_PKEY_free(F.kca);
	EVP_PKEY_free(F.krsp);
	EVP_PKEY_free(F.kleaf);
	EVP_PKEY_free(F.kother);
	nftw(F.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

struct env {
	struct rev_cache *rc;
	struct chain_ctx ctx;
	struct chain_report rep;
};

static void
env_init(struct env *e, enum rev_policy pol, const struct rev_config *cfg)
{
	struct rev_config def = { .timeout_ms = 2000 };

	memset(e, 0, sizeof(*e));
	reset_hits();
	assert_int_equal(rev_cache_new(cfg ? cfg : &def, &e->rc), 0);
	e->ctx.trust = F.store;
	e->ctx.revocation = pol;
	e->ctx.rev = e->rc;
}

static int
run(struct env *e, X509 *leaf)
{
	int r = chain_verify_ex(&e->ctx, leaf, NULL, 0, CHAIN_USAGE_SIGN,
	    &e->rep);

	if (getenv("GW_TEST_VERBOSE") != NULL)
		chain_report_print(&e->rep, stderr);
	return r;
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

#define NEED_OPENSSL() do {						\
	if (!F.have_openssl) {						\
		fprintf(stderr, "openssl command missing\n");		\
		skip();							\
	}								\
} while (0)

/* ---- CRLs --------------------------------------------------------------- */

static void
test_crl_good(void **state)
{
	struct env e;
	char url[128];

	(void)state;
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	assert_int_equal(run(&e, F.crl_good), 0);
	assert_int_equal(e.rep.verdict, CHAIN_RESULT_VALID);
	assert_int_equal(e.rep.certs[0].online.method, REV_METHOD_CRL);
	assert_int_equal(e.rep.certs[0].online.status, REV_STATUS_GOOD);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ca.crl", S.port);
	assert_string_equal(e.rep.certs[0].online.source, url);
	assert_true(llabs((long long)(e.rep.certs[0].online.answered -
	    (time(NULL) - 3600))) < 5);
	assert_true(e.rep.certs[0].online.next_update > time(NULL) + 6 * DAY);
	/* the anchor is not asked about */
	assert_int_equal(e.rep.certs[1].online.status, REV_STATUS_NOT_CHECKED);
	assert_int_equal(hits(P_CRL), 1);
	/* the second time the cached CRL answers */
	assert_int_equal(run(&e, F.crl_good), 0);
	assert_int_equal(hits(P_CRL), 1);
	rev_cache_free(e.rc);
}

static void
test_crl_revoked(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	assert_int_equal(run(&e, F.crl_revoked), GW_ERR_CERT_REVOKED);
	assert_int_equal(e.rep.verdict, CHAIN_RESULT_INVALID);
	assert_string_equal(e.rep.reason, "revoked");
	assert_int_equal(e.rep.certs[0].offline, CHAIN_RESULT_VALID);
	assert_int_equal(e.rep.certs[0].online.method, REV_METHOD_CRL);
	assert_int_equal(e.rep.certs[0].online.status, REV_STATUS_REVOKED);
	assert_int_equal(e.rep.certs[0].online.revoked_at, F.revoked_at);
	assert_int_equal(e.rep.certs[0].online.reason, 1);
	assert_string_equal(rev_reason_name(e.rep.certs[0].online.reason),
	    "keyCompromise");
	assert_non_null(strstr(e.rep.detail, "keyCompromise"));
	/* revoked is revoked under "prefer" too */
	e.ctx.revocation = REV_POLICY_PREFER;
	assert_int_equal(run(&e, F.crl_revoked), GW_ERR_CERT_REVOKED);
	rev_cache_free(e.rc);
}

static void
test_stale_crl(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	assert_int_equal(run(&e, F.stale), GW_ERR_CERT_UNTRUSTED);
	assert_int_equal(e.rep.verdict, CHAIN_RESULT_INDETERMINATE);
	assert_string_equal(e.rep.reason, "revocation-unavailable");
	assert_int_equal(e.rep.certs[0].online.status, REV_STATUS_UNAVAILABLE);
	assert_string_equal(e.rep.certs[0].online.code, "stale");
	assert_int_equal(hits(P_STALE), 1);
	/* prefer: accepted, with the warning; not fetched again at once */
	e.ctx.revocation = REV_POLICY_PREFER;
	assert_int_equal(run(&e, F.stale), 0);
	assert_int_equal(e.rep.nwarnings, 1);
	assert_string_equal(e.rep.warnings[0].code, "revocation-unavailable");
	assert_non_null(strstr(e.rep.warnings[0].text, "stale"));
	assert_int_equal(hits(P_STALE), 1);
	rev_cache_free(e.rc);
}

static void
test_crl_too_large(void **state)
{
	struct rev_config cfg = { .max_crl_size = 64 * 1024,
	    .timeout_ms = 3000 };
	struct timespec t0;
	struct env e;

	(void)state;
	env_init(&e, REV_POLICY_REQUIRE, &cfg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* announced by Content-Length: refused before the body */
	assert_int_equal(run(&e, F.huge_cl), GW_ERR_CERT_UNTRUSTED);
	assert_string_equal(e.rep.certs[0].online.code, "too-large");
	/* streamed without a length: cut off at the limit */
	assert_int_equal(run(&e, F.huge), GW_ERR_CERT_UNTRUSTED);
	assert_string_equal(e.rep.certs[0].online.code, "too-large");
	assert_int_equal(e.rep.verdict, CHAIN_RESULT_INDETERMINATE);
	assert_true(elapsed_ms(&t0) < 2500);
	assert_int_equal(hits(P_HUGE), 1);
	rev_cache_free(e.rc);
}

/* Configured CRLs: a file, file://, refused schemes. */
static void
test_local_crl_file(void **state)
{
	struct env e;
	struct rev_config cfg = { .no_fetch = 1 };
	char path[128], url[160], label[160];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/local.crl", F.dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(S.crl, 1, S.crllen, f), S.crllen);
	fclose(f);
	env_init(&e, REV_POLICY_REQUIRE, &cfg);
	snprintf(url, sizeof(url), "file://%s", path);
	assert_int_equal(rev_cache_add_source(e.rc, url), 0);
	assert_int_equal(run(&e, F.bare), GW_ERR_CERT_REVOKED);
	snprintf(label, sizeof(label), "file:%s", path);
	assert_string_equal(e.rep.certs[0].online.source, label);
	assert_int_equal(e.rep.certs[0].online.revoked_at, F.revoked_at);
	/* the CA's good certificate, through the same local CRL */
	assert_int_equal(run(&e, F.crl_good), 0);
	assert_int_equal(hits(P_CRL), 0);	/* no_fetch: never asked */
	assert_int_equal(rev_cache_add_source(e.rc, "ftp://x/y.crl"),
	    GW_ERR_INVALID);
	assert_int_equal(rev_cache_add_source(e.rc, "file://host/y.crl"),
	    GW_ERR_INVALID);
	assert_int_equal(rev_cache_add_source(e.rc, "/nonexistent/y.crl"),
	    GW_ERR_IO);
	rev_cache_free(e.rc);
}

/* ---- OCSP --------------------------------------------------------------- */

static void
test_ocsp_good(void **state)
{
	struct rev_config cfg = { .timeout_ms = 3000, .ocsp_nonce = 1 };
	struct env e;
	char url[128];

	(void)state;
	NEED_OPENSSL();
	env_init(&e, REV_POLICY_REQUIRE, &cfg);
	assert_int_equal(run(&e, F.ocsp_good), 0);
	assert_int_equal(e.rep.certs[0].online.method, REV_METHOD_OCSP);
	assert_int_equal(e.rep.certs[0].online.status, REV_STATUS_GOOD);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ocsp", S.port);
	assert_string_equal(e.rep.certs[0].online.source, url);
	assert_true(llabs((long long)(e.rep.certs[0].online.answered -
	    time(NULL))) < 30);
	assert_true(e.rep.certs[0].online.next_update > time(NULL) + 500);
	assert_int_equal(hits(P_OCSP), 1);
	assert_int_equal(run(&e, F.ocsp_good), 0);
	assert_int_equal(hits(P_OCSP), 1);	/* cached until nextUpdate */
	rev_cache_free(e.rc);
}

static void
test_ocsp_revoked(void **state)
{
	struct env e;

	(void)state;
	NEED_OPENSSL();
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	assert_int_equal(run(&e, F.ocsp_revoked), GW_ERR_CERT_REVOKED);
	assert_string_equal(e.rep.reason, "revoked");
	assert_int_equal(e.rep.certs[0].online.method, REV_METHOD_OCSP);
	assert_int_equal(e.rep.certs[0].online.status, REV_STATUS_REVOKED);
	assert_int_equal(e.rep.certs[0].online.revoked_at, F.revoked_at);
	assert_int_equal(e.rep.certs[0].online.reason, 1);
	rev_cache_free(e.rc);
}

/* An operator's local CRL that revokes beats the responder's "good". */
static void
test_local_crl_beats_ocsp(void **state)
{
	struct env e;
	X509_CRL *crl;
	const unsigned char *p;
	unsigned char *der;
	size_t len;

	(void)state;
	NEED_OPENSSL();
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	assert_int_equal(run(&e, F.ocsp_good), 0);
	assert_non_null(der = mkcrl(-30, DAY, 0x2001, &len));
	p = der;
	assert_non_null(crl = d2i_X509_CRL(NULL, &p, (long)len));
	assert_int_equal(rev_cache_add_crl(e.rc, crl, "emergency"), 0);
	assert_int_equal(run(&e, F.ocsp_good), GW_ERR_CERT_REVOKED);
	assert_int_equal(e.rep.certs[0].online.method, REV_METHOD_CRL);
	assert_string_equal(e.rep.certs[0].online.source, "emergency");
	assert_int_equal(hits(P_OCSP), 1);	/* the cached "good" was used */
	X509_CRL_free(crl);
	OPENSSL_free(der);
	rev_cache_free(e.rc);
}

/* Signed by a certificate of the CA that is not an OCSP responder. */
static void
test_ocsp_not_delegated(void **state)
{
	struct env e;

	(void)state;
	NEED_OPENSSL();
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	assert_int_equal(run(&e, F.nodeleg_leaf), GW_ERR_CERT_UNTRUSTED);
	assert_int_equal(e.rep.verdict, CHAIN_RESULT_INDETERMINATE);
	assert_string_equal(e.rep.certs[0].online.code, "bad-signature");
	assert_int_equal(hits(P_NODELEG), 1);
	rev_cache_free(e.rc);
}

static void
test_responder_down(void **state)
{
	struct timespec t0;
	struct env e;

	(void)state;
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(run(&e, F.down), GW_ERR_CERT_UNTRUSTED);
	assert_int_equal(e.rep.verdict, CHAIN_RESULT_INDETERMINATE);
	assert_string_equal(e.rep.reason, "revocation-unavailable");
	assert_int_equal(e.rep.certs[0].offline, CHAIN_RESULT_VALID);
	assert_int_equal(e.rep.certs[0].online.status, REV_STATUS_UNAVAILABLE);
	assert_string_equal(e.rep.certs[0].online.code, "unreachable");
	/* both were tried: the CRL answer says so, and mentions OCSP */
	assert_non_null(strstr(e.rep.certs[0].online.detail, "OCSP"));
	assert_true(elapsed_ms(&t0) < 2000);
	rev_cache_free(e.rc);

	env_init(&e, REV_POLICY_PREFER, NULL);
	assert_int_equal(run(&e, F.down), 0);
	assert_int_equal(e.rep.verdict, CHAIN_RESULT_VALID);
	assert_int_equal(e.rep.nwarnings, 1);
	assert_string_equal(e.rep.warnings[0].code, "revocation-unavailable");
	assert_int_equal(e.rep.warnings[0].depth, 0);
	/* a failing source is not hammered: the second try is instant */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(run(&e, F.down), 0);
	assert_string_equal(e.rep.certs[0].online.code, "unreachable");
	assert_true(elapsed_ms(&t0) < 500);
	rev_cache_free(e.rc);
}

static void
test_responder_timeout(void **state)
{
	struct rev_config cfg = { .timeout_ms = 600,
	    .connect_timeout_ms = 500 };
	struct timespec t0;
	struct env e;
	long ms;

	(void)state;
	env_init(&e, REV_POLICY_REQUIRE, &cfg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(run(&e, F.hang), GW_ERR_CERT_UNTRUSTED);
	ms = elapsed_ms(&t0);
	assert_true(ms >= 500);
	assert_true(ms < 3000);
	assert_int_equal(e.rep.certs[0].online.method, REV_METHOD_OCSP);
	assert_string_equal(e.rep.certs[0].online.code, "unreachable");
	assert_non_null(strstr(e.rep.certs[0].online.detail, "imed out"));
	assert_int_equal(hits(P_HANG), 1);
	rev_cache_free(e.rc);
}

/* ---- what may be fetched ------------------------------------------------ */

/* A certificate that does not chain to a trusted CA: nothing is fetched. */
static void
test_never_fetch_for_untrusted(void **state)
{
	struct env e;
	int p;

	(void)state;
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	assert_int_equal(run(&e, F.stranger), GW_ERR_CERT_UNTRUSTED);
	assert_string_equal(e.rep.reason, "untrusted");
	for (p = 0; p < P_N; p++)
		assert_int_equal(hits((enum path)p), 0);
	assert_int_equal(e.rep.certs[0].online.status, REV_STATUS_NOT_CHECKED);
	rev_cache_free(e.rc);
}

static void
test_fetch_rules(void **state)
{
	struct fetch_opts o = { .timeout_ms = 2000, .max_size = 1024 };
	unsigned char *body = NULL;
	size_t len = 0;
	char url[128], err[128];

	(void)state;
	assert_true(fetch_url_allowed("http://ca.example/x.crl"));
	assert_true(fetch_url_allowed("HTTP://127.0.0.1:8080/a?b"));
	assert_false(fetch_url_allowed("https://ca.example/x.crl"));
	assert_false(fetch_url_allowed("file:///etc/passwd"));
	assert_false(fetch_url_allowed("ldap://ca.example/cn=x"));
	assert_false(fetch_url_allowed("http://user:pw@ca.example/x"));
	assert_false(fetch_url_allowed("http:///x"));
	assert_false(fetch_url_allowed("http://ca.example/a b"));
	assert_true(fetch_url_allowed("http://ca.example/a@b"));
	reset_hits();
	/* a redirect to another scheme is not followed */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect", S.port);
	assert_int_not_equal(fetch_url(url, &o, NULL, NULL, 0, &body, &len,
	    err, sizeof(err)), 0);
	assert_null(body);
	assert_int_equal(hits(P_REDIR), 1);
	/* only 200 is an answer */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nothing", S.port);
	assert_int_equal(fetch_url(url, &o, NULL, NULL, 0, &body, &len, err,
	    sizeof(err)), GW_ERR_IO);
	assert_string_equal(err, "HTTP status 404");
	assert_int_equal(fetch_url("file:///etc/hostname", &o, NULL, NULL, 0,
	    &body, &len, err, sizeof(err)), GW_ERR_INVALID);
	/* within the limit: the bytes */
	o.max_size = 1 << 20;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ca.crl", S.port);
	assert_int_equal(fetch_url(url, &o, NULL, NULL, 0, &body, &len, err,
	    sizeof(err)), 0);
	assert_int_equal(len, S.crllen);
	assert_memory_equal(body, S.crl, len);
	free(body);
}

/* ---- renewal ------------------------------------------------------------ */

static void
test_refresh_ahead(void **state)
{
	struct env e;
	unsigned char *old, *fresh;
	size_t oldlen, freshlen;
	unsigned long gen;

	(void)state;
	NEED_OPENSSL();
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	/* each used twice: fetched, then served from the cache */
	assert_int_equal(run(&e, F.crl_good), 0);
	assert_int_equal(run(&e, F.crl_good), 0);
	assert_int_equal(run(&e, F.ocsp_good), 0);
	assert_int_equal(run(&e, F.ocsp_good), 0);
	assert_int_equal(hits(P_CRL), 1);
	assert_int_equal(hits(P_OCSP), 1);
	/* nothing is due now */
	assert_int_equal(rev_cache_refresh(e.rc, time(NULL)), 0);
	/* in ten minutes the OCSP answer (nextUpdate +10 min) is due */
	assert_int_equal(rev_cache_refresh(e.rc, time(NULL) + 590), 1);
	assert_int_equal(hits(P_OCSP), 2);
	assert_int_equal(hits(P_CRL), 1);
	/* the CA publishes a new CRL; a minute before nextUpdate it renews */
	assert_non_null(fresh = mkcrl(-60, 7 * DAY, 0x1002, &freshlen));
	pthread_mutex_lock(&S.lock);
	old = S.crl;
	oldlen = S.crllen;
	S.crl = fresh;
	S.crllen = freshlen;
	pthread_mutex_unlock(&S.lock);
	gen = rev_cache_generation(e.rc);
	/* the OCSP answer was not used since its renewal: left alone */
	assert_int_equal(rev_cache_refresh(e.rc, time(NULL) + 7 * DAY - 60), 1);
	assert_int_equal(hits(P_CRL), 2);
	assert_int_equal(hits(P_OCSP), 2);
	assert_true(rev_cache_generation(e.rc) != gen);
	/* the renewed CRL is used without another fetch */
	assert_int_equal(run(&e, F.crl_good), 0);
	assert_true(llabs((long long)(e.rep.certs[0].online.answered -
	    (time(NULL) - 60))) < 5);
	assert_int_equal(hits(P_CRL), 2);
	/* the refresher thread starts and stops promptly */
	assert_int_equal(rev_refresher_start(e.rc, 1), 0);
	assert_int_equal(rev_refresher_start(e.rc, 1), GW_ERR_STATE);
	rev_refresher_stop(e.rc);
	rev_cache_free(e.rc);
	pthread_mutex_lock(&S.lock);
	S.crl = old;
	S.crllen = oldlen;
	pthread_mutex_unlock(&S.lock);
	OPENSSL_free(fresh);
}

/* The chain cache forgets a good result when the CRL changes. */
static void
test_cache_follows_revocation(void **state)
{
	struct certcache *cc;
	struct env e;
	X509_CRL *crl;
	const unsigned char *p;
	unsigned char *der;
	size_t len;

	(void)state;
	env_init(&e, REV_POLICY_REQUIRE, NULL);
	assert_int_equal(certcache_new(8, 300, &cc), 0);
	e.ctx.cache = cc;
	assert_int_equal(run(&e, F.crl_good), 0);
	assert_int_equal(run(&e, F.crl_good), 0);
	assert_true(e.rep.from_cache);
	/* the operator adds a local CRL that revokes crl_good */
	assert_non_null(der = mkcrl(-30, DAY, 0x1001, &len));
	p = der;
	assert_non_null(crl = d2i_X509_CRL(NULL, &p, (long)len));
	assert_int_equal(rev_cache_add_crl(e.rc, crl, "emergency"), 0);
	assert_int_equal(run(&e, F.crl_good), GW_ERR_CERT_REVOKED);
	assert_false(e.rep.from_cache);
	assert_string_equal(e.rep.certs[0].online.source, "emergency");
	X509_CRL_free(crl);
	OPENSSL_free(der);
	certcache_free(cc);
	rev_cache_free(e.rc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crl_good),
		cmocka_unit_test(test_crl_revoked),
		cmocka_unit_test(test_stale_crl),
		cmocka_unit_test(test_crl_too_large),
		cmocka_unit_test(test_local_crl_file),
		cmocka_unit_test(test_ocsp_good),
		cmocka_unit_test(test_ocsp_revoked),
		cmocka_unit_test(test_local_crl_beats_ocsp),
		cmocka_unit_test(test_ocsp_not_delegated),
		cmocka_unit_test(test_responder_down),
		cmocka_unit_test(test_responder_timeout),
		cmocka_unit_test(test_never_fetch_for_untrusted),
		cmocka_unit_test(test_fetch_rules),
		cmocka_unit_test(test_refresh_ahead),
		cmocka_unit_test(test_cache_follows_revocation),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
