/*
 * util.c - see util.h.  No state; safe from any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "err.h"
#include "util.h"

int
util_read_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
	int r = GW_ERR_IO, fd;
	struct stat st;
	unsigned char *buf = NULL;
	size_t have = 0;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return GW_ERR_IO;
	if (fstat(fd, &st) != 0)
		goto out;
	if ((size_t)st.st_size > max) {
		r = GW_ERR_TOO_LARGE;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	while (have < (size_t)st.st_size) {
		n = read(fd, buf + have, (size_t)st.st_size - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		have += (size_t)n;
	}
	buf[have] = '\0';
	*out = buf;
	*len = have;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	close(fd);
	return r;
}

int
util_write_file(const char *path, const void *data, size_t len, int mode)
{
	char tmp[PATH_MAX];
	const unsigned char *p = data;
	int fd, r = GW_ERR_IO;
	ssize_t n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return GW_ERR_TOO_LARGE;
	/* A leftover temp file (or a link planted there) is removed, never
	 * reused: O_EXCL|O_NOFOLLOW creates a fresh file with our mode. */
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode)) < 0)
		return GW_ERR_IO;
	if (fchmod(fd, (mode_t)mode) != 0)	/* the umask does not narrow it */
		goto out;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto out;
	r = 0;
 out:
	if (close(fd) != 0)
		r = GW_ERR_IO;
	if (r == 0 && rename(tmp, path) != 0)
		r = GW_ERR_IO;
	if (r != 0)
		unlink(tmp);
	return r;
}

void
util_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

void
util_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		abort();	/* SHA-256 cannot fail short of a broken library */
	util_hex(md, 32, out);
}

int
util_b64_encode(const unsigned char *in, size_t len, char **out, size_t *outlen)
{
	char *buf;
	int n;

	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return GW_ERR_TOO_LARGE;
	if ((buf = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return GW_ERR_NOMEM;
	n = EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
	buf[n] = '\0';
	*out = buf;
	*outlen = (size_t)n;
	return 0;
}

int
util_b64_decode(const char *in, size_t len, size_t max,
    unsigned char **out, size_t *outlen)
{
	EVP_ENCODE_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	int r = GW_ERR_INVALID, n = 0, fin = 0;
	size_t cap;

	if (len > (size_t)INT_MAX)
		return GW_ERR_TOO_LARGE;
	/* OpenSSL's decoder stops at '-' (a PEM end line) and calls that
	 * success; only the alphabet, padding and white space are accepted. */
	for (cap = 0; cap < len; cap++) {
		unsigned char ch = (unsigned char)in[cap];
		if (!(isalnum(ch) || ch == '+' || ch == '/' || ch == '=' ||
		    ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'))
			return GW_ERR_INVALID;
	}
	cap = len / 4 * 3 + 3;
	/* Reject early: even ignoring white space the result would be too big
	 * only if the text without white space is; decode and check after. */
	if ((buf = malloc(cap + 1)) == NULL)
		return GW_ERR_NOMEM;
	if ((ctx = EVP_ENCODE_CTX_new()) == NULL) {
		r = GW_ERR_NOMEM;
		goto out;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)in, (int)len) < 0)
		goto out;
	if (EVP_DecodeFinal(ctx, buf + n, &fin) < 0)
		goto out;
	n += fin;
	if ((size_t)n > max) {
		r = GW_ERR_TOO_LARGE;
		goto out;
	}
	buf[n] = 0;
	*out = buf;
	*outlen = (size_t)n;
	buf = NULL;
	r = 0;
 out:
	EVP_ENCODE_CTX_free(ctx);
	free(buf);
	return r;
}

int64_t
util_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void
util_time_iso(int64_t ms, char out[32])
{
	int64_t sec = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;
	char base[24];

	if (frac < 0) {		/* floor, for times before 1970 */
		frac += 1000;
		sec -= 1;
	}
	t = (time_t)sec;
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", base, (int)frac);
}

void
util_new_id(char out[40])
{
	unsigned char rnd[16];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();	/* no randomness: nothing safe can be done */
	memcpy(out, "gw-", 3);
	util_hex(rnd, sizeof(rnd), out + 3);
}

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* Length of the valid UTF-8 sequence at p (1-4), 0 if invalid or cut. */
static size_t
utf8_seq(const unsigned char *p)
{
	size_t n, i;
	unsigned int c = p[0];
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void
util_utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n;

	while (*p) {
		n = utf8_seq(p);
		if (n == 0) {
			/* A lead byte followed only by continuation bytes up to
			 * the end, fewer than it needs: cut off by a bounded
			 * copy; drop it.  Anything else invalid becomes '?'. */
			size_t want = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2, i;
			for (i = 1; p[i] && (p[i] & 0xc0) == 0x80; i++)
				;
			if (*p >= 0xc2 && *p <= 0xf4 && p[i] == '\0' && i < want) {
				*p = '\0';
				return;
			}
			*p++ = '?';
			continue;
		}
		if (n == 1 && *p < 0x20 && *p != '\t' && *p != '\n')
			*p = '?';
		p += n;
	}
}

int
util_path_join(const char *dir, const char *name, char *out, size_t len)
{
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return GW_ERR_INVALID;
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
		return GW_ERR_TOO_LARGE;
	return 0;
}

int
util_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return GW_ERR_IO;
		}
		if (n == 0)
			return GW_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
