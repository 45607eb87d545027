#!/usr/bin/env bash
# package-upgrade-prepare.sh: hyperfine --prepare step of bench/run.sh's "first call after
# package upgrade" row. Upgrades the host package PKG in the bench's host root through the
# package manager (`dpkg --root HOST_ROOT -i`, alternating between the two versions in
# DEB_DIR, PKG_1.deb and PKG_2.deb: each install replaces the package's files and its
# database entry, as an upgrade does), then runs what pilot's package-manager hook runs
# after a transaction, when pilot has one: BENCH_UPGRADE_HOOK (a command, word-split; empty
# = no hook).
#
#   BENCH_UPGRADE_HOOK=... package-upgrade-prepare.sh HOST_ROOT DEB_DIR PKG
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: package-upgrade-prepare.sh HOST_ROOT DEB_DIR PKG" >&2; exit 2; }
hr=$1 debs=$2 pkg=$3
now=$(dpkg-query --admindir="$hr/var/lib/dpkg" -W -f '${Version}' "$pkg")
next=$((now == 1 ? 2 : 1))
dpkg --root="$hr" -i "$debs/${pkg}_$next.deb" >/dev/null
# shellcheck disable=SC2086
if [ -n "${BENCH_UPGRADE_HOOK:-}" ]; then $BENCH_UPGRADE_HOOK >/dev/null; fi
