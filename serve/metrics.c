/* Counters, histograms and the exposition (metrics.h). */
#include "serve/metrics.h"

#include "common/util.h"
#include "engine/telemetry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Request durations: from 1 ms to 10 s (an upsert takes well under 1 ms, a 1,000-record batch tens
 * of ms, a big batch seconds). */
static const double req_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10};
#define NREQB (sizeof req_bounds / sizeof req_bounds[0])
static const double run_bounds[] = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600};
#define NRUNB (sizeof run_bounds / sizeof run_bounds[0])

struct req_series { /* per (route, method, status) */
	char route[48], method[8];
	int status;
	uint64_t count;
};

struct hist {
	char label[48], label2[8];
	uint64_t buckets[16]; /* cumulative at render */
	uint64_t count;
	double sum;
};

struct run_series {
	char command[16], outcome[16];
	uint64_t count;
};

struct metrics {
	pthread_mutex_t mu;
	struct req_series *req;
	size_t nreq, capreq;
	struct hist *rh; /* request durations per (route, method) */
	size_t nrh, caprh;
	struct run_series *runs;
	size_t nruns, capruns;
	struct hist *runh; /* per command */
	size_t nrunh, caprunh;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof *m);

	pthread_mutex_init(&m->mu, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	free(m->req);
	free(m->rh);
	free(m->runs);
	free(m->runh);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

#define GROW(arr, n, cap)                                                                          \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? (cap)*2 : 16;                                              \
			(arr) = xrealloc((arr), (cap) * sizeof *(arr));                            \
		}                                                                                  \
	} while (0)

static struct hist *hist_find(struct hist **arr, size_t *n, size_t *cap, const char *l1,
                              const char *l2)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*arr)[i].label, l1) && !strcmp((*arr)[i].label2, l2))
			return &(*arr)[i];
	GROW(*arr, *n, *cap);
	memset(&(*arr)[*n], 0, sizeof **arr);
	snprintf((*arr)[*n].label, sizeof(*arr)[*n].label, "%s", l1);
	snprintf((*arr)[*n].label2, sizeof(*arr)[*n].label2, "%s", l2);
	return &(*arr)[(*n)++];
}

static void hist_observe(struct hist *h, const double *bounds, size_t nb, double v)
{
	for (size_t i = 0; i < nb; i++)
		if (v <= bounds[i]) {
			h->buckets[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}

void metrics_request(struct metrics *m, const char *route, const char *method, int status,
                     double seconds)
{
	struct req_series *r = NULL;

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nreq && !r; i++)
		if (m->req[i].status == status && !strcmp(m->req[i].route, route) &&
		    !strcmp(m->req[i].method, method))
			r = &m->req[i];
	if (!r) {
		GROW(m->req, m->nreq, m->capreq);
		r = &m->req[m->nreq++];
		memset(r, 0, sizeof *r);
		snprintf(r->route, sizeof r->route, "%s", route);
		snprintf(r->method, sizeof r->method, "%s", method);
		r->status = status;
	}
	r->count++;
	hist_observe(hist_find(&m->rh, &m->nrh, &m->caprh, route, method), req_bounds, NREQB,
	             seconds);
	pthread_mutex_unlock(&m->mu);
}

void metrics_run(struct metrics *m, const char *command, const char *outcome, double seconds)
{
	struct run_series *r = NULL;

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nruns && !r; i++)
		if (!strcmp(m->runs[i].command, command) && !strcmp(m->runs[i].outcome, outcome))
			r = &m->runs[i];
	if (!r) {
		GROW(m->runs, m->nruns, m->capruns);
		r = &m->runs[m->nruns++];
		memset(r, 0, sizeof *r);
		snprintf(r->command, sizeof r->command, "%s", command);
		snprintf(r->outcome, sizeof r->outcome, "%s", outcome);
	}
	r->count++;
	hist_observe(hist_find(&m->runh, &m->nrunh, &m->caprunh, command, ""), run_bounds, NRUNB,
	             seconds);
	pthread_mutex_unlock(&m->mu);
}

static void header(struct buf *o, const char *name, const char *type, const char *help)
{
	buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values here come from fixed tables (route patterns, methods, states), never from input,
 * so they need no escaping beyond what they are. */
static void render_hist(struct buf *o, const char *name, const char *l1name, const char *l2name,
                        const struct hist *h, const double *bounds, size_t nb)
{
	uint64_t cum = 0;
	char labels[128];

	if (l2name)
		snprintf(labels, sizeof labels, "%s=\"%s\",%s=\"%s\"", l1name, h->label, l2name,
		         h->label2);
	else
		snprintf(labels, sizeof labels, "%s=\"%s\"", l1name, h->label);
	for (size_t i = 0; i < nb; i++) {
		cum += h->buckets[i];
		buf_printf(o, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, bounds[i],
		           (unsigned long long)cum);
	}
	buf_printf(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
	           (unsigned long long)h->count);
	buf_printf(o, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels,
	           (unsigned long long)h->count);
}

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static void render_engine(struct buf *o)
{
	struct telemetry_snapshot t;

	telemetry_read(&t);
	header(o, "leavesync_backend_requests_total", "counter",
	       "Requests the sync engine sent to Microsoft services, by service and status class.");
	for (int s = 0; s < TM_NSERVICES; s++)
		for (int c = 0; c < TM_NCLASSES; c++)
			buf_printf(o,
			           "leavesync_backend_requests_total{backend=\"%s\",status=\"%s\"} "
			           "%llu\n",
			           telemetry_service_name((enum telemetry_service)s),
			           telemetry_class_name((enum telemetry_class)c),
			           (unsigned long long)t.responses[s][c]);
	header(o, "leavesync_backend_throttled_total", "counter",
	       "Responses that asked the engine to wait (429, or 503 with Retry-After).");
	for (int s = 0; s < TM_NSERVICES; s++)
		buf_printf(o, "leavesync_backend_throttled_total{backend=\"%s\"} %llu\n",
		           telemetry_service_name((enum telemetry_service)s),
		           (unsigned long long)t.throttled[s]);
	header(o, "leavesync_backend_retry_after_seconds_total", "counter",
	       "Waits asked for by throttling responses (Retry-After), summed.");
	for (int s = 0; s < TM_NSERVICES; s++)
		buf_printf(o, "leavesync_backend_retry_after_seconds_total{backend=\"%s\"} %.3f\n",
		           telemetry_service_name((enum telemetry_service)s),
		           (double)t.retry_after_ms[s] / 1000.0);
	header(o, "leavesync_token_requests_total", "counter",
	       "Access token requests (and refreshes) sent to the identity platform.");
	buf_printf(o, "leavesync_token_requests_total %llu\n",
	           (unsigned long long)t.token_requests);
	header(o, "leavesync_token_failures_total", "counter",
	       "Access token requests the identity platform refused or did not answer.");
	buf_printf(o, "leavesync_token_failures_total %llu\n",
	           (unsigned long long)t.token_failures);
}

static void render_store(struct buf *o, const struct metrics_gauges *g)
{
	static const char *const cmds[] = {"sync", "resync", "reconcile"};

	header(o, "leavesync_targets", "gauge", "Calendar events (targets) by state.");
	for (int s = TS_PENDING; s <= TS_WAITING; s++)
		buf_printf(o, "leavesync_targets{state=\"%s\"} %lld\n",
		           target_state_name((enum target_state)s),
		           (long long)g->counts.by_state[s]);
	header(o, "leavesync_leaves", "gauge", "Leave entries in the store.");
	buf_printf(o, "leavesync_leaves %lld\n", (long long)g->counts.leaves);
	header(o, "leavesync_queue_depth", "gauge",
	       "Work waiting for a sync: leave to render, events due to be written, API jobs.");
	buf_printf(o, "leavesync_queue_depth{queue=\"leave\"} %lld\n", (long long)g->queued_leaves);
	buf_printf(o, "leavesync_queue_depth{queue=\"target\"} %lld\n",
	           (long long)g->queued_targets);
	buf_printf(o, "leavesync_queue_depth{queue=\"job\"} %lld\n", (long long)g->queued_jobs);
	header(o, "leavesync_last_success_timestamp_seconds", "gauge",
	       "When a run of each command last finished with everything done (0: never).");
	for (int i = 0; i < 3; i++)
		buf_printf(o, "leavesync_last_success_timestamp_seconds{command=\"%s\"} %lld\n",
		           cmds[i], (long long)g->last_success[i]);
	header(o, "leavesync_ready", "gauge", "1 when /readyz answers ready.");
	buf_printf(o, "leavesync_ready %d\n", g->ready);
}

void metrics_render(struct metrics *m, const struct metrics_gauges *g, struct buf *out)
{
	header(out, "leavesync_build_info", "gauge", "The running version.");
	buf_printf(out, "leavesync_build_info{version=\"%s\"} 1\n", LEAVESYNC_VERSION);
	header(out, "process_start_time_seconds", "gauge", "Start time of the process.");
	buf_printf(out, "process_start_time_seconds %lld\n", (long long)g->started_at);
	header(out, "process_resident_memory_bytes", "gauge", "Resident memory size.");
	buf_printf(out, "process_resident_memory_bytes %ld\n", rss_bytes());
	render_store(out, g);
	render_engine(out);
	pthread_mutex_lock(&m->mu);
	header(out, "leavesync_http_requests_total", "counter",
	       "API requests answered, by route, method and status.");
	for (size_t i = 0; i < m->nreq; i++)
		buf_printf(
		    out,
		    "leavesync_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} "
		    "%llu\n",
		    m->req[i].route, m->req[i].method, m->req[i].status,
		    (unsigned long long)m->req[i].count);
	header(out, "leavesync_http_request_duration_seconds", "histogram",
	       "Time from a request's first byte to its response, by route and method.");
	for (size_t i = 0; i < m->nrh; i++)
		render_hist(out, "leavesync_http_request_duration_seconds", "route", "method",
		            &m->rh[i], req_bounds, NREQB);
	header(out, "leavesync_runs_total", "counter",
	       "Runs of the scheduler by command and outcome (ok, partial, error, busy).");
	for (size_t i = 0; i < m->nruns; i++)
		buf_printf(out, "leavesync_runs_total{command=\"%s\",outcome=\"%s\"} %llu\n",
		           m->runs[i].command, m->runs[i].outcome,
		           (unsigned long long)m->runs[i].count);
	header(out, "leavesync_run_duration_seconds", "histogram",
	       "Duration of the scheduler's runs, by command.");
	for (size_t i = 0; i < m->nrunh; i++)
		render_hist(out, "leavesync_run_duration_seconds", "command", NULL, &m->runh[i],
		            run_bounds, NRUNB);
	pthread_mutex_unlock(&m->mu);
}
