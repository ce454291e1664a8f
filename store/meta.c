/* The store's instance ([sync] instance of the engine that writes its events), and the target keys
 * that carry it (engine/instance.c decides; the key format is the engine's). */
#include "store/store_int.h"

#include "common/util.h"

int store_get_instance(struct store *st, char **out, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	if (db_prepare(st, "SELECT value FROM meta WHERE key = 'instance'", &s, err) < 0)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = db_column_strdup(s, 0);
	db_finish(st, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st, err, "cannot read the store's instance");
	return 0;
}

int store_set_instance(struct store *st, const char *instance, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st, "INSERT OR REPLACE INTO meta (key, value) VALUES ('instance', ?1)", &s,
	               err) < 0)
		return -1;
	db_bind_text(s, 1, instance);
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot record the store's instance");
	return 0;
}

int store_each_target_key(struct store *st, int (*cb)(void *arg, int64_t id, const char *sync_key),
                          void *arg, struct error *err)
{
	sqlite3_stmt *s;
	int rc = SQLITE_DONE, stop = 0;

	if (db_prepare(st, "SELECT id, sync_key FROM target ORDER BY id", &s, err) < 0)
		return -1;
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW)
		stop = cb(arg, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1));
	db_finish(st, s);
	if (!stop && rc != SQLITE_DONE)
		return db_error(st, err, "cannot read the targets");
	return 0;
}

int store_set_target_key(struct store *st, int64_t id, const char *sync_key, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st, "UPDATE target SET sync_key = ?2, dirty = 1, force = 1 WHERE id = ?1",
	               &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	db_bind_text(s, 2, sync_key);
	rc = sqlite3_step(s);
	db_finish(st, s);
	return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot change a target's sync key");
}
