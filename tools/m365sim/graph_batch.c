/* m365sim Graph view: JSON batching. Up to 20 requests, each answered with its own status, headers
 * and body; the outer status is 200 when the batch is readable; dependsOn orders requests and a
 * failed dependency gives 424; each request is throttled on its own. [doc: GRAPH json-batching]
 * A batch is fully parallel (no dependsOn) or fully sequential (each request depends on the one
 * before); anything else is refused as a whole with Graph's 400 (microsoftgraph/microsoft-graph-
 * docs-contrib#2339, msgraph-sdk-java-core#71). The requests of a parallel batch run at once, so
 * the fifth and later to one mailbox exceed Outlook's 4 concurrent requests per app and mailbox
 * [doc: throttling-limits] and get its 429 ApplicationThrottled / MailboxConcurrency. */
#include "graph.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MSG_MIXED "Batch should be either fully sequential or fully parallel."

static void bad_batch(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out,
                      const char *msg)
{
	graph_error(c, r, out, 400, "BadRequest", msg);
}

static json_t *lower_headers(json_t *h)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(h, k, v)
	{
		char name[128];
		snprintf(name, sizeof name, "%s", k);
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		if (json_is_string(v))
			json_object_set_new(out, name, json_string(json_string_value(v)));
	}
	return out;
}

/* Index of the request with this id among the first n, or -1. Ids are case-insensitive. */
static long find_id(json_t *reqs, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++) {
		const char *x = json_string_value(json_object_get(json_array_get(reqs, i), "id"));
		if (x && strcasecmp(x, id) == 0)
			return (long)i;
	}
	return -1;
}

/* Checks the whole batch before running any of it. NULL when fine, else the message. */
static const char *check_batch(json_t *reqs)
{
	size_t i, k;
	json_t *q, *d;

	if (!json_is_array(reqs))
		return "Invalid batch payload format.";
	if (json_array_size(reqs) > GRAPH_MAX_BATCH)
		return "The batch request exceeds the maximum of 20 requests.";
	bool any_deps = false, chained = true;

	json_array_foreach(reqs, i, q)
	{
		const char *id = json_string_value(json_object_get(q, "id"));
		json_t *deps = json_object_get(q, "dependsOn");
		if (!json_is_object(q) || !id || !*id ||
		    !json_is_string(json_object_get(q, "method")) ||
		    !json_is_string(json_object_get(q, "url")))
			return "Invalid batch payload format: every request needs id, method and "
			       "url.";
		if (find_id(reqs, i, id) >= 0)
			return "Batch request ids must be unique.";
		if (deps && !json_is_array(deps))
			return "Invalid batch payload format: dependsOn must be an array.";
		json_array_foreach(deps, k, d)
		{
			if (!json_is_string(d) || find_id(reqs, i, json_string_value(d)) < 0)
				return "Invalid dependsOn: a request may depend only on a request "
				       "before it in the batch.";
		}
		any_deps |= json_array_size(deps) > 0;
		/* sequential: every request after the first depends on exactly the one before */
		if (i > 0 &&
		    (json_array_size(deps) != 1 ||
		     find_id(reqs, i, json_string_value(json_array_get(deps, 0))) != (long)i - 1))
			chained = false;
	}
	if (any_deps && !chained)
		return MSG_MIXED;
	return NULL;
}

static bool dependency_failed(json_t *reqs, json_t *q, const int *status)
{
	size_t k;
	json_t *d;

	json_array_foreach(json_object_get(q, "dependsOn"), k, d)
	{
		long j = find_id(reqs, json_array_size(reqs), json_string_value(d));
		if (j >= 0 && status[j] >= 400)
			return true;
	}
	return false;
}

/* Runs one inner request; fills its status and reply. */
static void run_one(struct graph_ctx *c, json_t *q, struct graph_reply *iout)
{
	const char *url = json_string_value(json_object_get(q, "url"));
	const char *method = json_string_value(json_object_get(q, "method"));
	json_t *body = json_object_get(q, "body");
	const char *qm = strchr(url, '?');
	char *path = xstrndup(url, qm ? (size_t)(qm - url) : strlen(url));
	struct graph_req ir;
	char upper[16];

	snprintf(upper, sizeof upper, "%s", method);
	for (char *p = upper; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	graph_req_init(&ir, upper, path[0] == '/' ? path : "", qm ? qm + 1 : "",
	               lower_headers(json_object_get(q, "headers")));
	if (path[0] != '/' || strcmp(ir.path, "/$batch") == 0) {
		graph_error(
		    c, &ir, iout, 400, "BadRequest",
		    "The url of a batch request must be relative, such as /users/{id}/events.");
	} else if (body && !graph_header(&ir, "content-type")) {
		/* "headers is required whenever body is present and must include Content-Type" */
		graph_error(c, &ir, iout, 400, "BadRequest",
		            "Content-Type header must be specified when a body is present.");
	} else {
		if (json_is_object(body) && graph_is_json_type(graph_header(&ir, "content-type")))
			ir.body = json_incref(body);
		else if (body && !json_is_null(body))
			ir.body_unreadable = true;
		graph_dispatch(c, &ir, iout);
	}
	graph_req_free(&ir);
	free(path);
}

void graph_batch(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out)
{
	json_t *reqs = json_object_get(r->body, "requests"), *q, *responses;
	const char *err = NULL;
	size_t i;

	sim_count(c->s, "graph.$batch");
	if (strcmp(r->method, "POST") != 0) {
		graph_error(c, r, out, 405, "Request_BadRequest",
		            "Specified HTTP method is not allowed for the request target.");
		return;
	}
	if (r->body_unreadable || (err = check_batch(reqs))) {
		bad_batch(c, r, out, r->body_unreadable ? "Invalid batch payload format." : err);
		return;
	}
	int *status = xcalloc(json_array_size(reqs) + 1, sizeof *status);
	bool parallel = true, writes = false;

	json_array_foreach(reqs, i, q) writes |=
	    strcasecmp(json_string_value(json_object_get(q, "method")), "GET") != 0;
	/* a $batch now carries reads (reconcile's calendarView listings) as well as writes: tests
	 * that assert "nothing was written" count this one, not every $batch */
	if (writes)
		sim_count(c->s, "graph.$batch with writes");
	/* and the directory lookups of new mailboxes (GET /users?$filter only), apart */
	bool lookups = json_array_size(reqs) > 0;
	json_array_foreach(reqs, i, q) lookups &=
	    !writes && strncmp(json_string_value(json_object_get(q, "url")), "/users?", 7) == 0;
	if (lookups) {
		sim_count(c->s, "graph.$batch of user lookups");
		json_array_foreach(reqs, i, q) sim_count(c->s, "graph.GET users in $batch");
	}

	json_array_foreach(reqs, i, q) parallel &=
	    json_array_size(json_object_get(q, "dependsOn")) == 0;
	if (parallel && json_array_size(reqs) > 1)
		c->parallel_per_mailbox = json_object();
	responses = json_array();
	json_array_foreach(reqs, i, q)
	{
		struct graph_reply iout = {0};
		if (dependency_failed(reqs, q, status)) {
			struct graph_req dummy;
			graph_req_init(&dummy, "GET", "/", "", json_object());
			graph_error(c, &dummy, &iout, 424, "FailedDependency",
			            "The request depends on a request that failed.");
			graph_req_free(&dummy);
		} else {
			run_one(c, q, &iout);
		}
		status[i] = iout.status;
		json_t *entry = json_pack("{s:O,s:i,s:o}", "id", json_object_get(q, "id"), "status",
		                          iout.status, "headers",
		                          iout.headers ? json_incref(iout.headers) : json_object());
		if (iout.body)
			json_object_set(entry, "body", iout.body);
		json_array_append_new(responses, entry);
		graph_reply_free(&iout);
	}
	free(status);
	json_decref(c->parallel_per_mailbox);
	c->parallel_per_mailbox = NULL;
	graph_reply_json(out, 200, json_pack("{s:o}", "responses", responses));
}
