#!/bin/sh
# leavesync export --ics: the sample leave as one iCalendar file that another parser (Debian's
# python3-icalendar) reads back with the right events, dates, times and privacy.

. "$(dirname "$0")/test-lib.sh"

SAMPLE=$SRC_DIR/docs/examples/leave.json

# check_ics FILE ARGS...: python3-icalendar parses FILE; ARGS are checks, each "LEAVE-ID FIELD WANT"
# with FIELD dtstart/dtend (dates as YYYY-MM-DD, times as UTC YYYY-MM-DDTHH:MM), summary,
# description ("-" for none) or class; "count N" checks the number of VEVENTs.
check_ics() {
	$PY - "$@" <<'EOF'
import sys, datetime
import icalendar

path, checks = sys.argv[1], sys.argv[2:]
cal = icalendar.Calendar.from_ical(open(path, "rb").read())
events = {}
for ev in cal.walk("VEVENT"):
    events[str(ev.get("X-LEAVESYNC-LEAVE-ID"))] = ev
uids = [str(ev.get("UID")) for ev in cal.walk("VEVENT")]
if len(uids) != len(set(uids)):
    sys.exit("duplicate UIDs: %s" % uids)

def value(ev, field):
    if field in ("dtstart", "dtend"):
        v = ev.decoded(field)
        if isinstance(v, datetime.datetime):
            if v.tzinfo is None:
                sys.exit("%s is a floating time" % field)
            return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M")
        return v.isoformat()
    v = ev.get(field)
    return "-" if v is None else str(v)

failed = False
i = 0
while i < len(checks):
    if checks[i] == "count":
        got, want = len(uids), int(checks[i + 1])
        what = "number of VEVENTs"
        i += 2
    else:
        lid, field, want = checks[i:i + 3]
        i += 3
        what = "%s %s" % (lid, field)
        if lid not in events:
            got = "(no event)"
        else:
            got = value(events[lid], field)
    if str(got) != str(want):
        print("%s: got %s, expected %s" % (what, got, want))
        failed = True
sys.exit(1 if failed else 0)
EOF
}

test_expect_success 'push the sample leave into a new store' '
	leavesync init &&
	leavesync push "$SAMPLE"
'

test_expect_success 'export --ics writes every approved leave, and no cancelled one' '
	leavesync export --ics -o all.ics &&
	test_grep "^BEGIN:VCALENDAR" all.ics &&
	check_ics all.ics count 7 LV-2003 dtstart "(no event)"
'

test_expect_success 'all-day leave: DATE values with an exclusive end' '
	test_grep "^DTSTART;VALUE=DATE:20261224" all.ics &&
	check_ics all.ics \
		LV-1001 dtstart 2026-12-24 LV-1001 dtend 2027-01-01 \
		LV-3001 dtstart 2027-02-22 LV-3001 dtend 2027-02-27 \
		LV-3002 dtstart 2027-04-12 LV-3002 dtend 2027-04-14
'

test_expect_success 'leave across the DST change in Riga keeps its days' '
	check_ics all.ics LV-1002 dtstart 2027-03-26 LV-1002 dtend 2027-03-31
'

test_expect_success 'partial-day leave is timed in its own zone, with its VTIMEZONE' '
	test_grep "^DTSTART;TZID=America/Los_Angeles:20270104T130000" all.ics &&
	test_grep "^TZID:America/Los_Angeles" all.ics &&
	check_ics all.ics LV-2001 dtstart 2027-01-04T21:00 LV-2001 dtend 2027-01-05T01:00
'

test_expect_success 'without a config, nothing but "Out of office" is disclosed' '
	check_ics all.ics LV-1003 summary "Out of office" LV-1003 class PRIVATE \
		LV-1003 description - LV-1001 description - &&
	test_grep_not "Flu" all.ics &&
	test_grep_not "Sick" all.ics &&
	test_grep_not "Back on 4 January" all.ics
'

test_expect_success 'the events carry the busy status Outlook reads' '
	test "$(grep -c "^X-MICROSOFT-CDO-BUSYSTATUS:OOF" all.ics)" = 7 &&
	test "$(grep -c "^TRANSP:OPAQUE" all.ics)" = 7
'

test_expect_success 'export twice gives byte-identical files' '
	leavesync export --ics -o again.ics &&
	test_cmp all.ics again.ics
'

test_expect_success 'export --mailbox writes only that mailbox' '
	leavesync export --ics --mailbox bob@contoso.com -o bob.ics &&
	check_ics bob.ics count 2 LV-2001 dtstart 2027-01-04T21:00 LV-2002 dtstart 2027-02-15
'

test_expect_success 'export to standard output' '
	leavesync export --ics >stdout.ics &&
	test_cmp all.ics stdout.ics
'

test_expect_success 'a kind policy that includes the note puts it in the description' '
	default_config &&
	cat >>leavesync.conf <<-\EOF &&
	[event]
	categories = Leave
	[kind "Annual leave"]
	subject = {kind}
	include_note = true
	sensitivity = normal
	[kind "Remote work"]
	subject = Working remotely
	show_as = workingElsewhere
	EOF
	chmod 600 leavesync.conf &&
	leavesync export --ics -o policy.ics &&
	check_ics policy.ics \
		LV-1001 summary "Annual leave" LV-1001 description "Back on 4 January" \
		LV-1001 class PUBLIC LV-2002 summary "Working remotely" \
		LV-1003 summary "Out of office" LV-1003 description - &&
	test_grep "^X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE" policy.ics &&
	test_grep "^CATEGORIES:Leave" policy.ics &&
	test_grep_not "Flu" policy.ics
'

test_expect_success 'a bad config stops export with FILE:LINE and exit 2' '
	default_config && printf "[event]\nshow_as = away\n" >>leavesync.conf &&
	chmod 600 leavesync.conf &&
	test_expect_code 2 leavesync export --ics -o bad.ics 2>err &&
	test_grep "leavesync.conf:4:" err &&
	test_grep "workingElsewhere" err
'

test_expect_success 'a config readable by others draws a warning with the fix' '
	default_config && printf "[event]\nshow_as = oof\n" >>leavesync.conf &&
	chmod 644 leavesync.conf &&
	leavesync export --ics -o warn.ics 2>err &&
	test_grep "chmod 600" err
'

test_done
