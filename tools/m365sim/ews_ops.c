/* EWS item and folder operations of the simulator: GetFolder, CreateItem, GetItem, UpdateItem,
 * DeleteItem, ConvertId (exchangelib's version probe). One response message per input, in order; an
 * item's error never fails the batch ([EWS how-to-process-calendar-items-in-batches-in-exchange]).
 * Folder ids, mailbox access rules and id resolution live here too. */
#include "tools/m365sim/ews_int.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- base64 ---- */

#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
static const char b64[] = B64_CHARS;

char *ews_b64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char ch)
{
	const char *p = ch ? strchr(b64, ch) : NULL;
	return p ? (int)(p - b64) : -1;
}

unsigned char *ews_b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	if (n == 0 || n % 4)
		return NULL;
	unsigned char *out = xmalloc(n / 4 * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++) {
			v[k] = s[i + k] == '=' && i + 4 == n && k >= 2 ? 0 : b64_value(s[i + k]);
			if (v[k] < 0 || (k == 2 && s[i + 2] == '=' && s[i + 3] != '=')) {
				free(out);
				return NULL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		             (uint32_t)v[3];
		out[o++] = (unsigned char)(w >> 16);
		if (s[i + 2] != '=')
			out[o++] = (unsigned char)(w >> 8);
		if (s[i + 3] != '=')
			out[o++] = (unsigned char)w;
	}
	*len = o;
	return out;
}

/* ---- ids ---- */

/* Exchange ids are base64 (standard or, in this simulator, URL-safe); anything else, or an id too
 * short to hold a store key, is "malformed" (ErrorInvalidIdMalformed) rather than "not found". */
bool ews_id_well_formed(const char *id)
{
	size_t n = strlen(id);
	if (n < 16 || n > 512)
		return false;
	for (const char *p = id; *p; p++)
		if (!(b64_value(*p) >= 0 || *p == '-' || *p == '_' || *p == '='))
			return false;
	return true;
}

#define FOLDER_MAGIC "LSF1"

char *ews_folder_id(const char *smtp, const char *folder)
{
	struct buf b = BUF_INIT;
	buf_append(&b, FOLDER_MAGIC, 5);
	buf_append(&b, smtp, strlen(smtp) + 1);
	buf_puts(&b, folder);
	char *id = ews_b64_encode(b.data, b.len);
	buf_free(&b);
	return id;
}

static int folder_id_decode(const char *id, char *smtp, size_t smtp_size, char *folder,
                            size_t folder_size)
{
	size_t len;
	unsigned char *raw = ews_b64_decode(id, &len);
	int rc = -1;
	if (raw) {
		raw[len] = '\0';
		const char *s = (const char *)raw + 5;
		if (len > 6 && memcmp(raw, FOLDER_MAGIC, 5) == 0 && strlen(s) + 6 < len) {
			snprintf(smtp, smtp_size, "%s", s);
			snprintf(folder, folder_size, "%s", s + strlen(s) + 1);
			rc = 0;
		}
	}
	free(raw);
	return rc;
}

/* ---- access ---- */

/* True when the list names the user by one of its addresses. */
static bool names_user(char **v, const struct sim_user *u)
{
	for (size_t i = 0; v && v[i]; i++)
		if (sim_user_has_address(u, v[i]))
			return true;
	return false;
}

/* The app's tenant and RBAC-for-Applications scope, then the impersonated user's own mailbox or a
 * mailbox shared with it (delegates). */
bool ews_may_access(struct ews_ctx *c, struct sim_mailbox *mb)
{
	if (!mb || strcmp(mb->user->tenant_id, c->tid) != 0)
		return false;
	if (c->app->scoped_mailboxes && !names_user(c->app->scoped_mailboxes, mb->user))
		return false;
	if (c->own_only && mb != c->mailbox)
		return false;
	if (c->mailbox && mb != c->mailbox && !names_user(c->caller->delegates, mb->user))
		return false;
	return true;
}

static const char *mailbox_of_fid(struct ews_ctx *c, xmlNodePtr fid, struct sim_mailbox **mb)
{
	xmlNodePtr mbx = ews_child(fid, EWS_NS_T, "Mailbox");
	if (mbx) {
		char *smtp = ews_text(ews_child(mbx, EWS_NS_T, "EmailAddress"));
		*mb = *smtp ? sim_find_mailbox(c->s, smtp) : NULL;
		/* "Identifies a primary SMTP address. Proxy addresses are not allowed."
		 * [doc: distinguishedfolderid] */
		if (*mb && strcasecmp((*mb)->user->mail, smtp) != 0)
			*mb = NULL;
		free(smtp);
		if (!*mb || strcmp((*mb)->user->tenant_id, c->tid) != 0)
			return "ErrorNonExistentMailbox";
		return NULL;
	}
	if (!c->mailbox)
		return "ErrorMissingEmailAddress";
	*mb = c->mailbox;
	return NULL;
}

const char *ews_resolve_folder(struct ews_ctx *c, xmlNodePtr fid, struct sim_mailbox **mb,
                               char *folder, size_t folder_size)
{
	const char *err = NULL;
	if (ews_is(fid, EWS_NS_T, "DistinguishedFolderId")) {
		char *id = ews_attr(fid, "Id");
		snprintf(folder, folder_size, "%s", id ? id : "");
		free(id);
		err = mailbox_of_fid(c, fid, mb);
	} else if (ews_is(fid, EWS_NS_T, "FolderId")) {
		char *id = ews_attr(fid, "Id");
		char smtp[320];
		if (!id || folder_id_decode(id, smtp, sizeof smtp, folder, folder_size) != 0)
			err = id && ews_id_well_formed(id) ? "ErrorFolderNotFound"
			                                   : "ErrorInvalidIdMalformed";
		else if (!(*mb = sim_find_mailbox(c->s, smtp)))
			err = "ErrorFolderNotFound";
		free(id);
	} else {
		err = "ErrorFolderNotFound";
	}
	if (!err && !ews_may_access(c, *mb))
		err = "ErrorAccessDenied";
	return err;
}

static struct sim_item *find_in(struct sim_mailbox *mb, const char *id, struct sim_mailbox **where)
{
	struct sim_item *it = mb ? sim_item_by_id(mb, id) : NULL;
	if (it)
		*where = mb;
	return it;
}

/* An item id belongs to one mailbox: it is looked up in the impersonated mailbox and the mailboxes
 * shared with the impersonated user. X-AnchorMailbox only routes a request ([EWS
 * how-to-authenticate-an-ews-application-by-using-oauth]): an id of the anchor's mailbox used while
 * impersonating another one is not found. */
const char *ews_resolve_item(struct ews_ctx *c, xmlNodePtr item_id, struct sim_mailbox **mb,
                             struct sim_item **it)
{
	char *id = ews_attr(item_id, "Id");
	const char *err = NULL;
	*it = NULL;
	if (!id || !*id)
		err = "ErrorInvalidIdEmpty";
	else if (!ews_id_well_formed(id))
		err = "ErrorInvalidIdMalformed";
	if (!err) {
		*it = find_in(c->mailbox, id, mb);
		for (size_t i = 0;
		     !*it && c->caller && c->caller->delegates && c->caller->delegates[i]; i++)
			*it = find_in(sim_find_mailbox(c->s, c->caller->delegates[i]), id, mb);
		if (!*it)
			err = "ErrorItemNotFound";
		else if (!ews_may_access(c, *mb))
			err = "ErrorAccessDenied";
	}
	free(id);
	return err;
}

/* ---- GetFolder ---- */

static const struct {
	const char *id, *display, *cls, *element;
} folders[] = {
    {"root", "", NULL, "Folder"},
    {"msgfolderroot", "Top of Information Store", NULL, "Folder"},
    {"calendar", "Calendar", "IPF.Appointment", "CalendarFolder"},
    {"contacts", "Contacts", "IPF.Contact", "ContactsFolder"},
    {"tasks", "Tasks", "IPF.Task", "TasksFolder"},
    {"deleteditems", "Deleted Items", "IPF.Note", "Folder"},
    {"inbox", "Inbox", "IPF.Note", "Folder"},
};

static size_t folder_count(struct sim_mailbox *mb, const char *folder)
{
	size_t n = 0;
	for (size_t i = 0; i < mb->nitems; i++)
		if (!mb->items[i]->deleted && strcmp(mb->items[i]->folder, folder) == 0)
			n++;
	return n;
}

static void write_folder(struct ews_ctx *c, struct sim_mailbox *mb, const char *folder,
                         bool id_only)
{
	const char *display = folder, *cls = "IPF.Note", *element = "Folder";
	for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++)
		if (strcmp(folder, folders[i].id) == 0) {
			display = folders[i].display;
			cls = folders[i].cls;
			element = folders[i].element;
		}
	struct ews_out *o = &c->out;
	char *fid = ews_folder_id(mb->user->mail, folder);
	char num[32];
	ews_w_start(o, "t", element);
	ews_w_start(o, "t", "FolderId");
	ews_w_attr(o, "Id", fid);
	ews_w_attr(o, "ChangeKey", "AQAAAA==");
	ews_w_end(o);
	free(fid);
	if (!id_only) {
		if (strcmp(folder, "root") != 0) {
			char *pid = ews_folder_id(
			    mb->user->mail,
			    strcmp(folder, "msgfolderroot") == 0 ? "root" : "msgfolderroot");
			ews_w_start(o, "t", "ParentFolderId");
			ews_w_attr(o, "Id", pid);
			ews_w_attr(o, "ChangeKey", "AQAAAA==");
			ews_w_end(o);
			free(pid);
		}
		if (cls)
			ews_w_text_elem(o, "t", "FolderClass", cls);
		ews_w_text_elem(o, "t", "DisplayName", display);
		snprintf(num, sizeof num, "%zu", folder_count(mb, folder));
		ews_w_text_elem(o, "t", "TotalCount", num);
		ews_w_text_elem(o, "t", "ChildFolderCount", "0");
		if (strcmp(element, "Folder") == 0)
			ews_w_text_elem(o, "t", "UnreadCount", "0");
	}
	ews_w_end(o);
}

static bool shape_is_id_only(xmlNodePtr shape)
{
	char *base = ews_text(ews_child(shape, EWS_NS_T, "BaseShape"));
	bool id_only =
	    strcmp(base, "IdOnly") == 0 && !ews_child(shape, EWS_NS_T, "AdditionalProperties");
	free(base);
	return id_only;
}

void ews_op_get_folder(struct ews_ctx *c)
{
	bool id_only = shape_is_id_only(ews_child(c->env->op, EWS_NS_M, "FolderShape"));
	xmlNodePtr ids = ews_child(c->env->op, EWS_NS_M, "FolderIds");
	ews_out_begin(&c->out, "GetFolder");
	for (xmlNodePtr f = ews_first_elem(ids); f; f = ews_next_elem(f)) {
		struct sim_mailbox *mb = NULL;
		char folder[128];
		const char *err = ews_resolve_folder(c, f, &mb, folder, sizeof folder);
		if (err) {
			ews_msg_begin(&c->out, "GetFolder", err);
		} else {
			ews_msg_begin(&c->out, "GetFolder", NULL);
			ews_w_start(&c->out, "m", "Folders");
			write_folder(c, mb, folder, id_only);
			ews_w_end(&c->out);
		}
		ews_msg_end(&c->out);
	}
}

/* ---- CreateItem ---- */

static void items_with_id(struct ews_ctx *c, const struct sim_item *it)
{
	ews_w_start(&c->out, "m", "Items");
	if (it) {
		ews_w_start(&c->out, "t", "CalendarItem");
		ews_write_item_id(c, it);
		ews_w_end(&c->out);
	}
	ews_w_end(&c->out);
}

static void item_error(struct ews_ctx *c, const char *op, const char *code, bool with_items)
{
	ews_msg_begin(&c->out, op, code);
	if (with_items)
		items_with_id(c, NULL);
	ews_msg_end(&c->out);
}

static void item_stopped(struct ews_ctx *c, const char *op, bool with_items)
{
	ews_msg_begin_warning(&c->out, op, "ErrorBatchProcessingStopped");
	if (with_items)
		items_with_id(c, NULL);
	ews_msg_end(&c->out);
}

static const char *create_one(struct ews_ctx *c, xmlNodePtr ci, struct sim_mailbox *mb,
                              const char *folder, bool invitations, struct sim_item **made)
{
	if (!ews_is(ci, EWS_NS_T, "CalendarItem"))
		return "ErrorInvalidItemForOperation";
	/* Required in practice for calendar items, though optional in the XSD
	 * (ErrorSendMeetingInvitationsRequired, [EWS ref responsecode]). */
	if (!invitations)
		return "ErrorSendMeetingInvitationsRequired";
	struct sim_item scratch;
	const char *err = ews_item_from_xml(c, ci, &scratch);
	if (err)
		return err;
	struct sim_item *it = sim_item_new(mb);
	ews_item_take_fields(it, &scratch);
	if (strcmp(it->folder, folder) != 0) {
		free(it->folder);
		it->folder = xstrdup(folder);
	}
	it->created = it->modified = sim_now(c->s);
	*made = it;
	return NULL;
}

void ews_op_create_item(struct ews_ctx *c)
{
	xmlNodePtr op = c->env->op;
	char *inv = ews_attr(op, "SendMeetingInvitations");
	struct sim_mailbox *mb = c->mailbox;
	char folder[128] = "calendar";
	const char *folder_err = mb ? NULL : "ErrorMissingEmailAddress";
	xmlNodePtr saved = ews_child(op, EWS_NS_M, "SavedItemFolderId");
	if (saved)
		folder_err =
		    ews_resolve_folder(c, ews_first_elem(saved), &mb, folder, sizeof folder);
	ews_out_begin(&c->out, "CreateItem");
	bool stopped = false;
	for (xmlNodePtr ci = ews_first_elem(ews_child(op, EWS_NS_M, "Items")); ci;
	     ci = ews_next_elem(ci)) {
		if (stopped) {
			item_stopped(c, "CreateItem", true);
			continue;
		}
		struct sim_item *it = NULL;
		const char *err =
		    folder_err ? folder_err : create_one(c, ci, mb, folder, inv != NULL, &it);
		if (err) {
			/* ErrorAccessDenied stops the batch: what follows would fail the same way
			 * (ErrorBatchProcessingStopped, [EWS ref responsecode]). */
			stopped = strcmp(err, "ErrorAccessDenied") == 0;
			item_error(c, "CreateItem", err, true);
			continue;
		}
		sim_count(c->s, "ews.items.created");
		ews_msg_begin(&c->out, "CreateItem", NULL);
		items_with_id(c, it);
		ews_msg_end(&c->out);
	}
	free(inv);
}

/* ---- GetItem ---- */

void ews_op_get_item(struct ews_ctx *c)
{
	struct ews_shape shape;
	ews_shape_parse(ews_child(c->env->op, EWS_NS_M, "ItemShape"), &shape, false);
	ews_out_begin(&c->out, "GetItem");
	xmlNodePtr ids = ews_child(c->env->op, EWS_NS_M, "ItemIds");
	for (xmlNodePtr id = ews_first_elem(ids); id; id = ews_next_elem(id)) {
		struct sim_mailbox *mb = NULL;
		struct sim_item *it = NULL;
		const char *err = ews_is(id, EWS_NS_T, "ItemId") ? ews_resolve_item(c, id, &mb, &it)
		                                                 : "ErrorItemNotFound";
		if (err) {
			item_error(c, "GetItem", err, true);
			continue;
		}
		ews_msg_begin(&c->out, "GetItem", NULL);
		ews_w_start(&c->out, "m", "Items");
		ews_write_item(c, mb, it, &shape);
		ews_w_end(&c->out);
		ews_msg_end(&c->out);
		if (ews_change_key_churn())
			sim_item_touch(c->s, mb, it);
	}
}

/* ---- UpdateItem ---- */

/* ChangeKey semantics ([EWS ref updateitem-operation], [EWS ews-identifiers-in-exchange]): a stale
 * key fails with NeverOverwrite and AutoResolve (Exchange cannot merge calendar items:
 * exchangelib#623) and wins with AlwaysOverwrite; a missing key is required only with
 * NeverOverwrite; an unparsable one is ErrorInvalidChangeKey. */
static const char *check_change_key(xmlNodePtr item_id, const struct sim_item *it,
                                    const char *resolution)
{
	char *ck = ews_attr(item_id, "ChangeKey");
	const char *err = NULL;
	if (!ck) {
		if (strcmp(resolution, "NeverOverwrite") == 0)
			err = "ErrorChangeKeyRequiredForWriteOperations";
	} else if (!*ck || ck[strspn(ck, B64_CHARS "=-_")] != '\0') {
		err = "ErrorInvalidChangeKey";
	} else if (strcmp(ck, it->change_key) != 0 && strcmp(resolution, "AlwaysOverwrite") != 0) {
		err = "ErrorIrresolvableConflict";
	}
	free(ck);
	return err;
}

static void update_one(struct ews_ctx *c, xmlNodePtr change, const char *resolution,
                       bool invitations)
{
	struct sim_mailbox *mb = NULL;
	struct sim_item *it = NULL;
	xmlNodePtr item_id = ews_first_elem(change);
	const char *err = ews_is(item_id, EWS_NS_T, "ItemId")
	                      ? ews_resolve_item(c, item_id, &mb, &it)
	                      : "ErrorItemNotFound";
	if (!err && !invitations)
		err = "ErrorSendMeetingInvitationsOrCancellationsRequired";
	if (!err)
		err = check_change_key(item_id, it, resolution);
	if (!err)
		err = ews_item_apply_updates(c, ews_child(change, EWS_NS_T, "Updates"), it);
	if (err) {
		item_error(c, "UpdateItem", err, true);
		return;
	}
	sim_item_touch(c->s, mb, it);
	sim_count(c->s, "ews.items.updated");
	ews_msg_begin(&c->out, "UpdateItem", NULL);
	items_with_id(c, it);
	ews_w_start(&c->out, "m", "ConflictResults");
	ews_w_text_elem(&c->out, "t", "Count", "0");
	ews_w_end(&c->out);
	ews_msg_end(&c->out);
}

void ews_op_update_item(struct ews_ctx *c)
{
	char *resolution = ews_attr(c->env->op, "ConflictResolution");
	char *inv = ews_attr(c->env->op, "SendMeetingInvitationsOrCancellations");
	ews_out_begin(&c->out, "UpdateItem");
	xmlNodePtr changes = ews_child(c->env->op, EWS_NS_M, "ItemChanges");
	for (xmlNodePtr ch = ews_first_elem(changes); ch; ch = ews_next_elem(ch))
		update_one(c, ch, resolution ? resolution : "AutoResolve", inv != NULL);
	free(resolution);
	free(inv);
}

/* ---- DeleteItem ---- */

static void delete_one(struct ews_ctx *c, xmlNodePtr id, const char *type, bool cancellations)
{
	struct sim_mailbox *mb = NULL;
	struct sim_item *it = NULL;
	const char *err = ews_is(id, EWS_NS_T, "ItemId") ? ews_resolve_item(c, id, &mb, &it)
	                                                 : "ErrorItemNotFound";
	if (!err && !cancellations)
		err = "ErrorSendMeetingCancellationsRequired";
	if (err) {
		item_error(c, "DeleteItem", err, false);
		return;
	}
	/* HardDelete: gone; SoftDelete: the dumpster; MoveToDeletedItems: Deleted Items with a new
	 * Id (and from Deleted Items, the dumpster)
	 * ([EWS deleting-items-by-using-ews-in-exchange]). */
	if (strcmp(type, "HardDelete") == 0)
		sim_item_delete(mb, it);
	else if (strcmp(type, "SoftDelete") == 0 || strcmp(it->folder, "deleteditems") == 0)
		sim_item_move(mb, it, "recoverableitemsdeletions");
	else
		sim_item_move(mb, it, "deleteditems");
	sim_count(c->s, "ews.items.deleted");
	ews_msg_begin(&c->out, "DeleteItem", NULL);
	ews_msg_end(&c->out);
}

void ews_op_delete_item(struct ews_ctx *c)
{
	char *type = ews_attr(c->env->op, "DeleteType");
	char *cancel = ews_attr(c->env->op, "SendMeetingCancellations");
	ews_out_begin(&c->out, "DeleteItem");
	xmlNodePtr ids = ews_child(c->env->op, EWS_NS_M, "ItemIds");
	for (xmlNodePtr id = ews_first_elem(ids); id; id = ews_next_elem(id))
		delete_one(c, id, type ? type : "HardDelete", cancel != NULL);
	free(type);
	free(cancel);
}

/* ---- ConvertId: only what a version probe needs; every id is answered per item ---- */

void ews_op_convert_id(struct ews_ctx *c)
{
	ews_out_begin(&c->out, "ConvertId");
	xmlNodePtr ids = ews_child(c->env->op, EWS_NS_M, "SourceIds");
	for (xmlNodePtr id = ews_first_elem(ids); id; id = ews_next_elem(id)) {
		char *v = ews_attr(id, "Id");
		ews_msg_begin(&c->out, "ConvertId",
		              v && ews_id_well_formed(v) ? "ErrorInvalidOperation"
		                                         : "ErrorInvalidIdMalformed");
		ews_msg_end(&c->out);
		free(v);
	}
}
