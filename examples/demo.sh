#!/usr/bin/env bash
# examples/demo.sh: what `make demo` runs (after `make build`).
#
# Builds the example images (examples/build.sh; the debootstrap of the Debian base is
# cached), loads them into a temporary PILOT_ROOT, registers three apps, runs each of
# them like a host command, shows `pilot list` and `pilot images`, and deletes the
# temporary root again. Every command is printed before it runs; the demo stops with a
# non-zero exit status as soon as one fails or prints something unexpected.
#
#   hello    examples/apps/hello, a sh script, on the busybox base
#   jq-app   runs the host's jq inside the busybox base: jq, its libraries and the
#            dynamic loader come from the host, listed in the delta's /removed
#   pyapp    a Python app on the Debian python base: python3-yaml is in its delta,
#            jq comes from the host through /removed
#
# As root it builds and runs all three; as another user it builds only the busybox
# images (examples/build.sh --small) and skips pyapp.
set -euo pipefail
set -o errtrace
trap 'echo "demo.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
EX=$REPO/build/examples
CLI=$REPO/dist/pilot.mjs

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { printf '\n'; bold "== $*"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }
# show 'COMMAND LINE' [EXPECTED]: print the command line, run it with bash (so that pipes
# work as typed), print its output indented; with EXPECTED, the output must equal it.
show() {
  local out
  printf '$ %s\n' "$1"
  out=$(bash -o pipefail -c "$1" 2>&1) || { printf '%s\n' "$out" | sed 's/^/  /'; die "failed: $1"; }
  [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  /'
  if [ $# -ge 2 ] && [ "$out" != "$2" ]; then
    die "unexpected output of: $1"$'\n'"wanted:"$'\n'"$2"
  fi
}

[ -f "$CLI" ] && [ -x "$REPO/dist/pilot-exec" ] || die "dist/ is not built: run make build (or make demo)"
command -v node >/dev/null || die "needs node (.ci/setup)"

FULL=1
if [ "$(id -u)" != 0 ]; then
  FULL=0
  echo "demo.sh: not root: building only the busybox images, and skipping pyapp (its Debian base needs debootstrap as root)"
fi

step "build the example images (examples/build.sh$([ "$FULL" = 1 ] || echo ' --small'))"
if [ "$FULL" = 1 ]; then "$REPO/examples/build.sh"; else "$REPO/examples/build.sh" --small; fi

ROOT=$(mktemp -d /tmp/pilot-demo.XXXXXX)
cleanup() {
  local rc=$?
  trap - ERR
  set +e
  PILOT_ROOT=$ROOT node "$CLI" stop --all >/dev/null 2>&1
  if grep -q " $ROOT/" /proc/self/mountinfo; then
    echo "demo.sh: mounts left under $ROOT; not deleting it" >&2
  else
    rm -rf "$ROOT"
    echo "demo.sh: deleted $ROOT"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# `pilot` and the registered apps, as a user would type them: PILOT_ROOT puts the store,
# the flakes and the app links (ROOT/usr/bin/APP) under the temporary root.
BIN=$(mktemp -d "$ROOT/.bin.XXXXXX")
printf '#!/bin/sh\nexec node %q "$@"\n' "$CLI" >"$BIN/pilot"
chmod 755 "$BIN/pilot"
export PILOT_ROOT=$ROOT
export PATH="$ROOT/usr/bin:$BIN:$PATH"

step "a temporary pilot root: PILOT_ROOT=$ROOT"

step "load the images into pilot's store"
show "pilot load $EX/busybox-base.tar"
show "pilot load $EX/hello-delta.tar"
show "pilot load $EX/jq-delta.tar"
if [ "$FULL" = 1 ]; then
  show "pilot load $EX/debian-python-base.tar"
  show "pilot load $EX/pyapp-delta.tar"
fi

step "register the apps: each becomes a link at \$PILOT_ROOT/usr/bin/APP"
show "pilot register --container pilot/hello-delta --base pilot/busybox-base --app /usr/bin/hello"
show "pilot register --container pilot/jq-delta --base pilot/busybox-base --app /usr/bin/jq-app"
[ "$FULL" = 0 ] || show "pilot register --container pilot/pyapp-delta --base pilot/debian-python-base --app /usr/bin/pyapp"
show "ls -l \$PILOT_ROOT/usr/bin"

step "hello: a sh script in a delta on the busybox base"
show "hello world 'two words'" $'hello from pilot\n[world]\n[two words]'
show "hello again; echo \"exit code: \$?\"" $'hello from pilot\n[again]\nexit code: 0'
show "HELLO_EXIT=3 hello; echo \"exit code: \$?\"" $'hello from pilot\nexit code: 3'

step "jq-app: the host's jq, provided through the delta's /removed"
show "echo '{\"a\":1}' | jq-app .a" "1"
show "echo '{\"a\":[1,2,3]}' | jq-app -c '.a | map(. * 10)'" "[10,20,30]"
show "pilot check jq-app"

if [ "$FULL" = 1 ]; then
  step "pyapp: Python + python3-yaml from the images, jq from the host"
  # Hosts whose dpkg excludes documentation (container images, minimal installs) lack
  # some files that the delta build's uninstall deleted (/usr/share/doc/..., man pages):
  # pilot refuses to run an app whose host files are missing, unless the caller allows
  # it with %ignore_sync_error, as flake-pilot's %ignore_sync_error does.
  PY=pyapp
  if ! pilot check pyapp >/dev/null 2>&1; then
    show "pilot check pyapp | grep -v '^ok' || true"
    echo "  (this host lacks files that pyapp's /removed lists, e.g. documentation that"
    echo "   dpkg was told not to install; the app does not need them: run with %ignore_sync_error)"
    PY="pyapp %ignore_sync_error"
  fi
  show "echo 'a: 1' | $PY" '{"a":1}'
  show "printf 'name: pilot\\nlist: [1, two]\\n' | $PY" '{"name":"pilot","list":[1,"two"]}'
fi

step "what is registered, and what is in the store"
show "pilot list"
show "pilot images"

step "done: the demo worked; cleaning up the temporary root"
