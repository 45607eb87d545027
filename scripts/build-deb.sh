#!/bin/sh
# make deb: dist/pilot_VERSION_ARCH.deb with the files "make install PREFIX=/usr" lays
# down (arch-specific: dist/pilot-exec is a static C binary), built by dpkg-deb as root's
# files whoever builds it. Staged in a mktemp dir, removed on exit.
set -eu
cd "$(dirname "$0")/.."

command -v dpkg-deb >/dev/null || { echo "make deb: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }
version=$(node -p "require('./package.json').version")
arch=$(dpkg --print-architecture)
stage=$(mktemp -d "${TMPDIR:-/tmp}/pilot-deb.XXXXXX")
cleanup() {
	case "$stage" in
	*/pilot-deb.??????) rm -rf "$stage" ;;
	esac
}
trap cleanup EXIT

# The .deb re-plans through its dpkg trigger (packaging/deb/triggers), which sees
# "dpkg -i" too: APT's hook, for a plain "make install", stays out.
make --no-print-directory install PREFIX=/usr DESTDIR="$stage/root" APT_HOOK=0 >/dev/null
chmod 0755 "$stage/root"
install -d -m 0755 "$stage/root/DEBIAN"
for script in postinst prerm postrm; do
	install -m 0755 "packaging/deb/$script" "$stage/root/DEBIAN/$script"
done
install -m 0644 packaging/deb/triggers "$stage/root/DEBIAN/triggers"
size=$(du -sk --apparent-size "$stage/root" | cut -f1)
cat >"$stage/root/DEBIAN/control" <<CONTROL
Package: pilot
Version: $version
Architecture: $arch
Maintainer: pilot developers <root@localhost>
Installed-Size: $size
Depends: nodejs (>= 20), util-linux, tar, gzip
Recommends: podman, skopeo, xz-utils, zstd
Section: admin
Priority: optional
Description: run applications shipped as containers as if they were host commands
 pilot registers apps shipped as container images (a delta image on a base,
 flake-pilot's flakes) and links each to a launcher: the app then runs as a
 host command, with its arguments, stdio, exit code and signals, from an
 overlay of its image layers and the host files it needs.
CONTROL
out="dist/pilot_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage/root" "$out.tmp" >/dev/null
mv "$out.tmp" "$out"
echo "built $out"
