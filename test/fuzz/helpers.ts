/**
 * What every fuzz test here checks of an error: it is a PilotError with a code, its
 * message quotes at most a short excerpt of the input, and it carries no raw control
 * characters (terminal escapes) from it.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { PilotError } from '../../src/core/errors.js';

/** Room for pilot's own words, a file name and one ~80-character excerpt, with slack. */
export const MAX_MESSAGE = 400;

/** Fails the property unless `error` is a PilotError that reads as a short, escaped message. */
export function expectShortPilotError(error: unknown, extra = 0): PilotError {
  if (!(error instanceof PilotError)) throw error;
  expect(error.code).toMatch(/^PILOT_/);
  expect(error.message.length).toBeLessThanOrEqual(MAX_MESSAGE + extra);
  // \n only between pilot's own lines; no other C0/C1 control character from the input.
  expect(error.message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  return error;
}

/** Runs `fn`; returns its value, or the PilotError it threw (anything else fails the test). */
export function attempt<T>(fn: () => T, extra = 0): T | PilotError {
  try {
    return fn();
  } catch (error) {
    return expectShortPilotError(error, extra);
  }
}

/** Strings with the bytes parsers trip over: controls, quotes, bidi, lone surrogates, long runs. */
export const oddString = (maxLength = 40): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.constantFrom('', ' ', '..', '.', '/', '#', ';', '\u202e', '\ud800', '\r', '\t', '\x1b[2J'),
    fc.nat(3000).map((n) => 'x'.repeat(n)),
  );
