/**
 * The launcher's caches (host layers under the store, fast plans under the run
 * dir) as `ps`, `stop`, `gc` and `doctor` see them.
 */
import { lstatSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fsyncDir } from '../core/durable.js';
import { faultPoint } from '../core/fault.js';
import { listDir } from '../core/list-dir.js';
import type { PilotPaths } from '../core/paths.js';
import { removeTree, sweepDeadTemps, tempEntryOwner, tempSibling } from '../core/temp-entries.js';
import { treeSize } from '../core/tree-size.js';
import { listAllPlans, listPlans } from './fast-plan.js';
import { storeEntryOf } from './in-use.js';

/**
 * Whether gc may go by a plan: only one that root or the caller itself wrote (and nobody
 * else can change). The plans dir is shared: another user's plan must not keep caches.
 */
function isTrustedPlan(file: string): boolean {
  try {
    const stat = statSync(file);
    return (stat.uid === 0 || stat.uid === process.getuid?.()) && (stat.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Store-relative cache dirs (`host/<key>`, `includes/<hex>`) to keep: those running
 * processes use (`inUse`, from the kernel: src/runtime/in-use.ts) and those a fresh,
 * trusted plan names, so that the warm path stays warm and a stub between its stamp
 * check and its mount does not lose its layer.
 */
function cachesToKeep(paths: PilotPaths, inUse: ReadonlySet<string>): Set<string> {
  const keep = new Set(inUse);
  for (const plan of listAllPlans(paths)) {
    if (plan.stale || !isTrustedPlan(plan.file)) continue;
    for (const lower of plan.lowers) {
      const entry = storeEntryOf(paths.store, lower);
      if (entry) keep.add(entry);
    }
  }
  return keep;
}

function isYoungerThan(path: string, ms: number): boolean {
  try {
    return Date.now() - lstatSync(path).mtimeMs < ms;
  } catch {
    return true;
  }
}

/**
 * Deletes host layers nothing uses (they are rebuilt on the next launch that
 * needs them) and stale plans; the caller holds the gc lock. Hard links cost no
 * space beyond their directories, so the bytes freed are mostly those of copied files.
 */
export function collectLauncherCaches(
  paths: PilotPaths,
  inUse: ReadonlySet<string>,
  options: {
    /** Keep cache dirs younger than this (a launch may be about to mount them). */
    minAgeMs?: number;
    kinds?: readonly string[];
    /** Drop the host package resolution cache too (gc: yes). */
    requirements?: boolean;
  } = {},
): {
  hostLayers: string[];
  plans: string[];
  bytesFreed: number;
} {
  // A launch or a register killed while it wrote a plan or an account file left its temp file.
  for (const dir of [
    join(paths.store, 'plans'),
    join(paths.run, 'plans'),
    join(paths.run, 'session'),
  ])
    sweepDeadTemps(dir);
  const stalePlans = listAllPlans(paths).filter((p) => p.stale);
  for (const plan of stalePlans) rmSync(plan.file, { force: true });
  const used = cachesToKeep(paths, inUse);
  const removed: string[] = [];
  let bytesFreed = 0;
  // Host layers and extracted include tars are rebuilt by the next launch that needs
  // them. Staging dirs are temp entries: a live launcher's stay, a dead one's go with
  // gc's sweep of leftovers. `includes/by-path/` is the tars' digest index, not a cache
  // dir: an entry whose extraction is gone is ignored by its reader.
  for (const kind of options.kinds ?? ['host', 'includes']) {
    const dir = join(paths.store, kind);
    for (const entry of listDir(dir)) {
      if (!/^[a-f0-9]{64}$/.test(entry) || used.has(`${kind}/${entry}`)) continue;
      const path = join(dir, entry);
      if (options.minAgeMs !== undefined && isYoungerThan(path, options.minAgeMs)) continue;
      bytesFreed += treeSize(path, 'freed');
      removeCacheDir(path);
      removed.push(`${kind}/${entry}`);
    }
  }
  removeUnusedSessionFiles(paths.run, Math.max(options.minAgeMs ?? 0, SESSION_MIN_AGE_MS));
  // The host package resolution cache is keyed by the dpkg database; it refills itself.
  // Entry by entry, not the dir: a launch may be writing its entry right now (a live
  // writer's temp entry stays; a dead one's goes with gc's sweep of leftovers).
  if (options.requirements !== false) {
    const dir = join(paths.run, 'host-requirements');
    for (const entry of listDir(dir)) {
      if (tempEntryOwner(entry) === undefined) rmSync(join(dir, entry), { force: true });
    }
  }
  return { hostLayers: removed, plans: stalePlans.map((p) => p.file), bytesFreed };
}

/**
 * Deletes a host layer or include extraction: its name goes first, in one step (a rename
 * to a temp entry, synced), then its files. A launch takes a `host/<key>` that exists as
 * whole; deleted in place, a kill or power cut half way would leave part of it under the
 * name the next plan of that key takes. A kill after the rename leaves a dead temp entry,
 * which the next writer there or gc sweeps.
 */
function removeCacheDir(path: string): void {
  const trash = tempSibling(path, 'trash');
  faultPoint(`rename ${path} to trash`);
  renameSync(path, trash);
  fsyncDir(dirname(path));
  removeTree(trash);
}

/** A launch writes its account files before its plan: younger ones may be about to be named. */
const SESSION_MIN_AGE_MS = 120_000;

/**
 * The generated passwd/group files (`<run>/session/`, launch-options.ts) that no plan in
 * the run dir names go: a launch writes a new one when an image or host account changes.
 */
function removeUnusedSessionFiles(run: string, minAgeMs: number): void {
  const dir = join(run, 'session');
  const named = new Set(listPlans(run).flatMap((plan) => plan.sessionFiles));
  for (const entry of listDir(dir)) {
    const path = join(dir, entry);
    if (named.has(path) || isYoungerThan(path, minAgeMs)) continue;
    rmSync(path, { force: true });
  }
}

/**
 * After a launch built a new host layer (a host file changed: a package upgrade, a
 * rotated key), the ones nothing uses go at once rather than at the next gc: a hard
 * link keeps a replaced host file's old content alive. `keep` are the dirs this launch
 * is about to mount; a layer built in the last minutes may be another launch's that
 * has not mounted yet, and stays for gc. Best effort: a busy store skips it.
 */
export async function pruneAfterHostLayerBuild(
  paths: PilotPaths,
  keep: readonly string[],
): Promise<string[]> {
  const { withGcLock } = await import('../store/temp.js');
  const { storeUsage } = await import('./in-use.js');
  try {
    return await withGcLock(
      paths,
      () => {
        const inUse = new Set([...storeUsage(paths.store).entries, ...keep]);
        return collectLauncherCaches(paths, inUse, {
          minAgeMs: 120_000,
          kinds: ['host'],
          requirements: false,
        }).hostLayers;
      },
      { timeoutMs: 0 },
    );
  } catch {
    return [];
  }
}
