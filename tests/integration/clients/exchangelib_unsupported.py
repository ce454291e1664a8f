#!/usr/bin/python3
"""Call, through Debian's python3-exchangelib, an EWS operation m365sim does not implement
(GetUserOofSettings), and print what exchangelib raised. The simulator answers it the way Exchange
answers a web method the caller may not use (ErrorAccessDenied); exchangelib must give up at once
instead of trying every older RequestServerVersion, as it does for ErrorInvalidRequest.

usage: exchangelib_unsupported.py SIM_URL CA_FILE TENANT CLIENT_ID SECRET MAILBOX
"""
import os
import sys

SIM_URL, CA_FILE, TENANT, CLIENT_ID, SECRET, MAILBOX = sys.argv[1:7]
os.environ["REQUESTS_CA_BUNDLE"] = CA_FILE

from exchangelib import (  # noqa: E402
    IMPERSONATION, OAUTH2, Account, Build, Configuration, Identity, OAuth2Credentials, Version)


class SimCredentials(OAuth2Credentials):
    @property
    def token_url(self):
        return f"{SIM_URL}/{self.tenant_id}/oauth2/v2.0/token"


creds = SimCredentials(client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT,
                       identity=Identity(primary_smtp_address=MAILBOX))
# a fixed version: no probing, so that every request counted is the operation itself
config = Configuration(service_endpoint=f"{SIM_URL}/EWS/Exchange.asmx", credentials=creds,
                       auth_type=OAUTH2, version=Version(build=Build(15, 1)))
account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
try:
    print("unexpected answer:", account.oof_settings)
    sys.exit(1)
except Exception as e:  # noqa: BLE001 - what exchangelib raises is the point
    print(type(e).__name__)
