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

/* ---- users by id ---- */

#define USERS_ONE                                                                                  \
	OK200 "{\"value\":[{\"id\":\"U-ERIN\",\"userPrincipalName\":\"erin.e@contoso.onmicrosoft." \
	      "com\","                                                                             \
	      "\"mail\":\"erin@contoso.com\"}]}"
#define CREATED(id) "{\"id\":\"" id "\",\"status\":201,\"body\":{\"id\":\"E" id "\"}}"

/* create_events of n items of mailbox against the answers already set in w. */
static enum be_status create_n(struct world *w, const char *mailbox, struct be_item *items,
                               struct event *ev, int n)
{
	struct error err = {""};

	memset(items, 0, (size_t)n * sizeof *items);
	for (int i = 0; i < n; i++) {
		make_event(&ev[i], "2027-02-01", "2027-02-02");
		items[i].mailbox = mailbox;
		items[i].ev = &ev[i];
	}
	return graph_backend.create_events(w->s, items, (size_t)n, &err);
}

static void free_n(struct be_item *items, struct event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		be_item_clear(&items[i]);
		event_free(&ev[i]);
	}
}

static void test_users_resolved_once(void)
{
	struct world w = {0};
	struct event ev[2];
	struct be_item items[2];

	w.resolve = true;
	w.fake.answers[0] = USERS_ONE;
	w.fake.answers[1] = OK200 "{\"responses\":[" CREATED("1") "," CREATED("2") "]}";
	w.fake.nanswers = 2;
	world_open(&w, "application");
	create_n(&w, "erin@contoso.com", items, ev, 2);
	is_int(w.fake.served, 2,
	       "one directory lookup for two items of the mailbox, then the batch");
	ok(w.fake.requests[0] &&
	       strstr(w.fake.requests[0],
	              "GET /v1.0/users?$filter=mail%20eq%20%27erin%40contoso.com%27%20or%20"
	              "proxyAddresses%2Fany%28a%3Aa%20eq%20%27smtp%3Aerin%40contoso.com%27%29") &&
	       strstr(w.fake.requests[0], "$count=true") &&
	       strstr(w.fake.requests[0], "ConsistencyLevel: eventual"),
	   "the documented query on mail or proxyAddresses, as an advanced query");
	ok(w.fake.requests[1] && strstr(w.fake.requests[1], "\"url\":\"/users/U-ERIN/events\"") &&
	       !strstr(w.fake.requests[1], "erin%40contoso.com"),
	   "every URL names the user id, never the address");
	ok(items[0].status == BE_OK && items[1].status == BE_OK, "both created");
	free_n(items, ev, 2);
	world_close(&w);
}

static void test_users_failures_per_mailbox(void)
{
	static const struct {
		const char *answer, *want, *what;
	} cases[] = {
	    {OK200 "{\"value\":[]}", "no user in the directory has the address erin@contoso.com",
	     "no user"},
	    {OK200 "{\"value\":[{\"id\":\"A\",\"userPrincipalName\":\"a@x\"},{\"id\":\"B\","
	           "\"userPrincipalName\":\"b@x\"}]}",
	     "2 directory users carry the address erin@contoso.com (a@x, b@x)", "two users"},
	    {"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\r\n"
	     "{\"error\":{\"code\":\"Authorization_RequestDenied\",\"message\":\"Insufficient "
	     "privileges to complete the operation.\"}}",
	     "User.Read.All", "no permission"},
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct world w = {0};
		struct event ev[2];
		struct be_item items[2];

		w.resolve = true;
		w.fake.answers[0] = cases[k].answer;
		w.fake.nanswers = 1;
		world_open(&w, "application");
		create_n(&w, "erin@contoso.com", items, ev, 2);
		ok(items[0].status == BE_BLOCKED && items[1].status == BE_BLOCKED &&
		       strstr(items[0].message, cases[k].want),
		   "%s: the mailbox's items wait, with the reason: %s", cases[k].what,
		   items[0].message);
		is_int(w.fake.served, 1, "%s: one lookup, nothing written", cases[k].what);
		free_n(items, ev, 2);
		world_close(&w);
	}
}

/* Four new mailboxes of one write call: one $batch of lookups (sub-requests with ConsistencyLevel),
 * its clear answers kept as a single GET's would be, a throttled one left to its own GET. */
static void test_users_prefetched_in_batch(void)
{
	static const char *const mailboxes[] = {"a@contoso.com", "b@contoso.com", "c@contoso.com",
	                                        "d@contoso.com"};
	struct world w = {0};
	struct event ev[4];
	struct be_item items[4];
	struct error err = {""};

	w.resolve = true;
	w.fake.answers[0] = OK200
	    "{\"responses\":["
	    "{\"id\":\"3\",\"status\":200,\"body\":{\"value\":[]}},"
	    "{\"id\":\"1\",\"status\":200,\"body\":{\"value\":[{\"id\":\"U-A\"}]}},"
	    "{\"id\":\"2\",\"status\":429,\"headers\":{\"Retry-After\":\"1\"},\"body\":"
	    "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"slow down\"}}},"
	    "{\"id\":\"4\",\"status\":200,\"body\":{\"value\":[{\"id\":\"X\","
	    "\"userPrincipalName\":\"x@x\"},{\"id\":\"Y\",\"userPrincipalName\":\"y@x\"}]}}]}";
	w.fake.answers[1] = OK200 "{\"value\":[{\"id\":\"U-B\"}]}";
	w.fake.answers[2] = OK200 "{\"responses\":[" CREATED("1") "," CREATED("2") "]}";
	w.fake.nanswers = 3;
	world_open(&w, "application");
	memset(items, 0, sizeof items);
	for (int i = 0; i < 4; i++) {
		make_event(&ev[i], "2027-02-01", "2027-02-02");
		items[i].mailbox = mailboxes[i];
		items[i].ev = &ev[i];
	}
	graph_backend.create_events(w.s, items, 4, &err);
	is_int(w.fake.served, 3, "one lookup $batch, one GET for the throttled one, the writes");
	ok(w.fake.requests[0] && strstr(w.fake.requests[0], "POST /v1.0/$batch ") &&
	       strstr(w.fake.requests[0],
	              "\"url\":\"/users?$filter=mail%20eq%20%27d%40contoso.com%27%20or%20") &&
	       strstr(w.fake.requests[0], "\"ConsistencyLevel\":\"eventual\"") &&
	       strstr(w.fake.requests[0], "\"id\":\"4\""),
	   "the four lookups in one $batch, each with ConsistencyLevel: eventual");
	ok(w.fake.requests[1] && strstr(w.fake.requests[1], "GET /v1.0/users?$filter=") &&
	       strstr(w.fake.requests[1], "b%40contoso.com") &&
	       strstr(w.fake.requests[1], "ConsistencyLevel: eventual"),
	   "the throttled lookup goes again on its own");
	ok(w.fake.requests[2] && strstr(w.fake.requests[2], "/users/U-A/events") &&
	       strstr(w.fake.requests[2], "/users/U-B/events"),
	   "the writes use the ids found");
	ok(items[0].status == BE_OK && items[1].status == BE_OK, "a and b created");
	ok(items[2].status == BE_BLOCKED &&
	       strstr(items[2].message, "no user in the directory has the address c@contoso.com"),
	   "no user: blocked with the same reason: %s", items[2].message);
	ok(items[3].status == BE_BLOCKED &&
	       strstr(items[3].message,
	              "2 directory users carry the address d@contoso.com (x@x, y@x)"),
	   "two users: blocked with the same reason: %s", items[3].message);
	free_n(items, ev, 4);
	world_close(&w);
}

static void test_users_delegated_me(void)
{
	struct world w = {0};
	struct event ev[1];
	struct be_item items[1];

	w.resolve = true;
	w.fake.answers[0] =
	    OK200 "{\"id\":\"U-ME\",\"userPrincipalName\":\"erin.e@contoso.onmicrosoft.com\","
	          "\"mail\":\"erin@contoso.com\",\"proxyAddresses\":[\"SMTP:erin@contoso.com\","
	          "\"smtp:e.eriksson@contoso.com\"]}";
	w.fake.answers[1] = OK200 "{\"responses\":[" CREATED("1") "]}";
	w.fake.nanswers = 2;
	world_open(&w, "delegated");
	create_n(&w, "E.Eriksson@contoso.com", items, ev, 1);
	ok(w.fake.requests[0] && strstr(w.fake.requests[0], "GET /v1.0/me?$select=id,"),
	   "delegated: the signed-in user is read first");
	ok(w.fake.requests[1] && strstr(w.fake.requests[1], "/users/U-ME/events"),
	   "an alias of the signed-in user resolves to its id without a directory query");
	free_n(items, ev, 1);
	world_close(&w);
}

struct recording_dir {
	char forgotten[64];
};

static int rec_lookup(struct mailbox_directory *d, const char *mailbox, char **user_id,
                      struct error *err)
{
	(void)d;
	(void)mailbox;
	(void)err;
	*user_id = strdup("U-OLD");
	return 0;
}

static int rec_remember(struct mailbox_directory *d, const char *mailbox, const char *user_id,
                        struct error *err)
{
	struct recording_dir *r = d->ctx;

	(void)err;
	if (!user_id)
		snprintf(r->forgotten, sizeof r->forgotten, "%s", mailbox);
	return 0;
}

static void test_users_stale_id_forgotten(void)
{
	struct world w = {0};
	struct recording_dir rec = {""};
	struct event ev[1];
	struct be_item items[1];

	w.fake.answers[0] = OK200
	    "{\"responses\":[{\"id\":\"1\",\"status\":404,\"body\":{\"error\":{\"code\":"
	    "\"ErrorInvalidUser\",\"message\":\"The requested user 'U-OLD' is invalid.\"}}}]}";
	w.fake.nanswers = 1;
	world_open(&w, "application");
	w.dir =
	    (struct mailbox_directory){.lookup = rec_lookup, .remember = rec_remember, .ctx = &rec};
	create_n(&w, "erin@contoso.com", items, ev, 1);
	ok(w.fake.requests[0] && strstr(w.fake.requests[0], "/users/U-OLD/events"),
	   "the stored id is used");
	ok(items[0].status == BE_RETRY_LATER && strstr(items[0].message, "looked up again"),
	   "a stored id that is no longer a user: retried, %s", items[0].message);
	is_str(rec.forgotten, "erin@contoso.com",
	       "and forgotten, so the address is looked up again");
	free_n(items, ev, 1);
	world_close(&w);
}

int main(void)
{
	test_whole_batch_refusal_is_not_the_leave();
	test_find_refusal_is_not_final();
	test_failure_in_chain_goes_parallel();
	test_users_resolved_once();
	test_users_failures_per_mailbox();
	test_users_prefetched_in_batch();
	test_users_delegated_me();
	test_users_stale_id_forgotten();
	return done_testing();
}
