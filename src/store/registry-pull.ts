/**
 * `pilot pull` from a registry, fetching only what the store lacks: the manifest (an
 * index leads to the host's platform), the trust policy's say on it, the config, then
 * only the layers whose diff_id the store has no tree for, four at a time, each
 * extracted as soon as its blob is in. The commit order is load's (load.ts): layers,
 * config and manifest blobs, the image record, the names. Blobs wait in the pull's
 * temp dir (tmp/, announced to gc like a load's); a pull killed at any point leaves
 * complete layers and a dead temp dir, which the next command sweeps, and the same
 * pull again fetches only the layers still missing.
 */
import { createReadStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { debugStep } from '../core/debug.js';
import { PilotError } from '../core/errors.js';
import { readIfPresent } from '../core/fs-query.js';
import { checkRefLength, type ImageRecord, normalizeRef } from '../core/image-record.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { removeTree } from '../core/temp-entries.js';
import type { ImagePlan } from './archive-images.js';
import { diffIdsOf, parseJson, type RawConfig } from './archive-metadata.js';
import { type DockerReference, parsePullReference, referenceString } from './docker-reference.js';
import { pickImageConfig } from './image-config.js';
import { type EnsuredLayer, ensureLayer, layerPresent } from './layers.js';
import { commitImage, type LoadResult, openStoreWrite, TaskPool } from './load.js';
import { checkGivenName } from './ref-names.js';
import {
  type ClientOptions,
  type FetchedManifest,
  RegistryClient,
  sha256Of,
} from './registry/client.js';
import {
  choosePlatform,
  type Descriptor,
  MAX_MANIFEST_BYTES,
  type ManifestDocument,
  parseManifest,
} from './registry/manifest.js';
import type { TrustRequest, TrustVerdict } from './trust/types.js';

export interface RegistryPullOptions extends ClientOptions {
  /** A name for the image besides the ref itself. */
  name?: string | undefined;
  /**
   * The trust policy (src/store/trust/): called once the top-level manifest is fetched
   * and verified, before any blob is fetched or anything stored. A throw aborts the
   * pull; the verdict goes into the image record.
   */
  trust?: ((request: TrustRequest) => Promise<TrustVerdict>) | undefined;
  /** Bytes fetched and extracted of the layers the store lacks. */
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Layers fetched and extracted at a time (default 4). */
  concurrency?: number | undefined;
}

export interface RegistryPullResult extends LoadResult {
  /** Layer blobs fetched from the registry, and their bytes. */
  fetchedLayers: number;
  fetchedBytes: number;
}

/** Nested indexes are followed this deep. */
const MAX_INDEX_DEPTH = 2;

/** The image manifest for this host: the top one, or the one an index leads to. */
async function imageManifest(
  client: RegistryClient,
  reference: DockerReference,
  top: FetchedManifest,
): Promise<{ manifest: FetchedManifest; document: Extract<ManifestDocument, { kind: 'image' }> }> {
  let manifest = top;
  for (let depth = 0; ; depth++) {
    const where = `${referenceString(reference)} (manifest ${manifest.digest})`;
    const document = parseManifest(manifest.bytes, manifest.contentType, where);
    if (document.kind === 'image') return { manifest, document };
    if (depth >= MAX_INDEX_DEPTH) {
      throw new PilotError('PILOT_IMAGE_INVALID', `${where}: image indexes nest too deep`, {
        hint: 'push the image again with podman, skopeo or docker',
      });
    }
    const chosen = choosePlatform(document.manifests, referenceString(reference));
    debugStep(`index ${manifest.digest}: chose ${chosen.digest}`);
    manifest = await client.getManifest(chosen.digest);
  }
}

interface ConfigInfo {
  bytes: Buffer;
  digest: string;
  diffIds: string[];
  imageConfig: ImageRecord['config'];
}

/** A metadata blob the store holds (blobs/sha256/HEX), when its bytes still match. */
function storedBlob(paths: PilotPaths, digest: string): Buffer | undefined {
  const bytes = readIfPresent(join(storeDirs.blobs(paths), digestHex(digest)));
  return bytes !== undefined && sha256Of(bytes) === digest ? bytes : undefined;
}

async function fetchConfig(
  paths: PilotPaths,
  client: RegistryClient,
  reference: DockerReference,
  config: Descriptor,
): Promise<ConfigInfo> {
  const where = `${referenceString(reference)}: image config ${config.digest}`;
  if (config.size > MAX_MANIFEST_BYTES) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `${where} has ${config.size} bytes; pilot reads configs of at most ${MAX_MANIFEST_BYTES}`,
      { hint: 'a real image config has a few kilobytes; push the image again' },
    );
  }
  // An image the store has already: its config is there, no need to ask for it again.
  const bytes =
    storedBlob(paths, config.digest) ??
    (await client.getBlob(config, MAX_MANIFEST_BYTES, 'the image config'));
  const raw = parseJson<RawConfig>(
    referenceString(reference),
    `image config ${config.digest}`,
    bytes,
  );
  return {
    bytes,
    digest: config.digest,
    diffIds: diffIdsOf(referenceString(reference), config.digest, raw),
    imageConfig: pickImageConfig(where, raw.config),
  };
}

function blobSourceOf(file: string, size: number, describe: string) {
  return { describe, size, open: () => createReadStream(file, { highWaterMark: 1024 * 1024 }) };
}

export async function pullFromRegistry(
  paths: PilotPaths,
  ref: string,
  options: RegistryPullOptions = {},
): Promise<RegistryPullResult> {
  const reference = parsePullReference(ref);
  const names = [normalizeRef(ref)];
  if (options.name !== undefined) {
    checkGivenName(options.name);
    names.push(normalizeRef(options.name));
  }
  for (const name of names) checkRefLength(name);
  const shown = referenceString(reference);
  const client = new RegistryClient(reference, options);

  // The registry is asked, and the trust policy heard, before the store is touched: a
  // refused login or a rejected image leaves it exactly as it was.
  const top = await client.getManifest(reference.digest ?? reference.tag!);
  debugStep(`fetched manifest ${top.digest} of ${shown}`);
  const trust = options.trust
    ? await options.trust({
        reference,
        manifest: top.bytes,
        manifestDigest: top.digest,
        fetch: (url) => client.fetchUrl(url),
      })
    : undefined;
  const workDir = await openStoreWrite(paths);
  try {
    const { manifest, document } = await imageManifest(client, reference, top);
    const config = await fetchConfig(paths, client, reference, document.config);
    if (config.diffIds.length !== document.layers.length) {
      throw new PilotError(
        'PILOT_IMAGE_INVALID',
        `${shown}: manifest ${manifest.digest} has ${document.layers.length} layers but its config lists ${config.diffIds.length} diff_ids`,
        { hint: 'push the image again with podman, skopeo or docker' },
      );
    }
    const layers = document.layers.map((descriptor, i) => ({
      descriptor,
      diffId: config.diffIds[i]!,
    }));

    // Only what the store lacks is fetched; each diff_id once.
    const missing = new Map<string, Descriptor>();
    for (const layer of layers) {
      if (!missing.has(layer.diffId) && !layerPresent(paths, layer.diffId)) {
        missing.set(layer.diffId, layer.descriptor);
      }
    }
    // Each missing blob is read three times: fetched, validated, extracted.
    const total = [...missing.values()].reduce((sum, d) => sum + 3 * d.size, 0);
    let done = 0;
    const report = (bytes: number) => {
      done += bytes;
      options.onProgress?.(Math.min(done, total), total);
    };
    options.onProgress?.(0, total);

    const pool = new TaskPool(options.concurrency ?? 4);
    let fetchedBytes = 0;
    const jobs = new Map<string, Promise<EnsuredLayer>>();
    layers.forEach((layer, i) => {
      if (jobs.has(layer.diffId)) return;
      const label = `layer ${i + 1}/${layers.length} (${layer.diffId}) of ${shown}`;
      const descriptor = missing.get(layer.diffId);
      const job = pool.run(async () => {
        if (descriptor === undefined) {
          return ensureLayer(paths, workDir, {
            diffId: layer.diffId,
            blob: undefined,
            label,
            pulled: shown,
          });
        }
        const file = join(workDir, `blob-${digestHex(descriptor.digest)}`);
        await client.downloadBlob(descriptor, file, label, report);
        fetchedBytes += descriptor.size;
        debugStep(`fetched ${label}`);
        try {
          return await ensureLayer(
            paths,
            workDir,
            {
              diffId: layer.diffId,
              blob: blobSourceOf(file, descriptor.size, `${label}, blob ${descriptor.digest}`),
              digest: descriptor.digest,
              label: `${label}, blob ${descriptor.digest}`,
              pulled: shown,
            },
            report,
          );
        } finally {
          rmSync(file, { force: true });
        }
      });
      job.catch(() => {
        // awaited below; this keeps a failure of a later layer from being "unhandled"
      });
      jobs.set(layer.diffId, job);
    });
    let ensured: EnsuredLayer[];
    try {
      ensured = [];
      for (const layer of layers) ensured.push(await jobs.get(layer.diffId)!);
    } catch (error) {
      await Promise.allSettled(jobs.values());
      throw error;
    }
    const created = new Set<string>();
    let newLayers = 0;
    let reusedLayers = 0;
    layers.forEach((layer, i) => {
      if (ensured[i]!.created && !created.has(layer.diffId)) {
        created.add(layer.diffId);
        newLayers++;
      } else reusedLayers++;
    });
    const plan: ImagePlan = {
      names,
      manifest: manifest.bytes,
      manifestDigest: manifest.digest,
      config: config.bytes,
      configDigest: config.digest,
      imageConfig: config.imageConfig,
      layers: layers.map((layer) => ({
        diffId: layer.diffId,
        blob: undefined,
        digest: layer.descriptor.digest,
        blobName: layer.descriptor.digest,
      })),
    };
    const result = commitImage(paths, plan, ensured, newLayers, reusedLayers, {
      pulled: { ref: shown, digest: top.digest, at: new Date().toISOString() },
      ...(trust !== undefined ? { trust } : {}),
    });
    return { ...result, fetchedLayers: missing.size, fetchedBytes };
  } finally {
    removeTree(workDir);
  }
}
