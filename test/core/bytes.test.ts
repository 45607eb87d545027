import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBytes, encodeBytes, joinNul, splitNul } from '../../src/core/bytes.js';
import { fuzzRuns } from '../fuzz.js';

describe('bytes as strings (surrogateescape)', () => {
  it('gives back exactly the bytes it was given, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(encodeBytes(decodeBytes(bytes))).toEqual(Buffer.from(bytes));
      }),
      { numRuns: fuzzRuns(2000) },
    );
  });

  it('decodes valid UTF-8 as Node does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const bytes = Buffer.from(text, 'utf8');
        expect(decodeBytes(bytes)).toBe(bytes.toString('utf8'));
        expect(encodeBytes(text)).toEqual(bytes);
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  it('escapes each byte of an invalid sequence on its own', () => {
    expect(decodeBytes(Buffer.from('caf\xe9', 'latin1'))).toBe('caf\udce9');
    expect(decodeBytes(Buffer.of(0x01, 0xff))).toBe('\x01\udcff');
    // Overlong, surrogate and past-U+10FFFF forms are invalid UTF-8.
    expect(decodeBytes(Buffer.of(0xc0, 0xaf))).toBe('\udcc0\udcaf');
    expect(decodeBytes(Buffer.of(0xed, 0xa0, 0x80))).toBe('\udced\udca0\udc80');
    expect(decodeBytes(Buffer.of(0xf4, 0x90, 0x80, 0x80))).toBe('\udcf4\udc90\udc80\udc80');
    // A truncated sequence before a valid character.
    expect(decodeBytes(Buffer.of(0xe2, 0x82, 0x41))).toBe('\udce2\udc82A');
  });

  it('keeps a real character whose low half looks like an escape', () => {
    const text = String.fromCodePoint(0x10080);
    expect(encodeBytes(text)).toEqual(Buffer.from(text, 'utf8'));
  });

  it('splits and joins NUL-separated words', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b.filter((x) => x !== 0))),
        ),
        (words) => {
          const joined = joinNul(words.map((w) => decodeBytes(w)));
          expect(joined).toEqual(Buffer.concat(words.flatMap((w) => [w, Buffer.of(0)])));
          expect(splitNul(joined).map((w) => encodeBytes(w))).toEqual(words);
        },
      ),
      { numRuns: fuzzRuns(500) },
    );
    expect(splitNul(Buffer.from('a\0b'))).toEqual(['a', 'b']);
    expect(splitNul(Buffer.alloc(0))).toEqual([]);
  });
});
