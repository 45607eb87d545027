/**
 * `pilot check APP`: every host file the app needs, where the need comes from,
 * and whether the host has it. Missing files make the command exit 1.
 */
import { lstatSync } from 'node:fs';
import { basename } from 'node:path';
import { loadFlake } from '../core/flake-file.js';
import type { PilotPaths } from '../core/paths.js';
import { collectHostFiles } from '../runtime/host-files.js';
import { flakeImages } from '../runtime/launch.js';

export interface CheckedFile {
  path: string;
  source: string;
  present: boolean;
}

export interface CheckResult {
  app: string;
  files: CheckedFile[];
  missing: string[];
}

function presentOnHost(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export function checkApp(paths: PilotPaths, appOrPath: string): CheckResult {
  const app = basename(appOrPath);
  const { flake } = loadFlake(paths.flakes, app);
  const images = flakeImages(paths, flake);
  const files = collectHostFiles(paths, flake, images).map((request) => ({
    ...request,
    present: presentOnHost(request.path),
  }));
  return { app, files, missing: files.filter((f) => !f.present).map((f) => f.path) };
}
