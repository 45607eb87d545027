/**
 * The input side of both passes: which compression an archive uses, a stream that
 * undoes it, and a tap that counts and hashes bytes on their way through.
 */
import { spawn } from 'node:child_process';
import { Duplex, PassThrough, type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';

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

export async function sniffCompression(open: () => Readable): Promise<Compression> {
  const stream = open();
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      head = Buffer.concat([head, chunk as Buffer]);
      if (head.length >= 6) break;
    }
  } finally {
    stream.destroy();
  }
  const found = compressionOf(head);
  // Other compressions read as 'none': pass 1 then refuses them as "not a tar".
  return found === 'gzip' || found === 'zstd' || found === 'xz' ? found : 'none';
}

export function decompressor(compression: Compression): Duplex {
  if (compression === 'gzip') return createGunzip();
  if (compression === 'none') return new PassThrough();
  // zstd and xz by their command-line tools (Node 20's zlib has neither).
  const tool = compression;
  const child = spawn(tool, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.on('error', (error) => duplex.destroy(error));
  child.on('close', (code) => {
    if (code !== 0) duplex.destroy(new Error(`${tool} -d failed (exit ${code}): ${stderr.trim()}`));
  });
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
