/* CalendarItem XML <-> struct sim_item for the EWS simulator: item shapes (IdOnly / Default /
 * AllProperties + AdditionalProperties), properties written in schema order (CalendarItemType in
 * types.xsd), extended properties ([EWS ref extendedfielduri]), CreateItem items and UpdateItem
 * changes with Exchange's time rules ([EWS how-to-create-all-day-events-by-using-ews-in-exchange],
 * [EWS time-zones-and-ews-in-exchange]): zone-less values read in StartTimeZone/EndTimeZone, else
 * TimeZoneContext, else UTC (Exchange2010 and later; UTC before); all-day items widened to
 * midnights of their zone; End <= Start and durations over five years refused.
 *
 * struct sim_item has no Location or UID field: they are kept as the MAPI named properties Exchange
 * uses (Location = PSETID_Appointment id 0x8208, UID under PSETID_Meeting id 0x0023, as strings),
 * so a client asking for those extended properties sees them too. */
#include "tools/m365sim/ews_int.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PSETID_APPOINTMENT "00062002-0000-0000-c000-000000000046"
#define PSETID_MEETING "6ed8da90-450b-101b-98da-00aa003f1305"
#define LOCATION_NAME "0x8208"
#define UID_NAME "0x0023"
#define FIVE_YEARS (1827LL * 86400)

enum ews_field {
	F_PARENT_FOLDER_ID,
	F_ITEM_CLASS,
	F_SUBJECT,
	F_SENSITIVITY,
	F_BODY,
	F_CATEGORIES,
	F_IMPORTANCE,
	F_DATE_CREATED,
	F_REMINDER_IS_SET,
	F_REMINDER_MINUTES,
	F_HAS_ATTACHMENTS,
	F_LAST_MODIFIED,
	F_UID,
	F_START,
	F_END,
	F_IS_ALL_DAY,
	F_FREE_BUSY,
	F_LOCATION,
	F_IS_MEETING,
	F_IS_CANCELLED,
	F_IS_RECURRING,
	F_CAL_ITEM_TYPE,
	F_MY_RESPONSE,
	F_ORGANIZER,
	F_DURATION,
	F_START_TZ,
	F_END_TZ,
	F_COUNT
};

#define BIT(f) (1ULL << (f))

static const struct {
	const char *uri;
	const char *element; /* local name inside t:CalendarItem */
	enum ews_field field;
} field_uris[] = {
    {"item:ParentFolderId", "ParentFolderId", F_PARENT_FOLDER_ID},
    {"item:ItemClass", "ItemClass", F_ITEM_CLASS},
    {"item:Subject", "Subject", F_SUBJECT},
    {"item:Sensitivity", "Sensitivity", F_SENSITIVITY},
    {"item:Body", "Body", F_BODY},
    {"item:Categories", "Categories", F_CATEGORIES},
    {"item:Importance", "Importance", F_IMPORTANCE},
    {"item:DateTimeCreated", "DateTimeCreated", F_DATE_CREATED},
    {"item:ReminderIsSet", "ReminderIsSet", F_REMINDER_IS_SET},
    {"item:ReminderMinutesBeforeStart", "ReminderMinutesBeforeStart", F_REMINDER_MINUTES},
    {"item:HasAttachments", "HasAttachments", F_HAS_ATTACHMENTS},
    {"item:LastModifiedTime", "LastModifiedTime", F_LAST_MODIFIED},
    {"calendar:UID", "UID", F_UID},
    {"calendar:Start", "Start", F_START},
    {"calendar:End", "End", F_END},
    {"calendar:IsAllDayEvent", "IsAllDayEvent", F_IS_ALL_DAY},
    {"calendar:LegacyFreeBusyStatus", "LegacyFreeBusyStatus", F_FREE_BUSY},
    {"calendar:Location", "Location", F_LOCATION},
    {"calendar:IsMeeting", "IsMeeting", F_IS_MEETING},
    {"calendar:IsCancelled", "IsCancelled", F_IS_CANCELLED},
    {"calendar:IsRecurring", "IsRecurring", F_IS_RECURRING},
    {"calendar:CalendarItemType", "CalendarItemType", F_CAL_ITEM_TYPE},
    {"calendar:MyResponseType", "MyResponseType", F_MY_RESPONSE},
    {"calendar:Organizer", "Organizer", F_ORGANIZER},
    {"calendar:Duration", "Duration", F_DURATION},
    {"calendar:StartTimeZone", "StartTimeZone", F_START_TZ},
    {"calendar:EndTimeZone", "EndTimeZone", F_END_TZ},
};
#define NFIELD_URIS (sizeof field_uris / sizeof field_uris[0])

static int field_by_uri(const char *uri)
{
	for (size_t i = 0; i < NFIELD_URIS; i++)
		if (strcmp(uri, field_uris[i].uri) == 0)
			return (int)field_uris[i].field;
	return -1;
}

static const char *element_of_field(int f)
{
	for (size_t i = 0; i < NFIELD_URIS; i++)
		if ((int)field_uris[i].field == f)
			return field_uris[i].element;
	return "";
}

/* ---- extended property paths ---- */

static const struct {
	const char *name, *guid;
} distinguished_sets[] = {
    {"Meeting", PSETID_MEETING},
    {"Appointment", PSETID_APPOINTMENT},
    {"Common", "00062008-0000-0000-c000-000000000046"},
    {"PublicStrings", "00020329-0000-0000-c000-000000000046"},
    {"Address", "00062004-0000-0000-c000-000000000046"},
    {"InternetHeaders", "00020386-0000-0000-c000-000000000046"},
    {"CalendarAssistant", "11000e07-b51b-40d6-af21-caa85edab1d0"},
    {"UnifiedMessaging", "4442858e-a9e3-4e80-b900-317a210cc15b"},
    {"Task", "00062003-0000-0000-c000-000000000046"},
    {"Sharing", "00062040-0000-0000-c000-000000000046"},
};

int ews_extpath_parse(xmlNodePtr uri, struct ews_extpath *out)
{
	memset(out, 0, sizeof *out);
	char *dist = ews_attr(uri, "DistinguishedPropertySetId");
	char *set = ews_attr(uri, "PropertySetId");
	char *name = ews_attr(uri, "PropertyName");
	char *id = ews_attr(uri, "PropertyId");
	char *tag = ews_attr(uri, "PropertyTag");
	char *type = ews_attr(uri, "PropertyType");
	int rc = -1;
	snprintf(out->type, sizeof out->type, "%s", type ? type : "String");
	if (tag && !dist && !set && !name && !id) {
		long v = strtol(tag, NULL, 0);
		out->tag = out->by_id = true;
		snprintf(out->name, sizeof out->name, "0x%04lx", v);
		rc = 0;
	} else if ((dist != NULL) != (set != NULL) && (name != NULL) != (id != NULL) && !tag) {
		if (dist) {
			for (size_t i = 0;
			     i < sizeof distinguished_sets / sizeof distinguished_sets[0]; i++)
				if (strcmp(dist, distinguished_sets[i].name) == 0) {
					snprintf(out->set_id, sizeof out->set_id, "%s",
					         distinguished_sets[i].guid);
					snprintf(out->dist, sizeof out->dist, "%s", dist);
				}
		} else {
			snprintf(out->set_id, sizeof out->set_id, "%s", set);
			for (char *p = out->set_id; *p; p++)
				*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		}
		if (name) {
			snprintf(out->name, sizeof out->name, "%s", name);
		} else {
			out->by_id = true;
			snprintf(out->name, sizeof out->name, "0x%04lx", strtol(id, NULL, 0));
		}
		rc = out->set_id[0] ? 0 : -1;
	}
	free(dist);
	free(set);
	free(name);
	free(id);
	free(tag);
	free(type);
	return rc;
}

static void write_extpath(struct ews_ctx *c, const struct ews_extpath *p)
{
	char num[32];
	ews_w_start(&c->out, "t", "ExtendedFieldURI");
	if (p->tag) {
		ews_w_attr(&c->out, "PropertyTag", p->name);
	} else {
		if (p->dist[0])
			ews_w_attr(&c->out, "DistinguishedPropertySetId", p->dist);
		else
			ews_w_attr(&c->out, "PropertySetId", p->set_id);
		if (p->by_id) {
			snprintf(num, sizeof num, "%ld", strtol(p->name, NULL, 16));
			ews_w_attr(&c->out, "PropertyId", num);
		} else {
			ews_w_attr(&c->out, "PropertyName", p->name);
		}
	}
	ews_w_attr(&c->out, "PropertyType", p->type);
	ews_w_end(&c->out);
}

static struct sim_extprop *find_prop(const struct sim_item *it, const char *set_id,
                                     const char *name)
{
	for (size_t i = 0; i < it->nprops; i++)
		if (strcasecmp(it->props[i].set_id, set_id) == 0 &&
		    strcmp(it->props[i].name, name) == 0)
			return &it->props[i];
	return NULL;
}

static void set_prop(struct sim_item *it, const char *set_id, const char *name, const char *type,
                     const char *value)
{
	struct sim_extprop *p = find_prop(it, set_id, name);
	if (!p) {
		it->props = xrealloc(it->props, (it->nprops + 1) * sizeof *it->props);
		p = &it->props[it->nprops++];
		p->set_id = xstrdup(set_id);
		p->name = xstrdup(name);
		p->type = NULL;
		p->value = NULL;
	}
	free(p->type);
	free(p->value);
	p->type = xstrdup(type);
	p->value = xstrdup(value);
}

static void del_prop(struct sim_item *it, const char *set_id, const char *name)
{
	struct sim_extprop *p = find_prop(it, set_id, name);
	if (!p)
		return;
	free(p->set_id);
	free(p->name);
	free(p->type);
	free(p->value);
	size_t i = (size_t)(p - it->props);
	memmove(&it->props[i], &it->props[i + 1], (it->nprops - i - 1) * sizeof *it->props);
	it->nprops--;
}

/* ---- shapes ---- */

static const uint64_t default_fields = BIT(F_SUBJECT) | BIT(F_HAS_ATTACHMENTS) | BIT(F_START) |
                                       BIT(F_END) | BIT(F_FREE_BUSY) | BIT(F_LOCATION) |
                                       BIT(F_CAL_ITEM_TYPE) | BIT(F_ORGANIZER);

void ews_shape_parse(xmlNodePtr item_shape, struct ews_shape *shape, bool sync_shape)
{
	memset(shape, 0, sizeof *shape);
	char *base = ews_text(ews_child(item_shape, EWS_NS_T, "BaseShape"));
	if (strcmp(base, "AllProperties") == 0)
		shape->fields = (1ULL << F_COUNT) - 1;
	else if (strcmp(base, "Default") == 0)
		shape->fields = default_fields;
	free(base);
	xmlNodePtr add = ews_child(item_shape, EWS_NS_T, "AdditionalProperties");
	for (xmlNodePtr p = ews_first_elem(add); p; p = ews_next_elem(p)) {
		if (ews_is(p, EWS_NS_T, "FieldURI")) {
			char *uri = ews_attr(p, "FieldURI");
			int f = uri ? field_by_uri(uri) : -1;
			if (f >= 0)
				shape->fields |= BIT(f);
			free(uri);
		} else if (ews_is(p, EWS_NS_T, "ExtendedFieldURI") && shape->next < EWS_MAX_EXT) {
			if (ews_extpath_parse(p, &shape->ext[shape->next]) == 0)
				shape->next++;
		}
	}
	/* FindItem and SyncFolderItems never return the body ([EWS ref finditem-operation],
	 * [EWS ref syncfolderitems-operation]). */
	if (sync_shape)
		shape->fields &= ~BIT(F_BODY);
}

/* ---- writing ---- */

void ews_write_item_id(struct ews_ctx *c, const struct sim_item *it)
{
	ews_w_start(&c->out, "t", "ItemId");
	ews_w_attr(&c->out, "Id", it->ews_id);
	ews_w_attr(&c->out, "ChangeKey", it->change_key);
	ews_w_end(&c->out);
}

static void write_duration(struct ews_ctx *c, int64_t secs)
{
	char d[64];
	if (secs < 0)
		secs = 0;
	snprintf(d, sizeof d, "P%lldDT%dH%dM%dS", (long long)(secs / 86400),
	         (int)(secs % 86400 / 3600), (int)(secs % 3600 / 60), (int)(secs % 60));
	ews_w_text_elem(&c->out, "t", "Duration", d);
}

static void write_tz(struct ews_ctx *c, const char *name, const char *id)
{
	ews_w_start(&c->out, "t", name);
	ews_w_attr(&c->out, "Id", id && *id ? id : "UTC");
	ews_w_end(&c->out);
}

static void write_organizer(struct ews_ctx *c, struct sim_mailbox *mb)
{
	ews_w_start(&c->out, "t", "Organizer");
	ews_w_start(&c->out, "t", "Mailbox");
	ews_w_text_elem(&c->out, "t", "Name", mb->user->display_name);
	ews_w_text_elem(&c->out, "t", "EmailAddress", mb->user->mail);
	ews_w_text_elem(&c->out, "t", "RoutingType", "SMTP");
	ews_w_text_elem(&c->out, "t", "MailboxType", "Mailbox");
	ews_w_end(&c->out);
	ews_w_end(&c->out);
}

static void write_item_part(struct ews_ctx *c, struct sim_mailbox *mb, const struct sim_item *it,
                            uint64_t f)
{
	struct ews_out *o = &c->out;
	char num[32];
	if (f & BIT(F_PARENT_FOLDER_ID)) {
		char *fid = ews_folder_id(mb->user->mail, it->folder);
		ews_w_start(o, "t", "ParentFolderId");
		ews_w_attr(o, "Id", fid);
		ews_w_attr(o, "ChangeKey", "AQAAAA==");
		ews_w_end(o);
		free(fid);
	}
	if (f & BIT(F_ITEM_CLASS))
		ews_w_text_elem(o, "t", "ItemClass", it->item_class);
	if (f & BIT(F_SUBJECT))
		ews_w_text_elem(o, "t", "Subject", it->subject);
	if (f & BIT(F_SENSITIVITY))
		ews_w_text_elem(o, "t", "Sensitivity", it->sensitivity);
	if (f & BIT(F_BODY)) {
		ews_w_start(o, "t", "Body");
		ews_w_attr(o, "BodyType", it->body_type ? it->body_type : "Text");
		if (it->body && *it->body)
			xmlTextWriterWriteString(o->w, BAD_CAST it->body);
		ews_w_end(o);
	}
	if ((f & BIT(F_CATEGORIES)) && it->categories && it->categories[0]) {
		ews_w_start(o, "t", "Categories");
		for (size_t i = 0; it->categories[i]; i++)
			ews_w_text_elem(o, "t", "String", it->categories[i]);
		ews_w_end(o);
	}
	if (f & BIT(F_IMPORTANCE))
		ews_w_text_elem(o, "t", "Importance", "Normal");
	if (f & BIT(F_DATE_CREATED))
		ews_w_time_elem(o, "DateTimeCreated", it->created);
	if (f & BIT(F_REMINDER_IS_SET))
		ews_w_bool_elem(o, "ReminderIsSet", it->reminder_is_set);
	if (f & BIT(F_REMINDER_MINUTES)) {
		snprintf(num, sizeof num, "%d", it->reminder_minutes);
		ews_w_text_elem(o, "t", "ReminderMinutesBeforeStart", num);
	}
	if (f & BIT(F_HAS_ATTACHMENTS))
		ews_w_bool_elem(o, "HasAttachments", false);
}

static void write_extended(struct ews_ctx *c, const struct sim_item *it,
                           const struct ews_shape *shape)
{
	for (size_t i = 0; i < shape->next; i++) {
		const struct sim_extprop *p =
		    find_prop(it, shape->ext[i].set_id, shape->ext[i].name);
		if (!p)
			continue; /* an absent property is simply absent
			             (tests/data/ews/getitem-calendar-*-response.xml) */
		ews_w_start(&c->out, "t", "ExtendedProperty");
		write_extpath(c, &shape->ext[i]);
		ews_w_text_elem(&c->out, "t", "Value", p->value);
		ews_w_end(&c->out);
	}
}

static void write_calendar_part(struct ews_ctx *c, struct sim_mailbox *mb,
                                const struct sim_item *it, uint64_t f)
{
	struct ews_out *o = &c->out;
	const char *uid = sim_item_extprop(it, PSETID_MEETING, UID_NAME);
	const char *location = sim_item_extprop(it, PSETID_APPOINTMENT, LOCATION_NAME);
	if ((f & BIT(F_UID)) && uid)
		ews_w_text_elem(o, "t", "UID", uid);
	if (f & BIT(F_START))
		ews_w_time_elem(o, "Start", it->start);
	if (f & BIT(F_END))
		ews_w_time_elem(o, "End", it->end);
	if (f & BIT(F_IS_ALL_DAY))
		ews_w_bool_elem(o, "IsAllDayEvent", it->is_all_day);
	if (f & BIT(F_FREE_BUSY))
		ews_w_text_elem(o, "t", "LegacyFreeBusyStatus", it->show_as ? it->show_as : "Busy");
	if ((f & BIT(F_LOCATION)) && location)
		ews_w_text_elem(o, "t", "Location", location);
	if (f & BIT(F_IS_MEETING))
		ews_w_bool_elem(o, "IsMeeting", false);
	if (f & BIT(F_IS_CANCELLED))
		ews_w_bool_elem(o, "IsCancelled", false);
	if (f & BIT(F_IS_RECURRING))
		ews_w_bool_elem(o, "IsRecurring", false);
	if (f & BIT(F_CAL_ITEM_TYPE))
		ews_w_text_elem(o, "t", "CalendarItemType", "Single");
	if (f & BIT(F_MY_RESPONSE))
		ews_w_text_elem(o, "t", "MyResponseType", "Organizer");
	if (f & BIT(F_ORGANIZER))
		write_organizer(c, mb);
	if (f & BIT(F_DURATION))
		write_duration(c, it->end - it->start);
	if (f & BIT(F_START_TZ))
		write_tz(c, "StartTimeZone", it->start_tz);
	if (f & BIT(F_END_TZ))
		write_tz(c, "EndTimeZone", it->end_tz ? it->end_tz : it->start_tz);
}

void ews_write_item(struct ews_ctx *c, struct sim_mailbox *mb, const struct sim_item *it,
                    const struct ews_shape *shape)
{
	ews_w_start(&c->out, "t", "CalendarItem");
	ews_write_item_id(c, it);
	write_item_part(c, mb, it, shape->fields);
	write_extended(c, it, shape);
	if (shape->fields & BIT(F_LAST_MODIFIED))
		ews_w_time_elem(&c->out, "LastModifiedTime", it->modified);
	write_calendar_part(c, mb, it, shape->fields);
	ews_w_end(&c->out);
}

/* ---- reading: one property element into an item ---- */

/* Times are resolved after every property of the item or change is known. */
struct pending_times {
	char *start, *end;       /* raw xs:dateTime when set */
	char *start_tz, *end_tz; /* StartTimeZone/EndTimeZone ids when set */
	char *meeting_tz;        /* Exchange2007_SP1 MeetingTimeZone/@TimeZoneName */
	bool all_day_changed;
};

static void pending_free(struct pending_times *p)
{
	free(p->start);
	free(p->end);
	free(p->start_tz);
	free(p->end_tz);
	free(p->meeting_tz);
}

static void set_str(char **field, char *value) /* takes value */
{
	free(*field);
	*field = value;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char **read_strings(xmlNodePtr parent)
{
	size_t n = 0;
	for (xmlNodePtr s = ews_first_elem(parent); s; s = ews_next_elem(s))
		n++;
	if (n == 0)
		return NULL;
	char **v = xcalloc(n + 1, sizeof *v);
	n = 0;
	for (xmlNodePtr s = ews_first_elem(parent); s; s = ews_next_elem(s))
		v[n++] = ews_text(s);
	return v;
}

static char *raw_text(xmlNodePtr node)
{
	xmlChar *c = xmlNodeGetContent(node);
	char *out = xstrdup(c ? (const char *)c : "");
	xmlFree(c);
	return out;
}

static const char *apply_extended(xmlNodePtr ep, struct sim_item *it)
{
	struct ews_extpath path;
	if (ews_extpath_parse(ews_child(ep, EWS_NS_T, "ExtendedFieldURI"), &path) != 0)
		return "ErrorInvalidExtendedProperty";
	xmlNodePtr value = ews_child(ep, EWS_NS_T, "Value");
	if (!value) /* multi-valued: kept as the values joined by newlines */
		value = ews_child(ep, EWS_NS_T, "Values");
	char *text = value && ews_is(value, EWS_NS_T, "Values") ? NULL : raw_text(value);
	if (!text) {
		struct buf b = BUF_INIT;
		for (xmlNodePtr v = ews_first_elem(value); v; v = ews_next_elem(v)) {
			char *t = raw_text(v);
			if (b.len)
				buf_puts(&b, "\n");
			buf_puts(&b, t);
			free(t);
		}
		text = b.data ? buf_steal(&b) : xstrdup("");
	}
	set_prop(it, path.set_id, path.name, path.type, text);
	free(text);
	return NULL;
}

/* Applies one child element of a t:CalendarItem. Unknown or read-only elements are accepted and
 * ignored, as they have no place in a leave item. */
static const char *apply_element(xmlNodePtr e, struct sim_item *it, struct pending_times *pt)
{
	const char *n = (const char *)e->name;
	if (!ews_is(e, EWS_NS_T, n))
		return NULL;
	if (strcmp(n, "Subject") == 0) {
		char *raw = raw_text(e);
		set_str(&it->subject, sim_subject_stored(raw));
		free(raw);
	} else if (strcmp(n, "Sensitivity") == 0)
		set_str(&it->sensitivity, ews_text(e));
	else if (strcmp(n, "Body") == 0) {
		set_str(&it->body, raw_text(e));
		char *bt = ews_attr(e, "BodyType");
		set_str(&it->body_type, bt ? bt : xstrdup("Text"));
	} else if (strcmp(n, "Categories") == 0) {
		free_strv(it->categories);
		it->categories = read_strings(e);
	} else if (strcmp(n, "ItemClass") == 0)
		set_str(&it->item_class, ews_text(e));
	else if (strcmp(n, "ReminderIsSet") == 0) {
		char *v = ews_text(e);
		it->reminder_is_set = ews_parse_bool(v);
		free(v);
	} else if (strcmp(n, "ReminderMinutesBeforeStart") == 0) {
		char *v = ews_text(e);
		it->reminder_minutes = atoi(v);
		free(v);
	} else if (strcmp(n, "ExtendedProperty") == 0)
		return apply_extended(e, it);
	else if (strcmp(n, "UID") == 0) {
		char *v = raw_text(e);
		set_prop(it, PSETID_MEETING, UID_NAME, "String", v);
		free(v);
	} else if (strcmp(n, "Location") == 0) {
		char *v = raw_text(e);
		set_prop(it, PSETID_APPOINTMENT, LOCATION_NAME, "String", v);
		free(v);
	} else if (strcmp(n, "Start") == 0)
		set_str(&pt->start, ews_text(e));
	else if (strcmp(n, "End") == 0)
		set_str(&pt->end, ews_text(e));
	else if (strcmp(n, "IsAllDayEvent") == 0) {
		char *v = ews_text(e);
		it->is_all_day = ews_parse_bool(v);
		pt->all_day_changed = true;
		free(v);
	} else if (strcmp(n, "LegacyFreeBusyStatus") == 0)
		set_str(&it->show_as, ews_text(e));
	else if (strcmp(n, "StartTimeZone") == 0)
		set_str(&pt->start_tz, ews_attr(e, "Id"));
	else if (strcmp(n, "EndTimeZone") == 0)
		set_str(&pt->end_tz, ews_attr(e, "Id"));
	else if (strcmp(n, "MeetingTimeZone") == 0)
		set_str(&pt->meeting_tz, ews_attr(e, "TimeZoneName"));
	return NULL;
}

/* The zone a zone-less value is read in ([EWS time-zones-and-ews-in-exchange]). */
static const char *reading_zone(struct ews_ctx *c, const char *item_zone,
                                const struct pending_times *pt)
{
	if (c->version_rank < EWS_RANK_2010)
		return pt->meeting_tz ? pt->meeting_tz : "UTC";
	if (item_zone)
		return item_zone;
	if (c->tz_context)
		return c->tz_context;
	return "UTC";
}

/* zone NULL: a zone-less value has no documented reading here (refused). */
static const char *resolve_time(struct ews_ctx *c, const char *raw, const char *zone, int64_t *out)
{
	bool has_zone;
	int64_t t;
	if (ews_parse_datetime(raw, &t, &has_zone) != 0)
		return "ErrorInvalidValueForProperty";
	if (!has_zone && !zone)
		return "ErrorInvalidValueForProperty";
	if (!has_zone && strcmp(zone, "UTC") != 0 && ews_local_to_utc(c->tz, zone, t, &t) != 0)
		return "ErrorCalendarInvalidTimeZone";
	*out = t;
	return NULL;
}

/* Moves start back and end forward to midnights in their zones (all-day rule,
 * [EWS how-to-create-all-day-events-by-using-ews-in-exchange]). */
static void widen_all_day(struct ews_ctx *c, struct sim_item *it)
{
	int64_t wall;
	const char *sz = it->start_tz ? it->start_tz : "UTC";
	const char *ez = it->end_tz ? it->end_tz : sz;
	if (ews_utc_to_local(c->tz, sz, it->start, &wall) == 0) {
		int64_t mid = wall - ((wall % 86400) + 86400) % 86400;
		ews_local_to_utc(c->tz, sz, mid, &it->start);
	}
	if (ews_utc_to_local(c->tz, ez, it->end, &wall) == 0) {
		int64_t r = ((wall % 86400) + 86400) % 86400;
		if (r)
			ews_local_to_utc(c->tz, ez, wall - r + 86400, &it->end);
	}
}

static const char *check_zone(struct ews_ctx *c, const char *id)
{
	return id && !ews_tz_known(c->tz, id) ? "ErrorCalendarInvalidTimeZone" : NULL;
}

/* Applies the pending times to the item: zones first, then Start/End, then the all-day rule. */
static const char *resolve_times(struct ews_ctx *c, struct sim_item *it, struct pending_times *pt,
                                 bool creating)
{
	const char *err;
	if ((err = check_zone(c, pt->start_tz)) || (err = check_zone(c, pt->end_tz)) ||
	    (err = check_zone(c, pt->meeting_tz)))
		return err;
	if (c->tz_context && (pt->start || pt->end) && !ews_tz_known(c->tz, c->tz_context))
		return "ErrorCalendarInvalidTimeZone";
	const char *szone = reading_zone(c, pt->start_tz, pt);
	const char *ezone = reading_zone(c, pt->end_tz ? pt->end_tz : pt->start_tz, pt);
	/* A SetItemField's CalendarItem holds Start (or End) alone: a zone-less value is read in
	 * TimeZoneContext, else UTC (time-zones-and-ews-in-exchange, table 2), while the
	 * StartTimeZone of the same change or of the item is what the caller may have meant.
	 * Without a TimeZoneContext the two readings differ: refused rather than guessed. */
	if (!creating && c->version_rank >= EWS_RANK_2010)
		szone = ezone = c->tz_context;
	if (pt->start && (err = resolve_time(c, pt->start, szone, &it->start)))
		return err;
	if (pt->end && (err = resolve_time(c, pt->end, ezone, &it->end)))
		return err;
	if (creating || pt->start_tz || pt->meeting_tz) {
		/* the creation zone: StartTimeZone, else TimeZoneContext, else UTC
		 * ([EWS time-zones-and-ews-in-exchange]) */
		const char *cz = c->version_rank < EWS_RANK_2010
		                     ? (pt->meeting_tz ? pt->meeting_tz : "UTC")
		                     : (pt->start_tz    ? pt->start_tz
		                        : c->tz_context ? c->tz_context
		                                        : "UTC");
		set_str(&it->start_tz, xstrdup(cz));
		if (creating || pt->start_tz)
			set_str(&it->end_tz, xstrdup(pt->end_tz ? pt->end_tz : cz));
	}
	if (pt->end_tz)
		set_str(&it->end_tz, xstrdup(pt->end_tz));
	if (it->is_all_day && (pt->start || pt->end || pt->all_day_changed || pt->start_tz))
		widen_all_day(c, it);
	if (it->end <= it->start)
		return "ErrorCalendarEndDateIsEarlierThanStartDate";
	if (it->end - it->start > FIVE_YEARS)
		return "ErrorCalendarDurationIsTooLong";
	return NULL;
}

/* ---- item copies (so that a failed create or update leaves nothing behind) ---- */

static void fields_free(struct sim_item *it)
{
	free(it->subject);
	free(it->body);
	free(it->body_type);
	free(it->start_tz);
	free(it->end_tz);
	free(it->show_as);
	free(it->sensitivity);
	free(it->item_class);
	free_strv(it->categories);
	for (size_t i = 0; i < it->nprops; i++) {
		free(it->props[i].set_id);
		free(it->props[i].name);
		free(it->props[i].type);
		free(it->props[i].value);
	}
	free(it->props);
}

static void fields_copy(struct sim_item *dst, const struct sim_item *src)
{
	dst->subject = xstrdup(src->subject);
	dst->body = xstrdup(src->body);
	dst->body_type = xstrdup(src->body_type);
	dst->start_tz = xstrdup(src->start_tz);
	dst->end_tz = xstrdup(src->end_tz);
	dst->show_as = xstrdup(src->show_as);
	dst->sensitivity = xstrdup(src->sensitivity);
	dst->item_class = xstrdup(src->item_class);
	dst->categories = NULL;
	size_t n = 0;
	while (src->categories && src->categories[n])
		n++;
	if (n) {
		dst->categories = xcalloc(n + 1, sizeof *dst->categories);
		for (size_t i = 0; i < n; i++)
			dst->categories[i] = xstrdup(src->categories[i]);
	}
	dst->props = src->nprops ? xcalloc(src->nprops, sizeof *dst->props) : NULL;
	dst->nprops = src->nprops;
	for (size_t i = 0; i < src->nprops; i++) {
		dst->props[i].set_id = xstrdup(src->props[i].set_id);
		dst->props[i].name = xstrdup(src->props[i].name);
		dst->props[i].type = xstrdup(src->props[i].type);
		dst->props[i].value = xstrdup(src->props[i].value);
	}
	dst->start = src->start;
	dst->end = src->end;
	dst->is_all_day = src->is_all_day;
	dst->reminder_is_set = src->reminder_is_set;
	dst->reminder_minutes = src->reminder_minutes;
}

/* Moves the editable fields of src into dst (freeing dst's old ones); src is left empty. */
static void fields_move(struct sim_item *dst, struct sim_item *src)
{
	fields_free(dst);
	dst->subject = src->subject;
	dst->body = src->body;
	dst->body_type = src->body_type;
	dst->start_tz = src->start_tz;
	dst->end_tz = src->end_tz;
	dst->show_as = src->show_as;
	dst->sensitivity = src->sensitivity;
	dst->item_class = src->item_class;
	dst->categories = src->categories;
	dst->props = src->props;
	dst->nprops = src->nprops;
	dst->start = src->start;
	dst->end = src->end;
	dst->is_all_day = src->is_all_day;
	dst->reminder_is_set = src->reminder_is_set;
	dst->reminder_minutes = src->reminder_minutes;
	memset(src, 0, sizeof *src);
}

/* ---- CreateItem ---- */

void ews_item_take_fields(struct sim_item *dst, struct sim_item *src)
{
	fields_move(dst, src);
}

void ews_item_free_fields(struct sim_item *it)
{
	fields_free(it);
	memset(it, 0, sizeof *it);
}

const char *ews_item_from_xml(struct ews_ctx *c, xmlNodePtr ci, struct sim_item *out)
{
	struct sim_item defaults = {0};
	struct pending_times pt = {0};
	defaults.subject = (char *)"";
	defaults.body_type = (char *)"Text";
	defaults.show_as = (char *)"Busy";
	defaults.sensitivity = (char *)"Normal";
	defaults.item_class = (char *)"IPM.Appointment";
	defaults.reminder_is_set = true; /* Exchange's default reminder: set, 15 minutes */
	defaults.reminder_minutes = 15;
	/* Without Start/End, Exchange uses the next half hour and a 30-minute duration. */
	int64_t now = sim_now(c->s);
	defaults.start = now - now % 1800 + 1800;
	defaults.end = defaults.start + 1800;
	memset(out, 0, sizeof *out);
	fields_copy(out, &defaults);
	const char *err = NULL;
	for (xmlNodePtr e = ews_first_elem(ci); e && !err; e = ews_next_elem(e))
		err = apply_element(e, out, &pt);
	if (!err)
		err = resolve_times(c, out, &pt, true);
	if (err)
		ews_item_free_fields(out);
	pending_free(&pt);
	return err;
}

/* ---- UpdateItem ---- */

/* The single property element a SetItemField/AppendToItemField carries inside its item. */
static xmlNodePtr change_payload(xmlNodePtr change)
{
	for (xmlNodePtr e = ews_first_elem(change); e; e = ews_next_elem(e))
		if (!ews_is(e, EWS_NS_T, "FieldURI") && !ews_is(e, EWS_NS_T, "ExtendedFieldURI") &&
		    !ews_is(e, EWS_NS_T, "IndexedFieldURI"))
			return e;
	return NULL;
}

static const char *set_field(xmlNodePtr change, struct sim_item *it, struct pending_times *pt,
                             bool append)
{
	xmlNodePtr path = ews_first_elem(change);
	xmlNodePtr item = change_payload(change);
	if (!item || !ews_is(item, EWS_NS_T, "CalendarItem"))
		return "ErrorInvalidItemForOperation";
	xmlNodePtr prop = ews_first_elem(item);
	if (!prop || ews_next_elem(prop))
		return "ErrorIncorrectUpdatePropertyCount";
	if (ews_is(path, EWS_NS_T, "ExtendedFieldURI")) {
		struct ews_extpath want, got;
		if (!ews_is(prop, EWS_NS_T, "ExtendedProperty") ||
		    ews_extpath_parse(path, &want) != 0 ||
		    ews_extpath_parse(ews_child(prop, EWS_NS_T, "ExtendedFieldURI"), &got) != 0 ||
		    strcmp(want.set_id, got.set_id) != 0 || strcmp(want.name, got.name) != 0)
			return "ErrorIncorrectUpdatePropertyCount";
		return apply_element(prop, it, pt);
	}
	char *uri = ews_attr(path, "FieldURI");
	int f = uri ? field_by_uri(uri) : -1;
	free(uri);
	if (f < 0 || strcmp((const char *)prop->name, element_of_field(f)) != 0)
		return "ErrorIncorrectUpdatePropertyCount";
	if (append) {
		if (f != F_BODY)
			return "ErrorInvalidPropertyAppend";
		char *add = raw_text(prop);
		struct buf b = BUF_INIT;
		buf_puts(&b, it->body ? it->body : "");
		buf_puts(&b, add);
		free(add);
		set_str(&it->body, buf_steal(&b));
		return NULL;
	}
	return apply_element(prop, it, pt);
}

static const char *delete_field(xmlNodePtr change, struct sim_item *it)
{
	xmlNodePtr path = ews_first_elem(change);
	if (ews_is(path, EWS_NS_T, "ExtendedFieldURI")) {
		struct ews_extpath p;
		if (ews_extpath_parse(path, &p) != 0)
			return "ErrorInvalidExtendedProperty";
		del_prop(it, p.set_id, p.name);
		return NULL;
	}
	char *uri = ews_attr(path, "FieldURI");
	int f = uri ? field_by_uri(uri) : -1;
	free(uri);
	switch (f) {
	case F_SUBJECT:
		set_str(&it->subject, xstrdup(""));
		return NULL;
	case F_BODY:
		set_str(&it->body, NULL);
		return NULL;
	case F_CATEGORIES:
		free_strv(it->categories);
		it->categories = NULL;
		return NULL;
	case F_LOCATION:
		del_prop(it, PSETID_APPOINTMENT, LOCATION_NAME);
		return NULL;
	case F_REMINDER_MINUTES:
		it->reminder_minutes = 15;
		return NULL;
	case F_REMINDER_IS_SET:
		it->reminder_is_set = false;
		return NULL;
	case F_SENSITIVITY:
		set_str(&it->sensitivity, xstrdup("Normal"));
		return NULL;
	case F_FREE_BUSY:
		set_str(&it->show_as, xstrdup("Busy"));
		return NULL;
	default:
		return "ErrorInvalidPropertyDelete";
	}
}

const char *ews_item_apply_updates(struct ews_ctx *c, xmlNodePtr updates, struct sim_item *it)
{
	struct sim_item tmp;
	struct pending_times pt = {0};
	memset(&tmp, 0, sizeof tmp);
	fields_copy(&tmp, it);
	const char *err = NULL;
	for (xmlNodePtr u = ews_first_elem(updates); u && !err; u = ews_next_elem(u)) {
		if (ews_is(u, EWS_NS_T, "SetItemField"))
			err = set_field(u, &tmp, &pt, false);
		else if (ews_is(u, EWS_NS_T, "AppendToItemField"))
			err = set_field(u, &tmp, &pt, true);
		else if (ews_is(u, EWS_NS_T, "DeleteItemField"))
			err = delete_field(u, &tmp);
	}
	if (!err)
		err = resolve_times(c, &tmp, &pt, false);
	if (!err)
		fields_move(it, &tmp);
	else
		fields_free(&tmp);
	pending_free(&pt);
	return err;
}

/* ---- values for restrictions ---- */

int ews_item_value(const struct sim_item *it, xmlNodePtr path, struct ews_value *v)
{
	memset(v, 0, sizeof *v);
	if (ews_is(path, EWS_NS_T, "ExtendedFieldURI")) {
		struct ews_extpath p;
		if (ews_extpath_parse(path, &p) != 0)
			return -1;
		v->s = sim_item_extprop(it, p.set_id, p.name);
		v->kind = v->s ? EWS_V_STRING : EWS_V_ABSENT;
		return 0;
	}
	if (!ews_is(path, EWS_NS_T, "FieldURI"))
		return -1;
	char *uri = ews_attr(path, "FieldURI");
	int f = uri ? field_by_uri(uri) : -1;
	free(uri);
	switch (f) {
	case F_SUBJECT:
		v->kind = EWS_V_STRING;
		v->s = it->subject;
		break;
	case F_ITEM_CLASS:
		v->kind = EWS_V_STRING;
		v->s = it->item_class;
		break;
	case F_SENSITIVITY:
		v->kind = EWS_V_STRING;
		v->s = it->sensitivity;
		break;
	case F_FREE_BUSY:
		v->kind = EWS_V_STRING;
		v->s = it->show_as;
		break;
	case F_LOCATION:
		v->s = sim_item_extprop(it, PSETID_APPOINTMENT, LOCATION_NAME);
		v->kind = v->s ? EWS_V_STRING : EWS_V_ABSENT;
		break;
	case F_CATEGORIES:
		v->list = it->categories;
		v->kind = it->categories ? EWS_V_STRINGS : EWS_V_ABSENT;
		break;
	case F_START:
		v->kind = EWS_V_TIME;
		v->n = it->start;
		break;
	case F_END:
		v->kind = EWS_V_TIME;
		v->n = it->end;
		break;
	case F_DATE_CREATED:
		v->kind = EWS_V_TIME;
		v->n = it->created;
		break;
	case F_LAST_MODIFIED:
		v->kind = EWS_V_TIME;
		v->n = it->modified;
		break;
	case F_IS_ALL_DAY:
		v->kind = EWS_V_BOOL;
		v->n = it->is_all_day;
		break;
	case F_REMINDER_IS_SET:
		v->kind = EWS_V_BOOL;
		v->n = it->reminder_is_set;
		break;
	default:
		return -1; /* e.g. calendar:UID is not searchable (exchangelib's
		              items/calendar_item.py: uid is_searchable=False) */
	}
	return 0;
}
