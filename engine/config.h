/* The configuration file (INI, read with inih): design.md's keys, documented in docs/config.md and
 * leavesync(1). Found at -c FILE, $LEAVESYNC_CONFIG, $XDG_CONFIG_HOME/leavesync/leavesync.conf (not
 * for root), /etc/leavesync/leavesync.conf; never in the current directory (config_find).
 * Unknown sections or keys, bad values and a missing file are errors naming the file and line;
 * every problem of the file is reported, not only the first.
 * Secrets: client_secret, or client_secret_file, or the environment (LEAVESYNC_EWS_CLIENT_SECRET,
 * LEAVESYNC_GRAPH_CLIENT_SECRET), which overrides the file. */
#ifndef ENGINE_CONFIG_H
#define ENGINE_CONFIG_H

#include "common/error.h"
#include "engine/event.h"
#include "engine/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rendering policy for leave: [event] gives the defaults, [kind "NAME"] overrides per kind.
 * Minimum disclosure by default: subject "Out of office", private, no note. */
struct event_policy {
	bool sync;     /* false: leave of this kind is never written to calendars */
	char *subject; /* template: {kind} {note} {id} {mailbox} expand; default "Out of office" */
	enum show_as show_as;         /* default oof */
	enum sensitivity sensitivity; /* default private */
	char *categories;             /* comma-separated, may be NULL */
	bool include_note;            /* default false */
	int reminder_minutes;         /* -1 = none (default) */
};

/* Bits of kind_policy.set_mask: the fields a [kind] section set itself. */
enum {
	POLICY_SET_SYNC = 1 << 0,
	POLICY_SET_SUBJECT = 1 << 1,
	POLICY_SET_SHOW_AS = 1 << 2,
	POLICY_SET_SENSITIVITY = 1 << 3,
	POLICY_SET_CATEGORIES = 1 << 4,
	POLICY_SET_INCLUDE_NOTE = 1 << 5,
	POLICY_SET_REMINDER = 1 << 6,
};

struct kind_policy {
	char *kind; /* exact kind name as HR sends it */
	struct event_policy policy;
	unsigned set_mask; /* which fields the [kind] section set (others inherit [event]) */
};

struct service_config {
	bool configured; /* the section exists */
	char *tenant_id;
	char *client_id;
	char *client_secret; /* from file, client_secret_file or the environment; never printed */
	char *client_secret_source; /* "environment LEAVESYNC_EWS_CLIENT_SECRET", "file /x", "config
	                               line 7" */
	char *client_secret_expires; /* "YYYY-MM-DD" or NULL: doctor warns 30 days ahead */
	char *cert_file;             /* certificate credential instead of a secret */
	char *key_file;
	char *cert_algorithm; /* client assertion "alg": "RS256" (default) or "PS256" */
	char *cloud;          /* global | usgov | dod | china (engine/cloud.h); NULL: global */
	char *url;            /* service endpoint; defaults per service (and cloud) */
	char *authority;      /* default https://login.microsoftonline.com (or the cloud's) */
	bool url_set, authority_set; /* given in the file: the cloud does not override them */
	char *server_version;        /* EWS RequestServerVersion, default "Exchange2016" */
	char *mode;                  /* graph: "delegated" (default) | "application" */
	char *redirect_uri;          /* graph delegated Web/public redirect */
	size_t batch_size;           /* items per write request: EWS default 50, Graph max 20 */
	/* EWS on-premises (engine/config_onprem.c, docs/onprem.md) */
	char *auth;            /* "oauth" (NULL: default) | "ntlm" | "negotiate" | "basic" */
	char *username;        /* DOMAIN\user or user@domain */
	char *password;        /* never printed */
	char *password_source; /* "environment ...", "file /x", "config line 7" */
	char *autodiscover_srv_override; /* tests: "host:port" instead of the SRV lookup */
	char *connect_to; /* "HOST:PORT:CONNECT_HOST:CONNECT_PORT,...": tests, split-horizon DNS */
};

/* True when [ews] signs in with a password (ntlm, negotiate, basic) rather than OAuth. */
bool config_ews_password_auth(const struct service_config *s);

#define CONFIG_DEFAULT_PUSH_BYTES ((size_t)256 << 20)
#define CONFIG_DEFAULT_PUSH_RECORDS ((size_t)1000000)

/* [limits]: the sizes accepted from outside and the waits (docs/config.md). */
struct config_limits {
	struct http_limits http; /* connect_timeout, request_timeout, low_speed_bytes,
	                            low_speed_time, response_size, response_budget */
	size_t push_bytes;       /* push_size: input bytes; default 256 MiB */
	size_t push_records;     /* push_records: records per push; default 1,000,000 */
};

struct mailbox_route {
	char *mailbox; /* lower-case SMTP address */
	char *backend; /* "ews" | "graph" */
};

/* A key of a section the engine passes through unread: [serve], checked by leavesync serve. */
struct config_entry {
	char *key, *value;
	int line;
};

/* [sync] instance when none is set: its events keep the tags written before instances existed. */
#define CONFIG_DEFAULT_INSTANCE "default"
#define CONFIG_INSTANCE_MAX 32

struct config {
	char *path;        /* the file read */
	char *store_path;  /* [store] path, default /var/lib/leavesync/leavesync.db */
	char *store_group; /* [store] group: the store (not the secrets) is shared 0660 with it */
	int keep_history_days; /* [store] keep_history_days: run/drift history kept, default 90; 0
	                          keeps it forever */
	char *instance; /* [sync] instance: lower-case letters, digits, '-'; default "default" */
	int64_t stale_after;     /* [sync] stale_after: seconds without a successful sync before
	                            `status --check` is CRITICAL; 0 (default): not checked */
	char *backend;           /* [sync] backend: "ews" | "graph" (default "graph") */
	int concurrency;         /* [sync] concurrency: worker threads, default 4 */
	int mailbox_concurrency; /* [sync] mailbox_concurrency: requests in flight per mailbox,
	                            default 1, max 4 */
	int max_attempts;        /* [sync] max_attempts before a transient failure becomes `failed`,
	                            default 8 */
	int max_leave_days; /* [sync] max_leave_days: longest leave accepted at push, default 366 */
	double delete_share; /* [sync] delete_share: safety valve share, default 0.5 */
	int delete_min; /* [sync] delete_min: valve applies only above this many deletions, default
	                   10 */
	int create_grace;   /* [sync] create_grace: seconds a create of a dead run may still land,
	                       default 60 */
	char *test_mailbox; /* [sync] test_mailbox: doctor's harmless read */
	double
	    snapshot_max_cancel; /* [push] snapshot_max_cancel: the snapshot valve's share, 0.2 */
	int snapshot_min_cancel; /* [push] snapshot_min_cancel: the valve applies from this many
	                            cancellations on, default 10 */
	int run_deadline; /* [sync] run_deadline: seconds a sync or resync may take; 0 none */
	struct config_limits limits; /* [limits] */
	struct service_config ews;
	struct service_config graph;
	char *ca_file;             /* [tls] ca_file */
	struct event_policy event; /* [event] */
	char
	    *default_time_zone; /* [event] time_zone: for leave pushed without one, default "UTC" */
	struct kind_policy *kinds; /* [kind "NAME"] sections */
	size_t nkinds;
	struct mailbox_route *routes; /* [mailbox "EMAIL"] backend = ... */
	size_t nroutes;
	struct config_entry *serve; /* [serve] as written (serve/config.c reads it) */
	size_t nserve;
	char **warnings; /* NULL-terminated; e.g. "config file is readable by others" */
	/* Not from the file: set by the command line. -v logs each HTTP request through it. */
	struct http_log http_log;
};

/* Finds the file: given (-c) must exist; else $LEAVESYNC_CONFIG (must exist when set); else the
 * first existing of $XDG_CONFIG_HOME/leavesync/leavesync.conf (default ~/.config/...; not searched
 * for root) and /etc/leavesync/leavesync.conf. *path is malloc'd. -1 when none exists: err names
 * every place searched. */
int config_find(const char *given, char **path, struct error *err);

/* Reads and validates the file config_find finds. On failure cfg holds nothing; err->msg has
 * every problem ("FILE:LINE: message", one per line) that fits, and *errors (when not NULL) gets
 * all of them (NULL-terminated; free with config_errors_free). */
int config_load(const char *given, struct config *cfg, struct error *err);
int config_load_all(const char *given, struct config *cfg, char ***errors, struct error *err);
void config_errors_free(char **errors);
void config_free(struct config *cfg);

/* One key of [push] (engine/config_push.c): 0, or -1 with why (the whole message). */
int config_set_push(struct config *cfg, const char *key, const char *value, char *why, size_t len);

/* The effective policy for a kind: [kind] over [event]. Borrowed from cfg. */
const struct event_policy *config_policy_for(const struct config *cfg, const char *kind,
                                             struct event_policy *scratch);
/* "ews" or "graph" for a mailbox (per-mailbox route over [sync] backend). */
const char *config_backend_for(const struct config *cfg, const char *mailbox);
/* True when [sync] backend or a route names the backend `name` ("ews", "graph"). */
bool config_backend_used(const struct config *cfg, const char *name);

/* [limits] (engine/config_limits.c): the defaults, and one key: 0, or -1 with why set to the
 * complete message (an unknown key included). */
void config_limits_defaults(struct config_limits *l);
int config_limits_set(struct config_limits *l, const char *key, const char *value, char *why,
                      size_t whylen);

#endif
