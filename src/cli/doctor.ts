/**
 * The `doctor` command's commander definition and its output: a table of checks, the
 * fixes of those that are not ok, and one verdict line (src/commands/doctor.ts checks).
 */
import type { Command } from 'commander';
import { launcherPath, pathsOf, printJson, printTable } from './common.js';

export function defineDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check what this host supports (kernel overlayfs, namespaces, util-linux, the exec helper, podman/skopeo, dpkg/rpm, store permissions and space); read-only, works before any store exists; exit 1 only when something pilot needs is missing',
    )
    .summary('check what this host supports (exit 1 if unusable)')
    .option('--json', 'print an array of checks')
    .addHelpText('after', '\nExample:\n  pilot doctor --json')
    .action(async (options, command: Command) => {
      const { doctorExitCode, runDoctor } = await import('../commands/doctor.js');
      const checks = runDoctor({
        paths: pathsOf(command, { readOnly: true, reportOnly: true }),
        launcher: launcherPath(),
        helper: process.env.PILOT_EXEC,
      });
      process.exitCode = doctorExitCode(checks);
      if (options.json) return printJson(checks);
      printTable(
        ['CHECK', 'STATUS', 'DETAIL'],
        checks.map((c) => [c.check, c.status === 'ok' ? 'ok' : c.status.toUpperCase(), c.detail]),
      );
      const open = checks.filter((c) => c.fix !== null);
      if (open.length > 0)
        process.stdout.write(`\n${open.map((c) => `fix ${c.check}: ${c.fix}`).join('\n')}\n`);
      const failed = checks.filter((c) => c.status === 'fail').length;
      const warned = checks.filter((c) => c.status === 'warn').length;
      process.stdout.write(
        failed > 0
          ? `\npilot cannot run apps on this host: ${failed} required check(s) failed\n`
          : `\npilot can run apps on this host${warned > 0 ? ` (${warned} warning(s))` : ''}\n`,
      );
    });
}
