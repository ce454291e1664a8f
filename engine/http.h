/* The one place that uses libcurl. A client is a connection pool for one thread (keep-alive, HTTP/2
 * where offered); TLS verification is always on; proxies come from the environment (libcurl's
 * http_proxy / https_proxy / no_proxy). No token or secret ever appears in an error message.
 *
 * Hostile servers: every request has a connect deadline, a total deadline and a low-speed cut (a
 * server trickling its answer is dropped early); a response body is capped after decompression,
 * and the bodies all clients of the process hold at once share one budget (a gzip bomb sent to
 * every worker at once cannot multiply the cap). Header values received are passed through
 * common/redact.h; values about to be sent (token, mailbox, ids) are refused, never sent, when
 * they hold a control character. */
#ifndef ENGINE_HTTP_H
#define ENGINE_HTTP_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_client;

/* Limits of every request ([limits] in docs/config.md); a zero field takes the default. */
struct http_limits {
	long connect_timeout_ms;      /* TCP + TLS handshake; default 10 s */
	long timeout_ms;              /* the whole request; default 120 s */
	long low_speed_bytes;         /* a transfer slower than this many bytes per second ... */
	long low_speed_seconds;       /* ... for this many seconds is cut; default 16 B/s, 30 s */
	size_t max_response_bytes;    /* one body after decompression; default 16 MiB */
	size_t response_budget_bytes; /* all bodies of the process at once; default 128 MiB */
};

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define HTTP_DEFAULT_TIMEOUT_MS 120000L
#define HTTP_DEFAULT_LOW_SPEED_BYTES 16L
#define HTTP_DEFAULT_LOW_SPEED_SECONDS 30L
#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)16 << 20)
#define HTTP_DEFAULT_RESPONSE_BUDGET ((size_t)128 << 20)

/* A request log for `leavesync -v`: called once per request, after it ended, from the thread that
 * made it. url is already redacted (no query string, no user info); nothing else of the request
 * (headers, bodies, tokens) is ever passed. status 0: no response (failure names why). */
struct http_log {
	void (*request)(void *arg, const char *method, const char *url, long status, int64_t ms,
	                const char *failure);
	void *arg;
};

struct http_options {
	const char *ca_file; /* extra trust anchor (PEM); NULL: the system store only */
	const struct http_limits *limits; /* copied; NULL: the defaults */
	long connect_timeout_ms;          /* over limits when > 0 */
	long timeout_ms;                  /* over limits when > 0 */
	int64_t deadline_ms;              /* now_ms() by which every request must be over (a run's
	                                     deadline); 0: none */
	const char *user_agent;           /* NULL: "leavesync/VERSION" */
	const struct http_log *log;       /* NULL or no callback: nothing logged; borrowed,
	                                     outlives the client */
	/* Exchange Server sign-in by libcurl (docs/onprem.md): NULL or "oauth": none (a bearer per
	 * request); "ntlm" (NTLMv2 only: a server challenge that would make libcurl answer with
	 * LM/NTLMv1 ends the request, nothing is answered), "negotiate" (SPNEGO through GSS-API,
	 * the Kerberos ticket of the process), "basic" (https URLs only). NTLM and Negotiate
	 * authenticate the connection, so the client speaks HTTP/1.1 and reuses it. */
	const char *auth;
	const char *username; /* copied */
	const char *password; /* copied, wiped on free, never in a message */
	/* "HOST:PORT:CONNECT_HOST:CONNECT_PORT[,...]": connect there instead of resolving HOST
	 * (libcurl's CURLOPT_CONNECT_TO; the certificate is still checked against HOST). For tests
	 * and split-horizon DNS ([ews] connect_to). NULL: none. */
	const char *connect_to;
};

struct http_request {
	const char *method; /* "GET", "POST", "PATCH", "DELETE" */
	const char *url;
	const char *bearer;       /* access token or NULL; sent as Authorization, never logged */
	const char *content_type; /* for a body, e.g. "text/xml; charset=utf-8" */
	const char *body;         /* may be NULL */
	size_t body_len;
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated, may be NULL */
	bool once; /* never sent twice (a create): libcurl silently sends a request again on a new
	              connection when a reused one closes before any answer; then the request may
	              have taken effect, so `once` turns that into HTTP_ERR_DROPPED instead */
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
	size_t held;      /* bytes of the process-wide response budget this body holds (freed with
	                     it) */
};

enum http_failure {
	HTTP_OK = 0,      /* a response arrived (any status) */
	HTTP_ERR_DNS,     /* host name did not resolve */
	HTTP_ERR_CONNECT, /* TCP refused / unreachable / timed out */
	HTTP_ERR_TLS,     /* certificate or handshake failure (fails closed) */
	HTTP_ERR_TIMEOUT, /* no complete response in time */
	HTTP_ERR_DROPPED, /* connection closed mid-response: the request may have taken effect */
	HTTP_ERR_OTHER,
	HTTP_ERR_REFUSED, /* not sent: a header value holds a control character (a malformed token),
	                     or the server asked for a sign-in leavesync refuses (NTLMv1, Basic
	                     without TLS) */
};

struct http_client *http_client_new(const struct http_options *opt, struct error *err);
void http_client_free(struct http_client *c);

/* Performs one request. Returns HTTP_OK with *resp filled (caller frees with http_response_free,
 * which also gives its bytes back to the response budget), or a failure with err naming the URL
 * (without query string secrets) and the cause. Never retries: retries are the executor's
 * decision. A body larger than max_response_bytes, or one that would take the process past
 * response_budget_bytes, is cut: HTTP_ERR_OTHER, nothing kept. */
enum http_failure http_perform(struct http_client *c, const struct http_request *req,
                               struct http_response *resp, struct error *err);

void http_response_free(struct http_response *resp);

/* Bytes of response bodies the process holds now (tests, diagnostics). */
size_t http_bytes_held(void);

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
