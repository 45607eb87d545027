#!/usr/bin/env bash
# bench/registry-pull.sh: pulling an app whose base is already on the host, two ways
# (not in CI; run as root after `make build`):
#
#   pilot        pilot pull (src/store/registry-pull.ts): manifest, config, the app's
#                own layer blob; extracted as it arrives
#   skopeo+cache skopeo copy docker://… oci:CACHE:app into an OCI layout kept as a
#                shared blob cache (it skips blobs the layout has), then pilot load of
#                that layout (which extracts only the layer the store lacks)
#
# Both from the same local docker-registry, the base (the Debian python base, ~42 MB
# compressed) fetched first by the same tool. Bytes are summed from the registry's own
# access log; times are wall clock. Prints one table; writes nothing in the repo.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
EX=${BENCH_EXAMPLES:-$REPO/build/examples}
PILOT="node $REPO/dist/pilot.mjs"
RUNS=${BENCH_RUNS:-3}

for tool in docker-registry skopeo jq; do
  command -v "$tool" >/dev/null || { echo "bench/registry-pull.sh: $tool is needed" >&2; exit 1; }
done
[ -f "$EX/debian-python-base.tar" ] || "$REPO/examples/build.sh"

WORK=$(mktemp -d /tmp/pilot-bench-registry.XXXXXX)
cleanup() {
  [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null || true
  case $WORK in /tmp/pilot-bench-registry.*) rm -rf "$WORK" ;; esac
}
trap cleanup EXIT

# The app image: the base's own layer (byte for byte) under the pyapp delta layer.
mkdir "$WORK/base"
tar -xf "$EX/debian-python-base.tar" -C "$WORK/base"
manifest=$(jq -r '.manifests[0].digest' "$WORK/base/index.json")
layer=$(jq -r '.layers[0].digest' "$WORK/base/blobs/sha256/${manifest#sha256:}")
gzip -dc "$WORK/base/blobs/sha256/${layer#sha256:}" >"$WORK/base-layer.tar"
# shellcheck source=../examples/lib/oci.sh
. "$REPO/examples/lib/oci.sh"
OCI_QUIET=1 oci_archive "$WORK/app.tar" localhost/bench/app:1 '{"Cmd":["/usr/bin/python3"]}' \
  "$WORK/base-layer.tar" "$EX/layers/pyapp-delta" >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOST=127.0.0.1:$PORT
cat >"$WORK/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $WORK/data
http:
  addr: $HOST
YAML
docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
skopeo copy --quiet --dest-tls-verify=false "oci-archive:$EX/debian-python-base.tar" "docker://$HOST/bench/base:1"
skopeo copy --quiet --dest-tls-verify=false "oci-archive:$WORK/app.tar" "docker://$HOST/bench/app:1"

lines() { wc -l <"$WORK/registry.log"; }
# Bytes of the GETs answered 200 after line $1 of the access log.
bytes_since() {
  tail -n +"$(($1 + 1))" "$WORK/registry.log" |
    sed -n 's/.*"GET [^ ]* HTTP[^"]*" 200 \([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}'
}
now() { date +%s.%N; }

printf '%-14s %8s %14s %10s\n' way run 'bytes fetched' 'seconds'
for run in $(seq "$RUNS"); do
  # pilot: base first, then the app.
  root=$WORK/pilot-$run
  PILOT_ROOT=$root $PILOT pull "$HOST/bench/base:1" --tls-verify=false --quiet
  mark=$(lines); t0=$(now)
  PILOT_ROOT=$root $PILOT pull "$HOST/bench/app:1" --tls-verify=false --quiet
  t1=$(now)
  printf '%-14s %8s %14s %10.2f\n' pilot "$run" "$(bytes_since "$mark")" "$(echo "$t1 - $t0" | bc)"

  # skopeo into a shared OCI layout, then pilot load of that layout.
  cache=$WORK/cache-$run root=$WORK/skopeo-$run
  skopeo copy --quiet --src-tls-verify=false "docker://$HOST/bench/base:1" "oci:$cache:base"
  PILOT_ROOT=$root $PILOT load "$cache" --quiet
  mark=$(lines); t0=$(now)
  skopeo copy --quiet --src-tls-verify=false "docker://$HOST/bench/app:1" "oci:$cache:app"
  t1=$(now)
  PILOT_ROOT=$root $PILOT load "$cache" --quiet
  t2=$(now)
  printf '%-14s %8s %14s %10.2f  (copy %.2f + load %.2f)\n' skopeo+cache "$run" "$(bytes_since "$mark")" \
    "$(echo "$t2 - $t0" | bc)" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
done
