#!/usr/bin/env python3
"""A proxy in front of a real registry that injects faults, for tests of what imagemk does
when the registry fails part-way. Every request is forwarded whole (bodies read in full,
chunked ones decoded; the Host header kept, so the registry's Location URLs point back at the
proxy) and logged as `METHOD PATH` to LOG.

Faults, read from the JSON file KNOBS at each request (absent file: none):
  "fail_put": N        the Nth manifest PUT (1-based, counted over the proxy's life) answers
                       500 INTERNAL_ERROR without reaching the registry;
  "down_after_put": N  after the Nth manifest PUT, every request is answered by closing the
                       connection (a registry that went down);
  "refuse_repo": TEXT  any request for a repository whose name contains TEXT answers 403
                       DENIED, as a registry refusing that repository does.

Usage: fault-proxy.py UPSTREAM_PORT KNOBS LOG. Prints its port, then serves.
"""
import http.client
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM, KNOBS, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
puts = [0]


def knobs():
    try:
        with open(KNOBS) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, body, headers):
        self.send_response(status)
        length = str(len(body))
        for k, v in headers:
            if k.lower() == "content-length" and self.command == "HEAD":
                length = v  # a HEAD's length is the resource's, not this empty body's
            elif k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code):
        body = json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode()
        self.answer(status, body, [("Content-Type", "application/json")])

    def handle_one(self):
        body = self.body()
        k = knobs()
        manifest_put = self.command == "PUT" and "/manifests/" in self.path
        with lock:
            with open(LOG, "a") as log:
                log.write("%s %s\n" % (self.command, self.path))
            down = "down_after_put" in k and puts[0] >= k["down_after_put"]
            if manifest_put and not down:
                puts[0] += 1
            n = puts[0]
        if down:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        refuse = k.get("refuse_repo")
        if refuse and self.path.startswith("/v2/") and refuse in self.path:
            return self.error(403, "DENIED")
        if manifest_put and k.get("fail_put") == n:
            return self.error(500, "INTERNAL_ERROR")
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k2: v for k2, v in self.headers.items() if k2.lower() != "transfer-encoding"}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.answer(resp.status, data, resp.getheaders())
        conn.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_one


server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
