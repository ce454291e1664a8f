#!/usr/bin/python3
"""A hostile server for leavesync's tests: the identity platform's token endpoint, EWS and Graph,
answering as a misbehaving proxy or a compromised service would (issue 13). Python 3 standard
library only; real HTTPS on loopback with the test CA's certificate.

    hostile-server.py --scenario NAME --cert server.pem --key server.key --log requests.jsonl

prints "listening on https://127.0.0.1:PORT" once ready. Every request is logged as one JSON line
(method, path, headers, body length), so that a test can assert what reached the server.

Scenarios (the token endpoint answers normally unless the scenario is about it):
  slow-body          EWS and Graph answer 200, then send the body one byte every two seconds
  echo-auth-ews      EWS answers a SOAP fault (HTTP 500) whose faultstring and MessageText quote the
                     request's Authorization header
  echo-auth-graph    Graph answers every $batch sub-request 403 with an error.message quoting the
                     request's Authorization header
  escapes-graph      Graph answers 403 errors whose code and message hold terminal escapes (clear
                     screen, window title, bell, colours, a C1 CSI, a bidi override)
  crlf-token         the token endpoint answers an access_token with "\\r\\nX-Injected: yes" inside
  big-ids-ews        EWS CreateItem succeeds with a ChangeKey of --big-bytes (default 5 MB)
  big-ids-graph      Graph creates succeed with an id of --big-bytes (default 10 MB)
  gzip-bomb          every EWS and Graph answer is gzip that inflates to --bomb-bytes of zeros
In every scenario Graph's directory lookup (GET /users?$filter=mail eq ...) finds one user, so that
leavesync reaches the calendar requests the scenario is about.
"""
import argparse
import base64
import http.server
import json
import os
import re
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
import zlib

TENANT = "11111111-2222-3333-4444-555555555555"  # test-lib.sh's DEMO_TENANT


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# A JWT-shaped token (header.payload.signature, base64url) with the claims doctor checks, as Entra
# issues one: the tests look for it, its signature, and "eyJ", in everything leavesync prints and
# stores.
TOKEN = ".".join([b64url({"typ": "JWT", "alg": "RS256"}),
                  b64url({"aud": "https://outlook.office365.com", "tid": TENANT,
                          "iss": "https://sts.windows.net/%s/" % TENANT,
                          "roles": ["full_access_as_app", "Calendars.ReadWrite"]}),
                  "SG9zdGlsZVNpZ25hdHVyZVRoYXRNdXN0TmV2ZXJCZVByaW50ZWQ"])

NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages"
NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS_S = "http://schemas.xmlsoap.org/soap/envelope/"
NS_E = "http://schemas.microsoft.com/exchange/services/2006/errors"

ESCAPES = "\u001b[2J\u001b[H\u001b]0;pwned by a server\u0007\u001b[31m\u009b1m\u202e"


def soap(body):
    return ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="%s"><s:Body>%s'
            '</s:Body></s:Envelope>' % (NS_S, body)).encode()


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class State:
    def __init__(self, args):
        self.args = args
        self.log_lock = threading.Lock()
        self.created = 0
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):  # the JSON log is enough
        pass

    def log_request_json(self, body):
        st = self.server.state
        entry = {"method": self.command, "path": self.path,
                 "headers": [[k, v] for k, v in self.headers.items()], "body_bytes": len(body)}
        with st.log_lock, open(st.args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, ctype, body, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def auth(self):
        return self.headers.get("Authorization", "")

    # ---- the token endpoint ----

    def token(self):
        at = TOKEN
        if self.server.state.args.scenario == "crlf-token":
            at = TOKEN + "\r\nX-Injected: yes"
        self.send(200, "application/json; charset=utf-8",
                  json.dumps({"token_type": "Bearer", "expires_in": 3599,
                              "ext_expires_in": 3599, "access_token": at}).encode())

    # ---- hostile bodies ----

    def slow(self, ctype, body):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for b in body:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
                time.sleep(2)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def bomb(self, ctype):
        args = self.server.state.args
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Connection", "close")
        self.end_headers()
        z = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
        chunk = b"\0" * (1 << 20)
        try:
            for _ in range(args.bomb_bytes >> 20):
                self.wfile.write(z.compress(chunk))
            self.wfile.write(z.flush())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        self.close_connection = True

    # ---- EWS ----

    def ews(self, body):
        sc = self.server.state.args.scenario
        text = body.decode("utf-8", "replace")
        op = re.search(r"<m:(\w+)[ >]", text)
        op = op.group(1) if op else "Unknown"
        if sc == "slow-body":
            return self.slow("text/xml; charset=utf-8", soap("<m:%sResponse xmlns:m=\"%s\"/>"
                                                              % (op, NS_M)))
        if sc == "gzip-bomb":
            return self.bomb("text/xml; charset=utf-8")
        if sc == "echo-auth-ews":
            quoted = xml_escape("Authorization: " + self.auth())
            # bob's requests get a SOAP fault, the others a MessageText: both paths quote it
            if op == "CreateItem" and "bob@" not in self.headers.get("X-AnchorMailbox", ""):
                n = max(1, text.count("<t:CalendarItem"))
                msgs = "".join(
                    '<m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>The token '
                    'in %s was refused.</m:MessageText><m:ResponseCode>ErrorAccessDenied'
                    '</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/>'
                    '</m:CreateItemResponseMessage>' % quoted for _ in range(n))
                return self.send(200, "text/xml; charset=utf-8", soap(
                    '<m:CreateItemResponse xmlns:m="%s" xmlns:t="%s"><m:ResponseMessages>%s'
                    '</m:ResponseMessages></m:CreateItemResponse>' % (NS_M, NS_T, msgs)))
            return self.send(500, "text/xml; charset=utf-8", soap(
                '<s:Fault><faultcode xmlns:a="%s">a:ErrorAccessDenied</faultcode><faultstring '
                'xml:lang="en-US">Request refused: %s</faultstring><detail><e:ResponseCode '
                'xmlns:e="%s">ErrorAccessDenied</e:ResponseCode><e:Message xmlns:e="%s">%s'
                '</e:Message></detail></s:Fault>' % (NS_T, quoted, NS_E, NS_E, quoted)))
        if sc == "big-ids-ews" and op == "CreateItem":
            n = max(1, text.count("<t:CalendarItem"))
            key = "C" * self.server.state.args.big_bytes
            msgs = "".join(
                '<m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
                '</m:ResponseCode><m:Items><t:CalendarItem><t:ItemId Id="AAMkADhostile%d=" '
                'ChangeKey="%s"/></t:CalendarItem></m:Items></m:CreateItemResponseMessage>'
                % (i, key) for i in range(n))
            return self.send(200, "text/xml; charset=utf-8", soap(
                '<m:CreateItemResponse xmlns:m="%s" xmlns:t="%s"><m:ResponseMessages>%s'
                '</m:ResponseMessages></m:CreateItemResponse>' % (NS_M, NS_T, msgs)))
        if op == "FindItem":  # nothing found: lookups before a create again
            return self.send(200, "text/xml; charset=utf-8", soap(
                '<m:FindItemResponse xmlns:m="%s" xmlns:t="%s"><m:ResponseMessages>'
                '<m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
                '</m:ResponseCode><m:RootFolder TotalItemsInView="0" '
                'IncludesLastItemInRange="true"><t:Items/></m:RootFolder>'
                '</m:FindItemResponseMessage></m:ResponseMessages></m:FindItemResponse>'
                % (NS_M, NS_T)))
        return self.send(500, "text/xml; charset=utf-8", soap(
            '<s:Fault><faultcode>s:Server</faultcode><faultstring>not in this scenario'
            '</faultstring></s:Fault>'))

    # ---- Graph ----

    def graph_batch(self, body):
        sc = self.server.state.args.scenario
        if sc == "slow-body":
            return self.slow("application/json", json.dumps({"responses": []}).encode())
        if sc == "gzip-bomb":
            return self.bomb("application/json")
        try:
            reqs = json.loads(body)["requests"]
        except (ValueError, KeyError):
            return self.send(400, "application/json", b'{"error":{"code":"BadRequest"}}')
        out = []
        for r in reqs:
            if sc == "echo-auth-graph":
                err = {"code": "ErrorAccessDenied",
                       "message": "Access is denied. The request carried Authorization: "
                                  + self.auth() + " which was refused."}
                out.append({"id": r["id"], "status": 403, "body": {"error": err}})
            elif sc == "escapes-graph":
                err = {"code": ESCAPES + "ErrorAccessDenied",
                       "message": ESCAPES + "Access is denied" + "\u0007" * 3,
                       "innerError": {"request-id": "\u001b[5m1234"}}
                out.append({"id": r["id"], "status": 403, "body": {"error": err}})
            elif sc == "big-ids-graph" and r.get("method") == "POST":
                with self.server.state.lock:
                    self.server.state.created += 1
                    n = self.server.state.created
                big = "A" * self.server.state.args.big_bytes + str(n)
                out.append({"id": r["id"], "status": 201,
                            "headers": {"Content-Type": "application/json"},
                            "body": {"id": big, "@odata.etag": 'W/"ck%d"' % n}})
            else:  # lookups: nothing found
                out.append({"id": r["id"], "status": 200, "body": {"value": []}})
        return self.send(200, "application/json", json.dumps({"responses": out}).encode())

    # ---- dispatch ----

    def do_POST(self):
        body = self.read_body()
        self.log_request_json(body)
        if self.path.endswith("/oauth2/v2.0/token"):
            return self.token()
        if self.path.endswith("/EWS/Exchange.asmx"):
            return self.ews(body)
        if self.path.endswith("/$batch"):
            return self.graph_batch(body)
        return self.send(404, "text/plain", b"not here")

    def do_GET(self):
        self.log_request_json(b"")
        if self.path.endswith("/.well-known/openid-configuration"):  # doctor's tenant check
            base = "https://%s:%d/%s" % (self.server.server_address[0],
                                         self.server.server_address[1], TENANT)
            return self.send(200, "application/json", json.dumps({
                "issuer": "https://login.microsoftonline.com/%s/v2.0" % TENANT,
                "token_endpoint": base + "/oauth2/v2.0/token",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize"}).encode())
        if "/events" in self.path or "/calendarView" in self.path:
            return self.send(200, "application/json", b'{"value":[]}')
        if "/users?" in self.path:  # the directory lookup of a mailbox answers as Graph does
            return self.directory_user()
        return self.send(404, "text/plain", b"not here")

    def directory_user(self):
        """GET /users?$filter=mail eq 'X' or ...: one user with that mail, so that leavesync goes on
        to the calendar requests each scenario is about (graph/users.c looks each address up)."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        m = re.search(r"mail eq '([^']*)'", query.get("$filter", [""])[0])
        if not m:
            return self.send(400, "application/json", json.dumps({"error": {
                "code": "Request_UnsupportedQuery", "message": "unsupported filter"}}).encode())
        address = m.group(1)
        user = {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, address)), "mail": address,
                "userPrincipalName": address}
        return self.send(200, "application/json",
                         json.dumps({"@odata.count": 1, "value": [user]}).encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--big-bytes", type=int, default=5 << 20)
    p.add_argument("--bomb-bytes", type=int, default=1 << 30)
    args = p.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening on https://127.0.0.1:%d" % srv.server_address[1], flush=True)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    srv.serve_forever()


def watch_parent(parent):
    """Ends the server with the test that started it (killed or not), and after 15 minutes."""
    deadline = time.monotonic() + 900
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    main()
