/*
 * attach.c - attachments of any size in constant memory.  See attach.h and
 * docs/attachments.md.
 *
 * What it owns: the spool file of one attachment (IV || ciphertext || tag,
 * AES-256-GCM) while it is written, the document a reader receives for it
 * (header || base64(spool file) || footer) while it is streamed, and the
 * reader-side decryption of such a document from one descriptor to another.
 * No state is shared: each object belongs to the one thread using it.
 *
 * Invariants:
 * - Memory is bounded whatever the attachment's size: fixed buffers of
 *   BUF_LEN (64 KiB) for data, and for decryption at most MAX_HEAD (1 MiB)
 *   for the part of the document before the CipherValue text.
 * - The content key lives in a writer (until finish hands it to the caller
 *   in attach_info) or in a decryption (until it returns); both wipe it on
 *   every path out.  Once a message is accepted the gateway cannot
 *   decrypt its spool files (attach_spool.c reads them only during intake).
 * - A spool file exists only while its writer is open or after a finish
 *   that returned 0: every failure and every abort unlinks it.  Files are
 *   created O_EXCL with mode 0600 and random names, never followed through
 *   a symbolic link.
 * - The document's XML (EncryptedData, EncryptedKeys) comes from xmlenc.c,
 *   so attachments and content containers are encrypted for readers the
 *   same way and readers parse them the same way.
 *
 * Decryption (attach_decrypt_fd) in four steps, bounded in each:
 *  1. A small scanner (scan_head) follows the tags of the first MAX_HEAD
 *     bytes to the start tag of the CipherValue that is a child of the
 *     root's CipherData, and notes the three qualified names open there.
 *  2. That header, completed with their end tags, is parsed with
 *     xmlparse_safe() and checked (root xenc:EncryptedData, the CipherValue
 *     is the last thing in it); xmlenc_content_key() checks the algorithms
 *     and unwraps the content key exactly as xmlenc_decrypt() would.
 *  3. The CipherValue text is base64-decoded as it is read (white space
 *     allowed) and decrypted; the last 16 decoded bytes are held back since
 *     they are the tag, checked when the text ends at '<'.
 *  4. What follows must be exactly the three end tags (white space
 *     allowed): nothing after the ciphertext goes unread.
 * Plaintext reaches fd_out before the tag is checked (it cannot be held:
 * it is of any size); attach.h tells the caller to discard it unless 0.
 * Without osci128:IvLength the IV is read as 12 bytes, the W3C XML-Enc 1.1
 * value: xmlenc_decrypt() also tries the old OSCI 16 bytes then, but a
 * stream cannot be decrypted twice.  XXX if a peer ever sends attachments
 * with 16-byte IVs and no IvLength, decrypt a seekable fd_in twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlstring.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "attach.h"
#include "err.h"
#include "util.h"
#include "xmlenc.h"
#include "xmlparse.h"

#define NS_XENC		"http://www.w3.org/2001/04/xmlenc#"

#define BUF_LEN		(64u << 10)	/* data buffers */
#define B64_IN		(48u << 10)	/* file bytes per base64 block: 3 | it */
#define B64_OUT		(B64_IN / 3 * 4)
#define MAX_HEAD	(1u << 20)	/* document before the CipherValue text */
#define MAX_DEPTH	64		/* open elements in that header */
#define MAX_QNAME	256		/* EncryptedData, CipherData, CipherValue */
#define MAX_TAIL	4096		/* after the CipherValue text */
#define MAX_TEXT	127		/* Id, MimeType (attach_result's arrays) */
#define MAX_IV		16
/* GCM: at most 2^39 - 256 bits of plaintext under one IV. */
#define GCM_MAX_PLAIN	((UINT64_C(1) << 36) - 32)

#define XC(s)		((const xmlChar *)(s))

/* ---- I/O --------------------------------------------------------------- */


/* Reads up to len bytes at off, fewer only at the end of the file. */
static int
pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	unsigned char *p = buf;
	size_t have = 0;
	ssize_t n;

	while (have < len) {
		if ((n = pread(fd, p + have, len - have, (off_t)(off + have))) < 0) {
			if (errno == EINTR)
				continue;
			return GW_ERR_IO;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	*got = have;
	return 0;
}

/* One read(): 0 bytes only at the end of the input. */
static int
read_some(int fd, void *buf, size_t len, size_t *got)
{
	ssize_t n;

	while ((n = read(fd, buf, len)) < 0)
		if (errno != EINTR)
			return GW_ERR_IO;
	*got = (size_t)n;
	return 0;
}

static int
digest_hex(EVP_MD_CTX *md, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 32)
		return GW_ERR_CRYPTO;
	util_hex(d, n, out);
	return 0;
}

/* ---- intake ------------------------------------------------------------ */

struct attach_writer {
	int fd;
	int created;			/* the file is ours to unlink */
	int err;			/* first failure of an update, sticky */
	EVP_CIPHER_CTX *gcm;
	EVP_MD_CTX *plain_md;		/* SHA-256 of the plaintext */
	EVP_MD_CTX *file_md;		/* SHA-256 of the file's bytes */
	uint64_t plain_size;
	uint64_t file_size;
	unsigned char key[ATTACH_KEY_LEN];
	char path[512];
	unsigned char buf[BUF_LEN];	/* ciphertext on its way to the file */
};

static void
writer_free(struct attach_writer *w, int remove)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (remove && w->created)
		unlink(w->path);
	OPENSSL_cleanse(w->key, sizeof(w->key));
	EVP_CIPHER_CTX_free(w->gcm);	/* wipes the key schedule */
	EVP_MD_CTX_free(w->plain_md);
	EVP_MD_CTX_free(w->file_md);
	free(w);
}

int
attach_writer_open(const char *dir, struct attach_writer **out)
{
	struct attach_writer *w;
	unsigned char rnd[16], iv[ATTACH_IV_LEN];
	char hex[33];
	int r = GW_ERR_CRYPTO, n;

	if (dir == NULL || out == NULL)
		return GW_ERR_INVALID;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return GW_ERR_NOMEM;
	w->fd = -1;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    RAND_bytes(w->key, sizeof(w->key)) != 1 ||
	    RAND_bytes(iv, sizeof(iv)) != 1)
		goto fail;
	util_hex(rnd, sizeof(rnd), hex);
	n = snprintf(w->path, sizeof(w->path), "%s/in-%s.tmp", dir, hex);
	if (n < 0 || (size_t)n >= sizeof(w->path)) {
		r = GW_ERR_TOO_LARGE;
		goto fail;
	}
	if ((w->gcm = EVP_CIPHER_CTX_new()) == NULL ||
	    (w->plain_md = EVP_MD_CTX_new()) == NULL ||
	    (w->file_md = EVP_MD_CTX_new()) == NULL) {
		r = GW_ERR_NOMEM;
		goto fail;
	}
	if (EVP_EncryptInit_ex(w->gcm, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(w->gcm, EVP_CTRL_GCM_SET_IVLEN, ATTACH_IV_LEN,
	    NULL) != 1 ||
	    EVP_EncryptInit_ex(w->gcm, NULL, NULL, w->key, iv) != 1 ||
	    EVP_DigestInit_ex(w->plain_md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(w->file_md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(w->file_md, iv, sizeof(iv)) != 1)
		goto fail;
	r = GW_ERR_IO;
	if ((w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0)
		goto fail;
	w->created = 1;
	if ((r = util_write_all(w->fd, iv, sizeof(iv))) != 0)
		goto fail;
	w->file_size = sizeof(iv);
	*out = w;
	return 0;
 fail:
	writer_free(w, 1);
	return r;
}

int
attach_writer_update(struct attach_writer *w, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t chunk;
	int n, r;

	if (w == NULL || (buf == NULL && len > 0))
		return GW_ERR_INVALID;
	if (w->err != 0)
		return w->err;
	if (len > GCM_MAX_PLAIN - w->plain_size)
		return w->err = GW_ERR_TOO_LARGE;
	while (len > 0) {
		chunk = len < BUF_LEN ? len : BUF_LEN;
		if (EVP_EncryptUpdate(w->gcm, w->buf, &n, p, (int)chunk) != 1 ||
		    (size_t)n != chunk ||
		    EVP_DigestUpdate(w->plain_md, p, chunk) != 1 ||
		    EVP_DigestUpdate(w->file_md, w->buf, chunk) != 1)
			return w->err = GW_ERR_CRYPTO;
		if ((r = util_write_all(w->fd, w->buf, chunk)) != 0)
			return w->err = r;
		w->plain_size += chunk;
		w->file_size += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

uint64_t
attach_writer_size(const struct attach_writer *w)
{
	return w == NULL ? 0 : w->plain_size;
}

/* Writes the tag and closes the file, fsync'd when sync is set. */
static int
writer_end(struct attach_writer *w, struct attach_info *info, int sync)
{
	struct attach_info res;
	unsigned char tag[ATTACH_TAG_LEN];
	int r, n, rc;

	if (w == NULL)
		return GW_ERR_INVALID;
	memset(&res, 0, sizeof(res));
	if ((r = info == NULL ? GW_ERR_INVALID : w->err) != 0)
		goto fail;
	r = GW_ERR_CRYPTO;
	if (EVP_EncryptFinal_ex(w->gcm, w->buf, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(w->gcm, EVP_CTRL_GCM_GET_TAG, sizeof(tag),
	    tag) != 1 ||
	    EVP_DigestUpdate(w->file_md, tag, sizeof(tag)) != 1)
		goto fail;
	if ((r = util_write_all(w->fd, tag, sizeof(tag))) != 0)
		goto fail;
	w->file_size += sizeof(tag);
	r = GW_ERR_IO;
	if (sync && fsync(w->fd) != 0)
		goto fail;
	rc = close(w->fd);
	w->fd = -1;
	if (rc != 0)
		goto fail;
	if ((r = digest_hex(w->plain_md, res.plain_sha256)) != 0 ||
	    (r = digest_hex(w->file_md, res.cipher_sha256)) != 0)
		goto fail;
	memcpy(res.key, w->key, sizeof(res.key));
	res.plain_size = w->plain_size;
	res.cipher_size = w->file_size;
	util_strlcpy(res.path, w->path, sizeof(res.path));
	*info = res;
	OPENSSL_cleanse(&res, sizeof(res));
	writer_free(w, 0);
	return 0;
 fail:
	writer_free(w, 1);
	return r;
}

int
attach_writer_finish(struct attach_writer *w, struct attach_info *info)
{
	return writer_end(w, info, 1);
}

int
attach_writer_close(struct attach_writer *w, struct attach_info *info)
{
	return writer_end(w, info, 0);
}

int
attach_sync(const char *path)
{
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return GW_ERR_IO;
	if (fsync(fd) != 0)
		r = GW_ERR_IO;
	if (close(fd) != 0)
		r = GW_ERR_IO;
	return r;
}

void
attach_writer_abort(struct attach_writer *w)
{
	writer_free(w, 1);
}

/* ---- output: the document ---------------------------------------------- */

/* An attribute value we write: 1-127 bytes of UTF-8, no control characters. */
static int
text_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > MAX_TEXT ||
	    xmlCheckUTF8(XC(s)) == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* The first element child of n named xenc:name, or NULL. */
static xmlNodePtr
xenc_child(xmlNodePtr n, const char *name)
{
	xmlNodePtr c;

	for (c = n != NULL ? n->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns != NULL &&
		    xmlStrEqual(c->ns->href, XC(NS_XENC)) &&
		    xmlStrEqual(c->name, XC(name)))
			return c;
	return NULL;
}

/* Splits the serialised doc at its only occurrence of mark. */
static int
split_at(const char *doc, size_t len, const char *mark, char **hdr,
    size_t *hdrlen, char **ftr, size_t *ftrlen)
{
	const char *at, *rest;
	size_t mlen = strlen(mark), h, f;
	char *a = NULL, *b = NULL;

	if ((at = memmem(doc, len, mark, mlen)) == NULL)
		return GW_ERR_INTERNAL;
	rest = at + mlen;
	if (memmem(rest, len - (size_t)(rest - doc), mark, mlen) != NULL)
		return GW_ERR_INTERNAL;
	h = (size_t)(at - doc);
	f = len - (size_t)(rest - doc);
	if ((a = malloc(h + 1)) == NULL || (b = malloc(f + 1)) == NULL) {
		free(a);
		return GW_ERR_NOMEM;
	}
	memcpy(a, doc, h);
	a[h] = '\0';
	memcpy(b, rest, f);
	b[f] = '\0';
	*hdr = a;
	*hdrlen = h;
	*ftr = b;
	*ftrlen = f;
	return 0;
}

int
attach_part_header(const unsigned char key[ATTACH_KEY_LEN],
    X509 *const *rcpt, size_t nrcpt, const char *id, const char *mime,
    char **hdr, size_t *hdrlen, char **ftr, size_t *ftrlen)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr ed = NULL, cv;
	xmlChar *mem = NULL;
	unsigned char rnd[16];
	char hex[33], mark[64];
	int size = 0, r;

	if (key == NULL || hdr == NULL || hdrlen == NULL || ftr == NULL ||
	    ftrlen == NULL || !text_ok(id) || !text_ok(mime))
		return GW_ERR_INVALID;
	/* A random placeholder for the CipherValue text: '#' is not base64
	 * and the 128 random bits make it unique in the document. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return GW_ERR_CRYPTO;
	util_hex(rnd, sizeof(rnd), hex);
	snprintf(mark, sizeof(mark), "#ciphervalue-%s#", hex);
	if ((doc = xmlNewDoc(XC("1.0"))) == NULL)
		return GW_ERR_NOMEM;
	if ((r = xmlenc_skeleton(doc, key, rcpt, nrcpt, NULL, &ed)) != 0)
		goto out;
	xmlDocSetRootElement(doc, ed);
	r = GW_ERR_NOMEM;
	if (xmlNewProp(ed, XC("Id"), XC(id)) == NULL ||
	    xmlNewProp(ed, XC("MimeType"), XC(mime)) == NULL)
		goto out;
	if ((cv = xenc_child(xenc_child(ed, "CipherData"), "CipherValue")) ==
	    NULL) {
		r = GW_ERR_INTERNAL;
		goto out;
	}
	xmlNodeAddContent(cv, XC(mark));
	if (cv->children == NULL)
		goto out;
	xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
	if (mem == NULL || size <= 0)
		goto out;
	r = split_at((const char *)mem, (size_t)size, mark, hdr, hdrlen, ftr,
	    ftrlen);
 out:
	xmlFree(mem);
	xmlFreeDoc(doc);
	return r;
}

uint64_t
attach_b64_len(uint64_t n)
{
	return (n / 3 + (n % 3 != 0)) * 4;
}

struct attach_reader {
	int fd;
	int err;			/* sticky */
	int end_checked;		/* file size checked after the last block */
	char *hdr, *ftr;
	size_t hdrlen, ftrlen;
	uint64_t fsize;			/* at open */
	uint64_t fpos;			/* file bytes encoded so far */
	uint64_t pos;			/* bytes produced so far */
	uint64_t total;
	size_t outpos, outlen;		/* pending base64 in out */
	unsigned char in[B64_IN];
	char out[B64_OUT + 1];		/* EVP_EncodeBlock adds a NUL */
};

int
attach_reader_open(const char *path, const char *hdr, size_t hdrlen,
    const char *ftr, size_t ftrlen, struct attach_reader **out)
{
	struct attach_reader *r;
	struct stat st;
	int e = GW_ERR_NOMEM;

	if (path == NULL || out == NULL || (hdr == NULL && hdrlen > 0) ||
	    (ftr == NULL && ftrlen > 0))
		return GW_ERR_INVALID;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return GW_ERR_NOMEM;
	r->fd = -1;
	if ((r->hdr = malloc(hdrlen + 1)) == NULL ||
	    (r->ftr = malloc(ftrlen + 1)) == NULL)
		goto fail;
	if (hdrlen > 0)
		memcpy(r->hdr, hdr, hdrlen);
	if (ftrlen > 0)
		memcpy(r->ftr, ftr, ftrlen);
	r->hdrlen = hdrlen;
	r->ftrlen = ftrlen;
	e = GW_ERR_IO;
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		goto fail;
	if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto fail;
	r->fsize = (uint64_t)st.st_size;
	r->total = hdrlen + attach_b64_len(r->fsize) + ftrlen;
	*out = r;
	return 0;
 fail:
	if (r->fd >= 0)
		close(r->fd);
	free(r->hdr);
	free(r->ftr);
	free(r);
	return e;
}

uint64_t
attach_reader_total(const struct attach_reader *r)
{
	return r == NULL ? 0 : r->total;
}

/* GW_ERR_INTERNAL when the file's size is not what it was at open. */
static int
size_unchanged(const struct attach_reader *r)
{
	struct stat st;

	if (fstat(r->fd, &st) != 0)
		return GW_ERR_IO;
	return (uint64_t)st.st_size == r->fsize ? 0 : GW_ERR_INTERNAL;
}

/* The next block of the file into out as base64 (3 | B64_IN: no padding
 * but at the very end). */
static int
refill(struct attach_reader *r)
{
	uint64_t left = r->fsize - r->fpos;
	size_t want = left < B64_IN ? (size_t)left : B64_IN, got = 0;
	int e;

	if ((e = size_unchanged(r)) != 0 ||
	    (e = pread_full(r->fd, r->in, want, r->fpos, &got)) != 0)
		return e;
	if (got != want)
		return GW_ERR_INTERNAL;		/* shrank while we read */
	r->fpos += got;
	r->outlen = (size_t)EVP_EncodeBlock((unsigned char *)r->out, r->in,
	    (int)got);
	r->outpos = 0;
	return 0;
}

long
attach_reader_read(struct attach_reader *r, void *buf, size_t max)
{
	unsigned char *dst = buf;
	uint64_t b64end, off;
	size_t done = 0, n;
	int e;

	if (r == NULL || (buf == NULL && max > 0))
		return GW_ERR_INVALID;
	if (r->err != 0)
		return r->err;
	if (max > LONG_MAX)
		max = LONG_MAX;
	b64end = r->hdrlen + attach_b64_len(r->fsize);
	while (done < max && r->pos < r->total) {
		if (r->pos < r->hdrlen) {
			off = r->pos;
			n = r->hdrlen - (size_t)off;
			n = n < max - done ? n : max - done;
			memcpy(dst + done, r->hdr + off, n);
		} else if (r->pos < b64end) {
			if (r->outpos == r->outlen && (e = refill(r)) != 0)
				return r->err = e;
			n = r->outlen - r->outpos;
			n = n < max - done ? n : max - done;
			memcpy(dst + done, r->out + r->outpos, n);
			r->outpos += n;
		} else {
			if (!r->end_checked) {
				if ((e = size_unchanged(r)) != 0)
					return r->err = e;
				r->end_checked = 1;
			}
			off = r->pos - b64end;
			n = r->ftrlen - (size_t)off;
			n = n < max - done ? n : max - done;
			memcpy(dst + done, r->ftr + off, n);
		}
		done += n;
		r->pos += n;
	}
	return (long)done;
}

void
attach_reader_free(struct attach_reader *r)
{
	if (r == NULL)
		return;
	close(r->fd);
	free(r->hdr);
	free(r->ftr);
	free(r);
}

/* ---- reader side: decryption ------------------------------------------- */

enum dec_state { ST_HEAD, ST_B64, ST_TAIL };

/* An element open in the header: its qualified name in head. */
struct open_elem {
	size_t off, len;
};

struct dec {
	enum dec_state state;
	int fd_out;
	/* step 1: the header */
	char *head;			/* MAX_HEAD bytes */
	size_t headlen;
	size_t scan;			/* where scan_head() resumes */
	struct open_elem stack[MAX_DEPTH];
	int depth;
	int had_root;
	size_t body;			/* offset of the CipherValue text */
	char qname[3][MAX_QNAME + 1];	/* EncryptedData, CipherData, CipherValue */
	/* step 3: base64 and AES-GCM */
	uint32_t quad;			/* base64 bits pending */
	int nq;				/* characters in quad */
	int pad;			/* '=' in this quantum */
	int padded;			/* a padded quantum ended the data */
	EVP_CIPHER_CTX *gcm;
	EVP_MD_CTX *plain_md;
	EVP_MD_CTX *cipher_md;
	const EVP_CIPHER *cipher;
	unsigned char *cek;
	size_t ceklen;
	unsigned char iv[MAX_IV];
	size_t ivlen, ivhave;
	unsigned char hold[ATTACH_TAG_LEN];	/* the last decoded bytes */
	size_t nhold;
	uint64_t plain_size, cipher_size, max_plain;
	unsigned char dec[BUF_LEN];	/* decoded, not yet passed on */
	size_t ndec;
	unsigned char plain[BUF_LEN];
	/* step 4 */
	char tail[MAX_TAIL];
	size_t taillen;
	unsigned char in[BUF_LEN];
};

static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The local part of the qualified name at p (len bytes). */
static int
local_is(const char *p, size_t len, const char *name)
{
	const char *colon = memchr(p, ':', len);
	size_t n = strlen(name);

	if (colon != NULL) {
		len -= (size_t)(colon + 1 - p);
		p = colon + 1;
	}
	return len == n && memcmp(p, name, n) == 0;
}

/* Where the token starting at i with opening open ends (after close), or 0. */
static size_t
token_end(const char *b, size_t len, size_t i, const char *close)
{
	size_t n = strlen(close);
	const char *at = NULL, *p = b + i;

	if (len - i >= n)
		at = memmem(p, len - i, close, n);
	return at == NULL ? 0 : (size_t)(at - b) + n;
}

/* The '>' ending the tag at i (quotes respected), or 0 when not in yet. */
static size_t
tag_end(const char *b, size_t len, size_t i)
{
	char quote = 0;

	for (; i < len; i++) {
		if (quote != 0) {
			if (b[i] == quote)
				quote = 0;
		} else if (b[i] == '"' || b[i] == '\'')
			quote = b[i];
		else if (b[i] == '>')
			return i;
	}
	return 0;
}

/* The length of the name at p (up to white space, '/' or '>'). */
static size_t
name_len(const char *p, size_t max)
{
	size_t n = 0;

	while (n < max && !is_ws(p[n]) && p[n] != '/' && p[n] != '>')
		n++;
	return n;
}

/* A start tag at i, its '>' at gt: the CipherValue we look for, or pushed. */
static int
start_tag(struct dec *d, size_t i, size_t gt)
{
	const char *b = d->head;
	size_t nl = name_len(b + i + 1, gt - i - 1);
	int k;

	if (nl == 0)
		return GW_ERR_XML_MALFORMED;
	if (b[gt - 1] == '/') {			/* empty element */
		if (d->depth == 0)
			return GW_ERR_INVALID;	/* an empty root */
		return 0;
	}
	if (d->depth == 2 && local_is(b + i + 1, nl, "CipherValue") &&
	    local_is(b + d->stack[0].off, d->stack[0].len, "EncryptedData") &&
	    local_is(b + d->stack[1].off, d->stack[1].len, "CipherData")) {
		d->stack[2].off = i + 1;
		d->stack[2].len = nl;
		for (k = 0; k < 3; k++) {
			if (d->stack[k].len > MAX_QNAME)
				return GW_ERR_INVALID;
			memcpy(d->qname[k], b + d->stack[k].off, d->stack[k].len);
			d->qname[k][d->stack[k].len] = '\0';
		}
		d->body = gt + 1;
		return 1;
	}
	if (d->depth == MAX_DEPTH)
		return GW_ERR_TOO_LARGE;
	if (d->depth == 0 && d->had_root)
		return GW_ERR_XML_MALFORMED;	/* a second root */
	d->stack[d->depth].off = i + 1;
	d->stack[d->depth].len = nl;
	d->depth++;
	d->had_root = 1;
	return 0;
}

/* An end tag at i, its '>' at gt: must close the innermost open element. */
static int
end_tag(struct dec *d, size_t i, size_t gt)
{
	const char *b = d->head;
	size_t nl = name_len(b + i + 2, gt - i - 2), k;
	struct open_elem *top;

	for (k = i + 2 + nl; k < gt; k++)
		if (!is_ws(b[k]))
			return GW_ERR_XML_MALFORMED;
	if (d->depth == 0)
		return GW_ERR_XML_MALFORMED;
	top = &d->stack[d->depth - 1];
	if (top->len != nl || memcmp(b + top->off, b + i + 2, nl) != 0)
		return GW_ERR_XML_MALFORMED;
	if (--d->depth == 0)
		return GW_ERR_INVALID;		/* the root ended: no CipherValue */
	return 0;
}

/*
 * Step 1: follows the tags of head from d->scan.  1 when the CipherValue
 * start tag is found (d->body, d->qname set), 0 when more bytes are needed,
 * else an error.  Only the structure is followed here; xmlparse_safe()
 * judges well-formedness afterwards.  A token cut off at the end of what
 * was read is scanned again from its start with more bytes.
 */
static int
scan_head(struct dec *d)
{
	const char *b = d->head, *lt;
	size_t len = d->headlen, i = d->scan, e;
	int r;

	while (i < len) {
		if ((lt = memchr(b + i, '<', len - i)) == NULL) {
			i = len;
			break;
		}
		i = (size_t)(lt - b);
		if (len - i < 9)		/* "<![CDATA[" is the longest */
			break;
		if (b[i + 1] == '?') {
			e = token_end(b, len, i + 2, "?>");
		} else if (memcmp(b + i, "<!--", 4) == 0) {
			e = token_end(b, len, i + 4, "-->");
		} else if (memcmp(b + i, "<![CDATA[", 9) == 0) {
			e = token_end(b, len, i + 9, "]]>");
		} else if (b[i + 1] == '!') {
			return memcmp(b + i, "<!DOCTYPE", 9) == 0 ?
			    GW_ERR_XML_DTD : GW_ERR_XML_MALFORMED;
		} else {
			if ((e = tag_end(b, len, i + 1)) == 0)
				break;
			r = b[i + 1] == '/' ? end_tag(d, i, e) :
			    start_tag(d, i, e);
			if (r != 0)
				return r;
			e++;
		}
		if (e == 0)
			break;
		i = e;
	}
	d->scan = i;
	return 0;
}

/* Reads from fd until the CipherValue start tag is in d->head. */
static int
read_head(struct dec *d, int fd)
{
	size_t got;
	int r;

	for (;;) {
		if (d->headlen == MAX_HEAD)
			return GW_ERR_TOO_LARGE;
		if ((r = read_some(fd, d->head + d->headlen,
		    MAX_HEAD - d->headlen < BUF_LEN ? MAX_HEAD - d->headlen :
		    BUF_LEN, &got)) != 0)
			return r;
		if (got == 0)
			return GW_ERR_INVALID;	/* no CipherValue */
		d->headlen += got;
		if ((r = scan_head(d)) != 0)
			return r < 0 ? r : 0;
	}
}

/*
 * Step 2: parses the header completed with the three end tags, checks its
 * shape and takes what decrypting needs (content key, IV length) and the
 * result's Id and MimeType.
 */
static int
parse_head(struct dec *d, struct keys *key, X509 *cert,
    struct attach_result *res)
{
	struct xml_limits lim = xmlparse_default_limits;
	xmlDocPtr doc = NULL;
	xmlNodePtr root, cd, cv, c;
	xmlChar *v;
	char *buf;
	size_t len = d->body, n;
	int r = GW_ERR_NOMEM, k;

	if ((buf = malloc(len + 3 * (MAX_QNAME + 3) + 1)) == NULL)
		return GW_ERR_NOMEM;
	memcpy(buf, d->head, len);
	for (k = 2; k >= 0; k--) {
		n = strlen(d->qname[k]);
		buf[len++] = '<';
		buf[len++] = '/';
		memcpy(buf + len, d->qname[k], n);
		len += n;
		buf[len++] = '>';
	}
	lim.max_bytes = MAX_HEAD + 3 * (MAX_QNAME + 3);
	if ((r = xmlparse_safe(buf, len, &lim, &doc)) != 0)
		goto out;
	/* The CipherValue found is the root's only CipherData's only child,
	 * empty so far: what the scanner saw is what the parser saw. */
	r = GW_ERR_INVALID;
	root = xmlDocGetRootElement(doc);
	if (root == NULL || root->ns == NULL ||
	    !xmlStrEqual(root->ns->href, XC(NS_XENC)) ||
	    !xmlStrEqual(root->name, XC("EncryptedData")) ||
	    (cd = xenc_child(root, "CipherData")) == NULL ||
	    (cv = xenc_child(cd, "CipherValue")) == NULL || cv->children != NULL)
		goto out;
	for (c = cd->next; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			goto out;
	for (c = cd->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c != cv)
			goto out;
	if ((r = xmlenc_content_key(root, key, cert, &d->cipher, &d->ivlen,
	    &d->cek, &d->ceklen)) != 0)
		goto out;
	if (d->ivlen == 0)
		d->ivlen = ATTACH_IV_LEN;	/* W3C; see the top */
	if ((v = xmlGetNoNsProp(root, XC("Id"))) != NULL)
		util_strlcpy(res->id, (const char *)v, sizeof(res->id));
	xmlFree(v);
	if ((v = xmlGetNoNsProp(root, XC("MimeType"))) != NULL)
		util_strlcpy(res->mime, (const char *)v, sizeof(res->mime));
	xmlFree(v);
	util_utf8_clean(res->id);
	util_utf8_clean(res->mime);
	r = 0;
 out:
	xmlFreeDoc(doc);
	free(buf);
	return r;
}

/* Decrypts len bytes of ciphertext and writes the plaintext. */
static int
decrypt_out(struct dec *d, const unsigned char *p, size_t len)
{
	int n, r;

	if (len == 0)
		return 0;
	if (len > d->max_plain - d->plain_size)
		return GW_ERR_TOO_LARGE;
	if (EVP_DecryptUpdate(d->gcm, d->plain, &n, p, (int)len) != 1 ||
	    (size_t)n != len ||
	    EVP_DigestUpdate(d->plain_md, d->plain, len) != 1)
		return GW_ERR_CRYPTO;
	if ((r = util_write_all(d->fd_out, d->plain, len)) != 0)
		return r;
	d->plain_size += len;
	return 0;
}

/*
 * Decoded bytes p: the IV first, then ciphertext, of which the last
 * ATTACH_TAG_LEN bytes seen so far are held back as the tag may end here.
 */
static int
decoded(struct dec *d, const unsigned char *p, size_t n)
{
	size_t k, a;
	int r;

	if (EVP_DigestUpdate(d->cipher_md, p, n) != 1)
		return GW_ERR_CRYPTO;
	d->cipher_size += n;
	if (d->ivhave < d->ivlen) {
		k = d->ivlen - d->ivhave < n ? d->ivlen - d->ivhave : n;
		memcpy(d->iv + d->ivhave, p, k);
		d->ivhave += k;
		p += k;
		n -= k;
		if (d->ivhave == d->ivlen &&
		    (EVP_DecryptInit_ex(d->gcm, d->cipher, NULL, NULL, NULL) != 1 ||
		    EVP_CIPHER_CTX_ctrl(d->gcm, EVP_CTRL_GCM_SET_IVLEN,
		    (int)d->ivlen, NULL) != 1 ||
		    EVP_DecryptInit_ex(d->gcm, NULL, NULL, d->cek, d->iv) != 1))
			return GW_ERR_CRYPTO;
	}
	if (d->nhold + n <= ATTACH_TAG_LEN) {
		memcpy(d->hold + d->nhold, p, n);
		d->nhold += n;
		return 0;
	}
	k = d->nhold + n - ATTACH_TAG_LEN;	/* bytes now known not tag */
	a = k < d->nhold ? k : d->nhold;
	if ((r = decrypt_out(d, d->hold, a)) != 0 ||
	    (r = decrypt_out(d, p, k - a)) != 0)
		return r;
	memmove(d->hold, d->hold + a, d->nhold - a);
	memcpy(d->hold + d->nhold - a, p + (k - a), n - (k - a));
	d->nhold = ATTACH_TAG_LEN;
	return 0;
}

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Step 3: base64 text p (n bytes) up to the '<' that ends it; *used is
 * where that '<' is (n when it is not in p).  Strict base64: the alphabet,
 * XML white space, '=' only to pad the last quantum.
 */
static int
b64_feed(struct dec *d, const unsigned char *p, size_t n, size_t *used)
{
	size_t i;
	int v, r;

	for (i = 0; i < n; i++) {
		if (p[i] == '<')
			break;
		if (is_ws(p[i]))
			continue;
		if (p[i] == '=') {
			if (d->padded || d->nq < 2)
				return GW_ERR_INVALID;
			d->pad++;
			v = 0;
		} else if ((v = b64_value(p[i])) < 0 || d->pad > 0 || d->padded)
			return GW_ERR_INVALID;
		d->quad = d->quad << 6 | (uint32_t)v;
		if (++d->nq < 4)
			continue;
		d->dec[d->ndec++] = (unsigned char)(d->quad >> 16);
		if (d->pad < 2)
			d->dec[d->ndec++] = (unsigned char)(d->quad >> 8);
		if (d->pad < 1)
			d->dec[d->ndec++] = (unsigned char)d->quad;
		d->padded = d->pad > 0;
		d->quad = 0;
		d->nq = d->pad = 0;
		if (d->ndec > sizeof(d->dec) - 3) {
			if ((r = decoded(d, d->dec, d->ndec)) != 0)
				return r;
			d->ndec = 0;
		}
	}
	*used = i;
	return 0;
}

/* The end of the CipherValue text: the last bytes and the tag. */
static int
gcm_end(struct dec *d)
{
	unsigned char out[32];
	int r, n = 0;

	if (d->nq != 0)
		return GW_ERR_INVALID;		/* a cut-off quantum */
	if ((r = decoded(d, d->dec, d->ndec)) != 0)
		return r;
	d->ndec = 0;
	if (d->ivhave < d->ivlen || d->nhold < ATTACH_TAG_LEN)
		return GW_ERR_INVALID;		/* shorter than IV and tag */
	if (EVP_CIPHER_CTX_ctrl(d->gcm, EVP_CTRL_GCM_SET_TAG, ATTACH_TAG_LEN,
	    d->hold) != 1 ||
	    EVP_DecryptFinal_ex(d->gcm, out, &n) != 1 || n != 0)
		return GW_ERR_CRYPTO;
	return 0;
}

/* Bytes after the header: CipherValue text, then what follows it. */
static int
consume(struct dec *d, const unsigned char *p, size_t n)
{
	size_t used = 0;
	int r;

	if (d->state == ST_B64) {
		if ((r = b64_feed(d, p, n, &used)) != 0)
			return r;
		if (used == n)
			return 0;
		if ((r = gcm_end(d)) != 0)
			return r;
		d->state = ST_TAIL;
	}
	if (n - used > MAX_TAIL - d->taillen)
		return GW_ERR_INVALID;
	memcpy(d->tail + d->taillen, p + used, n - used);
	d->taillen += n - used;
	return 0;
}

/* Step 4: the three end tags, white space around them, nothing else. */
static int
tail_check(const struct dec *d)
{
	const char *p = d->tail, *end = d->tail + d->taillen;
	size_t n;
	int k;

	for (k = 2; k >= 0; k--) {
		while (p < end && is_ws(*p))
			p++;
		n = strlen(d->qname[k]);
		if (end - p < 2 || p[0] != '<' || p[1] != '/' ||
		    (size_t)(end - p - 2) < n || memcmp(p + 2, d->qname[k], n) != 0)
			return GW_ERR_INVALID;
		for (p += 2 + n; p < end && is_ws(*p); p++)
			;
		if (p == end || *p != '>')
			return GW_ERR_INVALID;
		p++;
	}
	while (p < end && is_ws(*p))
		p++;
	return p == end ? 0 : GW_ERR_INVALID;
}

static void
dec_free(struct dec *d)
{
	if (d == NULL)
		return;
	if (d->cek != NULL)
		OPENSSL_clear_free(d->cek, d->ceklen);
	OPENSSL_cleanse(d->plain, sizeof(d->plain));
	EVP_CIPHER_CTX_free(d->gcm);
	EVP_MD_CTX_free(d->plain_md);
	EVP_MD_CTX_free(d->cipher_md);
	free(d->head);
	free(d);
}

int
attach_decrypt_fd(int fd_in, int fd_out, struct keys *key, X509 *cert,
    uint64_t max_plain, struct attach_result *res)
{
	struct attach_result out;
	struct dec *d;
	size_t got;
	int r = GW_ERR_NOMEM;

	if (fd_in < 0 || fd_out < 0 || key == NULL || res == NULL)
		return GW_ERR_INVALID;
	memset(&out, 0, sizeof(out));
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return GW_ERR_NOMEM;
	d->fd_out = fd_out;
	d->max_plain = max_plain;
	if ((d->head = malloc(MAX_HEAD)) == NULL ||
	    (d->gcm = EVP_CIPHER_CTX_new()) == NULL ||
	    (d->plain_md = EVP_MD_CTX_new()) == NULL ||
	    (d->cipher_md = EVP_MD_CTX_new()) == NULL)
		goto out;
	r = GW_ERR_CRYPTO;
	if (EVP_DigestInit_ex(d->plain_md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(d->cipher_md, EVP_sha256(), NULL) != 1)
		goto out;
	if ((r = read_head(d, fd_in)) != 0 ||
	    (r = parse_head(d, key, cert, &out)) != 0)
		goto out;
	d->state = ST_B64;
	if ((r = consume(d, (const unsigned char *)d->head + d->body,
	    d->headlen - d->body)) != 0)
		goto out;
	for (;;) {
		if ((r = read_some(fd_in, d->in, sizeof(d->in), &got)) != 0)
			goto out;
		if (got == 0)
			break;
		if ((r = consume(d, d->in, got)) != 0)
			goto out;
	}
	r = GW_ERR_INVALID;			/* cut off before its end */
	if (d->state != ST_TAIL || (r = tail_check(d)) != 0)
		goto out;
	if ((r = digest_hex(d->plain_md, out.plain_sha256)) != 0 ||
	    (r = digest_hex(d->cipher_md, out.cipher_sha256)) != 0)
		goto out;
	out.plain_size = d->plain_size;
	out.cipher_size = d->cipher_size;
	*res = out;
	r = 0;
 out:
	dec_free(d);
	return r;
}
