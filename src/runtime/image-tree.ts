/**
 * Looks paths up in a stack of extracted layer directories the way overlayfs
 * would merge them (whiteouts hide, opaque directories stop the lookup), without
 * mounting anything. Used to place host files at their canonical path inside the
 * image: `lib64/x` must land in `usr/lib64/x` when the image has `lib64 -> usr/lib64`,
 * or the host layer would create a real `lib64/` that hides the image's link.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { errnoOf } from '../core/errors.js';

export interface TreeLayer {
  dir: string;
  /** Absolute in-image paths of directories this layer marks opaque. */
  opaqueDirs?: readonly string[];
}

export interface TreeEntry {
  layer: string;
  stat: Stats;
  linkTarget?: string;
}

function isWhiteout(stat: Stats): boolean {
  return stat.isCharacterDevice() && stat.rdev === 0;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

export class LayeredTree {
  private readonly layers: readonly TreeLayer[];

  /** `layers` top first, as in overlayfs' lowerdir. */
  constructor(layers: readonly TreeLayer[]) {
    this.layers = layers;
  }

  /** The merged entry at an exact path (no symlink in its parents is followed). */
  lookup(path: string): TreeEntry | undefined {
    const normalized = posix.normalize(`/${path}`);
    for (const layer of this.layers) {
      const stat = lstatOrUndefined(layer.dir + normalized);
      if (stat) {
        if (isWhiteout(stat)) return undefined;
        const entry: TreeEntry = { layer: layer.dir, stat };
        if (stat.isSymbolicLink()) entry.linkTarget = readlinkSync(layer.dir + normalized);
        return entry;
      }
      if (this.hidesBelow(layer, normalized)) return undefined;
    }
    return undefined;
  }

  /** True when `layer` hides `path` of the layers below (an ancestor is a whiteout, a non-dir, or opaque). */
  private hidesBelow(layer: TreeLayer, path: string): boolean {
    let parent = posix.dirname(path);
    while (true) {
      const stat = lstatOrUndefined(layer.dir + parent);
      if (stat) {
        if (!stat.isDirectory()) return true;
        if (layer.opaqueDirs?.includes(parent)) return true;
      }
      if (parent === '/') return false;
      parent = posix.dirname(parent);
    }
  }

  /**
   * Resolves every symlink in the parent components of `path` inside the image
   * (never on the host; `..` stops at the image root, as in a chroot). The last
   * component is kept as is, so a symlink there stays a symlink.
   */
  canonicalParent(path: string): string {
    const normalized = posix.normalize(`/${path}`);
    if (normalized === '/') return '/';
    const parent = this.canonicalDir(posix.dirname(normalized), 0);
    return posix.join(parent, posix.basename(normalized));
  }

  private canonicalDir(path: string, depth: number): string {
    if (depth > 40)
      throw new Error(`too many levels of symbolic links resolving ${path} in the image`);
    let current = '/';
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '..') {
        current = posix.dirname(current);
        continue;
      }
      const next = posix.join(current, part);
      const entry = this.lookup(next);
      if (entry?.linkTarget !== undefined) {
        // Plain concatenation, not posix.join: `..` after a symlink must climb from
        // the link's target, not lexically from the link.
        const target = entry.linkTarget.startsWith('/')
          ? entry.linkTarget
          : `${current}/${entry.linkTarget}`;
        const rest = parts.slice(i + 1).join('/');
        return this.canonicalDir(`${this.canonicalDir(target, depth + 1)}/${rest}`, depth + 1);
      }
      current = next;
    }
    return current;
  }
}
