/* The EWS backend's wire formats: every request builder against Microsoft's schema (libxml2 here,
 * element by element, and `m365sim --validate-ews` on the same requests, as the simulator checks a
 * live request), element order, time zones and all-day boundaries, escaping of hostile strings,
 * every recorded response in tests/data/ews (tests/data/README.md), the error table (and
 * docs/ews.md generated from it), and XXE / entity-expansion refusal.
 *
 *   build/tests/test_ews                  run the tests (inputs: tests/unit/testdata.h)
 *   build/tests/test_ews --error-table    print the Markdown table docs/ews.md carries */
#include "tap.h"
#include "testdata.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/tz.h"
#include "ews/ews.h"

#include <glob.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static xmlSchemaPtr schema;
static char req_dir[PATH_MAX];
static int req_count;

/* ---- helpers ---- */

static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void print_schema_error(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	printf("# schema: line %d: %s", e->line, e->message ? e->message : "?\n");
}

/* A recorded response of tests/data/ews; never NULL (a missing file is a failed test). */
static char *slurp(const char *name, size_t *len)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "tests/data/ews/%s", name);
	return read_src_file(rel, len);
}

/* The documentation samples' https:// SOAP namespace typo, repaired to read the rest of the file.
 */
static void fix_typo(char *s)
{
	char *p;

	while ((p = strstr(s, EWS_NS_SOAP_TYPO)) != NULL)
		memmove(p + 4, p + 5, strlen(p + 5) + 1); /* "https" -> "http" */
}

static xmlDocPtr parse_xml(const char *xml, size_t len)
{
	return xmlReadMemory(xml, (int)len, "req.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
}

static xmlNodePtr first_elem(xmlNodePtr n)
{
	while (n && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

static xmlNodePtr op_of(xmlDocPtr doc)
{
	xmlNodePtr body = ews_child(xmlDocGetRootElement(doc), EWS_NS_SOAP, "Body");
	return body ? first_elem(body->children) : NULL;
}

/* Validates every EWS header element and the operation against the schema; keeps a copy of the
 * request for m365sim --validate-ews at the end. Without a schema nothing is valid. */
static int schema_valid(const char *xml, size_t len, const char *what)
{
	xmlDocPtr doc = parse_xml(xml, len);
	int ok = doc != NULL && schema != NULL;

	if (doc && schema) {
		xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schema);
		xmlSchemaSetValidStructuredErrors(v, print_schema_error, NULL);
		xmlNodePtr header = ews_child(xmlDocGetRootElement(doc), EWS_NS_SOAP, "Header");
		for (xmlNodePtr h = header ? header->children : NULL; h; h = h->next)
			if (h->type == XML_ELEMENT_NODE && xmlSchemaValidateOneElement(v, h) != 0)
				ok = 0;
		if (!op_of(doc) || xmlSchemaValidateOneElement(v, op_of(doc)) != 0)
			ok = 0;
		xmlSchemaFreeValidCtxt(v);
	}
	if (doc)
		xmlFreeDoc(doc);
	char path[400];
	snprintf(path, sizeof(path), "%s/%02d-%s.xml", req_dir, ++req_count, what);
	FILE *f = fopen(path, "w");
	if (f) {
		fwrite(xml, 1, len, f);
		fclose(f);
	}
	return ok;
}

/* Local names of the element children of node, comma-separated. */
static void child_names(xmlNodePtr node, char *out, size_t outlen)
{
	out[0] = '\0';
	for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			snprintf(out + strlen(out), outlen - strlen(out), "%s%s", out[0] ? "," : "",
			         (const char *)c->name);
}

/* The first element named name anywhere under node (depth-first). */
static xmlNodePtr find(xmlNodePtr node, const char *name)
{
	for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, name) == 0)
			return c;
		xmlNodePtr r = find(c, name);
		if (r)
			return r;
	}
	return NULL;
}

static char *text_of(xmlNodePtr root, const char *name)
{
	return ews_node_text(find(root, name), false);
}

static char *attr_of(xmlNodePtr root, const char *elem, const char *attr)
{
	xmlNodePtr n = find(root, elem);
	char *v = n ? ews_attr_dup(n, attr) : NULL;
	return v ? v : xstrdup("(absent)");
}

static void make_event(struct event *ev, const char *key, bool all_day, const char *start,
                       const char *end, const char *zone)
{
	memset(ev, 0, sizeof(*ev));
	ev->sync_key = xstrdup(key);
	ev->subject = xstrdup("Out of office");
	ev->all_day = all_day;
	snprintf(ev->start, sizeof(ev->start), "%s", start);
	snprintf(ev->end, sizeof(ev->end), "%s", end);
	snprintf(ev->time_zone, sizeof(ev->time_zone), "%s", zone);
	ev->show_as = SHOW_OOF;
	ev->sensitivity = SENS_PRIVATE;
	ev->categories = xcalloc(3, sizeof(char *));
	ev->categories[0] = xstrdup("Leave");
	ev->categories[1] = xstrdup("HR");
	ev->reminder_minutes = -1;
}

static void free_event(struct event *ev)
{
	free(ev->sync_key);
	free(ev->subject);
	free(ev->body);
	for (size_t i = 0; ev->categories && ev->categories[i]; i++)
		free(ev->categories[i]);
	free(ev->categories);
	memset(ev, 0, sizeof(*ev));
}

static const struct ews_target target = {"Exchange2016", "alice@contoso.com"};

static char *build_create(struct event *ev, size_t *len)
{
	struct be_item it = {.mailbox = target.mailbox, .ev = ev};
	struct be_item *items[] = {&it};
	struct ews_zones z;
	struct error err = {{0}};

	if (ews_event_zones(ev, &z, &err) != 0) {
		printf("# %s\n", err.msg);
		return NULL;
	}
	return ews_build_create_items(&target, items, &z, 1, len);
}

/* ---- requests ---- */

static void test_create_all_day_zones(void)
{
	static const struct {
		const char *zone, *windows, *offset;
	} zones[] = {{"UTC", "UTC", "Z"},
	             {"America/Los_Angeles", "Pacific Standard Time", "-08:00"},
	             {"Europe/Riga", "FLE Standard Time", "+02:00"},
	             {"Asia/Kolkata", "India Standard Time", "+05:30"},
	             {"Pacific/Kiritimati", "Line Islands Standard Time", "+14:00"}};

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct event ev;
		size_t len;
		make_event(&ev, "k-all-day", true, "2026-12-24", "2026-12-31", zones[i].zone);
		char *xml = build_create(&ev, &len);
		ok(xml && schema_valid(xml, len, "create-allday"),
		   "create all-day in %s: schema-valid", zones[i].zone);
		xmlDocPtr doc = xml ? parse_xml(xml, len) : NULL;
		xmlNodePtr op = doc ? op_of(doc) : NULL;
		char *s = text_of(op, "Start"), *e = text_of(op, "End");
		char *sz = attr_of(op, "StartTimeZone", "Id"),
		     *ez = attr_of(op, "EndTimeZone", "Id");
		char want_s[40], want_e[40];
		snprintf(want_s, sizeof(want_s), "2026-12-24T00:00:00%s", zones[i].offset);
		snprintf(want_e, sizeof(want_e), "2026-12-31T00:00:00%s", zones[i].offset);
		is_str(s, want_s, "%s: Start is midnight of the first day, with its offset",
		       zones[i].zone);
		is_str(e, want_e, "%s: End is midnight after the last day, with its offset",
		       zones[i].zone);
		is_str(sz, zones[i].windows, "%s: StartTimeZone is the Windows id", zones[i].zone);
		is_str(ez, zones[i].windows, "%s: EndTimeZone is the Windows id", zones[i].zone);
		free(s), free(e), free(sz), free(ez);
		if (doc)
			xmlFreeDoc(doc);
		free(xml);
		free_event(&ev);
	}
}

static void test_create_shape(void)
{
	struct event ev;
	size_t len;
	char names[512];

	make_event(&ev, "3f2b6c1e-0d7a-4e55-9a61-2b8f7c9d0e14", false, "2026-03-29T01:30:00",
	           "2026-03-29T05:00:00", "Europe/Riga"); /* across the DST change at 03:00 local */
	ev.body = xstrdup("Back on Monday");
	char *xml = build_create(&ev, &len);
	ok(xml && schema_valid(xml, len, "create-timed-dst"),
	   "create timed across DST: schema-valid");
	xmlDocPtr doc = parse_xml(xml, len);
	xmlNodePtr root = xmlDocGetRootElement(doc), op = op_of(doc);
	child_names(find(op, "CalendarItem"), names, sizeof(names));
	is_str(names,
	       "Subject,Sensitivity,Body,Categories,ReminderIsSet,ExtendedProperty,Start,End,"
	       "IsAllDayEvent,LegacyFreeBusyStatus,StartTimeZone,EndTimeZone",
	       "CalendarItem elements in schema order");
	char *v;
	is_str(v = attr_of(op, "CreateItem", "SendMeetingInvitations"), "(absent)",
	       "(CreateItem is the op itself)");
	free(v);
	is_str(v = ews_attr_dup(op, "SendMeetingInvitations"), "SendToNone",
	       "SendMeetingInvitations=SendToNone");
	free(v);
	ok(ews_attr_dup(op, "MessageDisposition") == NULL,
	   "no MessageDisposition for calendar items");
	is_str(v = attr_of(op, "DistinguishedFolderId", "Id"), "calendar", "saved in the calendar");
	free(v);
	ok(find(find(op, "SavedItemFolderId"), "Mailbox") == NULL,
	   "of the impersonated mailbox: no Mailbox element (proxy addresses are not allowed "
	   "there)");
	is_str(v = text_of(op, "Start"), "2026-03-29T01:30:00+02:00",
	       "timed Start is the wall time with its offset (winter)");
	free(v);
	is_str(v = text_of(op, "End"), "2026-03-29T05:00:00+03:00",
	       "timed End is the wall time with its offset (summer, after the change)");
	free(v);
	is_str(v = attr_of(find(root, "TimeZoneContext"), "TimeZoneDefinition", "Id"),
	       "FLE Standard Time", "a TimeZoneContext names the leave's Windows zone");
	free(v);
	is_str(v = text_of(op, "IsAllDayEvent"), "false", "timed: IsAllDayEvent false");
	free(v);
	is_str(v = text_of(op, "LegacyFreeBusyStatus"), "OOF", "show as OOF");
	free(v);
	is_str(v = text_of(op, "Sensitivity"), "Private", "private");
	free(v);
	is_str(v = text_of(op, "ReminderIsSet"), "false", "no reminder");
	free(v);
	is_str(v = attr_of(op, "Body", "BodyType"), "Text", "plain-text body");
	free(v);
	is_str(v = attr_of(op, "ExtendedFieldURI", "PropertySetId"), LEAVESYNC_PROPSET_ID,
	       "sync key in our property set");
	free(v);
	is_str(v = attr_of(op, "ExtendedFieldURI", "PropertyName"), "LeaveSyncKey",
	       "named LeaveSyncKey");
	free(v);
	is_str(v = attr_of(op, "ExtendedFieldURI", "PropertyType"), "String", "of type String");
	free(v);
	is_str(v = text_of(find(op, "ExtendedProperty"), "Value"), ev.sync_key, "carrying the key");
	free(v);
	is_str(v = attr_of(root, "RequestServerVersion", "Version"), "Exchange2016",
	       "RequestServerVersion from config");
	free(v);
	is_str(v = text_of(find(root, "ExchangeImpersonation"), "SmtpAddress"), "alice@contoso.com",
	       "impersonates the mailbox by its SMTP address (any address of the account)");
	free(v);
	ok(strncmp(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38) == 0,
	   "UTF-8 declaration");
	ok(strstr(xml, "xmlns:soap=\"" EWS_NS_SOAP "\"") != NULL, "SOAP 1.1 namespace, http://");
	xmlFreeDoc(doc);
	free(xml);
	free_event(&ev);
}

static void test_create_rejects_bad_events(void)
{
	struct event ev;
	struct ews_zones z;
	struct error err = {{0}};

	make_event(&ev, "k", true, "2026-12-24", "2026-12-24", "Europe/Riga");
	ok(ews_event_zones(&ev, &z, &err) != 0 && strstr(err.msg, "ends"),
	   "an event ending when it starts is refused: %s", err.msg);
	snprintf(ev.end, sizeof(ev.end), "2026-12-25");
	snprintf(ev.time_zone, sizeof(ev.time_zone), "Mars/Olympus_Mons");
	ok(ews_event_zones(&ev, &z, &err) != 0 && strstr(err.msg, "Mars/Olympus_Mons"),
	   "an unknown zone is refused by name: %s", err.msg);
	snprintf(ev.time_zone, sizeof(ev.time_zone), "FLE Standard Time");
	ok(ews_event_zones(&ev, &z, &err) == 0 && strcmp(z.start, "FLE Standard Time") == 0,
	   "a Windows id (as read back from EWS) is written as is");
	free_event(&ev);
}

static void test_hostile_strings(void)
{
	const char *hostile = "<b>Tom & \"Jerry\"</b> ]]> it's <![CDATA[x]]> &amp; \x01"
	                      "end";
	const char *expected = "<b>Tom & \"Jerry\"</b> ]]> it's <![CDATA[x]]> &amp; end";
	struct event ev;
	size_t len;

	make_event(&ev, "k-hostile", true, "2026-07-01", "2026-07-02", "UTC");
	free(ev.subject);
	ev.subject = xstrdup(hostile);
	ev.body = xstrdup(hostile);
	free(ev.categories[0]);
	ev.categories[0] = xstrdup("a<b>&c");
	char *xml = build_create(&ev, &len);
	ok(xml && schema_valid(xml, len, "create-hostile"),
	   "hostile strings: request schema-valid");
	ok(xml && !strstr(xml, "<b>") && strstr(xml, "&lt;b&gt;Tom &amp; "),
	   "markup in the subject is escaped");
	xmlDocPtr doc = parse_xml(xml, len);
	char *s = text_of(op_of(doc), "Subject"), *b = text_of(op_of(doc), "Body");
	is_str(s, expected, "subject parses back identically (control character dropped)");
	is_str(b, expected, "body parses back identically");
	char *c = text_of(find(op_of(doc), "Categories"), "String");
	is_str(c, "a<b>&c", "category parses back identically");
	free(s), free(b), free(c);
	xmlFreeDoc(doc);
	free(xml);
	free_event(&ev);
}

static void update_request(struct event *ev, const struct event *written, const char *ck,
                           char **xml, size_t *len)
{
	struct be_item it = {.mailbox = target.mailbox,
	                     .ev = ev,
	                     .written = written,
	                     .remote_id = "AAMkAD=",
	                     .change_key = ck};
	struct be_item *items[] = {&it};
	struct ews_zones z;
	struct error err = {{0}};

	ews_event_zones(ev, &z, &err);
	*xml = ews_build_update_items(&target, items, &z, 1, len);
}

/* FieldURIs of the updates, "set:item:Subject,del:item:Body". */
static void update_paths(const char *xml, size_t len, char *out, size_t outlen)
{
	xmlDocPtr doc = parse_xml(xml, len);
	xmlNodePtr updates = find(op_of(doc), "Updates");

	out[0] = '\0';
	for (xmlNodePtr u = updates ? updates->children : NULL; u; u = u->next) {
		if (u->type != XML_ELEMENT_NODE)
			continue;
		xmlNodePtr path = first_elem(u->children);
		char *uri = ews_attr_dup(path, "FieldURI");
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s:%s", out[0] ? "," : "",
		         strcmp((const char *)u->name, "SetItemField") == 0 ? "set" : "del",
		         uri ? uri : "ext");
		free(uri);
	}
	xmlFreeDoc(doc);
}

static void test_update(void)
{
	struct event written, ev;
	char *xml, paths[1024], *v;
	size_t len;

	make_event(&written, "k-upd", true, "2026-08-03", "2026-08-08", "Europe/Riga");
	written.body = xstrdup("note");
	make_event(&ev, "k-upd", true, "2026-08-03", "2026-08-08", "Europe/Riga");
	free(ev.subject);
	ev.subject = xstrdup("Annual leave");

	update_request(&ev, &written, "CK1", &xml, &len);
	ok(schema_valid(xml, len, "update-subset"), "update of a subset: schema-valid");
	update_paths(xml, len, paths, sizeof(paths));
	is_str(paths, "set:item:Subject,del:item:Body",
	       "only the changed subject is set; the emptied body is deleted");
	xmlDocPtr doc = parse_xml(xml, len);
	is_str(v = ews_attr_dup(op_of(doc), "ConflictResolution"), "NeverOverwrite",
	       "with a ChangeKey: NeverOverwrite (stale key -> conflict)");
	free(v);
	is_str(v = ews_attr_dup(op_of(doc), "SendMeetingInvitationsOrCancellations"), "SendToNone",
	       "SendMeetingInvitationsOrCancellations=SendToNone");
	free(v);
	is_str(v = attr_of(op_of(doc), "ItemId", "ChangeKey"), "CK1",
	       "the stored ChangeKey is sent");
	free(v);
	xmlFreeDoc(doc);
	free(xml);

	snprintf(ev.end, sizeof(ev.end), "2026-08-10");
	update_request(&ev, &written, NULL, &xml, &len);
	ok(schema_valid(xml, len, "update-dates"), "update of dates without a key: schema-valid");
	update_paths(xml, len, paths, sizeof(paths));
	is_str(paths,
	       "set:calendar:StartTimeZone,set:calendar:EndTimeZone,set:item:Subject,del:item:Body,"
	       "set:calendar:Start,set:calendar:End,set:calendar:IsAllDayEvent",
	       "changed dates re-send both zones first, then Start, End, IsAllDayEvent");
	doc = parse_xml(xml, len);
	/* a SetItemField's CalendarItem carries Start alone: zone-less, it would be read in
	 * TimeZoneContext or UTC (time-zones-and-ews-in-exchange), never in StartTimeZone */
	is_str(v = text_of(find(op_of(doc), "Updates"), "Start"), "2026-08-03T00:00:00+03:00",
	       "an updated Start carries its offset (Riga summer)");
	free(v);
	is_str(v = text_of(find(op_of(doc), "Updates"), "End"), "2026-08-10T00:00:00+03:00",
	       "an updated End carries its offset");
	free(v);
	is_str(v = attr_of(xmlDocGetRootElement(doc), "TimeZoneDefinition", "Id"),
	       "FLE Standard Time", "the update names the zone in TimeZoneContext");
	free(v);
	is_str(v = ews_attr_dup(op_of(doc), "ConflictResolution"), "AlwaysOverwrite",
	       "without a ChangeKey: AlwaysOverwrite");
	free(v);
	is_str(v = attr_of(op_of(doc), "ItemId", "ChangeKey"), "(absent)",
	       "no ChangeKey attribute");
	free(v);
	xmlFreeDoc(doc);
	free(xml);

	ev.reminder_minutes = 30;
	update_request(&ev, NULL, "CK2", &xml, &len);
	ok(schema_valid(xml, len, "update-all"),
	   "update of everything (written NULL): schema-valid");
	update_paths(xml, len, paths, sizeof(paths));
	is_str(paths,
	       "set:calendar:StartTimeZone,set:calendar:EndTimeZone,set:item:Subject,"
	       "set:item:Sensitivity,del:item:Body,set:item:Categories,set:item:ReminderIsSet,"
	       "set:item:ReminderMinutesBeforeStart,set:ext,set:calendar:Start,set:calendar:End,"
	       "set:calendar:IsAllDayEvent,set:calendar:LegacyFreeBusyStatus",
	       "written NULL: every owned field");
	free(xml);
	free_event(&ev);
	free_event(&written);
}

static void test_delete_get_find(void)
{
	struct be_item a = {.mailbox = target.mailbox, .remote_id = "AAMk1="},
	               b = {.mailbox = target.mailbox, .remote_id = "AAMk2=", .change_key = "CK"};
	struct be_item *items[] = {&a, &b};
	size_t len;
	char *v;

	char *xml = ews_build_delete_items(&target, items, 2, &len);
	ok(schema_valid(xml, len, "delete"), "delete of two items: schema-valid");
	xmlDocPtr doc = parse_xml(xml, len);
	is_str(v = ews_attr_dup(op_of(doc), "DeleteType"), "HardDelete", "HardDelete");
	free(v);
	is_str(v = ews_attr_dup(op_of(doc), "SendMeetingCancellations"), "SendToNone",
	       "SendMeetingCancellations=SendToNone");
	free(v);
	xmlFreeDoc(doc);
	free(xml);

	const char *ids[] = {"AAMk1=", "AAMk2="};
	xml = ews_build_get_item(&target, ids, 2, &len);
	ok(schema_valid(xml, len, "getitem"), "GetItem of two ids: schema-valid");
	ok(strstr(xml, "calendar:StartTimeZone") && strstr(xml, "item:Body") &&
	       strstr(xml, LEAVESYNC_PROPSET_ID),
	   "GetItem asks for zones, body and the sync key");
	free(xml);

	const char *keys[] = {"key-1", "key-2\"<&>", "key-3"};
	xml = ews_build_find_by_keys(&target, keys, 3, 0, &len);
	ok(schema_valid(xml, len, "finditem-keys"), "FindItem by three keys: schema-valid");
	doc = parse_xml(xml, len);
	ok(find(op_of(doc), "Or") != NULL, "an Or of IsEqualTo");
	is_str(v = attr_of(find(op_of(doc), "Or")->children->next, "Constant", "Value"),
	       "key-2\"<&>", "hostile key round-trips");
	free(v);
	xmlFreeDoc(doc);
	free(xml);
	xml = ews_build_find_by_keys(&target, keys, 1, 250, &len);
	ok(schema_valid(xml, len, "finditem-key"), "FindItem by one key (page 2): schema-valid");
	free(xml);

	xml = ews_build_calendar_view(&target, 1798761600, 1830297600, 500, &len);
	ok(schema_valid(xml, len, "finditem-calendarview"), "FindItem CalendarView: schema-valid");
	doc = parse_xml(xml, len);
	is_str(v = attr_of(op_of(doc), "CalendarView", "StartDate"), "2027-01-01T00:00:00Z",
	       "view start in UTC");
	free(v);
	ok(find(op_of(doc), "Restriction") == NULL, "no Restriction with a CalendarView");
	xmlFreeDoc(doc);
	free(xml);

	xml = ews_build_get_folder(&target, &len);
	ok(schema_valid(xml, len, "getfolder"), "GetFolder calendar: schema-valid");
	free(xml);
}

/* The simulator validates the same requests as it validates live ones: m365sim --validate-ews, the
 * binary next to this test's directory (build/m365sim for build/tests/test_ews). */
static void test_simulator_validates(void)
{
	char sim[PATH_MAX + 16], pattern[PATH_MAX + 16];
	glob_t g = {0};

	snprintf(sim, sizeof(sim), "%s/../m365sim", exe_dir());
	snprintf(pattern, sizeof(pattern), "%s/*.xml", req_dir);
	if (access(sim, X_OK) != 0) {
		ok(0, "m365sim built at %s (make all)", sim);
		return;
	}
	if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc != (size_t)req_count) {
		ok(0, "the %d generated requests were written to %s (found %zu)", req_count,
		   req_dir, g.gl_pathc);
		globfree(&g);
		return;
	}
	char **argv = xcalloc(g.gl_pathc + 4, sizeof(char *));
	argv[0] = sim;
	argv[1] = "--validate-ews";
	argv[2] = "-q";
	for (size_t i = 0; i < g.gl_pathc; i++)
		argv[3 + i] = g.gl_pathv[i];
	pid_t pid;
	int status = -1;
	fflush(stdout);
	if (posix_spawn(&pid, sim, NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) != pid)
		status = -1;
	ok(status == 0, "m365sim --validate-ews accepts all %d generated requests (wait status %d)",
	   req_count, status);
	free(argv);
	globfree(&g);
}

/* ---- responses ---- */

static void test_create_responses(void)
{
	struct error err = {{0}};
	struct be_item it[3];
	struct be_item *items[] = {&it[0], &it[1], &it[2]};
	size_t len;
	char *x = slurp("createitem-calendar-response.xml", &len);

	memset(it, 0, sizeof(it));
	is_int(ews_parse_create_response(x, len, items, 1, &err), BE_OK, "create response parsed");
	is_int(it[0].status, BE_OK, "item created");
	is_str(it[0].new_remote_id, "AAAlAFV", "new id");
	is_str(it[0].new_change_key, "DwAAABYA", "new change key");
	be_item_clear(&it[0]);
	is_int(ews_parse_create_response(x, len, items, 2, &err), BE_RETRY_NOW,
	       "1 message for 2 items: all retried");
	ok(it[1].status == BE_RETRY_NOW && strstr(it[1].message, "1 response messages"),
	   "count mismatch says so: %s", it[1].message);
	free(x);

	x = slurp("createitem-batch-calendar-response.xml", &len);
	is_int(ews_parse_create_response(x, len, items, 3, &err), BE_RETRY_NOW,
	       "https:// envelope typo refused");
	ok(strstr(err.msg, "https://schemas.xmlsoap.org") && strstr(err.msg, "typo"),
	   "with a clear error: %s", err.msg);
	fix_typo(x);
	is_int(ews_parse_create_response(x, strlen(x), items, 3, &err), BE_OK,
	       "repaired: 3 results");
	ok(it[2].status == BE_OK && it[2].new_remote_id, "third item has its id");
	for (int i = 0; i < 3; i++)
		be_item_clear(&it[i]);
	free(x);
}

static void test_update_delete_responses(void)
{
	struct error err = {{0}};
	struct be_item it[3];
	struct be_item *items[] = {&it[0], &it[1], &it[2]};
	size_t len;

	memset(it, 0, sizeof(it));
	it[0].remote_id = "other-id";
	char *x = slurp("updateitem-response.xml", &len);
	is_int(ews_parse_update_response(x, len, items, 1, &err), BE_OK, "update response parsed");
	ok(it[0].status == BE_OK && it[0].new_change_key, "new change key read");
	free(x);
	be_item_clear(&it[0]);

	x = slurp("updateitem-batch-calendar-response.xml", &len);
	fix_typo(x);
	is_int(ews_parse_update_response(x, strlen(x), items, 3, &err), BE_OK, "batch update: 3");
	free(x);
	for (int i = 0; i < 3; i++)
		be_item_clear(&it[i]);

	x = slurp("deleteitem-error-itemnotfound-response.xml", &len);
	is_int(ews_parse_delete_response(x, len, items, 1, &err), BE_OK, "delete response parsed");
	is_int(it[0].status, BE_GONE, "ErrorItemNotFound -> gone (delete counts as done)");
	ok(strstr(it[0].message, "ErrorItemNotFound") != NULL, "message names the code: %s",
	   it[0].message);
	free(x);

	x = slurp("deleteitem-batch-error-itemnotfound-response.xml", &len);
	fix_typo(x);
	is_int(ews_parse_delete_response(x, strlen(x), items, 3, &err), BE_OK,
	       "batch delete parsed");
	ok(it[0].status == BE_GONE && it[1].status == BE_GONE && it[2].status == BE_GONE,
	   "batch delete of deleted items: each one gone (done)");
	free(x);

	x = slurp("deleteitem-error-internalservererror-inner-response.xml", &len);
	ews_parse_delete_response(x, len, items, 1, &err);
	ok(strstr(it[0].message, "ErrorQuotaExceededOnDelete") != NULL,
	   "ErrorInternalServerError unwrapped to its inner code: %s", it[0].message);
	free(x);

	x = slurp("soapfault-errorserverbusy-backoff-response.xml", &len);
	is_int(ews_parse_create_response(x, len, items, 2, &err), BE_RETRY_LATER,
	       "ErrorServerBusy fault: throttled");
	is_int(it[1].retry_after_ms, 297749, "BackOffMilliseconds honoured for every item");
	free(x);
	x = slurp("soapfault-errorschemavalidation-response.xml", &len);
	is_int(ews_parse_create_response(x, len, items, 1, &err), BE_FINAL,
	       "ErrorSchemaValidation fault: final");
	ok(strstr(err.msg, "ErrorSchemaValidation") && strstr(err.msg, "bug"), "says so: %s",
	   err.msg);
	free(x);
	x = slurp("soapfault-errorschemavalidation-exchange2007-response.xml", &len);
	is_int(ews_parse_create_response(x, len, items, 1, &err), BE_FINAL,
	       "Exchange 2007 fault (soap:faultcode) read by its detail code");
	ok(strstr(err.msg, "ErrorSchemaValidation") != NULL, "%s", err.msg);
	free(x);
	x = slurp("soapfault-errorincorrectschemaversion-response.xml", &len);
	ews_parse_create_response(x, len, items, 1, &err);
	ok(strstr(err.msg, "server_version") != NULL,
	   "wrong version: fix names [ews] server_version");
	free(x);
}

static void test_get_find_responses(void)
{
	struct error err = {{0}};
	struct ews_read_list l = {0};
	size_t len;
	char *x = slurp("getitem-calendar-allproperties-response.xml", &len);

	is_int(ews_parse_get_response(x, len, 1, &l, &err), BE_OK, "GetItem AllProperties parsed");
	ok(l.n == 1 && l.v[0].status == BE_OK, "one item");
	if (l.n == 1) {
		struct event *ev = &l.v[0].re.ev;
		is_str(l.v[0].re.remote_id, "ASUAdT",
		       "its id (not a nested ConflictingMeetings id)");
		is_str(ev->start, "2006-06-16T00:30:00", "no StartTimeZone: UTC wall time");
		ok(tz_same_zone(ev->time_zone, "UTC"), "zone UTC (%s)", ev->time_zone);
		is_int(ev->show_as, SHOW_BUSY, "Busy");
		is_int(ev->reminder_minutes, 15, "reminder 15 minutes");
		ok(ev->sync_key == NULL, "untagged");
	}
	ews_read_list_free(&l);
	free(x);

	x = slurp("getitem-batch-calendar-response.xml", &len);
	fix_typo(x);
	is_int(ews_parse_get_response(x, strlen(x), 3, &l, &err), BE_OK, "GetItem batch parsed");
	ok(l.n == 3 && strcmp(l.v[2].re.ev.subject, "Code Blast") == 0, "third subject in order");
	ews_read_list_free(&l);
	free(x);

	x = slurp("getitem-partial-failure-fragment-response.xml", &len);
	is_int(ews_parse_get_response(x, len, 2, &l, &err), BE_OK, "fragment (no envelope) parsed");
	ok(l.n == 2 && l.v[0].status == BE_OK && l.v[1].status == BE_GONE,
	   "partial failure: first read, second gone");
	ews_read_list_free(&l);
	free(x);

	static const char *const singles[] = {"getitem-calendar-idonly-response.xml",
	                                      "getitem-calendar-default-response.xml",
	                                      "getitem-calendar-subject-response.xml"};
	for (size_t i = 0; i < 3; i++) {
		x = slurp(singles[i], &len);
		fix_typo(x);
		is_int(ews_parse_get_response(x, strlen(x), 1, &l, &err), BE_OK, "%s parsed",
		       singles[i]);
		ok(l.n == 1 && l.v[0].re.remote_id, "%s: id read", singles[i]);
		ews_read_list_free(&l);
		free(x);
	}

	x = slurp("finditem-calendarview-response.xml", &len);
	fix_typo(x);
	is_int(ews_parse_find_response(x, strlen(x), &l, &err), BE_OK, "CalendarView parsed");
	ok(l.n == 5 && !l.includes_last && l.total == 33, "5 of 33, IncludesLastItemInRange=false");
	ews_read_list_free(&l);
	free(x);

	x = slurp("finditem-restriction-extendedproperty-response.xml", &len);
	fix_typo(x);
	is_int(ews_parse_find_response(x, strlen(x), &l, &err), BE_OK, "restriction result parsed");
	ok(l.n == 3 && l.includes_last && l.v[0].re.ev.sync_key == NULL,
	   "another app's extended property is not our tag");
	ews_read_list_free(&l);
	free(x);

	x = slurp("finditem-response.xml", &len);
	is_int(ews_parse_find_response(x, len, &l, &err), BE_OK, "FindItem parsed");
	ews_read_list_free(&l);
	free(x);

	x = slurp("finditem-error-invalididmalformed-response.xml", &len);
	is_int(ews_parse_find_response(x, len, &l, &err), BE_FINAL,
	       "ErrorInvalidIdMalformed: final");
	is_str(l.error_code, "ErrorInvalidIdMalformed", "code kept for the caller");
	ews_read_list_free(&l);
	free(x);

	x = slurp("getfolder-calendar-response.xml", &len);
	is_int(ews_parse_get_folder_response(x, len, &err), BE_RETRY_NOW, "https typo refused");
	fix_typo(x);
	is_int(ews_parse_get_folder_response(x, strlen(x), &err), BE_OK, "GetFolder parsed");
	free(x);

	x = slurp("syncfolderitems-response.xml", &len);
	is_int(ews_parse_find_response(x, len, &l, &err), BE_RETRY_NOW,
	       "a SyncFolderItems answer to a FindItem is refused");
	ok(strstr(err.msg, "SyncFolderItemsResponse") != NULL, "naming what came: %s", err.msg);
	ews_read_list_free(&l);
	free(x);
}

/* Every response file: parsed generically (or the https typo refused, then read once repaired), its
 * messages mapped; calendar items under SyncFolderItems changes read through the field table. */
static void test_every_response_file(void)
{
	static const struct {
		const char *file, *op;
		long messages; /* -1: a fault */
		enum be_status first;
	} files[] = {
	    {"createitem-appointment-response.xml", "CreateItem", 1, BE_OK},
	    {"createitem-impersonation-response.xml", "CreateItem", 1, BE_OK},
	    {"deleteitem-batch-response.xml", "DeleteItem", 3, BE_OK},
	    {"deleteitem-calendar-response.xml", "DeleteItem", 1, BE_OK},
	    {"deleteitem-response.xml", "DeleteItem", 1, BE_OK},
	    {"updateitem-calendar-response.xml", "UpdateItem", 1, BE_OK},
	    {"exportitems-mixed-errors-response.xml", "ExportItems", 3, BE_OK},
	    {"findfolder-error-toomanyobjectsopened-response.xml", "FindFolder", 1, BE_RETRY_LATER},
	    {"syncfolderitems-response.xml", "SyncFolderItems", 1, BE_OK},
	    {"syncfolderitems-initial-response.xml", "SyncFolderItems", 1, BE_OK},
	    {"syncfolderitems-changes-response.xml", "SyncFolderItems", 1, BE_OK},
	    {"syncfolderitems-error-invalidsyncstatedata-response.xml", "SyncFolderItems", 1,
	     BE_FINAL},
	    {"soapfault-errorschemavalidation-2-response.xml", "CreateItem", -1, BE_FINAL},
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct error err = {{0}};
		struct ews_response r;
		struct ews_message *msgs = NULL;
		size_t len;
		char *x = slurp(files[i].file, &len);
		int rc = ews_response_parse(x, len, files[i].op, &r, &err);
		if (strstr(x, EWS_NS_SOAP_TYPO)) {
			ok(rc != 0 && strstr(err.msg, "typo"), "%s: https typo refused clearly",
			   files[i].file);
			ews_response_free(&r);
			fix_typo(x);
			rc = ews_response_parse(x, strlen(x), files[i].op, &r, &err);
		}
		ok(rc == 0, "%s parsed %s", files[i].file, err.msg);
		if (rc == 0 && files[i].messages < 0) {
			int retry;
			ok(r.fault && ews_fault_status(&r, &retry, &err) == files[i].first,
			   "%s: fault %s mapped", files[i].file, r.code);
		} else if (rc == 0) {
			long n = ews_response_messages(&r, &msgs, &err);
			ok(n == files[i].messages && msgs[0].status == files[i].first,
			   "%s: %ld messages, first %s", files[i].file, n,
			   n > 0 ? be_status_name(msgs[0].status) : "-");
			if (n == 3 && strcmp(files[i].op, "ExportItems") == 0)
				ok(msgs[1].status == BE_CONFLICT && msgs[2].status == BE_FINAL &&
				       msgs[2].info && (msgs[2].info->flags & EWS_ERR_MAILBOX),
				   "mixed errors: invalid change key -> conflict; no mailbox -> "
				   "final, "
				   "mailbox-wide");
			xmlNodePtr changes =
			    n > 0 ? ews_child(msgs[0].node, EWS_NS_MESSAGES, "Changes") : NULL;
			int read = 0, items = 0;
			for (xmlNodePtr c = changes ? changes->children : NULL; c; c = c->next) {
				xmlNodePtr it =
				    c->type == XML_ELEMENT_NODE ? first_elem(c->children) : NULL;
				if (!it || !ews_is(it, EWS_NS_TYPES, "CalendarItem"))
					continue;
				struct remote_event re = {0};
				items++;
				read += ews_calendar_item_read(it, &re, &err) == 0 && re.remote_id;
				remote_event_free(&re);
			}
			if (items)
				is_int(read, items, "%s: every changed CalendarItem read",
				       files[i].file);
		}
		free(msgs);
		ews_response_free(&r);
		free(x);
	}
}

static const char *xxe =
    "<?xml version=\"1.0\"?>\n<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
    "<m:GetItemResponse xmlns:m=\"" EWS_NS_MESSAGES "\" xmlns:t=\"" EWS_NS_TYPES "\">"
    "<m:ResponseMessages><m:GetItemResponseMessage ResponseClass=\"Success\">"
    "<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:CalendarItem><t:ItemId Id=\"a\"/>"
    "<t:Subject>&x;</t:Subject></t:CalendarItem></m:Items></m:GetItemResponseMessage>"
    "</m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>";

static const char *laughs =
    "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
    "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
    "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
    "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">"
    "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">"
    "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">"
    "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">"
    "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">"
    "<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">]>\n"
    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
    "<m:GetItemResponse xmlns:m=\"" EWS_NS_MESSAGES "\" xmlns:t=\"" EWS_NS_TYPES "\">"
    "<m:ResponseMessages><m:GetItemResponseMessage ResponseClass=\"Success\">"
    "<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:CalendarItem><t:ItemId Id=\"a\"/>"
    "<t:Subject>&lol9;</t:Subject></t:CalendarItem></m:Items></m:GetItemResponseMessage>"
    "</m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>";

static void test_hostile_responses(void)
{
	struct error err = {{0}};
	struct ews_read_list l = {0};

	is_int(ews_parse_get_response(xxe, strlen(xxe), 1, &l, &err), BE_RETRY_NOW,
	       "external entity (file:///etc/passwd) refused");
	ok(strstr(err.msg, "DOCTYPE") != NULL && l.n == 0, "naming the DOCTYPE: %s", err.msg);
	ews_read_list_free(&l);
	int64_t t0 = now_ms();
	is_int(ews_parse_get_response(laughs, strlen(laughs), 1, &l, &err), BE_RETRY_NOW,
	       "billion laughs refused");
	ok(now_ms() - t0 < 2000 && l.n == 0, "without expanding it");
	ews_read_list_free(&l);
	const char *html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
	is_int(ews_parse_get_response(html, strlen(html), 1, &l, &err), BE_RETRY_NOW,
	       "an HTML page is retried");
	ok(strstr(err.msg, "html") != NULL, "naming what came: %s", err.msg);
	ews_read_list_free(&l);
	const char *truncated =
	    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Bo";
	is_int(ews_parse_get_response(truncated, strlen(truncated), 1, &l, &err), BE_RETRY_NOW,
	       "a truncated body is retried");
	ok(strstr(err.msg, "not well-formed") != NULL, "%s", err.msg);
	ews_read_list_free(&l);
}

/* A GetItem answer as Exchange writes it: UTC times, the item's zones, our tag (GUID upper case).
 */
static char *item_response(const char *start, const char *end, const char *zone, bool all_day)
{
	struct buf b = BUF_INIT;

	buf_printf(&b,
	           "<s:Envelope xmlns:s=\"" EWS_NS_SOAP
	           "\"><s:Body><m:GetItemResponse xmlns:m=\"" EWS_NS_MESSAGES
	           "\" xmlns:t=\"" EWS_NS_TYPES "\"><m:ResponseMessages><m:GetItemResponseMessage "
	           "ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Items>"
	           "<t:CalendarItem><t:ItemId Id=\"AAMkA+/=\" ChangeKey=\"DwAAA\"/>"
	           "<t:Subject>Out of office</t:Subject><t:Sensitivity>Private</t:Sensitivity>"
	           "<t:Body BodyType=\"Text\"></t:Body><t:Categories><t:String>Leave</t:String>"
	           "</t:Categories><t:ReminderIsSet>false</t:ReminderIsSet><t:ExtendedProperty>"
	           "<t:ExtendedFieldURI PropertySetId=\"0C6F5A4E-8D1B-4C39-9E2A-5B7D3F1A6C20\" "
	           "PropertyName=\"LeaveSyncKey\" PropertyType=\"String\"/><t:Value>key-1</t:Value>"
	           "</t:ExtendedProperty><t:Start>%s</t:Start><t:End>%s</t:End>"
	           "<t:IsAllDayEvent>%s</t:IsAllDayEvent><t:LegacyFreeBusyStatus>OOF"
	           "</t:LegacyFreeBusyStatus><t:StartTimeZone Id=\"%s\" Name=\"x\"/><t:EndTimeZone "
	           "Id=\"%s\"/></t:CalendarItem></m:Items></m:GetItemResponseMessage>"
	           "</m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>",
	           start, end, all_day ? "true" : "false", zone, zone);
	return buf_steal(&b);
}

/* Writes ev, plays Exchange (local wall time in the zone -> UTC "Z"), reads it back. */
static void test_round_trip(const char *zone, bool all_day, const char *start, const char *end)
{
	struct event ev;
	struct ews_zones z;
	struct error err = {{0}};
	int64_t ts, te;
	char us[21], ue[21];

	make_event(&ev, "key-1", all_day, start, end, zone);
	free(ev.categories[1]);
	ev.categories[1] = NULL;
	ews_event_zones(&ev, &z, &err);
	tz_local_to_unix(start, zone, &ts);
	tz_local_to_unix(end, zone, &te);
	format_utc(us, ts);
	format_utc(ue, te);
	char *x = item_response(us, ue, z.start, all_day);
	struct ews_read_list l = {0};
	is_int(ews_parse_get_response(x, strlen(x), 1, &l, &err), BE_OK, "%s %s read back", zone,
	       all_day ? "all-day" : "timed");
	if (l.n == 1) {
		struct event *got = &l.v[0].re.ev;
		is_str(got->start, start, "%s: start %s (wire %s)", zone, start, us);
		is_str(got->end, end, "%s: end %s (wire %s), exclusive", zone, end, ue);
		ok(tz_same_zone(got->time_zone, zone), "%s: zone read as %s", zone, got->time_zone);
		ok(got->all_day == all_day && got->show_as == SHOW_OOF &&
		       got->sensitivity == SENS_PRIVATE && got->reminder_minutes == -1 &&
		       got->body == NULL && got->categories && !strcmp(got->categories[0], "Leave"),
		   "%s: owned fields read", zone);
		is_str(got->sync_key, "key-1", "%s: tag read (GUID compared without case)", zone);
		is_str(l.v[0].re.remote_id, "AAMkA+/=", "id kept byte-exact");
	}
	ews_read_list_free(&l);
	free(x);
	free_event(&ev);
}

/* ---- the error table and docs/ews.md ---- */

static void test_error_table(void)
{
	size_t n;
	const struct ews_error_info *t = ews_error_table(&n);
	struct buf md = BUF_INIT;
	char *doc = NULL;
	size_t len;

	is_int(ews_error_lookup("ErrorServerBusy")->status, BE_RETRY_LATER, "ServerBusy: later");
	is_int(ews_error_lookup("ErrorItemNotFound")->status, BE_GONE, "ItemNotFound: gone");
	is_int(ews_error_lookup("ErrorIrresolvableConflict")->status, BE_CONFLICT,
	       "IrresolvableConflict: conflict");
	is_int(ews_error_lookup("ErrorInternalServerError")->status, BE_RETRY_NOW, "500: retry");
	ok(ews_error_lookup("ErrorImpersonateUserDenied")->flags & EWS_ERR_MAILBOX,
	   "ImpersonateUserDenied concerns the mailbox");
	is_int(ews_error_lookup("ErrorNobodyKnows")->status, BE_FINAL, "unknown code: final");
	bool complete = true;
	for (size_t i = 0; i < n; i++)
		complete = complete && t[i].meaning[0] && t[i].fix[0];
	ok(complete, "every entry has a meaning and a fix");
	ews_error_table_markdown(&md);
	doc = read_src_file("docs/ews.md", &len);
	ok(md.data && strstr(doc, md.data),
	   "docs/ews.md carries the error table exactly as generated "
	   "(regenerate: build/tests/test_ews --error-table)");
	free(doc);
	buf_free(&md);
}

/* Exchange Server versions (issue 18): the build decides RequestServerVersion; 2010 is refused. */
static void test_server_versions(void)
{
	int major = 0, minor = 0, build = 0;
	size_t len = 0;

	ok(strcmp(ews_version_of_build(15, 1, 2507), "Exchange2016") == 0 &&
	       strcmp(ews_version_of_build(15, 2, 1544), "Exchange2016") == 0 &&
	       strcmp(ews_version_of_build(15, 20, 8769), "Exchange2016") == 0,
	   "Exchange 2016, 2019/SE and Exchange Online speak Exchange2016");
	ok(strcmp(ews_version_of_build(15, 0, 847), "Exchange2013_SP1") == 0 &&
	       strcmp(ews_version_of_build(15, 0, 620), "Exchange2013") == 0,
	   "Exchange 2013 is SP1 from build 847");
	ok(!ews_version_of_build(14, 3, 513) && !ews_version_of_build(8, 3, 0),
	   "Exchange 2010 and 2007: none (refused)");
	ok(ews_server_version_info("<s:Header><h:ServerVersionInfo MajorVersion=\"15\" "
	                           "MinorVersion=\"0\" MajorBuildNumber=\"1497\" "
	                           "MinorBuildNumber=\"2\"/></s:Header>",
	                           &major, &minor, &build) == 0 &&
	       major == 15 && minor == 0 && build == 1497,
	   "ServerVersionInfo read from a response header");
	ok(ews_server_version_info("<s:Envelope><s:Body/></s:Envelope>", &major, &minor, &build) <
	       0,
	   "a response without ServerVersionInfo: nothing learned");
	char *b = ews_with_version("<h><t:RequestServerVersion Version=\"Exchange2016\"/></h>",
	                           "Exchange2013_SP1", &len);
	ok(b && strcmp(b, "<h><t:RequestServerVersion Version=\"Exchange2013_SP1\"/></h>") == 0 &&
	       len == strlen(b),
	   "a request's RequestServerVersion rewritten for the server's version");
	free(b);
	ok(!ews_with_version("<h/>", "Exchange2016", &len),
	   "no RequestServerVersion: nothing to rewrite");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--error-table") == 0) {
		struct buf md = BUF_INIT;
		ews_error_table_markdown(&md);
		fputs(md.data, stdout);
		buf_free(&md);
		return 0;
	}
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, quiet);
	char xsd[PATH_MAX + 64];
	src_path(xsd, sizeof(xsd), "tools/m365sim/schema/libxml2/ews.xsd");
	xmlSchemaParserCtxtPtr pc = access(xsd, R_OK) == 0 ? xmlSchemaNewParserCtxt(xsd) : NULL;
	schema = pc ? xmlSchemaParse(pc) : NULL;
	xmlSchemaFreeParserCtxt(pc);
	ok(schema != NULL, "EWS schema loaded from %s", xsd);
	snprintf(req_dir, sizeof(req_dir), "%s", trash_dir());

	test_create_all_day_zones();
	test_create_shape();
	test_create_rejects_bad_events();
	test_hostile_strings();
	test_update();
	test_delete_get_find();
	test_simulator_validates();
	test_create_responses();
	test_update_delete_responses();
	test_get_find_responses();
	test_every_response_file();
	test_hostile_responses();
	test_server_versions();
	test_round_trip("Europe/Riga", true, "2026-12-24", "2026-12-31");
	test_round_trip("America/Los_Angeles", true, "2026-03-06", "2026-03-10"); /* DST 8 March */
	test_round_trip("Asia/Kolkata", true, "2026-05-01", "2026-05-02");
	test_round_trip("Pacific/Kiritimati", true, "2026-12-24", "2026-12-25");
	test_round_trip("UTC", true, "2026-01-01", "2026-01-02");
	test_round_trip("Europe/Riga", false, "2026-03-29T01:30:00", "2026-03-29T05:00:00");
	test_error_table();

	if (schema)
		xmlSchemaFree(schema);
	xmlCleanupParser();
	trash_cleanup(tap_failed == 0);
	return done_testing();
}
