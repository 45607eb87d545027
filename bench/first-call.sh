#!/usr/bin/env bash
# bench/first-call.sh: the first call after `pilot register` against a warm call, as root
# and as an unprivileged caller (nobody, via setpriv), in one paired hyperfine run (issue
# 17's target: first ≤ 2 × warm). Each "first" run is prepared by `register --force`
# (which drops the app's plans and plans it again, as register does) and by deleting the
# run dirs (a reboot: /run cleared, the caller's ~/.cache gone). Every call runs with
# PILOT_FASTPATH=require: a call the stub would hand to the Node launcher fails the run.
#
#   bench/first-call.sh [RUNS]     (root, after make build; images from build/examples)
#
# Prints hyperfine's table, the medians and first/warm per caller; the raw JSON goes to
# bench/out/first-call.json. bench/run.sh can take the four rows from that JSON.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
RUNS=${1:-30}
EX=${BENCH_EXAMPLES:-$REPO/build/examples}
CLI=$REPO/dist/pilot.mjs
[ "$(id -u)" = 0 ] || { echo "bench/first-call.sh: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench/first-call.sh: hyperfine is missing" >&2; exit 1; }

ROOT=$(mktemp -d /var/tmp/pilot-first-call-bench.XXXXXX)
cleanup() {
	case "$ROOT" in
	/var/tmp/pilot-first-call-bench.??????) rm -rf "$ROOT" ;;
	esac
}
trap cleanup EXIT
chmod 755 "$ROOT"
mkdir -m 755 "$ROOT/home"
chown 65534:65534 "$ROOT/home"
export PILOT_ROOT=$ROOT
node "$CLI" load --quiet "$EX/busybox-base.tar"
node "$CLI" load --quiet "$EX/hello-delta.tar"
register="node $CLI register --force --container pilot/hello-delta --base pilot/busybox-base --app /usr/bin/hello --target /usr/bin/hello >/dev/null"
sh -c "$register"
APP=$ROOT/usr/bin/hello
AS_NOBODY="setpriv --reuid 65534 --regid 65534 --clear-groups env -u XDG_RUNTIME_DIR HOME=$ROOT/home"
mkdir -p "$REPO/bench/out"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
PILOT_FASTPATH=require hyperfine -N --warmup 3 --runs "$RUNS" \
	--export-json "$REPO/bench/out/first-call.json" \
	--prepare "sh -c '$register && rm -rf $ROOT/run'" -n "first call, root" "$APP" \
	--prepare "true" -n "warm call, root" "$APP" \
	--prepare "sh -c '$register && rm -rf $ROOT/run $ROOT/home/.cache'" -n "first call, nobody" "$AS_NOBODY $APP" \
	--prepare "true" -n "warm call, nobody" "$AS_NOBODY $APP"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
node -e '
const r = require(process.argv[1]).results;
const m = (name) => r.find((x) => x.command === name);
for (const who of ["root", "nobody"]) {
  const first = m(`first call, ${who}`), warm = m(`warm call, ${who}`);
  const ms = (s) => (s * 1000).toFixed(2);
  console.log(`${who}: first median ${ms(first.median)} ms (σ ${ms(first.stddev)}), warm median ${ms(warm.median)} ms (σ ${ms(warm.stddev)}), first/warm ${(first.median / warm.median).toFixed(2)} (target ≤ 2)`);
}' "$REPO/bench/out/first-call.json"
