/* SOAP Autodiscover for Exchange Server ([MS-OXWSADISC], GetUserSettings): the EWS URL of a mailbox
 * when [ews] url is not set (docs/onprem.md). Microsoft's rules, from "Autodiscover for Exchange"
 * and "Generate a list of Autodiscover endpoints"
 * (https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/
 * autodiscover-for-exchange, .../how-to-generate-a-list-of-autodiscover-endpoints):
 *   candidates in order: https://DOMAIN/autodiscover/autodiscover.svc,
 *   https://autodiscover.DOMAIN/autodiscover/autodiscover.svc, then the host of the DNS SRV record
 *   _autodiscover._tcp.DOMAIN (lowest priority, then highest weight). No SCP lookup (that needs
 *   LDAP to Active Directory), no plain-http endpoint (its 302 is the "potentially unsafe
 *   redirection" Microsoft tells clients to confirm with a person: leavesync runs unattended).
 *   RedirectAddress: start over with the new address (its domain's candidates); RedirectUrl: send
 *   the request to that URL. Every URL followed must be https, and its certificate is verified like
 *   every other (engine/http.c): a redirect to another domain is followed only on those terms. At
 *   most 10 redirects ("The client application should stop redirecting after 10 redirects",
 *   web-service-reference/redirecturl-pox), and never to an address or URL already visited.
 * The request carries the same sign-in as EWS (the http client's), as Exchange's Autodiscover
 * requires an authenticated caller. */
#include "ews/ews.h"

#include "common/redact.h"
#include "common/util.h"
#include "engine/http.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <libxml/parser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_AD "http://schemas.microsoft.com/exchange/2010/Autodiscover"
#define NS_WSA "http://www.w3.org/2005/08/addressing"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define AD_PATH "/autodiscover/autodiscover.svc"
#define MAX_REDIRECTS 10
#define MAX_VISITED (3 * (MAX_REDIRECTS + 1) + 2)

void ews_discovery_free(struct ews_discovery *d)
{
	free(d->ews_url);
	free(d->server_build);
	free(d->mailbox);
	memset(d, 0, sizeof *d);
}

/* ---- the request ---- */

static char *request_body(const char *url, const char *mailbox, size_t *len)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr env = xmlNewNode(NULL, BAD_CAST "Envelope");
	xmlNsPtr soap = xmlNewNs(env, BAD_CAST EWS_NS_SOAP, BAD_CAST "soap");
	xmlNsPtr a = xmlNewNs(env, BAD_CAST NS_AD, BAD_CAST "a");
	xmlNsPtr wsa = xmlNewNs(env, BAD_CAST NS_WSA, BAD_CAST "wsa");
	xmlNodePtr header, body, req, r, users, user, settings;
	xmlChar *mem = NULL;
	int size = 0;

	xmlNewNs(env, BAD_CAST NS_XSI, BAD_CAST "xsi");
	xmlSetNs(env, soap);
	xmlDocSetRootElement(doc, env);
	header = xmlNewChild(env, soap, BAD_CAST "Header", NULL);
	/* Exchange2013: GetUserSettings as Exchange 2013 and later answer it ([MS-OXWSADISC]
	 * 2.2.3.x RequestedServerVersion) */
	xmlNewTextChild(header, a, BAD_CAST "RequestedServerVersion", BAD_CAST "Exchange2013");
	xmlNewTextChild(header, wsa, BAD_CAST "Action",
	                BAD_CAST NS_AD "/Autodiscover/GetUserSettings");
	xmlNewTextChild(header, wsa, BAD_CAST "To", BAD_CAST url);
	body = xmlNewChild(env, soap, BAD_CAST "Body", NULL);
	req = xmlNewChild(body, a, BAD_CAST "GetUserSettingsRequestMessage", NULL);
	r = xmlNewChild(req, a, BAD_CAST "Request", NULL);
	users = xmlNewChild(r, a, BAD_CAST "Users", NULL);
	user = xmlNewChild(users, a, BAD_CAST "User", NULL);
	xmlNewTextChild(user, a, BAD_CAST "Mailbox", BAD_CAST mailbox);
	settings = xmlNewChild(r, a, BAD_CAST "RequestedSettings", NULL);
	xmlNewTextChild(settings, a, BAD_CAST "Setting", BAD_CAST "InternalEwsUrl");
	xmlNewTextChild(settings, a, BAD_CAST "Setting", BAD_CAST "ExternalEwsUrl");
	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 0);
	xmlFreeDoc(doc);
	if (!mem)
		abort(); /* out of memory, as xmalloc */
	char *out = xstrndup((const char *)mem, (size_t)size);
	xmlFree(mem);
	*len = (size_t)size;
	return out;
}

/* ---- the response ---- */

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns &&
		    strcmp((const char *)c->ns->href, NS_AD) == 0 &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

static void text_of(xmlNodePtr n, char *out, size_t size)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	redact_text(out, size, t ? (const char *)t : "", t ? strlen((const char *)t) : 0);
	xmlFree(t);
}

static xmlNodePtr find_ns(xmlNodePtr n, const char *ns, const char *name)
{
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (n->ns && strcmp((const char *)n->ns->href, ns) == 0 &&
		    strcmp((const char *)n->name, name) == 0)
			return n;
		xmlNodePtr f = find_ns(n->children, ns, name);
		if (f)
			return f;
	}
	return NULL;
}

int ews_autodiscover_parse(const char *body, size_t len, struct ews_ad_answer *a, struct error *err)
{
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	/* no entity expansion, no DTD loading, no network (as ews/response.c) */
	xmlDocPtr doc =
	    xmlCtxtReadMemory(ctxt, body, (int)len, "autodiscover.xml", NULL,
	                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlFreeParserCtxt(ctxt);
	memset(a, 0, sizeof *a);
	if (!doc || doc->intSubset || doc->extSubset) {
		if (doc)
			xmlFreeDoc(doc);
		return error_set(err, "the Autodiscover answer is not a SOAP document we accept");
	}
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr svi = find_ns(root, NS_AD, "ServerVersionInfo");
	xmlNodePtr msg = find_ns(root, NS_AD, "GetUserSettingsResponseMessage");
	xmlNodePtr resp = child(msg, "Response");
	xmlNodePtr ur = child(child(resp, "UserResponses"), "UserResponse");
	if (svi) {
		char p[4][16];
		text_of(child(svi, "MajorVersion"), p[0], sizeof p[0]);
		text_of(child(svi, "MinorVersion"), p[1], sizeof p[1]);
		text_of(child(svi, "MajorBuildNumber"), p[2], sizeof p[2]);
		text_of(child(svi, "MinorBuildNumber"), p[3], sizeof p[3]);
		if (*p[0])
			snprintf(a->build, sizeof a->build, "%s.%s.%s.%s", p[0], p[1], p[2], p[3]);
	}
	if (!resp) {
		xmlFreeDoc(doc);
		return error_set(err, "the Autodiscover answer has no GetUserSettingsResponse");
	}
	text_of(child(resp, "ErrorCode"), a->code, sizeof a->code);
	text_of(child(resp, "ErrorMessage"), a->message, sizeof a->message);
	if (strcmp(a->code, "NoError") == 0 && ur) {
		text_of(child(ur, "ErrorCode"), a->code, sizeof a->code);
		text_of(child(ur, "ErrorMessage"), a->message, sizeof a->message);
		text_of(child(ur, "RedirectTarget"), a->target, sizeof a->target);
		xmlNodePtr us = child(ur, "UserSettings");
		for (xmlNodePtr s = us ? us->children : NULL; s; s = s->next) {
			char name[64];
			if (s->type != XML_ELEMENT_NODE)
				continue;
			text_of(child(s, "Name"), name, sizeof name);
			if (strcmp(name, "InternalEwsUrl") == 0)
				text_of(child(s, "Value"), a->internal, sizeof a->internal);
			else if (strcmp(name, "ExternalEwsUrl") == 0)
				text_of(child(s, "Value"), a->external, sizeof a->external);
		}
	} else if (strcmp(a->code, "NoError") == 0) {
		snprintf(a->code, sizeof a->code, "InvalidResponse");
	}
	xmlFreeDoc(doc);
	return 0;
}

/* ---- candidates ---- */

/* The SRV target of _autodiscover._tcp.domain: "host:port" into out, or -1. */
static int srv_lookup(const char *domain, char *out, size_t size)
{
	struct __res_state rs;
	unsigned char answer[4096];
	char name[300], best[256] = "";
	int n, best_prio = 1 << 30, best_weight = -1, best_port = 0;
	ns_msg msg;
	ns_rr rr;

	if (snprintf(name, sizeof name, "_autodiscover._tcp.%s", domain) >= (int)sizeof name)
		return -1;
	memset(&rs, 0, sizeof rs);
	if (res_ninit(&rs) < 0)
		return -1;
	rs.retrans = 3; /* seconds per try, two tries: the lookup is bounded */
	rs.retry = 2;
	n = res_nquery(&rs, name, ns_c_in, ns_t_srv, answer, sizeof answer);
	res_nclose(&rs);
	if (n < 0 || ns_initparse(answer, n, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		char target[256];
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_srv ||
		    ns_rr_rdlen(rr) < 7)
			continue;
		const unsigned char *rd = ns_rr_rdata(rr);
		int prio = rd[0] << 8 | rd[1], weight = rd[2] << 8 | rd[3],
		    port = rd[4] << 8 | rd[5];
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof target) < 0)
			continue;
		if (prio < best_prio || (prio == best_prio && weight > best_weight)) {
			best_prio = prio, best_weight = weight, best_port = port;
			snprintf(best, sizeof best, "%s", target);
		}
	}
	if (!*best)
		return -1;
	snprintf(out, size, "%s:%d", best, best_port);
	return 0;
}

static bool visited(char list[][1100], size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], s) == 0)
			return true;
	return false;
}

/* The host of an https URL (lower case) into out; -1 when not https. */
static int https_host(const char *url, char *out, size_t size)
{
	if (strncasecmp(url, "https://", 8) != 0)
		return -1;
	size_t n = strcspn(url + 8, ":/?#");
	if (n == 0 || n >= size)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)url[8 + i]);
	out[n] = '\0';
	return 0;
}

/* ---- the whole discovery ---- */

struct attempt {
	enum be_status status; /* BE_OK: the answer is in a */
	struct ews_ad_answer a;
};

static void ask(struct http_client *http, const char *url, const char *mailbox, struct attempt *at,
                struct error *err)
{
	size_t len;
	char *body = request_body(url, mailbox, &len);
	const char *headers[] = {"Accept: text/xml", NULL};
	struct http_request req = {.method = "POST",
	                           .url = url,
	                           .content_type = "text/xml; charset=utf-8",
	                           .body = body,
	                           .body_len = len,
	                           .headers = headers};
	struct http_response resp;
	enum http_failure f = http_perform(http, &req, &resp, err);

	free(body);
	at->status = BE_RETRY_LATER;
	if (f != HTTP_OK) {
		at->status =
		    f == HTTP_ERR_TLS || f == HTTP_ERR_REFUSED ? BE_BLOCKED : BE_RETRY_LATER;
		return;
	}
	if (resp.status == 401) {
		error_set(err,
		          "Autodiscover at %s refused the service account's sign-in (HTTP 401, "
		          "WWW-Authenticate: %s)",
		          url, resp.www_authenticate ? resp.www_authenticate : "none");
		at->status = BE_BLOCKED;
	} else if (resp.status != 200) {
		error_set(err, "Autodiscover at %s answered HTTP %ld", url, resp.status);
	} else if (ews_autodiscover_parse(resp.body, resp.body_len, &at->a, err) == 0) {
		at->status = BE_OK;
	}
	http_response_free(&resp);
}

/* The candidate URLs of address's domain, in Microsoft's order, into q (returns how many). */
static size_t candidates_of(const char *domain, const char *srv_override, char q[][1100])
{
	size_t n = 0;
	char srv[300];

	snprintf(q[n++], 1100, "https://%s" AD_PATH, domain);
	snprintf(q[n++], 1100, "https://autodiscover.%s" AD_PATH, domain);
	if (srv_override ? snprintf(srv, sizeof srv, "%s", srv_override) > 0
	                 : srv_lookup(domain, srv, sizeof srv) == 0) {
		char *colon = strrchr(srv, ':'); /* "host:port"; 443 is the https default */
		if (colon && strcmp(colon, ":443") == 0)
			*colon = '\0';
		snprintf(q[n++], 1100, "https://%s" AD_PATH, srv);
	}
	return n;
}

enum be_status ews_autodiscover(struct http_client *http, const char *mailbox,
                                const char *srv_override, struct ews_discovery *out,
                                struct error *err)
{
	char(*urls)[1100] = xcalloc(MAX_VISITED, 1100);            /* every URL asked */
	char(*addresses)[1100] = xcalloc(MAX_REDIRECTS + 2, 1100); /* every address asked for */
	char queue[3][1100], address[1100], last[1400] = "";
	size_t nurls = 0, naddr = 0, qhead = 0, qn = 0;
	int redirects = 0;
	/* nothing answered: Autodiscover is not published where Microsoft says to look, or this
	 * machine cannot reach it: setup, so the items wait for the next run (not retried now) */
	enum be_status result = BE_BLOCKED;
	struct attempt at;
	const char *domain;

	memset(out, 0, sizeof *out);
	snprintf(address, sizeof address, "%s", mailbox);
	domain = strchr(address, '@');
	if (!domain || !domain[1]) {
		error_set(err, "Autodiscover: %s is not an email address", address);
		result = BE_FINAL;
		goto out;
	}
	snprintf(addresses[naddr++], 1100, "%s", address);
	qn = candidates_of(domain + 1, srv_override, queue);
	while (qhead < qn) {
		const char *url = queue[qhead++];

		if (nurls >= MAX_VISITED || visited(urls, nurls, url)) {
			error_set(err, "Autodiscover for %s: %s was asked before (a redirect loop)",
			          mailbox, url);
			result = BE_FINAL;
			goto out;
		}
		snprintf(urls[nurls++], 1100, "%s", url);
		ask(http, url, address, &at, err);
		if (at.status != BE_OK) {
			snprintf(last, sizeof last, "%s", err->msg);
			continue; /* the next candidate */
		}
		if (strcmp(at.a.code, "NoError") == 0) {
			/* leavesync runs inside the organisation: the internal URL first */
			const char *ews = *at.a.internal ? at.a.internal : at.a.external;
			char host[256];
			if (!*ews || https_host(ews, host, sizeof host) < 0) {
				error_set(
				    err,
				    "Autodiscover at %s gave %s no https EWS URL (InternalEwsUrl "
				    "\"%s\", ExternalEwsUrl \"%s\"): leavesync uses https only",
				    url, address, at.a.internal, at.a.external);
				result = BE_FINAL;
				goto out;
			}
			out->ews_url = xstrdup(ews);
			out->server_build = *at.a.build ? xstrdup(at.a.build) : NULL;
			out->mailbox = xstrdup(address);
			out->redirected = naddr > 1;
			result = BE_OK;
			goto out;
		}
		if (strcmp(at.a.code, "RedirectAddress") == 0 ||
		    strcmp(at.a.code, "RedirectUrl") == 0) {
			bool to_url = strcmp(at.a.code, "RedirectUrl") == 0;
			char host[256];
			if (++redirects > MAX_REDIRECTS) {
				error_set(err, "Autodiscover for %s: more than %d redirects",
				          mailbox, MAX_REDIRECTS);
				result = BE_FINAL;
				goto out;
			}
			if (to_url
			        ? https_host(at.a.target, host, sizeof host) < 0
			        : (!strchr(at.a.target, '@') || strpbrk(at.a.target, " <>\"/:") ||
			           strlen(at.a.target) > 320)) {
				error_set(
				    err,
				    "Autodiscover at %s redirected %s to \"%s\", which is not %s: "
				    "not followed",
				    url, address, at.a.target,
				    to_url ? "an https URL (redirects are followed over https only)"
				           : "an email address");
				result = BE_FINAL;
				goto out;
			}
			qhead = 0;
			if (to_url) { /* the server names the endpoint: ask it, and only it */
				snprintf(queue[0], sizeof queue[0], "%s", at.a.target);
				qn = 1;
				continue;
			}
			if (visited(addresses, naddr, at.a.target)) {
				error_set(err,
				          "Autodiscover for %s: redirected back to %s (a loop)",
				          mailbox, at.a.target);
				result = BE_FINAL;
				goto out;
			}
			snprintf(address, sizeof address, "%s", at.a.target);
			snprintf(addresses[naddr++], 1100, "%s", address);
			qn = candidates_of(strchr(address, '@') + 1, srv_override, queue);
			continue;
		}
		if (strcmp(at.a.code, "InvalidUser") == 0) {
			error_set(
			    err, "Autodiscover at %s: Exchange has no mailbox %s (InvalidUser: %s)",
			    url, address, at.a.message);
			result = BE_FINAL;
			goto out;
		}
		/* ServerBusy, InternalServerError, InvalidDomain...: this endpoint cannot tell */
		snprintf(last, sizeof last, "Autodiscover at %s answered %s: %s", url, at.a.code,
		         at.a.message);
		if (strcmp(at.a.code, "ServerBusy") == 0)
			result = BE_RETRY_LATER;
	}
	{
		char tail[1600];
		snprintf(tail, sizeof tail, "%s", last);
		error_set(
		    err,
		    "Autodiscover found no EWS URL for %s (asked %zu endpoints; last: %s). Fix: "
		    "set [ews] url, or publish https://autodiscover.%s%s (or the DNS SRV record "
		    "_autodiscover._tcp.%s) with a certificate this machine trusts ([tls] "
		    "ca_file)",
		    address, nurls, *tail ? tail : "none answered", strchr(address, '@') + 1,
		    AD_PATH, strchr(address, '@') + 1);
	}
out:
	free(urls);
	free(addresses);
	return result;
}
