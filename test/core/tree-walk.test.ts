/**
 * Trees deeper than PATH_MAX (an image's 4,000-byte path below the store's directory):
 * pilot walks, canonicalises, measures and removes them all the same (long-path.ts,
 * tree-walk.ts), and follows no symlink on the way.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SHORT_PATH, withShortPath } from '../../src/core/long-path.js';
import { removeTree } from '../../src/core/temp-entries.js';
import { treeSize } from '../../src/core/tree-size.js';
import { removeTreeByWalk, walkTree } from '../../src/core/tree-walk.js';
import { canonicaliseTree } from '../../src/store/extract/canonical.js';

let dir: string;
let outside: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-tree-walk-'));
  outside = join(dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep'), 'keep\n');
});

afterEach(() => {
  // The test's own dir, removed by the code under test's fallback if need be.
  chmodSync(dir, 0o700);
  removeTreeByWalk(dir);
});

const NAME = 'n'.repeat(200);

/** `root` with `levels` directories of 200-byte names below it, and the deepest path. */
function deepTree(root: string, levels: number): string {
  let path = root;
  mkdirSync(root);
  for (let i = 0; i < levels; i++) {
    path = join(path, NAME);
    withShortPath(path, (at) => mkdirSync(at));
  }
  withShortPath(join(path, 'file'), (at) => writeFileSync(at, 'deep\n', { mode: 0o4755 }));
  withShortPath(join(path, 'link'), (at) => symlinkSync(outside, at));
  // A name that is not UTF-8: walked as the bytes it is.
  const odd = Buffer.concat([Buffer.from(`${path}/odd-`), Buffer.from([0xff])]);
  withShortPath(odd, (at) => writeFileSync(at, 'odd\n'));
  return path;
}

describe('trees deeper than PATH_MAX', () => {
  it('are built here past the kernel limit (the premise of the other tests)', () => {
    const deepest = deepTree(join(dir, 'tree'), 30);
    expect(Buffer.byteLength(deepest)).toBeGreaterThan(6000);
    expect(() => lstatSync(deepest)).toThrow(/ENAMETOOLONG/);
    expect(withShortPath(join(deepest, 'file'), (at) => readFileSync(at, 'utf8'))).toBe('deep\n');
    expect(SHORT_PATH).toBeLessThan(4096 - 256);
  });

  it('walk: every entry once, parents first, paths the kernel takes, no link followed', () => {
    deepTree(join(dir, 'tree'), 30);
    const seen: string[] = [];
    const left: string[] = [];
    walkTree(join(dir, 'tree'), {
      enter: ({ path, rel, stat }) => {
        expect(path.length).toBeLessThan(4096);
        expect(lstatSync(path).ino).toBe(stat.ino);
        seen.push(rel);
        return true;
      },
      leave: ({ rel }) => left.push(rel),
    });
    expect(seen).toHaveLength(1 + 30 + 3);
    expect(seen[0]).toBe('.');
    expect(seen.filter((rel) => rel.endsWith('/link'))).toHaveLength(1);
    expect(seen.some((rel) => rel.includes('keep'))).toBe(false);
    expect(left).toHaveLength(31);
    expect(left.at(-1)).toBe('.');
  });

  it('removeTree removes them (Node alone cannot), and nothing a link points at', () => {
    deepTree(join(dir, 'tree'), 30);
    expect(() => rmSync(join(dir, 'tree'), { recursive: true, force: true })).toThrow(
      /ENAMETOOLONG/,
    );
    removeTree(join(dir, 'tree'));
    expect(existsSync(join(dir, 'tree'))).toBe(false);
    expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('keep\n');
  });

  it('removeTree takes read-only directories deep down too', () => {
    const deepest = deepTree(join(dir, 'tree'), 25);
    withShortPath(deepest, (at) => chmodSync(at, 0o555));
    removeTree(join(dir, 'tree'));
    expect(existsSync(join(dir, 'tree'))).toBe(false);
  });

  it('canonicalise and measure them', () => {
    const deepest = deepTree(join(dir, 'tree'), 30);
    const original = canonicaliseTree(join(dir, 'tree'), undefined);
    expect(original.map(([rel]) => rel.split('/').at(-1))).toEqual(['file']);
    expect(withShortPath(join(deepest, 'file'), (at) => lstatSync(at).mode & 0o7777)).toBe(0o755);
    expect(treeSize(join(dir, 'tree'))).toBe(
      'deep\n'.length + 'odd\n'.length + Buffer.byteLength(outside),
    );
  });
});
