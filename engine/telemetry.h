/* Process-wide counters of the engine's requests to Microsoft's services, for leavesync serve's
 * /metrics (docs/api.md). The engine only adds to them (relaxed atomics, no lock, no allocation);
 * nothing in the engine reads them, and a CLI run simply never looks. */
#ifndef ENGINE_TELEMETRY_H
#define ENGINE_TELEMETRY_H

#include <stdint.h>

enum telemetry_service { TM_IDENTITY, TM_EWS, TM_GRAPH, TM_NSERVICES };
enum telemetry_class { TM_2XX, TM_3XX, TM_4XX, TM_5XX, TM_NO_RESPONSE, TM_NCLASSES };

struct telemetry_snapshot {
	uint64_t responses[TM_NSERVICES][TM_NCLASSES];
	uint64_t throttled[TM_NSERVICES];        /* 429, or 503 with Retry-After */
	uint64_t retry_after_ms[TM_NSERVICES];   /* the waits those responses asked for */
	uint64_t token_requests, token_failures; /* requests to an identity token endpoint */
};

/* Counts one request to url: status 0 when no response came (transport failure). */
void telemetry_http(const char *url, long status, long retry_after_ms);
void telemetry_read(struct telemetry_snapshot *out);
const char *telemetry_service_name(enum telemetry_service s); /* "identity" "ews" "graph" */
const char *telemetry_class_name(enum telemetry_class c);     /* "2xx" ... "none" */

#endif
