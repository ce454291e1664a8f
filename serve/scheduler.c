/* The scheduler of leavesync serve: ONE thread that runs, one at a time and under the store's run
 * lock (the CLI's too):
 *   - a sync sync_delay seconds after the API wrote leave (debounced: a burst of pushes makes one
 *     run; the delay restarts with each push but never exceeds 4 x sync_delay in total);
 *   - the queued API jobs (resync, reconcile), oldest first;
 *   - a sync when retries come due, and every poll_interval seconds when someone else (the CLI,
 *     direct SQL) queued work;
 *   - the nightly reconcile at [serve] reconcile_at (local time).
 * When another process holds the run lock the scheduler waits BUSY_RETRY_S and tries again. On
 * stop, the run in progress stops after its page in flight (sync_options.stop); jobs left running
 * are queued again at the next start. */
#include "serve/serve_int.h"

#include "common/util.h"
#include "engine/sync.h"
#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_RETRY_S 5
#define FINDINGS_KEPT 100

struct scheduler {
	struct serve *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	atomic_bool stop_run;
	int64_t work_first_ms, work_last_ms; /* API wrote leave; 0 = nothing new */
	bool job_pending;
	bool reload;
	int64_t retry_at_ms;    /* a retry comes due (0 none) */
	int64_t next_poll_ms;   /* look for work others queued */
	int64_t busy_until_ms;  /* another process holds the run lock: not before this */
	int64_t next_reconcile; /* Unix seconds, 0 none */
	bool busy_logged;
};

static int64_t next_local_time(int minutes, int64_t after)
{
	time_t t = (time_t)after;
	struct tm tm;
	time_t at;

	localtime_r(&t, &tm);
	tm.tm_hour = minutes / 60;
	tm.tm_min = minutes % 60;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	at = mktime(&tm);
	if (at <= (time_t)after) {
		tm.tm_mday += 1;
		tm.tm_hour = minutes / 60;
		tm.tm_min = minutes % 60;
		tm.tm_isdst = -1;
		at = mktime(&tm);
	}
	return (int64_t)at;
}

static void plan_reconcile(struct scheduler *sc, const struct serve_settings *set)
{
	sc->next_reconcile =
	    set->sc.reconcile_at >= 0 ? next_local_time(set->sc.reconcile_at, now_unix()) : 0;
}

/* Remembers why runs cannot start (readyz); true when the reason is new (worth logging: the
 * same reason every poll_interval would drown the log). */
static bool set_run_error(struct serve *s, const char *msg)
{
	bool changed;

	pthread_mutex_lock(&s->status_mu);
	changed = strcmp(s->last_run_error, msg ? msg : "") != 0;
	snprintf(s->last_run_error, sizeof s->last_run_error, "%s", msg ? msg : "");
	pthread_mutex_unlock(&s->status_mu);
	return changed;
}

/* Opens a store of its own and takes the run lock (released by store_close). 1 locked, 0 busy,
 * -1 error. */
static int lock_store(struct scheduler *sc, struct store **st)
{
	struct error err = {{0}};

	if (store_open(sc->srv->store_path, false, sc->srv->store_group, st, &err) < 0) {
		log_msg(LOG_ERR, "leavesync serve: scheduler: %s", err.msg);
		return -1;
	}
	if (store_lock_run(*st, &err) < 0) {
		store_close(*st);
		*st = NULL;
		if (!sc->busy_logged)
			log_msg(LOG_NOTICE, "leavesync serve: scheduler: %s; retrying every %d s",
			        err.msg, BUSY_RETRY_S);
		sc->busy_logged = true;
		return 0;
	}
	sc->busy_logged = false;
	return 1;
}

/* Targets that fail, wait or are queued again after a failure, whichever run made them so: as for
 * the command line (docs/operations.md, exit codes), a run is "partial" (exit code 1 in the run
 * history) on every run as long as any is there, not only on the run where it first failed. */
static bool problems_open(struct store *st)
{
	struct store_health h;
	struct error err = {{0}};

	if (store_health(st, &h, &err) < 0) {
		log_msg(LOG_WARNING, "leavesync serve: scheduler: %s", err.msg);
		return false;
	}
	return h.failed || h.waiting || h.retrying;
}

static const char *outcome_of(struct store *st, const struct sync_result *r)
{
	return (r->stats.failed || r->stats.waiting || r->nblocked || r->stats.deferred ||
	        r->deadline_hit || problems_open(st))
	           ? "partial"
	           : "ok";
}

/* The end of every run, as for the command line: history older than [store] keep_history_days. */
static void prune_history(struct store *st, const struct serve_settings *set)
{
	struct error err = {{0}};
	int64_t pruned;

	if (set->cfg.keep_history_days > 0 &&
	    store_prune_history(st, now_unix() - (int64_t)set->cfg.keep_history_days * 86400,
	                        &pruned, &err) < 0)
		log_msg(LOG_WARNING, "leavesync serve: scheduler: %s", err.msg);
}

static json_t *sync_result_json(const struct sync_result *r)
{
	json_t *blocked = json_array();

	for (size_t i = 0; i < r->nblocked; i++)
		json_array_append_new(blocked, json_string(r->blocked[i]));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "created",
	                 (json_int_t)r->stats.created, "updated", (json_int_t)r->stats.updated,
	                 "deleted", (json_int_t)r->stats.deleted, "adopted",
	                 (json_int_t)r->stats.adopted, "unchanged", (json_int_t)r->stats.unchanged,
	                 "failed", (json_int_t)r->stats.failed, "waiting",
	                 (json_int_t)r->stats.waiting, "deferred", (json_int_t)r->stats.deferred,
	                 "blocked", blocked);
}

static void record_run(struct store *st, int64_t run_id, const char *cmd, int64_t started,
                       const struct sync_result *r, int exit_code, const char *summary)
{
	struct run_record rec = {0};
	struct error err = {{0}};
	char line[256];

	if (!run_id)
		return;
	if (!summary) {
		snprintf(line, sizeof line,
		         "%lld created, %lld updated, %lld deleted, %lld failed (leavesync serve)",
		         (long long)r->stats.created, (long long)r->stats.updated,
		         (long long)r->stats.deleted, (long long)r->stats.failed);
		summary = line;
	}
	rec.id = run_id;
	rec.command = (char *)cmd;
	rec.started_at = started;
	rec.finished_at = now_unix();
	rec.exit_code = exit_code;
	sync_stats_to_run(&r->stats, &rec);
	rec.summary = (char *)summary;
	if (store_run_end(st, &rec, &err) < 0)
		log_msg(LOG_WARNING, "leavesync serve: scheduler: could not record the run: %s",
		        err.msg);
}

/* A sync or resync. Returns the result JSON (owned) or NULL when it could not run; *outcome. */
static json_t *do_sync(struct scheduler *sc, struct store *st, const struct serve_settings *set,
                       const char *cmd, struct sync_options *opt, const char **outcome)
{
	struct sync_result r;
	struct error err = {{0}};
	int64_t started = now_unix(), run_id = 0;
	json_t *res = NULL;
	int rc;

	if (store_run_begin(st, cmd, &run_id, &err) < 0)
		log_msg(LOG_WARNING, "leavesync serve: scheduler: could not record the run: %s",
		        err.msg);
	opt->run_id = run_id;
	opt->stop = &sc->stop_run;
	rc = sync_run(&set->cfg, st, opt, &r, &err);
	if (rc < 0) {
		if (set_run_error(sc->srv, err.msg))
			log_msg(LOG_ERR,
			        "leavesync serve: %s: %s (logged again when the reason changes; "
			        "/readyz "
			        "says not ready meanwhile)",
			        cmd, err.msg);
		*outcome = "error";
		record_run(st, run_id, cmd, started, &r, r.config_error ? 2 : 1, err.msg);
	} else {
		set_run_error(sc->srv, NULL);
		*outcome = outcome_of(st, &r);
		record_run(st, run_id, cmd, started, &r, strcmp(*outcome, "ok") ? 1 : 0, NULL);
		log_msg(strcmp(*outcome, "ok") ? LOG_WARNING : LOG_INFO,
		        "leavesync serve: %s: %lld created, %lld updated, %lld deleted, %lld "
		        "failed, %lld waiting",
		        cmd, (long long)r.stats.created, (long long)r.stats.updated,
		        (long long)r.stats.deleted, (long long)r.stats.failed,
		        (long long)r.stats.waiting);
		for (size_t i = 0; i < r.nkept && i < 3; i++)
			log_msg(LOG_WARNING, "leavesync serve: %s: %s %s: %s: %s", cmd,
			        r.problems[i].mailbox, r.problems[i].leave_id, r.problems[i].state,
			        r.problems[i].message);
		for (size_t i = 0; i < r.nblocked; i++)
			log_msg(LOG_WARNING, "leavesync serve: %s: safety valve: %s", cmd,
			        r.blocked[i]);
		res = sync_result_json(&r);
		if (r.stats.deferred) {
			int64_t in_ms = (r.stats.deferred_until - now_unix()) * 1000;
			sc->retry_at_ms = now_ms() + (in_ms > 1000 ? in_ms : 1000);
		}
	}
	prune_history(st, set);
	sync_result_free(&r);
	return res;
}

static json_t *reconcile_result_json(const struct reconcile_report *r, bool dry_run)
{
	json_t *findings = json_array(), *blocked = json_array();

	for (size_t i = 0; i < r->n && i < FINDINGS_KEPT; i++) {
		const struct finding *f = &r->findings[i];
		json_array_append_new(
		    findings, json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s?}", "mailbox", f->mailbox,
		                        "leave", f->leave_id, "kind", f->kind, "action", f->action,
		                        "result", f->result, "detail", f->detail));
	}
	for (size_t i = 0; i < r->nblocked; i++)
		json_array_append_new(blocked, json_string(r->blocked[i]));
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:o}", "dry_run", dry_run,
	                 "mailboxes", (json_int_t)r->mailboxes, "events_listed",
	                 (json_int_t)r->listed, "adopted", (json_int_t)r->adopted, "findings_total",
	                 (json_int_t)r->n, "findings", findings, "unrepaired",
	                 (json_int_t)r->unrepaired, "blocked", blocked, "repair",
	                 sync_result_json(&r->sync));
}

static json_t *do_reconcile(struct scheduler *sc, struct store *st,
                            const struct serve_settings *set, struct reconcile_options *opt,
                            const char **outcome)
{
	struct reconcile_report r;
	struct error err = {{0}};
	int64_t started = now_unix();
	json_t *res = NULL;
	int rc;

	(void)sc;
	memset(&r, 0, sizeof r);
	if (!opt->dry_run && store_run_begin(st, "reconcile", &opt->run_id, &err) < 0)
		log_msg(LOG_WARNING, "leavesync serve: scheduler: could not record the run: %s",
		        err.msg);
	rc = reconcile_run(&set->cfg, st, opt, &r, &err);
	if (rc < 0) {
		if (set_run_error(sc->srv, err.msg))
			log_msg(LOG_ERR, "leavesync serve: reconcile: %s", err.msg);
		*outcome = "error";
		record_run(st, opt->run_id, "reconcile", started, &r.sync,
		           r.sync.config_error ? 2 : 1, err.msg);
	} else {
		char summary[200];
		bool clean = !(r.unrepaired || r.nblocked || r.sync.stats.failed ||
		               r.sync.stats.waiting || problems_open(st));
		set_run_error(sc->srv, NULL);
		*outcome = clean ? "ok" : "partial";
		snprintf(summary, sizeof summary,
		         "%zu findings, %lld unrepaired, %zu blocked (leavesync serve)", r.n,
		         (long long)r.unrepaired, r.nblocked);
		record_run(st, opt->run_id, "reconcile", started, &r.sync, clean ? 0 : 1, summary);
		log_msg(clean ? LOG_INFO : LOG_WARNING, "leavesync serve: reconcile%s: %s",
		        opt->dry_run ? " (dry run)" : "", summary);
		res = reconcile_result_json(&r, opt->dry_run);
	}
	if (!opt->dry_run)
		prune_history(st, set);
	reconcile_report_free(&r);
	return res;
}

static int parse_day(const char *s, int64_t *out)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%d", &tm);

	if (!end || *end)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* Runs one API job on a locked store. */
static void run_job(struct scheduler *sc, struct store *st, const struct serve_settings *set,
                    struct api_job *jb)
{
	json_t *p = json_loads(jb->params, 0, NULL), *res = NULL;
	struct error err = {{0}};
	const char *outcome = "error";
	int64_t t0 = now_ms();
	char *text;

	store_job_update(st, jb->id, "running", 0, NULL, &err);
	log_msg(LOG_INFO, "leavesync serve: scheduler: run %lld (%s %s) starts", (long long)jb->id,
	        jb->kind, jb->params);
	if (!strcmp(jb->kind, "resync")) {
		struct sync_options o = {0};
		o.resync_leave = json_string_value(json_object_get(p, "leave"));
		o.resync_mailbox = json_string_value(json_object_get(p, "mailbox"));
		o.resync_all = json_is_true(json_object_get(p, "all"));
		res = do_sync(sc, st, set, "resync", &o, &outcome);
	} else {
		struct reconcile_options o = {0};
		const char *from = json_string_value(json_object_get(p, "from"));
		const char *to = json_string_value(json_object_get(p, "to"));
		o.from = now_unix() - 30 * 86400;
		o.to = now_unix() + 365 * 86400;
		if (from)
			parse_day(from, &o.from);
		if (to)
			parse_day(to, &o.to);
		o.mailbox = json_string_value(json_object_get(p, "mailbox"));
		o.dry_run = json_is_true(json_object_get(p, "dry_run"));
		res = do_reconcile(sc, st, set, &o, &outcome);
		jb->run_id = o.run_id;
	}
	if (!res) {
		char msg[700];
		pthread_mutex_lock(&sc->srv->status_mu);
		snprintf(msg, sizeof msg, "%s", sc->srv->last_run_error);
		pthread_mutex_unlock(&sc->srv->status_mu);
		res = json_pack("{s:s}", "error", msg);
	}
	json_object_set_new(res, "outcome", json_string(outcome));
	text = json_dumps(res, JSON_COMPACT);
	if (store_job_update(st, jb->id, strcmp(outcome, "error") ? "done" : "failed", jb->run_id,
	                     text, &err) < 0)
		log_msg(LOG_ERR, "leavesync serve: scheduler: run %lld: %s", (long long)jb->id,
		        err.msg);
	metrics_run(sc->srv->metrics, jb->kind, outcome, (double)(now_ms() - t0) / 1000.0);
	free(text);
	json_decref(res);
	json_decref(p);
}

enum due { DUE_NONE = 0, DUE_SYNC = 1, DUE_JOB = 2, DUE_RECONCILE = 4, DUE_POLL = 8 };

/* What is due now, or when to wake up (mu held). */
static unsigned due_now(struct scheduler *sc, const struct serve_settings *set, int64_t *wake_ms)
{
	int64_t now = now_ms(), wake = now + 3600 * 1000;
	unsigned due = 0;

	if (sc->work_last_ms) {
		int64_t d = (int64_t)set->sc.sync_delay * 1000;
		int64_t at = sc->work_last_ms + d;
		if (at > sc->work_first_ms + 4 * d)
			at = sc->work_first_ms + 4 * d;
		if (at <= now)
			due |= DUE_SYNC;
		else if (at < wake)
			wake = at;
	}
	if (sc->retry_at_ms) {
		if (sc->retry_at_ms <= now)
			due |= DUE_SYNC;
		else if (sc->retry_at_ms < wake)
			wake = sc->retry_at_ms;
	}
	if (sc->job_pending)
		due |= DUE_JOB;
	if (sc->next_poll_ms <= now)
		due |= DUE_POLL;
	else if (sc->next_poll_ms < wake)
		wake = sc->next_poll_ms;
	if (sc->next_reconcile) {
		int64_t in_ms = (sc->next_reconcile - now_unix()) * 1000;
		if (in_ms <= 0)
			due |= DUE_RECONCILE;
		else if (now + in_ms < wake)
			wake = now + in_ms;
	}
	if (due && sc->busy_until_ms > now) {
		wake = sc->busy_until_ms;
		due = 0;
	}
	*wake_ms = wake;
	return due;
}

static void wait_until(struct scheduler *sc, int64_t wake_ms)
{
	struct timespec ts;
	int64_t delta = wake_ms - now_ms();

	if (delta <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += delta / 1000;
	ts.tv_nsec += (delta % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&sc->cv, &sc->mu, &ts);
}

/* Does one round of due work (mu not held). false when the run lock was busy. */
static bool work(struct scheduler *sc, const struct serve_settings *set, unsigned due)
{
	struct error err = {{0}};
	struct store *st = NULL;
	int64_t leaves = 0, targets = 0;
	int locked = lock_store(sc, &st);

	if (locked <= 0) {
		if (locked == 0)
			metrics_run(sc->srv->metrics, "sync", "busy", 0);
		return locked == 0 ? false : true;
	}
	if (due & DUE_JOB) {
		struct api_job jb;
		int rounds = 0;
		while (!atomic_load(&sc->stop_run) && rounds++ < 100 &&
		       store_job_next(st, &jb, &err) == 1) {
			run_job(sc, st, set, &jb);
			api_job_free(&jb);
		}
	}
	if (due & DUE_RECONCILE && !atomic_load(&sc->stop_run)) {
		struct reconcile_options o = {.from = now_unix() - 30 * 86400,
		                              .to = now_unix() + 365 * 86400};
		const char *outcome = "error";
		int64_t t0 = now_ms();
		json_t *res;

		log_msg(LOG_INFO, "leavesync serve: scheduler: nightly reconcile starts");
		res = do_reconcile(sc, st, set, &o, &outcome);
		json_decref(res);
		metrics_run(sc->srv->metrics, "reconcile", outcome,
		            (double)(now_ms() - t0) / 1000.0);
	}
	if (due & (DUE_SYNC | DUE_POLL) && !atomic_load(&sc->stop_run)) {
		if (store_pending_work(st, now_unix(), &leaves, &targets, &err) < 0)
			log_msg(LOG_ERR, "leavesync serve: scheduler: %s", err.msg);
		if (leaves + targets > 0) {
			struct sync_options o = {0};
			const char *outcome = "error";
			int64_t t0 = now_ms();
			json_t *res = do_sync(sc, st, set, "sync", &o, &outcome);

			json_decref(res);
			metrics_run(sc->srv->metrics, "sync", outcome,
			            (double)(now_ms() - t0) / 1000.0);
		}
	}
	if (due & DUE_POLL) {
		int64_t removed = 0;
		if (store_idem_prune(st, now_unix() - (int64_t)set->sc.idempotency_hours * 3600,
		                     &removed, &err) < 0)
			log_msg(LOG_WARNING, "leavesync serve: scheduler: %s", err.msg);
	}
	store_close(st);
	return true;
}

static void *scheduler_main(void *arg)
{
	struct scheduler *sc = arg;
	struct serve_settings *set = settings_acquire(sc->srv);
	struct error err = {{0}};
	struct store *st;

	if (store_open(sc->srv->store_path, false, sc->srv->store_group, &st, &err) == 0) {
		if (store_job_requeue_interrupted(st, &err) < 0)
			log_msg(LOG_WARNING, "leavesync serve: scheduler: %s", err.msg);
		store_close(st);
	}
	pthread_mutex_lock(&sc->mu);
	plan_reconcile(sc, set);
	sc->job_pending = true; /* jobs queued before a restart */
	sc->next_poll_ms = now_ms();
	while (!sc->stop) {
		int64_t wake;
		unsigned due;

		if (sc->reload) {
			settings_release(set);
			set = settings_acquire(sc->srv);
			plan_reconcile(sc, set);
			sc->reload = false;
		}
		due = due_now(sc, set, &wake);
		if (!due) {
			wait_until(sc, wake);
			continue;
		}
		/* what this round takes care of */
		if (due & DUE_SYNC) {
			sc->work_first_ms = sc->work_last_ms = 0;
			sc->retry_at_ms = 0;
		}
		if (due & DUE_JOB)
			sc->job_pending = false;
		if (due & DUE_POLL) {
			sc->next_poll_ms = now_ms() + (int64_t)set->sc.poll_interval * 1000;
			sc->retry_at_ms = 0;
		}
		if (due & DUE_RECONCILE)
			sc->next_reconcile = next_local_time(set->sc.reconcile_at, now_unix() + 60);
		pthread_mutex_unlock(&sc->mu);
		if (!work(sc, set, due)) {
			pthread_mutex_lock(&sc->mu);
			/* busy: put the work back and try again later */
			if (due & DUE_SYNC && !sc->work_last_ms)
				sc->work_first_ms = sc->work_last_ms = now_ms();
			sc->job_pending |= (due & DUE_JOB) != 0;
			if (due & DUE_RECONCILE)
				sc->next_reconcile = now_unix();
			if (due & DUE_POLL)
				sc->next_poll_ms = now_ms();
			sc->busy_until_ms = now_ms() + BUSY_RETRY_S * 1000;
			continue;
		}
		pthread_mutex_lock(&sc->mu);
	}
	pthread_mutex_unlock(&sc->mu);
	settings_release(set);
	return NULL;
}

struct scheduler *scheduler_start(struct serve *s)
{
	struct scheduler *sc = xcalloc(1, sizeof *sc);
	pthread_condattr_t ca;

	sc->srv = s;
	pthread_mutex_init(&sc->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sc->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&sc->stop_run, false);
	if (pthread_create(&sc->thread, NULL, scheduler_main, sc) != 0) {
		pthread_cond_destroy(&sc->cv);
		pthread_mutex_destroy(&sc->mu);
		free(sc);
		return NULL;
	}
	return sc;
}

void scheduler_notify_work(struct scheduler *sc)
{
	int64_t now = now_ms();

	pthread_mutex_lock(&sc->mu);
	if (!sc->work_last_ms)
		sc->work_first_ms = now;
	sc->work_last_ms = now;
	pthread_cond_signal(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
}

void scheduler_notify_job(struct scheduler *sc)
{
	pthread_mutex_lock(&sc->mu);
	sc->job_pending = true;
	pthread_cond_signal(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
}

void scheduler_reload(struct scheduler *sc)
{
	pthread_mutex_lock(&sc->mu);
	sc->reload = true;
	pthread_cond_signal(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
}

void scheduler_stop(struct scheduler *sc)
{
	if (!sc)
		return;
	pthread_mutex_lock(&sc->mu);
	sc->stop = true;
	atomic_store(&sc->stop_run, true);
	pthread_cond_signal(&sc->cv);
	pthread_mutex_unlock(&sc->mu);
	pthread_join(sc->thread, NULL);
	pthread_cond_destroy(&sc->cv);
	pthread_mutex_destroy(&sc->mu);
	free(sc);
}
