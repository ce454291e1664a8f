# lib-sync.sh: the sync scenarios of issues 4 and 5, run once per backend (BACKEND=ews|graph, and
# MODE for graph). Sourced by t2000-sync-ews.sh and t2001-sync-graph.sh after test-lib.sh.

cat >leave.json <<'JSON'
[
 {"id":"LV-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2026-12-24","end":"2026-12-31","status":"approved","revision":1,"time_zone":"Europe/Riga","note":"Back on 4 January"},
 {"id":"LV-2","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-01-04","end":"2027-01-04","status":"approved","revision":1,"time_zone":"America/Los_Angeles"},
 {"id":"LV-3","mailbox":"carol@contoso.com","kind":"Annual leave","start":"2027-02-01","end":"2027-02-02","status":"approved","revision":1,"time_zone":"Asia/Kolkata"},
 {"id":"LV-4","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-03-01","end":"2027-03-01","status":"approved","revision":1,"time_zone":"Pacific/Kiritimati"},
 {"id":"LV-5","mailbox":"bob@contoso.com","kind":"Sick leave","start":"2027-01-10","end":"2027-01-11","status":"approved","revision":1,"time_zone":"UTC","note":"flu"},
 {"id":"LV-6","mailbox":"carol@contoso.com","kind":"Annual leave","start":"2027-03-26","end":"2027-03-30","status":"approved","revision":1,"time_zone":"Europe/Riga"},
 {"id":"LV-7","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-01-15T13:00","end":"2027-01-15T17:00","status":"approved","revision":1,"time_zone":"America/Los_Angeles"},
 {"id":"LV-8","mailbox":"dave@contoso.com","kind":"Annual leave","start":"2027-01-20","end":"2027-01-22","status":"cancelled","revision":1,"time_zone":"UTC"}
]
JSON

# event MAILBOX LEAVE: the calendar item leavesync wrote for a leave (found by its sync key).
event() {
	key=$(sqlite3 "$TRASH/leavesync.db" "select sync_key from target where leave_id='$2'")
	calendar "$1" | jq -c --arg k "$key" '[.[] | select(any(.extended_properties[]; .value == $k))]'
}

# expect_event MAILBOX LEAVE START END: exactly one event, with these UTC boundaries.
expect_event() {
	event "$1" "$2" >ev.json &&
	test "$(jq length ev.json)" = 1 &&
	jq -e --arg s "$3" --arg e "$4" '.[0].start == $s and .[0].end == $e' ev.json >/dev/null ||
	{ echo "event of $2 in $1:"; cat ev.json; return 1; }
}

test_expect_success "$BACKEND: setup: simulator, config, store, leave" '
	sim_start ${SIM_ARGS:-} &&
	write_config $BACKEND $MODE &&
	printf "\n[kind \"Annual leave\"]\ncategories = Leave\nsubject = {kind}\n" >>leavesync.conf &&
	leavesync init &&
	leavesync push leave.json
'

test_expect_success "$BACKEND: sync writes every approved leave, none for cancelled" '
	leavesync sync >out &&
	test_grep "7 created" out &&
	test "$(calendar alice@contoso.com | jq length)" = 3 &&
	test "$(calendar bob@contoso.com | jq length)" = 2 &&
	test "$(calendar carol@contoso.com | jq length)" = 2 &&
	test "$(calendar dave@contoso.com | jq length)" = 0
'

test_expect_success "$BACKEND: all-day boundaries are midnight in the leave zone" '
	expect_event alice@contoso.com LV-1 2026-12-23T22:00:00Z 2026-12-31T22:00:00Z &&
	expect_event bob@contoso.com LV-2 2027-01-04T08:00:00Z 2027-01-05T08:00:00Z &&
	expect_event carol@contoso.com LV-3 2027-01-31T18:30:00Z 2027-02-02T18:30:00Z &&
	expect_event alice@contoso.com LV-4 2027-02-28T10:00:00Z 2027-03-01T10:00:00Z &&
	expect_event bob@contoso.com LV-5 2027-01-10T00:00:00Z 2027-01-12T00:00:00Z
'

test_expect_success "$BACKEND: a leave across the DST change keeps local midnights" '
	expect_event carol@contoso.com LV-6 2027-03-25T22:00:00Z 2027-03-30T21:00:00Z
'

test_expect_success "$BACKEND: a partial day is a timed event in its zone" '
	expect_event alice@contoso.com LV-7 2027-01-15T21:00:00Z 2027-01-16T01:00:00Z &&
	event alice@contoso.com LV-7 | jq -e ".[0].is_all_day == false" >/dev/null
'

# jq's all() is true of an empty list: each check first says how many events it looks at.
test_expect_success "$BACKEND: events are OOF, private, without reminder, categorised, tagged" '
	calendar alice@contoso.com >cal.json &&
	jq -e "length == 3 and all(.[]; .show_as == \"OOF\" and .sensitivity == \"Private\" and .reminder_is_set == false)" cal.json &&
	jq -e "[.[] | select(.subject == \"Annual leave\")] | length == 3 and all(.[]; .categories == [\"Leave\"])" cal.json &&
	jq -e "length == 3 and all(.[]; any(.extended_properties[]; .set_id == \"0c6f5a4e-8d1b-4c39-9e2a-5b7d3f1a6c20\" and .name == \"LeaveSyncKey\" and (.value | test(\"^[0-9a-f-]{36}$\"))))" cal.json
'

test_expect_success "$BACKEND: sick leave shows no reason and no note" '
	event bob@contoso.com LV-5 >ev.json &&
	jq -e ".[0].subject == \"Out of office\" and ((.[0].body // \"\") | test(\"flu\") | not)" ev.json
'

test_expect_success "$BACKEND: a second sync sends no write request" '
	before=$(write_requests) &&
	leavesync sync >out &&
	test_grep "0 created, 0 updated, 0 deleted" out &&
	test "$(write_requests)" = "$before"
'

test_expect_success "$BACKEND: untagged personal events are in the calendar" '
	sim_ctl POST /_sim/mailboxes/alice@contoso.com/items "{\"subject\":\"Dentist\",\"start\":\"2026-12-28T09:00:00Z\",\"end\":\"2026-12-28T10:00:00Z\"}" >personal.json &&
	calendar alice@contoso.com | jq -e "any(.[]; .subject == \"Dentist\")"
'

test_expect_success "$BACKEND: an updated leave rewrites the same event" '
	id_before=$(event alice@contoso.com LV-1 | jq -r ".[0].immutable_id") &&
	echo "{\"id\":\"LV-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2026-12-24\",\"end\":\"2027-01-02\",\"status\":\"approved\",\"revision\":2,\"time_zone\":\"Europe/Riga\"}" | leavesync push - &&
	leavesync sync >out &&
	test_grep "1 updated" out &&
	expect_event alice@contoso.com LV-1 2026-12-23T22:00:00Z 2027-01-02T22:00:00Z &&
	test "$(event alice@contoso.com LV-1 | jq -r ".[0].immutable_id")" = "$id_before"
'

test_expect_success "$BACKEND: a stale revision is ignored with a notice" '
	echo "{\"id\":\"LV-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2026-12-24\",\"end\":\"2026-12-25\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"Europe/Riga\"}" | leavesync push - 2>err &&
	test_grep "stale\|older" err &&
	leavesync sync >out && test_grep "0 updated" out
'

test_expect_success "$BACKEND: a cancelled leave disappears" '
	echo "{\"id\":\"LV-2\",\"mailbox\":\"bob@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-01-04\",\"end\":\"2027-01-04\",\"status\":\"cancelled\",\"revision\":2,\"time_zone\":\"America/Los_Angeles\"}" | leavesync push - &&
	leavesync sync >out &&
	test_grep "1 deleted" out &&
	test "$(calendar bob@contoso.com | jq length)" = 1 &&
	test "$(sqlite3 leavesync.db "select count(*) from target where leave_id=\"LV-2\"")" = 0
'

test_expect_success "$BACKEND: resync of one leave rewrites exactly that event" '
	before=$(write_requests) &&
	leavesync resync --leave LV-3 >out &&
	test_grep "1 updated" out &&
	test "$(write_requests)" -gt "$before"
'

test_expect_success "$BACKEND: resync of a mailbox and of everything" '
	leavesync resync --mailbox alice@contoso.com >out &&
	test_grep "3 updated" out &&
	leavesync resync --all >out &&
	test_grep "6 updated" out &&
	leavesync sync >out && test_grep "0 updated" out
'

test_expect_success "$BACKEND: a user edit (stale change key) is overwritten and recorded as drift" '
	id=$(event bob@contoso.com LV-5 | jq -r ".[0].ews_id") &&
	sim_ctl PATCH "/_sim/mailboxes/bob@contoso.com/items/$id" "{\"subject\":\"Party!\"}" >/dev/null &&
	echo "{\"id\":\"LV-5\",\"mailbox\":\"bob@contoso.com\",\"kind\":\"Sick leave\",\"start\":\"2027-01-10\",\"end\":\"2027-01-12\",\"status\":\"approved\",\"revision\":2,\"time_zone\":\"UTC\"}" | leavesync push - &&
	leavesync sync >out &&
	test_grep "1 updated" out &&
	expect_event bob@contoso.com LV-5 2027-01-10T00:00:00Z 2027-01-13T00:00:00Z &&
	event bob@contoso.com LV-5 | jq -e ".[0].subject == \"Out of office\"" &&
	test "$(sqlite3 leavesync.db "select kind from drift where leave_id=\"LV-5\"")" = edited
'

test_expect_success "$BACKEND: a user delete is repaired by recreating the event" '
	id=$(event carol@contoso.com LV-3 | jq -r ".[0].ews_id") &&
	sim_ctl DELETE "/_sim/mailboxes/carol@contoso.com/items/$id" >/dev/null &&
	echo "{\"id\":\"LV-3\",\"mailbox\":\"carol@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-02-01\",\"end\":\"2027-02-03\",\"status\":\"approved\",\"revision\":2,\"time_zone\":\"Asia/Kolkata\"}" | leavesync push - &&
	leavesync sync >out &&
	expect_event carol@contoso.com LV-3 2027-01-31T18:30:00Z 2027-02-03T18:30:00Z &&
	test "$(sqlite3 leavesync.db "select kind from drift where leave_id=\"LV-3\"")" = missing
'

test_expect_success "$BACKEND: the personal event was never touched" '
	calendar alice@contoso.com | jq -e --slurpfile p personal.json "[.[] | select(.subject == \"Dentist\")] | length == 1 and .[0].change_key == \$p[0].change_key"
'

test_expect_success "$BACKEND: status shows the counts and the runs" '
	leavesync status --json >st.json &&
	jq -e ".targets.synced == 6 and .queued == 0 and (.runs | length) > 0" st.json
'

test_expect_success "$BACKEND: a missing secret is one configuration error (exit 2), not a failure per item" '
	echo "{\"id\":\"LV-9\",\"mailbox\":\"carol@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-05-03\",\"end\":\"2027-05-04\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}" | leavesync push - &&
	(unset LEAVESYNC_EWS_CLIENT_SECRET LEAVESYNC_GRAPH_CLIENT_SECRET; test_expect_code 2 leavesync sync >out 2>err) &&
	test "$(wc -l <err)" = 1 && test_grep "client_secret" err &&
	test "$(sqlite3 leavesync.db "select state from target where leave_id = \"LV-9\"")" = pending &&
	leavesync sync >out && test_grep "1 created" out
'

# The lock holder says when it holds the lock and keeps it until told (at most 120 s): no timing.
test_expect_success "$BACKEND: one run at a time per store; a push still works during it" '
	rm -f held release &&
	flock leavesync.db.lock sh -c "touch held; i=0; while [ ! -e release ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done" &
	holder=$! &&
	test_wait_for 60 test -e held &&
	test_expect_code 75 leavesync sync >out 2>err &&
	test_grep "nothing was done" err &&
	echo "{\"id\":\"LV-10\",\"mailbox\":\"carol@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-05-10\",\"end\":\"2027-05-10\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}" | leavesync push - &&
	touch release && wait $holder &&
	leavesync sync >out && test_grep "1 created" out
'
