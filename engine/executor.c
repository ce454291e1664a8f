/* The main-thread side of a sync: plan each due target (create / update / delete / no-op), commit
 * the crash-safe `creating` state before any create leaves, hand batches to the worker pool, and
 * record each batch's results in one short transaction. */
#include "common/redact.h"
#include "common/util.h"
#include "engine/apply.h"
#include "engine/sync.h"
#include "engine/envs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PLAN_PAGE 2000
#define MAX_KEPT_PROBLEMS 100

const struct backend *backend_by_name(const char *name)
{
	if (name && strcmp(name, "ews") == 0)
		return &ews_backend;
	if (name && strcmp(name, "graph") == 0)
		return &graph_backend;
	return NULL;
}

struct run_ctx {
	const struct config *cfg;
	int64_t run_start; /* Unix seconds: every run before this one has ended */
	struct store *st;
	struct create_stamper stamper; /* the workers' own connection, for the create protocol */
	const struct sync_options *opt;
	struct sync_result *r;
	struct pool *pool;
	int64_t done, total;
	struct error err;
	int failed;
};

/* What a due target needs (docs/sync-states.md). A write in doubt (create_sent_at != 0) or an
 * event written through another backend is always looked up by sync key first. */
static enum action plan_action(const struct target *t, const char *route)
{
	bool other_backend = t->remote_id && t->backend && strcmp(t->backend, route) != 0;
	bool in_doubt = t->create_sent_at != 0;

	if (t->desired) {
		if (in_doubt || other_backend)
			return ACT_LOOKUP_CREATE;
		if (!t->remote_id)
			return ACT_CREATE;
		if (t->force || strcmp_null(t->desired, t->synced) != 0)
			return ACT_UPDATE;
		return ACT_DONE;
	}
	if (in_doubt || other_backend)
		return ACT_LOOKUP_DELETE;
	if (t->remote_id)
		return ACT_DELETE;
	return ACT_DONE;
}

static int parse_texts(struct work_item *it, struct error *err)
{
	if (it->t.desired) {
		if (event_from_vevent(it->t.desired, &it->desired, err) < 0)
			return -1;
		it->has_desired = true;
	}
	if (it->t.synced && it->t.remote_id) {
		if (event_from_vevent(it->t.synced, &it->written, err) == 0)
			it->has_written = true; /* unreadable old text: update sends every field */
		error_clear(err);
	}
	return 0;
}

void sync_add_problem(struct sync_result *r, const char *mailbox, const char *leave_id,
                      const char *state, const char *message)
{
	r->nproblems++;
	if (r->nkept >= MAX_KEPT_PROBLEMS)
		return;
	r->problems = xrealloc(r->problems, (r->nkept + 1) * sizeof *r->problems);
	r->problems[r->nkept].mailbox = xstrdup(mailbox);
	r->problems[r->nkept].leave_id = xstrdup(leave_id);
	r->problems[r->nkept].state = xstrdup(state);
	r->problems[r->nkept].message = xstrdup(message);
	r->nkept++;
}

static void add_problem(struct sync_result *r, const struct target *t, const char *msg)
{
	sync_add_problem(r, t->mailbox, t->leave_id, target_state_name(t->state), msg);
}

/* Capped exponential backoff with jitter for the next run: 1, 2, 4 ... minutes, at most 6 hours. */
static int64_t next_attempt_after(int attempts)
{
	int64_t delay = 60LL << (attempts < 9 ? attempts : 9);
	unsigned int r = 0;

	if (delay > 6 * 3600)
		delay = 6 * 3600;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = 0;
	return now_unix() + delay + (int64_t)(r % (unsigned int)(delay / 4 + 1));
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = xstrdup(src);
}

/* Turns a worker's outcome into the target's stored state. */
static void finalize_item(struct run_ctx *x, const struct backend *be, struct work_item *it)
{
	struct target *t = &it->t;
	struct sync_stats *s = &x->r->stats;

	/* The message quotes servers; it goes to the store and the terminal: one filter for all. */
	redact_message_in_place(it->message, sizeof it->message);
	/* A confirmed remote item (or its confirmed absence) settles a create in doubt; any other
	 * outcome keeps it, with the time of the last create this job left in doubt. */
	if (it->outcome == OUT_CREATED || it->outcome == OUT_UPDATED ||
	    it->outcome == OUT_ADOPTED || it->outcome == OUT_UNCHANGED ||
	    it->outcome == OUT_DELETED)
		t->create_sent_at = 0;
	else
		t->create_sent_at = it->doubt_at;
	switch (it->outcome) {
	case OUT_CREATED:
	case OUT_UPDATED:
	case OUT_ADOPTED:
	case OUT_UNCHANGED:
		s->created += it->outcome == OUT_CREATED;
		s->updated += it->outcome == OUT_UPDATED;
		s->adopted += it->outcome == OUT_ADOPTED;
		s->unchanged += it->outcome == OUT_UNCHANGED;
		if (it->outcome != OUT_UNCHANGED) {
			set_str(&t->synced, t->desired);
			set_str(&t->backend, be->name);
		}
		t->state = TS_SYNCED;
		t->attempts = 0;
		t->next_attempt = 0;
		set_str(&t->last_error, NULL);
		t->dirty = t->force = false;
		break;
	case OUT_DELETED:
		s->deleted++;
		set_str(&t->remote_id, NULL);
		set_str(&t->change_key, NULL);
		set_str(&t->synced, NULL);
		t->state = TS_SYNCED;
		t->attempts = 0;
		t->dirty = t->force = false;
		break;
	case OUT_STOPPED:
		/* the run's deadline came first: left queued as planned (a create stays `creating`
		 * and is looked up before it is sent again), not counted as an attempt */
		s->stopped++;
		x->r->deadline_hit = true;
		break;
	case OUT_WAITING:
		s->waiting++;
		t->state = TS_WAITING;
		t->next_attempt = 0;
		set_str(&t->last_error, it->message);
		add_problem(x->r, t, it->message);
		break;
	case OUT_RETRY:
		t->attempts++;
		set_str(&t->last_error, it->message);
		if (t->attempts >= x->cfg->max_attempts) {
			s->failed++;
			t->state = TS_FAILED;
			t->dirty = false;
		} else {
			s->waiting++;
			t->state = t->create_sent_at ? TS_CREATING : TS_PENDING;
			t->next_attempt = next_attempt_after(t->attempts);
			if (t->create_sent_at > 0 &&
			    t->next_attempt < t->create_sent_at + x->cfg->create_grace + 1)
				t->next_attempt = t->create_sent_at + x->cfg->create_grace + 1;
		}
		add_problem(x->r, t, it->message);
		break;
	default:
		s->failed++;
		t->attempts++;
		t->state = TS_FAILED;
		t->dirty = false;
		set_str(&t->last_error, it->message);
		add_problem(x->r, t, it->message);
		break;
	}
}

static int record_drift(struct run_ctx *x, const struct work_item *it)
{
	struct drift_record d = {0};

	if (!it->drift_kind[0] || !x->opt->run_id)
		return 0;
	d.run_id = x->opt->run_id;
	d.at = now_unix();
	d.mailbox = it->t.mailbox;
	d.leave_id = it->t.leave_id;
	d.kind = (char *)it->drift_kind;
	d.action = (char *)(it->outcome == OUT_FAILED ? "none" : "repaired");
	d.result =
	    (char *)(it->outcome == OUT_FAILED || it->outcome == OUT_RETRY ? it->message : "ok");
	d.detail = (char *)it->drift_detail;
	return store_add_drift(x->st, &d, &x->err);
}

static int save_items(struct run_ctx *x, struct work_item *items, size_t n)
{
	struct target *ts = xcalloc(n ? n : 1, sizeof *ts);
	int rc;

	for (size_t i = 0; i < n; i++)
		ts[i] = items[i].t; /* shallow: store_save_targets only reads */
	rc = store_save_targets(x->st, ts, n, &x->err);
	free(ts);
	return rc;
}

static void job_finished(struct run_ctx *x, struct write_job *wj)
{
	x->r->stats.retried += wj->retried;
	x->r->stats.conflicts += wj->conflicts;
	for (size_t i = 0; i < wj->n; i++) {
		finalize_item(x, wj->job.be, &wj->items[i]);
		if (record_drift(x, &wj->items[i]) < 0)
			x->failed = 1;
	}
	if (save_items(x, wj->items, wj->n) < 0)
		x->failed = 1;
	x->done += (int64_t)wj->n;
	if (x->opt->progress.update)
		x->opt->progress.update(x->opt->progress.arg, x->done, x->total);
	write_job_free(wj);
}

static void collect_finished(struct run_ctx *x, size_t keep_in_flight)
{
	while (pool_pending(x->pool) > keep_in_flight) {
		struct job *j = pool_wait(x->pool);
		if (!j)
			break;
		job_finished(x, (struct write_job *)j);
	}
}

/* Items [from, to) share a backend: cut them into jobs the backend accepts and submit them. */
static void submit_jobs(struct run_ctx *x, const struct backend *be, struct work_item *items,
                        size_t n)
{
	size_t i = 0, max = be->max_batch ? be->max_batch : 1;
	bool cross = be->caps & CAP_CROSS_MAILBOX_BATCH;

	while (i < n) {
		struct write_job *wj = xcalloc(1, sizeof *wj);
		size_t j = i + 1;
		while (j < n && j - i < max &&
		       (cross || !strcmp(items[j].t.mailbox, items[i].t.mailbox)))
			j++;
		wj->n = j - i;
		wj->items = xcalloc(wj->n, sizeof *wj->items);
		memcpy(wj->items, items + i, wj->n * sizeof *wj->items);
		wj->mailboxes = xcalloc(wj->n, sizeof *wj->mailboxes);
		for (size_t k = 0; k < wj->n; k++) {
			const char *m = wj->items[k].t.mailbox;
			if (wj->job.nmailboxes == 0 ||
			    strcmp(wj->mailboxes[wj->job.nmailboxes - 1], m) != 0)
				wj->mailboxes[wj->job.nmailboxes++] = m;
		}
		wj->job.be = be;
		wj->job.mailboxes = wj->mailboxes;
		wj->job.run = write_job_run;
		wj->deadline_ms = x->opt->deadline_ms;
		wj->create_grace_s = x->cfg->create_grace;
		wj->stamper = &x->stamper;
		pool_submit(x->pool, &wj->job);
		i = j;
		/* Bound memory: never more than a few jobs per worker waiting. */
		collect_finished(x, (size_t)x->cfg->concurrency * 4);
	}
}

struct planned {
	struct work_item *items;
	size_t n;
	struct target *quick; /* no-ops and drops: saved directly */
	size_t nquick;
};

static int plan_page(struct run_ctx *x, struct target *ts, size_t n, struct planned *p)
{
	p->items = xcalloc(n ? n : 1, sizeof *p->items);
	p->quick = xcalloc(n ? n : 1, sizeof *p->quick);
	for (size_t i = 0; i < n; i++) {
		const char *route = config_backend_for(x->cfg, ts[i].mailbox);
		enum action act = plan_action(&ts[i], route);
		/* -1 (a store of schema 1): sent at a time not recorded, before this run */
		int64_t prior = ts[i].create_sent_at < 0 ? x->run_start : ts[i].create_sent_at;

		if (act == ACT_DONE) {
			/* Nothing remote to change: equal already, or a leave gone before its event
			 * was ever written (the row is then dropped by the save). */
			if (!ts[i].desired)
				set_str(&ts[i].synced, NULL);
			else
				x->r->stats.unchanged++;
			ts[i].state = TS_SYNCED;
			ts[i].dirty = ts[i].force = false;
			p->quick[p->nquick++] = ts[i];
			continue;
		}
		struct work_item *it = &p->items[p->n++];
		it->t = ts[i];
		it->action = act;
		it->doubt_at = prior;
		if (parse_texts(it, &x->err) < 0) {
			it->action = ACT_DONE;
			it->outcome = OUT_FAILED;
			snprintf(it->message, sizeof it->message,
			         "stored event text unreadable: %s", x->err.msg);
			error_clear(&x->err);
		}
		/* An update or delete may land and its answer be lost: from now on nothing is known
		 * of the remote fields (the parsed `written` still serves this run). Otherwise a
		 * crash followed by HR reverting the leave would look like a no-op. */
		if (act == ACT_UPDATE || act == ACT_DELETE || act == ACT_LOOKUP_DELETE)
			set_str(&it->t.synced, NULL);
	}
	memset(ts, 0, n * sizeof *ts); /* moved into items / quick */
	return 0;
}

/* Commits `creating` (and the no-ops) before any create is sent: a crash from here on is repaired
 * by looking the sync key up. */
static int commit_intent(struct run_ctx *x, struct planned *p)
{
	if (save_items(x, p->items, p->n) < 0)
		return -1;
	if (p->nquick && store_save_targets(x->st, p->quick, p->nquick, &x->err) < 0)
		return -1;
	x->done += (int64_t)p->nquick;
	return 0;
}

static void dispatch_page(struct run_ctx *x, struct planned *p)
{
	size_t i = 0;

	/* Items failed at planning are finished here; the rest go to their backend. */
	while (i < p->n) {
		const struct backend *be =
		    backend_by_name(config_backend_for(x->cfg, p->items[i].t.mailbox));
		size_t j = i;
		while (j < p->n && p->items[j].action != ACT_DONE &&
		       backend_by_name(config_backend_for(x->cfg, p->items[j].t.mailbox)) == be)
			j++;
		if (j == i) {
			struct write_job *wj = xcalloc(1, sizeof *wj);
			wj->job.be = be;
			wj->create_grace_s = x->cfg->create_grace;
			wj->n = 1;
			wj->items = xcalloc(1, sizeof *wj->items);
			wj->items[0] = p->items[i];
			job_finished(x, wj);
			i++;
			continue;
		}
		submit_jobs(x, be, p->items + i, j - i);
		i = j;
	}
	free(p->items);
	targets_free(p->quick, p->nquick);
	memset(p, 0, sizeof *p);
}

/* Whether this run handles the target: --mailbox, and no deletions where the safety valve held. */
static bool target_selected(const struct sync_options *opt, const struct target *t)
{
	if (opt->only_mailbox && strcmp(opt->only_mailbox, t->mailbox) != 0)
		return false;
	for (size_t i = 0; i < opt->nskip && !t->desired; i++) {
		size_t n = strlen(t->mailbox);
		const char *s = opt->skip_mailboxes[i];
		if (strncmp(s, t->mailbox, n) == 0 && (s[n] == '\0' || s[n] == ':'))
			return false;
	}
	return true;
}

static int run_queue(struct run_ctx *x)
{
	char *cursor_mailbox = NULL;
	int64_t cursor_id = 0, now = now_unix();
	int rc = 0;

	for (;;) {
		struct target *ts = NULL;
		struct planned p = {0};
		size_t n = 0;

		if (x->opt->deadline_ms && now_ms() >= x->opt->deadline_ms) {
			x->r->deadline_hit = true; /* what is not planned yet stays queued */
			break;
		}
		if (store_due_targets(x->st, now, cursor_mailbox, cursor_id, PLAN_PAGE, &ts, &n,
		                      &x->err) < 0) {
			rc = -1;
			break;
		}
		if (n == 0) {
			free(ts);
			break;
		}
		/* A full page that ends inside a mailbox would split its batch in two requests:
		 * leave that mailbox's rows to the next page (unless the page is all one mailbox).
		 * Backends that batch across mailboxes fill their batches regardless. */
		if (n == PLAN_PAGE &&
		    !(backend_by_name(config_backend_for(x->cfg, ts[n - 1].mailbox))->caps &
		      CAP_CROSS_MAILBOX_BATCH)) {
			size_t keep = n;
			while (keep > 0 && strcmp(ts[keep - 1].mailbox, ts[n - 1].mailbox) == 0)
				keep--;
			if (keep > 0) {
				for (size_t i = keep; i < n; i++)
					target_free(&ts[i]);
				n = keep;
			}
		}
		set_str(&cursor_mailbox, ts[n - 1].mailbox);
		cursor_id = ts[n - 1].id;
		if (x->opt->only_mailbox || x->opt->nskip) {
			size_t k = 0;
			for (size_t i = 0; i < n; i++) {
				if (target_selected(x->opt, &ts[i]))
					ts[k++] = ts[i];
				else
					target_free(&ts[i]);
			}
			n = k;
		}
		x->r->stats.planned += (int64_t)n;
		plan_page(x, ts, n, &p);
		free(ts);
		if (commit_intent(x, &p) < 0) {
			for (size_t i = 0; i < p.n; i++)
				work_item_free(&p.items[i]);
			free(p.items);
			targets_free(p.quick, p.nquick);
			rc = -1;
			break;
		}
		dispatch_page(x, &p);
		if (x->failed || (x->opt->stop && atomic_load(x->opt->stop)))
			break;
	}
	collect_finished(x, 0);
	free(cursor_mailbox);
	return rc < 0 || x->failed ? -1 : 0;
}

struct valve_ctx {
	const struct config *cfg;
	struct sync_result *r;
};

static int check_valve(void *arg, const char *mailbox, int64_t deletions, int64_t owned)
{
	struct valve_ctx *v = arg;
	char msg[320];

	if (valve_blocks(v->cfg, mailbox, deletions, owned, msg, sizeof msg)) {
		v->r->blocked =
		    xrealloc(v->r->blocked, (v->r->nblocked + 1) * sizeof *v->r->blocked);
		v->r->blocked[v->r->nblocked++] = xstrdup(msg);
	}
	return 0;
}

/* Mailboxes where the queue would delete too much: left alone (deletions only) unless --force.
 * *skip lists them and the caller's own skip list; the strings are borrowed. */
static int apply_valve(const struct config *cfg, struct store *st, const struct sync_options *opt,
                       struct sync_result *r, const char ***skip, size_t *nskip, struct error *err)
{
	struct valve_ctx v = {cfg, r};
	size_t n = 0;

	if (!opt->force && store_pending_deletions(st, check_valve, &v, err) < 0)
		return -1;
	*skip = xcalloc(opt->nskip + r->nblocked + 1, sizeof **skip);
	for (size_t i = 0; i < opt->nskip; i++)
		(*skip)[n++] = opt->skip_mailboxes[i];
	for (size_t i = 0; i < r->nblocked; i++)
		(*skip)[n++] = r->blocked[i]; /* "MAILBOX: ..." — compared up to the colon below */
	*nskip = n;
	return 0;
}

static int requeue_for_resync(struct store *st, const struct sync_options *opt, struct error *err)
{
	const char *leave = opt->resync_leave, *mailbox = opt->resync_mailbox;

	if (!leave && !mailbox && !opt->resync_all)
		return 0;
	if (store_requeue_leaves(st, leave, mailbox, err) < 0)
		return -1;
	return store_requeue_targets(st, leave, mailbox, true, false, err);
}

int sync_run(const struct config *cfg, struct store *st, const struct sync_options *opt,
             struct sync_result *r, struct error *err)
{
	struct sync_options o = *opt;
	struct run_ctx x = {.cfg = cfg, .run_start = now_unix(), .st = st, .opt = &o, .r = r};
	struct backend_envs envs;
	struct state_counts counts;
	const char **skip = NULL;
	int rc;

	memset(r, 0, sizeof *r);
	if (instance_check(cfg, st, NULL, err) < 0) {
		r->config_error = true;
		return -1;
	}
	if (requeue_for_resync(st, opt, err) < 0 || render_pass(cfg, st, r, err) < 0)
		return -1;
	if (store_state_counts(st, &counts, err) < 0 ||
	    apply_valve(cfg, st, opt, r, &skip, &o.nskip, err) < 0)
		return -1;
	o.skip_mailboxes = skip;
	x.total = counts.dirty;
	backend_envs_init(&envs, cfg);
	envs.env[0].deadline_ms = envs.env[1].deadline_ms = opt->deadline_ms;
	if (backend_envs_check(&envs, cfg, err) < 0) {
		r->config_error = true;
		backend_envs_free(&envs);
		free(skip);
		return -1;
	}
	if (store_open(store_path(st), false, cfg->store_group, &x.stamper.st, err) < 0) {
		error_prefix(err, "cannot open a second connection to the store: ");
		backend_envs_free(&envs);
		free(skip);
		return -1;
	}
	pthread_mutex_init(&x.stamper.mu, NULL);
	x.pool = pool_new(backend_envs_get, &envs, cfg->concurrency, cfg->mailbox_concurrency);
	rc = run_queue(&x);
	pool_free(x.pool);
	pthread_mutex_destroy(&x.stamper.mu);
	store_close(x.stamper.st);
	backend_envs_free(&envs);
	free(skip);
	if (rc == 0 && store_count_deferred(st, now_unix(), &r->stats.deferred,
	                                    &r->stats.deferred_until, &x.err) < 0)
		rc = -1;
	if (rc == 0 && r->deadline_hit) {
		/* everything still queued: stopped, deferred and waiting alike */
		if (store_state_counts(st, &counts, &x.err) < 0)
			rc = -1;
		else
			r->stats.stopped = counts.dirty;
	}
	if (rc < 0)
		memcpy(err, &x.err, sizeof *err);
	return rc;
}

void sync_stats_to_run(const struct sync_stats *s, struct run_record *rec)
{
	rec->created = s->created;
	rec->updated = s->updated;
	rec->deleted = s->deleted;
	rec->adopted = s->adopted;
	rec->unchanged = s->unchanged;
	rec->failed = s->failed;
	rec->waiting = s->waiting;
}

void sync_result_free(struct sync_result *r)
{
	for (size_t i = 0; i < r->nkept; i++) {
		free(r->problems[i].mailbox);
		free(r->problems[i].leave_id);
		free(r->problems[i].state);
		free(r->problems[i].message);
	}
	free(r->problems);
	for (size_t i = 0; i < r->nblocked; i++)
		free(r->blocked[i]);
	free(r->blocked);
	memset(r, 0, sizeof *r);
}
