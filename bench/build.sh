#!/usr/bin/env bash
# Benchmark: `imagemk build` of N independent images against the plain alternative, a loop of
# `docker build` one image at a time (what hand-written make fragments do). Each image does
# SECONDS of work (a RUN sleep) so the ratio shows the scheduling, not docker's cache.
#   usage: bench/build.sh [N=6] [SECONDS=3] [JOBS=N]
set -euo pipefail
n=${1:-6}; work=${2:-3}; jobs=${3:-$n}
top=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$top/Cargo.toml"
imagemk=$top/target/release/imagemk
dir=$(mktemp -d); trap 'rm -rf "$dir"; docker image ls --format "{{.Repository}}:{{.Tag}}" | grep "^imagemk-bench/" | xargs -r docker image rm >/dev/null' EXIT
cp /bin/busybox "$dir/busybox"
{ echo "defaults: {namespace: imagemk-bench, platform: bb}"; echo "component: bench"; echo "images:"; } > "$dir/images.yaml"
# The LABEL differs per run, so neither run reuses the other's cached layers.
dockerfiles() {
  for i in $(seq 1 "$n"); do
    printf 'FROM scratch\nLABEL bench.run=%s-%s-%s\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sleep", "%s"]\n' "$1" "$$" "$i" "$work" > "$dir/img$i.dockerfile"
  done
}
for i in $(seq 1 "$n"); do echo "  img$i: {dockerfile: img$i.dockerfile}" >> "$dir/images.yaml"; done
now() { date +%s.%N; }
dockerfiles plain
t0=$(now)
for i in $(seq 1 "$n"); do
  docker build -q -f "$dir/img$i.dockerfile" -t "imagemk-bench/plain$i" "$dir" >/dev/null 2>&1
done
t1=$(now)
dockerfiles imagemk
t1=$(now)
"$imagemk" -C "$dir" build -j "$jobs" >/dev/null 2>&1 || { echo "imagemk build failed" >&2; exit 1; }
t2=$(now)
plain=$(echo "$t1 - $t0" | bc); ours=$(echo "$t2 - $t1" | bc)
printf 'images: %s, work per image: %ss, jobs: %s\n' "$n" "$work" "$jobs"
printf 'plain docker build loop: %6.1fs\n' "$plain"
printf 'imagemk build -j %s:     %6.1fs\n' "$jobs" "$ours"
printf 'speed-up:                 %6.2fx\n' "$(echo "$plain / $ours" | bc -l)"
