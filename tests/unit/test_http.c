/* engine/http.c: URL policy, same-origin checks, escaping, Retry-After parsing, redaction, and
 * failure classification against closed ports and a local plain-HTTP listener; against hostile
 * listeners: header values refused before sending, received header values made safe, the response
 * cap and the process-wide budget, a trickling server cut by the low-speed limit, a run's
 * deadline. */
#include "engine/http.h"

#include "tap.h"

#include "common/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_url_allowed(void)
{
	ok(http_url_allowed("https://graph.microsoft.com/v1.0/me"), "https is allowed");
	ok(http_url_allowed("http://127.0.0.1:8080/x"), "http to 127.0.0.1 is allowed");
	ok(http_url_allowed("http://127.1.2.3/x"), "http to 127.0.0.0/8 is allowed");
	ok(http_url_allowed("http://localhost:9/x"), "http to localhost is allowed");
	ok(http_url_allowed("http://[::1]:9/x"), "http to ::1 is allowed");
	ok(!http_url_allowed("http://graph.microsoft.com/v1.0"),
	   "http to a remote host is refused");
	ok(!http_url_allowed("http://127.0.0.1.evil.example/"),
	   "a host that starts like 127 is refused");
	ok(!http_url_allowed("http://10.0.0.1/"), "http to a private address is refused");
	ok(!http_url_allowed("ftp://127.0.0.1/"), "other schemes are refused");
	ok(!http_url_allowed("not a url"), "garbage is refused");
	ok(!http_url_allowed(NULL), "NULL is refused");
}

static void test_same_origin(void)
{
	const char *base = "https://graph.microsoft.com/v1.0";

	ok(http_same_origin("https://graph.microsoft.com/v1.0/users?$skip=10", base),
	   "same scheme, host and default port");
	ok(http_same_origin("https://GRAPH.microsoft.com:443/x", base),
	   "host case and explicit port");
	ok(!http_same_origin("https://graph.microsoft.com:8443/x", base), "another port");
	ok(!http_same_origin("https://evil.example/v1.0", base), "another host");
	ok(!http_same_origin("http://graph.microsoft.com/v1.0", base), "another scheme");
	ok(!http_same_origin("https://graph.microsoft.com.evil.example/", base), "suffix host");
	ok(!http_same_origin("https://graph.microsoft.com@evil.example/", base), "userinfo trick");
}

static void test_escape(void)
{
	char *e = http_escape("a b&c=d/é~._-");

	is_str(e, "a%20b%26c%3Dd%2F%C3%A9~._-", "escape reserved and non-ASCII bytes");
	free(e);
	e = http_escape("");
	is_str(e, "", "escape of the empty string");
	free(e);
	e = http_escape("demo-secret-value~0123456789+/=");
	is_str(e, "demo-secret-value~0123456789%2B%2F%3D", "a secret with + / = survives a form");
	free(e);
}

static void test_retry_after(void)
{
	/* Wed, 21 Oct 2015 07:28:00 GMT */
	int64_t t = 1445412480;

	is_int(http_parse_retry_after("120", t), 120000, "delta seconds");
	is_int(http_parse_retry_after("0", t), 0, "zero");
	is_int(http_parse_retry_after("1.5", t), 1500, "fractional seconds");
	is_int(http_parse_retry_after(" 2.25 ", t), 2250, "fractional with spaces");
	is_int(http_parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", t), 30000, "HTTP date");
	is_int(http_parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", t), 0, "past HTTP date");
	is_int(http_parse_retry_after(NULL, t), -1, "absent");
	is_int(http_parse_retry_after("-5", t), -1, "negative");
	is_int(http_parse_retry_after("soon", t), -1, "garbage");
	is_int(http_parse_retry_after("12abc", t), -1, "trailing garbage");
}

static void test_redact(void)
{
	char *r = http_redact_url("https://user:pw@login.example/t/oauth2?code=SECRET#frag");

	is_str(r, "https://login.example/t/oauth2", "redact drops userinfo, query and fragment");
	free(r);
	r = http_redact_url("https://graph.microsoft.com/v1.0/users/a@b.c/events?$x=1");
	is_str(r, "https://graph.microsoft.com/v1.0/users/a@b.c/events", "an @ in the path stays");
	free(r);
}

/* A one-shot plain HTTP server on 127.0.0.1 that answers each connection with `reply`, then
 * `body_bytes` bytes of 'x' (when set), one every `trickle_ms` milliseconds (when set). */
struct server {
	int fd;
	int port;
	const char *reply;
	int conns;
	size_t body_bytes;
	int trickle_ms;
	char request[8192]; /* the last request read */
};

static void send_body(int c, const struct server *s)
{
	static char chunk[65536];
	size_t left = s->body_bytes;

	memset(chunk, 'x', sizeof chunk);
	while (left > 0) {
		size_t n = s->trickle_ms ? 1 : left < sizeof chunk ? left : sizeof chunk;

		if (send(c, chunk, n, MSG_NOSIGNAL) < 0)
			return; /* the client hung up: what these tests want */
		left -= n;
		if (s->trickle_ms)
			usleep((useconds_t)s->trickle_ms * 1000);
	}
}

static void *serve(void *arg)
{
	struct server *s = arg;

	for (int i = 0; i < s->conns; i++) {
		int c = accept(s->fd, NULL, NULL);
		ssize_t n;

		if (c < 0)
			break;
		/* requests here are small: one read is enough */
		n = read(c, s->request, sizeof s->request - 1);
		s->request[n > 0 ? n : 0] = '\0';
		if (s->reply && send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL) < 0)
			perror("write");
		send_body(c, s);
		close(c);
	}
	return NULL;
}

static int listen_local(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_perform(void)
{
	struct http_options opt = {.timeout_ms = 5000};
	struct error err = {""};
	struct http_client *c = http_client_new(&opt, &err);
	struct http_response resp;
	struct server s = {.conns = 2};
	pthread_t th;
	char url[128];
	const char *hdrs[] = {"X-Test: 1", NULL};
	struct http_request req = {.method = "POST",
	                           .url = url,
	                           .bearer = "TOKEN-SHOULD-NOT-LEAK",
	                           .content_type = "application/json",
	                           .body = "{}",
	                           .body_len = 2,
	                           .headers = hdrs};

	ok(c != NULL, "client created");
	s.reply = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
	          "Retry-After: 2.5\r\nrequest-id: abc-123\r\nWWW-Authenticate: Bearer x\r\n"
	          "Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}";
	s.fd = listen_local(&s.port);
	pthread_create(&th, NULL, serve, &s);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1.0/x?token=SECRET", s.port);
	is_int(http_perform(c, &req, &resp, &err), HTTP_OK, "a response arrived");
	is_int(resp.status, 429, "status captured");
	is_str(resp.body, "{\"a\":1}", "body captured");
	is_str(resp.content_type, "application/json", "content type captured");
	is_int(resp.retry_after_ms, 2500, "Retry-After captured in ms");
	is_str(resp.request_id, "abc-123", "request-id captured");
	is_str(resp.www_authenticate, "Bearer x", "WWW-Authenticate captured");
	http_response_free(&resp);

	/* second connection: the server closes after sending part of the body */
	s.reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial";
	is_int(http_perform(c, &req, &resp, &err), HTTP_ERR_DROPPED, "a cut response is DROPPED");
	ok(strstr(err.msg, "POST http://127.0.0.1:") && strstr(err.msg, "/v1.0/x"),
	   "message names method and URL: %s", err.msg);
	ok(!strstr(err.msg, "SECRET") && !strstr(err.msg, "TOKEN"), "no query string or token");
	pthread_join(th, NULL);
	close(s.fd);

	/* nothing listens any more on that port */
	is_int(http_perform(c, &req, &resp, &err), HTTP_ERR_CONNECT, "refused connection: CONNECT");
	snprintf(url, sizeof url, "https://nonexistent.invalid/x");
	is_int(http_perform(c, &req, &resp, &err), HTTP_ERR_DNS, "unresolvable host: DNS");
	snprintf(url, sizeof url, "http://example.com/x");
	is_int(http_perform(c, &req, &resp, &err), HTTP_ERR_OTHER,
	       "plain http to a remote host refused");
	http_client_free(c);

	opt.ca_file = "/nonexistent/ca.pem";
	ok(http_client_new(&opt, &err) == NULL && strstr(err.msg, "ca_file"),
	   "unreadable ca_file is a configuration error: %s", err.msg);
}

/* Runs one request against a server answering `reply` (+ body); returns the failure kind. */
static enum http_failure one_request(struct server *s, const struct http_options *opt,
                                     const struct http_request *tmpl, struct http_response *resp,
                                     struct error *err)
{
	struct http_client *c = http_client_new(opt, err);
	struct http_request req = *tmpl;
	char url[128];
	pthread_t th;
	enum http_failure f;

	s->conns = 1;
	s->fd = listen_local(&s->port);
	pthread_create(&th, NULL, serve, s);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/EWS/Exchange.asmx", s->port);
	req.url = url;
	f = http_perform(c, &req, resp, err);
	if (f != HTTP_OK) { /* the server waits for a connection that never came: come once */
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_port = htons((uint16_t)s->port),
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
			shutdown(fd, SHUT_WR);
		pthread_join(th, NULL);
		if (fd >= 0)
			close(fd);
	} else {
		pthread_join(th, NULL);
	}
	close(s->fd);
	http_client_free(c);
	return f;
}

static void test_header_injection(void)
{
	struct http_options opt = {.timeout_ms = 5000};
	struct server s = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
	struct error err = {""};
	struct http_response resp;
	const char *bad_headers[] = {"X-AnchorMailbox: alice@contoso.com\r\nX-Injected: yes", NULL};
	struct http_request req = {.method = "POST", .body = "<x/>", .body_len = 4};

	req.bearer = "eyJ0eXAi.payload.sig\r\nX-Injected: yes";
	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_ERR_REFUSED,
	       "an access token with CRLF is refused");
	ok(strstr(err.msg, "the access token holds a control character") &&
	       strstr(err.msg, "Nothing was sent") && !strstr(err.msg, "Injected"),
	   "the message names the token, not its value: %s", err.msg);
	ok(!strstr(s.request, "X-Injected"), "the server received no injected header");

	req.bearer = "token\x01";
	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_ERR_REFUSED,
	       "any control character in the token is refused");
	req.bearer = "good-token";
	req.headers = bad_headers;
	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_ERR_REFUSED,
	       "a header line with CRLF in its value is refused");
	ok(strstr(err.msg, "the header X-AnchorMailbox holds a control character") != NULL,
	   "the message names the header: %s", err.msg);
	req.headers = NULL;
	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_OK, "a clean request is sent");
	ok(strstr(s.request, "Authorization: Bearer good-token\r\n") != NULL,
	   "and carries its token");
	http_response_free(&resp);
}

static void test_received_headers_made_safe(void)
{
	struct http_options opt = {.timeout_ms = 5000};
	struct server s = {.reply =
	                       "HTTP/1.1 401 Unauthorized\r\n"
	                       "Content-Type: text/html\x1b]0;pwned\x07\r\n"
	                       "WWW-Authenticate: Bearer error=\"invalid_token\", "
	                       "echo=\"Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi.x.y\"\r\n"
	                       "request-id: \x1b[2Jabc\r\n"
	                       "Content-Length: 2\r\nConnection: close\r\n\r\nno"};
	struct error err = {""};
	struct http_response resp;
	struct http_request req = {.method = "GET"};

	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_OK, "a 401 arrives");
	is_str(resp.content_type, "text/html\\x1B]0;pwned\\x07", "ESC/BEL in Content-Type escaped");
	ok(resp.www_authenticate && strstr(resp.www_authenticate, "error=\"invalid_token\"") &&
	       !strstr(resp.www_authenticate, "eyJ"),
	   "a token echoed in WWW-Authenticate is redacted: %s", resp.www_authenticate);
	is_str(resp.request_id, "\\x1B[2Jabc", "request-id escaped");
	http_response_free(&resp);
}

static void test_response_limits(void)
{
	struct http_limits lim = {.max_response_bytes = 100000, .response_budget_bytes = 1 << 20};
	struct http_options opt = {.timeout_ms = 10000, .limits = &lim};
	struct server s = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n",
	                   .body_bytes = 300000};
	struct error err = {""};
	struct http_response resp;
	struct http_request req = {.method = "GET"};

	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_ERR_OTHER,
	       "a body over [limits] response_size is cut");
	ok(strstr(err.msg, "response_size (100000 bytes after decompression)") != NULL,
	   "the message names the limit: %s", err.msg);
	is_int((long long)http_bytes_held(), 0, "nothing of it stays held");

	lim.max_response_bytes = 1 << 20;
	lim.response_budget_bytes = 200000;
	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_ERR_OTHER,
	       "a body over the process budget is cut");
	ok(strstr(err.msg, "response_budget (200000 bytes)") != NULL, "the message says so: %s",
	   err.msg);
	is_int((long long)http_bytes_held(), 0, "the budget is whole again");

	s.reply = "HTTP/1.1 200 OK\r\nContent-Length: 150000\r\n\r\n";
	s.body_bytes = 150000;
	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_OK, "a body within both arrives");
	is_int((long long)http_bytes_held(), 150000, "it holds its bytes of the budget");
	{
		struct http_response second;

		is_int(one_request(&s, &opt, &req, &second, &err), HTTP_ERR_OTHER,
		       "while it is held, a second one over the rest of the budget is cut");
	}
	http_response_free(&resp);
	is_int((long long)http_bytes_held(), 0, "freeing the response gives the bytes back");
	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_OK, "then the second one fits");
	http_response_free(&resp);
}

static void test_slow_server(void)
{
	struct http_limits lim = {.low_speed_bytes = 16, .low_speed_seconds = 2};
	struct http_options opt = {.timeout_ms = 120000, .limits = &lim};
	struct server s = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
	                   .body_bytes = 1000,
	                   .trickle_ms = 500};
	struct error err = {""};
	struct http_response resp;
	struct http_request req = {.method = "GET"};

	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_ERR_TIMEOUT,
	       "a server trickling two bytes a second is cut");
	ok(strstr(err.msg, "too slow") && strstr(err.msg, "low_speed_bytes 16 per second") &&
	       strstr(err.msg, "low_speed_time 2 s"),
	   "by the low-speed limit, not the 120 s deadline: %s", err.msg);

	opt.deadline_ms = now_ms() - 1;
	s.trickle_ms = 0;
	is_int(one_request(&s, &opt, &req, &resp, &err), HTTP_ERR_TIMEOUT,
	       "past the run's deadline nothing is sent");
	ok(strstr(err.msg, "run_deadline") && s.request[0] == '\0',
	   "and the server saw no request: %s", err.msg);
}

/* A keep-alive server: the first connection answers one request, reads a second and closes
 * without a byte of answer; a later connection (libcurl's silent resend) is answered. Counts the
 * requests it read. */
struct lost_answer_server {
	int fd, port, requests;
};

static void *serve_lost_answer(void *arg)
{
	static const char ok_reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct lost_answer_server *s = arg;
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	char req[8192];
	int c = accept(s->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	if (read(c, req, sizeof req) > 0 && ++s->requests &&
	    write(c, ok_reply, sizeof ok_reply - 1) < 0)
		perror("write");
	if (read(c, req, sizeof req) > 0)
		s->requests++;
	close(c); /* the answer is lost: not a single byte */
	if (poll(&p, 1, 2000) == 1 && (c = accept(s->fd, NULL, NULL)) >= 0) {
		if (read(c, req, sizeof req) > 0 && ++s->requests &&
		    write(c, ok_reply, sizeof ok_reply - 1) < 0)
			perror("write");
		close(c);
	}
	return NULL;
}

static int lost_answer(bool once, int *requests)
{
	struct lost_answer_server s = {0};
	struct http_options opt = {.timeout_ms = 5000};
	struct error err = {""};
	struct http_client *c = http_client_new(&opt, &err);
	struct http_response resp;
	char url[128];
	struct http_request req = {.method = "POST", .url = url, .body = "create", .body_len = 6};
	enum http_failure f;
	pthread_t th;

	s.fd = listen_local(&s.port);
	pthread_create(&th, NULL, serve_lost_answer, &s);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/create", s.port);
	f = http_perform(c, &req, &resp, &err); /* opens the connection libcurl keeps alive */
	if (f == HTTP_OK)
		http_response_free(&resp);
	req.once = once;
	f = http_perform(c, &req, &resp, &err);
	if (f == HTTP_OK)
		http_response_free(&resp);
	else if (once)
		ok(strstr(err.msg, "may have taken effect") != NULL, "the message says why: %s",
		   err.msg);
	http_client_free(c); /* closes the connection: the server stops waiting */
	pthread_join(th, NULL);
	close(s.fd);
	*requests = s.requests;
	return f;
}

/* libcurl sends a request again on a new connection when the reused one closes before any answer;
 * a create must not be sent twice that way (issue 12: 20 events for 10 leave). */
static void test_once(void)
{
	int requests = 0;

	is_int(lost_answer(false, &requests), HTTP_OK,
	       "without once, libcurl resends the request silently and reports success");
	is_int(requests, 3, "the server received the second request twice");
	is_int(lost_answer(true, &requests), HTTP_ERR_DROPPED,
	       "with once, the lost answer is reported as DROPPED");
	is_int(requests, 2, "and the request went out only once");
}

int main(void)
{
	test_url_allowed();
	test_same_origin();
	test_escape();
	test_retry_after();
	test_redact();
	test_perform();
	test_header_injection();
	test_received_headers_made_safe();
	test_response_limits();
	test_slow_server();
	test_once();
	return done_testing();
}
