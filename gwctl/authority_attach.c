/*
 * authority_attach.c - attachments of a pushed message (docs/attachments.md
 * section 3), as gwctl authority serve receives them.
 *
 * The gateway sends multipart/related: the envelope, then one XML-Enc
 * document per attachment.  gateway/http.c parses the body as it arrives
 * (multipart.h) and spools every part after the first under a random key
 * of its own (attach_writer: IV || ciphertext || tag in OUT/.spool), so
 * nothing waits in memory however large it is.  Once the envelope's
 * signature has been checked (cmd_authority.c), each part goes through
 * three files, each read and written in fixed pieces:
 *
 *   spool file --AES-256-GCM, the spool key--> the pushed document
 *     (OUT/.spool/.gwctl-*.tmp; its tag is checked before it is used)
 *   pushed document --attach_decrypt_fd(), the authority's key-->
 *     OUT/.tmp-<id>/attachments/<name>
 *
 * and the result is checked against the envelope's signed entry before
 * the message is committed (authority_store.c).  Both temporary files are
 * gone afterwards whatever happens; a plaintext that does not check out
 * stays only in OUT/.tmp-<id>, which the caller removes.
 *
 * Single-threaded (the event loop of cmd_authority.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attach.h"
#include "authority.h"
#include "err.h"
#include "gw.h"
#include "gwctl.h"
#include "util.h"

#define CHUNK	(64 * 1024)

/* Reads exactly len bytes (short only at the end of the file). */
static int
read_full(int fd, unsigned char *buf, size_t len, size_t *got)
{
	ssize_t n;

	*got = 0;
	while (*got < len) {
		n = read(fd, buf + *got, len - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return GW_ERR_IO;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/*
 * Decrypts the spool file (IV || ciphertext || tag under info->key) into
 * fd_out.  GW_ERR_CRYPTO if the tag is wrong (the file was tampered with
 * on this machine), GW_ERR_IO otherwise.
 */
static int
unspool(const struct attach_info *info, int fd_out)
{
	unsigned char iv[ATTACH_IV_LEN], tag[ATTACH_TAG_LEN], *in = NULL,
	    *out = NULL;
	unsigned long long left;
	EVP_CIPHER_CTX *ctx = NULL;
	struct stat st;
	size_t got, want;
	int fd, n, r = GW_ERR_IO;

	if ((fd = open(info->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return GW_ERR_IO;
	if (fstat(fd, &st) != 0 ||
	    (unsigned long long)st.st_size < ATTACH_IV_LEN + ATTACH_TAG_LEN)
		goto out;
	left = (unsigned long long)st.st_size - ATTACH_IV_LEN - ATTACH_TAG_LEN;
	r = GW_ERR_NOMEM;
	if ((in = malloc(CHUNK)) == NULL || (out = malloc(CHUNK + 32)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	r = GW_ERR_IO;
	if (read_full(fd, iv, sizeof(iv), &got) != 0 || got != sizeof(iv))
		goto out;
	r = GW_ERR_CRYPTO;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ATTACH_IV_LEN,
	    NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, info->key, iv) != 1)
		goto out;
	while (left > 0) {
		want = left < CHUNK ? (size_t)left : CHUNK;
		r = GW_ERR_IO;
		if (read_full(fd, in, want, &got) != 0 || got != want)
			goto out;
		r = GW_ERR_CRYPTO;
		if (EVP_DecryptUpdate(ctx, out, &n, in, (int)want) != 1)
			goto out;
		r = GW_ERR_IO;
		if (util_write_all(fd_out, out, (size_t)n) != 0)
			goto out;
		left -= want;
	}
	r = GW_ERR_IO;
	if (read_full(fd, tag, sizeof(tag), &got) != 0 || got != sizeof(tag))
		goto out;
	r = GW_ERR_CRYPTO;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ATTACH_TAG_LEN,
	    tag) != 1 || EVP_DecryptFinal_ex(ctx, out, &n) != 1)
		goto out;
	r = 0;
 out:
	EVP_CIPHER_CTX_free(ctx);
	if (out != NULL)
		OPENSSL_clear_free(out, CHUNK + 32);
	free(in);
	close(fd);
	return r;
}

/* The result of attach_decrypt_fd() against the signed entry. */
static int
check_result(const struct gwctl_att *e, const struct attach_result *res,
    char *why, size_t whylen)
{
	if (strcmp(res->id, e->id) != 0) {
		snprintf(why, whylen, "the part for %s holds the document of "
		    "attachment \"%.64s\"", e->id, res->id);
		return GW_ERR_ATTACHMENT;
	}
	if (res->cipher_size != e->cipher_size ||
	    strcasecmp(res->cipher_sha256, e->cipher_sha256) != 0) {
		snprintf(why, whylen, "attachment %s does not match the envelope's "
		    "CipherSize/CipherSHA256", e->id);
		return GW_ERR_ATTACHMENT;
	}
	if (res->plain_size != e->size ||
	    strcasecmp(res->plain_sha256, e->sha256) != 0) {
		snprintf(why, whylen, "attachment %s decrypts to other bytes than "
		    "its signed Size/SHA256", e->id);
		return GW_ERR_ATTACHMENT;
	}
	return 0;
}

/* A new file under attachments/ named after the entry's Filename. */
static int
create_named(struct auth_txn *t, const struct gwctl_att *e, size_t index,
    char *name, size_t namelen, int *fd)
{
	char base[160], fallback[32];
	int k, r;

	snprintf(fallback, sizeof(fallback), "attachment-%zu", index + 1);
	decrypt_safe_name(e->filename, fallback, base, sizeof(base));
	util_strlcpy(name, base, namelen);
	for (k = 2; k < 1000; k++) {
		if ((r = auth_txn_create(t, 1, name, fd)) != GW_ERR_DUPLICATE)
			return r;
		snprintf(name, namelen, "%d-%s", k, base);
	}
	snprintf(t->why, sizeof(t->why), "no free file name for %.60s", base);
	return t->err = GW_ERR_IO;
}

int
auth_attach_store(struct auth_store *st, struct auth_txn *t,
    struct job_att *att, const struct gwctl_att *entry, size_t index,
    struct keys *key, X509 *cert, char *why, size_t whylen)
{
	struct attach_result res;
	char tmp[PATH_MAX] = "", name[200];
	int docfd = -1, outfd = -1, r;

	memset(&res, 0, sizeof(res));
	if (att->info == NULL) {
		snprintf(why, whylen, "attachment %s was not spooled", entry->id);
		return GW_ERR_INTERNAL;
	}
	if (gwctl_tmpfile(st->spool, tmp, sizeof(tmp), &docfd) != 0) {
		tmp[0] = '\0';
		snprintf(why, whylen, "cannot create a file in %s: %s", st->spool,
		    strerror(errno));
		r = GW_ERR_IO;
		goto out;
	}
	if ((r = unspool(att->info, docfd)) != 0 || lseek(docfd, 0, SEEK_SET) != 0) {
		snprintf(why, whylen, "cannot read back the spooled attachment %s: "
		    "%s", entry->id, r ? gw_strerror(r) : strerror(errno));
		r = r == GW_ERR_NOMEM ? r : GW_ERR_IO;
		goto out;
	}
	if ((r = create_named(t, entry, index, name, sizeof(name), &outfd)) != 0) {
		snprintf(why, whylen, "%s", t->why);
		goto out;
	}
	r = attach_decrypt_fd(docfd, outfd, key, cert, entry->size, &res);
	if (r != 0) {
		snprintf(why, whylen, "attachment %s does not decrypt (damaged, "
		    "or not for this authority's key): %s", entry->id,
		    gw_strerror(r));
		r = r == GW_ERR_NOMEM || r == GW_ERR_IO ? r : GW_ERR_CRYPTO;
		goto out;
	}
	if ((r = check_result(entry, &res, why, whylen)) != 0)
		goto out;
	r = auth_txn_close(t, outfd, name);
	outfd = -1;
	if (r != 0)
		snprintf(why, whylen, "%s", t->why);
 out:
	if (outfd >= 0)
		close(outfd);	/* the caller aborts t: the file goes with it */
	if (docfd >= 0)
		close(docfd);
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	OPENSSL_cleanse(&res, sizeof(res));
	return r;
}
