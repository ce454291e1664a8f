/* engine/oauth.c and engine/jwt.c: token endpoint error parsing (recorded samples), messages with
 * cause and fix, status mapping, PKCE, the certificate client assertion (verified with the public
 * key), JWT payload decoding, and the grants against a scripted local HTTP server. */
#include "engine/aadsts.h"
#include "engine/http.h"
#include "engine/oauth.h"

#include "common/util.h"
#include "tap.h"
#include "testdata.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A recorded identity platform answer of tests/data/graph (tests/data/README.md). Never NULL: a
 * missing file is a failed test (testdata.h) and an empty body. */
static char *load_sample(const char *name, size_t *len)
{
	char rel[256];

	snprintf(rel, sizeof rel, "tests/data/graph/%s", name);
	return read_src_file(rel, len);
}

static void test_error_samples(void)
{
	static const struct {
		const char *file, *error;
		long code;
		int http;
	} cases[] = {
	    {"observed-token-error-7000215-invalid-client-secret.json", "invalid_client", 7000215,
	     401},
	    {"observed-token-error-7000218-public-client-flows-disabled.json", "invalid_client",
	     7000218, 401},
	    {"observed-token-error-authorization-pending.json", "authorization_pending", 70016,
	     400},
	    {"token-error-invalid-scope.json", "invalid_scope", 70011, 400},
	    {"token-error-invalid-scope-with-error-uri.json", "invalid_scope", 70011, 400},
	    {"token-client-credentials-error-invalid-scope.json", "invalid_scope", 70011, 400},
	};
	struct oauth_error oe;
	struct error err = {""};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = 0;
		char *body = load_sample(cases[i].file, &len);

		is_int(oauth_parse_error(body, len, cases[i].http, &oe), 0, "%s parses",
		       cases[i].file);
		is_str(oe.error, cases[i].error, "%s: error", cases[i].file);
		is_int(oe.aadsts, cases[i].code, "%s: AADSTS code", cases[i].file);
		ok(strncmp(oe.description, "AADSTS", 6) == 0 && !strchr(oe.description, '\r'),
		   "%s: first line of the description", cases[i].file);
		free(body);
	}

	{
		size_t len = 0;
		char *body =
		    load_sample("observed-token-error-7000215-invalid-client-secret.json", &len);

		oauth_parse_error(body, len, 401, &oe);
		oauth_error_message("https://login.microsoftonline.com/t/oauth2/v2.0/token", &oe,
		                    &err);
		ok(strstr(
		       err.msg,
		       "token endpoint https://login.microsoftonline.com/t/oauth2/v2.0/token"
		       " answered HTTP 401 invalid_client AADSTS7000215: invalid client secret") !=
		       NULL,
		   "message names URL, status, error and code: %s", err.msg);
		ok(strstr(err.msg, "Fix: copy the Value column") != NULL, "message says the fix");
		is_int(oauth_error_status(&oe, false), BE_FINAL, "wrong secret is final");
		is_int(oauth_error_status(&oe, true), BE_FINAL,
		       "wrong secret on refresh is final too");
		free(body);
	}
	ok(oauth_parse_error("<html>proxy</html>", 18, 502, &oe) == -1 && oe.http_status == 502,
	   "a non-JSON body is not an OAuth error");
	is_int(oauth_error_status(&oe, false), BE_RETRY_LATER, "502 is retry later");
	oauth_error_message("https://x/t/oauth2/v2.0/token?secret=1", &oe, &err);
	ok(strstr(err.msg, "HTTP 502 without an OAuth error") && !strstr(err.msg, "secret=1"),
	   "non-JSON message: %s", err.msg);
}

static void test_error_status(void)
{
	const char *revoked =
	    "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: The "
	    "provided authorization code or refresh token has expired\"}";
	struct oauth_error oe;
	struct error err;

	oauth_parse_error(revoked, strlen(revoked), 400, &oe);
	is_int(oe.aadsts, 70008, "code from the description when error_codes is absent");
	is_int(oauth_error_status(&oe, true), BE_NEEDS_LOGIN, "revoked refresh token: needs login");
	is_int(oauth_error_status(&oe, false), BE_FINAL, "invalid_grant elsewhere: final");
	oauth_error_message("https://l/t/oauth2/v2.0/token", &oe, &err);
	ok(strstr(err.msg, "AADSTS70008: the refresh token expired or was revoked. Fix: sign in "
	                   "again") != NULL,
	   "70008 message: %s", err.msg);
	oe.http_status = 429;
	is_int(oauth_error_status(&oe, true), BE_RETRY_LATER, "429 retry later");
	oe.http_status = 503;
	is_int(oauth_error_status(&oe, false), BE_RETRY_LATER, "503 retry later");

	static const long required[] = {90002, 700016,  7000215, 7000222, 50011, 7000218, 700025,
	                                65001, 70011,   1002012, 500011,  50173, 700082,  70008,
	                                70000, 50126,   50020,   50034,   53003, 700024,  50148,
	                                54005, 9002313, 900971,  50076,   50079, 50058,   65004,
	                                70043, 7000112, 50194};
	int missing = 0;

	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		const struct aadsts_info *info = aadsts_lookup(required[i]);

		if (!info || !info->cause[0] || !info->fix[0]) {
			printf("# missing AADSTS%ld\n", required[i]);
			missing++;
		}
	}
	is_int(missing, 0, "the AADSTS table covers the codes admins meet");
	ok(aadsts_lookup(70008)->needs_login && !aadsts_lookup(7000215)->needs_login,
	   "needs_login marks user-session codes only");
	ok(aadsts_lookup(12345) == NULL, "unknown code: NULL");
}

static void test_base64url_and_pkce(void)
{
	char verifier[65], challenge[64], *expect;
	unsigned char digest[32], *dec;
	size_t n;
	char *e = oauth_base64url("\xfb\xff\xfe", 3);

	is_str(e, "-__-", "base64url alphabet");
	free(e);
	e = oauth_base64url("ab", 2);
	is_str(e, "YWI", "no padding");
	dec = oauth_base64url_decode(e, strlen(e), &n);
	ok(dec && n == 2 && memcmp(dec, "ab", 2) == 0, "decode round trip");
	free(dec);
	free(e);
	ok(oauth_base64url_decode("a+b/", 4, &n) == NULL, "standard base64 characters are refused");

	oauth_pkce_pair(verifier, challenge);
	is_int((long long)strlen(verifier), 64, "verifier is 64 characters (43..128)");
	ok(strspn(verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
	       64,
	   "verifier uses unreserved characters");
	EVP_Digest(verifier, strlen(verifier), digest, NULL, EVP_sha256(), NULL);
	expect = oauth_base64url(digest, sizeof digest);
	is_str(challenge, expect, "challenge = base64url(sha256(verifier))");
	is_int((long long)strlen(challenge), 43, "challenge is 43 characters");
	free(expect);
	{
		char v2[65], c2[64];

		oauth_pkce_pair(v2, c2);
		ok(strcmp(v2, verifier) != 0, "two verifiers differ");
	}
}

static json_t *decode_part(const char *s, size_t len)
{
	size_t n;
	unsigned char *raw = oauth_base64url_decode(s, len, &n);
	json_t *j = raw ? json_loadb((char *)raw, n, 0, NULL) : NULL;

	free(raw);
	return j;
}

static void check_assertion(const char *jwt, const char *cert_path, bool pss)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	json_t *h, *c;
	FILE *f = fopen(cert_path, "r");
	X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
	EVP_PKEY *pub = X509_get_pubkey(cert);
	unsigned char dg[32], *sig;
	unsigned int dl;
	size_t sl;
	char *x5t;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	fclose(f);
	if (!ok(d1 && d2, "assertion has three parts"))
		return;
	h = decode_part(jwt, (size_t)(d1 - jwt));
	c = decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
	is_str(json_string_value(json_object_get(h, "alg")), pss ? "PS256" : "RS256",
	       "header alg %s", pss ? "PS256" : "RS256");
	is_str(json_string_value(json_object_get(h, "typ")), "JWT", "header typ JWT");
	X509_digest(cert, EVP_sha256(), dg, &dl);
	x5t = oauth_base64url(dg, dl);
	is_str(json_string_value(json_object_get(h, "x5t#S256")), x5t,
	       "x5t#S256 = base64url(SHA-256(DER))");
	free(x5t);
	X509_digest(cert, EVP_sha1(), dg, &dl);
	x5t = oauth_base64url(dg, dl);
	if (pss)
		ok(!json_object_get(h, "x5t"), "PS256: the SHA-256 thumbprint only (no x5t)");
	else
		is_str(json_string_value(json_object_get(h, "x5t")), x5t,
		       "x5t = base64url(SHA-1(DER))");
	free(x5t);
	is_str(json_string_value(json_object_get(c, "aud")),
	       "https://login.microsoftonline.com/tid/oauth2/v2.0/token", "aud is the token URL");
	is_str(json_string_value(json_object_get(c, "iss")), "client-1", "iss is the client id");
	is_str(json_string_value(json_object_get(c, "sub")), "client-1", "sub is the client id");
	is_int(json_integer_value(json_object_get(c, "nbf")), 1700000000, "nbf is now");
	is_int(json_integer_value(json_object_get(c, "iat")), 1700000000, "iat is now");
	is_int(json_integer_value(json_object_get(c, "exp")), 1700000600, "exp is now + 600");
	is_int((long long)strlen(json_string_value(json_object_get(c, "jti"))), 36,
	       "jti is a UUID");
	sig = oauth_base64url_decode(d2 + 1, strlen(d2 + 1), &sl);
	{
		EVP_PKEY_CTX *pctx = NULL;

		ok(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pub) == 1 &&
		       (!pss ||
		        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
		         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0)) &&
		       EVP_DigestVerify(ctx, sig, sl, (const unsigned char *)jwt,
		                        (size_t)(d2 - jwt)) == 1,
		   "signature verifies with the certificate's public key (%s)",
		   pss ? "RSA-PSS, salt = digest length" : "PKCS#1 v1.5");
	}
	free(sig);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	X509_free(cert);
	json_decref(h);
	json_decref(c);
}

static void test_assertion(void)
{
	char dir[] = "/tmp/test_oauth.XXXXXX", cmd[1024], cert[300], key[300], other[300];
	struct oauth_app app = {.client_id = "client-1", .tenant = "tid"};
	struct error err = {""};
	char *jwt;

	if (!mkdtemp(dir))
		return;
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	snprintf(other, sizeof other, "%s/other.pem", dir);
	snprintf(cmd, sizeof cmd,
	         "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=leavesync-test "
	         "-keyout %s -out %s >/dev/null 2>&1 && openssl genpkey -algorithm RSA -out %s "
	         ">/dev/null 2>&1",
	         key, cert, other);
	if (!ok(system(cmd) == 0, "openssl made a test certificate"))
		return;
	app.cert_file = cert;
	app.key_file = key;
	jwt = oauth_client_assertion(
	    &app, "https://login.microsoftonline.com/tid/oauth2/v2.0/token", 1700000000, &err);
	ok(jwt != NULL, "assertion built: %s", err.msg);
	if (jwt)
		check_assertion(jwt, cert, false);
	free(jwt);
	app.cert_algorithm = "PS256";
	jwt = oauth_client_assertion(
	    &app, "https://login.microsoftonline.com/tid/oauth2/v2.0/token", 1700000000, &err);
	ok(jwt != NULL, "PS256 assertion built: %s", err.msg);
	if (jwt)
		check_assertion(jwt, cert, true);
	free(jwt);
	app.cert_algorithm = "ES256";
	ok(oauth_client_assertion(&app, "aud", 1, &err) == NULL &&
	       strstr(err.msg, "RS256 or PS256"),
	   "an unknown algorithm is refused: %s", err.msg);
	app.cert_algorithm = NULL;
	app.key_file = other;
	ok(oauth_client_assertion(&app, "aud", 1, &err) == NULL &&
	       strstr(err.msg, "not the private key of cert_file"),
	   "a key that does not match the certificate: %s", err.msg);
	app.key_file = "/nonexistent.pem";
	ok(oauth_client_assertion(&app, "aud", 1, &err) == NULL && strstr(err.msg, "key_file"),
	   "a missing key file is named: %s", err.msg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		printf("# could not remove %s\n", dir);
}

static void test_jwt_payload_and_urls(void)
{
	/* {"alg":"none"}.{"upn":"alice@contoso.com","tid":"t"}.sig */
	char *hdr = oauth_base64url("{\"alg\":\"none\"}", 14);
	const char *claims = "{\"upn\":\"alice@contoso.com\",\"tid\":\"t\"}";
	char *pl = oauth_base64url(claims, strlen(claims)), jwt[512], *got, *url;
	struct oauth_app app = {
	    .authority = "https://login.example/", .tenant = "contoso.com", .client_id = "cid"};

	snprintf(jwt, sizeof jwt, "%s.%s.sig", hdr, pl);
	got = oauth_jwt_payload(jwt);
	is_str(got, claims, "payload decoded");
	free(got);
	ok(oauth_jwt_payload("opaque-token") == NULL, "an opaque token is not a JWT");
	ok(oauth_jwt_payload("a.!!!.c") == NULL, "a bad payload is not a JWT");
	free(hdr);
	free(pl);

	url = oauth_token_url(&app);
	is_str(url, "https://login.example/contoso.com/oauth2/v2.0/token",
	       "token URL without a double slash");
	free(url);
	url = oauth_authorize_url(&app, "http://localhost:5000",
	                          "offline_access Calendars.ReadWrite", "st", "CH");
	is_str(
	    url,
	    "https://login.example/contoso.com/oauth2/v2.0/authorize?client_id=cid&response_type="
	    "code&redirect_uri=http%3A%2F%2Flocalhost%3A5000&response_mode=query&scope="
	    "offline_access%20Calendars.ReadWrite&state=st&code_challenge=CH&code_challenge_"
	    "method=S256",
	    "authorize URL with PKCE");
	free(url);
}

/* ---- a scripted token endpoint on 127.0.0.1 (plain HTTP: loopback is allowed) ---- */

struct script {
	int fd, port;
	const char *const *replies; /* one full HTTP response per connection */
	char bodies[8][2048];       /* request bodies received */
	int served;
};

static void read_request(int c, char *body, size_t size)
{
	char req[16384];
	size_t n = 0;
	char *end = NULL;
	long clen = 0;

	while (n < sizeof req - 1) {
		ssize_t r = read(c, req + n, sizeof req - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (end) {
			char *cl = strcasestr(req, "Content-Length:");

			clen = cl ? atol(cl + 15) : 0;
			if ((size_t)(end + 4 - req) + (size_t)clen <= n)
				break;
		}
	}
	body[0] = '\0';
	if (end)
		snprintf(body, size, "%.*s", (int)clen, end + 4);
}

static void *script_serve(void *arg)
{
	struct script *s = arg;

	for (; s->replies[s->served]; s->served++) {
		int c = accept(s->fd, NULL, NULL);

		if (c < 0)
			break;
		read_request(c, s->bodies[s->served], sizeof s->bodies[0]);
		if (write(c, s->replies[s->served], strlen(s->replies[s->served])) < 0)
			perror("write");
		close(c);
	}
	return NULL;
}

static void script_start(struct script *s, pthread_t *th)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;

	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(s->fd, (struct sockaddr *)&a, sizeof a) || listen(s->fd, 8) ||
	    getsockname(s->fd, (struct sockaddr *)&a, &len))
		perror("listen");
	s->port = ntohs(a.sin_port);
	pthread_create(th, NULL, script_serve, s);
}

static char *reply(const char *status, const char *body)
{
	char *r = xmalloc(strlen(body) + 200);

	sprintf(r,
	        "HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
	        "Content-Length: %zu\r\n\r\n%s",
	        status, strlen(body), body);
	return r;
}

static void test_grants(void)
{
	char *r[6] = {
	    reply("200 OK",
	          "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"AT1\"}"),
	    reply("401 Unauthorized",
	          "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid "
	          "client secret provided.\",\"error_codes\":[7000215]}"),
	    reply("200 OK", "{\"access_token\":\"AT2\",\"refresh_token\":\"RT2\",\"expires_in\":"
	                    "\"60\",\"scope\":\"Calendars.ReadWrite\"}"),
	    reply("400 Bad Request", "{\"error\":\"invalid_grant\",\"error_codes\":[700082],"
	                             "\"error_description\":\"AADSTS700082: expired\"}"),
	    NULL,
	    NULL,
	};
	struct script s = {.replies = (const char *const *)r};
	struct http_client *http = http_client_new(NULL, NULL);
	struct oauth_token tok = {0};
	struct oauth_error oe;
	struct error err = {""};
	char authority[64];
	struct oauth_app app = {.authority = authority,
	                        .tenant = "11111111-2222-3333-4444-555555555555",
	                        .client_id = "cid",
	                        .client_secret = "s3cr3t+/="};
	struct oauth_app pub = app;
	pthread_t th;
	int64_t now = now_unix();

	script_start(&s, &th);
	snprintf(authority, sizeof authority, "http://127.0.0.1:%d", s.port);
	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_OK, "client credentials: ok");
	is_str(tok.access_token, "AT1", "access token");
	ok(tok.expires_at >= now + 3599 && tok.expires_at <= now + 3601,
	   "expires_at from expires_in");
	ok(strstr(s.bodies[0], "grant_type=client_credentials") &&
	       strstr(s.bodies[0], "client_secret=s3cr3t%2B%2F%3D") &&
	       strstr(s.bodies[0], "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"),
	   "form body: %s", s.bodies[0]);
	oauth_token_free(&tok);

	app.client_secret = "0f8fad5b-d9cb-469f-a165-70867728950e";
	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_FINAL, "wrong secret: final");
	ok(strstr(err.msg, "AADSTS7000215") && strstr(err.msg, "Value column") &&
	       strstr(err.msg, "GUID-shaped") && !strstr(err.msg, "0f8fad5b"),
	   "message has code, fix, GUID hint and no secret: %s", err.msg);

	pub.client_secret = NULL;
	is_int(
	    oauth_refresh(http, &pub, "RT1", "offline_access Calendars.ReadWrite", &tok, &oe, &err),
	    BE_OK, "refresh: ok");
	is_str(tok.refresh_token, "RT2", "rotated refresh token returned");
	ok(tok.expires_at >= now + 60 && tok.expires_at <= now + 62, "expires_in as a string");
	ok(strstr(s.bodies[2], "grant_type=refresh_token") &&
	       strstr(s.bodies[2], "refresh_token=RT1") && !strstr(s.bodies[2], "client_secret"),
	   "public client refresh sends no secret: %s", s.bodies[2]);
	oauth_token_free(&tok);
	is_int(oauth_refresh(http, &pub, "RT2", "offline_access", &tok, &oe, &err), BE_NEEDS_LOGIN,
	       "expired refresh token: needs login");
	is_int(oe.aadsts, 700082, "AADSTS code kept");
	pthread_join(th, NULL);
	close(s.fd);
	for (int i = 0; r[i]; i++)
		free(r[i]);
	http_client_free(http);
}

/* A token endpoint (or a proxy) that answers a token unfit for a header, and errors that quote
 * the request's credentials and carry terminal escapes. */
static void test_hostile_token_endpoint(void)
{
	char *r[4] = {
	    reply("200 OK", "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
	                    "\"access_token\":\"AT1\\r\\nX-Injected: yes\"}"),
	    reply("401 Unauthorized",
	          "{\"error\":\"invalid_client\\u001b]0;pwned\\u0007\",\"error_description\":"
	          "\"AADSTS90000: request had Authorization: Bearer eyJ0eXAiOiJKV1QiLCJh.eyJh.c2ln "
	          "and client_secret=s3cr3t+/= \\u001b[2J\"}"),
	    reply("200 OK", "{\"access_token\":\"AT2\",\"refresh_token\":\"RT\\u0007x\"}"),
	    NULL,
	};
	struct script s = {.replies = (const char *const *)r};
	struct http_client *http = http_client_new(NULL, NULL);
	struct oauth_token tok = {0};
	struct oauth_error oe;
	struct error err = {""};
	char authority[64];
	struct oauth_app app = {.authority = authority,
	                        .tenant = "11111111-2222-3333-4444-555555555555",
	                        .client_id = "cid",
	                        .client_secret = "s3cr3t+/="};
	pthread_t th;

	script_start(&s, &th);
	snprintf(authority, sizeof authority, "http://127.0.0.1:%d", s.port);
	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_FINAL, "an access token with CRLF is refused");
	ok(strstr(err.msg, "control character") && !strstr(err.msg, "Injected") &&
	       !tok.access_token,
	   "named, not echoed, not kept: %s", err.msg);
	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_FINAL, "a 401 quoting the request");
	ok(!strchr(err.msg, '\x1b') && !strchr(err.msg, '\x07') && !strstr(err.msg, "eyJ") &&
	       !strstr(err.msg, "s3cr3t") && strstr(err.msg, "[redacted]") &&
	       strstr(err.msg, "\\x1B"),
	   "error and description are escaped and redacted: %s", err.msg);
	ok(!strchr(oe.error, '\x1b') && !strchr(oe.description, '\x1b'),
	   "the parsed fields themselves are safe");
	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_FINAL, "a refresh token with a control character is refused too");
	pthread_join(th, NULL);
	close(s.fd);
	for (int i = 0; r[i]; i++)
		free(r[i]);
	http_client_free(http);
}

static void test_device_code(void)
{
	char *r[6] = {
	    reply("200 OK",
	          "{\"device_code\":\"DC\",\"user_code\":\"ABCD\",\"verification_uri\":"
	          "\"https://microsoft.com/devicelogin\",\"expires_in\":60,\"interval\":0,"
	          "\"message\":\"To sign in, enter ABCD\"}"),
	    reply("400 Bad Request",
	          "{\"error\":\"authorization_pending\",\"error_codes\":[70016]}"),
	    reply("400 Bad Request",
	          "{\"error\":\"authorization_pending\",\"error_codes\":[70016]}"),
	    reply("200 OK",
	          "{\"access_token\":\"AT\",\"refresh_token\":\"RT\",\"expires_in\":3599}"),
	    reply("400 Bad Request", "{\"error\":\"authorization_declined\"}"),
	    NULL,
	};
	struct script s = {.replies = (const char *const *)r};
	struct http_client *http = http_client_new(NULL, NULL);
	struct oauth_device_code dc;
	struct oauth_token tok = {0};
	struct oauth_error oe;
	struct error err = {""};
	char authority[64];
	struct oauth_app app = {
	    .authority = authority, .tenant = "contoso.onmicrosoft.com", .client_id = "cid"};
	pthread_t th;

	script_start(&s, &th);
	snprintf(authority, sizeof authority, "http://127.0.0.1:%d", s.port);
	is_int(oauth_device_code_start(http, &app, "offline_access Calendars.ReadWrite", &dc, &oe,
	                               &err),
	       BE_OK, "device code started");
	is_str(dc.message, "To sign in, enter ABCD", "message to show");
	is_int(oauth_device_code_poll(http, &app, &dc, &tok, &oe, &err), BE_OK,
	       "polled through authorization_pending to a token");
	is_str(tok.refresh_token, "RT", "refresh token from device code");
	ok(strstr(s.bodies[1],
	          "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code") &&
	       strstr(s.bodies[1], "device_code=DC") && !strstr(s.bodies[1], "client_secret"),
	   "poll body: %s", s.bodies[1]);
	oauth_token_free(&tok);
	is_int(oauth_device_code_poll(http, &app, &dc, &tok, &oe, &err), BE_FINAL,
	       "declined: final");
	ok(strstr(err.msg, "declined") != NULL, "declined message: %s", err.msg);
	oauth_device_code_free(&dc);
	pthread_join(th, NULL);
	close(s.fd);
	for (int i = 0; r[i]; i++)
		free(r[i]);

	app.tenant = "common";
	is_int(oauth_device_code_start(http, &app, "x", &dc, &oe, &err), BE_FINAL,
	       "tenant common refused before any request");
	ok(strstr(err.msg, "Directory (tenant) ID") != NULL, "tenant message: %s", err.msg);
	http_client_free(http);
}

/* The documentation's success answers, served by the scripted endpoint: read as tokens; the
 * authorization-code sample (a trailing comma, not JSON) is refused clearly. */
static void test_success_samples(void)
{
	static const char *const files[] = {"token-client-credentials-success.json",
	                                    "token-device-code-success.json",
	                                    "token-authcode-success.json"};
	char *r[4] = {NULL};
	for (int i = 0; i < 3; i++) {
		size_t len;
		char *body = load_sample(files[i], &len);
		r[i] = reply("200 OK", body);
		free(body);
	}
	struct script s = {.replies = (const char *const *)r};
	struct http_client *http = http_client_new(NULL, NULL);
	struct oauth_token tok = {0};
	struct oauth_error oe;
	struct error err = {""};
	char authority[64];
	struct oauth_app app = {.authority = authority,
	                        .tenant = "contoso.onmicrosoft.com",
	                        .client_id = "cid",
	                        .client_secret = "s3cr3t"};
	pthread_t th;

	script_start(&s, &th);
	snprintf(authority, sizeof authority, "http://127.0.0.1:%d", s.port);
	is_int(oauth_client_credentials(http, &app, "https://graph.microsoft.com/.default", &tok,
	                                &oe, &err),
	       BE_OK, "%s: a token: %s", files[0], err.msg);
	ok(tok.access_token && strncmp(tok.access_token, "eyJ0eXAiOiJKV1Qi", 16) == 0 &&
	       !tok.refresh_token,
	   "%s: its access token, no refresh token", files[0]);
	oauth_token_free(&tok);
	is_int(oauth_refresh(http, &app, "RT0", "offline_access User.Read", &tok, &oe, &err), BE_OK,
	       "%s: a token: %s", files[1], err.msg);
	ok(tok.refresh_token && strncmp(tok.refresh_token, "AwABAAAAvPM1KaPlrEqd", 20) == 0,
	   "%s: its rotated refresh token", files[1]);
	oauth_token_free(&tok);
	ok(oauth_refresh(http, &app, "RT1", "offline_access", &tok, &oe, &err) != BE_OK &&
	       err.msg[0] && !tok.access_token,
	   "%s (not strict JSON) is refused: %s", files[2], err.msg);
	oauth_token_free(&tok);
	pthread_join(th, NULL);
	close(s.fd);
	for (int i = 0; r[i]; i++)
		free(r[i]);
	http_client_free(http);
}

int main(void)
{
	test_error_samples();
	test_error_status();
	test_base64url_and_pkce();
	test_assertion();
	test_jwt_payload_and_urls();
	test_grants();
	test_hostile_token_endpoint();
	test_device_code();
	test_success_samples();
	return done_testing();
}
