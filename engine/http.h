/* The one place that uses libcurl. A client is a connection pool for one thread (keep-alive, HTTP/2
 * where offered); TLS verification is always on; proxies come from the environment (libcurl's
 * http_proxy / https_proxy / no_proxy). No token or secret ever appears in an error message. */
#ifndef ENGINE_HTTP_H
#define ENGINE_HTTP_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_client;

/* A request log for `leavesync -v`: called once per request, after it ended, from the thread that
 * made it. url is already redacted (no query string, no user info); nothing else of the request
 * (headers, bodies, tokens) is ever passed. status 0: no response (failure names why). */
struct http_log {
	void (*request)(void *arg, const char *method, const char *url, long status, int64_t ms,
	                const char *failure);
	void *arg;
};

struct http_options {
	const char *ca_file;        /* extra trust anchor (PEM); NULL: the system store only */
	long connect_timeout_ms;    /* 0: 10 s */
	long timeout_ms;            /* whole request; 0: 120 s */
	const char *user_agent;     /* NULL: "leavesync/VERSION" */
	const struct http_log *log; /* NULL or no callback: nothing logged; borrowed, outlives the
	                               client */
};

struct http_request {
	const char *method; /* "GET", "POST", "PATCH", "DELETE" */
	const char *url;
	const char *bearer;       /* access token or NULL; sent as Authorization, never logged */
	const char *content_type; /* for a body, e.g. "text/xml; charset=utf-8" */
	const char *body;         /* may be NULL */
	size_t body_len;
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated, may be NULL */
};

struct http_response {
	long status; /* 0 when no response was received */
	char *body;  /* NUL-terminated, owned; http_response_free */
	size_t body_len;
	char *content_type;  /* owned, may be NULL */
	long retry_after_ms; /* from Retry-After (seconds, possibly fractional, or an HTTP date); -1
	                        absent */
	char *www_authenticate; /* owned, may be NULL (401 diagnostics) */
	char *request_id; /* request-id / x-ms-request-id / client-request-id if sent; owned */
};

enum http_failure {
	HTTP_OK = 0,      /* a response arrived (any status) */
	HTTP_ERR_DNS,     /* host name did not resolve */
	HTTP_ERR_CONNECT, /* TCP refused / unreachable / timed out */
	HTTP_ERR_TLS,     /* certificate or handshake failure (fails closed) */
	HTTP_ERR_TIMEOUT, /* no complete response in time */
	HTTP_ERR_DROPPED, /* connection closed mid-response: the request may have taken effect */
	HTTP_ERR_OTHER,
};

struct http_client *http_client_new(const struct http_options *opt, struct error *err);
void http_client_free(struct http_client *c);

/* Performs one request. Returns HTTP_OK with *resp filled (caller frees with http_response_free),
 * or a failure with err naming the URL (without query string secrets) and the cause. Never retries:
 * retries are the executor's decision. */
enum http_failure http_perform(struct http_client *c, const struct http_request *req,
                               struct http_response *resp, struct error *err);

void http_response_free(struct http_response *resp);

/* True when url is https, or http to a loopback host (127.0.0.0/8, ::1, localhost). */
bool http_url_allowed(const char *url);
/* True when url's scheme, host and port equal base's (server-given links are followed only there).
 */
bool http_same_origin(const char *url, const char *base);
/* Percent-encodes s for a URL path segment or query value; caller frees. */
char *http_escape(const char *s);

/* curl_global_init, once per process (pthread_once); http_client_new calls it. Call it from main
 * before starting threads if other code uses libcurl directly. */
void http_global_init(void);

/* Retry-After value -> milliseconds to wait: delta-seconds ("120"), fractional seconds ("1.5", as
 * Graph sends them) or an HTTP-date (relative to now, Unix seconds; a past date gives 0).
 * -1 when value is NULL or not understood. */
long http_parse_retry_after(const char *value, int64_t now);

/* The URL without userinfo, query string and fragment, for messages (tokens and codes ride in
 * query strings). Caller frees; never NULL. */
char *http_redact_url(const char *url);

#endif
