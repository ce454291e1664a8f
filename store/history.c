/* Run and drift history. Callers never pass secrets; nothing here adds any. */
#include "store/store_int.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

void run_record_free(struct run_record *r)
{
	if (!r)
		return;
	free(r->command);
	free(r->summary);
	memset(r, 0, sizeof *r);
}

int store_run_begin(struct store *st, const char *command, int64_t *run_id, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st, "INSERT INTO run (command, started_at) VALUES (?1, ?2)", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, command);
	sqlite3_bind_int64(s, 2, now_unix());
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot record the start of a run");
	*run_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int store_run_end(struct store *st, const struct run_record *r, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(
	        st,
	        "UPDATE run SET finished_at = ?2, exit_code = ?3, created = ?4, updated = ?5,"
	        " deleted = ?6, adopted = ?7, unchanged = ?8, failed = ?9, waiting = ?10,"
	        " requests = ?11, summary = ?12 WHERE id = ?1",
	        &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int64(s, 2, r->finished_at ? r->finished_at : now_unix());
	sqlite3_bind_int(s, 3, r->exit_code);
	sqlite3_bind_int64(s, 4, r->created);
	sqlite3_bind_int64(s, 5, r->updated);
	sqlite3_bind_int64(s, 6, r->deleted);
	sqlite3_bind_int64(s, 7, r->adopted);
	sqlite3_bind_int64(s, 8, r->unchanged);
	sqlite3_bind_int64(s, 9, r->failed);
	sqlite3_bind_int64(s, 10, r->waiting);
	sqlite3_bind_int64(s, 11, r->requests);
	db_bind_text(s, 12, r->summary);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot record the end of a run");
	if (sqlite3_changes(st->db) == 0)
		return error_set(err, "cannot record the end of run %lld: no such run",
		                 (long long)r->id);
	return 0;
}

static void run_from_row(sqlite3_stmt *s, struct run_record *r)
{
	r->id = sqlite3_column_int64(s, 0);
	r->command = db_column_strdup(s, 1);
	r->started_at = sqlite3_column_int64(s, 2);
	r->finished_at = sqlite3_column_int64(s, 3);
	r->exit_code = sqlite3_column_int(s, 4);
	r->created = sqlite3_column_int64(s, 5);
	r->updated = sqlite3_column_int64(s, 6);
	r->deleted = sqlite3_column_int64(s, 7);
	r->adopted = sqlite3_column_int64(s, 8);
	r->unchanged = sqlite3_column_int64(s, 9);
	r->failed = sqlite3_column_int64(s, 10);
	r->waiting = sqlite3_column_int64(s, 11);
	r->requests = sqlite3_column_int64(s, 12);
	r->summary = db_column_strdup(s, 13);
}

int store_recent_runs(struct store *st, const char *command, size_t limit, struct run_record **out,
                      size_t *n, struct error *err)
{
	struct run_record *runs = NULL;
	size_t cap = 0, count = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(st,
	               "SELECT id, command, started_at, finished_at, exit_code, created, updated,"
	               " deleted, adopted, unchanged, failed, waiting, requests, summary FROM run"
	               " WHERE ?1 IS NULL OR command = ?1 ORDER BY id DESC LIMIT ?2",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, command);
	sqlite3_bind_int64(s, 2, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			runs = xrealloc(runs, cap * sizeof *runs);
		}
		memset(&runs[count], 0, sizeof *runs);
		run_from_row(s, &runs[count++]);
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < count; i++)
			run_record_free(&runs[i]);
		free(runs);
		return db_error(st, err, "cannot read run history");
	}
	*out = runs;
	*n = count;
	return 0;
}

int store_add_drift(struct store *st, const struct drift_record *d, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(
	        st,
	        "INSERT INTO drift (run_id, at, mailbox, leave_id, kind, action, result, detail)"
	        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	        &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, d->run_id);
	sqlite3_bind_int64(s, 2, d->at ? d->at : now_unix());
	db_bind_text(s, 3, d->mailbox);
	db_bind_text(s, 4, d->leave_id);
	db_bind_text(s, 5, d->kind);
	db_bind_text(s, 6, d->action);
	db_bind_text(s, 7, d->result ? d->result : "ok");
	db_bind_text(s, 8, d->detail);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot record drift");
	return 0;
}

int store_each_drift(struct store *st, int64_t run_id,
                     int (*cb)(void *arg, const struct drift_record *d), void *arg,
                     struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(
	        st,
	        "SELECT run_id, at, mailbox, leave_id, kind, action, result, detail FROM drift"
	        " WHERE run_id = ?1 ORDER BY id",
	        &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct drift_record d = {
		    .run_id = sqlite3_column_int64(s, 0),
		    .at = sqlite3_column_int64(s, 1),
		    .mailbox = (char *)sqlite3_column_text(s, 2),
		    .leave_id = (char *)sqlite3_column_text(s, 3),
		    .kind = (char *)sqlite3_column_text(s, 4),
		    .action = (char *)sqlite3_column_text(s, 5),
		    .result = (char *)sqlite3_column_text(s, 6),
		    .detail = (char *)sqlite3_column_text(s, 7),
		};
		/* borrowed from the statement: valid for the callback only */
		if (cb(arg, &d)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot read drift");
	return 0;
}
