#!/usr/bin/python3
"""Drives m365sim with Debian's python3-msal, a client nobody here wrote.

usage: msal_check.py AUTHORITY CA_FILE CLIENT_ID CLIENT_SECRET [CERT_KEY CERT_PEM]

AUTHORITY is https://127.0.0.1:PORT/{tenant}. Prints "ok <step> ..." per step; exits 1 on the
first failure with MSAL's own error. Setup, as MSAL 1.21 needs it offline: an https authority (it
refuses http), instance_discovery=False (else it asks login.microsoftonline.com first), a
requests.Session with trust_env=False (else REQUESTS_CA_BUNDLE overrides verify) and verify=CA_FILE.
"""
import json
import sys
import threading
import time
import urllib.parse

import msal
import requests

EWS = ["https://outlook.office365.com/.default"]
CAL = ["https://graph.microsoft.com/Calendars.ReadWrite"]


def session(ca):
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
    s.verify = ca
    return s


def fail(step, result):
    print("not ok %s: %s" % (step, json.dumps(result)[:600]))
    sys.exit(1)


def client_credentials(authority, ca, client_id, secret):
    app = msal.ConfidentialClientApplication(
        client_id, client_credential=secret, authority=authority,
        instance_discovery=False, http_client=session(ca))
    result = app.acquire_token_for_client(scopes=EWS)
    if "access_token" not in result:
        fail("client_credentials", result)
    print("ok client_credentials expires_in=%s" % result.get("expires_in"))


def certificate(authority, ca, client_id, key_file, cert_file):
    """MSAL 1.21 signs the assertion RS256 with an x5t (SHA-1) header from the thumbprint."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    pem = open(cert_file, "rb").read()
    thumbprint = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA1()).hex()
    app = msal.ConfidentialClientApplication(
        client_id, authority=authority, instance_discovery=False, http_client=session(ca),
        client_credential={"private_key": open(key_file).read(), "thumbprint": thumbprint})
    result = app.acquire_token_for_client(scopes=EWS)
    if "access_token" not in result:
        fail("certificate", result)
    print("ok certificate")


def approve_later(base, ca, user_code, user):
    """The user signs in on another device: the simulator's control API approves the code."""
    def run():
        time.sleep(1.5)
        session(ca).post(base + "/_sim/devicecode/approve",
                         json={"user_code": user_code, "user": user}).raise_for_status()
    t = threading.Thread(target=run)
    t.start()
    return t


def device_flow_and_refresh(authority, ca, client_id):
    app = msal.PublicClientApplication(
        client_id, authority=authority, instance_discovery=False, http_client=session(ca))
    flow = app.initiate_device_flow(scopes=CAL)
    if "user_code" not in flow:
        fail("device_flow initiate", flow)
    parts = urllib.parse.urlsplit(authority)
    approver = approve_later("%s://%s" % (parts.scheme, parts.netloc), ca, flow["user_code"],
                             "alice@fabrikam.com")
    flow["expires_at"] = time.time() + 60
    result = app.acquire_token_by_device_flow(flow)
    approver.join()
    if "access_token" not in result or "refresh_token" not in result:
        fail("device_flow", result)
    user = result.get("id_token_claims", {}).get("preferred_username")
    print("ok device_flow %s" % user)

    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], scopes=CAL)
    if "access_token" not in refreshed:
        fail("refresh", refreshed)
    if refreshed.get("refresh_token") in (None, result["refresh_token"]):
        fail("refresh (rotation)", refreshed)
    again = app.acquire_token_by_refresh_token(result["refresh_token"], scopes=CAL)
    if again.get("error") != "invalid_grant":
        fail("refresh (old token must be rejected)", again)
    print("ok refresh rotated; old refresh token rejected with %s" % again.get("error_codes"))


def auth_code_flow(authority, ca, client_id):
    """MSAL's own authorization code flow with PKCE: it sends a nonce and refuses an id_token that
    does not carry it back. The simulator approves the sign-in of login_hint at once and redirects
    to the (unserved) loopback redirect URI, whose query is the auth_response."""
    app = msal.PublicClientApplication(
        client_id, authority=authority, instance_discovery=False, http_client=session(ca))
    flow = app.initiate_auth_code_flow(scopes=CAL, redirect_uri="http://localhost",
                                       login_hint="alice@fabrikam.com")
    if "auth_uri" not in flow or "nonce=" not in flow["auth_uri"]:
        fail("auth_code initiate", flow)
    answer = session(ca).get(flow["auth_uri"], allow_redirects=False)
    location = answer.headers.get("Location", "")
    if answer.status_code != 302 or "code=" not in location:
        fail("auth_code authorize", {"status": answer.status_code, "location": location})
    auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    try:
        result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    except RuntimeError as e:  # MSAL raises on a missing or wrong nonce
        fail("auth_code nonce", {"error": str(e)})
    if "access_token" not in result:
        fail("auth_code", result)
    print("ok auth_code_flow %s (nonce checked by MSAL)"
          % result.get("id_token_claims", {}).get("preferred_username"))


def main():
    if len(sys.argv) not in (5, 7):
        sys.exit(__doc__)
    authority, ca, client_id, secret = sys.argv[1:5]
    client_credentials(authority, ca, client_id, secret)
    if len(sys.argv) == 7:
        certificate(authority, ca, client_id, sys.argv[5], sys.argv[6])
    device_flow_and_refresh(authority, ca, client_id)
    auth_code_flow(authority, ca, client_id)


if __name__ == "__main__":
    main()
