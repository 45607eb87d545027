/**
 * Manifests a registry serves: OCI and Docker schema 2 image manifests and indexes
 * (manifest lists), checked for the shape pilot relies on. Schema 1 is refused by name.
 * Pure: bytes in, data out.
 */
import { PilotError } from '../../core/errors.js';
import { escapeExcerpt, quoteExcerpt } from '../../core/excerpt.js';
import { parseJsonText } from '../../core/json-error.js';
import { hostPlatform } from '../archive-images.js';
import { isObject } from '../image-config.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** What a manifest GET accepts: the four pilot reads (schema 1 is not asked for). */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerList,
].join(', ');

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** Manifests, indexes and configs: the most one may have. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Entries of one index, layers of one image. */
export const MAX_ENTRIES = 1000;

export interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string | undefined;
  digest: string;
  size: number;
  platform?: Platform | undefined;
}

export type ManifestDocument =
  | { kind: 'index'; manifests: Descriptor[] }
  | { kind: 'image'; config: Descriptor; layers: Descriptor[] };

function invalid(where: string, why: string): PilotError {
  return new PilotError('PILOT_IMAGE_INVALID', `${where}: ${why}`, {
    hint: 'the registry serves a manifest pilot cannot read; push the image again with podman, skopeo or docker',
  });
}

function descriptorAt(where: string, what: string, value: unknown): Descriptor {
  if (!isObject(value)) throw invalid(where, `${what} is not a JSON object`);
  const { digest, size, mediaType, platform } = value;
  if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw invalid(
      where,
      `${what} has the digest ${quoteExcerpt(String(JSON.stringify(digest)))}; pilot reads sha256 digests only`,
    );
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(where, `${what} (${digest}) has no valid size`);
  }
  if (mediaType !== undefined && typeof mediaType !== 'string') {
    throw invalid(where, `${what} (${digest}) has a mediaType that is not a string`);
  }
  if (platform !== undefined && !isObject(platform)) {
    throw invalid(where, `${what} (${digest}) has a platform that is not a JSON object`);
  }
  return { mediaType, digest, size, platform: platform as Platform | undefined };
}

function listAt(where: string, what: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw invalid(where, `"${what}" is not a list`);
  if (value.length > MAX_ENTRIES) {
    throw invalid(
      where,
      `"${what}" has ${value.length} entries; pilot reads at most ${MAX_ENTRIES}`,
    );
  }
  return value;
}

/**
 * Reads a manifest; `contentType` is the registry's Content-Type (the document's own
 * mediaType wins when it has one). `where` names it in messages.
 */
export function parseManifest(
  bytes: Buffer,
  contentType: string | undefined,
  where: string,
): ManifestDocument {
  const text = bytes.toString('utf8');
  const parsed = parseJsonText(text, 'the manifest', (why) => invalid(where, why));
  if (!isObject(parsed)) throw invalid(where, 'the manifest is not a JSON object');
  const declared = typeof parsed.mediaType === 'string' ? parsed.mediaType : undefined;
  const type = declared ?? contentType?.split(';')[0]?.trim();
  if (parsed.schemaVersion === 1 || SCHEMA1_TYPES.has(type ?? '')) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `${where}: the image has a Docker schema 1 manifest, which pilot does not read (it names no diff_ids and is deprecated)`,
      {
        hint: 'push the image again with a current tool (podman push, skopeo copy, docker push write schema 2 or OCI manifests)',
      },
    );
  }
  if (parsed.schemaVersion !== 2) {
    throw invalid(
      where,
      `schemaVersion is ${escapeExcerpt(String(JSON.stringify(parsed.schemaVersion)), 20)}, not 2`,
    );
  }
  const isIndex =
    INDEX_TYPES.has(type ?? '') || (type === undefined && Array.isArray(parsed.manifests));
  if (isIndex) {
    const manifests = listAt(where, 'manifests', parsed.manifests).map((entry, i) =>
      descriptorAt(where, `manifests entry ${i + 1}`, entry),
    );
    if (manifests.length === 0) throw invalid(where, 'the index lists no manifests');
    return { kind: 'index', manifests };
  }
  if (
    type !== undefined &&
    type !== MEDIA_TYPES.ociManifest &&
    type !== MEDIA_TYPES.dockerManifest
  ) {
    throw invalid(where, `it is a ${quoteExcerpt(type)}, not an image manifest or index`);
  }
  const config = descriptorAt(where, 'config', parsed.config);
  const layers = listAt(where, 'layers', parsed.layers).map((entry, i) =>
    descriptorAt(where, `layer ${i + 1}`, entry),
  );
  return { kind: 'image', config, layers };
}

export function isIndexType(mediaType: string | undefined): boolean {
  return INDEX_TYPES.has(mediaType ?? '');
}

function describePlatform(platform: Platform | undefined): string {
  if (!platform) return 'no platform';
  const text = `${platform.os ?? '?'}/${platform.architecture ?? '?'}${platform.variant ? `/${platform.variant}` : ''}`;
  return escapeExcerpt(text, 40);
}

/**
 * The index entry for the host (os and architecture equal; an entry with the host's
 * variant, or none, before others; else one without a platform). When none fits, the
 * error lists what there is.
 */
export function choosePlatform(
  manifests: Descriptor[],
  where: string,
  host: { os: string; architecture: string; variant?: string } = hostPlatform(),
): Descriptor {
  const fitting = manifests.filter(
    (m) => m.platform?.os === host.os && m.platform?.architecture === host.architecture,
  );
  const best =
    fitting.find((m) => host.variant !== undefined && m.platform?.variant === host.variant) ??
    fitting.find((m) => m.platform?.variant === undefined) ??
    fitting[0] ??
    // An entry that names no platform at all (hand-made indexes) fits any host.
    manifests.find((m) => m.platform === undefined);
  if (best) return best;
  const offered = [...new Set(manifests.map((m) => describePlatform(m.platform)))].join(', ');
  throw new PilotError(
    'PILOT_IMAGE_UNKNOWN',
    `${where} has no image for ${host.os}/${host.architecture}; it has ${offered}`,
    { hint: 'pull an image built for this host, or push one for it to the registry' },
  );
}
