/**
 * Input at and past the limits (issue 20, items 6 and 7; docs/security.md promise 9),
 * through the real CLI and launcher: long paths in a layer, names longer than the store
 * can keep, truncated layers. Each is handled or refused with one clear message, and
 * `gc` can always delete what pilot made.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDir } from '../src/core/list-dir.js';
import { makeImage, makeLayer, ociFiles, sha256, tarOf } from '../test/store/helpers.js';
import { type Result, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

/** One message (and its hint), its code, no stack, no internal error. */
function expectClearError(r: Result, code: number, mentions: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.trim().split('\n').length, r.stderr).toBeLessThanOrEqual(3);
  expect(r.stderr).toMatch(/\n {2}code: PILOT_[A-Z_]+\n$/);
  expect(r.stderr).toMatch(mentions);
}

/** `d/d/…/file` of exactly `bytes` bytes. */
function deepPath(bytes: number): string {
  const dirs = 'd/'.repeat(Math.floor((bytes - 4) / 2));
  return `${dirs}${'f'.repeat(bytes - dirs.length)}`;
}

describe.skipIf(skip !== '')('limits', () => {
  let root: TestRoot;
  let work: string;
  const store = () => join(root.dir, 'var/lib/pilot');
  const tmpEntries = () => listDir(join(store(), 'tmp'));
  const layerDirs = () => listDir(join(store(), 'layers')).filter((n) => /^[a-f0-9]{64}$/.test(n));

  function archive(name: string, ref: string, entries: Parameters<typeof makeLayer>[0]): string {
    const image = makeImage([makeLayer(entries)], { config: { Env: ['PATH=/bin:/usr/bin'] } });
    const file = join(work, name);
    writeFileSync(file, tarOf(ociFiles([{ image, refName: ref }])));
    return file;
  }

  beforeAll(() => {
    root = new TestRoot('limits');
    work = mkdtempSync(join(tmpdir(), 'pilot-limits-'));
    root.load('busybox-base');
  });
  afterAll(() => {
    root?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a layer with a 4,000-byte path loads, runs, and rmi + gc leave nothing of it', () => {
    const before = layerDirs();
    const path = deepPath(4000);
    root.ok(['load', archive('deep.tar', 'localhost/test/deep:1', [{ path, body: 'deep\n' }])]);
    expect(layerDirs()).toHaveLength(before.length + 1);
    root.ok([
      'register',
      '--container',
      'test/deep:1',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/deepcat',
      '--target',
      '/bin/cat',
    ]);
    const r = root.run('/usr/bin/deepcat', [`/${path}`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('deep\n');
    root.ok(['remove', '--app', '/usr/bin/deepcat']);
    root.ok(['rmi', 'test/deep:1']);
    const gc = root.ok(['gc']);
    expect(gc.stderr).toBe('');
    expect(layerDirs().sort()).toEqual([...before].sort());
    expect(tmpEntries()).toEqual([]);
  });

  it('a layer with a 5,000-byte path is refused by name before anything is written', () => {
    const before = layerDirs();
    const r = root.pilot([
      'load',
      archive('deeper.tar', 'localhost/test/deeper:1', [{ path: deepPath(5000), body: 'x' }]),
    ]);
    expectClearError(
      r,
      1,
      /entry "d\/d\/d.*…" has a path of 5000 bytes; the most a Linux path allows is 4094; refused/,
    );
    expect(layerDirs()).toEqual(before);
    expect(tmpEntries()).toEqual([]);
    root.ok(['gc']);
    expect(tmpEntries()).toEqual([]);
  });

  describe('a 300-character image name', () => {
    const long = `localhost/${'n'.repeat(280)}/app:1`;
    const tooLong = /image name "localhost\/n+…" is too long: .* this one needs \d+/;

    it('load --name refuses it before loading, and loads nothing', () => {
      const file = archive('named.tar', 'localhost/test/named:1', [{ path: 'x', body: 'x' }]);
      expectClearError(root.pilot(['load', file, '--name', long]), 2, tooLong);
      expect(root.pilot(['images', '--json']).stdout).not.toContain('test/named');
    });

    it('register and rmi refuse it', () => {
      expectClearError(
        root.pilot(['register', '--container', long, '--app', '/usr/bin/longname']),
        2,
        tooLong,
      );
      expectClearError(root.pilot(['rmi', long]), 2, tooLong);
    });

    it('a flake naming it is refused where it is written; the launcher says so (exit 125)', () => {
      const file = archive('app.tar', 'localhost/test/app:1', [{ path: 'x', body: 'x' }]);
      root.ok(['load', file]);
      root.ok([
        'register',
        '--container',
        'test/app:1',
        '--base',
        'pilot/busybox-base',
        '--app',
        '/usr/bin/longref',
        '--target',
        '/bin/true',
      ]);
      // A hand-edited flake: the name without its pinned digest.
      const flake = join(root.dir, 'usr/share/flakes/longref.yaml');
      const text = readFileSync(flake, 'utf8')
        .replace(/name: test\/app:1/, `name: ${long}`)
        .replace(/ {2}digests:\n( {4}.*\n)+/, '');
      expect(text).toContain(long);
      expect(text).not.toContain('digests');
      writeFileSync(flake, text);
      expectClearError(
        root.run('/usr/bin/longref', [], { env: { PILOT_FASTPATH: 'off' } }),
        125,
        tooLong,
      );
      // Such a flake is refused as written (file:line), so it is removed by its app.
      root.ok(['remove', '--app', '/usr/bin/longref']);
      expect(listDir(join(root.dir, 'usr/share/flakes'))).not.toContain('longref.yaml');
    });
  });

  describe('a truncated layer', () => {
    const body = Buffer.from(Buffer.alloc(400_000).map((_, i) => (i * 7919 + (i >> 9)) % 251));
    const tar = tarOf(new Map([['big', body]]));

    function truncatedArchive(name: string, compressed: Buffer): string {
      const blob = compressed.subarray(0, compressed.length >> 1);
      const layer = { blob, digest: sha256(blob), diffId: sha256(tar), gzip: true };
      const file = join(work, name);
      writeFileSync(
        file,
        tarOf(ociFiles([{ image: makeImage([layer]), refName: `localhost/${name}:1` }])),
      );
      return file;
    }

    it.each([
      ['gzip', () => gzipSync(tar), /cannot read the archive: unexpected end of file/],
      [
        'zstd',
        () => execFileSync('zstd', ['-q', '-c'], { input: tar }),
        /^pilot: cannot decompress .*: `zstd -d -c -q` exited with status 1: \w/,
      ],
    ])('%s: one clear message, exit 1, and nothing left after gc', (kind, compress, message) => {
      const before = layerDirs();
      const r = root.pilot(['load', truncatedArchive(`cut-${kind}.tar`, compress())]);
      expectClearError(r, 1, message);
      expect(r.stderr).not.toMatch(/Unhandled|ERR_STREAM/);
      expect(layerDirs()).toEqual(before);
      root.ok(['gc']);
      expect(tmpEntries()).toEqual([]);
      expect(readdirSync(store())).not.toContain('cut');
    });
  });
});
