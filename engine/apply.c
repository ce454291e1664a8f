/* The worker side of a sync: one write job = up to a page of targets of one backend, processed in
 * stages (lookups, creates, updates, deletes) with batched backend calls, then in-run retries. */
#include "engine/apply.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MAX_RETRIES 8 /* in-run retries in a row per item; then a later run tries again */
#define MAX_CONFLICTS 3
#define RETRY_SLACK_MS 100 /* items due this close together are retried in one wake-up */

typedef enum be_status (*write_fn)(struct be_session *s, struct be_item *items, size_t n,
                                   struct error *err);

static void replace_str(char **dst, const char *src)
{
	free(*dst);
	*dst = xstrdup(src);
}

/* Exponential backoff when the server gave no hint: 250 ms, 500 ms, ... capped at 8 s. The same
 * for items that failed together, so that they are retried together (the jitter is the job's). */
static int backoff_ms(int retries)
{
	int base = 250 << (retries < 5 ? retries : 5);

	return base > 8000 ? 8000 : base;
}

/* Up to a quarter more, so that jobs failing together do not come back together. */
static int64_t jittered(int64_t ms)
{
	unsigned int r = 0;

	if (ms <= 0 || getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		return ms;
	return ms + (int64_t)(r % (unsigned int)(ms / 4 + 1));
}

static void item_fail(struct work_item *it, enum be_status st, int retry_after_ms, const char *msg)
{
	it->status = st;
	it->retry_after_ms = retry_after_ms;
	snprintf(it->message, sizeof it->message, "%s", msg && *msg ? msg : be_status_name(st));
	switch (st) {
	case BE_RETRY_NOW:
	case BE_RETRY_LATER:
	case BE_CONFLICT: /* too many conflicts in a row: try again later */
		it->retry = true;
		it->ready_at_ms =
		    now_ms() + (retry_after_ms > 0 ? retry_after_ms : backoff_ms(it->retries));
		break;
	case BE_NEEDS_LOGIN:
	case BE_BLOCKED:
		it->action = ACT_DONE;
		it->outcome = OUT_WAITING;
		break;
	default:
		it->action = ACT_DONE;
		it->outcome = OUT_FAILED;
		break;
	}
}

/* The item's last request was answered: its back-off and retry count start again. */
static void item_progressed(struct work_item *it)
{
	it->retries = 0;
}

static void item_done(struct work_item *it, enum outcome out)
{
	it->action = ACT_DONE;
	it->outcome = out;
	it->retry = false;
	it->status = BE_OK;
	it->message[0] = '\0';
}

/* Indexes of the items due for `act` (not waiting for a retry), as chunks the backend accepts. */
static size_t next_chunk(const struct write_job *wj, enum action act, size_t *pos, size_t *idx)
{
	size_t n = 0, max = wj->job.be->max_batch ? wj->job.be->max_batch : 1;
	bool cross = wj->job.be->caps & CAP_CROSS_MAILBOX_BATCH;
	const char *mailbox = NULL;

	for (; *pos < wj->n && n < max; (*pos)++) {
		const struct work_item *it = &wj->items[*pos];
		if (it->action != act || it->retry)
			continue;
		if (!cross && mailbox && strcmp(mailbox, it->t.mailbox) != 0)
			break;
		mailbox = it->t.mailbox;
		idx[n++] = *pos;
	}
	return n;
}

static void fill_be_item(struct be_item *b, struct work_item *it)
{
	memset(b, 0, sizeof *b);
	b->mailbox = it->t.mailbox;
	b->ev = it->has_desired ? &it->desired : NULL;
	b->written = it->has_written ? &it->written : NULL;
	b->remote_id = it->t.remote_id;
	b->change_key = it->t.change_key;
	b->overwrite = it->overwrite;
	b->ctx = it;
}

static void adopt_ids(struct work_item *it, const struct be_item *b)
{
	if (b->new_remote_id)
		replace_str(&it->t.remote_id, b->new_remote_id);
	if (b->new_change_key)
		replace_str(&it->t.change_key, b->new_change_key);
}

/* The create protocol, worker side (docs/sync-states.md). An id is a definite yes; a per-item
 * error, a throttling answer (BE_RETRY_LATER: not processed) and a refused token or login are
 * definite noes. Anything else (no answer, a dropped connection, a timeout, a 5xx from a gateway,
 * an answer without an id, a conflict on the create's transactionId) leaves the create in doubt:
 * the next step is a lookup by sync key, never another create (resolve_lookup). */
static void on_created(struct write_job *wj, struct be_session *s, struct work_item *it,
                       struct be_item *b)
{
	bool in_doubt = b->status == BE_OK || b->status == BE_RETRY_NOW ||
	                b->status == BE_CONFLICT || b->status == BE_GONE;

	(void)wj;
	(void)s;
	if (b->status == BE_OK && b->new_remote_id) {
		adopt_ids(it, b);
		item_done(it, OUT_CREATED);
		return;
	}
	item_fail(it, in_doubt ? BE_RETRY_NOW : b->status, b->retry_after_ms,
	          b->status == BE_OK ? "create answered without an item id" : b->message);
	if (!in_doubt || it->action == ACT_DONE)
		return;
	it->doubt_at = it->send_unix;
	it->action = ACT_LOOKUP_CREATE;
}

/* Seconds until "nothing found" may settle a create in doubt: the server may still be executing
 * a request whose answer was lost (or whose sender was killed) and land it after an earlier
 * lookup. Whole seconds, so one more to be sure. 0: now. */
static int64_t grace_left(const struct write_job *wj, const struct work_item *it)
{
	int64_t left = it->doubt_at ? it->doubt_at + wj->create_grace_s + 1 - now_unix() : 0;

	return left > 0 ? left : 0;
}

static void set_written(struct work_item *it, const struct event *ev)
{
	if (it->has_written)
		event_free(&it->written);
	event_copy(&it->written, ev);
	it->has_written = true;
}

/* The item is gone from the calendar (deleted by a person or the server): create it again. */
static void recreate_missing(struct work_item *it)
{
	snprintf(it->drift_kind, sizeof it->drift_kind, "missing");
	snprintf(it->drift_detail, sizeof it->drift_detail, "event deleted in the calendar");
	free(it->t.remote_id);
	free(it->t.change_key);
	it->t.remote_id = it->t.change_key = NULL;
	it->action = ACT_CREATE;
}

/* A stale change key: re-read, record whether a person changed owned fields, rewrite them. */
static void repair_conflict(struct write_job *wj, struct be_session *s, struct work_item *it)
{
	struct remote_event re;
	struct error err = {{0}};
	enum be_status st;

	memset(&re, 0, sizeof re);
	wj->conflicts++;
	wj->requests++;
	st = wj->job.be->get_event(s, it->t.mailbox, it->t.remote_id, &re, &err);
	if (st == BE_GONE) {
		recreate_missing(it);
		return;
	}
	if (st != BE_OK) {
		item_fail(it, st, 0, err.msg);
		return;
	}
	if (it->has_written && !event_owned_equal(&re.ev, &it->written)) {
		snprintf(it->drift_kind, sizeof it->drift_kind, "edited");
		event_owned_diff(&re.ev, &it->written, it->drift_detail, sizeof it->drift_detail);
	}
	if (re.change_key)
		replace_str(&it->t.change_key, re.change_key);
	if (re.remote_id && strcmp(re.remote_id, it->t.remote_id) != 0)
		replace_str(&it->t.remote_id, re.remote_id);
	if (it->has_desired && event_owned_equal(&re.ev, &it->desired)) {
		item_done(it, OUT_ADOPTED);
	} else if (++it->conflicts > MAX_CONFLICTS) {
		item_fail(it, BE_CONFLICT, 0, "the item keeps changing while being written");
	} else {
		set_written(it, &re.ev);
		it->action = ACT_UPDATE;
		/* Drift is recorded; HR's fields win now whatever the key says: Exchange Online
		 * moves change keys on its own, even right after a read
		 * (OfficeDev/ews-managed-api#249), so a guarded retry could lose every time
		 * (docs/ews.md, "Change keys"). */
		it->overwrite = true;
	}
	remote_event_free(&re);
}

static void on_updated(struct write_job *wj, struct be_session *s, struct work_item *it,
                       struct be_item *b)
{
	if (b->status == BE_OK) {
		adopt_ids(it, b);
		item_done(it, OUT_UPDATED);
	} else if (b->status == BE_CONFLICT) {
		item_progressed(it);
		repair_conflict(wj, s, it);
	} else if (b->status == BE_GONE) {
		item_progressed(it);
		recreate_missing(it);
	} else {
		item_fail(it, b->status, b->retry_after_ms, b->message);
	}
}

static void on_deleted(struct write_job *wj, struct be_session *s, struct work_item *it,
                       struct be_item *b)
{
	(void)wj;
	(void)s;
	if (b->status == BE_OK || b->status == BE_GONE)
		item_done(it, OUT_DELETED);
	else
		item_fail(it, b->status, b->retry_after_ms, b->message);
}

/* The create protocol's durable intent (docs/sync-states.md): create_sent_at = now for the items
 * about to be created (state creating too), deleted or overwritten, committed before the request
 * leaves. When it cannot be recorded, nothing is sent (a definite no: the items are retried). */
static int stamp_intent(struct write_job *wj, const size_t *idx, size_t n, bool creating)
{
	int64_t *ids = xcalloc(n, sizeof *ids), when = now_unix();
	struct error err = {{0}};
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		ids[i] = wj->items[idx[i]].t.id;
	if (wj->stamper) {
		pthread_mutex_lock(&wj->stamper->mu);
		rc = store_mark_create_sent(wj->stamper->st, ids, n, when, creating, &err);
		pthread_mutex_unlock(&wj->stamper->mu);
	} else {
		error_set(&err, "internal: no store to record creates in");
	}
	free(ids);
	for (size_t i = 0; i < n; i++) {
		struct work_item *it = &wj->items[idx[i]];
		if (rc == 0) {
			it->send_unix = when;
			/* a delete or an overwrite stays in doubt until its answer says it is
			 * done (finalize_item clears it): a killed run's request may land later */
			if (!creating)
				it->doubt_at = when;
		} else {
			char msg[sizeof err.msg + 64];
			snprintf(msg, sizeof msg, "not sent: %s", err.msg);
			item_fail(it, BE_RETRY_LATER, 0, msg);
		}
	}
	return rc;
}

/* An overwrite (the update sent after a stale change key was re-read, repair_conflict) carries no
 * key that a newer write could make stale, so a killed run's overwrite landing after the next run
 * wrote newer dates would put the older ones back. Its intent is recorded like a delete's
 * (docs/sync-states.md). Returns how many of the chunk's items are left to send: an overwrite
 * whose intent could not be recorded is not sent (it is retried). */
static size_t stamp_overwrites(struct write_job *wj, size_t *idx, size_t n)
{
	size_t *ow = xcalloc(n, sizeof *ow), k = 0, left = 0;

	for (size_t i = 0; i < n; i++)
		if (wj->items[idx[i]].overwrite)
			ow[k++] = idx[i];
	if (k)
		stamp_intent(wj, ow, k, false);
	free(ow);
	for (size_t i = 0; i < n; i++)
		if (!wj->items[idx[i]].retry)
			idx[left++] = idx[i];
	return left;
}

static void run_writes(struct write_job *wj, struct be_session *s, enum action act, write_fn fn,
                       void (*on_result)(struct write_job *, struct be_session *,
                                         struct work_item *, struct be_item *))
{
	size_t max = wj->job.be->max_batch ? wj->job.be->max_batch : 1;
	size_t *idx = xcalloc(max, sizeof *idx), pos = 0, n;
	struct be_item *b = xcalloc(max, sizeof *b);

	while ((n = next_chunk(wj, act, &pos, idx)) > 0) {
		struct error err = {{0}};
		if ((act == ACT_CREATE || act == ACT_DELETE) &&
		    stamp_intent(wj, idx, n, act == ACT_CREATE) < 0)
			continue;
		if (act == ACT_UPDATE && (n = stamp_overwrites(wj, idx, n)) == 0)
			continue;
		for (size_t i = 0; i < n; i++)
			fill_be_item(&b[i], &wj->items[idx[i]]);
		wj->requests++;
		fn(s, b, n, &err);
		for (size_t i = 0; i < n; i++) {
			if (b[i].status != BE_OK && !b[i].message[0] && err.msg[0])
				snprintf(b[i].message, sizeof b[i].message, "%s", err.msg);
			on_result(wj, s, &wj->items[idx[i]], &b[i]);
			be_item_clear(&b[i]);
		}
	}
	free(idx);
	free(b);
}

struct found {
	struct remote_event *ev;
	size_t n, cap;
};

static int collect_found(void *arg, struct remote_event *re)
{
	struct found *f = arg;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->ev = xrealloc(f->ev, f->cap * sizeof *f->ev);
	}
	f->ev[f->n++] = *re; /* take ownership */
	memset(re, 0, sizeof *re);
	return 0;
}

/* Deletes the extra events of one sync key. Returns the number left (a failed delete): the lookup
 * is then done again, so that the key ends with one event. */
static size_t delete_duplicates(struct write_job *wj, struct be_session *s, struct work_item *it,
                                struct remote_event **dups, size_t ndups, struct be_item *failed)
{
	size_t left = 0;

	for (size_t i = 0; i < ndups; i++) {
		struct be_item b;
		struct error err = {{0}};
		memset(&b, 0, sizeof b);
		b.mailbox = it->t.mailbox;
		b.remote_id = dups[i]->remote_id;
		wj->requests++;
		wj->job.be->delete_events(s, &b, 1, &err);
		if (b.status == BE_OK || b.status == BE_GONE) {
			it->duplicates_deleted++;
		} else {
			left++;
			failed->status = b.status;
			failed->retry_after_ms = b.retry_after_ms;
			snprintf(failed->message, sizeof failed->message,
			         "deleting a duplicate event: %s",
			         b.message[0] ? b.message : err.msg);
		}
		be_item_clear(&b);
	}
	if (it->duplicates_deleted) {
		snprintf(it->drift_kind, sizeof it->drift_kind, "duplicated");
		snprintf(it->drift_detail, sizeof it->drift_detail,
		         "%d extra tagged event%s deleted", it->duplicates_deleted,
		         it->duplicates_deleted == 1 ? "" : "s");
	}
	return left;
}

/* After a lookup: adopt what was found (deleting duplicates), or fall back to create. */
static void resolve_lookup(struct write_job *wj, struct be_session *s, struct work_item *it,
                           struct found *f)
{
	struct remote_event *keep = NULL, **dups = xcalloc(f->n + 1, sizeof *dups);
	size_t ndups = 0;

	item_progressed(it);
	for (size_t i = 0; i < f->n; i++) {
		struct remote_event *re = &f->ev[i];
		if (!re->ev.sync_key || strcmp(re->ev.sync_key, it->t.sync_key) != 0)
			continue;
		if (!keep ||
		    (it->t.remote_id && strcmp_null(re->remote_id, it->t.remote_id) == 0)) {
			if (keep)
				dups[ndups++] = keep;
			keep = re;
		} else {
			dups[ndups++] = re;
		}
	}
	struct be_item failed;
	memset(&failed, 0, sizeof failed);
	if (delete_duplicates(wj, s, it, dups, ndups, &failed) > 0) {
		free(dups);
		/* looked up again later; retry keeps the action */
		item_fail(it, failed.status == BE_RETRY_LATER ? BE_RETRY_LATER : BE_RETRY_NOW,
		          failed.retry_after_ms, failed.message);
		return;
	}
	free(dups);
	if (!keep) {
		int64_t left = grace_left(wj, it);
		if (left > 0) {
			/* too early to trust "nothing": look again once the grace is over */
			char sent[21], cause[sizeof it->message];

			it->retry = true;
			it->ready_at_ms = now_ms() + left * 1000;
			format_utc(sent, it->doubt_at);
			/* keep what made the create doubtful (a dropped answer, a refused field):
			 * the admin needs it more than the protocol step */
			snprintf(
			    cause, sizeof cause, "%s%s",
			    it->message[0] && !strstr(it->message, "may still land") ? it->message
			                                                             : "",
			    it->message[0] && !strstr(it->message, "may still land") ? "; " : "");
			snprintf(it->message, sizeof it->message,
			         "%sthe create sent at %s may still land: looked up again "
			         "[sync] create_grace after it",
			         cause, sent);
			return;
		}
		it->doubt_at = 0; /* nothing was created, nothing is in flight */
		if (it->action == ACT_LOOKUP_CREATE)
			it->action = ACT_CREATE;
		else
			item_done(it, OUT_DELETED);
		return;
	}
	if (it->action == ACT_LOOKUP_CREATE && it->t.remote_id && grace_left(wj, it) > 0) {
		/* A delete or an overwrite of this event was sent by a run that did not learn its
		 * outcome (killed, or the answer lost) and the leave wants an event: that request
		 * may still land after anything written now, so an event found now is no more
		 * trusted than one not found. Look again once the grace is over
		 * (docs/sync-states.md). */
		char sent[21];

		format_utc(sent, it->doubt_at);
		it->retry = true;
		it->ready_at_ms = now_ms() + grace_left(wj, it) * 1000;
		snprintf(it->message, sizeof it->message,
		         "a delete or overwrite sent at %s may still land: looked up again [sync] "
		         "create_grace after it",
		         sent);
		return;
	}
	replace_str(&it->t.remote_id, keep->remote_id);
	replace_str(&it->t.change_key, keep->change_key);
	if (it->action == ACT_LOOKUP_DELETE) {
		it->action = ACT_DELETE;
	} else if (it->has_desired && event_owned_equal(&keep->ev, &it->desired)) {
		item_done(it, OUT_ADOPTED);
	} else {
		set_written(it, &keep->ev);
		it->action = ACT_UPDATE;
	}
}

static void run_lookups(struct write_job *wj, struct be_session *s)
{
	for (int pass = 0; pass < 2; pass++) {
		enum action act = pass == 0 ? ACT_LOOKUP_CREATE : ACT_LOOKUP_DELETE;
		size_t max = wj->job.be->max_batch ? wj->job.be->max_batch : 1;
		size_t *idx = xcalloc(max, sizeof *idx), pos = 0, n;
		const char **keys = xcalloc(max, sizeof *keys);
		bool cross = wj->job.be->caps & CAP_CROSS_MAILBOX_BATCH;

		/* find_by_sync_keys takes one mailbox: chunk per mailbox even when writes may
		 * cross. */
		while ((n = next_chunk(wj, act, &pos, idx)) > 0) {
			struct found f = {0};
			struct error err = {{0}};
			size_t k = 0, start = 0;
			enum be_status st;
			for (size_t i = 0; i < n; i++) {
				if (cross && i > start &&
				    strcmp(wj->items[idx[i]].t.mailbox,
				           wj->items[idx[start]].t.mailbox))
					break;
				keys[k++] = wj->items[idx[i]].t.sync_key;
			}
			if (k < n)
				pos = idx[k]; /* the rest of the chunk is another mailbox: next
				                 round */
			wj->requests++;
			st = wj->job.be->find_by_sync_keys(s, wj->items[idx[0]].t.mailbox, keys, k,
			                                   collect_found, &f, &err);
			for (size_t i = 0; i < k; i++) {
				struct work_item *it = &wj->items[idx[i]];
				if (st == BE_OK)
					resolve_lookup(wj, s, it, &f);
				else
					item_fail(it, st, 0, err.msg);
			}
			for (size_t i = 0; i < f.n; i++)
				remote_event_free(&f.ev[i]);
			free(f.ev);
		}
		free(idx);
		free(keys);
	}
}

static bool any_action(const struct write_job *wj, bool retrying)
{
	for (size_t i = 0; i < wj->n; i++)
		if (wj->items[i].action != ACT_DONE && wj->items[i].retry == retrying)
			return true;
	return false;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void run_stages(struct write_job *wj, struct be_session *s)
{
	/* Follow-ups (conflict -> update, gone -> create) run in the same round. */
	for (int step = 0; step < 2 * MAX_CONFLICTS + 2 && any_action(wj, false); step++) {
		run_lookups(wj, s);
		run_writes(wj, s, ACT_CREATE, wj->job.be->create_events, on_created);
		run_writes(wj, s, ACT_UPDATE, wj->job.be->update_events, on_updated);
		run_writes(wj, s, ACT_DELETE, wj->job.be->delete_events, on_deleted);
	}
}

static bool past_deadline(const struct write_job *wj, int64_t extra_ms)
{
	return wj->deadline_ms && now_ms() + extra_ms >= wj->deadline_ms;
}

static bool waits_for_retry(const struct work_item *it)
{
	return it->action != ACT_DONE && it->retry && it->retries < MAX_RETRIES;
}

/* The earliest moment an item waiting for a retry is due; INT64_MAX when none waits. */
static int64_t next_ready(const struct write_job *wj)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < wj->n; i++)
		if (waits_for_retry(&wj->items[i]) && wj->items[i].ready_at_ms < next)
			next = wj->items[i].ready_at_ms;
	return next;
}

void write_job_run(struct job *job, struct be_session *s, enum be_status open_status,
                   const struct error *open_err)
{
	struct write_job *wj = (struct write_job *)job;
	int max_wait = wj->max_wait_ms > 0 ? wj->max_wait_ms : 60000;
	int64_t start = now_ms();
	bool stopped = false;

	if (past_deadline(wj, 0)) { /* queued before the deadline, started after it */
		stopped = true;
		goto finish;
	}
	if (!s) {
		/* A session fails to open for the setup's sake (config, CA file): the items wait
		 * for the fix, and the next plain sync writes them. */
		for (size_t i = 0; i < wj->n; i++)
			item_fail(&wj->items[i], open_status == BE_FINAL ? BE_BLOCKED : open_status,
			          0, open_err->msg);
		goto finish;
	}
	/* Each item waiting for a retry runs again once its own delay (server hint, back-off, or
	 * the grace of a create in doubt) is over, at most MAX_RETRIES times, while the job's
	 * waiting budget lasts; what is left goes back to the executor for a later run. Every
	 * retry waits at least 250 ms (a hint, the back-off, or a whole second of grace), so the
	 * budget ends the loop. */
	for (;;) {
		int64_t next, now;
		run_stages(wj, s);
		next = next_ready(wj);
		if (next == INT64_MAX || next - start > max_wait)
			break;
		now = now_ms();
		if (past_deadline(wj, next > now ? next - now : 0)) {
			stopped = true; /* no retry fits before the run's deadline */
			break;
		}
		if (next > now)
			sleep_ms((int)jittered(next - now));
		now = now_ms() + RETRY_SLACK_MS;
		for (size_t i = 0; i < wj->n; i++) {
			struct work_item *it = &wj->items[i];
			if (waits_for_retry(it) && it->ready_at_ms <= now) {
				it->retry = false;
				it->retry_after_ms = 0;
				it->retries++;
				wj->retried++;
			}
		}
	}
finish:
	for (size_t i = 0; i < wj->n; i++) {
		struct work_item *it = &wj->items[i];
		if (it->action != ACT_DONE) {
			it->action = ACT_DONE;
			it->outcome = stopped ? OUT_STOPPED : OUT_RETRY;
		}
	}
}

void work_item_free(struct work_item *it)
{
	target_free(&it->t);
	if (it->has_desired)
		event_free(&it->desired);
	if (it->has_written)
		event_free(&it->written);
}

void write_job_free(struct write_job *wj)
{
	if (!wj)
		return;
	for (size_t i = 0; i < wj->n; i++)
		work_item_free(&wj->items[i]);
	free(wj->items);
	free(wj->mailboxes);
	free(wj);
}
