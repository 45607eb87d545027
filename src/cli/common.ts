/**
 * What every command definition shares (src/cli.ts and the modules beside this one):
 * the paths a command works on, where app links point, and how results are printed.
 */
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { escapeName } from '../core/excerpt.js';
import { type PilotPaths, resolvePaths } from '../core/paths.js';
import { checkRoot } from '../core/system-error.js';
import { upgradeStore } from '../store/store-format.js';

/** What an app link points at: the exec stub, which runs a cached plan or the Node launcher. */
export function appLinkTarget(): string {
  return join(dirname(launcherPath()), 'pilot-exec');
}

/**
 * The directory of the CLI bundle (dist/, or libexec/pilot/ when installed), where the
 * launcher and helper are: this module is bundled into the entry or, when a lazily loaded
 * command shares it, into the bundle's chunks/ one level below (build.mjs).
 */
function bundleDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return basename(here) === 'chunks' ? dirname(here) : here;
}

export function launcherPath(): string {
  return process.env.PILOT_LAUNCHER ?? join(bundleDir(), 'pilot-launch.mjs');
}

/** The paths a command works on; a store its owner opens is first brought to the current format. */
export function pathsOf(
  command: Command,
  options: { readOnly?: boolean; reportOnly?: boolean } = {},
): PilotPaths {
  const root = command.optsWithGlobals().root as string | undefined;
  const paths = resolvePaths({ root });
  // doctor reports an unusable root among its checks instead.
  if (!options.reportOnly) checkRoot(paths.root);
  if (!options.readOnly) upgradeStore(paths);
  return paths;
}

/** A warning on stderr, also under --quiet and --json (stdout stays the result). */
export function printWarning(message: string): void {
  process.stderr.write(`pilot: warning: ${message}\n`);
}

/** Text on stdout as it is (CSV, an image's info file). */
export function printText(text: string): void {
  process.stdout.write(text);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A table on stdout; every cell is escaped (names read from disk: core/excerpt.ts). */
export function printTable(headers: string[], raw: string[][], ruler = false): void {
  const rows = raw.map((row) => row.map(escapeName));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const head = [line(headers)];
  // flake-ctl's tables underline the headline with dashes as wide as each column.
  if (ruler) head.push(line(widths.map((w) => '-'.repeat(w))));
  process.stdout.write(`${[...head, ...rows.map(line)].join('\n')}\n`);
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** What `register` prints: its warnings on stderr, then the written flake or one line. */
export function printRegistered(
  result: {
    app: string;
    link: string;
    target: string;
    flake: { container: { name: string } };
    warnings: string[];
  },
  json: boolean,
): void {
  for (const w of result.warnings) printWarning(w);
  if (json) printJson(result.flake);
  else
    process.stdout.write(
      `registered ${result.app}: ${result.link} -> ${result.target} in ${result.flake.container.name}\n`,
    );
}

/**
 * Every command, nested ones too, fails by throwing (runCli turns that into exit 2), and
 * a usage error names its command and points at that command's own help (the top-level
 * help does not list, say, pull's options).
 */
export function labelCommands(program: Command, prefix = program.name()): void {
  program.exitOverride();
  for (const command of program.commands) {
    const name = `${prefix} ${command.name()}`;
    command
      .showHelpAfterError(`  hint: run "${name} --help" for its options and arguments`)
      .configureOutput({
        outputError: (text, write) => write(text.replace(/^error: /, `${name}: `)),
      });
    labelCommands(command, name);
  }
}

/** Sizes as people read them: decimal units (kB, MB), one decimal past bytes. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
