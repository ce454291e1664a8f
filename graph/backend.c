/* graph_backend: the Microsoft Graph events API behind engine/backend.h. Writes go through $batch
 * (batch.c), reads are plain GETs with the read Prefer headers; every URL is /users/{id}/... with
 * the user object id the mailbox address resolves to (users.c), which serves delegated tokens (own
 * or shared calendar) and app-only tokens alike. */
#include "graph/graph.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/config.h"
#include "engine/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_GET_ATTEMPTS 5

static enum be_status graph_session_open(const struct backend_env *env, struct be_session **out,
                                         struct error *err)
{
	const struct service_config *g = &env->cfg->graph;
	const char *url = g->url && *g->url ? g->url : GRAPH_DEFAULT_URL;
	int mc = env->cfg->mailbox_concurrency > 0 ? env->cfg->mailbox_concurrency : 1;
	struct be_session *s;
	size_t n;

	*out = NULL;
	if (g->mode && *g->mode && strcmp(g->mode, "delegated") != 0 &&
	    strcmp(g->mode, "application") != 0) {
		error_set(err, "[graph] mode = %s: use delegated or application", g->mode);
		return BE_FINAL;
	}
	if (!http_url_allowed(url)) {
		error_set(err,
		          "[graph] url %s: use https:// (plain http:// only to a loopback host)",
		          url);
		return BE_FINAL;
	}
	s = xcalloc(1, sizeof *s);
	s->env = env;
	s->base = xstrdup(url);
	n = strlen(s->base);
	while (n > 0 && s->base[n - 1] == '/')
		s->base[--n] = '\0';
	s->app_only = g->mode && strcmp(g->mode, "application") == 0;
	s->batch_size =
	    g->batch_size == 0 || g->batch_size > GRAPH_MAX_BATCH ? GRAPH_MAX_BATCH : g->batch_size;
	/* the engine may run mc write calls per mailbox at once: together at most 4 in flight */
	s->mailbox_cap = GRAPH_MAILBOX_CONCURRENCY / mc > 0 ? GRAPH_MAILBOX_CONCURRENCY / mc : 1;
	s->page_size = GRAPH_PAGE_SIZE;
	s->max_wait_ms = GRAPH_MAX_WAIT_MS;
	graph_prop_id(s->prop_id, sizeof s->prop_id);
	s->http = http_client_new(&(struct http_options){.ca_file = env->ca_file,
	                                                 .limits = &env->cfg->limits.http,
	                                                 .deadline_ms = env->deadline_ms,
	                                                 .log = &env->cfg->http_log},
	                          err);
	if (!s->http) {
		free(s->base);
		free(s);
		return BE_FINAL;
	}
	*out = s;
	return BE_OK;
}

static void graph_session_close(struct be_session *s)
{
	if (!s)
		return;
	http_client_free(s->http);
	graph_users_free(s->users);
	free(s->base);
	free(s);
}

/* ---- GET with the read Prefer headers, 401 refresh and Retry-After ---- */

/* One GET; BE_OK with *resp filled, or a failure status with err. */
static enum be_status get_once(struct be_session *s, const char *mailbox, const char *url,
                               const char *extra_header, bool force, struct http_response *resp,
                               struct error *err)
{
	char pagesize[48];
	const char *headers[] = {"Prefer: " GRAPH_PREFER_IMMUTABLE,
	                         "Prefer: " GRAPH_PREFER_UTC,
	                         "Prefer: " GRAPH_PREFER_TEXT,
	                         pagesize,
	                         extra_header,
	                         NULL};
	const char *token = NULL;
	enum be_status st;
	enum http_failure f;

	snprintf(pagesize, sizeof pagesize, "Prefer: odata.maxpagesize=%d", s->page_size);
	st = s->env->tokens->get(s->env->tokens, mailbox, force, &token, err);
	if (st != BE_OK)
		return st;
	f = http_perform(s->http,
	                 &(struct http_request){
	                     .method = "GET", .url = url, .bearer = token, .headers = headers},
	                 resp, err);
	return f == HTTP_OK ? BE_OK : graph_transport_status(f);
}

enum be_status graph_get_json(struct be_session *s, const char *mailbox, const char *url,
                              json_t **out, struct error *err)
{
	return graph_get_json_ex(s, mailbox, url, NULL, out, NULL, NULL, err);
}

enum be_status graph_get_json_ex(struct be_session *s, const char *mailbox, const char *url,
                                 const char *extra_header, json_t **out, int *http_status,
                                 struct graph_error *ge, struct error *err)
{
	bool force = false;
	long waited = 0;

	*out = NULL;
	if (http_status)
		*http_status = 0;
	if (ge)
		memset(ge, 0, sizeof *ge);
	for (int attempt = 0; attempt < MAX_GET_ATTEMPTS; attempt++) {
		struct http_response resp = {0};
		enum be_status st = get_once(s, mailbox, url, extra_header, force, &resp, err);
		json_t *body;

		if (st != BE_OK)
			return st;
		if (http_status)
			*http_status = (int)resp.status;
		if (resp.status == 401 && !force) {
			http_response_free(&resp);
			force = true;
			continue;
		}
		if (resp.status == 200) {
			*out = graph_parse_json(resp.body, resp.body_len, resp.content_type, err);
			http_response_free(&resp);
			if (!*out) /* cut short or garbled on the way: worth a retry */
				error_prefix(err,
				             "GET %.*s answered HTTP 200: ", (int)strcspn(url, "?"),
				             url);
			return *out ? BE_OK : BE_RETRY_NOW;
		}
		body = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
		st = graph_describe_failure("GET", url, (int)resp.status, resp.content_type, body,
		                            s->app_only, err->msg, sizeof err->msg);
		if (ge)
			graph_parse_error(body, ge);
		json_decref(body);
		if (st == BE_RETRY_LATER && resp.retry_after_ms > 0 &&
		    waited + resp.retry_after_ms <= s->max_wait_ms) {
			graph_pause_ms(s, resp.retry_after_ms);
			waited += resp.retry_after_ms;
			http_response_free(&resp);
			continue;
		}
		http_response_free(&resp);
		return st;
	}
	error_set(err, "GET %.*s: no answer after %d attempts (throttled or token refused)",
	          (int)strcspn(url, "?"), url, MAX_GET_ATTEMPTS);
	return BE_RETRY_LATER;
}

/* ---- writes ---- */

static void item_reset(struct be_item *it)
{
	it->status = BE_OK;
	it->retry_after_ms = 0;
	it->message[0] = '\0';
}

/* A request that cannot be built is never sent: final for its item, or the status of its
 * mailbox's user lookup. */
static void reject(struct graph_subreq *r, enum be_status be, const char *why)
{
	r->done = true;
	r->be = be;
	snprintf(r->message, sizeof r->message, "%s", why);
}

static void prepare(struct be_session *s, enum graph_op op, struct be_item *it,
                    struct graph_subreq *r)
{
	struct error e;

	error_clear(&e);
	item_reset(it);
	r->op = op;
	r->item = it;
	r->mailbox = it->mailbox ? it->mailbox : "";
	const char *user = NULL;
	enum be_status st;

	if (!it->mailbox || !*it->mailbox) {
		r->url = xstrdup("");
		reject(r, BE_FINAL, "item has no mailbox");
		return;
	}
	st = graph_user_key(s, it->mailbox, &user, &e);
	if (st != BE_OK) {
		r->url = xstrdup("");
		reject(r, st, e.msg);
		return;
	}
	if (op == GRAPH_OP_CREATE) {
		r->url = graph_path_events(user);
		r->body = it->ev ? graph_build_create(it->ev, s->prop_id, &e) : NULL;
	} else {
		if (!it->remote_id || !*it->remote_id) {
			r->url = xstrdup("");
			reject(r, BE_FINAL, "item has no remote id to update or delete");
			return;
		}
		r->url = graph_path_event(user, it->remote_id);
		if (op == GRAPH_OP_UPDATE) {
			r->body =
			    it->ev ? graph_build_patch(it->ev, it->written, s->prop_id, &e) : NULL;
			/* after a re-read the engine overwrites: no precondition */
			r->if_match = it->overwrite ? NULL : it->change_key;
		}
	}
	if (op != GRAPH_OP_DELETE && !r->body)
		reject(r, BE_FINAL, e.msg[0] ? e.msg : "item has no event to write");
}

/* A 404 ErrorInvalidUser on /users/{id} means the stored id is no longer a user (deleted and
 * recreated, so the address now belongs to a new id): look the address up again next time. */
static bool stale_user(struct be_session *s, const struct graph_subreq *r)
{
	if (r->status != 404 || !strstr(r->message, "ErrorInvalidUser"))
		return false;
	graph_user_forget(s, r->mailbox);
	return true;
}

static enum be_status write_events(struct be_session *s, enum graph_op op, struct be_item *items,
                                   size_t n, struct error *err)
{
	struct graph_subreq *reqs = xcalloc(n ? n : 1, sizeof *reqs);
	const char **mailboxes = xcalloc(n ? n : 1, sizeof *mailboxes);
	enum be_status st;

	/* the new mailboxes' user ids in one $batch rather than one GET each */
	for (size_t i = 0; i < n; i++)
		mailboxes[i] = items[i].mailbox;
	graph_users_prefetch(s, mailboxes, n);
	free(mailboxes);
	for (size_t i = 0; i < n; i++)
		prepare(s, op, &items[i], &reqs[i]);
	st = graph_batch_run(s, reqs, n, false, err);
	for (size_t i = 0; i < n; i++) {
		struct be_item *it = reqs[i].item;

		if (stale_user(s, &reqs[i])) {
			it->status = BE_RETRY_LATER;
			snprintf(
			    it->message, sizeof it->message,
			    "the user id stored for %s is no longer a user (%.300s): the address "
			    "is looked up again on the next attempt",
			    reqs[i].mailbox, reqs[i].message);
		}
		/* update: report the id only when it changed (immutable ids should not) */
		if (op == GRAPH_OP_UPDATE && it->new_remote_id && it->remote_id &&
		    strcmp(it->new_remote_id, it->remote_id) == 0) {
			free(it->new_remote_id);
			it->new_remote_id = NULL;
		}
		graph_subreq_free(&reqs[i]);
	}
	free(reqs);
	return st;
}

static enum be_status graph_create_events(struct be_session *s, struct be_item *items, size_t n,
                                          struct error *err)
{
	return write_events(s, GRAPH_OP_CREATE, items, n, err);
}

static enum be_status graph_update_events(struct be_session *s, struct be_item *items, size_t n,
                                          struct error *err)
{
	return write_events(s, GRAPH_OP_UPDATE, items, n, err);
}

static enum be_status graph_delete_events(struct be_session *s, struct be_item *items, size_t n,
                                          struct error *err)
{
	return write_events(s, GRAPH_OP_DELETE, items, n, err);
}

/* ---- reads ---- */

static enum be_status graph_get_event(struct be_session *s, const char *mailbox,
                                      const char *remote_id, struct remote_event *out,
                                      struct error *err)
{
	struct error local;
	char *path, *query;
	struct buf url = BUF_INIT;
	json_t *obj = NULL;
	const char *user;
	enum be_status st;

	if (!err)
		err = &local;
	error_clear(err);
	memset(out, 0, sizeof *out);
	st = graph_user_key(s, mailbox, &user, err);
	if (st != BE_OK)
		return st;
	path = graph_path_event(user, remote_id);
	query = graph_query_event(s->prop_id);
	buf_printf(&url, "%s%s%s", s->base, path, query);
	st = graph_get_json(s, mailbox, url.data, &obj, err);
	if (st == BE_OK && graph_parse_event(obj, s->prop_id, out, err) < 0)
		st = BE_RETRY_NOW;
	json_decref(obj);
	buf_free(&url);
	free(path);
	free(query);
	return st;
}

/* Delivers the tagged events of one collection page (wanted: only this key, or NULL for any),
 * counting the untagged ones into *untagged when not NULL. Returns 0 to go on, 1 when the
 * callback stopped, -1 on a parse error (err). */
static int deliver_page(struct be_session *s, const struct graph_page *page, const char *wanted,
                        remote_event_cb cb, void *arg, int64_t *untagged, struct error *err)
{
	size_t i;
	const json_t *obj;

	json_array_foreach(page->value, i, obj)
	{
		const char *tag = graph_event_tag(obj, s->prop_id);
		struct remote_event re;
		int stop;

		if (!tag || (wanted && strcasecmp(tag, wanted) != 0) ||
		    (!wanted && !be_tag_accepted(s->env, tag))) {
			if (untagged) /* not this store's (another instance's included): counted */
				++*untagged;
			continue; /* not the engine's, or another instance's: never touched */
		}
		if (graph_parse_event(obj, s->prop_id, &re, err) < 0)
			return -1;
		stop = cb(arg, &re);
		remote_event_free(&re);
		if (stop)
			return 1;
	}
	return 0;
}

/* Walks a collection from a parsed first page, following @odata.nextLink only to the configured
 * host. Takes ownership of first. */
static enum be_status walk_pages(struct be_session *s, const char *mailbox, json_t *first,
                                 const char *wanted, remote_event_cb cb, void *arg,
                                 int64_t *untagged, struct error *err)
{
	json_t *page = first;
	enum be_status st = BE_OK;

	while (page) {
		struct graph_page p;
		char *next;
		int r;

		if (graph_parse_page(page, &p, err) < 0) {
			st = BE_RETRY_NOW;
			break;
		}
		r = deliver_page(s, &p, wanted, cb, arg, untagged, err);
		if (r != 0) {
			st = r < 0 ? BE_FINAL : BE_OK;
			break;
		}
		if (!p.next_link)
			break;
		if (graph_check_link(p.next_link, s->base, err) < 0) {
			st = BE_FINAL;
			break;
		}
		next = xstrdup(p.next_link);
		json_decref(page);
		page = NULL;
		st = graph_get_json(s, mailbox, next, &page, err);
		free(next);
		if (st != BE_OK)
			break;
	}
	json_decref(page);
	return st;
}

static enum be_status graph_find_by_sync_keys(struct be_session *s, const char *mailbox,
                                              const char *const *keys, size_t n, remote_event_cb cb,
                                              void *arg, struct error *err)
{
	struct error local;
	struct graph_subreq *reqs;
	const char *user;
	enum be_status st;
	size_t i;

	if (!err)
		err = &local;
	error_clear(err);
	st = graph_user_key(s, mailbox, &user, err);
	if (st != BE_OK)
		return st;
	reqs = xcalloc(n ? n : 1, sizeof *reqs);
	/* one documented $filter per key, all in one $batch (an `or` of Any() lambdas is not
	 * documented for extended properties) */
	for (i = 0; i < n; i++) {
		reqs[i].op = GRAPH_OP_FIND;
		reqs[i].mailbox = mailbox;
		reqs[i].url = graph_build_find_by_key(user, s->prop_id, keys[i]);
		reqs[i].key = keys[i];
	}
	st = graph_batch_run(s, reqs, n, true, err);
	for (i = 0; st == BE_OK && i < n; i++) {
		if (reqs[i].be != BE_OK) {
			st = reqs[i].be;
			error_set(err, "finding events by sync key: %s", reqs[i].message);
			break;
		}
		st = walk_pages(s, mailbox, json_incref(reqs[i].answer), reqs[i].key, cb, arg, NULL,
		                err);
	}
	for (i = 0; i < n; i++)
		graph_subreq_free(&reqs[i]);
	free(reqs);
	return st;
}

static enum be_status graph_list_events_counted(struct be_session *s, const char *mailbox,
                                                int64_t from, int64_t to, remote_event_cb cb,
                                                void *arg, int64_t *untagged, struct error *err)
{
	struct error local;
	char *rel, *url;
	json_t *first = NULL;
	const char *user;
	enum be_status st;

	if (!err)
		err = &local;
	error_clear(err);
	st = graph_user_key(s, mailbox, &user, err);
	if (st != BE_OK)
		return st;
	rel = graph_build_calendar_view(user, s->prop_id, from, to);
	url = graph_absolute_url(s->base, rel);
	st = graph_get_json(s, mailbox, url, &first, err);
	if (untagged)
		*untagged = 0;
	if (st == BE_OK)
		st = walk_pages(s, mailbox, first, NULL, cb, arg, untagged, err);
	free(rel);
	free(url);
	return st;
}

static enum be_status graph_list_events(struct be_session *s, const char *mailbox, int64_t from,
                                        int64_t to, remote_event_cb cb, void *arg,
                                        struct error *err)
{
	return graph_list_events_counted(s, mailbox, from, to, cb, arg, NULL, err);
}

/* The URL of a nextLink relative to the version root, as a $batch sub-request needs it ("url:
 * relative resource URL", [Graph json-batching]); NULL when it is not under base. */
static char *relative_link(const struct be_session *s, const char *link)
{
	size_t n = strlen(s->base);

	if (strncmp(link, s->base, n) != 0 || link[n] != '/')
		return NULL;
	return xstrdup(link + n);
}

/* One $batch of up to 20 calendarView requests, one per mailbox (so one per mailbox at a time,
 * within Outlook's 4 concurrent requests per app and mailbox [Graph throttling-limits]); each
 * mailbox's @odata.nextLink goes into the next batch ([Graph json-batching]: a batch answers each
 * sub-request with its page, links absolute). A batch of N mailboxes with one page each is one
 * HTTP request instead of N. Delegated tokens are per user: one by one. */
static void graph_list_events_many(struct be_session *s, const char *const *mailboxes, size_t n,
                                   int64_t from, int64_t to, remote_event_cb cb, void *const *args,
                                   enum be_status *status, struct error *errs)
{
	struct graph_subreq *reqs = xcalloc(n ? n : 1, sizeof *reqs);
	size_t *owner = xcalloc(n ? n : 1, sizeof *owner), k = 0;

	graph_users_prefetch(s, mailboxes, n); /* app-only: the new ones in one $batch */
	for (size_t i = 0; i < n; i++) {
		const char *user;

		error_clear(&errs[i]);
		if (!s->app_only) {
			status[i] = graph_list_events_counted(s, mailboxes[i], from, to, cb,
			                                      args[i], NULL, &errs[i]);
			continue;
		}
		status[i] = graph_user_key(s, mailboxes[i], &user, &errs[i]);
		if (status[i] != BE_OK)
			continue;
		reqs[k].op = GRAPH_OP_FIND;
		reqs[k].mailbox = mailboxes[i];
		reqs[k].url = graph_build_calendar_view(user, s->prop_id, from, to);
		owner[k++] = i;
	}
	while (k > 0) {
		struct error batch_err;
		size_t next = 0;

		error_clear(&batch_err);
		graph_batch_run(s, reqs, k, true, &batch_err);
		for (size_t j = 0; j < k; j++) {
			struct graph_subreq *r = &reqs[j];
			size_t i = owner[j];
			struct graph_page p;
			char *rel;
			int stop;

			if (r->be != BE_OK) {
				status[i] = r->be;
				error_set(&errs[i], "listing the calendar of %s: %s", mailboxes[i],
				          r->message);
				graph_subreq_free(r);
				continue;
			}
			if (graph_parse_page(r->answer, &p, &errs[i]) < 0) {
				status[i] = BE_RETRY_NOW;
				graph_subreq_free(r);
				continue;
			}
			stop = deliver_page(s, &p, NULL, cb, args[i], NULL, &errs[i]);
			if (stop != 0 || !p.next_link) {
				status[i] = stop < 0 ? BE_FINAL : BE_OK;
				graph_subreq_free(r);
				continue;
			}
			rel = graph_check_link(p.next_link, s->base, &errs[i]) == 0
			          ? relative_link(s, p.next_link)
			          : NULL;
			if (!rel) {
				if (!errs[i].msg[0])
					error_set(&errs[i],
					          "refusing to follow a nextLink outside %s: %s",
					          s->base, p.next_link);
				status[i] = BE_FINAL;
				graph_subreq_free(r);
				continue;
			}
			graph_subreq_free(r);
			memset(&reqs[next], 0, sizeof reqs[next]);
			reqs[next].op = GRAPH_OP_FIND;
			reqs[next].mailbox = mailboxes[i];
			reqs[next].url = rel;
			owner[next++] = i;
		}
		k = next;
	}
	free(reqs);
	free(owner);
}

static enum be_status graph_probe_mailbox(struct be_session *s, const char *mailbox,
                                          struct error *err)
{
	struct error local;
	char *path;
	struct buf url = BUF_INIT;
	json_t *page = NULL;
	const char *user;
	enum be_status st;

	if (!err)
		err = &local;
	error_clear(err);
	st = graph_user_key(s, mailbox, &user, err);
	if (st != BE_OK)
		return st;
	path = graph_path_events(user);
	buf_printf(&url, "%s%s?$top=1&$select=id", s->base, path);
	st = graph_get_json(s, mailbox, url.data, &page, err);
	if (st != BE_OK)
		error_prefix(err, "reading the calendar of %s: ", mailbox);
	json_decref(page);
	buf_free(&url);
	free(path);
	return st;
}

const struct backend graph_backend = {
    .name = "graph",
    /* A write call may mix mailboxes in both modes: an app-only token covers every mailbox and
     * they share one $batch; delegated tokens are per mailbox, so graph_batch_run sends one
     * $batch per mailbox of the call (the mode is only known once a session is open). */
    .caps = CAP_CROSS_MAILBOX_BATCH | CAP_TRANSACTION_ID | CAP_IMMUTABLE_IDS,
    .max_batch = GRAPH_MAX_BATCH,
    .session_open = graph_session_open,
    .session_close = graph_session_close,
    .create_events = graph_create_events,
    .update_events = graph_update_events,
    .delete_events = graph_delete_events,
    .get_event = graph_get_event,
    .find_by_sync_keys = graph_find_by_sync_keys,
    .list_events = graph_list_events,
    .list_events_counted = graph_list_events_counted,
    .list_events_many = graph_list_events_many,
    .probe_mailbox = graph_probe_mailbox,
};
