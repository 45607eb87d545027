/**
 * Durability of the store's commit points (docs/design.md, "Durable commits"). A rename
 * is atomic for readers, but after a power cut it may reach the disk before the data of
 * the file it publishes (which then comes back empty) or not at all, while a later commit
 * that refers to it did. So each commit is: data on disk (fsync of the file, or one
 * syncfs for a whole staged tree), then the rename or link, then an fsync of the
 * directory that holds the new name, before the next commit starts.
 *
 * Node built-ins only: the launcher writes its plan through writeFileAtomic.
 */
import { closeSync, constants, fsyncSync, openSync } from 'node:fs';
import { errnoOf, PilotError } from './errors.js';
import { explainSystemError } from './system-error.js';
import { runToolLight } from './tool-light.js';

/**
 * Makes the entries of `dir` (names added, renamed or removed in it) durable. A file
 * system that cannot fsync a directory (EINVAL: some FUSE and network ones) has no
 * better way to offer: its own semantics stand.
 */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    throw explainSystemError(error);
  }
  try {
    fsyncSync(fd);
  } catch (error) {
    if (errnoOf(error) !== 'EINVAL') throw explainSystemError(error);
  } finally {
    closeSync(fd);
  }
}

/** The errno names `sync` (coreutils, LC_ALL=C) reports as their strerror text. */
const SYNC_ERRORS: ReadonlyArray<[string, string]> = [
  ['No space left on device', 'ENOSPC'],
  ['Disk quota exceeded', 'EDQUOT'],
  ['Read-only file system', 'EROFS'],
  ['Permission denied', 'EACCES'],
  ['No such file or directory', 'ENOENT'],
];

/**
 * Writes everything of the file system that holds `dir` to disk: syncfs(2), one call for
 * a whole staged tree where an fsync of each file would cost one disk flush per file.
 * Node has no binding for it; coreutils' `sync -f` (Debian: Essential) is the call and
 * nothing else. It also reports the file system's writeback errors (EIO, ENOSPC since
 * Linux 5.8): a tree whose data did not reach the disk is never published.
 */
export function syncTree(dir: string): void {
  // A status of its own is a write error of the file system, told below in its terms.
  const r = runToolLight(['sync', '-f', dir], {
    purpose: `cannot write ${dir} to disk`,
    env: { LC_ALL: 'C' },
    okExitCodes: 'any',
  });
  if (r.exitCode === 0) return;
  const said = r.stderr.trim().replace(/^sync: /, '');
  const known = SYNC_ERRORS.find(([text]) => said.endsWith(text));
  if (known) {
    const error = Object.assign(new Error(said), { code: known[1], path: dir, syscall: 'syncfs' });
    const explained = explainSystemError(error);
    if (explained !== error) throw explained;
  }
  throw new PilotError(
    'PILOT_RUNTIME',
    `cannot write ${dir} to disk: ${said || `sync exited with ${r.exitCode}`}`,
    {
      hint: 'the file system reported a write error: check it (dmesg), then run the command again',
    },
  );
}
