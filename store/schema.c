/* The schema as a list of migrations. Step N takes PRAGMA user_version from N-1 to N in one
 * transaction. Never edit a released step: append a new one. docs/store.md documents the result. */
#include "store/store_int.h"

#include <stdbool.h>
#include <stdio.h>

/* An UPDATE that changed something other than updated_at. */
#define LEAVE_CHANGED                                                                              \
	"(OLD.id IS NOT NEW.id OR OLD.mailbox IS NOT NEW.mailbox OR OLD.kind IS NOT NEW.kind"      \
	" OR OLD.starts IS NOT NEW.starts OR OLD.ends IS NOT NEW.ends"                             \
	" OR OLD.time_zone IS NOT NEW.time_zone OR OLD.status IS NOT NEW.status"                   \
	" OR OLD.note IS NOT NEW.note OR OLD.revision IS NOT NEW.revision)"

#define NOW_UNIX "CAST(strftime('%s', 'now') AS INTEGER)"

/* The run in progress: the newest run, if it has not finished (one run at a time holds the store's
 * run lock; an older unfinished run died). NULL outside a run. */
#define CURRENT_RUN                                                                                \
	"(SELECT id FROM run WHERE id = (SELECT max(id) FROM run) AND finished_at IS NULL)"

/* One leave_revision row: the leave's columns as the statement left them. */
#define LEAVE_REVISION_ROW(r)                                                                      \
	"  INSERT INTO leave_revision (leave_id, seen_at, mailbox, kind, starts, ends, time_zone," \
	" status, note, revision) VALUES (" r ".id, " NOW_UNIX ", " r ".mailbox, " r ".kind, " r   \
	".starts, " r ".ends, " r ".time_zone, " r ".status, " r ".note, " r ".revision);"

/* One target_event row for the target as the statement left it. */
#define TARGET_EVENT_ROW(action, detail)                                                           \
	"  INSERT INTO target_event (leave_id, mailbox, at, run_id, action, state, remote_id,"     \
	" change_key, backend, detail) VALUES (NEW.leave_id, NEW.mailbox, " NOW_UNIX               \
	", " CURRENT_RUN ", " action                                                               \
	", NEW.state, NEW.remote_id, NEW.change_key, NEW.backend, " detail ");"

/* The steps are SQL laid out as SQL: clang-format would reflow the macros inside them. */
// clang-format off
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
    /* 2: what a backend resolved about a mailbox once and reuses (Graph: the user's object id,
     * looked up from the SMTP address, since /users/{x} takes an id or a UPN only). */
    "CREATE TABLE mailbox ("
    "  mailbox       TEXT PRIMARY KEY NOT NULL,"
    "  graph_user_id TEXT,"
    "  resolved_at   INTEGER NOT NULL"
    ");",
    /* 3: leavesync serve (docs/api.md): API keys (only a SHA-256 of each key), remembered responses
     * for Idempotency-Key, queued resync/reconcile jobs, and when each target was last written. */
    "CREATE TABLE api_key ("
    "  name       TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),"
    "  hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
    "  scope      TEXT NOT NULL CHECK (scope IN ('read', 'push', 'admin')),"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE api_idempotency ("
    "  key_name     TEXT NOT NULL,"
    "  idem_key     TEXT NOT NULL,"
    "  request_hash BLOB NOT NULL,"
    "  status       INTEGER NOT NULL,"
    "  content_type TEXT NOT NULL,"
    "  body         BLOB NOT NULL,"
    "  created_at   INTEGER NOT NULL,"
    "  PRIMARY KEY (key_name, idem_key)"
    ");"
    "CREATE INDEX api_idempotency_by_age ON api_idempotency (created_at);"
    "CREATE TABLE api_job ("
    "  id           INTEGER PRIMARY KEY,"
    "  kind         TEXT NOT NULL CHECK (kind IN ('resync', 'reconcile')),"
    "  params       TEXT NOT NULL,"
    "  state        TEXT NOT NULL DEFAULT 'queued'"
    "               CHECK (state IN ('queued', 'running', 'done', 'failed')),"
    "  key_name     TEXT,"
    "  requested_at INTEGER NOT NULL,"
    "  started_at   INTEGER,"
    "  finished_at  INTEGER,"
    "  run_id       INTEGER,"
    "  result       TEXT"
    ");"
    "CREATE INDEX api_job_queued ON api_job (id) WHERE state IN ('queued', 'running');"
    "ALTER TABLE target ADD COLUMN written_at INTEGER;"
    "CREATE TRIGGER target_written AFTER UPDATE OF synced, remote_id, change_key ON target"
    "  WHEN NEW.synced IS NOT OLD.synced OR NEW.remote_id IS NOT OLD.remote_id"
    "    OR NEW.change_key IS NOT OLD.change_key BEGIN"
    "  UPDATE target SET written_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE id = NEW.id;"
    "END;",
    /* 4: one leave's story (leavesync show, docs/store.md): every revision of a leave as stored
     * and every render, write and failure of its targets, recorded by triggers whoever writes
     * (push, the API, HR's SQL, any run), and pruned with the run history. */
    /* AUTOINCREMENT: an id is never used twice, even after the newest rows were deleted, so
     * that the ranges of leave_revision_source stay true. */
    "CREATE TABLE leave_revision ("
    "  id        INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  leave_id  TEXT NOT NULL,"
    "  seen_at   INTEGER NOT NULL,"
    "  outcome   TEXT NOT NULL DEFAULT 'stored'"
    "            CHECK (outcome IN ('stored', 'stale', 'deleted')),"
    "  mailbox   TEXT, kind TEXT, starts TEXT, ends TEXT, time_zone TEXT, status TEXT,"
    "  note      TEXT, revision INTEGER"
    ");"
    "CREATE INDEX leave_revision_by_leave ON leave_revision (leave_id, id);"
    "CREATE INDEX leave_revision_by_age ON leave_revision (seen_at);"
    /* Where revisions came from, one row per push and source rather than a column set per
     * revision (a push of 100,000 changes would update each row again): the revisions with ids in
     * (after_id, last_id] came by `via` ("push", "snapshot"); the others by SQL. */
    "CREATE TABLE leave_revision_source ("
    "  after_id INTEGER PRIMARY KEY,"
    "  last_id  INTEGER NOT NULL,"
    "  via      TEXT NOT NULL"
    ");"
    "CREATE TRIGGER leave_revision_insert AFTER INSERT ON leave BEGIN"
    LEAVE_REVISION_ROW("NEW")
    "END;"
    "CREATE TRIGGER leave_revision_update AFTER UPDATE ON leave WHEN " LEAVE_CHANGED " BEGIN"
    LEAVE_REVISION_ROW("NEW")
    "END;"
    /* A deleted leave keeps no copy of what it said (HR may delete a row to erase it). */
    "CREATE TRIGGER leave_revision_delete AFTER DELETE ON leave BEGIN"
    "  DELETE FROM leave_revision WHERE leave_id = OLD.id;"
    "  INSERT INTO leave_revision (leave_id, seen_at, outcome)"
    "    VALUES (OLD.id, " NOW_UNIX ", 'deleted');"
    "END;"
    "CREATE TABLE target_event ("
    "  id         INTEGER PRIMARY KEY,"
    "  leave_id   TEXT NOT NULL,"
    "  mailbox    TEXT NOT NULL,"
    "  at         INTEGER NOT NULL,"
    "  run_id     INTEGER,"
    "  action     TEXT NOT NULL,"
    "  state      TEXT, remote_id TEXT, change_key TEXT, backend TEXT, detail TEXT"
    ");"
    "CREATE INDEX target_event_by_leave ON target_event (leave_id, id);"
    "CREATE INDEX target_event_by_age ON target_event (at);"
    "CREATE INDEX drift_by_leave ON drift (leave_id) WHERE leave_id IS NOT NULL;"
    "CREATE TRIGGER target_story_insert AFTER INSERT ON target BEGIN"
    TARGET_EVENT_ROW("'rendered'", "NULL")
    "END;"
    "CREATE TRIGGER target_story_render AFTER UPDATE OF desired ON target"
    "  WHEN NEW.desired IS NOT OLD.desired BEGIN"
    TARGET_EVENT_ROW("'rendered'",
                     "CASE WHEN NEW.desired IS NULL"
                     " THEN 'no event wanted (cancelled, moved or a kind not synced)' END")
    "END;"
    /* The outcome of a write, once saved (the executor's saves of its intent before sending
     * neither change the remote id nor make a target synced). A target that was never
     * `creating` but gets an id was found by its sync key: adopted. */
    "CREATE TRIGGER target_story_written AFTER UPDATE ON target"
    "  WHEN NEW.state = 'synced' AND NEW.remote_id IS NOT NULL"
    "   AND (OLD.state IS NOT 'synced' OR OLD.remote_id IS NOT NEW.remote_id"
    "        OR OLD.synced IS NOT NEW.synced) BEGIN"
    TARGET_EVENT_ROW("CASE WHEN OLD.remote_id IS NULL AND OLD.state = 'creating' THEN 'created'"
                     " WHEN OLD.remote_id IS NULL THEN 'adopted'"
                     " WHEN OLD.remote_id IS NOT NEW.remote_id AND OLD.state = 'creating'"
                     "  THEN 'recreated'"
                     " WHEN OLD.remote_id IS NOT NEW.remote_id THEN 'adopted under a new id'"
                     " WHEN OLD.synced IS NOT NEW.synced OR OLD.state = 'creating'"
                     "  THEN 'updated'"
                     " ELSE 'unchanged' END",
                     "NULL")
    "END;"
    "CREATE TRIGGER target_story_removed AFTER UPDATE OF remote_id ON target"
    "  WHEN OLD.remote_id IS NOT NULL AND NEW.remote_id IS NULL BEGIN"
    TARGET_EVENT_ROW("CASE WHEN NEW.desired IS NULL THEN 'deleted' ELSE 'forgotten' END",
                     "CASE WHEN NEW.desired IS NOT NULL"
                     " THEN 'the event was gone: it will be created again' END")
    "END;"
    /* A failure once per new reason or state, not per attempt: a mailbox that waits for a
     * login for days adds one row, not one per run. */
    "CREATE TRIGGER target_story_failed AFTER UPDATE OF state, last_error ON target"
    "  WHEN NEW.last_error IS NOT NULL"
    "   AND NEW.state IN ('pending', 'creating', 'failed', 'waiting')"
    "   AND (NEW.last_error IS NOT OLD.last_error"
    "        OR (NEW.state IS NOT OLD.state AND NEW.state IN ('failed', 'waiting'))) BEGIN"
    TARGET_EVENT_ROW("CASE NEW.state WHEN 'failed' THEN 'failed' WHEN 'waiting' THEN 'waiting'"
                     " ELSE 'retry later' END",
                     "NEW.last_error")
    "END;"
    "CREATE TRIGGER target_story_resync AFTER UPDATE OF force ON target"
    "  WHEN NEW.force AND NOT OLD.force BEGIN"
    TARGET_EVENT_ROW("'queued for a rewrite (resync)'", "NULL")
    "END;"
    /* The same retention as the run history: whatever prunes old runs prunes the story up to
     * the start of the newest run it removed. */
    "CREATE TRIGGER run_prune_story AFTER DELETE ON run BEGIN"
    "  DELETE FROM leave_revision WHERE seen_at < OLD.started_at;"
    "  DELETE FROM leave_revision_source"
    "    WHERE last_id < (SELECT coalesce(min(id), 1 << 62) FROM leave_revision);"
    "  DELETE FROM target_event WHERE at < OLD.started_at;"
    "END;",
    /* 5 (issue 12): the create protocol and per-leave isolation (docs/sync-states.md).
     * create_sent_at: 0 no create in doubt; -1 a create was (about to be) sent by a run that did
     * not record its outcome; > 0 the Unix time the last create in doubt was sent. Any non-zero
     * value means: look the sync key up before any create. unrenderable: the leave's current row
     * cannot be rendered (last_error says why); the target keeps its event and is not queued. The
     * UPDATE carries the old rule over: a row in `creating`, or never written but tried, may have
     * an event. */
    "ALTER TABLE target ADD COLUMN create_sent_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE target ADD COLUMN unrenderable INTEGER NOT NULL DEFAULT 0;"
    "UPDATE target SET create_sent_at = -1"
    "  WHERE state = 'creating' OR (remote_id IS NULL AND attempts > 0);",
    /* 6 (issue 15): refresh tokens move to the secrets database (store/secrets.c), so that the store can be
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
    /* 7 (issue 18): what SOAP Autodiscover found for a mail domain of Exchange Server: the EWS
     * URL, and the server's build from ServerVersionInfo (docs/onprem.md). */
    "CREATE TABLE autodiscover ("
    "  domain        TEXT PRIMARY KEY NOT NULL,"
    "  ews_url       TEXT NOT NULL,"
    "  server_build  TEXT,"
    "  discovered_at INTEGER NOT NULL"
    ");",
};
// clang-format on

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
/* The step that moved the refresh tokens out of the store. */
#define SECRETS_MOVED 5

int schema_latest_version(void)
{
	return NMIGRATIONS;
}

/* PRAGMA user_version into *v; -1 with err when it cannot be read (not a database, or damaged). */
static int read_version(struct store *st, int *v, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return error_set(
		    err,
		    "the store %s cannot be read as an SQLite database (%s): it is not a "
		    "leavesync store, or it is damaged; set [store] path to the store, or "
		    "restore it from a backup",
		    st->path, sqlite3_errmsg(st->db));
	rc = sqlite3_step(s);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return db_error(st, err, "cannot read the schema version");
	return 0;
}

/* The version must be one this build knows; 0 is a database leavesync never initialised. */
static int check_version(struct store *st, int v, bool fresh, struct error *err)
{
	if (v < 0)
		return error_set(err,
		                 "store schema version %d is invalid (store %s): the file was not "
		                 "written by leavesync, or it is damaged; restore it from a backup",
		                 v, st->path);
	if (v > NMIGRATIONS)
		return error_set(err,
		                 "store schema version %d is newer than this leavesync (%d) (store "
		                 "%s): upgrade leavesync",
		                 v, NMIGRATIONS, st->path);
	if (v == 0 && !fresh)
		return error_set(
		    err,
		    "the store %s is an SQLite database without leavesync's schema "
		    "(version 0), so not a leavesync store; it is left as it is: set "
		    "[store] path to the store, or give `leavesync init` a path where no "
		    "file exists",
		    st->path);
	return 0;
}

/* A database that says it is leavesync's must hold leavesync's tables. */
static int check_tables(struct store *st, int v, struct error *err)
{
	sqlite3_stmt *s;
	int n = 0;

	if (sqlite3_prepare_v2(
	        st->db,
	        "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name IN "
	        "('leave', 'leave_dirty', 'target', 'run', 'drift')",
	        -1, &s, NULL) != SQLITE_OK)
		return db_error(st, err, "cannot read the store's tables");
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (n != 5) /* token: in the store up to step 4, then in the secrets database */
		return error_set(
		    err,
		    "the store %s says schema version %d but lacks leavesync's tables "
		    "(leave, target, ...): not a leavesync store; set [store] path to the "
		    "store",
		    st->path, v);
	return 0;
}

int schema_check_known(struct store *st, bool fresh, struct error *err)
{
	int v;

	if (read_version(st, &v, err) < 0 || check_version(st, v, fresh, err) < 0)
		return -1;
	return v > 0 ? check_tables(st, v, err) : 0;
}

/* One step in one transaction; the version is re-read inside it, so two processes opening a new
 * store at once do not both apply the same step. */
static int migrate_step(struct store *st, int *version, struct error *err)
{
	char sql[64];
	int v;

	if (db_exec(st, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (read_version(st, &v, err) < 0 || check_version(st, v, true, err) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (v >= NMIGRATIONS) {
		db_exec(st, "COMMIT", NULL);
		*version = v;
		return 0;
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

int schema_migrate(struct store *st, bool fresh, struct error *err)
{
	int v, from;

	if (read_version(st, &v, err) < 0 || check_version(st, v, fresh, err) < 0)
		return -1;
	if (v > 0 && check_tables(st, v, err) < 0)
		return -1;
	from = v;
	while (v < NMIGRATIONS)
		if (migrate_step(st, &v, err) < 0)
			return -1;
	if (from >= 1 && from < SECRETS_MOVED) {
		/* The tokens' old pages, zeroed by migration 5, reach the file now, and the WAL
		 * that may still hold their earlier versions is emptied. */
		db_exec(st, "PRAGMA main.wal_checkpoint(TRUNCATE)", NULL);
	}
	db_exec(st, "PRAGMA main.secure_delete = OFF", NULL);
	return 0;
}

int schema_check_current(struct store *st, struct error *err)
{
	int v;

	if (read_version(st, &v, err) < 0 || check_version(st, v, false, err) < 0 ||
	    check_tables(st, v, err) < 0)
		return -1;
	if (v < NMIGRATIONS)
		return error_set(
		    err,
		    "the store %s has schema version %d, older than this leavesync (%d): "
		    "run `leavesync init` as the store's owner to migrate it (this "
		    "command only reads)",
		    st->path, v, NMIGRATIONS);
	return 0;
}
