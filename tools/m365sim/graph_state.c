/* m365sim Graph view: the state the Graph view keeps beside the mailboxes — the per (app, mailbox)
 * request budget, the delta token epoch, knobs — and the /_sim/graph control calls.
 *
 * sim.h gives services no slot in struct sim, so this state hangs off one static pointer, created
 * on first use and only touched with the simulator lock held (one struct sim per process). */
#include "graph.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Outlook: "10,000 API requests in a 10 minute period" per app and mailbox [doc: throttling-limits]
 */
#define DEFAULT_BUDGET 10000
#define DEFAULT_WINDOW 600

struct bucket {
	int64_t second;
	int count;
};

struct window {
	char *key; /* "appid|mailbox" */
	struct bucket *b;
	size_t n, cap;
	int total;
};

struct graph_state {
	struct sim *owner;
	int budget;
	int window_seconds;
	char retry_after[32]; /* "" = computed */
	bool dedupe_txn;
	uint64_t epoch;
	struct window *w;
	size_t nw, capw;
	/* Open-addressing index over w by key (case-insensitive): 1 + index into w, 0 = empty. A
	 * linear scan per request cost O(mailboxes) and dominated $batch handling at 10,000. */
	size_t *slots;
	size_t nslots; /* a power of two, at least twice nw */
};

static struct graph_state *the_state;

static void clear_windows(struct graph_state *st)
{
	for (size_t i = 0; i < st->nw; i++) {
		free(st->w[i].key);
		free(st->w[i].b);
	}
	st->nw = 0;
	if (st->slots)
		memset(st->slots, 0, st->nslots * sizeof *st->slots);
}

/* FNV-1a of the lower-cased key. */
static size_t key_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= (uint64_t)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

/* The slot holding key, or the empty slot where it belongs. */
static size_t *slot_for(struct graph_state *st, const char *key)
{
	size_t mask = st->nslots - 1, i = key_hash(key) & mask;

	while (st->slots[i] && strcasecmp(st->w[st->slots[i] - 1].key, key) != 0)
		i = (i + 1) & mask;
	return &st->slots[i];
}

static void grow_slots(struct graph_state *st)
{
	free(st->slots);
	st->nslots = st->nslots ? st->nslots * 2 : 64;
	st->slots = xcalloc(st->nslots, sizeof *st->slots);
	for (size_t i = 0; i < st->nw; i++)
		*slot_for(st, st->w[i].key) = i + 1;
}

static void free_state(void)
{
	if (!the_state)
		return;
	clear_windows(the_state);
	free(the_state->w);
	free(the_state->slots);
	free(the_state);
	the_state = NULL;
}

struct graph_state *graph_state(struct sim *s)
{
	if (!the_state) {
		the_state = xcalloc(1, sizeof *the_state);
		the_state->owner = s;
		the_state->budget = DEFAULT_BUDGET;
		the_state->window_seconds = DEFAULT_WINDOW;
		the_state->dedupe_txn = true;
		the_state->epoch = 1;
		atexit(free_state);
	}
	return the_state;
}

uint64_t graph_delta_epoch(const struct graph_state *st)
{
	return st->epoch;
}

bool graph_dedupe_transaction_id(const struct graph_state *st)
{
	return st->dedupe_txn;
}

static struct window *window_for(struct graph_state *st, const char *app, const char *mailbox)
{
	struct buf key = BUF_INIT;

	size_t *slot;

	buf_printf(&key, "%s|%s", app, mailbox);
	if (2 * (st->nw + 1) > st->nslots)
		grow_slots(st);
	slot = slot_for(st, key.data);
	if (*slot) {
		buf_free(&key);
		return &st->w[*slot - 1];
	}
	if (st->nw == st->capw) {
		st->capw = st->capw ? st->capw * 2 : 16;
		st->w = xrealloc(st->w, st->capw * sizeof *st->w);
	}
	struct window *w = &st->w[st->nw++];
	memset(w, 0, sizeof *w);
	w->key = buf_steal(&key);
	*slot = st->nw;
	return w;
}

bool graph_throttle_admit(struct graph_state *st, int64_t now, const char *app, const char *mailbox,
                          char *retry_after, size_t rasz)
{
	struct window *w = window_for(st, app, mailbox);
	size_t drop = 0;

	while (drop < w->n && w->b[drop].second <= now - st->window_seconds)
		w->total -= w->b[drop++].count;
	if (drop) {
		memmove(w->b, w->b + drop, (w->n - drop) * sizeof *w->b);
		w->n -= drop;
	}
	if (w->total >= st->budget) {
		int64_t wait = w->n ? w->b[0].second + st->window_seconds - now : 1;
		if (st->retry_after[0])
			snprintf(retry_after, rasz, "%s", st->retry_after);
		else
			snprintf(retry_after, rasz, "%lld", (long long)(wait > 0 ? wait : 1));
		return false;
	}
	if (w->n && w->b[w->n - 1].second == now) {
		w->b[w->n - 1].count++;
	} else {
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 8;
			w->b = xrealloc(w->b, w->cap * sizeof *w->b);
		}
		w->b[w->n++] = (struct bucket){now, 1};
	}
	w->total++;
	return true;
}

/* ---- /_sim/graph ---- */

static json_t *config_json(const struct graph_state *st)
{
	return json_pack("{s:i,s:i,s:s,s:b,s:I}", "budget", st->budget, "window_seconds",
	                 st->window_seconds, "retry_after", st->retry_after,
	                 "transaction_id_dedupe", st->dedupe_txn, "delta_epoch",
	                 (json_int_t)st->epoch);
}

static const char *apply_config(struct graph_state *st, json_t *j)
{
	json_t *budget = json_object_get(j, "budget"), *win = json_object_get(j, "window_seconds");
	json_t *ra = json_object_get(j, "retry_after"),
	       *dd = json_object_get(j, "transaction_id_dedupe");

	if (!json_is_object(j))
		return "give a JSON object: {\"budget\": N, \"window_seconds\": S, "
		       "\"retry_after\": "
		       "\"2.128\", \"transaction_id_dedupe\": true}";
	if ((budget && (!json_is_integer(budget) || json_integer_value(budget) < 0)) ||
	    (win && (!json_is_integer(win) || json_integer_value(win) <= 0)))
		return "budget must be an integer >= 0 and window_seconds an integer >= 1";
	if ((ra && !json_is_string(ra) && !json_is_number(ra)) || (dd && !json_is_boolean(dd)))
		return "retry_after is a string or number; transaction_id_dedupe a boolean";
	if (budget)
		st->budget = (int)json_integer_value(budget);
	if (win)
		st->window_seconds = (int)json_integer_value(win);
	if (json_is_string(ra))
		snprintf(st->retry_after, sizeof st->retry_after, "%s", json_string_value(ra));
	else if (ra)
		snprintf(st->retry_after, sizeof st->retry_after, "%g", json_number_value(ra));
	if (dd)
		st->dedupe_txn = json_is_true(dd);
	if (budget || win)
		clear_windows(st);
	return NULL;
}

bool graph_control(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	struct graph_state *st = graph_state(s);
	const char *sub = req->path + strlen("/_sim/graph/");
	bool post = strcmp(req->method, "POST") == 0;

	if ((strcmp(sub, "config") == 0 || strcmp(sub, "throttle") == 0) && post) {
		json_t *j = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
		const char *err = apply_config(st, j);
		if (j)
			json_decref(j);
		if (err)
			sim_resp_json(
			    resp, 400,
			    json_pack("{s:s,s:s}", "error", "bad_request", "message", err));
		else
			sim_resp_json(resp, 200, config_json(st));
	} else if (strcmp(sub, "config") == 0 && strcmp(req->method, "GET") == 0) {
		sim_resp_json(resp, 200, config_json(st));
	} else if (strcmp(sub, "throttle/reset") == 0 && post) {
		clear_windows(st);
		sim_resp_json(resp, 200, config_json(st));
	} else if (strcmp(sub, "delta/expire") == 0 && post) {
		st->epoch++;
		sim_resp_json(resp, 200, config_json(st));
	} else {
		return false;
	}
	return true;
}

__attribute__((weak)) bool sim_uses_tls(struct sim *s)
{
	(void)s;
	return true;
}
