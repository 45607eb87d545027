#!/usr/bin/env bash
# first-launch-prepare.sh: hyperfine --prepare step of bench/run.sh's "first launch"
# rows. Registers APP again with --force (which drops its cached plans, as a new
# registration does) and deletes every cached host layer, so that the next call of the
# app is a first launch after register.
#
#   PILOT_CLI=dist/pilot.mjs PILOT_ROOT=DIR first-launch-prepare.sh APP CONTAINER BASE TARGET
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: first-launch-prepare.sh APP CONTAINER BASE TARGET" >&2; exit 2; }
: "${PILOT_ROOT:?PILOT_ROOT must be set}" "${PILOT_CLI:?PILOT_CLI must be set}"
node "$PILOT_CLI" register --force --container "$2" --base "$3" --app "/usr/bin/$1" --target "$4" >/dev/null
rm -rf "$PILOT_ROOT"/var/lib/pilot/host/*
