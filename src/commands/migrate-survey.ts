/**
 * `pilot migrate`: which apps are flake-pilot's, read as pilot will read them once
 * migrated (their relative includes made absolute, migrate-includes.ts).
 */

import { linkKind } from '../core/app-registry.js';
import { isPilotError } from '../core/errors.js';
import type { Flake, FlakeSource } from '../core/flake-file.js';
import { flakeFromSources, readFlakeSources } from '../core/flake-file.js';
import { hostPath, type PilotPaths } from '../core/paths.js';
import { absoluteIncludesText, type IncludeRewrite } from './migrate-includes.js';

export interface Candidate {
  app: string;
  /** The flake files as they are on disk. */
  sources: FlakeSource[];
  /** The main file's text with its relative includes made absolute (else its text). */
  mainText: string;
  rewrites: IncludeRewrite[];
  /** The flake as pilot reads it once those includes are absolute. */
  flake: Flake;
  appPath: string;
  link: string;
}

/** One app as it is now: a candidate for migrate, or why not. */
export function survey(
  paths: PilotPaths,
  app: string,
  cwd: string | undefined,
): Candidate | { skip: 'already' | 'skipped'; why?: string } {
  let sources: FlakeSource[];
  let flake: Flake;
  let mainText: string;
  let rewrites: IncludeRewrite[];
  try {
    sources = readFlakeSources(paths.flakes, app);
    const [main, ...dropIns] = sources;
    // A flake-pilot flake may hold relative includes, which pilot's reader refuses: it is
    // read as it will be written. One in a drop-in stays an error (migrate writes only
    // the main file), and skips the app with the reader's message naming file:line.
    ({ text: mainText, rewrites } = absoluteIncludesText(main!.file, main!.text, cwd));
    flake = flakeFromSources([{ ...main!, text: mainText }, ...dropIns]).flake;
  } catch (error) {
    if (!isPilotError(error)) throw error;
    return { skip: 'skipped', why: `its flake does not read: ${error.message}` };
  }
  const appPath = flake.container.host_app_path;
  if (appPath === undefined) return { skip: 'skipped', why: 'its flake names no host_app_path' };
  const link = hostPath(paths, appPath);
  const kind = linkKind(link);
  if (kind === 'pilot') return { skip: 'already' };
  if (kind === 'missing') return { skip: 'skipped', why: `${link} does not exist` };
  if (kind === 'foreign') {
    return { skip: 'skipped', why: `${link} is not a link to podman-pilot: not touched` };
  }
  return { app, sources, mainText, rewrites, flake, appPath, link };
}

/** Where migrate runs; undefined when it cannot be told (a deleted directory). */
export function adminCwd(cwd: string | undefined): string | undefined {
  if (cwd !== undefined) return cwd;
  try {
    return process.cwd();
  } catch {
    return undefined;
  }
}

export function refsOf(flake: Flake): string[] {
  const c = flake.container;
  return [...new Set([c.name, ...c.layers, ...(c.base_container ? [c.base_container] : [])])];
}
