/**
 * The rules every entry of a layer (or include tar) must meet before anything of it is
 * written: no way out of the directory (`..`, absolute paths, paths through a symlink of
 * the same archive, hard links to anything but an earlier file), no entry GNU tar would
 * fail on halfway or handle as the host decides (a directory over a symlink of the same
 * archive), no device node for an unprivileged store, and no path longer than a Linux
 * path can be. Pass 1 (validate.ts) feeds it every entry in archive order.
 */
import { PilotError } from '../../core/errors.js';
import { quoteExcerpt } from '../../core/excerpt.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

const ESCAPE_HINT =
  'the archive could write outside its directory; rebuild the image without that entry';

export function unsafe(
  label: string,
  path: string,
  reason: string,
  hint = ESCAPE_HINT,
): PilotError {
  return new PilotError(
    'PILOT_LAYER_UNSAFE',
    `${label}: entry ${quoteExcerpt(path)} ${reason}; refused`,
    { hint },
  );
}

export function invalid(label: string, reason: string, cause?: unknown): PilotError {
  return new PilotError('PILOT_IMAGE_INVALID', `${label}: ${reason}`, {
    hint: 'the archive is corrupt or truncated; save or copy it again',
    cause,
  });
}

/** `a//b/./c/` → `a/b/c`; the archive root is `.`. Assumes `..` was refused already. */
export function splitEntryPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

interface EntryInfo {
  path: string;
  type: string;
  linkpath?: string | undefined;
  size: number;
  devmajor: number;
  devminor: number;
}

/**
 * The longest entry path an image may have: "/" and the path, with the kernel's NUL,
 * must fit in PATH_MAX (4096), or no program in the container could name the file. The
 * store's own directory comes before it on the host: tree-walk.ts and long-path.ts
 * reach such paths all the same.
 */
export const MAX_ENTRY_PATH = 4094;
/** One name (NAME_MAX), and a symlink's target (PATH_MAX less its NUL). */
export const MAX_ENTRY_NAME = 255;
export const MAX_LINK_TARGET = 4095;

function tooLong(label: string, path: string, what: string, bytes: number, limit: number) {
  return new PilotError(
    'PILOT_IMAGE_INVALID',
    `${label}: entry ${quoteExcerpt(path)} has ${what} of ${bytes} bytes; the most a Linux path allows is ${limit}; refused`,
    {
      hint: 'no program could open that path inside the container; rebuild the image without that entry',
    },
  );
}

/** What one path of the archive holds after the entries so far (a tree, one node per path). */
interface PathNode {
  children: Map<string, PathNode> | undefined;
  /** The last entry's kind, or a directory that later entries were put in. */
  kind: 'directory' | 'other' | undefined;
  symlink: boolean;
  /** A directory that entries were put in: GNU tar cannot replace it by a file. */
  nonEmpty: boolean;
}

function newNode(): PathNode {
  return { children: undefined, kind: undefined, symlink: false, nonEmpty: false };
}

/**
 * Pass 1's rules, one entry at a time, in archive order. The paths seen so far are a
 * tree of names, so an entry's parents are checked in time linear in its path (a set
 * of whole prefixes costs the square of its depth: 2,000 levels are 2,000 prefixes of up
 * to 4,000 bytes, each hashed).
 */
export class EntryValidator {
  readonly names: string[] = [];
  readonly whiteouts: string[] = [];
  readonly opaqueDirs: string[] = [];
  readonly otherWhiteoutFiles: string[] = [];
  size = 0;
  private symlinks = 0;
  private readonly root = newNode();

  constructor(
    private readonly label: string,
    private readonly privileged: boolean,
  ) {}

  /** The node of an earlier entry's path, if there was one. */
  private lookup(parts: string[]): PathNode | undefined {
    let node: PathNode | undefined = this.root;
    for (let i = 0; i < parts.length && node; i++) node = node.children?.get(parts[i]!);
    return node;
  }

  private checkParents(shown: string, parts: string[], what: string): void {
    if (this.symlinks === 0) return;
    let node: PathNode | undefined = this.root;
    for (let i = 0; i < parts.length - 1 && node; i++) {
      node = node.children?.get(parts[i]!);
      if (node?.symlink) {
        const prefix = parts.slice(0, i + 1).join('/');
        throw unsafe(
          this.label,
          shown,
          `${what} ${quoteExcerpt(prefix)}, a symlink earlier in the same archive`,
        );
      }
    }
  }

  /**
   * GNU tar replaces an entry's earlier namesake, but fails halfway (after writing part of
   * the layer) where it cannot: an entry below a file, or a file over a directory that
   * holds entries (the move that would turn a directory into a symlink under its files).
   * Refused here, before anything is written.
   */
  private checkReplacements(shown: string, parts: string[], isFile: boolean): PathNode {
    const refuse = (why: string) => unsafe(this.label, shown, why);
    let node = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      let child = node.children?.get(parts[i]!);
      if (!child) {
        child = newNode();
        node.children ??= new Map();
        node.children.set(parts[i]!, child);
      }
      if (child.kind === 'other') {
        const prefix = parts.slice(0, i + 1).join('/');
        throw refuse(`lies under ${quoteExcerpt(prefix)}, which an earlier entry made a file`);
      }
      child.kind = 'directory';
      child.nonEmpty = true;
      node = child;
    }
    if (parts.length === 0) return node;
    let last = node.children?.get(parts[parts.length - 1]!);
    if (last && isFile && last.nonEmpty) {
      throw refuse(
        `would replace the directory ${quoteExcerpt(parts.join('/'))} that earlier entries are in`,
      );
    }
    if (!last) {
      last = newNode();
      node.children ??= new Map();
      node.children.set(parts[parts.length - 1]!, last);
    }
    last.kind = isFile ? 'other' : 'directory';
    return last;
  }

  private checkLengths(path: string, parts: string[], normal: string, linkpath?: string): void {
    const bytes = Buffer.byteLength(normal);
    if (bytes > MAX_ENTRY_PATH) throw tooLong(this.label, path, 'a path', bytes, MAX_ENTRY_PATH);
    for (const part of parts) {
      const name = Buffer.byteLength(part);
      if (name > MAX_ENTRY_NAME) throw tooLong(this.label, path, 'a name', name, MAX_ENTRY_NAME);
    }
    if (linkpath !== undefined) {
      const target = Buffer.byteLength(linkpath);
      if (target > MAX_LINK_TARGET)
        throw tooLong(this.label, path, 'a link target', target, MAX_LINK_TARGET);
    }
  }

  check(entry: EntryInfo): void {
    const { path, type } = entry;
    if (path.includes('\0')) throw unsafe(this.label, path, 'has a NUL byte in its name');
    if (path.startsWith('/')) throw unsafe(this.label, path, 'is an absolute path');
    const parts = splitEntryPath(path);
    if (parts.includes('..')) throw unsafe(this.label, path, 'has a ".." component');
    const normal = parts.join('/');
    this.checkLengths(path, parts, normal, type === 'SymbolicLink' ? entry.linkpath : undefined);
    if (normal === '' && type !== 'Directory') {
      throw unsafe(this.label, path, 'would replace the archive root');
    }
    // `a/.` or `a/` names a directory: GNU tar's mknod or open of it fails halfway.
    const last = path.slice(path.lastIndexOf('/') + 1);
    if (type !== 'Directory' && (last === '' || last === '.')) {
      throw unsafe(this.label, path, 'ends in "/" or "/.", as only a directory may');
    }
    this.checkParents(path, parts, 'lies under');
    switch (type) {
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        this.size += entry.size;
        break;
      case 'Directory':
        // GNU tar looks at the symlink's target to decide how to replace it: the outcome
        // would depend on the host (a link to an existing host directory fails halfway).
        if (this.symlinks > 0 && this.lookup(parts)?.symlink) {
          throw unsafe(
            this.label,
            path,
            `would turn ${quoteExcerpt(normal)}, a symlink earlier in the same archive, into a directory`,
          );
        }
        break;
      case 'SymbolicLink':
        // The target is data: it only ever resolves inside the container's root.
        this.symlinks += 1;
        this.size += Buffer.byteLength(entry.linkpath ?? '');
        break;
      case 'Link': {
        const target = entry.linkpath ?? '';
        if (target.startsWith('/')) {
          throw unsafe(
            this.label,
            path,
            `is a hard link to the absolute path ${quoteExcerpt(target)}`,
          );
        }
        const targetParts = splitEntryPath(target);
        if (targetParts.includes('..') || target.includes('\0')) {
          throw unsafe(
            this.label,
            path,
            `is a hard link to ${quoteExcerpt(target)}, which has a ".." component`,
          );
        }
        if (this.lookup(targetParts)?.kind !== 'other') {
          // Not an escape: tar makes entries in order, and a link needs its file first.
          throw unsafe(
            this.label,
            path,
            `is a hard link to ${quoteExcerpt(target)}, which is not an earlier file of the archive (a hard link must come after the file it links to, in the same layer)`,
            'rebuild the layer so that each hard link follows its file (podman save, docker save and GNU tar write them so)',
          );
        }
        this.checkParents(path, targetParts, 'is a hard link through');
        break;
      }
      case 'CharacterDevice':
      case 'BlockDevice': {
        const whiteoutDevice =
          type === 'CharacterDevice' && entry.devmajor === 0 && entry.devminor === 0;
        if (!this.privileged && !whiteoutDevice) {
          throw unsafe(
            this.label,
            path,
            'is a device node, which only root may extract',
            'load this image as root, or rebuild it without device nodes',
          );
        }
        break;
      }
      case 'FIFO':
        break;
      default:
        throw unsafe(
          this.label,
          path,
          `has the unsupported tar entry type ${quoteExcerpt(String(type))}`,
          'an image layer holds files, directories, links, FIFOs and devices only; rebuild the image without that entry',
        );
    }
    const node = this.checkReplacements(path, parts, type !== 'Directory');
    if (type === 'SymbolicLink') node.symlink = true;
    this.names.push(normal === '' ? '.' : normal);
    const base = parts[parts.length - 1] ?? '';
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base === OPAQUE_MARKER) this.opaqueDirs.push(parts.slice(0, -1).join('/') || '.');
      else if (
        base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`) ||
        base === WHITEOUT_PREFIX
      ) {
        // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless to overlayfs.
        this.otherWhiteoutFiles.push(normal);
      } else if (base === `${WHITEOUT_PREFIX}.` || base === `${WHITEOUT_PREFIX}..`) {
        // It would hide its own directory or the one above: no image tool writes that.
        throw unsafe(
          this.label,
          path,
          `is a whiteout of "${base.slice(WHITEOUT_PREFIX.length)}", which names no file`,
          'a whiteout .wh.NAME hides the file NAME of a lower layer; rebuild the image',
        );
      } else this.whiteouts.push(normal);
    }
  }
}
