/*
 * cmd_reload.c - gwctl reload: asks a running gatewayd to reload its
 * configuration (SIGHUP to the pid in its pid file) and waits for the
 * outcome the daemon writes to reload.status next to the pid file
 * (gateway/reload.c describes the file).
 *
 * Runs on the gateway's machine, as its user (or root).  The pid file is
 * --pid-file, else gatewayd.pid next to the database (--dev DIR, or the
 * database key of --config FILE).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "gwctl.h"
#include "util.h"

#define CMD		"reload"
#define FILE_MAX	((size_t)1 << 20)

static const char reload_help[] =
    "usage: gwctl reload (--pid-file FILE | --dev DIR | --config FILE)\n"
    "                    [--timeout SECONDS]\n\n"
    "Asks the running gatewayd to reload its configuration file and\n"
    "profiles (it sends SIGHUP to the process in the pid file) and waits for\n"
    "the outcome.  Prints \"reloaded: configuration sha256:DIGEST\" and exits\n"
    "0, or prints \"refused: SENTENCE\" and exits 1; a refused configuration\n"
    "changes nothing, the old one keeps serving.  Both are in the audit log\n"
    "(config.reloaded, config.reload_refused).\n\n"
    "Options:\n"
    "  --pid-file FILE  gatewayd's pid file (its --pid-file); the outcome is\n"
    "                   read from reload.status in the same directory\n"
    "  --dev DIR        a gatewayd --dev DIR: DIR/gatewayd.pid\n"
    "                   (default: $GWCTL_DEV)\n"
    "  --config FILE    the gateway file gatewayd runs with: gatewayd.pid\n"
    "                   next to its database\n"
    "  --timeout SECS   how long to wait for the outcome (default 10)\n"
    "  --help           this text\n";

struct status {
	long pid;
	unsigned long long gen;
	char result[16];
	char digest[80];
	char message[1200];
};

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* The database key of a gateway file, relative to the file's directory. */
static int
config_database(const char *config, char *out, size_t outlen)
{
	unsigned char *buf = NULL;
	char dir[PATH_MAX], *line, *next, *eq, *val = NULL;
	size_t len;
	int r = GW_ERR_NOT_FOUND;

	if (util_read_file(config, FILE_MAX, &buf, &len) != 0)
		return GW_ERR_IO;
	for (line = (char *)buf; line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '#' || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(trim(line), "database") == 0)
			val = trim(eq + 1);
	}
	if (val != NULL && *val != '\0') {
		util_strlcpy(dir, config, sizeof(dir));
		if ((size_t)snprintf(out, outlen, "%s%s%s", *val == '/' ? "" :
		    dirname(dir), *val == '/' ? "" : "/", val) < outlen)
			r = 0;
		else
			r = GW_ERR_TOO_LARGE;
	}
	free(buf);
	return r;
}

/* The status file, or a zeroed one if it is missing or unreadable. */
static void
read_status(const char *path, struct status *st)
{
	unsigned char *buf = NULL;
	char *line, *next, *v;
	size_t len;

	memset(st, 0, sizeof(*st));
	if (util_read_file(path, FILE_MAX, &buf, &len) != 0)
		return;
	for (line = (char *)buf; line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((v = strchr(line, ' ')) == NULL)
			continue;
		*v++ = '\0';
		if (strcmp(line, "pid") == 0)
			st->pid = strtol(v, NULL, 10);
		else if (strcmp(line, "generation") == 0)
			st->gen = strtoull(v, NULL, 10);
		else if (strcmp(line, "result") == 0)
			util_strlcpy(st->result, v, sizeof(st->result));
		else if (strcmp(line, "digest") == 0)
			util_strlcpy(st->digest, v, sizeof(st->digest));
		else if (strcmp(line, "message") == 0)
			util_strlcpy(st->message, v, sizeof(st->message));
	}
	free(buf);
}

/* The pid in path, if it names a running gatewayd. */
static int
read_pid(const char *path, long *out)
{
	unsigned char *buf = NULL;
	char comm[64] = "", proc[64];
	unsigned long long pid;
	size_t len;
	FILE *f;

	if (util_read_file(path, 64, &buf, &len) != 0) {
		gwctl_err(CMD, "cannot read the pid file %s: %s (is gatewayd "
		    "running?)", path, errno ? strerror(errno) : "too large");
		free(buf);
		return GWCTL_FAIL;
	}
	buf[strcspn((char *)buf, "\n")] = '\0';
	if (gwctl_parse_u64(trim((char *)buf), 2, 4194304, &pid) != 0) {
		gwctl_err(CMD, "the pid file %s does not hold a process id", path);
		free(buf);
		return GWCTL_FAIL;
	}
	free(buf);
	/* A stale pid file may name some other process by now. */
	snprintf(proc, sizeof(proc), "/proc/%llu/comm", pid);
	if ((f = fopen(proc, "r")) != NULL) {
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
		if (strncmp(comm, "gatewayd", 8) != 0) {
			gwctl_err(CMD, "process %llu (from %s) is not gatewayd; the "
			    "pid file is stale", pid, path);
			return GWCTL_FAIL;
		}
	}
	*out = (long)pid;
	return GWCTL_OK;
}

static int
wait_outcome(const char *status, long pid, unsigned long long before,
    unsigned timeout)
{
	struct timespec ts = { 0, 100 * 1000000L };
	struct status st;
	unsigned i;

	for (i = 0; i < timeout * 10; i++) {
		nanosleep(&ts, NULL);
		read_status(status, &st);
		if (st.pid != pid || st.gen <= before)
			continue;
		if (strcmp(st.result, "ok") == 0) {
			printf("reloaded: configuration %s\n", st.digest);
			return fflush(stdout) == 0 ? GWCTL_OK : GWCTL_FAIL;
		}
		gwctl_err(CMD, "refused: %s", st.message);
		return GWCTL_FAIL;
	}
	gwctl_err(CMD, "no outcome from gatewayd (pid %ld) in %s within %u s; "
	    "see its log", pid, status, timeout);
	return GWCTL_FAIL;
}

int
cmd_reload(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid-file", required_argument, NULL, 'p' },
		{ "dev", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *pidfile = NULL, *dev = NULL, *config = NULL;
	char db[PATH_MAX], pidbuf[PATH_MAX], dir[PATH_MAX], status[PATH_MAX + 16];
	unsigned long long timeout = 10;
	struct status st;
	long pid;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': pidfile = optarg; break;
		case 'd': dev = optarg; break;
		case 'c': config = optarg; break;
		case 't':
			if (gwctl_parse_u64(optarg, 1, 3600, &timeout) != 0)
				return gwctl_usage_err(CMD, "--timeout must be 1 to "
				    "3600 seconds");
			break;
		case 'h':
			fputs(reload_help, stdout);
			return GWCTL_OK;
		default:
			return gwctl_bad_option(CMD, argv);
		}
	}
	if (optind != argc)
		return gwctl_usage_err(CMD, "unexpected argument \"%s\"", argv[optind]);
	if (!pidfile && !dev && !config)
		dev = getenv("GWCTL_DEV");
	if (!!pidfile + !!dev + !!config != 1)
		return gwctl_usage_err(CMD, "give one of --pid-file FILE, --dev DIR "
		    "or --config FILE");
	if (dev && (size_t)snprintf(pidbuf, sizeof(pidbuf), "%s/gatewayd.pid",
	    dev) >= sizeof(pidbuf))
		return gwctl_usage_err(CMD, "the --dev path is too long");
	if (config) {
		if ((r = config_database(config, db, sizeof(db))) != 0) {
			gwctl_err(CMD, "cannot find the database key in %s: %s",
			    config, gw_strerror(r));
			return GWCTL_FAIL;
		}
		if ((size_t)snprintf(pidbuf, sizeof(pidbuf), "%s/gatewayd.pid",
		    dirname(db)) >= sizeof(pidbuf))
			return gwctl_usage_err(CMD, "the database path is too long");
	}
	if (pidfile == NULL)
		pidfile = pidbuf;
	util_strlcpy(dir, pidfile, sizeof(dir));
	snprintf(status, sizeof(status), "%s/reload.status", dirname(dir));
	if ((r = read_pid(pidfile, &pid)) != GWCTL_OK)
		return r;
	read_status(status, &st);
	if (kill((pid_t)pid, SIGHUP) != 0) {
		gwctl_err(CMD, "cannot signal gatewayd (pid %ld from %s): %s", pid,
		    pidfile, errno == ESRCH ? "no such process; the pid file is "
		    "stale" : strerror(errno));
		return GWCTL_FAIL;
	}
	return wait_outcome(status, pid, st.pid == pid ? st.gen : 0,
	    (unsigned)timeout);
}
