#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs (as root, after `make build`).
#
# Times, side by side, the same small program (examples/apps/hello: prints one line)
# started every way pilot, the host and podman start it: native (root and nobody),
# node -e 0, pilot's warm call through the exec stub (root, nobody, restricted, with 10 /
# 1,000 / 5,000 host files, with a host package), the Node launcher (PILOT_FASTPATH=off,
# and an `@@x` argument, which the stub hands to it), the first call after `pilot register`
# and a reboot (root, nobody, busybox and Debian base, jq-app's host layer) and after a host package
# upgrade through dpkg, podman run --rm and flake-pilot's podman flow
# (bench/flake-pilot-flow.sh); and the load of the Debian base: pilot load, podman load
# and the physical limit (bench/physical-load.sh).
#
# Rows run in rounds, so that comparisons hold still on a busy machine: each round is one
# hyperfine call per group (warm: --warmup 3 --runs BENCH_RUNS; cold, whose rows prepare
# each run: --runs BENCH_COLD_RUNS; load: one run, in the first BENCH_LOAD_ROUNDS rounds),
# and a target compares two rows' medians of the same round (bench/targets.ts).
# Then it compares store sizes (BENCH_APPS apps on the Debian base in pilot's store and in
# podman's storage, bench/store-size.sh), pulls (bench/registry-pull.sh) and the warm call
# against native in paired runs with the floor of isolation and system call counts
# (bench/warm-call.sh). bench/report.ts writes bench/results.md and bench/results.svg; raw
# hyperfine JSON goes to bench/out/ (ignored).
#
# Environment: BENCH_ROUNDS (default 6), BENCH_RUNS (5), BENCH_COLD_RUNS (2),
# BENCH_LOAD_ROUNDS (4), BENCH_APPS (5), BENCH_PAIRS (200: warm-call.sh's pairs per line),
# BENCH_BUDGET (seconds after which no further round starts, default 200; at least 3
# rounds run), BENCH_UPGRADE_HOOK (what pilot's
# package-manager hook runs after dpkg; default: `pilot replan --all` when pilot has that
# command, else none), BENCH_EXAMPLES (image dir, default build/examples; built with
# examples/build.sh when an image is missing).
set -euo pipefail
set -o errtrace
trap 'echo "bench/run.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ROUNDS=${BENCH_ROUNDS:-6}
RUNS=${BENCH_RUNS:-5}
COLD_RUNS=${BENCH_COLD_RUNS:-2}
LOAD_ROUNDS=${BENCH_LOAD_ROUNDS:-4}
NAPPS=${BENCH_APPS:-5}
BUDGET=${BENCH_BUDGET:-200}
EX=${BENCH_EXAMPLES:-$REPO/build/examples}
OUTDIR=$REPO/bench/out
RESULTS=$REPO/bench/results.md
T_START=$SECONDS

log() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "needs $1 (.ci/setup installs it)"; }

[ "$(id -u)" = 0 ] || die "run as root (pilot's first launch, podman and the flake-pilot flow need it)"
for t in hyperfine podman runc rsync jq setpriv node tar gzip sha256sum flock docker-registry skopeo dpkg dpkg-deb; do need "$t"; done
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

# ---------------------------------------------------------------- host root
# A host root of the bench's own (PILOT_HOST_ROOT) with a dpkg database: the host files
# of the files-N apps (N files listed in their delta's /removed, 100 to a directory, root's
# and plain, so the host layer hard-links them) and the host package of pkg-app, which the
# "after package upgrade" row upgrades through dpkg. The machine's own / is never touched.
HR=$WORK/hostroot
HOST_ENV=(env "PILOT_HOST_ROOT=$HR" PILOT_HOST_PACKAGES=dpkg)
log "host root $HR: host files for files-10/1000/5000, host package bench-hostlib for pkg-app"
mkdir -p "$HR/var/lib/dpkg/info" "$HR/var/lib/dpkg/updates" "$WORK/debs"
touch "$HR/var/lib/dpkg/status" "$HR/var/lib/dpkg/available"
for v in 1 2; do
  p=$WORK/debs/pkg$v
  mkdir -p "$p/DEBIAN" "$p/usr/share/bench-hostlib"
  printf 'Package: bench-hostlib\nVersion: %s\nArchitecture: all\nMaintainer: pilot bench <bench@localhost>\nDescription: host package of the pilot bench\n' "$v" >"$p/DEBIAN/control"
  printf 'bench-hostlib %s\n' "$v" >"$p/usr/share/bench-hostlib/data"
  dpkg-deb -b --root-owner-group "$p" "$WORK/debs/bench-hostlib_$v.deb" >/dev/null
done
dpkg --root="$HR" -i "$WORK/debs/bench-hostlib_1.deb" >/dev/null
UPGRADE_HOOK=${BENCH_UPGRADE_HOOK-}
# (commander prints the general help, exit 0, for `--help` of a command it does not know)
if [ -z "${BENCH_UPGRADE_HOOK+set}" ] && pilot replan --help 2>/dev/null | grep -q '^Usage: pilot replan'; then
  # as the machine's hook would, it sees the host the apps see: here the bench's host root
  UPGRADE_HOOK="${HOST_ENV[*]} node $PILOT_CLI replan --all"
fi
export BENCH_UPGRADE_HOOK=$UPGRADE_HOOK
say "package hook after dpkg: ${UPGRADE_HOOK:-none (pilot has no replan command)}"
"${HOST_ENV[@]}" node "$PILOT_CLI" register --container pilot/hello-delta --base pilot/busybox-base --app /usr/bin/pkg-app \
  --target /usr/bin/hello --host-package bench-hostlib | sed 's/^/    /'
for n in 10 1000 5000; do
  d=$WORK/files-$n
  cp -a "$EX/layers/hello-delta" "$d"
  for ((i = 0; i < n; i++)); do
    f=usr/share/bench-files-$n/d$((i / 100))/f$i
    if ((i % 100 == 0)); then mkdir -p "$HR/${f%/*}"; fi
    echo "/$f"
  done >"$d/removed"
  sed 's|^/||' "$d/removed" | (cd "$HR" && xargs touch)
  oci_archive "$WORK/files-$n.tar" "localhost/pilot-bench/files-$n:latest" \
    "$(jq -cn --arg p "$PATH_ENV" '{Env: [$p], Cmd: ["/usr/bin/hello"]}')" "$d" >/dev/null
  pilot load "$WORK/files-$n.tar" | sed 's/^/    /'
  pilot register --container "pilot-bench/files-$n" --base pilot/busybox-base --app "/usr/bin/files-$n" --target /usr/bin/hello | sed 's/^/    /'
done

# ---------------------------------------------------------------- load rows
# The Debian base's layer blobs, out of the archive (untimed), for the physical limit.
LW=$WORK/load
mkdir -p "$LW/layout" "$LW/podman"
tar -C "$LW/layout" -xf "$EX/debian-python-base.tar"
mf=$(jq -r '.manifests[0].digest' "$LW/layout/index.json")
mapfile -t LOAD_BLOBS < <(jq -r '.layers[].digest | sub("^sha256:"; "")' "$LW/layout/blobs/sha256/${mf#sha256:}" | sed "s|^|$LW/layout/blobs/sha256/|")
PML=(podman --root "$LW/podman/root" --runroot "$LW/podman/run" --tmpdir "$LW/podman/tmp" --runtime runc)
PODMAN_ROOTS+=("$LW/podman")
PILOT_ROOTS+=("$LW/pilot-root")

# ---------------------------------------------------------------- commands
du_b() { du -sb "$@" | awk '{ s += $1 } END { print s + 0 }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f MiB", a / 1048576 }'; }
BB_B=$(du_b "$EX/layers/busybox-base")
DEB_B=$(du_b "$EX/layers/debian-python-base")
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
# An unprivileged caller keeps its plans in its own run dir ($XDG_RUNTIME_DIR/pilot, else
# ~/.cache/pilot/run): every row runs with a HOME that nobody owns (root's rows bind it
# as they would bind /root), and without root's XDG_RUNTIME_DIR.
mkdir -m 755 "$WORK/home"
chown 65534:65534 "$WORK/home"
export HOME=$WORK/home
unset XDG_RUNTIME_DIR
FIRST="bash $HERE/first-launch-prepare.sh"
# name | group | chart kind | prepare | command | what it is
CMDS=(
  "native|warm|reference|true|$WORK/native/hello|the app's sh script run directly on the host"
  "native, nobody|warm|reference|true|${NOBODY[*]} $WORK/native/hello|the same as uid 65534 (setpriv adds one exec)"
  "node -e 0|warm|reference|true|node -e 0|Node's own start-up"
  "pilot warm|warm|fast|true|$APPS/hello|hello through its app link (exec stub runs the cached plan, no Node), root"
  "pilot warm, nobody|warm|fast|true|${NOBODY[*]} $APPS/hello|the same as uid 65534 (setpriv adds one exec)"
  "pilot warm, restricted|warm|fast|true|$APPS/hello-locked|hello with --user 65534:65534 --read-only --network none --cap-drop=ALL, root"
  "pilot warm, restricted, nobody|warm|fast|true|${NOBODY[*]} $APPS/hello-locked|the same as uid 65534 (its own uid, so --user is allowed)"
  "pilot warm, 10 host files|warm|fast|true|${HOST_ENV[*]} $APPS/files-10|hello with 10 host files from /removed (env adds one exec)"
  "pilot warm, 1000 host files|warm|fast|true|${HOST_ENV[*]} $APPS/files-1000|the same with 1,000 host files"
  "pilot warm, 5000 host files|warm|fast|true|${HOST_ENV[*]} $APPS/files-5000|the same with 5,000 host files"
  "pilot warm, host package|warm|fast|true|${HOST_ENV[*]} $APPS/pkg-app|hello with the files of a dpkg host package (env adds one exec)"
  "native jq|warm|reference|true|jq -n 1|the host's jq, directly (what jq-app runs)"
  "pilot warm jq-app|warm|fast|true|$APPS/jq-app -n 1|jq-app: host jq + libs from /removed"
  "pilot warm, Node launcher|warm|node|true|env PILOT_FASTPATH=off $APPS/hello|hello, warm, through the Node launcher (env adds one exec)"
  "pilot Node launcher, @@x argument|warm|node|true|$APPS/hello @@x|hello @@x: the stub leaves @@ arguments (and %options, @NAME of kept instances) to the Node launcher, which passes @x"
  "pilot first, busybox base|cold|first|$FIRST hello pilot/hello-delta pilot/busybox-base /usr/bin/hello|$APPS/hello|first call after register, busybox base ($(mib "$BB_B")), root"
  "pilot first, busybox base, nobody|cold|first|$FIRST hello pilot/hello-delta pilot/busybox-base /usr/bin/hello|${NOBODY[*]} $APPS/hello|the same, first call by uid 65534"
  "pilot first, Debian base|cold|first|$FIRST hello-deb pilot/hello-delta pilot/debian-python-base /usr/bin/hello|$APPS/hello-deb|the same delta on debian-python-base ($(mib "$DEB_B"))"
  "pilot first jq-app|cold|first|$FIRST jq-app pilot/jq-delta pilot/busybox-base /usr/bin/jq-app|$APPS/jq-app -n 1|first call after register, host layer built"
  "pilot first after package upgrade|cold|first|bash $HERE/package-upgrade-prepare.sh $HR $WORK/debs bench-hostlib|${HOST_ENV[*]} $APPS/pkg-app|pkg-app after dpkg -i of the next version of its host package"
  "podman run --rm|cold|reference|true|${PM[*]} run --rm ${RUN_OPTS[*]} localhost/pilot-bench/hello-full|one image = base + delta"
  "flake-pilot flow|cold|reference|true|$FLOW localhost/pilot/busybox-base localhost/pilot/hello-delta /usr/bin/hello|create, mount, rsync delta, start -a, rm"
  "flake-pilot flow jq-app|cold|reference|true|$FLOW localhost/pilot/busybox-base localhost/pilot/jq-delta /usr/bin/jq-app -n 1|the same plus rsync of the /removed host files"
  "load limit|load|reference|bash $HERE/load-prepare.sh dir $LW/limit|bash $HERE/physical-load.sh $LW/limit ${LOAD_BLOBS[*]}|the same archive's layer blobs: gzip -dc piped to tar -x, then sync -f, in the same file system"
  "pilot load|load|load|bash $HERE/load-prepare.sh dir $LW/pilot-root|env PILOT_ROOT=$LW/pilot-root node $PILOT_CLI load $EX/debian-python-base.tar|pilot load of the archive into an empty store"
  "podman load|load|reference|bash $HERE/load-prepare.sh podman ${PML[*]}|${PML[*]} load -q -i $EX/debian-python-base.tar|podman load of the archive into an empty storage"
)
field() { local IFS='|'; read -r -a parts <<<"$1"; printf '%s' "${parts[$2]}"; }

log "smoke test: every launch once, output checked"
cd "$WORK"
for c in "${CMDS[@]}"; do
  name=$(field "$c" 0) group=$(field "$c" 1) prep=$(field "$c" 3) cmd=$(field "$c" 4)
  [ "$group" != load ] || continue # the load rows are checked by their exit codes
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
# ... and so must the first call after register and a reboot, and after a package upgrade
for pre in "" "${NOBODY[*]}"; do
  $FIRST hello pilot/hello-delta pilot/busybox-base /usr/bin/hello
  # shellcheck disable=SC2086
  trace=$(PILOT_FASTPATH_TRACE=1 $pre "$APPS/hello" 2>&1 >/dev/null) || die "first call of hello failed: $trace"
  case $trace in *"fast path taken"*) say "ok  fast path taken by the first call after register${pre:+ as nobody}" ;; *) die "the first call after register ${pre:+as nobody }did not take the fast path: $trace" ;; esac
done
bash "$HERE/package-upgrade-prepare.sh" "$HR" "$WORK/debs" bench-hostlib
trace=$(PILOT_FASTPATH_TRACE=1 "${HOST_ENV[@]}" "$APPS/pkg-app" 2>&1 >/dev/null) || die "pkg-app failed after the upgrade: $trace"
case $trace in *"fast path taken"*) say "ok  fast path taken by pkg-app after a package upgrade" ;; *) die "pkg-app did not take the fast path after a package upgrade: $trace" ;; esac
for app in files-10 files-5000 pkg-app; do
  "${HOST_ENV[@]}" "$APPS/$app" >/dev/null
  trace=$(PILOT_FASTPATH_TRACE=1 "${HOST_ENV[@]}" "$APPS/$app" 2>&1 >/dev/null) || die "$app failed: $trace"
  case $trace in *"fast path taken"*) say "ok  fast path taken by $app" ;; *) die "$app did not take the fast path: $trace" ;; esac
done

# ---------------------------------------------------------------- hyperfine, in rounds
mkdir -p "$OUTDIR" "$WORK/rounds"
rm -f "$OUTDIR"/round-*.json
ROUND_FILES=()
hyperfine_group() { # GROUP ROUND
  local group=$1 round=$2 c l0 l1 out=$WORK/rounds/round-$2-$1.json
  local -a args=(-N --export-json "$out" --style basic)
  case $group in
  warm) args+=(--warmup 3 --runs "$RUNS") ;;
  cold) args+=(--runs "$COLD_RUNS") ;;
  load) args+=(--runs 1) ;;
  esac
  for c in "${CMDS[@]}"; do
    [ "$(field "$c" 1)" = "$group" ] || continue
    args+=(--prepare "$(field "$c" 3)" -n "$(field "$c" 0)" "$(field "$c" 4)")
  done
  l0=$(load_avg)
  hyperfine "${args[@]}" | grep -E '^(Benchmark|  Time)' | sed 's/^/    /'
  l1=$(load_avg)
  cp "$out" "$OUTDIR/"
  ROUND_FILES+=("$(jq -cn --argjson r "$round" --arg g "$group" --arg f "$OUTDIR/${out##*/}" --arg a "$l0" --arg b "$l1" \
    '{round: $r, group: $g, file: $f, loadBefore: $a, loadAfter: $b}')")
}
DONE_ROUNDS=0
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r > 3 && SECONDS - T_START > BUDGET)); then
    say "time budget (${BUDGET}s) spent after $DONE_ROUNDS rounds: no further round"
    break
  fi
  log "round $r of $ROUNDS (load $(load_avg))"
  hyperfine_group warm "$r"
  hyperfine_group cold "$r"
  if ((r <= LOAD_ROUNDS)); then hyperfine_group load "$r"; fi
  DONE_ROUNDS=$r
done
LOAD_END=$(load_avg)

# ---------------------------------------------------------------- store size
log "store size: $NAPPS apps on the Debian python base"
# shellcheck source=store-size.sh
. "$HERE/store-size.sh"

# ---------------------------------------------------------------- registry pull
log "pull of an app whose base is present: pilot pull, podman pull, skopeo copy (bench/registry-pull.sh)"
PULL_MD=$WORK/pull.md
BENCH_EXAMPLES=$EX "$HERE/registry-pull.sh" --markdown "$PULL_MD" | sed 's/^/    /'

# ---------------------------------------------------------------- warm call, paired
log "warm call against native in paired runs, the floor of isolation, system calls (bench/warm-call.sh)"
WARM_MD=$WORK/warm.md
BENCH_EXAMPLES=$EX "$HERE/warm-call.sh" --runs "${BENCH_PAIRS:-200}" --markdown "$WARM_MD" | sed 's/^/    /'

# ---------------------------------------------------------------- report
T_TOTAL=$((SECONDS - T_START))

HOW_MD=$WORK/how.md
{
  echo "## How each row is measured"
  echo
  echo "- **native**: examples/apps/hello copied to the host and run directly (host /bin/sh is dash; in the images it is busybox or dash). The nobody rows run through \`setpriv --reuid 65534 --regid 65534 --clear-groups\`, the native one too, so that a target compares like with like."
  echo "- **pilot warm**: the app link \`\$PILOT_ROOT/usr/bin/hello\` -> dist/pilot-exec: the stub checks the cached plan's stamps and runs it (private mount namespace, tmpfs upper, one overlay mount, binds, chroot, execve) without Node; the smoke test checks with PILOT_FASTPATH_TRACE that these rows take the fast path. The host-file and host-package rows run with \`PILOT_HOST_ROOT\` set to the bench's own host root (a dpkg database and the files, never the machine's /)."
  echo "- **Node launcher**: \`env PILOT_FASTPATH=off\` makes the stub step aside; an \`@@x\` argument does the same without the variable (the stub leaves the arguments the launcher takes or rewrites, \`@@…\`, \`%%…\` and flake-pilot's %options, to the Node launcher, docs/plan.md), which passes \`@x\` on."
  echo "- **pilot first**: hyperfine's --prepare (bench/first-launch-prepare.sh) deletes \`\$PILOT_ROOT/var/lib/pilot/host/*\`, the store's run dir and the unprivileged caller's (a reboot), then re-registers the app with \`pilot register --force\`, which drops its plans and prepares it again (host layer, the store's plan for every caller), so each timed call is the first after register and a reboot. The busybox and Debian rows run the same delta (hello-delta) on the two bases."
  echo "- **after package upgrade**: --prepare (bench/package-upgrade-prepare.sh) installs the other version of the host package bench-hostlib with \`dpkg --root HOST_ROOT -i\` (its file and the database change, as in an upgrade), then runs pilot's package hook: ${UPGRADE_HOOK:-none here, as pilot has no replan command yet}."
  echo "- **podman run --rm**: \`podman run --rm --network host\` of localhost/pilot-bench/hello-full, an image built with examples/lib/oci.sh from the busybox-base and hello-delta layers and loaded with \`podman load\` into a fresh storage (--root/--runroot/--tmpdir under the temp dir, runtime runc, overlay driver). The --ulimit options are needed on this machine (runc cannot raise rlimits here)."
  echo "- **flake-pilot flow**: bench/flake-pilot-flow.sh, a script of OSInside/flake-pilot podman-pilot's one-shot launch of a delta flake: podman create from the base with --entrypoint, podman mount, base /removed, podman image mount of the delta, rsync -av of it into the instance, rsync of the /removed host files, podman umount, podman ps, podman container exists, podman start --attach, podman rm --force, plus the cid-file check of the previous call. Upstream runs each step through sudo; sudo is $(command -v sudo >/dev/null 2>&1 && echo "installed here and used" || echo "not installed here, so the script runs them directly (upstream would be slower)")."
  echo "- **load**: build/examples/debian-python-base.tar ($(mib "$DEB_B") unpacked) into an empty target under the bench's temp dir, all on one file system, the archive in the page cache: \`pilot load\` into an empty store, \`podman load\` into an empty storage (after \`podman rmi --all\`), and the physical limit, bench/physical-load.sh: the layer blobs through \`gzip -dc | tar -x\`, then \`sync -f\`."
  echo "- **Store size**: \`du -sb\` (apparent bytes) of pilot's store and of fresh podman storages after \`podman load\`; the reference is \`du -sb\` of build/examples/layers/debian-python-base plus the delta dirs."
  echo
  echo "Raw hyperfine JSON, one file per round and group: bench/out/round-*.json (not committed)."
} >"$HOW_MD"

# Kept in bench/out with the round files it names: bench/report.ts can draw the same run again.
INPUT=$OUTDIR/report-input.json
ROWS_JSON=$(for c in "${CMDS[@]}"; do
  jq -cn --arg n "$(field "$c" 0)" --arg g "$(field "$c" 1)" --arg k "$(field "$c" 2)" --arg w "$(field "$c" 5)" \
    '{name: $n, group: $g, kind: $k, what: $w}'
done | jq -cs .)
TOOLS="node $(node --version), $(podman --version), runc $(runc --version | sed -n 's/^runc version //p'), $(hyperfine --version), $(rsync --version | awk 'NR == 1 { print $1, $3 }'), $(dpkg --version | awk 'NR == 1 { print $1, $7 }')"
METHOD="$DONE_ROUNDS rounds, each one hyperfine -N call per group: warm rows --warmup 3 --runs $RUNS, cold rows (each run prepared by --prepare) --runs $COLD_RUNS, load rows one run in each of the first $LOAD_ROUNDS rounds; from a temporary PILOT_ROOT. Every launch row runs the same program, examples/apps/hello (prints one line), except the jq rows (\`jq -n 1\`). Paired by round, the comparisons cancel a machine that slows down for a while; on a shared machine they are still indicative: read them with the load averages below."
jq -n --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" --argjson seconds "$T_TOTAL" --arg method "$METHOD" \
  --argjson rows "$ROWS_JSON" --argjson rounds "$(printf '%s\n' "${ROUND_FILES[@]}" | jq -cs .)" \
  --arg cpus "$NPROC × $CPU" --arg mem "$MEM" --arg kernel "$(uname -r)" --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
  --arg load "start $LOAD_START, end of timing $LOAD_END" --arg tools "$TOOLS" \
  --arg store_fig "pilot store $(mib "$PILOT_N"); base $(mib "$BASE_B") + deltas $(mib "$DELTA_SUM") = $(mib "$EXPECT") (allowed: + 5 % + 1 MiB of metadata)" \
  --argjson store_ok "$( ((PILOT_N <= EXPECT + SLACK)) && echo true || echo false)" --arg napps "$NAPPS" \
  --rawfile store "$STORE_MD" --rawfile pull "$PULL_MD" --rawfile warm "$WARM_MD" --rawfile how "$HOW_MD" '{
    date: $date, seconds: $seconds, method: $method, rows: $rows, rounds: $rounds, svgName: "results.svg",
    machine: [["CPUs (nproc)", $cpus], ["memory", $mem], ["kernel (uname -r)", $kernel], ["OS", $os],
              ["load average (1/5/15 min)", $load], ["tools", $tools]],
    extraTargets: [{issue: "7", text: "\($napps) apps on one base cost one base + the deltas", rows: "store size (below)",
                    figure: $store_fig, holds: $store_ok}],
    sections: [$warm, $store, $pull, $how]
  }' >"$INPUT"
node_modules_bin=$REPO/node_modules/.bin
"$node_modules_bin/esbuild" "$HERE/report.ts" --bundle --platform=node --format=esm --log-level=warning --outfile="$WORK/report.mjs"
log "targets (bench/results.md, bench/results.svg)"
node "$WORK/report.mjs" "$INPUT" "$RESULTS" "$REPO/bench/results.svg" | sed 's/^/    /'
say "machine: $NPROC CPUs, kernel $(uname -r), load $LOAD_START -> $LOAD_END; ${T_TOTAL}s"
