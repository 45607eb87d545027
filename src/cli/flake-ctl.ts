/**
 * pilot run under the name `flake-ctl` (`make install FLAKE_CTL_NAMES=1`): flake-ctl's
 * own command level, so scripts written for flake-pilot keep working. Only flake-ctl's
 * forms are accepted here: `podman ...`, `list`, `init`; `firecracker ...` is refused.
 */
import { Command } from 'commander';
import { PilotError } from '../core/errors.js';
import { labelCommands, pathsOf } from './common.js';
import { listCommand } from './list.js';
import { podmanCommand } from './podman.js';

const FORMS = `flake-ctl's forms:
  flake-ctl podman register --container NAME --app PATH [--base NAME] [--layer NAME...] ...
  flake-ctl podman remove --app PATH | --container NAME
  flake-ctl podman load --oci FILE      flake-ctl podman pull --uri URI
  flake-ctl podman show [--format table|json|csv]
  flake-ctl list [--format table|json|csv]`;

export function buildFlakeCtlProgram(version: string): Command {
  const program = new Command('flake-ctl')
    .description("flake-ctl - Manage Flake Applications (pilot, under flake-ctl's name)")
    .version(version, '-V, --version')
    .option('--root <dir>', 'put store, flakes, app links and runtime state under DIR')
    .showSuggestionAfterError(true)
    .showHelpAfterError(`${FORMS}\n  hint: run "flake-ctl --help" or "pilot --help"`)
    .configureOutput({
      outputError: (text, write) => write(text.replace(/^error: /, 'flake-ctl: ')),
    });
  program.addCommand(podmanCommand());
  program.addCommand(listCommand('flake-ctl'));
  program
    .command('init')
    .description('nothing to set up: pilot creates its store and flakes directory when used')
    .option('--user', 'accepted for flake-ctl')
    .option('--force', 'accepted for flake-ctl')
    .action((_options, command: Command) => {
      const paths = pathsOf(command);
      process.stdout.write(
        `pilot needs no setup: images go to ${paths.store}, flakes to ${paths.flakes} ("pilot doctor" checks this host)\n`,
      );
    });
  program
    .command('firecracker', { hidden: true })
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new PilotError(
        'PILOT_USAGE',
        'flake-ctl firecracker is not part of pilot: pilot runs container apps only',
        {
          hint: "a VM flake needs flake-pilot's firecracker-pilot; container apps: flake-ctl podman register ...",
        },
      );
    });
  labelCommands(program);
  return program;
}
