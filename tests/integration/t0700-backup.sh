#!/bin/sh
# Backups and HR's SQL access without the tokens (issue 15): `leavesync backup` writes consistent
# 0600 copies of the store and its secrets database while writers go on, never overwrites without
# --force; the restore procedure of docs/operations.md brings the state back; the refresh tokens
# live in a 0600 secrets database, so the store can be shared with an HR group ([store] group).

. "$(dirname "$0")/test-lib.sh"

TOKEN=rt-0.AbCdEf-secret-refresh-token-value-0123456789

count() { sqlite3 "$1" "select count(*) from leave"; }

test_expect_success 'setup: a store with leave, a synced event and a refresh token' '
	sim_start && write_config graph application &&
	leavesync init &&
	printf "{\"id\":\"B-%d\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-06-%02d\",\"end\":\"2027-06-%02d\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}\n" \
		1 1 1 2 2 2 3 3 3 >leave.ndjson &&
	leavesync push leave.ndjson && leavesync sync >/dev/null &&
	sqlite3 leavesync-secrets.db "insert into token (mailbox, refresh_token, scope, user, updated_at)
		values (\"carol@contoso.com\", \"$TOKEN\", \"offline_access Calendars.ReadWrite\", \"carol@contoso.com\", \"2026-12-01T00:00:00Z\")" &&
	test "$(count leavesync.db)" = 3
'

test_expect_success 'backup writes the store and its secrets, both 0600 whatever the umask' '
	mkdir b &&
	(umask 000 && leavesync backup b/backup.db) >out &&
	test_grep "b/backup.db and b/backup-secrets.db written (mode 0600)" out &&
	test "$(stat -c %a b/backup.db)" = 600 && test "$(stat -c %a b/backup-secrets.db)" = 600 &&
	test "$(sqlite3 b/backup.db "pragma integrity_check")" = ok &&
	test "$(count b/backup.db)" = 3 &&
	test "$(sqlite3 b/backup-secrets.db "select refresh_token from token")" = "$TOKEN" &&
	! grep -a -q -F "$TOKEN" b/backup.db &&
	ls b >files && test "$(wc -l <files)" = 2
'

test_expect_success 'an existing backup is never overwritten without --force; with it, replaced' '
	sum=$(md5sum b/backup.db b/backup-secrets.db) &&
	leavesync push - <<-\EOF &&
	{"id":"B-4","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-06-04","end":"2027-06-04","status":"approved","revision":1,"time_zone":"UTC"}
	EOF
	test_expect_code 2 leavesync backup b/backup.db 2>err &&
	test_grep "b/backup.db exists: choose another file, or add --force" err &&
	test "$(md5sum b/backup.db b/backup-secrets.db)" = "$sum" &&
	: >b/other-secrets.db &&
	test_expect_code 2 leavesync backup b/other.db 2>err &&
	test_grep "other-secrets.db exists" err && test ! -e b/other.db &&
	leavesync backup --force b/backup.db >out &&
	test "$(count b/backup.db)" = 4 && test "$(stat -c %a b/backup.db)" = 600 &&
	ls b >files && test "$(wc -l <files)" = 3
'

test_expect_success 'a backup while another process writes is consistent (no uncommitted row)' '
	rm -f release &&
	{ echo "BEGIN IMMEDIATE;"
	  echo "INSERT INTO leave (id, mailbox, kind, starts, ends, time_zone, status) VALUES (\"B-99\", \"alice@contoso.com\", \"Annual leave\", \"2027-07-01\", \"2027-07-01\", \"UTC\", \"approved\");"
	  while [ ! -e release ]; do sleep 0.1; done
	  echo "COMMIT;"; } | sqlite3 -cmd ".timeout 30000" leavesync.db &
	writer=$! &&
	test_wait_for 60 sh -c "! sqlite3 leavesync.db \"BEGIN IMMEDIATE; ROLLBACK;\" 2>/dev/null" &&
	leavesync backup b/during.db >out; rc=$?
	touch release && wait $writer && test $rc = 0 &&
	test "$(count b/during.db)" = 4 && test "$(count leavesync.db)" = 5 &&
	test "$(sqlite3 b/during.db "pragma integrity_check")" = ok
'

test_expect_success 'restore (docs/operations.md): copy both files back, drop -wal/-shm, status shows the backup' '
	leavesync status --json | jq -e ".leaves == 5" &&
	for f in leavesync.db leavesync-secrets.db; do rm -f $f-wal $f-shm; done &&
	install -m 0600 b/backup.db leavesync.db &&
	install -m 0600 b/backup-secrets.db leavesync-secrets.db &&
	leavesync status --json >st.json &&
	jq -e ".leaves == 4 and .connections[0].mailbox == \"carol@contoso.com\"" st.json &&
	leavesync reconcile --from 2026-06-01 --to 2027-12-31 --json >rec.json &&
	jq -e ".repair.created == 1 and .findings == [] and .unrepaired == 0" rec.json
'

test_expect_success 'a store from before the secrets moved out: its tokens move, and leave no trace' '
	rm -f old.db old-secrets.db &&
	sqlite3 old.db <"$DATA_DIR/store-v1.sql" >/dev/null &&
	sqlite3 old.db "INSERT INTO token (mailbox, refresh_token, scope, user, updated_at)
		VALUES (\"dave@contoso.com\", \"$TOKEN-old\", \"s\", \"dave@contoso.com\", \"2026-01-01T00:00:00Z\");
		INSERT INTO target (leave_id, mailbox, sync_key, state) VALUES (\"X-1\", \"dave@contoso.com\",
		\"043066f4-730f-58e3-9efd-4c76ba87a565\", \"synced\")" &&
	test "$(sqlite3 old.db "pragma user_version")" = 1 &&
	sed "s|^path = .*|path = $TRASH/old.db|" leavesync.conf >old.conf && chmod 600 old.conf &&
	test_expect_code 2 leavesync -c old.conf status 2>err &&
	test_grep "older than this leavesync.*run .leavesync init. as the store.s owner" err &&
	test ! -e old-secrets.db &&
	leavesync -c old.conf init >out &&
	test "$(sqlite3 old-secrets.db "select refresh_token from token")" = "$TOKEN-old" &&
	test "$(stat -c %a old-secrets.db)" = 600 &&
	test "$(sqlite3 old.db "select count(*) from sqlite_master where name = \"token\"")" = 0 &&
	test "$(sqlite3 old.db "select value from meta where key = \"instance\"")" = default &&
	! grep -a -q -F "$TOKEN-old" old.db &&
	{ test ! -e old.db-wal || ! grep -a -q -F "$TOKEN-old" old.db-wal; }
'

test_expect_success 'root upgrading the service user'"'"'s store leaves it a secrets file it can open' '
	mkdir -p svc && sqlite3 svc/leavesync.db <"$DATA_DIR/store-v1.sql" >/dev/null &&
	chown -R 65534:65534 svc && chmod 700 svc && chmod 600 svc/leavesync.db &&
	sed "s|^path = .*|path = $TRASH/svc/leavesync.db|" leavesync.conf >svc.conf && chmod 644 svc.conf &&
	leavesync -c svc.conf init >out &&
	test "$(stat -c "%U %a" svc/leavesync-secrets.db)" = "nobody 600" &&
	setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD_DIR/leavesync" -c svc.conf status >out &&
	test_grep "leave entries: 0" out
'

test_expect_success 'HR shares the store through [store] group: SQL on leave, never the tokens' '
	mkdir shared && chgrp users shared && chmod 3770 shared &&
	sed -e "s|^path = .*|path = $TRASH/shared/leavesync.db|" -e "s|^\[store\]|[store]\ngroup = users|" \
		leavesync.conf >hr.conf && chmod 600 hr.conf &&
	leavesync -c hr.conf init >out &&
	stat -c "%n %a %G" shared/leavesync.db shared/leavesync-secrets.db >modes &&
	test_grep "shared/leavesync.db 660 users" modes &&
	test_grep "shared/leavesync-secrets.db 600" modes &&
	test "$(stat -c %U shared/leavesync-secrets.db)" = root &&
	setpriv --reuid=65534 --regid=65534 --groups=100 sqlite3 -cmd ".timeout 10000" shared/leavesync.db \
		"insert into leave (id, mailbox, kind, starts, ends, time_zone, status)
		 values (\"HR-1\", \"alice@contoso.com\", \"Annual leave\", \"2027-08-02\", \"2027-08-03\", \"UTC\", \"approved\")" &&
	leavesync -c hr.conf status --json | jq -e ".leaves == 1 and .unrendered == 1" &&
	test_must_fail setpriv --reuid=65534 --regid=65534 --groups=100 sqlite3 shared/leavesync-secrets.db \
		"select count(*) from token" 2>err &&
	test_must_fail setpriv --reuid=65534 --regid=65534 --groups=100 rm -f shared/leavesync-secrets.db &&
	test -e shared/leavesync-secrets.db
'

test_expect_success 'the secrets file is never shared: a wider mode is narrowed, or refused when not ours' '
	chmod 640 shared/leavesync-secrets.db &&
	leavesync -c hr.conf status >out &&
	test "$(stat -c %a shared/leavesync-secrets.db)" = 600 &&
	chmod 644 shared/leavesync-secrets.db && chown 65534 shared/leavesync-secrets.db &&
	test_expect_code 2 leavesync -c hr.conf status 2>err &&
	test_grep "holds refresh tokens: only its owner may read it" err &&
	chown 0 shared/leavesync-secrets.db && chmod 600 shared/leavesync-secrets.db
'

test_expect_success '[store] group: every command keeps 0660 on the store, narrows 0664 to 0660' '
	leavesync -c hr.conf status >out 2>err && test_grep_not "had mode" err &&
	echo "{\"id\":\"HR-2\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-08-09\",\"end\":\"2027-08-09\",\"status\":\"approved\",\"time_zone\":\"UTC\"}" |
		leavesync -c hr.conf push - >out 2>err && test_grep_not "had mode" err &&
	test "$(stat -c "%a %G" shared/leavesync.db)" = "660 users" &&
	chmod 664 shared/leavesync.db &&
	leavesync -c hr.conf status >out 2>err &&
	test_grep "shared/leavesync.db had mode 0664 (readable by others) and holds personal data: changed to 0660" err &&
	test "$(stat -c %a shared/leavesync.db)" = 660 &&
	test "$(stat -c %a shared/leavesync-secrets.db)" = 600
'

test_expect_success 'doctor accepts the configured group on the store and checks the secrets file' '
	leavesync -c hr.conf doctor --json >doc.json; true &&
	jq -e ".checks[] | select(.name == \"store_file_permissions\") | .status == \"ok\"" doc.json &&
	jq -e ".checks[] | select(.name == \"secrets_file_permissions\") | .status == \"ok\"" doc.json &&
	chmod 664 shared/leavesync.db &&
	leavesync -c hr.conf doctor --json >doc.json; true &&
	jq -e ".checks[] | select(.name == \"store_file_permissions\") | .status == \"fail\"" doc.json &&
	chmod 660 shared/leavesync.db
'

test_done
