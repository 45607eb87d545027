/**
 * The host layer: the host files that the images' `/removed` lists name, placed
 * at their canonical path inside the image, as hard links (same file system) or
 * copies of single files (never whole trees). It is an overlay lower dir on top
 * of the image layers, cached under the store by a key over the images and every
 * listed host file's identity (core/file-identity.ts) and mode: a package upgrade replaces
 * inodes, so the key changes and the layer is rebuilt.
 */

import {
  accessSync,
  type BigIntStats,
  constants,
  existsSync,
  lstatSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { commitTree } from '../core/atomic-fs.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { identityOfStats } from '../core/file-identity.js';
import { makeDirs } from '../core/modes.js';
import { sha256Hex } from '../core/sha256.js';
import { removeTree, sweepBeforeWrite, tempName } from '../core/temp-entries.js';
import { type BuildOptions, buildHostLayer, type SkippedHostFile } from './host-layer-build.js';
import type { LayeredTree } from './image-tree.js';

export type HostFileKind = 'file' | 'dir' | 'symlink' | 'other' | 'missing';

export interface HostFile {
  /** Path as the list gives it (absolute, normalized). */
  path: string;
  /** Where it goes inside the image (parents resolved against the image's layout). */
  target: string;
  kind: HostFileKind;
  stat?: BigIntStats;
  linkTarget?: string;
  /** `missing`: not there, or there but the caller cannot read it (`unreadable`). */
  reason?: 'unreadable';
  /** Everyone may read it on the host: every directory of its real path is searchable by all, a file readable by all. */
  public?: boolean;
  /** Its real parent directory is on /proc, /sys or /dev (reached through a host symlink). */
  special?: boolean;
}

const SPECIAL_DIRS = ['/proc', '/sys', '/dev'];

/** /proc, /sys, /dev and what is below: the host's live file systems, never provided from a list. */
export function isSpecialHostPath(path: string): boolean {
  return SPECIAL_DIRS.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

function kindOf(stat: BigIntStats): HostFileKind {
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isDirectory()) return 'dir';
  if (stat.isFile()) return 'file';
  return 'other';
}

/**
 * lstat of every listed host path (the host's own symlinks in parents are followed, as
 * on the host). A caller other than root sees only what it may read: a file it cannot
 * read counts as missing for it.
 */
export function scanHostFiles(
  paths: readonly string[],
  tree: LayeredTree,
  hostRoot = '/',
  canonicalDirs = new Map<string, string>(),
  uid = process.getuid?.() ?? 0,
): HostFile[] {
  // Package lists put hundreds of files in a few directories: resolve each directory
  // in the image once (a lookup walks every layer for every component). `canonicalDirs`
  // may come from a cache of the same images: it depends on nothing else.
  // `paths` are absolute and normalized, so plain string operations do: path.join
  // re-normalizes, which costs more than the lstat on a launcher's cold JIT.
  const onHost = hostRoot === '/' ? (path: string) => path : (path: string) => hostRoot + path;
  const canonicalTarget = (path: string): string => {
    const slash = path.lastIndexOf('/');
    if (slash <= 0) return tree.canonicalParent(path);
    const dir = path.slice(0, slash);
    let canonical = canonicalDirs.get(dir);
    if (canonical === undefined) {
      // The last component is kept as is, so a probe name below `dir` yields `dir` resolved.
      canonical = posix.dirname(tree.canonicalParent(`${dir}/probe`));
      canonicalDirs.set(dir, canonical);
    }
    return canonical === '/' ? path.slice(slash) : canonical + path.slice(slash);
  };
  const realDirs = new Map<string, RealDir>();
  return paths.map((path) => {
    const target = canonicalTarget(path);
    try {
      const dir = realDir(path.slice(0, Math.max(1, path.lastIndexOf('/'))), hostRoot, realDirs);
      if (dir.special) return { path, target, kind: 'other', special: true };
      const stat = lstatSync(onHost(path), { bigint: true });
      const file: HostFile = { path, target, kind: kindOf(stat), stat };
      if (file.kind === 'symlink') file.linkTarget = readlinkSync(onHost(path));
      if (file.kind === 'file' && uid !== 0 && !canRead(onHost(path)))
        return { path, target, kind: 'missing', reason: 'unreadable' };
      file.public = dir.open && (file.kind !== 'file' || (stat.mode & 0o004n) !== 0n);
      return file;
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return { path, target, kind: 'missing' };
      if (code === 'EACCES') return { path, target, kind: 'missing', reason: 'unreadable' };
      throw error;
    }
  });
}

interface RealDir {
  /** Every directory of its real path is searchable by everyone. */
  open: boolean;
  special: boolean;
}

/** A host directory by its real path (host symlinks resolved), cached per directory. */
function realDir(dir: string, hostRoot: string, cache: Map<string, RealDir>): RealDir {
  const known = cache.get(dir);
  if (known) return known;
  const onHost = hostRoot === '/' ? dir : hostRoot + dir;
  const real = realpathSync.native(onHost);
  const inRoot = hostRoot === '/' ? real : real.slice(hostRoot.length) || '/';
  if (hostRoot !== '/' && !(real === hostRoot || real.startsWith(`${hostRoot}/`))) {
    const outside = { open: false, special: true };
    cache.set(dir, outside);
    return outside;
  }
  let open = true;
  for (let at: string = real; ; at = posix.dirname(at)) {
    if ((statSync(at).mode & 0o001) === 0) open = false;
    if (!open || at === '/' || at === hostRoot) break;
  }
  const result = { open, special: isSpecialHostPath(inRoot) };
  cache.set(dir, result);
  return result;
}

function canRead(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export function missingHostFiles(files: readonly HostFile[]): string[] {
  return files.filter((f) => f.kind === 'missing').map((f) => f.path);
}

/** A key that changes when any input of the host layer changes. */
export function hostLayerKey(
  imageLayers: readonly string[],
  files: readonly HostFile[],
  hide: readonly string[],
  publicOnly: boolean,
): string {
  const access = publicOnly ? 'public' : 'private';
  const parts = [`v2\0${access}\0${imageLayers.join('\0')}\0hide\0${hide.join('\0')}\0`];
  for (const file of files) {
    const s = file.stat;
    parts.push(
      `${file.path}\0${file.target}\0${file.kind}\0${s ? `${identityOfStats(s)}:${s.mode}:${s.uid}:${s.gid}` : ''}\0${file.linkTarget ?? ''}\0`,
    );
  }
  return sha256Hex(parts.join(''));
}

/**
 * Makes sure the host layer for `key` exists under `dir`, building it in a
 * staging sibling and renaming it into place. Concurrent builders race only on
 * the rename: the loser discards its copy (the content is the same by key).
 */
export async function ensureHostLayer(
  dir: string,
  key: string,
  files: readonly HostFile[],
  options: BuildOptions,
): Promise<{ path: string; built: boolean; skipped: SkippedHostFile[] }> {
  const path = join(dir, key);
  if (existsSync(path)) return { path, built: false, skipped: [] };
  const staging = join(dir, tempName('host'));
  try {
    makeDirs(dir);
    sweepBeforeWrite(dir);
    const skipped = await buildHostLayer(staging, files, options);
    commitTree(staging, path);
    return { path, built: true, skipped };
  } catch (error) {
    removeTree(staging);
    const code = errnoOf(error);
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(path))
      return { path, built: false, skipped: [] };
    if (code === 'EACCES' || code === 'EPERM') {
      throw new PilotError(
        'PILOT_NEEDS_PRIVILEGE',
        `cannot build the host layer in ${dir}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}
