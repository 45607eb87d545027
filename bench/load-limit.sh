#!/usr/bin/env bash
# bench/load-limit.sh: `pilot load` of an image archive against the physical limit of
# unpacking its layers, paired, in the same run and into the same file system.
#
#   limit  every layer blob of the archive through `gzip -dc | tar -x` (zstd -dc, xz -dc
#          or cat for other blobs), all layers at once, into a fresh dir, then
#          `sync -f` of it: the same bytes on disk with the same durability that pilot
#          load promises (docs/design.md, "Durable commits")
#   pilot  `node dist/pilot.mjs load ARCHIVE` into a fresh PILOT_ROOT (Node's start-up,
#          reading the archive, verification, the manifest and records included)
#
# Each round runs both, in alternating order (a pair shares whatever the machine was
# doing then; alternating cancels an order effect), after one unmeasured warm-up pair
# (page cache). It prints every round, then medians, min-max spread and the median of
# the per-round ratios pilot/limit (issue 17: at most 1.25), with the load average
# before and after. The last line is for bench/run.sh:
#
#   LOAD_LIMIT limit_ms=… pilot_ms=… ratio=… limit_spread=…-… pilot_spread=…-… rounds=N
#
# Usage: bench/load-limit.sh [ARCHIVE] [ROUNDS]   (defaults: the Debian example base, 7)
# Environment: PILOT_CLI (default dist/pilot.mjs of this repo), BENCH_TMP (the file
# system to unpack into, default /var/tmp: not a tmpfs, where sync would mean nothing).
# Run as root (pilot load as root keeps owners, as the limit's tar does).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ARCHIVE=${1:-$REPO/build/examples/debian-python-base.tar}
ROUNDS=${2:-7}
CLI=${PILOT_CLI:-$REPO/dist/pilot.mjs}
die() { printf 'bench/load-limit.sh: %s\n' "$*" >&2; exit 1; }

[ -s "$ARCHIVE" ] || die "no archive at $ARCHIVE (make examples builds the example images)"
[ -f "$CLI" ] || die "no $CLI: run make build"
case "$ROUNDS" in '' | *[!0-9]* | 0) die "ROUNDS must be a positive number, not $ROUNDS" ;; esac
for t in node tar gzip sync; do command -v "$t" >/dev/null || die "needs $t"; done

WORK=$(mktemp -d "${BENCH_TMP:-/var/tmp}/pilot-load-limit.XXXXXX")
# Removes only what this script made: $WORK itself comes from mktemp.
clean() {
  case "$1" in "$WORK"/*) rm -rf -- "$1" ;; *) die "refusing to remove $1" ;; esac
}
trap 'case "$WORK" in */pilot-load-limit.*) rm -rf -- "$WORK" ;; esac' EXIT
trap 'exit 130' INT TERM

# The layer blobs, in the archive's order: an OCI archive (index.json → manifest) or a
# docker-archive (manifest.json); the first image only.
mkdir "$WORK/archive"
tar -x -f "$ARCHIVE" -C "$WORK/archive"
mapfile -t LAYERS < <(node -e '
  const { readFileSync, existsSync } = require("node:fs");
  const dir = process.argv[1];
  const blob = (d) => `${dir}/blobs/${d.replace(":", "/")}`;
  let layers;
  if (existsSync(`${dir}/index.json`)) {
    const index = JSON.parse(readFileSync(`${dir}/index.json`, "utf8"));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
    layers = manifest.layers.map((l) => blob(l.digest));
  } else {
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8"));
    layers = manifest[0].Layers.map((l) => `${dir}/${l}`);
  }
  console.log(layers.join("\n"));
' "$WORK/archive")
[ "${#LAYERS[@]}" -gt 0 ] || die "$ARCHIVE names no layers"

decompressor() { # the tool that undoes a blob, by its first bytes
  case "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" in
    1f8b*) echo 'gzip -dc' ;;
    28b52ffd) echo 'zstd -dc -q' ;;
    fd377a58) echo 'xz -dc' ;;
    *) echo 'cat' ;;
  esac
}

now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }

run_limit() { # $1: a fresh dir; prints milliseconds
  local dir=$1 i=0 start end
  mkdir "$dir"
  start=$(now)
  for layer in "${LAYERS[@]}"; do
    i=$((i + 1))
    mkdir "$dir/$i"
    # shellcheck disable=SC2046 # the decompressor's words
    $(decompressor "$layer") <"$layer" | tar -x -C "$dir/$i" &
  done
  wait
  sync -f "$dir"
  end=$(now)
  ms "$start" "$end"
}

run_pilot() { # $1: a fresh PILOT_ROOT; prints milliseconds
  local start end
  start=$(now)
  PILOT_ROOT=$1 node "$CLI" load "$ARCHIVE" >/dev/null
  end=$(now)
  ms "$start" "$end"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
spread() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "pilot load vs. gzip -dc | tar -x + sync -f: $ARCHIVE (${#LAYERS[@]} layer(s)), $ROUNDS rounds, into $WORK"
echo "load average before: $LOAD_BEFORE"
clean_round() { clean "$WORK/limit"; clean "$WORK/root"; }
run_limit "$WORK/limit" >/dev/null
run_pilot "$WORK/root" >/dev/null
clean_round
LIMITS=()
PILOTS=()
RATIOS=()
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    l=$(run_limit "$WORK/limit")
    p=$(run_pilot "$WORK/root")
  else
    p=$(run_pilot "$WORK/root")
    l=$(run_limit "$WORK/limit")
  fi
  clean_round
  r=$(awk -v p="$p" -v l="$l" 'BEGIN { printf "%.2f", p / l }')
  LIMITS+=("$l")
  PILOTS+=("$p")
  RATIOS+=("$r")
  printf '  round %d: limit %5d ms, pilot %5d ms, ratio %s (load %s)\n' "$round" "$l" "$p" "$r" "$(cut -d' ' -f1 /proc/loadavg)"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
L_MED=$(printf '%s\n' "${LIMITS[@]}" | median)
P_MED=$(printf '%s\n' "${PILOTS[@]}" | median)
R_MED=$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : sprintf("%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
L_SPREAD=$(printf '%s\n' "${LIMITS[@]}" | spread)
P_SPREAD=$(printf '%s\n' "${PILOTS[@]}" | spread)
echo "limit: median $L_MED ms ($L_SPREAD); pilot load: median $P_MED ms ($P_SPREAD); pilot/limit: median of rounds $R_MED (target <= 1.25)"
echo "load average after: $LOAD_AFTER"
echo "LOAD_LIMIT limit_ms=$L_MED pilot_ms=$P_MED ratio=$R_MED limit_spread=$L_SPREAD pilot_spread=$P_SPREAD rounds=$ROUNDS load_before=${LOAD_BEFORE// /,} load_after=${LOAD_AFTER// /,}"
