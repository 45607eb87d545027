#!/usr/bin/env bash
# load-prepare.sh: hyperfine --prepare step of bench/run.sh's load rows: an empty target
# for the next load, and cold nothing else (the archive stays in the page cache for all
# three, so that they compare the work, not the disk).
#
#   load-prepare.sh dir DIR          DIR removed and made again (the limit's target, or
#                                    a pilot root); DIR must be below /tmp/pilot-bench.*/load/
#   load-prepare.sh podman ARGS...   podman ARGS... rmi --all --force (a bench storage)
set -euo pipefail
case ${1:-} in
dir)
  [ $# -eq 2 ] || { echo "usage: load-prepare.sh dir DIR" >&2; exit 2; }
  case $2 in /tmp/pilot-bench.*/load/?*) ;; *) echo "load-prepare.sh: $2 is not below the bench's load dir" >&2; exit 2 ;; esac
  if awk -v p="$2/" 'index($5, p) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "load-prepare.sh: mounts under $2" >&2
    exit 1
  fi
  rm -rf "$2"
  mkdir -m 755 "$2"
  ;;
podman)
  shift
  "$@" rmi --all --force >/dev/null
  ;;
*)
  echo "usage: load-prepare.sh dir DIR | podman ARGS..." >&2
  exit 2
  ;;
esac
