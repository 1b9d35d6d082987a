/*
 * config_dev.c - the development set-up (config_dev, config.h): the
 * development PKI and a gateway file and profiles that use it, written
 * where missing, never over an operator's edits.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlstring.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "config_int.h"
#include "err.h"
#include "pki.h"
#include "util.h"

/* ---- development set-up ---- */

static const char dev_gateway[] =
    "# gatewayd development configuration, written by gatewayd --dev.\n"
    "# Relative paths are taken relative to this file's directory.\n"
    "listen = 127.0.0.1:8443\n"
    "tls_cert = gateway.pem\n"
    "tls_key = gateway.key\n"
    "client_ca = ca.pem\n"
    "trust_ca = ca.pem\n"
    "sign_cert = gateway.pem\n"
    "sign_key = gateway.key\n"
    "database = gateway.db\n"
    "profiles_dir = profiles\n"
    "threads = 0\n"
    "io_threads = 1\n"
    "max_body = 16M\n"
    "max_pending = 256\n";

static const char dev_portal[] =
    "# Development portal, written by gatewayd --dev.\n"
    "id = portal-1\n"
    "kind = portal\n"
    "name = Development portal 1\n"
    "tls_cert = ../portal-1.pem\n"
    "# readers = authority-a, authority-b   (left out: any authority)\n";

#define DEV_AUTHORITY(id, name)						\
    "# Development authority, written by gatewayd --dev.\n"		\
    "id = " id "\n"							\
    "kind = authority\n"						\
    "name = " name "\n"							\
    "tls_cert = ../" id ".pem\n"					\
    "delivery = pull\n"							\
    "encryption_cert = ../" id ".pem\n"					\
    "# services = urn:gatewayd:service:example   (left out: any service)\n" \
    "max_size = 2G\n"							\
    "# retention = 365   (days a delivered message body is kept)\n"

static int
write_if_missing(const char *dir, const char *name, const char *text,
    char *err, size_t errlen)
{
	char path[PATH_MAX];
	int r;

	if (resolve_path(dir, name, path, sizeof(path)) != 0) {
		cfgerr(err, errlen, dir, 0, "the path is too long");
		return GW_ERR_CONFIG;
	}
	if (access(path, F_OK) == 0)
		return 0;
	if ((r = util_write_file(path, text, strlen(text), 0644)) != 0)
		cfgerr(err, errlen, path, 0, "cannot write the file: %s",
		    gw_strerror(r));
	return r;
}

/* The missing parents of dir ("mkdir -p" but for dir itself, which
 * pki_init makes private), so that --dev var/dev works in a fresh
 * checkout; one sentence naming the directory if not. */
static int
make_parents(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX], *p;

	if (util_strlcpy(path, dir, sizeof(path)) >= sizeof(path)) {
		cfgerr(err, errlen, dir, 0, "the path is too long");
		return GW_ERR_CONFIG;
	}
	for (p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		if (p[1] == '\0')
			break;		/* a trailing slash: dir itself */
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			cfgerr(err, errlen, path, 0, "cannot create the directory: %s",
			    strerror(errno));
			return GW_ERR_IO;
		}
		*p = '/';
	}
	return 0;
}

int
config_dev(const char *dir, const char *listen, struct config **out,
    char *err, size_t errlen)
{
	static const struct { const char *name, *text; } files[] = {
		{ "gateway.conf", dev_gateway },
		{ "profiles/portal-1.conf", dev_portal },
		{ "profiles/authority-a.conf",
		    DEV_AUTHORITY("authority-a", "Development authority A") },
		{ "profiles/authority-b.conf",
		    DEV_AUTHORITY("authority-b", "Development authority B") },
	};
	struct config *c = NULL;
	char path[PATH_MAX];
	size_t i;
	int r;

	if (listen != NULL && !listen_valid(listen)) {
		cfgerr(err, errlen, dir, 0, "the listen address must be host:port "
		    "(IPv6 as [addr]:port), not \"%.80s\"", listen);
		return GW_ERR_CONFIG;
	}
	if ((r = make_parents(dir, err, errlen)) != 0)
		return r;
	if ((r = pki_init(dir, PKI_KEY_EC_P256, PKI_KEY_RSA3072)) != 0) {
		cfgerr(err, errlen, dir, 0, "cannot create the development PKI: %s",
		    gw_strerror(r));
		return r;
	}
	if (resolve_path(dir, "profiles", path, sizeof(path)) != 0) {
		cfgerr(err, errlen, dir, 0, "the path is too long");
		return GW_ERR_CONFIG;
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		cfgerr(err, errlen, path, 0, "cannot create the directory: %s",
		    strerror(errno));
		return GW_ERR_IO;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if ((r = write_if_missing(dir, files[i].name, files[i].text,
		    err, errlen)) != 0)
			return r;
	resolve_path(dir, "gateway.conf", path, sizeof(path));	/* fits: above */
	if ((r = config_load(path, &c, err, errlen)) != 0)
		return r;
	if (listen != NULL)
		util_strlcpy(c->listen, listen, sizeof(c->listen));
	*out = c;
	return 0;
}
