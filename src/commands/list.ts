/**
 * `pilot list` (and flake-ctl's `list`): reads the registered apps and makes pilot's
 * own records or flake-ctl's (flake-list.ts shapes each; the CLI prints them).
 */
import { loadApps } from '../core/app-registry.js';
import type { PilotPaths } from '../core/paths.js';
import {
  type FlakeRecord,
  flakeRecord,
  isBehind,
  type PilotListEntry,
  pilotListEntry,
} from './flake-list.js';

/** pilot's own records: `list --json`, and its table. */
export function listPilotApps(paths: PilotPaths): PilotListEntry[] {
  return loadApps(paths).map((entry) => pilotListEntry(paths, entry));
}

/**
 * flake-ctl's records (`--format table|json|csv`). `markBehind`: pilot's own `list
 * --format` adds "behind"; run as flake-ctl, the records stay upstream's to the byte.
 */
export function listFlakeRecords(paths: PilotPaths, markBehind: boolean): FlakeRecord[] {
  return loadApps(paths).map((entry) => {
    const record = flakeRecord(paths.flakes, entry);
    if (markBehind) record.behind = isBehind(paths, entry);
    return record;
  });
}
