/* Internal interface of the simulator's EWS service (ews*.c). Built from Microsoft's EWS
 * documentation (the [EWS ...] pages cited in each file, sim.h) and the official schema in
 * tools/m365sim/schema; never from what a client happens to send. ews.c
 * POST /EWS/Exchange.asmx: auth, throttling fault, validation, impersonation, dispatch ews_schema.c
 * loading the schema once, XXE-safe parsing, SOAP envelope + header + body validation ews_xml.c
 * response writing: envelope with ServerVersionInfo, response messages, SOAP faults ews_time.c
 * xs:dateTime parsing/formatting and Windows time zones (ICU) ews_item.c    CalendarItem XML <->
 * struct sim_item, item shapes, extended properties ews_ops.c     GetFolder, CreateItem, GetItem,
 * UpdateItem, DeleteItem, ConvertId ews_find.c    FindItem (CalendarView, IndexedPageItemView,
 * Restriction) and SyncFolderItems */
#ifndef M365SIM_EWS_INT_H
#define M365SIM_EWS_INT_H

#include "tools/m365sim/sim.h"

#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#define EWS_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define EWS_NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define EWS_NS_T "http://schemas.microsoft.com/exchange/services/2006/types"
#define EWS_NS_M "http://schemas.microsoft.com/exchange/services/2006/messages"
#define EWS_NS_E "http://schemas.microsoft.com/exchange/services/2006/errors"

/* ---- ews_schema.c ---- */

enum ews_verdict {
	EWS_VALID,
	EWS_MALFORMED,   /* not well-formed XML, or not a SOAP envelope with one body element */
	EWS_INVALID,     /* fails the schema: ErrorSchemaValidation */
	EWS_BAD_VERSION, /* RequestServerVersion Version no Exchange accepts: ErrorInvalidRequest */
	EWS_NO_SCHEMA,   /* the schema could not be loaded */
};

struct ews_problem {
	int line, column;
	char message[1024];
};

/* A parsed, validated request. The doc owns every node. */
struct ews_envelope {
	xmlDocPtr doc;
	xmlNodePtr op;            /* the body's operation element (m:CreateItem, ...) */
	xmlNodePtr impersonation; /* t:ExchangeImpersonation or NULL */
	xmlNodePtr tz_context;    /* t:TimeZoneContext or NULL */
	char version[32];         /* RequestServerVersion/@Version, "" when the header is absent */
};

/* Loads ews.xsd from path instead of the copy built into m365sim; call before ews_schema_load. */
void ews_schema_use_file(const char *path);
/* Loads and compiles the schema once per process (thread-safe); later calls return the first
 * result. Returns 0, or -1 with why filled. */
int ews_schema_load(char *why, size_t why_size);
enum ews_verdict ews_parse_request(const char *body, size_t len, struct ews_envelope *env,
                                   struct ews_problem *problem);
void ews_envelope_free(struct ews_envelope *env);

/* ---- ews_validate.c: m365sim --validate-ews [-q] [--json] FILE... ---- */

/* Validates each file ("-" is stdin) as a request POSTed to /EWS/Exchange.asmx, with
 * ews_parse_request, and prints one verdict per file on stdout. Returns the exit status: 0 every
 * file valid, 1 any invalid, 2 a file could not be read (or is larger than max_bytes, the server's
 * request limit) or the schema did not load. */
int ews_validate_files(char *const *files, int nfiles, bool quiet, bool json, size_t max_bytes);
/* Order of RequestServerVersion values (Exchange2007 = 0 ...); "" counts as Exchange2007_SP1-era
 * default. */
int ews_version_rank(const char *version);
#define EWS_RANK_2010 3

/* ---- ews_xml.c ---- */

struct ews_out {
	xmlBufferPtr xbuf;
	xmlTextWriterPtr w;
};

/* Opens envelope, header (ServerVersionInfo), body, m:<op>Response and m:ResponseMessages. */
void ews_out_begin(struct ews_out *o, const char *operation);
/* Closes everything and moves the document into resp (HTTP 200, text/xml). */
void ews_out_finish(struct ews_out *o, struct sim_response *resp);
void ews_out_discard(struct ews_out *o);
/* Starts m:<op>ResponseMessage; code NULL means Success/NoError. An Error (or Warning) message
 * carries MessageText, ResponseCode and DescriptiveLinkKey 0 as Exchange writes them. */
void ews_msg_begin(struct ews_out *o, const char *operation, const char *code);
void ews_msg_begin_warning(struct ews_out *o, const char *operation, const char *code);
void ews_msg_end(struct ews_out *o);
/* A complete error message with optional m:MessageXml/t:Value Name=value_name. */
void ews_msg_error(struct ews_out *o, const char *operation, const char *code,
                   const char *value_name, const char *value);
const char *ews_error_text(const char *code);

/* SOAP fault (HTTP 500): faultcode a:<code>, faultstring, detail with e:ResponseCode, e:Message and
 * t:MessageXml holding the given t:Value (may be NULL) or the schema problem (may be NULL). */
void ews_fault(struct sim_response *resp, const char *code, const char *faultstring,
               const char *value_name, const char *value, const struct ews_problem *schema_problem);

/* Small writer helpers (t: namespace). */
void ews_w_start(struct ews_out *o, const char *prefix, const char *name);
void ews_w_end(struct ews_out *o);
void ews_w_attr(struct ews_out *o, const char *name, const char *value);
void ews_w_text_elem(struct ews_out *o, const char *prefix, const char *name, const char *text);
void ews_w_bool_elem(struct ews_out *o, const char *name, bool value);
void ews_w_time_elem(struct ews_out *o, const char *name, int64_t t);

/* ---- tree helpers (ews_xml.c) ---- */
xmlNodePtr ews_child(xmlNodePtr parent, const char *ns,
                     const char *name); /* first such element child */
xmlNodePtr ews_first_elem(xmlNodePtr parent);
xmlNodePtr ews_next_elem(xmlNodePtr node);
bool ews_is(xmlNodePtr node, const char *ns, const char *name);
char *ews_text(xmlNodePtr node); /* trimmed text content, caller frees; never NULL */
char *ews_attr(xmlNodePtr node, const char *name); /* attribute or NULL; caller frees */
bool ews_parse_bool(const char *s);

/* ---- ews_time.c ---- */

/* Parses xs:dateTime. *has_zone tells whether it carried Z or an offset (then *utc is final).
 * Otherwise the fields are a wall-clock time to resolve with ews_local_to_utc. Returns 0 or -1. */
int ews_parse_datetime(const char *s, int64_t *utc, bool *has_zone);
/* Per-request cache of ICU calendars by Windows zone id. */
struct ews_tz;
struct ews_tz *ews_tz_new(void);
void ews_tz_free(struct ews_tz *tz);
/* Windows zone id -> is it known (ICU's CLDR windowsZones mapping)? */
bool ews_tz_known(struct ews_tz *tz, const char *windows_id);
/* Wall-clock seconds (as if UTC) in a Windows zone -> UTC. Returns 0 or -1 (unknown zone). */
int ews_local_to_utc(struct ews_tz *tz, const char *windows_id, int64_t wall, int64_t *utc);
/* UTC -> wall-clock seconds (as if UTC) in the zone. */
int ews_utc_to_local(struct ews_tz *tz, const char *windows_id, int64_t utc, int64_t *wall);
void ews_format_utc(char out[32], int64_t t);

/* ---- ews_item.c ---- */

/* Per-request context shared by the operations. */
struct ews_ctx {
	struct sim *s;
	struct ews_envelope *env;
	struct sim_app *app;
	const char *tid;         /* the token's tenant */
	const char *anchor;      /* X-AnchorMailbox or NULL */
	struct sim_user *caller; /* impersonated user, or NULL for app-only without impersonation */
	struct sim_mailbox *mailbox; /* the impersonated user's mailbox or NULL */
	const char *tz_context;      /* TimeZoneContext Windows id or NULL */
	int version_rank;
	struct ews_tz *tz; /* ICU calendars for this request */
	bool own_only;     /* on-premises account acting as itself: no other mailbox (it holds no
	                      FullAccess), only its own, if it has one */
	struct ews_out out;
};

/* An ExtendedFieldURI reduced to the store's key. */
struct ews_extpath {
	char set_id[64]; /* lower-case GUID */
	char name[256];  /* PropertyName, or "0x%04x" for PropertyId/PropertyTag */
	char type[32];
	char dist[32]; /* DistinguishedPropertySetId as sent, "" if PropertySetId/PropertyTag */
	bool by_id;    /* PropertyId (or PropertyTag) rather than PropertyName */
	bool tag;      /* PropertyTag form */
};
int ews_extpath_parse(xmlNodePtr uri, struct ews_extpath *out);

/* Which properties a shape asks for. */
#define EWS_MAX_EXT 16
struct ews_shape {
	uint64_t fields; /* bit per enum ews_field */
	struct ews_extpath ext[EWS_MAX_EXT];
	size_t next;
	bool all_ext; /* unused by Exchange; kept false */
};
/* ItemShape (BaseShape + AdditionalProperties) -> shape. */
void ews_shape_parse(xmlNodePtr item_shape, struct ews_shape *shape, bool sync_shape);

/* Writes t:CalendarItem for the item with the shape's properties, in schema order. */
void ews_write_item(struct ews_ctx *c, struct sim_mailbox *mb, const struct sim_item *it,
                    const struct ews_shape *shape);
void ews_write_item_id(struct ews_ctx *c, const struct sim_item *it);

/* Reads a t:CalendarItem from CreateItem into *out (a scratch item holding only fields: no ids),
 * with Exchange's defaults for what is absent. Returns NULL, or an error code (then *out holds
 * nothing). */
const char *ews_item_from_xml(struct ews_ctx *c, xmlNodePtr ci, struct sim_item *out);
/* Moves the content fields of a scratch item into a stored one (freeing the stored ones). */
void ews_item_take_fields(struct sim_item *dst, struct sim_item *src);
void ews_item_free_fields(struct sim_item *it);
/* Standard base64 (sync states, folder ids). */
char *ews_b64_encode(const void *data, size_t len);
unsigned char *ews_b64_decode(const char *s, size_t *len); /* NULL when not base64 */
/* Applies one ItemChange's updates. Returns NULL or an error code (item untouched on error). */
const char *ews_item_apply_updates(struct ews_ctx *c, xmlNodePtr updates, struct sim_item *it);
/* Item id well-formedness (ErrorInvalidIdMalformed). */
bool ews_id_well_formed(const char *id);

/* Folder ids: our own base64 encoding of (mailbox, folder). */
char *ews_folder_id(const char *smtp, const char *folder); /* caller frees */
/* Resolves a BaseFolderIdType element (FolderId or DistinguishedFolderId, with optional Mailbox) to
 * a mailbox and folder name. Returns NULL, or an error code (ErrorFolderNotFound, ErrorAccessDenied
 * ...). */
const char *ews_resolve_folder(struct ews_ctx *c, xmlNodePtr fid, struct sim_mailbox **mb,
                               char *folder, size_t folder_size);
/* Resolves an ItemId to an item in a mailbox the caller may access; error code or NULL. */
const char *ews_resolve_item(struct ews_ctx *c, xmlNodePtr item_id, struct sim_mailbox **mb,
                             struct sim_item **it);
bool ews_may_access(struct ews_ctx *c, struct sim_mailbox *mb);

/* A property's value for restrictions. */
enum ews_vkind { EWS_V_ABSENT, EWS_V_STRING, EWS_V_TIME, EWS_V_BOOL, EWS_V_STRINGS };
struct ews_value {
	enum ews_vkind kind;
	const char *s;
	int64_t n;
	char **list;
};
/* Returns 0, or -1 when the path cannot be used in a restriction (ErrorUnsupportedPathForQuery). */
int ews_item_value(const struct sim_item *it, xmlNodePtr path, struct ews_value *v);

/* Restriction evaluation (ews_find.c), used by FindItem. */
bool ews_restriction_matches(xmlNodePtr node, const struct sim_item *it, bool *unsupported);

/* ews.c: POST /_sim/ews/config {"change_key_churn": true}: every item GetItem returns gets a new
 * change key right after the answer, as Exchange Online's own calendar processing does
 * (OfficeDev/ews-managed-api#249). Off by default. */
bool ews_change_key_churn(void);

/* ---- operations ---- */
void ews_op_get_folder(struct ews_ctx *c);
void ews_op_create_item(struct ews_ctx *c);
void ews_op_get_item(struct ews_ctx *c);
void ews_op_update_item(struct ews_ctx *c);
void ews_op_delete_item(struct ews_ctx *c);
void ews_op_convert_id(struct ews_ctx *c);
void ews_op_find_item(struct ews_ctx *c);
void ews_op_sync_folder_items(struct ews_ctx *c);
void ews_op_find_folder(struct ews_ctx *c);

#endif
