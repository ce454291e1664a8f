/* A fixed set of worker threads taking jobs from one queue, honouring a per-mailbox limit. */
#include "engine/pool.h"
#include "common/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BACKENDS 4

struct inflight {
	char *mailbox;
	int count;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	const struct backend_env *(*env_for)(void *arg, const struct backend *be);
	void *env_arg;
	pthread_t *threads;
	int nthreads, per_mailbox;
	struct job *queue, *queue_tail, *finished, *finished_tail;
	size_t pending; /* queued + running + finished-not-collected */
	struct inflight *busy;
	size_t nbusy, capbusy;
	bool stopping;
};

static struct inflight *busy_find(struct pool *p, const char *mailbox)
{
	for (size_t i = 0; i < p->nbusy; i++)
		if (strcmp(p->busy[i].mailbox, mailbox) == 0)
			return &p->busy[i];
	return NULL;
}

static bool job_runnable(struct pool *p, const struct job *j)
{
	for (size_t i = 0; i < j->nmailboxes; i++) {
		struct inflight *f = busy_find(p, j->mailboxes[i]);
		if (f && f->count >= p->per_mailbox)
			return false;
	}
	return true;
}

static void busy_adjust(struct pool *p, const struct job *j, int delta)
{
	for (size_t i = 0; i < j->nmailboxes; i++) {
		struct inflight *f = busy_find(p, j->mailboxes[i]);
		if (!f) {
			if (p->nbusy == p->capbusy) {
				p->capbusy = p->capbusy ? p->capbusy * 2 : 16;
				p->busy = xrealloc(p->busy, p->capbusy * sizeof *p->busy);
			}
			f = &p->busy[p->nbusy++];
			f->mailbox = xstrdup(j->mailboxes[i]);
			f->count = 0;
		}
		f->count += delta;
		if (f->count == 0) {
			free(f->mailbox);
			*f = p->busy[--p->nbusy];
		}
	}
}

/* Takes the first runnable job off the queue; NULL if none. Lock held. */
static struct job *take_job(struct pool *p)
{
	struct job *prev = NULL;

	for (struct job *j = p->queue; j; prev = j, j = j->next) {
		if (!job_runnable(p, j))
			continue;
		if (prev)
			prev->next = j->next;
		else
			p->queue = j->next;
		if (p->queue_tail == j)
			p->queue_tail = prev;
		j->next = NULL;
		busy_adjust(p, j, +1);
		return j;
	}
	return NULL;
}

struct worker_sessions {
	const struct backend *be[MAX_BACKENDS];
	struct be_session *s[MAX_BACKENDS];
	enum be_status status[MAX_BACKENDS];
	struct error err[MAX_BACKENDS];
	size_t n;
};

static size_t session_for(struct pool *p, struct worker_sessions *ws, const struct backend *be)
{
	size_t i;

	for (i = 0; i < ws->n; i++)
		if (ws->be[i] == be)
			return i;
	if (ws->n == MAX_BACKENDS)
		abort(); /* more backends than the engine knows: a programming error */
	ws->be[i] = be;
	error_clear(&ws->err[i]);
	ws->status[i] = be->session_open(p->env_for(p->env_arg, be), &ws->s[i], &ws->err[i]);
	if (ws->status[i] != BE_OK)
		ws->s[i] = NULL;
	ws->n++;
	return i;
}

static void *worker_main(void *arg)
{
	struct pool *p = arg;
	struct worker_sessions ws;

	memset(&ws, 0, sizeof ws);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct job *j = NULL;
		size_t si;

		while (!p->stopping && (j = take_job(p)) == NULL)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stopping)
			break;
		pthread_mutex_unlock(&p->mu);
		si = session_for(p, &ws, j->be);
		j->run(j, ws.s[si], ws.status[si], &ws.err[si]);
		pthread_mutex_lock(&p->mu);
		busy_adjust(p, j, -1);
		if (p->finished_tail)
			p->finished_tail->next = j;
		else
			p->finished = j;
		p->finished_tail = j;
		pthread_cond_signal(&p->done);
		pthread_cond_broadcast(&p->work); /* a mailbox may have become free */
	}
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < ws.n; i++)
		if (ws.s[i])
			ws.be[i]->session_close(ws.s[i]);
	return NULL;
}

struct pool *pool_new(const struct backend_env *(*env_for)(void *arg, const struct backend *be),
                      void *env_arg, int threads, int per_mailbox)
{
	struct pool *p = xcalloc(1, sizeof *p);

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->env_for = env_for;
	p->env_arg = env_arg;
	p->nthreads = threads < 1 ? 1 : threads;
	p->per_mailbox = per_mailbox < 1 ? 1 : per_mailbox;
	p->threads = xcalloc((size_t)p->nthreads, sizeof *p->threads);
	for (int i = 0; i < p->nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
			abort(); /* cannot start threads: nothing sensible to do */
	return p;
}

void pool_submit(struct pool *p, struct job *job)
{
	pthread_mutex_lock(&p->mu);
	job->next = NULL;
	if (p->queue_tail)
		p->queue_tail->next = job;
	else
		p->queue = job;
	p->queue_tail = job;
	p->pending++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

struct job *pool_wait(struct pool *p)
{
	struct job *j = NULL;

	pthread_mutex_lock(&p->mu);
	while (p->pending > 0 && !p->finished)
		pthread_cond_wait(&p->done, &p->mu);
	if (p->finished) {
		j = p->finished;
		p->finished = j->next;
		if (!p->finished)
			p->finished_tail = NULL;
		j->next = NULL;
		p->pending--;
	}
	pthread_mutex_unlock(&p->mu);
	return j;
}

size_t pool_pending(struct pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->pending;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (size_t i = 0; i < p->nbusy; i++)
		free(p->busy[i].mailbox);
	free(p->busy);
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
}
