/**
 * The store's format version, `<store>/format` (src/store/store-format.ts converts an
 * older store). Format 2 keeps canonical permissions (DESIGN.md, Trust); format 3 lists
 * each layer's opaque directories in its record. Light on
 * purpose: the launcher reads it on every cold launch as root.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PilotPaths } from './paths.js';

export const STORE_FORMAT = 3;

export function storeFormatFile(paths: PilotPaths): string {
  return join(paths.store, 'format');
}

/** The store's format: 0 when none is written (a store from before versions, or none yet). */
export function storeFormat(paths: PilotPaths): number {
  try {
    const value = Number(readFileSync(storeFormatFile(paths), 'utf8').trim());
    return Number.isInteger(value) && value > 0 ? value : 0;
  } catch {
    return 0;
  }
}
