/* The engine's request counters (telemetry.h). */
#include "engine/telemetry.h"

#include <stdatomic.h>
#include <string.h>
#include <strings.h>

static _Atomic uint64_t responses[TM_NSERVICES][TM_NCLASSES];
static _Atomic uint64_t throttled[TM_NSERVICES], retry_ms[TM_NSERVICES];
static _Atomic uint64_t token_requests, token_failures;

/* By the URL's path: /{tenant}/oauth2/v2.0/token (Microsoft identity platform), /EWS/Exchange.asmx
 * (EWS); everything else the engine calls is Microsoft Graph. */
static enum telemetry_service service_of(const char *url, int *is_token)
{
	const char *path = url ? strstr(url, "://") : NULL;

	path = path ? strchr(path + 3, '/') : NULL;
	*is_token = 0;
	if (!path)
		return TM_GRAPH;
	if (strstr(path, "/oauth2/")) {
		const char *q = strchr(path, '?');
		size_t n = q ? (size_t)(q - path) : strlen(path);
		*is_token = n >= 6 && strncmp(path + n - 6, "/token", 6) == 0;
		return TM_IDENTITY;
	}
	for (const char *p = path; *p; p++)
		if (strncasecmp(p, "/ews/exchange.asmx", 18) == 0)
			return TM_EWS;
	return TM_GRAPH;
}

void telemetry_http(const char *url, long status, long retry_after_ms)
{
	int is_token;
	enum telemetry_service s = service_of(url, &is_token);
	enum telemetry_class c = status <= 0    ? TM_NO_RESPONSE
	                         : status < 300 ? TM_2XX
	                         : status < 400 ? TM_3XX
	                         : status < 500 ? TM_4XX
	                                        : TM_5XX;

	atomic_fetch_add_explicit(&responses[s][c], 1, memory_order_relaxed);
	if (status == 429 || (status == 503 && retry_after_ms >= 0)) {
		atomic_fetch_add_explicit(&throttled[s], 1, memory_order_relaxed);
		if (retry_after_ms > 0)
			atomic_fetch_add_explicit(&retry_ms[s], (uint64_t)retry_after_ms,
			                          memory_order_relaxed);
	}
	if (is_token) {
		atomic_fetch_add_explicit(&token_requests, 1, memory_order_relaxed);
		if (status != 200)
			atomic_fetch_add_explicit(&token_failures, 1, memory_order_relaxed);
	}
}

void telemetry_read(struct telemetry_snapshot *out)
{
	for (int s = 0; s < TM_NSERVICES; s++) {
		for (int c = 0; c < TM_NCLASSES; c++)
			out->responses[s][c] =
			    atomic_load_explicit(&responses[s][c], memory_order_relaxed);
		out->throttled[s] = atomic_load_explicit(&throttled[s], memory_order_relaxed);
		out->retry_after_ms[s] = atomic_load_explicit(&retry_ms[s], memory_order_relaxed);
	}
	out->token_requests = atomic_load_explicit(&token_requests, memory_order_relaxed);
	out->token_failures = atomic_load_explicit(&token_failures, memory_order_relaxed);
}

const char *telemetry_service_name(enum telemetry_service s)
{
	static const char *const names[] = {"identity", "ews", "graph"};
	return s < TM_NSERVICES ? names[s] : "?";
}

const char *telemetry_class_name(enum telemetry_class c)
{
	static const char *const names[] = {"2xx", "3xx", "4xx", "5xx", "none"};
	return c < TM_NCLASSES ? names[c] : "?";
}
