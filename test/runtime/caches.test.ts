import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolvePaths } from '../../src/core/paths.js';
import { collectLauncherCaches } from '../../src/runtime/caches.js';
import { PLAN_MAGIC, writeFastPlan } from '../../src/runtime/fast-plan.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-caches-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('collectLauncherCaches: generated account files', () => {
  it('removes the ones no plan names once they are two minutes old', () => {
    const paths = resolvePaths({ root: work });
    const session = join(paths.run, 'session');
    mkdirSync(session, { recursive: true });
    const named = join(session, 'a.passwd');
    const oldUnused = join(session, 'b.passwd');
    const youngUnused = join(session, 'c.group');
    for (const file of [named, oldUnused, youngUnused]) writeFileSync(file, 'x:x:1:1::/:/bin/sh\n');
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(named, old, old);
    utimesSync(oldUnused, old, old);
    writeFastPlan(paths.run, 'app', 0, [
      ...PLAN_MAGIC,
      'callers',
      '0',
      'opt',
      '--bind-ro',
      'opt',
      named,
      'opt',
      '/etc/passwd',
      'program',
      '/bin/true',
    ]);
    collectLauncherCaches(paths, new Set(), { kinds: [] });
    expect(existsSync(named)).toBe(true);
    expect(existsSync(youngUnused)).toBe(true);
    expect(existsSync(oldUnused)).toBe(false);
  });
});
