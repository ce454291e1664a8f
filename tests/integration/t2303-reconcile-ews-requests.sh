#!/bin/sh
test_description='reconcile through EWS: one FindItem per mailbox per two-year window; GetItem only for items changed since leavesync wrote them'
. "$(dirname "$0")/test-lib.sh"

# 3 mailboxes, 4 leave entries each, all inside 2027.
make_leave() {
	awk 'BEGIN {
		for (i = 0; i < 12; i++)
			printf "{\"id\":\"E-%02d\",\"mailbox\":\"user%05d@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-%02d-10\",\"end\":\"2027-%02d-12\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"Europe/Riga\"}\n", i, i % 3, 1 + i, 1 + i
	}'
}

test_expect_success 'setup: 12 leave entries in 3 mailboxes synced' '
	"$SRC_DIR/tools/gen-fixture" --mailboxes 3 --domain contoso.com -o fixture.json &&
	sim_start --fixture fixture.json &&
	write_config ews &&
	make_leave >leave.ndjson &&
	leavesync init && leavesync push leave.ndjson && leavesync sync
'

test_expect_success 'a reconcile without drift over two years: 3 FindItem, no GetItem, no write' '
	finds=$(counter ews.FindItem) && gets=$(counter ews.GetItem) && writes=$(write_requests) &&
	leavesync reconcile --json --from 2026-06-01 --to 2028-05-31 >reconcile.json &&
	jq -e ".findings == [] and .events_listed == 12 and .mailboxes == 3" reconcile.json &&
	test $(($(counter ews.FindItem) - finds)) -eq 3 &&
	test $(($(counter ews.GetItem) - gets)) -eq 0 &&
	test "$(write_requests)" = "$writes"
'

test_expect_success 'a body edited by a person (invisible to FindItem) is found through its new change key' '
	id=$(calendar user00001@contoso.com | jq -r ".[0].ews_id") &&
	sim_ctl PATCH "/_sim/mailboxes/user00001@contoso.com/items/$id" "{\"body\":\"Edited by a person\"}" >/dev/null &&
	gets=$(counter ews.GetItem) &&
	leavesync reconcile --json --from 2026-06-01 --to 2028-05-31 >reconcile.json &&
	jq -e ".counts.edited == 1 and .findings[0].mailbox == \"user00001@contoso.com\" and .findings[0].detail == \"body\" and .unrepaired == 0" reconcile.json &&
	test $(($(counter ews.GetItem) - gets)) -eq 1 &&
	test "$(calendar user00001@contoso.com | jq -r "[.[] | select(.ews_id == \"$id\")][0].body")" != "Edited by a person"
'

test_done
