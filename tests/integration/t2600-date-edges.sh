#!/bin/sh
# t2600: dates at the edges, both backends against m365sim (docs/store.md "Dates"): the supported range
# 1970-01-01..2199-12-31 is enforced at push; a row written by SQL outside it fails at render (never
# written as year 0); all-day leave on a day without a local midnight (America/Santiago 2027-09-05,
# the day after Asia/Beirut 2027-03-27) is written midnight to midnight in UTC by both backends
# (Exchange would move a missing midnight to the next one and add a day), read back without drift;
# a leave whose own boundaries have midnights keeps its zone across such a day; a second sync sends
# nothing.
test_description='date range and all-day leave on days without a local midnight'
. "$(dirname "$0")/test-lib.sh"

cat >edges.json <<'JSON'
[
 {"id":"SCL","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-09-05","end":"2027-09-05","status":"approved","time_zone":"America/Santiago"},
 {"id":"BEY","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-03-27","end":"2027-03-27","status":"approved","time_zone":"Asia/Beirut"},
 {"id":"SCL2","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-09-03","end":"2027-09-06","status":"approved","time_zone":"America/Santiago"}
]
JSON

# event MAILBOX LEAVE: the calendar item written for a leave (found by its sync key).
event() {
	key=$(sqlite3 "$TRASH/leavesync.db" "select sync_key from target where leave_id='$2'")
	calendar "$1" | jq -c --arg k "$key" '[.[] | select(any(.extended_properties[]; .value == $k))]'
}

leave_count() {
	sqlite3 leavesync.db "select count(*) from leave"
}

for BACKEND in ews graph; do

test_expect_success "$BACKEND: setup" '
	sim_stop && rm -rf leavesync.db* &&
	sim_start &&
	write_config $BACKEND &&
	leavesync init
'

test_expect_success "$BACKEND: push refuses dates outside 1970-01-01..2199-12-31, nothing written" '
	printf "%s\n" \
	 "{\"id\":\"OPEN\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-01-04\",\"end\":\"9999-12-31\",\"status\":\"approved\"}" \
	 "{\"id\":\"OLD\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"0001-01-01T00:00\",\"end\":\"0001-01-01T08:00\",\"status\":\"approved\",\"time_zone\":\"Pacific/Kiritimati\"}" >range.ndjson &&
	test_expect_code 2 leavesync push range.ndjson 2>err &&
	cat err &&
	test_grep "line 1: end: .9999-12-31. is outside the dates leavesync supports, 1970-01-01 to 2199-12-31" err &&
	test_grep "line 2: start: .0001-01-01T00:00. is outside the dates leavesync supports" err &&
	test "$(leave_count)" = 0
'

test_expect_success "$BACKEND: all-day leave on days without a local midnight is written" '
	leavesync push edges.json &&
	leavesync sync >out 2>&1 &&
	cat out &&
	test_grep "3 created, 0 updated, 0 deleted, 0 adopted, 0 unchanged, 0 failed" out &&
	for l in SCL BEY; do
		event alice@contoso.com $l >ev.json &&
		test "$(jq length ev.json)" = 1 && jq -e ".[0].is_all_day" ev.json >/dev/null ||
			{ echo "$l:"; cat ev.json; return 1; }
	done &&
	event bob@contoso.com SCL2 >ev.json && test "$(jq length ev.json)" = 1
'

test_expect_success "$BACKEND: each covers exactly its dates, midnight to midnight UTC" '
	event alice@contoso.com SCL | jq -r ".[0] | [.start, .end] | @tsv" >scl &&
	event alice@contoso.com BEY | jq -r ".[0] | [.start, .end] | @tsv" >bey &&
	cat scl bey &&
	printf "2027-09-05T00:00:00Z\t2027-09-06T00:00:00Z\n" >expect.scl &&
	printf "2027-03-27T00:00:00Z\t2027-03-28T00:00:00Z\n" >expect.bey &&
	test_cmp expect.scl scl && test_cmp expect.bey bey &&
	event bob@contoso.com SCL2 | jq -r ".[0] | [.start, .end] | @tsv" >scl2 &&
	printf "2027-09-03T04:00:00Z\t2027-09-07T03:00:00Z\n" >expect.scl2 &&
	test_cmp expect.scl2 scl2
'

test_expect_success "$BACKEND: a second sync sends nothing; reconcile finds no drift" '
	leavesync sync >out 2>&1 &&
	test_grep "0 created, 0 updated, 0 deleted" out &&
	leavesync reconcile --json >reconcile.json &&
	jq -c .findings reconcile.json &&
	jq -e ".findings == []" reconcile.json >/dev/null
'

# Direct SQL is not checked by push: such a row must fail at render, never be written as year 0.
test_expect_success "$BACKEND: a row written by SQL in year 0001 fails at render, nothing written as year 0" '
	sqlite3 leavesync.db "insert into leave (id, mailbox, kind, starts, ends, time_zone, status) values (\"Y1\", \"alice@contoso.com\", \"Annual leave\", \"0001-01-01T00:00\", \"0001-01-01T08:00\", \"Pacific/Kiritimati\", \"approved\")" &&
	test_expect_code 1 leavesync sync >out 2>&1 &&
	cat out &&
	test_grep "1 item failed: alice@contoso.com Y1: the leave cannot be rendered: start \"0001-01-01T00:00\" or end \"0001-01-01T08:00\" is outside the dates leavesync supports, 1970-01-01 to 2199-12-31" out &&
	calendar alice@contoso.com >cal.json &&
	test "$(jq length cal.json)" = 2 &&
	test "$(jq "[.[] | select(.start | startswith(\"20\") | not)] | length" cal.json)" = 0 &&
	test_expect_code 2 leavesync export --ics >cal.ics 2>err &&
	test_grep "export: leave Y1: start .* is outside the dates leavesync supports" err &&
	test_grep_not "BEGIN:VEVENT" cal.ics &&
	sqlite3 leavesync.db "delete from leave where id = \"Y1\"" &&
	leavesync sync >out 2>&1 &&
	test_grep "0 failed" out
'

done

test_done
