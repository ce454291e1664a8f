#!/bin/sh
test_description='Graph delegated: device code and PKCE logins, sync per connection, needs-login and resume'
. "$(dirname "$0")/test-lib.sh"

# A fixture with the demo users and a 1 s device code polling interval.
make_fixture() {
	"$SRC_DIR/tools/gen-fixture" --mailboxes 1 |
	jq '.users = [{"upn":"alice@contoso.com","display_name":"Alice","time_zone":"FLE Standard Time"},
	              {"upn":"bob@contoso.com","display_name":"Bob","time_zone":"Pacific Standard Time"},
	              {"upn":"carol@contoso.com","display_name":"Carol","time_zone":"UTC"},
	              {"upn":"dave@contoso.com","display_name":"Dave","time_zone":"UTC"}]' >fixture.json
}

# device_login MAILBOX: `auth login --device-code`, approved as that user through the simulator.
device_login() {
	rm -f login.err
	"$BUILD_DIR/leavesync" auth login --mailbox "$1" --device-code >login.out 2>login.err &
	pid=$!
	code=
	for _ in $(seq 1 600); do
		code=$(sed -n 's/.*enter the code \([A-Z0-9-]*\).*/\1/p' login.err | head -n 1)
		[ -n "$code" ] && break
		sleep 0.1
	done
	[ -n "$code" ] || { cat login.err; kill $pid; return 1; }
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\":\"$code\",\"user\":\"$1\"}" >/dev/null &&
	wait $pid
}

leave() {
	echo "{\"id\":\"$1\",\"mailbox\":\"$2\",\"kind\":\"Annual leave\",\"start\":\"$3\",\"end\":\"$3\",\"status\":\"approved\",\"revision\":${4:-1},\"time_zone\":\"Europe/Riga\"}"
}

test_expect_success 'setup: delegated Graph config, leave for three mailboxes' '
	make_fixture && sim_start --fixture fixture.json &&
	write_config graph delegated &&
	unset LEAVESYNC_GRAPH_CLIENT_SECRET LEAVESYNC_EWS_CLIENT_SECRET &&
	leavesync init &&
	{ leave D-1 alice@contoso.com 2027-01-11; leave D-2 bob@contoso.com 2027-01-12; leave D-3 carol@contoso.com 2027-01-13; } | leavesync push -
'

test_expect_success 'device code login connects a mailbox; the refresh token is never printed' '
	device_login alice@contoso.com &&
	test_grep "alice@contoso.com connected" login.out &&
	rt=$(sqlite3 leavesync-secrets.db "select refresh_token from token where mailbox = \"alice@contoso.com\"") &&
	test -n "$rt" &&
	test_grep_not "$rt" login.out && test_grep_not "$rt" login.err &&
	device_login bob@contoso.com
'

test_expect_success 'a mailbox without a connection waits; sync says so and exits 1' '
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "2 created" out && test_grep "1 waiting" out &&
	test_grep "carol@contoso.com D-3" err && test_grep "auth login --mailbox carol@contoso.com" err &&
	leavesync status >st && test_grep "waiting" st &&
	test "$(calendar alice@contoso.com | jq length)" = 1 &&
	test "$(calendar bob@contoso.com | jq length)" = 1
'

test_expect_success 'refresh tokens rotate on every use and the old one stops working' '
	old=$(sqlite3 leavesync-secrets.db "select refresh_token from token where mailbox = \"alice@contoso.com\"") &&
	leave D-1 alice@contoso.com 2027-01-18 2 | leavesync push - &&
	test_expect_code 1 leavesync sync >out &&
	test_grep "1 updated" out &&
	new=$(sqlite3 leavesync-secrets.db "select refresh_token from token where mailbox = \"alice@contoso.com\"") &&
	test "$old" != "$new" &&
	code=$(curl -s -o /dev/null -w "%{http_code}" --cacert "$SIM_CA" \
		-d "grant_type=refresh_token&client_id=$DEMO_CLIENT&refresh_token=$old" \
		"$SIM_URL/$DEMO_TENANT/oauth2/v2.0/token") &&
	test "$code" = 400
'

test_expect_success 'the waiting mailbox resumes after its login' '
	device_login carol@contoso.com &&
	leavesync sync >out &&
	test_grep "1 created" out &&
	test "$(calendar carol@contoso.com | jq length)" = 1
'

test_expect_success 'a revoked login marks the connection "needs login"; targets wait, then resume' '
	sim_ctl POST /_sim/refresh/revoke "{\"user\":\"bob@contoso.com\"}" >/dev/null &&
	leave D-2 bob@contoso.com 2027-01-19 2 | leavesync push - &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "1 waiting" out &&
	leavesync status --json >st.json &&
	jq -e ".connections[] | select(.mailbox == \"bob@contoso.com\") | .needs_login and (.reason | test(\"AADSTS\"))" st.json &&
	jq -e ".problems[] | select(.leave == \"D-2\") | .state == \"waiting\"" st.json &&
	device_login bob@contoso.com &&
	leavesync sync >out &&
	test_grep "1 updated" out &&
	calendar bob@contoso.com | jq -e ".[0].start == \"2027-01-18T22:00:00Z\""
'

test_expect_success 'PKCE login on a loopback redirect (public client, no secret sent)' '
	"$BUILD_DIR/leavesync" auth login --mailbox dave@contoso.com --loopback >login.out 2>login.err &
	pid=$! &&
	url= &&
	for _ in $(seq 1 600); do
		url=$(grep -o "https://[^ ]*authorize[^ ]*" login.err | head -n 1)
		[ -n "$url" ] && break
		sleep 0.1
	done &&
	test -n "$url" &&
	case "$url" in *code_challenge=*code_challenge_method=S256*|*code_challenge_method=S256*code_challenge=*) ;; *) false ;; esac &&
	curl -s -L --cacert "$SIM_CA" "$url&login_hint=dave@contoso.com" >browser.html &&
	wait $pid &&
	test_grep "dave@contoso.com connected" login.out &&
	leave D-4 dave@contoso.com 2027-01-20 | leavesync push - &&
	leavesync sync >out && test_grep "1 created" out
'

test_done
