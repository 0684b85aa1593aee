#!/usr/bin/env python3
"""A fake distribution registry for `oci` tests that the real one cannot show: the bearer
token flow (Basic credentials at the token endpoint), a catalog paged 2 at a time with
relative `Link` URLs, and manifest HEADs that answer 404 unless all four Accept types are
sent (as distribution 2.8 does for OCI content). Tag-only removal works as in 2.8: PUT a
manifest at a tag, DELETE by digest removes the manifest and every tag on it.

Faults, as keys of STATE: "catalog_without_repositories": true answers `/v2/_catalog` with
200 `{}`; "foreign_link": true sends the catalog's next page `Link` to another host;
"add_tag": [REPO, TAG, DIGEST] points TAG at DIGEST just after the first
`tags/list` of REPO (a push during the clean-up); "manifest_faults": {TAG: 500} answers a
manifest HEAD of TAG (any repository) with that status, {TAG: "hang"} never answers it.
A token for the pull scope alone (`repository:NAME:pull`) is enough for HEAD and GET.

Usage: fake-registry.py STATE LOG USER:PASSWORD. Prints the port, then serves. STATE is
{"repos": {"ns/app": {"tags": {"t": "sha256:.."}}}}; LOG gets `PORT METHOD PATH` lines.
"""
import base64
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STATE, LOG, CREDS = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
ACCEPT = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]


def load():
    with open(STATE) as f:
        return json.load(f)


def save(state):
    with open(STATE, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code):
        body = json.dumps({"errors": [{"code": code, "message": code.lower().replace("_", " ")}]})
        self.reply(status, body.encode(), [("Content-Type", "application/json")])

    def authorized(self, scope):
        got = self.headers.get("Authorization", "")
        if got == "Bearer tok:" + scope:
            return True
        read_only = scope.replace(":pull,push,delete", ":pull")
        if self.command in ("HEAD", "GET") and got == "Bearer tok:" + read_only:
            return True
        port = self.server.server_address[1]
        challenge = 'Bearer realm="http://127.0.0.1:%d/token",service="fake",scope="%s"' % (port, scope)
        self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [("WWW-Authenticate", challenge)])
        return False

    def handle_one(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        with lock, open(LOG, "a") as log:
            log.write("%d %s %s\n" % (self.client_address[1], self.command, self.path))
        if url.path == "/token":
            want = "Basic " + base64.b64encode(CREDS.encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.reply(401, b'{"details":"bad credentials"}')
            body = json.dumps({"token": "tok:" + q["scope"][0], "expires_in": 300})
            return self.reply(200, body.encode(), [("Content-Type", "application/json")])
        if url.path == "/v2/":  # the version check (imagemk doctor)
            if not self.authorized("registry:catalog:*"):
                return
            return self.reply(200, b"{}", [("Content-Type", "application/json")])
        if url.path == "/v2/_catalog":
            if not self.authorized("registry:catalog:*"):
                return
            if load().get("catalog_without_repositories"):
                return self.reply(200, b"{}", [("Content-Type", "application/json")])
            names = sorted(load()["repos"])
            last = q.get("last", [""])[0]
            rest = [n for n in names if n > last]
            page, more = rest[:2], rest[2:]
            headers = [("Content-Type", "application/json")]
            if more and load().get("foreign_link"):
                headers.append(("Link", '<http://elsewhere.example/v2/_catalog?last=%s&n=2>; rel="next"' % page[-1]))
            elif more:
                headers.append(("Link", '</v2/_catalog?last=%s&n=2>; rel="next"' % page[-1]))
            return self.reply(200, json.dumps({"repositories": page}).encode(), headers)
        parts = url.path[len("/v2/"):].rsplit("/", 2)
        repo, kind, ref = parts[0], parts[1], parts[2]
        if kind == "tags":
            repo = url.path[len("/v2/"):-len("/tags/list")]
        scope = "repository:%s:pull,push,delete" % repo
        if not self.authorized(scope):
            return
        with lock:
            state = load()
            if repo not in state["repos"]:
                return self.error(404, "NAME_UNKNOWN")
            tags = state["repos"][repo]["tags"]
            if kind == "tags":
                body = json.dumps({"name": repo, "tags": sorted(tags)})
                add = state.get("add_tag")
                if add and add[0] == repo:
                    tags[add[1]] = add[2]
                    del state["add_tag"]
                    save(state)
                return self.reply(200, body.encode(), [("Content-Type", "application/json")])
            fault = state.get("manifest_faults", {}).get(ref) if kind == "manifests" else None
            if fault == "hang":
                lock.release()
                try:
                    time.sleep(60)
                finally:
                    lock.acquire()
                return
            if fault:
                return self.error(fault, "INTERNAL_ERROR")
            if self.command == "HEAD":
                accept = [a.strip() for a in self.headers.get("Accept", "").split(",")]
                if not all(a in accept for a in ACCEPT) or ref not in tags:
                    return self.error(404, "MANIFEST_UNKNOWN")
                return self.reply(200, b"", [("Docker-Content-Digest", tags[ref])])
            if self.command == "PUT":
                body = self.rfile.read(int(self.headers["Content-Length"]))
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                tags[ref] = digest
                save(state)
                return self.reply(201, b"", [("Docker-Content-Digest", digest)])
            if self.command == "DELETE":
                if ref not in tags.values():
                    return self.error(404, "MANIFEST_UNKNOWN")
                state["repos"][repo]["tags"] = {t: d for t, d in tags.items() if d != ref}
                save(state)
                return self.reply(202)
        self.error(405, "UNSUPPORTED")

    do_GET = do_HEAD = do_PUT = do_DELETE = handle_one


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
