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

test_done
