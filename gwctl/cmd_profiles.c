/*
 * cmd_profiles.c - gwctl profiles check DIR: every problem of a
 * configuration directory, one sentence each (profiles/config.c,
 * config_check(): the rules gatewayd applies at start-up).
 *
 * Output on stdout, one line per problem, "error: FILE:LINE: ...." or
 * "warning: ...", then "N errors, M warnings".  Exit 0 without errors
 * (warnings alone are 0), 1 with errors, 2 on a usage error.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "gwctl.h"

static const char profiles_help[] =
    "usage: gwctl profiles check DIR\n\n"
    "Checks a gatewayd configuration and prints every problem, one\n"
    "sentence each naming the file and line, as \"error: ...\" or\n"
    "\"warning: ...\", then \"N errors, M warnings\".\n\n"
    "DIR is a directory holding gateway.conf (the gateway file and every\n"
    "profile in its profiles_dir are checked), a profiles directory\n"
    "without one (only the profiles; relative paths in them are taken\n"
    "relative to DIR), or a gateway file itself.\n\n"
    "Errors: missing or unreadable files, expired certificates, keys too\n"
    "weak, certificates not usable for encryption, duplicate ids or TLS\n"
    "certificates, unknown keys, readers or services, incomplete push\n"
    "settings, ...  Warnings: certificates expiring within 30 days,\n"
    "allow_rsa2048 in use, an expired certificate next to a valid one.\n\n"
    "Exit status: 0 no errors (warnings alone are 0), 1 errors, 2 usage.\n"
    "See profiles/README.md for the format.\n";

struct tally {
	unsigned long errors, warnings;
};

static void
report(void *arg, int is_error, const char *sentence)
{
	struct tally *t = arg;
	char line[2048];

	snprintf(line, sizeof(line), "%s", sentence);
	gwctl_sanitize(line);	/* file names are outside text */
	printf("%s: %s\n", is_error ? "error" : "warning", line);
	if (is_error)
		t->errors++;
	else
		t->warnings++;
}

static int
profiles_check_run(int argc, char **argv)
{
	struct tally t = { 0, 0 };
	int r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(profiles_help, stdout);
		return GWCTL_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return gwctl_usage_err("profiles", "expected: profiles check DIR");
	r = config_check(argv[1], report, &t);
	printf("%lu error%s, %lu warning%s\n", t.errors, t.errors == 1 ? "" : "s",
	    t.warnings, t.warnings == 1 ? "" : "s");
	if (fflush(stdout) != 0) {
		gwctl_err("profiles check", "cannot write the report");
		return GWCTL_FAIL;
	}
	if (r == GW_ERR_CONFIG || t.errors > 0) {
		gwctl_err("profiles check", "%s has %lu error%s", argv[1], t.errors,
		    t.errors == 1 ? "" : "s");
		return GWCTL_FAIL;
	}
	if (r != 0) {
		gwctl_err("profiles check", "the check could not finish: %s",
		    gw_strerror(r));
		return GWCTL_FAIL;
	}
	return GWCTL_OK;
}

int
cmd_profiles(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return profiles_check_run(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(profiles_help, stdout);
		return GWCTL_OK;
	}
	if (argc < 2)
		return gwctl_usage_err("profiles", "expected a subcommand: check");
	return gwctl_usage_err("profiles", "unknown subcommand \"%s\"; expected "
	    "check", argv[1]);
}
