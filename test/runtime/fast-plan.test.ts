import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dropPlans,
  fastPlanWords,
  listPlans,
  stampOf,
  writeFastPlan,
} from '../../src/runtime/fast-plan.js';
import type { LaunchPlan } from '../../src/runtime/launch-plan.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-fastplan-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const plan: LaunchPlan = {
  lowerdirBase: '/store',
  lowerdirs: ['host/abc', 'l/0123456789'],
  mnt: '/run/pilot/mnt',
  userns: false,
  composition: { kind: 'per-run' },
  binds: [
    { kind: 'rbind', source: '/proc', target: '/proc' },
    { kind: 'try-rbind', source: '/home/u', target: '/home/u', perCall: true },
    { kind: 'bind-ro', source: '/data', target: '/home/u/data', late: true },
  ],
  cwd: '/home/u',
  setenv: ['PATH=/usr/bin'],
  callerEnv: ['TOKEN=secret'],
  passEnv: ['TOKEN'],
  covered: ['/', '/usr'],
  workdir: undefined,
  command: { program: '/bin/tool', fixed: ['--flag'], defaults: ['default'] },
  program: '/bin/tool',
  args: ['--flag', 'x'],
};

describe('fast plan', () => {
  it('keeps per-call parts (HOME, cwd, caller args and values) out of the plan', () => {
    const file = join(work, 'input');
    writeFileSync(file, 'x');
    const words = fastPlanWords(plan, [file, file]);
    expect(words.slice(0, 5)).toEqual(['pilot-plan', '1', 'stamp', file, stampOf(file)]);
    expect(words.filter((w) => w === 'stamp')).toHaveLength(1);
    const joined = words.join(' ');
    expect(joined).not.toContain('/home/u /home/u');
    expect(joined).not.toContain('secret');
    expect(joined).toContain('opt --rbind opt /proc opt /proc');
    expect(joined).toContain('late --bind-ro late /data late /home/u/data');
    expect(joined).toContain('passenv TOKEN');
    expect(joined).toContain('program /bin/tool fixed --flag default default');
  });

  it('stamps dev, inode, size and mtime in nanoseconds, or - for a missing path', () => {
    const file = join(work, 'stamped');
    writeFileSync(file, 'abc');
    expect(stampOf(file)).toMatch(/^\d+:\d+:3:\d+$/);
    expect(stampOf(join(work, 'nope'))).toBe('-');
  });

  it('lists plans with what made them stale, and drops them', () => {
    const run = join(work, 'run');
    const input = join(work, 'flake.yaml');
    writeFileSync(input, 'a');
    writeFastPlan(run, 'tool', 0, fastPlanWords(plan, [input]));
    writeFastPlan(run, 'tool', 1000, fastPlanWords(plan, [input]));
    expect(listPlans(run).map((p) => [p.app, p.uid, p.stale])).toEqual([
      ['tool', 0, undefined],
      ['tool', 1000, undefined],
    ]);
    expect(listPlans(run)[0]!.lowers).toEqual(['host/abc', 'l/0123456789']);
    const later = new Date(Date.now() + 10_000);
    utimesSync(input, later, later);
    expect(listPlans(run)[0]!.stale).toBe(input);
    dropPlans(run, 'tool');
    expect(listPlans(run)).toEqual([]);
  });
});
