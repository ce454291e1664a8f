/* The interface between the sync core and a calendar service (EWS, Graph; CalDAV would be one
 * more).
 *
 * Modelled on isync's struct driver: one struct of function pointers per backend, exported as
 * `ews_backend` and `graph_backend`; the engine never asks "is this EWS", it reads `caps`.
 *
 * Threads: the engine runs several worker threads; each opens its own session and never shares it.
 * A session is not tied to one mailbox: every item and query names its mailbox, so that a backend
 * that can batch across mailboxes (Graph $batch with an app-only token) may do so.
 *
 * Memory: everything passed in is borrowed for the duration of the call. Everything a backend
 * writes into a be_item or remote_event is heap memory owned by that struct afterwards (freed by
 * be_item_clear / remote_event_free, which the engine calls). Backends never print; they return a
 * status and a message. */
#ifndef ENGINE_BACKEND_H
#define ENGINE_BACKEND_H

#include "common/error.h"
#include "engine/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct http_client;
struct be_session;

/* What to do next. Every EWS ResponseCode and Graph error code maps onto one of these, in one table
 * per backend (ews/errors.c, graph/errors.c). */
enum be_status {
	BE_OK = 0,
	BE_RETRY_NOW,   /* transient (connection reset, 500): retry soon with backoff */
	BE_RETRY_LATER, /* throttled or unavailable: retry after retry_after_ms (0: engine's
	                   backoff) */
	BE_NEEDS_LOGIN, /* delegated connection must log in again; the target waits, it does not
	                   fail */
	BE_CONFLICT, /* change key / etag is stale: re-read the item, then rewrite the owned fields
	              */
	BE_GONE,     /* the item does not exist (deleted by a user or the server) */
	BE_FINAL,    /* permanent for this item or mailbox: invalid data, access denied, no such
	                mailbox */
	BE_BLOCKED,  /* the setup is wrong, not the item (wrong secret, no consent, TLS trust): the
	              * target waits, untouched, and the next run tries again once an admin fixed it
	              */
};

const char *be_status_name(enum be_status s); /* "ok", "retry", "throttled", "needs-login", ... */

/* Capabilities: what the engine may rely on. */
enum {
	CAP_CROSS_MAILBOX_BATCH = 1 << 0, /* one write call may hold items of several mailboxes */
	CAP_TRANSACTION_ID =
	    1 << 1,                 /* the service deduplicates a resent create by a client id
	                               (Graph); crash safety does not rely on it (sync-states.md) */
	CAP_IMMUTABLE_IDS = 1 << 2, /* ids survive moves between folders */
};

/* What the engine lends a backend. Outlives every session opened with it. */
struct token_source {
	/* Returns an access token for calls on behalf of mailbox (app-only sources ignore mailbox).
	 * *token stays owned by the source, valid until the next call on it from the same thread.
	 * force_refresh: the service answered 401 with this token; get a new one.
	 * Returns BE_OK, BE_NEEDS_LOGIN (delegated connection revoked/expired), BE_RETRY_LATER
	 * (token endpoint unreachable or throttled) or BE_FINAL (wrong secret, no consent...: err
	 * says the fix). */
	enum be_status (*get)(struct token_source *ts, const char *mailbox, bool force_refresh,
	                      const char **token, struct error *err);
	void *ctx;
};

/* What a backend resolved about a mailbox and reuses across runs (Graph: the user object id the
 * SMTP address resolves to; the store's mailbox table). Thread-safe. */
struct mailbox_directory {
	/* *user_id: heap copy (caller frees), NULL when not known. 0, or -1 with err. */
	int (*lookup)(struct mailbox_directory *d, const char *mailbox, char **user_id,
	              struct error *err);
	/* Stores it; user_id NULL forgets it (it stopped working: resolve again). 0 or -1. */
	int (*remember)(struct mailbox_directory *d, const char *mailbox, const char *user_id,
	                struct error *err);
	/* EWS on Exchange Server: the EWS URL Autodiscover found for a mail domain, and the
	 * server's build ("15.1.2507.6"); NULL when not known. Heap copies; 0 or -1. */
	int (*ews_url_lookup)(struct mailbox_directory *d, const char *domain, char **ews_url,
	                      char **server_build, struct error *err);
	/* Stores them; ews_url NULL forgets the domain (the mailbox moved: discover again). */
	int (*ews_url_remember)(struct mailbox_directory *d, const char *domain,
	                        const char *ews_url, const char *server_build, struct error *err);
	void *ctx;
};

struct backend_env {
	const struct config *cfg;
	struct token_source *tokens;         /* thread-safe */
	struct mailbox_directory *directory; /* thread-safe; NULL: resolve once per session */
	const char *ca_file;                 /* NULL: system CAs */
	int64_t deadline_ms; /* now_ms() by which the run ends ([sync] run_deadline): no request
	                        outlives it; 0: none */
	/* Whose events list_events delivers: the tags of `instance` ([sync] instance; NULL:
	 * "default"), and of also_instance when set (reconcile --adopt-instance OLD; "*": every
	 * instance, for doctor). Events of other instances are skipped like untagged ones. */
	const char *instance;
	const char *also_instance;
};

/* True when an event tagged `tag` is one list_events may deliver under env. */
bool be_tag_accepted(const struct backend_env *env, const char *tag);

/* One write. The engine fills the inputs; the backend fills the outputs. */
struct be_item {
	/* in (borrowed) */
	const char *mailbox;    /* SMTP address */
	const struct event *ev; /* create, update: desired fields */
	const struct event
	    *written; /* update: fields last written (send only what differs); NULL: send all */
	const char *remote_id;  /* update, delete */
	const char *change_key; /* update: NULL overwrites unconditionally; stale -> BE_CONFLICT */
	bool overwrite; /* update: write even when the item changed since change_key (which is still
	                   sent when known): the engine re-read it after a conflict and decided */
	void *ctx;      /* the engine's; untouched */
	/* out (owned by the item; be_item_clear frees) */
	enum be_status status;
	int retry_after_ms;   /* BE_RETRY_LATER: server's hint in ms, 0 if none */
	char *new_remote_id;  /* create; update when the id changed */
	char *new_change_key; /* create, update */
	char message[512];    /* status != BE_OK: what happened, naming the server's error code */
};

void be_item_clear(struct be_item *it); /* frees outputs, keeps inputs */

/* The longest item id or change key (EWS ItemId/ChangeKey, Graph id/@odata.etag) a backend
 * accepts from a server: Exchange's are about 150 bytes; anything past this is a protocol error
 * naming the field, never stored (a hostile server must not grow the store by megabytes per item).
 */
#define BE_MAX_ID_BYTES 2048

/* An engine-tagged event as found in a calendar. Owned by whoever holds it; remote_event_free. */
struct remote_event {
	char *remote_id;
	char *change_key;
	struct event ev; /* owned fields as read back; ev.sync_key from the extended property */
	/* list_events_known: the item carries the id and change key the engine gave as known, so it
	 * is unchanged since the engine wrote it (the service changes the key on every change) and
	 * its owned fields were not read: ev holds only sync_key. */
	bool fields_unread;
};

/* An item as the engine last wrote it: id and change key. */
struct known_item {
	const char *remote_id;
	const char *change_key;
};

void remote_event_free(struct remote_event *re);

/* Called once per event found. re is borrowed: copy what you keep (or take ownership by moving the
 * pointers out and zeroing them). Return 0 to go on, non-zero to stop. */
typedef int (*remote_event_cb)(void *arg, struct remote_event *re);

struct backend {
	const char *name; /* "ews", "graph" */
	unsigned caps;
	size_t
	    max_batch; /* most items one write call accepts (EWS: config, default 50; Graph: 20) */

	/* Opens a session (an HTTP connection pool, parsed config). *out owned by the caller,
	 * closed with session_close. Fails only on configuration errors (BE_FINAL). */
	enum be_status (*session_open)(const struct backend_env *env, struct be_session **out,
	                               struct error *err);
	void (*session_close)(struct be_session *s);

	/* Writes. Preconditions: 1 <= n <= max_batch; without CAP_CROSS_MAILBOX_BATCH all items
	 * share one mailbox. Every item gets a status, also when the whole request failed (then all
	 * share it). create: sets new_remote_id and new_change_key, and writes ev->sync_key into
	 * the item as the engine's tag (and a transactionId where CAP_TRANSACTION_ID). update:
	 * sends the owned fields that differ from `written`, with change_key. delete: BE_GONE
	 * counts as done for the engine. The return value is BE_OK when per-item results were
	 * obtained, else the status shared by all. */
	enum be_status (*create_events)(struct be_session *s, struct be_item *items, size_t n,
	                                struct error *err);
	enum be_status (*update_events)(struct be_session *s, struct be_item *items, size_t n,
	                                struct error *err);
	enum be_status (*delete_events)(struct be_session *s, struct be_item *items, size_t n,
	                                struct error *err);

	/* Reads one item by id into *out (caller frees with remote_event_free). BE_GONE if absent.
	 * out->ev.sync_key is NULL when the item carries no tag. */
	enum be_status (*get_event)(struct be_session *s, const char *mailbox,
	                            const char *remote_id, struct remote_event *out,
	                            struct error *err);

	/* Finds the engine-tagged events of mailbox whose sync key is one of keys[0..n-1] (n <=
	 * max_batch); cb once per event found (several per key when duplicated). */
	enum be_status (*find_by_sync_keys)(struct be_session *s, const char *mailbox,
	                                    const char *const *keys, size_t n, remote_event_cb cb,
	                                    void *arg, struct error *err);

	/* Lists every engine-tagged event of mailbox overlapping [from, to) (Unix seconds) whose
	 * tag be_tag_accepted, following paging; untagged events and those of other instances are
	 * skipped and never read beyond what listing needs. Both services list through a calendar
	 * view (expanded occurrences in the window), which neither filters by an extended property:
	 * EWS allows no Restriction beside a CalendarView ([EWS ref calendarview]); Graph documents
	 * $filter on singleValueExtendedProperties (eq on id; eq, ne, startswith or contains on a
	 * string value) for collections such as /events, not for calendarView, and no documented
	 * form selects "a value without a prefix" (the default instance) [Graph
	 * api/singlevaluelegacyextendedproperty-get]. So the instance is checked on each listed
	 * tag; lookups by key (find_by_sync_keys) are exact, hence per instance, on the server. */
	enum be_status (*list_events)(struct be_session *s, const char *mailbox, int64_t from,
	                              int64_t to, remote_event_cb cb, void *arg, struct error *err);

	/* list_events, also counting into *untagged (set to 0 first) the events of the window that
	 * carry no engine tag, each once; nothing of them is read or passed on beyond what the
	 * listing needs (leavesync calendar). */
	enum be_status (*list_events_counted)(struct be_session *s, const char *mailbox,
	                                      int64_t from, int64_t to, remote_event_cb cb,
	                                      void *arg, int64_t *untagged, struct error *err);

	/* list_events, except that an event whose id and change key are one of known[0..nknown-1]
	 * (sorted by remote_id, strcmp) may be delivered with fields_unread instead of being read:
	 * EWS's FindItem cannot return the body ([EWS finditem-operation]), so reading the fields
	 * takes a GetItem, which an unchanged item does not need. NULL: the engine uses
	 * list_events.
	 */
	enum be_status (*list_events_known)(struct be_session *s, const char *mailbox, int64_t from,
	                                    int64_t to, const struct known_item *known,
	                                    size_t nknown, remote_event_cb cb, void *arg,
	                                    struct error *err);

	/* list_events for n mailboxes (n <= max_batch) in as few requests as the service allows:
	 * Graph app-only puts one calendarView per mailbox in a $batch and follows each mailbox's
	 * nextLink in later batches; delegated tokens are per user, so it lists one by one. Events
	 * of mailboxes[i] go to cb(args[i], ...); status[i] and errs[i] are that mailbox's outcome
	 * (no retries: the engine retries a retryable mailbox alone through list_events). NULL: the
	 * engine calls list_events per mailbox. */
	void (*list_events_many)(struct be_session *s, const char *const *mailboxes, size_t n,
	                         int64_t from, int64_t to, remote_event_cb cb, void *const *args,
	                         enum be_status *status, struct error *errs);

	/* A harmless read proving access to mailbox's calendar (doctor). */
	enum be_status (*probe_mailbox)(struct be_session *s, const char *mailbox,
	                                struct error *err);
};

extern const struct backend ews_backend;
extern const struct backend graph_backend;

#endif
