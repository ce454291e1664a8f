/* m365sim Graph view: OData query options — parameters, the $filter and $expand forms on
 * singleValueExtendedProperties that Graph documents, and $select.
 * [doc: GRAPH api/singlevaluelegacyextendedproperty-get] */
#include "graph.h"

#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parameters ---- */

static char *decode_part(const char *s, size_t n)
{
	char *tmp = xstrndup(s, n), *out;

	for (char *p = tmp; *p; p++)
		if (*p == '+')
			*p = ' ';
	out = graph_url_decode(tmp, strlen(tmp));
	free(tmp);
	return out;
}

char *graph_query_get(const char *query, const char *name)
{
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		char *key = decode_part(p, (size_t)((eq ? eq : end) - p));
		bool hit = strcasecmp(key, name) == 0;
		free(key);
		if (hit)
			return eq ? decode_part(eq + 1, (size_t)(end - eq - 1)) : xstrdup("");
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* ---- a tiny tokenizer for the filter expressions ---- */

struct lex {
	const char *p;
	char tok[512]; /* current token; strings without quotes */
	bool is_string;
	bool bad;
};

static bool ident_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '/' || ch == '.' || ch == '_' || ch == '$' ||
	       ch == '@' || ch == '-';
}

static void next(struct lex *l)
{
	size_t n = 0;

	l->is_string = false;
	while (*l->p == ' ')
		l->p++;
	if (!*l->p) {
		l->tok[0] = '\0';
		return;
	}
	if (*l->p == '\'') {
		l->is_string = true;
		for (l->p++;; l->p++) {
			if (!*l->p) {
				l->bad = true;
				break;
			}
			if (*l->p == '\'' && l->p[1] == '\'') {
				l->p++;
			} else if (*l->p == '\'') {
				l->p++;
				break;
			}
			if (n + 1 < sizeof l->tok)
				l->tok[n++] = *l->p;
			else
				l->bad = true;
		}
	} else if (ident_char(*l->p)) {
		while (ident_char(*l->p) && n + 1 < sizeof l->tok)
			l->tok[n++] = *l->p++;
	} else {
		l->tok[n++] = *l->p++;
	}
	l->tok[n] = '\0';
}

static bool is(const struct lex *l, const char *word)
{
	return !l->is_string && strcasecmp(l->tok, word) == 0;
}

static bool expect(struct lex *l, const char *word)
{
	if (!is(l, word)) {
		l->bad = true;
		return false;
	}
	next(l);
	return true;
}

/* "{var}/id eq '...'" or "{var}/value eq '...'" (var may be empty for the $expand form). */
static bool condition(struct lex *l, const char *var, struct graph_prop_match *m)
{
	char field[64];
	const char *f = l->tok;
	size_t vn = strlen(var);

	if (l->is_string)
		return false;
	if (vn) {
		if (strncasecmp(f, var, vn) != 0 || f[vn] != '/')
			return false;
		f += vn + 1;
	}
	snprintf(field, sizeof field, "%s", f);
	next(l);
	if (!expect(l, "eq") || !l->is_string)
		return false;
	if (strcasecmp(field, "id") == 0) {
		if (graph_parse_prop_id(l->tok, m->guid, sizeof m->guid, m->name, sizeof m->name) <
		    0)
			return false;
	} else if (strcasecmp(field, "value") == 0) {
		free(m->value);
		m->value = xstrdup(l->tok);
	} else {
		return false;
	}
	next(l);
	return true;
}

static struct graph_prop_match *add_match(struct graph_filter *f)
{
	f->any = xrealloc(f->any, (f->n + 1) * sizeof *f->any);
	memset(&f->any[f->n], 0, sizeof *f->any);
	return &f->any[f->n++];
}

/* singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...') */
static bool any_clause(struct lex *l, struct graph_filter *f)
{
	char var[64];
	struct graph_prop_match *m;

	if (!is(l, "singleValueExtendedProperties/any"))
		return false;
	next(l);
	if (!expect(l, "("))
		return false;
	snprintf(var, sizeof var, "%s", l->tok);
	next(l);
	if (!expect(l, ":"))
		return false;
	m = add_match(f);
	if (!condition(l, var, m))
		return false;
	while (is(l, "and"))
		if (next(l), !condition(l, var, m))
			return false;
	return m->guid[0] && expect(l, ")");
}

static bool or_expr(struct lex *l, struct graph_filter *f, int depth);

static bool primary(struct lex *l, struct graph_filter *f, int depth)
{
	if (is(l, "(")) {
		next(l);
		return depth < 8 && or_expr(l, f, depth + 1) && expect(l, ")");
	}
	return any_clause(l, f);
}

static bool or_expr(struct lex *l, struct graph_filter *f, int depth)
{
	if (!primary(l, f, depth))
		return false;
	while (is(l, "or")) {
		next(l);
		if (!primary(l, f, depth))
			return false;
	}
	return true;
}

int graph_filter_parse(const char *text, struct graph_filter *f)
{
	struct lex l = {.p = text};

	memset(f, 0, sizeof *f);
	next(&l);
	if (!or_expr(&l, f, 0) || l.bad || l.tok[0]) {
		graph_filter_free(f);
		return -1;
	}
	return 0;
}

bool graph_filter_match(const struct graph_filter *f, const struct sim_item *it)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct sim_extprop *p = graph_item_prop(it, f->any[i].guid, f->any[i].name);
		/* "Filtering the value property of an extended property is case-insensitive." */
		if (p && p->value &&
		    (!f->any[i].value || strcasecmp(p->value, f->any[i].value) == 0))
			return true;
	}
	return false;
}

void graph_filter_free(struct graph_filter *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->any[i].value);
	free(f->any);
	f->any = NULL;
	f->n = 0;
}

/* singleValueExtendedProperties($filter=id eq '...' [or id eq '...']) */
int graph_expand_parse(const char *text, struct graph_filter *f)
{
	struct lex l = {.p = text};

	memset(f, 0, sizeof *f);
	next(&l);
	if (!is(&l, "singleValueExtendedProperties"))
		return -1;
	next(&l);
	if (!l.tok[0])
		return 0;
	if (!expect(&l, "(") || !expect(&l, "$filter") || !expect(&l, "="))
		goto bad;
	do {
		if (!condition(&l, "", add_match(f)) || !f->any[f->n - 1].guid[0])
			goto bad;
	} while (is(&l, "or") && (next(&l), true));
	if (!expect(&l, ")") || l.tok[0] || l.bad)
		goto bad;
	return 0;
bad:
	graph_filter_free(f);
	return -1;
}

/* ---- $select ---- */

static const char *const event_properties[] = {"id",
                                               "createdDateTime",
                                               "lastModifiedDateTime",
                                               "changeKey",
                                               "categories",
                                               "transactionId",
                                               "originalStartTimeZone",
                                               "originalEndTimeZone",
                                               "iCalUId",
                                               "reminderMinutesBeforeStart",
                                               "isReminderOn",
                                               "hasAttachments",
                                               "subject",
                                               "bodyPreview",
                                               "importance",
                                               "sensitivity",
                                               "isAllDay",
                                               "isCancelled",
                                               "isOrganizer",
                                               "responseRequested",
                                               "seriesMasterId",
                                               "showAs",
                                               "type",
                                               "webLink",
                                               "body",
                                               "start",
                                               "end",
                                               "location",
                                               "locations",
                                               "recurrence",
                                               "attendees",
                                               "organizer",
                                               "onlineMeetingUrl",
                                               "isOnlineMeeting",
                                               "onlineMeetingProvider",
                                               "allowNewTimeProposals",
                                               "isDraft",
                                               "hideAttendees",
                                               "responseStatus",
                                               "onlineMeeting",
                                               "singleValueExtendedProperties",
                                               NULL};

static bool known_property(const char *name)
{
	for (size_t i = 0; event_properties[i]; i++)
		if (strcasecmp(event_properties[i], name) == 0)
			return true;
	return false;
}

/* Calls fn for each trimmed name of a comma-separated list; stops at the first false. */
static int each_name(const char *select, bool (*fn)(const char *name, void *ctx), void *ctx,
                     char *bad, size_t badsz)
{
	char *copy = xstrdup(select), *save = NULL;
	int rc = 0;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t n = strlen(tok);
		while (n && tok[n - 1] == ' ')
			tok[--n] = '\0';
		if (!fn(tok, ctx)) {
			snprintf(bad, badsz, "%s", tok);
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}

static bool check_one(const char *name, void *ctx)
{
	(void)ctx;
	return known_property(name);
}

int graph_select_check(const char *select, char *bad, size_t badsz)
{
	return each_name(select, check_one, NULL, bad, badsz);
}

static bool keep_one(const char *name, void *ctx)
{
	json_t *keep = ctx;

	json_object_set_new(keep, name, json_true());
	return true;
}

int graph_select_apply(json_t *event, const char *select, char *bad, size_t badsz)
{
	json_t *keep = json_object(), *v;
	const char *key;
	void *tmp;

	if (each_name(select, keep_one, keep, bad, badsz) < 0) {
		json_decref(keep);
		return -1;
	}
	json_object_foreach_safe(event, tmp, key, v)
	{
		bool wanted = key[0] == '@' || strcmp(key, "id") == 0 ||
		              strcmp(key, "singleValueExtendedProperties") == 0;
		const char *k2;
		json_t *x;
		json_object_foreach(keep, k2, x)
		{
			if (strcasecmp(k2, key) == 0)
				wanted = true;
		}
		if (!wanted)
			json_object_del(event, key);
	}
	json_decref(keep);
	return 0;
}
