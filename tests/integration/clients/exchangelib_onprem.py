#!/usr/bin/python3
"""Sign in to m365sim's on-premises mode with Debian's python3-exchangelib (4.9), a client no one
here wrote: NTLM (requests_ntlm / ntlm-auth, NTLMv2) or Basic, with impersonation.

usage: exchangelib_onprem.py EWS_URL CA_FILE AUTH USERNAME PASSWORD MAILBOX [EXPECT]
       exchangelib_onprem.py autodiscover:PORT:HOST,... CA_FILE AUTH USERNAME PASSWORD MAILBOX [EXPECT]

AUTH is NTLM or basic. With autodiscover:PORT, exchangelib finds the EWS URL itself through SOAP
Autodiscover (autodiscover="soap"); the HOSTs listed are connected to 127.0.0.1:PORT and every
other name is refused (the test has no DNS: the names are mapped in urllib3's connection function,
as curl's --connect-to does, and exchangelib's DNS-only host name check is skipped; TLS still
verifies the names). EXPECT "ok" (default): negotiates the version, finds the calendar, creates an
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

AUTODISCOVER_PORT = int(EWS_URL.split(":")[1]) if EWS_URL.startswith("autodiscover:") else None
if AUTODISCOVER_PORT:
    MAPPED = set(EWS_URL.split(":")[2].split(","))
    import urllib3.util.connection  # noqa: E402
    from exchangelib.autodiscover.discovery.base import BaseAutodiscovery  # noqa: E402

    _connect = urllib3.util.connection.create_connection

    def _to_simulator(address, *args, **kwargs):
        port = AUTODISCOVER_PORT if address[0] in MAPPED else 1  # port 1: connection refused
        return _connect(("127.0.0.1", port), *args, **kwargs)

    urllib3.util.connection.create_connection = _to_simulator
    BaseAutodiscovery._ensure_valid_hostname = lambda self, url: None
from exchangelib.items import SEND_TO_NONE  # noqa: E402


def check(cond, what):
    if not cond:
        print(f"not ok - {what}")
        sys.exit(1)
    print(f"ok - {what}")


def main():
    auth_type = {"NTLM": NTLM, "basic": BASIC}[AUTH]
    credentials = Credentials(USERNAME, PASSWORD)
    try:
        if AUTODISCOVER_PORT:
            account = Account(MAILBOX, credentials=credentials, autodiscover="soap",
                              access_type=IMPERSONATION)
            check(account.protocol.service_endpoint.startswith("https://"),
                  f"autodiscover found {account.protocol.service_endpoint}")
        else:
            config = Configuration(service_endpoint=EWS_URL, credentials=credentials, auth_type=auth_type)
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
