#!/bin/sh
test_description='Exchange Server (on-premises) through EWS: NTLMv2 and Basic sign-in, ApplicationImpersonation, real clients'
. "$(dirname "$0")/test-lib.sh"

PASSWORD='Winter-2026!leave sync'

# onprem_config AUTH [USER]: leavesync.conf for the on-premises simulator, the password in a file.
onprem_config() {
	printf '%s\n' "$PASSWORD" >svc.password && chmod 600 svc.password &&
	cat >leavesync.conf <<CONF &&
[store]
path = $TRASH/leavesync.db

[sync]
backend = ews

[tls]
ca_file = $SIM_CA

[ews]
auth = $1
username = ${2:-CONTOSO\\svc-leavesync}
password_file = $TRASH/svc.password
url = $SIM_URL/EWS/Exchange.asmx
CONF
	chmod 600 leavesync.conf
}

cat >leave.json <<'JSON'
[
 {"id":"OP-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2026-12-24","end":"2026-12-31","status":"approved","revision":1,"time_zone":"Europe/Riga"},
 {"id":"OP-2","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-01-04","end":"2027-01-04","status":"approved","revision":1,"time_zone":"America/Los_Angeles"},
 {"id":"OP-3","mailbox":"carol@contoso.com","kind":"Annual leave","start":"2027-02-01","end":"2027-02-02","status":"approved","revision":1,"time_zone":"Asia/Kolkata"},
 {"id":"OP-4","mailbox":"dave@contoso.com","kind":"Annual leave","start":"2027-02-08","end":"2027-02-09","status":"approved","revision":1,"time_zone":"UTC"}
]
JSON

# many.json: 60 more leave entries in the three mailboxes the service account may impersonate.
awk 'BEGIN {
	split("alice bob carol", who, " ")
	for (i = 0; i < 60; i++)
		printf "{\"id\":\"MANY-%02d\",\"mailbox\":\"%s@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-04-%02d\",\"end\":\"2027-04-%02d\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}\n", i, who[i % 3 + 1], 1 + i % 28, 1 + i % 28
}' >many.json

# body.xml: one GetFolder impersonating alice, for the raw clients.
cat >body.xml <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header><t:RequestServerVersion Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>alice@contoso.com</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header><soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder></soap:Body></soap:Envelope>
XML

test_expect_success 'setup: the simulator as Exchange Server 2016, NTLM config, store, leave' '
	sim_start --fixture "$SRC_DIR/tests/fixtures/onprem.json" &&
	onprem_config ntlm &&
	leavesync init && leavesync push leave.json
'

test_expect_success 'a bearer token is not how Exchange Server signs in: 401 offering Negotiate, NTLM, Basic' '
	curl -sS --cacert "$SIM_CA" -D headers -o /dev/null -H "Authorization: Bearer abc" \
		-H "Content-Type: text/xml" --data-binary @body.xml "$SIM_URL/EWS/Exchange.asmx" &&
	test_grep "^HTTP/1.1 401" headers &&
	test_grep "^WWW-Authenticate: Negotiate" headers &&
	test_grep "^WWW-Authenticate: NTLM" headers &&
	test_grep "^WWW-Authenticate: Basic realm" headers
'

test_expect_success 'curl --ntlm signs in with the right password only' '
	code=$(curl -sS --cacert "$SIM_CA" --ntlm -u "CONTOSO\\svc-leavesync:$PASSWORD" -o out.xml -w "%{http_code}" \
		-H "Content-Type: text/xml; charset=utf-8" --data-binary @body.xml "$SIM_URL/EWS/Exchange.asmx") &&
	test "$code" = 200 && test_grep "NoError" out.xml &&
	code=$(curl -sS --cacert "$SIM_CA" --ntlm -u "CONTOSO\\svc-leavesync:wrong" -o /dev/null -w "%{http_code}" \
		-H "Content-Type: text/xml; charset=utf-8" --data-binary @body.xml "$SIM_URL/EWS/Exchange.asmx") &&
	test "$code" = 401
'

test_expect_success 'the simulator refuses LM and NTLMv1 answers (python3-ntlm-auth levels 0-2), takes NTLMv2 (3)' '
	before=$(counter onprem.ntlm.v1_refused) &&
	for level in 0 1 2; do
		test "$($PY "$TEST_DIR/clients/ntlm_raw.py" "$SIM_URL/EWS/Exchange.asmx" "$SIM_CA" CONTOSO svc-leavesync "$PASSWORD" $level body.xml)" = 401 || return 1
	done &&
	test "$(counter onprem.ntlm.v1_refused)" = $((before + 3)) &&
	test "$($PY "$TEST_DIR/clients/ntlm_raw.py" "$SIM_URL/EWS/Exchange.asmx" "$SIM_CA" CONTOSO svc-leavesync "$PASSWORD" 3 body.xml)" = 200
'

test_expect_success 'exchangelib signs in with NTLM and with Basic, impersonating alice' '
	$PY "$TEST_DIR/clients/exchangelib_onprem.py" "$SIM_URL/EWS/Exchange.asmx" "$SIM_CA" NTLM \
		"CONTOSO\\svc-leavesync" "$PASSWORD" alice@contoso.com &&
	$PY "$TEST_DIR/clients/exchangelib_onprem.py" "$SIM_URL/EWS/Exchange.asmx" "$SIM_CA" basic \
		"svc-leavesync@contoso.com" "$PASSWORD" alice@contoso.com
'

test_expect_success 'exchangelib: an account without ApplicationImpersonation, and a locked account, are refused' '
	$PY "$TEST_DIR/clients/exchangelib_onprem.py" "$SIM_URL/EWS/Exchange.asmx" "$SIM_CA" NTLM \
		"CONTOSO\\svc-norole" "No-role-2026!" alice@contoso.com denied &&
	$PY "$TEST_DIR/clients/exchangelib_onprem.py" "$SIM_URL/EWS/Exchange.asmx" "$SIM_CA" NTLM \
		"CONTOSO\\svc-locked" "Locked-2026!" alice@contoso.com unauthorized
'

test_expect_success 'NTLM sync: three mailboxes impersonated, the one outside the scope fails clearly' '
	challenges=$(counter onprem.ntlm.challenges) &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "3 created" out && test_grep "1 failed" out &&
	test "$(calendar alice@contoso.com | jq length)" = 1 &&
	test "$(calendar bob@contoso.com | jq length)" = 1 &&
	test "$(calendar carol@contoso.com | jq length)" = 1 &&
	test "$(calendar dave@contoso.com | jq length)" = 0 &&
	test_grep "dave@contoso.com.*ErrorImpersonateUserDenied" err &&
	test_grep "ApplicationImpersonation" err &&
	test_grep "New-ManagementRoleAssignment" err &&
	test_grep_not "$PASSWORD" err &&
	echo "NTLM handshakes: $(( $(counter onprem.ntlm.challenges) - challenges ))"
'

test_expect_success 'NTLM authenticates a connection: the workers pay one handshake each, not one per request' '
	leavesync push many.json >/dev/null &&
	config_set ews batch_size 1 &&
	ews_before=$(counter ews) && ch_before=$(counter onprem.ntlm.challenges) &&
	test_expect_code 1 leavesync sync >out 2>err && test_grep "60 created" out &&
	requests=$(( $(counter ews) - ews_before )) && handshakes=$(( $(counter onprem.ntlm.challenges) - ch_before )) &&
	echo "sync of 60 leave entries (batch_size 1, concurrency 4): $requests EWS requests, $handshakes NTLM handshakes" >handshakes.txt &&
	test "$handshakes" -ge 1 && test "$handshakes" -le 8 && test "$requests" -ge 60 &&
	config_set ews batch_size 50
'
[ -f handshakes.txt ] && sed 's/^/# /' handshakes.txt

# reconcile_clean: reconcile.json finds nothing but dave's mailbox, which the account may not open.
reconcile_clean() {
	jq -e "(.counts | del(.unlisted) | [.[]] | add) == 0 and .counts.unlisted == 1 and
		([.findings[] | select(.kind == \"unlisted\") | .mailbox] == [\"dave@contoso.com\"])" reconcile.json >/dev/null ||
	{ cat reconcile.json; false; }
}

test_expect_success 'NTLM reconcile finds no drift in the three mailboxes (dave: not listed, refused)' '
	test_expect_code 1 leavesync reconcile --json >reconcile.json 2>err &&
	reconcile_clean
'

test_expect_success 'Basic over https: sync and reconcile, the password sent per request' '
	onprem_config basic "svc-leavesync@contoso.com" &&
	echo "{\"id\":\"OP-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2026-12-24\",\"end\":\"2027-01-02\",\"status\":\"approved\",\"revision\":2,\"time_zone\":\"Europe/Riga\"}" | leavesync push - &&
	basic_before=$(counter onprem.basic.signed_in) &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "1 updated" out &&
	test "$(counter onprem.basic.signed_in)" -gt "$basic_before" &&
	test_expect_code 1 leavesync reconcile --json >reconcile.json 2>err &&
	reconcile_clean
'

test_expect_success 'a service account without the role: every mailbox fails with the fix' '
	onprem_config ntlm "CONTOSO\\svc-norole" && printf "No-role-2026!\n" >svc.password &&
	leavesync resync --mailbox bob@contoso.com >out 2>err;
	test_grep "ErrorImpersonateUserDenied" err && test_grep "New-ManagementRoleAssignment" err
'

test_expect_success 'a wrong password: the items wait, the message names the sign-in, never the password' '
	onprem_config ntlm && printf "not-the-password\n" >svc.password &&
	leavesync resync --mailbox alice@contoso.com >out 2>err;
	test_grep "waiting" out &&
	test_grep "refused the service account.s sign-in" err &&
	test_grep "WWW-Authenticate: Negotiate, NTLM" err &&
	test_grep_not "not-the-password" err
'

test_expect_success 'a server that offers only NTLMv1 gets no answer to its challenge' '
	onprem_config ntlm &&
	sim_ctl POST /_sim/onprem/config "{\"legacy_ntlm\": true}" &&
	v1=$(counter onprem.ntlm.v1_refused) && ok=$(counter onprem.ntlm.signed_in) &&
	leavesync resync --mailbox alice@contoso.com >out 2>err;
	test_grep "never sends LM or NTLMv1" err &&
	test "$(counter onprem.ntlm.v1_refused)" = "$v1" && test "$(counter onprem.ntlm.signed_in)" = "$ok" &&
	sim_ctl POST /_sim/onprem/config "{\"legacy_ntlm\": false}"
'

test_expect_success 'doctor: the impersonated read works for alice' '
	onprem_config ntlm &&
	leavesync doctor --mailbox alice@contoso.com >out 2>&1 &&
	test_grep "✓ \[ews\] read the calendar of alice@contoso.com" out
'

test_expect_success 'doctor: outside the role scope, it prints the role and scope commands' '
	test_expect_code 1 leavesync doctor --mailbox dave@contoso.com >out 2>&1 &&
	test_grep "may not impersonate dave@contoso.com" out &&
	test_grep "New-ManagementRoleAssignment -Name \"leavesync-impersonation\" -Role ApplicationImpersonation -User \"svc-leavesync\"" out &&
	test_grep "New-ManagementScope -Name \"leavesync-mailboxes\" -RecipientRestrictionFilter" out &&
	test_grep "CustomRecipientWriteScope \"leavesync-mailboxes\"" out
'

test_expect_success 'doctor: an unknown mailbox, a wrong password, a locked account, an NTLMv1-only server' '
	test_expect_code 1 leavesync doctor --mailbox nobody@contoso.com >out 2>&1 &&
	test_grep "no mailbox nobody@contoso.com (ErrorNonExistentMailbox)" out &&
	printf "wrong\n" >svc.password &&
	test_expect_code 1 leavesync doctor --mailbox alice@contoso.com >out 2>&1 &&
	test_grep "refused the sign-in of CONTOSO.svc-leavesync with NTLM" out &&
	test_grep "Get-ADUser svc-leavesync -Properties LockedOut" out &&
	onprem_config ntlm "CONTOSO\\svc-locked" && printf "Locked-2026!\n" >svc.password &&
	test_expect_code 1 leavesync doctor --mailbox alice@contoso.com >out 2>&1 &&
	test_grep "Unlock-ADAccount svc-locked" out &&
	onprem_config ntlm && sim_ctl POST /_sim/onprem/config "{\"legacy_ntlm\": true}" &&
	test_expect_code 1 leavesync doctor --mailbox alice@contoso.com >out 2>&1 &&
	sim_ctl POST /_sim/onprem/config "{\"legacy_ntlm\": false}" &&
	test_grep "Send NTLMv2 response only" out
'

test_expect_success 'config: auth needs a username and a password; Basic needs https' '
	onprem_config ntlm && sed -i "/^username/d" leavesync.conf &&
	test_expect_code 2 leavesync sync 2>err && test_grep "needs username" err &&
	onprem_config ntlm && sed -i "/^password_file/d" leavesync.conf &&
	test_expect_code 2 leavesync sync 2>err && test_grep "needs the service account.s password" err &&
	onprem_config basic && sed -i "s#^url = https://#url = http://#" leavesync.conf &&
	test_expect_code 2 leavesync sync 2>err && test_grep "auth = basic.*https" err &&
	onprem_config kerberos && test_expect_code 2 leavesync sync 2>err &&
	test_grep "expected oauth.*ntlm, negotiate or basic" err
'

test_expect_success 'config: a password in the file itself warns on every load, and needs mode 600' '
	onprem_config ntlm && sed -i "s#^password_file = .*#password = $PASSWORD#" leavesync.conf &&
	leavesync status >out 2>err && test_grep "password is written in the config file" err &&
	chmod 640 leavesync.conf &&
	test_expect_code 2 leavesync status 2>err && test_grep "needs mode 600" err &&
	test_grep_not "$PASSWORD" err &&
	chmod 600 leavesync.conf &&
	LEAVESYNC_EWS_PASSWORD=$PASSWORD leavesync status >out 2>err
'

test_done
