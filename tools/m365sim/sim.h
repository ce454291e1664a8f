/* m365sim: a stateful simulator of the Microsoft identity platform, EWS and Microsoft Graph, built
 * from Microsoft's documentation and the official EWS schema (tools/m365sim/schema). Pages are
 * cited by name: ENTRA x is https://learn.microsoft.com/en-us/entra/identity-platform/x, GRAPH x
 * (or [doc: x] in graph*.c) https://learn.microsoft.com/en-us/graph/x, [EWS x]
 * https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/x and
 * [EWS ref x] https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/x.
 * Recorded answers are in tests/data (tests/data/README.md). One file per
 * service: main.c      command line, libmicrohttpd server, routing, fault injection, /_sim control
 * API fixture.c   tenants, apps, users, mailboxes (JSON fixture; built-in demo tenant) store.c the
 * mailbox items and their change keys; dump; --state persistence identity.c
 * /{tenant}/oauth2/v2.0/{token,devicecode,authorize}, discovery, JWT-shaped tokens ews.c       POST
 * /EWS/Exchange.asmx (schema-validated SOAP) graph.c     /v1.0/... events, calendarView, delta,
 * $batch All state sits behind one mutex (sim_lock); handlers run with it held. */
#ifndef M365SIM_SIM_H
#define M365SIM_SIM_H

#include "common/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- fixture ---- */

struct sim_secret {
	char *id;        /* the secret's ID (a GUID) — what people paste by mistake */
	char *value;     /* the secret's value */
	int64_t expires; /* Unix seconds */
};

struct sim_redirect {
	char *uri;
	char *type; /* "web" | "public" | "spa" */
};

struct sim_app {
	char *client_id;
	char *tenant_id; /* home tenant */
	char *name;
	bool multitenant;
	struct sim_secret *secrets;
	size_t nsecrets;
	char *cert_pem; /* registered certificate (PEM) for client assertions, may be NULL */
	struct sim_redirect *redirects;
	size_t nredirects;
	bool public_client;           /* "Allow public client flows" */
	char **app_permissions;       /* application: "full_access_as_app", "Calendars.ReadWrite" */
	char **delegated_permissions; /* "Calendars.ReadWrite", "Calendars.ReadWrite.Shared",
	                                 "offline_access", "User.Read" */
	bool admin_consent;           /* granted for the tenant */
	bool ews_allowed;             /* EWS enabled for this app (Exchange Online allow-list) */
	char *
	    *scoped_mailboxes; /* RBAC for Applications scope; NULL = all mailboxes of the tenant */
};

struct sim_user {
	char *upn;      /* userPrincipalName, lower case */
	char *mail;     /* primary SMTP address, lower case ("mail"; the UPN when not given) */
	char **aliases; /* other SMTP addresses (proxyAddresses "smtp:"), lower case, or NULL */
	char *tenant_id;
	char *display_name;
	char *object_id; /* GUID */
	char *time_zone; /* Windows id */
	bool has_mailbox;
	struct sim_mailbox *mailbox; /* when has_mailbox (sim_mailbox_of) */
	char **delegates; /* users whose calendars this user may write (shared with it) */
};

struct sim_tenant {
	char *id;     /* GUID */
	char *domain; /* "contoso.onmicrosoft.com" */
};

/* ---- mailbox items (shared by EWS and Graph views) ---- */

struct sim_extprop {
	char *set_id; /* GUID, lower case ("00020329-..." for PublicStrings) */
	char *name;
	char *type; /* "String" */
	char *value;
};

struct sim_item {
	char *ews_id;       /* EWS ItemId / Graph default id: changes when the item moves folder */
	char *immutable_id; /* never changes (Graph Prefer: IdType="ImmutableId") */
	char *change_key;   /* new on every change */
	int64_t version;    /* incremented on every change */
	char *folder;       /* "calendar", "deleteditems", or another folder name */
	char *subject;
	char *body;
	char *body_type;         /* "Text" | "HTML" */
	int64_t start, end;      /* UTC Unix seconds */
	char *start_tz, *end_tz; /* Windows ids as stored */
	bool is_all_day;
	char *show_as; /* EWS LegacyFreeBusyStatus: Free, Tentative, Busy, OOF, WorkingElsewhere */
	char *sensitivity; /* Normal, Personal, Private, Confidential */
	char **categories; /* NULL-terminated or NULL */
	bool reminder_is_set;
	int reminder_minutes;
	struct sim_extprop *props;
	size_t nprops;
	char *transaction_id; /* Graph */
	char *item_class;     /* "IPM.Appointment" */
	int64_t created, modified;
	bool deleted;       /* tombstone for SyncFolderItems / delta */
	int64_t change_seq; /* the mailbox's sync_seq right after this item's last change */
};

struct sim_map; /* store.c/util.c: string-keyed hash table */

struct sim_mailbox {
	struct sim_user *user;
	struct sim_item **items;
	size_t nitems, cap;
	int64_t sync_seq;      /* bumps on every change (sync states) */
	struct sim_map *index; /* store.c: live items by ews_id and by immutable_id */
};

/* ---- requests ---- */

struct sim_header {
	char *name, *value;
};

struct sim_request {
	const char *method;
	const char *path;  /* without query string */
	const char *query; /* raw query string without '?', may be "" */
	const char *body;
	size_t body_len;
	struct sim_header *headers; /* request headers */
	size_t nheaders;
	struct sim_conn *conn; /* the connection's sign-in state (onprem.h), NULL: none */
	bool tls;              /* arrived over HTTPS */
};

struct sim_response {
	int status;
	struct buf body;
	struct sim_header headers[16]; /* response headers (owned strings) */
	size_t nheaders;
	bool drop;      /* fault: close the connection after sending part of the body */
	bool no_answer; /* fault: close the connection without sending anything */
};

const char *sim_req_header(const struct sim_request *r, const char *name); /* case-insensitive */
char *sim_query_param(const char *query, const char *name); /* decoded; caller frees */
void sim_resp_header(struct sim_response *r, const char *name, const char *value);
/* Adds one more header line of that name (WWW-Authenticate: Negotiate, then NTLM). */
void sim_resp_header_add(struct sim_response *r, const char *name, const char *value);
void sim_resp_json(struct sim_response *r, int status, json_t *body); /* steals body */

struct sim; /* the whole state: fixture, mailboxes, tokens, codes, counters, faults */

/* Global state access (main.c owns the instance). */
void sim_lock(struct sim *s);
void sim_unlock(struct sim *s);
struct sim_tenant *sim_find_tenant(struct sim *s, const char *id_or_domain);
struct sim_app *sim_find_app(struct sim *s, const char *client_id);
struct sim_user *sim_find_user(struct sim *s, const char *upn_or_id);
/* Exactly by object id or userPrincipalName, as Graph's /users/{id | userPrincipalName} does. */
struct sim_user *sim_find_user_by_key(struct sim *s, const char *id_or_upn);
/* By primary SMTP address or alias. */
struct sim_mailbox *sim_find_mailbox(struct sim *s, const char *smtp);
/* The mailbox of a user (NULL when it has none). */
struct sim_mailbox *sim_mailbox_of(struct sim *s, const struct sim_user *u);
/* The users of the fixture, in order: i < sim_user_count. */
size_t sim_user_count(struct sim *s);
struct sim_user *sim_user_at(struct sim *s, size_t i);
/* True when address is the user's primary SMTP address, one of its aliases or its UPN. */
bool sim_user_has_address(const struct sim_user *u, const char *address);
int64_t sim_now(struct sim *s);                     /* Unix seconds (controllable for tests) */
void sim_count(struct sim *s, const char *counter); /* request counters by operation */

/* Items (store.c). */
struct sim_item *sim_item_new(struct sim_mailbox *mb); /* ids and change key assigned */
void sim_item_touch(struct sim *s, struct sim_mailbox *mb,
                    struct sim_item *it); /* new change key */
struct sim_item *sim_item_by_id(struct sim_mailbox *mb,
                                const char *id);                   /* ews_id or immutable_id */
void sim_item_delete(struct sim_mailbox *mb, struct sim_item *it); /* tombstone */
void sim_item_move(struct sim_mailbox *mb, struct sim_item *it,
                   const char *folder); /* new ews_id */
const char *sim_item_extprop(const struct sim_item *it, const char *set_id, const char *name);
/* A subject as the store keeps it: "The subject is limited to 255 characters" [doc: EWS Subject
 * element]; a longer one is cut to 252 characters and "..." (what exchangelib's maintainer reports
 * Exchange does, nylas/exchangelib#68). Characters are Unicode code points here. Caller frees. */
char *sim_subject_stored(const char *subject);
json_t *sim_item_dump(const struct sim_item *it);

/* Access tokens (identity.c): verifies a bearer token issued by this simulator; fills claims. */
struct sim_claims {
	char aud[128];
	char tid[64];
	char appid[64];
	char oid[64];    /* user object id (delegated) */
	char upn[256];   /* user (delegated) */
	char roles[512]; /* space-separated application permissions */
	char scp[512];   /* space-separated delegated scopes */
	int64_t exp;
};
/* Returns 0 when valid, else the Exchange x-ms-diagnostics errorId that fits (2000001
 * invalid_token: missing/malformed; 2000000 invalid_signature; 2000002 token_expired, also when a
 * "token_expired" fault is armed) with *why set to a static reason text. */
int sim_verify_token(struct sim *s, const char *authorization_header, struct sim_claims *out,
                     const char **why);

/* Fault injection (main.c). Faults that a service renders itself ("ews_server_busy", or any kind a
 * service chooses to own) are consumed by the service: returns true when an armed fault of this
 * kind matches the current request (path_prefix, next N / share) and consumes it; *retry_after_ms
 * gets the fault's retry_after in milliseconds (may be NULL). Called with the lock held. */
bool sim_take_fault(struct sim *s, const char *kind, int64_t *retry_after_ms);
/* Inside a $batch: from now on faults limited to an operation match the request (method, path
 * relative to /v1.0) being served, not the $batch as a whole. NULL, NULL: back to the $batch. */
void sim_fault_scope(struct sim *s, const char *method, const char *path);
/* The operation name of a Graph request ("POST events", "GET event", "$batch", ...) into out. */
const char *sim_graph_op_name(const char *method, const char *path, char *out, size_t len);

/* "2026-01-05T09:00:00Z" (also without Z, or with fractional seconds / +00:00) -> Unix seconds.
 * Returns 0 on success, -1 when the text is not such a time. */
int sim_parse_utc(const char *iso, int64_t *out);

/* Whether the server speaks HTTPS, for absolute links (@odata.nextLink, deltaLink). graph_state.c
 * has a weak default (true) until main.c defines it. */
bool sim_uses_tls(struct sim *s);

/* Service handlers: each returns true when it handled the path. Called with the lock held. */
bool sim_identity_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp);
bool sim_ews_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp);
/* ews.c: compiles the EWS schema now rather than on the first EWS request (call once at startup;
 * safe to skip). Returns 0, or -1 with why filled (the schema file was not found or does not
 * compile). */
int sim_ews_preload(char *why, size_t why_size);
bool sim_graph_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp);

#endif
