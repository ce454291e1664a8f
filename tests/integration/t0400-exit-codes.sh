#!/bin/sh
# Exit codes a monitor can rely on (issue 15): 1 on every run while targets fail or wait, naming
# them (also with -q); 2 for unknown resync targets; 75 while another run holds the lock;
# reconcile --dry-run 1 on drift; status 0 even with failures; status --check's plugin codes.

. "$(dirname "$0")/test-lib.sh"

good='{"id":"E-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-02-01","end":"2027-02-02","status":"approved","revision":1,"time_zone":"UTC"}'

test_expect_success 'setup: a leave for an existing and one for a non-existent mailbox' '
	sim_start &&
	write_config ews &&
	leavesync init &&
	echo "$good" >good.ndjson &&
	for i in 1 2 3 4 5; do
		echo "{\"id\":\"N-$i\",\"mailbox\":\"nobody@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-02-0$i\",\"end\":\"2027-02-0$i\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}"
	done >bad.ndjson &&
	leavesync push good.ndjson && leavesync push bad.ndjson
'

test_expect_success 'the first sync fails those items: exit 1, one grouped line naming three and the rest counted' '
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "1 created" out &&
	test_grep "5 items failed: nobody@contoso.com N-1, nobody@contoso.com N-2, nobody@contoso.com N-3 and 2 more: " err &&
	test "$(grep -c "ErrorNonExistentMailbox" err)" = 1
'

test_expect_success 'every later sync still exits 1 and names them (the alert keeps firing)' '
	for run in 2 3; do
		test_expect_code 1 leavesync sync >out 2>err || return 1
		test_grep "0 failed" out || return 1
		test_grep "5 items failed: nobody@contoso.com N-1" err || return 1
	done
'

test_expect_success 'with -q: nothing on stdout, the failures still on stderr, still exit 1' '
	test_expect_code 1 leavesync -q sync >out 2>err &&
	test ! -s out &&
	test_grep "5 items failed" err
'

test_expect_success 'status exits 0 with failures (it only reports)' '
	leavesync status >out 2>err &&
	test_grep "failed 5" out
'

test_expect_success 'status --check: one plugin line, CRITICAL (2) on failed items' '
	test_expect_code 2 leavesync status --check >out 2>err &&
	test "$(wc -l <out)" = 1 &&
	test_grep "^LEAVESYNC CRITICAL - 5 failed" out &&
	test_grep " | synced=1;;;0 failed=5;;1;0 " out
'

test_expect_success 'once fixed (HR removed the wrong rows), sync exits 0 and status --check says OK (0)' '
	sqlite3 leavesync.db "delete from leave where mailbox = \"nobody@contoso.com\";
		delete from target where mailbox = \"nobody@contoso.com\"" &&
	leavesync sync >out 2>err &&
	test_grep_not "failed:" err &&
	leavesync status --check >out &&
	test_grep "^LEAVESYNC OK - 1 events synced, nothing failing | synced=1;;;0 failed=0;;1;0" out
'

test_expect_success 'resync of an unknown leave or mailbox: exit 2, nothing done' '
	before=$(write_requests) &&
	test_expect_code 2 leavesync resync --leave NO-SUCH 2>err &&
	test_grep "no leave NO-SUCH in the store" err &&
	test_expect_code 2 leavesync resync --mailbox nobody-else@contoso.com 2>err &&
	test_grep "no leave of mailbox nobody-else@contoso.com" err &&
	test "$(write_requests)" = "$before" &&
	leavesync resync --leave E-1 >out && test_grep "1 updated" out
'

test_expect_success 'reconcile --dry-run exits 1 when it finds drift, 0 when equal' '
	leavesync reconcile --from 2026-06-01 --to 2027-12-31 --dry-run >out &&
	id=$(calendar alice@contoso.com | jq -r ".[0].ews_id") &&
	sim_ctl DELETE "/_sim/mailboxes/alice@contoso.com/items/$id" >/dev/null &&
	test_expect_code 1 leavesync reconcile --from 2026-06-01 --to 2027-12-31 --dry-run >out &&
	test_grep "missing" out
'

test_expect_success 'a run refused because another holds the lock exits 75' '
	rm -f held release &&
	flock leavesync.db.lock sh -c "touch held; i=0; while [ ! -e release ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done" &
	holder=$! &&
	test_wait_for 60 test -e held &&
	test_expect_code 75 leavesync reconcile 2>err &&
	test_grep "another leavesync sync is running" err &&
	test_expect_code 75 leavesync resync --all 2>err &&
	touch release && wait $holder
'

test_expect_success 'status --check: WARNING (1) while items retry, UNKNOWN (3) without a store' '
	leavesync reconcile --from 2026-06-01 --to 2027-12-31 >/dev/null &&
	sqlite3 leavesync.db "update target set dirty = 1, last_error = \"ErrorServerBusy: try later\", next_attempt = strftime(\"%s\", \"now\") + 3600" &&
	test_expect_code 1 leavesync status --check >out &&
	test_grep "^LEAVESYNC WARNING - 1 retrying" out &&
	sqlite3 leavesync.db "update target set dirty = 0, last_error = NULL, next_attempt = 0" &&
	test_expect_code 3 leavesync -c /nonexistent/leavesync.conf status --check >out 2>err &&
	test "$(wc -l <out)" = 1 && test_grep "^LEAVESYNC UNKNOWN - config: " out &&
	sed "s|^path = .*|path = $TRASH/none.db|" leavesync.conf >other.conf && chmod 600 other.conf &&
	test_expect_code 3 leavesync -c other.conf status --check >out &&
	test_grep "^LEAVESYNC UNKNOWN - store: " out &&
	test_expect_code 2 leavesync -c other.conf status 2>err
'

test_expect_success 'status --check: CRITICAL when no sync succeeded for longer than [sync] stale_after' '
	leavesync status --check >out &&
	config_set sync stale_after 60 &&
	sqlite3 leavesync.db "update run set finished_at = finished_at - 3600" &&
	test_expect_code 2 leavesync status --check >out &&
	test_grep "^LEAVESYNC CRITICAL - no successful sync for 6[0-9] min (stale_after 60 s)" out &&
	test_grep "last_success_age=3[0-9]*s;;60;0" out &&
	leavesync sync >/dev/null &&
	leavesync status --check >out && test_grep "^LEAVESYNC OK" out
'

test_done
