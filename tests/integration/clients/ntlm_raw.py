#!/usr/bin/python3
"""One NTLM handshake against a URL with python3-ntlm-auth (Debian's, a client no one here wrote),
at a chosen LAN Manager compatibility level: 0-2 send LM/NTLMv1 responses, 3 (the default) NTLMv2.

usage: ntlm_raw.py URL CA_FILE DOMAIN USER PASSWORD LEVEL BODY_FILE

Sends NEGOTIATE, reads the CHALLENGE from the 401, answers with AUTHENTICATE on the same connection
(NTLM signs in a connection) and prints the final HTTP status on stdout.
"""
import base64
import os
import sys

URL, CA, DOMAIN, USER, PASSWORD, LEVEL, BODY = sys.argv[1:8]
os.environ["REQUESTS_CA_BUNDLE"] = CA  # requests lets the environment override Session.verify

import requests  # noqa: E402
# ntlm-auth hashes with hashlib's MD4, which OpenSSL 3 keeps in its legacy provider; python3-
# cryptography's OpenSSL binding loads that provider (requests_ntlm, which exchangelib uses, imports it
# the same way).
import cryptography.hazmat.bindings.openssl.binding  # noqa: E402,F401
from ntlm_auth.ntlm import NtlmContext  # noqa: E402

body = open(BODY, "rb").read()
ctx = NtlmContext(USER, PASSWORD, domain=DOMAIN, ntlm_compatibility=int(LEVEL))
headers = {"Content-Type": "text/xml; charset=utf-8"}
with requests.Session() as s:
    s.verify = CA
    neg = base64.b64encode(ctx.step()).decode()
    r = s.post(URL, data=b"", headers={**headers, "Authorization": f"NTLM {neg}"})
    challenges = [v.strip() for v in r.headers.get("WWW-Authenticate", "").split(",")]
    chal = next((c[5:] for c in challenges if c.startswith("NTLM ")), None)
    if r.status_code != 401 or not chal:
        print(f"no challenge: HTTP {r.status_code}")
        sys.exit(1)
    auth = base64.b64encode(ctx.step(base64.b64decode(chal))).decode()
    r = s.post(URL, data=body, headers={**headers, "Authorization": f"NTLM {auth}"})
    print(r.status_code)
