#!/bin/sh
# Logs for journald and for people (issue 15): syslog priorities when the output is the journal
# ($JOURNAL_STREAM), one line per reason for many failing items, -v request logs without secrets,
# -q, and the pruning of the run history ([store] keep_history_days).

. "$(dirname "$0")/test-lib.sh"

leave_for() { # leave_for MAILBOX N: N one-day leave entries
	i=1
	while [ $i -le "$2" ]; do
		printf '{"id":"%s-%d","mailbox":"%s","kind":"Annual leave","start":"2027-05-%02d","end":"2027-05-%02d","status":"approved","revision":1,"time_zone":"UTC"}\n' \
			"${1%@*}" $i "$1" $i $i
		i=$((i + 1))
	done
}

# The mailbox that does not exist is routed to EWS, where it fails for good (ErrorNonExistentMailbox):
# through Graph the directory lookup finds no user and the items wait instead (docs/graph.md).
test_expect_success 'setup: Graph app-only, leave for alice and for a mailbox that does not exist' '
	sim_start &&
	write_config graph application &&
	printf "\n[mailbox \"nobody@contoso.com\"]\nbackend = ews\n" >>leavesync.conf &&
	leavesync init &&
	leave_for alice@contoso.com 3 >alice.ndjson && leave_for nobody@contoso.com 4 >nobody.ndjson &&
	leavesync push alice.ndjson && leavesync push nobody.ndjson
'

test_expect_success 'to the journal, every line carries its syslog priority (<3> error, <4> warning, <6> info)' '
	: >journal.log &&
	stream=$(stat -c "%d:%i" journal.log) &&
	JOURNAL_STREAM=$stream leavesync sync >>journal.log 2>&1; test $? = 1 &&
	cat journal.log &&
	test_grep "^<6>sync: 3 created" journal.log &&
	test_grep "^<3>sync: 4 items failed: nobody@contoso.com nobody-1" journal.log &&
	test_grep "^<5>sync: they are retried" journal.log &&
	! grep -v "^<[0-7]>" journal.log
'

test_expect_success 'usage errors and warnings get priorities too; elsewhere lines have none' '
	: >journal.log &&
	stream=$(stat -c "%d:%i" journal.log) &&
	JOURNAL_STREAM=$stream leavesync sync --bogus >>journal.log 2>&1; test $? = 2 &&
	! grep -v "^<[0-7]>" journal.log && test_grep "^<3>usage: leavesync sync" journal.log &&
	chmod 644 leavesync.conf &&
	: >journal.log &&
	JOURNAL_STREAM=$stream leavesync status >>journal.log 2>&1 &&
	chmod 600 leavesync.conf &&
	test_grep "^<4>leavesync: warning: config file" journal.log &&
	! grep -v "^<[0-7]>" journal.log &&
	JOURNAL_STREAM=1:2 leavesync sync >out 2>err; test $? = 1 &&
	test_grep_not "^<" out && test_grep_not "^<" err && test_grep "^sync: 4 items failed" err
'

test_expect_success 'a wrong secret: one line for all items that wait, not one per item' '
	leave_for bob@contoso.com 30 >bob.ndjson && leavesync push bob.ndjson &&
	LEAVESYNC_GRAPH_CLIENT_SECRET=wrong-secret~0000000000000000000000 leavesync sync >out 2>err; test $? = 1 &&
	cat err &&
	test_grep "30 items waiting: bob@contoso.com bob-1, bob@contoso.com bob-10, bob@contoso.com bob-11 and 27 more: .*AADSTS7000215" err &&
	test "$(grep -c AADSTS7000215 err)" = 1 &&
	test "$(wc -l <err)" -le 4
'

test_expect_success '-v logs each request: method, URL without its query, status, duration; never a secret' '
	leavesync -v sync >out 2>err; test $? = 1 &&
	test_grep "^http: POST $SIM_URL/$DEMO_TENANT/oauth2/v2.0/token -> 200 ([0-9]* ms)$" err &&
	test_grep "^http: POST $SIM_URL/v1.0/\$batch -> 200 ([0-9]* ms)$" err &&
	test_grep_not "?" err &&
	test_grep_not "Bearer\|Authorization\|client_secret" err &&
	test_grep_not "eyJ[A-Za-z0-9_-]*\.eyJ" err &&
	test_grep_not "$DEMO_SECRET" err &&
	leavesync sync >out 2>err; test $? = 1 && test_grep_not "^http:" err
'

test_expect_success '-q: no output when all went well; -q and -v are in --help' '
	sqlite3 leavesync.db "delete from leave where mailbox = \"nobody@contoso.com\";
		delete from target where mailbox = \"nobody@contoso.com\"" &&
	leavesync -q sync >out 2>err && test ! -s out && test ! -s err &&
	leavesync --help >help && test_grep "^  -q, --quiet" help && test_grep "^  -v, --verbose" help
'

test_expect_success 'history older than [store] keep_history_days is pruned at the end of a run' '
	old=$(($(date +%s) - 10 * 86400)) &&
	sqlite3 leavesync.db "insert into run (id, command, started_at, finished_at, exit_code)
		values (9001, \"sync\", $old, $old, 0), (9002, \"reconcile\", $old, $old + 60, 1);
		insert into drift (run_id, at, mailbox, kind, action, result)
		values (9002, $old, \"alice@contoso.com\", \"missing\", \"recreated\", \"ok\")" &&
	config_set store keep_history_days 30 &&
	leavesync sync >/dev/null &&
	test "$(sqlite3 leavesync.db "select count(*) from run where id in (9001, 9002)")" = 2 &&
	config_set store keep_history_days 5 &&
	recent=$(sqlite3 leavesync.db "select count(*) from run where id not in (9001, 9002)") &&
	leavesync sync >/dev/null &&
	test "$(sqlite3 leavesync.db "select count(*) from run where id in (9001, 9002)")" = 0 &&
	test "$(sqlite3 leavesync.db "select count(*) from drift where run_id = 9002")" = 0 &&
	test "$(sqlite3 leavesync.db "select count(*) from run where id not in (9001, 9002)")" = $((recent + 1))
'

test_done
