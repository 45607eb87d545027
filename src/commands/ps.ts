/**
 * `pilot ps`: kept instances (runtime/instances.ts) and, after them, the cached plans of
 * one-shot apps (runtime/fast-plan.ts), one row each; the CLI prints the table or JSON.
 */
import type { PilotPaths } from '../core/paths.js';
import { type CachedPlan, listAllPlans } from '../runtime/fast-plan.js';
import { type InstanceStatus, listInstances } from '../runtime/instances.js';

export interface PsRow {
  app: string;
  /** The instance name (`APP@NAME`); '' for the app's default instance and for plans. */
  name: string;
  /** An instance's `running`, `idle` or `stopped`; a plan's `cached` or `stale`. */
  state: string;
  since: string | null;
  size: number;
  pids: number[];
  /** Plans only: whose plan it is. */
  uid?: number;
  /** Stale plans only: the first input that changed since the plan was made. */
  staleBecause?: string;
}

export function listPs(paths: PilotPaths): PsRow[] {
  return psRows(listInstances(paths), listAllPlans(paths));
}

/**
 * The instances, then the plans of apps that have no kept instance: a kept instance's
 * plan is part of its instance row; the others are what the warm path runs without Node.
 */
export function psRows(instances: InstanceStatus[], plans: CachedPlan[]): PsRow[] {
  const kept = new Set(instances.map((i) => i.app));
  return [
    ...instances.map(({ app, name, state, since, size, pids }) => ({
      app,
      name,
      state: state as string,
      since,
      size,
      pids,
    })),
    ...plans
      .filter((plan) => !kept.has(plan.app))
      .map((plan) => ({
        app: plan.app,
        name: '',
        state: plan.stale ? 'stale' : 'cached',
        since: plan.since as string | null,
        size: 0,
        pids: [] as number[],
        uid: plan.uid,
        ...(plan.stale ? { staleBecause: plan.stale } : {}),
      })),
  ];
}
