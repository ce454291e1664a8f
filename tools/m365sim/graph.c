/* m365sim Graph view: /v1.0 entry point, authentication, mailbox resolution, permissions,
 * throttling and routing of the calendar resources. Facts: [doc: GRAPH api/user-post-events,
 * throttling, throttling-limits, auth-limit-mailbox-access, permissions-reference]. */
#include "graph.h"

#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MSG_DENIED "Access is denied. Check credentials and try again."
#define MSG_NOT_FOUND "The specified object was not found in the store."

/* ---- replies ---- */

void graph_reply_json(struct graph_reply *out, int status, json_t *body)
{
	out->status = status;
	if (out->body)
		json_decref(out->body);
	out->body = body;
	if (body)
		graph_reply_header(out, "Content-Type", "application/json; charset=utf-8");
}

void graph_reply_header(struct graph_reply *out, const char *name, const char *value)
{
	if (!out->headers)
		out->headers = json_object();
	json_object_set_new(out->headers, name, json_string(value));
}

void graph_reply_free(struct graph_reply *out)
{
	if (out->body)
		json_decref(out->body);
	if (out->headers)
		json_decref(out->headers);
	out->body = out->headers = NULL;
}

void graph_error(struct graph_ctx *c, const struct graph_req *r, struct graph_reply *out,
                 int status, const char *code, const char *message)
{
	char date[32];
	json_t *inner;

	graph_format_utc(date, sim_now(c->s));
	date[strlen(date) - 1] = '\0'; /* Graph's innerError date has no 'Z' */
	inner = json_pack("{s:s,s:s}", "date", date, "request-id", r->request_id);
	json_object_set_new(
	    inner, "client-request-id",
	    json_string(r->client_request_id ? r->client_request_id : r->request_id));
	if (out->headers)
		json_object_clear(out->headers);
	graph_reply_json(out, status,
	                 json_pack("{s:{s:s,s:s,s:o}}", "error", "code", code, "message", message,
	                           "innerError", inner));
}

/* ---- requests ---- */

const char *graph_header(const struct graph_req *r, const char *lower_name)
{
	return json_string_value(json_object_get(r->headers, lower_name));
}

char *graph_url_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		unsigned v;
		if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2]) && sscanf(s + i + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* The value of one preference; quotes removed. */
static void pref_value(const char *v, size_t n, char *out, size_t outsz)
{
	while (n && (*v == ' ' || *v == '"'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '"'))
		n--;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static void parse_one_pref(struct graph_prefs *p, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	char name[64], value[128];

	while (n && *s == ' ')
		s++, n--;
	if (!eq)
		return;
	pref_value(s, (size_t)(eq - s), name, sizeof name);
	pref_value(eq + 1, n - (size_t)(eq + 1 - s), value, sizeof value);
	if (strcasecmp(name, "IdType") == 0)
		p->immutable_ids = strcasecmp(value, "ImmutableId") == 0;
	else if (strcasecmp(name, "outlook.timezone") == 0)
		snprintf(p->tz, sizeof p->tz, "%s", value);
	else if (strcasecmp(name, "outlook.body-content-type") == 0)
		snprintf(p->body_type, sizeof p->body_type, "%s", value);
	else if (strcasecmp(name, "odata.maxpagesize") == 0)
		p->maxpagesize = atoi(value);
}

/* Splits "a=1, b=\"x, y\"" on commas outside quotes. */
static void parse_prefs(struct graph_prefs *p, const char *text)
{
	const char *start = text;
	bool quoted = false;

	memset(p, 0, sizeof *p);
	if (!text)
		return;
	for (const char *q = text;; q++) {
		if (*q == '"')
			quoted = !quoted;
		if (*q == '\0' || (*q == ',' && !quoted)) {
			parse_one_pref(p, start, (size_t)(q - start));
			if (*q == '\0')
				break;
			start = q + 1;
		}
	}
}

void graph_req_init(struct graph_req *r, const char *method, const char *path, const char *query,
                    json_t *headers)
{
	memset(r, 0, sizeof *r);
	r->method = method;
	r->path = graph_url_decode(path, strlen(path));
	r->query = xstrdup(query ? query : "");
	r->headers = headers;
	parse_prefs(&r->prefs, graph_header(r, "prefer"));
	uuid_v4(r->request_id);
	r->client_request_id = graph_header(r, "client-request-id");
}

void graph_req_free(struct graph_req *r)
{
	free(r->path);
	free(r->query);
	if (r->body)
		json_decref(r->body);
	if (r->headers)
		json_decref(r->headers);
	memset(r, 0, sizeof *r);
}

/* ---- permissions ---- */

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		while (*p == ' ')
			p++;
		const char *e = strchr(p, ' ');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && strncasecmp(p, word, n) == 0)
			return true;
		p += len;
	}
	return false;
}

static bool in_list(char **list, const struct sim_user *u)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcasecmp(list[i], u->upn) == 0 ||
		    (u->object_id && strcasecmp(list[i], u->object_id) == 0))
			return true;
	return false;
}

/* App-only: roles Calendars.ReadWrite (reads: Calendars.Read too), limited by the app's mailbox
 * scope. Delegated: scp Calendars.ReadWrite for the own mailbox, Calendars.ReadWrite.Shared for a
 * calendar shared with the signed-in user. */
static bool permitted(struct graph_ctx *c, const struct sim_user *target, bool write,
                      const char **message)
{
	*message = MSG_DENIED;
	if (c->app_only) {
		bool role = has_word(c->claims.roles, "Calendars.ReadWrite") ||
		            (!write && has_word(c->claims.roles, "Calendars.Read"));
		if (!role)
			return false;
		if (c->app && c->app->scoped_mailboxes &&
		    !in_list(c->app->scoped_mailboxes, target)) {
			*message = "Access to OData is disabled.";
			return false;
		}
		return true;
	}
	if (c->caller == target)
		return has_word(c->claims.scp, "Calendars.ReadWrite") ||
		       (!write && has_word(c->claims.scp, "Calendars.Read"));
	bool scope = has_word(c->claims.scp, "Calendars.ReadWrite.Shared") ||
	             (!write && has_word(c->claims.scp, "Calendars.Read.Shared"));
	return scope && c->caller && in_list(c->caller->delegates, target);
}

/* ---- the addressed mailbox ---- */

/* Resolves "/me/..." or "/users/{id|upn}/..."; *rest gets the remaining path. 0 or -1 (replied). */
static int resolve_target(struct graph_ctx *c, struct graph_req *r, struct graph_target *t,
                          const char **rest, struct graph_reply *out)
{
	const char *p = r->path;
	char key[256];
	char msg[400];

	memset(t, 0, sizeof *t);
	if (strncasecmp(p, "/me/", 4) == 0 || strcasecmp(p, "/me") == 0) {
		if (c->app_only || !c->caller) {
			graph_error(
			    c, r, out, 400, "BadRequest",
			    "/me request is only valid with delegated authentication flow.");
			return -1;
		}
		t->user = c->caller;
		snprintf(t->prefix, sizeof t->prefix, "/me");
		*rest = p + 3;
	} else if (strncasecmp(p, "/users/", 7) == 0) {
		const char *k = p + 7, *e = strchr(k, '/');
		size_t n = e ? (size_t)(e - k) : strlen(k);
		if (n == 0 || n >= sizeof key) {
			graph_error(c, r, out, 400, "BadRequest", "Invalid user segment.");
			return -1;
		}
		memcpy(key, k, n);
		key[n] = '\0';
		/* users('x') is the OData key syntax for the same thing */
		if (n > 4 && key[0] == '\'' && key[n - 1] == '\'') {
			memmove(key, key + 1, n - 2);
			key[n - 2] = '\0';
		}
		t->user = sim_find_user(c->s, key);
		if (!t->user || strcasecmp(t->user->tenant_id, c->claims.tid) != 0) {
			snprintf(msg, sizeof msg, "The requested user '%s' is invalid.", key);
			graph_error(c, r, out, 404, "ErrorInvalidUser", msg);
			return -1;
		}
		snprintf(t->prefix, sizeof t->prefix, "/users/%s", key);
		*rest = p + 7 + n;
	} else {
		const char *seg = p[0] == '/' ? p + 1 : p;
		const char *e = strchr(seg, '/');
		snprintf(msg, sizeof msg, "Resource not found for the segment '%.*s'.",
		         (int)(e ? (size_t)(e - seg) : strlen(seg)), seg);
		graph_error(c, r, out, 400, "BadRequest", msg);
		return -1;
	}
	t->mb = t->user->has_mailbox ? sim_find_mailbox(c->s, t->user->upn) : NULL;
	if (!t->mb && **rest) { /* the user resource itself needs no mailbox */
		graph_error(
		    c, r, out, 404, "MailboxNotEnabledForRESTAPI",
		    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.");
		return -1;
	}
	return 0;
}

/* ---- single events ---- */

static bool etag_matches(const char *if_match, const struct sim_item *it)
{
	const char *v = if_match;
	size_t n;

	while (*v == ' ')
		v++;
	if (strcmp(v, "*") == 0)
		return true;
	if (strncmp(v, "W/", 2) == 0)
		v += 2;
	n = strlen(v);
	while (n && v[n - 1] == ' ')
		n--;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
		v++, n -= 2;
	return strlen(it->change_key) == n && strncmp(v, it->change_key, n) == 0;
}

static struct sim_item *find_or_404(struct graph_ctx *c, struct graph_req *r,
                                    const struct graph_target *t, const char *id,
                                    struct graph_reply *out)
{
	struct sim_item *it = graph_find_item(t->mb, id);

	if (!it)
		graph_error(c, r, out, 404, "ErrorItemNotFound", MSG_NOT_FOUND);
	return it;
}

static bool precondition_ok(struct graph_ctx *c, struct graph_req *r, const struct sim_item *it,
                            struct graph_reply *out)
{
	const char *im = graph_header(r, "if-match");

	if (!im || etag_matches(im, it))
		return true;
	/* observed with 412 [tests/data/graph/observed-graph-error-412-irresolvable-conflict.txt]
	 */
	graph_error(c, r, out, 412, "ErrorIrresolvableConflict",
	            "The send or update operation could not be performed because the change key "
	            "passed in the request does not match the current change key for the item.");
	return false;
}

/* Answers the event, honouring $select and $expand (already validated). */
static void reply_event(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                        const struct sim_item *it, int status, struct graph_reply *out)
{
	json_t *ev = graph_event_json(c, r, t, it);
	char *select = graph_query_get(r->query, "$select");
	char ctx[512], bad[128];

	snprintf(ctx, sizeof ctx, "%s/v1.0/$metadata#users('%s')/events/$entity", c->base_url,
	         t->user->upn);
	json_object_set_new(ev, "@odata.context", json_string(ctx));
	if (select)
		graph_select_apply(ev, select, bad, sizeof bad);
	free(select);
	graph_reply_json(out, status, ev);
}

/* Checks $select and $expand of a request for one event or a list. 0 or -1 (replied). */
static int check_query_options(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out)
{
	char *select = graph_query_get(r->query, "$select");
	char *expand = graph_query_get(r->query, "$expand");
	char bad[128], msg[256];
	struct graph_filter f = {0};
	int rc = 0;

	if (select && graph_select_check(select, bad, sizeof bad) < 0) {
		snprintf(msg, sizeof msg,
		         "Could not find a property named '%s' on type 'microsoft.graph.event'.",
		         bad);
		graph_error(c, r, out, 400, "RequestBroker--ParseUri", msg);
		rc = -1;
	} else if (expand && graph_expand_parse(expand, &f) < 0) {
		graph_error(c, r, out, 400, "BadRequest",
		            "Parsing OData Select and Expand failed: the $expand value is not "
		            "supported.");
		rc = -1;
	}
	graph_filter_free(&f);
	free(select);
	free(expand);
	return rc;
}

static void create_event(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                         struct graph_reply *out)
{
	const char *txn = json_string_value(json_object_get(r->body, "transactionId"));

	sim_count(c->s, "graph.POST events");
	if (txn && graph_dedupe_transaction_id(c->st)) {
		/* transactionId lets "the server ... avoid redundant POST operations in case of
		 * client retries" [doc: resources/event]: answer with the event the first POST
		 * created */
		for (size_t i = 0; i < t->mb->nitems; i++) {
			struct sim_item *it = t->mb->items[i];
			if (!it->deleted && it->transaction_id &&
			    strcmp(it->transaction_id, txn) == 0) {
				sim_count(c->s, "graph.transactionId duplicates");
				reply_event(c, r, t, it, 201, out);
				return;
			}
		}
	}
	struct sim_item *it = graph_event_write(c, r, t, NULL, out);
	if (!it)
		return;
	sim_count(c->s, "graph.items written");
	reply_event(c, r, t, it, 201, out);
}

static void one_event(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                      const char *id, struct graph_reply *out)
{
	struct sim_item *it;

	if (strcmp(r->method, "GET") == 0) {
		sim_count(c->s, "graph.GET event");
		if (check_query_options(c, r, out) == 0 && (it = find_or_404(c, r, t, id, out)))
			reply_event(c, r, t, it, 200, out);
	} else if (strcmp(r->method, "PATCH") == 0) {
		sim_count(c->s, "graph.PATCH event");
		if (!(it = find_or_404(c, r, t, id, out)) || !precondition_ok(c, r, it, out))
			return;
		if (!graph_event_write(c, r, t, it, out))
			return;
		sim_count(c->s, "graph.items written");
		reply_event(c, r, t, it, 200, out);
	} else if (strcmp(r->method, "DELETE") == 0) {
		sim_count(c->s, "graph.DELETE event");
		if (!(it = find_or_404(c, r, t, id, out)) || !precondition_ok(c, r, it, out))
			return;
		sim_item_delete(t->mb, it);
		it->modified = sim_now(c->s);
		sim_count(c->s, "graph.items written");
		graph_reply_json(out, 204, NULL);
	} else {
		graph_error(c, r, out, 405, "Request_BadRequest",
		            "Specified HTTP method is not allowed for the request target.");
	}
}

static void calendar_probe(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                           struct graph_reply *out)
{
	char id[128], ctx[512];

	(void)r;
	snprintf(id, sizeof id, "AAMkAGI2Calendar-%s",
	         t->user->object_id ? t->user->object_id : "");
	snprintf(ctx, sizeof ctx, "%s/v1.0/$metadata#users('%s')/calendar/$entity", c->base_url,
	         t->user->upn);
	graph_reply_json(
	    out, 200,
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:s,s:[s],s:{s:s,s:s}}",
	              "@odata.context", ctx, "id", id, "name", "Calendar", "color", "auto",
	              "hexColor", "", "isDefaultCalendar", 1, "canShare", 1, "canViewPrivateItems",
	              1, "canEdit", 1, "defaultOnlineMeetingProvider", "none",
	              "allowedOnlineMeetingProviders", "teamsForBusiness", "owner", "name",
	              t->user->display_name ? t->user->display_name : "", "address", t->user->upn));
}

/* ---- routing ---- */

static bool seg_is(const char *p, const char *name)
{
	return strcasecmp(p, name) == 0;
}

/* GET /me or /users/{id|upn} ([Graph api/user-get]): /me needs the delegated User.Read (or a
 * wider User.* scope), another user User.ReadBasic.All or User.Read.All, app-only the application
 * permission User.Read.All; otherwise "Insufficient privileges" (403 Authorization_RequestDenied).
 * $select picks properties; a name the user type does not have is a 400, as on Graph. */
static void user_resource(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                          struct graph_reply *out)
{
	static const char *const props[] = {"id", "displayName", "userPrincipalName", "mail",
	                                    "proxyAddresses"};
	const char *scp = c->claims.scp;
	bool self = !c->app_only && c->caller == t->user;
	bool allowed =
	    c->app_only
	        ? has_word(c->claims.roles, "User.Read.All")
	        : has_word(scp, "User.ReadBasic.All") || has_word(scp, "User.Read.All") ||
	              (self && (has_word(scp, "User.Read") || has_word(scp, "User.ReadWrite")));
	char *select = graph_query_get(r->query, "$select");
	json_t *user = json_object(), *addresses = json_array();
	char smtp[300];

	sim_count(c->s, "graph.GET user");
	if (!allowed) {
		free(select);
		json_decref(user);
		json_decref(addresses);
		graph_error(c, r, out, 403, "Authorization_RequestDenied",
		            "Insufficient privileges to complete the operation.");
		return;
	}
	snprintf(smtp, sizeof smtp, "SMTP:%s", t->user->upn);
	json_array_append_new(addresses, json_string(smtp));
	for (char **a = t->user->aliases; a && *a; a++) {
		snprintf(smtp, sizeof smtp, "smtp:%s", *a);
		json_array_append_new(addresses, json_string(smtp));
	}
	json_object_set_new(user, "id", json_string(t->user->object_id));
	json_object_set_new(user, "displayName", json_string(t->user->display_name));
	json_object_set_new(user, "userPrincipalName", json_string(t->user->upn));
	json_object_set_new(user, "mail",
	                    t->user->has_mailbox ? json_string(t->user->upn) : json_null());
	json_object_set_new(user, "proxyAddresses", addresses);
	if (select) {
		json_t *picked = json_object();

		for (char *save = NULL, *name = strtok_r(select, ",", &save); name;
		     name = strtok_r(NULL, ",", &save)) {
			size_t i;
			for (i = 0; i < sizeof props / sizeof props[0]; i++)
				if (strcasecmp(name, props[i]) == 0)
					break;
			if (i == sizeof props / sizeof props[0]) {
				char msg[300];
				snprintf(msg, sizeof msg,
				         "Could not find a property named '%.100s' on type "
				         "'microsoft.graph.user'.",
				         name);
				json_decref(picked);
				json_decref(user);
				free(select);
				graph_error(c, r, out, 400, "BadRequest", msg);
				return;
			}
			json_object_set(picked, props[i], json_object_get(user, props[i]));
		}
		json_decref(user);
		user = picked;
		free(select);
	}
	graph_reply_json(out, 200, user);
}

static void route_resource(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                           const char *rest, struct graph_reply *out)
{
	const char *m = r->method;
	bool get = strcmp(m, "GET") == 0;

	if (strncasecmp(rest, "/calendar/", 10) == 0 &&
	    strncasecmp(rest, "/calendar/events", 16) == 0)
		rest += 9; /* /calendar/events... is the default calendar's /events... */
	else if (strncasecmp(rest, "/calendar/calendarView", 22) == 0)
		rest += 9;
	if (seg_is(rest, "/events")) {
		if (get) {
			sim_count(c->s, "graph.GET events");
			if (check_query_options(c, r, out) == 0)
				graph_list_events(c, r, t, out);
		} else if (strcmp(m, "POST") == 0) {
			create_event(c, r, t, out);
		} else {
			graph_error(c, r, out, 405, "Request_BadRequest",
			            "Specified HTTP method is not allowed for the request target.");
		}
	} else if (strncasecmp(rest, "/events/", 8) == 0 && rest[8] && !strchr(rest + 8, '/')) {
		one_event(c, r, t, rest + 8, out);
	} else if (seg_is(rest, "/calendar") && get) {
		calendar_probe(c, r, t, out);
	} else if (seg_is(rest, "/calendarView") && get) {
		sim_count(c->s, "graph.GET calendarView");
		if (check_query_options(c, r, out) == 0)
			graph_calendar_view(c, r, t, out);
	} else if (seg_is(rest, "/calendarView/delta") && get) {
		sim_count(c->s, "graph.GET delta");
		graph_delta(c, r, t, out);
	} else {
		char msg[300];
		snprintf(msg, sizeof msg, "Resource not found for the segment '%.200s'.",
		         *rest ? rest + 1 : t->prefix);
		graph_error(c, r, out, 400, "BadRequest", msg);
	}
}

/* Service-owned faults: "graph_http429" / "graph_http503" fire per Graph request, including each
 * request inside a $batch (the transport kinds http429/http503 of main.c answer a whole HTTP
 * request instead). */
static bool injected_fault(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out)
{
	int64_t ms = 0;
	char ra[32];

	if (sim_take_fault(c->s, "graph_http429", &ms)) {
		graph_error(c, r, out, 429, "ApplicationThrottled",
		            "Application is over its MailboxConcurrency limit.");
	} else if (sim_take_fault(c->s, "graph_http503", &ms)) {
		graph_error(c, r, out, 503, "ServiceUnavailable",
		            "The service is temporarily unavailable.");
	} else {
		return false;
	}
	if (ms > 0) {
		snprintf(ra, sizeof ra, "%g", (double)ms / 1000.0);
		graph_reply_header(out, "Retry-After", ra);
	}
	return true;
}

void graph_dispatch(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out)
{
	struct graph_target t;
	const char *rest = "", *why;
	char ra[32];
	bool write = strcmp(r->method, "GET") != 0;

	sim_count(c->s, "graph.requests");
	if (r->body_unreadable) {
		graph_error(
		    c, r, out, 400, "BadRequest",
		    "Unable to read JSON request payload. Please ensure Content-Type header "
		    "is set and payload is of valid JSON format.");
		return;
	}
	if (resolve_target(c, r, &t, &rest, out) < 0)
		return;
	if (!*rest && strcmp(r->method, "GET") == 0) {
		user_resource(c, r, &t, out);
		return;
	}
	if (!permitted(c, t.user, write, &why)) {
		graph_error(c, r, out, 403, "ErrorAccessDenied", why);
		return;
	}
	if (injected_fault(c, r, out))
		return;
	/* Outlook limits are "evaluated for each app ID and mailbox combination" [doc: throttling]
	 */
	if (!graph_throttle_admit(c->st, sim_now(c->s), c->claims.appid, t.user->upn, ra,
	                          sizeof ra)) {
		sim_count(c->s, "graph.throttled");
		graph_error(c, r, out, 429, "ApplicationThrottled",
		            "Application is over its MailboxConcurrency limit.");
		graph_reply_header(out, "Retry-After", ra);
		return;
	}
	route_resource(c, r, &t, rest, out);
}

/* ---- the HTTP entry point ---- */

static json_t *collect_headers(const struct sim_request *req)
{
	json_t *h = json_object();

	for (size_t i = 0; i < req->nheaders; i++) {
		char name[128];
		snprintf(name, sizeof name, "%s", req->headers[i].name);
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		const char *old = json_string_value(json_object_get(h, name));
		if (old && strcmp(name, "prefer") == 0) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%s, %s", old, req->headers[i].value);
			json_object_set_new(h, name, json_string(b.data));
			buf_free(&b);
		} else {
			json_object_set_new(h, name, json_string(req->headers[i].value));
		}
	}
	return h;
}

/* 401 with the header Graph sends. */
static void unauthenticated(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out,
                            const char *message)
{
	graph_error(c, r, out, 401, "InvalidAuthenticationToken", message);
	graph_reply_header(
	    out, "WWW-Authenticate",
	    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/"
	    "common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-"
	    "000000000000\"");
}

static bool authenticate(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out)
{
	const char *auth = graph_header(r, "authorization"), *why = NULL;
	int rc;

	if (!auth || !*auth) {
		unauthenticated(c, r, out, "Access token is empty.");
		return false;
	}
	rc = sim_verify_token(c->s, auth, &c->claims, &why);
	if (rc != 0) {
		unauthenticated(c, r, out,
		                rc == 2000002 ? "Lifetime validation failed, the token is expired."
		                : rc == 2000000
		                    ? "Access token validation failure. Signature is invalid."
		                    : "Access token validation failure. Invalid JWT token.");
		return false;
	}
	if (strcmp(c->claims.aud, "https://graph.microsoft.com") != 0 &&
	    strcmp(c->claims.aud, "00000003-0000-0000-c000-000000000000") != 0) {
		unauthenticated(c, r, out, "Access token validation failure. Invalid audience.");
		return false;
	}
	/* delegated tokens name the signed-in user (upn); app-only ones carry the app's roles */
	c->app_only = c->claims.upn[0] == '\0';
	if (!c->app_only)
		c->caller = sim_find_user(c->s, c->claims.upn);
	c->app = sim_find_app(c->s, c->claims.appid);
	return true;
}

static void send_reply(struct graph_reply *out, struct graph_req *r, struct sim_response *resp)
{
	const char *k;
	json_t *v;

	sim_resp_header(resp, "request-id", r->request_id);
	sim_resp_header(resp, "client-request-id",
	                r->client_request_id ? r->client_request_id : r->request_id);
	json_object_foreach(out->headers, k, v)
	{
		if (strcasecmp(k, "Content-Type") != 0)
			sim_resp_header(resp, k, json_string_value(v));
	}
	if (out->body) {
		sim_resp_json(resp, out->status, out->body);
		out->body = NULL;
	} else {
		resp->status = out->status;
	}
}

bool sim_graph_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	struct graph_req r;
	struct graph_reply out = {0};
	struct graph_ctx c = {.s = s};
	char base[300];
	const char *host;

	if (strncmp(req->path, "/_sim/graph/", 12) == 0)
		return graph_control(s, req, resp);
	if (strncmp(req->path, "/v1.0/", 6) != 0)
		return false;
	graph_req_init(&r, req->method, req->path + 5, req->query, collect_headers(req));
	host = graph_header(&r, "host");
	snprintf(base, sizeof base, "%s://%s", sim_uses_tls(s) ? "https" : "http",
	         host ? host : "graph.microsoft.com");
	c.base_url = base;
	c.st = graph_state(s);
	if (req->body_len) {
		r.body = json_loadb(req->body, req->body_len, 0, NULL);
		r.body_unreadable = r.body == NULL;
	}
	if (authenticate(&c, &r, &out)) {
		if (strcmp(r.path, "/$batch") == 0)
			graph_batch(&c, &r, &out);
		else
			graph_dispatch(&c, &r, &out);
	}
	send_reply(&out, &r, resp);
	graph_reply_free(&out);
	graph_req_free(&r);
	return true;
}
