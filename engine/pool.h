/* Worker threads for backend calls. The main thread owns the store; workers only talk HTTP through
 * backend sessions (one session per backend per worker, opened on first use). Concurrency is
 * bounded globally (threads) and per mailbox (a job whose mailbox already has `per_mailbox` jobs in
 * flight waits). */
#ifndef ENGINE_POOL_H
#define ENGINE_POOL_H

#include "engine/backend.h"

#include <stddef.h>

struct pool;

struct job {
	const struct backend *be;
	const char **mailboxes; /* borrowed, distinct mailboxes the job touches */
	size_t nmailboxes;
	/* Runs on a worker with that worker's session for be (NULL if it could not be opened; then
	 * open_status/open_err say why). */
	void (*run)(struct job *job, struct be_session *s, enum be_status open_status,
	            const struct error *open_err);
	void *arg;
	struct job *next; /* the pool's */
};

/* env_for gives the environment lent to a backend's sessions (borrowed; outlives the pool). */
struct pool *pool_new(const struct backend_env *(*env_for)(void *arg, const struct backend *be),
                      void *env_arg, int threads, int per_mailbox);
/* Queues a job (never blocks). The job must stay valid until pool_wait returns it. */
void pool_submit(struct pool *p, struct job *job);
/* Waits for a finished job; NULL when nothing is queued or in flight. */
struct job *pool_wait(struct pool *p);
size_t pool_pending(struct pool *p); /* queued + in flight */
void pool_free(struct pool *p);      /* joins the workers and closes their sessions */

#endif
