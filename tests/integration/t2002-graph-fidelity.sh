#!/bin/sh
test_description='Graph: what Exchange Online and Entra ID really accept ($batch forms, users by id, paging)'
. "$(dirname "$0")/test-lib.sh"

# leave ID MAILBOX DATE [REVISION]: one all-day approved leave.
leave() {
	echo "{\"id\":\"$1\",\"mailbox\":\"$2\",\"kind\":\"Annual leave\",\"start\":\"$3\",\"end\":\"$3\",\"status\":\"approved\",\"revision\":${4:-1},\"time_zone\":\"Europe/Riga\"}"
}

# many_leaves PREFIX MAILBOX N [REVISION]: N one-day leaves in January 2027.
many_leaves() {
	for i in $(seq 1 "$3"); do
		leave "$1-$i" "$2" "2027-01-$(printf %02d "$i")" "${4:-1}"
	done
}

# The demo tenant, with a user whose sign-in name (UPN) is not its e-mail address and has an alias, an
# address two users carry, and a second app that may not read the directory.
NOUSERS_APP=bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee
jq -n --arg t "$DEMO_TENANT" --arg c "$DEMO_CLIENT" --arg n "$NOUSERS_APP" --arg s "$DEMO_SECRET" '
{device_code_interval: 1,
 tenants: [{id: $t, domain: "contoso.onmicrosoft.com", domains: ["contoso.com"]}],
 apps: [
  {client_id: $c, tenant: $t, name: "LeaveSync",
   secrets: [{id: "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f", value: $s}],
   redirect_uris: [{uri: "http://localhost", type: "public"}], public_client: true,
   application_permissions: ["Calendars.ReadWrite", "User.Read.All"],
   delegated_permissions: ["Calendars.ReadWrite", "offline_access", "User.Read"],
   admin_consent: true},
  {client_id: $n, tenant: $t, name: "No directory access",
   secrets: [{id: "1f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f", value: $s}],
   application_permissions: ["Calendars.ReadWrite"], admin_consent: true}],
 users: [
  {upn: "alice@contoso.com", display_name: "Alice", time_zone: "FLE Standard Time"},
  {upn: "dave@contoso.com", display_name: "Dave", time_zone: "UTC"},
  {upn: "erin.e@contoso.onmicrosoft.com", mail: "erin@contoso.com", aliases: ["e.eriksson@contoso.com"],
   display_name: "Erin", time_zone: "UTC"},
  {upn: "frank@contoso.com", aliases: ["team@contoso.com"], display_name: "Frank", time_zone: "UTC"},
  {upn: "grace@contoso.com", aliases: ["team@contoso.com"], display_name: "Grace", time_zone: "UTC"}]}' \
	>fixture.json

# state LEAVE: the target's state.
state() {
	sqlite3 leavesync.db "select state from target where leave_id = '$1'"
}

# user_id MAILBOX: the Graph user id stored for a mailbox.
user_id() {
	sqlite3 leavesync.db "select graph_user_id from mailbox where mailbox = '$1'"
}

test_expect_success 'setup: app-only Graph against the simulator' '
	sim_start --fixture fixture.json &&
	write_config graph application &&
	leavesync init
'

test_expect_success '15 writes to one mailbox: every $batch is fully parallel or fully sequential' '
	many_leaves B dave@contoso.com 15 | leavesync push - &&
	leavesync sync >out 2>err &&
	test_grep "15 created" out &&
	test "$(calendar dave@contoso.com | jq length)" = 15 &&
	test "$(counter "graph.throttled parallel")" = 0
'

test_expect_success '15 updates of one mailbox go through as well, and a second sync sends nothing' '
	many_leaves B dave@contoso.com 15 2 | sed "s/Europe\/Riga/Europe\/Berlin/" | leavesync push - &&
	leavesync sync >out 2>err &&
	test_grep "15 updated" out &&
	before=$(write_requests) &&
	leavesync sync >out &&
	test "$(write_requests)" = "$before"
'

test_expect_success 'reconcile pages a calendarView of 15 events by 10 (maxpagesize is not honoured there)' '
	before=$(counter "graph.GET calendarView") &&
	leavesync reconcile --mailbox dave@contoso.com --from 2027-01-01 --to 2027-02-01 --json >rec.json &&
	jq -e ".findings == [] and .events_listed == 15" rec.json &&
	test "$(counter "graph.GET calendarView")" = $((before + 2))
'

test_expect_success 'a mailbox whose UPN is not its address is written through its user id' '
	leave U-1 erin@contoso.com 2027-02-01 | leavesync push - &&
	before=$(counter "graph.GET users") &&
	leavesync sync >out 2>err &&
	test_grep "1 created" out &&
	test "$(calendar erin@contoso.com | jq length)" = 1 &&
	erin=$(user_id erin@contoso.com) && test -n "$erin" && test "$erin" != erin@contoso.com &&
	test "$(counter "graph.GET users")" = $((before + 1))
'

test_expect_success 'an alias of the mailbox resolves to the same user; the stored id is reused' '
	leave U-2 e.eriksson@contoso.com 2027-02-02 | leavesync push - &&
	leavesync sync >out 2>err && test_grep "1 created" out &&
	test "$(calendar erin@contoso.com | jq length)" = 2 &&
	test "$(user_id e.eriksson@contoso.com)" = "$(user_id erin@contoso.com)" &&
	before=$(counter "graph.GET users") &&
	leave U-1 erin@contoso.com 2027-02-03 2 | leavesync push - &&
	leavesync sync >out 2>err && test_grep "1 updated" out &&
	test "$(counter "graph.GET users")" = "$before"
'

test_expect_success 'an address no user has waits with the reason; other mailboxes go on' '
	{ leave U-3 nobody@contoso.com 2027-02-04; leave U-4 alice@contoso.com 2027-02-04; } | leavesync push - &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "1 created" out &&
	test_grep "no user in the directory has the address nobody@contoso.com" err &&
	test "$(calendar alice@contoso.com | jq length)" = 1 &&
	test "$(state U-3)" = waiting
'

test_expect_success 'an address two users carry is blocked with the reason, never guessed' '
	leave U-5 team@contoso.com 2027-02-05 | leavesync push - &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "2 directory users carry the address team@contoso.com" err &&
	test "$(state U-5)" = waiting &&
	test "$(calendar frank@contoso.com | jq length)" = 0 &&
	test "$(calendar grace@contoso.com | jq length)" = 0
'

test_expect_success 'without permission to read users, the mailbox waits with the permission to grant' '
	config_set graph client_id $NOUSERS_APP &&
	leave U-6 carol.unknown@contoso.com 2027-02-06 | leavesync push - &&
	leave U-7 dave@contoso.com 2027-02-07 | leavesync push - &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "User.Read.All" err && test_grep "Authorization_RequestDenied" err &&
	test "$(state U-6)" = waiting &&
	test "$(calendar dave@contoso.com | jq "[.[] | select(.start | startswith(\"2027-02-06\"))] | length")" = 1
'

test_expect_success 'a subject Exchange would cut is refused with the fix, nothing written' '
	config_set graph client_id $DEMO_CLIENT &&
	printf "\n[kind \"Training\"]\nsubject = {note}\n" >>leavesync.conf &&
	note=$(printf "%0300d" 0 | tr 0 n) &&
	echo "{\"id\":\"S-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Training\",\"start\":\"2027-03-01\",\"end\":\"2027-03-01\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\",\"note\":\"$note\"}" |
		leavesync push - &&
	before=$(calendar alice@contoso.com | jq length) &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "subject is 300 characters long and Exchange keeps 255" err &&
	test "$(state S-1)" = failed &&
	test "$(calendar alice@contoso.com | jq length)" = "$before"
'

test_done
