/**
 * The one text that stands for a file's state: `dev:ino:size:mtime_ns`, or `-` for a
 * file that is not there. A replaced file (package upgrade, rename over it) has a new
 * inode; one rewritten in place a new size or mtime. Nanoseconds, so that two writes
 * within a millisecond still differ. The exec stub (pilot/exec) computes the same text
 * for a fast plan's stamps, so every cache pilot keys by a file agrees with the stub on
 * when that file changed: fast-plan stamps, host layer keys, the include.tar digest
 * index and the host package database's identity.
 *
 * Node built-ins only: the launcher stamps through this.
 */
import { type BigIntStats, lstatSync, statSync } from 'node:fs';

/** The identity of a file already stat'ed with `{ bigint: true }`. */
export function identityOfStats(stat: BigIntStats | undefined): string {
  return stat ? `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}` : '-';
}

/**
 * The identity of `path` (lstat: a symlink itself; `follow`: what it points to), `-`
 * when it or a directory above it is missing. Other errors (EACCES) are `-` too: the
 * file cannot be read either, and a later stat that succeeds differs.
 */
export function fileIdentity(path: string, options: { follow?: boolean } = {}): string {
  try {
    return identityOfStats(
      options.follow ? statSync(path, { bigint: true }) : lstatSync(path, { bigint: true }),
    );
  } catch {
    return '-';
  }
}

/**
 * A directory's identity for a fast plan's `dirstamp` (docs/plan.md):
 * `dev:ino:mtime_ns:ctime_ns` of stat (symlinks followed), `-` when it is not there. An
 * entry added, removed or renamed changes mtime and ctime; a chmod or chown, ctime.
 */
export function dirIdentityOfStats(stat: BigIntStats | undefined): string {
  return stat ? `${stat.dev}:${stat.ino}:${stat.mtimeNs}:${stat.ctimeNs}` : '-';
}

/** `dirIdentityOfStats` of `path`, `-` when it cannot be stat'ed. */
export function dirIdentity(path: string): string {
  try {
    return dirIdentityOfStats(statSync(path, { bigint: true }));
  } catch {
    return '-';
  }
}
