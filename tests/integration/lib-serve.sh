# lib-serve.sh: helpers for scenarios that drive a real `leavesync serve` (sourced after
# test-lib.sh and sim_start/write_config).
#   serve_conf LINES...   appends a [serve] section (HTTPS with the test CA, a free port)
#   serve_start [ARGS]    starts leavesync serve; SERVE_URL, SERVE_PID; serve_stop at exit
#   req METHOD PATH [curl args]   prints the status; body in resp.json, headers in resp.head
#                                 (Authorization from $KEY when set)
#   wait_until SECONDS COMMAND... polls COMMAND every 0.2 s until it succeeds (fails after SECONDS)

SERVE_PID=

serve_conf() {
	{
		echo
		echo "[serve]"
		echo "listen = 127.0.0.1:0"
		echo "tls_cert = $TRASH/tls/server.pem"
		echo "tls_key = $TRASH/tls/server.key"
		for line in "$@"; do echo "$line"; done
	} >>leavesync.conf
}

serve_start() {
	: >serve.out
	# the binary itself (not the leavesync shell function, which would put a subshell's pid in
	# SERVE_PID and signals on the wrong process)
	"$BUILD_DIR/leavesync" serve "$@" >serve.out 2>>serve.err &
	SERVE_PID=$!
	for _ in $(seq 1 200); do
		if grep -q '^listening on ' serve.out 2>/dev/null; then
			SERVE_URL=$(sed -n 's/^listening on //p' serve.out | head -n 1)
			export SERVE_URL
			return 0
		fi
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "leavesync serve did not start:"; cat serve.err
	return 1
}

# serve_stop: SIGTERM, then the exit status must be 0.
serve_stop() {
	[ -n "$SERVE_PID" ] || return 0
	kill -TERM "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID"
	rc=$?
	SERVE_PID=
	[ $rc -eq 0 ] || { echo "leavesync serve exited $rc"; tail -n 20 serve.err; return 1; }
}

serve_kill_quiet() {
	if [ -n "$SERVE_PID" ]; then
		kill -TERM "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
		SERVE_PID=
	fi
}
trap 'serve_kill_quiet; sim_stop' EXIT

req() {
	_m=$1 _p=$2
	shift 2
	if [ -n "${KEY:-}" ]; then
		set -- -H "Authorization: Bearer $KEY" "$@"
	fi
	curl -sS --cacert "$TRASH/tls/ca.pem" -X "$_m" -D resp.head -o resp.json -w '%{http_code}' \
		"$@" "$SERVE_URL$_p"
}

# reload LINE...: replaces the [serve] keys named in LINES ("key = value") and sends SIGHUP; waits
# for the reload to be logged.
serve_reload() {
	for line in "$@"; do
		config_set serve "${line%% =*}" "${line#*= }" || return 1
	done
	n=$(grep -c 'configuration reloaded' serve.err)
	kill -HUP "$SERVE_PID" &&
	wait_until 30 sh -c "test \$(grep -c 'configuration reloaded' serve.err) -gt $n"
}

wait_until() {
	_secs=$1
	shift
	_tries=$((_secs * 5))
	while [ $_tries -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		_tries=$((_tries - 1))
	done
	echo "wait_until: still failing after $_secs s: $*"
	return 1
}

# state_is ID STATE: GET /v1/leave/ID (with $KEY) reports STATE.
state_is() {
	test "$(req GET "/v1/leave/$1")" = 200 && test "$(jq -r .state resp.json)" = "$2"
}

# run_done PATH: GET PATH (a /v1/runs/N, with $KEY) says done.
run_done() {
	test "$(req GET "$1")" = 200 && jq -e '.state == "done"' resp.json
}
