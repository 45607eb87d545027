/**
 * Looks paths up in a stack of extracted layer directories the way overlayfs
 * would merge them (whiteouts hide, opaque directories stop the lookup), without
 * mounting anything. Used to place host files at their canonical path inside the
 * image: `lib64/x` must land in `usr/lib64/x` when the image has `lib64 -> usr/lib64`,
 * or the host layer would create a real `lib64/` that hides the image's link.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { errnoOf, PilotError } from '../core/errors.js';
import { escapeExcerpt } from '../core/excerpt.js';
import { withShortPath } from '../core/long-path.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { layerOpaqueDirs } from '../store/layer-record.js';

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
    // An image path may be 4,094 bytes long, below the layer's own directory.
    return withShortPath(path, (at) => lstatSync(at));
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

export class LayeredTree {
  private readonly layers: readonly TreeLayer[];
  /** Layers do not change while a tree is in use; a walk asks for `/usr` again and again. */
  private readonly entries = new Map<string, TreeEntry | undefined>();
  /** Per layer: whether it hides what is below a directory of it (hidesBelow). */
  private readonly hidden = new Map<TreeLayer, { at: Map<string, boolean>; opaque: Set<string> }>();

  /** `layers` top first, as in overlayfs' lowerdir. */
  constructor(layers: readonly TreeLayer[]) {
    this.layers = layers;
  }

  /** The merged entry at an exact path (no symlink in its parents is followed). */
  lookup(path: string): TreeEntry | undefined {
    const normalized = posix.normalize(`/${path}`);
    if (this.entries.has(normalized)) return this.entries.get(normalized);
    const entry = this.findEntry(normalized);
    this.entries.set(normalized, entry);
    return entry;
  }

  private findEntry(normalized: string): TreeEntry | undefined {
    for (const layer of this.layers) {
      const stat = lstatOrUndefined(layer.dir + normalized);
      if (stat) {
        if (isWhiteout(stat)) return undefined;
        const entry: TreeEntry = { layer: layer.dir, stat };
        if (stat.isSymbolicLink()) {
          entry.linkTarget = withShortPath(layer.dir + normalized, (at) =>
            readlinkSync(at, 'utf8'),
          );
        }
        return entry;
      }
      if (this.hidesBelow(layer, normalized)) return undefined;
    }
    return undefined;
  }

  /**
   * True when `layer` hides `path` of the layers below (an ancestor is a whiteout, a
   * non-dir, or opaque). Each directory's answer is kept: a walk down a deep path asks
   * about every ancestor of every component, which would cost the square of its depth.
   */
  private hidesBelow(layer: TreeLayer, path: string): boolean {
    let hidden = this.hidden.get(layer);
    if (!hidden) {
      hidden = { at: new Map(), opaque: new Set(layer.opaqueDirs ?? []) };
      this.hidden.set(layer, hidden);
    }
    // Up to the nearest directory whose answer is known, then the answers down again.
    const unknown: string[] = [];
    let answer: boolean | undefined;
    for (let dir = posix.dirname(path); ; dir = posix.dirname(dir)) {
      answer = hidden.at.get(dir);
      if (answer !== undefined) break;
      unknown.push(dir);
      if (dir === '/') {
        answer = false;
        break;
      }
    }
    for (let i = unknown.length - 1; i >= 0; i--) {
      const dir = unknown[i]!;
      if (!answer) {
        const stat = lstatOrUndefined(layer.dir + dir);
        answer = stat !== undefined && (!stat.isDirectory() || hidden.opaque.has(dir));
      }
      hidden.at.set(dir, answer);
    }
    return answer;
  }

  /**
   * Resolves every symlink in the parent components of `path` inside the image
   * (never on the host; `..` stops at the image root, as in a chroot). The last
   * component is kept as is, so a symlink there stays a symlink.
   */
  canonicalParent(path: string): string {
    // Not posix.normalize: `lib64/../x` is `/usr/x` when lib64 -> usr/lib64, as in the kernel.
    const pending = componentsReversed(path);
    const last = pending[0];
    if (last === undefined) return '/';
    if (last === '..') return this.walk(pending, path); // `x/..` names a directory: all of it
    pending.shift();
    return posix.join(this.walk(pending, path), last);
  }

  /**
   * Resolves every symlink of `path` inside the image, the last component's too, as
   * open(2) in the app's root would (`..` stops at the image root). Components the image
   * lacks are kept as they are.
   */
  resolve(path: string): string {
    return this.walk(componentsReversed(path), path);
  }

  /**
   * The kernel's walk, one component at a time: a link's target goes in front of the
   * components still to walk, and `..` climbs from where the walk stands (the target's
   * parent, not the link's). A resolved prefix is never walked again, so the work is
   * the path plus the targets followed, and the kernel's limit of 40 links per lookup
   * bounds those: a chain that doubles per level ends after 40 links, not 2^levels.
   * Components not in the image are taken as they are (a path pilot will create).
   */
  private walk(pending: string[], asked: string): string {
    let current = '/';
    let links = 0;
    while (pending.length > 0) {
      const part = pending.pop()!;
      if (part === '..') {
        current = posix.dirname(current);
        continue;
      }
      const next = current === '/' ? `/${part}` : `${current}/${part}`;
      const target = this.lookup(next)?.linkTarget;
      if (target === undefined) {
        current = next;
        continue;
      }
      if (++links > MAX_LINKS) {
        throw new PilotError(
          'PILOT_IMAGE_INVALID',
          `cannot resolve ${escapeExcerpt(asked)} in the image: its symbolic links loop or chain too deeply (more than ${MAX_LINKS} links, at ${escapeExcerpt(next)} -> ${escapeExcerpt(target)})`,
          {
            hint: 'the app cannot reach this path either (the kernel stops at 40 links); fix the links in the image, or leave the path out of /removed',
          },
        );
      }
      if (target.startsWith('/')) current = '/';
      pending.push(...componentsReversed(target));
    }
    return current;
  }
}

/** As the kernel (MAXSYMLINKS): links followed in one lookup, counted over the whole walk. */
const MAX_LINKS = 40;

function componentsReversed(path: string): string[] {
  return path
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .reverse();
}

/** The store's layers by diff id, top first, as the stack a LayeredTree looks through. */
export function treeLayers(paths: PilotPaths, diffIds: readonly string[]): TreeLayer[] {
  return diffIds.map((diffId) => ({
    dir: storeDirs.layer(paths, diffId),
    opaqueDirs: layerOpaqueDirs(paths, diffId),
  }));
}
