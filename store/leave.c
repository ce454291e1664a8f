/* Reading leave rows, and the dirty queue that the triggers on leave fill (schema.c). */
#include "store/store_int.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define LEAVE_COLUMNS                                                                              \
	"l.id, l.mailbox, l.kind, l.starts, l.ends, l.time_zone, l.status, l.note, "               \
	"l.revision, l.updated_at"

void leave_free(struct leave *lv)
{
	if (!lv)
		return;
	free(lv->id);
	free(lv->mailbox);
	free(lv->kind);
	free(lv->starts);
	free(lv->ends);
	free(lv->time_zone);
	free(lv->status);
	free(lv->note);
	free(lv->updated_at);
	memset(lv, 0, sizeof *lv);
}

/* Reads LEAVE_COLUMNS starting at column col. */
static void leave_from_row(sqlite3_stmt *s, int col, struct leave *lv)
{
	lv->id = db_column_strdup(s, col);
	lv->mailbox = db_column_strdup(s, col + 1);
	lv->kind = db_column_strdup(s, col + 2);
	lv->starts = db_column_strdup(s, col + 3);
	lv->ends = db_column_strdup(s, col + 4);
	lv->time_zone = db_column_strdup(s, col + 5);
	lv->status = db_column_strdup(s, col + 6);
	lv->note = db_column_strdup(s, col + 7);
	lv->revision = sqlite3_column_int64(s, col + 8);
	lv->updated_at = db_column_strdup(s, col + 9);
}

int store_get_leave(struct store *st, const char *id, struct leave *out, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	if (db_prepare(st, "SELECT " LEAVE_COLUMNS " FROM leave l WHERE l.id = ?1", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		leave_from_row(s, 0, out);
	else if (rc != SQLITE_DONE)
		db_error(st, err, "cannot read a leave");
	db_finish(st, s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_each_leave(struct store *st, const char *mailbox,
                     int (*cb)(void *arg, const struct leave *lv), void *arg, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st,
	               "SELECT " LEAVE_COLUMNS
	               " FROM leave l WHERE ?1 IS NULL OR l.mailbox = lower(?1)"
	               " ORDER BY l.mailbox, l.starts, l.id",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, mailbox);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct leave lv;
		int stop;

		leave_from_row(s, 0, &lv);
		stop = cb(arg, &lv);
		leave_free(&lv);
		if (stop) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		db_error(st, err, "cannot list leave");
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : -1;
}

void dirty_leave_free(struct dirty_leave *d)
{
	if (!d)
		return;
	free(d->leave_id);
	leave_free(&d->lv);
	memset(d, 0, sizeof *d);
}

void dirty_leaves_free(struct dirty_leave *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dirty_leave_free(&d[i]);
	free(d);
}

int store_dirty_leaves(struct store *st, size_t limit, struct dirty_leave **out, size_t *n,
                       struct error *err)
{
	struct dirty_leave *d = NULL;
	size_t cap = 0, count = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(st,
	               "SELECT q.leave_id, q.seq, q.deleted OR l.id IS NULL, " LEAVE_COLUMNS
	               " FROM leave_dirty q LEFT JOIN leave l ON l.id = q.leave_id"
	               " ORDER BY q.seq LIMIT ?1",
	               &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct dirty_leave *e;

		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			d = xrealloc(d, cap * sizeof *d);
		}
		e = &d[count++];
		memset(e, 0, sizeof *e);
		e->leave_id = db_column_strdup(s, 0);
		e->seq = sqlite3_column_int64(s, 1);
		e->deleted = sqlite3_column_int(s, 2) != 0;
		if (!e->deleted)
			leave_from_row(s, 3, &e->lv);
	}
	if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read the queue of changed leave");
		db_finish(st, s);
		dirty_leaves_free(d, count);
		return -1;
	}
	db_finish(st, s);
	*out = d;
	*n = count;
	return 0;
}

int store_dirty_done(struct store *st, const struct dirty_leave *d, size_t n, struct error *err)
{
	sqlite3_stmt *s;

	if (n == 0)
		return 0;
	if (db_tx_begin(st, err) < 0)
		return -1;
	if (db_prepare(st, "DELETE FROM leave_dirty WHERE leave_id = ?1 AND seq = ?2", &s, err) <
	    0) {
		db_tx_rollback(st);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(s);
		db_bind_text(s, 1, d[i].leave_id);
		sqlite3_bind_int64(s, 2, d[i].seq);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_error(st, err, "cannot update the queue of changed leave");
			db_finish(st, s);
			db_tx_rollback(st);
			return -1;
		}
	}
	db_finish(st, s);
	return db_tx_commit(st, err);
}

int store_requeue_leaves(struct store *st, const char *leave_id, const char *mailbox,
                         struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	/* A leave id that is no longer in leave is queued as deleted: its targets must go. */
	if (db_prepare(st,
	               "INSERT OR REPLACE INTO leave_dirty (leave_id, deleted)"
	               " SELECT id, 0 FROM leave WHERE (?1 IS NULL OR id = ?1)"
	               "   AND (?2 IS NULL OR mailbox = lower(?2))"
	               " UNION ALL SELECT ?1, 1 WHERE ?1 IS NOT NULL"
	               "   AND NOT EXISTS (SELECT 1 FROM leave WHERE id = ?1)",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	db_bind_text(s, 2, mailbox);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot queue leave again");
	return 0;
}
