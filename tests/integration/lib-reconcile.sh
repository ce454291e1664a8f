# lib-reconcile.sh: the reconcile scenarios of issue 6, per backend (BACKEND, MODE, MOVED: how many
# moves show as drift — EWS ids change on a move, Graph immutable ids do not).

check_calendars() {
	/usr/bin/python3 "$TEST_DIR/clients/check_calendars.py" "$TRASH/leavesync.db" "$SIM_URL" "$SIM_CA" "$@"
}

# 40 all-day leave entries inside the default window (30 days back .. 365 ahead), 10 per mailbox.
make_leave() {
	awk -v rev="${1:-1}" 'BEGIN {
		split("alice bob carol dave", who, " "); split("Europe/Riga UTC America/Los_Angeles Asia/Kolkata", tz, " ")
		for (i = 0; i < 40; i++) {
			d = 1 + (i * 3) % 27; m = 1 + int(i / 9)
			printf "{\"id\":\"R-%02d\",\"mailbox\":\"%s@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-%02d-%02d\",\"end\":\"2027-%02d-%02d\",\"status\":\"approved\",\"revision\":%d,\"time_zone\":\"%s\"}\n", i, who[i % 4 + 1], m, d, m, d + 1, rev, tz[i % 4 + 1]
		}
	}'
}

# item_of LEAVE: the mailbox and simulator id of the event written for a leave.
item_of() {
	key=$(sqlite3 "$TRASH/leavesync.db" "select sync_key from target where leave_id='$1'") &&
	mb=$(sqlite3 "$TRASH/leavesync.db" "select mailbox from target where leave_id='$1'") &&
	id=$(calendar "$mb" | jq -r --arg k "$key" '[.[] | select(any(.extended_properties[]; .value == $k))][0].ews_id')
}

# count KIND: findings of that kind in reconcile.json
count() {
	jq -r --arg k "$1" '.counts[$k]' reconcile.json
}

test_expect_success "$BACKEND: setup: 40 leave entries synced" '
	mkdir -p requests &&
	sim_start ${SIM_ARGS:-} &&
	write_config $BACKEND $MODE &&
	make_leave >leave.ndjson &&
	leavesync init && leavesync push leave.ndjson && leavesync sync &&
	check_calendars
'

test_expect_success "$BACKEND: a reconcile of equal calendars finds nothing and writes nothing" '
	before=$(write_requests) &&
	leavesync reconcile --json >reconcile.json &&
	jq -e ".findings == [] and .events_listed == 40" reconcile.json &&
	test "$(write_requests)" = "$before"
'

test_expect_success "$BACKEND: people and servers change the calendars" '
	for l in R-00 R-01 R-02 R-03 R-04; do item_of $l && sim_ctl DELETE "/_sim/mailboxes/$mb/items/$id" >/dev/null || return 1; done &&
	for l in R-05 R-06 R-07; do item_of $l && sim_ctl PATCH "/_sim/mailboxes/$mb/items/$id" "{\"subject\":\"Edited by a person\"}" >/dev/null || return 1; done &&
	for l in R-08 R-09; do item_of $l && sim_ctl PATCH "/_sim/mailboxes/$mb/items/$id" "{\"start\":\"2027-06-01T08:00:00Z\",\"end\":\"2027-06-01T16:00:00Z\",\"is_all_day\":false}" >/dev/null || return 1; done &&
	for l in R-10 R-11; do item_of $l && sim_ctl POST "/_sim/mailboxes/$mb/items/$id/move" "{\"folder\":\"calendar\"}" >/dev/null || return 1; done &&
	for l in R-12 R-13; do
		item_of $l && sim_ctl GET "/_sim/mailboxes/$mb/items/$id" |
			jq -c "{subject, body, start, \"end\": .end, is_all_day, show_as, sensitivity, categories, reminder_is_set, extended_properties}" >dup.json &&
		sim_ctl POST "/_sim/mailboxes/$mb/items" "$(cat dup.json)" >/dev/null || return 1
	done &&
	make_leave 2 | grep -E "R-(14|15|16)" | sed "s/approved/cancelled/" | leavesync push - &&
	sim_ctl POST /_sim/mailboxes/alice@contoso.com/items "{\"subject\":\"Dentist\",\"start\":\"2027-01-05T09:00:00Z\",\"end\":\"2027-01-05T10:00:00Z\"}" >personal1.json &&
	sim_ctl POST /_sim/mailboxes/bob@contoso.com/items "{\"subject\":\"Lunch\",\"start\":\"2027-01-06T12:00:00Z\",\"end\":\"2027-01-06T13:00:00Z\"}" >personal2.json
'

test_expect_success "$BACKEND: --dry-run reports the drift and changes nothing" '
	before=$(write_requests) &&
	test_expect_code 1 leavesync reconcile --dry-run --json >reconcile.json &&
	jq -c .counts reconcile.json &&
	test "$(count missing)" = 5 && test "$(count edited)" = 5 &&
	test "$(write_requests)" = "$before" &&
	test_must_fail check_calendars
'

test_expect_success "$BACKEND: one reconcile reports exactly those findings and repairs them" '
	leavesync reconcile --json >reconcile.json &&
	jq -c .counts reconcile.json &&
	test "$(count missing)" = 5 &&
	test "$(count edited)" = 5 &&
	test "$(count moved)" = $MOVED &&
	test "$(count duplicated)" = 2 &&
	test "$(count orphaned)" = 3 &&
	test "$(count stuck)" = 0 &&
	jq -e "all(.findings[]; .result == \"ok\") and .unrepaired == 0" reconcile.json &&
	check_calendars --expect-untagged 2
'

test_expect_success "$BACKEND: edited events carry the owned fields again" '
	for l in R-05 R-08; do
		item_of $l && sim_ctl GET "/_sim/mailboxes/$mb/items/$id" | jq -e ".subject == \"Out of office\" and .is_all_day" || return 1
	done
'

test_expect_success "$BACKEND: the personal events were not touched" '
	calendar alice@contoso.com | jq -e --slurpfile p personal1.json "[.[] | select(.subject == \"Dentist\")] | length == 1 and .[0].change_key == \$p[0].change_key" &&
	calendar bob@contoso.com | jq -e --slurpfile p personal2.json "[.[] | select(.subject == \"Lunch\")] | length == 1 and .[0].change_key == \$p[0].change_key"
'

test_expect_success "$BACKEND: the drift is recorded and shown" '
	test "$(sqlite3 leavesync.db "select count(*) from drift where kind in (\"missing\",\"edited\",\"duplicated\",\"orphaned\")")" -ge 15 &&
	leavesync status >st.txt && test_grep "last reconcile: .*exit 0: [0-9]* findings, 0 unrepaired" st.txt &&
	leavesync status --json | jq -e ".last_reconcile.command == \"reconcile\" and .last_reconcile.exit_code == 0"
'

test_expect_success "$BACKEND: a second reconcile finds no drift and writes nothing" '
	before=$(write_requests) &&
	leavesync reconcile --json >reconcile.json &&
	jq -e ".findings == []" reconcile.json &&
	test "$(write_requests)" = "$before"
'

test_expect_success "$BACKEND: the safety valve stops deleting 80% of a mailbox" '
	config_set sync delete_min 5 &&
	sqlite3 leavesync.db "delete from leave where mailbox = \"carol@contoso.com\" and id not in (\"R-02\", \"R-06\")" &&
	before=$(calendar carol@contoso.com | jq length) &&
	test_expect_code 1 leavesync reconcile >out 2>err &&
	test_grep "safety valve" err && test_grep "carol@contoso.com" err && test_grep "[-]-force" err &&
	test "$(calendar carol@contoso.com | jq length)" = "$before" &&
	test_expect_code 1 leavesync sync >out 2>err &&
	test_grep "safety valve" err &&
	test "$(calendar carol@contoso.com | jq length)" = "$before"'

test_expect_success "$BACKEND: --force lets it proceed" '
	{ leavesync reconcile --force --json >reconcile.json; rc=$?; } &&
	jq -c "[.counts, .unrepaired, .blocked, .repair]" reconcile.json && test $rc = 0 &&
	test "$(calendar carol@contoso.com | jq length)" = 2 &&
	check_calendars --expect-untagged 2
'

test_expect_success "$BACKEND: resync from nothing: a new store adopts every event, creates none" '
	sqlite3 -json leavesync.db "select id, mailbox, kind, starts as start, ends as \"end\", status, revision, time_zone from leave" | jq -c ".[]" >current.ndjson &&
	rm -f leavesync.db leavesync.db-wal leavesync.db-shm &&
	leavesync init && leavesync push current.ndjson &&
	before=$(write_requests) &&
	leavesync reconcile --json >reconcile.json &&
	jq -e ".findings == [] and .adopted == $(grep -c approved current.ndjson) and .repair.created == 0" reconcile.json &&
	test "$(write_requests)" = "$before" &&
	check_calendars --expect-untagged 2 &&
	leavesync sync >out && test_grep "0 created, 0 updated, 0 deleted" out
'
