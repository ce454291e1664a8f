#!/bin/sh
test_description='m365sim faults: limited to one operation, queued in sequence, lost answers, the full dump'
. "$(dirname "$0")/test-lib.sh"

# graph METHOD PATH [BODY]: a Graph request with an app-only token; prints the HTTP status, body in out.json
graph() {
	if [ $# -ge 3 ]; then
		curl -s -o out.json -w '%{http_code}' --cacert "$SIM_CA" -X "$1" -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' --data-binary "$3" "$SIM_URL/v1.0$2"
	else
		curl -s -o out.json -w '%{http_code}' --cacert "$SIM_CA" -X "$1" -H "Authorization: Bearer $TOKEN" \
			"$SIM_URL/v1.0$2"
	fi
}

EVENT='{"subject":"x","start":{"dateTime":"2027-01-04T09:00:00","timeZone":"UTC"},"end":{"dateTime":"2027-01-04T10:00:00","timeZone":"UTC"}}'
BATCH_GET='{"requests":[{"id":"1","method":"GET","url":"/users/alice@contoso.com/events"}]}'
BATCH_BOTH='{"requests":[{"id":"1","method":"GET","url":"/users/alice@contoso.com/events"},
 {"id":"2","method":"POST","url":"/users/alice@contoso.com/events","headers":{"Content-Type":"application/json"},"body":'$EVENT'}]}'

test_expect_success 'setup: an app-only Graph token' '
	sim_start &&
	TOKEN=$(curl -s --cacert "$SIM_CA" -d "grant_type=client_credentials&client_id=$DEMO_CLIENT" \
		--data-urlencode "client_secret=$DEMO_SECRET" -d "scope=https://graph.microsoft.com/.default" \
		"$SIM_URL/$DEMO_TENANT/oauth2/v2.0/token" | jq -r .access_token) &&
	test -n "$TOKEN" && test "$TOKEN" != null
'

test_expect_success 'an unknown operation name is refused, naming the known ones' '
	test_must_fail sim_ctl POST /_sim/faults "{\"kind\":\"drop\",\"op\":\"CreateEvent\"}" >out &&
	test_grep "CreateItem" out && test_grep "POST events" out &&
	test_must_fail sim_ctl POST /_sim/faults "{\"sequence\":[{\"kind\":\"drop\",\"share\":0.5}]}" >out &&
	test_grep "not \\\\\"share\\\\\"" out &&
	sim_ctl GET /_sim/faults | jq -e ".faults | length == 0"
'

test_expect_success 'a fault limited to creates leaves reads alone' '
	sim_ctl POST /_sim/faults "{\"kind\":\"http503\",\"op\":\"POST events\"}" >/dev/null &&
	test "$(graph GET /users/alice@contoso.com/events)" = 200 &&
	test "$(graph POST /users/alice@contoso.com/events "$EVENT")" = 503 &&
	test "$(graph POST /users/alice@contoso.com/events "$EVENT")" = 201
'

test_expect_success 'a sequence fires in order on the matching requests only' '
	sim_ctl POST /_sim/faults "{\"op\":\"GET events\",\"sequence\":[{\"kind\":\"http429\",\"retry_after\":1},{\"kind\":\"http503\",\"next\":2}]}" >ids &&
	jq -e ".ids | length == 2" ids &&
	test "$(graph POST /users/alice@contoso.com/events "$EVENT")" = 201 &&
	test "$(graph GET /users/alice@contoso.com/events)" = 429 &&
	test "$(graph GET /users/alice@contoso.com/events)" = 503 &&
	test "$(graph GET /users/alice@contoso.com/events)" = 503 &&
	test "$(graph GET /users/alice@contoso.com/events)" = 200
'

test_expect_success 'an earlier fault of a queue holds back the later ones, also of another kind' '
	sim_ctl POST /_sim/faults "{\"op\":\"POST events\",\"sequence\":[{\"kind\":\"graph_http429\"},{\"kind\":\"http503\"}]}" >/dev/null &&
	test "$(graph POST /users/alice@contoso.com/events "$EVENT")" = 429 &&
	jq -e ".error.code == \"ApplicationThrottled\"" out.json &&
	test "$(graph POST /users/alice@contoso.com/events "$EVENT")" = 503 &&
	test "$(graph POST /users/alice@contoso.com/events "$EVENT")" = 201
'

test_expect_success 'a transport fault on an operation takes down the $batch that holds it' '
	sim_ctl POST /_sim/faults "{\"kind\":\"http503\",\"op\":\"POST events\"}" >/dev/null &&
	test "$(graph POST /\$batch "$BATCH_GET")" = 200 &&
	test "$(graph POST /\$batch "$BATCH_BOTH")" = 503 &&
	test "$(graph POST /\$batch "$BATCH_BOTH")" = 200
'

test_expect_success 'graph_http429 on an operation hits that request inside the $batch only' '
	sim_ctl POST /_sim/faults "{\"kind\":\"graph_http429\",\"op\":\"POST events\",\"retry_after\":2}" >/dev/null &&
	test "$(graph POST /\$batch "$BATCH_BOTH")" = 200 &&
	jq -e ".responses[] | select(.id == \"1\") | .status == 200" out.json &&
	jq -e ".responses[] | select(.id == \"2\") | .status == 429 and .headers[\"Retry-After\"] == \"2\"" out.json
'

test_expect_success 'no_answer closes the connection before a byte of the answer; after_commit applies it first' '
	before=$(sim_ctl GET /_sim/mailboxes/alice@contoso.com | jq ".items | length") &&
	sim_ctl POST /_sim/faults "{\"op\":\"POST events\",\"sequence\":[{\"kind\":\"drop\",\"no_answer\":true},{\"kind\":\"drop\",\"no_answer\":true,\"after_commit\":true}]}" >/dev/null &&
	{ graph POST /users/alice@contoso.com/events "$EVENT"; echo " curl exit $?"; } >r1 &&
	{ graph POST /users/alice@contoso.com/events "$EVENT"; echo " curl exit $?"; } >r2 &&
	test_grep "^000 curl exit 52" r1 && test_grep "^000 curl exit 52" r2 &&
	after=$(sim_ctl GET /_sim/mailboxes/alice@contoso.com | jq ".items | length") &&
	test "$after" = $((before + 1)) &&
	test "$(counter faults.drop.before_commit)" = 1 && test "$(counter faults.drop.after_commit)" = 1
'

test_expect_success 'EWS: a fault limited to FindItem lets CreateItem through' '
	write_config ews && leavesync init >/dev/null &&
	echo "{\"id\":\"F-1\",\"mailbox\":\"bob@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-03-01\",\"end\":\"2027-03-01\",\"status\":\"approved\"}" |
		leavesync push - >/dev/null &&
	sim_ctl POST /_sim/counters/reset >/dev/null &&
	sim_ctl POST /_sim/faults "{\"kind\":\"http503\",\"op\":\"FindItem\",\"next\":3}" >/dev/null &&
	leavesync sync >out && test_grep "1 created" out &&
	test "$(counter ews.CreateItem)" = 1 && test "$(counter faults.http503)" = 0 &&
	sim_ctl GET /_sim/faults | jq -e ".faults[0].op == \"FindItem\" and .faults[0].next == 3"
'

test_expect_success 'the dump holds every mailbox and its items' '
	sim_ctl DELETE /_sim/faults >/dev/null &&
	sim_ctl GET /_sim/dump >dump.json &&
	jq -e "[.mailboxes[].mailbox] | index(\"alice@contoso.com\") and index(\"bob@contoso.com\")" dump.json &&
	jq -e "[.mailboxes[] | select(.mailbox == \"bob@contoso.com\") | .items[]] | length == 1" dump.json &&
	test "$(jq "[.mailboxes[] | select(.mailbox == \"alice@contoso.com\") | .items[]] | length" dump.json)" = \
		"$(sim_ctl GET /_sim/mailboxes/alice@contoso.com | jq ".items | length")"
'

test_done
