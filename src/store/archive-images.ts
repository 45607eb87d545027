/**
 * What an archive holds: for each image, its names, manifest, config and layer blobs.
 * Reads OCI archives (index.json, possibly nested indexes) here and docker archives
 * (manifest.json) in docker-archive.ts, verifying each metadata blob against the digest
 * that names it, within the limits of archive-metadata.ts. Pure reading: nothing here
 * writes to the store.
 */
import { PilotError } from '../core/errors.js';
import { escapeExcerpt, quoteExcerpt } from '../core/excerpt.js';
import type { ImageConfig } from '../core/image-record.js';
import { checkRefLength, refTooLong } from '../core/image-record.js';
import {
  type ConfigInfo,
  checkCount,
  checkDigest,
  configInfo,
  invalid,
  MAX_ARCHIVE_IMAGES,
  type MetadataReader,
  objectsIn,
  parseJson,
  readImageList,
  sha256,
} from './archive-metadata.js';
import { type ArchiveFiles, type BlobSource, unknownArchive } from './archive-source.js';
import { readDockerImages } from './docker-archive.js';
import { isObject } from './image-config.js';
import { checkGivenName, limitWarnings, ociNames, type Warn } from './ref-names.js';

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

function ociBlobName(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
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

/** The manifest a descriptor leads to, through nested indexes (each read once). */
async function pickManifest(reader: MetadataReader, top: Descriptor): Promise<Descriptor> {
  const source = reader.source;
  let descriptor = top;
  for (let depth = 0; INDEX_TYPES.has(descriptor.mediaType ?? ''); depth++) {
    if (depth > 4) throw invalid(source, 'image indexes nest too deep');
    const digest = checkDigest(source, descriptor.digest);
    descriptor = await reader.once(`index ${digest}`, async () => {
      const nested = parseJson<{ manifests?: Descriptor[] }>(
        source,
        ociBlobName(digest),
        await reader.verified(ociBlobName(digest), digest),
      );
      if (!Array.isArray(nested.manifests) || nested.manifests.length === 0) {
        throw invalid(source, `image index ${digest} lists no manifests`);
      }
      checkCount(
        source,
        `image index ${digest}`,
        nested.manifests.length,
        MAX_ARCHIVE_IMAGES,
        'manifests',
      );
      const listed = objectsIn<Descriptor>(source, `image index ${digest}`, nested.manifests);
      return pickPlatform(source, listed)[0]!;
    });
  }
  return descriptor;
}

/** An OCI manifest with its config and layers, read and checked once per digest. */
function ociManifest(
  reader: MetadataReader,
  manifestDigest: string,
): Promise<{ manifest: Buffer; config: ConfigInfo; layers: LayerPlan[] }> {
  return reader.once(`manifest ${manifestDigest}`, async () => {
    const { source, files } = reader;
    const manifestName = ociBlobName(manifestDigest);
    const manifest = await reader.verified(manifestName, manifestDigest);
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
    const config = await reader.once(`config ${configDigest}`, async () =>
      configInfo(reader, configName, await reader.verified(configName, configDigest), configDigest),
    );
    if (config.diffIds.length !== layers.length) {
      throw invalid(
        source,
        `manifest ${manifestDigest} has ${layers.length} layers but its config lists ${config.diffIds.length} diff_ids`,
      );
    }
    return {
      manifest,
      config,
      layers: layers.map((layer, i) => {
        const digest = checkDigest(source, layer.digest);
        const blobName = ociBlobName(digest);
        return { diffId: config.diffIds[i]!, blob: files.get(blobName), digest, blobName };
      }),
    };
  });
}

async function readOciImages(
  files: ArchiveFiles,
  given: string | undefined,
  warn: Warn,
): Promise<ImagePlan[]> {
  const { reader, list } = await readImageList<Descriptor>(files, 'index.json');
  const source = reader.source;
  const plans: ImagePlan[] = [];
  for (const top of pickPlatform(source, list)) {
    const manifestDigest = checkDigest(source, (await pickManifest(reader, top)).digest);
    const { manifest, config, layers } = await ociManifest(reader, manifestDigest);
    plans.push({
      names: ociNames(source, top.annotations, given, warn),
      manifest,
      manifestDigest,
      config: config.config,
      configDigest: config.configDigest,
      imageConfig: config.imageConfig,
      layers: [...layers],
    });
  }
  return plans;
}

/**
 * The names of an image that pilot can keep (image-record.ts, refTooLong). A longer name
 * the archive gives is refused before anything is written, unless --name gives the image
 * a name of the user's choice: then that one is skipped, with a warning.
 */
function keepableNames(
  source: string,
  names: string[],
  given: string | undefined,
  warn: Warn,
): string[] {
  const kept: string[] = [];
  for (const name of names) {
    const why = refTooLong(name);
    if (why === undefined) kept.push(name);
    else if (given !== undefined) warn(`${source}: ${why}; skipped`);
    else {
      throw new PilotError('PILOT_IMAGE_INVALID', `${source}: the archive's ${why}`, {
        hint: `load it with a name of your choice: "pilot load ${source} --name NAME" (the long name is then skipped)`,
      });
    }
  }
  return kept;
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
  if (options.name !== undefined) {
    checkGivenName(options.name);
    checkRefLength(options.name);
  }
  const kind = archiveKind(files);
  const warnings = limitWarnings(options.onWarning ?? (() => {}));
  const plans =
    kind === 'docker'
      ? await readDockerImages(files, options.name, warnings.warn)
      : await readOciImages(files, options.name, warnings.warn);
  if (options.name !== undefined && plans.length !== 1) {
    throw new PilotError(
      'PILOT_USAGE',
      `${files.source} holds ${plans.length} images; --name can name only one`,
      { hint: 'load without --name and tag the images by their archive names' },
    );
  }
  for (const plan of plans) {
    plan.names = keepableNames(files.source, [...new Set(plan.names)], options.name, warnings.warn);
  }
  warnings.finish();
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
