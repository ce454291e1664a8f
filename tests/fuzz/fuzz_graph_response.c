/* libFuzzer target: the Graph response parsers (graph/response.c, the $batch mapping of
 * graph/batch.c and the error description of graph/errors.c) on a server's body. Every parser is
 * run on each input: a body the engine expects as an event may be anything. Whatever the body,
 * the messages are printable (no control character from the server gets through,
 * common/redact.h) and no id or etag longer than BE_MAX_ID_BYTES is kept. */
#include "graph/graph.h"

#include "common/redact.h"

#include "common/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE "https://graph.example.com/v1.0"

static void parse_event(const json_t *obj, const char *prop_id)
{
	struct remote_event re;
	struct error err = {0};

	memset(&re, 0, sizeof re);
	if (graph_parse_event(obj, prop_id, &re, &err) < 0 && err.msg[0] == '\0')
		abort();
	if ((re.remote_id && strlen(re.remote_id) > BE_MAX_ID_BYTES) ||
	    (re.change_key && strlen(re.change_key) > BE_MAX_ID_BYTES))
		abort();
	remote_event_free(&re);
	graph_event_tag(obj, prop_id);
}

static void parse_page(const json_t *root, const char *prop_id)
{
	struct graph_page page;
	struct error err = {0};
	const char *reason;
	size_t i;
	json_t *entry;

	if (graph_parse_page(root, &page, &err) < 0)
		return;
	if (page.next_link)
		graph_check_link(page.next_link, BASE, &err);
	if (page.delta_link)
		graph_check_link(page.delta_link, BASE, &err);
	json_array_foreach(page.value, i, entry)
	{
		if (!graph_entry_removed(entry, &reason))
			parse_event(entry, prop_id);
	}
}

static void parse_write(const json_t *root)
{
	struct error err = {0};

	for (int need = 0; need < 2; need++) {
		char *id = NULL, *etag = NULL;
		graph_parse_write(root, need, &id, &etag, &err);
		if ((id && strlen(id) > BE_MAX_ID_BYTES) ||
		    (etag && strlen(etag) > BE_MAX_ID_BYTES))
			abort();
		free(id);
		free(etag);
	}
}

/* The answer to a $batch of one create, update, delete and find. */
static void parse_batch(const json_t *root)
{
	struct be_session s;
	struct graph_subreq reqs[4];
	struct be_item items[3];
	struct graph_subresp *resps = NULL;
	struct error err = {0};
	size_t n = 0;
	int auth_failed = 0;

	if (graph_parse_batch(root, &resps, &n, &err) < 0)
		return;
	memset(&s, 0, sizeof s);
	memset(reqs, 0, sizeof reqs);
	memset(items, 0, sizeof items);
	for (int i = 0; i < 4; i++) {
		reqs[i].op = (enum graph_op)i;
		reqs[i].mailbox = "a@example.com";
		reqs[i].url = xstrdup("/users/a%40example.com/events?$filter=x");
		reqs[i].item = i < 3 ? &items[i] : NULL;
	}
	graph_batch_apply(&s, reqs, 4, resps, n, &auth_failed);
	for (int i = 0; i < 4; i++) {
		if (redact_has_control(reqs[i].message, strlen(reqs[i].message)))
			abort();
		graph_subreq_free(&reqs[i]);
	}
	for (int i = 0; i < 3; i++)
		if ((items[i].new_remote_id && strlen(items[i].new_remote_id) > BE_MAX_ID_BYTES) ||
		    (items[i].new_change_key && strlen(items[i].new_change_key) > BE_MAX_ID_BYTES))
			abort();
	for (int i = 0; i < 3; i++)
		be_item_clear(&items[i]);
	free(resps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct graph_error ge;
	struct error err = {0};
	char prop_id[128], msg[512];
	json_t *root;

	graph_prop_id(prop_id, sizeof prop_id);
	root = graph_parse_json((const char *)data, size, "application/json", &err);
	if (!root) {
		if (err.msg[0] == '\0')
			abort();
		/* what the engine says about a failed request whose body is not JSON */
		graph_describe_failure("GET", BASE "/users/a/events", 500, "text/html", NULL, false,
		                       msg, sizeof msg);
		if (redact_has_control(err.msg, strlen(err.msg)) ||
		    redact_has_control(msg, strlen(msg)))
			abort();
		return 0;
	}
	graph_parse_error(root, &ge);
	graph_describe_failure("PATCH", BASE "/users/a/events/x", 400, "application/json", root,
	                       true, msg, sizeof msg);
	if (redact_has_control(msg, strlen(msg)))
		abort();
	graph_retry_after_ms(root);
	parse_event(root, prop_id);
	parse_page(root, prop_id);
	parse_write(root);
	parse_batch(root);
	json_decref(root);
	return 0;
}
