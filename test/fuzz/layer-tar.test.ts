/**
 * Layer tars are image data: whatever entries a tar holds (`..`, absolute and long names,
 * odd bytes, duplicates, hard links and symlinks out or through earlier symlinks,
 * whiteouts anywhere, devices), extraction either refuses it with a PilotError naming an
 * entry, or extracts it with every path inside the destination; either way nothing
 * outside the store's temp dir and the destination changes (a sentinel dir beside them
 * stays as it was). Each case runs GNU tar, so CI runs about a hundred.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractTarSafely } from '../../src/store/extract.js';
import { encodeTar, type TarEntrySpec } from '../../src/store/tar-write.js';
import { fuzzRuns } from '../fuzz.js';
import { type TempStore, tempStore } from '../store/helpers.js';
import { expectShortPilotError } from './helpers.js';

const segment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'c', 'victim', 'secret') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('..', '.', '', '.wh.a', '.wh.b', '.wh..wh..opq', '.wh.'),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constant('n'.repeat(120)),
      fc
        .string({ unit: 'binary', minLength: 1, maxLength: 6 })
        .map((s) => s.replace(/[\0/]/g, '_')),
    ),
  },
);
const entryPath = fc
  .tuple(
    fc.constantFrom('', '', '', '/', './', '../'),
    fc.array(segment, { minLength: 1, maxLength: 3 }),
  )
  .map(([lead, parts]) => `${lead}${parts.join('/')}`);
const linkTarget = fc.oneof(
  entryPath,
  fc.constantFrom(
    '/',
    '/etc',
    '..',
    '../victim',
    '../../victim/secret',
    'a/../..',
    '/proc/self/root',
  ),
);
const entry: fc.Arbitrary<TarEntrySpec> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      path: entryPath,
      type: fc.constant('file' as const),
      body: fc.constantFrom('x', 'pwned\n', ''),
    }),
  },
  { weight: 3, arbitrary: fc.record({ path: entryPath, type: fc.constant('dir' as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      path: entryPath,
      type: fc.constant('symlink' as const),
      linkpath: linkTarget,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      path: entryPath,
      type: fc.constant('link' as const),
      linkpath: linkTarget,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      path: entryPath,
      type: fc.constantFrom('char' as const, 'block' as const, 'fifo' as const),
      devmajor: fc.constantFrom(0, 1),
      devminor: fc.constantFrom(0, 3),
    }),
  },
);

let store: TempStore;
let victim: string;
const SECRET = 'secret\n';

beforeAll(() => {
  store = tempStore('pilot-fuzz-tar-');
  victim = join(store.dir, 'victim');
  mkdirSync(victim);
  writeFileSync(join(victim, 'secret'), SECRET);
});
afterAll(() => store.cleanup());

/** Every path below `dir`, found without following symlinks. */
function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out.push(path);
    if (lstatSync(path).isDirectory()) walk(path, out);
  }
  return out;
}

describe('layer tars under random entries', () => {
  it('refuse naming an entry, or extract inside the destination; nothing outside changes', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(entry, { minLength: 1, maxLength: 7 }),
        fc.boolean(),
        async (entries, privileged) => {
          const dest = join(store.dir, 'root', `out-${run++}`);
          const tmpDir = join(store.dir, 'root', 'tmp');
          try {
            await extractTarSafely(Readable.from([encodeTar(entries)]), dest, {
              tmpDir,
              label: 'layer.tar',
              privileged,
            });
            for (const path of walk(dest)) {
              expect(relative(dest, path).startsWith('..')).toBe(false);
              const stat = lstatSync(path);
              // A hard link can only join files of this layer.
              if (stat.isFile() && stat.nlink > 1)
                expect(stat.ino).not.toBe(statSync(join(victim, 'secret')).ino);
            }
          } catch (error) {
            const refused = expectShortPilotError(error, 200);
            expect(refused.message).toMatch(/^layer\.tar: /);
            if (refused.code === 'PILOT_LAYER_UNSAFE') expect(refused.message).toMatch(/entr/);
            else expect(refused.code).toBe('PILOT_IMAGE_INVALID');
          }
          expect(readdirSync(store.dir).sort()).toEqual(['root', 'victim']);
          expect(readdirSync(victim)).toEqual(['secret']);
          expect(readFileSync(join(victim, 'secret'), 'utf8')).toBe(SECRET);
          expect(statSync(join(victim, 'secret')).nlink).toBe(1);
          expect(readdirSync(tmpDir)).toEqual([]);
          expect(readdirSync(join(store.dir, 'root')).filter((n) => !n.startsWith('out-'))).toEqual(
            ['tmp'],
          );
        },
      ),
      { numRuns: fuzzRuns(100) },
    );
  }, 60_000);
});
