/* Private to serve/: the process state every part of the server shares, the request and response
 * of a handler, and the route table. */
#ifndef SERVE_SERVE_INT_H
#define SERVE_SERVE_INT_H

#include "common/buf.h"
#include "engine/config.h"
#include "serve/auth.h"
#include "serve/config.h"
#include "serve/metrics.h"
#include "serve/ratelimit.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The configuration in force; replaced whole on SIGHUP, freed when its last user lets go. */
struct serve_settings {
	atomic_int refs;
	struct config cfg;
	struct serve_config sc;
};

struct scheduler;

struct serve {
	pthread_mutex_t settings_mu;
	struct serve_settings *settings;
	char *config_path; /* -c as given, or NULL */
	char *store_path;  /* fixed for the process's life */
	char *store_group; /* [store] group, or NULL: fixed with the path */
	struct scheduler *sched;
	struct metrics *metrics;
	struct ratelimit *rl;
	pthread_mutex_t write_mu; /* API writes take turns here, not in SQLite's busy handler */
	pthread_key_t store_key;  /* each HTTP thread's own struct store */
	int64_t started_at;
	atomic_bool stopping;
	pthread_mutex_t status_mu; /* guards last_run_error */
	char last_run_error[512];  /* why the last run could not start ("" when it could) */
};

struct serve_settings *settings_acquire(struct serve *s);
void settings_release(struct serve_settings *set);

/* The calling thread's store (opened on first use, closed when the thread ends). */
struct store *serve_thread_store(struct serve *s, struct error *err);

/* ---- handlers ---- */

struct sreq {
	struct serve *srv;
	struct serve_settings *set;
	struct store *st;
	const char *method;
	const char *path;  /* raw (percent-encoded), no query */
	const char *query; /* after '?', or NULL */
	char param[1024];  /* the decoded {id} of the route */
	const char *content_type;
	const char *body;
	size_t body_len;
	const struct principal *who;
};

struct sresp {
	int status;
	char content_type[64];
	struct buf body;
	char location[128];
	int retry_after; /* seconds, -1 none */
};

typedef void (*handler_fn)(struct sreq *rq, struct sresp *rs);

enum route_flags {
	ROUTE_BODY = 1,    /* reads a body (PUT/POST): body limits, signature, idempotency */
	ROUTE_HEALTH = 2,  /* open without a key when [serve] public_health */
	ROUTE_METRICS = 4, /* open without a key when [serve] public_metrics */
};

struct route {
	const char *method;
	const char *pattern;
	enum scope scope;
	unsigned flags;
	handler_fn handler;
};

extern const struct route serve_routes[];
extern const size_t serve_nroutes;

/* Sets an application/problem+json response (RFC 9457): type tag:leavesync,2026:problems/NAME
 * (or about:blank when name is NULL), title, status, detail. Returns the JSON object (owned by the
 * response until it is serialized) for extra members; call sresp_problem_done afterwards. */
struct json_t;
void sresp_problem(struct sresp *rs, int status, const char *name, const char *title,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A JSON body (steals j). */
void sresp_json(struct sresp *rs, int status, struct json_t *j);

/* The scheduler (scheduler.c). */
struct scheduler *scheduler_start(struct serve *s);
void scheduler_notify_work(struct scheduler *sc); /* leave was written: sync soon */
void scheduler_notify_job(struct scheduler *sc);  /* a job was queued: run it now */
void scheduler_stop(struct scheduler *sc);        /* finishes the page in flight, joins */
void scheduler_reload(struct scheduler *sc);      /* settings changed: recompute times */

/* Handlers (handlers_leave.c, handlers_ops.c). */
void h_put_leave(struct sreq *rq, struct sresp *rs);
void h_post_leave(struct sreq *rq, struct sresp *rs);
void h_get_leave(struct sreq *rq, struct sresp *rs);
void h_list_leave(struct sreq *rq, struct sresp *rs);
void h_resync(struct sreq *rq, struct sresp *rs);
void h_reconcile(struct sreq *rq, struct sresp *rs);
void h_get_run(struct sreq *rq, struct sresp *rs);
void h_healthz(struct sreq *rq, struct sresp *rs);
void h_readyz(struct sreq *rq, struct sresp *rs);
void h_metrics(struct sreq *rq, struct sresp *rs);

/* Readiness (handlers_ops.c): 1 ready, else 0 with why. */
int serve_ready(struct serve *s, struct store *st, char *why, size_t whylen);

#endif
