# shellcheck shell=bash
# oci.sh: build OCI image archives (oci-archive format) from layer directories,
# deterministically and without podman. Source it from bash:
#
#   . examples/lib/oci.sh
#   oci_archive OUT.tar REF CONFIG_JSON LAYER...
#
#   OUT.tar      the archive to write (atomically: written beside it, then renamed)
#   REF          full image ref, stored as org.opencontainers.image.ref.name in
#                index.json, e.g. localhost/pilot/busybox-base:latest
#   CONFIG_JSON  the image config's "config" object, e.g.
#                '{"Env":["PATH=/usr/bin:/bin"],"Cmd":["/bin/sh"]}'
#   LAYER        a directory (its contents are the layer, in OCI form: whiteouts are
#                .wh.NAME files, opaque dirs hold .wh..wh..opq) or an uncompressed
#                layer tar; first = lowest layer
#
# Determinism: entries are sorted by name (C locale), owners numeric, atime/ctime
# dropped, PAX header names fixed, gzip -n. File mtimes are kept as they are on disk
# unless OCI_CLAMP_MTIME=EPOCH is set (then tar --mtime=@EPOCH --clamp-mtime). The
# config's "created" and the archive's own entries use SOURCE_DATE_EPOCH (default
# 1704067200 = 2024-01-01T00:00:00Z). Same inputs => byte-identical archive.
#
# Environment:
#   SOURCE_DATE_EPOCH  see above
#   OCI_CLAMP_MTIME    clamp layer file mtimes to this epoch
#   OCI_BLOB_CACHE     dir; gzip'd layers are cached there by diff_id (gzip is the
#                      slow step for big layers)
#   OCI_GZIP_LEVEL     gzip level (default 6)
#   OCI_ARCH / OCI_OS  image platform (default: amd64 / linux)
#   OCI_ROOT_OWNER=1   store every layer entry as owned by 0:0 (for trees built by
#                      an unprivileged user)
#   OCI_QUIET=1        no progress lines on stderr
#
# Needs: GNU tar (>= 1.28 for --sort), gzip, sha256sum, jq, find, sort.

OCI_MT_INDEX=application/vnd.oci.image.index.v1+json
OCI_MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_MT_CONFIG=application/vnd.oci.image.config.v1+json
OCI_MT_LAYER_GZ=application/vnd.oci.image.layer.v1.tar+gzip

oci__log() { [ "${OCI_QUIET:-0}" = 1 ] || printf 'oci: %s\n' "$*" >&2; }
oci__epoch() { printf '%s' "${SOURCE_DATE_EPOCH:-1704067200}"; }
oci__sha256() { sha256sum "$1" | cut -d' ' -f1; }
oci__size() { stat -c %s "$1"; }

# oci_layer_tar DIR OUT.tar: deterministic, uncompressed layer tar of DIR's contents.
# Entry names are relative ("usr/bin/sh"), parents before children.
oci_layer_tar() {
  local dir=$1 out=$2 list
  [ -d "$dir" ] || { echo "oci_layer_tar: not a directory: $dir" >&2; return 1; }
  list=$(mktemp)
  (cd "$dir" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z) >"$list"
  local -a mt=()
  [ -n "${OCI_CLAMP_MTIME:-}" ] && mt+=(--mtime="@$OCI_CLAMP_MTIME" --clamp-mtime)
  [ "${OCI_ROOT_OWNER:-0}" = 1 ] && mt+=(--owner=0 --group=0)
  LC_ALL=C tar -C "$dir" --create --file="$out" \
    --format=posix \
    --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
    --numeric-owner --xattrs --xattrs-include='*' \
    --no-recursion --null --verbatim-files-from --files-from="$list" \
    "${mt[@]}"
  local rc=$?
  rm -f "$list"
  return $rc
}

# oci_blob_put BLOBS FILE: move FILE into BLOBS/sha256/<hex>; prints "sha256:<hex> <size>".
oci_blob_put() {
  local blobs=$1 f=$2 hex size
  hex=$(oci__sha256 "$f")
  size=$(oci__size "$f")
  mkdir -p "$blobs/sha256"
  mv -f "$f" "$blobs/sha256/$hex"
  chmod 0644 "$blobs/sha256/$hex"
  printf 'sha256:%s %s\n' "$hex" "$size"
}

# oci_layer_blob BLOBS LAYER: add one layer (dir or .tar) as a gzip'd blob.
# Prints "DIGEST SIZE DIFF_ID".
oci_layer_blob() {
  local blobs=$1 layer=$2 tmp tarf diff gz digest size
  tmp=$(mktemp -d "$blobs/.layer.XXXXXX")
  if [ -d "$layer" ]; then
    tarf=$tmp/layer.tar
    oci_layer_tar "$layer" "$tarf" || { rm -rf "$tmp"; return 1; }
  elif [ -f "$layer" ]; then
    tarf=$layer
  else
    echo "oci_layer_blob: no such layer: $layer" >&2; rm -rf "$tmp"; return 1
  fi
  diff=sha256:$(oci__sha256 "$tarf")
  gz=$tmp/layer.tar.gz
  if [ -n "${OCI_BLOB_CACHE:-}" ] && [ -s "$OCI_BLOB_CACHE/${diff#sha256:}.tar.gz" ]; then
    oci__log "layer $layer: diff_id $diff (gzip from cache)"
    cp "$OCI_BLOB_CACHE/${diff#sha256:}.tar.gz" "$gz"
  else
    oci__log "layer $layer: diff_id $diff, gzip -${OCI_GZIP_LEVEL:-6}"
    gzip -n "-${OCI_GZIP_LEVEL:-6}" -c "$tarf" >"$gz"
    if [ -n "${OCI_BLOB_CACHE:-}" ]; then
      mkdir -p "$OCI_BLOB_CACHE"
      cp "$gz" "$OCI_BLOB_CACHE/.${diff#sha256:}.$$" &&
        mv -f "$OCI_BLOB_CACHE/.${diff#sha256:}.$$" "$OCI_BLOB_CACHE/${diff#sha256:}.tar.gz"
    fi
  fi
  read -r digest size < <(oci_blob_put "$blobs" "$gz")
  rm -rf "$tmp"
  printf '%s %s %s\n' "$digest" "$size" "$diff"
}

# oci_archive OUT REF CONFIG_JSON LAYER...
oci_archive() {
  local out=$1 ref=$2 cfg=$3
  shift 3
  [ $# -ge 1 ] || { echo "oci_archive: need at least one layer" >&2; return 1; }
  jq -e 'type == "object"' >/dev/null <<<"$cfg" || { echo "oci_archive: CONFIG_JSON is not an object" >&2; return 1; }
  local epoch created work blobs layer digest size diff
  epoch=$(oci__epoch)
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  mkdir -p "$(dirname "$out")"
  work=$(mktemp -d "$out.work.XXXXXX")
  blobs=$work/blobs
  mkdir -p "$blobs/sha256"
  local layers_json='[]' diffs_json='[]' hist_json='[]'
  for layer in "$@"; do
    read -r digest size diff < <(oci_layer_blob "$blobs" "$layer") || { rm -rf "$work"; return 1; }
    [ -n "$digest" ] || { rm -rf "$work"; return 1; }
    layers_json=$(jq -c --arg mt "$OCI_MT_LAYER_GZ" --arg d "$digest" --argjson s "$size" \
      '. + [{mediaType: $mt, digest: $d, size: $s}]' <<<"$layers_json")
    diffs_json=$(jq -c --arg d "$diff" '. + [$d]' <<<"$diffs_json")
    hist_json=$(jq -c --arg c "$created" --arg by "pilot examples/lib/oci.sh: layer $(basename "$layer")" \
      '. + [{created: $c, created_by: $by}]' <<<"$hist_json")
  done
  jq -cn --arg created "$created" --arg arch "${OCI_ARCH:-amd64}" --arg os "${OCI_OS:-linux}" \
    --argjson cfg "$cfg" --argjson diffs "$diffs_json" --argjson hist "$hist_json" \
    '{created: $created, architecture: $arch, os: $os, config: $cfg,
      rootfs: {type: "layers", diff_ids: $diffs}, history: $hist}' >"$work/config.json"
  local cdigest csize mdigest msize
  read -r cdigest csize < <(oci_blob_put "$blobs" "$work/config.json")
  jq -cn --arg mt "$OCI_MT_MANIFEST" --arg cmt "$OCI_MT_CONFIG" --arg cd "$cdigest" \
    --argjson cs "$csize" --argjson layers "$layers_json" \
    '{schemaVersion: 2, mediaType: $mt, config: {mediaType: $cmt, digest: $cd, size: $cs}, layers: $layers}' \
    >"$work/manifest.json"
  read -r mdigest msize < <(oci_blob_put "$blobs" "$work/manifest.json")
  jq -cn --arg mt "$OCI_MT_INDEX" --arg mmt "$OCI_MT_MANIFEST" --arg md "$mdigest" --argjson ms "$msize" \
    --arg ref "$ref" --arg arch "${OCI_ARCH:-amd64}" --arg os "${OCI_OS:-linux}" \
    '{schemaVersion: 2, mediaType: $mt, manifests: [{mediaType: $mmt, digest: $md, size: $ms,
      annotations: {"org.opencontainers.image.ref.name": $ref},
      platform: {architecture: $arch, os: $os}}]}' >"$work/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  LC_ALL=C tar -C "$work" --create --file="$out.part" --sort=name --format=posix \
    --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
    --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --mode='u=rwX,go=rX' \
    oci-layout index.json blobs
  rm -rf "$work"
  if [ -f "$out" ] && cmp -s "$out.part" "$out"; then
    rm -f "$out.part"
    oci__log "unchanged $out ($ref, manifest $mdigest, $(oci__size "$out") bytes)"
  else
    mv -f "$out.part" "$out"
    oci__log "wrote $out ($ref, manifest $mdigest, $(oci__size "$out") bytes)"
  fi
  printf '%s\n' "$mdigest"
}
