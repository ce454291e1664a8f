#!/bin/sh
# OAuth against m365sim's identity platform: client credentials (a wrong secret and a secret's ID
# instead of its value give AADSTS7000215 with the fix), the token cache, refresh token rotation
# (the replaced token is rejected), a revoked connection marked "needs login" in the store, and
# `leavesync auth login` with the device code (approved through the control API), loopback PKCE and
# Web redirect flows. The library-level checks run in build/tests/test_oauth_live.

. "$(dirname "$0")/test-lib.sh"

LIVE=$BUILD_DIR/tests/test_oauth_live

sim_start || exit 1
write_config graph delegated

test_expect_success 'the OAuth scenarios against the simulator run' '
	test -x "$LIVE" &&
	"$LIVE" >live.out 2>&1;
	cat live.out &&
	grep -q "^1\.\.[1-9]" live.out
'

# live_ok PATTERN: the scenario named PATTERN passed in live.out.
live_ok() {
	if ! grep -q "^ok [0-9]* - $1" live.out; then
		grep -e "$1" -A3 live.out || echo "no result for: $1"
		return 1
	fi
}

test_expect_success 'TLS fails closed without the CA and says how to fix it' '
	live_ok "without ca_file the simulator.s certificate is refused" &&
	live_ok "the message names the fix"
'

test_expect_success 'client credentials with the secret value get a token' '
	live_ok "client credentials with the secret.s value" &&
	live_ok "app token carries roles"
'

test_expect_success 'a wrong secret names AADSTS7000215 and the fix' '
	live_ok "wrong secret message names the fix" &&
	live_ok "the secret is not in the message"
'

test_expect_success 'the secret ID instead of its value is recognised' '
	live_ok "secret ID message says it is the ID"
'

test_expect_success 'an unknown tenant and a bad scope explain themselves' '
	live_ok "unknown tenant: 90002 with the fix" &&
	live_ok "a non-.default scope is refused"
'

test_expect_success 'app-only tokens are cached and failures are not retried in a loop' '
	live_ok "one token request in all" &&
	live_ok "a final failure is not retried in the same run"
'

test_expect_success 'refresh rotates the refresh token and the old one is rejected' '
	live_ok "a new refresh token" &&
	live_ok "the replaced refresh token is rejected"
'

test_expect_success 'the delegated source stores the rotated token before using the access token' '
	live_ok "the rotated refresh token was stored before use" &&
	live_ok "one refresh for two calls" &&
	live_ok "message: mailbox bob@contoso.com has no delegated connection"
'

test_expect_success 'a revoked refresh token marks the connection needs login with the AADSTS reason' '
	live_ok "revoked: needs login" &&
	live_ok "the store says needs login with the AADSTS reason"
'

test_expect_success 'login_run: device code, loopback PKCE and Web redirect store the connection' '
	live_ok "device code login" &&
	live_ok "loopback PKCE login" &&
	live_ok "Web redirect login with the secret" &&
	live_ok "web: the signed-in user" &&
	! grep -q "^not ok" live.out
'

test_expect_success 'leavesync auth login --device-code connects a mailbox' '
	leavesync init >/dev/null 2>&1 &&
	(leavesync auth login --mailbox Dave@Contoso.com --device-code >login.out 2>login.err &
	 echo $! >login.pid) &&
	code= &&
	for _ in $(seq 1 300); do
		code=$(sed -n "s/.*enter the code \([A-Z0-9]*\) .*/\1/p" login.err)
		test -n "$code" && break
		sleep 0.1
	done &&
	echo "user code: ${code:-(none after 30 s)}" &&
	test -n "$code" &&
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\":\"$code\",\"user\":\"dave@contoso.com\"}" &&
	for _ in $(seq 1 400); do
		kill -0 "$(cat login.pid)" 2>/dev/null || break
		sleep 0.1
	done &&
	cat login.out login.err &&
	test_grep "dave@contoso.com connected" login.out &&
	sqlite3 leavesync-secrets.db "SELECT mailbox, user, needs_login, length(refresh_token) > 20 FROM token" >token.out &&
	echo "dave@contoso.com|dave@contoso.com|0|1" >expect &&
	test_cmp expect token.out
'

test_expect_success 'the refresh token never appears in the output' '
	rt=$(sqlite3 leavesync-secrets.db "SELECT refresh_token FROM token WHERE mailbox = '\''dave@contoso.com'\''") &&
	test -n "$rt" &&
	! grep -F -e "$rt" login.out login.err
'

test_expect_success 'a declined device code sign-in fails with a clear message' '
	(leavesync auth login --mailbox bob@contoso.com >decl.out 2>decl.err & echo $! >decl.pid) &&
	for _ in $(seq 1 600); do
		code=$(sed -n "s/.*enter the code \([A-Z0-9]*\) .*/\1/p" decl.err) &&
		test -n "$code" && break
		sleep 0.1
	done &&
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\":\"$code\",\"user\":\"bob@contoso.com\",\"decline\":true}" &&
	for _ in $(seq 1 600); do
		kill -0 "$(cat decl.pid)" 2>/dev/null || break
		sleep 0.1
	done &&
	cat decl.err &&
	test_grep "declined" decl.err
'

# A second simulator whose app has a certificate credential (tests/fixtures/tenant.json).
sim_stop
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=LeaveSync app" \
	-keyout app.key -out app.pem >/dev/null 2>&1 &&
jq --arg cert "$TRASH/app.pem" '.apps[0].certificate = $cert' \
	"$SRC_DIR/tests/fixtures/tenant.json" >tenant.json &&
sim_start --fixture tenant.json || exit 1

test_expect_success 'client credentials with a certificate (RS256 assertion) and an expired secret' '
	CERT_FILE=$TRASH/app.pem KEY_FILE=$TRASH/app.key \
	CERT_TENANT=fabrikam.onmicrosoft.com CERT_CLIENT=a0000000-0000-4000-8000-000000000001 \
	EXPIRED_CLIENT=a0000000-0000-4000-8000-000000000002 \
	EXPIRED_SECRET="expired-secret~abcdefghijklmnop.0123" "$LIVE" >cert.out 2>&1;
	cat cert.out &&
	grep -q "^1\.\.[1-9]" cert.out &&
	! grep -q "^not ok" cert.out
'

test_done
