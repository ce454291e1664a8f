/* Applying planned work to a backend, on a worker thread: look up, create, update, delete, with the
 * create protocol of docs/sync-states.md (after a create without a definite answer the next step is
 * a lookup by sync key, no sooner than [sync] create_grace after it was sent), change-key conflicts
 * repaired by re-reading the item, and in-run retries honouring the server's back-off hints. */
#ifndef ENGINE_APPLY_H
#define ENGINE_APPLY_H

#include "engine/backend.h"
#include "engine/event.h"
#include "engine/pool.h"
#include "store/store.h"

#include <pthread.h>

enum action {
	ACT_DONE,          /* nothing (left) to do */
	ACT_CREATE,        /* create: never sent before */
	ACT_LOOKUP_CREATE, /* a create may have happened (crash, lost response, other backend): find
	                      first */
	ACT_UPDATE,        /* rewrite the owned fields */
	ACT_DELETE,        /* delete remote_id */
	ACT_LOOKUP_DELETE, /* find by sync key, then delete what is found */
};

enum outcome {
	OUT_NONE,
	OUT_CREATED,
	OUT_UPDATED,
	OUT_ADOPTED,   /* found by its sync key and already equal: no write */
	OUT_UNCHANGED, /* no request needed */
	OUT_DELETED,
	OUT_RETRY,   /* transient failure: a later run tries again */
	OUT_WAITING, /* needs login */
	OUT_FAILED,  /* permanent failure */
	OUT_STOPPED, /* the run's deadline came first: left queued as planned, not an attempt */
};

struct work_item {
	struct target t;      /* owned; remote_id/change_key updated by the worker */
	struct event desired; /* parsed t.desired when has_desired */
	struct event written; /* what the remote item holds as far as we know, when has_written */
	bool has_desired, has_written;
	enum action action;
	enum outcome outcome;
	bool retry;          /* the last attempt failed transiently; action is to be redone */
	int64_t ready_at_ms; /* retry: not before this (monotonic ms, now_ms) */
	int retries;         /* in-run retries so far (back-off) */
	int64_t send_unix;   /* when the create being answered was sent (Unix s) */
	int64_t doubt_at;    /* the last create in doubt (Unix s; 0 none): from before this run, or
	                        sent by this job. "Nothing found" settles it only when a lookup ran
	                        create_grace after it */
	int conflicts;
	bool overwrite; /* re-read after a conflict: the next update writes regardless */
	enum be_status status;
	int retry_after_ms;
	char message[512];
	char drift_kind[16]; /* set when the worker repaired drift: "edited", "missing",
	                        "duplicated" */
	char drift_detail[160];
	int duplicates_deleted;
};

/* Records, before a create, a delete or an overwrite leaves, that it is being sent
 * (store_mark_create_sent): the create
 * protocol's durable intent. One store connection of its own, shared by the workers under mu
 * (the main thread keeps its own). */
struct create_stamper {
	struct store *st;
	pthread_mutex_t mu;
};

struct write_job {
	struct job job;          /* first: the pool hands this back */
	struct work_item *items; /* owned array */
	size_t n;
	const char **mailboxes; /* points into items' t.mailbox */
	int64_t retried, conflicts, requests;
	int max_wait_ms;     /* total in-run waiting allowed for retries (default 60 s) */
	int64_t deadline_ms; /* the run's deadline (now_ms()), 0: none */
	int create_grace_s;  /* [sync] create_grace */
	struct create_stamper *stamper; /* borrowed; NULL: no create is sent */
};

void write_job_run(struct job *job, struct be_session *s, enum be_status open_status,
                   const struct error *open_err);
void write_job_free(struct write_job *wj);
void work_item_free(struct work_item *it);

#endif
