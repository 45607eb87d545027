/**
 * `pilot doctor`: what this host supports, each finding with a fix. Read-only: it
 * never creates the store or any directory, so it works on a fresh host. Only what a
 * launch cannot do without (kernel features, the launcher and its exec helper) is
 * `fail`; the rest is `warn`.
 */

import { accessSync, constants, lstatSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { errnoOf, PilotError } from '../core/errors.js';
import type { PilotPaths } from '../core/paths.js';
import { explainSystemError } from '../core/system-error.js';
import { runToolSync } from '../core/tool.js';
import { ToolError } from '../core/tool-error.js';
import { listPlans } from '../runtime/fast-plan.js';
import { hostSupport } from '../runtime/host-support.js';
import { checkAccessForOthers } from './doctor-access.js';
import { checkStoreQuick } from './verify-quick.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Stable name, e.g. `overlayfs`. */
  check: string;
  status: CheckStatus;
  /** True when pilot cannot launch apps without it (a failure makes doctor exit 1). */
  required: boolean;
  detail: string;
  /** What to do about it; null when status is ok. */
  fix: string | null;
}

export interface CommandResult {
  /** null when the command could not be started (not installed). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Everything doctor learns from the host, so tests can present another host. */
export interface DoctorHost {
  uid: number;
  kernelRelease: string;
  readText(path: string): string | undefined;
  exists(path: string): boolean;
  run(command: string, args: string[]): CommandResult;
  /** Absolute path of an executable in PATH, or undefined. */
  which(command: string): string | undefined;
  /** The device of the file system holding `path`, or undefined when it cannot be told. */
  deviceOf(path: string): number | undefined;
  /** Bytes free for this user on the file system holding `path` (throws as statfs does). */
  freeBytes(path: string): number;
}

export interface DoctorOptions {
  paths: PilotPaths;
  /** The launcher the CLI links apps to; the exec helper must sit beside it. */
  launcher: string;
  /** PILOT_EXEC override of the helper path (the launcher honours it too). */
  helper?: string | undefined;
  host?: DoctorHost;
}

/** Less than this much free space in the store is a warning. */
const MIN_FREE_BYTES = 1e9;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function systemHost(env: NodeJS.ProcessEnv = process.env): DoctorHost {
  return {
    uid: process.getuid?.() ?? 0,
    kernelRelease: release(),
    readText,
    exists: (path) => {
      try {
        lstatSync(path);
        return true;
      } catch {
        return false;
      }
    },
    run: (command, args) => {
      // A probe: any exit status is its answer; one that did not run or end answers null.
      try {
        const r = runToolSync([command, ...args], { timeout: 10_000, okExitCodes: 'any' });
        return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
      } catch (error) {
        if (error instanceof ToolError) return { code: null, stdout: '', stderr: error.stderr };
        throw error;
      }
    },
    deviceOf: (path) => {
      try {
        return statSync(path).dev;
      } catch {
        return undefined;
      }
    },
    freeBytes: (path) => {
      const stats = statfsSync(path);
      return stats.bavail * stats.bsize;
    },
    which: (command) =>
      (env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, command))
        .find(isExecutable),
  };
}

function check(
  name: string,
  required: boolean,
  good: boolean,
  detail: string,
  fix: string,
): DoctorCheck {
  return {
    check: name,
    status: good ? 'ok' : required ? 'fail' : 'warn',
    required,
    detail,
    fix: good ? null : fix,
  };
}

/** `5.12.0-foo` → [5, 12]. */
function kernelVersion(text: string): [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : [0, 0];
}

function atLeast(version: number[], wanted: number[]): boolean {
  for (let i = 0; i < wanted.length; i++) {
    const have = version[i] ?? 0;
    if (have !== wanted[i]) return have > wanted[i]!;
  }
  return true;
}

function sysctl(host: DoctorHost, name: string): number | undefined {
  const text = host.readText(`/proc/sys/${name.replace(/\./g, '/')}`);
  if (text === undefined) return undefined;
  const value = Number.parseInt(text.trim(), 10);
  return Number.isNaN(value) ? undefined : value;
}

function checkKernel(host: DoctorHost): DoctorCheck {
  const good = atLeast(kernelVersion(host.kernelRelease), [5, 12]);
  return check(
    'kernel',
    true,
    good,
    `Linux ${host.kernelRelease}${good ? '' : ': pilot-exec needs open_tree, move_mount and mount_setattr (Linux 5.12)'}`,
    'upgrade to Linux 5.12 or newer',
  );
}

function checkOverlay(host: DoctorHost): DoctorCheck {
  const filesystems = host.readText('/proc/filesystems') ?? '';
  const good = /\boverlay$/m.test(filesystems);
  return check(
    'overlayfs',
    true,
    good,
    good ? 'overlay is in /proc/filesystems' : 'overlay is not in /proc/filesystems',
    'load the module: "modprobe overlay" (and list it in /etc/modules-load.d/ to keep it)',
  );
}

function checkMountNamespaces(host: DoctorHost): DoctorCheck {
  const nsPresent = host.exists('/proc/self/ns/mnt');
  return check(
    'mount namespaces',
    true,
    nsPresent,
    nsPresent ? '/proc/self/ns/mnt present' : 'no /proc/self/ns/mnt',
    'use a kernel built with CONFIG_NAMESPACES and mount /proc',
  );
}

function checkUserNamespaces(host: DoctorHost): DoctorCheck {
  // An unprivileged caller can launch only through a user namespace; root does not need one
  // for its own launches, only for the unprivileged callers of its apps.
  const required = host.uid !== 0;
  const problems: string[] = [];
  const fixes: string[] = [];
  const max = sysctl(host, 'user.max_user_namespaces');
  if (max === 0) {
    problems.push('user.max_user_namespaces = 0');
    fixes.push('sysctl -w user.max_user_namespaces=15000');
  }
  if (sysctl(host, 'kernel.unprivileged_userns_clone') === 0) {
    problems.push('kernel.unprivileged_userns_clone = 0');
    fixes.push('sysctl -w kernel.unprivileged_userns_clone=1');
  }
  if (sysctl(host, 'kernel.apparmor_restrict_unprivileged_userns') === 1) {
    problems.push('kernel.apparmor_restrict_unprivileged_userns = 1');
    fixes.push('sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile)');
  }
  let probe = '';
  if (host.which('unshare')) {
    const r = host.run('unshare', ['--user', '--map-root-user', 'true']);
    if (r.code === 0) probe = '"unshare --user --map-root-user true" works';
    else {
      probe = `"unshare --user --map-root-user true" failed: ${r.stderr.trim() || `exit ${r.code}`}`;
      problems.push(probe);
    }
  }
  const good = problems.length === 0;
  const who = required ? '' : ' (needed by unprivileged callers of system apps)';
  return check(
    'user namespaces',
    required,
    good,
    good
      ? [max === undefined ? '' : `max_user_namespaces = ${max}`, probe].filter(Boolean).join('; ')
      : `${problems.join('; ')}${who}`,
    fixes.length > 0
      ? `${fixes.join('; ')}; persist in /etc/sysctl.d/`
      : 'enable unprivileged user namespaces (CONFIG_USER_NS)',
  );
}

/**
 * util-linux unshare(1) 2.38 (--map-user/--map-group) was the exec chain of the design;
 * pilot-exec now makes the same system calls itself, so an older or missing unshare costs
 * only this doctor's user-namespace probe and manual debugging: a warning.
 */
function checkUnshare(host: DoctorHost): DoctorCheck {
  const path = host.which('unshare');
  const fix = 'install util-linux 2.38 or newer (Debian 12: "apt-get install util-linux")';
  if (!path) {
    return check(
      'unshare',
      false,
      false,
      'unshare (util-linux) not in PATH: user namespaces were not probed',
      fix,
    );
  }
  const r = host.run(path, ['--version']);
  const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(r.stdout);
  const version = match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : [0, 0, 0];
  const good = atLeast(version, [2, 38]);
  return check(
    'unshare',
    false,
    good,
    `${path}: util-linux ${match ? match[0] : 'version unknown'}${good ? '' : ' (2.38 has --map-user/--map-group; pilot-exec does not need it)'}`,
    fix,
  );
}

function checkLauncher(launcher: string, helper: string | undefined): DoctorCheck[] {
  const helperPath = helper ?? join(dirname(launcher), 'pilot-exec');
  return [
    check(
      'launcher',
      true,
      statSafe(launcher),
      launcher,
      'reinstall pilot ("make install"): the launcher belongs next to the pilot CLI',
    ),
    check(
      'exec helper',
      true,
      isExecutable(helperPath),
      helperPath,
      'reinstall pilot ("make install"): pilot-exec must be an executable beside pilot-launch.mjs',
    ),
  ];
}

function statSafe(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function checkTools(host: DoctorHost): DoctorCheck[] {
  const found = (names: string[]) => names.filter((n) => host.which(n));
  const fetchers = found(['podman', 'skopeo']);
  const packagers = found(['dpkg', 'rpm']);
  // Node reads gzip itself; KIWI's .tar.xz archives and zstd layers need these programs.
  const decompressors = ['xz', 'zstd'].filter((n) => !host.which(n));
  return [
    check(
      'podman/skopeo',
      false,
      fetchers.length > 0,
      fetchers.length > 0
        ? `${fetchers.join(', ')} (for "pilot pull" of images in podman's storage; registries need neither)`
        : 'neither podman nor skopeo: "pilot pull" fetches from registries only, not from podman\'s storage',
      'install podman to pull images it holds (registries need neither)',
    ),
    check(
      'xz/zstd',
      false,
      decompressors.length === 0,
      decompressors.length === 0
        ? 'xz, zstd (for xz and zstd archives and layers)'
        : `${decompressors.join(' and ')} missing: "pilot load" and launches cannot read ${decompressors.join(' or ')}-compressed archives, layers or include tars`,
      `install ${decompressors.map((n) => (n === 'xz' ? 'xz-utils' : n)).join(' and ')}`,
    ),
    check(
      'dpkg/rpm',
      false,
      packagers.length > 0,
      packagers.length > 0
        ? `${packagers.join(', ')} (for host_packages)`
        : 'neither dpkg nor rpm: flakes with host_packages cannot list their files',
      'host_packages needs the host package manager; list host files in /removed instead',
    ),
  ];
}

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

function checkDirectory(name: string, dir: string, what: string): DoctorCheck {
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

function checkFreeSpace(host: DoctorHost, store: string): DoctorCheck {
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

function checkHardLinks(host: DoctorHost, store: string): DoctorCheck {
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

export function runDoctor(options: DoctorOptions): DoctorCheck[] {
  const host = options.host ?? systemHost();
  const { paths } = options;
  return [
    checkKernel(host),
    checkOverlay(host),
    checkMountNamespaces(host),
    checkUserNamespaces(host),
    checkUnshare(host),
    ...checkLauncher(options.launcher, options.helper),
    ...checkTools(host),
    checkDirectory('store', paths.store, 'store'),
    checkDirectory('runtime dir', paths.run, 'runtime directory'),
    checkAccessForOthers(
      paths,
      options.launcher,
      options.helper ?? join(dirname(options.launcher), 'pilot-exec'),
    ),
    checkFreeSpace(host, paths.store),
    checkHardLinks(host, paths.store),
    checkPlans(paths.run),
    checkStoreQuick(paths),
    ...checkIsolation(host),
  ];
}

/** The flake settings this host can honour (host-support.ts), for the caller running doctor. */
function checkIsolation(host: DoctorHost): DoctorCheck[] {
  return hostSupport(host.uid, (command, args) => host.run(command, args), host.readText).map((s) =>
    check(
      `option ${s.setting}`,
      false,
      s.ok,
      s.ok ? `supported: ${s.detail}` : `not supported: ${s.detail}`,
      'flakes that use it fail at launch; enable the kernel feature or remove the option',
    ),
  );
}

/** Cached fast-path plans whose inputs changed: harmless (the next call re-plans), but worth a `pilot gc`. */
function checkPlans(run: string): DoctorCheck {
  let plans: ReturnType<typeof listPlans>;
  try {
    plans = listPlans(run);
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

/** Exit status of `pilot doctor`: 1 when anything required failed. */
export function doctorExitCode(checks: DoctorCheck[]): number {
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}
