/* `leavesync auth login`: the three ways to connect a mailbox for Graph delegated access
 * (ENTRA v2-oauth2-device-code and v2-oauth2-auth-code-flow, with PKCE per RFC 7636; ENTRA =
 * https://learn.microsoft.com/en-us/entra/identity-platform/), then the refresh token goes into the
 * store.
 *
 * Device code and loopback + PKCE are public-client flows: the secret is never sent (AADSTS700025).
 * Loopback: Entra ignores the port of a localhost redirect URI of a public client ("the port
 * component ... is ignored for the purposes of matching a redirect URI", ENTRA reply-url
 * "Localhost exceptions"), so we listen on 127.0.0.1 on the redirect URI's port, or on a free one
 * and send http://localhost:PORT. The Web flow is a confidential client: it sends the secret, and
 * the user pastes back the URL the browser was sent to. Every flow checks `state`. */
#include "engine/login.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/cloud.h"
#include "engine/http.h"
#include "engine/oauth.h"
#include "engine/tokens.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOOPBACK_WAIT_MS (5 * 60 * 1000) /* the user has five minutes to sign in */

struct login {
	const struct config *cfg;
	const struct login_ui *ui;
	struct oauth_app app; /* public client view: no secret */
	struct oauth_app web; /* confidential view: with the secret */
	struct http_client *http;
	char scope[256];
};

static void say(const struct login *l, const char *line)
{
	if (l->ui && l->ui->say)
		l->ui->say(l->ui->arg, line);
}

/* ---- query strings ---- */

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* The decoded value of name in an application/x-www-form-urlencoded query; caller frees. */
static char *query_param(const char *query, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *p = query; p && *p;) {
		const char *end = p + strcspn(p, "&#");

		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			struct buf b = BUF_INIT;

			for (const char *v = p + nlen + 1; v < end; v++) {
				if (*v == '%' && v + 2 < end && hexval(v[1]) >= 0 &&
				    hexval(v[2]) >= 0) {
					char c = (char)(hexval(v[1]) * 16 + hexval(v[2]));

					buf_append(&b, &c, 1);
					v += 2;
				} else {
					buf_append(&b, *v == '+' ? " " : v, 1);
				}
			}
			if (!b.data)
				buf_puts(&b, "");
			return buf_steal(&b);
		}
		p = *end == '&' ? end + 1 : end;
		if (*end == '#')
			break;
	}
	return NULL;
}

/* What came back on the redirect URI: code + state, or error + description. */
struct answer {
	char *code, *state, *error, *description;
};

static void answer_free(struct answer *a)
{
	free(a->code);
	free(a->state);
	free(a->error);
	free(a->description);
	memset(a, 0, sizeof *a);
}

static void answer_parse(const char *query, struct answer *a)
{
	a->code = query_param(query, "code");
	a->state = query_param(query, "state");
	a->error = query_param(query, "error");
	a->description = query_param(query, "error_description");
}

static int answer_check(const struct answer *a, const char *state, struct error *err)
{
	if (a->error)
		return error_set(err, "sign-in failed: %s: %s", a->error,
		                 a->description ? a->description : "no description");
	if (!a->state || strcmp(a->state, state) != 0)
		return error_set(err, "the sign-in answer carries the wrong state: it does not "
		                      "belong to this login; run `leavesync auth login` again");
	if (!a->code || !*a->code)
		return error_set(err, "the sign-in answer carries no authorization code");
	return 0;
}

/* ---- device code ---- */

static enum be_status run_device_code(struct login *l, struct oauth_token *tok, struct error *err)
{
	struct oauth_device_code dc;
	struct oauth_error oe;
	enum be_status st;

	st = oauth_device_code_start(l->http, &l->app, l->scope, &dc, &oe, err);
	if (st != BE_OK)
		return st;
	say(l, dc.message);
	st = oauth_device_code_poll(l->http, &l->app, &dc, tok, &oe, err);
	oauth_device_code_free(&dc);
	return st;
}

/* ---- loopback redirect with PKCE ---- */

struct loopback {
	char host[64]; /* "localhost" or "127.0.0.1" as the user wrote it */
	int port;      /* 0: any free port */
	char path[256];
};

static int parse_loopback(const char *uri, struct loopback *lb, struct error *err)
{
	static const char *const hosts[] = {"localhost", "127.0.0.1"};
	const char *p;

	memset(lb, 0, sizeof *lb);
	if (strncasecmp(uri, "http://", 7) != 0)
		goto bad;
	p = uri + 7;
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(hosts[i]);

		if (strncasecmp(p, hosts[i], n) == 0 && (!p[n] || p[n] == ':' || p[n] == '/')) {
			snprintf(lb->host, sizeof lb->host, "%s", hosts[i]);
			p += n;
			if (*p == ':') {
				char *end;

				lb->port = (int)strtol(p + 1, &end, 10);
				if (end == p + 1 || lb->port <= 0 || lb->port > 65535)
					goto bad;
				p = end;
			}
			if (strlen(p) >= sizeof lb->path || strchr(p, '?') || strchr(p, '#'))
				goto bad;
			snprintf(lb->path, sizeof lb->path, "%s", p);
			return 0;
		}
	}
bad:
	return error_set(err,
	                 "redirect URI '%s' is not a loopback URI: the loopback sign-in needs "
	                 "http://localhost[:PORT][/PATH], registered under Mobile and desktop "
	                 "applications",
	                 uri);
}

static int listen_loopback(struct loopback *lb, struct error *err)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)lb->port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return error_set(err, "cannot create a socket: %m");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		error_set(err,
		          "cannot listen on 127.0.0.1:%d for the sign-in redirect: %m; choose "
		          "another port in the redirect URI or leave the port out",
		          lb->port);
		close(fd);
		return -1;
	}
	lb->port = ntohs(a.sin_port);
	return fd;
}

/* Reads one request head from c; returns the request target ("/path?query") or NULL. */
static char *read_target(int c)
{
	char req[8192], *sp1, *sp2;
	size_t n = 0;

	while (n < sizeof req - 1) {
		struct pollfd pfd = {c, POLLIN, 0};
		ssize_t r;

		if (poll(&pfd, 1, 10000) <= 0)
			return NULL;
		r = read(c, req + n, sizeof req - 1 - n);
		if (r <= 0)
			return NULL;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	if (strncmp(req, "GET ", 4) != 0)
		return NULL;
	sp1 = req + 4;
	sp2 = strchr(sp1, ' ');
	return sp2 ? xstrndup(sp1, (size_t)(sp2 - sp1)) : NULL;
}

static void reply_page(int c, int status, const char *text)
{
	struct buf body = BUF_INIT, b = BUF_INIT;
	ssize_t w;

	buf_printf(&body, "<!doctype html><title>leavesync</title><p>%s</p>\n", text);
	buf_printf(
	    &b,
	    "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\n"
	    "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n%s",
	    status, status == 200 ? "OK" : "Not Found", body.len, body.data);
	buf_free(&body);
	w = write(c, b.data, b.len);
	(void)w;
	buf_free(&b);
}

/* Waits for the browser's GET on the redirect path; fills a. */
static int accept_answer(int fd, const struct loopback *lb, struct answer *a, struct error *err)
{
	int64_t deadline = now_ms() + LOOPBACK_WAIT_MS;
	const char *want = lb->path[0] ? lb->path : "/";

	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int64_t left = deadline - now_ms();
		char *target;
		size_t plen;
		int c;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return error_set(err,
			                 "no sign-in answer arrived on http://%s:%d%s within 5 "
			                 "minutes: run `leavesync auth login` again",
			                 lb->host, lb->port, lb->path);
		c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		target = read_target(c);
		plen = target ? strcspn(target, "?") : 0;
		if (!target || plen != strlen(want) || strncmp(target, want, plen) != 0) {
			reply_page(c, 404, "Not the sign-in answer.");
			close(c);
			free(target);
			continue;
		}
		answer_parse(target[plen] ? target + plen + 1 : "", a);
		reply_page(c, 200,
		           a->code && !a->error ? "Signed in. You can close this window and "
		                                  "return to leavesync."
		                                : "Sign-in failed. See leavesync for details.");
		close(c);
		free(target);
		return 0;
	}
}

static char *with_login_hint(char *url, const char *mailbox)
{
	char *hint = http_escape(mailbox);
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s&login_hint=%s", url, hint);
	free(hint);
	free(url);
	return buf_steal(&b);
}

static enum be_status run_loopback(struct login *l, const char *mailbox, const char *redirect_uri,
                                   struct oauth_token *tok, struct error *err)
{
	char verifier[65], challenge[64], state[37], redirect[400], *url;
	struct answer a = {0};
	struct loopback lb;
	struct oauth_error oe;
	enum be_status st = BE_FINAL;
	int fd;

	if (parse_loopback(redirect_uri, &lb, err))
		return BE_FINAL;
	fd = listen_loopback(&lb, err);
	if (fd < 0)
		return BE_FINAL;
	snprintf(redirect, sizeof redirect, "http://%s:%d%s", lb.host, lb.port, lb.path);
	oauth_pkce_pair(verifier, challenge);
	uuid_v4(state);
	url = with_login_hint(oauth_authorize_url(&l->app, redirect, l->scope, state, challenge),
	                      mailbox);
	if (l->ui && l->ui->open_url)
		l->ui->open_url(l->ui->arg, url);
	else
		say(l, url);
	free(url);
	if (accept_answer(fd, &lb, &a, err) == 0 && answer_check(&a, state, err) == 0)
		st = oauth_redeem_code(l->http, &l->app, a.code, redirect, l->scope, verifier, tok,
		                       &oe, err);
	close(fd);
	answer_free(&a);
	return st;
}

/* ---- Web redirect with the client secret ---- */

static enum be_status run_web(struct login *l, const char *mailbox, const char *redirect_uri,
                              struct oauth_token *tok, struct error *err)
{
	char verifier[65], challenge[64], state[37], *url, *line;
	struct answer a = {0};
	struct oauth_error oe;
	enum be_status st = BE_FINAL;
	const char *q;

	if (!l->web.client_secret && !l->web.cert_file) {
		error_set(err, "the Web redirect sign-in needs the app's credential: set [graph] "
		               "client_secret (or cert_file and key_file), or use --device-code");
		return BE_FINAL;
	}
	if (!http_url_allowed(redirect_uri)) {
		error_set(err, "redirect URI '%s' must be https (http only for localhost)",
		          redirect_uri);
		return BE_FINAL;
	}
	oauth_pkce_pair(verifier, challenge);
	uuid_v4(state);
	url = with_login_hint(
	    oauth_authorize_url(&l->web, redirect_uri, l->scope, state, challenge), mailbox);
	say(l, "Open this URL in a browser and sign in:");
	say(l, url);
	free(url);
	line = l->ui && l->ui->ask
	           ? l->ui->ask(l->ui->arg, "Paste the URL the browser was sent to (or the code): ")
	           : NULL;
	if (!line || !*line) {
		free(line);
		error_set(err, "no URL or code was pasted");
		return BE_FINAL;
	}
	q = strchr(line, '?');
	if (q || strstr(line, "code=") || strstr(line, "error=")) {
		answer_parse(q ? q + 1 : line, &a);
		if (answer_check(&a, state, err) == 0)
			st = oauth_redeem_code(l->http, &l->web, a.code, redirect_uri, l->scope,
			                       verifier, tok, &oe, err);
	} else { /* a bare code: nothing to check state against */
		st = oauth_redeem_code(l->http, &l->web, line, redirect_uri, l->scope, verifier,
		                       tok, &oe, err);
	}
	answer_free(&a);
	memset(line, 0, strlen(line));
	free(line);
	return st;
}

/* ---- storing the connection ---- */

/* The signed-in account from the access token's claims (diagnostics: tokens stay opaque). */
static char *signed_in_user(const char *access_token)
{
	static const char *const claims[] = {"upn", "preferred_username", "unique_name", "email"};
	char *payload = oauth_jwt_payload(access_token);
	json_t *root = payload ? json_loads(payload, 0, NULL) : NULL;
	char *user = NULL;

	for (size_t i = 0; root && !user && i < sizeof claims / sizeof claims[0]; i++)
		user = xstrdup(json_string_value(json_object_get(root, claims[i])));
	json_decref(root);
	free(payload);
	return user;
}

static bool is_address_of(const char *value, const char *mailbox)
{
	/* proxyAddresses entries are "SMTP:primary" / "smtp:alias" (and other types: "SIP:...") */
	if (value && strncasecmp(value, "smtp:", 5) == 0)
		value += 5;
	return value && strcasecmp(value, mailbox) == 0;
}

/* Is the signed-in account the mailbox? The token's upn or preferred_username answers when it is
 * the mailbox's address; otherwise the account's own addresses decide (GET /me: mail,
 * userPrincipalName, proxyAddresses; [Graph api/user-get], delegated User.Read). Delegated
 * Calendars.ReadWrite reaches only the signed-in user's own calendar, so a sign-in as anyone
 * else would be stored for the mailbox and fail on every sync with 403. */
static int check_identity(struct login *l, const char *mailbox, const struct oauth_token *tok,
                          const char *user, struct error *err)
{
	struct http_request req = {.method = "GET", .bearer = tok->access_token};
	struct http_response resp;
	struct buf url = BUF_INIT;
	json_t *me = NULL, *v;
	bool same = false;
	size_t i;

	if (is_address_of(user, mailbox))
		return 0;
	buf_printf(&url, "%s/me?$select=id,userPrincipalName,mail,proxyAddresses",
	           l->cfg->graph.url);
	req.url = url.data;
	if (http_perform(l->http, &req, &resp, err) != HTTP_OK) {
		buf_free(&url);
		return error_prefix(err, "cannot confirm who signed in (%s is not %s): ",
		                    user ? user : "the account", mailbox);
	}
	buf_free(&url);
	if (resp.status == 200)
		me = json_loadb(resp.body, resp.body_len, 0, NULL);
	same = me && (is_address_of(json_string_value(json_object_get(me, "mail")), mailbox) ||
	              is_address_of(json_string_value(json_object_get(me, "userPrincipalName")),
	                            mailbox));
	json_array_foreach(json_object_get(me, "proxyAddresses"), i, v) same =
	    same || is_address_of(json_string_value(v), mailbox);
	if (!same && resp.status == 200)
		error_set(err,
		          "signed in as %s, which is not %s: nothing was stored. Sign in as %s "
		          "(a private browser window avoids an account already signed in); "
		          "delegated access reaches only the signed-in user's own calendar. One "
		          "identity for many calendars is [graph] mode = application "
		          "(docs/setup.md)",
		          user ? user : json_string_value(json_object_get(me, "userPrincipalName")),
		          mailbox, mailbox);
	else if (!same)
		error_set(err,
		          "cannot confirm that the account signed in (%s) is %s: GET /me answered "
		          "HTTP %ld; the app needs the delegated permission User.Read "
		          "(docs/setup.md); nothing was stored",
		          user ? user : "unknown", mailbox, resp.status);
	json_decref(me);
	http_response_free(&resp);
	return same ? 0 : -1;
}

static int store_connection(struct login *l, const char *mailbox, const struct oauth_token *tok,
                            struct error *err)
{
	struct connection c = {0};
	struct store *st = NULL;
	char *box = xstrdup(mailbox), *user;
	int rc;

	if (!tok->refresh_token) {
		free(box);
		return error_set(err,
		                 "the sign-in returned no refresh token: the scope must include "
		                 "offline_access, and the app needs that permission");
	}
	for (char *p = box; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	user = signed_in_user(tok->access_token);
	if (check_identity(l, box, tok, user, err) < 0) {
		free(user);
		free(box);
		return -1;
	}
	c.mailbox = box;
	c.refresh_token = tok->refresh_token;
	c.scope = tok->scope ? tok->scope : l->scope;
	c.user = user;
	c.needs_login = false;
	rc = store_open(l->cfg->store_path, false, l->cfg->store_group, &st, err);
	if (rc == 0) {
		rc = store_put_connection(st, &c, err);
		store_close(st);
	}
	if (rc == 0 && user) {
		struct buf b = BUF_INIT;

		buf_printf(&b, "Signed in as %s; the refresh token for %s is stored.", user, box);
		say(l, b.data);
		buf_free(&b);
	}
	free(user);
	free(box);
	return rc;
}

/* ---- entry point ---- */

static int login_setup(struct login *l, const struct config *cfg, struct error *err)
{
	const struct service_config *g = &cfg->graph;
	struct http_options opt = {
	    .ca_file = cfg->ca_file, .limits = &cfg->limits.http, .log = &cfg->http_log};

	if (!g->tenant_id || !g->client_id)
		return error_set(err,
		                 "[graph] needs tenant_id and client_id for a delegated sign-in "
		                 "(Entra admin center > App registrations > <app> > Overview)");
	l->app =
	    (struct oauth_app){g->authority, g->tenant_id, g->client_id, NULL, NULL, NULL, NULL};
	l->web = (struct oauth_app){g->authority, g->tenant_id, g->client_id,     g->client_secret,
	                            g->cert_file, g->key_file,  g->cert_algorithm};
	/* the scopes the refresh will ask for (engine/tokens.c): User.Read lets the sign-in be
	 * checked against the mailbox (GET /me) before it is stored, and graph/users.c read the
	 * user */
	snprintf(l->scope, sizeof l->scope, "offline_access %s/Calendars.ReadWrite %s/User.Read",
	         service_resource(g, true), service_resource(g, true));
	l->http = http_client_new(&opt, err);
	return l->http ? 0 : -1;
}

static bool is_loopback_uri(const char *uri)
{
	return uri && strncasecmp(uri, "http://", 7) == 0 && http_url_allowed(uri);
}

int login_run(const struct config *cfg, const char *mailbox, enum login_flow flow,
              const char *redirect_uri, const struct login_ui *ui, struct error *err)
{
	struct login l = {.cfg = cfg, .ui = ui};
	struct oauth_token tok = {0};
	const char *cfg_redirect = cfg->graph.redirect_uri;
	enum be_status st;
	int rc;

	if (!mailbox || !strchr(mailbox, '@'))
		return error_set(err, "--mailbox needs an email address");
	if (login_setup(&l, cfg, err))
		return -1;
	switch (flow) {
	case LOGIN_LOOPBACK_PKCE:
		if (!redirect_uri)
			redirect_uri =
			    is_loopback_uri(cfg_redirect) ? cfg_redirect : "http://localhost";
		st = run_loopback(&l, mailbox, redirect_uri, &tok, err);
		break;
	case LOGIN_WEB_REDIRECT:
		if (!redirect_uri)
			redirect_uri = cfg_redirect;
		if (!redirect_uri) {
			error_set(err,
			          "the Web redirect sign-in needs --redirect-uri or [graph] "
			          "redirect_uri (registered under Web in the app registration)");
			st = BE_FINAL;
			break;
		}
		st = run_web(&l, mailbox, redirect_uri, &tok, err);
		break;
	case LOGIN_DEVICE_CODE:
	default:
		st = run_device_code(&l, &tok, err);
		break;
	}
	rc = st == BE_OK ? store_connection(&l, mailbox, &tok, err) : -1;
	oauth_token_free(&tok);
	http_client_free(l.http);
	return rc;
}
