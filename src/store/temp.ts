/**
 * Scratch space inside the store and the one coordination rule between loads and gc.
 *
 * Every temp entry is `tmp/<purpose>-<pid>-<random>`: the pid lets a later run see
 * that the owner died (kill -9) and clean up after it, without any lock file.
 *
 * Loads never need a lock against each other (content addressing + rename suffice), but
 * gc must not delete a layer that a running load has just found present and is about to
 * reference. So a load announces itself with its `load-` temp dir before it looks at the
 * store, and gc takes `gc.lock` (O_EXCL) before it looks for announced loads: whichever
 * comes second sees the other. A load that sees gc backs off (withdraws its announcement
 * and waits), so the two never wait on each other.
 */

import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf, PilotError } from '../core/errors.js';
import { listDir } from '../core/list-dir.js';
import { isPidAlive } from '../core/lock.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';

export const STALE_TEMP_MS = 60 * 60 * 1000;

const tempNamePattern = /^[a-z]+-(\d+)-[0-9a-f]+(?:\..*)?$/;

/** The pid a temp entry name carries, or undefined for a name pilot did not make. */
export function tempOwner(name: string): number | undefined {
  const match = tempNamePattern.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Creates `tmp/<purpose>-<pid>-<random>` (mkdir fails rather than reuse an entry). */
export function makeTempDir(paths: PilotPaths, purpose: string): string {
  const tmp = storeDirs.tmp(paths);
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const dir = join(tmp, `${purpose}-${process.pid}-${randomBytes(6).toString('hex')}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/**
 * Removes a tree even where the image made directories read-only for their owner
 * (an unprivileged store cannot otherwise unlink inside a 0555 directory).
 */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true, maxRetries: 2 });
    return;
  } catch (error) {
    if (errnoOf(error) !== 'EACCES' && errnoOf(error) !== 'EPERM') throw error;
  }
  makeWritable(path);
  rmSync(path, { recursive: true, force: true });
}

function makeWritable(path: string): void {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isDirectory()) return;
  try {
    chmodSync(path, 0o700);
  } catch {
    // Not ours to change: rm will report it.
  }
  for (const entry of readdirSync(path)) makeWritable(join(path, entry));
}

/**
 * Deletes temp entries whose owner is dead or that are older than an hour.
 * Returns the names removed. Renames first so that a concurrent cleaner skips them.
 */
export function cleanStaleTemp(paths: PilotPaths, maxAgeMs = STALE_TEMP_MS): string[] {
  const tmp = storeDirs.tmp(paths);
  const entries = listDir(tmp);
  const removed: string[] = [];
  const now = Date.now();
  for (const name of entries) {
    if (name.startsWith('.trash-')) {
      removeQuietly(join(tmp, name));
      continue;
    }
    const owner = tempOwner(name);
    if (owner === process.pid) continue;
    let old = false;
    try {
      old = now - lstatSync(join(tmp, name)).mtimeMs > maxAgeMs;
    } catch {
      continue;
    }
    if (owner !== undefined && isPidAlive(owner) && !old) continue;
    const trash = join(tmp, `.trash-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      renameSync(join(tmp, name), trash);
    } catch {
      continue; // another cleaner got it first
    }
    removeQuietly(trash);
    removed.push(name);
  }
  return removed;
}

function removeQuietly(path: string): void {
  try {
    removeTree(path);
  } catch {
    // Left for the next cleaner; a temp entry is never trusted by anyone.
  }
}

function gcLockPath(paths: PilotPaths): string {
  return join(paths.store, 'gc.lock');
}

/** The pid holding the gc lock, if it is alive. A dead holder's lock is removed. */
function liveGcHolder(paths: PilotPaths): number | undefined {
  let text: string;
  try {
    text = readFileSync(gcLockPath(paths), 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  if (pid === process.pid) return undefined;
  if (isPidAlive(pid)) return pid;
  // The holder died (or wrote nothing yet and died): take the lock away from it.
  // Re-read before removing so we do not delete a lock a live gc just re-created.
  try {
    if (readFileSync(gcLockPath(paths), 'utf8') === text) rmSync(gcLockPath(paths));
  } catch {
    // gone already
  }
  return undefined;
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
    const holder = liveGcHolder(paths);
    if (holder === undefined) return dir;
    rmSync(dir, { recursive: true, force: true });
    if (Date.now() > deadline) {
      throw new PilotError(
        'PILOT_BUSY',
        `the store ${paths.store} is being cleaned by pid ${holder}`,
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
  mkdirSync(paths.store, { recursive: true });
  const lock = gcLockPath(paths);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      break;
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST' || attempt > 3) throw error;
      const holder = liveGcHolder(paths);
      if (holder !== undefined) {
        throw new PilotError('PILOT_BUSY', `another "pilot gc" (pid ${holder}) is running`, {
          hint: 'wait for it to finish',
        });
      }
    }
  }
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
    rmSync(lock, { force: true });
  }
}

function liveLoads(paths: PilotPaths): number[] {
  const entries = listDir(storeDirs.tmp(paths));
  const pids = new Set<number>();
  for (const name of entries) {
    if (!name.startsWith('load-')) continue;
    const owner = tempOwner(name);
    if (owner !== undefined && owner !== process.pid && isPidAlive(owner)) pids.add(owner);
  }
  return [...pids];
}
