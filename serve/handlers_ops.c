/* /v1/resync, /v1/reconcile, /v1/runs/{id}, /healthz, /readyz, /metrics — docs/api.md. */
#include "serve/serve_int.h"

#include "common/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *read_object(struct sreq *rq, struct sresp *rs, bool empty_ok)
{
	json_error_t jerr;
	json_t *j;

	if (rq->body_len == 0 && empty_ok)
		return json_object();
	j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		sresp_problem(rs, 400, "invalid-json", "The body is not valid JSON",
		              "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
	else if (!json_is_object(j)) {
		sresp_problem(rs, 400, "invalid-json", "The body is not a JSON object",
		              "send a JSON object");
		json_decref(j);
		j = NULL;
	}
	return j;
}

static json_t *job_json(const struct api_job *jb)
{
	char req[21], start[21], fin[21];
	json_t *params = json_loads(jb->params ? jb->params : "{}", 0, NULL);
	json_t *result = jb->result ? json_loads(jb->result, 0, NULL) : NULL;

	format_utc(req, jb->requested_at);
	if (jb->started_at)
		format_utc(start, jb->started_at);
	if (jb->finished_at)
		format_utc(fin, jb->finished_at);
	return json_pack("{s:I, s:s, s:o, s:s, s:s, s:s?, s:s?, s:o, s:o}", "id",
	                 (json_int_t)jb->id, "kind", jb->kind, "params",
	                 params ? params : json_object(), "state", jb->state, "requested_at", req,
	                 "started_at", jb->started_at ? start : NULL, "finished_at",
	                 jb->finished_at ? fin : NULL, "history_run",
	                 jb->run_id ? json_integer(jb->run_id) : json_null(), "result",
	                 result ? result : json_null());
}

static void queue_job(struct sreq *rq, struct sresp *rs, const char *kind, json_t *params)
{
	struct error err = {{0}};
	struct api_job jb;
	char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
	int64_t id;

	if (store_job_add(rq->st, kind, text, rq->who->name[0] ? rq->who->name : NULL, &id, &err) <
	        0 ||
	    store_job_get(rq->st, id, &jb, &err) != 1) {
		free(text);
		sresp_problem(rs, 500, "store-error", "The job could not be queued", "%s", err.msg);
		return;
	}
	free(text);
	scheduler_notify_job(rq->srv->sched);
	snprintf(rs->location, sizeof rs->location, "/v1/runs/%lld", (long long)id);
	sresp_json(rs, 202, job_json(&jb));
	api_job_free(&jb);
}

static int count_one(void *arg, const struct leave_status *s)
{
	(void)s;
	*(int *)arg = 1;
	return 1;
}

static int leave_exists(struct store *st, const char *id, const char *mailbox, struct error *err)
{
	struct leave_filter f = {.id = id, .mailbox = mailbox, .limit = 1};
	int found = 0;

	if (store_each_leave_status(st, &f, count_one, &found, err) < 0)
		return -1;
	return found;
}

void h_resync(struct sreq *rq, struct sresp *rs)
{
	json_t *j = read_object(rq, rs, false), *leave, *mailbox, *all, *params;
	struct error err = {{0}};
	int chosen, found = 1;

	if (!j)
		return;
	leave = json_object_get(j, "leave");
	mailbox = json_object_get(j, "mailbox");
	all = json_object_get(j, "all");
	chosen = (leave != NULL) + (mailbox != NULL) + (all != NULL);
	if (chosen != 1 || json_object_size(j) != 1 || (leave && !json_is_string(leave)) ||
	    (mailbox && !json_is_string(mailbox)) || (all && !json_is_true(all))) {
		sresp_problem(rs, 422, "bad-resync", "Say what to resync",
		              "send exactly one of {\"leave\": ID}, {\"mailbox\": EMAIL} or "
		              "{\"all\": true}");
		json_decref(j);
		return;
	}
	if (mailbox) {
		char *m = xstrdup(json_string_value(mailbox));
		for (char *p = m; *p; p++)
			*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
		json_object_set_new(j, "mailbox", json_string(m));
		found = leave_exists(rq->st, NULL, m, &err);
		free(m);
	} else if (leave) {
		found = leave_exists(rq->st, json_string_value(leave), NULL, &err);
	}
	if (found < 0) {
		sresp_problem(rs, 500, "store-error", "The store could not be read", "%s", err.msg);
	} else if (found == 0) {
		sresp_problem(rs, 404, "unknown-resync-target", "Nothing to resync",
		              "no leave matches %s %s", leave ? "leave" : "mailbox",
		              json_string_value(leave ? leave : json_object_get(j, "mailbox")));
	} else {
		params = json_deep_copy(j);
		queue_job(rq, rs, "resync", params);
		json_decref(params);
	}
	json_decref(j);
}

static bool is_date(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%d", &tm) : NULL;

	return end && !*end && strlen(s) == 10;
}

void h_reconcile(struct sreq *rq, struct sresp *rs)
{
	json_t *j = read_object(rq, rs, true), *v;
	const char *key;
	bool ok = true;

	if (!j)
		return;
	json_object_foreach(j, key, v)
	{
		if (!strcmp(key, "dry_run"))
			ok &= json_is_boolean(v);
		else if (!strcmp(key, "mailbox"))
			ok &= json_is_string(v) && strchr(json_string_value(v), '@') != NULL;
		else if (!strcmp(key, "from") || !strcmp(key, "to"))
			ok &= json_is_string(v) && is_date(json_string_value(v));
		else
			ok = false;
	}
	if (ok && json_object_get(j, "from") && json_object_get(j, "to") &&
	    strcmp(json_string_value(json_object_get(j, "from")),
	           json_string_value(json_object_get(j, "to"))) >= 0)
		ok = false;
	if (!ok) {
		sresp_problem(
		    rs, 422, "bad-reconcile", "Bad reconcile request",
		    "allowed members: dry_run (boolean), mailbox (an address), from and to "
		    "(YYYY-MM-DD, from before to); all optional");
		json_decref(j);
		return;
	}
	if (json_object_get(j, "mailbox")) {
		char *m = xstrdup(json_string_value(json_object_get(j, "mailbox")));
		for (char *p = m; *p; p++)
			*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
		json_object_set_new(j, "mailbox", json_string(m));
		free(m);
	}
	queue_job(rq, rs, "reconcile", j);
	json_decref(j);
}

void h_get_run(struct sreq *rq, struct sresp *rs)
{
	struct error err = {{0}};
	struct api_job jb;
	char *end;
	long long id = strtoll(rq->param, &end, 10);
	int rc;

	if (*end || end == rq->param || id <= 0) {
		sresp_problem(rs, 404, "no-such-run", "No such run", "run ids are whole numbers");
		return;
	}
	rc = store_job_get(rq->st, id, &jb, &err);
	if (rc < 0)
		sresp_problem(rs, 500, "store-error", "The store could not be read", "%s", err.msg);
	else if (rc == 0)
		sresp_problem(rs, 404, "no-such-run", "No such run", "no run %lld was queued", id);
	else
		sresp_json(rs, 200, job_json(&jb));
	if (rc > 0)
		api_job_free(&jb);
}

void h_healthz(struct sreq *rq, struct sresp *rs)
{
	(void)rq;
	sresp_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

int serve_ready(struct serve *s, struct store *st, char *why, size_t whylen)
{
	struct error err = {{0}};

	why[0] = '\0';
	/* writable: a write transaction can begin (and is rolled back at once) */
	if (store_begin(st, &err) < 0) {
		snprintf(why, whylen, "the store is not writable: %s", err.msg);
		return 0;
	}
	store_rollback(st);
	pthread_mutex_lock(&s->status_mu);
	if (s->last_run_error[0])
		snprintf(why, whylen, "the last sync could not run: %s", s->last_run_error);
	pthread_mutex_unlock(&s->status_mu);
	return why[0] ? 0 : 1;
}

void h_readyz(struct sreq *rq, struct sresp *rs)
{
	char why[700];

	if (serve_ready(rq->srv, rq->st, why, sizeof why))
		sresp_json(rs, 200, json_pack("{s:s}", "status", "ready"));
	else
		sresp_problem(rs, 503, "not-ready", "Not ready", "%s", why);
}

static int64_t last_success(struct store *st, const char *command)
{
	struct run_record *runs = NULL;
	struct error err = {{0}};
	int64_t at = 0;
	size_t n = 0;

	if (store_recent_runs(st, command, 20, &runs, &n, &err) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!at && runs[i].finished_at && runs[i].exit_code == 0)
			at = runs[i].finished_at;
		run_record_free(&runs[i]);
	}
	free(runs);
	return at;
}

void h_metrics(struct sreq *rq, struct sresp *rs)
{
	struct metrics_gauges g = {0};
	struct error err = {{0}};
	char why[700];

	if (store_state_counts(rq->st, &g.counts, &err) < 0 ||
	    store_pending_work(rq->st, now_unix(), &g.queued_leaves, &g.queued_targets, &err) < 0 ||
	    store_job_count_queued(rq->st, &g.queued_jobs, &err) < 0) {
		sresp_problem(rs, 500, "store-error", "The store could not be read", "%s", err.msg);
		return;
	}
	g.last_success[0] = last_success(rq->st, "sync");
	g.last_success[1] = last_success(rq->st, "resync");
	g.last_success[2] = last_success(rq->st, "reconcile");
	g.started_at = rq->srv->started_at;
	g.ready = serve_ready(rq->srv, rq->st, why, sizeof why);
	rs->status = 200;
	snprintf(rs->content_type, sizeof rs->content_type,
	         "text/plain; version=0.0.4; charset=utf-8");
	metrics_render(rq->srv->metrics, &g, &rs->body);
}
