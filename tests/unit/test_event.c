/* engine/event.c: parsing VEVENT text (also as other clients write it), owned-field comparison,
 * copies, names. */
#include "common/util.h"
#include "engine/event.h"
#include "tests/unit/tap.h"

#include <stdlib.h>

static void test_names(void)
{
	enum show_as s;
	enum sensitivity v;

	is_str(show_as_name(SHOW_OOF), "oof", "oof");
	is_str(show_as_name(SHOW_WORKING_ELSEWHERE), "workingElsewhere", "workingElsewhere");
	ok(show_as_parse("WorkingElsewhere", &s) == 0 && s == SHOW_WORKING_ELSEWHERE,
	   "show_as parses ignoring case");
	ok(show_as_parse("tentative", &s) == 0 && s == SHOW_TENTATIVE, "tentative parses");
	ok(show_as_parse("away", &s) < 0, "an unknown show_as is refused");
	is_str(sensitivity_name(SENS_CONFIDENTIAL), "confidential", "confidential");
	ok(sensitivity_parse("Personal", &v) == 0 && v == SENS_PERSONAL, "personal parses");
	ok(sensitivity_parse("secret", &v) < 0, "an unknown sensitivity is refused");
	for (int i = SHOW_FREE; i <= SHOW_WORKING_ELSEWHERE; i++)
		ok(show_as_parse(show_as_name((enum show_as)i), &s) == 0 && (int)s == i,
		   "show_as %s round-trips", show_as_name((enum show_as)i));
	for (int i = SENS_NORMAL; i <= SENS_CONFIDENTIAL; i++)
		ok(sensitivity_parse(sensitivity_name((enum sensitivity)i), &v) == 0 && (int)v == i,
		   "sensitivity %s round-trips", sensitivity_name((enum sensitivity)i));
}

/* As another libical program or a server might write it: a bare VEVENT, prefixed TZID, a
 * comma-separated CATEGORIES list, CONFIDENTIAL, an alarm 1 day before. */
static const char foreign[] = "BEGIN:VEVENT\r\n"
                              "UID:2a0c9f8e-1111-5222-8333-444455556666\r\n"
                              "DTSTAMP:20261125T120000Z\r\n"
                              "DTSTART;TZID=/freeassociation.sourceforge.net/America/Los_Angeles:"
                              "20270104T130000\r\n"
                              "DTEND;TZID=/freeassociation.sourceforge.net/America/Los_Angeles:"
                              "20270104T173000\r\n"
                              "SUMMARY:Dentist\\, then home\r\n"
                              "DESCRIPTION:line one\\nline two\r\n"
                              "CLASS:CONFIDENTIAL\r\n"
                              "CATEGORIES:Leave,Health\r\n"
                              "CATEGORIES:Other\r\n"
                              "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n"
                              "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-P1D\r\n"
                              "END:VALARM\r\n"
                              "END:VEVENT\r\n";

static void test_parse_foreign(void)
{
	struct event ev;
	struct error err = {{0}};

	ok(event_from_vevent(foreign, &ev, &err) == 0, "a bare VEVENT parses: %s", err.msg);
	is_str(ev.sync_key, "2a0c9f8e-1111-5222-8333-444455556666", "UID");
	is_str(ev.subject, "Dentist, then home", "SUMMARY unescaped");
	is_str(ev.body, "line one\nline two", "DESCRIPTION unescaped");
	ok(!ev.all_day, "timed");
	is_str(ev.start, "2027-01-04T13:00:00", "start wall time");
	is_str(ev.end, "2027-01-04T17:30:00", "end wall time");
	is_str(ev.time_zone, "America/Los_Angeles", "libical's TZID prefix is dropped");
	ok(ev.show_as == SHOW_TENTATIVE, "BUSYSTATUS TENTATIVE");
	ok(ev.sensitivity == SENS_CONFIDENTIAL, "CLASS:CONFIDENTIAL");
	ok(ev.categories && !strcmp(ev.categories[0], "Leave") &&
	       !strcmp(ev.categories[1], "Health") && !strcmp(ev.categories[2], "Other") &&
	       !ev.categories[3],
	   "categories from a list and from several properties");
	is_int(ev.reminder_minutes, 1440, "TRIGGER:-P1D = 1440 minutes");
	event_free(&ev);
	ok(ev.subject == NULL && ev.categories == NULL, "event_free zeroes the struct");
}

static void test_parse_minimal(void)
{
	static const char utc[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:k\r\n"
	                          "DTSTART:20270104T090000Z\r\nDTEND:20270104T100000Z\r\n"
	                          "TRANSP:TRANSPARENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
	static const char day[] = "BEGIN:VEVENT\r\nUID:k\r\nDTSTART;VALUE=DATE:20270104\r\n"
	                          "SUMMARY:\r\nEND:VEVENT\r\n";
	struct event ev;
	struct error err = {{0}};

	ok(event_from_vevent(utc, &ev, &err) == 0, "a UTC event parses: %s", err.msg);
	is_str(ev.time_zone, "UTC", "Z time -> zone UTC");
	ok(ev.show_as == SHOW_FREE, "no BUSYSTATUS: TRANSP:TRANSPARENT -> free");
	ok(ev.sensitivity == SENS_NORMAL, "no CLASS -> normal");
	ok(ev.body == NULL && ev.reminder_minutes == -1 && ev.categories == NULL,
	   "no DESCRIPTION, no alarm, no categories");
	is_str(ev.subject, "", "no SUMMARY -> empty subject, never NULL");
	event_free(&ev);
	ok(event_from_vevent(day, &ev, &err) == 0, "an all-day event without DTEND parses");
	ok(ev.all_day, "all-day");
	is_str(ev.end, "2027-01-05", "a date without DTEND lasts one day");
	is_str(ev.time_zone, "UTC", "no zone hint -> UTC");
	event_free(&ev);
}

static void test_parse_errors(void)
{
	struct event ev;
	struct error err = {{0}};

	ok(event_from_vevent("garbage", &ev, &err) < 0 && err.msg[0], "garbage: %s", err.msg);
	ok(event_from_vevent("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", &ev, &err) < 0,
	   "no VEVENT: %s", err.msg);
	ok(event_from_vevent("BEGIN:VEVENT\r\nDTSTART:20270104T090000Z\r\nEND:VEVENT\r\n", &ev,
	                     &err) < 0 &&
	       strstr(err.msg, "UID"),
	   "no UID: %s", err.msg);
	ok(event_from_vevent("BEGIN:VEVENT\r\nUID:k\r\nEND:VEVENT\r\n", &ev, &err) < 0 &&
	       strstr(err.msg, "DTSTART"),
	   "no DTSTART: %s", err.msg);
	ok(event_from_vevent("BEGIN:VEVENT\r\nUID:k\r\nDTSTART:20270104T090000Z\r\nEND:VEVENT\r\n",
	                     &ev, &err) < 0 &&
	       strstr(err.msg, "DTEND"),
	   "timed without DTEND: %s", err.msg);
	ok(ev.sync_key == NULL && ev.subject == NULL, "a failed parse leaves the struct zeroed");
	ok(event_from_vevent(NULL, &ev, &err) < 0, "NULL text");
}

static char *cats3[] = {"Leave", "Holiday", "Leave", NULL};
static char *cats2[] = {"Holiday", "Leave", NULL};
static char *cats1[] = {"Leave", NULL};

static struct event base_event(void)
{
	struct event ev = {
	    .sync_key = "k",
	    .subject = "Out of office",
	    .body = NULL,
	    .all_day = false,
	    .start = "2027-03-26T09:00:00",
	    .end = "2027-03-30T13:30:00",
	    .time_zone = "Europe/Riga",
	    .show_as = SHOW_OOF,
	    .sensitivity = SENS_PRIVATE,
	    .categories = cats3,
	    .reminder_minutes = -1,
	};
	return ev;
}

static void test_compare(void)
{
	struct event a = base_event(), b = base_event(), c;
	char diff[128];

	ok(event_owned_equal(&a, &b), "equal events");
	b.categories = cats2;
	ok(event_owned_equal(&a, &b), "categories compare as sets (order, repetition)");
	b.categories = cats1;
	event_owned_diff(&a, &b, diff, sizeof diff);
	is_str(diff, "categories", "a missing category differs");
	b = base_event();
	b.body = "";
	ok(event_owned_equal(&a, &b), "no body == empty body");
	strcpy(b.time_zone, "FLE Standard Time");
	ok(event_owned_equal(&a, &b), "Europe/Riga == FLE Standard Time");
	strcpy(b.time_zone, "Pacific Standard Time");
	b.subject = "Skiing";
	strcpy(b.start, "2027-03-26T10:00:00");
	b.show_as = SHOW_BUSY;
	b.reminder_minutes = 15;
	event_owned_diff(&a, &b, diff, sizeof diff);
	is_str(diff, "subject,start,time_zone,show_as,reminder", "the diff names every field");
	ok(!event_owned_equal(&a, &b), "and they are not equal");
	event_owned_diff(&a, &b, diff, 10);
	ok(strlen(diff) < 10, "a short diff buffer is not overrun");
	b = base_event();
	b.sync_key = "other";
	ok(event_owned_equal(&a, &b), "the sync key is not an owned field");
	b.sensitivity = SENS_PERSONAL;
	b.all_day = true;
	event_owned_diff(&a, &b, diff, sizeof diff);
	is_str(diff, "all_day,sensitivity", "all_day and sensitivity");

	/* an all-day leave on a day without a local midnight is written in UTC by both backends:
	 * read back in UTC, it is no drift; a UTC zone elsewhere still is */
	a = base_event();
	b = base_event();
	a.all_day = b.all_day = true;
	strcpy(a.start, "2027-03-27");
	strcpy(a.end, "2027-03-28");
	strcpy(a.time_zone, "Asia/Beirut");
	strcpy(b.start, "2027-03-27");
	strcpy(b.end, "2027-03-28");
	strcpy(b.time_zone, "UTC");
	ok(event_owned_equal(&a, &b), "all-day Beirut 03-27 == the same dates in UTC");
	strcpy(a.start, "2027-03-29");
	strcpy(a.end, "2027-03-30");
	strcpy(b.start, "2027-03-29");
	strcpy(b.end, "2027-03-30");
	event_owned_diff(&a, &b, diff, sizeof diff);
	is_str(diff, "time_zone", "but Beirut 03-29 moved to UTC is drift");
	a = base_event();

	a.body = "note";
	event_copy(&c, &a);
	ok(c.subject != a.subject && c.categories != a.categories && c.body != a.body,
	   "event_copy copies the strings");
	ok(event_owned_equal(&a, &c) && !strcmp(c.sync_key, "k"), "and the copy is equal");
	event_free(&c);
}

int main(void)
{
	test_names();
	test_parse_foreign();
	test_parse_minimal();
	test_parse_errors();
	test_compare();
	return done_testing();
}
