/**
 * The `ps` command's commander definition and its output: kept instances
 * (src/runtime/instances.ts) and the cached plans of one-shot apps (fast-plan.ts).
 */
import type { Command } from 'commander';
import { formatBytes, pathsOf, printJson, printTable } from './common.js';

export function definePs(program: Command): void {
  program
    .command('ps')
    .description('list kept instances (resume/attach, @NAME) and their state')
    .summary('list kept instances and their state')
    .option('--json', 'print an array of objects')
    .addHelpText('after', '\nExample:\n  pilot ps --json')
    .action(async (options, command: Command) => {
      const { listInstances } = await import('../runtime/instances.js');
      const { listPlans } = await import('../runtime/fast-plan.js');
      const paths = pathsOf(command);
      const instanceList = listInstances(paths);
      const kept = new Set(instanceList.map((i) => i.app));
      const instances = [
        ...instanceList.map(({ app, name, state, since, size, pids }) => ({
          app,
          name,
          state: state as string,
          since,
          size,
          pids,
        })),
        // Cached plans of one-shot apps: what the warm path runs without Node (a kept
        // instance's plan is part of its instance row).
        ...listPlans(paths.run)
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
      if (options.json) return printJson(instances);
      printTable(
        ['APP', 'NAME', 'STATE', 'SINCE', 'SIZE', 'PIDS'],
        instances.map((i) => [
          i.app,
          i.name === '' ? '-' : `@${i.name}`,
          i.state,
          i.since ?? '',
          formatBytes(i.size),
          i.pids.join(','),
        ]),
      );
    });
}
