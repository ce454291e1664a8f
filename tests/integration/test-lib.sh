# test-lib.sh: a small harness in the style of git's t/test-lib.sh, printing TAP.
#
#   . ./test-lib.sh
#   test_expect_success 'what the user does' '
#       leavesync push sample.json &&
#       test_cmp expect actual
#   '
#   test_done
#
# Each script runs in its own trash directory (removed on success, kept on failure). Helpers:
#   leavesync ARGS...     the built binary (under valgrind when VALGRIND=1)
#   sim_start [ARGS]      starts m365sim over HTTPS on a free port with a fresh test CA; sets SIM_URL,
#                         SIM_CA; writes leavesync.conf pointing at it; sim_stop at exit
#   sim_ctl METHOD PATH [JSON]   calls the simulator's control API (/_sim/...), prints the body
#   validate_ews [-q] FILE...    m365sim --validate-ews: each EWS request as the simulator judges it
#   ews_xsd_check FILE...        the same judged independently by python3-lxml (clients/ews_xsd_check.py)
#   test_wait_for SECONDS CMD... polls CMD (every 0.1 s) until it succeeds, at most SECONDS
#   default_config        a minimal leavesync.conf (the store in the trash directory); the
#                         starting point of every script, since no config means exit 2
#   test_skip 'what' 'why'  a test that cannot run on this machine, skipped visibly
#   test_cmp, test_must_fail, test_expect_code, test_grep
# Everything a test reads is in the repository: $SRC_DIR (the checkout), $DATA_DIR (tests/data).

set -u
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TEST_DIR/../.." && pwd)
LS_BUILD=${LS_BUILD:-build}
case "$LS_BUILD" in /*) BUILD_DIR=$LS_BUILD ;; *) BUILD_DIR=$SRC_DIR/$LS_BUILD ;; esac
DATA_DIR=$SRC_DIR/tests/data
PY=/usr/bin/python3
test_name=$(basename "$0" .sh)
TRASH=$TEST_DIR/trash.$test_name.$$
rm -rf "$TRASH" && mkdir -p "$TRASH" && cd "$TRASH" || exit 1
export HOME=$TRASH LEAVESYNC_CONFIG=$TRASH/leavesync.conf
unset LEAVESYNC_EWS_CLIENT_SECRET LEAVESYNC_GRAPH_CLIENT_SECRET XDG_CONFIG_HOME JOURNAL_STREAM
umask 022
# leavesync needs a config (the current directory is never searched): a minimal one with the store
# in the trash directory; write_config replaces it once a simulator runs.
default_config() {
	printf '[store]\npath = %s/leavesync.db\n' "$TRASH" >leavesync.conf && chmod 600 leavesync.conf
}
default_config

# Some scripts drop to uid 65534 (setpriv) to test file modes as another user: that user must reach the
# binary and the trash directory, so every parent directory needs o+x. Say so once, rather than let
# those tests fail with a bare "Permission denied".
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
	! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$BUILD_DIR/leavesync" -a -x "$TRASH" 2>/dev/null; then
	echo "# note: uid 65534 cannot reach $BUILD_DIR/leavesync or $TRASH: the tests that run as an" \
		"unprivileged user will fail; make each parent directory searchable (chmod o+x), as .ci/run does" >&2
fi

test_count=0
test_failures=0
SIM_PID=

leavesync() {
	if [ "${VALGRIND:-}" = 1 ]; then
		valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			"$BUILD_DIR/leavesync" "$@"
	else
		"$BUILD_DIR/leavesync" "$@"
	fi
}

test_expect_success() {
	test_count=$((test_count + 1))
	# Evaluated in this shell, as git's test-lib does, so that setup steps (sim_start, exports) last.
	# A body may `return 1` (from inside loops); never `exit`.
	if test_run_body_ "$2" >"$TRASH/.out.$test_count" 2>&1; then
		echo "ok $test_count - $1"
	else
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $1"
		sed 's/^/#   /' "$TRASH/.out.$test_count" | tail -n 40
	fi
}

test_run_body_() {
	eval "$1"
}

# test_skip 'what' 'why': a test that cannot run here, shown as skipped with its reason.
test_skip() {
	test_count=$((test_count + 1))
	echo "ok $test_count - $1 # SKIP $2"
}

test_done() {
	sim_stop
	echo "1..$test_count"
	if [ "$test_failures" -eq 0 ]; then
		cd "$TEST_DIR" && rm -rf "$TRASH"
		exit 0
	fi
	exit 1
}

test_must_fail() {
	"$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "test_must_fail: command succeeded: $*"
		return 1
	fi
	if [ $rc -gt 128 ]; then
		echo "test_must_fail: command died of signal $((rc - 128)): $*"
		return 1
	fi
	return 0
}

# test_expect_code CODE command...: the command must exit with exactly CODE.
test_expect_code() {
	want=$1
	shift
	"$@"
	rc=$?
	if [ $rc -ne "$want" ]; then
		echo "test_expect_code: expected exit $want, got $rc: $*"
		return 1
	fi
	return 0
}

test_cmp() {
	diff -u "$1" "$2"
}

# test_grep PATTERN FILE: like grep, but shows the file when the pattern is missing.
test_grep() {
	if ! grep -q -e "$1" "$2"; then
		echo "test_grep: '$1' not found in $2:"
		sed 's/^/    /' "$2" | head -n 30
		return 1
	fi
}

test_grep_not() {
	if grep -q -e "$1" "$2"; then
		echo "test_grep_not: '$1' unexpectedly found in $2:"
		grep -n -e "$1" "$2" | head -n 10
		return 1
	fi
}

# make_test_ca: a CA and a server certificate for 127.0.0.1/localhost, in ./tls/.
make_test_ca() {
	mkdir -p tls &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=leavesync test CA" \
		-keyout tls/ca.key -out tls/ca.pem >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout tls/server.key -out tls/server.csr >/dev/null 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >tls/ext.cnf &&
	openssl x509 -req -in tls/server.csr -CA tls/ca.pem -CAkey tls/ca.key -CAcreateserial \
		-days 2 -extfile tls/ext.cnf -out tls/server.pem >/dev/null 2>&1
}

# test_wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds; fails (saying so)
# when it has not after SECONDS. For conditions on a loaded machine: give a generous bound.
test_wait_for() {
	wait_deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		if [ "$(date +%s)" -ge "$wait_deadline" ]; then
			echo "test_wait_for: still false after the time allowed: $*"
			return 1
		fi
		sleep 0.1
	done
}

# validate_ews [-q] [--json] FILE...: the simulator's own EWS request validation, as a command
# (exit 0 all valid, 1 any invalid, 2 unreadable).
validate_ews() {
	"$BUILD_DIR/m365sim" --validate-ews "$@"
}

# ews_xsd_check FILE...: a second opinion, independent of the simulator's code: python3-lxml against
# the same schema files (clients/ews_xsd_check.py); one JSON verdict per file, the same exit statuses.
ews_xsd_check() {
	$PY "$TEST_DIR/clients/ews_xsd_check.py" "$SRC_DIR/tools/m365sim/schema/libxml2/ews.xsd" "$@"
}

# sim_start [m365sim options]: HTTPS simulator on a free port; SIM_URL, SIM_PORT, SIM_CA. Waits up
# to 60 s for it to listen (a loaded machine, ASan, valgrind), less if it exits.
sim_start() {
	[ -f tls/server.pem ] || make_test_ca || return 1
	# A script that starts a second simulator must not read the first one's sim.out: the background
	# shell truncates it only when it gets to run, and the wait below could see the old line first.
	rm -f sim.out sim.err
	"$BUILD_DIR/m365sim" --port 0 --tls-cert tls/server.pem --tls-key tls/server.key "$@" \
		>sim.out 2>sim.err &
	SIM_PID=$!
	sim_deadline=$(($(date +%s) + 60))
	until grep -q '^listening on ' sim.out 2>/dev/null; do
		if ! kill -0 "$SIM_PID" 2>/dev/null || [ "$(date +%s)" -ge "$sim_deadline" ]; then
			echo "m365sim did not start:"; cat sim.err
			return 1
		fi
		sleep 0.05
	done
	SIM_URL=$(sed -n 's/^listening on //p' sim.out | head -n 1)
	SIM_PORT=${SIM_URL##*:}
	SIM_CA=$TRASH/tls/ca.pem
	export SIM_URL SIM_PORT SIM_CA
}

sim_stop() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
		SIM_PID=
	fi
}

# sim_ctl METHOD PATH [JSON]: the control API; prints the response body, fails on HTTP >= 400.
sim_ctl() {
	if [ $# -ge 3 ]; then
		curl -sS --fail-with-body --cacert "$SIM_CA" -X "$1" -H 'Content-Type: application/json' \
			--data-binary "$3" "$SIM_URL$2"
	else
		curl -sS --fail-with-body --cacert "$SIM_CA" -X "$1" "$SIM_URL$2"
	fi
}

trap 'sim_stop' EXIT

# The demo tenant of m365sim (docs/simulator.md).
DEMO_TENANT=11111111-2222-3333-4444-555555555555
DEMO_CLIENT=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
DEMO_SECRET='demo-secret-value~0123456789abcdefghij'

# write_config BACKEND [MODE]: leavesync.conf (mode 0600) for the running simulator; the secret goes in
# the environment as in production. Extra config lines may be appended by the caller.
write_config() {
	cat >leavesync.conf <<CONF
[store]
path = $TRASH/leavesync.db

[sync]
backend = $1

[tls]
ca_file = $SIM_CA

[ews]
tenant_id = $DEMO_TENANT
client_id = $DEMO_CLIENT
authority = $SIM_URL
url = $SIM_URL/EWS/Exchange.asmx

[graph]
tenant_id = $DEMO_TENANT
client_id = $DEMO_CLIENT
mode = ${2:-application}
authority = $SIM_URL
url = $SIM_URL/v1.0
CONF
	chmod 600 leavesync.conf
	LEAVESYNC_EWS_CLIENT_SECRET=$DEMO_SECRET
	LEAVESYNC_GRAPH_CLIENT_SECRET=$DEMO_SECRET
	export LEAVESYNC_EWS_CLIENT_SECRET LEAVESYNC_GRAPH_CLIENT_SECRET
}

# calendar MAILBOX: the live (not deleted) items of a mailbox's calendar, as a JSON array.
calendar() {
	sim_ctl GET "/_sim/mailboxes/$1" | jq '[(.items // .)[] | select(.folder == "calendar" and (.deleted | not))]'
}

# counter NAME: a request counter of the simulator (0 when absent).
counter() {
	sim_ctl GET /_sim/counters | jq -r --arg k "$1" '.[$k] // 0'
}

# write_requests: EWS/Graph write operations the simulator served (creates, updates, deletes, and
# $batch requests holding a write).
write_requests() {
	sim_ctl GET /_sim/counters | jq '[to_entries[] | select(.key | test("CreateItem|UpdateItem|DeleteItem|POST events|PATCH|DELETE event|batch with writes"; "i")) | .value] | add // 0'
}

# config_set SECTION KEY VALUE: sets a key in a section of leavesync.conf (the section must exist).
config_set() {
	awk -v sec="[$1]" -v line="$2 = $3" -v key="$2" '
		$0 == sec { print; print line; insec = 1; next }
		/^\[/ { insec = 0 }
		insec && $1 == key { next }
		{ print }' leavesync.conf >leavesync.conf.new &&
	mv leavesync.conf.new leavesync.conf && chmod 600 leavesync.conf
}

# run_bounded MAX_RSS_MB SECONDS command...: runs the command under /usr/bin/time -v, killing it
# (exit 137) if its resident memory passes MAX_RSS_MB or it runs longer than SECONDS, so that a
# test of a memory or time bound cannot take the machine down with the code it checks. Sets
# BOUNDED_RSS_MB (the peak, from time -v) and BOUNDED_KILLED ("", "rss" or "time").
run_bounded() {
	max_kb=$(($1 * 1024))
	secs=$2
	shift 2
	exec 3<&0 # an asynchronous command reads /dev/null unless given its input explicitly
	# Under ASan (make test SANITIZE=1) freed memory waits in a 256 MB quarantine: measured memory
	# would be the sanitizer's, not leavesync's. A small quarantine keeps the bound meaningful.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
		/usr/bin/time -v -o bounded.time "$@" <&3 &
	tpid=$!
	exec 3<&-
	BOUNDED_KILLED=
	ticks=0
	while kill -0 "$tpid" 2>/dev/null; do
		child=$(pgrep -P "$tpid" | head -n 1)
		if [ -n "$child" ]; then
			rss=$(sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$child/status" 2>/dev/null)
			if [ -n "$rss" ] && [ "$rss" -gt "$max_kb" ]; then
				BOUNDED_KILLED=rss
				kill -9 "$child" 2>/dev/null
			elif [ "$ticks" -gt $((secs * 20)) ]; then
				BOUNDED_KILLED=time
				kill -9 "$child" 2>/dev/null
			fi
		fi
		ticks=$((ticks + 1))
		sleep 0.05
	done
	wait "$tpid"
	rc=$?
	rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' bounded.time 2>/dev/null)
	BOUNDED_RSS_MB=$((${rss_kb:-0} / 1024))
	[ -n "$BOUNDED_KILLED" ] && echo "run_bounded: killed ($BOUNDED_KILLED), peak ${BOUNDED_RSS_MB} MB: $*"
	return $rc
}
