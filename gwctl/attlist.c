/*
 * attlist.c - the signed attachment lists of docs/attachments.md, as gwctl
 * builds them (sample --attach, sign --attach) and reads them back
 * (submit, mailbox fetch, decrypt, authority serve).
 *
 * A list entry names an attachment by Id and describes it by Filename,
 * ContentType, Size and SHA-256; the portal's signature covers the
 * submission's list, the gateway's the envelope's copy (which adds the
 * digest of the encrypted bytes).  Files are hashed in fixed pieces, never
 * read whole.  Everything read from a document is checked against the
 * schema's patterns here, because callers use Ids as file names and
 * compare digests as strings.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlstring.h>
#include <openssl/evp.h>

#include "err.h"
#include "gwctl.h"
#include "util.h"
#include "xmlparse.h"

#define NS_SUBMISSION	"urn:gatewayd:submission:1"
#define NS_ENVELOPE	"urn:gatewayd:envelope:1"
#define HASH_CHUNK	(256 * 1024)

int
attlist_valid_id(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return 0;
	return 1;
}

/* The schema's Filename: UTF-8, 1-255 characters, no / \ or control
 * characters. */
static int
valid_filename(const char *s)
{
	const char *p;
	int n;

	if (s[0] == '\0' || xmlCheckUTF8((const xmlChar *)s) == 0 ||
	    (n = xmlUTF8Strlen((const xmlChar *)s)) < 1 || n > 255)
		return 0;
	for (p = s; *p != '\0'; p++)
		if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20 ||
		    *p == 0x7f)
			return 0;
	return 1;
}

/* 1-63 of [A-Za-z0-9!#$&^_.+-] */
static int
valid_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("!#$&^_.+-", s[i]) == NULL)
			return 0;
	return 1;
}

/* The schema's ContentType: type/subtype, no parameters. */
static int
valid_ctype(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash != NULL && valid_token(s, (size_t)(slash - s)) &&
	    valid_token(slash + 1, strlen(slash + 1));
}

static int
valid_sha(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
			return 0;
	return s[64] == '\0';
}

static const char *
guess_type(const char *name)
{
	static const struct { const char *ext, *type; } map[] = {
		{ "pdf", "application/pdf" }, { "png", "image/png" },
		{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "tif", "image/tiff" }, { "tiff", "image/tiff" },
		{ "xml", "application/xml" }, { "txt", "text/plain" },
	};
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot != NULL && dot != name)
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcasecmp(dot + 1, map[i].ext) == 0)
				return map[i].type;
	return "application/octet-stream";
}

int
attlist_hash_file(const char *path, unsigned long long *size, char sha256[65])
{
	unsigned char *buf = NULL, md[32];
	unsigned long long total = 0;
	EVP_MD_CTX *ctx = NULL;
	ssize_t n;
	int fd = -1, r = GW_ERR_IO, e = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return GW_ERR_IO;
	if ((buf = malloc(HASH_CHUNK)) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, HASH_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			r = GW_ERR_INTERNAL;
			goto out;
		}
		total += (unsigned long long)n;
	}
	if (EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		r = GW_ERR_INTERNAL;
		goto out;
	}
	util_hex(md, sizeof(md), sha256);
	*size = total;
	r = 0;
 out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	close(fd);
	if (e != 0)
		errno = e;
	return r;
}

int
attlist_arg_path(const char *arg, char *path, size_t pathlen)
{
	const char *t = strstr(arg, ";type=");
	size_t n = t != NULL ? (size_t)(t - arg) : strlen(arg);

	if (n >= pathlen)
		return GW_ERR_TOO_LARGE;
	memcpy(path, arg, n);
	path[n] = '\0';
	return 0;
}

int
attlist_add_file(const char *cmd, struct gwctl_attlist *l, const char *arg)
{
	struct gwctl_att *a;
	const char *t = strstr(arg, ";type="), *base;
	char path[PATH_MAX];
	int r;

	if (l->n == GWCTL_MAX_ATTACH) {
		gwctl_err(cmd, "at most %d attachments", GWCTL_MAX_ATTACH);
		return GW_ERR_TOO_LARGE;
	}
	a = &l->v[l->n];
	memset(a, 0, sizeof(*a));
	if (attlist_arg_path(arg, path, sizeof(path)) != 0 || path[0] == '\0') {
		gwctl_err(cmd, "--attach needs FILE or FILE;type=TYPE, not \"%.80s\"",
		    arg);
		return GW_ERR_INVALID;
	}
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	if (!valid_filename(base)) {
		gwctl_err(cmd, "the file name \"%.80s\" cannot be listed: it must "
		    "be UTF-8, 1-255 characters, without \\ or control characters "
		    "(rename the file)", base);
		return GW_ERR_INVALID;
	}
	if (t != NULL && !valid_ctype(t + 6)) {
		gwctl_err(cmd, "--attach %.80s: the type must be TYPE/SUBTYPE "
		    "without parameters", arg);
		return GW_ERR_INVALID;
	}
	if ((r = attlist_hash_file(path, &a->size, a->sha256)) != 0) {
		gwctl_err(cmd, "cannot read the attachment %s: %s", path,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		return r;
	}
	snprintf(a->id, sizeof(a->id), "att-%zu", l->n + 1);
	util_strlcpy(a->filename, base, sizeof(a->filename));
	util_strlcpy(a->ctype, t != NULL ? t + 6 : guess_type(base),
	    sizeof(a->ctype));
	a->path = arg;
	l->n++;
	return 0;
}

int
attlist_insert(const struct gwctl_attlist *l, xmlNodePtr content)
{
	xmlNodePtr list, e;
	xmlNsPtr ns = content->ns;
	char size[32];
	size_t i;

	if ((list = xmlNewNode(ns, (const xmlChar *)"Attachments")) == NULL)
		return GW_ERR_NOMEM;
	for (i = 0; i < l->n; i++) {
		snprintf(size, sizeof(size), "%llu", l->v[i].size);
		if ((e = xmlNewChild(list, ns, (const xmlChar *)"Attachment",
		    NULL)) == NULL ||
		    xmlNewTextChild(e, ns, (const xmlChar *)"Id",
		    (const xmlChar *)l->v[i].id) == NULL ||
		    xmlNewTextChild(e, ns, (const xmlChar *)"Filename",
		    (const xmlChar *)l->v[i].filename) == NULL ||
		    xmlNewTextChild(e, ns, (const xmlChar *)"ContentType",
		    (const xmlChar *)l->v[i].ctype) == NULL ||
		    xmlNewTextChild(e, ns, (const xmlChar *)"Size",
		    (const xmlChar *)size) == NULL ||
		    xmlNewTextChild(e, ns, (const xmlChar *)"SHA256",
		    (const xmlChar *)l->v[i].sha256) == NULL) {
			xmlFreeNode(list);
			return GW_ERR_NOMEM;
		}
	}
	if (xmlAddNextSibling(content, list) == NULL) {
		xmlFreeNode(list);
		return GW_ERR_NOMEM;
	}
	return 0;
}

static int
is_el(xmlNodePtr n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    xmlStrcmp(n->ns->href, (const xmlChar *)ns) == 0 &&
	    xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* A Size or CipherSize: a decimal number, nothing else. */
static int
parse_size(const char *s, unsigned long long *out)
{
	return s != NULL && gwctl_parse_u64(s, 0, ~0ULL, out) == 0;
}

/* The checks both kinds of list share; i counts from 0. */
static int
check_entry(struct gwctl_attlist *l, size_t i, const char *what, char *why,
    size_t whylen)
{
	struct gwctl_att *a = &l->v[i];
	size_t k;

	if (!attlist_valid_id(a->id)) {
		snprintf(why, whylen, "%s %zu has no valid Id", what, i + 1);
		return GW_ERR_INVALID;
	}
	for (k = 0; k < i; k++)
		if (strcmp(l->v[k].id, a->id) == 0) {
			snprintf(why, whylen, "the Id %s is listed twice", a->id);
			return GW_ERR_INVALID;
		}
	if (!valid_filename(a->filename) || !valid_ctype(a->ctype) ||
	    !valid_sha(a->sha256)) {
		snprintf(why, whylen, "%s %s has an invalid Filename, ContentType "
		    "or SHA256", what, a->id);
		return GW_ERR_INVALID;
	}
	return 0;
}

/* The text of n's child element name (namespace ns) into out; 0 if there
 * is exactly such text and it fits. */
static int
child_text(xmlNodePtr n, const char *ns, const char *name, char *out,
    size_t outlen)
{
	xmlNodePtr c;
	xmlChar *t;
	size_t len;

	for (c = n->children; c != NULL; c = c->next)
		if (is_el(c, ns, name))
			break;
	if (c == NULL || (t = xmlNodeGetContent(c)) == NULL)
		return -1;
	len = util_strlcpy(out, (const char *)t, outlen);
	xmlFree(t);
	return len < outlen ? 0 : -1;
}

int
attlist_from_submission(xmlDocPtr doc, struct gwctl_attlist *l, char *why,
    size_t whylen)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), list = NULL, n;
	char size[32];
	int r;

	l->n = 0;
	if (root == NULL)
		return 0;
	for (n = root->children; n != NULL; n = n->next)
		if (is_el(n, NS_SUBMISSION, "Attachments")) {
			if (list != NULL) {
				snprintf(why, whylen, "the document has two "
				    "Attachments lists");
				return GW_ERR_INVALID;
			}
			list = n;
		}
	if (list == NULL)
		return 0;
	for (n = list->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!is_el(n, NS_SUBMISSION, "Attachment") ||
		    l->n == GWCTL_MAX_ATTACH) {
			snprintf(why, whylen, "the Attachments list holds more than "
			    "%d Attachment elements or something else",
			    GWCTL_MAX_ATTACH);
			return GW_ERR_INVALID;
		}
		memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
		if (child_text(n, NS_SUBMISSION, "Id", l->v[l->n].id,
		    sizeof(l->v[l->n].id)) != 0 ||
		    child_text(n, NS_SUBMISSION, "Filename", l->v[l->n].filename,
		    sizeof(l->v[l->n].filename)) != 0 ||
		    child_text(n, NS_SUBMISSION, "ContentType", l->v[l->n].ctype,
		    sizeof(l->v[l->n].ctype)) != 0 ||
		    child_text(n, NS_SUBMISSION, "SHA256", l->v[l->n].sha256,
		    sizeof(l->v[l->n].sha256)) != 0 ||
		    child_text(n, NS_SUBMISSION, "Size", size, sizeof(size)) != 0 ||
		    !parse_size(size, &l->v[l->n].size)) {
			snprintf(why, whylen, "Attachment %zu lacks Id, Filename, "
			    "ContentType, Size or SHA256, or one is too long",
			    l->n + 1);
			return GW_ERR_INVALID;
		}
		if ((r = check_entry(l, l->n, "Attachment", why, whylen)) != 0)
			return r;
		l->n++;
	}
	if (l->n == 0) {
		snprintf(why, whylen, "the Attachments list is empty");
		return GW_ERR_INVALID;
	}
	return 0;
}

/* Depth-first, document order: the first gw:Attachments below n. */
static xmlNodePtr
find_env_list(xmlNodePtr n, int depth)
{
	xmlNodePtr hit;

	for (; n != NULL && depth < 64; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(n, NS_ENVELOPE, "Attachments"))
			return n;
		if ((hit = find_env_list(n->children, depth + 1)) != NULL)
			return hit;
	}
	return NULL;
}

/* An attribute into out; 0 if present and it fits. */
static int
attr(xmlNodePtr n, const char *name, char *out, size_t outlen)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	size_t len;

	if (v == NULL)
		return -1;
	len = util_strlcpy(out, (const char *)v, outlen);
	xmlFree(v);
	return len < outlen ? 0 : -1;
}

int
attlist_from_envelope(xmlDocPtr doc, struct gwctl_attlist *l, char *why,
    size_t whylen)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), list, n, hdr;
	char size[32], csize[32];
	struct gwctl_att *a;
	int r;

	l->n = 0;
	/* Only the SOAP header carries metadata; the body is ciphertext. */
	for (hdr = root != NULL ? root->children : NULL; hdr != NULL;
	    hdr = hdr->next)
		if (hdr->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(hdr->name, (const xmlChar *)"Header") == 0)
			break;
	if (hdr == NULL || (list = find_env_list(hdr->children, 0)) == NULL)
		return 0;
	for (n = list->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!is_el(n, NS_ENVELOPE, "Attachment") ||
		    l->n == GWCTL_MAX_ATTACH) {
			snprintf(why, whylen, "the envelope's Attachments list holds "
			    "more than %d gw:Attachment elements or something else",
			    GWCTL_MAX_ATTACH);
			return GW_ERR_INVALID;
		}
		a = &l->v[l->n];
		memset(a, 0, sizeof(*a));
		if (attr(n, "Id", a->id, sizeof(a->id)) != 0 ||
		    attr(n, "Filename", a->filename, sizeof(a->filename)) != 0 ||
		    attr(n, "ContentType", a->ctype, sizeof(a->ctype)) != 0 ||
		    attr(n, "SHA256", a->sha256, sizeof(a->sha256)) != 0 ||
		    attr(n, "CipherSHA256", a->cipher_sha256,
		    sizeof(a->cipher_sha256)) != 0 ||
		    attr(n, "Size", size, sizeof(size)) != 0 ||
		    attr(n, "CipherSize", csize, sizeof(csize)) != 0 ||
		    !parse_size(size, &a->size) ||
		    !parse_size(csize, &a->cipher_size)) {
			snprintf(why, whylen, "the envelope's gw:Attachment %zu lacks "
			    "one of Id, Filename, ContentType, Size, SHA256, "
			    "CipherSize, CipherSHA256", l->n + 1);
			return GW_ERR_INVALID;
		}
		if ((r = check_entry(l, l->n, "the envelope's gw:Attachment", why,
		    whylen)) != 0)
			return r;
		if (!valid_sha(a->cipher_sha256)) {
			snprintf(why, whylen, "the envelope's gw:Attachment %s has an "
			    "invalid CipherSHA256", a->id);
			return GW_ERR_INVALID;
		}
		a->has_cipher = 1;
		l->n++;
	}
	if (l->n == 0) {
		snprintf(why, whylen, "the envelope's Attachments list is empty");
		return GW_ERR_INVALID;
	}
	return 0;
}

int
attlist_same(const struct gwctl_att *a, const struct gwctl_att *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->filename, b->filename) == 0 &&
	    strcmp(a->ctype, b->ctype) == 0 && a->size == b->size &&
	    strcmp(a->sha256, b->sha256) == 0;
}

/* Parser limits for a decrypted submission: it may carry big content. */
static const struct xml_limits submission_limits = {
	.max_bytes = GWCTL_MAX_INPUT,
	.max_depth = 256,
	.max_nodes = 10000000,
	.max_attrs = 256,
	.max_text = GWCTL_MAX_INPUT,
};

int
attlist_match_submission(const unsigned char *xml, size_t len,
    const struct gwctl_attlist *el, char *why, size_t whylen)
{
	struct gwctl_attlist *sl;
	xmlDocPtr doc = NULL;
	char inner[200] = "";
	size_t i;
	int r = GW_ERR_ATTACHMENT;

	if ((sl = calloc(1, sizeof(*sl))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return GW_ERR_NOMEM;
	}
	if (xmlparse_safe((const char *)xml, len, &submission_limits, &doc) != 0 ||
	    attlist_from_submission(doc, sl, inner, sizeof(inner)) != 0) {
		snprintf(why, whylen, "the submission's attachment list cannot be "
		    "read%s%s", inner[0] ? ": " : "", inner);
		r = GW_ERR_INVALID;
		goto out;
	}
	if (sl->n != el->n) {
		snprintf(why, whylen, "the envelope lists %zu attachment(s), the "
		    "signed submission %zu", el->n, sl->n);
		goto out;
	}
	for (i = 0; i < el->n; i++)
		if (!attlist_same(&sl->v[i], &el->v[i])) {
			snprintf(why, whylen, "the envelope's entry for %s differs "
			    "from the one the portal signed in the submission",
			    el->v[i].id);
			goto out;
		}
	r = 0;
 out:
	xmlFreeDoc(doc);
	free(sl);
	return r;
}
