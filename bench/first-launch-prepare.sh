#!/usr/bin/env bash
# first-launch-prepare.sh: hyperfine --prepare step of bench/run.sh's "first call" rows.
# Deletes every cached host layer and the app's plans of callers other than the store's
# owner (in $HOME/.cache/pilot/run, the bench's own HOME), then registers APP again with
# --force (which drops its cached plans, as a new registration does), so that the next
# call of the app is the first after `pilot register`. The order matters: whatever
# register itself prepares for the first call (a host layer, a plan) is kept.
#
#   PILOT_CLI=dist/pilot.mjs PILOT_ROOT=DIR first-launch-prepare.sh APP CONTAINER BASE TARGET
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: first-launch-prepare.sh APP CONTAINER BASE TARGET" >&2; exit 2; }
: "${PILOT_ROOT:?PILOT_ROOT must be set}" "${PILOT_CLI:?PILOT_CLI must be set}" "${HOME:?HOME must be set}"
case $PILOT_ROOT in /tmp/pilot-bench.*/*) ;; *) echo "first-launch-prepare.sh: PILOT_ROOT $PILOT_ROOT is not the bench's" >&2; exit 2 ;; esac
rm -rf "$PILOT_ROOT"/var/lib/pilot/host/*
case $HOME in /tmp/pilot-bench.*/*) rm -f "$HOME/.cache/pilot/run/plans/$1".u*.plan ;; esac
node "$PILOT_CLI" register --force --container "$2" --base "$3" --app "/usr/bin/$1" --target "$4" >/dev/null
