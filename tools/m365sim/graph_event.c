/* m365sim Graph view: the event resource <-> sim_item (the item the EWS view shares), and the
 * validation Graph applies to event bodies. Facts: [doc: GRAPH resources/event, api/event-update].
 */
#include "graph.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MSG_VALIDATION "At least one property failed validation."

/* ---- ids ---- */

/* Graph ids are the URL-safe form of the EWS id ('/' -> '-', '+' -> '_'). */
char *graph_event_id(const struct graph_req *r, const struct sim_item *it)
{
	char *id = xstrdup(r->prefs.immutable_ids ? it->immutable_id : it->ews_id);

	for (char *p = id; *p; p++)
		*p = *p == '/' ? '-' : *p == '+' ? '_' : *p;
	return id;
}

struct sim_item *graph_find_item(struct sim_mailbox *mb, const char *id)
{
	struct sim_item *it = sim_item_by_id(mb, id);

	if (!it && (strchr(id, '-') || strchr(id, '_'))) {
		char *ews = xstrdup(id);
		for (char *p = ews; *p; p++)
			*p = *p == '-' ? '/' : *p == '_' ? '+' : *p;
		it = sim_item_by_id(mb, ews);
		free(ews);
	}
	return it;
}

/* ---- extended properties ---- */

/* "String {8ECCC264-6880-4EBE-992F-8888D2EEAA1D} Name TestProperty" [doc:
 * extended-properties-overview] */
static int parse_prop_id_typed(const char *id, char *type, size_t tsz, char *guid, size_t gsz,
                               char *name, size_t nsz)
{
	const char *sp = strchr(id, ' '), *ob, *cb;

	if (!sp || (size_t)(sp - id) >= tsz || (size_t)(sp - id) == 0)
		return -1;
	memcpy(type, id, (size_t)(sp - id));
	type[sp - id] = '\0';
	ob = sp + 1;
	if (*ob != '{' || !(cb = strchr(ob, '}')) || cb - ob - 1 != 36 || gsz < 37)
		return -1;
	for (int i = 0; i < 36; i++) {
		char ch = ob[1 + i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? ch != '-'
		         : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		             (ch >= 'A' && ch <= 'F')))
			return -1;
		guid[i] = (char)(ch >= 'A' && ch <= 'F' ? ch + 32 : ch);
	}
	guid[36] = '\0';
	if (strncmp(cb + 1, " Name ", 6) != 0 || !cb[7])
		return -1; /* the "Id 0x8012" and proptag forms are not supported here */
	return strlcpy_checked(name, cb + 7, nsz);
}

int graph_parse_prop_id(const char *id, char *guid, size_t gsz, char *name, size_t nsz)
{
	char type[32];

	if (parse_prop_id_typed(id, type, sizeof type, guid, gsz, name, nsz) < 0)
		return -1;
	return strcasecmp(type, "String") == 0 ? 0 : -1;
}

const struct sim_extprop *graph_item_prop(const struct sim_item *it, const char *guid,
                                          const char *name)
{
	/* "Filtering the string name (Name) in the id of an extended property is case-sensitive" */
	for (size_t i = 0; i < it->nprops; i++)
		if (strcasecmp(it->props[i].set_id, guid) == 0 &&
		    strcmp(it->props[i].name, name) == 0)
			return &it->props[i];
	return NULL;
}

static json_t *expanded_props(const struct graph_req *r, const struct sim_item *it)
{
	char *expand = graph_query_get(r->query, "$expand");
	struct graph_filter f = {0};
	json_t *arr = NULL;

	if (!expand || graph_expand_parse(expand, &f) < 0)
		goto done;
	arr = json_array();
	for (size_t i = 0; i < it->nprops; i++) {
		const struct sim_extprop *p = &it->props[i];
		bool want = f.n == 0;
		for (size_t k = 0; k < f.n && !want; k++)
			want = strcasecmp(f.any[k].guid, p->set_id) == 0 &&
			       strcmp(f.any[k].name, p->name) == 0;
		if (!want || !p->value)
			continue;
		struct buf id = BUF_INIT;
		buf_printf(&id, "%s {%s} Name %s", p->type ? p->type : "String", p->set_id,
		           p->name);
		json_array_append_new(arr,
		                      json_pack("{s:s,s:s}", "id", id.data, "value", p->value));
		buf_free(&id);
	}
done:
	graph_filter_free(&f);
	free(expand);
	return arr;
}

/* ---- enums: Graph name <-> the EWS value the item stores ---- */

static const char *const show_as_map[][2] = {{"free", "Free"},
                                             {"tentative", "Tentative"},
                                             {"busy", "Busy"},
                                             {"oof", "OOF"},
                                             {"workingElsewhere", "WorkingElsewhere"},
                                             {"unknown", "NoData"},
                                             {NULL, NULL}};
static const char *const sensitivity_map[][2] = {{"normal", "Normal"},
                                                 {"personal", "Personal"},
                                                 {"private", "Private"},
                                                 {"confidential", "Confidential"},
                                                 {NULL, NULL}};
static const char *const importance_map[][2] = {
    {"low", "Low"}, {"normal", "Normal"}, {"high", "High"}, {NULL, NULL}};

static const char *enum_to_graph(const char *const map[][2], const char *ews, const char *def)
{
	for (size_t i = 0; ews && map[i][0]; i++)
		if (strcasecmp(map[i][1], ews) == 0)
			return map[i][0];
	return def;
}

/* Enum members are case-sensitive in OData JSON ("oof", not "OOF") [OData JSON Format §7.3 enums;
 * the member names of microsoft.graph.freeBusyStatus]: another case is an unknown value. */
static const char *enum_from_graph(const char *const map[][2], const char *graph)
{
	for (size_t i = 0; graph && map[i][0]; i++)
		if (strcmp(map[i][0], graph) == 0)
			return map[i][1];
	return NULL;
}

/* ---- output ---- */

static void format_local(char out[40], int y, int mo, int d, int h, int mi, int sec)
{
	snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.0000000", y, mo, d, h, mi, sec);
}

static const char *iana_of(const char *zone, char *iana, size_t n)
{
	char win[128];

	if (zone && graph_tz_resolve(zone, win, sizeof win, iana, n) == 0)
		return iana;
	return "Etc/UTC";
}

/* dateTimeTimeZone in the zone the client prefers (outlook.timezone, default UTC). All-day events
 * float: they keep their calendar dates whatever zone the response is in. */
static json_t *date_time_tz(const struct graph_req *r, const struct sim_item *it, int64_t t,
                            const char *stored_zone)
{
	char iana[128], text[40];
	const char *zone = "UTC", *out_iana = "Etc/UTC";
	int y, mo, d, h, mi, sec;

	if (r->prefs.tz[0]) {
		char win[128];
		if (graph_tz_resolve(r->prefs.tz, win, sizeof win, iana, sizeof iana) == 0) {
			zone = r->prefs.tz;
			out_iana = iana;
		}
	}
	if (it->is_all_day) {
		char siana[128];
		graph_utc_to_local(iana_of(stored_zone, siana, sizeof siana), t, &y, &mo, &d, &h,
		                   &mi, &sec);
		h = mi = sec = 0;
	} else {
		graph_utc_to_local(out_iana, t, &y, &mo, &d, &h, &mi, &sec);
	}
	format_local(text, y, mo, d, h, mi, sec);
	return json_pack("{s:s,s:s}", "dateTime", text, "timeZone", zone);
}

static void html_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\n':
			buf_puts(b, "<br>\r\n");
			break;
		default:
			buf_append(b, s, 1);
		}
	}
}

static void strip_tags(struct buf *b, const char *s)
{
	bool in_tag = false;

	for (; *s; s++) {
		if (*s == '<')
			in_tag = true;
		else if (*s == '>')
			in_tag = false;
		else if (!in_tag)
			buf_append(b, s, 1);
	}
}

/* Responses default to HTML unless Prefer: outlook.body-content-type="text" [doc]. */
static json_t *body_json(const struct graph_req *r, const struct sim_item *it)
{
	bool stored_html = it->body_type && strcasecmp(it->body_type, "HTML") == 0;
	bool want_text = strcasecmp(r->prefs.body_type, "text") == 0;
	const char *content = it->body ? it->body : "";
	struct buf b = BUF_INIT;
	json_t *j;

	if (want_text && stored_html) {
		strip_tags(&b, content);
	} else if (!want_text && !stored_html) {
		buf_puts(&b,
		         "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; "
		         "charset=utf-8\">\r\n</head>\r\n<body>\r\n");
		html_escape(&b, content);
		buf_puts(&b, "\r\n</body>\r\n</html>\r\n");
	} else {
		buf_puts(&b, content);
	}
	j = json_pack("{s:s,s:s}", "contentType", want_text ? "text" : "html", "content",
	              b.data ? b.data : "");
	buf_free(&b);
	return j;
}

static json_t *body_preview(const struct sim_item *it)
{
	struct buf b = BUF_INIT;
	json_t *j;

	if (it->body && it->body_type && strcasecmp(it->body_type, "HTML") == 0)
		strip_tags(&b, it->body);
	else
		buf_puts(&b, it->body ? it->body : "");
	if (b.len > 255) {
		size_t n = 255;
		while (n > 0 && ((unsigned char)b.data[n] & 0xC0) == 0x80)
			n--; /* keep UTF-8 whole */
		b.data[n] = '\0';
	}
	j = json_string(b.data ? b.data : "");
	buf_free(&b);
	return j ? j : json_string("");
}

static json_t *iso_modified(int64_t t)
{
	char iso[32], out[48];

	graph_format_utc(iso, t);
	iso[strlen(iso) - 1] = '\0';
	snprintf(out, sizeof out, "%s.0000000Z", iso);
	return json_string(out);
}

json_t *graph_event_json(struct graph_ctx *c, const struct graph_req *r,
                         const struct graph_target *t, const struct sim_item *it)
{
	char *id = graph_event_id(r, it), etag[160], uid[37], ical[80];
	json_t *ev = json_object(), *cats = json_array(), *props;

	snprintf(etag, sizeof etag, "W/\"%s\"", it->change_key);
	uuid_v5(uid, "6ba7b811-9dad-11d1-80b4-00c04fd430c8", it->immutable_id,
	        strlen(it->immutable_id));
	snprintf(ical, sizeof ical, "040000008200E00074C5B7101A82E008%.8s%.4s%.4s", uid, uid + 9,
	         uid + 14);
	for (size_t i = 0; it->categories && it->categories[i]; i++)
		json_array_append_new(cats, json_string(it->categories[i]));
	json_object_set_new(ev, "@odata.etag", json_string(etag));
	json_object_set_new(ev, "id", json_string(id));
	json_object_set_new(ev, "createdDateTime", iso_modified(it->created));
	json_object_set_new(ev, "lastModifiedDateTime", iso_modified(it->modified));
	json_object_set_new(ev, "changeKey", json_string(it->change_key));
	json_object_set_new(ev, "categories", cats);
	json_object_set_new(ev, "transactionId",
	                    it->transaction_id ? json_string(it->transaction_id) : json_null());
	json_object_set_new(ev, "originalStartTimeZone",
	                    json_string(it->start_tz ? it->start_tz : "UTC"));
	json_object_set_new(ev, "originalEndTimeZone",
	                    json_string(it->end_tz ? it->end_tz : "UTC"));
	json_object_set_new(ev, "iCalUId", json_string(ical));
	json_object_set_new(ev, "reminderMinutesBeforeStart", json_integer(it->reminder_minutes));
	json_object_set_new(ev, "isReminderOn", json_boolean(it->reminder_is_set));
	json_object_set_new(ev, "hasAttachments", json_false());
	json_object_set_new(ev, "subject", json_string(it->subject ? it->subject : ""));
	json_object_set_new(ev, "bodyPreview", body_preview(it));
	json_object_set_new(ev, "importance", json_string("normal"));
	json_object_set_new(ev, "sensitivity",
	                    json_string(enum_to_graph(sensitivity_map, it->sensitivity, "normal")));
	json_object_set_new(ev, "isAllDay", json_boolean(it->is_all_day));
	json_object_set_new(ev, "isCancelled", json_false());
	json_object_set_new(ev, "isOrganizer", json_true());
	json_object_set_new(ev, "responseRequested", json_true());
	json_object_set_new(ev, "seriesMasterId", json_null());
	json_object_set_new(ev, "showAs",
	                    json_string(enum_to_graph(show_as_map, it->show_as, "busy")));
	json_object_set_new(ev, "type", json_string("singleInstance"));
	struct buf link = BUF_INIT;
	buf_printf(&link,
	           "https://outlook.office365.com/owa/?itemid=%s&exvsurl=1&path=/calendar/item",
	           id);
	json_object_set_new(ev, "webLink", json_string(link.data));
	buf_free(&link);
	json_object_set_new(ev, "body", body_json(r, it));
	json_object_set_new(ev, "start", date_time_tz(r, it, it->start, it->start_tz));
	json_object_set_new(ev, "end", date_time_tz(r, it, it->end, it->start_tz));
	json_object_set_new(ev, "location",
	                    json_pack("{s:s,s:s,s:s}", "displayName", "", "locationType", "default",
	                              "uniqueIdType", "unknown"));
	json_object_set_new(ev, "locations", json_array());
	json_object_set_new(ev, "recurrence", json_null());
	json_object_set_new(ev, "attendees", json_array());
	json_object_set_new(ev, "organizer",
	                    json_pack("{s:{s:s,s:s}}", "emailAddress", "name",
	                              t->user->display_name ? t->user->display_name : t->user->upn,
	                              "address", t->user->mail));
	if ((props = expanded_props(r, it)))
		json_object_set_new(ev, "singleValueExtendedProperties", props);
	free(id);
	(void)c;
	return ev;
}

/* ---- input ---- */

/* A validated body, before it touches the item. */
struct draft {
	json_t *j; /* the body (borrowed) */
	bool has_start, has_end;
	int64_t start, end;
	char start_win[128], end_win[128];
	const char *subject, *body, *body_type, *show_as, *sensitivity, *txn;
	bool has_subject, has_body, has_all_day, all_day, has_reminder, reminder, has_minutes;
	bool has_categories, has_txn;
	int minutes;
	json_t *categories, *props;
};

struct fail {
	int status;
	const char *code;
	char msg[400];
};

static int failf(struct fail *f, int status, const char *code, const char *msg, const char *arg)
{
	f->status = status;
	f->code = code;
	snprintf(f->msg, sizeof f->msg, msg, arg ? arg : "");
	return -1;
}

#define READ_ERR "RequestBodyRead"

static int want_type(json_t *v, json_type type, const char *edm, struct fail *f)
{
	if (json_typeof(v) == type || (type == JSON_TRUE && json_is_boolean(v)))
		return 0;
	return failf(f, 400, READ_ERR,
	             "Cannot convert a primitive value to the expected type '%s'. See the inner "
	             "exception for more details.",
	             edm);
}

static int parse_enum(json_t *v, const char *const map[][2], const char *type, const char **out,
                      struct fail *f)
{
	if (want_type(v, JSON_STRING, type, f) < 0)
		return -1;
	*out = enum_from_graph(map, json_string_value(v));
	if (!*out)
		return failf(f, 400, READ_ERR, "Requested value '%s' was not found.",
		             json_string_value(v));
	return 0;
}

static int parse_dtz(json_t *v, int64_t *utc, char *win, size_t winsz, struct fail *f)
{
	const char *dt, *tz, *key;
	char iana[128];
	int y, mo, d, h, mi, sec;
	json_t *x;

	if (want_type(v, JSON_OBJECT, "microsoft.graph.dateTimeTimeZone", f) < 0)
		return -1;
	json_object_foreach(v, key, x)
	{
		if (strcmp(key, "dateTime") != 0 && strcmp(key, "timeZone") != 0 &&
		    strcmp(key, "@odata.type") != 0)
			return failf(f, 400, READ_ERR,
			             "The property '%s' does not exist on type "
			             "'microsoft.graph.dateTimeTimeZone'. Make sure to only use "
			             "property names that are defined by the type or mark the type "
			             "as open type.",
			             key);
	}
	dt = json_string_value(json_object_get(v, "dateTime"));
	tz = json_string_value(json_object_get(v, "timeZone"));
	if (!dt || graph_parse_local(dt, &y, &mo, &d, &h, &mi, &sec) < 0)
		return failf(f, 400, READ_ERR,
		             "Cannot convert the literal '%s' to the expected type "
		             "'Edm.DateTimeOffset'.",
		             dt ? dt : "");
	if (!tz || graph_tz_resolve(tz, win, winsz, iana, sizeof iana) < 0)
		return failf(f, 400, "TimeZoneNotSupportedException",
		             "A valid TimeZone value must be specified. The following TimeZone "
		             "value is not supported: '%s'.",
		             tz ? tz : "");
	if (graph_local_to_utc(iana, y, mo, d, h, mi, sec, utc) < 0)
		return failf(f, 400, READ_ERR, "Cannot convert the literal '%s'.", dt);
	return 0;
}

static int parse_body_prop(struct draft *dr, json_t *v, struct fail *f)
{
	const char *key;
	json_t *x;

	if (json_is_null(v)) {
		dr->has_body = true;
		dr->body = "";
		dr->body_type = "Text";
		return 0;
	}
	if (want_type(v, JSON_OBJECT, "microsoft.graph.itemBody", f) < 0)
		return -1;
	json_object_foreach(v, key, x)
	{
		if (strcmp(key, "contentType") == 0) {
			if (want_type(x, JSON_STRING, "microsoft.graph.bodyType", f) < 0)
				return -1;
			if (strcasecmp(json_string_value(x), "text") == 0)
				dr->body_type = "Text";
			else if (strcasecmp(json_string_value(x), "html") == 0)
				dr->body_type = "HTML";
			else
				return failf(f, 400, READ_ERR,
				             "Requested value '%s' was not found.",
				             json_string_value(x));
		} else if (strcmp(key, "content") == 0) {
			if (want_type(x, JSON_STRING, "Edm.String", f) < 0)
				return -1;
			dr->body = json_string_value(x);
		} else if (strcmp(key, "@odata.type") != 0) {
			return failf(f, 400, READ_ERR,
			             "The property '%s' does not exist on type "
			             "'microsoft.graph.itemBody'. Make sure to only use property "
			             "names that are defined by the type or mark the type as open "
			             "type.",
			             key);
		}
	}
	dr->has_body = true;
	if (!dr->body_type)
		dr->body_type = "Text";
	return 0;
}

static int check_categories(json_t *v, struct fail *f)
{
	size_t i;
	json_t *x;

	if (want_type(v, JSON_ARRAY, "Collection(Edm.String)", f) < 0)
		return -1;
	json_array_foreach(v, i, x)
	{
		if (want_type(x, JSON_STRING, "Edm.String", f) < 0)
			return -1;
	}
	return 0;
}

static int check_props(json_t *v, struct fail *f)
{
	size_t i;
	json_t *x;
	char type[32], guid[40], name[256];

	if (want_type(v, JSON_ARRAY,
	              "Collection(microsoft.graph.singleValueLegacyExtendedProperty)", f) < 0)
		return -1;
	json_array_foreach(v, i, x)
	{
		const char *id = json_string_value(json_object_get(x, "id"));
		json_t *val = json_object_get(x, "value");
		if (!json_is_object(x) || !id)
			return failf(f, 400, READ_ERR, "%s",
			             "An extended property needs an 'id' and a 'value'.");
		if (parse_prop_id_typed(id, type, sizeof type, guid, sizeof guid, name,
		                        sizeof name) < 0)
			return failf(f, 400, "ErrorInvalidProperty",
			             "The extended property id '%s' is not supported.", id);
		if (val && !json_is_string(val) && !json_is_null(val))
			return want_type(val, JSON_STRING, "Edm.String", f);
	}
	return 0;
}

/* Properties that exist on event but that this simulator does not store: accepted and checked
 * for type only. Read-only properties are ignored, as Graph does. */
static const char *const accepted_other[] = {"responseRequested",
                                             "allowNewTimeProposals",
                                             "hideAttendees",
                                             "isOnlineMeeting",
                                             "onlineMeetingProvider",
                                             "location",
                                             "locations",
                                             "attendees",
                                             "recurrence",
                                             "@odata.type",
                                             "id",
                                             "changeKey",
                                             "createdDateTime",
                                             "lastModifiedDateTime",
                                             "iCalUId",
                                             "webLink",
                                             "type",
                                             "bodyPreview",
                                             "originalStartTimeZone",
                                             "originalEndTimeZone",
                                             "isOrganizer",
                                             "isCancelled",
                                             "hasAttachments",
                                             "organizer",
                                             "responseStatus",
                                             "seriesMasterId",
                                             "onlineMeetingUrl",
                                             "onlineMeeting",
                                             "isDraft",
                                             "@odata.etag",
                                             "multiValueExtendedProperties",
                                             NULL};

static bool is_accepted_other(const char *key)
{
	for (size_t i = 0; accepted_other[i]; i++)
		if (strcmp(accepted_other[i], key) == 0)
			return true;
	return false;
}

static int parse_field(struct draft *dr, const char *key, json_t *v, struct fail *f)
{
	const char *ignored;

	if (strcmp(key, "subject") == 0) {
		if (!json_is_null(v) && want_type(v, JSON_STRING, "Edm.String", f) < 0)
			return -1;
		dr->has_subject = true;
		dr->subject = json_is_null(v) ? "" : json_string_value(v);
	} else if (strcmp(key, "body") == 0) {
		return parse_body_prop(dr, v, f);
	} else if (strcmp(key, "start") == 0) {
		dr->has_start = true;
		return parse_dtz(v, &dr->start, dr->start_win, sizeof dr->start_win, f);
	} else if (strcmp(key, "end") == 0) {
		dr->has_end = true;
		return parse_dtz(v, &dr->end, dr->end_win, sizeof dr->end_win, f);
	} else if (strcmp(key, "isAllDay") == 0) {
		dr->has_all_day = true;
		dr->all_day = json_is_true(v);
		return want_type(v, JSON_TRUE, "Edm.Boolean", f);
	} else if (strcmp(key, "showAs") == 0) {
		return parse_enum(v, show_as_map, "microsoft.graph.freeBusyStatus", &dr->show_as,
		                  f);
	} else if (strcmp(key, "sensitivity") == 0) {
		return parse_enum(v, sensitivity_map, "microsoft.graph.sensitivity",
		                  &dr->sensitivity, f);
	} else if (strcmp(key, "importance") == 0) {
		return parse_enum(v, importance_map, "microsoft.graph.importance", &ignored, f);
	} else if (strcmp(key, "categories") == 0) {
		dr->has_categories = true;
		dr->categories = v;
		return check_categories(v, f);
	} else if (strcmp(key, "isReminderOn") == 0) {
		dr->has_reminder = true;
		dr->reminder = json_is_true(v);
		return want_type(v, JSON_TRUE, "Edm.Boolean", f);
	} else if (strcmp(key, "reminderMinutesBeforeStart") == 0) {
		dr->has_minutes = true;
		dr->minutes = (int)json_integer_value(v);
		return want_type(v, JSON_INTEGER, "Edm.Int32", f);
	} else if (strcmp(key, "transactionId") == 0) {
		if (!json_is_null(v) && want_type(v, JSON_STRING, "Edm.String", f) < 0)
			return -1;
		dr->has_txn = true;
		dr->txn = json_string_value(v);
	} else if (strcmp(key, "singleValueExtendedProperties") == 0) {
		dr->props = v;
		return check_props(v, f);
	} else if (!is_accepted_other(key)) {
		return failf(
		    f, 400, READ_ERR,
		    "The property '%s' does not exist on type 'microsoft.graph.event'. Make "
		    "sure to only use property names that are defined by the type or mark "
		    "the type as open type.",
		    key);
	}
	return 0;
}

static bool local_midnight(const char *win, int64_t t)
{
	char iana[128];
	int y, mo, d, h, mi, sec;

	if (graph_utc_to_local(iana_of(win, iana, sizeof iana), t, &y, &mo, &d, &h, &mi, &sec) < 0)
		return false;
	return h == 0 && mi == 0 && sec == 0;
}

/* The event as it would be after the write: start/end/zones/isAllDay rules [doc: resources/event:
 * "start and end time must be set to midnight and be in the same time zone"]. */
static int check_times(struct draft *dr, const struct sim_item *it, struct fail *f)
{
	int64_t start = dr->has_start ? dr->start : it ? it->start : 0;
	int64_t end = dr->has_end ? dr->end : it ? it->end : 0;
	const char *stz = dr->has_start ? dr->start_win : it && it->start_tz ? it->start_tz : "UTC";
	const char *etz = dr->has_end ? dr->end_win : it && it->end_tz ? it->end_tz : "UTC";
	bool all_day = dr->has_all_day ? dr->all_day : it ? it->is_all_day : false;

	if (!it && (!dr->has_start || !dr->has_end))
		return failf(f, 400, "ErrorPropertyValidationFailure", "%s", MSG_VALIDATION);
	if (end < start)
		return failf(f, 400, "ErrorPropertyValidationFailure", "%s", MSG_VALIDATION);
	if (all_day && (strcmp(stz, etz) != 0 || !local_midnight(stz, start) ||
	                !local_midnight(etz, end) || end - start < 23 * 3600))
		return failf(f, 400, "ErrorPropertyValidationFailure", "%s", MSG_VALIDATION);
	return 0;
}

static int parse_draft(struct draft *dr, json_t *body, const struct sim_item *it, struct fail *f)
{
	const char *key;
	json_t *v;

	memset(dr, 0, sizeof *dr);
	dr->j = body;
	if (!json_is_object(body))
		return failf(f, 400, "BadRequest", "%s", "Empty Payload. JSON content expected.");
	json_object_foreach(body, key, v)
	{
		if (parse_field(dr, key, v, f) < 0)
			return -1;
	}
	if (it && dr->has_txn && it->transaction_id &&
	    (!dr->txn || strcmp(dr->txn, it->transaction_id) != 0))
		/* "you cannot change transactionId in a subsequent update" [doc: resources/event]
		 */
		return failf(f, 400, "ErrorPropertyValidationFailure", "%s", MSG_VALIDATION);
	return check_times(dr, it, f);
}

/* ---- apply ---- */

static void set_str(char **field, const char *value)
{
	char *copy = xstrdup(value);

	free(*field);
	*field = copy;
}

static void apply_categories(struct sim_item *it, json_t *cats)
{
	size_t i, n = json_array_size(cats);
	json_t *x;

	for (size_t k = 0; it->categories && it->categories[k]; k++)
		free(it->categories[k]);
	free(it->categories);
	it->categories = xcalloc(n + 1, sizeof *it->categories);
	json_array_foreach(cats, i, x) it->categories[i] = xstrdup(json_string_value(x));
}

static void apply_props(struct sim_item *it, json_t *props)
{
	size_t i;
	json_t *x;
	char type[32], guid[40], name[256];

	json_array_foreach(props, i, x)
	{
		const char *val = json_string_value(json_object_get(x, "value"));
		parse_prop_id_typed(json_string_value(json_object_get(x, "id")), type, sizeof type,
		                    guid, sizeof guid, name, sizeof name);
		type[0] = (char)(type[0] >= 'a' && type[0] <= 'z' ? type[0] - 32 : type[0]);
		struct sim_extprop *p = (struct sim_extprop *)graph_item_prop(it, guid, name);
		if (!p) {
			it->props = xrealloc(it->props, (it->nprops + 1) * sizeof *it->props);
			p = &it->props[it->nprops++];
			memset(p, 0, sizeof *p);
			p->set_id = xstrdup(guid);
			p->name = xstrdup(name);
		}
		set_str(&p->type, type);
		free(p->value);
		p->value = val ? xstrdup(val) : NULL;
	}
}

static void apply_draft(struct sim *s, struct sim_item *it, const struct draft *dr)
{
	if (dr->has_subject) {
		free(it->subject);
		it->subject = sim_subject_stored(dr->subject);
	}
	if (dr->has_body) {
		set_str(&it->body, dr->body ? dr->body : "");
		set_str(&it->body_type, dr->body_type);
	}
	if (dr->has_start) {
		it->start = dr->start;
		set_str(&it->start_tz, dr->start_win);
	}
	if (dr->has_end) {
		it->end = dr->end;
		set_str(&it->end_tz, dr->end_win);
	}
	if (dr->has_all_day)
		it->is_all_day = dr->all_day;
	if (dr->show_as)
		set_str(&it->show_as, dr->show_as);
	if (dr->sensitivity)
		set_str(&it->sensitivity, dr->sensitivity);
	if (dr->has_categories)
		apply_categories(it, dr->categories);
	if (dr->has_reminder)
		it->reminder_is_set = dr->reminder;
	if (dr->has_minutes)
		it->reminder_minutes = dr->minutes;
	if (dr->has_txn && dr->txn && !it->transaction_id)
		set_str(&it->transaction_id, dr->txn);
	if (dr->props)
		apply_props(it, dr->props);
	it->modified = sim_now(s);
}

struct sim_item *graph_event_write(struct graph_ctx *c, const struct graph_req *r,
                                   const struct graph_target *t, struct sim_item *it,
                                   struct graph_reply *out)
{
	struct draft dr;
	struct fail f = {0};

	if (parse_draft(&dr, r->body, it, &f) < 0) {
		sim_count(c->s, "graph.validation errors");
		graph_error(c, r, out, f.status, f.code, f.msg);
		return NULL;
	}
	if (!it) {
		it = sim_item_new(t->mb);
		it->created = sim_now(c->s);
		it->reminder_is_set = true; /* Outlook's defaults for a new appointment */
		it->reminder_minutes = 15;
		apply_draft(c->s, it, &dr);
		return it;
	}
	apply_draft(c->s, it, &dr);
	sim_item_touch(c->s, t->mb, it);
	return it;
}
