/*
 * cmd_verify.c - gwctl verify: the gateway's signature checks, offline, on
 * a file; prints the inspection report.
 *
 * A portal runs it before it submits: the document is parsed as the
 * gateway parses it (xmlparse_safe), the enveloped signature is checked
 * under the algorithm policy (crypto/policy.c, with --policy overrides as
 * a trust profile would set them) and the signer's path under the RFC 5280
 * profile of certs/chain.c with the policy applied to every certificate,
 * at the time given by --at.  With --p7s, FILE is an attachment and the
 * detached CMS signature is checked instead, FILE streamed from disk.
 * Revocation is not checked ("offline"): the report says so
 * (OnlineResult not-checked).
 *
 * The report (urn:gatewayd:inspection:1) goes to stdout whatever the
 * verdict; the exit status is 0 only if every signature is valid, 1
 * otherwise (with one line on stderr saying why), 2 for usage errors.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/tree.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "chain.h"
#include "cms.h"
#include "err.h"
#include "gwctl.h"
#include "inspect.h"
#include "pki.h"
#include "policy.h"
#include "util.h"
#include "xmldsig.h"
#include "xmlparse.h"

#define MAX_TRUST	16

static const char verify_help[] =
    "usage: gwctl verify [--trust FILE]... [--at TIME] [--policy KEY=VALUE]...\n"
    "                    [--p7s SIG] [--lax] [--dev DIR] FILE|-\n\n"
    "Checks the signature of FILE (- for stdin) as the gateway does, offline,\n"
    "and prints the inspection report (urn:gatewayd:inspection:1) on stdout:\n"
    "the enveloped XML signature under the algorithm policy, and the signer's\n"
    "certificate path to the trusted CAs at the verification time.  Nothing\n"
    "is fetched: revocation is reported as not checked.\n\n"
    "Options:\n"
    "  --trust FILE      trusted CA certificates (PEM, one or more; repeatable).\n"
    "                    Default: ca.pem of --dev DIR or $GWCTL_DEV\n"
    "  --dev DIR         the development PKI whose ca.pem to trust\n"
    "  --at TIME         verify as of TIME: ISO 8601 (2026-11-29T12:00:00Z,\n"
    "                    with an offset such as +01:00, or a date) or seconds\n"
    "                    since the epoch.  Default: now\n"
    "  --policy K=V      override the algorithm policy as a trust profile may,\n"
    "                    e.g. allow_rsa2048=yes, min_rsa_bits=3072 (repeatable;\n"
    "                    the keys are in docs/verification.md)\n"
    "  --p7s SIG         FILE is an attachment: check the detached CMS\n"
    "                    signature SIG (.p7s, DER or PEM) over it instead\n"
    "  --lax             certificate paths without the strict RFC 5280 checks\n"
    "  --help            this text\n\n"
    "Exit status: 0 only if every signature is valid, 1 otherwise, 2 for\n"
    "usage errors.\n\n"
    "Example:\n"
    "  gwctl sign --key portal.key --cert portal.pem app.xml > signed.xml\n"
    "  gwctl verify --trust ca.pem signed.xml && gwctl submit signed.xml\n";

enum { OPT_TRUST = 0x200, OPT_AT, OPT_POLICY, OPT_P7S, OPT_LAX, OPT_DEV };

struct verify_opts {
	const char *trust[MAX_TRUST];
	int ntrust;
	const char *dev;
	const char *p7s;
	const char *input;
	time_t at;
	int lax;
	struct crypto_policy pol;
};

/* Two-digit and four-digit fields of an ISO 8601 time. */
static int
digits(const char **s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

/* Zone of an ISO 8601 time: "Z", "+HH:MM", "+HHMM", "-..."; none: UTC. */
static int
zone(const char *s, long *offset)
{
	int h, m, sign;

	*offset = 0;
	if (*s == '\0' || strcmp(s, "Z") == 0 || strcmp(s, "z") == 0)
		return 0;
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if (digits(&s, 2, &h) != 0)
		return -1;
	if (*s == ':')
		s++;
	if (digits(&s, 2, &m) != 0 || *s != '\0' || h > 23 || m > 59)
		return -1;
	*offset = sign * (h * 3600L + m * 60L);
	return 0;
}

/* ISO 8601 (a date, or date and time with optional fraction and zone) or
 * seconds since the epoch. */
static int
parse_time(const char *s, time_t *out)
{
	unsigned long long epoch;
	struct tm tm;
	long offset;
	int y, mo, d, h = 0, mi = 0, se = 0;

	if (gwctl_parse_u64(s, 0, (unsigned long long)INT64_MAX / 2, &epoch) == 0) {
		*out = (time_t)epoch;
		return 0;
	}
	if (digits(&s, 4, &y) != 0 || *s++ != '-' || digits(&s, 2, &mo) != 0 ||
	    *s++ != '-' || digits(&s, 2, &d) != 0)
		return -1;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (digits(&s, 2, &h) != 0 || *s++ != ':' ||
		    digits(&s, 2, &mi) != 0)
			return -1;
		if (*s == ':' && (s++, digits(&s, 2, &se) != 0))
			return -1;
		if (*s == '.' || *s == ',')
			for (s++; isdigit((unsigned char)*s); s++)
				;
	}
	if (zone(s, &offset) != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || se > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = timegm(&tm) - offset;
	return *out <= 0 ? -1 : 0;
}

static int
policy_option(struct crypto_policy *pol, const char *arg)
{
	char key[64], why[200];
	const char *eq = strchr(arg, '=');
	size_t n;

	if (eq == NULL || (n = (size_t)(eq - arg)) == 0 || n >= sizeof(key))
		return gwctl_usage_err("verify", "--policy takes KEY=VALUE, not "
		    "\"%.60s\"", arg);
	memcpy(key, arg, n);
	key[n] = '\0';
	if (policy_set(pol, key, eq + 1, why, sizeof(why)) != 0)
		return gwctl_usage_err("verify", "--policy %s", why);
	return 0;
}

/* Returns 0, -1 after --help, or GWCTL_USAGE. */
static int
verify_options(int argc, char **argv, struct verify_opts *o)
{
	static const struct option longopts[] = {
		{ "trust", required_argument, NULL, OPT_TRUST },
		{ "at", required_argument, NULL, OPT_AT },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "p7s", required_argument, NULL, OPT_P7S },
		{ "lax", no_argument, NULL, OPT_LAX },
		{ "dev", required_argument, NULL, OPT_DEV },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TRUST:
			if (o->ntrust == MAX_TRUST)
				return gwctl_usage_err("verify", "at most %d --trust",
				    MAX_TRUST);
			o->trust[o->ntrust++] = optarg;
			break;
		case OPT_AT:
			if (parse_time(optarg, &o->at) != 0)
				return gwctl_usage_err("verify", "--at: not an ISO "
				    "8601 time or epoch seconds: \"%.60s\"", optarg);
			break;
		case OPT_POLICY:
			if ((r = policy_option(&o->pol, optarg)) != 0)
				return r;
			break;
		case OPT_P7S: o->p7s = optarg; break;
		case OPT_LAX: o->lax = 1; break;
		case OPT_DEV: o->dev = optarg; break;
		case 'h':
			fputs(verify_help, stdout);
			return -1;
		default:
			return gwctl_bad_option("verify", argv);
		}
	}
	if (argc - optind != 1)
		return gwctl_usage_err("verify", "expected one FILE (or - for stdin)");
	o->input = argv[optind];
	if (o->p7s != NULL && strcmp(o->input, "-") == 0)
		return gwctl_usage_err("verify", "with --p7s, FILE must be a file");
	if (o->dev == NULL)
		o->dev = getenv("GWCTL_DEV");
	return 0;
}

static int
add_trust_file(X509_STORE *st, const char *path)
{
	STACK_OF(X509) *certs = NULL;
	int i, ok = 1;

	if (pki_read_certs(path, &certs) != 0) {
		gwctl_err("verify", "cannot read PEM certificates from %s", path);
		return GWCTL_FAIL;
	}
	for (i = 0; i < sk_X509_num(certs); i++)
		ok &= X509_STORE_add_cert(st, sk_X509_value(certs, i)) == 1;
	sk_X509_pop_free(certs, X509_free);
	if (!ok) {
		gwctl_err("verify", "cannot use the certificates of %s", path);
		return GWCTL_FAIL;
	}
	return 0;
}

static int
load_trust(const struct verify_opts *o, X509_STORE **out)
{
	X509_STORE *st;
	char path[PATH_MAX];
	int i, rc = 0;

	if ((st = X509_STORE_new()) == NULL) {
		gwctl_err("verify", "out of memory");
		return GWCTL_FAIL;
	}
	for (i = 0; i < o->ntrust && rc == 0; i++)
		rc = add_trust_file(st, o->trust[i]);
	if (rc == 0 && o->ntrust == 0 && o->dev != NULL && o->dev[0] != '\0') {
		snprintf(path, sizeof(path), "%s/ca.pem", o->dev);
		rc = add_trust_file(st, path);
	} else if (rc == 0 && o->ntrust == 0)
		gwctl_err("verify", "no --trust given: no certificate path can be "
		    "valid");
	if (rc != 0) {
		X509_STORE_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

/* The enveloped signature of the XML document at input. */
static int
verify_xml(const struct verify_opts *o, const struct chain_ctx *ctx,
    struct inspect_report *rep, char *why, size_t whylen)
{
	struct chain_report *path = NULL;
	struct inspect_sig *sig = NULL;
	struct dsig_info info;
	unsigned char *buf = NULL;
	xmlDocPtr doc = NULL;
	size_t len = 0;
	int r;

	r = gwctl_read_input(o->input, xmlparse_default_limits.max_bytes, &buf,
	    &len);
	if (r != 0) {
		snprintf(why, whylen, "cannot read %s: %s", o->input,
		    r == GW_ERR_IO ? strerror(errno) : gw_strerror(r));
		return -1;
	}
	r = xmlparse_safe((const char *)buf, len, &xmlparse_default_limits, &doc);
	free(buf);
	if (r != 0) {
		snprintf(why, whylen, "%s: %s", o->input, gw_strerror(r));
		return -1;
	}
	if ((path = calloc(1, sizeof(*path))) == NULL) {
		xmlFreeDoc(doc);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	r = xmldsig_verify_chain(doc, ctx, o->at, &o->pol, &info, path);
	if (inspect_fill_dsig(rep, &info, r, &sig) == 0)
		(void)inspect_fill_chain(sig, path);
	if (r != 0)
		snprintf(why, whylen, "%s: %s (%s)%s%.100s", o->input,
		    info.result.nreasons ?
		    policy_reason_code(info.result.reasons[0]) : "ERROR",
		    gw_strerror(r), info.chain_error[0] ? ": " : "",
		    info.chain_error);
	X509_free(info.signer);
	free(path);
	xmlFreeDoc(doc);
	return r;
}

/* The detached CMS signature p7s over the attachment at input. */
static int
verify_cms(const struct verify_opts *o, const struct chain_ctx *ctx,
    struct inspect_report *rep, char *why, size_t whylen)
{
	struct chain_report *paths = NULL;
	struct cms_result *res = NULL;
	unsigned char *p7s = NULL;
	const char *name = strrchr(o->input, '/');
	size_t len = 0, first = rep->nsigs, i;
	BIO *data = NULL;
	int r = -1;

	if (util_read_file(o->p7s, CMS_MAX_P7S, &p7s, &len) != 0) {
		snprintf(why, whylen, "cannot read the signature %s", o->p7s);
		return -1;
	}
	if ((data = BIO_new_file(o->input, "rb")) == NULL) {
		snprintf(why, whylen, "cannot open %s", o->input);
		goto out;
	}
	if ((res = calloc(1, sizeof(*res))) == NULL ||
	    (paths = calloc(CMS_MAX_SIGNERS, sizeof(*paths))) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	r = cms_verify_detached_chain(data, p7s, len, ctx, o->at, &o->pol, res,
	    paths);
	if (inspect_fill_cms(rep, res, name ? name + 1 : o->input) == 0)
		for (i = 0; i < res->nsigners && first + i < rep->nsigs; i++)
			(void)inspect_fill_chain(&rep->sigs[first + i], &paths[i]);
	if (r != 0)
		snprintf(why, whylen, "%s: %s", o->p7s, gw_strerror(r));
 out:
	BIO_free(data);
	free(p7s);
	free(res);
	free(paths);
	return r;
}

static int
print_report(const struct inspect_report *rep)
{
	unsigned char *xml = NULL;
	size_t len = 0;
	int r;

	if ((r = inspect_to_xml(rep, &xml, &len)) != 0) {
		gwctl_err("verify", "cannot render the report: %s", gw_strerror(r));
		return GWCTL_FAIL;
	}
	r = gwctl_write_output(NULL, xml, len);
	free(xml);
	if (r != 0) {
		gwctl_err("verify", "cannot write to stdout: %s", strerror(errno));
		return GWCTL_FAIL;
	}
	return 0;
}

int
cmd_verify(int argc, char **argv)
{
	struct verify_opts o;
	struct chain_ctx ctx;
	struct inspect_report *rep = NULL;
	X509_STORE *trust = NULL;
	char why[512] = "";
	int r, rc = GWCTL_FAIL, inited = 0;

	memset(&o, 0, sizeof(o));
	policy_default(&o.pol);
	if ((r = verify_options(argc, argv, &o)) != 0)
		return r < 0 ? GWCTL_OK : r;
	if ((rc = load_trust(&o, &trust)) != 0)
		return rc;
	rc = GWCTL_FAIL;
	if ((r = xmldsig_global_init()) != 0) {
		gwctl_err("verify", "cannot initialise xmlsec: %s", gw_strerror(r));
		goto out;
	}
	inited = 1;
	memset(&ctx, 0, sizeof(ctx));
	ctx.trust = trust;
	ctx.trust_gen = 1;
	ctx.revocation = REV_POLICY_OFF;
	ctx.flags = o.lax ? CHAIN_F_LAX : 0;
	ctx.cert_check = policy_chain_check;
	ctx.cert_check_arg = &o.pol;
	if (inspect_new(o.at, &o.pol, &rep) != 0) {
		gwctl_err("verify", "out of memory");
		goto out;
	}
	r = o.p7s ? verify_cms(&o, &ctx, rep, why, sizeof(why)) :
	    verify_xml(&o, &ctx, rep, why, sizeof(why));
	if (rep->nsigs > 0 && print_report(rep) != 0)
		goto out;
	if (r != 0 || inspect_overall(rep) != INSPECT_VALID) {
		gwctl_err("verify", "%s", why[0] ? why : "not valid");
		goto out;
	}
	rc = GWCTL_OK;
 out:
	inspect_free(rep);
	X509_STORE_free(trust);
	if (inited)
		xmldsig_global_cleanup();
	return rc;
}
