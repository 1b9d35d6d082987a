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
 *
 * Attachments sent apart (docs/attachments.md section 3): the envelope's
 * header lists them with both digests, and each is its own EncryptedData
 * document (gwctl mailbox fetch stores them as ATT.xml next to the
 * envelope).  The envelope's list must equal the one the portal signed in
 * the submission; each document is decrypted in constant memory
 * (attach_decrypt_fd) into a temporary file in the output directory, its
 * CipherSHA256 and its plaintext's size and SHA-256 checked, and only when
 * every attachment checked out are the temporary files renamed to their
 * (sanitised) file names and the other parts written.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "attach.h"
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
    "usage: gwctl decrypt --key KEY [--cert CERT] [--out DIR] FILE|DIR|- [ATT.xml ...]\n\n"
    "Decrypts the first xenc:EncryptedData in FILE (- for stdin), e.g. a\n"
    "message from gwctl mailbox fetch, and unpacks its content container.\n"
    "DIR (from gwctl mailbox fetch --dir) means DIR/envelope.xml.\n"
    "Without --out, writes the original submission, byte for byte, to\n"
    "stdout.  With --out DIR, writes every part into DIR (the submission\n"
    "under its file name, attachments under their file names reduced to a\n"
    "safe basename, the gateway's inspection report as\n"
    "inspection-report.xml) and prints one line per part: name, size,\n"
    "SHA-256.\n\n"
    "Attachments the envelope lists are separate encrypted documents: by\n"
    "default ATT.xml next to FILE (as mailbox fetch stores them), or the\n"
    "ATT.xml files given after FILE.  With --out, each is decrypted in\n"
    "constant memory, checked against the envelope's list (encrypted and\n"
    "plain SHA-256, size; the list must equal the one the portal signed)\n"
    "and written under its file name; if any does not check out, nothing\n"
    "is written.\n\n"
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
	char *const *docs;		/* ATT.xml given after FILE */
	size_t ndocs;
	char envpath[PATH_MAX];		/* DIR/envelope.xml for a DIR */
	char attdir[PATH_MAX];		/* where ATT.xml are looked for */
};

/* One attachment decrypted into a temporary file of the output dir. */
struct att_out {
	char tmp[PATH_MAX];		/* "" until created */
	char name[MAX_NAME + 16];
	int done;
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

/* FILE or DIR: the envelope's path and where its ATT.xml are. */
static int
dec_paths(struct dec_opts *o)
{
	struct stat st;
	const char *slash;

	if (strcmp(o->input, "-") == 0) {
		o->attdir[0] = '\0';	/* only documents given by name */
		return 0;
	}
	if (stat(o->input, &st) == 0 && S_ISDIR(st.st_mode)) {
		if ((size_t)snprintf(o->envpath, sizeof(o->envpath),
		    "%s/envelope.xml", o->input) >= sizeof(o->envpath) ||
		    util_strlcpy(o->attdir, o->input, sizeof(o->attdir)) >=
		    sizeof(o->attdir))
			return gwctl_usage_err("decrypt", "the path is too long");
		o->input = o->envpath;
		return 0;
	}
	if ((slash = strrchr(o->input, '/')) == NULL)
		util_strlcpy(o->attdir, ".", sizeof(o->attdir));
	else if ((size_t)snprintf(o->attdir, sizeof(o->attdir), "%.*s",
	    (int)(slash - o->input), o->input) >= sizeof(o->attdir))
		return gwctl_usage_err("decrypt", "the path is too long");
	if (o->attdir[0] == '\0')
		util_strlcpy(o->attdir, "/", sizeof(o->attdir));
	return 0;
}

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
	if (argc - optind < 1)
		return gwctl_usage_err("decrypt", "expected one FILE (or - for stdin)");
	if ((size_t)(argc - optind - 1) > GWCTL_MAX_ATTACH)
		return gwctl_usage_err("decrypt", "at most %d attachment documents",
		    GWCTL_MAX_ATTACH);
	o->input = argv[optind];
	o->docs = argv + optind + 1;
	o->ndocs = (size_t)(argc - optind - 1);
	return dec_paths(o);
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

/* The key and the optional certificate of --key and --cert. */
static int
load_key(const struct dec_opts *o, struct keys **key, X509 **cert)
{
	int r;

	if ((r = keys_load(o->key, key)) != 0) {
		gwctl_err("decrypt", "cannot load the private key %s: %s", o->key,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		return r;
	}
	if (o->cert != NULL && (r = pki_read_cert(o->cert, cert)) != 0) {
		gwctl_err("decrypt", "cannot read a PEM certificate from %s", o->cert);
		return r;
	}
	return 0;
}

/* Reads, parses, decrypts: the container's bytes into *plain, the
 * envelope's attachment list (if any) into el. */
static int
decrypt_input(const struct dec_opts *o, struct keys *key, X509 *cert,
    unsigned char **plain, size_t *plen, struct gwctl_attlist *el)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	xmlDocPtr doc = NULL;
	xmlNodePtr enc;
	char why[200];
	int r;

	if ((r = gwctl_read_input(o->input, GWCTL_MAX_INPUT, &buf, &len)) != 0) {
		gwctl_err("decrypt", "cannot read %s: %s", o->input,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		goto out;
	}
	if ((r = xmlparse_safe((const char *)buf, len, &decrypt_limits, &doc)) != 0) {
		gwctl_err("decrypt", "%s: %s", o->input, gw_strerror(r));
		goto out;
	}
	if ((r = attlist_from_envelope(doc, el, why, sizeof(why))) != 0) {
		gwctl_err("decrypt", "%s: %s", o->input, why);
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
	return r;
}

/* The envelope's list must be the one the portal signed in the
 * submission (the Message part): same entries, same order. */
static int
check_lists(const struct parts *ps, const struct gwctl_attlist *el)
{
	char why[300];
	int r;

	if ((r = attlist_match_submission(ps->v[0].data, ps->v[0].len, el, why,
	    sizeof(why))) != 0)
		gwctl_err("decrypt", "%s; refusing the attachments", why);
	return r;
}

/* 1 if name is already used by a part or an earlier attachment. */
static int
name_taken(const struct parts *ps, const struct att_out *ao, size_t nao,
    const char *name)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].name, name) == 0)
			return 1;
	for (i = 0; i < nao; i++)
		if (ao[i].done && strcmp(ao[i].name, name) == 0)
			return 1;
	return 0;
}

/* The checks of one decrypted attachment against its entry. */
static int
check_result(const char *doc, const struct gwctl_att *a,
    const struct attach_result *res)
{
	if (strcmp(res->id, a->id) != 0) {
		gwctl_err("decrypt", "%s holds attachment \"%.64s\", not %s", doc,
		    res->id, a->id);
		return GW_ERR_ATTACHMENT;
	}
	if (res->cipher_size != a->cipher_size ||
	    strcasecmp(res->cipher_sha256, a->cipher_sha256) != 0) {
		gwctl_err("decrypt", "%s: the encrypted bytes of %s do not match "
		    "the envelope's CipherSize/CipherSHA256; refusing it", doc,
		    a->id);
		return GW_ERR_ATTACHMENT;
	}
	if (res->plain_size != a->size ||
	    strcasecmp(res->plain_sha256, a->sha256) != 0) {
		gwctl_err("decrypt", "%s: the decrypted %s (%s) does not match its "
		    "signed Size/SHA256; refusing it", doc, a->id, a->filename);
		return GW_ERR_ATTACHMENT;
	}
	return 0;
}

/*
 * Decrypts the document path into a new temporary file of dir; which
 * entry it is comes from its Id (want, when not NULL, must be it).
 */
static int
decrypt_one(const char *dir, const char *path, const struct gwctl_attlist *el,
    const struct gwctl_att *want, struct keys *key, X509 *cert,
    const struct parts *ps, struct att_out *ao)
{
	struct attach_result res;
	const struct gwctl_att *a = want;
	unsigned long long max = 0;
	char fallback[32], base[MAX_NAME + 1];
	size_t i, k = 1;
	int in = -1, out = -1, r = GW_ERR_IO;
	struct att_out *o;

	for (i = 0; i < el->n; i++)
		if (el->v[i].size > max)
			max = el->v[i].size;
	if (want != NULL)
		max = want->size;
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		gwctl_err("decrypt", "cannot open the attachment document %s: %s%s",
		    path, strerror(errno), errno == ENOENT ? " (fetch it with "
		    "gwctl mailbox fetch -o or --dir, or name it after FILE)" : "");
		return GW_ERR_IO;
	}
	memset(&res, 0, sizeof(res));
	/* the entry is not known yet for a named document: a scratch slot */
	o = &ao[el->n];
	memset(o, 0, sizeof(*o));
	if (gwctl_tmpfile(dir, o->tmp, sizeof(o->tmp), &out) != 0) {
		gwctl_err("decrypt", "cannot create a file in %s: %s", dir,
		    strerror(errno));
		o->tmp[0] = '\0';
		goto out;
	}
	r = attach_decrypt_fd(in, out, key, cert, max, &res);
	if (r != 0) {
		gwctl_err("decrypt", "cannot decrypt the attachment document %s: "
		    "%s", path, gw_strerror(r));
		goto out;
	}
	if (a == NULL)
		for (i = 0; i < el->n && a == NULL; i++)
			if (strcmp(el->v[i].id, res.id) == 0)
				a = &el->v[i];
	if (a == NULL || ao[a - el->v].done) {
		gwctl_err("decrypt", "%s holds attachment \"%.64s\", which the "
		    "envelope does not list%s", path, res.id, a ? " (or twice)" : "");
		r = GW_ERR_ATTACHMENT;
		goto out;
	}
	if ((r = check_result(path, a, &res)) != 0)
		goto out;
	if (fsync(out) != 0) {
		gwctl_err("decrypt", "cannot write %s: %s", o->tmp, strerror(errno));
		r = GW_ERR_IO;
		goto out;
	}
	i = (size_t)(a - el->v);
	ao[i] = *o;
	o->tmp[0] = '\0';
	snprintf(fallback, sizeof(fallback), "attachment-%zu", i + 1);
	safe_name(a->filename, fallback, ao[i].name, sizeof(ao[i].name));
	util_strlcpy(base, ao[i].name, sizeof(base));
	while (name_taken(ps, ao, el->n, ao[i].name))
		snprintf(ao[i].name, sizeof(ao[i].name), "%zu-%s", ++k, base);
	ao[i].done = 1;
	r = 0;
 out:
	if (out >= 0)
		close(out);
	close(in);
	if (o->tmp[0] != '\0') {	/* failed: nothing of it stays */
		(void)unlink(o->tmp);
		o->tmp[0] = '\0';
	}
	OPENSSL_cleanse(&res, sizeof(res));
	return r;
}

/* Every listed attachment into a checked temporary file of dir. */
static int
decrypt_attachments(const struct dec_opts *o, const char *dir,
    const struct gwctl_attlist *el, struct keys *key, X509 *cert,
    const struct parts *ps, struct att_out *ao)
{
	char path[PATH_MAX];
	size_t i;
	int r;

	if (o->ndocs > 0) {
		for (i = 0; i < o->ndocs; i++)
			if ((r = decrypt_one(dir, o->docs[i], el, NULL, key, cert,
			    ps, ao)) != 0)
				return r;
		for (i = 0; i < el->n; i++)
			if (!ao[i].done) {
				gwctl_err("decrypt", "no document given for attachment "
				    "%s (%s)", el->v[i].id, el->v[i].filename);
				return GW_ERR_ATTACHMENT;
			}
		return 0;
	}
	if (o->attdir[0] == '\0') {
		gwctl_err("decrypt", "the envelope lists %zu attachment(s): read "
		    "from stdin, name their documents after -", el->n);
		return GW_ERR_INVALID;
	}
	for (i = 0; i < el->n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.xml", o->attdir,
		    el->v[i].id) >= sizeof(path)) {
			gwctl_err("decrypt", "the path %s/%s.xml is too long",
			    o->attdir, el->v[i].id);
			return GW_ERR_TOO_LARGE;
		}
		if ((r = decrypt_one(dir, path, el, &el->v[i], key, cert, ps,
		    ao)) != 0)
			return r;
	}
	return 0;
}

static int
make_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && (errno != EEXIST || stat(dir, &st) != 0 ||
	    !S_ISDIR(st.st_mode))) {
		gwctl_err("decrypt", "cannot create the directory %s: %s", dir,
		    errno == EEXIST ? "a file of that name exists" : strerror(errno));
		return GWCTL_FAIL;
	}
	return 0;
}

/* The checked attachments under their names; one line each. */
static int
rename_attachments(const char *dir, const struct gwctl_attlist *el,
    struct att_out *ao)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < el->n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    ao[i].name) >= sizeof(path) || rename(ao[i].tmp, path) != 0) {
			gwctl_err("decrypt", "cannot rename %s to %s: %s", ao[i].tmp,
			    path, strerror(errno));
			return GWCTL_FAIL;
		}
		ao[i].tmp[0] = '\0';
		printf("%-40s %10llu  %s\n", ao[i].name, el->v[i].size,
		    el->v[i].sha256);
	}
	if (fflush(stdout) != 0) {
		gwctl_err("decrypt", "cannot write to stdout: %s", strerror(errno));
		return GWCTL_FAIL;
	}
	return GWCTL_OK;
}

static int
write_parts(const char *dir, const struct parts *ps)
{
	char path[PATH_MAX], sha[65];
	size_t i;
	int r;

	if (make_dir(dir) != 0)
		return GWCTL_FAIL;
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

/* --out DIR: the attachments first (into temporary files), then the
 * parts, then the attachments' names: nothing is written unless every
 * attachment checked out. */
static int
write_all(const struct dec_opts *o, const struct gwctl_attlist *el,
    struct keys *key, X509 *cert, const struct parts *ps)
{
	struct att_out *ao;
	size_t i;
	int rc = GWCTL_FAIL;

	if (el->n == 0)
		return write_parts(o->out, ps);
	if ((ao = calloc(el->n + 1, sizeof(*ao))) == NULL) {
		gwctl_err("decrypt", "out of memory");
		return GWCTL_FAIL;
	}
	if (make_dir(o->out) == 0 &&
	    decrypt_attachments(o, o->out, el, key, cert, ps, ao) == 0 &&
	    write_parts(o->out, ps) == GWCTL_OK)
		rc = rename_attachments(o->out, el, ao);
	for (i = 0; i <= el->n; i++)
		if (ao[i].tmp[0] != '\0')
			(void)unlink(ao[i].tmp);
	free(ao);
	return rc;
}

int
cmd_decrypt(int argc, char **argv)
{
	struct dec_opts o;
	struct parts *ps = NULL;
	struct gwctl_attlist *el = NULL;
	struct keys *key = NULL;
	X509 *cert = NULL;
	unsigned char *plain = NULL;
	size_t plen = 0, i;
	int r, rc = GWCTL_FAIL;

	memset(&o, 0, sizeof(o));
	if ((r = dec_options(argc, argv, &o)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    (el = calloc(1, sizeof(*el))) == NULL) {
		gwctl_err("decrypt", "out of memory");
		goto out;
	}
	if (load_key(&o, &key, &cert) != 0 ||
	    decrypt_input(&o, key, cert, &plain, &plen, el) != 0)
		goto out;
	if (el->n == 0 && o.ndocs > 0) {
		rc = gwctl_usage_err("decrypt", "%s lists no attachments, but "
		    "attachment documents were given", o.input);
		goto out;
	}
	r = unpack("decrypt", plain, plen, ps);
	/* the plaintext is personal data: wipe it, not only free it */
	OPENSSL_clear_free(plain, plen);
	plain = NULL;
	if (r != 0 || (el->n > 0 && check_lists(ps, el) != 0))
		goto out;
	if (o.out != NULL)
		rc = write_all(&o, el, key, cert, ps);
	else if (gwctl_write_output(NULL, ps->v[0].data, ps->v[0].len) != 0)
		gwctl_err("decrypt", "cannot write to stdout: %s", strerror(errno));
	else {
		if (ps->nattach + el->n > 0)
			fprintf(stderr, "gwctl: decrypt: %zu attachment(s) not "
			    "written; use --out DIR\n", ps->nattach + el->n);
		rc = GWCTL_OK;
	}
 out:
	OPENSSL_clear_free(plain, plen);
	for (i = 0; ps != NULL && i < ps->n; i++)
		OPENSSL_clear_free(ps->v[i].data, ps->v[i].len);
	free(ps);
	free(el);
	X509_free(cert);
	keys_free(key);
	return rc;
}

void
decrypt_safe_name(const char *in, const char *fallback, char *out,
    size_t outlen)
{
	safe_name(in, fallback, out, outlen);
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
