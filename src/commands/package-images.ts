/**
 * `pilot package --with-images`: an image of the store as an oci-archive that `pilot
 * load` (or podman, skopeo) reads. The store keeps each image's config and manifest but
 * not its layer tarballs (DESIGN.md, Store), so each layer blob is read from the archive
 * the layer was loaded from (its record's `source`, or that of another layer of the same
 * image), checked against its digest while it is copied. When the original manifest's
 * blobs are all found it is kept byte for byte (the image keeps its manifest digest, which
 * a registry pull by digest needs); otherwise a manifest is written for the blobs found.
 *
 * A layer tar is not regenerated from the extracted tree: the store keeps canonical
 * owners and modes (the image's are only in the record), drops device nodes and keeps no
 * mtimes or member order, so a regenerated tar cannot have the recorded diff_id. A layer
 * whose archive is gone is refused, naming the archive to load again.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { removeSync } from 'fs-extra/esm';
import { PilotError } from '../core/errors.js';
import { escapeName } from '../core/excerpt.js';
import type { ImageRecord } from '../core/image-record.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { readImagePlans } from '../store/archive-images.js';
import { type ArchiveFiles, type BlobSource, openArchive } from '../store/archive-source.js';
import { streamCompression } from '../store/extract/decompress.js';
import { readLayerRecord } from '../store/layer-record.js';
import { TAR_END, tarFileHeader, tarPadding } from '../store/tar-write.js';

const LAYER_TYPES: Record<string, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

interface FoundLayer {
  diffId: string;
  blob: BlobSource;
  /** The blob's digest (what a manifest names); for an uncompressed blob, its diff_id. */
  digest: string;
}

export interface ExportedImage {
  file: string;
  /** Bytes of the archive. */
  size: number;
  /** The manifest's digest in the archive; equal to the store's when `original`. */
  manifestDigest: string;
  original: boolean;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function storeBlob(paths: PilotPaths, digest: string): Buffer | undefined {
  try {
    const data = readFileSync(join(storeDirs.blobs(paths), digestHex(digest)));
    return sha256(data) === digest ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Archives that may hold the image's layers: where each of its layers was loaded from. */
function layerSources(paths: PilotPaths, image: ImageRecord): string[] {
  const sources = new Set<string>();
  for (const diffId of image.layers) {
    const source = readLayerRecord(paths, diffId)?.source;
    if (source) sources.add(source);
  }
  return [...sources];
}

async function findLayers(
  paths: PilotPaths,
  image: ImageRecord,
  ref: string,
  scratch: string,
): Promise<FoundLayer[]> {
  const found = new Map<string, FoundLayer>();
  let count = 0;
  for (const source of layerSources(paths, image)) {
    if (image.layers.every((d) => found.has(d))) break;
    let files: ArchiveFiles;
    try {
      const dir = join(scratch, `archive-${count++}`);
      mkdirSync(dir, { mode: 0o700 });
      files = await openArchive(source, dir);
      const { plans } = await readImagePlans(files);
      for (const plan of plans) {
        for (const layer of plan.layers) {
          if (!layer.blob || found.has(layer.diffId) || !image.layers.includes(layer.diffId))
            continue;
          // A docker-archive names no blob digest: only an uncompressed blob (digest = diff_id) is taken.
          const digest = layer.digest ?? layer.diffId;
          found.set(layer.diffId, { diffId: layer.diffId, blob: layer.blob, digest });
        }
      }
    } catch {
      // gone, or not readable as an archive any more: the next source may hold them
    }
  }
  return image.layers.map((diffId, i) => {
    const layer = found.get(diffId);
    if (layer) return layer;
    const source = readLayerRecord(paths, diffId)?.source;
    throw new PilotError(
      'PILOT_IMAGE_UNKNOWN',
      `cannot export image ${escapeName(ref)} (${image.id}): layer ${i + 1} (${diffId}) is in no archive it was loaded from${source ? ` (${escapeName(source)} is gone or no longer holds it)` : ''}; the store keeps extracted layers, not their tarballs`,
      {
        hint: `load the image's archive again ("pilot load ARCHIVE"), then package again; or package without --with-images (the package then pulls the pinned image)`,
      },
    );
  });
}

async function mediaTypeOf(blob: BlobSource): Promise<string> {
  const type = LAYER_TYPES[await streamCompression(() => blob.open())];
  if (type === undefined) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `${blob.describe}: a layer compressed in a way OCI images do not use`,
      {
        hint: 'load the image from an archive with gzip, zstd or uncompressed layers',
      },
    );
  }
  return type;
}

/** The manifest: the store's own when it names exactly these blobs, else one written for them. */
async function manifestFor(
  paths: PilotPaths,
  image: ImageRecord,
  config: Buffer,
  layers: FoundLayer[],
): Promise<{ manifest: Buffer; original: boolean }> {
  const stored = storeBlob(paths, image.manifestDigest);
  if (stored) {
    try {
      const parsed = JSON.parse(stored.toString()) as {
        config?: { digest?: string };
        layers?: { digest?: string }[];
      };
      const digests = (parsed.layers ?? []).map((l) => l.digest);
      if (
        parsed.config?.digest === image.id &&
        digests.join() === layers.map((l) => l.digest).join()
      ) {
        return { manifest: stored, original: true };
      }
    } catch {
      // not a manifest pilot can read: write one
    }
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: image.id,
      size: config.length,
    },
    layers: await Promise.all(
      layers.map(async (l) => ({
        mediaType: await mediaTypeOf(l.blob),
        digest: l.digest,
        size: l.blob.size,
      })),
    ),
  };
  return { manifest: Buffer.from(`${JSON.stringify(manifest)}\n`), original: false };
}

/** Streams a layer blob into the open archive, checking its digest on the way. */
async function copyBlob(fd: number, name: string, layer: FoundLayer): Promise<void> {
  writeSync(fd, tarFileHeader(name, layer.blob.size));
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of layer.blob.open()) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
    writeSync(fd, chunk as Buffer);
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (digest !== layer.digest || size !== layer.blob.size) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `${layer.blob.describe}: its content (${digest}, ${size} bytes) is not the layer blob ${layer.digest} any more`,
      { hint: 'the archive changed since it was loaded: load the image again, then package again' },
    );
  }
  writeSync(fd, tarPadding(size));
}

function writeMember(fd: number, name: string, data: Buffer): void {
  writeSync(fd, tarFileHeader(name, data.length));
  writeSync(fd, data);
  writeSync(fd, tarPadding(data.length));
}

/** Writes `image` (named `ref` in the archive) to `file` as an oci-archive: whole, or not at all. */
export async function exportImage(
  paths: PilotPaths,
  image: ImageRecord,
  ref: string,
  file: string,
): Promise<ExportedImage> {
  const config = storeBlob(paths, image.id);
  if (!config) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `the config blob of image ${escapeName(ref)} (${image.id}) is missing or damaged in the store`,
      {
        hint: '"pilot verify --repair" restores it from the image\'s archive; or load the image again',
      },
    );
  }
  const scratch = mkdtempSync(join(tmpdir(), 'pilot-export-'));
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const layers = await findLayers(paths, image, ref, scratch);
    const { manifest, original } = await manifestFor(paths, image, config, layers);
    const manifestDigest = sha256(manifest);
    const index = Buffer.from(
      `${JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: manifestDigest,
            size: manifest.length,
            annotations: { 'org.opencontainers.image.ref.name': ref },
          },
        ],
      })}\n`,
    );
    const fd = openSync(temp, 'wx', 0o644);
    let size = 0;
    try {
      writeMember(fd, 'oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}\n'));
      writeMember(fd, 'index.json', index);
      writeMember(fd, `blobs/sha256/${digestHex(manifestDigest)}`, manifest);
      writeMember(fd, `blobs/sha256/${digestHex(image.id)}`, config);
      const written = new Set<string>();
      for (const layer of layers) {
        if (written.has(layer.digest)) continue;
        written.add(layer.digest);
        await copyBlob(fd, `blobs/sha256/${digestHex(layer.digest)}`, layer);
      }
      writeSync(fd, TAR_END);
      size = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    return { file, size, manifestDigest, original };
  } finally {
    rmSync(temp, { force: true });
    removeSync(scratch);
  }
}
