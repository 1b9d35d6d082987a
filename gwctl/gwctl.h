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

#endif
