/* m365sim control API under /_sim (no authentication: the simulator listens on loopback only).
 * Documented in docs/simulator.md. */
#include "common/util.h"
#include "tools/m365sim/sim_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(struct sim_response *r, int status, const char *msg)
{
	sim_resp_json(r, status, json_pack("{s:s}", "error", msg));
}

static json_t *body_json(const struct sim_request *req, struct sim_response *resp)
{
	json_error_t jerr;
	json_t *j;

	if (req->body_len == 0)
		return json_object();
	j = json_loadb(req->body, req->body_len, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		fail(resp, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static void ok(struct sim_response *r)
{
	sim_resp_json(r, 200, json_pack("{s:b}", "ok", 1));
}

void sim_reset(struct sim *s)
{
	for (size_t i = 0; i < s->nmailboxes; i++)
		sim_mailbox_clear(&s->mailboxes[i]);
	sim_identity_reset(s);
	sim_faults_clear(s);
	json_object_clear(s->counters);
	s->clock_offset = 0;
	s->token_lifetime = s->default_token_lifetime;
}

static const char *const fault_kinds[] = {
    "http503",   "http429", "ews_server_busy", "latency",       "drop",         "truncate",
    "malformed", "html",    "token_expired",   "graph_http429", "graph_http503"};

static bool known_kind(const char *k)
{
	for (size_t i = 0; i < sizeof fault_kinds / sizeof fault_kinds[0]; i++)
		if (strcmp(k, fault_kinds[i]) == 0)
			return true;
	return false;
}

/* One fault from its JSON description into *f (path_prefix owned). Returns NULL or what is wrong.
 * queue: the queue it joins (0: none). */
static const char *parse_fault(json_t *j, int64_t queue, struct sim_fault *f)
{
	const char *kind = json_string_value(json_object_get(j, "kind"));
	const char *prefix = json_string_value(json_object_get(j, "path_prefix"));
	json_t *next = json_object_get(j, "next"), *share = json_object_get(j, "share");
	json_t *op = json_object_get(j, "op");

	memset(f, 0, sizeof *f);
	if (!json_is_object(j))
		return "each fault is a JSON object";
	if (!kind || !known_kind(kind))
		return "\"kind\" is required: http503, http429, ews_server_busy, latency, drop, "
		       "truncate, malformed, html, token_expired, graph_http429 or graph_http503";
	if (op && (!json_is_string(op) || !sim_fault_op_known(json_string_value(op))))
		return "\"op\" names one operation: GetFolder, CreateItem, GetItem, UpdateItem, "
		       "DeleteItem, FindItem, SyncFolderItems, ConvertId, POST events, GET events, "
		       "GET event, PATCH event, DELETE event, GET calendarView, GET delta, GET "
		       "calendar, $batch, token, devicecode or authorize";
	snprintf(f->kind, sizeof f->kind, "%s", kind);
	if (op)
		snprintf(f->op, sizeof f->op, "%s", json_string_value(op));
	f->remaining = json_is_integer(next) ? (int)json_integer_value(next) : -1;
	f->share = json_is_number(share) ? json_number_value(share) : 0;
	if (!json_is_integer(next) && !json_is_number(share))
		f->remaining = 1;
	if (f->remaining == 0 || (f->remaining < 0 && (f->share <= 0 || f->share > 1)))
		return "give \"next\": N (N >= 1) or \"share\": a number in (0, 1]";
	if (queue && f->remaining < 0)
		return "a fault in a \"sequence\" fires on the next N matching requests: give "
		       "\"next\", not \"share\"";
	f->retry_after = json_number_value(json_object_get(j, "retry_after"));
	f->latency_ms = (int)json_integer_value(json_object_get(j, "latency_ms"));
	f->status = (int)json_integer_value(json_object_get(j, "status"));
	f->after_commit = json_is_true(json_object_get(j, "after_commit"));
	f->no_answer = json_is_true(json_object_get(j, "no_answer"));
	f->queue = queue;
	f->path_prefix = xstrdup(prefix);
	return NULL;
}

static int64_t arm(struct sim *s, struct sim_fault *f)
{
	f->id = s->next_fault_id++;
	s->faults = xrealloc(s->faults, (s->nfaults + 1) * sizeof *s->faults);
	s->faults[s->nfaults++] = *f;
	return f->id;
}

/* {"kind": ...} arms one fault; {"sequence": [{...}, {...}], "op": ..., "path_prefix": ...}
 * arms a queue: each fires on the next matching request(s) once those before it are used up
 * (op and path_prefix given outside apply to every element that does not set its own). */
static void add_fault(struct sim *s, json_t *j, struct sim_response *resp)
{
	json_t *seq = json_object_get(j, "sequence"), *el, *ids;
	struct sim_fault *fs;
	const char *why = NULL;
	size_t i, n;

	if (!seq) {
		struct sim_fault f;
		if ((why = parse_fault(j, 0, &f)) != NULL) {
			fail(resp, 400, why);
			return;
		}
		sim_resp_json(resp, 201, json_pack("{s:I}", "id", (json_int_t)arm(s, &f)));
		return;
	}
	n = json_array_size(seq);
	if (!json_is_array(seq) || n == 0 || n > 64) {
		fail(resp, 400, "\"sequence\" is an array of 1 to 64 faults");
		return;
	}
	fs = xcalloc(n, sizeof *fs);
	json_array_foreach(seq, i, el)
	{
		json_t *one = json_deep_copy(el);
		const char *keys[] = {"op", "path_prefix"};
		for (size_t k = 0; json_is_object(one) && k < 2; k++)
			if (!json_object_get(one, keys[k]) && json_object_get(j, keys[k]))
				json_object_set(one, keys[k], json_object_get(j, keys[k]));
		why = parse_fault(one, s->next_fault_id, &fs[i]);
		json_decref(one);
		if (why)
			break;
	}
	if (why) {
		for (size_t k = 0; k < n; k++)
			free(fs[k].path_prefix);
		free(fs);
		fail(resp, 400, why);
		return;
	}
	ids = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(ids, json_integer(arm(s, &fs[i])));
	free(fs);
	sim_resp_json(resp, 201, json_pack("{s:o}", "ids", ids));
}

static void list_faults(struct sim *s, struct sim_response *resp)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < s->nfaults; i++) {
		const struct sim_fault *f = &s->faults[i];
		json_array_append_new(
		    arr, json_pack("{s:I,s:s,s:i,s:f,s:f,s:i,s:o,s:o,s:I,s:b,s:b}", "id",
		                   (json_int_t)f->id, "kind", f->kind, "next", f->remaining,
		                   "share", f->share, "retry_after", f->retry_after, "latency_ms",
		                   f->latency_ms, "path_prefix",
		                   f->path_prefix ? json_string(f->path_prefix) : json_null(), "op",
		                   f->op[0] ? json_string(f->op) : json_null(), "queue",
		                   (json_int_t)f->queue, "after_commit", f->after_commit,
		                   "no_answer", f->no_answer));
	}
	sim_resp_json(resp, 200, json_pack("{s:o}", "faults", arr));
}

/* Every mailbox with every live item, for checkers that compare whole calendars with a store. */
static void dump_all(struct sim *s, struct sim_response *resp)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < s->nmailboxes; i++)
		json_array_append_new(arr, sim_mailbox_dump(&s->mailboxes[i]));
	sim_resp_json(resp, 200, json_pack("{s:o}", "mailboxes", arr));
}

static void list_mailboxes(struct sim *s, struct sim_response *resp)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < s->nmailboxes; i++) {
		const struct sim_mailbox *mb = &s->mailboxes[i];
		size_t live = 0;
		for (size_t k = 0; k < mb->nitems; k++)
			live += !mb->items[k]->deleted;
		json_array_append_new(arr, json_pack("{s:s,s:I}", "mailbox", mb->user->mail,
		                                     "items", (json_int_t)live));
	}
	sim_resp_json(resp, 200, json_pack("{s:o}", "mailboxes", arr));
}

static void inject_item(struct sim *s, struct sim_mailbox *mb, json_t *j, struct sim_response *resp)
{
	struct sim_item *it = sim_item_new(mb);
	struct error err = {""};

	it->created = it->modified = sim_now(s);
	if (sim_item_apply_json(s, it, j, &err) < 0) {
		sim_item_delete(mb, it);
		fail(resp, 400, err.msg);
		return;
	}
	if (json_is_string(json_object_get(j, "folder")))
		sim_item_move(mb, it, json_string_value(json_object_get(j, "folder")));
	sim_resp_json(resp, 201, sim_item_dump(it));
}

/* /_sim/mailboxes/{smtp}[/items[/{id}[/move]]] */
static void mailbox_route(struct sim *s, const struct sim_request *req, const char *rest,
                          struct sim_response *resp)
{
	const char *slash = strchr(rest, '/');
	char *smtp = xstrndup(rest, slash ? (size_t)(slash - rest) : strlen(rest));
	struct sim_mailbox *mb = sim_find_mailbox(s, smtp);
	const char *m = req->method;
	json_t *j = NULL;

	free(smtp);
	if (!mb) {
		fail(resp, 404, "no such mailbox in the fixture");
		return;
	}
	if (!slash) {
		if (strcmp(m, "GET") == 0)
			sim_resp_json(resp, 200, sim_mailbox_dump(mb));
		else
			fail(resp, 405, "GET only");
		return;
	}
	if (strcmp(slash, "/items") == 0 && strcmp(m, "POST") == 0) {
		if ((j = body_json(req, resp)))
			inject_item(s, mb, j, resp);
	} else if (strncmp(slash, "/items/", 7) == 0) {
		const char *id = slash + 7;
		size_t idlen = strlen(id);
		bool move = idlen > 5 && strcmp(id + idlen - 5, "/move") == 0;
		char *idc = xstrndup(id, move ? idlen - 5 : idlen);
		struct sim_item *it = sim_item_by_id(mb, idc);
		struct error err = {""};
		free(idc);
		if (!it) {
			fail(resp, 404, "no such item (deleted, moved, or never there)");
		} else if (move && strcmp(m, "POST") == 0) {
			const char *folder;
			if ((j = body_json(req, resp)) &&
			    (folder = json_string_value(json_object_get(j, "folder")))) {
				sim_item_move(mb, it, folder);
				it->modified = sim_now(s);
				sim_resp_json(resp, 200, sim_item_dump(it));
			} else if (j) {
				fail(resp, 400, "give {\"folder\": \"Archive\"}");
			}
		} else if (!move && strcmp(m, "PATCH") == 0) {
			if ((j = body_json(req, resp)) && sim_item_apply_json(s, it, j, &err) < 0) {
				fail(resp, 400, err.msg);
			} else if (j) {
				sim_item_touch(s, mb, it);
				sim_resp_json(resp, 200, sim_item_dump(it));
			}
		} else if (!move && strcmp(m, "DELETE") == 0) {
			sim_item_delete(mb, it);
			ok(resp);
		} else if (!move && strcmp(m, "GET") == 0) {
			sim_resp_json(resp, 200, sim_item_dump(it));
		} else {
			fail(resp, 405, "use GET, PATCH or DELETE on an item, POST on .../move");
		}
	} else {
		fail(resp, 404, "unknown mailbox path");
	}
	json_decref(j);
}

static void counters(struct sim *s, struct sim_response *resp)
{
	sim_resp_json(resp, 200, json_deep_copy(s->counters));
}

static bool post_json(struct sim *s, const struct sim_request *req, const char *sub,
                      struct sim_response *resp)
{
	json_t *j = body_json(req, resp);
	struct error err = {""};
	json_t *v;

	if (!j)
		return true;
	if (strcmp(sub, "faults") == 0) {
		add_fault(s, j, resp);
	} else if (strcmp(sub, "devicecode/approve") == 0) {
		if (sim_devicecode_approve(s, json_string_value(json_object_get(j, "user_code")),
		                           json_string_value(json_object_get(j, "user")),
		                           json_is_true(json_object_get(j, "decline")), &err) < 0)
			fail(resp, 400, err.msg);
		else
			ok(resp);
	} else if (strcmp(sub, "refresh/revoke") == 0) {
		if (sim_refresh_revoke(s, json_string_value(json_object_get(j, "user")),
		                       json_string_value(json_object_get(j, "refresh_token")),
		                       &err) < 0)
			fail(resp, 400, err.msg);
		else
			ok(resp);
	} else if (strcmp(sub, "clock") == 0) {
		if (json_is_number(v = json_object_get(j, "offset")))
			s->clock_offset = (int64_t)json_number_value(v);
		else if (json_is_number(v = json_object_get(j, "advance")))
			s->clock_offset += (int64_t)json_number_value(v);
		sim_resp_json(resp, 200,
		              json_pack("{s:I,s:I}", "offset", (json_int_t)s->clock_offset, "now",
		                        (json_int_t)sim_now(s)));
	} else if (strcmp(sub, "token-lifetime") == 0) {
		v = json_object_get(j, "seconds");
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			fail(resp, 400, "give {\"seconds\": N} with N >= 1");
		else {
			s->token_lifetime = (int)json_integer_value(v);
			ok(resp);
		}
	} else {
		json_decref(j);
		return false;
	}
	json_decref(j);
	return true;
}

bool sim_control_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	const char *p = req->path, *m = req->method, *sub;

	if (strncmp(p, "/_sim/", 6) != 0)
		return false;
	sub = p + 6;
	if (strcmp(sub, "reset") == 0 && strcmp(m, "POST") == 0) {
		sim_reset(s);
		ok(resp);
	} else if (strcmp(sub, "counters") == 0 && strcmp(m, "GET") == 0) {
		counters(s, resp);
	} else if (strcmp(sub, "counters/reset") == 0 && strcmp(m, "POST") == 0) {
		json_object_clear(s->counters);
		ok(resp);
	} else if (strcmp(sub, "faults") == 0 && strcmp(m, "GET") == 0) {
		list_faults(s, resp);
	} else if (strcmp(sub, "faults") == 0 && strcmp(m, "DELETE") == 0) {
		sim_faults_clear(s);
		ok(resp);
	} else if (strcmp(sub, "dump") == 0 && strcmp(m, "GET") == 0) {
		dump_all(s, resp);
	} else if (strcmp(sub, "mailboxes") == 0 && strcmp(m, "GET") == 0) {
		list_mailboxes(s, resp);
	} else if (strncmp(sub, "mailboxes/", 10) == 0) {
		mailbox_route(s, req, sub + 10, resp);
	} else if (strcmp(sub, "clock") == 0 && strcmp(m, "GET") == 0) {
		sim_resp_json(resp, 200,
		              json_pack("{s:I,s:I}", "offset", (json_int_t)s->clock_offset, "now",
		                        (json_int_t)sim_now(s)));
	} else if (strcmp(m, "POST") != 0 || !post_json(s, req, sub, resp)) {
		fail(resp, 404, "unknown control path (see docs/simulator.md)");
	}
	return true;
}
