#!/bin/sh
test_description='issue 12, part 2: one bad leave fails alone, named by status, and never holds back the rest (EWS, Graph)'
. "$(dirname "$0")/test-lib.sh"

# leave ID MAILBOX START END ZONE [REVISION]
leave() {
	echo "{\"id\":\"$1\",\"mailbox\":\"$2\",\"kind\":\"Annual leave\",\"start\":\"$3\",\"end\":\"$4\",\"status\":\"approved\",\"time_zone\":\"$5\",\"revision\":${6:-1}}"
}

# tagged MAILBOX: the engine's events of a mailbox
tagged() {
	calendar "$1" | jq -c '[.[] | select(.extended_properties | length > 0)]'
}

# problem LEAVE: the status --json problem entry of a leave
problem() {
	leavesync status --json | jq -c --arg l "$1" '.problems[] | select(.leave == $l)'
}

test_expect_success 'setup' '
	sim_start
'

for backend in ews graph; do
	test_expect_success "$backend: a part-day leave in a DST gap is refused at push, naming it; bob is written" '
		rm -f leavesync.db* && sim_ctl POST /_sim/reset >/dev/null &&
		write_config $backend && leavesync init >/dev/null &&
		{ leave GAP alice@contoso.com 2027-03-28T02:30 2027-03-28T03:30 Europe/Berlin &&
		  leave NYGAP alice@contoso.com 2027-03-14T02:00 2027-03-14T03:00 America/New_York &&
		  leave BOB bob@contoso.com 2027-03-29 2027-03-30 Europe/Berlin; } >both.ndjson &&
		test_expect_code 2 leavesync push both.ndjson 2>err &&
		test_grep "line 1: start: 2027-03-28T02:30: this local time does not exist in Europe/Berlin on 2027-03-28 (clocks go forward from 02:00 to 03:00); choose a time before or after" err &&
		test_grep "line 2: start: 2027-03-14T02:00: this local time does not exist in America/New_York on 2027-03-14 (clocks go forward from 02:00 to 03:00)" err &&
		test "$(sqlite3 leavesync.db "select count(*) from leave")" = 0 &&
		sed -n 3p both.ndjson | leavesync push - >/dev/null &&
		leavesync sync >out && test_grep "1 created" out &&
		tagged bob@contoso.com | jq -e "length == 1"
	'

	test_expect_success "$backend: rows HR wrote by SQL (a DST gap, an unknown zone) fail alone; the rest is written" '
		sqlite3 leavesync.db "insert into leave (id, mailbox, kind, starts, ends, time_zone, status)
			values (\"GAP\", \"alice@contoso.com\", \"Annual leave\", \"2027-03-28T02:30\", \"2027-03-28T03:30\", \"Europe/Berlin\", \"approved\"),
			       (\"MARS\", \"alice@contoso.com\", \"Annual leave\", \"2027-04-01\", \"2027-04-02\", \"Mars/Base\", \"approved\"),
			       (\"OK-1\", \"alice@contoso.com\", \"Annual leave\", \"2027-04-05\", \"2027-04-06\", \"Europe/Berlin\", \"approved\"),
			       (\"OK-2\", \"bob@contoso.com\", \"Annual leave\", \"2027-04-07\", \"2027-04-07\", \"America/New_York\", \"approved\")" &&
		test_expect_code 1 leavesync sync >out 2>err &&
		cat out err &&
		test_grep "2 created, 0 updated, 0 deleted, 0 adopted, 0 unchanged, 2 failed" out &&
		test_grep "1 item failed: alice@contoso.com GAP: the leave cannot be rendered: start \"2027-03-28T02:30\": this local time does not exist in Europe/Berlin" err &&
		test_grep "1 item failed: alice@contoso.com MARS: the leave cannot be rendered: unknown IANA time zone \"Mars/Base\"" err &&
		tagged alice@contoso.com | jq -e "length == 1" && tagged bob@contoso.com | jq -e "length == 2" &&
		leavesync status >st && cat st && test_grep "failed 2" st &&
		test_grep "1 failed: alice@contoso.com MARS: the leave cannot be rendered" st && test_grep "Mars/Base" st &&
		problem GAP | jq -e ".mailbox == \"alice@contoso.com\" and .state == \"failed\" and (.reason | test(\"Europe/Berlin on 2027-03-28\"))" &&
		problem MARS | jq -e ".mailbox == \"alice@contoso.com\" and (.reason | test(\"Mars/Base\"))"
	'

	test_expect_success "$backend: a later plain sync writes nothing more and keeps naming them" '
		before=$(write_requests) &&
		leavesync sync >out 2>err; test $? -le 1 &&
		test "$(write_requests)" = "$before" &&
		problem MARS | jq -e ".state == \"failed\""
	'

	test_expect_success "$backend: a synced leave that turns unrenderable keeps its event; fixed by HR, it is written" '
		ev=$(tagged alice@contoso.com | jq -c ".[0] | [.ews_id, .start, .end]") &&
		sqlite3 leavesync.db "update leave set time_zone = \"Mars/Base\" where id = \"OK-1\"" &&
		test_expect_code 1 leavesync sync >out 2>err &&
		test_grep "1 item failed: alice@contoso.com OK-1: the leave cannot be rendered: unknown IANA time zone" err &&
		test "$(tagged alice@contoso.com | jq -c ".[0] | [.ews_id, .start, .end]")" = "$ev" &&
		problem OK-1 | jq -e ".state == \"failed\"" &&
		test_expect_code 1 leavesync resync --all >out 2>err &&
		test_grep "1 item failed: alice@contoso.com OK-1: " err &&
		test "$(tagged alice@contoso.com | jq -c ".[0] | [.ews_id, .start, .end]")" = "$ev" &&
		leavesync reconcile --from 2027-01-01 --to 2027-12-31 >rec.out 2>&1; test $? -le 1 &&
		test "$(tagged alice@contoso.com | jq -c ".[0] | [.ews_id, .start, .end]")" = "$ev" &&
		sqlite3 leavesync.db "update leave set time_zone = \"Europe/Berlin\", starts = \"2027-04-12\", ends = \"2027-04-13\" where id = \"OK-1\";
			delete from leave where id in (\"GAP\", \"MARS\")" &&
		leavesync sync >out 2>err && cat out &&
		test_grep "1 updated" out &&
		tagged alice@contoso.com | jq -e "length == 1 and (.[0].start | startswith(\"2027-04-11T22:00\"))" &&
		leavesync status --json | jq -e ".problems | length == 0"
	'

	test_expect_success "$backend: a time the clocks repeat is accepted at push and written" '
		leave OVER alice@contoso.com 2027-10-31T02:30 2027-10-31T04:00 Europe/Berlin | leavesync push - >/dev/null &&
		leavesync sync >out && test_grep "1 created" out &&
		tagged alice@contoso.com | jq -e "length == 2" &&
		sqlite3 leavesync.db "select desired from target where leave_id = \"OVER\"" | grep -q "DTSTART;TZID=Europe/Berlin:20271031T023000"
	'
done

test_done
