/*
 * cmd_pki.c - gwctl pki init DIR: a development PKI (certs/pki.c).
 *
 * Not for production trust; it makes what gatewayd --dev and the tests
 * use: a CA, the gateway's TLS and signing key (EC P-256) and the party
 * keys of portal-1, authority-a and authority-b.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "gwctl.h"
#include "pki.h"

static const char pki_help[] =
    "usage: gwctl pki init DIR [--key-type TYPE]\n\n"
    "Creates a development PKI in DIR (created if missing): ca.pem/.key,\n"
    "gateway.pem/.key (TLS server and client, signing; EC P-256) and\n"
    "portal-1, authority-a, authority-b (.pem/.key), client certificates\n"
    "issued by the CA.  Prints the files it created.  Refuses a DIR that\n"
    "already holds a PKI (DIR/ca.pem).\n\n"
    "Options:\n"
    "  --key-type TYPE  the parties' keys: rsa2048, rsa3072 (default),\n"
    "                   rsa4096 or ec-p256.  Authorities need RSA keys to\n"
    "                   receive encrypted content.\n"
    "  --help           this text\n";

static int
pki_init_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key-type", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const files[] = { "ca.pem", "ca.key", "gateway.pem",
	    "gateway.key", "portal-1.pem", "portal-1.key", "authority-a.pem",
	    "authority-a.key", "authority-b.pem", "authority-b.key" };
	enum pki_keytype type = PKI_KEY_RSA3072;
	char path[PATH_MAX];
	const char *dir;
	size_t i;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (pki_keytype_parse(optarg, &type) != 0)
				return gwctl_usage_err("pki init", "--key-type must be "
				    "rsa2048, rsa3072, rsa4096 or ec-p256, not \"%s\"",
				    optarg);
			break;
		case 'h':
			fputs(pki_help, stdout);
			return GWCTL_OK;
		default:
			return gwctl_bad_option("pki init", argv);
		}
	}
	if (argc - optind != 1)
		return gwctl_usage_err("pki init", "expected one DIR");
	dir = argv[optind];
	if ((size_t)snprintf(path, sizeof(path), "%s/ca.pem", dir) >= sizeof(path) - 32)
		return gwctl_usage_err("pki init", "DIR is too long");
	if (access(path, F_OK) == 0) {
		gwctl_err("pki init", "%s already holds a PKI (%s exists); nothing "
		    "was created", dir, path);
		return GWCTL_FAIL;
	}
	errno = 0;
	if ((r = pki_init(dir, PKI_KEY_EC_P256, type)) != 0) {
		gwctl_err("pki init", "cannot create the PKI in %s: %s", dir,
		    r == GW_ERR_IO && errno != 0 ? strerror(errno) : gw_strerror(r));
		return GWCTL_FAIL;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (access(path, F_OK) == 0)
			printf("%s\n", path);
	}
	return fflush(stdout) == 0 ? GWCTL_OK : GWCTL_FAIL;
}

int
cmd_pki(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return pki_init_run(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(pki_help, stdout);
		return GWCTL_OK;
	}
	if (argc < 2)
		return gwctl_usage_err("pki", "expected a subcommand: init");
	return gwctl_usage_err("pki", "unknown subcommand \"%s\"; expected init",
	    argv[1]);
}
