/* The on-premises mode's own endpoints (onprem.h):
 *   POST /autodiscover/autodiscover.svc: SOAP Autodiscover, GetUserSettings ([MS-OXWSADISC]
 *   https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxwsadisc/, and
 *   web-service-reference/getusersettings-operation-soap): signed in like EWS; the Host header
 *   decides whether this server is the candidate asked (the fixture's "hosts": other names get
 *   404, as a web server without Autodiscover does); per user: RedirectAddress / RedirectUrl from
 *   the fixture's maps, NoError with InternalEwsUrl/ExternalEwsUrl for a mailbox of the
 *   organisation, InvalidUser otherwise; a malformed request gets Response ErrorCode
 *   InvalidRequest. The header carries ServerVersionInfo (MajorVersion ... Version as elements,
 *   [MS-OXWSADISC] 3.1.4.1.3.x).
 *   POST /_sim/onprem/config: {"legacy_ntlm": bool, "autodiscover_hosts": [..]} for tests. */
#include "tools/m365sim/onprem.h"

#include "common/util.h"
#include "tools/m365sim/sim_core.h"

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_AD "http://schemas.microsoft.com/exchange/2010/Autodiscover"
#define NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_WSA "http://www.w3.org/2005/08/addressing"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define AD_PATH "/autodiscover/autodiscover.svc"

static void control(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	struct sim_onprem *op = s->onprem;

	if (!op) {
		sim_resp_json(resp, 409,
		              json_pack("{s:s,s:s}", "error", "not_onprem", "message",
		                        "the fixture has no \"onprem\" object"));
		return;
	}
	if (strcmp(req->method, "POST") == 0) {
		json_t *j = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
		json_t *v = json_object_get(j, "legacy_ntlm"),
		       *h = json_object_get(j, "autodiscover_hosts");
		json_t *m = json_object_get(j, "moving"), *b = json_object_get(j, "build");
		int build[4];
		if ((v && !json_is_boolean(v)) || (h && !json_is_array(h)) ||
		    (m && !json_is_array(m)) ||
		    (b &&
		     (!json_is_string(b) || sscanf(json_string_value(b), "%d.%d.%d.%d", &build[0],
		                                   &build[1], &build[2], &build[3]) != 4)) ||
		    (!v && !h && !m && !b)) {
			json_decref(j);
			sim_resp_json(resp, 400,
			              json_pack("{s:s,s:s}", "error", "bad_request", "message",
			                        "give {\"legacy_ntlm\": true or false}, "
			                        "{\"autodiscover_hosts\": [\"host\", ...]} and/or "
			                        "{\"moving\": [\"address\", ...]}, "
			                        "{\"build\": \"15.1.2507.6\"}"));
			return;
		}
		if (v)
			op->legacy_ntlm = json_is_true(v);
		if (b)
			sim_onprem_set_build(s, build);
		if (m) {
			json_decref(op->moving);
			op->moving = json_incref(m);
		}
		if (h) {
			if (!op->autodiscover)
				op->autodiscover = json_object();
			json_object_set(op->autodiscover, "hosts", h);
		}
		json_decref(j);
	}
	sim_resp_json(resp, 200,
	              json_pack("{s:b,s:O}", "legacy_ntlm", op->legacy_ntlm, "autodiscover_hosts",
	                        op->autodiscover && json_object_get(op->autodiscover, "hosts")
	                            ? json_object_get(op->autodiscover, "hosts")
	                            : json_null()));
}

/* Does this server answer Autodiscover under the Host the client asked for? */
static bool host_served(struct sim_onprem *op, const struct sim_request *req)
{
	json_t *hosts = op->autodiscover ? json_object_get(op->autodiscover, "hosts") : NULL;
	const char *host = sim_req_header(req, "Host");
	size_t n, i;
	json_t *h;

	if (!json_is_array(hosts))
		return true;
	if (!host)
		return false;
	n = strcspn(host, ":");
	if (host[0] == '[')
		n = strcspn(host, "]") + 1;
	json_array_foreach(hosts, i, h)
	{
		const char *v = json_string_value(h);
		if (v && strlen(v) == n && strncasecmp(v, host, n) == 0)
			return true;
	}
	return false;
}

static xmlNodePtr ad_child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns &&
		    strcmp((const char *)c->ns->href, NS_AD) == 0 &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

static xmlNodePtr soap_child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns &&
		    strcmp((const char *)c->ns->href, NS_SOAP) == 0 &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

static void el(xmlTextWriterPtr w, const char *name, const char *text)
{
	xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST(text ? text : ""));
}

static const char *lookup(json_t *map, const char *key)
{
	const char *k;
	json_t *v;

	json_object_foreach(map, k, v)
	{
		if (strcasecmp(k, key) == 0)
			return json_string_value(v);
	}
	return NULL;
}

/* One UserResponse for mailbox (requested: the settings asked for). */
static void user_response(struct sim *s, xmlTextWriterPtr w, const char *mailbox,
                          xmlNodePtr requested)
{
	struct sim_onprem *op = s->onprem;
	json_t *ad = op->autodiscover;
	const char *to_address = lookup(json_object_get(ad, "redirect_address"), mailbox);
	const char *to_url = lookup(json_object_get(ad, "redirect_url"), mailbox);
	struct sim_mailbox *mb = sim_find_mailbox(s, mailbox);
	bool ours = mb && strcmp(mb->user->tenant_id, op->tenant_id) == 0;
	char msg[400], counter[64], cas_version[64];
	const char *code = to_address ? "RedirectAddress"
	                   : to_url   ? "RedirectUrl"
	                   : ours     ? "NoError"
	                              : "InvalidUser";

	snprintf(cas_version, sizeof cas_version, "%d.%02d.%04d.%03d", op->build[0], op->build[1],
	         op->build[2], op->build[3]);
	snprintf(counter, sizeof counter, "autodiscover.%s", code);
	sim_count(s, counter);
	xmlTextWriterStartElement(w, BAD_CAST "UserResponse");
	el(w, "ErrorCode", code);
	if (strcmp(code, "InvalidUser") == 0)
		snprintf(msg, sizeof msg, "Invalid user: '%s'", mailbox);
	else if (strcmp(code, "NoError") == 0)
		snprintf(msg, sizeof msg, "No error.");
	else
		snprintf(msg, sizeof msg, "Redirection %s.", to_address ? "address" : "URL");
	el(w, "ErrorMessage", msg);
	if (to_address || to_url) {
		el(w, "RedirectTarget", to_address ? to_address : to_url);
	} else {
		xmlTextWriterStartElement(w, BAD_CAST "RedirectTarget");
		xmlTextWriterWriteAttributeNS(w, BAD_CAST "i", BAD_CAST "nil", NULL,
		                              BAD_CAST "true");
		xmlTextWriterEndElement(w);
	}
	xmlTextWriterStartElement(w, BAD_CAST "UserSettingErrors");
	xmlTextWriterEndElement(w);
	xmlTextWriterStartElement(w, BAD_CAST "UserSettings");
	for (xmlNodePtr set = requested ? requested->children : NULL;
	     ours && !to_address && !to_url && set; set = set->next) {
		xmlChar *name = set->type == XML_ELEMENT_NODE ? xmlNodeGetContent(set) : NULL;
		const char *value = NULL;
		if (name && strcmp((const char *)name, "InternalEwsUrl") == 0)
			value = json_string_value(json_object_get(ad, "internal_ews_url"));
		else if (name && strcmp((const char *)name, "ExternalEwsUrl") == 0)
			value = json_string_value(json_object_get(ad, "external_ews_url"));
		else if (name && strcmp((const char *)name, "UserDisplayName") == 0)
			value = mb->user->display_name;
		else if (name && strcmp((const char *)name, "AutoDiscoverSMTPAddress") == 0)
			value = mb->user->mail; /* the primary SMTP address */
		else if (name && strcmp((const char *)name, "CasVersion") == 0)
			value = cas_version;
		else if (name && strcmp((const char *)name, "EwsSupportedSchemas") == 0)
			value = op->build[1] >= 1
			            ? "Exchange2007, Exchange2007_SP1, Exchange2010, "
			              "Exchange2010_SP1, Exchange2010_SP2, Exchange2013, "
			              "Exchange2013_SP1, Exchange2016"
			            : "Exchange2007, Exchange2007_SP1, Exchange2010, "
			              "Exchange2010_SP1, Exchange2010_SP2, Exchange2013, "
			              "Exchange2013_SP1";
		if (value) {
			xmlTextWriterStartElement(w, BAD_CAST "UserSetting");
			xmlTextWriterWriteAttributeNS(w, BAD_CAST "i", BAD_CAST "type", NULL,
			                              BAD_CAST "StringSetting");
			el(w, "Name", (const char *)name);
			el(w, "Value", value);
			xmlTextWriterEndElement(w);
		}
		xmlFree(name);
	}
	xmlTextWriterEndElement(w); /* UserSettings */
	xmlTextWriterEndElement(w); /* UserResponse */
}

static void answer(struct sim *s, struct sim_response *resp, xmlNodePtr request)
{
	struct sim_onprem *op = s->onprem;
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
	xmlNodePtr users = ad_child(request, "Users");
	xmlNodePtr requested = ad_child(request, "RequestedSettings");
	char v[16];

	xmlTextWriterStartDocument(w, NULL, "utf-8", NULL);
	xmlTextWriterStartElementNS(w, BAD_CAST "s", BAD_CAST "Envelope", BAD_CAST NS_SOAP);
	xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns:a", BAD_CAST NS_WSA);
	xmlTextWriterStartElementNS(w, BAD_CAST "s", BAD_CAST "Header", NULL);
	xmlTextWriterStartElementNS(w, BAD_CAST "a", BAD_CAST "Action", NULL);
	xmlTextWriterWriteAttributeNS(w, BAD_CAST "s", BAD_CAST "mustUnderstand", NULL,
	                              BAD_CAST "1");
	xmlTextWriterWriteString(w, BAD_CAST NS_AD "/Autodiscover/GetUserSettingsResponse");
	xmlTextWriterEndElement(w);
	xmlTextWriterStartElementNS(w, BAD_CAST "h", BAD_CAST "ServerVersionInfo", BAD_CAST NS_AD);
	xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns:i", BAD_CAST NS_XSI);
	const char *names[4] = {"h:MajorVersion", "h:MinorVersion", "h:MajorBuildNumber",
	                        "h:MinorBuildNumber"};
	for (int i = 0; i < 4; i++) {
		snprintf(v, sizeof v, "%d", op->build[i]);
		el(w, names[i], v);
	}
	el(w, "h:Version", op->build[1] >= 1 ? "Exchange2015" : "Exchange2013_SP1");
	xmlTextWriterEndElement(w); /* ServerVersionInfo */
	xmlTextWriterEndElement(w); /* Header */
	xmlTextWriterStartElementNS(w, BAD_CAST "s", BAD_CAST "Body", NULL);
	xmlTextWriterStartElement(w, BAD_CAST "GetUserSettingsResponseMessage");
	xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST NS_AD);
	xmlTextWriterStartElement(w, BAD_CAST "Response");
	xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns:i", BAD_CAST NS_XSI);
	if (!users || !ad_child(users, "User") || !requested) {
		sim_count(s, "autodiscover.InvalidRequest");
		el(w, "ErrorCode", "InvalidRequest");
		el(w, "ErrorMessage", "The request is invalid.");
	} else {
		el(w, "ErrorCode", "NoError");
		el(w, "ErrorMessage", "");
		xmlTextWriterStartElement(w, BAD_CAST "UserResponses");
		for (xmlNodePtr u = users->children; u; u = u->next) {
			if (u->type != XML_ELEMENT_NODE)
				continue;
			xmlChar *mbx = xmlNodeGetContent(ad_child(u, "Mailbox"));
			user_response(s, w, mbx ? (const char *)mbx : "", requested);
			xmlFree(mbx);
		}
		xmlTextWriterEndElement(w);
	}
	xmlTextWriterEndDocument(w);
	xmlFreeTextWriter(w);
	resp->status = 200;
	buf_reset(&resp->body);
	buf_append(&resp->body, (const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
	xmlBufferFree(buf);
	sim_resp_header(resp, "Content-Type", "text/xml; charset=utf-8");
}

static void autodiscover(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	xmlDocPtr doc;
	xmlNodePtr request;

	if (!host_served(s->onprem, req)) {
		sim_count(s, "autodiscover.not_here");
		resp->status = 404;
		sim_resp_header(resp, "Content-Type", "text/html");
		buf_puts(&resp->body,
		         "<html><body><h1>404 - File or directory not found.</h1></body></html>");
		return;
	}
	sim_count(s, "autodiscover");
	if (!sim_onprem_authorize(s, req, resp))
		return;
	if (strcmp(req->method, "POST") != 0) {
		resp->status = 405;
		sim_resp_header(resp, "Allow", "POST");
		return;
	}
	doc = xmlReadMemory(req->body ? req->body : "", (int)req->body_len, "ad.xml", NULL,
	                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc || doc->intSubset) {
		if (doc)
			xmlFreeDoc(doc);
		resp->status = 400;
		sim_resp_header(resp, "Content-Type", "text/plain");
		buf_puts(&resp->body, "Bad Request: not a SOAP envelope");
		return;
	}
	request = ad_child(ad_child(soap_child(xmlDocGetRootElement(doc), "Body"),
	                            "GetUserSettingsRequestMessage"),
	                   "Request");
	answer(s, resp, request);
	xmlFreeDoc(doc);
}

bool sim_onprem_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	if (strcmp(req->path, "/_sim/onprem/config") == 0) {
		control(s, req, resp);
		return true;
	}
	if (strcasecmp(req->path, AD_PATH) == 0 && s->onprem) {
		autodiscover(s, req, resp);
		return true;
	}
	return false;
}
