/* FindItem and SyncFolderItems of the EWS simulator ([EWS ref calendarview],
 * [EWS ref finditem-operation], [EWS ref syncfolderitems-operation], [EWS
 * ews-throttling-in-exchange]).
 *  - CalendarView: StartDate/EndDate required, EndDate before StartDate and ranges over two years
 * refused, more than 1000 items in range -> ErrorExceededFindCountLimit (PolicyLimit 1000) whatever
 *    MaxEntriesReturned says; otherwise truncated at MaxEntriesReturned with
 * IncludesLastItemInRange false; never combined with a Restriction. Items ending exactly at
 * StartDate are included (as exchangelib observes of Exchange).
 *  - IndexedPageItemView: Offset/BasePoint paging; at most 1000 items per page, 250 with a
 * Restriction.
 *  - Restriction: And, Or, Not, Exists, IsEqualTo, IsNotEqualTo, IsGreaterThan(OrEqualTo),
 *    IsLessThan(OrEqualTo), Contains, on extended properties and the common calendar FieldURIs.
 *  - SyncFolderItems: the SyncState is an opaque base64 blob listing the (id, change) pairs the
 * client has seen, with a checksum; anything else is ErrorInvalidSyncStateData. */
#include "tools/m365sim/ews_int.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIND_COUNT_LIMIT 1000
#define RESTRICTED_FIND_LIMIT 250
#define TWO_YEARS (731LL * 86400)

/* ---- restrictions ---- */

static int compare_value(const struct ews_value *v, const char *constant, bool *ok)
{
	*ok = true;
	switch (v->kind) {
	case EWS_V_STRING:
		return strcasecmp(v->s ? v->s : "", constant);
	case EWS_V_TIME: {
		int64_t t;
		bool zone;
		if (ews_parse_datetime(constant, &t, &zone) != 0) {
			*ok = false;
			return 0;
		}
		return v->n < t ? -1 : v->n > t;
	}
	case EWS_V_BOOL:
		return (int)v->n - (int)ews_parse_bool(constant);
	case EWS_V_STRINGS:
		for (size_t i = 0; v->list && v->list[i]; i++)
			if (strcasecmp(v->list[i], constant) == 0)
				return 0;
		return 1;
	default:
		*ok = false;
		return 0;
	}
}

static bool contains(const struct ews_value *v, xmlNodePtr node, const char *constant)
{
	char *mode = ews_attr(node, "ContainmentMode");
	char *cmp = ews_attr(node, "ContainmentComparison");
	bool icase = !cmp || strcasestr(cmp, "IgnoreCase") || strcmp(cmp, "Loose") == 0;
	bool result = false;
	const char *strs[2] = {v->s, NULL};
	char **list = v->kind == EWS_V_STRINGS ? v->list : (char **)strs;
	for (size_t i = 0; list && list[i] && !result; i++) {
		const char *s = list[i];
		if (mode && strcmp(mode, "FullString") == 0)
			result = icase ? strcasecmp(s, constant) == 0 : strcmp(s, constant) == 0;
		else if (mode && strcmp(mode, "Prefixed") == 0)
			result = icase ? strncasecmp(s, constant, strlen(constant)) == 0
			               : strncmp(s, constant, strlen(constant)) == 0;
		else
			result =
			    icase ? strcasestr(s, constant) != NULL : strstr(s, constant) != NULL;
	}
	free(mode);
	free(cmp);
	return result;
}

static bool leaf_matches(xmlNodePtr node, const struct sim_item *it, bool *unsupported)
{
	const char *op = (const char *)node->name;
	xmlNodePtr path = ews_first_elem(node);
	struct ews_value v;
	if (ews_item_value(it, path, &v) != 0) {
		*unsupported = true;
		return false;
	}
	if (strcmp(op, "Exists") == 0)
		return v.kind != EWS_V_ABSENT;
	xmlNodePtr cnode = ews_child(node, EWS_NS_T, "Constant");
	if (!cnode)
		cnode = ews_child(ews_child(node, EWS_NS_T, "FieldURIOrConstant"), EWS_NS_T,
		                  "Constant");
	if (!cnode) {
		*unsupported = true; /* comparing two properties */
		return false;
	}
	char *constant = ews_attr(cnode, "Value");
	bool result = false, ok = true;
	if (v.kind == EWS_V_ABSENT) {
		result = strcmp(op, "IsNotEqualTo") == 0;
	} else if (strcmp(op, "Contains") == 0) {
		result = contains(&v, node, constant ? constant : "");
	} else {
		int c = compare_value(&v, constant ? constant : "", &ok);
		if (strcmp(op, "IsEqualTo") == 0)
			result = c == 0;
		else if (strcmp(op, "IsNotEqualTo") == 0)
			result = c != 0;
		else if (strcmp(op, "IsGreaterThan") == 0)
			result = c > 0;
		else if (strcmp(op, "IsGreaterThanOrEqualTo") == 0)
			result = c >= 0;
		else if (strcmp(op, "IsLessThan") == 0)
			result = c < 0;
		else if (strcmp(op, "IsLessThanOrEqualTo") == 0)
			result = c <= 0;
		else
			*unsupported = true;
	}
	free(constant);
	return ok && result;
}

bool ews_restriction_matches(xmlNodePtr node, const struct sim_item *it, bool *unsupported)
{
	if (!node)
		return true;
	const char *op = (const char *)node->name;
	if (strcmp(op, "And") == 0) {
		for (xmlNodePtr c = ews_first_elem(node); c; c = ews_next_elem(c))
			if (!ews_restriction_matches(c, it, unsupported))
				return false;
		return true;
	}
	if (strcmp(op, "Or") == 0) {
		for (xmlNodePtr c = ews_first_elem(node); c; c = ews_next_elem(c))
			if (ews_restriction_matches(c, it, unsupported))
				return true;
		return false;
	}
	if (strcmp(op, "Not") == 0)
		return !ews_restriction_matches(ews_first_elem(node), it, unsupported);
	if (strcmp(op, "Excludes") == 0) {
		*unsupported = true;
		return false;
	}
	return leaf_matches(node, it, unsupported);
}

/* ---- FindItem ---- */

struct found {
	struct sim_item **v;
	size_t n;
};

static int by_start(const void *a, const void *b)
{
	const struct sim_item *x = *(struct sim_item *const *)a, *y = *(struct sim_item *const *)b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->change_seq < y->change_seq ? -1 : x->change_seq > y->change_seq;
}

/* Items of a folder that pass the restriction, sorted by start. Returns an error code or NULL. */
static const char *collect(struct sim_mailbox *mb, const char *folder, xmlNodePtr restriction,
                           struct found *f)
{
	bool unsupported = false;
	f->v = xmalloc((mb->nitems + 1) * sizeof *f->v);
	f->n = 0;
	for (size_t i = 0; i < mb->nitems && !unsupported; i++) {
		struct sim_item *it = mb->items[i];
		if (!it->deleted && strcmp(it->folder, folder) == 0 &&
		    ews_restriction_matches(restriction, it, &unsupported))
			f->v[f->n++] = it;
	}
	if (unsupported)
		return "ErrorUnsupportedPathForQuery";
	qsort(f->v, f->n, sizeof *f->v, by_start);
	return NULL;
}

static void write_root(struct ews_ctx *c, struct sim_mailbox *mb, struct sim_item **items, size_t n,
                       size_t total, bool last, long offset, const struct ews_shape *shape)
{
	char num[32];
	ews_w_start(&c->out, "m", "RootFolder");
	if (offset >= 0) {
		snprintf(num, sizeof num, "%ld", offset);
		ews_w_attr(&c->out, "IndexedPagingOffset", num);
	}
	snprintf(num, sizeof num, "%zu", total);
	ews_w_attr(&c->out, "TotalItemsInView", num);
	ews_w_attr(&c->out, "IncludesLastItemInRange", last ? "true" : "false");
	ews_w_start(&c->out, "t", "Items");
	for (size_t i = 0; i < n; i++)
		ews_write_item(c, mb, items[i], shape);
	ews_w_end(&c->out);
	ews_w_end(&c->out);
}

static long attr_long(xmlNodePtr n, const char *name, long dflt)
{
	char *v = ews_attr(n, name);
	long r = v ? strtol(v, NULL, 10) : dflt;
	free(v);
	return r;
}

static const char *view_time(struct ews_ctx *c, xmlNodePtr view, const char *name, int64_t *t)
{
	char *v = ews_attr(view, name);
	bool zone = false;
	int rc = v ? ews_parse_datetime(v, t, &zone) : -1;
	free(v);
	if (rc != 0)
		return "ErrorInvalidRequest";
	if (!zone && c->tz_context && c->version_rank >= EWS_RANK_2010 &&
	    ews_local_to_utc(c->tz, c->tz_context, *t, t) != 0)
		return "ErrorCalendarInvalidTimeZone";
	return NULL;
}

static void find_calendar_view(struct ews_ctx *c, xmlNodePtr view, struct sim_mailbox *mb,
                               const char *folder, const struct ews_shape *shape)
{
	int64_t start = 0, end = 0;
	const char *err = view_time(c, view, "StartDate", &start);
	if (!err)
		err = view_time(c, view, "EndDate", &end);
	if (!err && strcmp(folder, "calendar") != 0)
		err = "ErrorCalendarFolderIsInvalidForCalendarView";
	if (!err && end < start)
		err = "ErrorCalendarEndDateIsEarlierThanStartDate";
	if (!err && end - start > TWO_YEARS)
		err = "ErrorCalendarViewRangeTooBig";
	struct found all = {0};
	if (!err)
		err = collect(mb, folder, NULL, &all);
	size_t n = 0;
	for (size_t i = 0; !err && i < all.n; i++)
		if (all.v[i]->end >= start && all.v[i]->start < end)
			all.v[n++] = all.v[i];
	if (!err && n > FIND_COUNT_LIMIT) {
		ews_msg_error(&c->out, "FindItem", "ErrorExceededFindCountLimit", "PolicyLimit",
		              "1000");
	} else if (err) {
		ews_msg_error(&c->out, "FindItem", err, NULL, NULL);
	} else {
		size_t max = (size_t)attr_long(view, "MaxEntriesReturned", FIND_COUNT_LIMIT);
		size_t shown = n < max ? n : max;
		ews_msg_begin(&c->out, "FindItem", NULL);
		write_root(c, mb, all.v, shown, n, shown == n, -1, shape);
		ews_msg_end(&c->out);
	}
	free(all.v);
}

static void find_indexed(struct ews_ctx *c, xmlNodePtr view, xmlNodePtr restriction,
                         struct sim_mailbox *mb, const char *folder, const struct ews_shape *shape)
{
	struct found all = {0};
	const char *err = collect(mb, folder, restriction, &all);
	if (err) {
		ews_msg_error(&c->out, "FindItem", err, NULL, NULL);
		free(all.v);
		return;
	}
	long limit = restriction ? RESTRICTED_FIND_LIMIT : FIND_COUNT_LIMIT;
	long max = view ? attr_long(view, "MaxEntriesReturned", limit) : limit;
	long offset = view && ews_is(view, EWS_NS_M, "IndexedPageItemView")
	                  ? attr_long(view, "Offset", 0)
	                  : 0;
	char *base = view ? ews_attr(view, "BasePoint") : NULL;
	bool from_end = base && strcmp(base, "End") == 0;
	free(base);
	if (max > limit)
		max = limit;
	long total = (long)all.n, first = from_end ? total - offset - max : offset;
	long stop = from_end ? total - offset : offset + max;
	if (first < 0)
		first = 0;
	if (stop > total)
		stop = total;
	if (stop < first)
		stop = first;
	bool last = from_end ? first == 0 : stop >= total;
	ews_msg_begin(&c->out, "FindItem", NULL);
	write_root(c, mb, all.v + first, (size_t)(stop - first), all.n, last,
	           from_end ? total - first : stop, shape);
	ews_msg_end(&c->out);
	free(all.v);
}

void ews_op_find_item(struct ews_ctx *c)
{
	xmlNodePtr op = c->env->op;
	struct ews_shape shape;
	ews_shape_parse(ews_child(op, EWS_NS_M, "ItemShape"), &shape, true);
	xmlNodePtr cal = ews_child(op, EWS_NS_M, "CalendarView");
	xmlNodePtr view = cal ? cal : ews_child(op, EWS_NS_M, "IndexedPageItemView");
	if (!view)
		view = ews_child(op, EWS_NS_M, "FractionalPageItemView");
	xmlNodePtr restriction = ews_first_elem(ews_child(op, EWS_NS_M, "Restriction"));
	char *traversal = ews_attr(op, "Traversal");
	bool hidden = traversal && (strcmp(traversal, "SoftDeleted") == 0 ||
	                            strcmp(traversal, "Associated") == 0);
	free(traversal);
	ews_out_begin(&c->out, "FindItem");
	xmlNodePtr parents = ews_child(op, EWS_NS_M, "ParentFolderIds");
	for (xmlNodePtr fid = ews_first_elem(parents); fid; fid = ews_next_elem(fid)) {
		struct sim_mailbox *mb = NULL;
		char folder[128];
		const char *err = ews_resolve_folder(c, fid, &mb, folder, sizeof folder);
		/* "Restrictions and sort order may not be specified for a CalendarView"
		 * ([EWS ref calendarview]) */
		if (!err && cal && (restriction || ews_child(op, EWS_NS_M, "SortOrder")))
			err = "ErrorInvalidRestriction";
		if (err)
			ews_msg_error(&c->out, "FindItem", err, NULL, NULL);
		else if (hidden) /* associated and soft-deleted items: none in this simulator */
			find_indexed(c, NULL, restriction, mb, "\x01none", &shape);
		else if (cal)
			find_calendar_view(c, cal, mb, folder, &shape);
		else
			find_indexed(c, view, restriction, mb, folder, &shape);
	}
}

/* ---- SyncFolderItems ---- */

struct sync_entry {
	char *id;
	int64_t seq;
	bool seen;
};

struct sync_state {
	struct sync_entry *v;
	size_t n, cap;
};

static void state_add(struct sync_state *st, const char *id, int64_t seq)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 32;
		st->v = xrealloc(st->v, st->cap * sizeof *st->v);
	}
	st->v[st->n].id = xstrdup(id);
	st->v[st->n].seq = seq;
	st->v[st->n].seen = false;
	st->n++;
}

static void state_free(struct sync_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->v[i].id);
	free(st->v);
	memset(st, 0, sizeof *st);
}

static int by_id(const void *a, const void *b)
{
	const struct sync_entry *x = a, *y = b;
	return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static char *state_encode(struct sync_state *st, const char *smtp, const char *folder)
{
	struct buf b = BUF_INIT;
	if (st->n)
		qsort(st->v, st->n, sizeof *st->v, by_id);
	buf_printf(&b, "LSS1\n%s\n%s\n", smtp, folder);
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].id)
			buf_printf(&b, "%s %lld\n", st->v[i].id, (long long)st->v[i].seq);
	buf_printf(&b, "#%016llx\n", (unsigned long long)fnv1a(b.data, b.len));
	char *out = ews_b64_encode(b.data, b.len);
	buf_free(&b);
	return out;
}

static int state_decode(const char *text, const char *smtp, const char *folder,
                        struct sync_state *st)
{
	size_t len;
	unsigned char *raw = ews_b64_decode(text, &len);
	if (!raw)
		return -1;
	raw[len] = '\0';
	char *s = (char *)raw, *hash = strrchr(s, '#');
	char head[512];
	snprintf(head, sizeof head, "LSS1\n%s\n%s\n", smtp, folder);
	int rc = -1;
	if (hash && strlen(s) == len && strncmp(s, head, strlen(head)) == 0 &&
	    strtoull(hash + 1, NULL, 16) == fnv1a(s, (size_t)(hash - s))) {
		*hash = '\0';
		rc = 0;
		for (char *line = s + strlen(head), *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			char *sp = strchr(line, ' ');
			if (!nl || !sp || sp > nl) {
				rc = -1;
				break;
			}
			*sp = *nl = '\0';
			state_add(st, line, strtoll(sp + 1, NULL, 10));
		}
	}
	free(raw);
	if (rc != 0)
		state_free(st);
	return rc;
}

static struct sync_entry *state_find(struct sync_state *st, const char *id)
{
	struct sync_entry key = {(char *)id, 0, false};
	if (st->n == 0)
		return NULL;
	return bsearch(&key, st->v, st->n, sizeof *st->v, by_id);
}

static bool ignored(xmlNodePtr ignore, const char *id)
{
	for (xmlNodePtr i = ews_first_elem(ignore); i; i = ews_next_elem(i)) {
		char *v = ews_attr(i, "Id");
		bool same = v && strcmp(v, id) == 0;
		free(v);
		if (same)
			return true;
	}
	return false;
}

struct sync_run {
	struct ews_ctx *c;
	struct sim_mailbox *mb;
	const struct ews_shape *shape;
	struct sync_state *st, added;
	long max, emitted;
	bool more;
};

static void emit_change(struct sync_run *r, const char *kind, struct sim_item *it,
                        struct sync_entry *gone)
{
	if (r->emitted >= r->max) {
		r->more = true;
		return;
	}
	r->emitted++;
	ews_w_start(&r->c->out, "t", kind);
	if (gone) {
		ews_w_start(&r->c->out, "t", "ItemId");
		ews_w_attr(&r->c->out, "Id", gone->id);
		ews_w_end(&r->c->out);
		free(gone->id);
		gone->id = NULL; /* dropped from the new state */
	} else {
		ews_write_item(r->c, r->mb, it, r->shape);
		struct sync_entry *e = state_find(r->st, it->ews_id);
		if (e)
			e->seq = it->change_seq;
		else
			state_add(&r->added, it->ews_id, it->change_seq);
	}
	ews_w_end(&r->c->out);
}

static void sync_changes(struct sync_run *r, const char *folder, xmlNodePtr ignore)
{
	for (size_t i = 0; i < r->mb->nitems; i++) {
		struct sim_item *it = r->mb->items[i];
		if (it->deleted || strcmp(it->folder, folder) != 0)
			continue;
		struct sync_entry *e = state_find(r->st, it->ews_id);
		if (e)
			e->seen = true;
		if (ignored(ignore, it->ews_id)) {
			if (!e)
				state_add(&r->added, it->ews_id, it->change_seq);
			else
				e->seq = it->change_seq;
			continue;
		}
		if (!e)
			emit_change(r, "Create", it, NULL);
		else if (e->seq != it->change_seq)
			emit_change(r, "Update", it, NULL);
	}
	for (size_t i = 0; i < r->st->n; i++)
		if (!r->st->v[i].seen && r->st->v[i].id)
			emit_change(r, "Delete", NULL, &r->st->v[i]);
}

void ews_op_sync_folder_items(struct ews_ctx *c)
{
	xmlNodePtr op = c->env->op;
	struct ews_shape shape;
	struct sim_mailbox *mb = NULL;
	char folder[128];
	struct sync_state st = {0};
	ews_shape_parse(ews_child(op, EWS_NS_M, "ItemShape"), &shape, true);
	ews_out_begin(&c->out, "SyncFolderItems");
	const char *err = ews_resolve_folder(
	    c, ews_first_elem(ews_child(op, EWS_NS_M, "SyncFolderId")), &mb, folder, sizeof folder);
	if (err) {
		ews_msg_error(&c->out, "SyncFolderItems", err, NULL, NULL);
		return;
	}
	char *text = ews_text(ews_child(op, EWS_NS_M, "SyncState"));
	if (*text && state_decode(text, mb->user->mail, folder, &st) != 0) {
		ews_msg_begin(&c->out, "SyncFolderItems", "ErrorInvalidSyncStateData");
		ews_w_text_elem(&c->out, "m", "SyncState", NULL);
		ews_w_text_elem(&c->out, "m", "IncludesLastItemInRange", "true");
		ews_msg_end(&c->out);
		free(text);
		return;
	}
	free(text);
	char *max = ews_text(ews_child(op, EWS_NS_M, "MaxChangesReturned"));
	struct sync_run r = {c, mb, &shape, &st, {0}, atol(max), 0, false};
	free(max);
	/* The changes are written before the state they lead to is known: write them into a side
	 * writer, then the message in schema order (SyncState, IncludesLastItemInRange, Changes).
	 */
	struct ews_out main_out = c->out;
	c->out.xbuf = xmlBufferCreate();
	c->out.w = xmlNewTextWriterMemory(c->out.xbuf, 0);
	xmlTextWriterStartElementNS(c->out.w, BAD_CAST "m", BAD_CAST "Changes", NULL);
	sync_changes(&r, folder, ews_child(op, EWS_NS_M, "Ignore"));
	xmlTextWriterEndElement(c->out.w);
	xmlTextWriterFlush(c->out.w);
	xmlFreeTextWriter(c->out.w);
	xmlBufferPtr changes = c->out.xbuf;
	c->out = main_out;
	for (size_t i = 0; i < r.added.n; i++)
		state_add(&st, r.added.v[i].id, r.added.v[i].seq);
	char *next = state_encode(&st, mb->user->mail, folder);
	ews_msg_begin(&c->out, "SyncFolderItems", NULL);
	ews_w_text_elem(&c->out, "m", "SyncState", next);
	ews_w_text_elem(&c->out, "m", "IncludesLastItemInRange", r.more ? "false" : "true");
	xmlTextWriterWriteRaw(c->out.w, xmlBufferContent(changes));
	ews_msg_end(&c->out);
	xmlBufferFree(changes);
	free(next);
	state_free(&st);
	state_free(&r.added);
}
