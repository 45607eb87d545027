# bench/store-size.sh: the store-size section of `make bench`, sourced by bench/run.sh
# (its variables, work dir and cleanup are run.sh's): NAPPS apps, each a delta with a script
# and 256 KiB of its own data on the Debian example base, registered in a fresh pilot store
# and loaded into two fresh podman storages (one full image per app; base + delta images,
# as flake-pilot keeps them). Sets STORE_MD (the markdown section), PILOT_N, EXPECT and
# SLACK (the issue 7 target: the store holds one base + the deltas, + 5 % + 1 MiB).
# shellcheck shell=bash disable=SC2154
SR=$WORK/store
mkdir -m 755 "$SR"
PILOT_ROOTS+=("$SR")
mkdir -p "$WORK/deltas"
# the base layer as an uncompressed tar, and its gzip'd blob as oci.sh's cache entry
mkdir -p "$WORK/debbase" "$WORK/blobcache"
tar -C "$WORK/debbase" -xf "$EX/debian-python-base.tar"
manifest=$(jq -r '.manifests[0].digest' "$WORK/debbase/index.json")
blob=$(jq -r '.layers[0].digest' "$WORK/debbase/blobs/sha256/${manifest#sha256:}")
config=$(jq -r '.config.digest' "$WORK/debbase/blobs/sha256/${manifest#sha256:}")
diffid=$(jq -r '.rootfs.diff_ids[0]' "$WORK/debbase/blobs/sha256/${config#sha256:}")
gzip -dc "$WORK/debbase/blobs/sha256/${blob#sha256:}" >"$WORK/debbase/layer.tar"
ln "$WORK/debbase/blobs/sha256/${blob#sha256:}" "$WORK/blobcache/${diffid#sha256:}.tar.gz"
export OCI_BLOB_CACHE=$WORK/blobcache

PMS_DIR=$WORK/podman-full   # podman: one image per app (base + delta)
PMD_DIR=$WORK/podman-delta  # podman: base + delta images, as flake-pilot keeps them
PODMAN_ROOTS+=("$PMS_DIR" "$PMD_DIR")
PMS=(podman --root "$PMS_DIR/root" --runroot "$PMS_DIR/run" --tmpdir "$PMS_DIR/tmp" --runtime runc)
PMD=(podman --root "$PMD_DIR/root" --runroot "$PMD_DIR/run" --tmpdir "$PMD_DIR/tmp" --runtime runc)

PILOT_ROOT=$SR pilot load "$EX/debian-python-base.tar" >/dev/null
"${PMD[@]}" load -q -i "$EX/debian-python-base.tar" >/dev/null
DELTA_SUM=0
for ((i = 1; i <= NAPPS; i++)); do
  d=$WORK/deltas/app$i
  mkdir -p "$d/usr/bin" "$d/usr/share/app$i"
  printf '#!/bin/sh\necho "app%s on $(. /etc/os-release; echo "$PRETTY_NAME")"\n' "$i" >"$d/usr/bin/app$i"
  chmod 755 "$d/usr/bin/app$i"
  head -c $((256 * 1024)) /dev/urandom >"$d/usr/share/app$i/data" # the app's own files
  DELTA_SUM=$((DELTA_SUM + $(du_b "$d")))
  cfg=$(jq -cn --arg p "$PATH_ENV" --arg c "/usr/bin/app$i" '{Env: [$p], Cmd: [$c]}')
  oci_archive "$WORK/deltas/app$i-delta.tar" "localhost/pilot-bench/app$i-delta:latest" "$cfg" "$d" >/dev/null
  oci_archive "$WORK/deltas/app$i-full.tar" "localhost/pilot-bench/app$i-full:latest" "$cfg" "$WORK/debbase/layer.tar" "$d" >/dev/null
  PILOT_ROOT=$SR pilot load "$WORK/deltas/app$i-delta.tar" >/dev/null
  PILOT_ROOT=$SR pilot register --container "pilot-bench/app$i-delta" --base pilot/debian-python-base --app "/usr/bin/app$i" >/dev/null
  out=$(PILOT_ROOT=$SR "$SR/usr/bin/app$i")
  [ "$out" = "app$i on Debian GNU/Linux 12 (bookworm)" ] || die "app$i printed '$out'"
  "${PMS[@]}" load -q -i "$WORK/deltas/app$i-full.tar" >/dev/null
  "${PMD[@]}" load -q -i "$WORK/deltas/app$i-delta.tar" >/dev/null
  rm -f "$WORK/deltas/app$i-full.tar"
  if [ "$i" = 1 ]; then
    PILOT_1=$(du_b "$SR/var/lib/pilot")
    PMS_1=$(du_b "$PMS_DIR/root")
    PMD_1=$(du_b "$PMD_DIR/root")
  fi
done
out=$("${PMS[@]}" run --rm "${RUN_OPTS[@]}" localhost/pilot-bench/app1-full)
[ "$out" = "app1 on Debian GNU/Linux 12 (bookworm)" ] || die "podman run app1-full printed '$out'"
PILOT_N=$(du_b "$SR/var/lib/pilot")
PMS_N=$(du_b "$PMS_DIR/root")
PMD_N=$(du_b "$PMD_DIR/root")
BASE_B=$DEB_B
DELTA_ONE=$((DELTA_SUM / NAPPS))
say "base layer $BASE_B B, $NAPPS deltas $DELTA_SUM B; pilot store $PILOT_N B; podman $PMS_N B (full images), $PMD_N B (base + deltas)"

EXPECT=$((BASE_B + DELTA_SUM))
SLACK=$((EXPECT / 20 + 1048576)) # 5 % + 1 MiB of metadata
per_app() { mib $((($2 - $1) / (NAPPS > 1 ? NAPPS - 1 : 1))); }
STORE_MD=$WORK/store.md
{
  echo "## Store size: $NAPPS apps on the Debian python base"
  echo
  echo "Each app is a delta with a script and 256 KiB of its own data on \`debian-python-base\`."
  echo
  echo "| store | after 1 app | after $NAPPS apps | per extra app |"
  echo "| --- | ---: | ---: | ---: |"
  echo "| reference: base layer + deltas (du -sb of the layer dirs) | $(mib $((BASE_B + DELTA_ONE))) | $(mib "$EXPECT") | $(mib "$DELTA_ONE") |"
  echo "| pilot store (\`du -sb \$PILOT_ROOT/var/lib/pilot\`, apps registered and run once) | $(mib "$PILOT_1") | $(mib "$PILOT_N") | $(per_app "$PILOT_1" "$PILOT_N") |"
  echo "| podman storage, one image per app (base + delta), \`podman load\` | $(mib "$PMS_1") | $(mib "$PMS_N") | $(per_app "$PMS_1" "$PMS_N") |"
  echo "| podman storage, base + delta images (what flake-pilot keeps) | $(mib "$PMD_1") | $(mib "$PMD_N") | $(per_app "$PMD_1" "$PMD_N") |"
} >"$STORE_MD"
