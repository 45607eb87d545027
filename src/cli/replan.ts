/**
 * `pilot replan [--all|APP...]` (hidden): what the package manager's hooks run after a
 * transaction (packaging/, docs/design.md "The fast path"): plans again, as root, every
 * app whose plan in the store no longer holds, so that no caller meets a cold call. It
 * never fails the transaction: an app it cannot plan is named on stderr, and it exits 0.
 */
import type { Command } from 'commander';
import { escapeName } from '../core/excerpt.js';
import { pathOwner } from '../core/fs-query.js';
import type { PilotPaths } from '../core/paths.js';
import { appLinkTarget, pathsOf } from './common.js';

export function defineReplan(program: Command): void {
  program
    .command('replan', { hidden: true })
    .description('plan again the apps whose fast plan a host change made stale (package hooks)')
    .argument('[app...]', 'app names')
    .option('--all', 'every registered app')
    .action(async (apps: string[], options: { all?: boolean }, command: Command) => {
      try {
        const { appNames } = await import('../core/app-registry.js');
        const { prepareApps } = await import('../commands/prepare.js');
        const paths = pathsOf(command);
        const names = options.all ? appNames(paths) : apps;
        const outcomes = await prepareApps(paths, names, {
          helper: appLinkTarget(),
          onlyStale: true,
        });
        for (const o of outcomes) {
          if (o.status === 'failed')
            process.stderr.write(`pilot replan: ${escapeName(o.app)}: ${o.error}\n`);
        }
      } catch (error) {
        process.stderr.write(`pilot replan: ${(error as Error).message}\n`);
      }
      process.exitCode = 0;
    });
}

/**
 * After a command that changed apps (register, update, check, migrate): plan them now,
 * as the store's owner, so that their first call is warm; say on stderr which could not
 * be (their first call plans them). Another caller's store is left alone.
 */
export async function prepareAfter(
  paths: PilotPaths,
  apps: readonly string[],
  options: { onlyStale?: boolean } = {},
): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  if (apps.length === 0 || (uid !== 0 && (paths.root === '' || pathOwner(paths.root) !== uid)))
    return;
  const { prepareApps } = await import('../commands/prepare.js');
  const outcomes = await prepareApps(paths, apps, { helper: appLinkTarget(), ...options });
  for (const o of outcomes) {
    if (o.status === 'failed') {
      process.stderr.write(
        `pilot: note: ${escapeName(o.app)} not planned yet (its first call plans it): ${o.error}\n`,
      );
    }
  }
}
