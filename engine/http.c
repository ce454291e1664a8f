/* The one place that uses libcurl: one easy handle per client (one client per thread), so that
 * connections are kept alive between requests; HTTP/2 where the server offers it over TLS.
 * TLS verification is always on and not configurable. [tls] ca_file adds a trust anchor: the
 * client hands libcurl its default CA bundle followed by ca_file (CURLOPT_CAINFO_BLOB), so that a
 * private CA (on-premises Exchange, the simulator, a TLS-inspecting proxy) is trusted as well as
 * the public CAs of Microsoft's endpoints. */
#include "engine/http.h"
#include "engine/telemetry.h"

#include "common/buf.h"
#include "common/redact.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bytes of response bodies held by every client of the process: received and not yet freed with
 * http_response_free. Process-wide by nature (the workers' clients share the machine's memory). */
static atomic_size_t bytes_held;

struct http_client {
	CURL *curl;
	char *ca_file;
	char *user_agent;
	struct http_limits lim; /* every field set */
	int64_t deadline_ms;
	struct buf ca_bundle; /* system bundle + ca_file (PEM), when ca_file is set */
	char errbuf[CURL_ERROR_SIZE];
	const struct http_log *log; /* borrowed; may be NULL */
	long auth;                  /* CURLAUTH_*; 0: none (bearer tokens) */
	char *username, *password;
	struct curl_slist *connect_to; /* CURLOPT_CONNECT_TO entries, or NULL */
};

/* What the callbacks collect during one transfer. */
struct transfer {
	const struct http_limits *lim;
	struct buf body;
	size_t held; /* bytes reserved from bytes_held for body */
	bool too_big, over_budget;
	char *content_type;
	char *retry_after;
	char *www_authenticate;
	char *request_id;
	int request_id_rank; /* request-id beats x-ms-request-id beats client-request-id */
	bool once;           /* the request's `once` */
	int sends;           /* times libcurl was about to send the request */
	bool auth_round;     /* the last answer was a 401 of a sign-in (NTLM, Negotiate) */
	bool ntlm;           /* the client signs in with NTLM: check each challenge */
	bool ntlm_v1;        /* a challenge without extended session security: refused */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_global_init(void)
{
	pthread_once(&global_once, global_init_once);
}

size_t http_bytes_held(void)
{
	return atomic_load(&bytes_held);
}

static void release_held(size_t *held)
{
	if (*held)
		atomic_fetch_sub(&bytes_held, *held);
	*held = 0;
}

static long pick(long explicit_value, long limit, long dflt)
{
	return explicit_value > 0 ? explicit_value : limit > 0 ? limit : dflt;
}

static void set_limits(struct http_limits *out, const struct http_options *opt)
{
	const struct http_limits *l = opt ? opt->limits : NULL;
	struct http_limits none = {0};

	if (!l)
		l = &none;
	out->connect_timeout_ms = pick(opt ? opt->connect_timeout_ms : 0, l->connect_timeout_ms,
	                               HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
	out->timeout_ms = pick(opt ? opt->timeout_ms : 0, l->timeout_ms, HTTP_DEFAULT_TIMEOUT_MS);
	out->low_speed_bytes = pick(0, l->low_speed_bytes, HTTP_DEFAULT_LOW_SPEED_BYTES);
	out->low_speed_seconds = pick(0, l->low_speed_seconds, HTTP_DEFAULT_LOW_SPEED_SECONDS);
	out->max_response_bytes =
	    l->max_response_bytes ? l->max_response_bytes : HTTP_DEFAULT_MAX_RESPONSE;
	out->response_budget_bytes =
	    l->response_budget_bytes ? l->response_budget_bytes : HTTP_DEFAULT_RESPONSE_BUDGET;
}

/* ---- the client ---- */

/* The trust bundle: libcurl's default bundle followed by ca_file, so that ca_file adds a trust
 * anchor instead of replacing the system's. Returns 0, or -1 with err when ca_file cannot be read.
 */
static int build_ca_bundle(CURL *curl, const char *ca_file, struct buf *out, struct error *err)
{
	char *sys_path = NULL, *data = NULL;
	size_t len = 0;

	if (read_file(ca_file, &data, &len))
		return error_set(err,
		                 "[tls] ca_file %s cannot be read: %m; set it to a PEM file with "
		                 "the CA certificate that signed the server's certificate",
		                 ca_file);
	if (!strstr(data, "-----BEGIN CERTIFICATE-----")) {
		free(data);
		return error_set(err,
		                 "[tls] ca_file %s holds no PEM certificate (-----BEGIN "
		                 "CERTIFICATE-----): set it to the CA that signed the server's "
		                 "certificate",
		                 ca_file);
	}
	curl_easy_getinfo(curl, CURLINFO_CAINFO, &sys_path);
	if (sys_path) {
		char *sys = NULL;
		size_t sys_len = 0;

		if (read_file(sys_path, &sys, &sys_len) == 0) {
			buf_append(out, sys, sys_len);
			buf_puts(out, "\n");
		}
		free(sys);
	}
	buf_append(out, data, len);
	free(data);
	return 0;
}

struct http_client *http_client_new(const struct http_options *opt, struct error *err)
{
	struct http_client *c;

	http_global_init();
	c = xcalloc(1, sizeof *c);
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		error_set(err, "libcurl could not create a handle (out of memory?)");
		return NULL;
	}
	c->ca_file = xstrdup(opt ? opt->ca_file : NULL);
	c->user_agent =
	    xstrdup(opt && opt->user_agent ? opt->user_agent : "leavesync/" LEAVESYNC_VERSION);
	set_limits(&c->lim, opt);
	c->deadline_ms = opt ? opt->deadline_ms : 0;
	c->log = opt ? opt->log : NULL;
	if (opt && opt->auth && strcmp(opt->auth, "oauth") != 0) {
		if (strcmp(opt->auth, "ntlm") == 0)
			c->auth = (long)CURLAUTH_NTLM;
		else if (strcmp(opt->auth, "negotiate") == 0)
			c->auth = (long)CURLAUTH_NEGOTIATE;
		else if (strcmp(opt->auth, "basic") == 0)
			c->auth = (long)CURLAUTH_BASIC;
		else {
			error_set(err, "unknown sign-in method \"%s\"", opt->auth);
			http_client_free(c);
			return NULL;
		}
		c->username = xstrdup(opt->username ? opt->username : "");
		c->password = xstrdup(opt->password ? opt->password : "");
	}
	if (opt && opt->connect_to) {
		char *copy = xstrdup(opt->connect_to), *save = NULL;
		for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
			c->connect_to = curl_slist_append(c->connect_to, t);
		free(copy);
	}
	if (c->ca_file && build_ca_bundle(c->curl, c->ca_file, &c->ca_bundle, err)) {
		http_client_free(c);
		return NULL;
	}
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->ca_file);
	free(c->user_agent);
	buf_free(&c->ca_bundle);
	free(c->username);
	curl_slist_free_all(c->connect_to);
	if (c->password)
		memset(c->password, 0, strlen(c->password));
	free(c->password);
	free(c);
}

void http_response_free(struct http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	free(resp->content_type);
	free(resp->www_authenticate);
	free(resp->request_id);
	release_held(&resp->held);
	memset(resp, 0, sizeof *resp);
	resp->retry_after_ms = -1;
}

/* ---- callbacks ---- */

/* Keeps a chunk of the (decompressed) body, within the response's cap and the process budget. */
static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	if (t->body.len + len > t->lim->max_response_bytes) {
		t->too_big = true;
		return 0;
	}
	if (atomic_fetch_add(&bytes_held, len) + len > t->lim->response_budget_bytes) {
		atomic_fetch_sub(&bytes_held, len);
		t->over_budget = true;
		return 0;
	}
	t->held += len;
	buf_append(&t->body, data, len);
	return len;
}

/* A header value as received, made safe to print (a server may send anything there). */
static void replace(char **slot, const char *value, size_t len, size_t max)
{
	free(*slot);
	*slot = xmalloc(max + 1);
	redact_text(*slot, max + 1, value, len);
}

static void reset_headers(struct transfer *t)
{
	free(t->content_type);
	free(t->retry_after);
	free(t->www_authenticate);
	free(t->request_id);
	t->content_type = t->retry_after = t->www_authenticate = t->request_id = NULL;
	t->request_id_rank = 0;
}

static void take_request_id(struct transfer *t, int rank, const char *v, size_t len)
{
	if (rank > t->request_id_rank) {
		replace(&t->request_id, v, len, 128);
		t->request_id_rank = rank;
	}
}

/* True when v ("NTLM <base64 CHALLENGE_MESSAGE>") is a challenge that makes libcurl answer with
 * LM and NTLMv1 responses: libcurl (lib/vauth/ntlm.c, Curl_auth_create_ntlm_type3_message, 7.88)
 * sends NTLMv2 and LMv2 only when the challenge sets NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
 * (0x00080000, [MS-NLMP] 2.2.2.5 flag P), and LM + NTLMv1 otherwise. A challenge we cannot read is
 * refused too (libcurl would fail on it anyway). */
static bool ntlm_challenge_is_v1(const char *v, size_t vlen)
{
	unsigned char msg[1024];
	int n;

	if (vlen < 5 || strncasecmp(v, "NTLM ", 5) != 0)
		return false; /* not an NTLM challenge with a message (the bare offer "NTLM") */
	v += 5, vlen -= 5;
	while (vlen && *v == ' ')
		v++, vlen--;
	if (vlen == 0 || vlen > 4 * (sizeof msg / 3))
		return vlen != 0;
	n = EVP_DecodeBlock(msg, (const unsigned char *)v, (int)vlen);
	if (n < 24 || memcmp(msg, "NTLMSSP\0", 8) != 0 || msg[8] != 2)
		return true;
	uint32_t flags = (uint32_t)msg[20] | (uint32_t)msg[21] << 8 | (uint32_t)msg[22] << 16 |
	                 (uint32_t)msg[23] << 24;
	return !(flags & 0x00080000u);
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n, name_len, vlen;
	const char *colon, *v;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', len);

		reset_headers(t); /* a new response (after 100 Continue, or an auth round) */
		t->auth_round =
		    sp && (size_t)(sp - data) + 4 <= len && strncmp(sp + 1, "401", 3) == 0;
		return len;
	}
	colon = memchr(data, ':', len);
	if (!colon)
		return len;
	name_len = (size_t)(colon - data);
	v = colon + 1;
	vlen = len - name_len - 1;
	while (vlen && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen && isspace((unsigned char)v[vlen - 1]))
		vlen--;
#define IS(name) (name_len == strlen(name) && strncasecmp(data, name, name_len) == 0)
	if (IS("Content-Type"))
		replace(&t->content_type, v, vlen, 200);
	else if (IS("Retry-After"))
		replace(&t->retry_after, v, vlen, 64);
	else if (IS("WWW-Authenticate")) {
		if (t->ntlm && ntlm_challenge_is_v1(v, vlen)) {
			t->ntlm_v1 = true;
			return 0; /* ends the transfer before libcurl answers the challenge */
		}
		if (!t->www_authenticate)
			replace(&t->www_authenticate, v, vlen, 1024);
		else { /* several challenges (Negotiate, NTLM, Basic): keep them all */
			char *joined = xmalloc(strlen(t->www_authenticate) + 2 + vlen + 1);
			sprintf(joined, "%s, %.*s", t->www_authenticate, (int)vlen, v);
			replace(&t->www_authenticate, joined, strlen(joined), 1024);
			free(joined);
		}
	} else if (IS("request-id"))
		take_request_id(t, 3, v, vlen);
	else if (IS("x-ms-request-id"))
		take_request_id(t, 2, v, vlen);
	else if (IS("client-request-id"))
		take_request_id(t, 1, v, vlen);
#undef IS
	return len;
}

/* ---- one request ---- */

/* What goes into a header line: no CR, LF or other control character, ever (a token endpoint or a
 * proxy that slips "\r\nX-Injected: yes" into an access token must not add a header). Names the
 * header, never its value, when refusing. */
static int check_header_values(const struct http_request *req, char *what, size_t whatlen)
{
	if (req->bearer && redact_has_control(req->bearer, strlen(req->bearer))) {
		snprintf(what, whatlen, "the access token");
		return -1;
	}
	if (req->content_type && redact_has_control(req->content_type, strlen(req->content_type))) {
		snprintf(what, whatlen, "the Content-Type");
		return -1;
	}
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		const char *line = req->headers[i];

		if (redact_has_control(line, strlen(line)) || !strchr(line, ':')) {
			int n = (int)strcspn(line, ":\r\n");

			snprintf(what, whatlen, "the header %.*s", n < 64 ? n : 64, line);
			redact_message_in_place(what, whatlen);
			return -1;
		}
	}
	return 0;
}

static struct curl_slist *build_headers(const struct http_request *req)
{
	struct curl_slist *h = NULL;
	struct buf line = BUF_INIT;

	if (req->bearer) {
		buf_printf(&line, "Authorization: Bearer %s", req->bearer);
		h = curl_slist_append(h, line.data);
		/* the token is a secret: wipe the copy we made */
		memset(line.data, 0, line.len);
		buf_reset(&line);
	}
	if (req->content_type) {
		buf_printf(&line, "Content-Type: %s", req->content_type);
		h = curl_slist_append(h, line.data);
	}
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		h = curl_slist_append(h, req->headers[i]);
	buf_free(&line);
	return h;
}

static void set_method(CURL *curl, const struct http_request *req)
{
	const char *method = req->method ? req->method : "GET";
	bool has_body = req->body != NULL || strcmp(method, "POST") == 0;

	if (strcmp(method, "GET") == 0 && !req->body) {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
		return;
	}
	if (has_body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body ? req->body_len : 0));
	}
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
}

/* Called before each time the request goes out. libcurl sends it again on a fresh connection when
 * a reused connection closed without any answer (lib/transfer.c, Curl_retry_request): for a create
 * that would be a second create the caller never looked up. */
static int on_prereq(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	struct transfer *t = arg;

	(void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
	/* after a 401 of a sign-in round the request was not processed: libcurl sends its first
	 * NTLM/Negotiate leg with an empty body (Content-Length: 0), so answering it is no resend
	 */
	bool after_auth = t->auth_round;
	t->auth_round = false;
	if (t->once && t->sends++ > 0 && !after_auth)
		return CURL_PREREQFUNC_ABORT;
	return CURL_PREREQFUNC_OK;
}

static void set_options(struct http_client *c, const struct http_request *req, struct transfer *t,
                        struct curl_slist *headers, long timeout_ms)
{
	CURL *curl = c->curl;

	curl_easy_reset(curl); /* keeps the connection cache: keep-alive survives */
	curl_easy_setopt(curl, CURLOPT_URL, req->url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION,
	                 0L); /* a redirect must not carry the token */
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_bundle.len) {
		struct curl_blob blob = {c->ca_bundle.data, c->ca_bundle.len, CURL_BLOB_NOCOPY};

		curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
	}
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	                 c->lim.connect_timeout_ms < timeout_ms ? c->lim.connect_timeout_ms
	                                                        : timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* a server that trickles its answer (one byte every two seconds) is cut long before the
	 * total deadline */
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, c->lim.low_speed_bytes);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, c->lim.low_speed_seconds);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, ""); /* gzip and whatever libcurl decodes */
	curl_easy_setopt(curl, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(curl, CURLOPT_PREREQDATA, t);
	curl_easy_setopt(curl, CURLOPT_CONNECT_TO, c->connect_to);
	curl_easy_setopt(curl, CURLOPT_HTTPAUTH, c->auth ? c->auth : (long)CURLAUTH_BASIC);
	curl_easy_setopt(curl, CURLOPT_USERNAME, c->auth ? c->username : NULL);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, c->auth ? c->password : NULL);
	if (c->auth == (long)CURLAUTH_NTLM || c->auth == (long)CURLAUTH_NEGOTIATE)
		/* NTLM and Kerberos authenticate a connection, which HTTP/2 multiplexes: IIS
		 * answers them with HTTP_1_1_REQUIRED (RFC 7540 section 9.2.2 lists them as
		 * unusable) */
		curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	set_method(curl, req);
}

static bool mentions(const char *s, const char *word)
{
	return s && strcasestr(s, word) != NULL;
}

static enum http_failure tls_failure(struct http_client *c, CURLcode rc, const char *where,
                                     struct error *err)
{
	if (rc == CURLE_SSL_CACERT_BADFILE)
		error_set(err,
		          "%s: [tls] ca_file %s is not a readable PEM certificate: set it to the "
		          "CA that signed the server's certificate",
		          where, c->ca_file ? c->ca_file : "(system bundle)");
	else if (mentions(c->errbuf, "hostname") || mentions(c->errbuf, "host name") ||
	         mentions(c->errbuf, "subject alt") || mentions(c->errbuf, "does not match"))
		error_set(err,
		          "%s: TLS failed: host name does not match the server's certificate "
		          "(%s); use the host name the certificate was issued for in the url",
		          where, c->errbuf);
	else if (rc == CURLE_PEER_FAILED_VERIFICATION || mentions(c->errbuf, "certificate"))
		error_set(err,
		          "%s: TLS failed: certificate not trusted: set [tls] ca_file to the CA "
		          "that signed the server's certificate (%s)",
		          where, c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
	else
		error_set(err, "%s: TLS handshake failed: %s", where,
		          c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
	return HTTP_ERR_TLS;
}

/* Maps a libcurl failure onto the taxonomy, with a message naming the method and the URL. */
static enum http_failure classify(struct http_client *c, CURLcode rc, const char *method,
                                  const char *url, const struct transfer *t, struct error *err)
{
	char *shown = http_redact_url(url);
	char where[640];
	const char *why;
	long sent = 0;
	enum http_failure f;

	/* libcurl's message may quote the server (a certificate's names, a status line) */
	redact_in_place(c->errbuf, sizeof c->errbuf);
	why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &sent);
	snprintf(where, sizeof where, "%s %s", method, shown);
	free(shown);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		error_set(err, "%s: host name did not resolve (%s); check the url and DNS", where,
		          why);
		return HTTP_ERR_DNS;
	case CURLE_COULDNT_CONNECT:
		error_set(err, "%s: could not connect (%s)", where, why);
		return HTTP_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		if (sent == 0) {
			error_set(err, "%s: connection timed out (%s)", where, why);
			return HTTP_ERR_CONNECT;
		}
		error_set(err,
		          "%s: no complete response in time (%s; [limits] request_timeout %ld s, "
		          "low_speed_bytes %ld per second over low_speed_time %ld s)",
		          where, why, c->lim.timeout_ms / 1000, c->lim.low_speed_bytes,
		          c->lim.low_speed_seconds);
		return HTTP_ERR_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		return tls_failure(c, rc, where, err);
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		f = sent > 0 || rc != CURLE_SEND_ERROR ? HTTP_ERR_DROPPED : HTTP_ERR_CONNECT;
		error_set(err,
		          "%s: connection closed before the response was complete (%s); the "
		          "request may have taken effect",
		          where, why);
		return f;
	case CURLE_WRITE_ERROR:
		if (t->too_big) {
			error_set(
			    err,
			    "%s: response larger than [limits] response_size (%zu bytes after "
			    "decompression): cut, nothing kept",
			    where, c->lim.max_response_bytes);
			return HTTP_ERR_OTHER;
		}
		if (t->over_budget) {
			error_set(err,
			          "%s: the responses in progress would hold more than [limits] "
			          "response_budget (%zu bytes) at once: cut, retried later",
			          where, c->lim.response_budget_bytes);
			return HTTP_ERR_OTHER;
		}
		break;
	default:
		break;
	}
	error_set(err, "%s: %s", where, why);
	return HTTP_ERR_OTHER;
}

static void take_response(struct http_client *c, struct transfer *t, struct http_response *resp)
{
	memset(resp, 0, sizeof *resp);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!t->body.data)
		buf_puts(&t->body, "");
	resp->body_len = t->body.len;
	resp->body = buf_steal(&t->body);
	resp->content_type = t->content_type;
	resp->retry_after_ms = http_parse_retry_after(t->retry_after, now_unix());
	resp->www_authenticate = t->www_authenticate;
	resp->request_id = t->request_id;
	resp->held = t->held; /* the body's share of the budget goes with it */
	t->held = 0;
	free(t->retry_after);
	t->content_type = t->retry_after = t->www_authenticate = t->request_id = NULL;
}

/* The request's total deadline: the configured one, or what is left of the run's. */
static long request_timeout(const struct http_client *c)
{
	int64_t left;

	if (!c->deadline_ms)
		return c->lim.timeout_ms;
	left = c->deadline_ms - now_ms();
	return left < c->lim.timeout_ms ? (long)left : c->lim.timeout_ms;
}

/* -v: method, URL without its query (tokens and codes ride there), status and duration; never a
 * header or a body. */
static void log_request(struct http_client *c, const struct http_request *req, long status,
                        int64_t ms, const struct error *err)
{
	char *shown = http_redact_url(req->url);

	c->log->request(c->log->arg, req->method ? req->method : "GET", shown, status, ms,
	                err && err->msg[0] ? err->msg : NULL);
	free(shown);
}

enum http_failure http_perform(struct http_client *c, const struct http_request *req,
                               struct http_response *resp, struct error *err)
{
	struct transfer t = {.lim = &c->lim,
	                     .body = BUF_INIT,
	                     .once = req->once,
	                     .ntlm = c->auth == (long)CURLAUTH_NTLM};
	struct curl_slist *headers;
	enum http_failure f = HTTP_OK;
	char what[96];
	long timeout_ms = request_timeout(c);
	int64_t started;
	CURLcode rc;

	memset(resp, 0, sizeof *resp);
	resp->retry_after_ms = -1;
	if (!req->url || !http_url_allowed(req->url)) {
		char *shown = http_redact_url(req->url ? req->url : "");

		error_set(err,
		          "%s %s: refused: only https URLs (or http to a loopback address) are "
		          "allowed",
		          req->method ? req->method : "GET", shown);
		free(shown);
		return HTTP_ERR_OTHER;
	}
	if (check_header_values(req, what, sizeof what) < 0) {
		char *shown = http_redact_url(req->url);

		error_set(err,
		          "%s %s: refused to send: %s holds a control character (CR, LF or "
		          "another); a malformed token or address must never reach a header. "
		          "Nothing was sent",
		          req->method ? req->method : "GET", shown, what);
		free(shown);
		return HTTP_ERR_REFUSED;
	}
	if (c->auth == (long)CURLAUTH_BASIC && strncasecmp(req->url, "https://", 8) != 0) {
		char *shown = http_redact_url(req->url);

		error_set(err,
		          "%s %s: refused to send: Basic sign-in sends the password in every "
		          "request and is used over https only. Nothing was sent",
		          req->method ? req->method : "GET", shown);
		free(shown);
		return HTTP_ERR_REFUSED;
	}
	if (timeout_ms <= 0) {
		char *shown = http_redact_url(req->url);

		error_set(err,
		          "%s %s: not sent: the run's deadline ([sync] run_deadline) has passed",
		          req->method ? req->method : "GET", shown);
		free(shown);
		return HTTP_ERR_TIMEOUT;
	}
	headers = build_headers(req);
	set_options(c, req, &t, headers, timeout_ms);
	c->errbuf[0] = '\0';
	started = now_ms();
	rc = curl_easy_perform(c->curl);
	if (rc == CURLE_OK) {
		take_response(c, &t, resp);
	} else if (t.ntlm_v1) {
		char *shown = http_redact_url(req->url);
		error_set(err,
		          "%s %s: refused to sign in: the server's NTLM challenge does not offer "
		          "NTLMv2 (no extended session security), and leavesync never sends LM or "
		          "NTLMv1 responses. Fix: require NTLMv2 on the server (Network security: "
		          "LAN Manager authentication level = Send NTLMv2 response only), or use "
		          "auth = negotiate",
		          req->method ? req->method : "GET", shown);
		free(shown);
		f = HTTP_ERR_REFUSED;
	} else if (rc == CURLE_ABORTED_BY_CALLBACK && t.sends > 1) {
		char *shown = http_redact_url(req->url);
		error_set(err,
		          "%s %s: the connection closed before any answer; the request may have "
		          "taken effect, so it is not sent again",
		          req->method ? req->method : "GET", shown);
		free(shown);
		f = HTTP_ERR_DROPPED;
	} else {
		f = classify(c, rc, req->method ? req->method : "GET", req->url, &t, err);
	}
	telemetry_http(req->url, f == HTTP_OK ? resp->status : 0, resp->retry_after_ms);
	if (c->log && c->log->request)
		log_request(c, req, resp->status, now_ms() - started, f == HTTP_OK ? NULL : err);
	/* the Authorization line is in the list: do not leave it in freed memory */
	for (struct curl_slist *h = headers; h; h = h->next)
		if (strncmp(h->data, "Authorization:", 14) == 0)
			memset(h->data, 0, strlen(h->data));
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	buf_free(&t.body);
	release_held(&t.held);
	reset_headers(&t);
	return f;
}

/* ---- URLs ---- */

struct url_parts {
	char *scheme, *host, *port;
};

static void url_parts_free(struct url_parts *p)
{
	curl_free(p->scheme);
	curl_free(p->host);
	curl_free(p->port);
}

static int url_split(const char *url, struct url_parts *p)
{
	CURLU *u = curl_url();
	int rc = -1;

	memset(p, 0, sizeof *p);
	if (!u)
		return -1;
	if (url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &p->scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &p->host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p->port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		rc = 0;
	curl_url_cleanup(u);
	if (rc)
		url_parts_free(p);
	return rc;
}

static bool host_is_loopback(const char *host)
{
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return false;
}

bool http_url_allowed(const char *url)
{
	struct url_parts p;
	bool ok;

	if (url_split(url, &p))
		return false;
	ok = strcasecmp(p.scheme, "https") == 0 ||
	     (strcasecmp(p.scheme, "http") == 0 && host_is_loopback(p.host));
	url_parts_free(&p);
	return ok;
}

bool http_same_origin(const char *url, const char *base)
{
	struct url_parts a, b;
	bool same;

	if (url_split(url, &a))
		return false;
	if (url_split(base, &b)) {
		url_parts_free(&a);
		return false;
	}
	same = strcasecmp(a.scheme, b.scheme) == 0 && strcasecmp(a.host, b.host) == 0 &&
	       strcmp(a.port, b.port) == 0;
	url_parts_free(&a);
	url_parts_free(&b);
	return same;
}

char *http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT;

	buf_puts(&b, "");
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf_append(&b, p, 1);
		} else {
			char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			buf_append(&b, esc, 3);
		}
	}
	return buf_steal(&b);
}

char *http_redact_url(const char *url)
{
	size_t start = 0, end;
	const char *scheme_end, *at, *slash;
	struct buf b = BUF_INIT;

	end = strcspn(url, "?#");
	scheme_end = strstr(url, "://");
	if (scheme_end && (size_t)(scheme_end - url) < end) {
		start = (size_t)(scheme_end - url) + 3;
		slash = memchr(url + start, '/', end - start);
		at = memchr(url + start, '@', (slash ? (size_t)(slash - url) : end) - start);
		buf_append(&b, url, start);
		if (at)
			start = (size_t)(at - url) + 1; /* drop user:password@ */
	}
	buf_append(&b, url + start, end - start);
	if (!b.data)
		buf_puts(&b, "");
	return buf_steal(&b);
}

/* ---- Retry-After ---- */

static long parse_seconds(const char *s)
{
	double secs = 0, scale = 0.1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		secs = secs * 10 + (*p - '0');
		if (secs > 86400.0 * 365)
			return -1;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			secs += (*p - '0') * scale;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return -1;
	return (long)(secs * 1000.0 + 0.5);
}

long http_parse_retry_after(const char *value, int64_t now)
{
	time_t when;

	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value))
		return parse_seconds(value);
	if (!isalpha((unsigned char)*value))
		return -1;
	when = curl_getdate(value, NULL);
	if (when == (time_t)-1)
		return -1;
	if ((int64_t)when <= now)
		return 0;
	if ((int64_t)when - now > 86400L * 365)
		return -1;
	return (long)(((int64_t)when - now) * 1000);
}
