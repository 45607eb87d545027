/**
 * Registered apps: the flakes directory and the host symlinks, shared by
 * register, remove, list, show and gc.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { errnoOf, PilotError } from './errors.js';
import { escapeName } from './excerpt.js';
import { type Flake, type FlakeWarning, loadFlake } from './flake-file.js';
import { listDir } from './list-dir.js';
import { hostPath, type PilotPaths } from './paths.js';
import { closedDirectory, who } from './system-error.js';

/** File names a pilot app link may point at (the Node launcher or the exec stub). */
export const LAUNCHER_NAMES = new Set(['pilot-launch.mjs', 'pilot-exec']);

/**
 * The file name of flake-pilot's launcher: flake-ctl links an app to
 * `/usr/bin/podman-pilot` (absolute; a packager may make it relative, a test root
 * puts it under PILOT_ROOT), so the last word of the link is what tells it.
 */
export const FLAKE_PILOT_LAUNCHER = 'podman-pilot';

/**
 * What an app's host path is: `pilot` (a link to pilot's launcher), `flake-pilot` (a
 * link to podman-pilot: the app is flake-pilot's until `pilot migrate`), `foreign`
 * (anything else, which pilot never follows or replaces) or `missing`.
 */
export type LinkKind = 'pilot' | 'flake-pilot' | 'foreign' | 'missing';

export function linkKind(path: string): LinkKind {
  try {
    if (!lstatSync(path).isSymbolicLink()) return 'foreign';
    const name = basename(readlinkSync(path));
    if (LAUNCHER_NAMES.has(name)) return 'pilot';
    return name === FLAKE_PILOT_LAUNCHER ? 'flake-pilot' : 'foreign';
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw error;
  }
}

export function isPilotLink(path: string): boolean {
  return linkKind(path) === 'pilot';
}

/** A link pilot may remove or replace as its own: pilot's, or flake-pilot's (flake-ctl users expect it). */
export function isAppLink(path: string): boolean {
  const kind = linkKind(path);
  return kind === 'pilot' || kind === 'flake-pilot';
}

/** What `show` and `check` say of an app that flake-pilot still launches. */
export function flakePilotNote(appPath: string): string {
  return `${appPath} links to podman-pilot: flake-pilot launches this app, not pilot; "pilot migrate" makes it pilot's (its images into pilot's store, digests pinned, the link re-pointed)`;
}

/** For `show`: the app's link kind, and a comment line when flake-pilot still launches it. */
export function linkNote(paths: PilotPaths, flake: Flake): { link: LinkKind | null; note: string } {
  const appPath = flake.container.host_app_path;
  const link = appLinkKind(paths, appPath);
  return { link, note: link === 'flake-pilot' ? `# ${flakePilotNote(appPath!)}\n` : '' };
}

/** The kind of the link of an app whose flake names `appPath`; null when it names none. */
export function appLinkKind(paths: PilotPaths, appPath: string | undefined): LinkKind | null {
  return appPath === undefined ? null : linkKind(hostPath(paths, appPath));
}

export function appNames(paths: PilotPaths): string[] {
  let names: string[];
  try {
    names = listDir(paths.flakes);
  } catch (error) {
    const code = errnoOf(error);
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    // Made private by hand, or by an earlier pilot under root's umask 077; or a directory
    // above it (a private --root) is closed to this user.
    const closed = closedDirectory(paths.flakes);
    const because = closed === undefined ? '' : `: ${who()} may not enter ${escapeName(closed)}`;
    throw new PilotError(
      'PILOT_NEEDS_PRIVILEGE',
      `cannot read the flakes directory ${escapeName(paths.flakes)}: permission denied${because}`,
      {
        hint: `its owner can let every user list and run its apps: "chmod o+rx ${escapeName(closed ?? paths.flakes)}" ("pilot doctor" names every such path)`,
        cause: error,
      },
    );
  }
  return names
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export type AppEntry =
  | { app: string; ok: true; flake: Flake; warnings: FlakeWarning[]; files: string[] }
  /** `engine`: a flake of an engine this host lacks (`firecracker` for a `vm:` flake). */
  | { app: string; ok: false; error: unknown; engine?: string };

/** Every app with its merged flake; a broken flake is an entry with its error, not a failure. */
export function loadApps(paths: PilotPaths): AppEntry[] {
  return appNames(paths).map((app) => {
    try {
      return { app, ok: true as const, ...loadFlake(paths.flakes, app) };
    } catch (error) {
      if (error instanceof PilotError && error.code === 'PILOT_ENGINE_MISSING')
        return { app, ok: false as const, error, engine: 'firecracker' };
      return { app, ok: false as const, error };
    }
  });
}

/** Image ids each app pins (its digests), for rmi's in-use check and gc. */
export function pinnedIds(entry: AppEntry): string[] {
  return entry.ok ? Object.values(entry.flake.container.digests) : [];
}

export function appsUsingImage(paths: PilotPaths, id: string): string[] {
  return loadApps(paths)
    .filter((entry) => pinnedIds(entry).includes(id))
    .map((entry) => entry.app);
}
