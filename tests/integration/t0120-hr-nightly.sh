#!/bin/sh
test_description='docs/store.md "Running a nightly full-snapshot push": the script as written, night after night'
. "$(dirname "$0")/test-lib.sh"

# export N [SKIP]: HR's full export: N approved leave entries of contoso.com from 2030 on, leaving out
# the ids matching the regular expression SKIP.
hr_export() {
	awk -v n="$1" 'BEGIN {
		split("alice bob carol dave", who, " ")
		for (i = 1; i <= n; i++)
			printf "{\"id\":\"HR-%03d\",\"mailbox\":\"%s@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2030-%02d-%02d\",\"end\":\"2030-%02d-%02d\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"Europe/Riga\"}\n", i, who[i % 4 + 1], 1 + i % 12, 1 + i % 28, 1 + i % 12, 1 + i % 28
	}' | grep -v -E "${2:-^$}"
}

events() {
	n=0
	for w in alice bob carol dave; do
		n=$((n + $(calendar "$w@contoso.com" | jq '[.[] | select(.extended_properties | length > 0)] | length')))
	done
	echo $n
}

test_expect_success 'the script is taken from docs/store.md as it stands' '
	sed -n "/^<!-- BEGIN nightly-snapshot -->/,/^<!-- END nightly-snapshot -->/p" "$SRC_DIR/docs/store.md" |
		sed "1,2d;\$d" | sed "\$d" >nightly-snapshot &&
	chmod +x nightly-snapshot && head -n 2 nightly-snapshot | grep -q "^#!/bin/sh" &&
	sh -n nightly-snapshot &&
	mkdir bin && ln -s "$BUILD_DIR/leavesync" bin/leavesync &&
	PATH=$TRASH/bin:$PATH && export PATH
'

test_expect_success 'setup: the simulator, a store, the sync' '
	sim_start && write_config graph application && leavesync init &&
	SCOPE="--mailbox-domain contoso.com" FROM=2030-01-01 && export SCOPE FROM
'

test_expect_success 'the first nights: a dry run shows what would be pushed and writes nothing' '
	hr_export 60 >night1.ndjson &&
	DRY_RUN=1 ./nightly-snapshot night1.ndjson >out && cat out &&
	test_grep "nightly-snapshot: 60 records, 60 inserted, 0 updated, 0 cancelled (dry run)" out &&
	test "$(sqlite3 leavesync.db "select count(*) from leave")" = 0
'

test_expect_success 'night 1: the export is pushed and synced' '
	./nightly-snapshot night1.ndjson >out && cat out &&
	test_grep "60 inserted" out &&
	leavesync sync && test "$(events)" = 60
'

test_expect_success 'night 2: HR deleted three entries; the snapshot cancels them and sync removes their events' '
	hr_export 60 "HR-00[789]" >night2.ndjson &&
	./nightly-snapshot night2.ndjson >out && cat out &&
	test_grep "57 records, 0 inserted, 0 updated, 3 cancelled" out &&
	leavesync sync && test "$(events)" = 57 &&
	leavesync show HR-008 >show.out && test_grep "snapshot  *revision 1 cancelled" show.out
'

test_expect_success 'night 3: a truncated export is refused (exit 2), nothing written, calendars keep their events' '
	hr_export 60 "HR-00[789]" | head -n 20 >night3.ndjson &&
	sum=$(sqlite3 leavesync.db "select group_concat(id || status, \",\") from leave") &&
	test_expect_code 2 ./nightly-snapshot night3.ndjson >out 2>err && cat out err &&
	test_grep "37 cancelled: refused: snapshot refused by the safety valve: it would cancel 37 of the 57" out &&
	test_grep "safety valve" err &&
	test "$(sqlite3 leavesync.db "select group_concat(id || status, \",\") from leave")" = "$sum" &&
	leavesync sync && test "$(events)" = 57
'

test_expect_success 'night 4: a complete export again; HR reinstated one entry' '
	hr_export 60 "HR-00[78]" >night4.ndjson &&
	./nightly-snapshot night4.ndjson >out && cat out &&
	test_grep "58 records, 0 inserted, 1 updated, 0 cancelled" out &&
	leavesync sync && test "$(events)" = 58
'

test_expect_success 'a record outside the scope is refused with its reason' '
	{ cat night4.ndjson; printf "{\"id\":\"X-1\",\"mailbox\":\"eve@fabrikam.com\",\"kind\":\"Annual leave\",\"start\":\"2030-05-01\",\"end\":\"2030-05-01\",\"status\":\"approved\"}\n"; } >night5.ndjson &&
	test_expect_code 2 ./nightly-snapshot night5.ndjson >out 2>err && cat out &&
	test_grep "refused: 1 problems" out &&
	test_grep "outside this snapshot.s scope" err
'

test_done
