/**
 * The launcher reads a flake's host requirements on every start, so the list
 * (everything but the include walk) is cached in the run dir, keyed by the images, the
 * flake's keys that matter and the identity of the host's package database: a warm
 * launch pays one stat and one small read instead of parsing status files and `.list`
 * files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/atomic-fs.js';
import { errnoOf } from '../core/errors.js';
import type { Flake } from '../core/flake-file.js';
import type { PilotPaths } from '../core/paths.js';
import { sha256Hex } from '../core/sha256.js';
import { type HostRequirements, imagesBottomFirst } from './host-requirements.js';
import type { PlanImages } from './launch-plan.js';

export const CACHE_VERSION = 4;

/**
 * What the launcher keeps between launches, per flake + images. Images are immutable by
 * id, so only the host's package database can change the requirements: its fingerprint
 * is stored with them, and a different one re-resolves. Where paths land in the image
 * (directories resolved through the image's symlinks, whether the image has a path)
 * depends on the images alone and is kept too.
 */
export interface CacheEntry {
  version: number;
  fingerprint: string;
  requirements: HostRequirements;
  /** Host directory → the same directory resolved inside the image. */
  dirs: Record<string, string>;
  /** In-image path → whether the image has something there. */
  imageHas: Record<string, boolean>;
}

/** The file that caches this flake's requirements: one per images + flake keys. */
export function cacheFile(
  paths: PilotPaths,
  flake: Flake,
  images: PlanImages,
  hostRoot: string,
): string {
  const what = sha256Hex(
    JSON.stringify([
      CACHE_VERSION,
      hostRoot,
      imagesBottomFirst(images).map((i) => i.id),
      Boolean(images.base),
      flake.container.check_host_dependencies,
      flake.container.host_packages,
      flake.container.layers,
      flake.include.path,
    ]),
  );
  return join(paths.run, 'host-requirements', `${what}.json`);
}

export function readCache(file: string, fingerprint: string): CacheEntry | undefined {
  try {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as CacheEntry;
    if (
      entry.version === CACHE_VERSION &&
      entry.fingerprint === fingerprint &&
      Array.isArray(entry.requirements?.files) &&
      typeof entry.dirs === 'object' &&
      typeof entry.imageHas === 'object'
    )
      return entry;
  } catch {
    // absent or unreadable: resolve again
  }
  return undefined;
}

export function writeCache(file: string, entry: CacheEntry): void {
  try {
    writeJsonAtomic(file, entry);
  } catch (error) {
    // A run dir we cannot write only costs the next launch the same work; so does the
    // cache dir that a concurrent `pilot gc` removed between our mkdir and our write.
    const code = errnoOf(error);
    if (!['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOENT'].includes(code ?? '')) throw error;
  }
}
