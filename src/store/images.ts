/**
 * Listing, untagging and garbage collection of the store's images and layers.
 */
import { lstatSync, readlinkSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { removeEntry } from '../core/atomic-fs.js';
import { fsyncDir } from '../core/durable.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { faultPoint } from '../core/fault.js';
import type { TrustVerdict } from '../core/image-record.js';
import {
  type ImageRecord,
  listRefs,
  type PulledFrom,
  readImageById,
  refCandidates,
  resolveImage,
} from '../core/image-record.js';
import { listDir } from '../core/list-dir.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { removeTree, tempEntryOwner } from '../core/temp-entries.js';
import { layerManifestPath, layerRecordPath, readLayerRecord } from './layers.js';
import { cleanStaleTemp, makeTempDir, withGcLock } from './temp.js';

export interface ImageSummary {
  id: string;
  names: string[];
  size: number;
  layers: number;
  /** Bytes of this image's layers that another image uses too. */
  sharedSize: number;
  usedBy: string[];
  /** The registry ref and manifest digest a pull fetched it by; null for archives and podman. */
  pulled: PulledFrom | null;
  /** The trust policy's verdict at its pull; null when none was consulted. */
  trust: TrustVerdict | null;
}

/** Every image record in the store (records that cannot be read are skipped). */
export function readAllImages(paths: PilotPaths): ImageRecord[] {
  const images: ImageRecord[] = [];
  for (const entry of listDir(storeDirs.images(paths))) {
    const match = /^([a-f0-9]{64})\.json$/.exec(entry);
    if (!match) continue;
    try {
      const record = readImageById(paths, `sha256:${match[1]}`);
      if (record) images.push(record);
    } catch {
      // A record being replaced right now, or damaged: listing goes on.
    }
  }
  return images;
}

function namesById(paths: PilotPaths): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const [name, id] of listRefs(paths)) {
    const names = byId.get(id) ?? [];
    names.push(name);
    byId.set(id, names);
  }
  for (const names of byId.values()) names.sort();
  return byId;
}

function layerSize(paths: PilotPaths, diffId: string, cache: Map<string, number>): number {
  let size = cache.get(diffId);
  if (size === undefined) {
    size = readLayerRecord(paths, diffId)?.size ?? 0;
    cache.set(diffId, size);
  }
  return size;
}

export function listImages(paths: PilotPaths, usedBy?: (id: string) => string[]): ImageSummary[] {
  const images = readAllImages(paths);
  const names = namesById(paths);
  const users = new Map<string, number>();
  for (const image of images) {
    for (const diffId of new Set(image.layers)) users.set(diffId, (users.get(diffId) ?? 0) + 1);
  }
  const sizes = new Map<string, number>();
  const summaries = images.map((image): ImageSummary => {
    const unique = [...new Set(image.layers)];
    return {
      id: image.id,
      names: names.get(image.id) ?? [],
      size: image.size,
      layers: image.layers.length,
      sharedSize: unique
        .filter((diffId) => (users.get(diffId) ?? 0) > 1)
        .reduce((sum, diffId) => sum + layerSize(paths, diffId, sizes), 0),
      usedBy: usedBy?.(image.id) ?? [],
      pulled: image.pulled ?? null,
      trust: image.trust ?? null,
    };
  });
  return summaries.sort(
    (a, b) =>
      (a.names[0] ?? '\uffff').localeCompare(b.names[0] ?? '\uffff') || a.id.localeCompare(b.id),
  );
}

export interface RemoveOptions {
  force?: boolean;
  usedBy?: (id: string) => string[];
}

export interface RemoveResult {
  id: string;
  removed: string[];
}

/**
 * Removes a name. An id (`sha256:…` or a prefix of 12+ hex digits) removes every name
 * of that image. The image itself stays until `collectGarbage`.
 */
export function removeImageRef(
  paths: PilotPaths,
  ref: string,
  options: RemoveOptions = {},
): RemoveResult {
  const refs = listRefs(paths);
  const byName = refCandidates(ref).find((candidate) => refs.has(candidate));
  let id: string;
  let names: string[];
  if (byName !== undefined) {
    id = refs.get(byName)!;
    names = [byName];
  } else {
    id = resolveImage(paths, ref).id;
    names = [...refs].filter(([, target]) => target === id).map(([name]) => name);
  }
  const users = options.usedBy?.(id) ?? [];
  if (users.length > 0 && !options.force) {
    throw new PilotError(
      'PILOT_IMAGE_IN_USE',
      `image ${ref} (${id.slice(0, 19)}) is used by ${users.join(', ')}`,
      {
        hint: `remove those apps first ("pilot remove --app PATH"), or use "pilot rmi --force ${ref}"`,
      },
    );
  }
  const removed: string[] = [];
  for (const name of names) {
    try {
      removeEntry(join(storeDirs.refs(paths), encodeURIComponent(name)));
      removed.push(name);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
  }
  return { id, removed };
}

export interface GarbageResult {
  images: string[];
  layers: string[];
  bytesFreed: number;
}

function sizeOf(path: string): number {
  try {
    return lstatSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Deletes images that have no name and are not in `keepIds` (ids pinned by registered
 * apps), the blobs only they used, every layer no remaining image uses, and stale temp
 * entries. Waits for running loads, and holds loads off while it runs.
 */
export async function collectGarbage(
  paths: PilotPaths,
  keepIds: Set<string>,
  inUse: ReadonlySet<string> = new Set(),
): Promise<GarbageResult> {
  try {
    lstatSync(paths.store);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { images: [], layers: [], bytesFreed: 0 };
    throw error;
  }
  return withGcLock(paths, () => deleteUnusedImages(paths, keepIds, inUse));
}

/**
 * collectGarbage's work, for a caller that holds the gc lock. `inUse` holds store-relative
 * dirs running processes use (`layers/<hex>`, src/runtime/in-use.ts): such a layer stays,
 * with its record, even when no image uses it any more.
 */
export function deleteUnusedImages(
  paths: PilotPaths,
  keepIds: Set<string>,
  inUse: ReadonlySet<string>,
): GarbageResult {
  const result: GarbageResult = { images: [], layers: [], bytesFreed: 0 };
  cleanStaleTemp(paths);
  const named = new Set(listRefs(paths).values());
  const kept: ImageRecord[] = [];
  for (const image of readAllImages(paths)) {
    if (named.has(image.id) || keepIds.has(image.id)) {
      kept.push(image);
      continue;
    }
    const path = join(storeDirs.images(paths), `${digestHex(image.id)}.json`);
    result.bytesFreed += sizeOf(path);
    removeEntry(path);
    result.images.push(image.id);
  }
  // Deletes go in the reverse order of commits: no record may come back after a power
  // cut to name blobs and layers that are gone for good.
  if (result.images.length > 0) fsyncDir(storeDirs.images(paths));

  const keptBlobs = new Set(
    kept.flatMap((image) => [digestHex(image.id), digestHex(image.manifestDigest)]),
  );
  for (const entry of listDir(storeDirs.blobs(paths))) {
    if (keptBlobs.has(entry) || entry.startsWith('.')) continue;
    const path = join(storeDirs.blobs(paths), entry);
    result.bytesFreed += sizeOf(path);
    removeEntry(path);
  }

  const keptLayers = new Set(
    kept.flatMap((image) => image.layers.map((diffId) => digestHex(diffId))),
  );
  const trash = makeTempDir(paths, 'gc');
  try {
    for (const entry of listDir(storeDirs.layers(paths))) {
      const match = /^([a-f0-9]{64})(\.json|\.manifest)?$/.exec(entry);
      if (!match || keptLayers.has(match[1]!) || inUse.has(`layers/${match[1]}`)) continue;
      const diffId = `sha256:${match[1]}`;
      if (match[2]) {
        // A record or manifest whose layer is gone (or never arrived: a load killed mid-way).
        if (result.layers.includes(diffId)) continue; // went with its layer below
        try {
          lstatSync(join(storeDirs.layers(paths), match[1]!));
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT') throw error;
          removeEntry(join(storeDirs.layers(paths), entry));
        }
        continue;
      }
      const size = readLayerRecord(paths, diffId)?.size ?? 0;
      // Rename first: the layer vanishes in one step, and the slow delete happens in tmp/.
      faultPoint(`rename ${join(storeDirs.layers(paths), entry)} to trash`);
      renameSync(join(storeDirs.layers(paths), entry), join(trash, entry));
      // The name is gone for good before any file below it is: else a half-deleted
      // tree could come back as the layer after a power cut.
      fsyncDir(storeDirs.layers(paths));
      removeEntry(layerRecordPath(paths, diffId));
      removeEntry(layerManifestPath(paths, diffId));
      removeTree(join(trash, entry));
      result.bytesFreed += size;
      result.layers.push(diffId);
    }
  } finally {
    removeTree(trash);
  }

  // Aliases whose layer is gone.
  for (const entry of listDir(storeDirs.aliases(paths))) {
    if (tempEntryOwner(entry, 'own')) continue; // a writer's, or gc's sweep of leftovers
    const alias = join(storeDirs.aliases(paths), entry);
    let target: string;
    try {
      target = readlinkSync(alias);
    } catch {
      continue;
    }
    try {
      lstatSync(join(storeDirs.aliases(paths), target));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') removeEntry(alias);
    }
  }
  return result;
}
