/**
 * `pilot check APP`: every host file the app needs (include.path, include.tar,
 * `/removed`, host packages and `/systemfiles`), where the need comes from, and whether
 * the host has it. A missing required file or a requested package that is not installed
 * makes the command exit 1, a `/removed` path too although a launch skips it unless the
 * flake says `host_files: strict` (the summary says which). A file a package lists but the host does not have was never
 * installed (dpkg's path-exclude drops docs): it is reported as absent, not missing.
 */
import { accessSync, constants, lstatSync } from 'node:fs';
import { basename } from 'node:path';
import { appLinkKind, flakePilotNote, type LinkKind } from '../core/app-registry.js';
import { isPilotError, PilotError } from '../core/errors.js';
import { type Flake, type HostFilesPolicy, loadFlake } from '../core/flake-file.js';
import { hostSettings, onHost } from '../core/host-root.js';
import type { PilotPaths } from '../core/paths.js';
import {
  collectHostRequirements,
  type HostFileOptions,
  type HostFileOrigin,
} from '../runtime/host-requirements.js';
import { flakeImages } from '../runtime/launch.js';

export interface CheckedFile {
  path: string;
  source: string;
  origin: HostFileOrigin | 'include.tar';
  present: boolean;
  /** False for package files: their absence is not an error. */
  required: boolean;
}

export interface CheckedPackage {
  name: string;
  source: string;
  installed: boolean;
}

export interface CheckResult {
  app: string;
  /** The app's link (apps.ts): `flake-pilot` makes the check fail until `pilot migrate`. */
  link: LinkKind | null;
  /** The host's package database: `dpkg`, `rpm` or `none`. */
  database: string;
  packages: CheckedPackage[];
  /** Packages the base image has itself, so the host need not provide them. */
  inImage: string[];
  files: CheckedFile[];
  /** Required host files that are missing. */
  missing: string[];
  /** Requested host packages that are not installed. */
  missingPackages: string[];
  /** container.host_files: whether a launch skips (default) or fails on a missing /removed path. */
  hostFiles: HostFilesPolicy;
  /** Copies of /systemfiles that are not read (only the base image's counts). */
  ignored: string[];
  ok: boolean;
}

/** There, and readable by this caller: a file it cannot read is missing for it (DESIGN.md, /removed). */
function presentOnHost(path: string): boolean {
  try {
    const stat = lstatSync(path);
    if (stat.isFile() && process.getuid?.() !== 0) accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export function checkApp(
  paths: PilotPaths,
  appOrPath: string,
  options: HostFileOptions = {},
): CheckResult {
  const app = basename(appOrPath);
  const { flake } = loadFlake(paths.flakes, app);
  const link = appLinkKind(paths, flake.container.host_app_path);
  const images = imagesOf(paths, flake, link);
  const host = hostSettings();
  const hostRoot = options.hostRoot ?? host.root;
  const requirements = collectHostRequirements(paths, flake, images, {
    packages: host.packages,
    ...options,
    hostRoot,
  });
  const files: CheckedFile[] = [
    ...flake.include.tar.map((tar) => ({
      path: tar,
      source: 'include.tar',
      origin: 'include.tar' as const,
      present: presentOnHost(tar),
      required: true,
    })),
    ...requirements.files.map((request) => ({
      ...request,
      present: presentOnHost(onHost(hostRoot, request.path)),
      required: request.origin !== 'package',
    })),
  ];
  const packages: CheckedPackage[] = [
    ...requirements.packages.map((p) => ({ ...p, installed: true })),
    ...requirements.missingPackages.map((p) => ({ ...p, installed: false })),
  ];
  const missing = files.filter((f) => f.required && !f.present).map((f) => f.path);
  const missingPackages = requirements.missingPackages.map((p) => p.name);
  return {
    app,
    link,
    database: requirements.database,
    packages,
    inImage: requirements.inImage,
    files,
    missing,
    missingPackages,
    hostFiles: flake.container.host_files,
    ignored: requirements.ignored,
    ok: missing.length === 0 && missingPackages.length === 0 && link !== 'flake-pilot',
  };
}

/** The app's images; a flake-pilot app's are in podman's storage until `pilot migrate`. */
function imagesOf(paths: PilotPaths, flake: Flake, link: LinkKind | null) {
  try {
    return flakeImages(paths, flake);
  } catch (error) {
    if (link !== 'flake-pilot' || !isPilotError(error) || error.code !== 'PILOT_IMAGE_UNKNOWN')
      throw error;
    throw new PilotError(
      'PILOT_IMAGE_UNKNOWN',
      `${error.message}: ${flakePilotNote(flake.container.host_app_path!)}`,
      { hint: 'run "pilot migrate" (or "pilot migrate --dry-run" to see what it would do)' },
    );
  }
}

/** The rows `pilot check` prints: STATUS, WHAT, NEEDED BY. */
export function checkRows(result: CheckResult): string[][] {
  return [
    ...(result.link === 'flake-pilot'
      ? [['NOT MIGRATED', 'app link to podman-pilot', 'run "pilot migrate"']]
      : []),
    ...result.packages.map((p) => [
      p.installed ? 'ok' : 'NOT INSTALLED',
      `package ${p.name}`,
      p.source,
    ]),
    ...result.files.map((f) => [
      f.present ? 'ok' : f.required ? 'MISSING' : 'absent',
      f.path,
      f.source,
    ]),
  ];
}

/** The last lines of `pilot check`: what is missing, what a launch does about it, notes. */
export function checkSummary(result: CheckResult): string {
  const notes = result.ignored.map(
    (copy) => `note: ${copy} is not read: only the base image's copy counts (as in flake-pilot)`,
  );
  const parts: string[] = [];
  const required = result.files.filter((f) => f.required).length;
  if (result.missing.length > 0) {
    const removed = result.files.filter((f) => f.origin === 'removed' && !f.present).length;
    parts.push(`${result.missing.length} of ${required} required host file(s) missing`);
    if (removed > 0)
      notes.push(
        result.hostFiles === 'strict'
          ? `note: container.host_files is strict: a launch fails while a /removed path is missing`
          : `note: a launch skips the ${removed} missing /removed path(s) (container.host_files: skip_missing; "strict" makes them fatal)`,
      );
  }
  if (result.missingPackages.length > 0)
    parts.push(`host package(s) not installed: ${result.missingPackages.join(', ')}`);
  if (result.link === 'flake-pilot')
    parts.push('flake-pilot launches it until "pilot migrate" re-points its link to pilot');
  if (parts.length > 0) return [`${result.app}: ${parts.join('; ')}`, ...notes].join('\n');
  const absent = result.files.filter((f) => !f.required && !f.present).length;
  const packages = result.packages.length;
  return [
    `${result.app}: all ${result.files.length - absent} host file(s) present${packages > 0 ? ` (${packages} host package(s)${absent > 0 ? `; ${absent} listed file(s) absent, never installed` : ''})` : ''}`,
    ...notes,
  ].join('\n');
}
