#!/bin/sh
# t8300: hostile servers (issue 13), against tests/integration/hostile-server.py (real HTTPS on
# loopback, one scenario per server): a body trickled one byte every two seconds is cut by the
# low-speed limit and the run stops at its deadline, releasing the lock; server messages quoting the
# Authorization header or holding terminal escapes reach neither the terminal, nor status, nor the
# store unfiltered; an access token with CRLF never becomes a header; absurd ids are never stored;
# gzip bombs to four workers at once are cut, each and together, with memory bounded. And, without a
# server: a URL with user info in the config is refused without echoing the password.
test_description='hostile servers: slow bodies, echoed tokens, escapes, CRLF tokens, huge ids, gzip bombs'
. "$(dirname "$0")/test-lib.sh"

LS=$BUILD_DIR/leavesync
TOKEN_TAIL=SG9zdGlsZVNpZ25hdHVyZVRoYXRNdXN0TmV2ZXJCZVByaW50ZWQ
HOSTILE_PID=

# hostile_start SCENARIO [options]: the hostile server on a free port, and leavesync.conf for it.
hostile_start() {
	hostile_stop
	[ -f tls/server.pem ] || make_test_ca || return 1
	rm -f requests.jsonl hostile.out
	$PY "$TEST_DIR/hostile-server.py" --scenario "$@" --cert tls/server.pem --key tls/server.key \
		--log "$TRASH/requests.jsonl" >hostile.out 2>hostile.err &
	HOSTILE_PID=$!
	for _ in $(seq 1 100); do
		if grep -q '^listening on ' hostile.out 2>/dev/null; then
			SIM_URL=$(sed -n 's/^listening on //p' hostile.out | head -n 1)
			SIM_CA=$TRASH/tls/ca.pem
			write_config "$BACKEND" application &&
			return 0
		fi
		sleep 0.1
	done
	echo "hostile server did not start:"; cat hostile.err
	return 1
}

hostile_stop() {
	if [ -n "$HOSTILE_PID" ]; then
		kill "$HOSTILE_PID" 2>/dev/null
		wait "$HOSTILE_PID" 2>/dev/null
		HOSTILE_PID=
	fi
}
trap 'hostile_stop; sim_stop' EXIT

# fresh_store MAILBOX...: a new store with one leave per mailbox.
fresh_store() {
	rm -f leavesync.db* && leavesync init >/dev/null || return 1
	i=0
	for mb in "$@"; do
		i=$((i + 1))
		printf '{"id":"H-%d","mailbox":"%s","kind":"Annual leave","start":"2027-05-%02d","end":"2027-05-%02d","status":"approved"}\n' \
			$i "$mb" $((i + 2)) $((i + 2))
	done >leave.ndjson &&
	leavesync push leave.ndjson >/dev/null
}

# requests PATH_SUFFIX: how many requests the server received for paths ending so.
requests() {
	jq -s --arg p "$1" '[.[] | select(.path | endswith($p))] | length' requests.jsonl 2>/dev/null || echo 0
}

# no_token_in FILE...: neither the token, its tail, nor any JWT start.
no_token_in() {
	for f in "$@"; do
		if grep -a -q -e "eyJ" -e "$TOKEN_TAIL" "$f"; then
			echo "$f holds the token:"; grep -a -n -e eyJ -e "$TOKEN_TAIL" "$f" | cut -c1-300 | head -n 5
			return 1
		fi
	done
}

# no_controls_in FILE...: no ESC, BEL, C1 CSI (U+009B) or bidi override (U+202E) bytes.
no_controls_in() {
	esc=$(printf '\033') bel=$(printf '\007') csi=$(printf '\302\233') rlo=$(printf '\342\200\256')
	for f in "$@"; do
		if LC_ALL=C grep -a -q -e "$esc" -e "$bel" -e "$csi" -e "$rlo" "$f"; then
			echo "$f holds raw control characters:"; LC_ALL=C grep -a -n -e "$esc" -e "$bel" "$f" | od -c | head
			return 1
		fi
	done
}

# everything the user or a script could see afterwards: stderr/stdout of the run, status, status
# --json, and the store's text (last errors, run history, drift).
collect_outputs() {
	leavesync status >status.txt 2>&1
	leavesync status --json >status.json 2>&1
	sqlite3 leavesync.db .dump >dump.sql
}

BACKEND=ews

test_expect_success 'a URL with user info in the config: refused, the password never echoed' '
	printf "[ews]\nurl = https://svc-leave:Pa55-SECRET-w0rd@mail.contoso.com/EWS/Exchange.asmx\n" >ui.conf &&
	chmod 600 ui.conf &&
	for cmd in sync status doctor "push leave.ndjson"; do
		test_expect_code 2 leavesync -c ui.conf $cmd >out 2>&1 || return 1
		grep -q "\[ews\] url = https://mail.contoso.com/EWS/Exchange.asmx: user info (user:password@) is not allowed" out ||
			{ cat out; return 1; }
		! grep -q -e SECRET -e svc-leave out || { cat out; return 1; }
	done
'

test_expect_success 'slow body (1 byte every 2 s): cut by the low-speed limit, retried, stopped at the run deadline' '
	hostile_start slow-body &&
	printf "[limits]\nlow_speed_time = 3\n" >>leavesync.conf &&
	config_set sync run_deadline 15 &&
	fresh_store alice@contoso.com &&
	run_bounded 1024 120 "$LS" sync >out 2>err
	rc=$?
	cat out err &&
	test -z "$BOUNDED_KILLED" &&
	test $rc -eq 1 &&
	test_grep "sync: stopped at the run deadline (\[sync\] run_deadline = 15 s)" err &&
	test_grep "1 item stays queued for the next run" err &&
	echo "EWS requests: $(requests /EWS/Exchange.asmx)" &&
	test "$(requests /EWS/Exchange.asmx)" -ge 2 &&
	test "$(sqlite3 leavesync.db "select count(*) from target where dirty = 1 and remote_id is null")" = 1 &&
	leavesync status >status.txt && test_grep "queued for the next sync: 1" status.txt &&
	flock -n leavesync.db.lock true &&
	test_grep "stopped at the run deadline" status.txt
'

test_expect_success 'EWS MessageText and faultstring quoting Authorization: redacted everywhere, doctor too' '
	hostile_start echo-auth-ews &&
	fresh_store alice@contoso.com bob@contoso.com &&
	test_expect_code 1 leavesync sync >out 2>err &&
	cat err &&
	test "$(requests /EWS/Exchange.asmx)" -ge 2 &&
	test_grep "ErrorAccessDenied" err &&
	test_grep "Authorization: \[redacted\]" err &&
	collect_outputs &&
	test_grep "Authorization: \[redacted\]" status.txt &&
	config_set sync test_mailbox bob@contoso.com &&
	{ leavesync doctor >doctor.txt 2>&1; leavesync doctor --json >doctor.json 2>&1; true; } &&
	test_grep "read the calendar of bob@contoso.com" doctor.txt &&
	no_token_in out err status.txt status.json dump.sql doctor.txt doctor.json
'

BACKEND=graph

test_expect_success 'Graph error.message quoting Authorization: redacted everywhere' '
	hostile_start echo-auth-graph &&
	fresh_store alice@contoso.com bob@contoso.com &&
	test_expect_code 1 leavesync sync >out 2>err &&
	cat err &&
	test "$(requests /\$batch)" -ge 1 &&
	test_grep "Authorization: \[redacted\]" err &&
	collect_outputs &&
	no_token_in out err status.txt status.json dump.sql
'

test_expect_success 'Graph error code and message with terminal escapes: escaped everywhere' '
	hostile_start escapes-graph &&
	fresh_store alice@contoso.com &&
	test_expect_code 1 leavesync sync >out 2>err &&
	cat err &&
	test_grep "\\\\x1B\[2J" err &&
	collect_outputs &&
	test_grep "\\\\x1B\]0;pwned" status.txt &&
	no_controls_in out err status.txt status.json dump.sql
'

BACKEND=ews

test_expect_success 'an access_token with CRLF inside: never sent as a header; items wait' '
	hostile_start crlf-token &&
	fresh_store alice@contoso.com &&
	test_expect_code 1 leavesync sync >out 2>err &&
	cat err &&
	test_grep "control character" err &&
	test "$(requests /oauth2/v2.0/token)" -ge 1 &&
	test "$(requests /EWS/Exchange.asmx)" = 0 &&
	test_grep_not "X-Injected" requests.jsonl &&
	test "$(sqlite3 leavesync.db "select state from target")" = waiting &&
	collect_outputs && no_token_in err status.txt dump.sql
'

test_expect_success 'a 5 MB EWS ChangeKey: refused naming the field, never stored' '
	hostile_start big-ids-ews --big-bytes 5242880 &&
	fresh_store alice@contoso.com &&
	test_expect_code 1 leavesync sync >out 2>err &&
	cat err | cut -c1-300 &&
	test_grep "ChangeKey of 5242880 bytes (the limit is 2048" err &&
	test "$(sqlite3 leavesync.db "select count(*) from target where length(coalesce(change_key, \"\")) > 2048 or length(coalesce(remote_id, \"\")) > 2048")" = 0 &&
	test "$(sqlite3 leavesync.db "select max(length(coalesce(last_error, \"\"))) from target")" -lt 1024 &&
	test "$(stat -c %s leavesync.db)" -lt 1048576
'

BACKEND=graph

test_expect_success 'a 10 MB Graph event id: refused naming the field, never stored' '
	hostile_start big-ids-graph --big-bytes 10485760 &&
	fresh_store alice@contoso.com &&
	test_expect_code 1 leavesync sync >out 2>err &&
	cat err | cut -c1-300 &&
	test_grep "\"id\" of 1048576[0-9] bytes (the limit is 2048" err &&
	test "$(sqlite3 leavesync.db "select count(*) from target where length(coalesce(remote_id, \"\")) > 2048")" = 0 &&
	test "$(stat -c %s leavesync.db)" -lt 1048576
'

BACKEND=ews

# Four mailboxes: four workers, four requests in flight at once. Each answer inflates to 1 GB; before
# the limits each was cut at 256 MB only and memory peaked near 800 MB.
test_expect_success 'gzip bombs to four workers at once: each cut at response_size, memory bounded' '
	hostile_start gzip-bomb --bomb-bytes 1073741824 &&
	fresh_store alice@contoso.com bob@contoso.com carol@contoso.com dave@contoso.com &&
	run_bounded 600 300 "$LS" sync >out 2>err
	rc=$?
	echo "peak ${BOUNDED_RSS_MB} MB" && sort -u err | head -n 5 &&
	test -z "$BOUNDED_KILLED" &&
	test $rc -eq 1 &&
	test_grep "response larger than \[limits\] response_size (16777216 bytes after decompression)" err &&
	test "$BOUNDED_RSS_MB" -lt 400
'

# response_size would let each answer through; the process-wide response_budget (the sum of what all
# workers hold at once: tests/unit/test_http.c holds one answer while a second is cut) is configured
# below one answer here, so every answer is cut by it.
test_expect_success 'gzip bombs past the process-wide response_budget: cut, memory bounded' '
	hostile_start gzip-bomb --bomb-bytes 20971520 &&
	printf "[limits]\nresponse_size = 64M\nresponse_budget = 16M\n" >>leavesync.conf &&
	fresh_store alice@contoso.com bob@contoso.com carol@contoso.com dave@contoso.com &&
	run_bounded 600 300 "$LS" sync >out 2>err
	rc=$?
	echo "peak ${BOUNDED_RSS_MB} MB" && sort -u err | head -n 5 &&
	test -z "$BOUNDED_KILLED" &&
	test $rc -eq 1 &&
	test_grep "would hold more than \[limits\] response_budget (16777216 bytes) at once" err &&
	test "$BOUNDED_RSS_MB" -lt 400
'

test_done
