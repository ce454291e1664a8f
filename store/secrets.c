/* The secrets database: delegated refresh tokens live in a second SQLite file beside the store,
 * mode 0600 always, attached to every connection the engine opens as schema "secrets". The store
 * itself then holds no secret and may be shared with an HR group ([store] group, 0660) for direct
 * SQL; the secrets file never is. */
#include "store/store_int.h"

#include "common/buf.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *store_secrets_path(const char *store_path)
{
	size_t n = strlen(store_path);
	struct buf b = BUF_INIT;

	if (n > 3 && strcmp(store_path + n - 3, ".db") == 0)
		n -= 3;
	buf_printf(&b, "%.*s-secrets.db", (int)n, store_path);
	return buf_steal(&b);
}

/* Only its owner may read the file (and its -wal, -shm): narrowed when this process owns it,
 * refused otherwise (the tokens would be readable by someone else). */
static int keep_private(const char *file, bool must_exist, struct error *err)
{
	struct stat sb;

	if (stat(file, &sb) < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return error_set(err, "cannot read %s: %s", file, strerror(errno));
	}
	if (!(sb.st_mode & 077))
		return 0;
	if (sb.st_uid == geteuid() && chmod(file, sb.st_mode & 0600) == 0)
		return 0;
	return error_set(err,
	                 "%s has mode %04o and holds refresh tokens: only its owner may read it; "
	                 "its owner should run `chmod 600 %s` (the secrets are never shared, not "
	                 "even with [store] group)",
	                 file, (unsigned)(sb.st_mode & 07777), file);
}

static int keep_all_private(const char *path, struct error *err)
{
	char side[4096];

	if (keep_private(path, true, err) < 0)
		return -1;
	snprintf(side, sizeof side, "%s-wal", path);
	if (keep_private(side, false, err) < 0)
		return -1;
	snprintf(side, sizeof side, "%s-shm", path);
	return keep_private(side, false, err);
}

int secrets_attach(struct store *st, struct error *err)
{
	char *path = store_secrets_path(st->path);
	sqlite3_stmt *s = NULL;
	int rc = -1, fd;

	/* A new store, or one from before the secrets moved out (migration 2 fills it): created
	 * 0600 before SQLite sees it, and SQLite gives -wal and -shm the same mode. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		struct stat owner;

		/* root upgrading or inspecting the service's store must not leave a secrets file
		 * the service cannot open: it belongs to the store's owner (SQLite does the same
		 * for the -wal and -shm it creates as root) */
		if (geteuid() == 0 && stat(st->path, &owner) == 0 && owner.st_uid != 0 &&
		    fchown(fd, owner.st_uid, owner.st_gid) < 0) {
			error_set(err,
			          "cannot give the secrets database %s to the store's owner: %s",
			          path, strerror(errno));
			close(fd);
			unlink(path);
			goto out;
		}
		close(fd);
	} else if (errno != EEXIST) {
		error_set(err,
		          "cannot create the secrets database %s: %s; the store's directory must "
		          "be writable by this user",
		          path, strerror(errno));
		goto out;
	}
	if (keep_all_private(path, err) < 0)
		goto out;
	if (sqlite3_prepare_v2(st->db, "ATTACH DATABASE ?1 AS secrets", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	/* secure_delete: a rotated or removed refresh token is overwritten, not left in a free page
	 */
	if (db_exec(st, "PRAGMA secrets.journal_mode = WAL", err) < 0 ||
	    db_exec(st, "PRAGMA secrets.secure_delete = ON", err) < 0 ||
	    db_exec(st, "PRAGMA secrets.synchronous = NORMAL", err) < 0 ||
	    db_exec(st,
	            "CREATE TABLE IF NOT EXISTS secrets.token ("
	            "  mailbox       TEXT PRIMARY KEY NOT NULL,"
	            "  refresh_token TEXT,"
	            "  scope         TEXT,"
	            "  user          TEXT,"
	            "  needs_login   INTEGER NOT NULL DEFAULT 0,"
	            "  reason        TEXT,"
	            "  updated_at    TEXT NOT NULL"
	            ")",
	            err) < 0) {
		error_prefix(err, "the secrets database %s: ", path);
		goto out;
	}
	rc = 0;
	goto out;
fail:
	error_set(err,
	          "cannot open the secrets database %s: %s; check that the store's directory "
	          "is writable by this user",
	          path, sqlite3_errmsg(st->db));
out:
	sqlite3_finalize(s);
	free(path);
	return rc;
}

/* Read-only (status, auth list, doctor, backup): like the store in store_open_readonly, a
 * secrets file in a directory this user cannot write is read as immutable when no writer has
 * unsaved pages (no -wal). No file at all: no connection was ever made (a writing open creates
 * it), so an empty one in memory stands in. */
static int attach_uri(struct store *st, const char *uri)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "ATTACH DATABASE ?1 AS secrets", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, uri, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_exec(st->db, "SELECT count(*) FROM secrets.sqlite_master", NULL, NULL, NULL) ==
	    SQLITE_OK)
		return 0;
	sqlite3_exec(st->db, "DETACH DATABASE secrets", NULL, NULL, NULL);
	return -1;
}

int secrets_attach_readonly(struct store *st, struct error *err)
{
	char *path = store_secrets_path(st->path), *uri = NULL, side[4096];
	int rc = -1;

	if (access(path, F_OK) < 0 && errno == ENOENT) {
		rc = attach_uri(st, ":memory:") < 0 ||
		             db_exec(
		                 st,
		                 "CREATE TABLE secrets.token ("
		                 "  mailbox TEXT PRIMARY KEY NOT NULL, refresh_token TEXT,"
		                 "  scope TEXT, user TEXT, needs_login INTEGER NOT NULL DEFAULT 0,"
		                 "  reason TEXT, updated_at TEXT NOT NULL)",
		                 err) < 0
		         ? error_set(err, "cannot attach an empty secrets database: %s",
		                     sqlite3_errmsg(st->db))
		         : 0;
		goto out;
	}
	if (keep_all_private(path, err) < 0)
		goto out;
	uri = store_file_uri(path, "mode=ro");
	if (attach_uri(st, uri) == 0) {
		rc = 0;
		goto out;
	}
	snprintf(side, sizeof side, "%s-wal", path);
	if (access(path, R_OK) == 0 && access(side, F_OK) < 0) {
		free(uri);
		uri = store_file_uri(path, "mode=ro&immutable=1");
		if (attach_uri(st, uri) == 0) {
			rc = 0;
			goto out;
		}
	}
	error_set(err,
	          "cannot read the secrets database %s: %s; it holds the delegated connections "
	          "this command shows: run it as the store's owner",
	          path, access(path, R_OK) < 0 ? strerror(errno) : sqlite3_errmsg(st->db));
out:
	free(uri);
	free(path);
	return rc;
}

/* The store itself (not the secrets): group-readable and -writable for [store] group, so that an
 * HR account in that group can use SQL on `leave`. Only the owner can change a file's group. */
static int share_file(const char *file, gid_t gid, bool must_exist, struct error *err)
{
	struct stat sb;

	if (stat(file, &sb) < 0)
		return errno == ENOENT && !must_exist
		           ? 0
		           : error_set(err, "cannot read %s: %s", file, strerror(errno));
	if (sb.st_gid == gid && (sb.st_mode & 0777) == 0660)
		return 0;
	if (sb.st_uid != geteuid())
		return error_set(err,
		                 "[store] group: %s is not owned by this user (uid %ld): its owner "
		                 "should run `chgrp %ld %s && chmod 660 %s`",
		                 file, (long)geteuid(), (long)gid, file, file);
	if ((sb.st_gid != gid && chown(file, (uid_t)-1, gid) < 0) || chmod(file, 0660) < 0)
		return error_set(err, "[store] group: cannot give %s to group %ld: %s", file,
		                 (long)gid, strerror(errno));
	return 0;
}

int store_share_with_group(struct store *st, const char *group, struct error *err)
{
	char side[4096];
	struct group *g;

	if (!group)
		return 0;
	errno = 0;
	g = getgrnam(group);
	if (!g)
		return error_set(err,
		                 "[store] group = %s: no such group on this machine: create it "
		                 "(groupadd %s) or remove the key",
		                 group, group);
	if (share_file(st->path, g->gr_gid, true, err) < 0)
		return -1;
	snprintf(side, sizeof side, "%s-wal", st->path);
	if (share_file(side, g->gr_gid, false, err) < 0)
		return -1;
	snprintf(side, sizeof side, "%s-shm", st->path);
	return share_file(side, g->gr_gid, false, err);
}
