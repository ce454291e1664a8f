#!/usr/bin/python3
"""Read a mailbox's calendar through Debian's python3-exchangelib, as an independent check of what
leavesync wrote over EWS. Prints one JSON object per item carrying leavesync's sync key.

usage: exchangelib_read.py SIM_URL CA_FILE TENANT CLIENT_ID SECRET MAILBOX FROM TO   (dates YYYY-MM-DD)
"""
import datetime
import json
import os
import sys

SIM_URL, CA_FILE, TENANT, CLIENT_ID, SECRET, MAILBOX, FROM, TO = sys.argv[1:9]
os.environ["REQUESTS_CA_BUNDLE"] = CA_FILE

from exchangelib import (  # noqa: E402
    IMPERSONATION, OAUTH2, Account, CalendarItem, Configuration, EWSDateTime, EWSTimeZone,
    ExtendedProperty, Identity, OAuth2Credentials)


class SimCredentials(OAuth2Credentials):
    @property
    def token_url(self):
        return f"{SIM_URL}/{self.tenant_id}/oauth2/v2.0/token"


class LeaveSyncKey(ExtendedProperty):
    # LEAVESYNC_PROPSET_ID / LEAVESYNC_PROP_NAME in engine/event.h
    property_set_id = "0c6f5a4e-8d1b-4c39-9e2a-5b7d3f1a6c20"
    property_name = "LeaveSyncKey"
    property_type = "String"


CalendarItem.register("leave_sync_key", LeaveSyncKey)
# identity: an app-only token must impersonate on every request, version probes included;
# Exchange Online refuses it otherwise (ecederstrand/exchangelib#735, OfficeDev/ews-managed-api#245).
creds = SimCredentials(client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT,
                       identity=Identity(primary_smtp_address=MAILBOX))
config = Configuration(service_endpoint=f"{SIM_URL}/EWS/Exchange.asmx", credentials=creds, auth_type=OAUTH2)
account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
utc = EWSTimeZone("UTC")
start = EWSDateTime.from_datetime(datetime.datetime.fromisoformat(FROM).replace(tzinfo=utc))
end = EWSDateTime.from_datetime(datetime.datetime.fromisoformat(TO).replace(tzinfo=utc))
for item in account.calendar.view(start=start, end=end):
    if not item.leave_sync_key:
        continue
    if item.is_all_day:
        # exchangelib gives all-day start/end as dates in the item's zone, end inclusive
        s, e = str(item.start), str(item.end)
    else:
        s = item.start.astimezone(utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        e = item.end.astimezone(utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(json.dumps({"key": item.leave_sync_key, "subject": item.subject, "start": s, "end": e,
                      "all_day": bool(item.is_all_day), "show_as": item.legacy_free_busy_status,
                      "sensitivity": item.sensitivity, "categories": item.categories or [],
                      "reminder": bool(item.reminder_is_set)}, sort_keys=True))
