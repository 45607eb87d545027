/**
 * Writes that a crash cannot leave half done: stage in a sibling temp entry (named as
 * src/core/temp-entries.ts says, so no reader mistakes it for an entry and a dead
 * writer's leftover is found), then rename into place. Readers see the old state or
 * the new one. Each commit is durable before the function returns: data on disk before
 * the rename, the directory synced after it (core/durable.ts).
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDir, syncTree } from './durable.js';
import { errnoOf } from './errors.js';
import { faultPoint } from './fault.js';
import { makeDirs, setFileMode } from './modes.js';
import { withPath } from './system-error.js';
import { removeTree, sweepBeforeWrite, tempSibling } from './temp-entries.js';

/**
 * Renames a staged temp entry (file, link or whole tree) onto `path`: the one commit
 * step; on failure the temp goes and the rename's own error is thrown (EEXIST or
 * ENOTEMPTY: another writer's copy is already in place).
 */
export function commitRename(temp: string, path: string): void {
  faultPoint(`rename ${path}`);
  try {
    renameSync(temp, path);
  } catch (error) {
    removeTree(temp);
    throw error;
  }
}

/**
 * Publishes a staged tree (a layer, a host layer) at `path`, durably: one syncfs of its
 * file system, the rename, an fsync of the parent. When another writer's copy is already
 * in place (EEXIST, ENOTEMPTY: thrown, the temp removed), the parent is synced all the
 * same: that writer may not have synced its rename yet, and this one's caller is about
 * to commit records that name the tree.
 */
export function commitTree(temp: string, path: string): void {
  syncTree(temp);
  try {
    commitRename(temp, path);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST' || code === 'ENOTEMPTY') fsyncDir(dirname(path));
    throw error;
  }
  fsyncDir(dirname(path));
}

/**
 * Atomically and durably replaces `path` with `data` (temp file in the same directory +
 * fsync + rename + fsync of the directory). The file gets `mode` whatever the umask (core/modes.ts), and so do the
 * directories created for it (0755).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path);
  makeDirs(dir);
  sweepBeforeWrite(dir);
  const temp = tempSibling(path);
  const fd = openSync(temp, 'wx', mode);
  try {
    setFileMode(fd, mode);
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    // writeSync/fsyncSync name no path: a full disk must still say where.
    throw withPath(error, path);
  }
  closeSync(fd);
  commitRename(temp, path);
  fsyncDir(dir);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Atomically and durably makes `path` a symlink to `target` (temp link in the same
 * directory + rename + fsync of the directory: a link's target lives in its inode,
 * which the directory's fsync writes along with the name).
 */
export function symlinkAtomic(target: string, path: string): void {
  const dir = dirname(path);
  sweepBeforeWrite(dir);
  const temp = tempSibling(path);
  symlinkSync(target, temp);
  commitRename(temp, path);
  fsyncDir(dir);
}

/** Removes one entry readers list (a ref, a flake, a link): a commit step of its own. */
export function removeEntry(path: string): void {
  faultPoint(`unlink ${path}`);
  rmSync(path, { force: true });
}
