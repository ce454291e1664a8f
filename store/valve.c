/* Counts for the safety valve: per mailbox, the engine-owned events a run would delete. */
#include "common/util.h"
#include "store/store_int.h"

int store_pending_deletions(struct store *st,
                            int (*cb)(void *arg, const char *mailbox, int64_t deletions,
                                      int64_t owned),
                            void *arg, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	/* The inner query walks the partial index of queued rows only, so a run with nothing to
	 * delete costs nothing; owned events are counted only for the mailboxes it names. */
	if (db_prepare(st,
	               "SELECT mailbox, SUM(desired IS NULL AND dirty), COUNT(*) FROM target"
	               " WHERE remote_id IS NOT NULL AND mailbox IN (SELECT mailbox FROM target"
	               "  INDEXED BY target_due WHERE dirty AND desired IS NULL"
	               "  AND remote_id IS NOT NULL) GROUP BY mailbox ORDER BY mailbox",
	               &s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cb(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
		       sqlite3_column_int64(s, 2)) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot count pending deletions");
	return 0;
}

int store_count_deferred(struct store *st, int64_t now, int64_t *count, int64_t *next_at,
                         struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st,
	               "SELECT count(*), min(next_attempt) FROM target INDEXED BY target_due"
	               " WHERE dirty AND next_attempt > ?1",
	               &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(s, 0);
		*next_at = sqlite3_column_int64(s, 1);
	}
	db_finish(st, s);
	if (rc != SQLITE_ROW)
		return db_error(st, err, "cannot count deferred targets");
	return 0;
}
