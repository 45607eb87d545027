/**
 * Layer directories in the store: `layers/<hex>/` (the extracted tree), its record
 * `layers/<hex>.json` and its short alias `l/<10 hex>`.
 *
 * A layer is present exactly when its directory exists. The directory only ever appears
 * by one rename of a complete staging dir, and the record is written just before that
 * rename, so no reader can find a half layer, and a crash leaves at most a record
 * without a directory (ignored, and rewritten by the next extraction).
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { symlinkAtomic, writeFileAtomic, writeJsonAtomic } from '../core/atomic-fs.js';
import { debugStep } from '../core/debug.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { layerAlias } from '../core/image-record.js';
import { makeDirs } from '../core/modes.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { STORE_FORMAT } from '../core/store-version.js';
import { treeSize } from '../core/tree-size.js';
import type { BlobSource } from './archive-source.js';
import { type ExtractResult, extractTarSafely } from './extract.js';
import { serializeManifest } from './layer-manifest.js';
import { manifestScanner, readOverlayXattrs } from './layer-manifest-scan.js';
import {
  layerManifestPath,
  layerRecordPath,
  opaqueDirsOfTree,
  readLayerRecord,
  type StoredLayerRecord,
} from './layer-record.js';

export {
  layerManifestPath,
  layerRecordPath,
  readLayerRecord,
  type StoredLayerRecord,
} from './layer-record.js';

export function layerPresent(paths: PilotPaths, diffId: string): boolean {
  try {
    return lstatSync(storeDirs.layer(paths, diffId)).isDirectory();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

/** Creates or repairs `l/<alias>` → `../layers/<hex>` (symlink to a temp name + rename). */
export function ensureLayerAlias(paths: PilotPaths, diffId: string): void {
  const hex = digestHex(diffId);
  const alias = join(storeDirs.aliases(paths), layerAlias(diffId));
  const target = `../layers/${hex}`;
  try {
    const current = readlinkSync(alias);
    if (current === target) return;
    const other = current.replace(/^\.\.\/layers\//, '');
    if (/^[a-f0-9]{64}$/.test(other) && other !== hex && layerPresent(paths, `sha256:${other}`)) {
      throw new PilotError(
        'PILOT_INTERNAL',
        `layer alias ${alias} is taken by layer sha256:${other}; sha256:${hex} shares its first ${layerAlias(diffId).length} hex digits`,
        { hint: 'remove one of the two images ("pilot rmi") and run "pilot gc"' },
      );
    }
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'EINVAL') throw error;
  }
  makeDirs(storeDirs.aliases(paths));
  symlinkAtomic(target, alias);
}

/** Makes sure a present layer also has its record and alias (repairs after a crash). */
export function repairLayerIndex(paths: PilotPaths, diffId: string): StoredLayerRecord {
  let record = readLayerRecord(paths, diffId);
  if (!record || record.diffId !== diffId) {
    record = {
      diffId,
      alias: layerAlias(diffId),
      size: treeSize(storeDirs.layer(paths, diffId)),
      opaqueDirs: opaqueDirsOfTree(storeDirs.layer(paths, diffId)),
    };
    writeJsonAtomic(layerRecordPath(paths, diffId), record);
  }
  ensureLayerAlias(paths, diffId);
  return record;
}

export interface LayerToLoad {
  diffId: string;
  /** The blob as stored in the archive; undefined when the archive lacks it. */
  blob: BlobSource | undefined;
  /** Digest of the blob as the manifest names it, when it names one. */
  digest?: string | undefined;
  /** For messages: which archive and image. */
  label: string;
  /** Where it came from, kept in the record so that `verify --repair` knows where to look. */
  source?: string | undefined;
  pulled?: string | undefined;
}

export interface EnsuredLayer {
  record: StoredLayerRecord;
  created: boolean;
}

/**
 * What the store records of a layer it has just extracted (a load, or `verify --repair`
 * extracting it again): sizes, when, the owners and modes it had, where it came from.
 */
export function extractedLayerRecord(
  diffId: string,
  extracted: ExtractResult,
  origin: { source?: string | undefined; pulled?: string | undefined },
): StoredLayerRecord {
  return {
    diffId,
    alias: layerAlias(diffId),
    size: extracted.size,
    tarSize: extracted.tarSize,
    entries: extracted.entries,
    extracted: new Date().toISOString(),
    original: extracted.original,
    opaqueDirs: extracted.opaqueDirs,
    format: STORE_FORMAT,
    ...(origin.source !== undefined ? { source: origin.source } : {}),
    ...(origin.pulled !== undefined ? { pulled: origin.pulled } : {}),
  };
}

/**
 * Extracts a layer unless it is present already. Safe against concurrent loaders.
 * `turn` settles when the layer before this one in the load has made its last commit:
 * layers are read and extracted side by side, but they change the store one after the
 * other, in the archive's order, so that every run of a load commits in the same order.
 */
export async function ensureLayer(
  paths: PilotPaths,
  tmpDir: string,
  layer: LayerToLoad,
  onBytes?: (bytes: number) => void,
  turn: Promise<unknown> = Promise.resolve(),
): Promise<EnsuredLayer> {
  if (layerPresent(paths, layer.diffId)) {
    await turn;
    return { record: repairLayerIndex(paths, layer.diffId), created: false };
  }
  if (!layer.blob) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `${layer.label}: the archive has no blob for this layer`,
      {
        hint: 'save the image again with all its layers',
      },
    );
  }
  const blob = layer.blob;
  makeDirs(storeDirs.layers(paths));
  makeDirs(storeDirs.aliases(paths));
  let record: StoredLayerRecord | undefined;
  // The manifest is read in canonicalisation's walk of the finished tree.
  const scanner = manifestScanner();
  const result: ExtractResult = await extractTarSafely(
    { open: () => blob.open() },
    storeDirs.layer(paths, layer.diffId),
    {
      tmpDir,
      label: layer.label,
      expectedDigest: layer.digest,
      expectedDiffId: layer.diffId,
      onBytes,
      onEntry: (entry, bodies) => scanner.visit(entry, (rel, size) => bodies.get(rel, size)),
      beforeCommit: async (extracted, staging) => {
        const manifest = serializeManifest(scanner.entries(readOverlayXattrs(staging)));
        debugStep(`scanned ${layer.label}`);
        await turn;
        // The manifest before the record, both before the rename: a present layer has both.
        writeFileAtomic(layerManifestPath(paths, layer.diffId), manifest);
        record = extractedLayerRecord(layer.diffId, extracted, layer);
        writeJsonAtomic(layerRecordPath(paths, layer.diffId), record);
      },
    },
  );
  if (!result.created) {
    await turn;
    // Another process renamed its copy first; its record may differ only in time.
    return { record: repairLayerIndex(paths, layer.diffId), created: false };
  }
  ensureLayerAlias(paths, layer.diffId);
  return { record: record!, created: true };
}
