#!/bin/sh
test_description='Graph transactionId: a fresh value per create attempt, so a recreate after a person deleted the event works'
. "$(dirname "$0")/test-lib.sh"

leave() {
	echo "{\"id\":\"TX-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"$1\",\"end\":\"$1\",\"status\":\"approved\",\"revision\":$2,\"time_zone\":\"Europe/Berlin\"}"
}

tagged() {
	calendar alice@contoso.com | jq -c '[.[] | select(.extended_properties | length > 0)]'
}

test_expect_success 'setup: one leave written through Graph' '
	sim_start && write_config graph && leavesync init >/dev/null &&
	leave 2027-06-07 1 | leavesync push - >/dev/null &&
	leavesync sync >out && test_grep "1 created" out &&
	tagged >events && jq -e "length == 1 and (.[0].transaction_id | length == 36)" events &&
	key=$(sqlite3 leavesync.db "select sync_key from target") &&
	test "$(jq -r ".[0].transaction_id" events)" != "$key"
'

# With the sync key as transactionId for ever (the old way) this recreate would repeat the deleted
# event's value: Graph refuses that with ErrorDuplicateTransactionId, and the leave would fail.
test_expect_success 'a person deletes the event, HR moves the leave: the recreate goes through' '
	old=$(tagged | jq -r ".[0].transaction_id") &&
	id=$(tagged | jq -r ".[0].ews_id") &&
	sim_ctl DELETE "/_sim/mailboxes/alice@contoso.com/items/$id" >/dev/null &&
	leave 2027-06-08 2 | leavesync push - >/dev/null &&
	leavesync sync >out 2>err && cat out err &&
	tagged >events && jq -e "length == 1" events &&
	test "$(jq -r ".[0].start" events)" = 2027-06-07T22:00:00Z &&
	test "$(jq -r ".[0].transaction_id" events)" != "$old"
'

test_expect_success 'the simulator refuses a transactionId whose event is gone, as Graph does' '
	old=$(tagged | jq -r ".[0].transaction_id") &&
	id=$(tagged | jq -r ".[0].ews_id") &&
	sim_ctl DELETE "/_sim/mailboxes/alice@contoso.com/items/$id" >/dev/null &&
	token=$(curl -s --cacert "$SIM_CA" -d "grant_type=client_credentials&client_id=$DEMO_CLIENT" \
		--data-urlencode "client_secret=$DEMO_SECRET" -d "scope=https://graph.microsoft.com/.default" \
		"$SIM_URL/$DEMO_TENANT/oauth2/v2.0/token" | jq -r .access_token) &&
	code=$(curl -s -o reuse.json -w "%{http_code}" --cacert "$SIM_CA" -H "Authorization: Bearer $token" \
		-H "Content-Type: application/json" --data-binary "{\"subject\":\"x\",\"transactionId\":\"$old\",\"start\":{\"dateTime\":\"2027-06-08T00:00:00\",\"timeZone\":\"UTC\"},\"end\":{\"dateTime\":\"2027-06-09T00:00:00\",\"timeZone\":\"UTC\"}}" \
		"$SIM_URL/v1.0/users/alice@contoso.com/events") &&
	test "$code" = 400 && jq -e ".error.code == \"ErrorDuplicateTransactionId\"" reuse.json
'

test_done
