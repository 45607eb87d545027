/**
 * The `show` and `check` commands' commander definitions and their output
 * (src/commands/show.ts reads an app's flake and settings, check.ts its host files).
 */
import type { Command } from 'commander';
import { pathsOf, printJson, printTable, printWarning } from './common.js';
import { prepareAfter } from './replan.js';

export function defineShow(program: Command): void {
  program
    .command('show')
    .description(
      'show the merged flake of an app (name or host path) and what its settings do here',
    )
    .summary("show an app's flake and effective settings")
    .argument('<app>', 'app name or host path')
    .option('--json', 'print the merged flake as JSON, with an "effective" object')
    .addHelpText('after', '\nExample:\n  pilot show hello --json')
    .action(async (app: string, options, command: Command) => {
      const { showApp } = await import('../commands/show.js');
      const { effectiveText } = await import('../commands/effective.js');
      const { serializeFlake } = await import('../core/flake-file.js');
      const shown = await showApp(pathsOf(command), app, {
        onWarning: (w) => printWarning(`${w.file}:${w.line}: ${w.message}`),
      });
      const { flake, link, effective } = shown;
      if (options.json) return printJson({ ...flake, link, effective });
      process.stdout.write(
        `# from ${shown.files.join(', ')}\n${shown.note}${serializeFlake(flake, { header: '' })}${effectiveText(effective)}`,
      );
    });
}

export function defineCheck(program: Command): void {
  program
    .command('check')
    .description('check that the host has every file an app needs (exit 1 if not)')
    .summary("check an app's host files (exit 1 if missing)")
    .argument('<app>', 'app name or host path')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  pilot check jq-app')
    .action(async (app: string, options, command: Command) => {
      const { checkApp, checkRows, checkSummary } = await import('../commands/check.js');
      const paths = pathsOf(command);
      const result = checkApp(paths, app);
      if (options.json) printJson(result);
      else {
        printTable(['STATUS', 'HOST FILE OR PACKAGE', 'NEEDED BY'], checkRows(result));
        process.stdout.write(`${checkSummary(result)}\n`);
      }
      if (!result.ok) process.exitCode = 1;
      else await prepareAfter(paths, [result.app], { onlyStale: true });
    });
}
