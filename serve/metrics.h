/* /metrics of leavesync serve: Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Names start with leavesync_ and
 * carry their unit (_seconds, _bytes, _total). Counters and histograms live here (thread-safe);
 * gauges read from the store at scrape time are passed in. */
#ifndef SERVE_METRICS_H
#define SERVE_METRICS_H

#include "common/buf.h"
#include "store/store.h"

#include <stdint.h>

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One API request: its route pattern ("/v1/leave/{id}", or "unmatched"), method and status. */
void metrics_request(struct metrics *m, const char *route, const char *method, int status,
                     double seconds);
/* One run of the scheduler: command "sync" "resync" "reconcile"; outcome "ok" "partial"
 * "error" "busy" (another process held the run lock). */
void metrics_run(struct metrics *m, const char *command, const char *outcome, double seconds);

/* What the scrape reads from the store. */
struct metrics_gauges {
	struct state_counts counts;
	int64_t queued_leaves, queued_targets, queued_jobs;
	int64_t
	    last_success[3]; /* Unix seconds of the last successful sync, resync, reconcile; 0 */
	int64_t started_at;
	int ready; /* 1 ready, 0 not */
};

void metrics_render(struct metrics *m, const struct metrics_gauges *g, struct buf *out);

#endif
