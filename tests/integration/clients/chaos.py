#!/usr/bin/python3
"""chaos.py: the randomized fault test of issue 12 (tests/integration/t2140-chaos-*.sh, make soak).

Per seed: a simulator with M mailboxes, N leave entries, then R rounds of {HR pushes (new leave,
moved dates and times, cancellations, reinstatements, rows deleted by SQL); random faults from the
simulator's catalogue on random operations, reads as well as writes (drops before and after
commit, with and without any answer byte, ErrorServerBusy, 429 and 503 with Retry-After, Graph
per-request throttling, expired tokens, slow answers), sometimes queued in sequences; people
editing events in Outlook (a field leavesync does not own, the subject, the times) or deleting
them; a sync, or now and then a reconcile, killed with SIGKILL at a random moment (or let
finish)}. Then the faults are cleared, syncs run until nothing is left to do, a reconcile repairs
what people changed (as the nightly one does), syncs run again, and the invariant is checked
against the simulator's full dump and by `reconcile --dry-run`:

  - exactly one tagged event per approved leave, at its latest dates and times (UTC instants
    computed here, independently, from the leave rows with Python's zoneinfo);
  - no event for a cancelled or removed leave, no two events with one sync key, no event in
    the wrong mailbox, personal (untagged) events untouched;
  - the store's remote ids and change keys equal to the calendars', nothing left queued,
    creating, failed or waiting; `reconcile --dry-run` finds no drift (exit 0).

The same seed gives the same leave, HR changes, faults and kill delays (timing under load is not
reproducible, so a replay may take another path: it usually fails the same way). On failure the
seed and a replay command are printed.

The backend ews-ntlm is EWS against the simulator's on-premises mode (Exchange Server): the
service account signs in with NTLMv2 (issue 18), no token; its faults are the same but for
expired tokens.

usage: chaos.py --build DIR --backend ews|ews-ntlm|graph|graph-delegated --seeds S1[,S2...]
                [--leave N] [--mailboxes M] [--rounds R] [--json FILE] [--keep DIR]
"""
import argparse
import collections
import datetime
import json
import os
import random
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import zoneinfo

PROPSET = "0c6f5a4e-8d1b-4c39-9e2a-5b7d3f1a6c20"  # LEAVESYNC_PROPSET_ID, engine/event.h
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "demo-secret-value~0123456789abcdefghij"
SRC = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# Zones of both hemispheres; part-day times stay between 08:00 and 18:00, far from DST changes.
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC",
         "Europe/Riga"]
KINDS = ["Annual leave", "Sick leave", "Remote work", "Training"]
# ews-ntlm: tools/gen-fixture --onprem's service account (tenant_id and the secret are unused then)
NTLM_PASSWORD = "Chaos-2026!svc"
NTLM_EWS = "auth = ntlm\nusername = CONTOSO\\svc-leavesync\ntenant_id = " + TENANT
GRACE = 2  # [sync] create_grace for the test: short, so that runs converge quickly


class Failure(Exception):
    pass


def log(*a):
    print("#", *a, flush=True)


# ---- the simulator ----

class Sim:
    def __init__(self, build, work, tls, mailboxes, onprem=False):
        fixture = os.path.join(work, "fixture.json")
        subprocess.run([os.path.join(SRC, "tools", "gen-fixture"), "--mailboxes", str(mailboxes),
                        *(["--onprem"] if onprem else []), "-o", fixture], check=True)
        self.out = open(os.path.join(work, "sim.out"), "w+")
        self.proc = subprocess.Popen(
            [os.path.join(build, "m365sim"), "--port", "0", "--fixture", fixture,
             "--tls-cert", os.path.join(tls, "server.pem"), "--tls-key", os.path.join(tls, "server.key")],
            stdout=self.out, stderr=open(os.path.join(work, "sim.err"), "w"))
        self.ctx = ssl.create_default_context(cafile=os.path.join(tls, "ca.pem"))
        deadline = time.monotonic() + 30
        self.url = None
        while time.monotonic() < deadline and not self.url:
            self.out.seek(0)
            line = self.out.readline()
            if line.startswith("listening on "):
                self.url = line.split()[-1]
            else:
                time.sleep(0.05)
        with open(os.path.join(work, "sim.err")) as f:
            err = f.read()
        if not self.url or "EWS schema" in err:  # (every EWS request would fail: say why now)
            self.stop()
            raise Failure(err.strip() if self.url else "m365sim did not start: " + err.strip())

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
            return json.load(r)

    def counters(self):
        return self.call("GET", "/_sim/counters")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def make_tls(work):
    tls = os.path.join(work, "tls")
    os.makedirs(tls, exist_ok=True)
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=chaos CA", "-keyout", f"{tls}/ca.key", "-out", f"{tls}/ca.pem")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", f"{tls}/server.key", "-out", f"{tls}/server.csr")
    with open(f"{tls}/ext.cnf", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run("openssl", "x509", "-req", "-in", f"{tls}/server.csr", "-CA", f"{tls}/ca.pem", "-CAkey",
        f"{tls}/ca.key", "-CAcreateserial", "-days", "2", "-extfile", f"{tls}/ext.cnf", "-out",
        f"{tls}/server.pem")
    return tls


# ---- leavesync ----

class Leavesync:
    def __init__(self, build, work, sim, backend, tls):
        self.bin = os.path.join(build, "leavesync")
        self.work = work
        self.db = os.path.join(work, "leavesync.db")
        self.conf = os.path.join(work, "leavesync.conf")
        mode = "delegated" if backend == "graph-delegated" else "application"
        with open(self.conf, "w") as f:
            f.write(f"""[store]
path = {self.db}

[sync]
backend = {"ews" if backend.startswith("ews") else "graph"}
create_grace = {GRACE}
delete_min = 100000
concurrency = 4

[tls]
ca_file = {tls}/ca.pem

[ews]
{NTLM_EWS if backend == "ews-ntlm" else f"tenant_id = {TENANT}"}
client_id = {CLIENT}
authority = {sim.url}
url = {sim.url}/EWS/Exchange.asmx
batch_size = 7

[graph]
tenant_id = {TENANT}
client_id = {CLIENT}
mode = {mode}
authority = {sim.url}
url = {sim.url}/v1.0
batch_size = 7
""")
        os.chmod(self.conf, 0o600)
        self.env = dict(os.environ, HOME=work, LEAVESYNC_CONFIG=self.conf)
        if backend == "ews-ntlm":
            self.env["LEAVESYNC_EWS_PASSWORD"] = NTLM_PASSWORD
        if mode == "application":
            self.env["LEAVESYNC_EWS_CLIENT_SECRET"] = SECRET
            self.env["LEAVESYNC_GRAPH_CLIENT_SECRET"] = SECRET
        else:
            self.env.pop("LEAVESYNC_EWS_CLIENT_SECRET", None)
            self.env.pop("LEAVESYNC_GRAPH_CLIENT_SECRET", None)

    def run(self, *args, input=None, timeout=300):
        return subprocess.run([self.bin, *args], env=self.env, cwd=self.work, input=input,
                              capture_output=True, text=True, timeout=timeout)

    def start_sync(self, *args):
        """sync (or the command given, such as a reconcile) in the background"""
        self.err = open(os.path.join(self.work, "sync.err"), "w+")
        return subprocess.Popen([self.bin, *(args or ("sync",))], env=self.env, cwd=self.work,
                                stdout=subprocess.DEVNULL, stderr=self.err)

    def sanitizer_report(self, text=None):
        """A report of ASan/UBSan/LeakSanitizer (a SANITIZE=1 build) in the last run's stderr."""
        if text is None:
            self.err.seek(0)
            text = self.err.read()
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if mark in text:
                return text[text.index(mark) - 200 if text.index(mark) > 200 else 0:][:3000]
        return None

    def login(self, sim, mailbox):
        """Delegated: `auth login --loopback`, the browser played by urllib following redirects."""
        p = subprocess.Popen([self.bin, "auth", "login", "--mailbox", mailbox, "--loopback"],
                             env=self.env, cwd=self.work, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        url = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not url:
            line = p.stderr.readline()
            if not line:
                break
            line = line.strip()
            if line.startswith("https://") and "authorize" in line:
                url = line
        if not url:
            p.kill()
            raise Failure(f"auth login --loopback for {mailbox} printed no URL")
        try:
            urllib.request.urlopen(url + "&login_hint=" + mailbox, context=sim.ctx, timeout=30).read()
        except urllib.error.URLError:
            pass  # the loopback page may close early; the exit status says whether it worked
        if p.wait(30) != 0:
            raise Failure(f"auth login for {mailbox} failed: {p.stderr.read()}")


# ---- HR ----

def random_leave(rng, lid, mailboxes):
    day = datetime.date(2027, 1, 4) + datetime.timedelta(days=rng.randrange(0, 340))
    zone = rng.choice(ZONES)
    if rng.random() < 0.3:
        hour = rng.randrange(8, 15)
        start = f"{day.isoformat()}T{hour:02d}:{rng.choice([0, 15, 30]):02d}"
        end = f"{day.isoformat()}T{hour + rng.randrange(1, 4):02d}:{rng.choice([0, 30]):02d}"
    else:
        start = day.isoformat()
        end = (day + datetime.timedelta(days=rng.randrange(0, 6))).isoformat()
    return {"id": lid, "mailbox": rng.choice(mailboxes), "kind": rng.choice(KINDS),
            "start": start, "end": end, "status": "approved" if rng.random() < 0.9 else "cancelled",
            "revision": 1, "time_zone": zone}


def moved(rng, lv):
    lv = dict(lv)
    shift = datetime.timedelta(days=rng.choice([-3, -1, 1, 2, 7]))
    if "T" in lv["start"]:
        fmt = "%Y-%m-%dT%H:%M"
        s = datetime.datetime.strptime(lv["start"], fmt) + shift
        e = datetime.datetime.strptime(lv["end"], fmt) + shift
        if rng.random() < 0.5:  # a different hour too, the same day
            s = s.replace(hour=rng.randrange(8, 12))
            e = s + datetime.timedelta(minutes=rng.choice([60, 90, 240]))
        lv["start"], lv["end"] = s.strftime(fmt), e.strftime(fmt)
    else:
        s = datetime.date.fromisoformat(lv["start"]) + shift
        e = datetime.date.fromisoformat(lv["end"]) + shift
        lv["start"], lv["end"] = s.isoformat(), e.isoformat()
    return lv


class HR:
    def __init__(self, rng, ls, mailboxes, n):
        self.rng, self.ls, self.mailboxes = rng, ls, mailboxes
        self.next_id = 0
        self.leave = {}
        self.changes = collections.Counter()
        self.push([self.new() for _ in range(n)])

    def new(self):
        self.next_id += 1
        lv = random_leave(self.rng, f"CH-{self.next_id:05d}", self.mailboxes)
        self.leave[lv["id"]] = lv
        return lv

    def push(self, records):
        data = "".join(json.dumps(r) + "\n" for r in records)
        r = self.ls.run("push", "--format", "ndjson", "-", input=data)
        if r.returncode != 0:
            raise Failure(f"push failed ({r.returncode}): {r.stderr}")

    def round(self):
        rng, out = self.rng, []
        ids = sorted(self.leave)  # before the new ones: an id appears once per push
        for _ in range(rng.randrange(3, 12)):
            out.append(self.new())
            self.changes["new"] += 1
        for lid in rng.sample(ids, min(len(ids), rng.randrange(5, 25))):
            lv = self.leave[lid]
            what = rng.random()
            if what < 0.45:
                lv = moved(rng, lv)
                self.changes["moved"] += 1
            elif lv["status"] == "approved" and what < 0.75:
                lv = dict(lv, status="cancelled")
                self.changes["cancelled"] += 1
            elif lv["status"] == "cancelled":
                lv = dict(lv, status="approved")
                self.changes["reinstated"] += 1
            else:
                lv = dict(lv, mailbox=rng.choice(self.mailboxes))
                self.changes["other mailbox"] += 1
            lv["revision"] += 1
            self.leave[lid] = lv
            out.append(lv)
        self.push(out)
        # rows HR deletes by SQL (docs/store.md allows it): their events must go
        gone = rng.sample(sorted(self.leave), min(len(self.leave), rng.randrange(0, 3)))
        if gone:
            db = sqlite3.connect(self.ls.db, timeout=60)
            db.executemany("DELETE FROM leave WHERE id = ?", [(g,) for g in gone])
            db.commit()
            db.close()
            for g in gone:
                del self.leave[g]
            self.changes["removed"] += len(gone)


# ---- faults ----

def fault_catalogue(backend):
    """(weight, builder(rng) -> fault JSON without op) per kind."""
    ra = lambda rng: round(rng.uniform(0.05, 0.4), 2)
    kinds = [
        (3, lambda rng: {"kind": "drop", "no_answer": rng.random() < 0.5}),
        (3, lambda rng: {"kind": "drop", "after_commit": True, "no_answer": rng.random() < 0.5}),
        (2, lambda rng: {"kind": "http429", "retry_after": ra(rng)}),
        (2, lambda rng: {"kind": "http503", "retry_after": ra(rng)}),
        (1, lambda rng: {"kind": "token_expired"}),
        (2, lambda rng: {"kind": "latency", "latency_ms": rng.randrange(100, 900)}),
        (1, lambda rng: {"kind": "truncate"}),
    ]
    if backend == "ews-ntlm":  # no token to expire: the connection is signed in
        kinds = [k for k in kinds if k[1](random.Random(0))["kind"] != "token_expired"]
    if backend.startswith("ews"):
        kinds.append((2, lambda rng: {"kind": "ews_server_busy", "retry_after": ra(rng)}))
    else:
        kinds.append((2, lambda rng: {"kind": "graph_http429", "retry_after": ra(rng)}))
        kinds.append((1, lambda rng: {"kind": "graph_http503", "retry_after": ra(rng)}))
    return kinds


def ops_for(backend):
    if backend.startswith("ews"):
        return ["CreateItem", "FindItem", "GetItem", "UpdateItem", "DeleteItem", None]
    return ["POST events", "GET events", "PATCH event", "DELETE event", "$batch", None]


def arm_faults(rng, sim, backend):
    kinds = fault_catalogue(backend)
    weights = [w for w, _ in kinds]
    armed = []
    for _ in range(rng.randrange(1, 6)):
        op = rng.choice(ops_for(backend))
        if rng.random() < 0.3:  # a queue of faults on one operation
            seq = [rng.choices(kinds, weights)[0][1](rng) for _ in range(rng.randrange(2, 4))]
            body = {"sequence": seq}
            if op:
                body["op"] = op
            armed.append(body)
        else:
            f = rng.choices(kinds, weights)[0][1](rng)
            if op:
                f["op"] = op
            if rng.random() < 0.5:
                f["next"] = rng.randrange(1, 4)
            else:
                f["share"] = round(rng.uniform(0.05, 0.25), 2)
            armed.append(f)
    for f in armed:
        sim.call("POST", "/_sim/faults", f)
    return armed


# ---- the invariant ----

def utc(local, zone):
    return local.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_times(lv):
    s = datetime.datetime.fromisoformat(lv["start"])
    e = datetime.datetime.fromisoformat(lv["end"])
    if "T" not in lv["end"]:
        e += datetime.timedelta(days=1)
    return utc(s, lv["time_zone"]), utc(e, lv["time_zone"])


def in_doubt_column(db):
    """create_sent_at (schema 2), or 0 for a store of an older leavesync (to compare builds)."""
    cols = [r[1] for r in db.execute("PRAGMA table_info(target)")]
    return "create_sent_at" if "create_sent_at" in cols else "0"


# The window of the repairing and the checking reconciles: every leave date chaos draws (2027) and
# more (the default window ends 365 days from today).
RECONCILE_WINDOW = ("--from", "2026-06-01", "--to", "2028-12-31")


def person_changes(rng, sim, stats):
    """People at work in Outlook between runs: on a few of leavesync's events, a field leavesync
    does not own (the location: only the change key moves), the subject or the times (drift a
    reconcile repairs, or the next update overwrites), or the whole event deleted (a later update
    finds it gone and creates it again; reconcile finds it missing)."""
    if rng.random() >= 0.35:
        return
    tagged = [(mb["mailbox"], it) for mb in sim.call("GET", "/_sim/dump")["mailboxes"]
              for it in mb["items"]
              if not it.get("deleted") and it.get("folder") == "calendar" and
              any(p["set_id"].lower() == PROPSET for p in it.get("extended_properties", []))]
    for mb, it in rng.sample(tagged, min(len(tagged), rng.randrange(1, 4))):
        path = f"/_sim/mailboxes/{mb}/items/{it['ews_id']}"
        what = rng.choices(["location", "subject", "times", "delete"], [4, 3, 2, 1])[0]
        if what == "delete":
            sim.call("DELETE", path)
        elif what == "times":
            day = it["start"][:10]
            sim.call("PATCH", path, {"start": f"{day}T07:00:00Z", "end": f"{day}T08:00:00Z",
                                     "is_all_day": False})
        else:
            sim.call("PATCH", path, {what: "Changed by a person"})
        stats["person " + what] += 1


def check(sim, ls, backend, personal):
    problems = []
    db = sqlite3.connect(ls.db, timeout=60)
    rows = db.execute("SELECT id, mailbox, starts, ends, time_zone, status FROM leave").fetchall()
    leave = {r[0]: dict(zip(("id", "mailbox", "start", "end", "time_zone", "status"), r)) for r in rows}
    targets = db.execute("SELECT leave_id, mailbox, sync_key, desired, remote_id, change_key, state,"
                         f" dirty, {in_doubt_column(db)}, last_error FROM target").fetchall()
    db.close()
    by_key = {}
    for t in targets:
        by_key[t[2]] = t
        if t[6] != "synced" or t[7] or t[8]:
            problems.append(f"target {t[1]} {t[0]}: state {t[6]}, dirty {t[7]}, "
                            f"create_sent_at {t[8]}: {t[9]}")
    dump = sim.call("GET", "/_sim/dump")
    events = collections.defaultdict(list)
    untagged = collections.Counter()
    for mb in dump["mailboxes"]:
        for it in mb["items"]:
            if it.get("deleted") or it.get("folder") != "calendar":
                continue
            keys = [p["value"] for p in it.get("extended_properties", []) if p["set_id"].lower() == PROPSET]
            if not keys:
                untagged[(mb["mailbox"], it["subject"], it["start"])] += 1
                continue
            events[keys[0]].append((mb["mailbox"], it))
    checked = 0
    approved_keys = set()
    for lid, lv in sorted(leave.items()):
        if lv["status"] != "approved":
            continue
        t = next((t for t in targets if t[0] == lid and t[1] == lv["mailbox"]), None)
        if not t:
            problems.append(f"{lv['mailbox']} {lid}: approved leave without a target")
            continue
        key = t[2]
        approved_keys.add(key)
        evs = events.get(key, [])
        checked += 1
        if len(evs) != 1:
            problems.append(f"{lv['mailbox']} {lid}: {len(evs)} events")
            continue
        mailbox, it = evs[0]
        if mailbox != lv["mailbox"]:
            problems.append(f"{lid}: event in {mailbox}, leave in {lv['mailbox']}")
        want = expected_times(lv)
        if (it["start"], it["end"]) != want:
            problems.append(f"{lv['mailbox']} {lid}: event at {it['start']}..{it['end']}, "
                            f"leave at {want[0]}..{want[1]} ({lv['start']}..{lv['end']} {lv['time_zone']})")
        rid = it["ews_id"] if backend.startswith("ews") else it["immutable_id"]
        ck = it["change_key"] if backend.startswith("ews") else f'W/"{it["change_key"]}"'
        if t[4] != rid or t[5] != ck:
            problems.append(f"{lv['mailbox']} {lid}: store has id {str(t[4])[:24]}.. key {t[5]}, "
                            f"calendar {rid[:24]}.. key {ck}")
    for key, evs in events.items():
        if key not in approved_keys:
            t = by_key.get(key)
            who = f"{t[1]} {t[0]}" if t else "no target"
            problems.append(f"{len(evs)} event(s) of {who} (key {key}) without an approved leave")
    for p in personal:
        if untagged[p] != 1:
            problems.append(f"personal event {p} touched: {untagged[p]} copies")
    return checked, problems


# ---- one seed ----

def run_seed(args, seed, tls, keep):
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix=f"chaos-{args.backend}-{seed}-")
    stats = collections.Counter()
    sim = None
    p = None
    try:
        mailboxes = ["user%05d@contoso.com" % i for i in range(args.mailboxes)]
        sim = Sim(args.build, work, tls, args.mailboxes, onprem=args.backend == "ews-ntlm")
        ls = Leavesync(args.build, work, sim, args.backend, tls)
        r = ls.run("init")
        if r.returncode:
            raise Failure(f"init: {r.stderr}")
        if args.backend == "graph-delegated":
            for mb in mailboxes:
                ls.login(sim, mb)
        personal = []
        for mb in rng.sample(mailboxes, min(3, len(mailboxes))):
            start = f"2027-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}T09:00:00Z"
            it = sim.call("POST", f"/_sim/mailboxes/{mb}/items",
                          {"subject": "Personal", "start": start, "end": start.replace("T09", "T10")})
            personal.append((mb, "Personal", it["start"]))
        window = RECONCILE_WINDOW
        hr = HR(rng, ls, mailboxes, args.leave)
        durations = []  # of the runs let finish: kill moments are drawn within a run's length
        for rnd in range(args.rounds):
            if rnd:
                hr.round()
                person_changes(rng, sim, stats)
            armed = arm_faults(rng, sim, args.backend)
            stats["faults armed"] += len(armed)
            kill = rng.random() < 0.8
            delay = rng.uniform(0.0, 1.0)  # a share of how long a run takes
            t = time.monotonic()
            reconcile = rnd and rng.random() < 0.2
            p = ls.start_sync(*(("reconcile",) + window if reconcile else ("sync",)))
            stats["runs"] += 1
            stats["reconciles"] += reconcile
            if kill:
                time.sleep(delay * (sorted(durations)[len(durations) // 2] if durations
                                    else args.kill_ms / 1000.0))
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    stats["kills"] += 1
            try:
                p.wait(args.run_deadline)
                if not kill and not reconcile:
                    durations.append(time.monotonic() - t)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
                stats["kills"] += 1
            report = ls.sanitizer_report()
            if report:
                raise Failure(f"sanitizer report in round {rnd + 1}:\n{report}")
            sim.call("DELETE", "/_sim/faults")
        converge(sim, ls, args, mailboxes, stats)
        checked, problems = check(sim, ls, args.backend, personal)
        r = ls.run("reconcile", "--dry-run", *window, timeout=args.run_deadline * 4)
        if r.returncode:
            problems.append(f"reconcile --dry-run exit {r.returncode}:\n{r.stdout[-2000:]}"
                            f"{r.stderr[-1000:]}")
        stats["events checked"] += checked
        for k, v in sim.counters().items():
            if k.startswith("faults.") and k != "faults.latency.done":
                stats[k] += v
        for k, v in hr.changes.items():
            stats["HR " + k] += v
        if problems:
            raise Failure(f"{len(problems)} problems:\n  " + "\n  ".join(problems[:25]))
        return stats, None
    except Failure as e:
        keep = True
        return stats, str(e)
    except Exception:  # a bug of this script or of its environment: still this seed's failure
        keep = True
        return stats, "unexpected error:\n" + traceback.format_exc()
    finally:
        if p and p.poll() is None:
            p.kill()
            p.wait()
        if sim:
            sim.stop()
        if keep:
            log(f"seed {seed}: work directory kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def needs_login(ls):
    """Mailboxes whose delegated connection needs a login again. The tokens live in the secrets
    database beside the store since schema 6 (issue 15, store/secrets.c); none exists for app-only
    or password sign-ins."""
    secrets = (ls.db[:-3] if ls.db.endswith(".db") else ls.db) + "-secrets.db"
    if not os.path.exists(secrets):
        return []
    db = sqlite3.connect(secrets, timeout=60)
    try:
        return [r[0] for r in db.execute("SELECT mailbox FROM token WHERE needs_login")]
    except sqlite3.OperationalError:  # no token table yet: nobody ever logged in
        return []
    finally:
        db.close()


def converge(sim, ls, args, mailboxes, stats):
    """Syncs until a run has nothing left to do, within a deadline. Items deferred to a later run
    (a back-off of minutes) are made due at once: the create protocol's grace is kept by the
    store's create_sent_at, not by next_attempt. Delegated connections that a kill lost in the
    middle of a refresh-token rotation (the simulator invalidates the old token at once) are
    connected again, as an administrator would. Then a reconcile (the nightly one) repairs what
    people changed, and syncs run again until nothing is left."""
    # every slow request of the killed runs has been served (and may have created something)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        c = sim.counters()
        if c.get("faults.latency", 0) <= c.get("faults.latency.done", 0):
            break
        time.sleep(0.1)
    deadline = time.monotonic() + args.converge_deadline
    sync_until_done(sim, ls, args, stats, deadline)
    # the nightly reconcile: repairs what people changed and what a plain sync cannot see
    r = ls.run("reconcile", *RECONCILE_WINDOW, timeout=args.run_deadline * 4)
    stats["converging runs"] += 1
    report = ls.sanitizer_report(r.stderr)
    if report:
        raise Failure(f"sanitizer report while reconciling:\n{report}")
    if r.returncode:
        raise Failure(f"reconcile after the syncs converged: exit {r.returncode}\n"
                      f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
    sync_until_done(sim, ls, args, stats, deadline)


def sync_until_done(sim, ls, args, stats, deadline):
    """Plain syncs until one exits 0 with nothing queued, in doubt or unsettled."""
    while True:
        db = sqlite3.connect(ls.db, timeout=60)
        db.execute("UPDATE target SET next_attempt = 0 WHERE dirty")
        db.commit()
        db.close()
        need = needs_login(ls)
        for mb in need:
            ls.login(sim, mb)
            stats["logins again"] += 1
        r = ls.run("sync", timeout=args.run_deadline * 4)
        stats["converging runs"] += 1
        report = ls.sanitizer_report(r.stderr)
        if report:
            raise Failure(f"sanitizer report while converging:\n{report}")
        db = sqlite3.connect(ls.db, timeout=60)
        left = db.execute(f"SELECT count(*) FROM target WHERE dirty OR {in_doubt_column(db)} != 0"
                          " OR state <> 'synced'").fetchone()[0]
        stuck = db.execute(f"SELECT mailbox, leave_id, state, last_error FROM target WHERE NOT dirty"
                           f" AND {in_doubt_column(db)} = 0 AND state <> 'synced'").fetchall()
        db.close()
        if r.returncode == 0 and left == 0:
            return
        if r.returncode == 0 and left == len(stuck):
            raise Failure("targets left failed or waiting with nothing queued:\n  " +
                          "\n  ".join(f"{s[0]} {s[1]}: {s[2]}: {s[3]}" for s in stuck[:20]))
        if time.monotonic() > deadline:
            raise Failure(f"no convergence: last sync exit {r.returncode}, {left} targets left:\n"
                          f"{r.stdout}{r.stderr[-3000:]}")
        time.sleep(0.5)


def main():
    # SIGTERM (a runner's timeout): unwind, so that the simulator of the current seed is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", required=True)
    p.add_argument("--backend", required=True, choices=["ews", "ews-ntlm", "graph", "graph-delegated"])
    p.add_argument("--seeds", required=True, help="comma-separated, or FIRST-LAST")
    p.add_argument("--leave", type=int, default=120)
    p.add_argument("--mailboxes", type=int, default=12)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--kill-ms", type=int, default=800,
                   help="kill delays are drawn from 0..this until a run was timed")
    p.add_argument("--run-deadline", type=int, default=60)
    p.add_argument("--converge-deadline", type=int, default=240)
    p.add_argument("--json", help="append one JSON line of totals here")
    p.add_argument("--keep", action="store_true", help="keep work directories")
    args = p.parse_args()
    args.build = os.path.realpath(args.build)
    if "-" in args.seeds:
        a, b = args.seeds.split("-")
        seeds = list(range(int(a), int(b) + 1))
    else:
        seeds = [int(s) for s in args.seeds.split(",")]
    tlsdir = tempfile.mkdtemp(prefix="chaos-tls-")
    totals = collections.Counter()
    failures = []
    t0 = time.monotonic()
    try:
        tls = make_tls(tlsdir)
        for seed in seeds:
            t1 = time.monotonic()
            stats, err = run_seed(args, seed, tls, args.keep)
            totals.update(stats)
            totals["seeds"] += 1
            if err:
                failures.append(seed)
                print(f"not ok - {args.backend} seed {seed}: {err}")
                print(f"# replay: tests/integration/clients/chaos.py --build {args.build} "
                      f"--backend {args.backend} --seeds {seed} --leave {args.leave} "
                      f"--mailboxes {args.mailboxes} --rounds {args.rounds} --keep")
            else:
                print(f"ok - {args.backend} seed {seed}: {stats['runs']} runs, {stats['kills']} kills, "
                      f"{sum(v for k, v in stats.items() if k.startswith('faults.') and k.count('.') == 1)} "
                      f"faults fired, {stats['events checked']} events checked "
                      f"({time.monotonic() - t1:.1f} s)")
            sys.stdout.flush()
    finally:
        shutil.rmtree(tlsdir, ignore_errors=True)
    totals["failures"] = len(failures)
    summary = {"backend": args.backend, "seconds": round(time.monotonic() - t0, 1),
               "failed_seeds": failures, **dict(sorted(totals.items()))}
    print("# totals " + json.dumps(summary))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(summary) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
