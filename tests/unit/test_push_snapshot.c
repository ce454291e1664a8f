/* store_push with dry_run and snapshot: a dry run reports exactly what the real push then does and
 * changes nothing (a random property test, its seed printed); the snapshot's scope (domains, a
 * list, the input's mailboxes, the first day per zone or --from), cancellations that keep the
 * revision and are reinstated by a later snapshot, two HR systems on two domains, an empty and a
 * truncated snapshot, records outside the scope, and the safety valve. */
#include "store/store.h"
#include "store/store_int.h" /* white box: the store's own connection, to dump it */
#include "tests/unit/tap.h"

#include "common/buf.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/test_push_snapshot.XXXXXX";
static char path[256];

static bool tz_known(const char *iana)
{
	return strcmp(iana, "UTC") == 0 || strcmp(iana, "Europe/Riga") == 0 ||
	       strcmp(iana, "Pacific/Kiritimati") == 0;
}

/* A clock that says today is 2027-03-10 in UTC and Riga, and already 2027-03-11 in Kiritimati. */
static int fake_today(const char *iana, int64_t now, char out[11])
{
	(void)now;
	snprintf(out, 11, "%s",
	         strcmp(iana, "Pacific/Kiritimati") == 0 ? "2027-03-11" : "2027-03-10");
	return 0;
}

static struct push_options base_options(void)
{
	struct push_options o = {.format = PUSH_NDJSON,
	                         .max_leave_days = 366,
	                         .tz_known = tz_known,
	                         .default_time_zone = "UTC"};
	o.snapshot.today_in = fake_today;
	o.snapshot.max_cancel_share = 0.2; /* the defaults of [push] */
	o.snapshot.min_cancel = 10;
	return o;
}

/* Everything in the store that a push may change, as one string. */
static char *dump(struct store *st)
{
	static const char *const queries[] = {
	    "SELECT id, mailbox, kind, starts, ends, time_zone, status, quote(note), revision,"
	    " updated_at FROM leave ORDER BY id",
	    "SELECT leave_id, seq, deleted FROM leave_dirty ORDER BY seq",
	    "SELECT id, leave_id, outcome, status, revision FROM leave_revision ORDER BY id",
	    "SELECT after_id, last_id, via FROM leave_revision_source ORDER BY after_id"};
	struct buf b = BUF_INIT;

	for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
		sqlite3_stmt *s;
		sqlite3_prepare_v2(st->db, queries[q], -1, &s, NULL);
		while (sqlite3_step(s) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(s); i++)
				buf_printf(&b, "%s|", sqlite3_column_text(s, i));
			buf_puts(&b, "\n");
		}
		sqlite3_finalize(s);
		buf_puts(&b, "--\n");
	}
	return buf_steal(&b);
}

static int run_push(struct store *st, const char *data, const struct push_options *o,
                    struct push_report *rep, struct error *err)
{
	memset(err, 0, sizeof *err);
	return store_push(st, data, strlen(data), o, rep, err);
}

static const char *status_of(struct store *st, const char *id)
{
	static char out[32];
	struct leave lv;
	struct error err = {""};

	if (store_get_leave(st, id, &lv, &err) != 1)
		return "absent";
	snprintf(out, sizeof out, "%s/%lld", lv.status, (long long)lv.revision);
	leave_free(&lv);
	return out;
}

static void line(struct buf *b, const char *id, const char *mailbox, const char *start,
                 const char *status, int revision, const char *tz)
{
	buf_printf(b,
	           "{\"id\":\"%s\",\"mailbox\":\"%s\",\"kind\":\"Annual leave\",\"start\":\"%s\","
	           "\"end\":\"%s\",\"status\":\"%s\",\"revision\":%d,\"time_zone\":\"%s\"}\n",
	           id, mailbox, start, start, status, revision, tz);
}

/* ---- a dry run is the real push, rolled back ---- */

static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

static const char *const mailboxes[] = {"a@one.com", "b@one.com", "c@two.com", "d@two.com"};

/* A random input over a small space of ids, so that inserts, updates, unchanged, stale and
 * absent (cancelled) records all happen. */
static char *random_input(unsigned *seed)
{
	struct buf b = BUF_INIT;
	bool used[24] = {false};
	int n = (int)(rnd(seed) % 16);

	buf_puts(&b, "");
	for (int k = 0; k < n; k++) {
		int id = (int)(rnd(seed) % 24);
		char sid[16], start[11];
		if (used[id])
			continue;
		used[id] = true;
		snprintf(sid, sizeof sid, "R-%02d", id);
		snprintf(start, sizeof start, "2027-03-%02d", 5 + (int)(rnd(seed) % 10));
		line(&b, sid, mailboxes[id % 4], start, rnd(seed) % 5 ? "approved" : "cancelled",
		     1 + (int)(rnd(seed) % 3), rnd(seed) % 2 ? "UTC" : "Europe/Riga");
	}
	return buf_steal(&b);
}

static bool same_report(const struct push_report *a, const struct push_report *b)
{
	if (a->records != b->records || a->inserted != b->inserted || a->updated != b->updated ||
	    a->unchanged != b->unchanged || a->stale != b->stale || a->cancelled != b->cancelled ||
	    a->in_scope != b->in_scope || a->blocked != b->blocked || a->nnotices != b->nnotices ||
	    a->nproblems != b->nproblems)
		return false;
	for (size_t i = 0; i < a->nnotices; i++)
		if (strcmp(a->notices[i], b->notices[i]) != 0)
			return false;
	return true;
}

static void test_dry_run_agrees(struct store *st)
{
	const char *env = getenv("LS_TEST_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
	unsigned start = seed;
	int disagreements = 0, changed = 0, rounds = 300;

	for (int r = 0; r < rounds; r++) {
		struct push_options o = base_options();
		struct push_report dry, real;
		struct error e1, e2;
		char *input = random_input(&seed), *before, *after;
		const char *domain = "one.com";
		int rc1, rc2;

		o.snapshot.enabled = rnd(&seed) % 2;
		if (o.snapshot.enabled && rnd(&seed) % 2) {
			o.snapshot.domains = &domain;
			o.snapshot.ndomains = 1;
		}
		o.snapshot.min_cancel = (int64_t)(rnd(&seed) % 4);
		o.snapshot.force = rnd(&seed) % 2;
		o.dry_run = true;
		before = dump(st);
		rc1 = run_push(st, input, &o, &dry, &e1);
		after = dump(st);
		if (strcmp(before, after) != 0 && changed++ == 0)
			printf("# round %d: the dry run changed the store\n", r);
		o.dry_run = false;
		rc2 = run_push(st, input, &o, &real, &e2);
		if ((rc1 != rc2 || !same_report(&dry, &real) || strcmp(e1.msg, e2.msg) != 0) &&
		    disagreements++ == 0)
			printf("# round %d: dry run rc %d (%zu ins, %zu upd, %zu canc) vs real %d "
			       "(%zu, %zu, %zu): %s / %s\n",
			       r, rc1, dry.inserted, dry.updated, dry.cancelled, rc2, real.inserted,
			       real.updated, real.cancelled, e1.msg, e2.msg);
		push_report_free(&dry);
		push_report_free(&real);
		free(before);
		free(after);
		free(input);
	}
	if (!ok(disagreements == 0 && changed == 0,
	        "%d random pushes (snapshots or not, valve or not): each dry run reported what "
	        "the real push then did, and changed nothing",
	        rounds))
		printf("# seed %u (rerun with LS_TEST_SEED=%u): %d disagreements, %d dry runs "
		       "changed the store\n",
		       start, start, disagreements, changed);
}

/* ---- scopes ---- */

static void reset(struct store *st)
{
	sqlite3_exec(st->db,
	             "DELETE FROM leave; DELETE FROM leave_dirty; DELETE FROM leave_revision;",
	             NULL, NULL, NULL);
}

/* 12 approved leave entries in each of two domains (HR system A owns one.com, B two.com), from
 * 2027-03-10 on, and one that started yesterday. */
static char *two_systems(const char *domain, int first, int n)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "");
	for (int i = first; i < first + n; i++) {
		char id[16], mb[64], start[11];
		snprintf(id, sizeof id, "%s-%02d", domain[0] == 'o' ? "A" : "B", i);
		snprintf(mb, sizeof mb, "u%d@%s", i % 3, domain);
		snprintf(start, sizeof start, "2027-%02d-%02d", 3 + i / 20, 10 + i % 18);
		line(&b, id, mb, start, "approved", 1, "UTC");
	}
	return buf_steal(&b);
}

static void test_two_hr_systems(struct store *st)
{
	struct push_options o = base_options();
	const char *one = "one.com", *two = "two.com";
	struct push_report rep;
	struct error err;
	char *a = two_systems("one.com", 0, 12), *b = two_systems("two.com", 0, 12), *a_less;

	reset(st);
	ok(run_push(st, a, &o, &rep, &err) == 0 && run_push(st, b, &o, &rep, &err) == 0,
	   "HR systems A (one.com) and B (two.com) push their leave");
	push_report_free(&rep);
	a_less = two_systems("one.com", 0, 9); /* A deleted three leave entries */
	o.snapshot.enabled = true;
	o.snapshot.domains = &one;
	o.snapshot.ndomains = 1;
	ok(run_push(st, a_less, &o, &rep, &err) == 0, "A's snapshot of one.com");
	is_int((long long)rep.cancelled, 3, "cancels A's three missing entries");
	is_int((long long)rep.in_scope, 12, "of the 12 approved in its scope");
	is_str(status_of(st, "A-10"), "cancelled/1", "one of them cancelled, its revision kept");
	is_str(status_of(st, "B-10"), "approved/1", "B's leave is untouched");
	push_report_free(&rep);
	o.snapshot.domains = &two;
	int rc = run_push(st, a_less, &o, &rep, &err);
	ok(rc < 0 && rep.nproblems == 9 &&
	       strstr(rep.problems[0].reason, "outside this snapshot's scope (mailboxes @two.com)"),
	   "A's file pushed as a snapshot of two.com is refused record by record: %s",
	   rep.nproblems ? rep.problems[0].reason : err.msg);
	push_report_free(&rep);
	is_str(status_of(st, "B-01"), "approved/1", "and changed nothing of B's");
	o.snapshot.domains = &one;
	ok(run_push(st, a, &o, &rep, &err) == 0 && rep.updated == 3 && rep.cancelled == 0,
	   "A's next full snapshot holds the three again");
	is_str(status_of(st, "A-10"), "approved/1", "and reinstates them (same revision)");
	push_report_free(&rep);
	free(a);
	free(b);
	free(a_less);
}

static void test_empty_and_truncated(struct store *st)
{
	struct push_options o = base_options(), plain = base_options();
	const char *one = "one.com";
	struct push_report rep;
	struct error err;
	char *a = two_systems("one.com", 0, 40), *half = two_systems("one.com", 0, 20), *before,
	     *after;

	reset(st);
	run_push(st, a, &o, &rep, &err);
	push_report_free(&rep);
	o.snapshot.enabled = true;
	before = dump(st);
	ok(run_push(st, "", &o, &rep, &err) == 0 && rep.scope_empty && rep.cancelled == 0,
	   "an empty snapshot without a scope option has an empty scope and cancels nothing");
	push_report_free(&rep);
	o.snapshot.domains = &one;
	o.snapshot.ndomains = 1;
	ok(run_push(st, "", &o, &rep, &err) < 0 && rep.blocked && rep.cancelled == 40,
	   "an empty snapshot of one.com would cancel all 40: the valve refuses it");
	ok(strstr(err.msg, "would cancel 40 of the 40 approved leave entries of its scope "
	                   "(mailboxes @one.com; leave starting today or later)") &&
	       strstr(err.msg, "--force"),
	   "naming the numbers, the scope and --force: %s", err.msg);
	push_report_free(&rep);
	ok(run_push(st, half, &o, &rep, &err) < 0 && rep.blocked && rep.cancelled == 20 &&
	       strstr(err.msg, "would cancel 20 of the 40"),
	   "a truncated snapshot (the last half missing) is refused too");
	push_report_free(&rep);
	after = dump(st);
	is_str(after, before, "nothing was written by any of them");
	free(after);
	o.snapshot.max_cancel_share = 0.6;
	ok(run_push(st, half, &o, &rep, &err) == 0 && rep.cancelled == 20,
	   "with snapshot_max_cancel 0.6 the half passes");
	push_report_free(&rep);
	reset(st);
	run_push(st, a, &plain, &rep, &err);
	push_report_free(&rep);
	o.snapshot.max_cancel_share = 0.2;
	o.snapshot.force = true;
	ok(run_push(st, half, &o, &rep, &err) == 0 && rep.cancelled == 20 && rep.nnotices == 21 &&
	       strstr(rep.notices[20], "safety valve passed with --force: cancelling 20 of 40"),
	   "--force passes the valve, and says so");
	push_report_free(&rep);
	o.snapshot.force = false;
	reset(st);
	char *few = two_systems("one.com", 0, 8);
	run_push(st, few, &plain, &rep, &err);
	push_report_free(&rep);
	ok(run_push(st, "", &o, &rep, &err) == 0 && rep.cancelled == 8,
	   "below snapshot_min_cancel (10) the valve does not apply: an empty snapshot of 8 "
	   "cancels them");
	push_report_free(&rep);
	free(few);
	free(before);
	free(a);
	free(half);
}

static void test_first_day(struct store *st)
{
	struct push_options o = base_options();
	const char *one = "one.com";
	struct push_report rep;
	struct error err;
	struct buf b = BUF_INIT;

	reset(st);
	line(&b, "Y", "a@one.com", "2027-03-09", "approved", 1, "UTC"); /* yesterday */
	line(&b, "T", "a@one.com", "2027-03-10", "approved", 1, "UTC"); /* today */
	line(&b, "K", "a@one.com", "2027-03-10", "approved", 1,
	     "Pacific/Kiritimati"); /* yesterday there */
	buf_puts(&b, "{\"id\":\"P\",\"mailbox\":\"a@one.com\",\"kind\":\"Doctor\","
	             "\"start\":\"2027-03-10T09:00\",\"end\":\"2027-03-10T11:00\",\"status\":"
	             "\"approved\",\"time_zone\":\"Europe/Riga\"}\n");
	run_push(st, b.data, &o, &rep, &err);
	push_report_free(&rep);
	o.snapshot.enabled = true;
	o.snapshot.domains = &one;
	o.snapshot.ndomains = 1;
	o.snapshot.min_cancel = 0;
	o.snapshot.force = true;
	ok(run_push(st, "", &o, &rep, &err) == 0 && rep.in_scope == 2 && rep.cancelled == 2,
	   "an empty snapshot: today's all-day and part-day leave are in the scope");
	is_str(status_of(st, "Y"), "approved/1", "leave that started yesterday is outside it");
	is_str(status_of(st, "K"), "approved/1",
	       "so is leave of today's date in a zone where today is already tomorrow");
	is_str(status_of(st, "T"), "cancelled/1", "today's is cancelled");
	push_report_free(&rep);
	o.snapshot.from = "2027-03-01";
	ok(run_push(st, "", &o, &rep, &err) == 0 && rep.cancelled == 2,
	   "--from 2027-03-01 widens the scope to the earlier leave");
	is_str(status_of(st, "Y"), "cancelled/1", "which is then cancelled");
	push_report_free(&rep);
	buf_free(&b);
}

static void test_listed_mailboxes(struct store *st)
{
	struct push_options o = base_options(), plain = base_options();
	const char *list[] = {"u0@one.com", "u1@two.com"};
	struct push_report rep;
	struct error err;
	char *a = two_systems("one.com", 0, 6), *b = two_systems("two.com", 0, 6);

	reset(st);
	run_push(st, a, &o, &rep, &err);
	push_report_free(&rep);
	run_push(st, b, &o, &rep, &err);
	push_report_free(&rep);
	o.snapshot.enabled = true;
	o.snapshot.mailboxes = list;
	o.snapshot.nmailboxes = 2;
	o.snapshot.scope_source = "hr-b.txt";
	o.snapshot.min_cancel = 0;
	o.snapshot.max_cancel_share = 1;
	ok(run_push(st, "", &o, &rep, &err) == 0 && rep.in_scope == 4 && rep.cancelled == 4,
	   "a listed scope: only the listed mailboxes' leave is cancelled");
	is_str(rep.scope, "the 2 mailboxes of hr-b.txt; leave starting today or later",
	       "and the scope is described");
	is_str(status_of(st, "A-00"), "cancelled/1", "u0@one.com's leave is cancelled");
	is_str(status_of(st, "A-01"), "approved/1", "u1@one.com's is not");
	push_report_free(&rep);
	o.snapshot.mailboxes = NULL;
	o.snapshot.nmailboxes = 0;
	char *one_mailbox = two_systems("one.com", 0, 1); /* A-00 of u0@one.com only */
	reset(st);
	run_push(st, a, &plain, &rep, &err);
	push_report_free(&rep);
	ok(run_push(st, one_mailbox, &o, &rep, &err) == 0 && rep.scope_mailboxes == 1 &&
	       rep.in_scope == 2 && rep.cancelled == 1,
	   "no scope option: the input's mailboxes are the scope (u0@one.com: A-03 cancelled)");
	is_str(status_of(st, "A-03"), "cancelled/1", "A-03 (u0) is cancelled");
	is_str(status_of(st, "A-01"), "approved/1", "other mailboxes' leave is not");
	push_report_free(&rep);
	free(one_mailbox);
	free(a);
	free(b);
}

int main(void)
{
	struct store *st = NULL;
	struct error err = {""};

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/leavesync.db", dir);
	if (store_open(path, true, NULL, &st, &err) < 0) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	test_dry_run_agrees(st);
	test_two_hr_systems(st);
	test_empty_and_truncated(st);
	test_first_day(st);
	test_listed_mailboxes(st);
	store_close(st);
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
