/**
 * `pilot stop APP[@NAME] | --all`: ends kept instances (their calls, mount and
 * state) and drops cached plans (the store's and the run dir's), so that the next call
 * starts from scratch.
 */
import { PilotError } from '../core/errors.js';
import type { PilotPaths } from '../core/paths.js';
import { dropAppPlans, listAllPlans } from '../runtime/fast-plan.js';
import { instanceId, listInstances, stopInstance } from '../runtime/instances.js';

export async function stopTargets(
  paths: PilotPaths,
  target: string | undefined,
  all: boolean,
): Promise<string[]> {
  if (Boolean(target) === all) throw new PilotError('PILOT_USAGE', 'give APP[@NAME] or --all');
  const instances = listInstances(paths);
  const plans = listAllPlans(paths);
  const stopped: string[] = [];
  if (all) {
    for (const instance of instances) {
      await stopInstance(paths, instance.id);
      stopped.push(instance.id);
    }
    for (const app of new Set(plans.map((p) => p.app))) {
      dropAppPlans(paths, app);
      stopped.push(`${app} (cached plan)`);
    }
    return stopped;
  }
  const spec = target!.replace(/^.*\//, '');
  const at = spec.indexOf('@');
  const app = at < 0 ? spec : spec.slice(0, at);
  const id = instanceId(app, at < 0 ? '' : spec.slice(at + 1));
  const hasPlan = at < 0 && plans.some((p) => p.app === app);
  if (!instances.some((i) => i.id === id) && !hasPlan) {
    throw new PilotError('PILOT_FLAKE_UNKNOWN', `no instance ${id}`, {
      hint: '"pilot ps" lists instances',
    });
  }
  if (instances.some((i) => i.id === id)) {
    await stopInstance(paths, id);
    stopped.push(id);
  }
  if (hasPlan) {
    dropAppPlans(paths, app);
    stopped.push(`${app} (cached plan)`);
  }
  return stopped;
}
