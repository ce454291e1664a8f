/* Users by id. Graph addresses a user as /users/{id | userPrincipalName} (api/user-get), and the
 * UPN is often not the e-mail address HR knows (microsoftgraph/microsoft-graph-docs#3979). So each
 * mailbox address is resolved once to the user's object id, kept in the store (the mailbox
 * directory) and in the session, and every URL uses the id.
 *
 * The lookup is the documented $filter on mail or proxyAddresses (both filterable with eq by
 * default, includes/filter-directory-objects.md), sent as an advanced query (ConsistencyLevel:
 * eventual, $count=true; aad-advanced-queries.md), which accepts every operator, so that the `or`
 * of the two clauses is never refused. App-only, it needs the application permission User.Read.All.
 * Delegated, GET /me (User.Read, requested at login) resolves the signed-in user's own mailbox;
 * another mailbox (a shared calendar) goes through the same $filter, which needs User.Read.All
 * (delegated). docs/graph.md "Users" says so. */
#include "graph/graph.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CACHED 256

struct user_entry {
	char *mailbox;
	char *id; /* NULL: the lookup failed in this session (status, why) */
	enum be_status status;
	char *why;
};

struct graph_users {
	struct user_entry v[MAX_CACHED];
	size_t n, next; /* next: the slot reused when full */
};

void graph_users_free(struct graph_users *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].mailbox);
		free(u->v[i].id);
		free(u->v[i].why);
	}
	free(u);
}

static const struct user_entry *cached(const struct graph_users *u, const char *mailbox)
{
	for (size_t i = 0; u && i < u->n; i++)
		if (strcasecmp(u->v[i].mailbox, mailbox) == 0)
			return &u->v[i];
	return NULL;
}

/* Caches id, or (id NULL) the failure: a mailbox whose lookup failed is not looked up again for
 * every item of it in the same session. */
static const char *cache(struct be_session *s, const char *mailbox, const char *id,
                         enum be_status status, const char *why)
{
	struct graph_users *u = s->users;
	struct user_entry *e;

	if (!u)
		u = s->users = xcalloc(1, sizeof *u);
	if (u->n < MAX_CACHED) {
		e = &u->v[u->n++];
	} else {
		e = &u->v[u->next];
		u->next = (u->next + 1) % MAX_CACHED;
		free(e->mailbox);
		free(e->id);
		free(e->why);
	}
	e->mailbox = xstrdup(mailbox);
	e->id = id ? xstrdup(id) : NULL;
	e->status = status;
	e->why = why ? xstrdup(why) : NULL;
	return e->id;
}

/* True when the user object carries address as its mail, UPN or one of its SMTP proxy addresses
 * ("SMTP:" primary, "smtp:" alias). */
static bool user_has_address(const json_t *user, const char *address)
{
	const char *mail = json_string_value(json_object_get(user, "mail"));
	const char *upn = json_string_value(json_object_get(user, "userPrincipalName"));
	const json_t *proxies = json_object_get(user, "proxyAddresses"), *p;
	size_t i;

	if ((mail && strcasecmp(mail, address) == 0) || (upn && strcasecmp(upn, address) == 0))
		return true;
	json_array_foreach(proxies, i, p)
	{
		const char *v = json_string_value(p);

		if (v && strncasecmp(v, "smtp:", 5) == 0 && strcasecmp(v + 5, address) == 0)
			return true;
	}
	return false;
}

static const char *fix_permission(bool app_only)
{
	return app_only
	           ? "grant the Microsoft Graph application permission User.Read.All with admin "
	             "consent (leavesync looks each mailbox address up once, docs/graph.md)"
	           : "grant the delegated permission User.Read.All (a shared calendar's owner "
	             "is looked up by address), then `leavesync auth login` again";
}

/* GET /me: the signed-in user's id when mailbox is one of its addresses. BE_OK with *id NULL when
 * it is another user's mailbox. */
static enum be_status resolve_me(struct be_session *s, const char *mailbox, char **id,
                                 struct error *err)
{
	char *url = graph_absolute_url(s->base, "/me?$select=id,userPrincipalName,mail,"
	                                        "proxyAddresses");
	json_t *me = NULL;
	struct graph_error ge;
	int status = 0;
	enum be_status st;

	*id = NULL;
	st = graph_get_json_ex(s, mailbox, url, NULL, &me, &status, &ge, err);
	free(url);
	if (st == BE_OK && user_has_address(me, mailbox) &&
	    json_is_string(json_object_get(me, "id")))
		*id = xstrdup(json_string_value(json_object_get(me, "id")));
	json_decref(me);
	if (st != BE_OK && status == 403) {
		error_set(err,
		          "reading the signed-in user of the connection of %s was refused (%s): "
		          "run `leavesync auth login --mailbox %s` again (the login asks for "
		          "User.Read)",
		          mailbox, *ge.code ? ge.code : "HTTP 403", mailbox);
		return BE_NEEDS_LOGIN;
	}
	return st;
}

/* The relative URL of the lookup of mailbox. Caller frees. */
static char *filter_url(const char *mailbox)
{
	char *q = graph_odata_quote(mailbox), *escaped;
	struct buf filter = BUF_INIT, rel = BUF_INIT;

	buf_printf(&filter, "mail eq '%s' or proxyAddresses/any(a:a eq 'smtp:%s')", q, q);
	escaped = http_escape(filter.data);
	buf_printf(&rel, "/users?$filter=%s&$select=id,userPrincipalName,mail&$count=true",
	           escaped);
	free(escaped);
	free(q);
	buf_free(&filter);
	return buf_steal(&rel);
}

/* The rules of a lookup's clear answer, one place for the single GET and the $batch: http_status
 * 200 (page: the parsed body) or 403 (ge: Graph's error). 1 user: BE_OK with *id; 0 users, 2+
 * users or 403: BE_BLOCKED with the message naming the fix. */
static enum be_status interpret_lookup(const struct be_session *s, const char *mailbox,
                                       int http_status, const json_t *page,
                                       const struct graph_error *ge, char **id, struct error *err)
{
	const json_t *value, *u;
	size_t i, n;

	*id = NULL;
	if (http_status == 403) {
		error_set(err, "looking up the directory user of %s was refused (%s: %s): %s",
		          mailbox, *ge->code ? ge->code : "HTTP 403", ge->message,
		          fix_permission(s->app_only));
		return BE_BLOCKED;
	}
	value = json_object_get(page, "value");
	n = json_array_size(value);
	if (n == 1 && json_is_string(json_object_get(json_array_get(value, 0), "id"))) {
		*id = xstrdup(json_string_value(json_object_get(json_array_get(value, 0), "id")));
		return BE_OK;
	}
	if (n == 0) {
		error_set(err,
		          "no user in the directory has the address %s (as mail or proxy address): "
		          "correct the leave's mailbox, or create the user; the items wait and are "
		          "tried again on the next run (a user created minutes ago may not be "
		          "searchable yet)",
		          mailbox);
		return BE_BLOCKED;
	}
	struct buf ids = BUF_INIT;

	json_array_foreach(value, i, u)
	{
		const char *x = json_string_value(json_object_get(u, "userPrincipalName"));

		buf_printf(&ids, "%s%s", ids.len ? ", " : "", x ? x : "?");
	}
	error_set(err,
	          "%zu directory users carry the address %s (%s): leavesync cannot tell whose "
	          "calendar it is; an administrator must remove the address from all but one, "
	          "then the items are written",
	          n, mailbox, ids.data ? ids.data : "");
	buf_free(&ids);
	return BE_BLOCKED;
}

static enum be_status resolve_filter(struct be_session *s, const char *mailbox, char **id,
                                     struct error *err)
{
	char *rel = filter_url(mailbox);
	char *url = graph_absolute_url(s->base, rel);
	json_t *page = NULL;
	struct graph_error ge;
	int status = 0;
	enum be_status st;

	*id = NULL;
	st = graph_get_json_ex(s, mailbox, url, "ConsistencyLevel: eventual", &page, &status, &ge,
	                       err);
	free(url);
	free(rel);
	if (st == BE_OK || status == 403)
		st = interpret_lookup(s, mailbox, st == BE_OK ? 200 : 403, page, &ge, id, err);
	else
		error_prefix(err, "looking up the directory user of %s: ", mailbox);
	json_decref(page);
	return st;
}

/* Keeps the outcome of a lookup: the id in the store and the session; a final failure in the
 * session (throttling and transport failures are worth another try in this session). Returns the
 * cached id. */
static const char *settle(struct be_session *s, const char *mailbox, enum be_status st,
                          const char *id, const struct error *err)
{
	struct mailbox_directory *d = s->env->directory;
	struct error ignored;

	if (st != BE_OK) {
		if (st == BE_BLOCKED || st == BE_FINAL || st == BE_NEEDS_LOGIN)
			cache(s, mailbox, NULL, st, err->msg);
		return NULL;
	}
	error_clear(&ignored);
	if (d)
		d->remember(d, mailbox, id, &ignored); /* a failure only costs a lookup next run */
	return cache(s, mailbox, id, BE_OK, NULL);
}

enum be_status graph_user_key(struct be_session *s, const char *mailbox, const char **key,
                              struct error *err)
{
	struct mailbox_directory *d = s->env->directory;
	const struct user_entry *e = cached(s->users, mailbox);
	struct error ignored;
	char *id = NULL;
	enum be_status st = BE_OK;

	*key = e ? e->id : NULL;
	if (e && e->id)
		return BE_OK;
	if (e) {
		error_set(err, "%s", e->why);
		return e->status;
	}
	/* the store is a cache of the directory: when it cannot be read, ask Graph */
	error_clear(&ignored);
	if (d && d->lookup(d, mailbox, &id, &ignored) == 0 && id) {
		*key = cache(s, mailbox, id, BE_OK, NULL);
		free(id);
		return BE_OK;
	}
	if (!s->app_only)
		st = resolve_me(s, mailbox, &id, err);
	if (st == BE_OK && !id)
		st = resolve_filter(s, mailbox, &id, err);
	*key = settle(s, mailbox, st, id, err);
	free(id);
	return st;
}

/* One $batch of lookups (n <= 20): each clear answer settled, the rest left alone. */
static void lookup_batch(struct be_session *s, const char *const *mailboxes, size_t n)
{
	struct graph_subreq reqs[GRAPH_MAX_BATCH];
	struct graph_subresp *resps = NULL;
	size_t nresp = 0;
	json_t *answer = NULL;
	struct error err;

	memset(reqs, 0, sizeof reqs);
	error_clear(&err);
	for (size_t i = 0; i < n; i++) {
		reqs[i].op = GRAPH_OP_FIND;
		reqs[i].mailbox = mailboxes[i];
		reqs[i].url = filter_url(mailboxes[i]);
		reqs[i].consistency = "eventual";
	}
	/* a failed $batch leaves every mailbox to its own lookup, with its retries and messages */
	if (graph_batch_send_once(s, reqs, n, &answer, &err) == BE_OK &&
	    graph_parse_batch(answer, &resps, &nresp, &err) == 0) {
		for (size_t r = 0; r < nresp; r++) {
			char *end = NULL, *id = NULL;
			struct graph_error ge;
			unsigned long k = strtoul(resps[r].id ? resps[r].id : "", &end, 10);
			enum be_status st;

			/* ids are index + 1 (graph_batch_body); an unknown id is ignored */
			if (!end || *end || k < 1 || k > n || cached(s->users, mailboxes[k - 1]))
				continue;
			if (!(resps[r].status == 200 && resps[r].body) && resps[r].status != 403)
				continue; /* throttled, 5xx, 401...: not a clear answer */
			error_clear(&err);
			memset(&ge, 0, sizeof ge);
			graph_parse_error(resps[r].body, &ge);
			st = interpret_lookup(s, mailboxes[k - 1], resps[r].status, resps[r].body,
			                      &ge, &id, &err);
			settle(s, mailboxes[k - 1], st, id, &err);
			free(id);
		}
	}
	free(resps);
	json_decref(answer);
	for (size_t i = 0; i < n; i++)
		graph_subreq_free(&reqs[i]);
}

void graph_users_prefetch(struct be_session *s, const char *const *mailboxes, size_t n)
{
	struct mailbox_directory *d = s->env->directory;
	const char *todo[GRAPH_MAX_BATCH];
	size_t k = 0, max = s->batch_size >= 1 && s->batch_size <= GRAPH_MAX_BATCH
	                        ? s->batch_size
	                        : GRAPH_MAX_BATCH;

	if (!s->app_only)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *m = mailboxes[i];
		struct error ignored;
		char *id = NULL;
		bool seen = false;

		if (!m || !*m || cached(s->users, m))
			continue;
		for (size_t j = 0; j < k && !seen; j++)
			seen = strcasecmp(todo[j], m) == 0;
		if (seen)
			continue;
		error_clear(&ignored);
		if (d && d->lookup(d, m, &id, &ignored) == 0 && id) {
			cache(s, m, id, BE_OK, NULL);
			free(id);
			continue;
		}
		todo[k++] = m;
		if (k == max) {
			lookup_batch(s, todo, k);
			k = 0;
		}
	}
	/* one alone costs one request either way: graph_user_key's own GET */
	if (k > 1)
		lookup_batch(s, todo, k);
}

void graph_user_forget(struct be_session *s, const char *mailbox)
{
	struct graph_users *u = s->users;
	struct mailbox_directory *d = s->env->directory;
	struct error ignored;

	for (size_t i = 0; u && i < u->n; i++)
		if (strcasecmp(u->v[i].mailbox, mailbox) == 0) {
			free(u->v[i].mailbox);
			free(u->v[i].id);
			free(u->v[i].why);
			u->v[i] = u->v[--u->n];
			break;
		}
	error_clear(&ignored);
	if (d)
		d->remember(d, mailbox, NULL, &ignored);
}
