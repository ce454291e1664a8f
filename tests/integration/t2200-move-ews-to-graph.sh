#!/bin/sh
test_description='moving mailboxes from EWS to Graph adopts the events EWS wrote: nothing created, nothing deleted'
. "$(dirname "$0")/test-lib.sh"

check_calendars() {
	/usr/bin/python3 "$TEST_DIR/clients/check_calendars.py" "$TRASH/leavesync.db" "$SIM_URL" "$SIM_CA" "$@"
}

test_expect_success 'setup: 100 leave entries synced through EWS' '
	"$SRC_DIR/tools/gen-fixture" --mailboxes 4 -o fixture.json &&
	sim_start --fixture fixture.json &&
	write_config ews &&
	"$SRC_DIR/tools/gen-leave" --count 130 --mailboxes 4 --seed 5 | grep -v cancelled | head -n 100 >leave.ndjson &&
	test "$(wc -l <leave.ndjson)" = 100 &&
	leavesync init && leavesync push leave.ndjson && leavesync sync >out &&
	test_grep "100 created" out &&
	check_calendars
'

test_expect_success 'route two mailboxes to Graph: every event is adopted, none written' '
	printf "\n[mailbox \"user00000@contoso.com\"]\nbackend = graph\n\n[mailbox \"user00001@contoso.com\"]\nbackend = graph\n" >>leavesync.conf &&
	moved=$(grep -c -E "user0000[01]@" leave.ndjson) &&
	leavesync resync --mailbox user00000@contoso.com >out0 &&
	leavesync resync --mailbox user00001@contoso.com >out1 &&
	cat out0 out1 &&
	test "$(counter "graph.POST events")" = 0 &&
	test "$(counter "graph.DELETE event")" = 0 &&
	test "$(sqlite3 leavesync.db "select count(*) from target where backend = \"graph\"")" = "$moved" &&
	check_calendars
'

test_expect_success 'then move everything: still no event created or deleted' '
	config_set sync backend graph &&
	leavesync resync --all >out && cat out &&
	test "$(counter "graph.POST events")" = 0 &&
	test "$(counter "graph.DELETE event")" = 0 &&
	test "$(counter "ews.items.deleted")" = 0 &&
	test "$(sqlite3 leavesync.db "select count(*) from target where backend = \"graph\"")" = 100 &&
	check_calendars &&
	leavesync sync >out && test_grep "0 created, 0 updated, 0 deleted" out
'

test_expect_success 'a reconcile right after a move reports no drift and writes nothing' '
	config_set sync backend ews &&
	leavesync reconcile --json >r1.json && jq -e ".findings == []" r1.json &&
	config_set sync backend graph &&
	before=$(write_requests) &&
	leavesync reconcile --json >r2.json &&
	jq -e ".findings == [] and .repair.created == 0 and .repair.deleted == 0" r2.json &&
	test "$(write_requests)" = "$before" &&
	test "$(sqlite3 leavesync.db "select count(*) from target where backend = \"graph\"")" = 100
'

test_done
