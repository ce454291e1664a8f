/* The Microsoft Graph backend's internals (graph_backend is in engine/backend.h).
 *
 *   event_json.c  struct event <-> Graph event JSON, one table of owned fields
 *   request.c     URLs and bodies, one builder per request
 *   response.c    one parser per response (events, collections, errors, $batch)
 *   batch.c       $batch: build, send, map per-response results to items, retry 429s alone
 *   errors.c      the one table: Graph error code / HTTP status -> enum be_status + fix
 *   backend.c     the session and the struct backend operations
 *
 * Protocol facts cite Microsoft's documentation: [Graph page] is the page under
 * https://learn.microsoft.com/en-us/graph/ (resources/event, api/user-post-events,
 * api/event-update, api/user-list-calendarview, api/event-delta, json-batching, throttling, errors,
 * auth-limit-mailbox-access). */
#ifndef GRAPH_GRAPH_H
#define GRAPH_GRAPH_H

#include "common/error.h"
#include "engine/backend.h"
#include "engine/event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRAPH_DEFAULT_URL "https://graph.microsoft.com/v1.0"
#define GRAPH_MAX_BATCH 20
#define GRAPH_MAILBOX_CONCURRENCY 4 /* Outlook: 4 concurrent requests per app and mailbox */
#define GRAPH_PAGE_SIZE 100
#define GRAPH_MAX_WAIT_MS                                                                          \
	60000 /* total sleep on Retry-After inside one call, then BE_RETRY_LATER */

/* Prefer values ([Graph outlook-immutable-id], [Graph api/user-list-calendarview]). Every request
 * carries ImmutableId; reads also ask for UTC times and text bodies. */
#define GRAPH_PREFER_IMMUTABLE "IdType=\"ImmutableId\""
#define GRAPH_PREFER_UTC "outlook.timezone=\"UTC\""
#define GRAPH_PREFER_TEXT "outlook.body-content-type=\"text\""
/* GRAPH_PAGE_SIZE for listings inside $batch (documented for delta; a service that ignores it
 * pages by 10) */
#define GRAPH_PREFER_PAGE "odata.maxpagesize=100"

struct http_client;
struct graph_users;

/* One session per engine thread. */
struct be_session {
	const struct backend_env *env; /* borrowed; outlives the session */
	struct http_client *http;      /* owned */
	char *base;                    /* configured Graph root, no trailing slash: ".../v1.0" */
	bool app_only;                 /* [graph] mode = application */
	size_t batch_size;             /* requests per $batch, 1..20 */
	int mailbox_cap;   /* requests of one mailbox in a parallel $batch (4 / mailbox_concurrency)
	                    */
	int page_size;     /* Prefer: odata.maxpagesize */
	int max_wait_ms;   /* cap on Retry-After sleeps per call */
	char prop_id[128]; /* "String {GUID} Name LeaveSyncKey" */
	struct graph_users *users; /* owned: mailbox -> user object id (users.c) */
	/* Sleeps between throttled retries; tests replace it. */
	void (*sleep_ms)(void *arg, int ms);
	void *sleep_arg;
};

/* ---- event_json.c ---- */

/* The whole owned-field set (create) or, with written != NULL, only the fields that differ (PATCH).
 * Returns a new object, or NULL with err (invalid UTF-8, a zone without a Windows id). */
json_t *graph_event_fields_json(const struct event *ev, const struct event *written,
                                struct error *err);
/* Reads the owned fields of a Graph event object into *ev (ev->sync_key untouched: see
 * graph_parse_event). Times come back as wall times in the event's original zone
 * (originalStartTimeZone, as Graph names it: usually a Windows id, which tz_same_zone() compares by
 * meaning with the IANA name written). */
int graph_event_fields_from_json(const json_t *obj, struct event *ev, struct error *err);
/* "YYYY-MM-DDTHH:MM:SS[.fffffff]" in zone (Windows or IANA) -> the same instant as a wall time in
 * to_zone. all_day keeps the date when the server answers in another zone (floating semantics). */
int graph_convert_time(const char *datetime, const char *zone, const char *to_zone, bool all_day,
                       char out[20], struct error *err);
/* True when zone (a Windows id, an IANA name or "UTC") is one ICU can convert times in. */
bool graph_zone_known(const char *zone);

/* ---- request.c ---- */

/* "String {0c6f5a4e-...} Name LeaveSyncKey" */
void graph_prop_id(char *out, size_t outlen);
/* "/users/{user}/events" (relative, escaped; user: the object id from graph_user_key). Caller
 * frees. */
char *graph_path_events(const char *user);
/* "/users/{user}/events/{id}". Caller frees. */
char *graph_path_event(const char *user, const char *remote_id);
/* The POST body of a create: owned fields + responseRequested, the tag, and a transactionId that
 * is new on every call (one per create attempt). */
json_t *graph_build_create(const struct event *ev, const char *prop_id, struct error *err);
/* The PATCH body: the owned fields that differ from written (all of them when written is NULL or
 * nothing differs), and the tag when it is not the one written (a renamed instance). */
json_t *graph_build_patch(const struct event *ev, const struct event *written, const char *prop_id,
                          struct error *err);
/* Query string (from '?') reading one event with its tag: $select of the owned fields, $expand. */
char *graph_query_event(const char *prop_id);
/* Relative URL finding the events of user tagged with key. Caller frees. */
char *graph_build_find_by_key(const char *user, const char *prop_id, const char *key);
/* Relative URL of a calendarView window [from, to) of user. Caller frees. */
char *graph_build_calendar_view(const char *user, const char *prop_id, int64_t from, int64_t to);
/* base + relative. Caller frees. */
char *graph_absolute_url(const char *base, const char *relative);
/* OData string literal body: quotes doubled. Caller frees. */
char *graph_odata_quote(const char *s);
/* 0 when a server-given link may be followed (same scheme, host and port as base), else -1 with err
 * "refusing to follow a link to another host". */
int graph_check_link(const char *link, const char *base, struct error *err);

/* ---- response.c ---- */

/* Strict JSON (jansson). Non-JSON (an HTML error page, a truncated body) fails with err naming the
 * content type and jansson's position. */
json_t *graph_parse_json(const char *body, size_t len, const char *content_type, struct error *err);
/* A Graph error object {"error":{"code","message","innerError"|"innererror"}}. Returns false when
 * body is not one. Strings are copied (truncated) into the buffers. */
struct graph_error {
	char code[96];
	char message[256];
	char request_id[64];
};
bool graph_parse_error(const json_t *body, struct graph_error *ge);
/* An event object: id, @odata.etag (the change key), owned fields and the tag (sync_key NULL when
 * untagged). Fails with err when id or the time fields are missing or malformed. */
int graph_parse_event(const json_t *obj, const char *prop_id, struct remote_event *out,
                      struct error *err);
/* The tag value of an event object, borrowed from obj; NULL when untagged. */
const char *graph_event_tag(const json_t *obj, const char *prop_id);
/* A collection page: value[] borrowed from page, nextLink / deltaLink borrowed (may be NULL). */
struct graph_page {
	const json_t *value;
	const char *next_link;
	const char *delta_link;
};
int graph_parse_page(const json_t *page, struct graph_page *out, struct error *err);
/* A delta entry: true when it is an "@removed" stub (reason copied when present). */
bool graph_entry_removed(const json_t *entry, const char **reason);
/* Create / update answers: id and etag (copied; etag falls back to W/"changeKey"). id is required
 * when need_id. */
int graph_parse_write(const json_t *obj, bool need_id, char **id, char **etag, struct error *err);
/* Retry-After as a header value (seconds, possibly fractional, as JSON string or number) -> ms,
 * rounded up; -1 when absent or unusable. */
long graph_retry_after_ms(const json_t *value);

/* One sub-response of a $batch answer. */
struct graph_subresp {
	const char *id; /* borrowed from the answer */
	int status;
	long retry_after_ms; /* -1: none */
	const json_t *body;  /* borrowed, may be NULL */
};
/* Parses {"responses":[...]}. *out is a new array of *n entries borrowing from answer. */
int graph_parse_batch(const json_t *answer, struct graph_subresp **out, size_t *n,
                      struct error *err);

/* ---- errors.c ---- */

/* What an HTTP status with a Graph error code means. fix is a sentence for the user ("" when the
 * status says it all). app_only picks the fix for access errors and turns an auth failure into
 * BE_FINAL (an app token cannot "log in"). */
enum be_status graph_classify(int http_status, const char *code, bool app_only, const char **fix);
/* Fills msg with "ErrorAccessDenied (HTTP 403): server text. Fix. [METHOD path, request-id ...]"
 * and returns the status for a failed response. body may be NULL (not JSON): then the content type
 * is named and the status is BE_RETRY_NOW unless the HTTP status says throttled or auth. */
enum be_status graph_describe_failure(const char *method, const char *url, int http_status,
                                      const char *content_type, const json_t *body, bool app_only,
                                      char *msg, size_t msglen);

/* What a transport failure (enum http_failure, not HTTP_OK) means for the engine. */
enum be_status graph_transport_status(int failure);

/* ---- batch.c ---- */

enum graph_op { GRAPH_OP_CREATE, GRAPH_OP_UPDATE, GRAPH_OP_DELETE, GRAPH_OP_FIND };

/* One request inside a $batch. */
struct graph_subreq {
	enum graph_op op;
	const char *mailbox;  /* borrowed */
	char *url;            /* owned, relative ("/users/.../events") */
	json_t *body;         /* owned, may be NULL */
	const char *if_match; /* borrowed, may be NULL */
	const char *key;      /* FIND: the sync key looked for (borrowed) */
	/* "eventual": the sub-request's ConsistencyLevel header, which a directory advanced query
	 * needs ([Graph aad-advanced-queries]; json-batching: headers apply per request). NULL:
	 * none. Borrowed. */
	const char *consistency;
	struct be_item
	    *item; /* borrowed: create/update/delete write their result here; NULL for FIND */
	/* results */
	bool done;
	int status;        /* HTTP status of the final sub-response */
	json_t *answer;    /* owned: the final sub-response body (FIND) */
	enum be_status be; /* the mapped status */
	long retry_after_ms;
	char message[512];
	/* bookkeeping */
	bool sent; /* in the $batch being sent (graph_batch_plan) */
	bool auth_retried;
};

void graph_subreq_free(struct graph_subreq *r);

/* Chooses the pending requests of the next $batch (sets `sent`, at most 20) and its form. Returns
 * true for a fully sequential batch (each request dependsOn the one before), false for a fully
 * parallel one (no dependsOn; at most mailbox_cap requests per mailbox). Parallel when every
 * pending request fits, else sequential when allow_sequential, else parallel with the caps. */
bool graph_batch_plan(struct graph_subreq *reqs, size_t n, int mailbox_cap, bool allow_sequential);
/* The $batch request body for the requests marked `sent`; sub-request ids are their index + 1 in
 * reqs; sequential chains each to the previous one. */
json_t *graph_batch_body(struct graph_subreq *reqs, size_t n, bool sequential, bool read_prefs);
/* Applies a parsed $batch answer to reqs: final results are recorded (done), throttled (429, or
 * 503/504 with Retry-After) and failed-dependency (424) requests stay pending. Returns the longest
 * Retry-After among those left pending for throttling (0 when none, -1 when throttled without a
 * hint). *auth_failed counts 401s. */
long graph_batch_apply(struct be_session *s, struct graph_subreq *reqs, size_t n,
                       const struct graph_subresp *resps, size_t nresp, int *auth_failed);
/* Sleeps ms with the session's sleeper (tests replace it). */
void graph_pause_ms(struct be_session *s, long ms);
/* Runs reqs through $batch until each is done or the wait cap is reached (left: BE_RETRY_LATER).
 * Returns BE_OK when per-request results were obtained, else the status shared by all (err set). */
enum be_status graph_batch_run(struct be_session *s, struct graph_subreq *reqs, size_t n,
                               bool read_prefs, struct error *err);

/* One POST $batch of every request not done, fully parallel, read Prefer headers off, the token
 * refreshed once on a 401: no retry, no result applied. BE_OK with *answer (the parsed body, its
 * "responses" present; caller json_decref), else the status shared by all (err says why). */
enum be_status graph_batch_send_once(struct be_session *s, struct graph_subreq *reqs, size_t n,
                                     json_t **answer, struct error *err);

/* ---- users.c ---- */

/* The user object id of mailbox (the key of every /users/{key} URL): from the session, the store's
 * mailbox directory, or looked up once in the directory (delegated: /me first). *key is borrowed
 * from the session. Fails per mailbox: BE_BLOCKED (no user or two users carry the address; the
 * permission to look users up is missing: the targets wait for the next run), or the lookup's own
 * failure; err says which and the fix. */
enum be_status graph_user_key(struct be_session *s, const char *mailbox, const char **key,
                              struct error *err);
/* App-only: looks up, batch_size at a time in one $batch each, the mailboxes (of a write or
 * listing call) neither in the session nor in the store's directory, and keeps each clear answer
 * (an id, no user, two users, 403) exactly as graph_user_key would; any other answer (throttled,
 * 5xx, a failed $batch) is left for graph_user_key's own lookup. Saves requests, never changes
 * an outcome. Delegated sessions: nothing (graph_user_key asks /me). */
void graph_users_prefetch(struct be_session *s, const char *const *mailboxes, size_t n);
/* The stored id stopped working (the user was deleted and recreated): forget it everywhere. */
void graph_user_forget(struct be_session *s, const char *mailbox);
void graph_users_free(struct graph_users *u);

/* ---- backend.c (shared by the operations) ---- */

/* GET an absolute URL with the read Prefer headers; 401 refreshes once; Retry-After is honoured up
 * to the session's cap. *out is the parsed JSON (caller json_decref) on BE_OK. */
enum be_status graph_get_json(struct be_session *s, const char *mailbox, const char *url,
                              json_t **out, struct error *err);
/* The same with one more request header ("ConsistencyLevel: eventual", may be NULL); reports the
 * last HTTP status and, for a failure, Graph's error (both may be NULL). */
enum be_status graph_get_json_ex(struct be_session *s, const char *mailbox, const char *url,
                                 const char *extra_header, json_t **out, int *http_status,
                                 struct graph_error *ge, struct error *err);

#endif
