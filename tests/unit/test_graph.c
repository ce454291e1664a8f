/* Graph backend: event JSON (zones, all-day, DST), PATCH diffs, hostile strings, $batch building
 * and answer mapping (inner 429 with a fractional Retry-After retried alone), the recorded samples
 * of tests/data/graph (tests/data/README.md), the error table, the nextLink host check, and the
 * backend operations against a tiny canned-answer HTTP server on loopback. */
#include "graph/graph.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/config.h"
#include "engine/tz.h"
#include "tap.h"
#include "testdata.h"
#include "graph_world.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SAMPLES "tests/data/graph" /* under the source tree (testdata.h) */
#define PROP "String {0c6f5a4e-8d1b-4c39-9e2a-5b7d3f1a6c20} Name LeaveSyncKey"
#define KEY "6f1c2b9e-1d2a-4c3b-8e4f-5a6b7c8d9e0f"

static void make_event(struct event *ev, const char *zone, bool all_day, const char *start,
                       const char *end)
{
	memset(ev, 0, sizeof *ev);
	ev->sync_key = xstrdup(KEY);
	ev->subject = xstrdup("Out of office");
	ev->all_day = all_day;
	snprintf(ev->start, sizeof ev->start, "%s", start);
	snprintf(ev->end, sizeof ev->end, "%s", end);
	snprintf(ev->time_zone, sizeof ev->time_zone, "%s", zone);
	ev->show_as = SHOW_OOF;
	ev->sensitivity = SENS_PRIVATE;
	ev->categories = xcalloc(3, sizeof(char *));
	ev->categories[0] = xstrdup("Leave");
	ev->categories[1] = xstrdup("HR");
	ev->reminder_minutes = -1;
}

static const char *jstr(const json_t *o, const char *path)
{
	char buf[128], *save = NULL, *tok;
	const json_t *cur = o;

	snprintf(buf, sizeof buf, "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, tok);
	return json_string_value(cur);
}

/* ---- event JSON ---- */

/* What a server keeping real instants answers with Prefer: outlook.timezone="UTC". */
static json_t *answer_in_utc(const json_t *created, const char *iana, bool floating)
{
	json_t *a = json_deep_copy(created);
	const char *keys[] = {"start", "end"};

	json_object_set_new(a, "id", json_string("AAMkID="));
	json_object_set_new(a, "@odata.etag", json_string("W/\"ck\""));
	json_object_set_new(a, "originalStartTimeZone",
	                    json_string(jstr(created, "start.timeZone")));
	for (int i = 0; i < 2; i++) {
		json_t *t = json_object_get(a, keys[i]);
		char utc[20], dt[40];
		int64_t u;

		snprintf(dt, sizeof dt, "%s", json_string_value(json_object_get(t, "dateTime")));
		if (floating) {
			snprintf(utc, sizeof utc, "%s", dt);
		} else {
			tz_local_to_unix(dt, iana, &u);
			tz_unix_to_local(u, "UTC", utc);
		}
		snprintf(dt, sizeof dt, "%s.0000000", utc);
		json_object_set_new(t, "dateTime", json_string(dt));
		json_object_set_new(t, "timeZone", json_string("UTC"));
	}
	return a;
}

static void test_all_day_zones(void)
{
	static const struct {
		const char *iana, *windows;
	} zones[] = {
	    {"UTC", "UTC"},
	    {"America/Los_Angeles", "Pacific Standard Time"},
	    {"Europe/Riga", "FLE Standard Time"},
	    {"Asia/Kolkata", "India Standard Time"},
	    {"Pacific/Kiritimati", "Line Islands Standard Time"},
	};

	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		struct event ev;
		struct error err = {""};
		json_t *body;

		make_event(&ev, zones[i].iana, true, "2026-12-24", "2026-12-31");
		body = graph_build_create(&ev, PROP, &err);
		ok(body != NULL, "%s: all-day create body builds (%s)", zones[i].iana, err.msg);
		if (!body) {
			event_free(&ev);
			continue;
		}
		is_str(jstr(body, "start.dateTime"), "2026-12-24T00:00:00",
		       "%s: all-day start is midnight of the first day", zones[i].iana);
		is_str(jstr(body, "end.dateTime"), "2026-12-31T00:00:00",
		       "%s: all-day end is midnight after the last day (exclusive)", zones[i].iana);
		is_str(jstr(body, "start.timeZone"), zones[i].windows, "%s: start zone is %s",
		       zones[i].iana, zones[i].windows);
		is_str(jstr(body, "end.timeZone"), zones[i].windows, "%s: end in the same zone",
		       zones[i].iana);
		ok(json_is_true(json_object_get(body, "isAllDay")), "%s: isAllDay", zones[i].iana);
		for (int floating = 0; floating < 2; floating++) {
			json_t *ans = answer_in_utc(body, zones[i].iana, floating);
			struct remote_event re;

			if (graph_parse_event(ans, PROP, &re, &err) < 0) {
				ok(0, "%s: read back parses: %s", zones[i].iana, err.msg);
			} else {
				ok(re.ev.all_day && strcmp(re.ev.start, "2026-12-24") == 0 &&
				       strcmp(re.ev.end, "2026-12-31") == 0 &&
				       tz_same_zone(re.ev.time_zone, zones[i].iana),
				   "%s: read back in UTC (%s) gives the same dates %s..%s %s",
				   zones[i].iana, floating ? "floating" : "instants", re.ev.start,
				   re.ev.end, re.ev.time_zone);
				is_str(re.ev.sync_key, KEY, "%s: the tag reads back",
				       zones[i].iana);
				remote_event_free(&re);
			}
			json_decref(ans);
		}
		json_decref(body);
		event_free(&ev);
	}
}

/* Days without a local midnight (clocks jump from 23:59:59 to 01:00): Graph wants all-day events at
 * midnight in one zone, so such a leave is written midnight to midnight in UTC, same dates. */
static void test_all_day_without_local_midnight(void)
{
	static const struct {
		const char *iana, *start, *end, *zone;
	} cases[] = {
	    {"America/Santiago", "2027-09-05", "2027-09-06", "UTC"}, /* first day has no 00:00 */
	    {"Asia/Beirut", "2027-03-27", "2027-03-28", "UTC"},      /* the day after the last */
	    {"America/Santiago", "2027-09-06", "2027-09-08", "Pacific SA Standard Time"},
	    {"Asia/Beirut", "2027-03-29", "2027-03-30", "Middle East Standard Time"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct event ev;
		struct error err = {""};
		json_t *body;

		make_event(&ev, cases[i].iana, true, cases[i].start, cases[i].end);
		body = graph_build_create(&ev, PROP, &err);
		ok(body && strcmp(jstr(body, "start.timeZone"), cases[i].zone) == 0 &&
		       strcmp(jstr(body, "end.timeZone"), cases[i].zone) == 0,
		   "%s %s..%s: written in %s", cases[i].iana, cases[i].start, cases[i].end,
		   cases[i].zone);
		ok(body && strncmp(jstr(body, "start.dateTime"), cases[i].start, 10) == 0 &&
		       strcmp(jstr(body, "start.dateTime") + 10, "T00:00:00") == 0 &&
		       strncmp(jstr(body, "end.dateTime"), cases[i].end, 10) == 0,
		   "%s: midnight to midnight on the same dates", cases[i].iana);
		json_decref(body);
		event_free(&ev);
	}
}

static void test_timed_dst(void)
{
	static const struct {
		const char *zone, *start, *end, *utc_start, *utc_end;
	} cases[] = {
	    /* Riga springs forward 2026-03-29 03:00 -> 04:00 */
	    {"Europe/Riga", "2026-03-28T22:00:00", "2026-03-29T10:00:00", "2026-03-28T20:00:00",
	     "2026-03-29T07:00:00"},
	    /* Los Angeles falls back 2026-11-01 02:00 -> 01:00 */
	    {"America/Los_Angeles", "2026-10-31T09:00:00", "2026-11-01T09:00:00",
	     "2026-10-31T16:00:00", "2026-11-01T17:00:00"},
	    {"Asia/Kolkata", "2026-06-01T09:30:00", "2026-06-01T13:00:00", "2026-06-01T04:00:00",
	     "2026-06-01T07:30:00"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct event ev;
		struct error err = {""};
		json_t *body, *ans;
		struct remote_event re;

		make_event(&ev, cases[i].zone, false, cases[i].start, cases[i].end);
		body = graph_build_create(&ev, PROP, &err);
		is_str(jstr(body, "start.dateTime"), cases[i].start, "%s: timed start is wall time",
		       cases[i].zone);
		is_str(jstr(body, "end.dateTime"), cases[i].end, "%s: timed end is wall time",
		       cases[i].zone);
		ok(json_is_false(json_object_get(body, "isAllDay")), "%s: not all-day",
		   cases[i].zone);
		/* the server answers in UTC; the instants are written out here by hand */
		ans = json_deep_copy(body);
		json_object_set_new(ans, "id", json_string("AAMkT="));
		json_object_set_new(ans, "originalStartTimeZone",
		                    json_string(jstr(body, "start.timeZone")));
		json_object_set_new(json_object_get(ans, "start"), "timeZone", json_string("UTC"));
		json_object_set_new(json_object_get(ans, "end"), "timeZone", json_string("UTC"));
		json_object_set_new(json_object_get(ans, "start"), "dateTime",
		                    json_string(cases[i].utc_start));
		json_object_set_new(json_object_get(ans, "end"), "dateTime",
		                    json_string(cases[i].utc_end));
		if (graph_parse_event(ans, PROP, &re, &err) == 0) {
			ok(!re.ev.all_day && strcmp(re.ev.start, cases[i].start) == 0 &&
			       strcmp(re.ev.end, cases[i].end) == 0 &&
			       tz_same_zone(re.ev.time_zone, cases[i].zone),
			   "%s: UTC answer across DST converts back to %s..%s (got %s..%s %s)",
			   cases[i].zone, cases[i].start, cases[i].end, re.ev.start, re.ev.end,
			   re.ev.time_zone);
			remote_event_free(&re);
		} else {
			ok(0, "%s: timed read back parses: %s", cases[i].zone, err.msg);
		}
		json_decref(ans);
		json_decref(body);
		event_free(&ev);
	}
}

static void test_create_body(void)
{
	struct event ev;
	struct error err = {""};
	json_t *body, *props;

	make_event(&ev, "Europe/Riga", true, "2026-07-15", "2026-07-20");
	ev.body = xstrdup("Back on Monday");
	body = graph_build_create(&ev, PROP, &err);
	is_str(jstr(body, "subject"), "Out of office", "create: subject");
	is_str(jstr(body, "body.contentType"), "text", "create: body is text");
	is_str(jstr(body, "body.content"), "Back on Monday", "create: body content");
	is_str(jstr(body, "showAs"), "oof", "create: showAs oof");
	is_str(jstr(body, "sensitivity"), "private", "create: sensitivity private");
	is_int((long long)json_array_size(json_object_get(body, "categories")), 2,
	       "create: categories");
	ok(json_is_false(json_object_get(body, "isReminderOn")), "create: isReminderOn false");
	ok(!json_object_get(body, "reminderMinutesBeforeStart"), "create: no reminder minutes");
	ok(json_is_false(json_object_get(body, "responseRequested")),
	   "create: responseRequested false");
	ok(!json_object_get(body, "attendees"), "create: no attendees (no invitations)");
	{
		json_t *again = graph_build_create(&ev, PROP, &err);
		const char *t1 = jstr(body, "transactionId"), *t2 = jstr(again, "transactionId");
		ok(t1 && strlen(t1) == 36 && strcmp(t1, KEY) != 0,
		   "create: transactionId is a UUID, not the sync key: %s", t1 ? t1 : "(none)");
		ok(t1 && t2 && strcmp(t1, t2) != 0,
		   "create: every create attempt gets its own transactionId");
		json_decref(again);
	}
	props = json_object_get(body, "singleValueExtendedProperties");
	is_str(json_string_value(json_object_get(json_array_get(props, 0), "id")), PROP,
	       "create: tag id matches the EWS ExtendedFieldURI (set and name)");
	is_str(json_string_value(json_object_get(json_array_get(props, 0), "value")), KEY,
	       "create: tag value is the sync key");
	json_decref(body);

	ev.reminder_minutes = 15;
	ev.show_as = SHOW_WORKING_ELSEWHERE;
	body = graph_build_create(&ev, PROP, &err);
	ok(json_is_true(json_object_get(body, "isReminderOn")), "reminder >= 0: isReminderOn");
	is_int(json_integer_value(json_object_get(body, "reminderMinutesBeforeStart")), 15,
	       "reminder >= 0: minutes before start");
	is_str(jstr(body, "showAs"), "workingElsewhere", "showAs workingElsewhere spelling");
	json_decref(body);

	snprintf(ev.time_zone, sizeof ev.time_zone, "Not/AZone");
	ev.all_day = false;
	snprintf(ev.start, sizeof ev.start, "2026-07-15T09:00:00");
	snprintf(ev.end, sizeof ev.end, "2026-07-15T12:00:00");
	body = graph_build_create(&ev, PROP, &err);
	ok(!body && strstr(err.msg, "Not/AZone") && strstr(err.msg, "Windows"),
	   "timed event in a zone without Windows id is refused: %s", err.msg);
	json_decref(body);
	event_free(&ev);
}

static size_t nkeys(const json_t *o)
{
	return json_object_size(o);
}

static void test_patch_only_changes(void)
{
	struct event ev, written;
	struct error err = {""};
	json_t *p;
	char *tmp;

	make_event(&ev, "Europe/Riga", true, "2026-07-15", "2026-07-20");
	make_event(&written, "Europe/Riga", true, "2026-07-15", "2026-07-20");
	free(ev.subject);
	ev.subject = xstrdup("Annual leave");
	p = graph_build_patch(&ev, &written, "PROP", &err);
	ok(nkeys(p) == 1 && jstr(p, "subject"), "PATCH after a subject change sends only subject");
	json_decref(p);

	free(ev.subject);
	ev.subject = xstrdup(written.subject);
	snprintf(ev.end, sizeof ev.end, "2026-07-21");
	p = graph_build_patch(&ev, &written, "PROP", &err);
	ok(nkeys(p) == 3 && json_object_get(p, "start") && json_object_get(p, "end") &&
	       json_object_get(p, "isAllDay"),
	   "PATCH after an end change sends start, end and isAllDay together");
	is_str(jstr(p, "end.dateTime"), "2026-07-21T00:00:00", "PATCH end value");
	json_decref(p);

	snprintf(ev.end, sizeof ev.end, "%s", written.end);
	tmp = ev.categories[0];
	ev.categories[0] = ev.categories[1];
	ev.categories[1] = tmp;
	ev.sensitivity = SENS_NORMAL;
	p = graph_build_patch(&ev, &written, "PROP", &err);
	ok(nkeys(p) == 1 && jstr(p, "sensitivity"),
	   "reordered categories are not a change; sensitivity is");
	json_decref(p);

	ev.sensitivity = written.sensitivity;
	snprintf(ev.time_zone, sizeof ev.time_zone, "FLE Standard Time");
	p = graph_build_patch(&ev, &written, "PROP", &err);
	ok(nkeys(p) > 3, "nothing differs (zone names of one zone): a resync rewrites every field");
	ok(!json_object_get(p, "transactionId") &&
	       !json_object_get(p, "singleValueExtendedProperties"),
	   "PATCH never resends transactionId or the tag");
	json_decref(p);

	ev.body = xstrdup("note");
	p = graph_build_patch(&ev, &written, "PROP", &err);
	ok(nkeys(p) == 1 && jstr(p, "body.content"), "a new note sends only body");
	json_decref(p);

	free(ev.body);
	ev.body = NULL;
	free(ev.sync_key);
	ev.sync_key = xstrdup("staging:043066f4-730f-58e3-9efd-4c76ba87a565");
	p = graph_build_patch(&ev, &written, "PROP", &err);
	ok(json_array_size(json_object_get(p, "singleValueExtendedProperties")) == 1 &&
	       !strcmp(jstr(json_array_get(json_object_get(p, "singleValueExtendedProperties"), 0),
	                    "value")
	                   ?: "",
	               ev.sync_key) &&
	       !json_object_get(p, "transactionId"),
	   "a new tag (a renamed instance) is sent; transactionId still never");
	json_decref(p);
	event_free(&ev);
	event_free(&written);
}

static void test_hostile_strings(void)
{
	static const char hostile[] = "Tom's \"leave\" \\ C:\\path\x01\x1f\n\t]]> <script>&amp; "
	                              "\xc3\xa9\xe2\x82\xac";
	struct event ev;
	struct error err = {""};
	json_t *body, *back;
	char *text;

	make_event(&ev, "UTC", true, "2026-01-01", "2026-01-02");
	free(ev.subject);
	ev.subject = xstrdup(hostile);
	ev.body = xstrdup(hostile);
	free(ev.categories[0]);
	ev.categories[0] = xstrdup("a\"b,c]]>");
	body = graph_build_create(&ev, PROP, &err);
	text = json_dumps(body, JSON_COMPACT);
	back = json_loads(text, 0, NULL);
	ok(back != NULL, "hostile strings dump to strict JSON");
	is_str(jstr(back, "subject"), hostile, "subject survives quotes, \\, controls, ]]>, <");
	is_str(jstr(back, "body.content"), hostile, "body survives the same");
	is_str(json_string_value(json_array_get(json_object_get(back, "categories"), 0)),
	       "a\"b,c]]>", "category survives");
	ok(strstr(text, "\\u0001") != NULL, "control characters are escaped, not raw");
	free(text);
	json_decref(back);
	json_decref(body);

	free(ev.subject);
	ev.subject = xstrdup("bad \xff\xfe utf-8");
	body = graph_build_create(&ev, PROP, &err);
	ok(!body && strstr(err.msg, "UTF-8"), "invalid UTF-8 is refused: %s", err.msg);
	event_free(&ev);

	text = graph_odata_quote("it's");
	is_str(text, "it''s", "OData literal doubles quotes");
	free(text);
	text = graph_build_find_by_key("o'brien@contoso.com", PROP, "k'1");
	ok(strstr(text, "/users/o%27brien%40contoso.com/events?$filter=") &&
	       strstr(text, "k%27%271") && !strchr(text, ' '),
	   "find URL escapes the mailbox and the key: %s", text);
	free(text);
}

/* ---- $batch ---- */

/* Every request after the first depends on exactly the one before (sequential), or none does. */
static bool batch_form(json_t *arr, bool *sequential)
{
	bool any = false, chained = true;

	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *dep = json_object_get(json_array_get(arr, i), "dependsOn");

		any |= dep != NULL;
		if (i > 0 && !(json_array_size(dep) == 1 &&
		               strcmp(json_string_value(json_array_get(dep, 0)),
		                      jstr(json_array_get(arr, i - 1), "id")) == 0))
			chained = false;
		if (i == 0 && dep)
			chained = false;
	}
	*sequential = any;
	return !any || chained;
}

static int count_mailbox(json_t *arr, const char *needle)
{
	int n = 0;

	for (size_t i = 0; i < json_array_size(arr); i++)
		n += strstr(jstr(json_array_get(arr, i), "url"), needle) != NULL;
	return n;
}

static void test_batch_body(void)
{
	struct graph_subreq reqs[GRAPH_MAX_BATCH];
	json_t *b, *arr;
	size_t i;
	bool ids_ok = true, prefer_ok = true, seq;

	memset(reqs, 0, sizeof reqs);
	for (i = 0; i < GRAPH_MAX_BATCH; i++) {
		reqs[i].op = GRAPH_OP_CREATE;
		reqs[i].mailbox = "alice@contoso.com";
		reqs[i].url = graph_path_events("alice@contoso.com");
		reqs[i].body = json_pack("{s:s}", "subject", "x");
	}
	/* 20 of one mailbox do not fit a parallel batch (4 per mailbox): one sequential chain */
	ok(graph_batch_plan(reqs, GRAPH_MAX_BATCH, 4, true), "20 of one mailbox: sequential");
	b = graph_batch_body(reqs, GRAPH_MAX_BATCH, true, false);
	arr = json_object_get(b, "requests");
	is_int((long long)json_array_size(arr), 20, "$batch holds 20 requests");
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *r = json_array_get(arr, i);
		char want[8];

		snprintf(want, sizeof want, "%zu", i + 1);
		ids_ok &= strcmp(jstr(r, "id"), want) == 0;
		prefer_ok &= jstr(r, "headers.Prefer") &&
		             strcmp(jstr(r, "headers.Prefer"), "IdType=\"ImmutableId\"") == 0 &&
		             strcmp(jstr(r, "headers.Content-Type"), "application/json") == 0;
	}
	ok(ids_ok, "ids are 1..20");
	ok(prefer_ok, "every sub-request carries Prefer: IdType=\"ImmutableId\" and Content-Type");
	ok(batch_form(arr, &seq) && seq,
	   "fully sequential: each request depends on the one before");
	is_str(jstr(json_array_get(arr, 0), "url"), "/users/alice%40contoso.com/events",
	       "relative url /users/{user}/events, never /me");
	is_str(jstr(json_array_get(arr, 0), "method"), "POST", "create is POST");
	json_decref(b);

	/* once a request of the group failed: parallel, 4 of the mailbox, the rest wait */
	ok(!graph_batch_plan(reqs, GRAPH_MAX_BATCH, 4, false), "sequential not allowed: parallel");
	b = graph_batch_body(reqs, GRAPH_MAX_BATCH, false, false);
	arr = json_object_get(b, "requests");
	is_int((long long)json_array_size(arr), 4, "a parallel batch carries 4 of one mailbox");
	ok(batch_form(arr, &seq) && !seq, "fully parallel: no dependsOn at all");
	json_decref(b);

	/* two mailboxes alternate, 6 each: sequential; parallel: 4 + 4 */
	for (i = 0; i < GRAPH_MAX_BATCH; i++)
		reqs[i].mailbox = i % 2 ? "bob@contoso.com" : "alice@contoso.com";
	for (i = 0; i < GRAPH_MAX_BATCH; i++) {
		free(reqs[i].url);
		reqs[i].url = graph_path_events(reqs[i].mailbox);
	}
	reqs[0].done = true;
	reqs[3].if_match = "W/\"ck\"";
	ok(!graph_batch_plan(reqs, 12, 2, false),
	   "parallel with a cap of 2 (mailbox_concurrency 2)");
	b = graph_batch_body(reqs, 12, false, true);
	arr = json_object_get(b, "requests");
	is_int((long long)json_array_size(arr), 4, "2 of each mailbox");
	ok(count_mailbox(arr, "alice") == 2 && count_mailbox(arr, "bob") == 2,
	   "no mailbox beyond its cap");
	is_str(jstr(json_array_get(arr, 0), "id"), "2", "done requests are not sent again");
	is_str(jstr(json_array_get(arr, 2), "headers.If-Match"), "W/\"ck\"",
	       "If-Match travels in the sub-request headers");
	ok(strstr(jstr(json_array_get(arr, 0), "headers.Prefer"), "IdType=\"ImmutableId\"") &&
	       strstr(jstr(json_array_get(arr, 0), "headers.Prefer"), "outlook.timezone=\"UTC\""),
	   "read sub-requests ask for immutable ids and UTC");
	json_decref(b);

	/* everything fits: parallel even when sequential is allowed */
	reqs[0].done = false;
	ok(!graph_batch_plan(reqs, 8, 4, true), "4 + 4 fit one parallel batch");
	b = graph_batch_body(reqs, 8, false, false);
	is_int((long long)json_array_size(json_object_get(b, "requests")), 8, "all 8 sent");
	json_decref(b);
	for (i = 0; i < GRAPH_MAX_BATCH; i++)
		graph_subreq_free(&reqs[i]);
}

/* A random mix of mailboxes and done requests: every plan is one of the two forms, respects the
 * caps, and sends something while anything is pending. */
static void test_batch_plan_random(void)
{
	static const char *const boxes[] = {"a@x.com", "b@x.com", "c@x.com"};
	unsigned seed = (unsigned)time(NULL);
	bool all_ok = true;

	srand(seed);
	for (int round = 0; round < 500 && all_ok; round++) {
		struct graph_subreq reqs[GRAPH_MAX_BATCH];
		size_t n = 1 + (size_t)rand() % GRAPH_MAX_BATCH, pending = 0, sent = 0;
		int cap = 1 + rand() % 4, per[3] = {0, 0, 0};
		bool allow = rand() % 2, seq;
		json_t *b;

		memset(reqs, 0, sizeof reqs);
		for (size_t i = 0; i < n; i++) {
			reqs[i].mailbox = boxes[rand() % 3];
			reqs[i].url = xstrdup("/users/x/events");
			reqs[i].done = rand() % 4 == 0;
			pending += !reqs[i].done;
		}
		seq = graph_batch_plan(reqs, n, cap, allow);
		b = graph_batch_body(reqs, n, seq, false);
		for (size_t i = 0; i < n; i++) {
			if (!reqs[i].sent)
				continue;
			sent++;
			all_ok &= !reqs[i].done;
			for (int k = 0; k < 3; k++)
				per[k] += reqs[i].mailbox == boxes[k];
		}
		all_ok &= pending == 0 || sent > 0;
		all_ok &= seq ? allow : (per[0] <= cap && per[1] <= cap && per[2] <= cap);
		all_ok &= json_array_size(json_object_get(b, "requests")) == sent;
		{
			bool form_seq;

			all_ok &= batch_form(json_object_get(b, "requests"), &form_seq);
			all_ok &= sent < 2 || form_seq == seq;
		}
		if (!all_ok)
			printf("# failing case: seed %u, round %d, n %zu, cap %d\n", seed, round, n,
			       cap);
		json_decref(b);
		for (size_t i = 0; i < n; i++)
			graph_subreq_free(&reqs[i]);
	}
	ok(all_ok, "500 random plans: fully parallel within caps or fully sequential (seed %u)",
	   seed);
}

static void test_batch_apply(void)
{
	static const char answer[] =
	    "{\"responses\":["
	    "{\"id\":\"3\",\"status\":404,\"headers\":{\"Content-Type\":\"application/json\"},"
	    "\"body\":{\"error\":{\"code\":\"ErrorItemNotFound\",\"message\":\"The specified "
	    "object "
	    "was not found in the store.\"}}},"
	    "{\"id\":\"2\",\"status\":429,\"headers\":{\"retry-after\":\"2.128\"},"
	    "\"body\":{\"error\":{\"code\":\"ApplicationThrottled\",\"message\":\"Application is "
	    "over its MailboxConcurrency limit.\"}}},"
	    "{\"id\":\"1\",\"status\":201,\"headers\":{},\"body\":{\"id\":\"AAMk1=\","
	    "\"@odata.etag\":\"W/\\\"ck1\\\"\",\"changeKey\":\"ck1\"}},"
	    "{\"id\":\"4\",\"status\":412,\"body\":{\"error\":{\"code\":"
	    "\"ErrorIrresolvableConflict\",\"message\":\"stale\"}}},"
	    "{\"id\":\"5\",\"status\":429,\"headers\":{\"Retry-After\":1}}]}";
	struct be_session s = {.app_only = true};
	struct be_item items[5];
	struct graph_subreq reqs[5];
	struct graph_subresp *resps;
	size_t nresp;
	json_t *j = json_loads(answer, 0, NULL);
	struct error err = {""};
	int auth = 0;
	long wait;

	memset(items, 0, sizeof items);
	memset(reqs, 0, sizeof reqs);
	for (int i = 0; i < 5; i++) {
		reqs[i].op = i == 2 ? GRAPH_OP_DELETE : i == 3 ? GRAPH_OP_UPDATE : GRAPH_OP_CREATE;
		reqs[i].sent = true;
		reqs[i].mailbox = "alice@contoso.com";
		reqs[i].url = xstrdup("/users/alice%40contoso.com/events");
		reqs[i].item = &items[i];
	}
	ok(graph_parse_batch(j, &resps, &nresp, &err) == 0 && nresp == 5, "batch answer parses");
	is_int(resps[1].retry_after_ms, 2128, "fractional Retry-After 2.128 -> 2128 ms");
	is_int(resps[4].retry_after_ms, 1000, "numeric Retry-After 1 -> 1000 ms");
	wait = graph_batch_apply(&s, reqs, 5, resps, nresp, &auth);
	is_int(wait, 2128, "the longest Retry-After of the throttled requests is waited");
	ok(reqs[0].done && reqs[0].be == BE_OK, "answers map by id, not by order: 1 created");
	is_str(items[0].new_remote_id, "AAMk1=", "created id");
	is_str(items[0].new_change_key, "W/\"ck1\"", "change key is the etag, verbatim");
	ok(!reqs[1].done && reqs[1].be == BE_RETRY_LATER, "the throttled request stays pending");
	ok(reqs[2].done && reqs[2].be == BE_GONE, "DELETE 404 ErrorItemNotFound is gone");
	ok(reqs[3].done && reqs[3].be == BE_CONFLICT, "412 ErrorIrresolvableConflict is conflict");
	ok(strstr(reqs[3].message, "ErrorIrresolvableConflict") != NULL,
	   "the message names Graph's code: %s", reqs[3].message);
	ok(!reqs[4].done, "a 429 without a body stays pending too");
	free(resps);
	json_decref(j);
	for (int i = 0; i < 5; i++) {
		graph_subreq_free(&reqs[i]);
		be_item_clear(&items[i]);
	}
}

/* ---- recorded samples ---- */

/* A sample parsed as Graph JSON, or NULL with err set (a missing file is also a failed test). */
static json_t *load_sample(const char *name, struct error *err)
{
	char rel[512], *data;
	size_t len = 0;
	json_t *j;

	snprintf(rel, sizeof rel, "%s/%s", SAMPLES, name);
	data = read_src_file(rel, &len);
	j = graph_parse_json(data, len, "application/json", err);
	free(data);
	return j;
}

static void test_samples_all_parse_or_fail_clearly(void)
{
	char dir[PATH_MAX + 64];
	DIR *d;
	struct dirent *de;
	int parsed = 0, rejected = 0;

	src_path(dir, sizeof dir, SAMPLES);
	d = opendir(dir);
	if (!d) {
		ok(0, "samples directory %s exists", dir);
		return;
	}
	while ((de = readdir(d))) {
		struct error err = {""};
		size_t n = strlen(de->d_name);
		json_t *j;

		if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		j = load_sample(de->d_name, &err);
		if (j) {
			parsed++;
		} else {
			rejected++;
			ok(strstr(de->d_name, "token-authcode-success") &&
			       strstr(err.msg, "not JSON"),
			   "only the trailing-comma token sample is rejected, clearly: %s: %s",
			   de->d_name, err.msg);
		}
		json_decref(j);
	}
	closedir(d);
	ok(parsed >= 20, "%d samples parse as strict JSON", parsed);
	is_int(rejected, 1, "exactly one sample is not strict JSON");
}

static void test_sample_events(void)
{
	struct error err = {""};
	json_t *j = load_sample("graph-create-event-201.json", &err);
	struct remote_event re;
	char *id, *etag;

	if (!ok(j != NULL, "graph-create-event-201.json is JSON: %s", err.msg))
		return;
	ok(graph_parse_write(j, true, &id, &etag, &err) == 0, "create 201 answer parses");
	is_str(id, "AAMkAGI1AAAt9AHjAAA=", "create 201: id");
	is_str(etag, "W/\"ZlnW4RIAV06KYYwlrfNZvQAALfZeRQ==\"", "create 201: etag verbatim");
	free(id);
	free(etag);
	ok(graph_parse_event(j, PROP, &re, &err) == 0, "create 201 reads as an event: %s", err.msg);
	is_str(re.ev.subject, "Let's go brunch", "event subject");
	is_str(re.ev.start, "2017-04-15T11:00:00", "event start (7-digit fraction dropped)");
	is_str(re.ev.time_zone, "Pacific Standard Time", "event zone as written");
	ok(re.ev.show_as == SHOW_BUSY && re.ev.reminder_minutes == 15 && !re.ev.all_day,
	   "showAs busy, reminder 15, timed");
	ok(re.ev.sync_key == NULL, "an untagged event has no sync key");
	remote_event_free(&re);
	json_decref(j);

	j = load_sample("graph-update-event-200.json", &err);
	if (!ok(j != NULL, "graph-update-event-200.json is JSON: %s", err.msg))
		return;
	ok(graph_parse_write(j, false, &id, &etag, &err) == 0 && !id && !etag,
	   "update 200 doc sample (placeholders, no etag) parses as a write answer");
	ok(graph_parse_event(j, PROP, &re, &err) < 0 && strstr(err.msg, "no \"id\""),
	   "but is not an event: %s", err.msg);
	json_decref(j);

	j = load_sample("graph-list-calendarview-200.json", &err);
	if (!ok(j != NULL, "graph-list-calendarview-200.json is JSON: %s", err.msg))
		return;
	{
		struct graph_page p;

		ok(graph_parse_page(j, &p, &err) == 0 && json_array_size(p.value) == 1 &&
		       !p.next_link,
		   "calendarView page parses");
		ok(graph_event_tag(json_array_get(p.value, 0), PROP) == NULL,
		   "its event is untagged (skipped by list_events)");
	}
	json_decref(j);
}

static void test_sample_delta(void)
{
	static const struct {
		const char *file;
		size_t n;
		bool next, delta;
		int removed;
	} pages[] = {
	    {"graph-delta-round1-page1.json", 2, true, false, 0},
	    {"graph-delta-round1-page2.json", 2, true, false, 0},
	    {"graph-delta-round1-page3-final-deltalink.json", 1, false, true, 0},
	    {"graph-delta-round2-removed.json", 2, false, true, 1},
	    {"graph-event-delta-api-page.json", 1, true, false, 0},
	};

	for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
		struct error err = {""};
		json_t *j = load_sample(pages[i].file, &err);
		struct graph_page p;
		int removed = 0;
		size_t k;
		const json_t *e;
		const char *reason = NULL;

		if (!ok(j && graph_parse_page(j, &p, &err) == 0 &&
		            json_array_size(p.value) == pages[i].n &&
		            !!p.next_link == pages[i].next && !!p.delta_link == pages[i].delta,
		        "%s: %zu entries, nextLink %d, deltaLink %d", pages[i].file, pages[i].n,
		        pages[i].next, pages[i].delta)) {
			json_decref(j);
			continue;
		}
		json_array_foreach(p.value, k, e)
		{
			const char *r = NULL;

			if (graph_entry_removed(e, &r)) {
				removed++;
				reason = r;
			}
		}
		is_int(removed, pages[i].removed, "%s: @removed entries", pages[i].file);
		if (pages[i].removed)
			is_str(reason, "deleted", "removed reason");
		json_decref(j);
	}
}

static void test_sample_errors(void)
{
	static const struct {
		const char *file;
		int status;
		const char *code;
		enum be_status want;
	} cases[] = {
	    {"graph-error-access-denied-application-access-policy.json", 403, "ErrorAccessDenied",
	     BE_FINAL},
	    {"graph-error-generic-example.json", 416, "invalidRange", BE_FINAL},
	    {"graph-error-not-implemented-501.json", 501, "NotImplemented", BE_FINAL},
	    {"graph-throttled-429.json", 429, "TooManyRequests", BE_RETRY_LATER},
	    {"observed-graph-error-429-mailbox-concurrency.json", 429, "ApplicationThrottled",
	     BE_RETRY_LATER},
	    {"observed-graph-error-property-validation-failure.json", 400,
	     "ErrorPropertyValidationFailure", BE_FINAL},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct error err = {""};
		json_t *j = load_sample(cases[i].file, &err);
		struct graph_error ge;
		char msg[512];
		enum be_status st;

		if (!ok(j != NULL, "%s is JSON: %s", cases[i].file, err.msg))
			continue;
		ok(graph_parse_error(j, &ge) && strcmp(ge.code, cases[i].code) == 0, "%s: code %s",
		   cases[i].file, ge.code);
		st = graph_describe_failure(
		    "POST", "https://graph.microsoft.com/v1.0/users/a/events", cases[i].status,
		    "application/json", j, true, msg, sizeof msg);
		ok(st == cases[i].want && strstr(msg, cases[i].code), "%s -> %s: %s", cases[i].file,
		   be_status_name(cases[i].want), msg);
		json_decref(j);
	}
	{
		struct error err = {""};
		json_t *j =
		    load_sample("graph-error-access-denied-application-access-policy.json", &err);
		struct graph_error ge = {0};
		char msg[512];

		if (j)
			graph_parse_error(j, &ge);
		is_str(ge.request_id, "2f038156-cf40-403d-8e46-831fe42a8229",
		       "innerError request-id");
		graph_describe_failure("GET", "https://graph.microsoft.com/v1.0/users/a/events",
		                       403, "application/json", j, true, msg, sizeof msg);
		ok(strstr(msg, "Calendars.ReadWrite") && strstr(msg, "ApplicationAccessPolicy"),
		   "app-only access denied names the permission and the scoping fix");
		json_decref(j);
		j = json_loads("{\"error\":{\"code\":\"x\",\"message\":\"m\",\"innererror\":"
		               "{\"request-id\":\"r-1\"}}}",
		               0, NULL);
		ok(graph_parse_error(j, &ge) && strcmp(ge.request_id, "r-1") == 0,
		   "innererror (schema spelling) is accepted too");
		json_decref(j);
	}
	{
		struct error err = {""};
		json_t *j = load_sample("graph-batch-response-mixed.json", &err);
		struct graph_subresp *r = NULL;
		size_t n = 0;
		const char *fix;

		ok(j && graph_parse_batch(j, &r, &n, &err) == 0 && n == 5 && r[1].status == 403 &&
		       r[3].status == 405 && r[0].retry_after_ms == -1,
		   "doc $batch answer: 5 responses with their statuses");
		ok(n == 5 && graph_classify(r[1].status, "", false, &fix) == BE_FINAL,
		   "403 with an empty code is final");
		free(r);
		json_decref(j);
	}
	{
		size_t len;
		struct error err = {""};
		char *data = read_src_file(
		    SAMPLES "/observed-graph-error-412-irresolvable-conflict.txt", &len);
		json_t *j;

		ok(len > 0, "the 412 log sample is not empty");
		j = graph_parse_json(data, len, "text/plain", &err);
		ok(!j && strstr(err.msg, "not JSON") && strstr(err.msg, "text/plain"),
		   "a Python-repr error log is refused naming the content type: %s", err.msg);
		free(data);
	}
}

static void test_error_table(void)
{
	static const struct {
		int status;
		const char *code;
		bool app;
		enum be_status want;
	} rows[] = {
	    {401, "InvalidAuthenticationToken", false, BE_NEEDS_LOGIN},
	    {401, "InvalidAuthenticationToken", true, BE_BLOCKED},
	    {403, "ErrorAccessDenied", true, BE_FINAL},
	    {403, "Authorization_RequestDenied", false, BE_FINAL},
	    {404, "ErrorItemNotFound", false, BE_GONE},
	    {404, "ErrorInvalidUser", true, BE_FINAL},
	    {404, "MailboxNotEnabledForRESTAPI", true, BE_FINAL},
	    {412, "ErrorIrresolvableConflict", false, BE_CONFLICT},
	    {409, "ErrorIrresolvableConflict", false, BE_CONFLICT},
	    {412, "", false, BE_CONFLICT},
	    {429, "TooManyRequests", false, BE_RETRY_LATER},
	    {503, "serviceNotAvailable", false, BE_RETRY_LATER},
	    {504, "", false, BE_RETRY_NOW},
	    {400, "ErrorDuplicateTransactionId", true, BE_CONFLICT},
	    {500, "generalException", false, BE_RETRY_NOW},
	    {502, NULL, true, BE_RETRY_NOW},
	    {400, "ErrorInvalidRequest", false, BE_FINAL},
	    {400, "ErrorPropertyValidationFailure", false, BE_FINAL},
	    {400, "ErrorInvalidIdMalformed", true, BE_FINAL},
	};
	char msg[512];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const char *fix;

		is_int(graph_classify(rows[i].status, rows[i].code, rows[i].app, &fix),
		       rows[i].want, "HTTP %d %s (%s) -> %s", rows[i].status,
		       rows[i].code ? rows[i].code : "-", rows[i].app ? "app-only" : "delegated",
		       be_status_name(rows[i].want));
	}
	ok(graph_describe_failure("GET", "https://graph.microsoft.com/v1.0/users/a/events?$top=1",
	                          502, "text/html", NULL, false, msg, sizeof msg) == BE_RETRY_NOW &&
	       strstr(msg, "HTTP 502") && strstr(msg, "text/html") &&
	       strstr(msg, "https://graph.microsoft.com/v1.0/users/a/events"),
	   "HTML error page: retry now, naming URL, status and content type: %s", msg);
	ok(graph_describe_failure("GET", "https://x/v1.0/y", 404, "text/html", NULL, false, msg,
	                          sizeof msg) == BE_RETRY_NOW,
	   "an HTML 404 is never taken for 'item gone'");
	ok(graph_describe_failure("GET", "https://x/v1.0/y", 429, "text/html", NULL, false, msg,
	                          sizeof msg) == BE_RETRY_LATER,
	   "an HTML 429 is still throttling");
	ok(graph_describe_failure("POST", "https://x/v1.0/$batch", 503, "text/html", NULL, false,
	                          msg, sizeof msg) == BE_RETRY_NOW,
	   "an HTML 503 (a gateway, not Graph) proves nothing: retry now, creates looked up");
}

static void test_link_check(void)
{
	struct error err = {""};

	ok(graph_check_link("https://graph.microsoft.com/v1.0/users/a/calendarView?$skiptoken=x",
	                    "https://graph.microsoft.com/v1.0", &err) == 0,
	   "nextLink on the configured host is followed");
	ok(graph_check_link("https://evil.example.com/v1.0/users/a/calendarView?$skiptoken=x",
	                    "https://graph.microsoft.com/v1.0", &err) < 0 &&
	       strstr(err.msg, "refusing to follow a link to another host") &&
	       strstr(err.msg, "evil.example.com") && !strstr(err.msg, "skiptoken"),
	   "nextLink to another host is refused: %s", err.msg);
	ok(graph_check_link("http://graph.microsoft.com/v1.0/x", "https://graph.microsoft.com/v1.0",
	                    &err) < 0,
	   "a downgrade to http is refused");
	ok(graph_check_link("https://graph.microsoft.com:8443/v1.0/x",
	                    "https://graph.microsoft.com/v1.0", &err) < 0,
	   "another port is refused");
}

static void test_create_retries_throttled_alone(void)
{
	struct world w = {0};
	struct event ev[3];
	struct be_item items[3];
	struct error err = {""};
	enum be_status st;

	w.fake.answers[0] = OK200
	    "{\"responses\":[{\"id\":\"2\",\"status\":429,\"headers\":{\"Retry-After\":"
	    "\"0.25\"},\"body\":{\"error\":{\"code\":\"ApplicationThrottled\",\"message\":"
	    "\"over\"}}},{\"id\":\"1\",\"status\":201,\"body\":{\"id\":\"E1\",\"@odata.etag\":"
	    "\"W/\\\"c1\\\"\"}},{\"id\":\"3\",\"status\":400,\"body\":{\"error\":{\"code\":"
	    "\"ErrorPropertyValidationFailure\",\"message\":\"At least one property failed "
	    "validation.\"}}}]}";
	w.fake.answers[1] = OK200 "{\"responses\":[{\"id\":\"2\",\"status\":201,\"body\":{\"id\":"
	                          "\"E2\",\"@odata.etag\":\"W/\\\"c2\\\"\"}}]}";
	w.fake.nanswers = 2;
	world_open(&w, "application");
	memset(items, 0, sizeof items);
	for (int i = 0; i < 3; i++) {
		make_event(&ev[i], "Europe/Riga", true, "2026-12-24", "2026-12-31");
		items[i].mailbox = i == 1 ? "bob@contoso.com" : "alice@contoso.com";
		items[i].ev = &ev[i];
	}
	st = graph_backend.create_events(w.s, items, 3, &err);
	is_int(st, BE_OK, "create_events: per-item results");
	is_int(w.fake.served, 2, "two HTTP requests: the batch, then the throttled item alone");
	ok(items[0].status == BE_OK && items[0].new_remote_id &&
	       strcmp(items[0].new_remote_id, "E1") == 0,
	   "item 1 created");
	ok(items[1].status == BE_OK && items[1].new_remote_id &&
	       strcmp(items[1].new_remote_id, "E2") == 0 &&
	       strcmp(items[1].new_change_key, "W/\"c2\"") == 0,
	   "throttled item created on its retry");
	ok(items[2].status == BE_FINAL &&
	       strstr(items[2].message, "ErrorPropertyValidationFailure"),
	   "invalid item is final: %s", items[2].message);
	is_int(w.slept, 250, "slept the fractional Retry-After (0.25 s)");
	ok(w.fake.requests[0] && strstr(w.fake.requests[0], "POST /v1.0/$batch ") &&
	       strstr(w.fake.requests[0], "Authorization: Bearer tok-1") &&
	       strstr(w.fake.requests[0], "\"transactionId\":\"") &&
	       !strstr(w.fake.requests[0], "\"transactionId\":\"" KEY "\"") &&
	       strstr(w.fake.requests[0], "/users/bob%40contoso.com/events") &&
	       strstr(w.fake.requests[0], "/users/alice%40contoso.com/events"),
	   "app-only: one $batch with both mailboxes, bearer, transactionId");
	ok(w.fake.requests[1] && strstr(w.fake.requests[1], "\"id\":\"2\"") &&
	       !strstr(w.fake.requests[1], "\"id\":\"1\"") &&
	       !strstr(w.fake.requests[1], "\"id\":\"3\""),
	   "the retry carries the throttled request alone");
	ok(w.fake.requests[1] && strstr(w.fake.requests[1], "IdType=\\\"ImmutableId\\\""),
	   "the retry's sub-request still prefers immutable ids");
	for (int i = 0; i < 3; i++) {
		be_item_clear(&items[i]);
		event_free(&ev[i]);
	}
	world_close(&w);
}

static void test_wait_cap_and_refresh(void)
{
	struct world w = {0};
	struct event ev;
	struct be_item item = {0};
	struct error err = {""};

	w.fake.answers[0] = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n"
	                    "{\"error\":{\"code\":\"InvalidAuthenticationToken\",\"message\":"
	                    "\"Access token has expired or is not yet valid.\"}}";
	w.fake.answers[1] =
	    OK200 "{\"responses\":[{\"id\":\"1\",\"status\":429,\"headers\":"
	          "{\"Retry-After\":\"90\"},\"body\":{\"error\":{\"code\":"
	          "\"TooManyRequests\",\"message\":\"Please retry again later.\"}}}]}";
	w.fake.nanswers = 2;
	world_open(&w, "delegated");
	make_event(&ev, "UTC", true, "2026-01-01", "2026-01-02");
	item.mailbox = "alice@contoso.com";
	item.ev = &ev;
	item.remote_id = "AAMk1=";
	item.change_key = "W/\"c1\"";
	graph_backend.update_events(w.s, &item, 1, &err);
	is_int(w.tokens.refreshes, 1, "a 401 refreshes the token once");
	ok(w.fake.requests[1] && strstr(w.fake.requests[1], "Bearer tok-2"),
	   "the request is sent again with the new token");
	ok(w.fake.requests[1] && strstr(w.fake.requests[1], "\"If-Match\":\"W/\\\"c1\\\"\"") &&
	       strstr(w.fake.requests[1], "\"method\":\"PATCH\""),
	   "PATCH carries the stored etag as If-Match");
	ok(item.status == BE_RETRY_LATER && item.retry_after_ms == 90000,
	   "Retry-After beyond the wait cap: retry later with the hint (%d ms)",
	   item.retry_after_ms);
	is_int(w.slept, 0, "no sleep beyond the cap");
	be_item_clear(&item);
	event_free(&ev);
	world_close(&w);

	memset(&w, 0, sizeof w);
	w.fake.answers[0] =
	    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n"
	    "{\"error\":{\"code\":\"InvalidAuthenticationToken\",\"message\":\"no\"}}";
	w.fake.answers[1] = w.fake.answers[0];
	w.fake.nanswers = 2;
	world_open(&w, "delegated");
	item = (struct be_item){.mailbox = "alice@contoso.com", .remote_id = "AAMk1="};
	is_int(graph_backend.delete_events(w.s, &item, 1, &err), BE_NEEDS_LOGIN,
	       "delegated: still 401 after one refresh -> needs login");
	ok(item.status == BE_NEEDS_LOGIN && strstr(item.message, "auth login"),
	   "the item says how to log in again: %s", item.message);
	be_item_clear(&item);
	world_close(&w);
}

static void test_delegated_splits_mailboxes(void)
{
	struct world w = {0};
	struct be_item items[2] = {{.mailbox = "bob@contoso.com", .remote_id = "B1"},
	                           {.mailbox = "alice@contoso.com", .remote_id = "A1"}};
	struct error err = {""};

	w.fake.answers[0] = OK200 "{\"responses\":[{\"id\":\"1\",\"status\":204}]}";
	w.fake.answers[1] =
	    OK200 "{\"responses\":[{\"id\":\"1\",\"status\":404,\"body\":"
	          "{\"error\":{\"code\":\"ErrorItemNotFound\",\"message\":\"gone\"}}}]}";
	w.fake.nanswers = 2;
	world_open(&w, "delegated");
	graph_backend.delete_events(w.s, items, 2, &err);
	is_int(w.fake.served, 2, "delegated: one $batch per mailbox");
	ok(w.fake.requests[0] && w.fake.requests[1] &&
	       !(strstr(w.fake.requests[0], "alice") && strstr(w.fake.requests[0], "bob")),
	   "no batch mixes mailboxes");
	ok(items[0].status == BE_GONE && items[1].status == BE_OK,
	   "results reach the right items (alice sent first: ok; bob: gone)");
	ok(w.fake.requests[0] && strstr(w.fake.requests[0], "\"method\":\"DELETE\""), "DELETE");
	world_close(&w);
}

static int count_cb(void *arg, struct remote_event *re)
{
	int *n = arg;

	(*n)++;
	return re->ev.sync_key == NULL; /* never: only tagged events arrive */
}

#define TAGGED(id, key)                                                                            \
	"{\"id\":\"" id "\",\"@odata.etag\":\"W/\\\"x\\\"\",\"subject\":\"Out of office\","        \
	"\"isAllDay\":true,\"showAs\":\"oof\",\"start\":{\"dateTime\":\"2026-12-24T00:00:00\","    \
	"\"timeZone\":\"UTC\"},\"end\":{\"dateTime\":\"2026-12-31T00:00:00\",\"timeZone\":"        \
	"\"UTC\"},\"singleValueExtendedProperties\":[{\"id\":\"" PROP "\",\"value\":\"" key        \
	"\"}]}"
#define UNTAGGED                                                                                   \
	"{\"id\":\"U1\",\"subject\":\"Lunch\",\"isAllDay\":false,\"start\":{\"dateTime\":"         \
	"\"2026-12-24T12:00:00\",\"timeZone\":\"UTC\"},\"end\":{\"dateTime\":"                     \
	"\"2026-12-24T13:00:00\",\"timeZone\":\"UTC\"}}"

static void test_list_and_find(void)
{
	struct world w = {0};
	struct error err = {""};
	char page1[2048];
	int n = 0;
	enum be_status st;

	/* the nextLink points at another host: refused, and nothing is sent there */
	snprintf(
	    page1, sizeof page1,
	    OK200 "{\"value\":[" TAGGED(
	        "T1", "k1") "," UNTAGGED "],\"@odata.nextLink\":"
	                    "\"http://127.0.0.2:%d/v1.0/users/a/calendarView?$skiptoken=abc\"}",
	    1);
	w.fake.answers[0] = page1;
	w.fake.answers[1] = OK200 "{\"value\":[]}";
	w.fake.nanswers = 2;
	world_open(&w, "application");
	st = graph_backend.list_events(w.s, "alice@contoso.com", 1798070400, 1798675200, count_cb,
	                               &n, &err);
	ok(st == BE_FINAL && strstr(err.msg, "refusing to follow a link to another host"),
	   "list_events refuses a nextLink to another host: %s", err.msg);
	is_int(w.fake.served, 1, "no request followed the foreign link");
	is_int(n, 1, "the untagged event was skipped, the tagged one delivered");
	ok(w.fake.requests[0] &&
	       strstr(w.fake.requests[0], "GET /v1.0/users/alice%40contoso.com/"
	                                  "calendarView?startDateTime=") &&
	       strstr(w.fake.requests[0], "Prefer: IdType=\"ImmutableId\"") &&
	       strstr(w.fake.requests[0], "Prefer: outlook.timezone=\"UTC\"") &&
	       strstr(w.fake.requests[0], "Prefer: odata.maxpagesize=") &&
	       strstr(w.fake.requests[0], "$expand=singleValueExtendedProperties"),
	   "calendarView with the Prefer headers and the tag expanded");
	world_close(&w);

	memset(&w, 0, sizeof w);
	n = 0;
	w.fake.answers[0] = page1;
	w.fake.nanswers = 2;
	world_open(&w, "application");
	snprintf(
	    page1, sizeof page1,
	    OK200 "{\"value\":[" TAGGED(
	        "T1", "k1") "],\"@odata.nextLink\":"
	                    "\"http://127.0.0.1:%d/v1.0/users/a/calendarView?$skiptoken=abc\"}",
	    w.fake.port);
	w.fake.answers[1] = OK200 "{\"value\":[" TAGGED("T2", "k2") "," UNTAGGED "]}";
	st = graph_backend.list_events(w.s, "alice@contoso.com", 1798070400, 1798675200, count_cb,
	                               &n, &err);
	ok(st == BE_OK && n == 2 && w.fake.served == 2,
	   "a nextLink on the configured host is followed (%d events, %s)", n, err.msg);
	world_close(&w);

	memset(&w, 0, sizeof w);
	n = 0;
	w.fake.answers[0] =
	    OK200 "{\"responses\":[{\"id\":\"2\",\"status\":200,\"body\":{\"value\":"
	          "[]}},{\"id\":\"1\",\"status\":200,\"body\":{\"value\":[" TAGGED(
	              "T1", "k1") "," TAGGED("T1b", "k1") "]}}]}";
	w.fake.nanswers = 1;
	world_open(&w, "delegated");
	{
		const char *keys[] = {"k1", "k2"};

		st = graph_backend.find_by_sync_keys(w.s, "alice@contoso.com", keys, 2, count_cb,
		                                     &n, &err);
	}
	ok(st == BE_OK && n == 2, "find_by_sync_keys: one $batch, duplicates of k1 both reported");
	ok(w.fake.requests[0] &&
	       strstr(w.fake.requests[0],
	              "singleValueExtendedProperties%2FAny%28ep%3A%20ep%2Fid") &&
	       strstr(w.fake.requests[0], "\"method\":\"GET\"") &&
	       !strstr(w.fake.requests[0], "If-Match"),
	   "the $filter on the extended property is sent, one GET per key");
	world_close(&w);
}

/* Reconcile's listing of several mailboxes: one $batch, each mailbox's nextLink in the next one
 * (relative to the version root), a failed sub-request and a foreign link fail their own mailbox
 * only. */
static void test_list_many(void)
{
	struct world w = {0};
	const char *mailboxes[] = {"alice@contoso.com", "bob@contoso.com", "carol@contoso.com"};
	int n[3] = {0};
	void *args[] = {&n[0], &n[1], &n[2]};
	enum be_status status[3];
	struct error errs[3];
	char round1[4096];

	w.fake.nanswers = 2;
	world_open(&w, "application");
	snprintf(
	    round1, sizeof round1,
	    OK200
	    "{\"responses\":[{\"id\":\"2\",\"status\":403,\"body\":{\"error\":{\"code\":"
	    "\"ErrorAccessDenied\",\"message\":\"Access is denied.\"}}},"
	    "{\"id\":\"1\",\"status\":200,\"body\":{\"value\":[" TAGGED(
	        "T1",
	        "k1") "," UNTAGGED "],\"@odata.nextLink\":\"http://127.0.0.1:%d/"
	              "v1.0/users/alice%%40contoso.com/calendarView?"
	              "$skiptoken=abc\"}},"
	              "{\"id\":\"3\",\"status\":200,\"body\":{\"value\":[],\"@odata.nextLink\":"
	              "\"http://127.0.0.2:%d/v1.0/users/carol/calendarView?$skiptoken=x\"}}]}",
	    w.fake.port, w.fake.port);
	w.fake.answers[0] = round1;
	w.fake.answers[1] =
	    OK200 "{\"responses\":[{\"id\":\"1\",\"status\":200,\"body\":{\"value\":"
	          "[" TAGGED("T2", "k2") "]}}]}";
	graph_backend.list_events_many(w.s, mailboxes, 3, 1798070400, 1798675200, count_cb, args,
	                               status, errs);
	is_int(w.fake.served, 2, "three mailboxes and a second page: two $batch requests");
	ok(w.fake.requests[0] && strstr(w.fake.requests[0], "POST /v1.0/$batch") &&
	       strstr(w.fake.requests[0], "\"url\":\"/users/alice%40contoso.com/calendarView?") &&
	       strstr(w.fake.requests[0], "\"url\":\"/users/bob%40contoso.com/calendarView?") &&
	       strstr(w.fake.requests[0], "\"url\":\"/users/carol%40contoso.com/calendarView?") &&
	       !strstr(w.fake.requests[0], "dependsOn") &&
	       strstr(w.fake.requests[0], "odata.maxpagesize=100"),
	   "one parallel $batch with a calendarView per mailbox");
	ok(w.fake.requests[1] &&
	       strstr(w.fake.requests[1],
	              "\"url\":\"/users/alice%40contoso.com/calendarView?$skiptoken=abc\"") &&
	       !strstr(w.fake.requests[1], "bob") && !strstr(w.fake.requests[1], "carol"),
	   "the second $batch follows alice's nextLink, relative to the version root");
	ok(status[0] == BE_OK && n[0] == 2, "alice: both pages listed (%d events, %s)", n[0],
	   errs[0].msg);
	ok(status[1] != BE_OK && status[1] != BE_RETRY_NOW && status[1] != BE_RETRY_LATER &&
	       strstr(errs[1].msg, "ErrorAccessDenied") && strstr(errs[1].msg, "bob@contoso.com"),
	   "bob: his sub-request's error, named: %s", errs[1].msg);
	ok(status[2] == BE_FINAL && strstr(errs[2].msg, "another host"),
	   "carol: a nextLink to another host is refused: %s", errs[2].msg);
	world_close(&w);
}

int main(void)
{
	test_all_day_zones();
	test_all_day_without_local_midnight();
	test_timed_dst();
	test_create_body();
	test_patch_only_changes();
	test_hostile_strings();
	test_batch_body();
	test_batch_plan_random();
	test_batch_apply();
	test_samples_all_parse_or_fail_clearly();
	test_sample_events();
	test_sample_delta();
	test_sample_errors();
	test_error_table();
	test_link_check();
	test_create_retries_throttled_alone();
	test_wait_cap_and_refresh();
	test_delegated_splits_mailboxes();
	test_list_and_find();
	test_list_many();
	return done_testing();
}
