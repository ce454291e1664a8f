/* m365sim Graph view: collections — /events (with the extended-property $filter), calendarView
 * (window, paging with an opaque $skiptoken) and calendarView/delta (nextLink/deltaLink, @removed,
 * 410 on a dead token). Tokens are self-contained: the window and the mailbox's change sequence,
 * so a delta round reports exactly the items whose change_seq moved. [doc: api/event-delta,
 * delta-query-events, user-list-calendarview] */
#include "graph.h"

#include "common/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WINDOW_REQUIRED                                                                            \
	"This request requires a time window specified by the query string parameters "            \
	"StartDateTime and EndDateTime."

/* ---- opaque tokens: base64url of a '|'-separated record ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64url_encode(const char *s)
{
	size_t n = strlen(s);
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], b64[(v >> 6) & 63],
		             b64[v & 63]};
		buf_append(&b, q, i + 2 < n ? 4 : i + 1 < n ? 3 : 2);
	}
	return buf_steal(&b);
}

static char *b64url_decode(const char *s)
{
	struct buf b = BUF_INIT;
	unsigned acc = 0;
	int bits = 0;

	for (; *s; s++) {
		const char *p = strchr(b64, *s);
		if (!p || !*s) {
			buf_free(&b);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			char ch = (char)((acc >> bits) & 0xFF);
			buf_append(&b, &ch, 1);
		}
	}
	if (!b.data)
		buf_puts(&b, "");
	return buf_steal(&b);
}

/* ---- helpers ---- */

int graph_page_size(const struct graph_req *r, bool honor_maxpagesize, struct graph_reply *out)
{
	char *top = graph_query_get(r->query, "$top");
	int n = GRAPH_DEFAULT_PAGE;

	if (honor_maxpagesize && r->prefs.maxpagesize > 0) {
		char applied[48];
		n = r->prefs.maxpagesize < GRAPH_MAX_PAGE ? r->prefs.maxpagesize : GRAPH_MAX_PAGE;
		snprintf(applied, sizeof applied, "odata.maxpagesize=%d", n);
		graph_reply_header(out, "Preference-Applied", applied);
	}
	if (top && atoi(top) > 0)
		n = atoi(top) < GRAPH_MAX_PAGE ? atoi(top) : GRAPH_MAX_PAGE;
	free(top);
	return n;
}

static bool in_calendar(const struct sim_item *it)
{
	return !it->deleted && it->folder && strcasecmp(it->folder, "calendar") == 0;
}

static bool overlaps(const struct sim_item *it, int64_t start, int64_t end)
{
	if (it->start == it->end)
		return it->start >= start && it->start < end;
	return it->start < end && it->end > start;
}

static int by_start(const void *a, const void *b)
{
	const struct sim_item *x = *(struct sim_item *const *)a, *y = *(struct sim_item *const *)b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->immutable_id, y->immutable_id);
}

static int by_change(const void *a, const void *b)
{
	const struct sim_item *x = *(struct sim_item *const *)a, *y = *(struct sim_item *const *)b;

	return x->change_seq < y->change_seq ? -1 : x->change_seq > y->change_seq;
}

/* base + "/v1.0" + path + "?" + the query without $skiptoken + the new token parameter. */
static char *link_to(struct graph_ctx *c, const struct graph_req *r, const char *keep_query,
                     const char *param, const char *token)
{
	struct buf b = BUF_INIT;
	bool first = true;

	buf_printf(&b, "%s/v1.0%s", c->base_url, r->path);
	for (const char *p = keep_query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (strncasecmp(p, "$skiptoken=", 11) != 0 &&
		    strncasecmp(p, "%24skiptoken=", 13) != 0 &&
		    strncasecmp(p, "$deltatoken=", 12) != 0 && n) {
			buf_puts(&b, first ? "?" : "&");
			buf_append(&b, p, n);
			first = false;
		}
		p = amp ? amp + 1 : NULL;
	}
	buf_printf(&b, "%s%s=%s", first ? "?" : "&", param, token);
	return buf_steal(&b);
}

static json_t *event_for_list(struct graph_ctx *c, const struct graph_req *r,
                              const struct graph_target *t, const struct sim_item *it)
{
	json_t *ev = graph_event_json(c, r, t, it);
	char *select = graph_query_get(r->query, "$select");
	char bad[64];

	if (select)
		graph_select_apply(ev, select, bad, sizeof bad);
	free(select);
	return ev;
}

/* Pages a sorted list after the keyset position in $skiptoken ("start|immutable_id"). */
static void reply_page(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                       struct sim_item **items, size_t n, const char *context,
                       struct graph_reply *out)
{
	char *tok = graph_query_get(r->query, "$skiptoken"), *raw = tok ? b64url_decode(tok) : NULL;
	/* Prefer: odata.maxpagesize is documented for delta only [doc: api/event-delta]; events and
	 * calendarView are not said to honour it, so they page by 10 (or $top), as the worst case
	 * a client must handle */
	size_t first = 0, size = (size_t)graph_page_size(r, false, out);
	json_t *value = json_array(), *body;
	char ctx[512];

	if (tok && (!raw || !strchr(raw, '|'))) {
		graph_error(c, r, out, 400, "ErrorInvalidUrlQuery",
		            "The value of the $skiptoken parameter is invalid.");
		free(tok);
		free(raw);
		json_decref(value);
		return;
	}
	if (raw) {
		long long ks = 0;
		const char *bar = strchr(raw, '|');
		ks = strtoll(raw, NULL, 10);
		while (first < n && bar &&
		       (items[first]->start < ks ||
		        (items[first]->start == ks &&
		         strcmp(items[first]->immutable_id, bar + 1) <= 0)))
			first++;
	}
	for (size_t i = first; i < n && i < first + size; i++)
		json_array_append_new(value, event_for_list(c, r, t, items[i]));
	snprintf(ctx, sizeof ctx, "%s/v1.0/$metadata#users('%s')/%s", c->base_url, t->user->upn,
	         context);
	body = json_pack("{s:s,s:o}", "@odata.context", ctx, "value", value);
	if (first + size < n) {
		const struct sim_item *last = items[first + size - 1];
		struct buf key = BUF_INIT;
		buf_printf(&key, "%" PRId64 "|%s", last->start, last->immutable_id);
		char *enc = b64url_encode(key.data);
		char *link = link_to(c, r, r->query, "$skiptoken", enc);
		json_object_set_new(body, "@odata.nextLink", json_string(link));
		free(link);
		free(enc);
		buf_free(&key);
	}
	graph_reply_json(out, 200, body);
	free(tok);
	free(raw);
}

/* Items of the default calendar that pass $filter and the window (when start < end). */
static struct sim_item **select_items(const struct graph_target *t, const struct graph_filter *f,
                                      int64_t start, int64_t end, size_t *n)
{
	struct sim_item **v = xcalloc(t->mb->nitems + 1, sizeof *v);

	*n = 0;
	for (size_t i = 0; i < t->mb->nitems; i++) {
		struct sim_item *it = t->mb->items[i];
		if (!in_calendar(it) || (start < end && !overlaps(it, start, end)))
			continue;
		if (f && f->n && !graph_filter_match(f, it))
			continue;
		v[(*n)++] = it;
	}
	qsort(v, *n, sizeof *v, by_start);
	return v;
}

static int parse_filter_param(struct graph_ctx *c, struct graph_req *r, struct graph_filter *f,
                              struct graph_reply *out)
{
	char *text = graph_query_get(r->query, "$filter");
	int rc = 0;

	memset(f, 0, sizeof *f);
	if (text && graph_filter_parse(text, f) < 0) {
		graph_error(c, r, out, 400, "ErrorInvalidUrlQueryFilter",
		            "The query filter contains one or more invalid nodes.");
		rc = -1;
	}
	free(text);
	return rc;
}

void graph_list_events(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                       struct graph_reply *out)
{
	struct graph_filter f;
	size_t n;

	if (parse_filter_param(c, r, &f, out) < 0)
		return;
	struct sim_item **items = select_items(t, &f, 0, 0, &n);
	reply_page(c, r, t, items, n, "events", out);
	free(items);
	graph_filter_free(&f);
}

/* startDateTime / endDateTime: "interpreted using the timezone offset specified in the value ...
 * If no timezone offset is included in the value, it is interpreted as UTC." */
static int window(struct graph_ctx *c, struct graph_req *r, int64_t *start, int64_t *end,
                  struct graph_reply *out)
{
	char *s = graph_query_get(r->query, "startDateTime");
	char *e = graph_query_get(r->query, "endDateTime");
	int rc = 0;

	if (!s || !e) {
		graph_error(c, r, out, 400, "ErrorInvalidParameter", WINDOW_REQUIRED);
		rc = -1;
	} else if (graph_parse_instant(s, start) < 0 || graph_parse_instant(e, end) < 0) {
		char msg[300];
		snprintf(msg, sizeof msg, "The value '%.100s' of parameter '%s' is invalid.",
		         graph_parse_instant(s, start) < 0 ? s : e,
		         graph_parse_instant(s, start) < 0 ? "StartDateTime" : "EndDateTime");
		graph_error(c, r, out, 400, "ErrorInvalidParameter", msg);
		rc = -1;
	}
	free(s);
	free(e);
	return rc;
}

void graph_calendar_view(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                         struct graph_reply *out)
{
	int64_t start, end;
	struct graph_filter f;
	size_t n;

	if (window(c, r, &start, &end, out) < 0 || parse_filter_param(c, r, &f, out) < 0)
		return;
	if (end <= start) {
		graph_reply_json(out, 200, json_pack("{s:[]}", "value"));
		graph_filter_free(&f);
		return;
	}
	struct sim_item **items = select_items(t, &f, start, end, &n);
	reply_page(c, r, t, items, n, "calendarView", out);
	free(items);
	graph_filter_free(&f);
}

/* ---- delta ---- */

struct delta_pos {
	char kind; /* 'p' page ($skiptoken) or 'd' round start ($deltatoken) */
	char mailbox[256];
	int64_t start, end;
	int64_t since;     /* changes after this sequence belong to the round */
	int64_t cursor;    /* already served up to this sequence (pages) */
	int64_t round_end; /* the mailbox sequence when the round began */
	uint64_t epoch;
};

static char *delta_token(const struct delta_pos *p)
{
	struct buf b = BUF_INIT;
	char *enc;

	buf_printf(&b, "%c|%s|%" PRId64 "|%" PRId64 "|%" PRId64 "|%" PRId64 "|%" PRId64 "|%" PRIu64,
	           p->kind, p->mailbox, p->start, p->end, p->since, p->cursor, p->round_end,
	           p->epoch);
	enc = b64url_encode(b.data);
	buf_free(&b);
	return enc;
}

static int delta_parse(const char *tok, char kind, struct delta_pos *p)
{
	char *raw = b64url_decode(tok);
	int n = 0;

	memset(p, 0, sizeof *p);
	if (!raw)
		return -1;
	if (sscanf(raw,
	           "%c|%255[^|]|%" SCNd64 "|%" SCNd64 "|%" SCNd64 "|%" SCNd64 "|%" SCNd64
	           "|%" SCNu64 "%n",
	           &p->kind, p->mailbox, &p->start, &p->end, &p->since, &p->cursor, &p->round_end,
	           &p->epoch, &n) != 8 ||
	    raw[n] != '\0' || p->kind != kind)
		n = -1;
	free(raw);
	return n < 0 ? -1 : 0;
}

/* 410 Gone: "the application must restart with a full synchronization"; Location is the initial
 * query [doc: delta-query-overview]. */
static void sync_state_gone(struct graph_ctx *c, struct graph_req *r, const struct delta_pos *p,
                            struct graph_reply *out)
{
	struct buf loc = BUF_INIT;
	char s[32], e[32];

	graph_error(c, r, out, 410, "syncStateNotFound",
	            "The sync state is not found or has expired. Restart with a full "
	            "synchronization.");
	buf_printf(&loc, "%s/v1.0%s", c->base_url, r->path);
	if (p && p->end > p->start) {
		graph_format_utc(s, p->start);
		graph_format_utc(e, p->end);
		buf_printf(&loc, "?startDateTime=%s&endDateTime=%s&$deltatoken=", s, e);
	}
	graph_reply_header(out, "Location", loc.data);
	buf_free(&loc);
}

/* Where this request stands: initial, a page, or a new round. 0 or -1 (replied). */
static int delta_position(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                          struct delta_pos *p, struct graph_reply *out)
{
	char *dt = graph_query_get(r->query, "$deltatoken");
	char *st = graph_query_get(r->query, "$skiptoken");
	int rc = 0;

	if (dt && *dt) {
		rc = delta_parse(dt, 'd', p);
		p->cursor = p->since;
		p->round_end = t->mb->sync_seq;
	} else if (st) {
		rc = delta_parse(st, 'p', p);
	} else {
		memset(p, 0, sizeof *p);
		rc = window(c, r, &p->start, &p->end, out) < 0 ? -2 : 0;
		snprintf(p->mailbox, sizeof p->mailbox, "%s", t->user->upn);
		p->round_end = t->mb->sync_seq;
		p->epoch = graph_delta_epoch(c->st);
	}
	if (rc == 0 &&
	    (strcasecmp(p->mailbox, t->user->upn) != 0 || p->epoch != graph_delta_epoch(c->st) ||
	     p->round_end > t->mb->sync_seq || p->since > p->round_end || p->cursor > p->round_end))
		rc = -1;
	if (rc == -1)
		sync_state_gone(c, r, p->mailbox[0] ? p : NULL, out);
	free(dt);
	free(st);
	return rc < 0 ? -1 : 0;
}

static json_t *removed_entry(const struct graph_req *r, const struct sim_item *it)
{
	char *id = graph_event_id(r, it);
	json_t *j = json_pack("{s:s,s:s,s:{s:s}}", "@odata.type", "#microsoft.graph.event", "id",
	                      id, "@removed", "reason", "deleted");

	free(id);
	return j;
}

void graph_delta(struct graph_ctx *c, struct graph_req *r, const struct graph_target *t,
                 struct graph_reply *out)
{
	struct delta_pos p;
	size_t n = 0, size;
	char ctx[300];

	if (delta_position(c, r, t, &p, out) < 0)
		return;
	size = (size_t)graph_page_size(r, true, out);
	struct sim_item **v = xcalloc(t->mb->nitems + 1, sizeof *v);
	for (size_t i = 0; i < t->mb->nitems; i++) {
		struct sim_item *it = t->mb->items[i];
		bool live = in_calendar(it) && overlaps(it, p.start, p.end);
		if (it->change_seq <= p.cursor || it->change_seq > p.round_end)
			continue;
		if (!live && p.since == 0)
			continue; /* the initial round lists what is there */
		v[n++] = it;
	}
	qsort(v, n, sizeof *v, by_change);

	json_t *value = json_array();
	for (size_t i = 0; i < n && i < size; i++) {
		struct sim_item *it = v[i];
		if (in_calendar(it) && overlaps(it, p.start, p.end)) {
			json_t *ev = graph_event_json(c, r, t, it);
			json_object_set_new(ev, "@odata.type",
			                    json_string("#microsoft.graph.event"));
			json_array_append_new(value, ev);
		} else {
			/* deleted, moved to another folder, or now outside the window: Graph
			 * reports all of these as "deleted" [doc: api/event-delta] */
			json_array_append_new(value, removed_entry(r, it));
		}
	}
	snprintf(ctx, sizeof ctx, "%s/v1.0/$metadata#Collection(event)", c->base_url);
	json_t *body = json_pack("{s:s,s:o}", "@odata.context", ctx, "value", value);
	struct delta_pos next = p;
	bool more = n > size;
	if (more) {
		next.kind = 'p';
		next.cursor = v[size - 1]->change_seq;
	} else {
		next.kind = 'd';
		next.since = next.cursor = p.round_end;
	}
	char *tok = delta_token(&next);
	struct buf link = BUF_INIT;
	buf_printf(&link, "%s/v1.0%s?%s=%s", c->base_url, r->path,
	           more ? "$skiptoken" : "$deltatoken", tok);
	json_object_set_new(body, more ? "@odata.nextLink" : "@odata.deltaLink",
	                    json_string(link.data));
	buf_free(&link);
	free(tok);
	free(v);
	graph_reply_json(out, 200, body);
}
