/**
 * `/removed` comes from an image: whatever it holds, parsing ends in a list of absolute,
 * normalized paths without `..`, or in a short PilotError naming the line; comments and
 * blank lines change nothing; time grows linearly with the size of the file.
 */
import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import { parseRemovedFile } from '../../src/core/removed-file.js';
import { fuzzRuns } from '../fuzz.js';
import { attempt, oddString } from './helpers.js';

const SOURCE = '/removed of image delta:1';

const segment = fc.oneof(
  fc.constantFrom('usr', 'bin', 'etc', '.', '..', '', '...', '.wh.x', 'a b', '*', 'ü'),
  oddString(12),
);
const pathLine = fc
  .tuple(fc.constantFrom('', '/', '//', './', ' ', '\t'), fc.array(segment, { maxLength: 6 }))
  .map(([lead, parts]) => `${lead}${parts.join('/')}`);
const commentLine = fc
  .tuple(fc.constantFrom('#', ';', '  #', '\t;'), oddString(30))
  .map(([mark, text]) => `${mark}${text.replace(/\n/g, ' ')}`);
const blankLine = fc.constantFrom('', ' ', '\t', '\r', ' \r');

function expectAccepted(paths: string[]): void {
  for (const path of paths) {
    expect(path.startsWith('/')).toBe(true);
    expect(posix.normalize(path)).toBe(path);
    expect(path).not.toMatch(/\/$/);
    expect(path.split('/')).not.toContain('..');
    expect(path).not.toContain('\0');
  }
}

describe('/removed under random input', () => {
  it('gives normalized absolute paths or a short PilotError, for any text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(pathLine, commentLine, blankLine, oddString()), { maxLength: 20 }),
        fc.constantFrom('\n', '\r\n'),
        (lines, eol) => {
          const result = attempt(() => parseRemovedFile(lines.join(eol), SOURCE));
          if (result instanceof PilotError) {
            expect(result.code).toBe('PILOT_REMOVED_UNSAFE');
            expect(result.message).toMatch(/^\/removed of image delta:1:\d+: /);
          } else expectAccepted(result);
        },
      ),
      { numRuns: fuzzRuns(400) },
    );
  });

  it('ignores comments and blank lines wherever they stand', () => {
    fc.assert(
      fc.property(
        fc.array(pathLine, { maxLength: 10 }),
        fc.array(fc.tuple(fc.nat(), fc.oneof(commentLine, blankLine)), { maxLength: 10 }),
        (paths, extras) => {
          const lines = [...paths];
          for (const [at, extra] of extras) lines.splice(at % (lines.length + 1), 0, extra);
          const plain = attempt(() => parseRemovedFile(paths.join('\n'), SOURCE));
          const mixed = attempt(() => parseRemovedFile(lines.join('\n'), SOURCE));
          if (plain instanceof PilotError) expect(mixed).toBeInstanceOf(PilotError);
          else expect(mixed).toEqual(plain);
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('reads a big file in linear time and quotes only an excerpt of a huge line', () => {
    const line = '/usr/lib/x86_64-linux-gnu/libsomething.so.1\n';
    const time = (copies: number) => {
      const text = line.repeat(copies);
      const start = performance.now();
      expect(parseRemovedFile(text, SOURCE)).toHaveLength(copies);
      return performance.now() - start;
    };
    time(10_000); // warm up
    const small = time(50_000);
    const large = time(400_000);
    // 8x the input: well below the 64x a quadratic parser would take.
    expect(large).toBeLessThan(Math.max(small, 5) * 24);
    const huge = `/a/${'x'.repeat(5_000_000)}/../b\n`;
    attempt(() => parseRemovedFile(huge, SOURCE));
    expect(() => parseRemovedFile(huge, SOURCE)).toThrow(PilotError);
  });
});
