/* [push]: the full snapshot's safety valve (docs/config.md, docs/store.md "Full snapshots"). */
#include "engine/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int config_set_push(struct config *cfg, const char *key, const char *value, char *why, size_t len)
{
	char *end;

	errno = 0;
	if (strcmp(key, "snapshot_max_cancel") == 0) {
		double d = strtod(value, &end);

		if (errno || end == value || *end || !(d >= 0.0 && d <= 1.0)) {
			snprintf(
			    why, len,
			    "[push] snapshot_max_cancel = %s: expected a share from 0 to 1, e.g. "
			    "0.5 (a snapshot may cancel at most this share of its scope's "
			    "approved leave without --force)",
			    value);
			return -1;
		}
		cfg->snapshot_max_cancel = d;
		return 0;
	}
	if (strcmp(key, "snapshot_min_cancel") == 0) {
		long n = strtol(value, &end, 10);

		if (errno || end == value || *end || n < 0 || n > 1000000) {
			snprintf(
			    why, len,
			    "[push] snapshot_min_cancel = %s: expected a whole number from 0 to "
			    "1000000",
			    value);
			return -1;
		}
		cfg->snapshot_min_cancel = (int)n;
		return 0;
	}
	snprintf(
	    why, len,
	    "unknown key \"%s\" in [push]: expected snapshot_max_cancel or snapshot_min_cancel",
	    key);
	return -1;
}
