/**
 * Which host pilot provides files from: `PILOT_HOST_ROOT` and `PILOT_HOST_PACKAGES`
 * (docs/design.md, "The host root"). Both exist so that a test, a chroot or an image
 * build can point pilot at another system tree (a root that an rpm database was
 * installed into with `rpm --root`) without touching the machine's own; unset, the host
 * is `/` and its package manager is found as before.
 *
 * On the launch path: only a string check here, no file system access.
 */
import { PilotError } from './errors.js';
import { quoteExcerpt } from './excerpt.js';

/** `auto`: dpkg when the root has dpkg's status file, else rpm when it has an rpm database. */
export type PackageManagerChoice = 'auto' | 'dpkg' | 'rpm' | 'none';

export interface HostSettings {
  /** `/`, or an absolute path without a trailing slash: host paths are looked up inside it. */
  root: string;
  packages: PackageManagerChoice;
}

/** The caller variables these settings come from (a fast plan depends on their values). */
export const HOST_SETTING_VARIABLES = ['PILOT_HOST_ROOT', 'PILOT_HOST_PACKAGES'] as const;

const CHOICES: readonly PackageManagerChoice[] = ['auto', 'dpkg', 'rpm', 'none'];

export function hostSettings(env: NodeJS.ProcessEnv = process.env): HostSettings {
  return { root: hostRootOf(env.PILOT_HOST_ROOT), packages: packagesOf(env.PILOT_HOST_PACKAGES) };
}

function hostRootOf(given: string | undefined): string {
  // An empty value means unset, as for PILOT_ROOT.
  if (given === undefined || given === '') return '/';
  const parts = given.split('/').filter((part) => part !== '' && part !== '.');
  if (!given.startsWith('/') || parts.includes('..') || given.includes('\n')) {
    throw new PilotError(
      'PILOT_USAGE',
      `PILOT_HOST_ROOT ${quoteExcerpt(given)} is not an absolute path without ".." and newlines`,
      {
        hint: 'give the directory the host system is installed in (PILOT_HOST_ROOT=/srv/host), or unset it for /',
      },
    );
  }
  return parts.length === 0 ? '/' : `/${parts.join('/')}`;
}

function packagesOf(given: string | undefined): PackageManagerChoice {
  if (given === undefined || given === '') return 'auto';
  if ((CHOICES as readonly string[]).includes(given)) return given as PackageManagerChoice;
  throw new PilotError(
    'PILOT_USAGE',
    `PILOT_HOST_PACKAGES ${quoteExcerpt(given)} is not a package manager pilot reads`,
    { hint: `set it to one of ${CHOICES.join(', ')} (auto, the default, prefers dpkg)` },
  );
}

/** `path` (absolute) on the host: inside the host root. */
export function onHost(root: string, path: string): string {
  return root === '/' ? path : root + path;
}
