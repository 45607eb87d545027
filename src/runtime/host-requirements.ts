/**
 * Which host files an app needs, and why:
 * - `include.path` of the flake (the path and, for a directory, everything in it);
 * - the `/removed` lists of its base, layers and delta (KIWI's record of what the delta
 *   build removed because the host provides it);
 * - the files of host packages: `container.host_packages` and the queries of each
 *   image's `/systemfiles`, with what they depend on (host-packages.ts).
 * Each entry names its source so that `pilot check` and error messages can say where a
 * requirement comes from. Read fresh here; the launcher keeps the answer in its run dir
 * (host-requirements-cache.ts) and places it in the image (host-files.ts).
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import type { Flake } from '../core/flake-file.js';
import { hostSettings, type PackageManagerChoice } from '../core/host-root.js';
import type { ImageRecord } from '../core/image-record.js';
import type { PilotPaths } from '../core/paths.js';
import { parseRemovedFile } from '../core/removed-file.js';
import { installHint, openHostPackageDatabase } from './host-package-db.js';
import {
  DpkgIndex,
  describePackage,
  type PackageDatabase,
  type PackageRequest,
  parseDpkgStatus,
  parseSystemFiles,
  resolvePackages,
} from './host-packages.js';
import { LayeredTree, treeLayers } from './image-tree.js';
import type { PlanImages } from './launch-plan.js';

export type HostFileOrigin = 'include' | 'removed' | 'package';

export interface HostFileRequest {
  /** Absolute host path (normalized, no `..`). */
  path: string;
  /** Where the requirement comes from, for messages: e.g. "/removed of image pilot/x (1a2b3c4d5e6f)". */
  source: string;
  /**
   * `package`: listed by the package database; absent on the host means never installed
   * (dpkg's path-exclude drops docs), which is not an error. The others must exist.
   */
  origin: HostFileOrigin;
}

export interface HostRequirements {
  /** include.path first, then /removed, then package files; each path once, first source wins. */
  files: HostFileRequest[];
  /** Host packages whose files are provided, with why. */
  packages: { name: string; source: string }[];
  /** Requested packages that the host does not have (nor the base image). */
  missingPackages: PackageRequest[];
  /** Package names left to the base image, which has them. */
  inImage: string[];
  /** `dpkg`, `rpm` or `none`. */
  database: string;
  /** Copies of /systemfiles that do not count: only the base image's does, as upstream. */
  ignored: string[];
}

export interface HostFileOptions {
  /** The host root and package database (core/host-root.ts); by default PILOT_HOST_ROOT and PILOT_HOST_PACKAGES. */
  hostRoot?: string;
  packages?: PackageManagerChoice;
  /** Tests: a fake database. */
  database?: PackageDatabase;
}

/** The options with the host root and package manager filled in from the environment. */
export function withHost(options: HostFileOptions): HostFileOptions & HostSettingsPart {
  if (options.hostRoot !== undefined && options.packages !== undefined)
    return options as HostFileOptions & HostSettingsPart;
  const settings = hostSettings();
  return {
    ...options,
    hostRoot: options.hostRoot ?? settings.root,
    packages: options.packages ?? settings.packages,
  };
}

export type HostSettingsPart = { hostRoot: string; packages: PackageManagerChoice };

/** Every image of the app, bottom first: base, layers, then the delta. */
export function imagesBottomFirst(images: PlanImages): ImageRecord[] {
  const ordered: ImageRecord[] = [];
  if (images.base) ordered.push(images.base);
  ordered.push(...images.layers, images.top);
  return ordered;
}

/** Bottom first, each image with the ref the flake names it by. */
function namedImages(flake: Flake, images: PlanImages): { image: ImageRecord; ref: string }[] {
  const c = flake.container;
  const named: { image: ImageRecord; ref: string }[] = [];
  if (images.base) named.push({ image: images.base, ref: c.base_container ?? '' });
  images.layers.forEach((image, i) => {
    named.push({ image, ref: c.layers[i] ?? '' });
  });
  named.push({ image: images.top, ref: c.name });
  return named;
}

function imageLabel(image: ImageRecord, ref: string): string {
  const short = image.id.slice(7, 19);
  return ref ? `${ref} (${short})` : short;
}

/** The largest /removed or /systemfiles read (KIWI's are kilobytes), and dpkg's status. */
const MAX_LIST_BYTES = 16 * 1024 * 1024;
const MAX_STATUS_BYTES = 64 * 1024 * 1024;

/**
 * The text of a regular file at `path` in one image's own layers, if it has one; refused
 * by its size, before it is read, past `limit` (image content: it could be gigabytes).
 */
function readImageFile(
  paths: PilotPaths,
  image: ImageRecord,
  path: string,
  limit = MAX_LIST_BYTES,
): string | undefined {
  const tree = new LayeredTree(treeLayers(paths, [...image.layers].reverse()));
  const entry = tree.lookup(path);
  if (!entry || !entry.stat.isFile()) return undefined;
  if (entry.stat.size > limit) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `${path} of image ${imageLabel(image, '')} has ${entry.stat.size} bytes; pilot reads at most ${limit}`,
      { hint: 'rebuild the image with a shorter list' },
    );
  }
  return readFileSync(entry.layer + path, 'utf8');
}

function imageHasFile(paths: PilotPaths, image: ImageRecord, path: string): boolean {
  return new LayeredTree(treeLayers(paths, [...image.layers].reverse())).lookup(path) !== undefined;
}

/** Which packages the base image has itself, from its own dpkg status. */
export function baseImagePackages(
  paths: PilotPaths,
  images: PlanImages,
): (name: string) => boolean {
  if (!images.base) return () => false;
  const status = readImageFile(paths, images.base, '/var/lib/dpkg/status', MAX_STATUS_BYTES);
  if (status === undefined) return () => false;
  const index = new DpkgIndex(parseDpkgStatus(status));
  return (name) => index.find(name) !== undefined;
}

function normalizeIncludePath(path: string): string {
  const normalized = posix.normalize(path).replace(/(.)\/+$/, '$1');
  if (!posix.isAbsolute(normalized) || normalized === '/') {
    throw new PilotError(
      'PILOT_FLAKE_INVALID',
      `include.path ${quoteExcerpt(path)} must be an absolute path below /`,
      { hint: 'name the host directory or file the app needs, e.g. /etc/aws' },
    );
  }
  return normalized;
}

/**
 * Everything the app needs from the host, read fresh (no cache). /removed and
 * /systemfiles count only with a base or `check_host_dependencies: true`, as in
 * flake-pilot; host_packages and include.path always do.
 */
export function collectHostRequirements(
  paths: PilotPaths,
  flake: Flake,
  images: PlanImages,
  options: HostFileOptions = {},
): HostRequirements {
  const files = new Map<string, HostFileRequest>();
  const add = (path: string, source: string, origin: HostFileOrigin) => {
    if (!files.has(path)) files.set(path, { path, source, origin });
  };
  for (const path of flake.include.path) add(normalizeIncludePath(path), 'include.path', 'include');

  const requests: PackageRequest[] = flake.container.host_packages.map((name) => ({
    name,
    source: 'flake host_packages',
  }));
  const ignored: string[] = [];
  if (images.base || flake.container.check_host_dependencies) {
    // As flake-pilot: /systemfiles counts in the image the instance starts from (the base,
    // else the one image); a delta's or layer's copy is never read (it would hide the
    // base's in the composed root only after flake-pilot ran the base's).
    const counted = images.base ?? images.top;
    for (const { image, ref } of namedImages(flake, images)) {
      const label = imageLabel(image, ref);
      const removed = readImageFile(paths, image, '/removed');
      if (removed !== undefined) {
        const source = `/removed of image ${label}`;
        for (const path of parseRemovedFile(removed, source)) add(path, source, 'removed');
      }
      if (image !== counted) {
        if (imageHasFile(paths, image, '/systemfiles'))
          ignored.push(`/systemfiles of image ${label}`);
        continue;
      }
      const systemFiles = readImageFile(paths, image, '/systemfiles');
      if (systemFiles !== undefined) {
        // A loop, not push(...list): a list of 200,000 items would overflow the stack.
        for (const request of parseSystemFiles(systemFiles, `/systemfiles of image ${label}`))
          requests.push(request);
      }
    }
  }

  const requirements: HostRequirements = {
    files: [],
    packages: [],
    missingPackages: [],
    inImage: [],
    database: 'none',
    ignored,
  };
  if (requests.length > 0) {
    const { hostRoot, packages } = withHost(options);
    const db = options.database ?? openHostPackageDatabase(hostRoot, packages);
    requirements.database = db.kind;
    const resolution = resolvePackages(db, requests, baseImagePackages(paths, images));
    for (const entry of resolution.packages) {
      const source = describePackage(entry);
      requirements.packages.push({
        name: entry.pkg.name,
        source:
          entry.via.length > 0
            ? `dependency of ${entry.via.join(' → ')} (${entry.request.source})`
            : entry.request.source,
      });
      for (const path of db.files(entry.pkg)) add(path, source, 'package');
    }
    requirements.missingPackages = resolution.missing;
    requirements.inImage = resolution.inImage;
  }
  requirements.files = [...files.values()];
  return requirements;
}

function missingPackagesError(missing: readonly PackageRequest[], database: string): PilotError {
  const names = [...new Set(missing.map((m) => m.name))];
  const what = missing.map((m) => `${quoteExcerpt(m.name)} (${m.source})`).join(', ');
  return new PilotError(
    'PILOT_HOST_FILES_MISSING',
    `host package${missing.length === 1 ? '' : 's'} ${what} ${missing.length === 1 ? 'is' : 'are'} not installed on this host${database === 'none' ? ' (it has no dpkg or rpm database)' : ''}`,
    { hint: `${installHint(database, names)}, or drop it from the app's host packages` },
  );
}

/**
 * The host files as a list of requests; refuses a requested host package that is not
 * installed (register calls this before it writes anything).
 */
export function collectHostFiles(
  paths: PilotPaths,
  flake: Flake,
  images: PlanImages,
  options: HostFileOptions = {},
): HostFileRequest[] {
  const requirements = collectHostRequirements(paths, flake, images, options);
  if (requirements.missingPackages.length > 0)
    throw missingPackagesError(requirements.missingPackages, requirements.database);
  return requirements.files;
}
