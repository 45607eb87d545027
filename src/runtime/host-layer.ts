/**
 * The host layer: the host files that the images' `/removed` lists name, placed
 * at their canonical path inside the image, as hard links (same file system) or
 * copies of single files (never whole trees). It is an overlay lower dir on top
 * of the image layers, cached under the store by a key over the images and every
 * listed host file's identity (dev/ino/size/mtime): a package upgrade replaces
 * inodes, so the key changes and the layer is rebuilt.
 */

import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  rmSync,
  type Stats,
  statSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { commitRename } from '../core/atomic-fs.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { sweepBeforeWrite, tempName } from '../core/temp-entries.js';
import type { LayeredTree } from './image-tree.js';

export type HostFileKind = 'file' | 'dir' | 'symlink' | 'other' | 'missing';

export interface HostFile {
  /** Path as the list gives it (absolute, normalized). */
  path: string;
  /** Where it goes inside the image (parents resolved against the image's layout). */
  target: string;
  kind: HostFileKind;
  stat?: Stats;
  linkTarget?: string;
}

function kindOf(stat: Stats): HostFileKind {
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isDirectory()) return 'dir';
  if (stat.isFile()) return 'file';
  return 'other';
}

/** lstat of every listed host path (the host's own symlinks in parents are followed, as on the host). */
export function scanHostFiles(
  paths: readonly string[],
  tree: LayeredTree,
  hostRoot = '/',
  canonicalDirs = new Map<string, string>(),
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
  return paths.map((path) => {
    const target = canonicalTarget(path);
    try {
      const stat = lstatSync(onHost(path));
      const file: HostFile = { path, target, kind: kindOf(stat), stat };
      if (file.kind === 'symlink') file.linkTarget = readlinkSync(onHost(path));
      return file;
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return { path, target, kind: 'missing' };
      throw error;
    }
  });
}

export function missingHostFiles(files: readonly HostFile[]): string[] {
  return files.filter((f) => f.kind === 'missing').map((f) => f.path);
}

/** A key that changes when any input of the host layer changes. */
export function hostLayerKey(
  imageLayers: readonly string[],
  files: readonly HostFile[],
  hide: readonly string[],
): string {
  const hash = createHash('sha256');
  hash.update(`v1\0${imageLayers.join('\0')}\0hide\0${hide.join('\0')}\0`);
  for (const file of files) {
    const s = file.stat;
    hash.update(
      `${file.path}\0${file.target}\0${file.kind}\0${s ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.mode}:${s.uid}:${s.gid}` : ''}\0${file.linkTarget ?? ''}\0`,
    );
  }
  return hash.digest('hex');
}

interface BuildOptions {
  /** In-image paths to hide from the merged root with a whiteout (e.g. `/removed`). */
  hide: readonly string[];
  tree: LayeredTree;
  hostRoot?: string;
}

/**
 * Builds the host layer into `staging` (which must not exist). Parent directories
 * copy the image's own directory metadata where the image has the directory, so
 * that the host layer does not change the merged root's modes or owners.
 */
export async function buildHostLayer(
  staging: string,
  files: readonly HostFile[],
  options: BuildOptions,
): Promise<void> {
  const hostRoot = options.hostRoot ?? '/';
  const isRoot = process.getuid?.() === 0;
  mkdirSync(staging, { mode: 0o755 });
  const storeDev = statSync(staging).dev;
  const madeDirs = new Set<string>(['/']);

  const ensureDir = (dir: string): void => {
    if (madeDirs.has(dir)) return;
    ensureDir(posix.dirname(dir));
    const dest = staging + dir;
    const imageEntry = options.tree.lookup(dir);
    let reference: Stats | undefined = imageEntry?.stat.isDirectory() ? imageEntry.stat : undefined;
    if (!reference) {
      try {
        reference = statSync(posix.join(hostRoot, dir));
      } catch {
        reference = undefined;
      }
    }
    if (!existsSync(dest)) mkdirSync(dest);
    applyMetadata(dest, reference, isRoot, 0o755);
    madeDirs.add(dir);
  };

  for (const file of files) {
    if (file.kind === 'missing' || file.kind === 'other') continue;
    ensureDir(posix.dirname(file.target));
    const dest = staging + file.target;
    const source = posix.join(hostRoot, file.path);
    if (existsSync(dest) || isDanglingLink(dest)) continue;
    if (file.kind === 'symlink') {
      // Kept as a link: it resolves inside the app's root, where its target is
      // provided too when the list names it (KIWI lists both).
      symlinkSync(file.linkTarget!, dest);
      if (isRoot) lchownQuiet(dest, file.stat!);
    } else if (file.kind === 'dir') {
      mkdirSync(dest);
      applyMetadata(dest, file.stat, isRoot, 0o755);
      madeDirs.add(file.target);
    } else if (file.stat!.dev === storeDev) {
      try {
        linkSync(source, dest);
      } catch (error) {
        // fs.protected_hardlinks forbids linking files the caller does not own.
        if (errnoOf(error) !== 'EPERM' && errnoOf(error) !== 'EXDEV') throw error;
        copySingleFile(source, dest, file.stat!, isRoot);
      }
    } else {
      copySingleFile(source, dest, file.stat!, isRoot);
    }
  }

  // Whiteouts are character devices 0/0: only root may create them. A caller's
  // own store goes without (its app sees /removed, which is harmless data).
  const whiteouts: string[] = [];
  for (const path of isRoot ? options.hide : []) {
    ensureDir(posix.dirname(path));
    if (options.tree.lookup(path) && !existsSync(staging + path)) whiteouts.push(path.slice(1));
  }
  if (whiteouts.length > 0) {
    // Cold path only: the whiteout maker (and node-tar) load when a host layer hides a file.
    const { makeWhiteoutDevices } = await import('../store/extract/whiteouts.js');
    await makeWhiteoutDevices(staging, whiteouts, isRoot);
  }
}

function isDanglingLink(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function applyMetadata(
  dest: string,
  reference: Stats | undefined,
  isRoot: boolean,
  fallbackMode: number,
): void {
  chmodSync(dest, reference ? reference.mode & 0o7777 : fallbackMode);
  if (isRoot && reference) chownSync(dest, reference.uid, reference.gid);
}

function lchownQuiet(dest: string, stat: Stats): void {
  try {
    lchownSync(dest, stat.uid, stat.gid);
  } catch {
    // ownership of a symlink is cosmetic
  }
}

function copySingleFile(source: string, dest: string, stat: Stats, isRoot: boolean): void {
  copyFileSync(source, dest);
  chmodSync(dest, stat.mode & 0o7777);
  if (isRoot) chownSync(dest, stat.uid, stat.gid);
  utimesSync(dest, stat.atime, stat.mtime);
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
): Promise<{ path: string; built: boolean }> {
  const path = join(dir, key);
  if (existsSync(path)) return { path, built: false };
  const staging = join(dir, tempName('host'));
  try {
    mkdirSync(dir, { recursive: true });
    sweepBeforeWrite(dir);
    await buildHostLayer(staging, files, options);
    commitRename(staging, path);
    return { path, built: true };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    const code = errnoOf(error);
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(path))
      return { path, built: false };
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
