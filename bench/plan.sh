#!/usr/bin/env bash
# bench/plan.sh: planning time of N images in several graph shapes, with the release build.
# Writes a workspace (one component, one shared FROM-scratch Dockerfile, `depends:` edges),
# then times `imagemk build --all --dry-run` and `imagemk plan --all --json` (when present).
#   usage: bench/plan.sh [N=10000] [SHAPE…]   shapes: flat chain reversed fanin diamond random
# The first command of each shape runs cold (no `.imagemk/`: it writes every input record); the
# CPU column (user + system seconds) is what a busy machine does not inflate.
#   KEEP=DIR writes the workspaces under DIR and keeps them.
set -euo pipefail
n=${1:-10000}; shift || true
shapes=("$@"); [ ${#shapes[@]} -gt 0 ] || shapes=(flat chain reversed fanin diamond random)
top=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$top/Cargo.toml"
imagemk=$top/target/release/imagemk
if [ -n "${KEEP:-}" ]; then base=$KEEP; mkdir -p "$base"; else base=$(mktemp -d); trap 'rm -rf "$base"' EXIT; fi
# Image i (1-based) and its dependencies, one YAML line each.
workspace() { # shape dir
  local shape=$1 dir=$2
  mkdir -p "$dir/ctx"
  printf 'FROM scratch\nCOPY file /file\n' > "$dir/ctx/Dockerfile"
  echo plan > "$dir/ctx/file"
  awk -v n="$n" -v shape="$shape" 'BEGIN {
    srand(12);
    print "defaults: {namespace: imagemk-planbench, platform: p}";
    print "component: bench";
    print "images:";
    for (i = 1; i <= n; i++) {
      d = "";
      if (shape == "chain" && i > 1) d = "img" (i - 1);
      if (shape == "reversed" && i < n) d = "img" (i + 1);
      if (shape == "fanin" && i == n) { for (j = 1; j < n; j++) d = d (j > 1 ? ", " : "") "img" j; }
      if (shape == "diamond" && i > 1 && i < n) d = "img1";
      if (shape == "diamond" && i == n) { for (j = 2; j < n; j++) d = d (j > 2 ? ", " : "") "img" j; }
      if (shape == "random" && i > 1) {
        k = int(rand() * 4);
        for (j = 0; j < k; j++) { p = 1 + int(rand() * (i - 1)); d = d (j > 0 ? ", " : "") "img" p; }
      }
      printf "  img%d: {dockerfile: ctx/Dockerfile, context: ctx%s}\n", i, (d == "" ? "" : ", depends: [" d "]");
    }
  }' > "$dir/images.yaml"
}
now() { date +%s.%N; }
timed() { # label cmd…
  local label=$1; shift
  local t0 t1 cpu
  t0=$(now); /usr/bin/time -f '%U %S' -o "$base/cpu" "$@" >/dev/null 2>"$base/err" || { echo "$label failed:" >&2; tail -3 "$base/err" >&2; return 1; }
  t1=$(now)
  cpu=$(awk '{ print $1 + $2 }' "$base/cpu")
  printf '  %-28s %6.2fs  (cpu %5.2fs)\n' "$label" "$(echo "$t1 - $t0" | bc)" "$cpu"
}
has_plan=$("$imagemk" plan --help >/dev/null 2>&1 && echo yes || echo no)
echo "images: $n"
for shape in "${shapes[@]}"; do
  dir=$base/$shape; workspace "$shape" "$dir"
  echo "$shape:"
  timed "build --all --dry-run (cold)" "$imagemk" -C "$dir" build --all --dry-run
  [ "$has_plan" = no ] || timed "plan --all --json" "$imagemk" -C "$dir" plan --all --json
  timed "build --all --dry-run" "$imagemk" -C "$dir" build --all --dry-run
done
