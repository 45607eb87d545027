/**
 * `pilot update APP...|--all`: moves apps to what their tags name now (after a `load`
 * or `pull` of a newer image). Only `container.digests` of the main flake file changes,
 * text-edited as `migrate` pins (comments and layout kept), under the app's registration
 * lock, written by temp file + rename (never through a link, as migrate): a launch reads the old flake or the new one,
 * never a mix, and the link is never touched. Like `register --force`, it drops the
 * app's cached plans; a kept instance is remounted on the new images by its next call
 * (over the same upper dir), and calls in progress keep the view they started with.
 */
import { basename } from 'node:path';
import { appNames } from '../core/app-registry.js';
import { writeFileAtomic } from '../core/atomic-fs.js';
import { isPilotError, PilotError, type PilotErrorCode } from '../core/errors.js';
import { escapeName } from '../core/excerpt.js';
import { type Flake, flakeFromSources, readFlakeSources } from '../core/flake-file.js';
import { taggedImageId } from '../core/image-record.js';
import { claimLock } from '../core/lock.js';
import type { PilotPaths } from '../core/paths.js';
import { dropAppPlans } from '../runtime/fast-plan.js';
import { collectHostFiles } from '../runtime/host-requirements.js';
import { flakeImages } from '../runtime/launch.js';
import { checkPinned, pinDigestsText } from './migrate-plan.js';
import { type AppUpdatePlan, describeMoves, planAppUpdate } from './update-plan.js';

export interface UpdateOutcome {
  app: string;
  status: 'updated' | 'up-to-date' | 'tag-gone' | 'failed';
  /** "REF OLD → NEW" for each moved ref (what would move, under --dry-run). */
  moves: string[];
  /** Why the app was not updated (tag-gone, failed). */
  error?: string;
  hint?: string;
  /** The code of that error (DESIGN: scripts match on it). */
  code?: PilotErrorCode;
}

/** Where one app's pins stand against the store's tags now. */
export function appUpdatePlan(paths: PilotPaths, flake: Flake): AppUpdatePlan {
  return planAppUpdate(flake, (ref) => taggedImageId(paths, ref));
}

function tagGone(app: string, plan: AppUpdatePlan): UpdateOutcome {
  const gone = plan.refs.filter((r) => r.current === undefined).map((r) => r.ref);
  return {
    app,
    status: 'tag-gone',
    moves: describeMoves(plan),
    error: `${gone.map((ref) => `"${escapeName(ref)}"`).join(', ')} no longer names any image in the store`,
    code: 'PILOT_IMAGE_UNKNOWN',
    hint: `load or pull the image under that name again ("pilot load ARCHIVE", "pilot pull REF"), or register ${app} again with other images`,
  };
}

function updateOne(paths: PilotPaths, app: string, dryRun: boolean): UpdateOutcome {
  const lock = dryRun
    ? undefined
    : claimLock(`${paths.flakes}/.${app}.lock`, `registration of ${app}`);
  try {
    const sources = readFlakeSources(paths.flakes, app);
    const { flake } = flakeFromSources(sources);
    const plan = appUpdatePlan(paths, flake);
    if (plan.status === 'tag-gone') return tagGone(app, plan);
    if (plan.status === 'up-to-date') return { app, status: 'up-to-date', moves: [] };
    const moves = describeMoves(plan);
    const digests = plan.digests!;
    const main = sources[0]!;
    const text = pinDigestsText(main.file, main.text, digests);
    checkPinned(sources, text, flake, digests);
    // What register checks before it writes: the new images resolve and their /removed
    // and host packages are acceptable (a path with ".." is refused now, not at launch).
    const moved: Flake = { ...flake, container: { ...flake.container, digests } };
    collectHostFiles(paths, moved, flakeImages(paths, moved));
    if (main.target !== undefined) {
      // As migrate: a link leads to a file someone else keeps (a package, a config tree).
      throw new PilotError(
        'PILOT_FLAKE_INVALID',
        `${main.file} is a link to ${main.target}: pilot update never writes through a link`,
        { hint: `change container.digests in ${main.target}, or register ${app} again` },
      );
    }
    if (!dryRun) {
      writeFileAtomic(main.file, text);
      // A plan made for the old pins is stale by its stamps; drop it anyway, as register does.
      dropAppPlans(paths, app);
    }
    return { app, status: 'updated', moves };
  } finally {
    lock?.release();
  }
}

/** Updates `apps` (names or host paths), or every app with `all`; one app's failure never stops the others. */
export function updateApps(
  paths: PilotPaths,
  apps: readonly string[],
  options: { all: boolean; dryRun: boolean },
): UpdateOutcome[] {
  if (options.all === apps.length > 0) {
    throw new PilotError('PILOT_USAGE', 'give the apps to update, or --all (not both)', {
      hint: 'e.g. "pilot update hello" or "pilot update --all"',
    });
  }
  const names = options.all ? appNames(paths) : [...new Set(apps.map((a) => basename(a)))];
  return names.map((app) => {
    try {
      return updateOne(paths, app, options.dryRun);
    } catch (error) {
      if (!isPilotError(error)) throw error;
      return {
        app,
        status: 'failed',
        moves: [],
        error: error.message,
        hint: error.hint,
        code: error.code,
      };
    }
  });
}
