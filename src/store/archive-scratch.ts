/**
 * A compressed image archive (`docker save | gzip`, KIWI's `.docker.tar.xz`, a `.tar.zst`)
 * as a plain tar in scratch space. Archive members are read by offset (tar-index.ts), which
 * no compressed stream allows, so the archive is decompressed once into the load's own
 * temp dir inside the store's tmp/: removed when the load ends, and swept by the next load
 * or gc when a kill left it behind (temp.ts).
 *
 * A few hundred compressed bytes can expand to terabytes: the output is counted as it is
 * written, and stops (with an error that says so) before it would eat into the space the
 * store's file system keeps free.
 */
import { createReadStream, createWriteStream, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PilotError } from '../core/errors.js';
import { explainSystemError } from '../core/system-error.js';
import { ToolError } from '../core/tool-error.js';
import { type Compression, decompressor, tap } from './extract/decompress.js';

/** What stays free on the store's file system: this much, or 5% of it when that is less. */
const RESERVED_BYTES = 1024 ** 3;

/**
 * How many bytes a decompressed archive may take in `dir`: the free space but a reserve,
 * so that a decompression bomb ends this load and not every other writer of the disk.
 */
export function scratchLimit(dir: string): number {
  const fs = statfsSync(dir);
  const reserve = Math.min(RESERVED_BYTES, Math.floor(fs.blocks * fs.bsize * 0.05));
  return Math.max(0, fs.bavail * fs.bsize - reserve);
}

function tooBig(source: string, compression: string, dir: string, limit: number): PilotError {
  return new PilotError(
    'PILOT_IMAGE_INVALID',
    `${source}: its ${compression} data decompresses to more than ${limit} bytes, more than ${dir} can hold and keep some space free`,
    {
      hint: 'free some space ("pilot gc" deletes what no image or app uses), or decompress the archive yourself onto a larger file system and load the plain tar',
    },
  );
}

/** An error of the decompressor itself (gzip's; zstd and xz fail as a ToolError that names the tool). */
function unreadable(source: string, compression: Compression, error: unknown): PilotError {
  if (error instanceof ToolError) return error;
  return new PilotError(
    'PILOT_IMAGE_INVALID',
    `cannot decompress ${source} (${compression}): ${(error as Error).message}`,
    { hint: 'the archive is truncated or corrupt; copy or save it again', cause: error },
  );
}

/**
 * Decompresses `source` into `scratchDir/archive.tar` and returns that path. `limit`
 * (bytes) defaults to what the scratch dir's file system can spare (scratchLimit).
 */
export async function decompressArchive(
  source: string,
  compression: Exclude<Compression, 'none'>,
  scratchDir: string,
  limit = scratchLimit(scratchDir),
  onProgress?: (bytesRead: number, bytesTotal: number) => void,
): Promise<string> {
  const file = join(scratchDir, 'archive.tar');
  const output = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  let written = 0;
  let exceeded = false;
  let writeError: unknown;
  output.on('error', (error) => {
    writeError = error;
  });
  const counter = tap((chunk) => {
    written += chunk.length;
    if (written > limit && !exceeded) {
      exceeded = true;
      counter.destroy(new Error('limit'));
    }
  });
  // Progress in compressed bytes read: the decompressed size is known only at the end.
  const input = createReadStream(source);
  const total = statSync(source).size;
  let read = 0;
  const reader = tap((chunk) => {
    read += chunk.length;
    onProgress?.(read, total);
  });
  try {
    await pipeline(input, reader, decompressor(compression, source), counter, output);
  } catch (error) {
    if (exceeded) throw tooBig(source, compression, scratchDir, limit);
    // No space, quota: the store's fault, not the archive's.
    if (writeError !== undefined) throw explainSystemError(writeError);
    throw unreadable(source, compression, error);
  }
  return file;
}
