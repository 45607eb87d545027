#!/usr/bin/env bash
# Check the example images by hand, the way pilot composes them, without pilot:
# an overlay mount of the unpacked layer directories (build/examples/layers/*) plus a
# "host layer" of the files the delta's /removed lists, hard-linked from the host.
#
#   examples/verify-overlay.sh [--out DIR]      (root; after examples/build.sh)
#
# Checks:
#   jq-app   lower = host : jq-delta : busybox-base;  chroot M /usr/bin/jq-app -n 1
#   hello    lower = hello-delta : whiteout-layer : busybox-base (OCI whiteouts converted
#            to overlayfs ones); /usr/bin/wc gone, /usr/share/pilot-opaque has only b
#   pyapp    lower = host : pyapp-delta : debian-python-base;  echo 'a: 1' | chroot M pyapp
#            (only when the Debian images were built)
# Everything is mounted under a temp dir and unmounted again, also on failure.
set -euo pipefail
set -o errtrace
trap 'echo "verify-overlay.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(dirname "$HERE")/build/examples
while [ $# -gt 0 ]; do
  case $1 in
  --out) OUT=${2:?}; shift 2 ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "verify-overlay.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "verify-overlay.sh: needs root (mount, chroot)" >&2; exit 1; }
L=$OUT/layers
[ -d "$L/busybox-base" ] || { echo "verify-overlay.sh: no $L/busybox-base; run examples/build.sh" >&2; exit 1; }

TMP=$(mktemp -d /tmp/pilot-verify.XXXXXX)
MOUNTS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" || true; done
  MOUNTS=()
  if ! grep -q " $TMP/" /proc/self/mounts; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
FAIL=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; FAIL=1; }

mount_overlay() { # MNT LOWER... (leftmost wins); read-only: lower dirs only
  local m=$1 lower
  shift
  lower=$(IFS=:; echo "$*")
  mkdir -p "$m"
  mount -t overlay overlay -o "ro,lowerdir=$lower" "$m"
  MOUNTS+=("$m")
}
umount_last() {
  umount "${MOUNTS[-1]}"
  unset 'MOUNTS[-1]'
}

# canon ROOT PATH: PATH with the symlinks of its parent directories resolved inside
# ROOT (the image's own layout: /lib64/x -> /usr/lib64/x in a merged-usr image).
canon() {
  local root=$1 rest=${2#/} cur="" comp t n=0
  while [ -n "$rest" ]; do
    comp=${rest%%/*}
    if [ "$comp" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi
    case $comp in
    "" | .) continue ;;
    ..) cur=${cur%/*}; continue ;;
    esac
    if [ -n "$rest" ] && [ -L "$root$cur/$comp" ]; then
      n=$((n + 1))
      [ $n -le 40 ] || { echo "canon: too many symlinks in $2" >&2; return 1; }
      t=$(readlink "$root$cur/$comp")
      case $t in /*) cur=""; rest="${t#/}/$rest" ;; *) rest="$t/$rest" ;; esac
    else
      cur=$cur/$comp
    fi
  done
  printf '%s\n' "${cur:-/}"
}

# host_layer DIR REMOVED LOWER...: hard-link the host files REMOVED lists into DIR, at
# their paths canonicalised against the image (mounted from LOWER... to look it up).
host_layer() {
  local h=$1 removed=$2 p c n=0 m=0
  shift 2
  mount_overlay "$TMP/lookup" "$@"
  mkdir -p "$h"
  while IFS= read -r p; do
    case $p in "" | '#'* | ';'*) continue ;; esac
    case $p in /*) ;; *) p=/$p ;; esac
    [ -e "$p" ] || [ -L "$p" ] || { bad "host file missing: $p"; continue; }
    [ -d "$p" ] && [ ! -L "$p" ] && { mkdir -p "$h$(canon "$TMP/lookup" "$p")"; continue; }
    c=$(canon "$TMP/lookup" "$p")
    mkdir -p "$h$(dirname "$c")"
    if ln -P "$p" "$h$c" 2>/dev/null; then n=$((n + 1)); else cp -a "$p" "$h$c"; m=$((m + 1)); fi
  done <"$removed"
  umount_last
  echo "     host layer $h: $n files hard-linked from the host, $m copied"
}

# OCI whiteouts -> overlayfs whiteouts, in a copy of a layer dir
oci_to_overlay() {
  local src=$1 dst=$2 f d
  cp -a "$src" "$dst"
  find "$dst" -name '.wh.*' | while IFS= read -r f; do
    d=$(dirname "$f")
    if [ "$(basename "$f")" = .wh..wh..opq ]; then
      rm -f "$f"
      setfattr -n trusted.overlay.opaque -v y "$d"
    else
      rm -f "$f"
      mknod "$d/$(basename "$f" | sed 's/^\.wh\.//')" c 0 0
    fi
  done
}

# ---- jq-app: busybox-base + jq-delta + host files
M=$TMP/jq
host_layer "$TMP/host-jq" "$L/jq-delta/removed" "$L/jq-delta" "$L/busybox-base"
mount_overlay "$M" "$TMP/host-jq" "$L/jq-delta" "$L/busybox-base"
out=$(chroot "$M" /usr/bin/jq-app -n 1 2>&1) && [ "$out" = 1 ] && ok "jq-app -n 1 -> $out" || bad "jq-app -n 1 -> $out"
out=$(echo '{"a":[1,2]}' | chroot "$M" /usr/bin/jq-app -c '.a|add' 2>&1) && [ "$out" = 3 ] &&
  ok "echo '{\"a\":[1,2]}' | jq-app -c '.a|add' -> $out" || bad "jq-app filter -> $out"
[ -L "$M/lib64" ] && ok "/lib64 is still the base's symlink ($(readlink "$M/lib64"))" || bad "/lib64 is not a symlink"
umount_last

# ---- hello: busybox-base + whiteout-layer + hello-delta
oci_to_overlay "$L/whiteout-layer" "$TMP/whiteout-layer"
M=$TMP/hello
mount_overlay "$M" "$L/hello-delta" "$TMP/whiteout-layer" "$L/busybox-base"
out=$(chroot "$M" /usr/bin/hello a 'b c' 2>&1) && [ "$out" = "$(printf 'hello from pilot\n[a]\n[b c]')" ] &&
  ok "hello a 'b c' -> $(echo "$out" | tr '\n' ' ')" || bad "hello -> $out"
rc=0
HELLO_EXIT=7 chroot "$M" /usr/bin/hello >/dev/null || rc=$?
[ $rc = 7 ] && ok "HELLO_EXIT=7 hello -> exit $rc" || bad "HELLO_EXIT=7 hello -> exit $rc"
[ ! -e "$M/usr/bin/wc" ] && [ ! -L "$M/usr/bin/wc" ] && ok "whiteout: /usr/bin/wc is gone" || bad "whiteout: /usr/bin/wc still there"
out=$(ls "$M/usr/share/pilot-opaque" | tr '\n' ' ')
[ "$out" = "b " ] && ok "opaque: /usr/share/pilot-opaque has: $out" || bad "opaque: /usr/share/pilot-opaque has: $out"
[ "$(cat "$M/etc/pilot-layer")" = layer ] && ok "/etc/pilot-layer = layer" || bad "/etc/pilot-layer"
out=$(echo hi | chroot "$M" /usr/bin/pilot-test cat) && [ "$out" = hi ] && ok "pilot-test cat" || bad "pilot-test cat -> $out"
umount_last

# ---- pyapp: debian-python-base + pyapp-delta + host files
if [ -d "$L/pyapp-delta" ] && [ -d "$L/debian-python-base" ]; then
  M=$TMP/py
  host_layer "$TMP/host-py" "$L/pyapp-delta/removed" "$L/pyapp-delta" "$L/debian-python-base"
  mount_overlay "$M" "$TMP/host-py" "$L/pyapp-delta" "$L/debian-python-base"
  out=$(echo 'a: 1' | chroot "$M" /usr/bin/pyapp 2>&1) && [ "$out" = '{"a":1}' ] &&
    ok "echo 'a: 1' | pyapp -> $out" || bad "pyapp -> $out"
  out=$(printf 'list: [1, two]\nn: {x: null}\n' | chroot "$M" /usr/bin/pyapp 2>&1) &&
    [ "$out" = '{"list":[1,"two"],"n":{"x":null}}' ] && ok "pyapp nested -> $out" || bad "pyapp nested -> $out"
  umount_last
else
  echo "skip pyapp: not built (examples/build.sh without --small)"
fi

[ $FAIL = 0 ] && echo "all checks passed" || { echo "some checks FAILED"; exit 1; }
