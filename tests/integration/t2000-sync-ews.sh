#!/bin/sh
test_description='sync through EWS: boundaries, idempotency, updates, cancels, resync, user edits'
. "$(dirname "$0")/test-lib.sh"
BACKEND=ews MODE= SIM_ARGS="--record-ews $TRASH/requests"
mkdir -p "$TRASH/requests"
. "$TEST_DIR/lib-sync.sh"

test_expect_success 'every EWS request leavesync sent passes the official schema (simulator and lxml)' '
	n=$(ls requests | wc -l) && echo "$n requests recorded" && test "$n" -ge 15 &&
	validate_ews -q requests/*.xml && ews_xsd_check -q requests/*.xml
'

test_expect_success 'exchangelib reads back the same events' '
	/usr/bin/python3 "$TEST_DIR/clients/exchangelib_read.py" "$SIM_URL" "$SIM_CA" "$DEMO_TENANT" \
		"$DEMO_CLIENT" "$DEMO_SECRET" alice@contoso.com 2026-11-01 2027-06-01 >read.txt &&
	test "$(wc -l <read.txt)" = 3 &&
	key=$(sqlite3 leavesync.db "select sync_key from target where leave_id=\"LV-1\"") &&
	grep "\"$key\"" read.txt | jq -e ".all_day and .start == \"2026-12-24\" and .end == \"2027-01-02\" and .show_as == \"OOF\" and .sensitivity == \"Private\" and .reminder == false and .subject == \"Annual leave\" and .categories == [\"Leave\"]" &&
	key=$(sqlite3 leavesync.db "select sync_key from target where leave_id=\"LV-7\"") &&
	grep "\"$key\"" read.txt | jq -e "(.all_day | not) and .start == \"2027-01-15T21:00:00Z\" and .end == \"2027-01-16T01:00:00Z\""
'

test_done
