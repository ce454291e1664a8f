/* OAuth, token sources and login against a running m365sim (tests/integration/t1300-oauth.sh starts
 * it and sets SIM_URL and SIM_CA; skipped without them). Uses the simulator's demo tenant
 * (docs/simulator.md) and its control API to play the user's browser. */
#include "engine/config.h"
#include "engine/http.h"
#include "engine/login.h"
#include "engine/oauth.h"
#include "engine/tokens.h"
#include "store/store.h"

#include "common/buf.h"
#include "common/util.h"
#include "tap.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define TENANT "11111111-2222-3333-4444-555555555555"
#define CLIENT "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define SECRET "demo-secret-value~0123456789abcdefghij"
#define SECRET_ID "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f"
#define DELEGATED_SCOPE "offline_access https://graph.microsoft.com/Calendars.ReadWrite"

static const char *sim_url, *sim_ca;
static struct http_client *http;

/* Calls the simulator's control API; returns the HTTP status. */
static long sim_ctl(const char *method, const char *path, const char *json)
{
	char url[512];
	struct http_request req = {.method = method,
	                           .url = url,
	                           .body = json,
	                           .body_len = json ? strlen(json) : 0,
	                           .content_type = json ? "application/json" : NULL};
	struct http_response resp;
	struct error err;
	long status;

	snprintf(url, sizeof url, "%s%s", sim_url, path);
	if (http_perform(http, &req, &resp, &err) != HTTP_OK) {
		printf("# sim_ctl %s %s: %s\n", method, path, err.msg);
		return 0;
	}
	status = resp.status;
	if (status >= 400)
		printf("# sim_ctl %s %s: %ld %s\n", method, path, status, resp.body);
	http_response_free(&resp);
	return status;
}

static void approve(const char *user_code, const char *user)
{
	json_t *j = json_pack("{s:s,s:s}", "user_code", user_code, "user", user);
	char *body = json_dumps(j, JSON_COMPACT);

	is_int(sim_ctl("POST", "/_sim/devicecode/approve", body), 200, "approved %s as %s",
	       user_code, user);
	free(body);
	json_decref(j);
}

static struct oauth_app demo_app(const char *secret)
{
	return (struct oauth_app){
	    .authority = sim_url, .tenant = TENANT, .client_id = CLIENT, .client_secret = secret};
}

static void test_client_credentials(void)
{
	struct oauth_app app = demo_app(SECRET);
	struct oauth_token tok = {0};
	struct oauth_error oe;
	struct error err = {""};
	char *payload;

	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_OK, "client credentials with the secret's value: %s", err.msg);
	payload = oauth_jwt_payload(tok.access_token);
	ok(payload && strstr(payload, "Calendars.ReadWrite"), "app token carries roles: %s",
	   payload ? payload : "(not a JWT)");
	free(payload);
	ok(tok.expires_at > now_unix() + 600, "expires_at in the future");
	oauth_token_free(&tok);

	app.client_secret = "wrong-secret";
	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_FINAL, "wrong secret is final");
	is_int(oe.aadsts, 7000215, "AADSTS7000215");
	ok(strstr(err.msg, "answered HTTP 401 invalid_client AADSTS7000215") &&
	       strstr(err.msg, "Fix: copy the Value column"),
	   "wrong secret message names the fix: %s", err.msg);
	ok(!strstr(err.msg, "wrong-secret"), "the secret is not in the message");

	app.client_secret = SECRET_ID;
	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_FINAL, "secret ID instead of value is final");
	ok(strstr(err.msg, "AADSTS7000215") && strstr(err.msg, "GUID-shaped"),
	   "secret ID message says it is the ID: %s", err.msg);

	app.client_secret = SECRET;
	app.tenant = "22222222-2222-3333-4444-555555555555";
	oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok, &oe,
	                         &err);
	ok(oe.aadsts == 90002 && strstr(err.msg, "Directory (tenant) ID"),
	   "unknown tenant: 90002 with the fix: %s", err.msg);
	app.tenant = TENANT;
	oauth_client_credentials(http, &app, "Calendars.ReadWrite", &tok, &oe, &err);
	ok(oe.aadsts == 1002012 || oe.aadsts == 70011, "a non-.default scope is refused: %s",
	   err.msg);
}

static void *get_token_thread(void *arg)
{
	struct token_source *ts = arg;
	const char *t = NULL;
	struct error err;

	return ts->get(ts, "alice@contoso.com", false, &t, &err) == BE_OK && t ? (void *)t : NULL;
}

static void test_app_source_threads(void)
{
	struct oauth_app app = demo_app(SECRET);
	struct error err = {""};
	struct token_source *ts =
	    token_source_app_new(&app, "https://graph.microsoft.com/.default", sim_ca, &err);
	pthread_t th[8];
	void *got[8];
	int same = 0;

	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, get_token_thread, ts);
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], &got[i]);
		same += got[i] && got[i] == got[0];
	}
	is_int(same, 8, "8 threads got the same token");
	is_int(token_source_requests(ts), 1, "8 concurrent callers made one token request");
	token_source_free(ts);
}

static void test_app_source(void)
{
	struct oauth_app app = demo_app(SECRET);
	struct error err = {""};
	struct token_source *ts =
	    token_source_app_new(&app, "https://outlook.office365.com/.default", sim_ca, &err);
	const char *t1 = NULL, *t2 = NULL;

	if (!ok(ts != NULL, "app source: %s", err.msg))
		return;
	is_int(ts->get(ts, "alice@contoso.com", false, &t1, &err), BE_OK, "first token");
	is_int(ts->get(ts, "bob@contoso.com", false, &t2, &err), BE_OK, "second token");
	ok(t1 && t1 == t2, "the cached token is reused across mailboxes");
	is_int(ts->get(ts, NULL, true, &t2, &err), BE_OK, "force refresh right after fetching");
	is_int(token_source_requests(ts), 1, "one token request in all");
	token_source_free(ts);

	app.client_secret = "wrong";
	ts = token_source_app_new(&app, "https://outlook.office365.com/.default", sim_ca, &err);
	is_int(ts->get(ts, NULL, false, &t1, &err), BE_BLOCKED,
	       "wrong secret: blocked (the setup, not the item)");
	is_int(ts->get(ts, NULL, false, &t1, &err), BE_BLOCKED,
	       "again: blocked, remembered for the run");
	is_int(token_source_requests(ts), 1, "a final failure is not retried in the same run");
	ok(strstr(err.msg, "AADSTS7000215") != NULL, "the message is kept: %s", err.msg);
	token_source_free(ts);
}

static char *device_login(const char *user, struct oauth_token *tok)
{
	struct oauth_app app = demo_app(NULL);
	struct oauth_device_code dc;
	struct oauth_error oe;
	struct error err = {""};

	if (!ok(oauth_device_code_start(http, &app, DELEGATED_SCOPE, &dc, &oe, &err) == BE_OK,
	        "device code started: %s", err.msg))
		return NULL;
	ok(dc.message && dc.user_code && strstr(dc.message, dc.user_code),
	   "message shows the code");
	approve(dc.user_code, user);
	is_int(oauth_device_code_poll(http, &app, &dc, tok, &oe, &err), BE_OK,
	       "device code poll gets a token: %s", err.msg);
	oauth_device_code_free(&dc);
	return tok->refresh_token;
}

static void test_refresh_rotation(void)
{
	struct oauth_app app = demo_app(NULL);
	struct oauth_token tok = {0}, tok2 = {0}, tok3 = {0};
	struct oauth_error oe;
	struct error err = {""};
	char *rt1;

	if (!device_login("alice@contoso.com", &tok) || !tok.refresh_token)
		return;
	rt1 = xstrdup(tok.refresh_token);
	is_int(oauth_refresh(http, &app, rt1, DELEGATED_SCOPE, &tok2, &oe, &err), BE_OK,
	       "refresh: %s", err.msg);
	ok(tok2.refresh_token && strcmp(tok2.refresh_token, rt1) != 0, "a new refresh token");
	is_int(oauth_refresh(http, &app, rt1, DELEGATED_SCOPE, &tok3, &oe, &err), BE_NEEDS_LOGIN,
	       "the replaced refresh token is rejected: %s", err.msg);
	oauth_token_free(&tok3);
	app.client_secret = SECRET;
	oauth_refresh(http, &app, tok2.refresh_token, DELEGATED_SCOPE, &tok3, &oe, &err);
	printf("# public client refresh with a secret: AADSTS%ld\n", oe.aadsts);
	free(rt1);
	oauth_token_free(&tok);
	oauth_token_free(&tok2);
	oauth_token_free(&tok3);
}

static void test_delegated_source(const char *store_path)
{
	struct oauth_app app = demo_app(NULL);
	struct oauth_token tok = {0};
	struct store *st = NULL;
	struct connection c = {0}, got;
	struct error err = {""};
	struct token_source *ts;
	const char *at = NULL;
	char *rt;

	if (!ok(store_open(store_path, true, NULL, &st, &err) == 0, "store: %s", err.msg))
		return;
	if (!device_login("alice@contoso.com", &tok))
		return;
	c.mailbox = "alice@contoso.com";
	c.refresh_token = tok.refresh_token;
	c.user = "alice@contoso.com";
	store_put_connection(st, &c, &err);
	rt = xstrdup(tok.refresh_token);
	oauth_token_free(&tok);

	ts = token_source_delegated_new(&app, DELEGATED_SCOPE, store_path, sim_ca, &err);
	is_int(ts->get(ts, "Alice@contoso.com", false, &at, &err), BE_OK, "delegated token: %s",
	       err.msg);
	store_get_connection(st, "alice@contoso.com", &got, &err);
	ok(got.refresh_token && strcmp(got.refresh_token, rt) != 0,
	   "the rotated refresh token was stored before use");
	connection_free(&got);
	is_int(ts->get(ts, "alice@contoso.com", false, &at, &err), BE_OK, "cached");
	is_int(token_source_requests(ts), 1, "one refresh for two calls");
	is_int(ts->get(ts, "bob@contoso.com", false, &at, &err), BE_NEEDS_LOGIN,
	       "no connection: needs login");
	ok(strstr(err.msg, "mailbox bob@contoso.com has no delegated connection: run `leavesync "
	                   "auth login --mailbox bob@contoso.com`") != NULL,
	   "message: %s", err.msg);
	token_source_free(ts);

	is_int(sim_ctl("POST", "/_sim/refresh/revoke", "{\"user\":\"alice@contoso.com\"}"), 200,
	       "revoke alice's refresh tokens");
	ts = token_source_delegated_new(&app, DELEGATED_SCOPE, store_path, sim_ca, &err);
	is_int(ts->get(ts, "alice@contoso.com", false, &at, &err), BE_NEEDS_LOGIN,
	       "revoked: needs login: %s", err.msg);
	ok(strstr(err.msg, "--mailbox alice@contoso.com") != NULL, "the fix names the mailbox");
	store_get_connection(st, "alice@contoso.com", &got, &err);
	ok(got.needs_login && got.reason && strstr(got.reason, "AADSTS"),
	   "the store says needs login with the AADSTS reason: %s", got.reason ? got.reason : "");
	connection_free(&got);
	token_source_free(ts);
	free(rt);
	store_close(st);
}

/* ---- login_run: the three flows, with the simulator playing the browser ---- */

struct browser {
	char *url; /* the authorize URL shown */
};

static void ui_say_device(void *arg, const char *line)
{
	const char *p = strstr(line, "enter the code ");
	char code[32] = "";

	(void)arg;
	printf("# say: %s\n", line);
	if (p && sscanf(p + 15, "%31s", code) == 1)
		approve(code, "alice@contoso.com");
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* GETs url without following redirects; returns the Location (caller frees) or NULL. */
static char *location_of(const char *url)
{
	CURL *c = curl_easy_init();
	char *loc = NULL, *where = NULL;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, sim_ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(c) == CURLE_OK &&
	    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &where) == CURLE_OK && where)
		loc = xstrdup(where);
	curl_easy_cleanup(c);
	return loc;
}

static void *follow(void *arg)
{
	char *url = arg, *loc = location_of(url);

	if (loc) { /* the browser lands on our loopback listener */
		CURL *c = curl_easy_init();

		curl_easy_setopt(c, CURLOPT_URL, loc);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_perform(c);
		curl_easy_cleanup(c);
	}
	free(loc);
	free(url);
	return NULL;
}

static pthread_t follower;

static void ui_open_url(void *arg, const char *url)
{
	(void)arg;
	ok(strstr(url, "code_challenge_method=S256") && strstr(url, "redirect_uri=http%3A%2F%2F"
	                                                            "localhost%3A"),
	   "loopback authorize URL has PKCE and http://localhost:PORT");
	pthread_create(&follower, NULL, follow, xstrdup(url));
}

static void ui_say_web(void *arg, const char *line)
{
	struct browser *b = arg;

	if (strncmp(line, "https://", 8) == 0) {
		free(b->url);
		b->url = xstrdup(line);
	}
}

static char *ui_ask_web(void *arg, const char *prompt)
{
	struct browser *b = arg;

	(void)prompt;
	return b->url ? location_of(b->url) : NULL;
}

static void check_stored(const char *store_path, const char *mailbox, const char *user,
                         const char *what)
{
	struct store *st = NULL;
	struct connection c;
	struct error err;

	store_open(store_path, false, NULL, &st, &err);
	is_int(store_get_connection(st, mailbox, &c, &err), 1, "%s: connection stored", what);
	ok(c.refresh_token && !c.needs_login, "%s: refresh token, no needs_login", what);
	is_str(c.user, user, "%s: the signed-in user (login_hint)", what);
	connection_free(&c);
	store_close(st);
}

static void test_login(const char *store_path)
{
	struct config cfg;
	struct browser b = {0};
	struct login_ui device = {.say = ui_say_device};
	struct login_ui loopback = {.say = ui_say_device, .open_url = ui_open_url};
	struct login_ui web = {.say = ui_say_web, .ask = ui_ask_web, .arg = &b};
	struct error err = {""};

	memset(&cfg, 0, sizeof cfg);
	cfg.store_path = (char *)store_path;
	cfg.ca_file = (char *)sim_ca;
	cfg.graph.configured = true;
	cfg.graph.tenant_id = TENANT;
	cfg.graph.client_id = CLIENT;
	cfg.graph.authority = (char *)sim_url;
	cfg.graph.mode = "delegated";

	is_int(login_run(&cfg, "alice@contoso.com", LOGIN_DEVICE_CODE, NULL, &device, &err), 0,
	       "device code login: %s", err.msg);
	check_stored(store_path, "alice@contoso.com", "alice@contoso.com", "device code");

	is_int(login_run(&cfg, "carol@contoso.com", LOGIN_LOOPBACK_PKCE, NULL, &loopback, &err), 0,
	       "loopback PKCE login: %s", err.msg);
	pthread_join(follower, NULL);
	check_stored(store_path, "carol@contoso.com", "carol@contoso.com", "loopback");

	is_int(login_run(&cfg, "carol@contoso.com", LOGIN_WEB_REDIRECT,
	                 "https://app.contoso.com/callback", &web, &err),
	       -1, "Web login without a secret is refused");
	ok(strstr(err.msg, "client_secret") != NULL, "the message asks for the secret: %s",
	   err.msg);
	cfg.graph.client_secret = SECRET;
	error_clear(&err);
	is_int(login_run(&cfg, "carol@contoso.com", LOGIN_WEB_REDIRECT,
	                 "https://app.contoso.com/callback", &web, &err),
	       0, "Web redirect login with the secret: %s", err.msg);
	check_stored(store_path, "carol@contoso.com", "carol@contoso.com", "web");
	free(b.url);
}

static void test_tls(void)
{
	struct http_client *plain = http_client_new(NULL, NULL);
	struct http_request req = {.method = "GET", .url = sim_url};
	struct http_response resp;
	struct error err = {""};

	is_int(http_perform(plain, &req, &resp, &err), HTTP_ERR_TLS,
	       "without ca_file the simulator's certificate is refused");
	ok(strstr(err.msg, "certificate not trusted: set [tls] ca_file to the CA that signed the "
	                   "server's certificate") != NULL,
	   "the message names the fix: %s", err.msg);
	http_client_free(plain);
	req.url = "https://127.0.0.1:1/";
	is_int(http_perform(http, &req, &resp, &err), HTTP_ERR_CONNECT,
	       "closed port: connect error");
}

/* With a fixture whose app has a certificate (CERT_FILE, KEY_FILE, CERT_TENANT, CERT_CLIENT). */
static void test_certificate(void)
{
	struct oauth_app app = {.authority = sim_url,
	                        .tenant = getenv("CERT_TENANT"),
	                        .client_id = getenv("CERT_CLIENT"),
	                        .cert_file = getenv("CERT_FILE"),
	                        .key_file = getenv("KEY_FILE")};
	struct oauth_token tok = {0};
	struct oauth_error oe;
	struct error err = {""};
	struct config cfg;
	struct token_source *ts;
	const char *at;

	is_int(oauth_client_credentials(http, &app, "https://outlook.office365.com/.default", &tok,
	                                &oe, &err),
	       BE_OK, "client credentials with a certificate assertion: %s", err.msg);
	oauth_token_free(&tok);
	app.cert_algorithm = "PS256";
	is_int(oauth_client_credentials(http, &app, "https://outlook.office365.com/.default", &tok,
	                                &oe, &err),
	       BE_OK, "and with the PS256 + x5t#S256 assertion the simulator verifies too: %s",
	       err.msg);
	oauth_token_free(&tok);
	app.cert_algorithm = NULL;
	memset(&cfg, 0, sizeof cfg);
	cfg.ca_file = (char *)sim_ca;
	cfg.ews.configured = true;
	cfg.ews.tenant_id = (char *)app.tenant;
	cfg.ews.client_id = (char *)app.client_id;
	cfg.ews.cert_file = (char *)app.cert_file;
	cfg.ews.key_file = (char *)app.key_file;
	cfg.ews.authority = (char *)sim_url;
	ts = token_source_for(&cfg, "ews", &err);
	ok(ts != NULL, "token_source_for ews with cert_file: %s", err.msg);
	if (ts)
		is_int(ts->get(ts, "x@fabrikam.com", false, &at, &err), BE_OK,
		       "EWS token through the certificate: %s", err.msg);
	token_source_free(ts);
	if (getenv("EXPIRED_CLIENT")) {
		struct oauth_app old = {.authority = sim_url,
		                        .tenant = app.tenant,
		                        .client_id = getenv("EXPIRED_CLIENT"),
		                        .client_secret = getenv("EXPIRED_SECRET")};

		oauth_client_credentials(http, &old, "https://outlook.office365.com/.default", &tok,
		                         &oe, &err);
		ok(oe.aadsts == 7000222 && strstr(err.msg, "add a new secret"),
		   "an expired secret: 7000222 with the fix: %s", err.msg);
	}
}

int main(void)
{
	struct error err = {""};
	char store_path[] = "/tmp/test_oauth_live.XXXXXX/store.db";
	char *dir;

	sim_url = getenv("SIM_URL");
	sim_ca = getenv("SIM_CA");
	if (!sim_url || !sim_ca) {
		printf("1..0 # SKIP SIM_URL and SIM_CA not set (run "
		       "tests/integration/t1300-oauth.sh)\n");
		return 0;
	}
	http = http_client_new(&(struct http_options){.ca_file = sim_ca}, &err);
	if (!http) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	dir = xstrndup(store_path, strlen("/tmp/test_oauth_live.XXXXXX"));
	if (getenv("CERT_FILE")) {
		test_certificate();
		http_client_free(http);
		free(dir);
		return done_testing();
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(store_path, sizeof store_path, "%s/store.db", dir);
	test_tls();
	test_client_credentials();
	test_app_source();
	test_app_source_threads();
	test_refresh_rotation();
	test_delegated_source(store_path);
	test_login(store_path);
	http_client_free(http);
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd))
			printf("# could not remove %s\n", dir);
	}
	free(dir);
	return done_testing();
}
