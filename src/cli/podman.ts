/**
 * `pilot podman register|remove|load|pull|show`: flake-ctl's podman level with its
 * forms and flags (src/commands/flake-ctl.ts maps them onto pilot's own commands).
 * The same definitions serve `flake-ctl podman ...` (src/cli/flake-ctl.ts).
 */
import { Command, Option } from 'commander';
import { PilotError } from '../core/errors.js';
import {
  appLinkTarget,
  pathsOf,
  printJson,
  printRegistered,
  printTable,
  printText,
  printWarning,
} from './common.js';

/** Repeatable and variadic, as clap's `multiple = true`: `--layer a b --layer c`. */
function many(flags: string, description: string): Option {
  return new Option(flags, `${description} (several values, or repeated)`);
}

function registerCommand(): Command {
  return new Command('register')
    .description(
      "register an app from flake-ctl's options: write its flake and link --app to the launcher (--info prints the registration info the image carries instead)",
    )
    .summary('register an app (flake-ctl podman register)')
    .requiredOption('--container <name>', 'the app image (a delta, or a full image without --base)')
    .option('--app <path>', 'host path of the app command, e.g. /usr/bin/hello')
    .option('--target <path>', 'program inside the image ("/" = the image entrypoint)')
    .option('--base <name>', 'base image the delta stacks on')
    .addOption(many('--layer <name...>', 'extra layer image between base and delta, bottom first'))
    .addOption(many('--include-tar <file...>', 'tar extracted over the app root'))
    .addOption(many('--include-path <path...>', 'host path shown at the same path inside'))
    .addOption(new Option('--resume', 'keep the instance between calls').conflicts('attach'))
    .addOption(new Option('--attach', 'attach to the running instance').conflicts('resume'))
    .option('--run-as <user>', 'host account a root caller runs the app as (runtime.runas)')
    .addOption(many('--opt <option...>', 'podman-style option, e.g. "\\--net host"'))
    .option(
      '--check-host-dependencies',
      "provide the image's /removed host files even without --base",
    )
    .option('--info', "print the image's registration info file (/NAME.yaml) and register nothing")
    .option('-f, --force', 'replace an existing registration or file at --app')
    .addHelpText(
      'after',
      '\nExample:\n  pilot podman register --container pilot/hello-delta --base pilot/busybox-base --layer pilot/extra --app /usr/bin/hello',
    )
    .action(async (options, command: Command) => {
      const flakeCtl = await import('../commands/flake-ctl.js');
      const paths = pathsOf(command);
      if (options.info) {
        process.stdout.write(flakeCtl.readImageInfo(paths, options.container));
        return;
      }
      const { registerApp } = await import('../commands/register.js');
      printRegistered(
        registerApp(paths, flakeCtl.registerOptionsOf(options), appLinkTarget()),
        false,
      );
    });
}

function removeCommand(): Command {
  return new Command('remove')
    .description(
      'remove an app (its link and flake), or every app of an image and the image name (layers go with "pilot gc")',
    )
    .summary('remove apps (flake-ctl podman remove)')
    .option('--app <path>', 'the app link, e.g. /usr/bin/hello')
    .option('--container <name>', 'every app that uses this image, then the image name')
    .option('-f, --force', 'no error when nothing is registered at --app')
    .addHelpText('after', '\nExample:\n  pilot podman remove --app /usr/bin/hello')
    .action(async (options, command: Command) => {
      if (Boolean(options.app) === Boolean(options.container)) {
        throw new PilotError('PILOT_USAGE', 'give exactly one of --app PATH or --container NAME');
      }
      const { purgeContainer, removeFlakeApp } = await import('../commands/flake-ctl.js');
      const paths = pathsOf(command);
      const result = options.app
        ? { ...removeFlakeApp(paths, options.app, Boolean(options.force)), untagged: [] }
        : purgeContainer(paths, options.container);
      for (const r of result.removed)
        process.stdout.write(`removed ${r.app}${r.link ? ` (${r.link})` : ''}\n`);
      for (const name of result.untagged) process.stdout.write(`untagged ${name}\n`);
    });
}

function loadCommand(): Command {
  return new Command('load')
    .description(
      'load an oci-archive or docker-archive into the store (no FILE: the highest version of FILE*)',
    )
    .summary('load an image archive (flake-ctl podman load)')
    .requiredOption('--oci <file>', 'the archive')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  pilot podman load --oci hello-delta.tar')
    .action(async (options, command: Command) => {
      // The same load as pilot load --oci: NAME, or the highest version of NAME*.
      const { runLoad } = await import('./load.js');
      await runLoad([], { oci: [options.oci], json: options.json }, command);
    });
}

function pullCommand(): Command {
  return new Command('pull')
    .description('fetch an image from its registry (only what the store lacks) or podman storage')
    .summary('fetch an image (flake-ctl podman pull)')
    .requiredOption('--uri <ref>', 'image reference')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  pilot podman pull --uri registry.example.com/team/app:1.0')
    .action(async (options, command: Command) => {
      const { pullRef } = await import('../commands/pull.js');
      const { loadSummary } = await import('../commands/load.js');
      const { results } = await pullRef(pathsOf(command), options.uri, { onWarning: printWarning });
      if (options.json) return printJson(results.map(loadSummary));
      for (const r of results) process.stdout.write(`pulled ${r.names.join(', ')}\n`);
    });
}

function showCommand(): Command {
  return new Command('show')
    .description(
      'show kept instances as flake-ctl does: name, user, id, status, image, config ("pilot ps" shows more)',
    )
    .summary('show kept instances (flake-ctl podman show)')
    .addOption(
      new Option('--format <format>', 'table, json or csv (no header line)')
        .choices(['table', 'json', 'csv'])
        .default('table'),
    )
    .addHelpText('after', '\nExample:\n  pilot podman show --format json')
    .action(async (options, command: Command) => {
      const { instanceRecords } = await import('../commands/flake-ctl.js');
      const list = await import('../commands/flake-list.js');
      const records = instanceRecords(pathsOf(command));
      if (options.format === 'json') return printJson(records);
      if (options.format === 'csv')
        return printText(list.csvText(list.instanceRows(records, false)));
      if (records.length === 0) return printText('No instance(s) found\n');
      printTable(list.INSTANCE_COLUMNS, list.tableCells(list.instanceRows(records, true)), true);
    });
}

/** flake-ctl 2.2's `podman build-deb`: pilot makes packages its own way. */
function buildDebCommand(): Command {
  return new Command('build-deb')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new PilotError('PILOT_USAGE', 'flake-ctl podman build-deb is not part of pilot', {
        hint: 'register the app, then "pilot package APP [--with-images]" builds a .deb that registers it on install',
      });
    });
}

export function podmanCommand(): Command {
  return new Command('podman')
    .description("flake-ctl's podman commands: register, remove, load, pull, show")
    .summary("flake-ctl's podman register|remove|load|pull|show")
    .option('--user', 'accepted for flake-ctl (an unprivileged caller always uses its own store)')
    .addCommand(registerCommand())
    .addCommand(removeCommand())
    .addCommand(loadCommand())
    .addCommand(pullCommand())
    .addCommand(showCommand())
    .addCommand(buildDebCommand(), { hidden: true })
    .addHelpText(
      'after',
      '\nExamples:\n  pilot podman load --oci hello-delta.tar\n  pilot podman register --container pilot/hello-delta --app /usr/bin/hello\n  pilot podman remove --app /usr/bin/hello',
    );
}
