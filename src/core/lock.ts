/**
 * An exclusive claim on a name, by hard-linking a complete claim file into place. The
 * file holds its owner (pid and process start time); a claim whose owner is dead
 * (kill -9) is stale and is taken over, so a crash never blocks the next call.
 */
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { errnoOf, PilotError } from './errors.js';
import { faultPoint } from './fault.js';
import { readTextIfPresent } from './fs-query.js';
import { makeDirs, setFileMode } from './modes.js';
import { formatOwner, isOwnerAlive, type Owner, parseOwner } from './owner.js';
import { withPath } from './system-error.js';
import { sweepBeforeWrite, tempSibling } from './temp-entries.js';

export interface Lock {
  release(): void;
}

/**
 * The claim file appears with its owner already in it (written to a temp file, then
 * hard-linked into place, which fails if the name exists): a claim that were created
 * empty and filled afterwards would look stale to a racing reader, who would delete it.
 */
function tryClaim(path: string): boolean {
  const temp = tempSibling(path, 'claim');
  const fd = openSync(temp, 'wx', 0o644);
  try {
    setFileMode(fd, 0o644);
    writeSync(fd, `${formatOwner()}\n`);
  } catch (error) {
    // A full disk: the half-written claim goes, and the error says where.
    closeSync(fd);
    rmSync(temp, { force: true });
    throw withPath(error, path);
  }
  closeSync(fd);
  try {
    faultPoint(`claim ${path}`);
    linkSync(temp, path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Removes a dead claim safely against a racing taker: move it aside (one of two racing
 * takers wins the rename), check that what moved is the dead claim that was read, and
 * put back a live claim that a racer had put there meanwhile.
 */
function takeOver(path: string, deadClaim: string): void {
  const aside = tempSibling(path, 'stale');
  try {
    renameSync(path, aside);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  if (readFileSync(aside, 'utf8') !== deadClaim) {
    try {
      linkSync(aside, path);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
  }
  rmSync(aside, { force: true });
}

/**
 * The live owner of a claim, or undefined when nobody holds it. A dead owner's claim
 * (or one that names no owner: claims appear complete, so that is damage) is removed
 * on the way; gc's sweep and a load's look at the gc lock use this.
 */
export function claimHolder(path: string): Owner | undefined {
  const text = readTextIfPresent(path);
  if (text === undefined) return undefined;
  const owner = parseOwner(text);
  if (owner !== undefined && isOwnerAlive(owner)) return owner;
  takeOver(path, text);
  return undefined;
}

/**
 * For gc's sweep: removes the claim at `path` when it names an owner that is dead.
 * A file that does not read as a claim is left alone (it may not be pilot's).
 */
export function removeDeadClaim(path: string): boolean {
  const text = readTextIfPresent(path);
  const owner = text === undefined ? undefined : parseOwner(text);
  if (owner === undefined || isOwnerAlive(owner)) return false;
  takeOver(path, text!);
  return true;
}

/** Claims `path` or throws PILOT_BUSY naming what holds it. `what` names the thing for the message. */
export function claimLock(path: string, what: string): Lock {
  // The flakes dir is made here by a first `register`: 0755 whatever the umask.
  makeDirs(dirname(path));
  sweepBeforeWrite(dirname(path));
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryClaim(path)) {
      return {
        release: () => {
          faultPoint(`release ${path}`);
          rmSync(path, { force: true });
        },
      };
    }
    const holder = claimHolder(path);
    if (holder !== undefined) {
      throw new PilotError('PILOT_BUSY', `${what} is busy: process ${holder.pid} holds ${path}`, {
        hint: 'wait for it to finish and try again',
      });
    }
  }
  throw new PilotError('PILOT_BUSY', `${what} is busy: could not claim ${path}`, {
    hint: 'try again',
  });
}

/** Waits (polling) until the claim succeeds or `timeoutMs` passes. */
export async function waitForLock(
  path: string,
  what: string,
  timeoutMs: number,
  pollMs = 20,
): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      return claimLock(path, what);
    } catch (error) {
      if (!(error instanceof PilotError) || error.code !== 'PILOT_BUSY' || Date.now() > deadline)
        throw error;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}
