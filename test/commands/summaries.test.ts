/** What `load --json` and `pull --json` print: one object per image, in pinned shapes. */
import { describe, expect, it } from 'vitest';
import { type LoadEachResult, loadedSummaries, loadSummary } from '../../src/commands/load.js';
import { pullSummaries } from '../../src/commands/pull.js';
import { PilotError } from '../../src/core/errors.js';
import type { ImageRecord } from '../../src/core/image-record.js';
import type { LoadResult } from '../../src/store/load.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

const result = (id: string, names: string[], newLayers = 2, reusedLayers = 1): LoadResult => ({
  image: { id } as ImageRecord,
  names,
  newLayers,
  reusedLayers,
});

describe('loadSummary', () => {
  it('keeps the id, names and layer counts, in that order, and nothing of the record', () => {
    const summary = loadSummary(result(A, ['test/a:1']));
    expect(summary).toEqual({ id: A, names: ['test/a:1'], newLayers: 2, reusedLayers: 1 });
    expect(Object.keys(summary)).toEqual(['id', 'names', 'newLayers', 'reusedLayers']);
  });
});

describe('loadedSummaries', () => {
  it('lists every image of every loaded source with its source, and nothing of a failed one', () => {
    const loaded: LoadEachResult = {
      outcomes: [
        { source: { path: 'a.tar' }, results: [result(A, ['test/a:1'])] },
        { source: { path: 'bad.tar' }, error: new PilotError('PILOT_IMAGE_INVALID', 'bad') },
        {
          source: { path: 'two.tar', from: '*.tar' },
          results: [result(A, []), result(B, ['test/b:1'], 0, 3)],
        },
      ],
      skipped: [{ path: 'later.tar' }],
    };
    expect(loadedSummaries(loaded)).toEqual([
      { id: A, names: ['test/a:1'], newLayers: 2, reusedLayers: 1, source: 'a.tar' },
      { id: A, names: [], newLayers: 2, reusedLayers: 1, source: 'two.tar' },
      { id: B, names: ['test/b:1'], newLayers: 0, reusedLayers: 3, source: 'two.tar' },
    ]);
  });
});

describe('pullSummaries', () => {
  it('adds what a registry pull fetched', () => {
    expect(
      pullSummaries({
        results: [result(A, ['registry.example.com/a:1'], 1, 4)],
        from: 'registry',
        fetchedLayers: 1,
        fetchedBytes: 2048,
      }),
    ).toEqual([
      {
        id: A,
        names: ['registry.example.com/a:1'],
        newLayers: 1,
        reusedLayers: 4,
        from: 'registry',
        fetchedLayers: 1,
        fetchedBytes: 2048,
      },
    ]);
  });

  it('has no fetch counts for a copy from podman storage', () => {
    const [summary] = pullSummaries({ results: [result(A, ['localhost/a:1'])], from: 'podman' });
    expect(Object.keys(summary!)).toEqual(['id', 'names', 'newLayers', 'reusedLayers', 'from']);
  });
});
