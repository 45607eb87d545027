import { readdirSync } from 'node:fs';
import { errnoOf } from './errors.js';

/** The names in `dir`; a directory that does not exist (yet) is empty. Other errors are thrown. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
}
