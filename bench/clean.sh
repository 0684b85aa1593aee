#!/usr/bin/env bash
# bench/clean.sh: wall time and number of CLI calls of `imagemk clean` against the per-tag,
# sequential approach of hand-written clean-up scripts, on a fake gcr registry
# (tests/support/fake-cloud.py) of REPOS repositories x TAGS tags.
#
#   bench/clean.sh                     # 50 x 20, 0.2 s of simulated CLI start-up per call
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
JOBS=${JOBS:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
IMAGEMK=$(realpath -m "${IMAGEMK:-$here/target/release/imagemk}")
if [ ! -x "$IMAGEMK" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cp "$here/tests/support/fake-cloud.py" "$work/bin/gcloud"
chmod +x "$work/bin/gcloud"
export PATH="$work/bin:$PATH" FAKE_STATE="$work/state.json" FAKE_LOG="$work/calls.log" FAKE_DELAY="$DELAY"
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
  local calls
  calls=$(wc -l <"$FAKE_LOG")
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["repos"]; print("\n".join(sorted("%s %s %s" % (r, m["digest"], ",".join(m["tags"])) for r in s for m in s[r])))' \
    "$FAKE_STATE" >"$work/after-$label"
  printf '%s %s %s\n' "$label" "$calls" "$(echo "$end - $start" | bc)"
}

echo "registry: $REPOS repositories x $TAGS tags (gcr, fake gcloud, ${DELAY}s start-up per call), imagemk -j $JOBS"
printf '%-34s %7s %9s %13s %13s\n' scenario calls seconds "calls ratio" "time ratio"
for scenario in "one tag (CI-$last)|CI-$last|--tag CI-$last" "pattern (CI-.*)|CI-.*|--match CI-.* --yes"; do
  IFS='|' read -r name regex flags <<<"$scenario"
  read -r _ bcalls btime < <(measure base baseline "$regex")
  # shellcheck disable=SC2086
  read -r _ icalls itime < <(measure imagemk "$IMAGEMK" clean $flags -j "$JOBS")
  cmp -s "$work/after-base" "$work/after-imagemk" || { echo "error: imagemk and the baseline left different registries ($name)" >&2; exit 1; }
  printf '%-34s %7d %9.2f %13s %13s\n' "$name, per-tag sequential" "$bcalls" "$btime" "1.00" "1.00"
  printf '%-34s %7d %9.2f %13.2f %13.2f\n' "$name, imagemk clean" "$icalls" "$itime" \
    "$(echo "$icalls / $bcalls" | bc -l)" "$(echo "$itime / $btime" | bc -l)"
done
