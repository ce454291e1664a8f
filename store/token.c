/* The token table: delegated connections (refresh tokens). The store file is 0600; nothing here
 * ever puts a token into an error message. */
#include "store/store_int.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define CONNECTION_COLUMNS "mailbox, refresh_token, scope, user, needs_login, reason, updated_at"

void connection_free(struct connection *c)
{
	if (!c)
		return;
	free(c->mailbox);
	free(c->refresh_token);
	free(c->scope);
	free(c->user);
	free(c->reason);
	free(c->updated_at);
	memset(c, 0, sizeof *c);
}

static void connection_from_row(sqlite3_stmt *s, struct connection *c)
{
	c->mailbox = db_column_strdup(s, 0);
	c->refresh_token = db_column_strdup(s, 1);
	c->scope = db_column_strdup(s, 2);
	c->user = db_column_strdup(s, 3);
	c->needs_login = sqlite3_column_int(s, 4) != 0;
	c->reason = db_column_strdup(s, 5);
	c->updated_at = db_column_strdup(s, 6);
}

int store_get_connection(struct store *st, const char *mailbox, struct connection *out,
                         struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	if (db_prepare(st,
	               "SELECT " CONNECTION_COLUMNS " FROM secrets.token WHERE mailbox = lower(?1)",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, mailbox);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		connection_from_row(s, out);
	else if (rc != SQLITE_DONE)
		db_error(st, err, "cannot read the connection of a mailbox");
	db_finish(st, s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_put_connection(struct store *st, const struct connection *c, struct error *err)
{
	char now[21];
	sqlite3_stmt *s;
	int rc;

	store_now_utc(now);
	/* One statement, so a rotated refresh token replaces the old one atomically. */
	if (db_prepare(st,
	               "INSERT OR REPLACE INTO secrets.token (" CONNECTION_COLUMNS ")"
	               " VALUES (lower(?1), ?2, ?3, ?4, 0, NULL, ?5)",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, c->mailbox);
	db_bind_text(s, 2, c->refresh_token);
	db_bind_text(s, 3, c->scope);
	db_bind_text(s, 4, c->user);
	db_bind_text(s, 5, now);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot save the connection of a mailbox");
	return 0;
}

int store_mark_needs_login(struct store *st, const char *mailbox, const char *reason,
                           struct error *err)
{
	char now[21];
	sqlite3_stmt *s;
	int rc;

	store_now_utc(now);
	if (db_prepare(
	        st,
	        "INSERT INTO secrets.token (mailbox, needs_login, reason, updated_at)"
	        " VALUES (lower(?1), 1, ?2, ?3) ON CONFLICT (mailbox) DO UPDATE SET"
	        " needs_login = 1, reason = excluded.reason, updated_at = excluded.updated_at",
	        &s, err) < 0)
		return -1;
	db_bind_text(s, 1, mailbox);
	db_bind_text(s, 2, reason);
	db_bind_text(s, 3, now);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot mark a connection as needing login");
	return 0;
}

int store_each_connection(struct store *st, int (*cb)(void *arg, const struct connection *c),
                          void *arg, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st, "SELECT " CONNECTION_COLUMNS " FROM secrets.token ORDER BY mailbox", &s,
	               err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct connection c;
		int stop;

		connection_from_row(s, &c);
		stop = cb(arg, &c);
		connection_free(&c);
		if (stop) {
			rc = SQLITE_DONE;
			break;
		}
	}
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot list connections");
	return 0;
}

int store_delete_connection(struct store *st, const char *mailbox, bool *found, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	*found = false;
	/* secure_delete is on for the secrets database: the token's bytes are overwritten */
	if (db_prepare(st, "DELETE FROM secrets.token WHERE mailbox = lower(?1)", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, mailbox);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot remove the connection of a mailbox");
	*found = sqlite3_changes(st->db) > 0;
	return 0;
}
