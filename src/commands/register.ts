/**
 * `pilot register`: pin the images, write the flake, link the app to the launcher.
 * Everything is checked before anything is written; the flake and the link are
 * each replaced atomically, and a failure after the flake is written restores it.
 */
import { existsSync, lstatSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix } from 'node:path';
import { isAppLink, linkKind } from '../core/app-registry.js';
import { symlinkAtomic, writeFileAtomic } from '../core/atomic-fs.js';
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import {
  absoluteIncludes,
  assertAppName,
  type Flake,
  loadFlake,
  serializeFlake,
} from '../core/flake-file.js';
import { readFlakeFile } from '../core/flake-read.js';
import { pathOwner, pathPresent } from '../core/fs-query.js';
import { type ImageRecord, resolveImage } from '../core/image-record.js';
import { claimLock } from '../core/lock.js';
import { makeDirs } from '../core/modes.js';
import { hostPath, type PilotPaths } from '../core/paths.js';
import { type PodmanOptions, parsePodmanOptions } from '../core/podman-options.js';
import { dropAppPlans } from '../runtime/fast-plan.js';
import { collectHostFiles } from '../runtime/host-requirements.js';
import { LayeredTree, treeLayers } from '../runtime/image-tree.js';
import { checkIncludeTar } from '../runtime/include-tar-check.js';
import { imageSetting, type PlanImages, stackLayers } from '../runtime/launch-plan.js';
import { refProblem } from '../store/ref-names.js';
import { checkTarget } from './register-target.js';

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
  /** `container.check_host_dependencies` (flake-ctl's --check-host-dependencies). */
  checkHostDependencies?: boolean;
  /** `runtime.runas` (flake-ctl 2.2's --run-as); absent: the app runs as its caller. */
  runas?: string;
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

/**
 * Without `--target`, the app runs the `--app` path inside the image, as flake-ctl
 * writes it (DESIGN, Flake files); a warning says so when the image lacks that file
 * (`--target /` runs the image's entrypoint instead).
 */
export function defaultTarget(
  paths: PilotPaths,
  images: PlanImages,
  appPath: string,
): { target: string; warning?: string } {
  const tree = new LayeredTree(treeLayers(paths, stackLayers(images)));
  const entry = tree.lookup(tree.canonicalParent(appPath));
  if (entry && !entry.stat.isDirectory()) return { target: appPath };
  return {
    target: appPath,
    warning: `${appPath} is not a file in the image: the app runs it from the host files or include tars that provide it, or fails (give --target PATH, or --target / for the image's entrypoint)`,
  };
}

/**
 * The flake `register` writes: upstream's keys as flake-ctl writes them (the refs as
 * given, `runas: root`, an include section even when empty) plus pilot's digests and
 * host packages. Kept pure so that a unit test can hold every shape to flake-pilot
 * 3.1.44's schema.
 */
export function registrationFlake(
  options: Pick<
    RegisterOptions,
    | 'container'
    | 'base'
    | 'layers'
    | 'includeTar'
    | 'includePath'
    | 'hostPackages'
    | 'resume'
    | 'attach'
    | 'opts'
    | 'checkHostDependencies'
    | 'runas'
  >,
  target: string,
  appPath: string,
  digests: Record<string, string>,
): Flake {
  return {
    include: { tar: [...options.includeTar], path: [...options.includePath] },
    container: {
      name: options.container,
      target_app_path: target,
      host_app_path: appPath,
      ...(options.base ? { base_container: options.base } : {}),
      layers: [...options.layers],
      check_host_dependencies: options.checkHostDependencies ?? false,
      digests,
      host_packages: [...options.hostPackages],
      host_files: 'skip_missing',
      runtime: {
        runas: options.runas ?? 'root',
        resume: options.resume,
        attach: options.attach,
        podman: [...options.opts],
      },
    },
  };
}

/** The arguments as checked, with include tars read: what registerApp goes on from. */
export interface PreparedRegistration {
  app: string;
  appPath: string;
  podman: PodmanOptions;
  include: { tar: string[]; path: string[] };
  includeWarnings: string[];
  includeNames: Set<string>[];
}

/** Everything about the arguments that can be checked before anything is looked up. */
function prepareRegistration(options: RegisterOptions): PreparedRegistration {
  if (!isAbsolute(options.app)) {
    throw new PilotError(
      'PILOT_USAGE',
      `--app must be an absolute path, got ${quoteExcerpt(options.app)}`,
      {
        hint: 'e.g. --app /usr/bin/hello',
      },
    );
  }
  // "/usr/bin/" or "/usr/bin/." names the directory, not a command in it: never take
  // its last word for the app's name (nor offer to replace the directory).
  const last = options.app.slice(options.app.lastIndexOf('/') + 1);
  if (last === '' || last === '.' || last === '..') {
    throw new PilotError(
      'PILOT_USAGE',
      `--app ${quoteExcerpt(options.app)} names a directory, not a command (it ends in "/${last}")`,
      { hint: 'give the path of the command to create, e.g. --app /usr/bin/hello' },
    );
  }
  const appPath = posix.normalize(options.app);
  if (options.app.split('/').includes('..')) {
    // The link would land elsewhere than the path reads, and flake-ctl writes the path as given.
    throw new PilotError('PILOT_USAGE', `--app ${quoteExcerpt(options.app)} has a ".." component`, {
      hint: `give the path itself: --app ${quoteExcerpt(appPath)}`,
    });
  }
  const app = basename(appPath);
  assertAppName(app);
  if (options.target !== undefined && !isAbsolute(options.target)) {
    throw new PilotError(
      'PILOT_USAGE',
      `--target must be an absolute path inside the image, got ${quoteExcerpt(options.target)}`,
    );
  }
  if (options.resume && options.attach) {
    throw new PilotError('PILOT_USAGE', '--resume and --attach exclude each other');
  }
  const refs: [string, string | undefined][] = [
    ['--container', options.container],
    ['--base', options.base],
    ...options.layers.map((layer): [string, string] => ['--layer', layer]),
  ];
  for (const [flag, ref] of refs) {
    const problem = ref === undefined ? undefined : refProblem(ref);
    if (problem !== undefined) {
      throw new PilotError(
        'PILOT_USAGE',
        `${flag} ${quoteExcerpt(ref ?? '')} is not a valid image name: ${problem}`,
        { hint: '"pilot images" lists the images of the store by name' },
      );
    }
  }
  // Options pilot cannot honour are refused before anything is looked up or written.
  const podman = parsePodmanOptions(options.opts, {
    where: (index) => `--opt ${index + 1}`,
    kept: options.resume || options.attach,
  });
  // A relative include is made absolute here, once (flake-pilot would resolve it against
  // each caller's cwd at launch: whoever controls that directory would choose the files).
  const { include, warnings: includeWarnings } = absoluteIncludes(
    { tar: options.includeTar, path: options.includePath },
    process.cwd(),
  );
  for (const file of [...include.tar, ...include.path]) {
    if (!existsSync(file)) {
      throw new PilotError('PILOT_USAGE', `include ${quoteExcerpt(file)} does not exist`, {
        hint: 'name an existing host file or directory',
      });
    }
  }
  // Each include tar is read now (a file that is no tar would fail every launch).
  const includeNames = include.tar.map(checkIncludeTar);
  return { app, appPath, podman, include, includeWarnings, includeNames };
}

/**
 * What `register` would refuse before it needs the images: bad arguments, an app that is
 * registered already, a path in the way. The CLI asks this before it pulls a missing
 * image, so that a refused registration fetches nothing, and hands the result on to
 * registerApp. The slot is checked again there, under the app's lock.
 */
export function checkRegistration(
  paths: PilotPaths,
  options: RegisterOptions,
): PreparedRegistration {
  const prepared = prepareRegistration(options);
  checkAppSlot(paths, options, prepared.app, prepared.appPath);
  return prepared;
}

/** `prepared`: what checkRegistration gave for the same options (include tars read once). */
export function registerApp(
  paths: PilotPaths,
  options: RegisterOptions,
  launcher: string,
  prepared: PreparedRegistration = prepareRegistration(options),
): RegisterResult {
  const { app, appPath, podman, include, includeWarnings, includeNames } = prepared;
  const lock = claimLock(join(paths.flakes, `.${app}.lock`), `registration of ${app}`);
  try {
    const absolute = { ...options, includeTar: include.tar, includePath: include.path };
    const result = registerLocked(paths, absolute, podman, launcher, app, appPath, includeNames);
    result.warnings.unshift(...includeWarnings);
    return result;
  } finally {
    lock.release();
  }
}

/**
 * Whether an app's registration is whole: its flake reads and its link is there. A
 * registration killed between writing the flake and the link is not: the same
 * `register` again completes it without --force.
 */
export function registrationComplete(paths: PilotPaths, app: string): boolean {
  try {
    const appPath = loadFlake(paths.flakes, app).flake.container.host_app_path;
    // flake-pilot's link (to podman-pilot) makes a whole registration too: flake-ctl's.
    return appPath === undefined || isAppLink(hostPath(paths, appPath));
  } catch {
    return true; // a broken flake is somebody's: only --force replaces it
  }
}

/** The flake `--force` replaces, to put back if the link cannot be made (a FIFO has none). */
export function previousFlake(paths: PilotPaths, file: string): string | undefined {
  try {
    return readFlakeFile(file, pathOwner(paths.flakes)).text;
  } catch {
    return undefined;
  }
}

/** An app registered already (without --force) or a path in the way is refused. */
function checkAppSlot(
  paths: PilotPaths,
  options: RegisterOptions,
  app: string,
  appPath: string,
): void {
  const flakeFile = flakeFileOf(paths, app);
  const link = hostPath(paths, appPath);
  if (existsSync(flakeFile) && !options.force && registrationComplete(paths, app)) {
    const upstream = linkKind(link) === 'flake-pilot';
    throw new PilotError(
      'PILOT_APP_EXISTS',
      `app "${app}" is already registered (${flakeFile})${upstream ? ` by flake-pilot: ${link} links to podman-pilot` : ''}`,
      {
        hint: `${upstream ? '"pilot migrate" makes it a pilot app as it is; ' : ''}use --force to replace it, or "pilot remove --app ${appPath}" first`,
      },
    );
  }
  const linkExists = pathPresent(link);
  // A directory first: --force replaces a file in the way, never a directory.
  if (linkExists && lstatSync(link).isDirectory()) {
    throw new PilotError('PILOT_PATH_IN_WAY', `--app ${link} is a directory`, {
      hint: 'give the path of the command to create inside it, e.g. --app /usr/bin/hello',
    });
  }
  // flake-pilot's link is replaced like pilot's own; nothing else is without --force.
  if (linkExists && !isAppLink(link) && !options.force) {
    throw new PilotError('PILOT_PATH_IN_WAY', `${link} exists and is not a pilot app link`, {
      hint: 'remove it, choose another --app path, or pass --force to replace it',
    });
  }
}

function registerLocked(
  paths: PilotPaths,
  options: RegisterOptions,
  podman: PodmanOptions,
  launcher: string,
  app: string,
  appPath: string,
  includeNames: Set<string>[],
): RegisterResult {
  checkAppSlot(paths, options, app, appPath);
  const flakeFile = flakeFileOf(paths, app);
  const link = hostPath(paths, appPath);

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
  const chosen = options.target === undefined ? defaultTarget(paths, images, appPath) : undefined;
  const target = options.target ?? chosen!.target;
  const warnings = podman.noops.map((o) => `option "${o.option}" changes nothing: ${o.reason}`);
  if (chosen?.warning) warnings.push(chosen.warning);
  // Not applied: a host command runs as its caller (DESIGN, identity); register says so.
  const user = imageSetting(images, 'User');
  if (user !== undefined && podman.user === undefined) {
    warnings.push(
      `the image runs as user "${user}", but a host command runs as its caller: pilot does not apply it (add --opt "--user ${user}" to run as that user)`,
    );
  }

  const flake = registrationFlake(options, target, appPath, digests);
  // Refuses a /removed path with `..` now rather than at the first launch.
  const hostFiles = collectHostFiles(paths, flake, images);
  if (options.target !== undefined) {
    const warning = checkTarget(
      options.target,
      {
        tree: new LayeredTree(treeLayers(paths, stackLayers(images))),
        hostFiles,
        includeNames: () => includeNames.flatMap((names) => [...names]),
        volumes: podman.volumes.map((v) => v.target),
      },
      options.force,
    );
    if (warning) warnings.push(warning);
  }

  const previous = previousFlake(paths, flakeFile);
  writeFileAtomic(flakeFile, serializeFlake(flake));
  try {
    makeDirs(dirname(link));
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
  dropAppPlans(paths, app);
  return { app, flakeFile, link, target, flake, warnings };
}
