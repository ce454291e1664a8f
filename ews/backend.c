/* The EWS backend (engine/backend.h): a session holds one HTTP client (connection reuse) and the
 * [ews] settings; every request impersonates one mailbox (ExchangeImpersonation + X-AnchorMailbox,
 * [EWS impersonation-and-ews-in-exchange]), so write batches are per mailbox (no
 * CAP_CROSS_MAILBOX_BATCH).
 * HTTP outcomes are mapped here (401: one fresh token then give up; 403: EWS blocked; 429/503:
 * Retry-After; other 5xx and non-XML answers: retry), SOAP outcomes in response.c through errors.c.
 */
#include "ews/ews.h"

#include "common/util.h"
#include "engine/config.h"
#include "engine/http.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct be_session {
	const struct backend_env *env;
	char *url;
	char *version;
	size_t batch;       /* items per request ([ews] batch_size) */
	bool password_auth; /* on-premises sign-in (ntlm, negotiate, basic): no token to renew */
	struct http_client *http;
	/* Exchange Server without [ews] url: the EWS URL of each mail domain, from the store or
	 * SOAP Autodiscover (autodiscover.c), kept for the session (which one thread uses) */
	bool discover;
	bool version_learned; /* on-premises: RequestServerVersion set from the server's build */
	char too_old[160];    /* on-premises: the server is older than Exchange 2013 (refused) */
	struct discovered {
		char *domain, *url;
	} * found;
	size_t nfound;
};

/* ---- transport ---- */

/* A mailbox goes into an HTTP header and the SOAP header: no controls, spaces or angle brackets. */
static bool mailbox_ok(const char *mb)
{
	if (!mb || !*mb || strlen(mb) > 320 || !strchr(mb, '@'))
		return false;
	for (const unsigned char *p = (const unsigned char *)mb; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == ',' || *p == ';')
			return false;
	return true;
}

static bool looks_like_xml(const struct http_response *resp)
{
	if (resp->content_type && !strcasestr(resp->content_type, "xml"))
		return false;
	const char *p = resp->body ? resp->body : "";
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return *p == '<' && strncasecmp(p, "<html", 5) != 0 &&
	       strncasecmp(p, "<!doctype html", 14) != 0;
}

static enum be_status from_table(const char *key, struct error *err, const char *fmt_detail,
                                 const char *url, long status, const char *detail)
{
	const struct ews_error_info *info = ews_error_lookup(key);

	error_set(err, "EWS at %s answered HTTP %ld%s%s: %s Fix: %s", url, status,
	          fmt_detail ? fmt_detail : "", detail ? detail : "", info->meaning, info->fix);
	return info->status;
}

/* Maps an HTTP status that carries no SOAP answer; BE_OK when the body should be parsed. */
static enum be_status http_status(const struct be_session *s, const struct http_response *resp,
                                  int *retry_ms, struct error *err)
{
	long st = resp->status;

	if (st == 401) {
		/* The reason is in error="..." at the end of a long Bearer challenge (RFC 6750 §3),
		 * the detail in x-ms-diagnostics
		 * ([EWS instrumenting-client-requests-for-ews-and-rest-in-exchange]). */
		const char *wa = resp->www_authenticate ? resp->www_authenticate : "(none)";
		const char *reason = strstr(wa, "error=");
		char diag[160];
		snprintf(diag, sizeof(diag), "%s", reason ? reason : wa);
		if (s->password_auth)
			return from_table("HTTP 401 sign-in", err,
			                  " with WWW-Authenticate: ", s->url, st, wa);
		return from_table("HTTP 401", err, " with WWW-Authenticate: ", s->url, st, diag);
	}
	if (st == 403) /* EWS blocked by policy ([EWS how-to-control-access-to-ews-in-exchange]):
	                  permanent for the mailbox, never retried */
		return from_table("HTTP 403", err, NULL, s->url, st, NULL);
	if (st == 429 || st == 503) {
		*retry_ms = resp->retry_after_ms > 0 ? (int)resp->retry_after_ms : 0;
		return from_table(st == 429 ? "HTTP 429" : "HTTP 503", err, NULL, s->url, st, NULL);
	}
	if (!looks_like_xml(resp)) {
		const struct ews_error_info *info = ews_error_lookup("not XML");
		error_set(err,
		          "EWS at %s answered HTTP %ld with content type %s, not a SOAP document. "
		          "Fix: %s",
		          s->url, st, resp->content_type ? resp->content_type : "(none)",
		          info->fix);
		return st >= 500 || st < 400 ? info->status : BE_FINAL;
	}
	/* SOAP answers come with 200, and with 500 for faults (SOAP 1.1 §6.2; parsed). */
	if (st == 200 || st == 500 || st == 400)
		return BE_OK;
	if (st >= 500)
		return from_table("HTTP 5xx", err, NULL, s->url, st, NULL);
	return from_table("HTTP other", err, NULL, s->url, st, NULL);
}

static enum be_status get_token(struct be_session *s, const char *mailbox, bool force,
                                const char **token, struct error *err)
{
	*token = NULL;
	if (!s->env->tokens)
		return BE_OK;
	enum be_status st = s->env->tokens->get(s->env->tokens, mailbox, force, token, err);
	if (st != BE_OK)
		error_prefix(err, "access token for EWS: ");
	return st;
}

/* ---- the server's version (Exchange Server) ---- */

static void set_version(struct be_session *s, int major, int minor, int build)
{
	const char *v = ews_version_of_build(major, minor, build);

	s->version_learned = true;
	if (!v) {
		snprintf(s->too_old, sizeof s->too_old, "%d.%d.%d", major, minor, build);
		return;
	}
	if (strcmp(v, s->version) != 0) {
		free(s->version);
		s->version = xstrdup(v);
	}
}

/* "15.1.2507.6" (Autodiscover's build) */
static void learn_build(struct be_session *s, const char *build)
{
	int p[3];
	if (build && sscanf(build, "%d.%d.%d", &p[0], &p[1], &p[2]) == 3)
		set_version(s, p[0], p[1], p[2]);
}

/* The t:ServerVersionInfo of a response (soap.c). */
static void learn_from_response(struct be_session *s, const char *body)
{
	int major, minor, build;

	if (ews_server_version_info(body, &major, &minor, &build) == 0)
		set_version(s, major, minor, build);
}

static enum be_status refuse_old(const struct be_session *s, struct error *err)
{
	error_set(err,
	          "EWS at %s is Exchange Server %s (Exchange 2010 or older), which leavesync does "
	          "not support. Fix: move the mailboxes to Exchange Server 2016, 2019 or "
	          "Subscription Edition (or 2013 SP1), or to Exchange Online with [sync] backend "
	          "= graph",
	          s->url, *s->too_old ? s->too_old : "older than 2013");
	return BE_BLOCKED;
}

/* ErrorInvalidServerVersion from an on-premises server whose build is not known: the next older
 * version this client speaks (Exchange2016, Exchange2013_SP1, Exchange2013), or refused. */
static enum be_status step_down(struct be_session *s, struct error *err)
{
	static const char *const ladder[] = {"Exchange2016", "Exchange2013_SP1", "Exchange2013"};
	for (size_t i = 0; i + 1 < sizeof ladder / sizeof ladder[0]; i++)
		if (strcmp(s->version, ladder[i]) == 0) {
			error_set(err,
			          "EWS at %s refused RequestServerVersion %s "
			          "(ErrorInvalidServerVersion): "
			          "sent again as %s",
			          s->url, ladder[i], ladder[i + 1]);
			free(s->version);
			s->version = xstrdup(ladder[i + 1]);
			return BE_RETRY_NOW;
		}
	snprintf(s->too_old, sizeof s->too_old,
	         "that accepts none of Exchange2016 to Exchange2013");
	return refuse_old(s, err);
}

/* ---- the EWS URL of a mailbox (Autodiscover, Exchange Server) ---- */

static const char *domain_of(const char *mailbox)
{
	const char *at = strrchr(mailbox, '@');
	return at ? at + 1 : mailbox;
}

static struct discovered *known(struct be_session *s, const char *domain)
{
	for (size_t i = 0; i < s->nfound; i++)
		if (strcasecmp(s->found[i].domain, domain) == 0)
			return &s->found[i];
	return NULL;
}

static void keep(struct be_session *s, const char *domain, const char *url)
{
	struct discovered *d = known(s, domain);
	if (!d) {
		s->found = xrealloc(s->found, (s->nfound + 1) * sizeof *s->found);
		d = &s->found[s->nfound++];
		d->domain = xstrdup(domain);
		d->url = NULL;
	}
	free(d->url);
	d->url = xstrdup(url);
}

/* The mailbox moved, or its database failed over ([EWS ref responsecode]:
 * ErrorMailboxMoveInProgress, ErrorMailboxFailover): what was discovered for its domain is
 * forgotten, so that the next request (the item is retried later) asks Autodiscover again. */
static void forget(struct be_session *s, const char *mailbox)
{
	const char *keys[2] = {mailbox, domain_of(mailbox)};
	struct mailbox_directory *dir = s->env->directory;
	struct error ignored = {{0}};

	for (int i = 0; i < 2; i++) {
		struct discovered *d = known(s, keys[i]);
		if (d) {
			free(d->url);
			d->url = NULL;
		}
		if (dir && dir->ews_url_remember)
			dir->ews_url_remember(dir, keys[i], NULL, NULL, &ignored);
	}
}

/* What is known for key (a mailbox redirected elsewhere, or a domain): session, then store. */
static struct discovered *recall(struct be_session *s, const char *key)
{
	struct discovered *d = known(s, key);
	struct mailbox_directory *dir = s->env->directory;
	char *url = NULL, *build = NULL;
	struct error ignored = {{0}}; /* an unreadable store: discover again */

	if (d && d->url)
		return d;
	if (!dir || !dir->ews_url_lookup ||
	    dir->ews_url_lookup(dir, key, &url, &build, &ignored) < 0 || !url)
		return NULL;
	keep(s, key, url);
	if (!s->version_learned)
		learn_build(s, build);
	free(url);
	free(build);
	return known(s, key);
}

/* Sets s->url to mailbox's EWS URL: [ews] url, or what Autodiscover found for the mailbox (when it
 * was redirected to another address) or its domain, discovered once and kept in the store. */
static enum be_status url_for(struct be_session *s, const char *mailbox, struct error *err)
{
	const char *domain = domain_of(mailbox);
	struct discovered *d;
	struct mailbox_directory *dir = s->env->directory;
	struct ews_discovery found;
	enum be_status st;

	if (!s->discover)
		return BE_OK;
	if ((d = recall(s, mailbox)) || (d = recall(s, domain)))
		goto use;
	st = ews_autodiscover(s->http, mailbox, s->env->cfg->ews.autodiscover_srv_override, &found,
	                      err);
	if (st != BE_OK)
		return error_prefix(err, "[ews] url is not set, so: "), st;
	const char *key = found.redirected ? mailbox : domain;
	keep(s, key, found.ews_url);
	if (!s->version_learned)
		learn_build(s, found.server_build);
	if (dir && dir->ews_url_remember) {
		struct error ignored = {{0}}; /* not kept: the next run discovers again */
		dir->ews_url_remember(dir, key, found.ews_url, found.server_build, &ignored);
	}
	ews_discovery_free(&found);
	d = known(s, key);
use:
	if (strcmp(s->url, d->url) != 0) {
		free(s->url);
		s->url = xstrdup(d->url);
	}
	return BE_OK;
}

/* One POST of body as it is. */
static enum be_status send_body(struct be_session *s, const char *mailbox, const char *body,
                                size_t len, bool once, struct http_response *resp, int *retry_ms,
                                struct error *err)
{
	char anchor[400], request_id[80];
	char uuid[37];
	const char *token;

	*retry_ms = 0;
	memset(resp, 0, sizeof(*resp));
	uuid_v4(uuid);
	snprintf(anchor, sizeof(anchor), "X-AnchorMailbox: %s", mailbox);
	snprintf(request_id, sizeof(request_id), "client-request-id: %s", uuid);
	const char *headers[] = {anchor, "Accept: text/xml", request_id,
	                         "return-client-request-id: true", NULL};
	struct http_request req = {.method = "POST",
	                           .url = s->url,
	                           .content_type = "text/xml; charset=utf-8",
	                           .body = body,
	                           .body_len = len,
	                           .headers = headers,
	                           .once = once};
	for (int attempt = 0; attempt < 2; attempt++) {
		enum be_status st = get_token(s, mailbox, attempt > 0, &token, err);
		if (st != BE_OK)
			return st;
		req.bearer = token;
		enum http_failure f = http_perform(s->http, &req, resp, err);
		if (f == HTTP_ERR_TLS || f == HTTP_ERR_REFUSED)
			return BE_BLOCKED; /* fails closed; trust (or a token unfit for a header) is
			                      setup, not the item */
		if (f != HTTP_OK)
			return BE_RETRY_NOW; /* the engine looks creates up by sync key before
			                        resending */
		if (resp->status != 401 || attempt > 0 || s->password_auth)
			break;
		http_response_free(
		    resp); /* 401: the token may have expired; fetch a new one once */
		memset(resp, 0, sizeof(*resp));
	}
	enum be_status st = http_status(s, resp, retry_ms, err);
	if (st != BE_OK)
		http_response_free(resp);
	return st;
}

/* POSTs one SOAP request for mailbox. BE_OK: *resp holds a SOAP document to parse (any status).
 * Otherwise resp is freed and err/retry_ms say why. once: a create, never sent twice by the
 * transport (engine/http.h). On Exchange Server (a password sign-in) the URL may come from
 * Autodiscover, and RequestServerVersion follows the server: its build (from Autodiscover or any
 * ServerVersionInfo) decides it; a request refused with ErrorInvalidServerVersion (a SOAP fault:
 * nothing was done) is sent again with the version the server names, or the next older one;
 * Exchange 2010 and older are refused. */
static enum be_status post_req(struct be_session *s, const char *mailbox, const char *body,
                               size_t len, bool once, struct http_response *resp, int *retry_ms,
                               struct error *err)
{
	char *rewritten = NULL;
	enum be_status st = url_for(s, mailbox, err);

	memset(resp, 0, sizeof(*resp));
	*retry_ms = 0;
	for (int round = 0; st == BE_OK && round < 4; round++) {
		size_t n;
		char *next;

		if (*s->too_old) {
			st = refuse_old(s, err);
			break;
		}
		if (s->password_auth && (next = ews_with_version(body, s->version, &n))) {
			free(rewritten);
			rewritten = next;
			body = next;
			len = n;
		}
		st = send_body(s, mailbox, body, len, once, resp, retry_ms, err);
		if (st != BE_OK || !s->password_auth || !resp->body)
			break;
		char *was = xstrdup(s->version);
		bool refused = strstr(resp->body, ">ErrorInvalidServerVersion<") != NULL;
		learn_from_response(s, resp->body);
		if (refused && !*s->too_old && strcmp(was, s->version) == 0)
			st = step_down(s, err); /* BE_RETRY_NOW: another version to try */
		free(was);
		if (*s->too_old)
			st = refuse_old(s, err);
		if (!refused && st == BE_OK)
			break;
		http_response_free(resp);
		if (st == BE_RETRY_NOW)
			st = BE_OK; /* send it again in the next round */
		else if (st == BE_OK)
			continue; /* the version the server named */
	}
	free(rewritten);
	if (st == BE_OK && !resp->body) {
		st = BE_BLOCKED;
		error_set(err, "EWS at %s refused every RequestServerVersion tried", s->url);
	}
	if (st == BE_OK && s->discover &&
	    (strstr(resp->body, ">ErrorMailboxMoveInProgress<") ||
	     strstr(resp->body, ">ErrorMailboxFailover<")))
		forget(s, mailbox); /* the items fail with it (retried later): discover again */
	return st;
}

static enum be_status post(struct be_session *s, const char *mailbox, const char *body, size_t len,
                           struct http_response *resp, int *retry_ms, struct error *err)
{
	return post_req(s, mailbox, body, len, false, resp, retry_ms, err);
}

/* Names the URL and status on a response that could not be read (faults already name their code).
 */
static enum be_status in_context(enum be_status st, const struct be_session *s,
                                 const struct http_response *resp, struct error *err)
{
	if (st != BE_OK && strncmp(err->msg, "EWS ", 4) != 0)
		error_prefix(err, "EWS at %s answered HTTP %ld: ", s->url, resp->status);
	return st;
}

/* ---- writes ---- */

typedef char *(*build_fn)(const struct ews_target *tg, struct be_item *const *items,
                          const struct ews_zones *zones, size_t n, size_t *len);
typedef enum be_status (*parse_fn)(const char *body, size_t len, struct be_item *const *items,
                                   size_t n, struct error *err);

static void item_fail(struct be_item *it, enum be_status st, int retry_ms, const char *msg)
{
	it->status = st;
	it->retry_after_ms = st == BE_RETRY_LATER ? retry_ms : 0;
	snprintf(it->message, sizeof(it->message), "%s", msg);
}

/* Sends items[0..n-1] (one mailbox, checked) in requests of at most s->batch items. After a request
 * fails as a whole, the rest are not sent and share its status. Returns BE_OK when per-item results
 * were obtained for some item, else the shared status. */
static enum be_status send_batches(struct be_session *s, const char *mailbox,
                                   struct be_item **items, struct ews_zones *zones, size_t n,
                                   build_fn build, parse_fn parse, struct error *err)
{
	struct ews_target tg = {s->version, mailbox};
	enum be_status shared = BE_OK;
	int shared_retry_ms = 0;
	bool any_result = false;

	for (size_t off = 0; off < n; off += s->batch) {
		size_t k = n - off < s->batch ? n - off : s->batch;
		if (shared != BE_OK) {
			for (size_t i = 0; i < k; i++)
				item_fail(items[off + i], shared, shared_retry_ms, err->msg);
			continue;
		}
		size_t len;
		char *body = build(&tg, items + off, zones ? zones + off : NULL, k, &len);
		struct http_response resp;
		int retry_ms;
		enum be_status st = post_req(s, mailbox, body, len, build == ews_build_create_items,
		                             &resp, &retry_ms, err);
		free(body);
		if (st == BE_OK) {
			st = in_context(parse(resp.body, resp.body_len, items + off, k, err), s,
			                &resp, err);
			retry_ms = items[off]->retry_after_ms; /* a fault's BackOffMilliseconds */
			http_response_free(&resp);
		}
		if (st != BE_OK)
			error_prefix(err, "mailbox %s: ", mailbox);
		if (st == BE_OK) {
			any_result = true;
			continue;
		}
		shared = st;
		shared_retry_ms = retry_ms;
		for (size_t i = 0; i < k; i++)
			item_fail(items[off + i], st, retry_ms, err->msg);
	}
	return any_result || shared == BE_OK ? BE_OK : shared;
}

/* Clears outputs and checks the preconditions every write shares; fails the items that break them.
 * Returns the mailbox (NULL when none is usable). */
static const char *check_items(struct be_item *items, size_t n, bool need_id)
{
	const char *mailbox = n ? items[0].mailbox : NULL;
	bool ok = mailbox_ok(mailbox);

	for (size_t i = 0; i < n; i++) {
		be_item_clear(&items[i]);
		if (!ok)
			item_fail(&items[i], BE_FINAL, 0,
			          "the mailbox address is not a usable SMTP address; fix the leave "
			          "entry's mailbox");
		else if (strcmp(items[i].mailbox ? items[i].mailbox : "", mailbox) != 0)
			item_fail(&items[i], BE_FINAL, 0,
			          "internal: items of several mailboxes in one EWS write (the EWS "
			          "backend "
			          "has no CAP_CROSS_MAILBOX_BATCH)");
		else if (need_id && (!items[i].remote_id || !*items[i].remote_id))
			item_fail(&items[i], BE_FINAL, 0,
			          "internal: no remote id to update or delete");
		else
			items[i].status = BE_OK;
	}
	return ok ? mailbox : NULL;
}

/* The items still to send (status BE_OK after checks), with their zones when with_events; items
 * whose event cannot be written (unknown zone, bad dates) fail here alone. *sel and *zones are
 * heap. */
static size_t select_items(struct be_item *items, size_t n, bool with_events, int keyed,
                           struct be_item ***sel, struct ews_zones **zones)
{
	size_t k = 0;

	*sel = xcalloc(n + 1, sizeof(**sel));
	*zones = with_events ? xcalloc(n + 1, sizeof(**zones)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct be_item *it = &items[i];
		if (it->status != BE_OK)
			continue;
		if (keyed >= 0 && (it->change_key && !it->overwrite) != (keyed == 1))
			continue;
		if (with_events) {
			struct error e = {{0}};
			if (!it->ev || ews_event_zones(it->ev, &(*zones)[k], &e) != 0) {
				item_fail(it, BE_FINAL, 0,
				          it->ev ? e.msg : "internal: no event to write");
				continue;
			}
		}
		(*sel)[k++] = it;
	}
	return k;
}

static enum be_status write_items(struct be_session *s, struct be_item *items, size_t n,
                                  bool need_id, bool with_events, int keyed, build_fn build,
                                  parse_fn parse, struct error *err)
{
	struct be_item **sel;
	struct ews_zones *zones;
	const char *mailbox = check_items(items, n, need_id);

	if (!mailbox) {
		error_set(err, "%s", n ? items[0].message : "no items");
		return BE_FINAL;
	}
	size_t k = select_items(items, n, with_events, keyed, &sel, &zones);
	enum be_status st = k ? send_batches(s, mailbox, sel, zones, k, build, parse, err) : BE_OK;
	free(sel);
	free(zones);
	return st;
}

static enum be_status ews_create_events(struct be_session *s, struct be_item *items, size_t n,
                                        struct error *err)
{
	return write_items(s, items, n, false, true, -1, ews_build_create_items,
	                   ews_parse_create_response, err);
}

static enum be_status ews_update_events(struct be_session *s, struct be_item *items, size_t n,
                                        struct error *err)
{
	struct be_item **sel;
	struct ews_zones *zones;
	const char *mailbox = check_items(items, n, true);
	enum be_status st = BE_OK;
	bool any = false;

	if (!mailbox) {
		error_set(err, "%s", n ? items[0].message : "no items");
		return BE_FINAL;
	}
	/* ConflictResolution is per request: items guarded by their ChangeKey (NeverOverwrite) and
	 * items to overwrite (AlwaysOverwrite: no key, or the engine's decision after a re-read) go
	 * in separate requests. */
	for (int keyed = 1; keyed >= 0; keyed--) {
		size_t k = select_items(items, n, true, keyed, &sel, &zones);
		if (k) {
			enum be_status r =
			    send_batches(s, mailbox, sel, zones, k, ews_build_update_items,
			                 ews_parse_update_response, err);
			any = any || r == BE_OK;
			st = r != BE_OK ? r : st;
		}
		free(sel);
		free(zones);
	}
	return any ? BE_OK : st;
}

static char *build_delete(const struct ews_target *tg, struct be_item *const *items,
                          const struct ews_zones *zones, size_t n, size_t *len)
{
	(void)zones;
	return ews_build_delete_items(tg, items, n, len);
}

static enum be_status ews_delete_events(struct be_session *s, struct be_item *items, size_t n,
                                        struct error *err)
{
	return write_items(s, items, n, true, false, -1, build_delete, ews_parse_delete_response,
	                   err);
}

/* ---- reads ---- */

/* GetItem of ids in batches; cb for each item read (tagged or not when want_untagged). */
static enum be_status get_items(struct be_session *s, const char *mailbox, const char *const *ids,
                                size_t n, remote_event_cb cb, void *arg, bool *stopped,
                                struct error *err)
{
	struct ews_target tg = {s->version, mailbox};

	for (size_t off = 0; off < n && !*stopped; off += s->batch) {
		size_t k = n - off < s->batch ? n - off : s->batch, len;
		char *body = ews_build_get_item(&tg, ids + off, k, &len);
		struct http_response resp;
		struct ews_read_list l = {0};
		int retry_ms;
		enum be_status st = post(s, mailbox, body, len, &resp, &retry_ms, err);
		free(body);
		if (st == BE_OK) {
			st =
			    in_context(ews_parse_get_response(resp.body, resp.body_len, k, &l, err),
			               s, &resp, err);
			http_response_free(&resp);
		}
		if (st != BE_OK) {
			ews_read_list_free(&l);
			return error_prefix(err, "mailbox %s: ", mailbox), st;
		}
		for (size_t i = 0; i < l.n && !*stopped; i++)
			if (l.v[i].re.remote_id && l.v[i].status != BE_GONE)
				*stopped = cb(arg, &l.v[i].re) != 0;
		ews_read_list_free(&l);
	}
	return BE_OK;
}

static enum be_status ews_get_event(struct be_session *s, const char *mailbox,
                                    const char *remote_id, struct remote_event *out,
                                    struct error *err)
{
	struct ews_target tg = {s->version, mailbox};
	struct http_response resp;
	struct ews_read_list l = {0};
	int retry_ms;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!mailbox_ok(mailbox))
		return error_set(err, "'%s' is not a usable SMTP address", mailbox ? mailbox : ""),
		       BE_FINAL;
	char *body = ews_build_get_item(&tg, &remote_id, 1, &len);
	enum be_status st = post(s, mailbox, body, len, &resp, &retry_ms, err);
	free(body);
	if (st != BE_OK)
		return st;
	st =
	    in_context(ews_parse_get_response(resp.body, resp.body_len, 1, &l, err), s, &resp, err);
	http_response_free(&resp);
	if (st == BE_OK && l.n == 1) {
		st = l.v[0].status;
		if (st == BE_OK || (st == BE_FINAL && l.v[0].re.remote_id)) {
			*out = l.v[0].re; /* move */
			memset(&l.v[0].re, 0, sizeof(l.v[0].re));
			st = BE_OK;
		} else {
			error_set(err, "mailbox %s: %s", mailbox, l.v[0].message);
		}
	}
	ews_read_list_free(&l);
	return st;
}

/* Ids seen during one listing (items crossing a split view come back twice). */
struct id_set {
	char **v;
	size_t n, cap;
};

static bool id_set_add(struct id_set *set, const char *id)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i], id) == 0)
			return false;
	if (set->n == set->cap) {
		set->cap = set->cap ? 2 * set->cap : 64;
		set->v = xrealloc(set->v, set->cap * sizeof(*set->v));
	}
	set->v[set->n++] = xstrdup(id);
	return true;
}

static void id_set_free(struct id_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

static bool key_wanted(const char *key, const char *const *keys, size_t n)
{
	for (size_t i = 0; key && i < n; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* One FindItem request; parsed into *l. */
static enum be_status find(struct be_session *s, const char *mailbox, const char *body, size_t len,
                           struct ews_read_list *l, struct error *err)
{
	struct http_response resp;
	int retry_ms;
	enum be_status st = post(s, mailbox, body, len, &resp, &retry_ms, err);

	if (st != BE_OK)
		return st;
	st = in_context(ews_parse_find_response(resp.body, resp.body_len, l, err), s, &resp, err);
	http_response_free(&resp);
	return st;
}

/* Tagged ids of one key chunk, all pages (restriction searches page by Offset,
 * [EWS ref indexedpageitemview]). */
static enum be_status find_keys_chunk(struct be_session *s, const char *mailbox,
                                      const char *const *keys, size_t n, struct id_set *found,
                                      struct error *err)
{
	struct ews_target tg = {s->version, mailbox};
	long offset = 0;

	for (;;) {
		size_t len;
		struct ews_read_list l = {0};
		char *body = ews_build_find_by_keys(&tg, keys, n, offset, &len);
		enum be_status st = find(s, mailbox, body, len, &l, err);
		free(body);
		if (st != BE_OK) {
			ews_read_list_free(&l);
			return st;
		}
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].re.remote_id && key_wanted(l.v[i].re.ev.sync_key, keys, n))
				id_set_add(found, l.v[i].re.remote_id);
		bool last = l.includes_last || l.n == 0;
		offset = l.next_offset > offset ? l.next_offset : offset + (long)l.n;
		ews_read_list_free(&l);
		if (last)
			return BE_OK;
	}
}

static enum be_status ews_find_by_sync_keys(struct be_session *s, const char *mailbox,
                                            const char *const *keys, size_t n, remote_event_cb cb,
                                            void *arg, struct error *err)
{
	struct id_set found = {0};
	enum be_status st = BE_OK;
	bool stopped = false;

	if (!mailbox_ok(mailbox))
		return error_set(err, "'%s' is not a usable SMTP address", mailbox ? mailbox : ""),
		       BE_FINAL;
	for (size_t off = 0; off < n && st == BE_OK; off += EWS_FIND_KEYS_PER_REQUEST) {
		size_t k =
		    n - off < EWS_FIND_KEYS_PER_REQUEST ? n - off : EWS_FIND_KEYS_PER_REQUEST;
		st = find_keys_chunk(s, mailbox, keys + off, k, &found, err);
	}
	/* FindItem cannot return Body: the owned fields come from GetItem. */
	if (st == BE_OK && found.n)
		st = get_items(s, mailbox, (const char *const *)found.v, found.n, cb, arg, &stopped,
		               err);
	if (st != BE_OK && !strstr(err->msg, mailbox))
		error_prefix(err, "mailbox %s: ", mailbox);
	id_set_free(&found);
	return st;
}

/* One listing's state: tagged ids to read with GetItem, untagged ids (counted), and the known
 * items delivered unread (list_events_known). Sets, since an item crossing a split view comes back
 * twice. */
struct listing {
	struct id_set tagged, untagged, unread;
	bool count_untagged;
	const struct known_item *known;
	size_t nknown;
	remote_event_cb cb;
	void *arg;
	bool stopped;
};

static int by_known_id(const void *key, const void *elem)
{
	return strcmp(key, ((const struct known_item *)elem)->remote_id);
}

/* True when re is an item the engine wrote and nobody changed since: its change key is the one
 * the engine holds (Exchange gives an item a new ChangeKey on every change, [EWS ref itemid]). */
static bool known_unchanged(const struct listing *ls, const struct remote_event *re)
{
	const struct known_item *k = ls->nknown ? bsearch(re->remote_id, ls->known, ls->nknown,
	                                                  sizeof *ls->known, by_known_id)
	                                        : NULL;

	return k && re->change_key && strcmp(k->change_key, re->change_key) == 0;
}

/* Collects the tagged ids of a CalendarView over [from, to) (and the untagged ones, when counted);
 * known unchanged items go to the callback unread. A truncated or over-limit view is split in two
 * (CalendarView has no paging, [EWS ref calendarview]). */
static enum be_status view_range(struct be_session *s, const char *mailbox, int64_t from,
                                 int64_t to, struct listing *ls, struct error *err)
{
	struct ews_target tg = {s->version, mailbox};
	struct ews_read_list l = {0};
	size_t len;
	char *body = ews_build_calendar_view(&tg, from, to, EWS_VIEW_MAX_ENTRIES, &len);
	enum be_status st = find(s, mailbox, body, len, &l, err);

	free(body);
	bool too_many = (st == BE_OK && !l.includes_last) ||
	                strcmp(l.error_code, "ErrorExceededFindCountLimit") == 0;
	if (too_many && to - from > 3600) {
		int64_t mid = from + (to - from) / 2;
		ews_read_list_free(&l);
		error_clear(err);
		st = view_range(s, mailbox, from, mid, ls, err);
		return st == BE_OK ? view_range(s, mailbox, mid, to, ls, err) : st;
	}
	if (too_many) {
		ews_read_list_free(&l);
		return error_set(err,
		                 "more than %d calendar items within one hour; cannot list them "
		                 "with a CalendarView",
		                 EWS_VIEW_MAX_ENTRIES),
		       BE_FINAL;
	}
	for (size_t i = 0; st == BE_OK && i < l.n && !ls->stopped; i++) {
		struct remote_event *re = &l.v[i].re;

		if (!re->remote_id)
			continue;
		if (!be_tag_accepted(s->env, re->ev.sync_key)) {
			if (ls->count_untagged)
				id_set_add(&ls->untagged, re->remote_id);
		} else if (known_unchanged(ls, re)) {
			if (id_set_add(&ls->unread, re->remote_id)) {
				re->fields_unread = true;
				ls->stopped = ls->cb(ls->arg, re) != 0;
			}
		} else {
			id_set_add(&ls->tagged, re->remote_id);
		}
	}
	ews_read_list_free(&l);
	return st;
}

/* Windows of at most EWS_VIEW_MAX_SECONDS, then one batched GetItem of the tagged items not known
 * unchanged (FindItem cannot return the body, [EWS finditem-operation]). */
static enum be_status list_calendar(struct be_session *s, const char *mailbox, int64_t from,
                                    int64_t to, struct listing *ls, int64_t *untagged,
                                    struct error *err)
{
	enum be_status st = BE_OK;

	if (!mailbox_ok(mailbox))
		return error_set(err, "'%s' is not a usable SMTP address", mailbox ? mailbox : ""),
		       BE_FINAL;
	ls->count_untagged = untagged != NULL;
	for (int64_t a = from; a < to && st == BE_OK && !ls->stopped; a += EWS_VIEW_MAX_SECONDS) {
		int64_t b = to - a > EWS_VIEW_MAX_SECONDS ? a + EWS_VIEW_MAX_SECONDS : to;
		st = view_range(s, mailbox, a, b, ls, err);
	}
	if (untagged)
		*untagged = (int64_t)ls->untagged.n;
	if (st == BE_OK && ls->tagged.n && !ls->stopped)
		st = get_items(s, mailbox, (const char *const *)ls->tagged.v, ls->tagged.n, ls->cb,
		               ls->arg, &ls->stopped, err);
	if (st != BE_OK && !strstr(err->msg, mailbox))
		error_prefix(err, "mailbox %s: ", mailbox);
	id_set_free(&ls->tagged);
	id_set_free(&ls->untagged);
	id_set_free(&ls->unread);
	return st;
}

static enum be_status ews_list_events_counted(struct be_session *s, const char *mailbox,
                                              int64_t from, int64_t to, remote_event_cb cb,
                                              void *arg, int64_t *untagged, struct error *err)
{
	struct listing ls = {.cb = cb, .arg = arg};

	return list_calendar(s, mailbox, from, to, &ls, untagged, err);
}

static enum be_status ews_list_events_known(struct be_session *s, const char *mailbox, int64_t from,
                                            int64_t to, const struct known_item *known,
                                            size_t nknown, remote_event_cb cb, void *arg,
                                            struct error *err)
{
	struct listing ls = {.cb = cb, .arg = arg, .known = known, .nknown = nknown};

	return list_calendar(s, mailbox, from, to, &ls, NULL, err);
}

static enum be_status ews_list_events(struct be_session *s, const char *mailbox, int64_t from,
                                      int64_t to, remote_event_cb cb, void *arg, struct error *err)
{
	return ews_list_events_counted(s, mailbox, from, to, cb, arg, NULL, err);
}

static enum be_status ews_probe_mailbox(struct be_session *s, const char *mailbox,
                                        struct error *err)
{
	struct ews_target tg = {s->version, mailbox};
	struct http_response resp;
	int retry_ms;
	size_t len;

	if (!mailbox_ok(mailbox))
		return error_set(err, "'%s' is not a usable SMTP address", mailbox ? mailbox : ""),
		       BE_FINAL;
	char *body = ews_build_get_folder(&tg, &len);
	enum be_status st = post(s, mailbox, body, len, &resp, &retry_ms, err);
	free(body);
	if (st == BE_OK) {
		st = in_context(ews_parse_get_folder_response(resp.body, resp.body_len, err), s,
		                &resp, err);
		http_response_free(&resp);
	}
	if (st != BE_OK)
		error_prefix(err, "mailbox %s: ", mailbox);
	return st;
}

/* ---- session ---- */

static enum be_status ews_session_open(const struct backend_env *env, struct be_session **out,
                                       struct error *err)
{
	const struct service_config *c = env->cfg ? &env->cfg->ews : NULL;
	const char *url = c && c->url ? c->url : EWS_DEFAULT_URL;
	bool password_auth = c && config_ews_password_auth(c);
	struct http_options opt = {.ca_file = env->ca_file,
	                           .limits = env->cfg ? &env->cfg->limits.http : NULL,
	                           .deadline_ms = env->deadline_ms,
	                           .log = env->cfg ? &env->cfg->http_log : NULL,
	                           .auth = password_auth ? c->auth : NULL,
	                           .username = password_auth ? c->username : NULL,
	                           .password = password_auth ? c->password : NULL,
	                           .connect_to = c ? c->connect_to : NULL};

	*out = NULL;
	if (!http_url_allowed(url))
		return error_set(err,
		                 "[ews] url = %s: must be https:// (plain http only to a loopback "
		                 "host)",
		                 url),
		       BE_FINAL;
	const char *version = c && c->server_version ? c->server_version : EWS_DEFAULT_VERSION;
	if (strncmp(version, "Exchange2007", 12) == 0)
		/* StartTimeZone/EndTimeZone need Exchange2010 or later
		 * ([EWS time-zones-and-ews-in-exchange]). */
		return error_set(
		           err,
		           "[ews] server_version = %s: leavesync needs Exchange2010 or "
		           "later (all-day leave is anchored with StartTimeZone/EndTimeZone); "
		           "use Exchange2016 for Exchange Online, 2016 and 2019",
		           version),
		       BE_FINAL;
	xmlInitParser();
	struct http_client *http = http_client_new(&opt, err);
	if (!http)
		return BE_FINAL;
	struct be_session *s = xcalloc(1, sizeof(*s));
	s->env = env;
	s->url = xstrdup(url);
	s->version = xstrdup(version);
	s->batch = c && c->batch_size ? c->batch_size : EWS_DEFAULT_BATCH;
	s->http = http;
	s->password_auth = password_auth;
	s->discover = password_auth && !c->url_set;
	*out = s;
	return BE_OK;
}

static void ews_session_close(struct be_session *s)
{
	if (!s)
		return;
	http_client_free(s->http);
	for (size_t i = 0; i < s->nfound; i++) {
		free(s->found[i].domain);
		free(s->found[i].url);
	}
	free(s->found);
	free(s->url);
	free(s->version);
	free(s);
}

const struct backend ews_backend = {
    .name = "ews",
    .caps = 0, /* impersonation is per request: one mailbox per write; ids change on moves */
    .max_batch = EWS_DEFAULT_BATCH,
    .session_open = ews_session_open,
    .session_close = ews_session_close,
    .create_events = ews_create_events,
    .update_events = ews_update_events,
    .delete_events = ews_delete_events,
    .get_event = ews_get_event,
    .find_by_sync_keys = ews_find_by_sync_keys,
    .list_events = ews_list_events,
    .list_events_counted = ews_list_events_counted,
    .list_events_known = ews_list_events_known,
    .probe_mailbox = ews_probe_mailbox,
};
