/**
 * The `update` command's commander definition and its output (src/commands/update.ts
 * moves the pins). Exit 1 when an app could not be updated (its tag names no image, its
 * flake does not read), after every other app was.
 */
import type { Command } from 'commander';
import { escapeName } from '../core/excerpt.js';
import { pathsOf, printJson } from './common.js';
import { defineReplan, prepareAfter } from './replan.js';

export function defineUpdate(program: Command): void {
  // Its hidden sibling: the package hooks' re-plan after a host upgrade.
  defineReplan(program);
  program
    .command('update')
    .description(
      'move apps to the images their tags name now (after "pilot load" or "pilot pull" of a newer image): re-pins container, base and layers in the flake, atomically, and re-plans the app; nothing else ever re-pins an app ("pilot list" marks the apps that are behind)',
    )
    .summary('move apps to the images their tags name now')
    .argument('[app...]', 'app names or host paths')
    .option('--all', 'every registered app')
    .option('-n, --dry-run', 'say what would move, change nothing')
    .option('--json', 'print one object per app')
    .addHelpText(
      'after',
      '\nExamples:\n  pilot load hello-v2.tar && pilot update hello\n  pilot update --all --dry-run',
    )
    .action(
      async (
        apps: string[],
        options: { all?: boolean; dryRun?: boolean; json?: boolean },
        command: Command,
      ) => {
        const { updateApps } = await import('../commands/update.js');
        const dryRun = Boolean(options.dryRun);
        const paths = pathsOf(command);
        const outcomes = updateApps(paths, apps, { all: Boolean(options.all), dryRun });
        if (outcomes.some((o) => o.status === 'tag-gone' || o.status === 'failed'))
          process.exitCode = 1;
        if (options.json) return printJson(outcomes);
        for (const o of outcomes) {
          const app = escapeName(o.app);
          if (o.status === 'up-to-date') process.stdout.write(`${app} is up to date\n`);
          else if (o.status === 'updated') {
            const verb = dryRun ? 'would update' : 'updated';
            for (const move of o.moves)
              process.stdout.write(`${verb} ${app}: ${escapeName(move)}\n`);
          } else {
            process.stderr.write(
              `pilot: cannot update ${app}: ${o.error}\n${o.hint ? `  hint: ${o.hint}\n` : ''}${o.code ? `  code: ${o.code}\n` : ''}`,
            );
          }
        }
        if (!dryRun) {
          const ready = outcomes.filter((o) => o.status === 'updated' || o.status === 'up-to-date');
          await prepareAfter(
            paths,
            ready.map((o) => o.app),
            { onlyStale: true },
          );
        }
      },
    );
}
