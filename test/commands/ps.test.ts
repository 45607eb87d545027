/** `pilot ps`: kept instances first, then the cached plans of apps without one. */
import { describe, expect, it } from 'vitest';
import { psRows } from '../../src/commands/ps.js';
import type { CachedPlan } from '../../src/runtime/fast-plan.js';
import type { InstanceStatus } from '../../src/runtime/instances.js';

const instance = (app: string, name = '', extra: Partial<InstanceStatus> = {}): InstanceStatus => ({
  app,
  name,
  id: name === '' ? app : `${app}@${name}`,
  state: 'idle',
  since: '2024-05-01T10:00:00.000Z',
  size: 4096,
  pids: [],
  ...extra,
});

const plan = (app: string, stale?: string, uid = 1000): CachedPlan => ({
  app,
  uid,
  file: `/run/pilot/plans/${app}.u${uid}.plan`,
  stale,
  since: '2024-05-02T10:00:00.000Z',
  lowers: [],
  sessionFiles: [],
});

describe('psRows', () => {
  it('is empty with nothing kept and nothing cached', () => {
    expect(psRows([], [])).toEqual([]);
  });

  it('shows an instance as it is, without the id, uid or plan fields', () => {
    expect(psRows([instance('aws', 'dev', { state: 'running', pids: [41, 42] })], [])).toEqual([
      {
        app: 'aws',
        name: 'dev',
        state: 'running',
        since: '2024-05-01T10:00:00.000Z',
        size: 4096,
        pids: [41, 42],
      },
    ]);
  });

  it('shows a fresh plan as cached and a stale one with why, after the instances', () => {
    const rows = psRows(
      [instance('aws')],
      [plan('hello'), plan('jq', '/usr/share/flakes/jq.yaml')],
    );
    expect(rows.map((r) => [r.app, r.state])).toEqual([
      ['aws', 'idle'],
      ['hello', 'cached'],
      ['jq', 'stale'],
    ]);
    expect(rows[1]).toEqual({
      app: 'hello',
      name: '',
      state: 'cached',
      since: '2024-05-02T10:00:00.000Z',
      size: 0,
      pids: [],
      uid: 1000,
    });
    expect(rows[2]).toMatchObject({ staleBecause: '/usr/share/flakes/jq.yaml', uid: 1000 });
    expect('staleBecause' in rows[1]!).toBe(false);
  });

  it("leaves out the plans of an app that has a kept instance (any of its names): the instance's row covers them", () => {
    const rows = psRows(
      [instance('aws', 'dev')],
      [plan('aws', undefined, 0), plan('aws', undefined, 1000), plan('hello')],
    );
    expect(rows.map((r) => `${r.app}@${r.name}:${r.state}`)).toEqual([
      'aws@dev:idle',
      'hello@:cached',
    ]);
  });

  it('keeps one row per plan: two callers of one app are two rows', () => {
    const rows = psRows([], [plan('hello', undefined, 0), plan('hello', undefined, 1000)]);
    expect(rows.map((r) => r.uid)).toEqual([0, 1000]);
  });
});
