/* Graph URLs and request bodies, one builder per request ([Graph api/user-post-events],
 * [Graph api/event-update], [Graph api/event-delete], [Graph api/user-list-calendarview]). Every
 * user value goes through jansson (bodies) or http_escape (URLs); OData string literals double
 * quotes.
 */
#include "graph/graph.h"

#include "common/buf.h"
#include "common/redact.h"
#include "common/util.h"
#include "engine/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a read selects: the owned fields plus the zone the event was written in. id and
 * @odata.etag come with every event. */
static const char select_fields[] = "subject,body,start,end,isAllDay,showAs,sensitivity,"
                                    "categories,isReminderOn,reminderMinutesBeforeStart,"
                                    "originalStartTimeZone,originalEndTimeZone";

void graph_prop_id(char *out, size_t outlen)
{
	snprintf(out, outlen, "String {%s} Name %s", LEAVESYNC_PROPSET_ID, LEAVESYNC_PROP_NAME);
}

static void put_escaped(struct buf *b, const char *s)
{
	char *e = http_escape(s);

	buf_puts(b, e);
	free(e);
}

char *graph_path_events(const char *user)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "/users/");
	put_escaped(&b, user);
	buf_puts(&b, "/events");
	return buf_steal(&b);
}

char *graph_path_event(const char *user, const char *remote_id)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "/users/");
	put_escaped(&b, user);
	buf_puts(&b, "/events/");
	put_escaped(&b, remote_id);
	return buf_steal(&b);
}

char *graph_odata_quote(const char *s)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "");
	for (; *s; s++) {
		if (*s == '\'')
			buf_puts(&b, "''");
		else
			buf_append(&b, s, 1);
	}
	return buf_steal(&b);
}

/* "&name=" + escaped value (or "?name=" when first). */
static void put_param(struct buf *b, bool first, const char *name, const char *value)
{
	buf_printf(b, "%c%s=", first ? '?' : '&', name);
	put_escaped(b, value);
}

/* $select and $expand of the tag, appended as further parameters. */
static void put_read_params(struct buf *b, bool first, const char *prop_id)
{
	char *q = graph_odata_quote(prop_id);
	struct buf expand = BUF_INIT;

	buf_printf(&expand, "singleValueExtendedProperties($filter=id eq '%s')", q);
	put_param(b, first, "$select", select_fields);
	put_param(b, false, "$expand", expand.data);
	buf_free(&expand);
	free(q);
}

char *graph_query_event(const char *prop_id)
{
	struct buf b = BUF_INIT;

	put_read_params(&b, true, prop_id);
	return buf_steal(&b);
}

char *graph_build_find_by_key(const char *user, const char *prop_id, const char *key)
{
	char *qid = graph_odata_quote(prop_id), *qkey = graph_odata_quote(key);
	char *path = graph_path_events(user);
	struct buf filter = BUF_INIT, b = BUF_INIT;

	/* the documented form (api/singlevaluelegacyextendedproperty-get); one key per request */
	buf_printf(&filter,
	           "singleValueExtendedProperties/Any(ep: ep/id eq '%s' and ep/value eq '%s')", qid,
	           qkey);
	buf_puts(&b, path);
	put_param(&b, true, "$filter", filter.data);
	put_read_params(&b, false, prop_id);
	buf_free(&filter);
	free(path);
	free(qid);
	free(qkey);
	return buf_steal(&b);
}

char *graph_build_calendar_view(const char *user, const char *prop_id, int64_t from, int64_t to)
{
	char start[21], end[21];
	struct buf b = BUF_INIT;

	format_utc(start, from);
	format_utc(end, to);
	buf_puts(&b, "/users/");
	put_escaped(&b, user);
	buf_puts(&b, "/calendarView");
	put_param(&b, true, "startDateTime", start);
	put_param(&b, false, "endDateTime", end);
	put_read_params(&b, false, prop_id);
	return buf_steal(&b);
}

char *graph_absolute_url(const char *base, const char *relative)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s%s", base, relative);
	return buf_steal(&b);
}

int graph_check_link(const char *link, const char *base, struct error *err)
{
	char shown[REDACT_DEFAULT_MAX];

	if (link && http_same_origin(link, base))
		return 0;
	redact_text(shown, sizeof shown, link ? link : "(none)", link ? strcspn(link, "?") : 6);
	return error_set(err,
	                 "refusing to follow a link to another host: Graph sent '%s', which is "
	                 "not on the configured [graph] url %s (the access token is only sent "
	                 "there)",
	                 shown, base);
}

json_t *graph_build_create(const struct event *ev, const char *prop_id, struct error *err)
{
	json_t *obj, *props, *prop, *key;
	char txn[37];

	if (!ev->sync_key || !(key = json_string(ev->sync_key))) {
		error_set(err, "event has no valid sync key; it cannot be tagged");
		return NULL;
	}
	obj = graph_event_fields_json(ev, NULL, err);
	if (!obj) {
		json_decref(key);
		return NULL;
	}
	json_object_set_new(obj, "responseRequested", json_false());
	/* A fresh transactionId per create attempt (docs/graph.md, docs/sync-states.md): Graph
	 * dedupes a client's retry of the same POST (the resource/event page), for a window it does
	 * not document, and refuses a value already used for a different event with
	 * ErrorDuplicateTransactionId (alcionai/corso#2490): the sync key, stable for ever, would
	 * make a recreate fail. A lookup by sync key, not this id, keeps creates single. */
	uuid_v4(txn);
	json_object_set_new(obj, "transactionId", json_string(txn));
	prop = json_object();
	json_object_set_new(prop, "id", json_string(prop_id));
	json_object_set_new(prop, "value", key);
	props = json_array();
	json_array_append_new(props, prop);
	json_object_set_new(obj, "singleValueExtendedProperties", props);
	return obj;
}

json_t *graph_build_patch(const struct event *ev, const struct event *written, const char *prop_id,
                          struct error *err)
{
	json_t *obj = graph_event_fields_json(ev, written, err);

	if (obj && json_object_size(obj) == 0) {
		/* nothing differs (a resync): rewrite every owned field */
		json_decref(obj);
		obj = graph_event_fields_json(ev, NULL, err);
	}
	/* a PATCH may set an extended property ([Graph api/singlevaluelegacyextendedproperty-post]:
	 * "Create ... in an existing instance" is a PATCH of the resource); transactionId stays as
	 * created ("cannot change transactionId in a subsequent update") */
	if (obj && ev->sync_key &&
	    (!written || strcmp_null(written->sync_key, ev->sync_key) != 0)) {
		json_t *props = json_array();

		json_array_append_new(
		    props, json_pack("{s:s, s:s}", "id", prop_id, "value", ev->sync_key));
		json_object_set_new(obj, "singleValueExtendedProperties", props);
	}
	return obj;
}
