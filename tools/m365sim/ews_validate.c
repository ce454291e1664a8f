/* m365sim --validate-ews: the simulator's request validation as a command, for tests and for anyone
 * checking requests without a server. Each file goes through ews_parse_request, exactly as a
 * request POSTed to /EWS/Exchange.asmx does, so a file is valid here if and only if the simulator
 * would accept it (the verdict a live request gets also depends on its token and mailbox, never on
 * anything this checks). Output, one verdict per file:
 *
 *   OK  FILE: m:CreateItem (headers: t:RequestServerVersion, t:ExchangeImpersonation)
 *   INVALID  FILE: m:CreateItem
 *       line 29, column 0: Element 't:Sensitivity': This element is not expected. ...
 *
 * Like Exchange, only the first problem is reported (libxml2 stops at the first error of a
 * content model). --json prints one object per line instead: file, valid, verdict (valid,
 * malformed, invalid, bad_version), operation, headers and problems (line, column, message). */
#include "tools/m365sim/ews_int.h"

#include "common/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads at most max_bytes (+1 to detect more). Returns 0, or -1 with why set. */
static int read_request(const char *path, size_t max_bytes, char **out, size_t *len, char *why,
                        size_t why_size)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 65536, n = 0;
	char *data = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap > max_bytes)
				break;
			cap *= 2;
			data = xrealloc(data, cap + 1);
		}
		size_t r = fread(data + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int failed = ferror(f);
	if (f != stdin)
		fclose(f);
	if (failed) {
		snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno ? errno : EIO));
		free(data);
		return -1;
	}
	if (n > max_bytes) {
		snprintf(why, why_size,
		         "%s is larger than the %zu bytes m365sim accepts in a request", path,
		         max_bytes);
		free(data);
		return -1;
	}
	data[n] = '\0';
	*out = data;
	*len = n;
	return 0;
}

static const char *verdict_name(enum ews_verdict v)
{
	switch (v) {
	case EWS_VALID:
		return "valid";
	case EWS_MALFORMED:
		return "malformed";
	case EWS_INVALID:
		return "invalid";
	case EWS_BAD_VERSION:
		return "bad_version";
	case EWS_NO_SCHEMA:
		break;
	}
	return "no_schema";
}

/* The envelope's EWS headers ("t:RequestServerVersion", ...), appended to list. */
static void header_names(const struct ews_envelope *env, json_t *list)
{
	xmlNodePtr root = env->doc ? xmlDocGetRootElement(env->doc) : NULL;
	for (xmlNodePtr h = root ? ews_first_elem(root) : NULL; h; h = ews_next_elem(h)) {
		if (strcmp((const char *)h->name, "Header") != 0)
			continue;
		for (xmlNodePtr e = ews_first_elem(h); e; e = ews_next_elem(e))
			if (e->ns && e->ns->href &&
			    strcmp((const char *)e->ns->href, EWS_NS_T) == 0) {
				char name[160];
				snprintf(name, sizeof name, "t:%s", (const char *)e->name);
				json_array_append_new(list, json_string(name));
			}
		break;
	}
}

static void print_text(const char *label, enum ews_verdict v, const struct ews_envelope *env,
                       json_t *headers, const struct ews_problem *problem, bool quiet)
{
	const char *op = env->op ? (const char *)env->op->name : NULL;
	if (v == EWS_VALID) {
		if (quiet)
			return;
		printf("OK  %s: m:%s (headers: ", label, op ? op : "?");
		if (json_array_size(headers) == 0)
			fputs("none", stdout);
		for (size_t i = 0; i < json_array_size(headers); i++)
			printf("%s%s", i ? ", " : "",
			       json_string_value(json_array_get(headers, i)));
		puts(")");
		return;
	}
	printf("INVALID  %s%s%s\n", label, op ? ": m:" : "", op ? op : "");
	if (v == EWS_BAD_VERSION)
		printf(
		    "    header t:RequestServerVersion: Version \"%s\" is not a version Exchange "
		    "accepts (the server answers the fault ErrorInvalidRequest)\n",
		    env->version);
	else
		printf("    line %d, column %d: %s\n", problem->line, problem->column,
		       problem->message);
}

static void print_json(const char *label, enum ews_verdict v, const struct ews_envelope *env,
                       json_t *headers, const struct ews_problem *problem)
{
	json_t *problems = json_array();
	if (v == EWS_BAD_VERSION)
		json_array_append_new(problems,
		                      json_pack("{s:i,s:i,s:s++}", "line", problem->line, "column",
		                                problem->column, "message",
		                                "RequestServerVersion Version \"", env->version,
		                                "\" is not a version Exchange accepts"));
	else if (v != EWS_VALID)
		json_array_append_new(problems,
		                      json_pack("{s:i,s:i,s:s}", "line", problem->line, "column",
		                                problem->column, "message", problem->message));
	json_t *o = json_pack("{s:s,s:b,s:s,s:s?,s:O,s:o}", "file", label, "valid", v == EWS_VALID,
	                      "verdict", verdict_name(v), "operation",
	                      env->op ? (const char *)env->op->name : NULL, "headers", headers,
	                      "problems", problems);
	char *text = json_dumps(o, JSON_COMPACT);
	puts(text);
	free(text);
	json_decref(o);
}

int ews_validate_files(char *const *files, int nfiles, bool quiet, bool json, size_t max_bytes)
{
	char why[1024];
	int status = 0;

	if (ews_schema_load(why, sizeof why) != 0) {
		fprintf(stderr, "m365sim: EWS schema: %s\n", why);
		return 2;
	}
	for (int i = 0; i < nfiles; i++) {
		const char *label = strcmp(files[i], "-") == 0 ? "<stdin>" : files[i];
		char *data = NULL;
		size_t len = 0;
		if (read_request(files[i], max_bytes, &data, &len, why, sizeof why) != 0) {
			fprintf(stderr, "m365sim: %s\n", why);
			status = 2;
			continue;
		}
		struct ews_envelope env;
		struct ews_problem problem;
		enum ews_verdict v = ews_parse_request(data, len, &env, &problem);
		json_t *headers = json_array();
		header_names(&env, headers);
		if (json)
			print_json(label, v, &env, headers, &problem);
		else
			print_text(label, v, &env, headers, &problem, quiet);
		if (v != EWS_VALID && status == 0)
			status = 1;
		json_decref(headers);
		ews_envelope_free(&env);
		free(data);
	}
	fflush(stdout);
	return status;
}
