/* VEVENT text (as engine/render.c writes it) -> struct event, and the comparisons drift detection
 * relies on. Parsing uses libical; nothing here touches the network or the store. */
#include "engine/event.h"

#include "common/util.h"
#include "engine/tz.h"

#include <libical/ical.h>
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

int event_from_vevent(const char *ics, struct event *ev, struct error *err)
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

static bool same_zone(const struct event *a, const struct event *b)
{
	return strcmp(a->time_zone, b->time_zone) == 0 || tz_same_zone(a->time_zone, b->time_zone);
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
