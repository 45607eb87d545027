/**
 * `pilot gc`: images no name and no app uses, then layers no image uses, then the
 * launcher's unused caches, then what dead pilot processes left behind anywhere pilot
 * writes (temp entries and claims), all under the gc lock. A layer, host layer or
 * include extraction that a running process uses stays (the kernel says which:
 * src/runtime/in-use.ts). Returns what it removed; the CLI prints it.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type AppEntry, loadApps, pinnedIds } from '../core/app-registry.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { listDir } from '../core/list-dir.js';
import { removeDeadClaim } from '../core/lock.js';
import { hostPath, type PilotPaths, storeDirs } from '../core/paths.js';
import { explainSystemError } from '../core/system-error.js';
import { type LegacyNames, sweepDeadTemps } from '../core/temp-entries.js';
import { collectLauncherCaches } from '../runtime/caches.js';
import { storeUsage } from '../runtime/in-use.js';
import { deleteUnusedImages, type GarbageResult, readAllImages } from '../store/images.js';
import { withGcLock } from '../store/temp.js';

export interface GcResult extends GarbageResult {
  hostLayers: string[];
  plans: string[];
  /** Temp entries and claims of dead pilot processes that were removed (full paths). */
  leftovers: string[];
  /**
   * Apps whose flakes cannot be read: which images they pin is unknown, so every image
   * without a name was kept (named ones always are); the rest of gc went on.
   */
  unreadable: string[];
  /** Leftovers gc could not remove, each "PATH: why" (the CLI warns and exits 1). */
  failed: string[];
}

export async function runGc(paths: PilotPaths): Promise<GcResult> {
  const apps = loadApps(paths);
  const owner = storeOwner(paths);
  // No store yet: nothing to lock or keep, but the run and flakes dirs may hold leftovers.
  if (owner === undefined) return collect(paths, apps, undefined);
  const refusal = gcRefusal(paths, owner, process.getuid?.() ?? 0);
  if (refusal !== undefined) throw refusal;
  // What is in use is read under the lock, so that loads (which wait for it) cannot
  // make a layer current again between the look and the delete.
  return withGcLock(paths, () => collect(paths, apps, storeUsage(paths.store).entries));
}

/**
 * Why `uid` may not collect a store that `owner` owns, or undefined when it may: only
 * root sees what other users' processes hold open (src/runtime/in-use.ts), so anyone
 * else could delete a layer a running app of the owner uses.
 */
export function gcRefusal(paths: PilotPaths, owner: number, uid: number): PilotError | undefined {
  if (uid === 0 || owner === uid) return undefined;
  return new PilotError(
    'PILOT_NEEDS_PRIVILEGE',
    `the store ${paths.store} belongs to uid ${owner}: only root can see what its apps use`,
    { hint: 'run "pilot gc" as root' },
  );
}

function storeOwner(paths: PilotPaths): number | undefined {
  try {
    return statSync(paths.store).uid;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** The whole of gc; `inUse` is undefined when there is no store. */
function collect(
  paths: PilotPaths,
  apps: AppEntry[],
  inUse: ReadonlySet<string> | undefined,
): GcResult {
  const unreadable = apps.filter((entry) => !entry.ok).map((entry) => entry.app);
  // A broken flake may pin an image that has no name any more: keep them all.
  const keep =
    unreadable.length > 0 ? readAllImages(paths).map((image) => image.id) : apps.flatMap(pinnedIds);
  const store = inUse
    ? deleteUnusedImages(paths, new Set(keep), inUse)
    : { images: [], layers: [], bytesFreed: 0 };
  const caches = collectLauncherCaches(paths, inUse ?? new Set());
  const failed: string[] = [];
  return {
    ...store,
    hostLayers: caches.hostLayers,
    plans: caches.plans,
    bytesFreed: store.bytesFreed + caches.bytesFreed,
    leftovers: sweepLeftovers(paths, apps, failed),
    unreadable,
    failed,
  };
}

/** Directories only pilot writes: leftovers named the way earlier versions did count too. */
function ownDirectories(paths: PilotPaths): string[] {
  const dirs = [
    paths.store,
    storeDirs.layers(paths),
    storeDirs.aliases(paths),
    storeDirs.blobs(paths),
    storeDirs.images(paths),
    storeDirs.refs(paths),
    storeDirs.hostLayers(paths),
    join(paths.store, 'includes'),
    join(paths.store, 'includes/by-path'),
    storeDirs.instances(paths),
    paths.run,
    join(paths.run, 'plans'),
    join(paths.run, 'flakes'),
    join(paths.run, 'includes'),
    join(paths.run, 'includes/.tmp'),
    join(paths.run, 'host-requirements'),
    join(paths.run, 'instances'),
  ];
  for (const id of listDir(join(paths.run, 'instances'))) {
    dirs.push(join(paths.run, 'instances', id), join(paths.run, 'instances', id, 'pids'));
  }
  return dirs;
}

/**
 * Directories pilot shares with others (the flakes dir, which flake-pilot uses too, and
 * the directories of the app links, e.g. /usr/bin): only pilot's current temp names.
 */
function sharedDirectories(paths: PilotPaths, apps: AppEntry[]): string[] {
  const dirs = new Set([paths.flakes]);
  for (const entry of apps) {
    dirs.add(join(paths.flakes, `${entry.app}.d`));
    const appPath = entry.ok ? entry.flake.container.host_app_path : undefined;
    if (appPath) dirs.add(dirname(hostPath(paths, appPath)));
  }
  return [...dirs];
}

/** Temp entries of dead writers and claims of dead owners, wherever pilot writes. */
export function sweepLeftovers(
  paths: PilotPaths,
  apps: AppEntry[],
  failed: string[] = [],
): string[] {
  const removed: string[] = [];
  const onFailure = (path: string, error: unknown) => {
    const why = explainSystemError(error);
    failed.push(`${path}: ${why instanceof Error ? why.message : String(why)}`);
  };
  const sweep = (dir: string, legacy: LegacyNames) => {
    for (const name of sweepDeadTemps(dir, { legacy, onFailure })) removed.push(join(dir, name));
  };
  for (const dir of ownDirectories(paths)) sweep(dir, 'own');
  for (const dir of sharedDirectories(paths, apps)) {
    try {
      sweep(dir, false);
    } catch (error) {
      // A drop-in "dir" that is no directory (a FIFO) is its app's error: list shows it.
      if (errnoOf(error) !== 'ENOTDIR') throw error;
    }
  }
  // Registration claims `.<app>.lock` and instance claims `instances/<id>/lock`.
  const claims = listDir(paths.flakes)
    .filter((name) => /^\..+\.lock$/.test(name))
    .map((name) => join(paths.flakes, name));
  for (const id of listDir(join(paths.run, 'instances')))
    claims.push(join(paths.run, 'instances', id, 'lock'));
  for (const claim of claims) if (removeDeadClaim(claim)) removed.push(claim);
  return removed;
}
