import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  compareManifests,
  isClean,
  MANIFEST_HEADER,
  ManifestDamaged,
  type ManifestEntry,
  parseManifest,
  serializeManifest,
} from '../../src/store/layer-manifest.js';
import {
  decodeGetfattrName,
  parseGetfattrDump,
  scanTree,
} from '../../src/store/layer-manifest-scan.js';
import { isRoot, sha256 } from './helpers.js';

function entry(path: string, fields: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    path,
    type: 'f',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 1,
    detail: 'a'.repeat(64),
    xattrs: '',
    ...fields,
  };
}

const sample: ManifestEntry[] = [
  entry('usr/bin/x', { mode: 0o755 }),
  entry('.', { type: 'd', mode: 0o755, size: 0, detail: '' }),
  entry('etc', {
    type: 'd',
    mode: 0o755,
    size: 0,
    detail: '',
    xattrs: 'trusted.overlay.opaque=0x79',
  }),
  entry('bin', { type: 'l', mode: 0o777, size: 0, detail: 'usr/bin' }),
  entry('etc/gone', { type: 'c', mode: 0, size: 0, detail: '0:0' }),
  entry('name with "quotes"\nand a newline'),
];

describe('manifest format', () => {
  it('round-trips, sorted by path bytes, with a checked end line', () => {
    const text = serializeManifest(sample);
    expect(text.startsWith(`${MANIFEST_HEADER}\n[".","d",493,`)).toBe(true);
    expect(text).toMatch(/\nend 6 sha256:[a-f0-9]{64}\n$/);
    const parsed = parseManifest(text);
    expect(parsed.map((e) => e.path)).toEqual([
      '.',
      'bin',
      'etc',
      'etc/gone',
      'name with "quotes"\nand a newline',
      'usr/bin/x',
    ]);
    expect(parsed).toEqual(expect.arrayContaining(sample));
  });

  it.each([
    ['truncated in the middle', (t: string) => t.slice(0, t.length / 2), /truncated/],
    ['without its end line', (t: string) => t.slice(0, t.lastIndexOf('end ')), /truncated/],
    ['empty', () => '', /truncated/],
    ['with an edited entry', (t: string) => t.replace('"usr/bin"', '"usr/sbin"'), /checksum/],
    ['with a changed count', (t: string) => t.replace(/end 6/, 'end 7'), /checksum|lists 6/],
    [
      'with a damaged end line',
      (t: string) => t.replace(/sha256:[a-f0-9]{6}/, 'sha256:zz'),
      /end line/,
    ],
  ])('refuses a manifest %s', (_name, damage, message) => {
    expect(() => parseManifest(damage(serializeManifest(sample)))).toThrow(ManifestDamaged);
    expect(() => parseManifest(damage(serializeManifest(sample)))).toThrow(message);
  });

  it('refuses a line that is no entry even when its checksum is right', () => {
    const body = `${MANIFEST_HEADER}\n["x","q",0,0,0,0,"",""]\n`;
    const text = `${body}end 1 ${sha256(body)}\n`;
    expect(() => parseManifest(text)).toThrow(/line 2 is not an entry/);
  });
});

describe('compareManifests', () => {
  it('finds nothing in an identical tree', () => {
    const difference = compareManifests(sample, [...sample].reverse());
    expect(isClean(difference)).toBe(true);
  });

  it.each([
    ['content', entry('f', { detail: 'b'.repeat(64) }), ['content']],
    ['size', entry('f', { size: 2, detail: 'b'.repeat(64) }), ['content (size 1 is now 2)']],
    ['mode', entry('f', { mode: 0o600 }), ['mode (644 is now 600)']],
    ['owner', entry('f', { uid: 1000 }), ['owner (0:0 is now 1000:0)']],
    ['type', entry('f', { type: 'l', detail: '/etc/shadow' }), ['type (file is now a symlink)']],
    ['xattrs', entry('f', { xattrs: 'user.overlay.opaque=0x79' }), ['overlay xattrs']],
    [
      'mode and owner',
      entry('f', { mode: 0o755, gid: 5 }),
      ['mode (644 is now 755)', 'owner (0:0 is now 0:5)'],
    ],
  ])('names a change of %s', (_name, now, changes) => {
    expect(compareManifests([entry('f')], [now])).toEqual({
      corrupted: [{ path: 'f', changes }],
      missing: [],
      extra: [],
    });
  });

  it('names a changed link target and device number', () => {
    const link = entry('l', { type: 'l', detail: 'a' });
    const device = entry('d', { type: 'c', detail: '0:0' });
    const difference = compareManifests(
      [link, device],
      [
        { ...link, detail: 'b' },
        { ...device, detail: '1:3' },
      ],
    );
    expect(difference.corrupted).toEqual([
      { path: 'l', changes: ['link target'] },
      { path: 'd', changes: ['device number'] },
    ]);
  });

  it('lists missing and extra entries', () => {
    const difference = compareManifests([entry('a'), entry('b')], [entry('b'), entry('c')]);
    expect(difference).toEqual({ corrupted: [], missing: ['a'], extra: ['c'] });
    expect(isClean(difference)).toBe(false);
  });
});

describe('getfattr output', () => {
  it('decodes the octal escapes of file names', () => {
    expect(decodeGetfattrName('a/n\\012q\\134z')).toBe('a/n\nq\\z');
    expect(decodeGetfattrName('caf\\303\\251')).toBe('café');
    expect(decodeGetfattrName('plain\\x')).toBe('plain\\x');
  });

  it('maps each path to its sorted overlay xattrs', () => {
    const dump = [
      '# file: .',
      'trusted.overlay.opaque=0x79',
      '',
      '# file: a/b',
      'user.overlay.opaque=0x79',
      'trusted.overlay.opaque=0x79',
      '',
    ].join('\n');
    expect([...parseGetfattrDump(dump)]).toEqual([
      ['.', 'trusted.overlay.opaque=0x79'],
      ['a/b', 'trusted.overlay.opaque=0x79;user.overlay.opaque=0x79'],
    ]);
  });
});

describe('scanTree', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-manifest-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records content digests, link targets and hard links once hashed', () => {
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'etc/a'), 'hello');
    linkSync(join(dir, 'etc/a'), join(dir, 'etc/b'));
    symlinkSync('../etc/a', join(dir, 'link'));
    const byPath = new Map(scanTree(dir).map((e) => [e.path, e]));
    expect([...byPath.keys()].sort()).toEqual(['.', 'etc', 'etc/a', 'etc/b', 'link']);
    expect(byPath.get('etc/a')).toMatchObject({
      type: 'f',
      size: 5,
      detail: sha256('hello').slice(7),
    });
    expect(byPath.get('etc/b')?.detail).toBe(byPath.get('etc/a')?.detail);
    expect(byPath.get('link')).toMatchObject({ type: 'l', detail: '../etc/a', size: 0 });
    expect(byPath.get('etc')).toMatchObject({ type: 'd', detail: '' });
  });

  it.skipIf(!isRoot)('records overlay xattrs and whiteout devices', () => {
    mkdirSync(join(dir, 'opaque'));
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(dir, 'opaque')]);
    execFileSync('mknod', [join(dir, 'gone'), 'c', '0', '0']);
    const byPath = new Map(scanTree(dir).map((e) => [e.path, e]));
    expect(byPath.get('opaque')?.xattrs).toBe('trusted.overlay.opaque=0x79');
    expect(byPath.get('gone')).toMatchObject({ type: 'c', detail: '0:0' });
    const text = serializeManifest([...byPath.values()]);
    execFileSync('setfattr', ['-x', 'trusted.overlay.opaque', join(dir, 'opaque')]);
    expect(compareManifests(parseManifest(text), scanTree(dir)).corrupted).toEqual([
      { path: 'opaque', changes: ['overlay xattrs'] },
    ]);
  });
});
