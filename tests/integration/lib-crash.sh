# lib-crash.sh: crash safety and throttling scenarios (issues 4 and 5), per backend (BACKEND, MODE).
# 500 leave entries across 5 mailboxes; leavesync is killed with SIGKILL at 32 random moments of a
# slowed-down sync, with HR pushes in between; the simulator also drops responses after committing.
# Each ends with every approved leave having exactly one event and each cancelled one none.

check_calendars() {
	/usr/bin/python3 "$TEST_DIR/clients/check_calendars.py" "$TRASH/leavesync.db" "$SIM_URL" "$SIM_CA" "$@"
}

# random_ms SEED MAX: a reproducible pseudo-random delay in seconds, 0..MAX ms.
random_delay() {
	awk -v s="$1" -v m="$2" 'BEGIN { srand(s); printf "%.3f\n", rand() * m / 1000 }'
}

test_expect_success "$BACKEND: setup: 500 leave entries in 5 mailboxes" '
	"$SRC_DIR/tools/gen-fixture" --mailboxes 5 -o fixture.json &&
	mkdir -p requests &&
	sim_start --fixture fixture.json ${SIM_ARGS:-} &&
	write_config $BACKEND $MODE &&
	config_set ews batch_size 5 && config_set graph batch_size 5 &&
	# HR cancels a tenth of the leave on every round: more than the safety valve lets a run delete
	# in a small mailbox, and the valve is not what these scenarios test (lib-reconcile.sh does).
	config_set sync delete_min 100000 &&
	"$SRC_DIR/tools/gen-leave" --count 500 --mailboxes 5 --seed 7 -o leave.ndjson &&
	leavesync init && leavesync push leave.ndjson &&
	sim_ctl POST /_sim/mailboxes/user00001@contoso.com/items "{\"subject\":\"Personal\",\"start\":\"2026-06-01T09:00:00Z\",\"end\":\"2026-06-01T10:00:00Z\"}" >/dev/null
'

test_expect_success "$BACKEND: SIGKILL at 32 random moments, with pushes in between" '
	config_set sync create_grace 4 &&
	sim_ctl POST /_sim/faults "{\"kind\":\"latency\",\"latency_ms\":25,\"share\":1}" >/dev/null &&
	i=0 && kills=0 &&
	while [ $kills -lt 32 ] && [ $i -lt 100 ]; do
		i=$((i + 1))
		# HR changes about 50 entries each time (cancel, re-approve), so that every run has work.
		"$SRC_DIR/tools/gen-leave" --count 500 --mailboxes 5 --seed 7 --revision $((i + 1)) |
			awk -v r=$i "NR % 10 == r % 10 { if (/\"approved\"/) sub(/\"approved\"/, \"\\\"cancelled\\\"\"); else sub(/\"cancelled\"/, \"\\\"approved\\\"\") } { print }" >changed.ndjson &&
		leavesync push changed.ndjson >push.out 2>&1 || { cat push.out; return 1; }
		"$BUILD_DIR/leavesync" sync >/dev/null 2>&1 &
		pid=$!
		sleep "$(random_delay $i 500)"
		kill -9 $pid 2>/dev/null && kills=$((kills + 1))
		wait $pid 2>/dev/null || true
	done &&
	echo "killed $kills times in $i runs" &&
	test $kills -ge 32 &&
	sim_ctl DELETE /_sim/faults >/dev/null &&
	sleep 5 &&
	leavesync sync &&
	check_calendars --expect-untagged 1
'

test_expect_success "$BACKEND: after the crashes a sync sends nothing" '
	before=$(write_requests) &&
	leavesync sync >out && test_grep "0 created, 0 updated, 0 deleted" out &&
	test "$(write_requests)" = "$before"
'

test_expect_success "$BACKEND: responses dropped after the server committed: no duplicate" '
	"$SRC_DIR/tools/gen-leave" --count 120 --mailboxes 5 --seed 99 |
		sed "s/\"LV-/\"DROP-/" >drop.ndjson &&
	leavesync push drop.ndjson >/dev/null &&
	sim_ctl POST /_sim/faults "{\"kind\":\"drop\",\"after_commit\":true,\"share\":0.3}" >/dev/null &&
	{ leavesync sync >out 2>&1; echo "first sync: exit $?"; cat out; } &&
	sim_ctl DELETE /_sim/faults >/dev/null &&
	n=0 && until leavesync sync >out 2>&1; do n=$((n + 1)); test $n -lt 3 || { cat out; return 1; }; done &&
	check_calendars --expect-untagged 1
'

test_expect_success "$BACKEND: a throttling storm completes with each item written once" '
	"$SRC_DIR/tools/gen-leave" --count 150 --mailboxes 5 --seed 123 |
		sed "s/\"LV-/\"STORM-/" >storm.ndjson &&
	leavesync push storm.ndjson >/dev/null &&
	sim_ctl POST /_sim/counters/reset >/dev/null &&
	sim_ctl POST /_sim/faults "{\"kind\":\"$STORM_FAULT\",\"share\":0.17,\"retry_after\":0.2}" >/dev/null &&
	sim_ctl POST /_sim/faults "{\"kind\":\"http503\",\"share\":0.17,\"retry_after\":0.2}" >/dev/null &&
	leavesync sync >out 2>&1 &&
	sim_ctl DELETE /_sim/faults >/dev/null &&
	approved=$(grep -c "\"approved\"" storm.ndjson) &&
	created=$(counter "$CREATED_COUNTER") &&
	echo "approved $approved, created $created" &&
	test "$created" = "$approved" &&
	check_calendars --expect-untagged 1
'
