/* One builder per EWS operation leavesync sends ([EWS ref] pages named below). Attribute and
 * element order follows messages.xsd; every builder's output passes the schema and the simulator's
 * request validation, m365sim --validate-ews (tests/unit/test_ews.c). */
#include "ews/ews.h"

#include "common/util.h"

#include <stdio.h>

/* CreateItem of calendar items in the mailbox's calendar
 * ([EWS ref createitem-operation-calendar-item]). SendMeetingInvitations is required in practice
 * for calendar items (ErrorSendMeetingInvitationsRequired, [EWS ref responsecode]); leave has no
 * attendees, so SendToNone. MessageDisposition applies to e-mail only and is left out. */
char *ews_build_create_items(const struct ews_target *tg, struct be_item *const *items,
                             const struct ews_zones *zones, size_t n, size_t *len)
{
	struct ews_request r;

	ews_request_start(&r, tg->server_version, tg->mailbox, n ? zones[0].start : NULL,
	                  "CreateItem");
	ews_set_attr(r.op, "SendMeetingInvitations", "SendToNone");
	ews_add_calendar_folder(ews_add(r.op, r.m, "SavedItemFolderId", NULL), r.t);
	xmlNodePtr list = ews_add(r.op, r.m, "Items", NULL);
	for (size_t i = 0; i < n; i++)
		ews_calendar_item_write(list, r.t, items[i]->ev, &zones[i]);
	return ews_request_finish(&r, len);
}

/* UpdateItem ([EWS ref updateitem-operation], [EWS ews-identifiers-in-exchange]). With a ChangeKey:
 * NeverOverwrite, so a stale key fails with ErrorIrresolvableConflict and the engine re-reads the
 * item and records drift before rewriting. The engine's deliberate overwrite after that re-read
 * (be_item.overwrite), or an item without a key: AlwaysOverwrite, with the last key read still sent
 * (the responsecode page says a key is required even then; AlwaysOverwrite wins when Exchange moved
 * it again). */
char *ews_build_update_items(const struct ews_target *tg, struct be_item *const *items,
                             const struct ews_zones *zones, size_t n, size_t *len)
{
	struct ews_request r;
	bool all_keyed = true;

	for (size_t i = 0; i < n; i++)
		all_keyed = all_keyed && items[i]->change_key && !items[i]->overwrite;
	ews_request_start(&r, tg->server_version, tg->mailbox, n ? zones[0].start : NULL,
	                  "UpdateItem");
	/* ConflictResolution is per request; the backend never mixes keyed and unkeyed items. */
	ews_set_attr(r.op, "ConflictResolution", all_keyed ? "NeverOverwrite" : "AlwaysOverwrite");
	ews_set_attr(r.op, "SendMeetingInvitationsOrCancellations", "SendToNone");
	xmlNodePtr changes = ews_add(r.op, r.m, "ItemChanges", NULL);
	for (size_t i = 0; i < n; i++) {
		const struct be_item *it = items[i];
		xmlNodePtr change = ews_add(changes, r.t, "ItemChange", NULL);
		xmlNodePtr id = ews_add(change, r.t, "ItemId", NULL);
		ews_set_attr(id, "Id", it->remote_id);
		if (it->change_key)
			ews_set_attr(id, "ChangeKey", it->change_key);
		xmlNodePtr updates = ews_add(change, r.t, "Updates", NULL);
		if (ews_calendar_updates_write(updates, r.t, it->ev, it->written, &zones[i]) == 0)
			/* Updates needs one change: rewrite everything rather than send an empty
			 * set. */
			ews_calendar_updates_write(updates, r.t, it->ev, NULL, &zones[i]);
	}
	return ews_request_finish(&r, len);
}

/* DeleteItem ([EWS ref deleteitem-operation]). HardDelete, not MoveToDeletedItems: a cancelled
 * leave must not linger in the user's Deleted Items, where it keeps our tag under a new Id and a
 * "restore" would bring it back as an event leavesync no longer tracks; HardDelete still leaves it
 * recoverable by admins until retention expires. The ChangeKey is optional for deletes and left
 * out, so that a server-side key bump cannot block a cancellation. */
char *ews_build_delete_items(const struct ews_target *tg, struct be_item *const *items, size_t n,
                             size_t *len)
{
	struct ews_request r;

	ews_request_start(&r, tg->server_version, tg->mailbox, NULL, "DeleteItem");
	ews_set_attr(r.op, "DeleteType", "HardDelete");
	ews_set_attr(r.op, "SendMeetingCancellations", "SendToNone");
	xmlNodePtr ids = ews_add(r.op, r.m, "ItemIds", NULL);
	for (size_t i = 0; i < n; i++)
		ews_set_attr(ews_add(ids, r.t, "ItemId", NULL), "Id", items[i]->remote_id);
	return ews_request_finish(&r, len);
}

/* ItemShape IdOnly + the owned fields + the sync key; Body as plain text. */
static void owned_shape(struct ews_request *r, xmlNodePtr parent)
{
	xmlNodePtr shape = ews_add(parent, r->m, "ItemShape", NULL);

	ews_add(shape, r->t, "BaseShape", "IdOnly");
	ews_add(shape, r->t, "BodyType", "Text");
	ews_owned_properties_write(ews_add(shape, r->t, "AdditionalProperties", NULL), r->t);
}

char *ews_build_get_item(const struct ews_target *tg, const char *const *ids, size_t n, size_t *len)
{
	struct ews_request r;

	ews_request_start(&r, tg->server_version, tg->mailbox, NULL, "GetItem");
	owned_shape(&r, r.op);
	xmlNodePtr list = ews_add(r.op, r.m, "ItemIds", NULL);
	for (size_t i = 0; i < n; i++)
		ews_set_attr(ews_add(list, r.t, "ItemId", NULL), "Id", ids[i]);
	return ews_request_finish(&r, len);
}

/* IdOnly + Start/End + the sync key: what FindItem can return cheaply. FindItem cannot return Body
 * (a streamed property), so the owned fields come from GetItem afterwards. */
static void find_shape(struct ews_request *r)
{
	xmlNodePtr shape = ews_add(r->op, r->m, "ItemShape", NULL);

	ews_add(shape, r->t, "BaseShape", "IdOnly");
	xmlNodePtr add = ews_add(shape, r->t, "AdditionalProperties", NULL);
	ews_set_attr(ews_add(add, r->t, "FieldURI", NULL), "FieldURI", "calendar:Start");
	ews_set_attr(ews_add(add, r->t, "FieldURI", NULL), "FieldURI", "calendar:End");
	ews_add_sync_key_uri(add, r->t);
}

static void parent_calendar(struct ews_request *r)
{
	ews_add_calendar_folder(ews_add(r->op, r->m, "ParentFolderIds", NULL), r->t);
}

static void key_equals(xmlNodePtr parent, xmlNsPtr t, const char *key)
{
	xmlNodePtr eq = ews_add(parent, t, "IsEqualTo", NULL);

	ews_add_sync_key_uri(eq, t);
	ews_set_attr(ews_add(ews_add(eq, t, "FieldURIOrConstant", NULL), t, "Constant", NULL),
	             "Value", key);
}

/* FindItem with a restriction on our extended property
 * ([EWS how-to-use-search-filters-with-ews-in-exchange]): the only way to find an item by its tag
 * (calendar:UID is not searchable). n <= EWS_FIND_KEYS_PER_REQUEST keeps the restriction far below
 * Exchange's 255-node limit. */
char *ews_build_find_by_keys(const struct ews_target *tg, const char *const *keys, size_t n,
                             long offset, size_t *len)
{
	struct ews_request r;
	char off[24], max[24];

	ews_request_start(&r, tg->server_version, tg->mailbox, NULL, "FindItem");
	ews_set_attr(r.op, "Traversal", "Shallow");
	find_shape(&r);
	xmlNodePtr view = ews_add(r.op, r.m, "IndexedPageItemView", NULL);
	snprintf(max, sizeof(max), "%d", EWS_FIND_PAGE);
	snprintf(off, sizeof(off), "%ld", offset);
	ews_set_attr(view, "MaxEntriesReturned", max);
	ews_set_attr(view, "Offset", off);
	ews_set_attr(view, "BasePoint", "Beginning");
	xmlNodePtr restriction = ews_add(r.op, r.m, "Restriction", NULL);
	xmlNodePtr parent = n > 1 ? ews_add(restriction, r.t, "Or", NULL) : restriction;
	for (size_t i = 0; i < n; i++)
		key_equals(parent, r.t, keys[i]);
	parent_calendar(&r);
	return ews_request_finish(&r, len);
}

/* FindItem with a CalendarView ([EWS ref calendarview]): no Restriction may accompany it, so
 * untagged items are listed too (ids and tags only) and skipped by the caller; no paging, so a
 * truncated view is split. */
char *ews_build_calendar_view(const struct ews_target *tg, int64_t from, int64_t to,
                              int max_entries, size_t *len)
{
	struct ews_request r;
	char start[21], end[21], max[24];

	ews_request_start(&r, tg->server_version, tg->mailbox, NULL, "FindItem");
	ews_set_attr(r.op, "Traversal", "Shallow");
	find_shape(&r);
	xmlNodePtr view = ews_add(r.op, r.m, "CalendarView", NULL);
	snprintf(max, sizeof(max), "%d", max_entries);
	format_utc(start, from);
	format_utc(end, to);
	ews_set_attr(view, "MaxEntriesReturned", max);
	ews_set_attr(view, "StartDate", start);
	ews_set_attr(view, "EndDate", end);
	parent_calendar(&r);
	return ews_request_finish(&r, len);
}

char *ews_build_get_folder(const struct ews_target *tg, size_t *len)
{
	struct ews_request r;

	ews_request_start(&r, tg->server_version, tg->mailbox, NULL, "GetFolder");
	xmlNodePtr shape = ews_add(r.op, r.m, "FolderShape", NULL);
	ews_add(shape, r.t, "BaseShape", "IdOnly");
	ews_add_calendar_folder(ews_add(r.op, r.m, "FolderIds", NULL), r.t);
	return ews_request_finish(&r, len);
}
