/* The schema as a list of migrations. Step N takes PRAGMA user_version from N-1 to N in one
 * transaction. Never edit a released step: append a new one. docs/store.md documents the result. */
#include "store/store_int.h"

#include <stdio.h>

/* An UPDATE that changed something other than updated_at. */
#define LEAVE_CHANGED                                                                              \
	"(OLD.id IS NOT NEW.id OR OLD.mailbox IS NOT NEW.mailbox OR OLD.kind IS NOT NEW.kind"      \
	" OR OLD.starts IS NOT NEW.starts OR OLD.ends IS NOT NEW.ends"                             \
	" OR OLD.time_zone IS NOT NEW.time_zone OR OLD.status IS NOT NEW.status"                   \
	" OR OLD.note IS NOT NEW.note OR OLD.revision IS NOT NEW.revision)"

static const char *const migrations[] = {
    /* 1: leave (the HR contract), its dirty queue and triggers, target, token, run, drift. */
    /* Named constraints: a refused direct INSERT says which rule it broke (docs/store.md). */
    "CREATE TABLE leave ("
    "  id TEXT PRIMARY KEY NOT NULL"
    "    CONSTRAINT \"id must not be empty\" CHECK (id <> ''),"
    "  mailbox TEXT NOT NULL"
    "    CONSTRAINT \"mailbox must be a lower-case address name@domain.tld\""
    "    CHECK (mailbox = lower(mailbox) AND mailbox LIKE '_%@_%._%'"
    "           AND instr(mailbox, ' ') = 0),"
    "  kind TEXT NOT NULL CONSTRAINT \"kind must not be empty\" CHECK (kind <> ''),"
    "  starts TEXT NOT NULL"
    "    CONSTRAINT \"starts must be a real YYYY-MM-DD or YYYY-MM-DDTHH:MM\""
    "    CHECK ((length(starts) = 10 AND date(starts, '+0 days') IS starts) OR"
    "           (length(starts) = 16 AND strftime('%Y-%m-%dT%H:%M', starts, '+0 days') IS starts)),"
    "  ends TEXT NOT NULL"
    "    CONSTRAINT \"ends must have the form of starts, on or after it (after it if timed)\""
    "    CHECK (length(ends) = length(starts) AND"
    "           ((length(ends) = 10 AND date(ends, '+0 days') IS ends AND ends >= starts) OR"
    "            (length(ends) = 16 AND strftime('%Y-%m-%dT%H:%M', ends, '+0 days') IS ends"
    "             AND ends > starts))),"
    "  time_zone TEXT NOT NULL"
    "    CONSTRAINT \"time_zone must be an IANA name\" CHECK (time_zone <> ''),"
    "  status TEXT NOT NULL"
    "    CONSTRAINT \"status must be approved or cancelled\""
    "    CHECK (status IN ('approved', 'cancelled')),"
    "  note TEXT,"
    "  revision INTEGER NOT NULL DEFAULT 1"
    "    CONSTRAINT \"revision must be a whole number >= 0\""
    "    CHECK (typeof(revision) = 'integer' AND revision >= 0),"
    "  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
    ");"
    "CREATE INDEX leave_by_mailbox ON leave (mailbox, starts);"
    /* The queue of leaves changed since the render pass last saw them. seq grows on every change
     * (AUTOINCREMENT never reuses a value), so a change made while a pass runs is never lost. */
    "CREATE TABLE leave_dirty ("
    "  seq      INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  leave_id TEXT NOT NULL UNIQUE,"
    "  deleted  INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TRIGGER leave_queue_insert AFTER INSERT ON leave BEGIN"
    "  INSERT OR REPLACE INTO leave_dirty (leave_id, deleted) VALUES (NEW.id, 0);"
    "END;"
    "CREATE TRIGGER leave_queue_update AFTER UPDATE ON leave WHEN " LEAVE_CHANGED " BEGIN"
    "  INSERT OR REPLACE INTO leave_dirty (leave_id, deleted) SELECT OLD.id, 1"
    "    WHERE OLD.id IS NOT NEW.id;"
    "  INSERT OR REPLACE INTO leave_dirty (leave_id, deleted) VALUES (NEW.id, 0);"
    "END;"
    /* A direct SQL UPDATE that does not set updated_at gets it here (push sets it itself). */
    "CREATE TRIGGER leave_touch AFTER UPDATE ON leave"
    "  WHEN NEW.updated_at IS OLD.updated_at AND (" LEAVE_CHANGED ") BEGIN"
    "  UPDATE leave SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.id;"
    "END;"
    "CREATE TRIGGER leave_queue_delete AFTER DELETE ON leave BEGIN"
    "  INSERT OR REPLACE INTO leave_dirty (leave_id, deleted) VALUES (OLD.id, 1);"
    "END;"
    "CREATE TABLE target ("
    "  id           INTEGER PRIMARY KEY,"
    "  leave_id     TEXT NOT NULL,"
    "  mailbox      TEXT NOT NULL,"
    "  sync_key     TEXT NOT NULL UNIQUE,"
    "  desired      TEXT,"
    "  synced       TEXT,"
    "  remote_id    TEXT,"
    "  change_key   TEXT,"
    "  backend      TEXT,"
    "  state        TEXT NOT NULL DEFAULT 'pending'"
    "               CHECK (state IN ('pending', 'creating', 'synced', 'failed', 'waiting')),"
    "  attempts     INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL DEFAULT 0,"
    "  last_error   TEXT,"
    "  dirty        INTEGER NOT NULL DEFAULT 1,"
    "  force        INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (leave_id, mailbox)"
    ");"
    "CREATE INDEX target_by_mailbox ON target (mailbox);"
    "CREATE INDEX target_due ON target (mailbox, id) WHERE dirty;"
    "CREATE TABLE token ("
    "  mailbox       TEXT PRIMARY KEY NOT NULL,"
    "  refresh_token TEXT,"
    "  scope         TEXT,"
    "  user          TEXT,"
    "  needs_login   INTEGER NOT NULL DEFAULT 0,"
    "  reason        TEXT,"
    "  updated_at    TEXT NOT NULL"
    ");"
    "CREATE TABLE run ("
    "  id          INTEGER PRIMARY KEY,"
    "  command     TEXT NOT NULL,"
    "  started_at  INTEGER NOT NULL,"
    "  finished_at INTEGER,"
    "  exit_code   INTEGER,"
    "  created     INTEGER NOT NULL DEFAULT 0,"
    "  updated     INTEGER NOT NULL DEFAULT 0,"
    "  deleted     INTEGER NOT NULL DEFAULT 0,"
    "  adopted     INTEGER NOT NULL DEFAULT 0,"
    "  unchanged   INTEGER NOT NULL DEFAULT 0,"
    "  failed      INTEGER NOT NULL DEFAULT 0,"
    "  waiting     INTEGER NOT NULL DEFAULT 0,"
    "  requests    INTEGER NOT NULL DEFAULT 0,"
    "  summary     TEXT"
    ");"
    "CREATE INDEX run_by_command ON run (command, id);"
    "CREATE TABLE drift ("
    "  id       INTEGER PRIMARY KEY,"
    "  run_id   INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,"
    "  at       INTEGER NOT NULL,"
    "  mailbox  TEXT NOT NULL,"
    "  leave_id TEXT,"
    "  kind     TEXT NOT NULL,"
    "  action   TEXT NOT NULL,"
    "  result   TEXT NOT NULL,"
    "  detail   TEXT"
    ");"
    "CREATE INDEX drift_by_run ON drift (run_id, id);",
    /* 2: refresh tokens move to the secrets database (store/secrets.c), so that the store can be
     * shared with HR; secure_delete zeroes the pages they leave in the store. The problems of the
     * targets (failed, waiting, retrying) get a partial index: every run reports them. Notices
     * remember when they were last shown; meta holds the store's instance. */
    "PRAGMA main.secure_delete = ON;"
    "INSERT OR REPLACE INTO secrets.token"
    "  (mailbox, refresh_token, scope, user, needs_login, reason, updated_at)"
    "  SELECT mailbox, refresh_token, scope, user, needs_login, reason, updated_at FROM main.token;"
    "DROP TABLE main.token;"
    "CREATE INDEX target_problems ON target (state)"
    "  WHERE state IN ('failed', 'waiting') OR (dirty AND last_error IS NOT NULL);"
    /* when sync last said a notice (an expiring secret), so that it says it once a day */
    "CREATE TABLE notice (key TEXT PRIMARY KEY NOT NULL, shown_at INTEGER NOT NULL);"
    /* the [sync] instance whose events the store wrote; a store that wrote any before instances
     * existed wrote them as "default" */
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
    "INSERT INTO meta (key, value) SELECT 'instance', 'default' WHERE EXISTS"
    "  (SELECT 1 FROM target);",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int schema_latest_version(void)
{
	return NMIGRATIONS;
}

/* One step in one transaction; the version is re-read inside it, so two processes opening a new
 * store at once do not both apply the same step. */
static int migrate_step(struct store *st, int *version, struct error *err)
{
	char sql[64];
	int v;

	if (db_exec(st, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	v = store_schema_version(st);
	if (v < 0 || v >= NMIGRATIONS) {
		db_exec(st, "COMMIT", NULL);
		*version = v;
		return v < 0 ? db_error(st, err, "cannot read the schema version") : 0;
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
	if (db_exec(st, migrations[v], err) < 0 || db_exec(st, sql, err) < 0 ||
	    db_exec(st, "COMMIT", err) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return error_prefix(err, "cannot migrate the store to schema %d: ", v + 1);
	}
	*version = v + 1;
	return 0;
}

int schema_migrate(struct store *st, struct error *err)
{
	int v = store_schema_version(st), from = v;

	if (v < 0)
		return db_error(st, err, "cannot read the schema version");
	if (v > NMIGRATIONS)
		return error_set(err,
		                 "the store %s has schema version %d, newer than this leavesync "
		                 "knows (%d): upgrade leavesync",
		                 st->path, v, NMIGRATIONS);
	while (v < NMIGRATIONS)
		if (migrate_step(st, &v, err) < 0)
			return -1;
	if (from >= 1 && from < 2) {
		/* The tokens' old pages, zeroed by migration 2, reach the file now, and the WAL
		 * that may still hold their earlier versions is emptied. */
		db_exec(st, "PRAGMA main.wal_checkpoint(TRUNCATE)", NULL);
	}
	db_exec(st, "PRAGMA main.secure_delete = OFF", NULL);
	return 0;
}
