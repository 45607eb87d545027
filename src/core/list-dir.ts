import { readdirSync } from 'node:fs';
import { errnoOf } from './errors.js';

/**
 * The names in `dir`; a directory that does not exist (yet) is empty. Other errors are
 * thrown: a file where pilot keeps a directory (ENOTDIR) is the host's to fix, and the
 * error printers name it (core/system-error.ts) instead of showing an empty store.
 */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
}
