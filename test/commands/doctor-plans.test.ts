/** doctor's "cached plans": the store's plans (its owner's, since issue 17) and the run dir's. */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPlans } from '../../src/commands/doctor-store.js';
import { fastPlanWords, writeFastPlan } from '../../src/runtime/fast-plan.js';
import type { LaunchPlan } from '../../src/runtime/launch-plan.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-doctor-plans-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const plan: LaunchPlan = {
  lowerdirBase: '/store',
  lowerdirs: ['l/0123456789'],
  mnt: '/run/pilot/mnt',
  userns: false,
  composition: { kind: 'per-run' },
  binds: [],
  cwd: '/',
  envOptions: [],
  isolation: [],
  homeBind: true,
  covered: ['/'],
  workdir: undefined,
  command: { program: '/bin/tool', fixed: [], defaults: [] },
  program: '/bin/tool',
  args: [],
};

describe('checkPlans', () => {
  it('names a stale plan in the store as well as one in the run dir', () => {
    const paths = { run: join(work, 'run'), store: join(work, 'store') };
    const input = join(work, 'flake.yaml');
    writeFileSync(input, 'a');
    const words = fastPlanWords(plan, { stamped: [input], callers: 'all' });
    writeFastPlan(paths.store, 'stored', 0, words);
    writeFastPlan(paths.run, 'kept', 0, words);
    expect(checkPlans(paths)).toMatchObject({
      status: 'ok',
      detail: '2 cached plan(s), none stale',
    });
    const later = new Date(Date.now() + 10_000);
    utimesSync(input, later, later);
    expect(checkPlans(paths)).toMatchObject({
      status: 'warn',
      detail: `2 of 2 stale: stored (${input} changed), kept (${input} changed)`,
    });
  });
});
