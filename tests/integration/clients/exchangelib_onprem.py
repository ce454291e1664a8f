#!/usr/bin/python3
"""Sign in to m365sim's on-premises mode with Debian's python3-exchangelib (4.9), a client no one
here wrote: NTLM (requests_ntlm / ntlm-auth, NTLMv2) or Basic, with impersonation.

usage: exchangelib_onprem.py EWS_URL CA_FILE AUTH USERNAME PASSWORD MAILBOX [EXPECT]

AUTH is NTLM or basic. EXPECT "ok" (default): negotiates the version, finds the calendar, creates an
item, reads it back and deletes it; "denied": the request must fail with ErrorImpersonateUserDenied;
"unauthorized": the sign-in must be refused. Prints one "ok - ..." line per step; exits 1 at the
first failure.
"""
import os
import sys

EWS_URL, CA_FILE, AUTH, USERNAME, PASSWORD, MAILBOX = sys.argv[1:7]
EXPECT = sys.argv[7] if len(sys.argv) > 7 else "ok"
os.environ["REQUESTS_CA_BUNDLE"] = CA_FILE

from exchangelib import (  # noqa: E402
    BASIC,
    IMPERSONATION,
    NTLM,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
)
from exchangelib.errors import ErrorImpersonateUserDenied, UnauthorizedError  # noqa: E402
from exchangelib.items import SEND_TO_NONE  # noqa: E402


def check(cond, what):
    if not cond:
        print(f"not ok - {what}")
        sys.exit(1)
    print(f"ok - {what}")


def main():
    auth_type = {"NTLM": NTLM, "basic": BASIC}[AUTH]
    config = Configuration(service_endpoint=EWS_URL, credentials=Credentials(USERNAME, PASSWORD),
                           auth_type=auth_type)
    try:
        account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
        cal = account.calendar
        cal.refresh()
    except ErrorImpersonateUserDenied as e:
        check(EXPECT == "denied", f"impersonation refused: {e}")
        return
    except UnauthorizedError as e:
        check(EXPECT == "unauthorized", f"sign-in refused: {e}")
        return
    check(EXPECT == "ok", f"signed in with {AUTH} and impersonated {MAILBOX}")
    check(account.version.build.major_version == 15 and account.version.build.minor_version == 1,
          f"server build read from ServerVersionInfo: {account.version.build}")
    riga = EWSTimeZone("Europe/Riga")
    item = CalendarItem(account=account, folder=cal, subject="On-premises check",
                        start=EWSDateTime(2026, 12, 1, 9, 0, tzinfo=riga),
                        end=EWSDateTime(2026, 12, 1, 10, 0, tzinfo=riga))
    item.save(send_meeting_invitations=SEND_TO_NONE)
    check(item.id and item.changekey, "item created")
    got = cal.get(id=item.id)
    check(got.subject == "On-premises check", "item read back")
    item.delete(send_meeting_cancellations=SEND_TO_NONE)
    check(True, "item deleted")


if __name__ == "__main__":
    main()
