/* EWS request validation against Microsoft's schema, the way Exchange checks a request before it
 * runs the operation (an invalid one gets the SOAP fault ErrorSchemaValidation): well-formed XML, a
 * SOAP envelope with an optional Header and a Body holding exactly one element, every t: header
 * element validated against its global declaration in types.xsd (other headers ignored unless
 * soap:mustUnderstand), and the body's operation element validated against messages.xsd.
 *
 * The schema is the libxml2-loadable copy in tools/m365sim/schema/libxml2/ (README.md there says
 * where each file comes from and what was changed so that libxml2 compiles it). Its four files are
 * assembled into the binary (ews_schema_data.S); libxml2 reads them through input callbacks that
 * answer the m365sim-builtin: URIs of the entry point ews.xsd and of the files it imports, so no
 * file is read at run time. `m365sim --ews-schema FILE` loads another ews.xsd from disk instead.
 * The schema is compiled once per process and then only read (libxml2 schemas are immutable after
 * parsing and may be shared by validation contexts). Requests are parsed with XML_PARSE_NONET and
 * without entity substitution, and a document type declaration is refused, as .NET's reader in
 * Exchange does. */
#include "tools/m365sim/ews_int.h"

#include "common/util.h"

#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exchange Online accepts these, newer than the schema copy's ExchangeVersionType
 * (tools/m365sim/schema/README.md, "Exchange version"). */
static const char *const newer_online_versions[] = {
    "V2017_01_07", "V2017_04_14", "V2017_07_11", "V2017_10_09", "V2018_01_08",
};
static const char *const schema_versions[] = {
    "Exchange2007",     "Exchange2007_SP1", "Exchange2009", "Exchange2010",
    "Exchange2010_SP1", "Exchange2010_SP2", "Exchange2012", "Exchange2013",
    "Exchange2013_SP1", "Exchange2015",     "Exchange2016", "V2015_10_05",
    "V2016_01_06",      "V2016_04_13",      "V2016_07_13",  "V2016_10_10",
};
#define STAND_IN_VERSION "V2016_10_10"

/* The built-in files (ews_schema_data.S): each runs from its symbol to its _end symbol. */
extern const char m365sim_schema_ews_xsd[], m365sim_schema_ews_xsd_end[];
extern const char m365sim_schema_messages_xsd[], m365sim_schema_messages_xsd_end[];
extern const char m365sim_schema_types_xsd[], m365sim_schema_types_xsd_end[];
extern const char m365sim_schema_xml_namespace_xsd[], m365sim_schema_xml_namespace_xsd_end[];

#define BUILTIN_PREFIX "m365sim-builtin:/ews-schema/"
#define BUILTIN_ENTRY BUILTIN_PREFIX "ews.xsd"

struct builtin_file {
	const char *name;
	const char *start, *end;
};

static const struct builtin_file builtin_files[] = {
    {"ews.xsd", m365sim_schema_ews_xsd, m365sim_schema_ews_xsd_end},
    {"messages.xsd", m365sim_schema_messages_xsd, m365sim_schema_messages_xsd_end},
    {"types.xsd", m365sim_schema_types_xsd, m365sim_schema_types_xsd_end},
    {"xml-namespace.xsd", m365sim_schema_xml_namespace_xsd, m365sim_schema_xml_namespace_xsd_end},
};

/* Compiled once, read-only afterwards. */
struct ews_schema_once {
	pthread_once_t once;
	const char *path; /* --ews-schema FILE, or NULL for the built-in copy */
	xmlSchemaPtr schema;
	char why[768];
};
static struct ews_schema_once loaded = {PTHREAD_ONCE_INIT, NULL, NULL, ""};

void ews_schema_use_file(const char *path)
{
	loaded.path = path;
}

/* ---- libxml2 input callbacks for the built-in files ---- */

struct builtin_reader {
	const char *pos, *end;
};

static const struct builtin_file *builtin_lookup(const char *uri)
{
	if (!uri || strncmp(uri, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) != 0)
		return NULL;
	for (size_t i = 0; i < sizeof builtin_files / sizeof builtin_files[0]; i++)
		if (strcmp(uri + strlen(BUILTIN_PREFIX), builtin_files[i].name) == 0)
			return &builtin_files[i];
	return NULL;
}

static int builtin_match(const char *uri)
{
	/* Every m365sim-builtin: URI is ours, so that a name we lack fails in open (with libxml2's
	 * "failed to load external entity" naming it) instead of falling through to the disk. */
	return uri && strncmp(uri, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) == 0;
}

static void *builtin_open(const char *uri)
{
	const struct builtin_file *f = builtin_lookup(uri);
	if (!f)
		return NULL;
	struct builtin_reader *r = xmalloc(sizeof *r);
	r->pos = f->start;
	r->end = f->end;
	return r;
}

static int builtin_read(void *ctx, char *buffer, int len)
{
	struct builtin_reader *r = ctx;
	size_t left = (size_t)(r->end - r->pos);
	size_t n = len > 0 && (size_t)len < left ? (size_t)len : left;
	memcpy(buffer, r->pos, n);
	r->pos += n;
	return (int)n;
}

static int builtin_close(void *ctx)
{
	free(ctx);
	return 0;
}

/* The first error the schema compiler reports, for the message at start. */
static void first_error(void *ctx, const xmlError *err)
{
	char *why = ctx;
	if (why[0] || !err || !err->message)
		return;
	snprintf(why, 400, "%s%s%s", err->file ? err->file : "", err->file ? ": " : "",
	         err->message);
	size_t len = strlen(why);
	while (len > 0 && (why[len - 1] == '\n' || why[len - 1] == ' '))
		why[--len] = '\0';
}

static void load_once(void)
{
	const char *where = loaded.path ? loaded.path : BUILTIN_ENTRY;
	char detail[400] = "";

	if (loaded.path && access(loaded.path, R_OK) != 0) {
		snprintf(loaded.why, sizeof loaded.why, "cannot read --ews-schema %s", loaded.path);
		return;
	}
	/* Registered last, so libxml2 asks these callbacks first; popped once the schema is built.
	 */
	bool builtin = !loaded.path;
	if (builtin && xmlRegisterInputCallbacks(builtin_match, builtin_open, builtin_read,
	                                         builtin_close) < 0) {
		snprintf(loaded.why, sizeof loaded.why,
		         "cannot register libxml2 input callbacks for the built-in EWS schema");
		return;
	}
	xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(where);
	if (pctx) {
		xmlSchemaSetParserStructuredErrors(pctx, (xmlStructuredErrorFunc)first_error,
		                                   detail);
		loaded.schema = xmlSchemaParse(pctx);
		xmlSchemaFreeParserCtxt(pctx);
	}
	if (builtin)
		xmlPopInputCallbacks();
	if (!loaded.schema)
		snprintf(loaded.why, sizeof loaded.why, "the EWS schema %s%s does not compile%s%s",
		         builtin ? "built into m365sim " : "", where, detail[0] ? ": " : "",
		         detail);
}

int ews_schema_load(char *why, size_t why_size)
{
	pthread_once(&loaded.once, load_once);
	if (loaded.schema)
		return 0;
	if (why)
		snprintf(why, why_size, "%s", loaded.why);
	return -1;
}

int ews_version_rank(const char *version)
{
	if (!version || !*version)
		return 1; /* no header: treated as Exchange2007_SP1-era semantics (UTC for zone-less
		             values) */
	for (size_t i = 0; i < sizeof schema_versions / sizeof schema_versions[0]; i++)
		if (strcmp(version, schema_versions[i]) == 0)
			return (int)i;
	for (size_t i = 0; i < sizeof newer_online_versions / sizeof newer_online_versions[0]; i++)
		if (strcmp(version, newer_online_versions[i]) == 0)
			return 100 + (int)i;
	return -1;
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, list[i]) == 0)
			return true;
	return false;
}

/* libxml2 writes {namespace}name; messages show the t:/m:/soap: prefixes Exchange's faults use. */
static void prettify(char *msg)
{
	static const struct {
		const char *ns, *prefix;
	} map[] = {
	    {"{" EWS_NS_T "}", "t:"}, {"{" EWS_NS_M "}", "m:"}, {"{" EWS_NS_SOAP "}", "soap:"}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		char *p;
		size_t nl = strlen(map[i].ns), pl = strlen(map[i].prefix);
		while ((p = strstr(msg, map[i].ns)) != NULL) {
			memcpy(p, map[i].prefix, pl);
			memmove(p + pl, p + nl, strlen(p + nl) + 1);
		}
	}
	size_t len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
}

static void set_problem(struct ews_problem *p, int line, int column, const char *fmt,
                        const char *arg)
{
	p->line = line;
	p->column = column;
	snprintf(p->message, sizeof p->message, fmt, arg ? arg : "");
}

struct capture {
	struct ews_problem *problem;
	bool seen;
};

static void capture_error(void *ctx, const xmlError *err)
{
	struct capture *cap = ctx;
	if (cap->seen || !err)
		return;
	cap->seen = true;
	cap->problem->line = err->line;
	cap->problem->column = err->int2;
	if (err->node && cap->problem->line == 0)
		cap->problem->line = xmlGetLineNo((xmlNodePtr)err->node);
	snprintf(cap->problem->message, sizeof cap->problem->message, "%s",
	         err->message ? err->message : "invalid");
	prettify(cap->problem->message);
}

/* Validates one element against its global declaration. Returns true when valid. */
static bool validate_element(xmlNodePtr elem, struct ews_problem *problem)
{
	xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(loaded.schema);
	struct capture cap = {problem, false};
	xmlSchemaSetValidStructuredErrors(v, (xmlStructuredErrorFunc)capture_error, &cap);
	int rc = xmlSchemaValidateOneElement(v, elem);
	xmlSchemaFreeValidCtxt(v);
	if (rc != 0 && !cap.seen)
		set_problem(problem, xmlGetLineNo(elem), 0,
		            "Element '%s': failed schema validation.", (const char *)elem->name);
	return rc == 0;
}

static const char *ns_of(xmlNodePtr n)
{
	return n->ns && n->ns->href ? (const char *)n->ns->href : "";
}

static bool must_understand(xmlNodePtr h, const char *soap_ns)
{
	xmlChar *v = xmlGetNsProp(h, BAD_CAST "mustUnderstand", BAD_CAST soap_ns);
	bool yes = v && (strcmp((char *)v, "1") == 0 || strcmp((char *)v, "true") == 0);
	xmlFree(v);
	return yes;
}

/* Validates the RequestServerVersion header; a newer Online value is validated with a stand-in. */
static enum ews_verdict check_version_header(xmlNodePtr h, struct ews_envelope *env,
                                             struct ews_problem *problem)
{
	xmlChar *v = xmlGetProp(h, BAD_CAST "Version");
	if (v) {
		snprintf(env->version, sizeof env->version, "%s", (char *)v);
		bool newer =
		    in_list((char *)v, newer_online_versions,
		            sizeof newer_online_versions / sizeof newer_online_versions[0]);
		bool known = in_list((char *)v, schema_versions,
		                     sizeof schema_versions / sizeof schema_versions[0]);
		xmlFree(v);
		if (newer || !known)
			xmlSetProp(h, BAD_CAST "Version", BAD_CAST STAND_IN_VERSION);
		bool ok = validate_element(h, problem);
		xmlSetProp(h, BAD_CAST "Version", BAD_CAST env->version);
		if (!ok)
			return EWS_INVALID;
		return newer || known ? EWS_VALID : EWS_BAD_VERSION;
	}
	return validate_element(h, problem) ? EWS_VALID : EWS_INVALID;
}

static enum ews_verdict check_headers(xmlNodePtr header, const char *soap_ns,
                                      struct ews_envelope *env, struct ews_problem *problem)
{
	enum ews_verdict verdict = EWS_VALID;
	for (xmlNodePtr h = ews_first_elem(header); h; h = ews_next_elem(h)) {
		if (strcmp(ns_of(h), EWS_NS_T) != 0) {
			if (must_understand(h, soap_ns)) {
				set_problem(
				    problem, xmlGetLineNo(h), 0,
				    "header %s has soap:mustUnderstand but is not an EWS header",
				    (const char *)h->name);
				return EWS_INVALID;
			}
			continue;
		}
		enum ews_verdict r;
		if (strcmp((const char *)h->name, "RequestServerVersion") == 0)
			r = check_version_header(h, env, problem);
		else
			r = validate_element(h, problem) ? EWS_VALID : EWS_INVALID;
		if (r == EWS_INVALID)
			return EWS_INVALID;
		if (r == EWS_BAD_VERSION)
			verdict = EWS_BAD_VERSION;
		if (strcmp((const char *)h->name, "ExchangeImpersonation") == 0 &&
		    !env->impersonation)
			env->impersonation = h;
		else if (strcmp((const char *)h->name, "TimeZoneContext") == 0 && !env->tz_context)
			env->tz_context = h;
	}
	return verdict;
}

static bool has_stray_text(xmlNodePtr body)
{
	for (xmlNodePtr n = body->children; n; n = n->next) {
		if (n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE)
			continue;
		for (const xmlChar *p = n->content; p && *p; p++)
			if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
				return true;
	}
	return false;
}

static enum ews_verdict check_envelope(struct ews_envelope *env, struct ews_problem *problem)
{
	xmlNodePtr root = xmlDocGetRootElement(env->doc);
	const char *ns = root ? ns_of(root) : "";
	if (!root || strcmp((const char *)root->name, "Envelope") != 0 ||
	    (strcmp(ns, EWS_NS_SOAP) != 0 && strcmp(ns, EWS_NS_SOAP12) != 0)) {
		set_problem(problem, root ? xmlGetLineNo(root) : 1, 0,
		            "root element is %s, expected soap:Envelope in namespace "
		            "http://schemas.xmlsoap.org/soap/envelope/",
		            root ? (const char *)root->name : "missing");
		return EWS_MALFORMED;
	}
	xmlNodePtr header = NULL, body = NULL;
	for (xmlNodePtr c = ews_first_elem(root); c; c = ews_next_elem(c)) {
		bool in_soap = strcmp(ns_of(c), ns) == 0;
		if (in_soap && strcmp((const char *)c->name, "Header") == 0 && !header && !body) {
			header = c;
		} else if (in_soap && strcmp((const char *)c->name, "Body") == 0 && !body) {
			body = c;
		} else {
			set_problem(problem, xmlGetLineNo(c), 0,
			            "unexpected element %s in soap:Envelope (expected an optional "
			            "soap:Header, then soap:Body)",
			            (const char *)c->name);
			return EWS_MALFORMED;
		}
	}
	if (!body) {
		set_problem(problem, xmlGetLineNo(root), 0, "soap:Envelope has no soap:Body%s",
		            NULL);
		return EWS_MALFORMED;
	}
	size_t nops = 0;
	for (xmlNodePtr c = ews_first_elem(body); c; c = ews_next_elem(c))
		nops++;
	if (nops != 1 || has_stray_text(body)) {
		set_problem(problem, xmlGetLineNo(body), 0,
		            "soap:Body must contain exactly one EWS operation element%s", NULL);
		return EWS_MALFORMED;
	}
	env->op = ews_first_elem(body);
	enum ews_verdict hv = header ? check_headers(header, ns, env, problem) : EWS_VALID;
	if (hv == EWS_INVALID)
		return hv;
	if (strcmp(ns_of(env->op), EWS_NS_M) != 0) {
		set_problem(problem, xmlGetLineNo(env->op), 0,
		            "the operation element %s must be in namespace "
		            "http://schemas.microsoft.com/exchange/services/2006/messages",
		            (const char *)env->op->name);
		return EWS_INVALID;
	}
	if (!validate_element(env->op, problem))
		return EWS_INVALID;
	return hv;
}

enum ews_verdict ews_parse_request(const char *body, size_t len, struct ews_envelope *env,
                                   struct ews_problem *problem)
{
	memset(env, 0, sizeof *env);
	memset(problem, 0, sizeof *problem);
	if (ews_schema_load(problem->message, sizeof problem->message) != 0)
		return EWS_NO_SCHEMA;
	if (len > INT_MAX) {
		set_problem(problem, 0, 0, "request too large%s", NULL);
		return EWS_MALFORMED;
	}
	xmlParserCtxtPtr pctx = xmlNewParserCtxt();
	if (!pctx)
		abort();
	env->doc = xmlCtxtReadMemory(pctx, body, (int)len, "request.xml", NULL,
	                             XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOERROR |
	                                 XML_PARSE_NOWARNING);
	bool wf = pctx->wellFormed && env->doc;
	if (!wf) {
		xmlErrorPtr err = xmlCtxtGetLastError(pctx);
		struct capture cap = {problem, false};
		if (err)
			capture_error(&cap, err);
		else
			set_problem(problem, 1, 0, "the request is not well-formed XML%s", NULL);
	}
	xmlFreeParserCtxt(pctx);
	if (!wf)
		return EWS_MALFORMED;
	if (env->doc->intSubset || env->doc->extSubset) {
		set_problem(problem, 1, 0,
		            "For security reasons DTD is prohibited in this XML document.%s", NULL);
		return EWS_MALFORMED;
	}
	return check_envelope(env, problem);
}

void ews_envelope_free(struct ews_envelope *env)
{
	if (env->doc)
		xmlFreeDoc(env->doc);
	memset(env, 0, sizeof *env);
}
