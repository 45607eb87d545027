/**
 * `pilot verify [--repair]`: every layer of the store read and compared with the
 * manifest recorded when it was extracted (src/store/layer-manifest.ts), every image
 * record and name checked, as `podman system check` and `ostree fsck` do for theirs.
 * Damage is reported per layer (corrupted, missing and extra files) and per image
 * (which images use a damaged layer); `--repair` (verify-repair.ts) restores what it can.
 *
 * A layer extracted by a pilot older than manifests has no record of its files: its
 * manifest is computed now (by the store's owner) and the report says it was not
 * checked against what was extracted; later runs check against it.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-fs.js';
import { errnoOf } from '../core/errors.js';
import { pathOwner, readTextIfPresent } from '../core/fs-query.js';
import { listRefs } from '../core/image-record.js';
import { listDir } from '../core/list-dir.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import {
  compareManifests,
  isClean,
  ManifestDamaged,
  type ManifestDifference,
  parseManifest,
  serializeManifest,
} from '../store/layer-manifest.js';
import { scanTree } from '../store/layer-manifest-scan.js';
import { layerManifestPath, layerRecordPath } from '../store/layer-record.js';
import type { RepairAction } from './verify-repair.js';

const HEX = /^[a-f0-9]{64}$/;

export interface LayerReport extends ManifestDifference {
  diffId: string;
  /** Names (or ids) of the images that use the layer. */
  images: string[];
  /** What is wrong with the layer itself (its directory, record or manifest). */
  problems: string[];
  /** Entries read (files, directories, links). */
  entries: number;
  bytes: number;
  /** Its manifest was computed by this run: nothing to compare it with (an older store). */
  baseline: boolean;
  damaged: boolean;
  /** Set by --repair: what was done, or what the user must do. */
  repair?: { done: boolean; detail: string };
}

export interface ImageReport {
  id: string;
  names: string[];
  problems: string[];
  damagedLayers: string[];
  damaged: boolean;
  repair?: { done: boolean; detail: string };
}

export interface VerifyReport {
  store: string;
  layers: LayerReport[];
  images: ImageReport[];
  damaged: boolean;
}

interface ImageEntry {
  id: string;
  names: string[];
  layers: string[] | undefined;
  problem: string | undefined;
}

function readImageEntries(paths: PilotPaths): ImageEntry[] {
  const names = new Map<string, string[]>();
  for (const [name, id] of listRefs(paths)) names.set(id, [...(names.get(id) ?? []), name]);
  const entries: ImageEntry[] = [];
  const seen = new Set<string>();
  for (const file of listDir(storeDirs.images(paths))) {
    const match = /^([a-f0-9]{64})\.json$/.exec(file);
    if (!match) continue;
    const id = `sha256:${match[1]}`;
    seen.add(id);
    let layers: string[] | undefined;
    let problem: string | undefined;
    try {
      const record = JSON.parse(readFileSync(join(storeDirs.images(paths), file), 'utf8'));
      layers = record?.layers;
      if (
        record?.id !== id ||
        !Array.isArray(layers) ||
        !layers.every((l) => typeof l === 'string' && HEX.test(l.slice(7)))
      ) {
        layers = undefined;
        problem = `image record images/${file} does not describe image ${id}`;
      }
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') continue; // removed by gc meanwhile
      problem = `image record images/${file} cannot be read: ${(error as Error).message}`;
    }
    entries.push({ id, names: (names.get(id) ?? []).sort(), layers, problem });
  }
  for (const [id, refNames] of names) {
    if (seen.has(id)) continue;
    entries.push({
      id,
      names: refNames.sort(),
      layers: undefined,
      problem: `the name${refNames.length > 1 ? 's' : ''} ${refNames.join(', ')} point${refNames.length > 1 ? '' : 's'} at an image record the store lacks`,
    });
  }
  return entries;
}

function isDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

/** Checks one layer: its directory, record and manifest, then every entry of its tree. */
export function verifyLayer(
  paths: PilotPaths,
  diffId: string,
  images: string[],
  writeBaseline: boolean,
): LayerReport {
  const report: LayerReport = {
    diffId,
    images,
    problems: [],
    corrupted: [],
    missing: [],
    extra: [],
    entries: 0,
    bytes: 0,
    baseline: false,
    damaged: false,
  };
  const recordText = readTextIfPresent(layerRecordPath(paths, diffId));
  if (recordText === undefined) report.problems.push('its record is missing');
  else {
    try {
      if (JSON.parse(recordText)?.diffId !== diffId)
        report.problems.push('its record names another layer');
    } catch {
      report.problems.push('its record is damaged (not JSON: truncated?)');
    }
  }
  const dir = storeDirs.layer(paths, diffId);
  if (!isDirectory(dir)) {
    report.problems.push('its directory is missing');
    report.damaged = true;
    return report;
  }
  const manifestText = readTextIfPresent(layerManifestPath(paths, diffId));
  let recorded: ReturnType<typeof parseManifest> | undefined;
  if (manifestText !== undefined) {
    try {
      recorded = parseManifest(manifestText);
    } catch (error) {
      if (!(error instanceof ManifestDamaged)) throw error;
      report.problems.push(`its manifest is damaged: ${error.message}`);
    }
  }
  let actual: ReturnType<typeof scanTree>;
  try {
    actual = scanTree(dir);
  } catch (error) {
    report.problems.push(`its tree cannot be read: ${(error as Error).message}`);
    report.damaged = true;
    return report;
  }
  report.entries = actual.length;
  report.bytes = actual.reduce((sum, entry) => sum + entry.size, 0);
  if (recorded) Object.assign(report, compareManifests(recorded, actual));
  else if (manifestText === undefined) {
    report.baseline = true;
    if (writeBaseline) {
      writeFileAtomic(layerManifestPath(paths, diffId), serializeManifest(actual));
    }
  }
  report.damaged = report.problems.length > 0 || !isClean(report);
  return report;
}

export interface VerifyOptions {
  /** Layers to check; default: every layer of the store. */
  only?: ReadonlySet<string>;
}

/** Reads the whole store; writes nothing but the manifests of layers that had none. */
export function verifyStore(paths: PilotPaths, options: VerifyOptions = {}): VerifyReport {
  const imageEntries = readImageEntries(paths);
  const users = new Map<string, string[]>();
  for (const image of imageEntries) {
    for (const diffId of new Set(image.layers ?? [])) {
      users.set(diffId, [...(users.get(diffId) ?? []), image.names[0] ?? image.id]);
    }
  }
  const diffIds = new Set(users.keys());
  for (const entry of listDir(storeDirs.layers(paths))) {
    if (HEX.test(entry)) diffIds.add(`sha256:${entry}`);
  }
  const owner = pathOwner(paths.store) === (process.geteuid?.() ?? 0);
  const layers = [...diffIds]
    .filter((diffId) => !options.only || options.only.has(diffId))
    .sort()
    .map((diffId) => verifyLayer(paths, diffId, users.get(diffId) ?? [], owner));
  const damagedLayers = new Set(layers.filter((l) => l.damaged).map((l) => l.diffId));
  const images = imageEntries
    .filter((image) => !options.only || image.layers?.some((l) => options.only!.has(l)))
    .map((image): ImageReport => {
      const bad = [...new Set(image.layers ?? [])].filter((l) => damagedLayers.has(l));
      const problems = image.problem !== undefined ? [image.problem] : [];
      return {
        id: image.id,
        names: image.names,
        problems,
        damagedLayers: bad,
        damaged: problems.length > 0 || bad.length > 0,
      };
    })
    .sort((a, b) => (a.names[0] ?? a.id).localeCompare(b.names[0] ?? b.id));
  return {
    store: paths.store,
    layers,
    images,
    damaged: layers.some((l) => l.damaged) || images.some((i) => i.damaged),
  };
}

export interface VerifyRun {
  /** What the first pass found. */
  found: VerifyReport;
  /** The store as it is now: after the repairs, checked again; else `found`. */
  report: VerifyReport;
  repairs: RepairAction[];
}

/**
 * `pilot verify [--repair [--from ARCHIVE]...]`: one pass; with `repair` and damage
 * found, the repairs (verify-repair.ts, loaded only then) and a second pass, whose
 * report is what remains.
 */
export async function verifyAndRepair(
  paths: PilotPaths,
  options: { repair: boolean; from: string[] },
): Promise<VerifyRun> {
  const found = verifyStore(paths);
  if (!options.repair || !found.damaged) return { found, report: found, repairs: [] };
  const { repairStore } = await import('./verify-repair.js');
  const repairs = await repairStore(paths, found, options.from);
  return { found, report: verifyStore(paths), repairs };
}
