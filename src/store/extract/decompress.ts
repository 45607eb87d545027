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
  return zstdDecompressor();
}

/**
 * `zstd -d` as one stream. Its output ends only after zstd has exited, and with an error
 * when zstd failed: a truncated or corrupt input is reported as such, not as whatever the
 * bytes it wrote before failing hash to. Destroying the stream (a failure elsewhere in
 * the pipeline) ends zstd; its late errors (EPIPE on a closed stdin) are swallowed.
 */
function zstdDecompressor(): Duplex {
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let ended = false;
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (child.stdin.destroyed) return callback();
      if (child.stdin.write(chunk)) return callback();
      const done = () => {
        child.stdin.off('drain', done);
        child.stdin.off('close', done);
        callback();
      };
      child.stdin.on('drain', done);
      child.stdin.on('close', done);
    },
    final(callback) {
      child.stdin.end();
      callback();
    },
    read() {
      child.stdout.resume();
    },
    destroy(error, callback) {
      if (!ended) child.kill('SIGKILL');
      callback(error);
    },
  });
  child.stdin.on('error', () => {
    // zstd exited before reading everything: its exit status says why (below).
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) child.stdout.pause();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  child.on('error', (error) => duplex.destroy(error));
  child.on('close', (code, signal) => {
    ended = true;
    if (duplex.destroyed) return;
    if (code === 0) duplex.push(null);
    else {
      // Its last line, without the "/*stdin*\ :" it names its input by.
      const last = stderr.trim().split('\n').at(-1) ?? '';
      const why =
        last.replace(/^\/\*stdin\*\\?\s*:\s*/, '') || (signal ? `killed by ${signal}` : '');
      duplex.destroy(new Error(`zstd -d failed (exit ${code ?? signal}): ${why}`));
    }
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
