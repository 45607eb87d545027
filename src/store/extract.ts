/**
 * Safe, faithful extraction of a tar (plain, gzip, xz or zstd) into a directory.
 *
 * Pass 1 streams the input through sha256 (as given), the decompressor, sha256 (the
 * uncompressed tar, i.e. the OCI diff_id) and node-tar's parser, and refuses the archive
 * if one entry could escape the directory. Pass 2, GNU tar, runs at the same time and
 * is fed the bytes pass 1 hashed, each chunk only once the parser has read it: no entry
 * reaches GNU tar before the validator has checked it, the input is read once, so what
 * is extracted is exactly what was verified even when someone can rewrite the archive
 * meanwhile, and no plain copy of the tar is written. GNU tar, because only it keeps
 * hard links and xattrs (node-tar cannot write xattrs), extracts into a staging dir only
 * its owner can enter; a refusal or a wrong digest (known at the end) removes it. Owners
 * and modes are then made canonical (extract/canonical.ts) and the dir is renamed into
 * place. GNU tar lists what it extracted; that list must equal the one pass 1
 * validated, so a header the two readers parse differently cannot smuggle an entry in.
 *
 * One file per stage under extract/: validate.ts (pass 1), entry-rules.ts (its rules),
 * decompress.ts, gnu-tar.ts (pass 2), cross-check.ts, whiteouts.ts, canonical.ts; this file only
 * opens the input, runs the stages in order and renames the result into place.
 */
import {
  chmodSync,
  createReadStream,
  createWriteStream,
  lstatSync,
  mkdirSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { commitTree } from '../core/atomic-fs.js';
import { debugStep } from '../core/debug.js';
import { errnoOf } from '../core/errors.js';
import { makeDirs, PRIVATE_DIR_MODE } from '../core/modes.js';
import { withPath } from '../core/system-error.js';
import { removeTree, sweepBeforeWrite, tempName } from '../core/temp-entries.js';
import type { TreeEntry } from '../core/tree-walk.js';
import type { BodyDigests } from './extract/body-digests.js';
import { canonicaliseTree, type OriginalEntry } from './extract/canonical.js';
import { compareNames } from './extract/cross-check.js';
import { type Compression, sniffCompression } from './extract/decompress.js';
import { invalid } from './extract/entry-rules.js';
import { startExtractPass } from './extract/gnu-tar.js';
import { validatePass } from './extract/validate.js';
import { convertWhiteouts, refuseOpaqueRoot } from './extract/whiteouts.js';

export type { Compression } from './extract/decompress.js';
export { EntryValidator } from './extract/entry-rules.js';
export { decodeTarEscapes } from './extract/gnu-tar.js';

/** A tar file path, a stream (read once, spooled), or something that opens a fresh stream. */
export type TarInput = string | Readable | { open(): Readable };

export interface ExtractOptions {
  /** Where the staging dir goes; must be on the same file system as `dest`. */
  tmpDir: string;
  /** Names the archive in messages, e.g. `layer sha256:ab… of image.tar`. */
  label?: string;
  /** `sha256:…` of the input bytes as given (compressed blob digest). */
  expectedDigest?: string;
  /** `sha256:…` of the uncompressed tar (diff_id). */
  expectedDiffId?: string;
  /** `overlay` (default) turns OCI whiteouts into overlayfs ones; `keep` leaves the files. */
  whiteouts?: 'overlay' | 'keep';
  /** Root may extract device nodes and keep owners; default: the effective uid is 0. */
  privileged?: boolean;
  /** Called with byte counts as the input is read (once). */
  onBytes?: (bytes: number) => void;
  /**
   * Each entry of the finished tree as canonicalisation walks it, with the owner and
   * mode it ends with (extract/canonical.ts), and the body digests pass 1 took: the
   * layer manifest is read in that walk rather than in a second one.
   */
  onEntry?: (entry: TreeEntry, bodies: BodyDigests) => void;
  /** Runs after extraction, before the rename into place (write records here); `staging` is the finished tree. */
  beforeCommit?: (result: ExtractResult, staging: string) => void | Promise<void>;
}

export interface ExtractResult {
  dest: string;
  /** False when `dest` already existed (another process extracted the same content). */
  created: boolean;
  digest: string;
  diffId: string;
  compression: Compression;
  /** Apparent bytes: file sizes plus symlink target lengths. */
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  entries: number;
  /** Owners and modes the image had where the store keeps canonical ones (extract/canonical.ts). */
  original: OriginalEntry[];
  /**
   * Directories the layer marks opaque (`.wh..wh..opq`), as absolute in-image paths,
   * sorted; empty where whiteouts are kept as files (include.tar).
   */
  opaqueDirs: string[];
  /** Each regular file's content digest as pass 1 read it (for the layer manifest). */
  bodies: BodyDigests;
}

/** Bigger reads than Node's 64 KiB default: fewer trips through the stream machinery. */
export const READ_CHUNK = 1024 * 1024;

function isPrivileged(): boolean {
  return process.geteuid?.() === 0;
}

async function spool(stream: Readable, file: string): Promise<void> {
  try {
    await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
  } catch (error) {
    // A stream's write error names no path: a full disk must still say where.
    const code = errnoOf(error);
    throw code === 'ENOSPC' || code === 'EDQUOT' ? withPath(error, file) : error;
  }
}

/**
 * Extracts `input` into `dest` (which must not exist yet; if it appears meanwhile, the
 * other writer's copy is kept and ours discarded). Nothing outside a staging dir in
 * `options.tmpDir` is written before the final rename, and the staging dir is removed on
 * every failure.
 */
export async function extractTarSafely(
  input: TarInput,
  dest: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const label = options.label ?? (typeof input === 'string' ? input : 'tar archive');
  const privileged = options.privileged ?? isPrivileged();
  makeDirs(options.tmpDir, PRIVATE_DIR_MODE);
  sweepBeforeWrite(options.tmpDir);
  const staging = join(options.tmpDir, tempName('extract'));
  const spoolFile = join(options.tmpDir, tempName('spool'));
  try {
    let open: () => Readable;
    if (typeof input === 'string') {
      try {
        lstatSync(input);
      } catch (error) {
        throw invalid(label, `cannot read ${input}: ${(error as Error).message}`, error);
      }
      open = () => createReadStream(input, { highWaterMark: READ_CHUNK });
    } else if (input instanceof Readable) {
      await spool(input, spoolFile);
      open = () => createReadStream(spoolFile, { highWaterMark: READ_CHUNK });
    } else {
      open = () => input.open();
    }
    const compression = await sniffCompression(open);
    // Closed to everyone but its owner until canonicalised: no other user may reach
    // an image's setuid file or device node, not even for a moment.
    mkdirSync(staging, { mode: 0o700 });
    chmodSync(staging, 0o700);
    // One read of the input: pass 2 (GNU tar) is fed the very bytes pass 1 hashed,
    // behind its parser, so what is extracted is what was verified.
    const tar = startExtractPass(staging, label, privileged);
    let checked: Awaited<ReturnType<typeof validatePass>>;
    try {
      checked = await validatePass(open, compression, label, { ...options, privileged }, (chunk) =>
        tar.write(chunk),
      );
      debugStep(`validated ${label}`);
      if ((options.whiteouts ?? 'overlay') === 'overlay')
        refuseOpaqueRoot(label, checked.validator);
    } catch (error) {
      await tar.abort();
      throw error;
    }
    const extracted = await tar.finish();
    debugStep(`extracted ${label}`);
    compareNames(label, checked.validator.names, extracted);
    if ((options.whiteouts ?? 'overlay') === 'overlay') {
      await convertWhiteouts(staging, checked.validator, options.tmpDir, privileged);
    }
    const owner = privileged
      ? { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 }
      : undefined;
    const onEntry = options.onEntry;
    const original = canonicaliseTree(
      staging,
      owner,
      onEntry && ((entry) => onEntry(entry, checked.bodies)),
    );
    debugStep(`canonicalised ${label}: ${original.length} entries changed`);
    const result: ExtractResult = {
      dest,
      created: true,
      digest: checked.digest,
      diffId: checked.diffId,
      compression,
      size: checked.validator.size,
      tarSize: checked.tarSize,
      bodies: checked.bodies,
      entries: checked.validator.names.length,
      original,
      opaqueDirs:
        (options.whiteouts ?? 'overlay') === 'overlay'
          ? [...new Set(checked.validator.opaqueDirs.map((dir) => `/${dir}`))].sort()
          : [],
    };
    await options.beforeCommit?.(result, staging);
    try {
      commitTree(staging, dest);
    } catch (error) {
      const code = errnoOf(error);
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      result.created = false;
    }
    return result;
  } finally {
    rmSync(spoolFile, { force: true });
    removeTree(staging);
  }
}
