/** Small questions about a path that several layers ask the same way. */
import { closeSync, lstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { errnoOf } from './errors.js';

/** Whether anything (a dangling symlink too) is at `path`. */
export function pathPresent(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

/** The bytes of `file`, or undefined when there is none; any other failure is thrown. */
export function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** The text of `file` (UTF-8), or undefined when there is none. */
export function readTextIfPresent(file: string): string | undefined {
  return readIfPresent(file)?.toString('utf8');
}

/** The uid that owns `path` (symlinks followed), or undefined when it cannot be known. */
export function pathOwner(path: string): number | undefined {
  try {
    return statSync(path).uid;
  } catch {
    return undefined;
  }
}

/** The first `length` bytes of `file` (fewer when it is shorter): what it is by content. */
export function readHead(file: string, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(length);
    return head.subarray(0, readSync(fd, head, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

/** At most `limit` + 1 bytes of `fd`: one more than allowed tells that there are more. */
export function readBounded(fd: number, limit: number): Buffer {
  const buffer = Buffer.alloc(limit + 1);
  let length = 0;
  for (;;) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) break;
    length += n;
    if (length === buffer.length) break;
  }
  return buffer.subarray(0, length);
}
