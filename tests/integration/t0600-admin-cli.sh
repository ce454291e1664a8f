#!/bin/sh
# The smaller fixes of issue 15: status counts leave waiting to be rendered, export defaults to
# iCalendar, sync warns once a day about an expiring secret or certificate and about EWS leaving
# Exchange Online, and the man page lists every option --help shows.

. "$(dirname "$0")/test-lib.sh"

day() { date -u -d "@$(($(date +%s) + $1 * 86400))" +%Y-%m-%d; }

test_expect_success 'setup: EWS through the simulator, eight leave entries pushed' '
	sim_start && write_config ews && leavesync init &&
	for i in 1 2 3 4 5 6 7 8; do
		echo "{\"id\":\"S-$i\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-09-0$i\",\"end\":\"2027-09-0$i\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}"
	done >leave.ndjson &&
	leavesync push leave.ndjson
'

test_expect_success 'status counts the leave waiting to be rendered right after a push' '
	leavesync status >st && test_grep "waiting to be rendered (changed leave, next sync): 8" st &&
	leavesync status --json | jq -e ".unrendered == 8 and .queued == 0" &&
	leavesync sync >/dev/null &&
	leavesync status --json | jq -e ".unrendered == 0 and .targets.synced == 8"
'

test_expect_success 'export without flags writes iCalendar to standard output, as --ics does' '
	leavesync export >plain.ics &&
	head -n 1 plain.ics | grep -q "^BEGIN:VCALENDAR" &&
	test "$(grep -c "^BEGIN:VEVENT" plain.ics)" = 8 &&
	leavesync export --ics >ics.ics && test_cmp ics.ics plain.ics
'

test_expect_success 'sync warns once a day when the client secret expires within 30 days' '
	config_set ews client_secret_expires "$(day 10)" &&
	leavesync sync >out 2>err &&
	test_grep "warning\|\[ews\] client secret expires on $(day 10), in [0-9]* days" err &&
	test_grep "\[ews\] client secret expires on $(day 10)" err &&
	leavesync sync >out 2>err2 &&
	test_grep_not "client secret expires" err2 &&
	sqlite3 leavesync.db "update notice set shown_at = shown_at - 86400" &&
	leavesync sync >out 2>err3 &&
	test_grep "client secret expires on $(day 10)" err3 &&
	test_expect_code 1 leavesync status --check >chk &&
	test_grep "^LEAVESYNC WARNING - \[ews\] client secret expires on $(day 10)" chk
'

test_expect_success 'an expired secret is an error line and CRITICAL; a far date says nothing' '
	config_set ews client_secret_expires "$(day -2)" &&
	leavesync sync >out 2>err; true &&
	test_grep "\[ews\] client secret expired on $(day -2)" err &&
	test_expect_code 2 leavesync status --check >chk &&
	test_grep "^LEAVESYNC CRITICAL - .*client secret expired" chk &&
	config_set ews client_secret_expires "$(day 200)" &&
	leavesync sync >out 2>err &&
	test_grep_not "expire" err && leavesync status --check >chk
'

test_expect_success 'a certificate expiring within 30 days is read from cert_file and warned about' '
	openssl req -x509 -newkey rsa:2048 -nodes -days 5 -subj "/CN=leavesync app" \
		-keyout app.key -out app.pem >/dev/null 2>&1 &&
	chmod 600 app.key &&
	cp leavesync.conf cert.conf &&
	sed -i "s|^\[ews\]|[ews]\ncert_file = $TRASH/app.pem\nkey_file = $TRASH/app.key|" cert.conf &&
	sed -i "/^client_secret_expires/d" cert.conf && chmod 600 cert.conf &&
	leavesync -c cert.conf sync >out 2>err; true &&
	test_grep "\[ews\] certificate expires on $(day 5), in [45] days" err
'

now=$(date +%s)
removal=$(date -u -d 2027-04-01 +%s)
test_expect_success 'EWS on Exchange Online: warned about its removal on 1 April 2027 once it is near' '
	sed -e "s|^url = .*/EWS/Exchange.asmx|url = https://outlook.office365.com/EWS/Exchange.asmx|" \
		-e "/^client_secret_expires/d" leavesync.conf >exo.conf && chmod 600 exo.conf &&
	sed "s|^path = .*|path = $TRASH/exo.db|" -i exo.conf &&
	leavesync -c exo.conf init >/dev/null &&
	leavesync -c exo.conf sync >out 2>err &&
	if [ $((removal - now)) -le $((180 * 86400)) ]; then
		test_grep "EWS is removed from Exchange Online on 2027-04-01\|EWS was removed from Exchange Online on 2027-04-01" err &&
		leavesync -c exo.conf sync >out 2>err2 && test_grep_not "Exchange Online" err2
	else
		test_grep_not "Exchange Online" err
	fi &&
	leavesync sync >out 2>err && test_grep_not "Exchange Online" err
'

# Every option a --help shows must be in the man page (as `Fl -long` or `Fl x`).
test_expect_success 'the man page lists every option --help shows, for every command' '
	man="$SRC_DIR/docs/leavesync.1" &&
	missing= &&
	for cmd in "" init push sync resync reconcile status export backup auth doctor; do
		leavesync $cmd --help >help || { echo "--help of $cmd failed"; return 1; }
		for opt in $(grep -o -e "--[a-z][a-z-]*" -e "^  *-[a-zA-Z][ ,]" help | sed "s/[ ,]*$//; s/^ *//" | sort -u); do
			case "$opt" in
			--*) grep -q -e "Fl -${opt#--}\\b" "$man" || missing="$missing $cmd:$opt" ;;
			-*) grep -q -e "Fl ${opt#-}\\b" "$man" || missing="$missing $cmd:$opt" ;;
			esac
		done
	done &&
	{ [ -z "$missing" ] || { echo "not in docs/leavesync.1:$missing"; false; }; }
'

test_done
