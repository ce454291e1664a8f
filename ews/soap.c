/* The SOAP envelope and headers of every EWS request, written with libxml2's tree API
 * ([EWS ref exchangeimpersonation], [EWS ref requestserverversion]): RequestServerVersion from
 * config, ExchangeImpersonation by the mailbox's SMTP address, TimeZoneContext on writes. Text and
 * attribute values are stored as data and escaped by libxml2 on output; nothing is pasted. */
#include "ews/ews.h"

#include "common/buf.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the UTF-8 sequence at s if it encodes a character XML 1.0 allows, else 0. */
static size_t xml_char_len(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
	size_t n;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	unsigned long cp = c & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	static const unsigned long min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe ||
	    cp == 0xffff)
		return 0;
	return n;
}

/* Copy of s without what XML 1.0 cannot carry (control characters, invalid UTF-8): libxml2 would
 * write them as character references that every XML parser, Exchange's included, refuses. */
static char *xml_clean(const char *s)
{
	size_t len = strlen(s);
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t n = xml_char_len((const unsigned char *)s + i);
		if (n == 0) {
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

xmlNodePtr ews_add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
	xmlNodePtr node = xmlNewChild(parent, ns, BAD_CAST name, NULL);

	if (text && *text) {
		char *clean = xml_clean(text);
		/* xmlNodeAddContent stores the text as data: '<', '&', ']]>' are escaped on output.
		 */
		xmlNodeAddContent(node, BAD_CAST clean);
		free(clean);
	}
	return node;
}

void ews_set_attr(xmlNodePtr node, const char *name, const char *value)
{
	char *clean = xml_clean(value);

	xmlSetProp(node, BAD_CAST name, BAD_CAST clean);
	free(clean);
}

void ews_add_calendar_folder(xmlNodePtr parent, xmlNsPtr t)
{
	ews_set_attr(ews_add(parent, t, "DistinguishedFolderId", NULL), "Id", "calendar");
}

void ews_add_sync_key_uri(xmlNodePtr parent, xmlNsPtr t)
{
	xmlNodePtr u = ews_add(parent, t, "ExtendedFieldURI", NULL);

	ews_set_attr(u, "PropertySetId", LEAVESYNC_PROPSET_ID);
	ews_set_attr(u, "PropertyName", LEAVESYNC_PROP_NAME);
	ews_set_attr(u, "PropertyType", "String");
}

void ews_request_start(struct ews_request *r, const char *server_version, const char *mailbox,
                       const char *tz_context, const char *op)
{
	r->doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr env = xmlNewDocNode(r->doc, NULL, BAD_CAST "Envelope", NULL);
	xmlDocSetRootElement(r->doc, env);
	xmlNsPtr soap = xmlNewNs(env, BAD_CAST EWS_NS_SOAP, BAD_CAST "soap");
	xmlSetNs(env, soap);
	r->t = xmlNewNs(env, BAD_CAST EWS_NS_TYPES, BAD_CAST "t");
	r->m = xmlNewNs(env, BAD_CAST EWS_NS_MESSAGES, BAD_CAST "m");

	xmlNodePtr header = ews_add(env, soap, "Header", NULL);
	xmlNodePtr version = ews_add(header, r->t, "RequestServerVersion", NULL);
	ews_set_attr(version, "Version", server_version);
	/* Impersonation is per request, so one request serves one mailbox
	 * ([EWS impersonation-and-ews-in-exchange]). SmtpAddress takes any address of the account
	 * ([EWS ref smtpaddress]); PrimarySmtpAddress only the primary one, and HR may know the
	 * user by an alias. */
	xmlNodePtr imp = ews_add(header, r->t, "ExchangeImpersonation", NULL);
	xmlNodePtr sid = ews_add(imp, r->t, "ConnectingSID", NULL);
	ews_add(sid, r->t, "SmtpAddress", mailbox);
	/* Like exchangelib's wrap(): the zone of the request, so that no value is read as UTC by
	 * default (timezonecontext; every time leavesync writes carries its offset anyway). */
	if (tz_context) {
		xmlNodePtr ctx = ews_add(header, r->t, "TimeZoneContext", NULL);
		ews_set_attr(ews_add(ctx, r->t, "TimeZoneDefinition", NULL), "Id", tz_context);
	}

	xmlNodePtr body = ews_add(env, soap, "Body", NULL);
	r->op = ews_add(body, r->m, op, NULL);
}

char *ews_request_finish(struct ews_request *r, size_t *len)
{
	xmlChar *mem = NULL;
	int size = 0;

	xmlDocDumpFormatMemoryEnc(r->doc, &mem, &size, "UTF-8", 0);
	if (!mem)
		abort(); /* only on out-of-memory, as xmalloc does */
	char *out = xstrndup((const char *)mem, (size_t)size);
	xmlFree(mem);
	ews_request_discard(r);
	*len = (size_t)size;
	return out;
}

void ews_request_discard(struct ews_request *r)
{
	if (r->doc)
		xmlFreeDoc(r->doc);
	memset(r, 0, sizeof(*r));
}

/* ---- the server version (Exchange Server) ---- */

/* RequestServerVersion for a build (https://learn.microsoft.com/en-us/exchange/new-features/
 * build-numbers-and-release-dates: 15.0 is Exchange 2013, SP1 from build 847; 15.1 2016; 15.2 2019
 * and SE; 15.20 Exchange Online), or NULL for Exchange 2010 (14.x) and older, which leavesync does
 * not support: its EWS lacks what the engine relies on, and it is out of support since 2020. */
const char *ews_version_of_build(int major, int minor, int build)
{
	if (major > 15 || (major == 15 && minor >= 1))
		return "Exchange2016";
	if (major == 15)
		return build >= 847 ? "Exchange2013_SP1" : "Exchange2013";
	return NULL;
}

static int attr_int(const char *from, const char *name)
{
	char key[40];
	const char *p;

	snprintf(key, sizeof key, "%s=\"", name);
	p = strstr(from, key);
	return p && p - from < 600 ? atoi(p + strlen(key)) : -1;
}

int ews_server_version_info(const char *body, int *major, int *minor, int *build)
{
	const char *svi = strstr(body, "ServerVersionInfo ");

	if (!svi || (*major = attr_int(svi, "MajorVersion")) < 0 ||
	    (*minor = attr_int(svi, "MinorVersion")) < 0 ||
	    (*build = attr_int(svi, "MajorBuildNumber")) < 0)
		return -1;
	return 0;
}

/* body with its RequestServerVersion Version="..." (soap.c writes it first in the header) set to
 * version; NULL when body has none. Caller frees. */
char *ews_with_version(const char *body, const char *version, size_t *len)
{
	static const char key[] = "RequestServerVersion Version=\"";
	const char *at = strstr(body, key), *end;
	struct buf b = BUF_INIT;

	if (!at || !(end = strchr(at + sizeof key - 1, '"')))
		return NULL;
	buf_append(&b, body, (size_t)(at - body) + sizeof key - 1);
	buf_puts(&b, version);
	buf_puts(&b, end);
	*len = b.len;
	return buf_steal(&b);
}
