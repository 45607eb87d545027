import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { positionIn, quoteExcerpt } from '../../src/core/excerpt.js';
import { describeJsonError, jsonErrorOffset } from '../../src/core/json-error.js';
import { fuzzRuns } from '../fuzz.js';

describe('quoteExcerpt', () => {
  it.each([
    ['plain', '"plain"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['\x1b[31mred\n\t\r', '"\\x1b[31mred\\n\\t\\r"'],
    ['\x7f\u009b\u202e\ud800', '"\\x7f\\u009b\\u202e\\ud800"'],
    ['café 😀', '"café 😀"'],
  ])('quotes %j as %s', (text, quoted) => {
    expect(quoteExcerpt(text)).toBe(quoted);
  });

  it('cuts long text without splitting an escape', () => {
    expect(quoteExcerpt('x'.repeat(100_000))).toBe(`"${'x'.repeat(80)}…"`);
    expect(quoteExcerpt(`${'x'.repeat(78)}\x1b`)).toBe(`"${'x'.repeat(78)}…"`);
  });

  it('never lets a control character through, never grows past its bound', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.nat(120), (text, max) => {
        const quoted = quoteExcerpt(text, max);
        expect(quoted).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
        expect(quoted.length).toBeLessThanOrEqual(max + 3);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });
});

describe('positionIn', () => {
  it('gives line and column, and quotes the line from a little before the position', () => {
    const text = `{\n  "a": 1,\n  ${'"x": 1, '.repeat(40)}oops\n}`;
    const at = positionIn(text, text.indexOf('oops'));
    expect(at).toMatchObject({ line: 3, column: text.indexOf('oops') - text.indexOf('  "x"') + 1 });
    expect(at.excerpt).toMatch(/^…".*oops"$/);
    expect(at.excerpt.length).toBeLessThanOrEqual(84);
  });
});

describe('jsonErrorOffset', () => {
  it.each([
    ['{"a": [1, 2.5e-3, true, null, "\\u00e9"]}', undefined],
    ['root:x:0:0', 0],
    ['{"a":1,}', 7],
    ['[1,2', 4],
    ['{"a": tru}', 6],
    ['{"a":"\u0001"}', 6],
    ['{"a":1} x', 8],
    ['', 0],
    ['-', 1],
    ['01', 1],
  ])('%j goes wrong at %s', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
  });

  it('handles deep nesting without a stack', () => {
    expect(jsonErrorOffset('['.repeat(100_000))).toBe(100_000);
    expect(jsonErrorOffset(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toBeUndefined();
  });

  // Valid JSON, then the same text with a few characters changed: the scanner must
  // agree with JSON.parse on which texts are JSON, and point inside the text.
  const nearJson = fc
    .tuple(
      fc.jsonValue().map((value) => JSON.stringify(value, null, 1)),
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.constantFrom('', ',', '"', '\\', ':', '}', ']', ' ', '0', '\x01', '-', '.', 'e'),
        ),
      ),
    )
    .map(([text, edits]) =>
      edits.reduce((out, [at, char]) => {
        const i = at % (out.length + 1);
        return out.slice(0, i) + char + out.slice(i + 1);
      }, text),
    );

  it('agrees with JSON.parse', () => {
    fc.assert(
      fc.property(nearJson, (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        const offset = jsonErrorOffset(text);
        expect(offset === undefined).toBe(valid);
        if (offset !== undefined) expect(offset).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });
});

describe('describeJsonError', () => {
  it('names file, line and column, and quotes only a short escaped excerpt', () => {
    const secret = `root:$y$j9T$${'s'.repeat(200)}:19000:0:99999:7:::\n`;
    const message = describeJsonError('index.json', secret);
    expect(message).toMatch(/^index\.json:1:1: not valid JSON near "root:\$y\$j9T\$s+…"$/);
    expect(message.length).toBeLessThan(120);
    expect(describeJsonError('m.json', '{\n "a": 1,\n "b": \x1b]0;x\x07\n}')).toBe(
      'm.json:3:7: not valid JSON near " \\"b\\": \\x1b]0;x\\x07"',
    );
  });
});
