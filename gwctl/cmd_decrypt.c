/*
 * cmd_decrypt.c - gwctl decrypt: opens what an authority fetched.
 *
 * Finds the first xenc:EncryptedData of the input (a SOAP envelope from
 * gwctl mailbox fetch, or anything else that carries one), decrypts it
 * with the reader's key (crypto/xmlenc.c; the key stays in crypto/keys.c)
 * and unpacks the content container:
 *
 *   <gw:ContentContainer xmlns:gw="urn:gatewayd:container:1">
 *     <gw:Message id filename contentType size>BASE64</gw:Message>
 *     <gw:Attachment id filename contentType size>BASE64</gw:Attachment>*
 *     <InspectionReport xmlns="urn:gatewayd:inspection:1">...</...>?
 *   </gw:ContentContainer>
 *
 * Everything in the container came from elsewhere: file names are reduced
 * to a safe basename before anything is written, and a declared size or
 * sha256 must match the decoded bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "err.h"
#include "gwctl.h"
#include "keys.h"
#include "pki.h"
#include "util.h"
#include "xmlenc.h"
#include "xmlparse.h"

#define NS_XENC		"http://www.w3.org/2001/04/xmlenc#"
#define NS_CONTAINER	"urn:gatewayd:container:1"
#define MAX_PARTS	1024
#define MAX_NAME	128

static const char decrypt_help[] =
    "usage: gwctl decrypt --key KEY [--cert CERT] [--out DIR] FILE|-\n\n"
    "Decrypts the first xenc:EncryptedData in FILE (- for stdin), e.g. a\n"
    "message from gwctl mailbox fetch, and unpacks its content container.\n"
    "Without --out, writes the original submission, byte for byte, to\n"
    "stdout.  With --out DIR, writes every part into DIR (the submission\n"
    "under its file name, attachments under their file names reduced to a\n"
    "safe basename, the gateway's inspection report as\n"
    "inspection-report.xml) and prints one line per part: name, size,\n"
    "SHA-256.\n\n"
    "Options:\n"
    "  --key KEY    the reader's private key (PEM, RSA)\n"
    "  --cert CERT  the reader's certificate: picks the matching\n"
    "               EncryptedKey instead of trying each\n"
    "  --out DIR    unpack into DIR (created if missing)\n"
    "  --help       this text\n";

/* Parser limits for envelopes and containers: big base64 text is normal. */
static const struct xml_limits decrypt_limits = {
	.max_bytes = GWCTL_MAX_INPUT,
	.max_depth = 64,
	.max_nodes = 1000000,
	.max_attrs = 64,
	.max_text = GWCTL_MAX_INPUT,
};

struct dec_opts {
	const char *key, *cert, *out, *input;
};

struct part {
	enum decrypt_part_kind kind;	/* calloc'd: DECRYPT_MESSAGE */
	char name[MAX_NAME + 16];
	unsigned char *data;
	size_t len;
};

struct parts {
	struct part v[MAX_PARTS];
	size_t n;
	int have_message;
	size_t nattach;
};

static int
dec_options(int argc, char **argv, struct dec_opts *o)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
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
		case 'o': o->out = optarg; break;
		case 'h':
			fputs(decrypt_help, stdout);
			return -1;
		default:
			return gwctl_bad_option("decrypt", argv);
		}
	}
	if (o->key == NULL)
		return gwctl_usage_err("decrypt", "--key is required");
	if (argc - optind != 1)
		return gwctl_usage_err("decrypt", "expected one FILE (or - for stdin)");
	o->input = argv[optind];
	return 0;
}

/* Depth-first, document order; the parser bounded the depth. */
static xmlNodePtr
find_encdata(xmlNodePtr n)
{
	xmlNodePtr c, hit;

	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (n->ns != NULL &&
		    xmlStrcmp(n->ns->href, (const xmlChar *)NS_XENC) == 0 &&
		    xmlStrcmp(n->name, (const xmlChar *)"EncryptedData") == 0)
			return n;
		for (c = n->children; c != NULL; c = c->next)
			if (c->type == XML_ELEMENT_NODE)
				break;
		if (c != NULL && (hit = find_encdata(c)) != NULL)
			return hit;
	}
	return NULL;
}

/*
 * The last path component of in, with every character outside
 * [A-Za-z0-9._-] replaced by '_', leading dots removed (no hidden files,
 * no "." or ".."), at most MAX_NAME bytes; fallback if nothing remains.
 */
static void
safe_name(const char *in, const char *fallback, char *out, size_t outlen)
{
	const char *p, *b = in;
	size_t n = 0;

	for (p = in; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			b = p + 1;
	while (*b == '.')
		b++;
	for (; *b != '\0' && n < MAX_NAME && n + 1 < outlen; b++)
		out[n++] = isalnum((unsigned char)*b) || strchr("._-", *b) ? *b : '_';
	out[n] = '\0';
	if (n == 0)
		util_strlcpy(out, fallback, outlen);
}

/* Makes p->name unique among the parts before it ("2-name"). */
static void
unique_name(struct parts *ps, struct part *p)
{
	char base[MAX_NAME + 1];
	size_t i, k = 1;

	util_strlcpy(base, p->name, sizeof(base));
	for (i = 0; i < ps->n; i++) {
		if (strcmp(ps->v[i].name, p->name) != 0)
			continue;
		snprintf(p->name, sizeof(p->name), "%zu-%s", ++k, base);
		i = (size_t)-1;	/* check the new name against all again */
	}
}

/* A Message or Attachment: base64 content; a declared size and sha256
 * must match what it holds. */
static int
add_encoded(const char *cmd, struct parts *ps, xmlNodePtr n,
    const char *fallback)
{
	struct part *p = &ps->v[ps->n];
	xmlChar *fname = NULL, *size = NULL, *sha = NULL, *text = NULL;
	unsigned long long want;
	char hex[65];
	int r = GW_ERR_INVALID;

	fname = xmlGetProp(n, (const xmlChar *)"filename");
	size = xmlGetProp(n, (const xmlChar *)"size");
	sha = xmlGetProp(n, (const xmlChar *)"sha256");
	if ((text = xmlNodeGetContent(n)) == NULL) {
		gwctl_err(cmd, "out of memory");
		r = GW_ERR_NOMEM;
		goto out;
	}
	if ((r = util_b64_decode((const char *)text, strlen((const char *)text),
	    GWCTL_MAX_INPUT, &p->data, &p->len)) != 0) {
		gwctl_err(cmd, "the container's %s is not valid base64",
		    (const char *)n->name);
		goto out;
	}
	if (size != NULL && (gwctl_parse_u64((const char *)size, 0, ULLONG_MAX,
	    &want) != 0 || want != p->len)) {
		gwctl_err(cmd, "the container's %s declares size \"%.40s\" "
		    "but holds %zu bytes", (const char *)n->name,
		    (const char *)size, p->len);
		free(p->data);
		p->data = NULL;
		r = GW_ERR_INVALID;
		goto out;
	}
	if (sha != NULL) {
		util_sha256_hex(p->data, p->len, hex);
		if (strcasecmp(hex, (const char *)sha) != 0) {
			gwctl_err(cmd, "the container's %s does not match its "
			    "sha256 attribute", (const char *)n->name);
			free(p->data);
			p->data = NULL;
			r = GW_ERR_INVALID;
			goto out;
		}
	}
	safe_name(fname != NULL ? (const char *)fname : "", fallback, p->name,
	    sizeof(p->name));
	unique_name(ps, p);
	ps->n++;
	r = 0;
 out:
	xmlFree(fname);
	xmlFree(size);
	xmlFree(sha);
	xmlFree(text);
	return r;
}

/* The InspectionReport as a document of its own. */
static int
add_report(struct parts *ps, xmlNodePtr n)
{
	struct part *p = &ps->v[ps->n];
	xmlDocPtr doc;
	xmlNodePtr copy;
	xmlChar *buf = NULL;
	int len = 0;

	if ((doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL)
		return GW_ERR_NOMEM;
	if ((copy = xmlDocCopyNode(n, doc, 1)) == NULL) {
		xmlFreeDoc(doc);
		return GW_ERR_NOMEM;
	}
	xmlDocSetRootElement(doc, copy);
	xmlReconciliateNs(doc, copy);
	xmlDocDumpFormatMemoryEnc(doc, &buf, &len, "UTF-8", 1);
	xmlFreeDoc(doc);
	if (buf == NULL || len <= 0) {
		xmlFree(buf);
		return GW_ERR_NOMEM;
	}
	if ((p->data = malloc((size_t)len)) == NULL) {
		xmlFree(buf);
		return GW_ERR_NOMEM;
	}
	memcpy(p->data, buf, (size_t)len);
	p->len = (size_t)len;
	xmlFree(buf);
	util_strlcpy(p->name, "inspection-report.xml", sizeof(p->name));
	p->kind = DECRYPT_REPORT;
	unique_name(ps, p);
	ps->n++;
	return 0;
}

static int
is_container(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    xmlStrcmp(n->ns->href, (const xmlChar *)NS_CONTAINER) == 0 &&
	    xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* Parses the decrypted container into ps; the Message is ps->v[0]. */
static int
unpack(const char *cmd, const unsigned char *plain, size_t len,
    struct parts *ps)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr root, n;
	char fallback[32];
	int r;

	if ((r = xmlparse_safe((const char *)plain, len, &decrypt_limits, &doc)) != 0) {
		gwctl_err(cmd, "the decrypted content is not a container: %s",
		    gw_strerror(r));
		return r;
	}
	r = GW_ERR_INVALID;
	root = xmlDocGetRootElement(doc);
	if (root == NULL || !is_container(root, "ContentContainer")) {
		gwctl_err(cmd, "the decrypted content is not a "
		    "{" NS_CONTAINER "}ContentContainer");
		goto out;
	}
	/* The Message first, so that it is ps->v[0] and keeps its name. */
	for (n = root->children; n != NULL; n = n->next)
		if (is_container(n, "Message")) {
			if (ps->have_message++) {
				gwctl_err(cmd, "the container has more than one "
				    "Message");
				goto out;
			}
			if ((r = add_encoded(cmd, ps, n, "submission.xml")) != 0)
				goto out;
		}
	r = GW_ERR_INVALID;
	if (!ps->have_message) {
		gwctl_err(cmd, "the container has no Message");
		goto out;
	}
	for (n = root->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || is_container(n, "Message"))
			continue;
		if (ps->n == MAX_PARTS) {
			gwctl_err(cmd, "the container has more than %d parts",
			    MAX_PARTS);
			goto out;
		}
		if (is_container(n, "Attachment")) {
			snprintf(fallback, sizeof(fallback), "attachment-%zu", ps->n);
			if ((r = add_encoded(cmd, ps, n, fallback)) != 0)
				goto out;
			ps->v[ps->n - 1].kind = DECRYPT_ATTACHMENT;
			ps->nattach++;
		} else if (xmlStrcmp(n->name,
		    (const xmlChar *)"InspectionReport") == 0) {
			/* its own namespace (urn:gatewayd:inspection:1) */
			if ((r = add_report(ps, n)) != 0)
				goto out;
		} else
			fprintf(stderr, "gwctl: %s: ignoring the unknown "
			    "container element %.60s\n", cmd, (const char *)n->name);
		r = GW_ERR_INVALID;
	}
	r = 0;
 out:
	xmlFreeDoc(doc);
	return r;
}

/* Reads, parses, decrypts: the container's bytes into *plain. */
static int
decrypt_input(const struct dec_opts *o, unsigned char **plain, size_t *plen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	xmlDocPtr doc = NULL;
	xmlNodePtr enc;
	struct keys *key = NULL;
	X509 *cert = NULL;
	int r;

	if ((r = keys_load(o->key, &key)) != 0) {
		gwctl_err("decrypt", "cannot load the private key %s: %s", o->key,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		goto out;
	}
	if (o->cert != NULL && (r = pki_read_cert(o->cert, &cert)) != 0) {
		gwctl_err("decrypt", "cannot read a PEM certificate from %s", o->cert);
		goto out;
	}
	if ((r = gwctl_read_input(o->input, GWCTL_MAX_INPUT, &buf, &len)) != 0) {
		gwctl_err("decrypt", "cannot read %s: %s", o->input,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		goto out;
	}
	if ((r = xmlparse_safe((const char *)buf, len, &decrypt_limits, &doc)) != 0) {
		gwctl_err("decrypt", "%s: %s", o->input, gw_strerror(r));
		goto out;
	}
	if ((enc = find_encdata(xmlDocGetRootElement(doc))) == NULL) {
		gwctl_err("decrypt", "%s holds no xenc:EncryptedData", o->input);
		r = GW_ERR_NOT_FOUND;
		goto out;
	}
	r = xmlenc_decrypt(enc, key, cert, GWCTL_MAX_INPUT, plain, plen);
	if (r == GW_ERR_NOT_FOUND && cert != NULL)
		gwctl_err("decrypt", "cannot decrypt %s: it holds no EncryptedKey "
		    "for %s", o->input, o->cert);
	else if (r != 0)
		gwctl_err("decrypt", "cannot decrypt %s: %s%s", o->input,
		    gw_strerror(r), r == GW_ERR_CRYPTO ?
		    " (is it encrypted for this key?)" : "");
 out:
	xmlFreeDoc(doc);
	free(buf);
	X509_free(cert);
	keys_free(key);
	return r;
}

static int
write_parts(const char *dir, const struct parts *ps)
{
	char path[PATH_MAX], sha[65];
	struct stat st;
	size_t i;
	int r;

	if (mkdir(dir, 0700) != 0 && (errno != EEXIST || stat(dir, &st) != 0 ||
	    !S_ISDIR(st.st_mode))) {
		gwctl_err("decrypt", "cannot create the directory %s: %s", dir,
		    errno == EEXIST ? "a file of that name exists" : strerror(errno));
		return GWCTL_FAIL;
	}
	for (i = 0; i < ps->n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    ps->v[i].name) >= sizeof(path)) {
			gwctl_err("decrypt", "the path %s/%s is too long", dir,
			    ps->v[i].name);
			return GWCTL_FAIL;
		}
		if ((r = util_write_file(path, ps->v[i].data, ps->v[i].len,
		    0600)) != 0) {
			gwctl_err("decrypt", "cannot write %s: %s", path,
			    gw_strerror(r));
			return GWCTL_FAIL;
		}
		util_sha256_hex(ps->v[i].data, ps->v[i].len, sha);
		printf("%-40s %10zu  %s\n", ps->v[i].name, ps->v[i].len, sha);
	}
	if (fflush(stdout) != 0) {
		gwctl_err("decrypt", "cannot write to stdout: %s", strerror(errno));
		return GWCTL_FAIL;
	}
	return GWCTL_OK;
}

int
cmd_decrypt(int argc, char **argv)
{
	struct dec_opts o;
	struct parts *ps = NULL;
	unsigned char *plain = NULL;
	size_t plen = 0, i;
	int r, rc = GWCTL_FAIL;

	memset(&o, 0, sizeof(o));
	if ((r = dec_options(argc, argv, &o)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if (decrypt_input(&o, &plain, &plen) != 0)
		return GWCTL_FAIL;
	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		gwctl_err("decrypt", "out of memory");
		goto out;
	}
	r = unpack("decrypt", plain, plen, ps);
	/* the plaintext is personal data: wipe it, not only free it */
	OPENSSL_clear_free(plain, plen);
	plain = NULL;
	if (r != 0)
		goto out;
	if (o.out != NULL)
		rc = write_parts(o.out, ps);
	else if (gwctl_write_output(NULL, ps->v[0].data, ps->v[0].len) != 0)
		gwctl_err("decrypt", "cannot write to stdout: %s", strerror(errno));
	else {
		if (ps->nattach > 0)
			fprintf(stderr, "gwctl: decrypt: %zu attachment(s) not "
			    "written; use --out DIR\n", ps->nattach);
		rc = GWCTL_OK;
	}
 out:
	OPENSSL_clear_free(plain, plen);
	for (i = 0; ps != NULL && i < ps->n; i++)
		OPENSSL_clear_free(ps->v[i].data, ps->v[i].len);
	free(ps);
	return rc;
}

/*
 * Shared with gwctl authority serve: unpacks a decrypted container and
 * hands each part to fn (see gwctl.h).  The parts are wiped and freed here
 * whatever fn does; fn must copy what it keeps.
 */
int
decrypt_unpack(const char *cmd, const unsigned char *plain, size_t len,
    decrypt_part_fn fn, void *arg)
{
	struct parts *ps;
	size_t i;
	int r;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		gwctl_err(cmd, "out of memory");
		return GW_ERR_NOMEM;
	}
	r = unpack(cmd, plain, len, ps);
	for (i = 0; r == 0 && i < ps->n; i++)
		r = fn(arg, ps->v[i].kind, ps->v[i].name, ps->v[i].data,
		    ps->v[i].len);
	for (i = 0; i < ps->n; i++)
		OPENSSL_clear_free(ps->v[i].data, ps->v[i].len);
	free(ps);
	return r;
}
