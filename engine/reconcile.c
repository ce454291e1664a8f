/* Reconcile: do the calendars hold exactly what the store says? For each mailbox, list the engine's
 * tagged events in a window (worker threads), compare them with the targets (main thread), fix the
 * store's beliefs (adopt moved ids, forget missing items, force rewrites of edited ones), delete
 * orphans and duplicates, then let the ordinary sync write what is left. Untagged events are never
 * touched: the backends' listings skip them. */
#include "common/redact.h"
#include "common/util.h"
#include "engine/envs.h"
#include "engine/pool.h"
#include "engine/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DELETE_ATTEMPTS 5

struct list_job {
	struct job job; /* first */
	char *mailbox;
	const char *mailboxes[1];
	int64_t from, to;
	/* the mailbox's targets, loaded before listing for a backend with list_events_known (NULL:
	 * loaded when compared), and what of them the backend may take as known */
	struct target *ts;
	size_t nts;
	bool have_ts;
	struct known_item *known;
	size_t nknown;
	struct remote_event *ev;
	size_t n;
	enum be_status status;
	struct error err;
	/* orphans and duplicates to delete, filled by the main thread, run in a second job */
	char **delete_ids;
	size_t ndelete;
	enum be_status *delete_status;
	char (*delete_msg)[256];
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static bool retryable(enum be_status st)
{
	return st == BE_RETRY_NOW || st == BE_RETRY_LATER;
}

/* The listings of up to max_batch mailboxes of one backend, run as one job: a backend that lists
 * several mailboxes per request (Graph app-only: calendarView in $batch) does so. */
#define GROUP_MAX 20

struct list_group {
	struct job job; /* first */
	size_t n;
	struct list_job *members[GROUP_MAX];
	const char *names[GROUP_MAX];
};

static void list_group_run(struct job *job, struct be_session *s, enum be_status open_status,
                           const struct error *open_err)
{
	struct list_group *g = (struct list_group *)job;
	struct mailbox_listing l[GROUP_MAX];

	memset(l, 0, sizeof l);
	for (size_t i = 0; i < g->n; i++) {
		struct list_job *lj = g->members[i];
		if (!s) {
			lj->status = open_status;
			lj->err = *open_err;
		}
		l[i].mailbox = lj->mailbox;
		l[i].known = lj->known;
		l[i].nknown = lj->nknown;
	}
	if (!s)
		return;
	list_mailboxes(job->be, s, l, g->n, g->members[0]->from, g->members[0]->to);
	for (size_t i = 0; i < g->n; i++) {
		struct list_job *lj = g->members[i];
		lj->ev = l[i].ev;
		lj->n = l[i].n;
		lj->status = l[i].status;
		lj->err = l[i].err;
	}
}

/* One pass over the deletions still to do; returns the longest server back-off hint (ms). */
static long delete_pass(struct list_job *lj, struct be_session *s, bool first)
{
	size_t max = lj->job.be->max_batch ? lj->job.be->max_batch : 1;
	size_t *idx = xcalloc(max, sizeof *idx);
	struct be_item *b = xcalloc(max, sizeof *b);
	long hint = 0;

	for (size_t i = 0; i < lj->ndelete;) {
		struct error err = {{0}};
		size_t n = 0;
		for (; i < lj->ndelete && n < max; i++)
			if (first || retryable(lj->delete_status[i]))
				idx[n++] = i;
		if (n == 0)
			break;
		for (size_t k = 0; k < n; k++) {
			memset(&b[k], 0, sizeof b[k]);
			b[k].mailbox = lj->mailbox;
			b[k].remote_id = lj->delete_ids[idx[k]];
		}
		lj->job.be->delete_events(s, b, n, &err);
		for (size_t k = 0; k < n; k++) {
			enum be_status st = b[k].status == BE_GONE ? BE_OK : b[k].status;
			lj->delete_status[idx[k]] = st;
			redact_message(lj->delete_msg[idx[k]], sizeof lj->delete_msg[idx[k]],
			               b[k].message[0] ? b[k].message : err.msg,
			               strlen(b[k].message[0] ? b[k].message : err.msg));
			if (b[k].retry_after_ms > hint)
				hint = b[k].retry_after_ms;
			be_item_clear(&b[k]);
		}
	}
	free(idx);
	free(b);
	return hint;
}

/* Orphans and duplicates of one mailbox, with in-run retries of throttled or failed requests
 * (deleting twice is harmless: gone counts as done). */
static void delete_job_run(struct job *job, struct be_session *s, enum be_status open_status,
                           const struct error *open_err)
{
	struct list_job *lj = (struct list_job *)job;

	if (!s) {
		for (size_t i = 0; i < lj->ndelete; i++) {
			lj->delete_status[i] = open_status;
			snprintf(lj->delete_msg[i], sizeof lj->delete_msg[i], "%s", open_err->msg);
		}
		return;
	}
	for (int attempt = 0; attempt < DELETE_ATTEMPTS; attempt++) {
		long hint = delete_pass(lj, s, attempt == 0), wait = 250L << attempt;
		bool again = false;
		for (size_t i = 0; i < lj->ndelete && !again; i++)
			again = retryable(lj->delete_status[i]);
		if (!again || attempt + 1 == DELETE_ATTEMPTS)
			return;
		sleep_ms(hint > wait ? hint : wait);
	}
}

static void list_job_free(struct list_job *lj)
{
	for (size_t i = 0; i < lj->n; i++)
		remote_event_free(&lj->ev[i]);
	for (size_t i = 0; i < lj->ndelete; i++)
		free(lj->delete_ids[i]);
	free(lj->delete_ids);
	free(lj->delete_status);
	free(lj->delete_msg);
	free(lj->ev);
	if (lj->have_ts)
		targets_free(lj->ts, lj->nts);
	free(lj->known);
	free(lj->mailbox);
	free(lj);
}

static struct finding *add_finding(struct reconcile_report *r, const char *mailbox,
                                   const struct target *t, const char *kind, const char *action,
                                   const char *detail)
{
	struct finding *f;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->findings = xrealloc(r->findings, r->cap * sizeof *r->findings);
	}
	f = &r->findings[r->n++];
	memset(f, 0, sizeof *f);
	f->mailbox = xstrdup(mailbox);
	f->leave_id = t ? xstrdup(t->leave_id) : NULL;
	f->sync_key = t ? xstrdup(t->sync_key) : NULL;
	f->kind = xstrdup(kind);
	f->action = xstrdup(action);
	f->result = xstrdup("planned");
	f->detail = xstrdup(detail);
	return f;
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = xstrdup(src);
}

/* reconcile --adopt-instance OLD: the backend also listed OLD's events (backend_env
 * also_instance); each gets the sync key it has under this store's instance, so that the comparison
 * finds its target, and renamed[e] says its tag must be rewritten. */
static void rekey_other_instances(struct list_job *lj, const char *instance, bool *renamed)
{
	for (size_t e = 0; e < lj->n; e++) {
		struct remote_event *re = &lj->ev[e];
		char key[SYNC_KEY_MAX];

		if (!re->ev.sync_key || sync_key_in_instance(re->ev.sync_key, instance))
			continue;
		sync_key_for_instance(re->ev.sync_key, instance, key);
		set_str(&re->ev.sync_key, key);
		renamed[e] = true;
	}
}

/* The comparison's verdicts as findings and as the store's new beliefs: adopt ids, forget missing
 * items, queue rewrites and retries (changed[i]: target i is to be saved; renamed[e]: listed event
 * e was tagged for the old instance). */
static void apply_comparison(struct reconcile_report *r, struct list_job *lj,
                             const struct mailbox_comparison *m, const bool *renamed,
                             struct target *ts, bool *changed)
{
	for (size_t e = 0; e < m->nev; e++) {
		const struct event_cmp *c = &m->ev[e];
		struct target *t = c->target ? &ts[c->target - 1] : NULL;
		struct finding *f;

		if (c->verdict == EV_DUPLICATED) {
			add_finding(r, lj->mailbox, t, "duplicated", "delete",
			            "two tagged events for one leave")
			    ->remote_id = xstrdup(lj->ev[e].remote_id);
		} else if (c->verdict == EV_ORPHANED) {
			f = add_finding(r, lj->mailbox, t, "orphaned", "delete",
			                "tagged event with no approved leave behind it");
			if (c->own_delete) { /* done by the repair run */
				t->dirty = true;
				t->next_attempt = 0;
				changed[c->target - 1] = true;
			} else {
				f->remote_id = xstrdup(lj->ev[e].remote_id);
			}
		}
	}
	for (size_t i = 0; i < m->nt; i++) {
		const struct target_cmp *c = &m->t[i];
		struct target *t = &ts[i];

		if (c->event) {
			const struct remote_event *re = &lj->ev[c->event - 1];
			if (c->adopt_new)
				r->adopted++;
			else if (c->stuck_found)
				add_finding(r, lj->mailbox, t, "stuck", "adopt",
				            "event found by its sync key");
			else if (c->moved)
				add_finding(r, lj->mailbox, t, "moved", "adopt",
				            "event found under a new id");
			if (c->ids_differ) {
				set_str(&t->remote_id, re->remote_id);
				set_str(&t->change_key, re->change_key);
				set_str(&t->backend, lj->job.be->name);
				changed[i] = true;
			}
			if (c->doubt) {
				/* A create in doubt is settled by the sync's lookup over the whole
				 * calendar (this listing sees one window only). */
				t->dirty = true;
				changed[i] = true;
			} else if (renamed[c->event - 1] && !c->unreadable) {
				/* its tag still names the old instance: every field and the
				 * new tag are written */
				r->renamed++;
				set_str(&t->synced, NULL);
				t->dirty = true;
				t->state = TS_PENDING;
				changed[i] = true;
			} else if (c->fields_differ) {
				if (c->edited)
					add_finding(r, lj->mailbox, t, "edited", "rewrite",
					            c->diff);
				set_str(&t->synced, NULL); /* rewrite every owned field */
				t->dirty = true;
				t->state = TS_PENDING;
				changed[i] = true;
			} else if (c->adopt_as_is) {
				set_str(&t->synced, t->desired); /* as it is: no write needed */
				t->state = TS_SYNCED;
				t->dirty = t->force = false;
				t->attempts = 0;
				set_str(&t->last_error, NULL);
				changed[i] = true;
			}
		} else if (c->stuck_absent) {
			add_finding(r, lj->mailbox, t, "stuck", "retry",
			            t->last_error ? t->last_error : target_state_name(t->state));
			t->dirty = true;
			t->next_attempt = 0;
			changed[i] = true;
		} else if (c->missing) {
			add_finding(r, lj->mailbox, t, "missing", "recreate",
			            "event gone from the calendar");
			set_str(&t->remote_id, NULL);
			set_str(&t->change_key, NULL);
			set_str(&t->synced, NULL);
			t->state = TS_PENDING;
			t->dirty = true;
			/* Missing from the window only: a person may have moved it out. The repair
			 * looks the sync key up over the whole calendar before creating (1: no
			 * grace needed, no create of ours is in flight; docs/sync-states.md). */
			t->create_sent_at = 1;
			changed[i] = true;
		}
	}
}

struct rec_ctx {
	const struct config *cfg;
	struct store *st;
	const struct reconcile_options *opt;
	struct reconcile_report *r;
	struct pool *pool;
	int64_t done, total;
	struct error err;
	int failed;
	struct list_group *open[2]; /* per backend: the group being filled */
	const struct backend *open_be[2];
	struct list_job **deletes; /* second-phase jobs */
	size_t ndeletes;
	char **skip;
	size_t nskip;
};

static bool mailbox_blocked(struct rec_ctx *x, const char *mailbox, size_t deletions, int64_t owned)
{
	char msg[320];

	if (x->opt->force ||
	    !valve_blocks(x->cfg, mailbox, (int64_t)deletions, owned, msg, sizeof msg))
		return false;
	x->r->blocked = xrealloc(x->r->blocked, (x->r->nblocked + 1) * sizeof *x->r->blocked);
	x->r->blocked[x->r->nblocked++] = xstrdup(msg);
	return true;
}

static size_t count_deletions(const struct reconcile_report *r, size_t first,
                              const struct target *ts, size_t nts)
{
	size_t n = 0;

	for (size_t i = first; i < r->n; i++)
		n += strcmp(r->findings[i].action, "delete") == 0 && r->findings[i].remote_id;
	for (size_t i = 0; i < nts; i++) /* cancelled leave still in the calendar */
		n += !ts[i].desired && ts[i].remote_id;
	return n;
}

static void block_findings(struct reconcile_report *r, size_t first)
{
	for (size_t i = first; i < r->n; i++) {
		if (strcmp(r->findings[i].action, "delete") == 0) {
			set_str(&r->findings[i].action, "none (safety valve)");
			set_str(&r->findings[i].result, "blocked: needs --force");
		}
	}
}

static void queue_deletes(struct rec_ctx *x, struct list_job *lj, size_t first)
{
	for (size_t i = first; i < x->r->n; i++) {
		struct finding *f = &x->r->findings[i];
		if (strcmp(f->action, "delete") != 0 || !f->remote_id)
			continue;
		lj->delete_ids =
		    xrealloc(lj->delete_ids, (lj->ndelete + 1) * sizeof *lj->delete_ids);
		lj->delete_ids[lj->ndelete++] = xstrdup(f->remote_id);
	}
}

static void mailbox_compared(struct rec_ctx *x, struct list_job *lj)
{
	struct mailbox_comparison m;
	struct target *ts = NULL;
	size_t nts = 0, first = x->r->n;
	bool *changed, *renamed;

	x->r->mailboxes++;
	if (lj->status != BE_OK) {
		struct finding *f;

		redact_message_in_place(lj->err.msg, sizeof lj->err.msg); /* quotes the server */
		f = add_finding(x->r, lj->mailbox, NULL, "unlisted", "none", lj->err.msg);
		set_str(&f->result, lj->err.msg[0] ? lj->err.msg : be_status_name(lj->status));
		list_job_free(lj);
		return;
	}
	x->r->listed += (int64_t)lj->n;
	if (lj->have_ts) { /* moved out: freed below */
		ts = lj->ts;
		nts = lj->nts;
		lj->ts = NULL;
		lj->nts = 0;
		lj->have_ts = false;
		free(lj->known);
		lj->known = NULL;
		lj->nknown = 0;
	} else if (store_mailbox_targets(x->st, lj->mailbox, &ts, &nts, &x->err) < 0) {
		x->failed = 1;
		list_job_free(lj);
		return;
	}
	renamed = xcalloc(lj->n + 1, sizeof *renamed);
	if (x->opt->adopt_instance)
		rekey_other_instances(lj, x->cfg->instance, renamed);
	compare_sort_targets(ts, nts);
	compare_mailbox(ts, nts, lj->ev, lj->n, lj->job.be->name, x->opt->from, x->opt->to, &m);
	changed = xcalloc(nts + 1, sizeof *changed);
	apply_comparison(x->r, lj, &m, renamed, ts, changed);
	if (mailbox_blocked(x, lj->mailbox, count_deletions(x->r, first, ts, nts), m.owned)) {
		block_findings(x->r, first);
		x->skip = xrealloc(x->skip, (x->nskip + 1) * sizeof *x->skip);
		x->skip[x->nskip++] = xstrdup(lj->mailbox);
	} else if (!x->opt->dry_run) {
		queue_deletes(x, lj, first);
	}
	if (!x->opt->dry_run) {
		struct target *save = xcalloc(nts + 1, sizeof *save);
		size_t k = 0;
		for (size_t i = 0; i < nts; i++)
			if (changed[i])
				save[k++] = ts[i]; /* shallow: saving only reads */
		if (k && store_save_targets(x->st, save, k, &x->err) < 0)
			x->failed = 1;
		free(save);
	}
	mailbox_comparison_free(&m);
	targets_free(ts, nts);
	free(changed);
	free(renamed);
	if (lj->ndelete) {
		lj->delete_status = xcalloc(lj->ndelete, sizeof *lj->delete_status);
		lj->delete_msg = xcalloc(lj->ndelete, sizeof *lj->delete_msg);
		x->deletes = xrealloc(x->deletes, (x->ndeletes + 1) * sizeof *x->deletes);
		x->deletes[x->ndeletes++] = lj;
	} else {
		list_job_free(lj);
	}
}

static void collect_lists(struct rec_ctx *x, size_t keep_in_flight)
{
	while (pool_pending(x->pool) > keep_in_flight) {
		struct list_group *g = (struct list_group *)pool_wait(x->pool);
		if (!g)
			break;
		for (size_t i = 0; i < g->n; i++) {
			mailbox_compared(x, g->members[i]);
			x->done++;
			if (x->opt->progress.update)
				x->opt->progress.update(x->opt->progress.arg, x->done, x->total);
		}
		free(g);
	}
}

static void submit_group(struct rec_ctx *x, struct list_group *g)
{
	g->job.mailboxes = g->names;
	g->job.nmailboxes = g->n;
	g->job.run = list_group_run;
	pool_submit(x->pool, &g->job);
	collect_lists(x, (size_t)x->cfg->concurrency * 4);
}

static int by_remote_id(const void *a, const void *b)
{
	return strcmp(((const struct known_item *)a)->remote_id,
	              ((const struct known_item *)b)->remote_id);
}

/* The targets of lj's mailbox, and as known the items this store wrote through lj's backend and
 * still holds the id and change key of: the backend need not read their fields again. */
static void load_known(struct rec_ctx *x, struct list_job *lj)
{
	if (store_mailbox_targets(x->st, lj->mailbox, &lj->ts, &lj->nts, &x->err) < 0) {
		x->failed = 1;
		return;
	}
	lj->have_ts = true;
	lj->known = xcalloc(lj->nts + 1, sizeof *lj->known);
	for (size_t i = 0; i < lj->nts; i++) {
		const struct target *t = &lj->ts[i];
		if (t->remote_id && t->change_key && t->synced &&
		    strcmp_null(t->backend, lj->job.be->name) == 0)
			lj->known[lj->nknown++] = (struct known_item){.remote_id = t->remote_id,
			                                              .change_key = t->change_key};
	}
	qsort(lj->known, lj->nknown, sizeof *lj->known, by_remote_id);
}

/* Adds mailbox to its backend's open group; a full group is submitted. */
static void submit_list(struct rec_ctx *x, const char *mailbox)
{
	struct list_job *lj = xcalloc(1, sizeof *lj);
	const struct backend *be = backend_by_name(config_backend_for(x->cfg, mailbox));
	size_t slot = be == x->open_be[0] || !x->open_be[0] ? 0 : 1;
	size_t max = be->list_events_many ? be->max_batch : 1;
	struct list_group *g;

	lj->mailbox = xstrdup(mailbox);
	lj->mailboxes[0] = lj->mailbox;
	lj->from = x->opt->from;
	lj->to = x->opt->to;
	lj->job.be = be;
	lj->job.mailboxes = lj->mailboxes;
	lj->job.nmailboxes = 1;
	if (be->list_events_known)
		load_known(x, lj);
	x->open_be[slot] = be;
	if (!x->open[slot]) {
		x->open[slot] = xcalloc(1, sizeof *x->open[slot]);
		x->open[slot]->job.be = be;
	}
	g = x->open[slot];
	g->members[g->n] = lj;
	g->names[g->n++] = lj->mailbox;
	if (g->n >= max || g->n >= GROUP_MAX) {
		x->open[slot] = NULL;
		submit_group(x, g);
	}
}

static void flush_groups(struct rec_ctx *x)
{
	for (size_t i = 0; i < 2; i++)
		if (x->open[i]) {
			struct list_group *g = x->open[i];
			x->open[i] = NULL;
			submit_group(x, g);
		}
}

static struct finding *finding_for_remote(struct reconcile_report *r, const char *mailbox,
                                          const char *remote_id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->findings[i].remote_id && strcmp(r->findings[i].remote_id, remote_id) == 0 &&
		    strcmp(r->findings[i].mailbox, mailbox) == 0)
			return &r->findings[i];
	return NULL;
}

/* Orphans and duplicates: deleted directly, one job per mailbox. */
static void run_deletes(struct rec_ctx *x)
{
	for (size_t i = 0; i < x->ndeletes; i++) {
		x->deletes[i]->job.run = delete_job_run;
		pool_submit(x->pool, &x->deletes[i]->job);
	}
	for (size_t i = 0; i < x->ndeletes; i++) {
		struct list_job *lj = (struct list_job *)pool_wait(x->pool);
		for (size_t k = 0; lj && k < lj->ndelete; k++) {
			struct finding *f =
			    finding_for_remote(x->r, lj->mailbox, lj->delete_ids[k]);
			if (f)
				set_str(&f->result,
				        lj->delete_status[k] == BE_OK ? "ok" : lj->delete_msg[k]);
		}
		if (lj)
			list_job_free(lj);
	}
	free(x->deletes);
	x->deletes = NULL;
	x->ndeletes = 0;
}

/* After the repair run: each finding's result is its target's state. */
static void settle_findings(struct rec_ctx *x)
{
	for (size_t i = 0; i < x->r->n; i++) {
		struct finding *f = &x->r->findings[i];
		struct target t;
		struct error err = {{0}};
		int found;

		if (strcmp(f->result, "planned") != 0 || !f->sync_key)
			continue;
		memset(&t, 0, sizeof t);
		found = store_target_by_sync_key(x->st, f->sync_key, &t, &err);
		if (found == 0 || (found == 1 && t.state == TS_SYNCED && !t.dirty))
			set_str(&f->result, "ok");
		else if (found == 1)
			set_str(&f->result,
			        t.last_error ? t.last_error : target_state_name(t.state));
		if (found == 1)
			target_free(&t);
	}
	for (size_t i = 0; i < x->r->n; i++)
		if (strcmp(x->r->findings[i].result, "ok") != 0)
			x->r->unrepaired++;
}

static int record_findings(struct rec_ctx *x)
{
	for (size_t i = 0; i < x->r->n && x->opt->run_id; i++) {
		const struct finding *f = &x->r->findings[i];
		struct drift_record d = {.run_id = x->opt->run_id,
		                         .at = now_unix(),
		                         .mailbox = f->mailbox,
		                         .leave_id = f->leave_id,
		                         .kind = f->kind,
		                         .action = f->action,
		                         .result = f->result,
		                         .detail = f->detail};
		if (store_add_drift(x->st, &d, &x->err) < 0)
			return -1;
	}
	return 0;
}

static int list_and_compare(struct rec_ctx *x)
{
	char **mailboxes = NULL;
	size_t n = 0;

	if (x->opt->mailbox) {
		mailboxes = xcalloc(1, sizeof *mailboxes);
		mailboxes[n++] = xstrdup(x->opt->mailbox);
	} else if (store_mailboxes(x->st, &mailboxes, &n, &x->err) < 0) {
		return -1;
	}
	x->total = (int64_t)n;
	for (size_t i = 0; i < n && !x->failed; i++)
		submit_list(x, mailboxes[i]);
	flush_groups(x);
	collect_lists(x, 0);
	for (size_t i = 0; i < n; i++)
		free(mailboxes[i]);
	free(mailboxes);
	return x->failed ? -1 : 0;
}

static int repair(struct rec_ctx *x, struct error *err)
{
	struct sync_options so = {.only_mailbox = x->opt->mailbox,
	                          .run_id = x->opt->run_id,
	                          .skip_mailboxes = (const char *const *)x->skip,
	                          .nskip = x->nskip,
	                          .force = x->opt->force,
	                          .progress = x->opt->progress};

	run_deletes(x);
	if (sync_run(x->cfg, x->st, &so, &x->r->sync, err) < 0)
		return -1;
	settle_findings(x);
	return record_findings(x);
}

int reconcile_run(const struct config *cfg, struct store *st, const struct reconcile_options *opt,
                  struct reconcile_report *r, struct error *err)
{
	struct rec_ctx x = {.cfg = cfg, .st = st, .opt = opt, .r = r};
	struct sync_result rendered = {0};
	struct backend_envs envs;
	int rc;

	memset(r, 0, sizeof *r);
	if (opt->adopt_instance && opt->dry_run)
		return r->sync.config_error = true,
		       error_set(err, "--adopt-instance changes the store: it cannot be a dry run");
	if (instance_check(cfg, st, opt->adopt_instance, err) < 0 ||
	    (opt->adopt_instance &&
	     instance_adopt(cfg, st, opt->adopt_instance, &r->rekeyed, err) < 0)) {
		r->sync.config_error = true;
		return -1;
	}
	if (render_pass(cfg, st, &rendered, err) < 0) {
		sync_result_free(&rendered);
		return -1;
	}
	backend_envs_init(&envs, cfg);
	for (int i = 0; i < 2; i++)
		envs.env[i].also_instance = opt->adopt_instance;
	if (backend_envs_check(&envs, cfg, err) < 0) {
		r->sync.config_error = true;
		backend_envs_free(&envs);
		sync_result_free(&rendered);
		return -1;
	}
	x.pool = pool_new(backend_envs_get, &envs, cfg->concurrency, cfg->mailbox_concurrency);
	rc = list_and_compare(&x);
	if (rc == 0 && !opt->dry_run) {
		rc = repair(&x, &x.err);
	} else if (rc == 0) {
		for (size_t i = 0; i < x.ndeletes; i++)
			list_job_free(x.deletes[i]);
		free(x.deletes);
		for (size_t i = 0; i < r->n; i++)
			set_str(&r->findings[i].action, "none (dry run)");
	}
	/* leave that could not be rendered count as failed items of the run */
	r->sync.stats.failed += rendered.stats.failed;
	for (size_t i = 0; i < rendered.nkept; i++)
		sync_add_problem(&r->sync, rendered.problems[i].mailbox,
		                 rendered.problems[i].leave_id, rendered.problems[i].state,
		                 rendered.problems[i].message);
	r->sync.nproblems += rendered.nproblems - rendered.nkept;
	sync_result_free(&rendered);
	pool_free(x.pool);
	backend_envs_free(&envs);
	for (size_t i = 0; i < x.nskip; i++)
		free(x.skip[i]);
	free(x.skip);
	if (rc < 0)
		*err = x.err;
	return rc;
}

void reconcile_report_free(struct reconcile_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct finding *f = &r->findings[i];
		free(f->mailbox);
		free(f->leave_id);
		free(f->kind);
		free(f->action);
		free(f->result);
		free(f->detail);
		free(f->sync_key);
		free(f->remote_id);
	}
	free(r->findings);
	for (size_t i = 0; i < r->nblocked; i++)
		free(r->blocked[i]);
	free(r->blocked);
	sync_result_free(&r->sync);
	memset(r, 0, sizeof *r);
}
