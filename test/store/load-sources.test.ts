/**
 * What `pilot load` loads when given several sources, patterns or flake-ctl's `--oci`
 * (src/commands/load.ts): everything is resolved before anything loads, a bad source is
 * reported and the others load, a broken store stops the run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  compareVersions,
  loadEach,
  loadFailure,
  resolveLoadSources,
  type SourceOutcome,
} from '../../src/commands/load.js';
import { listRefs } from '../../src/core/image-record.js';
import {
  dockerFiles,
  makeImage,
  ociFiles,
  simpleLayer,
  type TempStore,
  tarOf,
  tempStore,
  tmpEntries,
} from './helpers.js';

let store: TempStore;
let images: string;

beforeEach(() => {
  store = tempStore();
  images = join(store.dir, 'images');
  mkdirSync(images);
});

afterEach(() => store.cleanup());

/** An archive of one image named `ref`, compressed with `tool` (xz or zstd) or plain. */
function archive(name: string, ref: string, tool?: 'xz' | 'zstd'): string {
  const image = makeImage([simpleLayer(name.replace(/\W/g, ''))]);
  const tar = tarOf(
    name.includes('docker')
      ? dockerFiles([{ image, repoTags: [ref] }])
      : ociFiles([{ image, refName: ref }]),
  );
  const file = join(images, name);
  writeFileSync(file, tool ? execFileSync(tool, ['-q', '-c'], { input: tar }) : tar);
  return file;
}

describe('resolveLoadSources', () => {
  it('takes names as given, expands a pattern the shell left alone, and loads each file once', () => {
    const a = archive('a-1.tar.xz', 'x/a:1', 'xz');
    const b = archive('b-1.tar.zst', 'x/b:1', 'zstd');
    archive('c.tar', 'x/c:1');
    expect(resolveLoadSources([b, join(images, '*.tar.*'), a])).toEqual([
      { path: b },
      { path: a, from: join(images, '*.tar.*') },
    ]);
  });

  it('takes an existing name with pattern characters literally', () => {
    const odd = archive('odd[1].tar', 'x/odd:1');
    archive('odd1.tar', 'x/odd1:1');
    expect(resolveLoadSources([odd])).toEqual([{ path: odd }]);
  });

  it('refuses a pattern that matches nothing, or a missing file, before anything loads', () => {
    archive('a.tar', 'x/a:1');
    expect(() => resolveLoadSources([join(images, 'a.tar'), join(images, '*.tar.xz')])).toThrow(
      expect.objectContaining({
        code: 'PILOT_IMAGE_INVALID',
        message: `cannot load ${join(images, '*.tar.xz')}: the pattern matches no file or directory`,
      }),
    );
    expect(() => resolveLoadSources([join(images, 'nope.tar')])).toThrow(
      `cannot load ${join(images, 'nope.tar')}: no such file or directory`,
    );
  });

  it('asks for a source when given none (a usage error)', () => {
    expect(() => resolveLoadSources([], [])).toThrow(
      expect.objectContaining({ code: 'PILOT_USAGE', exitCode: 2 }),
    );
  });

  it("takes flake-ctl's --oci NAME as the file, or else the highest version of NAME*", () => {
    const exact = archive('base.tar', 'x/base:0');
    archive('base.x86_64-1.9.docker.tar.xz', 'x/base:1.9', 'xz');
    const highest = archive('base.x86_64-1.10.docker.tar.xz', 'x/base:1.10', 'xz');
    expect(resolveLoadSources([], [exact])).toEqual([{ path: exact }]);
    expect(resolveLoadSources([], [join(images, 'base.x86')])).toEqual([
      { path: highest, from: `--oci ${join(images, 'base.x86')}` },
    ]);
    expect(resolveLoadSources([], [join(images, 'base.*.xz')]).map((s) => s.path)).toEqual([
      highest,
      join(images, 'base.x86_64-1.9.docker.tar.xz'),
    ]);
    expect(() => resolveLoadSources([], [join(images, 'other')])).toThrow(
      'no such file or directory, and no file name starts with it',
    );
  });

  it('compares versions by their numbers', () => {
    // What `sort -V` gives.
    const sorted = ['a-1.10.tar', 'a-1.9.tar', 'a-1.9.1.tar', 'a-2.tar', 'a-1.tar'].sort(
      compareVersions,
    );
    expect(sorted).toEqual(['a-1.tar', 'a-1.9.tar', 'a-1.9.1.tar', 'a-1.10.tar', 'a-2.tar']);
    expect(compareVersions('b.x86_64-1.10.docker.tar.xz', 'b.x86_64-1.9.docker.tar.xz')).toBe(1);
  });
});

describe('loadEach', () => {
  it('loads several sources of different kinds and compressions, one outcome each', async () => {
    const sources = resolveLoadSources([
      archive('one.tar.xz', 'x/one:1', 'xz'),
      archive('two-docker.tar.zst', 'x/two:1', 'zstd'),
      archive('three.tar', 'x/three:1'),
    ]);
    const seen: string[] = [];
    const result = await loadEach(store.paths, sources, {
      onStart: (source) => {
        seen.push(`start ${source.path}`);
        return undefined;
      },
      onOutcome: (outcome) => seen.push(`end ${outcome.source.path}`),
    });
    expect(seen).toEqual(sources.flatMap((s) => [`start ${s.path}`, `end ${s.path}`]));
    expect(result.outcomes.map((o) => o.results?.[0]?.names)).toEqual([
      ['x/one:1'],
      ['x/two:1'],
      ['x/three:1'],
    ]);
    expect(loadFailure(result)).toBeUndefined();
  });

  it('refuses --name with several sources before loading any', async () => {
    const sources = resolveLoadSources([archive('a.tar', 'x/a:1'), archive('b.tar', 'x/b:1')]);
    await expect(loadEach(store.paths, sources, { name: 'x/named' })).rejects.toMatchObject({
      code: 'PILOT_USAGE',
      message: `--name names one image, but 2 sources were given (${sources[0]!.path}, ${sources[1]!.path})`,
    });
    expect(listRefs(store.paths).size).toBe(0);
    const [one] = await loadEach(store.paths, sources.slice(0, 1), { name: 'x/named' }).then(
      (r) => r.outcomes,
    );
    expect(one?.results?.[0]?.names).toEqual(['x/a:1', 'x/named:latest']);
  });

  it('reports a corrupt source and goes on with the next; the summary names it', async () => {
    const good = archive('good.tar.xz', 'x/good:1', 'xz');
    const bad = join(images, 'bad.tar.zst');
    const whole = execFileSync('zstd', ['-q', '-c'], { input: readFileSync(good) });
    writeFileSync(bad, whole.subarray(0, whole.length - 20));
    const later = archive('later.tar', 'x/later:1');
    const outcomes: SourceOutcome[] = [];
    const result = await loadEach(store.paths, resolveLoadSources([good, bad, later]), {
      onOutcome: (o) => outcomes.push(o),
    });
    expect(outcomes.map((o) => (o.error ? 'failed' : 'loaded'))).toEqual([
      'loaded',
      'failed',
      'loaded',
    ]);
    expect(outcomes[1]?.error).toMatchObject({
      message: expect.stringMatching(
        /^cannot decompress .*bad\.tar\.zst: `zstd -d -c -q` exited with status 1: /,
      ),
    });
    expect([...listRefs(store.paths).keys()].sort()).toEqual(['x/good:1', 'x/later:1']);
    expect(loadFailure(result)).toMatchObject({
      code: 'PILOT_LOAD_FAILED',
      exitCode: 1,
      message: `1 of 3 sources failed to load: ${bad}; 2 loaded`,
    });
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('stops at a failure of the store itself, naming what it did not try', async () => {
    const sources = resolveLoadSources([archive('a.tar', 'x/a:1'), archive('b.tar', 'x/b:1')]);
    // A file where the store needs its layers directory: every load would fail on it.
    mkdirSync(store.paths.store, { recursive: true });
    writeFileSync(join(store.paths.store, 'layers'), '');
    const result = await loadEach(store.paths, sources);
    expect(result.outcomes).toHaveLength(1);
    expect(result.outcomes[0]?.error).toMatchObject({ code: 'PILOT_PATH_IN_WAY' });
    expect(result.skipped).toEqual([sources[1]]);
    expect(loadFailure(result)?.message).toBe(
      `1 of 2 sources failed to load: ${sources[0]!.path}; not tried: ${sources[1]!.path}; 0 loaded`,
    );
  });

  it("gives a single source's own error as the command's", async () => {
    const bad = join(images, 'bad.tar.xz');
    writeFileSync(bad, 'not xz at all');
    const result = await loadEach(store.paths, resolveLoadSources([bad]));
    expect(loadFailure(result)).toBe(result.outcomes[0]?.error);
  });
});
