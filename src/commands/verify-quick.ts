/**
 * The quick form of `pilot verify` that `pilot doctor` runs: every image record and name
 * readable, every layer an image uses present with its record and a whole manifest (its
 * end line read, not the files it lists). No file is hashed and nothing is written, so
 * doctor stays read-only and fast; `pilot verify` reads the trees.
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf } from '../core/errors.js';
import { readTextIfPresent } from '../core/fs-query.js';
import { listRefs } from '../core/image-record.js';
import { listDir } from '../core/list-dir.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { layerManifestPath, layerRecordPath } from '../store/layer-record.js';
import type { DoctorCheck } from './doctor-check.js';

/** The last bytes of a file (enough for a manifest's end line), or undefined when absent. */
function readTail(path: string, bytes: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    return buffer.toString();
  } finally {
    closeSync(fd);
  }
}

/** The JSON in `path`: undefined when there is no file, null when it is not JSON. */
function readJson(path: string): unknown {
  const text = readTextIfPresent(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** What is visibly wrong with the store, one line per finding (empty: nothing seen). */
export function quickStoreProblems(paths: PilotPaths): string[] {
  const problems: string[] = [];
  const used = new Map<string, string>();
  const ids = new Set<string>();
  for (const file of listDir(storeDirs.images(paths))) {
    const match = /^([a-f0-9]{64})\.json$/.exec(file);
    if (!match) continue;
    const record = readJson(join(storeDirs.images(paths), file)) as {
      id?: unknown;
      layers?: unknown;
    };
    if (record === undefined) continue;
    ids.add(`sha256:${match[1]}`);
    if (!record || record.id !== `sha256:${match[1]}` || !Array.isArray(record.layers)) {
      problems.push(`image record images/${file} is damaged`);
      continue;
    }
    for (const diffId of record.layers)
      used.set(String(diffId), `sha256:${match[1]!.slice(0, 12)}`);
  }
  for (const [name, id] of listRefs(paths)) {
    if (!ids.has(id)) problems.push(`name ${name} points at an image record the store lacks`);
  }
  for (const [diffId, image] of used) {
    let hex: string;
    try {
      hex = digestHex(diffId);
    } catch {
      problems.push(`image ${image} names an invalid layer ${diffId.slice(0, 80)}`);
      continue;
    }
    const label = `layer sha256:${hex.slice(0, 12)} (image ${image})`;
    try {
      if (!lstatSync(storeDirs.layer(paths, diffId)).isDirectory()) {
        problems.push(`${label} is not a directory`);
        continue;
      }
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
      problems.push(`${label} is missing`);
      continue;
    }
    const record = readJson(layerRecordPath(paths, diffId)) as { diffId?: unknown } | undefined;
    if (record === undefined) problems.push(`${label} has no record`);
    else if (record === null || record.diffId !== diffId) problems.push(`${label}: record damaged`);
    const tail = readTail(layerManifestPath(paths, diffId), 120);
    if (tail === undefined)
      problems.push(`${label} has no manifest (extracted by an earlier pilot)`);
    else if (!/\nend \d+ sha256:[a-f0-9]{64}\n$/.test(tail)) {
      problems.push(`${label}: manifest truncated`);
    }
  }
  return problems;
}

/** doctor's check: a warning (never a failure: the host can still run pilot). */
export function checkStoreQuick(paths: PilotPaths): DoctorCheck {
  let problems: string[];
  try {
    problems = quickStoreProblems(paths);
  } catch (error) {
    problems = [`cannot read the store: ${(error as Error).message}`];
  }
  const shown = problems.slice(0, 3).join('; ');
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
  return {
    check: 'store integrity',
    status: problems.length === 0 ? 'ok' : 'warn',
    required: false,
    detail:
      problems.length === 0
        ? 'image records, names, layer directories, records and manifests present (files not hashed: "pilot verify" reads them)'
        : `${shown}${more}`,
    fix:
      problems.length === 0
        ? null
        : 'run "pilot verify" for the full report, then "pilot verify --repair"',
  };
}
