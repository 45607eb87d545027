/**
 * The launcher's own arguments, read the way flake-pilot reads them: `@NAME`
 * selects a named instance and `%option` steers the launcher, anywhere in the
 * argument list; `@@x` and `%%x` pass a literal `@x` / `%x` to the app.
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
  /** True when any `@`/`%` argument was seen (the fast path must not handle these). */
  hadPilotArgs: boolean;
}

const INSTANCE_NAME = /^[A-Za-z0-9_=-]{1,64}$/;

export function parseCallerArgs(args: readonly string[]): CallerArgs {
  const result: CallerArgs = { instance: '', options: new Set(), appArgs: [], hadPilotArgs: false };
  for (const arg of args) {
    if (arg.startsWith('@@') || arg.startsWith('%%')) {
      result.appArgs.push(arg.slice(1));
      result.hadPilotArgs = true;
    } else if (arg.startsWith('@') && arg.length > 1) {
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
          `two instance names given: @${result.instance} and ${arg}`,
          {
            exitCode: 125,
          },
        );
      }
      result.instance = name;
      result.hadPilotArgs = true;
    } else if (arg.startsWith('%') && arg.length > 1) {
      const name = arg.slice(1);
      if (!(CALLER_OPTIONS as readonly string[]).includes(name)) {
        throw new PilotError('PILOT_USAGE', `unknown launcher option ${quoteExcerpt(arg)}`, {
          hint: `known options: ${CALLER_OPTIONS.map((o) => `%${o}`).join(', ')}; pass "%%..." to give the app a literal "%..."`,
          exitCode: 125,
        });
      }
      result.options.add(name as CallerOption);
      result.hadPilotArgs = true;
    } else {
      result.appArgs.push(arg);
    }
  }
  return result;
}
