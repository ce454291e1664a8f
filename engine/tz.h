/* Time zones: IANA names (the store and VEVENTs) and Windows ids (EWS, Graph) through ICU, never a
 * hand-written table. */
#ifndef ENGINE_TZ_H
#define ENGINE_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool tz_is_known_iana(const char *iana);
/* "Europe/Riga" -> "FLE Standard Time". Returns 0, or -1 when ICU knows no Windows id for it. */
int tz_windows_from_iana(const char *iana, char *out, size_t outlen);
/* "FLE Standard Time" -> "Europe/Riga" (the CLDR golden zone, region 001). */
int tz_iana_from_windows(const char *windows, char *out, size_t outlen);
/* Local wall time "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]" in zone -> Unix seconds (UTC). */
int tz_local_to_unix(const char *local, const char *zone, int64_t *out);
/* Whether local wall time "YYYY-MM-DDTHH:MM[:SS]" exists in zone: 0 it does (once, or twice in
 * an hour the clocks go back: then tz_local_to_unix means the first); 1 it falls in a gap (the
 * clocks go forward), and from/to get the wall times "HH:MM" they jump between; -1 bad input. */
int tz_local_gap(const char *local, const char *zone, char from[6], char to[6]);
/* Unix seconds -> local wall time "YYYY-MM-DDTHH:MM:SS" in zone (IANA or Windows id). */
int tz_unix_to_local(int64_t t, const char *zone, char out[20]);
/* True when two names (IANA or Windows) denote the same zone. */
bool tz_same_zone(const char *a, const char *b);

/* The zone an all-day event from first_day to end_day ("YYYY-MM-DD", end exclusive) is written in:
 * zone (IANA or Windows; an unknown name is returned as it is, for the caller to refuse), or "UTC"
 * when zone is an IANA name without a Windows id or when first_day or end_day has no
 * local midnight in it (the clocks jump from 23:59:59 to 01:00: America/Santiago 2027-09-05,
 * Asia/Beirut 2027-03-28). Graph and Exchange anchor all-day events at midnights of one zone, so a
 * midnight that does not exist cannot be written; midnight to midnight in UTC keeps the same dates
 * (docs/store.md, "Dates"). Borrowed: zone itself or a static "UTC". */
const char *tz_all_day_zone(const char *zone, const char *first_day, const char *end_day);

#endif
