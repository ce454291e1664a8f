#!/bin/sh
test_description='auth list, auth logout, and a login refused for the wrong account (issue 15)'
. "$(dirname "$0")/test-lib.sh"

make_fixture() {
	"$SRC_DIR/tools/gen-fixture" --mailboxes 1 |
	jq '.users = [{"upn":"alice@contoso.com","display_name":"Alice","time_zone":"UTC","aliases":["a.ahlberg@contoso.com"]},
	              {"upn":"bob@contoso.com","display_name":"Bob","time_zone":"UTC"}]' >fixture.json
}

# device_login MAILBOX USER: `auth login --mailbox MAILBOX`, approved in the simulator by USER.
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
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\":\"$code\",\"user\":\"$2\"}" >/dev/null &&
	wait $pid
}

connections() { sqlite3 leavesync-secrets.db "select mailbox from token order by mailbox"; }

test_expect_success 'setup: delegated Graph, a store, no connection' '
	make_fixture && sim_start --fixture fixture.json &&
	write_config graph delegated &&
	unset LEAVESYNC_GRAPH_CLIENT_SECRET LEAVESYNC_EWS_CLIENT_SECRET &&
	leavesync init &&
	leavesync auth list >out && test_grep "no delegated connections" out
'

test_expect_success 'auth login --mailbox bob signed in as alice is refused; nothing is stored' '
	test_expect_code 1 device_login bob@contoso.com alice@contoso.com &&
	test_grep "signed in as alice@contoso.com, which is not bob@contoso.com: nothing was stored" login.err &&
	test -z "$(connections)"
'

test_expect_success 'a sign-in as the mailbox itself is stored' '
	device_login bob@contoso.com bob@contoso.com &&
	test_grep "bob@contoso.com connected" login.out &&
	test "$(connections)" = bob@contoso.com
'

test_expect_success 'a mailbox address that is an alias of the account is accepted (GET /me proxyAddresses)' '
	before=$(counter "graph.GET me") &&
	device_login a.ahlberg@contoso.com alice@contoso.com &&
	test "$(counter "graph.GET me")" -gt "$before" &&
	connections >c && test_grep "a.ahlberg@contoso.com" c
'

test_expect_success 'auth list shows mailbox, signed-in user, state and last update' '
	leavesync auth list >out &&
	test_grep "^bob@contoso.com  *bob@contoso.com  *connected  *20[0-9-]*T[0-9:]*Z" out &&
	test_grep "^a.ahlberg@contoso.com  *alice@contoso.com  *connected" out &&
	leavesync auth list --json >list.json &&
	jq -e ".schema == 1 and (.connections | length) == 2" list.json &&
	jq -e "[.connections[] | keys] | all(. == [\"mailbox\", \"reason\", \"state\", \"updated_at\", \"user\"])" list.json &&
	test_grep_not "refresh" list.json
'

test_expect_success 'auth logout deletes the refresh token (bytes overwritten); the mailbox waits for a login' '
	rt=$(sqlite3 leavesync-secrets.db "select refresh_token from token where mailbox = \"bob@contoso.com\"") &&
	test -n "$rt" &&
	leavesync auth logout --mailbox Bob@Contoso.com >out &&
	test_grep "refresh token of bob@contoso.com is deleted" out &&
	test_grep "revokeSignInSessions" out &&
	test "$(connections)" = a.ahlberg@contoso.com &&
	sqlite3 leavesync-secrets.db "pragma wal_checkpoint(truncate)" >/dev/null &&
	! grep -a -q -F "$rt" leavesync-secrets.db &&
	test_expect_code 2 leavesync auth logout --mailbox bob@contoso.com 2>err &&
	test_grep "has no connection" err &&
	echo "{\"id\":\"A-1\",\"mailbox\":\"bob@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-02-01\",\"end\":\"2027-02-01\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}" | leavesync push - &&
	test_expect_code 1 leavesync sync 2>err &&
	test_grep "auth login --mailbox bob@contoso.com" err
'

test_expect_success 'auth usage: unknown subcommand, logout without --mailbox' '
	test_expect_code 2 leavesync auth bogus 2>err && test_grep "auth list" err &&
	test_expect_code 2 leavesync auth logout 2>err
'

test_done
