/* VEVENT text (as engine/render.c writes it) -> struct event, and the comparisons drift detection
 * relies on. Parsing uses libical; nothing here touches the network or the store. */
#include "engine/event.h"

#include "common/util.h"
#include "engine/tz.h"

#include <libical/ical.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const show_as_names[] = {
    [SHOW_FREE] = "free",
    [SHOW_TENTATIVE] = "tentative",
    [SHOW_BUSY] = "busy",
    [SHOW_OOF] = "oof",
    [SHOW_WORKING_ELSEWHERE] = "workingElsewhere",
};

static const char *const sensitivity_names[] = {
    [SENS_NORMAL] = "normal",
    [SENS_PERSONAL] = "personal",
    [SENS_PRIVATE] = "private",
    [SENS_CONFIDENTIAL] = "confidential",
};

/* X-MICROSOFT-CDO-BUSYSTATUS values, indexed by enum show_as ([MS-OXCICAL] 2.1.3.1.1.20.9). */
static const char *const busystatus_names[] = {
    [SHOW_FREE] = "FREE",
    [SHOW_TENTATIVE] = "TENTATIVE",
    [SHOW_BUSY] = "BUSY",
    [SHOW_OOF] = "OOF",
    [SHOW_WORKING_ELSEWHERE] = "WORKINGELSEWHERE",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *show_as_name(enum show_as s)
{
	return (size_t)s < NELEM(show_as_names) ? show_as_names[s] : "busy";
}

int show_as_parse(const char *name, enum show_as *out)
{
	for (size_t i = 0; name && i < NELEM(show_as_names); i++) {
		if (strcasecmp(name, show_as_names[i]) == 0) {
			*out = (enum show_as)i;
			return 0;
		}
	}
	return -1;
}

const char *sensitivity_name(enum sensitivity s)
{
	return (size_t)s < NELEM(sensitivity_names) ? sensitivity_names[s] : "private";
}

int sensitivity_parse(const char *name, enum sensitivity *out)
{
	for (size_t i = 0; name && i < NELEM(sensitivity_names); i++) {
		if (strcasecmp(name, sensitivity_names[i]) == 0) {
			*out = (enum sensitivity)i;
			return 0;
		}
	}
	return -1;
}

/* ---- parsing ---- */

static const char *x_property(icalcomponent *c, const char *name)
{
	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_X_PROPERTY); p;
	     p = icalcomponent_get_next_property(c, ICAL_X_PROPERTY)) {
		const char *n = icalproperty_get_x_name(p);

		if (n && strcasecmp(n, name) == 0)
			return icalproperty_get_x(p);
	}
	return NULL;
}

static icalcomponent *find_vevent(icalcomponent *root)
{
	if (icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT)
		return root;
	return icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
}

/* The TZID parameter as a zone name: libical's own prefix ("/freeassociation.sourceforge.net/")
 * is dropped, so that a VTIMEZONE written by another libical program still names its zone. */
static const char *tzid_of(icalproperty *p)
{
	icalparameter *par = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
	const char *tzid = par ? icalparameter_get_tzid(par) : NULL;
	static const char prefix[] = "/freeassociation.sourceforge.net/";

	if (tzid && strncmp(tzid, prefix, sizeof prefix - 1) == 0)
		tzid += sizeof prefix - 1;
	return tzid;
}

static void format_time(struct icaltimetype t, char out[20])
{
	if (t.is_date)
		snprintf(out, 20, "%04d-%02d-%02d", t.year, t.month, t.day);
	else
		snprintf(out, 20, "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour,
		         t.minute, t.second);
}

static int parse_times(icalcomponent *ve, struct event *ev, struct error *err)
{
	icalproperty *ps = icalcomponent_get_first_property(ve, ICAL_DTSTART_PROPERTY);
	icalproperty *pe = icalcomponent_get_first_property(ve, ICAL_DTEND_PROPERTY);
	const char *zone_hint = x_property(ve, "X-LEAVESYNC-TIME-ZONE");
	struct icaltimetype s, e;
	const char *tzid;

	if (!ps)
		return error_set(err, "the VEVENT has no DTSTART");
	s = icalproperty_get_dtstart(ps);
	if (icaltime_is_null_time(s))
		return error_set(err, "the VEVENT's DTSTART is not a valid date or date-time");
	ev->all_day = s.is_date;
	if (pe) {
		e = icalproperty_get_dtend(pe);
	} else if (s.is_date) {
		e = s;
		icaltime_adjust(&e, 1, 0, 0,
		                0); /* RFC 5545 3.6.1: a date without DTEND lasts one day */
	} else {
		return error_set(err, "the timed VEVENT has no DTEND");
	}
	if (icaltime_is_null_time(e) || e.is_date != s.is_date)
		return error_set(
		    err, "the VEVENT's DTEND is missing or not of the same type as DTSTART");
	format_time(s, ev->start);
	format_time(e, ev->end);
	tzid = s.is_date ? NULL : tzid_of(ps);
	if (!tzid && !s.is_date && icaltime_is_utc(s))
		tzid = "UTC";
	if (!tzid)
		tzid = zone_hint ? zone_hint : "UTC";
	if (strlcpy_checked(ev->time_zone, tzid, sizeof ev->time_zone) < 0)
		return error_set(err, "the VEVENT's time zone name is too long: %.80s", tzid);
	return 0;
}

static enum show_as parse_show_as(icalcomponent *ve)
{
	const char *busy = x_property(ve, "X-MICROSOFT-CDO-BUSYSTATUS");
	icalproperty *transp = icalcomponent_get_first_property(ve, ICAL_TRANSP_PROPERTY);

	for (size_t i = 0; busy && i < NELEM(busystatus_names); i++)
		if (strcasecmp(busy, busystatus_names[i]) == 0)
			return (enum show_as)i;
	if (transp && icalproperty_get_transp(transp) == ICAL_TRANSP_TRANSPARENT)
		return SHOW_FREE;
	return SHOW_BUSY;
}

static enum sensitivity parse_sensitivity(icalcomponent *ve)
{
	const char *ours = x_property(ve, "X-LEAVESYNC-SENSITIVITY");
	icalproperty *p = icalcomponent_get_first_property(ve, ICAL_CLASS_PROPERTY);
	enum sensitivity s;

	/* "personal" has no CLASS of its own: written as PRIVATE plus our property */
	if (ours && sensitivity_parse(ours, &s) == 0)
		return s;
	if (!p)
		return SENS_NORMAL;
	switch (icalproperty_get_class(p)) {
	case ICAL_CLASS_PRIVATE:
		return SENS_PRIVATE;
	case ICAL_CLASS_CONFIDENTIAL:
		return SENS_CONFIDENTIAL;
	default:
		return SENS_NORMAL;
	}
}

static void add_category(char ***cats, size_t *n, const char *value, size_t len)
{
	while (len && (*value == ' ' || *value == '\t'))
		value++, len--;
	while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (!len)
		return;
	*cats = xrealloc(*cats, (*n + 2) * sizeof **cats);
	(*cats)[(*n)++] = xstrndup(value, len);
	(*cats)[*n] = NULL;
}

/* Every CATEGORIES property; a value holding several comma-separated categories is split. */
static char **parse_categories(icalcomponent *ve)
{
	char **cats = NULL;
	size_t n = 0;

	for (icalproperty *p = icalcomponent_get_first_property(ve, ICAL_CATEGORIES_PROPERTY); p;
	     p = icalcomponent_get_next_property(ve, ICAL_CATEGORIES_PROPERTY)) {
		const char *v = icalproperty_get_categories(p);

		while (v && *v) {
			const char *comma = strchr(v, ',');
			size_t len = comma ? (size_t)(comma - v) : strlen(v);

			add_category(&cats, &n, v, len);
			v += len + (comma ? 1 : 0);
		}
	}
	return cats;
}

/* Minutes before the start of the first VALARM's relative trigger; -1 when there is no alarm. */
static int parse_reminder(icalcomponent *ve)
{
	icalcomponent *alarm = icalcomponent_get_first_component(ve, ICAL_VALARM_COMPONENT);
	icalproperty *p =
	    alarm ? icalcomponent_get_first_property(alarm, ICAL_TRIGGER_PROPERTY) : NULL;
	struct icaltriggertype trig;
	int seconds;

	if (!p)
		return -1;
	trig = icalproperty_get_trigger(p);
	if (!icaltime_is_null_time(trig.time))
		return 0; /* an absolute trigger: treat as "at the start" */
	seconds = icaldurationtype_as_int(trig.duration);
	return seconds >= 0 ? 0 : -seconds / 60;
}

static char *text_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

/* ---- the direct reader ----
 * libical's parser builds a component tree for every text (a seventh of a sync's CPU). The text
 * render_leave writes in the common case is read here directly: one VCALENDAR, an optional
 * VTIMEZONE (not needed: the TZID parameter names the zone), one VEVENT of the properties render.c
 * writes, every value plain (printable ASCII without backslash, semicolon, comma, or surrounding
 * blanks: nothing libical would unescape, unfold or trim). Anything else, including every error,
 * goes to libical. tests/unit/test_render_fast.c compares both readers. */

struct line {
	const char *name, *params, *value; /* params: after the name up to ':', may be empty */
	size_t name_len, params_len, value_len;
};

/* The next CRLF-terminated line at *p; false at the end of the text or for a line that is folded,
 * bare-LF terminated or otherwise not plain. */
static bool next_line(const char **p, struct line *l)
{
	const char *s = *p, *e = strstr(s, "\r\n"), *colon;

	if (!e || e == s || s[0] == ' ' || s[0] == '\t' || e[2] == ' ' || e[2] == '\t')
		return false;
	colon = memchr(s, ':', (size_t)(e - s));
	if (!colon)
		return false;
	l->name = s;
	l->name_len = strcspn(s, ";:");
	l->params = s + l->name_len;
	l->params_len = (size_t)(colon - l->params);
	l->value = colon + 1;
	l->value_len = (size_t)(e - l->value);
	*p = e + 2;
	for (const char *c = s; c < e; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e || *c == '\\')
			return false;
	return true;
}

static bool is_line(const struct line *l, const char *name, const char *value)
{
	return l->params_len == 0 && l->name_len == strlen(name) &&
	       !memcmp(l->name, name, l->name_len) && l->value_len == strlen(value) &&
	       !memcmp(l->value, value, l->value_len);
}

static bool name_is(const struct line *l, const char *name)
{
	return l->name_len == strlen(name) && !memcmp(l->name, name, l->name_len);
}

/* A value libical returns unchanged. */
static bool value_is_plain(const struct line *l)
{
	const char *v = l->value;
	size_t n = l->value_len;

	if (!n || v[0] == ' ' || v[n - 1] == ' ' || memchr(v, ';', n) || memchr(v, ',', n))
		return false;
	return true;
}

static int two(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static int atoi_n(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* params is exactly ";TZID=zone" with a plain zone name (letters, digits, / _ + -). */
static bool tzid_param(const struct line *l, char *tzid, size_t tzid_len)
{
	static const char key[] = ";TZID=";
	size_t n;

	if (l->params_len <= sizeof key - 1 || memcmp(l->params, key, sizeof key - 1) != 0)
		return false;
	n = l->params_len - (sizeof key - 1);
	if (n >= tzid_len)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = l->params[sizeof key - 1 + i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("/_+-", c)))
			return false;
	}
	memcpy(tzid, l->params + sizeof key - 1, n);
	tzid[n] = '\0';
	return true;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* DTSTART/DTEND: ";VALUE=DATE:YYYYMMDD", ":YYYYMMDDTHHMMSSZ" or ";TZID=zone:YYYYMMDDTHHMMSS" into
 * the event's form; *tzid is the zone ("UTC" for Z, "" for a floating time). */
static bool direct_time(const struct line *l, bool *is_date, char out[20], char *tzid,
                        size_t tzid_len)
{
	const char *v = l->value;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool date = l->value_len == 8, utc = l->value_len == 16 && v[15] == 'Z';

	if (!all_digits(v, 8) || (!date && (l->value_len != 15 && !utc)))
		return false;
	if (!date && (v[8] != 'T' || !all_digits(v + 9, 6)))
		return false;
	y = atoi_n(v, 4);
	mo = two(v + 4);
	d = two(v + 6);
	if (!date) {
		h = two(v + 9);
		mi = two(v + 11);
		sec = two(v + 13);
	}
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 59 || (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
		return false;
	tzid[0] = '\0';
	if (date) {
		if (l->params_len != 11 || memcmp(l->params, ";VALUE=DATE", 11) != 0)
			return false;
		snprintf(out, 20, "%04d-%02d-%02d", y, mo, d);
	} else {
		if (utc ? l->params_len != 0 : !tzid_param(l, tzid, tzid_len))
			return false;
		if (utc)
			strcpy(tzid, "UTC");
		snprintf(out, 20, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, sec);
	}
	*is_date = date;
	return true;
}
#define DIRECT_MAX_PROPS 48

/* The VEVENT's property lines of a plain VCALENDAR, or false when the text has another shape. */
static bool direct_envelope(const char *ics, struct line *props, size_t *nprops)
{
	const char *p = ics;
	struct line l;
	bool in_event = false, seen_event = false;

	*nprops = 0;
	if (!next_line(&p, &l) || !is_line(&l, "BEGIN", "VCALENDAR"))
		return false;
	while (next_line(&p, &l)) {
		if (in_event) {
			if (is_line(&l, "END", "VEVENT"))
				in_event = false;
			else if (name_is(&l, "BEGIN") || name_is(&l, "END") ||
			         *nprops == DIRECT_MAX_PROPS)
				return false; /* a VALARM, or something odd: libical */
			else
				props[(*nprops)++] = l;
		} else if (is_line(&l, "BEGIN", "VEVENT") && !seen_event) {
			in_event = seen_event = true;
		} else if (is_line(&l, "BEGIN", "VTIMEZONE") && !seen_event) {
			while (next_line(&p, &l) && !is_line(&l, "END", "VTIMEZONE"))
				if (name_is(&l, "BEGIN") && !is_line(&l, "BEGIN", "STANDARD") &&
				    !is_line(&l, "BEGIN", "DAYLIGHT"))
					return false;
			if (!is_line(&l, "END", "VTIMEZONE"))
				return false;
		} else if (is_line(&l, "END", "VCALENDAR")) {
			return seen_event && *p == '\0';
		} else if (!(name_is(&l, "PRODID") || name_is(&l, "VERSION")) || seen_event) {
			return false;
		}
	}
	return false;
}

/* The properties the event is made of, each at most once (CATEGORIES repeats). */
struct direct_props {
	const struct line *uid, *start, *end, *summary, *description, *transp, *class_, *busy,
	    *zone_hint, *sensitivity;
	const struct line *categories[DIRECT_MAX_PROPS];
	size_t ncategories;
};

static bool direct_pick(const struct line *l, struct direct_props *d)
{
	static const struct {
		const char *name;
		size_t offset;
	} once[] = {
	    {"UID", offsetof(struct direct_props, uid)},
	    {"DTSTART", offsetof(struct direct_props, start)},
	    {"DTEND", offsetof(struct direct_props, end)},
	    {"SUMMARY", offsetof(struct direct_props, summary)},
	    {"DESCRIPTION", offsetof(struct direct_props, description)},
	    {"TRANSP", offsetof(struct direct_props, transp)},
	    {"CLASS", offsetof(struct direct_props, class_)},
	    {"X-MICROSOFT-CDO-BUSYSTATUS", offsetof(struct direct_props, busy)},
	    {"X-LEAVESYNC-TIME-ZONE", offsetof(struct direct_props, zone_hint)},
	    {"X-LEAVESYNC-SENSITIVITY", offsetof(struct direct_props, sensitivity)},
	};

	if (name_is(l, "DTSTAMP"))
		return true;
	if (l->params_len && !name_is(l, "DTSTART") && !name_is(l, "DTEND"))
		return false;
	if (!name_is(l, "DTSTART") && !name_is(l, "DTEND") && !name_is(l, "DTSTAMP") &&
	    !value_is_plain(l))
		return false;
	if (name_is(l, "X-MICROSOFT-CDO-ALLDAYEVENT") || name_is(l, "X-LEAVESYNC-LEAVE-ID"))
		return true;
	if (name_is(l, "CATEGORIES")) {
		d->categories[d->ncategories++] = l;
		return true;
	}
	for (size_t i = 0; i < NELEM(once); i++) {
		const struct line **slot = (const struct line **)((char *)d + once[i].offset);

		if (!name_is(l, once[i].name))
			continue;
		if (*slot)
			return false;
		*slot = l;
		return true;
	}
	return false;
}

static bool value_eq(const struct line *l, const char *v)
{
	return l->value_len == strlen(v) && !memcmp(l->value, v, l->value_len);
}

static bool value_caseeq(const struct line *l, const char *v)
{
	return l->value_len == strlen(v) && !strncasecmp(l->value, v, l->value_len);
}

static char *value_dup(const struct line *l)
{
	return xstrndup(l->value, l->value_len);
}

static enum show_as direct_show_as(const struct direct_props *d)
{
	for (size_t i = 0; d->busy && i < NELEM(busystatus_names); i++)
		if (value_caseeq(d->busy, busystatus_names[i]))
			return (enum show_as)i;
	return d->transp && value_eq(d->transp, "TRANSPARENT") ? SHOW_FREE : SHOW_BUSY;
}

static enum sensitivity direct_sensitivity(const struct direct_props *d)
{
	for (size_t i = 0; d->sensitivity && i < NELEM(sensitivity_names); i++)
		if (value_caseeq(d->sensitivity, sensitivity_names[i]))
			return (enum sensitivity)i;
	if (d->class_ && value_eq(d->class_, "PRIVATE"))
		return SENS_PRIVATE;
	if (d->class_ && value_eq(d->class_, "CONFIDENTIAL"))
		return SENS_CONFIDENTIAL;
	return SENS_NORMAL;
}

/* Reads a text of the direct form into *ev: true, or false (nothing allocated) for libical. */
static bool event_direct(const char *ics, struct event *ev)
{
	struct line props[DIRECT_MAX_PROPS];
	struct direct_props d = {0};
	size_t n;
	bool sdate, edate;
	char stz[64], etz[64];

	if (!direct_envelope(ics, props, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!direct_pick(&props[i], &d))
			return false;
	if (!d.uid || !d.start || !d.end ||
	    (d.transp && !value_eq(d.transp, "OPAQUE") && !value_eq(d.transp, "TRANSPARENT")) ||
	    (d.class_ && !value_eq(d.class_, "PUBLIC") && !value_eq(d.class_, "PRIVATE") &&
	     !value_eq(d.class_, "CONFIDENTIAL")))
		return false;
	if (!direct_time(d.start, &sdate, ev->start, stz, sizeof stz) ||
	    !direct_time(d.end, &edate, ev->end, etz, sizeof etz) || sdate != edate)
		return false;
	if (sdate || !stz[0]) {
		if (d.zone_hint && d.zone_hint->value_len >= sizeof ev->time_zone)
			return false;
		snprintf(ev->time_zone, sizeof ev->time_zone, "%.*s",
		         d.zone_hint ? (int)d.zone_hint->value_len : 3,
		         d.zone_hint ? d.zone_hint->value : "UTC");
	} else {
		strcpy(ev->time_zone, stz);
	}
	ev->all_day = sdate;
	ev->sync_key = value_dup(d.uid);
	ev->subject = d.summary ? value_dup(d.summary) : xstrdup("");
	ev->body = d.description ? value_dup(d.description) : NULL;
	ev->show_as = direct_show_as(&d);
	ev->sensitivity = direct_sensitivity(&d);
	for (size_t i = 0; i < d.ncategories; i++) {
		ev->categories = xrealloc(ev->categories, (i + 2) * sizeof *ev->categories);
		ev->categories[i] = value_dup(d.categories[i]);
		ev->categories[i + 1] = NULL;
	}
	ev->reminder_minutes = -1;
	return true;
}

int event_from_vevent(const char *ics, struct event *ev, struct error *err)
{
	memset(ev, 0, sizeof *ev);
	if (ics && event_direct(ics, ev))
		return 0;
	event_free(ev);
	return event_from_vevent_libical(ics, ev, err);
}

int event_from_vevent_libical(const char *ics, struct event *ev, struct error *err)
{
	icalcomponent *root, *ve;
	const char *uid;

	memset(ev, 0, sizeof *ev);
	if (!ics)
		return error_set(err, "no iCalendar text to parse");
	root = icalparser_parse_string(ics);
	ve = root ? find_vevent(root) : NULL;
	if (!ve) {
		if (root)
			icalcomponent_free(root);
		return error_set(err, "the iCalendar text holds no VEVENT");
	}
	uid = icalcomponent_get_uid(ve);
	if (!uid || !*uid) {
		icalcomponent_free(root);
		return error_set(err, "the VEVENT has no UID (the engine's sync key)");
	}
	ev->sync_key = xstrdup(uid);
	ev->subject = xstrdup(icalcomponent_get_summary(ve) ? icalcomponent_get_summary(ve) : "");
	ev->body = text_or_null(icalcomponent_get_description(ve));
	if (parse_times(ve, ev, err) < 0) {
		icalcomponent_free(root);
		event_free(ev);
		return -1;
	}
	ev->show_as = parse_show_as(ve);
	ev->sensitivity = parse_sensitivity(ve);
	ev->categories = parse_categories(ve);
	ev->reminder_minutes = parse_reminder(ve);
	icalcomponent_free(root);
	return 0;
}

/* ---- comparison ---- */

static size_t count_strings(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static bool contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Every element of a is in b. */
static bool subset(char *const *a, char *const *b)
{
	for (size_t i = 0; a && a[i]; i++)
		if (!contains(b, a[i]))
			return false;
	return true;
}

static bool same_categories(char *const *a, char *const *b)
{
	/* as sets: order and repetition do not matter */
	return subset(a, b) && subset(b, a);
}

static bool same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0; /* no body == empty body */
}

/* All-day events compare by the zone they are written in: one whose day has no local midnight is
 * written in UTC by both backends (tz_all_day_zone), which is no drift. */
static bool same_zone(const struct event *a, const struct event *b)
{
	const char *za = a->time_zone, *zb = b->time_zone;

	if (a->all_day && b->all_day) {
		za = tz_all_day_zone(za, a->start, a->end);
		zb = tz_all_day_zone(zb, b->start, b->end);
	}
	return strcmp(za, zb) == 0 || tz_same_zone(za, zb);
}

void event_owned_diff(const struct event *a, const struct event *b, char *out, size_t outlen)
{
	struct {
		const char *name;
		bool differs;
	} f[] = {
	    {"subject", !same_text(a->subject, b->subject)},
	    {"body", !same_text(a->body, b->body)},
	    {"all_day", a->all_day != b->all_day},
	    {"start", strcmp(a->start, b->start) != 0},
	    {"end", strcmp(a->end, b->end) != 0},
	    {"time_zone", !same_zone(a, b)},
	    {"show_as", a->show_as != b->show_as},
	    {"sensitivity", a->sensitivity != b->sensitivity},
	    {"categories", !same_categories(a->categories, b->categories)},
	    {"reminder", a->reminder_minutes != b->reminder_minutes},
	};
	size_t used = 0;

	if (!outlen)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < NELEM(f); i++) {
		int n;

		if (!f[i].differs)
			continue;
		n = snprintf(out + used, outlen - used, "%s%s", used ? "," : "", f[i].name);
		if (n < 0 || (size_t)n >= outlen - used)
			return;
		used += (size_t)n;
	}
}

bool event_owned_equal(const struct event *a, const struct event *b)
{
	char diff[256];

	event_owned_diff(a, b, diff, sizeof diff);
	return diff[0] == '\0';
}

/* ---- memory ---- */

static char **copy_strings(char *const *v)
{
	size_t n = count_strings(v);
	char **c;

	if (!n)
		return NULL;
	c = xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

void event_copy(struct event *dst, const struct event *src)
{
	*dst = *src;
	dst->sync_key = xstrdup(src->sync_key);
	dst->subject = xstrdup(src->subject);
	dst->body = xstrdup(src->body);
	dst->categories = copy_strings(src->categories);
}

void event_free(struct event *ev)
{
	if (!ev)
		return;
	free(ev->sync_key);
	free(ev->subject);
	free(ev->body);
	for (size_t i = 0; ev->categories && ev->categories[i]; i++)
		free(ev->categories[i]);
	free(ev->categories);
	memset(ev, 0, sizeof *ev);
}

/* ---- the instance in a sync key ---- */

static const char *key_uuid(const char *key)
{
	const char *colon = key ? strrchr(key, ':') : NULL;

	return colon ? colon + 1 : key ? key : "";
}

void sync_key_instance(const char *key, char out[SYNC_KEY_INSTANCE_MAX])
{
	const char *colon = key ? strrchr(key, ':') : NULL;
	size_t n = colon ? (size_t)(colon - key) : 0;

	if (!colon || n == 0 || n >= SYNC_KEY_INSTANCE_MAX)
		n = 0;
	if (n == 0)
		snprintf(out, SYNC_KEY_INSTANCE_MAX, "default");
	else
		snprintf(out, SYNC_KEY_INSTANCE_MAX, "%.*s", (int)n, key);
}

bool sync_key_in_instance(const char *key, const char *instance)
{
	char mine[SYNC_KEY_INSTANCE_MAX];

	sync_key_instance(key, mine);
	return strcasecmp(mine, instance && *instance ? instance : "default") == 0;
}

void sync_key_for_instance(const char *key, const char *instance, char out[SYNC_KEY_MAX])
{
	if (!instance || !*instance || strcasecmp(instance, "default") == 0)
		snprintf(out, SYNC_KEY_MAX, "%s", key_uuid(key));
	else
		snprintf(out, SYNC_KEY_MAX, "%s:%s", instance, key_uuid(key));
}
