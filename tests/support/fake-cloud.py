#!/usr/bin/env python3
"""Fake `gcloud` and `az` (by argv[0]) for clean-up tests and the clean-up benchmark.

They replay the documented JSON (shared/REFERENCE.md sections 3 and 4) of a small registry held
in the state file $FAKE_STATE, apply untag and delete to it, and append every call to
$FAKE_LOG. Faults: $FAKE_BAD_JSON=WORD prints broken JSON for a call whose argv contains WORD;
$FAKE_FAIL=WORD makes such a call fail; $FAKE_VANISH=REPO deletes that repository just after
the repository listing (as if someone removed it during the clean-up).

State: {"repos": {"proj/app": [{"digest": "sha256:..", "tags": ["a"], "created": RFC3339}]}}
(repository names are paths under the host; for acr, the whole repository name).
"""
import fcntl
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

prog = os.path.basename(sys.argv[0])
argv = sys.argv[1:]
line = " ".join([prog] + argv)
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(line + "\n")

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


def fail(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)


fault = os.environ.get("FAKE_FAIL")
if fault and fault in line:
    fail("ERROR: injected failure for " + line)


def vanish():
    gone = os.environ.get("FAKE_VANISH")
    if gone and gone in repos:
        del repos[gone]
        save()


def positional():
    return [a for a in argv if not a.startswith("-")]


def split_host(ref):
    host, _, rest = ref.partition("/")
    return host, rest


def find(repo, ref):
    """Manifest of `repo` with digest or tag `ref`."""
    for m in repos.get(repo, []):
        if m["digest"] == ref or ref in m["tags"]:
            return m
    return None


def parse_image(image):
    if "@" in image:
        name, ref = image.split("@", 1)
    else:
        name, ref = image.rsplit(":", 1)
    return name, ref


def need_quiet():
    if "--quiet" not in argv:
        fail("ERROR: (gcloud) This command requires confirmation; run with --quiet.")


def gcloud():
    words = positional()
    if words[:3] == ["container", "images", "list"]:
        root = [a.split("=", 1)[1] for a in argv if a.startswith("--repository=")][0]
        host, under = split_host(root)
        rows = [{"name": host + "/" + r} for r in sorted(repos) if r.rsplit("/", 1)[0] == under]
        vanish()
        out(rows)
    if words[:3] == ["container", "images", "list-tags"]:
        host, repo = split_host(words[3])
        if repo not in repos:
            fail("ERROR: (gcloud.container.images.list-tags) NAME_UNKNOWN: Repository \"%s\" not found" % words[3])
        rows = []
        for m in sorted(repos[repo], key=created, reverse=True):
            t = datetime.fromisoformat(created(m).replace("Z", "+00:00"))
            stamp = {"datetime": str(t), "day": t.day, "fold": 0, "hour": t.hour, "microsecond": 0,
                     "minute": t.minute, "month": t.month, "second": t.second, "year": t.year}
            rows.append({"digest": m["digest"], "tags": m["tags"], "timestamp": stamp})
        out(rows)
    if words[:3] == ["container", "images", "untag"]:
        need_quiet()
        for image in words[3:]:
            name, tag = parse_image(image)
            repo = split_host(name)[1]
            m = find(repo, tag)
            if m is None:
                fail("ERROR: (gcloud.container.images.untag) Image could not be found: [%s]" % image)
            m["tags"].remove(tag)
        save()
        sys.exit(0)
    if words[:3] == ["container", "images", "delete"]:
        need_quiet()
        for image in words[3:]:
            name, ref = parse_image(image)
            repo = split_host(name)[1]
            m = find(repo, ref)
            if m is None:
                fail("ERROR: (gcloud.container.images.delete) Image could not be found: [%s]" % image)
            if m["tags"] and "--force-delete-tags" not in argv:
                fail("ERROR: (gcloud.container.images.delete) Tags exist; use --force-delete-tags")
            repos[repo].remove(m)
        save()
        sys.exit(0)
    if words[:4] == ["artifacts", "docker", "images", "list"]:
        host, under = split_host(words[4])
        include = "--include-tags" in argv
        rows = []
        for r in sorted(repos):
            if r != under and not r.startswith(under + "/"):
                continue
            for m in repos[r]:
                rows.append({
                    "package": host + "/" + r, "version": m["digest"],
                    "tags": m["tags"] if include else "",
                    "createTime": created(m), "updateTime": created(m),
                    "metadata": {"buildTime": created(m), "imageSizeBytes": "1024",
                                 "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                 "name": "projects/p/locations/l/repositories/r/dockerImages/x"},
                })
        if not include:
            vanish()
        elif under not in repos and "/" in under:
            fail("ERROR: (gcloud.artifacts.docker.images.list) NOT_FOUND: package not found")
        out(rows)
    if words[:4] == ["artifacts", "docker", "tags", "delete"]:
        need_quiet()
        name, tag = parse_image(words[4])
        repo = split_host(name)[1]
        m = find(repo, tag)
        if m is None:
            fail("ERROR: (gcloud.artifacts.docker.tags.delete) NOT_FOUND")
        m["tags"].remove(tag)
        save()
        sys.exit(0)
    if words[:4] == ["artifacts", "docker", "images", "delete"]:
        need_quiet()
        name, ref = parse_image(words[4])
        repo = split_host(name)[1]
        m = find(repo, ref)
        if m is None:
            fail("ERROR: (gcloud.artifacts.docker.images.delete) NOT_FOUND")
        if m["tags"] and "--delete-tags" not in argv:
            fail("ERROR: (gcloud.artifacts.docker.images.delete) image is tagged; pass --delete-tags")
        repos[repo].remove(m)
        save()
        sys.exit(0)
    fail("fake gcloud: unknown command: " + line, 2)


def opt(name):
    return argv[argv.index(name) + 1]


def az():
    words = positional()
    if words[:3] == ["acr", "repository", "list"]:
        rows = sorted(repos)
        vanish()
        out(rows)
    if words[:3] == ["acr", "manifest", "list-metadata"]:
        repo = opt("--name")
        if repo not in repos:
            fail("ERROR: The repository '%s' was not found." % repo)
        rows = []
        for m in repos[repo]:
            row = {"digest": m["digest"], "imageSize": 1024, "createdTime": created(m),
                   "lastUpdateTime": created(m), "architecture": "amd64", "os": "linux",
                   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                   "configMediaType": "application/vnd.docker.container.image.v1+json",
                   "changeableAttributes": {"deleteEnabled": True, "writeEnabled": True,
                                            "readEnabled": True, "listEnabled": True}}
            if m["tags"]:
                row["tags"] = m["tags"]
            rows.append(row)
        out(rows)
    if words[:3] == ["acr", "repository", "untag"]:
        repo, tag = parse_image(opt("--image"))
        m = find(repo, tag)
        if m is None:
            fail("ERROR: tag not found")
        m["tags"].remove(tag)
        save()
        sys.exit(0)
    if words[:3] == ["acr", "repository", "delete"]:
        if "--yes" not in argv:
            fail("ERROR: Are you sure you want to continue? (y/n): prompt needs a terminal")
        repo, ref = parse_image(opt("--image"))
        m = find(repo, ref)
        if m is None:
            fail("ERROR: manifest not found")
        repos[repo].remove(m)
        save()
        sys.exit(0)
    fail("fake az: unknown command: " + line, 2)


gcloud() if prog == "gcloud" else az()
