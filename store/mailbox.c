/* The mailbox table: what a backend resolved about a mailbox once and reuses on every run (Graph:
 * the user's object id, docs/graph.md "Users"). Keyed by the lower-case address of the leave. */
#include "store/store_int.h"

#include "common/util.h"

#include <time.h>

int store_get_graph_user_id(struct store *st, const char *mailbox, char **user_id,
                            struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	*user_id = NULL;
	if (db_prepare(st,
	               "SELECT graph_user_id FROM mailbox WHERE mailbox = lower(?1)"
	               " AND graph_user_id IS NOT NULL",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, mailbox);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*user_id = db_column_strdup(s, 0);
	else if (rc != SQLITE_DONE)
		db_error(st, err, "cannot read the Graph user id of a mailbox");
	db_finish(st, s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_set_graph_user_id(struct store *st, const char *mailbox, const char *user_id,
                            struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st,
	               "INSERT INTO mailbox (mailbox, graph_user_id, resolved_at)"
	               " VALUES (lower(?1), ?2, ?3) ON CONFLICT (mailbox) DO UPDATE"
	               " SET graph_user_id = excluded.graph_user_id,"
	               " resolved_at = excluded.resolved_at",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, mailbox);
	db_bind_text(s, 2, user_id);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot save the Graph user id of a mailbox");
	return 0;
}
