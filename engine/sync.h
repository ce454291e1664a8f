/* The sync core: render pass, planner, executor, reconcile. Talks to calendars only through
 * struct backend (engine/backend.h); never branches on which backend it is. Library code: results
 * go into structs, progress through a callback; nothing is printed here. */
#ifndef ENGINE_SYNC_H
#define ENGINE_SYNC_H

#include "common/error.h"
#include "engine/backend.h"
#include "engine/config.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Counts of one run; also what goes into the run history. */
struct sync_stats {
	int64_t planned; /* targets taken from the work queue */
	int64_t created, updated, deleted, adopted, unchanged;
	int64_t failed;         /* permanent failures (state failed) */
	int64_t waiting;        /* needs login, or transient failures left for a later run */
	int64_t retried;        /* in-run retries after throttling or transient errors */
	int64_t conflicts;      /* stale change keys repaired */
	int64_t deferred;       /* queued but not due yet (retry later): a later run writes them */
	int64_t deferred_until; /* the earliest of their next attempts (Unix seconds) */
	int64_t stopped;        /* left queued, not attempted (or cut) when the run deadline came */
};

struct sync_progress {
	void (*update)(void *arg, int64_t done, int64_t total);
	void *arg;
};

/* One problem worth listing at the end of a run (the CLI prints them). */
struct sync_problem {
	char *mailbox, *leave_id, *state, *message;
};

struct sync_result {
	struct sync_stats stats;
	struct sync_problem *problems; /* at most 100 kept; nproblems counts all */
	size_t nproblems, nkept;
	char **blocked; /* safety valve: "MAILBOX: would delete N of M ..." */
	size_t nblocked;
	bool config_error; /* the run could not start: a configuration problem (exit 2) */
	bool deadline_hit; /* the run deadline stopped it: stats.stopped items stay queued */
};
void sync_result_free(struct sync_result *r);
/* The counts of a finished run into its history record (store_run_end); id, command, times, exit
 * code and summary stay the caller's. */
void sync_stats_to_run(const struct sync_stats *s, struct run_record *rec);

struct sync_options {
	const char *resync_leave;   /* resync --leave ID */
	const char *resync_mailbox; /* resync --mailbox EMAIL */
	bool resync_all;            /* resync --all */
	const char *only_mailbox;   /* restrict the run to one mailbox (reconcile --mailbox) */
	int64_t run_id;             /* run history row for drift records; 0: none */
	const char *const *skip_mailboxes; /* no deletions here (safety valve): left queued */
	size_t nskip;
	bool force;          /* pass the safety valve */
	int64_t deadline_ms; /* now_ms() by which the run stops ([sync] run_deadline): no new work
	                        starts after it, requests in flight are cut at it, and what was not
	                        done stays queued; 0: none */
	struct sync_progress progress;
	/* When set (another thread, a signal), the run stops after the page in flight: its items
	 * are saved and the rest stays queued for the next run. NULL: never. */
	const atomic_bool *stop;
};

/* Renders every queued leave into its target's desired VEVENT (engine/render_pass.c). A leave
 * that cannot be rendered fails alone (its target failed and unrenderable, counted in
 * r->stats.failed and listed in r->problems when r is not NULL); -1 only when the store fails. */
int render_pass(const struct config *cfg, struct store *st, struct sync_result *r,
                struct error *err);

/* Adds one problem to a run's list (the first 100 are kept; nproblems counts all). */
void sync_add_problem(struct sync_result *r, const char *mailbox, const char *leave_id,
                      const char *state, const char *message);

/* Runs a sync: render pass, then every due target through its backend. Returns 0 when the run
 * completed (r->stats say how items fared), -1 when it could not run at all (err). */
int sync_run(const struct config *cfg, struct store *st, const struct sync_options *opt,
             struct sync_result *r, struct error *err);

/* Reconcile: list the engine's events per mailbox in a window, compare with the store, repair. */
struct reconcile_options {
	int64_t from, to;           /* window, Unix seconds */
	const char *mailbox;        /* only this mailbox, or NULL */
	bool dry_run;               /* report, change nothing remote, record nothing */
	bool force;                 /* pass the safety valve */
	const char *adopt_instance; /* --adopt-instance OLD: the store's keys and OLD's events
	                               become this instance's (not with dry_run) */
	int64_t run_id;
	struct sync_progress progress;
};

struct finding {
	char *mailbox, *leave_id; /* leave_id NULL for an orphan without a leave */
	char *kind;               /* missing edited moved orphaned duplicated stuck */
	char *action; /* recreate rewrite adopt delete retry; "none": dry run or blocked */
	char *result; /* "ok", "planned", or the error */
	char *detail;
	char *sync_key;  /* the target's, to read its final state */
	char *remote_id; /* orphans and duplicates: the item deleted */
};

struct reconcile_report {
	struct finding *findings;
	size_t n, cap;
	int64_t mailboxes, listed;
	int64_t adopted; /* events a new or rebuilt store found by their sync key */
	int64_t rekeyed; /* --adopt-instance: targets whose key moved to this instance */
	int64_t
	    renamed;    /* --adopt-instance: events found under the old instance's tag (retagged) */
	char **blocked; /* "MAILBOX: would delete N of M events (>50%): run with --force" */
	size_t nblocked;
	struct sync_result sync; /* the repair run */
	int64_t unrepaired;      /* findings whose result is not ok */
};
void reconcile_report_free(struct reconcile_report *r);

int reconcile_run(const struct config *cfg, struct store *st, const struct reconcile_options *opt,
                  struct reconcile_report *r, struct error *err);

/* ---- a mailbox against the store (engine/compare.c): what reconcile repairs from and
 * `leavesync calendar` shows; the comparison is pure, the caller decides what to do. ---- */

enum event_verdict {
	EV_KEPT,       /* the event of an approved leave's target */
	EV_ORPHANED,   /* tagged, with no approved leave behind it: reconcile deletes it */
	EV_DUPLICATED, /* a second tagged event for one target: reconcile deletes it */
};

struct event_cmp {
	size_t target; /* 1 + index of its target in the sorted targets, 0: none */
	enum event_verdict verdict;
	bool own_delete; /* orphaned, and the very item its target's queued delete removes */
};

struct target_cmp {
	size_t event; /* 1 + index of its kept event in the listing, 0: none found */
	/* found */
	bool adopt_new;   /* never written by this store: adopted, not drift */
	bool stuck_found; /* left creating, failed or waiting, yet its event exists: adopt */
	bool moved;       /* found under a new id (same backend) */
	bool ids_differ;  /* remote id, change key or backend differ: the store takes the listed */
	bool fields_differ; /* an owned field differs from the desired event: rewrite */
	bool edited;        /* ... though the store believed it written: a person's edit (drift) */
	char diff[160];     /* "subject,start differ" */
	bool adopt_as_is;   /* equal, but the store did not believe it synced */
	bool doubt; /* a create of the target's is in doubt: fields not compared, the sync's lookup
	               settles it */
	/* not found */
	bool missing;      /* believed written, inside the window, gone */
	bool stuck_absent; /* creating, failed or waiting: retry */
	bool pending;      /* never written yet (the next sync writes it): not drift */
	/* both */
	bool in_window;  /* the desired event overlaps the window (always, when listed) */
	bool unreadable; /* the stored desired text could not be parsed: fields not compared */
};

struct mailbox_comparison {
	struct event_cmp *ev; /* one per listed event, in listing order */
	size_t nev;
	struct target_cmp *t; /* one per target, in sorted order */
	size_t nt;
	int64_t owned; /* tagged events listed */
};

/* Sorts targets by sync key, as compare_mailbox needs them. */
void compare_sort_targets(struct target *ts, size_t n);
/* Compares the tagged events a backend listed for [from, to) with the mailbox's targets (sorted
 * with compare_sort_targets). backend: the name of the backend that listed them. out is freed
 * with mailbox_comparison_free. */
void compare_mailbox(const struct target *ts, size_t nts, const struct remote_event *ev, size_t nev,
                     const char *backend, int64_t from, int64_t to, struct mailbox_comparison *out);
void mailbox_comparison_free(struct mailbox_comparison *m);

/* Lists a mailbox's tagged events in [from, to) into *out (n of them; the caller frees each with
 * remote_event_free and the array with free), trying a throttled or failed listing again a few
 * times. untagged: when not NULL, the count of the window's untagged events (-1 when the backend
 * cannot count them). */
enum be_status list_mailbox(const struct backend *be, struct be_session *s, const char *mailbox,
                            int64_t from, int64_t to, struct remote_event **out, size_t *n,
                            int64_t *untagged, struct error *err);

/* One mailbox's listing in list_mailboxes. */
struct mailbox_listing {
	const char *mailbox;            /* in, borrowed */
	const struct known_item *known; /* in, borrowed: for list_events_known (sorted), or NULL */
	size_t nknown;
	struct remote_event *ev; /* out: as list_mailbox's *out */
	size_t n;
	enum be_status status;
	struct error err;
};

/* list_mailbox for several mailboxes (n <= be->max_batch) in one call where the backend can
 * (list_events_many: Graph app-only $batch); a mailbox whose shared listing failed retryably is
 * listed again alone through list_mailbox, with its retries. */
void list_mailboxes(const struct backend *be, struct be_session *s, struct mailbox_listing *l,
                    size_t n, int64_t from, int64_t to);

/* The safety valve (engine/valve.c): true when deleting `deletions` of a mailbox's `owned` events
 * needs --force; msg then says so. */
bool valve_blocks(const struct config *cfg, const char *mailbox, int64_t deletions, int64_t owned,
                  char *msg, size_t len);

/* engine/instance.c. The store must belong to [sync] instance (recorded by the first run):
 * -1 with the fix otherwise (a changed name would orphan every event); adopt names the old
 * instance that reconcile --adopt-instance takes over. */
int instance_check(const struct config *cfg, struct store *st, const char *adopt,
                   struct error *err);
/* Moves the store's keys of instance `from` to [sync] instance and queues their rewrite. */
int instance_adopt(const struct config *cfg, struct store *st, const char *from, int64_t *renamed,
                   struct error *err);

/* Backend chosen for a mailbox, by name. NULL for an unknown name. */
const struct backend *backend_by_name(const char *name);

#endif
