/**
 * An exclusive claim on a name, by O_EXCL file creation. The file holds the
 * owner's pid; a claim whose owner is dead (kill -9) is stale and is taken over,
 * so a crash never blocks the next call.
 */
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
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

/**
 * The claim file appears with its pid already in it (written to a temp file, then
 * hard-linked into place, which fails if the name exists): a claim that were created
 * empty and filled afterwards would look stale to a racing reader, who would delete it.
 */
function tryClaim(path: string): boolean {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const fd = openSync(temp, 'wx', 0o644);
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temp, { force: true });
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
    // Stale: its owner died. Move it aside (one of two racing takers wins the
    // rename), check that what moved is the dead claim we read, and retry the claim.
    // Had a racing taker already replaced it with a live claim, put that one back.
    const aside = `${path}.stale.${process.pid}`;
    try {
      renameSync(path, aside);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') continue;
      throw error;
    }
    const moved = Number.parseInt(readFileSync(aside, 'utf8'), 10);
    if (moved !== owner) {
      try {
        linkSync(aside, path);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error;
      }
    }
    rmSync(aside, { force: true });
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
