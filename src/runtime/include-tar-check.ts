/**
 * `register --include-tar FILE`: the file is checked when it is named, not at the first
 * launch. It must be a regular file holding a tar, plain or compressed the way the
 * extractor undoes (gzip, xz, zstd); its member names are returned, so that register can
 * tell whether a `--target` comes from it.
 */
import { statSync } from 'node:fs';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import { readHead } from '../core/fs-query.js';
import { runToolSync } from '../core/tool.js';
import { compressionOf } from '../store/extract/decompress.js';
import { splitEntryPath } from '../store/extract/entry-rules.js';
import { decodeTarEscapes } from '../store/extract/gnu-tar.js';
import { looksLikeTar } from '../store/tar-index.js';

function refuse(file: string, why: string, hint: string): PilotError {
  return new PilotError('PILOT_INCLUDE_INVALID', `--include-tar ${quoteExcerpt(file)} ${why}`, {
    hint,
  });
}

const MAKE_ONE =
  'name a tar archive (plain, gzip, xz or zstd), e.g. one made with "tar -czf FILE.tar.gz -C DIR ."';

/**
 * The start of what the extractor would read: a tar header first, or nothing at all (an
 * empty archive). GNU tar's own listing takes a few bytes of anything for an empty tar.
 */
function startsLikeTar(data: Buffer): boolean {
  if (data.length === 0) return true;
  const block = data.subarray(0, 512);
  return block.length === 512 && (looksLikeTar(block) || block.every((byte) => byte === 0));
}

/** The first bytes of the decompressed data (a truncated stream decompresses as far as it goes). */
function decompressHead(file: string, head: Buffer, compression: 'gzip' | 'xz' | 'zstd'): Buffer {
  if (compression === 'gzip') {
    try {
      return gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (error) {
      throw refuse(file, `is not readable gzip data: ${(error as Error).message}`, MAKE_ONE);
    }
  }
  // Any exit status: the head is cut short, and the tool says so after writing what it could.
  return runToolSync([compression, '-d', '-c', '-q'], {
    purpose: `cannot check --include-tar ${quoteExcerpt(file)}`,
    input: head,
    encoding: 'buffer',
    maxBuffer: 64 << 20,
    okExitCodes: 'any',
  }).stdout;
}

/**
 * Refuses a `--include-tar` that is no tar (naming the file and what it is instead);
 * returns its member names, normalized (`etc/x`, no leading `./` or `/`).
 */
export function checkIncludeTar(file: string): Set<string> {
  let isFile: boolean;
  try {
    // Before any open: a FIFO would block the read.
    isFile = statSync(file).isFile();
  } catch (error) {
    throw refuse(file, `cannot be read: ${(error as Error).message}`, MAKE_ONE);
  }
  if (!isFile) throw refuse(file, 'is not a regular file', MAKE_ONE);
  const head = readHead(file, 64 * 1024);
  const compression = compressionOf(head);
  if (compression === 'bzip2' || compression === 'lz4' || compression === 'lzip') {
    throw refuse(
      file,
      `is ${compression}-compressed, which pilot does not extract (plain, gzip, xz and zstd tars)`,
      `recompress it, e.g. "${compression} -dc FILE | gzip > FILE.tar.gz"`,
    );
  }
  if (!startsLikeTar(compression === 'none' ? head : decompressHead(file, head, compression))) {
    const what =
      compression === 'none'
        ? 'no tar header, no gzip, xz or zstd data'
        : `${compression} data that is no tar`;
    throw refuse(file, `is not a tar archive (${what})`, MAKE_ONE);
  }
  // GNU tar lists every member (and undoes gzip, xz, zstd itself); what it cannot read
  // is no tar, or a truncated one, and would fail the first launch.
  const r = runToolSync(['tar', '-t', '-f', file, '--quoting-style=escape'], {
    purpose: `cannot check --include-tar ${quoteExcerpt(file)}`,
    env: { LC_ALL: 'C' },
    maxBuffer: 256 << 20,
    encoding: 'buffer',
    // A status of its own is the archive's fault, said below in the file's terms.
    okExitCodes: 'any',
  });
  if (r.exitCode !== 0) {
    const said = r.stderr
      .trim()
      .split('\n')[0]
      ?.replace(/^tar: /, '');
    throw refuse(
      file,
      `is not a readable tar archive${compression === 'none' ? '' : ` (${compression} data)`}: ${quoteExcerpt(said || `tar exited with ${r.exitCode}`, 200)}`,
      MAKE_ONE,
    );
  }
  const names = new Set<string>();
  for (const line of r.stdout.toString('latin1').split('\n')) {
    if (line === '') continue;
    const name = splitEntryPath(decodeTarEscapes(line)).join('/');
    if (name !== '') names.add(name);
  }
  return names;
}
