/*
 * cmd_sign.c - gwctl sign: adds the enveloped XML signature a submission
 * needs (crypto/xmldsig.c does the signing; the private key stays inside
 * crypto/keys.c).
 *
 * The input is parsed like the gateway parses it (xmlparse_safe: no DTD,
 * limits) and the result is serialised once with xmlDocDumpMemory, without
 * re-indentation: the bytes printed are the bytes that were signed, so the
 * output must be passed on unchanged.
 *
 * --attach adds the <Attachments> list (docs/attachments.md section 1)
 * right after the submission's Content before signing, so that the
 * signature covers each file's name, type, size and SHA-256.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "gwctl.h"
#include "keys.h"
#include "pki.h"
#include "xmldsig.h"
#include "xmlparse.h"

static const char sign_help[] =
    "usage: gwctl sign --key KEY --cert CERT [--chain FILE] [--pss]\n"
    "                  [--attach FILE[;type=TYPE] ...] FILE|-\n\n"
    "Signs the XML document FILE (- for stdin) with an enveloped signature\n"
    "over the whole document (Reference URI=\"\", exclusive c14n, SHA-256;\n"
    "RSA-SHA256 or ECDSA-SHA256 by key type) and prints the signed document.\n"
    "Pass the output on unchanged: it is exactly what was signed.\n\n"
    "Options:\n"
    "  --key KEY     the signer's private key (PEM)\n"
    "  --cert CERT   the signer's certificate (PEM), put into ds:X509Data\n"
    "  --chain FILE  intermediate CA certificates (PEM) to include after it\n"
    "  --pss         RSA-PSS (sha256-rsa-MGF1) instead of RSA PKCS#1 v1.5\n"
    "  --attach FILE[;type=TYPE]\n"
    "                list FILE as an attachment of the submission (up to 64,\n"
    "                Ids att-1, att-2, ... in order) after its Content:\n"
    "                name, type (TYPE or guessed from the extension), size,\n"
    "                SHA-256; refused if the document already lists\n"
    "                attachments.  Then: gwctl submit --attach FILE ...\n"
    "  --help        this text\n";

struct sign_opts {
	const char *key, *cert, *chain, *input;
	int pss;
	const char *attach[GWCTL_MAX_ATTACH];
	size_t nattach;
};

static int
sign_options(int argc, char **argv, struct sign_opts *o)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "chain", required_argument, NULL, 'C' },
		{ "pss", no_argument, NULL, 'p' },
		{ "attach", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o->key = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'C': o->chain = optarg; break;
		case 'p': o->pss = 1; break;
		case 'a':
			if (o->nattach == GWCTL_MAX_ATTACH)
				return gwctl_usage_err("sign", "at most %d --attach",
				    GWCTL_MAX_ATTACH);
			o->attach[o->nattach++] = optarg;
			break;
		case 'h':
			fputs(sign_help, stdout);
			return -1;
		default:
			return gwctl_bad_option("sign", argv);
		}
	}
	if (o->key == NULL || o->cert == NULL)
		return gwctl_usage_err("sign", "--key and --cert are required");
	if (argc - optind != 1)
		return gwctl_usage_err("sign", "expected one FILE (or - for stdin)");
	o->input = argv[optind];
	return 0;
}

/* The key, the certificate (matching it) and the optional chain. */
static int
sign_load(const struct sign_opts *o, struct keys **key, X509 **cert,
    STACK_OF(X509) **chain)
{
	EVP_PKEY *pub = NULL;
	int r;

	if ((r = keys_load(o->key, key)) != 0) {
		gwctl_err("sign", "cannot load the private key %s: %s", o->key,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		return GWCTL_FAIL;
	}
	if (pki_read_cert(o->cert, cert) != 0) {
		gwctl_err("sign", "cannot read a PEM certificate from %s", o->cert);
		return GWCTL_FAIL;
	}
	pub = keys_public(*key);
	r = EVP_PKEY_eq(pub, X509_get0_pubkey(*cert));
	EVP_PKEY_free(pub);
	if (r != 1) {
		gwctl_err("sign", "the certificate %s does not belong to the key %s",
		    o->cert, o->key);
		return GWCTL_FAIL;
	}
	if (o->pss && keys_type(*key) != EVP_PKEY_RSA)
		return gwctl_usage_err("sign", "--pss needs an RSA key");
	if (o->chain != NULL && pki_read_certs(o->chain, chain) != 0) {
		gwctl_err("sign", "cannot read PEM certificates from %s", o->chain);
		return GWCTL_FAIL;
	}
	return 0;
}

static int
sign_parse(const char *input, xmlDocPtr *doc)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	r = gwctl_read_input(input, xmlparse_default_limits.max_bytes, &buf, &len);
	if (r != 0) {
		if (r == GW_ERR_TOO_LARGE)
			gwctl_err("sign", "%s is larger than %zu MiB", input,
			    xmlparse_default_limits.max_bytes >> 20);
		else
			gwctl_err("sign", "cannot read %s: %s", input,
			    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		return GWCTL_FAIL;
	}
	r = xmlparse_safe((const char *)buf, len, &xmlparse_default_limits, doc);
	free(buf);
	if (r != 0) {
		gwctl_err("sign", "%s: %s", input, gw_strerror(r));
		return GWCTL_FAIL;
	}
	return 0;
}

/* The submission's Content: a child of the document element in its
 * namespace. */
static xmlNodePtr
find_content(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), n;

	for (n = root != NULL ? root->children : NULL; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(n->name, (const xmlChar *)"Content") == 0 &&
		    n->ns == root->ns)
			return n;
	return NULL;
}

/* --attach: lists the files after Content (before the signature). */
static int
sign_attach(const struct sign_opts *o, xmlDocPtr doc)
{
	struct gwctl_attlist *l = NULL;
	xmlNodePtr content;
	char why[200];
	size_t i;
	int r, rc = GWCTL_FAIL;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		gwctl_err("sign", "out of memory");
		return GWCTL_FAIL;
	}
	if ((r = attlist_from_submission(doc, l, why, sizeof(why))) != 0 ||
	    l->n > 0) {
		gwctl_err("sign", "%s already lists attachments%s%s; --attach "
		    "adds the list only to a document without one", o->input,
		    r ? ": " : "", r ? why : "");
		goto out;
	}
	if ((content = find_content(doc)) == NULL) {
		gwctl_err("sign", "%s has no Content element after which to list "
		    "the attachments", o->input);
		goto out;
	}
	for (i = 0; i < o->nattach; i++)
		if (attlist_add_file("sign", l, o->attach[i]) != 0)
			goto out;
	if ((r = attlist_insert(l, content)) != 0) {
		gwctl_err("sign", "cannot add the attachment list: %s",
		    gw_strerror(r));
		goto out;
	}
	rc = GWCTL_OK;
 out:
	free(l);
	return rc;
}

int
cmd_sign(int argc, char **argv)
{
	struct sign_opts o;
	struct keys *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	xmlDocPtr doc = NULL;
	xmlChar *out = NULL;
	int r, len = 0, rc = GWCTL_FAIL, inited = 0;

	memset(&o, 0, sizeof(o));
	if ((r = sign_options(argc, argv, &o)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if ((rc = sign_load(&o, &key, &cert, &chain)) != 0)
		goto out;
	rc = GWCTL_FAIL;
	if (sign_parse(o.input, &doc) != 0)
		goto out;
	if (o.nattach > 0 && sign_attach(&o, doc) != 0)
		goto out;
	if ((r = xmldsig_global_init()) != 0) {
		gwctl_err("sign", "cannot initialise xmlsec: %s", gw_strerror(r));
		goto out;
	}
	inited = 1;
	if ((r = xmldsig_sign(doc, key, cert, chain, o.pss)) != 0) {
		gwctl_err("sign", "cannot sign %s: %s", o.input, gw_strerror(r));
		goto out;
	}
	xmlDocDumpMemory(doc, &out, &len);
	if (out == NULL || len <= 0) {
		gwctl_err("sign", "cannot serialise the signed document");
		goto out;
	}
	if (gwctl_write_output(NULL, out, (size_t)len) != 0) {
		gwctl_err("sign", "cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	rc = GWCTL_OK;
 out:
	xmlFree(out);
	xmlFreeDoc(doc);
	if (inited)
		xmldsig_global_cleanup();
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	keys_free(key);
	return rc;
}
