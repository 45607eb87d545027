/**
 * The launcher's caches (host layers under the store, fast plans under the run
 * dir) as `ps`, `stop`, `gc` and `doctor` see them.
 */
import { lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf } from '../core/errors.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { listPlans } from './fast-plan.js';

/** Host layers that a fresh plan or a mounted instance still uses. */
function hostLayersInUse(paths: PilotPaths): Set<string> {
  const used = new Set<string>();
  for (const plan of listPlans(paths.run)) {
    if (plan.stale) continue;
    for (const lower of plan.lowers) if (lower.startsWith('host/')) used.add(lower.slice(5));
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    for (const match of line.matchAll(/host\/([a-f0-9]{64})/g)) used.add(match[1]!);
  }
  return used;
}

/** Bytes that deleting the tree frees: hard links to host files free nothing. */
function freedBytes(dir: string): number {
  let total = 0;
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isDirectory()) {
      total += stat.blocks * 512;
      for (const entry of readdirSync(path)) walk(join(path, entry));
    } else if (stat.nlink === 1) {
      total += stat.blocks * 512;
    }
  };
  try {
    walk(dir);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
  return total;
}

/**
 * Deletes host layers nothing uses (they are rebuilt on the next launch that
 * needs them) and stale plans. Hard links cost no space beyond their directories,
 * so the bytes freed are mostly those of copied files.
 */
export function collectLauncherCaches(paths: PilotPaths): {
  hostLayers: string[];
  plans: string[];
  bytesFreed: number;
} {
  const stalePlans = listPlans(paths.run).filter((p) => p.stale);
  for (const plan of stalePlans) rmSync(plan.file, { force: true });
  const used = hostLayersInUse(paths);
  const dir = storeDirs.hostLayers(paths);
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
  const removed: string[] = [];
  let bytesFreed = 0;
  for (const entry of entries) {
    if (used.has(entry)) continue;
    // Staging dirs of a killed launcher are named `.<key>.tmp-<pid>-<time>`.
    const path = join(dir, entry);
    bytesFreed += freedBytes(path);
    rmSync(path, { recursive: true, force: true });
    removed.push(entry);
  }
  return { hostLayers: removed, plans: stalePlans.map((p) => p.file), bytesFreed };
}
