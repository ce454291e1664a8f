#!/bin/sh
test_description='Graph app-only looks the new mailboxes of a write call up 20 at a time in one $batch, with the same outcomes as one GET each'
. "$(dirname "$0")/test-lib.sh"

# leave ID MAILBOX: one approved all-day leave.
leave() {
	echo "{\"id\":\"$1\",\"mailbox\":\"$2\",\"kind\":\"Annual leave\",\"start\":\"2027-03-04\",\"end\":\"2027-03-05\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}"
}

# http_requests: HTTP requests the simulator served, token requests excluded
http_requests() {
	sim_ctl GET /_sim/counters | jq '(.requests // 0) - (.token // 0)'
}

# state LEAVE: the target's state.
state() {
	sqlite3 leavesync.db "select state from target where leave_id = '$1'"
}

test_expect_success 'setup: 45 mailboxes, and frank and grace who both carry team@' '
	"$SRC_DIR/tools/gen-fixture" --mailboxes 45 --domain contoso.com -o base.json &&
	jq ".users += [
		{upn: \"frank@contoso.com\", aliases: [\"team@contoso.com\"], display_name: \"Frank\", time_zone: \"UTC\"},
		{upn: \"grace@contoso.com\", aliases: [\"team@contoso.com\"], display_name: \"Grace\", time_zone: \"UTC\"}]" \
		base.json >fixture.json &&
	sim_start --fixture fixture.json &&
	write_config graph application &&
	leavesync init
'

test_expect_success 'first sync of 45 new mailboxes: ceil(45/20) = 3 lookup batches + 3 write batches' '
	for m in $(seq 0 44); do leave "M-$m" "$(printf "user%05d@contoso.com" "$m")"; done >leave.ndjson &&
	leavesync push leave.ndjson &&
	before=$(http_requests) &&
	leavesync sync >out 2>err &&
	test_grep "45 created" out &&
	test "$(counter "graph.\$batch of user lookups")" = 3 &&
	test "$(counter "graph.GET users")" = 45 &&
	test "$(counter "graph.\$batch with writes")" = 3 &&
	test $(($(http_requests) - before)) -eq 6 &&
	test "$(sqlite3 leavesync.db "select count(*) from mailbox where graph_user_id is not null")" = 45
'

test_expect_success 'known mailboxes are not looked up again' '
	for m in $(seq 0 44); do echo "{\"id\":\"M-$m\",\"mailbox\":\"$(printf "user%05d@contoso.com" "$m")\",\"kind\":\"Annual leave\",\"start\":\"2027-03-04\",\"end\":\"2027-03-06\",\"status\":\"approved\",\"revision\":2,\"time_zone\":\"UTC\"}"; done |
	leavesync push - &&
	lookups=$(counter "graph.GET users") &&
	leavesync sync >out 2>err &&
	test_grep "45 updated" out &&
	test "$(counter "graph.GET users")" = "$lookups"
'

test_expect_success 'in one lookup batch: no user and two users block with the same reasons, the others are written' '
	{ leave U-1 nobody@contoso.com; leave U-2 team@contoso.com; leave U-3 frank@contoso.com; leave U-4 grace@contoso.com; } |
	leavesync push - &&
	batches=$(counter "graph.\$batch of user lookups") && lookups=$(counter "graph.GET users") &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "2 created" out &&
	test_grep "no user in the directory has the address nobody@contoso.com (as mail or proxy address)" err &&
	test_grep "2 directory users carry the address team@contoso.com (frank@contoso.com, grace@contoso.com)" err &&
	test "$(state U-1)" = waiting && test "$(state U-2)" = waiting &&
	test "$(counter "graph.\$batch of user lookups")" = $((batches + 1)) &&
	test "$(counter "graph.GET users")" = $((lookups + 4))
'

# The reconcile lists 49 mailboxes in ceil(49/20) = 3 listing calls, each looking its unknown mailboxes up
# in one $batch. nobody@ and team@ are never stored (no single user): the retry of their waiting items
# may run on another worker, whose session looks those two up again in one more $batch.
test_expect_success 'a reconcile that meets unknown mailboxes looks them up 20 per $batch as well' '
	sqlite3 leavesync.db "update mailbox set graph_user_id = null" &&
	batches=$(counter "graph.\$batch of user lookups") && all=$(counter "graph.GET users") &&
	inbatch=$(counter "graph.GET users in \$batch") &&
	test_expect_code 1 leavesync reconcile --json --from 2027-01-01 --to 2027-12-31 >rec.json 2>err &&
	jq -e ".mailboxes == 49 and .events_listed == 47" rec.json &&
	test "$(sqlite3 leavesync.db "select count(*) from mailbox where graph_user_id is not null")" = 47 &&
	lookup_batches=$(($(counter "graph.\$batch of user lookups") - batches)) &&
	test "$lookup_batches" -ge 3 && test "$lookup_batches" -le 4 &&
	test $(($(counter "graph.GET users") - all)) -eq $(($(counter "graph.GET users in \$batch") - inbatch))
'

test_done
