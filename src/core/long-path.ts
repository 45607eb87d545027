/**
 * Paths longer than the kernel takes. A path given to a system call has at most 4095
 * bytes (PATH_MAX, with its NUL), but a tree can be deeper than that: an image may hold
 * a 4,000-byte path, and the store's own directory comes before it. Node has no
 * `openat`, so the long path is cut at slashes into pieces the kernel takes: each piece
 * but the last is opened as an O_PATH handle (no data, no permission needed but search)
 * and the next piece is looked up below it through `/proc/self/fd/N`, a magic link to
 * that very directory. The result names the same file as the long path, through the
 * same directories, without a change of working directory (which would be process-wide).
 *
 * Node built-ins only: the launcher uses this.
 */
import { closeSync, openSync } from 'node:fs';

/** Linux flags that fs.constants lacks or that need no lookup here. */
export const O_PATH = 0o10000000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;

/**
 * Paths up to this many bytes go to the kernel as they are: with a name (255 bytes at
 * most) and `/proc/self/fd/N/` added, the result still fits in PATH_MAX.
 */
export const SHORT_PATH = 3072;

/** The byte offset of the last `/` in `path` at or before `limit`, or -1. */
function lastSlashBefore(path: Buffer, limit: number): number {
  for (let i = Math.min(limit, path.length - 1); i > 0; i--) if (path[i] === 0x2f) return i;
  return -1;
}

/**
 * Calls `use` with a path that names what `path` names and that the kernel takes
 * (`path` itself when it is short enough), and closes the handles it needed after.
 * Directories on the way are followed as the kernel follows them in a path.
 */
export function withShortPath<T>(path: string | Buffer, use: (short: Buffer) => T): T {
  let rest = Buffer.isBuffer(path) ? path : Buffer.from(path);
  if (rest.length <= SHORT_PATH) return use(rest);
  const handles: number[] = [];
  try {
    let base = Buffer.alloc(0);
    while (base.length + rest.length > SHORT_PATH) {
      const cut = lastSlashBefore(rest, SHORT_PATH - base.length);
      if (cut <= 0) break; // one name longer than the budget: the kernel will say so
      const handle = openSync(Buffer.concat([base, rest.subarray(0, cut)]), O_PATH | O_DIRECTORY);
      handles.push(handle);
      base = Buffer.from(`/proc/self/fd/${handle}/`);
      rest = rest.subarray(cut + 1);
    }
    return use(Buffer.concat([base, rest]));
  } finally {
    for (const handle of handles) closeSync(handle);
  }
}
