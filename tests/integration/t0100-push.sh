#!/bin/sh
# leavesync init + push: the three formats, all-or-nothing validation (every bad input of issue 2,
# each with its exit code, message, and a store left byte-for-byte unchanged), stale revisions,
# identical pushes, file modes, and a push while another process uses the store.

. "$(dirname "$0")/test-lib.sh"

dump() {
	sqlite3 leavesync.db .dump
}

cat >good.json <<'EOF'
[
  {"id": "LV-1", "mailbox": "Alice@Contoso.com", "kind": "Annual leave", "start": "2026-12-24",
   "end": "2026-12-31", "status": "approved", "revision": 3, "time_zone": "Europe/Riga",
   "note": "Back on 4 January"},
  {"id": "LV-2", "mailbox": "bob@contoso.com", "kind": "Sick leave", "start": "2027-01-04T13:00",
   "end": "2027-01-04T17:00", "status": "approved", "time_zone": "America/Los_Angeles"},
  {"id": "LV-3", "mailbox": "carol@contoso.com", "kind": "Annual leave", "start": "2027-03-26",
   "end": "2027-03-30", "status": "cancelled", "revision": 1}
]
EOF

test_expect_success 'init creates the store with mode 0600' '
	leavesync init &&
	test -f leavesync.db &&
	test "$(stat -c %a leavesync.db)" = 600
'

test_expect_success 'push a JSON array inserts every record' '
	leavesync push good.json >out 2>err &&
	test_grep "3 inserted" out &&
	test "$(sqlite3 leavesync.db "select count(*) from leave")" = 3 &&
	test "$(sqlite3 leavesync.db "select mailbox from leave where id = '\''LV-1'\''")" = alice@contoso.com
'

test_expect_success 'the -wal file is 0600 too' '
	test ! -e leavesync.db-wal || test "$(stat -c %a leavesync.db-wal)" = 600
'

test_expect_success 'the identical push writes nothing' '
	dump >before &&
	leavesync push good.json >out 2>err &&
	test_grep "3 unchanged" out &&
	dump >after &&
	test_cmp before after
'

test_expect_success 'push - --format ndjson: standard input, the option after FILE as documented' '
	cat >more.ndjson <<-\EOF &&
	{"id": "LV-4", "mailbox": "dave@contoso.com", "kind": "Training", "start": "2027-05-03", "end": "2027-05-03", "status": "approved"}

	{"id": "LV-5", "mailbox": "dave@contoso.com", "kind": "Training", "start": "2027-05-04", "end": "2027-05-05", "status": "approved", "note": null}
	EOF
	leavesync push - --format ndjson <more.ndjson >out &&
	test_grep "2 inserted" out &&
	test "$(sqlite3 leavesync.db "select time_zone || revision from leave where id = '\''LV-4'\''")" = UTC1
'

test_expect_success 'CSV with quoting: commas, doubled quotes and a CRLF line break in a note' '
	printf "%s\r\n" "id,mailbox,kind,start,end,status,revision,time_zone,note" \
		"LV-6,erin@contoso.com,Annual leave,2027-06-01,2027-06-02,approved,2,Europe/Riga,\"Away, \"\"really\"\"" \
		"back Monday\"" >leave.csv &&
	leavesync push leave.csv >out &&
	test_grep "1 inserted" out &&
	sqlite3 leavesync.db "select note from leave where id = '\''LV-6'\''" >note &&
	printf "Away, \"really\"\nback Monday\n" >expect &&
	test_cmp expect note
'

test_expect_success 'a lower revision is skipped with a notice, not an error' '
	sed -e "s/\"revision\": 3/\"revision\": 2/" -e "s/Back on 4 January/Back later/" good.json >stale.json &&
	sqlite3 leavesync.db ".dump leave leave_dirty" >before &&
	leavesync push stale.json >out 2>err &&
	test_grep "revision 2 is older than stored 3: skipped" err &&
	test_grep "1 stale" out &&
	sqlite3 leavesync.db ".dump leave leave_dirty" >after &&
	test_cmp before after &&
	# only the leave'"'"'s story notes it (leavesync show): HR sent an older revision
	test "$(sqlite3 leavesync.db "select outcome, revision, note from leave_revision where id = (select max(id) from leave_revision)")" = "stale|2|Back later"
'

test_expect_success 'a higher revision updates' '
	sed -e "s/\"revision\": 3/\"revision\": 4/" -e "s/Back on 4 January/Back on 5 January/" \
		good.json >newer.json &&
	leavesync push newer.json >out &&
	test_grep "1 updated" out &&
	test "$(sqlite3 leavesync.db "select note from leave where id = '\''LV-1'\''")" = "Back on 5 January"
'

# ---- the bad-input table: exit 2, the message, and the store unchanged ----

# bad_case NAME FORMAT EXPECTED <input: pushes the input, which must be refused.
bad_case() {
	BAD_NAME=$1 BAD_FMT=$2 BAD_WANT=$3
	cat >bad.in
	test_expect_success "push refuses $BAD_NAME" 'check_refused bad.in'
}

check_refused() {
	dump >before &&
	if [ -n "$BAD_FMT" ]; then set -- --format "$BAD_FMT" "$1"; fi &&
	test_expect_code 2 leavesync push "$@" >out 2>err &&
	if ! grep -F -q -- "$BAD_WANT" err; then
		echo "expected in stderr: $BAD_WANT" && sed "s/^/    /" err && return 1
	fi &&
	dump >after &&
	test_cmp before after
}

ok_rec='"mailbox": "a@contoso.com", "kind": "Annual leave", "status": "approved"'
HEAD=id,mailbox,kind,start,end,status,revision,time_zone,note

bad_case 'malformed JSON' '' 'push: record 2: malformed JSON at line 2' <<EOF
[{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-24"},
 {"id": "B", "mailbox": }]
EOF

bad_case 'malformed NDJSON' '' 'push: line 2: malformed JSON' <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-24"}
{"id": "B", $ok_rec, "start": "2026-12-24"
EOF

bad_case 'malformed CSV (unclosed quote)' csv 'push: line 2: malformed CSV: a quoted field is never closed' <<EOF
$HEAD
A,a@contoso.com,"Annual leave,2026-12-24,2026-12-24,approved,1,,
EOF

bad_case 'CSV with a wrong number of fields' csv 'push: line 3: 10 fields, but the header row has 9' <<EOF
$HEAD
A,a@contoso.com,Annual leave,2026-12-24,2026-12-24,approved,1,,
B,a@contoso.com,Annual leave, paid,2026-12-24,2026-12-24,approved,1,,
EOF

bad_case 'a missing field' '' 'push: line 1: end: missing' <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24"}
EOF

bad_case 'an unknown field' '' "push: line 1: colour: unknown field 'colour'" <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-24", "colour": "red"}
EOF

bad_case 'a missing CSV column' csv 'push: line 1: status: missing column' <<EOF
id,mailbox,kind,start,end
A,a@contoso.com,Annual leave,2026-12-24,2026-12-24
EOF

bad_case 'a date that does not exist' '' "push: line 1: start: '2026-02-30' is not a real date or time; expected YYYY-MM-DD (all day) or YYYY-MM-DDTHH:MM" <<EOF
{"id": "A", $ok_rec, "start": "2026-02-30", "end": "2026-03-02"}
EOF

bad_case 'a date in another form' '' "push: line 1: start: '24/12/2026' is not a date; expected YYYY-MM-DD" <<EOF
{"id": "A", $ok_rec, "start": "24/12/2026", "end": "2026-12-31"}
EOF

bad_case 'a bad date-time' '' "push: line 1: end: '2026-12-24T24:30' is not a real date or time" <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24T09:00", "end": "2026-12-24T24:30"}
EOF

bad_case 'start and end of different forms' '' 'push: line 1: end: end is a date-time but start is a date; use the same form for both' <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-24T12:00"}
EOF

bad_case 'an end before its start' '' 'push: line 1: end: 2026-12-20 is before start 2026-12-24' <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-20"}
EOF

bad_case 'a part-day leave ending before it starts' '' 'push: line 1: end: 2026-12-24T08:00 is before start 2026-12-24T09:00' <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24T09:00", "end": "2026-12-24T08:00"}
EOF

bad_case 'a leave longer than the default limit' '' 'push: line 1: end: the leave lasts 730 days, longer than the limit of 366 days' <<EOF
{"id": "A", $ok_rec, "start": "2026-01-01", "end": "2027-12-31"}
EOF

bad_case 'an invalid mailbox address' '' "push: line 1: mailbox: 'alice.contoso.com' is not a valid mailbox address; expected name@domain.tld" <<EOF
{"id": "A", "mailbox": "alice.contoso.com", "kind": "k", "status": "approved", "start": "2026-12-24", "end": "2026-12-24"}
EOF

bad_case 'a mailbox with a space' csv "push: line 2: mailbox: 'alice smith@contoso.com' is not a valid mailbox address" <<EOF
$HEAD
A,alice smith@contoso.com,Annual leave,2026-12-24,2026-12-24,approved,1,,
EOF

bad_case 'an unknown status' '' "push: line 1: status: 'Approved' is not a known status; expected approved or cancelled" <<EOF
{"id": "A", "mailbox": "a@contoso.com", "kind": "k", "status": "Approved", "start": "2026-12-24", "end": "2026-12-24"}
EOF

bad_case 'an unknown IANA time zone' '' "push: line 1: time_zone: 'Europe/Rigga' is not a known IANA time zone" <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-24", "time_zone": "Europe/Rigga"}
EOF

bad_case 'a Windows time zone name' csv "push: line 2: time_zone: 'FLE Standard Time' is not a known IANA time zone" <<EOF
$HEAD
A,a@contoso.com,Annual leave,2026-12-24,2026-12-24,approved,1,FLE Standard Time,
EOF

bad_case 'a duplicate id within the input' '' "push: line 3: id: duplicate id 'A' (first at line 1)" <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-24"}
{"id": "B", $ok_rec, "start": "2026-12-24", "end": "2026-12-24"}
{"id": "A", $ok_rec, "start": "2026-12-25", "end": "2026-12-25"}
EOF

bad_case 'an empty id' '' 'push: record 1: id: empty' <<EOF
[{"id": "", $ok_rec, "start": "2026-12-24", "end": "2026-12-24"}]
EOF

bad_case 'a fractional revision' '' 'push: line 1: revision: a number with a fraction; expected a whole number >= 0' <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-24", "revision": 1.5}
EOF

bad_case 'a revision in quotes' '' 'push: line 1: revision: a string; expected a whole number >= 0 without quotes' <<EOF
{"id": "A", $ok_rec, "start": "2026-12-24", "end": "2026-12-24", "revision": "3"}
EOF

bad_case 'a CSV revision that is not digits' csv 'push: line 2: revision: not a whole number; expected digits only' <<EOF
$HEAD
A,a@contoso.com,Annual leave,2026-12-24,2026-12-24,approved,3a,,
EOF

bad_case 'invalid UTF-8' csv 'push: line 2: kind: not valid UTF-8' <<EOF
$HEAD
A,a@contoso.com,Annual $(printf '\377') leave,2026-12-24,2026-12-24,approved,1,,
EOF

bad_case 'a control character' '' 'push: line 1: kind: contains a control character (U+0007' <<EOF
{"id": "A", "mailbox": "a@contoso.com", "kind": "Annual\u0007", "status": "approved", "start": "2026-12-24", "end": "2026-12-24"}
EOF

printf '{"id": "A", %s, "start": "2026-12-24", "end": "2026-12-24", "note": "%s"}\n' "$ok_rec" \
	"$(head -c 5000 /dev/zero | tr '\0' x)" >long-note.ndjson
test_expect_success 'push refuses a note over 4096 bytes' '
	BAD_FMT= BAD_WANT="push: line 1: note: 5000 bytes, longer than the limit of 4096 bytes" &&
	check_refused long-note.ndjson
'

test_expect_success 'every problem of every record is listed, and nothing of the good ones written' '
	cat >several.ndjson <<-EOF &&
	{"id": "OK-1", $ok_rec, "start": "2026-12-24", "end": "2026-12-24"}
	{"id": "X-1", $ok_rec, "start": "2026-12-24", "end": "2026-12-23", "time_zone": "Mars/Base"}
	{"id": "X-2", "mailbox": "nobody", "kind": "k", "status": "gone", "start": "2026-12-24", "end": "2026-12-24"}
	EOF
	dump >before &&
	test_expect_code 2 leavesync push several.ndjson 2>err &&
	test "$(grep -c "^push: line" err)" = 4 &&
	test_grep "^push: line 2: end: " err &&
	test_grep "^push: line 2: time_zone: " err &&
	test_grep "^push: line 3: mailbox: " err &&
	test_grep "^push: line 3: status: " err &&
	test_grep "nothing was written" err &&
	dump >after &&
	test_cmp before after
'

test_expect_success 'push refuses a file that does not exist' '
	dump >before &&
	test_expect_code 2 leavesync push no-such-file.json 2>err &&
	test_grep "no-such-file.json" err &&
	dump >after &&
	test_cmp before after
'

test_expect_success 'push refuses a file it cannot read (a directory)' '
	mkdir adir &&
	dump >before &&
	test_expect_code 2 leavesync push adir 2>err &&
	test_grep "adir" err &&
	dump >after &&
	test_cmp before after
'

# Root reads any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH): as root the push runs without those
# two capabilities (setpriv), so that the file modes apply to it as to any user. The check that
# cat cannot read the file either proves the case is really tested.
as_user() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --inh-caps=-dac_override,-dac_read_search \
			--bounding-set=-dac_override,-dac_read_search "$@"
	else
		"$@"
	fi
}

test_expect_success 'push refuses a file without read permission (also when run as root)' '
	cp good.json secret.json && chmod 000 secret.json &&
	test_must_fail as_user cat secret.json >/dev/null &&
	dump >before &&
	test_expect_code 2 as_user "$BUILD_DIR/leavesync" push secret.json 2>err &&
	test_grep "secret.json" err &&
	dump >after &&
	test_cmp before after
'

test_expect_success 'the longest leave comes from [sync] max_leave_days' '
	default_config && printf "[sync]\nmax_leave_days = 30\n" >>leavesync.conf &&
	printf "{\"id\": \"L\", %s, \"start\": \"2027-01-01\", \"end\": \"2027-01-31\"}\n" \
		"$ok_rec" >long.ndjson &&
	dump >before &&
	test_expect_code 2 leavesync push long.ndjson 2>err &&
	test_grep "the leave lasts 31 days, longer than the limit of 30 days" err &&
	dump >after &&
	test_cmp before after &&
	default_config
'

# hold_store SQL: a sqlite3 process runs SQL in an open transaction, then touches "held" and keeps
# the transaction until the file "release" exists (at most 120 s), then commits. No timing: the
# test waits for "held" and decides when to release.
hold_store() {
	rm -f held release
	( echo "$1" && echo ".shell touch held" &&
	  i=0 && while [ ! -e release ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done &&
	  echo "COMMIT;" ) | sqlite3 leavesync.db >/dev/null &
	holder=$!
}

test_expect_success 'a push waits for another process writing and succeeds' '
	printf "{\"id\": \"C-1\", %s, \"start\": \"2027-08-02\", \"end\": \"2027-08-02\"}\n" \
		"$ok_rec" >during.ndjson &&
	hold_store "BEGIN IMMEDIATE; INSERT INTO run (command, started_at) VALUES ('\''sync'\'', 1);" &&
	test_wait_for 60 test -e held &&
	{ leavesync push during.ndjson >out 2>err & pusher=$!; } &&
	sleep 1 && kill -0 $pusher &&
	touch release && wait $pusher && wait $holder &&
	test_grep "1 inserted" out &&
	test "$(sqlite3 leavesync.db "select count(*) from run")" = 1
'

test_expect_success 'a push succeeds while another process holds a read open' '
	printf "{\"id\": \"C-2\", %s, \"start\": \"2027-08-03\", \"end\": \"2027-08-03\"}\n" \
		"$ok_rec" >during2.ndjson &&
	hold_store "BEGIN; SELECT count(*) FROM leave;" &&
	test_wait_for 60 test -e held &&
	leavesync push during2.ndjson >out 2>err &&
	touch release && wait $holder &&
	test_grep "1 inserted" out
'

test_expect_success 'rows HR inserts with SQL are queued for the engine' '
	sqlite3 leavesync.db "INSERT INTO leave (id, mailbox, kind, starts, ends, time_zone, status, revision)
		VALUES ('\''SQL-1'\'', '\''f@contoso.com'\'', '\''Annual leave'\'', '\''2027-09-01'\'', '\''2027-09-02'\'', '\''UTC'\'', '\''approved'\'', 1)" &&
	test "$(sqlite3 leavesync.db "select count(*) from leave_dirty where leave_id = '\''SQL-1'\''")" = 1 &&
	test_must_fail sqlite3 leavesync.db "INSERT INTO leave (id, mailbox, kind, starts, ends, time_zone, status)
		VALUES ('\''SQL-2'\'', '\''f@contoso.com'\'', '\''k'\'', '\''2027-02-30'\'', '\''2027-03-01'\'', '\''UTC'\'', '\''approved'\'')" 2>err &&
	test_grep "starts must be a real YYYY-MM-DD" err
'

test_done
