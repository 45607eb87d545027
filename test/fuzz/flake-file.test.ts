/**
 * Flake files and drop-ins: whatever YAML (or almost-YAML) they hold, loading ends in a
 * flake or a short PilotError naming file:line, never a TypeError or a blown stack;
 * merging drop-ins is deterministic and does not change its inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PilotError } from '../../src/core/errors.js';
import {
  type FlakeSource,
  flakeFromSources,
  mergeFlakeDocuments,
  parseFlakeSource,
} from '../../src/core/flake-file.js';
import { fuzzRuns } from '../fuzz.js';
import { attempt, MAX_MESSAGE, oddString } from './helpers.js';

const KEYS = ['container', 'name', 'include', 'tar', 'path', 'layers', 'runtime', 'podman'];
const MORE_KEYS = ['resume', 'attach', 'runas', 'digests', 'host_packages', 'base_container'];
const token = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KEYS, ...MORE_KEYS, 'target_app_path') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(': ', ':', '\n', '\n  ', '\n    ', '- ', '[', ']', '{', '}', ', '),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom('&a ', '*a', '!!str ', '!!map', '|', '>-', '"', "'", '# c'),
  },
  { weight: 2, arbitrary: fc.constantFrom('---', '...', '~', 'null', 'true', 'yes', '0x1', '<<') },
  { weight: 1, arbitrary: fc.constantFrom('/usr/bin/x', '-v /a:/b', 'sha256:', '? ', '\t') },
  { weight: 1, arbitrary: oddString(20) },
);
const yamlish = fc.array(token, { maxLength: 40 }).map((tokens) => tokens.join(''));

/** Values of every YAML type, right for their key or not. */
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1.5, '', '/usr/bin/x', 'busybox', 'sha256:00'),
    oddString(30),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS, ...MORE_KEYS, '__proto__', 'x'), tie('value'), {
      maxKeys: 3,
    }),
  ),
})).value;
const pathList = fc.array(fc.constantFrom('/a', '/b/c', '/srv/x.tar'), { maxLength: 3 });
const validish = fc.record(
  {
    include: fc.record({ tar: pathList, path: pathList }, { requiredKeys: [] }),
    container: fc.record(
      {
        name: fc.constantFrom('busybox', 'example.com/a:1'),
        target_app_path: fc.constantFrom('/', '/usr/bin/x'),
        layers: fc.array(fc.constantFrom('l1', 'l2'), { maxLength: 2 }),
        check_host_dependencies: fc.boolean(),
        runtime: fc.record(
          {
            resume: fc.boolean(),
            attach: fc.boolean(),
            runas: fc.constantFrom('root', 'any', 1000),
            podman: fc.array(fc.constantFrom('--rm', '-e A=b', '-v /a:/b'), { maxLength: 3 }),
          },
          { requiredKeys: [] },
        ),
        wrong: anyValue,
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
/** A valid-looking document with one value replaced by anything at all. */
const documentText = fc.oneof(
  yamlish,
  validish.map((doc) => stringify(doc)),
  fc
    .tuple(validish, fc.array(fc.constantFrom(...KEYS, ...MORE_KEYS), { maxLength: 3 }), anyValue)
    .map(([doc, path, value]) => {
      let at: Record<string, unknown> = doc as Record<string, unknown>;
      for (const key of path.slice(0, -1)) {
        if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
        at = at[key] as Record<string, unknown>;
      }
      if (path.length > 0) at[path.at(-1)!] = value;
      return stringify(doc);
    }),
);
const sources = fc
  .tuple(documentText, fc.array(documentText, { maxLength: 3 }))
  .map(([main, dropIns]): FlakeSource[] => [
    { file: '/usr/share/flakes/app.yaml', text: main },
    ...dropIns.map((text, i) => ({ file: `/usr/share/flakes/app.d/${i}0-x.yaml`, text })),
  ]);

type Parsed = ReturnType<typeof parseFlakeSource>;

function hasDottedKeys(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasDottedKeys);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([key, child]) => key.includes('.') || hasDottedKeys(child));
}

/** The provenance as the first, quadratic merge moved it, subtree by subtree: the reference. */
function referenceProvenance(docs: Parsed[]): Parsed['provenance'] {
  const provenance: Parsed['provenance'] = new Map();
  const isMapping = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  const merge = (base: unknown, overlay: unknown, path: string, source: Parsed): unknown => {
    if (!isMapping(base) || !isMapping(overlay)) {
      const prefix = path === '' ? '' : `${path}.`;
      for (const key of [...provenance.keys()])
        if (key === path || key.startsWith(prefix)) provenance.delete(key);
      for (const [key, at] of source.provenance)
        if (key === path || key.startsWith(prefix)) provenance.set(key, at);
      return overlay;
    }
    const out: Record<string, unknown> = { ...base };
    for (const key of Object.keys(overlay)) {
      const child = path === '' ? key : `${path}.${key}`;
      out[key] = merge(
        Object.hasOwn(base, key) ? base[key] : undefined,
        overlay[key],
        child,
        source,
      );
    }
    const at = source.provenance.get(path);
    if (at) provenance.set(path, at);
    return out;
  };
  let value: unknown = {};
  for (const doc of docs) value = merge(value, doc.value, '', doc);
  return provenance;
}

describe('flake files under random input', () => {
  it('load to a flake or a short PilotError naming file:line', () => {
    fc.assert(
      fc.property(sources, (files) => {
        const result = attempt(() => flakeFromSources(files));
        if (result instanceof PilotError) {
          expect(result.code).toBe('PILOT_FLAKE_INVALID');
          expect(result.message).toMatch(/^\/usr\/share\/flakes\/app(\.d\/\d0-x)?\.yaml:\d+: /);
          expect(result.message).not.toMatch(/Maximum call stack|Cannot read|undefined/);
        } else {
          for (const warning of result.warnings)
            expect(warning.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
          expect(typeof result.flake.container.name).toBe('string');
        }
      }),
      { numRuns: fuzzRuns(400) },
    );
  });

  it('merge deterministically, group freely and leave their inputs as they were', () => {
    fc.assert(
      fc.property(sources, (files) => {
        const docs = attempt(() => files.map(parseFlakeSource));
        if (docs instanceof PilotError) return;
        const before = JSON.stringify(docs.map((doc) => doc.value));
        const merged = mergeFlakeDocuments(docs);
        expect(JSON.stringify(docs.map((doc) => doc.value))).toBe(before);
        expect(mergeFlakeDocuments(docs)).toEqual(merged);
        // ((a b) c) = (a b c): a drop-in set can be merged in steps.
        const stepwise = docs.reduce((acc, doc) => mergeFlakeDocuments([acc, doc]), {
          value: Object.create(null),
          provenance: new Map(),
          files: [],
        } as ReturnType<typeof mergeFlakeDocuments>);
        expect(stepwise.value).toEqual(merged.value);
        expect(stepwise.provenance).toEqual(merged.provenance);
        // The linear merge places every value where the subtree-moving one did (keys
        // with a dot make dotted paths ambiguous: there the two may differ, both wrong).
        if (!docs.some((doc) => hasDottedKeys(doc.value))) {
          expect(new Map([...merged.provenance].sort())).toEqual(
            new Map([...referenceProvenance(docs)].sort()),
          );
        }
        const again = attempt(() => flakeFromSources(files));
        expect(attempt(() => flakeFromSources(files))).toEqual(again);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('refuse deep nesting and huge files with a clear message, many times in one process', () => {
    const deep = fc.tuple(
      fc.constantFrom('flow', 'block', 'dash', 'map'),
      fc.integer({ min: 40, max: 6000 }),
    );
    fc.assert(
      fc.property(deep, ([kind, depth]) => {
        const text =
          kind === 'flow'
            ? `${'['.repeat(depth)}${']'.repeat(depth)}`
            : kind === 'map'
              ? `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`
              : kind === 'dash'
                ? `x:\n  ${'- '.repeat(depth)}1\n`
                : Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
        const result = attempt(() => flakeFromSources([{ file: 'app.yaml', text }]));
        expect(result).toBeInstanceOf(PilotError);
        expect((result as PilotError).message).toMatch(/^app\.yaml:\d+: .*(deep|levels|at most)/);
      }),
      { numRuns: fuzzRuns(15) },
    );
    const keys = Array.from({ length: 40_000 }, (_, i) => `k${i}: 1`).join('\n');
    const start = performance.now();
    expect(() => flakeFromSources([{ file: 'app.yaml', text: keys }])).toThrow(PilotError);
    expect(performance.now() - start).toBeLessThan(1500);
    const word = 'x'.repeat(5_000_000);
    attempt(() => flakeFromSources([{ file: 'app.yaml', text: word }]));
  });
});
