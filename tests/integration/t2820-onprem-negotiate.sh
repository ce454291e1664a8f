#!/bin/sh
test_description='Exchange Server: Negotiate (Kerberos, SPNEGO) against a real MIT Kerberos KDC made at test time'
. "$(dirname "$0")/test-lib.sh"

# A realm CONTOSO.COM in the trash directory: Debian's krb5-kdc (krb5kdc, kdb5_util),
# krb5-admin-server (kadmin.local) and krb5-user (kinit, klist). The simulator accepts Kerberos
# with gss_accept_sec_context and the keytab of HTTP/localhost; leavesync and curl sign in with the
# ticket kinit got for svc-leavesync. Nothing here touches the machine's own Kerberos setup.
for tool in krb5kdc kdb5_util kadmin.local kinit; do
	if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
		test_skip 'Negotiate against a KDC' "$tool is not installed (tools/install-deps installs krb5-kdc, krb5-admin-server, krb5-user)"
		test_done
	fi
done
PATH=$PATH:/usr/sbin
KDC_PID=
kdc_stop() {
	if [ -n "$KDC_PID" ]; then
		kill "$KDC_PID" 2>/dev/null
		wait "$KDC_PID" 2>/dev/null
		KDC_PID=
	fi
}
trap 'sim_stop; kdc_stop' EXIT

PASSWORD='Winter-2026!leave sync'
export KRB5_CONFIG="$TRASH/krb5/krb5.conf" KRB5_KDC_PROFILE="$TRASH/krb5/kdc.conf" \
	KRB5CCNAME="FILE:$TRASH/krb5/ccache"

# make_realm PORT: the KDC's configuration and database for CONTOSO.COM.
make_realm() {
	mkdir -p krb5 && : >krb5/kadm5.acl &&
	cat >krb5/krb5.conf <<CONF &&
[libdefaults]
	default_realm = CONTOSO.COM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	udp_preference_limit = 1
[realms]
	CONTOSO.COM = {
		kdc = 127.0.0.1:$1
	}
[domain_realm]
	localhost = CONTOSO.COM
CONF
	cat >krb5/kdc.conf <<CONF &&
[kdcdefaults]
	kdc_ports = $1
	kdc_tcp_ports = $1
[realms]
	CONTOSO.COM = {
		database_name = $TRASH/krb5/principal
		key_stash_file = $TRASH/krb5/stash
		acl_file = $TRASH/krb5/kadm5.acl
	}
[logging]
	kdc = FILE:$TRASH/krb5/kdc.log
CONF
	kdb5_util create -s -r CONTOSO.COM -P "master-$$" >/dev/null &&
	kadmin.local -r CONTOSO.COM -q "addprinc -pw \"$PASSWORD\" svc-leavesync" >/dev/null &&
	kadmin.local -r CONTOSO.COM -q "addprinc -pw \"$PASSWORD\" svc-norole" >/dev/null &&
	kadmin.local -r CONTOSO.COM -q "addprinc -randkey HTTP/localhost" >/dev/null &&
	kadmin.local -r CONTOSO.COM -q "ktadd -k $TRASH/krb5/http.keytab HTTP/localhost" >/dev/null
}

cat >leave.json <<'JSON'
[
 {"id":"K-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2026-12-24","end":"2026-12-31","status":"approved","revision":1,"time_zone":"Europe/Riga"},
 {"id":"K-2","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-01-04","end":"2027-01-04","status":"approved","revision":1,"time_zone":"UTC"},
 {"id":"K-3","mailbox":"carol@contoso.com","kind":"Annual leave","start":"2027-02-01","end":"2027-02-02","status":"approved","revision":1,"time_zone":"UTC"}
]
JSON

test_expect_success 'setup: a KDC on a free port, svc-leavesync with a ticket, the simulator with the HTTP/localhost keytab' '
	port=$($PY -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	make_realm "$port" &&
	{ krb5kdc -n -r CONTOSO.COM >krb5/kdc.out 2>&1 & KDC_PID=$!; } &&
	test_wait_for 60 sh -c "printf \"%s\\n\" \"\$1\" | kinit svc-leavesync@CONTOSO.COM >/dev/null 2>&1" _ "$PASSWORD" &&
	klist | grep -q "krbtgt/CONTOSO.COM@CONTOSO.COM" &&
	KRB5_KTNAME="$TRASH/krb5/http.keytab" sim_start --fixture "$SRC_DIR/tests/fixtures/onprem.json"
'

test_expect_success 'curl --negotiate: a Kerberos ticket signs in, mutual authentication token in the answer' '
	printf "%s" "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\"><soap:Header><t:RequestServerVersion Version=\"Exchange2016\"/><t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>alice@contoso.com</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header><soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id=\"calendar\"/></m:FolderIds></m:GetFolder></soap:Body></soap:Envelope>" >body.xml &&
	code=$(curl -sS --cacert "$SIM_CA" --negotiate -u : -D headers -o out.xml -w "%{http_code}" \
		-H "Content-Type: text/xml; charset=utf-8" --data-binary @body.xml "https://localhost:$SIM_PORT/EWS/Exchange.asmx") &&
	test "$code" = 200 && test_grep "NoError" out.xml &&
	test_grep "^WWW-Authenticate: Negotiate [A-Za-z0-9+/]" headers &&
	test "$(counter onprem.negotiate.signed_in)" = 1
'

test_expect_success 'leavesync with auth = negotiate: sync and reconcile, three mailboxes, no password anywhere' '
	cat >leavesync.conf <<CONF &&
[store]
path = $TRASH/leavesync.db

[sync]
backend = ews

[tls]
ca_file = $SIM_CA

[ews]
auth = negotiate
url = https://localhost:$SIM_PORT/EWS/Exchange.asmx
CONF
	chmod 600 leavesync.conf &&
	leavesync init >/dev/null && leavesync push leave.json >/dev/null &&
	leavesync sync >out 2>err || { cat out err; false; } ;
	test_grep "3 created" out &&
	test "$(calendar alice@contoso.com | jq length)" = 1 &&
	test "$(counter onprem.ntlm.challenges)" = 0 &&
	test "$(counter onprem.negotiate.signed_in)" -gt 1 &&
	leavesync reconcile --json >reconcile.json &&
	jq -e "[.counts[]] | add == 0" reconcile.json >/dev/null &&
	leavesync doctor --mailbox bob@contoso.com >out 2>&1 && test_grep "✓ \[ews\] read the calendar of bob" out
'

test_expect_success 'no ticket: the items wait, doctor says to check klist and kinit' '
	echo "{\"id\":\"K-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2026-12-24\",\"end\":\"2027-01-02\",\"status\":\"approved\",\"revision\":2,\"time_zone\":\"Europe/Riga\"}" | leavesync push - >/dev/null &&
	KRB5CCNAME="FILE:$TRASH/krb5/none" test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "1 waiting" out &&
	test_grep "refused the service account.s sign-in" err &&
	KRB5CCNAME="FILE:$TRASH/krb5/none" test_expect_code 1 leavesync doctor --mailbox alice@contoso.com >out 2>&1 &&
	test_grep "klist" out && test_grep "kinit -k -t KEYTAB" out &&
	leavesync sync >out && test_grep "1 updated" out
'

test_expect_success 'a principal without the ApplicationImpersonation role is refused with the fix' '
	KRB5CCNAME="FILE:$TRASH/krb5/norole" sh -c "printf \"%s\\n\" \"\$1\" | kinit svc-norole@CONTOSO.COM >/dev/null" _ "$PASSWORD" &&
	KRB5CCNAME="FILE:$TRASH/krb5/norole" test_expect_code 1 leavesync doctor --mailbox alice@contoso.com >out 2>&1 &&
	test_grep "may not impersonate alice@contoso.com" out &&
	test_grep "New-ManagementRoleAssignment" out
'

test_done
