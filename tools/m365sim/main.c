/* m365sim: command line, the libmicrohttpd server, routing, fault rendering and counters (which
 * fault fires: faults.c).
 *
 *   m365sim [--port N] [--fixture FILE] [--tls-cert F --tls-key F] [--state FILE]
 *           [--token-lifetime SECONDS] [--record-ews DIR] [--ews-schema FILE]
 *   m365sim --validate-ews [-q] [--json] [--ews-schema FILE] FILE...
 *
 * Listens on 127.0.0.1 only and prints "listening on http(s)://127.0.0.1:PORT" first. Without a
 * usable EWS schema it does not start (exit 2): every EWS request would fail. */
#include "common/util.h"
#include "tools/m365sim/ews_int.h"
#include "tools/m365sim/onprem.h"
#include "tools/m365sim/sim_core.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BODY (64u << 20)

/* ---- state access (sim.h) ---- */

bool sim_uses_tls(struct sim *s)
{
	return s->tls;
}

void sim_lock(struct sim *s)
{
	pthread_mutex_lock(&s->mu);
}

void sim_unlock(struct sim *s)
{
	pthread_mutex_unlock(&s->mu);
}

int64_t sim_now(struct sim *s)
{
	return now_unix() + s->clock_offset;
}

void sim_count(struct sim *s, const char *counter)
{
	json_t *v = json_object_get(s->counters, counter);

	if (v)
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(s->counters, counter, json_integer(1));
}

/* ---- the server ---- */

struct server {
	struct sim *sim;
	struct MHD_Daemon *daemon;
};

/* One per HTTP request: the raw URI (query string included) and the body collected so far. */
struct pending {
	char *uri;
	struct buf body;
	bool started;
	bool too_large;
	struct sim_header *headers;
	size_t nheaders, cap;
};

/* A connection's sign-in state (NTLM authenticates a connection), created when it opens. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	(void)cls, (void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct sim_conn *conn = xcalloc(1, sizeof *conn);
		conn->account = -1;
		*socket_context = conn;
	} else {
		free(*socket_context);
		*socket_context = NULL;
	}
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct pending *p = xcalloc(1, sizeof *p);

	(void)cls, (void)c;
	p->uri = xstrdup(uri);
	return p;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct pending *p = *con_cls;

	(void)cls, (void)c, (void)toe;
	if (!p)
		return;
	for (size_t i = 0; i < p->nheaders; i++) {
		free(p->headers[i].name);
		free(p->headers[i].value);
	}
	free(p->headers);
	free(p->uri);
	buf_free(&p->body);
	free(p);
	*con_cls = NULL;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
	struct pending *p = cls;

	(void)kind;
	if (p->nheaders == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->headers = xrealloc(p->headers, p->cap * sizeof *p->headers);
	}
	p->headers[p->nheaders].name = xstrdup(key);
	p->headers[p->nheaders].value = xstrdup(value ? value : "");
	p->nheaders++;
	return MHD_YES;
}

struct drop_body {
	char *data;
	size_t cut;
};

static ssize_t drop_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct drop_body *d = cls;
	size_t n;

	if (pos >= d->cut)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = d->cut - (size_t)pos < max ? d->cut - (size_t)pos : max;
	memcpy(out, d->data + pos, n);
	return (ssize_t)n;
}

static void drop_free(void *cls)
{
	struct drop_body *d = cls;

	free(d->data);
	free(d);
}

static struct MHD_Response *make_response(struct sim_response *r)
{
	size_t len = r->body.len;
	char *data = buf_steal(&r->body);
	struct MHD_Response *mr;

	if (r->drop) {
		struct drop_body *d = xcalloc(1, sizeof *d);
		d->data = data;
		d->cut = len / 2;
		mr = MHD_create_response_from_callback(len, 4096, drop_reader, d, drop_free);
	} else {
		mr = MHD_create_response_from_buffer(len, data ? data : xstrdup(""),
		                                     MHD_RESPMEM_MUST_FREE);
	}
	for (size_t i = 0; i < r->nheaders; i++)
		MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
	return mr;
}

static void resp_free(struct sim_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	buf_free(&r->body);
}

static void set_text(struct sim_response *r, int status, const char *type, const char *text)
{
	r->status = status;
	buf_reset(&r->body);
	buf_puts(&r->body, text);
	sim_resp_header(r, "Content-Type", type);
}

/* The operation name of an EWS request (first element in soap:Body), for counters of faulted
 * requests that never reach ews.c. */
static void count_ews_op(struct sim *s, const struct sim_request *req)
{
	char name[80] = "ews.";

	if (sim_ews_op_name(req->body, name + 4, sizeof name - 4) == 0)
		sim_count(s, name);
}

static void render_throttle(struct sim_response *r, const struct sim_fault *f, const char *path)
{
	bool is429 = strcmp(f->kind, "http429") == 0;
	char ra[32];

	if (strncmp(path, "/v1.0", 5) == 0 || strncmp(path, "/beta", 5) == 0) {
		sim_resp_json(r, is429 ? 429 : 503,
		              json_pack("{s:{s:s,s:s}}", "error", "code",
		                        is429 ? "TooManyRequests" : "ServiceUnavailable", "message",
		                        is429 ? "Application is over its MailboxConcurrency limit."
		                              : "The service is temporarily unavailable."));
	} else {
		set_text(r, is429 ? 429 : 503, "text/html",
		         is429 ? "<html><body><h1>Too Many Requests</h1></body></html>"
		               : "<html><body><h1>Service Unavailable</h1></body></html>");
	}
	if (f->retry_after > 0) {
		snprintf(ra, sizeof ra, "%g", f->retry_after);
		sim_resp_header(r, "Retry-After", ra);
	}
}

static void damage_body(struct sim_response *r, const char *kind)
{
	size_t keep = r->body.len / 2;

	r->body.len = keep;
	if (r->body.data)
		r->body.data[keep] = '\0';
	if (strcmp(kind, "malformed") == 0)
		buf_puts(&r->body, "<<\x01 m365sim: malformed body {\"");
}

/* --record-ews: keeps each EWS request exactly as POSTed, for `m365sim --validate-ews` (the
 * integration tests check every request leavesync sent). A file that cannot be written is said on
 * stderr, so that a test missing requests knows why. */
static void record_ews_request(struct sim *s, const struct sim_request *req)
{
	char path[4096];
	FILE *f;

	if (!s->record_dir || strcmp(req->path, "/EWS/Exchange.asmx") != 0 ||
	    strcmp(req->method, "POST") != 0)
		return;
	snprintf(path, sizeof path, "%s/%06ld.xml", s->record_dir, ++s->recorded);
	f = fopen(path, "wb");
	bool written = f != NULL;
	if (f) {
		written = fwrite(req->body, 1, req->body_len, f) == req->body_len;
		written = fclose(f) == 0 && written;
	}
	if (!written)
		fprintf(stderr, "m365sim: --record-ews: cannot write %s\n", path);
}

static void route(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	record_ews_request(s, req);
	if (sim_identity_handle(s, req, resp) || sim_onprem_handle(s, req, resp) ||
	    sim_ews_handle(s, req, resp) || sim_graph_handle(s, req, resp) ||
	    sim_control_handle(s, req, resp))
		return;
	sim_resp_json(resp, 404,
	              json_pack("{s:s,s:s}", "error", "not_found", "message",
	                        "m365sim serves /{tenant}/oauth2/v2.0/..., /EWS/Exchange.asmx, "
	                        "/v1.0/... and /_sim/..."));
}

/* Runs one request under the lock: counters, faults, then the services. */
static void dispatch(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	struct sim_fault f;
	bool faulted;

	sim_lock(s);
	s->cur_req = req;
	if (strncmp(req->path, "/_sim", 5) != 0)
		sim_count(s, "requests");
	sim_fault_classify(s, req);
	faulted = sim_take_transport_fault(s, req->path, false, &f);
	if (faulted && strcmp(f.kind, "latency") == 0) {
		s->cur_req = NULL;
		sim_unlock(s);
		usleep((useconds_t)f.latency_ms * 1000);
		sim_lock(s);
		s->cur_req = req;
		sim_count(s, "faults.latency.done"); /* tests wait for a slow request with this */
		/* other requests ran meanwhile: this one's operations again, and a slow answer may
		 * still meet another fault */
		sim_fault_classify(s, req);
		faulted = sim_take_transport_fault(s, req->path, true, &f);
	}
	if (faulted &&
	    (strcmp(f.kind, "http503") == 0 || strcmp(f.kind, "http429") == 0 ||
	     strcmp(f.kind, "html") == 0 || (strcmp(f.kind, "drop") == 0 && !f.after_commit))) {
		if (strcmp(req->path, "/EWS/Exchange.asmx") == 0)
			count_ews_op(s, req);
		if (strcmp(f.kind, "html") == 0)
			set_text(
			    resp, f.status ? f.status : 502, "text/html; charset=utf-8",
			    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
			    "<body><h1>Bad Gateway</h1><p>The proxy server received an invalid "
			    "response from an upstream server.</p></body></html>");
		else if (strcmp(f.kind, "drop") == 0)
			set_text(resp, 200, "text/plain",
			         "m365sim: this response is dropped mid-way");
		else
			render_throttle(resp, &f, req->path);
		resp->drop = strcmp(f.kind, "drop") == 0;
		resp->no_answer = resp->drop && f.no_answer;
	} else {
		route(s, req, resp);
		if (faulted && strcmp(f.kind, "drop") == 0) {
			resp->drop = true;
			resp->no_answer = f.no_answer;
		} else if (faulted) {
			damage_body(resp, f.kind);
		}
	}
	s->cur_req = NULL;
	s->scope_op[0] = '\0';
	sim_unlock(s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct server *srv = cls;
	struct pending *p = *con_cls;
	struct sim_response resp = {.status = 200};
	struct sim_request req;
	struct MHD_Response *mr;
	const char *q;
	enum MHD_Result rc;

	(void)version;
	if (!p->started) {
		p->started = true;
		return MHD_YES;
	}
	if (*upload_size) {
		if (p->body.len + *upload_size > MAX_BODY)
			p->too_large = true;
		else
			buf_append(&p->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, p);
	q = strchr(p->uri, '?');
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	req = (struct sim_request){.conn = ci ? ci->socket_context : NULL,
	                           .tls = srv->sim->tls,
	                           .method = method,
	                           .path = url,
	                           .query = q ? q + 1 : "",
	                           .body = p->body.data ? p->body.data : "",
	                           .body_len = p->body.len,
	                           .headers = p->headers,
	                           .nheaders = p->nheaders};
	if (p->too_large)
		set_text(&resp, 413, "text/plain", "request body too large");
	else
		dispatch(srv->sim, &req, &resp);
	if (resp.no_answer) {
		/* A lost answer in its purest form: the connection closes before a single byte of
		 * the response (MHD_NO closes it). A client that reused the connection cannot tell
		 * whether the request arrived. */
		resp_free(&resp);
		return MHD_NO;
	}
	mr = make_response(&resp);
	rc = MHD_queue_response(c, (unsigned)resp.status, mr);
	MHD_destroy_response(mr);
	resp_free(&resp);
	return rc;
}

/* ---- command line ---- */

struct options {
	int port;
	const char *fixture, *cert, *key, *state, *record_ews, *ews_schema;
	int token_lifetime;
	bool validate_ews, quiet, json; /* --validate-ews FILE... (files from optind) */
	int first_file;
};

static void usage(FILE *f)
{
	fputs("usage: m365sim [--port N] [--fixture FILE] [--tls-cert FILE --tls-key FILE]\n"
	      "               [--state FILE] [--token-lifetime SECONDS] [--record-ews DIR]\n"
	      "               [--ews-schema FILE]\n"
	      "       m365sim --validate-ews [-q] [--json] [--ews-schema FILE] FILE...\n"
	      "A simulator of the Microsoft identity platform, EWS and Graph (docs/simulator.md).\n"
	      "--validate-ews checks EWS requests as the server would (exit 0 all valid, 1 any\n"
	      "invalid, 2 usage or unreadable file).\n",
	      f);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
	                                         {"fixture", required_argument, NULL, 'f'},
	                                         {"tls-cert", required_argument, NULL, 'c'},
	                                         {"tls-key", required_argument, NULL, 'k'},
	                                         {"state", required_argument, NULL, 's'},
	                                         {"token-lifetime", required_argument, NULL, 't'},
	                                         {"record-ews", required_argument, NULL, 'r'},
	                                         {"ews-schema", required_argument, NULL, 'x'},
	                                         {"validate-ews", no_argument, NULL, 'V'},
	                                         {"quiet", no_argument, NULL, 'q'},
	                                         {"json", no_argument, NULL, 'j'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	int ch;

	*o = (struct options){.port = 8443, .token_lifetime = 3600};
	while ((ch = getopt_long(argc, argv, "p:f:c:k:s:t:r:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			o->port = atoi(optarg);
			break;
		case 'f':
			o->fixture = optarg;
			break;
		case 'c':
			o->cert = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 's':
			o->state = optarg;
			break;
		case 't':
			o->token_lifetime = atoi(optarg);
			break;
		case 'r':
			o->record_ews = optarg;
			break;
		case 'x':
			o->ews_schema = optarg;
			break;
		case 'V':
			o->validate_ews = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	o->first_file = optind;
	if (o->validate_ews
	        ? optind == argc
	        : (optind != argc || o->quiet || o->json || o->port < 0 || o->port > 65535 ||
	           o->token_lifetime <= 0 || (!o->cert != !o->key))) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static struct MHD_Daemon *start_daemon(struct server *srv, const struct options *o, char **pem)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	size_t len;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (o->cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			fprintf(stderr, "m365sim: this libmicrohttpd has no TLS support\n");
			return NULL;
		}
		if (read_file(o->cert, &pem[0], &len) < 0 || read_file(o->key, &pem[1], &len) < 0) {
			fprintf(stderr, "m365sim: cannot read --tls-cert %s / --tls-key %s\n",
			        o->cert, o->key);
			return NULL;
		}
		flags |= MHD_USE_TLS;
		return MHD_start_daemon(
		    flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &sa,
		    MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED,
		    on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		    MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_CONNECTION_LIMIT, 4000u,
		    MHD_OPTION_HTTPS_MEM_CERT, pem[0], MHD_OPTION_HTTPS_MEM_KEY, pem[1],
		    MHD_OPTION_END);
	}
	return MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &sa,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	    NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
	    120u, MHD_OPTION_CONNECTION_LIMIT, 4000u, MHD_OPTION_END);
}

static void sim_init(struct sim *s, const struct options *o)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	s->tls = o->cert != NULL;
	s->token_lifetime = s->default_token_lifetime = o->token_lifetime;
	sim_random_bytes(s->hmac_key, sizeof s->hmac_key);
	s->counters = json_object();
	s->next_fault_id = 1;
	s->state_path = o->state ? xstrdup(o->state) : NULL;
	s->record_dir = o->record_ews ? xstrdup(o->record_ews) : NULL;
	sim_identity_init(s);
}

static void sim_free(struct sim *s)
{
	sim_identity_free(s);
	sim_faults_clear(s);
	sim_fixture_free(s);
	json_decref(s->counters);
	free(s->state_path);
	free(s->record_dir);
	pthread_mutex_destroy(&s->mu);
}

int main(int argc, char **argv)
{
	struct options o;
	struct sim s;
	struct server srv = {.sim = &s};
	struct error err = {""};
	char *pem[2] = {NULL, NULL};
	sigset_t sigs;
	int sig, rc = 0;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	if (o.ews_schema)
		ews_schema_use_file(o.ews_schema);
	if (o.validate_ews)
		return ews_validate_files(argv + o.first_file, argc - o.first_file, o.quiet, o.json,
		                          MAX_BODY);
	/* Said once, at start: without the schema every EWS request would fail. */
	if (ews_schema_load(err.msg, sizeof err.msg) < 0) {
		fprintf(stderr, "m365sim: EWS schema: %s\n", err.msg);
		return 2;
	}
	sim_init(&s, &o);
	if (sim_fixture_load(&s, o.fixture, &err) < 0 ||
	    (s.state_path && sim_state_load(&s, &err) < 0)) {
		fprintf(stderr, "m365sim: %s\n", err.msg);
		sim_free(&s);
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* MHD threads inherit the mask; sigwait below */
	signal(SIGPIPE, SIG_IGN);
	srv.daemon = start_daemon(&srv, &o, pem);
	if (!srv.daemon) {
		fprintf(stderr, "m365sim: cannot listen on 127.0.0.1:%d\n", o.port);
		free(pem[0]);
		free(pem[1]);
		sim_free(&s);
		return 1;
	}
	printf("listening on %s://127.0.0.1:%u\n", o.cert ? "https" : "http",
	       (unsigned)MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT)->port);
	fflush(stdout);
	sigwait(&sigs, &sig);
	MHD_stop_daemon(srv.daemon);
	if (s.state_path && sim_state_save(&s, &err) < 0) {
		fprintf(stderr, "m365sim: %s\n", err.msg);
		rc = 1;
	}
	free(pem[0]);
	free(pem[1]);
	sim_free(&s);
	return rc;
}
