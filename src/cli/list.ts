/**
 * `list`: pilot's own records (`--json`, and its table by default) or flake-ctl's
 * (`--format table|json|csv`: flake-pilot's keys, CSV without a header line). Run as
 * `flake-ctl`, `list` prints flake-ctl's table by default, as flake-ctl does.
 */
import { Command, Option } from 'commander';
import { pathsOf, printJson, printTable, printText } from './common.js';

export function listCommand(flavour: 'pilot' | 'flake-ctl'): Command {
  const format = new Option(
    '--format <format>',
    "flake-ctl's output: table (with a headline), json (flake-ctl's keys: name, engine, target, host_app_path, config) or csv (those fields, no header line)",
  ).choices(['table', 'json', 'csv']);
  const command = new Command('list').description(
    flavour === 'pilot'
      ? 'list registered apps; an app whose pinned image is not the one its tag names now (after "pilot load" or "pilot pull" of a newer one) is behind: the tables mark it "(behind)" after its name, the JSON outputs have "behind": true ("pilot update APP" moves it); the CSV stays flake-ctl\'s five fields'
      : 'list registered apps',
  );
  if (flavour === 'pilot') command.summary('list registered apps');
  if (flavour === 'pilot') {
    command
      .addOption(new Option('--json', "print pilot's own array of objects").conflicts('format'))
      .addOption(format)
      .addHelpText(
        'after',
        '\nExamples:\n  pilot list --json\n  pilot list --format csv      # as flake-ctl list --format csv',
      );
  } else {
    command.addOption(format.default('table'));
  }
  // flake-ctl's rootless mode: an unprivileged caller always lists its own flakes.
  command.addOption(new Option('--user', 'accepted for flake-ctl (no effect)').hideHelp());
  return command.action(async (options, cmd: Command) => {
    const list = await import('../commands/flake-list.js');
    const { listFlakeRecords, listPilotApps } = await import('../commands/list.js');
    const paths = pathsOf(cmd);
    if (options.format === undefined) {
      const entries = listPilotApps(paths);
      if (options.json) return printJson(entries);
      return printTable(
        ['APP', 'PATH', 'CONTAINER', 'BASE', 'TARGET'],
        list.pilotListRows(entries),
      );
    }
    // Run as flake-ctl, its output stays upstream's to the byte; pilot's own adds "behind".
    const records = listFlakeRecords(paths, flavour === 'pilot');
    if (options.format === 'json') return printJson(records);
    if (options.format === 'csv') return printText(list.csvText(list.flakeRows(records)));
    process.stdout.write(`Flake applications registered in ${paths.flakes}\n\n`);
    if (records.length === 0) return printText('No application(s) registered\n');
    const rows = list.flakeRows(
      records.map((r) => (r.behind ? { ...r, name: `${r.name}${list.BEHIND_MARK}` } : r)),
    );
    printTable(list.FLAKE_COLUMNS, list.tableCells(rows), true);
  });
}
