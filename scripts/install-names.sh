#!/bin/sh
# flake-pilot's command names for pilot, on request only (make install FLAKE_CTL_NAMES=1):
#   BINDIR/flake-ctl     -> LIBEXECDIR/pilot.mjs   (pilot at flake-ctl's command level)
#   BINDIR/podman-pilot  -> LIBEXECDIR/pilot-exec  (the launcher old app links point at)
#
# usage: install-names.sh check|install|uninstall DESTDIR BINDIR LIBEXECDIR
#
# Never over a file a package owns, nor over any file that is not already this link:
# `check` (run before anything is installed) refuses both, `install` re-checks and links,
# `uninstall` removes only a name that is still the link `install` made.
# OWNER_QUERY is the package database query, run with the final path (without DESTDIR);
# it succeeds when a package owns that path. Default: `dpkg-query -S`, else `rpm -qf`,
# else no database. Tests and package builds may set their own (OWNER_QUERY=false: none).
set -eu

die() {
	echo "install-names: $*" >&2
	exit 1
}

[ $# -eq 4 ] || die "usage: install-names.sh check|install|uninstall DESTDIR BINDIR LIBEXECDIR"
action=$1 destdir=$2 bindir=$3 libexecdir=$4
case $bindir in /*) ;; *) die "BINDIR must be absolute, got '$bindir'" ;; esac
case $libexecdir in /*) ;; *) die "LIBEXECDIR must be absolute, got '$libexecdir'" ;; esac

if [ -z "${OWNER_QUERY+set}" ]; then
	if command -v dpkg-query >/dev/null 2>&1; then
		OWNER_QUERY='dpkg-query -S'
	elif command -v rpm >/dev/null 2>&1; then
		OWNER_QUERY='rpm -qf'
	else
		OWNER_QUERY=false
	fi
fi

# NAME TARGET: the link's path and the relative target it must have.
link_of() {
	echo "$destdir$bindir/$1"
}
target_of() {
	realpath -m --relative-to="$destdir$bindir" "$destdir$libexecdir/$2"
}

is_our_link() { # PATH TARGET
	[ -L "$1" ] && [ "$(readlink "$1")" = "$2" ]
}

check_one() { # NAME FILE
	path=$(link_of "$1")
	target=$(target_of "$1" "$2")
	# shellcheck disable=SC2086 # OWNER_QUERY is a command with its options
	if owner=$($OWNER_QUERY "$bindir/$1" 2>/dev/null); then
		die "$bindir/$1 belongs to a package ($(echo "$owner" | head -n 1)): not installing $1 over it.
  hint: remove that package (flake-pilot) first, or install without FLAKE_CTL_NAMES=1"
	fi
	if { [ -e "$path" ] || [ -L "$path" ]; } && ! is_our_link "$path" "$target"; then
		die "$path exists and is not pilot's $1 link: not replacing it.
  hint: move it away first, or install without FLAKE_CTL_NAMES=1"
	fi
}

NAMES='flake-ctl:pilot.mjs podman-pilot:pilot-exec'

case $action in
check)
	for pair in $NAMES; do check_one "${pair%%:*}" "${pair#*:}"; done
	;;
install)
	for pair in $NAMES; do check_one "${pair%%:*}" "${pair#*:}"; done
	for pair in $NAMES; do
		name=${pair%%:*}
		path=$(link_of "$name")
		target=$(target_of "$name" "${pair#*:}")
		is_our_link "$path" "$target" || ln -s "$target" "$path"
	done
	;;
uninstall)
	for pair in $NAMES; do
		name=${pair%%:*}
		path=$(link_of "$name")
		if is_our_link "$path" "$(target_of "$name" "${pair#*:}")"; then rm -f "$path"; fi
	done
	;;
*)
	die "unknown action '$action': check, install or uninstall"
	;;
esac
