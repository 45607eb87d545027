/**
 * `pilot register --from-flake FILE`: the options that go with it, then the command
 * (src/commands/register-flake.ts). The image and app options describe a flake, which
 * FILE already is: giving both is a usage error, not a silent choice.
 */
import type { Command } from 'commander';
import { PilotError } from '../core/errors.js';
import { appLinkTarget, pathsOf, printRegistered } from './common.js';
import { prepareAfter } from './replan.js';

const FLAKE_FIELDS = ['container', 'app', 'target', 'base', 'resume', 'attach'];
const FLAKE_LISTS = ['layer', 'includeTar', 'includePath', 'hostPackage', 'opt'];

export async function registerWithFlake(
  options: Record<string, unknown>,
  command: Command,
): Promise<void> {
  const given = [
    ...FLAKE_FIELDS.filter((key) => options[key] !== undefined),
    ...FLAKE_LISTS.filter((key) => (options[key] as string[]).length > 0),
  ];
  if (given.length > 0) {
    const flags = given.map((key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new PilotError(
      'PILOT_USAGE',
      `--from-flake takes the whole app from the flake file: ${flags.join(', ')} cannot go with it`,
      {
        hint: 'change the flake file, or register with --container and --app instead',
      },
    );
  }
  const { registerFromFlake } = await import('../commands/register-flake.js');
  const paths = pathsOf(command);
  const result = registerFromFlake(paths, options.fromFlake as string, appLinkTarget(), {
    force: Boolean(options.force),
  });
  printRegistered(result, Boolean(options.json));
  await prepareAfter(paths, [result.app]);
}
