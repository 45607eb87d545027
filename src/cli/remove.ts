/**
 * The `remove` command's commander definition and its output (src/commands/remove.ts
 * removes the links and flakes).
 */
import type { Command } from 'commander';
import { PilotError } from '../core/errors.js';
import { pathsOf } from './common.js';

export function defineRemove(program: Command): void {
  program
    .command('remove')
    .description('remove registered apps: their links and flakes (images stay)')
    .summary('remove registered apps (images stay)')
    .option('--app <path>', 'the app link, e.g. /usr/bin/hello')
    .option('--container <ref>', 'every app that uses this image')
    .addHelpText('after', '\nExample:\n  pilot remove --app /usr/bin/hello')
    .action(async (options, command: Command) => {
      if (Boolean(options.app) === Boolean(options.container)) {
        throw new PilotError('PILOT_USAGE', 'give exactly one of --app PATH or --container REF');
      }
      const { removeApp, removeByContainer } = await import('../commands/remove.js');
      const paths = pathsOf(command);
      const result = options.app
        ? removeApp(paths, options.app)
        : removeByContainer(paths, options.container);
      for (const r of result.removed)
        process.stdout.write(`removed ${r.app}${r.link ? ` (${r.link})` : ''}\n`);
    });
}
