/*
 * test_attach.c - attachments in constant memory (crypto/attach.h).
 *
 * What a portal and a reader care about: an attachment spooled while it
 * arrives comes back byte for byte, at every size around the buffer and
 * base64 block edges, from the document the reader receives, with each of
 * its keys and no other; the digests announced are those of the bytes (as
 * computed here independently, one shot); a spool file is 0600, exactly
 * plaintext + 28 bytes, and gone after an abort; a document altered,
 * truncated or hostile is refused, never decrypted into something else;
 * a spool file that changes under a reader stops the stream.  The
 * document's form is checked against xmlenc.c (it must decrypt it too) and,
 * where node and tests/interop/node_modules are there, against npm
 * xml-encryption (skipped with a message otherwise).
 *
 * Each test has its own temporary directory.  Runs with the repository
 * root as working directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "attach.h"
#include "err.h"
#include "keys.h"
#include "pki.h"
#include "testutil.h"
#include "util.h"
#include "xmlenc.h"

#define NS_XENC		"http://www.w3.org/2001/04/xmlenc#"
#define NS_XENC11	"http://www.w3.org/2009/xmlenc11#"
#define NS_DS		"http://www.w3.org/2000/09/xmldsig#"
#define NS_OSCI128	"http://xoev.de/transport/osci12/8"
#define XC(s)		((const xmlChar *)(s))

#define INTEROP_DIR	"tests/interop"
#define NO_LIMIT	((uint64_t)1 << 40)
#define MAX_FILE	((size_t)16 << 20)
#define OVERHEAD	(ATTACH_IV_LEN + ATTACH_TAG_LEN)

static struct test_party p3072, p3072b, p4096, pec;

/* Per test: a directory and the paths used in it. */
struct tmp {
	char dir[64];
	char doc[96], out[96], key[96], err[96];
};

/* ---- fixtures ---------------------------------------------------------- */

static int
group_setup(void **state)
{
	(void)state;
	xmlInitParser();
	umask(022);
	test_party_make(&p3072, PKI_KEY_RSA3072, "reader-3072");
	test_party_make(&p3072b, PKI_KEY_RSA3072, "reader-other");
	test_party_make(&p4096, PKI_KEY_RSA4096, "reader-4096");
	test_party_make(&pec, PKI_KEY_EC_P256, "reader-ec");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	test_party_free(&p3072);
	test_party_free(&p3072b);
	test_party_free(&p4096);
	test_party_free(&pec);
	xmlCleanupParser();
	return 0;
}

static int
tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/gw-attach-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->doc, sizeof(t->doc), "%s/doc.xml", t->dir);
	snprintf(t->out, sizeof(t->out), "%s/out", t->dir);
	snprintf(t->key, sizeof(t->key), "%s/key.pem", t->dir);
	snprintf(t->err, sizeof(t->err), "%s/err", t->dir);
	*state = t;
	return 0;
}

/* Number of entries in dir other than . and .. */
static int
dir_count(const char *dir, char *name, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (name != NULL)
			util_strlcpy(name, e->d_name, size);
		n++;
	}
	closedir(d);
	return n;
}

/* Runs after failures too: empties and removes the directory. */
static int
tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char path[384];
	DIR *d;
	struct dirent *e;
	int r;

	if ((d = opendir(t->dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	r = rmdir(t->dir);
	free(t);
	return r;
}

/* ---- helpers ----------------------------------------------------------- */

/* Independent SHA-256: EVP one shot. */
static void
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
	util_hex(md, 32, out);
}

static unsigned char *
random_bytes(size_t len)
{
	unsigned char *p = malloc(len + 1);

	assert_non_null(p);
	if (len > 0)
		assert_int_equal(RAND_bytes(p, (int)len), 1);
	return p;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	unsigned char *p = NULL;

	assert_int_equal(util_read_file(path, MAX_FILE, &p, len), 0);
	return p;
}

static void
spit(const char *path, const void *data, size_t len)
{
	assert_int_equal(util_write_file(path, data, len, 0600), 0);
}

/* Spools data in pieces of varying size; checks the writer's count. */
static void
spool(const char *dir, const unsigned char *data, size_t len,
    struct attach_info *info)
{
	static const size_t pieces[] = { 1, 7, 4096, 65535, 65537, 300000 };
	struct attach_writer *w = NULL;
	size_t off = 0, n, k = 0;

	assert_int_equal(attach_writer_open(dir, &w), 0);
	assert_non_null(w);
	assert_int_equal(attach_writer_update(w, data, 0), 0);
	while (off < len) {
		n = pieces[k++ % (sizeof(pieces) / sizeof(pieces[0]))];
		n = n < len - off ? n : len - off;
		assert_int_equal(attach_writer_update(w, data + off, n), 0);
		off += n;
		assert_int_equal(attach_writer_size(w), off);
	}
	assert_int_equal(attach_writer_finish(w, info), 0);
}

/*
 * Streams the document for info's file to path with reads of varying size
 * and checks it is header || base64(file) || footer as computed here in
 * one piece, of the length announced up front.
 */
static void
write_doc(const struct attach_info *info, X509 *const *rcpt, size_t n,
    const char *id, const char *mime, const char *path)
{
	static const size_t reads[] = { 1, 2, 3, 100, 4095, 65536, 70001,
	    1 << 20 };
	struct attach_reader *r = NULL;
	char *hdr = NULL, *ftr = NULL, *doc, *expect;
	unsigned char *file;
	size_t hlen = 0, flen = 0, len, have = 0, k = 0, want, b64;
	uint64_t total;
	long got;

	assert_int_equal(attach_part_header(info->key, rcpt, n, id, mime, &hdr,
	    &hlen, &ftr, &flen), 0);
	assert_int_equal(strlen(hdr), hlen);
	assert_int_equal(strlen(ftr), flen);
	file = slurp(info->path, &len);
	b64 = (size_t)attach_b64_len(len);
	assert_non_null(expect = malloc(hlen + b64 + 1 + flen));
	memcpy(expect, hdr, hlen);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)expect + hlen, file,
	    (int)len), (int)b64);
	memcpy(expect + hlen + b64, ftr, flen);

	assert_int_equal(attach_reader_open(info->path, hdr, hlen, ftr, flen,
	    &r), 0);
	free(hdr);			/* the reader holds copies */
	free(ftr);
	total = attach_reader_total(r);
	assert_int_equal(total, hlen + b64 + flen);
	assert_non_null(doc = malloc((size_t)total + 1));
	for (;;) {
		want = reads[k++ % (sizeof(reads) / sizeof(reads[0]))];
		want = want < total + 1 - have ? want : total + 1 - have;
		got = attach_reader_read(r, doc + have, want);
		assert_true(got >= 0);
		if (got == 0)
			break;
		have += (size_t)got;
		assert_true(have <= total);
	}
	assert_int_equal(have, total);
	assert_int_equal(attach_reader_read(r, doc, 10), 0);
	assert_memory_equal(doc, expect, have);
	attach_reader_free(r);
	spit(path, doc, have);
	free(doc);
	free(expect);
	free(file);
}

/* attach_decrypt_fd from path in to path out. */
static int
decrypt_path(const char *in, const char *out, const struct test_party *p,
    X509 *cert, uint64_t max, struct attach_result *res)
{
	int fi, fo, r;

	assert_true((fi = open(in, O_RDONLY)) >= 0);
	assert_true((fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	r = attach_decrypt_fd(fi, fo, p->keys, cert, max, res);
	close(fi);
	close(fo);
	return r;
}

/* Decrypts t->doc with p (with and without naming its certificate) and
 * checks the plaintext and every field of the result. */
static void
decrypts_to(struct tmp *t, const struct test_party *p,
    const struct attach_info *info, const unsigned char *data, size_t len,
    const char *id, const char *mime)
{
	struct attach_result res;
	unsigned char *out;
	size_t olen = 0;
	char hex[65];
	int pass;

	for (pass = 0; pass < 2; pass++) {
		memset(&res, 0x5a, sizeof(res));
		assert_int_equal(decrypt_path(t->doc, t->out, p,
		    pass ? p->cert : NULL, NO_LIMIT, &res), 0);
		out = slurp(t->out, &olen);
		assert_int_equal(olen, len);
		if (len > 0)
			assert_memory_equal(out, data, len);
		free(out);
		sha256_hex(data, len, hex);
		assert_int_equal(res.plain_size, len);
		assert_string_equal(res.plain_sha256, hex);
		assert_int_equal(res.cipher_size, len + OVERHEAD);
		assert_string_equal(res.cipher_sha256, info->cipher_sha256);
		assert_string_equal(res.id, id);
		assert_string_equal(res.mime, mime);
	}
}

/* The spool file: name, mode 0600, size, digests computed here. */
static void
check_spool(const char *dir, const struct attach_info *info,
    const unsigned char *data, size_t len)
{
	struct stat st;
	unsigned char *file;
	size_t flen = 0, i;
	char hex[65], name[256];
	const char *base;

	assert_int_equal(stat(info->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal((uint64_t)st.st_size, len + OVERHEAD);
	assert_int_equal(info->plain_size, len);
	assert_int_equal(info->cipher_size, len + OVERHEAD);
	sha256_hex(data, len, hex);
	assert_string_equal(info->plain_sha256, hex);
	file = slurp(info->path, &flen);
	sha256_hex(file, flen, hex);
	assert_string_equal(info->cipher_sha256, hex);
	free(file);
	/* dir/in-<32 lowercase hex>.tmp, the only file there */
	assert_int_equal(strncmp(info->path, dir, strlen(dir)), 0);
	base = info->path + strlen(dir) + 1;
	assert_int_equal(strlen(base), 3 + 32 + 4);
	assert_int_equal(strncmp(base, "in-", 3), 0);
	for (i = 3; i < 35; i++)
		assert_non_null(strchr("0123456789abcdef", base[i]));
	assert_string_equal(base + 35, ".tmp");
	assert_int_equal(dir_count(dir, name, sizeof(name)), 1);
	assert_string_equal(name, base);
}

/* ---- round trips ------------------------------------------------------- */

static void
roundtrip(struct tmp *t, size_t len)
{
	X509 *one[1] = { p3072.cert }, *two[2] = { p3072.cert, p4096.cert };
	struct attach_info info;
	unsigned char *data = random_bytes(len);

	spool(t->dir, data, len, &info);
	check_spool(t->dir, &info, data, len);

	write_doc(&info, one, 1, "att-1", "application/pdf", t->doc);
	decrypts_to(t, &p3072, &info, data, len, "att-1", "application/pdf");
	write_doc(&info, two, 2, "scan.2", "image/jpeg", t->doc);
	decrypts_to(t, &p3072, &info, data, len, "scan.2", "image/jpeg");
	decrypts_to(t, &p4096, &info, data, len, "scan.2", "image/jpeg");

	OPENSSL_cleanse(info.key, sizeof(info.key));
	unlink(t->doc);
	unlink(t->out);
	unlink(info.path);
	free(data);
}

static void test_roundtrip_0(void **state) { roundtrip(*state, 0); }
static void test_roundtrip_1(void **state) { roundtrip(*state, 1); }
static void test_roundtrip_2(void **state) { roundtrip(*state, 2); }
static void test_roundtrip_3(void **state) { roundtrip(*state, 3); }
static void test_roundtrip_65535(void **state) { roundtrip(*state, 65535); }
static void test_roundtrip_65536(void **state) { roundtrip(*state, 65536); }
static void test_roundtrip_65537(void **state) { roundtrip(*state, 65537); }
static void test_roundtrip_5mb(void **state) { roundtrip(*state, 5000000); }

/* Two spools: different names, keys, IVs. */
static void
test_fresh_key_iv_name(void **state)
{
	struct tmp *t = *state;
	struct attach_info a, b;
	unsigned char *fa, *fb;
	size_t la = 0, lb = 0;

	spool(t->dir, (const unsigned char *)"same", 4, &a);
	spool(t->dir, (const unsigned char *)"same", 4, &b);
	assert_string_not_equal(a.path, b.path);
	assert_memory_not_equal(a.key, b.key, ATTACH_KEY_LEN);
	fa = slurp(a.path, &la);
	fb = slurp(b.path, &lb);
	assert_memory_not_equal(fa, fb, ATTACH_IV_LEN);
	assert_string_equal(a.plain_sha256, b.plain_sha256);
	assert_string_not_equal(a.cipher_sha256, b.cipher_sha256);
	free(fa);
	free(fb);
}

static void
test_abort_removes(void **state)
{
	struct tmp *t = *state;
	struct attach_writer *w = NULL;
	unsigned char *data = random_bytes(100000);

	assert_int_equal(attach_writer_open(t->dir, &w), 0);
	assert_int_equal(dir_count(t->dir, NULL, 0), 1);
	assert_int_equal(attach_writer_update(w, data, 100000), 0);
	attach_writer_abort(w);
	assert_int_equal(dir_count(t->dir, NULL, 0), 0);
	/* Aborted before any data, and NULL. */
	assert_int_equal(attach_writer_open(t->dir, &w), 0);
	attach_writer_abort(w);
	attach_writer_abort(NULL);
	assert_int_equal(dir_count(t->dir, NULL, 0), 0);
	/* finish without somewhere to put the result removes it too. */
	assert_int_equal(attach_writer_open(t->dir, &w), 0);
	assert_int_equal(attach_writer_finish(w, NULL), GW_ERR_INVALID);
	assert_int_equal(dir_count(t->dir, NULL, 0), 0);
	free(data);
}

static void
test_writer_open_fails(void **state)
{
	struct tmp *t = *state;
	struct attach_writer *w = NULL;
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/no-such-dir", t->dir);
	assert_int_equal(attach_writer_open(missing, &w), GW_ERR_IO);
	assert_null(w);
	assert_int_equal(attach_writer_open(NULL, &w), GW_ERR_INVALID);
}

/* ---- the document ------------------------------------------------------ */

static xmlNodePtr
kid(xmlNodePtr n, const char *ns, const char *name)
{
	xmlNodePtr c;

	for (c = n != NULL ? n->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns != NULL &&
		    xmlStrEqual(c->ns->href, XC(ns)) &&
		    xmlStrEqual(c->name, XC(name)))
			return c;
	return NULL;
}

static void
assert_attr(xmlNodePtr n, const char *name, const char *value)
{
	xmlChar *v = xmlGetNoNsProp(n, XC(name));

	assert_non_null(v);
	assert_string_equal((const char *)v, value);
	xmlFree(v);
}

/* The form docs/attachments.md describes, and xmlenc_decrypt() reads it. */
static void
test_document_form(void **state)
{
	struct tmp *t = *state;
	X509 *two[2] = { p3072.cert, p4096.cert };
	static const char text[] = "Antrag auf Gr\xc3\xbc" "nfl\xc3\xa4" "che\n";
	struct attach_info info;
	unsigned char *doc, *plain = NULL;
	size_t len = 0, plen = 0;
	xmlDocPtr x;
	xmlNodePtr ed, em, ki, ek, cv, m;
	char *hdr = NULL, *ftr = NULL;
	size_t hlen = 0, flen = 0;
	int nkeys = 0;

	spool(t->dir, (const unsigned char *)text, strlen(text), &info);
	write_doc(&info, two, 2, "att-1", "text/plain; charset=utf-8", t->doc);
	doc = slurp(t->doc, &len);
	assert_int_equal(strncmp((const char *)doc,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38), 0);
	assert_non_null(x = xmlReadMemory((const char *)doc, (int)len, "a.xml",
	    NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
	ed = xmlDocGetRootElement(x);
	assert_string_equal((const char *)ed->name, "EncryptedData");
	assert_string_equal((const char *)ed->ns->href, NS_XENC);
	assert_attr(ed, "Id", "att-1");
	assert_attr(ed, "MimeType", "text/plain; charset=utf-8");
	assert_false(xmlHasProp(ed, XC("Type")));
	assert_non_null(em = kid(ed, NS_XENC, "EncryptionMethod"));
	assert_attr(em, "Algorithm", NS_XENC11 "aes256-gcm");
	assert_attr(kid(em, NS_OSCI128, "IvLength"), "Value", "12");
	assert_non_null(ki = kid(ed, NS_DS, "KeyInfo"));
	for (ek = ki->children; ek != NULL; ek = ek->next) {
		if (ek->type != XML_ELEMENT_NODE)
			continue;
		nkeys++;
		assert_string_equal((const char *)ek->name, "EncryptedKey");
		assert_non_null(m = kid(ek, NS_XENC, "EncryptionMethod"));
		assert_attr(m, "Algorithm", NS_XENC11 "rsa-oaep");
		assert_attr(kid(m, NS_XENC11, "MGF"), "Algorithm",
		    NS_XENC11 "mgf1sha256");
		assert_attr(kid(m, NS_DS, "DigestMethod"), "Algorithm",
		    NS_XENC "sha256");
		m = kid(kid(ek, NS_DS, "KeyInfo"), NS_DS, "X509Data");
		assert_non_null(kid(m, NS_DS, "X509IssuerSerial"));
		assert_non_null(kid(m, NS_DS, "X509Certificate"));
	}
	assert_int_equal(nkeys, 2);
	cv = kid(kid(ed, NS_XENC, "CipherData"), NS_XENC, "CipherValue");
	assert_non_null(cv);
	assert_null(strpbrk((const char *)cv->children->content, "\r\n \t"));
	/* The other implementation in this tree decrypts it. */
	assert_int_equal(xmlenc_decrypt(ed, p4096.keys, NULL, 1 << 20, &plain,
	    &plen), 0);
	assert_int_equal(plen, strlen(text));
	assert_memory_equal(plain, text, plen);
	free(plain);
	xmlFreeDoc(x);
	free(doc);

	/* Header to the CipherValue start tag, footer from its end tag. */
	assert_int_equal(attach_part_header(info.key, two, 1, "a", "b/c", &hdr,
	    &hlen, &ftr, &flen), 0);
	assert_true(hlen > 18);
	assert_string_equal(hdr + hlen - 18, "<xenc:CipherValue>");
	assert_string_equal(ftr, "</xenc:CipherValue></xenc:CipherData>"
	    "</xenc:EncryptedData>\n");
	free(hdr);
	free(ftr);
	OPENSSL_cleanse(info.key, sizeof(info.key));
}

static void
test_header_refuses(void **state)
{
	X509 *ec[1] = { pec.cert }, *one[1] = { p3072.cert };
	X509 *mixed[2] = { p3072.cert, pec.cert };
	unsigned char key[ATTACH_KEY_LEN] = { 1 };
	char *h = NULL, *f = NULL, longid[200];
	size_t hl = 0, fl = 0;

	(void)state;
	assert_int_equal(attach_part_header(key, ec, 1, "a", "b/c", &h, &hl,
	    &f, &fl), GW_ERR_KEY_WEAK);
	assert_int_equal(attach_part_header(key, mixed, 2, "a", "b/c", &h, &hl,
	    &f, &fl), GW_ERR_KEY_WEAK);
	assert_int_equal(attach_part_header(key, one, 0, "a", "b/c", &h, &hl,
	    &f, &fl), GW_ERR_INVALID);
	assert_int_equal(attach_part_header(key, one, 1, "", "b/c", &h, &hl,
	    &f, &fl), GW_ERR_INVALID);
	assert_int_equal(attach_part_header(key, one, 1, "a\nb", "b/c", &h, &hl,
	    &f, &fl), GW_ERR_INVALID);
	assert_int_equal(attach_part_header(key, one, 1, "a", "\xff", &h, &hl,
	    &f, &fl), GW_ERR_INVALID);
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(attach_part_header(key, one, 1, longid, "b/c", &h, &hl,
	    &f, &fl), GW_ERR_INVALID);
	assert_null(h);
	assert_null(f);
	/* Markup in the values is escaped, not injected. */
	assert_int_equal(attach_part_header(key, one, 1, "a\"<&>", "b/c", &h,
	    &hl, &f, &fl), 0);
	assert_non_null(strstr(h, "Id=\"a&quot;&lt;&amp;&gt;\""));
	free(h);
	free(f);
}

static void
test_b64_len(void **state)
{
	(void)state;
	assert_int_equal(attach_b64_len(0), 0);
	assert_int_equal(attach_b64_len(1), 4);
	assert_int_equal(attach_b64_len(3), 4);
	assert_int_equal(attach_b64_len(4), 8);
	assert_int_equal(attach_b64_len(65536 + 28), 87420);
	assert_int_equal(attach_b64_len(UINT64_C(3) << 61), UINT64_C(1) << 63);
}

/* ---- the reader -------------------------------------------------------- */

static void
size_change(struct tmp *t, int grow)
{
	X509 *one[1] = { p3072.cert };
	struct attach_info info;
	struct attach_reader *r = NULL;
	unsigned char *data = random_bytes(200000);
	char *hdr = NULL, *ftr = NULL, buf[4096];
	size_t hl = 0, fl = 0;
	long got;
	int fd;

	spool(t->dir, data, 200000, &info);
	assert_int_equal(attach_part_header(info.key, one, 1, "a", "b/c", &hdr,
	    &hl, &ftr, &fl), 0);
	assert_int_equal(attach_reader_open(info.path, hdr, hl, ftr, fl, &r), 0);
	assert_true(attach_reader_read(r, buf, sizeof(buf)) > 0);
	if (grow) {
		assert_true((fd = open(info.path, O_WRONLY | O_APPEND)) >= 0);
		assert_int_equal(write(fd, "x", 1), 1);
	} else {
		assert_true((fd = open(info.path, O_WRONLY)) >= 0);
		assert_int_equal(ftruncate(fd, 100000), 0);
	}
	close(fd);
	while ((got = attach_reader_read(r, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(got, GW_ERR_INTERNAL);
	/* and it stays failed */
	assert_int_equal(attach_reader_read(r, buf, sizeof(buf)),
	    GW_ERR_INTERNAL);
	attach_reader_free(r);
	free(hdr);
	free(ftr);
	free(data);
}

static void test_reader_file_grew(void **state) { size_change(*state, 1); }
static void test_reader_file_shrank(void **state) { size_change(*state, 0); }

static void
test_reader_missing_file(void **state)
{
	struct tmp *t = *state;
	struct attach_reader *r = NULL;

	assert_int_equal(attach_reader_open(t->doc, "a", 1, "b", 1, &r),
	    GW_ERR_IO);
	assert_null(r);
}

/* ---- decryption: refusals ---------------------------------------------- */

/* A document for size bytes for p3072 in t->doc; its bytes in *doc. */
static char *
make_doc(struct tmp *t, size_t size, struct attach_info *info,
    unsigned char **data, size_t *len)
{
	X509 *one[1] = { p3072.cert };
	unsigned char *d = random_bytes(size);
	char *doc;

	spool(t->dir, d, size, info);
	write_doc(info, one, 1, "att-1", "application/octet-stream", t->doc);
	doc = (char *)slurp(t->doc, len);
	if (data != NULL)
		*data = d;
	else
		free(d);
	return doc;
}

/* Decrypting the bytes doc (len) fails with err. */
static void
refused(struct tmp *t, const char *doc, size_t len, int err)
{
	struct attach_result res;

	memset(&res, 0x5a, sizeof(res));
	spit(t->doc, doc, len);
	assert_int_equal(decrypt_path(t->doc, t->out, &p3072, NULL, NO_LIMIT,
	    &res), err);
	assert_int_equal(res.plain_size, UINT64_C(0x5a5a5a5a5a5a5a5a));
}

/* The last occurrence of needle in doc (EncryptedKeys have CipherData
 * too: the content's is the last one). */
static const char *
last(const char *doc, const char *needle)
{
	const char *at = NULL, *p;

	for (p = doc; (p = strstr(p, needle)) != NULL; p++)
		at = p;
	return at;
}

/* Where the CipherValue text of the document starts and ends. */
static void
cv_span(const char *doc, size_t *start, size_t *end)
{
	const char *s = last(doc, "<xenc:CipherData><xenc:CipherValue>");
	const char *e;

	assert_non_null(s);
	s += strlen("<xenc:CipherData><xenc:CipherValue>");
	assert_non_null(e = strstr(s, "</xenc:CipherValue>"));
	*start = (size_t)(s - doc);
	*end = (size_t)(e - doc);
}

static void
test_tampered(void **state)
{
	struct tmp *t = *state;
	struct attach_info info;
	size_t len = 0, s, e, at[4], i;
	char *doc = make_doc(t, 100000, &info, NULL, &len);

	cv_span(doc, &s, &e);
	at[0] = s + 2;			/* IV */
	at[1] = s + 40;			/* first ciphertext block */
	at[2] = s + (e - s) / 2;	/* middle */
	at[3] = e - 6;			/* tag */
	for (i = 0; i < 4; i++) {
		char c = doc[at[i]];

		doc[at[i]] = c == 'A' ? 'B' : 'A';
		refused(t, doc, len, GW_ERR_CRYPTO);
		doc[at[i]] = c;
	}
	/* and untouched it decrypts */
	spit(t->doc, doc, len);
	assert_int_equal(decrypt_path(t->doc, t->out, &p3072, NULL, NO_LIMIT,
	    &(struct attach_result){ 0 }), 0);
	free(doc);
}

static void
test_wrong_key(void **state)
{
	struct tmp *t = *state;
	struct attach_info info;
	struct attach_result res;
	size_t len = 0;
	char *doc = make_doc(t, 1000, &info, NULL, &len);

	assert_int_equal(decrypt_path(t->doc, t->out, &p3072b, NULL, NO_LIMIT,
	    &res), GW_ERR_CRYPTO);
	assert_int_equal(decrypt_path(t->doc, t->out, &p3072b, p3072b.cert,
	    NO_LIMIT, &res), GW_ERR_NOT_FOUND);
	assert_int_equal(decrypt_path(t->doc, t->out, &p4096, NULL, NO_LIMIT,
	    &res), GW_ERR_CRYPTO);
	free(doc);
}

static void
test_truncated(void **state)
{
	struct tmp *t = *state;
	struct attach_info info;
	size_t len = 0, s, e, cuts[8], i;
	char *doc = make_doc(t, 70000, &info, NULL, &len);

	cv_span(doc, &s, &e);
	cuts[0] = 0;
	cuts[1] = 100;			/* in the header */
	cuts[2] = s;			/* right after the start tag */
	cuts[3] = s + 20;		/* IV only */
	cuts[4] = e - 4;		/* one quantum short */
	cuts[5] = e;			/* no end tags */
	cuts[6] = e + 5;		/* within one */
	cuts[7] = len - 3;		/* within the last */
	for (i = 0; i < 8; i++) {
		struct attach_result res;

		spit(t->doc, doc, cuts[i]);
		assert_int_not_equal(decrypt_path(t->doc, t->out, &p3072, NULL,
		    NO_LIMIT, &res), 0);
	}
	/* Cut-offs that leave the base64 well-formed are refused as such. */
	refused(t, doc, cuts[5], GW_ERR_INVALID);
	refused(t, doc, cuts[6], GW_ERR_INVALID);
	refused(t, doc, len - 2, GW_ERR_INVALID);
	free(doc);
}

/* Replaces the last occurrence of from in doc by to; a new string. */
static char *
replace(const char *doc, const char *from, const char *to)
{
	const char *at = last(doc, from);
	size_t n = strlen(doc) - strlen(from) + strlen(to);
	char *s = malloc(n + 1);

	assert_non_null(at);
	assert_non_null(s);
	snprintf(s, n + 1, "%.*s%s%s", (int)(at - doc), doc, to,
	    at + strlen(from));
	return s;
}

static void
refused_replace(struct tmp *t, const char *doc, const char *from,
    const char *to, int err)
{
	char *x = replace(doc, from, to);

	refused(t, x, strlen(x), err);
	free(x);
}

static void
test_malformed(void **state)
{
	struct tmp *t = *state;
	struct attach_info info;
	size_t len = 0, s, e;
	char *doc = make_doc(t, 3000, &info, NULL, &len), *x;
	const char *end = "</xenc:CipherValue></xenc:CipherData>"
	    "</xenc:EncryptedData>";

	cv_span(doc, &s, &e);
	/* After the document: only white space. */
	assert_non_null(x = malloc(len + 16));
	memcpy(x, doc, len);
	memcpy(x + len, "<!-- c -->", 10);
	refused(t, x, len + 10, GW_ERR_INVALID);
	memcpy(x + len, "x", 1);
	refused(t, x, len + 1, GW_ERR_INVALID);
	free(x);
	/* Something after CipherValue or CipherData. */
	refused_replace(t, doc, end, "</xenc:CipherValue><x/></xenc:CipherData>"
	    "</xenc:EncryptedData>", GW_ERR_INVALID);
	refused_replace(t, doc, end, "</xenc:CipherValue></xenc:CipherData>"
	    "<xenc:EncryptionProperties/></xenc:EncryptedData>", GW_ERR_INVALID);
	refused_replace(t, doc, end, "</xenc:CipherValue></xenc:CipherData>"
	    "</xenc:EncryptedDataX>", GW_ERR_INVALID);
	/* Not base64. */
	x = strdup(doc);
	x[s + 10] = '*';
	refused(t, x, len, GW_ERR_INVALID);
	x[s + 10] = '=';
	refused(t, x, len, GW_ERR_INVALID);
	free(x);
	/* A DOCTYPE, another root, a CipherReference, no CipherValue. */
	refused_replace(t, doc, "?>\n", "?>\n<!DOCTYPE x [<!ENTITY a \"b\">]>",
	    GW_ERR_XML_DTD);
	refused_replace(t, doc, "<xenc:CipherData><xenc:CipherValue>",
	    "<xenc:CipherData><xenc:CipherReference URI=\"http://x/\"/>"
	    "<xenc:CipherValue>", GW_ERR_INVALID);
	refused_replace(t, doc, "<xenc:CipherData>",
	    "<xenc:CipherData/><xenc:CipherData>", GW_ERR_INVALID);
	refused_replace(t, doc, "xmlns:xenc=\"" NS_XENC "\"",
	    "xmlns:xenc=\"urn:other\"", GW_ERR_INVALID);
	refused_replace(t, doc, "aes256-gcm", "aes256-cbc", GW_ERR_SIG_ALGORITHM);
	refused_replace(t, doc, "Value=\"12\"", "Value=\"13\"", GW_ERR_INVALID);
	refused(t, "<a><b/></a>", 11, GW_ERR_INVALID);
	refused(t, "", 0, GW_ERR_INVALID);
	/* Wrapped in something else: not an attachment document. */
	x = malloc(len + 64);
	assert_non_null(x);
	snprintf(x, len + 64, "<w>%s</w>", strstr(doc, "<xenc:EncryptedData"));
	refused(t, x, strlen(x), GW_ERR_INVALID);
	free(x);
	free(doc);
}

/* A header past 1 MiB is refused before anything else is done. */
static void
test_header_too_large(void **state)
{
	struct tmp *t = *state;
	struct attach_info info;
	size_t len = 0, n = (1u << 20) + 10;
	char *doc = make_doc(t, 10, &info, NULL, &len), *pad, *x;

	pad = malloc(n + 16);
	assert_non_null(pad);
	memcpy(pad, "<!--", 4);
	memset(pad + 4, 'x', n);
	memcpy(pad + 4 + n, "-->", 4);
	x = malloc(len + n + 16);
	assert_non_null(x);
	snprintf(x, len + n + 16, "%s%s", pad, strstr(doc, "<xenc:"));
	refused(t, x, strlen(x), GW_ERR_TOO_LARGE);
	free(x);
	free(pad);
	free(doc);
}

/* What other writers do: line breaks in the base64, white space between
 * the end tags, other prefixes; the reader takes all of that. */
static void
test_accepts_other_forms(void **state)
{
	struct tmp *t = *state;
	struct attach_info info;
	unsigned char *data = NULL;
	size_t len = 0, s, e, i, o = 0;
	char *doc = make_doc(t, 100000, &info, &data, &len), *x, *y, *z;
	const char *tail = " \t\n</xenc:CipherValue>\n  </xenc:CipherData >\n"
	    "</xenc:EncryptedData>\n\n";

	cv_span(doc, &s, &e);
	x = malloc(len * 2);
	assert_non_null(x);
	memcpy(x, doc, s);
	o = s;
	x[o++] = '\n';
	for (i = s; i < e; i++) {
		x[o++] = doc[i];
		if ((i - s) % 76 == 75) {
			x[o++] = '\r';
			x[o++] = '\n';
		}
	}
	memcpy(x + o, tail, strlen(tail));
	o += strlen(tail);
	spit(t->doc, x, o);
	decrypts_to(t, &p3072, &info, data, 100000, "att-1",
	    "application/octet-stream");
	/* Default namespace instead of the prefix. */
	y = replace(doc, "<xenc:EncryptedData xmlns:xenc=\"" NS_XENC "\"",
	    "<EncryptedData xmlns=\"" NS_XENC "\" xmlns:xenc=\"" NS_XENC "\"");
	z = replace(y, "<xenc:CipherData><xenc:CipherValue>",
	    "<CipherData><CipherValue>");
	free(y);
	y = replace(z, "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>",
	    "</CipherValue></CipherData></EncryptedData>");
	spit(t->doc, y, strlen(y));
	decrypts_to(t, &p3072, &info, data, 100000, "att-1",
	    "application/octet-stream");
	free(x);
	free(y);
	free(z);
	free(data);
	free(doc);
}

static void
test_max_plain(void **state)
{
	struct tmp *t = *state;
	struct attach_info info;
	struct attach_result res;
	size_t len = 0;
	char *doc = make_doc(t, 70000, &info, NULL, &len);

	assert_int_equal(decrypt_path(t->doc, t->out, &p3072, NULL, 69999,
	    &res), GW_ERR_TOO_LARGE);
	assert_int_equal(decrypt_path(t->doc, t->out, &p3072, NULL, 70000,
	    &res), 0);
	assert_int_equal(res.plain_size, 70000);
	free(doc);
}

/*
 * Documents other writers could send: aes128-gcm, a 16-byte IV announced
 * with IvLength, no IvLength (12 bytes).  Built here from our document: a
 * key of the right length wrapped with EVP, the content sealed with EVP.
 */
static char *
foreign_doc(const char *tmpl, const EVP_CIPHER *cipher, size_t keylen,
    size_t ivlen, const char *method, const char *ivelem,
    const unsigned char *pt, size_t ptlen)
{
	unsigned char key[32], iv[16], *ct, wrapped[1024];
	size_t wlen = sizeof(wrapped);
	char *b64w, *b64c, *out, *a, *b;
	const char *ek, *eke, *cv;
	EVP_PKEY_CTX *pc;
	EVP_CIPHER_CTX *c;
	int n = 0, f = 0;

	assert_int_equal(RAND_bytes(key, (int)keylen), 1);
	assert_int_equal(RAND_bytes(iv, (int)ivlen), 1);
	assert_non_null(pc = EVP_PKEY_CTX_new(p3072.pkey, NULL));
	assert_int_equal(EVP_PKEY_encrypt_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc,
	    RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_encrypt(pc, wrapped, &wlen, key, keylen), 1);
	EVP_PKEY_CTX_free(pc);

	ct = malloc(ivlen + ptlen + 16);
	assert_non_null(ct);
	memcpy(ct, iv, ivlen);
	assert_non_null(c = EVP_CIPHER_CTX_new());
	assert_int_equal(EVP_EncryptInit_ex(c, cipher, NULL, NULL, NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN,
	    (int)ivlen, NULL), 1);
	assert_int_equal(EVP_EncryptInit_ex(c, NULL, NULL, key, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(c, ct + ivlen, &n, pt, (int)ptlen), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, ct + ivlen + n, &f), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16,
	    ct + ivlen + ptlen), 1);
	EVP_CIPHER_CTX_free(c);
	assert_int_equal(util_b64_encode(wrapped, wlen, &b64w, &wlen), 0);
	assert_int_equal(util_b64_encode(ct, ivlen + ptlen + 16, &b64c, &wlen), 0);

	/* header up to the EncryptedKey's CipherValue text, ours, then the
	 * rest up to the content's CipherValue text, ours, the end tags */
	ek = strstr(tmpl, "<xenc:EncryptedKey>");
	assert_non_null(ek = strstr(ek, "<xenc:CipherValue>"));
	ek += strlen("<xenc:CipherValue>");
	assert_non_null(eke = strstr(ek, "</xenc:CipherValue>"));
	assert_non_null(cv = strstr(eke, "<xenc:CipherData><xenc:CipherValue>"));
	cv += strlen("<xenc:CipherData><xenc:CipherValue>");
	n = (int)(strlen(tmpl) + strlen(b64w) + strlen(b64c) + 256);
	assert_non_null(out = malloc((size_t)n));
	snprintf(out, (size_t)n, "%.*s%s%.*s%s</xenc:CipherValue>"
	    "</xenc:CipherData></xenc:EncryptedData>", (int)(ek - tmpl), tmpl,
	    b64w, (int)(cv - eke), eke, b64c);
	a = replace(out, "aes256-gcm", method);
	b = replace(a, "<osci128:IvLength xmlns:osci128=\"" NS_OSCI128
	    "\" Value=\"12\"/>", ivelem);
	free(a);
	free(out);
	free(b64w);
	free(b64c);
	free(ct);
	OPENSSL_cleanse(key, sizeof(key));
	return b;
}

static void
foreign_ok(struct tmp *t, const char *tmpl, const EVP_CIPHER *cipher,
    size_t keylen, size_t ivlen, const char *method, const char *ivelem)
{
	unsigned char *pt = random_bytes(70001), *out;
	struct attach_result res;
	char *doc = foreign_doc(tmpl, cipher, keylen, ivlen, method, ivelem, pt,
	    70001);
	size_t olen = 0;

	spit(t->doc, doc, strlen(doc));
	assert_int_equal(decrypt_path(t->doc, t->out, &p3072, p3072.cert,
	    NO_LIMIT, &res), 0);
	out = slurp(t->out, &olen);
	assert_int_equal(olen, 70001);
	assert_memory_equal(out, pt, olen);
	assert_int_equal(res.cipher_size, ivlen + 70001 + 16);
	free(out);
	free(doc);
	free(pt);
}

static void
test_other_algorithms(void **state)
{
	struct tmp *t = *state;
	struct attach_info info;
	size_t len = 0;
	char *tmpl = make_doc(t, 1, &info, NULL, &len);
	const char *iv12 = "<osci128:IvLength xmlns:osci128=\"" NS_OSCI128
	    "\" Value=\"12\"/>";
	const char *iv16 = "<osci128:IvLength xmlns:osci128=\"" NS_OSCI128
	    "\" Value=\"16\"/>";

	/* the template itself, rebuilt, first: proves foreign_doc() */
	foreign_ok(t, tmpl, EVP_aes_256_gcm(), 32, 12, "aes256-gcm", iv12);
	foreign_ok(t, tmpl, EVP_aes_128_gcm(), 16, 12, "aes128-gcm", iv12);
	foreign_ok(t, tmpl, EVP_aes_256_gcm(), 32, 16, "aes256-gcm", iv16);
	foreign_ok(t, tmpl, EVP_aes_128_gcm(), 16, 16, "aes128-gcm", iv16);
	foreign_ok(t, tmpl, EVP_aes_256_gcm(), 32, 12, "aes256-gcm", "");
	/* A 16-byte key where the method says AES-256: the unwrap fails. */
	{
		unsigned char pt[10] = { 0 };
		char *doc = foreign_doc(tmpl, EVP_aes_128_gcm(), 16, 12,
		    "aes256-gcm", iv12, pt, sizeof(pt));

		refused(t, doc, strlen(doc), GW_ERR_CRYPTO);
		free(doc);
	}
	free(tmpl);
}

/* ---- interoperability -------------------------------------------------- */

static int
interop_available(void)
{
	if (access(INTEROP_DIR "/node_modules/xml-encryption/package.json",
	    R_OK) != 0) {
		print_message("skipped: " INTEROP_DIR "/node_modules/xml-encryption"
		    " missing (run `make deps` or `npm ci` in " INTEROP_DIR ")\n");
		return 0;
	}
	if (system("node --version >/dev/null 2>&1") != 0) {
		print_message("skipped: `node` not found on PATH\n");
		return 0;
	}
	return 1;
}

/* npm xml-encryption decrypts a text attachment document streamed here,
 * for the second of two readers, and refuses with a key it is not for. */
static void
test_interop_node_decrypts(void **state)
{
	struct tmp *t = *state;
	X509 *two[2] = { p3072.cert, p4096.cert };
	struct attach_info info;
	unsigned char *out = NULL, *msg = NULL;
	static const char line[] = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, "
	    "Zeile\n";
	char cmd[512], *text;
	size_t len = 0, i, n = 200000 / (sizeof(line) - 1) * (sizeof(line) - 1);

	if (!interop_available())
		skip();
	text = malloc(n + 1);
	assert_non_null(text);
	for (i = 0; i < n; i++)
		text[i] = line[i % (sizeof(line) - 1)];
	spool(t->dir, (unsigned char *)text, n, &info);
	write_doc(&info, two, 2, "att-1", "text/plain", t->doc);
	assert_int_equal(pki_write_key(t->key, p4096.pkey), 0);
	snprintf(cmd, sizeof(cmd), "node " INTEROP_DIR "/decrypt.js '%s' '%s' "
	    ">'%s' 2>'%s'", t->key, t->doc, t->out, t->err);
	if (system(cmd) != 0) {
		if (util_read_file(t->err, 1 << 16, &msg, &len) == 0)
			print_message("decrypt.js: %s\n", (const char *)msg);
		free(msg);
		fail();
	}
	out = slurp(t->out, &len);
	assert_int_equal(len, n);
	assert_memory_equal(out, text, n);
	free(out);
	assert_int_equal(pki_write_key(t->key, p3072b.pkey), 0);
	assert_int_not_equal(system(cmd), 0);
	free(text);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_roundtrip_0),
		T(test_roundtrip_1),
		T(test_roundtrip_2),
		T(test_roundtrip_3),
		T(test_roundtrip_65535),
		T(test_roundtrip_65536),
		T(test_roundtrip_65537),
		T(test_roundtrip_5mb),
		T(test_fresh_key_iv_name),
		T(test_abort_removes),
		T(test_writer_open_fails),
		T(test_document_form),
		T(test_header_refuses),
		T(test_b64_len),
		T(test_reader_file_grew),
		T(test_reader_file_shrank),
		T(test_reader_missing_file),
		T(test_tampered),
		T(test_wrong_key),
		T(test_truncated),
		T(test_malformed),
		T(test_header_too_large),
		T(test_accepts_other_forms),
		T(test_max_plain),
		T(test_other_algorithms),
		T(test_interop_node_decrypts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
