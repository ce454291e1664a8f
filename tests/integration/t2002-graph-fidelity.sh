#!/bin/sh
test_description='Graph: what Exchange Online and Entra ID really accept ($batch forms, users by id, paging)'
. "$(dirname "$0")/test-lib.sh"

# leave ID MAILBOX DATE: one all-day approved leave.
leave() {
	echo "{\"id\":\"$1\",\"mailbox\":\"$2\",\"kind\":\"Annual leave\",\"start\":\"$3\",\"end\":\"$3\",\"status\":\"approved\",\"revision\":${4:-1},\"time_zone\":\"Europe/Riga\"}"
}

# many_leaves PREFIX MAILBOX N [REVISION]: N one-day leaves in January 2027.
many_leaves() {
	for i in $(seq 1 "$3"); do
		leave "$1-$i" "$2" "2027-01-$(printf %02d "$i")" "${4:-1}"
	done
}

test_expect_success 'setup: app-only Graph against the simulator' '
	sim_start &&
	write_config graph application &&
	leavesync init
'

test_expect_success '15 writes to one mailbox: every $batch is fully parallel or fully sequential' '
	many_leaves B dave@contoso.com 15 | leavesync push - &&
	leavesync sync >out 2>err &&
	test_grep "15 created" out &&
	test "$(calendar dave@contoso.com | jq length)" = 15 &&
	test "$(counter "graph.throttled parallel")" = 0
'

test_expect_success '15 updates of one mailbox go through as well, and a second sync sends nothing' '
	many_leaves B dave@contoso.com 15 2 | sed "s/Europe\/Riga/Europe\/Berlin/" | leavesync push - &&
	leavesync sync >out 2>err &&
	test_grep "15 updated" out &&
	before=$(write_requests) &&
	leavesync sync >out &&
	test "$(write_requests)" = "$before"
'

test_done
