/**
 * The launcher's caches (host layers under the store, fast plans under the run
 * dir) as `ps`, `stop`, `gc` and `doctor` see them.
 */
import { lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf } from '../core/errors.js';
import { listDir } from '../core/list-dir.js';
import type { PilotPaths } from '../core/paths.js';
import { tempEntryOwner } from '../core/temp-entries.js';
import { listPlans } from './fast-plan.js';

/** Store-relative cache dirs (`host/<key>`, `includes/<hex>`) a fresh plan or a mounted instance uses. */
function cachesInUse(paths: PilotPaths): Set<string> {
  const used = new Set<string>();
  for (const plan of listPlans(paths.run)) {
    if (!plan.stale) for (const lower of plan.lowers) used.add(lower);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    for (const match of line.matchAll(/(host|includes)\/([a-f0-9]{64})/g))
      used.add(`${match[1]}/${match[2]}`);
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
  const used = cachesInUse(paths);
  const removed: string[] = [];
  let bytesFreed = 0;
  // Host layers and extracted include tars are rebuilt by the next launch that needs
  // them. Staging dirs are temp entries: a live launcher's stay, a dead one's go with
  // gc's sweep of leftovers.
  for (const kind of ['host', 'includes']) {
    const dir = join(paths.store, kind);
    for (const entry of listDir(dir)) {
      if (used.has(`${kind}/${entry}`) || tempEntryOwner(entry, 'own')) continue;
      const path = join(dir, entry);
      bytesFreed += freedBytes(path);
      rmSync(path, { recursive: true, force: true });
      removed.push(`${kind}/${entry}`);
    }
  }
  // The host package resolution cache is keyed by the dpkg database; it refills itself.
  rmSync(join(paths.run, 'host-requirements'), { recursive: true, force: true });
  return { hostLayers: removed, plans: stalePlans.map((p) => p.file), bytesFreed };
}
