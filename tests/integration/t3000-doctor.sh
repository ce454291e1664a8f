#!/bin/sh
# leavesync doctor against m365sim (tests/fixtures/doctor.json: the demo app plus one app per
# registration mistake of issue 7). A correct setup is all ✓ for each registration style; each
# mistake gives a ✗ line with its cause, an indented fix line and exit 1; secrets and tokens never
# appear in any output mode.

. "$(dirname "$0")/test-lib.sh"

FIXTURE=$SRC_DIR/tests/fixtures/doctor.json
GOOD_SECRET=$DEMO_SECRET
SECRET_ID=0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f
EXPIRED_APP=d0c70000-0000-4000-8000-000000000002
EXPIRED_SECRET='expired-secret~abcdefghijklmnop.0123'
NOCONSENT_APP=d0c70000-0000-4000-8000-000000000003
NOCONSENT_SECRET='noconsent-secret~abcdefghijklmnop.01'
NOPUBLIC_APP=d0c70000-0000-4000-8000-000000000004
NOEWS_APP=d0c70000-0000-4000-8000-000000000005
NOEWS_SECRET='noews-secret~abcdefghijklmnop.012345'
SCOPED_APP=d0c70000-0000-4000-8000-000000000006
SCOPED_SECRET='scoped-secret~abcdefghijklmnop.01234'
DELEGATED_ONLY_APP=d0c70000-0000-4000-8000-000000000007
DELEGATED_ONLY_SECRET='delegated-secret~abcdefghijklmnop.0'
GRAPH_ONLY_APP=d0c70000-0000-4000-8000-000000000008
GRAPH_ONLY_SECRET='graphonly-secret~abcdefghijklmnop.0'

sim_start --fixture "$FIXTURE" || exit 1

# set_key KEY VALUE: replaces KEY's line (each key appears once: one service section is kept).
set_key() {
	sed "s|^$1 = .*|$1 = $2|" leavesync.conf >conf.tmp && cat conf.tmp >leavesync.conf && rm conf.tmp
}

# add_key SECTION LINE: appends LINE right after [SECTION].
add_key() {
	sed "/^\[$1\]\$/a $2" leavesync.conf >conf.tmp && cat conf.tmp >leavesync.conf && rm conf.tmp
}

# doctor_conf BACKEND MODE CLIENT_ID SECRET: leavesync.conf with only BACKEND's section, for the
# app CLIENT_ID, its secret in the environment, and alice as the test mailbox.
doctor_conf() {
	write_config "$1" "$2" &&
	awk -v keep="[$1]" '/^\[/ { skip = ($0 == "[ews]" || $0 == "[graph]") && $0 != keep } !skip' \
		leavesync.conf >conf.tmp && cat conf.tmp >leavesync.conf && rm conf.tmp &&
	set_key client_id "$3" &&
	add_key sync "test_mailbox = alice@contoso.com" &&
	LEAVESYNC_EWS_CLIENT_SECRET=$4 &&
	LEAVESYNC_GRAPH_CLIENT_SECRET=$4 &&
	export LEAVESYNC_EWS_CLIENT_SECRET LEAVESYNC_GRAPH_CLIENT_SECRET
}

# all_passed FILE: every check line is ✓ (no ✗, no warning).
all_passed() {
	test_grep "^✓ " "$1" &&
	test_grep_not "^✗ " "$1" &&
	test_grep_not "^! " "$1" &&
	test_grep "0 failed, 0 warnings" "$1"
}

# expect_fail FILE NAME CAUSE FIX: a ✗ line for check NAME whose cause matches CAUSE, followed by
# a fix line matching FIX (grep basic regular expressions).
expect_fail() {
	test_grep "^✗ $2: .*$3" "$1" &&
	grep -A1 "^✗ $2: " "$1" | sed -n 2p >fixline &&
	test_grep "^    fix: .*$4" fixline
}

# login_device MAILBOX: `leavesync auth login --device-code`, approved through the control API.
login_device() {
	leavesync auth login --mailbox "$1" --device-code >login.out 2>login.err &
	login_pid=$!
	code=
	for _ in $(seq 1 600); do
		code=$(sed -n 's/.*enter the code \([A-Z0-9]*\).*/\1/p' login.err | head -n 1)
		[ -n "$code" ] && break
		sleep 0.1
	done
	if [ -n "$code" ]; then
		sim_ctl POST /_sim/devicecode/approve \
			"{\"user_code\": \"$code\", \"user\": \"$1\"}" >/dev/null
	fi
	wait $login_pid
}

leavesync init >/dev/null 2>&1

# ---- correct setups: all ✓ ----

test_expect_success 'EWS app-only: a correct setup is all ✓ and exits 0' '
	doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
	leavesync doctor >out 2>&1 &&
	all_passed out &&
	test_grep "^✓ \[ews\] token claims (aud https://outlook.office365.com, roles has full_access_as_app)" out &&
	test_grep "^✓ \[ews\] read the calendar of alice@contoso.com" out
'

test_expect_success 'Graph app-only: a correct setup is all ✓ and exits 0' '
	doctor_conf graph application $DEMO_CLIENT "$GOOD_SECRET" &&
	leavesync doctor >out 2>&1 &&
	all_passed out &&
	test_grep "^✓ \[graph\] token claims (aud https://graph.microsoft.com, roles has Calendars.ReadWrite)" out &&
	test_grep "^✓ \[graph\] read the calendar of alice@contoso.com" out
'

test_expect_success 'Graph delegated (public client): before any login doctor says to run auth login' '
	doctor_conf graph delegated $DEMO_CLIENT "" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[graph\] connections" "no mailbox is connected" \
		"leavesync auth login --mailbox EMAIL"
'

test_expect_success 'Graph delegated (public client): after a device-code login it is all ✓' '
	doctor_conf graph delegated $DEMO_CLIENT "" &&
	login_device alice@contoso.com &&
	leavesync doctor >out 2>&1 &&
	all_passed out &&
	test_grep "^✓ \[graph\] connection alice@contoso.com" out &&
	test_grep "^✓ \[graph\] token claims for alice@contoso.com (aud https://graph.microsoft.com, scp has Calendars.ReadWrite)" out &&
	test_grep "^✓ \[graph\] read the calendar of alice@contoso.com" out
'

# login_web MAILBOX URI: `leavesync auth login --redirect-uri URI`; the "browser" (curl) follows the
# printed URL as MAILBOX and the URL it is sent back to is pasted into the login.
login_web() {
	rm -f paste
	mkfifo paste || return 1
	leavesync auth login --mailbox "$1" --redirect-uri "$2" <paste >login.out 2>login.err &
	login_pid=$!
	exec 3>paste
	url=
	for _ in $(seq 1 600); do
		url=$(grep -o "https://[^ ]*/oauth2/v2.0/authorize[^ ]*" login.err | head -n 1)
		[ -n "$url" ] && break
		sleep 0.1
	done
	back=$(curl -sS --cacert "$SIM_CA" -o /dev/null -w "%{redirect_url}" "$url&login_hint=$1")
	echo "$back" >&3
	exec 3>&-
	wait $login_pid
}

test_expect_success 'Graph delegated (Web app): after a Web sign-in with the secret it is all ✓' '
	doctor_conf graph delegated $DEMO_CLIENT "$GOOD_SECRET" &&
	add_key graph "redirect_uri = https://app.contoso.com/callback" &&
	login_web bob@contoso.com https://app.contoso.com/callback &&
	leavesync doctor --mailbox bob@contoso.com >out 2>&1 &&
	all_passed out &&
	test_grep "^✓ \[graph\] redirect_uri registered" out &&
	test_grep "^✓ \[graph\] connection bob@contoso.com" out &&
	test_grep "^✓ \[graph\] read the calendar of bob@contoso.com" out
'

test_expect_success 'a delegated mailbox without a connection is named with the login command' '
	doctor_conf graph delegated $DEMO_CLIENT "" &&
	test_expect_code 1 leavesync doctor --mailbox carol@contoso.com >out 2>&1 &&
	expect_fail out "\[graph\] connections" "carol@contoso.com has no delegated connection" \
		"leavesync auth login --mailbox carol@contoso.com"
'

test_expect_success 'a revoked delegated connection: the token fails, then the connection needs login' '
	doctor_conf graph delegated $DEMO_CLIENT "" &&
	sim_ctl POST /_sim/refresh/revoke "{\"user\": \"alice@contoso.com\"}" >/dev/null &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[graph\] token for alice@contoso.com" "AADSTS50173" \
		"leavesync auth login --mailbox" &&
	test_expect_code 1 leavesync doctor >out2 2>&1 &&
	expect_fail out2 "\[graph\] connection alice@contoso.com" "needs a new sign-in" \
		"leavesync auth login --mailbox alice@contoso.com" &&
	login_device alice@contoso.com &&
	leavesync doctor >out3 2>&1 &&
	all_passed out3
'

test_expect_success 'a secret expiring within 30 days is a warning, exit 0' '
	doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
	soon=$(date -u -d "+10 days" +%Y-%m-%d) &&
	add_key ews "client_secret_expires = $soon" &&
	leavesync doctor >out 2>&1 &&
	test_grep "^! \[ews\] client secret expiry: the client secret expires on $soon, in [0-9]* days" out &&
	test_grep "^    fix: add a new client secret" out &&
	test_grep_not "^✗ " out
'

# ---- each misconfiguration of issue 7 ----

test_expect_success 'the secret ID pasted instead of its Value' '
	doctor_conf ews application $DEMO_CLIENT "$SECRET_ID" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] client secret" "looks like the secret.s ID, not its Value" \
		"copy the Value column of the secret .*Certificates & secrets > Client secrets, not the Secret ID" &&
	test_grep_not "\[ews\] token" out
'

test_expect_success 'an expired secret: AADSTS7000222 and the expiry date' '
	doctor_conf ews application $EXPIRED_APP "$EXPIRED_SECRET" &&
	add_key ews "client_secret_expires = 2021-06-30" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] token" "AADSTS7000222 (InvalidClientSecretExpiredKeys): the app.s client secret has expired" \
		"add a new secret (or a certificate) in .*Certificates & secrets" &&
	expect_fail out "\[ews\] client secret expiry" "expired on 2021-06-30" "add a new client secret"
'

test_expect_success 'a typo in the tenant ID: AADSTS90002 from the tenant discovery' '
	doctor_conf graph application $DEMO_CLIENT "$GOOD_SECRET" &&
	set_key tenant_id 11111111-2222-3333-4444-555555555556 &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[graph\] authority and tenant" "AADSTS90002 (InvalidTenantName): the tenant was not found" \
		"compare tenant_id = 11111111-2222-3333-4444-555555555556 character by character with the Directory (tenant) ID" &&
	test_grep_not "\[graph\] token" out
'

test_expect_success 'the tenant given as an authority URL' '
	doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
	set_key tenant_id "https://login.microsoftonline.com/$DEMO_TENANT/oauth2/v2.0/token" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] tenant_id" "is a URL or has a path, not a tenant" \
		"set tenant_id to the bare Directory (tenant) ID" &&
	test_grep_not "authority and tenant" out
'

test_expect_success 'an authority with a path' '
	doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
	set_key authority "$SIM_URL/$DEMO_TENANT" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] urls" "authority = .* has a path" "set authority to the login host only"
'

test_expect_success 'a redirect URI that differs in case: AADSTS50011' '
	doctor_conf graph delegated $DEMO_CLIENT "$GOOD_SECRET" &&
	add_key graph "redirect_uri = https://app.contoso.com/Callback" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[graph\] redirect_uri registered" \
		"https://app.contoso.com/Callback is not registered for the app (AADSTS50011: redirect URIs must match exactly, including case" \
		"register exactly this URI in .*Authentication > Add a platform > Web"
'

test_expect_success 'public client flows off: device-code login says to allow them (AADSTS7000218)' '
	doctor_conf graph delegated $NOPUBLIC_APP "" &&
	test_must_fail login_device bob@contoso.com &&
	test_grep "AADSTS7000218" login.err &&
	test_grep "Allow public client flows" login.err
'

test_expect_success 'no admin consent: the app-only token has no roles (EWS and Graph)' '
	doctor_conf ews application $NOCONSENT_APP "$NOCONSENT_SECRET" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] token claims" \
		"no roles claim: the application permission full_access_as_app was added but admin consent was not granted" \
		"Office 365 Exchange Online > Application permissions, add full_access_as_app .*Grant admin consent" &&
	doctor_conf graph application $NOCONSENT_APP "$NOCONSENT_SECRET" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[graph\] token claims" "no roles claim: the application permission Calendars.ReadWrite" \
		"Microsoft Graph > Application permissions, add Calendars.ReadWrite .*Grant admin consent"
'

test_expect_success 'a delegated permission where an application permission is needed' '
	doctor_conf graph application $DELEGATED_ONLY_APP "$DELEGATED_ONLY_SECRET" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[graph\] token claims" \
		"or a delegated permission was added where an application permission is needed" \
		"Application permissions, add Calendars.ReadWrite (not under Delegated permissions)"
'

test_expect_success 'full_access_as_app missing (only the Graph permission granted) for EWS' '
	doctor_conf ews application $GRAPH_ONLY_APP "$GRAPH_ONLY_SECRET" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] token claims" "full_access_as_app" \
		"Office 365 Exchange Online > Application permissions, add full_access_as_app" &&
	test_grep_not "read the calendar" out
'

test_expect_success 'a mailbox outside the app.s scope (RBAC for Applications), EWS and Graph' '
	doctor_conf ews application $SCOPED_APP "$SCOPED_SECRET" &&
	leavesync doctor >out 2>&1 &&
	test_grep "^✓ \[ews\] read the calendar of alice@contoso.com" out &&
	test_expect_code 1 leavesync doctor --mailbox bob@contoso.com >out 2>&1 &&
	expect_fail out "\[ews\] read the calendar of bob@contoso.com" \
		"outside the app.s RBAC for Applications scope .*ErrorImpersonateUserDenied" \
		"Test-ServicePrincipalAuthorization -Identity $SCOPED_APP -Resource bob@contoso.com" &&
	doctor_conf graph application $SCOPED_APP "$SCOPED_SECRET" &&
	test_expect_code 1 leavesync doctor --mailbox bob@contoso.com >out 2>&1 &&
	expect_fail out "\[graph\] read the calendar of bob@contoso.com" \
		"outside the app.s RBAC for Applications scope .*ErrorAccessDenied, HTTP 403" \
		"add bob@contoso.com to the management scope"
'

test_expect_success 'EWS disabled for the app in Exchange Online (HTTP 403)' '
	doctor_conf ews application $NOEWS_APP "$NOEWS_SECRET" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] read the calendar of alice@contoso.com" \
		"refuses EWS to this app: EWS is disabled for the tenant or the app is not in EwsAllowedAppIDs" \
		"Set-OrganizationConfig -EWSEnabled \$true -EwsAllowedAppIDs \"$NOEWS_APP\""
'

test_expect_success 'a mailbox that does not exist, and a user without a mailbox' '
	doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
	test_expect_code 1 leavesync doctor --mailbox nobody@contoso.com >out 2>&1 &&
	expect_fail out "\[ews\] read the calendar of nobody@contoso.com" \
		"nobody@contoso.com has no mailbox in this tenant (server: ErrorNonExistentMailbox" \
		"use the mailbox.s primary SMTP address" &&
	doctor_conf graph application $DEMO_CLIENT "$GOOD_SECRET" &&
	test_expect_code 1 leavesync doctor --mailbox nomail@contoso.com >out 2>&1 &&
	expect_fail out "\[graph\] read the calendar of nomail@contoso.com" \
		"nomail@contoso.com has no mailbox in this tenant (server: MailboxNotEnabledForRESTAPI" \
		"use the mailbox.s primary SMTP address"
'

# ---- local checks, transport failures, usage ----

test_expect_success 'a config file readable by others that holds the secret' '
	doctor_conf ews application $DEMO_CLIENT "" &&
	unset LEAVESYNC_EWS_CLIENT_SECRET &&
	add_key ews "client_secret = $GOOD_SECRET" &&
	chmod 644 leavesync.conf &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "config file permissions" "readable by others (mode 0644) and holds secrets" \
		"chmod 600 .*leavesync.conf" &&
	chmod 600 leavesync.conf &&
	leavesync doctor >out 2>&1 &&
	all_passed out
'

test_expect_success 'a missing secret for app-only access' '
	doctor_conf ews application $DEMO_CLIENT "" &&
	unset LEAVESYNC_EWS_CLIENT_SECRET &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] client secret" "EWS always uses the client credentials grant" \
		"copy its Value into a file readable only by leavesync and set client_secret_file"
'

test_expect_success 'a client_id that is not a GUID' '
	doctor_conf graph application "LeaveSync" "$GOOD_SECRET" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[graph\] client_id" "is not a GUID" "Application (client) ID"
'

test_expect_success 'a certificate: its key must match, and an unregistered one is AADSTS700027' '
	openssl req -x509 -newkey rsa:2048 -nodes -days 10 -subj "/CN=leavesync doctor" \
		-keyout app.key -out app.pem >/dev/null 2>&1 &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 10 -subj "/CN=other" \
		-keyout other.key -out other.pem >/dev/null 2>&1 &&
	chmod 600 app.key other.key &&
	doctor_conf ews application $DEMO_CLIENT "" &&
	unset LEAVESYNC_EWS_CLIENT_SECRET &&
	add_key ews "cert_file = $TRASH/app.pem" &&
	add_key ews "key_file = $TRASH/other.key" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] certificate" "other.key is not the private key of the certificate" \
		"set key_file to the key the certificate was made with" &&
	set_key key_file "$TRASH/app.key" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	test_grep "^✓ \[ews\] certificate" out &&
	expect_fail out "\[ews\] token" "AADSTS700027" "upload the certificate" &&
	test_grep "^! \[ews\] certificate expiry: the certificate expires on [0-9-]*, in [0-9]* days" out
'

test_expect_success 'TLS: a certificate not trusted names [tls] ca_file' '
	doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
	grep -v "^ca_file" leavesync.conf >conf.tmp && cat conf.tmp >leavesync.conf &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] authority and tenant" "TLS failed: certificate not trusted" "ca_file"
'

test_expect_success 'an unreachable host names the connection failure' '
	doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
	set_key authority "https://127.0.0.1:1" &&
	test_expect_code 1 leavesync doctor >out 2>&1 &&
	expect_fail out "\[ews\] authority and tenant" "could not connect" "firewall"
'

test_expect_success '--json: stable shape, ok false and the failed check with cause and fix' '
	doctor_conf ews application $NOEWS_APP "$NOEWS_SECRET" &&
	test_expect_code 1 leavesync doctor --json >out.json 2>err &&
	jq -e ".ok == false" out.json &&
	jq -e "[.checks[] | keys] | all(. == [\"cause\", \"fix\", \"name\", \"status\", \"title\"])" out.json &&
	jq -e ".checks[] | select(.status == \"fail\") | select(.name == \"ews.read_calendar\" and .title == \"[ews] read the calendar of alice@contoso.com\") | (.cause | test(\"EwsAllowedAppIDs\")) and (.fix | test(\"Set-OrganizationConfig\"))" out.json &&
	doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
	leavesync doctor --json >ok.json &&
	jq -e ".ok == true and all(.checks[]; .status == \"ok\" and .cause == null)" ok.json
'

test_expect_success 'bad usage and an unreadable config exit 2' '
	test_expect_code 2 leavesync doctor --bogus 2>err &&
	test_grep "usage: leavesync doctor" err &&
	test_expect_code 2 leavesync doctor extra 2>err &&
	test_expect_code 2 leavesync -c "$TRASH/missing.conf" doctor 2>err &&
	test_grep "no such config file" err &&
	test_expect_code 2 leavesync -c "$TRASH/missing.conf" doctor --json >out.json 2>err &&
	jq -e ".ok == false and .checks[0].status == \"fail\"" out.json
'

test_expect_success 'docs/setup.md carries the AADSTS table exactly as doctor --list-codes prints it' '
	leavesync doctor --list-codes >codes &&
	test_grep "^| 7000215 | InvalidClientSecret | " codes &&
	sed -n "/^<!-- BEGIN AADSTS/,/^<!-- END AADSTS/p" "$SRC_DIR/docs/setup.md" | sed "1d;\$d" >doc-codes &&
	test_cmp codes doc-codes
'

# ---- secrets and tokens never appear ----

# no_secret_in FILE...: neither the known secrets, a refresh token of the store, nor a JWT.
no_secret_in() {
	for f in "$@"; do
		for s in "$GOOD_SECRET" "$NOEWS_SECRET" "$SCOPED_SECRET" "$EXPIRED_SECRET" eyJ; do
			if grep -F -q -e "$s" "$f"; then
				echo "a secret or token appears in $f:"
				grep -F -n -e "$s" "$f" | sed "s/$s/<SECRET>/g"
				return 1
			fi
		done
		if [ -s refresh_tokens ] && grep -F -q -f refresh_tokens "$f"; then
			echo "a refresh token appears in $f"
			return 1
		fi
	done
}

test_expect_success 'no secret or token in any output mode, passing or failing' '
	sqlite3 leavesync-secrets.db "SELECT refresh_token FROM token" >refresh_tokens 2>/dev/null ||
		: >refresh_tokens &&
	for mode in "" --json; do
		doctor_conf ews application $DEMO_CLIENT "$GOOD_SECRET" &&
		leavesync doctor $mode >s1.out 2>s1.err &&
		add_key ews "client_secret = $GOOD_SECRET" && unset LEAVESYNC_EWS_CLIENT_SECRET &&
		leavesync doctor $mode >s2.out 2>s2.err &&
		doctor_conf ews application $NOEWS_APP "$NOEWS_SECRET" &&
		test_expect_code 1 leavesync doctor $mode >s3.out 2>s3.err &&
		doctor_conf ews application $SCOPED_APP "$SCOPED_SECRET" &&
		test_expect_code 1 leavesync doctor $mode --mailbox bob@contoso.com >s4.out 2>s4.err &&
		doctor_conf graph application $EXPIRED_APP "$EXPIRED_SECRET" &&
		test_expect_code 1 leavesync doctor $mode >s5.out 2>s5.err &&
		doctor_conf graph application $DEMO_CLIENT "$GOOD_SECRET" &&
		set_key tenant_id 11111111-2222-3333-4444-555555555556 &&
		test_expect_code 1 leavesync doctor $mode >s6.out 2>s6.err &&
		doctor_conf graph delegated $DEMO_CLIENT "$GOOD_SECRET" &&
		leavesync doctor $mode >s7.out 2>s7.err &&
		no_secret_in s1.out s1.err s2.out s2.err s3.out s3.err s4.out s4.err s5.out s5.err \
			s6.out s6.err s7.out s7.err || return 1
	done &&
	jq -e ".checks[] | select(.name == \"ews.client_secret\" and (.title | test(\"client secret .from config line\")))" s2.out
'

test_done
