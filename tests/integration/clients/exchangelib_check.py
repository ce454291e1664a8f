#!/usr/bin/python3
"""Drive m365sim's EWS endpoint with Debian's python3-exchangelib (4.9), a client no one here wrote.

usage: exchangelib_check.py SIM_URL CA_FILE TENANT CLIENT_ID SECRET MAILBOX

OAuth2 client credentials (exchangelib's own grant code; only the token URL points at the simulator:
exchangelib 4.9 has no setting for it, its token_url is a read-only property, so a subclass overrides
it), impersonation, autodiscover off. It creates a timed and an all-day
calendar item carrying an extended property, lists them in a range, finds one by its extended
property, updates one, deletes both, and checks each step. Prints one "ok - ..." line per step;
exits 1 at the first failure.
"""
import os
import sys

SIM_URL, CA_FILE, TENANT, CLIENT_ID, SECRET, MAILBOX = sys.argv[1:7]
# exchangelib and requests_oauthlib both use requests sessions that trust REQUESTS_CA_BUNDLE.
os.environ["REQUESTS_CA_BUNDLE"] = CA_FILE

from exchangelib import (  # noqa: E402
    IMPERSONATION,
    OAUTH2,
    Account,
    CalendarItem,
    Configuration,
    EWSDate,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    Identity,
    OAuth2Credentials,
)
from exchangelib.items import SEND_TO_NONE  # noqa: E402


class SimCredentials(OAuth2Credentials):
    """The only change: the token endpoint is the simulator's."""

    @property
    def token_url(self):
        return f"{SIM_URL}/{self.tenant_id}/oauth2/v2.0/token"


class LeaveKey(ExtendedProperty):
    property_set_id = "6f1a3b52-9d4e-4c1a-8a57-3e2b1c0d9f11"
    property_name = "LeaveSyncKey"
    property_type = "String"


def check(cond, what):
    if not cond:
        print(f"not ok - {what}")
        sys.exit(1)
    print(f"ok - {what}")


def main():
    CalendarItem.register("leave_key", LeaveKey)
    # identity: an app-only token must impersonate on every request, version probes included;
    # Exchange Online refuses it otherwise (ecederstrand/exchangelib#735, OfficeDev/ews-managed-api#245).
    creds = SimCredentials(client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT,
                           identity=Identity(primary_smtp_address=MAILBOX))
    config = Configuration(service_endpoint=f"{SIM_URL}/EWS/Exchange.asmx", credentials=creds, auth_type=OAUTH2)
    account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
    check(account.version.api_version == "Exchange2016", f"version negotiated: {account.version.api_version}")
    riga = EWSTimeZone("Europe/Riga")
    cal = account.calendar
    check(cal is not None and cal.id, "calendar folder found")

    timed = CalendarItem(
        account=account,
        folder=cal,
        subject="Doctor",
        start=EWSDateTime(2026, 12, 1, 9, 0, tzinfo=riga),
        end=EWSDateTime(2026, 12, 1, 12, 30, tzinfo=riga),
        legacy_free_busy_status="OOF",
        sensitivity="Private",
        categories=["Leave"],
        leave_key="leave:1",
    )
    timed.save(send_meeting_invitations=SEND_TO_NONE)
    check(timed.id and timed.changekey, "timed item created")

    allday = CalendarItem(
        account=account,
        folder=cal,
        subject="Annual leave",
        start=EWSDate(2026, 12, 21),
        end=EWSDate(2026, 12, 23),  # inclusive last day in exchangelib
        is_all_day=True,
        legacy_free_busy_status="OOF",
        leave_key="leave:2",
    )
    allday.save(send_meeting_invitations=SEND_TO_NONE)
    check(allday.id and allday.changekey, "all-day item created")

    start = EWSDateTime(2026, 11, 30, 0, 0, tzinfo=riga)
    end = EWSDateTime(2027, 1, 1, 0, 0, tzinfo=riga)
    found = {i.subject: i for i in cal.view(start=start, end=end)}
    check(set(found) == {"Doctor", "Annual leave"}, f"both listed in the range: {sorted(found)}")
    d = found["Doctor"]
    check(d.start == timed.start and d.end == timed.end, f"timed start/end read back: {d.start} {d.end}")
    check(d.legacy_free_busy_status == "OOF" and d.leave_key == "leave:1", "show-as and extended property read back")
    a = found["Annual leave"]
    check(a.is_all_day and a.start == EWSDate(2026, 12, 21) and a.end == EWSDate(2026, 12, 23),
          f"all-day dates read back: {a.start} .. {a.end}")

    empty = list(cal.view(start=EWSDateTime(2027, 2, 1, tzinfo=riga), end=EWSDateTime(2027, 3, 1, tzinfo=riga)))
    check(empty == [], "an empty range lists nothing")

    byprop = list(cal.filter(leave_key="leave:2"))
    check(len(byprop) == 1 and byprop[0].id == allday.id, "found by extended property restriction")

    old_ck = timed.changekey
    timed.subject = "Doctor (moved)"
    timed.start = EWSDateTime(2026, 12, 2, 9, 0, tzinfo=riga)
    timed.end = EWSDateTime(2026, 12, 2, 10, 0, tzinfo=riga)
    timed.save(update_fields=["subject", "start", "end"], send_meeting_invitations=SEND_TO_NONE)
    check(timed.changekey != old_ck, "update gives a new change key")
    fresh = cal.get(id=timed.id)
    check(fresh.subject == "Doctor (moved)" and fresh.start == timed.start, "update read back")

    timed.delete(send_meeting_cancellations=SEND_TO_NONE)
    allday.delete(send_meeting_cancellations=SEND_TO_NONE)
    left = list(cal.view(start=start, end=end))
    check(left == [], "both deleted")


if __name__ == "__main__":
    main()
