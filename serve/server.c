/* The HTTP(S) front of leavesync serve: libmicrohttpd in its own thread pool, the route table,
 * authentication, limits, idempotency, access log and metrics per request (docs/api.md). */
#include "serve/serve_int.h"

#include "common/util.h"
#include "common/log.h"
#include "serve/parse.h"
#include "serve/serve.h"
#include "serve/server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct route serve_routes[] = {
    {"PUT", "/v1/leave/{id}", SCOPE_PUSH, ROUTE_BODY, h_put_leave},
    {"GET", "/v1/leave/{id}", SCOPE_READ, 0, h_get_leave},
    {"POST", "/v1/leave", SCOPE_PUSH, ROUTE_BODY, h_post_leave},
    {"GET", "/v1/leave", SCOPE_READ, 0, h_list_leave},
    {"POST", "/v1/resync", SCOPE_ADMIN, ROUTE_BODY, h_resync},
    {"POST", "/v1/reconcile", SCOPE_ADMIN, ROUTE_BODY, h_reconcile},
    {"GET", "/v1/runs/{id}", SCOPE_READ, 0, h_get_run},
    {"GET", "/healthz", SCOPE_READ, ROUTE_HEALTH, h_healthz},
    {"GET", "/readyz", SCOPE_READ, ROUTE_HEALTH, h_readyz},
    {"GET", "/metrics", SCOPE_READ, ROUTE_METRICS, h_metrics},
};
const size_t serve_nroutes = sizeof serve_routes / sizeof serve_routes[0];

#define PROBLEM_BASE "tag:leavesync,2026:problems/"
#define MAX_URI 8192

/* ---- responses ---- */

void sresp_json(struct sresp *rs, int status, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	rs->status = status;
	snprintf(rs->content_type, sizeof rs->content_type, "application/json");
	buf_reset(&rs->body);
	buf_puts(&rs->body, text ? text : "{}");
	free(text);
	json_decref(j);
}

void sresp_problem(struct sresp *rs, int status, const char *name, const char *title,
                   const char *fmt, ...)
{
	char detail[1200], type[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	snprintf(type, sizeof type, "%s%s", name ? PROBLEM_BASE : "about:blank", name ? name : "");
	sresp_json(rs, status,
	           json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title, "status", status,
	                     "detail", detail));
	snprintf(rs->content_type, sizeof rs->content_type, "application/problem+json");
}

/* ---- settings and per-thread stores ---- */

struct serve_settings *settings_acquire(struct serve *s)
{
	struct serve_settings *set;

	pthread_mutex_lock(&s->settings_mu);
	set = s->settings;
	atomic_fetch_add(&set->refs, 1);
	pthread_mutex_unlock(&s->settings_mu);
	return set;
}

void settings_release(struct serve_settings *set)
{
	if (set && atomic_fetch_sub(&set->refs, 1) == 1) {
		serve_config_free(&set->sc);
		config_free(&set->cfg);
		free(set);
	}
}

struct store *serve_thread_store(struct serve *s, struct error *err)
{
	struct store *st = pthread_getspecific(s->store_key);

	if (st)
		return st;
	if (store_open(s->store_path, false, s->store_group, &st, err) < 0)
		return NULL;
	pthread_setspecific(s->store_key, st);
	return st;
}

/* ---- one request ---- */

struct request {
	struct serve *srv;
	struct serve_settings *set;
	int64_t t0_us;
	char *uri;
	const char *query;
	char path[256]; /* for the log: the raw path, cut */
	char method[8];
	const struct route *route;
	char param[1024];
	struct principal who;
	struct buf body;
	bool started, responded, too_large;
	int status;
};

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static atomic_int in_flight;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct request *r = xcalloc(1, sizeof *r);

	(void)c;
	r->srv = cls;
	r->t0_us = now_us();
	r->uri = xstrndup(uri, strnlen(uri, MAX_URI));
	atomic_fetch_add(&in_flight, 1);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;
	double secs;

	(void)cls, (void)c;
	if (!r)
		return;
	secs = (double)(now_us() - r->t0_us) / 1e6;
	if (r->started) {
		const char *route = r->route ? r->route->pattern : "unmatched";
		int status = r->responded ? r->status : 0;

		/* never the key, never the body, never the query string */
		log_msg(
		    LOG_INFO,
		    "leavesync serve: access key=%s method=%s path=%s status=%d duration_ms=%.2f%s",
		    r->who.name[0] ? r->who.name : "-", r->method, r->path, status, secs * 1000.0,
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed)");
		metrics_request(r->srv->metrics, route, r->method, status, secs);
	}
	settings_release(r->set);
	free(r->uri);
	buf_free(&r->body);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&in_flight, 1);
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct request *r, struct sresp *rs,
                                     const char *extra_name, const char *extra_value)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	char ra[24];

	mr = MHD_create_response_from_buffer(rs->body.len, rs->body.data ? rs->body.data : "",
	                                     MHD_RESPMEM_MUST_COPY);
	if (!mr)
		return MHD_NO;
	if (rs->content_type[0])
		MHD_add_response_header(mr, "Content-Type", rs->content_type);
	if (rs->location[0])
		MHD_add_response_header(mr, "Location", rs->location);
	if (rs->retry_after >= 0) {
		snprintf(ra, sizeof ra, "%d", rs->retry_after);
		MHD_add_response_header(mr, "Retry-After", ra);
	}
	if (extra_name)
		MHD_add_response_header(mr, extra_name, extra_value);
	MHD_add_response_header(mr, "Cache-Control", "no-store");
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, (unsigned)rs->status, mr);
	MHD_destroy_response(mr);
	r->responded = true;
	r->status = rs->status;
	return ret;
}

static enum MHD_Result answer_problem(struct MHD_Connection *c, struct request *r, int status,
                                      const char *name, const char *title, const char *detail,
                                      const char *hdr, const char *hval, int retry_after)
{
	struct sresp rs = {.retry_after = retry_after};
	enum MHD_Result ret;

	sresp_problem(&rs, status, name, title, "%s", detail);
	ret = send_response(c, r, &rs, hdr, hval);
	buf_free(&rs.body);
	return ret;
}

static bool client_cert_ok(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	unsigned int status = 0, n = 0;
	gnutls_session_t s;

	if (!ci || !ci->tls_session)
		return false;
	s = (gnutls_session_t)ci->tls_session;
	if (!gnutls_certificate_get_peers(s, &n) || n == 0)
		return false;
	return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}

/* Matches the route; answers 400/404/405 itself (returns false then). */
static bool match_route(struct MHD_Connection *c, struct request *r, const char *method,
                        enum MHD_Result *ret)
{
	const char *q = strchr(r->uri, '?');
	size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
	char allow[64] = "";

	r->query = q ? q + 1 : NULL;
	for (size_t i = 0; i < serve_nroutes; i++) {
		const struct route *rt = &serve_routes[i];
		int m = serve_path_match(rt->pattern, r->uri, plen, r->param, sizeof r->param);

		if (m < 0) {
			*ret = answer_problem(c, r, 400, "bad-path", "Malformed path",
			                      "the path segment is badly percent-encoded, holds a "
			                      "control character or is longer than 1023 bytes",
			                      NULL, NULL, -1);
			return false;
		}
		if (m == 0)
			continue;
		if (strcmp(rt->method, method) == 0) {
			r->route = rt;
			return true;
		}
		if (strlen(allow) + strlen(rt->method) + 3 < sizeof allow)
			snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
			         allow[0] ? ", " : "", rt->method);
	}
	if (allow[0])
		*ret = answer_problem(c, r, 405, "method-not-allowed", "Method not allowed",
		                      "this path takes other methods (see the Allow header)",
		                      "Allow", allow, -1);
	else
		*ret = answer_problem(c, r, 404, "not-found", "Not found",
		                      "no such resource: see docs/api.md for the routes", NULL,
		                      NULL, -1);
	return false;
}

/* Client certificate, API key, scope, rate limit, declared body size: the first call of a
 * request, before any body is read. */
static bool admit(struct MHD_Connection *c, struct request *r, enum MHD_Result *ret)
{
	const struct serve_config *sc = &r->set->sc;
	const struct route *rt = r->route;
	struct error err = {{0}};
	bool open = ((rt->flags & ROUTE_HEALTH) && sc->public_health) ||
	            ((rt->flags & ROUTE_METRICS) && sc->public_metrics);
	struct store *st;
	const char *cl;
	int retry;

	if (sc->client_ca && !client_cert_ok(c)) {
		*ret = answer_problem(c, r, 403, "client-certificate-required",
		                      "Client certificate required",
		                      "present a client certificate signed by the CA of [serve] "
		                      "client_ca",
		                      NULL, NULL, -1);
		return false;
	}
	if (!open) {
		const char *authz =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		enum auth_result a;

		if (!(st = serve_thread_store(r->srv, &err))) {
			*ret =
			    answer_problem(c, r, 500, "store-error", "The store cannot be opened",
			                   err.msg, NULL, NULL, -1);
			return false;
		}
		a = apikey_authenticate(st, authz, &r->who, &err);
		if (a == AUTH_ERROR) {
			*ret = answer_problem(c, r, 500, "store-error", "The store cannot be read",
			                      err.msg, NULL, NULL, -1);
			return false;
		}
		if (a != AUTH_OK) {
			*ret = answer_problem(
			    c, r, 401, "unauthorized", "API key required",
			    a == AUTH_MISSING
			        ? "send Authorization: Bearer KEY (leavesync apikey create)"
			        : "the API key is malformed, unknown or revoked",
			    "WWW-Authenticate",
			    a == AUTH_MISSING
			        ? "Bearer realm=\"leavesync\""
			        : "Bearer realm=\"leavesync\", error=\"invalid_token\"",
			    -1);
			return false;
		}
		if (r->who.scope < rt->scope) {
			char detail[200];
			snprintf(detail, sizeof detail,
			         "%s %s needs a key of scope %s; key '%s' has scope %s", rt->method,
			         rt->pattern, scope_name(rt->scope), r->who.name,
			         scope_name(r->who.scope));
			*ret = answer_problem(c, r, 403, "insufficient-scope", "Insufficient scope",
			                      detail, NULL, NULL, -1);
			return false;
		}
		if (!ratelimit_take(r->srv->rl, r->who.name, sc->rate_limit, sc->rate_burst,
		                    now_ms(), &retry)) {
			char detail[160];
			snprintf(detail, sizeof detail,
			         "key '%s' may make %g requests per second (burst %d): retry after "
			         "%d s",
			         r->who.name, sc->rate_limit, sc->rate_burst, retry);
			*ret = answer_problem(c, r, 429, "rate-limited", "Too many requests",
			                      detail, NULL, NULL, retry);
			return false;
		}
	}
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > sc->max_body_bytes) {
		char detail[160];
		snprintf(detail, sizeof detail,
		         "the body may be at most %zu bytes ([serve] max_body_bytes): split it",
		         sc->max_body_bytes);
		*ret = answer_problem(c, r, 413, "body-too-large", "Request body too large", detail,
		                      NULL, NULL, -1);
		return false;
	}
	return true;
}

static void request_hash(const struct request *r, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 32;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, r->method, strlen(r->method) + 1) ||
	    !EVP_DigestUpdate(ctx, r->uri, strlen(r->uri) + 1) ||
	    !EVP_DigestUpdate(ctx, r->body.data ? r->body.data : "", r->body.len) ||
	    !EVP_DigestFinal_ex(ctx, out, &n))
		memset(out, 0xff, 32); /* never equal to a real digest's absence: refuse replays */
	EVP_MD_CTX_free(ctx);
}

static void run_handler(struct MHD_Connection *c, struct request *r, struct sresp *rs)
{
	struct sreq rq = {.srv = r->srv,
	                  .set = r->set,
	                  .method = r->method,
	                  .path = r->uri,
	                  .query = r->query,
	                  .content_type =
	                      MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
	                  .body = r->body.data ? r->body.data : "",
	                  .body_len = r->body.len,
	                  .who = &r->who};
	struct error err = {{0}};

	snprintf(rq.param, sizeof rq.param, "%s", r->param);
	if (!(rq.st = serve_thread_store(r->srv, &err))) {
		sresp_problem(rs, 500, "store-error", "The store cannot be opened", "%s", err.msg);
		return;
	}
	r->route->handler(&rq, rs);
}

/* Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): the first response for (key name,
 * idempotency key) is remembered for [serve] idempotency_hours; the same request again gets it
 * back; another request with the same key is refused with 422. Writes take turns (write_mu), so
 * two copies in flight at once cannot both run. Returns the extra header to send, or NULL. */
static const char *with_idempotency(struct MHD_Connection *c, struct request *r, const char *idem,
                                    struct sresp *rs)
{
	struct idem_record rec = {0};
	struct error err = {{0}};
	struct store *st;
	unsigned char h[32];
	const char *extra = NULL;
	int found;

	if (!(st = serve_thread_store(r->srv, &err))) {
		sresp_problem(rs, 500, "store-error", "The store cannot be opened", "%s", err.msg);
		return NULL;
	}
	request_hash(r, h);
	pthread_mutex_lock(&r->srv->write_mu);
	found =
	    store_idem_get(st, r->who.name, idem,
	                   now_unix() - (int64_t)r->set->sc.idempotency_hours * 3600, &rec, &err);
	if (found < 0) {
		sresp_problem(rs, 500, "store-error", "The store cannot be read", "%s", err.msg);
	} else if (found && memcmp(rec.request_hash, h, sizeof h) != 0) {
		sresp_problem(rs, 422, "idempotency-key-reused", "Idempotency-Key already used",
		              "this Idempotency-Key was used for a different request in the last "
		              "%d hours: use a new key for a new request",
		              r->set->sc.idempotency_hours);
	} else if (found) {
		rs->status = rec.status;
		snprintf(rs->content_type, sizeof rs->content_type, "%s", rec.content_type);
		buf_append(&rs->body, rec.body, rec.body_len);
		extra = "true";
	} else {
		run_handler(c, r, rs);
		if (rs->status < 500 && rs->status != 429) {
			struct idem_record put = {.status = rs->status,
			                          .content_type = rs->content_type,
			                          .body = rs->body.data,
			                          .body_len = rs->body.len};
			memcpy(put.request_hash, h, sizeof h);
			if (store_idem_put(st, r->who.name, idem, &put, &err) < 0)
				log_msg(LOG_WARNING,
				        "leavesync serve: could not remember an idempotent "
				        "response: %s",
				        err.msg);
		}
	}
	pthread_mutex_unlock(&r->srv->write_mu);
	idem_record_free(&rec);
	return extra;
}

static enum MHD_Result finish(struct MHD_Connection *c, struct request *r)
{
	const struct serve_config *sc = &r->set->sc;
	struct sresp rs = {.retry_after = -1};
	const char *idem_hdr, *extra = NULL;
	enum MHD_Result ret;
	char idem[256];

	if (r->too_large) {
		char detail[160];
		snprintf(detail, sizeof detail,
		         "the body may be at most %zu bytes ([serve] max_body_bytes): split it",
		         sc->max_body_bytes);
		return answer_problem(c, r, 413, "body-too-large", "Request body too large", detail,
		                      NULL, NULL, -1);
	}
	if ((r->route->flags & ROUTE_BODY) && sc->hmac_secret &&
	    !signature_valid(sc->hmac_secret, sc->hmac_secret_len, r->body.data, r->body.len,
	                     MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Signature")))
		return answer_problem(
		    c, r, 401, "bad-signature", "Signature missing or wrong",
		    "send X-Signature: sha256=HEX, the HMAC-SHA256 of the raw body "
		    "with the shared secret ([serve] hmac_secret)",
		    NULL, NULL, -1);
	idem_hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
	if (idem_hdr && (r->route->flags & ROUTE_BODY)) {
		if (serve_idempotency_key(idem_hdr, idem, sizeof idem) < 0)
			return answer_problem(c, r, 400, "bad-idempotency-key",
			                      "Malformed Idempotency-Key",
			                      "an Idempotency-Key is 1 to 255 printable ASCII "
			                      "characters, e.g. a UUID",
			                      NULL, NULL, -1);
		extra = with_idempotency(c, r, idem, &rs);
	} else {
		run_handler(c, r, &rs);
	}
	if (!rs.status)
		sresp_problem(&rs, 500, NULL, "Internal error", "the handler gave no answer");
	ret = send_response(c, r, &rs, extra ? "Idempotent-Replayed" : NULL, extra);
	buf_free(&rs.body);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct request *r = *con_cls;
	enum MHD_Result ret = MHD_YES;

	(void)cls, (void)url, (void)version;
	if (!r->started) {
		r->started = true;
		r->set = settings_acquire(r->srv);
		snprintf(r->method, sizeof r->method, "%s", method);
		snprintf(r->path, sizeof r->path, "%.*s", (int)strcspn(r->uri, "?"), r->uri);
		for (char *p = r->path; *p; p++) /* the log line stays one printable line */
			if ((unsigned char)*p < 0x21 || *p == 0x7f)
				*p = '?';
		if (atomic_load(&r->srv->stopping))
			return answer_problem(c, r, 503, "stopping", "Stopping",
			                      "leavesync serve is stopping: retry shortly", NULL,
			                      NULL, 5);
		if (!match_route(c, r, method, &ret) || !admit(c, r, &ret))
			return ret;
		return MHD_YES;
	}
	if (r->responded) {
		*upload_size = 0; /* an early answer was queued: the rest is discarded */
		return MHD_YES;
	}
	if (*upload_size) {
		if (r->body.len + *upload_size > r->set->sc.max_body_bytes)
			r->too_large = true;
		else
			buf_append(&r->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return finish(c, r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_msg(LOG_WARNING, "leavesync serve: http: %s", msg);
}

struct MHD_Daemon *server_start(struct serve *s, int listen_fd, char **pem, struct error *err)
{
	const struct serve_config *sc = &s->settings->sc;
	struct MHD_OptionItem ops[24];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
	struct MHD_Daemon *d;
	int n = 0;

#define OPT(o, v, p) ops[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}
	OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL); /* first, so that every message goes here */
	if (listen_fd >= 0)
		OPT(MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL);
	else
		OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)&sc->addr);
	if (listen_fd < 0 && sc->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	OPT(MHD_OPTION_THREAD_POOL_SIZE, sc->threads, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, sc->connection_limit, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, sc->per_ip_connection_limit, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, sc->connection_timeout, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, sc->max_header_bytes, NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, s);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, s);
	if (sc->tls_cert) {
		flags |= MHD_USE_TLS;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, pem[0]);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, pem[1]);
		/* TLS 1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1) */
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
		    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE");
		if (sc->client_ca)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, pem[2]);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	d = MHD_start_daemon(flags | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
	                     MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (!d)
		error_set(err,
		          "cannot listen on %s: the address is in use or not local, or the TLS "
		          "certificate and key do not match (see the log line above)",
		          listen_fd >= 0 ? "the socket systemd passed" : sc->listen);
	return d;
}

int server_in_flight(void)
{
	return atomic_load(&in_flight);
}

void serve_print_routes(FILE *f)
{
	for (size_t i = 0; i < serve_nroutes; i++)
		fprintf(f, "%s %s\n", serve_routes[i].method, serve_routes[i].pattern);
}
