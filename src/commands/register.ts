/**
 * `pilot register`: pin the images, write the flake, link the app to the launcher.
 * Everything is checked before anything is written; the flake and the link are
 * each replaced atomically, and a failure after the flake is written restores it.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix } from 'node:path';
import { symlinkAtomic, writeFileAtomic } from '../core/atomic-fs.js';
import { PilotError } from '../core/errors.js';
import { assertAppName, type Flake, loadFlake, serializeFlake } from '../core/flake-file.js';
import { pathPresent } from '../core/fs-query.js';
import { type ImageRecord, resolveImage } from '../core/image-record.js';
import { claimLock } from '../core/lock.js';
import { hostPath, type PilotPaths } from '../core/paths.js';
import { type PodmanOptions, parsePodmanOptions } from '../core/podman-options.js';
import { dropPlans } from '../runtime/fast-plan.js';
import { collectHostFiles, treeLayers } from '../runtime/host-files.js';
import { LayeredTree } from '../runtime/image-tree.js';
import { imageSetting, type PlanImages, stackLayers } from '../runtime/launch-plan.js';
import { isPilotLink } from './apps.js';

export interface RegisterOptions {
  container: string;
  app: string;
  target?: string | undefined;
  base?: string | undefined;
  layers: string[];
  includeTar: string[];
  includePath: string[];
  hostPackages: string[];
  resume: boolean;
  attach: boolean;
  opts: string[];
  force: boolean;
}

export interface RegisterResult {
  app: string;
  flakeFile: string;
  link: string;
  target: string;
  flake: Flake;
  warnings: string[];
}

function flakeFileOf(paths: PilotPaths, app: string): string {
  return join(paths.flakes, `${app}.yaml`);
}

/** Without --target: the --app path when the composed image has that file, else `/`. */
export function defaultTarget(paths: PilotPaths, images: PlanImages, appPath: string): string {
  const tree = new LayeredTree(treeLayers(paths, stackLayers(images)));
  const entry = tree.lookup(tree.canonicalParent(appPath));
  return entry && !entry.stat.isDirectory() ? appPath : '/';
}

export function registerApp(
  paths: PilotPaths,
  options: RegisterOptions,
  launcher: string,
): RegisterResult {
  if (!isAbsolute(options.app)) {
    throw new PilotError('PILOT_USAGE', `--app must be an absolute path, got "${options.app}"`, {
      hint: 'e.g. --app /usr/bin/hello',
    });
  }
  const appPath = posix.normalize(options.app);
  const app = basename(appPath);
  assertAppName(app);
  if (options.target !== undefined && !isAbsolute(options.target)) {
    throw new PilotError(
      'PILOT_USAGE',
      `--target must be an absolute path inside the image, got "${options.target}"`,
    );
  }
  if (options.resume && options.attach) {
    throw new PilotError('PILOT_USAGE', '--resume and --attach exclude each other');
  }
  // Options pilot cannot honour are refused before anything is looked up or written.
  const podman = parsePodmanOptions(options.opts, {
    where: (index) => `--opt ${index + 1}`,
    kept: options.resume || options.attach,
  });
  for (const file of [...options.includeTar, ...options.includePath]) {
    if (!isAbsolute(file) || !existsSync(file)) {
      throw new PilotError(
        'PILOT_USAGE',
        `include "${file}" must be an existing absolute host path`,
      );
    }
  }

  const lock = claimLock(join(paths.flakes, `.${app}.lock`), `registration of ${app}`);
  try {
    return registerLocked(paths, options, podman, launcher, app, appPath);
  } finally {
    lock.release();
  }
}

/**
 * Whether an app's registration is whole: its flake reads and its link is there. A
 * registration killed between writing the flake and the link is not: the same
 * `register` again completes it without --force.
 */
function registrationComplete(paths: PilotPaths, app: string): boolean {
  try {
    const appPath = loadFlake(paths.flakes, app).flake.container.host_app_path;
    return appPath === undefined || isPilotLink(hostPath(paths, appPath));
  } catch {
    return true; // a broken flake is somebody's: only --force replaces it
  }
}

function registerLocked(
  paths: PilotPaths,
  options: RegisterOptions,
  podman: PodmanOptions,
  launcher: string,
  app: string,
  appPath: string,
): RegisterResult {
  const flakeFile = flakeFileOf(paths, app);
  const link = hostPath(paths, appPath);
  if (existsSync(flakeFile) && !options.force && registrationComplete(paths, app)) {
    throw new PilotError('PILOT_APP_EXISTS', `app "${app}" is already registered (${flakeFile})`, {
      hint: `use --force to replace it, or "pilot remove --app ${appPath}" first`,
    });
  }
  const linkExists = pathPresent(link);
  if (linkExists && !isPilotLink(link) && !options.force) {
    throw new PilotError('PILOT_PATH_IN_WAY', `${link} exists and is not a pilot app link`, {
      hint: 'remove it, choose another --app path, or pass --force to replace it',
    });
  }
  if (linkExists && lstatSync(link).isDirectory()) {
    throw new PilotError('PILOT_PATH_IN_WAY', `${link} is a directory`, {
      hint: 'choose another --app path',
    });
  }

  const digests: Record<string, string> = {};
  const pin = (ref: string): ImageRecord => {
    const record = resolveImage(paths, ref);
    digests[ref] = record.id;
    return record;
  };
  const images: PlanImages = {
    top: pin(options.container),
    layers: options.layers.map(pin),
    base: options.base ? pin(options.base) : undefined,
  };
  const target = options.target ?? defaultTarget(paths, images, appPath);
  const warnings = podman.noops.map((o) => `option "${o.option}" changes nothing: ${o.reason}`);
  // Not applied: a host command runs as its caller (DESIGN, identity); register says so.
  const user = imageSetting(images, 'User');
  if (user !== undefined && podman.user === undefined) {
    warnings.push(
      `the image runs as user "${user}", but a host command runs as its caller: pilot does not apply it (add --opt "--user ${user}" to run as that user)`,
    );
  }

  const flake: Flake = {
    include: { tar: options.includeTar, path: options.includePath },
    container: {
      name: options.container,
      target_app_path: target,
      host_app_path: appPath,
      ...(options.base ? { base_container: options.base } : {}),
      layers: options.layers,
      check_host_dependencies: false,
      digests,
      host_packages: options.hostPackages,
      runtime: {
        runas: 'root',
        resume: options.resume,
        attach: options.attach,
        podman: options.opts,
      },
    },
  };
  // Refuses a /removed path with `..` now rather than at the first launch.
  collectHostFiles(paths, flake, images);

  const previous = existsSync(flakeFile) ? readFileSync(flakeFile) : undefined;
  writeFileAtomic(flakeFile, serializeFlake(flake));
  try {
    mkdirSync(dirname(link), { recursive: true });
    symlinkAtomic(launcher, link);
  } catch (error) {
    if (previous) writeFileAtomic(flakeFile, previous);
    else rmSync(flakeFile, { force: true });
    throw new PilotError(
      'PILOT_PATH_IN_WAY',
      `cannot create the app link ${link}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  // A plan made for the previous registration is stale by its stamps; drop it anyway.
  dropPlans(paths.run, app);
  return { app, flakeFile, link, target, flake, warnings };
}
