/**
 * The input side of both passes: which compression an archive uses, a stream that
 * undoes it, and a tap that counts and hashes bytes on their way through.
 */
import { spawn } from 'node:child_process';
import { Duplex, PassThrough, type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type Compression = 'gzip' | 'zstd' | 'none';

export async function sniffCompression(open: () => Readable): Promise<Compression> {
  const stream = open();
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      head = Buffer.concat([head, chunk as Buffer]);
      if (head.length >= 4) break;
    }
  } finally {
    stream.destroy();
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

export function decompressor(compression: Compression): Duplex {
  if (compression === 'gzip') return createGunzip();
  if (compression === 'none') return new PassThrough();
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.on('error', (error) => duplex.destroy(error));
  child.on('close', (code) => {
    if (code !== 0) duplex.destroy(new Error(`zstd -d failed (exit ${code}): ${stderr.trim()}`));
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
