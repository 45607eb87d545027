/**
 * The input side of both passes: which compression an archive uses, a stream that
 * undoes it, and a tap that counts and hashes bytes on their way through.
 */
import { Duplex, PassThrough, type Readable, Transform, type Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { startToolLight } from '../../core/tool-light.js';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'none';

/** Compressions a tar may come in that pilot does not undo: named, not mistaken for a tar. */
export type OtherCompression = 'bzip2' | 'lz4' | 'lzip';

/** What the first bytes of a file say it is compressed with (`none`: plain, or unknown). */
export function compressionOf(head: Uint8Array): Compression | OtherCompression {
  const starts = (...bytes: number[]) => bytes.every((byte, i) => head[i] === byte);
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (starts(0x04, 0x22, 0x4d, 0x18)) return 'lz4';
  if (starts(0x4c, 0x5a, 0x49, 0x50)) return 'lzip';
  return 'none';
}

/** What the stream `open()` gives is compressed with, by its first bytes (the rest unread). */
export async function streamCompression(
  open: () => Readable,
): Promise<Compression | OtherCompression> {
  const stream = open();
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      head = Buffer.concat([head, chunk as Buffer]);
      if (head.length >= 6) break; // the longest magic compressionOf knows (xz)
    }
  } finally {
    stream.destroy();
  }
  return compressionOf(head);
}

/** The compression pilot undoes for a tar: one it does not read as `none`. */
export async function sniffCompression(open: () => Readable): Promise<Compression> {
  const found = await streamCompression(open);
  // Other compressions read as 'none': pass 1 then refuses them as "not a tar".
  return found === 'gzip' || found === 'zstd' || found === 'xz' ? found : 'none';
}

/**
 * Calls `then` once a tool's stdin takes more (drained) or never will (closed: the tool
 * exited, and its exit status says why); waiting for the drain alone would hang then.
 */
export function afterDrain(stdin: Writable, then: () => void): void {
  const done = () => {
    stdin.off('drain', done);
    stdin.off('close', done);
    then();
  };
  stdin.on('drain', done);
  stdin.on('close', done);
}

/**
 * A stream that undoes `compression`; `what` (a layer's label, an archive's path) names
 * the data in a failure of zstd or xz, a ToolError that callers pass on as it is.
 */
export function decompressor(compression: Compression, what = 'the archive'): Duplex {
  // 1 MiB out per call rather than zlib's 16 KiB: a fifth of the time, the rest being
  // trips to the thread pool and through the stream machinery.
  if (compression === 'gzip') return createGunzip({ chunkSize: 1024 * 1024 });
  if (compression === 'none') return new PassThrough();
  // zstd and xz by their command-line tools (Node 20's zlib has neither).
  return toolDecompressor(compression, what);
}

/**
 * `zstd -d` or `xz -d` as one stream. Its output ends only after the tool has exited, and
 * with an error when it failed: a truncated or corrupt input is reported as such, not as
 * whatever the bytes it wrote before failing hash to. Destroying the stream (a failure
 * elsewhere in the pipeline) ends the tool; its late errors (EPIPE on a closed stdin) are
 * swallowed.
 */
function toolDecompressor(tool: 'zstd' | 'xz', what: string): Duplex {
  const { child, exit } = startToolLight([tool, '-d', '-c', '-q'], {
    purpose: `cannot decompress ${what}`,
    code: 'PILOT_IMAGE_INVALID',
    hint: 'the archive is corrupt or truncated; save or copy it again',
    // The name they give their input ("/*stdin*\\ :", "xz: (stdin):") says nothing here.
    stderrFilter: (text) => text.replace(/^(?:xz: )?(?:\/\*stdin\*\\?|\(stdin\))\s*:\s*/gm, ''),
  });
  const stdin = child.stdin!;
  const stdout = child.stdout!;
  let ended = false;
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (stdin.destroyed) return callback();
      if (stdin.write(chunk)) return callback();
      afterDrain(stdin, () => callback());
    },
    final(callback) {
      stdin.end();
      callback();
    },
    read() {
      stdout.resume();
    },
    destroy(error, callback) {
      if (!ended) child.kill('SIGKILL');
      callback(error);
    },
  });
  stdin.on('error', () => {
    // zstd exited before reading everything: its exit status says why (below).
  });
  stdout.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) stdout.pause();
  });
  exit.then(
    () => {
      ended = true;
      if (!duplex.destroyed) duplex.push(null);
    },
    (error: unknown) => {
      ended = true;
      if (!duplex.destroyed) duplex.destroy(error as Error);
    },
  );
  return duplex;
}

export function tap(onChunk: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onChunk(chunk);
      callback(null, chunk);
    },
  });
}
