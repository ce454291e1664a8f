#!/bin/sh
# t0150: the store file is handled as carefully as its contents (docs/store.md, "The store file"):
# an empty or foreign file is refused by every command and left as it is (only init creates a store,
# and only where no file exists); modes wider than 0600 on the store, -wal and -shm are narrowed
# with a warning by every command; status, export and doctor work on a store the user can only read
# (run as another user, in a directory where it cannot create -wal or -shm); impossible schema
# versions get a clear message.
test_description='store files: empty, foreign, wide modes, read-only, schema versions'
. "$(dirname "$0")/test-lib.sh"

LS=$BUILD_DIR/leavesync
NOBODY=65534

leave='{"id":"F-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-01-04","end":"2027-01-05","status":"approved"}'

mode_of() { stat -c %a "$1"; }

test_expect_success 'setup: config with a store path' '
	printf "[store]\npath = %s/leavesync.db\n" "$TRASH" >leavesync.conf &&
	chmod 600 leavesync.conf
'

test_expect_success 'a zero-byte store: every command refuses it (exit 2) and leaves it empty' '
	: >leavesync.db &&
	for cmd in status "status --json" "export --ics" sync init "push leave.json"; do
		echo "$leave" >leave.json
		test_expect_code 2 leavesync $cmd >out 2>err || return 1
		grep -q "leavesync.db is an empty file (0 bytes), not a leavesync store" err ||
			{ echo "$cmd:"; cat err; return 1; }
	done &&
	test "$(stat -c %s leavesync.db)" = 0 &&
	! test -e leavesync.db-wal
'

test_expect_success 'a file that is not SQLite is refused, left as it was' '
	printf "name,salary\nalice,1\n" >leavesync.db &&
	cp leavesync.db before &&
	test_expect_code 2 leavesync status 2>err &&
	test_grep "is not an SQLite database, so not a leavesync store" err &&
	test_expect_code 2 leavesync init 2>err &&
	test_cmp before leavesync.db
'

test_expect_success 'an SQLite database without leavesync schema is refused, not initialised' '
	rm -f leavesync.db && sqlite3 leavesync.db "create table customers (id integer primary key)" &&
	test_expect_code 2 leavesync status 2>err &&
	test_grep "is an SQLite database without leavesync.s schema (version 0)" err &&
	test_expect_code 2 leavesync init 2>err &&
	test_expect_code 2 leavesync push leave.json 2>err &&
	test "$(sqlite3 leavesync.db "select group_concat(name) from sqlite_master")" = customers
'

test_expect_success 'push does not create a store: only init does' '
	rm -f leavesync.db &&
	test_expect_code 2 leavesync push leave.json 2>err &&
	test_grep "leavesync.db does not exist: run .leavesync init. first" err &&
	! test -e leavesync.db &&
	leavesync init >out &&
	test "$(mode_of leavesync.db)" = 600 &&
	leavesync push leave.json
'

test_expect_success 'PRAGMA user_version = -1 or 99: a clear message' '
	cp leavesync.db good.db &&
	sqlite3 leavesync.db "pragma user_version = -1" &&
	test_expect_code 2 leavesync status 2>err &&
	test_grep "store schema version -1 is invalid" err &&
	test_expect_code 2 leavesync push leave.json 2>err &&
	test_grep "store schema version -1 is invalid" err &&
	sqlite3 leavesync.db "pragma user_version = 99" &&
	test_expect_code 2 leavesync status 2>err &&
	test_grep "store schema version 99 is newer than this leavesync ([1-9][0-9]*).*upgrade leavesync" err &&
	cp good.db leavesync.db
'

# SQLite removes -wal and -shm when the last connection closes: a reader kept open by python
# holds them while leavesync runs.
test_expect_success 'mode 0666 on the store, -wal and -shm: every command narrows it with a warning' '
	for cmd in init "push leave.json" status "export --ics" sync; do
		rm -f hold.ready &&
		{ /usr/bin/python3 -c "
import sqlite3, time, os
db = sqlite3.connect(\"leavesync.db\")
db.execute(\"select count(*) from leave\").fetchall()
db.execute(\"begin immediate\"); db.execute(\"update leave set note = note\"); db.commit()
open(\"hold.ready\", \"w\").close()
time.sleep(30)
" & echo $! >hold.pid; } &&
		for _ in $(seq 1 100); do test -e hold.ready && break; sleep 0.1; done &&
		test -e leavesync.db-wal && test -e leavesync.db-shm &&
		chmod 666 leavesync.db leavesync.db-wal leavesync.db-shm &&
		leavesync $cmd >out 2>err
		rc=$?
		modes="$(mode_of leavesync.db) $(mode_of leavesync.db-wal) $(mode_of leavesync.db-shm)"
		kill "$(cat hold.pid)"; wait "$(cat hold.pid)" 2>/dev/null
		echo "$cmd: exit $rc, modes $modes"
		cat err
		test "$modes" = "600 600 600" || return 1
		grep -q "leavesync.db had mode 0666 (readable by others) and holds personal data: changed to 0600" err || return 1
		grep -q "leavesync.db-wal had mode 0666" err || return 1
		grep -q "leavesync.db-shm had mode 0666" err || return 1
	done
'

# A store owned by another user, mode 0400, in a directory of root's: that user can read it and
# nothing else (no -wal, no -shm). The config is that user's.
test_expect_success 'read-only store as another user: status, status --json, export work' '
	mkdir ro &&
	echo "$leave" | sed "s/F-1/F-2/" | leavesync -c leavesync.conf push - &&
	! test -e leavesync.db-wal && cp leavesync.db ro/leavesync.db &&
	test "$(sqlite3 ro/leavesync.db "pragma journal_mode")" = wal &&
	chown $NOBODY ro/leavesync.db && chmod 400 ro/leavesync.db &&
	printf "[store]\npath = %s/ro/leavesync.db\n" "$TRASH" >ro.conf &&
	chown $NOBODY ro.conf && chmod 600 ro.conf &&
	sum_before=$(sha256sum ro/leavesync.db) &&
	as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$LS" -c ro.conf "$@"; } &&
	as_nobody status >status.out 2>status.err &&
	cat status.out status.err &&
	test_grep "leave entries: 2" status.out &&
	as_nobody status --json >status.json &&
	test "$(jq .leaves status.json)" = 2 &&
	as_nobody export --ics >cal.ics &&
	test "$(grep -c BEGIN:VEVENT cal.ics)" = 2 &&
	test "$sum_before" = "$(sha256sum ro/leavesync.db)" &&
	! test -e ro/leavesync.db-wal && ! test -e ro/leavesync.db-shm &&
	test_grep_not "readonly database" status.err
'

test_expect_success 'read-only store: doctor reads it; push says it needs the owner' '
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$LS" -c ro.conf doctor >doctor.out 2>&1
	cat doctor.out &&
	test_grep_not "readonly database" doctor.out &&
	test_grep_not "cannot create the store" doctor.out &&
	echo "$leave" >ro-leave.json && chmod 644 ro-leave.json &&
	test_expect_code 2 setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$LS" -c ro.conf \
		push ro-leave.json 2>err &&
	test_grep "ro/leavesync.db is read-only for this user (uid $NOBODY): this command writes it; run it as the store.s owner" err &&
	test "$sum_before" = "$(sha256sum ro/leavesync.db)"
'

test_expect_success 'a store readable by others but owned by another user: a warning naming the fix' '
	chown root ro/leavesync.db && chmod 644 ro/leavesync.db &&
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$LS" -c ro.conf status >out 2>err &&
	cat err &&
	test_grep "ro/leavesync.db has mode 0644 (readable by others) and holds personal data: its owner should run .chmod 600" err &&
	test "$(mode_of ro/leavesync.db)" = 644
'

test_done
