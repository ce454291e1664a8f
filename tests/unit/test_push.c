/* store_push: the three formats, the upsert rules (insert, update, unchanged, stale), and every
 * bad-input case with its record number, field and reason, each leaving the store unchanged. */
#include "store/store.h"
#include "store/store_int.h" /* white box: sqlite3_total_changes on the store's own connection */
#include "tests/unit/tap.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/tz.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_push.XXXXXX";
static char path[256];

static bool tz_known(const char *iana)
{
	static const char *const known[] = {"UTC", "Europe/Riga", "America/Los_Angeles",
	                                    "Asia/Kolkata", "Pacific/Kiritimati"};

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(iana, known[i]) == 0)
			return true;
	return false;
}

static struct push_options opts(enum push_format f)
{
	struct push_options o = {.format = f,
	                         .max_leave_days = 366,
	                         .tz_known = tz_known,
	                         .default_time_zone = "Europe/Riga",
	                         .max_note_bytes = 0};
	return o;
}

static int push(struct store *st, enum push_format f, const char *data, struct push_report *rep)
{
	struct push_options o = opts(f);
	struct error err = {""};
	int rc = store_push(st, data, strlen(data), &o, rep, &err);

	if (err.msg[0])
		printf("# err: %s\n", err.msg);
	return rc;
}

/* Everything HR-visible in the store, as one string. */
static char *snapshot(struct store *st)
{
	sqlite3_stmt *s;
	struct buf b = BUF_INIT;

	sqlite3_prepare_v2(
	    st->db,
	    "SELECT quote(id), quote(mailbox), quote(kind), quote(starts), quote(ends),"
	    " quote(time_zone), quote(status), quote(note), revision, updated_at"
	    " FROM leave ORDER BY id",
	    -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW) {
		for (int i = 0; i < 10; i++)
			buf_printf(&b, "%s|", sqlite3_column_text(s, i));
		buf_puts(&b, "\n");
	}
	sqlite3_finalize(s);
	sqlite3_prepare_v2(st->db, "SELECT leave_id, seq FROM leave_dirty ORDER BY seq", -1, &s,
	                   NULL);
	while (sqlite3_step(s) == SQLITE_ROW)
		buf_printf(&b, "q:%s:%lld\n", sqlite3_column_text(s, 0),
		           (long long)sqlite3_column_int64(s, 1));
	sqlite3_finalize(s);
	buf_puts(&b, "");
	return buf_steal(&b);
}

static int queued(struct store *st)
{
	struct dirty_leave *d;
	size_t n;
	struct error err = {""};

	store_dirty_leaves(st, 1000000, &d, &n, &err);
	dirty_leaves_free(d, n);
	return (int)n;
}

static void drain(struct store *st)
{
	struct dirty_leave *d;
	size_t n;
	struct error err = {""};

	store_dirty_leaves(st, 1000000, &d, &n, &err);
	store_dirty_done(st, d, n, &err);
	dirty_leaves_free(d, n);
}

#define RECF(id, mb, kind, start, end, status, extra)                                              \
	"{\"id\":\"" id "\",\"mailbox\":\"" mb "\",\"kind\":\"" kind "\",\"start\":\"" start       \
	"\",\"end\":\"" end "\",\"status\":\"" status "\"" extra "}"
#define REC(id, extra)                                                                             \
	RECF(id, "alice@contoso.com", "Annual leave", "2026-12-24", "2026-12-31", "approved", extra)
#define REC_MB(mb) RECF("A", mb, "k", "2026-12-24", "2026-12-31", "approved", "")

static const char three_json[] =
    "[\n"
    "  {\"id\": \"LV-1\", \"mailbox\": \"Alice@Contoso.com\", \"kind\": \"Annual leave\",\n"
    "   \"start\": \"2026-12-24\", \"end\": \"2026-12-31\", \"status\": \"approved\",\n"
    "   \"revision\": 3, \"time_zone\": \"Europe/Riga\", \"note\": \"Back on 4 January, "
    "\\\"ok\\\"\\nbye\"},\n"
    "  {\"id\": \"LV-2\", \"mailbox\": \"bob@contoso.com\", \"kind\": \"Sick leave\",\n"
    "   \"start\": \"2026-03-29T09:00\", \"end\": \"2026-03-29T13:30\", \"status\": \"approved\",\n"
    "   \"time_zone\": \"America/Los_Angeles\", \"note\": null},\n"
    "  {\"id\": \"LV-3\", \"mailbox\": \"carol@contoso.com\", \"kind\": \"Annual leave\",\n"
    "   \"start\": \"2026-07-01\", \"end\": \"2026-07-01\", \"status\": \"cancelled\", "
    "\"revision\": 0}\n"
    "]\n";

static const char three_ndjson[] =
    "{\"id\": \"LV-1\", \"mailbox\": \"alice@contoso.com\", \"kind\": \"Annual leave\", \"start\": "
    "\"2026-12-24\", \"end\": \"2026-12-31\", \"status\": \"approved\", \"revision\": 3, "
    "\"time_zone\": \"Europe/Riga\", \"note\": \"Back on 4 January, \\\"ok\\\"\\nbye\"}\n"
    "\n"
    "{\"id\": \"LV-2\", \"mailbox\": \"bob@contoso.com\", \"kind\": \"Sick leave\", \"start\": "
    "\"2026-03-29T09:00\", \"end\": \"2026-03-29T13:30\", \"status\": \"approved\", "
    "\"revision\": 1, \"time_zone\": \"America/Los_Angeles\"}\n"
    "{\"id\": \"LV-3\", \"mailbox\": \"carol@contoso.com\", \"kind\": \"Annual leave\", \"start\": "
    "\"2026-07-01\", \"end\": \"2026-07-01\", \"status\": \"cancelled\", \"revision\": 0, "
    "\"time_zone\": \"Europe/Riga\"}\n";

/* BOM, CRLF, a quoted note with a comma, quotes and a CRLF line break (stored as LF). */
static const char three_csv[] =
    "\xef\xbb\xbfid,mailbox,kind,start,end,status,revision,time_zone,note\r\n"
    "LV-1,alice@contoso.com,Annual leave,2026-12-24,2026-12-31,approved,3,Europe/Riga,\"Back on 4 "
    "January, \"\"ok\"\"\r\nbye\"\r\n"
    "LV-2,bob@contoso.com,Sick leave,2026-03-29T09:00,2026-03-29T13:30,approved,,America/"
    "Los_Angeles,\r\n"
    "LV-3,carol@contoso.com,Annual leave,2026-07-01,2026-07-01,cancelled,0,,\r\n";

static void test_insert_and_identical(struct store *st)
{
	struct push_report rep;
	struct leave lv;
	struct error err = {""};
	int changes;

	ok(push(st, PUSH_AUTO, three_json, &rep) == 0, "a JSON array of three leaves is pushed");
	ok(rep.format == PUSH_JSON && rep.records == 3 && rep.inserted == 3 && rep.nproblems == 0,
	   "detected as JSON, three inserted");
	push_report_free(&rep);
	is_int(queued(st), 3, "the three leaves are in the dirty queue");
	ok(store_get_leave(st, "LV-1", &lv, &err) == 1, "LV-1 is stored");
	is_str(lv.mailbox, "alice@contoso.com", "the mailbox is lower-cased");
	is_str(lv.note, "Back on 4 January, \"ok\"\nbye", "the note keeps quotes and a line break");
	is_int(lv.revision, 3, "revision stored");
	leave_free(&lv);
	store_get_leave(st, "LV-2", &lv, &err);
	is_int(lv.revision, 1, "a missing revision defaults to 1");
	ok(lv.note == NULL, "a null note is stored as NULL");
	is_str(lv.starts, "2026-03-29T09:00", "a part-day start is stored as given");
	leave_free(&lv);
	store_get_leave(st, "LV-3", &lv, &err);
	is_str(lv.time_zone, "Europe/Riga", "a missing time zone takes the configured default");
	is_int(lv.revision, 0, "revision 0 is allowed");
	leave_free(&lv);
	drain(st);

	changes = sqlite3_total_changes(st->db);
	ok(push(st, PUSH_AUTO, three_json, &rep) == 0 && rep.unchanged == 3 && rep.inserted == 0 &&
	       rep.updated == 0,
	   "the identical push reports three unchanged");
	push_report_free(&rep);
	is_int(sqlite3_total_changes(st->db), changes, "the identical push writes no row at all");
	is_int(queued(st), 0, "and queues nothing");

	ok(push(st, PUSH_AUTO, three_ndjson, &rep) == 0 && rep.format == PUSH_NDJSON &&
	       rep.unchanged == 3,
	   "the same leave as NDJSON is detected and unchanged");
	push_report_free(&rep);
	ok(push(st, PUSH_AUTO, three_csv, &rep) == 0 && rep.format == PUSH_CSV &&
	       rep.unchanged == 3,
	   "the same leave as CSV (BOM, CRLF, quoted note) is detected and unchanged");
	if (rep.unchanged != 3)
		printf("# ins %zu upd %zu unch %zu\n", rep.inserted, rep.updated, rep.unchanged);
	push_report_free(&rep);
	is_int(sqlite3_total_changes(st->db), changes, "still nothing written");
}

static void test_update_and_stale(struct store *st)
{
	struct push_report rep;
	struct leave lv;
	struct error err = {""};
	char *before;

	ok(push(st, PUSH_NDJSON, REC("LV-1", ",\"revision\":4,\"time_zone\":\"Europe/Riga\"") "\n",
	        &rep) == 0 &&
	       rep.updated == 1,
	   "a higher revision with changes updates");
	push_report_free(&rep);
	is_int(queued(st), 1, "the updated leave is queued");
	drain(st);
	store_get_leave(st, "LV-1", &lv, &err);
	ok(lv.revision == 4 && lv.note == NULL, "the row now has revision 4 and no note");
	leave_free(&lv);

	before = snapshot(st);
	ok(push(st, PUSH_NDJSON,
	        REC("LV-1", ",\"revision\":2,\"kind\":\"x\"") "\n" /* kind twice: rejected */,
	        &rep) < 0,
	   "(a record with a duplicate key is malformed)");
	push_report_free(&rep);
	ok(push(st, PUSH_NDJSON,
	        "{\"id\":\"LV-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Other\","
	        "\"start\":\"2026-12-24\",\"end\":\"2026-12-31\",\"status\":"
	        "\"approved\",\"revision\":2}\n",
	        &rep) == 0,
	   "a lower revision is not an error");
	is_int((long long)rep.stale, 1, "it is counted as stale");
	ok(rep.nnotices == 1 && rep.notices && rep.notices[1] == NULL,
	   "with one notice (NULL-terminated list)");
	if (rep.nnotices == 1)
		is_str(rep.notices[0],
		       "line 1 ('LV-1'): revision 2 is older than stored 4: skipped",
		       "the notice names the line, the id and both revisions");
	push_report_free(&rep);
	{
		char *after = snapshot(st);
		is_str(after, before, "a stale record changes nothing");
		free(after);
	}
	free(before);
	ok(push(st, PUSH_NDJSON,
	        RECF("LV-1", "alice@contoso.com", "Annual leave", "2026-12-24", "2026-12-31",
	             "cancelled", ",\"revision\":4,\"time_zone\":\"Europe/Riga\"") "\n",
	        &rep) == 0 &&
	       rep.updated == 1,
	   "the same revision with a change updates (revision >= stored)");
	push_report_free(&rep);
	drain(st);
}

struct bad_case {
	const char *what;
	enum push_format format;
	const char *input;
	long record;
	const char *field;
	const char *reason; /* a fragment of the reason */
};

#define NOTE_100                                                                                   \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxx"                                                                                      \
	"xxxxxxxxx"
#define NOTE_500 NOTE_100 NOTE_100 NOTE_100 NOTE_100 NOTE_100
#define NOTE_LONG NOTE_500 NOTE_500 NOTE_500 NOTE_500 NOTE_500 NOTE_500 NOTE_500 NOTE_500 NOTE_500

#define CSV_HEAD "id,mailbox,kind,start,end,status,revision,time_zone,note\n"

static const struct bad_case bad_cases[] = {
    {"malformed JSON array", PUSH_AUTO, "[" REC("A", "") ",\n {\"id\": \"B\",", 2, "",
     "malformed JSON at line 2"},
    {"malformed NDJSON line", PUSH_AUTO, REC("A", "") "\n{\"id\": \"B\", \n", 2, "",
     "malformed JSON"},
    {"a record that is not an object", PUSH_JSON, "[1]", 1, "", "expected a JSON object"},
    {"text after the array", PUSH_JSON, "[" REC("A", "") "] x", 1, "",
     "unexpected text after the closing ]"},
    {"NDJSON given as --format json", PUSH_JSON, REC("A", "") "\n", 1, "", "expected a JSON array"},
    {"missing field", PUSH_NDJSON,
     "{\"id\":\"A\",\"kind\":\"Annual leave\",\"start\":\"2026-12-24\",\"end\":\"2026-12-31\","
     "\"status\":\"approved\"}\n",
     1, "mailbox", "missing"},
    {"unknown field", PUSH_NDJSON, REC("A", ",\"colour\":\"red\"") "\n", 1, "colour",
     "unknown field 'colour'"},
    {"wrong JSON type", PUSH_NDJSON, REC("A", ",\"note\":5") "\n", 1, "note", "expected a string"},
    {"not a real date", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"2026-02-30\","
     "\"end\":\"2026-03-02\",\"status\":\"approved\"}\n",
     1, "start", "'2026-02-30' is not a real date or time; expected YYYY-MM-DD"},
    {"not a date", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"24/12/2026\","
     "\"end\":\"2026-12-31\",\"status\":\"approved\"}\n",
     1, "start", "is not a date; expected YYYY-MM-DD (all day) or YYYY-MM-DDTHH:MM"},
    {"an open end 9999-12-31", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"2026-12-24\","
     "\"end\":\"9999-12-31\",\"status\":\"approved\"}\n",
     1, "end", "'9999-12-31' is outside the dates leavesync supports, 1970-01-01 to 2199-12-31"},
    {"a start in 1969", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"1969-12-31T23:00\","
     "\"end\":\"1970-01-01T01:00\",\"status\":\"approved\"}\n",
     1, "start", "'1969-12-31T23:00' is outside the dates leavesync supports"},
    {"year 0001 in Pacific/Kiritimati", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"0001-01-01T00:00\","
     "\"end\":\"0001-01-01T08:00\",\"status\":\"approved\",\"time_zone\":\"Pacific/Kiritimati\"}\n",
     1, "start", "outside the dates leavesync supports"},
    {"a start in 2200", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"2200-01-01\","
     "\"end\":\"2200-01-01\",\"status\":\"approved\"}\n",
     1, "start", "'2200-01-01' is outside the dates leavesync supports"},
    {"hour 25", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"2026-12-24T09:00\","
     "\"end\":\"2026-12-24T25:00\",\"status\":\"approved\"}\n",
     1, "end", "not a real date or time"},
    {"start and end of different forms", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"2026-12-24\","
     "\"end\":\"2026-12-24T12:00\",\"status\":\"approved\"}\n",
     1, "end", "use the same form for both"},
    {"end before start", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"2026-12-24\","
     "\"end\":\"2026-12-23\",\"status\":\"approved\"}\n",
     1, "end", "2026-12-23 is before start 2026-12-24"},
    {"part-day leave ending when it starts", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"2026-12-24T09:00\","
     "\"end\":\"2026-12-24T09:00\",\"status\":\"approved\"}\n",
     1, "end", "must end after it starts"},
    {"leave longer than the limit", PUSH_NDJSON,
     "{\"id\":\"A\",\"mailbox\":\"a@contoso.com\",\"kind\":\"k\",\"start\":\"2026-01-01\","
     "\"end\":\"2027-01-02\",\"status\":\"approved\"}\n",
     1, "end", "the leave lasts 367 days, longer than the limit of 366 days"},
    {"mailbox without @", PUSH_NDJSON, REC_MB("alice.contoso.com") "\n", 1, "mailbox",
     "'alice.contoso.com' is not a valid mailbox address; expected name@domain.tld"},
    {"mailbox with a space", PUSH_NDJSON, REC_MB("alice @contoso.com") "\n", 1, "mailbox",
     "not a valid mailbox address"},
    {"mailbox with two @", PUSH_NDJSON, REC_MB("a@b@contoso.com") "\n", 1, "mailbox",
     "not a valid mailbox address"},
    {"mailbox without a domain dot", PUSH_NDJSON, REC_MB("alice@contoso") "\n", 1, "mailbox",
     "not a valid mailbox address"},
    {"unknown status", PUSH_NDJSON,
     RECF("A", "a@contoso.com", "k", "2026-12-24", "2026-12-31", "Approved", "") "\n", 1, "status",
     "'Approved' is not a known status; expected approved or cancelled"},
    {"unknown time zone", PUSH_NDJSON, REC("A", ",\"time_zone\":\"Europe/Rigga\"") "\n", 1,
     "time_zone", "'Europe/Rigga' is not a known IANA time zone"},
    {"duplicate id", PUSH_NDJSON, REC("A", "") "\n" REC("B", "") "\n" REC("A", "") "\n", 3, "id",
     "duplicate id 'A' (first at line 1)"},
    {"duplicate id in an array", PUSH_JSON, "[" REC("A", "") "," REC("A", "") "]", 2, "id",
     "duplicate id 'A' (first at record 1)"},
    {"empty id", PUSH_NDJSON, REC("", "") "\n", 1, "id", "empty"},
    {"fractional revision", PUSH_NDJSON, REC("A", ",\"revision\":1.5") "\n", 1, "revision",
     "expected a whole number"},
    {"revision as a string", PUSH_NDJSON, REC("A", ",\"revision\":\"3\"") "\n", 1, "revision",
     "a string; expected a whole number >= 0 without quotes"},
    {"revision true", PUSH_NDJSON, REC("A", ",\"revision\":true") "\n", 1, "revision",
     "expected a whole number"},
    {"negative revision", PUSH_NDJSON, REC("A", ",\"revision\":-1") "\n", 1, "revision",
     "negative"},
    {"CSV fractional revision", PUSH_CSV,
     CSV_HEAD "A,a@contoso.com,k,2026-12-24,2026-12-24,approved,1.5,,\n", 2, "revision",
     "expected digits only"},
    {"invalid UTF-8 in CSV", PUSH_CSV,
     CSV_HEAD "A,a@contoso.com,k\xff,2026-12-24,2026-12-24,approved,1,,\n", 2, "kind",
     "not valid UTF-8"},
    {"invalid UTF-8 in JSON", PUSH_NDJSON, REC("A", ",\"note\":\"caf\xe9\"") "\n", 1, "",
     "not valid UTF-8"},
    {"overlong UTF-8 in CSV", PUSH_CSV,
     CSV_HEAD "A,a@contoso.com,k,2026-12-24,2026-12-24,approved,1,,\xc0\xaf\n", 2, "note",
     "not valid UTF-8"},
    {"control character in kind", PUSH_NDJSON,
     RECF("A", "a@contoso.com", "Annual\\u0007", "2026-12-24", "2026-12-31", "approved", "") "\n",
     1, "kind", "control character"},
    {"control character in note", PUSH_NDJSON, REC("A", ",\"note\":\"a\\u0001b\"") "\n", 1, "note",
     "only tab and newline are allowed in a note"},
    {"note too long", PUSH_NDJSON, REC("A", ",\"note\":\"" NOTE_LONG "\"") "\n", 1, "note",
     "4500 bytes, longer than the limit of 4096 bytes"},
    {"CSV missing column", PUSH_CSV,
     "id,mailbox,kind,start,end\nA,a@contoso.com,k,2026-12-24,2026-12-24\n", 1, "status",
     "missing column"},
    {"CSV unknown column", PUSH_CSV,
     "id,mailbox,kind,start,end,status,colour\nA,a@contoso.com,k,2026-12-24,2026-12-24,approved,"
     "red\n",
     1, "", "unknown column 'colour'"},
    {"CSV wrong number of fields", PUSH_CSV,
     CSV_HEAD "A,a@contoso.com,k,2026-12-24,2026-12-24,approved,1,,\n"
              "B,a@contoso.com,Annual leave, paid,2026-12-24,2026-12-24,approved,1,,\n",
     3, "", "10 fields, but the header row has 9"},
    {"CSV unterminated quote", PUSH_CSV,
     CSV_HEAD "A,a@contoso.com,\"k,2026-12-24,2026-12-24,approved,1,,\n", 2, "",
     "a quoted field is never closed"},
    {"CSV quote inside an unquoted field", PUSH_CSV,
     CSV_HEAD "A,a@contoso.com,k\"x,2026-12-24,2026-12-24,approved,1,,\n", 2, "",
     "a quote inside an unquoted field"},
    {"CSV text after a closing quote", PUSH_CSV,
     CSV_HEAD "A,a@contoso.com,\"k\"x,2026-12-24,2026-12-24,approved,1,,\n", 2, "",
     "text after a closing quote"},
};

static bool has_problem(const struct push_report *r, long record, const char *field,
                        const char *reason)
{
	for (size_t i = 0; i < r->nproblems; i++)
		if (r->problems[i].record == record && strcmp(r->problems[i].field, field) == 0 &&
		    strstr(r->problems[i].reason, reason))
			return true;
	return false;
}

static void show_problems(const struct push_report *r)
{
	for (size_t i = 0; i < r->nproblems; i++)
		printf("#   %ld: %s: %s\n", r->problems[i].record, r->problems[i].field,
		       r->problems[i].reason);
}

static void test_bad_inputs(struct store *st)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];
		char *before = snapshot(st), *after;
		int changes = sqlite3_total_changes(st->db);
		struct push_report rep;
		int rc = push(st, c->format, c->input, &rep);

		after = snapshot(st);
		if (!ok(rc == -1 && has_problem(&rep, c->record, c->field, c->reason) &&
		            strcmp(before, after) == 0 && sqlite3_total_changes(st->db) == changes,
		        "%s: refused at %ld, field '%s', \"%s\", store unchanged", c->what,
		        c->record, c->field, c->reason))
			show_problems(&rep);
		push_report_free(&rep);
		free(before);
		free(after);
	}
}

static void test_all_problems_listed(struct store *st)
{
	struct push_report rep;
	struct buf in = BUF_INIT;
	char *before = snapshot(st), *after;

	/* a good record first: it must not be written either */
	buf_puts(&in, REC("NEW-1", "") "\n");
	buf_puts(&in, RECF("NEW-2", "a@contoso.com", "k", "2026-12-24", "2026-12-31", "ok",
	                   ",\"time_zone\":\"Mars/Olympus\"") "\n");
	buf_puts(&in,
	         "{\"id\":\"NEW-3\",\"mailbox\":\"bad\",\"kind\":\"k\",\"start\":\"2026-13-01\","
	         "\"end\":\"2026-12-01\",\"status\":\"approved\"}\n");
	ok(push(st, PUSH_NDJSON, in.data, &rep) == -1, "an input with several bad records fails");
	ok(has_problem(&rep, 2, "status", "not a known status") &&
	       has_problem(&rep, 2, "time_zone", "not a known IANA") &&
	       has_problem(&rep, 3, "mailbox", "not a valid mailbox") &&
	       has_problem(&rep, 3, "start", "not a real date"),
	   "every problem of every record is listed");
	is_int((long long)rep.nproblems, 4, "and only those");
	is_int((long long)rep.records, 3, "three records read");
	push_report_free(&rep);
	after = snapshot(st);
	is_str(after, before, "the good record of a bad input is not written");
	free(before);
	free(after);

	buf_reset(&in);
	for (int i = 0; i < 1500; i++)
		buf_printf(
		    &in,
		    RECF("M%d", "a@contoso.com", "k", "2026-12-24", "2026-12-31", "nope", "") "\n",
		    i);
	ok(push(st, PUSH_NDJSON, in.data, &rep) == -1 && rep.nproblems == 1001,
	   "a huge bad input lists 1000 problems and a summary line");
	if (rep.nproblems == 1001)
		ok(rep.problems[1000].record == 1001 &&
		       strstr(rep.problems[1000].reason, "and 500 more problems"),
		   "the summary says how many more: %s", rep.problems[1000].reason);
	push_report_free(&rep);
	buf_free(&in);
}

static void test_edge_cases(struct store *st)
{
	struct push_report rep;
	struct push_options o = opts(PUSH_AUTO);
	struct error err = {""};
	struct leave lv;
	const char *in;

	ok(push(st, PUSH_AUTO, "[]", &rep) == 0 && rep.records == 0, "an empty array is fine");
	push_report_free(&rep);
	ok(push(st, PUSH_AUTO, "", &rep) == 0 && rep.records == 0, "an empty input is 0 records");
	push_report_free(&rep);
	ok(push(st, PUSH_CSV, CSV_HEAD, &rep) == 0 && rep.records == 0, "a header alone is fine");
	push_report_free(&rep);
	in =
	    "{\"id\":\"E-1\",\"mailbox\":\"e@contoso.com\",\"kind\":\"k\",\"start\":\"2026-01-01\","
	    "\"end\":\"2027-01-01\",\"status\":\"approved\"}\n"
	    "{\"id\":\"E-2\",\"mailbox\":\"e@contoso.com\",\"kind\":\"k\",\"start\":"
	    "\"2026-03-28T22:00\",\"end\":\"2026-03-29T06:00\",\"status\":\"approved\"}\n"
	    "{\"id\":\"E-3\",\"mailbox\":\"e@contoso.com\",\"kind\":\"k\",\"start\":\"2028-02-29\","
	    "\"end\":\"2028-02-29\",\"status\":\"approved\",\"note\":\"tab\\there\"}\n";
	ok(push(st, PUSH_AUTO, in, &rep) == 0 && rep.inserted == 3,
	   "366 days, a night across a DST change and 29 February of a leap year are accepted");
	if (rep.nproblems)
		show_problems(&rep);
	push_report_free(&rep);
	o.tz_known = NULL;
	o.default_time_zone = NULL;
	in = REC("E-4", ",\"time_zone\":\"Any/Thing\"") "\n" REC("E-5", "") "\n";
	ok(store_push(st, in, strlen(in), &o, &rep, &err) == 0 && rep.inserted == 2,
	   "without a tz_known callback any zone name is accepted");
	push_report_free(&rep);
	store_get_leave(st, "E-5", &lv, &err);
	is_str(lv.time_zone, "UTC", "without a default time zone, UTC");
	leave_free(&lv);
	drain(st);
}

/* A part-day time in a daylight-saving gap is refused with the zone and the jump; one in an
 * overlap is accepted (it means its first occurrence). */
static void test_dst(struct store *st)
{
	struct push_report rep;
	struct push_options o = opts(PUSH_NDJSON);
	struct error err = {""};
	const char *gap = "{\"id\":\"D-1\",\"mailbox\":\"d@contoso.com\",\"kind\":\"k\","
	                  "\"start\":\"2027-03-28T02:30\",\"end\":\"2027-03-28T03:30\","
	                  "\"status\":\"approved\",\"time_zone\":\"Europe/Berlin\"}\n"
	                  "{\"id\":\"D-2\",\"mailbox\":\"d@contoso.com\",\"kind\":\"k\","
	                  "\"start\":\"2027-03-14T01:00\",\"end\":\"2027-03-14T02:15\","
	                  "\"status\":\"approved\",\"time_zone\":\"America/New_York\"}\n";
	const char *overlap = "{\"id\":\"D-3\",\"mailbox\":\"d@contoso.com\",\"kind\":\"k\","
	                      "\"start\":\"2027-10-31T02:30\",\"end\":\"2027-10-31T04:00\","
	                      "\"status\":\"approved\",\"time_zone\":\"Europe/Berlin\"}\n"
	                      "{\"id\":\"D-4\",\"mailbox\":\"d@contoso.com\",\"kind\":\"k\","
	                      "\"start\":\"2027-10-03T01:00\",\"end\":\"2027-10-03T04:00\","
	                      "\"status\":\"approved\",\"time_zone\":\"Australia/Sydney\"}\n";

	o.tz_known = tz_is_known_iana;
	o.local_time_gap = tz_local_gap;
	ok(store_push(st, gap, strlen(gap), &o, &rep, &err) == -1 && rep.nproblems == 2,
	   "two part-day times in spring gaps: refused, nothing written");
	if (rep.nproblems == 2) {
		ok(rep.problems[0].record == 1 && strcmp(rep.problems[0].field, "start") == 0 &&
		       strstr(
		           rep.problems[0].reason,
		           "2027-03-28T02:30: this local time does not exist in Europe/Berlin on "
		           "2027-03-28 (clocks go forward from 02:00 to 03:00); choose a time "
		           "before or after"),
		   "record, field, zone, date and the jump: %s", rep.problems[0].reason);
		ok(rep.problems[1].record == 2 && strcmp(rep.problems[1].field, "end") == 0 &&
		       strstr(rep.problems[1].reason, "America/New_York"),
		   "an end in New York's gap too: %s", rep.problems[1].reason);
	}
	push_report_free(&rep);
	ok(store_push(st, overlap, strlen(overlap), &o, &rep, &err) == 0 && rep.inserted == 2,
	   "times the clocks repeat, and a leave spanning a gap, are accepted");
	push_report_free(&rep);
	drain(st);
}

int main(void)
{
	struct store *st = NULL;
	struct error err = {""};

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/leavesync.db", dir);
	if (store_open(path, true, NULL, &st, &err) < 0) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	test_insert_and_identical(st);
	test_update_and_stale(st);
	test_bad_inputs(st);
	test_all_problems_listed(st);
	test_edge_cases(st);
	test_dst(st);
	store_close(st);
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
