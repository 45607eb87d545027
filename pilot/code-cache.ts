/**
 * The launcher's V8 code cache (pilot/launch-entry.ts): where it is, what a cache file is
 * named, and reading and writing one so that no other user's file is ever run. Every
 * failure means "no cache": the launcher then compiles as without one.
 */
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { isAbsolute, join } from 'node:path';

/**
 * `$TMPDIR/pilot-code-cache-<euid>` (`/tmp` when TMPDIR is not absolute), made 0700 when
 * missing; undefined when it is not a directory of the caller's that only the caller may
 * enter (another user could have made it, or put code there).
 */
export function cacheDir(env: NodeJS.ProcessEnv, euid: number): string | undefined {
  const tmp = env.TMPDIR && isAbsolute(env.TMPDIR) ? env.TMPDIR : '/tmp';
  const dir = join(tmp, `pilot-code-cache-${euid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    // there already (checked below), or not to be made: no cache
  }
  try {
    const stat = lstatSync(dir);
    if (!stat.isDirectory() || stat.uid !== euid || (stat.mode & 0o077) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * Which install a cache belongs to: `launch-<FNV-1a of the script's path>-`. Caches of
 * other installs (a build tree beside the installed pilot) are left alone; a collision
 * only makes two installs take turns.
 */
export function cachePrefix(script: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < script.length; i++) {
    hash ^= script.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `launch-${hash.toString(16).padStart(8, '0')}-`;
}

/** The cache file's name for `script` with `stat`, compiled by this Node. */
export function cacheName(
  script: string,
  stat: BigIntStats,
  nodeVersion: string,
  arch: string,
): string {
  return `${cachePrefix(script)}${nodeVersion}-${arch}-${stat.dev}-${stat.ino}-${stat.size}-${stat.mtimeNs}.v8`;
}

/** The cache `dir/name` when it is a regular file of the caller's that nobody else may write. */
export function readCache(dir: string, name: string, euid: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(
      join(dir, name),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== euid || (stat.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * At most this many caches stay in the dir: installs that are gone (a build tree, a test's
 * or a benchmark's temporary copy) leave caches nobody reads again; the least recently
 * written go first.
 */
export const KEEP_CACHES = 6;

/**
 * Writes `dir/name` (0600, temp file + rename: a reader sees all of it or nothing) and
 * removes the other caches of the same install (`prefix`: an older script or Node), then
 * the oldest caches of other installs beyond KEEP_CACHES.
 */
export function writeCache(
  dir: string,
  name: string,
  prefix: string,
  euid: number,
  produce: () => Buffer,
): void {
  const temp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    if (lstatSync(dir).uid !== euid) return;
    writeFileSync(temp, produce(), { mode: 0o600, flag: 'wx' });
    renameSync(temp, join(dir, name));
    const others: { entry: string; mtime: number }[] = [];
    for (const entry of readdirSync(dir)) {
      if (entry === name || !entry.startsWith('launch-') || !entry.endsWith('.v8')) continue;
      if (entry.startsWith(prefix)) rmSync(join(dir, entry), { force: true });
      else others.push({ entry, mtime: lstatSync(join(dir, entry)).mtimeMs });
    }
    others.sort((a, b) => b.mtime - a.mtime);
    for (const { entry } of others.slice(KEEP_CACHES - 1))
      rmSync(join(dir, entry), { force: true });
  } catch {
    rmSync(temp, { force: true });
  }
}
