/* struct event <-> Graph event JSON through one table of the fields the engine owns, as
 * evolution-ews's m365 utils do: {name, same, to-json, from-json}. A create sends every row; an
 * update sends only the rows whose values differ from what was last written. Sources:
 * [Graph resources/event], [Graph api/event-update]. */
#include "graph/graph.h"

#include "common/util.h"
#include "engine/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field {
	const char *name; /* for messages */
	bool (*same)(const struct event *a, const struct event *b);
	int (*to_json)(const struct event *ev, json_t *obj, struct error *err);
	int (*from_json)(const json_t *obj, struct event *ev, struct error *err);
};

/* Graph's enum spellings (resources/event: freeBusyStatus, sensitivity). */
static const struct {
	enum show_as v;
	const char *wire;
} show_as_wire[] = {
    {SHOW_FREE, "free"},
    {SHOW_TENTATIVE, "tentative"},
    {SHOW_BUSY, "busy"},
    {SHOW_OOF, "oof"},
    {SHOW_WORKING_ELSEWHERE, "workingElsewhere"},
};

static const struct {
	enum sensitivity v;
	const char *wire;
} sensitivity_wire[] = {
    {SENS_NORMAL, "normal"},
    {SENS_PERSONAL, "personal"},
    {SENS_PRIVATE, "private"},
    {SENS_CONFIDENTIAL, "confidential"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int put_string(json_t *obj, const char *key, const char *val, struct error *err)
{
	json_t *v = json_string(val ? val : "");

	if (!v)
		return error_set(err, "the event's %s is not valid UTF-8; correct the leave's text",
		                 key);
	json_object_set_new(obj, key, v);
	return 0;
}

static const char *get_string(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* ---- subject ---- */

static bool same_subject(const struct event *a, const struct event *b)
{
	return strcmp_null(a->subject, b->subject) == 0;
}

/* "The subject is limited to 255 characters" (EWS Subject element; the same Exchange store behind
 * Graph), and a longer one comes back cut, which every later comparison would take for an edit. */
#define MAX_SUBJECT_CHARS 255

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static int subject_to_json(const struct event *ev, json_t *obj, struct error *err)
{
	size_t n = utf8_chars(ev->subject);

	if (n > MAX_SUBJECT_CHARS)
		return error_set(
		    err,
		    "the event's subject is %zu characters long and Exchange keeps %d: "
		    "shorten the subject template ([kind] or [event] subject) or the "
		    "note it includes",
		    n, MAX_SUBJECT_CHARS);
	return put_string(obj, "subject", ev->subject, err);
}

static int subject_from_json(const json_t *obj, struct event *ev, struct error *err)
{
	const char *s = get_string(obj, "subject");

	(void)err;
	ev->subject = xstrdup(s ? s : "");
	return 0;
}

/* ---- body: plain text; no note is an empty body ---- */

static const char *body_text(const struct event *ev)
{
	return ev->body ? ev->body : "";
}

static bool same_body(const struct event *a, const struct event *b)
{
	return strcmp(body_text(a), body_text(b)) == 0;
}

static int body_to_json(const struct event *ev, json_t *obj, struct error *err)
{
	json_t *body = json_object();

	json_object_set_new(body, "contentType", json_string("text"));
	if (put_string(body, "content", body_text(ev), err) < 0) {
		json_decref(body);
		return -1;
	}
	json_object_set_new(obj, "body", body);
	return 0;
}

static int body_from_json(const json_t *obj, struct event *ev, struct error *err)
{
	const char *content = get_string(json_object_get(obj, "body"), "content");

	(void)err;
	ev->body = content && *content ? xstrdup(content) : NULL;
	return 0;
}

/* ---- start, end, isAllDay: always sent together, in one zone ([Graph resources/event]) ---- */

static bool same_times(const struct event *a, const struct event *b)
{
	return a->all_day == b->all_day && strcmp(a->start, b->start) == 0 &&
	       strcmp(a->end, b->end) == 0 && tz_same_zone(a->time_zone, b->time_zone);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Checks "YYYY-MM-DD" (date) or "YYYY-MM-DDTHH:MM[:SS]" shapes. */
static bool shape_ok(const char *s, bool date_only)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	size_t n = strlen(s);

	if (date_only ? n != 10 : (n != 16 && n != 19))
		return false;
	for (size_t i = 0; i < n; i++)
		if (pat[i] == 'd' ? !is_digit(s[i]) : s[i] != pat[i])
			return false;
	return true;
}

static int put_time(json_t *obj, const char *key, const char *value, bool all_day, const char *zone,
                    struct error *err)
{
	char dt[20];
	json_t *t;

	if (!shape_ok(value, all_day))
		return error_set(err, "the event's %s '%s' is not %s", key, value,
		                 all_day ? "a date YYYY-MM-DD" : "a time YYYY-MM-DDTHH:MM:SS");
	if (all_day)
		snprintf(dt, sizeof dt, "%.10sT00:00:00", value);
	else
		snprintf(dt, sizeof dt, "%.16s:%.2s", value,
		         strlen(value) == 19 ? value + 17 : "00");
	t = json_object();
	json_object_set_new(t, "dateTime", json_string(dt));
	json_object_set_new(t, "timeZone", json_string(zone));
	json_object_set_new(obj, key, t);
	return 0;
}

/* The Windows id Graph expects for the event's IANA zone. An all-day event is dates only, and Graph
 * wants its start and end "set to midnight and in the same time zone" ([Graph resources/event],
 * isAllDay): a zone without a Windows id, or a first day or day after the last without a local
 * midnight (a DST change at 00:00), is written in UTC, midnight to midnight on the same dates,
 * which never moves a day (tz_all_day_zone; [Graph resources/datetimetimezone]; docs/graph.md). */
static int windows_zone(const struct event *ev, char *out, size_t outlen, struct error *err)
{
	const char *z = ev->time_zone[0] ? ev->time_zone : "UTC";

	if (ev->all_day)
		z = tz_all_day_zone(z, ev->start, ev->end);
	if (strcasecmp(z, "UTC") == 0 || strcasecmp(z, "Etc/UTC") == 0)
		return strlcpy_checked(out, "UTC", outlen);
	if (tz_windows_from_iana(z, out, outlen) == 0)
		return 0;
	if (ev->all_day)
		return strlcpy_checked(out, "UTC", outlen);
	return error_set(
	    err,
	    "time zone '%s' has no Windows time zone id, which Graph needs; set the "
	    "leave's time_zone to a zone listed in CLDR windowsZones (e.g. Europe/Riga)",
	    z);
}

static int times_to_json(const struct event *ev, json_t *obj, struct error *err)
{
	char zone[64];

	if (windows_zone(ev, zone, sizeof zone, err) < 0)
		return -1;
	if (put_time(obj, "start", ev->start, ev->all_day, zone, err) < 0 ||
	    put_time(obj, "end", ev->end, ev->all_day, zone, err) < 0)
		return -1;
	json_object_set_new(obj, "isAllDay", json_boolean(ev->all_day));
	return 0;
}

bool graph_zone_known(const char *zone)
{
	char tmp[64];

	if (!zone || !*zone)
		return false;
	return strcasecmp(zone, "UTC") == 0 || tz_is_known_iana(zone) ||
	       tz_iana_from_windows(zone, tmp, sizeof tmp) == 0;
}

/* "HH:MM:SS" of a "YYYY-MM-DDTHH:MM:SS" is midnight. */
static bool at_midnight(const char *dt)
{
	return strcmp(dt + 11, "00:00:00") == 0;
}

int graph_convert_time(const char *datetime, const char *zone, const char *to_zone, bool all_day,
                       char out[20], struct error *err)
{
	char dt[20];
	int64_t t;

	if (!datetime || strlen(datetime) < 19)
		return error_set(err,
		                 "Graph returned a dateTime '%s' that is not YYYY-MM-DDTHH:MM:SS",
		                 datetime ? datetime : "(none)");
	snprintf(dt, sizeof dt, "%.19s", datetime);
	if (!shape_ok(dt, false))
		return error_set(err,
		                 "Graph returned a dateTime '%s' that is not YYYY-MM-DDTHH:MM:SS",
		                 datetime);
	if (tz_same_zone(zone, to_zone)) {
		memcpy(out, dt, 20);
	} else if (tz_local_to_unix(dt, zone, &t) < 0 || tz_unix_to_local(t, to_zone, out) < 0) {
		return error_set(err, "cannot convert Graph time %s from zone '%s' to '%s'", dt,
		                 zone ? zone : "(none)", to_zone ? to_zone : "(none)");
	}
	if (all_day) {
		/* Midnight in the event's zone is the date; a server that keeps all-day events
		 * floating answers midnight in the requested zone instead: keep that date. */
		const char *src = at_midnight(out) || !at_midnight(dt) ? out : dt;

		memmove(out, src, 10);
		out[10] = '\0';
	}
	return 0;
}

/* The zone the event was written in: originalStartTimeZone when ICU knows it, else the zone the
 * times came in. */
static const char *event_zone(const json_t *obj, const char *answer_zone)
{
	const char *orig = get_string(obj, "originalStartTimeZone");

	return graph_zone_known(orig) ? orig : answer_zone;
}

static int time_from_json(const json_t *obj, const char *key, const char *to_zone, bool all_day,
                          char out[20], struct error *err)
{
	const json_t *t = json_object_get(obj, key);
	const char *zone = get_string(t, "timeZone");

	if (!t || !get_string(t, "dateTime") || !graph_zone_known(zone))
		return error_set(err,
		                 "Graph event has no usable %s {dateTime, timeZone} (zone '%s')",
		                 key, zone ? zone : "(none)");
	return graph_convert_time(get_string(t, "dateTime"), zone, to_zone, all_day, out, err);
}

static int times_from_json(const json_t *obj, struct event *ev, struct error *err)
{
	const char *answer_zone = get_string(json_object_get(obj, "start"), "timeZone");
	const char *zone = event_zone(obj, answer_zone);

	if (!graph_zone_known(zone))
		return error_set(err, "Graph event has no usable start time zone ('%s')",
		                 zone ? zone : "(none)");
	ev->all_day = json_is_true(json_object_get(obj, "isAllDay"));
	if (strlcpy_checked(ev->time_zone, zone, sizeof ev->time_zone) < 0)
		return error_set(err, "Graph event time zone '%s' is too long", zone);
	if (time_from_json(obj, "start", zone, ev->all_day, ev->start, err) < 0 ||
	    time_from_json(obj, "end", zone, ev->all_day, ev->end, err) < 0)
		return -1;
	return 0;
}

/* ---- showAs ---- */

static bool same_show_as(const struct event *a, const struct event *b)
{
	return a->show_as == b->show_as;
}

static int show_as_to_json(const struct event *ev, json_t *obj, struct error *err)
{
	for (size_t i = 0; i < NELEM(show_as_wire); i++)
		if (show_as_wire[i].v == ev->show_as)
			return put_string(obj, "showAs", show_as_wire[i].wire, err);
	return error_set(err, "event has an unknown show-as value %d", (int)ev->show_as);
}

static int show_as_from_json(const json_t *obj, struct event *ev, struct error *err)
{
	const char *s = get_string(obj, "showAs");

	(void)err;
	ev->show_as =
	    SHOW_BUSY; /* Graph's "unknown" or a missing value: differs from oof, so drift */
	for (size_t i = 0; s && i < NELEM(show_as_wire); i++)
		if (strcasecmp(s, show_as_wire[i].wire) == 0)
			ev->show_as = show_as_wire[i].v;
	return 0;
}

/* ---- sensitivity ---- */

static bool same_sensitivity(const struct event *a, const struct event *b)
{
	return a->sensitivity == b->sensitivity;
}

static int sensitivity_to_json(const struct event *ev, json_t *obj, struct error *err)
{
	for (size_t i = 0; i < NELEM(sensitivity_wire); i++)
		if (sensitivity_wire[i].v == ev->sensitivity)
			return put_string(obj, "sensitivity", sensitivity_wire[i].wire, err);
	return error_set(err, "event has an unknown sensitivity value %d", (int)ev->sensitivity);
}

static int sensitivity_from_json(const json_t *obj, struct event *ev, struct error *err)
{
	const char *s = get_string(obj, "sensitivity");

	(void)err;
	ev->sensitivity = SENS_NORMAL;
	for (size_t i = 0; s && i < NELEM(sensitivity_wire); i++)
		if (strcasecmp(s, sensitivity_wire[i].wire) == 0)
			ev->sensitivity = sensitivity_wire[i].v;
	return 0;
}

/* ---- categories: compared as sets ---- */

static size_t ncategories(char *const *c)
{
	size_t n = 0;

	while (c && c[n])
		n++;
	return n;
}

static bool has_category(char *const *c, const char *name)
{
	for (size_t i = 0; c && c[i]; i++)
		if (strcmp(c[i], name) == 0)
			return true;
	return false;
}

static bool subset(char *const *a, char *const *b)
{
	for (size_t i = 0; a && a[i]; i++)
		if (!has_category(b, a[i]))
			return false;
	return true;
}

static bool same_categories(const struct event *a, const struct event *b)
{
	return subset(a->categories, b->categories) && subset(b->categories, a->categories);
}

static int categories_to_json(const struct event *ev, json_t *obj, struct error *err)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < ncategories(ev->categories); i++) {
		json_t *v = json_string(ev->categories[i]);

		if (!v) {
			json_decref(arr);
			return error_set(err, "an event category is not valid UTF-8");
		}
		json_array_append_new(arr, v);
	}
	json_object_set_new(obj, "categories", arr);
	return 0;
}

static int categories_from_json(const json_t *obj, struct event *ev, struct error *err)
{
	const json_t *arr = json_object_get(obj, "categories");
	size_t n = 0;

	(void)err;
	ev->categories = NULL;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return 0;
	ev->categories = xcalloc(json_array_size(arr) + 1, sizeof(char *));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		if (s)
			ev->categories[n++] = xstrdup(s);
	}
	return 0;
}

/* ---- reminder: isReminderOn false for leave, or minutes before start ---- */

static bool same_reminder(const struct event *a, const struct event *b)
{
	return (a->reminder_minutes < 0 && b->reminder_minutes < 0) ||
	       a->reminder_minutes == b->reminder_minutes;
}

static int reminder_to_json(const struct event *ev, json_t *obj, struct error *err)
{
	(void)err;
	json_object_set_new(obj, "isReminderOn", json_boolean(ev->reminder_minutes >= 0));
	if (ev->reminder_minutes >= 0)
		json_object_set_new(obj, "reminderMinutesBeforeStart",
		                    json_integer(ev->reminder_minutes));
	return 0;
}

static int reminder_from_json(const json_t *obj, struct event *ev, struct error *err)
{
	const json_t *m = json_object_get(obj, "reminderMinutesBeforeStart");

	(void)err;
	if (!json_is_true(json_object_get(obj, "isReminderOn")))
		ev->reminder_minutes = -1;
	else
		ev->reminder_minutes = json_is_integer(m) ? (int)json_integer_value(m) : 15;
	return 0;
}

static const struct field fields[] = {
    {"subject", same_subject, subject_to_json, subject_from_json},
    {"body", same_body, body_to_json, body_from_json},
    {"start/end", same_times, times_to_json, times_from_json},
    {"showAs", same_show_as, show_as_to_json, show_as_from_json},
    {"sensitivity", same_sensitivity, sensitivity_to_json, sensitivity_from_json},
    {"categories", same_categories, categories_to_json, categories_from_json},
    {"reminder", same_reminder, reminder_to_json, reminder_from_json},
};

json_t *graph_event_fields_json(const struct event *ev, const struct event *written,
                                struct error *err)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < NELEM(fields); i++) {
		if (written && fields[i].same(ev, written))
			continue;
		if (fields[i].to_json(ev, obj, err) < 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

int graph_event_fields_from_json(const json_t *obj, struct event *ev, struct error *err)
{
	if (!json_is_object(obj))
		return error_set(err, "Graph event is not a JSON object");
	for (size_t i = 0; i < NELEM(fields); i++)
		if (fields[i].from_json(obj, ev, err) < 0)
			return error_prefix(err, "%s: ", fields[i].name);
	return 0;
}
