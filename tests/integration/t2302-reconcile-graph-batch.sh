#!/bin/sh
test_description='reconcile through Graph app-only lists 20 mailboxes per $batch and follows each nextLink in a later batch'
. "$(dirname "$0")/test-lib.sh"

# 45 mailboxes: user00000 holds 25 events (three calendarView pages of 10), the others one each.
make_leave() {
	awk 'BEGIN {
		for (i = 0; i < 25; i++)
			printf "{\"id\":\"P-%02d\",\"mailbox\":\"user00000@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-%02d-%02d\",\"end\":\"2027-%02d-%02d\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}\n", i, 1 + int(i / 9), 1 + (i * 3) % 27, 1 + int(i / 9), 2 + (i * 3) % 27
		for (m = 1; m < 45; m++)
			printf "{\"id\":\"M-%02d\",\"mailbox\":\"user%05d@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-03-04\",\"end\":\"2027-03-05\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}\n", m, m
	}'
}

# http_requests: HTTP requests the simulator served, token requests excluded
http_requests() {
	sim_ctl GET /_sim/counters | jq '.requests - (.token // 0)'
}

test_expect_success 'setup: 69 leave entries in 45 mailboxes synced' '
	"$SRC_DIR/tools/gen-fixture" --mailboxes 45 --domain contoso.com -o fixture.json &&
	sim_start --fixture fixture.json &&
	write_config graph application &&
	make_leave >leave.ndjson &&
	leavesync init && leavesync push leave.ndjson && leavesync sync
'

test_expect_success 'a reconcile without drift: ceil(45 / 20) + 2 extra pages = 5 HTTP requests' '
	before=$(http_requests) && views=$(counter "graph.GET calendarView") &&
	writes=$(write_requests) &&
	leavesync reconcile --json --from 2026-12-01 --to 2028-01-31 >reconcile.json &&
	jq -e ".findings == [] and .events_listed == 69 and .mailboxes == 45" reconcile.json &&
	test $(($(http_requests) - before)) -eq 5 &&
	test $(($(counter "graph.GET calendarView") - views)) -eq 47 &&
	test "$(write_requests)" = "$writes"
'

test_expect_success 'drift in the paged mailbox and in a batched one is found and repaired' '
	sim_ctl GET /_sim/mailboxes/user00000@contoso.com | jq -r "[(.items // .)[] | select(.folder == \"calendar\")][24].ews_id" >id0 &&
	sim_ctl DELETE "/_sim/mailboxes/user00000@contoso.com/items/$(cat id0)" >/dev/null &&
	sim_ctl GET /_sim/mailboxes/user00033@contoso.com | jq -r "[(.items // .)[] | select(.folder == \"calendar\")][0].ews_id" >id33 &&
	sim_ctl PATCH "/_sim/mailboxes/user00033@contoso.com/items/$(cat id33)" "{\"subject\":\"Edited by a person\"}" >/dev/null &&
	leavesync reconcile --json --from 2026-12-01 --to 2028-01-31 >reconcile.json &&
	jq -e ".counts.missing == 1 and .counts.edited == 1 and .unrepaired == 0" reconcile.json &&
	jq -e "[.findings[].mailbox] | sort == [\"user00000@contoso.com\", \"user00033@contoso.com\"]" reconcile.json &&
	leavesync reconcile --json --from 2026-12-01 --to 2028-01-31 >again.json &&
	jq -e ".findings == [] and .events_listed == 69" again.json
'

test_done
