#!/usr/bin/env bash
# physical-load.sh: the physical limit of loading an image, for bench/run.sh's
# "load limit" row: every gzip'd layer blob of an OCI layout, in order, through
# `gzip -dc | tar -x` into DIR, then `sync -f DIR` (one syncfs: the durability pilot load
# gives its store). No checks, no digests, no whiteouts: what no loader can beat.
#
#   physical-load.sh DIR BLOB...
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: physical-load.sh DIR BLOB..." >&2; exit 2; }
dir=$1
shift
for blob in "$@"; do
  gzip -dc "$blob" | tar -x --numeric-owner -C "$dir" -f -
done
sync -f "$dir"
