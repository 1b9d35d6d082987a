/*
 * attach_spool.c - reading a spooled attachment back during its intake.
 * See attach.h (attach_spool_bio).
 *
 * Why: a detached CMS signature (.p7s) that comes as an attachment signs
 * another attachment, and both exist only encrypted in the spool.  While
 * the submission is being checked the worker still holds each part's
 * content key (it is wrapped for the readers and wiped when the request
 * ends), so it can stream a part back through the CMS verifier, in
 * constant memory, without ever writing plaintext to disk.  After the
 * acceptance nobody at the gateway can: the key is gone.
 *
 * Invariants: the key is copied into the cipher context only and wiped
 * with it; the last TAG bytes of the file are the GCM tag, checked when
 * the data is exhausted, and a bad tag (or a short file) is a read error,
 * so a damaged spool file never verifies as anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attach.h"
#include "err.h"

#define CHUNK	(64u << 10)

struct spool_bio {
	int fd;
	EVP_CIPHER_CTX *gcm;
	uint64_t left;			/* ciphertext bytes still to read */
	int done;			/* tag checked */
	int bad;			/* a read or the tag failed */
	unsigned char in[CHUNK];
};

static int
full_read(int fd, unsigned char *buf, size_t n)
{
	ssize_t k;
	size_t got = 0;

	while (got < n) {
		k = read(fd, buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static int
sb_read(BIO *b, char *out, int outl)
{
	struct spool_bio *s = BIO_get_data(b);
	unsigned char tag[ATTACH_TAG_LEN];
	size_t n;
	int len = 0;

	BIO_clear_retry_flags(b);
	if (s == NULL || s->bad || outl <= 0)
		return -1;
	if (s->left == 0) {
		if (s->done)
			return 0;
		s->done = 1;
		if (full_read(s->fd, tag, sizeof(tag)) != 0 ||
		    EVP_CIPHER_CTX_ctrl(s->gcm, EVP_CTRL_GCM_SET_TAG, sizeof(tag),
		    tag) != 1 ||
		    EVP_DecryptFinal_ex(s->gcm, s->in, &len) != 1) {
			s->bad = 1;
			return -1;
		}
		return 0;
	}
	n = (size_t)outl < sizeof(s->in) ? (size_t)outl : sizeof(s->in);
	if (n > s->left)
		n = (size_t)s->left;
	if (full_read(s->fd, s->in, n) != 0 ||
	    EVP_DecryptUpdate(s->gcm, (unsigned char *)out, &len, s->in,
	    (int)n) != 1) {
		s->bad = 1;
		return -1;
	}
	s->left -= n;
	return len;
}

static long
sb_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct spool_bio *s = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_EOF:
		return s == NULL || (s->left == 0 && s->done);
	case BIO_CTRL_FLUSH:
		return 1;
	default:
		return 0;
	}
}

static int
sb_destroy(BIO *b)
{
	struct spool_bio *s = BIO_get_data(b);

	if (s != NULL) {
		if (s->fd >= 0)
			close(s->fd);
		EVP_CIPHER_CTX_free(s->gcm);	/* wipes the key schedule */
		OPENSSL_cleanse(s->in, sizeof(s->in));
		free(s);
	}
	BIO_set_data(b, NULL);
	return 1;
}

/* Made once per process (CRYPTO_THREAD_run_once), never freed. */
static BIO_METHOD *spool_method;

static void
sb_init_method(void)
{
	int index = BIO_get_new_index();
	BIO_METHOD *m;

	if (index < 0)
		return;
	m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "gatewayd attachment spool");
	if (m == NULL || BIO_meth_set_read(m, sb_read) != 1 ||
	    BIO_meth_set_ctrl(m, sb_ctrl) != 1 ||
	    BIO_meth_set_destroy(m, sb_destroy) != 1) {
		BIO_meth_free(m);
		return;
	}
	spool_method = m;
}

int
attach_spool_bio(const char *path, const unsigned char key[ATTACH_KEY_LEN],
    BIO **out)
{
	static CRYPTO_ONCE once = CRYPTO_ONCE_STATIC_INIT;
	unsigned char iv[ATTACH_IV_LEN];
	struct spool_bio *s;
	struct stat st;
	BIO *b;

	*out = NULL;
	if (!CRYPTO_THREAD_run_once(&once, sb_init_method) || spool_method == NULL)
		return GW_ERR_NOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return GW_ERR_NOMEM;
	s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->fd < 0 || fstat(s->fd, &st) != 0 ||
	    st.st_size < ATTACH_IV_LEN + ATTACH_TAG_LEN ||
	    full_read(s->fd, iv, sizeof(iv)) != 0 ||
	    (s->gcm = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(s->gcm, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(s->gcm, EVP_CTRL_GCM_SET_IVLEN, ATTACH_IV_LEN,
	    NULL) != 1 ||
	    EVP_DecryptInit_ex(s->gcm, NULL, NULL, key, iv) != 1) {
		if (s->fd >= 0)
			close(s->fd);
		EVP_CIPHER_CTX_free(s->gcm);
		free(s);
		return GW_ERR_IO;
	}
	s->left = (uint64_t)st.st_size - ATTACH_IV_LEN - ATTACH_TAG_LEN;
	if ((b = BIO_new(spool_method)) == NULL) {
		close(s->fd);
		EVP_CIPHER_CTX_free(s->gcm);
		free(s);
		return GW_ERR_NOMEM;
	}
	BIO_set_data(b, s);
	BIO_set_init(b, 1);
	*out = b;
	return 0;
}

int
attach_spool_bio_failed(BIO *b)
{
	struct spool_bio *s = b ? BIO_get_data(b) : NULL;

	return s == NULL || s->bad;
}
