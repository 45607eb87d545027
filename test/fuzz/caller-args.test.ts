/**
 * Caller arguments: the app gets the input minus pilot's own `%option`s and `@NAME`,
 * with `@@x`/`%%x` read as `@x`/`%x`, in the order given; anything pilot cannot read
 * is a short PilotError (exit 125), never another error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CALLER_OPTIONS, parseCallerArgs } from '../../src/core/caller-args.js';
import { PilotError } from '../../src/core/errors.js';
import { fuzzRuns } from '../fuzz.js';
import { attempt, oddString } from './helpers.js';

const instanceName = fc.stringMatching(/^[A-Za-z0-9_=-]{1,64}$/);
/** What the app should receive: anything at all, `@…` and `%…` included. */
const appArg = fc.oneof(
  oddString(),
  oddString().map((text) => `@${text}`),
  oddString().map((text) => `%${text}`),
  fc.constantFrom('@', '%', '@@', '%%', '%s', '@file', 'user@host', '--', ''),
);
/** How a caller writes `arg` so that it reaches the app: a leading `@`/`%` doubled. */
const escapeArg = (arg: string) => (/^[@%]/.test(arg) && arg.length > 1 ? `${arg[0]}${arg}` : arg);

describe('caller arguments under random input', () => {
  it('hands the app every other argument, unescaped, in order', () => {
    const pilotArg = fc.oneof(
      fc.constantFrom(...CALLER_OPTIONS).map((option) => `%${option}`),
      instanceName.map((name) => `@${name}`),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            appArg.map((arg) => ({ app: arg })),
            pilotArg.map((p) => ({ p })),
          ),
          {
            maxLength: 12,
          },
        ),
        (items) => {
          const args = items.map((item) => ('app' in item ? escapeArg(item.app) : item.p));
          const instances = new Set(
            items.flatMap((item) => ('p' in item && item.p.startsWith('@') ? [item.p] : [])),
          );
          const result = attempt(() => parseCallerArgs(args));
          if (instances.size > 1) {
            expect(result).toBeInstanceOf(PilotError);
            return;
          }
          if (result instanceof PilotError) throw result;
          expect(result.appArgs).toEqual(
            items.flatMap((item) => ('app' in item ? [item.app] : [])),
          );
          expect(result.instance).toBe([...instances][0]?.slice(1) ?? '');
          for (const item of items) {
            if ('p' in item && item.p.startsWith('%'))
              expect(result.options.has(item.p.slice(1) as never)).toBe(true);
          }
        },
      ),
      { numRuns: fuzzRuns(500) },
    );
  });

  it('throws nothing but a short PilotError for any argument list', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(appArg, oddString()), { maxLength: 12 }), (args) => {
        const result = attempt(() => parseCallerArgs(args));
        if (result instanceof PilotError) {
          expect(result.exitCode).toBe(125);
          expect(result.message).toMatch(/instance name|launcher option/);
        } else {
          const expected = args.flatMap((arg) =>
            /^(@@|%%)/.test(arg) ? [arg.slice(1)] : /^[@%]./.test(arg) ? [] : [arg],
          );
          expect(result.appArgs).toEqual(expected);
        }
      }),
      { numRuns: fuzzRuns(500) },
    );
  });
});
