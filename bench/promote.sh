#!/usr/bin/env bash
# bench/promote.sh: moving `prod` to the locked digests of the example workspace's six images,
# through `imagemk promote --to prod --all` (registry API: one manifest GET and PUT per image,
# no layer moves) against IREE's way (`docker pull` each image, `docker tag`, `docker push`),
# on a real registry on this machine (Debian's `docker-registry`). Prints both times and the
# ratio, and checks that both leave `prod` at the locked digests.
#
#   bench/promote.sh            # needs docker, docker-registry, busybox-static
#
# The images are built and pushed first (not timed), images.lock is written from the push,
# then the local images are removed so the pulls of the baseline download what a CI machine
# would.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
IMAGEMK=$(realpath -m "${IMAGEMK:-$here/target/release/imagemk}")
if [ ! -x "$IMAGEMK" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
work=$(mktemp -d)
tag="bench-$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
host="127.0.0.1:$port"
cleanup() {
  [ -n "${reg_pid:-}" ] && kill "$reg_pid" 2>/dev/null || true
  docker image ls --format '{{.Repository}}:{{.Tag}}' |
    grep -E "(^kontain/.*:$tag\$|^$host/)" | xargs -r docker image rm >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The example workspace, with its `local` registry on this run's port.
cp -r "$here/images.yaml" "$here/core" "$here/docker" "$here/payloads" "$work/"
[ -d "$here/make" ] && cp -r "$here/make" "$work/"
sed -i "s|localhost:5000|$host|" "$work/images.yaml"
mkdir -p "$work/registry"
printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n  secret: bench\n' \
  "$work/registry/data" "$host" >"$work/registry/config.yml"
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -sf "http://$host/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

im() { "$IMAGEMK" -C "$work" "$@"; }
im build --all --tag "$tag" >/dev/null 2>&1 || { echo "imagemk build failed" >&2; exit 1; }
im push --all --tag "$tag" --force --json >"$work/pushed.json" 2>"$work/push.log"
# images.lock from the push (what `imagemk push --lock` writes).
python3 - "$work/pushed.json" "$tag" >"$work/images.lock" <<'PY'
import json, sys
for row in sorted(json.load(open(sys.argv[1])), key=lambda r: r["remote"]):
    print('"%s":\n  image: "%s"\n  tag: %s\n  digest: %s' % (row["remote"].rsplit(":", 1)[0], row["image"], sys.argv[2], row["digest"]))
PY
remotes=$(python3 -c 'import json,sys; print("\n".join(r["remote"] for r in json.load(open(sys.argv[1]))))' "$work/pushed.json")
n=$(echo "$remotes" | wc -l)
docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E "^kontain/.*:$tag\$" | xargs -r docker image rm >/dev/null

now() { date +%s.%N; }
# IREE's way: pull, tag, push each image.
t0=$(now)
for r in $remotes; do
  docker pull -q "$r" >/dev/null
  docker tag "$r" "${r%:*}:prod-iree"
  docker push "${r%:*}:prod-iree" >"$work/iree-push.log" 2>&1
done
t1=$(now)
im promote --all --to prod --json >"$work/promoted.json"
t2=$(now)

# Both must leave their tag at the locked digests.
python3 - "$work/pushed.json" "$work/promoted.json" "$host" <<'PY'
import json, sys, urllib.request
pushed = {r["remote"].rsplit(":", 1)[0]: r["digest"] for r in json.load(open(sys.argv[1]))}
promoted = json.load(open(sys.argv[2]))
accept = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])
for remote, digest in pushed.items():
    repo = remote.split("/", 1)[1]
    for tag in ("prod", "prod-iree"):
        req = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (sys.argv[3], repo, tag), method="HEAD",
                                     headers={"Accept": accept})
        got = urllib.request.urlopen(req).headers["Docker-Content-Digest"]
        assert got == digest, (remote, tag, got, digest)
assert len(promoted) == len(pushed) and all(p["new"] == pushed[p["remote"]] for p in promoted)
PY

iree=$(echo "$t1 - $t0" | bc)
ours=$(echo "$t2 - $t1" | bc)
printf 'images: %s (the example workspace), registry: docker-registry on %s\n' "$n" "$host"
printf 'pull + tag + push (IREE):   %6.2fs\n' "$iree"
printf 'imagemk promote --to prod:  %6.2fs\n' "$ours"
printf 'speed-up:                   %6.1fx\n' "$(echo "$iree / $ours" | bc -l)"
echo "both leave every tag at its locked digest (checked)"
