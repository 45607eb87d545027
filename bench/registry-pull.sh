#!/usr/bin/env bash
# bench/registry-pull.sh: pulling an app whose base is already on the host, from one local
# registry (Debian's docker-registry on 127.0.0.1), four ways side by side:
#
#   pilot pull        manifest, config and the app's own layer blob (the store has the
#                     base's layer by diff_id); each layer extracted as it arrives
#   podman pull       into a podman storage that holds the base image (podman skips the
#                     blobs it has by digest), layers extracted into its overlay storage
#   skopeo copy       into an OCI layout holding the base (it skips blobs the layout has):
#                     transfer only, nothing extracted
#   skopeo + load     the same copy, then `pilot load` of the layout: the way pilot would
#                     pull had it used skopeo with a blob cache shared with the store
#
# The base is the Debian python example base (~42 MB compressed), the app's own layer the
# pyapp delta (~0.3 MB). Before each timed run the app is removed again (untimed): pilot
# rmi + gc, podman rmi, a fresh copy of the base-only layout. Bytes are summed from the
# registry's own access log (GETs answered 200), per run. Times are wall clock.
#
# Usage: bench/registry-pull.sh [--markdown FILE]   (run as root after `make build`;
# BENCH_PULL_RUNS, default 5). Prints a table; with --markdown also writes a section of
# bench/results.md to FILE. Writes nothing in the repo; `make bench` runs it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
EX=${BENCH_EXAMPLES:-$REPO/build/examples}
RUNS=${BENCH_PULL_RUNS:-5}
MARKDOWN=
[ "${1:-}" = --markdown ] && MARKDOWN=${2:?--markdown needs a file}

for tool in docker-registry skopeo podman jq; do
  command -v "$tool" >/dev/null || { echo "bench/registry-pull.sh: $tool is needed (.ci/setup installs it)" >&2; exit 1; }
done
[ -x "$REPO/dist/pilot.mjs" ] || { echo "bench/registry-pull.sh: run make build first" >&2; exit 1; }
[ -f "$EX/debian-python-base.tar" ] || "$REPO/examples/build.sh" --out "$EX"

WORK=$(mktemp -d /tmp/pilot-bench-registry.XXXXXX)
PM=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp" --runtime runc)
cleanup() {
  [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null || true
  "${PM[@]}" rmi --all --force >/dev/null 2>&1 || true
  if awk -v p="$WORK/" 'index($5, p) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "bench/registry-pull.sh: mounts left under $WORK; not deleting it" >&2
    return
  fi
  case $WORK in /tmp/pilot-bench-registry.*) rm -rf "$WORK" ;; esac
}
trap cleanup EXIT
PILOT="node $REPO/dist/pilot.mjs"
pilot() { PILOT_ROOT=$WORK/pilot $PILOT "$@"; }
# The skopeo + load way keeps a store of its own.
pilot_sl() { PILOT_ROOT=$WORK/pilot-sl $PILOT "$@"; }
# Removes every name of image $2 from the store of $1 (pilot or pilot_sl), then gc.
drop_image() {
  local name
  for name in $("$1" images --json | jq -r --arg id "$2" '.[] | select(.id == $id) | .names[]'); do
    "$1" rmi "$name" >/dev/null
  done
  "$1" gc >/dev/null
}

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
rm -rf "${WORK:?}/base" "$WORK/base-layer.tar"

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
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
  delete:
    enabled: true
http:
  addr: $HOST
YAML
docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
skopeo copy --quiet --dest-tls-verify=false "oci-archive:$EX/debian-python-base.tar" "docker://$HOST/bench/base:1"
skopeo copy --quiet --dest-tls-verify=false "oci-archive:$WORK/app.tar" "docker://$HOST/bench/app:1"
APP_LAYER_BYTES=$(skopeo inspect --raw --tls-verify=false "docker://$HOST/bench/app:1" | jq '.layers[1].size')
BASE_BYTES=$(skopeo inspect --raw --tls-verify=false "docker://$HOST/bench/base:1" | jq '[.layers[].size] | add')
APP_ID=$(skopeo inspect --raw --tls-verify=false "docker://$HOST/bench/app:1" | jq -r '.config.digest')

# The base, once per tool (untimed).
pilot pull "$HOST/bench/base:1" --tls-verify=false --quiet
"${PM[@]}" pull -q --tls-verify=false "$HOST/bench/base:1" >/dev/null
skopeo copy --quiet --src-tls-verify=false "docker://$HOST/bench/base:1" "oci:$WORK/layout-base:base"
pilot_sl load "$WORK/layout-base" --quiet

lines() { wc -l <"$WORK/registry.log"; }
bytes_since() {
  tail -n +"$(($1 + 1))" "$WORK/registry.log" |
    sed -n 's/.*"GET [^ ]* HTTP[^"]*" 200 \([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}'
}
now() { date +%s%N; }

declare -A TIMES BYTES
WAYS=("pilot pull" "podman pull" "skopeo copy" "skopeo + load")
# Runs one way: $1 name, $2 prepare (untimed), $3 the timed command. Appends ms and bytes.
timed() {
  local name=$1 prepare=$2 cmd=$3 mark t0 t1
  eval "$prepare"
  mark=$(lines)
  t0=$(now)
  eval "$cmd"
  t1=$(now)
  TIMES[$name]+="$(((t1 - t0) / 1000000)) "
  BYTES[$name]+="$(bytes_since "$mark") "
}
for run in $(seq "$RUNS"); do
  timed "pilot pull" "drop_image pilot $APP_ID" \
    "pilot pull $HOST/bench/app:1 --tls-verify=false --quiet"
  timed "podman pull" "\"\${PM[@]}\" rmi -f $HOST/bench/app:1 >/dev/null 2>&1 || true" \
    "\"\${PM[@]}\" pull -q --tls-verify=false $HOST/bench/app:1 >/dev/null"
  timed "skopeo copy" "rm -rf \"\$WORK/layout\"; cp -a \"\$WORK/layout-base\" \"\$WORK/layout\"" \
    "skopeo copy --quiet --src-tls-verify=false docker://$HOST/bench/app:1 oci:\$WORK/layout:app"
  timed "skopeo + load" "rm -rf \"\$WORK/layout\"; cp -a \"\$WORK/layout-base\" \"\$WORK/layout\"; drop_image pilot_sl $APP_ID" \
    "skopeo copy --quiet --src-tls-verify=false docker://$HOST/bench/app:1 oci:\$WORK/layout:app && pilot_sl load \$WORK/layout --quiet"
done

stats() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {printf "%d %d %d", a[int((NR+1)/2)], a[1], a[NR]}'; }
PILOT_MED=$(stats "${TIMES[pilot pull]}" | cut -d' ' -f1)
TABLE=$(
  echo "| way | what it does | bytes fetched (each run) | median ms | min … max ms | × pilot pull |"
  echo "| --- | --- | ---: | ---: | ---: | ---: |"
  for way in "${WAYS[@]}"; do
    read -r med min max <<<"$(stats "${TIMES[$way]}")"
    bytes=$(tr ' ' '\n' <<<"${BYTES[$way]}" | sed '/^$/d' | sort -u | paste -sd/)
    case $way in
      "pilot pull") what="manifest, config, the app's layer; extracted into the store" ;;
      "podman pull") what="the same blobs; extracted into podman's overlay storage" ;;
      "skopeo copy") what="the same blobs into an OCI layout holding the base; not extracted" ;;
      "skopeo + load") what="skopeo copy, then pilot load of the layout (the blob-cache design)" ;;
    esac
    echo "| $way | $what | $bytes | $med | $min … $max | $(awk -v a="$med" -v b="$PILOT_MED" 'BEGIN { printf "%.2f", a / b }') |"
  done
)
NOTE="$RUNS runs each from one docker-registry on 127.0.0.1 (plain HTTP). The app's own layer blob is $APP_LAYER_BYTES bytes; the base's layers, present on the host before each run, are $BASE_BYTES bytes and are fetched by none of the four. Bytes are read from the registry's access log."
echo "$TABLE"
echo
echo "$NOTE"
if [ -n "$MARKDOWN" ]; then
  {
    echo "## Pull of an app whose base is present"
    echo
    echo "bench/registry-pull.sh: $NOTE Before each run the app is removed again, untimed (pilot rmi + gc, podman rmi, a fresh copy of the base-only layout)."
    echo
    echo "$TABLE"
  } >"$MARKDOWN"
fi
