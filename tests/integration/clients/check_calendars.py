#!/usr/bin/python3
"""Checks that the simulator's calendars hold exactly the store's approved leave: each approved leave
has exactly one tagged event (found by its sync key), no cancelled or unknown leave has one, and every
untagged event is left alone. Prints each problem; exit 1 if any.

usage: check_calendars.py STORE SIM_URL CA_FILE [--expect-untagged N]
"""
import collections
import json
import sqlite3
import ssl
import sys
import urllib.request

PROPSET = "0c6f5a4e-8d1b-4c39-9e2a-5b7d3f1a6c20"  # LEAVESYNC_PROPSET_ID, engine/event.h

store, url, ca = sys.argv[1:4]
expect_untagged = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--expect-untagged" else None
ctx = ssl.create_default_context(cafile=ca)
db = sqlite3.connect(store)
want = {}  # sync key -> (mailbox, leave id)
for key, mailbox, leave in db.execute(
        "SELECT t.sync_key, t.mailbox, t.leave_id FROM target t JOIN leave l ON l.id = t.leave_id"
        " AND l.mailbox = t.mailbox WHERE l.status = 'approved' AND t.desired IS NOT NULL"):
    want[key] = (mailbox, leave)
approved = db.execute("SELECT count(*) FROM leave WHERE status = 'approved'").fetchone()[0]
mailboxes = [r[0] for r in db.execute("SELECT DISTINCT mailbox FROM leave")]

problems = []
if len(want) != approved:
    problems.append(f"{approved} approved leave but {len(want)} targets with a desired event")
found = collections.Counter()
untagged = 0
for mb in mailboxes:
    with urllib.request.urlopen(f"{url}/_sim/mailboxes/{mb}", context=ctx) as r:
        dump = json.load(r)
    for it in dump.get("items", []):
        if it.get("deleted") or it.get("folder") != "calendar":
            continue
        keys = [p["value"] for p in it.get("extended_properties", []) if p["set_id"].lower() == PROPSET]
        if not keys:
            untagged += 1
            continue
        found[keys[0]] += 1
        if keys[0] not in want:
            problems.append(f"{mb}: tagged event {it['ews_id'][:16]}... has no approved leave (key {keys[0]})")
        elif want[keys[0]][0] != mb:
            problems.append(f"{mb}: event of {want[keys[0]][1]} is in the wrong mailbox")
for key, (mb, leave) in want.items():
    if found[key] == 0:
        problems.append(f"{mb}: leave {leave} has no event")
    elif found[key] > 1:
        problems.append(f"{mb}: leave {leave} has {found[key]} events")
if expect_untagged is not None and untagged != expect_untagged:
    problems.append(f"{untagged} untagged events, expected {expect_untagged}")
for p in problems:
    print(p)
print(f"# {len(want)} approved leave, {sum(found.values())} tagged events, {untagged} untagged, {len(problems)} problems")
sys.exit(1 if problems else 0)
