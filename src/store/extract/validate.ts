/**
 * Pass 1: every entry of the archive is checked before anything is written. The input
 * streams through sha256 (as given), the decompressor, sha256 (the uncompressed tar, i.e.
 * the OCI diff_id) and node-tar's parser; one entry that could escape the directory
 * refuses the whole archive.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { PilotError } from '../../core/errors.js';
import { quoteExcerpt } from '../../core/excerpt.js';
import { type Compression, decompressor, tap } from './decompress.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export function unsafe(label: string, path: string, reason: string): PilotError {
  return new PilotError(
    'PILOT_LAYER_UNSAFE',
    `${label}: entry ${quoteExcerpt(path)} ${reason}; refused`,
    {
      hint: 'the archive could write outside its directory; rebuild the image without that entry',
    },
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

/** Pass 1's rules, one entry at a time, in archive order. */
export class EntryValidator {
  readonly names: string[] = [];
  readonly whiteouts: string[] = [];
  readonly opaqueDirs: string[] = [];
  readonly otherWhiteoutFiles: string[] = [];
  size = 0;
  private readonly symlinks = new Set<string>();
  /** What each path holds after the entries so far: the last entry's kind, or a parent dir. */
  private readonly current = new Map<string, 'directory' | 'other'>();
  /** Directories that entries were put in: GNU tar cannot replace those by a file. */
  private readonly nonEmpty = new Set<string>();

  constructor(
    private readonly label: string,
    private readonly privileged: boolean,
  ) {}

  private checkParents(shown: string, parts: string[], what: string): void {
    if (this.symlinks.size === 0) return;
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix = i === 0 ? parts[0]! : `${prefix}/${parts[i]}`;
      if (this.symlinks.has(prefix)) {
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
  private checkReplacements(shown: string, parts: string[], isFile: boolean): void {
    const refuse = (why: string) => unsafe(this.label, shown, why);
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix = i === 0 ? parts[0]! : `${prefix}/${parts[i]}`;
      if (this.current.get(prefix) === 'other') {
        throw refuse(`lies under ${quoteExcerpt(prefix)}, which an earlier entry made a file`);
      }
      this.current.set(prefix, 'directory');
      this.nonEmpty.add(prefix);
    }
    const normal = parts.join('/');
    if (isFile && this.nonEmpty.has(normal)) {
      throw refuse(
        `would replace the directory ${quoteExcerpt(normal)} that earlier entries are in`,
      );
    }
    if (normal !== '') this.current.set(normal, isFile ? 'other' : 'directory');
  }

  check(entry: EntryInfo): void {
    const { path, type } = entry;
    if (path.includes('\0')) throw unsafe(this.label, path, 'has a NUL byte in its name');
    if (path.startsWith('/')) throw unsafe(this.label, path, 'is an absolute path');
    const parts = splitEntryPath(path);
    if (parts.includes('..')) throw unsafe(this.label, path, 'has a ".." component');
    const normal = parts.join('/');
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
        break;
      case 'SymbolicLink':
        // The target is data: it only ever resolves inside the container's root.
        this.symlinks.add(normal);
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
        const targetNormal = targetParts.join('/');
        if (this.current.get(targetNormal) !== 'other') {
          throw unsafe(
            this.label,
            path,
            `is a hard link to ${quoteExcerpt(target)}, which is not an earlier file of the archive`,
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
          throw unsafe(this.label, path, 'is a device node, which only root may extract');
        }
        break;
      }
      case 'FIFO':
        break;
      default:
        throw unsafe(this.label, path, `has the unsupported tar entry type "${type}"`);
    }
    this.checkReplacements(path, parts, type !== 'Directory');
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
      } else this.whiteouts.push(normal);
    }
  }
}

/** What pass 1 needs of the extract options; `privileged` is settled by the caller. */
export interface ValidateOptions {
  privileged: boolean;
  expectedDigest?: string | undefined;
  expectedDiffId?: string | undefined;
  onBytes?: ((bytes: number) => void) | undefined;
}

export interface Pass1Result {
  validator: EntryValidator;
  rawSize: number;
  digest: string;
  diffId: string;
  tarSize: number;
}

export async function validatePass(
  open: () => Readable,
  compression: Compression,
  label: string,
  options: ValidateOptions,
  spoolFile?: string,
): Promise<Pass1Result> {
  const spool = spoolFile === undefined ? undefined : createWriteStream(spoolFile, { mode: 0o600 });
  // Errors are taken once, here: a write still in flight when a failure elsewhere
  // destroys the spool must not surface later as an unhandled 'error' event.
  let spoolError: unknown;
  spool?.on('error', (error) => {
    spoolError ??= error;
  });
  const validator = new EntryValidator(label, options.privileged);
  const rawHash = createHash('sha256');
  const tarHash = createHash('sha256');
  let tarSize = 0;
  let rawSize = 0;
  let failure: unknown;
  const warnings: string[] = [];
  // Every entry is ignored (node-tar then skips its body without copying it into an
  // entry stream, several times faster) and checked as it goes by. Entries node-tar
  // ignores by itself (unknown types, oversized pax headers) come by here too.
  const parser = new Parser({
    strict: false,
    maxMetaEntrySize: 16 * 1024 * 1024,
    onwarn: (code: string, message: string | Error) => {
      const text = typeof message === 'string' ? message : message.message;
      warnings.push(`${code}: ${text}`);
    },
    filter: () => false,
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    if (failure !== undefined) return;
    try {
      if (entry.meta) {
        throw unsafe(label, entry.path, `has an extended header larger than 16 MiB`);
      }
      validator.check({
        path: entry.path,
        type: entry.type,
        linkpath: entry.linkpath,
        size: entry.size,
        devmajor: entry.header.devmaj,
        devminor: entry.header.devmin,
      });
    } catch (error) {
      failure = error;
    }
  });
  const parsed = new Promise<void>((resolve) => parser.on('end', () => resolve()));
  try {
    await pipeline(
      open(),
      tap((chunk) => {
        rawHash.update(chunk);
        rawSize += chunk.length;
        options.onBytes?.(chunk.length);
      }),
      decompressor(compression),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) {
          // uncompressed: the tar is the blob, hashed once above
          if (compression !== 'none') tarHash.update(chunk);
          tarSize += chunk.length;
          if (!parser.write(chunk)) await new Promise((resolve) => parser.once('drain', resolve));
          if (failure !== undefined) throw failure;
          if (spool && !spool.write(chunk)) await once(spool, 'drain');
        }
        if (spool) {
          await new Promise<void>((resolve) => spool.end(() => resolve()));
          if (spoolError !== undefined) throw spoolError;
        }
      },
    );
  } catch (error) {
    if (spool && !spool.closed) {
      spool.destroy();
      // Not events.once: it would reject with the destroyed write's error.
      await new Promise<void>((resolve) => spool.once('close', () => resolve()));
    }
    if (failure !== undefined) throw failure;
    throw invalid(label, `cannot read the archive: ${(error as Error).message}`, error);
  }
  parser.end();
  await parsed;
  if (failure !== undefined) throw failure;
  const digest = `sha256:${rawHash.digest('hex')}`;
  const diffId = compression === 'none' ? digest : `sha256:${tarHash.digest('hex')}`;
  if (options.expectedDigest && options.expectedDigest !== digest) {
    throw new PilotError(
      'PILOT_DIGEST_MISMATCH',
      `${label}: the blob's digest is ${digest}, but ${options.expectedDigest} was expected`,
      { hint: 'the archive is corrupt or was modified; save or download it again' },
    );
  }
  if (options.expectedDiffId && options.expectedDiffId !== diffId) {
    throw new PilotError(
      'PILOT_DIGEST_MISMATCH',
      `${label}: the uncompressed layer's digest is ${diffId}, but the image config says ${options.expectedDiffId}`,
      { hint: 'the archive is corrupt or was modified; save or download it again' },
    );
  }
  // A wrong blob is reported as such, before whatever its bytes look like as a tar.
  const fatal = warnings.filter(
    (warning) => !(validator.names.length === 0 && warning.includes('Unrecognized archive format')),
  );
  if (fatal.length > 0) throw invalid(label, `not a valid tar archive (${fatal[0]})`);
  return { validator, digest, diffId, tarSize, rawSize };
}
