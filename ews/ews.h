/* The EWS backend's internal interfaces: SOAP writing (soap.c), one request builder per operation
 * (request.c), the CalendarItem field table (fields.c), response parsing (response.c), the one
 * error table (errors.c) and the backend instance with its HTTP session (backend.c).
 *
 * Protocol facts cite Microsoft's documentation: [EWS page] is the page under
 * https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/ and
 * [EWS ref page] the page under
 * https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/; element
 * order is the schema's (tools/m365sim/schema/messages.xsd, types.xsd).
 * User data only ever reaches XML through libxml2 tree calls, which escape it. */
#ifndef EWS_EWS_H
#define EWS_EWS_H

#include "common/buf.h"
#include "common/error.h"
#include "engine/backend.h"
#include "engine/event.h"

#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Namespaces (SOAP 1.1, W3C Note 08 May 2000, §4.1.2; the EWS ones from messages.xsd). SOAP 1.1 is
 * http://, never the https:// of some documentation samples. */
#define EWS_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define EWS_NS_SOAP_TYPO "https://schemas.xmlsoap.org/soap/envelope/"
#define EWS_NS_TYPES "http://schemas.microsoft.com/exchange/services/2006/types"
#define EWS_NS_MESSAGES "http://schemas.microsoft.com/exchange/services/2006/messages"
#define EWS_NS_ERRORS "http://schemas.microsoft.com/exchange/services/2006/errors"

#define EWS_DEFAULT_URL "https://outlook.office365.com/EWS/Exchange.asmx"
#define EWS_DEFAULT_VERSION "Exchange2016"
/* Items per write request. Microsoft publishes no hard maximum; batches are throttled per item and
 * limited to one minute of execution ([EWS ews-throttling-in-exchange]), and Microsoft suggests
 * about 10 items per GetItem batch for sync ([EWS mailbox-synchronization-and-ews-in-exchange]);
 * exchangelib sends 100, evolution-ews 500 for deletes. We chose 10-50 per write request; 50 is the
 * default, [ews] batch_size overrides it. */
#define EWS_DEFAULT_BATCH 50
/* CalendarView returns at most this many entries per call (no paging, [EWS ref calendarview]); a
 * truncated view is split in two. Exchange refuses any view of more than 1000 items
 * (EWSFindCountLimit). */
#define EWS_VIEW_MAX_ENTRIES 500
/* A CalendarView range may not exceed two years (ErrorCalendarViewRangeTooBig, [EWS ref
 * responsecode]); 730 days stay within two years whatever the leap days: a 2-year reconcile window
 * is one FindItem per mailbox. */
#define EWS_VIEW_MAX_SECONDS (730LL * 86400)
/* Keys per FindItem restriction: each key is an IsEqualTo with two operands under one Or; Exchange
 * refuses restrictions of more than 255 nodes (ErrorRestrictionTooLong, [EWS ref responsecode]). */
#define EWS_FIND_KEYS_PER_REQUEST 50
/* Restriction searches return at most 250 results per page in Exchange Online (EWSFindCountLimit,
 * [EWS ews-throttling-in-exchange]). */
#define EWS_FIND_PAGE 250

/* ---- soap.c: envelope and headers ---- */

/* A request being built. The doc owns every node; ews_request_finish serializes and frees it. */
struct ews_request {
	xmlDocPtr doc;
	xmlNsPtr t;    /* types namespace (prefix t) */
	xmlNsPtr m;    /* messages namespace (prefix m) */
	xmlNodePtr op; /* the operation element in soap:Body */
};

/* Starts <soap:Envelope> with RequestServerVersion, ExchangeImpersonation of mailbox (by
 * SmtpAddress) and, when tz_context is not NULL, a TimeZoneContext naming that Windows zone, and
 * an empty operation element m:<op> in the body (r->op). */
void ews_request_start(struct ews_request *r, const char *server_version, const char *mailbox,
                       const char *tz_context, const char *op);
/* RequestServerVersion for an Exchange build: "Exchange2016" (15.1 and later), "Exchange2013_SP1"
 * (15.0.847+), "Exchange2013"; NULL for Exchange 2010 (14.x) and older (refused). */
const char *ews_version_of_build(int major, int minor, int build);
/* The MajorVersion, MinorVersion and MajorBuildNumber attributes of the t:ServerVersionInfo in a
 * response's SOAP header ([EWS ref serverversioninfo]); 0, or -1 when absent. */
int ews_server_version_info(const char *body, int *major, int *minor, int *build);
/* body with the Version of its RequestServerVersion (the first one ews_request_start writes) set to
 * version; NULL when body has none. Caller frees. */
char *ews_with_version(const char *body, const char *version, size_t *len);

/* Serializes the document (UTF-8, with XML declaration), frees it; returns heap text, *len set. */
char *ews_request_finish(struct ews_request *r, size_t *len);
void ews_request_discard(struct ews_request *r);

/* Adds <ns:name>text</ns:name> (text escaped by libxml2; invalid XML characters dropped). text may
 * be NULL for an empty element. Returns the new node. */
xmlNodePtr ews_add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text);
/* Sets an attribute (value escaped by libxml2). */
void ews_set_attr(xmlNodePtr node, const char *name, const char *value);
/* Adds <t:DistinguishedFolderId Id="calendar"/>: the impersonated mailbox's calendar. No Mailbox
 * child: impersonation already selects the mailbox, and Mailbox takes a primary address only
 * ("Proxy addresses are not allowed", distinguishedfolderid). */
void ews_add_calendar_folder(xmlNodePtr parent, xmlNsPtr t);
/* Adds <t:ExtendedFieldURI PropertySetId=LEAVESYNC_PROPSET_ID PropertyName=...
 * PropertyType="String"/> */
void ews_add_sync_key_uri(xmlNodePtr parent, xmlNsPtr t);

/* ---- fields.c: struct event <-> CalendarItem, table-driven ---- */

/* Windows zone ids for an event's StartTimeZone/EndTimeZone (from engine/tz.h, ICU), and Start/End
 * as xs:dateTime with the zone's UTC offset at that instant ("2026-12-24T00:00:00+02:00"): a value
 * with an offset is read as given by every server, whatever TimeZoneContext or StartTimeZone say
 * (time-zones-and-ews-in-exchange, table 2). */
struct ews_zones {
	char start[128];
	char end[128];
	char start_time[32];
	char end_time[32];
};

/* Resolves ev's IANA zone to a Windows id, checks its dates and fixes Start/End with their
 * offsets. Returns 0, or -1 with err naming the problem (unknown zone, malformed date, end not
 * after start, a local time the zone cannot place). */
int ews_event_zones(const struct event *ev, struct ews_zones *z, struct error *err);

/* Appends a full t:CalendarItem (create) to parent: the owned fields in schema order
 * (CalendarItemType in types.xsd). */
void ews_calendar_item_write(xmlNodePtr parent, xmlNsPtr t, const struct event *ev,
                             const struct ews_zones *z);

/* Appends the t:Updates of an ItemChange: SetItemField for each owned field of ev that differs from
 * written (every field when written is NULL), DeleteItemField for a body or categories that became
 * empty; Start/End always travel with IsAllDayEvent and both time zones, which decide how a
 * zone-less time is read ([EWS time-zones-and-ews-in-exchange]). Returns the number of updates
 * written (0: nothing differs). */
int ews_calendar_updates_write(xmlNodePtr updates, xmlNsPtr t, const struct event *ev,
                               const struct event *written, const struct ews_zones *z);

/* The FieldURIs GetItem asks for (ItemShape/AdditionalProperties), plus the sync-key property. */
void ews_owned_properties_write(xmlNodePtr additional, xmlNsPtr t);

/* Reads a t:CalendarItem element into *re (ids, owned fields, sync key; times converted from UTC to
 * the item's StartTimeZone; all-day dates with the end exclusive,
 * [EWS how-to-create-all-day-events-by-using-ews-in-exchange]).
 * Returns 0, or -1 with err (re then holds what was read; caller frees it). */
int ews_calendar_item_read(xmlNodePtr item, struct remote_event *re, struct error *err);

/* ---- errors.c: the one table of EWS ResponseCodes and transport failures ---- */

enum {
	EWS_ERR_MAILBOX =
	    1 << 0, /* concerns the whole mailbox: every item of the request fails with it */
};

struct ews_error_info {
	const char *code;      /* EWS ResponseCode, or "HTTP 401"... for transport-level failures */
	enum be_status status; /* what the engine does next */
	unsigned flags;
	const char *meaning; /* what it means, one sentence */
	const char *fix;     /* what to do about it */
};

/* The entry for code; an unknown Error* code gets a generic BE_FINAL entry. Never NULL. */
const struct ews_error_info *ews_error_lookup(const char *code);
/* Every entry, for docs/ews.md and tests; *n set. */
const struct ews_error_info *ews_error_table(size_t *n);
/* Writes the error table as the Markdown table docs/ews.md carries. */
void ews_error_table_markdown(struct buf *out);

/* ---- response.c: one parser per response ---- */

/* A parsed response document. The fault fields are set when the body is a SOAP Fault. */
struct ews_response {
	xmlDocPtr doc;
	xmlNodePtr op; /* the m:<Op>Response element; NULL for a fault */
	bool fault;
	char code[96];  /* fault: detail/ResponseCode, or faultcode without prefix */
	char text[384]; /* fault: faultstring or detail/Message */
	int backoff_ms; /* MessageXml BackOffMilliseconds, 0 if none */
};

/* Parses body as an EWS response: no network, no DTD, no entity substitution; a document with a DTD
 * is refused. Finds the soap:Envelope by namespace URI (the https:// typo is named in the error),
 * then either a Fault or the element m:<expect_op>Response (a bare m:<expect_op>Response root is
 * accepted too). Returns 0 or -1 with err; r is freed with ews_response_free either way. */
int ews_response_parse(const char *body, size_t len, const char *expect_op, struct ews_response *r,
                       struct error *err);
void ews_response_free(struct ews_response *r);

/* One m:<Op>ResponseMessage, mapped through the error table. */
struct ews_message {
	xmlNodePtr node;
	enum be_status status;
	int backoff_ms;
	const struct ews_error_info *info; /* NULL for NoError */
	char code[96];
	char text[256];
};

/* The response messages of r in order (*msgs heap array owned by the caller, free()). Returns their
 * count, or -1 with err when the document has no m:ResponseMessages. */
long ews_response_messages(const struct ews_response *r, struct ews_message **msgs,
                           struct error *err);

/* Maps a fault (r->fault) onto a status and a message naming the code and the fix. */
enum be_status ews_fault_status(const struct ews_response *r, int *retry_after_ms,
                                struct error *err);

/* Write responses: fill status/message/new ids of items[0..n-1] (the items sent, in order).
 * Return BE_OK when per-item results were read, else the status shared by every item (all items are
 * then set to it, and err says why: a fault, a count mismatch, an unreadable document). */
enum be_status ews_parse_create_response(const char *body, size_t len, struct be_item *const *items,
                                         size_t n, struct error *err);
enum be_status ews_parse_update_response(const char *body, size_t len, struct be_item *const *items,
                                         size_t n, struct error *err);
enum be_status ews_parse_delete_response(const char *body, size_t len, struct be_item *const *items,
                                         size_t n, struct error *err);

/* One item read by GetItem or FindItem. */
struct ews_read_item {
	struct remote_event re; /* owned; ews_read_items_free */
	enum be_status status;
	char message[256];
};

/* Items read by GetItem (one per id asked) or FindItem (as found). */
struct ews_read_list {
	struct ews_read_item *v;
	size_t n, cap;
	bool includes_last;  /* FindItem: RootFolder IncludesLastItemInRange */
	long total;          /* FindItem: TotalItemsInView, -1 if absent */
	long next_offset;    /* FindItem: IndexedPagingOffset, -1 if absent */
	char error_code[96]; /* FindItem: the ResponseCode of a failed query, "" otherwise */
};

void ews_read_list_free(struct ews_read_list *l);

/* GetItem: expects n messages. Per-message status in each entry (ErrorItemNotFound: BE_GONE). */
enum be_status ews_parse_get_response(const char *body, size_t len, size_t n,
                                      struct ews_read_list *out, struct error *err);
/* FindItem (restriction or CalendarView): every CalendarItem found, with includes_last/total. */
enum be_status ews_parse_find_response(const char *body, size_t len, struct ews_read_list *out,
                                       struct error *err);
/* GetFolder: BE_OK when the folder was returned. */
enum be_status ews_parse_get_folder_response(const char *body, size_t len, struct error *err);

/* ---- request.c: one builder per operation; each returns the request as heap text, *len set.
 * Items reach the builders checked (ews_event_zones): building cannot fail. ---- */

struct ews_target {
	const char *server_version;
	const char *mailbox;
};

char *ews_build_create_items(const struct ews_target *tg, struct be_item *const *items,
                             const struct ews_zones *zones, size_t n, size_t *len);
char *ews_build_update_items(const struct ews_target *tg, struct be_item *const *items,
                             const struct ews_zones *zones, size_t n, size_t *len);
char *ews_build_delete_items(const struct ews_target *tg, struct be_item *const *items, size_t n,
                             size_t *len);
/* GetItem of ids[0..n-1] with the owned fields and the sync key. */
char *ews_build_get_item(const struct ews_target *tg, const char *const *ids, size_t n,
                         size_t *len);
/* FindItem in the calendar with a restriction: sync key equal to one of keys[0..n-1]; paged. */
char *ews_build_find_by_keys(const struct ews_target *tg, const char *const *keys, size_t n,
                             long offset, size_t *len);
/* FindItem CalendarView over [from, to) (Unix seconds), ids and sync keys only. */
char *ews_build_calendar_view(const struct ews_target *tg, int64_t from, int64_t to,
                              int max_entries, size_t *len);
/* GetFolder of the mailbox's calendar, ids only (probe). */
char *ews_build_get_folder(const struct ews_target *tg, size_t *len);

/* ---- small helpers shared by the files above ---- */

/* Text content of node (heap, caller frees); "" for an empty element; trimmed of outer whitespace
 * when trim. */
char *ews_node_text(xmlNodePtr node, bool trim);
/* The first element child of node in namespace ns with local name name (ns NULL: any). */
xmlNodePtr ews_child(xmlNodePtr node, const char *ns, const char *name);
/* Attribute value copied into out (truncated to outlen); "" when absent. Returns true when present.
 */
bool ews_attr(xmlNodePtr node, const char *name, char *out, size_t outlen);
/* Attribute value as a heap copy (caller frees), NULL when absent. */
char *ews_attr_dup(xmlNodePtr node, const char *name);
/* True when node is an element in ns with local name name. */
bool ews_is(xmlNodePtr node, const char *ns, const char *name);

/* ---- autodiscover.c: SOAP Autodiscover for Exchange Server ([MS-OXWSADISC]) ---- */

struct ews_discovery {
	char *ews_url;      /* https URL of EWS for the mailbox (owned) */
	char *server_build; /* "15.1.2507.6" from Autodiscover's ServerVersionInfo, or NULL */
	char *mailbox;      /* the address finally asked for (after RedirectAddress) */
	bool redirected;    /* a RedirectAddress was followed: the answer is this mailbox's, not
	                       its domain's */
};

struct http_client;

/* Finds mailbox's EWS URL through the documented candidates, following redirects over https only,
 * at most 10 (the file's comment has the rules and sources); http signs in as EWS does.
 * srv_override: "host:port" instead of the DNS SRV lookup (tests). BE_OK with *out filled (free
 * with ews_discovery_free), else BE_FINAL (no such mailbox, a refused redirect), BE_BLOCKED
 * (nothing answered: setup, the sign-in, TLS) or BE_RETRY_LATER (ServerBusy), err saying why. */
enum be_status ews_autodiscover(struct http_client *http, const char *mailbox,
                                const char *srv_override, struct ews_discovery *out,
                                struct error *err);
void ews_discovery_free(struct ews_discovery *d);

/* One GetUserSettings answer, every text redacted (common/redact.h) and cut to its field. */
struct ews_ad_answer {
	char code[64];       /* UserResponse ErrorCode (or the Response's when not NoError) */
	char message[256];   /* ErrorMessage */
	char target[512];    /* RedirectTarget */
	char internal[1024]; /* InternalEwsUrl */
	char external[1024]; /* ExternalEwsUrl */
	char build[64];      /* ServerVersionInfo as "15.1.2507.6" */
};
/* Parses a server's answer (no DTD, no entities, no network). 0, or -1 with err when it is not a
 * GetUserSettings SOAP answer. */
int ews_autodiscover_parse(const char *body, size_t len, struct ews_ad_answer *a,
                           struct error *err);

#endif
