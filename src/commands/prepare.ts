/**
 * Leaves apps ready for a warm first call (docs/plan.md, "Where the plan is"): each is
 * planned as a call of the store's owner would plan it (src/runtime/launch.ts) - its host
 * layer built, its plan written into the store for every caller - and nothing runs.
 * `register`, `update`, `check`, `migrate` and `pilot replan` (the package manager's
 * hooks, packaging/) call it. Preparing is an optimisation: an app that cannot be
 * planned now (a host file missing) is reported and left to its first call.
 */

import type { PilotPaths } from '../core/paths.js';
import { explainSystemError } from '../core/system-error.js';
import { listPlans, planFile } from '../runtime/fast-plan.js';
import { loadFlakeCached } from '../runtime/flake-cache.js';
import { prepareLaunch } from '../runtime/launch.js';

export interface PrepareOutcome {
  app: string;
  /** ready: planned now; fresh: its plan still held (onlyStale); skipped: a kept instance. */
  status: 'ready' | 'fresh' | 'skipped' | 'failed';
  error?: string;
}

export interface PrepareOptions {
  /** pilot-exec, whose identity every plan stamps (the app links point at it). */
  helper: string;
  /** Plan only the apps whose plan in the store is missing or stale (`replan`). */
  onlyStale?: boolean;
}

export async function prepareApps(
  paths: PilotPaths,
  apps: readonly string[],
  options: PrepareOptions,
): Promise<PrepareOutcome[]> {
  const uid = process.getuid?.() ?? 0;
  const fresh = new Set(
    options.onlyStale
      ? listPlans(paths.store)
          .filter((plan) => plan.stale === undefined && plan.uid === uid)
          .map((plan) => plan.file)
      : [],
  );
  // The launcher finds the store by PILOT_ROOT; a command's --root says the same.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(paths.root === '' ? {} : { PILOT_ROOT: paths.root }),
  };
  delete env.PILOT_DEBUG;
  const outcomes: PrepareOutcome[] = [];
  for (const app of apps) {
    if (fresh.has(planFile(paths.store, app, uid))) {
      outcomes.push({ app, status: 'fresh' });
      continue;
    }
    try {
      // A kept instance is made by its first call (planning one would start it).
      const { flake } = await loadFlakeCached(paths, app);
      if (flake.container.runtime.resume || flake.container.runtime.attach) {
        outcomes.push({ app, status: 'skipped' });
        continue;
      }
      const prepared = await prepareLaunch({
        app,
        args: [],
        env,
        cwd: '/',
        uid,
        gid: process.getgid?.() ?? 0,
        debug: false,
        helper: options.helper,
      });
      await prepared.finish();
      outcomes.push({ app, status: 'ready' });
    } catch (error) {
      const explained = explainSystemError(error);
      outcomes.push({
        app,
        status: 'failed',
        error: explained instanceof Error ? explained.message : String(explained),
      });
    }
  }
  return outcomes;
}
