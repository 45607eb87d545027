/**
 * `pilot show APP`: an app's merged flake (its file and drop-ins), what its link is, and
 * what its settings do on this host (effective.ts). The CLI prints the flake as YAML
 * with the effective settings after it, or all of it as JSON.
 */
import { basename } from 'node:path';
import { type LinkKind, linkNote } from '../core/app-registry.js';
import { type Flake, type FlakeWarning, loadFlake } from '../core/flake-file.js';
import type { PilotPaths } from '../core/paths.js';
import { type EffectiveSettings, effectiveSettings } from './effective.js';

export interface ShownApp {
  flake: Flake;
  /** The flake file and its drop-ins, in the order they were merged. */
  files: string[];
  link: LinkKind | null;
  /** A comment line for the YAML when flake-pilot still launches the app, else ''. */
  note: string;
  effective: EffectiveSettings;
}

export interface ShowOptions {
  /** Each warning of the flake, as soon as it is read (before anything else can fail). */
  onWarning?: (warning: FlakeWarning) => void;
  /** The caller's uid, whose view of the settings is shown (default: this process's). */
  uid?: number;
}

export async function showApp(
  paths: PilotPaths,
  app: string,
  options: ShowOptions = {},
): Promise<ShownApp> {
  const loaded = loadFlake(paths.flakes, basename(app));
  const { flake, warnings, files } = loaded;
  for (const warning of warnings) options.onWarning?.(warning);
  const image: { User?: string | undefined; WorkingDir?: string | undefined } = {};
  try {
    const { flakeImages } = await import('../runtime/launch.js');
    const { imageSetting } = await import('../runtime/launch-plan.js');
    const images = flakeImages(paths, flake);
    image.User = imageSetting(images, 'User');
    image.WorkingDir = imageSetting(images, 'WorkingDir');
  } catch {
    // an image gone from the store: the flake is still shown
  }
  const uid = options.uid ?? process.getuid?.() ?? 0;
  const effective = effectiveSettings(flake, loaded.podmanAt, image, uid);
  const { link, note } = linkNote(paths, flake);
  return { flake, files, link, note, effective };
}
