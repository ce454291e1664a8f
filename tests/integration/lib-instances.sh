# lib-instances.sh: two stores on one tenant (issue 15), run once per backend (BACKEND=ews|graph).
# Production is the instance "default" (its tags are bare UUIDs, as before instances existed);
# staging is "staging" with its own store. Neither may adopt, repair or delete the other's events.

cat >leave.ndjson <<'JSON'
{"id":"I-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-03-01","end":"2027-03-02","status":"approved","revision":1,"time_zone":"Europe/Riga"}
{"id":"I-2","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-03-08","end":"2027-03-08","status":"approved","revision":1,"time_zone":"Europe/Riga"}
{"id":"I-3","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-03-15","end":"2027-03-16","status":"approved","revision":1,"time_zone":"Europe/Riga"}
{"id":"I-4","mailbox":"alice@contoso.com","kind":"Sick leave","start":"2027-03-22","end":"2027-03-22","status":"approved","revision":1,"time_zone":"UTC"}
{"id":"I-5","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-04-05","end":"2027-04-06","status":"approved","revision":1,"time_zone":"UTC"}
{"id":"I-6","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-04-12","end":"2027-04-12","status":"approved","revision":1,"time_zone":"UTC"}
{"id":"I-7","mailbox":"bob@contoso.com","kind":"Annual leave","start":"2027-04-19","end":"2027-04-20","status":"approved","revision":1,"time_zone":"UTC"}
JSON

# tags MAILBOX: the sync keys of the tagged events of a mailbox, sorted, one per line.
tags() {
	calendar "$1" | jq -r '.[] | .extended_properties[]? | select(.name == "LeaveSyncKey") | .value' | sort
}

# staging ARGS...: leavesync with the staging store's config.
staging() {
	leavesync -c "$TRASH/staging/leavesync.conf" "$@"
}

# The reconcile window must hold the leave: 2027 is in it for a run during 2026 or 2027.
WINDOW="--from 2026-06-01 --to 2027-12-31"

test_expect_success "$BACKEND: setup: production (instance default) syncs seven events" '
	sim_start &&
	write_config $BACKEND $MODE &&
	leavesync init && leavesync push leave.ndjson && leavesync sync >out &&
	test_grep "7 created" out &&
	tags alice@contoso.com >prod-alice && tags bob@contoso.com >prod-bob &&
	test "$(cat prod-alice prod-bob | wc -l)" = 7 &&
	! grep -v -E "^[0-9a-f-]{36}$" prod-alice prod-bob
'

test_expect_success "$BACKEND: staging, a second store on the same tenant, writes its own events" '
	mkdir staging &&
	sed -e "s|^path = .*|path = $TRASH/staging/leavesync.db|" \
		-e "s|^\[sync\]|[sync]\ninstance = staging|" leavesync.conf >staging/leavesync.conf &&
	chmod 600 staging/leavesync.conf &&
	staging init && staging push leave.ndjson && staging sync >out &&
	test_grep "7 created, 0 updated, 0 deleted, 0 adopted" out &&
	tags alice@contoso.com >all-alice &&
	test "$(wc -l <all-alice)" = 8 &&
	test "$(grep -c "^staging:" all-alice)" = 4 &&
	comm -23 all-alice prod-alice | sed "s/^staging://" | sort >staging-uuids &&
	sort prod-alice | cmp - staging-uuids
'

test_expect_success "$BACKEND: production sees only its own events: nothing to adopt, no drift" '
	before=$(write_requests) &&
	leavesync reconcile $WINDOW --json >rec.json &&
	jq -e ".events_listed == 7 and .findings == [] and .adopted == 0" rec.json &&
	test "$(write_requests)" = "$before"
'

test_expect_success "$BACKEND: an empty staging store never counts production events as orphans" '
	mkdir empty &&
	sed -e "s|^path = .*|path = $TRASH/empty/leavesync.db|" staging/leavesync.conf >empty/leavesync.conf &&
	chmod 600 empty/leavesync.conf &&
	sed -i "s/^instance = staging/instance = staging2/" empty/leavesync.conf &&
	leavesync -c empty/leavesync.conf init &&
	leavesync -c empty/leavesync.conf reconcile $WINDOW --json >rec.json &&
	jq -e ".events_listed == 0 and .counts.orphaned == 0 and .repair.deleted == 0" rec.json &&
	tags alice@contoso.com | cmp - all-alice
'

test_expect_success "$BACKEND: staging cancels and deletes only its own event" '
	echo "{\"id\":\"I-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-03-01\",\"end\":\"2027-03-02\",\"status\":\"cancelled\",\"revision\":2,\"time_zone\":\"Europe/Riga\"}" >cancel.ndjson &&
	staging push cancel.ndjson && staging sync >out &&
	test_grep "1 deleted" out &&
	tags alice@contoso.com >now-alice &&
	test "$(wc -l <now-alice)" = 7 &&
	comm -23 prod-alice now-alice >missing && test ! -s missing
'

test_expect_success "$BACKEND: staging reconciles its orphans, never production events" '
	sqlite3 staging/leavesync.db "delete from leave where id in (\"I-5\", \"I-6\")" &&
	staging reconcile $WINDOW --json >rec.json &&
	jq -e ".counts.orphaned == 2 and .events_listed == 6" rec.json &&
	tags bob@contoso.com >now-bob &&
	comm -23 prod-bob now-bob >missing && test ! -s missing &&
	test "$(grep -c "^staging:" now-bob)" = 1
'

test_expect_success "$BACKEND: doctor warns that another instance writes the mailbox" '
	leavesync doctor --mailbox alice@contoso.com --json >doc.json 2>err;
	jq -e ".checks[] | select(.name == \"$BACKEND.instances\") | .status == \"warn\" and (.cause | test(\"\\\"staging\\\": 3\"))" doc.json &&
	staging doctor --mailbox alice@contoso.com --json >doc.json 2>err;
	jq -e ".checks[] | select(.name == \"$BACKEND.instances\") | .status == \"warn\" and (.cause | test(\"\\\"default\\\": 4\"))" doc.json
'

test_expect_success "$BACKEND: a renamed instance without --adopt-instance refuses to run (exit 2)" '
	sed -i "s/^instance = staging$/instance = staging-b/" staging/leavesync.conf &&
	test_expect_code 2 staging sync 2>err &&
	test_grep "instance \"staging\" but \[sync\] instance is \"staging-b\"" err &&
	test_grep "adopt-instance staging" err &&
	test_expect_code 2 staging reconcile $WINDOW --dry-run 2>err
'

test_expect_success "$BACKEND: reconcile --adopt-instance renames: same events, new tags, nothing created" '
	before=$(tags alice@contoso.com | wc -l) &&
	staging reconcile $WINDOW --adopt-instance staging --json >rec.json &&
	jq -e ".repair.created == 0 and .repair.deleted == 0 and .counts.orphaned == 0" rec.json &&
	tags alice@contoso.com >after-alice &&
	test "$(wc -l <after-alice)" = "$before" &&
	test "$(grep -c "^staging-b:" after-alice)" = 3 &&
	test "$(grep -c "^staging:" after-alice)" = 0 &&
	comm -23 prod-alice after-alice >missing && test ! -s missing &&
	staging sync >out && test_grep "0 created, 0 updated, 0 deleted" out &&
	staging reconcile $WINDOW --json >rec.json && jq -e ".findings == []" rec.json
'

test_expect_success "$BACKEND: production still equals its store, untouched by all of it" '
	leavesync reconcile $WINDOW --json >rec.json &&
	jq -e ".events_listed == 7 and .findings == []" rec.json &&
	tags alice@contoso.com | grep -v ":" | cmp - prod-alice
'
