/* m365sim identity platform endpoints other than /token: OpenID discovery, authorize (approving a
 * fixture user at once), devicecode, and the state they keep (codes, refresh tokens, device codes).
 */
#include "common/util.h"
#include "tools/m365sim/identity.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- state ---- */

static void code_free(void *p)
{
	struct auth_code *c = p;

	free(c->client_id);
	free(c->redirect_uri);
	free(c->scope);
	free(c->challenge);
	free(c->method);
	free(c->user_oid);
	free(c->tid);
	free(c->nonce);
	free(c);
}

static void refresh_free(void *p)
{
	struct refresh_rec *r = p;

	free(r->client_id);
	free(r->user_oid);
	free(r->tid);
	free(r->scope);
	free(r);
}

static void device_free(void *p)
{
	struct device_rec *d = p;

	free(d->device_code);
	free(d->user_code);
	free(d->client_id);
	free(d->scope);
	free(d->tid);
	free(d->user_oid);
	free(d);
}

void sim_identity_init(struct sim *s)
{
	s->codes = sim_map_new(code_free);
	s->refresh_tokens = sim_map_new(refresh_free);
	s->device_codes = sim_map_new(device_free);
	s->user_codes = sim_map_new(NULL);
}

void sim_identity_free(struct sim *s)
{
	sim_map_free(s->codes);
	sim_map_free(s->refresh_tokens);
	sim_map_free(s->user_codes);
	sim_map_free(s->device_codes);
}

void sim_identity_reset(struct sim *s)
{
	sim_map_clear(s->codes);
	sim_map_clear(s->refresh_tokens);
	sim_map_clear(s->user_codes);
	sim_map_clear(s->device_codes);
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void save_refresh(const char *key, void *val, void *ctx)
{
	struct refresh_rec *r = val;

	json_object_set_new(ctx, key,
	                    json_pack("{s:o,s:o,s:o,s:o,s:b,s:b,s:b,s:I,s:I}", "client_id",
	                              jstr(r->client_id), "user_oid", jstr(r->user_oid), "tid",
	                              jstr(r->tid), "scope", jstr(r->scope), "public_client",
	                              r->public_client, "revoked", r->revoked, "rotated",
	                              r->rotated, "issued", (json_int_t)r->issued, "last_used",
	                              (json_int_t)r->last_used));
}

static void save_code(const char *key, void *val, void *ctx)
{
	struct auth_code *c = val;

	json_t *o =
	    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:I}", "client_id", jstr(c->client_id),
	              "redirect_uri", jstr(c->redirect_uri), "scope", jstr(c->scope), "challenge",
	              jstr(c->challenge), "method", jstr(c->method), "user_oid", jstr(c->user_oid),
	              "tid", jstr(c->tid), "public_client", c->public_client, "redeemed",
	              c->redeemed, "expires", (json_int_t)c->expires);

	json_object_set_new(o, "nonce", jstr(c->nonce));
	json_object_set_new(ctx, key, o);
}

static void save_device(const char *key, void *val, void *ctx)
{
	struct device_rec *d = val;

	json_object_set_new(
	    ctx, key,
	    json_pack("{s:o,s:o,s:o,s:o,s:o,s:i,s:I}", "user_code", jstr(d->user_code), "client_id",
	              jstr(d->client_id), "scope", jstr(d->scope), "tid", jstr(d->tid), "user_oid",
	              jstr(d->user_oid), "state", d->state, "expires", (json_int_t)d->expires));
}

json_t *sim_identity_save(struct sim *s)
{
	json_t *rts = json_object(), *codes = json_object(), *devs = json_object();

	sim_map_each(s->refresh_tokens, save_refresh, rts);
	sim_map_each(s->codes, save_code, codes);
	sim_map_each(s->device_codes, save_device, devs);
	return json_pack("{s:o,s:o,s:o}", "refresh_tokens", rts, "codes", codes, "device_codes",
	                 devs);
}

static char *get_str(json_t *o, const char *key)
{
	return xstrdup(json_string_value(json_object_get(o, key)));
}

void sim_identity_load(struct sim *s, json_t *j)
{
	const char *key;
	json_t *o;

	json_object_foreach(json_object_get(j, "refresh_tokens"), key, o)
	{
		struct refresh_rec *r = xcalloc(1, sizeof *r);
		r->client_id = get_str(o, "client_id");
		r->user_oid = get_str(o, "user_oid");
		r->tid = get_str(o, "tid");
		r->scope = get_str(o, "scope");
		r->public_client = json_is_true(json_object_get(o, "public_client"));
		r->revoked = json_is_true(json_object_get(o, "revoked"));
		r->rotated = json_is_true(json_object_get(o, "rotated"));
		r->issued = json_integer_value(json_object_get(o, "issued"));
		r->last_used = json_integer_value(json_object_get(o, "last_used"));
		sim_map_put(s->refresh_tokens, key, r);
	}
	json_object_foreach(json_object_get(j, "codes"), key, o)
	{
		struct auth_code *c = xcalloc(1, sizeof *c);
		c->client_id = get_str(o, "client_id");
		c->redirect_uri = get_str(o, "redirect_uri");
		c->scope = get_str(o, "scope");
		c->challenge = get_str(o, "challenge");
		c->method = get_str(o, "method");
		c->user_oid = get_str(o, "user_oid");
		c->tid = get_str(o, "tid");
		c->nonce = get_str(o, "nonce");
		c->public_client = json_is_true(json_object_get(o, "public_client"));
		c->redeemed = json_is_true(json_object_get(o, "redeemed"));
		c->expires = json_integer_value(json_object_get(o, "expires"));
		sim_map_put(s->codes, key, c);
	}
	json_object_foreach(json_object_get(j, "device_codes"), key, o)
	{
		struct device_rec *d = xcalloc(1, sizeof *d);
		d->device_code = xstrdup(key);
		d->user_code = get_str(o, "user_code");
		d->client_id = get_str(o, "client_id");
		d->scope = get_str(o, "scope");
		d->tid = get_str(o, "tid");
		d->user_oid = get_str(o, "user_oid");
		d->state = (int)json_integer_value(json_object_get(o, "state"));
		d->expires = json_integer_value(json_object_get(o, "expires"));
		if (!d->user_code) {
			device_free(d);
			continue;
		}
		sim_map_put(s->device_codes, key, d);
		sim_map_put(s->user_codes, d->user_code, d);
	}
}

/* ---- control API helpers ---- */

int sim_devicecode_approve(struct sim *s, const char *user_code, const char *user, bool decline,
                           struct error *err)
{
	struct device_rec *d = user_code ? sim_map_get(s->user_codes, user_code) : NULL;
	struct sim_user *u = NULL;

	if (!d)
		return error_set(err, "unknown user_code (give the user_code of a pending flow)");
	if (d->state != DEV_PENDING)
		return error_set(err, "this device code flow is no longer pending");
	if (!decline) {
		u = sim_find_user(s, user);
		if (!u && !user) { /* no user given: the first user of the flow's tenant */
			for (size_t i = 0; i < s->nusers && !u; i++)
				if (!d->tid || strcmp(s->users[i].tenant_id, d->tid) == 0)
					u = &s->users[i];
		}
		if (!u || (d->tid && strcmp(u->tenant_id, d->tid) != 0))
			return error_set(err, "unknown user, or a user of another tenant");
		free(d->user_oid);
		d->user_oid = xstrdup(u->object_id);
		free(d->tid);
		d->tid = xstrdup(u->tenant_id);
	}
	d->state = decline ? DEV_DECLINED : DEV_APPROVED;
	return 0;
}

struct revoke_ctx {
	const char *oid;
	int n;
};

static void revoke_user(const char *key, void *val, void *ctx)
{
	struct refresh_rec *r = val;
	struct revoke_ctx *c = ctx;

	(void)key;
	if (strcmp(r->user_oid, c->oid) == 0 && !r->revoked) {
		r->revoked = true;
		c->n++;
	}
}

int sim_refresh_revoke(struct sim *s, const char *user, const char *token, struct error *err)
{
	if (token) {
		struct refresh_rec *r = sim_map_get(s->refresh_tokens, token);
		if (!r)
			return error_set(err, "unknown refresh_token");
		r->revoked = true;
		return 0;
	}
	if (user) {
		struct sim_user *u = sim_find_user(s, user);
		struct revoke_ctx c = {u ? u->object_id : "", 0};
		if (!u)
			return error_set(err, "unknown user");
		sim_map_each(s->refresh_tokens, revoke_user, &c);
		return 0;
	}
	return error_set(err, "give {\"user\": UPN} or {\"refresh_token\": TOKEN}");
}

/* ---- discovery ---- */

static void openid_configuration(struct idreq *r)
{
	const char *seg = r->tenant ? r->tenant->id : r->segment;
	char tok[512], authz[512], dev[512], iss[512], keys[512], logout[512];

	snprintf(tok, sizeof tok, "%s/%s/oauth2/v2.0/token", r->base, seg);
	snprintf(authz, sizeof authz, "%s/%s/oauth2/v2.0/authorize", r->base, seg);
	snprintf(dev, sizeof dev, "%s/%s/oauth2/v2.0/devicecode", r->base, seg);
	snprintf(keys, sizeof keys, "%s/%s/discovery/v2.0/keys", r->base, seg);
	snprintf(logout, sizeof logout, "%s/%s/oauth2/v2.0/logout", r->base, seg);
	snprintf(iss, sizeof iss, "%s/%s/v2.0", r->base, r->tenant ? r->tenant->id : "{tenantid}");
	sim_resp_json(
	    r->resp, 200,
	    json_pack("{s:s,s:[s,s,s],s:s,s:[s,s,s],s:[s],s:[s],s:[s,s,s,s],s:[s,s,s,s],s:s,s:b,"
	              "s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s}",
	              "token_endpoint", tok, "token_endpoint_auth_methods_supported",
	              "client_secret_post", "private_key_jwt", "client_secret_basic", "jwks_uri",
	              keys, "response_modes_supported", "query", "fragment", "form_post",
	              "subject_types_supported", "pairwise",
	              "id_token_signing_alg_values_supported", "RS256", "response_types_supported",
	              "code", "id_token", "code id_token", "id_token token", "scopes_supported",
	              "openid", "profile", "email", "offline_access", "issuer", iss,
	              "request_uri_parameter_supported", 0, "userinfo_endpoint",
	              "https://graph.microsoft.com/oidc/userinfo", "authorization_endpoint", authz,
	              "device_authorization_endpoint", dev, "http_logout_supported", 1,
	              "end_session_endpoint", logout, "cloud_instance_name", "microsoftonline.com",
	              "msgraph_host", "graph.microsoft.com", "tenant_region_scope", "EU"));
}

/* GET /common/discovery/instance (MSAL's instance discovery when not disabled). */
static void instance_discovery(struct idreq *r)
{
	char *authz = sim_query_param(r->req->query, "authorization_endpoint");
	char tde[600], host[300];
	const char *seg = "common";
	char segbuf[256] = "";

	if (authz) { /* https://host/{tenant}/oauth2/v2.0/authorize -> that tenant */
		const char *p = strstr(authz, "://");
		p = p ? strchr(p + 3, '/') : NULL;
		if (p && sscanf(p, "/%255[^/]", segbuf) == 1)
			seg = segbuf;
	}
	snprintf(tde, sizeof tde, "%s/%s/v2.0/.well-known/openid-configuration", r->base, seg);
	snprintf(host, sizeof host, "%s", strstr(r->base, "://") ? strstr(r->base, "://") + 3 : "");
	sim_resp_json(r->resp, 200,
	              json_pack("{s:s,s:s,s:[{s:s,s:s,s:[s]}]}", "tenant_discovery_endpoint", tde,
	                        "api-version", "1.1", "metadata", "preferred_network", host,
	                        "preferred_cache", host, "aliases", host));
	free(authz);
}

/* ---- authorize ---- */

/* "http://localhost:1234/cb" -> "http://localhost/cb": the port of a loopback URI is ignored. */
static bool loopback_key(const char *uri, char *out, size_t size)
{
	const char *hosts[] = {"http://localhost", "http://127.0.0.1"};

	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(hosts[i]);
		const char *p = uri + n;
		if (strncmp(uri, hosts[i], n) != 0 || (*p && *p != ':' && *p != '/'))
			continue;
		if (*p == ':')
			while (*++p && isdigit((unsigned char)*p))
				;
		snprintf(out, size, "%s%s", hosts[i], *p ? p : "/");
		return true;
	}
	return false;
}

static const struct sim_redirect *match_redirect(const struct sim_app *app, const char *uri)
{
	char want[1024], have[1024];

	for (size_t i = 0; i < app->nredirects; i++)
		if (strcmp(app->redirects[i].uri, uri) == 0)
			return &app->redirects[i];
	if (!loopback_key(uri, want, sizeof want))
		return NULL;
	for (size_t i = 0; i < app->nredirects; i++)
		if (loopback_key(app->redirects[i].uri, have, sizeof have) &&
		    strcmp(want, have) == 0)
			return &app->redirects[i];
	return NULL;
}

static void redirect_with(struct idreq *r, const char *redirect_uri, const char *state,
                          const char *code, const struct id_err *e)
{
	struct buf loc = BUF_INIT;

	buf_puts(&loc, redirect_uri);
	buf_puts(&loc, strchr(redirect_uri, '?') ? "&" : "?");
	if (code) {
		buf_puts(&loc, "code=");
		sim_url_encode(&loc, code);
	} else {
		char desc[1024];
		snprintf(desc, sizeof desc, "AADSTS%d: %s", e->code, e->msg);
		buf_puts(&loc, "error=");
		sim_url_encode(&loc, e->error);
		buf_puts(&loc, "&error_description=");
		sim_url_encode(&loc, desc);
		buf_printf(
		    &loc,
		    "&error_uri=https%%3A%%2F%%2Flogin.microsoftonline.com%%2Ferror%%3Fcode%%3D%d",
		    e->code);
	}
	if (state) {
		buf_puts(&loc, "&state=");
		sim_url_encode(&loc, state);
	}
	r->resp->status = 302;
	sim_resp_header(r->resp, "Location", loc.data);
	sim_resp_header(r->resp, "Content-Type", "text/html; charset=utf-8");
	buf_puts(&r->resp->body, "<html><body>Redirecting</body></html>");
	buf_free(&loc);
}

static struct sim_user *approving_user(struct idreq *r, const struct sim_app *app, const char *hint,
                                       struct id_err *e)
{
	const char *tid = r->tenant ? r->tenant->id : app->tenant_id;
	struct sim_user *u = NULL;

	if (hint && *hint) {
		u = sim_find_user(r->s, hint);
		if (u && (!r->tenant || strcmp(u->tenant_id, r->tenant->id) == 0))
			return u;
	} else {
		for (size_t i = 0; i < r->s->nusers; i++)
			if (strcmp(r->s->users[i].tenant_id, tid) == 0)
				return &r->s->users[i];
	}
	id_fail(e, 400, "invalid_request", 50034,
	        "The user account %s does not exist in the '%s' directory. To sign into this "
	        "application, the account must be added to the directory.",
	        hint ? hint : "(none)", r->segment);
	return NULL;
}

struct authz_params {
	char *client_id, *response_type, *redirect_uri, *scope, *state, *challenge, *method, *hint;
	char *nonce;
};

static void authz_free(struct authz_params *p)
{
	free(p->client_id);
	free(p->response_type);
	free(p->redirect_uri);
	free(p->scope);
	free(p->state);
	free(p->challenge);
	free(p->method);
	free(p->hint);
	free(p->nonce);
}

/* After the redirect URI is trusted, errors go back to it; before, they are shown (JSON here). */
static void authorize_trusted(struct idreq *r, struct sim_app *app, const struct sim_redirect *rd,
                              struct authz_params *p)
{
	struct id_err e = {0};
	struct scopes sc = {0};
	struct sim_user *u;
	struct auth_code *c;
	char *code;

	if (!p->response_type || strcmp(p->response_type, "code") != 0) {
		id_fail(&e, 400, "unsupported_response_type", 700054,
		        "response_type '%s' is not enabled for the application.",
		        p->response_type ? p->response_type : "");
		redirect_with(r, p->redirect_uri, p->state, NULL, &e);
		return;
	}
	if (p->challenge && p->method && strcmp(p->method, "S256") != 0 &&
	    strcmp(p->method, "plain") != 0) {
		id_fail(&e, 400, "invalid_request", 501491,
		        "Invalid size of Code_Challenge parameter or unsupported "
		        "code_challenge_method '%s'.",
		        p->method);
		redirect_with(r, p->redirect_uri, p->state, NULL, &e);
		return;
	}
	if (id_parse_scopes(p->scope, &sc, &e) < 0) {
		redirect_with(r, p->redirect_uri, p->state, NULL, &e);
		return;
	}
	if (!(u = approving_user(r, app, p->hint, &e))) {
		id_scopes_free(&sc);
		id_send_error(r, &e);
		return;
	}
	if (id_check_consent(app, &sc, &e) < 0) {
		e.error = "consent_required";
		redirect_with(r, p->redirect_uri, p->state, NULL, &e);
		id_scopes_free(&sc);
		return;
	}
	id_scopes_free(&sc);
	c = xcalloc(1, sizeof *c);
	c->client_id = xstrdup(app->client_id);
	c->redirect_uri = xstrdup(p->redirect_uri);
	c->scope = xstrdup(p->scope);
	c->challenge = xstrdup(p->challenge);
	c->method = xstrdup(p->challenge ? (p->method ? p->method : "plain") : NULL);
	c->user_oid = xstrdup(u->object_id);
	c->tid = xstrdup(u->tenant_id);
	c->nonce = xstrdup(p->nonce);
	c->public_client = strcmp(rd->type, "web") != 0;
	c->expires = sim_now(r->s) + 600;
	code = sim_random_b64url("1.AXsAcode", 64);
	sim_map_put(r->s->codes, code, c);
	redirect_with(r, p->redirect_uri, p->state, code, NULL);
	free(code);
}

static void authorize(struct idreq *r)
{
	struct authz_params p = {0};
	const char *q = r->req->query;
	const struct sim_redirect *rd = NULL;
	struct sim_app *app;

	p.client_id = sim_query_param(q, "client_id");
	p.response_type = sim_query_param(q, "response_type");
	p.redirect_uri = sim_query_param(q, "redirect_uri");
	p.scope = sim_query_param(q, "scope");
	p.state = sim_query_param(q, "state");
	p.challenge = sim_query_param(q, "code_challenge");
	p.method = sim_query_param(q, "code_challenge_method");
	p.hint = sim_query_param(q, "login_hint");
	p.nonce = sim_query_param(q, "nonce");
	sim_count(r->s, "authorize");
	if (!(app = id_find_client(r, p.client_id)))
		goto out;
	if (!p.redirect_uri && app->nredirects == 0) {
		id_error(r, 400, "invalid_request", 900971, "No reply address provided.");
		goto out;
	}
	if (!p.redirect_uri)
		p.redirect_uri = xstrdup(app->redirects[0].uri);
	if (!(rd = match_redirect(app, p.redirect_uri))) {
		id_error(
		    r, 400, "invalid_request", 50011,
		    "The redirect URI '%s' specified in the request does not match the redirect "
		    "URIs configured for the application '%s'. Make sure the redirect URI sent in "
		    "the request matches one added to your application in the Azure portal. "
		    "Navigate to https://aka.ms/redirectUriMismatchError to learn more about how "
		    "to fix this.",
		    p.redirect_uri, app->client_id);
		goto out;
	}
	authorize_trusted(r, app, rd, &p);
out:
	authz_free(&p);
}

/* ---- device code ---- */

static char *new_user_code(struct sim *s)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char raw[9];
	char code[10];

	do {
		sim_random_bytes(raw, sizeof raw);
		for (size_t i = 0; i < 9; i++)
			code[i] = alphabet[raw[i] % 32];
		code[9] = '\0';
	} while (sim_map_get(s->user_codes, code));
	return xstrdup(code);
}

static void devicecode(struct idreq *r)
{
	char *client_id = id_form(r, "client_id"), *scope = id_form(r, "scope");
	struct scopes sc = {0};
	struct id_err e = {0};
	struct device_rec *d;
	struct sim_app *app;
	char msg[256];

	sim_count(r->s, "devicecode");
	if (!(app = id_find_client(r, client_id)))
		goto out;
	if (id_parse_scopes(scope, &sc, &e) < 0) {
		id_send_error(r, &e);
		goto out;
	}
	id_scopes_free(&sc);
	d = xcalloc(1, sizeof *d);
	d->device_code = sim_random_b64url("DAQABAAEAAAD", 96);
	d->user_code = new_user_code(r->s);
	d->client_id = xstrdup(app->client_id);
	d->scope = xstrdup(scope);
	d->tid = r->tenant ? xstrdup(r->tenant->id) : NULL;
	d->expires = sim_now(r->s) + 900;
	sim_map_put(r->s->device_codes, d->device_code, d);
	sim_map_put(r->s->user_codes, d->user_code, d);
	snprintf(msg, sizeof msg,
	         "To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
	         "and enter the code %s to authenticate.",
	         d->user_code);
	sim_resp_json(r->resp, 200,
	              json_pack("{s:s,s:s,s:s,s:i,s:i,s:s}", "user_code", d->user_code,
	                        "device_code", d->device_code, "verification_uri",
	                        "https://microsoft.com/devicelogin", "expires_in", 900, "interval",
	                        r->s->device_code_interval, "message", msg));
out:
	free(client_id);
	free(scope);
}

/* GET .../devicecode/approve?user_code=..&user=..[&decline=1]: the user's browser, simulated. */
static void devicecode_approve(struct idreq *r)
{
	char *code = sim_query_param(r->req->query, "user_code");
	char *user = sim_query_param(r->req->query, "user");
	char *decline = sim_query_param(r->req->query, "decline");
	struct error err = {""};

	if (sim_devicecode_approve(r->s, code, user, decline && strcmp(decline, "1") == 0, &err) <
	    0)
		sim_resp_json(r->resp, 400, json_pack("{s:s}", "error", err.msg));
	else
		sim_resp_json(r->resp, 200, json_pack("{s:b}", "ok", 1));
	free(code);
	free(user);
	free(decline);
}

/* ---- routing ---- */

static bool dns_name(const char *s)
{
	if (!strchr(s, '.'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-')
			return false;
	return true;
}

/* Resolves the {tenant} path segment; sends 90002 / 900023 and returns -1 when it cannot. */
static int resolve_tenant(struct idreq *r)
{
	const char *seg = r->segment;

	if (strcasecmp(seg, "common") == 0 || strcasecmp(seg, "organizations") == 0 ||
	    strcasecmp(seg, "consumers") == 0)
		return 0;
	r->tenant = sim_find_tenant(r->s, seg);
	if (r->tenant)
		return 0;
	if (sim_is_guid(seg) || dns_name(seg))
		id_error(
		    r, 400, "invalid_request", 90002,
		    "Tenant '%s' not found. Check to make sure you have the correct tenant ID and "
		    "are signing into the correct cloud. Check with your subscription "
		    "administrator, this may happen if there are no active subscriptions for the "
		    "tenant.",
		    seg);
	else
		id_error(
		    r, 400, "invalid_request", 900023,
		    "Specified tenant identifier '%s' is neither a valid DNS name, nor a valid "
		    "external domain.",
		    seg);
	return -1;
}

enum id_route {
	R_NONE,
	R_TOKEN,
	R_DEVICECODE,
	R_APPROVE,
	R_AUTHORIZE,
	R_OPENID,
	R_INSTANCE,
	R_KEYS
};

static enum id_route classify(const char *rest, const char *method)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	if (strcmp(rest, "oauth2/v2.0/token") == 0 && post)
		return R_TOKEN;
	if (strcmp(rest, "oauth2/v2.0/devicecode") == 0 && post)
		return R_DEVICECODE;
	if (strcmp(rest, "oauth2/v2.0/devicecode/approve") == 0 && get)
		return R_APPROVE;
	if (strcmp(rest, "oauth2/v2.0/authorize") == 0 && get)
		return R_AUTHORIZE;
	if (strcmp(rest, "v2.0/.well-known/openid-configuration") == 0 && get)
		return R_OPENID;
	if (strcmp(rest, "discovery/instance") == 0 && get)
		return R_INSTANCE;
	if (strcmp(rest, "discovery/v2.0/keys") == 0 && get)
		return R_KEYS;
	return R_NONE;
}

bool sim_identity_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	struct idreq r = {.s = s, .req = req, .resp = resp};
	const char *seg = req->path + 1, *slash = strchr(seg, '/'), *host;
	enum id_route route;

	if (req->path[0] != '/' || !slash || (size_t)(slash - seg) >= sizeof r.segment ||
	    strcmp(seg, "_sim") == 0 || strncmp(seg, "_sim/", 5) == 0)
		return false;
	route = classify(slash + 1, req->method);
	if (route == R_NONE)
		return false;
	memcpy(r.segment, seg, (size_t)(slash - seg));
	host = sim_req_header(req, "Host");
	snprintf(r.base, sizeof r.base, "%s://%s", s->tls ? "https" : "http",
	         host ? host : "127.0.0.1");
	if (route == R_INSTANCE) {
		instance_discovery(&r);
		return true;
	}
	if (route == R_KEYS) {
		sim_resp_json(resp, 200, json_pack("{s:[]}", "keys"));
		return true;
	}
	if (resolve_tenant(&r) < 0)
		return true;
	switch (route) {
	case R_TOKEN:
		id_token_endpoint(&r);
		break;
	case R_DEVICECODE:
		devicecode(&r);
		break;
	case R_APPROVE:
		devicecode_approve(&r);
		break;
	case R_AUTHORIZE:
		authorize(&r);
		break;
	default:
		openid_configuration(&r);
		break;
	}
	return true;
}
