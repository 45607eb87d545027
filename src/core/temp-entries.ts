/**
 * Temp entries: the files, links and directories pilot stages beside (or under) what it
 * commits by rename. Every one is named `.pilot-<tag>-<pid>-<start>-<random>`:
 *
 * - the leading dot and fixed shape mean no reader of the directory takes it for an
 *   entry (refs, records, flakes, plans, app links are never dot-names), and nobody
 *   takes another program's file for pilot's;
 * - pid and process start time name the writer, so that an entry whose writer died
 *   (kill -9, power loss) is told apart from one being written right now, even after
 *   the pid was reused.
 *
 * Such leftovers are removed by the next pilot process that writes into the same
 * directory (once per process and directory) and by `pilot gc`, which walks every
 * directory pilot writes. Only names of this shape whose writer is dead are ever
 * removed. Node built-ins only: the launcher writes plans through this.
 */
import { renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { errnoOf } from './errors.js';
import { faultPoint } from './fault.js';
import { pathPresent } from './fs-query.js';
import { listDir } from './list-dir.js';
import { nodeCrypto } from './node-crypto.js';
import { isOwnerAlive, type Owner, selfOwner } from './owner.js';
import { removeTreeByWalk } from './tree-walk.js';

const TEMP_NAME = /^\.pilot-([a-z]+)-(\d+)-(\d*)-[0-9a-f]{8}$/;

/**
 * Names that pilot versions before the start-time format used, judged by pid alone and
 * recognised only inside pilot's own store and run directories (never in a shared one
 * such as /usr/bin): `.<name>.tmp-<pid>-<x>`, `.trash-<pid>-<x>`, claims' temps
 * `<lock>.<pid>.<x>` / `<lock>.stale.<pid>`; and, in the store's tmp/ only (elsewhere
 * an app or image could be named like that), `<purpose>-<pid>-<x>[.<y>]`.
 */
const LEGACY_NAMES = [
  /^\..+\.tmp-(\d+)-[0-9a-f]+$/,
  /^\.trash-(\d+)-[0-9a-f]+$/,
  /^.+\.lock\.(\d+)\.[0-9a-z]+$/,
  /^.+\.lock\.stale\.(\d+)$/,
];
const LEGACY_TMP_NAMES = [...LEGACY_NAMES, /^[a-z]+-(\d+)-[0-9a-f]+(?:\..*)?$/];

/** Which older names count: none (shared dirs), pilot's own dirs, or the store's tmp/. */
export type LegacyNames = false | 'own' | 'tmp';

/** A fresh temp name for this process. `tag` says what it is for (a-z only). */
export function tempName(tag: string): string {
  if (!/^[a-z]+$/.test(tag)) throw new Error(`temp tag must be a-z: ${tag}`);
  const owner = selfOwner();
  return `.pilot-${tag}-${owner.pid}-${owner.start}-${nodeCrypto().randomBytes(4).toString('hex')}`;
}

/** A temp name in the directory of `path`, for staging `path` and renaming it into place. */
export function tempSibling(path: string, tag = 'tmp'): string {
  return join(dirname(path), tempName(tag));
}

/** The writer of a temp entry, or undefined for a name that is not pilot's temp name. */
export function tempEntryOwner(name: string, legacy: LegacyNames = false): Owner | undefined {
  const match = TEMP_NAME.exec(name);
  if (match) return { pid: Number(match[2]), start: match[3]! };
  if (!legacy) return undefined;
  for (const pattern of legacy === 'tmp' ? LEGACY_TMP_NAMES : LEGACY_NAMES) {
    const old = pattern.exec(name);
    if (old) return { pid: Number(old[1]), start: '' };
  }
  return undefined;
}

/** The tag of a temp name (`load`, `host`, …), or undefined. */
export function tempEntryTag(name: string): string | undefined {
  return TEMP_NAME.exec(name)?.[1];
}

/**
 * Removes a tree pilot made, whatever is in it: Node's own removal first (fast), and
 * where that fails, entry by entry (tree-walk.ts): a tree deeper than PATH_MAX (an
 * image may hold a 4,000-byte path, below the store's own directory), or directories the
 * image made read-only for their owner (an unprivileged store cannot otherwise unlink
 * inside a 0555 directory). A tree that is gone already is fine.
 */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true, maxRetries: 2 });
    return;
  } catch {
    // ENAMETOOLONG, EACCES, or a stack too small for the depth: entry by entry below.
  }
  try {
    removeTreeByWalk(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' && !pathPresent(path)) return;
    throw error;
  }
}

export interface SweepOptions {
  /** Also remove leftovers named the way earlier pilot versions named them. */
  legacy?: LegacyNames;
  /** Told of each leftover that could not be removed (its path now, and why). */
  onFailure?: (path: string, error: unknown) => void;
}

/**
 * Removes the temp entries in `dir` whose writer is dead; returns their names. Each is
 * first renamed to a temp name of this process, so that of two sweepers one wins, and
 * a sweeper killed half way through a tree leaves a dead temp entry, not a half entry.
 */
export function sweepDeadTemps(dir: string, options: SweepOptions = {}): string[] {
  const removed: string[] = [];
  for (const name of listDir(dir)) {
    const owner = tempEntryOwner(name, options.legacy);
    if (owner === undefined || isOwnerAlive(owner)) continue;
    const mine = join(dir, tempName('trash'));
    try {
      renameSync(join(dir, name), mine);
    } catch {
      continue; // another sweeper took it, or it is not ours to move
    }
    faultPoint(`sweep ${join(dir, name)}`);
    try {
      removeTree(mine);
    } catch (error) {
      // Left under a temp name of ours: the next sweep after we exit tries again.
      options.onFailure?.(mine, error);
      continue;
    }
    removed.push(name);
  }
  return removed;
}

const swept = new Set<string>();

/**
 * What a writer calls before it stages an entry in `dir`: the leftovers of dead writers
 * there go, once per process and directory. Housekeeping never fails the write.
 */
export function sweepBeforeWrite(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  try {
    sweepDeadTemps(dir);
  } catch {
    // An unreadable directory: the write itself will say what is wrong.
  }
}
