import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hostLayerKey, missingHostFiles, scanHostFiles } from '../../src/runtime/host-layer.js';
import { buildHostLayer } from '../../src/runtime/host-layer-build.js';
import { LayeredTree } from '../../src/runtime/image-tree.js';

const isRoot = process.getuid?.() === 0;
/** The exec helper builds host layers (`make unit` builds it first). */
const helper = fileURLToPath(new URL('../../dist/pilot-exec', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'pilot-tree-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function layer(
  name: string,
  files: Record<string, string | { link: string } | 'dir' | 'whiteout'>,
): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(join(full, '..'), { recursive: true });
    if (content === 'dir') mkdirSync(full, { recursive: true });
    else if (content === 'whiteout') execFileSync('mknod', [full, 'c', '0', '0']);
    else if (typeof content === 'string') writeFileSync(full, content);
    else symlinkSync(content.link, full);
  }
  return dir;
}

describe('LayeredTree', () => {
  const base = layer('base', {
    'usr/lib64/ld.so': 'ld',
    lib64: { link: 'usr/lib64' },
    lib: { link: '/usr/lib' },
    'usr/lib/x86_64/libc.so': 'libc',
    'usr/bin/wc': 'wc',
    'usr/share/o/a': 'a',
    'etc/alt': { link: '../usr/lib/../lib64' },
  });
  const top = layer('top', { 'usr/bin/app': 'app', 'usr/share/o/b': 'b' });
  const tree = new LayeredTree([{ dir: top }, { dir: base }]);

  it('finds files of every layer, top first', () => {
    expect(tree.lookup('/usr/bin/app')?.layer).toBe(top);
    expect(tree.lookup('/usr/bin/wc')?.layer).toBe(base);
    expect(tree.lookup('/usr/bin/none')).toBeUndefined();
  });

  it('canonicalises parents through the image links, never the host', () => {
    expect(tree.canonicalParent('/lib64/ld.so')).toBe('/usr/lib64/ld.so');
    expect(tree.canonicalParent('lib/x86_64/libc.so')).toBe('/usr/lib/x86_64/libc.so');
    expect(tree.canonicalParent('/etc/alt/ld.so')).toBe('/usr/lib64/ld.so');
    expect(tree.canonicalParent('/lib64')).toBe('/lib64');
    expect(tree.canonicalParent('/new/dir/file')).toBe('/new/dir/file');
  });

  it('stops a loop of links', () => {
    const loop = new LayeredTree([{ dir: layer('loop', { a: { link: 'b' }, b: { link: 'a' } }) }]);
    expect(() => loop.canonicalParent('/a/x')).toThrow(/too many levels/);
  });

  it.skipIf(!isRoot)('honours whiteouts and opaque directories', () => {
    const white = layer('white', { 'usr/bin/wc': 'whiteout', 'usr/share/o/c': 'c' });
    const withWhiteout = new LayeredTree([
      { dir: white, opaqueDirs: ['/usr/share/o'] },
      { dir: base },
    ]);
    expect(withWhiteout.lookup('/usr/bin/wc')).toBeUndefined();
    expect(withWhiteout.lookup('/usr/share/o/a')).toBeUndefined();
    expect(withWhiteout.lookup('/usr/share/o/c')?.layer).toBe(white);
  });
});

describe('host layer', () => {
  const image = layer('image', { lib64: { link: 'usr/lib64' }, 'usr/lib64': 'dir', removed: 'x' });
  const tree = new LayeredTree([{ dir: image }]);
  const host = layer('host', {
    'bin/tool': '#!/bin/sh',
    'lib64/libx.so.1.0': 'lib',
    'lib64/libx.so.1': { link: 'libx.so.1.0' },
    'etc/conf.d': 'dir',
  });

  it('lists missing files and keys on file identity', () => {
    const files = scanHostFiles(['/bin/tool', '/nope', '/lib64/libx.so.1'], tree, host);
    expect(missingHostFiles(files)).toEqual(['/nope']);
    const key = hostLayerKey(['l1'], files, [], true);
    expect(
      hostLayerKey(
        ['l1'],
        scanHostFiles(['/bin/tool', '/nope', '/lib64/libx.so.1'], tree, host),
        [],
        true,
      ),
    ).toBe(key);
    writeFileSync(join(host, 'bin/tool.new'), 'new');
    execFileSync('mv', [join(host, 'bin/tool.new'), join(host, 'bin/tool')]);
    expect(
      hostLayerKey(
        ['l1'],
        scanHostFiles(['/bin/tool', '/nope', '/lib64/libx.so.1'], tree, host),
        [],
        true,
      ),
    ).not.toBe(key);
  });

  it('links files at their canonical place, keeps symlinks, creates directories themselves', async () => {
    const files = scanHostFiles(
      ['/bin/tool', '/lib64/libx.so.1.0', '/lib64/libx.so.1', '/etc/conf.d'],
      tree,
      host,
    );
    const out = join(work, 'hostlayer');
    await buildHostLayer(out, files, {
      hide: isRoot ? ['/removed'] : [],
      tree,
      hostRoot: host,
      helper,
      public: true,
    });
    expect(statSync(join(out, 'bin/tool')).ino).toBe(statSync(join(host, 'bin/tool')).ino);
    expect(lstatSync(join(out, 'usr/lib64/libx.so.1.0')).isFile()).toBe(true);
    expect(readlinkSync(join(out, 'usr/lib64/libx.so.1'))).toBe('libx.so.1.0');
    expect(() => lstatSync(join(out, 'lib64'))).toThrow();
    expect(lstatSync(join(out, 'etc/conf.d')).isDirectory()).toBe(true);
    if (isRoot) {
      const whiteout = lstatSync(join(out, 'removed'));
      expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    }
  });
});
