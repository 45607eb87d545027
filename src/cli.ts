/**
 * The `pilot` command line: the program, its subcommands in the order --help lists
 * them, and the one place that turns errors into messages and exit codes (0 ok, 1
 * refused or bad input, 2 usage). Each subcommand's options and printing are in
 * src/cli/; the work is in src/commands/, whose handlers return data.
 */
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Help } from 'commander';
import { appLinkTarget, labelCommands, pathsOf, printJson } from './cli/common.js';
import { defineCompletion } from './cli/completion-command.js';
import { defineDoctor } from './cli/doctor.js';
import { buildFlakeCtlProgram } from './cli/flake-ctl.js';
import { defineGc } from './cli/gc.js';
import { defineImages, defineRmi } from './cli/images.js';
import { listCommand } from './cli/list.js';
import { defineLoad } from './cli/load.js';
import { addMigrateCommand } from './cli/migrate.js';
import { definePackage, packageVersionArgs } from './cli/package.js';
import { podmanCommand } from './cli/podman.js';
import { definePs, defineStop } from './cli/ps.js';
import { definePull } from './cli/pull.js';
import { defineRegister } from './cli/register.js';
import { defineRemove } from './cli/remove.js';
import { defineCheck, defineShow } from './cli/show.js';
import { defineUpdate } from './cli/update.js';
import { defineVerify } from './cli/verify.js';
import { formatError, isPilotError } from './core/errors.js';
import { explainSystemError } from './core/system-error.js';
import { VERSION } from './core/version.js';

export function buildProgram(): Command {
  const program = new Command('pilot')
    .description('Run applications shipped as containers as if they were host commands')
    .version(VERSION, '-V, --version')
    .option(
      '--root <dir>',
      'put store, flakes, app links and runtime state under DIR (default: $PILOT_ROOT or /)',
    )
    .showSuggestionAfterError(true)
    .showHelpAfterError('  hint: run "pilot --help" for the commands')
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'pilot: ')) })
    // Subcommands inherit this; "(default: [])" on repeatable options says nothing.
    .configureHelp({
      optionDescription(option) {
        return Help.prototype.optionDescription
          .call(this, option)
          .replace(/ \(default: \[\]\)$/, '');
      },
    });

  defineLoad(program);
  definePull(program);
  defineImages(program);
  defineRmi(program);
  defineGc(program);
  defineVerify(program);
  defineUpdate(program);
  definePackage(program);
  defineRegister(program);
  defineRemove(program);
  program.addCommand(listCommand('pilot'));
  program.addCommand(podmanCommand());
  defineShow(program);
  defineCheck(program);
  definePs(program);
  defineStop(program);
  addMigrateCommand(program, { pathsOf, appLinkTarget, printJson });
  defineDoctor(program);
  defineCompletion(program);

  // `make build` writes dist/man from the built program, so man pages and --help agree.
  program
    .command('__man', { hidden: true })
    .argument('<dir>', 'where to write pilot.1 and pilot-COMMAND.1')
    .action(async (dir: string) => {
      const { writeManPages } = await import('./cli/man.js');
      writeManPages(program, VERSION, dir);
    });

  labelCommands(program);
  return program;
}

/** `invokedAs`: the name pilot runs under; `flake-ctl` selects flake-ctl's command level. */
export async function runCli(argv: string[], invokedAs = 'pilot'): Promise<number> {
  // `pilot list | head -1`: a closed pipe ends the output, not with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const program = invokedAs === 'flake-ctl' ? buildFlakeCtlProgram(VERSION) : buildProgram();
  try {
    await program.parseAsync(packageVersionArgs(argv), { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      )
        return 0;
      return 2;
    }
    const explained = explainSystemError(error);
    process.stderr.write(`${formatError(explained)}\n`);
    return isPilotError(explained) ? explained.exitCode : 1;
  }
}

/** True when this file is the program Node runs (also through a bin/pilot symlink), not an import. */
function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  // Through a `flake-ctl` symlink, argv[1] is the link (Node resolves it only to load it).
  runCli(process.argv.slice(2), basename(process.argv[1] ?? '')).then((code) => {
    process.exitCode = code;
  });
}
