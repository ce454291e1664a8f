#!/bin/sh
# Every --json output (issue 15) is one object whose keys are exactly those docs/json.md lists,
# with the types it gives, and a schema version.

. "$(dirname "$0")/test-lib.sh"

# doc_keys NAME: the keys of the table after <!-- keys NAME --> in docs/json.md, sorted.
doc_keys() {
	awk -v m="<!-- keys $1 -->" '
		$0 == m { on = 1; next }
		on && /^\|/ { rows++; if (rows > 2) { split($0, c, "|"); print c[2] } next }
		on && rows { exit }' "$SRC_DIR/docs/json.md" |
	grep -o '`[a-z_]*`' | tr -d '`' | sort -u
}

# same_keys NAME FILE [JQ-PATH]: the object's keys (at PATH) equal the documented ones.
same_keys() {
	doc_keys "$1" >want.keys &&
	test -s want.keys &&
	jq -r "${3:-.} | keys[]" "$2" | sort -u >got.keys &&
	test_cmp want.keys got.keys
}

test_expect_success 'setup: a store with leave, one mailbox that does not exist' '
	sim_start && write_config ews && leavesync init &&
	for i in 1 2 3; do
		echo "{\"id\":\"J-$i\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-10-0$i\",\"end\":\"2027-10-0$i\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}"
	done >leave.ndjson &&
	echo "{\"id\":\"J-9\",\"mailbox\":\"nobody@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-10-09\",\"end\":\"2027-10-09\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}" >>leave.ndjson
'

test_expect_success 'push --json: documented keys, also when the input is refused' '
	leavesync push --json leave.ndjson >push.json &&
	same_keys push push.json &&
	jq -e ".schema == 1 and .command == \"push\" and .exit_code == 0 and .inserted == 4 and .format == \"ndjson\" and .error == null" push.json &&
	echo "{\"id\":\"\",\"mailbox\":\"x\"}" >bad.ndjson &&
	test_expect_code 2 leavesync push --json bad.ndjson >bad.json 2>err &&
	same_keys push bad.json &&
	jq -e ".exit_code == 2 and (.problems | length) > 1 and (.problems[0] | keys == [\"at\", \"field\", \"reason\", \"unit\"]) and .problems[0].unit == \"line\"" bad.json &&
	leavesync push --json --dry-run --snapshot --mailbox-domain contoso.com leave.ndjson >snap.json &&
	same_keys push snap.json &&
	same_keys snapshot snap.json ".snapshot" &&
	jq -e ".dry_run and .snapshot.domains == [\"contoso.com\"] and .cancelled == 0" snap.json
'

test_expect_success 'sync --json: documented keys; problems grouped, with items' '
	test_expect_code 1 leavesync sync --json >sync.json 2>err &&
	same_keys sync sync.json &&
	same_keys problems sync.json ".problems[0]" &&
	jq -e ".schema == 1 and .command == \"sync\" and .exit_code == 1 and .created == 3 and .failed == 1 and (.duration_ms | type) == \"number\" and (.blocked | type) == \"array\"" sync.json &&
	jq -e ".problems[0] | .state == \"failed\" and .count == 1 and .items == [{\"mailbox\": \"nobody@contoso.com\", \"leave\": \"J-9\"}]" sync.json &&
	test "$(jq -c . sync.json | wc -l)" = 1
'

test_expect_success 'resync --json: the same keys' '
	test_expect_code 1 leavesync resync --leave J-1 --json >resync.json 2>err &&
	same_keys sync resync.json &&
	jq -e ".command == \"resync\" and .updated == 1" resync.json
'

test_expect_success 'reconcile --json: documented keys' '
	test_expect_code 1 leavesync reconcile --from 2027-01-01 --to 2027-12-31 --json >rec.json 2>err &&
	same_keys reconcile rec.json &&
	jq -e ".schema == 1 and .exit_code == 1 and (.counts | keys) == [\"duplicated\", \"edited\", \"missing\", \"moved\", \"orphaned\", \"stuck\", \"unlisted\"] and (.repair | keys) == [\"created\", \"deleted\", \"failed\", \"updated\", \"waiting\"]" rec.json
'

test_expect_success 'status --json: documented keys, runs[] too' '
	leavesync status --json >status.json &&
	same_keys status status.json &&
	same_keys runs status.json ".runs[0]" &&
	same_keys problems status.json ".problem_groups[0]" &&
	jq -e ".schema == 1 and (.targets | keys) == [\"creating\", \"failed\", \"pending\", \"synced\", \"waiting\"] and .last_reconcile.command == \"reconcile\"" status.json
'

test_expect_success 'doctor --json: documented keys; check names are identifiers without values' '
	leavesync doctor --mailbox alice@contoso.com --json >doctor.json; true &&
	same_keys doctor doctor.json &&
	same_keys checks doctor.json ".checks[0]" &&
	jq -e ".schema == 1 and all(.checks[]; .name | test(\"^[a-z]+(\\\\.[a-z_]+|_[a-z_]+)*$\"))" doctor.json &&
	jq -e "[.checks[].name] | index(\"ews.read_calendar\") != null and index(\"ews.token\") != null" doctor.json &&
	jq -e "[.checks[] | select(.name == \"ews.read_calendar\")][0].title | test(\"alice@contoso.com\")" doctor.json &&
	test_grep_not "alice@contoso.com" "$(jq -r "[.checks[].name] | join(\" \")" doctor.json >names && echo names)"
'

test_expect_success 'auth list --json: documented keys' '
	leavesync auth list --json >auth.json &&
	same_keys auth auth.json &&
	jq -e ".schema == 1 and .connections == []" auth.json
'

test_done
