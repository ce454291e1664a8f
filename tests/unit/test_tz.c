/* engine/tz.c: IANA <-> Windows ids through ICU, wall time <-> Unix time, DST gaps and repeats.
 * Expected Unix times were computed independently with Python's zoneinfo (PEP 495, fold=0). */
#include "engine/tz.h"
#include "tests/unit/tap.h"

#include <string.h>

static void test_known(void)
{
	ok(tz_is_known_iana("UTC"), "UTC is a known zone");
	ok(tz_is_known_iana("Etc/UTC"), "Etc/UTC is a known zone");
	ok(tz_is_known_iana("Europe/Riga"), "Europe/Riga is a known zone");
	ok(tz_is_known_iana("Pacific/Kiritimati"), "Pacific/Kiritimati is a known zone");
	ok(!tz_is_known_iana("Europe/Atlantis"), "Europe/Atlantis is not a zone");
	ok(!tz_is_known_iana("FLE Standard Time"), "a Windows id is not an IANA name");
	ok(!tz_is_known_iana(""), "the empty string is not a zone");
	ok(!tz_is_known_iana(NULL), "NULL is not a zone");
}

static void check_windows(const char *iana, const char *windows)
{
	char out[64] = "";

	ok(tz_windows_from_iana(iana, out, sizeof out) == 0, "%s has a Windows id", iana);
	is_str(out, windows, "%s -> %s", iana, windows);
	out[0] = '\0';
	ok(tz_iana_from_windows(windows, out, sizeof out) == 0, "%s has an IANA id", windows);
	ok(tz_same_zone(out, iana) || tz_same_zone(out, windows), "%s -> %s, the same zone",
	   windows, out);
}

static void test_windows(void)
{
	char out[64];

	check_windows("UTC", "UTC");
	check_windows("America/Los_Angeles", "Pacific Standard Time");
	check_windows("Europe/Riga", "FLE Standard Time");
	check_windows("Asia/Kolkata", "India Standard Time");
	check_windows("Pacific/Kiritimati", "Line Islands Standard Time");
	ok(tz_iana_from_windows("Pacific Standard Time", out, sizeof out) == 0 &&
	       strcmp(out, "America/Los_Angeles") == 0,
	   "Pacific Standard Time -> America/Los_Angeles exactly");
	ok(tz_iana_from_windows("Atlantis Standard Time", out, sizeof out) < 0,
	   "an unknown Windows id has no IANA id");
	ok(tz_windows_from_iana("Europe/Atlantis", out, sizeof out) < 0,
	   "an unknown IANA name has no Windows id");
	ok(tz_windows_from_iana("America/Los_Angeles", out, 5) < 0, "a short buffer is an error");
}

static void test_same_zone(void)
{
	ok(tz_same_zone("UTC", "Etc/UTC"), "UTC == Etc/UTC");
	ok(tz_same_zone("Asia/Kolkata", "Asia/Calcutta"), "Asia/Kolkata == Asia/Calcutta (alias)");
	ok(tz_same_zone("Europe/Riga", "FLE Standard Time"), "Europe/Riga == FLE Standard Time");
	ok(tz_same_zone("fle standard time", "Europe/Riga"),
	   "Windows ids compare case-insensitively");
	ok(tz_same_zone("India Standard Time", "Asia/Kolkata"),
	   "India Standard Time == Asia/Kolkata");
	ok(!tz_same_zone("Europe/Riga", "Europe/Helsinki"), "Riga != Helsinki as IANA names");
	ok(!tz_same_zone("Europe/Riga", "Pacific Standard Time"), "Riga != Pacific Standard Time");
	ok(!tz_same_zone("UTC", "Pacific/Kiritimati"), "UTC != Kiritimati");
	ok(!tz_same_zone("Europe/Riga", NULL), "a zone != NULL");
}

static void check_local(const char *local, const char *zone, int64_t want)
{
	int64_t got = 0;

	ok(tz_local_to_unix(local, zone, &got) == 0, "%s in %s converts", local, zone);
	is_int(got, want, "%s in %s = %lld", local, zone, (long long)want);
}

static void check_back(int64_t t, const char *zone, const char *want)
{
	char out[20] = "";

	ok(tz_unix_to_local(t, zone, out) == 0, "%lld in %s converts", (long long)t, zone);
	is_str(out, want, "%lld in %s = %s", (long long)t, zone, want);
}

static void test_conversions(void)
{
	int64_t t;

	check_local("2027-01-04T09:00", "UTC", 1799053200);
	check_local("2027-01-04T09:00:00", "Etc/UTC", 1799053200);
	check_local("2027-01-04T09:00", "America/Los_Angeles", 1799082000);
	check_local("2027-07-04T09:00", "America/Los_Angeles", 1814716800);
	check_local("2027-01-04T09:00", "Pacific Standard Time", 1799082000);
	check_local("2027-01-04T09:00", "Asia/Kolkata", 1799033400);
	check_local("2027-01-04T09:00", "Pacific/Kiritimati", 1799002800);
	check_local("2027-01-01", "Pacific/Kiritimati", 1798711200);
	/* a leave across the spring change in Riga: 26..30 March 2027, clocks go forward on the
	 * 28th */
	check_local("2027-03-26", "Europe/Riga", 1806012000);
	check_local("2027-03-31", "Europe/Riga", 1806440400);
	is_int(1806440400 - 1806012000, 5 * 86400 - 3600,
	       "that leave is 5 days minus the lost hour");
	/* RFC 5545 3.3.5: a skipped time takes the offset from before the gap */
	check_local("2027-03-28T03:30", "Europe/Riga", 1806197400);
	check_back(1806197400, "Europe/Riga", "2027-03-28T04:30:00");
	check_local("2027-03-14T02:30", "America/Los_Angeles", 1805020200);
	/* a repeated time means its first occurrence (summer time) */
	check_local("2026-10-25T03:30", "Europe/Riga", 1792888200);
	check_back(1792888200, "Europe/Riga", "2026-10-25T03:30:00");
	check_back(1792888200 + 3600, "Europe/Riga", "2026-10-25T03:30:00");

	check_back(1799053200, "UTC", "2027-01-04T09:00:00");
	check_back(1799082000, "America/Los_Angeles", "2027-01-04T09:00:00");
	check_back(1799033400, "India Standard Time", "2027-01-04T09:00:00");
	check_back(1799002800, "Pacific/Kiritimati", "2027-01-04T09:00:00");

	ok(tz_local_to_unix("2027-02-29", "UTC", &t) < 0, "29 February 2027 does not exist");
	ok(tz_local_to_unix("2028-02-29", "UTC", &t) == 0, "29 February 2028 exists");
	ok(tz_local_to_unix("2027-01-04T24:00", "UTC", &t) < 0, "hour 24 is refused");
	ok(tz_local_to_unix("2027-1-4", "UTC", &t) < 0, "a date without leading zeros is refused");
	ok(tz_local_to_unix("2027-01-04 09:00", "UTC", &t) < 0, "a space instead of T is refused");
	ok(tz_local_to_unix("2027-01-04", "Europe/Atlantis", &t) < 0,
	   "an unknown zone is an error");
}

static void test_all_day_zone(void)
{
	is_str(tz_all_day_zone("Europe/Riga", "2027-03-27", "2027-03-29"), "Europe/Riga",
	       "a DST change at 03:00 keeps the zone");
	is_str(tz_all_day_zone("America/Santiago", "2027-09-05", "2027-09-06"), "UTC",
	       "Santiago 2027-09-05 has no midnight: UTC");
	is_str(tz_all_day_zone("America/Santiago", "2027-09-03", "2027-09-07"), "America/Santiago",
	       "a leave across that day keeps its zone");
	is_str(tz_all_day_zone("Asia/Beirut", "2027-03-27", "2027-03-28"), "UTC",
	       "Beirut: the day after the last (03-28) has no midnight: UTC");
	is_str(tz_all_day_zone("Middle East Standard Time", "2027-03-27", "2027-03-28"), "UTC",
	       "the same through the Windows id");
	is_str(tz_all_day_zone("FLE Standard Time", "2027-01-04", "2027-01-05"),
	       "FLE Standard Time", "a Windows id with midnights stays");
	is_str(tz_all_day_zone("Antarctica/Troll", "2027-01-04", "2027-01-05"), "UTC",
	       "an IANA zone without a Windows id: UTC");
	is_str(tz_all_day_zone("Mars/Olympus", "2027-01-04", "2027-01-05"), "Mars/Olympus",
	       "an unknown name is left for the caller to refuse");
	is_str(tz_all_day_zone(NULL, "2027-01-04", "2027-01-05"), "UTC", "no zone: UTC");
}

/* A part-day time in a daylight-saving gap does not exist; one in an overlap exists (twice).
 * Both hemispheres, both ends of the year (2027). */
static void test_gaps(void)
{
	static const struct {
		const char *zone, *local;
		int want;
		const char *from, *to;
	} cases[] = {
	    {"Europe/Berlin", "2027-03-28T02:30", 1, "02:00", "03:00"},
	    {"Europe/Berlin", "2027-03-28T02:00", 1, "02:00", "03:00"},
	    {"Europe/Berlin", "2027-03-28T01:59", 0, "", ""},
	    {"Europe/Berlin", "2027-03-28T03:00", 0, "", ""},
	    {"Europe/Berlin", "2027-10-31T02:30", 0, "", ""}, /* overlap */
	    {"America/New_York", "2027-03-14T02:00", 1, "02:00", "03:00"},
	    {"America/New_York", "2027-03-14T02:59:59", 1, "02:00", "03:00"},
	    {"America/New_York", "2027-11-07T01:30", 0, "", ""}, /* overlap */
	    {"Australia/Sydney", "2027-10-03T02:15", 1, "02:00", "03:00"},
	    {"Australia/Sydney", "2027-04-04T02:30", 0, "", ""}, /* overlap */
	    {"America/Santiago", "2027-09-05T00:30", 1, "00:00", "01:00"},
	    {"America/Santiago", "2027-04-03T23:30", 0, "", ""}, /* overlap */
	    {"UTC", "2027-03-28T02:30", 0, "", ""},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char from[6] = "", to[6] = "";
		int got = tz_local_gap(cases[i].local, cases[i].zone, from, to);
		ok(got == cases[i].want && (got == 0 || (strcmp(from, cases[i].from) == 0 &&
		                                         strcmp(to, cases[i].to) == 0)),
		   "%s %s: %s (got %d %s..%s)", cases[i].zone, cases[i].local,
		   cases[i].want ? "in a gap" : "exists", got, from, to);
	}
	/* the repeated hour means its first occurrence, in both hemispheres */
	check_local("2027-10-31T02:30", "Europe/Berlin", 1824942600);    /* 00:30Z, CEST */
	check_local("2027-11-07T01:30", "America/New_York", 1825565400); /* 05:30Z, EDT */
	check_local("2027-04-04T02:30", "Australia/Sydney", 1806766200); /* 15:30Z, AEDT */
	check_local("2027-04-03T23:30", "America/Santiago", 1806805800); /* 02:30Z, -03 */
	ok(tz_local_gap("2027-03-28", "Europe/Berlin", (char[6]){0}, (char[6]){0}) < 0,
	   "a date alone is not a local time: -1");
}

int main(void)
{
	test_known();
	test_windows();
	test_same_zone();
	test_conversions();
	test_all_day_zone();
	test_gaps();
	return done_testing();
}
