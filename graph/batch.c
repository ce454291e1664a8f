/* JSON $batch ([Graph json-batching], [Graph throttling]): up to 20 requests per HTTP call, answers
 * matched to requests by id (they come in any order), a throttled sub-request retried alone after
 * its own Retry-After.
 *
 * A batch is either fully parallel (no dependsOn anywhere) or fully sequential (every request
 * depends on the one before): Graph refuses anything in between as a whole, "400 BadRequest: Batch
 * should be either fully sequential or fully parallel." (microsoftgraph/microsoft-graph-docs-
 * contrib#2339, msgraph-sdk-java-core#71). Outlook allows 4 concurrent requests per app and
 * mailbox ([Graph throttling-limits]), so a parallel batch carries at most `mailbox_cap` requests
 * of one mailbox and the rest wait for the next batch; a sequential batch runs one request at a
 * time and may carry 20 of one mailbox. graph_batch_plan picks: parallel when everything pending
 * fits, else sequential until a request of the group failed (a failure makes the rest of a chain
 * 424), then parallel. */
#include "graph/graph.h"

#include "common/util.h"
#include "engine/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUNDS 8

static const char *op_method(enum graph_op op)
{
	switch (op) {
	case GRAPH_OP_CREATE:
		return "POST";
	case GRAPH_OP_UPDATE:
		return "PATCH";
	case GRAPH_OP_DELETE:
		return "DELETE";
	case GRAPH_OP_FIND:
		break;
	}
	return "GET";
}

void graph_subreq_free(struct graph_subreq *r)
{
	free(r->url);
	json_decref(r->body);
	json_decref(r->answer);
	r->url = NULL;
	r->body = r->answer = NULL;
}

static json_t *id_json(size_t index)
{
	char id[24];

	snprintf(id, sizeof id, "%zu", index + 1);
	return json_string(id);
}

bool graph_batch_plan(struct graph_subreq *reqs, size_t n, int mailbox_cap, bool allow_sequential)
{
	size_t pending = 0, taken = 0;
	bool fits = true;

	if (mailbox_cap < 1)
		mailbox_cap = 1;
	for (size_t i = 0; i < n; i++) {
		reqs[i].sent = false;
		pending += !reqs[i].done;
	}
	/* Would a parallel batch carry every pending request? */
	for (size_t i = 0; i < n && fits; i++) {
		int same = 0;

		if (reqs[i].done)
			continue;
		for (size_t j = 0; j <= i; j++)
			same += !reqs[j].done && strcmp(reqs[j].mailbox, reqs[i].mailbox) == 0;
		fits = same <= mailbox_cap;
	}
	fits = fits && pending <= GRAPH_MAX_BATCH;
	if (!fits && allow_sequential) {
		for (size_t i = 0; i < n && taken < GRAPH_MAX_BATCH; i++)
			if (!reqs[i].done) {
				reqs[i].sent = true;
				taken++;
			}
		return true;
	}
	/* Parallel: up to mailbox_cap of each mailbox, in order, other mailboxes fill the batch. */
	for (size_t i = 0; i < n && taken < GRAPH_MAX_BATCH; i++) {
		int same = 0;

		if (reqs[i].done)
			continue;
		for (size_t j = 0; j < i; j++)
			same += reqs[j].sent && strcmp(reqs[j].mailbox, reqs[i].mailbox) == 0;
		if (same < mailbox_cap) {
			reqs[i].sent = true;
			taken++;
		}
	}
	return false;
}

json_t *graph_batch_body(struct graph_subreq *reqs, size_t n, bool sequential, bool read_prefs)
{
	json_t *requests = json_array(), *root = json_object();
	long previous = -1;

	for (size_t i = 0; i < n; i++) {
		json_t *r, *h;

		if (!reqs[i].sent || reqs[i].done)
			continue;
		r = json_object();
		h = json_object();
		json_object_set_new(r, "id", id_json(i));
		json_object_set_new(r, "method", json_string(op_method(reqs[i].op)));
		json_object_set_new(r, "url", json_string(reqs[i].url));
		/* "This header only applies to the request it is included with": every
		 * sub-request carries it. One Prefer member, preferences comma-separated
		 * (RFC 7240), as a JSON object cannot repeat a name. */
		json_object_set_new(h, "Prefer",
		                    json_string(read_prefs ? GRAPH_PREFER_IMMUTABLE
		                                    ", " GRAPH_PREFER_UTC ", " GRAPH_PREFER_TEXT
		                                    ", " GRAPH_PREFER_PAGE
		                                           : GRAPH_PREFER_IMMUTABLE));
		if (reqs[i].if_match)
			json_object_set_new(h, "If-Match", json_string(reqs[i].if_match));
		if (reqs[i].consistency)
			json_object_set_new(h, "ConsistencyLevel",
			                    json_string(reqs[i].consistency));
		if (reqs[i].body) {
			json_object_set_new(h, "Content-Type", json_string("application/json"));
			json_object_set(r, "body", reqs[i].body);
		}
		json_object_set_new(r, "headers", h);
		if (sequential && previous >= 0) {
			json_t *d = json_array();

			json_array_append_new(d, id_json((size_t)previous));
			json_object_set_new(r, "dependsOn", d);
		}
		previous = (long)i;
		json_array_append_new(requests, r);
	}
	json_object_set_new(root, "requests", requests);
	return root;
}

static const struct graph_subresp *find_resp(const struct graph_subresp *resps, size_t nresp,
                                             size_t index)
{
	char id[24];

	snprintf(id, sizeof id, "%zu", index + 1);
	for (size_t i = 0; i < nresp; i++)
		if (strcmp(resps[i].id, id) == 0)
			return &resps[i];
	return NULL;
}

static void finish(struct graph_subreq *r, enum be_status be)
{
	r->done = true;
	r->be = be;
}

/* A 2xx sub-response. */
static void apply_success(struct graph_subreq *r, const struct graph_subresp *sr)
{
	struct error err;
	char *id = NULL, *etag = NULL;

	error_clear(&err);
	switch (r->op) {
	case GRAPH_OP_DELETE:
		finish(r, BE_OK);
		return;
	case GRAPH_OP_FIND:
		if (!json_is_object(sr->body)) {
			snprintf(r->message, sizeof r->message,
			         "Graph's $batch answer to GET %.*s has no JSON body",
			         (int)strcspn(r->url, "?"), r->url);
			finish(r, BE_RETRY_NOW);
			return;
		}
		r->answer = json_incref((json_t *)sr->body);
		finish(r, BE_OK);
		return;
	case GRAPH_OP_CREATE:
	case GRAPH_OP_UPDATE:
		break;
	}
	if (graph_parse_write(sr->body, r->op == GRAPH_OP_CREATE, &id, &etag, &err) < 0) {
		/* the write happened; a create is found again by its sync key on the next run */
		snprintf(r->message, sizeof r->message, "%s (HTTP %d on %s %s)", err.msg,
		         sr->status, op_method(r->op), r->url);
		finish(r, BE_RETRY_NOW);
		return;
	}
	if (r->item) {
		free(r->item->new_remote_id);
		free(r->item->new_change_key);
		r->item->new_remote_id = id;
		r->item->new_change_key = etag;
	} else {
		free(id);
		free(etag);
	}
	finish(r, BE_OK);
}

long graph_batch_apply(struct be_session *s, struct graph_subreq *reqs, size_t n,
                       const struct graph_subresp *resps, size_t nresp, int *auth_failed)
{
	long wait = 0;

	*auth_failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct graph_subreq *r = &reqs[i];
		const struct graph_subresp *sr;
		enum be_status be;

		if (r->done || !r->sent)
			continue; /* not in this batch: waits for the next one */
		sr = find_resp(resps, nresp, i);
		if (!sr) {
			snprintf(
			    r->message, sizeof r->message,
			    "Graph's $batch answer has no response for request id %zu (%s %.*s)",
			    i + 1, op_method(r->op), (int)strcspn(r->url, "?"), r->url);
			finish(r, BE_RETRY_NOW);
			continue;
		}
		r->status = sr->status;
		if (sr->status >= 200 && sr->status < 300) {
			apply_success(r, sr);
			continue;
		}
		be = graph_describe_failure(op_method(r->op), r->url, sr->status, NULL, sr->body,
		                            s->app_only, r->message, sizeof r->message);
		if (r->op == GRAPH_OP_DELETE && sr->status == 404 && json_is_object(sr->body))
			be = BE_GONE; /* deleted already: done */
		r->be = be;
		r->retry_after_ms = sr->retry_after_ms > 0 ? sr->retry_after_ms : 0;
		if (sr->status == 429 ||
		    (sr->status == 503 && be == BE_RETRY_LATER && sr->retry_after_ms >= 0)) {
			/* throttled, so not executed: retried alone, after its own Retry-After (a
			 * create with the same body and transactionId). A 504 or another 5xx may
			 * have been executed: it goes back to the engine, which looks a create up
			 * before sending it again. */
			if (sr->retry_after_ms < 0 && wait == 0)
				wait = -1;
			else if (sr->retry_after_ms > wait)
				wait = sr->retry_after_ms;
			continue;
		}
		if (sr->status == 424) /* a request it depended on failed: send it again */
			continue;
		if (sr->status == 401 && !r->auth_retried) {
			r->auth_retried = true;
			(*auth_failed)++;
			continue;
		}
		finish(r, be);
	}
	return wait;
}

static size_t count_pending(const struct graph_subreq *reqs, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += !reqs[i].done;
	return k;
}

/* Every pending request gets the shared status and message. */
static void finish_pending(struct graph_subreq *reqs, size_t n, enum be_status be,
                           const char *message, long retry_after_ms)
{
	for (size_t i = 0; i < n; i++) {
		if (reqs[i].done)
			continue;
		if (message)
			snprintf(reqs[i].message, sizeof reqs[i].message, "%s", message);
		reqs[i].retry_after_ms = retry_after_ms > 0 ? retry_after_ms : 0;
		finish(&reqs[i], be);
	}
}

/* Graph answered the $batch request itself with a client error (400 "Batch should be either fully
 * sequential or fully parallel.", a malformed batch): nothing in it ran, and nothing in it is the
 * leave's fault, whatever the row for a sub-request's 400 says. */
static bool batch_refused(long status, const json_t *answer)
{
	struct graph_error ge;

	return status >= 400 && status < 500 && status != 401 && status != 429 &&
	       graph_parse_error(answer, &ge);
}

static enum be_status refused_batch_message(long status, const json_t *answer, struct error *err)
{
	struct graph_error ge;

	size_t len;

	graph_parse_error(answer, &ge);
	len = strlen(ge.message);
	if (len && ge.message[len - 1] == '.')
		ge.message[len - 1] = '\0';
	error_set(err,
	          "Graph refused the whole $batch request, before running any of it: %s (HTTP "
	          "%ld): %s. This is a leavesync protocol error, not a problem of the leave: "
	          "the items wait and are retried; report it if it persists%s%s%s",
	          *ge.code ? ge.code : "no code", status, ge.message,
	          *ge.request_id ? " (request-id " : "", ge.request_id, *ge.request_id ? ")" : "");
	return BE_RETRY_LATER;
}

/* A batch holding a create is never sent twice by the transport (engine/http.h). */
static bool holds_create(const struct graph_subreq *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!reqs[i].done && reqs[i].op == GRAPH_OP_CREATE)
			return true;
	return false;
}

/* One POST {base}/$batch. Returns BE_OK with *answer (the parsed body) and *status, or a status
 * shared by every pending request (err says why). */
static enum be_status post_batch(struct be_session *s, struct graph_subreq *reqs, size_t n,
                                 bool sequential, bool read_prefs, bool force_refresh,
                                 json_t **answer, long *status, long *retry_after_ms,
                                 struct error *err)
{
	static const char *const headers[] = {"Prefer: " GRAPH_PREFER_IMMUTABLE, NULL};
	struct http_response resp = {0};
	const char *token = NULL;
	char *url, *body;
	json_t *req;
	enum be_status st;
	enum http_failure f;

	*answer = NULL;
	*retry_after_ms = -1;
	st = s->env->tokens->get(s->env->tokens, reqs[0].mailbox, force_refresh, &token, err);
	if (st != BE_OK)
		return st;
	req = graph_batch_body(reqs, n, sequential, read_prefs);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	url = graph_absolute_url(s->base, "/$batch");
	f = http_perform(s->http,
	                 &(struct http_request){.method = "POST",
	                                        .url = url,
	                                        .bearer = token,
	                                        .content_type = "application/json",
	                                        .body = body,
	                                        .body_len = strlen(body),
	                                        .headers = headers,
	                                        .once = holds_create(reqs, n)},
	                 &resp, err);
	free(body);
	if (f != HTTP_OK) {
		free(url);
		return graph_transport_status(f);
	}
	*status = resp.status;
	*retry_after_ms = resp.retry_after_ms;
	*answer = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
	st = BE_OK;
	if (!json_object_get(*answer, "responses") && resp.status != 401) {
		/* the batch as a whole failed (malformed, throttled, an HTML gateway page) */
		st = graph_describe_failure("POST", url, (int)resp.status, resp.content_type,
		                            *answer, s->app_only, err->msg, sizeof err->msg);
		if (batch_refused(resp.status, *answer))
			st = refused_batch_message(resp.status, *answer, err);
	}
	free(url);
	http_response_free(&resp);
	return st;
}

enum be_status graph_batch_send_once(struct be_session *s, struct graph_subreq *reqs, size_t n,
                                     json_t **answer, struct error *err)
{
	long status = 0, retry_after;
	enum be_status st = BE_OK;

	*answer = NULL;
	for (size_t i = 0; i < n; i++)
		reqs[i].sent = !reqs[i].done;
	for (int attempt = 0; attempt < 2; attempt++) {
		json_decref(*answer);
		st = post_batch(s, reqs, n, false, false, attempt > 0, answer, &status,
		                &retry_after, err);
		if (st != BE_OK || status != 401)
			break;
	}
	if (st == BE_OK && status == 401)
		st = graph_describe_failure("POST", "$batch", 401, NULL, *answer, s->app_only,
		                            err->msg, sizeof err->msg);
	if (st != BE_OK) {
		json_decref(*answer);
		*answer = NULL;
	}
	return st;
}

static void default_sleep(void *arg, int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	(void)arg;
	while (nanosleep(&ts, &ts) != 0)
		;
}

void graph_pause_ms(struct be_session *s, long ms)
{
	/* never past the run's deadline: the requests after it would not be sent anyway */
	if (s->env && s->env->deadline_ms) {
		int64_t left = s->env->deadline_ms - now_ms();

		if (left < ms)
			ms = left > 0 ? (long)left : 0;
	}
	if (ms <= 0)
		return;
	if (s->sleep_ms)
		s->sleep_ms(s->sleep_arg, (int)ms);
	else
		default_sleep(NULL, (int)ms);
}

/* Requests of one mailbox (delegated) or of any mailboxes (app-only), n <= 20. */
static enum be_status run_group(struct be_session *s, struct graph_subreq *reqs, size_t n,
                                bool read_prefs, struct error *err)
{
	bool force = false, any_result = false, failed_before = false;
	long waited = 0;
	int cap = s->mailbox_cap > 0 ? s->mailbox_cap : 1;
	/* a parallel batch sends at most cap of one mailbox: the rest need more rounds */
	int max_rounds = MAX_ROUNDS + (int)((n + (size_t)cap - 1) / (size_t)cap);

	for (int round = 0; count_pending(reqs, n) > 0; round++) {
		struct graph_subresp *resps = NULL;
		size_t nresp = 0;
		json_t *answer = NULL;
		long status = 0, retry_after = -1, wait;
		size_t pending;
		bool progressed, sequential;
		int auth_failed = 0;
		enum be_status st;

		if (round >= max_rounds) {
			for (size_t i = 0; i < n; i++)
				if (!reqs[i].done && !reqs[i].message[0])
					snprintf(reqs[i].message, sizeof reqs[i].message,
					         "no final answer after %d $batch rounds",
					         max_rounds);
			for (size_t i = 0; i < n; i++)
				if (!reqs[i].done)
					finish(&reqs[i], reqs[i].be ? reqs[i].be : BE_RETRY_NOW);
			break;
		}
		sequential = graph_batch_plan(reqs, n, cap, !failed_before);
		st = post_batch(s, reqs, n, sequential, read_prefs, force, &answer, &status,
		                &retry_after, err);
		if (st == BE_OK && status == 401 && !force) {
			json_decref(answer);
			force = true; /* refresh the token once, then send again */
			continue;
		}
		if (st == BE_OK && status == 401)
			st = graph_describe_failure("POST", "$batch", 401, NULL, answer,
			                            s->app_only, err->msg, sizeof err->msg);
		if (st == BE_OK && graph_parse_batch(answer, &resps, &nresp, err) < 0)
			st = BE_RETRY_NOW;
		if (st != BE_OK) {
			/* The whole batch failed (throttled, unavailable, an HTML page): nothing
			 * progressed, so the executor retries it, after Retry-After. Retrying here
			 * as well multiplied the attempts under a persistent fault (rounds x
			 * rounds). */
			json_decref(answer);
			finish_pending(reqs, n, st, err->msg, retry_after);
			return any_result ? BE_OK : st;
		}
		any_result = true;
		pending = count_pending(reqs, n);
		wait = graph_batch_apply(s, reqs, n, resps, nresp, &auth_failed);
		progressed = count_pending(reqs, n) < pending;
		/* a failure in a chain fails the rest of it (424): isolate them from now on */
		for (size_t i = 0; i < n; i++)
			failed_before |= reqs[i].sent && reqs[i].status >= 400;
		free(resps);
		json_decref(answer);
		if (auth_failed)
			force = true;
		if (wait < 0)
			wait = 1000L << (round < 5 ? round : 5); /* no Retry-After: back off */
		if (wait > 0) {
			bool throttled_left = false;

			for (size_t i = 0; i < n; i++)
				throttled_left |= !reqs[i].done && reqs[i].be == BE_RETRY_LATER;
			/* Throttled requests are retried here, alone, only while the batch makes
			 * progress; otherwise they go back to the executor with the wait as hint.
			 */
			if (throttled_left && (!progressed || waited + wait > s->max_wait_ms)) {
				for (size_t i = 0; i < n; i++)
					if (!reqs[i].done && reqs[i].be == BE_RETRY_LATER) {
						reqs[i].retry_after_ms = wait;
						finish(&reqs[i], BE_RETRY_LATER);
					}
				continue;
			}
			graph_pause_ms(s, wait);
			waited += wait;
		}
	}
	return BE_OK;
}

static int by_mailbox(const void *a, const void *b)
{
	return strcmp(((const struct graph_subreq *)a)->mailbox,
	              ((const struct graph_subreq *)b)->mailbox);
}

/* Copies each request's result into its item. */
static void report(struct graph_subreq *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct be_item *it = reqs[i].item;

		if (!it)
			continue;
		it->status = reqs[i].be;
		it->retry_after_ms = reqs[i].be == BE_RETRY_LATER ? (int)reqs[i].retry_after_ms : 0;
		snprintf(it->message, sizeof it->message, "%s",
		         reqs[i].be == BE_OK ? "" : reqs[i].message);
	}
}

enum be_status graph_batch_run(struct be_session *s, struct graph_subreq *reqs, size_t n,
                               bool read_prefs, struct error *err)
{
	enum be_status st = BE_OK, group_st;
	size_t start = 0;

	/* delegated tokens are per mailbox: one batch holds one mailbox's requests */
	if (!s->app_only)
		qsort(reqs, n, sizeof *reqs, by_mailbox);
	while (start < n) {
		size_t end = start + 1;

		while (end < n && end - start < s->batch_size &&
		       (s->app_only || strcmp(reqs[end].mailbox, reqs[start].mailbox) == 0))
			end++;
		group_st = run_group(s, reqs + start, end - start, read_prefs, err);
		if (group_st != BE_OK && (start == 0 && end == n))
			st = group_st;
		start = end;
	}
	report(reqs, n);
	return st;
}
