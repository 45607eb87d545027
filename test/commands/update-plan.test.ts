import { describe, expect, it } from 'vitest';
import {
  behindRefs,
  describeMoves,
  pinnedRefs,
  planAppUpdate,
} from '../../src/commands/update-plan.js';
import type { Flake } from '../../src/core/flake-file.js';

const id = (c: string) => `sha256:${c.repeat(64)}`;

function flake(container: Partial<Flake['container']>): Flake {
  return {
    include: { tar: [], path: [] },
    container: {
      name: 'app',
      layers: [],
      check_host_dependencies: false,
      digests: {},
      host_packages: [],
      host_files: 'skip_missing',
      runtime: { resume: false, attach: false, podman: [] },
      ...container,
    },
  } as Flake;
}

describe('planAppUpdate', () => {
  const pinned = flake({
    name: 'app',
    base_container: 'base',
    layers: ['extra'],
    digests: { app: id('a'), base: id('b'), extra: id('e') },
  });

  it('lists pinned refs top first, each once', () => {
    expect(pinnedRefs(pinned)).toEqual(['app', 'extra', 'base']);
    expect(pinnedRefs(flake({ name: 'x', base_container: 'x', digests: { x: id('a') } }))).toEqual([
      'x',
    ]);
    expect(pinnedRefs(flake({ name: 'unpinned' }))).toEqual([]);
  });

  it.each([
    ['every tag names its pin', { app: id('a'), base: id('b'), extra: id('e') }, 'up-to-date', []],
    ['the app tag moved', { app: id('c'), base: id('b'), extra: id('e') }, 'behind', ['app']],
    [
      'base and layer moved',
      { app: id('a'), base: id('d'), extra: id('f') },
      'behind',
      ['extra', 'base'],
    ],
    ['a tag names nothing', { app: id('c'), base: undefined, extra: id('e') }, 'tag-gone', ['app']],
  ] as const)('%s', (_, tags, status, moved) => {
    const plan = planAppUpdate(pinned, (ref) => (tags as Record<string, string | undefined>)[ref]);
    expect(plan.status).toBe(status);
    expect(behindRefs(plan).map((r) => r.ref)).toEqual(moved);
    if (status === 'behind') {
      expect(plan.digests).toEqual({
        ...pinned.container.digests,
        ...Object.fromEntries(moved.map((r) => [r, tags[r]])),
      });
    } else expect(plan.digests).toBeUndefined();
  });

  it('leaves unpinned refs alone (they follow their tag at every launch)', () => {
    const partly = flake({ name: 'app', base_container: 'base', digests: { app: id('a') } });
    const plan = planAppUpdate(partly, () => id('z'));
    expect(plan.refs.map((r) => r.ref)).toEqual(['app']);
    expect(plan.digests).toEqual({ app: id('z') });
    expect(planAppUpdate(flake({ name: 'free' }), () => undefined).status).toBe('up-to-date');
  });

  it('describes each move with short ids', () => {
    const plan = planAppUpdate(pinned, (ref) =>
      ref === 'app' ? id('c') : pinned.container.digests[ref],
    );
    expect(describeMoves(plan)).toEqual(['app aaaaaaaaaaaa → cccccccccccc']);
  });
});
