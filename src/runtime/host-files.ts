/**
 * Which host files an app needs, and why:
 * - `include.path` of the flake (the path and, for a directory, everything in it);
 * - the `/removed` lists of its base, layers and delta (KIWI's record of what the delta
 *   build removed because the host provides it);
 * - the files of host packages: `container.host_packages` and the queries of each
 *   image's `/systemfiles`, with what they depend on (host-packages.ts).
 * Each entry names its source so that `pilot check` and error messages can say where a
 * requirement comes from.
 *
 * The launcher reads this on every start, so the list (everything but the include walk)
 * is cached in the run dir, keyed by the images, the flake's keys that matter and the
 * identity of the host's package database: a warm launch pays one stat and one small
 * read instead of parsing status files and `.list` files.
 */
import { createHash } from 'node:crypto';
import { type Dirent, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { writeJsonAtomic } from '../core/atomic-fs.js';
import { debugStep } from '../core/debug.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import type { Flake } from '../core/flake-file.js';
import { hostSettings, type PackageManagerChoice } from '../core/host-root.js';
import type { ImageRecord } from '../core/image-record.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { parseRemovedFile } from '../core/removed-file.js';
import { layerOpaqueDirs } from '../store/layer-record.js';
import { type HostFile, isSpecialHostPath, scanHostFiles } from './host-layer.js';
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
import { LayeredTree, type TreeLayer } from './image-tree.js';
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
function withHost(options: HostFileOptions): HostFileOptions & HostSettingsPart {
  if (options.hostRoot !== undefined && options.packages !== undefined)
    return options as HostFileOptions & HostSettingsPart;
  const settings = hostSettings();
  return {
    ...options,
    hostRoot: options.hostRoot ?? settings.root,
    packages: options.packages ?? settings.packages,
  };
}

type HostSettingsPart = { hostRoot: string; packages: PackageManagerChoice };

export function treeLayers(paths: PilotPaths, diffIds: readonly string[]): TreeLayer[] {
  return diffIds.map((diffId) => ({
    dir: storeDirs.layer(paths, diffId),
    opaqueDirs: layerOpaqueDirs(paths, diffId),
  }));
}

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

// ---------------------------------------------------------------------------------------
// The launcher's cached view

const CACHE_VERSION = 4;

/**
 * What the launcher keeps between launches, per flake + images. Images are immutable by
 * id, so only the host's package database can change the requirements: its fingerprint
 * is stored with them, and a different one re-resolves. Where paths land in the image
 * (directories resolved through the image's symlinks, whether the image has a path)
 * depends on the images alone and is kept too.
 */
interface CacheEntry {
  version: number;
  fingerprint: string;
  requirements: HostRequirements;
  /** Host directory → the same directory resolved inside the image. */
  dirs: Record<string, string>;
  /** In-image path → whether the image has something there. */
  imageHas: Record<string, boolean>;
}

/** The file that caches this flake's requirements: one per images + flake keys. */
function cacheFile(paths: PilotPaths, flake: Flake, images: PlanImages, hostRoot: string): string {
  const what = createHash('sha256')
    .update(
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
    )
    .digest('hex');
  return join(paths.run, 'host-requirements', `${what}.json`);
}

function readCache(file: string, fingerprint: string): CacheEntry | undefined {
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

function writeCache(file: string, entry: CacheEntry): void {
  try {
    writeJsonAtomic(file, entry);
  } catch (error) {
    // A run dir we cannot write only costs the next launch the same work; so does the
    // cache dir that a concurrent `pilot gc` removed between our mkdir and our write.
    const code = errnoOf(error);
    if (!['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOENT'].includes(code ?? '')) throw error;
  }
}

/** An include.path and, for a directory, every entry below it (not following symlinks), parents first. */
export function walkIncludePath(path: string, hostRoot = '/'): string[] {
  const out = [path];
  const walk = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(posix.join(hostRoot, dir), { withFileTypes: true });
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw error;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = posix.join(dir, entry.name);
      out.push(child);
      if (entry.isDirectory()) walk(child);
    }
  };
  walk(path);
  return out;
}

function isDirectoryOnHost(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export interface ScannedHostFiles {
  /** What goes into the host layer, in precedence order (first wins). */
  files: HostFile[];
  /**
   * Missing paths that fail the launch: include.path entries, and `package NAME (…)` for
   * packages not installed.
   */
  missing: string[];
  /**
   * `/removed` paths missing on the host (or unreadable to this caller), with their
   * source: skipped, as flake-pilot's `--ignore-missing-args` does, unless the flake
   * says `host_files: strict` (KIWI lists logs, docs and package-database churn there).
   */
  absent: string[];
  requirements: HostRequirements;
  /**
   * Every host path the answer depends on (listed files, walked include entries, the
   * package database when packages were asked for): a cached plan is stale when one
   * of them changes.
   */
  watched: string[];
}

/**
 * The launcher's step: requirements (cached), include directories walked, every path
 * looked at on the host (its identity keys the host layer) and placed at its canonical
 * path in the image.
 *
 * Package lists name directories too (`/usr`, `/lib`); a directory the image already
 * has stays the image's, and a host symlink to a directory (`/lib -> usr/lib` on a
 * merged-/usr host) is never provided where the image has that path or where the list
 * puts files beneath it: it would hide the image's own tree.
 */
export function scanAppHostFiles(
  paths: PilotPaths,
  flake: Flake,
  images: PlanImages,
  tree: LayeredTree,
  options: HostFileOptions = {},
): ScannedHostFiles {
  const { hostRoot, packages } = withHost(options);
  const db = options.database ?? openHostPackageDatabase(hostRoot, packages);
  const fingerprint = db.fingerprint();
  const file = cacheFile(paths, flake, images, `${packages}:${hostRoot}`);
  let entry = readCache(file, fingerprint);
  let dirty = false;
  if (entry) {
    debugStep(`host requirements cached: ${entry.requirements.files.length} path(s)`);
  } else {
    const requirements = collectHostRequirements(paths, flake, images, {
      hostRoot,
      packages,
      database: db,
    });
    debugStep(
      `host requirements resolved: ${requirements.packages.length} package(s) from ${requirements.database}, ${requirements.files.length} path(s)`,
    );
    entry = { version: CACHE_VERSION, fingerprint, requirements, dirs: {}, imageHas: {} };
    dirty = true;
  }
  const { requirements } = entry;
  for (const copy of requirements.ignored ?? [])
    debugStep(`${copy} not read: only the base image's copy counts, as in flake-pilot`);

  const requests: HostFileRequest[] = [];
  const seen = new Set<string>();
  for (const request of requirements.files) {
    const expanded =
      request.origin === 'include' ? walkIncludePath(request.path, hostRoot) : [request.path];
    for (const path of expanded) {
      if (seen.has(path)) continue;
      seen.add(path);
      requests.push(path === request.path ? request : { ...request, path });
    }
  }
  const dirs = new Map(Object.entries(entry.dirs));
  const knownDirs = dirs.size;
  const scanned = scanHostFiles(
    requests.map((r) => r.path),
    tree,
    hostRoot,
    dirs,
  );
  const imageHas = (target: string): boolean => {
    let has = entry.imageHas[target];
    if (has === undefined) {
      has = tree.lookup(target) !== undefined;
      entry.imageHas[target] = has;
      dirty = true;
    }
    return has;
  };

  const packageParents = new Set<string>();
  for (const request of requests) {
    if (request.origin !== 'package') continue;
    for (
      let end = request.path.lastIndexOf('/');
      end > 0;
      end = request.path.lastIndexOf('/', end - 1)
    ) {
      const dir = request.path.slice(0, end);
      if (packageParents.has(dir)) break;
      packageParents.add(dir);
    }
  }
  const files: HostFile[] = [];
  const missing: string[] = [];
  const absent: string[] = [];
  scanned.forEach((file, i) => {
    const origin = requests[i]!.origin;
    // The host's /proc, /sys and /dev are the app's own already; a package's files
    // there are left out, a list that names them (or reaches them through a host
    // symlink) is refused.
    if (isSpecialHostPath(file.path) || file.special) {
      if (origin === 'package') return;
      throw new PilotError(
        'PILOT_HOST_PATH_REFUSED',
        `host path ${file.path} (${requests[i]!.source}) is on /proc, /sys or /dev${file.special && !isSpecialHostPath(file.path) ? ' through a host symlink' : ''}`,
        {
          hint: "the app sees the host's /proc, /sys and /dev already: drop the path from the list",
        },
      );
    }
    if (origin !== 'package') {
      if (file.kind === 'missing') {
        const shown = file.reason ? `${file.path} (${file.reason})` : file.path;
        (origin === 'removed' ? absent : missing).push(shown);
      }
      files.push(file);
      return;
    }
    if (file.kind === 'missing' || file.kind === 'other') return;
    const directoryLike =
      file.kind === 'dir' ||
      (file.kind === 'symlink' &&
        isDirectoryOnHost(hostRoot === '/' ? file.path : hostRoot + file.path));
    if (directoryLike) {
      if (imageHas(file.target)) return;
      if (file.kind === 'symlink' && packageParents.has(file.path)) return;
    }
    files.push(file);
  });
  for (const pkg of requirements.missingPackages)
    missing.push(`package ${pkg.name} (not installed on the host; ${pkg.source})`);

  if (dirty || dirs.size !== knownDirs)
    writeCache(file, { ...entry, dirs: Object.fromEntries(dirs) });
  const watched = requests.map((r) => (hostRoot === '/' ? r.path : hostRoot + r.path));
  if (requirements.packages.length > 0 || requirements.missingPackages.length > 0)
    watched.push(...db.watched());
  return { files, missing, absent, requirements, watched };
}
