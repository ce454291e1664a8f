#!/bin/sh
test_description='Exchange Server: the EWS URL by SOAP Autodiscover (candidates, SRV, redirects, cache, moves), server versions'
. "$(dirname "$0")/test-lib.sh"

PASSWORD='Winter-2026!leave sync'

# A certificate for the organisation's names: the names are never resolved (no DNS here), every one
# is connected to the simulator by [ews] connect_to, and TLS checks them as in production.
make_names_ca() {
	mkdir -p tls &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=contoso test CA" \
		-keyout tls/ca.key -out tls/ca.pem >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=mail.contoso.com" \
		-keyout tls/server.key -out tls/server.csr >/dev/null 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:contoso.com,DNS:autodiscover.contoso.com,DNS:mail.contoso.com,DNS:webmail.contoso.com,DNS:srv.contoso.com,DNS:fabrikam.com,DNS:autodiscover.fabrikam.com\nbasicConstraints=CA:FALSE\n' >tls/ext.cnf &&
	openssl x509 -req -in tls/server.csr -CA tls/ca.pem -CAkey tls/ca.key -CAcreateserial \
		-days 2 -extfile tls/ext.cnf -out tls/server.pem >/dev/null 2>&1
}

# ad_config [SRV]: no [ews] url; contoso.com and fabrikam.com themselves refuse connections
# (port 1), every other name is the simulator (libcurl's CONNECT_TO: an empty host matches any);
# SRV answers "SRV" (default srv.contoso.com:443).
ad_config() {
	printf '%s\n' "$PASSWORD" >svc.password && chmod 600 svc.password &&
	sim="127.0.0.1:$SIM_PORT" &&
	cat >leavesync.conf <<CONF &&
[store]
path = $TRASH/leavesync.db

[sync]
backend = ews

[tls]
ca_file = $SIM_CA

[ews]
auth = ntlm
username = CONTOSO\\svc-leavesync
password_file = $TRASH/svc.password
connect_to = contoso.com::127.0.0.1:1, fabrikam.com::127.0.0.1:1, ::$sim
autodiscover_srv_override = ${1:-srv.contoso.com:443}
CONF
	chmod 600 leavesync.conf
}

# leave ID MAILBOX: one approved leave record.
leave() {
	printf '{"id":"%s","mailbox":"%s","kind":"Annual leave","start":"2027-01-%02d","end":"2027-01-%02d","status":"approved","revision":1,"time_zone":"UTC"}\n' \
		"$1" "$2" "$3" "$3"
}

fresh_store() {
	rm -f leavesync.db leavesync.db-* leavesync-secrets.db* && leavesync init >/dev/null
}

test_expect_success 'setup: Exchange Server 2016 answering Autodiscover as autodiscover.contoso.com' '
	make_names_ca &&
	sim_start --fixture "$SRC_DIR/tests/fixtures/onprem.json" --record-ews "$TRASH/requests" &&
	mkdir -p requests && ad_config && fresh_store &&
	{ leave AD-1 alice@contoso.com 4; leave AD-2 bob@contoso.com 5; leave AD-3 carol@contoso.com 6; } >leave.ndjson &&
	leavesync push --format ndjson leave.ndjson
'

test_expect_success 'without [ews] url: contoso.com refused, autodiscover.contoso.com answers, InternalEwsUrl used' '
	leavesync sync >out 2>err || { cat out err; false; } &&
	test_grep "3 created" out &&
	test "$(counter autodiscover.NoError)" -ge 1 &&
	test "$(counter autodiscover.not_here)" = 0 &&
	test "$(sqlite3 leavesync.db "select domain || \" \" || ews_url || \" \" || server_build from autodiscover")" = \
		"contoso.com https://mail.contoso.com/EWS/Exchange.asmx 15.1.2507.6" &&
	test_grep_not "Exchange Online" err &&
	test "$(calendar alice@contoso.com | jq length)" = 1
'

test_expect_success 'the answer is kept in the store: the next run asks Autodiscover nothing' '
	before=$(counter autodiscover) &&
	leave AD-4 alice@contoso.com 11 | leavesync push --format ndjson - >/dev/null &&
	leavesync sync >out && test_grep "1 created" out &&
	test "$(counter autodiscover)" = "$before"
'

test_expect_success 'the SRV record is the third candidate' '
	fresh_store && leavesync push --format ndjson leave.ndjson >/dev/null &&
	sim_ctl POST /_sim/onprem/config "{\"autodiscover_hosts\": [\"srv.contoso.com\"]}" >/dev/null &&
	not_here=$(counter autodiscover.not_here) &&
	leavesync sync >out 2>err || { cat out err; false; } ;
	test_grep "3 created\|0 created" out &&
	test "$(sqlite3 leavesync.db "select ews_url from autodiscover where domain = \"contoso.com\"")" = \
		"https://mail.contoso.com/EWS/Exchange.asmx" &&
	test "$(counter autodiscover.not_here)" -gt "$not_here"
'

test_expect_success 'no candidate answers: the items wait, the message says what to publish or set' '
	fresh_store && leavesync push --format ndjson leave.ndjson >/dev/null &&
	sim_ctl POST /_sim/onprem/config "{\"autodiscover_hosts\": [\"nowhere.contoso.com\"]}" >/dev/null &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "Autodiscover found no EWS URL for alice@contoso.com" err &&
	test_grep "set \[ews\] url, or publish https://autodiscover.contoso.com/autodiscover/autodiscover.svc" err &&
	sim_ctl POST /_sim/onprem/config "{\"autodiscover_hosts\": [\"autodiscover.contoso.com\", \"autodiscover.fabrikam.com\"]}" >/dev/null
'

test_expect_success 'RedirectAddress to another domain is followed over https, kept for that mailbox only' '
	fresh_store && leave AD-5 erin@contoso.com 7 | leavesync push --format ndjson - >/dev/null &&
	leavesync sync >out 2>err || { cat out err; false; } ;
	test_grep "1 created" out &&
	test "$(counter autodiscover.RedirectAddress)" -ge 1 &&
	test "$(sqlite3 leavesync.db "select domain from autodiscover")" = "erin@contoso.com" &&
	test "$(calendar erin@contoso.com | jq length)" = 1
'

test_expect_success 'RedirectUrl to plain http is not followed; a redirect circle is stopped' '
	fresh_store &&
	{ leave AD-6 frank@contoso.com 8; } | leavesync push --format ndjson - >/dev/null &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "redirected frank@contoso.com to \"http://autodiscover.contoso.com/autodiscover/autodiscover.svc\", which is not an https URL" err &&
	fresh_store && leave AD-7 grace@contoso.com 9 | leavesync push --format ndjson - >/dev/null &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "grace@contoso.com.*a loop\|grace@contoso.com.*circle" err
'

test_expect_success 'InvalidUser: Exchange has no such mailbox' '
	fresh_store && leave AD-8 nobody@contoso.com 10 | leavesync push --format ndjson - >/dev/null &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "Exchange has no mailbox nobody@contoso.com (InvalidUser" err
'

test_expect_success 'ErrorMailboxMoveInProgress: the item waits, and Autodiscover is asked again' '
	fresh_store && leavesync push --format ndjson leave.ndjson >/dev/null &&
	leavesync sync >out && test_grep "3 created" out &&
	sim_ctl POST /_sim/onprem/config "{\"moving\": [\"alice@contoso.com\"]}" >/dev/null &&
	leave AD-9 alice@contoso.com 12 | leavesync push --format ndjson - >/dev/null &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "ErrorMailboxMoveInProgress" err &&
	test "$(sqlite3 leavesync.db "select count(*) from autodiscover")" = 0 &&
	sim_ctl POST /_sim/onprem/config "{\"moving\": []}" >/dev/null &&
	before=$(counter autodiscover.NoError) &&
	leavesync resync --mailbox alice@contoso.com >out 2>err || { cat out err; false; } ;
	test "$(counter autodiscover.NoError)" -gt "$before" &&
	test "$(sqlite3 leavesync.db "select count(*) from autodiscover")" = 1 &&
	test_grep "1 updated" out
'

test_expect_success 'Exchange 2013 SP1: RequestServerVersion Exchange2013_SP1, from the build Autodiscover reported' '
	sim_ctl POST /_sim/onprem/config "{\"build\": \"15.0.1497.2\"}" >/dev/null &&
	fresh_store && leavesync push --format ndjson leave.ndjson >/dev/null &&
	rm -f requests/* && rejected=$(counter ews.rejected_version) &&
	leavesync sync >out 2>err || { cat out err; false; } ;
	test_grep "3 created" out &&
	test "$(counter ews.rejected_version)" = "$rejected" &&
	grep -l "RequestServerVersion Version=\"Exchange2013_SP1\"" requests/* >/dev/null &&
	! grep -l "RequestServerVersion Version=\"Exchange2016\"" requests/* >/dev/null
'

test_expect_success 'an explicit [ews] url to Exchange 2013: refused Exchange2016, sent again as Exchange2013_SP1' '
	fresh_store && leavesync push --format ndjson leave.ndjson >/dev/null &&
	config_set ews url https://mail.contoso.com/EWS/Exchange.asmx &&
	leavesync sync >out 2>err || { cat out err; false; } ;
	test_grep "3 created" out && test_grep_not "duplicate" err
'

test_expect_success 'Exchange 2010 is refused with a clear message, nothing written' '
	sim_ctl POST /_sim/onprem/config "{\"build\": \"14.3.513.0\"}" >/dev/null &&
	fresh_store && leavesync push --format ndjson leave.ndjson >/dev/null &&
	writes=$(write_requests) &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "3 waiting" out &&
	test_grep "Exchange 2010 or older), which leavesync does not support" err &&
	ad_config && fresh_store && leavesync push --format ndjson leave.ndjson >/dev/null &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "is Exchange Server 14.3.513 (Exchange 2010 or older)" err &&
	test "$(write_requests)" = "$writes" &&
	sim_ctl POST /_sim/onprem/config "{\"build\": \"15.1.2507.6\"}" >/dev/null
'

test_expect_success 'exchangelib finds EWS by SOAP Autodiscover and signs in with NTLM' '
	$PY "$TEST_DIR/clients/exchangelib_onprem.py" "autodiscover:$SIM_PORT:autodiscover.contoso.com,webmail.contoso.com" \
		"$SIM_CA" NTLM "CONTOSO\\svc-leavesync" "$PASSWORD" alice@contoso.com
'

test_done
