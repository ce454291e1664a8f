/* engine/render.c: leave -> VCALENDAR. Privacy defaults, per-kind policy, all-day and timed leave
 * in five zones (checked by letting libical resolve the VTIMEZONE we wrote), DST, determinism, and
 * the round trip through event_from_vevent. */
#include "common/util.h"
#include "engine/config.h"
#include "engine/event.h"
#include "engine/render.h"
#include "engine/tz.h"
#include "tests/unit/tap.h"

#include <libical/ical.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_render.XXXXXX";

/* Loads a config from text (written to a 0600 file). */
static void load_config(const char *text, struct config *cfg)
{
	char path[256];
	struct error err = {{0}};

	snprintf(path, sizeof path, "%s/leavesync.conf", tmpdir);
	if (write_file_atomic(path, text, strlen(text), 0600) < 0 ||
	    config_load(path, cfg, &err) < 0) {
		printf("Bail out! cannot load test config: %s\n", err.msg);
		exit(1);
	}
}

static struct leave make_leave(const char *id, const char *kind, const char *starts,
                               const char *ends, const char *zone, const char *note)
{
	struct leave lv = {
	    .id = (char *)id,
	    .mailbox = "alice@contoso.com",
	    .kind = (char *)kind,
	    .starts = (char *)starts,
	    .ends = (char *)ends,
	    .time_zone = (char *)zone,
	    .status = "approved",
	    .note = (char *)note,
	    .revision = 1,
	    .updated_at = "2026-11-25T13:00:00Z",
	};
	return lv;
}

/* Renders or bails out; the caller frees. */
static char *render(const struct config *cfg, const struct leave *lv)
{
	char key[SYNC_KEY_MAX], *ics = NULL;
	struct error err = {{0}};

	render_sync_key(NULL, lv->mailbox, lv->id, key);
	if (render_leave(cfg, lv, key, &ics, &err) < 0) {
		printf("# render failed: %s\n", err.msg);
		return NULL;
	}
	return ics;
}

/* line occurs in ics once folded lines (RFC 5545 3.1: CRLF + space) are joined. */
static bool has(const char *ics, const char *line)
{
	char *unfolded, *o;
	bool found;

	if (!ics)
		return false;
	unfolded = o = xmalloc(strlen(ics) + 1);
	for (const char *p = ics; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t'))
			p += 2;
		else
			*o++ = *p;
	}
	*o = '\0';
	found = strstr(unfolded, line) != NULL;
	free(unfolded);
	return found;
}

static void test_sync_key(void)
{
	char a[SYNC_KEY_MAX], b[SYNC_KEY_MAX], c[SYNC_KEY_MAX], inst[SYNC_KEY_INSTANCE_MAX];

	render_sync_key(NULL, "alice@contoso.com", "LV-1", a);
	/* computed independently: python3 uuid.uuid5(UUID(ns), "alice@contoso.com\nLV-1") */
	is_str(a, "043066f4-730f-58e3-9efd-4c76ba87a565", "sync key is UUID v5 of mailbox\\nid");
	render_sync_key("default", "alice@contoso.com", "LV-1", b);
	is_str(b, a, "the instance \"default\" keeps the keys written before instances existed");
	render_sync_key(NULL, "Alice@Contoso.COM", "LV-1", b);
	is_str(b, a, "the mailbox's case does not change the sync key");
	render_sync_key(NULL, "alice@contoso.com", "LV-2", c);
	ok(strcmp(a, c) != 0, "another leave id gives another key");
	render_sync_key(NULL, "bob@contoso.com", "LV-1", c);
	ok(strcmp(a, c) != 0, "another mailbox gives another key");
	render_sync_key("staging", "alice@contoso.com", "LV-1", c);
	is_str(c, "staging:043066f4-730f-58e3-9efd-4c76ba87a565",
	       "another instance: its name, then the same UUID");
	sync_key_instance(c, inst);
	is_str(inst, "staging", "the instance is read back from the key");
	sync_key_instance(a, inst);
	is_str(inst, "default", "a bare UUID (every event before instances) is \"default\"");
	ok(sync_key_in_instance(a, NULL) && sync_key_in_instance(a, "default") &&
	       !sync_key_in_instance(a, "staging") && sync_key_in_instance(c, "staging") &&
	       !sync_key_in_instance(c, "default") && !sync_key_in_instance(c, "staging2"),
	   "each key belongs to its own instance only");
	sync_key_for_instance(c, "default", b);
	is_str(b, a, "renaming staging to default gives the default key");
	sync_key_for_instance(a, "prod", b);
	is_str(b, "prod:043066f4-730f-58e3-9efd-4c76ba87a565", "and default to prod");
}

static void test_privacy_defaults(const struct config *cfg)
{
	struct leave lv = make_leave("LV-1", "Annual leave", "2026-12-24", "2026-12-31",
	                             "Europe/Riga", "Skiing in Sigulda");
	struct leave sick = make_leave("LV-2", "Sick leave", "2027-01-11", "2027-01-12", "UTC",
	                               "Flu, doctor's note attached");
	char *ics = render(cfg, &lv), *ics2 = render(cfg, &sick);

	ok(has(ics, "\r\nSUMMARY:Out of office\r\n"), "default subject is Out of office");
	ok(has(ics, "\r\nCLASS:PRIVATE\r\n"), "default class is PRIVATE");
	ok(!has(ics, "DESCRIPTION"), "no DESCRIPTION by default");
	ok(!has(ics, "Sigulda"), "the note appears nowhere by default");
	ok(!has(ics, "Annual leave"), "the kind appears nowhere by default");
	ok(has(ics, "\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n"), "shows as out of office");
	ok(has(ics, "\r\nTRANSP:OPAQUE\r\n"), "TRANSP:OPAQUE");
	ok(has(ics, "BEGIN:VCALENDAR\r\nPRODID:-//leavesync//leavesync " LEAVESYNC_VERSION
	            "//EN\r\nVERSION:2.0\r\n"),
	   "VCALENDAR with PRODID and VERSION");
	ok(!has(ics, "METHOD"), "no METHOD");
	ok(has(ics, "\r\nUID:043066f4-730f-58e3-9efd-4c76ba87a565\r\n"), "UID is the sync key");
	ok(has(ics, "\r\nDTSTAMP:19700101T000000Z\r\n"), "DTSTAMP is fixed");
	ok(has(ics, "\r\nX-LEAVESYNC-LEAVE-ID:LV-1\r\n"), "X-LEAVESYNC-LEAVE-ID");
	ok(!has(ics, "VALARM"), "no reminder by default");
	ok(!has(ics2, "Flu") && !has(ics2, "doctor") && !has(ics2, "Sick"),
	   "sick leave leaks neither note nor kind by default");
	free(ics);
	free(ics2);
}

static const char policy_conf[] = "[event]\n"
                                  "categories = Leave\n"
                                  "[kind \"Annual leave\"]\n"
                                  "subject = {kind}: {note} ({id}, {mailbox})\n"
                                  "include_note = true\n"
                                  "sensitivity = normal\n"
                                  "categories = Leave, Holiday\n"
                                  "reminder = 15\n"
                                  "[kind \"Remote work\"]\n"
                                  "subject = Working remotely\n"
                                  "show_as = workingElsewhere\n"
                                  "[kind \"Training\"]\n"
                                  "show_as = free\n"
                                  "sensitivity = personal\n"
                                  "[kind \"Unpaid leave\"]\n"
                                  "sync = false\n";

static void test_kind_policy(const struct config *cfg)
{
	struct leave lv = make_leave("LV-1", "Annual leave", "2026-12-24", "2026-12-31",
	                             "Europe/Riga", "Skiing, Sigulda; back 4 Jan");
	struct leave sick =
	    make_leave("LV-2", "Sick leave", "2027-01-11", "2027-01-12", "UTC", "Flu");
	struct leave remote =
	    make_leave("LV-3", "remote WORK", "2027-02-01", "2027-02-01", "Asia/Kolkata", NULL);
	struct leave training =
	    make_leave("LV-4", "Training", "2027-02-02", "2027-02-02", "UTC", NULL);
	struct leave unpaid =
	    make_leave("LV-5", "Unpaid leave", "2027-02-03", "2027-02-04", "UTC", NULL);
	char *a = render(cfg, &lv), *s = render(cfg, &sick), *r = render(cfg, &remote);
	char *t = render(cfg, &training), *u = (char *)"x";
	struct error err = {{0}};
	struct event ev;

	ok(has(a, "\r\nDESCRIPTION:Skiing\\, Sigulda\\; back 4 Jan\r\n"),
	   "a kind that includes the note writes it (escaped) as DESCRIPTION");
	ok(has(a,
	       "SUMMARY:Annual leave: Skiing\\, Sigulda\\; back 4 Jan (LV-1\\, alice@contoso.com)"),
	   "the subject template expands {kind} {note} {id} {mailbox}");
	ok(has(a, "\r\nCLASS:PUBLIC\r\n"), "sensitivity normal -> CLASS:PUBLIC");
	ok(has(a, "\r\nCATEGORIES:Leave\r\nCATEGORIES:Holiday\r\n"), "the kind's categories");
	ok(has(a, "BEGIN:VALARM\r\n") && has(a, "\r\nTRIGGER:-PT15M\r\n"), "reminder 15 -> VALARM");
	ok(!has(s, "Flu") && !has(s, "DESCRIPTION"), "sick leave still keeps its note out");
	ok(has(s, "\r\nCATEGORIES:Leave\r\n"), "other kinds take [event] categories");
	ok(has(r, "\r\nSUMMARY:Working remotely\r\n") &&
	       has(r, "\r\nX-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE\r\n"),
	   "kind names match ignoring case; remote work shows as working elsewhere");
	ok(has(t, "\r\nTRANSP:TRANSPARENT\r\n") &&
	       has(t, "\r\nX-MICROSOFT-CDO-BUSYSTATUS:FREE\r\n"),
	   "show_as free -> TRANSP:TRANSPARENT, BUSYSTATUS FREE");
	ok(has(t, "\r\nCLASS:PRIVATE\r\n") && has(t, "\r\nX-LEAVESYNC-SENSITIVITY:personal\r\n"),
	   "personal -> CLASS:PRIVATE plus X-LEAVESYNC-SENSITIVITY");
	ok(event_from_vevent(t, &ev, &err) == 0 && ev.sensitivity == SENS_PERSONAL &&
	       ev.show_as == SHOW_FREE,
	   "personal and free survive the round trip");
	event_free(&ev);
	ok(render_leave(cfg, &unpaid, "k", &u, &err) == 0 && u == NULL, "sync = false -> no event");
	free(a);
	free(s);
	free(r);
	free(t);
}

static void test_cancelled(const struct config *cfg)
{
	struct leave lv =
	    make_leave("LV-9", "Annual leave", "2027-01-04", "2027-01-04", "UTC", NULL);
	struct error err = {{0}};
	char *ics = (char *)"x";

	lv.status = "cancelled";
	ok(render_leave(cfg, &lv, "k", &ics, &err) == 0 && ics == NULL,
	   "cancelled leave -> no event");
}

/* The instant libical computes for DTSTART/DTEND, resolving the VTIMEZONE we wrote. */
static int64_t libical_instant(const char *ics, bool end)
{
	icalcomponent *cal = icalparser_parse_string(ics), *ve;
	struct icaltimetype t;
	int64_t out;

	if (!cal)
		return -1;
	ve = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	t = end ? icalcomponent_get_dtend(ve) : icalcomponent_get_dtstart(ve);
	out = t.zone ? (int64_t)icaltime_as_timet_with_zone(t, t.zone) : -1;
	icalcomponent_free(cal);
	return out;
}

static void check_timed(const struct config *cfg, const char *zone, const char *starts,
                        const char *ends)
{
	struct leave lv = make_leave("LV-T", "Annual leave", starts, ends, zone, NULL);
	char *ics = render(cfg, &lv), want[128];
	int64_t s = 0, e = 0;
	bool utc = strcmp(zone, "UTC") == 0;

	if (utc)
		snprintf(want, sizeof want, "\r\nDTSTART:%.4s%.2s%.2sT%.2s%.2s00Z\r\n", starts,
		         starts + 5, starts + 8, starts + 11, starts + 14);
	else
		snprintf(want, sizeof want, "\r\nDTSTART;TZID=%s:%.4s%.2s%.2sT%.2s%.2s00\r\n", zone,
		         starts, starts + 5, starts + 8, starts + 11, starts + 14);
	ok(has(ics, want), "%s: %.*s", zone, (int)strlen(want + 2) - 2, want + 2);
	if (!utc) {
		snprintf(want, sizeof want, "BEGIN:VTIMEZONE\r\nTZID:%s\r\n", zone);
		ok(has(ics, want), "%s: VTIMEZONE with the plain IANA TZID", zone);
	} else {
		ok(!has(ics, "VTIMEZONE"), "UTC: no VTIMEZONE");
	}
	ok(!has(ics, "X-MICROSOFT-CDO-ALLDAYEVENT"), "%s: not an all-day event", zone);
	tz_local_to_unix(starts, zone, &s);
	tz_local_to_unix(ends, zone, &e);
	is_int(libical_instant(ics, false), s, "%s: libical reads DTSTART as the right instant",
	       zone);
	is_int(libical_instant(ics, true), e, "%s: libical reads DTEND as the right instant", zone);
	free(ics);
}

static void test_timed(const struct config *cfg)
{
	check_timed(cfg, "UTC", "2027-01-04T09:00", "2027-01-04T13:00");
	check_timed(cfg, "America/Los_Angeles", "2027-01-04T13:00", "2027-01-04T17:30");
	check_timed(cfg, "America/Los_Angeles", "2027-07-05T08:00", "2027-07-05T12:00");
	check_timed(cfg, "Asia/Kolkata", "2027-02-15T14:00", "2027-02-15T18:00");
	check_timed(cfg, "Pacific/Kiritimati", "2027-01-01T09:00", "2027-01-01T12:00");
	/* across the spring change in Riga (28 March 2027): start at +02, end at +03 */
	check_timed(cfg, "Europe/Riga", "2027-03-26T09:00", "2027-03-30T13:30");
}

static void check_all_day(const struct config *cfg, const char *zone, const char *starts,
                          const char *ends, const char *dtstart, const char *dtend)
{
	struct leave lv = make_leave("LV-A", "Annual leave", starts, ends, zone, NULL);
	char *ics = render(cfg, &lv), want[96];

	snprintf(want, sizeof want, "\r\nDTSTART;VALUE=DATE:%s\r\nDTEND;VALUE=DATE:%s\r\n", dtstart,
	         dtend);
	ok(has(ics, want), "%s %s..%s: DTSTART %s, DTEND %s (exclusive)", zone, starts, ends,
	   dtstart, dtend);
	ok(has(ics, "\r\nX-MICROSOFT-CDO-ALLDAYEVENT:TRUE\r\n"), "%s: all-day marker", zone);
	ok(!has(ics, "VTIMEZONE"), "%s: an all-day event needs no VTIMEZONE", zone);
	free(ics);
}

static void test_all_day(const struct config *cfg)
{
	check_all_day(cfg, "UTC", "2027-01-04", "2027-01-04", "20270104", "20270105");
	check_all_day(cfg, "America/Los_Angeles", "2026-12-24", "2026-12-31", "20261224",
	              "20270101");
	check_all_day(cfg, "Europe/Riga", "2027-03-26", "2027-03-30", "20270326", "20270331");
	check_all_day(cfg, "Asia/Kolkata", "2028-02-28", "2028-02-29", "20280228", "20280301");
	check_all_day(cfg, "Pacific/Kiritimati", "2027-04-01", "2027-04-02", "20270401",
	              "20270403");
}

static void test_round_trip(const struct config *cfg, const struct config *pcfg)
{
	struct leave lv = make_leave("LV-1", "Annual leave", "2027-03-26", "2027-03-30",
	                             "Europe/Riga", "Back on Wednesday");
	struct leave timed = make_leave("LV-2", "Annual leave", "2027-03-26T09:00",
	                                "2027-03-30T13:30", "Europe/Riga", NULL);
	char *a = render(pcfg, &lv), *b = render(cfg, &timed);
	struct error err = {{0}};
	struct event ea, eb;

	ok(event_from_vevent(a, &ea, &err) == 0, "all-day render parses back: %s", err.msg);
	is_str(ea.sync_key, "043066f4-730f-58e3-9efd-4c76ba87a565", "sync key");
	is_str(ea.subject, "Annual leave: Back on Wednesday (LV-1, alice@contoso.com)", "subject");
	is_str(ea.body, "Back on Wednesday", "body");
	ok(ea.all_day, "all_day");
	is_str(ea.start, "2027-03-26", "start");
	is_str(ea.end, "2027-03-31", "end (exclusive)");
	is_str(ea.time_zone, "Europe/Riga", "zone of an all-day event");
	ok(ea.show_as == SHOW_OOF && ea.sensitivity == SENS_NORMAL,
	   "show_as oof, sensitivity normal");
	ok(ea.categories && !strcmp(ea.categories[0], "Leave") &&
	       !strcmp(ea.categories[1], "Holiday") && !ea.categories[2],
	   "categories");
	is_int(ea.reminder_minutes, 15, "reminder");
	ok(event_from_vevent(b, &eb, &err) == 0, "timed render parses back: %s", err.msg);
	ok(!eb.all_day, "timed");
	is_str(eb.start, "2027-03-26T09:00:00", "timed start");
	is_str(eb.end, "2027-03-30T13:30:00", "timed end");
	is_str(eb.time_zone, "Europe/Riga", "timed zone");
	ok(eb.body == NULL && eb.sensitivity == SENS_PRIVATE && eb.reminder_minutes == -1 &&
	       eb.categories == NULL,
	   "timed: no body, private, no reminder, no categories");
	event_free(&ea);
	event_free(&eb);
	free(a);
	free(b);
}

static void test_determinism(const struct config *cfg)
{
	struct leave lv = make_leave("LV-1", "Annual leave", "2027-03-26T09:00", "2027-03-30T13:30",
	                             "Europe/Riga", "note");
	char *a = render(cfg, &lv), *b = render(cfg, &lv), *c;
	struct leave copy = {
	    .id = xstrdup("LV-1"),
	    .mailbox = xstrdup("alice@contoso.com"),
	    .kind = xstrdup("Annual leave"),
	    .starts = xstrdup("2027-03-26T09:00"),
	    .ends = xstrdup("2027-03-30T13:30"),
	    .time_zone = xstrdup("Europe/Riga"),
	    .status = xstrdup("approved"),
	    .note = xstrdup("note"),
	    .revision = 7,                                 /* HR bumped it ... */
	    .updated_at = xstrdup("2027-01-01T00:00:00Z"), /* ... and pushed again later */
	};

	c = render(cfg, &copy);
	ok(a && b && strcmp(a, b) == 0, "rendering twice gives byte-identical text");
	ok(a && c && strcmp(a, c) == 0,
	   "a re-created leave (new revision, new updated_at) gives byte-identical text");
	free(copy.id);
	free(copy.mailbox);
	free(copy.kind);
	free(copy.starts);
	free(copy.ends);
	free(copy.time_zone);
	free(copy.status);
	free(copy.note);
	free(copy.updated_at);
	free(a);
	free(b);
	free(c);
}

static void test_errors(const struct config *cfg)
{
	struct error err = {{0}};
	char *ics;
	struct leave mixed = make_leave("E1", "x", "2027-01-04", "2027-01-04T10:00", "UTC", NULL);
	struct leave back = make_leave("E2", "x", "2027-01-05", "2027-01-04", "UTC", NULL);
	struct leave zone = make_leave("E3", "x", "2027-01-04", "2027-01-04", "Mars/Olympus", NULL);
	struct leave bad = make_leave("E4", "x", "2027-02-30", "2027-03-01", "UTC", NULL);
	struct leave empty =
	    make_leave("E5", "x", "2027-01-04T10:00", "2027-01-04T10:00", "UTC", NULL);
	struct leave nozone =
	    make_leave("E6", "x", "2027-01-04T10:00", "2027-01-04T11:00", NULL, NULL);

	ok(render_leave(cfg, &mixed, "k", &ics, &err) < 0 && strstr(err.msg, "both"),
	   "a date start with a date-time end is refused: %s", err.msg);
	ok(render_leave(cfg, &back, "k", &ics, &err) < 0 && strstr(err.msg, "before"),
	   "an end before the start is refused: %s", err.msg);
	ok(render_leave(cfg, &zone, "k", &ics, &err) < 0 && strstr(err.msg, "Mars/Olympus"),
	   "an unknown zone is refused: %s", err.msg);
	ok(render_leave(cfg, &bad, "k", &ics, &err) < 0, "30 February is refused: %s", err.msg);
	ok(render_leave(cfg, &empty, "k", &ics, &err) < 0, "a timed leave of no length is refused");
	{
		/* rows written by SQL outside the supported dates: an error, never year 0 */
		struct leave y1 = make_leave("E7", "x", "0001-01-01T00:00", "0001-01-01T08:00",
		                             "Pacific/Kiritimati", NULL);
		struct leave y2200 = make_leave("E8", "x", "2199-12-31", "2200-01-01", "UTC", NULL);
		struct leave first = make_leave("E9", "x", "1970-01-01", "1970-01-01", "UTC", NULL);
		struct leave last = make_leave("E10", "x", "2199-12-31", "2199-12-31", "UTC", NULL);

		ics = NULL;
		ok(render_leave(cfg, &y1, "k", &ics, &err) < 0 && !ics &&
		       strstr(err.msg, "outside the dates leavesync supports, 1970-01-01 to "
		                       "2199-12-31"),
		   "year 0001 in Pacific/Kiritimati is refused, not rendered as year 0: %s",
		   err.msg);
		ok(render_leave(cfg, &y2200, "k", &ics, &err) < 0 && strstr(err.msg, "outside"),
		   "an end in 2200 is refused");
		ics = render(cfg, &first);
		ok(has(ics, "DTSTART;VALUE=DATE:19700101"), "1970-01-01 renders");
		free(ics);
		ics = render(cfg, &last);
		ok(has(ics, "DTEND;VALUE=DATE:22000101"),
		   "2199-12-31 renders (end exclusive 2200)");
		free(ics);
	}
	ics = render(cfg, &nozone);
	ok(has(ics, "\r\nDTSTART:20270104T100000Z\r\n"),
	   "a leave without zone uses [event] time_zone");
	free(ics);
}

/* DST (docs/store.md): a part-day time the clocks skip cannot be rendered (a row written by SQL,
 * push refuses it); one they repeat is its first occurrence. */
static void test_dst(const struct config *cfg)
{
	struct error err = {{0}};
	char *ics = NULL;
	struct leave gap =
	    make_leave("G1", "x", "2027-03-28T02:30", "2027-03-28T03:30", "Europe/Berlin", NULL);
	struct leave gap_end =
	    make_leave("G2", "x", "2027-09-04T23:00", "2027-09-05T00:30", "America/Santiago", NULL);
	struct leave overlap =
	    make_leave("O1", "x", "2027-04-04T02:30", "2027-04-04T03:30", "Australia/Sydney", NULL);

	ok(render_leave(cfg, &gap, "k", &ics, &err) < 0 &&
	       strstr(err.msg,
	              "start \"2027-03-28T02:30\": this local time does not exist in "
	              "Europe/Berlin on 2027-03-28 (clocks go forward from 02:00 to 03:00)"),
	   "a start in the spring gap is refused, naming the zone and the jump: %s", err.msg);
	ok(render_leave(cfg, &gap_end, "k", &ics, &err) < 0 &&
	       strstr(err.msg, "end \"2027-09-05T00:30\"") &&
	       strstr(err.msg, "from 00:00 to 01:00"),
	   "an end in Santiago's September gap too: %s", err.msg);
	ics = render(cfg, &overlap);
	ok(has(ics, "DTSTART;TZID=Australia/Sydney:20270404T023000"),
	   "a time the clocks repeat renders as written (RFC 5545 3.3.5: its first occurrence)");
	free(ics);
}

int main(void)
{
	struct config cfg, pcfg;

	if (!mkdtemp(tmpdir))
		return 1;
	unsetenv("LEAVESYNC_CONFIG");
	load_config("; defaults\n", &cfg);
	load_config(policy_conf, &pcfg);
	test_sync_key();
	test_privacy_defaults(&cfg);
	test_kind_policy(&pcfg);
	test_cancelled(&cfg);
	test_timed(&cfg);
	test_dst(&cfg);
	test_all_day(&cfg);
	test_round_trip(&cfg, &pcfg);
	test_determinism(&cfg);
	test_errors(&cfg);
	config_free(&cfg);
	config_free(&pcfg);
	{
		char path[256];

		snprintf(path, sizeof path, "%s/leavesync.conf", tmpdir);
		unlink(path);
		rmdir(tmpdir);
	}
	return done_testing();
}
