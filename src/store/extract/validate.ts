/**
 * Pass 1: every entry of the archive is checked (entry-rules.ts) before anything is
 * written. The input streams through sha256 (as given), the decompressor, sha256 (the
 * uncompressed tar, i.e. the OCI diff_id) and node-tar's parser; one entry that could
 * escape the directory refuses the whole archive.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { errnoOf, PilotError } from '../../core/errors.js';
import { explainSystemError, withPath } from '../../core/system-error.js';
import { ToolError } from '../../core/tool-error.js';
import { type Compression, decompressor, tap } from './decompress.js';
import { EntryValidator, invalid, unsafe } from './entry-rules.js';

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
      decompressor(compression, label),
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
    // The private copy could not be written (a full disk): not the archive's fault.
    const spoolErrno = errnoOf(spoolError);
    if (spoolFile !== undefined && (spoolErrno === 'ENOSPC' || spoolErrno === 'EDQUOT')) {
      throw explainSystemError(withPath(spoolError, spoolFile));
    }
    // zstd or xz missing or failing says so itself, naming the data.
    if (error instanceof ToolError) throw error;
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
