/**
 * The launcher's view of an app's host files: the requirements (host-requirements.ts,
 * cached by host-requirements-cache.ts), include directories walked, every path looked
 * at on the host (its identity keys the host layer) and placed at its canonical path in
 * the image.
 */
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { debugStep } from '../core/debug.js';
import { errnoOf, PilotError } from '../core/errors.js';
import type { Flake } from '../core/flake-file.js';
import type { PilotPaths } from '../core/paths.js';
import { type HostFile, isSpecialHostPath, scanHostFiles } from './host-layer.js';
import { openHostPackageDatabase } from './host-package-db.js';
import {
  collectHostRequirements,
  type HostFileOptions,
  type HostFileRequest,
  type HostRequirements,
  withHost,
} from './host-requirements.js';
import { CACHE_VERSION, cacheFile, readCache, writeCache } from './host-requirements-cache.js';
import type { LayeredTree } from './image-tree.js';
import type { PlanImages } from './launch-plan.js';

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
   * Every host path the answer depends on (listed files, walked include entries): a
   * cached plan is stale when one of them changes (host-stamps.ts says how it sees that).
   */
  watched: string[];
  /** The package database's files, when packages were asked for: stamped one by one. */
  databases: string[];
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
  const databases =
    requirements.packages.length > 0 || requirements.missingPackages.length > 0 ? db.watched() : [];
  return { files, missing, absent, requirements, watched, databases };
}
