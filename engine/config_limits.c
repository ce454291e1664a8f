/* [limits]: every size leavesync accepts from outside and every wait, with their defaults and
 * ranges (docs/config.md, "[limits]"). Part of the config module: config.c hands the keys of the
 * section here. */
#include "engine/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

void config_limits_defaults(struct config_limits *l)
{
	memset(l, 0, sizeof *l);
	l->http.connect_timeout_ms = HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	l->http.timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
	l->http.low_speed_bytes = HTTP_DEFAULT_LOW_SPEED_BYTES;
	l->http.low_speed_seconds = HTTP_DEFAULT_LOW_SPEED_SECONDS;
	l->http.max_response_bytes = HTTP_DEFAULT_MAX_RESPONSE;
	l->http.response_budget_bytes = HTTP_DEFAULT_RESPONSE_BUDGET;
	l->push_bytes = CONFIG_DEFAULT_PUSH_BYTES;
	l->push_records = CONFIG_DEFAULT_PUSH_RECORDS;
}

/* "512", "64K", "16M", "2G" (binary multiples) -> bytes. */
static int parse_size(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n;
	uint64_t unit = 1;

	errno = 0;
	if (*v < '0' || *v > '9')
		return -1;
	n = strtoull(v, &end, 10);
	if (errno)
		return -1;
	if (*end && !end[1])
		unit = strchr("kK", *end)   ? KIB
		       : strchr("mM", *end) ? MIB
		       : strchr("gG", *end) ? GIB
		                            : 0;
	else if (*end)
		unit = 0;
	if (!unit || n > UINT64_MAX / unit)
		return -1;
	*out = (uint64_t)n * unit;
	return 0;
}

static int parse_whole(const char *v, long *out)
{
	char *end;
	long n;

	errno = 0;
	if (*v < '0' || *v > '9')
		return -1;
	n = strtol(v, &end, 10);
	if (errno || *end)
		return -1;
	*out = n;
	return 0;
}

struct size_key {
	const char *name;
	uint64_t min, max;
	const char *min_text, *max_text;
};

static int set_size(const struct size_key *k, const char *v, size_t *dst, char *why, size_t len)
{
	uint64_t n;

	if (parse_size(v, &n) < 0 || n < k->min || n > k->max) {
		snprintf(why, len,
		         "[limits] %s = %s: expected a size from %s to %s, in bytes or with K, M "
		         "or G (e.g. 16M)",
		         k->name, v, k->min_text, k->max_text);
		return -1;
	}
	*dst = (size_t)n;
	return 0;
}

/* A whole number of `unit` from min to max, stored times scale (seconds -> ms). */
static int set_number(const char *name, const char *v, long min, long max, const char *unit,
                      long scale, long *dst, char *why, size_t len)
{
	long n;

	if (parse_whole(v, &n) < 0 || n < min || n > max) {
		snprintf(why, len, "[limits] %s = %s: expected whole %s from %ld to %ld", name, v,
		         unit, min, max);
		return -1;
	}
	*dst = n * scale;
	return 0;
}

int config_limits_set(struct config_limits *l, const char *key, const char *v, char *why,
                      size_t len)
{
	static const struct size_key push_size = {"push_size", KIB, 4 * GIB, "1K", "4G"};
	static const struct size_key response_size = {"response_size", 64 * KIB, GIB, "64K", "1G"};
	static const struct size_key response_budget = {"response_budget", MIB, 16 * GIB, "1M",
	                                                "16G"};
	long n;

	if (strcmp(key, "push_size") == 0)
		return set_size(&push_size, v, &l->push_bytes, why, len);
	if (strcmp(key, "push_records") == 0) {
		if (parse_whole(v, &n) < 0 || n < 1 || n > 100000000) {
			snprintf(why, len,
			         "[limits] push_records = %s: expected a whole number from 1 to "
			         "100000000",
			         v);
			return -1;
		}
		l->push_records = (size_t)n;
		return 0;
	}
	if (strcmp(key, "response_size") == 0)
		return set_size(&response_size, v, &l->http.max_response_bytes, why, len);
	if (strcmp(key, "response_budget") == 0)
		return set_size(&response_budget, v, &l->http.response_budget_bytes, why, len);
	if (strcmp(key, "connect_timeout") == 0)
		return set_number(key, v, 1, 300, "seconds", 1000, &l->http.connect_timeout_ms, why,
		                  len);
	if (strcmp(key, "request_timeout") == 0)
		return set_number(key, v, 1, 3600, "seconds", 1000, &l->http.timeout_ms, why, len);
	if (strcmp(key, "low_speed_time") == 0)
		return set_number(key, v, 1, 3600, "seconds", 1, &l->http.low_speed_seconds, why,
		                  len);
	if (strcmp(key, "low_speed_bytes") == 0)
		return set_number(key, v, 1, 1000000, "bytes per second", 1,
		                  &l->http.low_speed_bytes, why, len);
	snprintf(why, len,
	         "unknown key \"%s\" in [limits]: expected push_size, push_records, "
	         "response_size, response_budget, connect_timeout, request_timeout, "
	         "low_speed_bytes or low_speed_time",
	         key);
	return -1;
}
