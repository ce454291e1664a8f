/* What a mailbox holds against what the store says: the comparison reconcile repairs from and
 * `leavesync calendar` shows. Pure: it reads the targets and the listed events and writes only
 * its verdicts; what to do about them is the caller's business. Also the listing itself, with
 * reconcile's retries. */
#include "common/util.h"
#include "engine/sync.h"
#include "engine/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_ATTEMPTS 5

static int by_key(const void *a, const void *b)
{
	const struct target *x = a, *y = b;

	return strcmp(x->sync_key, y->sync_key);
}

void compare_sort_targets(struct target *ts, size_t n)
{
	if (n)
		qsort(ts, n, sizeof *ts, by_key);
}

static const struct target *target_for_key(const struct target *ts, size_t n, const char *key)
{
	struct target k = {.sync_key = (char *)key};

	return key && n ? bsearch(&k, ts, n, sizeof *ts, by_key) : NULL;
}

/* The event overlaps the window (so its absence from the listing means it is missing). */
static bool in_window(const struct event *ev, int64_t from, int64_t to)
{
	int64_t s, e;

	if (tz_local_to_unix(ev->start, ev->time_zone, &s) < 0 ||
	    tz_local_to_unix(ev->end, ev->time_zone, &e) < 0)
		return false;
	return s < to && e > from;
}

/* First pass, one listed event: an orphan, or a candidate for its target. Of several events for one
 * target the one whose id the store knows is kept; the others are duplicates. */
static void classify_event(struct mailbox_comparison *m, const struct target *ts, size_t nts,
                           const struct remote_event *ev, size_t e)
{
	const struct remote_event *re = &ev[e];
	const struct target *t = target_for_key(ts, nts, re->ev.sync_key);
	struct event_cmp *c = &m->ev[e];
	size_t i = t ? (size_t)(t - ts) : 0;
	struct target_cmp *tc = t ? &m->t[i] : NULL;

	m->owned++;
	c->target = t ? i + 1 : 0;
	if (t && t->unrenderable) { /* its leave cannot be rendered now: the event stays */
		c->verdict = EV_KEPT;
		if (!tc->event)
			tc->event = e + 1;
		return;
	}
	if (!t || !t->desired) {
		c->verdict = EV_ORPHANED;
		/* The target's own event, which its delete (queued) removes. */
		c->own_delete = t && strcmp_null(t->remote_id, re->remote_id) == 0;
		return;
	}
	c->verdict = EV_KEPT;
	if (!tc->event) {
		tc->event = e + 1;
		return;
	}
	if (strcmp_null(t->remote_id, re->remote_id) == 0) {
		m->ev[tc->event - 1].verdict = EV_DUPLICATED;
		tc->event = e + 1;
	} else {
		c->verdict = EV_DUPLICATED;
	}
}

static void compare_fields(struct target_cmp *c, const struct target *t, const struct event *have,
                           const struct event *want)
{
	if (!event_owned_equal(have, want)) {
		c->fields_differ = true;
		event_owned_diff(have, want, c->diff, sizeof c->diff);
		c->edited = t->state == TS_SYNCED && strcmp_null(t->synced, t->desired) == 0;
	} else if (t->state != TS_SYNCED || strcmp_null(t->synced, t->desired) != 0) {
		c->adopt_as_is = true;
	}
}

/* Second pass, a target and its event: ids to adopt, fields a person changed. */
static void compare_kept(struct target_cmp *c, const struct target *t,
                         const struct remote_event *re, const char *backend)
{
	struct error err = {{0}};
	struct event want;

	if (!t->remote_id && !t->synced)
		c->adopt_new = true; /* a new or rebuilt store meeting its event: not drift */
	else if (t->state != TS_SYNCED || !t->remote_id)
		c->stuck_found = true;
	else if (strcmp(t->remote_id, re->remote_id) != 0 && strcmp_null(t->backend, backend) == 0)
		c->moved = true; /* (under another backend the id differs by nature: a migration) */
	c->ids_differ = strcmp_null(t->remote_id, re->remote_id) ||
	                strcmp_null(t->change_key, re->change_key) ||
	                strcmp_null(t->backend, backend);
	c->in_window = true; /* it was listed */
	if (t->unrenderable) /* failed until HR changes the row: the event stays as it is */
		return;
	if (t->create_sent_at) { /* a create in doubt: the sync's lookup settles it */
		c->doubt = true;
		return;
	}
	if (event_from_vevent(t->desired, &want, &err) < 0) {
		c->unreadable = true;
		return;
	}
	if (re->fields_unread) {
		/* Unchanged since the engine wrote t->synced (same id and change key): its fields
		 * are that text's. Listed as known only with both keys equal and synced set; if
		 * not, it is treated as differing, which rewrites it. */
		struct event written;
		bool same_write = t->synced && strcmp_null(t->remote_id, re->remote_id) == 0 &&
		                  strcmp_null(t->change_key, re->change_key) == 0 &&
		                  event_from_vevent(t->synced, &written, &err) == 0;
		if (!same_write) {
			c->fields_differ = true;
			snprintf(c->diff, sizeof c->diff, "unread");
		} else {
			compare_fields(c, t, &written, &want);
			event_free(&written);
		}
		event_free(&want);
		return;
	}
	compare_fields(c, t, &re->ev, &want);
	event_free(&want);
}

/* A target with no event found: missing, stuck, not written yet, or outside the window. */
static void compare_absent(struct target_cmp *c, const struct target *t, int64_t from, int64_t to)
{
	struct error err = {{0}};
	struct event ev;

	if (!t->desired || t->unrenderable)
		return;
	if (event_from_vevent(t->desired, &ev, &err) < 0) {
		c->unreadable = true;
	} else {
		c->in_window = in_window(&ev, from, to);
		event_free(&ev);
	}
	if (t->state == TS_CREATING || t->state == TS_FAILED || t->state == TS_WAITING)
		c->stuck_absent = true;
	else if (!t->remote_id)
		c->pending = true;
	else if (!c->unreadable && c->in_window)
		c->missing = true;
}

void compare_mailbox(const struct target *ts, size_t nts, const struct remote_event *ev, size_t nev,
                     const char *backend, int64_t from, int64_t to, struct mailbox_comparison *out)
{
	memset(out, 0, sizeof *out);
	out->ev = xcalloc(nev + 1, sizeof *out->ev);
	out->t = xcalloc(nts + 1, sizeof *out->t);
	out->nev = nev;
	out->nt = nts;
	for (size_t e = 0; e < nev; e++)
		classify_event(out, ts, nts, ev, e);
	for (size_t i = 0; i < nts; i++) {
		if (out->t[i].event)
			compare_kept(&out->t[i], &ts[i], &ev[out->t[i].event - 1], backend);
		else
			compare_absent(&out->t[i], &ts[i], from, to);
	}
}

void mailbox_comparison_free(struct mailbox_comparison *m)
{
	free(m->ev);
	free(m->t);
	memset(m, 0, sizeof *m);
}

/* ---- listing ---- */

struct collected {
	struct remote_event *ev;
	size_t n, cap;
};

static int collect_event(void *arg, struct remote_event *re)
{
	struct collected *c = arg;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->ev = xrealloc(c->ev, c->cap * sizeof *c->ev);
	}
	c->ev[c->n++] = *re;
	memset(re, 0, sizeof *re);
	return 0;
}

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

static enum be_status list_known(const struct backend *be, struct be_session *s,
                                 const char *mailbox, int64_t from, int64_t to,
                                 const struct known_item *known, size_t nknown,
                                 struct remote_event **out, size_t *n, int64_t *untagged,
                                 struct error *err);

enum be_status list_mailbox(const struct backend *be, struct be_session *s, const char *mailbox,
                            int64_t from, int64_t to, struct remote_event **out, size_t *n,
                            int64_t *untagged, struct error *err)
{
	return list_known(be, s, mailbox, from, to, NULL, 0, out, n, untagged, err);
}

static enum be_status list_known(const struct backend *be, struct be_session *s,
                                 const char *mailbox, int64_t from, int64_t to,
                                 const struct known_item *known, size_t nknown,
                                 struct remote_event **out, size_t *n, int64_t *untagged,
                                 struct error *err)
{
	struct collected c = {0};
	enum be_status st = BE_OK;

	/* Reading is safe to repeat: a throttled, dropped or garbled listing is tried again (what
	 * the failed attempt collected is dropped), backing off from 250 ms, before the mailbox
	 * counts as unlisted. */
	for (int attempt = 0; attempt < LIST_ATTEMPTS; attempt++) {
		error_clear(err);
		if (untagged)
			*untagged = 0;
		if (untagged && be->list_events_counted)
			st = be->list_events_counted(s, mailbox, from, to, collect_event, &c,
			                             untagged, err);
		else if (known && be->list_events_known)
			st = be->list_events_known(s, mailbox, from, to, known, nknown,
			                           collect_event, &c, err);
		else
			st = be->list_events(s, mailbox, from, to, collect_event, &c, err);
		if (!retryable(st))
			break;
		for (size_t i = 0; i < c.n; i++)
			remote_event_free(&c.ev[i]);
		c.n = 0;
		if (attempt + 1 < LIST_ATTEMPTS)
			sleep_ms(250L << attempt);
	}
	if (untagged && !be->list_events_counted)
		*untagged = -1;
	*out = c.ev;
	*n = c.n;
	return st;
}

void list_mailboxes(const struct backend *be, struct be_session *s, struct mailbox_listing *l,
                    size_t n, int64_t from, int64_t to)
{
	struct collected *c = xcalloc(n ? n : 1, sizeof *c);
	const char **names = xcalloc(n ? n : 1, sizeof *names);
	void **args = xcalloc(n ? n : 1, sizeof *args);
	enum be_status *status = xcalloc(n ? n : 1, sizeof *status);
	struct error *errs = xcalloc(n ? n : 1, sizeof *errs);

	for (size_t i = 0; i < n; i++) {
		names[i] = l[i].mailbox;
		args[i] = &c[i];
		status[i] = BE_RETRY_NOW; /* listed alone below unless the shared call lists it */
	}
	if (be->list_events_many && n > 1)
		be->list_events_many(s, names, n, from, to, collect_event, args, status, errs);
	for (size_t i = 0; i < n; i++) {
		if (retryable(status[i])) {
			for (size_t k = 0; k < c[i].n; k++)
				remote_event_free(&c[i].ev[k]);
			free(c[i].ev);
			l[i].status = list_known(be, s, l[i].mailbox, from, to, l[i].known,
			                         l[i].nknown, &l[i].ev, &l[i].n, NULL, &l[i].err);
			continue;
		}
		l[i].status = status[i];
		l[i].err = errs[i];
		l[i].ev = c[i].ev;
		l[i].n = c[i].n;
	}
	free(c);
	free(names);
	free(args);
	free(status);
	free(errs);
}
