/**
 * Caller arguments: the app gets the input minus pilot's named `%option`s (and `@NAME`
 * for a resume/attach flake), with `@@x`/`%%x` read as `@x`/`%x`, every other argument
 * unchanged, in the order given; anything pilot cannot read is a short PilotError
 * (exit 125), never another error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CALLER_OPTIONS, namedCallerOption, parseCallerArgs } from '../../src/core/caller-args.js';
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
    const option = fc
      .tuple(fc.constantFrom(...CALLER_OPTIONS), fc.option(fc.string()))
      .map(([name, value]) => `%${name}${value === null ? '' : `:${value.replaceAll(':', '')}`}`);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(
          fc.oneof(
            appArg.map((arg) => ({ app: arg })),
            option.map((p) => ({ p })),
            instanceName.map((name) => ({ p: `@${name}` })),
          ),
          {
            maxLength: 12,
          },
        ),
        (kept, all) => {
          // A one-shot app's @NAME is the app's: only a resume/attach flake names instances.
          const items = all.filter((item) => kept || !('p' in item && item.p.startsWith('@')));
          const args = items.map((item) => ('app' in item ? escapeArg(item.app) : item.p));
          const instances = new Set(
            items.flatMap((item) => ('p' in item && item.p.startsWith('@') ? [item.p] : [])),
          );
          const result = attempt(() => parseCallerArgs(args, { kept }));
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
              expect(result.options.has(namedCallerOption(item.p)!)).toBe(true);
          }
        },
      ),
      { numRuns: fuzzRuns(500) },
    );
  });

  it('throws nothing but a short PilotError for any argument list', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.oneof(appArg, oddString()), { maxLength: 12 }),
        (kept, args) => {
          const result = attempt(() => parseCallerArgs(args, { kept }));
          if (result instanceof PilotError) {
            expect(kept).toBe(true);
            expect(result.exitCode).toBe(125);
            expect(result.message).toMatch(/instance name/);
          } else {
            const expected = args.flatMap((arg) =>
              /^(@@|%%)/.test(arg)
                ? [arg.slice(1)]
                : namedCallerOption(arg) !== undefined || (kept && /^@./.test(arg))
                  ? []
                  : [arg],
            );
            expect(result.appArgs).toEqual(expected);
          }
        },
      ),
      { numRuns: fuzzRuns(500) },
    );
  });
});
