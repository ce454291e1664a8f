/* store/: migrations, file modes, the dirty queue and its triggers (direct SQL too), targets and
 * the keyset-paginated work queue, connections, history, the run lock, a push during a sync. */
#include "store/store.h"
#include "store/store_int.h"
#include "tests/unit/tap.h"

#include "common/buf.h"
#include "common/util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_store.XXXXXX";
static char path[256];

static struct store *open_store(void)
{
	struct store *st = NULL;
	struct error err = {""};

	if (store_open(path, true, NULL, &st, &err) < 0)
		printf("# store_open: %s\n", err.msg);
	return st;
}

/* A second, raw connection: what an HR system doing direct SQL looks like. */
static sqlite3 *raw(void)
{
	sqlite3 *db = NULL;

	sqlite3_open(path, &db);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int sql_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		printf("# sql: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	return rc == SQLITE_OK;
}

static long long sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int file_mode(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

static void test_open_and_modes(void)
{
	struct store *st = NULL;
	struct error err = {""};
	char wal[300];
	mode_t old = umask(0);

	ok(store_open(path, false, NULL, &st, &err) < 0 && strstr(err.msg, "does not exist") &&
	       strstr(err.msg, "leavesync init"),
	   "opening a missing store without create says to run init: %s", err.msg);
	st = open_store();
	umask(old);
	ok(st != NULL, "a new store is created and migrated from empty");
	is_int(store_schema_version(st), schema_latest_version(),
	       "schema version is the latest after migration");
	is_int(file_mode(path), 0600, "the store file has mode 0600 even with umask 0");
	snprintf(wal, sizeof wal, "%s-wal", path);
	ok(file_mode(wal) == 0600 || file_mode(wal) == -1, "the -wal file (if present) is 0600");
	store_close(st);
	st = NULL;
	ok(store_open(path, false, NULL, &st, &err) == 0, "reopening an existing store works");
	is_int(store_schema_version(st), schema_latest_version(),
	       "reopening does not migrate again");
	{
		sqlite3 *db = raw();
		sqlite3_stmt *s;
		char mode[16] = "";

		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
		if (sqlite3_step(s) == SQLITE_ROW)
			snprintf(mode, sizeof mode, "%s", sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
		is_str(mode, "wal", "the store is in WAL mode");
		ok(file_mode(wal) == 0600, "the -wal file exists with mode 0600");
		sqlite3_close(db);
	}
	store_close(st);
}

static void test_newer_schema_refused(void)
{
	char p2[300], want[128];
	struct store *st = NULL;
	struct error err = {""};
	sqlite3 *db;

	snprintf(p2, sizeof p2, "%s/newer.db", dir);
	sqlite3_open(p2, &db);
	sql_ok(db, "PRAGMA user_version = 99");
	sqlite3_close(db);
	snprintf(want, sizeof want, "store schema version 99 is newer than this leavesync (%d)",
	         schema_latest_version());
	ok(store_open(p2, false, NULL, &st, &err) < 0 && strstr(err.msg, want) &&
	       strstr(err.msg, "upgrade leavesync"),
	   "a store from a newer leavesync is refused: %s", err.msg);
}

/* Files that are not leavesync stores are refused by every open, left as they were. */
static void test_foreign_files_refused(void)
{
	char p2[300];
	struct store *st = NULL;
	struct error err = {""};
	struct stat sb;
	sqlite3 *db;

	snprintf(p2, sizeof p2, "%s/empty.db", dir);
	write_file_atomic(p2, "", 0, 0600);
	ok(store_open(p2, false, NULL, &st, &err) < 0 && strstr(err.msg, "empty file (0 bytes)"),
	   "an empty file is refused: %s", err.msg);
	ok(store_open(p2, true, NULL, &st, &err) < 0 && strstr(err.msg, "empty file"),
	   "also by init (create): %s", err.msg);
	ok(store_open_readonly(p2, NULL, false, &st, &err) < 0 && strstr(err.msg, "empty file"),
	   "also read-only: %s", err.msg);
	ok(stat(p2, &sb) == 0 && sb.st_size == 0, "and it stays empty (never initialised)");

	snprintf(p2, sizeof p2, "%s/notes.txt", dir);
	write_file_atomic(p2, "Dear diary,\n", 12, 0600);
	ok(store_open(p2, true, NULL, &st, &err) < 0 && strstr(err.msg, "not an SQLite database"),
	   "a file that is not SQLite is refused: %s", err.msg);
	ok(stat(p2, &sb) == 0 && sb.st_size == 12, "and left as it was");

	snprintf(p2, sizeof p2, "%s/other-app.db", dir);
	sqlite3_open(p2, &db);
	sql_ok(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
	sqlite3_close(db);
	ok(store_open(p2, true, NULL, &st, &err) < 0 &&
	       strstr(err.msg, "without leavesync's schema"),
	   "an SQLite database without leavesync's schema is refused: %s", err.msg);
	db = NULL;
	sqlite3_open(p2, &db);
	is_int(sql_int(db, "SELECT count(*) FROM sqlite_master"), 1, "and gets no table of ours");
	sql_ok(db, "PRAGMA user_version = 1");
	sqlite3_close(db);
	ok(store_open(p2, false, NULL, &st, &err) < 0 &&
	       strstr(err.msg, "lacks leavesync's tables"),
	   "a database claiming version 1 without our tables is refused: %s", err.msg);

	snprintf(p2, sizeof p2, "%s/minus.db", dir);
	sqlite3_open(p2, &db);
	sql_ok(db, "PRAGMA user_version = -1");
	sqlite3_close(db);
	ok(store_open(p2, false, NULL, &st, &err) < 0 &&
	       strstr(err.msg, "store schema version -1 is invalid"),
	   "user_version -1: a clear message: %s", err.msg);
	ok(store_open_readonly(p2, NULL, false, &st, &err) < 0 &&
	       strstr(err.msg, "store schema version -1 is invalid"),
	   "read-only too");
}

/* Modes wider than 0600 are narrowed (the process owns the files) and reported. */
static void test_wide_modes_fixed(void)
{
	struct store *st = NULL;
	struct error err = {""};
	char wal[300];

	snprintf(wal, sizeof wal, "%s-wal", path);
	chmod(path, 0666);
	ok(store_open(path, false, NULL, &st, &err) == 0, "a store with mode 0666 opens");
	ok(st && strstr(store_warning(st), "had mode 0666 (readable by others)") &&
	       strstr(store_warning(st), "changed to 0600"),
	   "with a warning: %s", store_warning(st));
	is_int(file_mode(path), 0600, "the store is 0600 now");
	ok(file_mode(wal) == 0600, "its -wal is created 0600");
	store_close(st);
	chmod(path, 0640);
	st = NULL; /* (arguments are evaluated in any order: no stale handle in the message) */
	ok(store_open_readonly(path, NULL, false, &st, &err) == 0, "a read-only open works");
	ok(strstr(store_warning(st), "its group") != NULL, "and fixes the mode too: %s",
	   store_warning(st));
	is_int(file_mode(path), 0600, "0640 -> 0600");
	store_close(st);
	ok(store_open_readonly(path, NULL, false, &st, &err) == 0 && !*store_warning(st),
	   "a 0600 store: no warning");
	store_close(st);
}

/* [store] group: 0660 on a store of that group is right (HR's SQL access) and stays, for writing
 * and read-only opens alike; a wider mode is narrowed to 0660; the secrets never get the group's
 * bits. Without the group the same 0660 is narrowed to 0600. */
static void test_group_modes(void)
{
	struct group *g = getgrgid(getegid());
	char *secrets = store_secrets_path(path), group[64];
	struct store *st = NULL;
	struct error err = {""};

	if (!g) {
		ok(0, "the process's group has a name");
		free(secrets);
		return;
	}
	snprintf(group, sizeof group, "%s", g->gr_name);
	chmod(path, 0660);
	ok(store_open(path, false, group, &st, &err) == 0 && !*store_warning(st),
	   "a 0660 store of the [store] group opens without a warning: %s",
	   st ? store_warning(st) : err.msg);
	is_int(file_mode(path), 0660, "and stays 0660");
	store_close(st);
	st = NULL;
	ok(store_open_readonly(path, group, true, &st, &err) == 0 && !*store_warning(st),
	   "a read-only open keeps it too: %s", st ? store_warning(st) : err.msg);
	is_int(file_mode(path), 0660, "still 0660");
	store_close(st);
	st = NULL;
	chmod(path, 0664);
	ok(store_open(path, false, group, &st, &err) == 0 &&
	       strstr(store_warning(st), "had mode 0664 (readable by others)") &&
	       strstr(store_warning(st), "changed to 0660"),
	   "0664 is narrowed to 0660: %s", st ? store_warning(st) : err.msg);
	is_int(file_mode(path), 0660, "0664 -> 0660");
	store_close(st);
	st = NULL;
	chmod(secrets, 0660);
	ok(store_open(path, false, group, &st, &err) == 0, "the secrets file 0660: opens");
	is_int(file_mode(secrets), 0600, "but never keeps the group's bits");
	store_close(st);
	st = NULL;
	ok(store_open(path, false, NULL, &st, &err) == 0 &&
	       strstr(store_warning(st), "changed to 0600"),
	   "without [store] group 0660 is narrowed to 0600: %s", st ? store_warning(st) : err.msg);
	is_int(file_mode(path), 0600, "0660 -> 0600");
	store_close(st);
	free(secrets);
}

static int count_dirty(struct store *st, size_t *n_deleted)
{
	struct dirty_leave *d;
	size_t n;
	struct error err = {""};

	if (store_dirty_leaves(st, 1000, &d, &n, &err) < 0)
		return -1;
	if (n_deleted) {
		*n_deleted = 0;
		for (size_t i = 0; i < n; i++)
			*n_deleted += d[i].deleted;
	}
	dirty_leaves_free(d, n);
	return (int)n;
}

static void drain(struct store *st)
{
	struct dirty_leave *d;
	size_t n;
	struct error err = {""};

	store_dirty_leaves(st, 100000, &d, &n, &err);
	store_dirty_done(st, d, n, &err);
	dirty_leaves_free(d, n);
}

#define INSERT_SQL(id, mb, starts, ends)                                                           \
	"INSERT INTO leave (id, mailbox, kind, starts, ends, time_zone, status, revision) VALUES " \
	"('" id "', '" mb "', 'Annual leave', '" starts "', '" ends                                \
	"', 'Europe/Riga', 'approved', 1)"

static void test_direct_sql_and_dirty_queue(void)
{
	struct store *st = open_store();
	sqlite3 *db = raw();
	struct dirty_leave *d;
	struct error err = {""};
	struct leave lv;
	size_t n, ndel;

	ok(sql_ok(db, INSERT_SQL("HR-1", "alice@contoso.com", "2026-12-24", "2026-12-31")),
	   "HR inserts a leave with direct SQL");
	ok(sql_ok(db,
	          INSERT_SQL("HR-2", "bob@contoso.com", "2026-12-01T09:00", "2026-12-01T13:00")),
	   "HR inserts a part-day leave with direct SQL");
	is_int(count_dirty(st, NULL), 2, "both direct inserts are in the dirty queue");
	ok(store_dirty_leaves(st, 10, &d, &n, &err) == 0 && n == 2,
	   "store_dirty_leaves lists them");
	if (n == 2) {
		is_str(d[0].leave_id, "HR-1", "oldest first");
		is_str(d[0].lv.mailbox, "alice@contoso.com", "joined with the current leave row");
		ok(d[0].lv.updated_at && strlen(d[0].lv.updated_at) == 20,
		   "updated_at defaults to now for a direct insert");
		ok(!d[0].deleted && d[1].seq > d[0].seq, "seq grows");
	}
	/* a change while the render pass works: the entry must survive dirty_done */
	ok(sql_ok(db, "UPDATE leave SET kind = 'Sick leave' WHERE id = 'HR-1'"),
	   "HR updates a row directly");
	ok(store_dirty_done(st, d, n, &err) == 0, "dirty_done");
	dirty_leaves_free(d, n);
	is_int(count_dirty(st, NULL), 1, "an entry changed since it was read stays queued");
	ok(store_get_leave(st, "HR-1", &lv, &err) == 1 && strcmp(lv.kind, "Sick leave") == 0,
	   "store_get_leave sees the direct update");
	leave_free(&lv);
	drain(st);
	is_int(count_dirty(st, NULL), 0, "the queue drains");
	ok(sql_ok(db, "UPDATE leave SET kind = kind WHERE id = 'HR-1'"), "a no-op UPDATE");
	is_int(count_dirty(st, NULL), 0, "an UPDATE that changes nothing queues nothing");
	ok(sql_ok(db, "DELETE FROM leave WHERE id = 'HR-2'"), "HR deletes a row directly");
	is_int(count_dirty(st, &ndel), 1, "the delete is queued");
	is_int((long long)ndel, 1, "marked deleted");
	drain(st);
	ok(sql_ok(db, "UPDATE leave SET id = 'HR-1b' WHERE id = 'HR-1'"), "HR renames an id");
	is_int(count_dirty(st, &ndel), 2, "a renamed id queues the old (deleted) and the new id");
	is_int((long long)ndel, 1, "the old id is marked deleted");
	drain(st);
	ok(!sql_ok(db, INSERT_SQL("HR-3", "alice@contoso.com", "2026-02-30", "2026-03-01")),
	   "the schema refuses 2026-02-30 from direct SQL");
	ok(!sql_ok(db, INSERT_SQL("HR-3", "Alice@Contoso.com", "2026-02-01", "2026-03-01")),
	   "the schema refuses an upper-case mailbox from direct SQL");
	ok(!sql_ok(db, INSERT_SQL("HR-3", "alice@contoso.com", "2026-03-02", "2026-03-01")),
	   "the schema refuses an end before start from direct SQL");
	ok(!sql_ok(db,
	           INSERT_SQL("HR-3", "alice@contoso.com", "2026-03-02T10:00", "2026-03-02T10:00")),
	   "the schema refuses a part-day leave ending when it starts");
	ok(!sql_ok(db, "UPDATE leave SET status = 'Approved'"), "and an unknown status");
	ok(!sql_ok(db, "UPDATE leave SET revision = '1.5'"), "and a fractional revision");
	is_int(count_dirty(st, NULL), 0, "refused statements queue nothing");
	ok(store_requeue_leaves(st, NULL, "ALICE@contoso.com", &err) == 0, "requeue one mailbox");
	is_int(count_dirty(st, NULL), 1, "its leave is queued again");
	ok(store_requeue_leaves(st, "gone-id", NULL, &err) == 0, "requeue an id that is gone");
	is_int(count_dirty(st, &ndel), 2, "it is queued");
	is_int((long long)ndel, 1, "as deleted");
	sqlite3_close(db);
	store_close(st);
}

static int collect_leave(void *arg, const struct leave *lv)
{
	struct buf *b = arg;

	buf_printf(b, "%s;", lv->id);
	return 0;
}

static void test_each_leave(void)
{
	struct store *st = open_store();
	sqlite3 *db = raw();
	struct buf b = BUF_INIT;
	struct error err = {""};
	char **mb;
	size_t n;

	sql_ok(db, "DELETE FROM leave");
	sql_ok(db, INSERT_SQL("B", "bob@contoso.com", "2026-01-05", "2026-01-05"));
	sql_ok(db, INSERT_SQL("A2", "alice@contoso.com", "2026-03-01", "2026-03-01"));
	sql_ok(db, INSERT_SQL("A1", "alice@contoso.com", "2026-02-01", "2026-02-01"));
	store_each_leave(st, NULL, collect_leave, &b, &err);
	is_str(b.data, "A1;A2;B;", "store_each_leave orders by mailbox then start");
	buf_reset(&b);
	store_each_leave(st, "bob@contoso.com", collect_leave, &b, &err);
	is_str(b.data, "B;", "store_each_leave of one mailbox");
	ok(store_mailboxes(st, &mb, &n, &err) == 0 && n == 2 &&
	       strcmp(mb[0], "alice@contoso.com") == 0,
	   "store_mailboxes lists distinct mailboxes sorted");
	for (size_t i = 0; i < n; i++)
		free(mb[i]);
	free(mb);
	buf_free(&b);
	drain(st);
	sqlite3_close(db);
	store_close(st);
}

static int get_target(struct store *st, const char *key, struct target *t)
{
	struct error err = {""};

	return store_target_by_sync_key(st, key, t, &err);
}

static void test_target_lifecycle(void)
{
	struct store *st = open_store();
	struct error err = {""};
	struct target t;
	sqlite3 *db = raw();

	ok(store_set_desired(st, "L1", "alice@contoso.com", "key-1", "V1", &err) == 0,
	   "set_desired creates a target");
	ok(get_target(st, "key-1", &t) == 1 && t.state == TS_PENDING && t.dirty &&
	       strcmp(t.desired, "V1") == 0 && !t.synced,
	   "a new target is pending and dirty");
	t.state = TS_SYNCED;
	t.synced = xstrdup("V1");
	t.remote_id = xstrdup("R1");
	t.change_key = xstrdup("CK1");
	t.backend = xstrdup("ews");
	t.dirty = false;
	ok(store_save_targets(st, &t, 1, &err) == 0, "save_targets records the sync");
	target_free(&t);
	ok(get_target(st, "key-1", &t) == 1 && t.state == TS_SYNCED && !t.dirty &&
	       strcmp(t.remote_id, "R1") == 0 && strcmp(t.backend, "ews") == 0,
	   "the saved columns read back");
	target_free(&t);
	long long before = sqlite3_total_changes(db);
	ok(store_set_desired(st, "L1", "alice@contoso.com", "other-key", "V1", &err) == 0,
	   "set_desired with the same text");
	ok(get_target(st, "key-1", &t) == 1 && t.state == TS_SYNCED && !t.dirty,
	   "the same desired text leaves the target alone (and keeps its sync key)");
	target_free(&t);
	is_int(sql_int(db, "SELECT count(*) FROM target"), 1, "no second target is created");
	(void)before;
	store_set_desired(st, "L1", "alice@contoso.com", NULL, "V2", &err);
	ok(get_target(st, "key-1", &t) == 1 && t.state == TS_PENDING && t.dirty &&
	       strcmp(t.desired, "V2") == 0 && strcmp(t.synced, "V1") == 0,
	   "a changed desired text makes it pending and dirty");
	t.state = TS_CREATING;
	ok(store_save_targets(st, &t, 1, &err) == 0, "save as creating");
	target_free(&t);
	store_set_desired(st, "L1", "alice@contoso.com", NULL, "V3", &err);
	ok(get_target(st, "key-1", &t) == 1 && t.state == TS_CREATING && t.dirty,
	   "a target in creating stays creating when desired changes");
	/* the engine saves work done for V2 while V3 arrived: it must stay queued */
	t.state = TS_SYNCED;
	t.dirty = false;
	free(t.desired);
	t.desired = xstrdup("V2");
	store_save_targets(st, &t, 1, &err);
	target_free(&t);
	ok(get_target(st, "key-1", &t) == 1 && t.dirty && t.state == TS_PENDING,
	   "saving work for an outdated desired text keeps the target queued");
	target_free(&t);
	ok(store_set_desired(st, "L1", "alice@contoso.com", NULL, NULL, &err) == 0,
	   "desired NULL: the event must go");
	ok(get_target(st, "key-1", &t) == 1 && t.desired == NULL && t.dirty,
	   "the target is queued with desired NULL");
	t.state = TS_SYNCED;
	t.dirty = false;
	free(t.remote_id);
	t.remote_id = NULL;
	ok(store_save_targets(st, &t, 1, &err) == 0, "save after the remote delete");
	target_free(&t);
	is_int(get_target(st, "key-1", &t), 0,
	       "a synced target with no desired and no remote is deleted");
	ok(store_set_desired(st, "L9", "alice@contoso.com", NULL, NULL, &err) == 0 &&
	       sql_int(db, "SELECT count(*) FROM target WHERE leave_id = 'L9'") == 0,
	   "desired NULL for an unknown target creates nothing");
	/* the leave moved to another mailbox */
	store_set_desired(st, "L2", "old@contoso.com", "key-old", "V", &err);
	store_set_desired(st, "L2", "new@contoso.com", "key-new", "V", &err);
	ok(store_retire_other_targets(st, "L2", "new@contoso.com", &err) == 0, "retire others");
	ok(get_target(st, "key-old", &t) == 1 && t.desired == NULL && t.dirty,
	   "the target in the old mailbox is retired");
	target_free(&t);
	ok(get_target(st, "key-new", &t) == 1 && t.desired != NULL, "the kept one is not");
	target_free(&t);
	sqlite3_close(db);
	store_close(st);
}

static void test_pagination(void)
{
	struct store *st = open_store();
	struct error err = {""};
	sqlite3 *db = raw();
	struct target *page;
	size_t n, total = 0;
	char after_mb[64] = "";
	int64_t after_id = 0;
	int in_order = 1, pages = 0;
	char last[128] = "";

	sql_ok(db, "DELETE FROM target");
	for (int i = 0; i < 25; i++) {
		char leave[16], mb[64], key[16];

		snprintf(leave, sizeof leave, "P%d", i);
		snprintf(mb, sizeof mb, "user%d@contoso.com", i % 3);
		snprintf(key, sizeof key, "pk-%d", i);
		store_set_desired(st, leave, mb, key, "V", &err);
	}
	sql_ok(db, "UPDATE target SET next_attempt = 4000000000 WHERE sync_key = 'pk-4'");
	sql_ok(db, "UPDATE target SET dirty = 0 WHERE sync_key = 'pk-5'");
	do {
		if (store_due_targets(st, 1000, after_mb[0] ? after_mb : NULL, after_id, 10, &page,
		                      &n, &err) < 0)
			break;
		pages++;
		for (size_t i = 0; i < n; i++) {
			char cur[128];

			snprintf(cur, sizeof cur, "%s/%020lld", page[i].mailbox,
			         (long long)page[i].id);
			if (strcmp(cur, last) <= 0)
				in_order = 0;
			snprintf(last, sizeof last, "%s", cur);
			if (!strcmp(page[i].sync_key, "pk-4") || !strcmp(page[i].sync_key, "pk-5"))
				in_order = 0;
		}
		total += n;
		if (n) {
			snprintf(after_mb, sizeof after_mb, "%s", page[n - 1].mailbox);
			after_id = page[n - 1].id;
		}
		targets_free(page, n);
	} while (n == 10);
	is_int((long long)total, 23, "keyset pages return every due dirty target exactly once");
	ok(in_order, "in (mailbox, id) order, without not-due or clean targets");
	is_int(pages, 3, "in pages of at most 10");
	{
		sqlite3_stmt *s;
		char plan[512] = "";

		sqlite3_prepare_v2(db,
		                   "EXPLAIN QUERY PLAN SELECT id FROM target INDEXED BY target_due"
		                   " WHERE dirty AND next_attempt <= 1 AND (mailbox, id) > ('a', 1)"
		                   " ORDER BY mailbox, id LIMIT 10",
		                   -1, &s, NULL);
		while (sqlite3_step(s) == SQLITE_ROW)
			snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s;",
			         sqlite3_column_text(s, 3));
		sqlite3_finalize(s);
		ok(strstr(plan, "target_due") && !strstr(plan, "TEMP B-TREE"),
		   "the work queue uses the partial index, no sort: %s", plan);
	}
	sqlite3_close(db);
	store_close(st);
}

static int count_cb(void *arg, const struct target *t)
{
	(*(int *)arg)++;
	return t == NULL;
}

static void test_requeue_and_counts(void)
{
	struct store *st = open_store();
	struct error err = {""};
	sqlite3 *db = raw();
	struct state_counts c;
	struct target t;
	int problems = 0;

	sql_ok(db, "DELETE FROM target");
	store_set_desired(st, "R1", "a@contoso.com", "rk-1", "V", &err);
	store_set_desired(st, "R2", "a@contoso.com", "rk-2", "V", &err);
	store_set_desired(st, "R3", "b@contoso.com", "rk-3", "V", &err);
	sql_ok(db, "UPDATE target SET dirty = 0, state = 'synced'");
	sql_ok(db, "UPDATE target SET state = 'failed', attempts = 5, next_attempt = 4000000000,"
	           " last_error = 'boom' WHERE sync_key = 'rk-2'");
	ok(store_state_counts(st, &c, &err) == 0 && c.by_state[TS_SYNCED] == 2 &&
	       c.by_state[TS_FAILED] == 1 && c.dirty == 0,
	   "state counts");
	store_each_problem_target(st, 10, count_cb, &problems, &err);
	is_int(problems, 1, "one problem target listed");
	ok(store_requeue_targets(st, NULL, NULL, false, true, &err) == 0, "requeue stuck only");
	is_int(sql_int(db, "SELECT count(*) FROM target WHERE dirty"), 1, "only the stuck one");
	ok(get_target(st, "rk-2", &t) == 1 && t.next_attempt == 0 && t.state == TS_PENDING &&
	       t.attempts == 0 && !t.force,
	   "it is due now, pending, with fresh attempts");
	target_free(&t);
	ok(store_requeue_targets(st, NULL, "B@contoso.com", true, false, &err) == 0,
	   "resync a mailbox with force");
	ok(get_target(st, "rk-3", &t) == 1 && t.dirty && t.force, "its target is dirty and forced");
	target_free(&t);
	ok(get_target(st, "rk-1", &t) == 1 && !t.dirty, "another mailbox is untouched");
	target_free(&t);
	ok(store_requeue_targets(st, "R1", NULL, false, false, &err) == 0 &&
	       get_target(st, "rk-1", &t) == 1 && t.dirty,
	   "resync one leave");
	target_free(&t);
	sqlite3_close(db);
	store_close(st);
}

static int conn_cb(void *arg, const struct connection *c)
{
	buf_printf(arg, "%s:%d;", c->mailbox, c->needs_login);
	return 0;
}

static void test_connections(void)
{
	struct store *st = open_store();
	struct error err = {""};
	struct connection c = {.mailbox = "Alice@contoso.com",
	                       .refresh_token = "rt-1",
	                       .scope = "Calendars.ReadWrite",
	                       .user = "alice@contoso.com"};
	struct connection got;
	struct buf b = BUF_INIT;

	ok(store_put_connection(st, &c, &err) == 0, "put a connection");
	ok(store_get_connection(st, "alice@contoso.com", &got, &err) == 1 &&
	       strcmp(got.refresh_token, "rt-1") == 0 && !got.needs_login && got.updated_at,
	   "get it back (mailbox lower-cased)");
	connection_free(&got);
	ok(store_mark_needs_login(st, "alice@contoso.com", "AADSTS70008: expired", &err) == 0,
	   "mark needs login");
	ok(store_get_connection(st, "alice@contoso.com", &got, &err) == 1 && got.needs_login &&
	       strcmp(got.reason, "AADSTS70008: expired") == 0 &&
	       strcmp(got.refresh_token, "rt-1") == 0,
	   "needs_login with its reason");
	connection_free(&got);
	c.refresh_token = "rt-2";
	store_put_connection(st, &c, &err);
	ok(store_get_connection(st, "alice@contoso.com", &got, &err) == 1 && !got.needs_login &&
	       strcmp(got.refresh_token, "rt-2") == 0 && got.reason == NULL,
	   "a new token replaces the old one and clears needs_login");
	connection_free(&got);
	store_mark_needs_login(st, "bob@contoso.com", "never connected", &err);
	store_each_connection(st, conn_cb, &b, &err);
	is_str(b.data, "alice@contoso.com:0;bob@contoso.com:1;", "each connection");
	is_int(store_get_connection(st, "carol@contoso.com", &got, &err), 0, "unknown mailbox");
	buf_free(&b);
	store_close(st);
}

/* Read-only opens that read connections attach the secrets read-only; a store without a secrets
 * file has none (an empty stand-in), and nothing is created beside it. */
static void test_readonly_secrets(void)
{
	char *secrets = store_secrets_path(path), copy[300], *copy_secrets;
	struct store *st = NULL;
	struct error err = {""};
	struct connection c = {.mailbox = "ro@contoso.com", .refresh_token = "rt-ro"};
	struct connection got = {0};
	struct buf b = BUF_INIT;

	st = open_store();
	ok(store_put_connection(st, &c, &err) == 0, "a connection to read back");
	store_close(st);
	st = NULL;
	ok(store_open_readonly(path, NULL, true, &st, &err) == 0, "read-only with the secrets: %s",
	   err.msg);
	ok(store_get_connection(st, "ro@contoso.com", &got, &err) == 1 &&
	       strcmp(got.refresh_token, "rt-ro") == 0,
	   "reads the connection");
	connection_free(&got);
	ok(store_put_connection(st, &c, &err) < 0, "and cannot write it");
	store_close(st);
	st = NULL;
	ok(store_open_readonly(path, NULL, false, &st, &err) == 0 &&
	       store_get_connection(st, "ro@contoso.com", &got, &err) < 0,
	   "without the secrets there is no token table to read");
	store_close(st);
	st = NULL;
	snprintf(copy, sizeof copy, "%s/no-secrets.db", dir);
	copy_secrets = store_secrets_path(copy);
	st = open_store();
	ok(store_backup(st, copy, true, &err) == 0 && unlink(copy_secrets) == 0,
	   "a store copy without its secrets database");
	store_close(st);
	st = NULL;
	ok(store_open_readonly(copy, NULL, true, &st, &err) == 0, "opens read-only: %s", err.msg);
	ok(store_each_connection(st, conn_cb, &b, &err) == 0 && b.len == 0,
	   "with no connection (%s)", b.data ? b.data : "");
	ok(access(copy_secrets, F_OK) < 0, "and no secrets file created beside it");
	store_close(st);
	buf_free(&b);
	free(copy_secrets);
	free(secrets);
}

static int drift_cb(void *arg, const struct drift_record *d)
{
	buf_printf(arg, "%s/%s/%s/%s;", d->mailbox, d->kind, d->action, d->result);
	return 0;
}

static void test_history(void)
{
	struct store *st = open_store();
	struct error err = {""};
	int64_t id1 = 0, id2 = 0;
	struct run_record r = {0}, *runs;
	struct drift_record d = {.mailbox = "a@contoso.com",
	                         .leave_id = "L1",
	                         .kind = "missing",
	                         .action = "recreated",
	                         .result = "ok"};
	struct buf b = BUF_INIT;
	size_t n;

	ok(store_run_begin(st, "sync", &id1, &err) == 0 && id1 > 0, "run_begin");
	store_run_begin(st, "reconcile", &id2, &err);
	r.id = id1;
	r.exit_code = 1;
	r.created = 3;
	r.failed = 1;
	r.summary = "3 created, 1 failed";
	ok(store_run_end(st, &r, &err) == 0, "run_end");
	r.id = 999;
	ok(store_run_end(st, &r, &err) < 0, "run_end of an unknown run is an error");
	ok(store_recent_runs(st, NULL, 10, &runs, &n, &err) == 0 && n == 2 && runs[0].id == id2 &&
	       runs[1].created == 3 && strcmp(runs[1].summary, "3 created, 1 failed") == 0 &&
	       runs[1].finished_at >= runs[1].started_at,
	   "recent runs, newest first, with counts");
	for (size_t i = 0; i < n; i++)
		run_record_free(&runs[i]);
	free(runs);
	ok(store_recent_runs(st, "sync", 10, &runs, &n, &err) == 0 && n == 1,
	   "runs of one command");
	for (size_t i = 0; i < n; i++)
		run_record_free(&runs[i]);
	free(runs);
	d.run_id = id2;
	ok(store_add_drift(st, &d, &err) == 0, "add drift");
	d.kind = "orphaned";
	d.action = "deleted";
	d.leave_id = NULL;
	store_add_drift(st, &d, &err);
	store_each_drift(st, id2, drift_cb, &b, &err);
	is_str(b.data, "a@contoso.com/missing/recreated/ok;a@contoso.com/orphaned/deleted/ok;",
	       "drift of a run, in order");
	d.run_id = 12345;
	ok(store_add_drift(st, &d, &err) < 0, "drift for an unknown run is refused (foreign key)");
	buf_free(&b);
	store_close(st);
}

static void test_lock_and_concurrent_push(void)
{
	struct store *a = open_store(), *b = open_store();
	struct error err = {""};
	sqlite3 *reader = raw();
	sqlite3_stmt *s;
	struct push_options opt = {.format = PUSH_AUTO, .max_leave_days = 366};
	struct push_report rep;
	const char *json =
	    "[{\"id\":\"C-1\",\"mailbox\":\"c@contoso.com\",\"kind\":\"Annual leave\","
	    "\"start\":\"2026-05-01\",\"end\":\"2026-05-02\",\"status\":\"approved\"}]";
	char lockpath[300];

	ok(store_lock_run(a, &err) == 0, "the first process takes the run lock");
	ok(store_lock_run(b, &err) < 0 && strstr(err.msg, path) && strstr(err.msg, "pid"),
	   "a second one is refused with the store named: %s", err.msg);
	snprintf(lockpath, sizeof lockpath, "%s.lock", path);
	is_int(file_mode(lockpath), 0600, "the lock file is 0600");
	/* the sync holds the lock and has a read open */
	sql_ok(reader, "BEGIN");
	sqlite3_prepare_v2(reader, "SELECT id FROM leave", -1, &s, NULL);
	sqlite3_step(s);
	ok(store_push(b, json, strlen(json), &opt, &rep, &err) == 0 && rep.inserted == 1,
	   "a push from another connection succeeds meanwhile (%s)", err.msg);
	push_report_free(&rep);
	sqlite3_finalize(s);
	sql_ok(reader, "COMMIT");
	store_close(a);
	ok(store_lock_run(b, &err) == 0, "the lock is free once its holder is gone");
	sqlite3_close(reader);
	store_close(b);
}

static void test_transactions(void)
{
	struct store *st = open_store();
	struct error err = {""};
	sqlite3 *db = raw();
	struct target t;

	ok(store_begin(st, &err) == 0, "store_begin");
	store_set_desired(st, "T1", "t@contoso.com", "tk-1", "V", &err);
	store_rollback(st);
	is_int(get_target(st, "tk-1", &t), 0, "rollback undoes the work");
	store_begin(st, &err);
	store_set_desired(st, "T1", "t@contoso.com", "tk-1", "V", &err);
	ok(get_target(st, "tk-1", &t) == 1, "visible inside the transaction");
	/* save_targets nests inside */
	t.state = TS_SYNCED;
	ok(store_save_targets(st, &t, 1, &err) == 0, "a nested write inside store_begin");
	target_free(&t);
	is_int(sql_int(db, "SELECT count(*) FROM target WHERE sync_key = 'tk-1'"), 0,
	       "not visible to others before commit");
	ok(store_commit(st, &err) == 0, "store_commit");
	is_int(sql_int(db, "SELECT count(*) FROM target WHERE sync_key = 'tk-1'"), 1,
	       "visible after commit");
	sqlite3_close(db);
	store_close(st);
}

static void test_mailbox_user_ids(void)
{
	struct store *st = open_store();
	struct error err = {""};
	char *id = NULL;

	ok(store_get_graph_user_id(st, "alice@contoso.com", &id, &err) == 0 && !id,
	   "no Graph user id before one was resolved");
	ok(store_set_graph_user_id(st, "Alice@Contoso.com", "0a000000-0001", &err) == 0,
	   "a resolved id is stored");
	ok(store_get_graph_user_id(st, "alice@contoso.com", &id, &err) == 1 && id &&
	       strcmp(id, "0a000000-0001") == 0,
	   "and read back (the address compares lower-case)");
	free(id);
	ok(store_set_graph_user_id(st, "alice@contoso.com", "0a000000-0002", &err) == 0 &&
	       store_get_graph_user_id(st, "alice@contoso.com", &id, &err) == 1 &&
	       strcmp(id, "0a000000-0002") == 0,
	   "resolving again replaces it");
	free(id);
	ok(store_set_graph_user_id(st, "alice@contoso.com", NULL, &err) == 0 &&
	       store_get_graph_user_id(st, "alice@contoso.com", &id, &err) == 0 && !id,
	   "a forgotten id is resolved again next time");
	store_close(st);
}

/* The autodiscover table (issue 18): a domain's EWS URL and build, kept, replaced, forgotten. */
static void test_autodiscover_cache(void)
{
	struct store *st = open_store();
	struct error err = {""};
	char *url = NULL, *build = NULL;

	ok(store_get_ews_url(st, "contoso.com", &url, &build, &err) == 0 && !url && !build,
	   "no EWS URL before Autodiscover answered");
	ok(store_set_ews_url(st, "Contoso.com", "https://mail.contoso.com/EWS/Exchange.asmx",
	                     "15.1.2507.6", &err) == 0 &&
	       store_get_ews_url(st, "contoso.com", &url, &build, &err) == 1 && url && build &&
	       strcmp(url, "https://mail.contoso.com/EWS/Exchange.asmx") == 0 &&
	       strcmp(build, "15.1.2507.6") == 0,
	   "a discovered URL and build are kept (the domain compares lower-case)");
	free(url), free(build);
	ok(store_set_ews_url(st, "contoso.com", "https://ex2.contoso.com/EWS/Exchange.asmx", NULL,
	                     &err) == 0 &&
	       store_get_ews_url(st, "contoso.com", &url, &build, &err) == 1 &&
	       strcmp(url, "https://ex2.contoso.com/EWS/Exchange.asmx") == 0 && build &&
	       strcmp(build, "15.1.2507.6") == 0,
	   "a new URL replaces the old; a build not given keeps the one known");
	free(url), free(build);
	ok(store_set_ews_url(st, "contoso.com", NULL, NULL, &err) == 0 &&
	       store_get_ews_url(st, "contoso.com", &url, &build, &err) == 0 && !url,
	   "a forgotten domain is discovered again");
	store_close(st);
}

/* A store of schema 4 migrates to the latest: step 5 (issue 12) keeps the old rule for creates in
 * doubt; step 6 (issue 15) moves the refresh tokens out to the secrets database; step 7 (issue
 * 18) adds the autodiscover table. */
static void test_migration_from_4(void)
{
	char old_path[300], secrets[320];
	struct store *st = NULL;
	struct error err = {""};
	sqlite3 *db;

	snprintf(old_path, sizeof old_path, "%s/v4.db", dir);
	snprintf(secrets, sizeof secrets, "%s/v4-secrets.db", dir);
	ok(store_open(old_path, true, NULL, &st, &err) == 0, "a store to turn into schema 4");
	store_close(st);
	st = NULL;
	sqlite3_open(old_path, &db);
	ok(sql_ok(db,
	          "ALTER TABLE target DROP COLUMN create_sent_at;"
	          "ALTER TABLE target DROP COLUMN unrenderable;"
	          "DROP INDEX target_problems; DROP TABLE notice; DROP TABLE meta;"
	          "DROP TABLE autodiscover;"
	          "CREATE TABLE token (mailbox TEXT PRIMARY KEY NOT NULL, refresh_token TEXT,"
	          "  scope TEXT, user TEXT, needs_login INTEGER NOT NULL DEFAULT 0, reason TEXT,"
	          "  updated_at TEXT NOT NULL);"
	          "INSERT INTO token (mailbox, refresh_token, updated_at)"
	          " VALUES ('a@b.cd', 'RT-SECRET-4', '2026-01-01T00:00:00Z');"
	          "PRAGMA user_version = 4;"
	          "INSERT INTO target (leave_id, mailbox, sync_key, desired, state, attempts)"
	          " VALUES ('A', 'a@b.cd', 'k-creating', 'V', 'creating', 0),"
	          "        ('B', 'a@b.cd', 'k-tried', 'V', 'pending', 2),"
	          "        ('C', 'a@b.cd', 'k-new', 'V', 'pending', 0);"
	          "INSERT INTO target (leave_id, mailbox, sync_key, desired, remote_id, state,"
	          "  attempts) VALUES ('D', 'a@b.cd', 'k-synced', 'V', 'R', 'failed', 3)"),
	   "schema 4 rows: creating, tried, new, written, and a refresh token in the store");
	sqlite3_close(db);
	ok(store_open(old_path, false, NULL, &st, &err) == 0 &&
	       store_schema_version(st) == schema_latest_version(),
	   "opening migrates schema 4 to the latest");
	sqlite3_open(old_path, &db);
	is_int(sql_int(db, "SELECT create_sent_at FROM target WHERE sync_key = 'k-creating'"), -1,
	       "a row in creating has a create in doubt (sent by a run that did not finish)");
	is_int(sql_int(db, "SELECT create_sent_at FROM target WHERE sync_key = 'k-tried'"), -1,
	       "a row never written but tried has one too");
	is_int(sql_int(db, "SELECT create_sent_at + unrenderable FROM target"
	                   " WHERE sync_key IN ('k-new', 'k-synced')"),
	       0, "new and written rows have none");
	is_int(sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'token'"), 0,
	       "the store keeps no token table");
	sqlite3_close(db);
	sqlite3_open(secrets, &db);
	is_int(sql_int(db, "SELECT count(*) FROM token WHERE refresh_token = 'RT-SECRET-4'"), 1,
	       "the refresh token moved to the secrets database");
	sqlite3_close(db);
	store_close(st);
}

static void test_create_in_doubt_and_unrenderable(void)
{
	struct store *st = open_store();
	struct error err = {""};
	struct target t;
	sqlite3 *db = raw();

	ok(store_set_desired(st, "U1", "alice@contoso.com", "key-u1", "V1", &err) == 0, "a target");
	get_target(st, "key-u1", &t);
	t.create_sent_at = -1;
	t.state = TS_CREATING;
	ok(store_save_targets(st, &t, 1, &err) == 0, "committed as creating, create in doubt");
	target_free(&t);
	store_set_desired(st, "U1", "alice@contoso.com", NULL, "V2", &err);
	ok(get_target(st, "key-u1", &t) == 1 && t.create_sent_at == -1 && t.state == TS_CREATING &&
	       t.dirty,
	   "a changed desired text keeps the create in doubt");
	target_free(&t);
	store_set_desired(st, "U1", "alice@contoso.com", NULL, NULL, &err);
	get_target(st, "key-u1", &t);
	t.state = TS_SYNCED;
	t.dirty = false;
	ok(store_save_targets(st, &t, 1, &err) == 0, "saved as synced without desired");
	target_free(&t);
	ok(get_target(st, "key-u1", &t) == 1,
	   "a row with a create in doubt is never dropped, even without desired or remote item");
	t.create_sent_at = 0;
	store_save_targets(st, &t, 1, &err);
	target_free(&t);
	is_int(get_target(st, "key-u1", &t), 0, "once settled, it is");

	/* a synced leave that can no longer be rendered keeps its event */
	store_set_desired(st, "U2", "alice@contoso.com", "key-u2", "V1", &err);
	get_target(st, "key-u2", &t);
	t.synced = xstrdup("V1");
	t.remote_id = xstrdup("R2");
	t.state = TS_SYNCED;
	t.dirty = false;
	store_save_targets(st, &t, 1, &err);
	target_free(&t);
	ok(store_mark_unrenderable(st, "U2", "alice@contoso.com", "key-u2", "bad zone", &err) == 0,
	   "mark_unrenderable");
	ok(get_target(st, "key-u2", &t) == 1 && t.state == TS_FAILED && !t.dirty &&
	       t.unrenderable && strcmp(t.last_error, "bad zone") == 0 &&
	       strcmp(t.desired, "V1") == 0 && strcmp(t.remote_id, "R2") == 0,
	   "failed with the reason, not queued, desired and remote item kept");
	target_free(&t);
	ok(store_set_desired(st, "U2", "alice@contoso.com", NULL, "V1", &err) == 0 &&
	       get_target(st, "key-u2", &t) == 1 && !t.unrenderable && t.dirty &&
	       t.state == TS_PENDING && !t.last_error,
	   "rendering again, even to the same text, clears it and queues the target");
	target_free(&t);
	ok(store_mark_unrenderable(st, "U3", "bob@contoso.com", "key-u3", "unknown zone", &err) ==
	           0 &&
	       get_target(st, "key-u3", &t) == 1 && t.state == TS_FAILED && !t.desired &&
	       t.unrenderable,
	   "a new leave that cannot be rendered gets a failed target without desired");
	target_free(&t);
	ok(store_retire_other_targets(st, "U3", NULL, &err) == 0 &&
	       get_target(st, "key-u3", &t) == 1 && !t.unrenderable && t.dirty &&
	       t.state == TS_PENDING,
	   "the leave removed: the failure goes, the target is queued to be dropped");
	target_free(&t);
	is_int(sql_int(db, "SELECT count(*) FROM target WHERE unrenderable"), 0, "none left");
	sqlite3_close(db);
	store_close(st);
}

struct groups_seen {
	int n;
	long long count[8];
	char state[8][16];
	char first[8][40];
};

static int collect_group(void *arg, const struct problem_group *g)
{
	struct groups_seen *s = arg;

	if (s->n < 8) {
		s->count[s->n] = g->count;
		snprintf(s->state[s->n], sizeof s->state[0], "%s", g->state);
		snprintf(s->first[s->n], sizeof s->first[0], "%s %s", g->mailbox[0],
		         g->leave_id[0]);
		s->n++;
	}
	return 0;
}

/* Problems grouped by reason (per-request ids do not split a group), a resync's target, notices
 * once per interval, history pruning, the health summary, the secrets file, backups. */
static void test_reports(void)
{
	struct store *st = open_store();
	sqlite3 *db = raw();
	struct error err = {""};
	struct store_health h;
	struct groups_seen seen = {0};
	char *secrets = store_secrets_path(path), backup[300], *bsecrets;
	int64_t more = -1, pruned = 0, now = 2000000000;
	bool known = false, due = false;

	ok(sql_ok(db, "DELETE FROM target; DELETE FROM leave_dirty;"
	              "INSERT INTO target (leave_id, mailbox, sync_key, desired, state, dirty, "
	              "last_error) VALUES "
	              "('g-1', 'a@x.com', 'gk-1', 'x', 'failed', 0, 'HTTP 404 [request-id "
	              "11111111-2222-3333-4444-555555555555]'),"
	              "('g-2', 'a@x.com', 'gk-2', 'x', 'failed', 0, 'HTTP 404 [request-id "
	              "66666666-2222-3333-4444-555555555555]'),"
	              "('g-3', 'b@x.com', 'gk-3', 'x', 'failed', 0, 'HTTP 404 [request-id "
	              "77777777-2222-3333-4444-555555555555]'),"
	              "('g-4', 'b@x.com', 'gk-4', 'x', 'failed', 0, 'HTTP 404 [request-id "
	              "88888888-2222-3333-4444-555555555555]'),"
	              "('g-5', 'c@x.com', 'gk-5', 'x', 'waiting', 0, 'needs login'),"
	              "('g-6', 'c@x.com', 'gk-6', 'x', 'pending', 1, 'throttled'),"
	              "('g-7', 'c@x.com', 'gk-7', 'x', 'synced', 0, NULL)"),
	   "targets with problems inserted");
	ok(store_problem_groups(st, 2, collect_group, &seen, &more, &err) == 0,
	   "problem groups read: %s", err.msg);
	ok(seen.n == 2 && seen.count[0] == 4 && !strcmp(seen.state[0], "failed") &&
	       !strcmp(seen.first[0], "a@x.com g-1"),
	   "four failures differing only in their request ids are one group, naming the first");
	ok(!strcmp(seen.state[1], "waiting") && seen.count[1] == 1 && more == 1,
	   "then waiting; the retrying group is beyond max_groups and counted (%lld)",
	   (long long)more);

	ok(store_resync_known(st, "g-1", NULL, &known, &err) == 0 && known, "a known leave id");
	ok(store_resync_known(st, "nope", NULL, &known, &err) == 0 && !known, "an unknown one");
	ok(store_resync_known(st, NULL, "C@X.com", &known, &err) == 0 && known,
	   "a known mailbox, in any case");

	ok(store_notice_due(st, "k", now, 86400, &due, &err) == 0 && due, "a new notice is due");
	ok(store_notice_due(st, "k", now + 3600, 86400, &due, &err) == 0 && !due,
	   "not again within the interval");
	ok(store_notice_due(st, "k", now + 86400, 86400, &due, &err) == 0 && due, "again after it");

	ok(sql_ok(db, "DELETE FROM drift; DELETE FROM run; INSERT INTO run (id, command, "
	              "started_at, finished_at, "
	              "exit_code) VALUES (1, 'sync', 100, 100, 0), (2, 'sync', 200, 200, 1),"
	              "(3, 'reconcile', 300, NULL, NULL);"
	              "INSERT INTO drift (run_id, at, mailbox, kind, action, result)"
	              " VALUES (1, 100, 'a@x.com', 'missing', 'recreated', 'ok')"),
	   "runs inserted");
	ok(store_health(st, &h, &err) == 0 && h.failed == 4 && h.waiting == 1 && h.retrying == 1 &&
	       h.synced == 1 && h.last_exit == 1 && h.last_success == 200,
	   "health: counts, the last exit and the last run that ran to its end");
	ok(store_prune_history(st, 150, &pruned, &err) == 0 && pruned == 1 &&
	       sql_int(db, "SELECT count(*) FROM drift") == 0 &&
	       sql_int(db, "SELECT count(*) FROM run") == 2,
	   "pruning deletes finished runs before the date, with their drift; a running one stays");
	ok(sql_ok(db, "INSERT INTO leave_revision (leave_id, seen_at, outcome) VALUES"
	              " ('p-1', 120, 'deleted'), ('p-2', 400, 'deleted');"
	              "INSERT INTO target_event (leave_id, mailbox, at, action) VALUES"
	              " ('p-1', 'a@x.com', 120, 'deleted'), ('p-2', 'a@x.com', 400, 'deleted')"),
	   "a leave story with rows before and after the date");
	ok(store_prune_history(st, 150, &pruned, &err) == 0 && pruned == 0 &&
	       sql_int(db, "SELECT count(*) FROM leave_revision WHERE leave_id LIKE 'p-%'") == 1 &&
	       sql_int(db, "SELECT count(*) FROM target_event WHERE leave_id LIKE 'p-%'") == 1 &&
	       sql_int(db, "SELECT count(*) FROM leave_revision WHERE leave_id = 'p-2'") == 1,
	   "the leave story before the date goes with the run history, even with no run to prune");

	is_int(file_mode(secrets), 0600, "the secrets database is 0600");
	ok(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'token'") == 0,
	   "the store itself has no token table");
	chmod(secrets, 0644);
	store_close(st);
	st = open_store();
	is_int(file_mode(secrets), 0600, "a wider secrets file is narrowed again on open");

	snprintf(backup, sizeof backup, "%s/copy.db", dir);
	bsecrets = store_secrets_path(backup);
	ok(store_backup(st, backup, false, &err) == 0, "backup: %s", err.msg);
	ok(file_mode(backup) == 0600 && file_mode(bsecrets) == 0600,
	   "both copies are 0600 (%o, %o)", file_mode(backup), file_mode(bsecrets));
	ok(store_backup(st, backup, false, &err) < 0 && strstr(err.msg, "--force"),
	   "an existing backup is refused: %s", err.msg);
	ok(store_backup(st, backup, true, &err) == 0, "replaced with overwrite");
	free(bsecrets);
	free(secrets);
	sqlite3_close(db);
	store_close(st);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/leavesync.db", dir);
	test_open_and_modes();
	test_newer_schema_refused();
	test_foreign_files_refused();
	test_wide_modes_fixed();
	test_group_modes();
	test_direct_sql_and_dirty_queue();
	test_each_leave();
	test_target_lifecycle();
	test_pagination();
	test_requeue_and_counts();
	test_connections();
	test_readonly_secrets();
	test_mailbox_user_ids();
	test_autodiscover_cache();
	test_history();
	test_lock_and_concurrent_push();
	test_transactions();
	test_migration_from_4();
	test_create_in_doubt_and_unrenderable();
	test_reports();
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
