-- A store of schema version 1 (leavesync before issue 15): refresh tokens in the store itself.
-- Built from migration 1 of store/schema.c; t0700-backup.sh upgrades it.
PRAGMA journal_mode = WAL;
CREATE TABLE leave (  id TEXT PRIMARY KEY NOT NULL    CONSTRAINT "id must not be empty" CHECK (id <> ''),  mailbox TEXT NOT NULL    CONSTRAINT "mailbox must be a lower-case address name@domain.tld"    CHECK (mailbox = lower(mailbox) AND mailbox LIKE '_%@_%._%'           AND instr(mailbox, ' ') = 0),  kind TEXT NOT NULL CONSTRAINT "kind must not be empty" CHECK (kind <> ''),  starts TEXT NOT NULL    CONSTRAINT "starts must be a real YYYY-MM-DD or YYYY-MM-DDTHH:MM"    CHECK ((length(starts) = 10 AND date(starts, '+0 days') IS starts) OR           (length(starts) = 16 AND strftime('%Y-%m-%dT%H:%M', starts, '+0 days') IS starts)),  ends TEXT NOT NULL    CONSTRAINT "ends must have the form of starts, on or after it (after it if timed)"    CHECK (length(ends) = length(starts) AND           ((length(ends) = 10 AND date(ends, '+0 days') IS ends AND ends >= starts) OR            (length(ends) = 16 AND strftime('%Y-%m-%dT%H:%M', ends, '+0 days') IS ends             AND ends > starts))),  time_zone TEXT NOT NULL    CONSTRAINT "time_zone must be an IANA name" CHECK (time_zone <> ''),  status TEXT NOT NULL    CONSTRAINT "status must be approved or cancelled"    CHECK (status IN ('approved', 'cancelled')),  note TEXT,  revision INTEGER NOT NULL DEFAULT 1    CONSTRAINT "revision must be a whole number >= 0"    CHECK (typeof(revision) = 'integer' AND revision >= 0),  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE INDEX leave_by_mailbox ON leave (mailbox, starts);
CREATE TABLE leave_dirty (  seq      INTEGER PRIMARY KEY AUTOINCREMENT,  leave_id TEXT NOT NULL UNIQUE,  deleted  INTEGER NOT NULL DEFAULT 0);
CREATE TRIGGER leave_queue_insert AFTER INSERT ON leave BEGIN  INSERT OR REPLACE INTO leave_dirty (leave_id, deleted) VALUES (NEW.id, 0);
END;
CREATE TRIGGER leave_queue_update AFTER UPDATE ON leave WHEN (OLD.id IS NOT NEW.id OR OLD.mailbox IS NOT NEW.mailbox OR OLD.kind IS NOT NEW.kind OR OLD.starts IS NOT NEW.starts OR OLD.ends IS NOT NEW.ends OR OLD.time_zone IS NOT NEW.time_zone OR OLD.status IS NOT NEW.status OR OLD.note IS NOT NEW.note OR OLD.revision IS NOT NEW.revision) BEGIN  INSERT OR REPLACE INTO leave_dirty (leave_id, deleted) SELECT OLD.id, 1    WHERE OLD.id IS NOT NEW.id;
  INSERT OR REPLACE INTO leave_dirty (leave_id, deleted) VALUES (NEW.id, 0);
END;
CREATE TRIGGER leave_touch AFTER UPDATE ON leave  WHEN NEW.updated_at IS OLD.updated_at AND ((OLD.id IS NOT NEW.id OR OLD.mailbox IS NOT NEW.mailbox OR OLD.kind IS NOT NEW.kind OR OLD.starts IS NOT NEW.starts OR OLD.ends IS NOT NEW.ends OR OLD.time_zone IS NOT NEW.time_zone OR OLD.status IS NOT NEW.status OR OLD.note IS NOT NEW.note OR OLD.revision IS NOT NEW.revision)) BEGIN  UPDATE leave SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER leave_queue_delete AFTER DELETE ON leave BEGIN  INSERT OR REPLACE INTO leave_dirty (leave_id, deleted) VALUES (OLD.id, 1);
END;
CREATE TABLE target (  id           INTEGER PRIMARY KEY,  leave_id     TEXT NOT NULL,  mailbox      TEXT NOT NULL,  sync_key     TEXT NOT NULL UNIQUE,  desired      TEXT,  synced       TEXT,  remote_id    TEXT,  change_key   TEXT,  backend      TEXT,  state        TEXT NOT NULL DEFAULT 'pending'               CHECK (state IN ('pending', 'creating', 'synced', 'failed', 'waiting')),  attempts     INTEGER NOT NULL DEFAULT 0,  next_attempt INTEGER NOT NULL DEFAULT 0,  last_error   TEXT,  dirty        INTEGER NOT NULL DEFAULT 1,  force        INTEGER NOT NULL DEFAULT 0,  UNIQUE (leave_id, mailbox));
CREATE INDEX target_by_mailbox ON target (mailbox);
CREATE INDEX target_due ON target (mailbox, id) WHERE dirty;
CREATE TABLE token (  mailbox       TEXT PRIMARY KEY NOT NULL,  refresh_token TEXT,  scope         TEXT,  user          TEXT,  needs_login   INTEGER NOT NULL DEFAULT 0,  reason        TEXT,  updated_at    TEXT NOT NULL);
CREATE TABLE run (  id          INTEGER PRIMARY KEY,  command     TEXT NOT NULL,  started_at  INTEGER NOT NULL,  finished_at INTEGER,  exit_code   INTEGER,  created     INTEGER NOT NULL DEFAULT 0,  updated     INTEGER NOT NULL DEFAULT 0,  deleted     INTEGER NOT NULL DEFAULT 0,  adopted     INTEGER NOT NULL DEFAULT 0,  unchanged   INTEGER NOT NULL DEFAULT 0,  failed      INTEGER NOT NULL DEFAULT 0,  waiting     INTEGER NOT NULL DEFAULT 0,  requests    INTEGER NOT NULL DEFAULT 0,  summary     TEXT);
CREATE INDEX run_by_command ON run (command, id);
CREATE TABLE drift (  id       INTEGER PRIMARY KEY,  run_id   INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,  at       INTEGER NOT NULL,  mailbox  TEXT NOT NULL,  leave_id TEXT,  kind     TEXT NOT NULL,  action   TEXT NOT NULL,  result   TEXT NOT NULL,  detail   TEXT);
CREATE INDEX drift_by_run ON drift (run_id, id);

PRAGMA user_version = 1;
