/* leave -> VCALENDAR text with libical (design.md, "Conversion through iCalendar").
 *
 * The text is compared byte for byte with what was last written, so everything here is
 * deterministic: properties in a fixed order, no clock, no random values, and a VTIMEZONE that
 * depends only on the zone name and the system's tzdata. */
#include "engine/render.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/tz.h"

#include <ctype.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

/* The namespace of every sync key (UUID v5). Changing it would orphan every event ever written:
 * never change it. */
#define SYNC_KEY_NAMESPACE "3789089a-6e04-4d34-aaec-8513e8cdfb9d"

/* RFC 5545 requires DTSTAMP in a VEVENT without METHOD. It is the time the object was created;
 * taking it from the clock (or from leave.updated_at, which moves on every push) would change the
 * text on every render and defeat the no-op comparison. Nothing reads it without iTIP (we send no
 * METHOD), so it is a constant. */
#define FIXED_DTSTAMP "19700101T000000Z"

/* VTIMEZONE observances start here: enough history for any leave an HR system still pushes, short
 * enough to keep the text small. A fixed date (not the leave's) keeps one VTIMEZONE per zone, so an
 * exported calendar can share it between events. */
#define VTIMEZONE_FROM "20000101T000000Z"

#define DEFAULT_SUBJECT "Out of office"

void render_sync_key(const char *instance, const char *mailbox, const char *leave_id,
                     char out[SYNC_KEY_MAX])
{
	struct buf name = BUF_INIT;
	char uuid[37];

	for (const char *p = mailbox ? mailbox : ""; *p; p++) {
		char c = (char)tolower((unsigned char)*p);

		buf_append(&name, &c, 1);
	}
	buf_puts(&name, "\n");
	buf_puts(&name, leave_id ? leave_id : "");
	uuid_v5(uuid, SYNC_KEY_NAMESPACE, name.data, name.len);
	buf_free(&name);
	sync_key_for_instance(uuid, instance, out);
}

/* ---- subject template ---- */

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* Expands {kind} {note} {id} {mailbox}; any other brace text stays as written. */
static char *expand_subject(const char *tmpl, const struct leave *lv)
{
	static const char *const keys[] = {"{kind}", "{note}", "{id}", "{mailbox}"};
	const char *vals[] = {or_empty(lv->kind), or_empty(lv->note), or_empty(lv->id),
	                      or_empty(lv->mailbox)};
	struct buf out = BUF_INIT;
	const char *p = tmpl ? tmpl : DEFAULT_SUBJECT;
	size_t start, end;
	char *s;

	while (*p) {
		size_t i;

		for (i = 0; i < 4; i++)
			if (strncmp(p, keys[i], strlen(keys[i])) == 0)
				break;
		if (i < 4) {
			buf_puts(&out, vals[i]);
			p += strlen(keys[i]);
		} else {
			buf_append(&out, p++, 1);
		}
	}
	s = out.data ? out.data : xstrdup("");
	for (start = 0; isspace((unsigned char)s[start]); start++)
		;
	for (end = strlen(s); end > start && isspace((unsigned char)s[end - 1]); end--)
		;
	if (end == start) { /* "{note}" of a leave without a note: never an empty subject */
		free(s);
		return xstrdup(DEFAULT_SUBJECT);
	}
	memmove(s, s + start, end - start);
	s[end - start] = '\0';
	return s;
}

/* ---- times ---- */

static void set_fields(struct icaltimetype *t, const char *s, bool is_date)
{
	*t = icaltime_null_time();
	t->year = atoi(s);
	t->month = atoi(s + 5);
	t->day = atoi(s + 8);
	t->is_date = is_date;
	if (!is_date) {
		t->hour = atoi(s + 11);
		t->minute = atoi(s + 14);
		t->second = strlen(s) >= 19 ? atoi(s + 17) : 0;
	}
}

struct span {
	bool all_day;
	bool utc;                       /* timed leave in UTC: written with "Z", no VTIMEZONE */
	struct icaltimetype start, end; /* end exclusive */
};

/* Checks the leave's times and turns them into iCalendar values: all-day leave ends on the day
 * after its inclusive last day (RFC 5545 3.6.1: DTEND of a date is exclusive). */
static int leave_span(const struct leave *lv, const char *zone, struct span *sp, struct error *err)
{
	size_t ls = lv->starts ? strlen(lv->starts) : 0, le = lv->ends ? strlen(lv->ends) : 0;
	int64_t ts, te;

	memset(sp, 0, sizeof *sp);
	sp->all_day = ls == 10;
	if ((ls != 10 && ls != 16 && ls != 19) || (le == 10) != sp->all_day ||
	    (le != 10 && le != 16 && le != 19))
		return error_set(
		    err,
		    "start \"%s\" and end \"%s\" must both be dates (YYYY-MM-DD) or both "
		    "local date-times (YYYY-MM-DDTHH:MM)",
		    or_empty(lv->starts), or_empty(lv->ends));
	/* Rows written by SQL are not checked by push: a year 0001 in Pacific/Kiritimati would be
	 * written as year 0 (docs/store.md, "dates"). */
	if (strncmp(lv->starts, LEAVE_FIRST_DATE, 10) < 0 ||
	    strncmp(lv->ends, LEAVE_LAST_DATE, 10) > 0)
		return error_set(err,
		                 "start \"%s\" or end \"%s\" is outside the dates leavesync "
		                 "supports, " LEAVE_FIRST_DATE " to " LEAVE_LAST_DATE
		                 ": correct the leave's dates (push it again, or UPDATE leave)",
		                 lv->starts, lv->ends);
	/* A part-day time the clocks skip does not exist: refused (push says so first; a row HR
	 * wrote by SQL fails here, alone). A repeated one means its first occurrence (RFC 5545
	 * 3.3.5), as tz_local_to_unix reads it. docs/store.md. */
	for (int i = 0; !sp->all_day && i < 2; i++) {
		const char *v = i == 0 ? lv->starts : lv->ends;
		char from[6], to[6];
		if (tz_local_gap(v, zone, from, to) == 1)
			return error_set(err,
			                 "%s \"%s\": this local time does not exist in %s on %.10s "
			                 "(clocks go forward from %s to %s); HR must choose a time "
			                 "before or after",
			                 i == 0 ? "start" : "end", v, zone, v, from, to);
	}
	if (tz_local_to_unix(lv->starts, sp->all_day ? "UTC" : zone, &ts) < 0 ||
	    tz_local_to_unix(lv->ends, sp->all_day ? "UTC" : zone, &te) < 0)
		return error_set(err, "start \"%s\" or end \"%s\" is not a valid date in zone %s",
		                 lv->starts, lv->ends, zone);
	if (sp->all_day ? te < ts : te <= ts)
		return error_set(err, "end \"%s\" is before start \"%s\"", lv->ends, lv->starts);
	set_fields(&sp->start, lv->starts, sp->all_day);
	set_fields(&sp->end, lv->ends, sp->all_day);
	if (sp->all_day)
		icaltime_adjust(&sp->end, 1, 0, 0, 0);
	sp->utc = !sp->all_day && tz_same_zone(zone, "UTC");
	if (sp->utc) {
		sp->start.zone = icaltimezone_get_utc_timezone();
		sp->end.zone = icaltimezone_get_utc_timezone();
	}
	return 0;
}

/* libical's VTIMEZONE for zone (from the system tzdata), truncated to VTIMEZONE_FROM, with the
 * plain IANA name as TZID instead of libical's "/freeassociation.sourceforge.net/" prefix. */
static icalcomponent *vtimezone_build(const char *zone, struct error *err)
{
	icaltimezone *tz = icaltimezone_get_builtin_timezone(zone);
	icalcomponent *src = tz ? icaltimezone_get_component(tz) : NULL;
	icalcomponent *vtz;
	icalproperty *tzid;
	struct icaltimetype from;

	if (!src) {
		error_set(
		    err,
		    "libical has no time zone data for \"%s\": check that the tzdata package is "
		    "installed, or use the zone's current IANA name",
		    zone);
		return NULL;
	}
	vtz = icalcomponent_new_clone(src);
	from = icaltime_from_string(VTIMEZONE_FROM);
	from.zone = icaltimezone_get_utc_timezone();
	icaltimezone_truncate_vtimezone(vtz, from, icaltime_null_time(), 1);
	tzid = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
	if (tzid)
		icalproperty_set_tzid(tzid, zone);
	return vtz;
}

/* Truncating a VTIMEZONE costs more than the rest of a rendering, and a run meets a handful of
 * zones: the truncated components are kept (a pure function of tzdata) and cloned per use. */
#define VTZ_MEMO 32
static struct {
	pthread_mutex_t mu;
	char zone[VTZ_MEMO][64];
	icalcomponent *vtz[VTZ_MEMO];
	char *text[VTZ_MEMO]; /* the component as libical writes it */
	int n;
} vtz_memo = {PTHREAD_MUTEX_INITIALIZER, {{0}}, {0}, {0}, 0};

static icalcomponent *vtimezone_for(const char *zone, struct error *err)
{
	icalcomponent *found = NULL, *built;

	pthread_mutex_lock(&vtz_memo.mu);
	for (int i = 0; i < vtz_memo.n && !found; i++)
		if (strcmp(vtz_memo.zone[i], zone) == 0)
			found = icalcomponent_new_clone(vtz_memo.vtz[i]);
	pthread_mutex_unlock(&vtz_memo.mu);
	if (found)
		return found;
	if (!(built = vtimezone_build(zone, err)))
		return NULL;
	pthread_mutex_lock(&vtz_memo.mu);
	if (vtz_memo.n < VTZ_MEMO && strlen(zone) < sizeof vtz_memo.zone[0]) {
		strcpy(vtz_memo.zone[vtz_memo.n], zone);
		vtz_memo.vtz[vtz_memo.n] = icalcomponent_new_clone(built);
		vtz_memo.text[vtz_memo.n++] = icalcomponent_as_ical_string_r(built);
	}
	pthread_mutex_unlock(&vtz_memo.mu);
	return built;
}

/* The memoized VTIMEZONE text of zone (borrowed: memo entries live as long as the process), or
 * NULL when the zone is not in the memo (vtimezone_for puts it there). */
static const char *vtimezone_text(const char *zone)
{
	const char *text = NULL;

	pthread_mutex_lock(&vtz_memo.mu);
	for (int i = 0; i < vtz_memo.n && !text; i++)
		if (strcmp(vtz_memo.zone[i], zone) == 0)
			text = vtz_memo.text[i];
	pthread_mutex_unlock(&vtz_memo.mu);
	return text;
}

static icalproperty *with_tzid(icalproperty *p, const struct span *sp, const char *zone)
{
	if (!sp->all_day && !sp->utc)
		icalproperty_add_parameter(p, icalparameter_new_tzid(zone));
	return p;
}

/* ---- VEVENT ---- */

static void add_x(icalcomponent *c, const char *name, const char *value)
{
	icalproperty *p = icalproperty_new_x(value);

	icalproperty_set_x_name(p, name);
	icalcomponent_add_property(c, p);
}

static void add_categories(icalcomponent *ve, const char *list)
{
	const char *p = list;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		size_t b = 0, e = len;
		char *one;

		while (b < e && isspace((unsigned char)p[b]))
			b++;
		while (e > b && isspace((unsigned char)p[e - 1]))
			e--;
		if (e > b) {
			one = xstrndup(p + b, e - b);
			icalcomponent_add_property(ve, icalproperty_new_categories(one));
			free(one);
		}
		p += len + (comma ? 1 : 0);
	}
}

static enum icalproperty_class class_for(enum sensitivity s)
{
	switch (s) {
	case SENS_NORMAL:
		return ICAL_CLASS_PUBLIC;
	case SENS_CONFIDENTIAL:
		return ICAL_CLASS_CONFIDENTIAL;
	case SENS_PRIVATE:
	case SENS_PERSONAL:
		break;
	}
	return ICAL_CLASS_PRIVATE;
}

static const char *busystatus_for(enum show_as s)
{
	switch (s) {
	case SHOW_FREE:
		return "FREE";
	case SHOW_TENTATIVE:
		return "TENTATIVE";
	case SHOW_BUSY:
		return "BUSY";
	case SHOW_WORKING_ELSEWHERE:
		return "WORKINGELSEWHERE";
	case SHOW_OOF:
		break;
	}
	return "OOF";
}

static icalcomponent *reminder_alarm(int minutes)
{
	icalcomponent *alarm = icalcomponent_new(ICAL_VALARM_COMPONENT);
	struct icaltriggertype trig;

	memset(&trig, 0, sizeof trig);
	trig.time = icaltime_null_time();
	trig.duration = icaldurationtype_from_int(-minutes * 60);
	icalcomponent_add_property(alarm, icalproperty_new_action(ICAL_ACTION_DISPLAY));
	icalcomponent_add_property(alarm, icalproperty_new_description("Reminder"));
	icalcomponent_add_property(alarm, icalproperty_new_trigger(trig));
	return alarm;
}

static icalcomponent *build_vevent(const struct leave *lv, const struct event_policy *pol,
                                   const char *sync_key, const char *zone, const struct span *sp)
{
	icalcomponent *ve = icalcomponent_new(ICAL_VEVENT_COMPONENT);
	char *subject = expand_subject(pol->subject, lv);

	icalcomponent_add_property(ve, icalproperty_new_uid(sync_key));
	icalcomponent_add_property(ve,
	                           icalproperty_new_dtstamp(icaltime_from_string(FIXED_DTSTAMP)));
	icalcomponent_add_property(ve, with_tzid(icalproperty_new_dtstart(sp->start), sp, zone));
	icalcomponent_add_property(ve, with_tzid(icalproperty_new_dtend(sp->end), sp, zone));
	icalcomponent_add_property(ve, icalproperty_new_summary(subject));
	free(subject);
	if (pol->include_note && lv->note && *lv->note)
		icalcomponent_add_property(ve, icalproperty_new_description(lv->note));
	icalcomponent_add_property(ve, icalproperty_new_transp(pol->show_as == SHOW_FREE
	                                                           ? ICAL_TRANSP_TRANSPARENT
	                                                           : ICAL_TRANSP_OPAQUE));
	icalcomponent_add_property(ve, icalproperty_new_class(class_for(pol->sensitivity)));
	add_categories(ve, pol->categories);
	add_x(ve, "X-MICROSOFT-CDO-BUSYSTATUS", busystatus_for(pol->show_as));
	if (sp->all_day) {
		add_x(ve, "X-MICROSOFT-CDO-ALLDAYEVENT", "TRUE");
		/* a date has no zone; the backends need the zone whose midnight starts the day */
		add_x(ve, "X-LEAVESYNC-TIME-ZONE", zone);
	}
	if (pol->sensitivity ==
	    SENS_PERSONAL) /* CLASS has no "personal": keep it for the round trip */
		add_x(ve, "X-LEAVESYNC-SENSITIVITY", "personal");
	add_x(ve, "X-LEAVESYNC-LEAVE-ID", lv->id);
	if (pol->reminder_minutes >= 0)
		icalcomponent_add_component(ve, reminder_alarm(pol->reminder_minutes));
	return ve;
}

/* The policy when there is no config (unit tests, export without a file): the documented defaults.
 */
static const struct event_policy default_policy = {
    .sync = true,
    .subject = DEFAULT_SUBJECT,
    .show_as = SHOW_OOF,
    .sensitivity = SENS_PRIVATE,
    .categories = NULL,
    .include_note = false,
    .reminder_minutes = -1,
};

/* ---- the direct writer ----
 * libical's serializer (a property object per line, parameters, escaping, folding) was a sixth of a
 * sync's CPU. The common case is written here directly, byte for byte what libical writes: every
 * value made of characters that libical leaves alone, and every line short enough not to be folded.
 * Anything else (a note with a comma, a long subject, non-ASCII text...) goes through libical.
 * tests/unit/test_render_fast.c compares both writers over thousands of random leaves. */

/* The longest content line (without CRLF) that libical 3.0 writes unfolded is 72 octets. */
#define DIRECT_LINE_MAX 72

/* Characters that libical writes unchanged in a TEXT or X value: printable ASCII except the ones it
 * escapes (backslash, semicolon, comma). */
static bool text_is_plain(const char *v)
{
	if (!*v)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '\\' || *p == ';' || *p == ',')
			return false;
	return true;
}

/* A zone name libical writes unquoted as a TZID parameter. */
static bool zone_is_plain(const char *z)
{
	if (!*z)
		return false;
	for (const char *p = z; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return false;
	return true;
}

struct direct {
	struct buf b;
	bool ok; /* false: something libical would escape or fold; use libical */
};

static void direct_line(struct direct *d, const char *name, const char *params, const char *value)
{
	size_t len = strlen(name) + strlen(params) + 1 + strlen(value);

	if (!d->ok || !text_is_plain(value) || len > DIRECT_LINE_MAX) {
		d->ok = false;
		return;
	}
	buf_puts(&d->b, name);
	buf_puts(&d->b, params);
	buf_puts(&d->b, ":");
	buf_puts(&d->b, value);
	buf_puts(&d->b, "\r\n");
}

/* DTSTART / DTEND as libical writes them (icaltime_as_ical_string and the VALUE/TZID parameter). */
static void direct_time(struct direct *d, const char *name, struct icaltimetype t,
                        const struct span *sp, const char *zone)
{
	char value[32], params[96];

	if (t.is_date)
		snprintf(value, sizeof value, "%04d%02d%02d", t.year, t.month, t.day);
	else
		snprintf(value, sizeof value, "%04d%02d%02dT%02d%02d%02d%s", t.year, t.month, t.day,
		         t.hour, t.minute, t.second, sp->utc ? "Z" : "");
	params[0] = '\0';
	if (sp->all_day)
		snprintf(params, sizeof params, ";VALUE=DATE");
	else if (!sp->utc &&
	         snprintf(params, sizeof params, ";TZID=%s", zone) >= (int)sizeof params)
		d->ok = false;
	direct_line(d, name, params, value);
}

static void direct_categories(struct direct *d, const char *list)
{
	const char *p = list;

	while (p && *p && d->ok) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		size_t b = 0, e = len;

		while (b < e && isspace((unsigned char)p[b]))
			b++;
		while (e > b && isspace((unsigned char)p[e - 1]))
			e--;
		if (e > b) {
			char *one = xstrndup(p + b, e - b);
			direct_line(d, "CATEGORIES", "", one);
			free(one);
		}
		p += len + (comma ? 1 : 0);
	}
}

static const char *class_name(enum icalproperty_class c)
{
	return c == ICAL_CLASS_PUBLIC         ? "PUBLIC"
	       : c == ICAL_CLASS_CONFIDENTIAL ? "CONFIDENTIAL"
	                                      : "PRIVATE";
}

/* The VEVENT of build_vevent, property for property. */
static void direct_vevent(struct direct *d, const struct leave *lv, const struct event_policy *pol,
                          const char *sync_key, const char *zone, const struct span *sp)
{
	char *subject = expand_subject(pol->subject, lv);

	buf_puts(&d->b, "BEGIN:VEVENT\r\n");
	direct_line(d, "UID", "", sync_key);
	direct_line(d, "DTSTAMP", "", FIXED_DTSTAMP);
	direct_time(d, "DTSTART", sp->start, sp, zone);
	direct_time(d, "DTEND", sp->end, sp, zone);
	direct_line(d, "SUMMARY", "", subject);
	free(subject);
	if (pol->include_note && lv->note && *lv->note)
		direct_line(d, "DESCRIPTION", "", lv->note);
	direct_line(d, "TRANSP", "", pol->show_as == SHOW_FREE ? "TRANSPARENT" : "OPAQUE");
	direct_line(d, "CLASS", "", class_name(class_for(pol->sensitivity)));
	direct_categories(d, pol->categories);
	direct_line(d, "X-MICROSOFT-CDO-BUSYSTATUS", "", busystatus_for(pol->show_as));
	if (sp->all_day) {
		direct_line(d, "X-MICROSOFT-CDO-ALLDAYEVENT", "", "TRUE");
		direct_line(d, "X-LEAVESYNC-TIME-ZONE", "", zone);
	}
	if (pol->sensitivity == SENS_PERSONAL)
		direct_line(d, "X-LEAVESYNC-SENSITIVITY", "", "personal");
	direct_line(d, "X-LEAVESYNC-LEAVE-ID", "", lv->id);
	if (pol->reminder_minutes >= 0 && d->ok) {
		icalcomponent *alarm = reminder_alarm(pol->reminder_minutes);
		char *text = icalcomponent_as_ical_string_r(alarm);

		buf_puts(&d->b, text);
		free(text);
		icalcomponent_free(alarm);
	}
	buf_puts(&d->b, "END:VEVENT\r\n");
}

/* The VCALENDAR written directly, or NULL when libical must write it. */
static char *render_direct(const struct leave *lv, const struct event_policy *pol,
                           const char *sync_key, const char *zone, const struct span *sp)
{
	struct direct d = {BUF_INIT, true};
	const char *vtz = NULL;

	if (!zone_is_plain(zone) || !lv->id)
		return NULL;
	if (!sp->all_day && !sp->utc && !(vtz = vtimezone_text(zone)))
		return NULL;
	buf_puts(&d.b, "BEGIN:VCALENDAR\r\n");
	direct_line(&d, "PRODID", "", "-//leavesync//leavesync " LEAVESYNC_VERSION "//EN");
	direct_line(&d, "VERSION", "", "2.0");
	if (vtz)
		buf_puts(&d.b, vtz);
	direct_vevent(&d, lv, pol, sync_key, zone, sp);
	buf_puts(&d.b, "END:VCALENDAR\r\n");
	if (!d.ok) {
		buf_free(&d.b);
		return NULL;
	}
	return buf_steal(&d.b);
}

/* The VCALENDAR through libical's serializer. */
static char *render_libical(const struct leave *lv, const struct event_policy *pol,
                            const char *sync_key, const char *zone, const struct span *sp,
                            icalcomponent *vtz)
{
	icalcomponent *cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
	char *ics;

	icalcomponent_add_property(
	    cal, icalproperty_new_prodid("-//leavesync//leavesync " LEAVESYNC_VERSION "//EN"));
	icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
	if (vtz)
		icalcomponent_add_component(cal, vtz);
	icalcomponent_add_component(cal, build_vevent(lv, pol, sync_key, zone, sp));
	ics = icalcomponent_as_ical_string_r(cal);
	icalcomponent_free(cal);
	return ics;
}

static int render(const struct config *cfg, const struct leave *lv, const char *sync_key,
                  bool direct, char **ics, struct error *err)
{
	struct event_policy scratch;
	const struct event_policy *pol =
	    cfg ? config_policy_for(cfg, lv->kind, &scratch) : &default_policy;
	const char *zone = lv->time_zone && *lv->time_zone ? lv->time_zone
	                   : cfg && cfg->default_time_zone ? cfg->default_time_zone
	                                                   : "UTC";
	icalcomponent *vtz = NULL;
	struct span sp;

	*ics = NULL;
	if (!lv->status || strcmp(lv->status, "approved") != 0 || !pol->sync)
		return 0; /* cancelled (or a kind that is never synced): the event must not exist */
	if (!sync_key || !*sync_key)
		return error_set(err, "leave %s has no sync key", or_empty(lv->id));
	if (!tz_is_known_iana(zone))
		return error_set(
		    err, "unknown IANA time zone \"%s\": use a name such as Europe/Riga", zone);
	if (leave_span(lv, zone, &sp, err) < 0)
		return -1;
	if (direct && (*ics = render_direct(lv, pol, sync_key, zone, &sp)))
		return 0;
	if (!sp.all_day && !sp.utc && !(vtz = vtimezone_for(zone, err)))
		return -1;
	if (direct && vtz && (*ics = render_direct(lv, pol, sync_key, zone, &sp))) {
		icalcomponent_free(vtz); /* the zone's first use: now in the memo */
		return 0;
	}
	*ics = render_libical(lv, pol, sync_key, zone, &sp, vtz);
	return 0;
}

int render_leave(const struct config *cfg, const struct leave *lv, const char *sync_key, char **ics,
                 struct error *err)
{
	return render(cfg, lv, sync_key, true, ics, err);
}

int render_leave_libical(const struct config *cfg, const struct leave *lv, const char *sync_key,
                         char **ics, struct error *err)
{
	return render(cfg, lv, sync_key, false, ics, err);
}
