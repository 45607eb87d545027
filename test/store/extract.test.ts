import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeTarEscapes, extractTarSafely } from '../../src/store/extract.js';
import { serializeManifest } from '../../src/store/layer-manifest.js';
import {
  manifestScanner,
  readOverlayXattrs,
  scanTree,
} from '../../src/store/layer-manifest-scan.js';
import { encodeTar, type TarEntrySpec } from '../../src/store/tar-write.js';
import { bundleScript, getfattr, isRoot, sha256, type TempStore, tempStore } from './helpers.js';

const hasAcl = (() => {
  try {
    execFileSync('setfacl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const hasZstd = (() => {
  try {
    execFileSync('zstd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let store: TempStore;
let tmp: string;
let victim: string;

beforeEach(() => {
  store = tempStore();
  tmp = join(store.paths.store, 'tmp');
  victim = join(store.dir, 'victim');
  mkdirSync(victim, { recursive: true });
  writeFileSync(join(victim, 'secret'), 'secret\n');
});

afterEach(() => store.cleanup());

function extract(
  entries: TarEntrySpec[] | Buffer,
  options: { privileged?: boolean; gzip?: boolean } = {},
) {
  let data = Buffer.isBuffer(entries) ? entries : encodeTar(entries);
  if (options.gzip) data = gzipSync(data);
  return extractTarSafely(Readable.from([data]), join(store.dir, 'out'), {
    tmpDir: tmp,
    label: 'test.tar',
    privileged: options.privileged,
  });
}

/** Nothing but the untouched victim dir and the store root beside it. */
function expectNothingOutside(): void {
  expect(readdirSync(store.dir).sort()).toEqual(['root', 'victim']);
  expect(readdirSync(victim)).toEqual(['secret']);
  expect(statSync(join(victim, 'secret')).nlink).toBe(1);
  expect(readdirSync(tmp)).toEqual([]);
}

describe('extractTarSafely refuses entries that could escape', () => {
  const cases: { name: string; entries: () => TarEntrySpec[]; entry: string; reason: RegExp }[] = [
    {
      name: 'a ".." path',
      entries: () => [
        { path: 'ok', body: 'x' },
        { path: '../x', body: 'evil' },
      ],
      entry: '../x',
      reason: /"\.\." component/,
    },
    {
      name: 'a ".." in the middle',
      entries: () => [{ path: 'a/../../x', body: 'evil' }],
      entry: 'a/../../x',
      reason: /"\.\." component/,
    },
    {
      name: 'an absolute path',
      entries: () => [{ path: '/tmp/pilot-test-abs', body: 'evil' }],
      entry: '/tmp/pilot-test-abs',
      reason: /absolute path/,
    },
    {
      name: 'a write through a symlink of the same archive',
      entries: () => [
        { path: 'a', type: 'symlink', linkpath: victim },
        { path: 'a/passwd', body: 'evil' },
      ],
      entry: 'a/passwd',
      reason: /lies under "a", a symlink/,
    },
    {
      name: 'a write through a relative symlink',
      entries: () => [
        { path: 'd/', type: 'dir' },
        { path: 'd/up', type: 'symlink', linkpath: '../..' },
        { path: 'd/up/victim/x', body: 'evil' },
      ],
      entry: 'd/up/victim/x',
      reason: /lies under "d\/up"/,
    },
    {
      name: 'a hard link to ../../',
      entries: () => [{ path: 'h', type: 'link', linkpath: '../../victim/secret' }],
      entry: 'h',
      reason: /hard link to "\.\.\/\.\.\/victim\/secret", which has a "\.\." component/,
    },
    {
      name: 'a hard link to an absolute path',
      entries: () => [{ path: 'h', type: 'link', linkpath: join(victim, 'secret') }],
      entry: 'h',
      reason: /hard link to the absolute path/,
    },
    {
      name: 'a hard link to a file that is not in the archive (yet)',
      entries: () => [
        { path: 'h', type: 'link', linkpath: 'later' },
        { path: 'later', body: 'x' },
      ],
      entry: 'h',
      reason: /not an earlier file of the archive/,
    },
    {
      // Refused at the symlink: a hard link through it (h) never comes into question.
      name: 'a symlink over a directory with files, for a hard link through it',
      entries: () => [
        { path: 's/', type: 'dir' },
        { path: 's/secret', body: 'x' },
        { path: 's', type: 'symlink', linkpath: victim },
        { path: 'h', type: 'link', linkpath: 's/secret' },
      ],
      entry: 's',
      reason: /would replace the directory "s" that earlier entries are in/,
    },
  ];

  for (const testCase of cases) {
    it(`refuses ${testCase.name}`, async () => {
      const error = await extract(testCase.entries()).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'PILOT_LAYER_UNSAFE' });
      const message = (error as Error).message;
      expect(message).toContain('test.tar');
      expect(message).toContain(`entry "${testCase.entry}"`);
      expect(message).toMatch(testCase.reason);
      expect(existsSync(join(store.dir, 'out'))).toBe(false);
      expectNothingOutside();
    });
  }

  it('refuses the same inside gzip', async () => {
    const error = await extract([{ path: '../x', body: 'evil' }], { gzip: true }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'PILOT_LAYER_UNSAFE' });
    expectNothingOutside();
  });

  it('refuses device nodes when not privileged, but allows whiteout devices and fifos', async () => {
    const error = await extract([{ path: 'dev/sda', type: 'block', devmajor: 8, devminor: 0 }], {
      privileged: false,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PILOT_LAYER_UNSAFE' });
    expect((error as Error).message).toMatch(/entry "dev\/sda" is a device node/);
    expectNothingOutside();
  });

  it.skipIf(!isRoot)('drops device nodes and keeps fifos as root, recording both', async () => {
    const result = await extract([
      { path: 'dev/', type: 'dir' },
      { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { path: 'dev/fifo', type: 'fifo', mode: 0o666 },
    ]);
    expect(result.created).toBe(true);
    // An image's device node would open the host's device for anyone: never kept.
    expect(() => lstatSync(join(store.dir, 'out/dev/null'))).toThrow();
    const fifo = lstatSync(join(store.dir, 'out/dev/fifo'));
    expect(fifo.isFIFO()).toBe(true);
    expect(fifo.mode & 0o777).toBe(0o644);
    const recorded = new Map(result.original.map(([path, , , mode]) => [path, mode]));
    expect(recorded.get('dev/null')! & 0o170000).toBe(0o020000);
    expect(recorded.get('dev/fifo')! & 0o7777).toBe(0o666);
  });

  it('refuses entry types it does not know (GNU tar would write them as files)', async () => {
    const tar = encodeTar([{ path: 'odd', body: 'x' }]);
    tar[156] = 'Z'.charCodeAt(0);
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    const error = await extract(tar).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PILOT_LAYER_UNSAFE' });
    expect((error as Error).message).toMatch(/entry "odd" has the unsupported tar entry type/);
    expectNothingOutside();
  });

  it('keeps symlinks as data, whatever they point at', async () => {
    await extract([
      { path: 'abs', type: 'symlink', linkpath: '/etc/shadow' },
      { path: 'up', type: 'symlink', linkpath: '../../../..' },
    ]);
    expect(readlinkSync(join(store.dir, 'out/abs'))).toBe('/etc/shadow');
    expect(readlinkSync(join(store.dir, 'out/up'))).toBe('../../../..');
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('extractTarSafely reports bad input', () => {
  it('names a truncated tar', async () => {
    const data = encodeTar([{ path: 'big', body: Buffer.alloc(10_000, 1) }]).subarray(0, 3000);
    const error = await extract(data).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PILOT_IMAGE_INVALID' });
    expect((error as Error).message).toMatch(/test\.tar: .*(Truncated|truncated)/);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('names corrupt gzip data', async () => {
    const data = gzipSync(encodeTar([{ path: 'f', body: 'x'.repeat(5000) }]));
    data[30] = (data[30]! + 1) % 256;
    data[31] = (data[31]! + 7) % 256;
    const error = await extract(data).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PILOT_IMAGE_INVALID' });
    expect(readdirSync(tmp)).toEqual([]);
  });

  /** A compressed tar cut in half, extracted by a child process: its result and its stderr. */
  function extractTruncated(compress: (tar: Buffer) => Buffer) {
    // Data that does not compress to nothing: the cut lands inside the stream.
    const body = Buffer.from(Buffer.alloc(400_000).map((_, i) => (i * 7919 + (i >> 9)) % 251));
    const whole = compress(encodeTar([{ path: 'big', body }]));
    const input = join(store.dir, 'cut.tar.z');
    writeFileSync(input, whole.subarray(0, whole.length >> 1));
    const script = bundleScript('scripts/extract.ts', store.dir);
    const child = spawnSync(process.execPath, [script, input, join(store.dir, 'out'), tmp], {
      encoding: 'utf8',
    });
    return { status: child.status, stderr: child.stderr, result: JSON.parse(child.stdout) };
  }

  it('a truncated gzip layer fails once, with its own message: no late stream error', () => {
    const { status, stderr, result } = extractTruncated((tar) => gzipSync(tar));
    expect(result).toMatchObject({ ok: false, code: 'PILOT_IMAGE_INVALID' });
    expect(result.message).toMatch(/user\.tar: cannot read the archive: unexpected end of file/);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    expect(existsSync(join(store.dir, 'out'))).toBe(false);
  });

  it.skipIf(!hasZstd)('a truncated zstd layer is reported as zstd failing, not as a digest', () => {
    const { status, stderr, result } = extractTruncated((tar) =>
      execFileSync('zstd', ['-q', '-c'], { input: tar }),
    );
    expect(result).toMatchObject({ ok: false, code: 'PILOT_IMAGE_INVALID' });
    expect(result.message).toMatch(
      /^cannot decompress user\.tar: `zstd -d -c -q` exited with status 1: Read error/,
    );
    expect(result.message).not.toContain('stdin');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it.skipIf(!hasZstd)('a zstd layer without zstd installed says so, not "corrupt"', async () => {
    const data = execFileSync('zstd', ['-q', '-c'], {
      input: encodeTar([{ path: 'f', body: 'x' }]),
    });
    const path = process.env.PATH;
    process.env.PATH = join(store.dir, 'no-tools');
    try {
      const error = await extract(data).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'PILOT_TOOL_MISSING',
        message: 'cannot decompress test.tar: zstd is not installed (apt-get install zstd)',
      });
    } finally {
      process.env.PATH = path;
    }
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('refuses data that is not a tar', async () => {
    const error = await extract(Buffer.from('hello world, not a tar file'.repeat(40))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: string }).code).toMatch(/PILOT_IMAGE_INVALID|PILOT_RUNTIME/);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('checks both digests', async () => {
    const tar = encodeTar([{ path: 'f', body: 'x' }]);
    const blob = gzipSync(tar);
    const run = (expectedDigest?: string, expectedDiffId?: string) =>
      extractTarSafely(Readable.from([blob]), join(store.dir, 'out'), {
        tmpDir: tmp,
        label: 'blob X',
        expectedDigest,
        expectedDiffId,
      });
    await expect(run(sha256('other'))).rejects.toMatchObject({
      code: 'PILOT_DIGEST_MISMATCH',
      message: expect.stringMatching(/blob X: the blob's digest is sha256:/),
    });
    await expect(run(undefined, sha256('other'))).rejects.toMatchObject({
      code: 'PILOT_DIGEST_MISMATCH',
      message: expect.stringMatching(/uncompressed layer's digest/),
    });
    expect(readdirSync(tmp)).toEqual([]);
    const ok = await run(sha256(blob), sha256(tar));
    expect(ok).toMatchObject({
      created: true,
      digest: sha256(blob),
      diffId: sha256(tar),
      compression: 'gzip',
    });
  });
});

describe('extractTarSafely writes what the archive says', () => {
  it('converts whiteouts and opaque markers to overlayfs form', async () => {
    const result = await extract([
      { path: './', type: 'dir' },
      { path: 'etc/', type: 'dir', mtime: new Date('2020-01-02T03:04:05Z') },
      { path: 'etc/.wh.passwd', body: '' },
      { path: '.wh.gone', body: '' },
      { path: 'opt/', type: 'dir' },
      { path: 'opt/d/', type: 'dir' },
      { path: 'opt/d/.wh..wh..opq', body: '' },
      { path: 'opt/d/new', body: 'new\n' },
      { path: 'keep', body: 'same layer wins\n' },
      { path: '.wh.keep', body: '' },
      { path: '.wh..wh.plnk/', type: 'dir' },
    ]);
    const out = join(store.dir, 'out');
    expect(result.created).toBe(true);
    for (const hidden of ['etc/passwd', 'gone']) {
      const stat = lstatSync(join(out, hidden));
      expect(stat.isCharacterDevice()).toBe(true);
      expect(stat.rdev).toBe(0);
    }
    expect(readFileSync(join(out, 'keep'), 'utf8')).toBe('same layer wins\n');
    expect(readdirSync(out).sort()).toEqual(['etc', 'gone', 'keep', 'opt']);
    expect(readdirSync(join(out, 'opt/d'))).toEqual(['new']);
    expect(getfattr(join(out, 'opt/d'), 'user.overlay.opaque')).toBe('y');
    if (isRoot) expect(getfattr(join(out, 'opt/d'), 'trusted.overlay.opaque')).toBe('y');
    expect(getfattr(join(out, 'opt'), 'user.overlay.opaque')).toBeUndefined();
    // for the layer record: host-file placement must not look through it
    expect(result.opaqueDirs).toEqual(['/opt/d']);
    // the conversion does not touch the directory's time
    expect(statSync(join(out, 'etc')).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
  });

  it.each([
    '.wh..wh..opq',
    './.wh..wh..opq',
  ])('refuses an opaque marker at the layer root (%s): overlayfs ignores it, lower files would show', async (path) => {
    const error = await extract([
      { path: 'a', body: 'a\n' },
      { path, body: '' },
    ]).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message:
        'test.tar: entry ".wh..wh..opq" at the layer\'s root would hide every lower layer, which overlayfs cannot do (it ignores an opaque layer root, so their files would show); refused',
    });
    expect((error as { hint: string }).hint).toMatch(/\.wh\.NAME.*--squash-all/);
    expect(existsSync(join(store.dir, 'out'))).toBe(false);
    expectNothingOutside();
  });

  it('keeps a root opaque marker as a plain file where whiteouts are kept (include.tar)', async () => {
    const out = join(store.dir, 'out');
    await extractTarSafely(Readable.from([encodeTar([{ path: '.wh..wh..opq', body: '' }])]), out, {
      tmpDir: tmp,
      label: 'include.tar',
      whiteouts: 'keep',
    });
    expect(readdirSync(out)).toEqual(['.wh..wh..opq']);
  });

  it("handles names that need quoting in GNU tar's listing", async () => {
    const names = [
      'sp ace',
      'new\nline',
      'back\\slash',
      'ünïcødé',
      'tab\there',
      `${'long/'.repeat(30)}end`,
    ];
    await extract(names.map((path) => ({ path, body: path })));
    for (const name of names) {
      expect(readFileSync(join(store.dir, 'out', name), 'utf8')).toBe(name);
    }
  });

  it('keeps hard links of the archive as hard links', async () => {
    await extract([
      { path: 'bin/', type: 'dir' },
      { path: 'bin/gzip', body: 'gzip\n', mode: 0o755 },
      { path: 'bin/gunzip', type: 'link', linkpath: 'bin/gzip' },
      { path: './bin/zcat', type: 'link', linkpath: './bin/gzip' },
    ]);
    const out = join(store.dir, 'out/bin');
    const inode = lstatSync(join(out, 'gzip')).ino;
    expect(lstatSync(join(out, 'gunzip')).ino).toBe(inode);
    expect(lstatSync(join(out, 'zcat')).ino).toBe(inode);
    expect(lstatSync(join(out, 'gzip')).nlink).toBe(3);
  });

  it.skipIf(!hasZstd)('reads zstd-compressed layers', async () => {
    const tar = encodeTar([{ path: 'z', body: 'zstd\n' }]);
    const blob = execFileSync('zstd', ['-q', '-c'], { input: tar });
    const result = await extractTarSafely(Readable.from([blob]), join(store.dir, 'out'), {
      tmpDir: tmp,
      expectedDiffId: sha256(tar),
    });
    expect(result).toMatchObject({
      compression: 'zstd',
      digest: sha256(blob),
      diffId: sha256(tar),
    });
    expect(readFileSync(join(store.dir, 'out/z'), 'utf8')).toBe('zstd\n');
  });

  it("reads xz-compressed tars (an include.tar.xz, as flake-pilot's tar -xf does)", async () => {
    const tar = encodeTar([{ path: 'x', body: 'xz\n' }]);
    const blob = execFileSync('xz', ['-q', '-c'], { input: tar });
    const result = await extractTarSafely(Readable.from([blob]), join(store.dir, 'out'), {
      tmpDir: tmp,
      expectedDiffId: sha256(tar),
    });
    expect(result).toMatchObject({ compression: 'xz', digest: sha256(blob), diffId: sha256(tar) });
    expect(readFileSync(join(store.dir, 'out/x'), 'utf8')).toBe('xz\n');
  });

  it('decodes GNU tar escapes', () => {
    expect(decodeTarEscapes('a\\nb\\\\c\\303\\274')).toBe('a\nb\\cü');
    expect(decodeTarEscapes('plain')).toBe('plain');
  });

  it('reads a path, a stream and an opener alike; keeps an existing destination', async () => {
    const tar = encodeTar([{ path: 'f', body: 'one' }]);
    const file = join(store.dir, 'in.tar');
    writeFileSync(file, tar);
    const first = await extractTarSafely(file, join(store.dir, 'a'), { tmpDir: tmp });
    expect(first).toMatchObject({ created: true, entries: 1, size: 3, tarSize: tar.length });
    const second = await extractTarSafely(
      { open: () => Readable.from([tar]) },
      join(store.dir, 'a'),
      {
        tmpDir: tmp,
      },
    );
    expect(second.created).toBe(false);
    expect(readFileSync(join(store.dir, 'a/f'), 'utf8')).toBe('one');
    expect(readdirSync(tmp)).toEqual([]);
    rmVictimCheck();
  });

  it.skipIf(!isRoot)(
    'keeps hard links and user xattrs, and no owner, special bit, ACL or file capability of the image',
    async () => {
      const src = join(store.dir, 'src');
      mkdirSync(join(src, 'bin'), { recursive: true });
      writeFileSync(join(src, 'bin/ping'), '#!/bin/sh\n');
      execFileSync('chmod', ['0755', join(src, 'bin/ping')]);
      execFileSync('setcap', ['cap_net_raw+ep', join(src, 'bin/ping')]);
      writeFileSync(join(src, 'bin/su'), 'su\n');
      execFileSync('chown', ['1234:5678', join(src, 'bin/su')]);
      execFileSync('chmod', ['4750', join(src, 'bin/su')]);
      linkSync(join(src, 'bin/su'), join(src, 'bin/su-link'));
      execFileSync('setfattr', ['-n', 'user.note', '-v', 'hello', join(src, 'bin/su')]);
      if (hasAcl) execFileSync('setfacl', ['-m', 'u:4321:r', join(src, 'bin/ping')]);
      symlinkSync('su', join(src, 'bin/sulink'));
      mkdirSync(join(src, 'sticky'));
      execFileSync('chmod', ['1777', join(src, 'sticky')]);
      const tar = execFileSync('tar', [
        '-C',
        src,
        '--xattrs',
        '--xattrs-include=*',
        '--acls',
        '--numeric-owner',
        '-cf',
        '-',
        '.',
      ]);
      const result = await extract(tar);
      const out = join(store.dir, 'out');
      const su = lstatSync(join(out, 'bin/su'));
      // Canonical permissions (DESIGN.md, Trust): root's, 0644/0755, no special bits.
      expect([su.uid, su.gid, su.mode & 0o7777]).toEqual([0, 0, 0o755]);
      expect(lstatSync(join(out, 'bin/su-link')).ino).toBe(su.ino);
      expect(su.nlink).toBe(2);
      expect(getfattr(join(out, 'bin/su'), 'user.note')).toBe('hello');
      expect(execFileSync('getcap', [join(out, 'bin/ping')]).toString()).toBe('');
      if (hasAcl) {
        expect(execFileSync('getfacl', ['-n', join(out, 'bin/ping')]).toString()).not.toMatch(
          /user:4321/,
        );
      }
      expect(readlinkSync(join(out, 'bin/sulink'))).toBe('su');
      expect(lstatSync(join(out, 'sticky')).mode & 0o7777).toBe(0o755);
      expect(lstatSync(out).mode & 0o7777).toBe(0o755);
      // What the image said is kept in the result (and so in the layer record).
      const recorded = new Map(result.original.map(([path, ...rest]) => [path, rest]));
      expect(recorded.get('bin/su')).toEqual([1234, 5678, 0o104750]);
      expect(recorded.get('sticky')![2]! & 0o7777).toBe(0o1777);
    },
  );
});

function rmVictimCheck(): void {
  expect(readdirSync(victim)).toEqual(['secret']);
}

describe.skipIf(!isRoot)('extractTarSafely for an unprivileged user', () => {
  function runAsNobody(entries: TarEntrySpec[]): { ok: boolean; code?: string; message?: string } {
    const work = join(store.dir, 'nobody');
    mkdirSync(join(work, 'tmp'), { recursive: true });
    const script = bundleScript('scripts/extract.ts', work);
    writeFileSync(join(work, 'in.tar'), encodeTar(entries));
    execFileSync('chown', ['-R', '65534:65534', work]);
    execFileSync('chmod', ['755', store.dir]);
    const out = execFileSync('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      script,
      join(work, 'in.tar'),
      join(work, 'out'),
      join(work, 'tmp'),
    ]).toString();
    expect(readdirSync(join(work, 'tmp'))).toEqual([]);
    return JSON.parse(out);
  }

  it('extracts as the user, converts whiteouts with user xattrs, refuses devices', () => {
    const result = runAsNobody([
      { path: 'f', body: 'x', uid: 1234, gid: 1234, pax: { 'SCHILY.xattr.user.note': 'hi' } },
      { path: '.wh.gone', body: '' },
      { path: 'd/', type: 'dir' },
      { path: 'd/.wh..wh..opq', body: '' },
    ]);
    expect(result).toEqual({ ok: true, created: true });
    const out = join(store.dir, 'nobody/out');
    expect(lstatSync(join(out, 'f')).uid).toBe(65534);
    expect(getfattr(join(out, 'f'), 'user.note')).toBe('hi');
    expect(lstatSync(join(out, 'gone')).isCharacterDevice()).toBe(true);
    expect(getfattr(join(out, 'd'), 'user.overlay.opaque')).toBe('y');
    expect(getfattr(join(out, 'd'), 'trusted.overlay.opaque')).toBeUndefined();
  });

  it('refuses a device node', () => {
    const result = runAsNobody([{ path: 'tty', type: 'char', devmajor: 5, devminor: 0 }]);
    expect(result).toMatchObject({ ok: false, code: 'PILOT_LAYER_UNSAFE' });
    expect(result.message).toMatch(/user\.tar: entry "tty" is a device node/);
  });
});

describe('extractTarSafely extracts what it verified', () => {
  for (const gzip of [false, true]) {
    it(`never reads the input again after hashing it (${gzip ? 'gzip' : 'plain'})`, async () => {
      const good = encodeTar([{ path: 'app', body: 'good\n' }]);
      const evil = encodeTar([{ path: 'app', body: 'evil\n' }]);
      const bytes = (tar: Buffer) => (gzip ? gzipSync(tar) : tar);
      const input = bytes(good);
      let opens = 0;
      // Whoever can write the archive swaps it once pilot has read it (sniffed and hashed).
      const source = {
        open: () => Readable.from([opens++ < 2 ? input : bytes(evil)]),
      };
      const result = await extractTarSafely(source, join(store.dir, 'out'), {
        tmpDir: tmp,
        label: 'swapped.tar',
        expectedDigest: sha256(input),
        expectedDiffId: sha256(good),
      });
      expect(result.created).toBe(true);
      expect(readFileSync(join(store.dir, 'out/app'), 'utf8')).toBe('good\n');
      expect(opens).toBeLessThanOrEqual(2);
    });
  }
});

describe('extractTarSafely hashes file contents as it extracts them', () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
  const entries: TarEntrySpec[] = [
    { path: 'dir/', type: 'dir' },
    { path: 'dir/empty', body: '' },
    { path: 'dir/big', body: big },
    { path: 'dir/link', type: 'link', linkpath: 'dir/big' },
    { path: 'dir/again', body: 'first\n' },
    { path: './dir/again', body: 'second, longer\n' },
    { path: 'dir/sym', linkpath: 'big' },
  ];

  for (const gzip of [false, true]) {
    it(`gives the digests a read of the tree gives (${gzip ? 'gzip' : 'plain'})`, async () => {
      const result = await extract(entries, { gzip });
      const out = join(store.dir, 'out');
      const sizes = { 'dir/empty': 0, 'dir/big': big.length, 'dir/again': 15 };
      for (const [path, size] of Object.entries(sizes)) {
        expect(result.bodies.get(path, size), path).toBe(
          sha256(readFileSync(join(out, path))).replace('sha256:', ''),
        );
      }
      // the hard link carries its file's digest; other sizes or names are not answered
      expect(result.bodies.get('dir/link', big.length)).toBe(
        result.bodies.get('dir/big', big.length),
      );
      expect(result.bodies.get('dir/big', big.length - 1)).toBeUndefined();
      expect(result.bodies.get('dir/sym', 3)).toBeUndefined();
      expect(result.bodies.get('dir', 0)).toBeUndefined();
      expect(serializeManifest(scanTree(out, (rel, size) => result.bodies.get(rel, size)))).toBe(
        serializeManifest(scanTree(out)),
      );
    });
  }
});

describe('extractTarSafely reads the manifest in its canonicalising walk', () => {
  // Owners, modes that canonicalisation changes (setuid, 0700 dirs, group write), hard
  // links changed through their first name, symlinks, a whiteout, an opaque dir, a
  // device it removes: the entries the walk hands on equal a fresh scan of the result.
  const entries: TarEntrySpec[] = [
    { path: 'bin/', type: 'dir', mode: 0o700, uid: 12, gid: 34 },
    { path: 'bin/su', body: 'su\n', mode: 0o4755, uid: 5, gid: 6 },
    { path: 'bin/su-again', type: 'link', linkpath: 'bin/su' },
    { path: 'bin/plain', body: 'plain\n', mode: 0o664 },
    { path: 'bin/sh', linkpath: 'plain', uid: 7 },
    { path: 'etc/', type: 'dir', mode: 0o2775 },
    { path: 'etc/.wh.gone', body: '' },
    { path: 'opt/d/', type: 'dir' },
    { path: 'opt/d/.wh..wh..opq', body: '' },
    { path: 'opt/d/x', body: Buffer.alloc(300 * 1024, 7), mode: 0o600, uid: 1000 },
    { path: 'tmp/', type: 'dir', mode: 0o1777 },
    { path: 'fifo', type: 'fifo', mode: 0o666 },
    { path: 'dev/', type: 'dir' },
    { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
  ];

  for (const privileged of isRoot ? [true, false] : [false]) {
    const cases = privileged ? entries : entries.filter((e) => e.path !== 'dev/null');
    it(`equals a scan of the finished tree (${privileged ? 'privileged' : 'unprivileged'})`, async () => {
      const scanner = manifestScanner();
      let fromWalk = '';
      const out = join(store.dir, 'out');
      await extractTarSafely(Readable.from([gzipSync(encodeTar(cases))]), out, {
        tmpDir: tmp,
        label: 'test.tar',
        privileged,
        onEntry: (entry, bodies) => scanner.visit(entry, (rel, size) => bodies.get(rel, size)),
        beforeCommit: (_result, staging) => {
          fromWalk = serializeManifest(scanner.entries(readOverlayXattrs(staging)));
        },
      });
      const fresh = serializeManifest(scanTree(out));
      expect(fromWalk).toBe(fresh);
      // the cases it covers are there
      expect(fresh).toContain('"opt/d","d",493');
      expect(fresh).toMatch(/"bin\/su","f",493,/);
      expect(fresh).toContain('"etc/gone","c"');
      expect(fresh).not.toContain('dev/null');
    });
  }
});

describe('extractTarSafely feeds GNU tar behind the validator', () => {
  it('refuses an entry late in the archive, after GNU tar has extracted the ones before it', async () => {
    const entries: TarEntrySpec[] = [
      ...Array.from({ length: 8 }, (_, i) => ({
        path: `f${i}`,
        body: Buffer.alloc(512 * 1024, i),
      })),
      { path: 'up', linkpath: '/' },
      { path: 'up/secret-copy', body: 'evil\n' },
    ];
    for (const gzip of [false, true]) {
      await expect(extract(entries, { gzip })).rejects.toThrow(/up\/secret-copy/);
      expect(existsSync(join(store.dir, 'out'))).toBe(false);
      expectNothingOutside();
    }
  });

  it('refuses a wrong diff_id after extracting everything, leaving nothing', async () => {
    const data = encodeTar([{ path: 'big', body: Buffer.alloc(2 * 1024 * 1024, 1) }]);
    await expect(
      extractTarSafely(Readable.from([data]), join(store.dir, 'out'), {
        tmpDir: tmp,
        label: 'test.tar',
        expectedDiffId: sha256('something else'),
      }),
    ).rejects.toThrow(/digest/);
    expect(existsSync(join(store.dir, 'out'))).toBe(false);
    expectNothingOutside();
  });

  it('refuses a tar that is itself gzip data (node-tar would undo it on its own)', async () => {
    const inner = gzipSync(encodeTar([{ path: 'app', body: 'x\n' }]));
    await expect(extract(inner, { gzip: true })).rejects.toThrow(/itself compressed/);
    expectNothingOutside();
  });
});
