/**
 * `pilot remove --app PATH | --container REF`: only pilot's and flake-pilot's app links
 * and their flakes go.
 */

import { renameSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { appNames, isAppLink, loadApps } from '../core/app-registry.js';
import { removeEntry } from '../core/atomic-fs.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { faultPoint } from '../core/fault.js';
import { pathPresent } from '../core/fs-query.js';
import { resolveImage } from '../core/image-record.js';
import { claimLock } from '../core/lock.js';
import { hostPath, type PilotPaths } from '../core/paths.js';
import { removeTree, tempSibling } from '../core/temp-entries.js';
import { dropAppPlans } from '../runtime/fast-plan.js';

export interface RemoveResult {
  removed: { app: string; flake: string; link?: string }[];
}

function removeOne(
  paths: PilotPaths,
  app: string,
  appPath: string | undefined,
): RemoveResult['removed'][number] {
  const lock = claimLock(join(paths.flakes, `.${app}.lock`), `registration of ${app}`);
  try {
    const flake = join(paths.flakes, `${app}.yaml`);
    const result: RemoveResult['removed'][number] = { app, flake };
    // Link, flake, then drop-ins, each gone in one step: a remove killed half way leaves
    // no app that runs with part of its settings, and the same remove finishes it.
    if (appPath) {
      const link = hostPath(paths, appPath);
      // flake-pilot's link too: flake-ctl users expect remove to clean up its apps.
      if (isAppLink(link)) {
        removeEntry(link);
        result.link = link;
      }
    }
    removeEntry(flake);
    removeDropIns(paths, app);
    dropAppPlans(paths, app);
    return result;
  } finally {
    lock.release();
  }
}

function dropInDir(paths: PilotPaths, app: string): string {
  return join(paths.flakes, `${app}.d`);
}

function removeDropIns(paths: PilotPaths, app: string): void {
  const dir = dropInDir(paths, app);
  const aside = tempSibling(dir, 'trash');
  try {
    faultPoint(`rename ${dir} to trash`);
    renameSync(dir, aside);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  removeTree(aside);
}

export function removeApp(paths: PilotPaths, appPath: string): RemoveResult {
  const normalized = posix.normalize(appPath);
  const app = basename(normalized);
  const link = hostPath(paths, normalized);
  const linkExists = pathPresent(link);
  if (linkExists && !isAppLink(link)) {
    throw new PilotError(
      'PILOT_PATH_IN_WAY',
      `${link} is not a pilot (or flake-pilot) app link; not touching it`,
      {
        hint: '"pilot list" shows registered apps',
      },
    );
  }
  if (!appNames(paths).includes(app)) {
    if (!linkExists && !pathPresent(dropInDir(paths, app))) {
      throw new PilotError('PILOT_FLAKE_UNKNOWN', `no app is registered at ${normalized}`, {
        hint: '"pilot list" shows registered apps',
      });
    }
  }
  return { removed: [removeOne(paths, app, normalized)] };
}

export function removeByContainer(paths: PilotPaths, ref: string): RemoveResult {
  let id: string | undefined;
  try {
    id = resolveImage(paths, ref).id;
  } catch {
    id = undefined;
  }
  const matches = loadApps(paths).filter(
    (entry) =>
      entry.ok &&
      (entry.flake.container.name === ref ||
        (id !== undefined && Object.values(entry.flake.container.digests).includes(id))),
  );
  if (matches.length === 0) {
    throw new PilotError('PILOT_FLAKE_UNKNOWN', `no registered app uses image "${ref}"`, {
      hint: '"pilot list" shows registered apps and their images',
    });
  }
  return {
    removed: matches.map((entry) =>
      removeOne(
        paths,
        entry.app,
        entry.ok ? (entry.flake.container.host_app_path ?? undefined) : undefined,
      ),
    ),
  };
}
