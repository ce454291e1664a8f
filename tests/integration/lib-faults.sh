# lib-faults.sh: sync and reconcile under the simulator's faults (issue 8, item 4), run once per
# backend (BACKEND, MODE; THROTTLE_FAULT: the backend's own throttling fault; CREATED_COUNTER: the
# simulator counter of items written by creates). Sourced by t4000-faults-ews.sh and
# t4001-faults-graph.sh after test-lib.sh.
#
# Each scenario pushes fresh leave entries (or changes), syncs under one kind of fault, and ends with
# every calendar equal to the store: each approved leave has exactly one event, at the right times
# (no lost update), no cancelled or unknown leave has one, the personal event is untouched, and the
# simulator created each event exactly once. Retry-After values are short (0.2 s) to keep it fast.

TENANT_PATH=/$DEMO_TENANT/oauth2
RECONCILE_WINDOW="--from 2025-11-01 --to 2028-06-01" # gen-leave writes 2026-01-01 .. 2027-12

check_calendars() {
	/usr/bin/python3 "$TEST_DIR/clients/check_calendars.py" "$TRASH/leavesync.db" "$SIM_URL" "$SIM_CA" \
		--expect-untagged 1
}

# check_times: every approved leave's event starts and ends at the UTC instants its leave row gives
# (all-day: local midnights in the leave's zone, end inclusive; part-day: local times).
cat >"$TRASH/check_times.py" <<'PY'
import datetime, json, sqlite3, ssl, sys, urllib.request, zoneinfo
PROPSET = "0c6f5a4e-8d1b-4c39-9e2a-5b7d3f1a6c20"
store, url, ca = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
rows = sqlite3.connect(store).execute(
    "SELECT t.sync_key, t.mailbox, l.id, l.starts, l.ends, l.time_zone FROM target t JOIN leave l"
    " ON l.id = t.leave_id AND l.mailbox = t.mailbox WHERE l.status = 'approved'").fetchall()
events = {}
for mb in sorted({r[1] for r in rows}):
    with urllib.request.urlopen(f"{url}/_sim/mailboxes/{mb}", context=ctx) as r:
        for it in json.load(r).get("items", []):
            if it.get("deleted") or it.get("folder") != "calendar":
                continue
            for p in it.get("extended_properties", []):
                if p["set_id"].lower() == PROPSET:
                    events.setdefault(p["value"], []).append(it)
def utc(local, tz):
    return local.replace(tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
bad = 0
for key, mb, leave, starts, ends, tz in rows:
    s, e = datetime.datetime.fromisoformat(starts), datetime.datetime.fromisoformat(ends)
    if "T" not in ends:
        e += datetime.timedelta(days=1)
    want = (utc(s, tz), utc(e, tz))
    evs = events.get(key, [])
    got = [(ev["start"], ev["end"]) for ev in evs]
    if got != [want]:
        bad += 1
        if bad <= 10:
            print(f"{mb} {leave}: want {want}, calendar has {got}")
print(f"# {len(rows)} approved leave checked, {bad} with wrong or missing times")
sys.exit(1 if bad else 0)
PY
check_times() {
	/usr/bin/python3 "$TRASH/check_times.py" "$TRASH/leavesync.db" "$SIM_URL" "$SIM_CA"
}

# calendars_equal_store: the end state every scenario must reach.
calendars_equal_store() {
	check_calendars && check_times
}

fault() {
	sim_ctl POST /_sim/faults "$1" >/dev/null
}

no_faults() {
	sim_ctl DELETE /_sim/faults >/dev/null
}

# fired KIND: the fault fired at least once (the scenario tested what it claims to).
fired() {
	n=$(counter "faults.$1")
	test "$n" -gt 0 || { echo "fault $1 never fired"; return 1; }
	echo "fault $1 fired $n times"
}

# push_new TAG COUNT SEED: COUNT new leave entries with ids TAG-..., in TAG.ndjson, pushed.
push_new() {
	"$SRC_DIR/tools/gen-leave" --count "$2" --mailboxes 5 --seed "$3" | sed "s/\"LV-/\"$1-/" >"$1.ndjson" &&
	leavesync push "$1.ndjson" >/dev/null
}

# push_changes FILE REVISION: the entries of FILE again at REVISION, every third one moved a day later
# and every tenth one (another third) cancelled.
push_changes() {
	jq -nc --argjson rev "$2" '
		def later: if test("T") then strptime("%Y-%m-%dT%H:%M") | mktime + 86400 | strftime("%Y-%m-%dT%H:%M")
			else strptime("%Y-%m-%d") | mktime + 86400 | strftime("%Y-%m-%d") end;
		[inputs] | to_entries[] | .key as $i | .value | .revision = $rev |
		if $i % 3 == 0 then .start |= later | .end |= later
		elif $i % 10 == 1 then .status = "cancelled" else . end' "$1" >"changes.$2.ndjson" &&
	leavesync push "changes.$2.ndjson" >/dev/null
}

approved_in() {
	grep -c '"approved"' "$1"
}

# sync_ok: a sync that must finish everything (exit 0); shows its output when it does not.
sync_ok() {
	leavesync sync >out 2>err || { echo "sync exit $?"; cat out; head -n 20 err; return 1; }
	cat out
}

# created_once FILE: since the counters were reset the simulator created each approved entry of FILE
# exactly once (a retried create that had happened was found by its sync key, not sent again).
created_once() {
	want=$(approved_in "$1") &&
	got=$(counter "$CREATED_COUNTER") &&
	echo "approved $want, created $got" &&
	test "$got" = "$want"
}

begin_scenario() {
	no_faults && sim_ctl POST /_sim/counters/reset >/dev/null
}

test_expect_success "$BACKEND: setup: 150 leave entries in 5 mailboxes, one personal event" '
	"$SRC_DIR/tools/gen-fixture" --mailboxes 5 -o fixture.json &&
	sim_start --fixture fixture.json &&
	write_config $BACKEND $MODE &&
	# A create without a definite answer is looked up no sooner than create_grace after it was
	# sent (docs/sync-states.md): a short grace lets each scenario finish in one sync.
	config_set sync create_grace 1 &&
	sed -i "/^\[ews\]$/a batch_size = 10" leavesync.conf &&
	printf "batch_size = 10\n" >>leavesync.conf &&
	"$SRC_DIR/tools/gen-leave" --count 150 --mailboxes 5 --seed 7 -o LV.ndjson &&
	leavesync init && leavesync push LV.ndjson >/dev/null &&
	sim_ctl POST /_sim/mailboxes/user00001@contoso.com/items "{\"subject\":\"Personal\",\"start\":\"2026-06-01T09:00:00Z\",\"end\":\"2026-06-01T10:00:00Z\"}" >personal.json
'

test_expect_success "$BACKEND: throttling with Retry-After (429, $THROTTLE_FAULT)" '
	begin_scenario &&
	fault "{\"kind\":\"$THROTTLE_FAULT\",\"share\":0.25,\"retry_after\":0.2}" &&
	fault "{\"kind\":\"http429\",\"share\":0.15,\"retry_after\":0.2}" &&
	sync_ok && test_grep "$(approved_in LV.ndjson) created" out &&
	fired $THROTTLE_FAULT && fired http429 &&
	created_once LV.ndjson &&
	calendars_equal_store
'

test_expect_success "$BACKEND: throttling without Retry-After (429, 503: the engine backs off)" '
	begin_scenario && push_new NORA 80 11 &&
	fault "{\"kind\":\"http429\",\"share\":0.2}" &&
	fault "{\"kind\":\"http503\",\"share\":0.25}" &&
	sync_ok && fired http503 && fired http429 &&
	created_once NORA.ndjson &&
	calendars_equal_store
'

test_expect_success "$BACKEND: a burst of six 503s, the token endpoint first" '
	begin_scenario && push_new BURST 60 12 &&
	fault "{\"kind\":\"http503\",\"next\":6}" &&
	sync_ok &&
	test "$(counter faults.http503)" = 6 &&
	created_once BURST.ndjson &&
	calendars_equal_store
'

test_expect_success "$BACKEND: latency spikes of 700 ms" '
	begin_scenario && push_new SLOW 60 13 &&
	fault "{\"kind\":\"latency\",\"share\":0.3,\"latency_ms\":700}" &&
	sync_ok && fired latency &&
	created_once SLOW.ndjson &&
	calendars_equal_store
'

test_expect_success "$BACKEND: connections dropped mid-response before the server acted" '
	begin_scenario && push_new DROP 80 14 &&
	fault "{\"kind\":\"drop\",\"share\":0.15}" &&
	sync_ok && fired drop &&
	created_once DROP.ndjson &&
	calendars_equal_store
'

test_expect_success "$BACKEND: updates and deletes whose responses are dropped after the server committed" '
	begin_scenario && push_changes LV.ndjson 2 &&
	fault "{\"kind\":\"drop\",\"share\":0.2,\"after_commit\":true}" &&
	sync_ok && fired drop &&
	test_grep " [1-9][0-9]* updated" out &&
	calendars_equal_store
'

test_expect_success "$BACKEND: tokens expire mid-run (3 s lifetime; requests take 0.4 s, some 1.2 s)" '
	begin_scenario && push_new TOK 60 15 && push_changes DROP.ndjson 3 &&
	sim_ctl POST /_sim/token-lifetime "{\"seconds\":3}" >/dev/null &&
	fault "{\"kind\":\"latency\",\"share\":0.3,\"latency_ms\":1200}" &&
	fault "{\"kind\":\"latency\",\"share\":1,\"latency_ms\":400}" &&
	sync_ok && fired latency &&
	sim_ctl POST /_sim/token-lifetime "{\"seconds\":3600}" >/dev/null &&
	tokens=$(counter token) && echo "tokens fetched: $tokens" && test "$tokens" -ge 2 &&
	calendars_equal_store
'

test_expect_success "$BACKEND: the service calls tokens expired (401 token_expired)" '
	begin_scenario && push_new EXP 60 20 && push_changes SLOW.ndjson 6 &&
	fault "{\"kind\":\"token_expired\",\"share\":0.1}" &&
	sync_ok && fired token_expired &&
	calendars_equal_store
'

test_expect_success "$BACKEND: truncated bodies, the token response too" '
	begin_scenario && push_new TRUNC 80 16 && push_changes NORA.ndjson 4 &&
	fault "{\"kind\":\"truncate\",\"next\":1,\"path_prefix\":\"$TENANT_PATH\"}" &&
	fault "{\"kind\":\"truncate\",\"share\":0.15}" &&
	sync_ok && fired truncate &&
	calendars_equal_store
'

test_expect_success "$BACKEND: malformed bodies, the token response too" '
	begin_scenario && push_new MALF 80 17 && push_changes TOK.ndjson 5 &&
	fault "{\"kind\":\"malformed\",\"next\":1,\"path_prefix\":\"$TENANT_PATH\"}" &&
	fault "{\"kind\":\"malformed\",\"share\":0.15}" &&
	sync_ok && fired malformed &&
	calendars_equal_store
'

test_expect_success "$BACKEND: a proxy answers with an HTML page (502, and 200 OK)" '
	begin_scenario && push_new HTML 80 18 &&
	fault "{\"kind\":\"html\",\"next\":1,\"path_prefix\":\"$TENANT_PATH\"}" &&
	fault "{\"kind\":\"html\",\"share\":0.15}" &&
	fault "{\"kind\":\"html\",\"share\":0.05,\"status\":200}" &&
	sync_ok && fired html &&
	created_once HTML.ndjson &&
	calendars_equal_store
'

test_expect_success "$BACKEND: a persistent outage: sync exits 1 naming the URL, the status and what to do" '
	begin_scenario && push_new DOWN 30 19 &&
	fault "{\"kind\":\"$PERSIST_FAULT\",\"share\":1,\"retry_after\":0.2,\"path_prefix\":\"$SERVICE_PATH\"}" &&
	test_expect_code 1 leavesync sync >out 2>err &&
	head -n 3 err &&
	test_grep "$(approved_in DOWN.ndjson) waiting" out &&
	test_grep "$SIM_URL$SERVICE_PATH" err &&
	test_grep "$PERSIST_STATUS" err &&
	test_grep "[Nn]othing.*[Rr]etr.*Retry-After" err &&
	test "$(counter "$CREATED_COUNTER")" = 0 &&
	leavesync status >st.txt && test_grep "queued for the next sync: $(approved_in DOWN.ndjson)" st.txt
'

test_expect_success "$BACKEND: once the outage is over the next run completes" '
	begin_scenario &&
	# the run is due after its backoff (a minute and more): let that time pass
	sqlite3 leavesync.db "update target set next_attempt = 0 where dirty" &&
	sync_ok && test_grep "$(approved_in DOWN.ndjson) created" out &&
	created_once DOWN.ndjson &&
	calendars_equal_store
'

# item_of LEAVE: the mailbox and simulator id of the event written for a leave (as lib-reconcile.sh).
item_of() {
	key=$(sqlite3 "$TRASH/leavesync.db" "select sync_key from target where leave_id='$1'") &&
	mb=$(sqlite3 "$TRASH/leavesync.db" "select mailbox from target where leave_id='$1'") &&
	id=$(calendar "$mb" | jq -r --arg k "$key" '[.[] | select(any(.extended_properties[]; .value == $k))][0].ews_id')
}

# synced_leave N SKIP: N approved leave ids that have an event, after skipping SKIP.
synced_leave() {
	sqlite3 "$TRASH/leavesync.db" "select t.leave_id from target t join leave l on l.id = t.leave_id
		where l.status = 'approved' and t.remote_id is not null order by t.id limit $1 offset $2"
}

# People change the calendars: delete, edit, and copy (a duplicate carrying the same tag) events.
person_deletes() {
	for l in "$@"; do
		item_of "$l" && sim_ctl DELETE "/_sim/mailboxes/$mb/items/$id" >/dev/null || return 1
	done
}

person_edits() {
	for l in "$@"; do
		item_of "$l" && sim_ctl PATCH "/_sim/mailboxes/$mb/items/$id" \
			"{\"subject\":\"Edited by a person\",\"start\":\"2026-06-01T08:00:00Z\",\"end\":\"2026-06-01T16:00:00Z\",\"is_all_day\":false}" \
			>/dev/null || return 1
	done
}

person_copies() {
	for l in "$@"; do
		item_of "$l" && sim_ctl GET "/_sim/mailboxes/$mb/items/$id" |
			jq -c '{subject, body, start, "end": .end, is_all_day, show_as, sensitivity, categories, reminder_is_set, extended_properties}' >dup.json &&
		sim_ctl POST "/_sim/mailboxes/$mb/items" "$(cat dup.json)" >/dev/null || return 1
	done
}

# list_path N: the path of mailbox user0000N's listing requests (EWS has one path for everything).
list_path() {
	case $BACKEND in
	graph) echo "/v1.0/users/user0000$1" ;;
	*) echo /EWS/Exchange.asmx ;;
	esac
}

# drift: people delete 3 events, edit 3 and copy 2 (duplicates carrying the tag), SKIP leave in.
drift() {
	person_deletes $(synced_leave 3 "$1") &&
	person_edits $(synced_leave 3 $(($1 + 3))) &&
	person_copies $(synced_leave 2 $(($1 + 6))) &&
	test_must_fail calendars_equal_store >/dev/null
}

# reconciled: reconcile.json found and repaired exactly the drift of `drift`.
reconciled() {
	jq -c ".counts, .repair" reconcile.json &&
	jq -e ".counts.unlisted == 0 and .counts.missing == 3 and .counts.edited == 3 and
		.counts.duplicated == 2 and .unrepaired == 0" reconcile.json >/dev/null
}

test_expect_success \
	"$BACKEND: reconcile retries listings that are throttled, refused or cut short" '
	begin_scenario && drift 0 &&
	fault "{\"kind\":\"http503\",\"next\":1,\"retry_after\":0.2,\"path_prefix\":\"$(list_path 0)\"}" &&
	fault "{\"kind\":\"truncate\",\"next\":1,\"path_prefix\":\"$(list_path 1)\"}" &&
	fault "{\"kind\":\"drop\",\"next\":1,\"path_prefix\":\"$(list_path 2)\"}" &&
	fault "{\"kind\":\"$THROTTLE_FAULT\",\"next\":1,\"retry_after\":0.2,\"path_prefix\":\"$(list_path 3)\"}" &&
	{ leavesync reconcile $RECONCILE_WINDOW --json >reconcile.json 2>err ||
		{ echo "reconcile exit $?"; jq -c ".findings[] | select(.kind == \"unlisted\") | .result" reconcile.json; false; }; } &&
	reconciled && calendars_equal_store
'

test_expect_success "$BACKEND: reconcile under faults repairs the drift, or names what it could not do for the next run" '
	begin_scenario && no_faults && leavesync reconcile $RECONCILE_WINDOW >/dev/null &&
	drift 12 &&
	fault "{\"kind\":\"$THROTTLE_FAULT\",\"share\":0.15,\"retry_after\":0.2}" &&
	fault "{\"kind\":\"http503\",\"share\":0.1,\"retry_after\":0.2}" &&
	fault "{\"kind\":\"drop\",\"share\":0.1,\"after_commit\":true}" &&
	fault "{\"kind\":\"truncate\",\"share\":0.1}" &&
	{ leavesync reconcile $RECONCILE_WINDOW --json >reconcile.json 2>err; rc=$?; } &&
	echo "reconcile under faults: exit $rc" && jq -c ".counts, .repair, .unrepaired" reconcile.json &&
	if [ $rc -ne 0 ]; then
		test $rc = 1 &&
		jq -e --arg url "$SIM_URL" "[.findings[] | select(.result != \"ok\")] | length > 0 and
			all(.[]; .result | contains(\$url) or test(\"Error[A-Z][A-Za-z]+\"))" reconcile.json ||
		{ jq -c ".findings[] | select(.result != \"ok\") | .result" reconcile.json; false; }
	fi &&
	no_faults &&
	leavesync reconcile $RECONCILE_WINDOW --json >reconcile.json &&
	jq -e ".unrepaired == 0 and .counts.unlisted == 0" reconcile.json &&
	calendars_equal_store
'

test_expect_success "$BACKEND: afterwards a sync sends nothing and reconcile finds no drift" '
	begin_scenario &&
	sync_ok && test_grep "0 created, 0 updated, 0 deleted" out &&
	leavesync reconcile $RECONCILE_WINDOW --json >reconcile.json &&
	jq -e ".findings == []" reconcile.json &&
	test "$(write_requests)" = 0 &&
	calendar user00001@contoso.com | jq -e --slurpfile p personal.json "[.[] | select(.subject == \"Personal\")] | length == 1 and .[0].change_key == \$p[0].change_key" &&
	calendars_equal_store
'
