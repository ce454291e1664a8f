/* Graph backend against what the service really answers (issue 14): a $batch refused as a whole is
 * never blamed on the leave; a failure inside a sequential batch (the rest answered 424) moves the
 * rest to parallel batches within the per-mailbox cap. */
#include "graph/graph.h"

#include "common/util.h"
#include "tap.h"
#include "graph_world.h"

#define KEY "6f1c2b9e-1d2a-4c3b-8e4f-5a6b7c8d9e0f"
#define MIXED_400                                                                                  \
	"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n"                       \
	"{\"error\":{\"code\":\"BadRequest\",\"message\":\"Batch should be either fully "          \
	"sequential or fully parallel.\",\"innerError\":{\"date\":\"2026-12-06T10:00:00\","        \
	"\"request-id\":\"r-1\"}}}"

static void make_event(struct event *ev, const char *start, const char *end)
{
	memset(ev, 0, sizeof *ev);
	ev->sync_key = xstrdup(KEY);
	ev->subject = xstrdup("Out of office");
	ev->all_day = true;
	snprintf(ev->start, sizeof ev->start, "%s", start);
	snprintf(ev->end, sizeof ev->end, "%s", end);
	snprintf(ev->time_zone, sizeof ev->time_zone, "Europe/Riga");
	ev->show_as = SHOW_OOF;
	ev->sensitivity = SENS_PRIVATE;
	ev->reminder_minutes = -1;
}

static void test_whole_batch_refusal_is_not_the_leave(void)
{
	struct world w = {0};
	struct event ev[2];
	struct be_item items[2];
	struct error err = {""};
	enum be_status st;

	w.fake.answers[0] = MIXED_400;
	w.fake.nanswers = 1;
	world_open(&w, "application");
	memset(items, 0, sizeof items);
	for (int i = 0; i < 2; i++) {
		make_event(&ev[i], "2027-01-04", "2027-01-05");
		items[i].mailbox = "dave@contoso.com";
		items[i].ev = &ev[i];
	}
	st = graph_backend.create_events(w.s, items, 2, &err);
	is_int(st, BE_RETRY_LATER, "a $batch refused as a whole: retry later, not final");
	ok(items[0].status == BE_RETRY_LATER && items[1].status == BE_RETRY_LATER,
	   "every item waits for a retry");
	ok(strstr(items[0].message, "Batch should be either fully sequential or fully parallel") &&
	       strstr(items[0].message, "protocol error") && strstr(items[0].message, "r-1"),
	   "the message quotes Graph and says it is a protocol error: %s", items[0].message);
	ok(!strstr(items[0].message, "Correct the leave"), "the leave is not blamed");
	is_int(w.fake.served, 1, "the refused batch is not hammered within the call");
	for (int i = 0; i < 2; i++) {
		be_item_clear(&items[i]);
		event_free(&ev[i]);
	}
	world_close(&w);
}

static int count_found(void *arg, struct remote_event *re)
{
	(void)re;
	(*(int *)arg)++;
	return 0;
}

static void test_find_refusal_is_not_final(void)
{
	struct world w = {0};
	const char *keys[] = {"k1", "k2"};
	struct error err = {""};
	int n = 0;
	enum be_status st;

	w.fake.answers[0] = MIXED_400;
	w.fake.nanswers = 1;
	world_open(&w, "application");
	st = graph_backend.find_by_sync_keys(w.s, "dave@contoso.com", keys, 2, count_found, &n,
	                                     &err);
	ok(st == BE_RETRY_LATER && strstr(err.msg, "protocol error") &&
	       !strstr(err.msg, "Correct the leave"),
	   "find_by_sync_keys: a refused $batch is retried later: %s", err.msg);
	world_close(&w);
}

/* 6 creates of one mailbox: one sequential batch; the second fails, so 3..6 answer 424 and go
 * out again as parallel batches of at most 4. */
static void test_failure_in_chain_goes_parallel(void)
{
	struct world w = {0};
	struct event ev[6];
	struct be_item items[6];
	struct error err = {""};
	bool chain_ok;

	w.fake.answers[0] =
	    OK200 "{\"responses\":["
	          "{\"id\":\"1\",\"status\":201,\"body\":{\"id\":\"E1\",\"@odata.etag\":\"W/"
	          "\\\"1\\\"\"}},"
	          "{\"id\":\"2\",\"status\":400,\"body\":{\"error\":{\"code\":"
	          "\"ErrorPropertyValidationFailure\",\"message\":\"At least one property failed "
	          "validation.\"}}},"
	          "{\"id\":\"3\",\"status\":424,\"body\":{\"error\":{\"code\":\"FailedDependency\","
	          "\"message\":\"x\"}}},"
	          "{\"id\":\"4\",\"status\":424},{\"id\":\"5\",\"status\":424},"
	          "{\"id\":\"6\",\"status\":424}]}";
	w.fake.answers[1] =
	    OK200 "{\"responses\":["
	          "{\"id\":\"3\",\"status\":201,\"body\":{\"id\":\"E3\",\"@odata.etag\":\"W/"
	          "\\\"3\\\"\"}},"
	          "{\"id\":\"4\",\"status\":201,\"body\":{\"id\":\"E4\",\"@odata.etag\":\"W/"
	          "\\\"4\\\"\"}},"
	          "{\"id\":\"5\",\"status\":201,\"body\":{\"id\":\"E5\",\"@odata.etag\":\"W/"
	          "\\\"5\\\"\"}},"
	          "{\"id\":\"6\",\"status\":201,\"body\":{\"id\":\"E6\",\"@odata.etag\":"
	          "\"W/\\\"6\\\"\"}}]}";
	w.fake.nanswers = 2;
	world_open(&w, "application");
	memset(items, 0, sizeof items);
	for (int i = 0; i < 6; i++) {
		char d1[11], d2[11];

		snprintf(d1, sizeof d1, "2027-01-%02d", i + 1);
		snprintf(d2, sizeof d2, "2027-01-%02d", i + 2);
		make_event(&ev[i], d1, d2);
		items[i].mailbox = "dave@contoso.com";
		items[i].ev = &ev[i];
	}
	graph_backend.create_events(w.s, items, 6, &err);
	is_int(w.fake.served, 2, "two $batch requests");
	chain_ok = w.fake.requests[0] && strstr(w.fake.requests[0], "\"dependsOn\":[\"5\"]") &&
	           strstr(w.fake.requests[0], "\"dependsOn\":[\"1\"]") &&
	           !strstr(w.fake.requests[0], "\"id\":\"1\",\"dependsOn\"");
	ok(chain_ok, "6 of one mailbox (more than 4): one fully sequential batch");
	ok(w.fake.requests[1] && !strstr(w.fake.requests[1], "dependsOn") &&
	       !strstr(w.fake.requests[1], "\"id\":\"1\"") &&
	       !strstr(w.fake.requests[1], "\"id\":\"2\""),
	   "after the failure, the 4 left go as a fully parallel batch");
	ok(items[0].status == BE_OK && items[1].status == BE_FINAL && items[2].status == BE_OK &&
	       items[5].status == BE_OK && items[5].new_remote_id &&
	       strcmp(items[5].new_remote_id, "E6") == 0,
	   "results: created, invalid, created after the 424");
	is_str(items[0].new_remote_id, "E1", "the first of the chain was created");
	for (int i = 0; i < 6; i++) {
		be_item_clear(&items[i]);
		event_free(&ev[i]);
	}
	world_close(&w);
}

int main(void)
{
	test_whole_batch_refusal_is_not_the_leave();
	test_find_refusal_is_not_final();
	test_failure_in_chain_goes_parallel();
	return done_testing();
}
