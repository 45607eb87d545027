#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs (as root, after `make build`).
#
# One hyperfine run (-N --warmup 5 --runs N) times, side by side, the same small program
# (examples/apps/hello: prints one line) started as
#   native          the same sh script on the host
#   node -e 0       what starting Node alone costs
#   pilot warm      second+ call through the app link (the exec stub, no Node), as root
#                   and as an unprivileged caller (nobody, via setpriv)
#   pilot warm/Node the same call through the Node launcher (PILOT_FASTPATH=off)
#   pilot first     first call after (re-)register, cached host layers deleted,
#                   on the 2 MB busybox base and on the ~160 MB (unpacked) Debian python base
#   podman run      podman run --rm of one image holding base + delta
#   flake-pilot     flake-pilot's podman-pilot flow (bench/flake-pilot-flow.sh)
# plus jq-app (host files from /removed) warm, first and through flake-pilot's flow, and
# the pull of an app whose base is present from a local registry: pilot pull, podman
# pull, skopeo copy (bench/registry-pull.sh).
# Then it compares store sizes: BENCH_APPS apps on the Debian base in pilot's store and
# in podman's storage. It prints a table and writes bench/results.md (raw hyperfine JSON
# goes to bench/out/, which git ignores).
#
# Environment: BENCH_RUNS (default 20), BENCH_ATTEMPTS (default 2: the hyperfine run is
# repeated once when it looks disturbed, and the calmer one is kept), BENCH_APPS
# (default 5), BENCH_BUDGET (seconds after which no repeat is started, default 300),
# BENCH_EXAMPLES (image dir, default build/examples; built with examples/build.sh when
# an image is missing).
set -euo pipefail
set -o errtrace
trap 'echo "bench/run.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
RUNS=${BENCH_RUNS:-20}
ATTEMPTS=${BENCH_ATTEMPTS:-2}
NAPPS=${BENCH_APPS:-5}
BUDGET=${BENCH_BUDGET:-300}
EX=${BENCH_EXAMPLES:-$REPO/build/examples}
OUTDIR=$REPO/bench/out
RESULTS=$REPO/bench/results.md
T_START=$SECONDS

log() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "needs $1 (.ci/setup installs it)"; }

[ "$(id -u)" = 0 ] || die "run as root (pilot's first launch, podman and the flake-pilot flow need it)"
for t in hyperfine podman runc rsync jq setpriv node tar gzip sha256sum flock docker-registry skopeo; do need "$t"; done
for f in pilot.mjs pilot-launch.mjs pilot-exec; do [ -x "$REPO/dist/$f" ] || die "dist/$f is missing: run make build"; done

# ---------------------------------------------------------------- images
IMAGES=(busybox-base hello-delta jq-delta debian-python-base)
missing=0
for i in "${IMAGES[@]}"; do [ -s "$EX/$i.tar" ] && [ -d "$EX/layers/$i" ] || missing=1; done
if [ "$missing" = 1 ]; then
  log "building the example images (examples/build.sh --out $EX)"
  "$REPO/examples/build.sh" --out "$EX"
fi
for i in "${IMAGES[@]}"; do [ -s "$EX/$i.tar" ] || die "examples/build.sh did not write $EX/$i.tar"; done

# ---------------------------------------------------------------- work dir and cleanup
WORK=$(mktemp -d /tmp/pilot-bench.XXXXXX)
chmod 755 "$WORK"
PODMAN_ROOTS=()
PILOT_ROOTS=()

umount_under() { # every mount below $1, deepest first
  local m
  awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$? r
  trap - ERR
  set +e
  for r in "${PILOT_ROOTS[@]}"; do
    PILOT_ROOT=$r node "$WORK/dist/pilot.mjs" stop --all >/dev/null 2>&1
  done
  for r in "${PODMAN_ROOTS[@]}"; do
    local -a p=(podman --root "$r/root" --runroot "$r/run" --tmpdir "$r/tmp" --runtime runc)
    "${p[@]}" rm --all --force >/dev/null 2>&1
    "${p[@]}" image unmount --all --force >/dev/null 2>&1
    "${p[@]}" rmi --all --force >/dev/null 2>&1
  done
  umount_under "$WORK"
  if awk -v p="$WORK/" 'index($5, p) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "bench/run.sh: mounts left under $WORK; not deleting it" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A snapshot of the build: other work may rebuild dist/ while the benchmark runs, and a
# changed stub makes every cached plan stale.
cp -a "$REPO/dist" "$WORK/dist"
export PILOT_CLI=$WORK/dist/pilot.mjs
pilot() { node "$PILOT_CLI" "$@"; }

# ---------------------------------------------------------------- machine
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_START=$(load_avg)
NPROC=$(nproc)
CPU=$(sed -n 's/^model name[[:space:]]*: //p; T; q' /proc/cpuinfo)
MEM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
log "machine: $NPROC CPUs ($CPU), $MEM, kernel $(uname -r), load $LOAD_START"

# ---------------------------------------------------------------- pilot root
export PILOT_ROOT=$WORK/root
mkdir -m 755 "$PILOT_ROOT"
PILOT_ROOTS+=("$PILOT_ROOT")
log "pilot root $PILOT_ROOT: load images, register hello, hello-deb, jq-app"
for i in busybox-base hello-delta jq-delta debian-python-base; do pilot load "$EX/$i.tar" | sed 's/^/    /'; done
pilot register --container pilot/hello-delta --base pilot/busybox-base --app /usr/bin/hello --target /usr/bin/hello | sed 's/^/    /'
pilot register --container pilot/hello-delta --base pilot/debian-python-base --app /usr/bin/hello-deb --target /usr/bin/hello | sed 's/^/    /'
pilot register --container pilot/jq-delta --base pilot/busybox-base --app /usr/bin/jq-app | sed 's/^/    /'
# The same app with the restrictions a careful site would set (issue 13: within 3 ms of hello).
pilot register --container pilot/hello-delta --base pilot/busybox-base --app /usr/bin/hello-locked --target /usr/bin/hello \
  --opt '--user 65534:65534' --opt --read-only --opt '--network none' --opt --cap-drop=ALL | sed 's/^/    /'
APPS=$PILOT_ROOT/usr/bin

mkdir -m 755 "$WORK/native"
install -m 0755 "$REPO/examples/apps/hello" "$WORK/native/hello"

# ---------------------------------------------------------------- podman
PM_DIR=$WORK/podman
PODMAN_ROOTS+=("$PM_DIR")
PM=(podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" --tmpdir "$PM_DIR/tmp" --runtime runc)
log "podman storage $PM_DIR: hello-full (base + delta as one image), busybox-base, hello-delta, jq-delta"
# shellcheck source=../examples/lib/oci.sh
. "$REPO/examples/lib/oci.sh"
export OCI_QUIET=1 OCI_ROOT_OWNER=1
PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
oci_archive "$WORK/hello-full.tar" localhost/pilot-bench/hello-full:latest \
  "$(jq -cn --arg p "$PATH_ENV" '{Env: [$p], Cmd: ["/usr/bin/hello"]}')" \
  "$EX/layers/busybox-base" "$EX/layers/hello-delta" >/dev/null
for f in "$WORK/hello-full.tar" "$EX/busybox-base.tar" "$EX/hello-delta.tar" "$EX/jq-delta.tar"; do
  "${PM[@]}" load -q -i "$f" | sed 's/^/    /'
done
# This machine's runc cannot raise rlimits (no CAP_SYS_RESOURCE) and podman's conmon runs
# with a lower RLIMIT_NPROC than the shell: use the highest limit that works.
NOFILE=$(ulimit -Hn)
RUN_OPTS=()
for nproc in $(ulimit -Hu) 65536 32768 16384 4096; do
  RUN_OPTS=(--network host --ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$nproc:$nproc")
  if "${PM[@]}" run --rm "${RUN_OPTS[@]}" localhost/pilot-bench/hello-full >/dev/null 2>&1; then break; fi
  RUN_OPTS=()
done
[ "${#RUN_OPTS[@]}" -gt 0 ] || { "${PM[@]}" run --rm --network host localhost/pilot-bench/hello-full || true; die "podman run does not work here"; }
say "podman run options: ${RUN_OPTS[*]}"

export FLAKE_PODMAN="${PM[*]}" FLAKE_PODMAN_OPTS="${RUN_OPTS[*]}" FLAKE_IDS_DIR=$WORK/flakes
FLOW=$HERE/flake-pilot-flow.sh

# ---------------------------------------------------------------- commands
du_b() { du -sb "$@" | awk '{ s += $1 } END { print s + 0 }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f MiB", a / 1048576 }'; }
BB_B=$(du_b "$EX/layers/busybox-base")
DEB_B=$(du_b "$EX/layers/debian-python-base")
# name | prepare | command | what it is
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
# An unprivileged caller keeps its plans in its own run dir ($XDG_RUNTIME_DIR/pilot, else
# ~/.cache/pilot/run): every row runs with a HOME that nobody owns (root's rows bind it
# as they would bind /root), and without root's XDG_RUNTIME_DIR.
mkdir -m 755 "$WORK/home"
chown 65534:65534 "$WORK/home"
export HOME=$WORK/home
unset XDG_RUNTIME_DIR
CMDS=(
  "native|true|$WORK/native/hello|the app's sh script run directly on the host"
  "node -e 0|true|node -e 0|Node's own start-up"
  "pilot warm, Node launcher|true|env PILOT_FASTPATH=off $APPS/hello|hello, warm, through the Node launcher (env adds one exec)"
  "pilot warm|true|$APPS/hello|hello through its app link (exec stub runs the cached plan, no Node), root"
  "pilot warm, nobody|true|${NOBODY[*]} $APPS/hello|the same as uid 65534 (setpriv adds one exec)"
  "pilot warm, restricted|true|$APPS/hello-locked|hello with --user 65534:65534 --read-only --network none --cap-drop=ALL, root"
  "pilot warm, restricted, nobody|true|${NOBODY[*]} $APPS/hello-locked|the same as uid 65534 (its own uid, so --user is allowed)"
  "native jq|true|jq -n 1|the host's jq, directly (what jq-app runs)"
  "pilot warm jq-app|true|$APPS/jq-app -n 1|jq-app: host jq + libs from /removed"
  "pilot first, busybox base|bash $HERE/first-launch-prepare.sh hello pilot/hello-delta pilot/busybox-base /usr/bin/hello|$APPS/hello|first call after register, busybox base ($(mib "$BB_B"))"
  "pilot first, Debian base|bash $HERE/first-launch-prepare.sh hello-deb pilot/hello-delta pilot/debian-python-base /usr/bin/hello|$APPS/hello-deb|the same delta on debian-python-base ($(mib "$DEB_B"))"
  "pilot first jq-app|bash $HERE/first-launch-prepare.sh jq-app pilot/jq-delta pilot/busybox-base /usr/bin/jq-app|$APPS/jq-app -n 1|first call after register, host layer built"
  "podman run --rm|true|${PM[*]} run --rm ${RUN_OPTS[*]} localhost/pilot-bench/hello-full|one image = base + delta"
  "flake-pilot flow|true|$FLOW localhost/pilot/busybox-base localhost/pilot/hello-delta /usr/bin/hello|create, mount, rsync delta, start -a, rm"
  "flake-pilot flow jq-app|true|$FLOW localhost/pilot/busybox-base localhost/pilot/jq-delta /usr/bin/jq-app -n 1|the same plus rsync of the /removed host files"
)
field() { local IFS='|'; read -r -a parts <<<"$1"; printf '%s' "${parts[$2]}"; }

log "smoke test: every command once, output checked"
cd "$WORK"
for c in "${CMDS[@]}"; do
  name=$(field "$c" 0) prep=$(field "$c" 1) cmd=$(field "$c" 2)
  # shellcheck disable=SC2086
  $prep
  # shellcheck disable=SC2086
  out=$($cmd 2>&1) || die "$name failed: $cmd"$'\n'"$out"
  case $name in
  *jq-app* | "native jq") want=1 ;;
  "node -e 0") want= ;;
  *) want="hello from pilot" ;;
  esac
  [ "$(printf '%s\n' "$out" | tr -d '\r' | sed -n 1p)" = "$want" ] || die "$name printed '$out', wanted '$want': $cmd"
  say "ok  $name"
done

# the warm rows must measure the fast path, not a fallback to the Node launcher
for who in root nobody; do
  pre=()
  [ "$who" = root ] || pre=("${NOBODY[@]}")
  for app in hello hello-locked; do
    "${pre[@]}" "$APPS/$app" >/dev/null # the first call after the smoke test's re-register writes the plan
    trace=$(PILOT_FASTPATH_TRACE=1 "${pre[@]}" "$APPS/$app" 2>&1 >/dev/null) || die "$app as $who failed: $trace"
    case $trace in *"fast path taken"*) say "ok  fast path taken by $app as $who" ;; *) die "$app as $who did not take the fast path: $trace" ;; esac
  done
done

# ---------------------------------------------------------------- hyperfine
mkdir -p "$OUTDIR"
hyperfine_run() { # OUT.json
  local -a args=(-N --warmup 5 --runs "$RUNS" --export-json "$1" --style basic)
  local c
  for c in "${CMDS[@]}"; do
    args+=(--prepare "$(field "$c" 1)" -n "$(field "$c" 0)" "$(field "$c" 2)")
  done
  hyperfine "${args[@]}"
}
# How disturbed a run looks: the largest stddev/mean of the rows the targets use.
disturbance() {
  jq -r '[.results[] | select(.command | test("^(node -e 0|pilot warm.*|pilot first, .*base|podman run --rm|flake-pilot flow)$"))
          | .stddev / .mean] | max' "$1"
}
BEST=
BEST_SCORE=
ATTEMPT_NOTES=()
for ((a = 1; a <= ATTEMPTS; a++)); do
  log "hyperfine run $a of at most $ATTEMPTS ($RUNS runs each, load $(load_avg))"
  l0=$(load_avg)
  hyperfine_run "$WORK/hyperfine.$a.json"
  l1=$(load_avg)
  score=$(disturbance "$WORK/hyperfine.$a.json")
  load1=${l1%% *}
  ATTEMPT_NOTES+=("run $a: load $l0 -> $l1, largest stddev/mean $(printf '%.2f' "$score")")
  say "${ATTEMPT_NOTES[-1]}"
  if [ -z "$BEST" ] || awk -v s="$score" -v b="$BEST_SCORE" 'BEGIN { exit !(s < b) }'; then
    BEST=$a BEST_SCORE=$score
  fi
  calm=$(awk -v s="$score" -v l="$load1" -v n="$NPROC" 'BEGIN { print (s <= 0.25 && l <= n) ? 1 : 0 }')
  if [ "$calm" = 1 ]; then break; fi
  if ((SECONDS - T_START > BUDGET)); then
    say "looks disturbed, but the time budget (${BUDGET}s) is spent: no repeat"
    break
  fi
  if [ "$a" -lt "$ATTEMPTS" ]; then say "looks disturbed (stddev/mean > 0.25 or load > $NPROC): repeating"; fi
done
JSON=$WORK/hyperfine.$BEST.json
cp "$JSON" "$OUTDIR/hyperfine.json"
LOAD_END=$(load_avg)

# ---------------------------------------------------------------- store size
log "store size: $NAPPS apps on the Debian python base"
SR=$WORK/store
mkdir -m 755 "$SR"
PILOT_ROOTS+=("$SR")
mkdir -p "$WORK/deltas"
# the base layer as an uncompressed tar, and its gzip'd blob as oci.sh's cache entry
mkdir -p "$WORK/debbase" "$WORK/blobcache"
tar -C "$WORK/debbase" -xf "$EX/debian-python-base.tar"
manifest=$(jq -r '.manifests[0].digest' "$WORK/debbase/index.json")
blob=$(jq -r '.layers[0].digest' "$WORK/debbase/blobs/sha256/${manifest#sha256:}")
config=$(jq -r '.config.digest' "$WORK/debbase/blobs/sha256/${manifest#sha256:}")
diffid=$(jq -r '.rootfs.diff_ids[0]' "$WORK/debbase/blobs/sha256/${config#sha256:}")
gzip -dc "$WORK/debbase/blobs/sha256/${blob#sha256:}" >"$WORK/debbase/layer.tar"
ln "$WORK/debbase/blobs/sha256/${blob#sha256:}" "$WORK/blobcache/${diffid#sha256:}.tar.gz"
export OCI_BLOB_CACHE=$WORK/blobcache

PMS_DIR=$WORK/podman-full   # podman: one image per app (base + delta)
PMD_DIR=$WORK/podman-delta  # podman: base + delta images, as flake-pilot keeps them
PODMAN_ROOTS+=("$PMS_DIR" "$PMD_DIR")
PMS=(podman --root "$PMS_DIR/root" --runroot "$PMS_DIR/run" --tmpdir "$PMS_DIR/tmp" --runtime runc)
PMD=(podman --root "$PMD_DIR/root" --runroot "$PMD_DIR/run" --tmpdir "$PMD_DIR/tmp" --runtime runc)

PILOT_ROOT=$SR pilot load "$EX/debian-python-base.tar" >/dev/null
"${PMD[@]}" load -q -i "$EX/debian-python-base.tar" >/dev/null
DELTA_SUM=0
for ((i = 1; i <= NAPPS; i++)); do
  d=$WORK/deltas/app$i
  mkdir -p "$d/usr/bin" "$d/usr/share/app$i"
  printf '#!/bin/sh\necho "app%s on $(. /etc/os-release; echo "$PRETTY_NAME")"\n' "$i" >"$d/usr/bin/app$i"
  chmod 755 "$d/usr/bin/app$i"
  head -c $((256 * 1024)) /dev/urandom >"$d/usr/share/app$i/data" # the app's own files
  DELTA_SUM=$((DELTA_SUM + $(du_b "$d")))
  cfg=$(jq -cn --arg p "$PATH_ENV" --arg c "/usr/bin/app$i" '{Env: [$p], Cmd: [$c]}')
  oci_archive "$WORK/deltas/app$i-delta.tar" "localhost/pilot-bench/app$i-delta:latest" "$cfg" "$d" >/dev/null
  oci_archive "$WORK/deltas/app$i-full.tar" "localhost/pilot-bench/app$i-full:latest" "$cfg" "$WORK/debbase/layer.tar" "$d" >/dev/null
  PILOT_ROOT=$SR pilot load "$WORK/deltas/app$i-delta.tar" >/dev/null
  PILOT_ROOT=$SR pilot register --container "pilot-bench/app$i-delta" --base pilot/debian-python-base --app "/usr/bin/app$i" >/dev/null
  out=$(PILOT_ROOT=$SR "$SR/usr/bin/app$i")
  [ "$out" = "app$i on Debian GNU/Linux 12 (bookworm)" ] || die "app$i printed '$out'"
  "${PMS[@]}" load -q -i "$WORK/deltas/app$i-full.tar" >/dev/null
  "${PMD[@]}" load -q -i "$WORK/deltas/app$i-delta.tar" >/dev/null
  rm -f "$WORK/deltas/app$i-full.tar"
  if [ "$i" = 1 ]; then
    PILOT_1=$(du_b "$SR/var/lib/pilot")
    PMS_1=$(du_b "$PMS_DIR/root")
    PMD_1=$(du_b "$PMD_DIR/root")
  fi
done
out=$("${PMS[@]}" run --rm "${RUN_OPTS[@]}" localhost/pilot-bench/app1-full)
[ "$out" = "app1 on Debian GNU/Linux 12 (bookworm)" ] || die "podman run app1-full printed '$out'"
PILOT_N=$(du_b "$SR/var/lib/pilot")
PMS_N=$(du_b "$PMS_DIR/root")
PMD_N=$(du_b "$PMD_DIR/root")
BASE_B=$DEB_B
DELTA_ONE=$((DELTA_SUM / NAPPS))
say "base layer $BASE_B B, $NAPPS deltas $DELTA_SUM B; pilot store $PILOT_N B; podman $PMS_N B (full images), $PMD_N B (base + deltas)"

# ---------------------------------------------------------------- registry pull
log "pull of an app whose base is present: pilot pull, podman pull, skopeo copy (bench/registry-pull.sh)"
PULL_MD=$WORK/pull.md
BENCH_EXAMPLES=$EX "$HERE/registry-pull.sh" --markdown "$PULL_MD" | sed 's/^/    /'

# ---------------------------------------------------------------- report
T_TOTAL=$((SECONDS - T_START))
MS='def ms: . * 1000 | if . < 10 then (. * 100 | round / 100) elif . < 100 then (. * 10 | round / 10) else round end;'
mean_of() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean' "$JSON"; }
median_of() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' "$JSON"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
msf() { awk -v a="$1" 'BEGIN { b = a < 0 ? -a : a; printf (b < 0.01 ? "%.2f ms" : (b < 0.1 ? "%.1f ms" : "%.0f ms")), a * 1000 }'; }
holds() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "**yes**" : "**no**" }'; }
# holds2 MEAN_VALUE MEDIAN_VALUE LIMIT: yes/no when both agree, else which one holds
holds2() {
  awk -v a="$1" -v m="$2" -v t="$3" 'BEGIN {
    if (a <= t && m <= t) print "**yes**"; else if (a > t && m > t) print "**no**";
    else printf "%s by the mean, %s by the median\n", (a <= t ? "yes" : "no"), (m <= t ? "yes" : "no") }'
}

PODMAN=$(mean_of "podman run --rm")
FLAKE=$(mean_of "flake-pilot flow")
NODE=$(mean_of "node -e 0")
WARM=$(mean_of "pilot warm")
WARM_NB=$(mean_of "pilot warm, nobody")
WARM_NODE=$(mean_of "pilot warm, Node launcher")
FIRST_S=$(mean_of "pilot first, busybox base")
FIRST_L=$(mean_of "pilot first, Debian base")
EXPECT=$((BASE_B + DELTA_SUM))
SLACK=$((EXPECT / 20 + 1048576)) # 5 % + 1 MiB of metadata

TABLE=$(jq -r --arg whats "$(for c in "${CMDS[@]}"; do printf '%s\t%s\n' "$(field "$c" 0)" "$(field "$c" 3)"; done)" \
  --argjson podman "$PODMAN" --argjson flake "$FLAKE" "$MS"'
  ($whats | split("\n") | map(select(length > 0) | split("\t") | {key: .[0], value: .[1]}) | from_entries) as $w |
  "| command | what | mean ± σ (ms) | median (ms) | min … max (ms) | × podman run | × flake-pilot flow |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  (.results[] | "| \(.command) | \($w[.command]) | \(.mean | ms) ± \(.stddev | ms) | \(.median | ms) | \(.min | ms) … \(.max | ms) | \(.mean / $podman * 1000 | round / 1000) | \(.mean / $flake * 1000 | round / 1000) |")
' "$JSON")

m_of() { median_of "$1"; }
PODMAN_M=$(m_of "podman run --rm") FLAKE_M=$(m_of "flake-pilot flow") NODE_M=$(m_of "node -e 0")
WARM_M=$(m_of "pilot warm") WARM_NB_M=$(m_of "pilot warm, nobody") WARM_NODE_M=$(m_of "pilot warm, Node launcher")
FIRST_S_M=$(m_of "pilot first, busybox base") FIRST_L_M=$(m_of "pilot first, Debian base")
NODE_MIN=$(jq -r '.results[] | select(.command == "node -e 0") | .min' "$JSON")
WARM_NODE_MIN=$(jq -r '.results[] | select(.command == "pilot warm, Node launcher") | .min' "$JSON")
minus() { awk -v a="$1" -v b="$2" 'BEGIN { print a - b }'; }
# row TARGET MEAN_A MEAN_B MEDIAN_A MEDIAN_B LIMIT ratio|diff: one target, by means [and medians]
row() {
  local what=$1 a=$2 b=$3 am=$4 bm=$5 limit=$6 kind=$7 v vm shown
  if [ "$kind" = ratio ]; then
    v=$(ratio "$a" "$b") vm=$(ratio "$am" "$bm")
    shown="$(msf "$a") / $(msf "$b") = $v [$vm]"
  else
    v=$(minus "$a" "$b") vm=$(minus "$am" "$bm")
    shown="$(msf "$a") − $(msf "$b") = $(msf "$v") [$(msf "$vm")]"
  fi
  echo "| $what | $shown | $(holds2 "$v" "$vm" "$limit") |"
}
TARGETS=$(
  echo "| issue | target | measured: means [medians] | holds |"
  echo "| --- | --- | --- | --- |"
  row "7 | pilot warm ≤ 0.6 × podman run" "$WARM" "$PODMAN" "$WARM_M" "$PODMAN_M" 0.6 ratio
  row "7 | pilot warm ≤ 0.25 × flake-pilot flow" "$WARM" "$FLAKE" "$WARM_M" "$FLAKE_M" 0.25 ratio
  row "7 | pilot's own work ≤ 30 ms over node -e 0: warm launch through the Node launcher (fastest runs: $(msf "$WARM_NODE_MIN") − $(msf "$NODE_MIN") = $(msf "$(minus "$WARM_NODE_MIN" "$NODE_MIN")"))" \
    "$WARM_NODE" "$NODE" "$WARM_NODE_M" "$NODE_M" 0.030 diff
  row "7 | … the same for the warm launch on the fast path (no Node)" "$WARM" "$NODE" "$WARM_M" "$NODE_M" 0.030 diff
  row "7 | first launch, Debian base ($(mib "$DEB_B")) ≤ 1.2 × busybox base ($(mib "$BB_B"))" "$FIRST_L" "$FIRST_S" "$FIRST_L_M" "$FIRST_S_M" 1.2 ratio
  echo "| 7 | $NAPPS apps on one base cost one base + the deltas | pilot store $(mib "$PILOT_N"); base $(mib "$BASE_B") + deltas $(mib "$DELTA_SUM") = $(mib "$EXPECT") (allowed: + 5 % + 1 MiB of metadata) | $(holds "$PILOT_N" $((EXPECT + SLACK))) |"
  echo "| 9 | pilot warm ≤ 15 ms mean, root | $(msf "$WARM") [$(msf "$WARM_M")] | $(holds "$WARM" 0.015) |"
  echo "| 9 | pilot warm ≤ 15 ms mean, nobody | $(msf "$WARM_NB") [$(msf "$WARM_NB_M")] | $(holds "$WARM_NB" 0.015) |"
  row "9 | pilot warm ≤ 0.05 × podman run, root" "$WARM" "$PODMAN" "$WARM_M" "$PODMAN_M" 0.05 ratio
  row "9 | pilot warm ≤ 0.05 × podman run, nobody" "$WARM_NB" "$PODMAN" "$WARM_NB_M" "$PODMAN_M" 0.05 ratio
  row "13 | restricted warm launch (--user, --read-only, --network none, --cap-drop=ALL) ≤ 3 ms over the plain one, root" "$(mean_of "pilot warm, restricted")" "$WARM" "$(m_of "pilot warm, restricted")" "$WARM_M" 0.003 diff
  row "13 | … the same, nobody" "$(mean_of "pilot warm, restricted, nobody")" "$WARM_NB" "$(m_of "pilot warm, restricted, nobody")" "$WARM_NB_M" 0.003 diff
)

STORE=$(
  echo "| store | after 1 app | after $NAPPS apps | per extra app |"
  echo "| --- | ---: | ---: | ---: |"
  echo "| reference: base layer + deltas (du -sb of the layer dirs) | $(mib $((BASE_B + DELTA_ONE))) | $(mib "$EXPECT") | $(mib "$DELTA_ONE") |"
  echo "| pilot store (\`du -sb \$PILOT_ROOT/var/lib/pilot\`, apps registered and run once) | $(mib "$PILOT_1") | $(mib "$PILOT_N") | $(mib $(((PILOT_N - PILOT_1) / (NAPPS > 1 ? NAPPS - 1 : 1)))) |"
  echo "| podman storage, one image per app (base + delta), \`podman load\` | $(mib "$PMS_1") | $(mib "$PMS_N") | $(mib $(((PMS_N - PMS_1) / (NAPPS > 1 ? NAPPS - 1 : 1)))) |"
  echo "| podman storage, base + delta images (what flake-pilot keeps) | $(mib "$PMD_1") | $(mib "$PMD_N") | $(mib $(((PMD_N - PMD_1) / (NAPPS > 1 ? NAPPS - 1 : 1)))) |"
)

{
  echo "# pilot benchmark"
  echo
  echo "Written by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'); took ${T_TOTAL}s."
  echo
  echo "| machine | |"
  echo "| --- | --- |"
  echo "| CPUs (nproc) | $NPROC × $CPU |"
  echo "| memory | $MEM |"
  echo "| kernel (uname -r) | $(uname -r) |"
  echo "| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |"
  echo "| load average (1/5/15 min) | start $LOAD_START, end of timing $LOAD_END |"
  echo "| tools | node $(node --version), $(podman --version), runc $(runc --version | sed -n 's/^runc version //p'), $(hyperfine --version), $(rsync --version | awk 'NR == 1 { print $1, $3 }') |"
  echo
  echo "## Launch time"
  echo
  echo "One \`hyperfine -N --warmup 5 --runs $RUNS\` run of all rows, from a temporary PILOT_ROOT. Every row runs the"
  echo "same program, examples/apps/hello (prints one line), except the jq-app rows (\`jq-app -n 1\`)."
  echo "Hyperfine runs: $(printf '%s; ' "${ATTEMPT_NOTES[@]}")kept run $BEST."
  echo
  echo "$TABLE"
  echo
  echo "## Targets"
  echo
  echo "$TARGETS"
  echo
  echo "## Store size: $NAPPS apps on the Debian python base"
  echo
  echo "Each app is a delta with a script and 256 KiB of its own data on \`debian-python-base\`."
  echo
  echo "$STORE"
  echo
  cat "$PULL_MD"
  echo
  echo "## How each row is measured"
  echo
  echo "- **native**: examples/apps/hello copied to the host and run directly (host /bin/sh is dash; in the images it is busybox or dash)."
  echo "- **pilot warm**: the app link \`\$PILOT_ROOT/usr/bin/hello\` -> dist/pilot-exec: the stub checks the cached plan's stamps and runs it (private mount namespace, tmpfs upper, one overlay mount, binds, chroot, execve) without Node. The nobody row runs it through \`setpriv --reuid 65534 --regid 65534 --clear-groups\` with the PILOT_ROOT dir mode 755; the Node launcher row through \`env PILOT_FASTPATH=off\`."
  echo "- **pilot first**: hyperfine's --prepare re-registers the app with \`pilot register --force\` (which drops its plans) and deletes \`\$PILOT_ROOT/var/lib/pilot/host/*\`, so each timed call resolves the flake, builds the host layer, writes the plan and runs. The busybox and Debian rows run the same delta (hello-delta) on the two bases."
  echo "- **podman run --rm**: \`podman run --rm --network host\` of localhost/pilot-bench/hello-full, an image built with examples/lib/oci.sh from the busybox-base and hello-delta layers and loaded with \`podman load\` into a fresh storage (--root/--runroot/--tmpdir under the temp dir, runtime runc, overlay driver). The --ulimit options are needed on this machine (runc cannot raise rlimits here)."
  echo "- **flake-pilot flow**: bench/flake-pilot-flow.sh, a script of OSInside/flake-pilot podman-pilot's one-shot launch of a delta flake: podman create from the base with --entrypoint, podman mount, base /removed, podman image mount of the delta, rsync -av of it into the instance, rsync of the /removed host files, podman umount, podman ps, podman container exists, podman start --attach, podman rm --force, plus the cid-file check of the previous call. Upstream runs each step through sudo; sudo is $(command -v sudo >/dev/null 2>&1 && echo "installed here and used" || echo "not installed here, so the script runs them directly (upstream would be slower)")."
  echo "- **Store size**: \`du -sb\` (apparent bytes) of pilot's store and of fresh podman storages after \`podman load\`; the reference is \`du -sb\` of build/examples/layers/debian-python-base plus the delta dirs."
  echo
  echo "Raw hyperfine JSON: bench/out/hyperfine.json (not committed)."
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"

log "results (also in bench/results.md)"
echo
echo "$TABLE"
echo
echo "$TARGETS"
echo
echo "$STORE"
echo
say "machine: $NPROC CPUs, kernel $(uname -r), load $LOAD_START -> $LOAD_END; ${T_TOTAL}s"
