import { execFileSync, spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withShortPath } from '../../src/core/long-path.js';
import { removeTree } from '../../src/core/temp-entries.js';
import { hostLayerKey, missingHostFiles, scanHostFiles } from '../../src/runtime/host-layer.js';
import { buildHostLayer } from '../../src/runtime/host-layer-build.js';
import { LayeredTree } from '../../src/runtime/image-tree.js';
import { fuzzRuns } from '../fuzz.js';
import { expectLinear } from '../scaling.js';

const isRoot = process.getuid?.() === 0;
/** The exec helper builds host layers (`make unit` builds it first). */
const helper = fileURLToPath(new URL('../../dist/pilot-exec', import.meta.url));
const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'pilot-tree-'));
// removeTree: a test below builds a tree deeper than PATH_MAX, which rmSync cannot remove.
afterAll(() => removeTree(work));

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

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

/** `l0` … `l<levels-1>` link on (`shape` gives each target), `l<levels>` is a directory. */
function chainTree(name: string, levels: number, shape: (next: string) => string): LayeredTree {
  const files: Record<string, { link: string } | 'dir'> = { [`l${levels}`]: 'dir' };
  for (let k = 0; k < levels; k++) files[`l${k}`] = { link: shape(`l${k + 1}`) };
  return new LayeredTree([{ dir: layer(name, files) }]);
}

/** Counts a tree's lookups; past `limit` the test fails at once instead of running for minutes. */
function countLookups(tree: LayeredTree, limit = 10_000): { count: number } {
  const steps = { count: 0 };
  const lookup = tree.lookup.bind(tree);
  vi.spyOn(tree, 'lookup').mockImplementation((path) => {
    if (++steps.count > limit) throw new Error(`more than ${limit} lookups`);
    return lookup(path);
  });
  return steps;
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

  it('resolves the last component too, as open(2) in the app root would', () => {
    const links = new LayeredTree([
      {
        dir: layer('resolve', {
          'usr/bin/python3.11': 'py',
          'usr/bin/python3': { link: 'python3.11' },
          bin: { link: 'usr/bin' },
          'usr/bin/dangling': { link: '/opt/none' },
        }),
      },
    ]);
    expect(links.resolve('/bin/python3')).toBe('/usr/bin/python3.11');
    expect(links.canonicalParent('/bin/python3')).toBe('/usr/bin/python3');
    expect(links.resolve('/usr/bin/dangling')).toBe('/opt/none');
    expect(links.resolve('/not/there')).toBe('/not/there');
  });

  it('climbs with `..` no higher than the image root, as in a chroot', () => {
    const climb = new LayeredTree([
      { dir: layer('climb', { 'usr/lib64': 'dir', 'etc/up': { link: '../../../../usr/lib64' } }) },
    ]);
    expect(climb.canonicalParent('/../../usr/lib64/ld.so')).toBe('/usr/lib64/ld.so');
    expect(climb.canonicalParent('/etc/up/ld.so')).toBe('/usr/lib64/ld.so');
    expect(climb.canonicalParent('/etc/up/../../x')).toBe('/x');
  });

  it('stops a loop of links with an error naming the path', () => {
    const loop = new LayeredTree([{ dir: layer('loop', { a: { link: 'b' }, b: { link: 'a' } }) }]);
    expect(errorOf(() => loop.canonicalParent('/a/x'))).toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/\/a\/x.*symbolic links loop or chain too deeply/),
    });
    const escapes = new LayeredTree([
      { dir: layer('loop-esc', { '\x1b[2J': { link: '\x1b[2J' } }) },
    ]);
    expect(errorOf(() => escapes.canonicalParent('/\x1b[2J/x'))).toMatchObject({
      message: expect.stringMatching(/^[^\x1b]*\\x1b\[2J\/x[^\x1b]*$/),
    });
  });

  it('follows at most 40 links in one lookup, as the kernel does', () => {
    const straight = (levels: number) =>
      chainTree(`straight${levels}`, levels, (next) => next).canonicalParent('/l0/x');
    expect(straight(40)).toBe('/l40/x');
    expect(errorOf(() => straight(41))).toMatchObject({ code: 'PILOT_IMAGE_INVALID' });
  });

  // l_k -> /l_{k+1}/../l_{k+1}: followed naively, each level doubles the work.
  it.each([5, 17, 30])('ends a %i-level doubling chain after a few steps', (levels) => {
    const tree = chainTree(`doubling${levels}`, levels, (next) => `/${next}/../${next}`);
    const steps = countLookups(tree);
    if (levels === 5)
      expect(tree.canonicalParent('/l0/x')).toBe('/l5/x'); // 31 links
    else {
      expect(errorOf(() => tree.canonicalParent('/l0/x'))).toMatchObject({
        code: 'PILOT_IMAGE_INVALID',
        message: expect.stringContaining('/l0/x'),
      });
    }
    expect(steps.count).toBeLessThan(200);
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

/**
 * The kernel's own resolution is the reference: random trees of directories and links,
 * resolved by openat2(RESOLVE_IN_ROOT) (a chroot's rules) in a small C program. Where the
 * kernel reaches a directory, the tree must name the same one; where it gives ELOOP, the
 * tree must refuse. (Where a component is missing the tree goes on by name: no answer.)
 */
describe('LayeredTree against the kernel', () => {
  const compiler = spawnSync('cc', ['--version']).status === 0;
  const resolver = join(work, 'kernel-resolve');
  beforeAll(() => {
    if (compiler) execFileSync('cc', ['-O1', '-o', resolver, join(here, 'kernel-resolve.c')]);
  });

  const name = fc.constantFrom('a', 'b', 'c');
  const relative = fc
    .array(fc.oneof(name, fc.constant('..'), fc.constant('.')), { minLength: 1, maxLength: 4 })
    .map((parts) => parts.join('/'));
  const entry = fc.tuple(
    fc.array(name, { minLength: 1, maxLength: 2 }).map((parts) => parts.join('/')),
    fc.oneof(
      fc.constant<'dir'>('dir'),
      // Links outnumber directories, so that loops and doubling chains come up.
      {
        weight: 3,
        arbitrary: fc.record({
          link: fc.oneof(
            relative,
            relative.map((p) => `/${p}`),
          ),
        }),
      },
    ),
  );
  const queries = fc.array(relative, { minLength: 1, maxLength: 6 });
  // l0 -> … -> lN in the shapes that cost work (`lK/../lK` doubles), ending in a directory
  // or a loop back: these cross the 40-link limit, random trees seldom do.
  const chain = fc
    .tuple(
      fc.array(fc.constantFrom('N', '/N', 'N/../N', '/N/../N', './N', '../N'), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.option(fc.nat(), { nil: undefined, freq: 2 }),
    )
    .map(([shapes, loopTo]) => {
      const entries: TreeSpec = shapes.map((shape, k) => [
        `l${k}`,
        { link: shape.replaceAll('N', `l${k + 1}`) },
      ]);
      const end = `l${shapes.length}`;
      entries.push([end, loopTo === undefined ? 'dir' : { link: `l${loopTo % shapes.length}` }]);
      return entries;
    });

  let cases = 0;
  function compareWithKernel(entries: TreeSpec, paths: string[]): void {
    const dir = join(work, `fuzz${cases++}`);
    buildTree(dir, entries);
    const tree = new LayeredTree([{ dir }]);
    const kernel = execFileSync(resolver, [dir], { input: paths.join('\n') })
      .toString()
      .split('\n');
    paths.forEach((path, i) => {
      const expected = kernel[i];
      if (expected === '!ELOOP') {
        expect(errorOf(() => tree.canonicalParent(`${path}/x`))).toMatchObject({
          code: 'PILOT_IMAGE_INVALID',
        });
      } else if (expected?.startsWith('/')) {
        expect(tree.canonicalParent(`${path}/x`)).toBe(posix.join(expected, 'x'));
      }
    });
  }

  it.skipIf(!compiler)(
    'resolves parents of random trees to the directory the kernel reaches',
    () => {
      const trees = fc.array(entry, { maxLength: 12 });
      fc.assert(fc.property(trees, queries, compareWithKernel), { numRuns: fuzzRuns(150) });
    },
    fuzzRuns(20_000),
  );

  it.skipIf(!compiler)(
    'resolves link chains as the kernel does, to the last link it allows',
    () => {
      fc.assert(
        fc.property(chain, queries, (entries, paths) =>
          compareWithKernel(entries, ['l0', 'l0/..', 'l1/l0', ...paths]),
        ),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzRuns(20_000),
  );
});

type TreeSpec = [string, 'dir' | { link: string }][];

/** Directories first, then each link whose parent is a real directory by then. */
function buildTree(dir: string, entries: TreeSpec): void {
  mkdirSync(dir);
  for (const [path, kind] of entries) {
    if (kind === 'dir') mkdirSync(join(dir, path), { recursive: true });
  }
  for (const [path, kind] of entries) {
    if (kind === 'dir') continue;
    try {
      symlinkSync(kind.link, join(dir, path));
    } catch {
      // The parent is missing or the name is taken: the tree is as random without it.
    }
  }
}

describe('LayeredTree: deep paths', () => {
  it('resolves a deep path in time linear in its depth, through layers that lack it', async () => {
    await expectLinear((depth) => {
      const path = `/${'d/'.repeat(depth)}f`;
      const lower = layer(`deep-lower-${depth}`, { [path]: 'x' });
      const upper = layer(`deep-upper-${depth}`, { other: 'x' });
      return () => {
        // A fresh tree each time: its answers are kept per tree.
        const tree = new LayeredTree([{ dir: upper }, { dir: upper }, { dir: lower }]);
        expect(tree.canonicalParent(path)).toBe(path);
      };
    }, 50);
  });

  it('looks up a path that reaches past PATH_MAX below the layer directory', () => {
    const path = `/${`${'n'.repeat(200)}/`.repeat(25)}f`;
    const lower = join(work, 'long-lower');
    let dir = lower;
    for (const part of path.split('/').slice(1, -1)) {
      dir = join(dir, part);
      withShortPath(dir, (at) => mkdirSync(at, { recursive: true }));
    }
    withShortPath(join(dir, 'f'), (at) => symlinkSync('target', at));
    const tree = new LayeredTree([{ dir: lower }]);
    expect(tree.lookup(path)?.linkTarget).toBe('target');
  });
});
