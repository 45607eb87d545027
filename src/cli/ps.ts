/**
 * The `ps` and `stop` commands' commander definitions and their output (src/commands/ps.ts
 * lists kept instances and cached plans, src/commands/stop.ts ends them).
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
      const { listPs } = await import('../commands/ps.js');
      const instances = listPs(pathsOf(command));
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

export function defineStop(program: Command): void {
  program
    .command('stop')
    .description('end an instance: stop its calls, unmount it, delete its state')
    .summary('end an instance and delete its state')
    .argument('[app]', 'APP or APP@NAME')
    .option('--all', 'stop every instance')
    .addHelpText('after', '\nExamples:\n  pilot stop aws@dev\n  pilot stop --all')
    .action(async (target: string | undefined, options, command: Command) => {
      const { stopTargets } = await import('../commands/stop.js');
      for (const id of await stopTargets(pathsOf(command), target, Boolean(options.all))) {
        process.stdout.write(`stopped ${id}\n`);
      }
    });
}
