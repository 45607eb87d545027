/**
 * Reading an app's flake files safely: `readFlakeSources` (the main `<app>.yaml`, then its
 * drop-ins) reads each with `readFlakeFile`. Every reader of flake files (list, show,
 * images, gc, rmi, register, check and the launcher) comes here; flake-file.ts parses.
 *
 * A flake is a regular file of at most MAX_FLAKE_BYTES. Anything else is refused by name
 * before it is read: a FIFO would block every command that reads it, a character device
 * such as /dev/zero would fill memory, and opening some devices does something by itself
 * (a watchdog starts, a tape rewinds). So the file is first taken as an O_PATH handle,
 * which opens nothing, and only a regular file is then opened, through that very handle.
 *
 * A flake that is a symbolic link (flake-pilot hosts may link flakes from elsewhere) is
 * followed only to a regular `.yaml`/`.yml` file owned by the owner of the flakes directory
 * (root for the system's) that nobody else may write: such a file is one that owner could
 * have put in the directory itself, and meant as a flake. A link to anything else
 * (`/etc/passwd`, or `/etc/shadow` in a user's flakes dir read by root) is refused without
 * reading it, so that no message can show its content.
 */

import { isUtf8 } from 'node:buffer';
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  type Stats,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { errnoOf, PilotError } from './errors.js';
import { escapeExcerpt, quoteExcerpt } from './excerpt.js';
import { pathOwner, readBounded } from './fs-query.js';
import { MAX_FLAKE_BYTES } from './yaml-limits.js';

/** Linux's O_PATH (fs.constants lacks it): a handle that reads nothing and cannot block. */
const O_PATH = 0o10000000;

export interface FlakeFileText {
  text: string;
  /** The file a symbolic link led to (its own changes must be noticed too), or undefined. */
  target?: string;
}

/** What a non-regular file is, for messages. */
export function fileKind(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** What is at `path` (links followed), for messages. */
export function describePath(path: string): string {
  try {
    const stat = statSync(path);
    return stat.isFile() ? 'a regular file' : fileKind(stat);
  } catch (error) {
    return `unreadable (${errnoOf(error) ?? 'error'})`;
  }
}

function refused(file: string, why: string, hint: string, cause?: unknown): PilotError {
  return new PilotError('PILOT_FLAKE_INVALID', `${file}: ${why}`, {
    hint,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * YAML is Unicode text: a byte that is not UTF-8 would otherwise become U+FFFD, and the
 * flake would name an image or a path that nobody wrote. Refused, with its line.
 */
function utf8Text(file: string, bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  let line = 1;
  for (let start = 0; start < bytes.length; line++) {
    const end = bytes.indexOf(0x0a, start);
    const stop = end < 0 ? bytes.length : end;
    if (!isUtf8(bytes.subarray(start, stop))) break;
    start = stop + 1;
  }
  throw refused(
    `${file}:${line}`,
    'is not UTF-8 text',
    'save the flake as UTF-8 (iconv -t UTF-8); YAML files are Unicode text',
  );
}

const REPLACE = 'a flake is a regular YAML file: put one in its place, or "pilot remove" the app';

function cannotOpen(file: string, error: unknown, linkTo?: string): PilotError {
  const code = errnoOf(error);
  const via = linkTo === undefined ? '' : `is a symbolic link to ${linkTo}, which `;
  if (code === 'ELOOP') {
    return refused(file, 'is a loop of symbolic links', 'point the link at a flake file', error);
  }
  if (code === 'EACCES') {
    return refused(
      file,
      `${via}${via ? 'this user may not read' : 'cannot be read: permission denied'}`,
      'flake files are readable by everyone who runs the app (mode 0644, in directories of mode 0755)',
      error,
    );
  }
  if (via && (code === 'ENOENT' || code === 'ENOTDIR')) {
    return refused(file, `${via}does not exist (a dangling link)`, REPLACE, error);
  }
  return refused(file, `cannot be opened (${code ?? (error as Error).message})`, REPLACE, error);
}

/** The real path of an open handle (where a link led); without /proc, the path's. */
function whereIs(handle: number, file: string): string {
  try {
    return readlinkSync(`/proc/self/fd/${handle}`);
  } catch {
    try {
      return realpathSync(file);
    } catch {
      return '';
    }
  }
}

function linkTarget(file: string): string {
  try {
    return escapeExcerpt(readlinkSync(file));
  } catch {
    return '(unreadable)';
  }
}

interface Checked {
  handle: number;
  /** Where a link led (its real path); undefined for a file that is no link. */
  target?: string;
}

/**
 * The handle of the file to read: `file` itself, or for a symbolic link the file it leads
 * to, checked against `owner`. Regular files only. Throws ENOENT/ENOTDIR as they come for a
 * missing `file` (the caller decides what a missing flake means).
 */
function checkedHandle(file: string, owner: number | undefined): Checked {
  const own = openSync(file, O_PATH | constants.O_NOFOLLOW);
  let handle = own;
  let target: string | undefined;
  try {
    const stat = fstatSync(own);
    if (stat.isSymbolicLink()) {
      const to = linkTarget(file);
      try {
        handle = openSync(file, O_PATH);
      } catch (error) {
        throw cannotOpen(file, error, to);
      }
      const led = fstatSync(handle);
      if (!led.isFile()) {
        throw refused(file, `is a symbolic link to ${to}, which is ${fileKind(led)}`, REPLACE);
      }
      target = whereIs(handle, file);
      if (!/\.ya?ml$/.test(target)) {
        throw refused(
          file,
          `is a symbolic link to ${to}, which is not a .yaml or .yml file`,
          'link a flake only to a flake file (NAME.yaml), or copy the file into the flakes directory',
        );
      }
      if (led.uid !== owner || (led.mode & 0o022) !== 0) {
        const whose =
          led.uid !== owner ? `owned by uid ${led.uid}` : 'writable by others than its owner';
        throw refused(
          file,
          `is a symbolic link to ${to}, which is ${whose}; a linked flake must be a file of uid ${owner ?? '?'} (the owner of the flakes directory) that only it may write`,
          'copy the file into the flakes directory instead of linking to it',
        );
      }
    } else if (!stat.isFile()) {
      throw refused(file, `is ${fileKind(stat)}, not a regular file`, REPLACE);
    }
    const size = fstatSync(handle).size;
    if (size > MAX_FLAKE_BYTES) {
      throw refused(
        file,
        `is larger than ${MAX_FLAKE_BYTES} bytes (${size}); a flake file has a few hundred`,
        'check that this is the flake file meant',
      );
    }
    return target === undefined ? { handle } : { handle, target };
  } catch (error) {
    if (handle !== own) closeSync(handle);
    throw error;
  } finally {
    if (handle !== own) closeSync(own);
  }
}

/**
 * Opens for reading the very file that was checked: through its handle, whatever the path
 * names by now. Without /proc, by path, non-blocking, and only if it is still that file.
 */
function openChecked(file: string, checked: Checked): number {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK;
  try {
    return openSync(`/proc/self/fd/${checked.handle}`, flags);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw cannotOpen(file, error);
  }
  let fd: number;
  try {
    fd = openSync(file, flags | (checked.target !== undefined ? 0 : constants.O_NOFOLLOW));
  } catch (error) {
    throw cannotOpen(file, error);
  }
  const was = fstatSync(checked.handle);
  const now = fstatSync(fd);
  if (was.dev !== now.dev || was.ino !== now.ino) {
    closeSync(fd);
    throw refused(file, 'was replaced while it was being read', 'run the command again');
  }
  return fd;
}

/**
 * The text of one flake file, read as the rules above say. `owner` is the uid that owns
 * the flakes directory (undefined when that is unknown: then no link is followed). A
 * missing file throws its ENOENT/ENOTDIR error unchanged; anything else that is wrong is
 * a PILOT_FLAKE_INVALID error naming the file and what it is.
 */
export function readFlakeFile(file: string, owner: number | undefined): FlakeFileText {
  let checked: Checked;
  try {
    checked = checkedHandle(file, owner);
  } catch (error) {
    if (error instanceof PilotError) throw error;
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw error;
    throw cannotOpen(file, error);
  }
  let fd: number;
  try {
    fd = openChecked(file, checked);
  } finally {
    closeSync(checked.handle);
  }
  try {
    const bytes = readBounded(fd, MAX_FLAKE_BYTES);
    if (bytes.length > MAX_FLAKE_BYTES) {
      throw refused(
        file,
        `is larger than ${MAX_FLAKE_BYTES} bytes; a flake file has a few hundred`,
        'check that this is the flake file meant',
      );
    }
    const text = utf8Text(file, bytes);
    return checked.target === undefined ? { text } : { text, target: checked.target };
  } finally {
    closeSync(fd);
  }
}

export interface FlakeSource {
  file: string;
  text: string;
  /** Where a linked file led (its real path). */
  target?: string;
}

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** `<app>.yaml` and `<app>.d` must fit in one file name (NAME_MAX 255). */
const APP_NAME_MAX = 200;

export function assertAppName(name: string): void {
  if (!APP_NAME.test(name) || name.length > APP_NAME_MAX) {
    throw new PilotError(
      'PILOT_USAGE',
      `invalid app name ${quoteExcerpt(name)}: use letters, digits and . _ + - ` +
        `(not first), at most ${APP_NAME_MAX} characters`,
    );
  }
}

/**
 * Reads `<flakesDir>/<app>.yaml`, then `<flakesDir>/<app>.d/*.yaml|*.yml` in name order
 * (plain code-unit order, independent of the locale). Hidden drop-ins (editor and
 * atomic-write temp files) are skipped. Each file is read by readFlakeFile: regular
 * files of bounded size only, links only to the flakes directory owner's files.
 */
export function readFlakeSources(flakesDir: string, app: string): FlakeSource[] {
  assertAppName(app);
  const owner = pathOwner(flakesDir);
  const main = join(flakesDir, `${app}.yaml`);
  let read: FlakeFileText;
  try {
    read = readFlakeFile(main, owner);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') {
      throw new PilotError(
        'PILOT_FLAKE_UNKNOWN',
        `no flake for app "${app}": ${main} does not exist`,
        {
          hint: 'run "pilot list" to see the registered apps, or "pilot register" to add one',
          cause: error,
        },
      );
    }
    throw error;
  }
  const sources: FlakeSource[] = [{ file: main, ...read }];

  const dropInDir = join(flakesDir, `${app}.d`);
  let names: string[];
  try {
    names = readdirSync(dropInDir);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT') return sources;
    if (code === 'ENOTDIR') {
      throw new PilotError(
        'PILOT_FLAKE_INVALID',
        `${dropInDir}: is ${describePath(dropInDir)}, not a directory of drop-ins`,
        { hint: `remove it, or make it a directory of ${app}.d/NAME.yaml files`, cause: error },
      );
    }
    throw new PilotError(
      'PILOT_FLAKE_INVALID',
      `${dropInDir}: cannot read the drop-in directory (${code === 'EACCES' ? 'permission denied' : (code ?? (error as Error).message)})`,
      {
        hint: 'drop-in directories are readable by everyone who runs the app (mode 0755)',
        cause: error,
      },
    );
  }
  names = names
    .filter((name) => !name.startsWith('.') && (name.endsWith('.yaml') || name.endsWith('.yml')))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const file = join(dropInDir, name);
    try {
      sources.push({ file, ...readFlakeFile(file, owner) });
    } catch (error) {
      const code = errnoOf(error);
      // Removed since the directory was listed: it is no longer a drop-in.
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw error;
    }
  }
  return sources;
}
