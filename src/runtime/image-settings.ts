/**
 * What the app's images decide for a launch: their layers as one stack, the image
 * config's User, WorkingDir and Env (the top image's first), and the program with its
 * arguments (target_app_path, else the image's Entrypoint and Cmd). Pure.
 */
import { PilotError } from '../core/errors.js';
import type { Flake } from '../core/flake-file.js';
import type { ImageConfig } from '../core/image-record.js';
import type { PlanImages } from './launch-plan.js';

/** Layer dirs of all images, top first, each layer once (a full delta may repeat base layers). */
export function stackLayers(images: PlanImages): string[] {
  const bottomFirst: string[] = [];
  if (images.base) bottomFirst.push(...images.base.layers);
  for (const image of images.layers) bottomFirst.push(...image.layers);
  bottomFirst.push(...images.top.layers);
  const seen = new Set<string>();
  const topFirst: string[] = [];
  for (const layer of bottomFirst.reverse()) {
    if (seen.has(layer)) continue;
    seen.add(layer);
    topFirst.push(layer);
  }
  return topFirst;
}

/** The image config that applies: top image first, then layers (top first), then base. */
function configsTopFirst(images: PlanImages): ImageConfig[] {
  const configs = [images.top.config];
  for (const image of [...images.layers].reverse()) configs.push(image.config);
  if (images.base) configs.push(images.base.config);
  return configs;
}

/** An image config's `User` or `WorkingDir` that applies (top image first), or undefined. */
export function imageSetting(images: PlanImages, key: 'User' | 'WorkingDir'): string | undefined {
  for (const config of configsTopFirst(images)) {
    const value = config[key];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

export function mergedImageEnv(images: PlanImages): Map<string, string> {
  const env = new Map<string, string>();
  for (const config of configsTopFirst(images).reverse()) {
    for (const entry of config.Env ?? []) {
      const eq = entry.indexOf('=');
      if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
  }
  return env;
}

/**
 * The program the app runs: target_app_path, or without one the app's own name (the
 * name it is called by), looked up in the image's PATH as podman-pilot's
 * `--entrypoint NAME` does (DESIGN, Flake files).
 */
export function targetOf(flake: Flake, app: string): string {
  return flake.container.target_app_path ?? app;
}

/**
 * The program and its arguments. An absolute target_app_path runs that file with
 * the caller's arguments; `/` runs the image's Entrypoint (caller arguments replace
 * Cmd, as in Docker) or, without Entrypoint, the first word of Cmd (caller
 * arguments replace the rest); a bare name is looked up in the app's PATH.
 */
export interface CommandParts {
  program: string;
  /** Always passed (the Entrypoint's own arguments). */
  fixed: string[];
  /** Passed when the caller gives no arguments (Cmd). */
  defaults: string[];
}

/**
 * The program and its arguments. An absolute target_app_path runs that file with
 * the caller's arguments; `/` runs the image's Entrypoint (caller arguments replace
 * Cmd, as in Docker) or, without Entrypoint, the first word of Cmd (caller
 * arguments replace the rest).
 */
export function commandParts(
  target: string,
  images: PlanImages,
  entrypointOverride?: readonly string[],
): CommandParts {
  if (target !== '/') return { program: target, fixed: [], defaults: [] };
  const configs = configsTopFirst(images);
  const withCommand = configs.find(
    (c) => (c.Entrypoint?.length ?? 0) > 0 || (c.Cmd?.length ?? 0) > 0,
  );
  const entrypoint = entrypointOverride ?? withCommand?.Entrypoint ?? [];
  const cmd = entrypointOverride ? [] : (withCommand?.Cmd ?? []);
  if (entrypoint.length > 0) {
    return { program: entrypoint[0]!, fixed: entrypoint.slice(1), defaults: [...cmd] };
  }
  if (cmd.length > 0) return { program: cmd[0]!, fixed: [], defaults: cmd.slice(1) };
  throw new PilotError(
    'PILOT_FLAKE_INVALID',
    `target_app_path is "/" but image ${images.top.id} has neither Entrypoint nor Cmd`,
    { hint: 'set container.target_app_path to the program inside the image', exitCode: 125 },
  );
}

export function resolveCommand(
  target: string,
  images: PlanImages,
  callerArgs: readonly string[],
  entrypointOverride?: readonly string[],
): { program: string; args: string[] } {
  const parts = commandParts(target, images, entrypointOverride);
  return {
    program: parts.program,
    args: [...parts.fixed, ...(callerArgs.length > 0 ? callerArgs : parts.defaults)],
  };
}
