/* leavesync doctor, steps 2-5: reachability of the authority (the tenant's OpenID configuration)
 * and of the service, the redirect URI registration (delegated), the client credentials token and
 * its claims (decoded, never trusted: https://learn.microsoft.com/en-us/entra/identity-platform/
 * access-tokens, "validate only tokens meant for your API"), the delegated connections, and one
 * harmless calendar read through the backend's probe_mailbox. Tokens never leave this file: only
 * their claims' names and values are reported. */
#include "engine/doctor.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/aadsts.h"
#include "engine/cloud.h"
#include "engine/backend.h"
#include "engine/envs.h"
#include "engine/http.h"
#include "engine/oauth.h"
#include "engine/tokens.h"
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PORTAL "Entra admin center > App registrations > <app>"

struct remote {
	const struct config *cfg;
	struct doctor_branch *b;
	struct doctor_report *rep;
	struct http_client *http;
	struct oauth_app app;
	char authority[512]; /* without a trailing slash */
};

static void rname(char *out, size_t size, const struct remote *r, const char *what)
{
	snprintf(out, size, "[%s] %s", r->b->name, what);
}

static bool rfail(struct remote *r, const char *name, const char *cause, const char *fix)
{
	r->b->stopped = true;
	return doctor_add(r->rep, DOCTOR_FAIL, name, cause, fix);
}

/* ---- explaining failures ---- */

static const char *transport_fix(enum http_failure f)
{
	switch (f) {
	case HTTP_ERR_DNS:
		return "check the host name in the URL and this machine's DNS; behind a proxy set "
		       "https_proxy";
	case HTTP_ERR_CONNECT:
		return "check that this machine may reach the host on port 443 (firewall, proxy: "
		       "set https_proxy) and that the URL's host and port are right";
	case HTTP_ERR_TLS:
		return "if a proxy or a private CA signs the server's certificate, set [tls] "
		       "ca_file to that CA's PEM certificate; otherwise check the URL's host name";
	case HTTP_ERR_TIMEOUT:
		return "the server did not answer in time: check the network and proxy, then run "
		       "doctor again";
	default:
		return "check the URL and the network, then run doctor again";
	}
}

/* The AADSTS code named in a message ("... AADSTS7000215: ..."), or 0. */
static long aadsts_in(const char *msg)
{
	const char *p = msg ? strstr(msg, "AADSTS") : NULL;

	return p ? strtol(p + 6, NULL, 10) : 0;
}

/* cause/fix for an identity platform error (from the table when known). */
static void explain_oauth(struct remote *r, const char *name, const char *what, long http_status,
                          long code, const char *description)
{
	const struct aadsts_info *info = aadsts_lookup(code);
	char cause[1400], fix[900];

	if (info) {
		snprintf(cause, sizeof cause, "%s answered HTTP %ld AADSTS%ld (%s): %s", what,
		         http_status, code, info->name, info->cause);
		snprintf(fix, sizeof fix, "%s", info->fix);
		if (code == 90002 && doctor_is_guid(r->app.tenant))
			snprintf(fix, sizeof fix,
			         "compare tenant_id = %s character by character with the Directory "
			         "(tenant) ID in " PORTAL
			         " > Overview; authority must be the login "
			         "host of the tenant's cloud",
			         r->app.tenant);
	} else {
		snprintf(cause, sizeof cause, "%s answered HTTP %ld AADSTS%ld: %s", what,
		         http_status, code,
		         description && *description ? description : "(no description)");
		snprintf(fix, sizeof fix,
		         "look the code up at https://login.microsoftonline.com/error?code=%ld",
		         code);
	}
	rfail(r, name, cause, fix);
}

/* ---- step 2: reachability ---- */

static void check_authority(struct remote *r)
{
	struct http_request req = {.method = "GET"};
	struct http_response resp;
	struct error err = {{0}};
	struct oauth_error oe;
	enum http_failure f;
	char name[64], cause[1400];
	struct buf url = BUF_INIT;

	rname(name, sizeof name, r, "authority and tenant");
	buf_printf(&url, "%s/%s/v2.0/.well-known/openid-configuration", r->authority,
	           r->app.tenant);
	req.url = url.data;
	f = http_perform(r->http, &req, &resp, &err);
	if (f != HTTP_OK) {
		rfail(r, name, err.msg, transport_fix(f));
	} else if (resp.status == 200) {
		snprintf(cause, sizeof cause, "%s.authority_and_tenant|[%s] tenant %s found at %s",
		         r->b->name, r->b->name, r->app.tenant, r->authority);
		doctor_add(r->rep, DOCTOR_OK, cause, NULL, NULL);
	} else if (oauth_parse_error(resp.body, resp.body_len, (int)resp.status, &oe) == 0 &&
	           oe.aadsts) {
		explain_oauth(r, name, "the tenant's OpenID configuration", resp.status, oe.aadsts,
		              oe.description);
	} else {
		snprintf(cause, sizeof cause,
		         "GET %s answered HTTP %ld, not the tenant's OpenID configuration",
		         url.data, resp.status);
		rfail(r, name, cause,
		      "set authority to the login host of the tenant's cloud only (e.g. "
		      "https://login.microsoftonline.com)");
	}
	if (f == HTTP_OK)
		http_response_free(&resp);
	buf_free(&url);
}

static void check_service(struct remote *r)
{
	const char *url = r->b->sc->url;
	struct http_request req = {.method = "GET", .url = url};
	struct http_response resp;
	struct error err = {{0}};
	enum http_failure f;
	char name[600];

	rname(name, sizeof name, r, "service reachable");
	f = http_perform(r->http, &req, &resp, &err);
	if (f != HTTP_OK) {
		rfail(r, name, err.msg, transport_fix(f));
		return;
	}
	/* any HTTP answer proves DNS, TCP and TLS: the service itself is judged by the read */
	snprintf(name, sizeof name,
	         "%s.service_reachable|[%s] service reachable (%s answered HTTP %ld)", r->b->name,
	         r->b->name, url, resp.status);
	doctor_add(r->rep, DOCTOR_OK, name, NULL, NULL);
	http_response_free(&resp);
}

/* Delegated: is the configured redirect URI registered? A GET of the authorize endpoint with
 * prompt=none: Entra shows AADSTS50011 for an unregistered URI, else redirects back to it. */
static void check_redirect_uri(struct remote *r)
{
	const char *uri = r->b->sc->redirect_uri;
	struct http_request req = {.method = "GET"};
	struct http_response resp;
	struct error err = {{0}};
	struct oauth_error oe;
	enum http_failure f;
	char name[64];
	char *cid = http_escape(r->app.client_id), *ru = http_escape(uri);
	struct buf url = BUF_INIT;
	long code = 0;

	memset(&oe, 0, sizeof oe);
	rname(name, sizeof name, r, "redirect_uri registered");
	buf_printf(&url,
	           "%s/%s/oauth2/v2.0/authorize?client_id=%s&response_type=code&redirect_uri=%s&"
	           "scope=openid&prompt=none&state=leavesync-doctor",
	           r->authority, r->app.tenant, cid, ru);
	req.url = url.data;
	f = http_perform(r->http, &req, &resp, &err);
	if (f != HTTP_OK) {
		rfail(r, name, err.msg, transport_fix(f));
		goto out;
	}
	if (oauth_parse_error(resp.body, resp.body_len, (int)resp.status, &oe) == 0 && oe.aadsts)
		code = oe.aadsts;
	else if (resp.status >= 200 && resp.status < 300)
		code = aadsts_in(resp.body); /* Entra's HTML error page */
	if (code == 50011) {
		char cause[900];

		snprintf(
		    cause, sizeof cause,
		    "redirect_uri = %s is not registered for the app (AADSTS50011: redirect URIs "
		    "must match exactly, including case, path and trailing slash; Web and Mobile "
		    "and desktop are separate platforms)",
		    uri);
		rfail(r, name, cause,
		      r->b->web
		          ? "register exactly this URI in " PORTAL
		            " > Authentication > Add a platform > Web, or correct redirect_uri"
		          : "register http://localhost in " PORTAL
		            " > Authentication > Add a platform > Mobile and desktop "
		            "applications, or correct redirect_uri");
	} else if (code) {
		explain_oauth(r, name, "the authorize endpoint", resp.status, code, oe.description);
	} else {
		doctor_add(r->rep, DOCTOR_OK, name, NULL, NULL);
	}
	http_response_free(&resp);
out:
	buf_free(&url);
	free(cid);
	free(ru);
}

/* ---- steps 3-4: token and claims ---- */

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	if (!list)
		return false;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, " ");
		const char *w = p, *slash;

		/* "https://graph.microsoft.com/Calendars.ReadWrite" counts as Calendars.ReadWrite
		 */
		for (slash = p; slash < p + len; slash++)
			if (*slash == '/')
				w = slash + 1;
		if ((size_t)(p + len - w) == n && strncmp(w, word, n) == 0)
			return true;
		p += len;
		while (*p == ' ')
			p++;
	}
	return false;
}

static bool has_role(json_t *roles, const char *role)
{
	size_t i;
	json_t *v;

	json_array_foreach(roles, i, v) if (json_is_string(v) &&
	                                    strcmp(json_string_value(v), role) == 0) return true;
	return false;
}

static bool audience_ok(const char *aud, const char *resource, bool graph)
{
	static const char *const ews_ids[] = {
	    "https://outlook.office365.com", "https://outlook.office365.com/",
	    "https://outlook.office.com", "00000002-0000-0ff1-ce00-000000000000"};
	static const char *const graph_ids[] = {"https://graph.microsoft.com",
	                                        "https://graph.microsoft.com/",
	                                        "00000003-0000-0000-c000-000000000000"};
	const char *const *ids = graph ? graph_ids : ews_ids;
	size_t n = graph ? 3 : 4;

	if (!aud)
		return false;
	if (strcasecmp(aud, resource) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(aud, ids[i]) == 0)
			return true;
	return false;
}

/* Checks aud, tid and roles (app-only) or scp (delegated) of token. */
static void check_claims(struct remote *r, const char *token, const char *who)
{
	const char *resource = service_resource(r->b->sc, r->b->graph);
	const char *need = r->b->graph ? "Calendars.ReadWrite" : "full_access_as_app";
	char *payload = oauth_jwt_payload(token);
	json_t *claims = payload ? json_loads(payload, 0, NULL) : NULL;
	const char *aud, *tid, *scp;
	json_t *roles;
	char name[400], cause[1200], fix[900];

	snprintf(name, sizeof name, "%s.token_claims|[%s] token claims%s", r->b->name, r->b->name,
	         who);
	if (!json_is_object(claims)) {
		doctor_add(r->rep, DOCTOR_WARN, name,
		           "the access token is not a readable JWT, so its claims were not checked",
		           "nothing to do if the calendar read below works");
		goto out;
	}
	aud = json_string_value(json_object_get(claims, "aud"));
	tid = json_string_value(json_object_get(claims, "tid"));
	scp = json_string_value(json_object_get(claims, "scp"));
	roles = json_object_get(claims, "roles");
	if (!audience_ok(aud, resource, r->b->graph)) {
		snprintf(cause, sizeof cause, "the token's audience (aud) is %s, not %s",
		         aud ? aud : "missing", resource);
		rfail(r, name, cause,
		      r->b->graph
		          ? "leave [graph] url at https://graph.microsoft.com/v1.0 (or your "
		            "national cloud's Graph host)"
		          : "leave [ews] url on outlook.office365.com (or your national "
		            "cloud's Exchange host): the scope is derived from it");
	} else if (tid && doctor_is_guid(r->app.tenant) && strcasecmp(tid, r->app.tenant) != 0) {
		snprintf(cause, sizeof cause, "the token was issued by tenant %s, not tenant_id %s",
		         tid, r->app.tenant);
		rfail(r, name, cause,
		      "set tenant_id to the tenant whose mailboxes leavesync writes");
	} else if (!r->b->app_only) {
		if (!has_word(scp, "Calendars.ReadWrite")) {
			snprintf(cause, sizeof cause,
			         "the delegated token's scp (%s) lacks Calendars.ReadWrite",
			         scp ? scp : "missing");
			rfail(r, name, cause,
			      "add Microsoft Graph > Delegated permissions > Calendars.ReadWrite "
			      "in " PORTAL
			      " > API permissions, grant admin consent, then sign in again with "
			      "`leavesync auth login`");
		} else {
			snprintf(name, sizeof name,
			         "%s.token_claims|[%s] token claims%s (aud %s, scp has %s)",
			         r->b->name, r->b->name, who, aud, need);
			doctor_add(r->rep, DOCTOR_OK, name, NULL, NULL);
		}
	} else if (!json_is_array(roles) || json_array_size(roles) == 0) {
		snprintf(cause, sizeof cause,
		         "the app-only token has no roles claim: the application permission %s was "
		         "added but admin consent was not granted, or a delegated permission was "
		         "added where an application permission is needed",
		         need);
		snprintf(fix, sizeof fix,
		         "in " PORTAL " > API permissions > Add a permission > %s > Application "
		         "permissions, add %s (not under Delegated permissions), then click Grant "
		         "admin consent for <tenant> (a Global or Privileged Role Administrator)",
		         r->b->graph ? "Microsoft Graph"
		                     : "APIs my organization uses > Office 365 Exchange Online",
		         need);
		rfail(r, name, cause, fix);
	} else if (!has_role(roles, need)) {
		char *list = json_dumps(roles, JSON_COMPACT);

		snprintf(cause, sizeof cause, "the token's roles %s lack %s%s", list ? list : "[]",
		         need,
		         !r->b->graph && has_role(roles, "Calendars.ReadWrite")
		             ? " (Calendars.ReadWrite is a Microsoft Graph permission; EWS needs "
		               "Office 365 Exchange Online's full_access_as_app)"
		             : "");
		snprintf(fix, sizeof fix,
		         "in " PORTAL " > API permissions > Add a permission > %s > Application "
		         "permissions, add %s, then Grant admin consent for <tenant>",
		         r->b->graph ? "Microsoft Graph"
		                     : "APIs my organization uses > Office 365 Exchange Online",
		         need);
		free(list);
		rfail(r, name, cause, fix);
	} else {
		snprintf(name, sizeof name,
		         "%s.token_claims|[%s] token claims (aud %s, roles has %s)", r->b->name,
		         r->b->name, aud, need);
		doctor_add(r->rep, DOCTOR_OK, name, NULL, NULL);
	}
out:
	json_decref(claims);
	free(payload);
}

static void check_app_token(struct remote *r)
{
	const char *resource = service_resource(r->b->sc, r->b->graph);
	struct oauth_token tok = {0};
	struct oauth_error oe;
	struct error err = {{0}};
	char name[64], scope[200], ok_name[400];
	enum be_status st;

	rname(name, sizeof name, r, "token");
	snprintf(scope, sizeof scope, "%s/.default", resource);
	memset(&oe, 0, sizeof oe);
	st = oauth_client_credentials(r->http, &r->app, scope, &tok, &oe, &err);
	if (st != BE_OK) {
		if (oe.aadsts)
			explain_oauth(r, name, "the token endpoint", oe.http_status, oe.aadsts,
			              oe.description);
		else
			rfail(r, name, err.msg,
			      oe.http_status
			          ? "check authority and tenant_id; run doctor again later "
			            "if the identity platform is unavailable"
			          : transport_fix(HTTP_ERR_OTHER));
		oauth_token_free(&tok);
		return;
	}
	snprintf(ok_name, sizeof ok_name, "%s.token|[%s] token (client credentials, scope %s)",
	         r->b->name, r->b->name, scope);
	doctor_add(r->rep, DOCTOR_OK, ok_name, NULL, NULL);
	check_claims(r, tok.access_token, "");
	oauth_token_free(&tok);
}

/* ---- step 4, delegated: the stored connections ---- */

struct conn_walk {
	struct remote *r;
	size_t n;
	char *first_ok; /* a connected mailbox to read when none was given */
	bool want_found;
	const char *want;
};

static int on_connection(void *arg, const struct connection *c)
{
	struct conn_walk *w = arg;
	struct remote *r = w->r;
	char name[400], cause[1200], fix[400];
	/* Entra's token response does not list offline_access: a stored refresh token proves it */
	bool offline =
	    has_word(c->scope, "offline_access") || (c->refresh_token && *c->refresh_token);

	w->n++;
	if (w->want && strcasecmp(w->want, c->mailbox) == 0)
		w->want_found = true;
	snprintf(name, sizeof name, "%s.connection|[%s] connection %s", r->b->name, r->b->name,
	         c->mailbox);
	snprintf(fix, sizeof fix, "run `leavesync auth login --mailbox %s`", c->mailbox);
	if (c->needs_login) {
		snprintf(cause, sizeof cause, "the connection needs a new sign-in: %s",
		         c->reason && *c->reason ? c->reason : "no reason recorded");
		doctor_add(r->rep, DOCTOR_FAIL, name, cause, fix);
	} else if (!has_word(c->scope, "Calendars.ReadWrite") || !offline) {
		snprintf(cause, sizeof cause,
		         "the granted scope (%s) lacks %s, so leavesync cannot %s",
		         c->scope ? c->scope : "none",
		         has_word(c->scope, "Calendars.ReadWrite") ? "offline_access"
		                                                   : "Calendars.ReadWrite",
		         has_word(c->scope, "Calendars.ReadWrite") ? "refresh it unattended"
		                                                   : "write the calendar");
		snprintf(fix, sizeof fix,
		         "add Microsoft Graph > Delegated permissions > Calendars.ReadWrite and "
		         "offline_access in " PORTAL " > API permissions, then run `leavesync auth "
		         "login --mailbox %s`",
		         c->mailbox);
		doctor_add(r->rep, DOCTOR_FAIL, name, cause, fix);
	} else {
		if (c->user && *c->user && strcasecmp(c->user, c->mailbox) != 0)
			snprintf(name, sizeof name,
			         "%s.connection|[%s] connection %s (signed in as %s)", r->b->name,
			         r->b->name, c->mailbox, c->user);
		doctor_add(r->rep, DOCTOR_OK, name, NULL, NULL);
		if (!w->first_ok)
			w->first_ok = xstrdup(c->mailbox);
	}
	return 0;
}

/* Returns the mailbox to read (owned), or NULL when the branch cannot go on. */
static char *check_connections(struct remote *r, const char *mailbox)
{
	struct conn_walk w = {.r = r, .want = mailbox};
	struct store *st = NULL;
	struct error err = {{0}};
	char name[64], cause[700], fix[400];

	rname(name, sizeof name, r, "connections");
	if (store_open_readonly(r->cfg->store_path, r->cfg->store_group, true, &st, &err) < 0) {
		snprintf(cause, sizeof cause, "no mailbox is connected: %s", err.msg);
		rfail(r, name, cause,
		      "run `leavesync init`, then `leavesync auth login --mailbox EMAIL` for each "
		      "mailbox (docs/setup.md)");
		return NULL;
	}
	if (store_each_connection(st, on_connection, &w, &err) < 0) {
		rfail(r, name, err.msg, "run `leavesync init` to migrate the store");
	} else if (w.n == 0) {
		rfail(
		    r, name, "no mailbox is connected for delegated access",
		    "run `leavesync auth login --mailbox EMAIL` for each mailbox (docs/setup.md)");
	} else if (mailbox && !w.want_found) {
		snprintf(cause, sizeof cause, "%s has no delegated connection", mailbox);
		snprintf(fix, sizeof fix, "run `leavesync auth login --mailbox %s`", mailbox);
		rfail(r, name, cause, fix);
	}
	store_close(st);
	if (r->b->stopped) {
		free(w.first_ok);
		return NULL;
	}
	if (mailbox) {
		free(w.first_ok);
		return xstrdup(mailbox);
	}
	return w.first_ok;
}

/* ---- step 5: the calendar read ---- */

static bool mentions(const char *msg, const char *word)
{
	return strstr(msg, word) != NULL;
}

/* What the server said, in short: its error code ("ErrorAccessDenied") and the HTTP status when
 * the message names them, else the message without the backend's own "Fix:" advice. */
static void server_said(const char *msg, char *out, size_t size)
{
	const char *e = strstr(msg, "Error"), *h = strstr(msg, "HTTP ");
	const char *m = strstr(msg, "MailboxNotEnabledForRESTAPI");
	const char *fix = strstr(msg, " Fix: ");
	int elen = 0;

	if (m)
		e = m;
	if (e)
		elen = (int)strspn(e, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
	if (e && h)
		snprintf(out, size, "server: %.*s, HTTP %ld", elen, e, strtol(h + 5, NULL, 10));
	else if (e)
		snprintf(out, size, "server: %.*s", elen, e);
	else if (h)
		snprintf(out, size, "server: HTTP %ld", strtol(h + 5, NULL, 10));
	else
		snprintf(out, size, "%.*s", fix ? (int)(fix - msg) : (int)strlen(msg), msg);
}

static void explain_probe(struct remote *r, const char *name, const char *mailbox, const char *full)
{
	const char *cid = r->app.client_id;
	char cause[1400], fix[900], msg[600];
	long code = aadsts_in(full);

	server_said(full, msg, sizeof msg);

	if (code) {
		explain_oauth(r, name, "the token endpoint", 400, code, full);
		return;
	}
	if (mentions(msg, "ErrorNonExistentMailbox") ||
	    mentions(msg, "MailboxNotEnabledForRESTAPI") || mentions(msg, "ErrorInvalidUser") ||
	    mentions(msg, "ResourceNotFound")) {
		snprintf(cause, sizeof cause, "%s has no mailbox in this tenant (%s)", mailbox,
		         msg);
		snprintf(
		    fix, sizeof fix,
		    "use the mailbox's primary SMTP address (a typo, a user without an Exchange "
		    "Online licence, or a mailbox hosted on-premises)");
	} else if (r->b->app_only && (mentions(msg, "ErrorImpersonateUserDenied") ||
	                              mentions(msg, "ErrorAccessDenied") ||
	                              mentions(msg, "Access to OData is disabled") ||
	                              (r->b->graph && mentions(msg, "403")))) {
		snprintf(cause, sizeof cause,
		         "the app may not access %s: the mailbox is outside the app's RBAC for "
		         "Applications scope or Application Access Policy (%s)",
		         mailbox, msg);
		snprintf(
		    fix, sizeof fix,
		    "add %s to the management scope of the app's role assignment (or the "
		    "policy's group) and check with Test-ServicePrincipalAuthorization -Identity "
		    "%s -Resource %s (docs/setup.md, Scoping app-only access)",
		    mailbox, cid, mailbox);
	} else if (!r->b->graph && mentions(msg, "403")) {
		snprintf(
		    cause, sizeof cause,
		    "Exchange Online refuses EWS to this app: EWS is disabled for the tenant or "
		    "the app is not in EwsAllowedAppIDs (or the mailbox has a Kiosk/F licence) "
		    "(%s)",
		    msg);
		snprintf(fix, sizeof fix,
		         "an Exchange admin runs Set-OrganizationConfig -EWSEnabled $true "
		         "-EwsAllowedAppIDs \"%s\" (keep the ids already listed), or move to "
		         "[sync] backend = graph",
		         cid);
	} else if (mentions(msg, "ErrorAccessDenied") || mentions(msg, "403")) {
		snprintf(cause, sizeof cause,
		         "the signed-in account of the connection may not write %s's calendar (%s)",
		         mailbox, msg);
		snprintf(
		    fix, sizeof fix,
		    "sign in as the mailbox's owner with `leavesync auth login --mailbox %s`, or "
		    "have the owner share the calendar with edit rights",
		    mailbox);
	} else if (mentions(msg, "401") || mentions(msg, "2000008")) {
		snprintf(cause, sizeof cause, "the service refused the access token (%s)", msg);
		snprintf(fix, sizeof fix,
		         "grant admin consent for the application permission (" PORTAL
		         " > API permissions > Grant admin consent)");
	} else {
		snprintf(cause, sizeof cause, "%s", full);
		snprintf(fix, sizeof fix,
		         "see the message; docs/setup.md (Troubleshooting) lists the codes");
	}
	rfail(r, name, cause, fix);
}

/* Delegated: fetches the connection's token (a refresh) and checks its scp. */
static bool check_delegated_token(struct remote *r, struct token_source *ts, const char *mailbox)
{
	const char *token = NULL;
	struct error err = {{0}};
	char name[400], who[300];
	enum be_status st;

	snprintf(name, sizeof name, "%s.delegated_token|[%s] token for %s", r->b->name, r->b->name,
	         mailbox);
	st = ts->get(ts, mailbox, false, &token, &err);
	if (st != BE_OK) {
		long code = aadsts_in(err.msg);

		if (code)
			explain_oauth(r, name, "the token endpoint", 400, code, err.msg);
		else
			rfail(r, name, err.msg,
			      st == BE_NEEDS_LOGIN
			          ? "run `leavesync auth login --mailbox <mailbox>`"
			          : "check the network, then run doctor again");
		return false;
	}
	doctor_add(r->rep, DOCTOR_OK, name, NULL, NULL);
	snprintf(who, sizeof who, " for %s", mailbox);
	check_claims(r, token, who);
	return !r->b->stopped;
}

/* ---- step 5b: other instances' events in the calendar ---- */

struct instance_count {
	char names[8][SYNC_KEY_INSTANCE_MAX];
	int64_t counts[8];
	size_t n;
	int64_t own, others;
	const char *own_name;
};

static int count_instance(void *arg, struct remote_event *re)
{
	struct instance_count *c = arg;
	char name[SYNC_KEY_INSTANCE_MAX];
	size_t i;

	sync_key_instance(re->ev.sync_key, name);
	if (strcasecmp(name, c->own_name) == 0) {
		c->own++;
		return 0;
	}
	c->others++;
	for (i = 0; i < c->n && strcasecmp(c->names[i], name) != 0; i++)
		;
	if (i == c->n && c->n < 8)
		snprintf(c->names[c->n++], sizeof c->names[0], "%s", name);
	if (i < c->n)
		c->counts[i]++;
	return 0;
}

/* A second store on the same mailboxes (staging, another HR system) is fine as long as its
 * instance differs: say so, since its events are never this store's to repair or delete. */
static void check_instances(struct remote *r, const struct backend *be, struct be_session *s,
                            struct backend_env *env, const char *mailbox)
{
	struct instance_count c = {.own_name = r->cfg->instance ? r->cfg->instance : "default"};
	struct error err = {{0}};
	char name[400], cause[900];
	size_t used = 0;
	int64_t now = now_unix();
	enum be_status st;

	snprintf(name, sizeof name, "%s.instances|[%s] instances in the calendar of %s", r->b->name,
	         r->b->name, mailbox);
	env->also_instance = "*";
	st = be->list_events(s, mailbox, now - 30 * 86400, now + 365 * 86400, count_instance, &c,
	                     &err);
	env->also_instance = NULL;
	if (st != BE_OK) {
		doctor_addf(r->rep, DOCTOR_WARN, name, "run doctor again later",
		            "could not list the tagged events: %s", err.msg);
		return;
	}
	if (!c.others) {
		doctor_add(r->rep, DOCTOR_OK, name, NULL, NULL);
		return;
	}
	used = (size_t)snprintf(cause, sizeof cause,
	                        "%lld tagged events of other leavesync instances (",
	                        (long long)c.others);
	for (size_t i = 0; i < c.n && used < sizeof cause; i++)
		used += (size_t)snprintf(cause + used, sizeof cause - used, "%s\"%s\": %lld",
		                         i ? ", " : "", c.names[i], (long long)c.counts[i]);
	if (used < sizeof cause)
		snprintf(cause + used, sizeof cause - used,
		         ") beside %lld of this one (\"%s\"): this store never repairs or deletes "
		         "them",
		         (long long)c.own, c.own_name);
	doctor_add(r->rep, DOCTOR_WARN, name, cause,
	           "nothing, if another store (staging, a second HR system) writes this mailbox on "
	           "purpose; if an instance was renamed, run `leavesync reconcile "
	           "--adopt-instance OLD` (docs/operations.md)");
}

static void check_read(struct remote *r, const char *mailbox)
{
	const struct backend *be = r->b->graph ? &graph_backend : &ews_backend;
	struct backend_envs envs;
	struct be_session *s = NULL;
	struct error err = {{0}};
	char name[400];
	enum be_status st;

	snprintf(name, sizeof name, "%s.read_calendar|[%s] read the calendar of %s", r->b->name,
	         r->b->name, mailbox);
	backend_envs_init(&envs, r->cfg);
	if (!r->b->app_only && !check_delegated_token(r, envs.env[1].tokens, mailbox))
		goto out;
	st = be->session_open(&envs.env[r->b->graph ? 1 : 0], &s, &err);
	if (st == BE_OK)
		st = be->probe_mailbox(s, mailbox, &err);
	if (st == BE_OK) {
		doctor_add(r->rep, DOCTOR_OK, name, NULL, NULL);
		check_instances(r, be, s, &envs.env[r->b->graph ? 1 : 0], mailbox);
	} else {
		explain_probe(r, name, mailbox, err.msg);
	}
	if (s)
		be->session_close(s);
out:
	backend_envs_free(&envs);
}

/* ---- the branch ---- */

void doctor_check_remote(const struct config *cfg, struct doctor_branch *b, const char *mailbox,
                         struct doctor_report *rep)
{
	const struct service_config *sc = b->sc;
	struct http_options opt = {
	    .ca_file = cfg->ca_file, .limits = &cfg->limits.http, .log = &cfg->http_log};
	struct remote r = {.cfg = cfg, .b = b, .rep = rep};
	struct error err = {{0}};
	size_t n;
	char name[64];
	char *read_mailbox = NULL;

	r.app =
	    (struct oauth_app){sc->authority, sc->tenant_id, sc->client_id,     sc->client_secret,
	                       sc->cert_file, sc->key_file,  sc->cert_algorithm};
	snprintf(r.authority, sizeof r.authority, "%s", sc->authority);
	n = strlen(r.authority);
	while (n && r.authority[n - 1] == '/')
		r.authority[--n] = '\0';
	r.app.authority = r.authority;
	rname(name, sizeof name, &r, "http client");
	if (!(r.http = http_client_new(&opt, &err))) {
		rfail(&r, name, err.msg, "set [tls] ca_file to a readable PEM file, or remove it");
		return;
	}
	check_authority(&r);
	if (!b->stopped)
		check_service(&r);
	if (!b->stopped && !b->app_only && sc->redirect_uri)
		check_redirect_uri(&r);
	if (!b->stopped && b->app_only)
		check_app_token(&r);
	if (!b->stopped && !b->app_only)
		read_mailbox = check_connections(&r, mailbox);
	else if (!b->stopped)
		read_mailbox = xstrdup(mailbox);
	if (!b->stopped && read_mailbox)
		check_read(&r, read_mailbox);
	free(read_mailbox);
	http_client_free(r.http);
}
