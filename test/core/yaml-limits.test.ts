import { describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import { flakeFromSources } from '../../src/core/flake-file.js';
import { excessiveNestingLine, MAX_FLAKE_BYTES } from '../../src/core/yaml-limits.js';

describe('excessiveNestingLine', () => {
  it.each<[string, string, number | undefined]>([
    ['a flake', 'container:\n  name: a\n  runtime:\n    podman: ["-v /a:/b"]\n', undefined],
    ['deep flow brackets', `x: ${'['.repeat(200)}`, 1],
    ['deep flow on a later line', `a: 1\nb:\n  ${'{a: '.repeat(150)}1`, 3],
    [
      'deep block indentation',
      Array.from({ length: 150 }, (_, i) => `${' '.repeat(i)}k:`).join('\n'),
      101,
    ],
    ['compact sequences', `x:\n  ${'- '.repeat(150)}1\n`, 2],
    [
      'brackets in quotes and comments',
      `a: "${'['.repeat(300)}"\nb: '${'{'.repeat(300)}' # ${'['.repeat(300)}\n`,
      undefined,
    ],
    ['a quote inside a plain word hides nothing', `a: [x'y, ${'['.repeat(200)}`, 1],
  ])('%s', (_name, text, line) => {
    expect(excessiveNestingLine(text)).toBe(line);
  });
});

describe('flake limits', () => {
  it.each([
    ['flow', `${'['.repeat(5000)}${']'.repeat(5000)}`],
    ['block', Array.from({ length: 600 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')],
  ])('refuses %s nesting far past the limit by line, again and again in one process', (_kind, text) => {
    for (let round = 0; round < 3; round++) {
      expect(() => flakeFromSources([{ file: 'app.yaml', text }])).toThrow(
        /^app\.yaml:\d+: nested more than 100 levels deep/,
      );
    }
  });

  it('refuses a file larger than the limit before parsing it', () => {
    const text = `container:\n  name: a\n# ${'x'.repeat(MAX_FLAKE_BYTES)}\n`;
    expect(() => flakeFromSources([{ file: 'app.yaml', text }])).toThrow(PilotError);
    expect(() => flakeFromSources([{ file: 'app.yaml', text }])).toThrow(/at most 262144/);
  });
});
