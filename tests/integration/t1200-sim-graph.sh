#!/bin/sh
# m365sim's Microsoft Graph view, driven with curl + jq the way Microsoft's documentation shows it:
# events, calendarView paging, extended-property $filter/$expand, If-Match, transactionId, immutable
# ids, $batch, throttling, delta, validation, permissions (app-only, scoped, delegated, shared).

. "$(dirname "$0")/test-lib.sh"

TENANT=11111111-2222-3333-4444-555555555555
APP=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
SECRET='demo-secret-value~0123456789abcdefghij'
NOROLE_APP=bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee
SCOPED_APP=cccccccc-bbbb-cccc-dddd-eeeeeeeeeeee
PROP='String {3b8a4c1e-9d2f-4e6a-8b7c-5d4e3f2a1b0c} Name LeaveSyncKey'
PROP_GUID=3b8a4c1e-9d2f-4e6a-8b7c-5d4e3f2a1b0c

# The demo tenant, plus an app without the Calendars.ReadWrite role and one scoped to bob, and the
# delegated Calendars.ReadWrite.Shared permission (carol may write alice's calendar).
cat >fixture.json <<EOF
{"device_code_interval": 1,
 "tenants": [{"id": "$TENANT", "domain": "contoso.onmicrosoft.com", "domains": ["contoso.com"]}],
 "apps": [
  {"client_id": "$APP", "tenant": "$TENANT", "name": "LeaveSync demo",
   "secrets": [{"id": "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f", "value": "$SECRET",
                "expires": "2099-12-31T00:00:00Z"}],
   "redirect_uris": [{"uri": "http://localhost", "type": "public"}], "public_client": true,
   "application_permissions": ["full_access_as_app", "Calendars.ReadWrite", "User.Read.All"],
   "delegated_permissions": ["Calendars.ReadWrite", "Calendars.ReadWrite.Shared",
                             "offline_access", "User.Read"],
   "admin_consent": true, "ews_allowed": true},
  {"client_id": "$NOROLE_APP", "tenant": "$TENANT", "name": "No calendar role",
   "secrets": [{"id": "1f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f", "value": "$SECRET",
                "expires": "2099-12-31T00:00:00Z"}],
   "application_permissions": ["User.Read.All"], "admin_consent": true},
  {"client_id": "$SCOPED_APP", "tenant": "$TENANT", "name": "Scoped to bob",
   "secrets": [{"id": "2f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f", "value": "$SECRET",
                "expires": "2099-12-31T00:00:00Z"}],
   "application_permissions": ["Calendars.ReadWrite"], "admin_consent": true,
   "scoped_mailboxes": ["bob@contoso.com"]}],
 "users": [
  {"upn": "alice@contoso.com", "display_name": "Alice Ahlberg", "time_zone": "W. Europe Standard Time"},
  {"upn": "bob@contoso.com", "display_name": "Bob Brown", "time_zone": "Pacific Standard Time"},
  {"upn": "carol@contoso.com", "display_name": "Carol Celmins", "time_zone": "FLE Standard Time",
   "delegates": ["alice@contoso.com"]},
  {"upn": "dave@contoso.com", "display_name": "Dave Davies", "time_zone": "AUS Eastern Standard Time"},
  {"upn": "erin.e@contoso.onmicrosoft.com", "mail": "erin@contoso.com", "aliases": ["e.eriksson@contoso.com"],
   "display_name": "Erin Eriksson", "time_zone": "UTC"}]}
EOF

# app_token CLIENT_ID [SCOPE]: client credentials; prints the access token.
app_token() {
	curl -sS --cacert "$SIM_CA" "$SIM_URL/$TENANT/oauth2/v2.0/token" -d "client_id=$1" \
		--data-urlencode "client_secret=$SECRET" \
		--data-urlencode "scope=${2:-https://graph.microsoft.com/.default}" \
		-d grant_type=client_credentials | jq -r .access_token
}

# user_token UPN: device code flow, approved through the control API; prints the access token.
user_token() {
	scope='offline_access https://graph.microsoft.com/Calendars.ReadWrite https://graph.microsoft.com/Calendars.ReadWrite.Shared'
	curl -sS --cacert "$SIM_CA" "$SIM_URL/$TENANT/oauth2/v2.0/devicecode" -d "client_id=$APP" \
		--data-urlencode "scope=$scope" >dc.json &&
	sim_ctl POST /_sim/devicecode/approve \
		"$(jq -n --arg c "$(jq -r .user_code dc.json)" --arg u "$1" '{user_code: $c, user: $u}')" \
		>/dev/null &&
	curl -sS --cacert "$SIM_CA" "$SIM_URL/$TENANT/oauth2/v2.0/token" -d "client_id=$APP" \
		-d grant_type=urn:ietf:params:oauth:grant-type:device_code \
		--data-urlencode "device_code=$(jq -r .device_code dc.json)" | jq -r .access_token
}

# graph METHOD PATH [BODY [HEADER...]]: calls $SIM_URL/v1.0PATH with the token in file $TOK
# (default app.tok); the body goes to out.json, the headers to hdr.txt; prints the status.
graph() {
	m=$1 p=$2 b=${3-}
	shift 2
	[ $# -gt 0 ] && shift
	for h in "$@"; do
		set -- "$@" -H "$h"
		shift
	done
	if [ -n "$b" ]; then
		set -- "$@" -H 'Content-Type: application/json' --data-binary "$b"
	fi
	curl -sS --cacert "$SIM_CA" -o out.json -D hdr.txt -w '%{http_code}' -X "$m" \
		-H "Authorization: Bearer $(cat "${TOK:-app.tok}")" "$@" "$SIM_URL/v1.0$p"
}

# url PATH: an absolute URL for curl -g (the caller encodes the query).
get_abs() {
	curl -sS --cacert "$SIM_CA" -o out.json -D hdr.txt -w '%{http_code}' \
		-H "Authorization: Bearer $(cat "${TOK:-app.tok}")" "$@"
}

expect_status() {
	if [ "$1" != "$2" ]; then
		echo "expected HTTP $2, got $1:"
		cat out.json
		echo
		return 1
	fi
}

# expect_error STATUS CODE ACTUAL_STATUS: status and Graph's error shape.
expect_error() {
	expect_status "$3" "$1" &&
	test "$(jq -r .error.code out.json)" = "$2" &&
	jq -e '.error.message | length > 0' out.json >/dev/null &&
	jq -e '.error.innerError["request-id"] and .error.innerError.date' out.json >/dev/null &&
	grep -qi '^request-id:' hdr.txt
}

allday() { # allday SUBJECT DATE1 DATE2 ZONE [extra JSON members]
	printf '{"subject":"%s","start":{"dateTime":"%sT00:00:00","timeZone":"%s"},"end":{"dateTime":"%sT00:00:00","timeZone":"%s"},"isAllDay":true,"showAs":"oof","sensitivity":"private"%s}' \
		"$1" "$2" "$4" "$3" "$4" "${5:-}"
}

key_prop() { # key_prop VALUE: the extended-property member
	printf ',"singleValueExtendedProperties":[{"id":"%s","value":"%s"}]' "$PROP" "$1"
}

# Encoded $filter on our extended property.
filter_for() {
	printf "singleValueExtendedProperties/Any(ep:%%20ep/id%%20eq%%20'String%%20%%7B%s%%7D%%20Name%%20LeaveSyncKey'%%20and%%20ep/value%%20eq%%20'%s')" \
		"$PROP_GUID" "$1"
}

sim_start --fixture fixture.json || { echo "Bail out! m365sim did not start"; exit 1; }

test_expect_success 'client credentials give a Graph token to each app' '
	app_token $APP >app.tok && test -s app.tok && test "$(cat app.tok)" != null &&
	app_token $NOROLE_APP >norole.tok && test "$(cat norole.tok)" != null &&
	app_token $SCOPED_APP >scoped.tok && test "$(cat scoped.tok)" != null &&
	app_token $APP https://outlook.office365.com/.default >ews.tok &&
	test "$(cat ews.tok)" != null
'

test_expect_success 'an all-day leave event is created (201) with etag = W/"changeKey"' '
	st=$(graph POST /users/alice@contoso.com/events \
		"$(allday "Annual leave" 2024-07-15 2024-07-20 "W. Europe Standard Time" \
			",\"transactionId\":\"txn-1\"$(key_prop tenant-1:LV-1)")") &&
	expect_status "$st" 201 &&
	jq -r .id out.json >ev1.id &&
	test "$(jq -r .start.dateTime out.json)" = 2024-07-15T00:00:00.0000000 &&
	test "$(jq -r .start.timeZone out.json)" = UTC &&
	test "$(jq -r .end.dateTime out.json)" = 2024-07-20T00:00:00.0000000 &&
	test "$(jq -r .isAllDay out.json)" = true &&
	test "$(jq -r .showAs out.json)" = oof &&
	test "$(jq -r .sensitivity out.json)" = private &&
	test "$(jq -r .originalStartTimeZone out.json)" = "W. Europe Standard Time" &&
	test "$(jq -r .transactionId out.json)" = txn-1 &&
	test "$(jq -r "\"W/\\\"\" + .changeKey + \"\\\"\"" out.json)" = "$(jq -r ".[\"@odata.etag\"]" out.json)"
'

test_expect_success 'the store holds the instant, the Windows zone and the extended property' '
	sim_ctl GET /_sim/mailboxes/alice@contoso.com >dump.json &&
	jq -e --arg id "$(cat ev1.id)" ".items[] | select(.ews_id == \$id) |
		.start == \"2024-07-14T22:00:00Z\" and .start_tz == \"W. Europe Standard Time\" and
		.show_as == \"OOF\" and .sensitivity == \"Private\" and
		(.extended_properties[0] | .set_id == \"$PROP_GUID\" and .name == \"LeaveSyncKey\" and
		 .type == \"String\" and .value == \"tenant-1:LV-1\")" dump.json
'

test_expect_success 'all-day events keep their dates in IANA and Windows zones and any Prefer zone' '
	for z in America/Los_Angeles Europe/Riga Asia/Kolkata Pacific/Kiritimati UTC \
		"Pacific Standard Time"; do
		st=$(graph POST /users/bob@contoso.com/events \
			"$(allday "Leave $z" 2025-03-30 2025-04-01 "$z")" \
			"Prefer: outlook.timezone=\"Line Islands Standard Time\"") &&
		expect_status "$st" 201 &&
		test "$(jq -r .start.dateTime out.json)" = 2025-03-30T00:00:00.0000000 &&
		test "$(jq -r .end.dateTime out.json)" = 2025-04-01T00:00:00.0000000 &&
		test "$(jq -r .start.timeZone out.json)" = "Line Islands Standard Time" || return 1
	done &&
	sim_ctl GET /_sim/mailboxes/bob@contoso.com >dump.json &&
	jq -e ".items[] | select(.subject == \"Leave Asia/Kolkata\") |
		.start == \"2025-03-29T18:30:00Z\" and .start_tz == \"India Standard Time\"" dump.json
'

test_expect_success 'a timed event comes back in UTC, or in the zone of Prefer: outlook.timezone' '
	body="{\"subject\":\"Doctor\",\"start\":{\"dateTime\":\"2024-07-01T09:00:00\",\"timeZone\":\"Europe/Berlin\"},\"end\":{\"dateTime\":\"2024-07-01T10:30:00\",\"timeZone\":\"Europe/Berlin\"}}" &&
	st=$(graph POST /users/alice@contoso.com/events "$body") && expect_status "$st" 201 &&
	test "$(jq -r .start.dateTime out.json)" = 2024-07-01T07:00:00.0000000 &&
	test "$(jq -r .start.timeZone out.json)" = UTC &&
	jq -r .id out.json >timed.id &&
	st=$(graph GET "/users/alice@contoso.com/events/$(cat timed.id)" "" \
		"Prefer: outlook.timezone=\"Pacific Standard Time\"") && expect_status "$st" 200 &&
	test "$(jq -r .end.dateTime out.json)" = 2024-07-01T01:30:00.0000000 &&
	test "$(jq -r .end.timeZone out.json)" = "Pacific Standard Time"
'

test_expect_success 'GET an event by id; an unknown id is 404 ErrorItemNotFound' '
	st=$(graph GET "/users/alice@contoso.com/events/$(cat ev1.id)") && expect_status "$st" 200 &&
	test "$(jq -r .subject out.json)" = "Annual leave" &&
	jq -e "has(\"singleValueExtendedProperties\") | not" out.json &&
	st=$(graph GET /users/alice@contoso.com/events/AAMkAGI2nothere) &&
	expect_error 404 ErrorItemNotFound "$st"
'

test_expect_success '$expand and $select on one event' '
	st=$(graph GET "/users/alice@contoso.com/events/$(cat ev1.id)?\$select=subject,isAllDay&\$expand=singleValueExtendedProperties(\$filter=id%20eq%20%27String%20%7B$PROP_GUID%7D%20Name%20LeaveSyncKey%27)") &&
	expect_status "$st" 200 &&
	test "$(jq -r ".singleValueExtendedProperties[0].value" out.json)" = tenant-1:LV-1 &&
	test "$(jq -r ".singleValueExtendedProperties[0].id" out.json)" = "$PROP" &&
	test "$(jq -r "keys | sort | join(\",\")" out.json)" = "@odata.context,@odata.etag,id,isAllDay,singleValueExtendedProperties,subject" &&
	st=$(graph GET "/users/alice@contoso.com/events/$(cat ev1.id)?\$select=nosuchthing") &&
	expect_error 400 RequestBroker--ParseUri "$st"
'

test_expect_success '$filter on the extended property: exact name, value case-insensitive, or' '
	st=$(graph POST /users/alice@contoso.com/events \
		"$(allday "Sick leave" 2024-08-01 2024-08-02 UTC "$(key_prop tenant-1:LV-2)")") &&
	expect_status "$st" 201 &&
	st=$(graph GET "/users/alice@contoso.com/events?\$filter=$(filter_for TENANT-1:lv-1)") &&
	expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 1 &&
	test "$(jq -r ".value[0].id" out.json)" = "$(cat ev1.id)" &&
	st=$(graph GET "/users/alice@contoso.com/events?\$filter=$(filter_for tenant-1:LV-1)%20or%20$(filter_for tenant-1:LV-2)") &&
	expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 2 &&
	lower=$(filter_for tenant-1:LV-1 | sed s/LeaveSyncKey/leavesynckey/) &&
	st=$(graph GET "/users/alice@contoso.com/events?\$filter=$lower") &&
	expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 0 &&
	st=$(graph GET "/users/alice@contoso.com/events?\$filter=subject%20eq%20%27x%27") &&
	expect_error 400 ErrorInvalidUrlQueryFilter "$st"
'

test_expect_success 'calendarView ignores odata.maxpagesize (documented for delta only): pages of 10, or $top; opaque $skiptoken' '
	i=1 && while [ $i -le 12 ]; do
		d=$(printf "2024-09-%02d" $i) && n=$(printf "2024-09-%02d" $((i + 1))) &&
		st=$(graph POST /users/dave@contoso.com/events "$(allday "Day $i" $d $n UTC)") &&
		expect_status "$st" 201 || return 1
		i=$((i + 1))
	done &&
	q="startDateTime=2024-09-01T00:00:00Z&endDateTime=2024-10-01T00:00:00Z" &&
	st=$(graph GET "/users/dave@contoso.com/calendarView?$q" "" "Prefer: odata.maxpagesize=5") &&
	expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 10 &&
	! grep -qi "^Preference-Applied: odata.maxpagesize" hdr.txt &&
	jq -r ".value[].subject" out.json >seen &&
	next=$(jq -r ".[\"@odata.nextLink\"]" out.json) && case "$next" in *skiptoken=*) ;; *) false;; esac &&
	st=$(get_abs "$next" -H "Prefer: odata.maxpagesize=5") && expect_status "$st" 200 &&
	test "$(jq ".value | length" out.json)" = 2 &&
	jq -e "has(\"@odata.nextLink\") | not" out.json &&
	jq -r ".value[].subject" out.json >>seen &&
	test "$(sort -u seen | wc -l)" = 12 &&
	st=$(graph GET "/users/dave@contoso.com/calendarView?$q&\$top=5") &&
	test "$(jq ".value | length" out.json)" = 5 &&
	st=$(graph GET "/users/dave@contoso.com/calendarView?$q") &&
	test "$(jq ".value | length" out.json)" = 10 &&
	st=$(graph GET "/users/dave@contoso.com/calendarView?startDateTime=2024-09-03T00:00:00%2B02:00&endDateTime=2024-09-04T00:00:00Z") &&
	test "$(jq -r "[.value[].subject] | join(\",\")" out.json)" = "Day 2,Day 3" &&
	st=$(graph GET /users/dave@contoso.com/calendarView) &&
	expect_error 400 ErrorInvalidParameter "$st" &&
	st=$(graph GET "/users/dave@contoso.com/calendarView?$q&\$skiptoken=%21%21") &&
	expect_error 400 ErrorInvalidUrlQuery "$st"
'

test_expect_success 'PATCH with the current If-Match moves changeKey; a stale one is 412' '
	id=$(cat ev1.id) &&
	graph GET "/users/alice@contoso.com/events/$id" >/dev/null &&
	etag=$(jq -r ".[\"@odata.etag\"]" out.json) && ck=$(jq -r .changeKey out.json) &&
	st=$(graph PATCH "/users/alice@contoso.com/events/$id" "{\"subject\":\"Annual leave (updated)\"}" \
		"If-Match: $etag") &&
	expect_status "$st" 200 &&
	test "$(jq -r .subject out.json)" = "Annual leave (updated)" &&
	test "$(jq -r .changeKey out.json)" != "$ck" &&
	test "$(jq -r ".[\"@odata.etag\"]" out.json)" = "W/\"$(jq -r .changeKey out.json)\"" &&
	st=$(graph PATCH "/users/alice@contoso.com/events/$id" "{\"subject\":\"lost update\"}" \
		"If-Match: $etag") &&
	expect_error 412 ErrorIrresolvableConflict "$st" &&
	test "$(jq -r .error.message out.json)" = "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item." &&
	st=$(graph GET "/users/alice@contoso.com/events/$id") &&
	test "$(jq -r .subject out.json)" = "Annual leave (updated)"
'

test_expect_success 'PATCH keeps the all-day rules; transactionId cannot change' '
	id=$(cat ev1.id) &&
	st=$(graph PATCH "/users/alice@contoso.com/events/$id" \
		"{\"end\":{\"dateTime\":\"2024-07-21T12:00:00\",\"timeZone\":\"W. Europe Standard Time\"}}") &&
	expect_error 400 ErrorPropertyValidationFailure "$st" &&
	st=$(graph PATCH "/users/alice@contoso.com/events/$id" \
		"{\"end\":{\"dateTime\":\"2024-07-21T00:00:00\",\"timeZone\":\"W. Europe Standard Time\"}}") &&
	expect_status "$st" 200 && test "$(jq -r .end.dateTime out.json)" = 2024-07-21T00:00:00.0000000 &&
	st=$(graph PATCH "/users/alice@contoso.com/events/$id" "{\"transactionId\":\"other\"}") &&
	expect_error 400 ErrorPropertyValidationFailure "$st"
'

test_expect_success 'DELETE answers 204, a second DELETE 404 ErrorItemNotFound' '
	st=$(graph POST /users/alice@contoso.com/events "$(allday Gone 2024-10-01 2024-10-02 UTC)") &&
	id=$(jq -r .id out.json) &&
	st=$(graph DELETE "/users/alice@contoso.com/events/$id") && expect_status "$st" 204 &&
	st=$(graph DELETE "/users/alice@contoso.com/events/$id") &&
	expect_error 404 ErrorItemNotFound "$st" &&
	st=$(graph GET "/users/alice@contoso.com/events/$id") && expect_error 404 ErrorItemNotFound "$st"
'

test_expect_success 'a repeated POST with the same transactionId returns the first event' '
	body=$(allday Retry 2024-11-04 2024-11-05 UTC ",\"transactionId\":\"txn-retry\"$(key_prop tenant-1:LV-3)") &&
	st=$(graph POST /users/alice@contoso.com/events "$body") && expect_status "$st" 201 &&
	first=$(jq -r .id out.json) &&
	st=$(graph POST /users/alice@contoso.com/events "$body") && expect_status "$st" 201 &&
	test "$(jq -r .id out.json)" = "$first" &&
	st=$(graph GET "/users/alice@contoso.com/events?\$filter=$(filter_for tenant-1:LV-3)") &&
	test "$(jq ".value | length" out.json)" = 1
'

test_expect_success 'Prefer: IdType="ImmutableId" gives an id that survives a move' '
	st=$(graph POST /users/alice@contoso.com/events "$(allday Moving 2024-12-02 2024-12-03 UTC)" \
		"Prefer: IdType=\"ImmutableId\"") && expect_status "$st" 201 &&
	imm=$(jq -r .id out.json) &&
	st=$(graph GET "/users/alice@contoso.com/events/$imm") && expect_status "$st" 200 &&
	ews=$(jq -r .id out.json) && test "$ews" != "$imm" &&
	sim_ctl POST "/_sim/mailboxes/alice@contoso.com/items/$ews/move" "{\"folder\":\"Archive\"}" \
		>/dev/null &&
	st=$(graph GET "/users/alice@contoso.com/events/$ews") && expect_error 404 ErrorItemNotFound "$st" &&
	st=$(graph GET "/users/alice@contoso.com/events/$imm" "" "Prefer: IdType=\"ImmutableId\"") &&
	expect_status "$st" 200 && test "$(jq -r .id out.json)" = "$imm" &&
	st=$(graph GET "/users/alice@contoso.com/events/$imm") &&
	new=$(jq -r .id out.json) && test "$new" != "$ews" && test "$new" != "$imm"
'

test_expect_success '/users/{x} takes an id or a UPN only; the e-mail address of another UPN is not a key' '
	st=$(graph GET "/users/erin.e@contoso.onmicrosoft.com?\$select=id,mail,userPrincipalName") &&
	expect_status "$st" 200 && jq -e ".mail == \"erin@contoso.com\"" out.json >/dev/null &&
	erin=$(jq -r .id out.json) &&
	st=$(graph GET "/users/$erin/calendar") && expect_status "$st" 200 &&
	st=$(graph GET /users/erin@contoso.com/calendar) && expect_error 404 ErrorInvalidUser "$st" &&
	st=$(graph GET /users/e.eriksson@contoso.com) && expect_error 404 Request_ResourceNotFound "$st" &&
	st=$(graph GET /users/erin@contoso.com/events) && expect_error 404 ErrorInvalidUser "$st"
'

test_expect_success 'the directory query on mail or proxyAddresses finds the user by address or alias' '
	f="mail%20eq%20%27e.eriksson%40contoso.com%27%20or%20proxyAddresses%2Fany(a%3Aa%20eq%20%27smtp%3Ae.eriksson%40contoso.com%27)" &&
	st=$(graph GET "/users?\$filter=$f&\$select=id,userPrincipalName,mail&\$count=true" "" "ConsistencyLevel: eventual") &&
	expect_status "$st" 200 &&
	jq -e "(.value | length) == 1 and .value[0].userPrincipalName == \"erin.e@contoso.onmicrosoft.com\" and .[\"@odata.count\"] == 1" out.json >/dev/null &&
	st=$(graph GET "/users?\$filter=mail%20eq%20%27erin%40contoso.com%27") && expect_status "$st" 200 &&
	test "$(jq ".value | length" out.json)" = 1 &&
	st=$(graph GET "/users?\$filter=proxyAddresses%2Fany(x%3Ax%20eq%20%27smtp%3Anobody%40contoso.com%27)") &&
	expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 0 &&
	st=$(graph GET "/users?\$filter=jobTitle%20eq%20%27x%27") && expect_error 400 Request_UnsupportedQuery "$st" &&
	app_token $SCOPED_APP >nousers.tok &&
	st=$(TOK=nousers.tok graph GET "/users?\$filter=mail%20eq%20%27erin%40contoso.com%27") &&
	expect_error 403 Authorization_RequestDenied "$st" &&
	test "$(jq -r .error.message out.json)" = "Insufficient privileges to complete the operation."
'

test_expect_success '$count on users needs ConsistencyLevel: eventual, alone or inside a $batch' '
	f="mail%20eq%20%27erin%40contoso.com%27" &&
	st=$(graph GET "/users?\$filter=$f&\$count=true") &&
	expect_error 400 Request_BadRequest "$st" &&
	test "$(jq -r .error.message out.json)" = "\$count is not currently supported." &&
	b=$(jq -nc --arg u "/users?\$filter=$f&\$select=id&\$count=true" "{requests: [
		{id: \"1\", method: \"GET\", url: \$u, headers: {ConsistencyLevel: \"eventual\"}},
		{id: \"2\", method: \"GET\", url: \$u}]}") &&
	st=$(graph POST /\$batch "$b") && expect_status "$st" 200 &&
	jq -e "(.responses[] | select(.id == \"1\") | .status == 200 and (.body.value | length) == 1 and .body[\"@odata.count\"] == 1) and
	       (.responses[] | select(.id == \"2\") | .status == 400 and .body.error.code == \"Request_BadRequest\")" out.json >/dev/null
'

test_expect_success 'a write without Content-Type: application/json is refused with Graph'"'"'s 400' '
	body=$(allday NoType 2025-03-03 2025-03-04 UTC) &&
	for ct in "" "Content-Type: text/plain"; do
		st=$(curl -sS --cacert "$SIM_CA" -o out.json -D hdr.txt -w "%{http_code}" -X POST \
			-H "Authorization: Bearer $(cat app.tok)" ${ct:+-H "$ct"} --data-binary "$body" \
			"$SIM_URL/v1.0/users/bob@contoso.com/events") &&
		expect_error 400 BadRequest "$st" &&
		test "$(jq -r .error.message out.json)" = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format." ||
		return 1
	done &&
	b=$(jq -n --argjson e "$body" "{requests: [{id: \"1\", method: \"POST\", url: \"/users/bob@contoso.com/events\", headers: {\"Content-Type\": \"text/plain\"}, body: \$e}]}") &&
	st=$(graph POST /\$batch "$b") && expect_status "$st" 200 &&
	test "$(jq ".responses[0].status" out.json)" = 400
'

test_expect_success 'enum values are case-sensitive: showAs "OOF" is not "oof"' '
	st=$(graph POST /users/bob@contoso.com/events "$(allday Caps 2025-03-05 2025-03-06 UTC | sed "s/\"oof\"/\"OOF\"/")") &&
	expect_error 400 RequestBodyRead "$st" &&
	test "$(jq -r .error.message out.json)" = "Requested value '"'"'OOF'"'"' was not found."
'

test_expect_success 'a subject longer than 255 characters is kept cut to 255, as Exchange keeps it' '
	long=$(printf "%0300d" 0 | tr 0 x) &&
	st=$(graph POST /users/bob@contoso.com/events "$(allday "$long" 2025-03-07 2025-03-08 UTC)") &&
	expect_status "$st" 201 &&
	test "$(jq -r .subject out.json | wc -m)" = 256 &&
	jq -r .subject out.json | grep -q "xxx\.\.\.$"
'

batch_of() { # batch_of N MAILBOX [chain]: N creates, fully parallel or (chain) fully sequential
	jq -n --argjson n "$1" --arg mb "$2" --arg chain "${3:-}" '{requests: [range($n) | {id: "\(. + 1)", method: "POST",
		url: "/users/\($mb)/events", headers: {"Content-Type": "application/json",
		"Prefer": "IdType=\"ImmutableId\""},
		body: {subject: "Batch \(.)", isAllDay: true, showAs: "oof",
		start: {dateTime: "2025-01-\(. + 1 | tostring | if length == 1 then "0" + . else . end)T00:00:00", timeZone: "UTC"},
		end: {dateTime: "2025-01-\(. + 2 | tostring | if length == 1 then "0" + . else . end)T00:00:00", timeZone: "UTC"}}}
		+ (if $chain != "" and . > 0 then {dependsOn: ["\(.)"]} else {} end)]}'
}

test_expect_success '$batch of 20 sequential creates answers each request; 21 is a 400' '
	st=$(graph POST /\$batch "$(batch_of 20 carol@contoso.com chain)") && expect_status "$st" 200 &&
	test "$(jq "[.responses[] | select(.status == 201)] | length" out.json)" = 20 &&
	test "$(jq -r "[.responses[].id] | sort_by(tonumber) | join(\",\")" out.json)" = "$(seq -s, 1 20)" &&
	jq -e ".responses[0].body.id | startswith(\"AAkALgAA\")" out.json &&
	st=$(graph POST /\$batch "$(batch_of 21 carol@contoso.com)") && expect_error 400 BadRequest "$st" &&
	st=$(graph GET "/users/carol@contoso.com/calendarView?startDateTime=2025-01-01T00:00:00Z&endDateTime=2025-02-01T00:00:00Z&\$top=100") &&
	test "$(jq ".value | length" out.json)" = 20
'

test_expect_success '$batch mixing parallel and dependsOn requests is refused whole, as Graph does' '
	before=$(counter "graph.POST events") &&
	b=$(batch_of 4 dave@contoso.com | jq ".requests[2] += {dependsOn: [\"1\"]}") &&
	st=$(graph POST /\$batch "$b") && expect_error 400 BadRequest "$st" &&
	test "$(jq -r .error.message out.json)" = "Batch should be either fully sequential or fully parallel." &&
	b=$(batch_of 3 dave@contoso.com | jq ".requests[1] += {dependsOn: [\"1\"]} | .requests[2] += {dependsOn: [\"1\"]}") &&
	st=$(graph POST /\$batch "$b") && expect_error 400 BadRequest "$st" &&
	test "$(counter "graph.POST events")" = "$before"
'

test_expect_success 'a parallel $batch with 5 requests to one mailbox: the fifth is throttled (MailboxConcurrency)' '
	st=$(graph POST /\$batch "$(batch_of 5 dave@contoso.com)") && expect_status "$st" 200 &&
	test "$(jq "[.responses[] | select(.status == 201)] | length" out.json)" = 4 &&
	jq -e ".responses[] | select(.id == \"5\") | .status == 429 and .body.error.code == \"ApplicationThrottled\" and .body.error.message == \"Application is over its MailboxConcurrency limit.\" and (.headers[\"Retry-After\"] | length > 0)" out.json &&
	b=$(jq -s "{requests: (.[0].requests + (.[1].requests | map(.id = \"\(.id | tonumber + 4)\")))}" \
		"$(batch_of 4 alice@contoso.com >a.json && echo a.json)" "$(batch_of 4 bob@contoso.com >b.json && echo b.json)") &&
	st=$(graph POST /\$batch "$b") && expect_status "$st" 200 &&
	test "$(jq "[.responses[] | select(.status == 201)] | length" out.json)" = 8
'

test_expect_success '$batch: dependsOn a failed request gives 424; duplicate ids are a 400' '
	b="{\"requests\":[{\"id\":\"1\",\"method\":\"DELETE\",\"url\":\"/users/carol@contoso.com/events/nope\"},{\"id\":\"2\",\"dependsOn\":[\"1\"],\"method\":\"GET\",\"url\":\"/users/carol@contoso.com/calendar\"}]}" &&
	st=$(graph POST /\$batch "$b") && expect_status "$st" 200 &&
	test "$(jq ".responses[] | select(.id == \"1\") | .status" out.json)" = 404 &&
	test "$(jq -r ".responses[] | select(.id == \"1\") | .body.error.code" out.json)" = ErrorItemNotFound &&
	test "$(jq ".responses[] | select(.id == \"2\") | .status" out.json)" = 424 &&
	b="{\"requests\":[{\"id\":\"a\",\"method\":\"GET\",\"url\":\"/users/carol@contoso.com/calendar\"},{\"id\":\"A\",\"method\":\"GET\",\"url\":\"/users/carol@contoso.com/calendar\"}]}" &&
	st=$(graph POST /\$batch "$b") && expect_error 400 BadRequest "$st"
'

test_expect_success 'the per (app, mailbox) budget answers 429 with Retry-After, also inside $batch' '
	sim_ctl POST /_sim/graph/throttle "{\"budget\":3,\"window_seconds\":600,\"retry_after\":\"2.128\"}" >/dev/null &&
	b=$(jq -n "{requests: [range(5) | {id: \"\(.)\", method: \"GET\", url: \"/users/bob@contoso.com/calendar\"}]}") &&
	st=$(graph POST /\$batch "$b") && expect_status "$st" 200 &&
	test "$(jq "[.responses[] | select(.status == 200)] | length" out.json)" = 3 &&
	test "$(jq "[.responses[] | select(.status == 429)] | length" out.json)" = 2 &&
	test "$(jq -r "[.responses[] | select(.status == 429)][0].headers[\"Retry-After\"]" out.json)" = 2.128 &&
	test "$(jq -r "[.responses[] | select(.status == 429)][0].body.error.code" out.json)" = ApplicationThrottled &&
	st=$(graph GET /users/bob@contoso.com/calendar) && expect_error 429 ApplicationThrottled "$st" &&
	grep -qi "^Retry-After: 2.128" hdr.txt &&
	st=$(graph GET /users/alice@contoso.com/calendar) && expect_status "$st" 200 &&
	sim_ctl POST /_sim/graph/throttle "{\"budget\":10000,\"window_seconds\":600,\"retry_after\":\"\"}" >/dev/null &&
	st=$(graph GET /users/bob@contoso.com/calendar) && expect_status "$st" 200
'

test_expect_success 'an injected graph_http429 fault hits one request inside a $batch' '
	sim_ctl POST /_sim/faults "{\"kind\":\"graph_http429\",\"next\":1,\"retry_after\":1.5}" >/dev/null &&
	b=$(jq -n "{requests: [range(3) | {id: \"\(.)\", method: \"GET\", url: \"/users/bob@contoso.com/calendar\"}]}") &&
	st=$(graph POST /\$batch "$b") && expect_status "$st" 200 &&
	test "$(jq "[.responses[] | select(.status == 429)] | length" out.json)" = 1 &&
	test "$(jq -r "[.responses[] | select(.status == 429)][0].headers[\"Retry-After\"]" out.json)" = 1.5
'

test_expect_success 'delta: pages, a deltaLink, then changes and @removed; a bad token is 410' '
	for d in 03 04 05; do
		st=$(graph POST /users/bob@contoso.com/events "$(allday "Delta $d" 2025-06-$d 2025-06-0$((${d#0} + 1)) UTC)") &&
		expect_status "$st" 201 && jq -r .id out.json >"delta$d.id" || return 1
	done &&
	q="startDateTime=2025-06-01T00:00:00Z&endDateTime=2025-07-01T00:00:00Z" &&
	st=$(graph GET "/users/bob@contoso.com/calendarView/delta?$q" "" "Prefer: odata.maxpagesize=2") &&
	expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 2 &&
	jq -r ".value[].subject" out.json >seen &&
	next=$(jq -r ".[\"@odata.nextLink\"]" out.json) && case "$next" in *skiptoken=*) ;; *) false;; esac &&
	st=$(get_abs "$next" -H "Prefer: odata.maxpagesize=2") && expect_status "$st" 200 &&
	jq -r ".value[].subject" out.json >>seen &&
	test "$(sort -u seen | tr "\n" ,)" = "Delta 03,Delta 04,Delta 05," &&
	delta=$(jq -r ".[\"@odata.deltaLink\"]" out.json) && case "$delta" in *deltatoken=*) ;; *) false;; esac &&
	st=$(get_abs "$delta") && expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 0 &&
	st=$(graph PATCH "/users/bob@contoso.com/events/$(cat delta04.id)" "{\"subject\":\"Delta 04 changed\"}") &&
	st=$(graph DELETE "/users/bob@contoso.com/events/$(cat delta05.id)") && expect_status "$st" 204 &&
	st=$(get_abs "$delta") && expect_status "$st" 200 &&
	test "$(jq -r ".value[] | select(.id == \"$(cat delta04.id)\") | .subject" out.json)" = "Delta 04 changed" &&
	test "$(jq -r ".value[] | select(.id == \"$(cat delta05.id)\") | .[\"@removed\"].reason" out.json)" = deleted &&
	test "$(jq ".value | length" out.json)" = 2 &&
	st=$(get_abs "$SIM_URL/v1.0/users/bob@contoso.com/calendarView/delta?\$deltatoken=bm9wZQ") &&
	expect_error 410 syncStateNotFound "$st" &&
	sim_ctl POST /_sim/graph/delta/expire "{}" >/dev/null &&
	st=$(get_abs "$delta") && expect_error 410 syncStateNotFound "$st" &&
	grep -qi "^Location: .*calendarView/delta?startDateTime=" hdr.txt
'

test_expect_success 'validation: unknown property, bad enum, all-day bounds, zones, order, JSON' '
	base="\"start\":{\"dateTime\":\"2025-02-03T00:00:00\",\"timeZone\":\"UTC\"},\"end\":{\"dateTime\":\"2025-02-04T00:00:00\",\"timeZone\":\"UTC\"}" &&
	st=$(graph POST /users/alice@contoso.com/events "{\"subject\":\"x\",\"colour\":\"red\",$base}") &&
	expect_error 400 RequestBodyRead "$st" && jq -r .error.message out.json | grep -q colour &&
	st=$(graph POST /users/alice@contoso.com/events "{\"showAs\":\"away\",$base}") &&
	expect_error 400 RequestBodyRead "$st" &&
	st=$(graph POST /users/alice@contoso.com/events "{\"sensitivity\":\"secret\",$base}") &&
	expect_error 400 RequestBodyRead "$st" &&
	st=$(graph POST /users/alice@contoso.com/events \
		"$(allday x 2025-02-03 2025-02-04 UTC | sed s/T00:00:00/T08:00:00/g)") &&
	expect_error 400 ErrorPropertyValidationFailure "$st" &&
	st=$(graph POST /users/alice@contoso.com/events "{\"isAllDay\":true,\"start\":{\"dateTime\":\"2025-02-03T00:00:00\",\"timeZone\":\"UTC\"},\"end\":{\"dateTime\":\"2025-02-04T00:00:00\",\"timeZone\":\"Europe/Berlin\"}}") &&
	expect_error 400 ErrorPropertyValidationFailure "$st" &&
	st=$(graph POST /users/alice@contoso.com/events "$(allday x 2025-02-04 2025-02-03 UTC)") &&
	expect_error 400 ErrorPropertyValidationFailure "$st" &&
	st=$(graph POST /users/alice@contoso.com/events "$(allday x 2025-02-03 2025-02-04 Mars/Olympus)") &&
	expect_error 400 TimeZoneNotSupportedException "$st" &&
	st=$(graph POST /users/alice@contoso.com/events "{\"subject\": ") &&
	expect_error 400 BadRequest "$st"
'

test_expect_success 'an item created through the EWS side is found by Graph $filter, and back' '
	item="{\"subject\":\"From EWS\",\"start\":\"2025-05-05T00:00:00Z\",\"end\":\"2025-05-06T00:00:00Z\",\"start_tz\":\"UTC\",\"end_tz\":\"UTC\",\"is_all_day\":true,\"show_as\":\"OOF\",\"extended_properties\":[{\"set_id\":\"$PROP_GUID\",\"name\":\"LeaveSyncKey\",\"type\":\"String\",\"value\":\"tenant-1:EWS-1\"}]}" &&
	sim_ctl POST /_sim/mailboxes/alice@contoso.com/items "$item" >/dev/null &&
	st=$(graph GET "/users/alice@contoso.com/events?\$filter=$(filter_for tenant-1:ews-1)&\$expand=singleValueExtendedProperties") &&
	expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 1 &&
	test "$(jq -r ".value[0].subject" out.json)" = "From EWS" &&
	test "$(jq -r ".value[0].showAs" out.json)" = oof &&
	test "$(jq -r ".value[0].singleValueExtendedProperties[0].value" out.json)" = tenant-1:EWS-1
'

# ews_call MAILBOX BODY_XML: a SOAP call with the EWS token, impersonating MAILBOX; prints the reply.
ews_call() {
	cat >soap.xml <<EOF
<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<soap:Header><t:RequestServerVersion Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>$1</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header>
<soap:Body>$2</soap:Body></soap:Envelope>
EOF
	curl -sS --cacert "$SIM_CA" "$SIM_URL/EWS/Exchange.asmx" -H "Authorization: Bearer $(cat ews.tok)" \
		-H "Content-Type: text/xml; charset=utf-8" -H "X-AnchorMailbox: $1" --data-binary @soap.xml
}

test_expect_success 'EWS CreateItem with the extended property is found by the Graph $filter' '
	ews_call alice@contoso.com "<m:CreateItem SendMeetingInvitations=\"SendToNone\"><m:SavedItemFolderId><t:DistinguishedFolderId Id=\"calendar\"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>EWS leave</t:Subject><t:ExtendedProperty><t:ExtendedFieldURI PropertySetId=\"3B8A4C1E-9D2F-4E6A-8B7C-5D4E3F2A1B0C\" PropertyName=\"LeaveSyncKey\" PropertyType=\"String\"/><t:Value>tenant-1:EWS-2</t:Value></t:ExtendedProperty><t:Start>2025-05-12T00:00:00Z</t:Start><t:End>2025-05-13T00:00:00Z</t:End><t:IsAllDayEvent>true</t:IsAllDayEvent><t:LegacyFreeBusyStatus>OOF</t:LegacyFreeBusyStatus></t:CalendarItem></m:Items></m:CreateItem>" >ews.xml &&
	test_grep "<m:ResponseCode>NoError</m:ResponseCode>" ews.xml &&
	st=$(graph GET "/users/alice@contoso.com/events?\$filter=$(filter_for tenant-1:ews-2)") &&
	expect_status "$st" 200 && test "$(jq ".value | length" out.json)" = 1 &&
	test "$(jq -r ".value[0].subject" out.json)" = "EWS leave" &&
	test "$(jq -r ".value[0].start.dateTime" out.json)" = 2025-05-12T00:00:00.0000000 &&
	grep -q "Id=\"$(jq -r ".value[0].id" out.json)\"" ews.xml
'

test_expect_success 'EWS GetItem shows the extended property of an event created through Graph' '
	ews_call alice@contoso.com "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI=\"item:Subject\"/><t:ExtendedFieldURI PropertySetId=\"$PROP_GUID\" PropertyName=\"LeaveSyncKey\" PropertyType=\"String\"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id=\"$(cat ev1.id)\"/></m:ItemIds></m:GetItem>" >ews.xml &&
	test_grep "<t:Subject>Annual leave (updated)</t:Subject>" ews.xml &&
	test_grep "PropertyName=\"LeaveSyncKey\" PropertyType=\"String\"/><t:Value>tenant-1:LV-1</t:Value>" ews.xml
'

test_expect_success 'permissions: role missing, mailbox outside the app scope, /me app-only' '
	st=$(TOK=norole.tok graph GET /users/alice@contoso.com/calendar) &&
	expect_error 403 ErrorAccessDenied "$st" &&
	st=$(TOK=scoped.tok graph GET /users/bob@contoso.com/calendar) && expect_status "$st" 200 &&
	st=$(TOK=scoped.tok graph GET /users/alice@contoso.com/calendar) &&
	expect_error 403 ErrorAccessDenied "$st" &&
	st=$(graph GET /me/events) && expect_error 400 BadRequest "$st" &&
	st=$(graph GET /users/nobody@contoso.com/events) && expect_error 404 ErrorInvalidUser "$st"
'

test_expect_success 'authentication: no token, a forged token, an EWS token, an expired token' '
	st=$(curl -sS --cacert "$SIM_CA" -o out.json -D hdr.txt -w "%{http_code}" "$SIM_URL/v1.0/users/alice@contoso.com/events") &&
	expect_error 401 InvalidAuthenticationToken "$st" && grep -qi "^WWW-Authenticate: Bearer" hdr.txt &&
	echo "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.AAAA" >forged.tok &&
	st=$(TOK=forged.tok graph GET /users/alice@contoso.com/events) &&
	expect_error 401 InvalidAuthenticationToken "$st" &&
	st=$(TOK=ews.tok graph GET /users/alice@contoso.com/events) &&
	expect_error 401 InvalidAuthenticationToken "$st" &&
	sim_ctl POST /_sim/faults "{\"kind\":\"token_expired\",\"next\":1}" >/dev/null &&
	st=$(graph GET /users/alice@contoso.com/events) &&
	expect_error 401 InvalidAuthenticationToken "$st" &&
	jq -r .error.message out.json | grep -q expired
'

test_expect_success 'delegated: /me for the signed-in user; shared calendars need the share' '
	user_token alice@contoso.com >alice.tok && test "$(cat alice.tok)" != null &&
	user_token carol@contoso.com >carol.tok && test "$(cat carol.tok)" != null &&
	st=$(TOK=alice.tok graph POST /me/events "$(allday Mine 2025-08-04 2025-08-05 UTC)") &&
	expect_status "$st" 201 &&
	st=$(TOK=alice.tok graph GET "/users/alice@contoso.com/events/$(jq -r .id out.json)") &&
	expect_status "$st" 200 &&
	st=$(TOK=alice.tok graph GET /users/bob@contoso.com/events) &&
	expect_error 403 ErrorAccessDenied "$st" &&
	st=$(TOK=carol.tok graph POST /users/alice@contoso.com/events "$(allday Shared 2025-08-05 2025-08-06 UTC)") &&
	expect_status "$st" 201 &&
	st=$(TOK=carol.tok graph POST /users/bob@contoso.com/events "$(allday Nope 2025-08-05 2025-08-06 UTC)") &&
	expect_error 403 ErrorAccessDenied "$st"
'

test_expect_success 'counters count Graph operations and inner batch requests' '
	sim_ctl GET /_sim/counters >counters.json &&
	jq -e ".counters // . | .[\"graph.POST events\"] > 20 and .[\"graph.\$batch\"] >= 4 and
		.[\"graph.requests\"] > .[\"graph.POST events\"] and .[\"graph.PATCH event\"] >= 3 and
		.[\"graph.DELETE event\"] >= 3 and .[\"graph.GET calendarView\"] >= 4 and
		.[\"graph.items written\"] > 20" counters.json
'

test_done
