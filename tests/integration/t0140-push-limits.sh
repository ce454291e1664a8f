#!/bin/sh
# t0140: push reads at most [limits] push_size bytes and push_records records (docs/config.md):
# /dev/zero or an endless pipe stops at the limit with exit 2, memory bounded, nothing written.
test_description='push input limits: bytes and records'
. "$(dirname "$0")/test-lib.sh"

LS=$BUILD_DIR/leavesync

record() { # ID
	printf '{"id":"%s","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-01-04","end":"2027-01-04","status":"approved"}\n' "$1"
}

leave_count() {
	sqlite3 leavesync.db "select count(*) from leave"
}

test_expect_success 'setup: a store with one leave' '
	printf "[store]\npath = %s/leavesync.db\n" "$TRASH" >leavesync.conf &&
	chmod 600 leavesync.conf &&
	leavesync init &&
	record KEEP | leavesync push - &&
	test "$(leave_count)" = 1
'

# The default push_size is 256M: /dev/zero must stop there, well under 1 GB of memory (before the
# limit, push read everything into memory: 9.3 GB after 6 s).
test_expect_success 'push /dev/zero stops at push_size (256M), exit 2, memory bounded, nothing written' '
	run_bounded 1024 120 "$LS" push /dev/zero 2>err
	rc=$?
	cat err &&
	echo "peak ${BOUNDED_RSS_MB} MB" &&
	test -z "$BOUNDED_KILLED" &&
	test $rc -eq 2 &&
	test_grep "push: /dev/zero is larger than \[limits\] push_size (268435456 bytes): nothing was written" err &&
	test "$BOUNDED_RSS_MB" -lt 800 &&
	test "$(leave_count)" = 1
'

test_expect_success 'an endless standard input stops at a configured push_size' '
	printf "[limits]\npush_size = 4M\n" >>leavesync.conf &&
	{ yes "$(record FLOOD)" | run_bounded 512 60 "$LS" push - 2>err; echo $? >rc; } &&
	cat err &&
	test -z "$BOUNDED_KILLED" &&
	test "$(cat rc)" = 2 &&
	test_grep "push: standard input is larger than \[limits\] push_size (4194304 bytes)" err &&
	test "$(leave_count)" = 1
'

test_expect_success 'a file of exactly push_size bytes is read, one byte more is refused unread' '
	sed -i "s/^push_size = .*/push_size = 1K/" leavesync.conf &&
	record EXACT >exact.ndjson &&
	size=$(wc -c <exact.ndjson) &&
	pad=$((1024 - size)) &&
	head -c $pad /dev/zero | tr "\0" " " >>exact.ndjson &&
	test "$(wc -c <exact.ndjson)" = 1024 &&
	leavesync push exact.ndjson &&
	test "$(leave_count)" = 2 &&
	printf " " >>exact.ndjson &&
	test_expect_code 2 leavesync push exact.ndjson 2>err &&
	test_grep "exact.ndjson is larger than \[limits\] push_size (1024 bytes)" err &&
	test "$(leave_count)" = 2
'

test_expect_success 'more than push_records records: exit 2, nothing written' '
	sed -i "/^push_size/d" leavesync.conf &&
	printf "push_records = 10\n" >>leavesync.conf &&
	for i in $(seq 1 11); do record "R-$i"; done >eleven.ndjson &&
	test_expect_code 2 leavesync push eleven.ndjson 2>err &&
	cat err &&
	test_grep "line 11: more than 10 records, the limit of one push (\[limits\] push_records)" err &&
	test_grep "nothing was written" err &&
	test "$(leave_count)" = 2 &&
	head -n 10 eleven.ndjson | leavesync push - &&
	test "$(leave_count)" = 12
'

test_expect_success 'a bad [limits] value is a config error naming the line' '
	printf "push_size = lots\n" >>leavesync.conf &&
	test_expect_code 2 leavesync push exact.ndjson 2>err &&
	test_grep "leavesync.conf:[0-9]*: \[limits\] push_size = lots: expected a size from 1K to 4G" err
'

test_done
