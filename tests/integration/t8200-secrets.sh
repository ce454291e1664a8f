#!/bin/sh
# t8200: secrets never leak. Every command runs with a known client secret (from the environment,
# then from client_secret_file), against EWS, Graph app-only and Graph delegated (auth login by
# device code), and in failing variants (wrong secret, server errors, revoked refresh token). The
# output of each (stdout and stderr, in out/) and the store minus its token table must hold neither
# the secret, nor any access token (a JWT starts with eyJ), nor a refresh token. The store, its
# -wal/-shm and lock files are created 0600.
test_description='secrets and tokens never appear in output, logs or run history; files 0600'
. "$(dirname "$0")/test-lib.sh"

mkdir -p out
n=0
# run NAME ARGS...: runs leavesync, keeps its stdout+stderr in out/NN-NAME; never fails.
run() {
	name=$1
	shift
	n=$((n + 1))
	leavesync "$@" >"out/$(printf %02d $n)-$name" 2>&1
	echo "exit $?" >>"out/$(printf %02d $n)-$name"
	return 0
}

# A JWT (an access token): a base64url header, a dot, a payload, each a JSON object ("eyJ" is
# base64 for '{"'). Not "eyJ" alone: the simulator's item ids are random base64url and hold it by
# chance now and then (a failure of test 10 in one CI run).
JWT='eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+'

# no_secret_in FILE...: none of the files holds the secret (or its distinctive tail), a wrong
# secret we used, a JWT, or a refresh token of the store.
no_secret_in() {
	status=0
	for f in "$@"; do
		for s in "$DEMO_SECRET" "0123456789abcdefghij" "$WRONG_SECRET" $REFRESH_TOKENS; do
			if grep -a -q -F -e "$s" "$f"; then
				echo "$f holds a secret or token ($(echo "$s" | cut -c1-6)...):"
				grep -a -n -F -e "$s" "$f" | cut -c1-200 | head -n 3
				status=1
			fi
		done
		if grep -a -q -E -e "$JWT" "$f"; then
			echo "$f holds an access token (a JWT):"
			grep -a -n -o -E -e "$JWT" "$f" | cut -c1-40 | head -n 3
			status=1
		fi
	done
	return $status
}

refresh_tokens() {
	sqlite3 leavesync-secrets.db "select refresh_token from token where refresh_token is not null" 2>/dev/null
}

WRONG_SECRET='wrong-secret~ZZZYYYXXX9876543210'
REFRESH_TOKENS=

leave='[{"id":"S-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-05-03","end":"2027-05-04","status":"approved","revision":1,"time_zone":"Europe/Riga","note":"note"},
{"id":"S-2","mailbox":"bob@contoso.com","kind":"Sick leave","start":"2027-05-10","end":"2027-05-10","status":"approved","revision":1}]'
moved='{"id":"S-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-05-03","end":"2027-05-05","status":"approved","revision":2,"time_zone":"Europe/Riga"}'

# every_command TAG: the whole command set against the configured backend.
every_command() {
	run "$1-init" init
	echo "$leave" >leave.json
	run "$1-push" push leave.json
	run "$1-sync" sync
	echo "$moved" | leavesync push - >/dev/null 2>&1
	run "$1-sync2" sync
	run "$1-resync" resync --all
	run "$1-resync-leave" resync --leave S-2
	run "$1-reconcile" reconcile
	run "$1-reconcile-dry" reconcile --dry-run
	run "$1-status" status
	run "$1-status-json" status --json
	run "$1-export" export --ics
	run "$1-export-file" export --ics -o "out/$1.ics"
	run "$1-doctor" doctor
	run "$1-doctor-json" doctor --json
}

# failing TAG ENVVAR: the same with a wrong secret, and with server errors.
failing() {
	if [ -n "$2" ]; then
		eval "saved=\$$2"
		export "$2=$WRONG_SECRET"
	else
		printf '%s\n' "$WRONG_SECRET" >secret.txt
	fi
	echo "$leave" | sed 's/"revision":1/"revision":5/g' | leavesync push - >/dev/null 2>&1
	run "$1-wrong-sync" sync
	run "$1-wrong-reconcile" reconcile
	run "$1-wrong-doctor" doctor
	run "$1-wrong-doctor-json" doctor --json
	run "$1-wrong-status" status --json
	if [ -n "$2" ]; then export "$2=$saved"; else printf '%s\n' "$DEMO_SECRET" >secret.txt; fi
	sim_ctl POST /_sim/faults '{"kind":"http503","next":50}' >/dev/null
	run "$1-503-sync" resync --all
	run "$1-503-doctor" doctor
	sim_ctl DELETE /_sim/faults >/dev/null
	sim_ctl POST /_sim/faults '{"kind":"malformed","next":3}' >/dev/null
	run "$1-malformed-sync" resync --all
	sim_ctl DELETE /_sim/faults >/dev/null
	sim_ctl POST /_sim/faults '{"kind":"drop","next":2}' >/dev/null
	run "$1-drop-sync" resync --all
	sim_ctl DELETE /_sim/faults >/dev/null
	run "$1-sync-after" sync
	run "$1-status-after" status
}

test_expect_success 'setup: simulator; the secret is the app secret of the demo tenant' '
	sim_start &&
	write_config graph application &&
	config_set sync test_mailbox alice@contoso.com &&
	test -n "$DEMO_SECRET"
'

test_expect_success 'Graph app-only, secret from the environment: every command runs' '
	every_command graph-env &&
	grep -q "exit 0" out/*-graph-env-sync &&
	test "$(calendar alice@contoso.com | jq length)" = 1
'

test_expect_success 'Graph app-only, environment: failing variants' '
	failing graph-env LEAVESYNC_GRAPH_CLIENT_SECRET &&
	grep -q "AADSTS7000215" out/*-graph-env-wrong-sync &&
	grep -q "AADSTS7000215" out/*-graph-env-wrong-doctor &&
	grep -q "exit 1" out/*-graph-env-503-sync
'

test_expect_success 'EWS, secret from client_secret_file: every command runs' '
	rm -f leavesync.db* &&
	sim_ctl POST /_sim/reset >/dev/null &&
	unset LEAVESYNC_EWS_CLIENT_SECRET LEAVESYNC_GRAPH_CLIENT_SECRET &&
	(umask 077 && printf "%s\n" "$DEMO_SECRET" >secret.txt) &&
	config_set sync backend ews &&
	config_set ews client_secret_file "$TRASH/secret.txt" &&
	config_set graph client_secret_file "$TRASH/secret.txt" &&
	every_command ews-file &&
	grep -q "exit 0" out/*-ews-file-sync &&
	test "$(calendar alice@contoso.com | jq length)" = 1
'

test_expect_success 'EWS, client_secret_file: failing variants' '
	failing ews-file "" &&
	grep -q "AADSTS7000215" out/*-ews-file-wrong-sync &&
	grep -q "AADSTS7000215" out/*-ews-file-wrong-doctor &&
	grep -q "exit 1" out/*-ews-file-503-sync
'

test_expect_success 'Graph delegated: auth login by device code, then every command' '
	rm -f leavesync.db* &&
	sim_ctl POST /_sim/reset >/dev/null &&
	config_set sync backend graph &&
	config_set graph mode delegated &&
	run delegated-init init &&
	(leavesync auth login --mailbox alice@contoso.com --device-code >out/login.out 2>out/login.err &
	 echo $! >login.pid) &&
	for _ in $(seq 1 600); do
		code=$(sed -n "s/.*enter the code \([A-Z0-9]*\) .*/\1/p" out/login.err) &&
		test -n "$code" && break
		sleep 0.1
	done &&
	test -n "$code" &&
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\":\"$code\",\"user\":\"alice@contoso.com\"}" >/dev/null &&
	for _ in $(seq 1 600); do
		kill -0 "$(cat login.pid)" 2>/dev/null || break
		sleep 0.1
	done &&
	test_grep "connected" out/login.out &&
	REFRESH_TOKENS=$(refresh_tokens) && test -n "$REFRESH_TOKENS" &&
	echo "$leave" | head -n 1 | sed "s/,$/]/" >leave.json &&
	run delegated-push push leave.json &&
	run delegated-sync sync &&
	grep -q "exit 0" out/*-delegated-sync &&
	test "$(calendar alice@contoso.com | jq length)" = 1 &&
	run delegated-resync resync --all &&
	run delegated-reconcile reconcile &&
	run delegated-status status &&
	run delegated-status-json status --json &&
	run delegated-doctor doctor &&
	run delegated-doctor-json doctor --json &&
	REFRESH_TOKENS="$REFRESH_TOKENS $(refresh_tokens)"
'

test_expect_success 'Graph delegated: a revoked refresh token' '
	sim_ctl POST /_sim/refresh/revoke "{\"user\":\"alice@contoso.com\"}" >/dev/null &&
	run delegated-revoked-sync resync --all &&
	grep -q "login" out/*-delegated-revoked-sync &&
	run delegated-revoked-status status &&
	run delegated-revoked-doctor doctor
'

test_expect_success 'the commands ran: the outputs are there and say something' '
	test "$(ls out | wc -l)" -ge 60 &&
	for f in out/*; do test -s "$f" || { echo "empty: $f"; return 1; }; done
'

test_expect_success 'no secret, access token or refresh token in any output' '
	echo "refresh tokens checked: $(echo $REFRESH_TOKENS | wc -w)" &&
	test "$(echo $REFRESH_TOKENS | wc -w)" -ge 1 &&
	no_secret_in out/*
'

test_expect_success 'no secret or token anywhere in the store (run history, drift, the file itself)' '
	sqlite3 leavesync.db .dump >dump.sql &&
	grep -q "INSERT INTO \"\?run\"\? \|INSERT INTO run" dump.sql &&
	test_grep_not "CREATE TABLE \"\?token" dump.sql &&
	no_secret_in dump.sql leavesync.db
'

test_expect_success 'the refresh tokens are in the secrets database beside it, mode 0600' '
	sqlite3 leavesync-secrets.db .dump | grep "^INSERT INTO \"\?token\"\? " >tokens.sql &&
	rt=$(refresh_tokens | head -n 1) && test -n "$rt" &&
	grep -q -F -e "$rt" tokens.sql &&
	test "$(stat -c %a leavesync-secrets.db)" = 600
'

# SQLite removes -wal and -shm when the last connection closes: look while a slowed sync runs.
# modes_while_syncing: the modes of the store and its -wal, -shm and lock files, taken at one moment
# while the sync of sync.pid runs: waits (at most 60 s) until all four exist; fails, saying so, if the
# sync ends first.
modes_while_syncing() {
	modes_deadline=$(($(date +%s) + 60))
	until stat -c "%n %a" leavesync.db leavesync.db-wal leavesync.db-shm leavesync.db.lock \
		>modes.txt 2>/dev/null; do
		kill -0 "$(cat sync.pid)" 2>/dev/null ||
			{ echo "the sync ended before its -wal and -shm files were seen"; return 1; }
		[ "$(date +%s)" -lt "$modes_deadline" ] || { echo "no -wal and -shm after 60 s"; return 1; }
		sleep 0.1
	done
}

test_expect_success 'the store, its -wal/-shm and lock files are 0600 (also during a sync)' '
	echo "$moved" | sed "s/\"revision\":2/\"revision\":9/" | leavesync push - >/dev/null 2>&1 &&
	sim_ctl POST /_sim/faults "{\"kind\":\"latency\",\"latency_ms\":3000,\"next\":2}" >/dev/null &&
	sed "s/^mode = delegated/mode = application/" leavesync.conf >app.conf && chmod 600 app.conf &&
	(leavesync -c app.conf sync >/dev/null 2>&1 & echo $! >sync.pid) &&
	modes_while_syncing &&
	ls -la leavesync.db* >modes
	rc=$?
	wait "$(cat sync.pid)"
	sim_ctl DELETE /_sim/faults >/dev/null
	cat modes modes.txt &&
	test $rc -eq 0 &&
	printf "leavesync.db 600\nleavesync.db-wal 600\nleavesync.db-shm 600\nleavesync.db.lock 600\n" >expect &&
	test_cmp expect modes.txt
'

test_expect_success 'a store created under umask 000 is still 0600' '
	(umask 000 && leavesync -c leavesync.conf init >/dev/null 2>&1) &&
	mkdir -p u && sed "s|^path = .*|path = $TRASH/u/new.db|" leavesync.conf >u.conf &&
	chmod 600 u.conf &&
	(umask 000 && leavesync -c u.conf init && echo "$leave" | leavesync -c u.conf push - &&
	 leavesync -c u.conf status) >/dev/null 2>&1 &&
	ls -la u &&
	for f in u/new.db u/new.db-wal u/new.db-shm; do
		test -e "$f" || continue
		test "$(stat -c %a "$f")" = 600 || { echo "$f: mode $(stat -c %a "$f")"; return 1; }
	done
'

test_expect_success 'a config or secret file readable by others is named with the fix' '
	chmod 644 secret.txt leavesync.conf &&
	leavesync status >o 2>&1;
	chmod 600 secret.txt leavesync.conf &&
	cat o && grep -q "chmod 600" o && no_secret_in o
'

test_done
