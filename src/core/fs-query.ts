/** Small questions about a path that several layers ask the same way. */
import { lstatSync, statSync } from 'node:fs';
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

/** The uid that owns `path` (symlinks followed), or undefined when it cannot be known. */
export function pathOwner(path: string): number | undefined {
  try {
    return statSync(path).uid;
  } catch {
    return undefined;
  }
}
