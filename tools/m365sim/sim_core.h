/* m365sim internals shared by main.c, fixture.c, store.c, identity*.c and util.c (not by the
 * service files, which see only sim.h). */
#ifndef M365SIM_SIM_CORE_H
#define M365SIM_SIM_CORE_H

#include "common/error.h"
#include "tools/m365sim/sim.h"

#include <pthread.h>

/* ---- util.c: a string-keyed chained hash table; values are owned by the map when free_val is set
 */

struct sim_map *sim_map_new(void (*free_val)(void *));
void sim_map_free(struct sim_map *m);
void sim_map_clear(struct sim_map *m);
void *sim_map_get(const struct sim_map *m, const char *key);
void sim_map_put(struct sim_map *m, const char *key,
                 void *val);                            /* replaces (frees the old value) */
void sim_map_del(struct sim_map *m, const char *key);   /* frees the value */
void *sim_map_take(struct sim_map *m, const char *key); /* removes without freeing */
size_t sim_map_count(const struct sim_map *m);
/* Calls fn for every entry (order unspecified); fn must not modify the map. */
void sim_map_each(const struct sim_map *m, void (*fn)(const char *key, void *val, void *ctx),
                  void *ctx);

/* ---- util.c: encodings and random values */

char *sim_b64url_encode(const void *data, size_t len);                     /* no padding */
unsigned char *sim_b64url_decode(const char *s, size_t slen, size_t *len); /* NULL if invalid */
char *sim_random_b64url(const char *prefix, size_t nbytes);                /* prefix + random */
void sim_random_bytes(void *out, size_t len);
void sim_lower(char *s);
char *sim_url_decode(const char *s, size_t len, bool plus_is_space);
void sim_url_encode(struct buf *b, const char *s);
void sim_format_aad_time(char out[24], int64_t unix_seconds); /* "2026-01-05 09:00:00Z" */
bool sim_is_guid(const char *s);

/* ---- faults (main.c) */

struct sim_fault {
	int64_t id;
	char kind[32];      /* http503 http429 ews_server_busy latency drop truncate malformed html
	                       token_expired */
	int remaining;      /* next N requests; -1 when share-based */
	double share;       /* 0..1 of matching requests, deterministic (every 1/share-th) */
	double acc;         /* share accumulator */
	double retry_after; /* seconds, may be fractional */
	int latency_ms;
	int status;        /* for html: the HTTP status (default 502) */
	char *path_prefix; /* NULL: every path except /_sim */
	char op[48];       /* "": any operation; else one of sim_fault_op_known (faults.c) */
	int64_t queue;     /* 0, or the queue it waits in: fires only once the faults armed
	                      before it in that queue are used up */
	bool after_commit; /* drop: run the operation, then drop the response */
	bool no_answer;    /* drop: close the connection before a single byte of the answer */
};

/* faults.c: matching armed faults against the request being served */
#define SIM_MAX_OPS 24
bool sim_fault_op_known(const char *op);
bool sim_fault_kind_is_transport(const char *kind);
/* The operations of req (an EWS operation, Graph "METHOD resource" names, a $batch's own and its
 * requests', identity endpoints) into s->cur_ops, for faults limited to an operation. */
void sim_fault_classify(struct sim *s, const struct sim_request *req);
/* The transport fault (http503 ... html, drop) that fires for this request, if any: copied into
 * *out (path_prefix NULL) and counted under faults.KIND (drops also under faults.drop.before_commit
 * or faults.drop.after_commit). skip_latency: after a slow answer, the other kinds only. */
bool sim_take_transport_fault(struct sim *s, const char *path, bool skip_latency,
                              struct sim_fault *out);
/* "CreateItem" from a SOAP body; -1 when none is found. */
int sim_ews_op_name(const char *body, char *out, size_t len);

/* ---- the whole state */

struct sim {
	pthread_mutex_t mu;

	/* fixture (fixture.c) */
	struct sim_tenant *tenants;
	size_t ntenants;
	struct sim_app *apps;
	size_t napps;
	struct sim_user *users;
	size_t nusers;
	struct sim_mailbox *mailboxes; /* one per user with a mailbox, same order */
	size_t nmailboxes;
	struct sim_map *tenant_by_key; /* id and every domain (lower case) -> tenant (not owned) */
	struct sim_map *app_by_id;     /* client id (lower case) -> app */
	struct sim_map *user_by_key;   /* upn (lower case) and object id -> user */
	struct sim_map *mailbox_by_smtp; /* smtp (lower case) -> mailbox */
	int device_code_interval;        /* seconds between device code polls */

	/* settings */
	bool tls;
	int64_t clock_offset;                       /* added to the wall clock (POST /_sim/clock) */
	int token_lifetime, default_token_lifetime; /* seconds */
	unsigned char hmac_key[32]; /* signs the access tokens this simulator issues */
	char *state_path;
	struct sim_onprem *onprem; /* onprem.h: Exchange Server mode, NULL: Exchange Online */
	char *record_dir; /* --record-ews: every EWS request body is written there, numbered */
	long recorded;

	/* identity state (identity.c) */
	struct sim_map *codes; /* authorization codes */
	struct sim_map *refresh_tokens;
	struct sim_map *device_codes; /* by device_code */
	struct sim_map *user_codes;   /* user_code -> device code record (not owned) */

	/* faults and counters (main.c) */
	struct sim_fault *faults;
	size_t nfaults;
	int64_t next_fault_id;
	const struct sim_request *cur_req; /* the request being dispatched (for sim_take_fault) */
	char cur_ops[SIM_MAX_OPS][48];     /* its operations (sim_fault_classify) */
	size_t ncur_ops;
	char scope_op[48]; /* the $batch request being served, when inside one (sim_fault_scope) */
	json_t *counters;  /* name -> integer */
};

/* fixture.c */
int sim_fixture_load(struct sim *s, const char *path,
                     struct error *err); /* path NULL: demo tenant */
void sim_fixture_free(struct sim *s);
bool sim_user_in_tenant(const struct sim_user *u, const struct sim_tenant *t);

/* store.c */
void sim_mailbox_init(struct sim_mailbox *mb, struct sim_user *u);
void sim_mailbox_clear(struct sim_mailbox *mb);
json_t *sim_mailbox_dump(const struct sim_mailbox *mb);
int sim_item_load(struct sim_item *it, json_t *j, struct error *err); /* fields from a dump */
int sim_item_apply_json(struct sim *s, struct sim_item *it, json_t *j,
                        struct error *err); /* user edits */
int sim_state_save(struct sim *s, struct error *err);
int sim_state_load(struct sim *s, struct error *err);

/* identity.c */
void sim_identity_init(struct sim *s);
void sim_identity_free(struct sim *s);
void sim_identity_reset(struct sim *s);
json_t *sim_identity_save(struct sim *s);
void sim_identity_load(struct sim *s, json_t *j);
int sim_devicecode_approve(struct sim *s, const char *user_code, const char *user, bool decline,
                           struct error *err);
int sim_refresh_revoke(struct sim *s, const char *user, const char *token, struct error *err);

/* identity_jwt.c: JWT-shaped tokens and client assertions */
char *sim_jwt_sign(struct sim *s,
                   json_t *claims);        /* HS256 with the simulator's key; claims borrowed */
char *sim_pkce_s256(const char *verifier); /* base64url(SHA-256(verifier)) */
/* Checks a certificate client assertion (RFC 7523) against the app's registered certificate.
 * audiences: token endpoint URLs accepted as "aud" (NULL-terminated). Returns 0, or the AADSTS
 * code with msg set (the sentence after "AADSTSnnnn: "). */
int sim_check_client_assertion(const char *assertion, const struct sim_app *app,
                               const char *const *audiences, int64_t now, char *msg, size_t msglen);

/* control.c: the /_sim API */
bool sim_control_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp);
void sim_reset(struct sim *s);

/* main.c */
void sim_faults_clear(struct sim *s);

#endif
