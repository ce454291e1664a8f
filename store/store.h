/* The SQLite store: schema and migrations (PRAGMA user_version), every SQL statement, transactions.
 * Knows nothing of HTTP, XML, JSON wire formats or rendering. The `leave` table is the contract
 * with HR systems (docs/store.md); everything else belongs to the engine.
 *
 * Concurrency: WAL, busy_timeout, short transactions; a push while a sync runs succeeds. Only one
 * process syncs a store at a time (store_lock_run). One struct store per thread.
 * Memory: structs returned through out-parameters are owned by the caller and freed with the
 * matching
 * *_free function. Errors go to struct error; nothing is printed. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Opens the store for reading and writing, attaches its secrets database (store_secrets_path,
 * created 0600 when missing) and migrates both to the current schema. create (init only): a missing
 * store file is created with mode 0600. An existing file must be a leavesync store: an empty file,
 * a file that is not SQLite, an SQLite database without leavesync's schema and a schema version
 * that is negative or newer than this build are refused, never replaced or initialised. group:
 * [store] group, or NULL. Modes wider than 0600 on the store, its -wal and -shm are narrowed when
 * the process owns them (store_warning says so), or reported when it cannot; 0660 is right when the
 * file belongs to group (HR's SQL access, store_share_with_group). The secrets database is never
 * shared: it is 0600 or refused. */
int store_open(const char *path, bool create, const char *group, struct store **out,
               struct error *err);
/* Opens an existing store without writing anything (status, export, doctor): works on a store
 * the user may only read, in a directory where it cannot create -wal or -shm. The schema must be
 * current (a read-only command does not migrate). with_secrets: the secrets database is attached
 * read-only too (for the commands that read delegated connections); a store without one has no
 * connections, and one this user may not read is an error. group: as for store_open. */
int store_open_readonly(const char *path, const char *group, bool with_secrets, struct store **out,
                        struct error *err);
void store_close(struct store *st);
int store_schema_version(struct store *st);     /* PRAGMA user_version */
const char *store_path(const struct store *st); /* as given to store_open */
/* What opening the store fixed or could not fix (its file modes), "" when nothing: for the CLI to
 * print as a warning. Borrowed from st. */
const char *store_warning(const struct store *st);

/* Exclusive per-store lock for sync/resync/reconcile (flock on PATH.lock, released on exit or
 * crash). Returns 0, STORE_LOCKED with err "another leavesync sync is running on STORE (pid N)",
 * or -1 with err when the lock file cannot be used. */
#define STORE_LOCKED (-2)
int store_lock_run(struct store *st, struct error *err);

/* The secrets database beside a store (delegated refresh tokens, always 0600, attached by
 * store_open): "DIR/NAME.db" -> "DIR/NAME-secrets.db". Caller frees. */
char *store_secrets_path(const char *store_path);

/* [store] group: gives the store file (and its -wal, -shm) to that group with mode 0660, so that
 * HR accounts in it can use SQL; the secrets database stays 0600. NULL group: nothing to do. */
int store_share_with_group(struct store *st, const char *group, struct error *err);

/* A consistent copy of the store at dest and of its secrets at store_secrets_path(dest), made with
 * SQLite's online backup API while other processes keep using the store. Each file is written to a
 * new 0600 temporary file (O_EXCL) in its directory, synced, then put in place: refused when dest
 * or its secrets file exists unless overwrite. */
int store_backup(struct store *st, const char *dest, bool overwrite, struct error *err);

/* ---- leave: the HR contract ---- */

/* The dates leave may have (docs/store.md): push refuses others, render refuses rows written by SQL
 * outside them. From the Unix epoch (the engine computes in Unix seconds; no HR system has leave
 * before 1970) to 2199 (far past any leave plan, well inside Outlook's calendar, which ends on
 * 4500-08-31, and where tzdata's rules are still extrapolated sensibly). Compared as text:
 * "YYYY-MM-DD" prefixes sort as dates. */
#define LEAVE_FIRST_DATE "1970-01-01"
#define LEAVE_LAST_DATE "2199-12-31"

struct leave {
	char *id;        /* HR's key, non-empty */
	char *mailbox;   /* lower-case SMTP address */
	char *kind;      /* "Annual leave", "Sick leave", ... */
	char *starts;    /* "YYYY-MM-DD" (all-day) or "YYYY-MM-DDTHH:MM" (partial day, local) */
	char *ends;      /* same form as starts; all-day: inclusive last day */
	char *time_zone; /* IANA name */
	char *status;    /* "approved" | "cancelled" */
	char *note;      /* may be NULL */
	int64_t revision;
	char *updated_at; /* ISO 8601 UTC, set by the store */
};
void leave_free(struct leave *lv);

enum push_format { PUSH_AUTO, PUSH_JSON, PUSH_NDJSON, PUSH_CSV };

struct push_problem {
	long record;      /* JSON array: 1-based record; NDJSON and CSV: 1-based line */
	char field[32];   /* "start", "" for the record as a whole */
	char reason[320]; /* what is wrong and what is expected */
};

/* A full snapshot (push --snapshot, docs/store.md "Full snapshots"): the input is the whole truth
 * for its scope, so approved leave of the scope that the input does not hold is cancelled. */
struct push_snapshot {
	bool enabled;
	/* The scope's mailboxes: every address @domain (lower case, no '@'), plus every listed
	 * address (lower case). Both empty: the mailboxes that appear in the input. */
	const char *const *domains;
	size_t ndomains;
	const char *const *mailboxes;
	size_t nmailboxes;
	const char *scope_source; /* for messages: the file the mailboxes came from, or NULL */
	/* Leave starting before this day is outside the scope. "YYYY-MM-DD", or NULL: today in
	 * each leave's own time zone (today_in). */
	const char *from;
	/* Today's date in an IANA zone at Unix time now, into out ("YYYY-MM-DD"); 0 or -1 (then
	 * UTC is used). Supplied by the engine (ICU); NULL: UTC. */
	int (*today_in)(const char *iana, int64_t now, char out[11]);
	/* The safety valve: cancelling more than max_cancel_share of the scope's approved leave,
	 * and at least min_cancel entries, is refused unless force. */
	double max_cancel_share;
	int64_t min_cancel;
	bool force;
};

struct push_options {
	enum push_format format;
	int max_leave_days;                 /* a longer leave is refused */
	bool (*tz_known)(const char *iana); /* validates time_zone (ICU, supplied by the engine) */
	/* 1 when a part-day local time "YYYY-MM-DDTHH:MM" falls in a gap of zone (the clocks go
	 * forward from *from to *to, "HH:MM"): refused. NULL: not checked. (engine's tz_local_gap)
	 */
	int (*local_time_gap)(const char *local, const char *zone, char from[6], char to[6]);
	const char *default_time_zone; /* for records without time_zone */
	size_t max_note_bytes;         /* a longer note is refused (0: 4096) */
	bool dry_run;                  /* do everything in a transaction that is rolled back */
	struct push_snapshot snapshot;
	const char *source; /* recorded with each revision (leavesync show); NULL: "push" */
	size_t max_records; /* more records is refused, nothing written ([limits] push_records);
	                       0: no limit */
};

struct push_report {
	size_t records; /* records read */
	size_t inserted, updated, unchanged, stale;
	size_t cancelled; /* snapshot: approved leave of the scope absent from the input */
	struct push_problem *problems; /* all problems found; non-empty means nothing was written */
	size_t nproblems;
	char **notices; /* NULL-terminated or NULL: "record 3 (LV-7): revision 2 is older than
	                   stored 5: skipped" */
	size_t nnotices;
	enum push_format format; /* the format used (detected or given) */
	/* snapshot */
	char scope[256];        /* "mailboxes @contoso.com", "the 12 mailboxes of FILE", ... */
	size_t scope_mailboxes; /* mailboxes named by the scope (domains: 0) */
	size_t in_scope;        /* approved leave of the scope stored before this push */
	bool scope_empty;       /* no scope option and no record: nothing can be cancelled */
	bool blocked;           /* the safety valve refused it (err says why): nothing written */
	bool dry_run;           /* nothing was written on purpose */
};
void push_report_free(struct push_report *r);

/* Parses and validates the whole input, then writes it in one transaction: all or nothing.
 * With opt->dry_run the same work is done and rolled back: the report says what a push would do.
 * Returns 0 when written (or nothing to write), -1 with report->problems set (invalid input:
 * nothing written), or with err set (I/O or database failure, or report->blocked: the snapshot's
 * safety valve; nothing written). */
int store_push(struct store *st, const char *data, size_t len, const struct push_options *opt,
               struct push_report *report, struct error *err);

/* Looks up one leave; returns 1 found, 0 not found, -1 error. */
int store_get_leave(struct store *st, const char *id, struct leave *out, struct error *err);

/* Every leave (optionally of one mailbox), ordered by mailbox then starts, streamed to cb (borrowed
 * leave; return non-zero to stop). For export. */
int store_each_leave(struct store *st, const char *mailbox,
                     int (*cb)(void *arg, const struct leave *lv), void *arg, struct error *err);

/* ---- dirty leaves (the render pass) ----
 * Triggers record every INSERT/UPDATE/DELETE on leave, by HR pushes or direct SQL, in a queue; the
 * render pass reads it without scanning leave. */
struct dirty_leave {
	char *leave_id;
	int64_t seq;     /* pass back to store_dirty_done */
	bool deleted;    /* the row is gone: its targets must go */
	struct leave lv; /* the current row when !deleted */
};
void dirty_leave_free(struct dirty_leave *d);

/* Up to limit queued leaves (oldest first). *out is an array the caller frees with
 * dirty_leaves_free. */
int store_dirty_leaves(struct store *st, size_t limit, struct dirty_leave **out, size_t *n,
                       struct error *err);
void dirty_leaves_free(struct dirty_leave *d, size_t n);

/* Marks leaves as rendered: removes each queue entry whose seq is unchanged (a change made
 * meanwhile stays queued). */
int store_dirty_done(struct store *st, const struct dirty_leave *d, size_t n, struct error *err);

/* Queues leaves again: one id, one mailbox, or all (NULL, NULL). For resync. */
int store_requeue_leaves(struct store *st, const char *leave_id, const char *mailbox,
                         struct error *err);

/* ---- target: one row per (leave, mailbox) ---- */

enum target_state {
	TS_PENDING,  /* desired differs from synced, or never written */
	TS_CREATING, /* a create was sent (or is about to be) and its outcome is not known yet */
	TS_SYNCED,   /* remote item believed equal to desired */
	TS_FAILED,   /* permanent failure, last_error says why; retried by reconcile or resync */
	TS_WAITING,  /* needs login (delegated) or retry later: next_attempt says when */
};
const char *target_state_name(enum target_state s);

struct target {
	int64_t id;
	char *leave_id;
	char *mailbox;
	char *sync_key;  /* UUID; the event's tag */
	char *desired;   /* VEVENT text to have remotely; NULL: the event must not exist */
	char *synced;    /* VEVENT text last written; NULL: nothing written */
	char *remote_id; /* NULL: no known remote item */
	char *change_key;
	char *backend; /* backend that wrote remote_id ("ews"/"graph"), NULL if none */
	enum target_state state;
	int attempts;
	int64_t next_attempt; /* Unix seconds; 0 = now */
	char *last_error;
	bool dirty; /* in the work queue (partial index) */
	bool force; /* resync: rewrite even if believed current */
	/* The create protocol (docs/sync-states.md). 0: no create in doubt. Otherwise the next step
	 * is a lookup by sync key, never a create: -1 a create was (about to be) sent by a run that
	 * did not record its outcome (a killed run: it was sent before the next run started); > 0
	 * the Unix time the last create in doubt was sent. */
	int64_t create_sent_at;
	bool unrenderable; /* the leave's current row cannot be rendered (last_error): the target
	                      keeps its event, fails, and waits for HR to change the row */
};
void target_free(struct target *t);
void targets_free(struct target *t, size_t n);

/* Sets the desired text of (leave_id, mailbox), creating the target when absent (sync_key given),
 * and queues it (dirty) when desired changed. desired NULL: the event must go. */
int store_set_desired(struct store *st, const char *leave_id, const char *mailbox,
                      const char *sync_key, const char *desired, struct error *err);

/* The leave's current row cannot be rendered: (leave_id, mailbox) becomes failed with reason and
 * unrenderable, out of the work queue, keeping its desired, synced and remote item (an existing
 * event stays as it is). Creates the target (sync_key given) when absent. The next successful
 * render (store_set_desired) or the leave's removal (store_retire_other_targets) clears it. */
int store_mark_unrenderable(struct store *st, const char *leave_id, const char *mailbox,
                            const char *sync_key, const char *reason, struct error *err);

/* Targets of leave_id in a mailbox other than keep_mailbox get desired NULL (the leave moved). */
int store_retire_other_targets(struct store *st, const char *leave_id, const char *keep_mailbox,
                               struct error *err);

/* Work queue: dirty targets with next_attempt <= now, ordered by (mailbox, id), after the cursor
 * (mailbox, id) exclusive; at most limit. Caller frees with targets_free. Memory stays bounded. */
int store_due_targets(struct store *st, int64_t now, const char *after_mailbox, int64_t after_id,
                      size_t limit, struct target **out, size_t *n, struct error *err);

/* All targets of a mailbox (reconcile), or the one with this sync key. */
int store_mailbox_targets(struct store *st, const char *mailbox, struct target **out, size_t *n,
                          struct error *err);
int store_target_by_sync_key(struct store *st, const char *sync_key, struct target *out,
                             struct error *err); /* 1 found, 0 not, -1 error */

/* Distinct mailboxes having targets or leave, sorted; caller frees each and the array. */
int store_mailboxes(struct store *st, char ***out, size_t *n, struct error *err);

/* Writes the mutable columns (synced, remote_id, change_key, backend, state, attempts,
 * next_attempt, last_error, dirty, force, create_sent_at) of n targets in one transaction. A target
 * whose desired is NULL and that has no remote item left (remote_id NULL, state SYNCED) is deleted.
 */
int store_save_targets(struct store *st, const struct target *t, size_t n, struct error *err);

/* The durable intent of a write whose outcome may stay unknown (docs/sync-states.md): targets
 * ids[0..n-1] are about to have a create (creating: state creating too), a delete or an overwrite
 * sent, at Unix time `when`: create_sent_at = when, in one transaction that is committed before the
 * request leaves. */
int store_mark_create_sent(struct store *st, const int64_t *ids, size_t n, int64_t when,
                           bool creating, struct error *err);

/* Queues targets again: by leave, mailbox or all; force=1 rewrites even if believed current. Also
 * targets in FAILED/WAITING (reconcile's "stuck") when stuck_only. */
int store_requeue_targets(struct store *st, const char *leave_id, const char *mailbox, bool force,
                          bool stuck_only, struct error *err);

/* The safety valve's counts: for each mailbox with queued deletions, how many engine-owned events
 * (targets with a remote item) the queue would delete, and how many it owns. cb returns non-zero to
 * stop. */
int store_pending_deletions(struct store *st,
                            int (*cb)(void *arg, const char *mailbox, int64_t deletions,
                                      int64_t owned),
                            void *arg, struct error *err);

/* Queued targets not yet due (a retry later, or a create's grace): how many, and the earliest
 * next_attempt (Unix seconds). */
int store_count_deferred(struct store *st, int64_t now, int64_t *count, int64_t *next_at,
                         struct error *err);

/* Counts per state, and waiting/failed targets with reasons (status). */
struct state_counts {
	int64_t by_state[5]; /* indexed by enum target_state */
	int64_t dirty;
	int64_t leaves;
	int64_t unrendered; /* leave changed (push or SQL) that no sync has rendered yet */
};
int store_state_counts(struct store *st, struct state_counts *out, struct error *err);
/* Failed or waiting targets, at most limit, streamed to cb. */
int store_each_problem_target(struct store *st, size_t limit,
                              int (*cb)(void *arg, const struct target *t), void *arg,
                              struct error *err);

/* Targets with a problem grouped by what went wrong: state "failed", "waiting" or "retrying"
 * (queued again after a failed attempt), and the reason (last error). Groups come most severe
 * first, then largest; each names its first three items (by mailbox, leave). At most max_groups
 * go to cb (borrowed; cb returns non-zero to stop); *more_groups counts the rest. */
struct problem_group {
	const char *state, *reason;
	int64_t count;
	char *mailbox[3], *leave_id[3];
	size_t nitems;
};
void problem_group_clear(struct problem_group *g);
int store_problem_groups(struct store *st, size_t max_groups,
                         int (*cb)(void *arg, const struct problem_group *g), void *arg,
                         int64_t *more_groups, struct error *err);

/* Whether a resync names anything: a leave or a target with this id and/or mailbox (NULL: any). */
int store_resync_known(struct store *st, const char *leave_id, const char *mailbox, bool *known,
                       struct error *err);

/* status --check: what a monitor needs, in one read. */
struct store_health {
	int64_t failed;      /* targets failed for good */
	int64_t waiting;     /* targets waiting for an admin: a login, or the setup (blocked) */
	int64_t needs_login; /* of those, waiting for `auth login` */
	int64_t retrying;    /* queued again after a failed attempt */
	int64_t synced, queued, unrendered;
	int last_exit;        /* exit status of the last finished sync/resync/reconcile; -1 none */
	int64_t last_success; /* when the last of those that ran to its end finished; 0 never */
};
int store_health(struct store *st, struct store_health *h, struct error *err);

/* The [sync] instance whose events the store writes: *out NULL when not recorded yet (a store that
 * never synced). Recorded by the first run; changed only by store_rename_instance. */
int store_get_instance(struct store *st, char **out, struct error *err);
int store_set_instance(struct store *st, const char *instance, struct error *err);
/* Every target's id and sync key (cb returns non-zero to stop), and a new key for one target,
 * which queues it for a rewrite (renaming an instance, engine/instance.c). */
int store_each_target_key(struct store *st, int (*cb)(void *arg, int64_t id, const char *sync_key),
                          void *arg, struct error *err);
int store_set_target_key(struct store *st, int64_t id, const char *sync_key, struct error *err);

/* Once-a-day notices: *due is true (and the time recorded) when key was never shown or last
 * shown at least interval seconds before now. */
int store_notice_due(struct store *st, const char *key, int64_t now, int64_t interval, bool *due,
                     struct error *err);

/* Deletes the runs (and their drift) that finished before `before` (Unix seconds), and the leave
 * history (revisions, target events) recorded before it; *pruned counts the runs. */
int store_prune_history(struct store *st, int64_t before, int64_t *pruned, struct error *err);

/* ---- token: delegated connections (refresh tokens, in the secrets database) ---- */

struct connection {
	char *mailbox;
	char *refresh_token; /* never printed */
	char *scope;
	char *user; /* the signed-in account (may differ: service account) */
	bool needs_login;
	char *reason; /* why a login is needed (AADSTS code and text) */
	char *updated_at;
};
void connection_free(struct connection *c);
int store_get_connection(struct store *st, const char *mailbox, struct connection *out,
                         struct error *err); /* 1 found, 0 not, -1 error */
/* Replaces the refresh token atomically (rotation); clears needs_login. */
int store_put_connection(struct store *st, const struct connection *c, struct error *err);
int store_mark_needs_login(struct store *st, const char *mailbox, const char *reason,
                           struct error *err);
int store_each_connection(struct store *st, int (*cb)(void *arg, const struct connection *c),
                          void *arg, struct error *err);
/* auth logout: forgets the connection and its refresh token; *found says whether there was one. */
int store_delete_connection(struct store *st, const char *mailbox, bool *found, struct error *err);

/* ---- mailbox: what a backend resolved about a mailbox (Graph: the user object id) ---- */

/* *user_id: a heap copy (caller frees) of the Graph user id stored for mailbox, NULL when none.
 * Returns 1 found, 0 not, -1 error. */
int store_get_graph_user_id(struct store *st, const char *mailbox, char **user_id,
                            struct error *err);
/* Stores (user_id NULL: forgets) the Graph user id of mailbox. */
int store_set_graph_user_id(struct store *st, const char *mailbox, const char *user_id,
                            struct error *err);

/* ---- autodiscover: the EWS URL of a mail domain (Exchange Server, docs/onprem.md) ---- */

/* *ews_url (and *server_build when not NULL; may come back NULL): heap copies (caller frees) of
 * what is known for domain (lower case), NULL when nothing. Returns 1 found, 0 not, -1 error. */
int store_get_ews_url(struct store *st, const char *domain, char **ews_url, char **server_build,
                      struct error *err);
/* Stores the EWS URL of domain (ews_url NULL: forgets the domain: discover again); server_build
 * NULL keeps the one stored. */
int store_set_ews_url(struct store *st, const char *domain, const char *ews_url,
                      const char *server_build, struct error *err);

/* ---- run and drift history (no secret ever goes here) ---- */

struct run_record {
	int64_t id;
	char *command;                   /* "sync", "resync", "reconcile" */
	int64_t started_at, finished_at; /* Unix seconds */
	int exit_code;
	int64_t created, updated, deleted, adopted, unchanged, failed, waiting, requests;
	char *summary; /* one line, or JSON for reconcile */
};
void run_record_free(struct run_record *r);
int store_run_begin(struct store *st, const char *command, int64_t *run_id, struct error *err);
int store_run_end(struct store *st, const struct run_record *r, struct error *err);
int store_recent_runs(struct store *st, const char *command, size_t limit, struct run_record **out,
                      size_t *n, struct error *err); /* newest first; command NULL = all */

struct drift_record {
	int64_t run_id;
	int64_t at;
	char *mailbox;
	char *leave_id; /* may be NULL (orphan without a leave) */
	char *kind;     /* "missing" "edited" "moved" "orphaned" "duplicated" "stuck" "conflict" */
	char *
	    action; /* "recreated" "rewritten" "adopted" "deleted" "retried" "none (dry run)" ... */
	char *result; /* "ok" or the error */
	char *detail; /* e.g. "subject,start differ" */
};
int store_add_drift(struct store *st, const struct drift_record *d, struct error *err);
int store_each_drift(struct store *st, int64_t run_id,
                     int (*cb)(void *arg, const struct drift_record *d), void *arg,
                     struct error *err);

/* ---- leavesync serve (store/api.c): API keys, idempotency records, jobs, leave state ---- */

#define API_KEY_HASH_LEN 32 /* SHA-256 */

struct api_key {
	char *name;
	char *scope; /* "read" | "push" | "admin" */
	unsigned char hash[API_KEY_HASH_LEN];
	int64_t created_at;
};
void api_key_free(struct api_key *k);
/* Adds a key (only its hash); err says so when the name is taken. */
int store_apikey_add(struct store *st, const char *name, const unsigned char *hash,
                     const char *scope, struct error *err);
/* The key with this hash: 1 found, 0 not, -1 error. */
int store_apikey_find(struct store *st, const unsigned char *hash, struct api_key *out,
                      struct error *err);
/* 1 revoked (deleted), 0 no such name, -1 error. */
int store_apikey_revoke(struct store *st, const char *name, struct error *err);
int store_apikey_each(struct store *st, int (*cb)(void *arg, const struct api_key *k), void *arg,
                      struct error *err);

/* A response remembered for (key name, Idempotency-Key). */
struct idem_record {
	unsigned char request_hash[32]; /* SHA-256 of method, path and body */
	int status;
	char *content_type;
	char *body;
	size_t body_len;
	int64_t created_at;
};
void idem_record_free(struct idem_record *r);
/* The record made at or after not_before: 1 found, 0 not, -1 error. */
int store_idem_get(struct store *st, const char *key_name, const char *idem_key, int64_t not_before,
                   struct idem_record *out, struct error *err);
/* Remembers a response (replacing an expired record of the same keys). */
int store_idem_put(struct store *st, const char *key_name, const char *idem_key,
                   const struct idem_record *r, struct error *err);
/* Forgets records made before `before`; *removed says how many. */
int store_idem_prune(struct store *st, int64_t before, int64_t *removed, struct error *err);

/* A resync or reconcile asked for through the API, run by serve's scheduler. */
struct api_job {
	int64_t id;
	char *kind;   /* "resync" | "reconcile" */
	char *params; /* JSON object */
	char *state;  /* "queued" | "running" | "done" | "failed" */
	char *key_name;
	int64_t requested_at, started_at, finished_at; /* Unix seconds; 0 = not yet */
	int64_t run_id;                                /* the run history row, 0 = none yet */
	char *result;                                  /* JSON, NULL until finished */
};
void api_job_free(struct api_job *j);
int store_job_add(struct store *st, const char *kind, const char *params, const char *key_name,
                  int64_t *id, struct error *err);
/* 1 found, 0 not, -1 error. */
int store_job_get(struct store *st, int64_t id, struct api_job *out, struct error *err);
/* The oldest queued job: 1 found, 0 none, -1 error. */
int store_job_next(struct store *st, struct api_job *out, struct error *err);
/* Moves a job to state (started_at/finished_at set by the state), with its run and result. */
int store_job_update(struct store *st, int64_t id, const char *state, int64_t run_id,
                     const char *result, struct error *err);
/* Jobs left "running" by a process that stopped: queued again. */
int store_job_requeue_interrupted(struct store *st, struct error *err);
int store_job_count_queued(struct store *st, int64_t *n, struct error *err);

/* Work waiting for a sync: queued leaves plus queued targets due by `now`. */
int store_pending_work(struct store *st, int64_t now, int64_t *leaves, int64_t *targets,
                       struct error *err);

/* A leave with the state of its calendar event (the target in its mailbox). */
struct leave_status {
	struct leave lv;
	char *state;          /* "pending" | "synced" | "waiting" | "failed" */
	char *reason;         /* last error of a waiting or failed target, else NULL */
	char *remote_id;      /* the event's id, NULL when none */
	int64_t written_at;   /* when leavesync last wrote the event (Unix seconds), 0 = never */
	int64_t next_attempt; /* waiting: when the next attempt is due */
	int attempts;
};
void leave_status_free(struct leave_status *s);
struct leave_filter {
	const char *id;       /* one leave, or NULL */
	const char *mailbox;  /* or NULL */
	const char *state;    /* or NULL */
	const char *after_id; /* keyset cursor: ids greater than this (ordered by id), or NULL */
	size_t limit;
};
/* Leaves matching the filter, ordered by id, streamed to cb (borrowed; non-zero stops). */
int store_each_leave_status(struct store *st, const struct leave_filter *f,
                            int (*cb)(void *arg, const struct leave_status *s), void *arg,
                            struct error *err);

/* ---- one leave's story (store/leave_history.c; leavesync show) ----
 * Triggers record every revision of a leave and every render, write and failure of its targets
 * (schema step 4); rows older than the oldest run kept are pruned with the run history. Records
 * passed to callbacks are borrowed for the call. */

struct leave_revision {
	int64_t seen_at;     /* Unix seconds */
	const char *outcome; /* "stored"; "stale": pushed with an older revision, skipped;
	                        "deleted": the row was deleted (its content is not kept) */
	const char *via;     /* "push", "snapshot" (cancelled by a full snapshot), NULL: SQL */
	struct leave lv;     /* id always; the other fields NULL for "deleted" (updated_at NULL) */
};
/* The newest `limit` revisions of a leave, oldest first; *total counts them all. */
int store_each_leave_revision(struct store *st, const char *leave_id, size_t limit,
                              int (*cb)(void *arg, const struct leave_revision *r), void *arg,
                              int64_t *total, struct error *err);

struct leave_story_entry {
	int64_t at;          /* Unix seconds */
	int64_t run_id;      /* the run it happened in, 0 outside a run */
	const char *command; /* that run's command ("sync", "reconcile"...), NULL */
	const char *source;  /* "target": a render, write or failure; "drift": found by a run */
	const char *mailbox;
	const char *action; /* target: rendered created adopted updated recreated deleted forgotten
	                       failed waiting "retry later"...; drift: what was done */
	const char *kind;   /* drift: missing edited moved orphaned duplicated stuck; else NULL */
	const char *result; /* drift: "ok" or the error; else NULL */
	const char *state, *remote_id, *change_key, *backend; /* target: as left; drift: NULL */
	const char *detail;
};
/* The newest `limit` entries of a leave's history (its targets' events and the drift found for
 * it), oldest first; *total counts them all. */
int store_each_leave_story(struct store *st, const char *leave_id, size_t limit,
                           int (*cb)(void *arg, const struct leave_story_entry *e), void *arg,
                           int64_t *total, struct error *err);

/* Every target of a leave (one per mailbox it was ever in), with when each was last written
 * (Unix seconds, 0 never). Caller frees with targets_free and free(*written_at). */
int store_leave_targets(struct store *st, const char *leave_id, struct target **out,
                        int64_t **written_at, size_t *n, struct error *err);

/* Begin/commit around several calls (the render pass). */
int store_begin(struct store *st, struct error *err);
int store_commit(struct store *st, struct error *err);
void store_rollback(struct store *st);

#endif
