/**
 * An exclusive claim on a name, by O_EXCL file creation. The file holds the
 * owner's pid; a claim whose owner is dead (kill -9) is stale and is taken over,
 * so a crash never blocks the next call.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { errnoOf, PilotError } from './errors.js';

/** Whether a process exists (EPERM: it does, but belongs to someone else). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

export interface Lock {
  release(): void;
}

function tryClaim(path: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o644);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw error;
  }
}

/** Claims `path` or throws PILOT_BUSY naming what holds it. `what` names the thing for the message. */
export function claimLock(path: string, what: string): Lock {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryClaim(path)) return { release: () => rmSync(path, { force: true }) };
    let owner = Number.NaN;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') continue;
      throw error;
    }
    if (isPidAlive(owner)) {
      throw new PilotError('PILOT_BUSY', `${what} is busy: process ${owner} holds ${path}`, {
        hint: 'wait for it to finish and try again',
      });
    }
    // Stale: its owner died. Remove and retry the O_EXCL claim, so that two
    // processes taking over at once still end with one owner.
    rmSync(path, { force: true });
  }
  throw new PilotError('PILOT_BUSY', `${what} is busy: could not claim ${path}`, {
    hint: 'try again',
  });
}

/** Waits (polling) until the claim succeeds or `timeoutMs` passes. */
export async function waitForLock(path: string, what: string, timeoutMs: number): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      return claimLock(path, what);
    } catch (error) {
      if (!(error instanceof PilotError) || error.code !== 'PILOT_BUSY' || Date.now() > deadline)
        throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
