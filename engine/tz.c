/* Time zones through ICU: IANA <-> Windows ids (CLDR's windowsZones data, as ICU ships it), wall
 * time <-> Unix time. Safe from any thread: the memos below are per thread or locked. */
#include "engine/tz.h"

#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define TZ_UMAX 128

/* ASCII char* -> UChar[]; zone ids are ASCII. Returns -1 when too long or not ASCII. */
static int to_uchars(const char *s, UChar *out, size_t outlen)
{
	size_t n = strlen(s);

	if (n == 0 || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return -1;
		out[i] = (UChar)s[i];
	}
	out[n] = 0;
	return 0;
}

static int from_uchars(const UChar *s, int32_t n, char *out, size_t outlen)
{
	if (n <= 0 || (size_t)n >= outlen)
		return -1;
	for (int32_t i = 0; i < n; i++) {
		if (s[i] >= 0x80)
			return -1;
		out[i] = (char)s[i];
	}
	out[n] = '\0';
	return 0;
}

/* The canonical ICU id of a system (IANA) zone id, or -1 when ICU does not know it as a system id
 * (Windows ids and custom "GMT+5" ids are not system ids). */
static int canonical_iana(const char *iana, char *out, size_t outlen)
{
	UChar id[TZ_UMAX], canon[TZ_UMAX];
	UErrorCode status = U_ZERO_ERROR;
	UBool system_id = 0;
	int32_t n;

	if (!iana || to_uchars(iana, id, TZ_UMAX) < 0)
		return -1;
	n = ucal_getCanonicalTimeZoneID(id, -1, canon, TZ_UMAX, &system_id, &status);
	if (U_FAILURE(status) || !system_id)
		return -1;
	return from_uchars(canon, n, out, outlen);
}

/* ICU's Windows <-> IANA lookups walk resource bundles (a sixth of a sync's CPU when asked per
 * event); a sync meets a handful of zones, so each thread memoizes the answers. The mapping is a
 * pure function of the ICU data, so this cache is the one piece of static state it is safe to keep.
 */
struct tz_memo {
	char key[64];
	char val[64];
	int rc;
};

#define TZ_MEMO 32
static _Thread_local struct tz_memo memo_to_windows[TZ_MEMO], memo_to_iana[TZ_MEMO],
    memo_canonical[TZ_MEMO];
static _Thread_local unsigned memo_to_windows_next, memo_to_iana_next, memo_canonical_next;

static int canonical_iana_lookup(const char *iana, char *out, size_t outlen)
{
	char canon[TZ_UMAX];

	if (canonical_iana(iana, canon, sizeof canon) < 0)
		return -1;
	return strlcpy_checked(out, canon, outlen);
}

static int memo_get(const struct tz_memo *m, const char *key, char *out, size_t outlen, int *rc)
{
	for (int i = 0; i < TZ_MEMO; i++) {
		if (m[i].key[0] && strcmp(m[i].key, key) == 0) {
			*rc = m[i].rc;
			if (*rc == 0 && strlcpy_checked(out, m[i].val, outlen) < 0)
				*rc = -1;
			return 1;
		}
	}
	return 0;
}

static void memo_put(struct tz_memo *m, unsigned *next, const char *key, const char *val, int rc)
{
	struct tz_memo *e = &m[(*next)++ % TZ_MEMO];

	if (strlen(key) >= sizeof e->key || (rc == 0 && strlen(val) >= sizeof e->val))
		return;
	strcpy(e->key, key);
	strcpy(e->val, rc == 0 ? val : "");
	e->rc = rc;
}

static int windows_from_iana_uncached(const char *iana, char *out, size_t outlen)
{
	UChar id[TZ_UMAX], win[TZ_UMAX];
	UErrorCode status = U_ZERO_ERROR;
	int32_t n;

	if (to_uchars(iana, id, TZ_UMAX) < 0)
		return -1;
	n = ucal_getWindowsTimeZoneID(id, -1, win, TZ_UMAX, &status);
	if (U_FAILURE(status) || n <= 0)
		return -1;
	return from_uchars(win, n, out, outlen);
}

static int iana_from_windows_uncached(const char *windows, char *out, size_t outlen)
{
	UChar id[TZ_UMAX], iana[TZ_UMAX];
	UErrorCode status = U_ZERO_ERROR;
	int32_t n;

	if (to_uchars(windows, id, TZ_UMAX) < 0)
		return -1;
	/* region NULL: the "001" golden zone of the Windows id */
	n = ucal_getTimeZoneIDForWindowsID(id, -1, NULL, iana, TZ_UMAX, &status);
	if (U_FAILURE(status) || n <= 0)
		return -1;
	return from_uchars(iana, n, out, outlen);
}

static int memoized(struct tz_memo *m, unsigned *next, const char *key,
                    int (*lookup)(const char *, char *, size_t), char *out, size_t outlen)
{
	char val[64] = "";
	int rc;

	if (!key)
		return -1;
	if (memo_get(m, key, out, outlen, &rc))
		return rc;
	rc = lookup(key, val, sizeof val);
	memo_put(m, next, key, val, rc);
	if (rc == 0 && strlcpy_checked(out, val, outlen) < 0)
		return -1;
	return rc;
}

/* canonical_iana through the memo: a sync asks it for every event (render, zone comparisons), a
 * push for every record. */
static int canonical_iana_memo(const char *iana, char *out, size_t outlen)
{
	return memoized(memo_canonical, &memo_canonical_next, iana, canonical_iana_lookup, out,
	                outlen);
}

bool tz_is_known_iana(const char *iana)
{
	char canon[64];

	return canonical_iana_memo(iana, canon, sizeof canon) == 0;
}

int tz_windows_from_iana(const char *iana, char *out, size_t outlen)
{
	return memoized(memo_to_windows, &memo_to_windows_next, iana, windows_from_iana_uncached,
	                out, outlen);
}

int tz_iana_from_windows(const char *windows, char *out, size_t outlen)
{
	return memoized(memo_to_iana, &memo_to_iana_next, windows, iana_from_windows_uncached, out,
	                outlen);
}

/* An IANA id for zone, which may be IANA already or a Windows id. */
static int resolve_iana(const char *zone, char *out, size_t outlen)
{
	if (tz_is_known_iana(zone))
		return strlcpy_checked(out, zone, outlen);
	return tz_iana_from_windows(zone, out, outlen);
}

/* A Gregorian calendar in zone. Wall times that do not exist (the hour skipped when clocks go
 * forward) and that exist twice (the hour repeated when they go back) resolve as RFC 5545 section
 * 3.3.5 says: a skipped time uses the UTC offset from before the gap (02:30 in a 02:00->03:00 gap
 * becomes 03:30), a repeated time means its first occurrence. */
static UCalendar *open_calendar(const char *zone)
{
	char iana[TZ_UMAX];
	UChar id[TZ_UMAX];
	UErrorCode status = U_ZERO_ERROR;
	UCalendar *cal;

	if (!zone || resolve_iana(zone, iana, sizeof iana) < 0 || to_uchars(iana, id, TZ_UMAX) < 0)
		return NULL;
	cal = ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &status);
	if (U_FAILURE(status))
		return NULL;
	/* lenient: the wall-time options below apply only to a lenient calendar (a strict one
	 * fails) */
	ucal_setAttribute(cal, UCAL_LENIENT, 1);
	ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_LAST);
	ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
	return cal;
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]" into fields; -1 when malformed. */
static int parse_local(const char *s, int f[6])
{
	size_t n = strlen(s);

	memset(f, 0, 6 * sizeof f[0]);
	if (n != 10 && n != 16 && n != 19)
		return -1;
	if (s[4] != '-' || s[7] != '-')
		return -1;
	f[0] = digits(s, 4);
	f[1] = digits(s + 5, 2);
	f[2] = digits(s + 8, 2);
	if (n >= 16) {
		if (s[10] != 'T' || s[13] != ':')
			return -1;
		f[3] = digits(s + 11, 2);
		f[4] = digits(s + 14, 2);
	}
	if (n == 19) {
		if (s[16] != ':')
			return -1;
		f[5] = digits(s + 17, 2);
	}
	for (int i = 0; i < 6; i++)
		if (f[i] < 0)
			return -1;
	return 0;
}

static bool valid_fields(const int f[6])
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (f[0] % 4 == 0 && f[0] % 100 != 0) || f[0] % 400 == 0;

	if (f[0] < 1 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > mdays[f[1] - 1])
		return false;
	if (f[1] == 2 && f[2] == 29 && !leap)
		return false;
	return f[3] <= 23 && f[4] <= 59 && f[5] <= 59;
}

/* ucal_open (locale and zone data) costs far more than the conversion itself, and a run meets a
 * handful of zones: the calendars are opened once per zone name and kept for the process (a pure
 * function of the ICU data), each used under the lock (a UCalendar is not thread-safe). A zone past
 * the cache's size gets a calendar of its own per call, as before. */
#define CAL_MEMO 32
static struct {
	pthread_mutex_t mu;
	char zone[CAL_MEMO][64];
	UCalendar *cal[CAL_MEMO];
	int n;
} cal_memo = {PTHREAD_MUTEX_INITIALIZER, {{0}}, {0}, 0};

/* A calendar for zone, or NULL. *kept: it is the memo's, and cal_memo.mu is held until
 * release_calendar; otherwise it is the caller's own, closed by release_calendar. */
static UCalendar *acquire_calendar(const char *zone, bool *kept)
{
	UCalendar *cal;

	*kept = false;
	if (!zone)
		return NULL;
	pthread_mutex_lock(&cal_memo.mu);
	for (int i = 0; i < cal_memo.n; i++) {
		if (strcmp(cal_memo.zone[i], zone) == 0) {
			*kept = true;
			return cal_memo.cal[i];
		}
	}
	cal = open_calendar(zone);
	if (cal && cal_memo.n < CAL_MEMO && strlen(zone) < sizeof cal_memo.zone[0]) {
		strcpy(cal_memo.zone[cal_memo.n], zone);
		cal_memo.cal[cal_memo.n++] = cal;
		*kept = true;
		return cal;
	}
	pthread_mutex_unlock(&cal_memo.mu);
	return cal;
}

static void release_calendar(UCalendar *cal, bool kept)
{
	if (kept)
		pthread_mutex_unlock(&cal_memo.mu);
	else
		ucal_close(cal);
}

int tz_local_to_unix(const char *local, const char *zone, int64_t *out)
{
	int f[6];
	UErrorCode status = U_ZERO_ERROR;
	UCalendar *cal;
	UDate ms;
	bool kept;

	if (!local || parse_local(local, f) < 0)
		return -1;
	if (!valid_fields(f))
		return -1;
	cal = acquire_calendar(zone, &kept);
	if (!cal)
		return -1;
	ucal_clear(cal);
	ucal_setDateTime(cal, f[0], f[1] - 1, f[2], f[3], f[4], f[5], &status);
	ms = ucal_getMillis(cal, &status);
	release_calendar(cal, kept);
	if (U_FAILURE(status))
		return -1;
	*out = (int64_t)(ms / 1000.0);
	return 0;
}

int tz_unix_to_local(int64_t t, const char *zone, char out[20])
{
	UErrorCode status = U_ZERO_ERROR;
	bool kept;
	UCalendar *cal = acquire_calendar(zone, &kept);
	int f[6];

	if (!cal)
		return -1;
	ucal_clear(cal);
	ucal_setMillis(cal, (UDate)t * 1000.0, &status);
	f[0] = ucal_get(cal, UCAL_EXTENDED_YEAR, &status);
	f[1] = ucal_get(cal, UCAL_MONTH, &status) + 1;
	f[2] = ucal_get(cal, UCAL_DATE, &status);
	f[3] = ucal_get(cal, UCAL_HOUR_OF_DAY, &status);
	f[4] = ucal_get(cal, UCAL_MINUTE, &status);
	f[5] = ucal_get(cal, UCAL_SECOND, &status);
	release_calendar(cal, kept);
	if (U_FAILURE(status) || f[0] < 0 || f[0] > 9999)
		return -1;
	snprintf(out, 20, "%04d-%02d-%02dT%02d:%02d:%02d", f[0], f[1], f[2], f[3], f[4], f[5]);
	return 0;
}

/* Midnight at the start of date ("YYYY-MM-DD") exists in the IANA zone. */
static bool has_local_midnight(const char *date, const char *iana)
{
	char local[20], back[20];
	int64_t t;

	if (strlen(date) < 10)
		return false;
	snprintf(local, sizeof local, "%.10sT00:00:00", date);
	return tz_local_to_unix(local, iana, &t) == 0 && tz_unix_to_local(t, iana, back) == 0 &&
	       strcmp(back, local) == 0;
}

const char *tz_all_day_zone(const char *zone, const char *first_day, const char *end_day)
{
	char windows[TZ_UMAX], iana[TZ_UMAX];

	if (!zone || !*zone || strcasecmp(zone, "UTC") == 0)
		return "UTC";
	if (tz_is_known_iana(zone)) {
		if (tz_windows_from_iana(zone, windows, sizeof windows) < 0 ||
		    strlcpy_checked(iana, zone, sizeof iana) < 0)
			return "UTC";
	} else if (tz_iana_from_windows(zone, iana, sizeof iana) < 0) {
		return zone; /* neither an IANA name nor a Windows id: the caller refuses it */
	}
	if (!first_day || !end_day || !has_local_midnight(first_day, iana) ||
	    !has_local_midnight(end_day, iana))
		return "UTC";
	return zone;
}

int tz_local_gap(const char *local, const char *zone, char from[6], char to[6])
{
	char want[20], back[20], before[20];
	UErrorCode status = U_ZERO_ERROR;
	UDate transition = 0;
	UBool found;
	UCalendar *cal;
	int64_t t;
	bool kept;

	if (!local || (strlen(local) != 16 && strlen(local) != 19) ||
	    tz_local_to_unix(local, zone, &t) < 0 || tz_unix_to_local(t, zone, back) < 0)
		return -1;
	snprintf(want, sizeof want, "%s%s", local, strlen(local) == 16 ? ":00" : "");
	if (strcmp(want, back) == 0)
		return 0;
	/* A skipped time was read with the offset from before the gap, so t lies after the
	 * transition; the transition is the last one at or before t. */
	if (!(cal = acquire_calendar(zone, &kept)))
		return -1;
	ucal_setMillis(cal, (UDate)t * 1000.0, &status);
	found = ucal_getTimeZoneTransitionDate(cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE,
	                                       &transition, &status);
	release_calendar(cal, kept);
	if (U_FAILURE(status) || !found ||
	    tz_unix_to_local((int64_t)(transition / 1000.0) - 60, zone, before) < 0 ||
	    tz_unix_to_local((int64_t)(transition / 1000.0), zone, back) < 0)
		return -1;
	/* the minute before the transition, plus one: where the clock would have gone */
	{
		int h = atoi(before + 11), m = atoi(before + 14) + 1;
		h = (h + m / 60) % 24;
		snprintf(from, 6, "%02d:%02d", h, m % 60);
	}
	snprintf(to, 6, "%.5s", back + 11);
	return 1;
}

/* Two IANA names compare by their ICU canonical ids (Asia/Kolkata == Asia/Calcutta). When either
 * side is a Windows id, both sides compare as Windows ids: a Windows id stands for several IANA
 * zones ("FLE Standard Time" is Riga, Kyiv, Helsinki...), and a service that answers with the
 * Windows id of the zone we wrote has not changed the zone. */
bool tz_same_zone(const char *a, const char *b)
{
	char ca[TZ_UMAX], cb[TZ_UMAX];

	if (!a || !b)
		return a == b;
	if (strcasecmp(a, b) == 0)
		return true;
	if (canonical_iana_memo(a, ca, sizeof ca) == 0 &&
	    canonical_iana_memo(b, cb, sizeof cb) == 0)
		return strcmp(ca, cb) == 0;
	if (tz_is_known_iana(a) ? tz_windows_from_iana(a, ca, sizeof ca) < 0
	                        : strlcpy_checked(ca, a, sizeof ca) < 0)
		return false;
	if (tz_is_known_iana(b) ? tz_windows_from_iana(b, cb, sizeof cb) < 0
	                        : strlcpy_checked(cb, b, sizeof cb) < 0)
		return false;
	return strcasecmp(ca, cb) == 0;
}
