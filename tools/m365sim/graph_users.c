/* m365sim Graph view: the user resource, as far as a calendar client needs it. GET /me, GET
 * /users/{id | userPrincipalName} (exactly those keys: never an e-mail address [doc: api/user-get,
 * microsoftgraph/microsoft-graph-docs#3979]) and GET /users?$filter=... with the clauses the
 * directory accepts on mail, userPrincipalName and proxyAddresses [doc: includes/
 * filter-directory-objects.md], joined by `or`. Anything else in $filter is refused the way Graph
 * refuses an unsupported clause (Request_UnsupportedQuery). Permissions [doc:
 * permissions-reference]: app-only User.Read.All, User.ReadBasic.All or Directory.Read.All;
 * delegated /me with User.Read or User.ReadWrite (or those), other users with User.ReadBasic.All,
 * User.Read.All or Directory.Read.All; otherwise 403 Authorization_RequestDenied "Insufficient
 * privileges to complete the operation." (the recorded body in
 * samples/graph/graph-batch-response-mixed.json). */
#include "graph.h"

#include "common/buf.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CLAUSES 16

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && (p = strcasestr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

static bool may_read_users(const struct graph_ctx *c, bool self)
{
	const char *granted = c->app_only ? c->claims.roles : c->claims.scp;

	if (!c->app_only && self &&
	    (has_word(granted, "User.Read") || has_word(granted, "User.ReadWrite")))
		return true;
	return has_word(granted, "User.Read.All") || has_word(granted, "User.ReadBasic.All") ||
	       has_word(granted, "Directory.Read.All");
}

static json_t *proxy_addresses(const struct sim_user *u)
{
	json_t *a = json_array();
	struct buf b = BUF_INIT;

	buf_printf(&b, "SMTP:%s", u->mail);
	json_array_append_new(a, json_string(b.data));
	for (size_t i = 0; u->aliases && u->aliases[i]; i++) {
		buf_reset(&b);
		buf_printf(&b, "smtp:%s", u->aliases[i]);
		json_array_append_new(a, json_string(b.data));
	}
	buf_free(&b);
	return a;
}

/* The user object with Graph's default properties, or those of $select (proxyAddresses is only
 * returned when selected). */
static json_t *user_json(const struct sim_user *u, const char *select)
{
	json_t *o = json_object();
	bool all = !select || !*select;

	json_object_set_new(o, "id", json_string(u->object_id));
	if (all || strstr(select, "displayName"))
		json_object_set_new(o, "displayName", json_string(u->display_name));
	if (all || strstr(select, "mail"))
		json_object_set_new(o, "mail", json_string(u->mail));
	if (all || strstr(select, "userPrincipalName"))
		json_object_set_new(o, "userPrincipalName", json_string(u->upn));
	if (select && strstr(select, "proxyAddresses"))
		json_object_set_new(o, "proxyAddresses", proxy_addresses(u));
	return o;
}

/* ---- $filter: clause [or clause]... ---- */

struct clause {
	char prop[32]; /* mail | userPrincipalName | proxyAddresses */
	char value[320];
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

static const char *word(const char *p, const char *w)
{
	size_t n = strlen(w);

	return strncasecmp(p, w, n) == 0 ? p + n : NULL;
}

/* An OData string literal at p ('' is a quote); returns the text after it. */
static const char *literal(const char *p, char *out, size_t outsz)
{
	size_t n = 0;

	if (*p != '\'')
		return NULL;
	for (p++; *p; p++) {
		if (*p == '\'' && p[1] == '\'')
			p++;
		else if (*p == '\'')
			break;
		if (n + 1 >= outsz)
			return NULL;
		out[n++] = *p;
	}
	out[n] = '\0';
	return *p == '\'' ? p + 1 : NULL;
}

/* "mail eq 'x'" | "userPrincipalName eq 'x'" | "proxyAddresses/any(v:v eq 'x')". NULL when the
 * clause is not one of those; *bad names the property. */
static const char *parse_clause(const char *p, struct clause *cl, char *bad, size_t badsz)
{
	const char *q, *name = p;
	char var[32];
	size_t n = 0;

	p = skip_ws(p);
	name = p;
	while (isalnum((unsigned char)p[n]))
		n++;
	snprintf(bad, badsz, "%.*s", (int)(n < 31 ? n : 31), name);
	if ((q = word(p, "proxyAddresses/any(")) != NULL) {
		q = skip_ws(q);
		for (n = 0; isalpha((unsigned char)q[n]) && n + 1 < sizeof var; n++)
			var[n] = q[n];
		var[n] = '\0';
		q = skip_ws(q + n);
		if (n == 0 || *q != ':')
			return NULL;
		q = skip_ws(q + 1);
		if (!(q = word(q, var)) || !(q = word(skip_ws(q), "eq ")))
			return NULL;
		q = literal(skip_ws(q), cl->value, sizeof cl->value);
		q = q ? skip_ws(q) : NULL;
		if (!q || *q != ')')
			return NULL;
		snprintf(cl->prop, sizeof cl->prop, "proxyAddresses");
		return q + 1;
	}
	if ((q = word(p, "mail ")) != NULL)
		snprintf(cl->prop, sizeof cl->prop, "mail");
	else if ((q = word(p, "userPrincipalName ")) != NULL)
		snprintf(cl->prop, sizeof cl->prop, "userPrincipalName");
	else
		return NULL;
	if (!(q = word(skip_ws(q), "eq ")))
		return NULL;
	return literal(skip_ws(q), cl->value, sizeof cl->value);
}

static int parse_filter(const char *f, struct clause *cl, size_t *n, char *bad, size_t badsz)
{
	const char *p = f;

	*n = 0;
	for (;;) {
		if (*n == MAX_CLAUSES || !(p = parse_clause(p, &cl[*n], bad, badsz)))
			return -1;
		(*n)++;
		p = skip_ws(p);
		if (!*p)
			return 0;
		if (!(p = word(p, "or ")))
			return -1;
	}
}

static bool matches(const struct sim_user *u, const struct clause *cl)
{
	/* a user "without a mailbox" keeps its addresses (unlicensed, or hosted on-premises): the
	 * calendar then answers MailboxNotEnabledForRESTAPI */
	if (strcmp(cl->prop, "mail") == 0)
		return strcasecmp(u->mail, cl->value) == 0;
	if (strcmp(cl->prop, "userPrincipalName") == 0)
		return strcasecmp(u->upn, cl->value) == 0;
	/* proxyAddresses values carry their type: "smtp:" (case-insensitive) */
	if (strncasecmp(cl->value, "smtp:", 5) != 0)
		return false;
	if (strcasecmp(u->mail, cl->value + 5) == 0)
		return true;
	for (size_t i = 0; u->aliases && u->aliases[i]; i++)
		if (strcasecmp(u->aliases[i], cl->value + 5) == 0)
			return true;
	return false;
}

static void list_users(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out)
{
	char *filter = graph_query_get(r->query, "$filter");
	char *select = graph_query_get(r->query, "$select");
	char *count = graph_query_get(r->query, "$count");
	struct clause cl[MAX_CLAUSES];
	char bad[32], msg[256], ctx[512];
	size_t n = 0, found = 0;
	json_t *value, *body;

	/* $count on directory objects needs ConsistencyLevel: eventual, in a $batch sub-request's
	 * headers as well: "$count is not currently supported." otherwise
	 * [doc: aad-advanced-queries; microsoftgraph/microsoft-graph-docs#13226, #15067] */
	if (count && strcasecmp(count, "true") == 0 &&
	    !(graph_header(r, "consistencylevel") &&
	      strcasecmp(graph_header(r, "consistencylevel"), "eventual") == 0)) {
		graph_error(c, r, out, 400, "Request_BadRequest",
		            "$count is not currently supported.");
		goto out;
	}
	if (filter && parse_filter(filter, cl, &n, bad, sizeof bad) < 0) {
		snprintf(
		    msg, sizeof msg,
		    "Unsupported or invalid query filter clause specified for property '%s' of "
		    "resource 'User'.",
		    bad);
		graph_error(c, r, out, 400, "Request_UnsupportedQuery", msg);
		goto out;
	}
	value = json_array();
	for (size_t i = 0; i < sim_user_count(c->s); i++) {
		const struct sim_user *u = sim_user_at(c->s, i);
		bool hit = !filter;

		if (strcasecmp(u->tenant_id, c->claims.tid) != 0)
			continue;
		for (size_t k = 0; k < n && !hit; k++)
			hit = matches(u, &cl[k]);
		if (hit) {
			json_array_append_new(value, user_json(u, select));
			found++;
		}
	}
	snprintf(ctx, sizeof ctx, "%s/v1.0/$metadata#users", c->base_url);
	body = json_pack("{s:s}", "@odata.context", ctx);
	if (count && strcasecmp(count, "true") == 0)
		json_object_set_new(body, "@odata.count", json_integer((json_int_t)found));
	json_object_set_new(body, "value", value);
	graph_reply_json(out, 200, body);
out:
	free(filter);
	free(select);
	free(count);
}

bool graph_users(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out)
{
	const char *p = r->path;
	char *select;
	const struct sim_user *u = NULL;
	bool me = strcasecmp(p, "/me") == 0, list = strcasecmp(p, "/users") == 0;
	char key[320] = "me";

	if (!me && !list) {
		const char *k = strncasecmp(p, "/users/", 7) == 0 ? p + 7 : NULL;

		if (!k || !*k || strchr(k, '/'))
			return false; /* not the user itself: a calendar resource */
		snprintf(key, sizeof key, "%s", k);
	}
	sim_count(c->s, me ? "graph.GET me" : list ? "graph.GET users" : "graph.GET user");
	if (strcmp(r->method, "GET") != 0) {
		graph_error(c, r, out, 405, "Request_BadRequest",
		            "Specified HTTP method is not allowed for the request target.");
		return true;
	}
	if (me && (c->app_only || !c->caller)) {
		graph_error(c, r, out, 400, "BadRequest",
		            "/me request is only valid with delegated authentication flow.");
		return true;
	}
	if (!may_read_users(c, me)) {
		graph_error(c, r, out, 403, "Authorization_RequestDenied",
		            "Insufficient privileges to complete the operation.");
		return true;
	}
	if (list) {
		list_users(c, r, out);
		return true;
	}
	u = me ? c->caller : sim_find_user_by_key(c->s, key);
	if (!u || strcasecmp(u->tenant_id, c->claims.tid) != 0) {
		char msg[400];

		snprintf(msg, sizeof msg,
		         "Resource '%s' does not exist or one of its queried reference-property "
		         "objects are not present.",
		         key);
		graph_error(c, r, out, 404, "Request_ResourceNotFound", msg);
		return true;
	}
	select = graph_query_get(r->query, "$select");
	graph_reply_json(out, 200, user_json(u, select));
	free(select);
	return true;
}
