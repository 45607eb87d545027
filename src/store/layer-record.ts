/**
 * A layer's record, `layers/<hex>.json`. Apart from layers.ts (which imports the
 * extractor) so that the store conversion, which every CLI command may run, reads it
 * without loading the extractor.
 */
import { readFileSync } from 'node:fs';
import { errnoOf } from '../core/errors.js';
import type { LayerRecord } from '../core/image-record.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import type { OriginalEntry } from './extract/canonical.js';

/** What pilot writes in `layers/<hex>.json`: the core record plus how it was made. */
export interface StoredLayerRecord extends LayerRecord {
  /** Bytes of the uncompressed tar. */
  tarSize?: number;
  entries?: number;
  /** ISO time of the extraction. */
  extracted?: string;
  /**
   * Owners and modes the image had where the store keeps canonical ones (DESIGN.md,
   * Trust): `[path, uid, gid, st_mode]`, path relative to the layer.
   */
  original?: OriginalEntry[];
  /** The store format the layer was extracted or converted for (core/store-version.ts). */
  format?: number;
  /** The archive (absolute path) the layer was loaded from, for `verify --repair`. */
  source?: string;
  /** The ref the layer was pulled as, when it came from `pilot pull`. */
  pulled?: string;
}

/** `layers/<hex>.manifest`: every entry as extracted (layer-manifest.ts). */
export function layerManifestPath(paths: PilotPaths, diffId: string): string {
  return `${storeDirs.layer(paths, diffId)}.manifest`;
}

export function layerRecordPath(paths: PilotPaths, diffId: string): string {
  return `${storeDirs.layer(paths, diffId)}.json`;
}

export function readLayerRecord(paths: PilotPaths, diffId: string): StoredLayerRecord | undefined {
  try {
    return JSON.parse(readFileSync(layerRecordPath(paths, diffId), 'utf8')) as StoredLayerRecord;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}
