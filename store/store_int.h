/* Private to store/: the store handle and the SQL helpers every file of store/ shares. */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include "store/store.h"

#include <sqlite3.h>

#define STMT_CACHE 48

/* Prepared statements kept for reuse, keyed by the address of their SQL text (always a literal). */
struct stmt_cache_entry {
	const char *sql;
	sqlite3_stmt *stmt;
	int in_use;
};

struct store {
	sqlite3 *db;
	struct stmt_cache_entry cache[STMT_CACHE];
	char *path;     /* as given to store_open, for messages */
	int lock_fd;    /* PATH.lock while store_lock_run holds it, else -1 */
	bool functions; /* report.c's SQL functions are registered on db */
};

/* Sets err to "what: sqlite's message (STORE)" and returns -1. */
int db_error(struct store *st, struct error *err, const char *what);

/* Prepares sql (a string literal: cached by its address, so a hot statement is compiled once per
 * connection); -1 with err on failure. Release with db_finish, never sqlite3_finalize. */
int db_prepare(struct store *st, const char *sql, sqlite3_stmt **out, struct error *err);
/* Resets a cached statement for its next use, or finalizes an uncached one. NULL is fine. */
void db_finish(struct store *st, sqlite3_stmt *s);

/* Runs one or more statements without results. */
int db_exec(struct store *st, const char *sql, struct error *err);

/* A write transaction that nests: BEGIN IMMEDIATE at the top level (so that a writer waits on
 * busy_timeout instead of failing on a lock upgrade), a SAVEPOINT inside store_begin. */
int db_tx_begin(struct store *st, struct error *err);
int db_tx_commit(struct store *st, struct error *err);
void db_tx_rollback(struct store *st);

/* Column helpers: a malloc'd copy of a text column (NULL stays NULL). */
char *db_column_strdup(sqlite3_stmt *s, int col);

/* Binds text or NULL. */
int db_bind_text(sqlite3_stmt *s, int idx, const char *text);

/* Attaches the secrets database (store/secrets.c) as schema "secrets", creating it 0600. */
int secrets_attach(struct store *st, struct error *err);

/* Migrations: the list lives in schema.c. */
int schema_migrate(struct store *st, struct error *err);
int schema_latest_version(void);

/* Target state names <-> enum; -1 for an unknown name. */
int target_state_from_name(const char *name);

/* "2026-11-25T13:34:53Z" now. */
void store_now_utc(char out[21]);

#endif
