/**
 * Walking a tree pilot made (a layer, a host layer, a staging or trash dir), however
 * deep: iterative, so depth costs no stack, and every path it hands out is one the
 * kernel takes, however long the entry's real path is (a directory deeper than
 * SHORT_PATH bytes is entered through an O_PATH handle and `/proc/self/fd/N`, as in
 * long-path.ts). Names are bytes, so a name that is not UTF-8 is walked as it is. No
 * symbolic link is followed.
 *
 * Node built-ins only: the launcher removes trees through this.
 */
import {
  chmodSync,
  closeSync,
  lstatSync,
  openSync,
  readdirSync,
  rmdirSync,
  type Stats,
  unlinkSync,
} from 'node:fs';
import { O_DIRECTORY, O_NOFOLLOW, O_PATH, SHORT_PATH, withShortPath } from './long-path.js';

export interface TreeEntry {
  /** A path to the entry itself that the kernel takes; valid during the call only. */
  path: Buffer;
  /** The path from the root (`.` for the root), for records and messages. */
  rel: string;
  stat: Stats;
}

export interface TreeVisitor {
  /**
   * Each entry, parents before their children. For a directory, runs before the
   * directory is read (it may make it readable); `false` skips what is inside.
   */
  enter?(entry: TreeEntry): boolean | undefined;
  /** Each directory again, after everything inside it. */
  leave?(entry: TreeEntry): void;
}

interface Frame {
  entry: TreeEntry;
  /** A path to this directory for its children's paths: short, maybe a /proc handle. */
  base: Buffer;
  handle: number | undefined;
  names: Buffer[];
  next: number;
}

const SLASH = Buffer.from('/');

function childRel(parent: string, name: Buffer): string {
  const text = name.toString();
  return parent === '.' ? text : `${parent}/${text}`;
}

/** Walks `root` (which need not be a directory; its own path may be long too). */
export function walkTree(root: string | Buffer, visitor: TreeVisitor): void {
  withShortPath(root, (rootPath) => walkFrom(rootPath, visitor));
}

function walkFrom(rootPath: Buffer, visitor: TreeVisitor): void {
  const stack: Frame[] = [];
  const open = (entry: TreeEntry): void => {
    if (visitor.enter?.(entry) === false || !entry.stat.isDirectory()) return;
    let handle: number | undefined;
    let base = entry.path;
    if (base.length > SHORT_PATH - 256) {
      handle = openSync(base, O_PATH | O_DIRECTORY | O_NOFOLLOW);
      base = Buffer.from(`/proc/self/fd/${handle}`);
    }
    try {
      const names = readdirSync(base, { encoding: 'buffer' });
      stack.push({ entry, base, handle, names, next: 0 });
    } catch (error) {
      if (handle !== undefined) closeSync(handle);
      throw error;
    }
  };
  try {
    open({ path: rootPath, rel: '.', stat: lstatSync(rootPath) });
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const name = frame.names[frame.next++];
      if (name === undefined) {
        stack.pop();
        if (frame.handle !== undefined) closeSync(frame.handle);
        visitor.leave?.(frame.entry);
        continue;
      }
      const path = Buffer.concat([frame.base, SLASH, name]);
      open({ path, rel: childRel(frame.entry.rel, name), stat: lstatSync(path) });
    }
  } finally {
    for (const frame of stack) if (frame.handle !== undefined) closeSync(frame.handle);
  }
}

/**
 * Removes `root` and everything below it, however deep or long its paths, and even
 * where its own owner made directories read-only (an unprivileged store cannot
 * otherwise unlink inside a 0555 directory). Symbolic links are removed, never followed.
 */
export function removeTreeByWalk(root: string | Buffer): void {
  walkTree(root, {
    enter: ({ path, stat }) => {
      if (!stat.isDirectory()) {
        unlinkSync(path);
        return false;
      }
      if ((stat.mode & 0o700) !== 0o700) chmodSync(path, 0o700);
      return true;
    },
    leave: ({ path }) => rmdirSync(path),
  });
}
