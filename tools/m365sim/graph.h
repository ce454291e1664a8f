/* m365sim Graph view: internal interface between graph.c (routing, auth, permissions),
 * graph_event.c (event JSON <-> sim_item, validation), graph_time.c (ICU zones), graph_query.c
 * (query options, $filter), graph_view.c (calendarView paging, delta), graph_batch.c ($batch) and
 * graph_state.c (throttling, delta sync states, /_sim/graph control calls). Facts: the GRAPH pages
 * cited in each file (sim.h says how pages are cited). */
#ifndef M365SIM_GRAPH_H
#define M365SIM_GRAPH_H

#include "sim.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define GRAPH_DEFAULT_PAGE 10 /* Outlook's default page size for events and calendarView */
#define GRAPH_MAX_PAGE 1000
#define GRAPH_MAX_BATCH                                                                            \
	20 /* "JSON batch requests are currently limited to 20 individual requests" */

/* Preferences from `Prefer` headers (RFC 7240; several headers or comma-separated). */
struct graph_prefs {
	bool immutable_ids; /* IdType="ImmutableId" */
	char tz[128];       /* outlook.timezone="..." ("" = UTC) */
	char body_type[8];  /* outlook.body-content-type="text"|"html" ("" = html) */
	int maxpagesize;    /* odata.maxpagesize=N (0 = not given) */
};

/* One Graph request: a top-level HTTP request or one request inside a $batch. */
struct graph_req {
	const char *method;
	char *path;           /* after "/v1.0", percent-decoded, e.g. "/users/a@b/events/ID" */
	char *query;          /* raw query string without '?', never NULL */
	json_t *headers;      /* lower-case name -> string value (Prefer values joined by ", ") */
	json_t *body;         /* parsed body (owned) or NULL */
	bool body_unreadable; /* a body was sent but is not JSON */
	struct graph_prefs prefs;
	char request_id[37];
	const char *client_request_id; /* echoed; may be NULL */
};

/* What a handler answers. */
struct graph_reply {
	int status;
	json_t *body;    /* NULL for no content (204) */
	json_t *headers; /* name -> string */
};

/* The caller, from the access token. */
struct graph_ctx {
	struct sim *s;
	struct graph_state *st;
	const char *base_url; /* "https://127.0.0.1:PORT" for links */
	struct sim_claims claims;
	bool app_only;
	struct sim_user *caller; /* delegated: the signed-in user */
	struct sim_app *app;     /* may be NULL */
	/* Inside a fully parallel $batch: requests admitted so far per mailbox (upn -> count), to
	 * throttle the ones beyond Outlook's 4 concurrent per app and mailbox. NULL otherwise. */
	json_t *parallel_per_mailbox;
};

#define GRAPH_MAILBOX_CONCURRENCY 4 /* Outlook: "4 concurrent requests" per app and mailbox */

/* The mailbox a request addresses, with the URL prefix used to reach it ("/me" or "/users/x"). */
struct graph_target {
	struct sim_user *user;
	struct sim_mailbox *mb;
	char prefix[320];
};

/* ---- graph.c ---- */
void graph_dispatch(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out);
void graph_req_init(struct graph_req *r, const char *method, const char *path, const char *query,
                    json_t *headers);
void graph_req_free(struct graph_req *r);
void graph_reply_free(struct graph_reply *out);
/* Error in Graph's shape: {"error":{"code","message","innerError":{"date","request-id",...}}}. */
void graph_error(struct graph_ctx *c, const struct graph_req *r, struct graph_reply *out,
                 int status, const char *code, const char *message);
void graph_reply_json(struct graph_reply *out, int status, json_t *body);
void graph_reply_header(struct graph_reply *out, const char *name, const char *value);
const char *graph_header(const struct graph_req *r, const char *lower_name);
/* "application/json", possibly with parameters ("; charset=utf-8"). */
bool graph_is_json_type(const char *content_type);
char *graph_url_decode(const char *s, size_t len);

/* ---- graph_time.c (ICU) ---- */
/* Resolves a Windows or IANA zone name; fills the Windows id and the ICU (IANA) id. 0 or -1. */
int graph_tz_resolve(const char *name, char *win, size_t winsz, char *iana, size_t ianasz);
/* Local wall-clock time in an IANA zone -> UTC Unix seconds; and back. 0 or -1. */
int graph_local_to_utc(const char *iana, int y, int mo, int d, int h, int mi, int sec,
                       int64_t *out);
int graph_utc_to_local(const char *iana, int64_t t, int *y, int *mo, int *d, int *h, int *mi,
                       int *sec);
/* "2024-07-15T00:00:00[.fffffff][Z]" -> fields. 0 or -1. */
int graph_parse_local(const char *s, int *y, int *mo, int *d, int *h, int *mi, int *sec);
/* ISO 8601 with optional offset ("Z", "+02:00"); without one it is UTC. 0 or -1. */
int graph_parse_instant(const char *s, int64_t *out);
/* "2024-07-15T00:00:00" (UTC) for date-time properties such as createdDateTime (adds 'Z'). */
void graph_format_utc(char out[32], int64_t t);

/* ---- graph_event.c ---- */
/* The id a client sees (REST form of ews_id, or of immutable_id with IdType="ImmutableId"). */
char *graph_event_id(const struct graph_req *r, const struct sim_item *it);
struct sim_item *graph_find_item(struct sim_mailbox *mb, const char *id);
/* Full event representation; `expand` (may be NULL) is the parsed $expand filter list. */
json_t *graph_event_json(struct graph_ctx *c, const struct graph_req *r,
                         const struct graph_target *t, const struct sim_item *it);
/* Validates a create (it == NULL) or update body; applies it to `it` (or a new item) only when
 * valid. Returns the item, or NULL after filling an error reply. */
struct sim_item *graph_event_write(struct graph_ctx *c, const struct graph_req *r,
                                   const struct graph_target *t, struct sim_item *it,
                                   struct graph_reply *out);
/* "String {guid} Name X" -> lower-case guid and name. 0 or -1. */
int graph_parse_prop_id(const char *id, char *guid, size_t gsz, char *name, size_t nsz);
const struct sim_extprop *graph_item_prop(const struct sim_item *it, const char *guid,
                                          const char *name);

/* ---- graph_query.c ---- */
/* Case-insensitive query parameter, percent-decoded; caller frees; NULL when absent. */
char *graph_query_get(const char *query, const char *name);

struct graph_prop_match {
	char guid[40];
	char name[256];
	char *value; /* NULL: any value (id-only clause) */
};
struct graph_filter {
	struct graph_prop_match *any; /* OR of clauses */
	size_t n;
};
/* Parses singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...') [or ...].
 * 0 or -1. */
int graph_filter_parse(const char *text, struct graph_filter *f);
bool graph_filter_match(const struct graph_filter *f, const struct sim_item *it);
void graph_filter_free(struct graph_filter *f);
/* $expand=singleValueExtendedProperties($filter=id eq '...' [or id eq '...']) -> ids (guid/name).
 * Accepts an empty filter (all). 0 or -1. */
int graph_expand_parse(const char *text, struct graph_filter *f);
/* $select: keeps only the listed properties (plus id and @odata.etag). 0, or -1 naming a bad one.
 */
int graph_select_apply(json_t *event, const char *select, char *bad, size_t badsz);
int graph_select_check(const char *select, char *bad, size_t badsz);

/* ---- graph_view.c ---- */
void graph_calendar_view(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                         struct graph_reply *out);
void graph_list_events(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                       struct graph_reply *out);
void graph_delta(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                 struct graph_reply *out);
/* Page size: $top, else (delta only) Prefer: odata.maxpagesize, else Outlook's default 10. */
int graph_page_size(const struct graph_req *r, bool honor_maxpagesize, struct graph_reply *out);

/* ---- graph_users.c ---- */
/* GET /me, /users/{id | upn}, /users?$filter=...: true when the path is one of those (answered). */
bool graph_users(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out);

/* ---- graph_batch.c ---- */
void graph_batch(struct graph_ctx *c, struct graph_req *r, struct graph_reply *out);

/* ---- graph_state.c ---- */
struct graph_state;
struct graph_state *graph_state(struct sim *s);
/* Counts one request against the (app, mailbox) budget; false (with the Retry-After text) when
 * throttled. */
bool graph_throttle_admit(struct graph_state *st, int64_t now, const char *app, const char *mailbox,
                          char *retry_after, size_t rasz);
bool graph_dedupe_transaction_id(const struct graph_state *st);
/* Handles POST /_sim/graph/{config,throttle,delta/expire}; false when the path is not one. */
bool graph_control(struct sim *s, const struct sim_request *req, struct sim_response *resp);

/* Delta tokens carry this epoch; POST /_sim/graph/delta/expire bumps it (every token -> 410). */
uint64_t graph_delta_epoch(const struct graph_state *st);

#endif
