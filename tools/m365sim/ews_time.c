/* xs:dateTime values and Windows time zones for the EWS simulator. Exchange stores UTC and
 * interprets a zone-less value in StartTimeZone / EndTimeZone / TimeZoneContext or UTC
 * ([EWS time-zones-and-ews-in-exchange]). Windows zone ids are resolved with ICU's copy of CLDR
 * windowsZones (ucal_getTimeZoneIDForWindowsID): an id it does not know is what Exchange answers
 * with ErrorCalendarInvalidTimeZone. */
#include "tools/m365sim/ews_int.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const int64_t yoe = y - era * 400;
	const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const int64_t doe = z - era * 146097;
	const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int ews_parse_datetime(const char *s, int64_t *utc, bool *has_zone)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 60)
		return -1;
	const char *p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	*has_zone = false;
	if (*p == 'Z') {
		*has_zone = true;
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		int64_t off = oh * 3600 + om * 60;
		t -= *p == '+' ? off : -off;
		*has_zone = true;
		p += 6;
	}
	if (*p)
		return -1;
	*utc = t;
	return 0;
}

void ews_format_utc(char out[32], int64_t t)
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t rem = t - days * 86400, y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, (int)(rem / 3600),
	         (int)(rem % 3600 / 60), (int)(rem % 60));
}

/* ICU calendars by Windows zone id, for one request: opening one costs far more than using it. */
#define TZ_CACHE 8
struct ews_tz {
	struct {
		char id[128];
		UCalendar *cal; /* NULL: ICU does not know the id */
	} e[TZ_CACHE];
	size_t n, next;
};

struct ews_tz *ews_tz_new(void)
{
	return xcalloc(1, sizeof(struct ews_tz));
}

void ews_tz_free(struct ews_tz *tz)
{
	if (!tz)
		return;
	for (size_t i = 0; i < tz->n; i++)
		if (tz->e[i].cal)
			ucal_close(tz->e[i].cal);
	free(tz);
}

/* Opens an ICU calendar in the IANA zone CLDR maps the Windows id to ("001" territory). */
static UCalendar *open_zone(const char *windows_id)
{
	UChar win[128], iana[128];
	UErrorCode st = U_ZERO_ERROR;
	if (!windows_id || strlen(windows_id) >= sizeof win / sizeof win[0])
		return NULL;
	u_uastrcpy(win, windows_id);
	int32_t n = ucal_getTimeZoneIDForWindowsID(win, -1, NULL, iana, 128, &st);
	if (U_FAILURE(st) || n <= 0)
		return NULL;
	UCalendar *cal = ucal_open(iana, n, "en_US", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st)) {
		if (cal)
			ucal_close(cal);
		return NULL;
	}
	return cal;
}

static UCalendar *zone(struct ews_tz *tz, const char *windows_id)
{
	if (!windows_id || strlen(windows_id) >= sizeof tz->e[0].id)
		return NULL;
	for (size_t i = 0; i < tz->n; i++)
		if (strcmp(tz->e[i].id, windows_id) == 0)
			return tz->e[i].cal;
	size_t slot = tz->n < TZ_CACHE ? tz->n++ : tz->next++ % TZ_CACHE;
	if (tz->e[slot].cal)
		ucal_close(tz->e[slot].cal);
	snprintf(tz->e[slot].id, sizeof tz->e[slot].id, "%s", windows_id);
	tz->e[slot].cal = open_zone(windows_id);
	return tz->e[slot].cal;
}

bool ews_tz_known(struct ews_tz *tz, const char *windows_id)
{
	return zone(tz, windows_id) != NULL;
}

int ews_local_to_utc(struct ews_tz *tz, const char *windows_id, int64_t wall, int64_t *utc)
{
	if (windows_id && strcmp(windows_id, "UTC") == 0) {
		*utc = wall;
		return 0;
	}
	UCalendar *cal = zone(tz, windows_id);
	if (!cal)
		return -1;
	int64_t days = wall >= 0 ? wall / 86400 : -((-wall + 86399) / 86400);
	int64_t rem = wall - days * 86400, y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	UErrorCode st = U_ZERO_ERROR;
	ucal_clear(cal);
	ucal_setDateTime(cal, (int32_t)y, m - 1, d, (int32_t)(rem / 3600),
	                 (int32_t)(rem % 3600 / 60), (int32_t)(rem % 60), &st);
	UDate ms = ucal_getMillis(cal, &st);
	if (U_FAILURE(st))
		return -1;
	*utc = (int64_t)(ms / 1000.0);
	return 0;
}

int ews_utc_to_local(struct ews_tz *tz, const char *windows_id, int64_t utc, int64_t *wall)
{
	if (windows_id && strcmp(windows_id, "UTC") == 0) {
		*wall = utc;
		return 0;
	}
	UCalendar *cal = zone(tz, windows_id);
	if (!cal)
		return -1;
	UErrorCode st = U_ZERO_ERROR;
	ucal_setMillis(cal, (UDate)utc * 1000.0, &st);
	int32_t off = ucal_get(cal, UCAL_ZONE_OFFSET, &st) + ucal_get(cal, UCAL_DST_OFFSET, &st);
	if (U_FAILURE(st))
		return -1;
	*wall = utc + off / 1000;
	return 0;
}
