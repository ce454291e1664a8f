/* libFuzzer target: the EWS response parsers (ews/response.c) on a server's body.
 * The first byte picks the parser and, for writes and GetItem, how many items were sent (1-4);
 * the rest is the HTTP body. Whatever the body: every message is printable (no control character
 * from the server gets through, common/redact.h), and no id or change key longer than
 * BE_MAX_ID_BYTES is kept. */
#include "common/redact.h"
#include "ews/ews.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { P_CREATE, P_UPDATE, P_DELETE, P_GET, P_FIND, P_FOLDER, P_COUNT };

static void check_items(struct be_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* a failed item always says why, in a terminated message */
		if (memchr(items[i].message, '\0', sizeof items[i].message) == NULL)
			abort();
		if (items[i].status != BE_OK && items[i].message[0] == '\0')
			abort();
		if (redact_has_control(items[i].message, strlen(items[i].message)) ||
		    (items[i].new_remote_id && strlen(items[i].new_remote_id) > BE_MAX_ID_BYTES) ||
		    (items[i].new_change_key && strlen(items[i].new_change_key) > BE_MAX_ID_BYTES))
			abort();
		be_item_clear(&items[i]);
	}
}

/* Items read: ids and change keys within the limit; then freed. */
static void check_list(struct ews_read_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct remote_event *re = &l->v[i].re;

		if ((re->remote_id && strlen(re->remote_id) > BE_MAX_ID_BYTES) ||
		    (re->change_key && strlen(re->change_key) > BE_MAX_ID_BYTES))
			abort();
	}
	ews_read_list_free(l);
}

static void parse_write(int parser, const char *body, size_t len, size_t n)
{
	struct be_item items[4], *ptrs[4];
	struct error err = {0};

	memset(items, 0, sizeof items);
	for (size_t i = 0; i < n; i++) {
		items[i].mailbox = "a@example.com";
		items[i].remote_id = "AAMkAD-old";
		items[i].change_key = "CK-old";
		ptrs[i] = &items[i];
	}
	if (parser == P_CREATE)
		ews_parse_create_response(body, len, ptrs, n, &err);
	else if (parser == P_UPDATE)
		ews_parse_update_response(body, len, ptrs, n, &err);
	else
		ews_parse_delete_response(body, len, ptrs, n, &err);
	check_items(items, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ews_read_list list;
	struct error err = {0};
	const char *body;
	size_t len, n;
	int parser;

	if (size < 1)
		return 0;
	parser = data[0] % P_COUNT;
	n = (size_t)(data[0] / P_COUNT) % 4 + 1;
	body = (const char *)data + 1;
	len = size - 1;
	memset(&list, 0, sizeof list);
	switch (parser) {
	case P_CREATE:
	case P_UPDATE:
	case P_DELETE:
		parse_write(parser, body, len, n);
		break;
	case P_GET:
		ews_parse_get_response(body, len, n, &list, &err);
		check_list(&list);
		break;
	case P_FIND:
		ews_parse_find_response(body, len, &list, &err);
		check_list(&list);
		break;
	default:
		ews_parse_get_folder_response(body, len, &err);
		break;
	}
	return 0;
}
