/* Private to store/: the store handle and the SQL helpers every file of store/ shares. */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include "store/store.h"

#include <sqlite3.h>
#include <sys/types.h>

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
	bool read_only; /* store_open_readonly: query_only, nothing migrated */
	bool functions; /* report.c's SQL functions are registered on db */
	bool shared;    /* [store] group names an existing group: share_gid */
	gid_t share_gid;
	char warning[600]; /* store_warning: "" or what opening fixed or could not fix */
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

/* Attaches the secrets database (store/secrets.c) as schema "secrets": for writing (created 0600
 * when missing), or read-only (an empty one in memory when there is no file). */
int secrets_attach(struct store *st, struct error *err);
int secrets_attach_readonly(struct store *st, struct error *err);

/* Adds "; "-separated text to st->warning (store_warning). */
void store_add_warning(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "file:" URI of path with a query ("mode=ro"), for sqlite3_open_v2 and ATTACH. Caller frees. */
char *store_file_uri(const char *path, const char *query);

/* Migrations: the list lives in schema.c (the secrets database is attached first: step 5 moves
 * the tokens there). fresh: the file was created by this open (init), so version 0 is a new store
 * rather than a foreign database. */
int schema_migrate(struct store *st, bool fresh, struct error *err);
/* The checks schema_migrate starts with (a leavesync store, of a version this build knows), for
 * before anything is created beside the file. */
int schema_check_known(struct store *st, bool fresh, struct error *err);
/* For a read-only open: the schema must be leavesync's and current (nothing is migrated). */
int schema_check_current(struct store *st, struct error *err);
int schema_latest_version(void);

/* The columns target_from_row reads, in its order (no table prefix). */
#define TARGET_COLUMNS                                                                             \
	"id, leave_id, mailbox, sync_key, desired, synced, remote_id, change_key, backend, "       \
	"state, "                                                                                  \
	"attempts, next_attempt, last_error, dirty, force, create_sent_at, unrenderable"
#define TARGET_NCOLUMNS 17 /* a query may add its own columns after these */
void target_from_row(sqlite3_stmt *s, struct target *t);

/* Target state names <-> enum; -1 for an unknown name. */
int target_state_from_name(const char *name);

/* Leave history (leave_history.c), for push, inside its transaction: the newest revision row's id
 * (0: none), and the source of the revisions written after it (one row, however many). */
int history_last_revision(struct store *st, int64_t *id, struct error *err);
int history_mark_source(struct store *st, int64_t after, const char *via, struct error *err);

/* "2026-11-25T13:34:53Z" now. */
void store_now_utc(char out[21]);

#endif
