/*
 * cmd_submit.c - the portal's side: gwctl submit and gwctl status.
 *
 * Both print the gateway's answer body unchanged on stdout (a receipt or a
 * process card, possibly signed: its bytes matter) and turn an error answer
 * into one line "gwctl: submit: HTTP 422 SIGNATURE_INVALID: ...".
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gwctl.h"

static const char submit_help[] =
    "usage: gwctl submit [CONNECTION OPTIONS] FILE|-\n\n"
    "Submits the signed document FILE (- for stdin) to the gateway\n"
    "(POST /v1/submissions) and prints the gateway's receipt.\n"
    "With --dev, the client certificate defaults to portal-1's.\n\n";

static const char status_help[] =
    "usage: gwctl status [CONNECTION OPTIONS] ID\n\n"
    "Prints the process card of submission ID (GET /v1/submissions/ID):\n"
    "when it was accepted, forwarded and received, and the inspection\n"
    "report.  With --dev, the client certificate defaults to portal-1's.\n\n";

/*
 * Connection options plus --help; the single positional argument into
 * *arg.  Returns 0, -1 after printing help, or GWCTL_USAGE.
 */
static int
conn_args(int argc, char **argv, const char *cmd, const char *help,
    const char *default_as, struct gwctl_conn *conn, const char **arg)
{
	static const struct option longopts[] = {
		GWCTL_CONN_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, r;

	conn_init(conn);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			printf("%s%s", help, gwctl_conn_help);
			return -1;
		}
		if ((r = conn_option(conn, cmd, c, optarg)) == 0)
			return gwctl_bad_option(cmd, argv);
		if (r != 1)
			return r;
	}
	if (argc - optind != 1)
		return gwctl_usage_err(cmd, "expected one argument");
	*arg = argv[optind];
	return conn_finish(conn, cmd, default_as);
}

int
cmd_submit(int argc, char **argv)
{
	struct gwctl_conn conn;
	struct http_resp resp = { 0, NULL, 0 };
	const char *input = NULL;
	unsigned char *body = NULL;
	size_t len = 0;
	int r, rc = GWCTL_FAIL;

	if ((r = conn_args(argc, argv, "submit", submit_help, "portal-1", &conn,
	    &input)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if ((r = gwctl_read_input(input, GWCTL_MAX_INPUT, &body, &len)) != 0) {
		if (r == GW_ERR_TOO_LARGE)
			gwctl_err("submit", "%s is larger than %zu MiB", input,
			    GWCTL_MAX_INPUT >> 20);
		else
			gwctl_err("submit", "cannot read %s: %s", input,
			    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		return GWCTL_FAIL;
	}
	if (len == 0) {
		gwctl_err("submit", "%s is empty", input);
		goto out;
	}
	if (http_request(&conn, "submit", "POST", "/v1/submissions", body, len,
	    "application/xml", &resp) != 0)
		goto out;
	/* 202 Accepted; a 2xx replay of the same submission is as good. */
	if (resp.status < 200 || resp.status > 299) {
		http_print_error("submit", &resp);
		goto out;
	}
	if (gwctl_write_output(NULL, resp.body, resp.len) != 0) {
		gwctl_err("submit", "cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	rc = GWCTL_OK;
 out:
	http_resp_free(&resp);
	free(body);
	return rc;
}

int
cmd_status(int argc, char **argv)
{
	struct gwctl_conn conn;
	struct http_resp resp = { 0, NULL, 0 };
	const char *id = NULL;
	char path[1024], *eid = NULL;
	int r, rc = GWCTL_FAIL;

	if ((r = conn_args(argc, argv, "status", status_help, "portal-1", &conn,
	    &id)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if (id[0] == '\0' || strlen(id) > 255)
		return gwctl_usage_err("status", "ID must be 1-255 characters");
	if ((eid = http_escape(id)) == NULL) {
		gwctl_err("status", "out of memory");
		return GWCTL_FAIL;
	}
	snprintf(path, sizeof(path), "/v1/submissions/%s", eid);
	if (http_request(&conn, "status", "GET", path, NULL, 0, NULL, &resp) != 0)
		goto out;
	if (resp.status != 200) {
		http_print_error("status", &resp);
		goto out;
	}
	if (gwctl_write_output(NULL, resp.body, resp.len) != 0) {
		gwctl_err("status", "cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	rc = GWCTL_OK;
 out:
	http_resp_free(&resp);
	free(eid);
	return rc;
}
