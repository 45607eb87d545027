/**
 * The `pilot` command line. Handlers in src/commands return data; this file
 * prints it (tables or --json) and is the one place that turns errors into
 * messages and exit codes: 0 ok, 1 refused or bad input, 2 usage.
 */
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Argument, Command, CommanderError, Help } from 'commander';
import {
  appLinkTarget,
  formatBytes,
  labelCommands,
  launcherPath,
  pathsOf,
  printJson,
  printTable,
} from './cli/common.js';
import { buildFlakeCtlProgram } from './cli/flake-ctl.js';
import { defineImages } from './cli/images.js';
import { listCommand } from './cli/list.js';
import { defineLoad } from './cli/load.js';
import { addMigrateCommand } from './cli/migrate.js';
import { definePackage, packageVersionArgs } from './cli/package.js';
import { podmanCommand } from './cli/podman.js';
import { definePs } from './cli/ps.js';
import { definePull } from './cli/pull.js';
import { defineRegister } from './cli/register.js';
import { defineUpdate } from './cli/update.js';
import { defineVerify } from './cli/verify.js';
import { formatError, isPilotError, PilotError } from './core/errors.js';
import { escapeName } from './core/excerpt.js';
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

  program
    .command('rmi')
    .description('remove an image name (layers go with "pilot gc")')
    .argument('<ref>', 'image name or id')
    .option('-f, --force', 'remove even while registered apps use it')
    .addHelpText('after', '\nExample:\n  pilot rmi pilot/hello-delta && pilot gc')
    .action(async (ref: string, options, command: Command) => {
      const paths = pathsOf(command);
      const { removeImageRef } = await import('./store/images.js');
      const { appsUsingImage } = await import('./core/app-registry.js');
      const result = removeImageRef(paths, ref, {
        force: Boolean(options.force),
        usedBy: (id: string) => appsUsingImage(paths, id),
      });
      for (const name of result.removed) process.stdout.write(`untagged ${name}\n`);
    });

  program
    .command('gc')
    .description('delete images with no name and no app, then layers no image uses')
    .summary('delete unused images and layers')
    .option('--json', 'print what was deleted as JSON')
    .addHelpText('after', '\nExample:\n  pilot gc')
    .action(async (options, command: Command) => {
      const { runGc } = await import('./commands/gc.js');
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

  defineVerify(program);
  defineUpdate(program);
  definePackage(program);

  defineRegister(program);

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
      const { removeApp, removeByContainer } = await import('./commands/remove.js');
      const paths = pathsOf(command);
      const result = options.app
        ? removeApp(paths, options.app)
        : removeByContainer(paths, options.container);
      for (const r of result.removed)
        process.stdout.write(`removed ${r.app}${r.link ? ` (${r.link})` : ''}\n`);
    });

  program.addCommand(listCommand('pilot'));
  program.addCommand(podmanCommand());

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
      const { loadFlake, serializeFlake } = await import('./core/flake-file.js');
      const { effectiveSettings, effectiveText } = await import('./commands/effective.js');
      const { basename } = await import('node:path');
      const paths = pathsOf(command);
      const loaded = loadFlake(paths.flakes, basename(app));
      const { flake, warnings, files } = loaded;
      for (const w of warnings)
        process.stderr.write(`pilot: warning: ${w.file}:${w.line}: ${w.message}\n`);
      const image: { User?: string | undefined; WorkingDir?: string | undefined } = {};
      try {
        const { flakeImages } = await import('./runtime/launch.js');
        const { imageSetting } = await import('./runtime/launch-plan.js');
        const images = flakeImages(paths, flake);
        image.User = imageSetting(images, 'User');
        image.WorkingDir = imageSetting(images, 'WorkingDir');
      } catch {
        // an image gone from the store: the flake is still shown
      }
      const effective = effectiveSettings(flake, loaded.podmanAt, image, process.getuid?.() ?? 0);
      const { link, note } = (await import('./core/app-registry.js')).linkNote(paths, flake);
      if (options.json) return printJson({ ...flake, link, effective });
      process.stdout.write(
        `# from ${files.join(', ')}\n${note}${serializeFlake(flake, { header: '' })}${effectiveText(effective)}`,
      );
    });

  program
    .command('check')
    .description('check that the host has every file an app needs (exit 1 if not)')
    .summary("check an app's host files (exit 1 if missing)")
    .argument('<app>', 'app name or host path')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  pilot check jq-app')
    .action(async (app: string, options, command: Command) => {
      const { checkApp, checkRows, checkSummary } = await import('./commands/check.js');
      const result = checkApp(pathsOf(command), app);
      if (options.json) printJson(result);
      else {
        printTable(['STATUS', 'HOST FILE OR PACKAGE', 'NEEDED BY'], checkRows(result));
        process.stdout.write(`${checkSummary(result)}\n`);
      }
      if (!result.ok) process.exitCode = 1;
    });

  definePs(program);

  program
    .command('stop')
    .description('end an instance: stop its calls, unmount it, delete its state')
    .summary('end an instance and delete its state')
    .argument('[app]', 'APP or APP@NAME')
    .option('--all', 'stop every instance')
    .addHelpText('after', '\nExamples:\n  pilot stop aws@dev\n  pilot stop --all')
    .action(async (target: string | undefined, options, command: Command) => {
      const { stopTargets } = await import('./commands/stop.js');
      for (const id of await stopTargets(pathsOf(command), target, Boolean(options.all))) {
        process.stdout.write(`stopped ${id}\n`);
      }
    });

  addMigrateCommand(program, { pathsOf, appLinkTarget, printJson });
  program
    .command('doctor')
    .description(
      'check what this host supports (kernel overlayfs, namespaces, util-linux, the exec helper, podman/skopeo, dpkg/rpm, store permissions and space); read-only, works before any store exists; exit 1 only when something pilot needs is missing',
    )
    .summary('check what this host supports (exit 1 if unusable)')
    .option('--json', 'print an array of checks')
    .addHelpText('after', '\nExample:\n  pilot doctor --json')
    .action(async (options, command: Command) => {
      const { doctorExitCode, runDoctor } = await import('./commands/doctor.js');
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

  program
    .command('completion')
    .description(
      'print a completion script for bash or zsh (commands, options, app and image names)',
    )
    .summary('print a bash or zsh completion script')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      '\nExample:\n  pilot completion bash > /etc/bash_completion.d/pilot\n  source <(pilot completion zsh)',
    )
    .action(async (shell: 'bash' | 'zsh') => {
      const { completionScript } = await import('./cli/completion.js');
      process.stdout.write(completionScript(program, shell));
    });

  // For the completion scripts: names only, one a line, no flake parsing.
  program
    .command('__complete', { hidden: true })
    .argument('<kind>', 'apps or images')
    .action(async (kind: string, _options, command: Command) => {
      const paths = pathsOf(command, { readOnly: true });
      let words: string[];
      if (kind === 'apps') words = (await import('./core/app-registry.js')).appNames(paths);
      else if (kind === 'images')
        words = [...(await import('./core/image-record.js')).listRefs(paths).keys()].sort();
      else throw new PilotError('PILOT_USAGE', `cannot complete "${kind}": use apps or images`);
      if (words.length > 0) process.stdout.write(`${words.join('\n')}\n`);
    });

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
