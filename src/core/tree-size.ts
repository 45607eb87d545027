/**
 * The one measure of a tree's size (a layer, a host layer, an instance's upper dir, a
 * package's staged files), by walking it (tree-walk.ts: any depth, no symlink followed).
 *
 * - `apparent`: file sizes and symlink lengths, each hard-linked inode once; what a
 *   layer's record, `pilot ps` and a package's Installed-Size report (`du -sb`'s
 *   meaning, without directories, whose sizes depend on the file system).
 * - `freed`: the blocks that deleting the tree gives back: directories and files with no
 *   other link (a host layer's hard links to host files free nothing).
 *
 * A tree that is not there measures 0.
 */
import { errnoOf } from './errors.js';
import { walkTree } from './tree-walk.js';

export type TreeMeasure = 'apparent' | 'freed';

export function treeSize(dir: string, measure: TreeMeasure = 'apparent'): number {
  const seen = new Set<string>();
  let total = 0;
  try {
    walkTree(dir, {
      enter: ({ stat }) => {
        if (measure === 'freed') {
          if (stat.isDirectory() || stat.nlink === 1) total += stat.blocks * 512;
          return true;
        }
        if (!stat.isFile() && !stat.isSymbolicLink()) return true;
        if (stat.nlink > 1) {
          const key = `${stat.dev}:${stat.ino}`;
          if (seen.has(key)) return false;
          seen.add(key);
        }
        total += stat.size;
        return false;
      },
    });
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
  return total;
}
