/**
 * `register --include-tar` reads the file when it is named: what is no tar (or a tar
 * pilot cannot extract) is refused naming the file, before anything is written.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { isPilotError } from '../../src/core/errors.js';
import { checkIncludeTar } from '../../src/runtime/include-tar-check.js';
import { encodeTar } from '../../src/store/tar-write.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-include-check-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const tar = encodeTar([
  { path: './etc/', type: 'dir' },
  { path: './etc/app.conf', body: 'x=1\n' },
  { path: 'opt/tool/run', body: '#!/bin/sh\n', mode: 0o755 },
]);

/** A tar.gz cut in the middle of a member (the first header reads, the rest is missing). */
function truncatedTarGz(): Buffer {
  const big = encodeTar([{ path: 'big', body: randomBytes(100_000) }]);
  const gz = gzipSync(big);
  return gz.subarray(0, gz.length >> 1);
}

function file(name: string, data: Buffer | string): string {
  const path = join(work, name);
  writeFileSync(path, data);
  return path;
}

function refusal(path: string): { code: string; message: string; hint: string } {
  try {
    checkIncludeTar(path);
  } catch (error) {
    if (isPilotError(error))
      return { code: error.code, message: error.message, hint: error.hint ?? '' };
    throw error;
  }
  throw new Error(`${path} was accepted`);
}

describe('checkIncludeTar', () => {
  it.each([
    ['plain', tar],
    ['gzip', gzipSync(tar)],
    ['xz', execFileSync('xz', ['-c'], { input: tar })],
    ['zstd', execFileSync('zstd', ['-q', '-c'], { input: tar })],
  ])('reads a %s tar and lists its members', (name, data) => {
    expect([...checkIncludeTar(file(`ok.${name}`, data))].sort()).toEqual([
      'etc',
      'etc/app.conf',
      'opt/tool/run',
    ]);
  });

  it.each([
    ['a text file', 'hello\n', 'is not a tar archive (no tar header, no gzip, xz or zstd data)'],
    ['gzip of a text', gzipSync('hello\n'), 'is not a tar archive (gzip data that is no tar)'],
    [
      'xz of a text',
      execFileSync('xz', ['-c'], { input: 'hello\n' }),
      'is not a tar archive (xz data that is no tar)',
    ],
    ['a truncated tar.gz', truncatedTarGz(), 'is not a readable tar archive (gzip data)'],
    ['a zip', Buffer.from('PK\x03\x04 rest of a zip'), 'is not a tar archive'],
  ])('refuses %s, naming the file', (name, data, why) => {
    const path = file(name.replace(/ /g, '-'), data);
    const error = refusal(path);
    expect(error.code).toBe('PILOT_INCLUDE_INVALID');
    expect(error.message).toContain(`--include-tar "${path}" ${why}`);
    expect(error.hint).toMatch(/tar -czf/);
  });

  it('names a compression pilot does not extract', () => {
    const path = file('old.tar.bz2', execFileSync('bzip2', ['-c'], { input: tar }));
    expect(refusal(path).message).toBe(
      `--include-tar "${path}" is bzip2-compressed, which pilot does not extract (plain, gzip, xz and zstd tars)`,
    );
  });

  it('refuses a directory and a FIFO without opening them', () => {
    const dir = join(work, 'dir.tar');
    mkdirSync(dir);
    expect(refusal(dir).message).toBe(`--include-tar "${dir}" is not a regular file`);
    const fifo = join(work, 'fifo.tar');
    execFileSync('mkfifo', [fifo]);
    expect(refusal(fifo).message).toBe(`--include-tar "${fifo}" is not a regular file`);
  });
});
