/* store/leave_history.c and the triggers of schema step 4: every revision of a leave (push, direct
 * SQL, deletes that keep no content), every render, write and failure of its targets with the run
 * it happened in, failures once per reason, drift in the same timeline, limits, and pruning with
 * the run history. The target saves follow the executor's order: the intent first, then the
 * outcome. */
#include "store/store.h"
#include "tests/unit/tap.h"

#include "common/buf.h"
#include "common/util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_leave_history.XXXXXX";
static char path[256];

static bool tz_known(const char *iana)
{
	return strcmp(iana, "UTC") == 0 || strcmp(iana, "Europe/Riga") == 0;
}

static int push(struct store *st, const char *data)
{
	struct push_options o = {.format = PUSH_AUTO,
	                         .max_leave_days = 366,
	                         .tz_known = tz_known,
	                         .default_time_zone = "UTC"};
	struct push_report rep;
	struct error err = {""};
	int rc = store_push(st, data, strlen(data), &o, &rep, &err);

	if (rc < 0)
		printf("# push: %s (%zu problems)\n", err.msg, rep.nproblems);
	push_report_free(&rep);
	return rc;
}

static int sql_ok(const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	sqlite3_open(path, &db);
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		printf("# sql: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK;
}

/* Revisions as "outcome/via/revision/status" lines. */
static int add_revision(void *arg, const struct leave_revision *r)
{
	buf_printf(arg, "%s/%s/%lld/%s\n", r->outcome, r->via ? r->via : "sql",
	           (long long)r->lv.revision, r->lv.status ? r->lv.status : "-");
	return 0;
}

static char *revisions(struct store *st, const char *id, size_t limit, int64_t *total)
{
	struct buf b = BUF_INIT;
	struct error err = {""};

	buf_puts(&b, "");
	if (store_each_leave_revision(st, id, limit, add_revision, &b, total, &err) < 0)
		printf("# revisions: %s\n", err.msg);
	return buf_steal(&b);
}

/* The story as "source:action[:run][:detail]" lines. */
static int add_entry(void *arg, const struct leave_story_entry *e)
{
	buf_printf(arg, "%s:%s", e->source, e->action);
	if (e->run_id)
		buf_printf(arg, ":run%lld", (long long)e->run_id);
	if (e->kind)
		buf_printf(arg, ":%s", e->kind);
	if (e->detail)
		buf_printf(arg, ":%s", e->detail);
	buf_puts(arg, "\n");
	return 0;
}

static char *story(struct store *st, const char *id, int64_t *total)
{
	struct buf b = BUF_INIT;
	struct error err = {""};

	buf_puts(&b, "");
	if (store_each_leave_story(st, id, 1000, add_entry, &b, total, &err) < 0)
		printf("# story: %s\n", err.msg);
	return buf_steal(&b);
}

static int get_target(struct store *st, const char *key, struct target *t)
{
	struct error err = {""};

	return store_target_by_sync_key(st, key, t, &err);
}

static void set(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

static void save(struct store *st, struct target *t)
{
	struct error err = {""};

	if (store_save_targets(st, t, 1, &err) < 0)
		printf("# save: %s\n", err.msg);
}

static const char rev1[] =
    "{\"id\":\"LV-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\","
    "\"start\":\"2027-01-04\",\"end\":\"2027-01-08\",\"status\":\"approved\",\"revision\":1}";

static void test_revisions(struct store *st)
{
	int64_t total;
	char *s;

	ok(push(st, rev1) == 0, "push revision 1");
	ok(push(st, rev1) == 0, "push it again (unchanged)");
	ok(sql_ok("UPDATE leave SET ends = '2027-01-09', revision = 2 WHERE id = 'LV-1'"),
	   "HR changes it with SQL");
	ok(push(st, rev1) == 0, "a push of the older revision 1 (stale)");
	s = revisions(st, "LV-1", 100, &total);
	is_str(s, "stored/push/1/approved\nstored/sql/2/approved\nstale/push/1/approved\n",
	       "each stored change once (an unchanged push adds none), its source, and the stale "
	       "push");
	is_int(total, 3, "total counts them");
	free(s);
	s = revisions(st, "LV-1", 2, &total);
	is_str(s, "stored/sql/2/approved\nstale/push/1/approved\n",
	       "a limit keeps the newest, oldest first");
	is_int(total, 3, "and the total says there are more");
	free(s);
	ok(sql_ok("UPDATE leave SET updated_at = '2030-01-01T00:00:00Z' WHERE id = 'LV-1'"),
	   "touching only updated_at");
	s = revisions(st, "LV-1", 100, &total);
	is_int(total, 3, "is not a revision");
	free(s);
	ok(push(st, "{\"id\":\"LV-9\",\"mailbox\":\"bob@contoso.com\",\"kind\":\"Annual leave\","
	            "\"start\":\"2027-01-04\",\"end\":\"2027-01-08\",\"status\":\"approved\","
	            "\"note\":\"private matter\"}") == 0 &&
	       sql_ok("DELETE FROM leave WHERE id = 'LV-9'"),
	   "a leave with a note is pushed, then deleted with SQL");
	s = revisions(st, "LV-9", 100, &total);
	is_str(s, "deleted/sql/0/-\n", "a deleted leave keeps only the fact, not its content");
	free(s);
}

/* The executor's sequence for one create, one update, failures and a delete. */
static void test_target_story(struct store *st)
{
	struct error err = {""};
	struct target t;
	int64_t run = 0, total;
	char *s;

	ok(store_run_begin(st, "sync", &run, &err) == 0, "a run begins");
	ok(store_set_desired(st, "LV-1", "alice@contoso.com", "k1", "V1", &err) == 0, "render");
	get_target(st, "k1", &t);
	t.state = TS_CREATING; /* the intent, committed before the create is sent */
	save(st, &t);
	t.state = TS_SYNCED;
	set(&t.synced, "V1");
	set(&t.remote_id, "R1");
	set(&t.change_key, "CK1");
	set(&t.backend, "ews");
	t.dirty = false;
	save(st, &t);
	target_free(&t);
	store_set_desired(st, "LV-1", "alice@contoso.com", NULL, "V2", &err);
	get_target(st, "k1", &t);
	t.state = TS_CREATING; /* an update's intent: nothing known of the remote fields */
	set(&t.synced, NULL);
	save(st, &t);
	t.state = TS_SYNCED;
	set(&t.synced, "V2");
	set(&t.change_key, "CK2");
	t.dirty = false;
	save(st, &t);
	target_free(&t);
	struct run_record rec = {.id = run, .command = "sync"};
	ok(store_run_end(st, &rec, &err) == 0, "the run ends");

	store_set_desired(st, "LV-1", "alice@contoso.com", NULL, "V3", &err);
	get_target(st, "k1", &t);
	for (int i = 1; i <= 3; i++) { /* throttled three times: one row */
		t.attempts = i;
		set(&t.last_error, "ErrorServerBusy: the server is busy");
		save(st, &t);
	}
	t.state = TS_FAILED;
	t.dirty = false;
	set(&t.last_error, "ErrorServerBusy: the server is busy");
	save(st, &t);
	target_free(&t);
	s = story(st, "LV-1", &total);
	is_str(s,
	       "target:rendered:run1\ntarget:created:run1\ntarget:rendered:run1\n"
	       "target:updated:run1\ntarget:rendered\n"
	       "target:retry later:ErrorServerBusy: the server is busy\n"
	       "target:failed:ErrorServerBusy: the server is busy\n",
	       "render, create, update with their run; outside a run none; a retried failure "
	       "once, and once more when it becomes final");
	free(s);

	store_requeue_targets(st, "LV-1", NULL, true, false, &err);
	store_set_desired(st, "LV-1", "alice@contoso.com", NULL, NULL, &err);
	get_target(st, "k1", &t);
	set(&t.synced, NULL); /* the delete's intent */
	save(st, &t);
	t.state = TS_SYNCED;
	set(&t.remote_id, NULL);
	set(&t.change_key, NULL);
	set(&t.last_error, NULL);
	t.dirty = t.force = false;
	save(st, &t);
	target_free(&t);
	is_int(get_target(st, "k1", &t), 0, "the target row is gone after its delete");
	s = story(st, "LV-1", &total);
	ok(strstr(s, "target:queued for a rewrite (resync)\n") &&
	       strstr(s, "target:rendered:no event wanted (cancelled, moved or a kind not "
	                 "synced)\ntarget:deleted\n"),
	   "a resync and the delete are in the story, which outlives the target");
	free(s);

	/* reconcile meeting an event a new store never wrote, and drift it found */
	store_set_desired(st, "LV-2", "bob@contoso.com", "k2", "W1", &err);
	get_target(st, "k2", &t);
	t.state = TS_SYNCED;
	set(&t.synced, "W1");
	set(&t.remote_id, "R2");
	t.dirty = false;
	save(st, &t);
	set(&t.remote_id, NULL); /* reconcile: missing */
	set(&t.synced, NULL);
	t.state = TS_PENDING;
	t.dirty = true;
	save(st, &t);
	target_free(&t);
	struct drift_record d = {.run_id = 1,
	                         .at = now_unix() + 5,
	                         .mailbox = "bob@contoso.com",
	                         .leave_id = "LV-2",
	                         .kind = "missing",
	                         .action = "recreate",
	                         .result = "ok",
	                         .detail = "event gone from the calendar"};
	ok(store_add_drift(st, &d, &err) == 0, "drift recorded for LV-2");
	s = story(st, "LV-2", &total);
	is_str(s,
	       "target:rendered\ntarget:adopted\n"
	       "target:forgotten:the event was gone: it will be created again\n"
	       "drift:recreate:run1:missing:event gone from the calendar\n",
	       "adoption by a store that never created it, a forgotten event, and drift in one "
	       "timeline");
	is_int(total, 4, "the story's total counts drift too");
	free(s);
}

static void test_prune_with_runs(struct store *st)
{
	int64_t total;
	char *s;

	ok(sql_ok("UPDATE leave_revision SET seen_at = seen_at - 100 * 86400;"
	          "UPDATE target_event SET at = at - 100 * 86400;"
	          "INSERT INTO run (command, started_at) VALUES ('sync', strftime('%s', 'now') - "
	          "99 * 86400);"),
	   "the story is 100 days old and a run of 99 days ago exists");
	ok(sql_ok("DELETE FROM run WHERE started_at < strftime('%s', 'now') - 90 * 86400"),
	   "the run history is pruned at 90 days (as [store] keep_history_days would)");
	s = revisions(st, "LV-1", 100, &total);
	is_int(total, 0, "revisions older than the runs pruned go with them");
	free(s);
	s = story(st, "LV-1", &total);
	is_int(total, 0, "and so do target events");
	free(s);
	ok(push(st, "{\"id\":\"LV-3\",\"mailbox\":\"carol@contoso.com\",\"kind\":\"Annual "
	            "leave\",\"start\":\"2027-01-04\",\"end\":\"2027-01-08\",\"status\":"
	            "\"approved\"}") == 0 &&
	       sql_ok("DELETE FROM run"),
	   "a new revision, then every run deleted");
	s = revisions(st, "LV-3", 100, &total);
	is_int(total, 1, "a revision newer than every pruned run stays");
	free(s);
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
	test_revisions(st);
	test_target_story(st);
	test_prune_with_runs(st);
	store_close(st);
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
