/*
 * gwctl.h - the seams between the parts of gwctl, the command line client.
 *
 * main.c dispatches to one cmd_*() per command; each returns the process
 * exit status (GWCTL_OK, GWCTL_FAIL, GWCTL_USAGE) and has printed exactly
 * one line on stderr when it fails.  io.c holds the input and output
 * helpers, http.c the connection options and the one libcurl request
 * function.  gwctl is single-threaded.
 */
#ifndef GWCTL_H
#define GWCTL_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <getopt.h>

#include <libxml/tree.h>

#define GWCTL_OK	0
#define GWCTL_FAIL	1
#define GWCTL_USAGE	2

/* Largest document read from a file or stdin, and largest HTTP answer. */
#define GWCTL_MAX_INPUT		((size_t)256 << 20)
#define GWCTL_MAX_RESPONSE	((size_t)256 << 20)

/* ---- io.c ---- */

/* "gwctl: CMD: message" plus a newline on stderr (control characters of
 * the message are replaced: it may quote the gateway's or a file's text). */
void gwctl_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* As gwctl_err, then GWCTL_USAGE; points at CMD --help. */
int gwctl_usage_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Reports the getopt_long() failure for the option at argv[optind - 1]. */
int gwctl_bad_option(const char *cmd, char **argv);

/* Reads path ("-" is stdin) completely, at most max bytes; *out is
 * NUL-terminated and free()d by the caller.  GW_ERR_IO keeps errno. */
int gwctl_read_input(const char *path, size_t max, unsigned char **out,
    size_t *len);
/* Writes all of buf to stdout (path NULL or "-") or atomically to path
 * with mode 0600.  On failure errno tells why. */
int gwctl_write_output(const char *path, const void *buf, size_t len);
/* Makes s one printable line in place: line breaks and tabs become
 * spaces, other control characters "?" (for text from outside). */
void gwctl_sanitize(char *s);
/* Full decimal parse of an unsigned number in [min, max]. */
int gwctl_parse_u64(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out);
/* A new file "DIR/.gwctl-<random>.tmp" (mode 0600, O_EXCL): the name
 * into path, the descriptor into *fd.  GW_ERR_IO keeps errno. */
int gwctl_tmpfile(const char *dir, char *path, size_t pathlen, int *fd);

/*
 * Progress of a long transfer on stderr: shown only when stderr is a
 * terminal, quiet is 0 and the total is above GWCTL_PROGRESS_MIN; one line
 * redrawn at most four times a second, ended by gwctl_progress_end().
 */
#define GWCTL_PROGRESS_MIN	((unsigned long long)10 << 20)
struct gwctl_progress {
	const char *cmd, *what;
	int quiet, on, drawn;
	unsigned long long total, shown;
	long long last_ms;
};
void gwctl_progress_init(struct gwctl_progress *p, const char *cmd,
    const char *what, int quiet);
/* done of total bytes (total 0: not known yet, nothing shown). */
void gwctl_progress_update(struct gwctl_progress *p, unsigned long long done,
    unsigned long long total);
void gwctl_progress_end(struct gwctl_progress *p);

/* ---- http.c ---- */

struct gwctl_conn {
	char gateway[1024];	/* base URL, https only, no trailing '/' */
	char dev[PATH_MAX];	/* --dev or GWCTL_DEV; "" = none */
	char as[64];		/* --as: the party name inside dev */
	char cert[PATH_MAX];	/* client certificate (PEM); "" = none */
	char key[PATH_MAX];
	char ca[PATH_MAX];	/* CAs for the gateway; "" = system store */
};

/* getopt_long codes of the connection options; commands use >= 0x200. */
enum {
	GWCTL_OPT_GATEWAY = 0x100,
	GWCTL_OPT_CERT,
	GWCTL_OPT_KEY,
	GWCTL_OPT_CA,
	GWCTL_OPT_DEV,
	GWCTL_OPT_AS
};

#define GWCTL_CONN_LONGOPTS						\
	{ "gateway", required_argument, NULL, GWCTL_OPT_GATEWAY },	\
	{ "cert", required_argument, NULL, GWCTL_OPT_CERT },		\
	{ "key", required_argument, NULL, GWCTL_OPT_KEY },		\
	{ "ca", required_argument, NULL, GWCTL_OPT_CA },		\
	{ "dev", required_argument, NULL, GWCTL_OPT_DEV },		\
	{ "as", required_argument, NULL, GWCTL_OPT_AS }

/* Help text for the connection options (for the commands' --help). */
extern const char gwctl_conn_help[];

void conn_init(struct gwctl_conn *c);
/* 1 if opt was a connection option (stored), 0 if not, or GWCTL_USAGE
 * after printing why the argument is wrong. */
int conn_option(struct gwctl_conn *c, const char *cmd, int opt,
    const char *arg);
/* Applies --dev / GWCTL_DEV defaults (party default_as) and checks the
 * combination; 0 or GWCTL_USAGE after printing why. */
int conn_finish(struct gwctl_conn *c, const char *cmd, const char *default_as);

struct http_resp {
	long status;
	unsigned char *body;	/* NUL-terminated, not counted in len */
	size_t len;
};

/*
 * One HTTPS request: method "GET" or "POST", path below the gateway URL
 * ("/v1/..."; the caller escapes ids with http_escape()), body and its
 * content type for POST (body may be NULL for an empty one).  Returns 0
 * when an HTTP answer arrived, whatever its status; otherwise prints one
 * line naming cmd and returns GW_ERR_*.  Free out with http_resp_free().
 */
int http_request(const struct gwctl_conn *c, const char *cmd,
    const char *method, const char *path, const void *body, size_t len,
    const char *ctype, struct http_resp *out);
void http_resp_free(struct http_resp *r);

/*
 * What http_transfer() adds to a request: a body streamed by a read
 * callback (libcurl's CURLOPT_READFUNCTION contract) of exactly
 * upload_len bytes, and/or a 2xx answer's body written to out_fd as it
 * arrives (any size; an error answer's body still goes to out->body,
 * bounded).  Streaming transfers have no overall time limit; they fail
 * after 120 s without a byte moving.  progress may be NULL.
 */
struct http_xfer {
	size_t (*read)(char *buf, size_t size, size_t nitems, void *arg);
	void *read_arg;
	unsigned long long upload_len;
	int out_fd;			/* -1: the answer into out->body */
	unsigned long long out_len;	/* set: bytes written to out_fd */
	struct gwctl_progress *progress;
};
/* As http_request(), with the body and answer of x. */
int http_transfer(const struct gwctl_conn *c, const char *cmd,
    const char *method, const char *path, const char *ctype,
    struct http_xfer *x, struct http_resp *out);
/* Percent-escapes s for a URL path segment; free() the result; NULL on
 * failure (out of memory). */
char *http_escape(const char *s);
/* Prints "gwctl: CMD: HTTP 422 CODE: message" for an error answer (the
 * code and message from its <Error> body, when it has one). */
void http_print_error(const char *cmd, const struct http_resp *r);

/* ---- commands ---- */

int cmd_pki(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_mailbox(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_authority(int argc, char **argv);
int cmd_profiles(int argc, char **argv);
int cmd_reload(int argc, char **argv);

/* ---- cmd_decrypt.c, shared with cmd_authority.c ---- */

enum decrypt_part_kind { DECRYPT_MESSAGE, DECRYPT_ATTACHMENT, DECRYPT_REPORT };
typedef int (*decrypt_part_fn)(void *arg, enum decrypt_part_kind kind,
    const char *name, const unsigned char *data, size_t len);
/*
 * Unpacks a decrypted content container and calls fn once per part, the
 * Message first, with a safe basename unique among the parts (the name
 * gwctl decrypt --out would use).  data is wiped after fn returns.  A
 * malformed container prints one line naming cmd and returns GW_ERR_*;
 * a non-zero return of fn stops the walk and is returned as is.
 */
int decrypt_unpack(const char *cmd, const unsigned char *plain, size_t len,
    decrypt_part_fn fn, void *arg);
/*
 * The last path component of in, characters outside [A-Za-z0-9._-]
 * replaced by '_', leading dots removed, at most 128 bytes; fallback if
 * nothing remains (the names gwctl decrypt and authority serve write).
 */
void decrypt_safe_name(const char *in, const char *fallback, char *out,
    size_t outlen);

/* ---- attlist.c: attachment lists (docs/attachments.md) ---- */

#define GWCTL_MAX_ATTACH	64

/* One entry of a signed list: the submission's <Attachment> or the
 * envelope's <gw:Attachment> (which adds the cipher digests). */
struct gwctl_att {
	char id[65];			/* [A-Za-z0-9._-]{1,64} */
	char filename[1024];		/* UTF-8, 1-255 characters */
	char ctype[128];		/* type/subtype */
	unsigned long long size;
	char sha256[65];		/* lower-case hex */
	int has_cipher;			/* the next two are set */
	unsigned long long cipher_size;
	char cipher_sha256[65];
	const char *path;		/* local file (sample, sign, submit) */
};

struct gwctl_attlist {
	struct gwctl_att v[GWCTL_MAX_ATTACH];
	size_t n;
};

/*
 * Appends the file named by arg ("FILE" or "FILE;type=TYPE"; arg must
 * outlive l) as the next entry: Id att-N, Filename its basename,
 * ContentType TYPE or guessed from the extension, Size and SHA256 read
 * from the file in pieces.  Prints one line naming cmd on failure.
 */
int attlist_add_file(const char *cmd, struct gwctl_attlist *l,
    const char *arg);
/* The file part of an --attach argument (without ";type=..."), into
 * path. 0, or GW_ERR_TOO_LARGE if it does not fit. */
int attlist_arg_path(const char *arg, char *path, size_t pathlen);
/* Size and SHA-256 of a file, read in pieces.  GW_ERR_IO keeps errno. */
int attlist_hash_file(const char *path, unsigned long long *size,
    char sha256[65]);
/* Adds <Attachments> (in content's namespace) right after content. */
int attlist_insert(const struct gwctl_attlist *l, xmlNodePtr content);
/*
 * The <Attachments> list of a submission (urn:gatewayd:submission:1),
 * or of an envelope's header (urn:gatewayd:envelope:1 gw:Attachments,
 * with CipherSize and CipherSHA256).  0 with l->n == 0 when there is
 * none; GW_ERR_INVALID with one sentence in why when it is malformed.
 */
int attlist_from_submission(xmlDocPtr doc, struct gwctl_attlist *l,
    char *why, size_t whylen);
int attlist_from_envelope(xmlDocPtr doc, struct gwctl_attlist *l,
    char *why, size_t whylen);
/*
 * The list the portal signed in the submission xml must equal el (the
 * envelope's): same entries in the same order.  0, or GW_ERR_ATTACHMENT
 * (GW_ERR_INVALID if unreadable, GW_ERR_NOMEM) with one sentence in why.
 */
int attlist_match_submission(const unsigned char *xml, size_t len,
    const struct gwctl_attlist *el, char *why, size_t whylen);
/* 1 if a and b agree on Id, Filename, ContentType, Size and SHA256. */
int attlist_same(const struct gwctl_att *a, const struct gwctl_att *b);
/* 1 if s is a valid attachment Id. */
int attlist_valid_id(const char *s);

#endif
