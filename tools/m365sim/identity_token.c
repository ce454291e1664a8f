/* m365sim: POST /{tenant}/oauth2/v2.0/token — client_credentials (secret or certificate
 * assertion), authorization_code (Web with secret; public client with PKCE), refresh_token (with
 * rotation) and device_code, with Entra's error codes (ENTRA reference-error-codes). */
#include "common/util.h"
#include "tools/m365sim/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define INACTIVITY_LIMIT (90 * 86400)

/* The client credentials of one token request: body parameters or HTTP Basic (RFC 6749 2.3.1). */
struct creds {
	char *client_id, *secret, *assertion, *assertion_type;
};

static void creds_free(struct creds *c)
{
	free(c->client_id);
	free(c->secret);
	free(c->assertion);
	free(c->assertion_type);
}

static void read_basic_auth(const struct idreq *r, struct creds *c)
{
	const char *h = sim_req_header(r->req, "Authorization");
	unsigned char *raw;
	size_t len;
	char *colon;

	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return;
	raw = sim_b64url_decode(h + 6, strlen(h + 6), &len);
	if (!raw)
		return;
	raw = xrealloc(raw, len + 1);
	raw[len] = '\0';
	colon = strchr((char *)raw, ':');
	if (colon) {
		*colon = '\0';
		if (!c->client_id)
			c->client_id = sim_url_decode((char *)raw, strlen((char *)raw), true);
		if (!c->secret)
			c->secret = sim_url_decode(colon + 1, strlen(colon + 1), true);
	}
	free(raw);
}

static void read_creds(const struct idreq *r, struct creds *c)
{
	c->client_id = id_form(r, "client_id");
	c->secret = id_form(r, "client_secret");
	c->assertion = id_form(r, "client_assertion");
	c->assertion_type = id_form(r, "client_assertion_type");
	read_basic_auth(r, c);
}

static int check_assertion(struct idreq *r, const struct sim_app *app, const struct creds *c)
{
	char auds[4][512], msg[600];
	const char *list[5] = {auds[0], auds[1], auds[2], auds[3], NULL};
	const char *tid = r->tenant ? r->tenant->id : app->tenant_id;
	int code;

	if (!c->assertion_type || strcmp(c->assertion_type, JWT_BEARER) != 0) {
		id_error(r, 400, "invalid_request", 50027,
		         "JWT token is invalid or malformed: client_assertion_type must be '%s'.",
		         JWT_BEARER);
		return -1;
	}
	snprintf(auds[0], sizeof auds[0], "%s/%s/oauth2/v2.0/token", r->base, r->segment);
	snprintf(auds[1], sizeof auds[1], "%s/%s/oauth2/v2.0/token", r->base, tid);
	snprintf(auds[2], sizeof auds[2], "https://login.microsoftonline.com/%s/oauth2/v2.0/token",
	         tid);
	snprintf(auds[3], sizeof auds[3], "https://login.microsoftonline.com/%s/oauth2/v2.0/token",
	         r->segment);
	code = sim_check_client_assertion(c->assertion, app, list, sim_now(r->s), msg, sizeof msg);
	if (code == 0)
		return 0;
	if (code == 50027)
		id_error(r, 400, "invalid_request", code, "%s", msg);
	else
		id_error(r, 401, "invalid_client", code, "%s", msg);
	return -1;
}

/* A confidential client must prove itself with a secret value or a certificate assertion. */
static int authenticate_confidential(struct idreq *r, const struct sim_app *app,
                                     const struct creds *c)
{
	bool any_valid = false;

	if (c->assertion)
		return check_assertion(r, app, c);
	if (!c->secret || !*c->secret) {
		id_error(
		    r, 401, "invalid_client", 7000218,
		    "The request body must contain the following parameter: 'client_assertion' "
		    "or 'client_secret'.");
		return -1;
	}
	for (size_t i = 0; i < app->nsecrets; i++) {
		const struct sim_secret *sec = &app->secrets[i];
		bool expired = sec->expires <= sim_now(r->s);
		any_valid |= !expired;
		if (strcmp(sec->value, c->secret) != 0)
			continue;
		if (!expired)
			return 0;
		any_valid = false; /* the secret sent is an expired one */
		break;
	}
	if (app->nsecrets && !any_valid) {
		id_error(
		    r, 401, "invalid_client", 7000222,
		    "The provided client secret keys for app '%s' are expired. Visit the Azure "
		    "portal to create new keys for your app: https://aka.ms/NewClientSecret, or "
		    "consider using certificate credentials for added security: "
		    "https://aka.ms/certCreds.",
		    app->client_id);
		return -1;
	}
	id_error(
	    r, 401, "invalid_client", 7000215,
	    "Invalid client secret provided. Ensure the secret being sent in the request is the "
	    "client secret value, not the client secret ID, for a secret added to app '%s'.",
	    app->client_id);
	return -1;
}

static int reject_public_secret(struct idreq *r, const struct creds *c)
{
	if (!c->secret && !c->assertion)
		return 0;
	id_error(r, 401, "invalid_client", 700025,
	         "Client is public so neither 'client_assertion' nor 'client_secret' should be "
	         "presented.");
	return -1;
}

static char *required(struct idreq *r, const char *name)
{
	char *v = id_form(r, name);

	if (v && *v)
		return v;
	free(v);
	id_error(r, 400, "invalid_request", 900144,
	         "The request body must contain the following parameter: '%s'.", name);
	return NULL;
}

/* ---- client_credentials ---- */

static int check_default_scopes(struct idreq *r, const char *scope)
{
	const char *p = scope;

	while (*p) {
		size_t len = strcspn(p, " ");
		if (len && (len < 9 || strncmp(p + len - 9, "/.default", 9) != 0)) {
			id_error(
			    r, 400, "invalid_scope", 1002012,
			    "The provided value for scope %.*s is not valid. Client credential "
			    "flows must have a scope value with /.default suffixed to the resource "
			    "identifier (application ID URI).",
			    (int)len, p);
			return -1;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static void client_credentials(struct idreq *r, struct sim_app *app, const struct creds *c)
{
	char *scope = NULL;
	struct scopes sc = {0};
	struct id_err e = {0};
	json_t *roles;
	int64_t exp;
	char *at;

	if (authenticate_confidential(r, app, c) < 0 || !(scope = required(r, "scope")) ||
	    check_default_scopes(r, scope) < 0)
		goto out;
	if (id_parse_scopes(scope, &sc, &e) < 0) {
		id_send_error(r, &e);
		goto out;
	}
	roles = json_array();
	for (size_t i = 0; app->admin_consent && app->app_permissions && app->app_permissions[i];
	     i++)
		if (id_resource_has(sc.resource, app->app_permissions[i]))
			json_array_append_new(roles, json_string(app->app_permissions[i]));
	/* Without admin consent Entra still issues the token, without "roles" (ENTRA access-tokens:
	 * roles appear only for granted application permissions). */
	at = id_access_token(r->s, app, r->tenant ? r->tenant->id : app->tenant_id, sc.resource,
	                     NULL, roles, NULL, &exp);
	sim_resp_json(r->resp, 200,
	              json_pack("{s:s,s:i,s:i,s:s}", "token_type", "Bearer", "expires_in",
	                        r->s->token_lifetime, "ext_expires_in", r->s->token_lifetime,
	                        "access_token", at));
	sim_resp_header(r->resp, "Cache-Control", "no-store, no-cache");
	free(at);
out:
	id_scopes_free(&sc);
	free(scope);
}

/* ---- delegated grants ---- */

/* Parses the scopes, checks consent, and sends the tokens for user u. */
static void finish_delegated(struct idreq *r, const struct sim_app *app, const char *user_oid,
                             const char *tid, const char *scope, bool public_client, bool force_rt)
{
	struct sim_user *u = sim_find_user(r->s, user_oid);
	struct scopes sc = {0};
	struct id_err e = {0};

	if (!u) {
		id_error(r, 400, "invalid_grant", 50034,
		         "The user account does not exist in the directory anymore.");
		return;
	}
	if (id_parse_scopes(scope, &sc, &e) < 0 || id_check_consent(app, &sc, &e) < 0) {
		id_send_error(r, &e);
		id_scopes_free(&sc);
		return;
	}
	sc.offline_access |= force_rt;
	id_send_user_tokens(r, app, u, tid, &sc, public_client);
	id_scopes_free(&sc);
}

static void expired_grant(struct idreq *r)
{
	id_error(r, 400, "invalid_grant", 70008,
	         "The provided authorization code or refresh token has expired due to inactivity. "
	         "Send a new interactive authorization request for this user and resource.");
}

static void malformed_grant(struct idreq *r)
{
	id_error(r, 400, "invalid_grant", 9002313,
	         "Invalid request. Request is malformed or invalid.");
}

static bool pkce_ok(const struct auth_code *rec, const char *verifier)
{
	char *want;
	bool ok;

	if (!rec->challenge)
		return true;
	if (strcmp(rec->method, "plain") == 0)
		return strcmp(rec->challenge, verifier) == 0;
	want = sim_pkce_s256(verifier);
	ok = strcmp(want, rec->challenge) == 0;
	free(want);
	return ok;
}

static void authorization_code(struct idreq *r, struct sim_app *app, const struct creds *c)
{
	char *code = required(r, "code"), *redirect = NULL, *verifier = NULL, *scope = NULL;
	struct auth_code *rec;

	if (!code)
		return;
	rec = sim_map_get(r->s->codes, code);
	redirect = id_form(r, "redirect_uri");
	verifier = id_form(r, "code_verifier");
	scope = id_form(r, "scope");
	if (!rec)
		malformed_grant(r);
	else if (strcmp(rec->client_id, app->client_id) != 0)
		id_error(r, 400, "invalid_grant", 70000,
		         "Provided grant is invalid or malformed: the code was issued to another "
		         "client.");
	else if (rec->redeemed)
		id_error(
		    r, 400, "invalid_grant", 54005,
		    "OAuth2 Authorization code was already redeemed, please retry with a new valid "
		    "code or use an existing refresh token.");
	else if (rec->expires <= sim_now(r->s))
		expired_grant(r);
	else if (!redirect || strcmp(redirect, rec->redirect_uri) != 0)
		id_error(
		    r, 400, "invalid_request", 50011,
		    "The redirect URI '%s' specified in the request does not match the redirect "
		    "URI used in the authorization request for application '%s'.",
		    redirect ? redirect : "", app->client_id);
	else if (rec->public_client ? reject_public_secret(r, c) < 0
	                            : authenticate_confidential(r, app, c) < 0)
		; /* error sent */
	else if (rec->challenge && !verifier)
		id_error(r, 400, "invalid_grant", 501481,
		         "The Code_Verifier does not match the code_challenge supplied in the "
		         "authorization request: no code_verifier was sent.");
	else if (!pkce_ok(rec, verifier))
		id_error(r, 400, "invalid_grant", 501481,
		         "The Code_Verifier does not match the code_challenge supplied in the "
		         "authorization request.");
	else {
		rec->redeemed = true;
		r->nonce = rec->nonce;
		finish_delegated(r, app, rec->user_oid, rec->tid,
		                 scope && *scope ? scope : rec->scope, rec->public_client, false);
		r->nonce = NULL;
	}
	free(code);
	free(redirect);
	free(verifier);
	free(scope);
}

static void refresh_token(struct idreq *r, struct sim_app *app, const struct creds *c)
{
	char *token = required(r, "refresh_token"), *scope = NULL, issued[21];
	struct refresh_rec *rec;
	int64_t now = sim_now(r->s);

	if (!token)
		return;
	rec = sim_map_get(r->s->refresh_tokens, token);
	scope = id_form(r, "scope");
	if (!rec) {
		malformed_grant(r);
	} else if (strcmp(rec->client_id, app->client_id) != 0) {
		id_error(r, 400, "invalid_grant", 70000,
		         "Provided grant is invalid or malformed: the refresh token was issued to "
		         "another client.");
	} else if (rec->revoked) {
		format_utc(issued, rec->issued);
		id_error(
		    r, 400, "invalid_grant", 50173,
		    "The provided grant has expired due to it being revoked, a fresh auth token is "
		    "needed. The user might have changed or reset their password. The grant was "
		    "issued on '%s'.",
		    issued);
	} else if (rec->rotated) {
		expired_grant(r); /* replaced by a newer refresh token: see docs/simulator.md */
	} else if (now - rec->last_used > INACTIVITY_LIMIT) {
		format_utc(issued, rec->issued);
		id_error(
		    r, 400, "invalid_grant", 700082,
		    "The refresh token has expired due to inactivity. The token was issued on %s "
		    "and was inactive for 90.00:00:00.",
		    issued);
	} else if (rec->public_client ? reject_public_secret(r, c) < 0
	                              : authenticate_confidential(r, app, c) < 0) {
		/* error sent */
	} else {
		char *oid = xstrdup(rec->user_oid), *tid = xstrdup(rec->tid);
		char *sc = xstrdup(scope && *scope ? scope : rec->scope);
		bool pub = rec->public_client;
		rec->rotated = true;
		rec->last_used = now;
		finish_delegated(r, app, oid, tid, sc, pub, true);
		free(oid);
		free(tid);
		free(sc);
	}
	free(token);
	free(scope);
}

static void device_code(struct idreq *r, struct sim_app *app, const struct creds *c)
{
	char *code = required(r, "device_code");
	struct device_rec *d;
	int64_t ms = now_ms();

	if (!code)
		return;
	d = sim_map_get(r->s->device_codes, code);
	if (!d)
		id_error(r, 400, "bad_verification_code", 70018,
		         "Invalid verification code: the device_code is not known.");
	else if (strcmp(d->client_id, app->client_id) != 0)
		id_error(
		    r, 400, "invalid_grant", 70000,
		    "Provided grant is invalid or malformed: the device code was issued to another "
		    "client.");
	else if (!app->public_client)
		id_error(
		    r, 401, "invalid_client", 7000218,
		    "The request body must contain the following parameter: 'client_assertion' "
		    "or 'client_secret'.");
	else if (reject_public_secret(r, c) < 0)
		; /* error sent */
	else if (d->state == DEV_REDEEMED)
		id_error(r, 400, "invalid_grant", 54005,
		         "OAuth2 device code was already redeemed, please start a new device code "
		         "flow.");
	else if (d->expires <= sim_now(r->s))
		id_error(r, 400, "expired_token", 70019, "Verification code expired.");
	else if (d->state == DEV_DECLINED)
		id_error(r, 400, "authorization_declined", 70000,
		         "The user declined the authorization request.");
	else if (d->state == DEV_PENDING) {
		bool fast =
		    d->last_poll_ms && ms - d->last_poll_ms < r->s->device_code_interval * 500;
		d->last_poll_ms = ms;
		if (fast)
			id_error(r, 400, "slow_down", 70016,
			         "OAuth 2.0 device flow error. Polling too fast: wait 'interval' "
			         "seconds between requests.");
		else
			id_error(r, 400, "authorization_pending", 70016,
			         "OAuth 2.0 device flow error. Authorization is pending. Continue "
			         "polling.");
	} else {
		d->state = DEV_REDEEMED;
		finish_delegated(r, app, d->user_oid, d->tid, d->scope, true, false);
	}
	free(code);
}

void id_token_endpoint(struct idreq *r)
{
	char *grant = id_form(r, "grant_type"), counter[96];
	struct creds c = {0};
	struct sim_app *app;

	sim_count(r->s, "token");
	if (!grant || !*grant) {
		id_error(r, 400, "invalid_request", 900144,
		         "The request body must contain the following parameter: 'grant_type'.");
		goto out;
	}
	snprintf(counter, sizeof counter, "token.%s",
	         strcmp(grant, "urn:ietf:params:oauth:grant-type:device_code") == 0 ? "device_code"
	                                                                            : grant);
	sim_count(r->s, counter);
	read_creds(r, &c);
	if (!(app = id_find_client(r, c.client_id)))
		goto out;
	if (strcmp(grant, "client_credentials") == 0)
		client_credentials(r, app, &c);
	else if (strcmp(grant, "authorization_code") == 0)
		authorization_code(r, app, &c);
	else if (strcmp(grant, "refresh_token") == 0)
		refresh_token(r, app, &c);
	else if (strcmp(grant, "urn:ietf:params:oauth:grant-type:device_code") == 0 ||
	         strcmp(grant, "device_code") == 0)
		device_code(r, app, &c);
	else
		id_error(r, 400, "unsupported_grant_type", 70003,
		         "The app requested an unsupported grant type '%s'.", grant);
out:
	creds_free(&c);
	free(grant);
}
