/*
 * authority_store.c - the authority's output directory OUT.
 *
 * Invariant: OUT/<id> exists only complete.  A message is written into
 * OUT/.tmp-<id> (every file fsync'd, then the directories), renamed to
 * OUT/<id> without replacing anything (renameat2 RENAME_NOREPLACE), and
 * OUT is fsync'd before the caller may acknowledge it.  A crash leaves at
 * most a .tmp-* directory, removed at the next start (or when the same id
 * arrives again); the gateway retries what was not acknowledged.
 *
 * OUT/<id> existing is what "already received" means (de-duplication by
 * MessageID).  Its receipt.xml is the answer to every repetition.
 *
 * All paths below OUT are opened relative to the descriptor of OUT, with
 * O_NOFOLLOW and O_EXCL for new files: names come from the (decrypted,
 * signed) container, but are checked again here anyway.
 *
 * Single-threaded (the event loop of cmd_authority.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authority.h"
#include "err.h"
#include "gwctl.h"
#include "util.h"

#define TMP_PREFIX	".tmp-"
#define SPOOL_DIR	".spool"
#define ATT_DIR		"attachments"
#define MAX_RECEIPT	((size_t)1 << 20)

static int
io_fail(char *why, size_t whylen, const char *what, const char *name)
{
	int e = errno;

	/* the name may be long: the reason is cut, never the buffer */
	if (snprintf(why, whylen, "cannot %s %.120s: %s", what, name,
	    strerror(e)) < 0)
		why[0] = '\0';
	return GW_ERR_IO;
}

/* A name for one file directly in a directory: no path, no dot file. */
static int
plain_name(const char *name)
{
	return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL &&
	    strlen(name) < 256;
}

/* Removes parent/name and, down to depth levels, what is in it. */
static void
rm_tree(int parent, const char *name, int depth)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd;

	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (d = fdopendir(fd)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode)) {
				if (depth > 0)
					rm_tree(fd, e->d_name, depth - 1);
			} else
				(void)unlinkat(fd, e->d_name, 0);
		}
		closedir(d);		/* closes fd */
	} else if (fd >= 0)
		close(fd);
	(void)unlinkat(parent, name, AT_REMOVEDIR);
}

/* Writes data to a new file dir/name and fsyncs it. */
static int
write_at(int dir, const char *name, const void *data, size_t len)
{
	const unsigned char *p = data;
	ssize_t n;
	int fd, e;

	fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0)
		return GW_ERR_IO;
	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			goto bad;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto bad;
	return close(fd) == 0 ? 0 : GW_ERR_IO;
 bad:
	e = errno;
	close(fd);
	errno = e;
	return GW_ERR_IO;
}

/* Reads dir/name, at most max bytes, into a malloc'd buffer. */
static int
read_at(int dir, const char *name, size_t max, unsigned char **out,
    size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t have = 0;
	ssize_t n;
	int fd, e;

	if ((fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? GW_ERR_NOT_FOUND : GW_ERR_IO;
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return GW_ERR_IO;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return GW_ERR_IO;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return GW_ERR_NOMEM;
	}
	while (have < (size_t)st.st_size) {
		n = read(fd, buf + have, (size_t)st.st_size - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			free(buf);
			close(fd);
			errno = e;
			return GW_ERR_IO;
		}
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return 0;
}

int
auth_store_open(const char *path, struct auth_store *st)
{
	struct dirent *e;
	DIR *d;
	int fd;

	memset(st, 0, sizeof(*st));
	st->dirfd = -1;
	if (util_strlcpy(st->path, path, sizeof(st->path)) >= sizeof(st->path)) {
		gwctl_err(AUTH_CMD, "the --out path is too long");
		return GW_ERR_INVALID;
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		gwctl_err(AUTH_CMD, "cannot create %s: %s", path, strerror(errno));
		return GW_ERR_IO;
	}
	if ((st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		gwctl_err(AUTH_CMD, "cannot open the directory %s: %s", path,
		    strerror(errno));
		return GW_ERR_IO;
	}
	/* What a crash left half-written was never acknowledged: remove it. */
	if ((fd = dup(st->dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		gwctl_err(AUTH_CMD, "cannot read %s: %s", path, strerror(errno));
		auth_store_close(st);
		return GW_ERR_IO;
	}
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
			rm_tree(st->dirfd, e->d_name, 1);
	closedir(d);
	/* Spooled parts are encrypted under keys that died with the process
	 * that received them: useless, removed.  The directory is made again
	 * when a push with attachments arrives (auth_store_spool()). */
	rm_tree(st->dirfd, SPOOL_DIR, 0);
	if ((size_t)snprintf(st->spool, sizeof(st->spool), "%s/" SPOOL_DIR,
	    path) >= sizeof(st->spool)) {
		gwctl_err(AUTH_CMD, "the --out path is too long");
		auth_store_close(st);
		return GW_ERR_INVALID;
	}
	return 0;
}

int
auth_store_spool(struct auth_store *st)
{
	if (mkdirat(st->dirfd, SPOOL_DIR, 0700) != 0 && errno != EEXIST)
		return GW_ERR_IO;
	return 0;
}

void
auth_store_close(struct auth_store *st)
{
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->dirfd = -1;
}

int
auth_store_find(struct auth_store *st, const char *id,
    unsigned char **receipt, size_t *len, char *why, size_t whylen)
{
	struct stat sb;
	unsigned char *buf = NULL;
	size_t n = 0;
	int d, r;

	if (fstatat(st->dirfd, id, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return GW_ERR_NOT_FOUND;
		return io_fail(why, whylen, "look up", id);
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(why, whylen, "%s/%s exists but is not a directory",
		    st->path, id);
		return GW_ERR_IO;
	}
	if ((d = openat(st->dirfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return io_fail(why, whylen, "open", id);
	r = read_at(d, "receipt.xml", MAX_RECEIPT, &buf, &n);
	close(d);
	if (r == GW_ERR_NOT_FOUND)
		return GW_ERR_STATE;
	if (r == GW_ERR_IO)
		return io_fail(why, whylen, "read the receipt of", id);
	if (r != 0)
		return r;
	/* A commit whose final fsync of OUT failed left OUT/<id> visible but
	 * perhaps not durable: make sure before it is acknowledged again. */
	if (fsync(st->dirfd) != 0) {
		free(buf);
		return io_fail(why, whylen, "sync", st->path);
	}
	*receipt = buf;
	*len = n;
	return 0;
}

int
auth_store_add_receipt(struct auth_store *st, const char *id,
    const unsigned char *receipt, size_t len, char *why, size_t whylen)
{
	int d, r = GW_ERR_IO;

	if ((d = openat(st->dirfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return io_fail(why, whylen, "open", id);
	(void)unlinkat(d, ".receipt.tmp", 0);
	if (write_at(d, ".receipt.tmp", receipt, len) != 0) {
		io_fail(why, whylen, "write the receipt into", id);
		(void)unlinkat(d, ".receipt.tmp", 0);
		goto out;
	}
	if (renameat(d, ".receipt.tmp", d, "receipt.xml") != 0 || fsync(d) != 0) {
		io_fail(why, whylen, "store the receipt in", id);
		goto out;
	}
	r = 0;
 out:
	close(d);
	return r;
}

int
auth_txn_begin(struct auth_store *st, const char *id, struct auth_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->st = st;
	t->dirfd = t->attfd = -1;
	util_strlcpy(t->id, id, sizeof(t->id));
	snprintf(t->tmp, sizeof(t->tmp), TMP_PREFIX "%s", id);
	rm_tree(st->dirfd, t->tmp, 1);		/* a stale attempt */
	if (mkdirat(st->dirfd, t->tmp, 0700) != 0 ||
	    (t->dirfd = openat(st->dirfd, t->tmp, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0) {
		t->err = io_fail(t->why, sizeof(t->why), "create", t->tmp);
		auth_txn_abort(t);
		return t->err;
	}
	return 0;
}

/* The directory a file of the message goes to (the attachments' made
 * on first use), after checking its name; -1 with t->err set if not. */
static int
txn_dir(struct auth_txn *t, int attachment, const char *name)
{
	if (t->err != 0)
		return -1;
	if (!plain_name(name)) {
		snprintf(t->why, sizeof(t->why), "refusing the file name %.60s",
		    name);
		t->err = GW_ERR_INVALID;
		return -1;
	}
	if (attachment && t->attfd < 0 &&
	    (mkdirat(t->dirfd, ATT_DIR, 0700) != 0 ||
	    (t->attfd = openat(t->dirfd, ATT_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0)) {
		t->err = io_fail(t->why, sizeof(t->why), "create", ATT_DIR);
		return -1;
	}
	return attachment ? t->attfd : t->dirfd;
}

int
auth_txn_write(struct auth_txn *t, int attachment, const char *name,
    const void *data, size_t len)
{
	int dir;

	if ((dir = txn_dir(t, attachment, name)) < 0)
		return t->err;
	if (write_at(dir, name, data, len) != 0)
		return t->err = io_fail(t->why, sizeof(t->why), "write", name);
	return 0;
}

int
auth_txn_create(struct auth_txn *t, int attachment, const char *name, int *fd)
{
	int dir, f;

	if ((dir = txn_dir(t, attachment, name)) < 0)
		return t->err;
	f = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (f < 0 && errno == EEXIST)
		return GW_ERR_DUPLICATE;
	if (f < 0)
		return t->err = io_fail(t->why, sizeof(t->why), "create", name);
	*fd = f;
	return 0;
}

int
auth_txn_close(struct auth_txn *t, int fd, const char *name)
{
	if (fsync(fd) != 0) {
		io_fail(t->why, sizeof(t->why), "write", name);
		close(fd);
		return t->err = GW_ERR_IO;
	}
	if (close(fd) != 0)
		return t->err = io_fail(t->why, sizeof(t->why), "write", name);
	return 0;
}

static void
txn_close(struct auth_txn *t)
{
	if (t->attfd >= 0)
		close(t->attfd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	t->attfd = t->dirfd = -1;
}

/* rename without replacing; plain rename where the file system cannot
 * (OUT/<id> was checked to be absent just before, on this one thread). */
static int
rename_noreplace(int dir, const char *from, const char *to)
{
	if (renameat2(dir, from, dir, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	return renameat(dir, from, dir, to);
}

int
auth_txn_commit(struct auth_txn *t)
{
	struct auth_store *st = t->st;

	if (t->err != 0)
		goto fail;
	if ((t->attfd >= 0 && fsync(t->attfd) != 0) || fsync(t->dirfd) != 0) {
		t->err = io_fail(t->why, sizeof(t->why), "sync", t->tmp);
		goto fail;
	}
	txn_close(t);
	if (rename_noreplace(st->dirfd, t->tmp, t->id) != 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			t->err = GW_ERR_DUPLICATE;
		else
			t->err = io_fail(t->why, sizeof(t->why), "rename", t->tmp);
		goto fail;
	}
	/* Only now is OUT/<id> durable, and only now may it be acknowledged. */
	if (fsync(st->dirfd) != 0)
		return t->err = io_fail(t->why, sizeof(t->why), "sync", st->path);
	return 0;
 fail:
	auth_txn_abort(t);
	return t->err;
}

void
auth_txn_abort(struct auth_txn *t)
{
	txn_close(t);
	if (t->st != NULL && t->tmp[0] != '\0')
		rm_tree(t->st->dirfd, t->tmp, 1);
}
