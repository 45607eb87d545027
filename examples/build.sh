#!/usr/bin/env bash
# Build pilot's example images as OCI archives (no podman needed).
#
#   examples/build.sh [--out DIR] [--small] [--refresh] [--validate]
#
#   --out DIR    where to write the archives (default: build/examples in the repo)
#   --small      only the busybox images (no debootstrap, no network, no root needed)
#   --refresh    ignore the caches in $PILOT_CACHE_DIR and rebuild everything
#   --validate   check every archive with `skopeo inspect` and `podman load` (into a
#                throw-away podman store, so other users' podman images are untouched)
#
# Output (DIR):
#   NAME.tar            oci-archive of localhost/pilot/NAME:latest
#   layers/NAME/        the image's single layer as a directory, in OCI form (whiteouts
#                       are .wh.* files), for tests that want to overlay-mount by hand
#   build-times.txt     how long each step took in the last run
#
# Slow steps are cached in ${PILOT_CACHE_DIR:-/var/cache/pilot-examples}:
#   debian-python-base.tar     the debootstrapped rootfs (= the base layer tar)
#   pyapp-delta.layer.tar      the delta layer built with apt in a chroot (+ .key)
#   blobs/DIFFID.tar.gz        gzip'd layers by diff_id
#
# Same inputs give byte-identical archives (see lib/oci.sh).
set -euo pipefail
set -o errtrace
trap 'echo "build.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
OUT=$REPO/build/examples
SMALL=0
REFRESH=0
VALIDATE=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case $1 in
  --out) OUT=${2:?--out needs a directory}; shift 2 ;;
  --out=*) OUT=${1#--out=}; shift ;;
  --small) SMALL=1; shift ;;
  --refresh) REFRESH=1; shift ;;
  --validate) VALIDATE=1; shift ;;
  -h | --help) usage; exit 0 ;;
  *) echo "build.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE=$(readlink -m "${PILOT_CACHE_DIR:-/var/cache/pilot-examples}")
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
REF_PREFIX=localhost/pilot
PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
SUITE=bookworm
# The host's configured Debian mirror, unless PILOT_DEBIAN_MIRROR is set: the first
# non-security URIs: of debian.sources (deb822), else the first `deb` line of sources.list.
# No mirror is named here: a site's machines reach only the mirror they are configured for.
MIRROR=${PILOT_DEBIAN_MIRROR:-$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
  /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | sed -n 1p || true)}
MIRROR=${MIRROR:-$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' \
  /etc/apt/sources.list 2>/dev/null | grep -v security | sed -n 1p || true)}
# Packages whose files the delta builds leave to the host (what KIWI would uninstall).
HOST_PKGS=(jq libjq1 libonig5)

# shellcheck source=lib/oci.sh
. "$HERE/lib/oci.sh"

# ---------------------------------------------------------------- helpers

log() { printf '==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
run() { printf '    + %s\n' "$*"; "$@"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

TIMES=()
now() { date +%s.%N; }
# step NAME FUNCTION [ARGS...]: run a build step, print and record its duration.
step() {
  local name=$1 t0 t1 dt
  shift
  log "$name"
  t0=$(now)
  "$@"
  t1=$(now)
  dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  say "done: $name (${dt}s)"
  TIMES+=("$(printf '%-50s %7ss' "$name" "$dt")")
}

need() { command -v "$1" >/dev/null 2>&1 || die "needs $1 ($2)"; }

# Set every mtime in a tree we generated to SOURCE_DATE_EPOCH (deterministic layers).
normalize_mtimes() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }

# Replace layers/NAME with a freshly built tree (built in layers/.NAME.new).
new_layer() {
  local d=$OUT/layers/.$1.new
  rm -rf "$d"
  mkdir -p "$d"
  printf '%s\n' "$d"
}
commit_layer() {
  local name=$1 d=$OUT/layers/.$1.new
  rm -rf "$OUT/layers/$name"
  mv "$d" "$OUT/layers/$name"
}

# Extract an uncompressed layer tar into layers/NAME unless it is already there
# (stamped with the tar's sha256).
layer_from_tar() {
  local name=$1 tarf=$2 sum d
  sum=$(sha256sum "$tarf" | cut -d' ' -f1)
  if [ -f "$OUT/layers/.$name.sha256" ] && [ "$(cat "$OUT/layers/.$name.sha256")" = "$sum" ] &&
    [ -d "$OUT/layers/$name" ]; then
    say "layers/$name is up to date"
    return
  fi
  d=$(new_layer "$name")
  run tar -C "$d" -xpf "$tarf" --numeric-owner --xattrs --xattrs-include='*'
  commit_layer "$name"
  printf '%s\n' "$sum" >"$OUT/layers/.$name.sha256"
}

image() { # image NAME CONFIG_JSON LAYER...
  local name=$1 cfg=$2
  shift 2
  oci_archive "$OUT/$name.tar" "$REF_PREFIX/$name:latest" "$cfg" "$@" >/dev/null
}

# Files of packages ($@) as `dpkg -L` lists them that are regular files or symlinks
# under root $ROOT (default /), i.e. the files an uninstall of those packages deletes.
pkg_files() {
  local root=${ROOT:-} p
  dpkg --root="${root:-/}" -L "$@" | grep '^/' | while IFS= read -r p; do
    if [ -L "$root$p" ] || { [ -f "$root$p" ] && [ ! -d "$root$p" ]; }; then
      printf '%s\n' "$p"
    fi
  done
}

# ---------------------------------------------------------------- busybox images

build_busybox_base() {
  local bb d p name dir applet
  bb=$(readlink -f "$(command -v busybox)")
  if ldd "$bb" >/dev/null 2>&1; then die "$bb is dynamically linked; install busybox-static"; fi
  d=$(new_layer busybox-base)
  mkdir -p "$d"/usr/{bin,sbin,lib,lib64,share/pilot-opaque} "$d"/{etc,dev,proc,sys,root,home,tmp,run} \
    "$d"/var/{tmp,lib,log}
  ln -s usr/bin "$d/bin"
  ln -s usr/sbin "$d/sbin"
  ln -s usr/lib "$d/lib"
  ln -s usr/lib64 "$d/lib64"
  chmod 1777 "$d/tmp" "$d/var/tmp"
  chmod 0700 "$d/root"
  install -m 0755 "$bb" "$d/usr/bin/busybox"
  # Every applet, merged-usr: bin/X and usr/bin/X -> usr/bin/X, sbin/X and usr/sbin/X -> usr/sbin/X.
  while IFS= read -r p; do
    applet=${p##*/}
    case ${p%/*} in
    bin | usr/bin) dir=usr/bin ;;
    sbin | usr/sbin) dir=usr/sbin ;;
    *) continue ;;
    esac
    case $applet in dpkg | dpkg-deb | rpm | rpm2cpio) continue ;; esac # no fake package managers
    [ -e "$d/$dir/$applet" ] || [ -L "$d/$dir/$applet" ] && continue
    if [ "$dir" = usr/bin ]; then ln -s busybox "$d/$dir/$applet"; else ln -s ../bin/busybox "$d/$dir/$applet"; fi
  done < <("$bb" --list-full)
  for applet in sh ls cat echo env id pwd sleep touch mkdir rm printf test [ true false kill wc head tr \
    stat readlink dirname; do
    [ -L "$d/usr/bin/$applet" ] || die "busybox has no applet $applet"
  done
  cat >"$d/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$d/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
EOF
  printf 'a\n' >"$d/usr/share/pilot-opaque/a"
  normalize_mtimes "$d"
  # No `| head`: busybox would die of SIGPIPE, which the ERR trap reports.
  local version
  version=$("$bb" --help 2>&1 || true)
  version=${version%%$'\n'*}
  version=${version#* }
  say "busybox ${version%% *}, $(find "$d/usr/bin" "$d/usr/sbin" -type l | wc -l) applet links"
  commit_layer busybox-base
  image busybox-base "$(jq -cn --arg p "$PATH_ENV" '{Env: [$p], Cmd: ["/bin/sh"]}')" "$OUT/layers/busybox-base"
}

build_hello_delta() {
  local d
  d=$(new_layer hello-delta)
  mkdir -p "$d/usr/bin"
  install -m 0755 "$HERE/apps/hello" "$d/usr/bin/hello"
  install -m 0755 "$HERE/apps/pilot-test" "$d/usr/bin/pilot-test"
  normalize_mtimes "$d"
  commit_layer hello-delta
  image hello-delta "$(jq -cn --arg p "$PATH_ENV" '{Env: [$p], Cmd: ["/usr/bin/hello"]}')" "$OUT/layers/hello-delta"
}

# /removed of jq-delta: what uninstalling jq libjq1 libonig5 would delete on this host,
# plus the libc6 files jq needs (loader, libc, libm) which busybox-base lacks. Paths are
# written as the packages list them (e.g. /lib64/ld-linux-x86-64.so.2, which is reached
# through the host's merged-usr symlink /lib64 -> usr/lib64).
host_removed_for_jq() {
  local lib real owner tmp
  tmp=$(mktemp)
  {
    pkg_files "${HOST_PKGS[@]}"
    ldd /usr/bin/jq | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p' |
      while IFS= read -r lib; do
        real=$(readlink -f "$lib")
        owner=$(dpkg -S "$lib" 2>/dev/null | grep -v '^diversion' | head -1 | cut -d: -f1 || true)
        [ -n "$owner" ] ||
          owner=$(dpkg -S "$real" 2>/dev/null | grep -v '^diversion' | head -1 | cut -d: -f1 || true)
        [ -n "$owner" ] || die "no package owns $lib (from ldd /usr/bin/jq)"
        # every path of the owning package that is this library (the loader is listed
        # twice: /lib64/ld-linux-x86-64.so.2 is a symlink to the real file)
        pkg_files "$owner" >"$tmp"
        paste "$tmp" <(xargs -d '\n' readlink -f -- <"$tmp") | awk -F '\t' -v r="$real" '$2 == r { print $1 }'
      done
  } | LC_ALL=C sort -u
  rm -f "$tmp"
}

build_jq_delta() {
  local d
  need jq "apt-get install jq: its files are the host side of jq-delta"
  [ -x /usr/bin/jq ] || die "jq-delta needs /usr/bin/jq on the host (apt-get install jq)"
  d=$(new_layer jq-delta)
  mkdir -p "$d/usr/bin"
  install -m 0755 "$HERE/apps/jq-app" "$d/usr/bin/jq-app"
  {
    echo "# files the delta build removed; the host provides them (jq libjq1 libonig5, libc6 loader+libs)"
    host_removed_for_jq
  } >"$d/removed"
  chmod 0644 "$d/removed"
  say "/removed: $(grep -vc '^#' "$d/removed") paths"
  normalize_mtimes "$d"
  commit_layer jq-delta
  image jq-delta "$(jq -cn --arg p "$PATH_ENV" '{Env: [$p], Cmd: ["/usr/bin/jq-app"]}')" "$OUT/layers/jq-delta"
}

build_whiteout_layer() {
  local d
  d=$(new_layer whiteout-layer)
  mkdir -p "$d/etc" "$d/usr/bin" "$d/usr/share/pilot-opaque"
  printf 'layer\n' >"$d/etc/pilot-layer"
  : >"$d/usr/bin/.wh.wc"                          # deletes the base's /usr/bin/wc
  : >"$d/usr/share/pilot-opaque/.wh..wh..opq"     # hides the base's /usr/share/pilot-opaque/a
  printf 'b\n' >"$d/usr/share/pilot-opaque/b"
  normalize_mtimes "$d"
  commit_layer whiteout-layer
  image whiteout-layer "$(jq -cn --arg p "$PATH_ENV" '{Env: [$p]}')" "$OUT/layers/whiteout-layer"
}

# ---------------------------------------------------------------- debian images

BASE_TAR=$CACHE/debian-python-base.tar
DELTA_TAR=$CACHE/pyapp-delta.layer.tar
MOUNTS=()
WORKDIRS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
  MOUNTS=()
  for i in "${WORKDIRS[@]}"; do
    # never rm -rf through a mount that is still there
    if ! grep -q " $i/" /proc/self/mounts; then rm -rf "$i"; fi
  done
  WORKDIRS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_chroot() { # ROOT: /proc and /dev for apt and dpkg maintainer scripts, host DNS
  local r
  r=$(chroot_dir "$1")
  run mount -t proc proc "$r/proc"
  MOUNTS+=("$r/proc")
  run mount --bind /dev "$r/dev"
  MOUNTS+=("$r/dev")
  mount --make-private "$r/dev"
  run mount --bind /dev/pts "$r/dev/pts"
  MOUNTS+=("$r/dev/pts")
  rm -f "$r/etc/resolv.conf"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
}
umount_chroot() {
  local r
  r=$(chroot_dir "$1")
  run umount "$r/dev/pts"
  run umount "$r/dev"
  run umount "$r/proc"
  MOUNTS=()
  rm -f "$r/etc/resolv.conf"
}

# chroot_dir DIR: DIR if it is a build root of ours (never the host's /), else die
chroot_dir() {
  local r
  r=$(readlink -f "${1:?chroot_dir: no directory}")
  case $r in
  "$CACHE"/work.*/*) [ -d "$r/etc" ] && [ -d "$r/usr" ] && { printf '%s\n' "$r"; return; } ;;
  esac
  die "refusing to modify $1: not a build root under $CACHE/work.*"
}

# Strip what a container image does not need: package caches, apt lists, logs, devices.
strip_rootfs() {
  local r
  r=$(chroot_dir "$1")
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/archives/partial/* \
    "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* "$r"/var/log/apt/* \
    "$r"/var/log/dpkg.log "$r"/var/log/alternatives.log "$r"/var/log/bootstrap.log \
    "$r"/var/cache/ldconfig/aux-cache "$r"/var/lib/dpkg/*-old "$r"/var/cache/debconf/*-old \
    "$r"/dev/* "$r"/tmp/* "$r"/var/tmp/* "$r"/etc/resolv.conf "$r"/etc/hostname
  mkdir -p "$r"/var/lib/apt/lists/partial "$r"/var/cache/apt/archives/partial
}

# Like Debian's slim container images: no docs (but copyright files), man pages, info
# or translations; a dpkg.cfg.d file keeps later installs (the pyapp delta) slim too.
strip_docs() {
  local r
  r=$(chroot_dir "$1")
  cat >"$r/etc/dpkg/dpkg.cfg.d/01-pilot-slim" <<'EOF'
# pilot example images: no docs, man pages, info or translations (like debian:*-slim)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$r/usr/share/locale" -mindepth 1 ! -type d ! -name locale.alias -delete
  find "$r/usr/share/locale" -mindepth 1 -type d -empty -delete
  find "$r/usr/share/man" "$r/usr/share/groff" "$r/usr/share/info" "$r/usr/share/lintian" \
    "$r/usr/share/linda" -mindepth 1 -delete 2>/dev/null || true
}

build_debian_python_base_rootfs() {
  if [ "$REFRESH" = 0 ] && [ -s "$BASE_TAR" ]; then
    say "cached: $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1)); --refresh rebuilds it"
    return
  fi
  need debootstrap "apt-get install debootstrap"
  [ -n "$MIRROR" ] || die "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list: set PILOT_DEBIAN_MIRROR=URL"
  mkdir -p "$CACHE"
  local w
  w=$(mktemp -d "$CACHE/work.base.XXXXXX")
  WORKDIRS+=("$w")
  run debootstrap --variant=minbase --include=python3 "$SUITE" "$w/root" "$MIRROR"
  strip_rootfs "$w/root"
  strip_docs "$w/root"
  say "rootfs: $(du -sh "$w/root" | cut -f1)"
  oci_layer_tar "$w/root" "$w/base.tar"
  mv -f "$w/base.tar" "$BASE_TAR"
  say "cached $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1))"
  cleanup
}

build_debian_python_base() {
  layer_from_tar debian-python-base "$BASE_TAR"
  OCI_BLOB_CACHE=$CACHE/blobs image debian-python-base \
    "$(jq -cn --arg p "$PATH_ENV" '{Env: [$p, "LANG=C.UTF-8"], Cmd: ["/usr/bin/python3"]}')" "$BASE_TAR"
}

# The delta is built as KIWI builds one: install the app's packages into a copy of the
# base, add the app, uninstall the packages the host provides (recording what that
# deleted in /removed), then keep only what differs from the base.
PYAPP_PKGS=(python3-yaml jq)
DELTA_EXCLUDES=(/proc/ /dev/ /sys/ /tmp/ /var/tmp/ /run/ /etc/resolv.conf /var/cache/apt/
  /var/lib/apt/lists/ /var/log/ /var/cache/ldconfig/aux-cache '/var/lib/dpkg/*-old'
  /var/lib/dpkg/lock /var/lib/dpkg/lock-frontend /var/lib/dpkg/triggers/Lock
  '/var/cache/debconf/*-old')

pyapp_key() {
  {
    sha256sum "$BASE_TAR" | cut -d' ' -f1
    echo "${PYAPP_PKGS[*]} / ${HOST_PKGS[*]} / ${DELTA_EXCLUDES[*]} / recipe 2"
    cat "$HERE/apps/pyapp"
  } | sha256sum | cut -d' ' -f1
}

build_pyapp_delta_layer() {
  local key w r removed ex p
  key=$(pyapp_key)
  if [ "$REFRESH" = 0 ] && [ -s "$DELTA_TAR" ] && [ "$(cat "$DELTA_TAR.key" 2>/dev/null)" = "$key" ]; then
    say "cached: $DELTA_TAR ($(du -h "$DELTA_TAR" | cut -f1)); --refresh rebuilds it"
    return
  fi
  w=$(mktemp -d "$CACHE/work.pyapp.XXXXXX")
  WORKDIRS+=("$w")
  r=$w/root
  mkdir -p "$r"
  say "copy of the base rootfs in $r"
  tar -C "$r" -xpf "$BASE_TAR" --numeric-owner --xattrs --xattrs-include='*'
  mount_chroot "$r"
  export DEBIAN_FRONTEND=noninteractive
  run chroot "$r" apt-get -q update
  run chroot "$r" apt-get -q -y --no-install-recommends install "${PYAPP_PKGS[@]}"
  install -m 0755 "$HERE/apps/pyapp" "$r/usr/bin/pyapp"
  touch -d "@$SOURCE_DATE_EPOCH" "$r/usr/bin/pyapp"
  say "test before the uninstall: $(echo 'a: [1, two]' | chroot "$r" /usr/bin/pyapp)"
  # KIWI: the files the uninstall deletes become /removed
  removed=$w/removed
  ROOT=$r pkg_files "${HOST_PKGS[@]}" | LC_ALL=C sort -u >"$w/before"
  run chroot "$r" dpkg --purge --force-depends "${HOST_PKGS[@]}"
  while IFS= read -r p; do
    if [ ! -e "$r$p" ] && [ ! -L "$r$p" ]; then printf '%s\n' "$p"; fi
  done <"$w/before" >"$w/deleted"
  cmp -s "$w/before" "$w/deleted" || say "note: not every listed file was deleted: $(comm -23 "$w/before" "$w/deleted" | tr '\n' ' ')"
  {
    echo "# files the delta build removed (dpkg --purge ${HOST_PKGS[*]}); the host provides them"
    cat "$w/deleted"
  } >"$removed"
  run chroot "$r" apt-get -q clean
  umount_chroot "$r"
  strip_rootfs "$r"
  install -m 0644 "$removed" "$r/removed"
  touch -d "@$SOURCE_DATE_EPOCH" "$r/removed"
  say "/removed: $(grep -vc '^#' "$r/removed") paths"

  # delta = new or changed files (by content), compared with the base
  mkdir -p "$w/base" "$w/delta"
  tar -C "$w/base" -xpf "$BASE_TAR" --numeric-owner --xattrs --xattrs-include='*'
  local -a rx=()
  for ex in "${DELTA_EXCLUDES[@]}"; do rx+=(--exclude="$ex"); done
  run rsync -aHAX --numeric-ids --checksum --compare-dest="$w/base/" "${rx[@]}" "$r/" "$w/delta/"
  # rsync recreates every directory; drop the empty ones the base already has
  (cd "$w/delta" && find . -mindepth 1 -depth -type d -empty -printf '%P\n') | while IFS= read -r p; do
    [ -d "$w/base/$p" ] && [ ! -L "$w/base/$p" ] && rmdir "$w/delta/$p"
  done
  # files the build deleted from the base would need whiteouts; report them
  ex=$(rsync -ani --delete "${rx[@]}" "$r/" "$w/base/" | grep '^\*deleting' || true)
  [ -z "$ex" ] || say "note: the build deleted base files (not in the delta): $ex"
  say "delta: $(du -sh "$w/delta" | cut -f1), $(find "$w/delta" -type f | wc -l) files"
  oci_layer_tar "$w/delta" "$w/delta.tar"
  mv -f "$w/delta.tar" "$DELTA_TAR"
  printf '%s\n' "$key" >"$DELTA_TAR.key"
  say "cached $DELTA_TAR ($(du -h "$DELTA_TAR" | cut -f1))"
  cleanup
}

build_pyapp_delta() {
  layer_from_tar pyapp-delta "$DELTA_TAR"
  OCI_BLOB_CACHE=$CACHE/blobs image pyapp-delta \
    "$(jq -cn --arg p "$PATH_ENV" '{Env: [$p, "LANG=C.UTF-8"], Cmd: ["/usr/bin/pyapp"]}')" "$DELTA_TAR"
}

# ---------------------------------------------------------------- validation

validate() {
  need skopeo "apt-get install skopeo"
  need podman "apt-get install podman"
  local store f name ref mnt
  # a throw-away podman store: nothing of anybody else's podman state is touched
  store=$(mktemp -d /tmp/pilot-examples-podman.XXXXXX)
  WORKDIRS+=("$store")
  local -a pm=(podman --root "$store/root" --runroot "$store/run" --tmpdir "$store/tmp"
    --storage-driver vfs --runtime runc --cgroup-manager cgroupfs --events-backend none)
  for f in "$OUT"/*.tar; do
    name=$(basename "$f" .tar)
    ref=$REF_PREFIX/$name:latest
    say "skopeo inspect oci-archive:$f"
    skopeo inspect "oci-archive:$f" | jq -c '{Digest, Layers: (.Layers | length), Env}' | sed 's/^/      /'
    skopeo inspect --config "oci-archive:$f" | jq -c '{config, rootfs}' | sed 's/^/      /'
    "${pm[@]}" load -q -i "$f" | sed 's/^/    podman load: /'
    "${pm[@]}" image exists "$ref" || die "podman load of $f did not create $ref"
  done
  "${pm[@]}" images --format '    {{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
  mnt=$("${pm[@]}" image mount "$REF_PREFIX/busybox-base")
  say "podman image mount busybox-base: $(ls "$mnt" | tr '\n' ' ')/usr/bin/wc -> $(readlink "$mnt/usr/bin/wc")"
  "${pm[@]}" image unmount -a >/dev/null
  "${pm[@]}" rmi -a -f >/dev/null
  cleanup
}

# ---------------------------------------------------------------- main

need jq "apt-get install jq"
need sha256sum coreutils
[[ $(tar --version) == *'GNU tar'* ]] || die "needs GNU tar"
if [ "$SMALL" = 0 ] && [ "$(id -u)" != 0 ]; then die "building the Debian images needs root (or use --small)"; fi

mkdir -p "$OUT/layers"
exec 9>"$OUT/.build.lock"
flock 9 || die "cannot lock $OUT/.build.lock"
log "pilot example images -> $OUT (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH$([ "$SMALL" = 1 ] && echo ', --small'))"
T0=$(now)
# generated trees are owned by whoever runs this; the images say root
export OCI_ROOT_OWNER=1
step "busybox-base" build_busybox_base
step "hello-delta" build_hello_delta
step "jq-delta" build_jq_delta
step "whiteout-layer" build_whiteout_layer
unset OCI_ROOT_OWNER
if [ "$SMALL" = 0 ]; then
  mkdir -p "$CACHE"
  step "debian-python-base: rootfs (debootstrap|cache)" build_debian_python_base_rootfs
  step "debian-python-base: layer + archive" build_debian_python_base
  step "pyapp-delta: delta layer (apt+diff|cache)" build_pyapp_delta_layer
  step "pyapp-delta: layer + archive" build_pyapp_delta
fi
[ "$VALIDATE" = 0 ] || step "validate (skopeo inspect, podman load)" validate
TOTAL=$(awk -v a="$T0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')

{
  echo "# examples/build.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)$([ "$SMALL" = 1 ] && echo ' --small')$([ "$REFRESH" = 1 ] && echo ' --refresh')"
  printf '%s\n' "${TIMES[@]}"
  printf '%-50s %7ss\n' total "$TOTAL"
} >"$OUT/build-times.txt"

log "images in $OUT (total ${TOTAL}s):"
for f in "$OUT"/*.tar; do
  n=$(basename "$f" .tar)
  printf '    %-50s %8s archive  %8s layer dir\n' "$REF_PREFIX/$n:latest" "$(du -h "$f" | cut -f1)" \
    "$(du -sh "$OUT/layers/$n" 2>/dev/null | cut -f1)"
done
