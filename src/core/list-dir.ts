import { readdirSync } from 'node:fs';
import { errnoOf } from './errors.js';

/**
 * The names in `dir`; a directory that does not exist (yet), or something in its place
 * that is not a directory (a drop-in "dir" that is a FIFO), is empty. Other errors are thrown.
 */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [];
    throw error;
  }
}
