/*
 * io.c - gwctl's input, output and error-message helpers.
 *
 * Input is read whole (documents are signed, encrypted and parsed as a
 * whole anyway) with a hard limit, from a file or from stdin; output goes to
 * stdout or atomically into a file.  Error lines are sanitised because they
 * may quote text that came from the gateway or from a document.  Big
 * files (attachments) are never read whole: util_write_all() and
 * gwctl_tmpfile() serve the streaming paths, and the progress line shows
 * how far a long transfer is.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "gwctl.h"
#include "util.h"

void
gwctl_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';	/* one line, even for a multi-line text */
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
verr(const char *cmd, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	gwctl_sanitize(msg);
	if (cmd != NULL)
		fprintf(stderr, "gwctl: %s: %s\n", cmd, msg);
	else
		fprintf(stderr, "gwctl: %s\n", msg);
}

void
gwctl_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(cmd, fmt, ap);
	va_end(ap);
}

int
gwctl_usage_err(const char *cmd, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gwctl_err(cmd, "%s (see gwctl %s --help)", msg, cmd ? cmd : "");
	return GWCTL_USAGE;
}

int
gwctl_bad_option(const char *cmd, char **argv)
{
	/* opterr is 0: getopt_long printed nothing; argv[optind - 1] is the
	 * offending word (or the option whose argument is missing). */
	return gwctl_usage_err(cmd, "unknown option or missing argument: %s",
	    optind > 0 ? argv[optind - 1] : "?");
}

static int
read_fd(int fd, size_t max, unsigned char **out, size_t *len)
{
	unsigned char *buf = NULL, *nb;
	size_t have = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (have == cap) {
			if (cap > max) {
				free(buf);
				return GW_ERR_TOO_LARGE;
			}
			cap = cap == 0 ? 65536 : cap * 2;
			if (cap > max + 1)
				cap = max + 1;	/* one byte more shows "too large" */
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return GW_ERR_NOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			errno = e;
			return GW_ERR_IO;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > max) {
			free(buf);
			return GW_ERR_TOO_LARGE;
		}
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return GW_ERR_NOMEM;
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return 0;
}

int
gwctl_read_input(const char *path, size_t max, unsigned char **out, size_t *len)
{
	int fd, r, e;

	if (strcmp(path, "-") == 0)
		return read_fd(STDIN_FILENO, max, out, len);
	/* Not util_read_file(): it trusts st_size, which is 0 for a pipe such
	 * as <(command). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return GW_ERR_IO;
	r = read_fd(fd, max, out, len);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

int
gwctl_write_output(const char *path, const void *buf, size_t len)
{
	if (path != NULL && strcmp(path, "-") != 0)
		return util_write_file(path, buf, len, 0600);
	if (len > 0 && fwrite(buf, 1, len, stdout) != len)
		return GW_ERR_IO;
	if (fflush(stdout) != 0)
		return GW_ERR_IO;
	return 0;
}

int
gwctl_parse_u64(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))	/* strtoull accepts "-1" */
		return GW_ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return GW_ERR_INVALID;
	*out = v;
	return 0;
}


int
gwctl_tmpfile(const char *dir, char *path, size_t pathlen, int *fd)
{
	char id[40];
	int i, f;

	for (i = 0; i < 8; i++) {
		util_new_id(id);	/* "gw-" + 32 hex */
		if ((size_t)snprintf(path, pathlen, "%s/.gwctl-%s.tmp", dir,
		    id + 3) >= pathlen) {
			errno = ENAMETOOLONG;
			return GW_ERR_IO;
		}
		f = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (f >= 0) {
			*fd = f;
			return 0;
		}
		if (errno != EEXIST)
			return GW_ERR_IO;
	}
	return GW_ERR_IO;
}

/* ---- progress ---- */

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
gwctl_progress_init(struct gwctl_progress *p, const char *cmd,
    const char *what, int quiet)
{
	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	p->what = what;
	p->quiet = quiet;
}

void
gwctl_progress_update(struct gwctl_progress *p, unsigned long long done,
    unsigned long long total)
{
	long long now;

	if (p->quiet || total == 0)
		return;
	if (p->total != total) {	/* the first size seen decides */
		p->total = total;
		p->on = total > GWCTL_PROGRESS_MIN && isatty(STDERR_FILENO);
	}
	if (done > total)
		done = total;
	if (!p->on || (p->drawn && done == p->shown) ||
	    (done < total && (now = mono_ms()) - p->last_ms < 250))
		return;
	p->last_ms = mono_ms();
	p->shown = done;
	fprintf(stderr, "\rgwctl: %s: %s: %.1f of %.1f MiB (%3llu%%)", p->cmd,
	    p->what, (double)done / 1048576.0, (double)total / 1048576.0,
	    done * 100 / total);
	p->drawn = 1;
}

void
gwctl_progress_end(struct gwctl_progress *p)
{
	if (p->drawn)
		fputc('\n', stderr);
	p->drawn = 0;
	p->on = 0;
}
