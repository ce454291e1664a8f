#!/usr/bin/python3
"""An HR integration script as one would write it beside an HR system: push approved leave to
leavesync serve over HTTPS with an API key (python3-requests), cancel one, and poll until every
leave has reached its calendar. Prints one JSON line per leave at the end.

usage: hr_client.py BASE_URL CA_FILE API_KEY_FILE
"""
import json
import sys
import time
import uuid

import requests

base, ca, key_file = sys.argv[1:4]
with open(key_file, encoding="ascii") as f:
    key = f.read().strip()
session = requests.Session()
session.headers["Authorization"] = f"Bearer {key}"
# verify= on each call: a session's verify loses to REQUESTS_CA_BUNDLE in the environment
# (psf/requests#3829)

LEAVE = [
    {"id": "HR-1", "mailbox": "bob@contoso.com", "kind": "Annual leave",
     "start": "2027-02-01", "end": "2027-02-05", "status": "approved", "revision": 1},
    {"id": "HR-2", "mailbox": "bob@contoso.com", "kind": "Sick leave",
     "start": "2027-03-10T09:00", "end": "2027-03-10T13:00", "time_zone": "Europe/Riga",
     "status": "approved", "revision": 1},
    {"id": "HR-3", "mailbox": "carol@contoso.com", "kind": "Annual leave",
     "start": "2027-04-01", "end": "2027-04-02", "status": "approved", "revision": 1},
]

for lv in LEAVE:
    # a webhook retried by the HR system carries the same Idempotency-Key
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(2):
        r = session.put(f"{base}/v1/leave/{lv['id']}", json=lv, headers=headers, timeout=30, verify=ca)
        if r.status_code not in (200, 201):
            sys.exit(f"PUT {lv['id']}: {r.status_code} {r.text}")

cancel = dict(LEAVE[2], status="cancelled", revision=2)
r = session.put(f"{base}/v1/leave/HR-3", json=cancel, timeout=30, verify=ca)
if r.status_code != 200 or r.json()["result"] != "updated":
    sys.exit(f"cancel HR-3: {r.status_code} {r.text}")

deadline = time.monotonic() + 120
while True:
    states = {}
    for lv in LEAVE:
        r = session.get(f"{base}/v1/leave/{lv['id']}", timeout=30, verify=ca)
        r.raise_for_status()
        states[lv["id"]] = r.json()
    if all(s["state"] == "synced" for s in states.values()):
        break
    if time.monotonic() > deadline:
        sys.exit(f"not synced after 120 s: {json.dumps(states)}")
    time.sleep(0.5)

for s in states.values():
    print(json.dumps({"id": s["id"], "state": s["state"], "status": s["leave"]["status"],
                      "event_id": s["event_id"], "written_at": s["written_at"]}))
