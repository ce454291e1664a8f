/* EWS response writing, in Exchange Online's shape (the recorded responses in tests/data/ews): a
 * SOAP 1.1 envelope, h:ServerVersionInfo in the header, m:<Op>Response with xmlns:m/xmlns:t, one
 * m:<Op>ResponseMessage per input with ResponseClass, MessageText, ResponseCode and
 * DescriptiveLinkKey; request-level failures as SOAP faults (the soapfault samples). Plus small
 * tree helpers for reading requests. Everything goes through libxml2's writer: user data is never
 * pasted into XML text. */
#include "tools/m365sim/ews_int.h"
#include "tools/m365sim/onprem.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What Exchange Online reports in ServerVersionInfo today: build 15.20 (the build exchangelib's
 * version.py maps to Exchange Online), Version V2018_01_08. */
#define SVI_MAJOR "15"
#define SVI_MINOR "20"
#define SVI_BUILD "8769"
#define SVI_MINOR_BUILD "21"
#define SVI_VERSION "V2018_01_08"

#define XSI "http://www.w3.org/2001/XMLSchema-instance"
#define XSD "http://www.w3.org/2001/XMLSchema"

/* MessageText per ResponseCode: Microsoft's samples where they exist (tests/data/ews), otherwise
 * the wording of [EWS ref responsecode] and the other [EWS] pages. */
static const struct {
	const char *code, *text;
} error_texts[] = {
    {"ErrorItemNotFound", "The specified object was not found in the store."},
    {"ErrorFolderNotFound", "The specified folder could not be found in the store."},
    {"ErrorInvalidIdMalformed", "Id is malformed."},
    {"ErrorInvalidIdEmpty", "Id is empty."},
    {"ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."},
    {"ErrorIrresolvableConflict", "The send or update operation could not be performed because the "
                                  "change key passed in the request "
                                  "does not match the current change key for the item."},
    {"ErrorChangeKeyRequiredForWriteOperations",
     "When making a request that requires a change key, a change key must be supplied."},
    {"ErrorInvalidChangeKey", "The change key is invalid."},
    {"ErrorExceededFindCountLimit", "You have exceeded the maximum number of objects that can be "
                                    "returned for the find operation. Use "
                                    "paging to reduce the result size and try your request again."},
    {"ErrorAccessDenied", "Access is denied. Check credentials and try again."},
    {"ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."},
    {"ErrorImpersonateUserDenied",
     "The account does not have permission to impersonate the requested user."},
    {"ErrorServerBusy", "The server cannot service this request right now. Try again later."},
    {"ErrorSchemaValidation", "The request failed schema validation."},
    {"ErrorInvalidRequest", "The request is invalid."},
    {"ErrorCalendarInvalidTimeZone", "The time zone is invalid."},
    {"ErrorCalendarEndDateIsEarlierThanStartDate", "EndDate is earlier than StartDate"},
    {"ErrorCalendarDurationIsTooLong", "The duration of the calendar item is too long."},
    {"ErrorCalendarViewRangeTooBig",
     "The time range for the calendar view exceeds the maximum allowed (two years)."},
    {"ErrorCalendarFolderIsInvalidForCalendarView", "The folder is not a calendar folder."},
    {"ErrorSendMeetingInvitationsRequired",
     "SendMeetingInvitations attribute is required for calendar items."},
    {"ErrorSendMeetingInvitationsOrCancellationsRequired",
     "SendMeetingInvitationsOrCancellations attribute is required for calendar items."},
    {"ErrorSendMeetingCancellationsRequired",
     "SendMeetingCancellations attribute is required for calendar items."},
    {"ErrorBatchProcessingStopped", "Batch processing was stopped because a previous item failed."},
    {"ErrorMissingEmailAddress", "When making a request as an account that does not have a "
                                 "mailbox, you must specify the mailbox primary "
                                 "SMTP address for any distinguished folder Ids."},
    {"ErrorInvalidItemForOperation", "The item is invalid for this operation."},
    {"ErrorInvalidExtendedProperty", "The extended property is invalid."},
    {"ErrorInvalidPropertySet", "Set action is invalid for property."},
    {"ErrorInvalidPropertyDelete", "Delete action is invalid for property."},
    {"ErrorUnsupportedPathForQuery", "The property path is not supported for a query restriction."},
    {"ErrorInvalidExchangeImpersonationHeaderData", "The impersonation header data is invalid."},
    {"ErrorInvalidOperation", "The operation is not supported by this server."},
    {"ErrorValueOutOfRange", "The value is out of range."},
    {"ErrorInvalidValueForProperty", "The value is invalid for the property."},
    {"ErrorIncorrectUpdatePropertyCount",
     "An object within a change description must contain one and only one property to modify."},
    {"ErrorInvalidPropertyAppend", "Append action is invalid for property."},
    {"ErrorInvalidIdNotAnItemAttachmentId", "The Id is not an item attachment id."},
    {"ErrorMoreThanOneAccessModeSpecified", "More than one access mode was specified."},
};

const char *ews_error_text(const char *code)
{
	for (size_t i = 0; i < sizeof error_texts / sizeof error_texts[0]; i++)
		if (strcmp(code, error_texts[i].code) == 0)
			return error_texts[i].text;
	return "The request failed.";
}

/* ---- writer helpers ---- */

void ews_w_start(struct ews_out *o, const char *prefix, const char *name)
{
	xmlTextWriterStartElementNS(o->w, BAD_CAST prefix, BAD_CAST name, NULL);
}

void ews_w_end(struct ews_out *o)
{
	xmlTextWriterEndElement(o->w);
}

void ews_w_attr(struct ews_out *o, const char *name, const char *value)
{
	xmlTextWriterWriteAttribute(o->w, BAD_CAST name, BAD_CAST(value ? value : ""));
}

void ews_w_text_elem(struct ews_out *o, const char *prefix, const char *name, const char *text)
{
	ews_w_start(o, prefix, name);
	if (text && *text)
		xmlTextWriterWriteString(o->w, BAD_CAST text);
	ews_w_end(o);
}

void ews_w_bool_elem(struct ews_out *o, const char *name, bool value)
{
	ews_w_text_elem(o, "t", name, value ? "true" : "false");
}

void ews_w_time_elem(struct ews_out *o, const char *name, int64_t t)
{
	char buf[32];
	ews_format_utc(buf, t);
	ews_w_text_elem(o, "t", name, buf);
}

static void writer_open(struct ews_out *o)
{
	o->xbuf = xmlBufferCreateSize(4096);
	o->w = xmlNewTextWriterMemory(o->xbuf, 0);
	if (!o->xbuf || !o->w)
		abort();
	xmlTextWriterStartDocument(o->w, NULL, "utf-8", NULL);
	xmlTextWriterStartElementNS(o->w, BAD_CAST "s", BAD_CAST "Envelope", BAD_CAST EWS_NS_SOAP);
}

/* On-premises mode (onprem.h): the configured build, and the Version string such a server sends
 * (Exchange 2016/2019 report "V2017_07_11", 2013 SP1 "Exchange2013_SP1", 2010 SP3
 * "Exchange2010_SP2"; exchangelib's version.py, which maps builds the same way, and
 * https://learn.microsoft.com/en-us/exchange/new-features/build-numbers-and-release-dates). */
static char svi[4][16] = {SVI_MAJOR, SVI_MINOR, SVI_BUILD, SVI_MINOR_BUILD};
static char svi_version[32] = SVI_VERSION;

void ews_set_server_version(const int build[4], const char *version)
{
	for (int i = 0; i < 4; i++)
		snprintf(svi[i], sizeof svi[i], "%d", build[i]);
	snprintf(svi_version, sizeof svi_version, "%s", version);
}

static void write_server_version(struct ews_out *o)
{
	xmlTextWriterStartElementNS(o->w, BAD_CAST "s", BAD_CAST "Header", NULL);
	xmlTextWriterStartElementNS(o->w, BAD_CAST "h", BAD_CAST "ServerVersionInfo",
	                            BAD_CAST EWS_NS_T);
	ews_w_attr(o, "MajorVersion", svi[0]);
	ews_w_attr(o, "MinorVersion", svi[1]);
	ews_w_attr(o, "MajorBuildNumber", svi[2]);
	ews_w_attr(o, "MinorBuildNumber", svi[3]);
	ews_w_attr(o, "Version", svi_version);
	ews_w_attr(o, "xmlns", EWS_NS_T);
	ews_w_attr(o, "xmlns:xsd", XSD);
	ews_w_attr(o, "xmlns:xsi", XSI);
	xmlTextWriterEndElement(o->w);
	xmlTextWriterEndElement(o->w);
}

void ews_out_begin(struct ews_out *o, const char *operation)
{
	char name[96];
	writer_open(o);
	write_server_version(o);
	xmlTextWriterStartElementNS(o->w, BAD_CAST "s", BAD_CAST "Body", NULL);
	ews_w_attr(o, "xmlns:xsi", XSI);
	ews_w_attr(o, "xmlns:xsd", XSD);
	snprintf(name, sizeof name, "%sResponse", operation);
	xmlTextWriterStartElementNS(o->w, BAD_CAST "m", BAD_CAST name, BAD_CAST EWS_NS_M);
	ews_w_attr(o, "xmlns:t", EWS_NS_T);
	ews_w_start(o, "m", "ResponseMessages");
}

static void writer_take(struct ews_out *o, struct sim_response *resp, int status)
{
	xmlTextWriterEndDocument(o->w);
	xmlFreeTextWriter(o->w);
	o->w = NULL;
	buf_reset(&resp->body);
	buf_append(&resp->body, xmlBufferContent(o->xbuf), (size_t)xmlBufferLength(o->xbuf));
	xmlBufferFree(o->xbuf);
	o->xbuf = NULL;
	resp->status = status;
	sim_resp_header(resp, "Content-Type", "text/xml; charset=utf-8");
}

void ews_out_finish(struct ews_out *o, struct sim_response *resp)
{
	writer_take(o, resp, 200); /* EndDocument closes every open element */
}

void ews_out_discard(struct ews_out *o)
{
	if (o->w)
		xmlFreeTextWriter(o->w);
	if (o->xbuf)
		xmlBufferFree(o->xbuf);
	o->w = NULL;
	o->xbuf = NULL;
}

static void msg_begin(struct ews_out *o, const char *operation, const char *cls, const char *code)
{
	char name[96];
	snprintf(name, sizeof name, "%sResponseMessage", operation);
	ews_w_start(o, "m", name);
	ews_w_attr(o, "ResponseClass", cls);
	if (code) {
		ews_w_text_elem(o, "m", "MessageText", ews_error_text(code));
		ews_w_text_elem(o, "m", "ResponseCode", code);
		ews_w_text_elem(o, "m", "DescriptiveLinkKey", "0");
	} else {
		ews_w_text_elem(o, "m", "ResponseCode", "NoError");
	}
}

void ews_msg_begin(struct ews_out *o, const char *operation, const char *code)
{
	msg_begin(o, operation, code ? "Error" : "Success", code);
}

void ews_msg_begin_warning(struct ews_out *o, const char *operation, const char *code)
{
	msg_begin(o, operation, "Warning", code);
}

void ews_msg_end(struct ews_out *o)
{
	ews_w_end(o);
}

void ews_msg_error(struct ews_out *o, const char *operation, const char *code,
                   const char *value_name, const char *value)
{
	ews_msg_begin(o, operation, code);
	if (value_name) {
		ews_w_start(o, "m", "MessageXml");
		ews_w_start(o, "t", "Value");
		ews_w_attr(o, "Name", value_name);
		xmlTextWriterWriteString(o->w, BAD_CAST value);
		ews_w_end(o);
		ews_w_end(o);
	}
	ews_msg_end(o);
}

/* ---- SOAP faults ---- */

static void fault_detail(struct ews_out *o, const char *code, const char *message,
                         const char *value_name, const char *value,
                         const struct ews_problem *problem)
{
	xmlTextWriterStartElement(o->w, BAD_CAST "detail");
	xmlTextWriterStartElementNS(o->w, BAD_CAST "e", BAD_CAST "ResponseCode", BAD_CAST EWS_NS_E);
	xmlTextWriterWriteString(o->w, BAD_CAST code);
	xmlTextWriterEndElement(o->w);
	xmlTextWriterStartElementNS(o->w, BAD_CAST "e", BAD_CAST "Message", BAD_CAST EWS_NS_E);
	xmlTextWriterWriteString(o->w, BAD_CAST message);
	xmlTextWriterEndElement(o->w);
	if (value_name || problem) {
		xmlTextWriterStartElementNS(o->w, BAD_CAST "t", BAD_CAST "MessageXml",
		                            BAD_CAST EWS_NS_T);
		if (problem) {
			char num[32];
			snprintf(num, sizeof num, "%d", problem->line);
			ews_w_text_elem(o, "t", "LineNumber", num);
			snprintf(num, sizeof num, "%d", problem->column);
			ews_w_text_elem(o, "t", "LinePosition", num);
			ews_w_text_elem(o, "t", "Violation", problem->message);
		} else {
			ews_w_start(o, "t", "Value");
			ews_w_attr(o, "Name", value_name);
			xmlTextWriterWriteString(o->w, BAD_CAST value);
			ews_w_end(o);
		}
		xmlTextWriterEndElement(o->w);
	}
	xmlTextWriterEndElement(o->w);
}

void ews_fault(struct sim_response *resp, const char *code, const char *faultstring,
               const char *value_name, const char *value, const struct ews_problem *schema_problem)
{
	struct ews_out o;
	char fc[96];
	const char *message = ews_error_text(code);
	writer_open(&o);
	xmlTextWriterStartElementNS(o.w, BAD_CAST "s", BAD_CAST "Body", NULL);
	xmlTextWriterStartElementNS(o.w, BAD_CAST "s", BAD_CAST "Fault", NULL);
	xmlTextWriterStartElement(o.w, BAD_CAST "faultcode");
	ews_w_attr(&o, "xmlns:a", EWS_NS_T);
	snprintf(fc, sizeof fc, "a:%s", code);
	xmlTextWriterWriteString(o.w, BAD_CAST fc);
	xmlTextWriterEndElement(o.w);
	xmlTextWriterStartElement(o.w, BAD_CAST "faultstring");
	ews_w_attr(&o, "xml:lang", "en-US");
	xmlTextWriterWriteString(o.w, BAD_CAST(faultstring ? faultstring : message));
	xmlTextWriterEndElement(o.w);
	fault_detail(&o, code, message, value_name, value, schema_problem);
	writer_take(&o, resp, 500);
}

/* ---- tree helpers ---- */

bool ews_is(xmlNodePtr node, const char *ns, const char *name)
{
	return node && node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
	       strcmp((const char *)node->ns->href, ns) == 0 &&
	       strcmp((const char *)node->name, name) == 0;
}

xmlNodePtr ews_first_elem(xmlNodePtr parent)
{
	for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

xmlNodePtr ews_next_elem(xmlNodePtr node)
{
	for (xmlNodePtr n = node ? node->next : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

xmlNodePtr ews_child(xmlNodePtr parent, const char *ns, const char *name)
{
	for (xmlNodePtr n = ews_first_elem(parent); n; n = ews_next_elem(n))
		if (ews_is(n, ns, name))
			return n;
	return NULL;
}

char *ews_text(xmlNodePtr node)
{
	xmlChar *c = node ? xmlNodeGetContent(node) : NULL;
	const char *s = c ? (const char *)c : "";
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	char *out = xstrndup(s, n);
	xmlFree(c);
	return out;
}

char *ews_attr(xmlNodePtr node, const char *name)
{
	xmlChar *v = node ? xmlGetProp(node, BAD_CAST name) : NULL;
	if (!v)
		return NULL;
	char *out = xstrdup((const char *)v);
	xmlFree(v);
	return out;
}

bool ews_parse_bool(const char *s)
{
	return s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}
