/* The target table: one row per (leave, mailbox), the work queue of the executor. */
#include "store/store_int.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"pending", "creating", "synced", "failed", "waiting"};

const char *target_state_name(enum target_state s)
{
	if ((unsigned)s >= sizeof state_names / sizeof state_names[0])
		return "unknown";
	return state_names[s];
}

int target_state_from_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof state_names / sizeof state_names[0]; i++)
		if (strcmp(name, state_names[i]) == 0)
			return (int)i;
	return -1;
}

void target_free(struct target *t)
{
	if (!t)
		return;
	free(t->leave_id);
	free(t->mailbox);
	free(t->sync_key);
	free(t->desired);
	free(t->synced);
	free(t->remote_id);
	free(t->change_key);
	free(t->backend);
	free(t->last_error);
	memset(t, 0, sizeof *t);
}

void targets_free(struct target *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		target_free(&t[i]);
	free(t);
}

void target_from_row(sqlite3_stmt *s, struct target *t)
{
	int state;

	t->id = sqlite3_column_int64(s, 0);
	t->leave_id = db_column_strdup(s, 1);
	t->mailbox = db_column_strdup(s, 2);
	t->sync_key = db_column_strdup(s, 3);
	t->desired = db_column_strdup(s, 4);
	t->synced = db_column_strdup(s, 5);
	t->remote_id = db_column_strdup(s, 6);
	t->change_key = db_column_strdup(s, 7);
	t->backend = db_column_strdup(s, 8);
	state = target_state_from_name((const char *)sqlite3_column_text(s, 9));
	t->state = state < 0 ? TS_PENDING : (enum target_state)state;
	t->attempts = sqlite3_column_int(s, 10);
	t->next_attempt = sqlite3_column_int64(s, 11);
	t->last_error = db_column_strdup(s, 12);
	t->dirty = sqlite3_column_int(s, 13) != 0;
	t->force = sqlite3_column_int(s, 14) != 0;
	t->create_sent_at = sqlite3_column_int64(s, 15);
	t->unrenderable = sqlite3_column_int(s, 16) != 0;
}

/* Steps s to the end, collecting every row into a new array. */
static int collect_targets(struct store *st, sqlite3_stmt *s, struct target **out, size_t *n,
                           struct error *err)
{
	struct target *t = NULL;
	size_t cap = 0, count = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? cap * 2 : 32;
			t = xrealloc(t, cap * sizeof *t);
		}
		memset(&t[count], 0, sizeof *t);
		target_from_row(s, &t[count++]);
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE) {
		targets_free(t, count);
		return db_error(st, err, "cannot read targets");
	}
	*out = t;
	*n = count;
	return 0;
}

static int step_done(struct store *st, sqlite3_stmt *s, const char *what, struct error *err)
{
	int rc = sqlite3_step(s);

	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, what);
	return 0;
}

int store_set_desired(struct store *st, const char *leave_id, const char *mailbox,
                      const char *sync_key, const char *desired, struct error *err)
{
	char fresh[37];
	sqlite3_stmt *s;

	if (!sync_key) {
		uuid_v4(fresh);
		sync_key = fresh;
	}
	/* No row and nothing desired: nothing to do. A changed desired re-queues the target, and so
	 * does a row that renders again after it could not (unrenderable); a target in creating
	 * stays creating (its create may have reached the server), and create_sent_at is never
	 * touched here: only the executor settles a create in doubt. */
	if (db_prepare(st,
	               "INSERT INTO target (leave_id, mailbox, sync_key, desired, state, dirty)"
	               " SELECT ?1, lower(?2), ?3, ?4, 'pending', 1 WHERE ?4 IS NOT NULL"
	               " ON CONFLICT (leave_id, mailbox) DO UPDATE SET desired = excluded.desired,"
	               "  dirty = 1,"
	               "  state = CASE WHEN state = 'creating' THEN 'creating' ELSE 'pending' END,"
	               "  attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,"
	               "  next_attempt = CASE WHEN state = 'failed' THEN 0 ELSE next_attempt END,"
	               "  last_error = CASE WHEN unrenderable THEN NULL ELSE last_error END,"
	               "  unrenderable = 0"
	               " WHERE desired IS NOT excluded.desired OR unrenderable",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	db_bind_text(s, 2, mailbox);
	db_bind_text(s, 3, sync_key);
	db_bind_text(s, 4, desired);
	if (step_done(st, s, "cannot save a target", err) < 0)
		return -1;
	if (desired)
		return 0;
	/* desired NULL for an existing row: the upsert above inserted nothing, so update here. */
	if (db_prepare(st,
	               "UPDATE target SET desired = NULL, dirty = 1,"
	               "  state = CASE WHEN state = 'creating' THEN 'creating' ELSE 'pending' END,"
	               "  attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,"
	               "  last_error = CASE WHEN unrenderable THEN NULL ELSE last_error END,"
	               "  unrenderable = 0"
	               " WHERE leave_id = ?1 AND mailbox = lower(?2)"
	               "   AND (desired IS NOT NULL OR unrenderable)",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	db_bind_text(s, 2, mailbox);
	return step_done(st, s, "cannot save a target", err);
}

int store_retire_other_targets(struct store *st, const char *leave_id, const char *keep_mailbox,
                               struct error *err)
{
	sqlite3_stmt *s;

	if (db_prepare(st,
	               "UPDATE target SET desired = NULL, dirty = 1,"
	               "  state = CASE WHEN state = 'creating' THEN 'creating' ELSE 'pending' END,"
	               "  attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,"
	               "  last_error = CASE WHEN unrenderable THEN NULL ELSE last_error END,"
	               "  unrenderable = 0"
	               " WHERE leave_id = ?1 AND (?2 IS NULL OR mailbox <> lower(?2))"
	               "   AND (desired IS NOT NULL OR unrenderable)",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	db_bind_text(s, 2, keep_mailbox);
	return step_done(st, s, "cannot retire targets", err);
}

int store_mark_unrenderable(struct store *st, const char *leave_id, const char *mailbox,
                            const char *sync_key, const char *reason, struct error *err)
{
	sqlite3_stmt *s;

	/* desired, synced, remote_id, change_key and create_sent_at stay: the event is kept, and a
	 * create in doubt is settled when the leave renders again. */
	if (db_prepare(st,
	               "INSERT INTO target (leave_id, mailbox, sync_key, state, dirty, last_error,"
	               "  unrenderable, attempts) VALUES (?1, lower(?2), ?3, 'failed', 0, ?4, 1, 1)"
	               " ON CONFLICT (leave_id, mailbox) DO UPDATE SET state = 'failed', dirty = 0,"
	               "  force = 0, last_error = ?4, unrenderable = 1, attempts = attempts + 1",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	db_bind_text(s, 2, mailbox);
	db_bind_text(s, 3, sync_key);
	db_bind_text(s, 4, reason);
	return step_done(st, s, "cannot record a leave that cannot be rendered", err);
}

int store_due_targets(struct store *st, int64_t now, const char *after_mailbox, int64_t after_id,
                      size_t limit, struct target **out, size_t *n, struct error *err)
{
	sqlite3_stmt *s;

	*out = NULL;
	*n = 0;
	/* Both walk the partial index target_due; the second seeks to the cursor (row values). */
	if (db_prepare(st,
	               after_mailbox
	                   ? "SELECT " TARGET_COLUMNS " FROM target INDEXED BY target_due"
	                     " WHERE dirty AND next_attempt <= ?1 AND (mailbox, id) > (?2, ?3)"
	                     " ORDER BY mailbox, id LIMIT ?4"
	                   : "SELECT " TARGET_COLUMNS " FROM target INDEXED BY target_due"
	                     " WHERE dirty AND next_attempt <= ?1"
	                     " ORDER BY mailbox, id LIMIT ?4",
	               &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	db_bind_text(s, 2, after_mailbox);
	sqlite3_bind_int64(s, 3, after_id);
	sqlite3_bind_int64(s, 4, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	return collect_targets(st, s, out, n, err);
}

int store_mailbox_targets(struct store *st, const char *mailbox, struct target **out, size_t *n,
                          struct error *err)
{
	sqlite3_stmt *s;

	*out = NULL;
	*n = 0;
	if (db_prepare(
	        st, "SELECT " TARGET_COLUMNS " FROM target WHERE mailbox = lower(?1) ORDER BY id",
	        &s, err) < 0)
		return -1;
	db_bind_text(s, 1, mailbox);
	return collect_targets(st, s, out, n, err);
}

int store_target_by_sync_key(struct store *st, const char *sync_key, struct target *out,
                             struct error *err)
{
	struct target *t;
	sqlite3_stmt *s;
	size_t n;

	memset(out, 0, sizeof *out);
	if (db_prepare(st, "SELECT " TARGET_COLUMNS " FROM target WHERE sync_key = ?1", &s, err) <
	    0)
		return -1;
	db_bind_text(s, 1, sync_key);
	if (collect_targets(st, s, &t, &n, err) < 0)
		return -1;
	if (n == 0) {
		free(t);
		return 0;
	}
	*out = t[0];
	free(t);
	return 1;
}

int store_mailboxes(struct store *st, char ***out, size_t *n, struct error *err)
{
	char **list = NULL;
	size_t cap = 0, count = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(st, "SELECT mailbox FROM leave UNION SELECT mailbox FROM target ORDER BY 1",
	               &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
		list[count++] = db_column_strdup(s, 0);
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < count; i++)
			free(list[i]);
		free(list);
		return db_error(st, err, "cannot list mailboxes");
	}
	*out = list;
	*n = count;
	return 0;
}

static void bind_save(sqlite3_stmt *s, const struct target *t)
{
	db_bind_text(s, 1, t->synced);
	db_bind_text(s, 2, t->remote_id);
	db_bind_text(s, 3, t->change_key);
	db_bind_text(s, 4, t->backend);
	db_bind_text(s, 5, target_state_name(t->state));
	sqlite3_bind_int(s, 6, t->attempts);
	sqlite3_bind_int64(s, 7, t->next_attempt);
	db_bind_text(s, 8, t->last_error);
	sqlite3_bind_int(s, 9, t->dirty);
	sqlite3_bind_int(s, 10, t->force);
	sqlite3_bind_int64(s, 11, t->id);
	db_bind_text(s, 12, t->desired);
	sqlite3_bind_int64(s, 13, t->create_sent_at);
}

/* If desired changed in the store since the caller read the target (?12), the work it saved was for
 * the old text: the target stays queued (and not synced). */
static const char save_sql[] =
    "UPDATE target SET synced = ?1, remote_id = ?2, change_key = ?3, backend = ?4,"
    "  state = CASE WHEN desired IS NOT ?12 AND ?5 = 'synced' THEN 'pending' ELSE ?5 END,"
    "  attempts = ?6, next_attempt = ?7, last_error = ?8,"
    "  dirty = CASE WHEN desired IS NOT ?12 THEN 1 ELSE ?9 END, force = ?10,"
    "  create_sent_at = ?13"
    " WHERE id = ?11";
/* A row is dropped only when nothing is left to settle: no event, no create in doubt. */
static const char gone_sql[] = "DELETE FROM target WHERE id = ?1 AND desired IS NULL"
                               " AND remote_id IS NULL AND state = 'synced'"
                               " AND create_sent_at = 0 AND NOT unrenderable";

int store_save_targets(struct store *st, const struct target *t, size_t n, struct error *err)
{
	sqlite3_stmt *save = NULL, *gone = NULL;
	int ok = 1;

	if (n == 0)
		return 0;
	if (db_tx_begin(st, err) < 0)
		return -1;
	if (db_prepare(st, save_sql, &save, err) < 0 || db_prepare(st, gone_sql, &gone, err) < 0) {
		db_finish(st, save);
		db_tx_rollback(st);
		return -1;
	}
	for (size_t i = 0; ok && i < n; i++) {
		sqlite3_reset(save);
		sqlite3_reset(gone);
		bind_save(save, &t[i]);
		sqlite3_bind_int64(gone, 1, t[i].id);
		ok = sqlite3_step(save) == SQLITE_DONE && sqlite3_step(gone) == SQLITE_DONE;
	}
	if (!ok)
		db_error(st, err, "cannot save targets");
	db_finish(st, save);
	db_finish(st, gone);
	if (!ok) {
		db_tx_rollback(st);
		return -1;
	}
	return db_tx_commit(st, err);
}

int store_mark_create_sent(struct store *st, const int64_t *ids, size_t n, int64_t when,
                           bool creating, struct error *err)
{
	sqlite3_stmt *s = NULL;
	int ok = 1;

	if (n == 0)
		return 0;
	if (db_tx_begin(st, err) < 0)
		return -1;
	if (db_prepare(st,
	               "UPDATE target SET create_sent_at = ?1,"
	               " state = CASE WHEN ?3 THEN 'creating' ELSE state END WHERE id = ?2",
	               &s, err) < 0) {
		db_tx_rollback(st);
		return -1;
	}
	for (size_t i = 0; ok && i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, when);
		sqlite3_bind_int64(s, 2, ids[i]);
		sqlite3_bind_int(s, 3, creating);
		ok = sqlite3_step(s) == SQLITE_DONE;
	}
	if (!ok)
		db_error(st, err, "cannot record the creates about to be sent");
	db_finish(st, s);
	if (!ok) {
		db_tx_rollback(st);
		return -1;
	}
	return db_tx_commit(st, err);
}

int store_requeue_targets(struct store *st, const char *leave_id, const char *mailbox, bool force,
                          bool stuck_only, struct error *err)
{
	sqlite3_stmt *s;

	/* A failed target becomes pending again (with fresh attempts): the user asked for a retry.
	 */
	if (db_prepare(
	        st,
	        "UPDATE target SET dirty = 1, force = force OR ?3,"
	        "  state = CASE WHEN state = 'failed' THEN 'pending' ELSE state END,"
	        "  attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,"
	        "  next_attempt = CASE WHEN ?4 THEN 0 ELSE next_attempt END"
	        " WHERE (?1 IS NULL OR leave_id = ?1) AND (?2 IS NULL OR mailbox = lower(?2))"
	        "   AND (NOT ?4 OR state IN ('failed', 'waiting', 'creating'))",
	        &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	db_bind_text(s, 2, mailbox);
	sqlite3_bind_int(s, 3, force);
	sqlite3_bind_int(s, 4, stuck_only);
	return step_done(st, s, "cannot queue targets again", err);
}

int store_state_counts(struct store *st, struct state_counts *out, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	if (db_prepare(st,
	               "SELECT state, count(*), sum(dirty) FROM target GROUP BY state"
	               " UNION ALL SELECT NULL, (SELECT count(*) FROM leave), 0"
	               " UNION ALL SELECT '', (SELECT count(*) FROM leave_dirty), 0",
	               &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		int state = target_state_from_name(name);

		if (!name)
			out->leaves = sqlite3_column_int64(s, 1);
		else if (!*name)
			out->unrendered = sqlite3_column_int64(s, 1);
		else if (state >= 0)
			out->by_state[state] = sqlite3_column_int64(s, 1);
		out->dirty += sqlite3_column_int64(s, 2);
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot count targets");
	return 0;
}

int store_each_problem_target(struct store *st, size_t limit,
                              int (*cb)(void *arg, const struct target *t), void *arg,
                              struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st,
	               "SELECT " TARGET_COLUMNS " FROM target WHERE state IN ('failed', 'waiting')"
	               " ORDER BY mailbox, id LIMIT ?1",
	               &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct target t = {0};
		int stop;

		target_from_row(s, &t);
		stop = cb(arg, &t);
		target_free(&t);
		if (stop) {
			rc = SQLITE_DONE;
			break;
		}
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot list failed targets");
	return 0;
}
