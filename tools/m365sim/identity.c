/* m365sim: the Microsoft identity platform's v2.0 endpoints (ENTRA v2-oauth2-auth-code-flow,
 * v2-oauth2-device-code, v2-oauth2-client-creds-grant-flow, access-tokens): discovery,
 * authorize, devicecode, errors in Entra's JSON shape, scopes and consent, token issuance, and the
 * in-memory state of codes, refresh tokens and device codes. The token endpoint's grants are in
 * identity_token.c. */
#include "common/util.h"
#include "tools/m365sim/identity.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- errors ---- */

int id_fail(struct id_err *e, int status, const char *error, int code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->error = error;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Entra's error body: error_description repeats trace id, correlation id and timestamp. */
static json_t *error_json(struct idreq *r, const struct id_err *e)
{
	const char *cid = sim_req_header(r->req, "client-request-id");
	char trace[37], corr[37], ts[24], uri[96];
	struct buf d = BUF_INIT;
	json_t *j;

	uuid_v4(trace);
	if (cid && sim_is_guid(cid))
		snprintf(corr, sizeof corr, "%s", cid);
	else
		uuid_v4(corr);
	sim_format_aad_time(ts, sim_now(r->s));
	buf_printf(&d, "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
	           e->code, e->msg, trace, corr, ts);
	snprintf(uri, sizeof uri, "https://login.microsoftonline.com/error?code=%d", e->code);
	j = json_pack("{s:s,s:s,s:[i],s:s,s:s,s:s,s:s}", "error", e->error, "error_description",
	              d.data, "error_codes", e->code, "timestamp", ts, "trace_id", trace,
	              "correlation_id", corr, "error_uri", uri);
	buf_free(&d);
	return j;
}

void id_send_error(struct idreq *r, const struct id_err *e)
{
	sim_resp_json(r->resp, e->status, error_json(r, e));
	sim_resp_header(r->resp, "Cache-Control", "no-store, no-cache");
}

void id_error(struct idreq *r, int status, const char *error, int code, const char *fmt, ...)
{
	struct id_err e = {status, error, code, ""};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof e.msg, fmt, ap);
	va_end(ap);
	id_send_error(r, &e);
}

/* ---- request helpers ---- */

char *id_form(const struct idreq *r, const char *name)
{
	if (strcmp(r->req->method, "GET") == 0)
		return sim_query_param(r->req->query, name);
	return sim_query_param(r->req->body, name);
}

struct sim_app *id_find_client(struct idreq *r, const char *client_id)
{
	struct sim_app *app;

	if (!client_id || !*client_id) {
		id_error(r, 400, "invalid_request", 900144,
		         "The request body must contain the following parameter: 'client_id'.");
		return NULL;
	}
	app = sim_find_app(r->s, client_id);
	if (!app ||
	    (r->tenant && strcmp(app->tenant_id, r->tenant->id) != 0 && !app->multitenant)) {
		id_error(
		    r, 400, "unauthorized_client", 700016,
		    "Application with identifier '%s' was not found in the directory '%s'. This "
		    "can happen if the application has not been installed by the administrator of "
		    "the tenant or consented to by any user in the tenant. You may have sent your "
		    "authentication request to the wrong tenant.",
		    client_id, r->segment);
		return NULL;
	}
	if (!r->tenant && !app->multitenant) {
		id_error(
		    r, 400, "invalid_request", 50194,
		    "Application '%s'(%s) is not configured as a multi-tenant application. Usage "
		    "of the /common endpoint is not supported for such applications created after "
		    "'10/15/2018'. Use a tenant-specific endpoint or configure the application to "
		    "be multi-tenant.",
		    app->client_id, app->name);
		return NULL;
	}
	return app;
}

/* ---- scopes and consent ---- */

static const char *const graph_delegated[] = {"Calendars.Read",
                                              "Calendars.ReadWrite",
                                              "Calendars.Read.Shared",
                                              "Calendars.ReadWrite.Shared",
                                              "User.Read",
                                              "User.ReadBasic.All",
                                              "User.Read.All",
                                              "Mail.Read",
                                              "Mail.Send",
                                              "MailboxSettings.Read",
                                              "MailboxSettings.ReadWrite",
                                              NULL};
static const char *const exchange_delegated[] = {"EWS.AccessAsUser.All", "full_access_as_user",
                                                 NULL};

static bool in_list(const char *const *list, const char *name)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcasecmp(list[i], name) == 0)
			return true;
	return false;
}

/* Which resource an application or delegated permission belongs to. */
bool id_resource_has(const char *resource, const char *perm)
{
	bool exchange = strcasecmp(perm, "full_access_as_app") == 0 ||
	                in_list(exchange_delegated, perm) || strncasecmp(perm, "EWS.", 4) == 0;

	if (strcasecmp(perm, "offline_access") == 0 || strcasecmp(perm, "openid") == 0 ||
	    strcasecmp(perm, "profile") == 0 || strcasecmp(perm, "email") == 0)
		return false;
	return strcmp(resource, GRAPH_RESOURCE) == 0 ? !exchange : exchange;
}

static const char *canonical_resource(const char *res, size_t len)
{
	static const struct {
		const char *name, *canon;
	} known[] = {{"https://graph.microsoft.com", GRAPH_RESOURCE},
	             {"00000003-0000-0000-c000-000000000000", GRAPH_RESOURCE},
	             {"https://outlook.office365.com", EXCHANGE_RESOURCE},
	             {"00000002-0000-0ff1-ce00-000000000000", EXCHANGE_RESOURCE},
	             {"https://outlook.office.com", "https://outlook.office.com"}};

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i].name) == len && strncasecmp(res, known[i].name, len) == 0)
			return known[i].canon;
	return NULL;
}

void id_scopes_free(struct scopes *sc)
{
	for (size_t i = 0; i < sc->nperms; i++)
		free(sc->perms[i]);
	free(sc->perms);
	memset(sc, 0, sizeof *sc);
}

static int add_scope(struct scopes *sc, const char *tok, size_t len, struct id_err *e)
{
	const char *slash = NULL, *res = GRAPH_RESOURCE;
	char *perm;

	for (size_t i = 0; i < len; i++)
		if (tok[i] == '/')
			slash = tok + i;
	if (slash) {
		res = canonical_resource(tok, (size_t)(slash - tok));
		if (!res)
			return id_fail(
			    e, 400, "invalid_resource", 500011,
			    "The resource principal named %.*s was not found in the "
			    "tenant. This can happen if the application has not been "
			    "installed by the administrator of the tenant or consented to "
			    "by any user in the tenant. You might have sent your "
			    "authentication request to the wrong tenant.",
			    (int)(slash - tok), tok);
		len -= (size_t)(slash + 1 - tok);
		tok = slash + 1;
	}
	if (sc->resource[0] && strcmp(sc->resource, res) != 0)
		return id_fail(
		    e, 400, "invalid_scope", 28000,
		    "Provided value for the input parameter scope is not valid because it "
		    "contains more than one resource. Request tokens for one resource at a "
		    "time.");
	snprintf(sc->resource, sizeof sc->resource, "%s", res);
	perm = xstrndup(tok, len);
	if (strcmp(perm, ".default") == 0) {
		sc->dot_default = true;
		free(perm);
		return 0;
	}
	if (!in_list(strcmp(res, GRAPH_RESOURCE) == 0 ? graph_delegated : exchange_delegated,
	             perm)) {
		id_fail(
		    e, 400, "invalid_scope", 70011,
		    "The provided value for the input parameter 'scope' is not valid. The scope "
		    "%s/%s is not valid.",
		    res, perm);
		free(perm);
		return -1;
	}
	sc->perms = xrealloc(sc->perms, (sc->nperms + 2) * sizeof *sc->perms);
	sc->perms[sc->nperms++] = perm;
	sc->perms[sc->nperms] = NULL;
	return 0;
}

int id_parse_scopes(const char *scope, struct scopes *out, struct id_err *e)
{
	const char *p = scope;

	memset(out, 0, sizeof *out);
	if (!scope || !*scope)
		return id_fail(e, 400, "invalid_request", 900144,
		               "The request body must contain the following parameter: 'scope'.");
	while (*p) {
		size_t len;
		while (*p == ' ')
			p++;
		len = strcspn(p, " ");
		if (len == 0)
			break;
		if (len == 14 && strncmp(p, "offline_access", len) == 0)
			out->offline_access = true;
		else if (len == 6 && strncmp(p, "openid", len) == 0)
			out->openid = true;
		else if (len == 7 && strncmp(p, "profile", len) == 0)
			out->profile = true;
		else if (len == 5 && strncmp(p, "email", len) == 0)
			out->email = true;
		else if (add_scope(out, p, len, e) < 0) {
			id_scopes_free(out);
			return -1;
		}
		p += len;
	}
	if (!out->resource[0])
		snprintf(out->resource, sizeof out->resource, "%s", GRAPH_RESOURCE);
	return 0;
}

int id_check_consent(const struct sim_app *app, const struct scopes *sc, struct id_err *e)
{
	bool ok = app->admin_consent;

	for (size_t i = 0; ok && i < sc->nperms; i++)
		ok = in_list((const char *const *)app->delegated_permissions, sc->perms[i]);
	if (ok)
		return 0;
	return id_fail(
	    e, 400, "invalid_grant", 65001,
	    "The user or administrator has not consented to use the application with ID "
	    "'%s' named '%s'. Send an interactive authorization request for this user and "
	    "resource.",
	    app->client_id, app->name);
}

/* ---- tokens ---- */

char *id_access_token(struct sim *s, const struct sim_app *app, const char *tid, const char *aud,
                      const struct sim_user *u, json_t *roles, const char *scp, int64_t *exp)
{
	int64_t now = sim_now(s);
	char iss[128], sp_oid[37], uti[37];
	json_t *c;
	char *tok;

	snprintf(iss, sizeof iss, "https://sts.windows.net/%s/", tid);
	uuid_v5(sp_oid, "6ba7b812-9dad-11d1-80b4-00c04fd430c8", app->client_id,
	        strlen(app->client_id));
	uuid_v4(uti);
	*exp = now + s->token_lifetime;
	c = json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "aud", aud,
	              "iss", iss, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
	              (json_int_t)*exp, "app_displayname", app->name, "appid", app->client_id,
	              "appidacr", "1", "idp", iss, "idtyp", u ? "user" : "app", "oid",
	              u ? u->object_id : sp_oid, "sub", u ? u->object_id : sp_oid, "tid", tid,
	              "uti", uti);
	json_object_set_new(c, "ver", json_string("1.0"));
	if (u) {
		json_object_set_new(c, "upn", json_string(u->upn));
		json_object_set_new(c, "unique_name", json_string(u->upn));
		json_object_set_new(c, "name", json_string(u->display_name));
		json_object_set_new(c, "scp", json_string(scp ? scp : ""));
	}
	if (roles && json_array_size(roles))
		json_object_set(c, "roles", roles);
	json_decref(roles);
	tok = sim_jwt_sign(s, c);
	json_decref(c);
	return tok;
}

static char *id_token(struct idreq *r, const struct sim_app *app, const struct sim_user *u,
                      const char *tid)
{
	int64_t now = sim_now(r->s);
	char iss[400];
	json_t *c;
	char *tok;

	snprintf(iss, sizeof iss, "%s/%s/v2.0", r->base, tid);
	c = json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "aud", app->client_id, "iss",
	              iss, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
	              (json_int_t)(now + 3600), "name", u->display_name, "oid", u->object_id,
	              "preferred_username", u->upn, "sub", u->object_id, "tid", tid, "ver", "2.0");
	/* "If present in the authentication request, Authorization Servers MUST include a nonce
	 * Claim in the ID Token with the Claim Value being the nonce value sent in the
	 * Authentication Request." (OpenID Connect Core 1.0 §2; id-token-claims-reference) */
	if (r->nonce)
		json_object_set_new(c, "nonce", json_string(r->nonce));
	tok = sim_jwt_sign(r->s, c);
	json_decref(c);
	return tok;
}

/* Delegated permissions granted to this app for the resource (what "scp" carries). */
static void granted_scopes(const struct sim_app *app, const struct scopes *sc, struct buf *scp,
                           struct buf *scope)
{
	bool graph = strcmp(sc->resource, GRAPH_RESOURCE) == 0;

	for (size_t i = 0; app->delegated_permissions && app->delegated_permissions[i]; i++) {
		const char *p = app->delegated_permissions[i];
		if (!id_resource_has(sc->resource, p))
			continue;
		buf_printf(scp, "%s%s", scp->len ? " " : "", p);
		if (graph)
			buf_printf(scope, "%s%s", scope->len ? " " : "", p);
		else
			buf_printf(scope, "%s%s/%s", scope->len ? " " : "", sc->resource, p);
	}
	if (sc->profile)
		buf_printf(scope, "%sprofile", scope->len ? " " : "");
	if (sc->openid)
		buf_printf(scope, "%sopenid", scope->len ? " " : "");
	if (sc->email)
		buf_printf(scope, "%semail", scope->len ? " " : "");
}

static char *scopes_text(const struct scopes *sc)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sc->nperms; i++)
		buf_printf(&b, "%s%s/%s", b.len ? " " : "", sc->resource, sc->perms[i]);
	if (sc->dot_default)
		buf_printf(&b, "%s%s/.default", b.len ? " " : "", sc->resource);
	if (sc->offline_access)
		buf_printf(&b, "%soffline_access", b.len ? " " : "");
	if (sc->openid)
		buf_printf(&b, "%sopenid", b.len ? " " : "");
	if (sc->profile)
		buf_printf(&b, "%sprofile", b.len ? " " : "");
	return buf_steal(&b);
}

static char *new_refresh_token(struct sim *s, const struct sim_app *app, const struct sim_user *u,
                               const char *tid, const struct scopes *sc, bool public_client)
{
	struct refresh_rec *rt = xcalloc(1, sizeof *rt);
	char *tok = sim_random_b64url("1.AXsA", 96);

	rt->client_id = xstrdup(app->client_id);
	rt->user_oid = xstrdup(u->object_id);
	rt->tid = xstrdup(tid);
	rt->scope = scopes_text(sc);
	rt->public_client = public_client;
	rt->issued = rt->last_used = sim_now(s);
	sim_map_put(s->refresh_tokens, tok, rt);
	return tok;
}

void id_send_user_tokens(struct idreq *r, const struct sim_app *app, const struct sim_user *u,
                         const char *tid, const struct scopes *sc, bool public_client)
{
	struct buf scp = BUF_INIT, scope = BUF_INIT;
	int64_t exp;
	char *at, *ci;
	json_t *body;

	granted_scopes(app, sc, &scp, &scope);
	at = id_access_token(r->s, app, tid, sc->resource, u, NULL, scp.data, &exp);
	body = json_pack("{s:s,s:s,s:i,s:i,s:s}", "token_type", "Bearer", "scope",
	                 scope.data ? scope.data : "", "expires_in", r->s->token_lifetime,
	                 "ext_expires_in", r->s->token_lifetime, "access_token", at);
	free(at);
	if (sc->offline_access) {
		char *rt = new_refresh_token(r->s, app, u, tid, sc, public_client);
		json_object_set_new(body, "refresh_token", json_string(rt));
		free(rt);
	}
	if (sc->openid) {
		char *idt = id_token(r, app, u, tid);
		json_object_set_new(body, "id_token", json_string(idt));
		free(idt);
	}
	if ((ci = id_form(r, "client_info")) && strcmp(ci, "1") == 0) {
		json_t *info = json_pack("{s:s,s:s}", "uid", u->object_id, "utid", tid);
		char *text = json_dumps(info, JSON_COMPACT),
		     *enc = sim_b64url_encode(text, strlen(text));
		json_object_set_new(body, "client_info", json_string(enc));
		free(enc);
		free(text);
		json_decref(info);
	}
	free(ci);
	buf_free(&scp);
	buf_free(&scope);
	sim_resp_json(r->resp, 200, body);
	sim_resp_header(r->resp, "Cache-Control", "no-store, no-cache");
}
