#!/usr/bin/env bash
# bench/warm-call.sh: the warm call (the exec stub, no Node) against the same script run
# natively, as root and as an unprivileged caller, and the warm call of apps with 10,
# 1,000 and 5,000 host files (from /removed, hard-linked into the host layer) against
# each other (issue 17). Every figure is the median of paired runs (bench/paired.mjs:
# A B A B ..., the difference taken pair by pair) with its spread and the load average.
#
#   bench/warm-call.sh [--runs N] [--markdown FILE]     (as root, after make build)
#
# Rows (the issue 17 targets they are read against):
#   warm − native, root       ≤ 1 ms
#   warm − native, nobody     ≤ 3 ms (both sides run under setpriv, which cancels)
#   5,000 − 10 host files     ≤ 2 ms (root and nobody)
#   1,000 − 10 host files     (the shape of the curve)
#   floor rows                unshare -m (one more exec, of a dynamic binary, and a mount
#                             namespace); the helper with no binds (its tmpfs,
#                             a fresh upper, one overlay, chroot): what isolation costs;
#                             the helper with hello's whole command line, binds included,
#                             without the stub (warm minus this is the stub's own work)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
EX=${BENCH_EXAMPLES:-$REPO/build/examples}
RUNS=200
MARKDOWN=
while [ $# -gt 0 ]; do
  case $1 in
  --runs) RUNS=$2; shift 2 ;;
  --markdown) MARKDOWN=$2; shift 2 ;;
  *) echo "usage: bench/warm-call.sh [--runs N] [--markdown FILE]" >&2; exit 2 ;;
  esac
done
die() { printf 'bench/warm-call.sh: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
for f in pilot.mjs pilot-launch.mjs pilot-exec; do [ -x "$REPO/dist/$f" ] || die "dist/$f is missing: run make build"; done
for i in busybox-base hello-delta; do [ -s "$EX/$i.tar" ] || die "$EX/$i.tar is missing: run examples/build.sh"; done

# /var/tmp: on the same file system as the host files below, so that the host layer
# hard-links them (a copy would be stamped file by file).
WORK=$(mktemp -d /var/tmp/pilot-warm-bench.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  local m
  awk -v p="$WORK/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  case $WORK in /var/tmp/pilot-warm-bench.*) rm -rf "$WORK" ;; esac
}
trap cleanup EXIT
cp -a "$REPO/dist" "$WORK/dist"
pilot() { node "$WORK/dist/pilot.mjs" "$@"; }
export PILOT_ROOT=$WORK/root
mkdir -m 755 "$PILOT_ROOT" "$WORK/native" "$WORK/home"
chown 65534:65534 "$WORK/home"
export HOME=$WORK/home
unset XDG_RUNTIME_DIR
install -m 0755 "$REPO/examples/apps/hello" "$WORK/native/hello"

# shellcheck source=../examples/lib/oci.sh
. "$REPO/examples/lib/oci.sh"
export OCI_QUIET=1 OCI_ROOT_OWNER=1
pilot load "$EX/busybox-base.tar" >/dev/null
pilot load "$EX/hello-delta.tar" >/dev/null
pilot register --container pilot/hello-delta --base pilot/busybox-base --app /usr/bin/hello >/dev/null
# An app per host-file count: its /removed lists N files in directories of 250, as a
# package spreads its files over a few directories.
for n in 10 1000 5000; do
  layer=$WORK/layer$n
  mkdir -p "$layer/usr/bin"
  : >"$layer/removed"
  for ((k = 0; k < n; k++)); do
    dir=$WORK/host$n/d$((k / 250))
    [ -d "$dir" ] || mkdir -p -m 755 "$dir"
    echo "$k" >"$dir/f$k"
    echo "$dir/f$k" >>"$layer/removed"
  done
  chmod -R a+rX "$WORK/host$n"
  install -m 0755 "$REPO/examples/apps/hello" "$layer/usr/bin/hello"
  oci_archive "$WORK/hf$n.tar" "localhost/bench/hf$n:latest" '{"Cmd":["/usr/bin/hello"]}' "$layer" >/dev/null
  pilot load "$WORK/hf$n.tar" >/dev/null
  pilot register --container "bench/hf$n" --base pilot/busybox-base --app "/usr/bin/hf$n" --target /usr/bin/hello >/dev/null
done

APPS=$PILOT_ROOT/usr/bin
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
cd "$WORK"
# The first call of each caller writes its plan; the second must take the fast path.
for app in hello hf10 hf1000 hf5000; do
  for pre in "" "${NOBODY[*]}"; do
    # shellcheck disable=SC2086
    $pre "$APPS/$app" >/dev/null
    # shellcheck disable=SC2086
    out=$(PILOT_FASTPATH=require $pre "$APPS/$app" 2>&1) || die "$app ${pre:+as nobody }did not take the fast path: $out"
  done
done
export PILOT_FASTPATH=require

# The floor (issue 17: "if the floor of a fresh upper, one overlay and the binds is above a
# target, measure that floor"): a mount namespace alone (util-linux unshare), and the exec
# helper with everything optional off (its private tmpfs, the fresh upper, the one overlay,
# chroot; no binds), given hello's own words. Each runs from a sh wrapper, as its
# baseline does, so the wrapper cancels.
helper_words() { # FILE: hello's command line without its binds
  local -a w=() keep=()
  mapfile -d '' w < <(PILOT_FASTPATH=dry-run "$APPS/hello")
  local k=0
  while [ "$k" -lt "${#w[@]}" ]; do
    case ${w[k]} in
    --mnt | --lowerdir-base | --lowerdir) keep+=("${w[k]}" "${w[k + 1]}"); k=$((k + 2)) ;;
    --environ) keep+=("${w[k]}" "${w[k + 1]}"); k=$((k + 2)) ;;
    *) k=$((k + 1)) ;;
    esac
  done
  printf '%s\0' "${keep[@]}" --cwd / -- /usr/bin/hello >"$1"
}
helper_words "$WORK/floor.words"
# hello's whole command line, binds included, as the stub execs the helper with it
PILOT_FASTPATH=dry-run "$APPS/hello" >"$WORK/helper.words"
wrap() { printf '#!/bin/sh\nexec %s\n' "$2" >"$WORK/$1.sh"; chmod 755 "$WORK/$1.sh"; }
wrap floor "$WORK/dist/pilot-exec --argv-fd 3 3<$WORK/floor.words"
wrap helper "$WORK/dist/pilot-exec --argv-fd 3 3<$WORK/helper.words"
wrap native-sh "$WORK/native/hello"
wrap unshare "unshare -m $WORK/native/hello"
[ "$("$WORK/floor.sh")" = "hello from pilot" ] || die "the floor command does not run hello"
[ "$("$WORK/helper.sh")" = "hello from pilot" ] || die "the helper's command line does not run hello"

rows=()
pair() { # NAME_A CMD_A NAME_B CMD_B
  local line
  line=$(node "$HERE/paired.mjs" --runs "$RUNS" "$@")
  echo "$line"
  rows+=("$line")
}
echo "load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS pairs each"
pair "warm" "$APPS/hello" "native" "$WORK/native/hello"
pair "floor: mount namespace alone" "$WORK/unshare.sh" "native" "$WORK/native-sh.sh"
pair "floor: tmpfs, fresh upper, one overlay, no binds" "$WORK/floor.sh" "native" "$WORK/native-sh.sh"
pair "floor: the helper with hello's binds, no stub" "$WORK/helper.sh" "native" "$WORK/native-sh.sh"
pair "warm, nobody" "${NOBODY[*]} $APPS/hello" "native, nobody" "${NOBODY[*]} $WORK/native/hello"
pair "1,000 host files" "$APPS/hf1000" "10 host files" "$APPS/hf10"
pair "5,000 host files" "$APPS/hf5000" "10 host files" "$APPS/hf10"
pair "5,000 host files, nobody" "${NOBODY[*]} $APPS/hf5000" "10 host files, nobody" "${NOBODY[*]} $APPS/hf10"

# System calls per call (strace -f -c: every process of the call; the nobody rows include
# setpriv's own, as their native row does), when strace is installed.
syscalls=()
count() { # NAME CMD...
  local name=$1 out=$WORK/strace.txt
  shift
  strace -f -c -o "$out" "$@" >/dev/null 2>&1 || die "strace of $name failed"
  syscalls+=("$name|$(awk '$NF == "total" { print $4 " | " ($5 == "total" ? 0 : $5) }' "$out")")
}
if command -v strace >/dev/null 2>&1; then
  count "native" "$WORK/native/hello"
  count "warm, root" "$APPS/hello"
  count "native, nobody" "${NOBODY[@]}" "$WORK/native/hello"
  count "warm, nobody" "${NOBODY[@]}" "$APPS/hello"
  count "warm, 10 host files" "$APPS/hf10"
  count "warm, 5,000 host files" "$APPS/hf5000"
  for s in "${syscalls[@]}"; do echo "syscalls ${s%%|*}: ${s#*|}"; done
fi

if [ -n "$MARKDOWN" ]; then
  {
    echo "## Warm call against native, paired, and the floor of isolation"
    echo
    echo "bench/warm-call.sh: $RUNS pairs per line, A and B run in turn (A B, B A, ...), each figure the median of the per-pair differences with its middle half (IQR), from bench/paired.mjs; apps in a store of their own under /var/tmp (ext4 here), their host files on the same file system (hard-linked into the host layer, 250 to a directory). The floor lines time what isolation alone costs: \`unshare -m\` (a mount namespace, one more exec), pilot-exec run with hello's own words minus every bind (its private tmpfs, a fresh upper, one overlay, chroot, execve), and pilot-exec run with hello's whole command line (the binds too) but without the stub (the warm line minus this one is the stub's own work: reading the plan, checking its stamps), each from a sh wrapper as its native line is."
    echo
    echo "| pair | result |"
    echo "| --- | --- |"
    for r in "${rows[@]}"; do echo "| ${r%%: median *} | median ${r#*: median } |"; done
    if [ "${#syscalls[@]}" -gt 0 ]; then
      echo
      echo "System calls per call, \`strace -f -c\` (all processes of the call; the nobody lines include setpriv's own, as their native line does):"
      echo
      echo "| call | system calls | failed |"
      echo "| --- | ---: | ---: |"
      for s in "${syscalls[@]}"; do echo "| ${s%%|*} | ${s#*|} |"; done
    fi
  } >"$MARKDOWN"
fi
