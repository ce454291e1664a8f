/* Per-key token buckets (leavesync serve): each API key may make `rate` requests per second on
 * average and `burst` at once; the rest are answered 429 with Retry-After. Thread-safe. */
#ifndef SERVE_RATELIMIT_H
#define SERVE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);

/* Takes one token of name's bucket at time now_ms (monotonic). false when empty: *retry_after_s
 * then says when the next token is there (whole seconds, at least 1). */
bool ratelimit_take(struct ratelimit *rl, const char *name, double rate, int burst, int64_t now_ms,
                    int *retry_after_s);

#endif
