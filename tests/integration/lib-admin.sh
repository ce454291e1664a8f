# lib-admin.sh: issue 19's admin views, per backend (BACKEND, MODE): `leavesync calendar` shows
# what a mailbox holds beside the store and marks differences as reconcile does, without writing;
# `leavesync show` tells one leave's story. Sourced after test-lib.sh.

WINDOW="--from 2027-01-01 --to 2028-01-01"

make_leave() {
	for i in 1 2 3 4 5 6; do
		printf '{"id":"L-%d","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-0%d-10","end":"2027-0%d-11","status":"approved","revision":1,"time_zone":"Europe/Riga"}\n' $i $i $i
	done
	printf '{"id":"L-7","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-02-01","end":"2027-02-01","status":"approved","revision":1}\n'
	printf '{"id":"L-8","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-03-01","end":"2027-03-01","status":"approved","revision":1}\n'
}

# item_of LEAVE: the mailbox (mb) and simulator id (id) of the event written for a leave.
item_of() {
	key=$(sqlite3 "$TRASH/leavesync.db" "select sync_key from target where leave_id='$1'") &&
	mb=$(sqlite3 "$TRASH/leavesync.db" "select mailbox from target where leave_id='$1'") &&
	id=$(calendar "$mb" | jq -r --arg k "$key" '[.[] | select(any(.extended_properties[]; .value == $k))][0].ews_id')
}

# What the store believes of the calendars: ids, change keys, the text written, attempts, errors.
# (Not what it wants or its state: calendar, like reconcile --dry-run, renders queued leave.)
beliefs() {
	sqlite3 "$TRASH/leavesync.db" "select leave_id, mailbox, remote_id, change_key, synced, backend, attempts, last_error from target where remote_id is not null order by id"
}

# marks FILE: reconcile's finding kinds among calendar --json items, as {"kind": count}.
marks() {
	jq -c '[.items[] | select(.finding) | .mark | split("+")[]] | group_by(.) | map({(.[0]): length}) | add // {}' "$1"
}

test_expect_success "$BACKEND: setup: 8 leave entries synced, two personal events" '
	sim_start &&
	write_config $BACKEND $MODE &&
	make_leave >leave.ndjson &&
	leavesync init && leavesync push leave.ndjson && leavesync sync &&
	sim_ctl POST /_sim/mailboxes/alice@contoso.com/items "{\"subject\":\"Dentist appointment\",\"start\":\"2027-01-05T09:00:00Z\",\"end\":\"2027-01-05T10:00:00Z\"}" >/dev/null &&
	sim_ctl POST /_sim/mailboxes/alice@contoso.com/items "{\"subject\":\"Team lunch\",\"start\":\"2027-02-05T11:00:00Z\",\"end\":\"2027-02-05T12:00:00Z\"}" >/dev/null
'

test_expect_success "$BACKEND: calendar of an equal mailbox: every row equal, exit 0, untagged only counted" '
	before=$(write_requests) &&
	leavesync calendar --mailbox alice@contoso.com $WINDOW >out &&
	cat out &&
	test_grep "6 leavesync events, 2 other events (not shown)" out &&
	test "$(grep -c "^=  *L-" out)" = 6 &&
	test_grep "0 differences" out &&
	test_grep_not "Dentist" out && test_grep_not "Team lunch" out &&
	leavesync calendar --mailbox Alice@Contoso.com $WINDOW --json >cal.json &&
	jq -e ".tagged == 6 and .untagged == 2 and .differences == 0 and (.items | length) == 6 and all(.items[]; .mark == \"=\" and .store.remote_id == .calendar.remote_id)" cal.json &&
	test_grep_not "Dentist" cal.json &&
	test "$(write_requests)" = "$before"
'

test_expect_success "$BACKEND: people, HR and a failure change things" '
	item_of L-1 && sim_ctl DELETE "/_sim/mailboxes/$mb/items/$id" >/dev/null &&
	item_of L-2 && sim_ctl PATCH "/_sim/mailboxes/$mb/items/$id" "{\"subject\":\"Edited by a person\"}" >/dev/null &&
	item_of L-3 && sim_ctl GET "/_sim/mailboxes/$mb/items/$id" |
		jq -c "{subject, body, start, \"end\": .end, is_all_day, show_as, sensitivity, categories, reminder_is_set, extended_properties}" >dup.json &&
	sim_ctl POST "/_sim/mailboxes/$mb/items" "$(cat dup.json)" >/dev/null &&
	sqlite3 leavesync.db "delete from leave where id = \"L-4\"" &&
	make_leave | grep "\"L-5\"" | sed -e "s/\"revision\":1/\"revision\":2/" -e "s/05-11/05-12/" | leavesync push - &&
	printf "{\"id\":\"L-9\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-09-01\",\"end\":\"2027-09-02\",\"status\":\"approved\"}\n" | leavesync push - &&
	sqlite3 leavesync.db "update target set state = \"failed\", attempts = 8, last_error = \"ErrorServerBusy: the server is busy\" where leave_id = \"L-8\""
'

test_expect_success "$BACKEND: calendar marks each difference as reconcile does, exits 1, writes nothing" '
	before=$(write_requests) && beliefs >beliefs.before &&
	test_expect_code 1 leavesync calendar --mailbox alice@contoso.com $WINDOW >out &&
	cat out &&
	test_grep "^missing  *L-1 " out && test_grep "^edited  *L-2 " out &&
	test_grep "subject" out &&
	test_grep "^duplicated  *L-3 " out && test_grep "^=  *L-3 " out &&
	test_grep "^orphaned  *L-4 " out &&
	test_grep "^pending  *L-9 " out &&
	test_grep "^=  *L-6 " out &&
	# a leave changed since the last sync, its event still the old one: reconcile calls
	# a target that is not synced but whose event exists "stuck" (and adopts it)
	test_grep "^stuck  *L-5 " out &&
	test_grep "5 differences" out &&
	test_grep_not "Dentist" out &&
	test_expect_code 1 leavesync calendar --mailbox alice@contoso.com $WINDOW --json >cal.json &&
	test "$(jq .differences cal.json)" = 5 && test "$(jq .untagged cal.json)" = 2 &&
	test "$(write_requests)" = "$before" &&
	beliefs >beliefs.after && test_cmp beliefs.before beliefs.after
'

test_expect_success "$BACKEND: its marks are exactly the findings of reconcile --dry-run, mailbox by mailbox" '
	for m in alice@contoso.com bob@contoso.com; do
		{ leavesync calendar --mailbox $m $WINDOW --json >cal.json; true; } &&
		{ leavesync reconcile --dry-run --mailbox $m $WINDOW --json >rec.json; true; } &&
		marks cal.json >got &&
		jq -c ".counts | with_entries(select(.value > 0))" rec.json >want &&
		echo "$m: calendar $(cat got), reconcile $(cat want)" &&
		jq -e --slurpfile w want ". == \$w[0]" got >/dev/null || return 1
	done &&
	test "$(marks cal.json)" = "{\"stuck\":1}"
'

test_expect_success "$BACKEND: after a reconcile the calendars equal the store" '
	leavesync reconcile $WINDOW >out; cat out &&
	leavesync calendar --mailbox alice@contoso.com $WINDOW >out &&
	cat out &&
	test "$(grep -c "^=  *L-" out)" = 6 && test_grep "0 differences" out &&
	leavesync calendar --mailbox bob@contoso.com $WINDOW >out
'

test_expect_success "$BACKEND: show tells the story of one leave: revisions, event, writes, drift" '
	leavesync show L-5 >out && cat out &&
	test_grep "^leave L-5: alice@contoso.com, revision 2, approved" out &&
	test_grep "revisions seen: 2" out &&
	test_grep "push  *revision 1 approved" out && test_grep "push  *revision 2 approved" out &&
	test_grep "created in alice@contoso.com" out && test_grep "updated in alice@contoso.com" out &&
	leavesync show L-2 --json >show.json &&
	jq -e "[.history.items[] | select(.source == \"drift\" and .kind == \"edited\" and .action == \"rewrite\" and .result == \"ok\" and .command == \"reconcile\")] | length == 1" show.json &&
	jq -e "[.history.items[] | select(.source == \"target\" and .action == \"updated\" and .command == \"reconcile\")] | length == 1" show.json &&
	jq -e ".state == \"synced\" and .targets[0].state == \"synced\" and (.targets[0].last_written | test(\"BEGIN:VEVENT\")) and .targets[0].backend == \"$BACKEND\"" show.json &&
	leavesync calendar --mailbox alice@contoso.com $WINDOW --json >cal.json &&
	jq -r ".targets[0].remote_id" show.json >a &&
	jq -r "[.items[] | select(.leave == \"L-2\")][0].calendar.remote_id" cal.json >b &&
	test_cmp a b
'

test_expect_success "$BACKEND: show of a missing event recreated, and of a deleted leave" '
	leavesync show L-1 --json >show.json &&
	jq -r "[.history.items[] | select(.source == \"target\") | .action] | join(\" \")" show.json >seq &&
	echo "rendered created forgotten created" >want && test_cmp want seq &&
	jq -e "[.history.items[] | select(.source == \"drift\")] | length == 1 and .[0].kind == \"missing\" and .[0].action == \"recreate\" and .[0].result == \"ok\"" show.json &&
	leavesync show L-4 >out && cat out &&
	test_grep "no longer in the store (deleted)" out &&
	test_grep "deleted from the store" out &&
	test_grep "deleted in alice@contoso.com" out
'

test_expect_success "$BACKEND: show of an unknown id exits 2 and says so" '
	test_expect_code 2 leavesync show NO-SUCH-LEAVE >out 2>err &&
	test_grep "no leave .NO-SUCH-LEAVE. in the store" err &&
	test_expect_code 2 leavesync show >out 2>err &&
	test_grep "usage: leavesync show" err
'

test_expect_success "$BACKEND: calendar refuses bad usage and names a mailbox it cannot read" '
	test_expect_code 2 leavesync calendar >out 2>err && test_grep "mailbox EMAIL is required" err &&
	test_expect_code 2 leavesync calendar --mailbox alice@contoso.com --from 2027-02-30x >out 2>err &&
	test_grep "expected a date" err &&
	test_expect_code 1 leavesync calendar --mailbox nobody@contoso.com $WINDOW >out 2>err &&
	cat err && test_grep "cannot read the calendar of nobody@contoso.com" err
'
