/**
 * An archive's metadata (index.json, manifest.json, image indexes, manifests, configs)
 * as the archive readers (archive-images.ts) take it: parsed JSON of the right shape,
 * verified against the digest that names it, within limits, and each file read,
 * verified and parsed once per archive however many entries name it (a thousand
 * manifest.json entries naming one 4 MiB config must not cost reading it a thousand
 * times). Work is linear in the archive's metadata.
 */
import { createHash } from 'node:crypto';
import { PilotError } from '../core/errors.js';
import { escapeExcerpt, quoteExcerpt } from '../core/excerpt.js';
import type { ImageConfig } from '../core/image-record.js';
import { parseJsonText } from '../core/json-error.js';
import { type ArchiveFiles, readArchiveFile } from './archive-source.js';
import { isObject, pickImageConfig } from './image-config.js';

/**
 * One archive holds at most this many images (manifest.json entries, index.json
 * manifests): each costs a few fsynced writes, and a 100,000-entry manifest.json took
 * 84 s. `docker save`/`podman save -m` of a whole host stays far below.
 */
export const MAX_ARCHIVE_IMAGES = 1000;
/** Names (RepoTags) of one image. */
export const MAX_IMAGE_NAMES = 100;

export function checkCount(
  source: string,
  what: string,
  count: number,
  limit: number,
  of: string,
): void {
  if (count > limit) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `${source}: ${what} lists ${count} ${of}; pilot takes at most ${limit}`,
      { hint: 'save the images in several archives, each with fewer images and names' },
    );
  }
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function digestMismatch(what: string, actual: string, expected: string): PilotError {
  return new PilotError(
    'PILOT_DIGEST_MISMATCH',
    `${what}: its digest is ${actual}, but ${expected} was expected`,
    { hint: 'the archive is corrupt or was modified; save or download it again' },
  );
}

export function invalid(source: string, why: string): PilotError {
  return new PilotError('PILOT_IMAGE_INVALID', `${source}: ${why}`, {
    hint: 'the archive is incomplete or not an image; save it again with "podman save --format oci-archive"',
  });
}

/** A JSON object, as every metadata file is: `null`, a list or a number is refused by name. */
export function parseJson<T>(
  source: string,
  name: string,
  data: Buffer,
  shape: 'object' | 'list' = 'object',
): T {
  const text = data.toString('utf8');
  const value = parseJsonText(text, escapeExcerpt(name), (why) => invalid(source, why));
  if (shape === 'list' ? !Array.isArray(value) : !isObject(value)) {
    throw invalid(source, `${escapeExcerpt(name)} is not a JSON ${shape}`);
  }
  return value as T;
}

/** The entries of a JSON list that must hold objects (descriptors, manifest.json entries). */
export function objectsIn<T>(source: string, what: string, list: unknown[]): T[] {
  list.forEach((item, i) => {
    if (!isObject(item)) throw invalid(source, `${what} entry ${i + 1} is not a JSON object`);
  });
  return list as T[];
}

export function checkDigest(source: string, digest: unknown): string {
  if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw invalid(
      source,
      `unsupported or malformed digest ${quoteExcerpt(String(JSON.stringify(digest)))} (only sha256 is supported)`,
    );
  }
  return digest;
}

export interface RawConfig {
  config?: unknown;
  rootfs?: unknown;
}

export function diffIdsOf(source: string, name: string, raw: RawConfig): string[] {
  const ids = isObject(raw.rootfs) ? raw.rootfs.diff_ids : undefined;
  if (!Array.isArray(ids)) throw invalid(source, `image config ${name} has no rootfs.diff_ids`);
  return ids.map((id) => checkDigest(`${source}: image config ${name}`, id));
}

/**
 * The images an archive's top-level document lists (docker's manifest.json is the list,
 * OCI's index.json holds it as `manifests`): refused when the document is missing or not
 * JSON, or the list is empty, too long or holds anything but objects.
 */
export async function readImageList<T>(
  files: ArchiveFiles,
  name: 'manifest.json' | 'index.json',
): Promise<{ reader: MetadataReader; list: T[] }> {
  const source = files.source;
  const reader = new MetadataReader(files);
  const data = await reader.read(name);
  if (!data) throw invalid(source, `${name} is missing`);
  const docker = name === 'manifest.json';
  const list = docker
    ? parseJson<unknown[]>(source, name, data, 'list')
    : parseJson<{ manifests?: unknown }>(source, name, data).manifests;
  const what = docker ? 'images' : 'manifests';
  if (!Array.isArray(list) || list.length === 0) throw invalid(source, `${name} lists no ${what}`);
  checkCount(source, name, list.length, MAX_ARCHIVE_IMAGES, what);
  return { reader, list: objectsIn<T>(source, docker ? name : `${name}: manifests`, list) };
}

/** Reads, verifies and derives each piece of metadata once per archive. */
export class MetadataReader {
  private readonly results = new Map<string, Promise<unknown>>();

  constructor(readonly files: ArchiveFiles) {}

  get source(): string {
    return this.files.source;
  }

  /** `make()` once per `key`; later calls share its result (or its error). */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let result = this.results.get(key) as Promise<T> | undefined;
    if (!result) {
      result = make();
      // Awaited by every caller; this keeps an error from counting as unhandled meanwhile.
      result.catch(() => {});
      this.results.set(key, result);
    }
    return result;
  }

  /** The bytes of `name` (undefined when the archive lacks it), at most MAX_METADATA_BYTES. */
  read(name: string): Promise<Buffer | undefined> {
    return this.once(`read ${name}`, () => readArchiveFile(this.files, name));
  }

  /** The bytes of `name`, which must be there and have `digest`. */
  verified(name: string, digest: string): Promise<Buffer> {
    return this.once(`verified ${name} ${digest}`, async () => {
      const data = await this.read(name);
      if (!data) throw invalid(this.source, `blob ${name} is missing`);
      const actual = sha256(data);
      if (actual !== digest) throw digestMismatch(`${this.source}: blob ${name}`, actual, digest);
      return data;
    });
  }
}

/** What one image config gives an image plan, derived once per config. */
export interface ConfigInfo {
  config: Buffer;
  configDigest: string;
  diffIds: string[];
  imageConfig: ImageConfig;
}

export function configInfo(
  reader: MetadataReader,
  name: string,
  config: Buffer,
  digest: string,
): ConfigInfo {
  const shown = escapeExcerpt(name);
  const rawConfig = parseJson<RawConfig>(reader.source, name, config);
  return {
    config,
    configDigest: digest,
    diffIds: diffIdsOf(reader.source, shown, rawConfig),
    imageConfig: pickImageConfig(`${reader.source}: image config ${shown}`, rawConfig.config),
  };
}
