/**
 * `pilot load`: an archive into the store. Layers first (each extracted once, verified
 * against its digests), then config and manifest blobs, then the image record, then the
 * names. A crash at any point leaves no image record that points at a missing layer and
 * no name that points at a missing record.
 */

import { lstatSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../core/atomic-fs.js';
import { fsyncDir } from '../core/durable.js';
import { errnoOf } from '../core/errors.js';
import { checkRefLength, type ImageRecord, readImageById } from '../core/image-record.js';
import { makeDirs, PRIVATE_DIR_MODE } from '../core/modes.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { removeTree } from '../core/temp-entries.js';
import {
  checkGivenName,
  digestOf,
  type ImagePlan,
  readImagePlans,
  synthesizeManifest,
} from './archive-images.js';
import { openArchive } from './archive-source.js';
import { type EnsuredLayer, ensureLayer, layerPresent } from './layers.js';
import { markNewStore } from './store-format.js';
import { beginLoad, cleanStaleTemp } from './temp.js';

export interface LoadOptions {
  /** A name for the image (when the archive has none, or in addition). */
  name?: string | undefined;
  /** Bytes done of a step: decompressing a compressed archive (its bytes), then extracting layers. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** What the archive holds that pilot skips, e.g. a RepoTags entry that is no valid name. */
  onWarning?: ((message: string) => void) | undefined;
  /** Layers extracted at the same time (default: min(4, CPUs)). */
  concurrency?: number;
  /** Bytes a compressed archive may take decompressed (default: what the store's disk can spare). */
  scratchLimit?: number | undefined;
  /** The ref `pilot pull` fetched (its archive is a temp file; layer records name the ref). */
  pulled?: string | undefined;
}

export interface LoadResult {
  image: ImageRecord;
  names: string[];
  newLayers: number;
  reusedLayers: number;
}

export function writeBlob(paths: PilotPaths, digest: string, data: Buffer): void {
  const path = join(storeDirs.blobs(paths), digestHex(digest));
  try {
    if (lstatSync(path).size === data.length) {
      // Content-addressed: same name, same bytes. Its writer (maybe a concurrent load)
      // may not have synced the name yet, and the record about to name it will be.
      fsyncDir(storeDirs.blobs(paths));
      return;
    }
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
  writeFileAtomic(path, data);
}

/** Runs `tasks` with at most `limit` at a time, keyed so that equal keys run once. */
export class TaskPool {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

function ensureStoreDirs(paths: PilotPaths): void {
  for (const dir of [
    storeDirs.layers(paths),
    storeDirs.aliases(paths),
    storeDirs.blobs(paths),
    storeDirs.images(paths),
    storeDirs.refs(paths),
  ]) {
    makeDirs(dir);
  }
  makeDirs(storeDirs.tmp(paths), PRIVATE_DIR_MODE);
  markNewStore(paths);
}

/**
 * What a load or pull does before it writes: the store's directories (a new store gets
 * its format), stale temp entries swept, and a work dir of its own in tmp/ that gc sees.
 */
export async function openStoreWrite(paths: PilotPaths): Promise<string> {
  ensureStoreDirs(paths);
  try {
    cleanStaleTemp(paths);
  } catch {
    // Housekeeping only; gc retries.
  }
  return beginLoad(paths);
}

export async function loadArchive(
  paths: PilotPaths,
  source: string,
  options: LoadOptions = {},
): Promise<LoadResult[]> {
  // Before anything is read or written: a name the store cannot keep would fail after the layers.
  if (options.name !== undefined) {
    checkGivenName(options.name);
    checkRefLength(options.name);
  }
  const workDir = await openStoreWrite(paths);
  try {
    const files = await openArchive(source, workDir, {
      scratchLimit: options.scratchLimit,
      onProgress: options.onProgress,
    });
    const { plans } = await readImagePlans(files, {
      name: options.name,
      onWarning: options.onWarning,
    });
    return await loadPlans(paths, source, plans, workDir, options);
  } finally {
    removeTree(workDir);
  }
}

async function loadPlans(
  paths: PilotPaths,
  source: string,
  plans: ImagePlan[],
  workDir: string,
  options: LoadOptions,
): Promise<LoadResult[]> {
  const pool = new TaskPool(
    options.concurrency ?? Math.max(1, Math.min(4, availableParallelism())),
  );
  // Progress: each missing layer's blob is read once (validated and extracted together).
  let total = 0;
  let done = 0;
  const counted = new Set<string>();
  for (const plan of plans) {
    for (const layer of plan.layers) {
      if (counted.has(layer.diffId)) continue;
      counted.add(layer.diffId);
      if (!layerPresent(paths, layer.diffId)) total += layer.blob?.size ?? 0;
    }
  }
  const report = (bytes: number) => {
    done += bytes;
    options.onProgress?.(Math.min(done, total), total);
  };
  options.onProgress?.(0, total);

  const jobs = new Map<string, Promise<EnsuredLayer>>();
  const firstUser = new Map<string, ImagePlan>();
  // Each layer commits once the one before it has (ensureLayer), whatever becomes of it.
  let turn: Promise<unknown> = Promise.resolve();
  for (const plan of plans) {
    plan.layers.forEach((layer, i) => {
      if (jobs.has(layer.diffId)) return;
      firstUser.set(layer.diffId, plan);
      const label = `layer ${i + 1}/${plan.layers.length} (${layer.diffId}) of ${source}, blob ${layer.blobName}`;
      const after = turn;
      const job = pool.run(() =>
        ensureLayer(
          paths,
          workDir,
          {
            diffId: layer.diffId,
            blob: layer.blob,
            digest: layer.digest,
            label,
            ...(options.pulled !== undefined
              ? { pulled: options.pulled }
              : { source: resolve(source) }),
          },
          report,
          after,
        ),
      );
      turn = job.then(
        () => undefined,
        () => undefined,
      );
      job.catch(() => {
        // awaited below; this keeps a failure of a later layer from being "unhandled"
      });
      jobs.set(layer.diffId, job);
    });
  }

  const results: LoadResult[] = [];
  try {
    for (const plan of plans) {
      const layers: EnsuredLayer[] = [];
      for (const layer of plan.layers) layers.push(await jobs.get(layer.diffId)!);
      let newLayers = 0;
      let reusedLayers = 0;
      plan.layers.forEach((layer, i) => {
        if (layers[i]!.created && firstUser.get(layer.diffId) === plan) {
          newLayers++;
          firstUser.delete(layer.diffId);
        } else reusedLayers++;
      });
      results.push(commitImage(paths, plan, layers, newLayers, reusedLayers));
    }
  } catch (error) {
    await Promise.allSettled(jobs.values());
    throw error;
  }
  return results;
}

/** What a registry pull adds to the record: where from, and the trust policy's verdict. */
export type RecordOrigin = Pick<ImageRecord, 'pulled' | 'trust'>;

/**
 * The end of every load and pull, once all layers are in place: config and manifest
 * blobs, then the image record, then the names.
 */
export function commitImage(
  paths: PilotPaths,
  plan: ImagePlan,
  layers: EnsuredLayer[],
  newLayers: number,
  reusedLayers: number,
  origin: RecordOrigin = {},
): LoadResult {
  const existing = readImageById(paths, plan.configDigest);
  if (existing) {
    // The same image again (maybe from another kind of archive): keep the record as first
    // loaded, so its manifest digest stays stable; only the names are new, and a pull's
    // origin and verdict replace the earlier ones (the record says what was last checked).
    if (origin.pulled !== undefined || origin.trust !== undefined) {
      const updated: ImageRecord = { ...existing, ...origin };
      writeJsonAtomic(join(storeDirs.images(paths), `${digestHex(existing.id)}.json`), updated);
      Object.assign(existing, origin);
    }
    for (const name of plan.names) {
      writeFileAtomic(join(storeDirs.refs(paths), encodeURIComponent(name)), `${existing.id}\n`);
    }
    return { image: existing, names: plan.names, newLayers, reusedLayers };
  }
  const manifest =
    plan.manifest ??
    synthesizeManifest(
      plan,
      layers.map((layer) => layer.record.tarSize ?? 0),
    );
  const manifestDigest = plan.manifestDigest ?? digestOf(manifest);
  writeBlob(paths, plan.configDigest, plan.config);
  writeBlob(paths, manifestDigest, manifest);
  const sizes = new Map(layers.map((layer) => [layer.record.diffId, layer.record.size]));
  const image: ImageRecord = {
    id: plan.configDigest,
    manifestDigest,
    layers: plan.layers.map((layer) => layer.diffId),
    config: plan.imageConfig,
    size: [...sizes.values()].reduce((sum, size) => sum + size, 0),
    loaded: new Date().toISOString(),
    ...origin,
  };
  // The record goes in only now that every layer is in place; names only after it.
  // A layer this load found in place (or lost a race for) may have been renamed by a
  // writer that has not synced layers/ yet: sync it, so no record outlives its layers.
  if (reusedLayers > 0) fsyncDir(storeDirs.layers(paths));
  writeJsonAtomic(join(storeDirs.images(paths), `${digestHex(image.id)}.json`), image);
  for (const name of plan.names) {
    writeFileAtomic(join(storeDirs.refs(paths), encodeURIComponent(name)), `${image.id}\n`);
  }
  return { image, names: plan.names, newLayers, reusedLayers };
}
