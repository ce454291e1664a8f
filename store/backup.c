/* leavesync backup: consistent copies of the store and of its secrets database while other
 * processes keep using them (SQLite's online backup API, https://sqlite.org/backup.html). Copies
 * are 0600 from their first byte: a backup holds everything the store does. */
#include "store/store_int.h"

#include "common/buf.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies schema `from` of st into the new file tmp (0600, created by the caller). */
static int copy_schema(struct store *st, const char *from, const char *tmp, struct error *err)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		error_set(err, "cannot open %s: %s", tmp,
		          dst ? sqlite3_errmsg(dst) : "out of memory");
		sqlite3_close_v2(dst);
		return -1;
	}
	b = sqlite3_backup_init(dst, "main", st->db, from);
	if (!b) {
		error_set(err, "cannot start the backup: %s", sqlite3_errmsg(dst));
		sqlite3_close_v2(dst);
		return -1;
	}
	/* All pages in one step: the source is read in one read transaction, so the copy is one
	 * consistent state even while a sync or a push writes (WAL readers do not block writers).
	 */
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		error_set(err, "the backup of %s failed: %s", from, sqlite3_errstr(rc));
		sqlite3_close_v2(dst);
		return -1;
	}
	/* the copy stands alone: its WAL content goes into the file before it is put in place */
	sqlite3_exec(dst, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	if (sqlite3_close_v2(dst) != SQLITE_OK)
		return error_set(err, "cannot close %s", tmp);
	return 0;
}

static int sync_file(const char *path, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return error_set(err, "cannot write %s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

/* The temporary copy of one schema; *tmp is malloc'd ("DEST.tmp-XXXXXX", mode 0600, O_EXCL). */
static int backup_to_temp(struct store *st, const char *from, const char *dest, char **tmp,
                          struct error *err)
{
	struct buf b = BUF_INIT;
	char side[4096];
	int fd;

	buf_printf(&b, "%s.tmp-XXXXXX", dest);
	*tmp = buf_steal(&b);
	fd = mkstemp(*tmp); /* O_CREAT | O_EXCL, mode 0600 */
	if (fd < 0) {
		error_set(err, "cannot create a file beside %s: %s", dest, strerror(errno));
		free(*tmp);
		*tmp = NULL;
		return -1;
	}
	close(fd);
	if (copy_schema(st, from, *tmp, err) < 0 || sync_file(*tmp, err) < 0) {
		unlink(*tmp);
		snprintf(side, sizeof side, "%s-wal", *tmp);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", *tmp);
		unlink(side);
		free(*tmp);
		*tmp = NULL;
		return -1;
	}
	return 0;
}

/* Puts tmp in place: link() refuses an existing dest atomically; rename() replaces it. */
static int put_in_place(const char *tmp, const char *dest, bool overwrite, struct error *err)
{
	if (overwrite ? rename(tmp, dest) == 0 : link(tmp, dest) == 0) {
		if (!overwrite)
			unlink(tmp);
		return 0;
	}
	if (errno == EEXIST)
		return error_set(
		    err, "%s exists: choose another file, or add --force to replace it", dest);
	return error_set(err, "cannot write %s: %s", dest, strerror(errno));
}

int store_backup(struct store *st, const char *dest, bool overwrite, struct error *err)
{
	char *secrets = store_secrets_path(dest), *tmp_main = NULL, *tmp_secrets = NULL;
	int rc = -1;

	if (!overwrite && (access(dest, F_OK) == 0 || access(secrets, F_OK) == 0)) {
		error_set(err, "%s exists: choose another file, or add --force to replace it",
		          access(dest, F_OK) == 0 ? dest : secrets);
		goto out;
	}
	if (backup_to_temp(st, "main", dest, &tmp_main, err) < 0 ||
	    backup_to_temp(st, "secrets", secrets, &tmp_secrets, err) < 0)
		goto out;
	if (put_in_place(tmp_secrets, secrets, overwrite, err) < 0)
		goto out;
	if (put_in_place(tmp_main, dest, overwrite, err) < 0) {
		if (!overwrite)
			unlink(secrets); /* ours, just made: never half a backup */
		goto out;
	}
	rc = 0;
out:
	if (tmp_main)
		unlink(tmp_main);
	if (tmp_secrets)
		unlink(tmp_secrets);
	free(tmp_main);
	free(tmp_secrets);
	free(secrets);
	return rc;
}
