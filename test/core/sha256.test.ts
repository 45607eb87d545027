import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/core/sha256.js';

const native = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('sha256Hex', () => {
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    ],
  ])('gives the FIPS 180-4 digest of %j', (text, digest) => {
    expect(sha256Hex(text)).toBe(digest);
  });

  it('agrees with node:crypto at every padding boundary (55, 56, 63, 64, 65 bytes …)', () => {
    for (let n = 0; n <= 200; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
      expect(sha256Hex(bytes)).toBe(native(bytes));
    }
  });

  it('hashes a string as its UTF-8 bytes, as node:crypto does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(sha256Hex(text)).toBe(native(text));
      }),
    );
  });

  it('agrees with node:crypto on a key of a thousand host files (about 100 KiB)', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `/usr/lib/x${i}\0file\0${i}:${i}\0`).join(
      '',
    );
    expect(sha256Hex(text)).toBe(native(text));
  });
});
