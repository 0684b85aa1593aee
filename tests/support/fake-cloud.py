#!/usr/bin/env python3
"""Fake `gcloud` and `az` (by argv[0]) for clean-up tests and the clean-up benchmark.

They replay what the real CLIs print (shared/REFERENCE.md sections 3 and 4, and the texts of
Google Cloud SDK 528 and azure-cli 2.91) for a small registry held in the state file
$FAKE_STATE, apply untag and delete to it, and append every call to $FAKE_LOG. Like the real
CLIs they check their argv first: an unknown flag or command exits 2 with the real usage error.

Re-tagging (promote): gar `tags add SRC@DIGEST DST:TAG` (same image only, prints `Added tag
[DST] to image [SRC].` on stderr), gcr `add-tag SRC DST…` (prints `Created [DST].` per tag),
az `acr import --source REG.azurecr.io/REPO@DIGEST --image REPO:TAG --force` (prints nothing).
Real behaviour replayed: gcr `delete` without `--force-delete-tags` and gar `images delete`
without `--delete-tags` refuse a tagged manifest; az `repository delete` by digest takes every
tag with it; gar `--include-tags` shows at most 100 tags per version; a missing gcr image is
`Not found`, a missing gar image lists as `[]`, a missing acr repository is `repository name
not known to registry`; the acr manifest group warns that it is in preview.

Faults: $FAKE_BAD_JSON=WORD prints broken JSON for a call whose argv contains WORD;
$FAKE_FAIL=WORD makes such a call fail; $FAKE_VANISH=REPO deletes that repository just after
the repository listing; $FAKE_ADD_TAG="REPO DIGEST TAG" adds TAG to that manifest just after
the first listing of REPO (a push during the clean-up); $FAKE_NO_LOGIN=1: no account (gcloud)
or no `az login` (az); $FAKE_OFFLINE=1: az cannot reach the registry; $FAKE_SIGNAL=WORD: the first call whose argv
contains WORD completes, then sends SIGINT to its parent (imagemk) as it exits (Ctrl-C mid-run);
$FAKE_TOKEN: the token `gcloud auth print-access-token` prints (one the HTTP side refuses).

State: {"repos": {"proj/app": [{"digest": "sha256:..", "tags": ["a"], "created": RFC3339}]}}
(repository names are paths under the host; for acr, the whole repository name). Two rows
may share a digest: listings show them as the registry would (one row each); untag and
delete act on the manifest, that is, every row of the digest.
"""
import atexit
import fcntl
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

prog = os.path.basename(sys.argv[0])
argv = sys.argv[1:]
line = " ".join([prog] + argv)
SERVE = argv[:1] == ["serve"]
if not SERVE:
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(line + "\n")
# What `gcloud auth print-access-token` and `az acr login --expose-token` hand out.
TOKEN = "ya29.fake-access-token"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
# azure-cli 2.91's two warnings (acr/custom.py, `acr_login`), as knack prints them.
EXPOSE_WARNINGS = (
    "WARNING: Note: The token in both the accessToken and refreshToken fields is an ACR Refresh Token, "
    "not an ACR Access Token. This ACR Refresh Token cannot be used directly to authenticate with "
    "registry APIs such as pushing/pulling images and listing repositories/tags. This ACR Refresh Token "
    "must be subsequently exchanged for an ACR Access.Please see https://aka.ms/acr/auth/oauth\n"
    "WARNING: You can perform manual login using the provided refresh token below, for example: "
    "'docker login loginServer -u %s -p refreshToken'\n" % EMPTY_GUID)


def fail(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)


# Commands: words -> (flags taking a value, flags alone, positional count (min, max)).
GCLOUD = {
    ("container", "images", "list"): ({"--repository", "--format", "--filter", "--limit"}, {"--quiet"}, (0, 0)),
    ("container", "images", "list-tags"): ({"--format", "--filter", "--limit", "--sort-by"}, {"--quiet"}, (1, 1)),
    ("container", "images", "untag"): ({"--format"}, {"--quiet"}, (1, 999)),
    ("container", "images", "delete"): ({"--format"}, {"--quiet", "--force-delete-tags"}, (1, 999)),
    ("artifacts", "docker", "images", "list"): ({"--format", "--filter", "--limit"}, {"--quiet", "--include-tags"}, (0, 1)),
    ("artifacts", "docker", "tags", "delete"): ({"--format"}, {"--quiet"}, (1, 1)),
    ("artifacts", "docker", "images", "delete"): ({"--format"}, {"--quiet", "--delete-tags", "--async"}, (1, 1)),
    ("auth", "configure-docker"): (set(), {"--quiet"}, (0, 1)),
    ("artifacts", "docker", "tags", "add"): ({"--format"}, {"--quiet"}, (2, 2)),
    ("container", "images", "add-tag"): ({"--format"}, {"--quiet"}, (2, 999)),
    ("auth", "print-access-token"): ({"--format", "--lifetime", "--scopes"}, {"--quiet"}, (0, 1)),
}
AZ = {
    ("acr", "repository", "list"): ({"--name", "-n", "--output", "-o", "--top"}, set(), (0, 0)),
    ("acr", "manifest", "list-metadata"): ({"--registry", "-r", "--name", "-n", "--output", "-o", "--orderby", "--top"}, set(), (0, 1)),
    ("acr", "repository", "untag"): ({"--name", "-n", "--image", "-t", "--output", "-o"}, set(), (0, 0)),
    ("acr", "repository", "delete"): ({"--name", "-n", "--image", "-t", "--repository", "--output", "-o"}, {"--yes", "-y"}, (0, 0)),
    ("acr", "login"): ({"--name", "-n", "--output", "-o"}, {"--expose-token", "-t"}, (0, 0)),
    ("acr", "import"): ({"--name", "-n", "--source", "--image", "-t", "--registry", "-r", "--resource-group", "-g",
                         "--username", "-u", "--password", "-p", "--repository", "--output", "-o"}, {"--force", "--no-wait"}, (0, 0)),
}
REQUIRED = {("acr", "import"): ["--name/-n", "--source"], ("acr", "repository", "untag"): ["--image/-t", "--name/-n"], ("acr", "manifest", "list-metadata"): [], ("acr", "login"): ["--name/-n"]}


def parse(table):
    """(command words, {flag: value}, positionals); exits 2 as the real CLI does."""
    for words in sorted(table, key=len, reverse=True):
        if tuple(argv[: len(words)]) == words:
            break
    else:
        if prog == "gcloud":
            fail("ERROR: (gcloud) Invalid choice: '%s'." % (argv[0] if argv else ""), 2)
        fail("ERROR: '%s' is misspelled or not recognized by the system." % " ".join(argv[:3]), 2)
    valued, alone, (lo, hi) = table[words]
    flags, pos, rest, bad = {}, [], list(argv[len(words):]), []
    while rest:
        a = rest.pop(0)
        name, eq, value = a.partition("=")
        if name in valued:
            if not eq:
                if not rest:
                    bad.append(a)
                    continue
                value = rest.pop(0)
            flags[name] = value
        elif a in alone:
            flags[a] = True
        elif a.startswith("-"):
            bad.append(a)
        else:
            pos.append(a)
    if len(pos) > hi:
        bad.extend(pos[hi:])
    if bad:
        if prog == "gcloud":
            fail("ERROR: (gcloud.%s) unrecognized arguments: %s \n\nTo search the help text of gcloud commands, run:\n  gcloud help -- SEARCH_TERMS" % (".".join(words), " ".join(bad)), 2)
        fail("ERROR: unrecognized arguments: %s\n\nhttps://aka.ms/cli_ref\nRead more about the command in reference docs" % " ".join(bad), 2)
    if len(pos) < lo:
        if prog == "gcloud":
            fail("ERROR: (gcloud.%s) argument IMAGE_NAME: Must be specified." % ".".join(words), 2)
    missing = [r for r in REQUIRED.get(words, []) if not any(f in flags for f in r.split("/"))]
    if missing:
        fail("ERROR: the following arguments are required: %s" % ", ".join(missing), 2)
    return words, flags, pos


def flag(*names):
    for n in names:
        if n in flags:
            return flags[n]
    return None


def created(m):
    """`created` as RFC 3339; `now-3d` is three days before this call."""
    c = m["created"]
    if c.startswith("now-"):
        t = datetime.now(timezone.utc) - timedelta(days=int(c[4:-1]))
        return t.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return c


def save():
    with open(path, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)


def out(value):
    bad = os.environ.get("FAKE_BAD_JSON")
    if bad and bad in line:
        print('{"unexpected": [')
    else:
        print(json.dumps(value, indent=2))
    sys.exit(0)


def begin():
    """The CLI's start: argument check, login and start-up faults, then the state, locked."""
    global words, flags, pos, path, lock, state, repos
    words, flags, pos = parse(GCLOUD if prog == "gcloud" else AZ)




    if os.environ.get("FAKE_NO_LOGIN") and words != ("auth", "configure-docker"):
        if prog == "gcloud":
            fail("ERROR: (gcloud.%s) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n\nto obtain new credentials.\n\nIf you have already logged in with a different account, run:\n\n  $ gcloud config set account ACCOUNT\n\nto select an already authenticated account to use." % ".".join(words))
        fail("WARNING: Please run 'az login' to setup account.\nERROR: Unable to authenticate using AAD or admin login credentials. Please specify both username and password in non-interactive mode.")
    if prog == "az" and words[:2] == ("acr", "manifest"):
        sys.stderr.write("WARNING: Command group 'acr manifest' is in preview and under development. Reference and support levels: https://aka.ms/CLI_refstatus\n")
    if prog == "az" and os.environ.get("FAKE_OFFLINE"):
        name = flag("--registry", "-r", "--name", "-n")
        fail("WARNING: Please run 'az login' to setup account.\nUsing '%s.azurecr.io' as the default registry login server.\nERROR: Could not connect to the registry login server '%s.azurecr.io'. Please verify that the registry exists and the URL 'https://%s.azurecr.io/v2/' is reachable from your environment.\nTry running 'az acr check-health -n %s --yes' to diagnose this issue." % (name, name, name, name))
    if words == ("auth", "print-access-token"):
        print(os.environ.get("FAKE_TOKEN", TOKEN))
        sys.exit(0)
    if words == ("acr", "login") and "--expose-token" in flags:
        name = flag("--name", "-n")
        sys.stderr.write(EXPOSE_WARNINGS)
        print(json.dumps({"accessToken": TOKEN, "loginServer": name + ".azurecr.io", "refreshToken": TOKEN,
                          "username": EMPTY_GUID}, indent=2, sort_keys=True))
        sys.exit(0)
    if words in (("auth", "configure-docker"), ("acr", "login")):
        sys.exit(0)

    # $FAKE_DELAY seconds of "start-up" (gcloud and az take about a second), outside the lock
    # so that parallel calls overlap as real ones do; the state itself is read and written under
    # an exclusive lock, as a registry would serialize its updates.
    time.sleep(float(os.environ.get("FAKE_DELAY", "0")))
    path = os.environ["FAKE_STATE"]
    lock = open(path + ".lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    with open(path) as f:
        state = json.load(f)
    repos = state["repos"]

    signal_on = os.environ.get("FAKE_SIGNAL")
    if signal_on and signal_on in line and not state.get("signalled"):
        state["signalled"] = True
        save()
        # After this call's work, as it exits: the call itself completes, so it ignores the
        # SIGTERM imagemk then sends its running children.
        def interrupt_parent():
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.kill(os.getppid(), signal.SIGINT)
            # imagemk's handler runs on its own thread: give it time to set its flag while this
            # call is still running, so the next step sees it (not started) however busy the
            # machine is.
            import time
            time.sleep(1)

        atexit.register(interrupt_parent)

    fault = os.environ.get("FAKE_FAIL")
    if fault and fault in line:
        fail("ERROR: injected failure for " + line)


def vanish():
    gone = os.environ.get("FAKE_VANISH")
    if gone and gone in repos:
        del repos[gone]
        save()


def listed(repo):
    """After the first listing of `repo`: $FAKE_ADD_TAG, as if pushed meanwhile."""
    spec = os.environ.get("FAKE_ADD_TAG", "").split()
    if len(spec) == 3 and spec[0] == repo and not state.get("added"):
        for m in repos.get(repo, []):
            if m["digest"] == spec[1]:
                m["tags"].append(spec[2])
                break
        state["added"] = True
        save()


def split_host(ref):
    host, _, rest = ref.partition("/")
    return host, rest


def rows_of(repo, ref):
    """Every row of the manifest of `repo` with digest or tag `ref`."""
    rows = repos.get(repo, [])
    digest = next((m["digest"] for m in rows if m["digest"] == ref or ref in m["tags"]), None)
    return [m for m in rows if m["digest"] == digest]


def tags_of(rows):
    return sorted({t for m in rows for t in m["tags"]})


def parse_image(image):
    if "@" in image:
        name, ref = image.split("@", 1)
    else:
        name, ref = image.rsplit(":", 1)
    return name, ref


def untag(repo, tag):
    for m in repos.get(repo, []):
        if tag in m["tags"]:
            m["tags"].remove(tag)
            return True
    return False


def add_tag(repo, digest, tag):
    """Points `tag` of `repo` at `digest` (moved off any other manifest); False when the
    repository has no such manifest."""
    rows = [m for m in repos.get(repo, []) if m["digest"] == digest]
    if not rows:
        return False
    untag(repo, tag)
    rows[0]["tags"].append(tag)
    save()
    return True


def need_quiet():
    if "--quiet" not in flags:
        fail("ERROR: (gcloud) This command requires confirmation; run with --quiet.")


def gcloud():
    cmd = ".".join(words)
    if words == ("container", "images", "list"):
        host, under = split_host(flags["--repository"])
        rows = [{"name": host + "/" + r} for r in sorted(repos) if r.rsplit("/", 1)[0] == under]
        vanish()
        out(rows)
    if words == ("container", "images", "list-tags"):
        host, repo = split_host(pos[0])
        if repo not in repos:
            fail("ERROR: (gcloud.container.images.list-tags) Not found: %s" % pos[0])
        rows = []
        for m in sorted(repos[repo], key=created, reverse=True):
            t = datetime.fromisoformat(created(m).replace("Z", "+00:00"))
            stamp = {"datetime": str(t), "day": t.day, "fold": 0, "hour": t.hour, "microsecond": 0,
                     "minute": t.minute, "month": t.month, "second": t.second, "year": t.year}
            rows.append({"digest": m["digest"], "tags": list(m["tags"]), "timestamp": stamp})
        listed(repo)
        out(rows)
    if words == ("container", "images", "untag"):
        need_quiet()
        for image in pos:
            name, tag = parse_image(image)
            if not untag(split_host(name)[1], tag):
                fail("ERROR: (gcloud.container.images.untag) Image could not be found: [%s]" % image)
        save()
        sys.exit(0)
    if words == ("container", "images", "delete"):
        need_quiet()
        found = []
        for image in pos:
            name, ref = parse_image(image)
            rows = rows_of(split_host(name)[1], ref)
            if not rows:
                fail("ERROR: (gcloud.container.images.delete) Image could not be found: [%s]" % image)
            found.append((split_host(name)[1], rows))
        if any(tags_of(rows) for _, rows in found) and "--force-delete-tags" not in flags:
            fail("ERROR: Tags:\nERROR: (gcloud.container.images.delete) This operation will implicitly delete the tags listed above. Please manually remove with the `untag` command or re-run with --force-delete-tags to confirm.")
        for repo, rows in found:
            for m in rows:
                repos[repo].remove(m)
        save()
        sys.exit(0)
    if words == ("artifacts", "docker", "images", "list"):
        host, under = split_host(pos[0])
        include = "--include-tags" in flags
        rows = []
        for r in sorted(repos):
            if r != under and not r.startswith(under + "/"):
                continue
            for m in repos[r]:
                rows.append({
                    "package": host + "/" + r, "version": m["digest"],
                    "tags": m["tags"][:100] if include else "",
                    "createTime": created(m), "updateTime": created(m),
                    "metadata": {"buildTime": created(m), "imageSizeBytes": "1024",
                                 "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                 "name": "projects/p/locations/l/repositories/r/dockerImages/x"},
                })
        if not include:
            vanish()
        else:
            listed(under)
        out(rows)
    if words == ("artifacts", "docker", "tags", "delete"):
        need_quiet()
        name, tag = parse_image(pos[0])
        if not untag(split_host(name)[1], tag):
            fail("ERROR: (gcloud.artifacts.docker.tags.delete) NOT_FOUND: Requested entity was not found.")
        save()
        sys.exit(0)
    if words == ("artifacts", "docker", "images", "delete"):
        need_quiet()
        name, ref = parse_image(pos[0])
        repo = split_host(name)[1]
        rows = rows_of(repo, ref)
        if not rows:
            fail("ERROR: (gcloud.artifacts.docker.images.delete) NOT_FOUND: Requested entity was not found.")
        if tags_of(rows) and "--delete-tags" not in flags:
            fail("ERROR: (gcloud.artifacts.docker.images.delete) Cannot delete image %s because it is tagged. Existing tags are:\n- %s"
                 % (pos[0], "\n- ".join(name + ":" + t for t in tags_of(rows))))
        for m in rows:
            repos[repo].remove(m)
        save()
        sys.exit(0)
    if words == ("artifacts", "docker", "tags", "add"):
        (src, ref), (dst, tag) = parse_image(pos[0]), parse_image(pos[1])
        if src != dst:
            fail("ERROR: (gcloud.artifacts.docker.tags.add) Invalid value for [DOCKER_IMAGE]: Image %s\ndoes not match image %s" % (src, dst))
        if not add_tag(split_host(src)[1], ref, tag):
            fail("ERROR: (gcloud.artifacts.docker.tags.add) NOT_FOUND: Requested entity was not found.")
        sys.stderr.write("Added tag [%s] to image [%s].\n" % (pos[1], pos[0]))
        sys.exit(0)
    if words == ("container", "images", "add-tag"):
        need_quiet()
        src, ref = parse_image(pos[0])
        for d in pos[1:]:
            dst, tag = parse_image(d)
            if not add_tag(split_host(dst)[1], ref, tag):
                fail("ERROR: (gcloud.container.images.add-tag) Not found: %s" % pos[0])
            sys.stderr.write("Created [%s].\n" % d)
        sys.exit(0)
    fail("fake gcloud: no fake for " + cmd, 2)


def az():
    if words == ("acr", "repository", "list"):
        rows = sorted(repos)
        vanish()
        out(rows)
    if words == ("acr", "manifest", "list-metadata"):
        repo = flag("--name", "-n")
        if repo not in repos:
            fail("ERROR: Error: repository name not known to registry.")
        rows = []
        for m in repos[repo]:
            row = {"digest": m["digest"], "imageSize": 1024, "createdTime": created(m),
                   "lastUpdateTime": created(m), "architecture": "amd64", "os": "linux",
                   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                   "configMediaType": "application/vnd.docker.container.image.v1+json",
                   "changeableAttributes": {"deleteEnabled": True, "writeEnabled": True,
                                            "readEnabled": True, "listEnabled": True}}
            if m["tags"]:
                row["tags"] = list(m["tags"])
            rows.append(row)
        listed(repo)
        out(rows)
    if words == ("acr", "repository", "untag"):
        repo, tag = parse_image(flag("--image", "-t"))
        if not untag(repo, tag):
            fail("ERROR: Error: manifest tag not known to registry.")
        save()
        sys.exit(0)
    if words == ("acr", "repository", "delete"):
        if not flag("--yes", "-y"):
            fail("ERROR: Are you sure you want to continue? (y/n): prompt needs a terminal")
        repo, ref = parse_image(flag("--image", "-t"))
        rows = rows_of(repo, ref)
        if not rows:
            fail("ERROR: Error: manifest unknown.")
        for m in rows:
            repos[repo].remove(m)
        save()
        sys.exit(0)
    if words == ("acr", "import"):
        name, ref = parse_image(split_host(flag("--source"))[1])
        repo, tag = parse_image(flag("--image", "-t"))
        if repo != name or "--force" not in flags and rows_of(repo, tag):
            fail("ERROR: fake az: only a forced import from the same repository is faked")
        if not add_tag(repo, ref, tag):
            fail("ERROR: (NOT_FOUND) The requested manifest %s was not found in repository %s." % (ref, repo))
        sys.exit(0)
    fail("fake az: no fake for " + line, 2)


def serve():
    """`fake-cloud.py serve DIALECT LOG` (DIALECT gcr, gar or acr): the registry HTTP API of
    the same registry ($FAKE_STATE) that the fake CLIs show, as Google's registries and ACR
    serve it (docs/registries.md, "Registry API with a CLI token"): Google's `tags/list` with
    its `manifest` map (`tag`, `timeCreatedMs`, `timeUploadedMs`; Artifact Registry sends
    `timeCreatedMs` "0") and `child` list, tag removal by `DELETE /v2/R/manifests/TAG`, and a
    refused delete of a manifest that still has tags; ACR's `/v2/_catalog` (2 a page, relative
    `Link`), `/acr/v1/R/_manifests`, `DELETE /acr/v1/R/_tags/T`, and digest deletes that take
    every tag. Tokens: Google's GET /v2/token with Basic `oauth2accesstoken:TOKEN`; ACR's POST
    /oauth2/token with `grant_type=refresh_token`. Requests go to LOG as `METHOD PATH` (with
    ` (401)` when answered with a challenge). Faults:
    $FAKE_FAIL=WORD answers 500 to a request whose `METHOD PATH` contains WORD; $FAKE_VANISH
    and $FAKE_ADD_TAG as for the CLIs; $FAKE_HTTP_DELAY seconds of latency per request.
    Prints the port, then serves."""
    import base64
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    global path, state, repos
    dialect, log_path = argv[1], argv[2]
    path = os.environ["FAKE_STATE"]
    service = {"gcr": "gcr.io", "gar": "us-docker.pkg.dev", "acr": "myacr.azurecr.io"}[dialect]

    def ms(m):
        t = datetime.fromisoformat(created(m).replace("Z", "+00:00"))
        return str(int(t.timestamp() * 1000))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=None, headers=()):
            with open(log_path, "a") as log:
                log.write("%s %s%s\n" % (self.command, self.path, " (401)" if status == 401 else ""))
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, code, message=""):
            self.reply(status, {"errors": [{"code": code, "message": message or code.lower()}]})

        def token(self, url):
            port = self.server.server_address[1]
            if dialect == "acr":
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode())
                ok = form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [TOKEN]
                if not ok or form.get("service") != [service]:
                    return self.error(401, "UNAUTHORIZED", "bad refresh token")
                return self.reply(200, {"access_token": "tok:" + form["scope"][0]})
            want = "Basic " + base64.b64encode(("oauth2accesstoken:" + TOKEN).encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.error(401, "UNAUTHORIZED", "bad access token")
            return self.reply(200, {"token": "tok:" + parse_qs(url.query)["scope"][0], "expires_in": 3600})

        def allowed(self, resource, action):
            """A bearer token for `resource` (`repository:R`) that grants `action`."""
            got = self.headers.get("Authorization", "")
            head, _, actions = got.rpartition(":")
            if head == "Bearer tok:" + resource and (action in actions.split(",") or actions == "*"):
                return True
            port = self.server.server_address[1]
            realm = "http://127.0.0.1:%d/%s" % (port, "oauth2/token" if dialect == "acr" else "v2/token")
            challenge = 'Bearer realm="%s",service="%s",scope="%s:%s"' % (realm, service, resource, action)
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                       [("WWW-Authenticate", challenge)])
            return False

        def handle_one(self):
            global state, repos
            url = urlparse(self.path)
            # $FAKE_HTTP_DELAY seconds per request: the network's round trip (benchmarks).
            time.sleep(float(os.environ.get("FAKE_HTTP_DELAY", "0")))
            if url.path in ("/v2/token", "/oauth2/token"):
                return self.token(url)
            fault = os.environ.get("FAKE_FAIL")
            if fault and fault in "%s %s" % (self.command, self.path):
                return self.error(500, "INTERNAL", "injected failure")
            with open(path + ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                with open(path) as f:
                    state = json.load(f)
                repos = state["repos"]
                route(self, url)

    def route(h, url):
        p = url.path
        if p == "/v2/_catalog" and dialect == "acr":
            if not h.allowed("registry:catalog", "*"):
                return
            last = parse_qs(url.query).get("last", [""])[0]
            rest = [n for n in sorted(repos) if n > last]
            links = [("Link", '</v2/_catalog?last=%s&n=2>; rel="next"' % rest[1])] if len(rest) > 2 else []
            vanish()
            return h.reply(200, {"repositories": rest[:2]}, links)
        if p.startswith("/acr/v1/") and dialect == "acr":
            return acr_route(h, p[len("/acr/v1/"):])
        if p.startswith("/v2/") and p.endswith("/tags/list") and dialect != "acr":
            return google_tags(h, p[len("/v2/"):-len("/tags/list")])
        if p.startswith("/v2/") and "/manifests/" in p and h.command == "DELETE":
            repo, _, ref = p[len("/v2/"):].rpartition("/manifests/")
            return delete_manifest(h, repo, ref)
        h.error(404, "UNSUPPORTED", "no fake for %s %s" % (h.command, p))

    def google_tags(h, repo):
        if not h.allowed("repository:" + repo, "pull"):
            return
        children = sorted({r[len(repo) + 1:].split("/")[0] for r in repos if r.startswith(repo + "/")})
        if repo not in repos and not children:
            return h.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        manifest = {}
        for m in repos.get(repo, []):
            e = manifest.setdefault(m["digest"], {"imageSizeBytes": "1024", "layerId": "", "tag": [],
                                                  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                                  "timeCreatedMs": "0" if dialect == "gar" else ms(m),
                                                  "timeUploadedMs": ms(m)})
            e["tag"] += m["tags"]
        tags = sorted({t for m in repos.get(repo, []) for t in m["tags"]})
        if repo in repos:
            listed(repo)
        else:
            vanish()
        h.reply(200, {"child": children, "manifest": manifest, "name": repo, "tags": tags})

    def acr_route(h, rest):
        if rest.endswith("/_manifests") and h.command == "GET":
            repo = rest[: -len("/_manifests")]
            if not h.allowed("repository:" + repo, "metadata_read"):
                return
            if repo not in repos:
                return h.error(404, "NAME_UNKNOWN", "repository name not known to registry")
            rows = []
            for m in repos[repo]:
                row = {"digest": m["digest"], "imageSize": 1024, "createdTime": created(m),
                       "lastUpdateTime": created(m), "architecture": "amd64", "os": "linux",
                       "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "changeableAttributes": {"deleteEnabled": True, "writeEnabled": True,
                                                "readEnabled": True, "listEnabled": True}}
                if m["tags"]:
                    row["tags"] = list(m["tags"])
                rows.append(row)
            listed(repo)
            return h.reply(200, {"registry": service, "imageName": repo, "manifests": rows})
        if "/_tags/" in rest and h.command == "DELETE":
            repo, _, tag = rest.rpartition("/_tags/")
            if not h.allowed("repository:" + repo, "delete"):
                return
            if not untag(repo, tag):
                return h.error(404, "TAG_UNKNOWN", "the specified tag does not exist")
            save()
            return h.reply(202)
        h.error(404, "UNSUPPORTED", "no fake for %s /acr/v1/%s" % (h.command, rest))

    def delete_manifest(h, repo, ref):
        if not h.allowed("repository:" + repo, "delete"):
            return
        if not ref.startswith("sha256:"):
            if dialect == "acr" or not untag(repo, ref):
                return h.error(404, "MANIFEST_UNKNOWN", "manifest tagged by %s is not found" % ref)
            save()
            return h.reply(202)
        rows = rows_of(repo, ref)
        if not rows:
            return h.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        if dialect != "acr" and tags_of(rows):
            return h.error(400, "GOOGLE_MANIFEST_DANGLING_TAG", "Manifest is still referenced by tag: " + tags_of(rows)[0])
        for m in rows:
            repos[repo].remove(m)
        save()
        h.reply(202)

    Handler.do_GET = Handler.do_POST = Handler.do_DELETE = Handler.handle_one
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if SERVE:
    serve()
else:
    begin()
    gcloud() if prog == "gcloud" else az()
