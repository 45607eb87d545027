/**
 * Directories and files with the modes pilot means, whatever root's umask. mkdir(2) and
 * open(2) take the umask off the mode they are given: root with `umask 077` (hardened
 * hosts use 027 or 077) would make the flakes dir, the store and every record root's
 * alone, and every other user's call of an app would fail. chmod(2) and fchmod(2) do not
 * apply the umask, so what root creates is set to its mode right after it is created.
 *
 * Modes pilot means (docs/security.md): 0755 directories and 0644 files for what other
 * users read (store, flakes, app link dirs, plans, session files); 0700 for what is
 * private by design (tmp/, staging dirs, kept instances' state, private host layers).
 *
 * An unprivileged user creates only its own things (its store, flakes, run dir), which
 * nobody else uses: there its umask may narrow these modes, as it does for any program
 * (pilot never widens them; a plan or record is never writable by others either way).
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  mkdirSync,
  openSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Root's files serve every user: their modes are set exactly. */
function setsExactModes(): boolean {
  return process.geteuid?.() === 0;
}

export const PUBLIC_DIR_MODE = 0o755;
export const PRIVATE_DIR_MODE = 0o700;
export const PUBLIC_FILE_MODE = 0o644;

/**
 * `mkdir -p path`: the directories this call creates get 0755 on the way and `mode` at
 * `path` itself, exactly; directories that exist already are left as they are (their
 * modes are their owner's choice; `pilot doctor` names one that shuts other users out).
 */
export function makeDirs(path: string, mode = PUBLIC_DIR_MODE): void {
  const target = resolve(path);
  const first = mkdirSync(target, { recursive: true, mode: PUBLIC_DIR_MODE });
  if (first === undefined) return;
  if (!setsExactModes()) {
    // The umask already narrowed 0755; a private leaf must not stay wider than asked.
    if (mode !== PUBLIC_DIR_MODE) chmodSync(target, mode & statMode(target));
    return;
  }
  // mkdirSync returns the first directory it created: that one and each below it on
  // the way to `target` are new.
  const created = resolve(first);
  for (let dir = target; ; dir = dirname(dir)) {
    chmodSync(dir, dir === target ? mode : PUBLIC_DIR_MODE);
    if (dir === created || dirname(dir) === dir) break;
  }
}

/** mkdir(2) of one directory, with `mode` as makeDirs gives it. */
export function makeDir(path: string, mode: number): void {
  mkdirSync(path, { mode });
  if (setsExactModes()) chmodSync(path, mode);
}

/** Sets the mode of a file pilot just created (root: exactly; others: as their umask left it). */
export function setFileMode(fd: number, mode: number): void {
  if (setsExactModes()) fchmodSync(fd, mode);
}

/** Creates (or truncates) `path` with `data`, with `mode` as setFileMode says. */
export function writeFileMode(path: string, data: string, mode = PUBLIC_FILE_MODE): void {
  const fd = openSync(path, 'w', mode);
  try {
    setFileMode(fd, mode);
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

function statMode(path: string): number {
  return statSync(path).mode & 0o7777;
}
