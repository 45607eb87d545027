/**
 * The `gc` command's commander definition and its output (src/commands/gc.ts decides
 * what goes). A leftover gc could not remove is warned about and exits 1.
 */
import type { Command } from 'commander';
import { escapeName } from '../core/excerpt.js';
import { formatBytes, pathsOf, printJson } from './common.js';

export function defineGc(program: Command): void {
  program
    .command('gc')
    .description('delete images with no name and no app, then layers no image uses')
    .summary('delete unused images and layers')
    .option('--json', 'print what was deleted as JSON')
    .addHelpText('after', '\nExample:\n  pilot gc')
    .action(async (options, command: Command) => {
      const { runGc } = await import('../commands/gc.js');
      const result = await runGc(pathsOf(command));
      if (result.unreadable.length > 0) {
        const names = result.unreadable.map((app) => escapeName(app)).join(', ');
        process.stderr.write(
          `pilot: warning: kept every image without a name: the flakes of ${names} cannot be read, so which images they use is unknown ("pilot list" shows why)\n`,
        );
      }
      for (const failure of result.failed) {
        process.stderr.write(`pilot: warning: cannot remove a leftover: ${failure}\n`);
      }
      if (result.failed.length > 0) process.exitCode = 1;
      if (options.json) return printJson(result);
      const leftovers =
        result.leftovers.length > 0
          ? `, ${result.leftovers.length} leftover(s) of killed runs`
          : '';
      process.stdout.write(
        `removed ${result.images.length} image(s), ${result.layers.length} layer(s), ${result.hostLayers.length} host layer(s), ${result.plans.length} stale plan(s)${leftovers}, freed ${formatBytes(result.bytesFreed)}\n`,
      );
    });
}
