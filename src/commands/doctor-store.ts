/**
 * `pilot doctor`'s findings about where pilot keeps things: the store and runtime
 * directories (read-only: nothing is created), free space, whether host files can be
 * hard-linked into the store, and cached plans gone stale.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { errnoOf, PilotError } from '../core/errors.js';
import { explainSystemError } from '../core/system-error.js';
import { listAllPlans } from '../runtime/fast-plan.js';
import { check, type DoctorCheck } from './doctor-check.js';
import { type DoctorHost, sysctl } from './doctor-host.js';

/** Less than this much free space in the store is a warning. */
const MIN_FREE_BYTES = 1e9;

/** The directory itself, or its nearest existing ancestor (what would hold it once created). */
function existingAncestor(path: string): string {
  let dir = path;
  for (;;) {
    try {
      statSync(dir);
      return dir;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'ENOTDIR') return dir;
      const parent = dirname(dir);
      if (parent === dir) return dir;
      dir = parent;
    }
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return true; // unknown (e.g. not searchable): the writable check says more
  }
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function checkDirectory(name: string, dir: string, what: string): DoctorCheck {
  const existing = existingAncestor(dir);
  if (!isDirectory(existing)) {
    return check(
      name,
      false,
      false,
      `${dir} cannot be created: ${existing} is not a directory`,
      `use a directory as --root/PILOT_ROOT, or move ${existing} out of the way`,
    );
  }
  const writable = isWritable(existing);
  const state =
    existing === dir ? 'exists' : `does not exist yet; created in ${existing} on first use`;
  return check(
    name,
    false,
    writable,
    `${dir} ${state}${writable ? '' : ', not writable by this user'}`,
    `run as root, or use a writable ${what} with --root DIR or PILOT_ROOT=DIR`,
  );
}

export function checkFreeSpace(host: DoctorHost, store: string): DoctorCheck {
  const existing = existingAncestor(store);
  try {
    const free = host.freeBytes(existing);
    const good = free >= MIN_FREE_BYTES;
    return check(
      'free space',
      false,
      good,
      `${(free / 1e9).toFixed(1)} GB free in ${existing}`,
      'free space there or put the store elsewhere with --root/PILOT_ROOT (images need room once, layers are shared)',
    );
  } catch (error) {
    return check(
      'free space',
      false,
      false,
      `cannot statfs ${existing}: ${errnoOf(error) ?? String(error)}`,
      'check the store path',
    );
  }
}

export function checkHardLinks(host: DoctorHost, store: string): DoctorCheck {
  const existing = existingAncestor(store);
  // Unknown is treated as a different file system.
  const device = host.deviceOf(existing);
  const sameDevice = device !== undefined && device === host.deviceOf('/usr');
  const protectedLinks = sysctl(host, 'fs.protected_hardlinks');
  if (protectedLinks === 1 && host.uid !== 0) {
    // The kernel refuses an unprivileged hard link to root's files; the launcher binds them.
    return check(
      'hard links',
      false,
      true,
      'fs.protected_hardlinks = 1: as an unprivileged caller, host files are bind-mounted',
      '',
    );
  }
  const notes = [
    sameDevice
      ? 'store and /usr share a file system: host files are hard-linked'
      : 'store and /usr are on different file systems: host files are copied',
  ];
  if (protectedLinks !== undefined) notes.push(`fs.protected_hardlinks = ${protectedLinks}`);
  return check(
    'hard links',
    false,
    sameDevice,
    notes.join('; '),
    'put the store on the same file system as /usr (PILOT_ROOT) so host files cost no copy',
  );
}

/**
 * Cached fast-path plans whose inputs changed, in the store (its owner's) and the run dir,
 * where `ps` and `gc` look: harmless (the next call re-plans), but worth a `pilot gc`.
 */
export function checkPlans(paths: { run: string; store: string }): DoctorCheck {
  let plans: ReturnType<typeof listAllPlans>;
  try {
    plans = listAllPlans(paths);
  } catch (error) {
    // Read-only: doctor reports what it cannot read and goes on.
    const explained = explainSystemError(error);
    return check(
      'cached plans',
      false,
      false,
      `cannot read the cached plans: ${explained instanceof Error ? explained.message : String(explained)}`,
      explained instanceof PilotError && explained.hint
        ? explained.hint
        : 'check the runtime directory',
    );
  }
  const stale = plans.filter((p) => p.stale);
  return check(
    'cached plans',
    false,
    stale.length === 0,
    stale.length === 0
      ? `${plans.length} cached plan(s), none stale`
      : `${stale.length} of ${plans.length} stale: ${stale.map((p) => `${p.app} (${p.stale} changed)`).join(', ')}`,
    'the next call of each app plans again; "pilot gc" deletes stale plans now',
  );
}
