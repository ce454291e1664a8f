/* m365sim fault injection: which armed fault fires for the request being served (path prefix,
 * operation, queue order, next N / share), and the operation names requests are matched by.
 * Armed through the control API (control.c); documented in docs/simulator.md. Called with the lock
 * held. */
#include "common/util.h"
#include "tools/m365sim/sim_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Operation names a fault may be limited to: a request's counter name without its service prefix
 * (ews.CreateItem -> CreateItem, graph.POST events -> POST events). */
static const char *const known_ops[] = {
    "GetFolder",    "CreateItem",      "GetItem",      "UpdateItem",       "DeleteItem",
    "FindItem",     "SyncFolderItems", "ConvertId",    "POST events",      "GET events",
    "GET event",    "PATCH event",     "DELETE event", "GET calendarView", "GET delta",
    "GET calendar", "$batch",          "token",        "devicecode",       "authorize",
};

bool sim_fault_op_known(const char *op)
{
	for (size_t i = 0; i < sizeof known_ops / sizeof known_ops[0]; i++)
		if (strcmp(op, known_ops[i]) == 0)
			return true;
	return false;
}

/* ---- operation names ---- */

int sim_ews_op_name(const char *body, char *out, size_t len)
{
	const char *b = body ? strstr(body, "Body") : NULL;
	size_t n = 0;

	out[0] = '\0';
	if (!b || !(b = strchr(b, '>')) || !(b = strchr(b, '<')))
		return -1;
	for (b++;
	     *b && *b != ' ' && *b != '>' && *b != '/' && *b != '\n' && *b != '\t' && n < len - 1;
	     b++) {
		if (*b == ':') { /* a namespace prefix: start again after it */
			n = 0;
			continue;
		}
		out[n++] = *b;
	}
	out[n] = '\0';
	return n ? 0 : -1;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

const char *sim_graph_op_name(const char *method, const char *path, char *out, size_t len)
{
	const char *q = strchr(path, '?');
	size_t n = q ? (size_t)(q - path) : strlen(path);
	const char *last = NULL;

	for (size_t i = 0; i < n; i++)
		if (path[i] == '/')
			last = path + i;
	if (ends_with(path, n, "/$batch"))
		snprintf(out, len, "$batch");
	else if (ends_with(path, n, "/events"))
		snprintf(out, len, "%s events", method);
	else if (ends_with(path, n, "/calendarView/delta"))
		snprintf(out, len, "%s delta", method);
	else if (ends_with(path, n, "/calendarView"))
		snprintf(out, len, "%s calendarView", method);
	else if (ends_with(path, n, "/calendar"))
		snprintf(out, len, "%s calendar", method);
	else if (last && last - path >= 7 && strncasecmp(last - 7, "/events", 7) == 0)
		snprintf(out, len, "%s event", method);
	else
		snprintf(out, len, "%s other", method);
	return out;
}

static void add_op(struct sim *s, const char *op)
{
	if (s->ncur_ops < SIM_MAX_OPS)
		snprintf(s->cur_ops[s->ncur_ops++], sizeof s->cur_ops[0], "%s", op);
}

/* The operations of a $batch: its own name and those of its requests. */
static void batch_ops(struct sim *s, const struct sim_request *req)
{
	json_t *body = json_loadb(req->body, req->body_len, 0, NULL), *r;
	size_t i;
	char op[48];

	add_op(s, "$batch");
	json_array_foreach(json_object_get(body, "requests"), i, r)
	{
		const char *m = json_string_value(json_object_get(r, "method"));
		const char *url = json_string_value(json_object_get(r, "url"));
		char upper[16];

		if (!m || !url)
			continue;
		snprintf(upper, sizeof upper, "%s", m);
		for (char *p = upper; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		add_op(s, sim_graph_op_name(upper, url, op, sizeof op));
	}
	json_decref(body);
}

void sim_fault_classify(struct sim *s, const struct sim_request *req)
{
	const char *p = req->path;
	char op[64];

	s->ncur_ops = 0;
	s->scope_op[0] = '\0';
	if (strcasecmp(p, "/EWS/Exchange.asmx") == 0) {
		if (sim_ews_op_name(req->body, op, sizeof op) == 0)
			add_op(s, op);
	} else if (strncmp(p, "/v1.0/", 6) == 0 || strncmp(p, "/beta/", 6) == 0) {
		if (ends_with(p, strlen(p), "/$batch"))
			batch_ops(s, req);
		else
			add_op(s, sim_graph_op_name(req->method, p + 5, op, sizeof op));
	} else if (ends_with(p, strlen(p), "/oauth2/v2.0/token")) {
		add_op(s, "token");
	} else if (ends_with(p, strlen(p), "/oauth2/v2.0/devicecode")) {
		add_op(s, "devicecode");
	} else if (ends_with(p, strlen(p), "/oauth2/v2.0/authorize")) {
		add_op(s, "authorize");
	}
}

void sim_fault_scope(struct sim *s, const char *method, const char *path)
{
	if (!method || !path)
		s->scope_op[0] = '\0';
	else
		sim_graph_op_name(method, path, s->scope_op, sizeof s->scope_op);
}

/* ---- matching ---- */

static bool op_matches(const struct sim *s, const struct sim_fault *f)
{
	if (!f->op[0])
		return true;
	if (s->scope_op[0]) /* a request inside a $batch: its own operation only */
		return strcasecmp(f->op, s->scope_op) == 0;
	for (size_t i = 0; i < s->ncur_ops; i++)
		if (strcasecmp(f->op, s->cur_ops[i]) == 0)
			return true;
	return false;
}

/* A queued fault waits until every fault armed before it in its queue is used up. */
static bool queue_head(const struct sim *s, size_t i)
{
	if (!s->faults[i].queue)
		return true;
	for (size_t j = 0; j < i; j++)
		if (s->faults[j].queue == s->faults[i].queue)
			return false;
	return true;
}

static bool fault_matches(const struct sim *s, size_t i, const char *path)
{
	const struct sim_fault *f = &s->faults[i];

	if (strncmp(path, "/_sim", 5) == 0)
		return false;
	if (f->path_prefix && strncmp(path, f->path_prefix, strlen(f->path_prefix)) != 0)
		return false;
	return op_matches(s, f) && queue_head(s, i);
}

/* Decides whether fault i fires for this request, consuming it. */
static bool fault_fires(struct sim *s, size_t i)
{
	struct sim_fault *f = &s->faults[i];
	bool fire;

	if (f->remaining > 0) {
		fire = true;
		f->remaining--;
	} else {
		f->acc += f->share;
		fire = f->acc >= 1.0;
		if (fire)
			f->acc -= 1.0;
	}
	return fire;
}

static void fault_remove_exhausted(struct sim *s)
{
	size_t j = 0;

	for (size_t i = 0; i < s->nfaults; i++) {
		if (s->faults[i].remaining == 0) {
			free(s->faults[i].path_prefix);
			continue;
		}
		s->faults[j++] = s->faults[i];
	}
	s->nfaults = j;
}

void sim_faults_clear(struct sim *s)
{
	for (size_t i = 0; i < s->nfaults; i++)
		free(s->faults[i].path_prefix);
	free(s->faults);
	s->faults = NULL;
	s->nfaults = 0;
}

bool sim_fault_kind_is_transport(const char *kind)
{
	static const char *const kinds[] = {"http503",  "http429",   "latency", "drop",
	                                    "truncate", "malformed", "html"};

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

static void count_fault(struct sim *s, const char *kind)
{
	char name[64];

	snprintf(name, sizeof name, "faults.%s", kind);
	sim_count(s, name);
}

bool sim_take_transport_fault(struct sim *s, const char *path, bool skip_latency,
                              struct sim_fault *out)
{
	bool fired = false;

	for (size_t i = 0; i < s->nfaults && !fired; i++) {
		if (!sim_fault_kind_is_transport(s->faults[i].kind) ||
		    (skip_latency && strcmp(s->faults[i].kind, "latency") == 0) ||
		    !fault_matches(s, i, path))
			continue;
		if (fault_fires(s, i)) {
			*out = s->faults[i];
			out->path_prefix = NULL;
			fired = true;
		}
	}
	fault_remove_exhausted(s);
	if (fired) {
		count_fault(s, out->kind);
		if (strcmp(out->kind, "drop") == 0)
			count_fault(s,
			            out->after_commit ? "drop.after_commit" : "drop.before_commit");
	}
	return fired;
}

bool sim_take_fault(struct sim *s, const char *kind, int64_t *retry_after_ms)
{
	const char *path = s->cur_req ? s->cur_req->path : "";
	bool fired = false;

	for (size_t i = 0; i < s->nfaults && !fired; i++) {
		if (strcmp(s->faults[i].kind, kind) != 0 || !fault_matches(s, i, path))
			continue;
		if (fault_fires(s, i)) {
			if (retry_after_ms)
				*retry_after_ms =
				    (int64_t)(s->faults[i].retry_after * 1000.0 + 0.5);
			fired = true;
		}
	}
	fault_remove_exhausted(s);
	if (fired)
		count_fault(s, kind);
	return fired;
}
