/*
 * cmd_authority.c - gwctl authority serve: the receiving end of push
 * delivery, as an authority without XTA software would run it, and the
 * test peer of the gateway's delivery worker.  docs/authority-serve.md
 * describes the protocol and the options.
 *
 * One thread, one libevent loop: an evconnlistener hands each connection
 * to the gateway's own HTTP layer (gateway/http.c) with a TLS context that
 * requires a client certificate chaining to --client-ca; the check
 * callback then admits only the configured gateway certificate (403
 * otherwise, before the body is read).  A complete request is handled to
 * the end synchronously on the loop:
 *
 *   415 unless application/soap+xml (alone, or as the first part of a
 *     multipart/related push with attachments, docs/attachments.md)
 *   parse (crypto/xmlparse.c limits), the gateway's signature
 *     (authority_verify.c)                          400 / 422 / 413
 *   the parts after the envelope must be the attachments its signed
 *     header lists, in order (Content-ID = Id)     422 ATTACHMENT_MISMATCH
 *   OUT/<id> exists: answer its stored receipt, write nothing
 *   decrypt with the authority's key (crypto/xmlenc.c)      422 CRYPTO_ERROR
 *   unpack (cmd_decrypt.c) and write the parts, the envelope and the
 *     signed receipt into OUT/.tmp-<id>, rename, fsync (authority_store.c);
 *     each attachment decrypted from its spool file into attachments/
 *     and checked against the envelope's entry (authority_attach.c)
 *                                          422 / 503 STORE_ERROR
 *   200 with the receipt
 *
 * Attachment parts never sit in memory: gateway/http.c spools them into
 * OUT/.spool while they arrive (the check callback allows multipart and
 * sets the limit of --max-total); only the envelope part is held, bounded
 * by --max-size.
 *
 * So a 200 always means the parts are durably on disk; anything else means
 * nothing was acknowledged and the gateway should retry (or give up, for a
 * 4xx).  A request that is slow to decrypt holds up the others: this is a
 * test peer and a starting point, not a high-volume receiver.
 *
 * Fault injection (--fail, --fail-first) counts the gateway's POSTs:
 * "500" answers 500 without looking at the request; "garbage" and
 * "badsig" replace what would have been a 200 (the message is stored, so
 * a retry gets the good receipt); "slow" holds every answer back 30 s on a
 * timer (the loop keeps serving).
 *
 * Private keys: the receipt key and the decryption key live in
 * crypto/keys.c; the TLS key is loaded by OpenSSL's SSL_CTX, as in the
 * gateway.  Nothing of a document's content is ever logged.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "authority.h"
#include "chain.h"
#include "err.h"
#include "gwctl.h"
#include "http.h"
#include "keys.h"
#include "pki.h"
#include "render.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlenc.h"
#include "xmlparse.h"

#define DEFAULT_LISTEN	"127.0.0.1:9443"
#define DEFAULT_MAX	((size_t)64 << 20)
#define DEFAULT_TOTAL	((unsigned long long)64 << 30)
#define SLOW_SECONDS	30

#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
#define TLS13_SUITES "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
#define TLS_GROUPS "P-256:P-384:brainpoolP256r1:brainpoolP384r1"
#define TLS_SIGALGS \
	"ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:" \
	"rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:" \
	"rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:" \
	"RSA+SHA256:RSA+SHA384:RSA+SHA512"

static const char authority_help[] =
    "usage: gwctl authority serve --out DIR [--dev DIR [--as NAME]] [OPTIONS]\n\n"
    "Receives the messages a gateway pushes (POST, SOAP 1.2 over HTTPS with\n"
    "the gateway's client certificate): verifies the gateway's signature,\n"
    "decrypts with the authority's key, writes the parts into\n"
    "OUT/<MessageID>/ (submission.xml, inspection-report.xml,\n"
    "attachments/, envelope.xml, receipt.xml) and answers 200 with a signed\n"
    "reception receipt once they are on disk.  Attachments pushed as\n"
    "further parts of a multipart/related request are decrypted in constant\n"
    "memory, checked against the envelope's signed list and stored with\n"
    "the message.  A MessageID already in OUT\n"
    "gets its stored receipt again; nothing is written twice.  Runs until\n"
    "SIGTERM or SIGINT; prints one line per request on stderr.\n\n"
    "Options:\n"
    "  --out DIR            where messages go (created if missing); required\n"
    "  --listen HOST:PORT   address to listen on (default " DEFAULT_LISTEN ")\n"
    "  --dev DIR            development PKI (default: $GWCTL_DEV): every file\n"
    "                       below defaults to DIR/ca.pem, DIR/gateway.pem or\n"
    "                       DIR/NAME.pem and DIR/NAME.key\n"
    "  --as NAME            the authority within --dev (default authority-a)\n"
    "  --name NAME          the Reader named in receipts (default: --as)\n"
    "  --tls-cert FILE      TLS server certificate (PEM, with its chain)\n"
    "  --tls-key FILE       its private key\n"
    "  --client-ca FILE     CAs that client certificates must chain to\n"
    "  --gateway-cert FILE  the gateway's certificate: the only client and\n"
    "                       the only envelope signer accepted\n"
    "  --sign-key FILE      key that signs the receipts\n"
    "  --sign-cert FILE     its certificate (put into the receipts)\n"
    "  --decrypt-key FILE   the authority's decryption key (RSA)\n"
    "  --decrypt-cert FILE  its certificate (optional: picks the matching\n"
    "                       EncryptedKey instead of trying each)\n"
    "  --max-size BYTES     largest envelope, the request body without\n"
    "                       attachments (default 67108864, 64 MiB)\n"
    "  --max-total BYTES    largest push with attachments, all parts\n"
    "                       (default 68719476736, 64 GiB)\n"
    "  --fail MODE          test fault: none, 500, garbage, badsig, slow\n"
    "  --fail-first N       apply --fail to the first N requests only\n"
    "  --help               this text\n";

enum fault { FAULT_NONE, FAULT_500, FAULT_GARBAGE, FAULT_BADSIG, FAULT_SLOW };

static const char *const fault_names[] = {
	[FAULT_NONE] = "none", [FAULT_500] = "500", [FAULT_GARBAGE] = "garbage",
	[FAULT_BADSIG] = "badsig", [FAULT_SLOW] = "slow",
};

enum {
	OPT_OUT = 0x200, OPT_LISTEN, OPT_DEV, OPT_AS, OPT_NAME, OPT_TLS_CERT,
	OPT_TLS_KEY, OPT_CLIENT_CA, OPT_GATEWAY_CERT, OPT_SIGN_KEY,
	OPT_SIGN_CERT, OPT_DEC_KEY, OPT_DEC_CERT, OPT_MAX, OPT_FAIL,
	OPT_FAIL_FIRST, OPT_HELP, OPT_MAX_TOTAL
};

/* File options, in the order of the OPT_TLS_CERT.. codes. */
enum { F_TLS_CERT, F_TLS_KEY, F_CLIENT_CA, F_GATEWAY_CERT, F_SIGN_KEY,
	F_SIGN_CERT, F_DEC_KEY, F_DEC_CERT, NFILES };

static const char *const file_opts[NFILES] = {
	"--tls-cert", "--tls-key", "--client-ca", "--gateway-cert",
	"--sign-key", "--sign-cert", "--decrypt-key", "--decrypt-cert",
};

struct auth_opts {
	const char *out, *listen, *dev, *as, *name;
	char file[NFILES][PATH_MAX];	/* "" = not given */
	char reader[64];
	size_t max_size;
	unsigned long long max_total;
	enum fault fail;
	unsigned long long fail_first;
};

/* An answer held back by --fail slow. */
struct delayed {
	struct delayed *next;
	struct authority *a;
	struct http_conn *conn;
	struct event *ev;
	struct job_resp resp;
};

struct authority {
	struct auth_opts o;
	struct event_base *base;
	struct evconnlistener *listener;
	SSL_CTX *ssl;
	struct http_server conns;
	struct http_limits lim;
	struct xml_limits xlim;
	struct auth_gateway gw;
	struct auth_store store;
	struct keys *sign_key, *dec_key;
	X509 *sign_cert, *dec_cert;
	unsigned long long nreq;	/* the gateway's POSTs so far */
	struct delayed *delayed;
};

/* What became of one request: the answer and the log line. */
struct outcome {
	int status;
	int err;			/* error answers: the GW_ERR_* code */
	char why[240];
	char id[AUTH_ID_LEN + 1];
	const char *result;		/* 200: "stored" or "duplicate" */
	unsigned char *body;		/* 200: the receipt (malloc'd) */
	size_t len;
};

/* ---- options ---- */

/* [A-Za-z0-9._-], not starting with '.', 1 to 63 characters. */
static int
valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 63 || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i]) != NULL))
			return 0;
	return 1;
}

static int
set_file(struct auth_opts *o, int which, const char *arg)
{
	if (arg[0] == '\0')
		return gwctl_usage_err(AUTH_CMD, "%s needs a file name",
		    file_opts[which]);
	if (util_strlcpy(o->file[which], arg, PATH_MAX) >= PATH_MAX)
		return gwctl_usage_err(AUTH_CMD, "the argument of %s is too long",
		    file_opts[which]);
	return 0;
}

static int
set_fault(struct auth_opts *o, const char *arg)
{
	size_t i;

	for (i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++)
		if (strcmp(arg, fault_names[i]) == 0) {
			o->fail = (enum fault)i;
			return 0;
		}
	return gwctl_usage_err(AUTH_CMD, "--fail takes none, 500, garbage, "
	    "badsig or slow, not \"%.40s\"", arg);
}

/* One option; 0, -1 after --help, or GWCTL_USAGE. */
static int
one_option(struct auth_opts *o, int c, const char *arg, char **argv)
{
	unsigned long long v;

	switch (c) {
	case OPT_OUT: o->out = arg; return 0;
	case OPT_LISTEN: o->listen = arg; return 0;
	case OPT_DEV: o->dev = arg; return 0;
	case OPT_AS: o->as = arg; return 0;
	case OPT_NAME: o->name = arg; return 0;
	case OPT_MAX:
		if (gwctl_parse_u64(arg, 1024, (unsigned long long)1 << 30, &v) != 0)
			return gwctl_usage_err(AUTH_CMD, "--max-size takes a number "
			    "of bytes from 1024 to 1073741824");
		o->max_size = (size_t)v;
		return 0;
	case OPT_MAX_TOTAL:
		if (gwctl_parse_u64(arg, 1024, (unsigned long long)1 << 50, &v) != 0)
			return gwctl_usage_err(AUTH_CMD, "--max-total takes a number "
			    "of bytes from 1024 to 2^50");
		o->max_total = v;
		return 0;
	case OPT_FAIL:
		return set_fault(o, arg);
	case OPT_FAIL_FIRST:
		if (gwctl_parse_u64(arg, 0, ULLONG_MAX - 1, &v) != 0)
			return gwctl_usage_err(AUTH_CMD, "--fail-first takes a "
			    "number of requests");
		o->fail_first = v;
		return 0;
	case OPT_HELP:
		fputs(authority_help, stdout);
		return -1;
	}
	if (c >= OPT_TLS_CERT && c <= OPT_DEC_CERT)
		return set_file(o, c - OPT_TLS_CERT, arg);
	return gwctl_bad_option(AUTH_CMD, argv);
}

/* DIR/base.ext into dst unless set; 0 or GWCTL_USAGE. */
static int
dev_file(char *dst, const char *dir, const char *base, const char *ext)
{
	if (dst[0] != '\0')
		return 0;
	if ((size_t)snprintf(dst, PATH_MAX, "%s/%s%s", dir, base, ext) >= PATH_MAX)
		return gwctl_usage_err(AUTH_CMD, "the --dev path is too long");
	return 0;
}

/* --dev defaults, then what must be there. */
static int
finish_options(struct auth_opts *o)
{
	const char *env = getenv("GWCTL_DEV"), *as;
	int i, r = 0;

	if (o->dev == NULL && env != NULL && env[0] != '\0')
		o->dev = env;
	if (o->as != NULL && o->dev == NULL)
		return gwctl_usage_err(AUTH_CMD, "--as needs --dev DIR");
	as = o->as != NULL ? o->as : "authority-a";
	if (!valid_name(as))
		return gwctl_usage_err(AUTH_CMD, "--as takes a party name");
	if (o->dev != NULL &&
	    ((r = dev_file(o->file[F_TLS_CERT], o->dev, as, ".pem")) != 0 ||
	    (r = dev_file(o->file[F_TLS_KEY], o->dev, as, ".key")) != 0 ||
	    (r = dev_file(o->file[F_CLIENT_CA], o->dev, "ca", ".pem")) != 0 ||
	    (r = dev_file(o->file[F_GATEWAY_CERT], o->dev, "gateway", ".pem")) != 0 ||
	    (r = dev_file(o->file[F_SIGN_KEY], o->dev, as, ".key")) != 0 ||
	    (r = dev_file(o->file[F_SIGN_CERT], o->dev, as, ".pem")) != 0 ||
	    (r = dev_file(o->file[F_DEC_KEY], o->dev, as, ".key")) != 0 ||
	    (r = dev_file(o->file[F_DEC_CERT], o->dev, as, ".pem")) != 0))
		return r;
	if (o->name == NULL && o->dev != NULL)
		o->name = as;
	if (o->name == NULL)
		return gwctl_usage_err(AUTH_CMD, "--name is required without --dev");
	if (!valid_name(o->name))
		return gwctl_usage_err(AUTH_CMD, "--name takes letters, digits, "
		    "'.', '_' and '-' (at most 63)");
	util_strlcpy(o->reader, o->name, sizeof(o->reader));
	for (i = 0; i < F_DEC_CERT; i++)	/* --decrypt-cert is optional */
		if (o->file[i][0] == '\0')
			return gwctl_usage_err(AUTH_CMD, "%s is required without "
			    "--dev", file_opts[i]);
	if (o->out == NULL || o->out[0] == '\0')
		return gwctl_usage_err(AUTH_CMD, "--out DIR is required");
	if (o->fail == FAULT_NONE && o->fail_first != ULLONG_MAX)
		return gwctl_usage_err(AUTH_CMD, "--fail-first needs --fail");
	return 0;
}

static int
parse_options(int argc, char **argv, struct auth_opts *o)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "dev", required_argument, NULL, OPT_DEV },
		{ "as", required_argument, NULL, OPT_AS },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "client-ca", required_argument, NULL, OPT_CLIENT_CA },
		{ "gateway-cert", required_argument, NULL, OPT_GATEWAY_CERT },
		{ "sign-key", required_argument, NULL, OPT_SIGN_KEY },
		{ "sign-cert", required_argument, NULL, OPT_SIGN_CERT },
		{ "decrypt-key", required_argument, NULL, OPT_DEC_KEY },
		{ "decrypt-cert", required_argument, NULL, OPT_DEC_CERT },
		{ "max-size", required_argument, NULL, OPT_MAX },
		{ "max-total", required_argument, NULL, OPT_MAX_TOTAL },
		{ "fail", required_argument, NULL, OPT_FAIL },
		{ "fail-first", required_argument, NULL, OPT_FAIL_FIRST },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int c, r;

	o->listen = DEFAULT_LISTEN;
	o->max_size = DEFAULT_MAX;
	o->max_total = DEFAULT_TOTAL;
	o->fail_first = ULLONG_MAX;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		if ((r = one_option(o, c == 'h' ? OPT_HELP : c, optarg, argv)) != 0)
			return r;
	if (optind != argc)
		return gwctl_usage_err(AUTH_CMD, "unexpected argument \"%.60s\"",
		    argv[optind]);
	return finish_options(o);
}

/* ---- set-up ---- */

static int
ssl_fail(const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	ERR_error_string_n(e, buf, sizeof(buf));
	gwctl_err(AUTH_CMD, "%s %s: %s", what, file, e ? buf : "failed");
	ERR_clear_error();
	return GW_ERR_CONFIG;
}

/* As gateway/tls.c (BSI TR-02102-2), but the handshake itself requires a
 * client certificate that verifies against --client-ca. */
static int
tls_ctx(const struct auth_opts *o, SSL_CTX **out)
{
	const char *ca = o->file[F_CLIENT_CA];
	STACK_OF(X509_NAME) *names;
	SSL_CTX *ctx;
	int r = GW_ERR_CONFIG;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return ssl_fail("cannot create a TLS context", "");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
	    (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 &&
	    SSL_CTX_set1_groups_list(ctx, "P-256:P-384") != 1) ||
	    SSL_CTX_set1_sigalgs_list(ctx, TLS_SIGALGS) != 1 ||
	    SSL_CTX_set1_client_sigalgs_list(ctx, TLS_SIGALGS) != 1) {
		r = ssl_fail("TLS settings", "");
		goto out;
	}
	ERR_clear_error();
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
	SSL_CTX_set_max_early_data(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, o->file[F_TLS_CERT]) != 1) {
		r = ssl_fail("cannot load the TLS certificate", o->file[F_TLS_CERT]);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, o->file[F_TLS_KEY],
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		r = ssl_fail("cannot load the TLS key", o->file[F_TLS_KEY]);
		goto out;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(ca)) == NULL) {
		r = ssl_fail("cannot load the client CA", ca);
		goto out;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
	    SSL_VERIFY_CLIENT_ONCE, NULL);
	SSL_CTX_set_verify_depth(ctx, 8);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"gwctl-auth",
	    10);
	*out = ctx;
	ctx = NULL;
	r = 0;
 out:
	SSL_CTX_free(ctx);
	return r;
}

static int
load_key_cert(const char *keyfile, const char *certfile, struct keys **key,
    X509 **cert)
{
	EVP_PKEY *pub;
	int r;

	if ((r = keys_load(keyfile, key)) != 0) {
		gwctl_err(AUTH_CMD, "cannot load the private key %s: %s", keyfile,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		return r;
	}
	if (certfile[0] == '\0')
		return 0;
	if (pki_read_cert(certfile, cert) != 0) {
		gwctl_err(AUTH_CMD, "cannot read a PEM certificate from %s",
		    certfile);
		return GW_ERR_CONFIG;
	}
	pub = keys_public(*key);
	r = EVP_PKEY_eq(pub, X509_get0_pubkey(*cert));
	EVP_PKEY_free(pub);
	if (r != 1) {
		gwctl_err(AUTH_CMD, "the certificate %s does not belong to the key "
		    "%s", certfile, keyfile);
		return GW_ERR_CONFIG;
	}
	return 0;
}

/* The gateway certificate, its DER, and the client CA as a trust store. */
static int
load_gateway(const struct auth_opts *o, struct auth_gateway *gw)
{
	const char *file = o->file[F_GATEWAY_CERT], *ca = o->file[F_CLIENT_CA];
	unsigned char *der = NULL;
	char why[128] = "";
	int len, r;

	if (pki_read_cert(file, &gw->cert) != 0) {
		gwctl_err(AUTH_CMD, "cannot read a PEM certificate from %s", file);
		return GW_ERR_CONFIG;
	}
	if ((len = i2d_X509(gw->cert, &der)) <= 0)
		return ssl_fail("cannot encode", file);
	gw->der = der;
	gw->derlen = (size_t)len;
	if ((gw->trust = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(gw->trust, ca) != 1)
		return ssl_fail("cannot load the client CA", ca);
	if ((r = chain_verify(gw->cert, NULL, gw->trust, 0, CHAIN_USAGE_SIGN, why,
	    sizeof(why))) != 0) {
		gwctl_err(AUTH_CMD, "the gateway certificate %s does not verify "
		    "against %s: %s", file, ca, why[0] ? why : gw_strerror(r));
		return r;
	}
	return 0;
}

static int
load_all(struct authority *a)
{
	const struct auth_opts *o = &a->o;
	int r;

	if ((r = load_gateway(o, &a->gw)) != 0 ||
	    (r = load_key_cert(o->file[F_SIGN_KEY], o->file[F_SIGN_CERT],
	    &a->sign_key, &a->sign_cert)) != 0 ||
	    (r = load_key_cert(o->file[F_DEC_KEY], o->file[F_DEC_CERT],
	    &a->dec_key, &a->dec_cert)) != 0)
		return r;
	if (keys_type(a->dec_key) != EVP_PKEY_RSA) {
		gwctl_err(AUTH_CMD, "the decryption key %s is not an RSA key",
		    o->file[F_DEC_KEY]);
		return GW_ERR_CONFIG;
	}
	if ((r = tls_ctx(o, &a->ssl)) != 0)
		return r;
	return auth_store_open(o->out, &a->store);
}

static void
unload_all(struct authority *a)
{
	SSL_CTX_free(a->ssl);
	X509_free(a->gw.cert);
	OPENSSL_free(a->gw.der);
	X509_STORE_free(a->gw.trust);
	keys_free(a->sign_key);
	keys_free(a->dec_key);
	X509_free(a->sign_cert);
	X509_free(a->dec_cert);
	auth_store_close(&a->store);
}

/* ---- answers ---- */

static void
log_line(const struct outcome *o, enum fault f)
{
	char when[32], line[400], tag[32] = "";

	util_time_iso(util_now_ms(), when);
	if (o->status == 200)
		snprintf(line, sizeof(line), "%s", o->result);
	else
		snprintf(line, sizeof(line), "%s: %s", gw_errcode(o->err), o->why);
	gwctl_sanitize(line);
	if (f != FAULT_NONE)
		snprintf(tag, sizeof(tag), " [fault %s]", fault_names[f]);
	fprintf(stderr, "%s %s %d %s%s\n", when, o->id[0] ? o->id : "-",
	    o->status, line, tag);
}

static void
set_error(struct outcome *o, int status, int err, const char *why)
{
	o->status = status;
	o->err = err;
	util_strlcpy(o->why, why != NULL && why[0] != '\0' ? why :
	    gw_strerror(err), sizeof(o->why));
}

static void
delayed_fire(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg, **pp;

	(void)fd;
	(void)what;
	for (pp = &d->a->delayed; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	http_respond(d->conn, &d->resp);
	free(d->resp.body);
	event_free(d->ev);
	free(d);
}

/* Sends resp now, or in SLOW_SECONDS for --fail slow; takes resp->body. */
static void
send_resp(struct authority *a, struct http_conn *c, struct job_resp *resp,
    enum fault f)
{
	struct timeval tv = { SLOW_SECONDS, 0 };
	struct delayed *d;

	if (f == FAULT_SLOW && (d = calloc(1, sizeof(*d))) != NULL) {
		d->a = a;
		d->conn = c;
		d->resp = *resp;
		if ((d->ev = evtimer_new(a->base, delayed_fire, d)) != NULL &&
		    evtimer_add(d->ev, &tv) == 0) {
			d->next = a->delayed;
			a->delayed = d;
			return;
		}
		if (d->ev != NULL)
			event_free(d->ev);
		free(d);
	}
	http_respond(c, resp);
	free(resp->body);
}

/* The answer for o, after the faults that replace a 200. */
static void
answer(struct authority *a, struct http_conn *c, struct outcome *o,
    enum fault f)
{
	static const char garbage[] = "\x01\x02 this is not a receipt }}}\n";
	struct job_resp resp;
	unsigned char *bad = NULL;

	memset(&resp, 0, sizeof(resp));
	resp.status = o->status;
	resp.content_type = "application/xml";
	if (o->status != 200) {
		if (render_error(o->err, o->why, &resp.body, &resp.body_len) != 0)
			resp.content_type = NULL;
	} else if (f == FAULT_GARBAGE) {
		if ((resp.body = (unsigned char *)strdup(garbage)) != NULL)
			resp.body_len = sizeof(garbage) - 1;
	} else if (f == FAULT_BADSIG &&
	    auth_receipt_corrupt(o->body, o->len, &bad) == 0) {
		resp.body = bad;
		resp.body_len = o->len;
	} else {
		resp.body = o->body;
		resp.body_len = o->len;
		o->body = NULL;
	}
	log_line(o, f);
	send_resp(a, c, &resp, f);
}

/* ---- one request ---- */

static int
soap_type(const char *ct)
{
	static const char want[] = "application/soap+xml";

	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return 0;
	ct += sizeof(want) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* What part_cb needs: the transaction, the envelope's attachment list. */
struct unpack_ctx {
	struct auth_txn *t;
	const struct gwctl_attlist *l;
	int mismatch;			/* the lists differ: why in t->why */
};

/* decrypt_unpack() callback: each part into the temporary directory. */
static int
part_cb(void *arg, enum decrypt_part_kind kind, const char *name,
    const unsigned char *data, size_t len)
{
	struct unpack_ctx *u = arg;
	struct auth_txn *t = u->t;
	int r;

	switch (kind) {
	case DECRYPT_MESSAGE:
		/* the portal signed the list the gateway copied: same? */
		if (u->l->n > 0 && (r = attlist_match_submission(data, len, u->l,
		    t->why, sizeof(t->why))) != 0) {
			u->mismatch = 1;
			return r;
		}
		return auth_txn_write(t, 0, "submission.xml", data, len);
	case DECRYPT_REPORT:
		return auth_txn_write(t, 0, name, data, len);
	case DECRYPT_ATTACHMENT:
		return auth_txn_write(t, 1, name, data, len);
	}
	return GW_ERR_INTERNAL;
}

/* Each pushed attachment into attachments/ of t, checked. */
static int
store_attachments(struct authority *a, struct job_req *req,
    const struct gwctl_attlist *l, struct auth_txn *t, struct outcome *o)
{
	char why[240];
	size_t i;
	int r;

	for (i = 0; i < l->n; i++) {
		r = auth_attach_store(&a->store, t, &req->atts[i], &l->v[i], i,
		    a->dec_key, a->dec_cert, why, sizeof(why));
		if (r == 0)
			continue;
		if (r == GW_ERR_IO || r == GW_ERR_NOMEM || r == GW_ERR_INTERNAL)
			set_error(o, 503, GW_ERR_STORE, why);
		else
			set_error(o, 422, r, why);
		return r;
	}
	return 0;
}

/* Writes parts, attachments, envelope and receipt; OUT/<id> on success. */
static void
store_new(struct authority *a, struct job_req *req,
    const struct gwctl_attlist *l, const unsigned char *plain, size_t plen,
    const char *sha, struct outcome *o)
{
	struct unpack_ctx u;
	struct auth_txn t;
	unsigned char *rc = NULL;
	size_t rclen = 0;
	int r;

	if (auth_txn_begin(&a->store, o->id, &t) != 0) {
		set_error(o, 503, GW_ERR_STORE, t.why);
		return;
	}
	memset(&u, 0, sizeof(u));
	u.t = &t;
	u.l = l;
	if ((r = decrypt_unpack(AUTH_CMD, plain, plen, part_cb, &u)) != 0) {
		if (u.mismatch)
			set_error(o, r == GW_ERR_NOMEM ? 503 : 422, r, t.why);
		else if (t.err != 0)
			set_error(o, 503, GW_ERR_STORE, t.why);
		else
			set_error(o, r == GW_ERR_NOMEM ? 503 : 422, r, "the "
			    "decrypted content is not a valid content container");
		auth_txn_abort(&t);
		return;
	}
	if (store_attachments(a, req, l, &t, o) != 0) {
		auth_txn_abort(&t);
		return;
	}
	if ((r = auth_receipt(o->id, a->o.reader, sha, util_now_ms(), 0,
	    a->sign_key, a->sign_cert, &rc, &rclen)) != 0) {
		set_error(o, r == GW_ERR_NOMEM ? 503 : 500, r,
		    "cannot sign the receipt");
		auth_txn_abort(&t);
		return;
	}
	/* A failed write sticks in t.err, and auth_txn_commit() reports it. */
	(void)auth_txn_write(&t, 0, "envelope.xml", req->body, req->body_len);
	(void)auth_txn_write(&t, 0, "receipt.xml", rc, rclen);
	if ((r = auth_txn_commit(&t)) == 0) {
		o->status = 200;
		o->result = "stored";
		o->body = rc;
		o->len = rclen;
		return;
	}
	free(rc);
	if (r == GW_ERR_DUPLICATE && auth_store_find(&a->store, o->id, &o->body,
	    &o->len, o->why, sizeof(o->why)) == 0) {
		o->status = 200;
		o->result = "duplicate";
		return;
	}
	set_error(o, 503, GW_ERR_STORE, t.why);
}

/* A verified envelope whose id is not in OUT yet. */
static void
deliver(struct authority *a, struct job_req *req,
    const struct gwctl_attlist *l, xmlNodePtr enc, const char *sha,
    struct outcome *o)
{
	unsigned char *plain = NULL;
	size_t plen = 0;
	char why[200];
	int r;

	r = xmlenc_decrypt(enc, a->dec_key, a->dec_cert, a->o.max_size, &plain,
	    &plen);
	if (r != 0) {
		snprintf(why, sizeof(why), "the content does not decrypt with "
		    "this authority's key: %s", r == GW_ERR_NOT_FOUND ?
		    "no EncryptedKey is for its certificate" : gw_strerror(r));
		if (r == GW_ERR_NOMEM)
			set_error(o, 503, r, NULL);
		else
			set_error(o, 422, GW_ERR_CRYPTO, why);
		return;
	}
	store_new(a, req, l, plain, plen, sha, o);
	/* the plaintext is personal data: wipe it, not only free it */
	OPENSSL_clear_free(plain, plen);
}

/* OUT/<id> exists: its receipt, or (if it has none) a new one saying
 * Duplicate, stored there first. */
static int
known(struct authority *a, const char *sha, struct outcome *o)
{
	int r;

	r = auth_store_find(&a->store, o->id, &o->body, &o->len, o->why,
	    sizeof(o->why));
	if (r == GW_ERR_NOT_FOUND)
		return 0;
	if (r == GW_ERR_STATE &&
	    (r = auth_receipt(o->id, a->o.reader, sha, util_now_ms(), 1,
	    a->sign_key, a->sign_cert, &o->body, &o->len)) == 0 &&
	    (r = auth_store_add_receipt(&a->store, o->id, o->body, o->len,
	    o->why, sizeof(o->why))) != 0) {
		free(o->body);
		o->body = NULL;
	}
	if (r != 0)
		set_error(o, 503, GW_ERR_STORE, o->why);
	else {
		o->status = 200;
		o->result = "duplicate";
	}
	return 1;
}

/* The parts after the envelope against its signed list l. */
static int
check_parts(const struct job_req *req, const struct gwctl_attlist *l,
    struct outcome *o)
{
	char why[200];
	size_t i;

	if (req->natts != l->n) {
		snprintf(why, sizeof(why), "the envelope lists %zu attachment(s), "
		    "the request carries %zu", l->n, req->natts);
		set_error(o, 422, GW_ERR_ATTACHMENT, why);
		return GW_ERR_ATTACHMENT;
	}
	for (i = 0; i < l->n; i++)
		if (strcmp(req->atts[i].content_id, l->v[i].id) != 0) {
			snprintf(why, sizeof(why), "part %zu is \"%.64s\", but the "
			    "envelope lists %s there", i + 2,
			    req->atts[i].content_id, l->v[i].id);
			set_error(o, 422, GW_ERR_ATTACHMENT, why);
			return GW_ERR_ATTACHMENT;
		}
	return 0;
}

static void
process(struct authority *a, struct job_req *req, struct outcome *o)
{
	struct gwctl_attlist *l = NULL;
	xmlDocPtr doc = NULL;
	xmlNodePtr enc = NULL;
	char sha[65];
	int r;

	if (!soap_type(req->multipart ? req->xml_type : req->content_type)) {
		set_error(o, 415, GW_ERR_UNSUPPORTED_MEDIA, req->multipart ?
		    "the first part must be application/soap+xml" :
		    "the body must be application/soap+xml");
		return;
	}
	if ((r = xmlparse_safe((const char *)req->body, req->body_len, &a->xlim,
	    &doc)) != 0) {
		set_error(o, gw_httpstatus(r), r, NULL);
		return;
	}
	if ((r = auth_verify_envelope(doc, &a->gw, o->id, &enc, o->why,
	    sizeof(o->why))) != 0) {
		set_error(o, r == GW_ERR_NOMEM ? 503 : gw_httpstatus(r), r, o->why);
		goto out;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		set_error(o, 503, GW_ERR_NOMEM, NULL);
		goto out;
	}
	if ((r = attlist_from_envelope(doc, l, o->why, sizeof(o->why))) != 0) {
		set_error(o, 422, r, o->why);
		goto out;
	}
	if (check_parts(req, l, o) != 0)
		goto out;
	util_sha256_hex(req->body, req->body_len, sha);
	if (!known(a, sha, o))
		deliver(a, req, l, enc, sha, o);
 out:
	free(l);
	xmlFreeDoc(doc);
}

static void
request_cb(struct http_conn *c, struct job_req *req, void *arg)
{
	struct authority *a = arg;
	struct job_resp resp;
	struct outcome o;
	enum fault f = FAULT_NONE;

	memset(&o, 0, sizeof(o));
	if (req->pre_error) {
		set_error(&o, gw_httpstatus(req->pre_error), req->pre_error,
		    req->pre_msg);
	} else if (req->method == HTTP_GET && strcmp(req->path, "/healthz") == 0) {
		memset(&resp, 0, sizeof(resp));
		resp.status = 200;
		resp.content_type = "text/plain";
		resp.body = (unsigned char *)"ok\n";
		resp.body_len = 3;
		http_respond(c, &resp);
		goto out;
	} else if (req->method != HTTP_POST) {
		set_error(&o, 405, GW_ERR_METHOD, NULL);
	} else {
		a->nreq++;
		if (a->o.fail != FAULT_NONE && a->nreq <= a->o.fail_first)
			f = a->o.fail;
		if (f == FAULT_500)
			set_error(&o, 500, GW_ERR_INTERNAL,
			    "fault injected (--fail 500)");
		else
			process(a, req, &o);
	}
	answer(a, c, &o, f);
	free(o.body);
 out:
	job_req_free(req);	/* and with it every spooled part */
}

/* Only the configured gateway gets to send a body. */
static int
check_cb(struct http_conn *c, struct job_req *req, void *arg, char *why,
    size_t whylen)
{
	struct authority *a = arg;
	SSL *ssl = http_ssl(c);
	X509 *peer;
	unsigned char *der = NULL;
	int len, same;

	if (ssl == NULL || (peer = SSL_get0_peer_certificate(ssl)) == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK) {
		snprintf(why, whylen, "no verified client certificate");
		return GW_ERR_UNAUTHENTICATED;
	}
	if (req->method == HTTP_GET && strcmp(req->path, "/healthz") == 0)
		return 0;
	if ((len = i2d_X509(peer, &der)) <= 0)
		return GW_ERR_NOMEM;
	same = (size_t)len == a->gw.derlen &&
	    CRYPTO_memcmp(der, a->gw.der, a->gw.derlen) == 0;
	OPENSSL_free(der);
	if (!same) {
		snprintf(why, whylen, "the client certificate is not the "
		    "gateway's");
		return GW_ERR_FORBIDDEN;
	}
	/* Attachments arrive as further parts, spooled, not in memory. */
	if (strncasecmp(req->content_type, "multipart/", 10) == 0 &&
	    auth_store_spool(&a->store) != 0) {
		snprintf(why, whylen, "cannot create %s: %s", a->store.spool,
		    strerror(errno));
		return GW_ERR_STORE;
	}
	req->multipart_ok = 1;
	req->body_limit = a->o.max_total;
	return 0;
}

/* ---- the loop ---- */

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct authority *a = arg;

	(void)l;
	(void)sa;
	(void)salen;
	if (http_serve(&a->conns, a->base, fd, a->ssl, &a->lim, check_cb,
	    request_cb, a) != 0)
		evutil_closesocket(fd);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct authority *a = arg;

	(void)what;
	fprintf(stderr, "gwctl: authority: signal %d, stopping\n", (int)sig);
	event_base_loopexit(a->base, NULL);
}

static int
listen_on(struct authority *a)
{
	char host[256], *port;
	struct addrinfo hints, *ai = NULL;
	size_t n;

	if (util_strlcpy(host, a->o.listen, sizeof(host)) >= sizeof(host) ||
	    (port = strrchr(host, ':')) == NULL || port[1] == '\0')
		return gwctl_usage_err(AUTH_CMD, "--listen takes HOST:PORT");
	*port++ = '\0';
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		memmove(host, host + 1, n - 1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0)
		return gwctl_usage_err(AUTH_CMD, "cannot resolve --listen %s",
		    a->o.listen);
	a->listener = evconnlistener_new_bind(a->base, accept_cb, a,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (a->listener == NULL) {
		gwctl_err(AUTH_CMD, "cannot listen on %s: %s", a->o.listen,
		    strerror(errno));
		return GWCTL_FAIL;
	}
	return 0;
}

static int
run(struct authority *a)
{
	struct event *sigint = NULL, *sigterm = NULL;
	struct delayed *d;
	int rc;

	if ((a->base = event_base_new()) == NULL) {
		gwctl_err(AUTH_CMD, "cannot create an event loop");
		return GWCTL_FAIL;
	}
	if ((rc = listen_on(a)) != 0)
		goto out;
	rc = GWCTL_FAIL;
	sigint = evsignal_new(a->base, SIGINT, signal_cb, a);
	sigterm = evsignal_new(a->base, SIGTERM, signal_cb, a);
	if (sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
	    event_add(sigterm, NULL) != 0) {
		gwctl_err(AUTH_CMD, "cannot catch signals");
		goto out;
	}
	fprintf(stderr, "gwctl: authority: %s listening on https://%s, writing "
	    "to %s%s%s\n", a->o.reader, a->o.listen, a->o.out,
	    a->o.fail != FAULT_NONE ? ", fault " : "",
	    a->o.fail != FAULT_NONE ? fault_names[a->o.fail] : "");
	rc = event_base_dispatch(a->base) == 0 ? GWCTL_OK : GWCTL_FAIL;
 out:
	/* Answers still held back are dropped with their connections. */
	while ((d = a->delayed) != NULL) {
		a->delayed = d->next;
		event_free(d->ev);
		free(d->resp.body);
		free(d);
	}
	http_server_close_all(&a->conns);
	if (a->listener != NULL)
		evconnlistener_free(a->listener);
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	event_base_free(a->base);
	return rc;
}

int
cmd_authority(int argc, char **argv)
{
	struct authority *a;
	int r, rc = GWCTL_FAIL, inited = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(authority_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? GWCTL_USAGE : GWCTL_OK;
	}
	if (strcmp(argv[1], "serve") != 0)
		return gwctl_usage_err(AUTH_CMD, "unknown subcommand \"%.40s\"",
		    argv[1]);
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		gwctl_err(AUTH_CMD, "out of memory");
		return GWCTL_FAIL;
	}
	a->store.dirfd = -1;
	if ((r = parse_options(argc - 1, argv + 1, &a->o)) != 0) {
		rc = r < 0 ? GWCTL_OK : r;
		goto out;
	}
	a->lim.max_header_bytes = 16384;
	a->lim.max_headers = 100;
	a->lim.max_body = a->o.max_size;
	a->lim.idle_timeout = 60;
	a->xlim = xmlparse_default_limits;
	a->xlim.max_bytes = a->o.max_size;
	a->xlim.max_text = a->o.max_size;
	if ((r = xmldsig_global_init()) != 0) {
		gwctl_err(AUTH_CMD, "cannot initialise xmlsec: %s", gw_strerror(r));
		goto out;
	}
	inited = 1;
	if (load_all(a) != 0)
		goto out;
	a->lim.spool_dir = a->store.spool;
	signal(SIGPIPE, SIG_IGN);
	rc = run(a);
 out:
	unload_all(a);
	if (inited)
		xmldsig_global_cleanup();
	free(a);
	return rc;
}
