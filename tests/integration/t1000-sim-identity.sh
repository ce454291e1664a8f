#!/bin/sh
# m365sim: the identity platform (tokens, codes, device flow, refresh rotation), every AADSTS error
# the simulator promises (Microsoft's reference-error-codes page; docs/simulator.md lists them), MSAL
# Python against it, and the control API.
. "$(dirname "$0")/test-lib.sh"

T=22222222-0000-4000-8000-000000000001        # fabrikam
GOOD=a0000000-0000-4000-8000-000000000001
GOOD_SECRET='good-secret~abcdefghijklmnop.0123456789'
EXPIRED=a0000000-0000-4000-8000-000000000002
NOCONSENT=a0000000-0000-4000-8000-000000000003
NOPUBLIC=a0000000-0000-4000-8000-000000000004
WEBONLY=a0000000-0000-4000-8000-000000000008
WEBONLY_SECRET='web-secret~abcdefghijklmnop.0123456'
NORTHWIND=a0000000-0000-4000-8000-000000000009
EWS=https://outlook.office365.com/.default
GRAPH=https://graph.microsoft.com/.default
DELEGATED='offline_access openid profile https://graph.microsoft.com/Calendars.ReadWrite'

# post PATH [curl args]: POST form data to the simulator; body in out.json, status in status.
post() {
	post_path=$1
	shift
	curl -sS --cacert "$SIM_CA" -o out.json -w '%{http_code}' "$@" "$SIM_URL$post_path" >status
}

# token TENANT [curl args]: POST to that tenant's token endpoint.
token() {
	token_tenant=$1
	shift
	post "/$token_tenant/oauth2/v2.0/token" "$@"
}

# expect_aad STATUS ERROR CODE: out.json is an Entra error of that kind, in Entra's shape.
expect_aad() {
	test "$(cat status)" = "$1" || { echo "status $(cat status), wanted $1"; cat out.json; return 1; }
	jq -e --arg e "$2" --argjson c "$3" '
		.error == $e and .error_codes[0] == $c and
		(.error_description | startswith("AADSTS\($c): ")) and
		(.error_description | test("\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: ")) and
		(.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z$")) and
		(.trace_id | length == 36) and (.correlation_id | length == 36)' out.json >/dev/null ||
		{ echo "not an Entra $2/$3 error:"; cat out.json; return 1; }
}

# claims FILE: the payload of the access token in FILE, decoded.
claims() {
	jq -r .access_token "$1" | cut -d. -f2 | tr '_-' '/+' |
		awk '{ n = length($0) % 4; if (n) $0 = $0 substr("===", 1, 4 - n); print }' | base64 -d
}

b64url() {
	base64 -w0 | tr '+/' '-_' | tr -d '='
}

# assertion KEY CERT AUD [EXP_OFFSET] [ALG]: a client assertion JWT signed with openssl.
assertion() {
	x5t=$(openssl x509 -in "$2" -outform DER | openssl dgst -sha1 -binary | b64url)
	alg=${5:-RS256}
	if [ "$alg" = PS256 ]; then
		x5t256=$(openssl x509 -in "$2" -outform DER | openssl dgst -sha256 -binary | b64url)
		h=$(printf '{"alg":"PS256","typ":"JWT","x5t#S256":"%s"}' "$x5t256" | b64url)
		sigopt="-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest"
	else
		h=$(printf '{"alg":"RS256","typ":"JWT","x5t":"%s"}' "$x5t" | b64url)
		sigopt=
	fi
	now=$(date +%s)
	p=$(printf '{"aud":"%s","iss":"%s","sub":"%s","jti":"%s","nbf":%d,"exp":%d}' "$3" "$GOOD" \
		"$GOOD" "$(cat /proc/sys/kernel/random/uuid)" "$now" "$((now + ${4:-600}))" | b64url)
	# shellcheck disable=SC2086
	s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 $sigopt -sign "$1" -binary | b64url)
	printf '%s.%s.%s' "$h" "$p" "$s"
}

# pkce_authorize CLIENT REDIRECT [extra query]: runs authorize with a fresh PKCE pair as bob;
# sets VERIFIER and LOCATION (the redirect the simulator answered with).
pkce_authorize() {
	VERIFIER=$(head -c 48 /dev/urandom | b64url)
	challenge=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
	LOCATION=$(curl -sS --cacert "$SIM_CA" -o /dev/null -w '%{redirect_url}' -G \
		--data-urlencode "client_id=$1" --data-urlencode response_type=code \
		--data-urlencode "redirect_uri=$2" --data-urlencode "scope=$DELEGATED" \
		--data-urlencode state=st4te --data-urlencode "code_challenge=$challenge" \
		--data-urlencode code_challenge_method=S256 --data-urlencode login_hint=bob@fabrikam.com \
		${3:+--data-urlencode "$3"} "$SIM_URL/$T/oauth2/v2.0/authorize")
}

code_of() {
	printf '%s' "$LOCATION" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p'
}

jq --arg cert "$TRASH/app.pem" '.apps[0].certificate = $cert' \
	"$SRC_DIR/tests/fixtures/tenant.json" >tenant.json
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=LeaveSync app" \
	-keyout app.key -out app.pem >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Someone else" \
	-keyout other.key -out other.pem >/dev/null 2>&1

sim_start --fixture tenant.json || exit 1

test_expect_success 'the simulator listens on 127.0.0.1 over HTTPS' '
	case "$SIM_URL" in https://127.0.0.1:*) ;; *) false ;; esac &&
	head -n 1 sim.out | grep -q "^listening on https://127.0.0.1:[0-9]*$"
'

TOKEN_URL="$SIM_URL/$T/oauth2/v2.0/token"

test_expect_success 'OpenID discovery names the token, authorize and device endpoints' '
	curl -sS --cacert "$SIM_CA" "$SIM_URL/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration" >oidc.json &&
	jq -e --arg u "$SIM_URL/$T" ".token_endpoint == \"\(\$u)/oauth2/v2.0/token\" and
		.authorization_endpoint == \"\(\$u)/oauth2/v2.0/authorize\" and
		.device_authorization_endpoint == \"\(\$u)/oauth2/v2.0/devicecode\" and
		.issuer == \"\(\$u)/v2.0\"" oidc.json
'

test_expect_success 'client credentials with a secret: an EWS token with full_access_as_app' '
	token $T -d client_id=$GOOD --data-urlencode "client_secret=$GOOD_SECRET" \
		-d grant_type=client_credentials --data-urlencode "scope=$EWS" &&
	test "$(cat status)" = 200 &&
	jq -e ".token_type == \"Bearer\" and .expires_in == 3600 and (has(\"refresh_token\") | not)" out.json &&
	claims out.json >c.json &&
	jq -e ".aud == \"https://outlook.office365.com\" and .tid == \"$T\" and .appid == \"$GOOD\" and
		.roles == [\"full_access_as_app\"] and (has(\"scp\") | not) and .exp > .iat" c.json
'

test_expect_success 'client credentials by domain and HTTP Basic: a Graph token with Calendars.ReadWrite' '
	post /fabrikam.com/oauth2/v2.0/token -u "$GOOD:$GOOD_SECRET" \
		-d grant_type=client_credentials --data-urlencode "scope=$GRAPH" &&
	test "$(cat status)" = 200 &&
	claims out.json >c.json &&
	jq -e ".aud == \"https://graph.microsoft.com\" and .roles == [\"Calendars.ReadWrite\", \"User.Read.All\"]" c.json
'

test_expect_success 'without admin consent the app-only token has no roles' '
	token $T -d client_id=$NOCONSENT --data-urlencode "client_secret=noconsent-secret~abcdefghijklmnop.01" \
		-d grant_type=client_credentials --data-urlencode "scope=$EWS" &&
	test "$(cat status)" = 200 &&
	claims out.json | jq -e "has(\"roles\") | not"
'

test_expect_success 'client credentials with a certificate assertion (RS256 + x5t)' '
	token $T -d client_id=$GOOD -d grant_type=client_credentials --data-urlencode "scope=$EWS" \
		--data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
		--data-urlencode "client_assertion=$(assertion app.key app.pem "$TOKEN_URL")" &&
	test "$(cat status)" = 200 && jq -e ".access_token | length > 100" out.json
'

test_expect_success 'client credentials with a certificate assertion (PS256 + x5t#S256)' '
	token $T -d client_id=$GOOD -d grant_type=client_credentials --data-urlencode "scope=$EWS" \
		--data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
		--data-urlencode "client_assertion=$(assertion app.key app.pem "$TOKEN_URL" 600 PS256)" &&
	test "$(cat status)" = 200
'

cc_assertion() {
	token $T -d client_id=$GOOD -d grant_type=client_credentials --data-urlencode "scope=$EWS" \
		--data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
		--data-urlencode "client_assertion=$1"
}

test_expect_success 'an assertion for another audience: 50012' '
	cc_assertion "$(assertion app.key app.pem "https://login.microsoftonline.com/common/oauth2/token")" &&
	expect_aad 401 invalid_client 50012
'

test_expect_success 'an expired assertion: 700024' '
	cc_assertion "$(assertion app.key app.pem "$TOKEN_URL" -60)" &&
	expect_aad 401 invalid_client 700024
'

test_expect_success 'an assertion signed by an unregistered certificate: 700027' '
	cc_assertion "$(assertion other.key other.pem "$TOKEN_URL")" &&
	expect_aad 401 invalid_client 700027
'

test_expect_success 'an assertion with a forged signature: 700027' '
	a=$(assertion app.key app.pem "$TOKEN_URL") &&
	forged=$(printf "%s" "$a" | cut -d. -f1,2).$(assertion other.key app.pem "$TOKEN_URL" | cut -d. -f3) &&
	cc_assertion "$forged" &&
	expect_aad 401 invalid_client 700027
'

test_expect_success 'unknown tenant: 90002' '
	token 99999999-0000-4000-8000-000000000000 -d client_id=$GOOD -d grant_type=client_credentials &&
	expect_aad 400 invalid_request 90002 &&
	token unknown.example.com -d client_id=$GOOD -d grant_type=client_credentials &&
	expect_aad 400 invalid_request 90002
'

test_expect_success 'a malformed tenant identifier: 900023' '
	token "not_a_tenant" -d client_id=$GOOD -d grant_type=client_credentials &&
	expect_aad 400 invalid_request 900023
'

test_expect_success 'unknown app, or an app of another tenant: 700016' '
	token $T -d client_id=a0000000-0000-4000-8000-0000000000ff -d grant_type=client_credentials \
		-d client_secret=x --data-urlencode "scope=$EWS" &&
	expect_aad 400 unauthorized_client 700016 &&
	token $T -d client_id=$NORTHWIND -d grant_type=client_credentials \
		--data-urlencode "client_secret=northwind-secret~abcdefghijklmnop.01" --data-urlencode "scope=$EWS" &&
	expect_aad 400 unauthorized_client 700016
'

test_expect_success 'a single-tenant app on /common: 50194' '
	token common -d client_id=$GOOD -d grant_type=client_credentials &&
	expect_aad 400 invalid_request 50194
'

test_expect_success 'a wrong secret, and the secret ID sent instead of its value: 7000215' '
	token $T -d client_id=$GOOD -d client_secret=wrong -d grant_type=client_credentials \
		--data-urlencode "scope=$EWS" &&
	expect_aad 401 invalid_client 7000215 &&
	token $T -d client_id=$GOOD -d client_secret=5e000000-0000-4000-8000-000000000001 \
		-d grant_type=client_credentials --data-urlencode "scope=$EWS" &&
	expect_aad 401 invalid_client 7000215 &&
	jq -e ".error_description | contains(\"not the client secret ID\")" out.json
'

test_expect_success 'an expired secret: 7000222 (also when it is the only one)' '
	token $T -d client_id=$GOOD --data-urlencode "client_secret=old-secret~expired.abcdefghijklmnop" \
		-d grant_type=client_credentials --data-urlencode "scope=$EWS" &&
	expect_aad 401 invalid_client 7000222 &&
	token $T -d client_id=$EXPIRED --data-urlencode "client_secret=expired-secret~abcdefghijklmnop.0123" \
		-d grant_type=client_credentials --data-urlencode "scope=$EWS" &&
	expect_aad 401 invalid_client 7000222
'

test_expect_success 'no credentials at all for client credentials: 7000218' '
	token $T -d client_id=$GOOD -d grant_type=client_credentials --data-urlencode "scope=$EWS" &&
	expect_aad 401 invalid_client 7000218
'

test_expect_success 'client credentials with a non-.default scope: 1002012' '
	token $T -d client_id=$GOOD --data-urlencode "client_secret=$GOOD_SECRET" \
		-d grant_type=client_credentials -d scope=Calendars.ReadWrite &&
	expect_aad 400 invalid_scope 1002012
'

test_expect_success 'an unknown resource: 500011; two resources: 28000; an unknown scope: 70011' '
	token $T -d client_id=$GOOD --data-urlencode "client_secret=$GOOD_SECRET" \
		-d grant_type=client_credentials --data-urlencode "scope=https://foo.microsoft.com/.default" &&
	expect_aad 400 invalid_resource 500011 &&
	token $T -d client_id=$GOOD --data-urlencode "client_secret=$GOOD_SECRET" \
		-d grant_type=client_credentials --data-urlencode "scope=$EWS $GRAPH" &&
	expect_aad 400 invalid_scope 28000 &&
	post /$T/oauth2/v2.0/devicecode -d client_id=$GOOD \
		--data-urlencode "scope=offline_access https://graph.microsoft.com/Calendars.Everything" &&
	expect_aad 400 invalid_scope 70011
'

test_expect_success 'missing grant_type: 900144; an unsupported grant: 70003' '
	token $T -d client_id=$GOOD &&
	expect_aad 400 invalid_request 900144 &&
	token $T -d client_id=$GOOD -d grant_type=password &&
	expect_aad 400 unsupported_grant_type 70003
'

test_expect_success 'authorize + PKCE on a loopback redirect (any port): code and state come back' '
	pkce_authorize $GOOD http://localhost:5123 &&
	case "$LOCATION" in http://localhost:5123\?code=*\&state=st4te | http://localhost:5123/\?code=*\&state=st4te) ;; *) echo "$LOCATION"; false ;; esac &&
	code=$(code_of) &&
	token $T -d client_id=$GOOD -d grant_type=authorization_code --data-urlencode "code=$code" \
		--data-urlencode redirect_uri=http://localhost:5123 --data-urlencode "code_verifier=$VERIFIER" \
		--data-urlencode "scope=$DELEGATED" &&
	test "$(cat status)" = 200 &&
	jq -e ".refresh_token and .id_token and (.scope | contains(\"Calendars.ReadWrite\"))" out.json &&
	claims out.json >c.json &&
	jq -e ".upn == \"bob@fabrikam.com\" and .aud == \"https://graph.microsoft.com\" and
		(.scp | split(\" \") | index(\"Calendars.ReadWrite\")) and (has(\"roles\") | not)" c.json &&
	cp out.json pkce.json &&
	token $T -d client_id=$GOOD -d grant_type=authorization_code --data-urlencode "code=$code" \
		--data-urlencode redirect_uri=http://localhost:5123 --data-urlencode "code_verifier=$VERIFIER" &&
	expect_aad 400 invalid_grant 54005
'

test_expect_success 'a wrong code_verifier: 501481' '
	pkce_authorize $GOOD http://localhost:5123 &&
	token $T -d client_id=$GOOD -d grant_type=authorization_code --data-urlencode "code=$(code_of)" \
		--data-urlencode redirect_uri=http://localhost:5123 --data-urlencode code_verifier=not-the-right-verifier-at-all-0123456789abc &&
	expect_aad 400 invalid_grant 501481
'

test_expect_success 'a public client that sends a secret: 700025' '
	pkce_authorize $GOOD http://localhost:5123 &&
	token $T -d client_id=$GOOD -d grant_type=authorization_code --data-urlencode "code=$(code_of)" \
		--data-urlencode redirect_uri=http://localhost:5123 --data-urlencode "code_verifier=$VERIFIER" \
		--data-urlencode "client_secret=$GOOD_SECRET" &&
	expect_aad 401 invalid_client 700025
'

test_expect_success 'a redirect URI that differs in case: 50011 (no redirect)' '
	pkce_authorize $GOOD https://sync.fabrikam.com/OAuth/callback &&
	test -z "$LOCATION" &&
	curl -sS --cacert "$SIM_CA" -o out.json -w "%{http_code}" -G -d client_id=$GOOD -d response_type=code \
		--data-urlencode redirect_uri=https://sync.fabrikam.com/OAuth/callback -d scope=User.Read \
		"$SIM_URL/$T/oauth2/v2.0/authorize" >status &&
	expect_aad 400 invalid_request 50011
'

test_expect_success 'a Web redirect redeemed with its secret works; without it: 7000218' '
	pkce_authorize $WEBONLY https://sync.fabrikam.com/oauth/callback &&
	token $T -d client_id=$WEBONLY -d grant_type=authorization_code --data-urlencode "code=$(code_of)" \
		--data-urlencode redirect_uri=https://sync.fabrikam.com/oauth/callback \
		--data-urlencode "code_verifier=$VERIFIER" &&
	expect_aad 401 invalid_client 7000218 &&
	pkce_authorize $WEBONLY https://sync.fabrikam.com/oauth/callback &&
	token $T -d client_id=$WEBONLY -d grant_type=authorization_code --data-urlencode "code=$(code_of)" \
		--data-urlencode redirect_uri=https://sync.fabrikam.com/oauth/callback \
		--data-urlencode "code_verifier=$VERIFIER" --data-urlencode "client_secret=$WEBONLY_SECRET" &&
	test "$(cat status)" = 200 && jq -e .refresh_token out.json >/dev/null
'

test_expect_success 'authorize without consent redirects with consent_required (65001)' '
	pkce_authorize $NOCONSENT http://localhost:7000 &&
	case "$LOCATION" in *error=consent_required*AADSTS65001*state=st4te) ;; *) echo "$LOCATION"; false ;; esac
'

test_expect_success 'refresh rotates: a new refresh token each use, the old one is rejected (70008)' '
	rt1=$(jq -r .refresh_token pkce.json) &&
	token $T -d client_id=$GOOD -d grant_type=refresh_token --data-urlencode "refresh_token=$rt1" \
		--data-urlencode "scope=$DELEGATED" &&
	test "$(cat status)" = 200 &&
	rt2=$(jq -r .refresh_token out.json) && test -n "$rt2" && test "$rt2" != "$rt1" &&
	token $T -d client_id=$GOOD -d grant_type=refresh_token --data-urlencode "refresh_token=$rt1" &&
	expect_aad 400 invalid_grant 70008 &&
	token $T -d client_id=$GOOD -d grant_type=refresh_token --data-urlencode "refresh_token=$rt2" &&
	test "$(cat status)" = 200 && jq -r .refresh_token out.json >rt3
'

test_expect_success 'refresh of a public client with a secret: 700025; a garbage token: 9002313' '
	token $T -d client_id=$GOOD -d grant_type=refresh_token --data-urlencode "refresh_token=$(cat rt3)" \
		--data-urlencode "client_secret=$GOOD_SECRET" &&
	expect_aad 401 invalid_client 700025 &&
	token $T -d client_id=$GOOD -d grant_type=refresh_token -d refresh_token=garbage &&
	expect_aad 400 invalid_grant 9002313
'

test_expect_success 'a refresh token unused for 91 days: 700082' '
	sim_ctl POST /_sim/clock "{\"offset\": $((91 * 86400))}" >/dev/null &&
	token $T -d client_id=$GOOD -d grant_type=refresh_token --data-urlencode "refresh_token=$(cat rt3)" &&
	expect_aad 400 invalid_grant 700082
'
sim_ctl POST /_sim/clock '{"offset": 0}' >/dev/null

test_expect_success 'the clock is back to normal' '
	sim_ctl GET /_sim/clock | jq -e ".offset == 0"
'

test_expect_success 'a revoked refresh token: 50173' '
	pkce_authorize $GOOD http://localhost:5123 &&
	token $T -d client_id=$GOOD -d grant_type=authorization_code --data-urlencode "code=$(code_of)" \
		--data-urlencode redirect_uri=http://localhost:5123 --data-urlencode "code_verifier=$VERIFIER" &&
	rt=$(jq -r .refresh_token out.json) &&
	sim_ctl POST /_sim/refresh/revoke "{\"user\": \"bob@fabrikam.com\"}" >/dev/null &&
	token $T -d client_id=$GOOD -d grant_type=refresh_token --data-urlencode "refresh_token=$rt" &&
	expect_aad 400 invalid_grant 50173
'

devicecode() {
	post "/$T/oauth2/v2.0/devicecode" -d "client_id=$1" --data-urlencode "scope=$DELEGATED" &&
	cp out.json dc.json
}

poll() {
	poll_client=$1
	shift
	token $T -d "client_id=$poll_client" -d grant_type=urn:ietf:params:oauth:grant-type:device_code \
		--data-urlencode "device_code=$(jq -r .device_code dc.json)" "$@"
}

test_expect_success 'device code: pending, approve, token, then already redeemed' '
	devicecode $GOOD && test "$(cat status)" = 200 &&
	jq -e ".user_code and .device_code and .verification_uri and .expires_in == 900 and .interval == 1 and
		(.user_code as \$c | .message | contains(\$c))" dc.json &&
	poll $GOOD && expect_aad 400 authorization_pending 70016 &&
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\": \"$(jq -r .user_code dc.json)\", \"user\": \"alice@fabrikam.com\"}" >/dev/null &&
	sleep 1 && poll $GOOD && test "$(cat status)" = 200 &&
	claims out.json | jq -e ".upn == \"alice@fabrikam.com\"" &&
	poll $GOOD && expect_aad 400 invalid_grant 54005
'

# slow_down answers a poll that comes less than half the interval after the previous one. With this
# fixture's 1 s interval two polls would have to be 0.5 s apart, a window a loaded machine misses: a
# second simulator with a 600 s interval gives the two polls 300 s.
test_expect_success 'device code: a poll within half the interval of the previous one gets slow_down' '
	jq ".device_code_interval = 600" tenant.json >slow.json &&
	{ "$BUILD_DIR/m365sim" --port 0 --tls-cert tls/server.pem --tls-key tls/server.key \
		--fixture slow.json >slow-sim.out 2>slow-sim.err & slow_pid=$!; } &&
	test_wait_for 60 grep -q "^listening on " slow-sim.out &&
	main_url=$SIM_URL && SIM_URL=$(sed -n "s/^listening on //p" slow-sim.out) &&
	devicecode $GOOD && jq -e ".interval == 600" dc.json >/dev/null &&
	poll $GOOD && expect_aad 400 authorization_pending 70016 &&
	poll $GOOD && expect_aad 400 slow_down 70016
	rc=$?
	SIM_URL=$main_url
	kill $slow_pid && wait $slow_pid
	return $rc
'

test_expect_success 'device code approved through the browser-like GET endpoint' '
	devicecode $GOOD &&
	curl -sS --cacert "$SIM_CA" -G --data-urlencode "user_code=$(jq -r .user_code dc.json)" \
		--data-urlencode user=carol@fabrikam.com "$SIM_URL/$T/oauth2/v2.0/devicecode/approve" >/dev/null &&
	poll $GOOD && test "$(cat status)" = 200 && claims out.json | jq -e ".upn == \"carol@fabrikam.com\""
'

test_expect_success 'device code declined, expired, public flows off (7000218), secret sent (700025)' '
	devicecode $GOOD &&
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\": \"$(jq -r .user_code dc.json)\", \"decline\": true}" >/dev/null &&
	poll $GOOD && test "$(jq -r .error out.json)" = authorization_declined &&
	devicecode $GOOD && sim_ctl POST /_sim/clock "{\"offset\": 1000}" >/dev/null &&
	poll $GOOD && expect_aad 400 expired_token 70019 &&
	sim_ctl POST /_sim/clock "{\"offset\": 0}" >/dev/null &&
	devicecode $NOPUBLIC && poll $NOPUBLIC && expect_aad 401 invalid_client 7000218 &&
	devicecode $GOOD && poll $GOOD --data-urlencode "client_secret=$GOOD_SECRET" &&
	expect_aad 401 invalid_client 700025
'

test_expect_success 'device code without consent: 65001' '
	devicecode $NOCONSENT &&
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\": \"$(jq -r .user_code dc.json)\", \"user\": \"bob@fabrikam.com\"}" >/dev/null &&
	poll $NOCONSENT && expect_aad 400 invalid_grant 65001
'

test_expect_success 'MSAL Python: client credentials (secret, certificate), device flow, refresh, auth code + nonce' '
	$PY "$TEST_DIR/clients/msal_check.py" "$SIM_URL/$T" "$SIM_CA" $GOOD "$GOOD_SECRET" app.key app.pem \
		>msal.out 2>&1 || { cat msal.out; false; } &&
	test_grep "^ok client_credentials" msal.out &&
	test_grep "^ok certificate" msal.out &&
	test_grep "^ok device_flow alice@fabrikam.com" msal.out &&
	test_grep "^ok refresh" msal.out &&
	test_grep "^ok auth_code_flow alice@fabrikam.com" msal.out
'

test_expect_success 'token lifetime is configurable; counters count token requests' '
	sim_ctl POST /_sim/token-lifetime "{\"seconds\": 5}" >/dev/null &&
	sim_ctl POST /_sim/counters/reset >/dev/null &&
	token $T -d client_id=$GOOD --data-urlencode "client_secret=$GOOD_SECRET" \
		-d grant_type=client_credentials --data-urlencode "scope=$EWS" &&
	jq -e ".expires_in == 5" out.json && claims out.json | jq -e ".exp - .iat == 5" &&
	test "$(counter token.client_credentials)" = 1 && test "$(counter requests)" = 1
'

test_expect_success 'faults: the next request gets 503 with Retry-After, and is counted' '
	sim_ctl POST /_sim/faults "{\"next\": 1, \"kind\": \"http503\", \"retry_after\": 1.5}" >/dev/null &&
	curl -sS --cacert "$SIM_CA" -D hdr -o /dev/null -w "%{http_code}" -d client_id=$GOOD "$TOKEN_URL" >status &&
	test "$(cat status)" = 503 && grep -i "^Retry-After: 1.5" hdr &&
	test "$(counter faults.http503)" = 1 &&
	token $T -d client_id=$GOOD && expect_aad 400 invalid_request 900144
'

test_expect_success 'faults: a dropped response, a truncated body, an HTML page, path filters' '
	sim_ctl POST /_sim/faults "{\"next\": 1, \"kind\": \"drop\", \"after_commit\": true}" >/dev/null &&
	test_must_fail curl -sS --cacert "$SIM_CA" -d client_id=$GOOD "$TOKEN_URL" &&
	sim_ctl POST /_sim/faults "{\"next\": 1, \"kind\": \"truncate\"}" >/dev/null &&
	token $T -d client_id=$GOOD && test "$(cat status)" = 400 && test_must_fail jq . out.json &&
	sim_ctl POST /_sim/faults "{\"next\": 1, \"kind\": \"html\", \"path_prefix\": \"/EWS\"}" >/dev/null &&
	token $T -d client_id=$GOOD && expect_aad 400 invalid_request 900144 &&
	sim_ctl GET /_sim/faults | jq -e ".faults | length == 1" &&
	sim_ctl DELETE /_sim/faults >/dev/null &&
	sim_ctl GET /_sim/faults | jq -e ".faults | length == 0"
'

test_expect_success 'faults: a share of requests' '
	sim_ctl POST /_sim/faults "{\"share\": 0.5, \"kind\": \"http429\", \"retry_after\": 2}" >/dev/null &&
	for i in 1 2 3 4; do token $T -d client_id=$GOOD; cat status; echo; done >statuses &&
	test "$(grep -c 429 statuses)" = 2 && sim_ctl DELETE /_sim/faults >/dev/null
'

test_expect_success 'faults: token_expired makes EWS answer 401 token_expired; latency delays' '
	token $T -d client_id=$GOOD --data-urlencode "client_secret=$GOOD_SECRET" \
		-d grant_type=client_credentials --data-urlencode "scope=$EWS" &&
	at=$(jq -r .access_token out.json) &&
	sim_ctl POST /_sim/faults "{\"kind\": \"token_expired\"}" >/dev/null &&
	curl -sS --cacert "$SIM_CA" -D hdr -o /dev/null -H "Authorization: Bearer $at" \
		-H "Content-Type: text/xml" -d "<x/>" "$SIM_URL/EWS/Exchange.asmx" &&
	head -n 1 hdr | grep -q " 401" && grep -qi "^x-ms-diagnostics: 2000002" hdr &&
	sim_ctl POST /_sim/faults "{\"kind\": \"latency\", \"latency_ms\": 400}" >/dev/null &&
	t=$(curl -sS --cacert "$SIM_CA" -o /dev/null -w "%{time_total}" "$SIM_URL/$T/v2.0/.well-known/openid-configuration") &&
	awk -v t="$t" "BEGIN { exit !(t >= 0.4) }" &&
	test_must_fail sim_ctl POST /_sim/faults "{\"kind\": \"http5O3\"}"
'

test_expect_success 'mailbox items: inject, edit (new change key), move (new id), delete, dump' '
	sim_ctl POST /_sim/mailboxes/alice@fabrikam.com/items "{\"subject\": \"Dentist\",
		\"start\": \"2026-12-01T09:00:00Z\", \"end\": \"2026-12-01T10:00:00Z\", \"show_as\": \"Busy\",
		\"extended_properties\": [{\"set_id\": \"00020329-0000-0000-C000-000000000046\", \"name\": \"X\", \"value\": \"1\"}]}" >item.json &&
	id=$(jq -r .ews_id item.json) && ck=$(jq -r .change_key item.json) &&
	sim_ctl PATCH "/_sim/mailboxes/alice@fabrikam.com/items/$id" "{\"subject\": \"Dentist (moved)\"}" >item2.json &&
	jq -e --arg ck "$ck" ".change_key != \$ck and .subject == \"Dentist (moved)\" and .version == 2" item2.json &&
	sim_ctl POST "/_sim/mailboxes/alice@fabrikam.com/items/$id/move" "{\"folder\": \"Archive\"}" >item3.json &&
	id3=$(jq -r .ews_id item3.json) && test "$id3" != "$id" &&
	jq -e --arg i "$(jq -r .immutable_id item.json)" ".immutable_id == \$i and .folder == \"Archive\"" item3.json &&
	sim_ctl GET /_sim/mailboxes/alice@fabrikam.onmicrosoft.com >dump.json &&
	jq -e ".mailbox == \"alice@fabrikam.com\" and (.items | length) == 1 and
		.items[0].extended_properties[0].set_id == \"00020329-0000-0000-c000-000000000046\"" dump.json &&
	sim_ctl DELETE "/_sim/mailboxes/alice@fabrikam.com/items/$id3" >/dev/null &&
	sim_ctl GET /_sim/mailboxes/alice@fabrikam.com | jq -e ".items | length == 0" &&
	test_must_fail sim_ctl GET /_sim/mailboxes/nomail@fabrikam.com
'

# Restarts the simulator with --state inside the test's subshell, and stops it there.
state_roundtrip() {
	sim_stop
	sim_start --fixture tenant.json --state state.json &&
	sim_ctl POST /_sim/mailboxes/bob@fabrikam.com/items "{\"subject\": \"Kept\", \"start\": \"2026-12-02T09:00:00Z\", \"end\": \"2026-12-02T10:00:00Z\"}" >kept.json &&
	devicecode $GOOD &&
	sim_ctl POST /_sim/devicecode/approve "{\"user_code\": \"$(jq -r .user_code dc.json)\"}" >/dev/null &&
	poll $GOOD && rt=$(jq -r .refresh_token out.json) &&
	sim_stop && test -s state.json &&
	sim_start --fixture tenant.json --state state.json &&
	sim_ctl GET /_sim/mailboxes/bob@fabrikam.com | jq -e --arg id "$(jq -r .ews_id kept.json)" ".items[0].ews_id == \$id" &&
	token $T -d client_id=$GOOD -d grant_type=refresh_token --data-urlencode "refresh_token=$rt" &&
	test "$(cat status)" = 200
	rc=$?
	sim_stop
	return $rc
}

test_expect_success 'SIGTERM saves --state: items and refresh tokens survive a restart' '
	state_roundtrip
'

test_done
