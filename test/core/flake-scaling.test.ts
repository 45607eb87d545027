/**
 * Flake files cost time linear in their size, and a flake far too large is refused
 * while it is read (yaml-bounded.ts), naming the file.
 */
import { describe, expect, it } from 'vitest';
import {
  type FlakeSource,
  flakeFromSources,
  mergeFlakeDocuments,
  parseFlakeSource,
  validateFlake,
} from '../../src/core/flake-file.js';
import { MAX_FLAKE_BYTES } from '../../src/core/yaml-limits.js';
import { expectLinear } from '../scaling.js';

const keys = (n: number, value: string) =>
  Array.from({ length: n }, (_, i) => `    k${i}: ${value}\n`).join('');

function load(sources: FlakeSource[]): () => void {
  return () => {
    flakeFromSources(sources);
  };
}

describe('flake files in linear time', () => {
  it('merging a drop-in that replaces many keys of the main file', async () => {
    await expectLinear((n) => {
      const docs = [
        parseFlakeSource({
          file: 'app.yaml',
          text: `container:\n  name: a\n  x:\n${keys(n, '1')}`,
        }),
        parseFlakeSource({ file: 'app.d/1.yaml', text: `container:\n  x:\n${keys(n, '[2]')}` }),
      ];
      return () => {
        validateFlake(mergeFlakeDocuments(docs));
      };
    }, 500);
  });

  it('parsing many keys', async () => {
    await expectLinear(
      (n) => load([{ file: 'app.yaml', text: `container:\n  name: a\n  x:\n${keys(n, '1')}` }]),
      500,
    );
  });

  it('many aliases (each names its anchor in one lookup)', async () => {
    await expectLinear(
      (n) =>
        load([
          {
            file: 'app.yaml',
            text: `container:\n  name: &n a\n  x: [${Array.from({ length: n }, () => '*n').join(', ')}]\n`,
          },
        ]),
      1000,
    );
  });

  it('many values in lists and flow mappings', async () => {
    await expectLinear(
      (n) =>
        load([
          {
            file: 'app.yaml',
            text: `container:\n  name: a\n  x:\n${Array.from({ length: n }, (_, i) => `    - {k${i}: v}\n`).join('')}`,
          },
        ]),
      250,
    );
  });
});

describe('flake limits while reading', () => {
  it('refuses 500,000 keys at once, by size, naming the file', () => {
    const text = `container:\n  name: a\n${Array.from({ length: 500_000 }, (_, i) => `k${i}: 1\n`).join('')}`;
    const start = performance.now();
    expect(() => flakeFromSources([{ file: '/flakes/big.yaml', text }])).toThrow(
      new RegExp(
        `^/flakes/big\\.yaml:1: the file has \\d+ bytes; a flake file has at most ${MAX_FLAKE_BYTES}$`,
      ),
    );
    expect(performance.now() - start).toBeLessThan(500);
  });

  it('refuses too many keys within the size limit while lexing, with the limit and line', () => {
    // 20,000 short pairs (100 kB): 60,000 tokens, refused at the 40,001st, on line 13,334.
    const text = Array.from({ length: 20_000 }, () => 'a: 1\n').join('');
    const start = performance.now();
    expect(() => flakeFromSources([{ file: '/flakes/many.yaml', text }])).toThrow(
      /^\/flakes\/many\.yaml:13334: too many keys and values: more than 40000 YAML tokens/,
    );
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it('refuses a flow mapping of empty keys the same way', () => {
    const text = `{${Array.from({ length: 60_000 }, () => ':').join(',')}}`;
    expect(() => flakeFromSources([{ file: 'app.yaml', text }])).toThrow(
      /^app\.yaml:1: too many keys and values/,
    );
  });

  it('counts the values of aliases once per use (10,000 at most)', () => {
    const text = `container:\n  name: a\n  a: &x [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n  b: [${Array.from({ length: 2000 }, () => '*x').join(', ')}]\n`;
    expect(() => flakeFromSources([{ file: 'app.yaml', text }])).toThrow(
      /^app\.yaml:\d+: more than 10000 values \(each use of an alias counts its values again\)/,
    );
  });
});
