/* Token buckets (ratelimit.h): a small array, one bucket per key name seen (keys are few). */
#include "serve/ratelimit.h"

#include "common/util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUCKETS 4096 /* a bound even if keys come and go: the oldest bucket is reused */

struct bucket {
	char *name;
	double tokens;
	int64_t at_ms;
};

struct ratelimit {
	pthread_mutex_t mu;
	struct bucket *b;
	size_t n, cap;
};

struct ratelimit *ratelimit_new(void)
{
	struct ratelimit *rl = xcalloc(1, sizeof *rl);

	pthread_mutex_init(&rl->mu, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < rl->n; i++)
		free(rl->b[i].name);
	free(rl->b);
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

static struct bucket *find(struct ratelimit *rl, const char *name, int burst, int64_t now_ms)
{
	size_t oldest = 0;

	for (size_t i = 0; i < rl->n; i++) {
		if (strcmp(rl->b[i].name, name) == 0)
			return &rl->b[i];
		if (rl->b[i].at_ms < rl->b[oldest].at_ms)
			oldest = i;
	}
	if (rl->n == MAX_BUCKETS) {
		free(rl->b[oldest].name);
		rl->b[oldest] = (struct bucket){xstrdup(name), burst, now_ms};
		return &rl->b[oldest];
	}
	if (rl->n == rl->cap) {
		rl->cap = rl->cap ? rl->cap * 2 : 8;
		rl->b = xrealloc(rl->b, rl->cap * sizeof *rl->b);
	}
	rl->b[rl->n] = (struct bucket){xstrdup(name), burst, now_ms};
	return &rl->b[rl->n++];
}

bool ratelimit_take(struct ratelimit *rl, const char *name, double rate, int burst, int64_t now_ms,
                    int *retry_after_s)
{
	struct bucket *b;
	bool ok;

	pthread_mutex_lock(&rl->mu);
	b = find(rl, name, burst, now_ms);
	if (now_ms > b->at_ms)
		b->tokens += (double)(now_ms - b->at_ms) / 1000.0 * rate;
	b->at_ms = now_ms > b->at_ms ? now_ms : b->at_ms;
	if (b->tokens > burst)
		b->tokens = burst;
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	else
		*retry_after_s = (int)ceil((1.0 - b->tokens) / rate);
	if (!ok && *retry_after_s < 1)
		*retry_after_s = 1;
	pthread_mutex_unlock(&rl->mu);
	return ok;
}
