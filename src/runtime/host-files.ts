/**
 * Which host files an app needs, and why: the `/removed` lists of its base,
 * layers and delta (KIWI's record of what the delta build removed because the
 * host provides it). Each entry names its source so that `pilot check` and
 * error messages can say where a requirement comes from.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Flake } from '../core/flake-file.js';
import type { ImageRecord, LayerRecord } from '../core/image-record.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { parseRemovedFile } from '../core/removed-file.js';
import { LayeredTree, type TreeLayer } from './image-tree.js';
import type { PlanImages } from './launch-plan.js';

export interface HostFileRequest {
  /** Absolute host path (normalized, no `..`). */
  path: string;
  /** Where the requirement comes from, for messages: e.g. "/removed of image 1a2b3c4d5e6f". */
  source: string;
}

function readLayerRecord(paths: PilotPaths, diffId: string): LayerRecord | undefined {
  try {
    return JSON.parse(
      readFileSync(join(storeDirs.layers(paths), `${digestHex(diffId)}.json`), 'utf8'),
    ) as LayerRecord;
  } catch {
    return undefined;
  }
}

export function treeLayers(paths: PilotPaths, diffIds: readonly string[]): TreeLayer[] {
  return diffIds.map((diffId) => {
    const record = readLayerRecord(paths, diffId) as
      | (LayerRecord & { opaqueDirs?: string[] })
      | undefined;
    return { dir: storeDirs.layer(paths, diffId), opaqueDirs: record?.opaqueDirs ?? [] };
  });
}

/** Every image of the app, bottom first: base, layers, then the delta. */
export function imagesBottomFirst(images: PlanImages): ImageRecord[] {
  const ordered: ImageRecord[] = [];
  if (images.base) ordered.push(images.base);
  ordered.push(...images.layers, images.top);
  return ordered;
}

/**
 * The merged `/removed` lists of base, layers and delta (each image's own layers
 * only), first source of a path wins. As in flake-pilot, an app without a base
 * gets its `/removed` provisioned only with `check_host_dependencies: true`.
 */
export function collectHostFiles(
  paths: PilotPaths,
  flake: Flake,
  images: PlanImages,
): HostFileRequest[] {
  if (!images.base && !flake.container.check_host_dependencies) return [];
  const seen = new Map<string, HostFileRequest>();
  for (const image of imagesBottomFirst(images)) {
    const tree = new LayeredTree(treeLayers(paths, [...image.layers].reverse()));
    const entry = tree.lookup('/removed');
    if (!entry || !entry.stat.isFile()) continue;
    const source = `/removed of image ${image.id.slice(7, 19)}`;
    for (const path of parseRemovedFile(
      readFileSync(join(entry.layer, 'removed'), 'utf8'),
      source,
    )) {
      if (!seen.has(path)) seen.set(path, { path, source });
    }
  }
  return [...seen.values()];
}
