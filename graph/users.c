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

static enum be_status resolve_filter(struct be_session *s, const char *mailbox, char **id,
                                     struct error *err)
{
	char *q = graph_odata_quote(mailbox);
	struct buf filter = BUF_INIT, rel = BUF_INIT;
	char *url, *escaped;
	json_t *page = NULL, *value, *u;
	struct graph_error ge;
	int status = 0;
	size_t i, n;
	enum be_status st;

	*id = NULL;
	buf_printf(&filter, "mail eq '%s' or proxyAddresses/any(a:a eq 'smtp:%s')", q, q);
	escaped = http_escape(filter.data);
	buf_printf(&rel, "/users?$filter=%s&$select=id,userPrincipalName,mail&$count=true",
	           escaped);
	url = graph_absolute_url(s->base, rel.data);
	st = graph_get_json_ex(s, mailbox, url, "ConsistencyLevel: eventual", &page, &status, &ge,
	                       err);
	free(url);
	free(escaped);
	free(q);
	buf_free(&filter);
	buf_free(&rel);
	if (st != BE_OK) {
		if (status == 403) {
			error_set(err,
			          "looking up the directory user of %s was refused (%s: %s): %s",
			          mailbox, *ge.code ? ge.code : "HTTP 403", ge.message,
			          fix_permission(s->app_only));
			st = BE_BLOCKED;
		} else {
			error_prefix(err, "looking up the directory user of %s: ", mailbox);
		}
		return st;
	}
	value = json_object_get(page, "value");
	n = json_array_size(value);
	if (n == 1 && json_is_string(json_object_get(json_array_get(value, 0), "id"))) {
		*id = xstrdup(json_string_value(json_object_get(json_array_get(value, 0), "id")));
	} else if (n == 0) {
		error_set(err,
		          "no user in the directory has the address %s (as mail or proxy address): "
		          "correct the leave's mailbox, or create the user; the items wait and are "
		          "tried again on the next run (a user created minutes ago may not be "
		          "searchable yet)",
		          mailbox);
		st = BE_BLOCKED;
	} else {
		struct buf ids = BUF_INIT;

		json_array_foreach(value, i, u)
		{
			const char *x = json_string_value(json_object_get(u, "userPrincipalName"));

			buf_printf(&ids, "%s%s", ids.len ? ", " : "", x ? x : "?");
		}
		error_set(
		    err,
		    "%zu directory users carry the address %s (%s): leavesync cannot tell whose "
		    "calendar it is; an administrator must remove the address from all but one, "
		    "then the items are written",
		    n, mailbox, ids.data ? ids.data : "");
		buf_free(&ids);
		st = BE_BLOCKED;
	}
	json_decref(page);
	return st;
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
	if (st != BE_OK) {
		/* throttling and transport failures are worth another try in this session */
		if (st == BE_BLOCKED || st == BE_FINAL || st == BE_NEEDS_LOGIN)
			cache(s, mailbox, NULL, st, err->msg);
		return st;
	}
	if (d)
		d->remember(d, mailbox, id, &ignored); /* a failure only costs a lookup next run */
	*key = cache(s, mailbox, id, BE_OK, NULL);
	free(id);
	return BE_OK;
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
