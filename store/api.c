/* The tables of leavesync serve (schema step 2): API keys, Idempotency-Key records, queued jobs,
 * and the leave-with-state view the API answers with. Only hashes of API keys are stored. */
#include "store/store_int.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* ---- API keys ---- */

void api_key_free(struct api_key *k)
{
	if (!k)
		return;
	free(k->name);
	free(k->scope);
	memset(k, 0, sizeof *k);
}

int store_apikey_add(struct store *st, const char *name, const unsigned char *hash,
                     const char *scope, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(
	        st, "INSERT INTO api_key (name, hash, scope, created_at) VALUES (?1, ?2, ?3, ?4)",
	        &s, err) < 0)
		return -1;
	db_bind_text(s, 1, name);
	sqlite3_bind_blob(s, 2, hash, API_KEY_HASH_LEN, SQLITE_STATIC);
	db_bind_text(s, 3, scope);
	sqlite3_bind_int64(s, 4, now_unix());
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc == SQLITE_CONSTRAINT)
		return error_set(err,
		                 "an API key named '%s' exists already: choose another name, or "
		                 "revoke it first (leavesync apikey revoke %s)",
		                 name, name);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot store the API key");
	return 0;
}

static void key_from_row(sqlite3_stmt *s, struct api_key *k)
{
	const void *h = sqlite3_column_blob(s, 2);

	k->name = db_column_strdup(s, 0);
	k->scope = db_column_strdup(s, 1);
	if (h && sqlite3_column_bytes(s, 2) == API_KEY_HASH_LEN)
		memcpy(k->hash, h, API_KEY_HASH_LEN);
	k->created_at = sqlite3_column_int64(s, 3);
}

int store_apikey_find(struct store *st, const unsigned char *hash, struct api_key *out,
                      struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	if (db_prepare(st, "SELECT name, scope, hash, created_at FROM api_key WHERE hash = ?1", &s,
	               err) < 0)
		return -1;
	sqlite3_bind_blob(s, 1, hash, API_KEY_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		key_from_row(s, out);
	else if (rc != SQLITE_DONE)
		db_error(st, err, "cannot read API keys");
	db_finish(st, s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_apikey_revoke(struct store *st, const char *name, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st, "DELETE FROM api_key WHERE name = ?1", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, name);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot revoke the API key");
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int store_apikey_each(struct store *st, int (*cb)(void *arg, const struct api_key *k), void *arg,
                      struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st, "SELECT name, scope, hash, created_at FROM api_key ORDER BY name", &s,
	               err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct api_key k = {0};
		int stop;

		key_from_row(s, &k);
		stop = cb(arg, &k);
		api_key_free(&k);
		if (stop) {
			rc = SQLITE_DONE;
			break;
		}
	}
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot list API keys");
}

/* ---- idempotency records ---- */

void idem_record_free(struct idem_record *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->body);
	memset(r, 0, sizeof *r);
}

int store_idem_get(struct store *st, const char *key_name, const char *idem_key, int64_t not_before,
                   struct idem_record *out, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	if (db_prepare(st,
	               "SELECT request_hash, status, content_type, body, created_at"
	               " FROM api_idempotency WHERE key_name = ?1 AND idem_key = ?2"
	               " AND created_at >= ?3",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key_name);
	db_bind_text(s, 2, idem_key);
	sqlite3_bind_int64(s, 3, not_before);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(s, 0);
		int hl = sqlite3_column_bytes(s, 0);
		const void *b = sqlite3_column_blob(s, 3);
		size_t bl = (size_t)sqlite3_column_bytes(s, 3);

		if (h && hl == (int)sizeof out->request_hash)
			memcpy(out->request_hash, h, sizeof out->request_hash);
		out->status = sqlite3_column_int(s, 1);
		out->content_type = db_column_strdup(s, 2);
		out->body = xmalloc(bl + 1);
		if (bl)
			memcpy(out->body, b, bl);
		out->body[bl] = '\0';
		out->body_len = bl;
		out->created_at = sqlite3_column_int64(s, 4);
	} else if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read idempotency records");
	}
	db_finish(st, s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_idem_put(struct store *st, const char *key_name, const char *idem_key,
                   const struct idem_record *r, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(
	        st,
	        "INSERT OR REPLACE INTO api_idempotency (key_name, idem_key, request_hash,"
	        " status, content_type, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	        &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key_name);
	db_bind_text(s, 2, idem_key);
	sqlite3_bind_blob(s, 3, r->request_hash, sizeof r->request_hash, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, r->status);
	db_bind_text(s, 5, r->content_type);
	sqlite3_bind_blob(s, 6, r->body ? r->body : "", (int)r->body_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, r->created_at ? r->created_at : now_unix());
	rc = sqlite3_step(s);
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot remember the response");
}

int store_idem_prune(struct store *st, int64_t before, int64_t *removed, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st, "DELETE FROM api_idempotency WHERE created_at < ?1", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, before);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot prune idempotency records");
	if (removed)
		*removed = sqlite3_changes(st->db);
	return 0;
}

/* ---- jobs ---- */

#define JOB_COLUMNS                                                                                \
	"id, kind, params, state, key_name, requested_at, started_at, finished_at, run_id, result"

void api_job_free(struct api_job *j)
{
	if (!j)
		return;
	free(j->kind);
	free(j->params);
	free(j->state);
	free(j->key_name);
	free(j->result);
	memset(j, 0, sizeof *j);
}

static void job_from_row(sqlite3_stmt *s, struct api_job *j)
{
	j->id = sqlite3_column_int64(s, 0);
	j->kind = db_column_strdup(s, 1);
	j->params = db_column_strdup(s, 2);
	j->state = db_column_strdup(s, 3);
	j->key_name = db_column_strdup(s, 4);
	j->requested_at = sqlite3_column_int64(s, 5);
	j->started_at = sqlite3_column_int64(s, 6);
	j->finished_at = sqlite3_column_int64(s, 7);
	j->run_id = sqlite3_column_int64(s, 8);
	j->result = db_column_strdup(s, 9);
}

int store_job_add(struct store *st, const char *kind, const char *params, const char *key_name,
                  int64_t *id, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st,
	               "INSERT INTO api_job (kind, params, key_name, requested_at)"
	               " VALUES (?1, ?2, ?3, ?4)",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, kind);
	db_bind_text(s, 2, params);
	db_bind_text(s, 3, key_name);
	sqlite3_bind_int64(s, 4, now_unix());
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot queue the job");
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

static int job_query(struct store *st, const char *sql, int64_t id, struct api_job *out,
                     struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	if (db_prepare(st, sql, &s, err) < 0)
		return -1;
	if (id)
		sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		job_from_row(s, out);
	else if (rc != SQLITE_DONE)
		db_error(st, err, "cannot read jobs");
	db_finish(st, s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_job_get(struct store *st, int64_t id, struct api_job *out, struct error *err)
{
	return job_query(st, "SELECT " JOB_COLUMNS " FROM api_job WHERE id = ?1", id, out, err);
}

int store_job_next(struct store *st, struct api_job *out, struct error *err)
{
	return job_query(st,
	                 "SELECT " JOB_COLUMNS " FROM api_job WHERE state IN ('queued', 'running')"
	                 " AND state = 'queued' ORDER BY id LIMIT 1",
	                 0, out, err);
}

int store_job_update(struct store *st, int64_t id, const char *state, int64_t run_id,
                     const char *result, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st,
	               "UPDATE api_job SET state = ?2, run_id = nullif(?3, 0), result = ?4,"
	               " started_at = CASE WHEN ?2 = 'running' THEN ?5 ELSE started_at END,"
	               " finished_at = CASE WHEN ?2 IN ('done', 'failed') THEN ?5 ELSE NULL END"
	               " WHERE id = ?1",
	               &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	db_bind_text(s, 2, state);
	sqlite3_bind_int64(s, 3, run_id);
	db_bind_text(s, 4, result);
	sqlite3_bind_int64(s, 5, now_unix());
	rc = sqlite3_step(s);
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot update the job");
}

int store_job_requeue_interrupted(struct store *st, struct error *err)
{
	return db_exec(st,
	               "UPDATE api_job SET state = 'queued', started_at = NULL"
	               " WHERE state IN ('queued', 'running') AND state = 'running'",
	               err);
}

static int count_query(struct store *st, const char *sql, int64_t arg, int64_t *n,
                       struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	*n = 0;
	if (db_prepare(st, sql, &s, err) < 0)
		return -1;
	if (strstr(sql, "?1"))
		sqlite3_bind_int64(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(s, 0);
	db_finish(st, s);
	return rc == SQLITE_ROW ? 0 : db_error(st, err, "cannot count");
}

int store_job_count_queued(struct store *st, int64_t *n, struct error *err)
{
	return count_query(st,
	                   "SELECT count(*) FROM api_job WHERE state IN ('queued', 'running')"
	                   " AND state = 'queued'",
	                   0, n, err);
}

int store_pending_work(struct store *st, int64_t now, int64_t *leaves, int64_t *targets,
                       struct error *err)
{
	if (count_query(st, "SELECT count(*) FROM leave_dirty", 0, leaves, err) < 0)
		return -1;
	return count_query(st, "SELECT count(*) FROM target WHERE dirty AND next_attempt <= ?1",
	                   now, targets, err);
}

/* ---- leave with state ---- */

void leave_status_free(struct leave_status *s)
{
	if (!s)
		return;
	leave_free(&s->lv);
	free(s->state);
	free(s->reason);
	free(s->remote_id);
	memset(s, 0, sizeof *s);
}

/* The state a client sees: queued for rendering or for a write is "pending"; no target at all is a
 * leave whose event must not exist and does not (cancelled, or a kind not synced). */
static const char status_sql[] =
    "SELECT * FROM (SELECT l.id, l.mailbox, l.kind, l.starts, l.ends, l.time_zone, l.status,"
    "  l.note, l.revision, l.updated_at,"
    "  CASE WHEN EXISTS (SELECT 1 FROM leave_dirty d WHERE d.leave_id = l.id) THEN 'pending'"
    "       WHEN t.id IS NULL THEN 'synced'"
    "       WHEN t.state IN ('pending', 'creating') THEN 'pending'"
    "       WHEN t.state = 'synced' AND t.dirty THEN 'pending'"
    "       ELSE t.state END AS st,"
    "  CASE WHEN t.state IN ('failed', 'waiting') THEN t.last_error END,"
    "  t.remote_id, t.written_at, t.next_attempt, t.attempts"
    " FROM leave l LEFT JOIN target t ON t.leave_id = l.id AND t.mailbox = l.mailbox"
    " WHERE (?1 IS NULL OR l.id = ?1) AND (?2 IS NULL OR l.mailbox = ?2)"
    "   AND (?4 IS NULL OR l.id > ?4))"
    " WHERE ?3 IS NULL OR st = ?3 ORDER BY id LIMIT ?5";

int store_each_leave_status(struct store *st, const struct leave_filter *f,
                            int (*cb)(void *arg, const struct leave_status *s), void *arg,
                            struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st, status_sql, &s, err) < 0)
		return -1;
	db_bind_text(s, 1, f->id);
	db_bind_text(s, 2, f->mailbox);
	db_bind_text(s, 3, f->state);
	db_bind_text(s, 4, f->after_id);
	sqlite3_bind_int64(s, 5, f->limit ? (int64_t)f->limit : 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct leave_status ls = {0};
		int stop;

		ls.lv.id = db_column_strdup(s, 0);
		ls.lv.mailbox = db_column_strdup(s, 1);
		ls.lv.kind = db_column_strdup(s, 2);
		ls.lv.starts = db_column_strdup(s, 3);
		ls.lv.ends = db_column_strdup(s, 4);
		ls.lv.time_zone = db_column_strdup(s, 5);
		ls.lv.status = db_column_strdup(s, 6);
		ls.lv.note = db_column_strdup(s, 7);
		ls.lv.revision = sqlite3_column_int64(s, 8);
		ls.lv.updated_at = db_column_strdup(s, 9);
		ls.state = db_column_strdup(s, 10);
		ls.reason = db_column_strdup(s, 11);
		ls.remote_id = db_column_strdup(s, 12);
		ls.written_at = sqlite3_column_int64(s, 13);
		ls.next_attempt = sqlite3_column_int64(s, 14);
		ls.attempts = sqlite3_column_int(s, 15);
		stop = cb(arg, &ls);
		leave_status_free(&ls);
		if (stop) {
			rc = SQLITE_DONE;
			break;
		}
	}
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot read leave");
}
