/* Opening the store (file mode, pragmas, migrations), the run lock, transactions, SQL helpers. */
#include "store/store_int.h"

#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 30000
/* A sync commits one short transaction per batch, rewriting the same table pages again and again;
 * checkpointing every 1,000 WAL pages (SQLite's default) copied and fsynced those pages over and
 * over (a tenth of a sync's CPU). 10,000 pages (40 MB of WAL at most) cut that by more than half;
 * the WAL is checkpointed and removed when the store closes. */
#define WAL_CHECKPOINT_PAGES 10000
#define STR_(x) #x
#define STR(x) STR_(x)

int db_error(struct store *st, struct error *err, const char *what)
{
	return error_set(err, "%s: %s (store %s)", what, sqlite3_errmsg(st->db), st->path);
}

int db_prepare(struct store *st, const char *sql, sqlite3_stmt **out, struct error *err)
{
	struct stmt_cache_entry *free_slot = NULL;

	for (int i = 0; i < STMT_CACHE; i++) {
		struct stmt_cache_entry *e = &st->cache[i];
		if (e->sql == sql && !e->in_use) {
			e->in_use = 1;
			*out = e->stmt;
			return 0;
		}
		if (!e->sql && !free_slot)
			free_slot = e;
	}
	if (sqlite3_prepare_v3(st->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, out,
	                       NULL) != SQLITE_OK) {
		*out = NULL;
		return db_error(st, err, "cannot prepare a statement");
	}
	if (free_slot) {
		free_slot->sql = sql;
		free_slot->stmt = *out;
		free_slot->in_use = 1;
	}
	return 0;
}

void db_finish(struct store *st, sqlite3_stmt *s)
{
	if (!s)
		return;
	for (int i = 0; i < STMT_CACHE; i++) {
		if (st->cache[i].stmt == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			st->cache[i].in_use = 0;
			return;
		}
	}
	sqlite3_finalize(s);
}

int db_exec(struct store *st, const char *sql, struct error *err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(st, err, "database statement failed");
	return 0;
}

int db_tx_begin(struct store *st, struct error *err)
{
	if (sqlite3_get_autocommit(st->db))
		return db_exec(st, "BEGIN IMMEDIATE", err);
	return db_exec(st, "SAVEPOINT nested", err);
}

int db_tx_commit(struct store *st, struct error *err)
{
	/* RELEASE of the outermost savepoint would commit; BEGIN was used there, so COMMIT. */
	if (sqlite3_exec(st->db, "RELEASE nested", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	if (db_exec(st, "COMMIT", err) < 0) {
		db_tx_rollback(st);
		return -1;
	}
	return 0;
}

void db_tx_rollback(struct store *st)
{
	if (sqlite3_exec(st->db, "ROLLBACK TO nested", NULL, NULL, NULL) == SQLITE_OK) {
		sqlite3_exec(st->db, "RELEASE nested", NULL, NULL, NULL);
		return;
	}
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

char *db_column_strdup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	if (!t)
		return NULL;
	return xstrndup((const char *)t, (size_t)sqlite3_column_bytes(s, col));
}

int db_bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	if (!text)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, text, -1, SQLITE_STATIC);
}

void store_now_utc(char out[21])
{
	format_utc(out, now_unix());
}

/* Creates the file with mode 0600 before SQLite sees it, so that it never exists with wider rights;
 * SQLite then gives -wal and -shm the database file's mode. */
static int create_private_file(const char *path, struct error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return error_set(err,
		                 "cannot create the store %s: %s; check that its directory exists "
		                 "and is writable",
		                 path, strerror(errno));
	close(fd);
	return 0;
}

/* -wal and -shm must not be readable by more people than the database itself. */
static void tighten_sidecar(const char *path, const char *suffix)
{
	char side[4096];
	struct stat db, sb;

	if (snprintf(side, sizeof side, "%s%s", path, suffix) >= (int)sizeof side)
		return;
	if (stat(path, &db) == 0 && stat(side, &sb) == 0 && (sb.st_mode & 0777 & ~db.st_mode))
		chmod(side, sb.st_mode & db.st_mode & 0777);
}

static int apply_pragmas(struct store *st, struct error *err)
{
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if (db_exec(st, "PRAGMA foreign_keys = ON", err) < 0 ||
	    db_exec(st, "PRAGMA journal_mode = WAL", err) < 0 ||
	    db_exec(st, "PRAGMA synchronous = NORMAL", err) < 0 ||
	    db_exec(st, "PRAGMA wal_autocheckpoint = " STR(WAL_CHECKPOINT_PAGES), err) < 0)
		return error_prefix(err, "cannot configure the store: ");
	return 0;
}

int store_open(const char *path, bool create, struct store **out, struct error *err)
{
	struct store *st;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	*out = NULL;
	if (create) {
		if (create_private_file(path, err) < 0)
			return -1;
	} else if (access(path, F_OK) < 0) {
		return error_set(err,
		                 "the store %s does not exist: run `leavesync init` first, or set "
		                 "[store] path",
		                 path);
	}
	st = xcalloc(1, sizeof *st);
	st->path = xstrdup(path);
	st->lock_fd = -1;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		error_set(err, "cannot open the store %s: %s", path,
		          st->db ? sqlite3_errmsg(st->db) : "out of memory");
		store_close(st);
		return -1;
	}
	if (apply_pragmas(st, err) < 0 || secrets_attach(st, err) < 0 ||
	    schema_migrate(st, err) < 0) {
		store_close(st);
		return -1;
	}
	tighten_sidecar(path, "-wal");
	tighten_sidecar(path, "-shm");
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(st->cache[i].stmt);
	if (st->db)
		sqlite3_close_v2(st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->path);
	free(st);
}

int store_schema_version(struct store *st)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static long lock_holder_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static void record_lock_holder(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) != n) {
		/* the pid is only for the message of a second process: not worth failing over */
	}
}

int store_lock_run(struct store *st, struct error *err)
{
	char lock[4096];
	int fd;

	if (st->lock_fd >= 0)
		return 0;
	if (snprintf(lock, sizeof lock, "%s.lock", st->path) >= (int)sizeof lock)
		return error_set(err, "store path too long: %s", st->path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, "cannot open the lock file %s: %s", lock, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		long pid = lock_holder_pid(fd);

		close(fd);
		if (e == EWOULDBLOCK) {
			error_set(err,
			          "another leavesync sync is running on %s (pid %ld); wait for it "
			          "to finish",
			          st->path, pid);
			return STORE_LOCKED;
		}
		return error_set(err, "cannot lock %s: %s", lock, strerror(e));
	}
	record_lock_holder(fd);
	st->lock_fd = fd;
	return 0;
}

int store_begin(struct store *st, struct error *err)
{
	return db_tx_begin(st, err);
}

int store_commit(struct store *st, struct error *err)
{
	return db_tx_commit(st, err);
}

void store_rollback(struct store *st)
{
	db_tx_rollback(st);
}
