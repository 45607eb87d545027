/**
 * File-system errors the host, not pilot, is to blame for: a file where pilot keeps a
 * directory (`--root FILE`), a directory this user may not enter, a read-only or full
 * file system. Any command can meet them on any of the paths it touches, so the one
 * error printer of the CLI and of the launcher turns them into a PilotError naming the
 * path and what to do, in place of an "internal error" with a stack. Every other error
 * stays what it is: a bug in pilot, reported as one.
 *
 * Node built-ins only: the launcher loads this on every failed start.
 */
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { errnoOf, PilotError } from './errors.js';
import { readMountinfo } from './mountinfo.js';

const WHERE_HINT =
  'check --root / PILOT_ROOT: pilot keeps its store, flakes and run state in directories below it';

/** `path` and its ancestors, outermost first. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let dir = path; ; dir = dirname(dir)) {
    out.unshift(dir);
    if (dirname(dir) === dir) return out;
  }
}

/** The outermost ancestor of `path` (or itself) that exists and is not a directory. */
function fileInTheWay(path: string): string | undefined {
  for (const dir of ancestors(path)) {
    try {
      if (!statSync(dir).isDirectory()) return dir;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The outermost ancestor of `path` this process may not search (enter). */
export function closedDirectory(path: string): string | undefined {
  for (const dir of ancestors(path).slice(0, -1)) {
    try {
      accessSync(dir, constants.X_OK);
    } catch (error) {
      if (errnoOf(error) === 'EACCES') return dir;
      return undefined;
    }
  }
  return undefined;
}

export function who(): string {
  const uid = process.getuid?.();
  return uid === undefined ? 'this user' : `this user (uid ${uid})`;
}

/**
 * The PilotError a host-made file-system error stands for, or `error` itself when it
 * is not one (a bug, or already a PilotError).
 */
export function explainSystemError(error: unknown): unknown {
  const code = errnoOf(error);
  const path = (error as { path?: unknown } | null)?.path;
  if (error instanceof PilotError || code === undefined || typeof path !== 'string') return error;
  const fail = (
    errorCode: 'PILOT_PATH_IN_WAY' | 'PILOT_NEEDS_PRIVILEGE' | 'PILOT_RUNTIME',
    message: string,
    hint: string,
  ) => new PilotError(errorCode, message, { hint, cause: error });
  const notDirectory = (file: string | undefined) =>
    fail(
      'PILOT_PATH_IN_WAY',
      file === undefined || file === path
        ? `${path} is not a directory, but pilot needs a directory there`
        : `${file} is not a directory, but pilot needs ${path} below it`,
      WHERE_HINT,
    );
  switch (code) {
    case 'ENOTDIR':
      return notDirectory(fileInTheWay(path));
    case 'EEXIST': {
      // mkdir -p (makeDirs) of a path a file already holds.
      if ((error as { syscall?: unknown }).syscall !== 'mkdir') return error;
      const file = fileInTheWay(path);
      return file === undefined ? error : notDirectory(file);
    }
    case 'ELOOP':
      return fail('PILOT_PATH_IN_WAY', `${path}: too many levels of symbolic links`, WHERE_HINT);
    case 'EACCES':
    case 'EPERM': {
      const closed = closedDirectory(path);
      return fail(
        'PILOT_NEEDS_PRIVILEGE',
        closed === undefined
          ? `${path}: permission denied to ${who()}`
          : `${path}: permission denied: ${who()} may not enter ${closed}`,
        'run as the owner of this store (root for the system store), or use a store of your own with --root DIR or PILOT_ROOT=DIR',
      );
    }
    case 'EROFS':
      return fail(
        'PILOT_RUNTIME',
        `${path}: read-only file system`,
        'use a store on a writable file system (--root DIR or PILOT_ROOT=DIR)',
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return diskFull(path, { code, cause: error });
    default:
      return error;
  }
}

const FULL_HINT =
  'free some space ("pilot gc" deletes what no image or app uses), then run the command again';

/** The mount point of the file system that holds `path` (the longest one above it). */
function mountPointOf(path: string): string | undefined {
  let best: string | undefined;
  try {
    for (const { mountPoint: point } of readMountinfo()) {
      const inside = point === '/' || path === point || path.startsWith(`${point}/`);
      if (inside && (best === undefined || point.length >= best.length)) best = point;
    }
  } catch {
    // no /proc: the message names the path alone
  }
  return best;
}

/** Bytes still free for this user on the file system holding `path`, when it can be told. */
function freeBytes(path: string): number | undefined {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      const stats = statfsSync(dir);
      return stats.bavail * stats.bsize;
    } catch {
      if (dirname(dir) === dir) return undefined;
    }
  }
}

/**
 * A full disk (ENOSPC) or quota (EDQUOT) met while writing `path`: says so, and where,
 * i.e. the path and the file system it is on, with what is left there. A write that
 * fails this way has already been undone by its writer (stage, then rename).
 */
export function diskFull(
  path: string,
  options: { code?: 'ENOSPC' | 'EDQUOT'; cause?: unknown; doing?: string } = {},
): PilotError {
  const { code = 'ENOSPC', cause, doing } = options;
  const mount = mountPointOf(path);
  const free = freeBytes(path);
  const where = [
    mount === undefined ? undefined : `file system ${mount}`,
    free === undefined ? undefined : `${free} bytes free`,
  ].filter((part) => part !== undefined);
  const what = code === 'ENOSPC' ? 'no space left on the device' : 'disk quota exceeded';
  return new PilotError(
    'PILOT_DISK_FULL',
    `${doing === undefined ? '' : `${doing}: `}${path}: ${what}${where.length > 0 ? ` (${where.join(', ')})` : ''}`,
    { hint: FULL_HINT, cause },
  );
}

/**
 * The errno a tool's own message reports for a full disk or quota (GNU tar, cp, podman
 * print strerror), or undefined.
 */
export function diskFullIn(text: string): 'ENOSPC' | 'EDQUOT' | undefined {
  if (/no space left on device/i.test(text)) return 'ENOSPC';
  if (/disk quota exceeded/i.test(text)) return 'EDQUOT';
  // GNU tar's short write: the disk filled up within one write(2), which then returns
  // what fitted rather than failing (it does not try again to hear the errno).
  if (/: Wrote only \d+ of \d+ bytes/.test(text)) return 'ENOSPC';
  return undefined;
}

/**
 * `error` with `path` attached when it has none: writeSync, fsyncSync and stream writes
 * report ENOSPC without the path, which the one error printer needs to say where.
 */
export function withPath(error: unknown, path: string): unknown {
  if (error instanceof Error && errnoOf(error) !== undefined && !('path' in error)) {
    (error as Error & { path?: string }).path = path;
  }
  return error;
}

/**
 * Refuses a `--root`/`PILOT_ROOT` that cannot hold pilot's directories, before a command
 * touches anything below it. A root that does not exist yet is fine: the first command
 * that writes creates it.
 */
export function checkRoot(root: string): void {
  if (root === '') return;
  let isDirectory: boolean;
  try {
    isDirectory = statSync(root).isDirectory();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw explainSystemError(error);
  }
  if (!isDirectory) {
    throw new PilotError('PILOT_PATH_IN_WAY', `the root ${root} is not a directory`, {
      hint: '--root DIR and PILOT_ROOT=DIR name the directory pilot keeps everything under (created when missing); leave both out for the system locations',
    });
  }
}
