/*
 * main.c - gwctl, the command line client of gatewayd: dispatches to one
 * command (cmd_*.c).
 *
 * Exit status: 0 success, 1 failure, 2 usage error.  Every failure prints
 * one line "gwctl: COMMAND: what went wrong" on stderr; results go to stdout
 * so that commands can be piped: gwctl sample | gwctl sign ... - | gwctl
 * submit -.  Process-wide set-up (libxml2, libcurl) happens here once.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include "gwctl.h"

static const struct command {
	const char *name;
	int (*run)(int, char **);
	const char *summary;
} commands[] = {
	{ "pki", cmd_pki, "pki init DIR: create a development PKI" },
	{ "sample", cmd_sample, "print an unsigned sample submission" },
	{ "sign", cmd_sign, "sign a submission (enveloped XML signature)" },
	{ "submit", cmd_submit, "submit a signed document to the gateway" },
	{ "status", cmd_status, "print the process card of a submission" },
	{ "mailbox", cmd_mailbox, "list, fetch and close an authority's messages" },
	{ "decrypt", cmd_decrypt, "decrypt a fetched message and unpack it" },
	{ "audit", cmd_audit, "verify, search, export and prove the audit log" },
	{ "verify", cmd_verify, "check signatures offline, print the report" },
	{ "authority", cmd_authority, "authority serve: receive pushed messages" },
	{ "profiles", cmd_profiles, "profiles check DIR: every configuration problem" },
	{ "reload", cmd_reload, "make the running gatewayd reload its configuration" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: gwctl COMMAND [OPTIONS] [ARGS]\n\n"
	    "The command line client of gatewayd, the secure document "
	    "gateway.\n\nCommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'gwctl COMMAND --help' describes a command.  Exit status: "
	    "0 success,\n1 failure, 2 usage error.\n\n"
	    "Example (gateway started with gatewayd --dev var/dev):\n"
	    "  export GWCTL_DEV=var/dev\n"
	    "  gwctl sample --to authority-a |\n"
	    "    gwctl sign --key var/dev/portal-1.key --cert var/dev/portal-1.pem - |\n"
	    "    gwctl submit -\n"
	    "  gwctl mailbox list\n"
	    "  gwctl mailbox fetch ID -o msg.xml\n"
	    "  gwctl decrypt --key var/dev/authority-a.key --out msg/ msg.xml\n"
	    "  gwctl mailbox close ID\n");
}

int
main(int argc, char **argv)
{
	size_t i;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return GWCTL_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return GWCTL_OK;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			break;
	if (i == NCOMMANDS) {
		gwctl_err(NULL, "unknown command \"%s\" (see gwctl --help)", argv[1]);
		return GWCTL_USAGE;
	}
	xmlInitParser();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		gwctl_err(argv[1], "cannot initialise libcurl");
		return GWCTL_FAIL;
	}
	rc = commands[i].run(argc - 1, argv + 1);
	curl_global_cleanup();
	xmlCleanupParser();
	return rc;
}
