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

#endif
