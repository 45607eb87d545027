/**
 * A layer's record, `layers/<hex>.json`. Apart from layers.ts (which imports the
 * extractor) so that the store conversion, which every CLI command may run, reads it
 * without loading the extractor.
 */
import { readFileSync } from 'node:fs';
import { debugStep } from '../core/debug.js';
import { errnoOf, PilotError } from '../core/errors.js';
import type { LayerRecord } from '../core/image-record.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import type { OriginalEntry } from './extract/canonical.js';
import { readOverlayXattrs } from './layer-manifest-scan.js';

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

/** An overlay xattr that makes a directory opaque (`y`; `x` only marks whiteouts inside). */
const OPAQUE_XATTR = /^(trusted|user)\.overlay\.opaque=0x79$/;

/**
 * The directories of an extracted tree that carry an opaque xattr, as absolute in-image
 * paths, sorted: for a record written without the list (an earlier pilot's, or one
 * rebuilt from the tree). One getfattr run over the tree (Node has no xattr call).
 */
export function opaqueDirsOfTree(dir: string): string[] {
  const found: string[] = [];
  for (const [path, xattrs] of readOverlayXattrs(dir)) {
    if (xattrs.split(';').some((xattr) => OPAQUE_XATTR.test(xattr))) {
      found.push(path === '.' ? '/' : `/${path}`);
    }
  }
  return found.sort();
}

/**
 * The opaque directories of a layer: from its record, which lists them since extraction
 * found them; a record without the list (the store format conversion adds it, but a
 * caller who may not convert the store can meet one) is completed from the tree. Where
 * the tree cannot be read either, none: placement then looks through them, as the kernel
 * would not, and the debug log says so.
 */
export function layerOpaqueDirs(
  paths: PilotPaths,
  diffId: string,
  record: LayerRecord | undefined = readLayerRecord(paths, diffId),
): string[] {
  if (Array.isArray(record?.opaqueDirs)) return record.opaqueDirs;
  try {
    return opaqueDirsOfTree(storeDirs.layer(paths, diffId));
  } catch (error) {
    if (!(error instanceof PilotError)) throw error;
    debugStep(`opaque dirs of layer ${diffId} unknown: ${error.message}`);
    return [];
  }
}
