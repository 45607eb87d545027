/**
 * The `register` command: pulls what it names that the store lacks (--pull, and the
 * registry options of pull), then registers (src/commands/register.ts).
 */
import { type Command, Option } from 'commander';
import { PilotError } from '../core/errors.js';
import { appLinkTarget, collect, pathsOf, printRegistered } from './common.js';
import { addRegistryOptions, registryOptions } from './pull.js';
import { prepareAfter } from './replan.js';

export function defineRegister(program: Command): void {
  const register = program
    .command('register')
    .description('register an app: write its flake and link --app to the launcher')
    .summary('register an app and link it to the launcher')
    .option('--container <ref>', 'the app image (a delta, or a full image without --base)')
    .option('--app <path>', 'host path of the app command, e.g. /usr/bin/hello')
    .option(
      '--from-flake <file>',
      'register from a flake file NAME.yaml as it is (pins, every field, drop-ins in NAME.d/ beside it): what an app package installs; its images must be in the store',
    )
    .option('--target <path>', 'program inside the image ("/" = the image entrypoint)')
    .option('--base <ref>', 'base image the delta stacks on')
    .option('--layer <ref>', 'extra layer image between base and delta (repeatable)', collect, [])
    .option('--include-tar <file>', 'tar extracted over the app root (repeatable)', collect, [])
    .option(
      '--include-path <path>',
      'host path shown at the same path inside (repeatable)',
      collect,
      [],
    )
    .option(
      '--host-package <name>',
      'host package whose files the app needs (repeatable)',
      collect,
      [],
    )
    .addOption(new Option('--resume', 'keep the instance between calls').conflicts('attach'))
    .addOption(new Option('--attach', 'attach to the running instance').conflicts('resume'))
    .option('--opt <option>', 'podman-style option, e.g. "-e NAME=VALUE" (repeatable)', collect, [])
    .option('-f, --force', 'replace an existing registration or file at --app')
    .option('--json', 'print the written flake as JSON')
    .option(
      '--pull <policy>',
      'missing: pull a fully qualified image the store lacks first (default); never: do not',
      'missing',
    );
  addRegistryOptions(register)
    .addHelpText(
      'after',
      '\nExample:\n  pilot register --container pilot/hello-delta --base pilot/busybox-base --app /usr/bin/hello',
    )
    .action(async (options, command: Command) => {
      if (options.fromFlake !== undefined) {
        const { registerWithFlake } = await import('./register-flake.js');
        return registerWithFlake(options, command);
      }
      for (const flag of ['container', 'app'] as const) {
        if (options[flag] === undefined)
          throw new PilotError('PILOT_USAGE', `required option --${flag} not given`, {
            hint: 'or register from a flake file: pilot register --from-flake FILE',
          });
      }
      const { pullMissingImages, parsePullPolicy } = await import('../commands/register-pull.js');
      const { checkRegistration, registerApp } = await import('../commands/register.js');
      const { createProgress } = await import('../core/progress.js');
      const paths = pathsOf(command);
      const policy = parsePullPolicy(options.pull);
      const request = {
        container: options.container,
        app: options.app,
        target: options.target,
        base: options.base,
        layers: options.layer,
        includeTar: options.includeTar,
        includePath: options.includePath,
        hostPackages: options.hostPackage,
        resume: Boolean(options.resume),
        attach: Boolean(options.attach),
        opts: options.opt,
        force: Boolean(options.force),
      };
      // A registration that would be refused anyway fetches nothing.
      const prepared = checkRegistration(paths, request);
      let progress = createProgress(false, '');
      await pullMissingImages(paths, [options.container, options.base, ...options.layer], policy, {
        ...registryOptions(options),
        onPull: (ref) => {
          progress.done();
          progress = createProgress(options.json ? false : undefined, `pulling ${ref}`);
          return progress.update;
        },
      });
      progress.done();
      const result = registerApp(paths, request, appLinkTarget(), prepared);
      printRegistered(result, Boolean(options.json));
      await prepareAfter(paths, [result.app]);
    });
}
