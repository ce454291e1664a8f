/* leavesync serve's pure parts: request parsers, record counting, token buckets, signatures, API
 * keys, [serve] config, and the metrics exposition. */
#include "common/util.h"
#include "serve/auth.h"
#include "serve/config.h"
#include "serve/metrics.h"
#include "serve/parse.h"
#include "serve/ratelimit.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_percent_and_paths(void)
{
	char out[64];

	is_int(serve_percent_decode("LV%2F1%20x", 10, out, sizeof out, false), 6,
	       "percent-decoding a path segment");
	is_str(out, "LV/1 x", "%%2F and %%20 decode");
	is_int(serve_percent_decode("a%2", 3, out, sizeof out, false), -1,
	       "a cut escape is refused");
	is_int(serve_percent_decode("a%zz", 4, out, sizeof out, false), -1,
	       "a non-hex escape is refused");
	is_int(serve_percent_decode("a%00b", 5, out, sizeof out, false), -1,
	       "an encoded NUL is refused");
	is_int(serve_percent_decode("a%0Ab", 5, out, sizeof out, false), -1,
	       "an encoded line feed is refused (ids stay printable in logs)");
	is_int(serve_percent_decode("a+b", 3, out, sizeof out, true), 3, "plus in a query");
	is_str(out, "a b", "plus is a space in a query");
	is_int(serve_percent_decode("abcdef", 6, out, 4, false), -1, "output too long is refused");

	is_int(serve_path_match("/v1/leave/{id}", "/v1/leave/LV-1", 14, out, sizeof out), 1,
	       "a route with a parameter matches");
	is_str(out, "LV-1", "the parameter is taken");
	is_int(serve_path_match("/v1/leave/{id}", "/v1/leave/", 10, out, sizeof out), 0,
	       "an empty parameter does not match");
	is_int(serve_path_match("/v1/leave/{id}", "/v1/leave/a/b", 13, out, sizeof out), 0,
	       "a parameter is one segment");
	is_int(serve_path_match("/v1/leave/{id}", "/v1/leave/a%2Fb", 15, out, sizeof out), 1,
	       "an encoded slash stays inside the segment");
	is_str(out, "a/b", "and decodes into the id");
	is_int(serve_path_match("/v1/leave", "/v1/leave/", 10, out, sizeof out), 0,
	       "a trailing slash is another path");
	is_int(serve_path_match("/v1/leave/{id}", "/v1/leave/%G1", 13, out, sizeof out), -1,
	       "a bad escape in the segment is malformed (400)");
}

static void test_query(void)
{
	static const char *const names[] = {"mailbox", "state", NULL};
	char out[64], bad[16];

	is_int(serve_query_param("mailbox=Alice%40contoso.com&state=failed", "mailbox", out,
	                         sizeof out),
	       1, "a query parameter is found");
	is_str(out, "Alice@contoso.com", "and decoded");
	is_int(serve_query_param("state=failed", "mailbox", out, sizeof out), 0,
	       "an absent parameter");
	is_int(serve_query_param("state=a&state=b", "state", out, sizeof out), -1,
	       "a repeated parameter is malformed");
	is_int(serve_query_param(NULL, "state", out, sizeof out), 0, "no query at all");
	is_int(serve_query_check("mailbox=x&stat=y", names, bad, sizeof bad), -1,
	       "an unknown parameter is named");
	is_str(bad, "stat", "the unknown name");
	is_int(serve_query_check("mailbox=x&state=y", names, bad, sizeof bad), 0, "known names");
}

static void test_headers(void)
{
	unsigned char d[32];
	const char *tok;
	size_t len;
	char out[300];

	ok(serve_bearer_token("Bearer lsk_abc-_09", &tok, &len) == 0 && len == 11 &&
	       strncmp(tok, "lsk_abc-_09", 11) == 0,
	   "Bearer token parsed");
	ok(serve_bearer_token("bearer   abc", &tok, &len) == 0 && len == 3,
	   "the scheme is case-insensitive (RFC 7235)");
	ok(serve_bearer_token("Basic abc", &tok, &len) < 0, "another scheme is refused");
	ok(serve_bearer_token("Bearer a b", &tok, &len) < 0, "two tokens are refused");
	ok(serve_bearer_token("Bearer ", &tok, &len) < 0, "an empty token is refused");
	ok(serve_signature_header("sha256="
	                          "00112233445566778899aabbccddeeff"
	                          "00112233445566778899AABBCCDDEEFF",
	                          d) == 0 &&
	       d[0] == 0 && d[31] == 0xff,
	   "sha256=HEX parsed, either case");
	ok(serve_signature_header("sha256=0011", d) < 0, "a short digest is refused");
	ok(serve_signature_header("sha1=00112233445566778899aabbccddeeff00112233", d) < 0,
	   "another algorithm is refused");
	ok(serve_idempotency_key("\"8e03978e-40d5\"", out, sizeof out) == 0 &&
	       !strcmp(out, "8e03978e-40d5"),
	   "an sf-string Idempotency-Key");
	ok(serve_idempotency_key("abc", out, sizeof out) == 0 && !strcmp(out, "abc"),
	   "a bare Idempotency-Key");
	ok(serve_idempotency_key("", out, sizeof out) < 0, "an empty Idempotency-Key is refused");
	ok(serve_idempotency_key("a\x01", out, sizeof out) < 0, "a control character is refused");
}

static void test_count(void)
{
	const char *j = "[{\"id\":\"a\",\"n\":\"],{\"},{\"id\":\"b\",\"x\":[1,{\"y\":2}]}]";

	is_int(serve_count_records(j, strlen(j), PUSH_JSON), 2, "records of a JSON array");
	is_int(serve_count_records("[]", 2, PUSH_JSON), 0, "an empty array");
	is_int(serve_count_records("[{}", 3, PUSH_JSON), -1, "an unclosed array cannot be counted");
	is_int(serve_count_records("{\"a\":1}\n\n{\"a\":2}\n", 17, PUSH_NDJSON), 2,
	       "NDJSON lines, blank ones skipped");
	is_int(serve_count_records("id,note\na,\"x\ny\"\nb,z\n", 20, PUSH_CSV), 2,
	       "CSV rows; a quoted line break is inside a row");
	is_int(serve_count_records(" [{},{}]", 8, PUSH_AUTO), 2, "detected as a JSON array");
}

static void test_ratelimit(void)
{
	struct ratelimit *rl = ratelimit_new();
	int retry = 0, granted = 0;

	for (int i = 0; i < 10; i++)
		granted += ratelimit_take(rl, "hr", 2, 3, 1000, &retry);
	is_int(granted, 3, "a burst of 3 is granted at once");
	is_int(retry, 1, "then Retry-After says 1 s (2 per second)");
	ok(ratelimit_take(rl, "hr", 2, 3, 1500, &retry), "half a second later one more token");
	ok(!ratelimit_take(rl, "hr", 2, 3, 1500, &retry), "but only one");
	ok(ratelimit_take(rl, "other", 2, 3, 1500, &retry), "another key has its own bucket");
	ok(!ratelimit_take(rl, "slow", 0.1, 1, 0, &retry) ||
	       !ratelimit_take(rl, "slow", 0.1, 1, 0, &retry),
	   "a slow bucket empties");
	is_int(retry, 10, "and says 10 s at 0.1 per second");
	ratelimit_free(rl);
}

static void test_keys_and_signatures(void)
{
	char a[APIKEY_TEXT_LEN], b[APIKEY_TEXT_LEN], hex[65];
	unsigned char ha[API_KEY_HASH_LEN], hb[API_KEY_HASH_LEN];
	char header[80];

	ok(apikey_generate(a) == 0 && apikey_generate(b) == 0, "keys are generated");
	is_int((long long)strlen(a), 47, "a key is lsk_ and 43 base64url characters");
	ok(strncmp(a, "lsk_", 4) == 0 && strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                                               "qrstuvwxyz0123456789-_") == 43,
	   "only base64url characters");
	ok(strcmp(a, b) != 0, "two keys differ");
	apikey_hash(a, strlen(a), ha);
	apikey_hash(b, strlen(b), hb);
	ok(memcmp(ha, hb, sizeof ha) != 0, "and so do their hashes");
	/* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" */
	signature_hex("Jefe", 4, "what do ya want for nothing?", 28, hex);
	is_str(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	       "HMAC-SHA256 matches RFC 4231 test case 2");
	snprintf(header, sizeof header, "sha256=%s", hex);
	ok(signature_valid("Jefe", 4, "what do ya want for nothing?", 28, header),
	   "a right signature is accepted");
	ok(!signature_valid("Jefe", 4, "what do ya want for nothing!", 28, header),
	   "a changed body is refused");
	ok(!signature_valid("Jefe", 4, "x", 1, NULL), "a missing signature is refused");
	is_int(scope_from_name("push"), SCOPE_PUSH, "scope names");
	ok(SCOPE_READ < SCOPE_PUSH && SCOPE_PUSH < SCOPE_ADMIN, "scopes include the ones below");
}

static int load(const char *text, struct serve_config *sc, char *msg, size_t msglen)
{
	char path[] = "/tmp/test_serve_XXXXXX";
	struct error err = {{0}};
	struct config cfg;
	int fd = mkstemp(path), rc;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -2;
	close(fd);
	rc = config_load(path, &cfg, &err);
	if (rc == 0) {
		rc = serve_config_load(&cfg, sc, &err);
		config_free(&cfg);
	}
	unlink(path);
	snprintf(msg, msglen, "%s", err.msg);
	return rc;
}

static void test_config(void)
{
	struct serve_config sc;
	char msg[1024];

	ok(load("[store]\npath = x.db\n", &sc, msg, sizeof msg) == 0 && sc.threads == 4 &&
	       sc.max_body_bytes == 8u << 20 && sc.reconcile_at == -1 &&
	       serve_addr_is_loopback((struct sockaddr *)&sc.addr),
	   "defaults: 127.0.0.1:8765, 4 threads, 8 MiB");
	serve_config_free(&sc);
	ok(load("[serve]\nlisten = [::1]:9000\nreconcile_at = 02:30\npublic_metrics = yes\n", &sc,
	        msg, sizeof msg) == 0 &&
	       sc.reconcile_at == 150 && sc.public_metrics &&
	       serve_addr_is_loopback((struct sockaddr *)&sc.addr),
	   "IPv6 loopback, a reconcile time, a flag");
	serve_config_free(&sc);
	ok(load("[serve]\nlisten = 0.0.0.0:8443\n", &sc, msg, sizeof msg) == 0 &&
	       !serve_addr_is_loopback((struct sockaddr *)&sc.addr),
	   "0.0.0.0 is not loopback (serve_main then refuses plain HTTP)");
	serve_config_free(&sc);
	ok(load("[serve]\nlisten = localhost:80\n", &sc, msg, sizeof msg) < 0 &&
	       strstr(msg, ":2: [serve] listen = localhost:80: expected a numeric address"),
	   "a host name is refused with FILE:LINE: %s", msg);
	ok(load("[serve]\nthreds = 4\n", &sc, msg, sizeof msg) < 0 &&
	       strstr(msg, "unknown key \"threds\" in [serve]"),
	   "a typo is an error: %s", msg);
	ok(load("[serve]\nreconcile_at = 25:00\n", &sc, msg, sizeof msg) < 0 &&
	       strstr(msg, "expected a local time HH:MM"),
	   "a bad time is an error");
	ok(load("[serve]\nhmac_secret = short\n", &sc, msg, sizeof msg) < 0 &&
	       strstr(msg, "(hidden)") && !strstr(msg, "= short"),
	   "a bad secret is refused without printing it: %s", msg);
	ok(load("[serve]\ntls_cert = /etc/hostname\n", &sc, msg, sizeof msg) < 0 &&
	       strstr(msg, "needs both tls_cert and tls_key"),
	   "a certificate without a key is refused");
}

/* Every sample line of the exposition: NAME{LABELS} VALUE, names leavesync_ or process_. */
static void test_metrics(void)
{
	struct metrics *m = metrics_new();
	struct metrics_gauges g = {.started_at = 1, .ready = 1};
	struct buf b = BUF_INIT;
	char *line, *save = NULL;
	int samples = 0, bad = 0, buckets = 0;

	metrics_request(m, "/v1/leave/{id}", "PUT", 201, 0.0004);
	metrics_request(m, "/v1/leave/{id}", "PUT", 201, 0.3);
	metrics_run(m, "sync", "ok", 1.5);
	metrics_render(m, &g, &b);
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		samples++;
		if (strncmp(line, "leavesync_", 10) != 0 && strncmp(line, "process_", 8) != 0)
			bad++;
		if (strstr(line, "leavesync_http_request_duration_seconds_bucket{route=\"/v1/leave/"
		                 "{id}\",method=\"PUT\",le=\"0.001\"} 1") ||
		    strstr(line, "leavesync_http_request_duration_seconds_bucket{route=\"/v1/leave/"
		                 "{id}\",method=\"PUT\",le=\"0.5\"} 2") ||
		    strstr(line, "leavesync_http_request_duration_seconds_bucket{route=\"/v1/leave/"
		                 "{id}\",method=\"PUT\",le=\"+Inf\"} 2"))
			buckets++;
	}
	ok(samples > 30, "the exposition has samples (%d)", samples);
	is_int(bad, 0, "every sample is named leavesync_* or process_*");
	is_int(buckets, 3, "histogram buckets are cumulative");
	buf_free(&b);
	metrics_free(m);
}

int main(void)
{
	test_percent_and_paths();
	test_query();
	test_headers();
	test_count();
	test_ratelimit();
	test_keys_and_signatures();
	test_config();
	test_metrics();
	return done_testing();
}
