/* m365sim identity platform internals shared by identity.c (endpoints, discovery, authorize,
 * devicecode, state) and identity_token.c (the token endpoint's grants). */
#ifndef M365SIM_IDENTITY_H
#define M365SIM_IDENTITY_H

#include "tools/m365sim/sim_core.h"

#define GRAPH_RESOURCE "https://graph.microsoft.com"
#define EXCHANGE_RESOURCE "https://outlook.office365.com"

/* One identity request: the tenant segment of the path and what it resolved to. */
struct idreq {
	struct sim *s;
	const struct sim_request *req;
	struct sim_response *resp;
	char segment[256];         /* as in the path: GUID, domain, "common", "organizations" */
	struct sim_tenant *tenant; /* NULL for common/organizations */
	char base[300];            /* "https://127.0.0.1:PORT" */
	const char *nonce; /* authorization code grant: the nonce of the authorize request */
};

/* An authorization code (GET .../authorize), redeemed once. */
struct auth_code {
	char *client_id, *redirect_uri, *scope, *challenge, *method, *user_oid, *tid;
	char *nonce; /* OpenID Connect: echoed in the id_token (MSAL checks it); may be NULL */
	bool public_client;
	bool redeemed;
	int64_t expires;
};

/* A refresh token: bound to user + client, not to a resource; rotated on every use. */
struct refresh_rec {
	char *client_id, *user_oid, *tid, *scope;
	bool public_client;
	bool revoked; /* POST /_sim/refresh/revoke */
	bool rotated; /* replaced by a newer one (this simulator rejects reuse) */
	int64_t issued, last_used;
};

/* A device code flow: pending until approved or declined through the control API. */
struct device_rec {
	char *device_code, *user_code, *client_id, *scope, *tid, *user_oid;
	int state; /* DEV_* */
	int64_t expires;
	int64_t last_poll_ms;
};

enum { DEV_PENDING, DEV_APPROVED, DEV_DECLINED, DEV_REDEEMED };

/* Scopes of one request, all for a single resource. */
struct scopes {
	char resource[128]; /* GRAPH_RESOURCE, EXCHANGE_RESOURCE or "https://outlook.office.com" */
	char **perms;       /* permission names without the resource, NULL-terminated */
	size_t nperms;
	bool dot_default;
	bool offline_access, openid, profile, email;
};

/* An identity error not yet sent (it may go out as JSON or as a redirect). */
struct id_err {
	int status;
	const char *error;
	int code;
	char msg[768];
};

/* identity.c */
int id_fail(struct id_err *e, int status, const char *error, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6))); /* fills e, returns -1 */
void id_send_error(struct idreq *r, const struct id_err *e);
void id_error(struct idreq *r, int status, const char *error, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int id_parse_scopes(const char *scope, struct scopes *out, struct id_err *e);
void id_scopes_free(struct scopes *sc);
bool id_resource_has(const char *resource, const char *perm);
int id_check_consent(const struct sim_app *app, const struct scopes *sc, struct id_err *e);
char *id_form(const struct idreq *r, const char *name); /* form parameter, decoded; caller frees */
struct sim_app *id_find_client(struct idreq *r, const char *client_id); /* error sent on NULL */
char *id_access_token(struct sim *s, const struct sim_app *app, const char *tid, const char *aud,
                      const struct sim_user *u, json_t *roles, const char *scp, int64_t *exp);
void id_send_user_tokens(struct idreq *r, const struct sim_app *app, const struct sim_user *u,
                         const char *tid, const struct scopes *sc, bool public_client);

/* identity_token.c */
void id_token_endpoint(struct idreq *r);

#endif
