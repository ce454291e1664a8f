/* /v1/leave: upsert one (PUT), a batch (POST), read one (GET), list (GET) — docs/api.md. */
#include "serve/serve_int.h"

#include "common/util.h"
#include "engine/http.h"
#include "engine/tz.h"
#include "serve/parse.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000

/* "application/json; charset=utf-8" -> matches "application/json". */
static bool media_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (!ct || strncasecmp(ct, want, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static json_t *problems_json(const struct push_report *r)
{
	json_t *a = json_array();

	for (size_t i = 0; i < r->nproblems; i++) {
		const struct push_problem *p = &r->problems[i];
		json_array_append_new(
		    a, json_pack("{s:I, s:s?, s:s}", "record", (json_int_t)p->record, "field",
		                 p->field[0] ? p->field : NULL, "reason", p->reason));
	}
	return a;
}

static const char *format_name(enum push_format f)
{
	return f == PUSH_JSON     ? "json"
	       : f == PUSH_NDJSON ? "ndjson"
	       : f == PUSH_CSV    ? "csv"
	                          : "auto";
}

/* Writes data through store_push (the same validation and messages as `leavesync push`) and fills
 * the response: 200 with counts, 422 with problems, 500 when the store failed. */
static void push_and_answer(struct sreq *rq, struct sresp *rs, const char *data, size_t len,
                            enum push_format format, const char *single_id)
{
	struct push_options opt = {.format = format,
	                           .max_leave_days = rq->set->cfg.max_leave_days,
	                           .tz_known = tz_is_known_iana,
	                           .default_time_zone = rq->set->cfg.default_time_zone};
	struct push_report rep;
	struct error err = {{0}};
	json_t *notices, *j;
	int rc;

	pthread_mutex_lock(&rq->srv->write_mu);
	rc = store_push(rq->st, data, len, &opt, &rep, &err);
	pthread_mutex_unlock(&rq->srv->write_mu);
	if (rc < 0 && rep.nproblems > 0) {
		sresp_problem(rs, 422, "invalid-leave", "The leave is not valid",
		              "%zu problem%s found; nothing was written. Fix the input and send it "
		              "again.",
		              rep.nproblems, rep.nproblems == 1 ? "" : "s");
		j = json_loadb(rs->body.data, rs->body.len, 0, NULL);
		json_object_set_new(j, "problems", problems_json(&rep));
		json_object_set_new(j, "format", json_string(format_name(rep.format)));
		buf_free(&rs->body);
		sresp_json(rs, 422, j);
		strcpy(rs->content_type, "application/problem+json");
		push_report_free(&rep);
		return;
	}
	if (rc < 0) {
		sresp_problem(rs, 500, "store-error", "The store could not be written",
		              "%s; nothing was written", err.msg);
		push_report_free(&rep);
		return;
	}
	if (rep.inserted + rep.updated > 0)
		scheduler_notify_work(rq->srv->sched);
	if (single_id && rep.stale) {
		sresp_problem(rs, 409, "stale-revision", "A newer revision is stored",
		              "%s; nothing was written", rep.notices ? rep.notices[0] : "stale");
		push_report_free(&rep);
		return;
	}
	notices = json_array();
	for (size_t i = 0; i < rep.nnotices; i++)
		json_array_append_new(notices, json_string(rep.notices[i]));
	if (single_id) {
		const char *result = rep.inserted  ? "inserted"
		                     : rep.updated ? "updated"
		                                   : "unchanged";
		char *esc = http_escape(single_id);
		j = json_pack("{s:s, s:s}", "id", single_id, "result", result);
		snprintf(rs->location, sizeof rs->location, "/v1/leave/%s", esc);
		if (strlen(esc) >= sizeof rs->location - 11)
			rs->location[0] = '\0';
		free(esc);
		json_decref(notices);
		sresp_json(rs, rep.inserted ? 201 : 200, j);
	} else {
		j = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:o}", "records",
		              (json_int_t)rep.records, "format", format_name(rep.format),
		              "inserted", (json_int_t)rep.inserted, "updated",
		              (json_int_t)rep.updated, "unchanged", (json_int_t)rep.unchanged,
		              "stale", (json_int_t)rep.stale, "notices", notices);
		sresp_json(rs, 200, j);
	}
	push_report_free(&rep);
}

void h_put_leave(struct sreq *rq, struct sresp *rs)
{
	json_error_t jerr;
	json_t *rec, *id;
	char *line;

	if (!media_type_is(rq->content_type, "application/json")) {
		sresp_problem(rs, 415, "unsupported-media-type", "Send application/json",
		              "PUT /v1/leave/{id} takes one leave record as application/json");
		return;
	}
	rec = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!rec || !json_is_object(rec)) {
		if (rec)
			sresp_problem(rs, 400, "invalid-json", "The body is not a JSON object",
			              "send one leave record as a JSON object");
		else
			sresp_problem(rs, 400, "invalid-json", "The body is not valid JSON",
			              "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
		json_decref(rec);
		return;
	}
	id = json_object_get(rec, "id");
	if (id && !(json_is_string(id) && strcmp(json_string_value(id), rq->param) == 0)) {
		sresp_problem(rs, 422, "id-mismatch", "The record's id differs from the URL's",
		              "the record says id %s but the URL names '%s': leave id out of the "
		              "body or make them equal",
		              json_is_string(id) ? json_string_value(id) : "(not a string)",
		              rq->param);
		json_decref(rec);
		return;
	}
	json_object_set_new(rec, "id", json_string(rq->param));
	line = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(rec);
	if (!line) {
		sresp_problem(rs, 400, "invalid-json", "The record cannot be read",
		              "the id in the URL is not valid UTF-8");
		return;
	}
	push_and_answer(rq, rs, line, strlen(line), PUSH_NDJSON, rq->param);
	free(line);
}

void h_post_leave(struct sreq *rq, struct sresp *rs)
{
	enum push_format f;
	long n;

	if (media_type_is(rq->content_type, "application/json"))
		f = PUSH_JSON;
	else if (media_type_is(rq->content_type, "application/x-ndjson"))
		f = PUSH_NDJSON;
	else if (media_type_is(rq->content_type, "text/csv"))
		f = PUSH_CSV;
	else {
		sresp_problem(rs, 415, "unsupported-media-type", "Unsupported body format",
		              "POST /v1/leave takes a JSON array (application/json), NDJSON "
		              "(application/x-ndjson) or CSV (text/csv)");
		return;
	}
	n = serve_count_records(rq->body, rq->body_len, f);
	if (n > (long)rq->set->sc.max_records) {
		sresp_problem(
		    rs, 413, "too-many-records", "Too many records in one batch",
		    "%ld records; at most %zu per request ([serve] max_records): split the "
		    "batch",
		    n, rq->set->sc.max_records);
		return;
	}
	push_and_answer(rq, rs, rq->body, rq->body_len, f, NULL);
}

static json_t *status_json(const struct leave_status *s)
{
	char written[21], next[21], upd[32];

	if (s->written_at)
		format_utc(written, s->written_at);
	if (s->next_attempt)
		format_utc(next, s->next_attempt);
	snprintf(upd, sizeof upd, "%s", s->lv.updated_at ? s->lv.updated_at : "");
	return json_pack(
	    "{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:I}, s:s, s:s?, s:s?, s:s?, s:i, "
	    "s:s?, s:s}",
	    "id", s->lv.id, "leave", "id", s->lv.id, "mailbox", s->lv.mailbox, "kind", s->lv.kind,
	    "start", s->lv.starts, "end", s->lv.ends, "time_zone", s->lv.time_zone, "status",
	    s->lv.status, "note", s->lv.note, "revision", (json_int_t)s->lv.revision, "state",
	    s->state, "reason", s->reason, "event_id", s->remote_id, "written_at",
	    s->written_at ? written : NULL, "attempts", s->attempts, "next_attempt",
	    s->next_attempt && !strcmp(s->state, "waiting") ? next : NULL, "updated_at", upd);
}

static int take_one(void *arg, const struct leave_status *s)
{
	*(json_t **)arg = status_json(s);
	return 1;
}

void h_get_leave(struct sreq *rq, struct sresp *rs)
{
	struct leave_filter f = {.id = rq->param, .limit = 1};
	struct error err = {{0}};
	json_t *j = NULL;

	if (store_each_leave_status(rq->st, &f, take_one, &j, &err) < 0) {
		sresp_problem(rs, 500, "store-error", "The store could not be read", "%s", err.msg);
		return;
	}
	if (!j) {
		sresp_problem(rs, 404, "no-such-leave", "No such leave",
		              "no leave with id '%s' was pushed", rq->param);
		return;
	}
	sresp_json(rs, 200, j);
}

struct list_ctx {
	json_t *items;
	char last[1024];
};

static int add_item(void *arg, const struct leave_status *s)
{
	struct list_ctx *c = arg;

	json_array_append_new(c->items, status_json(s));
	snprintf(c->last, sizeof c->last, "%s", s->lv.id);
	return 0;
}

void h_list_leave(struct sreq *rq, struct sresp *rs)
{
	static const char *const names[] = {"mailbox", "state", "limit", "after", NULL};
	static const char *const states[] = {"pending", "synced", "waiting", "failed"};
	char mailbox[320], state[16], limit[16], after[1024], bad[64];
	struct list_ctx c = {.items = NULL};
	struct leave_filter f = {0};
	struct error err = {{0}};
	bool state_ok = false;
	int hm, hs, hl, ha;
	char *end;
	long n = LIST_DEFAULT;

	if (serve_query_check(rq->query, names, bad, sizeof bad) < 0) {
		sresp_problem(rs, 400, "bad-query", "Unknown query parameter",
		              "'%s' is not a parameter of GET /v1/leave: use mailbox, state, limit "
		              "or after",
		              bad);
		return;
	}
	hm = serve_query_param(rq->query, "mailbox", mailbox, sizeof mailbox);
	hs = serve_query_param(rq->query, "state", state, sizeof state);
	hl = serve_query_param(rq->query, "limit", limit, sizeof limit);
	ha = serve_query_param(rq->query, "after", after, sizeof after);
	if (hm < 0 || hs < 0 || hl < 0 || ha < 0) {
		sresp_problem(rs, 400, "bad-query", "Malformed query",
		              "a parameter is repeated, too long or badly percent-encoded");
		return;
	}
	for (size_t i = 0; hs && i < 4; i++)
		state_ok |= !strcmp(state, states[i]);
	if (hs && !state_ok) {
		sresp_problem(rs, 400, "bad-query", "Unknown state",
		              "state=%s: expected pending, synced, waiting or failed", state);
		return;
	}
	if (hl && ((n = strtol(limit, &end, 10)) < 1 || n > LIST_MAX || *end || end == limit)) {
		sresp_problem(rs, 400, "bad-query", "Bad limit",
		              "limit=%s: expected a whole number from 1 to %d", limit, LIST_MAX);
		return;
	}
	for (char *p = mailbox; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	f.mailbox = hm ? mailbox : NULL;
	f.state = hs ? state : NULL;
	f.after_id = ha ? after : NULL;
	f.limit = (size_t)n;
	c.items = json_array();
	if (store_each_leave_status(rq->st, &f, add_item, &c, &err) < 0) {
		json_decref(c.items);
		sresp_problem(rs, 500, "store-error", "The store could not be read", "%s", err.msg);
		return;
	}
	sresp_json(rs, 200,
	           json_pack("{s:o, s:s?}", "items", c.items, "next",
	                     json_array_size(c.items) == (size_t)n ? c.last : NULL));
}
