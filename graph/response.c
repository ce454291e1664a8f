/* Graph response parsers, one per response shape ([Graph resources/event], [Graph api/event-delta],
 * [Graph json-batching], [Graph errors]; recorded answers in tests/data/graph). Parsers borrow from
 * the parsed JSON where they can and say exactly what is missing when a document is not what Graph
 * sends. */
#include "graph/graph.h"

#include "common/redact.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

json_t *graph_parse_json(const char *body, size_t len, const char *content_type, struct error *err)
{
	json_error_t je;
	json_t *j;

	if (!body || len == 0) {
		error_set(err, "Graph sent an empty body where JSON was expected (content type %s)",
		          content_type ? content_type : "none");
		return NULL;
	}
	j = json_loadb(body, len, 0, &je);
	if (!j) {
		redact_in_place(je.text, sizeof je.text); /* jansson quotes the server's bytes */
		error_set(err,
		          "Graph sent a body that is not JSON (content type %s): %s at line %d "
		          "column %d",
		          content_type ? content_type : "none", je.text, je.line, je.column);
	}
	return j;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

bool graph_parse_error(const json_t *body, struct graph_error *ge)
{
	const json_t *e = json_object_get(body, "error"), *inner;

	memset(ge, 0, sizeof *ge);
	if (!json_is_object(e))
		return false;
	/* the schema says innererror, examples and servers say innerError: accept both */
	inner = json_object_get(e, "innerError");
	if (!inner)
		inner = json_object_get(e, "innererror");
	copy_str(ge->code, sizeof ge->code, json_string_value(json_object_get(e, "code")));
	copy_str(ge->message, sizeof ge->message, json_string_value(json_object_get(e, "message")));
	copy_str(ge->request_id, sizeof ge->request_id,
	         json_string_value(json_object_get(inner, "request-id")));
	return true;
}

const char *graph_event_tag(const json_t *obj, const char *prop_id)
{
	const json_t *props = json_object_get(obj, "singleValueExtendedProperties");
	size_t i;
	const json_t *p;

	json_array_foreach(props, i, p)
	{
		const char *id = json_string_value(json_object_get(p, "id"));

		/* the GUID may come back in another case; the name is matched exactly by the
		 * server's $filter already */
		if (id && strcasecmp(id, prop_id) == 0)
			return json_string_value(json_object_get(p, "value"));
	}
	return NULL;
}

/* @odata.etag, or W/"changeKey" when only the change key came back. Caller frees; NULL if none. */
static char *etag_of(const json_t *obj)
{
	const char *etag = json_string_value(json_object_get(obj, "@odata.etag"));
	const char *ck = json_string_value(json_object_get(obj, "changeKey"));
	char *out;

	if (etag && *etag)
		return xstrdup(etag);
	if (!ck || !*ck)
		return NULL;
	out = xmalloc(strlen(ck) + 5);
	sprintf(out, "W/\"%s\"", ck);
	return out;
}

/* An id or etag longer than BE_MAX_ID_BYTES, or holding a control character (the etag goes back as
 * If-Match), is a protocol error naming the field. */
static int check_id_sizes(const json_t *obj, const char *what, struct error *err)
{
	static const char *const fields[] = {"id", "@odata.etag", "changeKey"};

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		const char *v = json_string_value(json_object_get(obj, fields[i]));

		if (v && strlen(v) > BE_MAX_ID_BYTES)
			return error_set(
			    err,
			    "%s has an \"%s\" of %zu bytes (the limit is %d; Graph's are "
			    "about 150): a protocol error, not recorded",
			    what, fields[i], strlen(v), BE_MAX_ID_BYTES);
		if (v && redact_has_control(v, strlen(v)))
			return error_set(err,
			                 "%s has an \"%s\" holding a control character: a protocol "
			                 "error, not recorded",
			                 what, fields[i]);
	}
	return 0;
}

int graph_parse_event(const json_t *obj, const char *prop_id, struct remote_event *out,
                      struct error *err)
{
	const char *id = json_string_value(json_object_get(obj, "id"));
	const char *tag;

	memset(out, 0, sizeof *out);
	if (!json_is_object(obj))
		return error_set(err, "Graph event is not a JSON object");
	if (!id || !*id)
		return error_set(err, "Graph event has no \"id\"");
	if (check_id_sizes(obj, "a Graph event", err) < 0)
		return -1;
	if (graph_event_fields_from_json(obj, &out->ev, err) < 0) {
		event_free(&out->ev);
		return error_prefix(err, "Graph event %s: ", id);
	}
	out->remote_id = xstrdup(id);
	out->change_key = etag_of(obj);
	tag = graph_event_tag(obj, prop_id);
	out->ev.sync_key = tag ? xstrdup(tag) : NULL;
	return 0;
}

int graph_parse_page(const json_t *page, struct graph_page *out, struct error *err)
{
	memset(out, 0, sizeof *out);
	out->value = json_object_get(page, "value");
	if (!json_is_array(out->value))
		return error_set(err, "Graph collection answer has no \"value\" array");
	out->next_link = json_string_value(json_object_get(page, "@odata.nextLink"));
	out->delta_link = json_string_value(json_object_get(page, "@odata.deltaLink"));
	return 0;
}

bool graph_entry_removed(const json_t *entry, const char **reason)
{
	const json_t *r = json_object_get(entry, "@removed");

	if (reason)
		*reason = json_string_value(json_object_get(r, "reason"));
	return r != NULL;
}

int graph_parse_write(const json_t *obj, bool need_id, char **id, char **etag, struct error *err)
{
	const char *s = json_string_value(json_object_get(obj, "id"));

	*id = NULL;
	*etag = NULL;
	if (!json_is_object(obj))
		return error_set(err, "Graph's answer to a write is not a JSON object");
	if (check_id_sizes(obj, "Graph's answer to a write", err) < 0)
		return -1;
	if (need_id && (!s || !*s))
		return error_set(err, "Graph's answer to a create has no event \"id\"");
	*id = s && *s ? xstrdup(s) : NULL;
	*etag = etag_of(obj);
	return 0;
}

long graph_retry_after_ms(const json_t *value)
{
	double sec;
	char *end;

	if (json_is_number(value)) {
		sec = json_number_value(value);
	} else if (json_is_string(value)) {
		sec = strtod(json_string_value(value), &end);
		if (end == json_string_value(value))
			return -1;
	} else {
		return -1;
	}
	if (!isfinite(sec) || sec < 0 || sec > 86400.0)
		return -1;
	return (long)ceil(sec * 1000.0 - 1e-6);
}

static const json_t *header_get(const json_t *headers, const char *name)
{
	const char *k;
	const json_t *v;

	json_object_foreach((json_t *)headers, k, v)
	{
		if (strcasecmp(k, name) == 0) /* Retry-After and retry-after both occur */
			return v;
	}
	return NULL;
}

int graph_parse_batch(const json_t *answer, struct graph_subresp **out, size_t *n,
                      struct error *err)
{
	const json_t *arr = json_object_get(answer, "responses"), *r;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr))
		return error_set(err, "Graph's $batch answer has no \"responses\" array");
	*out = xcalloc(json_array_size(arr) + 1, sizeof **out);
	json_array_foreach(arr, i, r)
	{
		struct graph_subresp *sr = &(*out)[i];
		const json_t *status = json_object_get(r, "status");

		sr->id = json_string_value(json_object_get(r, "id"));
		if (!sr->id || !json_is_integer(status)) {
			free(*out);
			*out = NULL;
			return error_set(err,
			                 "Graph's $batch answer %zu has no string \"id\" or no "
			                 "integer \"status\"",
			                 i + 1);
		}
		sr->status = (int)json_integer_value(status);
		sr->retry_after_ms =
		    graph_retry_after_ms(header_get(json_object_get(r, "headers"), "Retry-After"));
		sr->body = json_object_get(r, "body");
	}
	*n = json_array_size(arr);
	return 0;
}
