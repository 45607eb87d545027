/**
 * The launcher's own arguments among the caller's (DESIGN, "Command line"):
 *
 * - upstream's named options `%remove`, `%interactive`, `%ignore_sync_error`,
 *   `%ignore_missing_volume_path` and `%progress`, each also as `%NAME:VALUE` (flake-pilot
 *   splits a `%` argument at its last `:`; the value changes nothing), wherever they stand;
 * - `@NAME`, which selects an instance of a resume/attach flake;
 * - `@@x` and `%%x`, which pass `@x` and `%x`.
 *
 * Every other argument reaches the app unchanged: another `%…` (`printf '%s'`) and a
 * one-shot app's `@…` (`curl -d @file`). flake-pilot strips them all. The warm-path stub
 * (pilot/exec/stub.c) steps aside for exactly the arguments taken here (docs/plan.md).
 */
import { PilotError } from './errors.js';
import { quoteExcerpt } from './excerpt.js';

export const CALLER_OPTIONS = [
  'remove',
  'ignore_sync_error',
  'ignore_missing_volume_path',
  'interactive',
  'progress',
] as const;
export type CallerOption = (typeof CALLER_OPTIONS)[number];

export interface CallerArgs {
  /** Instance name from `@NAME`; '' for the default instance. */
  instance: string;
  options: Set<CallerOption>;
  /** Arguments for the app, exactly as given apart from the pilot ones. */
  appArgs: string[];
  /** True when pilot took or rewrote an argument (such a call writes no fast plan). */
  hadPilotArgs: boolean;
}

export interface CallerArgsContext {
  /** A resume or attach flake: `@NAME` selects its instance. */
  kept: boolean;
}

const INSTANCE_NAME = /^[A-Za-z0-9_=-]{1,64}$/;

/** The named option `arg` is (`%NAME` or `%NAME:VALUE`, split at the last `:`), if any. */
export function namedCallerOption(arg: string): CallerOption | undefined {
  if (!arg.startsWith('%')) return undefined;
  const colon = arg.lastIndexOf(':');
  const name = (colon < 0 ? arg : arg.slice(0, colon)).slice(1);
  return (CALLER_OPTIONS as readonly string[]).includes(name) ? (name as CallerOption) : undefined;
}

export function parseCallerArgs(args: readonly string[], context: CallerArgsContext): CallerArgs {
  const result: CallerArgs = { instance: '', options: new Set(), appArgs: [], hadPilotArgs: false };
  for (const arg of args) {
    const option = namedCallerOption(arg);
    if (arg.startsWith('@@') || arg.startsWith('%%')) {
      result.appArgs.push(arg.slice(1));
      result.hadPilotArgs = true;
    } else if (option !== undefined) {
      result.options.add(option);
      result.hadPilotArgs = true;
    } else if (context.kept && arg.startsWith('@') && arg.length > 1) {
      const name = arg.slice(1);
      if (!INSTANCE_NAME.test(name)) {
        throw new PilotError('PILOT_USAGE', `invalid instance name ${quoteExcerpt(arg)}`, {
          hint: 'an instance name is 1-64 characters of A-Z a-z 0-9 _ = -; pass "@@..." to give the app a literal "@..."',
          exitCode: 125,
        });
      }
      if (result.instance !== '' && result.instance !== name) {
        throw new PilotError(
          'PILOT_USAGE',
          `two instance names given: @${result.instance} and ${quoteExcerpt(arg)}`,
          { hint: 'name one instance per call', exitCode: 125 },
        );
      }
      result.instance = name;
      result.hadPilotArgs = true;
    } else {
      result.appArgs.push(arg);
    }
  }
  return result;
}
