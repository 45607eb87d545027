import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { treeSize } from '../../src/core/tree-size.js';

describe('treeSize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-tree-size-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'a'), 'x'.repeat(5000));
  writeFileSync(join(tree, 'sub/b'), 'hello');
  linkSync(join(tree, 'a'), join(tree, 'sub/a-again'));
  symlinkSync('sub/b', join(tree, 'link'));
  const outside = join(dir, 'outside');
  writeFileSync(outside, 'y'.repeat(9000));
  linkSync(outside, join(tree, 'host-file'));

  it('apparent: file sizes and symlink lengths, each inode once', () => {
    expect(treeSize(tree)).toBe(5000 + 5 + 'sub/b'.length + 9000);
  });

  it('freed: the blocks of directories and of files with no other link', () => {
    const blocks = (path: string) => statSync(path).blocks * 512;
    // `a` and the host file have two links each: deleting the tree may free neither.
    expect(treeSize(tree, 'freed')).toBe(
      blocks(tree) + blocks(join(tree, 'sub')) + blocks(join(tree, 'sub/b')),
    );
  });

  it('a tree that is not there measures 0', () => {
    expect(treeSize(join(dir, 'missing'))).toBe(0);
    expect(treeSize(join(dir, 'missing'), 'freed')).toBe(0);
  });
});
