/* One leave's story: its revisions (leave_revision), its targets' renders, writes and failures
 * (target_event) and the drift runs found for it. The rows are written by the triggers of schema
 * step 4, whoever changes the leave or the target; push adds what only it knows (stale revisions,
 * the source of each change). */
#include "store/store_int.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static int count_rows(struct store *st, const char *sql, const char *leave_id, int64_t *total,
                      struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	*total = 0;
	if (db_prepare(st, sql, &s, err) < 0)
		return -1;
	if (sqlite3_bind_parameter_count(s) > 0)
		db_bind_text(s, 1, leave_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*total = sqlite3_column_int64(s, 0);
	db_finish(st, s);
	return rc == SQLITE_ROW ? 0 : db_error(st, err, "cannot read a leave's history");
}

static sqlite3_int64 limit_arg(size_t limit)
{
	return limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit;
}

int store_each_leave_revision(struct store *st, const char *leave_id, size_t limit,
                              int (*cb)(void *arg, const struct leave_revision *r), void *arg,
                              int64_t *total, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (count_rows(st, "SELECT count(*) FROM leave_revision WHERE leave_id = ?1", leave_id,
	               total, err) < 0)
		return -1;
	if (db_prepare(st,
	               "SELECT * FROM (SELECT r.id, r.seen_at, r.outcome,"
	               "  (SELECT s.via FROM leave_revision_source s WHERE s.after_id = (SELECT"
	               "    max(after_id) FROM leave_revision_source WHERE after_id < r.id)"
	               "    AND r.id <= s.last_id),"
	               "  r.leave_id, r.mailbox, r.kind, r.starts, r.ends, r.time_zone, r.status,"
	               "  r.note, r.revision FROM leave_revision r"
	               "  WHERE r.leave_id = ?1 ORDER BY r.id DESC LIMIT ?2) ORDER BY 1",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	sqlite3_bind_int64(s, 2, limit_arg(limit));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct leave_revision r = {
		    .seen_at = sqlite3_column_int64(s, 1),
		    .outcome = (const char *)sqlite3_column_text(s, 2),
		    .via = (const char *)sqlite3_column_text(s, 3),
		    .lv = {.id = (char *)sqlite3_column_text(s, 4),
		           .mailbox = (char *)sqlite3_column_text(s, 5),
		           .kind = (char *)sqlite3_column_text(s, 6),
		           .starts = (char *)sqlite3_column_text(s, 7),
		           .ends = (char *)sqlite3_column_text(s, 8),
		           .time_zone = (char *)sqlite3_column_text(s, 9),
		           .status = (char *)sqlite3_column_text(s, 10),
		           .note = (char *)sqlite3_column_text(s, 11),
		           .revision = sqlite3_column_int64(s, 12)},
		};
		if (cb(arg, &r)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot read a leave's revisions");
}

/* Target events and drift as one timeline; in one second, drift (found) before what was done. */
static const char story_sql[] =
    "SELECT * FROM ("
    " SELECT e.at, 'target' AS src, e.id, e.run_id, r.command, e.mailbox, e.action, NULL, NULL,"
    "  e.state, e.remote_id, e.change_key, e.backend, e.detail"
    "  FROM target_event e LEFT JOIN run r ON r.id = e.run_id WHERE e.leave_id = ?1"
    " UNION ALL"
    " SELECT d.at, 'drift', d.id, d.run_id, r.command, d.mailbox, d.action, d.kind, d.result,"
    "  NULL, NULL, NULL, NULL, d.detail"
    "  FROM drift d LEFT JOIN run r ON r.id = d.run_id WHERE d.leave_id = ?1"
    " ORDER BY 1 DESC, 2 DESC, 3 DESC LIMIT ?2) ORDER BY 1, 2, 3";

int store_each_leave_story(struct store *st, const char *leave_id, size_t limit,
                           int (*cb)(void *arg, const struct leave_story_entry *e), void *arg,
                           int64_t *total, struct error *err)
{
	sqlite3_stmt *s;
	int64_t drifts;
	int rc;

	if (count_rows(st, "SELECT count(*) FROM target_event WHERE leave_id = ?1", leave_id, total,
	               err) < 0 ||
	    count_rows(st, "SELECT count(*) FROM drift WHERE leave_id = ?1", leave_id, &drifts,
	               err) < 0)
		return -1;
	*total += drifts;
	if (db_prepare(st, story_sql, &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	sqlite3_bind_int64(s, 2, limit_arg(limit));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct leave_story_entry e = {
		    .at = sqlite3_column_int64(s, 0),
		    .source = (const char *)sqlite3_column_text(s, 1),
		    .run_id = sqlite3_column_int64(s, 3),
		    .command = (const char *)sqlite3_column_text(s, 4),
		    .mailbox = (const char *)sqlite3_column_text(s, 5),
		    .action = (const char *)sqlite3_column_text(s, 6),
		    .kind = (const char *)sqlite3_column_text(s, 7),
		    .result = (const char *)sqlite3_column_text(s, 8),
		    .state = (const char *)sqlite3_column_text(s, 9),
		    .remote_id = (const char *)sqlite3_column_text(s, 10),
		    .change_key = (const char *)sqlite3_column_text(s, 11),
		    .backend = (const char *)sqlite3_column_text(s, 12),
		    .detail = (const char *)sqlite3_column_text(s, 13),
		};
		if (cb(arg, &e)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot read a leave's history");
}

int store_leave_targets(struct store *st, const char *leave_id, struct target **out,
                        int64_t **written_at, size_t *n, struct error *err)
{
	struct target *t = NULL;
	int64_t *w = NULL;
	size_t cap = 0, count = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*written_at = NULL;
	*n = 0;
	if (db_prepare(st,
	               "SELECT " TARGET_COLUMNS ", coalesce(written_at, 0) FROM target"
	               " WHERE leave_id = ?1 ORDER BY id",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? cap * 2 : 4;
			t = xrealloc(t, cap * sizeof *t);
			w = xrealloc(w, cap * sizeof *w);
		}
		memset(&t[count], 0, sizeof *t);
		target_from_row(s, &t[count]);
		w[count++] = sqlite3_column_int64(s, TARGET_NCOLUMNS);
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE) {
		targets_free(t, count);
		free(w);
		return db_error(st, err, "cannot read a leave's targets");
	}
	*out = t;
	*written_at = w;
	*n = count;
	return 0;
}

/* ---- for push (store_int.h) ---- */

/* The last id given (AUTOINCREMENT's sequence), not max(id): the newest rows may have been deleted,
 * and a range must never start inside an earlier one. */
int history_last_revision(struct store *st, int64_t *id, struct error *err)
{
	return count_rows(st,
	                  "SELECT coalesce((SELECT seq FROM sqlite_sequence"
	                  " WHERE name = 'leave_revision'), 0)",
	                  NULL, id, err);
}

int history_mark_source(struct store *st, int64_t after, const char *via, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	/* nothing when the push stored no revision */
	if (db_prepare(st,
	               "INSERT INTO leave_revision_source (after_id, last_id, via)"
	               " SELECT ?1, seq, ?2 FROM sqlite_sequence"
	               " WHERE name = 'leave_revision' AND seq > ?1",
	               &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, after);
	db_bind_text(s, 2, via);
	rc = sqlite3_step(s);
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot record a leave's revisions");
}
