/* What the command line reports after a run and to monitors: problems grouped by reason, whether a
 * resync names anything, the last successful run, and the pruning of old history. */
#include "store/store_int.h"

#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The part of a reason that is the same for every item it hit: server messages carry a request
 * id (a UUID) or a timestamp per request, which would otherwise make each item a reason of its
 * own. Each UUID becomes "*", each run of digits "0". */
static void reason_key(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *s = sqlite3_value_text(argv[0]);
	char *out;
	size_t n = 0, len;

	(void)argc;
	if (!s) {
		sqlite3_result_null(ctx);
		return;
	}
	len = strlen((const char *)s);
	out = sqlite3_malloc64(len + 1);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	for (size_t i = 0; i < len;) {
		size_t run = strspn((const char *)s + i, "0123456789abcdefABCDEF-");

		if (run >= 36 && s[i + 8] == '-' && s[i + 13] == '-') {
			out[n++] = '*';
			i += run;
		} else if (isdigit(s[i])) {
			out[n++] = '0';
			while (i < len && isdigit(s[i]))
				i++;
		} else {
			out[n++] = (char)s[i++];
		}
	}
	out[n] = '\0';
	sqlite3_result_text(ctx, out, (int)n, sqlite3_free);
}

static int register_functions(struct store *st, struct error *err)
{
	if (st->functions)
		return 0;
	if (sqlite3_create_function(st->db, "reason_key", 1,
	                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
	                            reason_key, NULL, NULL) != SQLITE_OK)
		return db_error(st, err, "cannot register a function");
	st->functions = true;
	return 0;
}

struct group_walk {
	struct problem_group g;
	char *kind, *key, *reason;
	size_t delivered, max_groups;
	int64_t *more;
	int stop;
	int (*cb)(void *arg, const struct problem_group *g);
	void *arg;
};

/* The group collected so far is complete: deliver it, or count it beyond max_groups. */
static void flush_group(struct group_walk *w)
{
	if (!w->kind)
		return;
	if (w->delivered < w->max_groups && !w->stop) {
		w->stop = w->cb(w->arg, &w->g);
		w->delivered++;
	} else {
		(*w->more)++;
	}
	problem_group_clear(&w->g);
	free(w->kind);
	free(w->key);
	free(w->reason);
	w->kind = w->key = w->reason = NULL;
}

int store_problem_groups(struct store *st, size_t max_groups,
                         int (*cb)(void *arg, const struct problem_group *g), void *arg,
                         int64_t *more_groups, struct error *err)
{
	struct group_walk w = {.max_groups = max_groups, .more = more_groups, .cb = cb, .arg = arg};
	sqlite3_stmt *s;
	int rc;

	*more_groups = 0;
	if (register_functions(st, err) < 0)
		return -1;
	/* A target with a problem is failed, waiting, or queued with the error of its last attempt
	 * (retrying); the partial index target_problems holds exactly those. Items are grouped by
	 * reason_key of their error; a group shows its first item's full text. */
	if (db_prepare(
	        st,
	        "WITH p AS (SELECT CASE WHEN state IN ('failed', 'waiting') THEN state"
	        "  ELSE 'retrying' END AS kind, coalesce(last_error, '') AS reason,"
	        "  reason_key(coalesce(last_error, '')) AS rkey, mailbox, leave_id FROM target"
	        "  WHERE state IN ('failed', 'waiting') OR (dirty AND last_error IS NOT NULL)),"
	        " g AS (SELECT kind, rkey, mailbox, leave_id,"
	        "  first_value(reason) OVER w AS reason, count(*) OVER (PARTITION BY kind, rkey)"
	        "  AS n, row_number() OVER w AS rn FROM p"
	        "  WINDOW w AS (PARTITION BY kind, rkey ORDER BY mailbox, leave_id))"
	        " SELECT kind, rkey, n, mailbox, leave_id, reason FROM g WHERE rn <= 3"
	        " ORDER BY CASE kind WHEN 'failed' THEN 0 WHEN 'waiting' THEN 1 ELSE 2 END,"
	        "  n DESC, rkey, rn",
	        &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		const char *key = (const char *)sqlite3_column_text(s, 1);

		if (!w.kind || strcmp(w.kind, k) != 0 || strcmp(w.key, key) != 0) {
			flush_group(&w);
			w.kind = xstrdup(k);
			w.key = xstrdup(key);
			w.reason = db_column_strdup(s, 5);
			w.g.state = w.kind;
			w.g.reason = w.reason;
			w.g.count = sqlite3_column_int64(s, 2);
		}
		if (w.g.nitems < 3) {
			w.g.mailbox[w.g.nitems] = db_column_strdup(s, 3);
			w.g.leave_id[w.g.nitems++] = db_column_strdup(s, 4);
		}
	}
	db_finish(st, s);
	if (rc == SQLITE_DONE)
		flush_group(&w);
	problem_group_clear(&w.g);
	free(w.kind);
	free(w.key);
	free(w.reason);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot read the failed and waiting targets");
	return 0;
}

void problem_group_clear(struct problem_group *g)
{
	for (size_t i = 0; i < g->nitems; i++) {
		free(g->mailbox[i]);
		free(g->leave_id[i]);
	}
	memset(g, 0, sizeof *g);
}

int store_resync_known(struct store *st, const char *leave_id, const char *mailbox, bool *known,
                       struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	*known = false;
	if (db_prepare(st,
	               "SELECT EXISTS (SELECT 1 FROM leave WHERE (?1 IS NULL OR id = ?1)"
	               "  AND (?2 IS NULL OR mailbox = lower(?2)))"
	               " OR EXISTS (SELECT 1 FROM target WHERE (?1 IS NULL OR leave_id = ?1)"
	               "  AND (?2 IS NULL OR mailbox = lower(?2)))",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, leave_id);
	db_bind_text(s, 2, mailbox);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*known = sqlite3_column_int(s, 0) != 0;
	db_finish(st, s);
	if (rc != SQLITE_ROW)
		return db_error(st, err, "cannot look up the leave to resync");
	return 0;
}

int store_prune_history(struct store *st, int64_t before, int64_t *pruned, struct error *err)
{
	/* drift rows go with their run (ON DELETE CASCADE); a run still going is never pruned. The
	 * leave's story (schema step 4) has the same age limit, also where no run was pruned (a
	 * store that HR pushes to but that syncs rarely); trigger run_prune_story does the same for
	 * whatever else deletes runs. */
	static const char *const steps[] = {
	    "DELETE FROM run WHERE finished_at IS NOT NULL AND finished_at < ?1",
	    "DELETE FROM leave_revision WHERE seen_at < ?1",
	    "DELETE FROM leave_revision_source"
	    " WHERE last_id < (SELECT coalesce(min(id), 1 << 62) FROM leave_revision)",
	    "DELETE FROM target_event WHERE at < ?1",
	};
	sqlite3_stmt *s;
	int rc;

	*pruned = 0;
	if (db_tx_begin(st, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (db_prepare(st, steps[i], &s, err) < 0) {
			db_tx_rollback(st);
			return -1;
		}
		if (sqlite3_bind_parameter_count(s) > 0)
			sqlite3_bind_int64(s, 1, before);
		rc = sqlite3_step(s);
		db_finish(st, s);
		if (rc != SQLITE_DONE) {
			db_error(st, err, "cannot prune the history");
			db_tx_rollback(st);
			return -1;
		}
		if (i == 0)
			*pruned = sqlite3_changes(st->db);
	}
	return db_tx_commit(st, err);
}

int store_notice_due(struct store *st, const char *key, int64_t now, int64_t interval, bool *due,
                     struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	*due = false;
	/* one statement: two runs at once cannot both say it */
	if (db_prepare(st,
	               "INSERT INTO notice (key, shown_at) VALUES (?1, ?2) ON CONFLICT (key)"
	               " DO UPDATE SET shown_at = excluded.shown_at WHERE shown_at <= ?2 - ?3",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, interval);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot record a notice");
	*due = sqlite3_changes(st->db) > 0;
	return 0;
}

int store_health(struct store *st, struct store_health *h, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	memset(h, 0, sizeof *h);
	if (db_prepare(
	        st,
	        "SELECT (SELECT count(*) FROM target WHERE state = 'failed'),"
	        " (SELECT count(*) FROM target WHERE state = 'waiting'),"
	        " (SELECT count(*) FROM target WHERE state = 'waiting' AND mailbox IN"
	        "   (SELECT mailbox FROM secrets.token WHERE needs_login)),"
	        " (SELECT count(*) FROM target WHERE dirty AND last_error IS NOT NULL"
	        "   AND state NOT IN ('failed', 'waiting')),"
	        " (SELECT count(*) FROM target WHERE state = 'synced'),"
	        " (SELECT count(*) FROM target WHERE dirty),"
	        " (SELECT count(*) FROM leave_dirty),"
	        " (SELECT exit_code FROM run WHERE command IN ('sync', 'resync', 'reconcile')"
	        "   AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1),"
	        " (SELECT max(finished_at) FROM run WHERE command IN ('sync', 'resync',"
	        "   'reconcile') AND finished_at IS NOT NULL AND exit_code IN (0, 1))",
	        &s, err) < 0)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		h->failed = sqlite3_column_int64(s, 0);
		h->waiting = sqlite3_column_int64(s, 1);
		h->needs_login = sqlite3_column_int64(s, 2);
		h->retrying = sqlite3_column_int64(s, 3);
		h->synced = sqlite3_column_int64(s, 4);
		h->queued = sqlite3_column_int64(s, 5);
		h->unrendered = sqlite3_column_int64(s, 6);
		h->last_exit =
		    sqlite3_column_type(s, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 7);
		h->last_success = sqlite3_column_int64(s, 8);
	}
	db_finish(st, s);
	if (rc != SQLITE_ROW)
		return db_error(st, err, "cannot read the store's health");
	return 0;
}
