/**
 * The `pilot migrate` command: its commander definition and its printing. The work is
 * in src/commands/migrate.ts, loaded only when the command runs.
 */
import type { Command } from 'commander';
import type { PilotPaths } from '../core/paths.js';
import { prepareAfter } from './replan.js';

export interface MigrateCliContext {
  pathsOf: (command: Command, options?: { readOnly?: boolean }) => PilotPaths;
  /** What register points an app link at. */
  appLinkTarget: () => string;
  printJson: (value: unknown) => void;
}

export function addMigrateCommand(program: Command, context: MigrateCliContext): void {
  program
    .command('migrate')
    .description(
      "make a flake-pilot host a pilot host: for every app linked to podman-pilot, copy its images from podman's storage into pilot's store, pin their digests in its flake and point its link to pilot; a journal in the store records each change, so that --revert puts it back",
    )
    .summary('turn flake-pilot apps into pilot apps')
    .option('--revert', 'put back what pilot migrate changed (images stay in the store)')
    .option('--dry-run', 'say what would change, change nothing')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pilot migrate --dry-run\n  pilot migrate\n  pilot migrate --revert',
    )
    .action(async (options, command: Command) => {
      const { migrateHost, migrateSummary, revertMigration } = await import(
        '../commands/migrate.js'
      );
      const dryRun = Boolean(options.dryRun);
      const paths = context.pathsOf(command, { readOnly: dryRun });
      const onLine = options.json
        ? undefined
        : (line: { kind: string; message: string; hint?: string; code?: string }) => {
            const stream = ['failed', 'refused', 'warning'].includes(line.kind)
              ? 'stderr'
              : 'stdout';
            const prefix = line.kind === 'warning' ? 'pilot: warning: ' : 'pilot: ';
            process[stream].write(`${stream === 'stderr' ? prefix : ''}${line.message}\n`);
            if (line.hint) process[stream].write(`  hint: ${line.hint}\n`);
            if (line.code) process[stream].write(`  code: ${line.code}\n`);
          };
      const report = options.revert
        ? revertMigration(paths, { dryRun, onLine })
        : await migrateHost(paths, {
            dryRun,
            onLine,
            launcher: context.appLinkTarget(),
          });
      if (report.failed.length > 0) process.exitCode = 1;
      if (!dryRun && !options.revert) await prepareAfter(paths, report.done);
      if (options.json) return context.printJson(report);
      process.stdout.write(`${migrateSummary(report)}\n`);
    });
}
