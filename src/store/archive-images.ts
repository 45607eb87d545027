/**
 * What an archive holds: for each image, its names, manifest, config and layer blobs.
 * Reads OCI (index.json, possibly nested indexes) and docker (manifest.json) archives,
 * verifying each metadata blob against the digest that names it. Pure reading: nothing
 * here writes to the store.
 */
import { createHash } from 'node:crypto';
import { PilotError } from '../core/errors.js';
import { escapeExcerpt, quoteExcerpt } from '../core/excerpt.js';
import type { ImageConfig } from '../core/image-record.js';
import { normalizeRef } from '../core/image-record.js';
import { describeJsonError } from '../core/json-error.js';
import {
  type ArchiveFiles,
  type BlobSource,
  readArchiveFile,
  unknownArchive,
} from './archive-source.js';
import { isObject, pickImageConfig } from './image-config.js';
import { checkGivenName, limitWarnings, ociNames, repoTagNames, type Warn } from './ref-names.js';

export { checkGivenName, refProblem, validRef, type Warn } from './ref-names.js';

export interface LayerPlan {
  diffId: string;
  blob: BlobSource | undefined;
  /** The blob digest the manifest gives (docker-archives: from a `blobs/sha256/` path). */
  digest: string | undefined;
  /** Blob name inside the archive, for messages. */
  blobName: string;
}

export interface ImagePlan {
  names: string[];
  /** The manifest as stored; undefined for docker-archives (synthesized after load). */
  manifest: Buffer | undefined;
  manifestDigest: string | undefined;
  config: Buffer;
  configDigest: string;
  imageConfig: ImageConfig;
  layers: LayerPlan[];
}

export type ArchiveKind = 'oci' | 'docker';

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
}

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function digestMismatch(what: string, actual: string, expected: string): PilotError {
  return new PilotError(
    'PILOT_DIGEST_MISMATCH',
    `${what}: its digest is ${actual}, but ${expected} was expected`,
    { hint: 'the archive is corrupt or was modified; save or download it again' },
  );
}

function invalid(source: string, why: string): PilotError {
  return new PilotError('PILOT_IMAGE_INVALID', `${source}: ${why}`, {
    hint: 'the archive is incomplete or not an image; save it again with "podman save --format oci-archive"',
  });
}

/** A JSON object, as every metadata file is: `null`, a list or a number is refused by name. */
function parseJson<T>(
  source: string,
  name: string,
  data: Buffer,
  shape: 'object' | 'list' = 'object',
): T {
  const text = data.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not V8's message: it quotes the input raw, escapes and all.
    throw invalid(source, describeJsonError(escapeExcerpt(name), text));
  }
  if (shape === 'list' ? !Array.isArray(value) : !isObject(value)) {
    throw invalid(source, `${escapeExcerpt(name)} is not a JSON ${shape}`);
  }
  return value as T;
}

/** The entries of a JSON list that must hold objects (descriptors, manifest.json entries). */
function objectsIn<T>(source: string, what: string, list: unknown[]): T[] {
  list.forEach((item, i) => {
    if (!isObject(item)) throw invalid(source, `${what} entry ${i + 1} is not a JSON object`);
  });
  return list as T[];
}

function checkDigest(source: string, digest: unknown): string {
  if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw invalid(
      source,
      `unsupported or malformed digest ${quoteExcerpt(String(JSON.stringify(digest)))} (only sha256 is supported)`,
    );
  }
  return digest;
}

function ociBlobName(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

async function readVerified(files: ArchiveFiles, name: string, digest: string): Promise<Buffer> {
  const data = await readArchiveFile(files, name);
  if (!data) throw invalid(files.source, `blob ${name} is missing`);
  const actual = sha256(data);
  if (actual !== digest) throw digestMismatch(`${files.source}: blob ${name}`, actual, digest);
  return data;
}

export function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

/** Among several platform entries, the host's; entries without platform always qualify. */
function pickPlatform(source: string, descriptors: Descriptor[]): Descriptor[] {
  for (const d of descriptors) {
    if (d.platform !== undefined && !isObject(d.platform)) {
      throw invalid(
        source,
        `the platform of ${quoteExcerpt(String(d.digest))} is not a JSON object`,
      );
    }
  }
  if (!descriptors.some((d) => d.platform)) return descriptors;
  const host = hostPlatform();
  const matching = descriptors.filter(
    (d) =>
      !d.platform || (d.platform.os === host.os && d.platform.architecture === host.architecture),
  );
  if (matching.length === 0) {
    const offered = descriptors
      .map((d) => escapeExcerpt(`${d.platform?.os ?? '?'}/${d.platform?.architecture ?? '?'}`, 40))
      .join(', ');
    throw invalid(
      source,
      `no image for ${host.os}/${host.architecture} (the archive has ${offered})`,
    );
  }
  return matching.slice(0, 1);
}

interface RawConfig {
  config?: unknown;
  rootfs?: unknown;
}

function diffIdsOf(source: string, name: string, raw: RawConfig): string[] {
  const ids = isObject(raw.rootfs) ? raw.rootfs.diff_ids : undefined;
  if (!Array.isArray(ids)) throw invalid(source, `image config ${name} has no rootfs.diff_ids`);
  return ids.map((id) => checkDigest(`${source}: image config ${name}`, id));
}

async function readOciImages(
  files: ArchiveFiles,
  given: string | undefined,
  warn: Warn,
): Promise<ImagePlan[]> {
  const source = files.source;
  const indexData = await readArchiveFile(files, 'index.json');
  if (!indexData) throw invalid(source, 'index.json is missing');
  const index = parseJson<{ manifests?: Descriptor[] }>(source, 'index.json', indexData);
  if (!Array.isArray(index.manifests) || index.manifests.length === 0) {
    throw invalid(source, 'index.json lists no manifests');
  }
  const manifests = objectsIn<Descriptor>(source, 'index.json: manifests', index.manifests);
  const plans: ImagePlan[] = [];
  for (const top of pickPlatform(source, manifests)) {
    let descriptor = top;
    for (let depth = 0; INDEX_TYPES.has(descriptor.mediaType ?? ''); depth++) {
      if (depth > 4) throw invalid(source, 'image indexes nest too deep');
      const digest = checkDigest(source, descriptor.digest);
      const nested = parseJson<{ manifests?: Descriptor[] }>(
        source,
        ociBlobName(digest),
        await readVerified(files, ociBlobName(digest), digest),
      );
      if (!Array.isArray(nested.manifests) || nested.manifests.length === 0) {
        throw invalid(source, `image index ${digest} lists no manifests`);
      }
      const listed = objectsIn<Descriptor>(source, `image index ${digest}`, nested.manifests);
      descriptor = pickPlatform(source, listed)[0]!;
    }
    const manifestDigest = checkDigest(source, descriptor.digest);
    const manifestName = ociBlobName(manifestDigest);
    const manifest = await readVerified(files, manifestName, manifestDigest);
    const parsed = parseJson<{ config?: Descriptor; layers?: Descriptor[]; mediaType?: string }>(
      source,
      manifestName,
      manifest,
    );
    if (!isObject(parsed.config) || !Array.isArray(parsed.layers)) {
      throw invalid(source, `${manifestName} is not an image manifest (no config or layers)`);
    }
    const layers = objectsIn<Descriptor>(source, `${manifestName}: layers`, parsed.layers);
    const configDigest = checkDigest(source, parsed.config.digest);
    const configName = ociBlobName(configDigest);
    const config = await readVerified(files, configName, configDigest);
    const rawConfig = parseJson<RawConfig>(source, configName, config);
    const diffIds = diffIdsOf(source, configName, rawConfig);
    if (diffIds.length !== layers.length) {
      throw invalid(
        source,
        `manifest ${manifestDigest} has ${layers.length} layers but its config lists ${diffIds.length} diff_ids`,
      );
    }
    plans.push({
      names: ociNames(source, top.annotations, given, warn),
      manifest,
      manifestDigest,
      config,
      configDigest,
      imageConfig: pickImageConfig(`${source}: image config ${configName}`, rawConfig.config),
      layers: layers.map((layer, i) => {
        const digest = checkDigest(source, layer.digest);
        const blobName = ociBlobName(digest);
        return { diffId: diffIds[i]!, blob: files.get(blobName), digest, blobName };
      }),
    });
  }
  return plans;
}

interface DockerManifestEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

/** `blobs/sha256/<hex>` and `<hex>.json` name their content's digest: check it. */
function digestInName(name: string): string | undefined {
  const match = /(?:^|\/)(?:blobs\/sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(name);
  return match && (name.includes('blobs/sha256/') || name.endsWith('.json'))
    ? `sha256:${match[1]}`
    : undefined;
}

async function readDockerImages(
  files: ArchiveFiles,
  given: string | undefined,
  warn: Warn,
): Promise<ImagePlan[]> {
  const source = files.source;
  const data = await readArchiveFile(files, 'manifest.json');
  if (!data) throw invalid(source, 'manifest.json is missing');
  const list = parseJson<unknown[]>(source, 'manifest.json', data, 'list');
  if (list.length === 0) throw invalid(source, 'manifest.json lists no images');
  const entries = objectsIn<DockerManifestEntry>(source, 'manifest.json', list);
  const plans: ImagePlan[] = [];
  for (const entry of entries) {
    if (
      typeof entry.Config !== 'string' ||
      !Array.isArray(entry.Layers) ||
      !entry.Layers.every((name) => typeof name === 'string')
    ) {
      throw invalid(source, 'manifest.json has an entry without Config or Layers');
    }
    // Names from manifest.json go into messages escaped; files are looked up by the real one.
    const configName = escapeExcerpt(entry.Config);
    const config = await readArchiveFile(files, entry.Config);
    if (!config) throw invalid(source, `config ${configName} is missing`);
    const configDigest = sha256(config);
    const named = digestInName(entry.Config);
    if (named && named !== configDigest) {
      throw digestMismatch(`${source}: config ${configName}`, configDigest, named);
    }
    const rawConfig = parseJson<RawConfig>(source, entry.Config, config);
    const diffIds = diffIdsOf(source, configName, rawConfig);
    if (diffIds.length !== entry.Layers.length) {
      throw invalid(
        source,
        `manifest.json lists ${entry.Layers.length} layers for ${configName} but its config lists ${diffIds.length} diff_ids`,
      );
    }
    if (entry.RepoTags != null && !Array.isArray(entry.RepoTags)) {
      throw invalid(source, `manifest.json: the RepoTags of ${configName} are not a list`);
    }
    const names = repoTagNames(source, configName, entry.RepoTags ?? [], warn);
    if (given !== undefined) names.push(normalizeRef(given));
    plans.push({
      names,
      manifest: undefined,
      manifestDigest: undefined,
      config,
      configDigest,
      imageConfig: pickImageConfig(`${source}: image config ${configName}`, rawConfig.config),
      layers: entry.Layers.map((name, i) => ({
        diffId: diffIds[i]!,
        blob: files.get(name),
        digest: name.includes('blobs/sha256/') ? digestInName(name) : undefined,
        blobName: escapeExcerpt(name),
      })),
    });
  }
  return plans;
}

export function archiveKind(files: ArchiveFiles): ArchiveKind {
  // Docker 25+ writes both layouts; manifest.json is the one with the full names.
  if (files.has('manifest.json')) return 'docker';
  if (files.has('index.json') || files.has('oci-layout')) return 'oci';
  throw unknownArchive(files.source, 'it has neither index.json nor manifest.json');
}

export async function readImagePlans(
  files: ArchiveFiles,
  options: { name?: string | undefined; onWarning?: Warn | undefined } = {},
): Promise<{ kind: ArchiveKind; plans: ImagePlan[] }> {
  if (options.name !== undefined) checkGivenName(options.name);
  const kind = archiveKind(files);
  const warnings = limitWarnings(options.onWarning ?? (() => {}));
  const plans =
    kind === 'docker'
      ? await readDockerImages(files, options.name, warnings.warn)
      : await readOciImages(files, options.name, warnings.warn);
  warnings.finish();
  if (options.name !== undefined && plans.length !== 1) {
    throw new PilotError(
      'PILOT_USAGE',
      `${files.source} holds ${plans.length} images; --name can name only one`,
      { hint: 'load without --name and tag the images by their archive names' },
    );
  }
  for (const plan of plans) plan.names = [...new Set(plan.names)];
  return { kind, plans };
}

/** An OCI manifest for a docker-archive image: uncompressed layers named by diff_id. */
export function synthesizeManifest(plan: ImagePlan, tarSizes: number[]): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: plan.configDigest,
      size: plan.config.length,
    },
    layers: plan.layers.map((layer, i) => ({
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: layer.diffId,
      size: tarSizes[i] ?? 0,
    })),
  };
  return Buffer.from(`${JSON.stringify(manifest)}\n`);
}

export function digestOf(data: Buffer): string {
  return sha256(data);
}
