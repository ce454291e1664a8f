#!/bin/sh
test_description='leavesync serve scheduler: picks up work others queued, waits for a CLI run, stops mid-run cleanly, nightly reconcile'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-serve.sh"

LOCK_PID=
trap 'serve_kill_quiet; [ -n "$LOCK_PID" ] && kill "$LOCK_PID" 2>/dev/null; sim_stop' EXIT

# gen_leave PREFIX N: N leave entries over alice, bob and carol, as NDJSON
gen_leave() {
	i=0
	while [ $i -lt "$2" ]; do
		case $((i % 3)) in 0) mb=alice ;; 1) mb=bob ;; *) mb=carol ;; esac
		printf '{"id":"%s-%d","mailbox":"%s@contoso.com","kind":"Annual leave","start":"2027-%02d-%02d","end":"2027-%02d-%02d","status":"approved"}\n' \
			"$1" $i $mb $((1 + i % 12)) $((1 + i % 27)) $((1 + i % 12)) $((1 + i % 27))
		i=$((i + 1))
	done
}

all_synced() { # no leave queued, no target queued or in flight
	test "$(sqlite3 leavesync.db "select (select count(*) from leave_dirty) + (select count(*) from target where dirty or state <> 'synced')")" = 0
}

# left PREFIX: targets of PREFIX-* leave not synced yet
left() {
	sqlite3 leavesync.db "select count(*) from target where leave_id like '$1-%' and (dirty or state <> 'synced')"
}

# written PREFIX: targets of PREFIX-* leave with an event
written() {
	sqlite3 leavesync.db "select count(*) from target where leave_id like '$1-%' and remote_id is not null"
}

some_written() {
	test "$(written "$1")" -gt 0
}

test_expect_success 'setup' '
	sim_start && write_config ews && leavesync init &&
	leavesync apikey create --name ops --scope admin >ops.key 2>/dev/null && KEY=$(cat ops.key) &&
	serve_conf "sync_delay = 1" "poll_interval = 2" && serve_start
'

test_expect_success 'leave pushed by the CLI (not through the API) is synced by the next poll' '
	gen_leave CLI 6 >cli.ndjson && leavesync push cli.ndjson &&
	wait_until 60 all_synced &&
	test "$(calendar alice@contoso.com | jq length)" = 2
'

test_expect_success 'while another process holds the run lock the scheduler waits and retries, then syncs' '
	flock -x leavesync.db.lock sleep 6 &
	LOCK_PID=$!
	sleep 0.5
	test "$(req PUT /v1/leave/LOCKED-1 -H "Content-Type: application/json" --data "{\"mailbox\":\"bob@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-06-01\",\"end\":\"2027-06-02\",\"status\":\"approved\"}")" = 201 &&
	wait_until 30 grep -q "another leavesync sync is running" serve.err &&
	test "$(req GET /metrics)" = 200 && test_grep "leavesync_runs_total{command=\"sync\",outcome=\"busy\"} [1-9]" resp.json &&
	wait "$LOCK_PID"; LOCK_PID=
	wait_until 60 state_is LOCKED-1 synced
'

test_expect_success 'SIGTERM during a long sync: exit 0 after the page in flight; the rest is synced after a restart, each leave once' '
	# more than one plan page (2,000 targets), every EWS request slowed to 0.4 s
	sim_ctl POST /_sim/faults "{\"kind\": \"latency\", \"latency_ms\": 400, \"share\": 1, \"path_prefix\": \"/EWS\"}" &&
	gen_leave BIG 2100 >big.ndjson &&
	test "$(req POST /v1/leave -H "Content-Type: application/x-ndjson" --data-binary @big.ndjson)" = 200 &&
	wait_until 120 some_written BIG &&
	t0=$(date +%s) && serve_stop && t1=$(date +%s) &&
	echo "stopped in $((t1 - t0)) s" && test $((t1 - t0)) -lt 90 &&
	test_grep "SIGTERM: stopping" serve.err &&
	n=$(left BIG) && echo "$n of 2100 left for the next run, $(written BIG) written" && test "$n" -gt 0 &&
	sim_ctl DELETE /_sim/faults >/dev/null &&
	serve_start && wait_until 180 all_synced &&
	total=0 &&
	for mb in alice bob carol; do
		total=$((total + $(calendar $mb@contoso.com | jq length))) || return 1
	done &&
	echo "$total events" && test "$total" = $((6 + 1 + 2100))
'

test_expect_success 'the nightly reconcile runs at [serve] reconcile_at (local time) and repairs' '
	id=$(calendar alice@contoso.com | jq -r ".[0].ews_id") &&
	sim_ctl DELETE "/_sim/mailboxes/alice@contoso.com/items/$id" >/dev/null &&
	before=$(calendar alice@contoso.com | jq length) &&
	at=$(date -d "+1 minute" +%H:%M) &&
	serve_reload "reconcile_at = $at" &&
	wait_until 150 grep -q "reconcile: 1 findings, 0 unrepaired" serve.err &&
	test "$(calendar alice@contoso.com | jq length)" = $((before + 1))
'

test_expect_success 'stop' 'serve_stop'

test_done
