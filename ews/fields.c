/* The owned fields of a leave event as EWS CalendarItem elements: one table of {element, FieldURI,
 * to-wire, from-wire, differs}, in the order types.xsd requires (ItemType's elements first, then
 * CalendarItemType's), as evolution-ews maps iCalendar properties for Microsoft 365.
 *
 * Times: all-day leave is Start = midnight of the first day and End = midnight after the last, in
 * the leave's zone, timed leave its wall times; both are sent with the zone's UTC offset at that
 * instant ("2026-12-24T00:00:00+02:00"), together with StartTimeZone/EndTimeZone naming the leave's
 * Windows zone and a TimeZoneContext header, as exchangelib sends them (ewsdatetime.py ewsformat,
 * calendar_item.py date_to_datetime). A value with an offset "is always interpreted as that time
 * zone" ([EWS time-zones-and-ews-in-exchange], table 2), also in an UpdateItem's SetItemField,
 * whose CalendarItem carries Start alone: a zone-less value there would be read in TimeZoneContext
 * or UTC, never in the StartTimeZone of another SetItemField. All-day midnights are then midnights
 * of StartTimeZone, which is what Exchange enforces for IsAllDayEvent
 * ([EWS how-to-create-all-day-events-by-using-ews-in-exchange]). Exchange answers in UTC ("Z");
 * reading converts back to the item's StartTimeZone before taking dates (the UTC date of a local
 * midnight may be the day before). */
#include "ews/ews.h"

#include "common/util.h"
#include "engine/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum {
	F_DELETABLE = 1 << 0, /* absent in the event: DeleteItemField on update */
	F_TIME = 1 << 1,      /* Start/End/IsAllDayEvent/zones travel together on update */
	F_ZONE = 1 << 2,      /* a time zone: sent first among the time fields on update */
};

/* What reading a CalendarItem collects before the times can be converted. */
struct read_state {
	struct remote_event *re;
	char start[40], end[40];             /* raw xs:dateTime values */
	char start_zone[128], end_zone[128]; /* Windows ids from StartTimeZone/EndTimeZone */
	bool reminder_set;
	int reminder_minutes; /* -1 when absent */
};

struct field {
	const char *name;      /* element local name in the types namespace */
	const char *field_uri; /* UnindexedFieldURI; NULL: the sync-key extended property */
	unsigned flags;
	bool (*has)(const struct event *ev);
	void (*to_wire)(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
	                const struct ews_zones *z);
	void (*from_wire)(xmlNodePtr el, struct read_state *st);
	bool (*differs)(const struct event *a, const struct event *b);
};

static const char *const sensitivity_wire[] = {"Normal", "Personal", "Private", "Confidential"};
static const char *const show_as_wire[] = {"Free", "Tentative", "Busy", "OOF", "WorkingElsewhere"};

static bool always(const struct event *ev)
{
	(void)ev;
	return true;
}

static bool empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* ---- Subject ---- */

static void subject_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                       const struct ews_zones *z)
{
	(void)z;
	ews_add(item, t, "Subject", ev->subject ? ev->subject : "");
}

static void subject_from(xmlNodePtr el, struct read_state *st)
{
	free(st->re->ev.subject);
	st->re->ev.subject = ews_node_text(el, false);
}

static bool subject_differs(const struct event *a, const struct event *b)
{
	return strcmp(a->subject ? a->subject : "", b->subject ? b->subject : "") != 0;
}

/* ---- Sensitivity ---- */

static void sensitivity_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                           const struct ews_zones *z)
{
	(void)z;
	unsigned s = (unsigned)ev->sensitivity;
	ews_add(item, t, "Sensitivity", sensitivity_wire[s < 4 ? s : 0]);
}

static void sensitivity_from(xmlNodePtr el, struct read_state *st)
{
	char *v = ews_node_text(el, true);

	st->re->ev.sensitivity = SENS_NORMAL;
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(v, sensitivity_wire[i]) == 0)
			st->re->ev.sensitivity = (enum sensitivity)i;
	free(v);
}

static bool sensitivity_differs(const struct event *a, const struct event *b)
{
	return a->sensitivity != b->sensitivity;
}

/* ---- Body (plain text) ---- */

static bool body_has(const struct event *ev)
{
	return !empty(ev->body);
}

static void body_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev, const struct ews_zones *z)
{
	(void)z;
	xmlNodePtr b = ews_add(item, t, "Body", ev->body);
	ews_set_attr(b, "BodyType", "Text");
}

static void body_from(xmlNodePtr el, struct read_state *st)
{
	char *v = ews_node_text(el, false);

	free(st->re->ev.body);
	st->re->ev.body = NULL;
	if (*v)
		st->re->ev.body = v;
	else
		free(v);
}

static bool body_differs(const struct event *a, const struct event *b)
{
	return strcmp(a->body ? a->body : "", b->body ? b->body : "") != 0;
}

/* ---- Categories ---- */

static size_t count_categories(const struct event *ev)
{
	size_t n = 0;

	while (ev->categories && ev->categories[n])
		n++;
	return n;
}

static bool categories_has(const struct event *ev)
{
	return count_categories(ev) > 0;
}

static void categories_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                          const struct ews_zones *z)
{
	(void)z;
	xmlNodePtr c = ews_add(item, t, "Categories", NULL);
	for (size_t i = 0; ev->categories && ev->categories[i]; i++)
		ews_add(c, t, "String", ev->categories[i]);
}

static void categories_from(xmlNodePtr el, struct read_state *st)
{
	size_t n = 0;
	char **v = xcalloc(1, sizeof(*v));

	for (xmlNodePtr c = el->children; c; c = c->next) {
		if (!ews_is(c, EWS_NS_TYPES, "String"))
			continue;
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = ews_node_text(c, false);
		v[n] = NULL;
	}
	char **old = st->re->ev.categories;
	for (size_t i = 0; old && old[i]; i++)
		free(old[i]);
	free(old);
	st->re->ev.categories = v;
}

static bool contains_all(const struct event *a, const struct event *b)
{
	for (size_t i = 0; a->categories && a->categories[i]; i++) {
		bool found = false;
		for (size_t j = 0; b->categories && b->categories[j] && !found; j++)
			found = strcmp(a->categories[i], b->categories[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

static bool categories_differs(const struct event *a, const struct event *b)
{
	return !contains_all(a, b) || !contains_all(b, a); /* compared as sets */
}

/* ---- Reminder: leave carries none by default ---- */

static void reminder_set_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                            const struct ews_zones *z)
{
	(void)z;
	/* Always explicit: an omitted ReminderIsSet may take the mailbox's default (exchangelib
	 * always sends it too: exchangelib/items/item.py). */
	ews_add(item, t, "ReminderIsSet", ev->reminder_minutes >= 0 ? "true" : "false");
}

static void reminder_set_from(xmlNodePtr el, struct read_state *st)
{
	char *v = ews_node_text(el, true);

	st->reminder_set = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
	free(v);
}

static bool reminder_minutes_has(const struct event *ev)
{
	return ev->reminder_minutes >= 0;
}

static void reminder_minutes_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                                const struct ews_zones *z)
{
	(void)z;
	char v[16];
	snprintf(v, sizeof(v), "%d", ev->reminder_minutes);
	ews_add(item, t, "ReminderMinutesBeforeStart", v);
}

static void reminder_minutes_from(xmlNodePtr el, struct read_state *st)
{
	char *v = ews_node_text(el, true);

	st->reminder_minutes = atoi(v);
	free(v);
}

static bool reminder_differs(const struct event *a, const struct event *b)
{
	return (a->reminder_minutes < 0 ? -1 : a->reminder_minutes) !=
	       (b->reminder_minutes < 0 ? -1 : b->reminder_minutes);
}

/* ---- the sync key ([EWS ref extendedfielduri]): our own property set, String ---- */

static void sync_key_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                        const struct ews_zones *z)
{
	(void)z;
	xmlNodePtr p = ews_add(item, t, "ExtendedProperty", NULL);
	ews_add_sync_key_uri(p, t);
	ews_add(p, t, "Value", ev->sync_key ? ev->sync_key : "");
}

static void sync_key_from(xmlNodePtr el, struct read_state *st)
{
	xmlNodePtr uri = ews_child(el, EWS_NS_TYPES, "ExtendedFieldURI");
	xmlNodePtr value = ews_child(el, EWS_NS_TYPES, "Value");
	char set[64], name[64];

	if (!uri || !value || !ews_attr(uri, "PropertySetId", set, sizeof(set)) ||
	    !ews_attr(uri, "PropertyName", name, sizeof(name)))
		return;
	/* GUIDs compare case-insensitively (RFC 4122 §3). */
	if (strcasecmp(set, LEAVESYNC_PROPSET_ID) != 0 || strcmp(name, LEAVESYNC_PROP_NAME) != 0)
		return;
	free(st->re->ev.sync_key);
	st->re->ev.sync_key = ews_node_text(value, true);
}

static bool sync_key_differs(const struct event *a, const struct event *b)
{
	return strcmp_null(a->sync_key, b->sync_key) != 0;
}

/* ---- Start, End, IsAllDayEvent, time zones ---- */

/* "YYYY-MM-DD" (all-day: its midnight) or a wall time, as the local "YYYY-MM-DDTHH:MM:SS". */
static void local_time(const struct event *ev, const char *v, char out[20])
{
	if (ev->all_day)
		snprintf(out, 20, "%.10sT00:00:00", v);
	else if (strlen(v) == 16)
		snprintf(out, 20, "%.16s:00", v);
	else
		snprintf(out, 20, "%.19s", v);
}

/* The local time v of ev in zone (the zone the item is anchored in: the leave's, or UTC for an
 * all-day leave without a local midnight) as xs:dateTime with the zone's offset at that instant,
 * or -1 when the zone cannot place it. A wall time in a DST gap is moved by the zone; the value
 * sent is then the wall time the zone chose, so that text and offset name the same instant. */
static int wire_time(const struct event *ev, const char *zone, const char *v, char out[32])
{
	char local[20], placed[20];
	int64_t utc, offset, a;
	struct tm tm = {0};

	local_time(ev, v, local);
	if (tz_local_to_unix(local, zone, &utc) < 0 || tz_unix_to_local(utc, zone, placed) < 0 ||
	    sscanf(placed, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	offset = (int64_t)timegm(&tm) - utc; /* the wall time read as UTC, minus the instant */
	a = offset < 0 ? -offset : offset;
	if (offset == 0)
		snprintf(out, 32, "%sZ", placed);
	else
		snprintf(out, 32, "%s%c%02d:%02d", placed, offset < 0 ? '-' : '+', (int)(a / 3600),
		         (int)(a % 3600 / 60));
	return 0;
}

static void start_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev, const struct ews_zones *z)
{
	(void)ev;
	ews_add(item, t, "Start", z->start_time);
}

static void start_from(xmlNodePtr el, struct read_state *st)
{
	char *v = ews_node_text(el, true);
	snprintf(st->start, sizeof(st->start), "%s", v);
	free(v);
}

static void end_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev, const struct ews_zones *z)
{
	(void)ev;
	ews_add(item, t, "End", z->end_time);
}

static void end_from(xmlNodePtr el, struct read_state *st)
{
	char *v = ews_node_text(el, true);
	snprintf(st->end, sizeof(st->end), "%s", v);
	free(v);
}

static void all_day_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                       const struct ews_zones *z)
{
	(void)z;
	ews_add(item, t, "IsAllDayEvent", ev->all_day ? "true" : "false");
}

static void all_day_from(xmlNodePtr el, struct read_state *st)
{
	char *v = ews_node_text(el, true);
	st->re->ev.all_day = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
	free(v);
}

static void start_zone_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                          const struct ews_zones *z)
{
	(void)ev;
	ews_set_attr(ews_add(item, t, "StartTimeZone", NULL), "Id", z->start);
}

static void start_zone_from(xmlNodePtr el, struct read_state *st)
{
	ews_attr(el, "Id", st->start_zone, sizeof(st->start_zone));
}

static void end_zone_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                        const struct ews_zones *z)
{
	(void)ev;
	ews_set_attr(ews_add(item, t, "EndTimeZone", NULL), "Id", z->end);
}

static void end_zone_from(xmlNodePtr el, struct read_state *st)
{
	ews_attr(el, "Id", st->end_zone, sizeof(st->end_zone));
}

static bool time_differs(const struct event *a, const struct event *b)
{
	return a->all_day != b->all_day || strcmp(a->start, b->start) != 0 ||
	       strcmp(a->end, b->end) != 0 || !tz_same_zone(a->time_zone, b->time_zone);
}

/* ---- LegacyFreeBusyStatus ---- */

static void show_as_to(xmlNodePtr item, xmlNsPtr t, const struct event *ev,
                       const struct ews_zones *z)
{
	(void)z;
	unsigned s = (unsigned)ev->show_as;
	ews_add(item, t, "LegacyFreeBusyStatus", show_as_wire[s < 5 ? s : SHOW_OOF]);
}

static void show_as_from(xmlNodePtr el, struct read_state *st)
{
	char *v = ews_node_text(el, true);

	st->re->ev.show_as = SHOW_BUSY; /* NoData and anything unknown */
	for (unsigned i = 0; i < 5; i++)
		if (strcmp(v, show_as_wire[i]) == 0)
			st->re->ev.show_as = (enum show_as)i;
	free(v);
}

static bool show_as_differs(const struct event *a, const struct event *b)
{
	return a->show_as != b->show_as;
}

/* The table, in types.xsd order: ItemType (Subject, Sensitivity, Body, Categories, ReminderIsSet,
 * ReminderMinutesBeforeStart, ExtendedProperty), then CalendarItemType (Start, End, IsAllDayEvent,
 * LegacyFreeBusyStatus, StartTimeZone, EndTimeZone). */
static const struct field fields[] = {
    {"Subject", "item:Subject", 0, always, subject_to, subject_from, subject_differs},
    {"Sensitivity", "item:Sensitivity", 0, always, sensitivity_to, sensitivity_from,
     sensitivity_differs},
    {"Body", "item:Body", F_DELETABLE, body_has, body_to, body_from, body_differs},
    {"Categories", "item:Categories", F_DELETABLE, categories_has, categories_to, categories_from,
     categories_differs},
    {"ReminderIsSet", "item:ReminderIsSet", 0, always, reminder_set_to, reminder_set_from,
     reminder_differs},
    {"ReminderMinutesBeforeStart", "item:ReminderMinutesBeforeStart", 0, reminder_minutes_has,
     reminder_minutes_to, reminder_minutes_from, reminder_differs},
    {"ExtendedProperty", NULL, 0, always, sync_key_to, sync_key_from, sync_key_differs},
    {"Start", "calendar:Start", F_TIME, always, start_to, start_from, time_differs},
    {"End", "calendar:End", F_TIME, always, end_to, end_from, time_differs},
    {"IsAllDayEvent", "calendar:IsAllDayEvent", F_TIME, always, all_day_to, all_day_from,
     time_differs},
    {"LegacyFreeBusyStatus", "calendar:LegacyFreeBusyStatus", 0, always, show_as_to, show_as_from,
     show_as_differs},
    {"StartTimeZone", "calendar:StartTimeZone", F_TIME | F_ZONE, always, start_zone_to,
     start_zone_from, time_differs},
    {"EndTimeZone", "calendar:EndTimeZone", F_TIME | F_ZONE, always, end_zone_to, end_zone_from,
     time_differs},
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* ---- checks before writing ---- */

static bool is_date(const char *s)
{
	int y, m, d;
	char tail;

	return strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && m >= 1 &&
	       m <= 12 && d >= 1 && d <= 31;
}

static bool is_wall_time(const char *s)
{
	size_t len = strlen(s);
	int hh, mm, ss = 0;

	if ((len != 16 && len != 19) || s[10] != 'T')
		return false;
	char date[11];
	memcpy(date, s, 10);
	date[10] = '\0';
	if (!is_date(date))
		return false;
	int got = sscanf(s + 11, "%2d:%2d:%2d", &hh, &mm, &ss);
	return got >= 2 && hh < 24 && mm < 60 && ss < 60;
}

/* "The subject is limited to 255 characters" (EWS Subject element): a longer one comes back cut,
 * and every later comparison would take that for an edit. */
#define MAX_SUBJECT_CHARS 255

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

int ews_event_zones(const struct event *ev, struct ews_zones *z, struct error *err)
{
	if (utf8_chars(ev->subject) > MAX_SUBJECT_CHARS)
		return error_set(
		    err,
		    "event %s: the subject is %zu characters long and Exchange keeps %d: "
		    "shorten the subject template ([kind] or [event] subject) or the note "
		    "it includes",
		    ev->sync_key ? ev->sync_key : "?", utf8_chars(ev->subject), MAX_SUBJECT_CHARS);
	bool (*valid)(const char *) = ev->all_day ? is_date : is_wall_time;

	if (!valid(ev->start) || !valid(ev->end))
		return error_set(
		    err, "event %s has malformed times (start '%s', end '%s'): expected %s",
		    ev->sync_key ? ev->sync_key : "?", ev->start, ev->end,
		    ev->all_day ? "YYYY-MM-DD dates" : "YYYY-MM-DDTHH:MM:SS wall times");
	if (strcmp(ev->end, ev->start) <= 0)
		return error_set(err,
		                 "event %s ends (%s) before or when it starts (%s); fix the leave "
		                 "entry's dates",
		                 ev->sync_key ? ev->sync_key : "?", ev->end, ev->start);
	const char *zone = ev->time_zone[0] ? ev->time_zone : "UTC";
	char iana[64];

	/* An all-day event whose zone has no Windows id, or whose first day or day after the last
	 * has no local midnight, is anchored in UTC: Exchange would move a midnight that does not
	 * exist to the next one and add a day (tz_all_day_zone; docs/ews.md). */
	if (ev->all_day)
		zone = tz_all_day_zone(zone, ev->start, ev->end);
	if (tz_windows_from_iana(zone, z->start, sizeof(z->start)) == 0)
		; /* an IANA name, as rendered from leave */
	else if (tz_iana_from_windows(zone, iana, sizeof(iana)) == 0)
		snprintf(z->start, sizeof(z->start), "%s", zone); /* a Windows id, as read back */
	else
		return error_set(err,
		                 "time zone '%s' has no Windows time zone id, which EWS needs "
		                 "(StartTimeZone); use an IANA zone name such as Europe/Riga",
		                 zone);
	memcpy(z->end, z->start, sizeof(z->end));
	if (wire_time(ev, zone, ev->start, z->start_time) < 0 ||
	    wire_time(ev, zone, ev->end, z->end_time) < 0)
		return error_set(err, "event %s: time zone '%s' cannot place %s..%s",
		                 ev->sync_key ? ev->sync_key : "?", zone, ev->start, ev->end);
	return 0;
}

/* ---- writing ---- */

void ews_calendar_item_write(xmlNodePtr parent, xmlNsPtr t, const struct event *ev,
                             const struct ews_zones *z)
{
	xmlNodePtr item = ews_add(parent, t, "CalendarItem", NULL);

	for (size_t i = 0; i < NFIELDS; i++)
		if (fields[i].has(ev))
			fields[i].to_wire(item, t, ev, z);
}

static void add_path(xmlNodePtr parent, xmlNsPtr t, const struct field *f)
{
	if (f->field_uri)
		ews_set_attr(ews_add(parent, t, "FieldURI", NULL), "FieldURI", f->field_uri);
	else
		ews_add_sync_key_uri(parent, t);
}

/* One SetItemField (or DeleteItemField) for field f; returns 1 when something was written. */
static int write_update(xmlNodePtr updates, xmlNsPtr t, const struct field *f,
                        const struct event *ev, const struct event *written,
                        const struct ews_zones *z)
{
	if (written && !f->differs(ev, written))
		return 0;
	if (f->has(ev)) {
		xmlNodePtr set = ews_add(updates, t, "SetItemField", NULL);
		add_path(set, t, f);
		f->to_wire(ews_add(set, t, "CalendarItem", NULL), t, ev, z);
		return 1;
	}
	if (!(f->flags & F_DELETABLE) || (written && !f->has(written)))
		return 0;
	/* Removing a property is DeleteItemField, not an empty value
	 * ([EWS ref deleteitemfield]). */
	add_path(ews_add(updates, t, "DeleteItemField", NULL), t, f);
	return 1;
}

int ews_calendar_updates_write(xmlNodePtr updates, xmlNsPtr t, const struct event *ev,
                               const struct event *written, const struct ews_zones *z)
{
	int n = 0;

	/* Updates apply in order ([EWS ref updateitem-operation]): the zones go first, so that the
	 * zone-less Start and End that follow are read in the new zone whichever way a server
	 * resolves them. */
	for (size_t i = 0; i < NFIELDS; i++)
		if (fields[i].flags & F_ZONE)
			n += write_update(updates, t, &fields[i], ev, written, z);
	for (size_t i = 0; i < NFIELDS; i++)
		if (!(fields[i].flags & F_ZONE))
			n += write_update(updates, t, &fields[i], ev, written, z);
	return n;
}

void ews_owned_properties_write(xmlNodePtr additional, xmlNsPtr t)
{
	for (size_t i = 0; i < NFIELDS; i++)
		add_path(additional, t, &fields[i]);
}

/* ---- reading ---- */

/* xs:dateTime with Z, an offset or nothing (then UTC) -> Unix seconds. */
static int parse_datetime(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	const char *p = s + n;
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	int64_t offset = 0;
	if (*p == '+' || *p == '-') {
		int oh, om;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		offset = (*p == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
	} else if (*p != 'Z' && *p != '\0') {
		return -1;
	}
	*out = (int64_t)timegm(&tm) - offset;
	return 0;
}

/* The date after "YYYY-MM-DD" into out. */
static void next_date(const char *date, char out[11])
{
	struct tm tm = {0};

	sscanf(date, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm) + 86400;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Converts the raw UTC times into the event's zone: wall times, or dates for all-day (end
 * exclusive: an end that is not local midnight rounds up to the next day, as Exchange widens
 * all-day items). */
static int finish_times(struct read_state *st, struct error *err)
{
	struct event *ev = &st->re->ev;
	const char *win = st->start_zone[0] ? st->start_zone : "UTC";

	/* The Windows id is kept as read: mapping it back to IANA would pick CLDR's golden zone
	 * (Europe/Kiev for a Riga user's "FLE Standard Time") and look like drift; tz_same_zone
	 * compares a Windows id with the IANA name it was written from. */
	snprintf(ev->time_zone, sizeof(ev->time_zone), "%s", win);
	if (!st->start[0] || !st->end[0])
		return 0; /* not asked for (FindItem ids only) */

	int64_t ts, te;
	char ls[20], le[20];
	if (parse_datetime(st->start, &ts) != 0 || parse_datetime(st->end, &te) != 0)
		return error_set(err, "EWS returned an unreadable Start/End ('%s', '%s')",
		                 st->start, st->end);
	if (tz_unix_to_local(ts, ev->time_zone, ls) != 0 ||
	    tz_unix_to_local(te, ev->time_zone, le) != 0)
		return error_set(err, "cannot convert the item's times to its time zone '%s' (%s)",
		                 ev->time_zone, win);
	if (!ev->all_day) {
		snprintf(ev->start, sizeof(ev->start), "%s", ls);
		snprintf(ev->end, sizeof(ev->end), "%s", le);
		return 0;
	}
	snprintf(ev->start, sizeof(ev->start), "%.10s", ls);
	if (strcmp(le + 10, "T00:00:00") == 0) {
		snprintf(ev->end, sizeof(ev->end), "%.10s", le);
	} else {
		char d[11];
		snprintf(d, sizeof(d), "%.10s", le);
		next_date(d, ev->end);
	}
	return 0;
}

int ews_calendar_item_read(xmlNodePtr item, struct remote_event *re, struct error *err)
{
	struct read_state st = {.re = re, .reminder_minutes = -1};

	re->ev.reminder_minutes = -1;
	re->ev.show_as = SHOW_BUSY;
	for (xmlNodePtr c = item->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || !c->ns ||
		    strcmp((const char *)c->ns->href, EWS_NS_TYPES) != 0)
			continue;
		if (strcmp((const char *)c->name, "ItemId") == 0) {
			/* Ids and change keys are kept byte-exact
			 * ([EWS ews-identifiers-in-exchange]). */
			free(re->remote_id);
			free(re->change_key);
			re->remote_id = ews_attr_dup(c, "Id");
			re->change_key = ews_attr_dup(c, "ChangeKey");
			if ((re->remote_id && strlen(re->remote_id) > BE_MAX_ID_BYTES) ||
			    (re->change_key && strlen(re->change_key) > BE_MAX_ID_BYTES)) {
				bool id_long =
				    re->remote_id && strlen(re->remote_id) > BE_MAX_ID_BYTES;
				size_t n = strlen(id_long ? re->remote_id : re->change_key);

				free(re->remote_id);
				free(re->change_key);
				re->remote_id = re->change_key = NULL;
				return error_set(
				    err,
				    "EWS returned an ItemId %s of %zu bytes (the limit is %d; "
				    "Exchange's are about 150): a protocol error, not used",
				    id_long ? "Id" : "ChangeKey", n, BE_MAX_ID_BYTES);
			}
			continue;
		}
		for (size_t i = 0; i < NFIELDS; i++)
			if (strcmp((const char *)c->name, fields[i].name) == 0)
				fields[i].from_wire(c, &st);
	}
	if (!re->ev.subject)
		re->ev.subject = xstrdup("");
	if (st.reminder_set)
		re->ev.reminder_minutes = st.reminder_minutes >= 0 ? st.reminder_minutes : 15;
	if (!re->remote_id)
		return error_set(err, "EWS returned a CalendarItem without an ItemId");
	return finish_times(&st, err);
}
