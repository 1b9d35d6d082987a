/*
 * cmd_sample.c - gwctl sample: an unsigned submission to try things with.
 *
 * The document follows gateway/schemas/submission.xsd (namespace
 * urn:gatewayd:submission:1) except for the ds:Signature that gwctl sign
 * adds.  It is built with libxml2's tree API, so whatever the user passes
 * (--subject "<&>") ends up escaped, never pasted into markup; values are
 * also checked against the schema's types so that a typo fails here rather
 * than at the gateway.  --attach lists files in <Attachments> after
 * Content (docs/attachments.md section 1; attlist.c hashes them).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xmlstring.h>

#include "err.h"
#include "gwctl.h"
#include "util.h"

#define NS_SUBMISSION	"urn:gatewayd:submission:1"
#define NS_ANTRAG	"urn:example:antrag"
#define MAX_READERS	16	/* Destinations/Reader maxOccurs */

static const char sample_help[] =
    "usage: gwctl sample --to AUTHORITY [--to ...] [OPTIONS]\n\n"
    "Prints an unsigned sample submission (a small housing benefit\n"
    "application, Wohngeldantrag, as content) for gwctl sign.\n\n"
    "Options:\n"
    "  --to ID          a reader authority (1 to 16; required)\n"
    "  --from ID        the sending portal (default portal-1)\n"
    "  --id ID          the MessageID (default: random)\n"
    "  --service URI    the service (default urn:gatewayd:service:example)\n"
    "  --scenario S     the business scenario (default example)\n"
    "  --subject TEXT   the subject (default: Antrag auf Wohngeld (Beispiel))\n"
    "  --attach FILE[;type=TYPE]\n"
    "                   list FILE as an attachment (up to 64, in order: Ids\n"
    "                   att-1, att-2, ...): its name, type (TYPE, or guessed\n"
    "                   from the extension), size and SHA-256; send the files\n"
    "                   with gwctl submit --attach after signing\n"
    "  --help           this text\n";

struct sample {
	const char *to[MAX_READERS];
	size_t nto;
	const char *from, *id, *service, *scenario, *subject;
	char idbuf[48];
	const char *attach[GWCTL_MAX_ATTACH];
	size_t nattach;
	struct gwctl_attlist atts;
};

/* PartyId of the schema: 1-63 of [A-Za-z0-9._:-]. */
static int
party_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._:-", *s) == NULL)
			return 0;
	return 1;
}

/* Token256 of the schema: 1-255 of [A-Za-z0-9._:@/+=-]. */
static int
token_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._:@/+=-", *s) == NULL)
			return 0;
	return 1;
}

/* A URI as far as we care: printable ASCII without spaces, with a scheme. */
static int
uri_ok(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (n == 0 || n > 1024 || !isalpha((unsigned char)s[0]) ||
	    strchr(s, ':') == NULL)
		return 0;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

/* UTF-8, at most 500 characters, no control characters but tab and LF. */
static int
subject_ok(const char *s)
{
	const char *p;

	if (xmlCheckUTF8((const xmlChar *)s) == 0 ||
	    xmlUTF8Strlen((const xmlChar *)s) > 500)
		return 0;
	for (p = s; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n') ||
		    *p == 0x7f)
			return 0;
	return 1;
}

static int
sample_options(int argc, char **argv, struct sample *sm)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "id", required_argument, NULL, 'i' },
		{ "service", required_argument, NULL, 's' },
		{ "scenario", required_argument, NULL, 'c' },
		{ "subject", required_argument, NULL, 'j' },
		{ "attach", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (sm->nto == MAX_READERS)
				return gwctl_usage_err("sample", "at most %d --to",
				    MAX_READERS);
			sm->to[sm->nto++] = optarg;
			break;
		case 'f': sm->from = optarg; break;
		case 'i': sm->id = optarg; break;
		case 's': sm->service = optarg; break;
		case 'c': sm->scenario = optarg; break;
		case 'j': sm->subject = optarg; break;
		case 'a':
			if (sm->nattach == GWCTL_MAX_ATTACH)
				return gwctl_usage_err("sample", "at most %d --attach",
				    GWCTL_MAX_ATTACH);
			sm->attach[sm->nattach++] = optarg;
			break;
		case 'h':
			fputs(sample_help, stdout);
			return -1;
		default:
			return gwctl_bad_option("sample", argv);
		}
	}
	if (optind != argc)
		return gwctl_usage_err("sample", "unexpected argument \"%s\"",
		    argv[optind]);
	return 0;
}

static int
sample_check(const struct sample *sm)
{
	size_t i;

	if (sm->nto == 0)
		return gwctl_usage_err("sample", "at least one --to AUTHORITY is "
		    "required");
	for (i = 0; i < sm->nto; i++)
		if (!party_id_ok(sm->to[i]))
			return gwctl_usage_err("sample", "--to \"%s\" is not a party "
			    "id (1-63 of A-Z a-z 0-9 . _ : -)", sm->to[i]);
	if (!party_id_ok(sm->from))
		return gwctl_usage_err("sample", "--from \"%s\" is not a party id "
		    "(1-63 of A-Z a-z 0-9 . _ : -)", sm->from);
	if (!token_ok(sm->id))
		return gwctl_usage_err("sample", "--id must be 1-255 of "
		    "A-Z a-z 0-9 . _ : @ / + = -");
	if (!token_ok(sm->scenario))
		return gwctl_usage_err("sample", "--scenario must be 1-255 of "
		    "A-Z a-z 0-9 . _ : @ / + = -");
	if (!uri_ok(sm->service))
		return gwctl_usage_err("sample", "--service must be an absolute "
		    "URI without spaces");
	if (!subject_ok(sm->subject))
		return gwctl_usage_err("sample", "--subject must be UTF-8 text of "
		    "at most 500 characters without control characters");
	return 0;
}

/* <Name><Identifier type="gatewayd">id</Identifier></Name> under parent. */
static xmlNodePtr
party(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *id)
{
	xmlNodePtr p, ident;

	if ((p = xmlNewChild(parent, ns, (const xmlChar *)name, NULL)) == NULL ||
	    (ident = xmlNewTextChild(p, ns, (const xmlChar *)"Identifier",
	    (const xmlChar *)id)) == NULL ||
	    xmlNewProp(ident, (const xmlChar *)"type",
	    (const xmlChar *)"gatewayd") == NULL)
		return NULL;
	return p;
}

static xmlNodePtr
text(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *value)
{
	return xmlNewTextChild(parent, ns, (const xmlChar *)name,
	    (const xmlChar *)value);
}

/* The application: content in a namespace of its own (##other). */
static int
add_content(xmlNodePtr content)
{
	xmlNodePtr app, n, addr;
	xmlNsPtr ns;

	if ((app = xmlNewChild(content, NULL, (const xmlChar *)"Wohngeldantrag",
	    NULL)) == NULL ||
	    (ns = xmlNewNs(app, (const xmlChar *)NS_ANTRAG, NULL)) == NULL)
		return GW_ERR_NOMEM;
	xmlSetNs(app, ns);
	if ((n = xmlNewChild(app, ns, (const xmlChar *)"Antragsteller", NULL)) == NULL ||
	    text(n, ns, "Vorname", "Erika") == NULL ||
	    text(n, ns, "Familienname", "Mustermann") == NULL ||
	    text(n, ns, "Geburtsdatum", "1964-08-12") == NULL ||
	    (addr = xmlNewChild(n, ns, (const xmlChar *)"Anschrift", NULL)) == NULL ||
	    text(addr, ns, "Strasse", "Heidestra\xc3\x9f" "e 17") == NULL ||
	    text(addr, ns, "PLZ", "51147") == NULL ||
	    text(addr, ns, "Ort", "K\xc3\xb6ln") == NULL)
		return GW_ERR_NOMEM;
	if ((n = xmlNewChild(app, ns, (const xmlChar *)"Haushalt", NULL)) == NULL ||
	    text(n, ns, "Personen", "2") == NULL ||
	    text(n, ns, "MonatlichesBruttoeinkommen", "2150.00") == NULL)
		return GW_ERR_NOMEM;
	if ((n = xmlNewChild(app, ns, (const xmlChar *)"Wohnung", NULL)) == NULL ||
	    text(n, ns, "Wohnflaeche", "68") == NULL ||
	    text(n, ns, "Bruttokaltmiete", "780.00") == NULL ||
	    text(n, ns, "Heizkosten", "95.00") == NULL)
		return GW_ERR_NOMEM;
	if (text(app, ns, "Antragsart", "Erstantrag") == NULL ||
	    text(app, ns, "Bewilligungszeitraumbeginn", "2027-01-01") == NULL)
		return GW_ERR_NOMEM;
	return 0;
}

static int
build(const struct sample *sm, xmlDocPtr *out)
{
	xmlDocPtr doc;
	xmlNodePtr root, md, n;
	xmlNsPtr ns;
	size_t i;
	int r = GW_ERR_NOMEM;

	if ((doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL)
		return GW_ERR_NOMEM;
	if ((root = xmlNewNode(NULL, (const xmlChar *)"Submission")) == NULL)
		goto out;
	xmlDocSetRootElement(doc, root);
	if ((ns = xmlNewNs(root, (const xmlChar *)NS_SUBMISSION, NULL)) == NULL)
		goto out;
	xmlSetNs(root, ns);
	if (xmlNewProp(root, (const xmlChar *)"version", (const xmlChar *)"1") == NULL ||
	    (md = xmlNewChild(root, ns, (const xmlChar *)"MessageMetaData", NULL)) == NULL ||
	    (n = xmlNewChild(md, ns, (const xmlChar *)"Originators", NULL)) == NULL ||
	    party(n, ns, "Sender", sm->from) == NULL ||
	    (n = xmlNewChild(md, ns, (const xmlChar *)"Destinations", NULL)) == NULL)
		goto out;
	for (i = 0; i < sm->nto; i++)
		if (party(n, ns, "Reader", sm->to[i]) == NULL)
			goto out;
	if ((n = xmlNewChild(md, ns, (const xmlChar *)"MsgIdentification", NULL)) == NULL ||
	    text(n, ns, "MessageID", sm->id) == NULL ||
	    (n = xmlNewChild(md, ns, (const xmlChar *)"Qualifier", NULL)) == NULL ||
	    text(n, ns, "Subject", sm->subject) == NULL ||
	    text(n, ns, "Service", sm->service) == NULL ||
	    text(n, ns, "BusinessScenario", sm->scenario) == NULL ||
	    (n = xmlNewChild(root, ns, (const xmlChar *)"Content", NULL)) == NULL)
		goto out;
	if ((r = add_content(n)) != 0)
		goto out;
	if (sm->atts.n > 0 && (r = attlist_insert(&sm->atts, n)) != 0)
		goto out;
	*out = doc;
	doc = NULL;
	r = 0;
 out:
	xmlFreeDoc(doc);
	return r;
}

int
cmd_sample(int argc, char **argv)
{
	struct sample sm;
	xmlDocPtr doc = NULL;
	xmlChar *buf = NULL;
	size_t i;
	int r, len = 0, rc = GWCTL_FAIL;

	memset(&sm, 0, sizeof(sm));
	sm.from = "portal-1";
	sm.service = "urn:gatewayd:service:example";
	sm.scenario = "example";
	sm.subject = "Antrag auf Wohngeld (Beispiel)";
	if ((r = sample_options(argc, argv, &sm)) != 0)
		return r < 0 ? GWCTL_OK : r;	/* -1: --help printed */
	if (sm.id == NULL) {
		char rnd[40];

		util_new_id(rnd);	/* "gw-" + 32 hex: keep the randomness */
		snprintf(sm.idbuf, sizeof(sm.idbuf), "msg-%s", rnd + 3);
		sm.id = sm.idbuf;
	}
	if ((r = sample_check(&sm)) != 0)
		return r;
	for (i = 0; i < sm.nattach; i++)
		if (attlist_add_file("sample", &sm.atts, sm.attach[i]) != 0)
			return GWCTL_FAIL;
	if ((r = build(&sm, &doc)) != 0) {
		gwctl_err("sample", "cannot build the document: %s", gw_strerror(r));
		goto out;
	}
	xmlDocDumpFormatMemoryEnc(doc, &buf, &len, "UTF-8", 1);
	if (buf == NULL || len <= 0) {
		gwctl_err("sample", "cannot serialise the document");
		goto out;
	}
	if (gwctl_write_output(NULL, buf, (size_t)len) != 0) {
		gwctl_err("sample", "cannot write to stdout");
		goto out;
	}
	rc = GWCTL_OK;
 out:
	xmlFree(buf);
	xmlFreeDoc(doc);
	return rc;
}
