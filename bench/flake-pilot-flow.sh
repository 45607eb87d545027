#!/usr/bin/env bash
# flake-pilot-flow.sh: one launch of a delta-container app the way flake-pilot's
# podman-pilot (OSInside/flake-pilot 3.x, podman-pilot/src/podman.rs: create(),
# run_podman_creation(), start()) performs it, as a script, so that `make bench` can
# time it next to pilot without building the Rust tool.
#
#   flake-pilot-flow.sh [--layer REF]... BASE DELTA TARGET [ARG...]
#
#   BASE    base_container (the container is created from it, as upstream does)
#   DELTA   container.name (the delta image, synced into the instance)
#   TARGET  target_app_path (the --entrypoint of the instance)
#   ARG     the caller's arguments
#
# Environment:
#   FLAKE_PODMAN       podman command with global options, word-split
#                      (default: podman), e.g. "podman --root R --runroot RR --runtime runc"
#   FLAKE_PODMAN_OPTS  the flake's runtime.podman options, word-split; when empty,
#                      upstream's defaults --tty --interactive are used
#   FLAKE_IDS_DIR      where the .cid files live (upstream: /tmp/flakes)
#   FLAKE_APP          program name for the cid file (default: basename of TARGET)
#
# What one call does, step by step (each step is a separate process, as upstream):
#   1. sudo true (upstream checks root access; only if sudo is installed, as every
#      command upstream is run through `sudo --preserve-env --user root`)
#   2. if the app's .cid file exists: `podman container exists CID`, delete it when gone
#      (podman rm of the previous call leaves the file, so this happens on every call)
#   3. podman create --cidfile F OPTS --entrypoint TARGET BASE ARG...
#   4. podman mount CID
#   5. the base's /systemfiles (run with sh) and /removed: rsync -av --files-from from
#      the host into the mount (skipped when there are none)
#   6. for each layer and then the delta: podman image exists, podman image mount,
#      append its /removed, rsync -av LAYER_MOUNT/ INSTANCE_MOUNT/, podman image umount
#   7. write the merged /removed into the instance and rsync -av --ignore-missing-args
#      --files-from it from / into the instance (the host files)
#   8. podman umount CID
#   9. podman ps --format {{.ID}} (is it running?), podman container exists CID
#  10. podman start --attach CID (the app runs; upstream ignores its exit code)
#  11. podman rm --force CID
#
# Like upstream, the app's exit code is not passed on: the script exits 0 when every
# step worked, and non-zero when a step of the flow itself failed. Not scripted: the
# spinner, the %VAR substitution in options, resume/attach mode (a sleep entrypoint and
# podman exec), and includes (this flow is the one-shot, non-resume case).
set -euo pipefail

LAYERS=()
while [ $# -gt 0 ]; do
  case $1 in
  --layer) LAYERS+=("${2:?--layer needs an image}"); shift 2 ;;
  --) shift; break ;;
  *) break ;;
  esac
done
[ $# -ge 3 ] || { echo "usage: flake-pilot-flow.sh [--layer REF]... BASE DELTA TARGET [ARG...]" >&2; exit 2; }
BASE=$1 DELTA=$2 TARGET=$3
shift 3

read -r -a PODMAN <<<"${FLAKE_PODMAN:-podman}"
read -r -a OPTS <<<"${FLAKE_PODMAN_OPTS:-}"
[ "${#OPTS[@]}" -gt 0 ] || OPTS=(--tty --interactive)
IDS=${FLAKE_IDS_DIR:-/tmp/flakes}
APP=${FLAKE_APP:-${TARGET##*/}}
USER_NAME=$(id -un)

# upstream runs every command through sudo; we do too when sudo is there
AS_ROOT=()
if command -v sudo >/dev/null 2>&1; then AS_ROOT=(sudo --preserve-env --user root); fi
pm() { "${AS_ROOT[@]}" "${PODMAN[@]}" "$@"; }
as_root() { "${AS_ROOT[@]}" "$@"; }

if [ "${#AS_ROOT[@]}" -gt 0 ]; then as_root true; fi
mkdir -p "$IDS"
CIDFILE=$IDS/${APP}_$USER_NAME.cid

# gc_cid_file: the previous call's container is gone, its cid file is not
if [ -e "$CIDFILE" ]; then
  if pm container exists "$(cat "$CIDFILE")"; then
    echo "flake-pilot-flow: $APP is already running (container $(cat "$CIDFILE"))" >&2
    exit 1
  fi
  rm -f "$CIDFILE"
fi

CID=$(pm create --cidfile "$CIDFILE" "${OPTS[@]}" --entrypoint "$TARGET" "$BASE" "$@")
REMOVED_BASE=$(mktemp)
REMOVED_LAYERS=$(mktemp)
SYSFILES=$(mktemp)
trap 'rm -f "$REMOVED_BASE" "$REMOVED_LAYERS" "$SYSFILES"' EXIT

# sync_host TARGET_MOUNT LIST_FILE NAME_IN_INSTANCE [strict]: copy host files listed in
# LIST_FILE into the instance; missing ones are ignored (upstream: --ignore-missing-args,
# and the rsync status is only checked for the /systemfiles list)
sync_host() {
  local mnt=$1 list=$2 name=$3 strict=${4:-}
  [ -s "$list" ] || return 0
  cat "$list" >"$mnt/$name"
  if [ -n "$strict" ]; then
    as_root rsync -av --files-from "$mnt/$name" / "$mnt/" >/dev/null
  else
    as_root rsync -av --ignore-missing-args --files-from "$mnt/$name" / "$mnt/" >/dev/null || true
  fi
}

MNT=$(pm mount "$CID")
if [ -e "$MNT/systemfiles" ]; then
  as_root sh "$MNT/systemfiles" >"$SYSFILES"
  sync_host "$MNT" "$SYSFILES" systemfiles strict
fi
if [ -e "$MNT/removed" ]; then cat "$MNT/removed" >>"$REMOVED_BASE"; fi
sync_host "$MNT" "$REMOVED_BASE" removed

for layer in "${LAYERS[@]}" "$DELTA"; do
  pm image exists "$layer" || pm pull "$layer" >/dev/null
  LMNT=$(pm image mount "$layer")
  if [ -e "$LMNT/removed" ]; then cat "$LMNT/removed" >>"$REMOVED_LAYERS"; fi
  as_root rsync -av "$LMNT/" "$MNT/" >/dev/null
  pm image umount "$layer" >/dev/null 2>&1 || true
done
sync_host "$MNT" "$REMOVED_LAYERS" removed
pm umount "$CID" >/dev/null 2>&1 || true

# start(): running? exists? then start attached and remove
RUNNING=$(pm ps --format '{{.ID}}')
case $RUNNING in *"${CID:0:12}"*) echo "flake-pilot-flow: unexpected running instance" >&2 ;; esac
pm container exists "$CID"
pm start --attach "$CID" || true
pm rm --force "$CID" >/dev/null
