#!/bin/sh
test_description='issue 12, part 1: two lost create answers in a row never give a duplicate (EWS, Graph)'
. "$(dirname "$0")/test-lib.sh"

# ten approved leave entries for one mailbox
ten_leave() {
	for i in 0 1 2 3 4 5 6 7 8 9; do
		echo "{\"id\":\"L-$i\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-02-1$i\",\"end\":\"2027-02-1$i\",\"status\":\"approved\",\"time_zone\":\"Europe/Berlin\"}"
	done
}

# fresh_store BACKEND: an empty store and empty calendars
fresh_store() {
	rm -f leavesync.db leavesync.db-wal leavesync.db-shm &&
	sim_ctl POST /_sim/reset >/dev/null &&
	write_config "$1" &&
	leavesync init >/dev/null && ten_leave | leavesync push - >/dev/null
}

tagged_events() {
	calendar alice@contoso.com | jq '[.[] | select(.extended_properties | length > 0)] | length'
}

test_expect_success 'setup' '
	sim_start
'

# The issue's reproduction: the first create is dropped before the server commits it (the connection
# closes, no answer at all); the next is committed and its answer lost the same way. A client that
# reused a kept-alive connection cannot tell whether its request arrived.
for backend in ews graph; do
	case $backend in ews) op=CreateItem ;; graph) op="POST events" ;; esac

	test_expect_success "$backend: first create dropped before commit, second after commit: 10 events for 10 leave" '
		fresh_store $backend &&
		sim_ctl POST /_sim/faults "{\"op\":\"$op\",\"sequence\":[{\"kind\":\"drop\",\"no_answer\":true},{\"kind\":\"drop\",\"no_answer\":true,\"after_commit\":true}]}" >/dev/null &&
		{ leavesync sync >out 2>&1; echo "exit $?" >>out; } &&
		cat out &&
		sim_ctl GET /_sim/counters | jq -c "with_entries(select(.key|test(\"fault|Create|POST|Find|GET events\")))" &&
		n=0 && until leavesync sync >>out 2>&1; do
			n=$((n + 1)); test $n -lt 5 || { cat out; return 1; }; sleep 1
		done &&
		n=$(tagged_events) && echo "$n tagged events" && test "$n" = 10
	'

	test_expect_success "$backend: the same with the answers cut mid-body" '
		fresh_store $backend &&
		sim_ctl POST /_sim/faults "{\"op\":\"$op\",\"sequence\":[{\"kind\":\"drop\"},{\"kind\":\"drop\",\"after_commit\":true},{\"kind\":\"drop\",\"no_answer\":true,\"after_commit\":true}]}" >/dev/null &&
		{ leavesync sync >out 2>&1; echo "exit $?" >>out; } &&
		n=0 && until leavesync sync >>out 2>&1; do
			n=$((n + 1)); test $n -lt 5 || { cat out; return 1; }; sleep 1
		done &&
		n=$(tagged_events) && echo "$n tagged events" && test "$n" = 10
	'
done

test_done
