/* push --snapshot: the input is the whole truth for its scope (docs/store.md, "Full snapshots").
 *
 * The scope is a set of mailboxes (every address of some domains, a list of addresses, or without
 * either the mailboxes the input names) and a first day: leave starting before it is outside (HR
 * exports "all approved leave from today on", so yesterday's leave is absent from it without
 * being cancelled). Approved leave of the scope that the input does not hold is cancelled, its
 * revision kept, so that a later snapshot holding it again reinstates it. A safety valve refuses
 * a snapshot that would cancel too much of its scope: a truncated export must not empty
 * calendars. */
#include "store/push_int.h"
#include "store/store_int.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cancel_entry {
	char *id;
	char *mailbox;
	char *starts;
	int64_t revision;
};

void snapshot_init(struct snapshot *sn, const struct push_snapshot *opt, const struct strset *ids)
{
	memset(sn, 0, sizeof *sn);
	sn->opt = opt;
	sn->ids = ids;
	sn->now = now_unix();
	if (!opt->enabled)
		return;
	for (size_t i = 0; i < opt->nmailboxes; i++)
		strset_add(&sn->mailboxes, opt->mailboxes[i], strlen(opt->mailboxes[i]), 1);
	sn->from_input = opt->ndomains == 0 && opt->nmailboxes == 0;
}

void snapshot_free(struct snapshot *sn)
{
	struct cancel_entry *c = (struct cancel_entry *)sn->cancel;

	for (size_t i = 0; i < sn->ncancel; i++) {
		free(c[i].id);
		free(c[i].mailbox);
		free(c[i].starts);
	}
	free(sn->cancel);
	strset_free(&sn->mailboxes);
	memset(sn, 0, sizeof *sn);
}

static bool mailbox_in_scope(const struct snapshot *sn, const char *mailbox)
{
	const char *at = strrchr(mailbox, '@');

	if (strset_has(&sn->mailboxes, mailbox))
		return true;
	for (size_t i = 0; at && i < sn->opt->ndomains; i++)
		if (strcmp(at + 1, sn->opt->domains[i]) == 0)
			return true;
	return false;
}

/* "mailboxes @a.com, @b.com and the 12 mailboxes of FILE": what an explicit scope names. */
static void describe_mailboxes(const struct snapshot *sn, char *out, size_t len)
{
	const struct push_snapshot *o = sn->opt;
	size_t used = 0;

	out[0] = '\0';
	if (sn->from_input) {
		snprintf(out, len, "the %zu mailbox%s of the input", sn->mailboxes.n,
		         sn->mailboxes.n == 1 ? "" : "es");
		return;
	}
	for (size_t i = 0; i < o->ndomains && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s@%s", i ? ", " : "mailboxes ",
		                         o->domains[i]);
	if (o->nmailboxes && used < len)
		snprintf(out + used, len - used, "%sthe %zu mailbox%s %s%s", used ? " and " : "",
		         o->nmailboxes, o->nmailboxes == 1 ? "" : "es",
		         o->scope_source ? "of " : "listed",
		         o->scope_source ? o->scope_source : "");
}

void snapshot_check_record(struct snapshot *sn, const struct push_record *rec,
                           struct push_collector *pc, size_t problems_before)
{
	const struct push_value *mb = &rec->v[F_MAILBOX];
	char lower[256], scope[200];

	if (rec->malformed || !mb->present || mb->bad || mb->len == 0 || mb->len >= sizeof lower)
		return;
	for (size_t i = problems_before; i < pc->report->nproblems; i++)
		if (strcmp(pc->report->problems[i].field, "mailbox") == 0)
			return; /* already refused as an address */
	for (size_t i = 0; i < mb->len; i++)
		lower[i] = (char)((mb->s[i] >= 'A' && mb->s[i] <= 'Z') ? mb->s[i] + 32 : mb->s[i]);
	lower[mb->len] = '\0';
	if (sn->from_input) {
		strset_add(&sn->mailboxes, lower, mb->len, rec->number);
		return;
	}
	if (mailbox_in_scope(sn, lower))
		return;
	describe_mailboxes(sn, scope, sizeof scope);
	push_problem(pc, rec->number, "mailbox",
	             "%.100s is outside this snapshot's scope (%s): add it to the scope "
	             "(--mailbox-domain, --mailboxes-from) or push it without --snapshot",
	             lower, scope);
}

void snapshot_describe(const struct snapshot *sn, struct push_report *report)
{
	char mailboxes[160];
	char from[80];

	describe_mailboxes(sn, mailboxes, sizeof mailboxes);
	if (sn->opt->from)
		snprintf(from, sizeof from, "leave starting on or after %.10s", sn->opt->from);
	else
		snprintf(from, sizeof from, "leave starting today or later");
	snprintf(report->scope, sizeof report->scope, "%s; %s", mailboxes, from);
	report->scope_mailboxes = sn->from_input ? sn->mailboxes.n : sn->opt->nmailboxes;
	report->scope_empty = sn->from_input && sn->mailboxes.n == 0;
}

/* The scope's first day for a leave in zone: --from, or today in that zone (the engine's clock
 * through ICU; UTC when the zone is unknown or no clock was given). */
static const char *first_day(struct snapshot *sn, const char *zone)
{
	const size_t kept = sizeof sn->today / sizeof sn->today[0];
	char day[11], utc[21];
	size_t slot;

	if (sn->opt->from)
		return sn->opt->from;
	for (size_t i = 0; i < sn->ntoday && i < kept; i++)
		if (strcmp(sn->today[i].zone, zone ? zone : "") == 0)
			return sn->today[i].day;
	if (!zone || !sn->opt->today_in || sn->opt->today_in(zone, sn->now, day) < 0) {
		format_utc(utc, sn->now);
		memcpy(day, utc, 10);
		day[10] = '\0';
	}
	slot = sn->ntoday++ % kept; /* round robin: most stores hold leave of a few zones */
	snprintf(sn->today[slot].zone, sizeof sn->today[slot].zone, "%s", zone ? zone : "");
	memcpy(sn->today[slot].day, day, sizeof day);
	return sn->today[slot].day;
}

static void add_cancel(struct snapshot *sn, sqlite3_stmt *s)
{
	struct cancel_entry *c;

	if (sn->ncancel == sn->cancel_cap) {
		sn->cancel_cap = sn->cancel_cap ? sn->cancel_cap * 2 : 64;
		sn->cancel = xrealloc(sn->cancel, sn->cancel_cap * sizeof(struct cancel_entry));
	}
	c = &((struct cancel_entry *)sn->cancel)[sn->ncancel++];
	c->id = db_column_strdup(s, 0);
	c->mailbox = db_column_strdup(s, 1);
	c->starts = db_column_strdup(s, 2);
	c->revision = sqlite3_column_int64(s, 4);
}

int snapshot_plan(struct store *st, struct snapshot *sn, struct push_collector *pc,
                  struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	sn->in_scope = 0;
	if (sn->from_input && sn->mailboxes.n == 0)
		return 0;
	if (db_prepare(st,
	               "SELECT id, mailbox, starts, time_zone, revision FROM leave"
	               " WHERE status = 'approved' ORDER BY mailbox, starts, id",
	               &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		const char *mailbox = (const char *)sqlite3_column_text(s, 1);
		const char *starts = (const char *)sqlite3_column_text(s, 2);
		const char *zone = (const char *)sqlite3_column_text(s, 3);

		if (!id || !mailbox || !starts || !mailbox_in_scope(sn, mailbox) ||
		    strncmp(starts, first_day(sn, zone), 10) < 0)
			continue;
		sn->in_scope++;
		if (!strset_has(sn->ids, id))
			add_cancel(sn, s);
	}
	db_finish(st, s);
	pc->report->in_scope = (size_t)sn->in_scope;
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot read the snapshot's scope");
}

int snapshot_cancel(struct store *st, struct snapshot *sn, struct push_collector *pc,
                    const char *now, struct error *err)
{
	const struct cancel_entry *c = (const struct cancel_entry *)sn->cancel;
	sqlite3_stmt *s;

	if (sn->ncancel == 0)
		return 0;
	if (db_prepare(st,
	               "UPDATE leave SET status = 'cancelled', updated_at = ?2"
	               " WHERE id = ?1 AND status = 'approved'",
	               &s, err) < 0)
		return -1;
	for (size_t i = 0; i < sn->ncancel; i++) {
		struct buf q = BUF_INIT;

		sqlite3_reset(s);
		db_bind_text(s, 1, c[i].id);
		db_bind_text(s, 2, now);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_finish(st, s);
			return db_error(st, err, "cannot cancel leave absent from the snapshot");
		}
		if (sqlite3_changes(st->db) == 0)
			continue;
		pc->report->cancelled++;
		push_quote(&q, c[i].id, strlen(c[i].id));
		push_notice(pc,
		            "%s (%.100s, starting %.16s): approved but not in the snapshot: "
		            "cancelled (revision %lld kept)",
		            q.data, c[i].mailbox, c[i].starts, (long long)c[i].revision);
		buf_free(&q);
	}
	db_finish(st, s);
	return 0;
}

int snapshot_valve(const struct snapshot *sn, struct push_collector *pc, struct error *err)
{
	struct push_report *report = pc->report;
	const struct push_snapshot *o = sn->opt;
	int64_t n = (int64_t)sn->ncancel;
	bool over =
	    n > 0 && n >= o->min_cancel && (double)n > o->max_cancel_share * (double)sn->in_scope;

	if (!over)
		return 0;
	if (o->force) {
		push_notice(pc,
		            "safety valve passed with --force: cancelling %lld of %lld approved "
		            "leave entries of the scope",
		            (long long)n, (long long)sn->in_scope);
		return 0;
	}
	report->blocked = true;
	return error_set(err,
	                 "snapshot refused by the safety valve: it would cancel %lld of the %lld "
	                 "approved leave entries of its scope (%s), more than [push] "
	                 "snapshot_max_cancel = %g (%.0f%%); nothing was written. Check that the "
	                 "file is complete (a truncated export looks like this) and that the scope "
	                 "is right, then push it again with --force",
	                 (long long)n, (long long)sn->in_scope, report->scope, o->max_cancel_share,
	                 o->max_cancel_share * 100.0);
}
