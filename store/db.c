/* Opening the store (file mode, pragmas, migrations), the run lock, transactions, SQL helpers. */
#include "store/store_int.h"

#include "common/buf.h"
#include "common/util.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
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
 * SQLite then gives -wal and -shm the database file's mode. Only where no file exists (O_EXCL):
 * an existing file is never replaced. */
static int create_private_file(const char *path, struct error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return error_set(err,
		                 "cannot create the store %s: %s; check that its directory exists "
		                 "and is writable",
		                 path, strerror(errno));
	close(fd);
	return 0;
}

/* The file must be a non-empty regular file before SQLite is let near it: SQLite would initialise
 * an empty file as a new database, silently. Only stat(): opening and closing the database file
 * here would release every POSIX lock this process holds on it (fcntl(2): closing any descriptor
 * of a file drops the process's locks on it), which breaks the locking of the store's other
 * connections in `leavesync serve`. Whether the content is SQLite's is asked of SQLite itself
 * (check_header). */
static int check_file(const char *path, struct error *err)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return error_set(err,
		                 "cannot read the store %s: %s; check [store] path and the file's "
		                 "owner and mode",
		                 path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return error_set(err,
		                 "the store %s is not a regular file: set [store] path to the "
		                 "leavesync store",
		                 path);
	if (sb.st_size == 0)
		return error_set(
		    err,
		    "the store %s is an empty file (0 bytes), not a leavesync store; it "
		    "is left as it is: if it is yours and holds nothing, remove it and run "
		    "`leavesync init`, else set [store] path to the store",
		    path);
	return 0;
}

/* The first read of a newly opened store: SQLite refuses a file that is not one of its databases
 * (SQLITE_NOTADB) before it writes anything. */
static int check_header(struct store *st, struct error *err)
{
	int rc = sqlite3_exec(st->db, "PRAGMA schema_version", NULL, NULL, NULL);

	if (rc == SQLITE_NOTADB)
		return error_set(
		    err,
		    "the store %s is not an SQLite database, so not a leavesync store; it "
		    "is left as it is: set [store] path to the store, or move the file "
		    "away and run `leavesync init`",
		    st->path);
	if (rc != SQLITE_OK)
		return error_set(err, "cannot read the store %s: %s", st->path,
		                 sqlite3_errmsg(st->db));
	return 0;
}

void store_add_warning(struct store *st, const char *fmt, ...)
{
	size_t used = strlen(st->warning);
	va_list ap;

	if (used + 3 >= sizeof st->warning)
		return;
	if (used)
		used += (size_t)snprintf(st->warning + used, sizeof st->warning - used, "; ");
	va_start(ap, fmt);
	vsnprintf(st->warning + used, sizeof st->warning - used, fmt, ap);
	va_end(ap);
}

/* The store holds HR's leave (personal data): no one but its owner may read it, nor its -wal and
 * -shm (which hold recent pages), except the members of [store] group when it is set (HR's SQL
 * access, docs/store.md): then 0660 is right on a file of that group, and a file of ours that
 * SQLite created with another group is given to it. Wider modes are narrowed when the process owns
 * the file, and reported when it does not (the warning names the fix). The refresh tokens are not
 * here but in the secrets database, which is never shared (secrets.c). */
static void fix_mode(struct store *st, const char *file)
{
	struct stat sb;
	mode_t allowed = 0600, want;
	bool ours;

	if (stat(file, &sb) < 0 || !(sb.st_mode & 077))
		return;
	ours = sb.st_uid == geteuid();
	if (st->shared && sb.st_gid != st->share_gid && ours && !(sb.st_mode & 007) &&
	    chown(file, (uid_t)-1, st->share_gid) == 0)
		sb.st_gid = st->share_gid;
	if (st->shared && sb.st_gid == st->share_gid)
		allowed = 0660;
	if (!(sb.st_mode & 0777 & ~allowed))
		return;
	want = sb.st_mode & allowed;
	if (ours && chmod(file, want) == 0)
		store_add_warning(st,
		                  "%s had mode %04o (readable by %s) and holds personal data: "
		                  "changed to %04o",
		                  file, (unsigned)(sb.st_mode & 07777),
		                  sb.st_mode & 007 ? "others" : "its group", (unsigned)want);
	else
		store_add_warning(st,
		                  "%s has mode %04o (readable by %s) and holds personal data: its "
		                  "owner should run `chmod %o %s`",
		                  file, (unsigned)(sb.st_mode & 07777),
		                  sb.st_mode & 007 ? "others" : "its group", (unsigned)allowed,
		                  file);
}

static void fix_modes(struct store *st, const char *path)
{
	char side[4096];

	fix_mode(st, path);
	if (snprintf(side, sizeof side, "%s-wal", path) < (int)sizeof side)
		fix_mode(st, side);
	if (snprintf(side, sizeof side, "%s-shm", path) < (int)sizeof side)
		fix_mode(st, side);
}

static int apply_pragmas(struct store *st, struct error *err)
{
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if (st->read_only)
		return 0; /* query_only is set once the secrets are attached */
	if (db_exec(st, "PRAGMA foreign_keys = ON", err) < 0 ||
	    db_exec(st, "PRAGMA journal_mode = WAL", err) < 0 ||
	    db_exec(st, "PRAGMA synchronous = NORMAL", err) < 0 ||
	    db_exec(st, "PRAGMA wal_autocheckpoint = " STR(WAL_CHECKPOINT_PAGES), err) < 0)
		return error_prefix(err, "cannot configure the store: ");
	return 0;
}

/* group: [store] group, or NULL. A name that is no group leaves the store unshared here; the CLI
 * reports it (store_share_with_group). getgrnam_r: serve opens stores from several threads. */
static struct store *store_new(const char *path, bool read_only, const char *group)
{
	struct store *st = xcalloc(1, sizeof *st);

	st->path = xstrdup(path);
	st->lock_fd = -1;
	st->read_only = read_only;
	if (group) {
		struct group g, *found = NULL;
		char buf[4096];

		if (getgrnam_r(group, &g, buf, sizeof buf, &found) == 0 && found) {
			st->shared = true;
			st->share_gid = found->gr_gid;
		}
	}
	return st;
}

int store_open(const char *path, bool create, const char *group, struct store **out,
               struct error *err)
{
	struct store *st;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	bool fresh = false;

	*out = NULL;
	if (access(path, F_OK) == 0) {
		if (check_file(path, err) < 0)
			return -1;
	} else if (!create) {
		return error_set(err,
		                 "the store %s does not exist: run `leavesync init` first, or set "
		                 "[store] path",
		                 path);
	} else {
		if (create_private_file(path, err) < 0)
			return -1;
		fresh = true;
	}
	st = store_new(path, false, group);
	fix_modes(st, path); /* before SQLite creates -wal and -shm with the file's mode */
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		error_set(err, "cannot open the store %s: %s", path,
		          st->db ? sqlite3_errmsg(st->db) : "out of memory");
		store_close(st);
		return -1;
	}
	if (sqlite3_db_readonly(st->db, "main") == 1) { /* SQLite fell back to reading */
		error_set(
		    err,
		    "the store %s is read-only for this user (uid %ld): this command writes it; "
		    "run it as the store's owner (status and export only read)",
		    path, (long)geteuid());
		store_close(st);
		return -1;
	}
	/* the secrets database is created beside a store only once the file proved leavesync's */
	if ((!fresh && check_header(st, err) < 0) || apply_pragmas(st, err) < 0 ||
	    schema_check_known(st, fresh, err) < 0 || secrets_attach(st, err) < 0 ||
	    schema_migrate(st, fresh, err) < 0) {
		store_close(st);
		return -1;
	}
	fix_modes(st, path);
	*out = st;
	return 0;
}

/* RFC 3986 percent-encoding of what a URI path cannot hold. */
char *store_file_uri(const char *path, const char *query)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#' || *p <= 0x20 || *p >= 0x7f)
			buf_printf(&b, "%%%02X", *p);
		else
			buf_append(&b, p, 1);
	}
	buf_printf(&b, "?%s", query);
	return buf_steal(&b);
}

/* A read-only open of a WAL database needs a -shm it can use or create; in a directory the user
 * cannot write, a closed store has none. When no -wal exists either (no writer has unsaved pages),
 * the file is complete and is read as immutable. */
static int open_readonly_db(struct store *st, struct error *err)
{
	char wal[4096], *uri;
	/* read-only through the URI (mode=ro), not the flags: a database attached to a connection
	 * opened SQLITE_OPEN_READONLY is read-only too, and the stand-in for a missing secrets
	 * database (secrets.c) is an empty one in memory that needs its table */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
	int rc;

	uri = store_file_uri(st->path, "mode=ro");
	rc = sqlite3_open_v2(uri, &st->db, flags, NULL);
	free(uri);
	if (rc == SQLITE_OK && sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_master", NULL,
	                                    NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(wal, sizeof wal, "%s-wal", st->path);
	if (access(wal, F_OK) == 0)
		return error_set(err,
		                 "cannot read the store %s: %s; another process is writing it and "
		                 "this user cannot share its -shm file (run as the store's owner)",
		                 st->path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
	sqlite3_close_v2(st->db);
	st->db = NULL;
	uri = store_file_uri(st->path, "mode=ro&immutable=1");
	rc = sqlite3_open_v2(uri, &st->db, flags, NULL);
	free(uri);
	if (rc != SQLITE_OK)
		return error_set(err, "cannot open the store %s read-only: %s", st->path,
		                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
	return 0;
}

int store_open_readonly(const char *path, const char *group, bool with_secrets, struct store **out,
                        struct error *err)
{
	struct store *st;

	*out = NULL;
	if (access(path, F_OK) < 0)
		return error_set(err,
		                 "the store %s does not exist: run `leavesync init` first, or set "
		                 "[store] path",
		                 path);
	if (check_file(path, err) < 0)
		return -1;
	st = store_new(path, true, group);
	fix_modes(st, path);
	/* the secrets before query_only, which would refuse the table of an empty stand-in */
	if (open_readonly_db(st, err) < 0 || check_header(st, err) < 0 ||
	    apply_pragmas(st, err) < 0 || schema_check_current(st, err) < 0 ||
	    (with_secrets && secrets_attach_readonly(st, err) < 0) ||
	    db_exec(st, "PRAGMA query_only = ON", err) < 0) {
		store_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

const char *store_warning(const struct store *st)
{
	return st ? st->warning : "";
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

const char *store_path(const struct store *st)
{
	return st->path;
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
