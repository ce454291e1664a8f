#!/bin/sh
test_description='EWS: what Exchange accepts (subject length, times in updates) and what a conflict costs'
. "$(dirname "$0")/test-lib.sh"

# state LEAVE: the target's state.
state() {
	sqlite3 leavesync.db "select state from target where leave_id = '$1'"
}

test_expect_success 'setup: EWS against the simulator' '
	sim_start &&
	write_config ews &&
	leavesync init
'

test_expect_success 'a subject Exchange would cut is refused with the fix, nothing written' '
	printf "\n[kind \"Training\"]\nsubject = {note}\n" >>leavesync.conf &&
	note=$(printf "%0300d" 0 | tr 0 n) &&
	echo "{\"id\":\"S-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Training\",\"start\":\"2027-03-01\",\"end\":\"2027-03-01\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\",\"note\":\"$note\"}" |
		leavesync push - &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "subject is 300 characters long and Exchange keeps 255" err &&
	test "$(state S-1)" = failed &&
	test "$(calendar alice@contoso.com | jq length)" = 0
'

# S-1 above fails for good: every later sync names it and exits 1 (issue 15's exit codes).
sync_with_s1() {
	test_expect_code 1 leavesync sync >out 2>err && test_grep "1 item failed: alice@contoso.com S-1" err
}

# leaves PREFIX MAILBOX N ZONE [REVISION]: N one-day leaves in April 2027.
leaves() {
	for i in $(seq 1 "$3"); do
		echo "{\"id\":\"$1-$i\",\"mailbox\":\"$2\",\"kind\":\"Annual leave\",\"start\":\"2027-04-$(printf %02d "$i")\",\"end\":\"2027-04-$(printf %02d "$i")\",\"status\":\"approved\",\"revision\":${5:-1},\"time_zone\":\"$4\"}"
	done
}

test_expect_success 'change keys Exchange moves on its own, even after every read: one re-read per item, then one overwrite' '
	leaves C bob@contoso.com 20 Europe/Riga | leavesync push - &&
	sync_with_s1 && test_grep "20 created" out &&
	sim_ctl POST /_sim/ews/config "{\"change_key_churn\": true}" >/dev/null &&
	for id in $(calendar bob@contoso.com | jq -r ".[].ews_id"); do
		sim_ctl PATCH "/_sim/mailboxes/bob@contoso.com/items/$id" "{}" >/dev/null || return 1
	done &&
	get0=$(counter ews.GetItem) && upd0=$(counter ews.UpdateItem) &&
	leaves C bob@contoso.com 20 Europe/Berlin 2 | leavesync push - &&
	sync_with_s1 && test_grep "20 updated" out &&
	echo "GetItem +$(($(counter ews.GetItem) - get0)), UpdateItem +$(($(counter ews.UpdateItem) - upd0))" &&
	test $(($(counter ews.GetItem) - get0)) = 20 &&
	test $(($(counter ews.UpdateItem) - upd0)) = 2 &&
	calendar bob@contoso.com | jq -e "[.[] | select(.start_tz == \"W. Europe Standard Time\")] | length == 20"
'

test_expect_success 'keys nobody moved: an update is one UpdateItem per batch and no read' '
	get0=$(counter ews.GetItem) && upd0=$(counter ews.UpdateItem) &&
	leaves C bob@contoso.com 20 Europe/Riga 3 | leavesync push - &&
	sync_with_s1 && test_grep "20 updated" out &&
	test $(($(counter ews.GetItem) - get0)) = 0 &&
	test $(($(counter ews.UpdateItem) - upd0)) = 1
'

test_done
