/* OAuth 2.0 grants against the Microsoft identity platform v2.0 endpoints (ENTRA
 * v2-oauth2-client-creds-grant-flow, v2-oauth2-auth-code-flow, v2-oauth2-device-code,
 * refresh-tokens, reference-error-codes; ENTRA = https://learn.microsoft.com/en-us/entra/
 * identity-platform/): form-encoded POSTs to {authority}/{tenant}/oauth2/v2.0/token,
 * JSON answers parsed with jansson, errors turned into "cause + fix" messages through the AADSTS
 * table. A public client never sends a secret (AADSTS700025): callers pass an oauth_app without
 * client_secret and cert_file for public-client grants. Never sends an Origin header (Entra refuses
 * client credentials with one). */
#include "engine/oauth.h"

#include "common/buf.h"
#include "common/redact.h"
#include "common/util.h"
#include "engine/aadsts.h"
#include "engine/http.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"

void oauth_token_free(struct oauth_token *t)
{
	if (!t)
		return;
	if (t->access_token)
		memset(t->access_token, 0, strlen(t->access_token));
	if (t->refresh_token)
		memset(t->refresh_token, 0, strlen(t->refresh_token));
	free(t->access_token);
	free(t->refresh_token);
	free(t->scope);
	memset(t, 0, sizeof *t);
}

void oauth_device_code_free(struct oauth_device_code *dc)
{
	if (!dc)
		return;
	free(dc->device_code);
	free(dc->user_code);
	free(dc->verification_uri);
	free(dc->message);
	memset(dc, 0, sizeof *dc);
}

/* ---- URLs and the request form ---- */

static char *endpoint_url(const struct oauth_app *app, const char *endpoint)
{
	const char *auth = app->authority && *app->authority ? app->authority : DEFAULT_AUTHORITY;
	size_t len = strlen(auth);
	struct buf b = BUF_INIT;

	while (len && auth[len - 1] == '/')
		len--;
	buf_append(&b, auth, len);
	buf_printf(&b, "/%s/oauth2/v2.0/%s", app->tenant ? app->tenant : "", endpoint);
	return buf_steal(&b);
}

char *oauth_token_url(const struct oauth_app *app)
{
	return endpoint_url(app, "token");
}

/* A tenant is a GUID or a DNS name: anything else (a path, a placeholder) would build a wrong URL
 * that Entra answers with AADSTS900023. */
static bool tenant_valid(const char *t)
{
	if (!t || !*t || strlen(t) > 253)
		return false;
	for (const char *p = t; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return false;
	return strcmp(t, "common") != 0 && strcmp(t, "organizations") != 0 &&
	       strcmp(t, "consumers") != 0;
}

static int check_app(const struct oauth_app *app, struct error *err)
{
	char *url;
	bool ok;

	if (!app->client_id || !*app->client_id)
		return error_set(err,
		                 "client_id is not set: set it to the Application (client) ID "
		                 "from Entra admin center > App registrations > <app> > Overview");
	if (!tenant_valid(app->tenant))
		return error_set(err,
		                 "tenant_id '%s' is not a tenant GUID or domain: set it to the "
		                 "Directory (tenant) ID from Entra admin center > App "
		                 "registrations > <app> > Overview (never common or organizations)",
		                 app->tenant ? app->tenant : "");
	url = oauth_token_url(app);
	ok = http_url_allowed(url);
	free(url);
	if (!ok)
		return error_set(err,
		                 "authority '%s' is not an https URL: set it to the login host, "
		                 "e.g. %s",
		                 app->authority ? app->authority : "", DEFAULT_AUTHORITY);
	return 0;
}

static void form_add(struct buf *form, const char *name, const char *value)
{
	char *v = http_escape(value);

	if (form->len)
		buf_puts(form, "&");
	buf_printf(form, "%s=%s", name, v);
	free(v);
}

/* The body may hold secrets: wipe it before freeing. */
static void form_free(struct buf *form)
{
	if (form->data)
		memset(form->data, 0, form->len);
	buf_free(form);
}

/* Adds client authentication when the app has a credential: the secret, or a certificate assertion
 * whose audience is the token URL. A public client (neither) sends nothing. */
static int add_client_auth(struct buf *form, const struct oauth_app *app, const char *token_url,
                           struct error *err)
{
	char *jwt;

	if (app->client_secret && *app->client_secret) {
		form_add(form, "client_secret", app->client_secret);
		return 0;
	}
	if (!app->cert_file)
		return 0;
	jwt = oauth_client_assertion(app, token_url, now_unix(), err);
	if (!jwt)
		return -1;
	form_add(form, "client_assertion_type",
	         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
	form_add(form, "client_assertion", jwt);
	free(jwt);
	return 0;
}

/* ---- errors ---- */

static void copy_first_line(char *dst, size_t size, const char *src)
{
	size_t n = strcspn(src, "\r\n");

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int oauth_parse_error(const char *body, size_t len, int http_status, struct oauth_error *oe)
{
	json_t *root, *codes;
	const char *error, *desc;

	memset(oe, 0, sizeof *oe);
	oe->http_status = http_status;
	root = body ? json_loadb(body, len, 0, NULL) : NULL;
	error = json_string_value(json_object_get(root, "error"));
	if (!error) {
		json_decref(root);
		return -1;
	}
	/* the server's words: escaped, cut, and never a credential they may echo */
	redact_text(oe->error, sizeof oe->error, error, strlen(error));
	desc = json_string_value(json_object_get(root, "error_description"));
	if (desc) {
		copy_first_line(oe->description, sizeof oe->description, desc);
		redact_in_place(oe->description, sizeof oe->description);
	}
	codes = json_object_get(root, "error_codes");
	if (json_is_array(codes) && json_is_integer(json_array_get(codes, 0)))
		oe->aadsts = (long)json_integer_value(json_array_get(codes, 0));
	else if (desc && strncmp(desc, "AADSTS", 6) == 0)
		oe->aadsts = strtol(desc + 6, NULL, 10);
	json_decref(root);
	return 0;
}

/* The server's description without its "AADSTSnnnn: " prefix. */
static const char *description_text(const struct oauth_error *oe)
{
	const char *d = oe->description;

	if (strncmp(d, "AADSTS", 6) == 0) {
		const char *colon = strchr(d, ':');

		if (colon)
			for (d = colon + 1; *d == ' '; d++)
				;
	}
	return d;
}

void oauth_error_message(const char *url, const struct oauth_error *oe, struct error *err)
{
	char *shown = http_redact_url(url ? url : "");
	const struct aadsts_info *info = aadsts_lookup(oe->aadsts);
	struct buf b = BUF_INIT;

	buf_printf(&b, "token endpoint %s answered HTTP %d", shown, oe->http_status);
	if (oe->error[0])
		buf_printf(&b, " %s", oe->error);
	if (info)
		buf_printf(&b, " AADSTS%ld: %s. Fix: %s", oe->aadsts, info->cause, info->fix);
	else if (oe->aadsts)
		buf_printf(&b, " AADSTS%ld: %s", oe->aadsts, description_text(oe));
	else if (oe->description[0])
		buf_printf(&b, ": %s", oe->description);
	else if (!oe->error[0])
		buf_puts(&b, " without an OAuth error in the body");
	error_set(err, "%s", b.data);
	buf_free(&b);
	free(shown);
}

enum be_status oauth_error_status(const struct oauth_error *oe, bool refresh)
{
	const struct aadsts_info *info = aadsts_lookup(oe->aadsts);

	if (oe->http_status == 0 || oe->http_status >= 500 || oe->http_status == 429 ||
	    strcmp(oe->error, "temporarily_unavailable") == 0 ||
	    strcmp(oe->error, "server_error") == 0 || oe->aadsts == 50196)
		return BE_RETRY_LATER;
	if (refresh && (strcmp(oe->error, "invalid_grant") == 0 ||
	                strcmp(oe->error, "interaction_required") == 0 ||
	                strcmp(oe->error, "consent_required") == 0 ||
	                strcmp(oe->error, "login_required") == 0))
		return BE_NEEDS_LOGIN;
	if (refresh && info && info->needs_login && strcmp(oe->error, "invalid_client") != 0)
		return BE_NEEDS_LOGIN;
	return BE_FINAL;
}

/* A GUID-shaped "secret" is the secret's ID, pasted instead of its Value (what AADSTS7000215 says:
 * tests/data/graph/observed-token-error-7000215-invalid-client-secret.json). */
static bool looks_like_guid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* ---- one call to the token endpoint ---- */

static bool json_is_success(const struct http_response *r)
{
	return r->status == 200;
}

/* 0 with out filled; -1 without an access_token; -2 when a token could not go into a header
 * (a control character: "\r\nX-Injected: yes" must never become a header of the next request). */
static int parse_token(const struct http_response *r, struct oauth_token *out)
{
	json_t *root = json_loadb(r->body, r->body_len, 0, NULL), *exp;
	const char *at = json_string_value(json_object_get(root, "access_token"));
	const char *rt = json_string_value(json_object_get(root, "refresh_token"));
	json_int_t expires_in = 3600;

	if (!at) {
		json_decref(root);
		return -1;
	}
	if (!*at || redact_has_control(at, strlen(at)) ||
	    (rt && redact_has_control(rt, strlen(rt)))) {
		json_decref(root);
		return -2;
	}
	exp = json_object_get(root, "expires_in");
	if (json_is_integer(exp))
		expires_in = json_integer_value(exp);
	else if (json_is_string(exp)) /* v1 endpoints sent a string */
		expires_in = strtoll(json_string_value(exp), NULL, 10);
	memset(out, 0, sizeof *out);
	out->access_token = xstrdup(at);
	out->refresh_token = xstrdup(json_string_value(json_object_get(root, "refresh_token")));
	out->scope = xstrdup(json_string_value(json_object_get(root, "scope")));
	out->expires_at = now_unix() + (expires_in > 0 ? expires_in : 0);
	json_decref(root);
	return 0;
}

static bool body_is_json(const struct http_response *r)
{
	json_t *root = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);
	bool ok = root != NULL;

	json_decref(root);
	return ok;
}

/* POSTs form to url. On a transport failure fills oe->http_status = 0 and err. */
static enum be_status post_form(struct http_client *http, const char *url, const struct buf *form,
                                struct http_response *resp, struct oauth_error *oe,
                                struct error *err)
{
	char rid[37], rid_header[64];
	const char *headers[] = {"Accept: application/json", rid_header,
	                         "return-client-request-id: true", NULL};
	struct http_request req = {.method = "POST",
	                           .url = url,
	                           .content_type = "application/x-www-form-urlencoded",
	                           .body = form->data ? form->data : "",
	                           .body_len = form->len,
	                           .headers = headers};
	enum http_failure f;

	uuid_v4(rid);
	snprintf(rid_header, sizeof rid_header, "client-request-id: %s", rid);
	memset(oe, 0, sizeof *oe);
	f = http_perform(http, &req, resp, err);
	if (f == HTTP_OK)
		return BE_OK;
	error_prefix(err, "cannot reach the token endpoint: ");
	return f == HTTP_ERR_TLS || f == HTTP_ERR_REFUSED ? BE_FINAL : BE_RETRY_LATER;
}

/* Sends one grant and parses the answer into out, or oe + err. */
static enum be_status token_call(struct http_client *http, const char *url, const struct buf *form,
                                 bool refresh, const char *secret, struct oauth_token *out,
                                 struct oauth_error *oe, struct error *err)
{
	struct http_response resp;
	enum be_status st = post_form(http, url, form, &resp, oe, err);

	if (st != BE_OK)
		return st;
	if (json_is_success(&resp)) {
		int rc = parse_token(&resp, out);

		if (rc == 0) {
			http_response_free(&resp);
			return BE_OK;
		}
		if (rc == -2) {
			char *shown = http_redact_url(url);

			error_set(err,
			          "token endpoint %s answered an access or refresh token holding a "
			          "control character (CR, LF or another): refused, never sent in a "
			          "header; the endpoint, or a proxy on the way, is misbehaving",
			          shown);
			free(shown);
			http_response_free(&resp);
			return BE_FINAL;
		}
		st = body_is_json(&resp) ? BE_FINAL : BE_RETRY_LATER;
		if (st == BE_FINAL)
			error_set(
			    err, "token endpoint %s answered HTTP 200 without an access_token (%s)",
			    url, resp.content_type ? resp.content_type : "no content type");
		else /* cut short or garbled on the way (a proxy, a dropped connection) */
			error_set(
			    err,
			    "token endpoint %s answered HTTP 200 with an unreadable body (%s, "
			    "%zu bytes, not JSON): retried; if it persists, check proxies "
			    "between here and the endpoint",
			    url, resp.content_type ? resp.content_type : "no content type",
			    resp.body_len);
		http_response_free(&resp);
		return st;
	}
	oauth_parse_error(resp.body, resp.body_len, (int)resp.status, oe);
	oauth_error_message(url, oe, err);
	if (oe->aadsts == 7000215 && looks_like_guid(secret))
		strncat(err->msg,
		        " The configured client_secret is GUID-shaped: that is the secret's "
		        "ID, not its Value.",
		        sizeof err->msg - strlen(err->msg) - 1);
	st = oauth_error_status(oe, refresh);
	http_response_free(&resp);
	return st;
}

/* ---- grants ---- */

/* The end of every confidential grant: client authentication (secret or assertion) added to the
 * form, which goes to the token endpoint; frees the form and the URL. */
static enum be_status post_grant(struct http_client *http, const struct oauth_app *app, char *url,
                                 struct buf *form, bool refresh, struct oauth_token *out,
                                 struct oauth_error *oe, struct error *err)
{
	enum be_status st;

	if (add_client_auth(form, app, url, err))
		st = BE_FINAL;
	else
		st = token_call(http, url, form, refresh, app->client_secret, out, oe, err);
	form_free(form);
	free(url);
	return st;
}

/* The start of every confidential grant: checks the app, names the grant and the client; returns
 * the token URL (caller passes it to post_grant), or NULL with err set. */
static char *start_grant(const struct oauth_app *app, const char *grant_type, struct buf *form,
                         struct oauth_error *oe, struct error *err)
{
	memset(oe, 0, sizeof *oe);
	if (check_app(app, err))
		return NULL;
	form_add(form, "grant_type", grant_type);
	form_add(form, "client_id", app->client_id);
	return oauth_token_url(app);
}

enum be_status oauth_client_credentials(struct http_client *http, const struct oauth_app *app,
                                        const char *scope, struct oauth_token *out,
                                        struct oauth_error *oe, struct error *err)
{
	struct buf form = BUF_INIT;
	char *url;

	if (!(url = start_grant(app, "client_credentials", &form, oe, err)))
		return BE_FINAL;
	if (!(app->client_secret && *app->client_secret) && !app->cert_file) {
		error_set(err, "no client credential: set client_secret (or client_secret_file, or "
		               "the environment variable), or cert_file and key_file");
		form_free(&form);
		free(url);
		return BE_FINAL;
	}
	form_add(&form, "scope", scope);
	return post_grant(http, app, url, &form, false, out, oe, err);
}

enum be_status oauth_refresh(struct http_client *http, const struct oauth_app *app,
                             const char *refresh_token, const char *scope, struct oauth_token *out,
                             struct oauth_error *oe, struct error *err)
{
	struct buf form = BUF_INIT;
	char *url;

	if (!(url = start_grant(app, "refresh_token", &form, oe, err)))
		return BE_FINAL;
	form_add(&form, "refresh_token", refresh_token ? refresh_token : "");
	if (scope)
		form_add(&form, "scope", scope);
	return post_grant(http, app, url, &form, true, out, oe, err);
}

char *oauth_authorize_url(const struct oauth_app *app, const char *redirect_uri, const char *scope,
                          const char *state, const char *code_challenge)
{
	struct buf q = BUF_INIT;
	char *url = endpoint_url(app, "authorize");

	buf_puts(&q, url);
	free(url);
	buf_puts(&q, "?");
	{
		struct buf form = BUF_INIT;

		form_add(&form, "client_id", app->client_id);
		form_add(&form, "response_type", "code");
		form_add(&form, "redirect_uri", redirect_uri);
		form_add(&form, "response_mode", "query");
		form_add(&form, "scope", scope);
		form_add(&form, "state", state);
		if (code_challenge) {
			form_add(&form, "code_challenge", code_challenge);
			form_add(&form, "code_challenge_method", "S256");
		}
		buf_puts(&q, form.data);
		buf_free(&form);
	}
	return buf_steal(&q);
}

enum be_status oauth_redeem_code(struct http_client *http, const struct oauth_app *app,
                                 const char *code, const char *redirect_uri, const char *scope,
                                 const char *code_verifier, struct oauth_token *out,
                                 struct oauth_error *oe, struct error *err)
{
	struct buf form = BUF_INIT;
	char *url;

	if (!(url = start_grant(app, "authorization_code", &form, oe, err)))
		return BE_FINAL;
	form_add(&form, "scope", scope);
	form_add(&form, "code", code);
	form_add(&form, "redirect_uri", redirect_uri);
	if (code_verifier)
		form_add(&form, "code_verifier", code_verifier);
	return post_grant(http, app, url, &form, false, out, oe, err);
}

/* ---- device code (RFC 8628; ENTRA v2-oauth2-device-code) ---- */

static int json_int_or(json_t *v, int dflt)
{
	if (json_is_integer(v))
		return (int)json_integer_value(v);
	if (json_is_string(v))
		return atoi(json_string_value(v));
	return dflt;
}

static int parse_device_code(const struct http_response *r, struct oauth_device_code *out)
{
	json_t *root = json_loadb(r->body, r->body_len, 0, NULL);
	const char *dc = json_string_value(json_object_get(root, "device_code"));
	const char *uri = json_string_value(json_object_get(root, "verification_uri"));

	if (!uri) /* v1 endpoints spelled it verification_url */
		uri = json_string_value(json_object_get(root, "verification_url"));
	if (!dc) {
		json_decref(root);
		return -1;
	}
	memset(out, 0, sizeof *out);
	out->device_code = xstrdup(dc);
	out->user_code = xstrdup(json_string_value(json_object_get(root, "user_code")));
	out->verification_uri = xstrdup(uri);
	out->message = xstrdup(json_string_value(json_object_get(root, "message")));
	out->interval = json_int_or(json_object_get(root, "interval"), 5);
	out->expires_at = now_unix() + json_int_or(json_object_get(root, "expires_in"), 900);
	if (!out->message) {
		struct buf b = BUF_INIT;

		buf_printf(&b, "To sign in, open %s and enter the code %s.",
		           uri ? uri : "https://microsoft.com/devicelogin",
		           out->user_code ? out->user_code : "");
		out->message = buf_steal(&b);
	}
	json_decref(root);
	return 0;
}

enum be_status oauth_device_code_start(struct http_client *http, const struct oauth_app *app,
                                       const char *scope, struct oauth_device_code *out,
                                       struct oauth_error *oe, struct error *err)
{
	struct buf form = BUF_INIT;
	struct http_response resp;
	enum be_status st;
	char *url;

	memset(oe, 0, sizeof *oe);
	memset(out, 0, sizeof *out);
	if (check_app(app, err))
		return BE_FINAL;
	url = endpoint_url(app, "devicecode");
	form_add(&form, "client_id", app->client_id);
	form_add(&form, "scope", scope);
	st = post_form(http, url, &form, &resp, oe, err);
	if (st == BE_OK) {
		if (resp.status == 200 && parse_device_code(&resp, out) == 0) {
			st = BE_OK;
		} else if (resp.status == 200) {
			error_set(err, "device code endpoint %s answered without a device_code",
			          url);
			st = BE_FINAL;
		} else {
			oauth_parse_error(resp.body, resp.body_len, (int)resp.status, oe);
			oauth_error_message(url, oe, err);
			st = oauth_error_status(oe, false);
		}
		http_response_free(&resp);
	}
	form_free(&form);
	free(url);
	return st;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* What one poll answer means: 1 keep polling, 0 done (st set). */
static int poll_verdict(const struct oauth_error *oe, long *interval_ms, enum be_status *st,
                        struct error *err)
{
	if (strcmp(oe->error, "authorization_pending") == 0)
		return 1;
	if (strcmp(oe->error, "slow_down") == 0) {
		*interval_ms += 5000; /* RFC 8628 §3.5 */
		return 1;
	}
	*st = BE_FINAL;
	if (strcmp(oe->error, "authorization_declined") == 0 ||
	    strcmp(oe->error, "access_denied") == 0)
		error_set(err, "the sign-in was declined at the device login page: run `leavesync "
		               "auth login` again and accept");
	else if (strcmp(oe->error, "expired_token") == 0 || strcmp(oe->error, "code_expired") == 0)
		error_set(err,
		          "the device code expired before the sign-in completed: run `leavesync "
		          "auth login` again and sign in within the time shown");
	else if (strcmp(oe->error, "bad_verification_code") == 0)
		error_set(err, "the token endpoint did not recognise the device code "
		               "(bad_verification_code): run `leavesync auth login` again");
	else
		*st = oauth_error_status(oe, false);
	return 0;
}

enum be_status oauth_device_code_poll(struct http_client *http, const struct oauth_app *app,
                                      const struct oauth_device_code *dc, struct oauth_token *out,
                                      struct oauth_error *oe, struct error *err)
{
	long interval_ms = dc->interval > 0 ? dc->interval * 1000L : 200;
	struct buf form = BUF_INIT;
	enum be_status st = BE_FINAL;
	int transport_failures = 0;
	char *url;

	memset(oe, 0, sizeof *oe);
	if (check_app(app, err))
		return BE_FINAL;
	url = oauth_token_url(app);
	form_add(&form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
	form_add(&form, "client_id", app->client_id);
	form_add(&form, "device_code", dc->device_code ? dc->device_code : "");
	for (;;) {
		if (now_unix() >= dc->expires_at) {
			error_set(err, "the device code expired before the sign-in completed: run "
			               "`leavesync auth login` again and sign in within the time "
			               "shown");
			st = BE_FINAL;
			break;
		}
		sleep_ms(interval_ms);
		error_clear(err);
		st = token_call(http, url, &form, false, NULL, out, oe, err);
		if (st == BE_OK)
			break;
		if (oe->http_status == 0) { /* no answer: try a few more times */
			if (st == BE_FINAL || ++transport_failures > 3)
				break;
			continue;
		}
		transport_failures = 0;
		if (!poll_verdict(oe, &interval_ms, &st, err))
			break;
	}
	form_free(&form);
	free(url);
	return st;
}
