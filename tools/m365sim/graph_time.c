/* m365sim Graph view: time zones (Windows or IANA names, through ICU) and date-time text.
 * dateTimeTimeZone.timeZone accepts "any of the time zones supported by Windows, as well as" IANA
 * names [doc: GRAPH resources/datetimetimezone]; the item stores the Windows id. */
#include "graph.h"

#include "common/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define ZONE_MAX 128

static int copy_out(const UChar *u, int32_t n, char *out, size_t outsz)
{
	if (n <= 0 || (size_t)n >= outsz || n >= ZONE_MAX)
		return -1;
	u_austrncpy(out, u, (int32_t)outsz - 1);
	out[n] = '\0';
	return 0;
}

int graph_tz_resolve(const char *name, char *win, size_t winsz, char *iana, size_t ianasz)
{
	UChar in[ZONE_MAX], res[ZONE_MAX];
	UErrorCode e = U_ZERO_ERROR;
	if (!name || !*name || strlen(name) >= ZONE_MAX)
		return -1;
	u_uastrncpy(in, name, ZONE_MAX);
	int32_t n = ucal_getTimeZoneIDForWindowsID(in, -1, NULL, res, ZONE_MAX, &e);
	if (U_SUCCESS(e) && n > 0) {
		if (strlcpy_checked(win, name, winsz) < 0)
			return -1;
		return copy_out(res, n, iana, ianasz);
	}
	/* not a Windows id: an IANA name known to ICU that has a Windows equivalent */
	UBool is_system = 0;
	e = U_ZERO_ERROR;
	n = ucal_getCanonicalTimeZoneID(in, -1, res, ZONE_MAX, &is_system, &e);
	if (U_FAILURE(e) || n <= 0 || !is_system)
		return -1;
	e = U_ZERO_ERROR;
	n = ucal_getWindowsTimeZoneID(in, -1, res, ZONE_MAX, &e);
	if (U_FAILURE(e) || n <= 0)
		return -1;
	if (copy_out(res, n, win, winsz) < 0)
		return -1;
	return strlcpy_checked(iana, name, ianasz);
}

/* ucal_open (locale data, zone rules) was a third of the simulator's Graph CPU, called for every
 * conversion: calendars are kept per zone for the life of the process (a pure function of the ICU
 * data, never freed) and used under a lock (a UCalendar is not thread-safe). A zone past the
 * cache's size gets a calendar of its own per call. */
#define CAL_CACHE 64
static struct {
	pthread_mutex_t mu;
	char zone[CAL_CACHE][ZONE_MAX];
	UCalendar *cal[CAL_CACHE];
	int n;
} cal_cache = {PTHREAD_MUTEX_INITIALIZER, {{0}}, {0}, 0};

static UCalendar *open_cal(const char *iana);

/* A calendar for iana; *kept: the cache's, with cal_cache.mu held until release_cal. */
static UCalendar *acquire_cal(const char *iana, bool *kept)
{
	UCalendar *cal;

	*kept = false;
	pthread_mutex_lock(&cal_cache.mu);
	for (int i = 0; i < cal_cache.n; i++) {
		if (strcmp(cal_cache.zone[i], iana) == 0) {
			*kept = true;
			return cal_cache.cal[i];
		}
	}
	cal = open_cal(iana);
	if (cal && cal_cache.n < CAL_CACHE && strlen(iana) < ZONE_MAX) {
		strcpy(cal_cache.zone[cal_cache.n], iana);
		cal_cache.cal[cal_cache.n++] = cal;
		*kept = true;
		return cal;
	}
	pthread_mutex_unlock(&cal_cache.mu);
	return cal;
}

static void release_cal(UCalendar *cal, bool kept)
{
	if (kept)
		pthread_mutex_unlock(&cal_cache.mu);
	else
		ucal_close(cal);
}

static UCalendar *open_cal(const char *iana)
{
	UChar zone[ZONE_MAX];
	UErrorCode e = U_ZERO_ERROR;
	u_uastrncpy(zone, iana, ZONE_MAX);
	UCalendar *cal = ucal_open(zone, -1, "en_US", UCAL_GREGORIAN, &e);
	if (U_FAILURE(e)) {
		if (cal)
			ucal_close(cal);
		return NULL;
	}
	/* a pure Gregorian calendar: no Julian switch for early dates */
	e = U_ZERO_ERROR;
	ucal_setGregorianChange(cal, -8.64e15, &e);
	return cal;
}

int graph_local_to_utc(const char *iana, int y, int mo, int d, int h, int mi, int sec, int64_t *out)
{
	bool kept;
	UCalendar *cal = acquire_cal(iana, &kept);
	UErrorCode e = U_ZERO_ERROR;
	if (!cal)
		return -1;
	ucal_clear(cal);
	ucal_setDateTime(cal, y, mo - 1, d, h, mi, sec, &e);
	UDate ms = ucal_getMillis(cal, &e);
	release_cal(cal, kept);
	if (U_FAILURE(e))
		return -1;
	*out = (int64_t)(ms / 1000.0);
	return 0;
}

int graph_utc_to_local(const char *iana, int64_t t, int *y, int *mo, int *d, int *h, int *mi,
                       int *sec)
{
	bool kept;
	UCalendar *cal = acquire_cal(iana, &kept);
	UErrorCode e = U_ZERO_ERROR;
	if (!cal)
		return -1;
	ucal_clear(cal);
	ucal_setMillis(cal, (UDate)t * 1000.0, &e);
	*y = ucal_get(cal, UCAL_YEAR, &e);
	if (ucal_get(cal, UCAL_ERA, &e) == 0)
		*y = 1 - *y;
	*mo = ucal_get(cal, UCAL_MONTH, &e) + 1;
	*d = ucal_get(cal, UCAL_DATE, &e);
	*h = ucal_get(cal, UCAL_HOUR_OF_DAY, &e);
	*mi = ucal_get(cal, UCAL_MINUTE, &e);
	*sec = ucal_get(cal, UCAL_SECOND, &e);
	release_cal(cal, kept);
	return U_FAILURE(e) ? -1 : 0;
}

/* Parses "YYYY-MM-DDTHH:MM:SS" and an optional ".fraction"; returns the rest of the text. */
static const char *parse_fields(const char *s, int *y, int *mo, int *d, int *h, int *mi, int *sec)
{
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", y, mo, d, h, mi, sec, &n) != 6 || n != 19)
		return NULL;
	if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *sec > 59 ||
	    *h < 0 || *mi < 0 || *sec < 0)
		return NULL;
	s += n;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return s;
}

int graph_parse_local(const char *s, int *y, int *mo, int *d, int *h, int *mi, int *sec)
{
	const char *rest = s ? parse_fields(s, y, mo, d, h, mi, sec) : NULL;
	if (!rest)
		return -1;
	/* dateTime is local time in timeZone; a trailing Z is tolerated, an offset is not */
	return (*rest == '\0' || strcmp(rest, "Z") == 0) ? 0 : -1;
}

int graph_parse_instant(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, n = 0;
	const char *rest = s ? parse_fields(s, &y, &mo, &d, &h, &mi, &sec) : NULL;
	if (!rest)
		return -1;
	int sign = 0;
	if (*rest == '+' || *rest == '-') {
		sign = *rest == '+' ? 1 : -1;
		if (sscanf(rest + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || rest[1 + n] != '\0')
			return -1;
	} else if (*rest != '\0' && strcmp(rest, "Z") != 0) {
		return -1;
	}
	if (graph_local_to_utc("Etc/UTC", y, mo, d, h, mi, sec, out) < 0)
		return -1;
	*out -= (int64_t)sign * (oh * 3600 + om * 60);
	return 0;
}

void graph_format_utc(char out[32], int64_t t)
{
	int y, mo, d, h, mi, sec;
	if (graph_utc_to_local("Etc/UTC", t, &y, &mo, &d, &h, &mi, &sec) < 0) {
		strcpy(out, "0001-01-01T00:00:00Z");
		return;
	}
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, sec);
}
