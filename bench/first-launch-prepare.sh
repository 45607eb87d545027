#!/usr/bin/env bash
# first-launch-prepare.sh: hyperfine --prepare step of bench/run.sh's "first call" rows.
# Deletes every cached host layer, the store's run dir ($PILOT_ROOT/run/pilot: a reboot
# clears /run) and the unprivileged caller's run dir ($HOME/.cache/pilot/run, the bench's
# own HOME), then registers APP again with --force (which drops its plans and prepares the
# app, as a new registration does), so that the next call of the app is the first after
# `pilot register` and a reboot. The order matters: whatever register itself prepares for
# the first call (a host layer, the store's plans) is kept.
#
#   PILOT_CLI=dist/pilot.mjs PILOT_ROOT=DIR first-launch-prepare.sh APP CONTAINER BASE TARGET
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: first-launch-prepare.sh APP CONTAINER BASE TARGET" >&2; exit 2; }
: "${PILOT_ROOT:?PILOT_ROOT must be set}" "${PILOT_CLI:?PILOT_CLI must be set}" "${HOME:?HOME must be set}"
case $PILOT_ROOT in /tmp/pilot-bench.*/*) ;; *) echo "first-launch-prepare.sh: PILOT_ROOT $PILOT_ROOT is not the bench's" >&2; exit 2 ;; esac
rm -rf "$PILOT_ROOT"/var/lib/pilot/host/* "$PILOT_ROOT/run/pilot"
case $HOME in /tmp/pilot-bench.*/*) rm -rf "$HOME/.cache/pilot/run" ;; esac
node "$PILOT_CLI" register --force --container "$2" --base "$3" --app "/usr/bin/$1" --target "$4" >/dev/null
