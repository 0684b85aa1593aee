#!/usr/bin/env bash
# bench/clean.sh: wall time and number of CLI starts of `imagemk clean` against the per-tag,
# sequential approach of hand-written clean-up scripts, on a fake gcr registry
# (tests/support/fake-cloud.py) of REPOS repositories x TAGS tags. imagemk runs twice: the CLI
# for every operation (IMAGEMK_CLOUD_API=0, one gcloud start per repository and more: the
# path before issue 11 item 6), and the registry HTTP API with one token from
# `gcloud auth print-access-token` per run (the same fake registry served over HTTP, with
# HTTP_DELAY seconds of latency per request).
#
#   bench/clean.sh                     # 50 x 20, 0.2 s of CLI start-up per call, 0.02 s per request
#   REPOS=10 TAGS=5 DELAY=0 JOBS=4 bench/clean.sh
#
# Scenarios: remove one tag everywhere (`clean --tag`), and purge a tag pattern
# (`clean --match 'CI-.*' --yes`). Repository r<i> has tags CI-1..CI-<TAGS-1> on as many
# images and `latest` on CI-<TAGS-1> (even i) or CI-<TAGS-2> (odd i), so both untag and delete
# occur. Both must leave the same registry (checked). The baseline lists each repository once, then makes one call per tag to remove,
# one after the other (it is even told the plan, so it never lists more than that).
set -euo pipefail
REPOS=${REPOS:-50}
TAGS=${TAGS:-20}
DELAY=${DELAY:-0.2}
HTTP_DELAY=${HTTP_DELAY:-0.02}
JOBS=${JOBS:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
IMAGEMK=$(realpath -m "${IMAGEMK:-$here/target/release/imagemk}")
if [ ! -x "$IMAGEMK" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
work=$(mktemp -d)
server=
trap '[ -z "$server" ] || kill "$server"; rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cp "$here/tests/support/fake-cloud.py" "$work/bin/gcloud"
chmod +x "$work/bin/gcloud"
export PATH="$work/bin:$PATH" FAKE_STATE="$work/state.json" FAKE_LOG="$work/calls.log" FAKE_DELAY="$DELAY"
# The registry's HTTP API, over the same state (test-only seam IMAGEMK_TEST_API_URL).
FAKE_HTTP_DELAY="$HTTP_DELAY" python3 "$work/bin/gcloud" serve gcr "$work/http.log" >"$work/port" &
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
api_url="http://127.0.0.1:$(cat "$work/port")"
printf 'workspace:\n  registries:\n    gc:\n      kind: gcr\n      project: proj\ncomponent: bench\n' >"$work/images.yaml"
last=$((TAGS - 1))

fill() {
  python3 - "$REPOS" "$TAGS" >"$FAKE_STATE" <<'PY'
import json, sys
repos, tags = int(sys.argv[1]), int(sys.argv[2])
last = tags - 1
state = {"repos": {}}
for r in range(repos):
    manifests = []
    for n in range(1, last + 1):
        t = ["CI-%d" % n]
        if n == (last if r % 2 == 0 else last - 1):
            t.append("latest")
        manifests.append({"digest": "sha256:%02d%04d" % (r, n), "tags": t, "created": "now-%dd" % (last - n)})
    state["repos"]["proj/r%02d" % r] = manifests
print(json.dumps(state))
PY
  : >"$FAKE_LOG"
  : >"$work/http.log"
}

# The per-tag sequential approach: one listing per repository, then one call per tag.
baseline() { # $1: tags to remove (regex)
  gcloud container images list --repository=gcr.io/proj --format=json >/dev/null
  for ((r = 0; r < REPOS; r++)); do
    img=$(printf 'gcr.io/proj/r%02d' "$r")
    gcloud container images list-tags "$img" --format=json >/dev/null
    for ((n = 1; n <= last; n++)); do
      [[ "CI-$n" =~ ^($1)$ ]] || continue
      shared=$((r % 2 == 0 ? last : last - 1))
      if [ "$n" -eq "$shared" ]; then
        gcloud container images untag --quiet "$img:CI-$n"
      else
        gcloud container images delete --quiet --force-delete-tags "$img:CI-$n"
      fi
    done
  done
}

measure() { # label, command...
  local label=$1; shift
  fill
  local start end
  start=$(date +%s.%N)
  (cd "$work" && "$@" >/dev/null)
  end=$(date +%s.%N)
  local calls requests
  calls=$(wc -l <"$FAKE_LOG")
  requests=$(wc -l <"$work/http.log")
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["repos"]; print("\n".join(sorted("%s %s %s" % (r, m["digest"], ",".join(m["tags"])) for r in s for m in s[r])))' \
    "$FAKE_STATE" >"$work/after-$label"
  printf '%s %s %s %s\n' "$label" "$calls" "$requests" "$(echo "$end - $start" | bc)"
}

cli_path() { IMAGEMK_CLOUD_API=0 "$IMAGEMK" "$@"; }
api_path() { IMAGEMK_TEST_API_URL="$api_url" "$IMAGEMK" "$@"; }

echo "registry: $REPOS repositories x $TAGS tags (gcr, fake gcloud, ${DELAY}s start-up per call, ${HTTP_DELAY}s per HTTP request), imagemk -j $JOBS"
printf '%-60s %10s %9s %9s %13s %11s\n' scenario "CLI starts" requests seconds "starts ratio" "time ratio"
row() { # label calls requests seconds base-calls base-seconds
  printf '%-60s %10d %9d %9.2f %13.2f %11.2f\n' "$1" "$2" "$3" "$4" \
    "$(echo "$2 / $5" | bc -l)" "$(echo "$4 / $6" | bc -l)"
}
for scenario in "one tag (CI-$last)|CI-$last|--tag CI-$last" "pattern (CI-.*)|CI-.*|--match CI-.* --yes"; do
  IFS='|' read -r name regex flags <<<"$scenario"
  read -r _ bcalls breq btime < <(measure base baseline "$regex")
  row "$name, per-tag sequential" "$bcalls" "$breq" "$btime" "$bcalls" "$btime"
  for path in cli api; do
    # shellcheck disable=SC2086
    read -r _ icalls ireq itime < <(measure "imagemk-$path" "${path}_path" clean $flags -j "$JOBS")
    cmp -s "$work/after-base" "$work/after-imagemk-$path" || { echo "error: imagemk ($path) and the baseline left different registries ($name)" >&2; exit 1; }
    label="imagemk clean, CLI per repository"
    [ "$path" = api ] && label="imagemk clean, one token + registry API"
    row "$name, $label" "$icalls" "$ireq" "$itime" "$bcalls" "$btime"
  done
done
