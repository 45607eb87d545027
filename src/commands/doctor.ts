/**
 * `pilot doctor`: what this host supports, each finding with a fix. Read-only: it
 * never creates the store or any directory, so it works on a fresh host. Only what a
 * launch cannot do without (kernel features, the launcher and its exec helper) is
 * `fail`; the rest is `warn`. The findings are grouped by what they look at:
 * doctor-kernel.ts, doctor-store.ts, doctor-access.ts (what other callers can reach),
 * verify-quick.ts (the store's own state); this file checks pilot's own files and tools.
 */

import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PilotPaths } from '../core/paths.js';
import { checkAccessForOthers } from './doctor-access.js';
import { check, type DoctorCheck } from './doctor-check.js';
import { type DoctorHost, isExecutable, systemHost } from './doctor-host.js';
import {
  checkIsolation,
  checkKernel,
  checkMountNamespaces,
  checkOverlay,
  checkUnshare,
  checkUserNamespaces,
} from './doctor-kernel.js';
import { checkDirectory, checkFreeSpace, checkHardLinks, checkPlans } from './doctor-store.js';
import { checkStoreQuick } from './verify-quick.js';

export type { CheckStatus, DoctorCheck } from './doctor-check.js';
export { type CommandResult, type DoctorHost, systemHost } from './doctor-host.js';

export interface DoctorOptions {
  paths: PilotPaths;
  /** The launcher the CLI links apps to; the exec helper must sit beside it. */
  launcher: string;
  /** PILOT_EXEC override of the helper path (the launcher honours it too). */
  helper?: string | undefined;
  host?: DoctorHost;
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
    checkPlans(paths),
    checkStoreQuick(paths),
    ...checkIsolation(host),
  ];
}

/** Exit status of `pilot doctor`: 1 when anything required failed. */
export function doctorExitCode(checks: DoctorCheck[]): number {
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}
