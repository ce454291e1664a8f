#!/bin/sh
test_description='push --dry-run and --snapshot against the simulator: scopes, two HR systems, empty and truncated snapshots, the safety valve, reinstatement'
. "$(dirname "$0")/test-lib.sh"

# leave DOMAIN PREFIX N [REVISION]: N approved all-day leave entries in 2030 over 4 mailboxes @DOMAIN.
leave() {
	awk -v d="$1" -v p="$2" -v n="$3" -v r="${4:-1}" 'BEGIN {
		split("ann ben cid dee", who, " ")
		for (i = 1; i <= n; i++)
			printf "{\"id\":\"%s-%02d\",\"mailbox\":\"%s@%s\",\"kind\":\"Annual leave\",\"start\":\"2030-%02d-%02d\",\"end\":\"2030-%02d-%02d\",\"status\":\"approved\",\"revision\":%d}\n", p, i, who[i % 4 + 1], d, 1 + i % 12, 1 + i % 28, 1 + i % 12, 1 + i % 28, r
	}'
}

# events DOMAIN: live calendar items in the four mailboxes of a domain.
events() {
	n=0
	for w in ann ben cid dee; do
		n=$((n + $(calendar "$w@$1" | jq length)))
	done
	echo $n
}

status_of() {
	sqlite3 leavesync.db "select status || '/' || revision from leave where id = '$1'"
}

# The store file and its sidecars, byte for byte.
store_sum() {
	cat leavesync.db leavesync.db-wal 2>/dev/null | sha256sum
}

# The demo tenant and app, with the mailboxes of both HR systems' domains.
make_fixture() {
	"$SRC_DIR/tools/gen-fixture" --mailboxes 1 |
	jq '.tenants[0].domains += ["fabrikam.com"] |
	    .users = [("contoso.com", "fabrikam.com") as $d | ("ann", "ben", "cid", "dee") |
	              {upn: (. + "@" + $d), display_name: .}]'
}

test_expect_success 'setup: HR system A owns contoso.com (24 entries), B fabrikam.com (40), synced' '
	make_fixture >fixture.json &&
	sim_start --fixture fixture.json &&
	write_config graph application &&
	leavesync init &&
	leave contoso.com A 24 >a.ndjson && leave fabrikam.com B 40 >b.ndjson &&
	leavesync push a.ndjson && leavesync push b.ndjson && leavesync sync &&
	test "$(events contoso.com)" = 24 && test "$(events fabrikam.com)" = 40
'

test_expect_success 'push --dry-run says what a push would do and leaves the store file as it was' '
	{ leave contoso.com A 20 2; leave contoso.com N 2; } >a2.ndjson &&
	before=$(store_sum) &&
	leavesync push --dry-run a2.ndjson >dry.out &&
	test_grep "22 records (ndjson): 2 inserted, 20 updated, 0 unchanged, 0 stale (dry run: nothing written)" dry.out &&
	test "$(store_sum)" = "$before" &&
	test "$(status_of A-01)" = "approved/1"
'

test_expect_success 'the dry run agrees with the real push, text and JSON' '
	before=$(store_sum) &&
	leavesync push --dry-run --json --snapshot --mailbox-domain contoso.com a2.ndjson >dry.json &&
	test "$(store_sum)" = "$before" &&
	leavesync push --json --snapshot --mailbox-domain contoso.com a2.ndjson >real.json &&
	jq -e ".dry_run and .exit_code == 0" dry.json && jq -e "(.dry_run | not) and .exit_code == 0" real.json &&
	jq -c "del(.dry_run)" dry.json >dry.cmp && jq -c "del(.dry_run)" real.json >real.cmp &&
	test_cmp dry.cmp real.cmp &&
	jq -e ".inserted == 2 and .updated == 20 and .cancelled == 4 and .snapshot.approved_in_scope == 24 and .snapshot.domains == [\"contoso.com\"] and (.notices | length) == 4" real.json
'

test_expect_success 'the leave absent from the snapshot is cancelled, revision kept, and its events go at the next sync' '
	test "$(status_of A-21)" = "cancelled/1" && test "$(status_of A-24)" = "cancelled/1" &&
	test "$(status_of A-01)" = "approved/2" &&
	leavesync sync >out && test_grep "2 created" out && test_grep "4 deleted" out &&
	test "$(events contoso.com)" = 22 && test "$(events fabrikam.com)" = 40 &&
	leavesync show A-21 --json >show.json &&
	jq -e ".revisions.items[-1].via == \"snapshot\" and .revisions.items[-1].status == \"cancelled\" and .revisions.items[-1].revision == 1" show.json &&
	jq -e "[.history.items[] | select(.action == \"deleted\")] | length == 1" show.json
'

test_expect_success 'HR system B: a snapshot of fabrikam.com never touches contoso.com' '
	leave fabrikam.com B 38 >b2.ndjson &&
	leavesync push --snapshot --mailbox-domain fabrikam.com b2.ndjson >out 2>err &&
	test_grep "2 cancelled" out && test "$(grep -c "not in the snapshot: cancelled" err)" = 2 &&
	test "$(status_of B-39)" = "cancelled/1" && test "$(status_of A-01)" = "approved/2" &&
	test "$(status_of N-01)" = "approved/1" &&
	leavesync sync && test "$(events contoso.com)" = 22 && test "$(events fabrikam.com)" = 38
'

test_expect_success 'a record outside the snapshot scope is refused, nothing written' '
	before=$(store_sum) &&
	test_expect_code 2 leavesync push --snapshot --mailbox-domain fabrikam.com a2.ndjson >out 2>err &&
	test_grep "line 1: mailbox: ben@contoso.com is outside this snapshot.s scope (mailboxes @fabrikam.com)" err &&
	test_grep "22 problems found; nothing was written" err &&
	test "$(store_sum)" = "$before"
'

test_expect_success 'a truncated snapshot (the last half missing) is refused by the safety valve, exit 2' '
	leave fabrikam.com B 38 | head -n 19 >truncated.ndjson &&
	before=$(store_sum) &&
	test_expect_code 2 leavesync push --snapshot --mailbox-domain fabrikam.com truncated.ndjson >out 2>err &&
	cat err &&
	test_grep "snapshot refused by the safety valve: it would cancel 19 of the 38 approved leave entries of its scope (mailboxes @fabrikam.com; leave starting today or later), more than \[push\] snapshot_max_cancel = 0.2 (20%); nothing was written" err &&
	test_grep "[-]-force" err &&
	test "$(store_sum)" = "$before" &&
	test_expect_code 2 leavesync push --dry-run --json --snapshot --mailbox-domain fabrikam.com truncated.ndjson >dry.json 2>err &&
	jq -e ".exit_code == 2 and .snapshot.blocked and .cancelled == 19 and (.error | test(\"safety valve\"))" dry.json &&
	test "$(store_sum)" = "$before"
'

test_expect_success 'the valve follows [push] snapshot_max_cancel, and --force passes it' '
	printf "\n[push]\nsnapshot_max_cancel = 0.5\n" >>leavesync.conf &&
	leavesync push --dry-run --snapshot --mailbox-domain fabrikam.com truncated.ndjson >out &&
	test_grep "19 cancelled" out &&
	config_set push snapshot_max_cancel 0.2 &&
	leavesync push --snapshot --force --mailbox-domain fabrikam.com truncated.ndjson >out 2>err &&
	test_grep "19 cancelled" out && test_grep "safety valve passed with --force: cancelling 19 of 38" err &&
	leavesync sync && test "$(events fabrikam.com)" = 19
'

test_expect_success 'a later snapshot holding them again reinstates them (same revision) and sync recreates their events' '
	leavesync push --snapshot --mailbox-domain fabrikam.com b2.ndjson >out &&
	test_grep "19 updated" out && test_grep "0 cancelled" out &&
	test "$(status_of B-30)" = "approved/1" &&
	leavesync sync >out && test_grep "19 created" out &&
	test "$(events fabrikam.com)" = 38
'

test_expect_success 'an empty snapshot without a scope cancels nothing and says so loudly' '
	: >empty.ndjson &&
	leavesync push --snapshot empty.ndjson >out 2>err &&
	test_grep "0 cancelled" out &&
	test_grep "warning: push: this snapshot.s scope is empty" err &&
	test "$(status_of B-01)" = "approved/1"
'

test_expect_success 'an empty snapshot of a domain is stopped by the valve' '
	test_expect_code 2 leavesync push --snapshot --mailbox-domain fabrikam.com empty.ndjson >out 2>err &&
	test_grep "would cancel 38 of the 38" err
'

test_expect_success '--mailboxes-from: a list of addresses is the scope' '
	printf "# HR system B, team 1\nANN@fabrikam.com\n\n  ben@fabrikam.com \n" >team1.txt &&
	leave fabrikam.com B 38 | grep "\"ben@" >b3.ndjson &&
	leavesync push --dry-run --json --snapshot --force --mailboxes-from team1.txt b3.ndjson >out.json 2>err &&
	jq -e ".snapshot.mailboxes == 2 and .snapshot.mailboxes_from == \"team1.txt\" and .snapshot.approved_in_scope == 19 and .cancelled == 9" out.json &&
	test "$(grep -c "(ann@fabrikam.com, starting" err)" = 9
'

test_expect_success '--mailboxes-from refuses a bad address, an empty list, and a missing file' '
	printf "ann@fabrikam.com\nnot-an-address\n" >bad.txt &&
	test_expect_code 2 leavesync push --snapshot --mailboxes-from bad.txt b3.ndjson >out 2>err &&
	test_grep "mailboxes-from bad.txt line 2: .not-an-address. is not an email address" err &&
	printf "# nobody\n\n" >none.txt &&
	test_expect_code 2 leavesync push --snapshot --mailboxes-from none.txt b3.ndjson >out 2>err &&
	test_grep "holds no address" err &&
	test_expect_code 2 leavesync push --snapshot --mailboxes-from missing.txt b3.ndjson >out 2>err &&
	test_grep "cannot read it" err
'

test_expect_success '--from: leave starting before it is outside the scope' '
	test_expect_code 2 leavesync push --snapshot --mailbox-domain fabrikam.com --from 2030-13-01 b2.ndjson >out 2>err &&
	test_grep "expected a date YYYY-MM-DD" err &&
	leave fabrikam.com B 38 | grep -v "\"B-0[1-4]\"" >late.ndjson &&
	leavesync push --dry-run --snapshot --mailbox-domain fabrikam.com --from 2030-06-01 late.ndjson >out &&
	test_grep "0 cancelled" out && test_grep "leave starting on or after 2030-06-01" out &&
	leavesync push --dry-run --snapshot --mailbox-domain fabrikam.com --from 2030-01-01 late.ndjson >out &&
	test_grep "4 cancelled" out
'

test_expect_success 'snapshot options without --snapshot, a bad domain and a bad [push] value are usage errors' '
	test_expect_code 2 leavesync push --mailbox-domain fabrikam.com b2.ndjson >out 2>err &&
	test_grep "go with --snapshot" err &&
	test_expect_code 2 leavesync push --snapshot --mailbox-domain "fab rikam" b2.ndjson >out 2>err &&
	test_grep "expected a domain such as contoso.com" err &&
	config_set push snapshot_max_cancel 2 &&
	test_expect_code 2 leavesync push --dry-run b2.ndjson >out 2>err &&
	test_grep "snapshot_max_cancel = 2: expected a share from 0 to 1" err &&
	config_set push snapshot_max_cancel 0.2
'

test_expect_success 'a dry run never creates a store' '
	sed "s|^path = .*|path = $TRASH/other.db|" leavesync.conf >other.conf && chmod 600 other.conf &&
	test_expect_code 2 leavesync -c other.conf push --dry-run b2.ndjson >out 2>err &&
	test_grep "does not exist" err && test ! -e other.db
'

test_done
