#!/usr/bin/env bash
# Benchmark of content-addressed builds (issue 10): in one run, prints
#   1. the no-op `imagemk build --all` on the example workspace (everything up to date)
#      over one `docker image inspect` of its six images (goal: ≤ 2×);
#   2. the time to compute the input digest of a 10,000-file context (`imagemk why`), cold
#      (no file-hash cache) and warm (cache in .imagemk/cache/);
#   3. the example built from scratch (no local images, `--no-cache`) against
#      `build --all --reuse` from a registry it was pushed to (Debian's docker-registry on a
#      free 127.0.0.1 port).
#   usage: bench/inputs.sh [RUNS=10] [FILES=10000]
set -euo pipefail
runs=${1:-10}; files=${2:-10000}
top=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$top/Cargo.toml"
imagemk=$top/target/release/imagemk
ns=imagemk-bench-inputs-$$
dir=$(mktemp -d)
reg_pid=
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
  rm -rf "$dir"
  docker image ls --format '{{.Repository}}:{{.Tag}}' | grep "^$ns/" | xargs -r docker image rm >/dev/null
}
trap cleanup EXIT
now() { date +%s.%N; }
# Mean seconds of `runs` runs of the command.
mean() {
  local t0 t1; t0=$(now)
  for _ in $(seq 1 "$runs"); do "$@" >/dev/null 2>&1; done
  t1=$(now); echo "($t1 - $t0) / $runs" | bc -l
}

# 1. No-op build against one inspect.
mkdir "$dir/example"
(cd "$top" && cp -r images.yaml docker core payloads "$dir/example/")
sed -i "s/namespace: kontain/namespace: $ns/" "$dir/example/images.yaml"
"$imagemk" -C "$dir/example" build --all >/dev/null 2>&1 || { echo "example build failed" >&2; exit 1; }
names=$(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep "^$ns/")
noop=$(mean "$imagemk" -C "$dir/example" build --all)
inspect=$(mean docker image inspect $names)
printf 'no-op build --all:          %6.3fs (mean of %s)\n' "$noop" "$runs"
printf 'one docker image inspect:   %6.3fs (6 images)\n' "$inspect"
printf 'ratio:                      %6.2fx (goal <= 2x)\n' "$(echo "$noop / $inspect" | bc -l)"

# 2. A 10,000-file context: digest cold and warm.
ctx="$dir/big/ctx"; mkdir -p "$ctx"
for d in $(seq 1 100); do
  mkdir -p "$ctx/d$d"
  for f in $(seq 1 $((files / 100))); do head -c 4096 /dev/urandom > "$ctx/d$d/f$f"; done
done
printf 'FROM scratch\nCOPY . /ctx\n' > "$dir/big/Dockerfile"
printf 'defaults: {namespace: %s}\ncomponent: big\nimages:\n  big: {dockerfile: Dockerfile, context: ctx}\n' "$ns" > "$dir/big/images.yaml"
touch -d '-1 minute' -- "$ctx" "$ctx"/d*/* 2>/dev/null || true  # settled files are cached
t0=$(now); "$imagemk" -C "$dir/big" why big >/dev/null; t1=$(now)
warm=$(mean "$imagemk" -C "$dir/big" why big)
printf '%s-file context, cold:   %6.3fs (hashing %s MB)\n' "$files" "$(echo "$t1 - $t0" | bc -l)" "$((files * 4 / 1024))"
printf '%s-file context, warm:   %6.3fs (mean of %s; cache hits)\n' "$files" "$warm" "$runs"

# 3. From scratch against reuse from a registry, as a fresh CI machine would.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: %s/registry}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' \
  "$dir" "$port" > "$dir/registry.yml"
/usr/bin/docker-registry serve "$dir/registry.yml" >/dev/null 2>&1 & reg_pid=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
# The example's registry `local` points at it; a tag of its own (test images refuse `latest`).
sed -i "s|host: \"localhost:5000\"|host: \"127.0.0.1:$port\"|" "$dir/example/images.yaml"
export IMAGE_TAG=bench
wipe() { docker image ls --format '{{.Repository}}:{{.Tag}}' | grep "^$ns/" | xargs -r docker image rm >/dev/null 2>&1 || true; }
"$imagemk" -C "$dir/example" build --all >/dev/null 2>&1
"$imagemk" -C "$dir/example" push --all --registry local --force >"$dir/push.log" 2>&1 || { tail -5 "$dir/push.log" >&2; echo "push failed" >&2; exit 1; }
wipe
t0=$(now); "$imagemk" -C "$dir/example" build --all --no-cache >/dev/null 2>&1; t1=$(now)
wipe
t2=$(now); "$imagemk" -C "$dir/example" build --all --registry local --reuse --json >"$dir/reuse.json" 2>/dev/null; t3=$(now)
pulled=$(grep -o '"outcome": *"pulled"' "$dir/reuse.json" | wc -l)
scratch=$(echo "$t1 - $t0" | bc -l); reuse=$(echo "$t3 - $t2" | bc -l)
printf 'example from scratch:       %6.3fs (build --all --no-cache, no local images)\n' "$scratch"
printf 'example reused:             %6.3fs (build --all --reuse: %s of 6 images pulled)\n' "$reuse" "$pulled"
printf 'ratio:                      %6.2fx\n' "$(echo "$reuse / $scratch" | bc -l)"
