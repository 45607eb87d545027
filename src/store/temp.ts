/**
 * Scratch space inside the store and the one coordination rule between loads and gc.
 *
 * Every entry of `tmp/` is a temp entry (src/core/temp-entries.ts): its name carries
 * the writer's pid and start time, so a later run sees that the writer died (kill -9)
 * and removes what it left, without any lock file and without guessing from its age.
 *
 * Loads never need a lock against each other (content addressing + rename suffice), but
 * gc must not delete a layer that a running load has just found present and is about to
 * reference. So a load announces itself with its `load` temp dir before it looks at the
 * store, and gc claims `gc.lock` before it looks for announced loads: whichever comes
 * second sees the other. A load that sees gc backs off (withdraws its announcement and
 * waits), so the two never wait on each other.
 */

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PilotError } from '../core/errors.js';
import { listDir } from '../core/list-dir.js';
import { claimHolder, claimLock } from '../core/lock.js';
import { makeDirs, PRIVATE_DIR_MODE } from '../core/modes.js';
import { isOwnerAlive } from '../core/owner.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { sweepDeadTemps, tempEntryOwner, tempEntryTag, tempName } from '../core/temp-entries.js';

/** Creates a temp dir `tmp/.pilot-<purpose>-…` of this process (mkdir fails rather than reuse one). */
export function makeTempDir(paths: PilotPaths, purpose: string): string {
  const tmp = storeDirs.tmp(paths);
  makeDirs(tmp, PRIVATE_DIR_MODE);
  const dir = join(tmp, tempName(purpose));
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** Deletes the temp entries of dead writers (and of earlier pilot versions); returns their names. */
export function cleanStaleTemp(paths: PilotPaths): string[] {
  return sweepDeadTemps(storeDirs.tmp(paths), { legacy: 'tmp' });
}

function gcLockPath(paths: PilotPaths): string {
  return join(paths.store, 'gc.lock');
}

export interface WaitOptions {
  timeoutMs?: number;
  pollMs?: number;
}

/** Creates the load's temp dir once no gc runs; the dir is the load's announcement. */
export async function beginLoad(paths: PilotPaths, options: WaitOptions = {}): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60 * 1000);
  for (;;) {
    const dir = makeTempDir(paths, 'load');
    const holder = claimHolder(gcLockPath(paths));
    if (holder === undefined || holder.pid === process.pid) return dir;
    rmSync(dir, { recursive: true, force: true });
    if (Date.now() > deadline) {
      throw new PilotError(
        'PILOT_BUSY',
        `the store ${paths.store} is being cleaned by pid ${holder.pid}`,
        {
          hint: 'try again when "pilot gc" has finished',
        },
      );
    }
    await sleep(options.pollMs ?? 100);
  }
}

/** Runs `fn` holding the gc lock, once no load is running. */
export async function withGcLock<T>(
  paths: PilotPaths,
  fn: () => Promise<T> | T,
  options: WaitOptions = {},
): Promise<T> {
  makeDirs(paths.store);
  const lock = claimLock(gcLockPath(paths), 'garbage collection of the store');
  try {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60 * 1000);
    for (;;) {
      const loads = liveLoads(paths);
      if (loads.length === 0) break;
      if (Date.now() > deadline) {
        throw new PilotError('PILOT_BUSY', `image loads are running (pid ${loads.join(', ')})`, {
          hint: 'run "pilot gc" again when they have finished',
        });
      }
      await sleep(options.pollMs ?? 100);
    }
    return await fn();
  } finally {
    lock.release();
  }
}

function liveLoads(paths: PilotPaths): number[] {
  const pids = new Set<number>();
  for (const name of listDir(storeDirs.tmp(paths))) {
    const owner = tempEntryOwner(name);
    if (tempEntryTag(name) !== 'load' || owner === undefined) continue;
    if (owner.pid !== process.pid && isOwnerAlive(owner)) pids.add(owner.pid);
  }
  return [...pids];
}
