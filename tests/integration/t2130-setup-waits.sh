#!/bin/sh
test_description='issue 12, part 3: setup failures (secret, token endpoint, TLS trust, CA file, repeated 401) make items wait; the next plain sync after the fix writes them (EWS, Graph)'
. "$(dirname "$0")/test-lib.sh"

# push_three TAG: three new leave entries for alice and bob
push_three() {
	for i in 1 2 3; do
		echo "{\"id\":\"$1-$i\",\"mailbox\":\"$([ $i = 3 ] && echo bob || echo alice)@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-0$i-1$i\",\"end\":\"2027-0$i-1$i\",\"status\":\"approved\",\"time_zone\":\"Europe/Berlin\"}"
	done | leavesync push - >/dev/null
}

# broken_sync TAG: a sync that must exit 1 with the three items waiting, none failed, none written
broken_sync() {
	before=$(write_requests) &&
	test_expect_code 1 leavesync sync >out 2>err &&
	cat out err &&
	test_grep "0 created, 0 updated, 0 deleted, 0 adopted, 0 unchanged, 0 failed, 3 waiting" out &&
	test "$(write_requests)" = "$before" &&
	test "$(sqlite3 leavesync.db "select count(*) from target where leave_id like '$1-%' and state = 'waiting' and dirty")" = 3 &&
	leavesync status --json | jq -e --arg t "$1" "[.problems[] | select(.leave | startswith(\$t)) | select(.state == \"waiting\" and (.reason | length > 0))] | length == 3"
}

# fixed_sync TAG: the next plain sync writes the three
fixed_sync() {
	leavesync sync >out 2>err && cat out &&
	test_grep "3 created" out &&
	test "$(sqlite3 leavesync.db "select count(*) from target where leave_id like '$1-%' and state = 'synced' and remote_id is not null")" = 3 &&
	leavesync status --json | jq -e ".problems | length == 0"
}

# fresh BACKEND: an empty store and calendars, a good config
fresh() {
	rm -f leavesync.db leavesync.db-wal leavesync.db-shm &&
	sim_ctl POST /_sim/reset >/dev/null &&
	write_config "$1" && leavesync init >/dev/null
}

test_expect_success 'setup' '
	sim_start && cp tls/ca.pem good-ca.pem &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
		-keyout other.key -out other.pem >/dev/null 2>&1
'

for backend in ews graph; do
	test_expect_success "$backend: a wrong client secret (AADSTS7000215): items wait, then the fix resumes them" '
		fresh $backend && push_three SECRET &&
		LEAVESYNC_EWS_CLIENT_SECRET=wrong LEAVESYNC_GRAPH_CLIENT_SECRET=wrong &&
		broken_sync SECRET &&
		test_grep "7000215" err &&
		LEAVESYNC_EWS_CLIENT_SECRET=$DEMO_SECRET LEAVESYNC_GRAPH_CLIENT_SECRET=$DEMO_SECRET &&
		fixed_sync SECRET
	'

	test_expect_success "$backend: the token endpoint refuses the app (AADSTS700016, unknown client id): items wait" '
		fresh $backend && push_three CLIENT &&
		config_set $backend client_id 99999999-9999-4999-8999-999999999999 &&
		broken_sync CLIENT &&
		test_grep "700016" err &&
		config_set $backend client_id $DEMO_CLIENT &&
		fixed_sync CLIENT
	'

	test_expect_success "$backend: a CA that does not sign the server (TLS trust failure): items wait" '
		fresh $backend && push_three TRUST &&
		config_set tls ca_file "$TRASH/other.pem" &&
		broken_sync TRUST &&
		grep -qi "certificate not trusted" err &&
		config_set tls ca_file "$TRASH/good-ca.pem" &&
		fixed_sync TRUST
	'

	test_expect_success "$backend: a missing [tls] ca_file: items wait" '
		fresh $backend && push_three CAFILE &&
		config_set tls ca_file "$TRASH/nonexistent.pem" &&
		broken_sync CAFILE &&
		test_grep "ca_file .*nonexistent.pem cannot be read" err &&
		config_set tls ca_file "$TRASH/good-ca.pem" &&
		fixed_sync CAFILE
	'

	test_expect_success "$backend: the service refuses the token twice in a row (401): items wait" '
		fresh $backend && push_three T401 &&
		sim_ctl POST /_sim/faults "{\"kind\":\"token_expired\",\"share\":1}" >/dev/null &&
		broken_sync T401 &&
		test_grep "401" err &&
		sim_ctl DELETE /_sim/faults >/dev/null &&
		fixed_sync T401
	'
done

test_done
