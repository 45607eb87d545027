/**
 * Pass 1: every entry of the archive is checked (entry-rules.ts) before it is written.
 * The input streams through sha256 (as given), the decompressor, sha256 (the
 * uncompressed tar, i.e. the OCI diff_id) and node-tar's parser, and on to GNU tar
 * (pass 2) only behind the parser; one entry that could escape the directory refuses
 * the whole archive.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { PilotError } from '../../core/errors.js';
import { ToolError } from '../../core/tool-error.js';
import { BodyDigests } from './body-digests.js';
import { type Compression, compressionOf, decompressor, tap } from './decompress.js';
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
  /** Each regular file's content digest, as the stream carried it. */
  bodies: BodyDigests;
  rawSize: number;
  digest: string;
  diffId: string;
  tarSize: number;
}

/** A plain tar starting so is gzip data to node-tar, which would undo it on its own. */
function looksGzipped(head: Buffer): boolean {
  return compressionOf(head) === 'gzip';
}

/**
 * Runs pass 1 over the input and hands each chunk of the plain tar to `sink` once the
 * parser has read it: node-tar parses a written chunk before write() returns (it
 * decompresses nothing itself, see below), so every header within the bytes handed on
 * has been checked, and a header cut by the chunk's end is one GNU tar cannot act on
 * either. The first refusal or parser warning stops the handing on; the input is still
 * read to its end, so that the digests and the first refusal are reported as before.
 */
export async function validatePass(
  open: () => Readable,
  compression: Compression,
  label: string,
  options: ValidateOptions,
  sink?: (chunk: Buffer) => Promise<void>,
): Promise<Pass1Result> {
  const validator = new EntryValidator(label, options.privileged);
  const bodies = new BodyDigests();
  const rawHash = createHash('sha256');
  const tarHash = createHash('sha256');
  let tarSize = 0;
  let rawSize = 0;
  let failure: unknown;
  const warnings: string[] = [];
  // Every entry is ignored (node-tar then skips its body without copying it into an
  // entry stream, several times faster) and checked as it goes by. Entries node-tar
  // ignores by itself (unknown types, oversized pax headers) come by here too. zstd and
  // brotli detection are off: a parser that decompressed on its own would read behind the
  // bytes already handed to GNU tar (gzip it always detects: refused below instead).
  const parser = new Parser({
    strict: false,
    zstd: false,
    brotli: false,
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
      bodies.watch(entry);
    } catch (error) {
      failure = error;
    }
  });
  const parsed = new Promise<void>((resolve) => parser.on('end', () => resolve()));
  let head: Buffer | undefined = Buffer.alloc(0);
  let handing = sink !== undefined;
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
        for await (let chunk of source) {
          // uncompressed: the tar is the blob, hashed once above
          if (compression !== 'none') tarHash.update(chunk);
          tarSize += chunk.length;
          if (head !== undefined) {
            // The parser gets its first bytes in one piece: it sniffs the first four.
            chunk = Buffer.concat([head, chunk]);
            if (chunk.length < 4) {
              head = chunk;
              continue;
            }
            head = undefined;
            if (looksGzipped(chunk)) {
              failure = invalid(
                label,
                'the tar is itself compressed (an archive inside an archive)',
              );
              throw failure;
            }
          }
          if (!parser.write(chunk)) await new Promise((resolve) => parser.once('drain', resolve));
          if (failure !== undefined) throw failure;
          // A header node-tar could not read may be one GNU tar reads: nothing more goes to it.
          if (warnings.length > 0) handing = false;
          if (handing) await sink!(chunk);
        }
        if (head !== undefined && head.length > 0) parser.write(head);
      },
    );
  } catch (error) {
    if (failure !== undefined) throw failure;
    // zstd or xz missing or failing says so itself, naming the data.
    if (error instanceof ToolError || error instanceof PilotError) throw error;
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
  return { validator, bodies, digest, diffId, tarSize, rawSize };
}
