/**
 * `pilot register --from-flake FILE`: registers an app from a flake file as it is (an app
 * package's postinst does this with the flake it ships): every field and pin is kept,
 * byte for byte, and `FILE`'s drop-ins (`NAME.d/*.yaml` beside it) come along. The app's
 * name is FILE's (`NAME.yaml`), its link the flake's `host_app_path`. Every check
 * `register` makes runs before anything is written; the pinned images must be in the
 * store already (the package loads or pulls them first). The flake, each drop-in and the
 * link are replaced by rename: an app registered before stays runnable throughout.
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { isAppLink } from '../core/app-registry.js';
import { symlinkAtomic, writeFileAtomic } from '../core/atomic-fs.js';
import { errnoOf, isPilotError, PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import {
  assertAppName,
  type Flake,
  flakeFromSources,
  readFlakeSources,
} from '../core/flake-file.js';
import { pathPresent } from '../core/fs-query.js';
import { claimLock } from '../core/lock.js';
import { makeDirs } from '../core/modes.js';
import { hostPath, type PilotPaths } from '../core/paths.js';
import { parsePodmanOptions } from '../core/podman-options.js';
import { dropAppPlans } from '../runtime/fast-plan.js';
import { collectHostFiles } from '../runtime/host-requirements.js';
import { checkIncludeTar } from '../runtime/include-tar-check.js';
import { flakeImages } from '../runtime/launch.js';
import type { PlanImages } from '../runtime/launch-plan.js';
import { previousFlake, type RegisterResult, registrationComplete } from './register.js';

function invalid(file: string, why: string, hint: string): PilotError {
  return new PilotError('PILOT_FLAKE_INVALID', `${file}: ${why}`, { hint });
}

/** The images the flake pins, all in the store; an image missing is a user error (exit 1), naming the fix. */
function storedImages(paths: PilotPaths, file: string, flake: Flake): PlanImages {
  try {
    return flakeImages(paths, flake);
  } catch (error) {
    if (!isPilotError(error) || error.code !== 'PILOT_IMAGE_UNKNOWN') throw error;
    throw new PilotError('PILOT_IMAGE_UNKNOWN', `${file}: ${error.message}`, {
      hint: 'load the image archives that come with the flake ("pilot load FILE"), or pull the pinned images ("pilot pull REF@DIGEST") first',
      cause: error,
    });
  }
}

/** The flake's link path, checked as `register --app` checks it. */
function appPathOf(file: string, flake: Flake): string {
  const appPath = flake.container.host_app_path;
  const hint = 'a flake to register from names its link: container.host_app_path: /usr/bin/NAME';
  if (appPath === undefined) throw invalid(file, 'container.host_app_path is missing', hint);
  if (!isAbsolute(appPath) || appPath.split('/').includes('..') || appPath.endsWith('/')) {
    throw invalid(
      file,
      `container.host_app_path ${quoteExcerpt(appPath)} is not an absolute path of a command`,
      hint,
    );
  }
  return posix.normalize(appPath);
}

export function registerFromFlake(
  paths: PilotPaths,
  file: string,
  launcher: string,
  options: { force: boolean },
): RegisterResult {
  const path = resolve(file);
  if (!path.endsWith('.yaml')) {
    throw new PilotError(
      'PILOT_USAGE',
      `--from-flake ${quoteExcerpt(file)} is not a NAME.yaml flake file`,
      {
        hint: 'the app is named after the file: --from-flake /usr/share/pilot/apps/hello/hello.yaml',
      },
    );
  }
  const app = basename(path, '.yaml');
  assertAppName(app);
  const sources = readFlakeSources(dirname(path), app);
  const { flake, warnings, podmanAt } = flakeFromSources(sources);
  const appPath = appPathOf(path, flake);
  const kept = flake.container.runtime.resume || flake.container.runtime.attach;
  parsePodmanOptions(flake.container.runtime.podman, { where: (i) => podmanAt[i]!, kept });
  for (const tar of flake.include.tar) {
    if (!isAbsolute(tar))
      throw invalid(
        path,
        `include.tar ${quoteExcerpt(tar)} is relative`,
        'give include tars as absolute paths',
      );
    checkIncludeTar(tar);
  }
  const images = storedImages(paths, path, flake);
  collectHostFiles(paths, flake, images);

  const lock = claimLock(join(paths.flakes, `.${app}.lock`), `registration of ${app}`);
  try {
    const flakeFile = join(paths.flakes, `${app}.yaml`);
    const link = hostPath(paths, appPath);
    if (pathPresent(flakeFile) && !options.force && registrationComplete(paths, app)) {
      throw new PilotError(
        'PILOT_APP_EXISTS',
        `app "${app}" is already registered (${flakeFile})`,
        {
          hint: `use --force to replace it, or "pilot remove --app ${appPath}" first`,
        },
      );
    }
    if (
      pathPresent(link) &&
      (lstatSync(link).isDirectory() || (!isAppLink(link) && !options.force))
    ) {
      throw new PilotError('PILOT_PATH_IN_WAY', `${link} exists and is not a pilot app link`, {
        hint: 'remove it, or change host_app_path in the flake',
      });
    }
    const previous = previousFlake(paths, flakeFile);
    writeFileAtomic(flakeFile, sources[0]!.text);
    replaceDropIns(join(paths.flakes, `${app}.d`), sources.slice(1));
    try {
      makeDirs(dirname(link));
      symlinkAtomic(launcher, link);
    } catch (error) {
      if (previous) writeFileAtomic(flakeFile, previous);
      throw new PilotError(
        'PILOT_PATH_IN_WAY',
        `cannot create the app link ${link}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    dropAppPlans(paths, app);
    return {
      app,
      flakeFile,
      link,
      target: flake.container.target_app_path ?? `(${app} in PATH)`,
      flake,
      warnings: warnings.map((w) => `${w.file}:${w.line}: ${w.message}`),
    };
  } finally {
    lock.release();
  }
}

/**
 * The app's drop-ins become `wanted`'s: each written by rename, then the ones no longer
 * wanted removed (a launch in between reads the new flake with some old drop-ins; it
 * never finds the app missing).
 */
function replaceDropIns(dir: string, wanted: readonly { file: string; text: string }[]): void {
  const names = new Set(wanted.map((source) => basename(source.file)));
  // makeDirs, not mkdir -p: root's umask must not make the drop-ins unreadable to users.
  if (wanted.length > 0) makeDirs(dir);
  for (const source of wanted) writeFileAtomic(join(dir, basename(source.file)), source.text);
  let present: string[];
  try {
    present = readdirSync(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  for (const name of present) {
    if (names.has(name) || name.startsWith('.')) continue;
    if (name.endsWith('.yaml') || name.endsWith('.yml')) rmSync(join(dir, name), { force: true });
  }
}
