/* Access-token sources for the backends (engine/tokens.h).
 *
 * One cache per source, keyed by mailbox (app-only sources use one key for all). A token is reused
 * until 5 minutes before it expires (or half its lifetime, for short-lived ones). Several worker
 * threads share a source: one of them refreshes a key while the others wait for its result, so a
 * run makes one token request per key and expiry, not one per thread. The string handed out stays
 * valid after a refresh for 10 minutes (retired, then freed), longer than any HTTP request lasts.
 *
 * Delegated: the refresh token comes from the store; the rotated one is written back before the
 * access token is returned (Entra: "replace the old refresh token with this newly acquired one").
 * A revoked or expired one marks the connection "needs login" with the AADSTS reason.
 *
 * Scopes (documented in docs/graph.md and docs/ews.md): EWS uses https://outlook.office365.com/
 * .default — the audience of Exchange Online does not follow [ews] url, except for the national
 * clouds' hosts below; Graph app-only {graph host}/.default; Graph delegated "offline_access
 * {graph host}/Calendars.ReadWrite {graph host}/User.Read". The simulator accepts the public-cloud
 * audiences. */
#include "engine/tokens.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/aadsts.h"
#include "engine/cloud.h"
#include "engine/config.h"
#include "engine/http.h"
#include "store/store.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REFRESH_MARGIN 300 /* seconds before expiry */
#define FORCE_GRACE 5      /* a token fetched this recently is not fetched again on force */
#define RETIRE_AFTER 600   /* seconds a replaced token string stays valid */

struct entry {
	char *key;          /* lower-case mailbox, or "" for app-only */
	char *token;        /* current access token, NULL before the first */
	int64_t expires_at; /* Unix seconds */
	int64_t fetched_at;
	bool refreshing;        /* a thread is asking the token endpoint for this key */
	unsigned long attempts; /* finished refresh attempts (waiters compare) */
	enum be_status failed;  /* result of the last attempt when it failed, else BE_OK */
	char *fail_msg;
};

struct retired {
	char *token;
	int64_t at;
};

/* A thread's tools for one refresh: an HTTP connection and (delegated) a store connection. */
struct tools {
	struct http_client *http;
	struct store *st;
	struct tools *next;
};

struct src {
	struct token_source ts; /* first: ts.ctx points back here */
	bool delegated;
	bool password_auth;   /* [ews] auth = ntlm | negotiate | basic: no token, HTTP signs in */
	bool send_credential; /* delegated: confidential (Web) client sends its secret */
	struct oauth_app app; /* points at the owned strings below */
	char *authority, *tenant, *client_id, *client_secret, *cert_file, *key_file,
	    *cert_algorithm;
	char *scope, *ca_file, *store_path;
	char *store_group;          /* [store] group (store_open), or NULL */
	const struct http_log *log; /* -v: the config's request log (borrowed), or NULL */
	pthread_mutex_t mu;
	pthread_cond_t done;
	struct entry *entries;
	size_t n, cap;
	struct retired *retired;
	size_t nretired, capretired;
	struct tools *idle;
	long requests;
	struct http_limits limits; /* [limits] of the config; zero: the defaults */
};

/* ---- cache bookkeeping (called with mu held) ---- */

static struct entry *entry_for(struct src *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->entries = xrealloc(s->entries, s->cap * sizeof *s->entries);
	}
	memset(&s->entries[s->n], 0, sizeof s->entries[0]);
	s->entries[s->n].key = xstrdup(key);
	return &s->entries[s->n++];
}

static void wipe_free(char *secret)
{
	if (secret)
		memset(secret, 0, strlen(secret));
	free(secret);
}

static void retire(struct src *s, char *token, int64_t now)
{
	size_t keep = 0;

	for (size_t i = 0; i < s->nretired; i++) {
		if (now - s->retired[i].at > RETIRE_AFTER)
			wipe_free(s->retired[i].token);
		else
			s->retired[keep++] = s->retired[i];
	}
	s->nretired = keep;
	if (!token)
		return;
	if (s->nretired == s->capretired) {
		s->capretired = s->capretired ? s->capretired * 2 : 8;
		s->retired = xrealloc(s->retired, s->capretired * sizeof *s->retired);
	}
	s->retired[s->nretired++] = (struct retired){token, now};
}

static bool fresh_enough(const struct entry *e, int64_t now)
{
	int64_t lifetime = e->expires_at - e->fetched_at;
	int64_t margin = lifetime / 2 < REFRESH_MARGIN ? lifetime / 2 : REFRESH_MARGIN;

	return e->token && e->expires_at - now > margin;
}

/* ---- tools ---- */

static struct tools *tools_take(struct src *s, struct error *err)
{
	struct http_options opt = {.ca_file = s->ca_file, .limits = &s->limits, .log = s->log};
	struct tools *t;

	pthread_mutex_lock(&s->mu);
	t = s->idle;
	if (t)
		s->idle = t->next;
	pthread_mutex_unlock(&s->mu);
	if (t)
		return t;
	t = xcalloc(1, sizeof *t);
	t->http = http_client_new(&opt, err);
	if (!t->http) {
		free(t);
		return NULL;
	}
	return t;
}

static void tools_give(struct src *s, struct tools *t)
{
	pthread_mutex_lock(&s->mu);
	t->next = s->idle;
	s->idle = t;
	pthread_mutex_unlock(&s->mu);
}

static void tools_free(struct tools *t)
{
	while (t) {
		struct tools *next = t->next;

		http_client_free(t->http);
		if (t->st)
			store_close(t->st);
		free(t);
		t = next;
	}
}

/* ---- fetching ---- */

/* Replaces "<mailbox>" in the AADSTS table's fixes with the mailbox. */
static void name_mailbox(struct error *err, const char *mailbox)
{
	char *at = strstr(err->msg, "<mailbox>");
	char rest[ERROR_MAX];

	if (!at)
		return;
	snprintf(rest, sizeof rest, "%s", at + strlen("<mailbox>"));
	snprintf(at, sizeof err->msg - (size_t)(at - err->msg), "%s%s", mailbox, rest);
}

static enum be_status fetch_app(struct src *s, struct tools *t, struct oauth_token *tok,
                                struct error *err)
{
	struct oauth_error oe;

	return oauth_client_credentials(t->http, &s->app, s->scope, tok, &oe, err);
}

/* The refresh grant with the credential choice; flips it once when Entra says the client is
 * public (AADSTS700025: no secret allowed) or confidential (AADSTS7000218: secret required). */
static enum be_status refresh_with(struct src *s, struct tools *t, const char *rt,
                                   struct oauth_token *tok, struct oauth_error *oe,
                                   struct error *err)
{
	bool has_credential = s->client_secret || s->cert_file;
	enum be_status st;

	for (int round = 0;; round++) {
		struct oauth_app app = s->app;
		bool send;

		pthread_mutex_lock(&s->mu);
		send = s->send_credential;
		pthread_mutex_unlock(&s->mu);
		if (!send)
			app.client_secret = app.cert_file = app.key_file = NULL;
		st = oauth_refresh(t->http, &app, rt, s->scope, tok, oe, err);
		if (st == BE_OK || round > 0 || !has_credential ||
		    !((oe->aadsts == 700025 && send) || (oe->aadsts == 7000218 && !send)))
			return st;
		pthread_mutex_lock(&s->mu);
		s->send_credential = !send;
		pthread_mutex_unlock(&s->mu);
	}
}

static enum be_status open_store(struct src *s, struct tools *t, struct error *err)
{
	if (t->st)
		return BE_OK;
	if (store_open(s->store_path, false, s->store_group, &t->st, err) == 0)
		return BE_OK;
	t->st = NULL;
	return BE_FINAL;
}

static enum be_status connection_missing(const char *mailbox, const struct connection *c,
                                         struct error *err)
{
	if (!c)
		error_set(err,
		          "mailbox %s has no delegated connection: run `leavesync auth login "
		          "--mailbox %s`",
		          mailbox, mailbox);
	else
		error_set(err,
		          "mailbox %s needs a new login (%s): run `leavesync auth login "
		          "--mailbox %s`",
		          mailbox, c->reason ? c->reason : "refresh token missing", mailbox);
	return BE_NEEDS_LOGIN;
}

static void mark_needs_login(struct store *st, const char *mailbox, const struct oauth_error *oe)
{
	const struct aadsts_info *info = aadsts_lookup(oe->aadsts);
	struct error ignored;
	char reason[640];

	if (info)
		snprintf(reason, sizeof reason, "AADSTS%ld: %s", oe->aadsts, info->cause);
	else if (oe->description[0])
		snprintf(reason, sizeof reason, "%s", oe->description);
	else
		snprintf(reason, sizeof reason, "%s", oe->error[0] ? oe->error : "refresh failed");
	/* best effort: the run goes on; the next run refreshes again and marks again */
	store_mark_needs_login(st, mailbox, reason, &ignored);
}

static enum be_status store_rotated(struct store *st, const struct connection *c,
                                    const struct oauth_token *tok, struct error *err)
{
	struct connection next = *c;

	next.refresh_token = tok->refresh_token;
	next.scope = tok->scope ? tok->scope : c->scope;
	next.needs_login = false;
	next.reason = NULL;
	if (store_put_connection(st, &next, err) == 0)
		return BE_OK;
	error_prefix(err, "could not store the rotated refresh token of %s: ", c->mailbox);
	return BE_RETRY_LATER;
}

static enum be_status fetch_delegated(struct src *s, struct tools *t, const char *mailbox,
                                      struct oauth_token *tok, struct error *err)
{
	struct connection c;
	struct oauth_error oe;
	enum be_status st = open_store(s, t, err);
	int found;

	if (st != BE_OK)
		return st;
	found = store_get_connection(t->st, mailbox, &c, err);
	if (found < 0)
		return BE_RETRY_LATER;
	if (found == 0 || c.needs_login || !c.refresh_token) {
		st = connection_missing(mailbox, found ? &c : NULL, err);
		connection_free(&c);
		return st;
	}
	st = refresh_with(s, t, c.refresh_token, tok, &oe, err);
	if (st == BE_OK && tok->refresh_token) {
		st = store_rotated(t->st, &c, tok, err);
		if (st != BE_OK)
			oauth_token_free(tok);
	} else if (st == BE_NEEDS_LOGIN) {
		mark_needs_login(t->st, mailbox, &oe);
		name_mailbox(err, mailbox);
		error_prefix(err, "mailbox %s needs a new login: ", mailbox);
	}
	connection_free(&c);
	return st;
}

static enum be_status fetch(struct src *s, const char *key, struct oauth_token *tok,
                            struct error *err)
{
	struct tools *t = tools_take(s, err);
	enum be_status st;

	if (!t)
		return BE_FINAL;
	st = s->delegated ? fetch_delegated(s, t, key, tok, err) : fetch_app(s, t, tok, err);
	tools_give(s, t);
	return st;
}

/* ---- the token_source operation ---- */

static void lower_copy(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < size; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* Records the result of a refresh in e (mu held). */
static void settle(struct src *s, struct entry *e, enum be_status st, struct oauth_token *tok,
                   const struct error *err, int64_t now)
{
	e->refreshing = false;
	e->attempts++;
	free(e->fail_msg);
	e->fail_msg = NULL;
	e->failed = st;
	if (st == BE_OK) {
		retire(s, e->token, now);
		e->token = tok->access_token;
		tok->access_token = NULL;
		e->expires_at = tok->expires_at;
		e->fetched_at = now;
	} else {
		e->fail_msg = xstrdup(err->msg);
	}
	pthread_cond_broadcast(&s->done);
}

static enum be_status source_get(struct token_source *ts, const char *mailbox, bool force_refresh,
                                 const char **token, struct error *err);

/* What a backend sees: a token that cannot be had for a reason of setup (wrong secret, consent,
 * TLS trust) blocks the items instead of failing them, so that the next run retries them once an
 * administrator fixed it. */
static enum be_status source_get_for_backend(struct token_source *ts, const char *mailbox,
                                             bool force_refresh, const char **token,
                                             struct error *err)
{
	enum be_status st = source_get(ts, mailbox, force_refresh, token, err);

	return st == BE_FINAL ? BE_BLOCKED : st;
}

static enum be_status source_get(struct token_source *ts, const char *mailbox, bool force_refresh,
                                 const char **token, struct error *err)
{
	struct src *s = ts->ctx;
	struct oauth_token tok = {0};
	struct error ferr = {""};
	char key[320];
	struct entry *e;
	enum be_status st;
	int64_t now;

	*token = NULL;
	if (s->password_auth)
		return BE_OK; /* engine/http.h signs in with [ews] username and password */
	if (s->delegated && (!mailbox || !*mailbox)) {
		error_set(err, "a delegated token needs a mailbox");
		return BE_FINAL;
	}
	lower_copy(key, sizeof key, s->delegated ? mailbox : "");
	pthread_mutex_lock(&s->mu);
	e = entry_for(s, key);
	for (;;) {
		now = now_unix();
		/* a sticky failure: wrong secret or revoked login will not heal during this run */
		if (e->failed == BE_FINAL || e->failed == BE_NEEDS_LOGIN) {
			st = e->failed;
			error_set(err, "%s", e->fail_msg ? e->fail_msg : "token unavailable");
			pthread_mutex_unlock(&s->mu);
			return st;
		}
		if (fresh_enough(e, now) && (!force_refresh || now - e->fetched_at < FORCE_GRACE)) {
			*token = e->token;
			pthread_mutex_unlock(&s->mu);
			return BE_OK;
		}
		if (!e->refreshing)
			break;
		{
			unsigned long seen = e->attempts;

			while (e->refreshing)
				pthread_cond_wait(&s->done, &s->mu);
			e = entry_for(s, key); /* entries may have moved */
			if (e->attempts != seen && e->failed != BE_OK) {
				st = e->failed;
				error_set(err, "%s",
				          e->fail_msg ? e->fail_msg : "token unavailable");
				pthread_mutex_unlock(&s->mu);
				return st;
			}
			force_refresh = false; /* someone just refreshed it */
		}
	}
	e->refreshing = true;
	s->requests++;
	pthread_mutex_unlock(&s->mu);

	st = fetch(s, key, &tok, &ferr);
	if (st != BE_OK)
		error_set(err, "%s", ferr.msg);

	pthread_mutex_lock(&s->mu);
	e = entry_for(s, key);
	settle(s, e, st, &tok, &ferr, now_unix());
	if (st == BE_OK)
		*token = e->token;
	pthread_mutex_unlock(&s->mu);
	oauth_token_free(&tok);
	return st;
}

/* ---- construction ---- */

static struct src *src_new(const struct oauth_app *app, const char *scope, const char *ca_file)
{
	struct src *s = xcalloc(1, sizeof *s);

	s->authority = xstrdup(app->authority);
	s->tenant = xstrdup(app->tenant);
	s->client_id = xstrdup(app->client_id);
	s->client_secret =
	    app->client_secret && *app->client_secret ? xstrdup(app->client_secret) : NULL;
	s->cert_file = xstrdup(app->cert_file);
	s->key_file = xstrdup(app->key_file);
	s->cert_algorithm = xstrdup(app->cert_algorithm);
	s->app = (struct oauth_app){s->authority, s->tenant,   s->client_id,     s->client_secret,
	                            s->cert_file, s->key_file, s->cert_algorithm};
	s->scope = xstrdup(scope);
	s->ca_file = xstrdup(ca_file);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->done, NULL);
	s->ts.get = source_get_for_backend;
	s->ts.ctx = s;
	return s;
}

static int check_app_fields(const struct oauth_app *app, struct error *err)
{
	if (!app->tenant || !*app->tenant)
		return error_set(err,
		                 "tenant_id is not set: set it to the Directory (tenant) ID "
		                 "from Entra admin center > App registrations > <app> > Overview");
	if (!app->client_id || !*app->client_id)
		return error_set(err,
		                 "client_id is not set: set it to the Application (client) ID "
		                 "from Entra admin center > App registrations > <app> > Overview");
	return 0;
}

struct token_source *token_source_app_new(const struct oauth_app *app, const char *scope,
                                          const char *ca_file, struct error *err)
{
	if (check_app_fields(app, err))
		return NULL;
	if (!(app->client_secret && *app->client_secret) && !app->cert_file) {
		error_set(err, "no client credential: set client_secret (or client_secret_file, or "
		               "the environment variable), or cert_file and key_file");
		return NULL;
	}
	return &src_new(app, scope, ca_file)->ts;
}

static struct token_source *delegated_new(const struct oauth_app *app, const char *scope,
                                          const char *store_path, const char *ca_file,
                                          bool send_credential, struct error *err)
{
	struct src *s;

	if (check_app_fields(app, err))
		return NULL;
	s = src_new(app, scope, ca_file);
	s->delegated = true;
	s->store_path = xstrdup(store_path);
	s->send_credential = send_credential && (s->client_secret || s->cert_file);
	return &s->ts;
}

struct token_source *token_source_delegated_new(const struct oauth_app *app, const char *scope,
                                                const char *store_path, const char *ca_file,
                                                struct error *err)
{
	return delegated_new(app, scope, store_path, ca_file, true, err);
}

void token_source_free(struct token_source *ts)
{
	struct src *s;

	if (!ts)
		return;
	s = ts->ctx;
	for (size_t i = 0; i < s->n; i++) {
		free(s->entries[i].key);
		wipe_free(s->entries[i].token);
		free(s->entries[i].fail_msg);
	}
	free(s->entries);
	for (size_t i = 0; i < s->nretired; i++)
		wipe_free(s->retired[i].token);
	free(s->retired);
	tools_free(s->idle);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->done);
	free(s->authority);
	free(s->tenant);
	free(s->client_id);
	wipe_free(s->client_secret);
	free(s->cert_file);
	free(s->key_file);
	free(s->scope);
	free(s->ca_file);
	free(s->store_path);
	free(s->store_group);
	free(s);
}

long token_source_requests(const struct token_source *ts)
{
	struct src *s = ts ? ts->ctx : NULL;
	long n;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->mu);
	n = s->requests;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- from the config ---- */

/* The resource (audience) for a service URL: national clouds have their own; everything else,
 * including on-premises hosts and the simulator, uses the public cloud's. */
const char *token_resource_for(const char *url, bool graph)
{
	static const struct {
		const char *host, *resource;
		bool graph;
	} clouds[] = {
	    {"graph.microsoft.us", "https://graph.microsoft.us", true},
	    {"dod-graph.microsoft.us", "https://dod-graph.microsoft.us", true},
	    {"microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn", true},
	    {"outlook.office365.us", "https://outlook.office365.us", false},
	    {"outlook-dod.office365.us", "https://outlook-dod.office365.us", false},
	    {"partner.outlook.cn", "https://partner.outlook.cn", false},
	};
	const char *host = url ? strstr(url, "://") : NULL;
	size_t len;

	if (host) {
		host += 3;
		len = strcspn(host, ":/?#");
		for (size_t i = 0; i < sizeof clouds / sizeof clouds[0]; i++)
			if (clouds[i].graph == graph && strlen(clouds[i].host) == len &&
			    strncasecmp(host, clouds[i].host, len) == 0)
				return clouds[i].resource;
	}
	return graph ? "https://graph.microsoft.com" : "https://outlook.office365.com";
}

/* A Web redirect URI (not http loopback) means a confidential client that signs in with its
 * secret, and so refreshes with it; device code and loopback sign-in are public-client flows. */
static bool web_redirect(const char *redirect_uri)
{
	return redirect_uri && *redirect_uri && strncasecmp(redirect_uri, "https://", 8) == 0;
}

struct token_source *token_source_for(const struct config *cfg, const char *backend_name,
                                      struct error *err)
{
	bool graph = backend_name && strcmp(backend_name, "graph") == 0;
	const struct service_config *sc = graph ? &cfg->graph : &cfg->ews;
	struct oauth_app app = {sc->authority, sc->tenant_id, sc->client_id,     sc->client_secret,
	                        sc->cert_file, sc->key_file,  sc->cert_algorithm};
	const char *resource = service_resource(sc, graph);
	struct token_source *ts;
	struct buf scope = BUF_INIT;

	if (!graph && (!backend_name || strcmp(backend_name, "ews") != 0)) {
		error_set(err, "no token source for backend '%s'",
		          backend_name ? backend_name : "");
		return NULL;
	}
	if (!graph && config_ews_password_auth(sc)) {
		/* On-premises: the backend's HTTP client signs in itself (docs/onprem.md); the
		 * source hands out no token. Config loading checked username and password. */
		struct src *s = src_new(&app, "", cfg->ca_file);
		s->password_auth = true;
		return &s->ts;
	}
	if (graph && (!sc->mode || strcmp(sc->mode, "application") != 0)) {
		/* User.Read: GET /me tells which user the mailbox is (graph/users.c) */
		buf_printf(&scope, "offline_access %s/Calendars.ReadWrite %s/User.Read", resource,
		           resource);
		ts = delegated_new(&app, scope.data, cfg->store_path, cfg->ca_file,
		                   web_redirect(sc->redirect_uri), err);
	} else {
		buf_printf(&scope, "%s/.default", resource);
		ts = token_source_app_new(&app, scope.data, cfg->ca_file, err);
	}
	if (!ts)
		error_prefix(err, "[%s] ", graph ? "graph" : "ews");
	if (ts) {
		struct src *s = ts->ctx;

		s->limits = cfg->limits.http;
		s->log = &cfg->http_log;
		s->store_group = cfg->store_group ? xstrdup(cfg->store_group) : NULL;
	}
	buf_free(&scope);
	return ts;
}
